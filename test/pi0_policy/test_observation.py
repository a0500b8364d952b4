import numpy as np
import pytest

from pi0_common.embodiment import load_embodiment
from pi0_policy.observation import ObservationBuffer, ObservationNotReadyError

UR_JOINTS = ['shoulder_pan_joint', 'shoulder_lift_joint', 'elbow_joint', 'wrist_1_joint', 'wrist_2_joint',
             'wrist_3_joint', 'robotiq_85_left_knuckle_joint']


def image(value):
    return np.full((4, 4, 3), value, np.uint8)


@pytest.fixture
def buf():
    return ObservationBuffer(load_embodiment('ur5e'), ('base', 'left_wrist'), max_state_age=0.2, max_image_age=0.5)


def fill(buf, t=10.0):
    buf.add_joint_state('joint_states', UR_JOINTS, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7929 / 2], t)
    buf.add_frame('base', 1, t, image)
    buf.add_frame('left_wrist', 2, t, image)


def test_complete_fresh_observation(buf):
    fill(buf)
    obs = buf.snapshot(10.05)
    assert obs.stamp == 10.0
    assert obs.state == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.5])
    assert obs.images['base'][0, 0, 0] == 1 and obs.images['left_wrist'][0, 0, 0] == 2


def test_joints_are_mapped_by_name_not_order(buf):
    fill(buf)
    buf.add_joint_state('joint_states', list(reversed(UR_JOINTS)), [0.0, 6, 5, 4, 3, 2, 1], 10.01)
    assert buf.snapshot(10.05).state == pytest.approx([1, 2, 3, 4, 5, 6, 0.0])


def test_missing_joint_is_refused_not_zero_filled(buf):
    buf.add_joint_state('joint_states', UR_JOINTS[:-2], [0.1] * 5, 10.0)
    buf.add_frame('base', 1, 10.0, image)
    buf.add_frame('left_wrist', 2, 10.0, image)
    with pytest.raises(ObservationNotReadyError, match='wrist_3_joint.*robotiq_85_left_knuckle_joint'):
        buf.snapshot(10.05)


def test_older_joint_state_does_not_overwrite_a_newer_one(buf):
    fill(buf, t=10.0)
    buf.add_joint_state('joint_states', UR_JOINTS, [9.0] * 7, 9.9)
    assert buf.snapshot(10.05).state[0] == pytest.approx(0.1)
    assert buf.joints.out_of_order == 7


@pytest.mark.parametrize('now, reason', [(10.3, 'joint state is'), ])
def test_stale_state_blocks_inference(buf, now, reason):
    fill(buf)
    with pytest.raises(ObservationNotReadyError, match=reason):
        buf.snapshot(now)


def test_missing_or_stale_camera_blocks_inference(buf):
    buf.add_joint_state('joint_states', UR_JOINTS, [0.0] * 7, 10.0)
    buf.add_frame('base', 1, 10.0, image)
    with pytest.raises(ObservationNotReadyError, match='left_wrist'):
        buf.snapshot(10.05)
    buf.add_frame('left_wrist', 2, 9.0, image)
    with pytest.raises(ObservationNotReadyError, match='left_wrist image is 1.050 s old'):
        buf.snapshot(10.05)


def test_unconfigured_camera_is_not_required():
    buf = ObservationBuffer(load_embodiment('ur5e'), ('base',), 0.2, 0.5)
    buf.add_joint_state('joint_states', UR_JOINTS, [0.0] * 7, 10.0)
    buf.add_frame('base', 1, 10.0, image)
    assert set(buf.snapshot(10.05).images) == {'base'}


def test_unknown_camera_slot_is_refused():
    with pytest.raises(ValueError, match='right_wrist'):
        ObservationBuffer(load_embodiment('ur5e'), ('base', 'right_wrist'), 0.2, 0.5)


def test_mobile_robot_needs_odometry():
    emb = load_embodiment('trossen_mobile')
    buf = ObservationBuffer(emb, ('base',), 0.2, 0.5)
    for side in ('left', 'right'):
        arm = next(a for a in emb.arms if a.name == side)
        buf.add_joint_state(arm.joint_state_topic, [j.name for j in arm.joints] + ['left_finger'],
                            [0.0] * 6 + [0.05], 10.0)
    buf.add_frame('base', 1, 10.0, image)
    with pytest.raises(ObservationNotReadyError, match='mobile_base/odom'):
        buf.snapshot(10.05)
    buf.add_base_velocity({'vx': 0.3, 'vy': 0.0, 'wz': -0.1}, 10.0)
    state = buf.snapshot(10.05).state
    assert state[-2:] == pytest.approx([0.3, -0.1])
