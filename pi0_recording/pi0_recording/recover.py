"""Recover the bag of a recorder that was killed without a chance to finish it (SIGKILL, power loss).

    python -m pi0_recording.recover <bag_dir> [--out DIR]

SIGINT and SIGTERM let the recorder finish its bag. After a SIGKILL the folder holds an mcap file
without summary, index or footer, and no metadata.yaml, so rosbag2 readers refuse it. The file is
still a sequence of records (https://mcap.dev/spec): the magic, a header, then chunks, each followed
by its message indexes. This module reads that sequence from the start, keeps every chunk whose
bytes are all in the file (schemas, channels and messages inside), stops at the first record that
is cut off, and writes the messages of the complete chunks into a new, valid rosbag2 bag (version 8,
mcap, as the recorder writes; the source is never modified). It reports per topic how many messages
came back and their time span, and how many bytes at the end were lost.

What a file cannot tell: the rosbags writer keeps the open chunk in memory until it holds 1 MiB,
so the messages of that chunk never reached the disk and no tool can bring them back.

Pure Python (rosbags): no rclpy import.
"""

from __future__ import annotations

import argparse
import struct
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.rosbag2.metadata import parse_qos
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from pi0_recording.episode_bag import BAG_VERSION

MAGIC = b'\x89MCAP0\r\n'
OP_SCHEMA, OP_CHANNEL, OP_MESSAGE, OP_CHUNK, OP_DATA_END = 0x03, 0x04, 0x05, 0x06, 0x0F
OP_NAMES = {0x01: 'header', 0x02: 'footer', 0x03: 'schema', 0x04: 'channel', 0x05: 'message', 0x06: 'chunk',
            0x07: 'message index', 0x08: 'chunk index', 0x0C: 'metadata', 0x0F: 'data end'}
RECORD_HEAD = 9      # opcode (1 byte) + content length (uint64)


class RecoveryError(RuntimeError):
    """Nothing can be recovered: no mcap in the folder, not an mcap, or the output exists."""


@dataclass
class TopicRecovery:
    topic: str
    msgtype: str
    count: int = 0
    first_ns: int | None = None
    last_ns: int | None = None


@dataclass
class Recovery:
    """What came back from one mcap file, and what did not."""
    source: Path
    output: Path | None = None
    file_bytes: int = 0
    good_bytes: int = 0          # end of the last complete record (everything after it is lost)
    chunks: int = 0
    finished: bool = False       # the writer reached its summary (the file was not cut off)
    cut_record: str = ''         # what the lost tail was, e.g. 'chunk (412 of 1048700 bytes)'
    topics: dict[str, TopicRecovery] = field(default_factory=dict)

    @property
    def lost_bytes(self) -> int:
        return self.file_bytes - self.good_bytes

    @property
    def message_count(self) -> int:
        return sum(t.count for t in self.topics.values())


@dataclass(frozen=True)
class _Channel:
    topic: str
    msgtype: str
    msgdef: str
    encoding: str
    offered_qos: str


# -- reading the record stream --------------------------------------------------------------------
def _string(bio: BinaryIO) -> str:
    (n,) = struct.unpack('<I', bio.read(4))
    return bio.read(n).decode()


def _string_map(data: bytes) -> dict[str, str]:
    bio, out = BytesIO(data), {}
    while bio.tell() < len(data):
        key = _string(bio)
        out[key] = _string(bio)
    return out


def _records(bio: BinaryIO, end: int) -> Iterator[tuple[int, bytes]]:
    """(opcode, content) of the records in bio up to ``end``; stops before one that does not fit, or at
    opcode 0, which mcap never uses (a file system may leave zeros where a crash cut the file)."""
    while bio.tell() + RECORD_HEAD <= end:
        op, size = struct.unpack('<BQ', bio.read(RECORD_HEAD))
        if op == 0 or bio.tell() + size > end:
            bio.seek(-RECORD_HEAD, 1)
            return
        yield op, bio.read(size)


