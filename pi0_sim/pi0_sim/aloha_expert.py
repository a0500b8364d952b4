"""Scripted expert for gym-aloha's transfer_cube on the MuJoCo twin (AlohaPhysicsWorld).

Privileged, like the block scene's expert (expert.py): it plans from where the physics says the cube is
and from the measured joints, with the scene's own kinematics (aloha_kinematics: an inverse kinematics on the
MuJoCo model, on a private MjData, so the live simulation is never disturbed). What it produces is ordinary teleop
output: one unified Command per tick (rows of per arm 6 joints in rad, then the gripper closure 0 = open
.. 1 = closed), as the chunk executor or a teleop device would send on pi0/command.

The script (joint set-points; the arms sit at x = -/+0.469 m facing each other, the right one turned by pi):
    right   over the cube, gripper open, pointing down and tilted back towards its base; straight down
            around the cube; close; lift and carry the cube to the hand-over point in the middle
    left    meanwhile to a pose short of the hand-over point, pointing at it horizontally (+x), its
            fingers turned to close vertically (on the cube's top and bottom faces, clear of the right
            fingers on the cube's side faces); once the cube is there, lined up with where the cube is seen
            to be (``observe``: it sags in the right fingers as it is lifted, by up to ~3 cm) and straight in
    then    the left closes, the right opens and backs off along its fingers, the left withdraws with the cube
Long moves are minimum-jerk in joint space between inverse-kinematics waypoints; the short approaches
and retreats follow straight lines of the tool point (IK every tick), with minimum-jerk timing. Every
move keeps each joint under ``speed`` x its velocity limit. Each episode draws a style (timing, speed,
grasp and hand-over offsets, the right gripper's tilt) from the seed, so demonstrations differ.

``run_episode`` drives an AlohaPhysicsWorld closed loop without ROS, converting each tick's row 0 exactly
as the Interbotix driver does (joints in rad; GripperSpec.to_command for the gripper motor angle).

Pure Python (MuJoCo, numpy): no rclpy import. Importing this module sets MUJOCO_GL=egl unless it is set, as
aloha_physics does (through aloha_kinematics, which imports mujoco).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pi0_common.commands import MODE_ACTIVE, Command
from pi0_common.embodiment import Embodiment
from pi0_sim.aloha_kinematics import ArmKinematics, gripper_frame, slerp
from pi0_sim.expert import MIN_JERK_PEAK, MIN_MOVE_TIME, PlanningError, min_jerk, move_time

OPEN, CLOSED = 0.0, 1.0             # unified gripper closure
EPISODE_STEPS = 400                 # gym-aloha's transfer_cube episode: 8 s at 50 Hz


@dataclass(frozen=True)
class TransferStyle:
    """How one transfer_cube demonstration moves."""

    speed: float                    # fraction of the velocity limit at the peak of a joint-space move
    hesitation: float               # s still at the start
    tilt: float                     # rad, right gripper below horizontal while it holds the cube
    above: float                    # m over the grasp point where the descent starts
    grasp_offset: tuple[float, float, float]   # m, tool point relative to the cube centre at the grasp
    meet: tuple[float, float, float]           # hand-over point (m, world): where the cube is brought
    left_depth: float               # m, left tool point short of the cube centre (-x) when it closes
    standoff: float                 # m, left waits this far short of its closing pose
    pause: float                    # s, settle after each grip change

    @classmethod
    def sample(cls, rng: np.random.Generator) -> TransferStyle:
        return cls(speed=float(rng.uniform(0.5, 0.7)), hesitation=float(rng.uniform(0.1, 0.3)),
                   tilt=float(np.radians(rng.uniform(60.0, 75.0))), above=float(rng.uniform(0.06, 0.1)),
                   grasp_offset=(float(rng.uniform(-0.004, 0.004)), float(rng.uniform(-0.004, 0.004)),
                                 float(rng.uniform(0.008, 0.014))),
                   meet=(float(rng.uniform(-0.03, 0.03)), float(rng.uniform(0.47, 0.53)),
                         float(rng.uniform(0.22, 0.27))),
                   left_depth=float(rng.uniform(-0.004, 0.006)), standoff=float(rng.uniform(0.08, 0.11)),
                   pause=float(rng.uniform(0.1, 0.2)))


class _Track:
    """One arm's plan as dense samples at the control period: joints (n, 6), and the gripper closure as
    ramps that may run while the joints move."""

    def __init__(self, kin: ArmKinematics, q0: np.ndarray, grip0: float, dt: float, max_velocity: np.ndarray,
                 grip_rate: float):
        self.kin, self.dt, self.vmax, self.grip_rate = kin, dt, max_velocity, grip_rate
        self.q = [np.asarray(q0, dtype=float)]
        self.grip0 = float(grip0)
        self.ramps: list[tuple[int, int, float]] = []       # (first tick, ticks, closure), in time order

    @property
    def duration(self) -> float:
        return (len(self.q) - 1) * self.dt

    def _ticks(self, seconds: float) -> int:
        return max(1, int(np.ceil(seconds / self.dt - 1e-9)))

    def hold(self, seconds: float) -> None:
        self.q.extend(self.q[-1].copy() for _ in range(int(round(seconds / self.dt))))

    def hold_until(self, seconds: float) -> None:
        self.hold(max(0.0, seconds - self.duration))

    def move_joints(self, goal: np.ndarray, speed: float) -> None:
        """Minimum-jerk joint-space move, peak speed ``speed`` x the velocity limit."""
        start = self.q[-1]
        n = self._ticks(move_time(start, goal, self.vmax, speed))
        self.q.extend(start + min_jerk(k / n) * (goal - start) for k in range(1, n + 1))

    def move_line(self, position, rotation: np.ndarray, speed: float) -> np.ndarray:
        """Straight line of the tool point (rotation slerped), minimum-jerk timing, IK at every tick; as slow
        as needed to keep every joint under ``speed`` x its velocity limit. Returns the final joints."""
        start_q = self.q[-1]
        p0, rot0 = self.kin.forward(start_q)
        p1 = np.asarray(position, dtype=float)
        goal_q = self.kin.solve(p1, rotation, start_q)
        seconds = move_time(start_q, goal_q, self.vmax, speed)
        for _ in range(4):
            n = self._ticks(seconds)
            path, q = [], start_q
            for k in range(1, n + 1):
                s = min_jerk(k / n)
                q = self.kin.solve(p0 + s * (p1 - p0), slerp(rot0, rotation, s), q, iterations=50, restarts=0)
                path.append(q)
            steps = np.abs(np.diff(np.vstack([start_q] + path), axis=0)) / self.dt
            ratio = float(np.max(steps / (speed * self.vmax)))
            if ratio <= 1.0:
                break
            seconds = n * self.dt * ratio * 1.05
        else:
            raise PlanningError(f'{self.kin.arm}: no smooth straight line to {np.round(p1, 3).tolist()}')
        self.q.extend(path)
        return path[-1]

    def grip(self, closure: float, wait: bool = True) -> None:
        """Ramp the gripper to ``closure`` (minimum jerk, peak rate ``grip_rate``), starting now; ``wait``:
        the joints hold until it is done, else they go on with the next move."""
        start = self.ramps[-1][2] if self.ramps else self.grip0
        n = self._ticks(max(MIN_MOVE_TIME / 2, MIN_JERK_PEAK * abs(closure - start) / self.grip_rate))
        self.ramps.append((len(self.q) - 1, n, float(closure)))
        if wait:
            self.hold(n * self.dt)

    def closures(self, n: int) -> np.ndarray:
        """The gripper closure at each of n ticks."""
        g = np.full(n, self.grip0)
        for first, ticks, closure in self.ramps:    # a ramp starts from wherever the one before has got to
            value = g[first]
            s = np.array([min_jerk(u) for u in (np.arange(first, n) - first) / ticks])
            g[first:] = value + s * (closure - value)
        return g


@dataclass
class TransferPlan:
    rows: np.ndarray            # (n, valid_dims) unified rows at the control period, row 0 = the start
    dt: float
    events: dict[str, float]    # s after the start: 'grasp', 'meet', 'handover', 'release', 'end'
    meet_tick: int              # row where the hand-over part starts (both arms still)
    replanned: bool = False     # the hand-over part follows the cube as observed at the meeting point

    def sample(self, t: float) -> np.ndarray:
        """The unified row at t s after the start (linear between samples, held at the ends)."""
        x = min(max(t / self.dt, 0.0), len(self.rows) - 1.0)
        i = min(int(np.floor(x)), len(self.rows) - 2)
        return self.rows[i] + (x - i) * (self.rows[i + 1] - self.rows[i])


class TransferCubeExpert:
    """Plans a transfer_cube demonstration and turns it into per-tick commands.

    The plan has two parts. ``begin`` plans the whole episode from the cube on the table: the pick and the
    carry to the hand-over point, then the hand-over for a cube exactly where it was carried to. Once the
    arms have met, ``observe`` re-plans the hand-over once from where the cube really is (it sags and
    turns in the right fingers as it is lifted), as a person would look before reaching for it.

    Args:
        embodiment: trossen_bimanual (arms ``left`` and ``right``, ViperX joints, grippers).
        model: the scene's MjModel (``world.physics.model.ptr``), for the kinematics.
        lookahead: rows per command.
        seed: seeds the per-episode styles.
    """

    def __init__(self, embodiment: Embodiment, model, lookahead: int = 10, seed: int | None = None):
        self.embodiment = embodiment
        self.lookahead = max(1, int(lookahead))
        self.rng = np.random.default_rng(seed)
        self.slices = {arm.name: (arm, joints, grip) for arm, joints, grip in embodiment.arm_slices()}
        if sorted(self.slices) != ['left', 'right'] or any(g is None for _, _, g in self.slices.values()):
            raise PlanningError(f'{embodiment.name}: transfer_cube needs two arms with grippers, left and right')
        self.kin = {}
        self.vmax = {}
        for name, (arm, _, _) in self.slices.items():
            self.kin[name] = ArmKinematics(model, name, [j.name for j in arm.joints],
                                           [j.lower for j in arm.joints], [j.upper for j in arm.joints],
                                           [j.home for j in arm.joints])
            self.vmax[name] = np.array([j.max_velocity for j in arm.joints])
        self.grip_rate = 0.9 * min(arm.gripper.max_rate for arm, _, _ in self.slices.values())
        self.plan: TransferPlan | None = None
        self.style: TransferStyle | None = None
        self._t0 = 0.0

    # ---------------------------------------------------------------- planning
    def begin(self, cube, arm_positions: dict[str, np.ndarray], grippers: dict[str, float], now: float,
              style: TransferStyle | None = None) -> TransferStyle:
        """Plan an episode from the cube centre (world, m) and the measured joints and grippers; commands
        start at ``now``.

        Raises:
            PlanningError: a waypoint is out of reach.
        """
        style = style or TransferStyle.sample(self.rng)
        dt = self.embodiment.dt
        cube = np.asarray(cube, dtype=float)
        tracks, events = self._plan_pick(cube, arm_positions, grippers, style)
        start = self._rows(tracks)
        rest, more = self._plan_handover(start[-1], np.array(style.meet), style)
        events.update({k: v + events['meet'] for k, v in more.items()})
        self.plan = TransferPlan(np.vstack([start, rest[1:]]), dt, events, len(start) - 1)
        self.style, self._t0 = style, float(now)
        return style

    def begin_from_world(self, world, now: float | None = None) -> TransferStyle:
        """begin() from an AlohaPhysicsWorld in this process (tests, benchmarks, data generation)."""
        return self.begin(world.object_positions()['box'], {a: world.arm_positions(a) for a in self.slices},
                          {a: world.gripper_closure(a) for a in self.slices}, world.time if now is None else now)

    def observe(self, cube, now: float) -> bool:
        """The cube centre (world, m) as it is now. Once the arms have met (and not before), the hand-over
        is re-planned from it, from this tick on; True when that happened."""
        plan = self.plan
        if plan is None or plan.replanned:
            return False
        k = int(np.ceil((now - self._t0) / plan.dt - 1e-9))
        if k < plan.meet_tick or k >= len(plan.rows) - 1:
            return False
        rest, more = self._plan_handover(plan.rows[k], np.asarray(cube, dtype=float), self.style)
        plan.rows = np.vstack([plan.rows[:k + 1], rest[1:]])
        plan.events.update({name: v + k * plan.dt for name, v in more.items()})
        plan.replanned = True
        return True

    def _track(self, name: str, q0, grip0: float) -> _Track:
        return _Track(self.kin[name], q0, grip0, self.embodiment.dt, self.vmax[name], self.grip_rate)

    def _rows(self, tracks: dict[str, _Track]) -> np.ndarray:
        end = max(t.duration for t in tracks.values())
        for t in tracks.values():
            t.hold_until(end)
        n = len(tracks['left'].q)
        rows = np.zeros((n, self.embodiment.valid_dims))
        for name, track in tracks.items():
            _, joints, grip = self.slices[name]
            rows[:, joints] = np.vstack(track.q)
            rows[:, grip] = track.closures(n)
        return rows

    def _split(self, row: np.ndarray, name: str) -> tuple[np.ndarray, float]:
        _, joints, grip = self.slices[name]
        return row[joints], float(row[grip])

    def _right_frame(self, style: TransferStyle) -> np.ndarray:
        """Right gripper: pointing down at the cube, tilted back towards its own base (+x), closing along y."""
        return gripper_frame([-np.cos(style.tilt), 0.0, -np.sin(style.tilt)], [0.0, -1.0, 0.0])

    # Left gripper: horizontal towards +x, fingers closing vertically (on the cube's top and bottom faces).
    LEFT_FRAME = gripper_frame([1.0, 0.0, 0.0], [0.0, 0.0, 1.0])

    def _plan_pick(self, cube: np.ndarray, arm_positions, grippers, style: TransferStyle):
        """Right: over the cube, down, close, carry it to the meeting point; left: to its waiting pose."""
        right = self._track('right', arm_positions['right'], grippers['right'])
        left = self._track('left', arm_positions['left'], grippers['left'])
        speed = style.speed
        pick_rot = self._right_frame(style)
        grasp = cube + np.array(style.grasp_offset)
        above = grasp + [0.0, 0.0, style.above]
        right.hold(style.hesitation)
        right.grip(OPEN, wait=False)
        right.move_joints(self.kin['right'].solve(above, pick_rot, right.q[-1]), speed)
        right.move_line(grasp, pick_rot, speed * 0.6)
        right.grip(CLOSED)
        right.hold(style.pause)
        t_grasp = right.duration
        meet = np.array(style.meet)
        right.move_joints(self.kin['right'].solve(meet + (grasp - cube), pick_rot, right.q[-1]), speed)
        right.hold(style.pause)         # the cube settles in the fingers

        wait = meet - [style.left_depth + style.standoff, 0.0, 0.0]
        left.hold(style.hesitation)
        left.grip(OPEN, wait=False)
        left.move_joints(self.kin['left'].solve(wait, self.LEFT_FRAME, left.q[-1]), speed)
        tracks = {'left': left, 'right': right}
        return tracks, {'grasp': t_grasp, 'meet': max(left.duration, right.duration)}

    def _plan_handover(self, row: np.ndarray, cube: np.ndarray, style: TransferStyle):
        """From ``row`` (both arms still, the right holding the cube at ``cube``): the left lines up with the
        cube, reaches in and closes; the right opens and backs off; the left withdraws with the cube."""
        right = self._track('right', *self._split(row, 'right'))
        left = self._track('left', *self._split(row, 'left'))
        speed = style.speed
        take = cube - [style.left_depth, 0.0, 0.0]
        left.move_line(take - [style.standoff, 0.0, 0.0], self.LEFT_FRAME, speed * 0.6)
        left.move_line(take, self.LEFT_FRAME, speed * 0.6)
        left.grip(CLOSED)
        left.hold(style.pause)
        t_handover = left.duration

        right.hold_until(t_handover)
        right.grip(OPEN)
        t_release = right.duration
        p_right, right_rot = self.kin['right'].forward(right.q[-1])
        right.move_line(p_right - right_rot[:, 0] * 0.08, right_rot, speed)     # back along its fingers

        left.hold_until(t_release)              # both back off at once
        left.move_line(take + [-0.08, 0.0, 0.02], self.LEFT_FRAME, speed * 0.6)
        rows = self._rows({'left': left, 'right': right})
        return rows, {'handover': t_handover, 'release': t_release, 'end': (len(rows) - 1) * self.embodiment.dt}

    # ---------------------------------------------------------------- commands
    def finished(self, now: float) -> bool:
        """The script has played to its end (the arms hold its last row from here on)."""
        return self.plan is not None and now - self._t0 >= self.plan.events['end'] - 1e-9

    def command(self, now: float) -> Command:
        """This tick's command: row i is the plan at now + (i + 1) dt (as expert.ScriptedExpert)."""
        if self.plan is None:
            raise RuntimeError('begin() an episode first')
        dt = self.embodiment.dt
        t = now - self._t0
        rows = np.vstack([self.plan.sample(t + (i + 1) * dt) for i in range(self.lookahead)])
        return Command(MODE_ACTIVE, now, dt, rows)


