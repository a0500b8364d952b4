"""The UR arm's Robotiq gripper over real DDS, as ros2_robotiq_gripper runs it (PickNikRobotics/
ros2_robotiq_gripper main 3b6cf8f, robotiq_description/config/robotiq_controllers.yaml): the controller is
robotiq_gripper_controller, a parallel_gripper_action_controller serving control_msgs/action/
ParallelGripperCommand on ~/gripper_cmd (ros2_controllers kilted 0f8eb14,
parallel_gripper_action_controller_impl.hpp:409-410); on Humble a GripperActionController serving
GripperCommand. No robotiq_gripper_controller/commands topic exists."""

import pytest
import rclpy
from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient, ActionServer

from pi0_common.commands import MODE_ACTIVE, MODE_HOLD
from pi0_common.embodiment import load_embodiment
from pi0_drivers.driver_node import RobotDriverNode
from pi0_drivers.interfaces.base import InterfaceError

from .harness import variant, vendor

control = vendor('control_msgs', 'action')

ACTION = 'robotiq_gripper_controller/gripper_cmd'       # robotiq_controllers.yaml:7 + "~/gripper_cmd"
KNUCKLE = 'robotiq_85_left_knuckle_joint'
CLOSED = 0.7929


def serve(r, action_type, goals):
    """A probe action server that records the goals and succeeds."""
    def execute(handle):
        goals.append(handle.request.command)
        handle.succeed()
        return action_type.Result(reached_goal=True)
    return ActionServer(r.probe, action_type, ACTION, execute_callback=execute)


def test_the_vendor_launch_has_no_forward_gripper_topic_and_the_action_is_the_default():
    for name in ('ur5e', 'ur5e_bimanual'):
        for arm in load_embodiment(name).arms:
            assert 'gripper_topic' not in arm.interface
            assert arm.interface['gripper_mode'] == 'parallel_gripper_action'
            assert arm.interface['gripper_action'].endswith(ACTION)


def test_parallel_goals_leave_effort_and_speed_to_the_controller(rig):
    # parallel_gripper_action_controller_impl.hpp:141-156: an empty effort (velocity) list means the
    # controller's own max_effort (max_velocity); position must hold exactly one value (:114-124)
    r = rig('ur5e', sim=False)
    goals = []
    _server = serve(r, control.ParallelGripperCommand, goals)
    assert r.ros.wait_for(r.node.arms[0].gripper.client.server_is_ready, 5)
    for g in [0.5, 0.5, 0.51, 0.515, 1.0]:          # 0.01 and 0.015 strokes: inside the 0.02 deadband
        r.send(MODE_ACTIVE, r.rows(gripper=g))
    r.send(MODE_HOLD, r.rows(n=1, gripper=1.0))
    assert r.ros.wait_for(lambda: len(goals) == 2, 5)
    r.settle(0.2)
    assert [list(c.position) for c in goals] == [pytest.approx([0.5 * CLOSED], abs=1e-5),
                                                 pytest.approx([CLOSED], abs=1e-5)]
    assert all(list(c.name) == [KNUCKLE] and list(c.effort) == [] and list(c.velocity) == [] for c in goals)


def test_humble_gripper_command_goals_never_carry_zero_effort(rig):
    # gripper_action_controller_impl.hpp:98 (humble) takes max_effort as given; the effort adapter clamps
    # its output to it (hardware_interface_adapter.hpp:169-173): 0 would grip with no force
    r = rig('ur5e', sim=False, gripper_mode='gripper_action')
    goals = []
    _server = serve(r, control.GripperCommand, goals)
    assert r.ros.wait_for(r.node.arms[0].gripper.client.server_is_ready, 5)
    r.send(MODE_ACTIVE, r.rows(gripper=0.5))
    assert r.ros.wait_for(lambda: goals, 5)
    assert goals[0].position == pytest.approx(0.5 * CLOSED, abs=1e-5)
    assert goals[0].max_effort == pytest.approx(50.0)       # robotiq_controllers.yaml:18


