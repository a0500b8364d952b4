"""The process runner: each node its own process started like ros2 launch starts it (name, namespace,
params file), output forwarded with the node's name, a clean stop with exit codes 0, and a node that
dies is noticed."""

import io
import signal

import pytest
from rclpy.parameter_client import AsyncParameterClient

from pi0_bringup.console import Console
from pi0_bringup.runner import NodeDiedError, Stack
from pi0_bringup.stack_spec import EXECUTOR, MANAGER, manager_parameters, robot_stack
from pi0_common.spin import wait_for_future


def executor_only(**overrides):
    """The lightest node of the stack: the chunk executor alone (and a lifecycle manager configuring it)."""
    specs = robot_stack('ur5e', namespace=overrides.pop('namespace', ''), overrides={EXECUTOR: overrides})
    specs = [s for s in specs if s.name in (EXECUTOR, MANAGER)]
    specs[-1].parameters.update(manager_parameters([EXECUTOR], [EXECUTOR]))
    return specs


def test_start_forward_and_stop_cleanly():
    out = io.StringIO()
    stack = Stack(executor_only(switching='crossfade', namespace='/lab'), console=Console(out, live=False)).start()
    try:
        assert '/lab/pi0_chunk_executor' in stack.client.node_names()
        # The resolved parameters reached the node through its params file.
        params = AsyncParameterClient(stack.node, 'pi0_chunk_executor')
        assert params.wait_for_services(timeout_sec=10)
        answer = wait_for_future(params.get_parameters(['switching', 'embodiment']), 10, 'get_parameters')
        assert [v.string_value for v in answer.values] == ['crossfade', 'ur5e']
        assert stack.died() == {}
    finally:
        codes = stack.shutdown()
    assert codes == {EXECUTOR: 0, MANAGER: 0}
    lines = out.getvalue().splitlines()
    assert any(line.startswith('[pi0_chunk_executor] ') and 'switching crossfade' in line for line in lines)
    assert f'[runner] {EXECUTOR} exited with code 0' in lines


def test_a_killed_node_is_noticed():
    with Stack(executor_only(), console=Console(io.StringIO(), live=False)) as stack:
        stack.check()
        assert stack.kill(EXECUTOR) == -signal.SIGKILL
        assert stack.died() == {EXECUTOR: -signal.SIGKILL}
        with pytest.raises(NodeDiedError, match=EXECUTOR):
            stack.check()
    assert stack.exit_codes[EXECUTOR] == -signal.SIGKILL


def test_a_node_that_fails_at_start_is_reported():
    with pytest.raises(NodeDiedError, match=EXECUTOR):
        Stack(executor_only(switching='no_such_mode'), console=Console(io.StringIO(), live=False)).start(timeout=60)
