"""Joint commands: velocity-limited set-points, JointTrajectoryController semantics, gripper
units, joint-state reporting by topic, and refusal of bad commands."""

import math

import numpy as np
import pytest

from pi0_common.embodiment import load_embodiment
from pi0_sim.world import SimWorld

UR_JOINTS = ['shoulder_pan_joint', 'shoulder_lift_joint', 'elbow_joint', 'wrist_1_joint', 'wrist_2_joint',
             'wrist_3_joint']
VMAX = load_embodiment('ur5e').arms[0].joints[0].max_velocity        # 3.1416 rad/s, all joints
UR_HOME = [j.home for j in load_embodiment('ur5e').arms[0].joints]   # (0, -pi/2, pi/2, -pi/2, -pi/2, 0)


@pytest.fixture
def ur():
    return SimWorld(load_embodiment('ur5e'), seed=0, start_time=10.0)


def run(world, until, rate=100.0):
    """Step at a fixed rate to ``until``; return (times, positions) of the arm joints per step."""
    times, positions = [], []
    while world.time < until - 1e-9:
        world.step(min(until, world.time + 1.0 / rate))
        times.append(world.time)
        positions.append(world.joint_state(world.embodiment.joint_state_topics[0])[1][:6])
    return np.array(times), np.array(positions)


def arm(world):
    return np.array(world.joint_state('joint_states')[1][:6])


def test_joint_state_reports_driver_names_at_home(ur):
    names, pos, vel = ur.joint_state('/joint_states')
    assert names == UR_JOINTS + ['robotiq_85_left_knuckle_joint']
    np.testing.assert_allclose(pos, UR_HOME + [0.0])
    assert vel == [0.0] * 7


def test_far_setpoint_is_approached_within_the_velocity_limit(ur):
    target = [2.5, -1.0, 0.5, -1.5, -1.5, 1.0]
    ur.command_positions(UR_JOINTS, target, now=10.0)
    times, q = run(ur, 12.0)
    steps = np.abs(np.diff(np.vstack([UR_HOME, q]), axis=0))
    assert np.all(steps <= VMAX * 0.01 + 1e-9)                   # pi rad/s at 100 Hz
    first = np.argmin(np.abs(times - 10.5))
    assert q[first, 0] == pytest.approx(VMAX * 0.5, abs=1e-6)  # still moving at the limit
    np.testing.assert_allclose(q[-1], target, atol=1e-9)           # 2.5 rad at pi rad/s: 0.8 s
    assert np.all(np.abs(ur.joint_state('joint_states')[2]) <= VMAX + 1e-9)


def test_setpoints_are_clamped_to_the_joint_limits(ur):
    ur.command_positions(['elbow_joint'], [10.0], now=10.0)
    run(ur, 12.0)
    assert arm(ur)[2] == pytest.approx(load_embodiment('ur5e').arms[0].joints[2].upper)


def test_trajectory_interpolates_from_the_commanded_state_and_holds_the_end(ur):
    goal = np.array(UR_HOME) + [0.5, 0.2, -0.2, 0.1, 0.0, -0.4]
    ur.command_trajectory(UR_JOINTS, [1.0], [goal.tolist()], now=10.0)
    run(ur, 10.5)
    # Slow enough for the velocity limits: the arm follows the linear interpolation exactly.
    np.testing.assert_allclose(arm(ur), (np.array(UR_HOME) + goal) / 2, atol=1e-9)
    run(ur, 13.0)
    np.testing.assert_allclose(arm(ur), goal, atol=1e-12)
    assert ur.joint_state('joint_states')[2][:6] == [0.0] * 6


def test_trajectory_passes_through_each_point_at_its_time(ur):
    pts = [[0.2] + UR_HOME[1:], [0.6] + UR_HOME[1:], [0.4] + UR_HOME[1:]]
    ur.command_trajectory(UR_JOINTS, [0.5, 1.0, 1.5], pts, now=10.0)
    for t, expected in [(10.25, 0.1), (10.5, 0.2), (10.75, 0.4), (11.0, 0.6), (11.25, 0.5), (12.0, 0.4)]:
        run(ur, t)
        assert arm(ur)[0] == pytest.approx(expected, abs=1e-9)


