"""Franka FR3 over real DDS: JointTrajectory to fr3_arm_controller, and the hand through franka_gripper
move/grasp goals, one per hysteresis transition, served by a probe (the driver's side) or by the
simulated franka_gripper (the simulator's side)."""

import pytest
from rclpy.action import ActionServer
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory

from pi0_common.commands import MODE_ACTIVE, MODE_HOLD
from pi0_common.messages import to_sec
from pi0_common.qos import SENSOR_QOS
from pi0_drivers.interfaces.franka import GripperHysteresis

from .harness import vendor

franka = vendor('franka_msgs', 'action')

FR3 = [f'fr3_joint{i}' for i in range(1, 8)]


def test_hysteresis_gives_one_event_per_transition_and_none_in_the_dead_band():
    h = GripperHysteresis(close_above=0.6, open_below=0.4)
    values = [0.0, 0.2, 0.5, 0.59, 0.61, 0.7, 0.55, 0.45, 0.41, 0.39, 0.3, 0.45, 0.62]
    events = [(v, e) for v in values if (e := h.update(v)) is not None]
    assert events == [(0.0, 'open'), (0.61, 'close'), (0.39, 'open'), (0.62, 'close')]
    chatter = GripperHysteresis(0.6, 0.4)
    assert [chatter.update(v) for v in [0.5, 0.58, 0.42, 0.59, 0.41, 0.5]] == [None] * 6   # unknown, in band
    with pytest.raises(ValueError, match='open threshold'):
        GripperHysteresis(close_above=0.4, open_below=0.6)


def probe_gripper(r):
    """Probe franka_gripper move/grasp servers that record goals and succeed."""
    goals = []

    def serve(kind, action_type):
        def execute(handle):
            goals.append((kind, handle.request))
            handle.succeed()
            return action_type.Result(success=True)
        return ActionServer(r.probe, action_type, f'franka_gripper/{kind}', execute_callback=execute)
    servers = [serve('move', franka.Move), serve('grasp', franka.Grasp)]
    hand = r.node.arms[0].hand
    assert r.ros.wait_for(lambda: hand.move.server_is_ready() and hand.grasp.server_is_ready(), 5)
    return goals, servers


def test_arm_trajectories_and_one_hand_goal_per_transition(rig):
    r = rig('franka', sim=False)
    traj = r.collect(JointTrajectory, 'fr3_arm_controller/joint_trajectory')
    r.wait_subscribed('fr3_arm_controller/joint_trajectory')
    goals, _servers = probe_gripper(r)
    # the gripper dim hovers around the close threshold (0.6) and the open one (0.4): no chatter
    for g in [0.1, 0.3, 0.55, 0.61, 0.58, 0.62, 0.59, 0.65, 0.5, 0.45, 0.41, 0.42, 0.3, 0.39, 0.35]:
        r.send(MODE_ACTIVE, r.rows(gripper=g))
    assert r.ros.wait_for(lambda: len(goals) == 3, 5)
    r.settle(0.2)
    assert [k for k, _ in goals] == ['move', 'grasp', 'move']
    move, grasp = goals[0][1], goals[1][1]
    assert move.width == pytest.approx(0.08) and move.speed == pytest.approx(0.1)
    assert grasp.width == pytest.approx(0.04) and grasp.force == pytest.approx(20.0)
    assert grasp.epsilon.inner == pytest.approx(0.04) and grasp.epsilon.outer == pytest.approx(0.04)
    # the arm: one segment per active command, stamp 0 ("now"), strictly increasing times
    assert len(traj) == 15 and traj[-1].joint_names == FR3
    assert to_sec(traj[-1].header.stamp) == 0.0
    times = [to_sec(p.time_from_start) for p in traj[-1].points]
    assert times[0] > 0 and all(b > a for a, b in zip(times, times[1:], strict=False))
    assert list(traj[-1].points[0].positions) == pytest.approx(r.rows()[0, :7], abs=1e-5)
    # hold: one point, once; no new hand goal while the held gripper stays put
    for _ in range(3):
        r.send(MODE_HOLD, r.rows(n=1, gripper=0.35))
    r.settle(0.2)
    assert len(traj) == 16 and len(traj[-1].points) == 1 and len(goals) == 3


def test_a_transition_waits_for_the_gripper_server_and_is_sent_once(rig):
    r = rig('franka', sim=False)
    hand = r.node.arms[0].hand
    assert not hand.move.server_is_ready() and not hand.grasp.server_is_ready()
    r.send(MODE_ACTIVE, r.rows(gripper=0.9))       # nobody serves franka_gripper yet
    assert hand.pending == 'close' and hand.goals_sent == []
    goals, _servers = probe_gripper(r)
    r.send(MODE_ACTIVE, r.rows(gripper=0.9))
    r.send(MODE_ACTIVE, r.rows(gripper=0.95))
    assert r.ros.wait_for(lambda: len(goals) == 1, 5)
    r.settle(0.2)
    assert [k for k, _ in goals] == ['grasp'] and hand.pending is None


