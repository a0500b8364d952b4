"""The policy node as a managed node, through its real lifecycle services over DDS: configure loads the
model and subscribes to the robot, only an active node infers and publishes chunks (a request that came
while inactive is answered on activation), cleanup frees the model; a checkpoint folder that does not
exist stops the node at start."""

import pytest

from pi0_policy.loading import PolicyLoadError
from pi0_policy.policy_node import PolicyNode

from .test_policy_node import Robot

POLICY = 'pi0_policy'
PARAMS = {'embodiment': 'ur5e', 'checkpoint': 'random:pi0_tiny', 'hardware': False,
          'instruction': 'reach the red block', 'warmup': False}


def test_policy_publishes_chunks_only_while_active(ros):
    # Observations stay fresh across the transitions (a loaded machine may take seconds for one): a
    # request from the inactive time is answered on activation from the inputs published then.
    node = ros.make(PolicyNode, {**PARAMS, 'max_state_age': 30.0, 'max_image_age': 30.0}, lifecycle='unconfigured')
    robot = Robot(ros)
    assert ros.lifecycle_state(robot.node, POLICY) == 'unconfigured' and node.policy is None
    assert robot.node.count_subscribers('pi0/chunk_request') == 0

    assert ros.transition(robot.node, POLICY, 'configure')
    assert node.policy is not None                                   # the model is loaded
    assert ros.wait_for(lambda: robot.node.count_subscribers('pi0/chunk_request') == 1, 5)
    assert robot.ask(timeout=2.0)[1] is None                         # inactive: no inference, no chunk
    assert node.inferences == 0

    asked_while_inactive = robot.request_id
    assert ros.transition(robot.node, POLICY, 'activate')
    # The last request made while inactive is answered at once (the executor asks as soon as the policy
    # subscribes, usually before it is active), without being asked again.
    assert ros.wait_for(lambda: robot.chunks, 10) and robot.chunks[0].request_id == asked_while_inactive
    assert robot.ask()[1] is not None

    assert ros.transition(robot.node, POLICY, 'deactivate')
    before = len(robot.chunks)
    assert ros.wait_for(lambda: not node.busy, 10)                   # an inference in flight finishes ...
    ros.wait_for(lambda: False, 0.3)
    assert len(robot.chunks) == before                               # ... and its chunk is dropped
    inferences = node.inferences
    assert robot.ask(timeout=2.0)[1] is None
    assert len(robot.chunks) == before and node.inferences == inferences

    assert ros.transition(robot.node, POLICY, 'cleanup')
    assert node.policy is None and node.worker is None               # the model is freed
    assert ros.wait_for(lambda: robot.node.count_subscribers('pi0/chunk_request') == 0, 5)
    assert ros.transition(robot.node, POLICY, 'shutdown')
    assert ros.lifecycle_state(robot.node, POLICY) == 'finalized'


def test_the_instruction_service_answers_in_every_state(ros):
    from pi0_msgs.srv import SetInstruction
    node = ros.make(PolicyNode, PARAMS, lifecycle='unconfigured')
    probe = ros.node('probe')
    reply = ros.call(probe, SetInstruction, 'pi0/set_instruction', SetInstruction.Request(instruction='wave'))
    assert reply.success and node.instruction == 'wave'


def test_a_missing_checkpoint_folder_stops_the_node_at_start(ros, tmp_path):
    with pytest.raises(PolicyLoadError, match='checkpoint folder not found'):
        ros.make(PolicyNode, {**PARAMS, 'checkpoint': str(tmp_path / 'nonexistent')})


def test_a_folder_that_is_no_checkpoint_fails_configure(ros, tmp_path):
    node = ros.make(PolicyNode, {**PARAMS, 'checkpoint': str(tmp_path)}, lifecycle='unconfigured')
    probe = ros.node('probe')
    assert not ros.transition(probe, POLICY, 'configure')
    assert ros.lifecycle_state(probe, POLICY) == 'unconfigured'
    assert node.configure_error and node.policy is None
