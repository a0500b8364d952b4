"""Interbotix xs_sdk followers (trossen_bimanual) over real DDS: JointGroupCommand + JointSingleCommand per
arm for every command, clamped to the joint limits, and the simulated xs_sdk applying them. Operating modes
(the driver's set_operating_modes calls, the twin's modes and units) are in test_interbotix_modes.py."""

import numpy as np
import pytest
from sensor_msgs.msg import JointState

from pi0_common.commands import MODE_ACTIVE, MODE_HOLD
from pi0_common.qos import SENSOR_QOS

from .harness import vendor

xs = vendor('interbotix_xs_msgs')

SIDES = ('left', 'right')


def topics(side):
    return f'follower_{side}/commands/joint_group', f'follower_{side}/commands/joint_single'


def trossen(rig, **params):
    r = rig('trossen_bimanual', command_timeout=0.2, **params)
    out = {}
    for side in SIDES:
        group, single = topics(side)
        out[side] = (r.collect(xs.JointGroupCommand, group), r.collect(xs.JointSingleCommand, single))
        r.wait_subscribed(group)
        r.wait_subscribed(single)
    # nothing is commanded before the simulated xs_sdk has the operating modes aloha sets
    assert r.ros.wait_for(lambda: all(arm.modes.confirmed for arm in r.node.arms), 5)
    return r, out


def test_every_command_streams_this_ticks_targets_per_arm(rig):
    r, out = trossen(rig)
    rows = r.rows(gripper=0.25)
    r.send(MODE_ACTIVE, rows)
    assert r.ros.wait_for(lambda: all(len(g) and len(s) for g, s in out.values()), 5)
    for side, (arm, joint_idx, _) in zip(SIDES, r.emb.arm_slices(), strict=True):
        group, single = out[side][0][-1], out[side][1][-1]
        assert group.name == 'arm'
        assert list(group.cmd) == pytest.approx(rows[0, joint_idx], abs=1e-5)    # row 0 only: xs_sdk streams
        assert single.name == 'gripper'
        assert single.cmd == pytest.approx(1.6214 + 0.25 * (0.6197 - 1.6214), abs=1e-5)   # motor radians
        assert arm.name == side


def test_targets_beyond_the_limits_are_clamped_before_the_wire(rig):
    r, out = trossen(rig)
    rows = r.rows(n=1)
    shoulder = r.emb.dim_names.index('left/shoulder')
    rows[0, shoulder] = 3.0                           # upper limit 1.2566: xs_sdk would drive there
    r.send(MODE_ACTIVE, rows)
    assert r.ros.wait_for(lambda: out['left'][0], 5)
    assert out['left'][0][-1].cmd[1] == pytest.approx(1.2566, abs=1e-5)
    assert r.node.arms[0].clamp.clamped == 1 and r.node.arms[1].clamp.clamped == 0


def test_hold_streams_the_held_position_and_timeout_sends_nothing(rig):
    r, out = trossen(rig)
    held = r.rows(n=1, offset=0.05)
    for _ in range(3):
        r.send(MODE_HOLD, held)
    assert r.ros.wait_for(lambda: len(out['left'][0]) == 3 and len(out['right'][0]) == 3, 5)
    assert all(list(m.cmd) == pytest.approx(held[0, :6], abs=1e-5) for m in out['left'][0])
    r.settle(0.6)                                     # three watchdog timeouts (command_timeout 0.2 s)
    assert len(out['left'][0]) == 3 and len(out['left'][1]) == 3   # the servos keep their last goal


def test_the_simulated_xs_sdk_follows_and_refuses_unknown_groups(rig):
    r, out = trossen(rig)
    states = r.collect(JointState, 'follower_right/joint_states', SENSOR_QOS)
    rows = r.rows(n=1, offset=0.1, gripper=1.0)
    for _ in range(25):                               # 0.5 s at 50 Hz
        r.send(MODE_ACTIVE, rows)
        r.settle(0.02)

    def measured():
        return dict(zip(states[-1].name, states[-1].position, strict=True))
    assert r.ros.wait_for(lambda: states and measured()['waist'] > 0.09, 3)
    assert measured()['left_finger'] == pytest.approx(0.0440, abs=1e-3)     # closed: finger metres
    endpoint = r.sim.endpoints[1]
    assert r.ros.wait_for(lambda: endpoint.received == 50, 3)       # 25 x (joint group + gripper)
    received = endpoint.received
    bogus = r.probe.create_publisher(xs.JointGroupCommand, topics('right')[0], 10)
    r.wait_subscribed(topics('right')[0], count=2)
    bogus.publish(xs.JointGroupCommand(name='all', cmd=[0.0] * 6))
    bogus.publish(xs.JointGroupCommand(name='arm', cmd=[0.0] * 5))
    r.settle(0.3)
    assert endpoint.received == received
    assert np.isclose(measured()['waist'], 0.1, atol=0.01)
