"""ConventionPolicy around a network whose output is fixed, so the transforms can be checked by hand."""

import dataclasses

import numpy as np
import pytest
import torch

from pi0_common.embodiment import load_embodiment
from pi0_policy.convention_policy import ConventionPolicy, Sample
from pi0_policy.convention_presets import preset
from pi0_policy.conventions import ConventionsError
from pi0_policy.model.config import get_config
from pi0_policy.model.pi0 import Pi0Model
from pi0_policy.model.tokenizer import load_tokenizer
from pi0_policy.policy import Pi0Policy


def make(conv, stats, output=0.0, horizon=None):
    config = dataclasses.replace(get_config("pi0_tiny"), action_horizon=horizon or conv.action_horizon)
    torch.manual_seed(0)
    model = Pi0Model(config)
    seen = {}

    def fixed(**batch):
        seen.update(batch)
        b = batch["state"].shape[0]
        return torch.full((b, config.action_horizon, config.action_dim), float(output))

    model.sample_actions = fixed
    return ConventionPolicy(Pi0Policy(model, load_tokenizer(config), None), conv, stats), seen


def unit_stats(dim, action_mean=0.0):
    return {"state": {"mean": np.zeros(dim), "std": np.ones(dim)},
            "actions": {"mean": np.full(dim, action_mean), "std": np.ones(dim)}}


def image(value):
    return np.full((32, 32, 3), value, np.uint8)


def aloha_state():
    state = np.linspace(-0.6, 0.6, 14)
    state[[6, 13]] = [1.0, 0.5]
    return state


def test_a_zero_delta_holds_the_aloha_pose():
    policy, seen = make(preset("pi0_aloha_towel"), unit_stats(14))
    state = aloha_state()
    (chunk,), _ = policy.infer_data([Sample(state, {"base": image(10)}, None)])   # default prompt
    assert chunk.shape == (50, 14)
    # joints: unnormalised 0 (x (1 + 1e-6)) + the adapted state, flipped back -> the state itself
    joints = [i for i in range(14) if i not in (6, 13)]
    np.testing.assert_allclose(chunk[:, joints], np.broadcast_to(state[joints], (50, 12)), atol=1e-12)
    # grippers are absolute: π value 0 -> (0 + 0.5476 + 0.6213) / 2.1123
    np.testing.assert_allclose(chunk[:, [6, 13]], 1.1689 / 2.1123, atol=1e-12)
    # the model saw the adapted, normalised state: shoulder flipped, open gripper -> (π/2 - 0.5476) / 1.082
    model_state = seen["state"][0].numpy()
    assert model_state[1] == pytest.approx(-state[1] / (1 + 1e-6), rel=1e-6)
    assert model_state[6] == pytest.approx((np.pi / 2 - 0.5476) / 1.082 / (1 + 1e-6), rel=1e-6)
    assert seen["image_masks"][0].tolist() == [True, False, False]


def test_the_trossen_robot_sees_its_own_gripper_direction():
    policy, _ = make(preset("pi0_aloha_towel"), unit_stats(14))
    robot_state = aloha_state()
    robot_state[[6, 13]] = [0.0, 0.5]                 # pi0_ros: 0 = open
    result = policy.infer({"base": image(0), "left_wrist": image(1), "right_wrist": image(2)}, robot_state, "go")
    np.testing.assert_allclose(result.actions[:, 6], 1.0 - 1.1689 / 2.1123, atol=1e-6)
    np.testing.assert_allclose(result.actions[:, 0], robot_state[0], atol=1e-6)


def test_droid_velocities_become_positions_for_the_robot():
    conv = preset("pi0_droid")
    stats = unit_stats(8, action_mean=0.0)
    stats["actions"]["mean"] = np.array([0.1] * 7 + [0.5])
    policy, _ = make(conv, stats)
    state = np.array([0.0, -0.5, 0.0, -2.0, 0.0, 1.5, 0.8, 0.2])
    (chunk,), _ = policy.infer_data([Sample(state, {"base": image(5), "left_wrist": image(6)}, "pick")])
    np.testing.assert_allclose(chunk, np.broadcast_to([0.1] * 7 + [0.5], (10, 8)))   # DROID's own units
    robot = policy.actions_data_to_robot(chunk, state)
    k = np.arange(1, 11)[:, None]
    np.testing.assert_allclose(robot[:, :7], state[:7] + 0.1 * k / 15.0)
    np.testing.assert_allclose(robot[:, 7], 0.5)


