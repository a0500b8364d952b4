"""Run-time changes of a running chunk executor (what the node's `ros2 param set` applies): they take
effect at the next tick, keep the chunk in execution, never make a jump, and are refused whole."""

import numpy as np
import pytest

from pi0_common.commands import MODE_ACTIVE

from .conftest import DT, make_executor


def running_executor(emb, **overrides):
    """An executor following a chunk that moves the first joint fast (its velocity limit is the bound)."""
    ex = make_executor(emb, **{'overrun_steps': 30, **overrides})
    actions = np.tile(emb.home, (50, 1))
    actions[:, 0] += 0.5 * np.arange(50)          # far beyond any velocity limit: the limiter decides
    assert ex.offer_chunk(1, 0.0, DT, actions, now=0.0)[0]
    return ex


def step(ex, t):
    ex.update_measured(ex.reference, t)
    return ex.tick(t)


def speed_of_first_joint(ex, t0, ticks):
    q = [step(ex, t0 + k * DT).positions[0][0] for k in range(ticks)]
    return np.abs(np.diff(q)).max() / DT


def test_velocity_scale_applies_at_the_next_tick_without_a_jump(emb):
    ex = running_executor(emb)
    fast = speed_of_first_joint(ex, 0.0, 20)                 # up to speed at scale 1
    ex.reconfigure(velocity_scale=0.2)
    slow = speed_of_first_joint(ex, 20 * DT, 15)
    assert fast == pytest.approx(emb.max_rate[0], rel=1e-3)
    # it decelerates within the acceleration limit, then runs at a fifth of the limit
    late = speed_of_first_joint(ex, 35 * DT, 5)
    assert late == pytest.approx(0.2 * emb.max_rate[0], rel=1e-3) and slow <= fast + 1e-9
    assert ex.state == 'active' and ex.config.velocity_scale == 0.2


def test_switching_mode_changes_keep_the_chunk_in_execution(emb):
    ex = running_executor(emb)
    before = step(ex, 0.0)
    ex.reconfigure(switching='crossfade', crossfade_steps=3)
    after = step(ex, DT)
    assert after.mode == MODE_ACTIVE and after.chunk_id == before.chunk_id == 1
    assert ex.blender.mode == 'crossfade' and ex.blender.current.chunk_id == 1


@pytest.mark.parametrize('changes, words', [
    (dict(rate_hz=50.0), 'not settable while running'),
    (dict(hardware=False), 'not settable while running'),
    (dict(switching='fade'), 'switching'),
    (dict(velocity_scale=0.5, request_timeout=0.0), 'request_timeout'),
])
def test_a_refused_change_changes_nothing(emb, changes, words):
    ex = running_executor(emb)
    config, limits = ex.config, ex.limits
    with pytest.raises(ValueError, match=words):
        ex.reconfigure(**changes)
    assert ex.config is config and ex.limits is limits


def test_a_shorter_watchdog_holds_sooner(emb):
    ex = running_executor(emb, overrun_steps=8)
    ex.reconfigure(overrun_steps=0)
    states = [(step(ex, k * DT), ex.state)[1] for k in range(20)]
    assert states[15] == 'active' and states[17] == 'holding'   # 16 executed steps, no overrun
