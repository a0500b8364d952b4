"""Without a vendor message package the driver refuses to start, naming the package (the packages are
hidden by patching the interfaces' import); and the configuration checks that need no vendor types."""

import numpy as np
import pytest

from pi0_common.embodiment import load_embodiment
from pi0_drivers.driver_node import RobotDriverNode
from pi0_drivers.interfaces import arx, franka, interbotix
from pi0_drivers.interfaces.base import InterfaceError
from pi0_drivers.interfaces.vendor import LimitClamp, merged_config


@pytest.fixture
def no_vendor(monkeypatch):
    for module in (arx, franka, interbotix):
        monkeypatch.setattr(module, 'import_types', lambda *args: None)


@pytest.mark.parametrize('embodiment, package', [
    ('trossen_bimanual', 'interbotix_xs_msgs'), ('franka', 'franka_msgs'), ('arx_mobile', 'arx5_arm_msg'),
])
def test_the_driver_refuses_to_start_without_the_vendor_package(ros, no_vendor, embodiment, package):
    with pytest.raises(InterfaceError, match=f'{package}.*not installed.*make setup builds'):
        ros.make(RobotDriverNode, {'embodiment': embodiment})


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
        arx._config({'command_topic': 'a', 'status_topic': 'b', 'msg_package': 'arx msgs'}, 'arx/left')
    with pytest.raises(InterfaceError, match='unknown interface field'):
        interbotix._config({'group_topic': 'g', 'single_topic': 's', 'group': 'arm'}, 'trossen/left', True)