def test_committed_actions_round_trip_through_model_space():
    policy, _ = make(preset("pi0_aloha_towel"), {"state": {"mean": np.full(14, 0.1), "std": np.full(14, 2.0)},
                                                 "actions": {"mean": np.full(14, -0.2), "std": np.full(14, 0.5)}})
    state = aloha_state()
    actions = np.tile(aloha_state(), (5, 1)) + 0.01 * np.arange(5)[:, None]
    model = policy.actions_to_model(actions, state)
    back = policy.actions_from_model(model, policy.state_to_model(state)[1])
    np.testing.assert_allclose(back, actions, atol=1e-9)


def test_mismatches_name_the_field():
    with pytest.raises(ConventionsError, match="'action_horizon': 10, but the model predicts 50"):
        make(preset("pi0_droid"), unit_stats(8), horizon=50)
    with pytest.raises(ConventionsError, match="'norm'.*mean_std normalisation needs statistics"):
        make(preset("pi0_droid"), {"state": {}, "actions": {}})
    policy, _ = make(preset("pi0_droid"), unit_stats(8))
    with pytest.raises(ValueError, match=r"state must have shape \(8,\)"):
        policy.infer_data([Sample(np.zeros(7), {"base": image(0)}, "x")])
    with pytest.raises(ValueError, match="no image"):
        policy.infer_data([Sample(np.zeros(8), {}, "x")])
    with pytest.raises(ValueError, match="no prompt"):
        policy.infer_data([Sample(np.zeros(8), {"base": image(0)}, "")])


def test_batches_are_one_call():
    policy, seen = make(preset("pi0_droid"), unit_stats(8))
    samples = [Sample(np.full(8, i / 10), {"base": image(i)}, f"task {i}") for i in range(3)]
    chunks, _ = policy.infer_data(samples)
    assert len(chunks) == 3 and seen["state"].shape[0] == 3


def test_random_policy_for_an_embodiment_with_conventions():
    from pi0_policy.loading import PolicyLoadError, load_policy
    trossen = load_embodiment("trossen_bimanual")
    policy = load_policy("random:pi0_tiny", trossen, conventions="pi0_aloha_towel")
    rng = np.random.default_rng(0)
    images = {s: rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for s in trossen.camera_slots}
    result = policy.infer(images, trossen.home, "fold the towel")
    assert result.actions.shape == (50, 14) and np.all(np.isfinite(result.actions))
    with pytest.raises(PolicyLoadError, match="control_rate_hz"):
        load_policy("random:pi0_tiny", load_embodiment("franka"), conventions="pi0_droid")


def test_statistics_shorter_than_the_state_are_named():
    stats = unit_stats(8)
    stats["state"] = {"mean": np.zeros(7), "std": np.ones(7)}
    with pytest.raises(ConventionsError, match="'state_dim': 8, the state statistics cover 7"):
        make(preset("pi0_droid"), stats)


def test_a_conventions_file_beside_the_checkpoint_is_picked_up(tmp_path):
    import yaml

    from pi0_policy.convention_presets import preset_dict
    from pi0_policy.conventions import CONVENTIONS_FILE
    from pi0_policy.loading import resolve_conventions
    trossen = load_embodiment("trossen_bimanual")
    assert resolve_conventions("", str(tmp_path), trossen) is None
    (tmp_path / CONVENTIONS_FILE).write_text(yaml.safe_dump(preset_dict("pi0_aloha_tupperware")))
    assert resolve_conventions("", str(tmp_path), trossen).name == "pi0_aloha_tupperware"
    assert resolve_conventions("pi0_aloha_sim", str(tmp_path), trossen).name == "pi0_aloha_sim"