def test_a_zero_max_effort_is_refused(ros, tmp_path):
    path = variant('ur5e', tmp_path, gripper_mode='gripper_action', gripper_max_effort=0.0)
    with pytest.raises(InterfaceError, match='gripper_max_effort must be positive'):
        ros.make(RobotDriverNode, {'embodiment': path})


def test_a_missing_or_wrong_action_server_is_an_error_naming_it(rig):
    r = rig('ur5e', sim=False)
    gripper = r.node.arms[0].gripper
    r.send(MODE_ACTIVE, r.rows(gripper=0.25))
    assert 'no action server' in gripper.problem and f'/{ACTION}' in gripper.problem
    assert 'ParallelGripperCommand' in gripper.problem and gripper.problem in r.node.arms[0].describe()
    # the other controller on that name, in a process of its own (one DDS participant refuses two types)
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        humble = rclpy.create_node('humble_gripper_controller', namespace=r.namespace, context=context)
        _server = ActionServer(humble, control.GripperCommand, ACTION, execute_callback=lambda handle: None)
        def humble_seen():        # the driver's own client puts its ParallelGripperCommand type there too
            types = dict(r.node.get_service_names_and_types()).get(f'{r.namespace}/{ACTION}/_action/send_goal', [])
            return 'control_msgs/action/GripperCommand_SendGoal' in types
        assert r.ros.wait_for(humble_seen, 5)
        r.send(MODE_ACTIVE, r.rows(gripper=0.25))
        assert 'serves control_msgs/action/GripperCommand' in gripper.problem
        assert 'gripper_mode gripper_action' in gripper.problem and gripper.goals == 0
    finally:
        rclpy.shutdown(context=context)


def call(r, client, positions):
    """Send a ParallelGripperCommand goal; returns (accepted, the future of its result)."""
    goal = control.ParallelGripperCommand.Goal()
    goal.command.position = positions
    sent = client.send_goal_async(goal)
    assert r.ros.wait_for(sent.done, 5)
    handle = sent.result()
    return handle.accepted, (handle.get_result_async() if handle.accepted else None)


def test_the_simulated_parallel_gripper_controller(rig):
    r = rig('ur5e')
    endpoint = r.sim.endpoints[0]
    client = ActionClient(r.probe, control.ParallelGripperCommand, ACTION)
    assert r.ros.wait_for(client.server_is_ready, 5)
    assert call(r, client, [0.1, 0.2])[0] is False               # :114-124, exactly one position
    accepted, done = call(r, client, [CLOSED])
    assert accepted and r.ros.wait_for(done.done, 5)
    assert done.result().status == GoalStatus.STATUS_SUCCEEDED
    assert done.result().result.reached_goal
    assert done.result().result.state.position[0] == pytest.approx(CLOSED, abs=0.02)   # goal_tolerance 0.02
    (_, first), (_, second) = call(r, client, [0.0]), call(r, client, [0.4])
    assert r.ros.wait_for(lambda: first.done() and second.done(), 5)
    assert first.result().status == GoalStatus.STATUS_CANCELED   # preempted: the controller cancels it
    assert second.result().status == GoalStatus.STATUS_SUCCEEDED
    assert endpoint.gripper_action.completed == ['reached', 'preempted', 'reached']
    # and the driver's own goals reach it: the executor's gripper value, mapped to knuckle radians
    r.send(MODE_ACTIVE, r.rows(gripper=0.25))
    assert r.ros.wait_for(lambda: len(endpoint.gripper_action.completed) == 4, 5)
    assert r.sim.world.gripper_closure('arm') == pytest.approx(0.25, abs=0.03)


def test_the_simulated_humble_controller_serves_gripper_command(rig, tmp_path):
    r = rig(variant('ur5e', tmp_path, gripper_mode='gripper_action'))
    endpoint = r.sim.endpoints[0]
    assert endpoint.gripper_action.action_type is control.GripperCommand
    r.send(MODE_ACTIVE, r.rows(gripper=1.0))
    assert r.ros.wait_for(lambda: endpoint.gripper_action.completed == ['reached'], 5)
    assert r.sim.world.gripper_closure('arm') == pytest.approx(1.0, abs=0.02)
