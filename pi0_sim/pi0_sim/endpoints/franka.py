"""The simulated franka_ros2: fr3_arm_controller (a JointTrajectoryController, ArmControllersSimEndpoint)
and franka_gripper's move and grasp action servers (franka_msgs/action/Move, Grasp), on the names the
interface block gives (defaults: franka_gripper/move, franka_gripper/grasp), and the joint states where
franka_ros2's launch publishes them (franka_state.py).
"""

from __future__ import annotations

import math

from pi0_sim.endpoints.base import vendor_types
from pi0_sim.endpoints.controllers import ArmControllersSimEndpoint
from pi0_sim.endpoints.franka_state import FrankaStatePublisher
from pi0_sim.endpoints.gripper_action import SimGripperAction

SIM_TOLERANCE = 0.001     # m: the simulated hand has arrived


class FrankaSimEndpoint(ArmControllersSimEndpoint):
    """The simulated fr3_arm_controller (a JointTrajectoryController) and franka_gripper's move and grasp
    action servers, which move the simulated fingers (at the simulated hand's speed, not the goal's).
    Move goes to the goal width; Grasp closes until it meets an object, and the simulator has no
    contacts, so it closes to width - epsilon.inner (at least fully closed), succeeding when it ends
    within width +- epsilon as franka_gripper does."""

    def __init__(self, node, world, lock, embodiment, arm, config):
        super().__init__(node, world, lock, embodiment, arm, config)
        self.move_server = self.grasp_server = None
        self.publishes_state = True             # franka_ros2's topics, not the embodiment's joint_state_topic
        self.states = FrankaStatePublisher(node, arm, config)
        self.publish_state = self.states.publish
        if arm.gripper is None:
            return
        types = vendor_types('franka_msgs', 'action', ('Move', 'Grasp'), self.where)
        g = arm.gripper
        self.narrowest, self.widest = min(g.command_open, g.command_closed), max(g.command_open, g.command_closed)
        move_name = config.get('gripper_move_action', 'franka_gripper/move')
        grasp_name = config.get('gripper_grasp_action', 'franka_gripper/grasp')
        self.move_server = SimGripperAction(self, types[0], move_name, target_of=self._move_target,
                                            result_of=self._result, feedback_of=self._feedback,
                                            tolerance=SIM_TOLERANCE)
        self.grasp_server = SimGripperAction(self, types[1], grasp_name, target_of=self._grasp_target,
                                             result_of=self._result, feedback_of=self._feedback,
                                             tolerance=SIM_TOLERANCE)

    def _move_target(self, goal) -> float | None:
        ok = math.isfinite(goal.width) and self.narrowest <= goal.width <= self.widest and goal.speed > 0
        return float(goal.width) if ok else None

    def _grasp_target(self, goal) -> float | None:
        if not (math.isfinite(goal.width) and self.narrowest <= goal.width <= self.widest and goal.speed > 0
                and goal.force > 0 and goal.epsilon.inner >= 0 and goal.epsilon.outer >= 0):
            return None
        return max(self.narrowest, goal.width - goal.epsilon.inner)

    @staticmethod
    def _result(result, outcome: str, position: float):
        result.success = outcome == 'reached'
        result.error = '' if result.success else f'sim: {outcome}'
        return result

    @staticmethod
    def _feedback(feedback, position: float):
        feedback.current_width = float(position)
        return feedback