def test_new_trajectory_replaces_the_old_one_from_its_commanded_state(ur):
    ur.command_trajectory(['shoulder_pan_joint'], [2.0], [[1.0]], now=10.0)
    run(ur, 11.0)                                     # old trajectory commands 0.5 now
    ur.command_trajectory(['shoulder_pan_joint'], [1.0], [[-0.5]], now=11.0)
    run(ur, 11.5)
    assert arm(ur)[0] == pytest.approx(0.0, abs=1e-9)    # halfway from 0.5 to -0.5, never to 1.0
    run(ur, 14.0)
    assert arm(ur)[0] == pytest.approx(-0.5)


def test_trajectory_starts_from_the_commanded_not_the_measured_state(ur):
    ur.command_positions(['shoulder_pan_joint'], [3.0], now=10.0)
    run(ur, 10.2)                                     # measured ~0.63 rad, commanded 3.0
    assert arm(ur)[0] < 1.0
    ur.command_trajectory(['shoulder_pan_joint'], [1.0], [[3.0]], now=10.2)
    run(ur, 10.3)
    # From the commanded state the reference stays at 3.0, so the joint keeps its top speed; from
    # the measured state it would have slowed to (3.0 - 0.63) rad/s.
    assert ur.joint_state('joint_states')[2][0] == pytest.approx(VMAX)


def test_a_first_point_at_time_zero_is_a_step_still_tracked_within_limits(ur):
    ur.command_trajectory(['shoulder_pan_joint'], [0.0], [[1.0]], now=10.0)
    _, q = run(ur, 10.1)
    np.testing.assert_allclose(q[:, 0], VMAX * 0.01 * np.arange(1, 11), atol=1e-9)


def test_partial_trajectory_holds_the_other_joints(ur):
    ur.command_trajectory(UR_JOINTS, [1.0], [[0.5] + UR_HOME[1:]], now=10.0)
    run(ur, 10.5)
    ur.command_trajectory(['elbow_joint'], [0.5], [[1.0]], now=10.5)
    run(ur, 12.0)
    q = arm(ur)
    assert q[0] == pytest.approx(0.25)                 # frozen where the old trajectory was
    assert q[2] == pytest.approx(1.0)


@pytest.mark.parametrize('names, times, points, reason', [
    (UR_JOINTS[:1], [0.5, 0.5], [[0.1], [0.2]], 'strictly increasing'),
    (UR_JOINTS[:1], [1.0, 0.5], [[0.1], [0.2]], 'strictly increasing'),
    (UR_JOINTS[:1], [-0.1], [[0.1]], 'strictly increasing'),
    (UR_JOINTS[:1], [], [], 'at least one point'),
    (['no_such_joint'], [1.0], [[0.1]], 'unknown joint'),
    (UR_JOINTS[:2], [1.0], [[0.1]], 'points x 2 joints'),
    (UR_JOINTS[:1], [1.0, 2.0], [[0.1]], 'points x 1 joints'),
    (UR_JOINTS[:1], [1.0], [[math.nan]], 'finite'),
    (UR_JOINTS[:1], [math.inf], [[0.1]], 'finite'),
    (UR_JOINTS[:1] * 2, [1.0], [[0.1, 0.1]], 'duplicate'),
])
def test_bad_trajectories_are_refused_and_change_nothing(ur, names, times, points, reason):
    ur.command_trajectory(['shoulder_pan_joint'], [1.0], [[1.0]], now=10.0)
    with pytest.raises(ValueError, match=reason):
        ur.command_trajectory(names, times, points, now=10.0)
    run(ur, 10.5)
    assert arm(ur)[0] == pytest.approx(0.5)          # the accepted trajectory still runs


