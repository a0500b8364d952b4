"""The scripted experts of the simulated tasks behind one interface, chosen by the task the simulator reports
(SimTaskState.task), for the expert node (expert_node.py):

    reach_blocks          expert.ScriptedExpert. The instruction names a block; the goal is met while the
                          simulator reports that block reached by the arm (SimTaskState.reached).
    aloha_transfer_cube   aloha_expert.TransferCubeExpert (the MuJoCo twin, physics aloha_mujoco). Any instruction;
                          it plans from the box in the task state and, every tick, shows the expert the box of the
                          newest task state (it re-plans the hand-over once, after the arms have met). The goal is
                          met once sim/reward reports success (the task's maximum reward reached this episode) and
                          the script has played to its end: a demonstration then ends with the release and the
                          right arm's retreat, the cube held by the left gripper alone, as gym-aloha's scripted
                          demonstrations do, rather than at the first tick of reward 4, mid hand-over.

The node calls a goal done once its goal has been met for the node's ``hold`` seconds.

A plan plays from its first command, not from when planning began: planning takes time (in lock-step too:
simulated time runs at real-time pace while nothing commands the robot, and a node on simulated time sees its
clock move only between callbacks), and a plan timed from before it would start part-way through, past the
opening pause, with a jump. So the experts plan in seconds since the start, and the commands are stamped with
the clock's time.

Pure Python: no rclpy import. MuJoCo and gym-aloha's scene are imported only when an ALOHA task is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from pi0_common.commands import Command
from pi0_common.embodiment import Embodiment
from pi0_sim.expert import PlanningError, SceneView, ScriptedExpert


@dataclass(frozen=True)
class TaskView:
    """What an expert plans from and is judged by.

    Attributes:
        task: SimTaskState.task ('reach_blocks', 'aloha_transfer_cube', ...).
        objects: object name -> world position (3,) of its centre.
        object_size: m, the edge of the task's blocks or cube.
        reached: '<arm>/<object>' pairs the simulator reports reached (the block task).
        arm_positions: arm name -> measured joint positions (rad).
        grippers: arm name -> measured gripper closure in unified units [0, 1] (arms with a gripper).
        base_pose: 4x4 world pose of the robot frame.
        success: sim/reward's success (the ALOHA tasks): the task's maximum reward reached this episode.
    """

    task: str
    objects: dict[str, np.ndarray]
    object_size: float
    reached: frozenset[str]
    arm_positions: dict[str, np.ndarray]
    grippers: dict[str, float]
    base_pose: np.ndarray
    success: bool = False


def task_view(task_state, state: np.ndarray, embodiment: Embodiment, base_pose: np.ndarray,
              success: bool = False) -> TaskView:
    """The view from a pi0_msgs/SimTaskState and the unified joint state (JointStateCache.state)."""
    objects = {name: np.array([p.x, p.y, p.z])
               for name, p in zip(task_state.object_names, task_state.object_positions, strict=True)}
    arms, grippers = {}, {}
    for arm, joint_idx, grip_idx in embodiment.arm_slices():
        arms[arm.name] = state[joint_idx]
        if grip_idx is not None:
            grippers[arm.name] = float(state[grip_idx])
    return TaskView(task_state.task, objects, float(task_state.object_size), frozenset(task_state.reached), arms,
                    grippers, base_pose, bool(success))


class _TaskExpert:
    """A task's expert: ``begin`` plans, and the plan plays from the first ``command``."""

    goal = ''                       # what a met goal did, for the action's result
    start: float | None = None      # the clock's time of the plan's first command

    def begin(self, view: TaskView, instruction: str) -> None:
        """Plan from the view.

        Raises:
            PlanningError: no plan (the task's reasons).
        """
        self._plan(view, instruction)
        self.start = None

    def command(self, view: TaskView, now: float) -> Command:
        """This tick's command, stamped ``now``; the view is the newest (an expert may look at it)."""
        if self.start is None:
            self.start = now
        return replace(self._command(view, now - self.start), stamp=now)


class BlockTaskExpert(_TaskExpert):
    """reach_blocks: reach the block the instruction names."""

    def __init__(self, embodiment: Embodiment, lookahead: int, seed: int | None):
        self.expert = ScriptedExpert(embodiment, lookahead=lookahead, seed=seed)

    def _plan(self, view: TaskView, instruction: str) -> None:
        up = np.array([0.0, 0.0, view.object_size / 2])
        tops = {name: position + up for name, position in view.objects.items()}
        self.expert.begin(SceneView(tops, view.arm_positions, view.grippers, view.base_pose), instruction, 0.0)
        self.goal = f'reached the {self.expert.color} block'

    def _command(self, view: TaskView, t: float) -> Command:
        return self.expert.command(t)

    def met(self, view: TaskView, now: float) -> bool:
        return f'{self.expert.arm}/{self.expert.color}' in view.reached


class TransferCubeTaskExpert(_TaskExpert):
    """aloha_transfer_cube: pick the cube with the right arm and hand it over to the left."""

    goal = 'transferred the cube'

    def __init__(self, embodiment: Embodiment, lookahead: int, seed: int | None):
        from pi0_sim.aloha_expert import TransferCubeExpert  # imports MuJoCo: only for this task
        from pi0_sim.aloha_physics import scene_model
        self.expert = TransferCubeExpert(embodiment, scene_model('transfer_cube'), lookahead=lookahead, seed=seed)

    def _plan(self, view: TaskView, instruction: str) -> None:
        self.expert.begin(_cube(view), view.arm_positions, view.grippers, 0.0)      # any instruction

    def _command(self, view: TaskView, t: float) -> Command:
        self.expert.observe(_cube(view), t)
        return self.expert.command(t)

    def met(self, view: TaskView, now: float) -> bool:
        return view.success and self.start is not None and self.expert.finished(now - self.start)


def _cube(view: TaskView) -> np.ndarray:
    if 'box' not in view.objects:
        raise PlanningError(f'the task state of {view.task} has no box (objects: {", ".join(view.objects)})')
    return view.objects['box']


EXPERTS = {'reach_blocks': BlockTaskExpert, 'aloha_transfer_cube': TransferCubeTaskExpert}


def make_task_expert(task: str, embodiment: Embodiment, lookahead: int = 10, seed: int | None = None):
    """The expert of a task (SimTaskState.task).

    Raises:
        PlanningError: no expert for the task, or not for this embodiment.
    """
    if task not in EXPERTS:
        raise PlanningError(f'no scripted expert for the task {task!r} (experts: {", ".join(EXPERTS)})')
    return EXPERTS[task](embodiment, lookahead, seed)
