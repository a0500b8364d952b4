"""Optimizer, learning-rate schedule and EMA of the weights."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .config import TrainConfig


def make_optimizer(params: list[nn.Parameter], cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW over the trainable parameters, openpi's hyper-parameters by default."""
    # foreach=False: the per-tensor path is the one that supports every tensor subclass (FSDP's DTensor).
    return torch.optim.AdamW(params, lr=cfg.peak_lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay,
                             foreach=False)


def lr_factor(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """Multiplier of the peak learning rate: linear warm-up, then cosine decay to ``min_ratio`` at ``total``."""
    if step < warmup:
        return (step + 1) / (warmup + 1)
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """The schedule of :func:`lr_factor` as a (resumable) LambdaLR."""
    warmup, total, ratio = cfg.warmup, cfg.steps, cfg.min_lr_ratio
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, warmup, total, ratio))


class Ema:
    """Exponential moving average of parameters (float32 shadows, sharded like the parameters under FSDP).

    The decay ramps up as min(decay, (1 + n) / (10 + n)) after n updates (TensorFlow's ExponentialMovingAverage
    with num_updates), so that an early checkpoint is not mostly the initial weights.
    """

    def __init__(self, params: dict[str, Tensor], decay: float):
        self.decay = decay
        self.updates = 0
        self.shadow = {name: p.detach().clone().float() for name, p in params.items()}

    def current_decay(self) -> float:
        """The decay the next update uses."""
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, params: dict[str, Tensor]) -> None:
        """shadow <- d * shadow + (1 - d) * param."""
        d = self.current_decay()
        for name, shadow in self.shadow.items():
            shadow.lerp_(params[name].detach().float(), 1.0 - d)
        self.updates += 1
