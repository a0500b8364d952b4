"""Executor switching modes, real-time-chunking requests and the run_instruction action, over real DDS with
the simulated UR5e driver; the test plays the policy."""

import threading
from pathlib import Path

import numpy as np
import pytest
from pi0_msgs.action import RunInstruction
from pi0_msgs.msg import ActionChunk, ChunkRequest, ExecutorCommand
from rclpy.action import ActionClient
from std_msgs.msg import String

import pi0_common
from pi0_common.embodiment import load_embodiment
from pi0_common.messages import make_chunk_msg, request_from_msg, to_duration_msg, to_sec
from pi0_common.qos import CHUNK_QOS, LATCHED_QOS
from pi0_drivers.driver_node import RobotDriverNode
from pi0_drivers.executor_node import ChunkExecutorNode
from pi0_sim.simulator_node import SimulatorNode

DT = 0.05


def setup(ros, executor_embodiment='ur5e', **executor_params):
    emb = load_embodiment('ur5e')
    ros.make(SimulatorNode, {'embodiment': 'ur5e'})
    ros.make(RobotDriverNode, {'embodiment': 'ur5e'})
    ros.make(ChunkExecutorNode, {'embodiment': executor_embodiment, 'hardware': False, **executor_params})
    probe = ros.node('probe')
    commands = ros.collect(probe, ExecutorCommand, 'pi0/command', CHUNK_QOS)
    requests = ros.collect(probe, ChunkRequest, 'pi0/chunk_request', CHUNK_QOS)
    pub = probe.create_publisher(ActionChunk, 'pi0/action_chunk', CHUNK_QOS)
    assert ros.wait_for(lambda: commands, 10)
    assert ros.wait_for(lambda: pub.get_subscription_count() > 0, 5)     # discovered: nothing is lost
    now = lambda: probe.get_clock().now().nanoseconds * 1e-9   # noqa: E731
    return emb, probe, commands, requests, pub, now


def constant(emb, offset):
    actions = np.tile(emb.home, (50, 1))
    actions[:, 0] += offset
    return actions


def active_values(commands, chunk_id):
    return [c.positions[0] for c in commands if c.mode == ExecutorCommand.MODE_ACTIVE and c.chunk_id == chunk_id]


def agile_ur5e(tmp_path) -> str:
    """The UR5e with joint accelerations far above its own, for the executor only: what a switching mode
    does to the commands shows without the acceleration ramps of the real limits blurring it."""
    path = tmp_path / 'ur5e_agile.yaml'
    text = (Path(pi0_common.__file__).parent / 'embodiments' / 'ur5e.yaml').read_text()
    path.write_text(text.replace('max_acceleration: 5.0', 'max_acceleration: 1000.0'))
    return str(path)


@pytest.mark.parametrize('mode', ['replace', 'crossfade'])
def test_switching_from_one_chunk_to_the_next(ros, mode, tmp_path):
    emb, probe, commands, _, pub, now = setup(ros, agile_ur5e(tmp_path), switching=mode, crossfade_steps=6)
    pub.publish(make_chunk_msg(emb, 1, now(), DT, constant(emb, 0.0), 0.05, 'x'))
    assert ros.wait_for(lambda: len(active_values(commands, 1)) >= 4, 5)
    pub.publish(make_chunk_msg(emb, 2, now(), DT, constant(emb, 0.1), 0.05, 'x'))
    assert ros.wait_for(lambda: len(active_values(commands, 2)) >= 10, 5)
    cmds = [c for c in commands if c.mode == ExecutorCommand.MODE_ACTIVE and c.chunk_id == 2]
    values = np.array([c.positions[0] for c in cmds]) - emb.home[0]
    stamps = np.array([to_sec(c.header.stamp) for c in cmds])
    if mode == 'replace':
        # straight to the new chunk, only as fast as the velocity limit allows (pi * 0.05 > 0.1)
        assert values[0] == pytest.approx(0.1, abs=1e-5)
    else:
        # a linear blend over 6 steps (0.3 s) from the switch: value = 0.1 * (t - t_switch) / 0.3, then 0.1;
        # checked against each command's own stamp, so late ticks do not matter
        assert 0.0 < values[0] < 0.1
        t_switch = stamps[0] - values[0] / 0.1 * 0.3
        expected = 0.1 * np.clip((stamps - t_switch) / 0.3, 0.0, 1.0)
        assert values == pytest.approx(expected, abs=2e-4)
        assert np.all(np.diff(values) >= -1e-6) and values[-1] == pytest.approx(0.1, abs=1e-5)


