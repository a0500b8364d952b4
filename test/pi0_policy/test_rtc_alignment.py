import numpy as np
import pytest

from pi0_common.commands import ChunkRequestInfo
from pi0_policy.rtc_alignment import align_committed, guidance_for


def test_align_committed_resamples_on_the_new_chunks_grid():
    committed = np.arange(6, dtype=float)[:, None] * np.ones((1, 2))     # row i = i, due at 10.05 + 0.05 i
    rows = align_committed(committed, 10.05, 0.05, stamp=10.0, dt=0.05, count=8)
    assert rows[:, 0] == pytest.approx([0, 0, 1, 2, 3, 4, 5, 5])      # held at both ends


def test_guidance_counts_delay_from_the_observation():
    committed = np.arange(12, dtype=float)[:, None] * np.ones((1, 7))
    req = ChunkRequestInfo(1, committed_start=10.05, dt=0.05, committed=committed, inference_delay_steps=3,
                           execution_horizon=6)
    g = guidance_for(req, stamp=10.0, dt=0.05)
    assert g.inference_delay == 3 and g.execution_horizon == 9
    assert g.prev_actions.shape == (13, 7)          # steps 0..12 reach the last committed row at 10.6
    assert g.prev_actions[1, 0] == pytest.approx(0.0) and g.prev_actions[5, 0] == pytest.approx(4.0)


def test_no_committed_actions_means_no_guidance():
    req = ChunkRequestInfo(1, 10.05, 0.05, np.zeros((0, 7)), 3, 6)
    assert guidance_for(req, 10.0, 0.05) is None
