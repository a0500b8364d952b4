"""Universal Robots (Universal_Robots_ROS2_Driver) with a Robotiq 2F-85 gripper.

Arm, two modes (interface.mode):
    trajectory        trajectory_msgs/JointTrajectory to <controller>/joint_trajectory. Each command
                      becomes one short segment: header.stamp = 0 ("start now"); row i, commanded for
                      the interval from stamp + i dt, is reached at its end: time_from_start =
                      stamp + (i + 1) dt - now, never 0 (a first point at 0 makes the controller
                      step), strictly increasing. A new trajectory replaces the previous one, so
                      re-sending every tick keeps the controller on the latest plan.
    forward_position  std_msgs/Float64MultiArray to forward_position_controller/commands, this tick's
                      target only (the robot runs it as servoj).
Gripper (interface.gripper_mode):
    forward_command   Float64MultiArray [knuckle angle] to a forward command controller;
    gripper_action    control_msgs/action/GripperCommand goals (control_msgs must be installed), sent
                      when the target moved by more than a deadband; each new goal preempts the last.
The simulator serves the same topics (ArmControllersSimEndpoint, shared with the franka and jtc
arms) and, with control_msgs installed, the GripperCommand action (sim_gripper.SimGripperAction).
"""

from __future__ import annotations

import numpy as np
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from pi0_common.commands import MODE_ACTIVE, Command
from pi0_common.messages import to_duration_msg, to_sec
from pi0_common.qos import ROBOT_COMMAND_QOS
from pi0_drivers.interfaces.base import ArmInterface, InterfaceError, SimEndpoint, check_keys, config_value
from pi0_drivers.interfaces.sim_gripper import SimGripperAction
from pi0_drivers.interfaces.vendor import import_types

ARM_MODES = ('trajectory', 'forward_position')
GRIPPER_MODES = ('forward_command', 'gripper_action')
KEYS = {'mode', 'trajectory_topic', 'forward_topic', 'gripper_mode', 'gripper_topic', 'gripper_action'}
MIN_LEAD_FRACTION = 0.2      # first point at least 0.2 dt ahead: late commands still ramp, never step
GRIPPER_GOAL_DEADBAND = 0.02  # strokes: resend a gripper goal only when the target moved this much
GRIPPER_ACTION_TOLERANCE = 0.01  # strokes: the simulated GripperActionController's goal tolerance


def trajectory_times(stamp: float, dt: float, count: int, now: float) -> list[float]:
    """time_from_start of each point: the end of its interval (stamp + (i + 1) dt) minus now, at least
    MIN_LEAD_FRACTION dt for the first, and strictly increasing by at least that much after."""
    lead = MIN_LEAD_FRACTION * dt
    times, previous = [], 0.0
    for i in range(count):
        t = max(stamp + (i + 1) * dt - now, previous + lead)
        times.append(t)
        previous = t
    return times


def make_trajectory(joint_names: list[str], rows: np.ndarray, times: list[float]) -> JointTrajectory:
    msg = JointTrajectory()
    msg.joint_names = list(joint_names)
    for row, t in zip(rows, times, strict=True):
        msg.points.append(JointTrajectoryPoint(positions=[float(v) for v in row],
                                               time_from_start=to_duration_msg(t)))
    return msg


class TrajectorySender:
    """One arm's commands as JointTrajectory segments to a JointTrajectoryController topic (UR, Franka
    and generic ros2_control arms): while active, every command becomes a segment of its rows (see
    trajectory_times); entering a hold sends one point at the held position, after which the
    controller holds it by itself (nothing more is sent until the next active command)."""

    def __init__(self, node, topic: str, joint_names: list[str]):
        self.topic, self.joint_names = topic, list(joint_names)
        self.pub = node.create_publisher(JointTrajectory, topic, ROBOT_COMMAND_QOS)
        self._holding = False

    def send(self, rows: np.ndarray, command: Command, now: float) -> None:
        if command.mode == MODE_ACTIVE:
            times = trajectory_times(command.stamp, command.dt, len(rows), now)
            self.pub.publish(make_trajectory(self.joint_names, rows, times))
            self._holding = False
        elif not self._holding:
            self.pub.publish(make_trajectory(self.joint_names, rows[:1], [command.dt]))
            self._holding = True


