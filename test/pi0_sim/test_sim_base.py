"""Mobile base: acceleration and velocity limits, the command watchdog, odometry integration, and
the arms and cameras riding on the base."""

import math

import numpy as np
import pytest

from pi0_common.embodiment import load_embodiment
from pi0_sim.world import SimWorld


@pytest.fixture
def slate():
    # trossen_mobile: vx and wz; 0.7 m/s, 1 rad/s; 1 m/s^2, 2 rad/s^2.
    return SimWorld(load_embodiment('trossen_mobile'), seed=0)


def drive(world, twist, until, rate=50.0):
    """Re-send a twist at ``rate`` (as a driver does) and step until ``until``."""
    while world.time < until - 1e-9:
        world.command_base_velocity(twist, world.time)
        world.step(min(until, world.time + 1.0 / rate))


def test_velocity_ramps_at_the_acceleration_limit(slate):
    vx = []
    for k in range(1, 31):
        slate.command_base_velocity({'vx': 0.5}, slate.time)
        slate.step(k * 0.01)
        vx.append(slate.odometry()['vx'])
    np.testing.assert_allclose(np.diff([0.0] + vx), 0.01, atol=1e-9)   # +1 m/s^2 x 10 ms per step
    assert vx[9] == pytest.approx(0.1)                   # 1 m/s^2 for 0.1 s


def test_commands_are_clamped_to_the_velocity_limits(slate):
    drive(slate, {'vx': 5.0, 'wz': -5.0}, 3.0)
    odom = slate.odometry()
    assert odom['vx'] == pytest.approx(0.7) and odom['wz'] == pytest.approx(-1.0)


def test_base_stops_by_itself_when_commands_stop(slate):
    drive(slate, {'vx': 0.5}, 1.0)                       # at speed; last command at t = 0.98
    slate.step(1.25)
    assert slate.odometry()['vx'] == pytest.approx(0.5)   # within the 0.3 s timeout
    slate.step(1.38)                                      # 0.1 s past the timeout
    assert slate.odometry()['vx'] == pytest.approx(0.4, abs=0.006)
    slate.step(2.5)
    assert slate.odometry()['vx'] == 0.0


def test_straight_line_odometry(slate):
    drive(slate, {'vx': 0.4}, 3.0)
    odom = slate.odometry()
    # 0.4 s ramp at 1 m/s^2 covers 0.08 m, then 2.6 s at 0.4 m/s.
    assert odom['x'] == pytest.approx(0.08 + 0.4 * 2.6, abs=1e-9)
    assert odom['y'] == 0.0 and odom['yaw'] == 0.0


def test_constant_twist_drives_a_closed_circle(slate):
    drive(slate, {'vx': 0.5, 'wz': 0.5}, 1.0)            # both at speed after 0.5 s
    start = slate.odometry()
    heading = np.array([math.cos(start['yaw']), math.sin(start['yaw'])])
    center = np.array([start['x'], start['y']]) + 1.0 * np.array([-heading[1], heading[0]])   # r = v / w
    radii = []
    t_end = 1.0 + 2 * math.pi / 0.5
    while slate.time < t_end - 1e-9:
        drive(slate, {'vx': 0.5, 'wz': 0.5}, min(t_end, slate.time + 0.5))
        odom = slate.odometry()
        radii.append(np.hypot(odom['x'] - center[0], odom['y'] - center[1]))
    end = slate.odometry()
    np.testing.assert_allclose(radii, 1.0, atol=1e-9)
    assert end['x'] == pytest.approx(start['x'], abs=1e-9) and end['y'] == pytest.approx(start['y'], abs=1e-9)
    assert math.remainder(end['yaw'] - start['yaw'], 2 * math.pi) == pytest.approx(0.0, abs=1e-9)


def test_holonomic_base_strafes_and_differential_drive_refuses_to(slate):
    with pytest.raises(ValueError, match='no vy axis'):
        slate.command_base_velocity({'vy': 0.2}, 0.0)
    slate.command_base_velocity({'vx': 0.0, 'vy': 0.0, 'wz': 0.0}, 0.0)   # a zero Twist is fine
    with pytest.raises(ValueError, match='unknown base axis'):
        slate.command_base_velocity({'vz': 0.2}, 0.0)
    with pytest.raises(ValueError, match='finite'):
        slate.command_base_velocity({'vx': math.nan}, 0.0)
    omni = SimWorld(load_embodiment('fibocom_mobile'), seed=0)
    drive(omni, {'vy': 0.3}, 2.0)
    odom = omni.odometry()
    assert odom['vy'] == pytest.approx(0.3) and odom['y'] == pytest.approx(0.045 + 0.3 * 1.7)
    assert odom['x'] == 0.0


def test_fixed_robots_have_no_base():
    ur = SimWorld(load_embodiment('ur5e'), seed=0)
    with pytest.raises(ValueError, match='no mobile base'):
        ur.command_base_velocity({'vx': 0.1}, 0.0)
    with pytest.raises(ValueError, match='no mobile base'):
        ur.odometry()


def test_arms_and_base_camera_ride_on_the_base_while_the_scene_stays(slate):
    ee0, blocks0, image0 = slate.ee_position('left'), dict(slate.scene.blocks), slate.render('base')
    drive(slate, {'vx': -0.3}, 1.0)                       # back away from the table
    moved = slate.odometry()['x']
    assert moved < -0.1
    np.testing.assert_allclose(slate.ee_position('left'), ee0 + [moved, 0.0, 0.0], atol=1e-12)
    for color, p in blocks0.items():
        np.testing.assert_array_equal(slate.scene.blocks[color], p)
    assert np.abs(slate.render('base').astype(int) - image0).mean() > 2.0
    drive(slate, {'wz': 0.5}, 2.0)
    odom = slate.odometry()
    c, s = math.cos(odom['yaw']), math.sin(odom['yaw'])
    # ee0 was in the robot frame (the base started at the origin): it follows the base pose.
    expected = [odom['x'] + c * ee0[0] - s * ee0[1], odom['y'] + s * ee0[0] + c * ee0[1], ee0[2]]
    assert odom['yaw'] > 0.3
    np.testing.assert_allclose(slate.ee_position('left'), expected, atol=1e-12)
