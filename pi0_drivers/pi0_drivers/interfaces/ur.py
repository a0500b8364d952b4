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
"""

from __future__ import annotations

from std_msgs.msg import Float64MultiArray

from pi0_common.commands import Command
from pi0_common.qos import ROBOT_COMMAND_QOS
from pi0_drivers.interfaces.base import ArmInterface, InterfaceError, check_keys, config_value
from pi0_drivers.interfaces.controllers import ForwardGripper, TrajectorySender

ARM_MODES = ('trajectory', 'forward_position')
GRIPPER_MODES = ('forward_command', 'gripper_action')
KEYS = {'mode', 'trajectory_topic', 'forward_topic', 'gripper_mode', 'gripper_topic', 'gripper_action'}
GRIPPER_GOAL_DEADBAND = 0.02  # strokes: resend a gripper goal only when the target moved this much


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


