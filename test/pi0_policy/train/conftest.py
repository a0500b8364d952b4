"""Small datasets written with the dataset writer, and a micro model config, for the training tests."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from pi0_common.embodiment import load_embodiment
from pi0_policy.data import lerobot_format as lf
from pi0_policy.data.writer import EpisodeData, open_writer
from pi0_policy.model.config import get_config

# pi0_tiny's code path at a fraction of its cost (as the model tests' MICRO): 16 tokens per image.
MICRO = dataclasses.replace(
    get_config("pi0_tiny"), name="micro", image_size=32, patch_size=8, vision_width=32, vision_depth=1,
    vision_mlp_dim=64, vision_heads=2, llm_width=64, llm_depth=2, llm_mlp_dim=128, expert_width=32,
    expert_depth=2, expert_mlp_dim=64, num_heads=4, num_kv_heads=1, head_dim=16, action_horizon=10,
    max_token_len=16,
)  # fmt: skip


def write_dataset(root: Path, embodiment: str, fmt: str, episodes: int = 2, frames: int = 10, seed: int = 0) -> Path:
    """A dataset whose actions are a fixed function of the state and whose image shows the state."""
    emb = load_embodiment(embodiment)
    rng = np.random.default_rng(seed)
    camera = {"base": {"shape": None, "topic": "camera/base/image_raw", "transport": "raw"}}
    writer = open_writer(fmt, root, int(emb.control_rate_hz), emb.name, lf.build_features(emb.dim_names, camera))
    for e in range(episodes):
        start = rng.normal(size=emb.valid_dims)
        state = (start + np.cumsum(rng.normal(scale=0.1, size=(frames, emb.valid_dims)), axis=0)).astype(np.float32)
        action = (0.5 * state + 0.2).astype(np.float32)
        images = [np.full((24, 32, 3), int(128 + 40 * np.tanh(s[0])), np.uint8) for s in state]
        task = ["pick up the cube", "open the drawer"][e % 2]
        writer.add_episode(EpisodeData(task, state, action, ({"base": (k, img)} for k, img in enumerate(images))))
    writer.finalize()
    return root


@pytest.fixture(scope="session")
def ur5e_data(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("ur5e") / "ds", "ur5e", "v2.1")


@pytest.fixture(scope="session")
def franka_data(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("franka") / "ds", "franka", "v3", episodes=1, frames=14, seed=1)


@pytest.fixture(scope="session")
def micro_json(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "micro.json"
    path.write_text(json.dumps(MICRO.to_dict()))
    return path
