"""Robot interfaces by driver name (the ``driver`` key of an embodiment's interface blocks), each
with its simulator endpoint."""

from pi0_drivers.interfaces.arx import ArxArm, ArxSimEndpoint
from pi0_drivers.interfaces.franka import FrankaArm, FrankaSimEndpoint
from pi0_drivers.interfaces.interbotix import InterbotixArm, InterbotixSimEndpoint
from pi0_drivers.interfaces.jtc import JtcArm, JtcSimEndpoint
from pi0_drivers.interfaces.twist import TwistBase, TwistSimEndpoint
from pi0_drivers.interfaces.ur import UrArm, UrSimEndpoint

ARM_DRIVERS = {
    'ur': (UrArm, UrSimEndpoint),                            # Universal_Robots_ROS2_Driver + Robotiq
    'franka': (FrankaArm, FrankaSimEndpoint),                # franka_ros2: fr3_arm_controller + franka_gripper
    'interbotix': (InterbotixArm, InterbotixSimEndpoint),    # xs_sdk (Trossen ALOHA followers)
    'arx': (ArxArm, ArxSimEndpoint),                         # ARX X5 vendor node
    'jtc': (JtcArm, JtcSimEndpoint),                         # generic ros2_control arm (Fibocom)
}
BASE_DRIVERS = {
    'twist': (TwistBase, TwistSimEndpoint),
}
