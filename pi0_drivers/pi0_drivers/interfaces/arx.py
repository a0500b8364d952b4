"""ARX X5 arms on the vendor's ROS 2 node (ARXroboticsX/ARX_X5, arx_x5_controller): a thin driver with
this topic contract, per arm (topics from the embodiment's interface block, all remappable):

    command_topic  (we publish, every command: 50 Hz)   <pkg>/msg/RobotCmd
                     header.stamp   now
                     joint_pos[6]   this tick's joint targets (row 0), rad, clamped to the embodiment
                                    limits (the vendor node forwards them to the motors as they are)
                     gripper        GripperSpec.to_command(g), in the vendor's gripper units: the motor
                                    angle, 0 closed to about 5 open, passed to the motor unchanged
                                    (ARXroboticsX/ARX_X5 c783287, ROS2/X5_ws/src/arx_x5_ros2/
                                    arx_x5_controller/src/X5Controller.cpp:104, setCatch); not metres
                     mode           control_mode, 5 = POSITION_CONTROL in the vendor's arm state enum
                                    (0 soft, 1 go home, 2 protect, 3 gravity compensation,
                                    4 end-effector control, 5 joint position control)
                     end_pos[6]     zeros (used by the vendor only in end-effector mode)
    status_topic   (the vendor node publishes, 100 Hz-1 kHz)   <pkg>/msg/RobotStatus
                     joint_pos[7], joint_vel[7]: the six joints then the gripper
    joint_state_topic  (we publish, one message per status)   sensor_msgs/JointState
                     name: the embodiment's joint names (joint1..joint6) and gripper joint ("gripper");
                     position and velocity from the status as they come (the embodiment's gripper
                     state_open/state_closed must be calibrated in the vendor's gripper units);
                     header.stamp from the status (now if the vendor left it 0). Motor currents are
                     not passed on as effort (they are amperes, not N m). The publisher is created
                     with the first status, so the driver's "nothing publishes joint states" warning
                     still fires while the vendor node is down.
Hold: the executor keeps sending the held position, streamed like any command. Timeout: nothing is
sent; the vendor controller keeps its last target.

<pkg> is interface.msg_package, by default arx5_arm_msg: the message package of the vendor's ROS 2
workspace (ARXroboticsX/ARX_X5, ROS2/X5_ws/src/arxmsgros2/arx5_arm_msg), which its arx_x5_controller is
built against. ROS 2 type names include the package, so a differently named copy of the same fields
is another type on the wire: set msg_package to whatever the vendor node on the robot was built with.
The vendor node's own topic names are arm_cmd (arm_sub_topic_name) and arm_status (arm_pub_topic_name)
(X5Controller.cpp:31-41, config/single_arm.yaml:5-6); the embodiments expect one node per arm in the
namespace arx_left / arx_right, so arx_<side>/arm_cmd and arx_<side>/arm_status.

The package comes with the vendor's workspace; where it is not installed, make setup builds its
interface definitions (see vendor.py).
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import JointState

from pi0_common.commands import Command
from pi0_common.messages import import_types, to_sec, to_time_msg
from pi0_common.qos import ROBOT_COMMAND_QOS, SENSOR_PUB_QOS, SENSOR_QOS
from pi0_drivers.interfaces.base import ArmInterface, InterfaceError, check_keys, config_value
from pi0_drivers.interfaces.vendor import (
    LimitClamp,
    merged_config,
    require_types,
)

DEFAULT_PACKAGE = 'arx5_arm_msg'
INSTALL_HINT = 'build the vendor workspace of ARXroboticsX/ARX_X5 (ROS2/X5_ws) and source it'
KEYS = {'command_topic', 'status_topic', 'msg_package', 'control_mode'}
POSITION_CONTROL = 5
STATUS_JOINTS = 6           # RobotStatus arrays: six joints, then the gripper at index 6


def import_arx(package: str) -> tuple | None:
    """(RobotCmd, RobotStatus) of the given ARX message package, or None when it is not installed."""
    return import_types(package, 'msg', ('RobotCmd', 'RobotStatus'))


def _config(cfg: dict, where: str) -> dict:
    check_keys(cfg, KEYS, where)
    out = {'command_topic': config_value(cfg, 'command_topic', str, where),
           'status_topic': config_value(cfg, 'status_topic', str, where),
           'msg_package': config_value(cfg, 'msg_package', str, where, DEFAULT_PACKAGE),
           'control_mode': config_value(cfg, 'control_mode', int, where, POSITION_CONTROL)}
    if not out['msg_package'].isidentifier():
        raise InterfaceError(f'{where}: interface.msg_package {out["msg_package"]!r} is not a package name')
    return out


def status_to_joint_state(msg, names: list[str], stamp: float) -> JointState | None:
    """JointState from a RobotStatus (len(names) - 1 joints, then the gripper), or None when non-finite."""
    n = len(names) - 1
    position = [float(v) for v in msg.joint_pos[:n]] + [float(msg.joint_pos[STATUS_JOINTS])]
    velocity = [float(v) for v in msg.joint_vel[:n]] + [float(msg.joint_vel[STATUS_JOINTS])]
    if not np.all(np.isfinite(position + velocity)):
        return None
    out = JointState(name=list(names), position=position, velocity=velocity)
    out.header.stamp = msg.header.stamp if to_sec(msg.header.stamp) > 0 else to_time_msg(stamp)
    return out


class ArxArm(ArmInterface):
    vendor_hint = 'the ARX vendor node (arx_x5_controller from ARXroboticsX/ARX_X5) for each arm'

    def __init__(self, node, embodiment, arm, joint_idx, grip_idx, overrides):
        super().__init__(node, embodiment, arm, joint_idx, grip_idx, overrides)
        if arm.gripper is None or len(arm.joints) != STATUS_JOINTS:
            raise InterfaceError(f'{self.where}: the ARX driver needs {STATUS_JOINTS} joints and a gripper '
                                 f'(the vendor messages have exactly those)')
        self.cfg = _config(merged_config(arm.interface, overrides, self.where, 'arx'), self.where)
        self.clamp = LimitClamp(arm)
        self.names = [j.name for j in arm.joints] + [arm.gripper.joint]
        self.package = self.cfg['msg_package']
        types = import_arx(self.package)
        self.state_pub = None
        self.statuses = 0
        self.cmd_type, status_type = require_types(types, self.package, self.where, INSTALL_HINT)
        self.cmd_pub = node.create_publisher(self.cmd_type, self.cfg['command_topic'], ROBOT_COMMAND_QOS)
        node.create_subscription(status_type, self.cfg['status_topic'], self._on_status, SENSOR_QOS)

    def describe(self) -> str:
        return (f'ARX {self.package}/RobotCmd on {self.cfg["command_topic"]}, RobotStatus on '
                f'{self.cfg["status_topic"]} -> JointState on {self.arm.joint_state_topic}')

    def send(self, command: Command, now: float) -> None:
        row = command.positions[0]
        joints = self.clamp.targets(row[self.joint_idx], self.node, self.where)
        if joints is None:
            return
        gripper = self.arm.gripper.to_command(row[self.grip_idx])
        msg = self.cmd_type(joint_pos=[float(v) for v in joints], gripper=float(gripper),
                            mode=self.cfg['control_mode'])
        msg.header.stamp = to_time_msg(now)
        self.cmd_pub.publish(msg)

    def _on_status(self, msg) -> None:
        state = status_to_joint_state(msg, self.names, self.node.get_clock().now().nanoseconds * 1e-9)
        if state is None:
            self.node.get_logger().error(f'{self.where}: non-finite RobotStatus on {self.cfg["status_topic"]}, '
                                         f'not passed on', throttle_duration_sec=2.0)
            return
        if self.state_pub is None:
            self.state_pub = self.node.create_publisher(JointState, self.arm.joint_state_topic, SENSOR_PUB_QOS)
        self.statuses += 1
        self.state_pub.publish(state)


