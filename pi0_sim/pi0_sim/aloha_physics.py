"""AlohaPhysicsWorld: a MuJoCo physics twin of trossen_bimanual, on gym-aloha's scenes and task rules.

The same calls as SimWorld (the kinematic twin), so the simulator node and the Interbotix endpoint drive
either one; behind them, gym-aloha's bimanual ViperX scene (AlohaTransferCube-v0, AlohaInsertion-v0) in
dm_control's MuJoCo physics. The dm_control Environment is not used: its step renders three 640x480
cameras every control tick. The physics is driven directly (set-points as actuator ctrl, whole 2 ms
physics steps) and the task's own ``get_reward(physics)`` judges it (reward 0..4, 4 = success).

Units and conventions, per follower (joint states and commands as the real xs_sdk has them):
    arm joints   radians both ways; the scene's joints are ``vx300s_<arm>/<joint>`` with the same names
                 and zeros as the Interbotix driver's, so a set-point becomes the position actuator's
                 ctrl unchanged (xs_sdk in position mode applies a set-point at once; the actuator tracks).
    gripper in   the gripper motor angle (rad): GripperSpec.command_to_unified gives our closure c
                 (0 = open, 1 = closed); gym-aloha's normalised gripper is the other way round
                 (0 = closed, 1 = open), so n = 1 - c, and gym-aloha's unnormalize_puppet_gripper_position(n)
                 gives the finger slide position (m) that becomes the two finger actuators' ctrl (+, -),
                 as its before_step does. MuJoCo clamps it to the actuators' ctrlrange 0.021..0.057 m.
    gripper out  the scene's finger slide joint (``left_finger``, m) through gym-aloha's
                 normalize_puppet_gripper_position gives n, c = 1 - n (clipped to [0, 1]), and
                 GripperSpec.unified_to_state gives the finger position the real follower reports
                 (state_open .. state_closed, m). The sim finger spans 0.021..0.057 m, the real one
                 0.044..0.058 m: the two meet in the normalised closure, not in metres.

Pure Python (no rclpy). Importing this module sets MUJOCO_GL=egl unless it is set (headless rendering).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass

os.environ.setdefault('MUJOCO_GL', 'egl')    # before dm_control / mujoco are imported

import mujoco as mj  # noqa: E402
import numpy as np  # noqa: E402
from dm_control import mujoco  # noqa: E402
from gym_aloha.constants import (  # noqa: E402
    ASSETS_DIR,
    normalize_puppet_gripper_position,
    normalize_puppet_gripper_velocity,
    unnormalize_puppet_gripper_position,
)
from gym_aloha.tasks import sim as aloha_tasks  # noqa: E402
from gym_aloha.utils import sample_box_pose, sample_insertion_pose  # noqa: E402

from pi0_common.embodiment import Embodiment  # noqa: E402
from pi0_sim.joint_names import arm_aliases, resolve_joints, strip_topic
from pi0_sim.spec import SimConfigError  # noqa: E402

# task -> (scene file, gym-aloha task class, per-seed object poses, the objects' bodies, cube edge (m; 0: no cubes))
TASKS = {
    'transfer_cube': ('bimanual_viperx_transfer_cube.xml', aloha_tasks.TransferCubeTask,
                      sample_box_pose, ('box',), 0.04),
    'insertion': ('bimanual_viperx_insertion.xml', aloha_tasks.InsertionTask,
                  lambda seed: np.concatenate(sample_insertion_pose(seed)), ('peg', 'socket'), 0.0),
}
CAMERAS = {'base': 'top', 'left_wrist': 'left_wrist', 'right_wrist': 'right_wrist'}   # our slot -> scene camera


def scene_file(task: str) -> str:
    """gym-aloha's scene file of a task (TASKS)."""
    return str(ASSETS_DIR / TASKS[task][0])


def scene_model(task: str) -> mj.MjModel:
    """The MjModel of the scene AlohaPhysicsWorld simulates for a task, on its own (the experts' kinematics)."""
    return mj.MjModel.from_xml_path(scene_file(task))
MAX_STEPS = 5000        # physics steps one step() integrates at most (10 s); a longer gap is skipped over


