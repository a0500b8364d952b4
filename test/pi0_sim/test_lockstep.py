"""pi0_sim.lockstep: simulated time advances one tick when the stack has caught up: after the command of
the current tick (and the driver's word that it passed it on) while the robot is commanded, not at all
while a chunk request is outstanding, at real-time pace when nothing commands; a wait that times out
lets the tick go ahead and says so."""

import pytest

from pi0_sim.lockstep import LockstepClock

TICK = 0.02


def test_nothing_commanding_runs_at_real_time_pace():
    clock = LockstepClock(TICK, start=100.0)
    assert not clock.poll(0.0).advance
    assert not clock.poll(0.019).advance
    assert clock.poll(0.02).advance and clock.time == pytest.approx(100.0 + TICK)
    assert not clock.poll(0.03).advance
    assert clock.poll(0.041).advance and clock.ticks == 2


def test_while_commanded_each_tick_waits_for_its_command_and_not_for_the_wall_clock():
    clock = LockstepClock(TICK)
    clock.command(0.0)
    wall = 0.0
    for _ in range(50):                      # 50 ticks in 50 ms of wall time: faster than real time
        wall += 0.001
        assert clock.poll(wall).advance
        decision = clock.poll(wall)
        assert not decision.advance and decision.waiting_for == 'a command for this tick'
        clock.command(clock.time - TICK)     # a late command of the tick before does not count
        assert not clock.poll(wall).advance
        clock.command(clock.time)
    assert clock.time == pytest.approx(50 * TICK) and clock.ticks == 50
    # No command for a long wall time: still waiting, until the timeout.
    assert clock.poll(wall).advance
    assert clock.poll(wall).waiting_for == 'a command for this tick'
    assert not clock.poll(wall + 0.99).advance
    late = clock.poll(wall + 1.0)
    assert late.advance and late.gave_up == 'waited 1.00 s for a command for this tick'
    # Then nothing is expected: real-time pace, until commands come again.
    assert not clock.poll(wall + 1.01).advance and clock.poll(wall + 1.02).advance
    clock.command(clock.time)
    assert clock.poll(wall + 1.021).advance
    assert clock.poll(wall + 1.022).waiting_for == 'a command for this tick'


def test_once_a_driver_is_heard_each_tick_also_waits_for_it_to_pass_the_command_on():
    clock = LockstepClock(TICK)
    clock.command(0.0)
    clock.sent(0.0)                          # a driver passes commands on: from now on that is awaited too
    assert clock.poll(0.0).advance
    clock.command(clock.time)
    clock.sent(clock.time - TICK)            # a late report of the tick before does not count
    decision = clock.poll(0.001)
    assert not decision.advance and decision.waiting_for == "the driver to pass this tick's command on"
    clock.sent(clock.time)
    assert clock.poll(0.002).advance
    # The driver goes quiet (deactivated): one timeout, then it is not waited for until it is heard again.
    clock.command(clock.time)
    clock.poll(0.003)
    late = clock.poll(1.01)
    assert late.advance and late.gave_up == "waited 1.01 s for the driver to pass this tick's command on"
    clock.command(clock.time)
    assert clock.poll(1.011).advance
    clock.command(clock.time)
    clock.sent(clock.time)
    assert clock.poll(1.012).advance
    clock.command(clock.time)
    assert clock.poll(1.013).waiting_for == "the driver to pass this tick's command on"


def test_time_stands_still_while_a_chunk_request_is_outstanding():
    clock = LockstepClock(TICK)
    clock.request(1, wall_now=0.0)            # before any chunk: the policy may still be loading
    assert clock.pending_requests == 0
    clock.chunk(0)                            # a chunk has come: the policy is up (or: policy_up())
    clock.command(0.0)
    assert clock.poll(0.0).advance
    clock.command(clock.time)
    clock.request(7, wall_now=0.0)
    for wall in (0.001, 1.0, 30.0):           # however long inference takes on this machine
        decision = clock.poll(wall)
        assert not decision.advance and decision.waiting_for.startswith('the policy')
    assert clock.pending_requests == 1
    clock.chunk(6)                            # an older answer does not count
    assert not clock.poll(30.0).advance
    clock.chunk(7)
    assert clock.poll(30.0).advance and clock.time == pytest.approx(2 * TICK)


def test_a_chunk_answers_older_requests_too_and_an_unanswered_one_times_out():
    clock = LockstepClock(TICK, policy_timeout=5.0)
    clock.chunk(0)
    clock.request(1, 0.0)
    clock.request(2, 0.1)
    clock.request(0, 0.1)                     # id 0: not a request (a chunk nobody asked for)
    clock.chunk(2)
    assert clock.pending_requests == 0
    clock.request(3, 1.0)
    assert not clock.poll(5.9).advance
    late = clock.poll(6.0)
    assert late.advance and 'request(s) [3]' in late.gave_up and clock.pending_requests == 0


def test_a_tick_must_be_positive():
    with pytest.raises(ValueError, match='tick'):
        LockstepClock(0.0)
