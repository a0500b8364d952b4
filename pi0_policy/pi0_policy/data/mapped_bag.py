"""Episodes from any rosbag2 bag (mcap or sqlite3, metadata v5-v9), through a mapping file
(:mod:`.mapping`) that names the topics of the user's own stack.

Pass 1 reads the state, action, task and episode topics and the cameras' stamps into the same
:class:`~.bag_reader.EpisodeStreams` that the suite's own bags give, one per episode (the whole bag, fixed
windows, or bounds from a topic), so alignment and the camera pass are shared. Each topic's messages are
placed at their header stamp or their receive time, as the mapping says; for every topic with headers the
report gives the median (receive - header) offset, which shows clocks of different machines that disagree.

Every topic the mapping names must be in the bag exactly once with a type that fits; otherwise
:class:`~.bag_reader.BagError` says which and lists every topic the bag holds with its type.
"""

from __future__ import annotations

import math
from array import array
from pathlib import Path

import numpy as np

from pi0_common.embodiment import Embodiment

from .align import TimeSeries
from .bag_reader import IMAGE_TYPES, START, STOP, BagError, EpisodeStreams, ImageStream, cdr_header_stamp, read_bag
from .mapped_actions import ActionBuilder
from .mapping import COMMAND_TYPES, EPISODE_TYPES, Mapping, TopicSpec

NS = 1_000_000_000
JOINT_STATE = "sensor_msgs/msg/JointState"
CLOCK_SPREAD_WARNING_S = 0.05  # topics whose receive-minus-header offsets differ more than this are reported


def find_topic(spec: TopicSpec, available: dict[str, str], types: tuple[str, ...], role: str, path: Path) -> str:
    """The bag topic a mapping entry names: an absolute name as is; a relative one must end exactly one topic."""
    name = spec.topic
    if name.startswith("/"):
        matches = [name] if name in available else []
    else:
        matches = [t for t in available if t == "/" + name or t.endswith("/" + name)]
    if not matches:
        raise BagError(f"{path}: {role}: no topic {name!r} in the bag; it holds {_listing(available)}")
    if len(matches) > 1:
        raise BagError(f"{path}: {role}: {name!r} is ambiguous, it matches {sorted(matches)}; give the full name")
    topic = matches[0]
    if available[topic] not in types:
        raise BagError(f"{path}: {role}: {topic} is {available[topic]}, expected {' or '.join(types)}; "
                       f"the bag holds {_listing(available)}")  # fmt: skip
    return topic


def _listing(available: dict[str, str]) -> str:
    return ", ".join(f"{t} ({available[t]})" for t in sorted(available))


def read_mapped(path: str | Path, emb: Embodiment, mapping: Mapping,
                slots: tuple[str, ...]) -> tuple[list[EpisodeStreams], dict]:
    """Pass 1 of a bag through a mapping: its episodes, and a summary (clock offsets per topic).

    Raises:
        BagError: unreadable bag, missing/ambiguous/mistyped topics, no samples, no task, no episode.
    """
    return read_bag(path, _read, emb, mapping, slots)


def _state_topics(emb: Embodiment, mapping: Mapping, available: dict, path: Path) -> dict[str, tuple[str, dict]]:
    """topic -> (stamp choice, joint name -> (unified dim, converter or None))."""
    arms = {arm.name: (arm, joints, grip) for arm, joints, grip in emb.arm_slices()}
    out = {}
    for spec in mapping.state:
        topic = find_topic(spec, available, (JOINT_STATE,), "state", path)
        if spec.arm is not None and spec.arm not in arms:
            raise BagError(f"{path}: state {topic}: {emb.name} has no arm {spec.arm!r}; its arms are {sorted(arms)}")
        if spec.arm is None and len(arms) > 1:
            named = [a for a in arms.values() if topic.endswith("/" + a[0].joint_state_topic.lstrip("/"))]
            if len(named) != 1:
                raise BagError(f"{path}: state {topic}: {emb.name} has arms {sorted(arms)} with the same joint "
                               "names; say whose joints it holds ({topic: ..., arm: NAME})")  # fmt: skip
            chosen = named
        else:
            chosen = [arms[spec.arm]] if spec.arm else list(arms.values())
        by_name = {}
        for arm, joint_idx, grip_idx in chosen:
            by_name.update({j.name: (i, None) for j, i in zip(arm.joints, joint_idx, strict=True)})
            if grip_idx is not None:
                by_name[arm.gripper.joint] = (grip_idx, arm.gripper.to_unified)
        out[topic] = (spec.stamp, by_name)
    return out


