"""A checkpoint trained at another rate runs as trained: franka with pi0_droid's conventions (10 steps at
15 Hz, 7 joint velocities + gripper) through the launch argument. The executor runs at 15 Hz and takes
every chunk; with the embodiment's 20 Hz and 16 executed steps these chunks would not fill a window.
Real processes (the process runner), random weights."""

import io
import time

from pi0_msgs.msg import ActionChunk, ExecutorCommand, ExecutorStatus

from pi0_bringup.console import Console
from pi0_bringup.runner import Stack
from pi0_bringup.stack_spec import robot_stack
from pi0_common.qos import CHUNK_QOS, LATCHED_QOS


def test_pi0_droid_conventions_run_on_franka_at_their_rate():
    specs = robot_stack('franka', sim=True, checkpoint='random:pi0_tiny', conventions='pi0_droid',
                        instruction='pick up the cup')
    with Stack(specs, console=Console(io.StringIO(), live=False)) as stack:
        status, chunks, commands = [], [], []
        stack.node.create_subscription(ExecutorStatus, 'pi0/executor_status', status.append, LATCHED_QOS)
        stack.node.create_subscription(ActionChunk, 'pi0/action_chunk', chunks.append, CHUNK_QOS)
        stack.node.create_subscription(ExecutorCommand, 'pi0/command', commands.append, CHUNK_QOS)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (status and status[-1].chunks_executed >= 3):
            stack.check()
            time.sleep(0.2)
        assert status and status[-1].chunks_executed >= 3, status[-1] if status else 'no status'
        assert status[-1].chunks_rejected == 0, status[-1].last_error
    assert abs(chunks[-1].dt - 1 / 15) < 1e-6 and chunks[-1].horizon == 10
    assert abs(commands[-1].dt - 1 / 15) < 1e-6          # the executor ticks at the checkpoint's rate
