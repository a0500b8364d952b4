"""Leader-arm mapping and the teleop commander: by-name mapping, gripper conversion, a jump-free
start from the measured state, rate and position limits, holding stale arms, zeroing a stale base."""

import math

import numpy as np
import pytest

from pi0_common.commands import MODE_ACTIVE, MODE_HOLD
from pi0_common.embodiment import MissingJointsError, load_embodiment
from pi0_drivers.safety import Limits
from pi0_recording.teleop.commander import Target, TeleopCommander
from pi0_recording.teleop.leader import LeaderGripper, LeaderMapping, default_leader_topic

ALOHA = load_embodiment('trossen_mobile')         # two arms with grippers and a (vx, wz) base
JOINTS = ['waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle', 'wrist_rotate']


def test_leader_gripper_maps_aloha_constants_to_unified():
    g = LeaderGripper()
    assert g.to_unified(0.8298) == 0.0 and g.to_unified(-0.0552) == 1.0
    assert g.to_unified((0.8298 - 0.0552) / 2) == pytest.approx(0.5)
    assert g.to_unified(2.0) == 0.0 and g.to_unified(-1.0) == 1.0        # beyond the stroke: clamped
    with pytest.raises(ValueError):
        LeaderGripper(open=0.3, closed=0.3)
    with pytest.raises(ValueError):
        LeaderGripper(open=math.nan)


def test_default_leader_topics():
    assert default_leader_topic('follower_left/joint_states') == 'leader_left/joint_states'
    assert default_leader_topic('/joint_states') == 'leader/joint_states'


def test_leader_mapping_goes_by_name_and_names_what_is_missing():
    mapping = LeaderMapping(ALOHA, ['leader_left/joint_states', 'leader_right/joint_states'], LeaderGripper())
    names = list(reversed(JOINTS)) + ['left_finger', 'gripper']            # not URDF order
    positions = [float(i) for i in range(len(JOINTS))][::-1] + [0.05, 0.8298]
    indices, values = mapping.arm_target(1, names, positions)
    assert indices == list(range(7, 14))                                    # right arm: dims 7..13
    np.testing.assert_allclose(values, list(range(6)) + [0.0])
    with pytest.raises(MissingJointsError, match='leader_left/joint_states: no finite value for elbow'):
        mapping.arm_target(0, ['waist', 'shoulder'], [0.0, 0.0])
    with pytest.raises(MissingJointsError, match='wrist_rotate'):
        mapping.arm_target(0, JOINTS + ['gripper'], [0.0] * 5 + [math.nan, 0.0])
    with pytest.raises(ValueError, match='2 arm'):
        LeaderMapping(ALOHA, ['leader/joint_states'], LeaderGripper())


def make_commander(**kw):
    return TeleopCommander(ALOHA, Limits.from_embodiment(ALOHA), arm_timeout=kw.get('arm_timeout', 0.2),
                           base_timeout=kw.get('base_timeout', 0.3))


def test_no_command_before_the_follower_state_and_the_first_one_is_where_it_is():
    c = make_commander()
    assert c.tick(0.0, None, [], None) is None
    measured = ALOHA.home.copy()
    measured[ALOHA.base_indices()] = [0.4, 0.2]                            # a moving base starts from rest
    cmd = c.tick(0.0, measured, [], None)
    assert cmd.mode == MODE_HOLD and cmd.positions.shape == (1, ALOHA.valid_dims)
    expected = ALOHA.home.copy()
    np.testing.assert_allclose(cmd.positions[0], expected)


def test_a_far_leader_is_followed_within_the_rate_limits_then_reached():
    c = make_commander()
    dt = ALOHA.dt
    c.tick(0.0, ALOHA.home, [], None)
    goal = ALOHA.home.copy()
    goal[0] += 1.0                                                         # left waist 1 rad away
    goal[6] = 1.0                                                          # left gripper closed
    limits = Limits.from_embodiment(ALOHA)
    previous = ALOHA.home.copy()
    for k in range(1, 200):
        now = k * dt
        cmd = c.tick(now, None, [Target(list(range(7)), goal[:7], now)], None)
        row = cmd.positions[0]
        assert cmd.mode == MODE_ACTIVE
        assert np.all(np.abs(row - previous) <= limits.max_rate * dt + 1e-9)
        previous = row
    np.testing.assert_allclose(previous[:7], goal[:7], atol=1e-9)


def test_positions_are_clamped_to_the_joint_limits():
    c = make_commander()
    c.tick(0.0, ALOHA.home, [], None)
    wild = ALOHA.home[:7].copy()
    wild[1] = 10.0                                                         # shoulder far past its limit
    for k in range(1, 400):
        cmd = c.tick(k * ALOHA.dt, None, [Target(list(range(7)), wild, k * ALOHA.dt)], None)
    assert cmd.positions[0, 1] == pytest.approx(ALOHA.upper[1])


def test_stale_arm_holds_and_stale_base_is_brought_to_zero():
    c = make_commander(arm_timeout=0.2, base_timeout=0.3)
    dt = ALOHA.dt
    c.tick(0.0, ALOHA.home, [], None)
    leader = Target(list(range(7)), ALOHA.home[:7] + 0.05, 0.0)
    base_idx = ALOHA.base_indices()
    twist = Target(base_idx, np.array([0.5, -0.5]), 0.0)
    now = 0.0
    for _ in range(50):                                                    # 1 s of fresh input
        now += dt
        leader.stamp = twist.stamp = now
        cmd = c.tick(now, None, [leader], twist)
    np.testing.assert_allclose(cmd.positions[0, base_idx], [0.5, -0.5])
    held = cmd.positions[0, :7].copy()
    # Both sources stop; for a while they are still fresh, then the arm holds and the base stops.
    for _ in range(100):
        now += dt
        cmd = c.tick(now, None, [leader], twist)
    assert cmd.mode == MODE_HOLD
    np.testing.assert_allclose(cmd.positions[0, :7], held)
    np.testing.assert_allclose(cmd.positions[0, base_idx], [0.0, 0.0])
    # A non-finite twist is ignored (the base keeps its zero).
    cmd = c.tick(now + dt, None, [], Target(base_idx, np.array([math.nan, 0.0]), now + dt))
    np.testing.assert_allclose(cmd.positions[0, base_idx], [0.0, 0.0])
