"""The chunk executor node with the simulated UR5e driver, over real DDS; the test plays the policy."""

import numpy as np
import pytest
from pi0_msgs.msg import ExecutorCommand, ExecutorStatus
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from pi0_common.embodiment import load_embodiment
from pi0_common.messages import make_chunk_msg, to_sec
from pi0_common.qos import CHUNK_QOS, LATCHED_QOS
from pi0_drivers.driver_node import RobotDriverNode
from pi0_drivers.executor_node import ChunkExecutorNode
from pi0_sim.simulator_node import SimulatorNode

DT = 0.05


@pytest.fixture
def stack(ros):
    emb = load_embodiment('ur5e')
    ros.make(SimulatorNode, {'embodiment': 'ur5e'})
    ros.make(RobotDriverNode, {'embodiment': 'ur5e'})
    executor = ros.make(ChunkExecutorNode, {'embodiment': 'ur5e', 'overrun_steps': 4, 'status_rate_hz': 20.0,
                                            'hardware': False})
    probe = ros.node('probe')
    commands = ros.collect(probe, ExecutorCommand, 'pi0/command', CHUNK_QOS)
    status = ros.collect(probe, ExecutorStatus, 'pi0/executor_status', LATCHED_QOS)
    chunk_pub = probe.create_publisher(type(make_chunk_msg(emb, 0, 0.0, DT, np.zeros((50, 7)), 0.0, '')),
                                       'pi0/action_chunk', CHUNK_QOS)
    # the executor holds the measured pose once the sim's joint states arrive
    assert ros.wait_for(lambda: any(c.mode == ExecutorCommand.MODE_HOLD for c in commands), 10)
    assert ros.wait_for(lambda: chunk_pub.get_subscription_count() > 0, 5)   # discovered: nothing is lost

    def now():
        return probe.get_clock().now().nanoseconds * 1e-9

    def send(chunk_id, actions, stamp):
        chunk_pub.publish(make_chunk_msg(emb, chunk_id, stamp, DT, actions, 0.1, 'test'))

    return dict(emb=emb, executor=executor, commands=commands, status=status, send=send, now=now, ros=ros)


def ramp(emb, slope=0.01):
    actions = np.tile(emb.home, (50, 1))
    actions[:, 0] += slope * np.arange(50)
    return actions


def active(commands, chunk_id):
    return [c for c in commands if c.mode == ExecutorCommand.MODE_ACTIVE and c.chunk_id == chunk_id]


def test_latency_compensation_then_watchdog_hold(stack):
    emb, ros, commands = stack['emb'], stack['ros'], stack['commands']
    stamp = stack['now']() - 0.3                     # the observation is 0.3 s old on arrival
    stack['send'](1, ramp(emb), stamp)
    assert ros.wait_for(lambda: len(active(commands, 1)) >= 3, 5)
    first = active(commands, 1)[0]
    k = (to_sec(first.header.stamp) - stamp) / DT   # the step due when the first command went out
    assert k >= 5.9                                 # steps that passed during inference were skipped
    assert ros.wait_for(lambda: stack['status'] and stack['status'][-1].steps_skipped >= 5, 5)
    # ... and the arm, at rest at home, starts towards them within its acceleration limit (5 rad/s^2)
    assert 0 < first.positions[0] - emb.home[0] <= 5.0 * DT * DT + 1e-6
    # 16 executed + 4 overrun steps, then the watchdog holds where the last command was
    assert ros.wait_for(lambda: stack['status'] and stack['status'][-1].state == 'holding', 5)
    last_active = active(commands, 1)[-1]
    assert (to_sec(last_active.header.stamp) - stamp) / DT == pytest.approx(19, abs=1.01)

    def holds_after():
        return [c for c in commands if c.mode == ExecutorCommand.MODE_HOLD
                and to_sec(c.header.stamp) > to_sec(last_active.header.stamp)]
    assert ros.wait_for(holds_after, 3)
    # slowing down from 0.2 rad/s at 5 rad/s^2 takes 4 mrad: the hold stops right after the last command
    assert holds_after()[0].positions[0] == pytest.approx(last_active.positions[0], abs=5e-3)


@pytest.mark.parametrize('mutate, reason', [
    (lambda a: np.where(np.arange(a.size).reshape(a.shape) == 40, np.nan, a), 'non-finite'),
    (lambda a: a + np.r_[0, 0, 0, 1.0, 0, 0, 0], 'starts'),
])
def test_bad_chunks_never_move_the_robot(stack, mutate, reason):
    emb, ros, commands = stack['emb'], stack['ros'], stack['commands']
    stack['send'](7, mutate(ramp(emb)), stack['now']() - 0.05)
    assert ros.wait_for(lambda: stack['status'] and reason in stack['status'][-1].last_error, 5)
    assert not active(commands, 7)
    assert stack['status'][-1].chunks_rejected == 1


def test_stale_chunk_is_refused(stack):
    emb, ros = stack['emb'], stack['ros']
    stack['send'](3, ramp(emb), stack['now']() - 5.0)
    assert ros.wait_for(lambda: stack['status'] and 'stale' in stack['status'][-1].last_error, 5)
    assert not active(stack['commands'], 3)


def test_wrong_embodiment_is_refused(stack):
    ros = stack['ros']
    franka = load_embodiment('franka')
    pub = ros.nodes[-1].create_publisher(type(make_chunk_msg(franka, 0, 0.0, DT, np.zeros((50, 8)), 0.0, '')),
                                         'pi0/action_chunk', CHUNK_QOS)
    pub.publish(make_chunk_msg(franka, 4, stack['now'](), DT, np.tile(franka.home, (50, 1)), 0.1, ''))
    assert ros.wait_for(lambda: stack['status'] and "embodiment 'franka'" in stack['status'][-1].last_error, 5)
    assert not active(stack['commands'], 4)


def test_pause_resume_and_latched_estop(stack):
    emb, ros, commands = stack['emb'], stack['ros'], stack['commands']
    probe = ros.nodes[-1]
    assert ros.call(probe, Trigger, 'pi0/executor/pause', Trigger.Request()).success
    stack['send'](5, ramp(emb), stack['now']())
    assert ros.wait_for(lambda: stack['status'][-1].state == 'paused' and
                        'paused' in stack['status'][-1].last_error, 5)
    assert not active(commands, 5)
    assert ros.call(probe, Trigger, 'pi0/executor/resume', Trigger.Request()).success
    stack['send'](6, ramp(emb), stack['now']())
    assert ros.wait_for(lambda: active(commands, 6), 5)
    estop = probe.create_publisher(Bool, 'pi0/estop', LATCHED_QOS)
    estop.publish(Bool(data=True))
    assert ros.wait_for(lambda: commands[-1].mode == ExecutorCommand.MODE_ESTOP, 5)
    assert not ros.call(probe, Trigger, 'pi0/executor/resume', Trigger.Request()).success
    assert ros.call(probe, Trigger, 'pi0/executor/reset_estop', Trigger.Request()).success
    assert ros.call(probe, Trigger, 'pi0/executor/resume', Trigger.Request()).success
    assert ros.wait_for(lambda: stack['status'][-1].state == 'waiting', 5)
