"""SimWorld: the simulated robot, a stand-in for the hardware behind every embodiment.

It takes the commands the real controllers take, in hardware units (joint radians, gripper command
units, base m/s and rad/s), advances on an explicit clock, and reports what the real drivers
report: joint states by topic with the driver's joint names (gripper in its state units),
odometry, and RGB camera images of a table-top task scene. Pure Python (numpy + Pillow): no rclpy.

Deterministic: the same seed and the same calls (with the same times) give the same states and
images. Every command is validated; a NaN never reaches the integrators.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pi0_common.embodiment import Embodiment
from pi0_common.embodiment_parts import ArmSpec
from pi0_sim import render
from pi0_sim.actuators import BaseDrive, JointGroup
from pi0_sim.joint_names import arm_aliases, resolve_joints, strip_topic
from pi0_sim.kinematics import planar_pose, solve_ik, transform_points
from pi0_sim.scene import Scene
from pi0_sim.spec import ArmSim, parse_sim
from pi0_sim.views import ArmView, draw_world

MAX_SUBSTEP = 0.005         # s; step() integrates in substeps no longer than this ...
MAX_SUBSTEPS = 1000         # ... but in no more than this many (a long pause is integrated coarser)
BASE_COMMAND_TIMEOUT = 0.3  # s without a base command before the base stops (Trossen SLATE)


@dataclass
class _Arm:
    spec: ArmSpec
    sim: ArmSim
    group: JointGroup        # joints (rad) then, if any, the gripper in unified units [0, 1]
    index: dict[str, int]    # accepted command name -> index in the group
    aliases: frozenset[str]  # topics (and the arm name) that address this arm

    @property
    def dof(self) -> int:
        return len(self.spec.joints)


class SimWorld:
    """The simulated robot and its task scene.

    Args:
        embodiment: the robot; its ``sim:`` block is validated here (SimConfigError names the field).
        seed: seeds the block layout (and start pose); ``reset(seed=...)`` reseeds.
        start_time: the clock (s) at construction.
        start_spread: each reset starts the arm joints up to this far (rad, uniform) from home; 0: at home.
        base_command_timeout: seconds without a base command after which the base decelerates to 0.

    Attributes:
        time: the simulation clock (s), the ``now`` of the last step.
        scene: the table and blocks (``scene.blocks``: colour -> world position of the block centre).
    """

    def __init__(self, embodiment: Embodiment, seed: int = 0, start_time: float = 0.0,
                 base_command_timeout: float = BASE_COMMAND_TIMEOUT, start_spread: float = 0.0):
        if not 0.0 <= start_spread <= 1.0:
            raise ValueError(f'start_spread must be in [0, 1] rad, got {start_spread}')
        self.embodiment = embodiment
        self.start_spread = float(start_spread)
        self.spec = parse_sim(embodiment)
        self._arms = {a.name: self._build_arm(a) for a in embodiment.arms}
        self._base = None
        if embodiment.base is not None:
            b = embodiment.base
            self._base = BaseDrive(b.axes, b.max_velocity, b.max_acceleration, base_command_timeout)
        self.scene = Scene(self.spec.table, self.spec.blocks, self.ee_position)
        self._rng = np.random.default_rng(seed)
        self.time = _finite_time(start_time, 'start_time')
        self.reset()

    def _build_arm(self, arm: ArmSpec) -> _Arm:
        joints = arm.joints
        home = [j.home for j in joints]
        lower, upper = [j.lower for j in joints], [j.upper for j in joints]
        vmax = [j.max_velocity for j in joints]
        index = {j.name: i for i, j in enumerate(joints)}
        if arm.gripper is not None:
            g = arm.gripper
            home, lower, upper, vmax = home + [g.home], lower + [0.0], upper + [1.0], vmax + [g.max_rate]
            index[g.joint] = len(joints)
            # Interbotix addresses the gripper by its motor name ("gripper"), not the finger joint.
            index.setdefault(str(arm.interface.get('gripper_name', g.joint)), len(joints))
        group = JointGroup(*(np.array(v, dtype=float) for v in (home, lower, upper, vmax)))
        return _Arm(arm, self.spec.arms[arm.name], group, index, arm_aliases(arm))

    # ------------------------------------------------------------------ lifecycle
    def reset(self, seed: int | None = None, now: float | None = None) -> None:
        """Joints to home (or spread around it, see start_spread), base to the origin at rest, commands cleared, a
        new block layout.

        Args:
            seed: reseed the layout generator; None continues its sequence (a new layout).
            now: set the clock (s); None keeps it.
        """
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        if now is not None:
            self.time = _finite_time(now, 'now')
        self.scene.sample_layout(self._rng)
        for arm in self._arms.values():
            arm.group.reset(self._start_pose(arm))
        if self._base is not None:
            self._base.reset()
        self._frames = None

    def _start_pose(self, arm: _Arm) -> np.ndarray | None:
        # Demonstrations that all start at home let a policy read its goal off the arm's pose (the first
        # centimetres of a reach already tell which block it is going to) instead of off the instruction.
        spread = self.start_spread
        if spread == 0.0:
            return None
        q = arm.group.home.copy()
        n = arm.dof                             # the arm joints; the gripper starts at home
        q[:n] += self._rng.uniform(-spread, spread, n)
        return q

    def step(self, now: float) -> None:
        """Advance the world to time ``now`` (s), in substeps of at most 5 ms (at most 1000 of
        them: a gap of more than 5 s is integrated in longer substeps rather than stalling).

        Raises:
            ValueError: ``now`` is not finite or earlier than ``time`` (the clock is monotonic;
                call ``reset(now=...)`` after a clock jump).
        """
        now = _finite_time(now, 'now')
        if now < self.time:
            raise ValueError(f'time went backwards: step({now}) after {self.time}; reset(now=...) first')
        span = now - self.time
        if span == 0.0:
            return
        n = min(MAX_SUBSTEPS, max(1, math.ceil(span / MAX_SUBSTEP - 1e-9)))
        dt = span / n
        for k in range(1, n + 1):
            t = self.time + k * dt if k < n else now
            for arm in self._arms.values():
                arm.group.advance(t, dt)
            if self._base is not None:
                self._base.advance(t, dt)
        self.time = now
        self._frames = None

    # ------------------------------------------------------------------ commands
    def command_positions(self, names: Sequence[str], positions: Sequence[float], now: float,
                          topic: str | None = None) -> None:
        """Streaming set-points (forward position controller, Interbotix joint_group/joint_single,
        ARX cmd): each joint moves towards its set-point within its velocity limit.

        Args:
            names: joint names as the real driver takes them (the gripper by its joint name or,
                for Interbotix, its motor name).
            positions: radians; grippers in their command units (GripperSpec.command_open/closed).
            now: reception time (s).
            topic: the command or joint-state topic the command belongs to; needed when two arms
                share joint names (ALOHA).

        Raises:
            ValueError: unknown or duplicate names, wrong lengths, non-finite values.
        """
        now = _finite_time(now, 'now')
        targets = self._resolve(names, topic)
        values = _finite_array(positions, 'positions')
        if values.shape != (len(targets),):
            raise ValueError(f'{len(targets)} names but {values.size} positions')
        for arm, idx, vals in self._per_arm(targets, values[None]):
            arm.group.command_setpoints(idx, vals[0], now)

    def command_trajectory(self, names: Sequence[str], times_from_start: Sequence[float],
                           positions: Sequence[Sequence[float]], now: float, topic: str | None = None) -> None:
        """A JointTrajectoryController goal: replaces the previous trajectory of each arm it names;
        starts at ``now`` from the commanded state, reaches point k at ``now + times_from_start[k]``
        (linear in between) and holds the last point. Joints of an arm it does not name hold.

        Raises:
            ValueError: unknown names, wrong lengths, times not strictly increasing (the first may
                be 0, which makes a step), negative or non-finite times or positions.
        """
        now = _finite_time(now, 'now')
        targets = self._resolve(names, topic)
        times = _finite_array(times_from_start, 'times_from_start')
        if times.ndim != 1 or times.size == 0:
            raise ValueError('a trajectory needs at least one point')
        if times[0] < 0.0 or np.any(np.diff(times) <= 0.0):
            raise ValueError(f'times_from_start must be >= 0 and strictly increasing, got {times.tolist()}')
        try:
            points = np.array(positions, dtype=float)
        except (TypeError, ValueError):
            raise ValueError('positions must be one list of numbers per point, each as long as names') from None
        if points.shape != (times.size, len(targets)):
            raise ValueError(f'positions must be {times.size} points x {len(targets)} joints, '
                             f'got shape {points.shape}')
        _finite_array(points, 'positions')
        for arm, idx, pts in self._per_arm(targets, points):
            arm.group.command_trajectory(idx, times, pts, now)

    def command_base_velocity(self, axes: Mapping[str, float], now: float) -> None:
        """Body-frame twist {"vx", "vy", "wz"} (m/s, rad/s); missing axes are 0. Clamped to the
        base's velocity limits, reached within its acceleration limits; the base stops by itself
        ``base_command_timeout`` seconds after the last command.

        Raises:
            ValueError: no base, unknown axes, non-finite values, or a non-zero value on an axis
                this base does not have (vy on a differential drive).
        """
        if self._base is None:
            raise ValueError(f'{self.embodiment.name} has no mobile base')
        now = _finite_time(now, 'now')
        twist = np.zeros(3)
        for axis, value in axes.items():
            if axis not in BaseDrive.AXES:
                raise ValueError(f'unknown base axis {axis!r}, expected some of {BaseDrive.AXES}')
            value = _finite_array(value, f'base {axis}')
            if value.shape != ():
                raise ValueError(f'base {axis} must be one number')
            if axis not in self._base.axes and value != 0.0:
                raise ValueError(f'{self.embodiment.name} base has no {axis} axis (axes {self._base.axes})')
            twist[BaseDrive.AXES.index(axis)] = float(value)
        self._base.command(twist, now)

    def _resolve(self, names: Sequence[str], topic: str | None) -> list[tuple[_Arm, int]]:
        return resolve_joints(self._arms.values(), names, topic, self.embodiment.name)

    def _per_arm(self, targets: list[tuple[_Arm, int]], values: np.ndarray):
        """Split command columns by arm; converts gripper columns from command to unified units."""
        values = values.copy()
        for col, (arm, i) in enumerate(targets):
            if i == arm.dof:
                g = arm.spec.gripper
                values[:, col] = [g.command_to_unified(v) for v in values[:, col]]
        for arm in {id(a): a for a, _ in targets}.values():
            cols = [c for c, (a, _) in enumerate(targets) if a is arm]
            idx = np.array([targets[c][1] for c in cols])
            if len(set(idx.tolist())) != len(idx):
                raise ValueError(f'arm {arm.spec.name}: the gripper is named twice')
            yield arm, idx, values[:, cols]

    def set_speed_scaling(self, factor: float) -> None:
        """UR speed scaling (0..1) of every arm whose controller reports one (speed_scaling_topic): its
        trajectories run at that fraction of real time, and stand still at 0."""
        if not 0.0 <= factor <= 1.0:
            raise ValueError(f'speed scaling must be in [0, 1], got {factor}')
        for arm in self._arms.values():
            if arm.spec.speed_scaling_topic:
                arm.group.time_scale = float(factor)

    # ------------------------------------------------------------------ state
    def joint_state(self, topic: str) -> tuple[list[str], list[float], list[float]]:
        """What the driver publishes on a joint-state topic: names, positions, velocities.

        Joints in radians (rad/s); the gripper joint in its state units (GripperSpec.state_open /
        state_closed, e.g. Robotiq knuckle radians, ALOHA finger metres).
        """
        arms = [a for a in self._arms.values() if strip_topic(a.spec.joint_state_topic) == strip_topic(topic)]
        if not arms:
            raise ValueError(f'unknown joint state topic {topic!r} '
                             f'(known: {", ".join(self.embodiment.joint_state_topics)})')
        names, pos, vel = [], [], []
        for arm in arms:
            g = arm.spec.gripper
            names += [j.name for j in arm.spec.joints]
            pos += arm.group.position[:arm.dof].tolist()
            vel += arm.group.velocity[:arm.dof].tolist()
            if g is not None:
                names.append(g.joint)
                pos.append(g.unified_to_state(float(arm.group.position[-1])))
                vel.append(float(arm.group.velocity[-1]) * (g.state_closed - g.state_open))
        return names, pos, vel

    def arm_positions(self, arm_name: str) -> np.ndarray:
        """Measured joint positions (rad) of one arm, without its gripper."""
        arm = self._arm(arm_name)
        return arm.group.position[:arm.dof].copy()

    def gripper_closure(self, arm_name: str) -> float:
        """Measured gripper in unified units [0, 1] (0 = open)."""
        arm = self._arm(arm_name)
        if arm.spec.gripper is None:
            raise ValueError(f'arm {arm_name!r} has no gripper')
        return float(arm.group.position[-1])

    def odometry(self) -> dict[str, float]:
        """Base pose in the world (odom) frame and its body-frame twist: x, y, yaw, vx, vy, wz."""
        if self._base is None:
            raise ValueError(f'{self.embodiment.name} has no mobile base')
        b = self._base
        vx, vy, wz = b.velocity.tolist()
        return {'x': float(b.x), 'y': float(b.y), 'yaw': float(b.yaw), 'vx': vx, 'vy': vy, 'wz': wz}

    def base_pose(self) -> np.ndarray:
        """4x4 pose of the robot frame in the world (identity for fixed robots)."""
        if self._base is None:
            return np.eye(4)
        return planar_pose(self._base.x, self._base.y, self._base.yaw)

    def _arm_frames(self) -> dict[str, np.ndarray]:
        if self._frames is None:
            base = self.base_pose()
            self._frames = {name: base @ arm.sim.chain.frames(arm.group.position[:arm.dof])
                            for name, arm in self._arms.items()}
        return self._frames

    def tool_pose(self, arm_name: str) -> np.ndarray:
        """4x4 world pose of an arm's tool tip (z approach, y finger opening)."""
        self._arm(arm_name)
        return self._arm_frames()[arm_name][-1].copy()

    def ee_position(self, arm_name: str) -> np.ndarray:
        """World position (3,) of an arm's tool tip (between the finger tips)."""
        return self.tool_pose(arm_name)[:3, 3]

    def solve_ik(self, arm_name: str, target_xyz, point_down: bool = True, **kwargs) -> np.ndarray:
        """Joint positions (rad) that put an arm's tool tip at a world position, seeded from the
        current measured joints (see kinematics.solve_ik for the keyword arguments)."""
        arm = self._arm(arm_name)
        target = transform_points(np.linalg.inv(self.base_pose()), np.asarray(target_xyz, dtype=float))
        return solve_ik(arm.sim.chain, target, self.arm_positions(arm_name), point_down=point_down, **kwargs)

    def _arm(self, arm_name: str) -> _Arm:
        if arm_name not in self._arms:
            raise ValueError(f'unknown arm {arm_name!r} (arms: {", ".join(self._arms)})')
        return self._arms[arm_name]

    # ------------------------------------------------------------------ cameras
    def render(self, slot: str) -> np.ndarray:
        """RGB image (H, W, 3) uint8 of a camera slot, sized by the embodiment's CameraSpec."""
        cams = {c.slot: c for c in self.embodiment.cameras}
        if slot not in cams:
            raise ValueError(f'{self.embodiment.name} has no camera {slot!r} (cameras: {", ".join(cams)})')
        frames = self._arm_frames()
        carrier = None
        if slot == 'base':
            cam = self.spec.base_camera
            pose = self.base_pose() @ cam.mount
        else:
            carrier = next(a for a in self._arms.values() if a.spec.camera == slot)
            cam = carrier.sim.wrist_camera
            pose = frames[carrier.spec.name][-1] @ cam.mount
            carrier = carrier.spec.name
        canvas = render.Canvas(cams[slot].width, cams[slot].height, cam.fov_deg, pose)
        views = [ArmView(name, arm.sim, frames[name],
                         float(arm.group.position[-1]) if arm.spec.gripper is not None else 0.0)
                 for name, arm in self._arms.items()]
        draw_world(canvas, self.spec, self.scene, self.base_pose(), views, carrier)
        return canvas.image()


def _finite_time(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f'{what} must be a number of seconds, got {value!r}')
    if not math.isfinite(value):
        raise ValueError(f'{what} must be finite, got {value}')
    return float(value)


def _finite_array(values, what: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f'{what} must be numbers, got {values!r}') from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f'{what} must be finite, got {arr.tolist()}')
    return arr