def _read(reader, path: Path, emb: Embodiment, mapping: Mapping, slots: tuple[str, ...]):
    available = {c.topic: c.msgtype for c in reader.connections}
    state_topics = _state_topics(emb, mapping, available, path)
    cams = {}
    for slot in slots:
        if slot not in mapping.cameras:
            raise BagError(f"{path}: camera {slot!r} is not in the mapping's cameras ({sorted(mapping.cameras)})")
        topic = find_topic(mapping.cameras[slot], available, tuple(IMAGE_TYPES.values()), f"camera {slot}", path)
        transport = "raw" if available[topic] == IMAGE_TYPES["raw"] else "compressed"
        cams[topic] = (slot, transport, mapping.cameras[slot].stamp)
    odom = None
    if emb.base is not None:
        if mapping.odometry is None:
            raise BagError(f"{path}: {emb.name} has a base: the mapping needs odometry (nav_msgs/Odometry)")
        odom = find_topic(mapping.odometry, available, ("nav_msgs/msg/Odometry",), "odometry", path)
    actions = ActionBuilder(emb, mapping, available, path, find_topic)
    task_topic = (find_topic(mapping.task_topic, available, ("std_msgs/msg/String",), "task", path)
                  if mapping.task_topic else None)  # fmt: skip
    episode_topic = (find_topic(mapping.episode_topic, available, EPISODE_TYPES, "episodes", path)
                     if mapping.episode_topic else None)  # fmt: skip
    if not mapping.task_text and task_topic is None:
        raise BagError(f"{path}: no task: give it (--task or task.text) or name a std_msgs/String topic (task.topic)")

    state = [(array("q"), array("d")) for _ in range(emb.valid_dims)]
    images = {topic: array("q") for topic in cams}
    image_logs = {topic: array("q") for topic in cams}
    base_axes = dict(zip(emb.base.axes, emb.base_indices(), strict=True)) if emb.base is not None else {}
    offsets: dict[str, array] = {}
    instructions, events = [], []
    stamps = {**{t: s for t, (s, _) in state_topics.items()}, **{t: c[2] for t, c in cams.items()},
              **actions.stamps}  # fmt: skip
    if odom:
        stamps[odom] = mapping.odometry.stamp
    if episode_topic:
        stamps[episode_topic] = mapping.episode_topic.stamp
    wanted = set(stamps) | {task_topic}
    bad = 0
    for conn, log_time, raw in reader.messages(connections=[c for c in reader.connections if c.topic in wanted]):
        topic = conn.topic
        offset = offsets.setdefault(topic, array("q"))
        if topic in images:  # only the header stamp: no image is deserialized in this pass
            images[topic].append(_time(cdr_header_stamp(raw), log_time, stamps[topic], offset))
            image_logs[topic].append(int(log_time))
            continue
        msg = reader.deserialize(raw, conn.msgtype)
        header = getattr(msg, "header", None)
        stamp = int(header.stamp.sec) * NS + int(header.stamp.nanosec) if header is not None else 0
        t = _time(stamp, log_time, stamps.get(topic, "receive"), offset)
        if topic in state_topics:
            by_name = state_topics[topic][1]
            for name, value in zip(msg.name, msg.position, strict=False):
                entry = by_name.get(name)
                if entry is not None and math.isfinite(value):
                    state[entry[0]][0].append(t)
                    state[entry[0]][1].append(entry[1](value) if entry[1] else float(value))
                elif entry is not None:
                    bad += 1
        elif topic == odom:
            twist = msg.twist.twist
            measured = {"vx": twist.linear.x, "vy": twist.linear.y, "wz": twist.angular.z}
            for axis, i in base_axes.items():
                state[i][0].append(t)
                state[i][1].append(float(measured[axis]))
        elif topic == task_topic:
            instructions.append((int(log_time), str(msg.data)))
        elif topic == episode_topic:
            events.append((t, msg))
        else:
            actions.add(topic, t, msg)
    series = [TimeSeries.from_samples(s, v) for s, v in state]
    for i, s in enumerate(series):
        if not len(s):
            raise BagError(f"{path}: no samples for {emb.dim_names[i]} in {sorted(state_topics)}")
    commands = actions.series()
    image_streams = {}
    for topic, (slot, transport, _) in cams.items():
        stamps_arr = np.asarray(images[topic], dtype=np.int64)
        if not len(stamps_arr):
            raise BagError(f"{path}: camera {slot!r} ({topic}) has no frames")
        order = np.argsort(stamps_arr, kind="stable")
        image_streams[slot] = ImageStream(slot, topic, transport, stamps_arr[order], order,
                                          np.asarray(image_logs[topic], dtype=np.int64))  # fmt: skip
    summary = _clock_summary(offsets)
    warnings = list(actions.warnings) + summary.pop("warnings")
    if bad:
        warnings.append(f"{bad} non-finite joint value(s) were ignored")
    first = min(int(s.stamps[0]) for s in series + [commands])
    last = max(int(s.stamps[-1]) for s in series + [commands])
    bounds = _bounds(mapping, events, first, last, path, warnings)
    episodes = []
    for k, (start, stop, task) in enumerate(bounds):
        task = task or mapping.task_text or _instruction_at(instructions, start)
        if not task:
            raise BagError(f"{path}: episode {k}: no task: nothing on {task_topic} before or after it")
        episodes.append(EpisodeStreams(
            path=path, namespace="", start_ns=start, stop_ns=stop, task=task, success=None, source_episode_index=k,
            dim_names=emb.dim_names, state=series, commands=commands, images=image_streams,
            warnings=list(warnings)))  # fmt: skip
    return episodes, summary


