"""The episode state machine of the recorder, without ROS: which topics are recorded (with the type
and QoS their publishers offer), the last message of latched topics and of the instruction, episodes
started and stopped (or refused, with the reason), the START and STOP events written into each bag
(STOP with per-topic counts of messages received, lost and late: topic_counts.py), and the free-space
floor.

The node (recorder_node.py) feeds it: topics as discovery finds them, serialized messages as they
arrive, the middleware's message-lost events, service requests, disk checks. Time comes from a clock
function (ROS time in the node), and events go out through a callback (the node publishes them on
pi0/episode_event), so tests drive it with a fake clock and a list.

No rclpy, no message classes: events are serialized with the rosbags typestore.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

import numpy as np
from rosbags.interfaces import Qos
from rosbags.serde import SerdeError

from pi0_recording.disk import DiskGuard, free_mb
from pi0_recording.episode_bag import BagClosedError, EpisodeBag
from pi0_recording.naming import BagPathError, new_bag_path
from pi0_recording.topic_counts import HEADER, EpisodeCounts
from pi0_recording.topics import EPISODE_EVENT, STRING
from pi0_recording.typestore import TypeRegistry

START, STOP = 0, 1                 # pi0_msgs/EpisodeEvent.START / STOP
DISK_ERROR_LOG_PERIOD = 10.0       # s between two complaints that free space cannot be read


class Log(Protocol):
    """What the recorder logs through: an rclpy logger or a logging.Logger."""

    def info(self, message: str) -> None: ...
    def warning(self, message: str) -> None: ...
    def error(self, message: str) -> None: ...


@dataclass(frozen=True)
class RecordedTopic:
    msgtype: str
    offers: list[Qos]              # the publishers' QoS, written into the bag for `ros2 bag play`
    latched: bool
    role: str                      # topics.ROLES
    stamped: bool                  # the type starts with a std_msgs/Header (lateness can be measured)


@dataclass(frozen=True)
class EpisodeEventData:
    """One pi0_msgs/EpisodeEvent, as plain values."""

    event: int                     # START or STOP
    episode_index: int
    embodiment: str
    task: str
    success: bool
    stamp_ns: int
    counts: tuple[tuple[str, int, int, int], ...] = ()   # STOP: (topic, received, lost, late) per topic


@dataclass
class Episode:
    index: int
    path: Path
    bag: EpisodeBag
    task: str
    start_ns: int
    counts: EpisodeCounts


@dataclass(frozen=True)
class Stopped:
    index: int
    path: Path
    duration: float                # seconds
    text: str                      # what happened, for the log and the service answer
    discarded: bool


class StartRefusedError(RuntimeError):
    """An episode cannot start; the message says why."""


def event_cdr(types: TypeRegistry, event: EpisodeEventData) -> bytes:
    """The exact CDR bytes of an episode event. Not rclpy's serialize_message: with Fast DDS it
    returns the estimated size, trailing bytes included, which strict readers (rosbags) refuse."""
    ts = types.typestore
    sec, nanosec = divmod(event.stamp_ns, 1_000_000_000)
    header = ts.types['std_msgs/msg/Header'](ts.types['builtin_interfaces/msg/Time'](sec, nanosec), '')
    columns = list(zip(*event.counts, strict=True)) or [(), (), (), ()]
    topics, received, lost, late = ([*columns[0]], *(np.array(c, dtype=np.uint64) for c in columns[1:]))
    msg = ts.types[EPISODE_EVENT](header, event.event, event.episode_index, event.embodiment, event.task,
                                  event.success, topics, received, lost, late)
    return bytes(ts.serialize_cdr(msg, EPISODE_EVENT))


class EpisodeRecorder:
    """Args:
        embodiment: the embodiment's name (in the events and the bag metadata).
        output_dir: an existing, writable folder for the bags.
        prefix: bag folder name prefix (naming.py).
        types: message definitions; every recorded type must be known to it.
        event_topic: resolved name of the episode event topic in the bags.
        event_qos: the QoS the event publisher offers (written into the bags).
        clock_ns: the current time in nanoseconds (log times of the messages, event stamps).
        publish_event: called with every START and STOP, after it is in the bag.
        disk_floor_mb: MiB of free space below which episodes stop and are refused.
        free_space: MiB free on output_dir's file system (default: disk.free_mb).
        compression: mcap chunk compression, 'none' or 'zstd'.
        camera_transport: the run's camera transport, for the bag metadata ('' = embodiment file).
        late_threshold: seconds between a message's header stamp and its arrival above which it counts
            as late in the STOP event (topic_counts.py); 0 counts none.
        log: where refusals, failures and finished episodes are reported.

    Thread-safe: the node's callbacks all run on its one executor thread, but in-process users
    (collect_demos, tests) read the state from theirs and main() finishes the episode at shutdown.
    """

    def __init__(self, *, embodiment: str, output_dir: Path, prefix: str, types: TypeRegistry,
                 event_topic: str, event_qos: Qos, clock_ns: Callable[[], int],
                 publish_event: Callable[[EpisodeEventData], None], disk_floor_mb: float,
                 free_space: Callable[[], float] | None = None, compression: str = 'none',
                 camera_transport: str = '', late_threshold: float = 0.1, log: Log | None = None):
        self.embodiment, self.output_dir, self.prefix = embodiment, Path(output_dir), prefix
        self.types, self.compression, self.camera_transport = types, compression, camera_transport
        self.event_topic, self.event_qos = event_topic, event_qos
        self.clock_ns, self.publish_event = clock_ns, publish_event
        self.free_space = free_space or (lambda: free_mb(self.output_dir))
        self.log = log or logging.getLogger('pi0_recorder')
        self.disk = DiskGuard(disk_floor_mb)
        self.late_threshold_ns = int(late_threshold * 1e9)
        self.episodes_recorded = 0
        self._lock = threading.RLock()
        self._topics: dict[str, RecordedTopic] = {}
        self._latched: dict[str, bytes] = {}
        self._instruction = ''
        self._episode: Episode | None = None
        self._min_index = 0
        self._disk_error_logged_at = -float('inf')

    # ------------------------------------------------------------------ state
    @property
    def running(self) -> bool:
        """Whether an episode is being recorded (False only once its bag is finished)."""
        with self._lock:
            return self._episode is not None

    @property
    def episode_index(self) -> int | None:
        """The running episode's index, None when none runs."""
        with self._lock:
            return None if self._episode is None else self._episode.index

    @property
    def topics(self) -> list[str]:
        """The topics being recorded (resolved names), in the order they were added."""
        with self._lock:
            return list(self._topics)

    @property
    def instruction(self) -> str:
        """The last instruction received (the task of an episode started without one)."""
        with self._lock:
            return self._instruction

    def latched_message(self, topic: str) -> bytes | None:
        """The last message of a latched topic or of the instruction, as every new bag gets it."""
        with self._lock:
            return self._latched.get(topic)

    # ------------------------------------------------------------------ data path
    def add_topic(self, topic: str, msgtype: str, offers: list[Qos], latched: bool, role: str) -> None:
        """Record a topic from now on (a running episode gets it too). msgtype must be known to types."""
        fields = self.types.typestore.fielddefs[msgtype][1]
        stamped = bool(fields) and fields[0][1][1] == HEADER
        with self._lock:
            self._topics[topic] = RecordedTopic(msgtype, list(offers), latched, role, stamped)
            if self._episode is not None:
                self._episode.bag.add_topic(topic, msgtype, offers)
                self._episode.counts.add_topic(topic)

    def on_message(self, topic: str, data: bytes) -> None:
        """One serialized message of a recorded topic, as it arrived (log time: now)."""
        stamp = self.clock_ns()
        with self._lock:
            recorded = self._topics[topic]
            # The instruction stays in force until the next one, latched or not: every bag gets it.
            if recorded.latched or recorded.role == 'instruction':
                self._latched[topic] = data
            if recorded.role == 'instruction' and recorded.msgtype == STRING:
                try:
                    self._instruction = self.types.typestore.deserialize_cdr(data, STRING).data
                except SerdeError as e:
                    self.log.error(f'{topic}: an instruction that cannot be decoded ({e}); keeping the last one')
            episode = self._episode
            if episode is None:
                return
            try:
                episode.bag.write(topic, stamp, data)
            except OSError as e:
                self.log.error(f'writing {topic} to {episode.path} failed: {e}; stopping the episode')
                self._finish(False, 'write_error')
                return
            episode.counts.received(topic, data, stamp, recorded.stamped)

    def on_message_lost(self, topic: str, count: int) -> None:
        """The middleware reports ``count`` more messages of a topic lost (a subscription's message-lost
        event); they count against the running episode, and are not counted between episodes."""
        with self._lock:
            if self._episode is not None:
                self._episode.counts.lost(topic, count)

    # ------------------------------------------------------------------ episodes
    def start(self, task: str = '') -> Episode:
        """Open a new bag and write the latched messages and START into it.

        Args:
            task: the episode's task; empty: the last instruction received.

        Raises:
            StartRefusedError: an episode runs, free space is below the floor, there is no task, or the
                bag cannot be created (nothing is left open then).
        """
        with self._lock:
            task = task.strip() or self._instruction.strip()
            if (running := self._episode) is not None:
                raise StartRefusedError(f'episode {running.index} is running ({running.path}); stop it first')
            self.check_disk()
            if self.disk.low:
                raise StartRefusedError(f'not enough disk space: {self.disk.describe()}')
            if not task:
                raise StartRefusedError('no task: set StartEpisode.task (or publish the instruction on pi0/instruction '
                                   'first)')
            try:
                index, path = new_bag_path(self.output_dir, self.prefix, datetime.now(), self._min_index)
                self._min_index = index + 1
                self._episode = self._open(index, path, task)
            except (BagPathError, OSError) as e:
                raise StartRefusedError(f'cannot open a bag: {e}') from None
            return self._episode

    def _open(self, index: int, path: Path, task: str) -> Episode:
        """Raises BagPathError or OSError with nothing left open (a half-made folder stays, never reused)."""
        bag = EpisodeBag(path, self.types, self.compression)
        try:
            now = self.clock_ns()
            for topic, recorded in self._topics.items():
                bag.add_topic(topic, recorded.msgtype, recorded.offers)
            bag.add_topic(self.event_topic, EPISODE_EVENT, [self.event_qos])
            bag.set_custom_data({
                'embodiment': self.embodiment, 'task': task, 'episode_index': str(index),
                'camera_transport': self.camera_transport or 'embodiment file',
                'started_at': datetime.now().isoformat(timespec='seconds'), 'recorder': 'pi0_recording/pi0_recorder'})
            episode = Episode(index, path, bag, task, now, EpisodeCounts(list(self._topics), self.late_threshold_ns))
            for topic, data in self._latched.items():     # e.g. the instruction set once, long ago
                bag.write(topic, now, data)
            self._emit(episode, START, False, now)
        except BaseException:
            bag.abort()
            raise
        return episode

    def _emit(self, episode: Episode, kind: int, success: bool, stamp_ns: int) -> None:
        """Write an episode event into the bag, then hand it to publish_event."""
        event = EpisodeEventData(kind, episode.index, self.embodiment, episode.task, success, stamp_ns,
                                 episode.counts.rows() if kind == STOP else ())
        episode.bag.write(self.event_topic, stamp_ns, event_cdr(self.types, event))
        self.publish_event(event)

    def stop(self, success: bool, discard: bool = False, reason: str = 'operator') -> Stopped | None:
        """Write STOP and finish the bag (or delete it: discard). None when no episode runs."""
        with self._lock:
            return self._finish(success, reason, discard) if self._episode is not None else None

    def finish(self, reason: str = 'shutdown') -> None:
        """Stop a running episode (success false) and finish its bag; nothing when none runs."""
        self.stop(False, reason=reason)

    def _finish(self, success: bool, reason: str, discard: bool = False) -> Stopped:
        episode, self._episode = self._episode, None
        now = self.clock_ns()
        duration = max(0.0, (now - episode.start_ns) * 1e-9)
        bag = episode.bag
        try:
            self._emit(episode, STOP, success, now)
            bag.set_custom_data({'success': str(bool(success)).lower(), 'stop_reason': reason,
                                 'duration_s': f'{duration:.3f}'})
            bag.close()
        except (OSError, BagClosedError) as e:
            bag.abort()
            text = f'episode {episode.index}: the bag could not be finished ({e}); {episode.path} has no index'
            self.log.error(text)
            return Stopped(episode.index, episode.path, duration, text, False)
        if discard:
            shutil.rmtree(episode.path, ignore_errors=True)
            text = f'episode {episode.index} discarded ({episode.path} deleted)'
        else:
            self.episodes_recorded += 1
            text = (f'episode {episode.index} stopped ({reason}, success={str(bool(success)).lower()}): '
                    f'{duration:.1f} s, {bag.message_count} messages, {bag.bytes_written / 1e6:.1f} MB '
                    f'in {episode.path}')
            if problems := episode.counts.summary():
                text += f'; {problems}'
        self.log.info(text)
        return Stopped(episode.index, episode.path, duration, text, discard)

    # ------------------------------------------------------------------ disk
    def check_disk(self) -> None:
        """Read the free space: below the floor a running episode is stopped cleanly ('disk_floor')
        and new ones are refused until it is back (disk.DiskGuard)."""
        try:
            free = self.free_space()
        except OSError as e:
            if time.monotonic() - self._disk_error_logged_at >= DISK_ERROR_LOG_PERIOD:
                self._disk_error_logged_at = time.monotonic()
                self.log.error(f'cannot check free space on {self.output_dir}: {e}')
            return
        with self._lock:
            change = self.disk.update(free)
            if change == 'low':
                stopped = ''
                if self._episode is not None:
                    stopped = f'episode {self._episode.index} stopped and its bag finished; '
                    self._finish(False, 'disk_floor')
                self.log.error(
                    f'free space on {self.output_dir} is {free:.0f} MiB, below the floor of {self.disk.floor_mb:.0f} '
                    f'MiB (disk_floor_mb): {stopped}new episodes are refused until space is back')
            elif change == 'ok':
                self.log.info(f'free space is back ({self.disk.describe()}): episodes may start again')

    def set_disk_floor(self, floor_mb: float) -> None:
        """Takes effect at the next check_disk."""
        with self._lock:
            self.disk.set_floor(floor_mb)
