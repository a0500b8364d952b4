"""bfloat16 on the CPU against float32 on the same weights: the actions agree within bf16's rounding.

Tolerance: actions are in normalised space (about unit standard deviation). bfloat16 keeps 8 significant
bits, so one rounding of a unit value moves it by up to 2^-9 ≈ 0.002; the 10 Euler steps through the
transformer stacks add up a few such errors. On the embedded default policy the largest difference measured
was 0.0045 and the mean 5e-4, so max 0.02 (about ten roundings) and mean 2e-3 leave room for other CPUs'
bf16 kernels (AMX, AVX512-BF16 or emulated), which accumulate differently. This guards the bf16 path against
breakage (a cast in the wrong place, a mask or RoPE table of the wrong dtype, NaNs), not the choice of the
float32 parameters: on this policy even all-bf16 parameters (max 0.005) or RoPE angles in bf16 (0.011) stay
within it; that list follows openpi.
"""

import dataclasses

import pytest
import torch

from pi0_policy.loading import default_checkpoint_dir
from pi0_policy.model.pi0 import Pi0Model
from pi0_policy.model.weights import load_checkpoint

from .conftest import MICRO, make_batch, perturbed_model

MAX_ABS, MEAN_ABS = 0.02, 2e-3


def _compare(fp32: Pi0Model, bf16: Pi0Model, seeds=(0, 1)) -> tuple[float, float]:
    c = fp32.config
    worst, means = 0.0, []
    for seed in seeds:
        batch = make_batch(c, batch=2, seed=seed)  # one absent camera, prompts of different lengths
        noise = torch.randn(2, c.action_horizon, c.action_dim, generator=torch.Generator().manual_seed(seed + 100))
        expected = fp32.sample_actions(**batch, noise=noise)
        got = bf16.sample_actions(**batch, noise=noise)
        assert got.dtype == torch.float32 and torch.isfinite(got).all()
        diff = (got - expected).abs()
        worst, means = max(worst, diff.max().item()), [*means, diff.mean().item()]
    return worst, sum(means) / len(means)


def _assert_runs_in_bfloat16(model: Pi0Model) -> None:
    """The bf16 model really is bf16 where the dtype policy says so (else the comparison proves nothing)."""
    dtypes = {name: p.dtype for name, p in model.named_parameters()}
    assert dtypes["llm.layers.0.self_attn.q_proj.weight"] == torch.bfloat16
    assert dtypes["expert.layers.0.mlp.down_proj.weight"] == torch.bfloat16
    assert dtypes["expert.layers.0.input_layernorm.weight"] == torch.float32
    assert dtypes["action_out_proj.weight"] == torch.float32


@pytest.fixture(scope="module")
def default_policy_models() -> tuple[Pi0Model, Pi0Model]:
    folder = default_checkpoint_dir()
    return load_checkpoint(folder, dtype="float32"), load_checkpoint(folder, dtype="bfloat16")


def test_default_policy_in_bfloat16_matches_float32(default_policy_models):
    fp32, bf16 = default_policy_models
    _assert_runs_in_bfloat16(bf16)
    worst, mean = _compare(fp32, bf16)
    assert worst <= MAX_ABS and mean <= MEAN_ABS, f"bf16 vs fp32: max {worst:.4f}, mean {mean:.5f}"
    assert worst > 0, "identical outputs: the bf16 model did not run in bf16"


def test_small_model_in_bfloat16_matches_float32():
    """Random (perturbed) weights: no trained structure that might hide rounding errors."""
    fp32 = perturbed_model(dataclasses.replace(MICRO, dtype="float32"))
    bf16 = Pi0Model(dataclasses.replace(MICRO, dtype="bfloat16")).eval()
    bf16.load_state_dict(fp32.state_dict())  # copies into each parameter's own dtype
    _assert_runs_in_bfloat16(bf16)
    worst, mean = _compare(fp32, bf16)
    assert worst <= MAX_ABS and mean <= MEAN_ABS, f"bf16 vs fp32: max {worst:.4f}, mean {mean:.5f}"
