"""Scripted expert for the simulated block scene: "reach the red block" / "reach the blue block".

It is the simulator's own expert, so it is privileged: it plans from where the simulator says the
blocks are (sim/task_state), the arm's measured joints and the arm's kinematics (the simulator's
own model of it). What it produces is ordinary teleop output, one unified command per tick, which
travels pi0/command -> driver -> the robot's interface topics and is recorded like any human
demonstration.

Plan: a moment's hesitation at the current joints, a minimum-jerk joint-space move to a pose above
the named block (tool pointing down), a short pause, then a second minimum-jerk move down to just
above the block's top face. Each episode draws a style (hesitation, speed, approach and reach
heights, a small horizontal offset, the pause), so that demonstrations are not copies of one another. The simulator
judges when the block is reached (SimTaskState.reached).

Pure Python and numpy: no rclpy import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from pi0_common.commands import MODE_ACTIVE, Command
from pi0_common.embodiment import Embodiment
from pi0_sim.kinematics import Chain, solve_ik, transform_points
from pi0_sim.spec import parse_sim

MIN_MOVE_TIME = 0.4         # s, even a tiny move takes this long (no twitching)
IK_TOLERANCE = 0.005        # m, a plan whose IK misses its waypoint by more is refused
MIN_JERK_PEAK = 1.875       # peak velocity of a minimum-jerk move = 1.875 * distance / duration


class PlanningError(RuntimeError):
    """No plan: the instruction names no block, or a waypoint is out of reach."""


def target_color(instruction: str, colors: tuple[str, ...]) -> str:
    """The one block colour an instruction names (as a word).

    Raises:
        PlanningError: it names none, or more than one.
    """
    named = [c for c in colors if re.search(rf'\b{re.escape(c)}\b', instruction.lower())]
    if len(named) != 1:
        raise PlanningError(f'instruction {instruction!r} must name exactly one of the blocks {", ".join(colors)}')
    return named[0]


@dataclass(frozen=True)
class ExpertStyle:
    """How one demonstration moves."""

    speed: float                    # fraction of each joint's velocity limit at the peak of a move
    approach_height: float          # m above the block top for the pose before the descent
    reach_height: float             # m above the block top where the tool stops
    offset: tuple[float, float]     # m, horizontal offset of the tool from the block centre
    pause: float                    # s, still above the block before descending
    hesitation: float = 0.0         # s, still at the start before moving (an operator reads the task)

    @classmethod
    def sample(cls, rng: np.random.Generator) -> ExpertStyle:
        radius, angle = rng.uniform(0.0, 0.012), rng.uniform(0.0, 2 * np.pi)
        return cls(speed=float(rng.uniform(0.15, 0.35)), approach_height=float(rng.uniform(0.06, 0.14)),
                   reach_height=float(rng.uniform(0.008, 0.02)),
                   offset=(float(radius * np.cos(angle)), float(radius * np.sin(angle))),
                   pause=float(rng.uniform(0.0, 0.3)), hesitation=float(rng.uniform(0.2, 0.6)))


def min_jerk(u: float) -> float:
    """Minimum-jerk progress s(u) for u in [0, 1]: zero velocity and acceleration at both ends."""
    u = min(1.0, max(0.0, u))
    return u ** 3 * (10.0 - 15.0 * u + 6.0 * u * u)


@dataclass(frozen=True)
class JointPath:
    """Rest-to-rest minimum-jerk moves through knots: knot k is reached at times[k] (times[0] = 0)."""

    times: np.ndarray       # (k,)
    points: np.ndarray      # (k, n)

    @property
    def duration(self) -> float:
        return float(self.times[-1])

    def sample(self, t: float) -> np.ndarray:
        """Joint positions at time t after the start (held at the ends)."""
        if t <= 0.0:
            return self.points[0].copy()
        if t >= self.duration:
            return self.points[-1].copy()
        i = int(np.searchsorted(self.times, t, side='right'))      # times[i-1] <= t < times[i]
        span = self.times[i] - self.times[i - 1]
        s = min_jerk((t - self.times[i - 1]) / span) if span > 0 else 1.0
        return self.points[i - 1] + s * (self.points[i] - self.points[i - 1])


def move_time(start: np.ndarray, goal: np.ndarray, max_velocity: np.ndarray, speed: float) -> float:
    """Duration of a minimum-jerk move whose peak joint speed is ``speed`` x the velocity limit."""
    return max(MIN_MOVE_TIME, float(np.max(MIN_JERK_PEAK * np.abs(goal - start) / (speed * max_velocity))))


@dataclass(frozen=True)
class SceneView:
    """What the expert plans from.

    Attributes:
        block_tops: colour -> world position (3,) of the centre of the block's top face.
        arm_positions: arm name -> measured joint positions (rad).
        grippers: arm name -> measured gripper in unified units [0, 1] (arms with a gripper).
        base_pose: 4x4 world pose of the robot frame (identity for fixed robots).
    """

    block_tops: dict[str, np.ndarray]
    arm_positions: dict[str, np.ndarray]
    grippers: dict[str, float]
    base_pose: np.ndarray

    @property
    def colors(self) -> tuple[str, ...]:
        return tuple(self.block_tops)


def scene_from_world(world) -> SceneView:
    """The view of a SimWorld in this process (tests and benchmarks without a ROS graph)."""
    arms = [a.name for a in world.embodiment.arms]
    return SceneView({c: world.scene.block_top(c) for c in world.scene.blocks},
                     {a: world.arm_positions(a) for a in arms},
                     {a.name: world.gripper_closure(a.name) for a in world.embodiment.arms if a.gripper is not None},
                     world.base_pose())


def _ik(chain: Chain, base_pose: np.ndarray, arm: str, target_world: np.ndarray, seed: np.ndarray) -> np.ndarray:
    target = transform_points(np.linalg.inv(base_pose), np.asarray(target_world, dtype=float))
    q = solve_ik(chain, target, seed, point_down=True)
    miss = float(np.linalg.norm(chain.tool_position(q) - target))
    if miss > IK_TOLERANCE:
        raise PlanningError(f'{arm}: cannot reach {np.round(target_world, 3).tolist()} ({miss * 1000:.0f} mm off)')
    return q


def plan_reach(chain: Chain, scene: SceneView, arm: str, color: str, style: ExpertStyle,
               max_velocity: np.ndarray) -> JointPath:
    """Joint path from the arm's current joints to just above a block (see the module docstring).

    Raises:
        PlanningError: a waypoint is out of reach.
    """
    top = scene.block_tops[color]
    offset = np.array([style.offset[0], style.offset[1], 0.0])
    q0 = np.asarray(scene.arm_positions[arm], dtype=float)
    q_above = _ik(chain, scene.base_pose, arm, top + offset + [0.0, 0.0, style.approach_height], q0)
    q_reach = _ik(chain, scene.base_pose, arm, top + offset + [0.0, 0.0, style.reach_height], q_above)
    # The hesitation at the start matters for learning: the frames where the arm still rests at home
    # are the ones where only the instruction and the image say which block to go to.
    t0 = style.hesitation
    t1 = t0 + move_time(q0, q_above, max_velocity, style.speed)
    t2 = t1 + style.pause
    t3 = t2 + move_time(q_above, q_reach, max_velocity, style.speed)
    return JointPath(np.array([0.0, t0, t1, t2, t3]), np.vstack([q0, q0, q_above, q_above, q_reach]))


def _arm_index(emb: Embodiment, arm: str) -> int:
    names = [a.name for a in emb.arms]
    if arm not in names:
        raise PlanningError(f'{emb.name} has no arm {arm!r} (arms: {", ".join(names)})')
    return names.index(arm)


class ScriptedExpert:
    """Turns a plan into per-tick commands with a look-ahead, as the chunk executor would.

    Args:
        embodiment: the simulated robot.
        arm: the arm that reaches (default: the first).
        lookahead: rows per command (trajectory drivers send them as one smooth segment).
        seed: seeds the per-episode styles.
    """

    def __init__(self, embodiment: Embodiment, arm: str | None = None, lookahead: int = 10, seed: int | None = None):
        self.embodiment = embodiment
        self.arm = arm or embodiment.arms[0].name
        index = _arm_index(embodiment, self.arm)
        self._arm_slice = embodiment.arm_slices()[index]
        self.chain = parse_sim(embodiment).arms[self.arm].chain
        self.max_velocity = np.array([j.max_velocity for j in embodiment.arms[index].joints])
        self.lookahead = max(1, int(lookahead))
        self.rng = np.random.default_rng(seed)
        self.path: JointPath | None = None
        self.color: str | None = None
        self.style: ExpertStyle | None = None
        self._rest: np.ndarray | None = None
        self._t0 = 0.0

    def begin(self, scene: SceneView, instruction: str, now: float) -> ExpertStyle:
        """Plan an episode from the scene as it is now; commands start at ``now``.

        Raises:
            PlanningError: the instruction names no single block, or the block is out of reach.
        """
        color = target_color(instruction, scene.colors)
        style = ExpertStyle.sample(self.rng)
        self.path = plan_reach(self.chain, scene, self.arm, color, style, self.max_velocity)
        self.color, self.style, self._t0 = color, style, now
        # Every other dim (other arms, the base) holds where it is; this arm's gripper stays open.
        rest = np.zeros(self.embodiment.valid_dims)
        for arm, joint_idx, grip_idx in self.embodiment.arm_slices():
            rest[joint_idx] = scene.arm_positions[arm.name]
            if grip_idx is not None:
                rest[grip_idx] = scene.grippers[arm.name]
        _, _, grip_idx = self._arm_slice
        if grip_idx is not None:
            rest[grip_idx] = 0.0
        self._rest = rest
        return style

    def command(self, now: float) -> Command:
        """This tick's command: row i is the plan at stamp + (i + 1) dt, where the controller
        reaches it (pi0_msgs/ExecutorCommand timing)."""
        if self.path is None:
            raise RuntimeError('begin() an episode first')
        dt = self.embodiment.dt
        _, joint_idx, _ = self._arm_slice
        rows = np.tile(self._rest, (self.lookahead, 1))
        for i in range(self.lookahead):
            rows[i, joint_idx] = self.path.sample(now - self._t0 + (i + 1) * dt)
        return Command(MODE_ACTIVE, now, dt, rows)