def _chunk_records(content: bytes) -> bytes:
    """The uncompressed records inside a chunk record.

    Raises:
        ValueError: an unknown compression, data that does not decompress, or a size or checksum that
            does not match (a damaged chunk).
    """
    bio = BytesIO(content)
    _start, _end, size, crc = struct.unpack('<QQQI', bio.read(28))
    compression = _string(bio)
    (stored,) = struct.unpack('<Q', bio.read(8))
    data = bio.read(stored)
    if len(data) != stored:
        raise ValueError('chunk data shorter than its length field')
    if compression not in ('', 'zstd', 'lz4'):
        raise ValueError(f'unknown chunk compression {compression!r}')
    try:
        if compression == 'zstd':
            from rosbags.rosbag2.storage_mcap import zstd  # the zstd module rosbags itself reads with
            data = zstd.decompress(data)
        elif compression == 'lz4':
            from lz4.frame import decompress
            data = decompress(data)
    except Exception as e:     # each library raises its own error type; all mean a damaged chunk
        raise ValueError(f'{compression} data does not decompress: {e}') from e
    if len(data) != size:
        raise ValueError(f'chunk holds {len(data)} bytes, its header says {size}')
    if crc and zlib.crc32(data) != crc:      # 0: the writer did not compute one (rosbags does not)
        raise ValueError('chunk checksum does not match')
    return data


def _messages(path: Path, report: Recovery) -> Iterator[tuple[_Channel, int | None, bytes]]:
    """(channel, log time, serialized message) of every complete chunk, in file order (log time None:
    the channel's declaration); fills report."""
    schemas: dict[int, tuple[str, str]] = {}
    channels: dict[int, _Channel] = {}

    def read(op: int, content: bytes) -> Iterator[tuple[_Channel, int | None, bytes]]:
        bio = BytesIO(content)
        if op == OP_SCHEMA:
            (sid,) = struct.unpack('<H', bio.read(2))
            name, _encoding = _string(bio), _string(bio)
            (n,) = struct.unpack('<I', bio.read(4))
            schemas[sid] = (name, bio.read(n).decode())
        elif op == OP_CHANNEL:
            cid, sid = struct.unpack('<HH', bio.read(4))
            topic, encoding = _string(bio), _string(bio)
            (n,) = struct.unpack('<I', bio.read(4))
            meta = _string_map(bio.read(n))
            msgtype, msgdef = schemas[sid]
            channels[cid] = _Channel(topic, msgtype, msgdef, encoding, meta.get('offered_qos_profiles', ''))
            yield channels[cid], None, b''        # a topic declared without messages still shows, with 0
        elif op == OP_MESSAGE:
            cid, _seq, log_time, _publish_time = struct.unpack('<HIQQ', bio.read(22))
            if cid in channels:        # rosbag2 writers declare a channel before its first message
                yield channels[cid], log_time, content[22:]

    with path.open('rb') as f:
        report.file_bytes = f.seek(0, 2)
        f.seek(0)
        if f.read(len(MAGIC)) != MAGIC:
            raise RecoveryError(f'{path} is not an mcap file')
        report.good_bytes = len(MAGIC)
        for op, content in _records(f, report.file_bytes):
            if op == OP_DATA_END:
                report.finished = True
                report.good_bytes = report.file_bytes      # the rest is the summary: nothing lost
                return
            if op == OP_CHUNK:
                try:
                    inner = _chunk_records(content)
                except ValueError as e:
                    report.cut_record = f'a damaged chunk ({e})'
                    return
                sub = BytesIO(inner)
                # A chunk is complete or it is not: gather it first, so a broken one adds nothing.
                found = [m for inner_op, inner_content in _records(sub, len(inner))
                         for m in read(inner_op, inner_content)]
                report.chunks += 1
                yield from found
            else:
                yield from read(op, content)
            report.good_bytes = f.tell()
        if report.good_bytes < report.file_bytes:
            f.seek(report.good_bytes)
            head = f.read(RECORD_HEAD)
            if len(head) == RECORD_HEAD:
                op, size = struct.unpack('<BQ', head)
                have = report.file_bytes - report.good_bytes - RECORD_HEAD
                report.cut_record = ('no record there (opcode 0: zeros or garbage)' if op == 0 else
                                     f'a {OP_NAMES.get(op, f"record 0x{op:02x}")} cut off ({have} of {size} bytes)')
            else:
                report.cut_record = f'a record head cut off ({len(head)} bytes)'


