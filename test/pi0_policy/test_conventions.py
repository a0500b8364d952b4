"""Conventions files, presets, LeRobot configs, and the errors that name the field to set."""

import json

import pytest
import yaml

from pi0_common.embodiment import load_embodiment
from pi0_policy.convention_policy import check_embodiment
from pi0_policy.convention_presets import PRESETS, preset, preset_dict
from pi0_policy.conventions import CONVENTIONS_FILE, ConventionsError, conventions_from_dict, load_conventions
from pi0_policy.lerobot_conventions import conventions_from_lerobot_config, relative_mask


def test_every_published_preset_loads():
    assert set(PRESETS) == {"pi0_aloha", "pi0_aloha_towel", "pi0_aloha_tupperware", "pi0_aloha_pen_uncap",
                            "pi0_aloha_sim", "pi0_droid"}
    for name in PRESETS:
        assert preset(name).name == name


def test_aloha_presets():
    towel = preset("pi0_aloha_towel")
    assert towel.actions == "delta" and towel.adapt_to_pi and towel.asset_id == "trossen"
    assert towel.delta_mask == (True,) * 6 + (False,) + (True,) * 6 + (False,)
    assert towel.default_prompt == "fold the towel" and towel.gripper_open == 1
    assert (towel.action_horizon, towel.control_rate_hz, towel.executed_steps) == (50, 50.0, 25)
    sim = preset("pi0_aloha_sim")
    assert sim.actions == "absolute" and sim.delta_mask is None and sim.adapt_to_pi
    assert sim.asset_id == "lerobot/aloha_sim_transfer_cube_human"
    assert preset("pi0_base:trossen").delta_mask == towel.delta_mask


def test_droid_preset():
    droid = preset("pi0_droid")
    assert droid.actions == "velocity" and droid.velocity_mask == (True,) * 7 + (False,)
    assert (droid.action_horizon, droid.control_rate_hz, droid.executed_steps) == (10, 15.0, 8)
    assert droid.cameras == {"base": "exterior_image_1_left", "left_wrist": "wrist_image_left"}
    assert droid.robot_camera_for("exterior_image_1_left") == "base"


def test_unknown_presets_say_what_exists():
    with pytest.raises(ConventionsError, match="unknown conventions preset 'pi0_aloha_socks'.*pi0_aloha_towel"):
        preset("pi0_aloha_socks")
    with pytest.raises(ConventionsError, match="no transforms for the base model with asset 'ur5e'"):
        preset("pi0_base:ur5e")


@pytest.mark.parametrize("change, field", [
    ({"delta_mask": None}, "'delta_mask': delta actions need a mask"),
    ({"actions": "absolute"}, "'delta_mask': given, but actions is 'absolute'"),
    ({"actions": "torque"}, "'actions': 'torque' is not one of"),
    ({"layout": "droid", "state_dim": 8, "action_dim": 8, "gripper_dims": [7], "delta_mask": [7, -1]},
     "'adapt_to_pi': only for the aloha layout"),
    ({"executed_steps": 60}, "'executed_steps': 60 is more than the action_horizon 50"),
    ({"gripper_open": 2}, "'gripper_open'"),
    ({"cameras": {"top": "cam_high"}}, r"'cameras': \['top'\] are not model image slots"),
    ({"norm": {"asset_id": "trossen", "state": "zscore"}}, "norm.state: unknown normalisation mode"),
    ({"delta_mask": [20]}, "'delta_mask': has 20 dims"),
])
def test_inconsistent_fields_are_named(change, field):
    raw = preset_dict("pi0_aloha_towel")
    raw.update(change)
    raw = {k: v for k, v in raw.items() if v is not None}
    with pytest.raises(ConventionsError, match=field):
        conventions_from_dict(raw, "test")


def test_unknown_and_missing_fields():
    raw = preset_dict("pi0_droid")
    with pytest.raises(ConventionsError, match=r"unknown field\(s\) \['action_chunk'\]"):
        conventions_from_dict({**raw, "action_chunk": 10})
    del raw["control_rate_hz"]
    with pytest.raises(ConventionsError, match=r"missing field\(s\) \['control_rate_hz'\]"):
        conventions_from_dict(raw)


