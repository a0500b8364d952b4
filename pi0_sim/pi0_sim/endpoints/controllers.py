"""Simulated ros2_control controllers of one arm (UR, Franka and generic ros2_control arms), each on
its topic when the interface block names it:

    trajectory_topic  a JointTrajectoryController (trajectory_msgs/JointTrajectory)
    forward_topic     a forward position controller (std_msgs/Float64MultiArray, one value per joint)
    gripper_topic     a forward command controller on the gripper (Float64MultiArray [position])
"""

from __future__ import annotations

from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from pi0_common.messages import to_sec
from pi0_sim.endpoints.base import CONTROLLER_SUB_QOS, SimEndpoint


class ArmControllersSimEndpoint(SimEndpoint):
    def __init__(self, node, world, lock, embodiment, arm, config):
        super().__init__(node, world, lock, embodiment, arm, config)
        self.joint_names = [j.name for j in arm.joints]
        self.received = 0
        if config.get('trajectory_topic'):
            node.create_subscription(JointTrajectory, config['trajectory_topic'], self._on_trajectory,
                                     CONTROLLER_SUB_QOS)
        if config.get('forward_topic'):
            node.create_subscription(Float64MultiArray, config['forward_topic'], self._on_forward,
                                     CONTROLLER_SUB_QOS)
        if arm.gripper is not None and config.get('gripper_topic'):
            node.create_subscription(Float64MultiArray, config['gripper_topic'], self._on_gripper,
                                     CONTROLLER_SUB_QOS)

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        # The JointTrajectoryController's own checks (allow_partial_joints_goal: false).
        if sorted(msg.joint_names) != sorted(self.joint_names):
            self.log_error("Joints on incoming trajectory don't match the controller joints.")
            return
        if to_sec(msg.header.stamp) != 0.0:
            self.node.get_logger().warning('sim: only header.stamp = 0 ("now") trajectories are simulated',
                                           throttle_duration_sec=5.0)
        times = [to_sec(p.time_from_start) for p in msg.points]
        positions = [list(p.positions) for p in msg.points]
        with self.lock:
            try:
                self.world.command_trajectory(list(msg.joint_names), times, positions, self.now(),
                                              topic=self.spec.joint_state_topic)
                self.received += 1
            except ValueError as e:
                self.log_error(f'trajectory rejected: {e}')

    def _on_forward(self, msg: Float64MultiArray) -> None:
        if len(msg.data) != len(self.joint_names):
            self.log_error(f'forward command has {len(msg.data)} values for {len(self.joint_names)} joints')
            return
        with self.lock:
            try:
                self.world.command_positions(self.joint_names, list(msg.data), self.now(),
                                             topic=self.spec.joint_state_topic)
                self.received += 1
            except ValueError as e:
                self.log_error(f'forward command rejected: {e}')

    def _on_gripper(self, msg: Float64MultiArray) -> None:
        if len(msg.data) != 1:
            return
        with self.lock:
            try:
                self.world.command_positions([self.spec.gripper.joint], [msg.data[0]], self.now(),
                                             topic=self.spec.joint_state_topic)
            except ValueError as e:
                self.log_error(f'gripper command rejected: {e}')
