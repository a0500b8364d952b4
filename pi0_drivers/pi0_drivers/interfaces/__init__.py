"""Robot interfaces by driver name (the ``driver`` key of an embodiment's interface blocks). The same
classes drive the real robot and the simulated one (pi0_sim's simulator node speaks the same
interfaces)."""

from pi0_drivers.interfaces.arx import ArxArm
from pi0_drivers.interfaces.franka import FrankaArm
from pi0_drivers.interfaces.interbotix import InterbotixArm
from pi0_drivers.interfaces.jtc import JtcArm
from pi0_drivers.interfaces.twist import TwistBase
from pi0_drivers.interfaces.ur import UrArm

ARM_DRIVERS = {
    'ur': UrArm,                    # Universal_Robots_ROS2_Driver + Robotiq
    'franka': FrankaArm,            # franka_ros2: fr3_arm_controller + franka_gripper
    'interbotix': InterbotixArm,    # xs_sdk (Trossen ALOHA followers)
    'arx': ArxArm,                  # ARX X5 vendor node
    'jtc': JtcArm,                  # generic ros2_control arm (Fibocom)
}
BASE_DRIVERS = {
    'twist': TwistBase,
}
