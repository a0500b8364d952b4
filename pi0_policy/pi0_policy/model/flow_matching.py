"""Flow-matching maths for π₀, in the convention of the openpi code (not of the paper).

Time convention: openpi's code puts the noise at t = 1 and the data at t = 0, the reverse of the
paper's τ (t = 1 − τ). The noisy chunk is x_t = t·ε + (1 − t)·A, the network regresses the velocity
u = ε − A (= dx_t/dt), and sampling integrates with forward Euler from t = 1 down to t = 0 with
dt = −1/num_steps (t = 1.0, 0.9, …, 0.1 for 10 steps). We keep this convention everywhere so that
openpi and LeRobot checkpoints produce their own actions (openpi ``pi0.py`` ``compute_loss`` /
``sample_actions``; LeRobot ``flow_matching.py``). Training times are t = 0.001 + 0.999·Beta(1.5, 1),
the paper's τ distribution after the substitution t = 1 − τ.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

Velocity = Callable[[Tensor, Tensor], Tensor]  # (x_t [B,H,A], t [B]) -> v [B,H,A]


def time_embedding(t: Tensor, dim: int, min_period: float, max_period: float) -> Tensor:
    """Sinusoidal embedding of the flow time, sin block first (openpi ``posemb_sincos``).

    Args:
        t: flow times, shape [B].
        dim: embedding width (the expert width); must be even.
        min_period: shortest period (4e-3 for π₀).
        max_period: longest period (4.0 for π₀).

    Returns:
        float32 tensor [B, dim] = concat(sin(2π t / p), cos(2π t / p)) over dim/2 log-spaced periods p.
    """
    if t.ndim != 1:
        raise ValueError(f"time must have shape [B], got {tuple(t.shape)}")
    # float64 like the PyTorch references (MPS has no float64), then float32.
    wide = torch.float32 if t.device.type == "mps" else torch.float64
    fraction = torch.linspace(0.0, 1.0, dim // 2, dtype=wide, device=t.device)
    period = min_period * (max_period / min_period) ** fraction  # [dim/2]
    angle = (2 * math.pi / period)[None, :] * t.to(wide)[:, None]  # [B, dim/2]
    return torch.cat([torch.sin(angle), torch.cos(angle)], dim=1).to(torch.float32)


def sample_time(batch: int, alpha: float = 1.5, beta: float = 1.0, scale: float = 0.999,
                offset: float = 0.001, device: torch.device | str = "cpu") -> Tensor:
    """Training times t = offset + scale·Beta(alpha, beta), float32 [B] (biased towards noise, t ≈ 1)."""
    # Beta is sampled on the CPU: some backends (MPS) lack the Dirichlet kernel it uses.
    dist = torch.distributions.Beta(torch.tensor(float(alpha)), torch.tensor(float(beta)))
    return (dist.sample((batch,)) * scale + offset).to(device=device, dtype=torch.float32)


def noisy_actions(actions: Tensor, noise: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    """Point on the straight path and its velocity: x_t = t·ε + (1−t)·A, u = ε − A.

    Args:
        actions: clean chunk A [B, H, A].
        noise: ε [B, H, A].
        t: times [B].

    Returns:
        (x_t, u), both [B, H, A].
    """
    t = t[:, None, None]
    return t * noise + (1 - t) * actions, noise - actions


def euler_times(num_steps: int) -> list[float]:
    """The times at which the velocity is evaluated: 1, 1 − 1/n, …, 1/n."""
    dt = -1.0 / num_steps
    # 1 + k·dt in double, not an accumulated float32 sum: LeRobot's choice, and it lands on 1/n.
    return [1.0 + k * dt for k in range(num_steps)]


def euler_integrate(velocity: Velocity, noise: Tensor, num_steps: int) -> Tensor:
    """Integrate dx/dt = v(x, t) from t = 1 (noise) to t = 0 with forward Euler, dt = −1/num_steps.

    Args:
        velocity: v(x_t, t) with x_t [B, H, A] and t a float32 tensor [B].
        noise: the sample at t = 1, [B, H, A].
        num_steps: number of network evaluations.

    Returns:
        The sample at t = 0, [B, H, A].
    """
    dt = -1.0 / num_steps
    x = noise
    for t in euler_times(num_steps):
        t_batch = torch.full((x.shape[0],), t, dtype=torch.float32, device=x.device)
        x = x + dt * velocity(x, t_batch)
    return x
