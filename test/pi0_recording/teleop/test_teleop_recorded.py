"""Leader-arm teleop recorded like any other demonstration: a (fake) leader arm drives the
simulated UR5e through pi0/command and the driver, and the episode bag holds the commands, the
controller messages and the follower's joint states reaching the leader's pose."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from pi0_msgs.srv import StartEpisode, StopEpisode
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rosbags.highlevel import AnyReader
from sensor_msgs.msg import JointState

from pi0_common.lifecycle import bring_up
from pi0_common.qos import SENSOR_PUB_QOS
from pi0_drivers.driver_node import RobotDriverNode
from pi0_recording.recorder_node import RecorderNode
from pi0_recording.teleop.teleop_node import TeleopNode
from pi0_sim.simulator_node import SimulatorNode

JOINTS = ['shoulder_pan_joint', 'shoulder_lift_joint', 'elbow_joint', 'wrist_1_joint', 'wrist_2_joint',
          'wrist_3_joint']
LEADER = [0.5, -1.2, 1.2, -1.5, -1.57, 0.3]
LEADER_GRIPPER = 0.3                       # rad on the leader's handle (ALOHA constants: 0.8298 open)
GRIPPER = (0.8298 - LEADER_GRIPPER) / (0.8298 + 0.0552)     # unified: 0 open, 1 closed


def params(values):
    return [Parameter(k, value=v) for k, v in values.items()]


def call(client, request):
    assert client.wait_for_service(timeout_sec=10.0)
    done = threading.Event()
    future = client.call_async(request)
    future.add_done_callback(lambda _: done.set())
    assert done.wait(10.0)
    return future.result()


def test_leader_teleop_is_recorded_like_the_expert(tmp_path):
    context = rclpy.Context()
    rclpy.init(context=context)
    sim = SimulatorNode(context=context, parameter_overrides=params({'embodiment': 'ur5e'}))
    driver = RobotDriverNode(context=context, parameter_overrides=params({'embodiment': 'ur5e'}))
    assert bring_up(driver) == 'active'          # a managed node: configured and activated as the manager does
    recorder = RecorderNode(context=context, parameter_overrides=params({'output_dir': str(tmp_path),
                                                                         'disk_floor_mb': 0.0}))
    teleop = TeleopNode(context=context, parameter_overrides=params({'embodiment': 'ur5e'}))
    rig = Node('fake_leader', context=context)
    leader = rig.create_publisher(JointState, 'leader/joint_states', SENSOR_PUB_QOS)
    sim_executor, executor = SingleThreadedExecutor(context=context), SingleThreadedExecutor(context=context)
    sim_executor.add_node(sim)
    for node in (driver, recorder, teleop, rig):
        executor.add_node(node)
    threads = [threading.Thread(target=e.spin, daemon=True) for e in (sim_executor, executor)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 15.0
        while {'/joint_states', '/pi0/command', '/camera/base/image_raw'} - set(recorder.subscribed_topics):
            assert time.monotonic() < deadline, 'the recorder did not find the stack'
            time.sleep(0.05)
        started = call(rig.create_client(StartEpisode, 'pi0/recorder/start_episode'),
                       StartEpisode.Request(task='mirror the leader'))
        assert started.success, started.message
        deadline = time.monotonic() + 15.0
        while True:                                  # the operator moves the leader; the follower follows
            leader.publish(JointState(name=['gripper'] + JOINTS, position=[LEADER_GRIPPER] + LEADER))
            with sim.lock:
                world = sim.world
                at_goal = np.allclose(world.arm_positions('arm'), LEADER, atol=1e-3) \
                    and abs(world.gripper_closure('arm') - GRIPPER) < 0.021   # the Robotiq action's deadband
            if at_goal:
                break
            assert time.monotonic() < deadline, 'the follower never reached the leader'
            time.sleep(0.02)
        stopped = call(rig.create_client(StopEpisode, 'pi0/recorder/stop_episode'), StopEpisode.Request(success=True))
        assert stopped.ok
    finally:
        for e in (executor, sim_executor):
            e.shutdown(timeout_sec=2.0)
        for t in threads:
            t.join(timeout=5.0)
        for node in (sim, driver, recorder, teleop, rig):
            node.destroy_node()
        rclpy.try_shutdown(context=context)

    topics: dict[str, list] = {}
    with AnyReader([Path(stopped.bag_path)]) as reader:
        for c, _, raw in reader.messages():
            topics.setdefault(c.topic, []).append(reader.deserialize(raw, c.msgtype))
    commands = topics['/pi0/command']
    np.testing.assert_allclose(commands[-1].positions, LEADER + [GRIPPER], atol=1e-5)
    assert topics['/scaled_joint_trajectory_controller/joint_trajectory'][-1].joint_names == JOINTS
    state = topics['/joint_states'][-1]
    np.testing.assert_allclose([state.position[list(state.name).index(j)] for j in JOINTS], LEADER, atol=2e-3)
    # the gripper goes by the Robotiq action, within the controller's goal tolerance (0.02 of the stroke)
    knuckle = state.position[list(state.name).index('robotiq_85_left_knuckle_joint')]
    assert knuckle == pytest.approx(GRIPPER * 0.7929, abs=0.02 * 0.7929 + 1e-3)
    assert topics['/camera/base/image_raw'] and topics['/camera/wrist/image_raw']
