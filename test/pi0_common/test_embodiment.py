import copy

import numpy as np
import pytest
import yaml

from pi0_common.embodiment import (
    UNIFIED_DIM,
    EmbodimentError,
    MissingJointsError,
    _embodiment_dir,
    available_embodiments,
    load_embodiment,
    parse_embodiment,
)

# The unified layout of every embodiment (README: Embodiments).
EXPECTED = {
    'ur5e': (7, 20.0, 16, ['arm/gripper'], []),
    'ur5e_bimanual': (14, 20.0, 16, ['left/gripper', 'right/gripper'], []),
    'franka': (8, 20.0, 16, ['arm/gripper'], []),
    'trossen_bimanual': (14, 50.0, 25, ['left/gripper', 'right/gripper'], []),
    'arx_bimanual': (14, 50.0, 25, ['left/gripper', 'right/gripper'], []),
    'trossen_mobile': (16, 50.0, 25, ['left/gripper', 'right/gripper'], ['base/vx', 'base/wz']),
    'arx_mobile': (16, 50.0, 25, ['left/gripper', 'right/gripper'], ['base/vx', 'base/wz']),
    'fibocom_mobile': (17, 50.0, 25, ['left/gripper', 'right/gripper'], ['base/vx', 'base/vy', 'base/wz']),
}
GRIPPER_INDEX = {'ur5e': [6], 'franka': [7], 'ur5e_bimanual': [6, 13], 'trossen_bimanual': [6, 13],
                 'arx_bimanual': [6, 13], 'trossen_mobile': [6, 13], 'arx_mobile': [6, 13], 'fibocom_mobile': [6, 13]}


def raw(name='ur5e'):
    with open(_embodiment_dir() / f'{name}.yaml') as f:
        return yaml.safe_load(f)


def test_all_seven_robot_families_are_there():
    assert sorted(available_embodiments()) == sorted(EXPECTED)


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_unified_layout_matches_the_design(name):
    emb = load_embodiment(name)
    dims, rate, steps, grippers, base = EXPECTED[name]
    assert emb.valid_dims == dims and emb.control_rate_hz == rate and emb.executed_steps == steps
    assert [d.name for d in emb.dims if d.kind == 'gripper'] == grippers
    assert [d.index for d in emb.dims if d.kind == 'gripper'] == GRIPPER_INDEX[name]
    assert [d.name for d in emb.dims if d.kind == 'base'] == base
    assert base == [] or [d.index for d in emb.dims if d.kind == 'base'] == list(range(14, dims))
    assert emb.pad(np.ones(dims)).shape == (UNIFIED_DIM,)
    assert np.all(emb.lower <= emb.home) and np.all(emb.home <= emb.upper)


def test_unknown_name_suggests_the_closest():
    with pytest.raises(EmbodimentError, match='Did you mean ur5e'):
        load_embodiment('ur5')


@pytest.mark.parametrize('mutate, message', [
    (lambda r: r.pop('control_rate_hz'), 'control_rate_hz: required'),
    (lambda r: r.update(executed_steps=60), 'executed_steps'),
    (lambda r: r['arms'][0]['joints'][2].update(lower=4.0), 'arms\\[0\\].joints\\[2\\]: lower'),
    (lambda r: r['arms'][0]['joints'][0].update(home=9.0), 'home 9.0 outside'),
    (lambda r: r['arms'][0]['joints'][0].update(speed=1.0), 'unknown field\\(s\\) speed'),
    (lambda r: r['arms'][0]['gripper'].update(state_closed=0.0), 'open and closed'),
    (lambda r: r['cameras'].update(top={'topic': 'x'}), 'cameras.top: unknown slot'),
    (lambda r: r['cameras']['base'].update(transport='h264'), 'transport'),
    (lambda r: r['arms'][0].update(camera='right_wrist'), "camera 'right_wrist' is not among"),
    (lambda r: r['arms'][0]['joints'][1].update(max_velocity='fast'), 'max_velocity: expected float'),
    (lambda r: r['arms'][0]['joints'][1].update(name='shoulder_pan_joint'), 'duplicate joint names'),
])
def test_invalid_files_are_refused_naming_the_field(mutate, message):
    r = copy.deepcopy(raw())
    mutate(r)
    with pytest.raises(EmbodimentError, match=message):
        parse_embodiment(r)


def test_state_maps_joints_by_topic_and_name_and_grippers_to_unit_range():
    emb = load_embodiment('trossen_bimanual')
    positions = {}
    for arm in emb.arms:
        for k, j in enumerate(arm.joints):
            positions[(arm.joint_state_topic, j.name)] = 0.1 * k + (1.0 if arm.name == 'right' else 0.0)
        positions[(arm.joint_state_topic, 'left_finger')] = arm.gripper.state_closed
    state = emb.state_from_joints(positions)
    assert state[:6] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert state[7:13] == pytest.approx([1.0, 1.1, 1.2, 1.3, 1.4, 1.5])
    assert state[6] == pytest.approx(1.0) and state[13] == pytest.approx(1.0)     # closed = 1
    del positions[('follower_right/joint_states', 'elbow')]
    with pytest.raises(MissingJointsError, match='follower_right/joint_states:elbow'):
        emb.state_from_joints(positions)


def test_gripper_mappings_round_trip():
    g = load_embodiment('trossen_bimanual').arms[0].gripper
    assert g.to_command(0.0) == pytest.approx(1.6214) and g.to_command(1.0) == pytest.approx(0.6197)
    assert g.command_to_unified(g.to_command(0.3)) == pytest.approx(0.3)
    assert g.to_unified(g.unified_to_state(0.7)) == pytest.approx(0.7)
    assert g.to_command(5.0) == pytest.approx(0.6197)       # clamped to closed
