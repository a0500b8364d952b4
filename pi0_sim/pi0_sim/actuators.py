"""What moves in the simulator: an arm's joint group (set-points and trajectories tracked within
velocity limits) and a mobile base (velocity commands within acceleration limits, with a watchdog).

Kinematic models, not dynamics: what they must get right is what a policy or the chunk executor can
observe on a real robot — the commanded ("desired") state and a measured state that lags it
because joints and wheels have finite speed and acceleration.
"""

from __future__ import annotations

import math

import numpy as np


class Trajectory:
    """A positions-only trajectory, sampled as ros2_control's JointTrajectoryController does.

    The segment before the first point starts at the commanded state at reception (JTC with
    ``interpolate_from_desired_state``); points are joined linearly; after the last point it holds.
    A first point at time 0 makes a step to that point.
    """

    def __init__(self, joints: np.ndarray, start_time: float, start_positions: np.ndarray,
                 times: np.ndarray, points: np.ndarray):
        self.joints = joints                           # (m,) indices into the joint group
        self.start_time = start_time
        # Knots: the start state at start_time, then each point at start_time + time_from_start.
        # A zero first time gives two knots at one instant; sample() then returns the later one (the step).
        self.knot_times = np.concatenate([[start_time], start_time + times])
        self.knot_positions = np.vstack([start_positions, points])    # (k + 1, m)

    @property
    def end_time(self) -> float:
        return float(self.knot_times[-1])

    def sample(self, t: float) -> np.ndarray:
        """Desired positions (m,) at time t."""
        kt, kp = self.knot_times, self.knot_positions
        if t >= kt[-1]:
            return kp[-1].copy()
        if t <= kt[0]:
            return kp[0].copy()
        i = int(np.searchsorted(kt, t, side='right'))  # kt[i-1] <= t < kt[i]
        span = kt[i] - kt[i - 1]
        s = 0.0 if span <= 0.0 else (t - kt[i - 1]) / span
        return kp[i - 1] + s * (kp[i] - kp[i - 1])

    def without(self, joints: np.ndarray) -> Trajectory | None:
        """This trajectory minus some joints (taken over by another controller), or None if empty."""
        keep = ~np.isin(self.joints, joints)
        if not keep.any():
            return None
        kp = self.knot_positions[:, keep]
        return Trajectory(self.joints[keep], self.start_time, kp[0], self.knot_times[1:] - self.start_time, kp[1:])


