"""The scripted expert node over real DDS: its action plans from the simulator's task state and the
joint states, drives the arm through pi0/command and the driver, and is done once the simulator
says the named block is reached; an instruction that names no block ends with an error, and so does a plan
that breaks off on the way."""

import time

import pytest
from pi0_msgs.action import RunInstruction
from pi0_msgs.msg import SimTaskState
from rclpy.action import ActionClient

from pi0_common.messages import to_duration_msg
from pi0_common.qos import LATCHED_QOS
from pi0_drivers.driver_node import RobotDriverNode
from pi0_sim.expert import PlanningError
from pi0_sim.expert_node import ScriptedExpertNode
from pi0_sim.simulator_node import SimulatorNode
from pi0_sim.task_experts import BlockTaskExpert


def run(ros, client, instruction: str, limit: float = 15.0):
    assert client.wait_for_server(timeout_sec=10)
    handle_future = client.send_goal_async(RunInstruction.Goal(instruction=instruction,
                                                               time_limit=to_duration_msg(limit)))
    assert ros.wait_for(handle_future.done, 10)
    handle = handle_future.result()
    assert handle.accepted
    result_future = handle.get_result_async()
    assert ros.wait_for(result_future.done, limit + 10)
    return result_future.result().result


@pytest.mark.slow
def test_the_expert_reaches_the_named_block_through_the_stack(ros):
    ros.make(SimulatorNode, {'embodiment': 'ur5e', 'seed': 3})
    ros.make(RobotDriverNode, {'embodiment': 'ur5e'})
    ros.make(ScriptedExpertNode, {'embodiment': 'ur5e', 'seed': 1, 'hold': 0.3})
    probe = ros.node('probe')
    task = ros.collect(probe, SimTaskState, 'sim/task_state', LATCHED_QOS)
    client = ActionClient(probe, RunInstruction, 'expert/run_instruction')
    time.sleep(0.5)                                  # joint states reach the expert
    result = run(ros, client, 'reach the blue block')
    assert result.outcome == RunInstruction.Result.OUTCOME_DONE, result.message
    assert ros.wait_for(lambda: 'arm/blue' in task[-1].reached, 2)
    assert 'arm/red' not in task[-1].reached

    refused = run(ros, client, 'reach the green block', limit=2.0)
    assert refused.outcome == RunInstruction.Result.OUTCOME_ERROR and 'exactly one' in refused.message


class BreaksOff(BlockTaskExpert):
    """The block task's expert, whose plan breaks off a moment in (as the ALOHA hand-over's re-plan can)."""

    def _command(self, view, t):
        if t > 0.2:
            raise PlanningError('the cube fell')
        return super()._command(view, t)


@pytest.mark.slow
def test_a_plan_that_breaks_off_ends_the_goal_with_an_error(ros):
    ros.make(SimulatorNode, {'embodiment': 'ur5e', 'seed': 3})
    ros.make(RobotDriverNode, {'embodiment': 'ur5e'})
    expert = ros.make(ScriptedExpertNode, {'embodiment': 'ur5e', 'seed': 1})
    expert.experts['reach_blocks'] = BreaksOff(expert.embodiment, 10, 1)
    probe = ros.node('probe')
    client = ActionClient(probe, RunInstruction, 'expert/run_instruction')
    time.sleep(0.5)                                  # joint states reach the expert
    result = run(ros, client, 'reach the blue block', limit=10.0)
    assert result.outcome == RunInstruction.Result.OUTCOME_ERROR, result.message
    assert result.message == 'plan broken off: the cube fell' and result.elapsed < 5.0
    assert not expert.active and not expert.busy     # the node goes on serving
