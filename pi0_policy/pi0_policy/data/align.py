"""Resampling recorded streams onto the dataset's frame clock. Pure numpy, integer nanoseconds.

Frame k of an episode is taken at t_k = t0 + k/fps, t0 = the episode's START. At t_k:

* state: each joint's latest sample at or before t_k, interpolated linearly towards the next sample when
  there is one (joint states come much faster than frames, so this removes up to one joint period of lag);
* action: the command issued at or just before t_k (sample and hold): commands are steps, not signals;
* image: the latest frame at or before t_k, never one from the future.

Times stay in int64 nanoseconds so that "at or before" is exact; only interpolation weights are floats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NS = 1_000_000_000


@dataclass
class TimeSeries:
    """Samples of one signal, sorted by stamp.

    Attributes:
        stamps: int64 [N] nanoseconds, non-decreasing.
        values: float64 [N] or [N, d].
    """

    stamps: np.ndarray
    values: np.ndarray

    @classmethod
    def from_samples(cls, stamps: list[int], values: list, dim: int | None = None) -> TimeSeries:
        """Build from unsorted samples; a stable sort keeps the bag order of equal stamps."""
        stamps_arr = np.asarray(stamps, dtype=np.int64)
        shape = (0,) if dim is None else (0, dim)
        values_arr = np.asarray(values, dtype=np.float64) if len(values) else np.zeros(shape)
        order = np.argsort(stamps_arr, kind="stable")
        return cls(stamps_arr[order], values_arr[order])

    def __len__(self) -> int:
        return len(self.stamps)

    @property
    def first(self) -> int | None:
        """Stamp of the first sample, None when empty."""
        return int(self.stamps[0]) if len(self.stamps) else None


def frame_times(start_ns: int, stop_ns: int, fps: int) -> np.ndarray:
    """t_k = start + k/fps (rounded to the nanosecond) for every k with t_k <= stop; int64 [K]."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if stop_ns < start_ns:
        return np.zeros(0, dtype=np.int64)
    count = (stop_ns - start_ns) * fps // NS + 1
    k = np.arange(count, dtype=np.int64)
    # k * NS // fps is exact integer arithmetic; the rounding below is at most half a nanosecond.
    return start_ns + (k * NS + fps // 2) // fps


def index_at_or_before(stamps: np.ndarray, times: np.ndarray) -> np.ndarray:
    """For each time, the index of the last sample with stamp <= time; -1 where none has arrived."""
    return np.searchsorted(stamps, times, side="right") - 1


def sample_and_hold(series: TimeSeries, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values of the latest sample at or before each time.

    Returns:
        (values [K, ...] with NaN where nothing has arrived, indices [K] with -1 there).
    """
    idx = index_at_or_before(series.stamps, times)
    values = series.values[np.clip(idx, 0, None)] if len(series) else np.zeros((len(times), *series.values.shape[1:]))
    values = np.array(values, dtype=np.float64)
    values[idx < 0] = np.nan
    return values, idx


def interpolate(series: TimeSeries, times: np.ndarray) -> np.ndarray:
    """Linear interpolation between the samples around each time; held after the last sample.

    A time before the first sample gives NaN (not arrived). A time equal to a stamp gives that sample
    exactly (the latest of equal stamps).
    """
    idx = index_at_or_before(series.stamps, times)
    out = np.full((len(times), *series.values.shape[1:]), np.nan)
    arrived = idx >= 0
    if not arrived.any():
        return out
    i = idx[arrived]
    t = times[arrived]
    j = np.minimum(i + 1, len(series) - 1)
    s_i, s_j = series.stamps[i], series.stamps[j]
    span = (s_j - s_i).astype(np.float64)
    # Weight of the later sample; 0 after the last sample (j == i) and exactly on a stamp.
    w = np.where(span > 0, (t - s_i).astype(np.float64) / np.where(span > 0, span, 1.0), 0.0)
    v_i, v_j = series.values[i], series.values[j]
    if v_i.ndim > 1:
        w = w[:, None]
    out[arrived] = v_i + w * (v_j - v_i)
    return out


def sample_age(series: TimeSeries, times: np.ndarray) -> np.ndarray:
    """Seconds since the latest sample at or before each time (NaN before the first sample)."""
    idx = index_at_or_before(series.stamps, times)
    age = np.full(len(times), np.nan)
    ok = idx >= 0
    age[ok] = (times[ok] - series.stamps[idx[ok]]) / NS
    return age
