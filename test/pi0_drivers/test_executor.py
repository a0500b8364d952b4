import numpy as np
import pytest

from pi0_common.commands import MODE_ACTIVE, MODE_ESTOP, MODE_HOLD
from pi0_common.embodiment import load_embodiment
from pi0_drivers.executor import ChunkExecutor, ExecutorConfig

from .conftest import DT, make_executor


def follow(ex, t):
    """One tick with a robot that is where the last command put it (measured at t)."""
    if ex.reference is not None:
        ex.update_measured(ex.reference, t)
    return ex.tick(t)


def home_chunk(emb, slope=0.0, horizon=50, dim=0):
    """Chunk that starts at home and moves dim `dim` by `slope` rad per step."""
    actions = np.tile(emb.home, (horizon, 1))
    actions[:, dim] += slope * np.arange(horizon)
    return actions


def test_nothing_is_commanded_before_the_robot_state_is_known(emb):
    ex = ChunkExecutor(emb, ExecutorConfig(executed_steps=16, rate_hz=20.0))
    assert ex.tick(1.0) is None


def test_waiting_holds_the_measured_position(emb):
    ex = make_executor(emb)
    cmd = ex.tick(1.0)
    assert cmd.mode == MODE_HOLD and ex.state == 'waiting'
    assert cmd.positions[0] == pytest.approx(emb.home)


def test_latency_compensation_skips_the_steps_that_passed(emb):
    ex = make_executor(emb)
    stamp = 100.0
    ok, _ = ex.offer_chunk(1, stamp, DT, home_chunk(emb, slope=0.01), now=stamp + 0.2)
    assert ok
    cmd = follow(ex, stamp + 0.2)
    # 0.2 s passed during inference: the command issued now aims at step 4, steps 0-3 are skipped
    assert cmd.mode == MODE_ACTIVE and cmd.stamp == pytest.approx(stamp + 0.2)
    assert ex.stats.steps_skipped == 4
    # from rest the arm accelerates within 5 rad/s^2, then runs on the chunk's own timing
    for k in range(5, 12):
        cmd = follow(ex, stamp + k * DT)
    assert cmd.positions[0, 0] == pytest.approx(emb.home[0] + 0.01 * 11, abs=0.005)


def test_watchdog_holds_when_no_fresh_chunk_comes(emb):
    ex = make_executor(emb)
    ex.offer_chunk(1, 100.0, DT, home_chunk(emb, slope=0.002), now=100.05)
    # executed steps 0..15 plus 4 overrun steps: step 19 is the last one followed
    last_active = 100.0 + 19 * DT
    for t in np.arange(100.05, last_active + 1e-9, DT):
        assert follow(ex, t).mode == MODE_ACTIVE
    held = follow(ex, last_active + DT)
    assert held.mode == MODE_HOLD and ex.state == 'holding' and ex.stats.watchdog_holds == 1
    assert held.positions.shape == (5, 7)                   # the way to rest, for trajectory drivers
    assert held.positions[:, 0] == pytest.approx(emb.home[0] + 0.002 * 19, abs=2e-3)   # stops there


def test_fresh_chunk_after_watchdog_resumes(emb):
    ex = make_executor(emb)
    ex.offer_chunk(1, 100.0, DT, home_chunk(emb), now=100.05)
    follow(ex, 102.0)
    assert ex.state == 'holding'
    ok, _ = ex.offer_chunk(2, 101.9, DT, home_chunk(emb), now=102.0)
    assert ok and follow(ex, 102.0).mode == MODE_ACTIVE


@pytest.mark.parametrize('mutate, reason', [
    (lambda a: a[:, :6], 'shape'),
    (lambda a: a[:10], 'fewer than'),
    (lambda a: np.where(np.arange(a.size).reshape(a.shape) == 30, np.nan, a), 'non-finite value at step 4'),
])
def test_bad_chunks_are_refused_with_a_reason(emb, mutate, reason):
    ex = make_executor(emb)
    ok, why = ex.offer_chunk(1, 100.0, DT, mutate(home_chunk(emb)), now=100.05)
    assert not ok and reason in why
    assert ex.state == 'waiting' and ex.tick(100.05).mode == MODE_HOLD
    assert ex.stats.chunks_rejected == 1 and ex.stats.last_error == why


def test_stale_future_and_out_of_order_chunks_are_refused(emb):
    ex = make_executor(emb)
    ok, why = ex.offer_chunk(1, 100.0, DT, home_chunk(emb), now=102.0)
    assert not ok and 'stale' in why
    ok, why = ex.offer_chunk(2, 103.0, DT, home_chunk(emb), now=102.0)
    assert not ok and 'future' in why
    assert ex.offer_chunk(3, 101.9, DT, home_chunk(emb), now=102.0)[0]
    ok, why = ex.offer_chunk(4, 101.8, DT, home_chunk(emb), now=102.0)
    assert not ok and 'not newer' in why


def test_a_chunk_that_starts_far_away_is_refused(emb):
    ex = make_executor(emb)
    far = home_chunk(emb)
    far[:, 3] += 1.0
    ok, why = ex.offer_chunk(1, 100.0, DT, far, now=100.05)
    assert not ok and 'arm/wrist_1_joint' in why


def test_velocity_and_acceleration_limits_bound_each_tick(emb):
    ex = make_executor(emb, max_joint_jump=10.0, max_tracking_error=10.0)
    target = home_chunk(emb)
    target[:, 0] += 2.0                    # far away: approached at <= 5 rad/s^2, then <= pi rad/s
    ex.offer_chunk(1, 100.0, DT, target, now=100.0)
    prev, speed = emb.home[0], 0.0
    speeds = []
    for i in range(20):
        cmd = follow(ex, 100.0 + i * DT)
        v = (cmd.positions[0, 0] - prev) / DT
        assert abs(v) <= 3.1416 + 1e-9 and abs(v - speed) <= 5.0 * DT + 1e-9
        prev, speed = cmd.positions[0, 0], v
        speeds.append(v)
    assert max(speeds) == pytest.approx(3.1416)     # reached full speed, then slows down for the target


