"""pi0_recording.recover: the bag of a recorder killed with SIGKILL (an mcap without summary or index,
no metadata.yaml) becomes a valid version-8 bag holding every message of the complete chunks, in
order and unchanged, and the report says what was lost.

First on bags written here with the recorder's own EpisodeBag and cut at chosen bytes; then a real
recorder subprocess, fed over DDS, SIGKILLed mid-episode.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
import yaml
from pi0_msgs.srv import StartEpisode
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosbags.highlevel import AnyReader
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String

from pi0_common.qos import LATCHED_QOS
from pi0_recording.episode_bag import EpisodeBag
from pi0_recording.recover import RecoveryError, format_report, recover
from pi0_recording.typestore import TypeRegistry

H, W = 64, 96                      # rgb8: 18 kB per frame, about 57 frames per 1 MiB chunk
FRAME = H * W * 3


def frame_bytes(seq: int) -> bytes:
    """Pixels that depend on the sequence number and do not compress (zstd chunks stay about 1 MiB)."""
    return np.random.default_rng(seq).bytes(FRAME)


def read_bag(path: Path) -> dict[str, list]:
    got: dict[str, list] = {}
    with AnyReader([path]) as reader:
        for connection, log_time, raw in reader.messages():
            got.setdefault(connection.topic, []).append((log_time, reader.deserialize(raw, connection.msgtype)))
    return got


def check_recovered(path: Path, report) -> dict[str, list]:
    meta = yaml.safe_load((path / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert meta['version'] == 8 and meta['storage_identifier'] == 'mcap'
    assert meta['custom_data']['stop_reason'] == 'recovered'
    got = read_bag(path)
    assert {t: len(m) for t, m in got.items()} == {t.topic: t.count for t in report.topics.values() if t.count}
    for topic, msgs in got.items():
        times = [t for t, _ in msgs]
        assert times == sorted(times), f'{topic}: out of order'
        assert (times[0], times[-1]) == (report.topics[topic].first_ns, report.topics[topic].last_ns)
    return got


# -- bags cut at chosen bytes ---------------------------------------------------------------------
def write_aborted_bag(path: Path, frames: int, compression: str = 'none') -> None:
    """What a killed recorder leaves: EpisodeBag never closed (abort: no summary, no metadata.yaml)."""
    types = TypeRegistry()
    store = types.typestore
    image_t, header_t, time_t = (store.types[n] for n in (
        'sensor_msgs/msg/Image', 'std_msgs/msg/Header', 'builtin_interfaces/msg/Time'))
    bag = EpisodeBag(path, types, compression)
    bag.add_topic('/camera', 'sensor_msgs/msg/Image', [])
    bag.add_topic('/silent', 'std_msgs/msg/String', [])
    for seq in range(frames):
        msg = image_t(header=header_t(stamp=time_t(sec=seq, nanosec=0), frame_id=str(seq)), height=H, width=W,
                      encoding='rgb8', is_bigendian=0, step=W * 3,
                      data=np.frombuffer(frame_bytes(seq), dtype=np.uint8))
        bag.write('/camera', 1_000_000_000 + seq * 10_000_000, bytes(store.serialize_cdr(msg, msg.__msgtype__)))
    bag.abort()


def frame_seqs(got: dict[str, list]) -> list[int]:
    seqs = []
    for _, msg in got['/camera']:
        seq = int(msg.header.frame_id)
        assert msg.data.tobytes() == frame_bytes(seq) and (msg.height, msg.width) == (H, W)
        seqs.append(seq)
    return seqs


@pytest.mark.parametrize('compression', ['none', 'zstd'])
def test_cut_bags_recover_whole_chunks_and_report_the_lost_tail(tmp_path, compression):
    source = tmp_path / 'episode'
    write_aborted_bag(source, frames=240, compression=compression)
    assert not (source / 'metadata.yaml').exists()
    mcap = next(source.glob('*.mcap'))
    whole = recover(source, tmp_path / 'whole')
    assert whole.chunks >= 3 and not whole.finished
    seqs = frame_seqs(check_recovered(tmp_path / 'whole', whole))
    # The writer's open chunk was never written: a prefix comes back, not all 240.
    assert seqs == list(range(len(seqs))) and 0 < len(seqs) < 240
    assert whole.topics['/silent'].count == 0          # declared without messages: kept, with 0
    data = mcap.read_bytes()

    # Cut inside the last chunk: that chunk's messages go, the earlier ones stay; the tail is reported.
    mcap.write_bytes(data[:whole.good_bytes - 300_000])
    cut = recover(source, tmp_path / 'cut')
    assert cut.chunks == whole.chunks - 1
    assert cut.good_bytes + cut.lost_bytes == mcap.stat().st_size and cut.lost_bytes > 0
    assert cut.cut_record.startswith('a chunk cut off')
    cut_seqs = frame_seqs(check_recovered(tmp_path / 'cut', cut))
    assert cut_seqs == seqs[:len(cut_seqs)] and len(cut_seqs) < len(seqs)
    text = format_report(cut)
    assert f'lost: {cut.lost_bytes} bytes at the end, a chunk cut off' in text and '/camera' in text

    # Cut exactly where the last complete record ends: the same messages, nothing lost.
    mcap.write_bytes(data[:cut.good_bytes])
    exact = recover(source, tmp_path / 'exact')
    assert exact.lost_bytes == 0 and exact.chunks == cut.chunks
    assert frame_seqs(check_recovered(tmp_path / 'exact', exact)) == cut_seqs

    # A head that is not even a whole record header; zeros a file system left after the last record; a
    # chunk with damaged bytes inside; a file that is no mcap.
    mcap.write_bytes(data[:cut.good_bytes + 4])
    assert recover(source, tmp_path / 'head').cut_record == 'a record head cut off (4 bytes)'
    mcap.write_bytes(data[:cut.good_bytes] + bytes(4096))
    zeros = recover(source, tmp_path / 'zeros')
    assert (zeros.chunks, zeros.lost_bytes) == (cut.chunks, 4096) and 'opcode 0' in zeros.cut_record
    if compression == 'zstd':
        damaged = bytearray(data)
        # The next chunk's zstd frame header (after the record head, times, sizes, crc and compression
        # name): without checksums (rosbags writes none) damage further inside would go unseen.
        frame = cut.good_bytes + 9 + 28 + 4 + len('zstd') + 8
        damaged[frame:frame + 4] = bytes(4)
        mcap.write_bytes(bytes(damaged))
        broken = recover(source, tmp_path / 'damaged')
        assert broken.chunks == cut.chunks and broken.cut_record.startswith('a damaged chunk')
        assert frame_seqs(check_recovered(tmp_path / 'damaged', broken)) == cut_seqs
    mcap.write_bytes(b'not an mcap file')
    with pytest.raises(RecoveryError, match='not an mcap'):
        recover(source, tmp_path / 'junk')
    with pytest.raises(RecoveryError, match='exists already'):
        recover(source, tmp_path / 'whole')


def test_a_finished_bag_loses_nothing(tmp_path):
    types = TypeRegistry()
    bag = EpisodeBag(tmp_path / 'done', types)
    bag.add_topic('/chatter', 'std_msgs/msg/String', [])
    store = types.typestore
    for i in range(5):
        bag.write('/chatter', 100 + i, bytes(store.serialize_cdr(store.types['std_msgs/msg/String'](data=str(i)),
                                                                 'std_msgs/msg/String')))
    bag.close()
    report = recover(tmp_path / 'done')
    assert report.finished and report.lost_bytes == 0 and report.output == tmp_path / 'done_recovered'
    assert [m.data for _, m in check_recovered(report.output, report)['/chatter']] == [str(i) for i in range(5)]


# -- a real recorder, SIGKILLed mid-episode -------------------------------------------------------
TASK = 'fold the towel'
TICK = 0.01
# The source is test equipment, not a vendor driver: its reliable writer keeps every sample until the
# recorder acknowledged it (a vendor's depth 5 overwrites samples a recorder stalled by a loaded machine
# has not taken yet), and the recorder's reader is as deep. So a gap in the bag is the recorder's or the
# recovery's fault, not the transport's.
DEEP = 3000
LOSSLESS_QOS = QoSProfile(depth=DEEP, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)


class Source:
    """Publishes a camera (one frame per tick) and joint states whose content encodes a sequence number."""

    def __init__(self, context):
        self.node = Node('recover_test_source', context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.camera = self.node.create_publisher(Image, '/camera/base/image_raw', LOSSLESS_QOS)
        self.joints = self.node.create_publisher(JointState, '/joint_states', LOSSLESS_QOS)
        self.instruction = self.node.create_publisher(String, 'pi0/instruction', LATCHED_QOS)
        self.instruction.publish(String(data=TASK))
        self.sent = 0

    def wait_for_recorder(self, proc, log: Path, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while any(p.get_subscription_count() == 0 for p in (self.camera, self.joints, self.instruction)):
            assert proc.poll() is None, f'recorder exited early:\n{log.read_text()}'
            assert time.monotonic() < deadline, f'recorder never subscribed:\n{log.read_text()}'
            time.sleep(0.05)

    def start_episode(self) -> StartEpisode.Response:
        client = self.node.create_client(StartEpisode, 'pi0/recorder/start_episode')
        assert client.wait_for_service(timeout_sec=10.0)
        future = client.call_async(StartEpisode.Request(task=TASK))
        self.executor.spin_until_future_complete(future, timeout_sec=30.0)
        assert future.done(), 'start_episode got no answer'
        return future.result()

    def tick(self) -> None:
        seq = self.sent
        image = Image(height=H, width=W, encoding='rgb8', step=W * 3, data=frame_bytes(seq))
        image.header.frame_id = str(seq)
        self.camera.publish(image)
        self.joints.publish(JointState(name=['shoulder_pan_joint'], position=[float(seq)]))
        self.sent += 1
        time.sleep(TICK)


@pytest.mark.slow
def test_a_sigkilled_recorder_leaves_a_bag_that_recovers_to_its_last_complete_chunk(tmp_path):
    context = rclpy.Context()
    rclpy.init(context=context)
    out, log = tmp_path / 'bags', tmp_path / 'recorder.log'
    cmd = [sys.executable, '-m', 'pi0_recording.recorder_node', '--ros-args', '-p', f'output_dir:={out}',
           '-p', 'embodiment:=ur5e', '-p', 'disk_floor_mb:=0.0', '-p', 'discovery_period:=0.2',
           '-p', f'queue_depth:={DEEP}']
    proc = subprocess.Popen(cmd, stdout=log.open('w'), stderr=subprocess.STDOUT)
    source = Source(context)
    try:
        source.wait_for_recorder(proc, log)
        response = source.start_episode()
        assert response.success, response.message
        bag = Path(response.bag_path)
        # Publish until three 1 MiB chunks are on disk, then a little more (the open chunk), then kill.
        deadline = time.monotonic() + 60.0
        while sum(f.stat().st_size for f in bag.glob('*.mcap')) < 3.2 * 2**20:
            assert time.monotonic() < deadline, f'the bag does not grow:\n{log.read_text()}'
            source.tick()
        for _ in range(20):
            source.tick()
        sent = source.sent
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        source.node.destroy_node()
        rclpy.try_shutdown(context=context)
    assert not (bag / 'metadata.yaml').exists()        # what SIGKILL leaves: nothing finished the bag

    run = subprocess.run([sys.executable, '-m', 'pi0_recording.recover', str(bag), '--out', str(tmp_path / 'rec')],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    report = recover(bag, tmp_path / 'rec2')            # the same, as data, for the checks below
    got = check_recovered(tmp_path / 'rec', report)
    assert report.chunks >= 3 and not report.finished
    assert f'{report.chunks} complete chunk(s), {report.message_count} message(s)' in run.stdout
    assert f'lost: {report.lost_bytes} bytes at the end' in run.stdout

    frames = [int(m.header.frame_id) for _, m in got['/camera/base/image_raw']]
    assert all(m.data.tobytes() == frame_bytes(int(m.header.frame_id)) for _, m in got['/camera/base/image_raw'])
    joints = [int(m.position[0]) for _, m in got['/joint_states']]
    # In order, without a gap, from the first message; and short of what was sent: the open chunk died
    # with the process.
    assert frames == list(range(len(frames))) and joints == list(range(len(joints)))
    assert 3 * 40 < len(frames) < sent and len(joints) < sent
    assert [m.data for _, m in got['/pi0/instruction']] == [TASK]
    events = got['/pi0/episode_event']
    assert [(e.event, e.task) for _, e in events] == [(0, TASK)]     # START only: the STOP never happened
