"""pi0/run_instruction: lets a behaviour tree or state machine ask the running stack to carry out an
instruction for a bounded time and get the outcome (pi0_msgs/action/RunInstruction).

On a goal the server publishes the instruction (latched pi0/instruction, which the policy node
follows), makes the executor accept only chunks conditioned on that instruction, resumes it, and
pauses it again when the time limit is reached, the goal is canceled, or the executor is stopped or
e-stopped. One goal at a time. The goal runs as a coroutine that awaits a timer between feedbacks, so
it never blocks the node's single-threaded executor (the control tick keeps its rate).
"""

from __future__ import annotations

import time

from pi0_msgs.action import RunInstruction
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from std_msgs.msg import String

from pi0_common.messages import to_sec
from pi0_common.qos import LATCHED_QOS
from pi0_common.spin import sleep_future

FEEDBACK_PERIOD = 0.1   # s


class RunInstructionServer:
    def __init__(self, node):
        self.node = node
        self.active_instruction: str | None = None
        self._busy = False
        self.instruction_pub = node.create_publisher(String, 'pi0/instruction', LATCHED_QOS)
        self.server = ActionServer(
            node, RunInstruction, 'pi0/run_instruction', execute_callback=self._execute,
            goal_callback=self._on_goal, cancel_callback=lambda _goal: CancelResponse.ACCEPT)

    def accepts_chunk(self, instruction: str) -> bool:
        """While a goal runs, only chunks conditioned on its instruction may be executed."""
        return self.active_instruction is None or instruction == self.active_instruction

    def _on_goal(self, goal: RunInstruction.Goal) -> GoalResponse:
        log = self.node.get_logger()
        if self._busy:
            log.warning('run_instruction: a goal is already running; new goal rejected')
            return GoalResponse.REJECT
        if not goal.instruction.strip() or to_sec(goal.time_limit) <= 0.0:
            log.warning('run_instruction: goal needs a non-empty instruction and a positive time limit')
            return GoalResponse.REJECT
        if not self.node.active:
            # Arming is the node's activation alone: a goal never arms an inactive executor.
            log.warning('run_instruction: the executor is inactive (disarmed); goal rejected')
            return GoalResponse.REJECT
        if self.node.core.state == 'estop':
            log.warning('run_instruction: e-stop is latched; goal rejected')
            return GoalResponse.REJECT
        self._busy = True
        return GoalResponse.ACCEPT

    async def _execute(self, handle) -> RunInstruction.Result:
        node, goal = self.node, handle.request
        limit = to_sec(goal.time_limit)
        result = RunInstruction.Result()
        try:
            self.instruction_pub.publish(String(data=goal.instruction))
            with node.lock:
                self.active_instruction = goal.instruction
                node.core.stop()              # drop chunks conditioned on the previous instruction
                node.core.resume(node.now())
                start_executed = node.core.stats.chunks_executed
            node.get_logger().info(f'run_instruction: "{goal.instruction}" for {limit:g} s')
            t0 = time.monotonic()
            while True:
                elapsed = time.monotonic() - t0
                with node.lock:
                    state = node.core.state
                    executed = node.core.stats.chunks_executed - start_executed
                feedback = RunInstruction.Feedback(chunks_executed=executed, elapsed=elapsed, executor_state=state)
                handle.publish_feedback(feedback)
                outcome = None
                if handle.is_cancel_requested:
                    outcome, message = RunInstruction.Result.OUTCOME_CANCELED, 'canceled by the client'
                elif state in ('stopped', 'estop'):
                    outcome, message = RunInstruction.Result.OUTCOME_STOPPED, f'executor {state}'
                elif elapsed >= limit:
                    outcome, message = RunInstruction.Result.OUTCOME_TIME_LIMIT, f'ran for {limit:g} s'
                if outcome is not None:
                    break
                await sleep_future(self.node, FEEDBACK_PERIOD)
            with node.lock:
                node.core.pause()
            node.publish_hold()
            result.outcome, result.message = outcome, message
            result.chunks_executed, result.elapsed = executed, elapsed
            if outcome == RunInstruction.Result.OUTCOME_CANCELED:
                handle.canceled()
            elif outcome == RunInstruction.Result.OUTCOME_TIME_LIMIT:
                handle.succeed()
            else:
                handle.abort()
            return result
        finally:
            self.active_instruction = None
            self._busy = False
