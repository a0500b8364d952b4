"""Read one teleoperation episode (a rosbag2 folder) into time series, mapped through the embodiment.

What the recorder puts in a bag (topics relative to the stack's namespace, which is found from the
``pi0/episode_event`` topic):

* ``pi0/episode_event`` (pi0_msgs/EpisodeEvent): START and STOP, with the task, embodiment and verdict;
* joint states (sensor_msgs/JointState) on each arm's ``joint_state_topic``, read by joint NAME;
* ``<odometry_topic>`` (nav_msgs/Odometry): the base velocity of mobile robots;
* ``pi0/command`` (pi0_msgs/ExecutorCommand): row 0 of ``positions`` is the command issued at the stamp,
  the action of the dataset;
* cameras on ``CameraSpec.wire_topic(transport)`` (sensor_msgs/Image or CompressedImage);
* ``pi0/instruction`` (std_msgs/String), the fallback task when START carries none.

Reading is two passes: :func:`read_streams` keeps every stamp and the small signals, but no pixels;
:func:`iter_images` then decodes only the camera frames the dataset uses, in bag order, so a long episode
never has all of its images in memory at once.

Every failure raises :class:`BagError` naming the bag (and the topic or field); the converter reports it
for that episode and moves on.
"""

from __future__ import annotations

import math
import struct
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rosbags.highlevel import AnyReader

from pi0_common.embodiment import Embodiment
from pi0_common.embodiment_parts import CameraSpec

from ..image_conversion import ImageConversionError, compressed_to_rgb, image_to_rgb
from .align import TimeSeries
from .typestore import pi0_typestore

EVENT_TOPIC = "pi0/episode_event"
COMMAND_TOPIC = "pi0/command"
INSTRUCTION_TOPIC = "pi0/instruction"
START, STOP = 0, 1  # pi0_msgs/EpisodeEvent constants
IMAGE_TYPES = {"raw": "sensor_msgs/msg/Image", "compressed": "sensor_msgs/msg/CompressedImage"}


class BagError(Exception):
    """An episode bag that cannot be converted; the message names the bag and what is wrong."""


@dataclass
class ImageStream:
    """Stamps of one camera slot's frames.

    Attributes:
        slot: camera slot ("base", "left_wrist", "right_wrist").
        topic: the bag topic read.
        transport: "raw" or "compressed".
        stamps: int64 [N] header stamps, sorted.
        bag_order: [N] position of each sorted frame in the topic's bag order.
        log_times: int64 [N] receive (log) times in bag order, when known: the camera pass then reads only
            the part of the bag that holds the episode's frames (several episodes in one bag).
    """

    slot: str
    topic: str
    transport: str
    stamps: np.ndarray
    bag_order: np.ndarray
    log_times: np.ndarray | None = None


@dataclass
class EpisodeStreams:
    """Everything pass 1 reads from one bag (no pixels)."""

    path: Path
    namespace: str
    start_ns: int
    stop_ns: int
    task: str
    success: bool | None
    source_episode_index: int | None
    dim_names: list[str]  # the embodiment's unified dims
    state: list[TimeSeries]  # one per unified dim, in that order
    commands: TimeSeries  # values [N, valid_dims], row 0 of each ExecutorCommand
    images: dict[str, ImageStream]
    warnings: list[str] = field(default_factory=list)


def stamp_ns(header, log_time: int) -> int:
    """Header stamp in ns; the bag's receive time when the publisher left it zero."""
    ns = int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)
    return ns if ns > 0 else int(log_time)


def cdr_header_stamp(raw) -> int:
    """The header stamp in ns of a CDR-serialized message whose first field is a std_msgs/Header (0 when the
    publisher left it zero), read from the bytes without deserializing the message (an image's pixels)."""
    little = raw[1] == 1  # the 4-byte encapsulation header: 0x00 0x01 is little-endian CDR
    sec, nanosec = struct.unpack_from("<iI" if little else ">iI", raw, 4)
    return max(0, sec * 1_000_000_000 + nanosec)


def resolve(namespace: str, topic: str) -> str:
    """Absolute topic of a namespace-relative one (absolute topics pass through)."""
    if topic.startswith("/"):
        return topic
    return f"{namespace.rstrip('/')}/{topic}"


def find_namespace(topics: list[str], path: Path) -> str:
    """The stack's namespace: the prefix of the ``pi0/episode_event`` topic ("" at the root)."""
    matches = [t for t in topics if t == "/" + EVENT_TOPIC or t.endswith("/" + EVENT_TOPIC)]
    if not matches:
        raise BagError(f"{path}: no {EVENT_TOPIC} topic, so no episode START/STOP; topics: {sorted(topics)}")
    if len(matches) > 1:
        raise BagError(f"{path}: several {EVENT_TOPIC} topics {matches}; pass the namespace explicitly")
    return matches[0][: -len("/" + EVENT_TOPIC)]


