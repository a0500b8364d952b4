"""A stop is clean at any moment: SIGINT or SIGTERM, once or twice, while the nodes start, while the
policy loads and warms up, and while chunks are inferred and executed, ends every node of a running
stack (its own processes, as ros2 launch starts them) with exit code 0 and no traceback."""

from __future__ import annotations

import io
import signal
import time

import pytest
from pi0_msgs.msg import ExecutorStatus

from pi0_bringup.console import Console
from pi0_bringup.runner import Stack
from pi0_bringup.stack_spec import robot_stack
from pi0_common.qos import LATCHED_QOS

# (signal, how many times, seconds after the processes start; None = once the stack runs chunks)
MOMENTS = {
    'sigint while the processes start': (signal.SIGINT, 1, 0.5),
    'sigint while the policy loads and warms up': (signal.SIGINT, 1, 4.0),
    'sigint twice while running': (signal.SIGINT, 2, None),
    'sigterm twice while running': (signal.SIGTERM, 2, None),
}


@pytest.mark.parametrize('moment', list(MOMENTS))
def test_a_stop_at_any_moment_ends_every_node_cleanly(moment):
    sig, times, after = MOMENTS[moment]
    out = io.StringIO()
    stack = Stack(robot_stack('ur5e', sim=True), console=Console(out, live=False))
    try:
        stack.start(wait=after is None)
        if after is None:
            statuses = []
            stack.node.create_subscription(ExecutorStatus, 'pi0/executor_status', statuses.append, LATCHED_QOS)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not (statuses and statuses[-1].chunks_executed >= 2):
                stack.check()
                time.sleep(0.1)
            assert statuses and statuses[-1].chunks_executed >= 2, 'the stack never ran'
        else:
            time.sleep(after)
        for _ in range(times):
            for process in stack.processes.values():
                process.stopping = True
                process.send(sig)
            time.sleep(0.05)
    finally:
        codes = stack.shutdown()
    text = out.getvalue()
    assert all(code == 0 for code in codes.values()), f'{moment}: exit codes {codes}\n{text[-3000:]}'
    assert 'Traceback' not in text, f'{moment}:\n{text[-3000:]}'
