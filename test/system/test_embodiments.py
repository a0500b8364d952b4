"""Every embodiment besides the UR5e (test_ur5e_loop.py) in simulation, started by the process runner
from its config file (simulator, driver, executor, policy: each its own process) with random π₀
weights: chunks flow and are executed, the executor's commands stay within the limits, the driver
speaks the robot's real interface on the real topics, and when the executor process is killed the
driver's watchdog sends a mobile base zero velocity and the base stops (seen on its odometry).

Vendor message types (Interbotix, Franka, ARX) come from the test fixtures when they are built and
sourced; without them the drivers run the documented simulation fallback, and the test checks that
instead (the vendor topics must then be silent).
"""

import importlib

import numpy as np
import pytest
from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import Odometry
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from pi0_bringup.monitor import StackMonitor
from pi0_bringup.runner import Stack
from pi0_bringup.stack_spec import EXECUTOR, robot_stack
from pi0_common.commands import MODE_ACTIVE
from pi0_common.embodiment import load_embodiment
from pi0_common.qos import SENSOR_QOS

from .conftest import wait

ROBOTS = ['ur5e_bimanual', 'franka', 'trossen_bimanual', 'arx_bimanual', 'trossen_mobile', 'arx_mobile',
          'fibocom_mobile']
RUN_TIMEOUT = 60.0      # s for the first chunks on a loaded 2-core machine; a healthy run takes a few


def vendor_type(package: str, name: str):
    try:
        return getattr(importlib.import_module(f'{package}.msg'), name)
    except ImportError:
        return None


def driver_streams(emb) -> dict[str, type | None]:
    """Topic -> message type the driver (or, for ARX, its simulated vendor node) must publish; None where
    the vendor package is missing and the topic must stay silent (the simulation fallback)."""
    out = {}
    for arm in emb.arms:
        cfg, driver = arm.interface, arm.interface['driver']
        if driver in ('ur', 'jtc', 'franka'):
            out[cfg['trajectory_topic']] = JointTrajectory
        if driver in ('ur', 'jtc') and 'gripper_topic' in cfg:     # UR grippers go by action
            out[cfg['gripper_topic']] = Float64MultiArray
        if driver == 'interbotix':
            out[cfg['group_topic']] = vendor_type('interbotix_xs_msgs', 'JointGroupCommand')
            out[cfg['single_topic']] = vendor_type('interbotix_xs_msgs', 'JointSingleCommand')
        if driver == 'arx':
            out[cfg['command_topic']] = vendor_type('arx5_arm_msg', 'RobotCmd')
            out[cfg['status_topic']] = vendor_type('arx5_arm_msg', 'RobotStatus')
        out[arm.joint_state_topic] = JointState
    if emb.base is not None:
        out[emb.base.interface['topic']] = TwistStamped if emb.base.interface.get('stamped') else Twist
    return out


@pytest.mark.slow
@pytest.mark.parametrize('robot', ROBOTS)
def test_the_embodiment_runs_in_simulation(robot):
    emb = load_embodiment(robot)
    streams = driver_streams(emb)
    # The executor's first chunk request can go out before the policy node has discovered it; it is then
    # repeated after request_timeout (5 s by default): 1 s keeps the test short.
    overrides = {'pi0_policy': {'seed': 0}, EXECUTOR: {'request_timeout': 1.0}}
    with Stack(robot_stack(robot, sim=True, checkpoint='random:pi0_tiny', overrides=overrides)) as stack:
        monitor = StackMonitor(emb, context=stack.context)
        stack.add_node(monitor)
        seen = {}
        for topic, kind in streams.items():
            if kind is not None:
                seen[topic] = []
                qos = SENSOR_QOS if kind is JointState else 10
                monitor.create_subscription(kind, topic, seen[topic].append, qos)
        odometry = []
        if emb.base is not None:
            monitor.create_subscription(Odometry, emb.base.odometry_topic, odometry.append, SENSOR_QOS)
        silent = [t for t, kind in streams.items() if kind is None]

        def executed():
            status = monitor.snapshot().status
            return status.chunks_executed if status is not None else 0

        def active():
            return sum(m == MODE_ACTIVE for m in monitor.snapshot().command_mode)
        # a second of active commands, from at least two chunks
        assert wait(lambda: active() >= emb.control_rate_hz and executed() >= 2, RUN_TIMEOUT, stack), \
            f'{robot}: no chunks executed: {monitor.snapshot().status}'
        assert wait(lambda: all(seen.values()), 5, stack), \
            f'{robot}: nothing on {[t for t, m in seen.items() if not m]}'
        for topic in silent:     # the vendor package is missing: the topic must stay silent
            assert stack.node.count_publishers(topic) == 0, f'{robot}: {topic} should be silent'
        rec = monitor.snapshot()

        if emb.base is not None:
            # The executor crashes: the driver's watchdog must zero the base, and the base stop.
            base_topic = emb.base.interface['topic']
            stack.kill(EXECUTOR)
            count = len(seen[base_topic])
            assert wait(lambda: len(seen[base_topic]) >= count + 3, 3), f'{robot}: no zero twists on {base_topic}'
            last = seen[base_topic][-1]
            twist = last.twist if isinstance(last, TwistStamped) else last
            assert (twist.linear.x, twist.linear.y, twist.angular.z) == (0.0, 0.0, 0.0)

            def base_still():
                t = odometry[-1].twist.twist
                return max(abs(t.linear.x), abs(t.linear.y), abs(t.angular.z)) < 1e-6
            assert wait(base_still, 3), f'{robot}: the base did not stop'
            assert stack.died() == {EXECUTOR: -9}        # and the runner noticed the crash

    q, t = np.stack(rec.command_q), np.asarray(rec.command_t)
    assert np.all(np.isfinite(q))
    assert np.all(q >= emb.lower - 1e-6) and np.all(q <= emb.upper + 1e-6), f'{robot}: a command beyond the limits'
    # between consecutive commands no dim moves faster than its limit, in real time
    rates = np.abs(np.diff(q, axis=0)) / np.maximum(np.diff(t), 1e-3)[:, None]
    assert np.all(rates <= emb.max_rate * 1.001 + 1e-4), f'{robot}: a command faster than the limits'
    assert len(rec.measured_q) > 10, f'{robot}: no joint states reached the monitor'
