"""openpi norm_stats.json reading/writing and the normalisation maths."""

import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from pi0_policy.normalize import (
    NormStats,
    compute_norm_stats,
    load_lerobot_norm_stats,
    load_norm_stats,
    save_norm_stats,
)

STATS = NormStats(mean=[1.0, -2.0, 0.5], std=[2.0, 0.5, 1.0], q01=[-1.0, -3.0, 0.0], q99=[3.0, -1.0, 1.0])


def test_zscore_matches_openpi_and_inverts():
    x = np.array([[3.0, -2.5, 0.5], [1.0, -2.0, 2.5]])
    expected = (x - STATS.mean) / (STATS.std + 1e-6)
    np.testing.assert_allclose(STATS.normalize(x), expected)
    np.testing.assert_allclose(STATS.unnormalize(STATS.normalize(x)), x, atol=1e-12)


def test_quantiles_map_q01_q99_to_minus_one_and_one():
    ends = np.stack([STATS.q01, STATS.q99])
    np.testing.assert_allclose(STATS.normalize(ends, use_quantiles=True), [[-1, -1, -1], [1, 1, 1]], atol=1e-5)
    x = np.array([0.3, -2.2, 0.9])
    np.testing.assert_allclose(STATS.unnormalize(STATS.normalize(x, True), True), x, atol=1e-12)


def test_fewer_dims_use_the_first_stats_and_extra_dims_pass_through():
    np.testing.assert_allclose(STATS.normalize(np.array([1.0, -2.0])), [0.0, 0.0])
    out = STATS.unnormalize(np.array([0.0, 0.0, 0.0, 7.0]))
    np.testing.assert_allclose(out, [1.0, -2.0, 0.5, 7.0])
    with pytest.raises(ValueError, match="cover 3"):
        STATS.normalize(np.zeros(4))


def test_json_round_trip_in_openpi_format(tmp_path):
    path = save_norm_stats(tmp_path / "assets" / "ur5e", {"state": STATS, "actions": STATS})
    assert path == tmp_path / "assets" / "ur5e" / "norm_stats.json"
    raw = json.loads(path.read_text())
    assert set(raw) == {"norm_stats"} and raw["norm_stats"]["state"]["q99"] == [3.0, -1.0, 1.0]
    loaded = load_norm_stats(path.parent)
    for key in ("state", "actions"):
        for field in ("mean", "std", "q01", "q99"):
            np.testing.assert_array_equal(getattr(loaded[key], field), getattr(STATS, field))


def test_openpi_file_without_quantiles(tmp_path):
    path = tmp_path / "norm_stats.json"
    path.write_text('{"norm_stats": {"state": {"mean": [0, 1], "std": [1, 2], "q01": null, "q99": null},'
                    ' "actions": {"mean": [0], "std": [1]}}}')
    stats = load_norm_stats(path)
    assert not stats["state"].has_quantiles and stats["actions"].dim == 1
    with pytest.raises(ValueError, match="q01"):
        stats["state"].normalize(np.zeros(2), use_quantiles=True)


@pytest.mark.parametrize("text, message", [
    ("not json", "not valid JSON"),
    ('{"state": {}}', "norm_stats"),
    ('{"norm_stats": {"state": {"mean": [0, 1]}}}', "state"),
    ('{"norm_stats": {"state": {"mean": [0, 1], "std": [1]}}}', "std"),
    ('{"norm_stats": {"state": {"mean": [0, NaN], "std": [1, 1]}}}', "finite"),
])
def test_bad_files_are_refused(tmp_path, text, message):
    path = tmp_path / "norm_stats.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_norm_stats(path)


def test_compute_norm_stats():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(20_000, 2))
    s = compute_norm_stats(x)
    np.testing.assert_allclose(s.mean, 3.0, atol=0.05)
    np.testing.assert_allclose(s.std, 2.0, atol=0.05)
    np.testing.assert_allclose(s.q99, 3.0 + 2.326 * 2.0, atol=0.1)


def test_lerobot_normaliser_file(tmp_path):
    save_file({"observation.state.mean": np.array([1.0, 2.0], np.float32),
               "observation.state.std": np.array([0.5, 0.5], np.float32),
               "action.mean": np.array([0.0], np.float32), "action.std": np.array([2.0], np.float32),
               "action.min": np.array([-1.0], np.float32)},
              str(tmp_path / "policy_preprocessor_step_2_normalizer_processor.safetensors"))
    stats = load_lerobot_norm_stats(tmp_path)
    np.testing.assert_allclose(stats["state"].mean, [1.0, 2.0])
    np.testing.assert_allclose(stats["actions"].std, [2.0])
    assert not stats["actions"].has_quantiles
