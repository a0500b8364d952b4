"""The robot driver as a managed node, driven through its real lifecycle services over DDS: it sends
the robot nothing unless active, and configure/cleanup build and destroy the vendor interface."""

import numpy as np
from pi0_msgs.msg import ExecutorCommand
from trajectory_msgs.msg import JointTrajectory

from pi0_common.commands import MODE_ACTIVE, Command
from pi0_common.embodiment import load_embodiment
from pi0_common.messages import command_to_msg
from pi0_common.qos import CHUNK_QOS
from pi0_drivers.driver_node import RobotDriverNode

TRAJECTORY = 'scaled_joint_trajectory_controller/joint_trajectory'
DRIVER = 'pi0_robot_driver'


def test_driver_sends_only_while_active(ros):
    emb = load_embodiment('ur5e')
    node = ros.make(RobotDriverNode, {'embodiment': 'ur5e'}, lifecycle='unconfigured')
    probe = ros.node('probe')
    sent = ros.collect(probe, JointTrajectory, TRAJECTORY)
    pub = probe.create_publisher(ExecutorCommand, 'pi0/command', CHUNK_QOS)

    def now():
        return probe.get_clock().now().nanoseconds * 1e-9

    def command_for(seconds: float):
        """Publish a fresh command for ``seconds``; True when the vendor topic got something meanwhile."""
        rows = np.tile(emb.home, (4, 1))
        before = len(sent)
        got = False
        for _ in range(int(seconds / 0.05)):
            pub.publish(command_to_msg(Command(MODE_ACTIVE, now(), 0.05, rows, 1), emb))
            if ros.wait_for(lambda: len(sent) > before, 0.05):
                got = True
        return got

    assert ros.lifecycle_state(probe, DRIVER) == 'unconfigured'
    assert node.count_publishers(TRAJECTORY) == 0               # no vendor interface before configure
    assert ros.transition(probe, DRIVER, 'configure')
    assert ros.lifecycle_state(probe, DRIVER) == 'inactive'
    assert ros.wait_for(lambda: probe.count_publishers(TRAJECTORY) == 1, 5)
    assert ros.wait_for(lambda: pub.get_subscription_count() > 0, 5)
    assert not command_for(1.0)                                  # inactive: nothing reaches the robot
    assert node.commands_sent == 0

    assert ros.transition(probe, DRIVER, 'activate')
    assert command_for(1.0)
    assert node.commands_sent > 0

    assert ros.transition(probe, DRIVER, 'deactivate')
    sent_before, count = len(sent), node.commands_sent
    assert not command_for(1.0)                                  # deactivated: it stops sending
    assert len(sent) == sent_before and node.commands_sent == count

    assert ros.transition(probe, DRIVER, 'cleanup')
    assert ros.lifecycle_state(probe, DRIVER) == 'unconfigured'
    assert ros.wait_for(lambda: probe.count_publishers(TRAJECTORY) == 0, 5)   # the interface is gone
    assert ros.transition(probe, DRIVER, 'shutdown')
    assert ros.lifecycle_state(probe, DRIVER) == 'finalized'


def test_shutdown_from_active_stops_sending(ros):
    node = ros.make(RobotDriverNode, {'embodiment': 'ur5e'})
    probe = ros.node('probe')
    assert ros.lifecycle_state(probe, DRIVER) == 'active' and node.active
    assert ros.transition(probe, DRIVER, 'shutdown')
    assert ros.lifecycle_state(probe, DRIVER) == 'finalized' and not node.active
    assert ros.wait_for(lambda: probe.count_publishers(TRAJECTORY) == 0, 5)