def test_the_simulated_franka_gripper_moves_the_fingers(rig):
    r = rig('franka')
    states = r.collect(JointState, r.emb.arms[0].joint_state_topic, SENSOR_QOS)
    hand = r.node.arms[0].hand
    assert r.ros.wait_for(lambda: hand.move.server_is_ready() and hand.grasp.server_is_ready(), 5)

    def finger():
        msgs = [m for m in states if 'fr3_finger_joint1' in m.name]      # the bridge passes arm and hand apart
        return dict(zip(msgs[-1].name, msgs[-1].position, strict=True))['fr3_finger_joint1'] if msgs else 1.0
    endpoint = r.sim.endpoints[0]
    r.send(MODE_ACTIVE, r.rows(gripper=0.9))        # grasp: closes (no contacts in the simulator)
    assert r.ros.wait_for(lambda: states and finger() < 1e-3, 5)
    assert r.ros.wait_for(lambda: endpoint.grasp_server.completed == ['reached'], 2)
    r.send(MODE_ACTIVE, r.rows(gripper=0.1))        # move: opens to 0.08 m, 0.04 per finger
    assert r.ros.wait_for(lambda: finger() > 0.04 - 1e-3, 5)
    assert r.ros.wait_for(lambda: endpoint.move_server.completed == ['reached'], 2)
    assert hand.goals_sent == ['close', 'open']


# The joint states, where franka_ros2 publishes them (frankarobotics/franka_ros2 jazzy 29cb85a): with
# franka_fr3_moveit_config's moveit.launch.py, joint_state_publisher merges franka/joint_states and
# fr3_gripper/joint_states into joint_states (:246-253), but the franka_gripper node publishes its fingers on
# its own ~/joint_states = franka_gripper/joint_states (franka_gripper/src/gripper_action_server.cpp:126-127,
# 267-277: fr3_finger_joint1/2, half the width each), so joint_states carries the fingers at their default 0.
FINGERS = ['fr3_finger_joint1', 'fr3_finger_joint2']


def vendor_states(names, positions):
    return JointState(name=names, position=positions, velocity=[0.0] * len(names))


def test_the_finger_is_read_from_franka_gripper_not_from_the_merged_zero(rig):
    r = rig('franka', sim=False)
    topic = r.emb.arms[0].joint_state_topic                 # what the executor and the recorder read
    states = r.collect(JointState, topic, SENSOR_QOS)
    merged = r.probe.create_publisher(JointState, 'joint_states', 10)
    gripper = r.probe.create_publisher(JointState, 'franka_gripper/joint_states', 10)
    assert r.ros.wait_for(lambda: r.probe.count_subscribers('franka_gripper/joint_states') >= 1, 5)
    arm = [0.1 * i for i in range(7)]
    for _ in range(10):                                     # as the vendor launch: both, over and over
        merged.publish(vendor_states(FR3 + FINGERS, arm + [0.0, 0.0]))
        gripper.publish(vendor_states(FINGERS, [0.03, 0.03]))
        r.settle(0.05)
    assert r.ros.wait_for(lambda: len(states) >= 4, 5)
    latest = {}
    for msg in states:
        latest.update(zip(msg.name, msg.position, strict=True))
    assert latest['fr3_finger_joint1'] == pytest.approx(0.03)
    assert [latest[n] for n in FR3] == pytest.approx(arm)
    assert all(m.position[m.name.index('fr3_finger_joint1')] == pytest.approx(0.03)
               for m in states if 'fr3_finger_joint1' in m.name)


def test_the_simulated_franka_ros2_publishes_where_the_vendor_does(rig):
    r = rig('franka')
    hand = r.collect(JointState, 'franka_gripper/joint_states', SENSOR_QOS)
    merged = r.collect(JointState, 'joint_states', SENSOR_QOS)
    arm = r.collect(JointState, 'franka/joint_states', SENSOR_QOS)
    assert r.ros.wait_for(lambda: hand and merged and arm, 5)
    assert hand[-1].name == FINGERS and hand[-1].position[0] == hand[-1].position[1] == pytest.approx(0.04, abs=1e-3)
    assert merged[-1].name == FR3 + FINGERS and list(merged[-1].position[7:]) == [0.0, 0.0]
    assert arm[-1].name == FR3
    r.settle(1.0)

    def shortest_interval(msgs):
        stamps = [to_sec(m.header.stamp) for m in msgs]
        return min(b - a for a, b in zip(stamps, stamps[1:], strict=False))
    # at most 15 Hz and 30 Hz, as the vendor's (the broadcaster: every simulation step)
    assert shortest_interval(hand) >= 1 / 15 - 1e-3 and shortest_interval(merged) >= 1 / 30 - 1e-3
    assert shortest_interval(arm) < 1 / 30
