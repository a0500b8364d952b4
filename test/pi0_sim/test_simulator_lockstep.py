"""The simulator node in lock-step (clock:=lockstep) over real DDS, with a controller node on simulated time
(use_sim_time) in the executor's place: /clock advances one control tick per command, so the controller
ticks at every simulated tick, none skipped and none twice, with the joint states of that tick; time stands
still while a chunk request is outstanding, however long the answer takes; when the commands stop, time
goes on at real-time pace after the command timeout."""

import time

import pytest
from pi0_msgs.msg import ActionChunk, ChunkRequest, ExecutorCommand
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, JointState

from pi0_common.messages import to_sec, to_time_msg
from pi0_common.qos import CHUNK_QOS, SENSOR_QOS
from pi0_sim.simulator_node import SimulatorNode

TICK = 0.05             # ur5e: 20 Hz


class Controller:
    """Ticks on simulated time at the control rate, as the executor does, and commands every tick."""

    def __init__(self, ros):
        self.node = ros.node('controller', parameter_overrides=[Parameter('use_sim_time', value=True)])
        self.commands = self.node.create_publisher(ExecutorCommand, 'pi0/command', CHUNK_QOS)
        self.requests = self.node.create_publisher(ChunkRequest, 'pi0/chunk_request', CHUNK_QOS)
        self.chunks = self.node.create_publisher(ActionChunk, 'pi0/action_chunk', CHUNK_QOS)
        self.stamps: list[float] = []
        self.on = True
        self.node.create_timer(TICK, self._tick)

    def _tick(self) -> None:
        now = self.node.get_clock().now().nanoseconds * 1e-9
        if not self.on or now == 0.0:
            return
        msg = ExecutorCommand()
        msg.header.stamp = to_time_msg(now)
        self.commands.publish(msg)
        self.stamps.append(now)


@pytest.fixture
def lockstep(ros):
    sim = ros.make(SimulatorNode, {'embodiment': 'ur5e', 'clock': 'lockstep', 'camera_rate_hz': 5.0,
                                   'lockstep_command_timeout': 0.3})
    probe = ros.node('probe')
    clocks = ros.collect(probe, Clock, '/clock', 10)
    joints = ros.collect(probe, JointState, 'joint_states', SENSOR_QOS)
    controller = Controller(ros)
    assert ros.wait_for(lambda: len(controller.stamps) >= 20, 30), 'the controller never ticked on /clock'
    return ros, sim, controller, clocks, joints


def test_time_advances_one_tick_per_command(lockstep):
    ros, sim, controller, clocks, joints = lockstep
    assert ros.wait_for(lambda: len(controller.stamps) >= 60, 30)
    stamps = controller.stamps[5:60]          # the first ones: the timer starting on the jump from time 0
    steps = [round((b - a) / TICK, 3) for a, b in zip(stamps, stamps[1:], strict=False)]
    assert steps == [1.0] * len(steps), 'the controller missed a tick or saw one twice'
    ticks = [to_sec(c.clock) for c in clocks]
    assert all(round((b - a) / TICK, 3) == 1.0 for a, b in zip(ticks, ticks[1:], strict=False))
    # Every command was for a tick the simulator published, joint states included.
    assert set(round(s, 4) for s in stamps) <= set(round(t, 4) for t in ticks)
    assert set(round(s, 4) for s in stamps) <= set(round(to_sec(j.header.stamp), 4) for j in joints)


def test_time_stands_still_while_a_chunk_request_is_outstanding(lockstep):
    ros, sim, controller, clocks, joints = lockstep
    controller.chunks.publish(ActionChunk(request_id=0))     # the policy is up
    assert ros.wait_for(lambda: sim.lockstep._policy_answers, 5)
    controller.requests.publish(ChunkRequest(request_id=3))
    assert ros.wait_for(lambda: sim.lockstep.pending_requests == 1, 5)
    frozen_at, count = sim.lockstep.time, len(controller.stamps)
    time.sleep(1.0)                           # inference that takes a second here takes no simulated time
    assert sim.lockstep.time == frozen_at and len(controller.stamps) <= count + 1
    controller.chunks.publish(ActionChunk(request_id=3))
    assert ros.wait_for(lambda: len(controller.stamps) >= count + 10, 10), 'time did not go on after the chunk'


def test_when_the_commands_stop_time_goes_on_at_real_time_pace(lockstep):
    ros, sim, controller, clocks, joints = lockstep
    controller.on = False
    stopped = len(clocks)
    assert ros.wait_for(lambda: len(clocks) >= stopped + 5, 10), 'time stood still without commands'
    assert not sim.lockstep._expecting
    controller.on = True                       # and commands are waited for again
    assert ros.wait_for(lambda: sim.lockstep._expecting, 5)


def test_while_time_waits_for_the_policy_the_ticks_sensors_are_sent_again(lockstep):
    """A subscriber that matched late (the policy at start-up) still gets the frozen tick's joint states and
    images: the policy would otherwise wait for sensors that only come once time moves on."""
    ros, sim, controller, clocks, joints = lockstep
    controller.chunks.publish(ActionChunk(request_id=0))
    assert ros.wait_for(lambda: sim.lockstep._policy_answers, 5)
    controller.requests.publish(ChunkRequest(request_id=5))
    assert ros.wait_for(lambda: sim.lockstep.pending_requests == 1, 5)
    frozen_at = sim.lockstep.time
    late = ros.node('late_subscriber')
    late_joints = ros.collect(late, JointState, 'joint_states', SENSOR_QOS)
    late_images = ros.collect(late, Image, 'camera/base/image_raw', SENSOR_QOS)
    assert ros.wait_for(lambda: late_joints and late_images, 10), 'the frozen tick\'s sensors were not sent again'
    assert sim.lockstep.time == frozen_at
    assert round(to_sec(late_joints[-1].header.stamp), 4) == round(frozen_at, 4)
    controller.chunks.publish(ActionChunk(request_id=5))
