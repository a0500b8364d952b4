"""The simulated ARX X5 vendor node (arx_x5_controller): RobotCmd set-points applied at once in
position-control mode, RobotStatus published from the simulated arm after every simulation step.

    command_topic  <pkg>/msg/RobotCmd      joint_pos[6] (rad), gripper, mode (default name arm_cmd)
    status_topic   <pkg>/msg/RobotStatus   joint_pos[7], joint_vel[7]: six joints, then the gripper
                                           (default name arm_status)

The gripper is in the vendor node's units, the motor angle (0 closed, about 5 open), taken as given
(ARXroboticsX/ARX_X5 c783287, ROS2/X5_ws/src/arx_x5_ros2/arx_x5_controller/src/X5Controller.cpp:104) and
reported in the same units; the embodiment's gripper command_open/closed are those units.

<pkg> is interface.msg_package, by default the vendor's arx5_arm_msg. The status is
this arm's joint state on the wire, so the simulator leaves the arm's JointState to the driver's
bridge (publishes_state), as on the real robot.
"""

from __future__ import annotations

from pi0_common.qos import SENSOR_PUB_QOS
from pi0_sim.endpoints.base import CONTROLLER_SUB_QOS, SimEndpoint, vendor_types

POSITION_CONTROL = 5        # the vendor's arm-state enum: joint position control


class ArxSimEndpoint(SimEndpoint):
    """The vendor node's side: RobotCmd set-points applied at once in position-control mode (the
    simulated joints then move within their velocity limits), RobotStatus published from the
    simulated arm at the simulator's state rate. Since the status is this arm's joint state on the
    wire, the simulator leaves the JointState to the driver's bridge (publishes_state)."""

    def __init__(self, node, world, lock, embodiment, arm, config):
        super().__init__(node, world, lock, embodiment, arm, config)
        self.received = 0
        self.publishes_state = True
        cmd_type, self.status_type = vendor_types(config.get('msg_package', 'arx5_arm_msg'), 'msg',
                                                   ('RobotCmd', 'RobotStatus'), self.where)
        self.names = [j.name for j in arm.joints] + [arm.gripper.joint]
        self.status_pub = node.create_publisher(self.status_type, config['status_topic'], SENSOR_PUB_QOS)
        node.create_subscription(cmd_type, config['command_topic'], self._on_command, CONTROLLER_SUB_QOS)

    def _on_command(self, msg) -> None:
        if msg.mode != POSITION_CONTROL:
            self.node.get_logger().warning(f'sim: ARX mode {msg.mode} is not simulated (only {POSITION_CONTROL}, '
                                           f'joint position control)', throttle_duration_sec=5.0)
            return
        with self.lock:
            try:
                self.world.command_positions(self.names, [float(v) for v in msg.joint_pos] + [float(msg.gripper)],
                                             self.now(), topic=self.spec.joint_state_topic)
                self.received += 1
            except ValueError as e:
                self.log_error(f'ARX command rejected: {e}')

    def publish_state(self, names: list[str], positions: list[float], velocities: list[float], stamp) -> None:
        """Called by the simulator node after each step with this arm's simulated joint state."""
        by_name = dict(zip(names, zip(positions, velocities, strict=True), strict=True))
        msg = self.status_type()
        msg.header.stamp = stamp
        for i, name in enumerate(self.names):       # joints 0..5, then the gripper at index 6
            msg.joint_pos[i], msg.joint_vel[i] = by_name[name]
        self.status_pub.publish(msg)

