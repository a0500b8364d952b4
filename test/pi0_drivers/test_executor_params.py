"""Run-time parameters of the chunk executor node, set through its real rcl_interfaces parameter services
(what `ros2 param set` and `ros2 param describe` call), with the simulated UR5e behind it."""

import numpy as np
import pytest
from pi0_msgs.msg import ExecutorCommand, ExecutorStatus
from rcl_interfaces.msg import ParameterType
from rcl_interfaces.srv import DescribeParameters, SetParameters
from rclpy.parameter import Parameter

from pi0_common.embodiment import load_embodiment
from pi0_common.messages import make_chunk_msg
from pi0_common.qos import CHUNK_QOS, LATCHED_QOS
from pi0_drivers.driver_node import RobotDriverNode
from pi0_drivers.executor_node import ChunkExecutorNode
from pi0_sim.simulator_node import SimulatorNode

EXECUTOR = 'pi0_chunk_executor'
DT = 0.05


def make_stack(ros, hardware: bool):
    ros.make(SimulatorNode, {'embodiment': 'ur5e'})
    ros.make(RobotDriverNode, {'embodiment': 'ur5e'})
    ros.make(ChunkExecutorNode, {'embodiment': 'ur5e', 'hardware': hardware, 'status_rate_hz': 20.0,
                                 'overrun_steps': 40})
    probe = ros.node('probe')
    return probe


def set_params(ros, probe, **values):
    request = SetParameters.Request(parameters=[Parameter(k, value=v).to_parameter_msg() for k, v in values.items()])
    return ros.call(probe, SetParameters, f'{EXECUTOR}/set_parameters', request).results


def test_changes_apply_while_running_and_bad_ones_are_refused_with_a_reason(ros):
    emb = load_embodiment('ur5e')
    probe = make_stack(ros, hardware=False)
    commands = ros.collect(probe, ExecutorCommand, 'pi0/command', CHUNK_QOS)
    status = ros.collect(probe, ExecutorStatus, 'pi0/executor_status', LATCHED_QOS)
    chunks = probe.create_publisher(type(make_chunk_msg(emb, 0, 0.0, DT, np.zeros((50, 7)), 0.0, '')),
                                    'pi0/action_chunk', CHUNK_QOS)
    assert ros.wait_for(lambda: status and chunks.get_subscription_count() > 0, 10)

    # a chunk that asks the first joint for far more than its velocity limit: the limiter sets the pace
    actions = np.tile(emb.home, (50, 1))
    actions[:, 0] += 0.3 * np.arange(50)
    now = probe.get_clock().now().nanoseconds * 1e-9
    chunks.publish(make_chunk_msg(emb, 1, now, DT, actions, 0.1, 'test'))

    def speed(window):
        q = np.array([c.positions[0] for c in window if c.mode == ExecutorCommand.MODE_ACTIVE])
        return np.abs(np.diff(q)).max() / DT if len(q) > 2 else 0.0
    assert ros.wait_for(lambda: speed(commands[-5:]) > 0.9 * emb.max_rate[0], 10)

    results = set_params(ros, probe, velocity_scale=0.2, switching='crossfade')
    assert all(r.successful for r in results), results
    mark = len(commands)
    # within the acceleration limit it slows to a fifth of the limit, without a jump on the way
    assert ros.wait_for(lambda: len(commands) > mark + 25, 5)
    assert speed(commands[mark + 20:]) == pytest.approx(0.2 * emb.max_rate[0], rel=0.02)
    assert speed(commands[mark - 2:]) <= emb.max_rate[0] * 1.001
    assert ros.wait_for(lambda: status[-1].switching_mode == 'crossfade', 2)

    refused = {
        'velocity_scale': set_params(ros, probe, velocity_scale=1.5)[0],      # outside the range
        'rate_hz': set_params(ros, probe, rate_hz=50.0)[0],                   # fixed at start
        'request_timeout': set_params(ros, probe, request_timeout=-1.0)[0],
    }
    assert not any(r.successful for r in refused.values())
    assert all(r.reason for r in refused.values()), refused
    assert set_params(ros, probe, switching='fade')[0].reason == \
        'switching = \'fade\': expected one of replace, crossfade, rtc, ensemble'


def test_on_hardware_the_velocity_scale_stays_within_its_bound(ros):
    probe = make_stack(ros, hardware=True)
    over = set_params(ros, probe, velocity_scale=0.5)[0]
    assert not over.successful and 'hardware_velocity_limit 0.25' in over.reason
    assert set_params(ros, probe, velocity_scale=0.1)[0].successful


def test_describe_shows_ranges_and_what_is_settable(ros):
    probe = make_stack(ros, hardware=False)
    request = DescribeParameters.Request(names=['velocity_scale', 'switching', 'rate_hz', 'deadman_timeout'])
    d = {x.name: x for x in ros.call(probe, DescribeParameters, f'{EXECUTOR}/describe_parameters',
                                        request).descriptors}
    scale = d['velocity_scale'].floating_point_range[0]
    assert (scale.from_value, scale.to_value) == (0.01, 1.0) and not d['velocity_scale'].read_only
    assert d['velocity_scale'].type == ParameterType.PARAMETER_DOUBLE
    assert 'crossfade' in d['switching'].additional_constraints and not d['switching'].read_only
    assert d['rate_hz'].read_only
    assert d['deadman_timeout'].floating_point_range[0].from_value == 0.0 and not d['deadman_timeout'].read_only
