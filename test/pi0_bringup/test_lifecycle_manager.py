"""The lifecycle manager: it brings the managed nodes up in order and reports the stack's state on its
latched topic (sim: all active; hardware: the executor left inactive, disarmed); a node whose configure
fails is shut down and its process exits 1 with one line and no traceback."""

import io

import pytest
from diagnostic_msgs.msg import DiagnosticStatus

from pi0_bringup.console import Console
from pi0_bringup.lifecycle_manager import LifecycleManager, stack_ready
from pi0_bringup.ros_client import StackNotReadyError
from pi0_bringup.runner import NodeDiedError, Stack
from pi0_bringup.stack_spec import DRIVER, EXECUTOR, MANAGER, POLICY, manager_parameters, robot_stack
from pi0_common.lifecycle import STATES_TOPIC
from pi0_common.qos import LATCHED_QOS
from pi0_drivers.driver_node import RobotDriverNode
from pi0_drivers.executor_node import ChunkExecutorNode


def managed_pair(ros, hardware: bool, activate: list[str]):
    ros.make(RobotDriverNode, {'embodiment': 'ur5e'}, lifecycle='unconfigured')
    executor = ros.make(ChunkExecutorNode, {'embodiment': 'ur5e', 'hardware': hardware}, lifecycle='unconfigured')
    probe = ros.node('probe')
    states = ros.collect(probe, DiagnosticStatus, STATES_TOPIC, LATCHED_QOS)
    manager = ros.make(LifecycleManager, manager_parameters([DRIVER, EXECUTOR], activate))
    return executor, probe, states, manager


def test_autostart_configures_then_activates_every_node(ros):
    executor, probe, states, _ = managed_pair(ros, hardware=False, activate=[DRIVER, EXECUTOR])
    assert ros.wait_for(lambda: states and stack_ready(states[-1]), 20)
    assert {kv.key: kv.value for kv in states[-1].values} == {DRIVER: 'active', EXECUTOR: 'active'}
    assert ros.lifecycle_state(probe, DRIVER) == 'active' and ros.lifecycle_state(probe, EXECUTOR) == 'active'
    # the report follows transitions made by other hands (ros2 lifecycle set)
    assert ros.transition(probe, EXECUTOR, 'deactivate')
    assert ros.wait_for(lambda: states[-1].values[1].value == 'inactive' and not stack_ready(states[-1]), 5)


def test_on_hardware_the_executor_stays_inactive_until_armed(ros):
    executor, probe, states, _ = managed_pair(ros, hardware=True, activate=[DRIVER])
    assert ros.wait_for(lambda: states and stack_ready(states[-1]), 20)
    assert {kv.key: kv.value for kv in states[-1].values} == {DRIVER: 'active', EXECUTOR: 'inactive'}
    assert executor.core.state == 'disarmed'


def test_an_activate_list_naming_an_unknown_node_stops_the_manager(ros):
    with pytest.raises(ValueError, match='parameter activate'):
        ros.make(LifecycleManager, {'node_names': [DRIVER], 'activate': ['pi0_nobody']})


def policy_and_manager(checkpoint: str):
    specs = robot_stack('ur5e', sim=True, checkpoint=checkpoint, overrides={POLICY: {'warmup': False}})
    policy = next(s for s in specs if s.name == POLICY)
    manager = next(s for s in specs if s.name == MANAGER)
    manager.parameters.update(manager_parameters([POLICY], [POLICY]))
    return [policy, manager]


def test_a_failed_configure_finalizes_the_node_which_exits_1_without_traceback(tmp_path):
    out = io.StringIO()
    stack = Stack(policy_and_manager(str(tmp_path)), console=Console(out, live=False))   # no checkpoint in it
    with pytest.raises((StackNotReadyError, NodeDiedError), match=POLICY):
        stack.start(timeout=120)
    codes = stack.exit_codes            # start() stopped the stack when it failed
    assert codes[POLICY] == 1 and codes[MANAGER] == 0
    policy_lines = [line for line in out.getvalue().splitlines() if line.startswith(f'[{POLICY}]')]
    assert [line for line in policy_lines if 'ERROR' in line or 'FATAL' in line] == \
        [line for line in policy_lines if 'configure failed:' in line] and len(policy_lines) >= 1
    assert 'Traceback' not in out.getvalue()
    manager_lines = [line for line in out.getvalue().splitlines() if line.startswith(f'[{MANAGER}]')]
    assert any(f'{POLICY}: configure failed' in line for line in manager_lines)


def test_a_missing_checkpoint_folder_exits_1_at_start_with_one_line(tmp_path):
    out = io.StringIO()
    stack = Stack(policy_and_manager(str(tmp_path / 'nonexistent')), console=Console(out, live=False))
    with pytest.raises(NodeDiedError, match=POLICY):
        stack.start(timeout=120)
    assert stack.exit_codes[POLICY] == 1
    policy_lines = [line for line in out.getvalue().splitlines() if line.startswith(f'[{POLICY}]')]
    assert len(policy_lines) == 1 and 'checkpoint folder not found' in policy_lines[0]
    assert 'Traceback' not in out.getvalue()
