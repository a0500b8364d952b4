"""The whole UR5e slice in simulation, started by the process runner from config/ur5e.yaml: camera
pixels and joint states -> π₀ -> chunks -> executor -> UR trajectory messages -> the simulated arm, each
node in its own process, watched from outside like a user would."""

import numpy as np
import pytest
from pi0_msgs.msg import ExecutorStatus
from sensor_msgs.msg import Image
from trajectory_msgs.msg import JointTrajectory

from pi0_bringup.monitor import StackMonitor
from pi0_bringup.runner import Stack
from pi0_bringup.stack_spec import POLICY, robot_stack
from pi0_common.commands import MODE_ACTIVE
from pi0_common.embodiment import load_embodiment
from pi0_common.messages import to_sec
from pi0_common.qos import SENSOR_QOS


@pytest.fixture(scope='module')
def run():
    """Run the stack once for a few seconds and keep what was seen."""
    specs = robot_stack('ur5e', sim=True, checkpoint='random:pi0_tiny', instruction='reach the blue block',
                        overrides={POLICY: {'seed': 0}})
    with Stack(specs) as stack:
        emb = load_embodiment('ur5e')
        monitor = StackMonitor(emb, context=stack.context)
        stack.add_node(monitor)
        trajectories, images = [], []
        monitor.create_subscription(JointTrajectory, 'scaled_joint_trajectory_controller/joint_trajectory',
                                    trajectories.append, 10)
        monitor.create_subscription(Image, 'camera/base/image_raw', images.append, SENSOR_QOS)
        start_q = None
        assert _wait(lambda: monitor.snapshot().measured_q, 20)
        start_q = monitor.snapshot().measured_q[-1].copy()
        assert _wait(lambda: sum(m == MODE_ACTIVE for m in monitor.snapshot().command_mode) >= 60, 60)
        assert _wait(lambda: (monitor.snapshot().status or s0).chunks_executed >= 3, 10)
        stack.check()
        yield dict(emb=emb, rec=monitor.snapshot(), trajectories=list(trajectories), images=list(images),
                   start_q=start_q, status=monitor.snapshot().status)


s0 = ExecutorStatus()


def _wait(cond, timeout):
    import time
    t = time.monotonic() + timeout
    while time.monotonic() < t:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_chunks_flow_and_are_executed(run):
    s = run['status']
    assert s.chunks_executed >= 3 and s.state in ('active', 'holding')
    assert set(run['rec'].chunk_instruction) == {'reach the blue block'}


def test_the_real_ur_interface_is_driven(run):
    traj = run['trajectories']
    assert len(traj) >= 30
    assert all(t.joint_names[0] == 'shoulder_pan_joint' and len(t.joint_names) == 6 for t in traj)
    assert all(0 < to_sec(t.points[0].time_from_start) <= 0.2 for t in traj)


def test_the_simulated_arm_moves_and_the_cameras_see_it(run):
    rec = run['rec']
    moved = np.max(np.abs(np.stack(rec.measured_q[-50:])[:, :6] - run['start_q'][:6]))
    assert moved > 0.01
    first, last = run['images'][0], run['images'][-1]
    assert np.any(np.frombuffer(first.data, np.uint8) != np.frombuffer(last.data, np.uint8))


def test_commands_respect_the_limits(run):
    emb, rec = run['emb'], run['rec']
    q = np.stack(rec.command_q)
    t = np.asarray(rec.command_t)
    assert np.all(np.isfinite(q))
    assert np.all(q >= emb.lower - 1e-6) and np.all(q <= emb.upper + 1e-6)
    # between consecutive commands, no dim moves faster than its limit, in real time
    steps = np.abs(np.diff(q, axis=0)) / np.maximum(np.diff(t), 1e-3)[:, None]
    assert np.all(steps <= emb.max_rate * 1.001 + 1e-4)
