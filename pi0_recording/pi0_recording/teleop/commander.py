"""One unified command per control tick from the teleop sources, never outside the safety limits.

Rules (all times are receive times on one clock, so a leader's or joystick's own clock never
matters):
- nothing is commanded before the follower's measured state is known: the first command starts
  from where the robot is, so taking over never makes it jump;
- an arm follows its target while the target is fresh and holds its last command when it goes
  stale (the leader stopped publishing);
- the base follows the twist while it is fresh and gets zero velocity when it goes stale;
- every row is clamped to the position limits and rate-limited from the previous command (joint
  velocity, gripper stroke rate, base acceleration), as the chunk executor does;
- the mode is ACTIVE while any source is fresh, HOLD when none is.

Pure Python and numpy: no rclpy import.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pi0_common.commands import MODE_ACTIVE, MODE_HOLD, Command, first_non_finite
from pi0_common.embodiment import Embodiment
from pi0_drivers.safety import Limits, limit_trajectory


@dataclass
class Target:
    """Values for some unified dims, received at ``stamp`` (seconds)."""

    indices: list[int]
    values: np.ndarray
    stamp: float


class TeleopCommander:
    """Args:
        embodiment: the robot.
        limits: position and rate limits (``Limits.from_embodiment(emb, velocity_scale)``).
        arm_timeout: seconds after which an arm target is stale.
        base_timeout: seconds after which a base twist is stale.
    """

    def __init__(self, embodiment: Embodiment, limits: Limits, arm_timeout: float, base_timeout: float):
        if arm_timeout <= 0 or base_timeout <= 0:
            raise ValueError('timeouts must be positive')
        self.embodiment, self.limits = embodiment, limits
        self.arm_timeout, self.base_timeout = arm_timeout, base_timeout
        self._base_idx = embodiment.base_indices()
        self._last: np.ndarray | None = None
        self._last_time: float | None = None

    @property
    def started(self) -> bool:
        return self._last is not None

    def tick(self, now: float, measured: np.ndarray | None, arm_targets: list[Target],
             base: Target | None) -> Command | None:
        """The command for this tick, or None while the follower's state is still unknown.

        Args:
            now: this tick's time (s).
            measured: the follower's measured unified state (valid dims), needed for the first
                command only; its base dims are ignored (the base starts at rest).
            arm_targets: the latest target of each arm that has one.
            base: the latest base twist (base dims), if any.
        """
        if self._last is None:
            if measured is None:
                return None
            start = np.asarray(measured, dtype=float).copy()
            start[self._base_idx] = 0.0
            if first_non_finite(start[None]) is not None:
                return None
            self._last, self._last_time = start, now
        target = self._last.copy()
        target[self._base_idx] = 0.0
        fresh = False
        for t in arm_targets:
            if now - t.stamp <= self.arm_timeout and np.all(np.isfinite(t.values)):
                target[t.indices] = t.values
                fresh = True
        if base is not None and self._base_idx and now - base.stamp <= self.base_timeout \
                and np.all(np.isfinite(base.values)):
            target[base.indices] = base.values
            fresh = True
        # A late tick may move further, an early one less: rate-limit over the real elapsed time.
        dt = min(max(now - self._last_time, 0.0), 2.0 * self.embodiment.dt)
        row = limit_trajectory(target[None], self._last, self.limits, dt)[0]
        self._last, self._last_time = row, now
        return Command(MODE_ACTIVE if fresh else MODE_HOLD, now, self.embodiment.dt, row[None].copy())
