"""The simulated Interbotix xs_sdk (xs_sdk_sim's side of the follower command topics): set-points
applied at once, the simulated joints then moving within their velocity limits. Unknown group or
joint names are refused, as xs_sdk does.

    group_topic   interbotix_xs_msgs/JointGroupCommand {name: group_name ("arm"), cmd: one value per joint}
    single_topic  interbotix_xs_msgs/JointSingleCommand {name: gripper_name ("gripper") or a joint, cmd}
"""

from __future__ import annotations

from pi0_common.qos import ROBOT_COMMAND_QOS
from pi0_sim.endpoints.base import SimEndpoint, vendor_types


class InterbotixSimEndpoint(SimEndpoint):
    """xs_sdk_sim's side of the command topics: set-points applied at once (the simulated joints then
    move within their velocity limits). Unknown group or joint names are refused, as xs_sdk does."""

    def __init__(self, node, world, lock, embodiment, arm, config):
        super().__init__(node, world, lock, embodiment, arm, config)
        group_type, single_type = vendor_types('interbotix_xs_msgs', 'msg', ('JointGroupCommand',
                                                                              'JointSingleCommand'), self.where)
        self.received = 0
        self.group_name = config.get('group_name', 'arm')
        self.joint_names = [j.name for j in arm.joints]
        self.single_names = set(self.joint_names)
        if arm.gripper is not None:
            self.single_names.add(config.get('gripper_name', 'gripper'))
        node.create_subscription(group_type, config['group_topic'], self._on_group, ROBOT_COMMAND_QOS)
        if arm.gripper is not None:
            node.create_subscription(single_type, config['single_topic'], self._on_single, ROBOT_COMMAND_QOS)

    def _command(self, names, values) -> None:
        with self.lock:
            try:
                self.world.command_positions(names, values, self.now(), topic=self.spec.joint_state_topic)
                self.received += 1
            except ValueError as e:
                self.log_error(f'xs_sdk command rejected: {e}')

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

