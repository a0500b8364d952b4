import numpy as np
import pytest

from pi0_drivers.chunking import Chunk, ChunkBlender, LatencyEstimator


def ramp_chunk(chunk_id=1, stamp=10.0, dt=0.05, horizon=50, dims=2, slope=1.0, offset=0.0):
    """Chunk whose value at step k is offset + slope * k in every dim."""
    actions = offset + slope * np.arange(horizon, dtype=float)[:, None] * np.ones((1, dims))
    return Chunk(chunk_id, stamp, dt, actions, arrival=stamp)


@pytest.mark.parametrize('t, expected', [
    (10.0, 0.0),            # step 0 due at the stamp
    (10.05, 1.0),           # step k due at stamp + k dt
    (10.125, 2.5),          # between steps: linear interpolation
    (9.0, 0.0),             # before the stamp: held at step 0
    (10.0 + 49 * 0.05, 49.0),
    (20.0, 49.0),           # past the end: held at the last step
])
def test_chunk_step_k_is_due_at_stamp_plus_k_dt(t, expected):
    assert ramp_chunk().at(t) == pytest.approx([expected, expected])


def test_rows_from_samples_on_the_step_grid():
    rows = ramp_chunk().rows_from(10.1, 3)
    assert rows[:, 0] == pytest.approx([2.0, 3.0, 4.0])


def test_latency_estimator_ignores_the_cold_first_inference():
    est = LatencyEstimator(window=3)
    est.add(5.0)                        # cold start
    assert est.estimate is None
    for v in (0.2, 0.3, 0.25):
        est.add(v)
    assert est.estimate == pytest.approx(0.3)
    est.add(0.1)
    est.add(0.1)
    est.add(0.1)                        # 0.3 leaves the window
    assert est.estimate == pytest.approx(0.1)


def test_replace_switches_at_once():
    b = ChunkBlender('replace')
    b.add(ramp_chunk(1, offset=0.0, slope=0.0), now=10.0)
    b.add(ramp_chunk(2, stamp=10.2, offset=1.0, slope=0.0), now=10.3)
    assert b.target(10.3) == pytest.approx([1.0, 1.0])


def test_crossfade_blends_linearly_over_the_configured_steps():
    b = ChunkBlender('crossfade', crossfade_steps=4)
    b.add(ramp_chunk(1, offset=0.0, slope=0.0), now=10.0)
    b.add(ramp_chunk(2, stamp=10.2, offset=1.0, slope=0.0), now=10.3)
    dt = 0.05
    values = [b.target(10.3 + i * dt)[0] for i in range(6)]
    assert values == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0, 1.0])


def test_crossfade_with_one_chunk_is_that_chunk():
    b = ChunkBlender('crossfade', crossfade_steps=4)
    b.add(ramp_chunk(1), now=10.0)
    assert b.target(10.1) == pytest.approx([2.0, 2.0])


def test_ensemble_weights_older_chunks_more():
    b = ChunkBlender('ensemble', ensemble_decay=np.log(2.0))   # weights 1, 1/2
    b.add(ramp_chunk(1, offset=0.0, slope=0.0), now=10.0)
    b.add(ramp_chunk(2, stamp=10.1, offset=3.0, slope=0.0), now=10.1)
    assert b.target(10.2) == pytest.approx([1.0, 1.0])         # (1*0 + 0.5*3) / 1.5


def test_ensemble_drops_chunks_that_no_longer_cover_t():
    b = ChunkBlender('ensemble', ensemble_decay=0.0)
    b.add(ramp_chunk(1, horizon=5, offset=0.0, slope=0.0), now=10.0)
    b.add(ramp_chunk(2, stamp=10.1, horizon=50, offset=2.0, slope=0.0), now=10.1)
    assert b.target(10.1)[0] == pytest.approx(1.0)              # both cover t
    assert b.target(11.0)[0] == pytest.approx(2.0)              # chunk 1 ended at 10.2


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match='switching mode'):
        ChunkBlender('average')