@dataclass(frozen=True)
class EpisodeResult:
    max_reward: float
    success: bool
    steps: int                  # ticks run
    success_step: int | None    # the tick that first reached the task's maximum reward
    rows: np.ndarray            # (steps, valid_dims): row 0 of every command sent


def gripper_command(arm, closure: float) -> float:
    """What the Interbotix driver sends for a unified closure: the gripper motor angle (rad)."""
    return arm.gripper.to_command(closure)


def run_episode(world, expert: TransferCubeExpert, max_steps: int = EPISODE_STEPS, stop_on_success: bool = True,
                to_gripper_command: Callable[[object, float], float] = gripper_command) -> EpisodeResult:
    """One closed-loop episode on an AlohaPhysicsWorld (already reset), without ROS.

    Every tick: the expert's command, its row 0 sent as the Interbotix driver sends it (the arm's joints in
    rad; the gripper through ``to_gripper_command``, the driver's GripperSpec.to_command), then 20 ms of
    physics. Stops after ``max_steps`` ticks, or at the first success when ``stop_on_success``.
    """
    dt = expert.embodiment.dt
    expert.begin_from_world(world)
    sent = []
    steps, success_step = 0, None
    for steps in range(1, max_steps + 1):      # noqa: B007 (steps is the result)
        now = world.time
        expert.observe(world.object_positions()['box'], now)
        row = expert.command(now).positions[0]
        sent.append(row)
        for arm, joints, grip in expert.embodiment.arm_slices():
            names = [j.name for j in arm.joints] + [str(arm.interface.get('gripper_name', 'gripper'))]
            values = list(row[joints]) + [to_gripper_command(arm, float(row[grip]))]
            world.command_positions(names, values, now, topic=arm.joint_state_topic)
        world.step(now + dt)
        if world.success and success_step is None:
            success_step = steps
            if stop_on_success:
                break
    return EpisodeResult(world.max_reward_so_far, world.success, steps, success_step, np.vstack(sent))
