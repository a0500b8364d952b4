"""Commands to the robot's controllers go out with depth 1: each is a whole set-point or segment that
supersedes the one before, so after a stall only the newest may be delivered, never a queue of stale ones."""

import pytest
from rclpy.qos import HistoryPolicy, ReliabilityPolicy

from pi0_common.qos import ROBOT_COMMAND_QOS
from pi0_drivers.driver_node import RobotDriverNode

from .harness import vendor

COMMAND_KEYS = ('trajectory_topic', 'gripper_topic', 'group_topic', 'single_topic', 'command_topic', 'topic')


def test_the_command_profile_keeps_only_the_newest():
    assert ROBOT_COMMAND_QOS.depth == 1
    assert ROBOT_COMMAND_QOS.history == HistoryPolicy.KEEP_LAST
    assert ROBOT_COMMAND_QOS.reliability == ReliabilityPolicy.RELIABLE     # controllers subscribe reliable


@pytest.mark.parametrize('embodiment', ['ur5e', 'franka', 'trossen_mobile', 'arx_mobile', 'fibocom_mobile'])
def test_every_command_publisher_of_the_driver_offers_depth_1(ros, embodiment):
    for package in ('interbotix_xs_msgs', 'arx5_arm_msg', 'franka_msgs'):
        vendor(package)
    node = ros.make(RobotDriverNode, {'embodiment': embodiment}, namespace='/qos')
    emb = node.embodiment
    blocks = [a.interface for a in emb.arms] + ([emb.base.interface] if emb.base else [])
    topics = [b[k] for b in blocks for k in COMMAND_KEYS if k in b]
    assert topics
    # the graph does not carry the history depth: ask the driver's own publishers
    depths = {p.topic_name: p.qos_profile.depth for p in node.publishers}
    for topic in topics:
        resolved = node.resolve_topic_name(topic)
        assert resolved in depths, f'{embodiment}: the driver does not publish {topic}'
        assert depths[resolved] == 1, f'{embodiment}: {topic} depth {depths[resolved]}'
