"""Resampling maths: frame clock, interpolation, sample-and-hold, never a sample from the future."""

import numpy as np

from pi0_policy.data.align import TimeSeries, frame_times, interpolate, sample_age, sample_and_hold

NS = 1_000_000_000


def test_frame_times_step_exactly_one_over_fps_and_stop_at_stop():
    t = frame_times(5 * NS, 5 * NS + NS // 2, 20)
    assert t.dtype == np.int64 and len(t) == 11
    assert np.all(np.diff(t) == NS // 20) and t[0] == 5 * NS and t[-1] == 5 * NS + NS // 2
    # 30 fps does not divide a second in nanoseconds: every frame is within half a nanosecond of k/30.
    t = frame_times(0, NS, 30)
    assert len(t) == 31 and np.max(np.abs(t - np.arange(31) * NS / 30)) <= 0.5
    assert len(frame_times(10, 5, 20)) == 0


def test_interpolation_between_the_samples_around_each_time():
    s = TimeSeries.from_samples([30, 10, 20], [[3.0, 30.0], [1.0, 10.0], [2.0, 20.0]])  # unsorted input
    assert s.stamps.tolist() == [10, 20, 30]
    out = interpolate(s, np.array([5, 10, 15, 29, 30, 99]))
    assert np.isnan(out[0]).all()  # before the first sample: not arrived
    np.testing.assert_allclose(out[1:], [[1, 10], [1.5, 15], [2.9, 29], [3, 30], [3, 30]])  # held after the last


def test_sample_and_hold_takes_the_latest_at_or_before_never_the_next():
    s = TimeSeries.from_samples([100, 200, 200, 300], [1.0, 2.0, 2.5, 3.0])
    values, idx = sample_and_hold(s, np.array([99, 100, 199, 200, 250, 1000]))
    assert np.isnan(values[0]) and idx[0] == -1
    assert values[1:].tolist() == [1.0, 1.0, 2.5, 2.5, 3.0]  # equal stamps: the later message wins
    np.testing.assert_allclose(sample_age(s, np.array([50, 250])), [np.nan, 50 / NS])