def _time(stamp: int, log_time: int, choice: str, offsets: array) -> int:
    """A message's time as chosen (its header stamp, or the receive time: also when the stamp is 0 or there
    is no header); records receive - header for the clock report."""
    if stamp <= 0:
        return int(log_time)
    offsets.append(int(log_time) - stamp)
    return stamp if choice == "header" else int(log_time)


def _clock_summary(offsets: dict[str, array]) -> dict:
    """Median receive - header offset per topic (ms), and a warning when they disagree."""
    medians = {t: float(np.median(np.asarray(v))) / 1e6 for t, v in offsets.items() if len(v)}
    warnings = []
    if medians and max(medians.values()) - min(medians.values()) > CLOCK_SPREAD_WARNING_S * 1e3:
        listing = ", ".join(f"{t} {m:+.1f} ms" for t, m in sorted(medians.items()))
        warnings.append(f"header stamps disagree with receive times by different amounts per topic (clocks of "
                        f"different machines?): {listing}")  # fmt: skip
    return {"clock_offsets_ms": medians, "warnings": warnings}


def _bounds(mapping: Mapping, events: list, first: int, last: int, path: Path, warnings: list) -> list:
    """[(start_ns, stop_ns, task or "")] of the bag's episodes."""
    if mapping.episode_mode == "bag":
        return [(first, last, "")]
    if mapping.episode_mode == "window":
        step = int(round(mapping.window_s * NS))
        out = [(s, min(s + step, last), "") for s in range(first, last, step)]
        if len(out) > 1 and out[-1][1] - out[-1][0] < step // 2:
            warnings.append(f"the last {(out[-1][1] - out[-1][0]) / NS:.1f} s (under half a window) are left out")
            out.pop()
        return out
    out, start, task = [], None, ""
    for t, msg in sorted(events, key=lambda e: e[0]):
        begin, end, text = _event(msg)
        if begin and start is None:
            start, task = t, text
        elif end and start is not None:
            out.append((start, t, task))
            start = None
    if start is not None:
        warnings.append("the last episode has no stop: it ends at the last sample")
        out.append((start, last, task))
    if not out:
        raise BagError(f"{path}: no episode start on {mapping.episode_topic.topic}")
    return out


def _event(msg) -> tuple[bool, bool, str]:
    """(starts, stops, task) of an episode-topic message."""
    if hasattr(msg, "event"):
        return msg.event == START, msg.event == STOP, str(msg.task)
    data = msg.data
    if isinstance(data, str):
        return data.strip().lower() == "start", data.strip().lower() == "stop", ""
    return bool(data), not bool(data), ""


def _instruction_at(instructions: list[tuple[int, str]], start: int) -> str:
    before = [text for t, text in sorted(instructions) if t <= start and text.strip()]
    after = [text for t, text in sorted(instructions) if t > start and text.strip()]
    return before[-1] if before else (after[0] if after else "")


__all__ = ["COMMAND_TYPES", "find_topic", "read_mapped"]
