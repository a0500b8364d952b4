"""Convention arithmetic and normalisation modes against values worked out by hand."""

import math

import numpy as np
import pytest

from pi0_policy import convention_math as cm
from pi0_policy.norm_modes import FeatureNorm, parse_mode


def test_bool_mask_from_run_lengths_and_booleans():
    assert cm.bool_mask([6, -1, 6, -1]) == (True,) * 6 + (False,) + (True,) * 6 + (False,)
    assert cm.bool_mask([2, -2, 1]) == (True, True, False, False, True)
    assert cm.bool_mask([True, False]) == (True, False)
    with pytest.raises(ValueError, match="run lengths"):
        cm.bool_mask([3, 0])


def test_delta_and_absolute_on_the_masked_dims_only():
    actions = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    state = np.array([1.0, 2.0, 3.0])
    absolute = cm.delta_to_absolute(actions, state, (True, False))
    np.testing.assert_allclose(absolute, [[1.1, 0.2, 0.3], [1.4, 0.5, 0.6]])
    np.testing.assert_allclose(cm.absolute_to_delta(absolute, state, (True, False)), actions)


def test_aloha_state_sign_flips_and_gripper_angle():
    state = np.zeros(14)
    state[[1, 2, 8, 9]] = [0.5, -0.25, 0.75, 1.0]
    state[[0, 3]] = [0.3, 0.2]
    state[6], state[13] = 1.0, 0.0          # left open (finger 0.058 m), right closed (0.01844 m)
    pi = cm.aloha_state_to_pi(state)
    np.testing.assert_allclose(pi[[1, 2, 8, 9]], [-0.5, 0.25, -0.75, -1.0])
    np.testing.assert_allclose(pi[[0, 3]], [0.3, 0.2])
    # open: (0.022² + 0.058² - 0.036²) / (2·0.022·0.058) = 1 -> asin = π/2; (π/2 - 0.5476) / 1.082
    assert pi[6] == pytest.approx((math.pi / 2 - 0.5476) / 1.082, abs=1e-9)
    # closed: (0.000484 + 0.0003400336 - 0.001296) / 0.00081136 = -0.5816979 -> asin = -0.6208145
    assert pi[13] == pytest.approx((-0.6208145224 - 0.5476) / 1.082, abs=1e-8)


def test_aloha_action_gripper_and_round_trip():
    actions = np.zeros((2, 14))
    actions[0, 6] = 0.0                   # π gripper 0 -> (0 + 0.5476 + 0.6213) / 2.1123
    actions[1, 6] = 1.4910 - 0.5476       # ALOHA's open joint angle -> 1
    actions[:, 1] = 0.4
    aloha = cm.pi_actions_to_aloha(actions)
    assert aloha[0, 6] == pytest.approx(1.1689 / 2.1123, abs=1e-12)
    assert aloha[1, 6] == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(aloha[:, 1], -0.4)
    np.testing.assert_allclose(cm.aloha_actions_to_pi(aloha), actions, atol=1e-12)
    with pytest.raises(ValueError, match="14 dims"):
        cm.pi_actions_to_aloha(np.zeros((2, 8)))


def test_velocities_integrate_from_the_state_and_back():
    actions = np.array([[1.0, 9.0], [2.0, 8.0], [-1.0, 7.0]])
    state = np.array([0.0, 0.5])
    positions = cm.integrate_velocities(actions, state, (True, False), dt=0.1)
    np.testing.assert_allclose(positions, [[0.1, 9.0], [0.3, 8.0], [0.2, 7.0]])
    np.testing.assert_allclose(cm.differentiate_positions(positions, state, (True, False), 0.1), actions)


def test_gripper_flip():
    np.testing.assert_allclose(cm.flip_grippers(np.array([0.3, 0.2, 0.9]), (1, 2)), [0.3, 0.8, 0.1])


def test_mean_std_per_flavour():
    stats = {"mean": np.array([1.0]), "std": np.array([2.0])}
    openpi, lerobot = FeatureNorm("mean_std", "openpi", stats), FeatureNorm("mean_std", "lerobot", stats)
    assert openpi.normalize(np.array([3.0]))[0] == 2.0 / (2.0 + 1e-6)
    assert lerobot.normalize(np.array([3.0]))[0] == 2.0 / (2.0 + 1e-8)
    assert openpi.unnormalize(np.array([1.0]))[0] == 1.0 * (2.0 + 1e-6) + 1.0
    assert lerobot.unnormalize(np.array([1.0]))[0] == 3.0        # LeRobot's inverse has no epsilon


def test_quantile_modes_and_min_max():
    stats = {"q01": np.array([0.0, 1.0]), "q99": np.array([4.0, 1.0]), "q10": np.array([1.0, 0.0]),
             "q90": np.array([3.0, 2.0]), "min": np.array([-1.0, 0.0]), "max": np.array([1.0, 10.0])}
    x = np.array([1.0, 1.0])
    q = FeatureNorm("quantiles", "lerobot", stats)
    # 2 (1 - 0) / 4 - 1 = -0.5; a zero span (dim 1) is replaced by eps: 2·0/1e-8 - 1 = -1
    np.testing.assert_allclose(q.normalize(x), [-0.5, -1.0])
    assert FeatureNorm("quantiles", "openpi", stats).normalize(x)[0] == 2.0 / (4.0 + 1e-6) - 1.0
    np.testing.assert_allclose(FeatureNorm("quantile10", "lerobot", stats).normalize(x), [-1.0, 0.0])
    np.testing.assert_allclose(FeatureNorm("min_max", "lerobot", stats).normalize(x), [1.0, -0.8])
    for mode in ("quantiles", "quantile10", "min_max"):
        norm = FeatureNorm(mode, "lerobot", stats)
        np.testing.assert_allclose(norm.unnormalize(norm.normalize(np.array([0.5, 3.0])))[0], 0.5)


def test_identity_and_missing_statistics():
    np.testing.assert_array_equal(FeatureNorm("identity").normalize(np.array([5.0])), [5.0])
    with pytest.raises(ValueError, match=r"quantile10 normalisation needs statistics \['q10', 'q90'\]"):
        FeatureNorm("quantile10", "lerobot", {"mean": np.zeros(2), "std": np.ones(2)})
    assert parse_mode("QUANTILES", "norm.state") == "quantiles"
    with pytest.raises(ValueError, match="norm.state: unknown normalisation mode 'ZSCORE'"):
        parse_mode("ZSCORE", "norm.state")


def test_unnormalize_passes_dims_beyond_the_statistics():
    norm = FeatureNorm("mean_std", "openpi", {"mean": np.array([1.0]), "std": np.array([1.0])})
    out = norm.unnormalize(np.array([[0.0, 7.0]]))
    np.testing.assert_allclose(out, [[1.0, 7.0]])
