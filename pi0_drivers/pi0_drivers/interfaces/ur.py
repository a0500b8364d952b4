"""Universal Robots (Universal_Robots_ROS2_Driver) with a Robotiq 2F-85 gripper.

Arm: trajectory_msgs/JointTrajectory to <controller>/joint_trajectory (interface.trajectory_topic;
scaled_joint_trajectory_controller on Humble to Kilted). Each command becomes one short segment (see
controllers.TrajectorySender); the controller interpolates at its own rate and follows the robot's speed
scaling.

forward_position (streaming to forward_position_controller/commands) is refused, on purpose. That
controller is a position_controllers/JointGroupPositionController (UniversalRobots/
Universal_Robots_ROS2_Driver kilted 3252ef5, ur_robot_driver/config/ur_controllers.yaml:27-28) whose last
command the hardware interface writes as a servoj target on every cycle (src/hardware_interface.cpp
:1105-1106) at the controller manager's 500 Hz (config/ur5e_update_rate.yaml:3); "the robot tries to reach
the target position as fast as possible. The user is responsible for sending commands that are
achievable" (doc/usage/controllers.rst:113-117). One target per 20 Hz tick is a step of up to
max_velocity * dt (0.157 rad on a UR5e) to be closed within one 2 ms cycle. Interpolating here instead
would need a set-point every 2 ms from a Python node on one executor thread over DDS; every late or lost
one is again a step. And unlike the scaled trajectory controller, a forward command ignores the speed
scaling (program paused, protective stop): the target runs on while the robot stands. The trajectory
controller does the interpolation in the realtime loop, which is where it belongs.

Gripper (interface.gripper_mode): parallel_gripper_action (default) or gripper_action, the action servers
of ros2_robotiq_gripper (robotiq.py); forward_command (Float64MultiArray [knuckle angle] to
interface.gripper_topic) only for a rig that runs its own forward command controller on the gripper
joint: ros2_robotiq_gripper starts none.
"""

from __future__ import annotations

from pi0_common.commands import Command
from pi0_drivers.interfaces.base import ArmInterface, InterfaceError, check_keys, config_value
from pi0_drivers.interfaces.controllers import ForwardGripper, TrajectorySender
from pi0_drivers.interfaces.robotiq import MODES as ACTION_MODES
from pi0_drivers.interfaces.robotiq import RobotiqGripper

ARM_MODES = ('trajectory',)
GRIPPER_MODES = (*ACTION_MODES, 'forward_command')
KEYS = {'mode', 'trajectory_topic', 'forward_topic', 'gripper_mode', 'gripper_topic', 'gripper_action',
        'gripper_max_effort'}
FORWARD_REFUSED = ('forward_position streaming is refused: forward_position_controller servos every command as '
                   'one servoj step at 500 Hz (Universal_Robots_ROS2_Driver hardware_interface.cpp, '
                   'ur5e_update_rate.yaml), so a 20 Hz stream asks for up to max_velocity * dt within one 2 ms '
                   'cycle and ignores the speed scaling; use mode trajectory (scaled_joint_trajectory_controller '
                   'interpolates in the realtime loop)')


class UrArm(ArmInterface):
    vendor_hint = ('ur_robot_driver (ros2 launch ur_robot_driver ur_control.launch.py ur_type:=ur5e '
                   'robot_ip:=<ip>, or use_mock_hardware:=true)')

    def __init__(self, node, embodiment, arm, joint_idx, grip_idx, overrides):
        super().__init__(node, embodiment, arm, joint_idx, grip_idx, overrides)
        cfg = {**arm.interface, **{k: v for k, v in overrides.items() if v}}
        check_keys(cfg, KEYS, self.where)
        self.mode = config_value(cfg, 'mode', str, self.where, 'trajectory')
        if self.mode == 'forward_position' or 'forward_topic' in cfg:
            raise InterfaceError(f'{self.where}: {FORWARD_REFUSED}')
        if self.mode not in ARM_MODES:
            raise InterfaceError(f'{self.where}: mode {self.mode!r}, expected one of {ARM_MODES}')
        self.topic = config_value(cfg, 'trajectory_topic', str, self.where)
        self.trajectory = TrajectorySender(node, self.topic, [j.name for j in arm.joints])
        self.gripper = None
        if arm.gripper is not None:
            gripper_mode = config_value(cfg, 'gripper_mode', str, self.where, 'parallel_gripper_action')
            if gripper_mode in ACTION_MODES:
                self.gripper = RobotiqGripper(node, arm, gripper_mode, cfg, self.where)
            elif gripper_mode == 'forward_command':
                if 'gripper_topic' not in cfg:
                    raise InterfaceError(f'{self.where}: gripper_mode forward_command needs interface.gripper_topic: '
                                         f'ros2_robotiq_gripper runs no forward command controller (its '
                                         f'robotiq_gripper_controller is an action server: parallel_gripper_action)')
                self.gripper = ForwardGripper(node, cfg['gripper_topic'])
            else:
                raise InterfaceError(f'{self.where}: gripper_mode {gripper_mode!r}, expected one of {GRIPPER_MODES}')

    def describe(self) -> str:
        grip = f', gripper: {self.gripper.describe()}' if self.gripper is not None else ''
        return f'UR {self.mode} on {self.topic}{grip}'

    def send(self, command: Command, now: float) -> None:
        self.trajectory.send(command.positions[:, self.joint_idx], command, now)
        if self.gripper is not None:
            self.gripper.send(self.arm.gripper.to_command(command.positions[0, self.grip_idx]))
