"""Pi0Policy: the inference object the policy node wraps (pi0_tiny, random weights)."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from pi0_policy.model.config import get_config
from pi0_policy.model.pi0 import Pi0Model
from pi0_policy.model.rtc import RtcGuidance
from pi0_policy.model.tokenizer import load_tokenizer
from pi0_policy.model.weights import save_checkpoint
from pi0_policy.normalize import NormStats, save_norm_stats
from pi0_policy.policy import Pi0Policy

D = 7  # e.g. UR5e: 6 joints + gripper
RNG = np.random.default_rng(0)
STATS = {
    "state": NormStats(mean=RNG.normal(size=D), std=RNG.uniform(0.5, 2.0, D)),
    "actions": NormStats(mean=RNG.normal(size=D), std=RNG.uniform(0.5, 2.0, D)),
}


@pytest.fixture(scope="module")
def policy():
    torch.manual_seed(0)
    config = get_config("pi0_tiny")
    return Pi0Policy(Pi0Model(config), load_tokenizer(config), STATS)


@pytest.fixture
def noise(policy):
    return np.random.default_rng(1).standard_normal((policy.horizon, policy.action_dim)).astype(np.float32)


def _camera(h=120, w=160, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_infer_returns_physical_actions_and_timing(policy, noise):
    result = policy.infer({"base": _camera(), "left_wrist": _camera(64, 64, 1)}, np.ones(D), "pick up the cube",
                          noise=noise)
    assert result.actions.shape == (policy.horizon, D) and result.actions.dtype == np.float32
    assert result.normalized_actions.shape == (policy.horizon, policy.action_dim)
    np.testing.assert_allclose(result.actions, STATS["actions"].unnormalize(result.normalized_actions[:, :D]),
                               rtol=1e-6)
    assert set(result.timing) == {"preprocess", "model", "postprocess", "total"}
    assert result.timing["total"] >= result.timing["model"] > 0
    assert (policy.horizon, policy.action_dim, policy.camera_slots) == (50, 18, ("base", "left_wrist", "right_wrist"))


def test_same_noise_same_chunk_and_absent_means_none_or_missing(policy, noise):
    images = {"base": _camera()}
    a = policy.infer(images, np.zeros(D), "go", noise=noise).actions
    b = policy.infer({**images, "left_wrist": None, "right_wrist": None}, np.zeros(D), "go", noise=noise).actions
    np.testing.assert_array_equal(a, b)
    c = policy.infer({**images, "left_wrist": _camera(seed=3)}, np.zeros(D), "go", noise=noise).actions
    assert not np.allclose(a, c)


def test_state_is_normalised_before_the_model(policy, noise):
    """Feeding the model the normalised state by hand gives the policy's own output."""
    state = np.linspace(-1, 1, D)
    result = policy.infer({"base": _camera()}, state, "go", noise=noise)
    config = policy.config
    from pi0_policy.image_transforms import resize_with_pad, to_model_pixels

    pixels = torch.zeros(1, 3, 3, config.image_size, config.image_size)
    pixels[0, 0] = torch.from_numpy(to_model_pixels(resize_with_pad(_camera(), config.image_size, config.image_size)))
    tokens, mask = policy.tokenizer.tokenize("go")
    direct = policy.model.sample_actions(
        pixels, torch.tensor([[True, False, False]]), torch.from_numpy(tokens)[None], torch.from_numpy(mask)[None],
        torch.tensor(STATS["state"].normalize(state), dtype=torch.float32)[None], noise=torch.from_numpy(noise)[None])
    np.testing.assert_allclose(result.normalized_actions, direct[0].numpy(), rtol=0, atol=1e-6)


@pytest.mark.parametrize("images, state, message", [
    ({"base": _camera()}, np.array([0.0, np.nan, 0, 0, 0, 0, 0]), "non-finite"),
    ({"base": _camera()}, np.zeros(D + 1), "8 dims"),
    ({"base": _camera()}, np.zeros((1, D)), "1-D"),
    ({"base": _camera().astype(np.float32)}, np.zeros(D), "uint8"),
    ({"base": _camera()[..., 0]}, np.zeros(D), "HxWx3"),
    ({"base": None, "left_wrist": None}, np.zeros(D), "all cameras are absent"),
    ({"front": _camera()}, np.zeros(D), "unknown camera slot"),
])
def test_bad_input_is_refused(policy, images, state, message):
    with pytest.raises(ValueError, match=message):
        policy.infer(images, state, "go")


def test_bad_noise_is_refused(policy):
    with pytest.raises(ValueError, match="noise"):
        policy.infer({"base": _camera()}, np.zeros(D), "go", noise=np.zeros((10, 18)))


def test_rtc_guidance_in_physical_units(policy, noise):
    images, state = {"base": _camera()}, np.zeros(D)
    free = policy.infer(images, state, "go", noise=noise).actions
    committed = free[:8] + 3.0 * STATS["actions"].std  # far from the free chunk, in physical units
    guided = policy.infer(images, state, "go", noise=noise,
                          rtc=RtcGuidance(prev_actions=committed, inference_delay=4, execution_horizon=8)).actions
    assert np.abs(guided[:4] - committed[:4]).mean() < 0.5 * np.abs(free[:4] - committed[:4]).mean()
    with pytest.raises(ValueError, match="prev_actions"):
        policy.infer(images, state, "go", rtc=RtcGuidance(np.zeros((3, D + 2)), 1, 3))


@pytest.mark.parametrize("layout", ["openpi", "lerobot"])
def test_from_checkpoint_reproduces_the_saved_policy(policy, noise, tmp_path, layout):
    folder = save_checkpoint(policy.model, tmp_path / layout, layout=layout, norm_stats=STATS, asset_id="ur5e")
    loaded = Pi0Policy.from_checkpoint(folder)
    assert "assets/ur5e" in loaded.describe()
    images = {"base": _camera(), "right_wrist": _camera(seed=5)}
    np.testing.assert_array_equal(loaded.infer(images, np.ones(D), "stack the cups", noise=noise).actions,
                                  policy.infer(images, np.ones(D), "stack the cups", noise=noise).actions)


def test_asset_selection(policy, tmp_path):
    folder = save_checkpoint(policy.model, tmp_path / "ckpt", norm_stats=STATS, asset_id="ur5e")
    other = {k: NormStats(mean=np.zeros(3), std=np.ones(3)) for k in ("state", "actions")}
    save_norm_stats(folder / "assets" / "franka", other)
    with pytest.raises(ValueError, match="several assets"):
        Pi0Policy.from_checkpoint(folder)
    assert Pi0Policy.from_checkpoint(folder, asset_id="franka").norm_stats["state"].dim == 3
    with pytest.raises(FileNotFoundError):
        Pi0Policy.from_checkpoint(folder, asset_id="arx")
    with pytest.raises(FileNotFoundError, match="not found"):
        Pi0Policy.from_checkpoint(tmp_path / "nothing")


def test_warmup_and_describe(policy):
    policy.warmup()
    assert "pi0_tiny" in policy.describe() and "horizon 50" in policy.describe()


def test_core_modules_import_without_ros():
    code = ("import sys, pi0_policy.model.pi0, pi0_policy.model.weights, pi0_policy.model.tokenizer, "
            "pi0_policy.model.rtc, pi0_policy.normalize, pi0_policy.image_transforms, pi0_policy.policy; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('rclpy', 'rosidl_runtime_py') "
            "or m.endswith('_msgs')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": ":".join(sys.path)})
