import numpy as np
import pytest

from pi0_common.commands import first_non_finite
from pi0_common.embodiment import load_embodiment
from pi0_drivers.safety import Limits, clamp_positions, largest_jump, limit_trajectory


@pytest.fixture
def ur5e_limits():
    return Limits.from_embodiment(load_embodiment('ur5e'))


def test_limits_follow_the_embodiment(ur5e_limits):
    assert ur5e_limits.names[2] == 'arm/elbow_joint'
    assert ur5e_limits.upper[2] == pytest.approx(3.1416)
    assert ur5e_limits.kinds[6] == 'gripper'
    assert (ur5e_limits.lower[6], ur5e_limits.upper[6]) == (0.0, 1.0)


def test_velocity_scale_and_margin():
    emb = load_embodiment('ur5e')
    lim = Limits.from_embodiment(emb, velocity_scale=0.5, position_margin=0.1)
    assert lim.max_rate[0] == pytest.approx(3.1416 / 2)
    assert lim.max_rate[6] == pytest.approx(2.0)               # grippers are not scaled
    assert lim.upper[2] == pytest.approx(3.0416)
    with pytest.raises(ValueError, match='velocity_scale'):
        Limits.from_embodiment(emb, velocity_scale=1.5)


def test_clamp_positions(ur5e_limits):
    target = np.array([7.0, 0, -4.0, 0, 0, 0, 1.5])
    out = clamp_positions(target, ur5e_limits)
    assert out[0] == pytest.approx(6.2832) and out[2] == pytest.approx(-3.1416) and out[6] == 1.0


def test_limit_trajectory_bounds_every_step(ur5e_limits):
    dt = 0.05
    rows = np.tile(np.array([1.0, 0, 0, 0, 0, 0, 1.0]), (5, 1))
    out = limit_trajectory(rows, np.zeros(7), ur5e_limits, dt)
    steps = np.diff(np.vstack([np.zeros(7), out]), axis=0)
    assert np.all(np.abs(steps) <= ur5e_limits.max_rate * dt + 1e-12)
    assert out[-1, 0] == pytest.approx(5 * 3.1416 * dt)         # moving at the limit towards 1.0
    assert out[-1, 6] == pytest.approx(0.5)                     # gripper: 2 strokes/s * 5 * 0.05


def test_base_velocity_is_acceleration_limited():
    lim = Limits.from_embodiment(load_embodiment('trossen_mobile'))
    vx = lim.names.index('base/vx')
    rows = np.zeros((3, lim.dims))
    prev = np.zeros(lim.dims)
    prev[vx] = 0.7
    out = limit_trajectory(rows, prev, lim, 0.02)
    assert out[:, vx] == pytest.approx([0.68, 0.66, 0.64])      # 1 m/s^2 deceleration


def test_first_non_finite():
    a = np.zeros((3, 4))
    assert first_non_finite(a) is None
    a[2, 1] = np.nan
    a[2, 3] = np.inf
    assert first_non_finite(a) == (2, 1)


def test_largest_jump_names_the_worst_dim(ur5e_limits):
    ref = np.zeros(7)
    target = np.array([0.1, 0.5, 0.0, 0.0, 0.0, 0.9, 1.0])
    name, size, allowed = largest_jump(target, ref, ur5e_limits, max_joint_jump=0.35, max_gripper_jump=1.0)
    assert name == 'arm/wrist_3_joint' and size == pytest.approx(0.9) and allowed == 0.35
    assert largest_jump(target * 0.1, ref, ur5e_limits, 0.35, 1.0) is None