def test_file_beside_the_checkpoint(tmp_path):
    raw = {**preset_dict("pi0_droid"), "name": "my_droid", "executed_steps": 5}
    (tmp_path / CONVENTIONS_FILE).write_text(yaml.safe_dump(raw))
    assert load_conventions("", tmp_path).executed_steps == 5
    assert load_conventions(str(tmp_path / CONVENTIONS_FILE)).name == "my_droid"
    assert load_conventions("pi0_droid", tmp_path).name == "pi0_droid"
    with pytest.raises(ConventionsError, match="neither a preset"):
        load_conventions(str(tmp_path / "nope.yaml"))


def lerobot_config(**overrides):
    cfg = {"type": "pi0", "chunk_size": 50, "n_action_steps": 25,
           "normalization_mapping": {"VISUAL": "IDENTITY", "STATE": "QUANTILES", "ACTION": "QUANTILE10"},
           "input_features": {"observation.images.top": {"type": "VISUAL", "shape": [3, 480, 640]},
                              "observation.images.left_wrist": {"type": "VISUAL", "shape": [3, 480, 640]},
                              "observation.state": {"type": "STATE", "shape": [14]}},
           "output_features": {"action": {"type": "ACTION", "shape": [14]}}}
    cfg.update(overrides)
    return cfg


def test_lerobot_config_fields():
    conv = conventions_from_lerobot_config(lerobot_config(), 50.0)
    assert conv.source == "lerobot" and conv.prompt_format == "lerobot" and conv.normalization_flavour == "lerobot"
    assert (conv.norm_state, conv.norm_actions) == ("quantiles", "quantile10")
    assert conv.cameras == {"base": "observation.images.top", "left_wrist": "observation.images.left_wrist"}
    assert conv.robot_camera_for("observation.images.left_wrist") == "left_wrist"
    assert conv.robot_camera_for("observation.images.top") == "top"      # no such embodiment camera: map it
    assert (conv.action_horizon, conv.executed_steps, conv.actions) == (50, 25, "absolute")
    mapped = conventions_from_lerobot_config(lerobot_config(), 50.0, robot_cameras={"observation.images.top": "base"})
    assert mapped.robot_camera_for("observation.images.top") == "base"


def test_lerobot_relative_actions():
    names = [f"left_j{i}" for i in range(6)] + ["left_gripper"] + [f"right_j{i}" for i in range(6)] + ["right_gripper"]
    conv = conventions_from_lerobot_config(lerobot_config(use_relative_actions=True, action_feature_names=names,
                                                          relative_exclude_joints=["gripper"]), 50.0)
    assert conv.actions == "delta" and conv.delta_mask == (True,) * 6 + (False,) + (True,) * 6 + (False,)
    assert relative_mask(3, ["gripper"], None) == [True, True, True]     # no names: every dim, as LeRobot


def test_lerobot_folder_needs_a_rate(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(lerobot_config()))
    with pytest.raises(ConventionsError, match="do not record the control rate"):
        load_conventions("", tmp_path)
    assert load_conventions("", tmp_path, control_rate_hz=30.0).control_rate_hz == 30.0


def test_against_embodiments():
    check_embodiment(preset("pi0_aloha_towel"), load_embodiment("trossen_bimanual"))
    franka = load_embodiment("franka")
    with pytest.raises(ConventionsError, match="'control_rate_hz': the checkpoint was trained at 15 Hz, franka "
                                               "runs at 20 Hz"):
        check_embodiment(preset("pi0_droid"), franka)
    check_embodiment(preset("pi0_droid"), franka, timing=False)      # a server leaves timing to its client
    with pytest.raises(ConventionsError, match="'state_dim'/'action_dim': 14/14, but ur5e has 7 dims"):
        check_embodiment(preset("pi0_aloha"), load_embodiment("ur5e"))
