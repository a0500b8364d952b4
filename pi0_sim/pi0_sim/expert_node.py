"""Scripted expert node: demonstrates a simulated task through the same path as a human at a teleop
device, publishing pi0/command at the control rate, so its demonstrations travel and are recorded exactly
like teleoperation.

Subscribes  the embodiment's joint states (and odometry), sim/task_state (the task, where its objects are,
            what is reached: from the simulator node), sim/reward (the ALOHA tasks' success)
Publishes   pi0/command (pi0_msgs/ExecutorCommand) while a goal runs
Action      expert/run_instruction (pi0_msgs/RunInstruction): plan from the scene as it is, follow the
            plan; outcome "done" once the task's goal has been met for ``hold`` seconds, "time_limit",
            "canceled", or "error" (no plan, or the plan broke off: the message says why)

The expert is the one of the task sim/task_state names (task_experts.py: the block task's reach, or the
ALOHA transfer_cube expert on the MuJoCo twin, whose goal is met once sim/reward reports success and its
script has ended); it is made when a goal first needs it, so MuJoCo is imported only for an ALOHA task.

The chunk executor must not run at the same time (two sources on pi0/command).
"""

from __future__ import annotations

import time

import numpy as np
from nav_msgs.msg import Odometry
from pi0_msgs.action import RunInstruction
from pi0_msgs.msg import ExecutorCommand, SimTaskState
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from pi0_common.embodiment import MissingJointsError, load_embodiment
from pi0_common.joint_states import JointStateCache
from pi0_common.messages import command_to_msg, to_sec
from pi0_common.params import Param, declare_all, non_negative, positive
from pi0_common.qos import CHUNK_QOS, LATCHED_QOS, SENSOR_QOS
from pi0_common.spin import run_node, sleep_future
from pi0_sim.expert import PlanningError
from pi0_sim.kinematics import planar_pose
from pi0_sim.ros_messages import REWARD_FIELDS
from pi0_sim.task_experts import TaskView, make_task_expert, task_view

PARAMETERS = [
    Param('embodiment', 'ur5e', 'Embodiment name (a file in pi0_common/embodiments) or a YAML path.'),
    Param('seed', 0, 'Seeds the per-episode motion styles (speed, heights, pauses).'),
    Param('hold', 0.5, 'Seconds the goal must stay met before a goal is done (the block task: the named block '
          'reached; ALOHA transfer_cube: success reported and the script ended).', non_negative),
    Param('lookahead', 10, 'Rows per command (trajectory drivers send them as one segment).', positive),
]
POLL = 0.02     # s between checks of a running goal
SUCCESS = REWARD_FIELDS.index('success')

Result = RunInstruction.Result