def test_request_timing_follows_the_latency_estimate(emb):
    ex = make_executor(emb)
    assert ex.want_request(100.0)              # waiting: ask at once
    req = ex.make_request(100.0)
    assert req.request_id == 1 and not ex.want_request(100.1)   # one request in flight
    assert ex.offer_chunk(1, 100.0, DT, home_chunk(emb), now=100.6, request_id=1)[0]   # cold: 0.6 s
    assert ex.want_request(100.6)              # no warm latency sample yet: ask again at once
    ex.make_request(100.6)
    ex.offer_chunk(2, 101.0, DT, home_chunk(emb), now=101.2, request_id=2)   # warm: 0.2 s
    assert ex.latency.estimate == pytest.approx(0.2)
    # chunk 2's executed part runs out at 101.0 + 16 * 0.05 = 101.8; ask 0.2 + 0.05 s before
    assert not ex.want_request(101.5)
    assert ex.want_request(101.56)


def test_unanswered_request_is_repeated_after_the_timeout(emb):
    ex = make_executor(emb, request_timeout=1.0)
    ex.make_request(100.0)
    assert not ex.want_request(100.9)
    assert ex.want_request(101.1)


def test_pause_resume_stop_and_estop(emb):
    ex = make_executor(emb)
    ex.offer_chunk(1, 100.0, DT, home_chunk(emb), now=100.05)
    ex.pause()
    assert follow(ex, 100.1).mode == MODE_HOLD and not ex.want_request(100.1)
    assert not ex.offer_chunk(2, 100.1, DT, home_chunk(emb), now=100.15)[0]
    assert ex.resume() and ex.state == 'waiting'
    assert ex.offer_chunk(3, 100.2, DT, home_chunk(emb), now=100.25)[0]
    ex.estop()
    assert follow(ex, 100.3).mode == MODE_ESTOP
    assert not ex.resume() and ex.state == 'estop'          # only a reset clears the e-stop
    assert not ex.offer_chunk(4, 100.3, DT, home_chunk(emb), now=100.35)[0]
    assert ex.reset_estop() and ex.state == 'stopped'
    assert ex.resume() and ex.state == 'waiting'


def test_resume_refuses_older_observations_and_measures_the_robot_again(emb):
    ex = make_executor(emb)
    moved = emb.home.copy()
    moved[0] += 0.3
    ex.offer_chunk(1, 100.0, DT, np.tile(moved, (50, 1)), now=100.0)
    for i in range(5):
        follow(ex, 100.0 + i * DT)
    ex.pause()
    ex.update_measured(emb.home, 101.0)       # moved back while paused (a reset, a person)
    assert ex.resume(now=101.0)
    assert ex.tick(101.0).positions[0] == pytest.approx(emb.home)   # holds where the robot is now
    ok, why = ex.offer_chunk(2, 100.9, DT, np.tile(emb.home, (50, 1)), now=101.05)
    assert not ok and 'before the executor resumed' in why
    assert ex.offer_chunk(3, 101.02, DT, np.tile(emb.home, (50, 1)), now=101.05)[0]


def test_hold_zeroes_the_base_at_the_acceleration_limit():
    emb = load_embodiment('trossen_mobile')
    ex = ChunkExecutor(emb, ExecutorConfig(executed_steps=25, rate_hz=50.0, overrun_steps=0, max_state_age=1e9))
    ex.update_measured(emb.home, 0.0)
    actions = np.tile(emb.home, (50, 1))
    vx = emb.dim_names.index('base/vx')
    actions[:, vx] = 0.02 * np.arange(50)      # accelerating forward at 1 m/s^2
    ex.offer_chunk(1, 10.0, 0.02, actions, now=10.0)
    t = 10.0
    while ex.state == 'active':
        cmd = follow(ex, t)
        t += 0.02
    v_before = cmd.positions[0, vx]
    held = [follow(ex, t + i * 0.02).positions[0, vx] for i in range(3)]
    assert v_before > 0.4
    assert held == pytest.approx([v_before - 0.02, v_before - 0.04, v_before - 0.06])


def test_rtc_request_carries_the_committed_actions(emb):
    ex = make_executor(emb, switching='rtc', rtc_execution_horizon=6)
    ex.offer_chunk(1, 100.0, DT, home_chunk(emb, slope=0.01), now=100.0)
    for t in (100.0, 100.05, 100.1):
        follow(ex, t)                          # under way at the chunk's speed
    ex.offer_chunk(2, 100.05, DT, home_chunk(emb, slope=0.01), now=100.15)   # warm latency 0.1 s
    follow(ex, 100.15)
    req = ex.make_request(100.2)
    assert req.inference_delay_steps == 2 and req.execution_horizon == 6
    assert req.committed.shape == (8, 7)
    assert req.committed_start == pytest.approx(100.25)
    # committed rows are chunk 2 sampled from 100.25 on: step 4, 5, ... (as the limits let the arm follow)
    assert req.committed[:, 0] == pytest.approx(emb.home[0] + 0.01 * np.arange(4, 12), abs=0.01)


def test_config_is_validated():
    with pytest.raises(ValueError, match='switching'):
        ExecutorConfig(executed_steps=16, rate_hz=20.0, switching='blend')
    with pytest.raises(ValueError, match='executed_steps'):
        ExecutorConfig(executed_steps=0, rate_hz=20.0)
