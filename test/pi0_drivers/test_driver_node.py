"""The UR5e driver node over real DDS: executor commands in, the real UR interface messages out, and the
simulated robot following them."""

import numpy as np
import pytest
from pi0_msgs.msg import ExecutorCommand
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory

from pi0_common.commands import MODE_ACTIVE, MODE_HOLD, Command
from pi0_common.embodiment import load_embodiment
from pi0_common.messages import command_to_msg, to_sec
from pi0_common.qos import CHUNK_QOS, SENSOR_QOS
from pi0_drivers.driver_node import RobotDriverNode
from pi0_drivers.interfaces.controllers import trajectory_times
from pi0_sim.simulator_node import SimulatorNode

UR_JOINTS = ['shoulder_pan_joint', 'shoulder_lift_joint', 'elbow_joint', 'wrist_1_joint', 'wrist_2_joint',
             'wrist_3_joint']


def test_trajectory_times_reach_each_row_at_the_end_of_its_interval():
    first, times = trajectory_times(10.0, 0.05, 3, now=10.0)
    assert first == 0 and times == pytest.approx([0.05, 0.10, 0.15])


def test_rows_already_due_are_dropped_not_squeezed_into_the_time_left():
    # 0.3 s late (a command the driver still accepts): rows 0-5 are due; the JointTrajectoryController
    # interpolates from where it is to the first point, so the rest keep their planned spacing, and
    # no segment is faster than the executor planned it (the controller enforces no velocity limit)
    rows = 0.05 * np.arange(10)                    # 1 rad/s at 20 Hz
    first, times = trajectory_times(10.0, 0.05, 10, now=10.3)
    assert first == 6 and times == pytest.approx([0.05, 0.10, 0.15, 0.20])
    speeds = np.diff(rows[first:]) / np.diff(times)
    assert np.all(speeds <= 1.0 + 1e-9)
    assert trajectory_times(10.0, 0.05, 3, now=10.2) == (3, [])      # all due: nothing to send


def driver(ros, mode='trajectory'):
    emb = load_embodiment('ur5e')
    ros.make(SimulatorNode, {'embodiment': 'ur5e'})
    node = ros.make(RobotDriverNode, {'embodiment': 'ur5e', 'arm_mode': mode})
    probe = ros.node('probe')
    out = {
        'trajectory': ros.collect(probe, JointTrajectory, 'scaled_joint_trajectory_controller/joint_trajectory'),
        'joints': ros.collect(probe, JointState, 'joint_states', SENSOR_QOS),
    }
    pub = probe.create_publisher(ExecutorCommand, 'pi0/command', CHUNK_QOS)
    assert ros.wait_for(lambda: len(out['joints']) > 5, 10)
    now = lambda: probe.get_clock().now().nanoseconds * 1e-9   # noqa: E731
    return emb, node, out, pub, now


def target_rows(emb, n=4):
    rows = np.tile(emb.home, (n, 1))
    rows[:, 0] += 0.02 * np.arange(1, n + 1)
    rows[:, 6] = 0.5
    return rows


def measured(msg):
    return dict(zip(msg.name, msg.position, strict=True))


def test_trajectory_mode_sends_joint_trajectories_the_sim_follows(ros):
    emb, node, out, pub, now = driver(ros)
    for _ in range(20):
        pub.publish(command_to_msg(Command(MODE_ACTIVE, now(), 0.05, target_rows(emb)), emb))
        ros.wait_for(lambda: False, 0.05)
    assert ros.wait_for(lambda: len(out['trajectory']) >= 10, 5)
    traj = out['trajectory'][-1]
    assert traj.joint_names == UR_JOINTS
    assert to_sec(traj.header.stamp) == 0.0                 # "start now"
    times = [to_sec(p.time_from_start) for p in traj.points]
    assert times[0] > 0 and all(b > a for a, b in zip(times, times[1:], strict=False))
    assert [p.positions[0] for p in traj.points] == pytest.approx(target_rows(emb)[:, 0])
    # the simulated controllers followed: shoulder_pan moved towards the targets, and the Robotiq action
    # (ParallelGripperCommand) half closed the gripper
    assert ros.wait_for(lambda: measured(out['joints'][-1])['shoulder_pan_joint'] > 0.015, 3)
    assert measured(out['joints'][-1])['robotiq_85_left_knuckle_joint'] == pytest.approx(0.5 * 0.7929, abs=0.02)


def test_a_hold_at_rest_is_sent_once_then_the_controller_holds(ros):
    emb, node, out, pub, now = driver(ros)
    for i in range(3):     # commands travel with depth 1 (only the latest matters): one at a time
        pub.publish(command_to_msg(Command(MODE_HOLD, now(), 0.05, np.tile(emb.home, (5, 1))), emb))
        assert ros.wait_for(lambda i=i: node.commands_sent == i + 1, 5)
    assert len(out['trajectory']) == 1 and len(out['trajectory'][0].points) == 5


def test_a_hold_still_slowing_down_is_sent_as_its_ramp(ros):
    emb, node, out, pub, now = driver(ros)
    ramp = np.tile(emb.home, (5, 1))
    ramp[:, 0] += [0.02, 0.035, 0.045, 0.05, 0.05]     # the executor's way to rest
    for i in range(2):
        pub.publish(command_to_msg(Command(MODE_HOLD, now(), 0.05, ramp), emb))
        assert ros.wait_for(lambda i=i: node.commands_sent == i + 1, 5)
    assert ros.wait_for(lambda: len(out['trajectory']) == 2, 5)        # not at rest: every ramp goes out
    assert [p.positions[0] for p in out['trajectory'][-1].points] == pytest.approx(ramp[:, 0])


@pytest.mark.parametrize('corrupt, expected', [
    (lambda m: m.positions.__setitem__(3, float('nan')), 'non-finite'),
    (lambda m: setattr(m, 'num_points', 3), 'values for 3 points'),
    (lambda m: setattr(m, 'embodiment', 'franka'), 'franka'),
    (lambda m: setattr(m.header.stamp, 'sec', m.header.stamp.sec - 10), 'stale'),
])
def test_bad_commands_send_nothing(ros, corrupt, expected):
    emb, node, out, pub, now = driver(ros)
    msg = command_to_msg(Command(MODE_ACTIVE, now(), 0.05, target_rows(emb)), emb)
    corrupt(msg)
    pub.publish(msg)
    assert ros.wait_for(lambda: node.commands_refused == 1, 5)
    ros.wait_for(lambda: False, 0.2)
    assert not out['trajectory'] and node.commands_sent == 0
