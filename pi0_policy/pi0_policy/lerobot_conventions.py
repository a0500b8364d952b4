"""Conventions of a LeRobot π₀ checkpoint, read from its ``config.json``.

Fields used: ``normalization_mapping`` (STATE / ACTION: MEAN_STD, MIN_MAX, QUANTILES, QUANTILE10,
IDENTITY), ``input_features`` (image features in order feed the model's image slots; the state's
shape), ``output_features`` (the action's shape), ``chunk_size`` (the horizon), ``n_action_steps``
(steps executed), ``use_relative_actions`` with ``relative_exclude_joints`` matched against
``action_feature_names`` (a dim whose name contains an excluded word stays absolute; without names every
dim is relative, as LeRobot does). LeRobot configs do not record the control rate: the caller passes the
rate the data was recorded at (by default the embodiment's).
"""

from __future__ import annotations

import json
from pathlib import Path

from .conventions import MODEL_SLOTS, Conventions, ConventionsError, conventions_from_dict


def _shape(features: dict, key: str, where: str) -> list[int]:
    try:
        return list(features[key]["shape"])
    except (KeyError, TypeError):
        raise ConventionsError(f"{where}: no shape for feature {key!r}") from None


def relative_mask(action_dim: int, exclude: list[str], names: list[str] | None) -> list[bool]:
    """LeRobot's rule: with names, a dim is relative unless its name contains an excluded word."""
    if not exclude or names is None:
        return [True] * action_dim
    words = [w.lower() for w in exclude if w]
    mask = [not any(w in str(n).lower() for w in words) for n in names[:action_dim]]
    return mask + [True] * (action_dim - len(mask))


def conventions_from_lerobot_config(cfg: dict, control_rate_hz: float, where: str = "config.json",
                                    robot_cameras: dict[str, str] | None = None) -> Conventions:
    """Conventions from a parsed LeRobot PI0 config."""
    if cfg.get("type") not in (None, "pi0"):
        raise ConventionsError(f"{where}: type {cfg.get('type')!r} is not a LeRobot pi0 config")
    inputs, outputs = cfg.get("input_features") or {}, cfg.get("output_features") or {}
    images = [k for k, v in inputs.items() if isinstance(v, dict) and v.get("type") == "VISUAL"]
    if not images:
        raise ConventionsError(f"{where}: input_features has no VISUAL feature")
    if len(images) > len(MODEL_SLOTS):
        raise ConventionsError(f"{where}: {len(images)} image features, the model has {len(MODEL_SLOTS)} slots")
    state_dim = _shape(inputs, "observation.state", where)[-1]
    action_dim = _shape(outputs, "action", where)[-1]
    mapping = cfg.get("normalization_mapping") or {}
    horizon = int(cfg.get("chunk_size", 50))
    raw = dict(
        name=f"lerobot:{Path(where).parent.name or 'config'}", source="lerobot", layout="embodiment",
        state_dim=state_dim, action_dim=action_dim, actions="absolute",
        norm={"state": mapping.get("STATE", "MEAN_STD"), "actions": mapping.get("ACTION", "MEAN_STD")},
        cameras={slot: name for slot, name in zip(MODEL_SLOTS, images, strict=False)},
        robot_cameras=robot_cameras or {name: _robot_camera(name) for name in images},
        action_horizon=horizon, control_rate_hz=control_rate_hz,
        executed_steps=int(cfg.get("n_action_steps", horizon)), prompt_format="lerobot",
    )  # fmt: skip
    if cfg.get("use_relative_actions"):
        raw["actions"] = "delta"
        raw["delta_mask"] = relative_mask(min(action_dim, state_dim), list(cfg.get("relative_exclude_joints") or []),
                                          cfg.get("action_feature_names"))
    return conventions_from_dict(raw, where)


def _robot_camera(feature: str) -> str:
    """observation.images.<name> -> <name> (the embodiment camera of the same name, unless mapped)."""
    return feature.rsplit(".", 1)[-1]


def conventions_from_lerobot_folder(folder: str | Path, control_rate_hz: float = 0.0) -> Conventions | None:
    """The conventions of a LeRobot checkpoint folder, or None when it has no LeRobot config.json."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        return None
    cfg = json.loads(path.read_text())
    if "normalization_mapping" not in cfg and "input_features" not in cfg:
        return None
    if control_rate_hz <= 0:
        raise ConventionsError(f"{path}: LeRobot configs do not record the control rate; give control_rate_hz "
                               f"(or write a pi0_conventions.yaml with control_rate_hz)")
    return conventions_from_lerobot_config(cfg, control_rate_hz, str(path))
