"""Helpers shared by the executor core's tests."""

from __future__ import annotations

import pytest

from pi0_common.embodiment import Embodiment, load_embodiment
from pi0_drivers.executor import ChunkExecutor, ExecutorConfig

DT = 0.05               # the period of make_executor's 20 Hz


@pytest.fixture
def emb() -> Embodiment:
    return load_embodiment('ur5e')


def make_executor(emb: Embodiment, **overrides) -> ChunkExecutor:
    """An executor at 20 Hz that has measured the home pose at t = 0 and never finds it stale (overrides:
    ExecutorConfig fields). On hardware it is armed, as an operator would."""
    cfg = dict(executed_steps=16, rate_hz=1.0 / DT, overrun_steps=4, lookahead_points=5, max_state_age=1e9)
    cfg.update(overrides)
    ex = ChunkExecutor(emb, ExecutorConfig(**cfg))
    ex.update_measured(emb.home, 0.0)
    if ex.config.hardware:
        ex.resume(0.0)
    return ex
