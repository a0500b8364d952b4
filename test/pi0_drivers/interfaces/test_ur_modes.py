"""UR arm modes: the forward_position streaming mode is refused with its reason, because of how
Universal_Robots_ROS2_Driver runs that controller (kilted 3252ef5): forward_position_controller is a
position_controllers/JointGroupPositionController (ur_robot_driver/config/ur_controllers.yaml:27-28) whose
command the hardware interface sends as a servoj target every cycle (src/hardware_interface.cpp:1105-1106)
at update_rate 500 Hz (config/ur5e_update_rate.yaml:3): a 20 Hz stream is one step per tick, to be closed
within one 2 ms cycle. The trajectory mode leaves the interpolation to the controller."""

import pytest

from pi0_common.embodiment import load_embodiment
from pi0_drivers.driver_node import RobotDriverNode
from pi0_drivers.interfaces.base import InterfaceError

from .harness import variant

UR_CONTROLLER_RATE_HZ = 500.0       # ur5e_update_rate.yaml:3
UR_CONTROLLER = 'forward_position_controller'


def test_one_tick_of_forward_streaming_is_many_servo_cycles_of_travel():
    emb = load_embodiment('ur5e')
    step = max(j.max_velocity for j in emb.arms[0].joints) * emb.dt       # what one tick may move
    per_cycle = max(j.max_velocity for j in emb.arms[0].joints) / UR_CONTROLLER_RATE_HZ
    assert step == pytest.approx(0.157, abs=1e-3) and step / per_cycle == pytest.approx(25.0)


@pytest.mark.parametrize('embodiment', ['ur5e', 'ur5e_bimanual'])
def test_forward_position_mode_is_refused_naming_the_controller_and_why(ros, embodiment):
    with pytest.raises(InterfaceError, match=f'{UR_CONTROLLER}.*servoj.*500 Hz.*mode trajectory'):
        ros.make(RobotDriverNode, {'embodiment': embodiment, 'arm_mode': 'forward_position'})


def test_an_embodiment_file_naming_the_forward_controller_is_refused(ros, tmp_path):
    path = variant('ur5e', tmp_path, forward_topic=f'{UR_CONTROLLER}/commands')
    with pytest.raises(InterfaceError, match='forward_position streaming is refused'):
        ros.make(RobotDriverNode, {'embodiment': path})


def test_the_shipped_ur_embodiments_stream_to_no_forward_controller():
    for name in ('ur5e', 'ur5e_bimanual'):
        for arm in load_embodiment(name).arms:
            assert arm.interface['mode'] == 'trajectory' and 'forward_topic' not in arm.interface
            assert arm.interface['trajectory_topic'].endswith('scaled_joint_trajectory_controller/joint_trajectory')
