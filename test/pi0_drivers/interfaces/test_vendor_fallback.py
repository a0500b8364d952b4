"""Without the vendor message packages: a real robot refuses to start naming the package; in simulation
the interfaces drive the simulated robot directly (the documented fallback). The packages are hidden
by patching the interfaces' import, so these run whether or not the fixtures are built. Also the
configuration checks that need no vendor types."""

import numpy as np
import pytest
from sensor_msgs.msg import JointState

from pi0_common.commands import MODE_ACTIVE
from pi0_common.embodiment import load_embodiment
from pi0_common.qos import SENSOR_QOS
from pi0_drivers.driver_node import RobotDriverNode
from pi0_drivers.interfaces import arx, franka, interbotix
from pi0_drivers.interfaces.base import InterfaceError
from pi0_drivers.interfaces.vendor import LimitClamp, merged_config


@pytest.fixture
def no_vendor(monkeypatch):
    for module in (arx, franka, interbotix):
        monkeypatch.setattr(module, 'import_types', lambda *args: None)


@pytest.mark.parametrize('embodiment, package', [
    ('trossen_bimanual', 'interbotix_xs_msgs'), ('franka', 'franka_msgs'), ('arx_mobile', 'arx_x5_msg'),
])
def test_a_real_robot_refuses_to_start_without_the_vendor_package(ros, no_vendor, embodiment, package):
    with pytest.raises(InterfaceError, match=f'{package}.*not installed.*sim:=true'):
        ros.make(RobotDriverNode, {'embodiment': embodiment, 'sim': False})


def test_simulated_xs_sdk_without_its_messages_is_driven_directly(rig, no_vendor):
    r = rig('trossen_bimanual')
    assert 'simulated directly' in r.node.arms[0].describe()
    assert r.node.count_publishers('follower_left/commands/joint_group') == 0
    target = r.rows(n=1, offset=0.1, gripper=1.0)
    for _ in range(20):
        r.send(MODE_ACTIVE, target)
        r.settle(0.02)
    world = r.node.sim.world
    assert r.ros.wait_for(lambda: world.arm_positions('right')[0] > 0.09, 3)
    assert world.gripper_closure('left') == pytest.approx(1.0, abs=0.05)


def test_simulated_franka_hand_without_its_messages_follows_the_transitions(rig, no_vendor):
    r = rig('franka')
    world = r.node.sim.world
    r.send(MODE_ACTIVE, r.rows(gripper=0.9))
    assert r.ros.wait_for(lambda: world.gripper_closure('arm') > 0.99, 3)
    r.send(MODE_ACTIVE, r.rows(gripper=0.5))                      # dead band: stays closed
    r.settle(0.2)
    assert world.gripper_closure('arm') > 0.99
    r.send(MODE_ACTIVE, r.rows(gripper=0.1))
    assert r.ros.wait_for(lambda: world.gripper_closure('arm') < 0.01, 3)
    assert r.node.arms[0].hand.goals_sent == ['close', 'open']


def test_simulated_arx_without_its_messages_publishes_joint_states_itself(rig, no_vendor):
    r = rig('arx_bimanual')
    assert set(r.node.sim.state_pubs) == {'arx_left/joint_states', 'arx_right/joint_states'}
    states = r.collect(JointState, 'arx_left/joint_states', SENSOR_QOS)
    for _ in range(20):
        r.send(MODE_ACTIVE, r.rows(n=1, offset=0.1))
        r.settle(0.02)
    assert r.ros.wait_for(lambda: states and dict(zip(states[-1].name, states[-1].position, strict=True))
                          ['joint1'] > 0.09, 3)


def test_limit_clamp_names_what_it_changed():
    arm = load_embodiment('trossen_bimanual').arms[0]
    clamp = LimitClamp(arm)
    values, off = clamp(np.array([0.0, 2.0, -5.0, 0.0, 0.0, 0.0]))
    assert off == ['shoulder', 'elbow'] and values[1] == 1.2566 and values[2] == -1.7628
    assert clamp(np.zeros(6))[1] == [] and clamp.clamped == 1


def test_ur_only_overrides_and_bad_values_are_refused_by_name():
    with pytest.raises(InterfaceError, match='arm_mode.*UR arms only'):
        merged_config({}, {'mode': 'forward_position', 'gripper_mode': ''}, 'franka/arm', 'franka')
    emb = load_embodiment('franka')
    bad = {**emb.arms[0].interface, 'gripper_open_threshold': 0.7}
    with pytest.raises(InterfaceError, match='gripper_open_threshold'):
        franka._hand_config(bad, 'franka/arm')
    with pytest.raises(InterfaceError, match='msg_package'):
        arx._config({'command_topic': 'a', 'status_topic': 'b', 'msg_package': 'arx_msgs'}, 'arx/left')
    with pytest.raises(InterfaceError, match='unknown interface field'):
        interbotix._config({'group_topic': 'g', 'single_topic': 's', 'group': 'arm'}, 'trossen/left', True)
