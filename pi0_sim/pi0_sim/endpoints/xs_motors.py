"""Operating modes of the simulated xs_sdk motors and what a position command means in each, as the
Interbotix X-series driver does it (Interbotix/interbotix_xs_driver v0.3.3 c9ce74e, src/xs_driver.cpp;
the submodule of interbotix_ros_core). Plain Python.

- set_operating_modes: cmd_type 'group' sets every motor of a known group (and the group's mode), 'single'
  one known motor; an unknown group or motor, or another cmd_type, changes nothing (xs_driver.cpp:85-136);
  an unknown mode leaves the motors as they were (:249-255), though a group takes it as its mode (:103)
  and its commands then fail.
- A group command is read in the group's mode (write_commands, :401-420), a single command in the motor's
  (write_joint_command, :518-538). position, ext_position and current_based_position take radians;
  linear_position takes metres between the fingers and converts them with the swing-arm geometry
  (convert_linear_position_to_radian, :747-761). Velocity, current and pwm commands are not simulated.
- A conversion that has no solution (a radian value sent as metres) is NaN, and the Dynamixel workbench
  turns a NaN goal into the motor's zero position: it is neither > 0 nor < 0 (Interbotix/dynamixel-workbench
  ros2 3ed8229, src/dynamixel_workbench_toolbox/dynamixel_workbench.cpp:1159-1180).
"""

from __future__ import annotations

import math

POSITION_MODES = ('position', 'ext_position', 'current_based_position', 'linear_position')
MODES = POSITION_MODES + ('velocity', 'pwm', 'current')
# aloha_vx300s gripper geometry (Interbotix/interbotix_ros_manipulators 022f49e,
# interbotix_ros_xsarms/interbotix_xsarm_control/config/aloha_vx300s.yaml:12-15), metres
SWING_ARM = {'horn_radius': 0.022, 'arm_length': 0.036}


def linear_to_radian(linear_position: float, horn_radius: float, arm_length: float) -> float:
    """xs_driver.cpp:747-761: metres between the fingers -> motor angle; NaN where there is none."""
    half = linear_position / 2.0
    try:
        return math.pi / 2.0 - math.acos((horn_radius ** 2 + half ** 2 - arm_length ** 2) / (2 * horn_radius * half))
    except (ValueError, ZeroDivisionError):
        return math.nan


def goal_radians(value: float) -> float:
    """What the workbench makes of a goal in radians: a NaN lands on the zero position."""
    return value if value > 0 or value < 0 else 0.0


class XsMotors:
    """Per-motor operating modes of one simulated follower.

    Args:
        groups: group name -> motor names (as the motor config file; 'all' is added).
        singles: every motor name.
        grippers: gripper motor names (their linear conversion uses SWING_ARM).
        modes: motor or group name -> mode at start (the mode config file; default position).
    """

    def __init__(self, groups: dict[str, list[str]], singles: list[str], grippers: list[str],
                 modes: dict[str, str]):
        self.groups = {**groups, 'all': list(singles)}
        self.grippers = set(grippers)
        self.motor_mode = {m: 'position' for m in singles}
        self.group_mode = {g: 'position' for g in self.groups}
        for name, mode in modes.items():
            self.set('group' if name in self.groups else 'single', name, mode)

    def set(self, cmd_type: str, name: str, mode: str) -> str:
        """Apply a set_operating_modes request; returns '' or what xs_sdk would log as the error."""
        if cmd_type == 'group' and name in self.groups:
            motors = self.groups[name]
        elif cmd_type == 'single' and name in self.motor_mode:
            motors = [name]
        elif cmd_type in ('group', 'single'):
            return f"The '{name}' joint/group does not exist. Was it added to the motor config file?"
        else:
            return "Invalid command for argument 'cmd_type' while setting operating mode."
        if cmd_type == 'group':
            self.group_mode[name] = mode
        if mode not in MODES:
            return f"Invalid command for argument 'mode' while setting the operating mode for {name}."
        for motor in motors:
            self.motor_mode[motor] = mode
        return ''

    def radians(self, motor: str, command: float, mode: str) -> float | None:
        """The goal angle a position command becomes in ``mode``, or None when the mode takes no positions."""
        if mode not in POSITION_MODES:
            return None
        if mode == 'linear_position':
            geometry = SWING_ARM if motor in self.grippers else {'horn_radius': 0.0, 'arm_length': 0.0}
            command = linear_to_radian(command, **geometry)
        return goal_radians(command)

    def group_command(self, group: str, commands: list[float]) -> list[float] | None:
        mode = self.group_mode[group]
        out = [self.radians(m, c, mode) for m, c in zip(self.groups[group], commands, strict=True)]
        return None if None in out else out

    def single_command(self, motor: str, command: float) -> float | None:
        return self.radians(motor, command, self.motor_mode[motor])
