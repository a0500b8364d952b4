"""Chunk timing maths: where a chunk says the robot should be at time t, and how to switch chunks.

Timing semantics (README: Chunk execution): a chunk's step k is due at ``stamp + k * dt``, where the
stamp is the acquisition time of the observation the policy saw. "Due" means commanded then: as in
openpi's runtime and in recorded data, the action at time t is the command issued at t, which the
controller reaches one step later. Sampling a chunk at the current
time therefore skips the steps whose time passed during inference (latency compensation). Between
steps the target is interpolated linearly, so a controller ticking off the chunk's grid still gets
a target that is exact on the grid and continuous between.

Switching modes (how a newly arrived chunk takes over from the one being executed):
    replace    the new chunk takes over at once (the paper's scheme); the velocity limits of
               safety.py bound what is left of the discontinuity.
    crossfade  linear blend from the old chunk to the new one over ``crossfade_steps`` steps.
    rtc        real-time chunking: the policy inpaints the new chunk's first steps to agree with
               the actions the executor has committed, so the switch itself is a replace.
    ensemble   temporal ensembling (ACT): every recent chunk that covers t votes, older chunks
               weighted exp(-m * i) more, as a smoothing baseline to compare against.

Pure Python and numpy: no rclpy import.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

SWITCHING_MODES = ('replace', 'crossfade', 'rtc', 'ensemble')


@dataclass(frozen=True)
class Chunk:
    """A validated action chunk in the embodiment's valid dims.

    Attributes:
        chunk_id: id given by the policy node.
        stamp: observation time in seconds (step 0 is due then).
        dt: seconds between steps.
        actions: float array [H, valid_dims], physical units.
        arrival: time the executor accepted it, seconds.
    """

    chunk_id: int
    stamp: float
    dt: float
    actions: np.ndarray
    arrival: float

    @property
    def horizon(self) -> int:
        return self.actions.shape[0]

    def step_index(self, t: float) -> float:
        """Fractional step index due at time t (may be negative or past the end)."""
        return (t - self.stamp) / self.dt

    def step_time(self, k: float) -> float:
        return self.stamp + k * self.dt

    def at(self, t: float) -> np.ndarray:
        """Target at time t: linear interpolation between steps, held at the chunk's ends."""
        s = min(max(self.step_index(t), 0.0), self.horizon - 1.0)
        k = int(math.floor(s))
        if k >= self.horizon - 1:
            return self.actions[-1].copy()
        frac = s - k
        return (1.0 - frac) * self.actions[k] + frac * self.actions[k + 1]

    def rows_from(self, t: float, count: int) -> np.ndarray:
        """Targets at t, t + dt, ... (count rows), sampled on this chunk's own step spacing."""
        return np.stack([self.at(t + i * self.dt) for i in range(count)])


class LatencyEstimator:
    """Observation-to-arrival latency over a window of recent chunks, excluding the first one.

    The first inference of a process is cold (allocation, kernel selection) and often several times
    slower; counting it made other bridges skip many steps and jump. The estimate is the maximum over
    the window: it only decides how early the next chunk is requested, so erring high costs a little
    compute, erring low costs a watchdog hold.
    """

    def __init__(self, window: int = 10, skip_first: int = 1):
        self._samples: deque[float] = deque(maxlen=window)
        self._to_skip = skip_first
        self.last: float | None = None

    def add(self, latency: float) -> None:
        self.last = latency
        if self._to_skip > 0:
            self._to_skip -= 1
            return
        self._samples.append(latency)

    @property
    def estimate(self) -> float | None:
        """Seconds, or None before any sample that counts (the first, cold one is not used)."""
        return max(self._samples) if self._samples else None

    def __len__(self) -> int:
        return len(self._samples)


class ChunkBlender:
    """Holds the chunks being executed and samples the blended target at a time t.

    Args:
        mode: one of SWITCHING_MODES.
        crossfade_steps: length of the crossfade in steps (mode "crossfade").
        ensemble_decay: m in the ensemble weights exp(-m * i), i = 0 for the oldest chunk.
        ensemble_size: how many recent chunks vote (mode "ensemble").
    """

    def __init__(self, mode: str = 'replace', crossfade_steps: int = 5, ensemble_decay: float = 0.1,
                 ensemble_size: int = 4):
        if mode not in SWITCHING_MODES:
            raise ValueError(f'switching mode {mode!r}: expected one of {", ".join(SWITCHING_MODES)}')
        if crossfade_steps < 1 or ensemble_size < 1 or ensemble_decay < 0:
            raise ValueError('crossfade_steps and ensemble_size must be >= 1, ensemble_decay >= 0')
        self.mode = mode
        self.crossfade_steps = crossfade_steps
        self.ensemble_decay = ensemble_decay
        self._chunks: deque[Chunk] = deque(maxlen=ensemble_size if mode == 'ensemble' else 2)
        self._switch_time: float | None = None

    @property
    def current(self) -> Chunk | None:
        """The newest chunk, the one whose executed window decides freshness."""
        return self._chunks[-1] if self._chunks else None

    def clear(self) -> None:
        self._chunks.clear()
        self._switch_time = None

    def add(self, chunk: Chunk, now: float) -> None:
        if self.mode != 'ensemble' and self._chunks:
            # Only the chunk being left matters for a crossfade; older ones are gone.
            while len(self._chunks) > 1:
                self._chunks.popleft()
        self._chunks.append(chunk)
        self._switch_time = now

    def target(self, t: float) -> np.ndarray:
        """Blended target at time t. Requires at least one chunk."""
        if not self._chunks:
            raise RuntimeError('no chunk to sample')
        new = self._chunks[-1]
        if self.mode in ('replace', 'rtc') or len(self._chunks) == 1:
            return new.at(t)
        if self.mode == 'crossfade':
            old = self._chunks[0]
            w = (t - self._switch_time) / (self.crossfade_steps * new.dt)
            if w >= 1.0:
                return new.at(t)
            w = max(0.0, w)
            return (1.0 - w) * old.at(t) + w * new.at(t)
        # ensemble: chunks that still cover t vote, the oldest with the largest weight (ACT).
        votes, weights = [], []
        for i, chunk in enumerate(self._chunks):
            if chunk is new or chunk.step_index(t) <= chunk.horizon - 1:
                votes.append(chunk.at(t))
                weights.append(math.exp(-self.ensemble_decay * i))
        w = np.asarray(weights) / sum(weights)
        return np.tensordot(w, np.stack(votes), axes=1)

    def targets(self, t: float, count: int, dt: float) -> np.ndarray:
        """Blended targets at t, t + dt, ..., as rows [count, dims]."""
        return np.stack([self.target(t + i * dt) for i in range(count)])