@dataclass
class _Arm:
    name: str
    spec: object                # ArmSpec
    qpos: np.ndarray            # qpos addresses: 6 arm joints, then the left finger slide
    dof: np.ndarray             # qvel addresses, same order
    ctrl: np.ndarray            # actuators: 6 arm joints, the left finger, the right finger
    index: dict[str, int]       # command name -> 0..5 joints, 6 gripper
    aliases: frozenset[str]


class AlohaPhysicsWorld:
    """gym-aloha's scene for ``task`` behind trossen_bimanual's interfaces.

    Args:
        embodiment: trossen_bimanual (or a file with its arms: ``left``/``right``, ALOHA joint names, grippers).
        task: 'transfer_cube' or 'insertion'.
        seed: the object poses of the first episode are gym-aloha's for this seed; ``reset(seed=...)`` reseeds,
            ``reset()`` takes the next seed.
        start_time: the clock (s) at construction.
        image_size: (width, height) of every camera; None: each camera's size in the embodiment.
        start_spread: each reset starts the arm joints up to this far (rad, uniform) from gym-aloha's start pose.

    Attributes:
        time: the clock (s), the ``now`` of the last step; the physics runs at most one 2 ms step behind it.
        physics: the dm_control Physics (tests may set its state; call ``physics.forward()`` after).
    """

    def __init__(self, embodiment: Embodiment, task: str = 'transfer_cube', seed: int = 0, start_time: float = 0.0,
                 image_size: tuple[int, int] | None = None, start_spread: float = 0.0):
        if task not in TASKS:
            raise SimConfigError(f'unknown gym-aloha task {task!r}; known: {sorted(TASKS)}')
        if embodiment.base is not None or sorted(a.name for a in embodiment.arms) != ['left', 'right']:
            raise SimConfigError(f'{embodiment.name}: the ALOHA physics simulates trossen_bimanual (two ViperX '
                                 'followers named left and right, no base); use the kinematic simulator')
        _, task_class, self._sample_pose, self._objects, self.object_size = TASKS[task]
        self.task_name = task
        self.embodiment = embodiment
        self.start_spread = float(start_spread)
        self.physics = mujoco.Physics.from_xml_path(scene_file(task))
        self.task = task_class()
        self.max_reward = float(self.task.max_reward)
        self.dt = float(self.physics.model.opt.timestep)
        self._arms = {a.name: self._build_arm(a) for a in embodiment.arms}
        self._sizes = {c.slot: image_size or (c.width, c.height) for c in embodiment.cameras}
        self._renderers: dict[tuple, mj.Renderer] = {}      # per (width, height, thread), made on first use
        for slot in self._sizes:
            if slot not in CAMERAS:
                raise SimConfigError(f'{embodiment.name}: camera slot {slot!r} has no camera in the ALOHA scene '
                                     f'(slots: {sorted(CAMERAS)})')
        self.time = _finite(start_time, 'start_time')
        self.seed = int(seed)
        self.reset(seed=self.seed)

    def _build_arm(self, arm) -> _Arm:
        model = self.physics.model
        where = f'{self.embodiment.name}: arm {arm.name!r}'
        if arm.gripper is None or len(arm.joints) != 6:
            raise SimConfigError(f'{where}: the ALOHA physics simulates ViperX followers, six joints and a gripper '
                                 'each (trossen_bimanual)')
        prefix = f'vx300s_{arm.name}/'

        def joint(name: str) -> int:
            try:
                return model.name2id(prefix + name, 'joint')
            except ValueError:
                raise SimConfigError(f'{where}: the ALOHA scene has no joint {prefix + name!r}') from None

        joints = [joint(j.name) for j in arm.joints] + [joint('left_finger')]
        actuated = {int(model.actuator_trnid[i, 0]): i for i in range(model.nu)}
        ctrl = [actuated[j] for j in joints] + [actuated[joint('right_finger')]]
        index = {j.name: i for i, j in enumerate(arm.joints)}
        index[arm.gripper.joint] = index[str(arm.interface.get('gripper_name', 'gripper'))] = 6
        return _Arm(arm.name, arm, model.jnt_qposadr[joints].copy(), model.jnt_dofadr[joints].copy(),
                    np.array(ctrl), index, arm_aliases(arm))

    # ------------------------------------------------------------------ lifecycle
    def reset(self, seed: int | None = None, now: float | None = None) -> None:
        """gym-aloha's episode start: arms at START_ARM_POSE (set-points there too), the objects where
        gym-aloha puts them for the seed (its sample_box_pose / sample_insertion_pose).

        Args:
            seed: the layout's seed; None takes the previous seed + 1.
            now: set the clock (s); None keeps it.
        """
        self.seed = self.seed + 1 if seed is None else int(seed)
        if now is not None:
            self.time = _finite(now, 'now')
        physics = self.physics
        physics.reset()
        aloha_tasks.BOX_POSE[0] = self._sample_pose(self.seed)   # gym-aloha's hand-over to initialize_episode
        self.task.initialize_episode(physics)                   # START_ARM_POSE into qpos and ctrl, objects
        if self.start_spread > 0.0:
            rng = np.random.default_rng(self.seed)
            for arm in self._arms.values():    # (not in physics.reset_context(): it zeroes the state first)
                q = physics.data.qpos[arm.qpos[:6]] + rng.uniform(-self.start_spread, self.start_spread, 6)
                q = np.clip(q, *physics.model.actuator_ctrlrange[arm.ctrl[:6]].T)
                physics.data.qpos[arm.qpos[:6]] = q
                physics.data.ctrl[arm.ctrl[:6]] = q
            physics.forward()
        self._origin, self._steps = self.time, 0   # physics time 0 is clock time _origin
        self.max_reward_so_far = self.reward()

    def step(self, now: float) -> None:
        """Advance the clock to ``now`` (s) and the physics by whole 2 ms steps up to it.

        Raises:
            ValueError: ``now`` is not finite or earlier than ``time`` (reset(now=...) after a clock jump).
        """
        now = _finite(now, 'now')
        if now < self.time:
            raise ValueError(f'time went backwards: step({now}) after {self.time}; reset(now=...) first')
        target = math.floor((now - self._origin) / self.dt + 1e-9)
        n = target - self._steps
        if n > MAX_STEPS:                           # a long pause: integrate the last 10 s of it
            self._origin += (n - MAX_STEPS) * self.dt
            n = MAX_STEPS
        for _ in range(n):
            self.physics.step()
        self._steps += n
        if n:       # judged once a call, as gym-aloha judges once a control tick (its 50 Hz)
            self.max_reward_so_far = max(self.max_reward_so_far, self.reward())
        self.time = now

    # ------------------------------------------------------------------ commands
    def command_positions(self, names: Sequence[str], positions: Sequence[float], now: float,
                          topic: str | None = None) -> None:
        """Interbotix set-points: joints in radians, the gripper (by its motor or joint name) as the gripper
        motor angle. The physics is first advanced to ``now``; the set-points then hold until replaced.

        Raises:
            ValueError: unknown, duplicate or ambiguous names (pass the topic), wrong lengths, non-finite values.
        """
        now = _finite(now, 'now')
        targets = resolve_joints(self._arms.values(), names, topic, self.embodiment.name)
        values = np.asarray(positions, dtype=float)
        if values.shape != (len(names),):
            raise ValueError(f'{len(names)} names but {values.size} positions')
        if not np.all(np.isfinite(values)):
            raise ValueError(f'positions must be finite, got {values.tolist()}')
        if now > self.time:
            self.step(now)
        ctrl = self.physics.data.ctrl
        for (arm, i), value in zip(targets, values, strict=True):
            if i < 6:
                ctrl[arm.ctrl[i]] = value
            else:
                closure = arm.spec.gripper.command_to_unified(float(value))    # ours: 0 open, 1 closed
                finger = unnormalize_puppet_gripper_position(1.0 - closure)    # gym-aloha's: 0 closed, 1 open
                ctrl[arm.ctrl[6]], ctrl[arm.ctrl[7]] = finger, -finger

    def set_speed_scaling(self, factor: float) -> None:
        """Only UR controllers report a speed scaling; the ALOHA followers have none (accepted, no effect)."""
        if not 0.0 <= factor <= 1.0:
            raise ValueError(f'speed scaling must be in [0, 1], got {factor}')

    # ------------------------------------------------------------------ state
    def _arm(self, arm_name: str) -> _Arm:
        if arm_name not in self._arms:
            raise ValueError(f'unknown arm {arm_name!r} (arms: {", ".join(self._arms)})')
        return self._arms[arm_name]

    def joint_state(self, topic: str) -> tuple[list[str], list[float], list[float]]:
        """A follower's xs_sdk joint states: arm joints (rad, rad/s) and the finger (m, m/s; see the module)."""
        arms = [a for a in self._arms.values() if strip_topic(a.spec.joint_state_topic) == strip_topic(topic)]
        if not arms:
            raise ValueError(f'unknown joint state topic {topic!r} '
                             f'(known: {", ".join(self.embodiment.joint_state_topics)})')
        arm, g = arms[0], arms[0].spec.gripper
        names = [j.name for j in arm.spec.joints] + [g.joint]
        pos = self.physics.data.qpos[arm.qpos[:6]].tolist() + [g.unified_to_state(self.gripper_closure(arm.name))]
        closing = -normalize_puppet_gripper_velocity(float(self.physics.data.qvel[arm.dof[6]]))   # closure per s
        vel = self.physics.data.qvel[arm.dof[:6]].tolist() + [closing * (g.state_closed - g.state_open)]
        return names, pos, vel

    def arm_positions(self, arm_name: str) -> np.ndarray:
        """Measured joint positions (rad) of one arm, without its gripper."""
        return self.physics.data.qpos[self._arm(arm_name).qpos[:6]].copy()

    def gripper_closure(self, arm_name: str) -> float:
        """Measured gripper in our unified units [0, 1] (0 = open), from the finger slide joint."""
        opening = normalize_puppet_gripper_position(float(self.physics.data.qpos[self._arm(arm_name).qpos[6]]))
        return float(min(1.0, max(0.0, 1.0 - opening)))

    def odometry(self) -> dict[str, float]:
        raise ValueError(f'{self.embodiment.name} has no mobile base')

    def base_pose(self) -> np.ndarray:
        """The robot is fixed: identity (positions are in the scene's MuJoCo world frame)."""
        return np.eye(4)

    def ee_position(self, arm_name: str) -> np.ndarray:
        """World position (3,) between an arm's two finger pads."""
        arm = self._arm(arm_name)
        pads = [f'vx300s_{arm.name}/10_{side}_gripper_finger' for side in ('left', 'right')]
        return np.mean([self.physics.named.data.geom_xpos[p] for p in pads], axis=0)

    def object_positions(self) -> dict[str, np.ndarray]:
        """Centres of the task's objects (box; or peg and socket) in the world frame."""
        return {name: self.physics.named.data.xpos[name].copy() for name in self._objects}

    # ------------------------------------------------------------------ task
    def reward(self) -> float:
        """The task's reward now (gym-aloha's get_reward: 0..4)."""
        return float(self.task.get_reward(self.physics))

    @property
    def success(self) -> bool:
        """The episode reached the task's maximum reward (gym-aloha's is_success) at some step."""
        return self.max_reward_so_far >= self.max_reward

    def close(self) -> None:
        """Free the renderers' GL contexts."""
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()

    # ------------------------------------------------------------------ cameras
    def render(self, slot: str) -> np.ndarray:
        """RGB image (H, W, 3) uint8 of a camera slot: base = the scene's ``top``, the wrists their own."""
        if slot not in self._sizes:
            raise ValueError(f'{self.embodiment.name} has no camera {slot!r} (cameras: {", ".join(self._sizes)})')
        # MuJoCo's own Renderer, not dm_control's physics.render: dm_control ties its GL context to the first
        # thread that renders and then refuses to free it from any other (the node renders on its spin thread).
        # One renderer per rendering thread too: its EGL context stays current on the thread that last rendered
        # with it, and no other thread can make it current (EGL_BAD_ACCESS). A lock-step simulator node renders
        # its first frames in its constructor's thread, and a node spun on a thread of its own then renders there.
        size = self._sizes[slot]
        key = (*size, threading.get_ident())
        if key not in self._renderers:
            self._renderers[key] = mj.Renderer(self.physics.model.ptr, height=size[1], width=size[0])
        renderer = self._renderers[key]
        renderer.update_scene(self.physics.data.ptr, camera=CAMERAS[slot])
        return renderer.render()


def _finite(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f'{what} must be a number of seconds, got {value!r}')
    if not math.isfinite(value):
        raise ValueError(f'{what} must be finite, got {value}')
    return float(value)
