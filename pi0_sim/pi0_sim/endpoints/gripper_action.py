"""Gripper actions served by the simulator (control_msgs GripperCommand for the Robotiq controller,
franka_msgs Move and Grasp for franka_gripper): each goal sets the simulated gripper's target, and the
goal finishes when the gripper gets there.

Semantics of the vendor servers: a newer goal preempts the one in progress (aborted, or canceled where
the vendor's controller cancels it: ``preempted_canceled``), a cancel is honoured, a goal that does not
arrive within ``timeout`` is aborted.

Nothing blocks the simulator node's single executor thread while a gripper moves: the goal is
accepted, a poll timer watches the simulated gripper, and only when the goal is finished is it
executed, with an execute callback that just reports the outcome (a blocking execute callback would
stall the node's stepping and rendering). A moving goal therefore reports ACCEPTED rather than
EXECUTING; clients that wait for the result see no difference.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import GoalEvent

POLL_PERIOD = 0.02        # s
DEFAULT_TIMEOUT = 5.0     # s for a goal to arrive before it is aborted


@dataclass
class _Goal:
    target: float         # command units (GripperSpec.command_open .. command_closed)
    deadline: float
    outcome: str = ''     # '', 'reached', 'preempted', 'canceled', 'timeout'
    position: float = math.nan    # command units, when finished


class SimGripperAction:
    """One action server of the simulated gripper of one arm.

    Args:
        endpoint: the SimEndpoint (node, world, lock, spec = the ArmSpec).
        action_type: the vendor action type.
        name: action name (as the real server's, e.g. robotiq_gripper_controller/gripper_cmd).
        target_of: goal request -> gripper target in command units, or None to reject the goal.
        result_of: (result type instance, outcome, position in command units) -> the result to return.
        feedback_of: (feedback type instance, position in command units) -> feedback to publish, or None.
        tolerance: command units within which the target counts as reached.
        preempted_canceled: a preempted goal ends CANCELED (as ros2_controllers' gripper action
            controllers do) rather than ABORTED.
    """

    def __init__(self, endpoint, action_type, name: str, target_of: Callable, result_of: Callable,
                 feedback_of: Callable | None = None, tolerance: float = 1e-3, timeout: float = DEFAULT_TIMEOUT,
                 preempted_canceled: bool = False):
        self.endpoint, self.action_type, self.name = endpoint, action_type, name
        self.preempted_canceled = preempted_canceled
        self.target_of, self.result_of, self.feedback_of = target_of, result_of, feedback_of
        self.tolerance, self.timeout = tolerance, timeout
        self.gripper = endpoint.spec.gripper
        # goal id -> (goal handle, its state); handles are not hashable
        self._goals: dict[bytes, tuple[object, _Goal]] = {}      # while moving, in arrival order
        self._finished: dict[bytes, tuple[object, _Goal]] = {}   # finished, until executed
        self._mutex = threading.Lock()
        self.completed: list[str] = []             # outcomes, for tests and diagnostics
        node = endpoint.node
        self.server = ActionServer(node, action_type, name, execute_callback=self._execute,
                                   goal_callback=self._on_goal, handle_accepted_callback=self._on_accepted,
                                   cancel_callback=lambda _goal: CancelResponse.ACCEPT)
        node.create_timer(POLL_PERIOD, self._poll)

    def _on_goal(self, request) -> GoalResponse:
        target = self.target_of(request)
        if target is None or not math.isfinite(target):
            self.endpoint.node.get_logger().error(f'sim: {self.name}: goal rejected (no finite target)',
                                                  throttle_duration_sec=2.0)
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _on_accepted(self, goal_handle) -> None:
        target = float(self.target_of(goal_handle.request))
        now = self.endpoint.now()
        with self.endpoint.lock:
            try:
                self.endpoint.world.command_positions([self.gripper.joint], [target], now,
                                                      topic=self.endpoint.spec.joint_state_topic)
            except ValueError as e:
                self.endpoint.node.get_logger().error(f'sim: {self.name}: {e}', throttle_duration_sec=2.0)
        with self._mutex:
            for _, older in self._goals.values():   # the newest goal owns the gripper
                older.outcome = older.outcome or 'preempted'
            self._goals[_key(goal_handle)] = (goal_handle, _Goal(target, now + self.timeout))

    def _position(self) -> float:
        """Measured gripper position in command units."""
        with self.endpoint.lock:
            g = self.endpoint.world.gripper_closure(self.endpoint.spec.name)
        return self.gripper.command_open + g * (self.gripper.command_closed - self.gripper.command_open)

    def _poll(self) -> None:
        with self._mutex:
            goals = list(self._goals.values())
        if not goals:
            return
        position, now = self._position(), self.endpoint.now()
        for handle, goal in goals:
            if not goal.outcome:
                if handle.is_cancel_requested:
                    goal.outcome = 'canceled'
                elif abs(position - goal.target) <= self.tolerance:
                    goal.outcome = 'reached'
                elif now > goal.deadline:
                    goal.outcome = 'timeout'
                elif self.feedback_of is not None:
                    handle.publish_feedback(self.feedback_of(self.action_type.Feedback(), position))
            if goal.outcome:
                goal.position = position
                with self._mutex:
                    self._finished[_key(handle)] = self._goals.pop(_key(handle))
                handle.execute()           # runs _execute, which reports the outcome

    def _execute(self, goal_handle):
        # Only finished goals are executed (see _poll).
        with self._mutex:
            _, goal = self._finished.pop(_key(goal_handle))
        outcome, position = goal.outcome, goal.position
        if goal_handle.is_cancel_requested:
            goal_handle.canceled()
        elif outcome == 'preempted' and self.preempted_canceled:
            # rclpy has no public way to cancel an executing goal unasked; this is the transition its own
            # cancel service makes (rclpy/action/server.py), then CANCELED
            goal_handle._update_state(GoalEvent.CANCEL_GOAL)
            goal_handle.canceled()
        elif outcome == 'reached':
            goal_handle.succeed()
        else:
            goal_handle.abort()
        self.completed.append(outcome)
        return self.result_of(self.action_type.Result(), outcome, position)


def _key(goal_handle) -> bytes:
    return bytes(goal_handle.goal_id.uuid)