def open_reader(path: Path) -> AnyReader:
    """An opened AnyReader; a missing metadata.yaml or an unreadable storage file is a BagError."""
    if not path.is_dir():
        raise BagError(f"{path}: not a rosbag2 folder")
    if not (path / "metadata.yaml").is_file():
        raise BagError(f"{path}: no metadata.yaml (an interrupted recording? `ros2 bag reindex` rebuilds it)")
    reader = AnyReader([path], default_typestore=pi0_typestore())
    try:
        reader.open()
    except Exception as e:  # rosbags raises several types for damaged files
        raise BagError(f"{path}: cannot open: {type(e).__name__}: {e}") from None
    return reader


def read_bag(path: str | Path, read, *args):
    """``read(reader, path, *args)`` on an open bag, always closed after; any failure but a BagError (a
    truncated chunk or a bad record surfaces only while iterating) becomes a BagError naming the bag."""
    path = Path(path)
    reader = open_reader(path)
    try:
        return read(reader, path, *args)
    except BagError:
        raise
    except Exception as e:
        raise BagError(f"{path}: unreadable: {type(e).__name__}: {e}") from None
    finally:
        reader.close()


def pick_camera_topic(cam: CameraSpec, namespace: str, available: dict[str, str], path: Path) -> tuple[str, str]:
    """(topic, transport) for a camera: its configured transport first, the other one if only that was recorded.

    Raises:
        BagError: neither topic is in the bag.
    """
    other = "raw" if cam.transport == "compressed" else "compressed"
    for transport in (cam.transport, other):
        topic = resolve(namespace, cam.wire_topic(transport))
        if available.get(topic) == IMAGE_TYPES[transport]:
            return topic, transport
    wanted = [resolve(namespace, cam.wire_topic(t)) for t in (cam.transport, other)]
    raise BagError(f"{path}: camera {cam.slot!r}: neither {wanted[0]} nor {wanted[1]} was recorded")


def read_streams(path: str | Path, embodiment: Embodiment, cameras: tuple[str, ...] | None = None,
                 namespace: str | None = None) -> EpisodeStreams:
    """Pass 1: episode bounds, state and command series, camera stamps.

    Args:
        path: the rosbag2 folder of one episode.
        embodiment: the robot; joint names, gripper mapping, base axes and topics come from it.
        cameras: camera slots to read (all of the embodiment's by default); each must be in the bag.
        namespace: the stack's namespace; found from the episode-event topic when None.

    Raises:
        BagError: unreadable or truncated bag, missing topics, no START, commands for another robot.
    """
    return read_bag(path, _read_streams, embodiment, cameras, namespace)