class JointGroup:
    """One arm's joints (and gripper) in a common unit per joint.

    ``desired`` is what the controller commands (a streamed set-point, or the active trajectory
    sampled at the current time); ``position`` is the measured joint, which moves towards the desired
    value clamped to the joint limits, never faster than ``max_velocity``.

    ``time_scale`` is the controller's speed scaling (UR's scaled_joint_trajectory_controller: a
    trajectory's time runs at speed_scaling x real time, and the arm moves that much slower; 0 while
    the robot program is paused or in a protective stop: the trajectory and the arm stand still and
    continue where they were when it runs again).
    """

    def __init__(self, home: np.ndarray, lower: np.ndarray, upper: np.ndarray, max_velocity: np.ndarray):
        self.lower, self.upper, self.max_velocity = lower, upper, max_velocity
        self.home = home
        self.time_scale = 1.0
        self._wall: float | None = None        # wall time of the last advance ...
        self._clock = 0.0                      # ... and the trajectory clock then
        self.reset()

    def reset(self, start: np.ndarray | None = None) -> None:
        """At rest at ``start`` (clamped to the limits), or at home."""
        q = self.home if start is None else np.clip(np.asarray(start, dtype=float), self.lower, self.upper)
        self.position = q.copy()
        self.velocity = np.zeros_like(self.home)
        self.setpoint = q.copy()                # desired value of joints without a trajectory
        self.trajectory: Trajectory | None = None

    def _scaled(self, t: float) -> float:
        """The trajectory clock at wall time t (t itself while the speed scaling has always been 1)."""
        return t if self._wall is None else self._clock + self.time_scale * (t - self._wall)

    def desired(self, t: float) -> np.ndarray:
        """The commanded state at time t."""
        q = self.setpoint.copy()
        if self.trajectory is not None:
            q[self.trajectory.joints] = self.trajectory.sample(self._scaled(t))
        return q

    def command_setpoints(self, joints: np.ndarray, values: np.ndarray, now: float) -> None:
        """Streaming set-points; those joints leave the trajectory that was driving them."""
        self._freeze_trajectory(now)
        self.setpoint[joints] = values
        if self.trajectory is not None:
            self.trajectory = self.trajectory.without(joints)

    def command_trajectory(self, joints: np.ndarray, times: np.ndarray, points: np.ndarray, now: float) -> None:
        """Replace the active trajectory; joints it does not name hold their commanded state."""
        start = self.desired(now)
        self._freeze_trajectory(now)
        self.trajectory = Trajectory(joints, self._scaled(now), start[joints], times, points)

    def _freeze_trajectory(self, now: float) -> None:
        # What the old trajectory was commanding now becomes the hold set-point of its joints.
        if self.trajectory is not None:
            self.setpoint[self.trajectory.joints] = self.trajectory.sample(self._scaled(now))

    def advance(self, t: float, dt: float) -> None:
        """Track the desired state at time t over the last dt seconds."""
        target = np.clip(self.desired(t), self.lower, self.upper)
        limit = self.max_velocity * dt * min(1.0, self.time_scale)
        step = np.clip(target - self.position, -limit, limit)
        self.position = self.position + step
        self.velocity = step / dt
        self._clock, self._wall = self._scaled(t), t
        if self.trajectory is not None and self._clock >= self.trajectory.end_time:
            self._freeze_trajectory(t)          # done: hold the last point as a plain set-point
            self.trajectory = None


class BaseDrive:
    """A planar base driven by body-frame velocity commands (vx, vy, wz).

    The commanded twist is clamped to the velocity limits and reached no faster than the
    acceleration limits; a base that hears no command for ``command_timeout`` seconds decelerates to
    a stop, as Trossen SLATE and ros2_control drive controllers do. The pose is integrated exactly
    for a constant twist over each substep (an arc), so circles close.
    """

    AXES = ('vx', 'vy', 'wz')

    def __init__(self, axes: tuple[str, ...], max_velocity: tuple[float, ...],
                 max_acceleration: tuple[float, ...], command_timeout: float):
        self.axes = axes
        self.vmax = np.zeros(3)
        self.amax = np.zeros(3)
        for axis, v, a in zip(axes, max_velocity, max_acceleration, strict=True):
            self.vmax[self.AXES.index(axis)] = v
            self.amax[self.AXES.index(axis)] = a
        self.command_timeout = command_timeout
        self.reset()

    def reset(self) -> None:
        self.x = self.y = self.yaw = 0.0
        self.velocity = np.zeros(3)             # body frame vx, vy, wz
        self.target = np.zeros(3)
        self.last_command = -math.inf

    def command(self, twist: np.ndarray, now: float) -> None:
        self.target = np.clip(twist, -self.vmax, self.vmax)
        self.last_command = now

    def advance(self, t: float, dt: float) -> None:
        target = self.target if t - self.last_command <= self.command_timeout else np.zeros(3)
        step = np.clip(target - self.velocity, -self.amax * dt, self.amax * dt)
        v = self.velocity + step / 2            # mean velocity over the substep
        self.velocity = self.velocity + step
        vx, vy, wz = v.tolist()
        th = wz * dt
        if abs(th) < 1e-9:
            dx, dy = vx * dt, vy * dt
        else:                                   # exact displacement of a constant twist
            dx = (vx * math.sin(th) + vy * (math.cos(th) - 1.0)) / wz
            dy = (vx * (1.0 - math.cos(th)) + vy * math.sin(th)) / wz
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        self.x += c * dx - s * dy
        self.y += s * dx + c * dy
        self.yaw = math.atan2(math.sin(self.yaw + th), math.cos(self.yaw + th))
