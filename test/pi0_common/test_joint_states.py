import math

import pytest

from pi0_common.embodiment import MissingJointsError, load_embodiment
from pi0_common.joint_states import JointStateCache


def test_non_finite_positions_are_ignored_and_reported():
    cache = JointStateCache(load_embodiment('ur5e'))
    names = ['shoulder_pan_joint', 'shoulder_lift_joint', 'elbow_joint', 'wrist_1_joint', 'wrist_2_joint',
             'wrist_3_joint', 'robotiq_85_left_knuckle_joint']
    bad = cache.update('joint_states', names, [0.0, math.nan, 0, 0, 0, 0, 0], 1.0)
    assert bad == ['shoulder_lift_joint']
    with pytest.raises(MissingJointsError, match='shoulder_lift_joint'):
        cache.state()
    cache.update('joint_states', names, [0.1] * 7, 1.1)
    state, stamp = cache.state()
    assert stamp == 1.1 and state[1] == pytest.approx(0.1)


def test_mismatched_lengths_are_refused():
    cache = JointStateCache(load_embodiment('ur5e'))
    with pytest.raises(ValueError, match='2 names but 1 positions'):
        cache.update('joint_states', ['a', 'b'], [0.0], 1.0)


def test_stamp_is_the_oldest_value_used():
    emb = load_embodiment('trossen_bimanual')
    cache = JointStateCache(emb)
    for arm, t in zip(emb.arms, (5.0, 4.5), strict=True):
        cache.update(arm.joint_state_topic, [j.name for j in arm.joints] + ['left_finger'], [0.0] * 6 + [0.05], t)
    assert cache.state()[1] == 4.5
