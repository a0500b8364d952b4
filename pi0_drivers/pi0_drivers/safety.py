"""Safety filters between the chunks and the robot: finite values, position limits, rate limits,
and a bound on the jump when a chunk takes over.

All arrays are in the embodiment's valid dims (unified layout, physical units). For joints the
"position" limits are joint limits and the rate is a velocity; for grippers [0, 1] and strokes per
second; for base dims the "position" is a velocity (so its limits are velocity limits) and the
rate an acceleration. One rule for all: the command may not leave [lower, upper] and may not change
faster than max_rate. Joints also have an acceleration limit (max_accel): the executor's commands
start, follow, hold and stop within it (limit_motion, stop_motion), so no hold or e-stop ever asks an
arm to stop from full speed within one step.

Pure Python and numpy: no rclpy import.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pi0_common.embodiment import Embodiment


@dataclass(frozen=True)
class Limits:
    lower: np.ndarray
    upper: np.ndarray
    max_rate: np.ndarray         # per second
    names: tuple[str, ...]
    kinds: tuple[str, ...]
    max_accel: np.ndarray        # per second^2 on the rate (joints); inf where there is none

    @classmethod
    def from_embodiment(cls, emb: Embodiment, velocity_scale: float = 1.0,
                        position_margin: float = 0.0) -> Limits:
        """Limits of an embodiment, joint velocities scaled by velocity_scale (0, 1] and joint
        ranges shrunk by position_margin radians on each side."""
        if not 0.0 < velocity_scale <= 1.0:
            raise ValueError(f'velocity_scale must be in (0, 1], got {velocity_scale}')
        if position_margin < 0.0:
            raise ValueError(f'position_margin must be >= 0, got {position_margin}')
        kinds = tuple(d.kind for d in emb.dims)
        joints = np.array([k == 'joint' for k in kinds])
        lower, upper = emb.lower.copy(), emb.upper.copy()
        lower[joints] += position_margin
        upper[joints] -= position_margin
        if np.any(lower >= upper):
            raise ValueError(f'position_margin {position_margin} leaves an empty joint range')
        rate = emb.max_rate.copy()
        rate[joints] *= velocity_scale
        return cls(lower, upper, rate, tuple(emb.dim_names), kinds, emb.max_accel.copy())

    @property
    def dims(self) -> int:
        return len(self.names)


def clamp_positions(target: np.ndarray, limits: Limits) -> np.ndarray:
    return np.clip(target, limits.lower, limits.upper)


def rate_limit(target: np.ndarray, previous: np.ndarray, limits: Limits, dt: float) -> np.ndarray:
    """Move from previous towards target by at most max_rate * dt per dim."""
    step = limits.max_rate * dt
    return previous + np.clip(target - previous, -step, step)


def limit_trajectory(rows: np.ndarray, previous: np.ndarray, limits: Limits, dt: float,
                     first_dt: float | None = None) -> np.ndarray:
    """Clamp each row to the position limits, then rate-limit row after row starting from previous.

    Args:
        rows: [N, dims] targets, one every dt after the command ``previous``.
        previous: [dims] the last command sent.
        first_dt: time since ``previous`` was sent, if it differs from dt (an early tick may move less).
    """
    out = np.empty_like(rows, dtype=float)
    prev = np.asarray(previous, dtype=float)
    for i, row in enumerate(rows):
        prev = rate_limit(clamp_positions(row, limits), prev, limits, dt if i or first_dt is None else first_dt)
        out[i] = prev
    return out


def largest_jump(target: np.ndarray, reference: np.ndarray, limits: Limits,
                 max_joint_jump: float, max_gripper_jump: float) -> tuple[str, float, float] | None:
    """The worst dim where target departs from reference by more than allowed, or None.

    Base velocities are not position targets and are left to the rate limit.

    Returns:
        (dim name, jump, allowed) of the worst offender, or None when everything is within bounds.
    """
    worst = None
    for i, kind in enumerate(limits.kinds):
        allowed = {'joint': max_joint_jump, 'gripper': max_gripper_jump}.get(kind)
        if allowed is None:
            continue
        jump = abs(float(target[i]) - float(reference[i]))
        if jump > allowed and (worst is None or jump - allowed > worst[1] - worst[2]):
            worst = (limits.names[i], jump, allowed)
    return worst


def _follow_step(target: np.ndarray, previous: np.ndarray, rate: np.ndarray, limits: Limits,
                 dt: float) -> tuple[np.ndarray, np.ndarray]:
    """One step from ``previous`` (moving at ``rate`` per second) towards ``target``: inside the position
    limits, no faster than max_rate, the rate changing by at most max_accel * dt, and never faster than
    what can still stop at the target (so following does not overshoot)."""
    a = limits.max_accel
    finite = np.isfinite(a)
    err = clamp_positions(target, limits) - previous
    want = err / dt
    stop = np.full_like(want, np.inf)
    stop[finite] = np.sqrt(2.0 * a[finite] * np.abs(err[finite]))
    want = np.clip(want, -stop, stop)
    want = np.clip(want, rate - a * dt, rate + a * dt)
    want = np.clip(want, -limits.max_rate, limits.max_rate)
    position = clamp_positions(previous + want * dt, limits)
    return position, (position - previous) / dt


def limit_motion(rows: np.ndarray, previous: np.ndarray, rate: np.ndarray, limits: Limits, dt: float,
                 first_dt: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Follow targets row after row within the position, rate and acceleration limits.

    Args:
        rows: [N, dims] targets, one every dt after the command ``previous``.
        previous: [dims] the last command sent; ``rate``: its rate of change per second.
        first_dt: time since ``previous`` was sent, if it differs from dt.

    Returns:
        (positions [N, dims], the rate after the first row), the rate to pass with the next call.
    """
    out = np.empty_like(rows, dtype=float)
    prev, vel = np.asarray(previous, dtype=float), np.asarray(rate, dtype=float)
    first_rate = vel
    for i, row in enumerate(rows):
        step = dt if i or first_dt is None else max(first_dt, 1e-6)
        prev, vel = _follow_step(np.asarray(row, dtype=float), prev, vel, limits, step)
        out[i] = prev
        if i == 0:
            first_rate = vel
    return out, first_rate


def stop_motion(previous: np.ndarray, rate: np.ndarray, limits: Limits, dt: float, count: int,
                first_dt: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The way to rest from ``previous`` moving at ``rate``: arms and grippers slow down at their
    acceleration limit (where they stop is where they hold), bases ramp their velocity to zero at
    theirs. Returns (positions [count, dims], the rate after the first row)."""
    base = np.array([k == 'base' for k in limits.kinds])
    a = limits.max_accel
    out = np.empty((count, len(limits.names)))
    prev, vel = np.asarray(previous, dtype=float).copy(), np.asarray(rate, dtype=float).copy()
    first_rate = vel
    for i in range(count):
        step = dt if i or first_dt is None else max(first_dt, 1e-6)
        vel = vel - np.clip(vel, -a * step, a * step)
        position = prev + vel * step
        position[base] = prev[base] - np.clip(prev[base], -limits.max_rate[base] * step,
                                              limits.max_rate[base] * step)
        position = clamp_positions(position, limits)
        vel = (position - prev) / step
        prev = position
        out[i] = position
        if i == 0:
            first_rate = vel
    return out, first_rate
