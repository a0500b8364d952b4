"""The per-topic accounting in the STOP event, without a ROS graph: messages received, message-lost
events (injected as the node's callback hands them over), late messages by their header stamps, and
the same counts in the bag's STOP event. A fake clock drives the recorder; the bag is read back with
rosbags."""

from __future__ import annotations

import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

from pi0_recording.episode_recorder import START, STOP, EpisodeRecorder
from pi0_recording.topic_counts import EpisodeCounts, header_stamp_ns
from pi0_recording.topics import JOINT_STATE, STRING
from pi0_recording.typestore import TypeRegistry

EVENTS, JOINTS, CAMERA, INSTRUCTION = '/pi0/episode_event', '/joint_states', '/camera/image_raw', '/pi0/instruction'
ZERO = QosTime(0, 0)
QOS = Qos(QosHistory.KEEP_LAST, 10, QosReliability.RELIABLE, QosDurability.VOLATILE, ZERO, ZERO,
          QosLiveliness.AUTOMATIC, ZERO, False)
NS = 1_000_000_000


@pytest.fixture(scope='module')
def types():
    registry = TypeRegistry()
    registry.register_package('pi0_msgs')
    return registry


def joints(types: TypeRegistry, stamp_ns: int) -> bytes:
    ts = types.typestore
    header = ts.types['std_msgs/msg/Header'](ts.types['builtin_interfaces/msg/Time'](*divmod(stamp_ns, NS)), '')
    msg = ts.types[JOINT_STATE](header, ['a'], np.array([1.0]), np.array([], dtype=float), np.array([], dtype=float))
    return bytes(ts.serialize_cdr(msg, JOINT_STATE))


def string(types: TypeRegistry, text: str) -> bytes:
    return bytes(types.typestore.serialize_cdr(types.typestore.types[STRING](text), STRING))


def test_header_stamps_are_read_from_the_cdr_bytes(types):
    assert header_stamp_ns(joints(types, 12 * NS + 345)) == 12 * NS + 345
    assert header_stamp_ns(joints(types, 0)) is None                 # never set by the publisher
    assert header_stamp_ns(b'\x00\x01') is None
    big_endian = b'\x00\x00\x00\x00' + (3).to_bytes(4, 'big') + (7).to_bytes(4, 'big')
    assert header_stamp_ns(big_endian) == 3 * NS + 7


def test_late_means_older_than_the_threshold_and_zero_disables_it(types):
    counts = EpisodeCounts([JOINTS], late_threshold_ns=NS // 10)
    counts.received(JOINTS, joints(types, 10 * NS), 10 * NS + NS // 10, stamped=True)      # exactly at the threshold
    counts.received(JOINTS, joints(types, 10 * NS), 10 * NS + NS // 10 + 1, stamped=True)  # just past it
    counts.received(JOINTS, joints(types, 0), 99 * NS, stamped=True)                       # no stamp: unknown
    counts.received(INSTRUCTION, string(types, 'x'), 99 * NS, stamped=False)
    assert counts.rows() == ((JOINTS, 3, 0, 1), (INSTRUCTION, 1, 0, 0))
    never = EpisodeCounts([JOINTS], late_threshold_ns=0)
    never.received(JOINTS, joints(types, NS), 100 * NS, stamped=True)
    assert never.rows() == ((JOINTS, 1, 0, 0),)


def test_stop_event_counts_received_lost_and_late_per_topic(types, tmp_path):
    now = [50 * NS]
    events = []
    recorder = EpisodeRecorder(
        embodiment='ur5e', output_dir=tmp_path, prefix='ur5e', types=types, event_topic=EVENTS, event_qos=QOS,
        clock_ns=lambda: now[0], publish_event=events.append, disk_floor_mb=0.0, free_space=lambda: 1e6,
        late_threshold=0.1)
    recorder.add_topic(JOINTS, JOINT_STATE, [QOS], latched=False, role='joint_states')
    recorder.add_topic(INSTRUCTION, STRING, [QOS], latched=False, role='instruction')
    recorder.on_message(JOINTS, joints(types, now[0]))                 # before the episode: not counted
    recorder.on_message_lost(JOINTS, 5)                                # nor is a loss between episodes
    recorder.on_message(INSTRUCTION, string(types, 'fold'))            # written into the bag at START: not received

    episode = recorder.start()
    for k in range(10):
        now[0] += NS // 50
        delay = NS // 2 if k in (3, 7) else NS // 1000                 # two arrive half a second after their stamp
        recorder.on_message(JOINTS, joints(types, now[0] - delay))
    recorder.on_message_lost(JOINTS, 2)                                # as the message-lost callback reports them
    recorder.on_message_lost(JOINTS, 1)
    recorder.add_topic(CAMERA, 'sensor_msgs/msg/Image', [QOS], latched=False, role='camera')   # found mid-episode
    stopped = recorder.stop(True)

    assert [e.event for e in events] == [START, STOP]
    assert events[0].counts == ()
    assert events[1].counts == ((JOINTS, 10, 3, 2), (INSTRUCTION, 0, 0, 0), (CAMERA, 0, 0, 0))
    assert f'{JOINTS}: 3 lost, 2 late' in stopped.text

    with AnyReader([episode.path]) as reader:
        in_bag = [reader.deserialize(raw, c.msgtype) for c, _, raw in reader.messages() if c.topic == EVENTS]
    assert [e.event for e in in_bag] == [START, STOP]
    assert list(in_bag[0].topics) == [] and len(in_bag[0].messages_received) == 0
    stop = in_bag[1]
    assert list(stop.topics) == [JOINTS, INSTRUCTION, CAMERA]
    assert stop.messages_received.tolist() == [10, 0, 0]
    assert stop.messages_lost.tolist() == [3, 0, 0] and stop.messages_late.tolist() == [2, 0, 0]
    assert stop.messages_received.dtype == np.uint64
