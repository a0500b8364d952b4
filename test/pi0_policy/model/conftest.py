"""Small models and batches shared by the model tests (CPU, a few milliseconds per forward)."""

import dataclasses

import pytest
import torch

from pi0_policy.model.config import Pi0Config, get_config
from pi0_policy.model.pi0 import Pi0Model

# pi0_tiny's code path at a fraction of its cost: 16 tokens per image, two layers, horizon 10.
MICRO = dataclasses.replace(
    get_config("pi0_tiny"), name="micro", image_size=32, patch_size=8, vision_width=32, vision_depth=1,
    vision_mlp_dim=64, vision_heads=2, llm_width=64, llm_depth=2, llm_mlp_dim=128, expert_width=32,
    expert_depth=2, expert_mlp_dim=64, num_heads=4, num_kv_heads=1, head_dim=16, action_dim=6, state_dim=5,
    action_horizon=10, max_token_len=12,
)


def make_batch(c: Pi0Config, batch: int = 2, seed: int = 0) -> dict:
    """Random inputs with one camera absent in sample 0 and prompts of different lengths."""
    g = torch.Generator().manual_seed(seed)
    image_masks = torch.ones(batch, c.num_cameras, dtype=torch.bool)
    image_masks[0, 1] = False
    lengths = torch.arange(batch) * 3 + 4
    token_masks = torch.arange(c.max_token_len)[None] < lengths[:, None]
    return dict(
        images=torch.rand(batch, c.num_cameras, 3, c.image_size, c.image_size, generator=g) * 2 - 1,
        image_masks=image_masks,
        tokens=torch.randint(1, c.vocab_size, (batch, c.max_token_len), generator=g) * token_masks,
        token_masks=token_masks,
        state=torch.randn(batch, c.state_dim, generator=g),
    )


def perturbed_model(c: Pi0Config, seed: int = 0) -> Pi0Model:
    """A model whose norm scales and biases are random too, so no parameter sits at a special value."""
    torch.manual_seed(seed)
    model = Pi0Model(c).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


@pytest.fixture(scope="module")
def micro_config() -> Pi0Config:
    return MICRO


@pytest.fixture(scope="module")
def micro_model() -> Pi0Model:
    return perturbed_model(MICRO)


@pytest.fixture
def batch() -> dict:
    return make_batch(MICRO)


@pytest.fixture
def noise() -> torch.Tensor:
    return torch.randn(2, MICRO.action_horizon, MICRO.action_dim, generator=torch.Generator().manual_seed(1))
