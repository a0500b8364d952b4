"""The episode state machine without a ROS graph: refusals, latched messages at every start, STOP
and the finished bag, write errors and the disk floor, the events handed out, and the diagnostics
summary. A fake clock and free-space value drive it; bags are read back with rosbags."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from rosbags.highlevel import AnyReader
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

from pi0_recording.episode_recorder import (
    START,
    STOP,
    EpisodeEventData,
    EpisodeRecorder,
    StartRefusedError,
    event_cdr,
)
from pi0_recording.recorder_status import ERROR, OK, WARN, recorder_status
from pi0_recording.topics import EPISODE_EVENT, JOINT_STATE, STRING
from pi0_recording.typestore import TypeRegistry

EVENTS = '/pi0/episode_event'
INSTRUCTION = '/pi0/instruction'
STATUS = '/status'                       # a latched topic other than the instruction
JOINTS = '/joint_states'
ZERO = QosTime(0, 0)


def qos(latched: bool) -> Qos:
    durability = QosDurability.TRANSIENT_LOCAL if latched else QosDurability.VOLATILE
    return Qos(QosHistory.KEEP_LAST, 1, QosReliability.RELIABLE, durability, ZERO, ZERO, QosLiveliness.AUTOMATIC,
               ZERO, False)


@pytest.fixture(scope='module')
def types():
    registry = TypeRegistry()
    registry.register_package('pi0_msgs')
    return registry


class Rig:
    """A recorder with a fake clock (1 ms per reading), a settable free space and its events."""

    def __init__(self, types: TypeRegistry, out: Path):
        self.types, self.now, self.free = types, 1_000_000_000, 10_000.0
        self.events: list[EpisodeEventData] = []
        self.recorder = EpisodeRecorder(
            embodiment='ur5e', output_dir=out, prefix='ur5e', types=types, event_topic=EVENTS,
            event_qos=qos(True), clock_ns=self.clock, publish_event=self.events.append, disk_floor_mb=100.0,
            free_space=lambda: self.free)
        self.recorder.add_topic(JOINTS, JOINT_STATE, [qos(False)], latched=False, role='joint_states')
        self.recorder.add_topic(INSTRUCTION, STRING, [qos(False)], latched=False, role='instruction')
        self.recorder.add_topic(STATUS, STRING, [qos(True)], latched=True, role='extra')

    def clock(self) -> int:
        self.now += 1_000_000
        return self.now

    def string(self, text: str) -> bytes:
        return bytes(self.types.typestore.serialize_cdr(self.types.typestore.types[STRING](text), STRING))

    def joints(self, value: float) -> bytes:
        ts = self.types.typestore
        header = ts.types['std_msgs/msg/Header'](ts.types['builtin_interfaces/msg/Time'](0, 0), '')
        msg = ts.types[JOINT_STATE](header, ['a'], np.array([value]), np.array([], dtype=float),
                                    np.array([], dtype=float))
        return bytes(ts.serialize_cdr(msg, JOINT_STATE))


def read_bag(path: Path) -> tuple[dict, list[tuple[str, object]]]:
    meta = yaml.safe_load((path / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    with AnyReader([path]) as reader:
        messages = [(c.topic, reader.deserialize(raw, c.msgtype)) for c, _, raw in reader.messages()]
    return meta, messages


@pytest.fixture
def rig(types, tmp_path):
    return Rig(types, tmp_path)


def test_start_is_refused_while_running_without_a_task_or_with_the_disk_low(rig, tmp_path):
    with pytest.raises(StartRefusedError, match='no task'):
        rig.recorder.start('  ')
    assert not list(tmp_path.iterdir())                               # a refused start leaves nothing

    episode = rig.recorder.start('reach the red block')
    assert episode.index == 0 and rig.recorder.running and rig.recorder.episode_index == 0
    with pytest.raises(StartRefusedError, match='episode 0 is running'):
        rig.recorder.start('reach the blue block')
    rig.recorder.stop(True)

    rig.free = 50.0                                                   # below the 100 MiB floor
    with pytest.raises(StartRefusedError, match='disk space.*disk_floor_mb'):
        rig.recorder.start('reach the blue block')
    rig.free = 104.0                                                  # back, but inside the 5 % margin
    with pytest.raises(StartRefusedError, match='disk space'):
        rig.recorder.start('reach the blue block')
    rig.free = 200.0
    assert rig.recorder.start('reach the blue block').index == 1


def test_latched_messages_and_the_instruction_open_every_bag(rig):
    rig.recorder.on_message(STATUS, rig.string('calibrated'))
    rig.recorder.on_message(INSTRUCTION, rig.string('reach the blue block'))
    rig.recorder.on_message(JOINTS, rig.joints(1.0))                  # not latched: not kept for the bags
    assert rig.recorder.instruction == 'reach the blue block'
    assert rig.recorder.latched_message(JOINTS) is None

    paths = []
    for _ in range(2):                                                # set once, in both bags
        episode = rig.recorder.start()                                # the task is the instruction
        assert episode.task == 'reach the blue block'
        rig.recorder.on_message(JOINTS, rig.joints(2.0))
        paths.append(rig.recorder.stop(True).path)
    for path in paths:
        meta, messages = read_bag(path)
        assert meta['custom_data']['task'] == 'reach the blue block'
        assert meta['custom_data']['recorder'] == 'pi0_recording/pi0_recorder'
        topics = [topic for topic, _ in messages]
        assert sorted(topics[:2]) == [INSTRUCTION, STATUS] and topics[2] == EVENTS   # latched first, then START
        assert [m.position.tolist() for t, m in messages if t == JOINTS] == [[2.0]]


def test_stop_writes_stop_and_finishes_the_bag(rig):
    episode = rig.recorder.start('reach the red block')
    for i in range(3):
        rig.recorder.on_message(JOINTS, rig.joints(float(i)))
    stopped = rig.recorder.stop(True)
    assert stopped.index == 0 and stopped.path == episode.path and not stopped.discarded
    assert stopped.duration > 0 and 'stopped (operator, success=true)' in stopped.text
    assert not rig.recorder.running and rig.recorder.episodes_recorded == 1
    assert rig.recorder.stop(True) is None                           # nothing runs any more

    meta, messages = read_bag(episode.path)
    assert meta['custom_data']['success'] == 'true' and meta['custom_data']['stop_reason'] == 'operator'
    events = [m for t, m in messages if t == EVENTS]
    assert [(e.event, e.success, e.episode_index, e.task) for e in events] == \
        [(START, False, 0, 'reach the red block'), (STOP, True, 0, 'reach the red block')]
    assert [(e.event, e.success) for e in rig.events] == [(START, False), (STOP, True)]
    assert events[1].header.stamp.sec * 10**9 + events[1].header.stamp.nanosec == rig.events[1].stamp_ns

    discarded = rig.recorder.start('reach the red block')
    stopped = rig.recorder.stop(False, discard=True)
    assert stopped.discarded and not discarded.path.exists() and rig.recorder.episodes_recorded == 1
    assert rig.recorder.start('x').index == 2                        # a discarded index is not reused


def test_a_write_error_stops_the_episode_with_a_finished_bag(rig, monkeypatch):
    episode = rig.recorder.start('reach the red block')
    write = episode.bag.write

    def failing(topic, stamp, data):
        if topic == JOINTS:
            raise OSError(28, 'No space left on device')
        write(topic, stamp, data)

    monkeypatch.setattr(episode.bag, 'write', failing)
    rig.recorder.on_message(JOINTS, rig.joints(1.0))
    assert not rig.recorder.running
    meta, _ = read_bag(episode.path)
    assert meta['custom_data']['stop_reason'] == 'write_error' and meta['custom_data']['success'] == 'false'
    rig.recorder.on_message(JOINTS, rig.joints(2.0))                  # no episode: nothing happens


def test_the_disk_floor_stops_a_running_episode_and_a_topic_added_meanwhile_is_in_the_bag(rig):
    episode = rig.recorder.start('reach the red block')
    rig.recorder.add_topic('/late', STRING, [qos(False)], latched=False, role='extra')
    rig.recorder.on_message('/late', rig.string('hello'))
    rig.free = 10.0
    rig.recorder.check_disk()
    assert not rig.recorder.running and rig.recorder.disk.low
    meta, messages = read_bag(episode.path)
    assert meta['custom_data']['stop_reason'] == 'disk_floor'
    assert [m.data for t, m in messages if t == '/late'] == ['hello']


def test_shutdown_finishes_and_the_events_are_exact_cdr(rig, types):
    episode = rig.recorder.start('reach the red block')
    rig.recorder.finish('shutdown')
    rig.recorder.finish('shutdown')                                   # idempotent
    meta, _ = read_bag(episode.path)
    assert meta['custom_data']['stop_reason'] == 'shutdown' and meta['custom_data']['success'] == 'false'

    event = EpisodeEventData(STOP, 7, 'ur5e', 'fold', True, 3 * 10**9 + 5)
    data = event_cdr(types, event)
    back = types.typestore.deserialize_cdr(data, EPISODE_EVENT)
    assert (back.event, back.episode_index, back.task, back.success) == (STOP, 7, 'fold', True)
    assert (back.header.stamp.sec, back.header.stamp.nanosec) == (3, 5)
    assert bytes(types.typestore.serialize_cdr(back, EPISODE_EVENT)) == data    # no trailing bytes


def test_status_says_what_is_recorded_and_what_is_awaited(rig):
    rig.recorder.check_disk()
    status = recorder_status(rig.recorder, ['/camera/base/image_raw'])
    assert status.level == WARN and 'waiting' in status.message
    assert status.values['subscribed'] == ','.join([JOINTS, INSTRUCTION, STATUS])
    assert status.values['waiting_for_publisher'] == '/camera/base/image_raw'
    assert status.values['episode'] == '' and status.values['free_mb'] == '10000'

    rig.recorder.start('reach the red block')
    status = recorder_status(rig.recorder, [])
    assert status.level == OK and status.values['episode'] == '0' and 'episode 0 running' in status.message
    rig.recorder.stop(True)
    assert recorder_status(rig.recorder, []).values['episodes_recorded'] == '1'

    rig.free = 1.0
    rig.recorder.check_disk()
    status = recorder_status(rig.recorder, [])
    assert status.level == ERROR and 'refused' in status.message and status.values['free_mb'] == '1'
