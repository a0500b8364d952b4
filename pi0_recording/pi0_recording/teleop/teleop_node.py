"""Teleop node: a human drives the robot through pi0/command, as the chunk executor would.

Subscribes  the embodiment's joint state topics (the follower's measured state, for a jump-free
            start), leader_topics (sensor_msgs/JointState, arm_source leader), twist_topic
            (geometry_msgs/Twist or TwistStamped, base_source twist: teleop_twist_joy, spacenav)
Publishes   pi0/command (pi0_msgs/ExecutorCommand) at the control rate, once the follower's state
            is known

Its callbacks run one at a time on the node's SingleThreadedExecutor (pi0_common/spin.py), so the
sources and the command tick share their state without a lock.

The executor must not run at the same time (two sources on pi0/command). Joysticks and spacemice:
remap their output onto teleop/cmd_vel, e.g. ``ros2 run teleop_twist_joy teleop_node --ros-args
-r cmd_vel:=teleop/cmd_vel`` or ``ros2 run spacenav spacenav_node --ros-args -r
spacenav/twist:=teleop/cmd_vel``.
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Twist, TwistStamped
from pi0_msgs.msg import ExecutorCommand
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState

from pi0_common.embodiment import MissingJointsError, load_embodiment
from pi0_common.joint_states import JointStateCache
from pi0_common.messages import command_to_msg
from pi0_common.params import Param, ParameterError, declare_all, in_range, non_negative, one_of, positive
from pi0_common.qos import CHUNK_QOS, SENSOR_QOS
from pi0_common.spin import run_node
from pi0_drivers.interfaces.twist import twist_axes
from pi0_drivers.safety import Limits
from pi0_recording.teleop.commander import Target, TeleopCommander
from pi0_recording.teleop.leader import (
    ALOHA_LEADER_GRIPPER_CLOSED,
    ALOHA_LEADER_GRIPPER_OPEN,
    LeaderGripper,
    LeaderMapping,
    default_leader_topic,
)

PARAMETERS = [
    Param('embodiment', 'trossen_bimanual', 'Embodiment name (a file in pi0_common/embodiments) or a YAML path.'),
    Param('arm_source', 'leader', 'leader: follower arms mirror leader arms; hold: arms hold where they are.',
          one_of('leader', 'hold')),
    Param('base_source', 'twist', 'twist: the base follows twist_topic; none: base velocity stays zero.',
          one_of('twist', 'none')),
    Param('leader_gripper_joint', 'gripper', 'Joint of the leader joint state that reads the gripper handle.'),
    Param('leader_gripper_open', ALOHA_LEADER_GRIPPER_OPEN, 'Leader gripper reading when open (rad; '
          'Interbotix/aloha LEADER_GRIPPER_JOINT_OPEN).'),
    Param('leader_gripper_closed', ALOHA_LEADER_GRIPPER_CLOSED, 'Leader gripper reading when closed (rad; '
          'Interbotix/aloha LEADER_GRIPPER_JOINT_CLOSE).'),
    Param('twist_topic', 'teleop/cmd_vel', 'Base velocity input (joystick or spacemouse).'),
    Param('twist_stamped', False, 'twist_topic carries TwistStamped (teleop_twist_joy publish_stamped_twist).'),
    Param('rate_hz', 0.0, 'Command rate in Hz; 0 = the embodiment control rate.', non_negative),
    Param('leader_timeout', 0.2, 'Seconds without a leader state after which its arm holds.', positive),
    Param('twist_timeout', 0.3, 'Seconds without a twist after which the base gets zero velocity.', positive),
    Param('velocity_scale', 1.0, 'Fraction of the joint velocity limits the follower may use.', in_range(0.01, 1.0)),
]
LEADER_TOPICS = 'leader_topics'


class TeleopNode(Node):
    def __init__(self, **kwargs):
        super().__init__('pi0_teleop', **kwargs)
        p = self.params = declare_all(self, PARAMETERS)
        emb = self.embodiment = load_embodiment(p.embodiment)
        topics = self.declare_parameter(LEADER_TOPICS, Parameter.Type.STRING_ARRAY, ParameterDescriptor(
            read_only=True, description='Leader joint state topic per arm (arm order of the embodiment); empty: '
            'follower_* -> leader_* (ALOHA), else leader/<follower topic>.')).value or []
        topics = list(topics) or [default_leader_topic(a.joint_state_topic) for a in emb.arms]
        try:
            self.leaders = LeaderMapping(emb, topics, LeaderGripper(p.leader_gripper_joint, p.leader_gripper_open,
                                                                    p.leader_gripper_closed))
        except ValueError as e:
            raise ParameterError(f'pi0_teleop: {LEADER_TOPICS} / leader_gripper_*: {e}') from None
        self.commander = TeleopCommander(emb, Limits.from_embodiment(emb, p.velocity_scale), p.leader_timeout,
                                         p.twist_timeout)
        self.follower = JointStateCache(emb)
        self._arm_targets: dict[int, Target] = {}
        self._base: Target | None = None
        self.commands_sent = 0

        for topic in emb.joint_state_topics:
            self.create_subscription(JointState, topic, lambda m, t=topic: self._on_follower(t, m), SENSOR_QOS)
        if p.arm_source == 'leader':
            for i, topic in enumerate(self.leaders.topics):
                self.create_subscription(JointState, topic, lambda m, i=i: self._on_leader(i, m), SENSOR_QOS)
        if p.base_source == 'twist' and emb.base is not None:
            kind = TwistStamped if p.twist_stamped else Twist
            self.create_subscription(kind, p.twist_topic, self._on_twist, SENSOR_QOS)
        self.pub = self.create_publisher(ExecutorCommand, 'pi0/command', CHUNK_QOS)
        self.create_timer(1.0 / (p.rate_hz or emb.control_rate_hz), self._on_tick)
        sources = [f'arms: {"leaders on " + ", ".join(topics) if p.arm_source == "leader" else "hold"}']
        if emb.base is not None:
            sources.append(f'base: {p.twist_topic if p.base_source == "twist" else "zero"}')
        self.get_logger().info(f'{emb.name} teleop ({"; ".join(sources)}); waiting for the follower state')

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # Sources are stamped with their receive time: leader rigs and joysticks have clocks of their own.
    def _on_follower(self, topic: str, msg: JointState) -> None:
        try:
            self.follower.update(topic, list(msg.name), list(msg.position), self.now())
        except ValueError as e:
            self.get_logger().error(f'follower state ignored: {e}', throttle_duration_sec=5.0)

    def _on_leader(self, arm_index: int, msg: JointState) -> None:
        try:
            indices, values = self.leaders.arm_target(arm_index, list(msg.name), list(msg.position))
        except MissingJointsError as e:
            self.get_logger().error(f'leader state ignored, the arm holds: {e}', throttle_duration_sec=5.0)
            return
        self._arm_targets[arm_index] = Target(indices, values, self.now())

    def _on_twist(self, msg) -> None:
        axes = twist_axes(msg.twist if self.params.twist_stamped else msg)
        base = self.embodiment.base
        self._base = Target(self.embodiment.base_indices(), np.array([axes[a] for a in base.axes]), self.now())

    def _on_tick(self) -> None:
        now = self.now()
        measured = None
        if not self.commander.started:
            try:
                measured, _ = self.follower.state(require_base=False)
            except MissingJointsError as e:
                self.get_logger().warning(f'not commanding yet: {e}', throttle_duration_sec=5.0)
                return
        command = self.commander.tick(now, measured, list(self._arm_targets.values()), self._base)
        if command is not None:
            self.pub.publish(command_to_msg(command, self.embodiment))
            self.commands_sent += 1


def main(args=None):
    try:
        run_node(TeleopNode, args)
    except KeyboardInterrupt:
        pass    # a second SIGINT during clean-up (the process group and launch both sent one)


if __name__ == '__main__':
    main()
