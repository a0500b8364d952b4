"""The simulated robotiq_gripper_controller of ros2_robotiq_gripper, serving the action its launch runs
(interface.gripper_mode, as the driver reads it; interface.gripper_action names it):

    parallel_gripper_action  control_msgs/action/ParallelGripperCommand, the parallel_gripper_action_controller
                             of Jazzy and later (PickNikRobotics/ros2_robotiq_gripper main 3b6cf8f,
                             robotiq_description/config/robotiq_controllers.yaml:6-8)
    gripper_action           control_msgs/action/GripperCommand, the Humble position_controllers/
                             GripperActionController (branch humble, robotiq_controllers.yaml:6-7)

As those controllers (ros-controls/ros2_controllers kilted 0f8eb14, parallel_gripper_controller/include/
parallel_gripper_controller/parallel_gripper_action_controller_impl.hpp; humble ad559d9,
gripper_controllers/include/gripper_controllers/gripper_action_controller_impl.hpp):
- a ParallelGripperCommand goal without exactly one position is rejected (parallel impl :114-124);
- the position is the knuckle joint's target (command units of the embodiment's gripper);
- a newer goal preempts the active one, which ends CANCELED (parallel impl :30-42, humble impl :28-38);
- a goal succeeds within goal_tolerance (0.02 rad in robotiq_controllers.yaml:28; the Humble default 0.01,
  gripper_action_controller_parameters.yaml:14-16), with reached_goal and the position in the result;
- no feedback is published (neither controller publishes any).
Effort and speed are not simulated (the simulated fingers move at the gripper's max_rate).
"""

from __future__ import annotations

from pi0_sim.endpoints.base import vendor_types
from pi0_sim.endpoints.gripper_action import SimGripperAction

DEFAULT_MODE = 'parallel_gripper_action'
DEFAULT_ACTION = 'robotiq_gripper_controller/gripper_cmd'
ACTION_TYPES = {'parallel_gripper_action': 'ParallelGripperCommand', 'gripper_action': 'GripperCommand'}
TOLERANCE = {'parallel_gripper_action': 0.02, 'gripper_action': 0.01}     # rad of the knuckle joint


def robotiq_action(endpoint, config: dict) -> SimGripperAction | None:
    """The simulated controller's action server for this arm, or None (no gripper, or a forward command
    controller on the gripper)."""
    mode = config.get('gripper_mode', DEFAULT_MODE)
    if endpoint.spec.gripper is None or mode not in ACTION_TYPES:
        return None
    (action_type,) = vendor_types('control_msgs', 'action', (ACTION_TYPES[mode],), endpoint.where)
    parallel = mode == 'parallel_gripper_action'
    return SimGripperAction(endpoint, action_type, config.get('gripper_action', DEFAULT_ACTION),
                            target_of=_parallel_target if parallel else lambda goal: goal.command.position,
                            result_of=_parallel_result if parallel else _gripper_command_result,
                            tolerance=TOLERANCE[mode], preempted_canceled=True)


def _parallel_target(goal) -> float | None:
    return float(goal.command.position[0]) if len(goal.command.position) == 1 else None


def _parallel_result(result, outcome: str, position: float):
    if outcome == 'preempted':          # the controller cancels it with an empty result
        return result
    result.state.position = [float(position)]
    result.state.effort = [0.0]
    result.reached_goal = outcome == 'reached'
    result.stalled = False
    return result


def _gripper_command_result(result, outcome: str, position: float):
    if outcome == 'preempted':
        return result
    result.position = float(position)
    result.effort = 0.0
    result.stalled = False
    result.reached_goal = outcome == 'reached'
    return result