class UrArm(ArmInterface):
    vendor_hint = ('ur_robot_driver (ros2 launch ur_robot_driver ur_control.launch.py ur_type:=ur5e '
                   'robot_ip:=<ip>, or use_mock_hardware:=true)')

    def __init__(self, node, embodiment, arm, joint_idx, grip_idx, overrides):
        super().__init__(node, embodiment, arm, joint_idx, grip_idx, overrides)
        cfg = {**arm.interface, **{k: v for k, v in overrides.items() if v}}
        check_keys(cfg, KEYS, self.where)
        self.mode = config_value(cfg, 'mode', str, self.where, 'trajectory')
        if self.mode not in ARM_MODES:
            raise InterfaceError(f'{self.where}: mode {self.mode!r}, expected one of {ARM_MODES}')
        self.joint_names = [j.name for j in arm.joints]
        if self.mode == 'trajectory':
            self.topic = config_value(cfg, 'trajectory_topic', str, self.where)
            self.trajectory = TrajectorySender(node, self.topic, self.joint_names)
        else:
            self.topic = config_value(cfg, 'forward_topic', str, self.where)
            self.pub = node.create_publisher(Float64MultiArray, self.topic, ROBOT_COMMAND_QOS)
        self.gripper = None
        if arm.gripper is not None:
            gripper_mode = config_value(cfg, 'gripper_mode', str, self.where, 'forward_command')
            if gripper_mode == 'forward_command':
                self.gripper = ForwardGripper(node, config_value(cfg, 'gripper_topic', str, self.where))
            elif gripper_mode == 'gripper_action':
                stroke = abs(arm.gripper.command_closed - arm.gripper.command_open)
                self.gripper = _GripperActionClient(node, config_value(cfg, 'gripper_action', str, self.where),
                                                    stroke, self.where)
            else:
                raise InterfaceError(f'{self.where}: gripper_mode {gripper_mode!r}, expected one of {GRIPPER_MODES}')

    def describe(self) -> str:
        grip = f', gripper on {self.gripper.name}' if self.gripper else ''
        return f'UR {self.mode} on {self.topic}{grip}'

    def send(self, command: Command, now: float) -> None:
        rows = command.positions[:, self.joint_idx]
        if self.mode == 'forward_position':
            self.pub.publish(Float64MultiArray(data=[float(v) for v in rows[0]]))
        else:
            self.trajectory.send(rows, command, now)
        if self.gripper is not None:
            self.gripper.send(self.arm.gripper.to_command(command.positions[0, self.grip_idx]))


class ForwardGripper:
    """The gripper target as Float64MultiArray [position] to a forward command controller."""

    def __init__(self, node, topic):
        self.name = topic
        self.pub = node.create_publisher(Float64MultiArray, topic, ROBOT_COMMAND_QOS)

    def send(self, position: float) -> None:
        self.pub.publish(Float64MultiArray(data=[float(position)]))


class _GripperActionClient:
    """control_msgs/action/GripperCommand goals, sent when the target moves by more than a deadband."""

    def __init__(self, node, action_name, stroke, where):
        try:
            from control_msgs.action import GripperCommand
        except ImportError as e:
            raise InterfaceError(f'{where}: gripper_mode gripper_action needs control_msgs, which is not '
                                 f'installed (install ros-$ROS_DISTRO-control-msgs, or use forward_command)') from e
        from rclpy.action import ActionClient
        self.name = action_name
        self.goal_type = GripperCommand.Goal
        self.client = ActionClient(node, GripperCommand, action_name)
        self.last: float | None = None
        self.deadband = GRIPPER_GOAL_DEADBAND * stroke

    def send(self, position: float) -> None:
        if self.last is not None and abs(position - self.last) < self.deadband:
            return
        if not self.client.server_is_ready():
            return
        goal = self.goal_type()
        goal.command.position = float(position)
        goal.command.max_effort = 0.0          # 0: the controller's default effort
        self.client.send_goal_async(goal)
        self.last = position