class ScriptedExpertNode(Node):
    def __init__(self, **kwargs):
        super().__init__('pi0_scripted_expert', **kwargs)
        p = self.params = declare_all(self, PARAMETERS)
        emb = self.embodiment = load_embodiment(p.embodiment)
        self.experts = {}               # task -> its expert, made when a goal first needs it
        self.expert = None              # the running goal's
        self.joints = JointStateCache(emb)
        self.task: SimTaskState | None = None
        self.success = False            # sim/reward's success (the ALOHA tasks)
        self.base_pose = np.eye(4)
        self.active = False
        self.busy = False
        self.failure = ''               # why the running goal's plan broke off
        for topic in emb.joint_state_topics:
            self.create_subscription(JointState, topic, lambda m, t=topic: self._on_joints(t, m), SENSOR_QOS)
        if emb.base is not None:
            self.create_subscription(Odometry, emb.base.odometry_topic, self._on_odometry, SENSOR_QOS)
        self.create_subscription(SimTaskState, 'sim/task_state', self._on_task, LATCHED_QOS)
        self.create_subscription(Float64MultiArray, 'sim/reward', self._on_reward, LATCHED_QOS)
        self.pub = self.create_publisher(ExecutorCommand, 'pi0/command', CHUNK_QOS)
        self.create_timer(emb.dt, self._on_tick)
        self.server = ActionServer(self, RunInstruction, 'expert/run_instruction', execute_callback=self._execute,
                                   goal_callback=self._on_goal, cancel_callback=lambda _goal: CancelResponse.ACCEPT)

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # ---------------------------------------------------------------- inputs
    def _on_joints(self, topic: str, msg: JointState) -> None:
        try:
            self.joints.update(topic, list(msg.name), list(msg.position), to_sec(msg.header.stamp))
        except ValueError as e:
            self.get_logger().error(f'joint state refused: {e}', throttle_duration_sec=5.0)

    def _on_odometry(self, msg: Odometry) -> None:
        q = msg.pose.pose.orientation
        yaw = 2.0 * np.arctan2(q.z, q.w)
        self.base_pose = planar_pose(msg.pose.pose.position.x, msg.pose.pose.position.y, yaw)

    def _on_task(self, msg: SimTaskState) -> None:
        self.task = msg

    def _on_reward(self, msg: Float64MultiArray) -> None:
        if len(msg.data) > SUCCESS:
            self.success = msg.data[SUCCESS] >= 0.5

    def view(self) -> TaskView:
        """The scene as the simulator and the joint states report it now.

        Raises:
            PlanningError: the task state or a joint state has not arrived yet.
        """
        if self.task is None:
            raise PlanningError('no sim/task_state yet: is the simulator node running?')
        try:
            state, _ = self.joints.state(require_base=False)
        except MissingJointsError as e:
            raise PlanningError(str(e)) from None
        return task_view(self.task, state, self.embodiment, self.base_pose, self.success)

    def expert_for(self, task: str):
        """The task's expert (made on first use: for an ALOHA task this loads its MuJoCo scene).

        Raises:
            PlanningError: no expert for the task or this embodiment.
        """
        if task not in self.experts:
            p = self.params
            self.experts[task] = make_task_expert(task, self.embodiment, lookahead=p.lookahead, seed=p.seed)
        return self.experts[task]

    # ---------------------------------------------------------------- commanding
    def _on_tick(self) -> None:
        if not self.active:
            return
        try:
            command = self.expert.command(self.view(), self.now())
        except PlanningError as e:      # a re-plan failed (ALOHA: the cube is not where the hand-over can take it)
            self.active, self.failure = False, str(e)
            return
        self.pub.publish(command_to_msg(command, self.embodiment))

    def _on_goal(self, goal) -> GoalResponse:
        if self.busy or not goal.instruction.strip():
            self.get_logger().warning('expert/run_instruction: busy, or an empty instruction; goal rejected')
            return GoalResponse.REJECT
        self.busy = True
        return GoalResponse.ACCEPT

    async def _execute(self, handle) -> RunInstruction.Result:
        goal, result, t0 = handle.request, RunInstruction.Result(), time.monotonic()
        limit = to_sec(goal.time_limit) or float('inf')
        try:
            try:
                expert = self.expert_for(self.view().task)
                expert.begin(self.view(), goal.instruction)     # a fresh view: making an expert takes a while
            except PlanningError as e:
                handle.abort()
                result.outcome, result.message = Result.OUTCOME_ERROR, f'no plan: {e}'
                return result
            self.expert, self.failure, self.active, met_since = expert, '', True, None
            while True:
                elapsed, now = time.monotonic() - t0, self.now()
                handle.publish_feedback(RunInstruction.Feedback(elapsed=elapsed, executor_state='expert'))
                if not expert.met(self.view(), now):
                    met_since = None
                elif met_since is None:
                    met_since = now
                if handle.is_cancel_requested:
                    outcome, message = Result.OUTCOME_CANCELED, 'canceled by the client'
                elif self.failure:
                    outcome, message = Result.OUTCOME_ERROR, f'plan broken off: {self.failure}'
                elif met_since is not None and now - met_since >= self.params.hold:
                    outcome, message = Result.OUTCOME_DONE, expert.goal
                elif elapsed >= limit:
                    outcome, message = Result.OUTCOME_TIME_LIMIT, f'goal not met within {limit:g} s'
                else:
                    await sleep_future(self, POLL)
                    continue
                break
            self.active = False
            {Result.OUTCOME_DONE: handle.succeed, Result.OUTCOME_CANCELED: handle.canceled}.get(
                outcome, handle.abort)()
            result.outcome, result.message, result.elapsed = outcome, message, time.monotonic() - t0
            return result
        finally:
            self.active = self.busy = False


def main(args=None):
    run_node(ScriptedExpertNode, args)


if __name__ == '__main__':
    main()
