"""Mixing several task-robot datasets: each is drawn with probability proportional to n^0.43.

π₀ (arXiv 2410.24164, section V-A): "we weight each task-robot combination by n^0.43, where n is the number
of samples for that combination, such that over-represented combinations are down-weighted". Within a
dataset, frames are drawn uniformly.

Batches are a pure function of (seed, step, rank): a resumed run draws exactly the batches the interrupted
one would have, and every rank of a distributed run draws its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

PI0_POWER = 0.43


def mixture_weights(sizes: list[int], power: float = PI0_POWER) -> np.ndarray:
    """Sampling probability of each dataset, ∝ n^power.

    Raises:
        ValueError: an empty dataset (it could never be sampled, which is a mistake worth knowing about).
    """
    sizes_arr = np.asarray(sizes, dtype=np.float64)
    if len(sizes_arr) == 0 or np.any(sizes_arr <= 0):
        raise ValueError(f"every dataset needs at least one sample, got sizes {list(sizes)}")
    w = sizes_arr**power
    return w / w.sum()


class MixtureBatchSampler:
    """Infinite batch sampler over the concatenation of several datasets (for ``DataLoader(batch_sampler=...)``).

    Yields lists of indices into ``torch.utils.data.ConcatDataset(datasets)``, from ``start_step`` on.
    """

    def __init__(self, sizes: list[int], batch_size: int, seed: int = 0, rank: int = 0, start_step: int = 0,
                 power: float = PI0_POWER):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.sizes = np.asarray(sizes, dtype=np.int64)
        self.weights = mixture_weights(sizes, power)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
        self.batch_size, self.seed, self.rank, self.start_step = batch_size, seed, rank, start_step

    def batch(self, step: int) -> list[int]:
        """The indices of one rank's batch at a training step."""
        rng = np.random.default_rng([self.seed, step, self.rank])
        datasets = rng.choice(len(self.sizes), size=self.batch_size, p=self.weights)
        rows = np.floor(rng.random(self.batch_size) * self.sizes[datasets]).astype(np.int64)
        return (self.offsets[datasets] + rows).tolist()

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start_step
        while True:
            yield self.batch(step)
            step += 1