# -- writing the recovered bag --------------------------------------------------------------------
def find_mcap(bag_dir: Path) -> Path:
    files = sorted(Path(bag_dir).glob('*.mcap'))
    if len(files) != 1:
        raise RecoveryError(f'{bag_dir}: expected one .mcap file, found {len(files)}')
    return files[0]


def recover(bag_dir: Path, out: Path | None = None) -> Recovery:
    """Write the complete chunks of ``bag_dir``'s mcap as a new bag (default ``<bag_dir>_recovered``).

    Raises:
        RecoveryError: no single mcap file, not an mcap, or the output exists.
    """
    bag_dir = Path(bag_dir)
    source = find_mcap(bag_dir)
    out = Path(out) if out is not None else bag_dir.with_name(bag_dir.name + '_recovered')
    if out.exists():
        raise RecoveryError(f'{out} exists already; refusing to overwrite it')
    report = Recovery(source=source, output=out)
    typestore = get_typestore(Stores.EMPTY)
    connections = {}
    writer = Writer(out, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
    writer.open()
    try:
        for channel, log_time, data in _messages(source, report):
            if channel not in connections:
                # The type hash is not in the mcap (rosbag2 keeps it in metadata.yaml): compute it from
                # the definition the bag carries, as readers check it.
                typestore.register(get_types_from_msg(channel.msgdef, channel.msgtype))
                connections[channel] = writer.add_connection(
                    channel.topic, channel.msgtype, msgdef=channel.msgdef,
                    rihs01=typestore.hash_rihs01(channel.msgtype), serialization_format=channel.encoding,
                    offered_qos_profiles=parse_qos(channel.offered_qos) if channel.offered_qos else [])
                report.topics[channel.topic] = TopicRecovery(channel.topic, channel.msgtype)
            if log_time is None:
                continue
            writer.write(connections[channel], log_time, data)
            t = report.topics[channel.topic]
            t.count += 1
            t.first_ns = log_time if t.first_ns is None else min(t.first_ns, log_time)
            t.last_ns = log_time if t.last_ns is None else max(t.last_ns, log_time)
        writer.set_custom_data('recovered_from', str(source.resolve()))
        writer.set_custom_data('stop_reason', 'recovered')
        writer.set_custom_data('recovered_lost_bytes', str(report.lost_bytes))
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return report


def _utc(ns: int) -> str:
    return datetime.fromtimestamp(ns * 1e-9, tz=UTC).strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]


def format_report(r: Recovery) -> str:
    lines = [f'{r.source}: {r.file_bytes} bytes, {r.chunks} complete chunk(s), {r.message_count} message(s) '
             f'recovered into {r.output}']
    width = max([len(t) for t in r.topics] + [5])
    for t in sorted(r.topics.values(), key=lambda t: t.topic):
        if not t.count:
            lines.append(f'  {t.topic:<{width}}  {0:7d} msgs')
            continue
        span = (t.last_ns - t.first_ns) * 1e-9
        lines.append(f'  {t.topic:<{width}}  {t.count:7d} msgs  {span:8.3f} s  ({_utc(t.first_ns)} .. '
                     f'{_utc(t.last_ns)} UTC)')
    if r.finished:
        lines.append('the file was finished (summary present): nothing lost')
    else:
        lines.append(f'lost: {r.lost_bytes} bytes at the end' + (f', {r.cut_record}' if r.cut_record else '')
                     + '; messages the recorder still held in memory (its open chunk, under 1 MiB) never reached '
                     'the disk')
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog='python -m pi0_recording.recover', description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('bag_dir', type=Path, help='the bag folder the killed recorder left')
    ap.add_argument('--out', type=Path, default=None, help='the recovered bag (default: <bag_dir>_recovered)')
    args = ap.parse_args(argv)
    try:
        report = recover(args.bag_dir, args.out)
    except RecoveryError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(format_report(report))
    return 0


if __name__ == '__main__':
    sys.exit(main())
