"""The Robotiq 2F gripper of a UR arm through the action server that ros2_robotiq_gripper's launch runs.

Which controller serves it (PickNikRobotics/ros2_robotiq_gripper, robotiq_description/config/
robotiq_controllers.yaml; ros-controls/ros2_controllers for the controllers):
    Jazzy, Kilted and later   robotiq_gripper_controller is a parallel_gripper_action_controller/
                              GripperActionController (main 3b6cf8f, robotiq_controllers.yaml:6-8), serving
                              control_msgs/action/ParallelGripperCommand on ~/gripper_cmd (kilted 0f8eb14,
                              parallel_gripper_action_controller_impl.hpp:409-410): gripper_mode
                              parallel_gripper_action, the default.
    Humble                    a position_controllers/GripperActionController (branch humble,
                              robotiq_controllers.yaml:6-7) serving control_msgs/action/GripperCommand on
                              ~/gripper_cmd (humble ad559d9, gripper_action_controller_impl.hpp:300):
                              gripper_mode gripper_action.
There is no robotiq_gripper_controller/commands topic in either.

Effort:
    ParallelGripperCommand  the goal's command.effort[0] is used only when the controller claims an effort
                            interface and the list is not empty; otherwise the controller's own max_effort
                            parameter applies (parallel_gripper_action_controller_impl.hpp:149-156; 50 N in
                            robotiq_controllers.yaml:17-18). So effort is left empty unless
                            interface.gripper_max_effort is set; velocity is always left empty (its
                            max_velocity, :141-148).
    GripperCommand          the goal's command.max_effort is taken as given (gripper_action_controller_impl.hpp
                            :98): the position adapter ignores it (hardware_interface_adapter.hpp:82-89), the
                            effort adapter clamps its output to +-max_effort (:169-173), so 0 would grip
                            with no force at all. It is never 0 here: interface.gripper_max_effort, default
                            50 N (the value of robotiq_controllers.yaml:18), must be positive.

A goal is sent when the target moves by more than a deadband; each new goal preempts the one before (the
controller cancels it: parallel_gripper_action_controller_impl.hpp:30-42). A missing action server, or one
of the other action type (the other controller), is an error naming the action; the target waits and is
sent once the server is up.
"""

from __future__ import annotations

import math

from pi0_drivers.interfaces.base import InterfaceError, config_value

MODES = {'parallel_gripper_action': 'ParallelGripperCommand', 'gripper_action': 'GripperCommand'}
DEFAULT_ACTION = 'robotiq_gripper_controller/gripper_cmd'
DEFAULT_MAX_EFFORT = 50.0       # N: robotiq_controllers.yaml:18, for GripperCommand goals
GOAL_DEADBAND = 0.02            # strokes: resend a goal only when the target moved this much
INSTALL_HINT = 'install ros-$ROS_DISTRO-control-msgs; make setup builds its interface definitions where none is'


class RobotiqGripper:
    """Goals of one of the two Robotiq action types, built from the unified gripper target."""

    def __init__(self, node, arm, mode: str, cfg: dict, where: str):
        self.node, self.where, self.mode = node, where, mode
        self.type_name = MODES[mode]
        self.name = config_value(cfg, 'gripper_action', str, where, DEFAULT_ACTION)
        effort = config_value(cfg, 'gripper_max_effort', float, where, None)
        if mode == 'gripper_action' and effort is None:
            effort = DEFAULT_MAX_EFFORT
        if effort is not None and not (math.isfinite(effort) and effort > 0):
            raise InterfaceError(f'{where}: interface.gripper_max_effort must be positive, got {effort} (a '
                                 f'GripperCommand max_effort of 0 grips with no force)')
        self.max_effort = effort
        self.joint = arm.gripper.joint
        self.deadband = GOAL_DEADBAND * abs(arm.gripper.command_closed - arm.gripper.command_open)
        try:
            import control_msgs.action as actions
        except ImportError as e:
            raise InterfaceError(f'{where}: gripper_mode {mode} needs control_msgs, which is not installed '
                                 f'({INSTALL_HINT})') from e
        from rclpy.action import ActionClient
        self.action_type = getattr(actions, self.type_name)
        self.client = ActionClient(node, self.action_type, self.name)
        self.resolved = node.resolve_topic_name(self.name)
        self.sent: float | None = None          # the last target sent
        self.pending: float | None = None       # a target waiting for the server
        self.problem = ''                       # why nothing is sent ('' when the server is up)
        self.goals = 0

    def describe(self) -> str:
        text = f'Robotiq {self.type_name} on {self.name}'
        return f'{text} ({self.problem})' if self.problem else text

    def send(self, position: float) -> None:
        if self.pending is None and self.sent is not None and abs(position - self.sent) < self.deadband:
            return
        self.pending = position
        if not self.client.server_is_ready():
            self.problem = self._why_not_ready()
            self.node.get_logger().error(f'{self.where}: {self.problem}; the gripper is not commanded',
                                         throttle_duration_sec=2.0)
            return
        self.problem = ''
        self.client.send_goal_async(self._goal(position))
        self.sent, self.pending = position, None
        self.goals += 1

    def _goal(self, position: float):
        goal = self.action_type.Goal()
        if self.mode == 'gripper_action':
            goal.command.position = float(position)
            goal.command.max_effort = float(self.max_effort)
        else:
            goal.command.name = [self.joint]
            goal.command.position = [float(position)]
            if self.max_effort is not None:
                goal.command.effort = [float(self.max_effort)]
        return goal

    def _why_not_ready(self) -> str:
        """The missing server, or the other controller's action type on that name (our own client lists the
        wanted type there too, so only another type tells)."""
        wanted = f'control_msgs/action/{self.type_name}'
        types = dict(self.node.get_service_names_and_types()).get(f'{self.resolved}/_action/send_goal', [])
        for kind in types:
            found = kind.removesuffix('_SendGoal')
            if found != wanted:
                other = {v: k for k, v in MODES.items()}.get(found.rsplit('/', 1)[-1], '?')
                return (f'{self.resolved} serves {found}, not {wanted}: a different gripper controller '
                        f'(set gripper_mode {other})')
        return (f'no action server {self.resolved} ({wanted}): start robotiq_gripper_controller '
                f'(ros2_robotiq_gripper) or the UR bringup with the gripper')