def _read_streams(reader: AnyReader, path: Path, emb: Embodiment, cameras: tuple[str, ...] | None,
                  namespace: str | None) -> EpisodeStreams:
    available = {c.topic: c.msgtype for c in reader.connections}
    ns = find_namespace(list(available), path) if namespace is None else namespace
    wanted_cams = [c for c in emb.cameras if cameras is None or c.slot in cameras]
    if cameras is not None and len(wanted_cams) != len(cameras):
        unknown = sorted(set(cameras) - {c.slot for c in emb.cameras})
        raise BagError(f"{path}: camera slot(s) {unknown} are not cameras of {emb.name}")
    cam_topics = {cam.slot: pick_camera_topic(cam, ns, available, path) for cam in wanted_cams}

    # joint state topic -> joint name -> (unified dim, converter to unified units or None)
    joint_dims: dict[str, dict[str, tuple[int, object]]] = {}
    for arm, joint_idx, grip_idx in emb.arm_slices():
        topic = resolve(ns, arm.joint_state_topic)
        by_name = joint_dims.setdefault(topic, {})
        for spec, i in zip(arm.joints, joint_idx, strict=True):
            by_name[spec.name] = (i, None)
        if grip_idx is not None:
            by_name[arm.gripper.joint] = (grip_idx, arm.gripper.to_unified)
    odom_topic = resolve(ns, emb.base.odometry_topic) if emb.base is not None else None
    topics = {
        "event": resolve(ns, EVENT_TOPIC), "command": resolve(ns, COMMAND_TOPIC),
        "instruction": resolve(ns, INSTRUCTION_TOPIC),
    }  # fmt: skip
    required = [topics["event"], topics["command"], *joint_dims] + ([odom_topic] if odom_topic else [])
    missing = [t for t in required if t not in available]
    if missing:
        raise BagError(f"{path}: topic(s) {missing} not recorded (namespace {ns!r})")

    # 8 bytes a sample (not a Python float object): a long episode's joint samples stay small.
    state_samples = [(array("q"), array("d")) for _ in range(emb.valid_dims)]
    cmd_stamps, cmd_rows, events, instructions = [], [], [], []
    image_stamps = {slot: array("q") for slot in cam_topics}
    image_logs = {slot: array("q") for slot in cam_topics}
    image_slot = {topic: slot for slot, (topic, _) in cam_topics.items()}
    base_axes = dict(zip(emb.base.axes, emb.base_indices(), strict=True)) if emb.base is not None else {}
    warnings: list[str] = []
    bad_commands = bad_samples = 0

    def add_sample(i: int, t: int, value: float, convert=None) -> None:
        nonlocal bad_samples
        if not math.isfinite(value):  # never let a NaN reach the data (nor clip it into a "valid" gripper value)
            bad_samples += 1
            return
        state_samples[i][0].append(t)
        state_samples[i][1].append(convert(value) if convert else float(value))

    wanted_topics = set(required) | set(image_slot) | {topics["instruction"]}
    connections = [c for c in reader.connections if c.topic in wanted_topics]
    for conn, log_time, raw in reader.messages(connections=connections):
        topic = conn.topic
        if topic in image_slot:  # only the header stamp: no image is deserialized in this pass
            image_stamps[image_slot[topic]].append(cdr_header_stamp(raw) or int(log_time))
            image_logs[image_slot[topic]].append(int(log_time))
            continue
        msg = reader.deserialize(raw, conn.msgtype)
        if topic in joint_dims:
            t = stamp_ns(msg.header, log_time)
            names = list(msg.name)
            if len(msg.position) < len(names):
                raise BagError(f"{path}: {topic} at {t}: {len(names)} names but {len(msg.position)} positions")
            for name, value in zip(names, msg.position, strict=False):
                entry = joint_dims[topic].get(name)
                if entry is not None:
                    add_sample(entry[0], t, float(value), entry[1])
        elif topic == odom_topic:
            t = stamp_ns(msg.header, log_time)
            twist = msg.twist.twist
            measured = {"vx": twist.linear.x, "vy": twist.linear.y, "wz": twist.angular.z}
            for axis, i in base_axes.items():
                add_sample(i, t, float(measured[axis]))
        elif topic == topics["command"]:
            row = _command_row(msg, emb, path)
            if row is None:
                bad_commands += 1
                continue
            cmd_stamps.append(stamp_ns(msg.header, log_time))
            cmd_rows.append(row)
        elif topic == topics["event"]:
            events.append((stamp_ns(msg.header, log_time), msg))
        elif topic == topics["instruction"]:
            instructions.append((int(log_time), str(msg.data)))
    if bad_commands:
        warnings.append(f"{bad_commands} {COMMAND_TOPIC} message(s) with non-finite positions were ignored")
    if bad_samples:
        warnings.append(f"{bad_samples} non-finite joint/base value(s) were ignored")

    start_ns, stop_ns, start_msg, stop_msg = _episode_bounds(events, path, warnings)
    if start_msg.embodiment and start_msg.embodiment != emb.name:
        raise BagError(f"{path}: episode recorded for embodiment {start_msg.embodiment!r}, converting as {emb.name!r}")
    if stop_ns is None:
        last = max([s[0][-1] for s in state_samples if s[0]] + cmd_stamps, default=start_ns)
        stop_ns = last
        warnings.append("no STOP event (recording cut short?): the episode ends at the last sample")
    task = start_msg.task or _latest_instruction(instructions, start_ns)
    if not task:
        raise BagError(f"{path}: no task: the START event has none and no {INSTRUCTION_TOPIC} was recorded")

    state = [TimeSeries.from_samples(stamps, values) for stamps, values in state_samples]
    for i, series in enumerate(state):
        if not len(series):
            raise BagError(f"{path}: no samples for {emb.dim_names[i]} (not in any message of its topic)")
    if not cmd_rows:
        raise BagError(f"{path}: no usable {COMMAND_TOPIC} messages: the episode has no actions")
    images = {}
    for slot, stamps in image_stamps.items():
        topic, transport = cam_topics[slot]
        if not stamps:
            raise BagError(f"{path}: camera {slot!r} ({topic}) has no frames")
        stamps_arr = np.asarray(stamps, dtype=np.int64)
        order = np.argsort(stamps_arr, kind="stable")
        images[slot] = ImageStream(slot, topic, transport, stamps_arr[order], order,
                                   np.asarray(image_logs[slot], dtype=np.int64))
    return EpisodeStreams(
        path=path, namespace=ns, start_ns=start_ns, stop_ns=stop_ns, task=task,
        success=bool(stop_msg.success) if stop_msg is not None else None,
        source_episode_index=int(start_msg.episode_index), dim_names=emb.dim_names,
        state=state, commands=TimeSeries.from_samples(cmd_stamps, cmd_rows, emb.valid_dims),
        images=images, warnings=warnings,
    )  # fmt: skip


