"""The executor when the policy is gone (its chunk publisher's liveliness lapsed): the committed steps
of the current chunk run, then it holds rather than overrunning; on hardware it pauses, so that chunks
from a policy that came back move nothing until resume; in simulation the next chunk goes on."""

import numpy as np
import pytest

from pi0_common.commands import MODE_ACTIVE, MODE_HOLD

from .conftest import DT, make_executor

STEPS = 16


def executor(emb, hardware=False):
    return make_executor(emb, executed_steps=STEPS, overrun_steps=8, hardware=hardware)


def follow(ex, t):
    if ex.reference is not None:
        ex.update_measured(ex.reference, t)
    return ex.tick(t)


def chunk(emb, slope=0.002):
    actions = np.tile(emb.home, (50, 1))
    actions[:, 0] += slope * np.arange(50)
    return actions


def run_until_hold(ex, start, ticks=40):
    """(active commands, the first hold) from tick ``start`` on."""
    active = []
    for k in range(ticks):
        cmd = follow(ex, start + k * DT)
        if cmd.mode != MODE_ACTIVE:
            return active, cmd
        active.append(cmd)
    raise AssertionError('never held')


@pytest.mark.parametrize('hardware', [False, True])
def test_after_the_policy_is_lost_only_the_committed_steps_run(emb, hardware):
    ex = executor(emb, hardware)
    assert ex.offer_chunk(1, 1.0, DT, chunk(emb), now=1.0)[0]
    for k in range(5):
        assert follow(ex, 1.0 + k * DT).mode == MODE_ACTIVE
    ex.policy_lost(1.0 + 5 * DT, 'lease lapsed')
    active, hold = run_until_hold(ex, 1.0 + 5 * DT)
    assert len(active) == STEPS - 5          # steps 5..15: committed; no overrun step
    assert hold.mode == MODE_HOLD
    assert 'policy lost: lease lapsed' in ex.stats.last_error and ex.stats.policy_losses == 1
    assert ex.state == ('paused' if hardware else 'holding')


def test_in_simulation_chunks_go_on_once_the_policy_is_back(emb):
    ex = executor(emb)
    assert ex.offer_chunk(1, 1.0, DT, chunk(emb), now=1.0)[0]
    ex.policy_lost(1.0, 'gone')
    run_until_hold(ex, 1.0)
    ex.policy_back()
    assert ex.want_request(3.0)              # the new policy is asked at once
    t = 3.0
    assert ex.offer_chunk(2, t, DT, np.tile(ex.reference, (50, 1)), now=t)[0]
    assert follow(ex, t).mode == MODE_ACTIVE and ex.state == 'active'


def test_on_hardware_nothing_moves_after_the_policy_is_back_until_resume(emb):
    ex = executor(emb, hardware=True)
    assert ex.offer_chunk(1, 1.0, DT, chunk(emb), now=1.0)[0]
    ex.policy_lost(1.0, 'gone')
    run_until_hold(ex, 1.0)
    assert 'pi0/executor/resume' in ex.stats.last_error
    ex.policy_back()
    t = 3.0
    ok, reason = ex.offer_chunk(2, t, DT, np.tile(ex.reference, (50, 1)), now=t)
    assert not ok and 'paused' in reason
    assert follow(ex, t).mode == MODE_HOLD and not ex.want_request(t)
    assert ex.resume(t + DT)
    assert ex.offer_chunk(3, t + 2 * DT, DT, np.tile(ex.reference, (50, 1)), now=t + 2 * DT)[0]
    assert follow(ex, t + 2 * DT).mode == MODE_ACTIVE


def test_a_policy_lost_while_waiting_pauses_an_armed_robot(emb):
    ex = executor(emb, hardware=True)
    ex.policy_lost(1.0, 'gone')
    assert follow(ex, 1.0).mode == MODE_HOLD and ex.state == 'paused'


def test_a_policy_that_is_alive_changes_nothing(emb):
    ex = executor(emb)
    assert ex.offer_chunk(1, 1.0, DT, chunk(emb), now=1.0)[0]
    ex.policy_back()                          # a liveliness event without a loss before it
    active, hold = run_until_hold(ex, 1.0)
    assert len(active) == STEPS + 8           # the chunk's committed steps and the overrun, as without the watch
    assert ex.state == 'holding' and ex.stats.policy_losses == 0
