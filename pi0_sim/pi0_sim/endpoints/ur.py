"""The simulated Universal Robots controllers and the Robotiq gripper's GripperActionController.

The arm's controllers are ArmControllersSimEndpoint (trajectory_topic, forward_topic, gripper_topic
as the interface block names them). The gripper action, when the block names ``gripper_action``, is
control_msgs/action/GripperCommand: the goal's command.position is the knuckle target in the
gripper's command units; the goal succeeds when the gripper gets within the controller's goal
tolerance.
"""

from __future__ import annotations

from pi0_sim.endpoints.base import vendor_types
from pi0_sim.endpoints.controllers import ArmControllersSimEndpoint
from pi0_sim.endpoints.gripper_action import SimGripperAction

GRIPPER_ACTION_TOLERANCE = 0.01  # strokes: the simulated GripperActionController's goal tolerance


class UrSimEndpoint(ArmControllersSimEndpoint):
    def __init__(self, node, world, lock, embodiment, arm, config):
        super().__init__(node, world, lock, embodiment, arm, config)
        self.gripper_action = None
        if arm.gripper is not None and config.get('gripper_action'):
            (action_type,) = vendor_types('control_msgs', 'action', ('GripperCommand',), self.where)
            stroke = abs(arm.gripper.command_closed - arm.gripper.command_open)
            self.gripper_action = SimGripperAction(
                self, action_type, config['gripper_action'], target_of=lambda goal: goal.command.position,
                result_of=_gripper_command_outcome,
                feedback_of=lambda fb, position: _gripper_command_outcome(fb, 'moving', position),
                tolerance=GRIPPER_ACTION_TOLERANCE * stroke)


def _gripper_command_outcome(msg, outcome: str, position: float):
    """GripperCommand result or feedback: where the gripper is, and whether it got there."""
    msg.position = float(position)
    msg.effort = 0.0
    msg.stalled = False
    msg.reached_goal = outcome == 'reached'
    return msg