def _command_row(msg, emb: Embodiment, path: Path) -> np.ndarray | None:
    """Row 0 of an ExecutorCommand; None for non-finite values. Wrong sizes mean another robot: BagError."""
    n, d = int(msg.num_points), int(msg.valid_dims)
    positions = np.asarray(msg.positions, dtype=np.float64)
    if msg.embodiment and msg.embodiment != emb.name:
        raise BagError(f"{path}: {COMMAND_TOPIC} is for embodiment {msg.embodiment!r}, not {emb.name!r}")
    if d != emb.valid_dims or n < 1 or positions.size != n * d:
        raise BagError(f"{path}: {COMMAND_TOPIC} has {positions.size} values for {n} points x {d} dims; "
                       f"{emb.name} needs {emb.valid_dims} dims and at least one point")  # fmt: skip
    row = positions[:d]
    return row if np.all(np.isfinite(row)) else None


def _episode_bounds(events: list, path: Path, warnings: list[str]):
    """(start, stop or None, START message, STOP message or None): the first START and the first STOP after it."""
    events.sort(key=lambda e: e[0])
    starts = [(t, m) for t, m in events if m.event == START]
    if not starts:
        raise BagError(f"{path}: no START on {EVENT_TOPIC}")
    if len(starts) > 1:
        warnings.append(f"{len(starts)} START events; the first one is used")
    start_ns, start_msg = starts[0]
    stop = next(((t, m) for t, m in events if m.event == STOP and t >= start_ns), None)
    return start_ns, (stop[0] if stop else None), start_msg, (stop[1] if stop else None)


def _latest_instruction(instructions: list[tuple[int, str]], start_ns: int) -> str:
    """The last instruction sent before the START (else the first one after it)."""
    before = [text for t, text in sorted(instructions) if t <= start_ns and text.strip()]
    after = [text for t, text in sorted(instructions) if t > start_ns and text.strip()]
    return before[-1] if before else (after[0] if after else "")


def iter_images(path: str | Path, streams: EpisodeStreams,
                needed: dict[str, set[int]]) -> Iterator[tuple[str, int, np.ndarray]]:
    """Pass 2: decode the needed camera frames, in bag order.

    Args:
        path: the bag.
        streams: pass 1's result (topics and stamp order).
        needed: slot -> indices into ``streams.images[slot].stamps`` (sorted order) to decode.

    Yields:
        (slot, sorted index, uint8 RGB [H, W, 3]).

    Raises:
        BagError: an undecodable frame (naming topic and stamp) or a read error.
    """
    path = Path(path)
    by_topic = {s.topic: s for s in streams.images.values()}
    # bag position -> sorted index, for the frames we need
    wanted = {s.topic: {int(s.bag_order[i]): i for i in needed.get(s.slot, ())} for s in streams.images.values()}
    reader = open_reader(path)
    try:
        counters = dict.fromkeys(by_topic, 0)
        connections = [c for c in reader.connections if c.topic in by_topic]
        window = _log_window(streams, wanted)
        if window is not None:  # start at the episode's first frame; positions count from there
            for topic, stream in by_topic.items():
                counters[topic] = int(np.searchsorted(stream.log_times, window[0], side="left"))
        span = {"start": window[0], "stop": window[1] + 1} if window is not None else {}
        for conn, _, raw in reader.messages(connections=connections, **span):
            position = counters[conn.topic]
            counters[conn.topic] += 1
            index = wanted[conn.topic].get(position)
            if index is None:
                continue
            stream = by_topic[conn.topic]
            msg = reader.deserialize(raw, conn.msgtype)
            try:
                rgb = image_to_rgb(msg) if stream.transport == "raw" else compressed_to_rgb(msg)
            except ImageConversionError as e:
                raise BagError(f"{path}: {conn.topic} frame at {int(stream.stamps[index])} ns: {e}") from None
            yield stream.slot, index, rgb
    except BagError:
        raise
    except Exception as e:
        raise BagError(f"{path}: unreadable while decoding images: {type(e).__name__}: {e}") from None
    finally:
        reader.close()


def _log_window(streams: EpisodeStreams, wanted: dict[str, dict[int, int]]) -> tuple[int, int] | None:
    """(first, last) receive time of the frames to decode, when every camera's receive times are known."""
    if not wanted or any(s.log_times is None for s in streams.images.values()):
        return None
    times = [int(s.log_times[position]) for s in streams.images.values() for position in wanted[s.topic]]
    return (min(times), max(times)) if times else None
