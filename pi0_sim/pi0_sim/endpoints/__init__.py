"""Simulated controller endpoints by driver name (the ``driver`` key of an embodiment's interface
blocks): the simulator's side of the topics and actions each vendor driver stack exposes."""

from pi0_sim.endpoints.arx import ArxSimEndpoint
from pi0_sim.endpoints.controllers import ArmControllersSimEndpoint
from pi0_sim.endpoints.franka import FrankaSimEndpoint
from pi0_sim.endpoints.interbotix import InterbotixSimEndpoint
from pi0_sim.endpoints.twist import TwistSimEndpoint
from pi0_sim.endpoints.ur import UrSimEndpoint

ARM_ENDPOINTS = {
    'ur': UrSimEndpoint,                        # Universal_Robots_ROS2_Driver controllers + Robotiq
    'franka': FrankaSimEndpoint,                # franka_ros2: fr3_arm_controller + franka_gripper
    'interbotix': InterbotixSimEndpoint,        # xs_sdk (Trossen ALOHA followers)
    'arx': ArxSimEndpoint,                      # ARX X5 vendor node
    'jtc': ArmControllersSimEndpoint,           # generic ros2_control arm (Fibocom)
}
BASE_ENDPOINTS = {
    'twist': TwistSimEndpoint,
}
