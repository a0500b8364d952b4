"""Interbotix operating modes, as the vendors' code has them.

aloha_bringup starts each follower with the arm in position and the gripper in linear_position
(Interbotix/aloha main 4fa6b2c, config/follower_modes_left.yaml:3-13); Interbotix/aloha then sets the arm
group to position and the gripper to current_based_position through xs_sdk's set_operating_modes
(aloha/robot_utils.py:242-246) before it sends motor radians (FOLLOWER_GRIPPER_JOINT_OPEN/CLOSE,
aloha/constants.py:48-49). In linear_position xs_sdk reads a gripper command as metres between the fingers
and converts it with the swing-arm geometry (interbotix_xs_driver v0.3.3, src/xs_driver.cpp:530-533,
747-761; horn_radius 0.022, arm_length 0.036 in interbotix_xsarm_control config/aloha_vx300s.yaml:12-15);
a value without a solution is NaN, which the Dynamixel workbench turns into the zero position
(dynamixel_workbench.cpp:1166-1177).
"""

import math

import pytest

from pi0_common.commands import MODE_ACTIVE
from pi0_sim.simulator_node import SimulatorNode

from .harness import vendor

xs_msg = vendor('interbotix_xs_msgs')
xs_srv = vendor('interbotix_xs_msgs', 'srv')

HORN, ARM = 0.022, 0.036                    # aloha_vx300s.yaml:14-15
OPEN_RAD, CLOSED_RAD = 1.6214, 0.6197        # aloha/constants.py:48-49
OPEN_M, CLOSED_M = 0.0579, 0.0440            # aloha/constants.py:41-42, one finger


def test_the_swing_arm_conversion_is_xs_drivers():
    from pi0_sim.endpoints.xs_motors import goal_radians, linear_to_radian
    # linear_position takes the distance between the fingers, twice the finger position: aloha's closed
    # finger position comes back as its closed motor angle; its open one as 1.4956 rad by this formula
    # (xs_driver.cpp:756-760 is not the exact inverse of the angular-to-linear one, :763-773)
    assert linear_to_radian(2 * CLOSED_M, HORN, ARM) == pytest.approx(CLOSED_RAD, abs=2e-3)
    assert linear_to_radian(2 * OPEN_M, HORN, ARM) == pytest.approx(1.4956, abs=1e-3)
    assert math.isnan(linear_to_radian(OPEN_RAD, HORN, ARM))     # radians read as metres: no solution
    assert math.isnan(linear_to_radian(CLOSED_RAD, HORN, ARM))
    assert goal_radians(math.nan) == 0.0


def test_motor_modes_follow_xs_driver():
    from pi0_sim.endpoints.xs_motors import XsMotors
    m = XsMotors({'arm': ['waist']}, ['waist', 'gripper'], ['gripper'], {'gripper': 'linear_position'})
    assert m.single_command('gripper', OPEN_RAD) == 0.0            # NaN -> the zero position
    assert m.set('single', 'gripper', 'current_based_position') == ''
    assert m.single_command('gripper', OPEN_RAD) == OPEN_RAD
    assert 'does not exist' in m.set('single', 'finger', 'position')
    assert 'cmd_type' in m.set('both', 'arm', 'position')
    assert 'mode' in m.set('group', 'arm', 'torque') and m.motor_mode['waist'] == 'position'
    assert m.group_command('arm', [0.3]) is None                   # the group took the bad mode (:103)
    m.set('group', 'arm', 'velocity')
    assert m.group_command('arm', [0.3]) is None                   # not a position mode


def probe_modes(r, sides=('left', 'right')):
    """Probe set_operating_modes services that record the requests and answer, as xs_sdk does."""
    requests = {side: [] for side in sides}

    def answer(side):
        def callback(request, response):
            requests[side].append((request.cmd_type, request.name, request.mode, request.profile_type,
                                   request.profile_velocity, request.profile_acceleration))
            return response
        return callback
    services = [r.probe.create_service(xs_srv.OperatingModes, f'follower_{s}/set_operating_modes', answer(s))
                for s in sides]
    return requests, services


def test_the_driver_sets_alohas_modes_and_commands_nothing_before(rig):
    r = rig('trossen_bimanual', sim=False)
    sides = ('left', 'right')
    groups = {s: r.collect(xs_msg.JointGroupCommand, f'follower_{s}/commands/joint_group') for s in sides}
    singles = {s: r.collect(xs_msg.JointSingleCommand, f'follower_{s}/commands/joint_single') for s in sides}
    for side in sides:
        r.wait_subscribed(f'follower_{side}/commands/joint_group')
    r.send(MODE_ACTIVE, r.rows(gripper=0.5))                         # no xs_sdk yet
    left = r.node.arms[0]
    assert left.withheld == 1 and 'follower_left/set_operating_modes' in left.modes.problem()
    requests, _services = probe_modes(r)
    assert r.ros.wait_for(lambda: all(a.modes.confirmed for a in r.node.arms), 5)
    aloha = [('group', 'arm', 'position', 'velocity', 0, 0), ('single', 'gripper', 'current_based_position',
                                                               'velocity', 0, 0)]
    assert requests == {'left': aloha, 'right': aloha}
    r.settle(0.2)
    assert not any(groups.values()) and not any(singles.values())   # nothing went out before
    r.send(MODE_ACTIVE, r.rows(gripper=0.5))
    assert r.ros.wait_for(lambda: all(groups.values()) and all(singles.values()), 5)


def test_the_simulated_xs_sdk_reads_a_position_in_the_motors_mode(ros):
    sim = ros.make(SimulatorNode, {'embodiment': 'trossen_bimanual'}, namespace='/xs')
    probe = ros.node('probe', namespace='/xs')
    single = probe.create_publisher(xs_msg.JointSingleCommand, 'follower_left/commands/joint_single', 10)
    assert ros.wait_for(lambda: probe.count_subscribers('follower_left/commands/joint_single') == 1, 5)

    def gripper_after(cmd):
        single.publish(xs_msg.JointSingleCommand(name='gripper', cmd=cmd))
        ros.wait_for(lambda: False, 1.0)
        return sim.world.gripper_closure('left')
    # as aloha_bringup starts it: linear_position; motor radians have no solution: zero angle, past closed
    assert gripper_after(OPEN_RAD) == pytest.approx(1.0, abs=0.02)
    opened = (1.4956 - OPEN_RAD) / (CLOSED_RAD - OPEN_RAD)                 # metres between the fingers
    assert gripper_after(2 * OPEN_M) == pytest.approx(opened, abs=0.02)
    request = xs_srv.OperatingModes.Request(cmd_type='single', name='gripper', mode='current_based_position',
                                            profile_type='velocity')
    ros.call(probe, xs_srv.OperatingModes, 'follower_left/set_operating_modes', request)
    assert gripper_after(CLOSED_RAD) == pytest.approx(1.0, abs=0.02)        # now radians
    assert gripper_after(OPEN_RAD) == pytest.approx(0.0, abs=0.02)
