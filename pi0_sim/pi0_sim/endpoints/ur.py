"""The simulated Universal Robots controllers and the Robotiq gripper's controller.

The arm's controllers are ArmControllersSimEndpoint (trajectory_topic and, where a block names them,
forward_topic and gripper_topic). The gripper is ros2_robotiq_gripper's robotiq_gripper_controller, an
action server of the type its launch runs (robotiq.py): ParallelGripperCommand by default, GripperCommand
with gripper_mode gripper_action.
"""

from __future__ import annotations

from pi0_sim.endpoints.controllers import ArmControllersSimEndpoint
from pi0_sim.endpoints.robotiq import robotiq_action


class UrSimEndpoint(ArmControllersSimEndpoint):
    def __init__(self, node, world, lock, embodiment, arm, config):
        super().__init__(node, world, lock, embodiment, arm, config)
        self.gripper_action = robotiq_action(self, config)
