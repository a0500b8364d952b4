"""Training samples (Pi0Dataset) and the n^0.43 mixture of datasets."""

from __future__ import annotations

import numpy as np
import pytest

from pi0_policy.data.mixture import MixtureBatchSampler, mixture_weights
from pi0_policy.data.reader import LeRobotReader
from pi0_policy.data.torch_dataset import Pi0Dataset
from pi0_policy.image_transforms import resize_with_pad, to_model_pixels
from pi0_policy.model.config import get_config
from pi0_policy.model.tokenizer import load_tokenizer
from pi0_policy.normalize import load_norm_stats


@pytest.fixture(scope="module")
def samples(converted):
    reader = LeRobotReader(converted["v2.1"].out_dir)
    config = get_config("pi0_tiny")
    stats = load_norm_stats(converted["v2.1"].out_dir / "norm_stats.json")
    return Pi0Dataset(reader, config, load_tokenizer(config), stats), reader, config, stats


def test_a_sample_is_what_the_policy_feeds_the_model(samples):
    ds, reader, c, stats = samples
    i = 3
    s = ds[i]
    assert s["images"].shape == (3, 3, 64, 64) and s["images"].dtype == np.float32
    for k, slot in enumerate(["base", "left_wrist"]):
        np.testing.assert_array_equal(s["images"][k], to_model_pixels(resize_with_pad(reader.image(i, slot), 64, 64)))
    assert s["image_masks"].tolist() == [True, True, False]  # no right wrist camera: masked, not faked
    tokens, mask = load_tokenizer(c).tokenize(reader.task(i))
    np.testing.assert_array_equal(s["tokens"], tokens)
    np.testing.assert_array_equal(s["token_masks"], mask)
    assert s["state"].shape == (18,) and np.all(s["state"][7:] == 0)
    np.testing.assert_allclose(s["state"][:7], stats["state"].normalize(reader.state[i].astype(np.float64)), rtol=1e-6)
    assert s["action_dim_mask"].tolist() == [True] * 7 + [False] * 11


def test_the_action_chunk_repeats_the_last_action_past_the_episode_end(samples):
    ds, reader, c, stats = samples
    episode = reader.episodes[0]
    i = episode.stop - 4  # four actions left in the episode
    s = ds[i]
    assert s["actions"].shape == (c.action_horizon, 18)
    assert s["action_is_pad"].tolist() == [False] * 4 + [True] * (c.action_horizon - 4)
    rows = np.minimum(np.arange(i, i + c.action_horizon), episode.stop - 1)
    expected = stats["actions"].normalize(reader.action[rows].astype(np.float64))
    np.testing.assert_allclose(s["actions"][:, :7], expected, rtol=1e-5, atol=1e-6)
    assert np.all(s["actions"][:, 7:] == 0)
    assert not np.array_equal(s["actions"][3], ds[episode.stop]["actions"][0])  # never the next episode's
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_mixture_weights_follow_n_to_the_0_43():
    sizes = [100, 1_000, 10_000]
    w = mixture_weights(sizes)
    np.testing.assert_allclose(w[1] / w[0], 10**0.43)
    np.testing.assert_allclose(w[2] / w[0], 100**0.43)
    assert abs(w.sum() - 1) < 1e-12
    with pytest.raises(ValueError, match="at least one sample"):
        mixture_weights([5, 0])


def test_sampled_batches_follow_the_weights_and_are_reproducible():
    sizes = [100, 1_000, 10_000]
    sampler = MixtureBatchSampler(sizes, batch_size=50, seed=7)
    draws = np.concatenate([sampler.batch(step) for step in range(400)])  # 20,000 samples
    dataset = np.searchsorted(np.cumsum(sizes), draws, side="right")
    freq = np.bincount(dataset, minlength=3) / len(draws)
    w = mixture_weights(sizes)
    sigma = np.sqrt(w * (1 - w) / len(draws))
    assert np.all(np.abs(freq - w) < 4 * sigma), (freq, w)  # proportional-to-n would give [0.009, 0.09, 0.9]
    # Within a dataset, rows are uniform: the smallest dataset's rows cover their range evenly.
    rows = draws[dataset == 0]
    assert rows.min() >= 0 and rows.max() < 100 and abs(rows.mean() - 49.5) < 3 * 29 / np.sqrt(len(rows))
    assert sampler.batch(3) == MixtureBatchSampler(sizes, 50, seed=7).batch(3)  # a function of (seed, step, rank)
    assert sampler.batch(3) != MixtureBatchSampler(sizes, 50, seed=7, rank=1).batch(3)
    resumed = iter(MixtureBatchSampler(sizes, 50, seed=7, start_step=3))
    assert next(resumed) == sampler.batch(3)