class ArmControllersSimEndpoint(SimEndpoint):
    """Simulated ros2_control controllers of one arm, each on its topic when the interface block names
    it: a JointTrajectoryController (trajectory_topic), a forward position controller (forward_topic)
    and a forward command controller on the gripper (gripper_topic)."""

    def __init__(self, node, world, lock, embodiment, arm, config):
        super().__init__(node, world, lock, embodiment, arm, config)
        self.joint_names = [j.name for j in arm.joints]
        if config.get('trajectory_topic'):
            node.create_subscription(JointTrajectory, config['trajectory_topic'], self._on_trajectory,
                                     ROBOT_COMMAND_QOS)
        if config.get('forward_topic'):
            node.create_subscription(Float64MultiArray, config['forward_topic'], self._on_forward,
                                     ROBOT_COMMAND_QOS)
        if arm.gripper is not None and config.get('gripper_topic'):
            node.create_subscription(Float64MultiArray, config['gripper_topic'], self._on_gripper,
                                     ROBOT_COMMAND_QOS)
        self.received = 0

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        # The JointTrajectoryController's own checks (allow_partial_joints_goal: false).
        if sorted(msg.joint_names) != sorted(self.joint_names):
            self.node.get_logger().error("sim: Joints on incoming trajectory don't match the controller joints.",
                                         throttle_duration_sec=2.0)
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
                self.node.get_logger().error(f'sim: trajectory rejected: {e}', throttle_duration_sec=2.0)

    def _on_forward(self, msg: Float64MultiArray) -> None:
        if len(msg.data) != len(self.joint_names):
            self.node.get_logger().error(f'sim: forward command has {len(msg.data)} values for '
                                         f'{len(self.joint_names)} joints', throttle_duration_sec=2.0)
            return
        with self.lock:
            try:
                self.world.command_positions(self.joint_names, list(msg.data), self.now(),
                                             topic=self.spec.joint_state_topic)
                self.received += 1
            except ValueError as e:
                self.node.get_logger().error(f'sim: forward command rejected: {e}', throttle_duration_sec=2.0)

    def _on_gripper(self, msg: Float64MultiArray) -> None:
        if len(msg.data) != 1:
            return
        with self.lock:
            try:
                self.world.command_positions([self.spec.gripper.joint], [msg.data[0]], self.now(),
                                             topic=self.spec.joint_state_topic)
            except ValueError as e:
                self.node.get_logger().error(f'sim: gripper command rejected: {e}', throttle_duration_sec=2.0)


class UrSimEndpoint(ArmControllersSimEndpoint):
    """The simulated UR controllers (see ArmControllersSimEndpoint) and, when control_msgs is installed,
    the Robotiq GripperActionController's control_msgs/action/GripperCommand server on gripper_action."""

    def __init__(self, node, world, lock, embodiment, arm, config):
        super().__init__(node, world, lock, embodiment, arm, config)
        self.gripper_action = None
        types = import_types('control_msgs', 'action', ('GripperCommand',))
        if arm.gripper is not None and config.get('gripper_action') and types is not None:
            stroke = abs(arm.gripper.command_closed - arm.gripper.command_open)
            self.gripper_action = SimGripperAction(
                self, types[0], config['gripper_action'], target_of=lambda goal: goal.command.position,
                result_of=_gripper_command_outcome, feedback_of=lambda fb, position: _gripper_command_outcome(
                    fb, 'moving', position),
                tolerance=GRIPPER_ACTION_TOLERANCE * stroke)


def _gripper_command_outcome(msg, outcome: str, position: float):
    """GripperCommand result or feedback: where the gripper is, and whether it got there."""
    msg.position = float(position)
    msg.effort = 0.0
    msg.stalled = False
    msg.reached_goal = outcome == 'reached'
    return msg
