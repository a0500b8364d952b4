"""Real-time chunking (RTC) as inpainting guidance on the Euler sampler.

Black, Galliker and Levine, "Real-Time Execution of Action Chunking Flow Policies" (arXiv 2506.07339),
in the "guided" variant that LeRobot ships (``lerobot/policies/rtc/modeling_rtc.py``): while a new chunk
is denoised, its first steps are pulled towards the actions of the previous chunk that the robot will
still execute during the inference delay. As in LeRobot, the correction is the weighted error itself
(the network Jacobian is treated as the identity, no VJP through the model).

All times here are in the code convention (t = 1 noise, t = 0 data; see flow_matching.py); the paper's
τ is 1 − t.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .flow_matching import Velocity

SCHEDULES = ("zeros", "ones", "linear", "exp")


@dataclass(frozen=True)
class RtcGuidance:
    """Guidance request for one chunk.

    Attributes:
        prev_actions: [k, d] (or [B, k, d]) actions already committed for the new chunk's steps 0..k-1.
            The policy takes them in physical units and hands the model a normalised copy.
        inference_delay: steps that will have executed before the new chunk arrives (hard-guided).
        execution_horizon: guidance fades out linearly up to this step.
        max_guidance_weight: β, the clip on the guidance weight (10 suits 10-step sampling).
        schedule: prefix weight shape: "zeros", "ones", "linear" or "exp".
    """

    prev_actions: np.ndarray | Tensor
    inference_delay: int
    execution_horizon: int
    max_guidance_weight: float = 10.0
    schedule: str = "linear"

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"RTC schedule {self.schedule!r} not in {SCHEDULES}")
        if self.inference_delay < 0 or self.execution_horizon < 0:
            raise ValueError("RTC inference_delay and execution_horizon must be >= 0")
        if self.max_guidance_weight <= 0:
            raise ValueError(f"RTC max_guidance_weight must be > 0, got {self.max_guidance_weight}")


def prefix_weights(inference_delay: int, execution_horizon: int, horizon: int,
                   schedule: str = "linear") -> Tensor:
    """Per-step guidance weights W [horizon] (the paper's c_i, LeRobot's ``get_prefix_weights``).

    Steps before the delay get 1, steps from the execution horizon on get 0; in between, "linear" falls
    from 1 to 0 exclusive of both ends, "exp" bends that ramp, "ones" keeps 1 and "zeros" keeps 0.
    """
    end = min(execution_horizon, horizon)
    start = min(inference_delay, end)
    w = torch.zeros(horizon)
    if schedule == "zeros":
        w[:start] = 1.0
        return w
    if schedule == "ones":
        w[:end] = 1.0
        return w
    ramp = torch.linspace(1.0, 0.0, end - start + 2)[1:-1]  # [end - start], endpoints dropped
    if schedule == "exp":
        ramp = ramp * torch.expm1(ramp) / (np.e - 1)
    w[start:end] = ramp
    w[:start] = 1.0
    return w


def guidance_weight(t: float, max_weight: float) -> float:
    """min(β, ((1−τ)² + τ²) / (τ(1−τ))) with τ = 1 − t; β at the ends where the formula diverges."""
    tau = 1.0 - t
    if tau <= 0.0 or tau >= 1.0:
        return float(max_weight)
    return float(min(max_weight, ((1 - tau) ** 2 + tau**2) / (tau * (1 - tau))))


def guided(velocity: Velocity, target: Tensor, weights: Tensor, max_weight: float) -> Velocity:
    """Wrap a velocity field so each Euler step is pulled towards ``target`` where ``weights`` > 0.

    Args:
        velocity: the unguided v(x_t, t).
        target: previous actions in model space, zero-padded to [B, H, A].
        weights: [H] prefix weights.
        max_weight: β.

    Returns:
        v_guided(x_t, t) = v − w(t)·W⊙(Y − x̂₀) with x̂₀ = x_t − t·v the predicted clean chunk. The minus
        sign is because the sampler integrates with dt < 0.
    """
    w_steps = weights.to(target)[None, :, None]  # [1, H, 1]

    def step(x_t: Tensor, t: Tensor) -> Tensor:
        v = velocity(x_t, t)
        t_scalar = float(t[0])
        x0_hat = x_t - t_scalar * v
        correction = (target - x0_hat) * w_steps
        return v - guidance_weight(t_scalar, max_weight) * correction

    return step


def pad_target(prev_actions: Tensor, batch: int, horizon: int, action_dim: int) -> Tensor:
    """Zero-pad [k, d] or [B, k, d] previous actions to [B, horizon, action_dim] (extra steps dropped)."""
    if prev_actions.ndim == 2:
        prev_actions = prev_actions[None].expand(batch, -1, -1)
    if prev_actions.ndim != 3 or prev_actions.shape[0] != batch:
        raise ValueError(f"prev_actions must be [k, d] or [{batch}, k, d], got {tuple(prev_actions.shape)}")
    k, d = min(prev_actions.shape[1], horizon), prev_actions.shape[2]
    if d > action_dim:
        raise ValueError(f"prev_actions has {d} dims, more than the model's {action_dim}")
    out = prev_actions.new_zeros(batch, horizon, action_dim)
    out[:, :k, :d] = prev_actions[:, :k]
    return out
