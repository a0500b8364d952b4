"""The executor's safety rules on hardware, in the pure core: disarmed until armed, nothing without a
fresh measured state, commands limited from the measured position (velocity and acceleration), a robot
that stops following (tracking error, a frozen controller) held where it is and re-referenced, and
holds and e-stops that slow down within the acceleration limits."""

import numpy as np
import pytest

from pi0_common.commands import MODE_ACTIVE, MODE_ESTOP, MODE_HOLD
from pi0_common.embodiment import load_embodiment
from pi0_drivers.executor import ChunkExecutor, ExecutorConfig

DT = 0.05
UR5E = load_embodiment('ur5e')
ACCEL = 5.0             # ur5e.yaml: max_acceleration of every joint


def executor(**overrides):
    cfg = dict(executed_steps=16, rate_hz=20.0, lookahead_points=5, max_state_age=0.2)
    cfg.update(overrides)
    return ChunkExecutor(UR5E, ExecutorConfig(**cfg))


def ramp(slope=0.05, start=None):
    actions = np.tile(UR5E.home if start is None else start, (50, 1))
    actions[:, 0] += slope * np.arange(50)
    return actions


def test_hardware_starts_disarmed_and_commands_nothing_until_armed():
    ex = executor(hardware=True)
    ex.update_measured(UR5E.home, 10.0)
    assert ex.state == 'disarmed' and ex.tick(10.0) is None and 'disarmed' in ex.blocked
    ok, why = ex.offer_chunk(1, 10.0, DT, ramp(), now=10.0)
    assert not ok and 'disarmed' in why and not ex.want_request(10.0)
    assert ex.hold_now(10.0) is None
    ex.pause()
    ex.stop()
    assert ex.state == 'disarmed'                          # neither arms it
    assert ex.resume(now=10.1) and ex.state == 'waiting'   # the one arming gate
    cmd = ex.tick(10.1)
    assert cmd.mode == MODE_HOLD and cmd.positions[0] == pytest.approx(UR5E.home)


def test_nothing_is_commanded_without_a_fresh_joint_state():
    ex = executor()
    assert ex.tick(10.0) is None and ex.blocked == 'no joint state yet'
    ok, why = ex.offer_chunk(1, 10.0, DT, ramp(), now=10.0)
    assert not ok and 'no joint state yet' in why          # not even a clamped first chunk
    ex.update_measured(UR5E.home, 10.0)
    assert ex.offer_chunk(2, 10.0, DT, ramp(), now=10.0)[0]
    assert ex.tick(10.1).mode == MODE_ACTIVE
    assert ex.tick(10.25) is None and 'old' in ex.blocked   # 0.25 s > max_state_age 0.2
    moved = ex.reference.copy()
    moved[0] += 0.5                                        # the robot is elsewhere when states return
    ex.update_measured(moved, 10.3)
    cmd = ex.tick(10.3)
    # commands do not go on from where they were, nor pull the robot back: hold where it is, paused
    assert cmd.mode == MODE_HOLD and cmd.positions[0] == pytest.approx(moved) and ex.state == 'paused'


def test_a_robot_that_stops_following_is_held_where_it_is_and_paused():
    ex = executor(max_tracking_error=0.1)
    ex.update_measured(UR5E.home, 10.0)
    ex.offer_chunk(1, 10.0, DT, ramp(slope=0.1), now=10.0)
    t = 10.0
    while ex.state == 'active':
        ex.update_measured(UR5E.home, t)                   # the arm does not move
        cmd = ex.tick(t)
        t += DT
    assert ex.state == 'paused' and 'tracking error' in ex.stats.last_error and ex.stats.tracking_faults == 1
    assert cmd.mode == MODE_HOLD and cmd.positions[0] == pytest.approx(UR5E.home)   # no catch-up
    ok, _ = ex.offer_chunk(2, t, DT, ramp(), now=t)
    assert not ok                                          # paused until the operator resumes


def test_a_frozen_controller_holds_and_restarts_from_the_measured_position():
    ex = executor()
    ex.update_measured(UR5E.home, 10.0)
    ex.offer_chunk(1, 10.0, DT, ramp(slope=0.02), now=10.0)
    for i in range(5):
        ex.update_measured(ex.reference, 10.0 + i * DT)
        ex.tick(10.0 + i * DT)
    where = ex.reference.copy()
    ex.set_frozen('speed scaling 0 %', 10.25)
    assert ex.state == 'frozen' and ex.stats.freezes == 1
    ex.update_measured(where, 10.25)
    held = ex.hold_now(10.25)
    assert held.mode == MODE_HOLD and held.positions[0] == pytest.approx(where)
    assert not ex.offer_chunk(2, 10.25, DT, ramp(start=where), now=10.25)[0]
    ex.update_measured(where, 12.0)                        # two seconds later the program runs again
    ex.set_frozen(None, 12.0)
    assert ex.state == 'waiting'
    ok, why = ex.offer_chunk(3, 11.9, DT, ramp(start=where), now=12.0)
    assert not ok and 'before' in why                      # observed while frozen: refused
    assert ex.offer_chunk(4, 12.0, DT, ramp(start=where), now=12.0)[0]
    first = ex.tick(12.0)
    assert np.max(np.abs(first.positions[0] - where)) <= ACCEL * DT * DT + 1e-9   # within one tick's travel


@pytest.mark.parametrize('stop', ['pause', 'estop'])
def test_holds_and_estops_slow_down_within_the_acceleration_limit(stop):
    ex = executor(max_joint_jump=10.0)
    ex.update_measured(UR5E.home, 10.0)
    fast = ramp(slope=3.0 * DT)                            # 3 rad/s on joint 0
    ex.offer_chunk(1, 10.0, DT, fast, now=10.0)
    t, prev, speed = 10.0, UR5E.home[0], 0.0
    for _ in range(15):
        ex.update_measured(ex.reference, t)
        cmd = ex.tick(t)
        speed, prev = (cmd.positions[0, 0] - prev) / DT, cmd.positions[0, 0]
        t += DT
    assert speed > 2.5
    getattr(ex, stop)()
    speeds = []
    for _ in range(20):
        ex.update_measured(ex.reference, t)
        cmd = ex.tick(t)
        assert cmd.mode == (MODE_ESTOP if stop == 'estop' else MODE_HOLD)
        v = (cmd.positions[0, 0] - prev) / DT
        assert abs(v - speed) <= ACCEL * DT + 1e-9         # never a stop from full speed in one step
        speeds.append(v)
        speed, prev = v, cmd.positions[0, 0]
        t += DT
    assert speeds[0] > 2.0 and speeds[-1] == pytest.approx(0.0)


def test_a_robot_moved_while_paused_is_held_where_it_is_without_a_fault():
    ex = executor()
    ex.update_measured(UR5E.home, 10.0)
    ex.pause()
    assert ex.tick(10.0).positions[0] == pytest.approx(UR5E.home)
    moved = UR5E.home.copy()
    moved[1] += 0.6                                        # a reset, a person at the arm
    ex.update_measured(moved, 10.05)
    cmd = ex.tick(10.05)
    assert cmd.positions[0] == pytest.approx(moved) and ex.state == 'paused'
    assert ex.stats.tracking_faults == 0 and ex.stats.last_error == ''