def test_nan_setpoints_are_refused(ur):
    with pytest.raises(ValueError, match='finite'):
        ur.command_positions(UR_JOINTS, [math.nan] * 6, now=10.0)
    with pytest.raises(ValueError, match='6 names but 5'):
        ur.command_positions(UR_JOINTS, [0.0] * 5, now=10.0)
    with pytest.raises(ValueError, match='finite'):
        ur.command_positions(UR_JOINTS, [0.0] * 6, now=math.nan)
    run(ur, 11.0)
    np.testing.assert_allclose(arm(ur), UR_HOME)


def test_a_long_pause_is_integrated_without_stalling(ur):
    ur.command_trajectory(UR_JOINTS, [1.0, 2.0], [[0.3] * 6, [-0.2] * 6], now=10.0)
    ur.step(1e6)                                      # at most 1000 substeps, however long the gap
    np.testing.assert_allclose(arm(ur), [-0.2] * 6)


def test_time_must_not_go_backwards(ur):
    ur.step(11.0)
    with pytest.raises(ValueError, match='backwards'):
        ur.step(10.5)
    ur.reset(now=5.0)
    ur.step(5.5)
    assert ur.time == 5.5


def test_gripper_commands_in_command_units_report_state_units():
    franka = SimWorld(load_embodiment('franka'), seed=0)
    franka.command_positions(['fr3_finger_joint1'], [0.0], now=0.0)   # total hand width 0 m: closed
    run(franka, 0.2)
    assert franka.gripper_closure('arm') == pytest.approx(0.5)          # 2.5 of the stroke per second
    names, pos, vel = franka.joint_state('fr3/joint_states')
    assert names[-1] == 'fr3_finger_joint1'
    assert pos[-1] == pytest.approx(0.02)                               # finger travel, 0.04 open
    assert vel[-1] == pytest.approx(-2.5 * 0.04)
    run(franka, 1.0)
    assert franka.joint_state('fr3/joint_states')[1][-1] == pytest.approx(0.0)


def test_aloha_arms_share_joint_names_and_are_told_apart_by_topic():
    aloha = SimWorld(load_embodiment('trossen_bimanual'), seed=0)
    with pytest.raises(ValueError, match='pass the topic'):
        aloha.command_positions(['waist'], [0.5], now=0.0)
    aloha.command_positions(['waist'], [0.5], now=0.0, topic='/follower_left/commands/joint_group')
    aloha.command_positions(['gripper'], [0.6197], now=0.0, topic='follower_right/commands/joint_single')
    run(aloha, 1.0)
    left = aloha.joint_state('follower_left/joint_states')
    right = aloha.joint_state('follower_right/joint_states')
    assert left[0] == ['waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle', 'wrist_rotate', 'left_finger']
    assert left[1][0] == pytest.approx(0.5) and right[1][0] == 0.0
    assert left[1][-1] == pytest.approx(0.0579) and right[1][-1] == pytest.approx(0.0440)   # metres
    with pytest.raises(ValueError, match='addresses no arm'):
        aloha.command_positions(['waist'], [0.5], now=1.0, topic='follower_middle/commands/joint_group')


def test_bimanual_arms_on_one_topic_report_together():
    world = SimWorld(load_embodiment('ur5e_bimanual'), seed=0)
    names, pos, _ = world.joint_state('joint_states')
    assert len(names) == 14 and names[0] == 'left_shoulder_pan_joint' and names[7] == 'right_shoulder_pan_joint'
    world.command_trajectory(['right_elbow_joint', 'left_elbow_joint'], [1.0], [[1.0, 1.2]], now=0.0,
                             topic='joint_states')
    run(world, 2.0)
    pos = dict(zip(*world.joint_state('joint_states')[:2], strict=True))
    assert pos['left_elbow_joint'] == pytest.approx(1.2) and pos['right_elbow_joint'] == pytest.approx(1.0)


def test_same_commands_same_states():
    def episode():
        w = SimWorld(load_embodiment('ur5e'), seed=4)
        w.command_trajectory(UR_JOINTS, [0.3, 0.9], [[0.3] * 6, [-0.2] * 6], now=0.0)
        w.command_positions(['robotiq_85_left_knuckle_joint'], [0.5], now=0.1)
        return run(w, 1.2, rate=250.0)[1]
    np.testing.assert_array_equal(episode(), episode())
