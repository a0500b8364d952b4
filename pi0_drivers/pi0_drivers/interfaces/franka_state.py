"""The Franka arm's joint state, gathered from where franka_ros2 really publishes it (frankarobotics/
franka_ros2 jazzy 29cb85a):

    arm   the arm joints: ros2_control's joint_state_broadcaster, remapped to franka/joint_states
          (franka_fr3_moveit_config/launch/moveit.launch.py:218-223) at 1 kHz, merged by a
          joint_state_publisher into joint_states at 30 Hz (:246-253). interface.arm_state_topic, by default
          joint_states; only the embodiment's arm joints are taken from it.
    hand  the franka_gripper node publishes its fingers on its own ~/joint_states, franka_gripper/joint_states
          (franka_gripper/src/gripper_action_server.cpp:126-127; node name franka_gripper,
          franka_gripper/launch/gripper.launch.py:43-57): fr3_finger_joint1 and 2, each half the width
          (:267-277), at 15 Hz (franka_gripper/config/franka_gripper_node.yaml:3). interface.hand_state_topic.

moveit.launch.py merges fr3_gripper/joint_states instead (:252), which nothing publishes, so its
joint_states carries the fingers at 0 forever; franka_bringup's franka.launch.py merges
franka_gripper/joint_states (:121-124). Either way the fingers are read here from franka_gripper itself.

Both are passed on, each message with its own stamp and only its own joints, on the arm's
joint_state_topic (the state readers merge by joint name). The publisher is created with the first
message, so the driver's "nothing publishes joint states" warning still fires while franka_ros2 is down.
"""

from __future__ import annotations

from sensor_msgs.msg import JointState

from pi0_common.qos import SENSOR_PUB_QOS, SENSOR_QOS

ARM_STATE_TOPIC = 'joint_states'
HAND_STATE_TOPIC = 'franka_gripper/joint_states'


class FrankaStateBridge:
    def __init__(self, node, arm, arm_topic: str, hand_topic: str):
        self.node, self.out_topic = node, arm.joint_state_topic
        self.arm_names = [j.name for j in arm.joints]
        self.finger = arm.gripper.joint if arm.gripper is not None else None
        self.arm_topic, self.hand_topic = arm_topic, hand_topic
        self.pub = None
        self.passed = {'arm': 0, 'hand': 0}
        node.create_subscription(JointState, arm_topic, self._on_arm, SENSOR_QOS)
        if self.finger is not None:
            node.create_subscription(JointState, hand_topic, self._on_hand, SENSOR_QOS)

    def describe(self) -> str:
        hand = f' and the hand from {self.hand_topic}' if self.finger else ''
        return f'joint states: the arm from {self.arm_topic}{hand}, on {self.out_topic}'

    def _on_arm(self, msg: JointState) -> None:
        self._pass(msg, [n for n in msg.name if n in self.arm_names and n != self.finger], 'arm')

    def _on_hand(self, msg: JointState) -> None:
        self._pass(msg, list(msg.name), 'hand')

    def _pass(self, msg: JointState, names: list[str], part: str) -> None:
        index = {n: i for i, n in enumerate(msg.name)}
        if not names or len(msg.position) < len(msg.name):
            return
        out = JointState(header=msg.header, name=names, position=[msg.position[index[n]] for n in names])
        if len(msg.velocity) == len(msg.name):
            out.velocity = [msg.velocity[index[n]] for n in names]
        if self.pub is None:
            self.pub = self.node.create_publisher(JointState, self.out_topic, SENSOR_PUB_QOS)
        self.passed[part] += 1
        self.pub.publish(out)
