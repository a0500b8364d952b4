"""Scripted expert node: demonstrates the simulated block task through the same path as a human at a
teleop device, publishing pi0/command at the control rate, so its demonstrations travel and are
recorded exactly like teleoperation.

Subscribes  the embodiment's joint states (and odometry), sim/task_state (where the blocks are,
            what is reached: from the simulator node)
Publishes   pi0/command (pi0_msgs/ExecutorCommand) while a goal runs
Action      expert/run_instruction (pi0_msgs/RunInstruction): plan from the scene as it is, follow the
            plan; outcome "done" once the named block has been reached for ``hold`` seconds,
            "time_limit", "canceled", or "error" (no plan: the message says why)

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

from pi0_common.embodiment import MissingJointsError, load_embodiment
from pi0_common.joint_states import JointStateCache
from pi0_common.messages import command_to_msg, to_sec
from pi0_common.params import Param, declare_all, non_negative, positive
from pi0_common.qos import CHUNK_QOS, LATCHED_QOS, SENSOR_QOS
from pi0_common.spin import run_node, sleep_future
from pi0_sim.expert import PlanningError, SceneView, ScriptedExpert
from pi0_sim.kinematics import planar_pose

PARAMETERS = [
    Param('embodiment', 'ur5e', 'Embodiment name (a file in pi0_common/embodiments) or a YAML path.'),
    Param('seed', 0, 'Seeds the per-episode motion styles (speed, heights, pauses).'),
    Param('hold', 0.5, 'Seconds the named block must stay reached before a goal is done.', non_negative),
    Param('lookahead', 10, 'Rows per command (trajectory drivers send them as one segment).', positive),
]
POLL = 0.02     # s between checks of a running goal

Result = RunInstruction.Result


class ScriptedExpertNode(Node):
    def __init__(self, **kwargs):
        super().__init__('pi0_scripted_expert', **kwargs)
        p = self.params = declare_all(self, PARAMETERS)
        emb = self.embodiment = load_embodiment(p.embodiment)
        self.expert = ScriptedExpert(emb, lookahead=p.lookahead, seed=p.seed)
        self.joints = JointStateCache(emb)
        self.task: SimTaskState | None = None
        self.base_pose = np.eye(4)
        self.active = False
        self.busy = False
        self.reached_since: float | None = None
        for topic in emb.joint_state_topics:
            self.create_subscription(JointState, topic, lambda m, t=topic: self._on_joints(t, m), SENSOR_QOS)
        if emb.base is not None:
            self.create_subscription(Odometry, emb.base.odometry_topic, self._on_odometry, SENSOR_QOS)
        self.create_subscription(SimTaskState, 'sim/task_state', self._on_task, LATCHED_QOS)
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
        reached = self.active and f'{self.expert.arm}/{self.expert.color}' in msg.reached
        if not reached:
            self.reached_since = None
        elif self.reached_since is None:
            self.reached_since = self.now()

    def scene(self) -> SceneView:
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
        up = np.array([0.0, 0.0, self.task.object_size / 2])
        tops = {name: np.array([p.x, p.y, p.z]) + up
                for name, p in zip(self.task.object_names, self.task.object_positions, strict=True)}
        arms, grippers = {}, {}
        for arm, joint_idx, grip_idx in self.embodiment.arm_slices():
            arms[arm.name] = state[joint_idx]
            if grip_idx is not None:
                grippers[arm.name] = float(state[grip_idx])
        return SceneView(tops, arms, grippers, self.base_pose)

    # ---------------------------------------------------------------- commanding
    def _on_tick(self) -> None:
        if self.active:
            self.pub.publish(command_to_msg(self.expert.command(self.now()), self.embodiment))

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
                self.expert.begin(self.scene(), goal.instruction, self.now())
            except PlanningError as e:
                handle.abort()
                result.outcome, result.message = Result.OUTCOME_ERROR, f'no plan: {e}'
                return result
            self.reached_since, self.active = None, True
            while True:
                elapsed = time.monotonic() - t0
                handle.publish_feedback(RunInstruction.Feedback(elapsed=elapsed, executor_state='expert'))
                if handle.is_cancel_requested:
                    outcome, message = Result.OUTCOME_CANCELED, 'canceled by the client'
                elif self.reached_since is not None and self.now() - self.reached_since >= self.params.hold:
                    outcome, message = Result.OUTCOME_DONE, f'reached the {self.expert.color} block'
                elif elapsed >= limit:
                    outcome, message = Result.OUTCOME_TIME_LIMIT, f'not reached within {limit:g} s'
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
