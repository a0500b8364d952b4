"""The simulated franka_ros2 joint states, on the topics and at the rates its launch publishes them
(frankarobotics/franka_ros2 jazzy 29cb85a):

    franka/joint_states          the arm joints: joint_state_broadcaster, remapped by the ros2_control node
                                 (franka_fr3_moveit_config/launch/moveit.launch.py:218-223); every step here
    joint_states                 joint_state_publisher merging franka/joint_states and fr3_gripper/joint_states
                                 at 30 Hz (moveit.launch.py:246-253); nothing publishes fr3_gripper/joint_states,
                                 so the fingers stay at their default, 0
    franka_gripper/joint_states  the franka_gripper node (interface.hand_state_topic): fr3_finger_joint1 and 2,
                                 each half the width, velocity and effort 0 (franka_gripper/src/
                                 gripper_action_server.cpp:126-127, 267-277), at 15 Hz
                                 (franka_gripper/config/franka_gripper_node.yaml:3)
The embodiment's own joint_state_topic is left to the driver, which gathers it from these.
"""

from __future__ import annotations

from sensor_msgs.msg import JointState

from pi0_common.messages import to_sec
from pi0_common.qos import SENSOR_PUB_QOS

BROADCASTER_TOPIC = 'franka/joint_states'
MERGED_TOPIC, MERGED_RATE = 'joint_states', 30.0
HAND_TOPIC, HAND_RATE = 'franka_gripper/joint_states', 15.0


class FrankaStatePublisher:
    def __init__(self, node, arm, config: dict):
        self.arm_names = [j.name for j in arm.joints]
        self.finger = arm.gripper.joint if arm.gripper is not None else None
        # the hand's second finger, as franka_gripper names them (<robot_type>_finger_joint1/2)
        self.fingers = [self.finger, self.finger[:-1] + '2'] if self.finger else []
        self.pubs = {t: node.create_publisher(JointState, t, SENSOR_PUB_QOS) for t in (BROADCASTER_TOPIC, MERGED_TOPIC)}
        self.hand_pub = None
        if self.finger is not None:
            hand_topic = config.get('hand_state_topic', HAND_TOPIC)
            self.hand_pub = node.create_publisher(JointState, hand_topic, SENSOR_PUB_QOS)
        self._last = {MERGED_TOPIC: -1e9, HAND_TOPIC: -1e9}

    def _due(self, key: str, rate: float, t: float) -> bool:
        if t - self._last[key] < 1.0 / rate - 1e-4:
            return False
        self._last[key] = t
        return True

    def publish(self, names: list[str], positions: list[float], velocities: list[float], stamp) -> None:
        """Called by the simulator node after each step with the arm's simulated joint state."""
        by_name = dict(zip(names, zip(positions, velocities, strict=True), strict=True))
        arm = [by_name[n] for n in self.arm_names]
        t = to_sec(stamp)
        position, velocity = [p for p, _ in arm], [v for _, v in arm]
        msg = JointState(name=list(self.arm_names), position=position, velocity=velocity)
        msg.header.stamp = stamp
        self.pubs[BROADCASTER_TOPIC].publish(msg)
        if self._due(MERGED_TOPIC, MERGED_RATE, t):
            zeros = [0.0] * len(self.fingers)
            merged = JointState(name=self.arm_names + self.fingers, position=position + zeros,
                                velocity=velocity + zeros)
            merged.header.stamp = stamp
            self.pubs[MERGED_TOPIC].publish(merged)
        if self.hand_pub is not None and self._due(HAND_TOPIC, HAND_RATE, t):
            finger = by_name[self.finger][0]
            hand = JointState(name=list(self.fingers), position=[finger, finger], velocity=[0.0, 0.0],
                              effort=[0.0, 0.0])
            hand.header.stamp = stamp
            self.hand_pub.publish(hand)
