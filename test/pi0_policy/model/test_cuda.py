"""GPU paths: bfloat16 on CUDA, torch.compile and CUDA graphs. Skipped where there is no CUDA device."""

import dataclasses

import pytest
import torch

from .conftest import MICRO, make_batch, perturbed_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _on_cuda(batch: dict) -> dict:
    return {k: v.cuda() for k, v in batch.items()}


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_cuda_matches_cpu(dtype):
    config = dataclasses.replace(MICRO, dtype=dtype)
    cpu = perturbed_model(config)
    gpu = perturbed_model(config).cuda()
    batch = make_batch(config)
    noise = torch.randn(2, config.action_horizon, config.action_dim)
    expected = cpu.sample_actions(**batch, noise=noise)
    got = gpu.sample_actions(**_on_cuda(batch), noise=noise.cuda())
    assert got.dtype == torch.float32 and got.device.type == "cuda"
    tol = 1e-3 if dtype == "float32" else 0.1  # TF32/bf16 matmuls
    torch.testing.assert_close(got.cpu(), expected, rtol=0, atol=tol)


@pytest.mark.parametrize("cuda_graphs", [False, True])
def test_compiled_stages_match_eager(cuda_graphs):
    model = perturbed_model(MICRO).cuda()
    batch = _on_cuda({k: v[:1] for k, v in make_batch(MICRO).items()})
    noise = torch.randn(1, MICRO.action_horizon, MICRO.action_dim, device="cuda")
    eager = model.sample_actions(**batch, noise=noise)
    model.compile_stages(cuda_graphs=cuda_graphs)
    for _ in range(3):  # compile, record, replay
        compiled = model.sample_actions(**batch, noise=noise)
    torch.testing.assert_close(compiled, eager, rtol=0, atol=1e-3)
