"""The simulated Interbotix xs_sdk of one follower: its command topics and its set_operating_modes service,
with the operating modes and their units (xs_motors.py).

    group_topic              interbotix_xs_msgs/JointGroupCommand {name: group_name ("arm"), cmd: one per joint}
    single_topic             interbotix_xs_msgs/JointSingleCommand {name: gripper_name ("gripper") or a joint}
    operating_modes_service  interbotix_xs_msgs/srv/OperatingModes (xs_sdk_obj.cpp:127-129)

It starts in the modes aloha_bringup gives the followers: the arm group in position, the gripper in
linear_position (Interbotix/aloha main 4fa6b2c, config/follower_modes_left.yaml:3-13). A position command is
read in the mode its motor (single) or group is in; so before set_operating_modes switches the gripper to
current_based_position, the motor radians a driver sends for the gripper are taken as metres between the
fingers, have no solution, and drive the gripper motor to its zero angle, past closed: as xs_sdk does.
Set-points apply at once (the simulated joints then move within their velocity limits); unknown group or
joint names are refused.
"""

from __future__ import annotations

from pi0_sim.endpoints.base import CONTROLLER_SUB_QOS, SimEndpoint, vendor_types
from pi0_sim.endpoints.xs_motors import XsMotors

ALOHA_FOLLOWER_MODES = {'gripper': 'linear_position'}      # follower_modes_left.yaml:11-13 (arm: position)


class InterbotixSimEndpoint(SimEndpoint):
    def __init__(self, node, world, lock, embodiment, arm, config):
        super().__init__(node, world, lock, embodiment, arm, config)
        group_type, single_type = vendor_types('interbotix_xs_msgs', 'msg', ('JointGroupCommand',
                                                                              'JointSingleCommand'), self.where)
        (modes_type,) = vendor_types('interbotix_xs_msgs', 'srv', ('OperatingModes',), self.where)
        self.received = 0
        self.group_name = config.get('group_name', 'arm')
        self.joint_names = [j.name for j in arm.joints]
        singles = list(self.joint_names)
        grippers = []
        if arm.gripper is not None:
            grippers = [config.get('gripper_name', 'gripper')]
            singles += grippers
        start = {g: ALOHA_FOLLOWER_MODES['gripper'] for g in grippers}
        self.motors = XsMotors({self.group_name: self.joint_names}, singles, grippers, start)
        node.create_subscription(group_type, config['group_topic'], self._on_group, CONTROLLER_SUB_QOS)
        if arm.gripper is not None:
            node.create_subscription(single_type, config['single_topic'], self._on_single, CONTROLLER_SUB_QOS)
        if config.get('operating_modes_service'):
            node.create_service(modes_type, config['operating_modes_service'], self._on_modes)

    def _on_modes(self, request, response):
        error = self.motors.set(request.cmd_type, request.name, request.mode)
        if error:
            self.log_error(f'xs_sdk: {error}')
        return response                     # xs_sdk answers every request, with an empty response

    def _command(self, names, radians) -> None:
        with self.lock:
            try:
                self.world.command_positions(names, radians, self.now(), topic=self.spec.joint_state_topic)
                self.received += 1
            except ValueError as e:
                self.log_error(f'xs_sdk command rejected: {e}')

    def _on_group(self, msg) -> None:
        if msg.name not in self.motors.groups:
            self.log_error(f"xs_sdk: the group '{msg.name}' is not valid (this arm has '{self.group_name}')")
            return
        names = self.motors.groups[msg.name]
        if len(msg.cmd) != len(names):
            self.log_error(f'xs_sdk: group {msg.name} has {len(names)} joints, got {len(msg.cmd)} commands')
            return
        radians = self.motors.group_command(msg.name, list(msg.cmd))
        if radians is None:
            self.log_error(f'xs_sdk: group {msg.name} is in mode {self.motors.group_mode[msg.name]}, which the '
                           f'simulator does not run')
            return
        self._command(names, radians)

    def _on_single(self, msg) -> None:
        if msg.name not in self.motors.motor_mode:
            self.log_error(f"xs_sdk: the joint '{msg.name}' is not valid")
            return
        radians = self.motors.single_command(msg.name, msg.cmd)
        if radians is None:
            self.log_error(f'xs_sdk: {msg.name} is in mode {self.motors.motor_mode[msg.name]}, which the simulator '
                           f'does not run')
            return
        self._command([msg.name], [radians])
