"""The e-stop cannot silently miss: the executor hears it from a volatile (default QoS) publisher and from
a latched one that published before the executor started, and the driver latches it too, refusing every
command but the executor's stopping ramp until its own reset."""

import numpy as np
import pytest
from pi0_msgs.msg import ExecutorCommand, ExecutorStatus
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from pi0_common.commands import MODE_ACTIVE, MODE_ESTOP, Command
from pi0_common.embodiment import load_embodiment
from pi0_common.messages import command_to_msg
from pi0_common.qos import CHUNK_QOS, LATCHED_QOS
from pi0_drivers.driver_node import RobotDriverNode
from pi0_drivers.executor_node import ChunkExecutorNode
from pi0_sim.simulator_node import SimulatorNode

UR5E = load_embodiment('ur5e')


def status_of(ros, probe):
    return ros.collect(probe, ExecutorStatus, 'pi0/executor_status', LATCHED_QOS)


@pytest.mark.parametrize('qos', ['volatile', 'latched_before_start'])
def test_the_executor_latches_an_estop_from_either_kind_of_publisher(ros, qos):
    probe = ros.node('probe')
    if qos == 'volatile':
        pub = probe.create_publisher(Bool, 'pi0/estop', 10)          # rclpy's default: volatile
    else:
        pub = probe.create_publisher(Bool, 'pi0/estop', LATCHED_QOS)
        pub.publish(Bool(data=True))                                   # before the executor exists
    ros.make(SimulatorNode, {'embodiment': 'ur5e'})
    executor = ros.make(ChunkExecutorNode, {'embodiment': 'ur5e', 'hardware': False, 'status_rate_hz': 20.0})
    status = status_of(ros, probe)
    if qos == 'volatile':
        assert ros.wait_for(lambda: pub.get_subscription_count() >= 1, 5)
        pub.publish(Bool(data=True))
    assert ros.wait_for(lambda: status and status[-1].state == 'estop', 5), status[-1:] or 'no status'
    response = ros.call(probe, Trigger, 'pi0/executor/resume', Trigger.Request())
    assert not response.success                                        # only a reset clears it
    assert executor.core.state == 'estop'


def test_the_driver_latches_too_and_refuses_every_source_until_reset(ros):
    ros.make(SimulatorNode, {'embodiment': 'ur5e'})
    driver = ros.make(RobotDriverNode, {'embodiment': 'ur5e'})
    probe = ros.node('probe')
    commands = probe.create_publisher(ExecutorCommand, 'pi0/command', CHUNK_QOS)
    estop = probe.create_publisher(Bool, 'pi0/estop', 10)
    assert ros.wait_for(lambda: commands.get_subscription_count() and estop.get_subscription_count(), 5)

    def send(mode):
        now = probe.get_clock().now().nanoseconds * 1e-9
        before = driver.commands_sent + driver.commands_refused
        commands.publish(command_to_msg(Command(mode, now, UR5E.dt, np.atleast_2d(UR5E.home)), UR5E))
        assert ros.wait_for(lambda: driver.commands_sent + driver.commands_refused > before, 5)

    send(MODE_ACTIVE)
    assert driver.commands_sent == 1
    estop.publish(Bool(data=True))
    assert ros.wait_for(lambda: driver.estop_latched, 5)
    send(MODE_ACTIVE)                                                   # a teleop source, a script
    assert driver.commands_sent == 1 and driver.commands_refused == 1
    send(MODE_ESTOP)                                                    # the executor's stopping ramp
    assert driver.commands_sent == 2
    assert ros.call(probe, Trigger, 'pi0/driver/reset_estop', Trigger.Request()).success
    send(MODE_ACTIVE)
    assert driver.commands_sent == 3
