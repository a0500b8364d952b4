"""A generic ros2_control arm (Fibocom mobile and any arm without a vendor driver of its own): a
JointTrajectoryController per arm and a forward command controller on its gripper.

    trajectory_topic  trajectory_msgs/JointTrajectory to <arm_controller>/joint_trajectory, one short
                      segment per command exactly as for UR arms (controllers.TrajectorySender: stamp 0, the end
                      of row i's interval as its time_from_start, never 0, one point on entering a hold).
                      Configure the controller with interpolate_from_desired_state: true (Jazzy and
                      later; open_loop_control on Humble) so that replacing a segment does not restart
                      from the measured state.
    gripper_topic     std_msgs/Float64MultiArray [position] to a ForwardCommandController on the gripper
                      joint (command units of the embodiment's gripper), every command.
Everything here is in the standard message packages: no vendor package, no fallback needed.
"""

from __future__ import annotations

from pi0_common.commands import Command
from pi0_drivers.interfaces.base import ArmInterface, InterfaceError, check_keys, config_value
from pi0_drivers.interfaces.controllers import ForwardGripper, TrajectorySender
from pi0_drivers.interfaces.vendor import merged_config

KEYS = {'trajectory_topic', 'gripper_topic'}


class JtcArm(ArmInterface):
    vendor_hint = ('the robot\'s ros2_control bringup (controller_manager with joint_state_broadcaster, a '
                   'JointTrajectoryController per arm and a forward command controller per gripper)')

    def __init__(self, node, embodiment, arm, joint_idx, grip_idx, overrides):
        super().__init__(node, embodiment, arm, joint_idx, grip_idx, overrides)
        cfg = merged_config(arm.interface, overrides, self.where, 'jtc')
        check_keys(cfg, KEYS, self.where)
        self.topic = config_value(cfg, 'trajectory_topic', str, self.where)
        self.trajectory = TrajectorySender(node, self.topic, [j.name for j in arm.joints])
        self.gripper = None
        if arm.gripper is not None:
            self.gripper = ForwardGripper(node, config_value(cfg, 'gripper_topic', str, self.where))
        elif 'gripper_topic' in cfg:
            raise InterfaceError(f'{self.where}: interface.gripper_topic is set but the arm has no gripper')

    def describe(self) -> str:
        grip = f', gripper on {self.gripper.name}' if self.gripper else ''
        return f'JointTrajectoryController on {self.topic}{grip}'

    def send(self, command: Command, now: float) -> None:
        self.trajectory.send(command.positions[:, self.joint_idx], command, now)
        if self.gripper is not None:
            self.gripper.send(self.arm.gripper.to_command(command.positions[0, self.grip_idx]))


