"""The recorder node in this process: bad service calls are refused with a message, stop with
success/discard, the disk floor stops an episode cleanly and refuses new ones until space is back,
and bad parameters keep the node from starting."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import yaml
from pi0_msgs.srv import StartEpisode, StopEpisode
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rosbags.highlevel import AnyReader
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from pi0_common.embodiment import EmbodimentError
from pi0_common.params import ParameterError
from pi0_common.qos import SENSOR_PUB_QOS
from pi0_recording.recorder_node import RecorderNode


class Harness:
    """A recorder and a client node spinning in a background thread."""

    def __init__(self, context, out: Path, **params):
        values = {'output_dir': str(out), 'disk_floor_mb': 0.0, 'disk_check_period': 0.05,
                  'discovery_period': 0.1, **params}
        self.recorder = RecorderNode(context=context, parameter_overrides=[Parameter(k, value=v)
                                                                           for k, v in values.items()])
        self.client = Node('recorder_test_client', context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.recorder)
        self.executor.add_node(self.client)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()
        self.start_client = self.client.create_client(StartEpisode, 'pi0/recorder/start_episode')
        self.stop_client = self.client.create_client(StopEpisode, 'pi0/recorder/stop_episode')
        assert self.start_client.wait_for_service(timeout_sec=5.0)

    def call(self, client, request):
        done = threading.Event()
        future = client.call_async(request)
        future.add_done_callback(lambda _: done.set())
        assert done.wait(10.0), 'service call timed out'
        return future.result()

    def start(self, task=''):
        return self.call(self.start_client, StartEpisode.Request(task=task))

    def stop(self, success=False, discard=False):
        return self.call(self.stop_client, StopEpisode.Request(success=success, discard=discard))

    def close(self):
        self.executor.shutdown(timeout_sec=2.0)
        self.thread.join(timeout=5.0)
        self.recorder.destroy_node()
        self.client.destroy_node()


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, 'condition not reached in time'
        time.sleep(0.02)


def metadata(bag: str) -> dict:
    return yaml.safe_load((Path(bag) / 'metadata.yaml').read_text())['rosbag2_bagfile_information']


def test_bad_calls_are_refused_and_good_ones_record(context, tmp_path):
    h = Harness(context, tmp_path)
    try:
        r = h.stop()
        assert not r.ok and 'no episode is running' in r.message
        r = h.start('   ')
        assert not r.success and 'no task' in r.message
        assert not list(tmp_path.iterdir())                            # a refused start leaves nothing

        first = h.start('reach the blue block')
        assert first.success and first.episode_index == 0 and Path(first.bag_path).parent == tmp_path
        again = h.start('reach the red block')
        assert not again.success and 'episode 0 is running' in again.message
        r = h.stop(success=True)
        assert r.ok and r.episode_index == 0 and r.bag_path == first.bag_path and r.duration >= 0.0
        meta = metadata(first.bag_path)
        assert meta['custom_data']['success'] == 'true' and meta['custom_data']['stop_reason'] == 'operator'
        assert meta['custom_data']['task'] == 'reach the blue block'
        with AnyReader([Path(first.bag_path)]) as reader:
            events = [reader.deserialize(raw, c.msgtype) for c, _, raw in reader.messages()]
        assert [(e.event, e.success, e.episode_index) for e in events] == [(0, False, 0), (1, True, 0)]

        second = h.start('reach the red block')
        assert second.success and second.episode_index == 1
        r = h.stop(discard=True)
        assert r.ok and r.bag_path == '' and 'discarded' in r.message
        assert not Path(second.bag_path).exists()
        assert h.start('x').episode_index == 2                         # a discarded index is not reused
    finally:
        h.close()


def test_disk_floor_stops_cleanly_and_refuses_until_space_is_back(context, tmp_path):
    h = Harness(context, tmp_path)
    source = Node('disk_test_source', context=context)
    pub = source.create_publisher(JointState, 'joint_states', SENSOR_PUB_QOS)
    try:
        wait_until(lambda: pub.get_subscription_count() > 0)
        started = h.start('reach the red block')
        assert started.success
        for i in range(20):
            pub.publish(JointState(name=['a'], position=[float(i)]))
            time.sleep(0.005)
        # Pretend the disk filled up: a floor far above the free space.
        h.recorder.set_parameters([Parameter('disk_floor_mb', value=1e12)])
        wait_until(lambda: not h.recorder.episode_running)
        meta = metadata(started.bag_path)                              # finished: metadata written
        assert meta['custom_data']['stop_reason'] == 'disk_floor' and meta['custom_data']['success'] == 'false'
        with AnyReader([Path(started.bag_path)]) as reader:
            assert sum(1 for c, _, _ in reader.messages() if c.topic == '/joint_states') > 0
        refused = h.start('reach the red block')
        assert not refused.success and 'disk_floor_mb' in refused.message and 'free space' in refused.message

        h.recorder.set_parameters([Parameter('disk_floor_mb', value=0.0)])
        wait_until(lambda: not h.recorder.disk.low)
        assert h.start('reach the red block').success
        assert not h.recorder.set_parameters([Parameter('disk_floor_mb', value=-1.0)])[0].successful
        assert not h.recorder.set_parameters([Parameter('output_dir', value='/elsewhere')])[0].successful
    finally:
        source.destroy_node()
        h.close()


def test_bad_parameters_keep_the_node_from_starting(context, tmp_path):
    def make(**params):
        return RecorderNode(context=context, parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])

    with pytest.raises(ParameterError, match='output_dir'):
        make()
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    with pytest.raises(ParameterError, match='cannot create'):
        make(output_dir=str(blocker / 'bags'))
    with pytest.raises(ParameterError, match='prefix'):
        make(output_dir=str(tmp_path), prefix='../escape')
    with pytest.raises(ParameterError, match='camera_transport'):
        make(output_dir=str(tmp_path), camera_transport='theora')
    with pytest.raises(EmbodimentError, match='unknown embodiment'):
        make(output_dir=str(tmp_path), embodiment='ur5')


def test_the_instruction_is_the_default_task_and_opens_every_bag(context, tmp_path):
    h = Harness(context, tmp_path)
    source = Node('instruction_source', context=context)
    pub = source.create_publisher(String, 'pi0/instruction', 10)          # volatile, as `ros2 topic pub` does
    try:
        wait_until(lambda: pub.get_subscription_count() > 0)
        pub.publish(String(data='reach the blue block'))
        wait_until(lambda: h.recorder.latched_message('pi0/instruction') is not None)
        bags = []
        for _ in range(2):                                                 # set once, in both bags
            started = h.start()
            assert started.success and '"reach the blue block"' in started.message
            bags.append(started.bag_path)
            assert h.stop(success=True).ok
        for bag in bags:
            assert metadata(bag)['custom_data']['task'] == 'reach the blue block'
            with AnyReader([Path(bag)]) as reader:
                texts = [reader.deserialize(raw, c.msgtype).data for c, _, raw in reader.messages()
                         if c.topic == '/pi0/instruction']
            assert texts == ['reach the blue block']
    finally:
        source.destroy_node()
        h.close()
