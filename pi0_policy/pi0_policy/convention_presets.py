"""Presets: the conventions of openpi's published π₀ configs, by config name.

Read from openpi's ``training/config.py`` (the data config factories) and its examples' runtimes:
ALOHA configs (``LeRobotAlohaDataConfig``) adapt to the π space and, unless disabled, use delta joint
actions with grippers absolute; ALOHA runs at 50 Hz and its example executes 25 of 50 steps (the
simulated one 10). ``pi0_droid`` has a 10-step horizon at 15 Hz, outputs 7 joint velocities plus an
absolute gripper position, and its example executes 8 steps. ``pi0_base:<asset>`` is the base model
with one of its assets: ``trossen`` is the ALOHA convention (openpi's ``pi0_aloha`` inference config),
``droid`` DROID's; openpi publishes no transforms for the base model's other assets.
"""

from __future__ import annotations

from .conventions import Conventions, ConventionsError, conventions_from_dict

_ALOHA_CAMERAS = {"base": "cam_high", "left_wrist": "cam_left_wrist", "right_wrist": "cam_right_wrist"}


def _aloha(name: str, prompt: str | None, delta: bool = True, asset: str = "trossen", executed: int = 25) -> dict:
    return dict(
        name=name, source="openpi", layout="aloha", state_dim=14, action_dim=14,
        actions="delta" if delta else "absolute", delta_mask=[6, -1, 6, -1] if delta else None,
        adapt_to_pi=True, gripper_dims=[6, 13], gripper_open=1,
        norm={"asset_id": asset, "state": "mean_std", "actions": "mean_std"}, cameras=dict(_ALOHA_CAMERAS),
        action_horizon=50, control_rate_hz=50.0, executed_steps=executed, default_prompt=prompt,
    )  # fmt: skip


def _droid(name: str) -> dict:
    return dict(
        name=name, source="openpi", layout="droid", state_dim=8, action_dim=8, actions="velocity",
        velocity_mask=[7, -1], gripper_dims=[7], gripper_open=0,
        norm={"asset_id": "droid", "state": "mean_std", "actions": "mean_std"},
        cameras={"base": "exterior_image_1_left", "left_wrist": "wrist_image_left"},
        action_horizon=10, control_rate_hz=15.0, executed_steps=8,
    )  # fmt: skip


_RAW = {
    "pi0_aloha": _aloha("pi0_aloha", None),
    "pi0_aloha_towel": _aloha("pi0_aloha_towel", "fold the towel"),
    "pi0_aloha_tupperware": _aloha("pi0_aloha_tupperware", "open the tupperware and put the food on the plate"),
    "pi0_aloha_pen_uncap": _aloha("pi0_aloha_pen_uncap", "uncap the pen"),
    "pi0_aloha_sim": _aloha("pi0_aloha_sim", "Transfer cube", delta=False,
                            asset="lerobot/aloha_sim_transfer_cube_human", executed=10),
    "pi0_droid": _droid("pi0_droid"),
}
PRESETS = tuple(sorted(_RAW))
BASE_ASSETS = {"trossen": lambda: _aloha("pi0_base:trossen", None),
               "droid": lambda: {**_droid("pi0_base:droid")}}


def preset(name: str) -> Conventions:
    """The conventions of a published config (``pi0_aloha_towel``) or of the base model with an asset
    (``pi0_base:trossen``)."""
    if name.startswith("pi0_base:"):
        asset = name.split(":", 1)[1]
        if asset not in BASE_ASSETS:
            raise ConventionsError(
                f"preset {name}: openpi publishes no transforms for the base model with asset {asset!r} (it "
                f"does for {', '.join(sorted(BASE_ASSETS))}); write a pi0_conventions.yaml stating them")
        return conventions_from_dict(BASE_ASSETS[asset](), f"preset {name}")
    if name not in _RAW:
        raise ConventionsError(f"unknown conventions preset {name!r}; presets: {', '.join(PRESETS)}, "
                               f"pi0_base:<{'|'.join(sorted(BASE_ASSETS))}>")
    return conventions_from_dict(dict(_RAW[name]), f"preset {name}")


def preset_dict(name: str) -> dict:
    """A preset as the fields of a conventions file (to write beside a checkpoint and edit)."""
    if name not in _RAW:
        raise ConventionsError(f"unknown conventions preset {name!r}")
    return {k: v for k, v in _RAW[name].items() if v is not None}


if __name__ == "__main__":      # python -m pi0_policy.convention_presets pi0_aloha_towel > <ckpt>/pi0_conventions.yaml
    import sys

    import yaml

    if len(sys.argv) != 2 or sys.argv[1] not in _RAW:
        sys.exit(f"usage: python -m pi0_policy.convention_presets <{'|'.join(PRESETS)}>")
    print(yaml.safe_dump(preset_dict(sys.argv[1]), sort_keys=False, default_flow_style=None), end="")
