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

Without interbotix_xs_msgs (it is not on the registries; it comes with interbotix_ros_core): the
real robot refuses to start; in simulation the set-points go straight to the simulated arm
(vendor.DirectSimDrive).
"""

from __future__ import annotations

from pi0_common.commands import Command
from pi0_common.qos import ROBOT_COMMAND_QOS
from pi0_drivers.interfaces.base import ArmInterface, SimEndpoint, check_keys, config_value
from pi0_drivers.interfaces.vendor import (
    DirectSimDrive,
    LimitClamp,
    import_types,
    merged_config,
    require_or_fallback,
)

PACKAGE = 'interbotix_xs_msgs'
TYPES = ('JointGroupCommand', 'JointSingleCommand')
INSTALL_HINT = 'build interbotix_ros_core (interbotix_xs_msgs) from Interbotix/interbotix_ros_core into your workspace'
KEYS = {'group_topic', 'single_topic', 'group_name', 'gripper_name'}


def _config(cfg, where, has_gripper: bool) -> dict:
    check_keys(cfg, KEYS, where)
    out = {'group_topic': config_value(cfg, 'group_topic', str, where),
           'group_name': config_value(cfg, 'group_name', str, where, 'arm')}
    if has_gripper:
        out['single_topic'] = config_value(cfg, 'single_topic', str, where)
        out['gripper_name'] = config_value(cfg, 'gripper_name', str, where, 'gripper')
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
        types = import_types(PACKAGE, 'msg', TYPES)
        self.direct = None
        if require_or_fallback(node, types, PACKAGE, self.where, INSTALL_HINT):
            self.group_type, self.single_type = types
            self.group_pub = node.create_publisher(self.group_type, self.cfg['group_topic'], ROBOT_COMMAND_QOS)
            self.single_pub = (node.create_publisher(self.single_type, self.cfg['single_topic'], ROBOT_COMMAND_QOS)
                               if arm.gripper is not None else None)
        else:
            self.direct = DirectSimDrive(node, arm, self.where)

    def describe(self) -> str:
        if self.direct is not None:
            return f'Interbotix xs_sdk (simulated directly: {PACKAGE} not installed)'
        grip = f', gripper on {self.cfg["single_topic"]}' if self.single_pub is not None else ''
        return f'Interbotix JointGroupCommand "{self.cfg["group_name"]}" on {self.cfg["group_topic"]}{grip}'

    def send(self, command: Command, now: float) -> None:
        row = command.positions[0]
        joints = self.clamp.targets(row[self.joint_idx], self.node, self.where)
        if joints is None:
            return
        gripper = None
        if self.grip_idx is not None:
            gripper = self.arm.gripper.to_command(row[self.grip_idx])    # clamps g to [0, 1]
        if self.direct is not None:
            names = self.joint_names + ([self.arm.gripper.joint] if gripper is not None else [])
            values = list(joints) + ([gripper] if gripper is not None else [])
            self.direct.positions(names, values, now)
            return
        self.group_pub.publish(self.group_type(name=self.cfg['group_name'], cmd=[float(v) for v in joints]))
        if gripper is not None:
            self.single_pub.publish(self.single_type(name=self.cfg['gripper_name'], cmd=float(gripper)))


class InterbotixSimEndpoint(SimEndpoint):
    """xs_sdk_sim's side of the command topics: set-points applied at once (the simulated joints then
    move within their velocity limits). Unknown group or joint names are refused, as xs_sdk does."""

    def __init__(self, node, world, lock, embodiment, arm, config):
        super().__init__(node, world, lock, embodiment, arm, config)
        types = import_types(PACKAGE, 'msg', TYPES)
        self.received = 0
        if types is None:
            return                  # the interface drives the SimWorld directly (see InterbotixArm)
        cfg = _config(config, f'{embodiment.name}/{arm.name}', arm.gripper is not None)
        self.group_name = cfg['group_name']
        self.joint_names = [j.name for j in arm.joints]
        self.single_names = set(self.joint_names)
        if arm.gripper is not None:
            self.single_names.add(cfg['gripper_name'])
        node.create_subscription(types[0], cfg['group_topic'], self._on_group, ROBOT_COMMAND_QOS)
        if arm.gripper is not None:
            node.create_subscription(types[1], cfg['single_topic'], self._on_single, ROBOT_COMMAND_QOS)

    def _command(self, names, values) -> None:
        with self.lock:
            try:
                self.world.command_positions(names, values, self.now(), topic=self.spec.joint_state_topic)
                self.received += 1
            except ValueError as e:
                self.node.get_logger().error(f'sim: xs_sdk command rejected: {e}', throttle_duration_sec=2.0)

    def _on_group(self, msg) -> None:
        if msg.name != self.group_name:
            self.node.get_logger().error(f"sim: xs_sdk: the group '{msg.name}' is not valid "
                                         f"(this arm has '{self.group_name}')", throttle_duration_sec=2.0)
            return
        if len(msg.cmd) != len(self.joint_names):
            self.node.get_logger().error(f'sim: xs_sdk: group {msg.name} has {len(self.joint_names)} joints, '
                                         f'got {len(msg.cmd)} commands', throttle_duration_sec=2.0)
            return
        self._command(self.joint_names, list(msg.cmd))

    def _on_single(self, msg) -> None:
        if msg.name not in self.single_names:
            self.node.get_logger().error(f"sim: xs_sdk: the joint '{msg.name}' is not valid",
                                         throttle_duration_sec=2.0)
            return
        self._command([msg.name], [msg.cmd])
