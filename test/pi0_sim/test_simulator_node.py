"""The simulator node over real DDS: it publishes what the robot's drivers publish and the task state,
resets reproducibly by seed, and its start spread can be changed on the running node."""

import numpy as np
import pytest
from pi0_msgs.msg import SimTaskState
from pi0_msgs.srv import ResetSimulation
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image, JointState

from pi0_common.qos import LATCHED_QOS, SENSOR_QOS
from pi0_sim.simulator_node import SimulatorNode


@pytest.fixture
def sim(ros):
    node = ros.make(SimulatorNode, {'embodiment': 'ur5e', 'seed': 4, 'camera_rate_hz': 10.0})
    probe = ros.node('probe')
    out = {'joints': ros.collect(probe, JointState, 'joint_states', SENSOR_QOS),
           'images': ros.collect(probe, Image, 'camera/base/image_raw', SENSOR_QOS),
           'task': ros.collect(probe, SimTaskState, 'sim/task_state', LATCHED_QOS)}
    assert ros.wait_for(lambda: out['joints'] and out['images'] and out['task'], 10)
    return ros, node, probe, out


def blocks(msg: SimTaskState) -> dict:
    return {n: (p.x, p.y, p.z) for n, p in zip(msg.object_names, msg.object_positions, strict=True)}


def reset(ros, probe, out, seed=-1) -> tuple[ResetSimulation.Response, SimTaskState]:
    count = len(out['task'])
    response = ros.call(probe, ResetSimulation, 'sim/reset', ResetSimulation.Request(seed=seed))
    assert ros.wait_for(lambda: len(out['task']) > count and out['task'][-1].episode == response.episode, 5)
    return response, out['task'][-1]


def test_it_publishes_the_robot_and_the_task(sim):
    ros, node, probe, out = sim
    joints = out['joints'][-1]
    assert joints.name[:6] == [j.name for j in node.embodiment.arms[0].joints]
    image = out['images'][-1]
    assert (image.width, image.height, image.encoding) == (224, 224, 'rgb8')
    task = out['task'][-1]
    assert task.task == 'reach_blocks' and sorted(task.object_names) == ['blue', 'red']
    assert list(task.arm_names) == ['arm'] and list(task.reached) == []
    assert task.object_size == pytest.approx(0.045)


def test_reset_gives_a_new_layout_and_a_seed_repeats_one(sim):
    ros, node, probe, out = sim
    first, a = reset(ros, probe, out, seed=11)
    _, b = reset(ros, probe, out)
    again, c = reset(ros, probe, out, seed=11)
    assert first.success and again.episode == first.episode + 2
    assert blocks(a) == blocks(c) and blocks(a) != blocks(b)


def test_start_spread_is_set_on_the_running_node(sim):
    ros, node, probe, out = sim
    home = np.array([j.home for j in node.embodiment.arms[0].joints])

    def arm_after_reset():
        reset(ros, probe, out)
        count = len(out['joints'])
        assert ros.wait_for(lambda: len(out['joints']) > count + 3, 5)
        return np.array(out['joints'][-1].position[:6])
    assert np.allclose(arm_after_reset(), home, atol=1e-6)
    assert node.set_parameters([Parameter('start_spread', value=0.3)])[0].successful
    spread = arm_after_reset() - home
    assert np.all(np.abs(spread) <= 0.3 + 1e-6) and np.max(np.abs(spread)) > 0.01
    assert not node.set_parameters([Parameter('start_spread', value=2.0)])[0].successful
