"""The UR arm's Robotiq gripper in gripper_action mode over real DDS: control_msgs/action/GripperCommand goals
from the driver (sent when the target moves past a deadband) and the simulated GripperActionController
serving them (a newer goal preempts an older one)."""

import pytest
from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient, ActionServer

from pi0_common.commands import MODE_ACTIVE, MODE_HOLD

from .harness import vendor

control = vendor('control_msgs', 'action')

ACTION = 'robotiq_gripper_controller/gripper_cmd'
CLOSED = 0.7929


def test_goals_follow_the_target_beyond_a_deadband(rig):
    r = rig('ur5e', sim=False, gripper_mode='gripper_action')
    goals = []

    def execute(handle):
        goals.append(handle.request.command)
        handle.succeed()
        return control.GripperCommand.Result(reached_goal=True)
    _server = ActionServer(r.probe, control.GripperCommand, ACTION, execute_callback=execute)
    client = r.node.arms[0].gripper.client
    assert r.ros.wait_for(client.server_is_ready, 5)
    for g in [0.5, 0.5, 0.51, 0.515, 1.0]:          # 0.01 and 0.015 strokes: inside the 0.02 deadband
        r.send(MODE_ACTIVE, r.rows(gripper=g))
    r.send(MODE_HOLD, r.rows(n=1, gripper=1.0))
    assert r.ros.wait_for(lambda: len(goals) == 2, 5)
    r.settle(0.2)
    assert [c.position for c in goals] == pytest.approx([0.5 * CLOSED, CLOSED], abs=1e-5)
    assert all(c.max_effort == 0.0 for c in goals)      # 0: the controller's default effort


def call(r, client, position):
    """Send a GripperCommand goal; returns the future of its result."""
    goal = control.GripperCommand.Goal()
    goal.command.position = position
    sent = client.send_goal_async(goal)
    assert r.ros.wait_for(sent.done, 5) and sent.result().accepted
    return sent.result().get_result_async()


def test_the_simulated_gripper_action_controller_moves_and_preempts(rig):
    r = rig('ur5e', gripper_mode='gripper_action')
    endpoint = r.sim.endpoints[0]
    client = ActionClient(r.probe, control.GripperCommand, ACTION)
    assert r.ros.wait_for(client.server_is_ready, 5)
    done = call(r, client, CLOSED)
    assert r.ros.wait_for(done.done, 5)
    assert done.result().status == GoalStatus.STATUS_SUCCEEDED
    assert done.result().result.reached_goal and done.result().result.position == pytest.approx(CLOSED, abs=0.01)
    first, second = call(r, client, 0.0), call(r, client, 0.4)    # the second preempts the first
    assert r.ros.wait_for(lambda: first.done() and second.done(), 5)
    assert first.result().status == GoalStatus.STATUS_ABORTED and not first.result().result.reached_goal
    assert second.result().status == GoalStatus.STATUS_SUCCEEDED
    assert second.result().result.position == pytest.approx(0.4, abs=0.01)
    assert endpoint.gripper_action.completed == ['reached', 'preempted', 'reached']
    # and the driver's own goals reach it: the executor's gripper value, mapped to knuckle radians
    r.send(MODE_ACTIVE, r.rows(gripper=0.25))
    assert r.ros.wait_for(lambda: len(endpoint.gripper_action.completed) == 4, 5)
    assert r.sim.world.gripper_closure('arm') == pytest.approx(0.25, abs=0.01)