def test_rtc_requests_carry_what_will_be_executed(ros):
    emb, probe, commands, requests, pub, now = setup(ros, switching='rtc', rtc_execution_horizon=5)
    ramp = np.tile(emb.home, (50, 1))
    ramp[:, 0] += 0.004 * np.arange(50)
    for chunk_id in (1, 2):       # answer two requests; the second gives a warm latency estimate
        assert ros.wait_for(lambda c=chunk_id: len(requests) >= c, 5)
        stamp = now()
        pub.publish(make_chunk_msg(emb, chunk_id, stamp, DT, ramp, 0.05, 'x', request_id=requests[-1].request_id))
        assert ros.wait_for(lambda c=chunk_id: active_values(commands, c), 5)
    n = len(requests)
    assert ros.wait_for(lambda: len(requests) > n and len(requests[-1].committed_actions) > 0, 5)
    req = request_from_msg(requests[-1], emb)
    assert req.execution_horizon == 5 and len(req.committed) == req.inference_delay_steps + 5
    # the committed rows are chunk 2 from committed_start on, on the chunk's own grid
    k = (req.committed_start - stamp) / DT
    assert req.committed[:, 0] == pytest.approx(emb.home[0] + 0.004 * (k + np.arange(len(req.committed))),
                                                abs=1e-4)


def test_run_instruction_executes_only_matching_chunks_and_reports(ros):
    emb, probe, commands, requests, pub, now = setup(ros, start_paused=True)
    instructions = ros.collect(probe, String, 'pi0/instruction', LATCHED_QOS)
    stop = threading.Event()

    def policy():                  # answers requests with chunks for both instructions
        served = 0
        while not stop.is_set():
            if len(requests) > served:
                served = len(requests)
                for i, text in enumerate(('wrong task', instructions[-1].data if instructions else '')):
                    pub.publish(make_chunk_msg(emb, 2 * served + i, now() - 0.01, DT, constant(emb, 0.0), 0.05,
                                               text, request_id=requests[-1].request_id))
                    stop.wait(0.01)
            stop.wait(0.02)
    thread = threading.Thread(target=policy, daemon=True)
    thread.start()
    try:
        client = ActionClient(probe, RunInstruction, 'pi0/run_instruction')
        assert client.wait_for_server(timeout_sec=5)
        feedback = []
        goal = RunInstruction.Goal(instruction='reach the red block', time_limit=to_duration_msg(1.5))
        future = client.send_goal_async(goal, feedback_callback=lambda f: feedback.append(f.feedback))
        assert ros.wait_for(future.done, 5) and future.result().accepted
        result_future = future.result().get_result_async()
        assert ros.wait_for(result_future.done, 10)
        result = result_future.result().result
    finally:
        stop.set()
        thread.join()
    assert instructions and instructions[-1].data == 'reach the red block'
    assert result.outcome == RunInstruction.Result.OUTCOME_TIME_LIMIT
    assert result.chunks_executed >= 1 and result.elapsed >= 1.5
    assert feedback and feedback[-1].chunks_executed >= 1
    executed = {c.chunk_id for c in commands if c.mode == ExecutorCommand.MODE_ACTIVE}
    assert executed and all(cid % 2 == 1 for cid in executed)        # only chunks for the goal's instruction
    # after the goal the executor pauses again
    assert ros.wait_for(lambda: commands[-1].mode == ExecutorCommand.MODE_HOLD, 3)
    bad = RunInstruction.Goal(instruction=' ', time_limit=to_duration_msg(1.0))
    rejected = client.send_goal_async(bad)
    assert ros.wait_for(rejected.done, 5) and not rejected.result().accepted
    assert to_sec(goal.time_limit) == pytest.approx(1.5)
