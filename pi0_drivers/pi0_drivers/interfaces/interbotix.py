"""Interbotix X-series arms on xs_sdk (Trossen ALOHA followers, ViperX 300 S).

Every command (50 Hz), per arm:
    group_topic   interbotix_xs_msgs/JointGroupCommand {name: group_name ("arm"), cmd: the 6 joint
                  positions of this tick (row 0), rad, in the group's joint order}
    single_topic  interbotix_xs_msgs/JointSingleCommand {name: gripper_name ("gripper"), cmd: the
                  gripper motor target, GripperSpec.to_command(g)}
xs_sdk applies each set-point at once: no interpolation and no limit checks (its README: "the nodes
do NOT check joint limits"), and the ALOHA follower config sets profile_velocity 0 (no motor-side
smoothing). So the stream must be at the control rate, already smooth (the executor's velocity
limits), and within the joint limits: the executor clamps, and this interface clamps again against
the embodiment limits, so nothing out of range reaches the motors whatever happens upstream.
Hold: the executor keeps sending the held position, which is streamed like any command. Timeout (no
command at all): nothing is sent; the servos keep their last goal position.

Operating modes (xs_modes.py): before the first command the arm group is set to position and the gripper
to current_based_position through the follower's set_operating_modes service (operating_modes_service), as
Interbotix/aloha does; aloha_bringup starts the gripper in linear_position, where the radians sent here
would be read as metres. Nothing is commanded until the service has answered; the error names it.

interbotix_xs_msgs comes with interbotix_ros_core; where it is not installed, make setup builds its
interface definitions (see vendor.py).
"""

from __future__ import annotations

from pi0_common.commands import Command
from pi0_common.messages import import_types
from pi0_common.qos import ROBOT_COMMAND_QOS
from pi0_drivers.interfaces.base import ArmInterface, check_keys, config_value
from pi0_drivers.interfaces.vendor import (
    LimitClamp,
    merged_config,
    require_types,
)
from pi0_drivers.interfaces.xs_modes import OperatingModes, mode_requests

PACKAGE = 'interbotix_xs_msgs'
TYPES = ('JointGroupCommand', 'JointSingleCommand')
INSTALL_HINT = 'build interbotix_ros_core (interbotix_xs_msgs) from Interbotix/interbotix_ros_core into your workspace'
KEYS = {'group_topic', 'single_topic', 'group_name', 'gripper_name', 'operating_modes_service',
        'arm_operating_mode', 'gripper_operating_mode'}
MODES_POLL = 0.1            # s: how often the operating modes are checked while no command comes


def _config(cfg, where, has_gripper: bool) -> dict:
    check_keys(cfg, KEYS, where)
    out = {'group_topic': config_value(cfg, 'group_topic', str, where),
           'group_name': config_value(cfg, 'group_name', str, where, 'arm'),
           'operating_modes_service': config_value(cfg, 'operating_modes_service', str, where)}
    if has_gripper:
        out['single_topic'] = config_value(cfg, 'single_topic', str, where)
        out['gripper_name'] = config_value(cfg, 'gripper_name', str, where, 'gripper')
    out['modes'] = mode_requests({**cfg, **out}, where, has_gripper)
    return out


class InterbotixArm(ArmInterface):
    vendor_hint = ('the Interbotix xs_sdk follower nodes (ros2 launch aloha aloha_bringup.launch.py, or xs_sdk_sim '
                   'for a mock)')

    def __init__(self, node, embodiment, arm, joint_idx, grip_idx, overrides):
        super().__init__(node, embodiment, arm, joint_idx, grip_idx, overrides)
        self.cfg = _config(merged_config(arm.interface, overrides, self.where, 'interbotix'), self.where,
                           arm.gripper is not None)
        self.clamp = LimitClamp(arm)
        self.joint_names = [j.name for j in arm.joints]
        self.group_type, self.single_type = require_types(import_types(PACKAGE, 'msg', TYPES), PACKAGE, self.where,
                                                          INSTALL_HINT)
        self.group_pub = node.create_publisher(self.group_type, self.cfg['group_topic'], ROBOT_COMMAND_QOS)
        self.single_pub = (node.create_publisher(self.single_type, self.cfg['single_topic'], ROBOT_COMMAND_QOS)
                           if arm.gripper is not None else None)
        (modes_type,) = require_types(import_types(PACKAGE, 'srv', ('OperatingModes',)), PACKAGE, self.where,
                                      INSTALL_HINT)
        self.modes = OperatingModes(node, modes_type, self.cfg['operating_modes_service'], self.cfg['modes'])
        self.withheld = 0                       # commands not sent: operating modes not confirmed
        node.create_timer(MODES_POLL, self.modes.ready)

    def describe(self) -> str:
        grip = f', gripper on {self.cfg["single_topic"]}' if self.single_pub is not None else ''
        return (f'Interbotix JointGroupCommand "{self.cfg["group_name"]}" on {self.cfg["group_topic"]}{grip}; '
                f'{self.modes.describe()}')

    def send(self, command: Command, now: float) -> None:
        if not self.modes.ready():
            self.withheld += 1
            self.node.get_logger().error(f'{self.where}: not commanding: {self.modes.problem()}',
                                         throttle_duration_sec=2.0)
            return
        row = command.positions[0]
        joints = self.clamp.targets(row[self.joint_idx], self.node, self.where)
        if joints is None:
            return
        gripper = None
        if self.grip_idx is not None:
            gripper = self.arm.gripper.to_command(row[self.grip_idx])    # clamps g to [0, 1]
        self.group_pub.publish(self.group_type(name=self.cfg['group_name'], cmd=[float(v) for v in joints]))
        if gripper is not None:
            self.single_pub.publish(self.single_type(name=self.cfg['gripper_name'], cmd=float(gripper)))


