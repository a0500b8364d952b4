"""The teleop node over real DDS, with fake leader arms (hardware) and a fake joystick: it waits
for the follower's state, starts where the follower is, mirrors the leaders within the rate limits,
drives the base from the twist, holds the arms and stops the base when the inputs go quiet; every
command passes the driver's own validation."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import rclpy
from geometry_msgs.msg import Twist
from pi0_msgs.msg import ExecutorCommand
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState

from pi0_common.commands import MODE_ACTIVE, MODE_HOLD
from pi0_common.embodiment import load_embodiment
from pi0_common.messages import command_from_msg
from pi0_common.qos import CHUNK_QOS, SENSOR_PUB_QOS
from pi0_drivers.safety import Limits
from pi0_recording.teleop.teleop_node import TeleopNode

EMB = load_embodiment('trossen_mobile')
JOINTS = ['waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle', 'wrist_rotate']
LEADER_POSE = np.array([0.3, -0.5, 0.8, 0.1, -0.2, 0.4])
LEADER_GRIPPER = 0.3                               # rad on the leader handle


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, 'condition not reached in time'
        time.sleep(0.02)


class Rig(Node):
    """Follower joint states (always), leader arms and a joystick (while ``driving``)."""

    def __init__(self, context):
        super().__init__('fake_aloha_rig', context=context)
        self.followers = [self.create_publisher(JointState, f'follower_{s}/joint_states', SENSOR_PUB_QOS)
                          for s in ('left', 'right')]
        self.leaders = [self.create_publisher(JointState, f'leader_{s}/joint_states', SENSOR_PUB_QOS)
                        for s in ('left', 'right')]
        self.joystick = self.create_publisher(Twist, 'teleop/cmd_vel', SENSOR_PUB_QOS)
        self.follow, self.driving = False, False
        self.commands: list[ExecutorCommand] = []
        self.create_subscription(ExecutorCommand, 'pi0/command', self.commands.append, CHUNK_QOS)
        self.create_timer(0.02, self._publish)

    def _publish(self):
        if self.follow:
            home = EMB.home
            for pub, start in zip(self.followers, (0, 7), strict=True):
                pub.publish(JointState(name=JOINTS + ['left_finger'],
                                       position=list(home[start:start + 6]) + [0.0579]))
        if self.driving:
            for pub in self.leaders:
                pub.publish(JointState(name=['gripper'] + JOINTS, position=[LEADER_GRIPPER] + list(LEADER_POSE)))
            twist = Twist()
            twist.linear.x, twist.angular.z = 0.3, -0.4
            self.joystick.publish(twist)


@pytest.fixture
def stack():
    context = rclpy.Context()
    rclpy.init(context=context)
    teleop = TeleopNode(context=context, parameter_overrides=[Parameter('embodiment', value='trossen_mobile')])
    rig = Rig(context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(teleop)
    executor.add_node(rig)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    yield teleop, rig
    executor.shutdown(timeout_sec=2.0)
    thread.join(timeout=5.0)
    teleop.destroy_node()
    rig.destroy_node()
    rclpy.try_shutdown(context=context)


def test_leader_arms_and_joystick_drive_the_follower_safely(stack):
    teleop, rig = stack
    rig.driving = True                                   # leaders and joystick, but no follower state yet
    time.sleep(0.3)
    assert rig.commands == [] and teleop.commands_sent == 0

    rig.follow = True
    wait_until(lambda: len(rig.commands) > 0)
    first = command_from_msg(rig.commands[0], EMB)
    np.testing.assert_allclose(first.positions[0], EMB.home, atol=1e-6)   # starts where the follower is

    goal = EMB.home.copy()
    gripper = (0.8298 - LEADER_GRIPPER) / (0.8298 + 0.0552)
    goal[0:7] = list(LEADER_POSE) + [gripper]
    goal[7:14] = list(LEADER_POSE) + [gripper]
    goal[EMB.base_indices()] = [0.3, -0.4]
    wait_until(lambda: np.allclose(command_from_msg(rig.commands[-1], EMB).positions[0], goal, atol=1e-5))

    rig.driving = False                                   # leaders unplugged, joystick released
    wait_until(lambda: command_from_msg(rig.commands[-1], EMB).mode == MODE_HOLD)
    wait_until(lambda: np.allclose(command_from_msg(rig.commands[-1], EMB).positions[0, EMB.base_indices()], 0.0))
    last = command_from_msg(rig.commands[-1], EMB).positions[0]
    np.testing.assert_allclose(last[:14], goal[:14], atol=1e-5)             # the arms hold

    commands = [command_from_msg(m, EMB) for m in list(rig.commands)]        # all pass the driver's checks
    assert {c.mode for c in commands} == {MODE_ACTIVE, MODE_HOLD}
    limits = Limits.from_embodiment(EMB)
    for a, b in zip(commands, commands[1:], strict=False):
        step = np.abs(b.positions[0] - a.positions[0])
        assert np.all(step <= limits.max_rate * (b.stamp - a.stamp) + 1e-6)  # never faster than allowed
