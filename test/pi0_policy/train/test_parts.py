"""Pieces of the trainer: the loss over valid dims, gradient checkpointing, the schedule, the EMA."""

from __future__ import annotations

import math

import pytest
import torch

from pi0_policy.model.pi0 import GemmaLayer, Pi0Model
from pi0_policy.train.grad_checkpointing import enable_gradient_checkpointing
from pi0_policy.train.loss import FlowMatchingLoss
from pi0_policy.train.optim import Ema, lr_factor

from .conftest import MICRO


def micro_batch(batch: int = 2, dims: tuple[int, ...] = (7, 8)) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    c = MICRO
    return {
        "images": torch.rand(batch, 3, 3, c.image_size, c.image_size, generator=g) * 2 - 1,
        "image_masks": torch.tensor([[True, True, False]] * batch),
        "tokens": torch.randint(1, 700, (batch, c.max_token_len), generator=g),
        "token_masks": torch.arange(c.max_token_len)[None].expand(batch, -1) < 6,
        "state": torch.randn(batch, c.state_dim, generator=g),
        "actions": torch.randn(batch, c.action_horizon, c.action_dim, generator=g),
        "action_dim_mask": torch.stack([torch.arange(c.action_dim) < d for d in dims]),
    }


def test_loss_averages_over_each_robots_valid_dims_or_all_of_them():
    torch.manual_seed(0)
    model = Pi0Model(MICRO)
    batch = micro_batch()
    noise = torch.randn(2, MICRO.action_horizon, MICRO.action_dim)
    t = torch.tensor([0.3, 0.8])
    elementwise = model.compute_loss(**{k: batch[k] for k in ("images", "image_masks", "tokens", "token_masks",
                                                               "state")}, actions=batch["actions"], noise=noise, time=t)
    valid = FlowMatchingLoss(model, valid_dims_only=True)(batch, noise, t)
    expected = (elementwise[0, :, :7].sum() + elementwise[1, :, :8].sum()) / (15 * MICRO.action_horizon)
    torch.testing.assert_close(valid, expected)
    torch.testing.assert_close(FlowMatchingLoss(model, valid_dims_only=False)(batch, noise, t), elementwise.mean())


def test_gradient_checkpointing_recomputes_layers_and_keeps_the_gradients(monkeypatch):
    batch = micro_batch()
    noise = torch.randn(2, MICRO.action_horizon, MICRO.action_dim, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([0.2, 0.6])

    def grads(checkpointed: bool) -> tuple[dict[str, torch.Tensor], int]:
        calls = []
        original = GemmaLayer.finish
        monkeypatch.setattr(GemmaLayer, "finish", lambda self, *a: calls.append(1) or original(self, *a))
        torch.manual_seed(0)
        model = Pi0Model(MICRO)
        if checkpointed:
            assert enable_gradient_checkpointing(model) == 2 * 2 * 2 + 1  # qkv/finish of 2+2 layers, 1 SigLIP layer
            assert enable_gradient_checkpointing(model) == 0  # idempotent
        FlowMatchingLoss(model)(batch, noise, t).backward()
        monkeypatch.setattr(GemmaLayer, "finish", original)
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}, len(calls)

    plain, plain_calls = grads(False)
    checkpointed, checkpointed_calls = grads(True)
    assert checkpointed_calls == 2 * plain_calls  # the backward pass ran each layer again
    assert plain.keys() == checkpointed.keys()
    for name in plain:
        torch.testing.assert_close(checkpointed[name], plain[name], rtol=1e-5, atol=1e-7, msg=name)


def test_learning_rate_warms_up_then_decays_to_the_floor():
    assert lr_factor(0, 10, 100, 0.1) == pytest.approx(1 / 11)
    assert lr_factor(9, 10, 100, 0.1) == pytest.approx(10 / 11)
    assert lr_factor(10, 10, 100, 0.1) == pytest.approx(1.0)
    assert lr_factor(55, 10, 100, 0.1) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 2)))
    assert lr_factor(100, 10, 100, 0.1) == pytest.approx(0.1) and lr_factor(500, 10, 100, 0.1) == pytest.approx(0.1)


def test_ema_ramps_its_decay_up():
    p = {"w": torch.zeros(3)}
    ema = Ema(p, decay=0.99)
    p["w"] += 1.0
    ema.update(p)  # first decay (1 + 0) / (10 + 0) = 0.1: the shadow moves 90% of the way
    torch.testing.assert_close(ema.shadow["w"], torch.full((3,), 0.9))
    for _ in range(1000):
        ema.update(p)
    assert ema.current_decay() == 0.99 and torch.allclose(ema.shadow["w"], torch.ones(3))
