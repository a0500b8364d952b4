"""Recorder node: one rosbag2 bag (metadata.yaml + mcap, version 8) per teleoperation episode.

Subscribes  (serialized, as they arrive) the embodiment's cameras, joint states, odometry,
            pi0/command, the driver's interface topics, pi0/instruction and extra_topics; each
            topic once a publisher shows up in the graph, with the type and QoS it offers
Publishes   pi0/episode_event (pi0_msgs/EpisodeEvent, latched); START and STOP also go into the bag
Services    pi0/recorder/start_episode (pi0_msgs/StartEpisode), pi0/recorder/stop_episode (StopEpisode)

Nothing recorded is lost on the way out: SIGINT and SIGTERM stop the episode and finish the bag
(index, summary, metadata.yaml) after a short drain of what the readers already hold; free space
below disk_floor_mb stops the episode the same way and refuses new ones until space is back; a new
episode always gets a new folder (see naming.py). The last message of latched topics and of the
instruction is written at the start of every episode, so each bag holds the instruction even if it
was set once, long before.
"""

from __future__ import annotations

import importlib
import os
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

import rclpy
from pi0_msgs.msg import EpisodeEvent
from pi0_msgs.srv import StartEpisode, StopEpisode
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from rclpy.signals import SignalHandlerOptions
from rosbags.interfaces import Qos
from std_msgs.msg import String

from pi0_common.embodiment import EmbodimentError, load_embodiment
from pi0_common.messages import to_time_msg
from pi0_common.params import Param, ParameterError, declare_all, non_negative, one_of, positive
from pi0_common.qos import LATCHED_QOS, warn_on_incompatible_qos
from pi0_drivers.recording.disk import DiskGuard, free_mb
from pi0_drivers.recording.episode_bag import BagClosedError, EpisodeBag
from pi0_drivers.recording.naming import BagPathError, check_prefix, new_bag_path
from pi0_drivers.recording.topics import (
    EPISODE_EVENT,
    EPISODE_EVENT_TOPIC,
    STRING,
    TopicSpec,
    adapted_request,
    bag_qos,
    recorded_topics,
)
from pi0_drivers.recording.typestore import TypeRegistry, UnknownTypeError

PARAMETERS = [
    Param('embodiment', 'ur5e', 'Embodiment name (a file in pi0_common/embodiments) or a YAML path: '
          'decides the recorded topics.'),
    Param('output_dir', '', 'Folder for the episode bags (created if missing). Required.',
          lambda v: None if v.strip() else 'required: the folder to write episode bags into'),
    Param('prefix', '', 'Bag folder name prefix; empty = the embodiment name.',
          lambda v: check_prefix(v) if v else None),
    Param('camera_transport', '', 'raw (sensor_msgs/Image) or compressed (CompressedImage on <topic>/compressed) '
          'for every camera; empty keeps the embodiment file.', one_of('', 'raw', 'compressed')),
    Param('compression', 'none', 'mcap chunk compression: none or zstd (smaller raw-image bags, more CPU).',
          one_of('none', 'zstd')),
    Param('disk_floor_mb', 1024.0, 'MiB: below this much free space the running episode is stopped cleanly '
          'and new ones are refused until space is back. May be changed at run time.', non_negative,
          read_only=False),
    Param('disk_check_period', 1.0, 'Seconds between free-space checks.', positive),
    Param('discovery_period', 0.5, 'Seconds between looks at the ROS graph for the topics to record.', positive),
    Param('queue_depth', 100, 'Subscription queue depth (messages per topic buffered while writing).', positive),
    Param('shutdown_drain', 0.5, 'Seconds to keep writing after SIGINT/SIGTERM, so that messages already on '
          'their way are in the bag before it is finished.', non_negative),
]
EXTRA_TOPICS = 'extra_topics'


@dataclass
class _Subscribed:
    msgtype: str
    offers: list[Qos]
    latched: bool
    role: str


@dataclass
class _Episode:
    index: int
    path: Path
    bag: EpisodeBag
    task: str
    start_ns: int


def import_message(msgtype: str):
    """The Python class of 'pkg/msg/Name' (ImportError/AttributeError when not installed)."""
    package, _, name = msgtype.split('/')
    return getattr(importlib.import_module(f'{package}.msg'), name)


def prepare_output_dir(value: str) -> Path:
    """The absolute output folder, created if needed.

    Raises:
        ParameterError: it cannot be created or written to.
    """
    path = Path(value).expanduser().absolute()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ParameterError(f"pi0_recorder: parameter 'output_dir' = {value!r}: cannot create it: {e}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ParameterError(f"pi0_recorder: parameter 'output_dir' = {value!r}: {path} is not writable")
    return path


class RecorderNode(Node):
    def __init__(self, **kwargs):
        super().__init__('pi0_recorder', **kwargs)
        p = self.params = declare_all(self, PARAMETERS)
        # Declared by type: an empty list default would make it a byte array.
        extra = self.declare_parameter(EXTRA_TOPICS, Parameter.Type.STRING_ARRAY, ParameterDescriptor(
            read_only=True, description='More topics to record (types from the graph).')).value or []
        self.embodiment = load_embodiment(p.embodiment)
        self.output_dir = prepare_output_dir(p.output_dir)
        self.prefix = p.prefix or self.embodiment.name
        self.types = TypeRegistry()
        self.types.register_package('pi0_msgs')
        wanted = recorded_topics(self.embodiment, p.camera_transport, tuple(extra))
        self.specs: dict[str, TopicSpec] = {self.resolve_topic_name(s.name): s for s in wanted}
        self.disk = DiskGuard(p.disk_floor_mb)

        self._lock = threading.RLock()          # episode state, subscriptions, latched cache
        self._subs: dict[str, _Subscribed] = {}
        self._latched: dict[str, bytes] = {}
        self._instruction = ''
        self._episode: _Episode | None = None
        self._min_index = 0
        self._complained: set[str] = set()
        self.episodes_recorded = 0

        self._event_topic = self.resolve_topic_name(EPISODE_EVENT_TOPIC)
        self._event_pub = self.create_publisher(EpisodeEvent, EPISODE_EVENT_TOPIC, LATCHED_QOS)
        # Writes only take the bag's lock, so subscriptions may run side by side; services and
        # timers get a group of their own so that a burst of images never delays a stop request.
        self._sub_group = ReentrantCallbackGroup()
        control = MutuallyExclusiveCallbackGroup()
        self.create_service(StartEpisode, 'pi0/recorder/start_episode', self._on_start, callback_group=control)
        self.create_service(StopEpisode, 'pi0/recorder/stop_episode', self._on_stop, callback_group=control)
        self.create_timer(p.discovery_period, self._discover, callback_group=control)
        self.create_timer(p.disk_check_period, self._check_disk, callback_group=control)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._check_disk()
        self._discover()
        self.get_logger().info(
            f'{self.embodiment.name}: recording episodes into {self.output_dir} ({self.prefix}_ep<N>_<time>); '
            f'topics: {", ".join(self.specs)}')

    # ------------------------------------------------------------------ public (in-process users)
    @property
    def episode_running(self) -> bool:
        """Whether an episode is being recorded (False only once its bag is finished)."""
        with self._lock:
            return self._episode is not None

    @property
    def subscribed_topics(self) -> list[str]:
        with self._lock:
            return list(self._subs)

    def latched_message(self, topic: str) -> bytes | None:
        """The last message of a latched topic (resolved name), as the bags will get it."""
        with self._lock:
            return self._latched.get(self.resolve_topic_name(topic))

    def finish(self, reason: str = 'shutdown') -> None:
        """Stop a running episode (success false) and finish its bag."""
        with self._lock:
            if self._episode is not None:
                self._finish_episode(False, reason)

    def destroy_node(self):
        self.finish('shutdown')
        return super().destroy_node()

    # ------------------------------------------------------------------ discovery
    def _complain_once(self, key: str, text: str) -> None:
        if key not in self._complained:
            self._complained.add(key)
            self.get_logger().error(text)

    def _discover(self) -> None:
        """Subscribe to every wanted topic that has a publisher now, with its real type and QoS."""
        pending = [t for t in self.specs if t not in self._subs]
        if not pending:
            return
        graph = dict(self.get_topic_names_and_types())
        for topic in pending:
            spec = self.specs[topic]
            infos = self.get_publishers_info_by_topic(topic) if topic in graph else []
            if not infos:
                continue
            types = sorted({i.topic_type for i in infos})
            msgtype = spec.msgtype if spec.msgtype in types else types[0]
            if len(types) > 1:
                self._complain_once(f'types:{topic}', f'{topic}: publishers disagree on the type ({", ".join(types)}); '
                                    f'recording {msgtype} only')
            if spec.msgtype is not None and spec.msgtype != msgtype:
                self._complain_once(f'expected:{topic}', f'{topic}: expected {spec.msgtype}, the graph has {msgtype}; '
                                    f'recording what is published')
            try:
                self.types.ensure(msgtype)
                cls = import_message(msgtype)
            except (UnknownTypeError, ImportError, AttributeError, ValueError) as e:
                self._complain_once(f'import:{topic}', f'{topic} cannot be recorded: {msgtype}: {e}')
                continue
            offers = [bag_qos(i.qos_profile) for i in infos]
            reliable, latched = adapted_request(offers)
            qos = QoSProfile(depth=self.params.queue_depth, history=HistoryPolicy.KEEP_LAST,
                             reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)
            with self._lock:
                self._subs[topic] = _Subscribed(msgtype, offers, latched, spec.role)
                if self._episode is not None:
                    self._episode.bag.add_topic(topic, msgtype, offers)
            self.create_subscription(cls, topic, partial(self._on_message, topic), qos, raw=True,
                                     callback_group=self._sub_group,
                                     event_callbacks=warn_on_incompatible_qos(self, topic))
            self.get_logger().info(f'subscribed {topic} ({msgtype}, {"reliable" if reliable else "best effort"}'
                                   f'{", latched" if latched else ""})')

    # ------------------------------------------------------------------ data path
    def _on_message(self, topic: str, data: bytes) -> None:
        stamp = self.get_clock().now().nanoseconds
        with self._lock:
            sub = self._subs[topic]
            # The instruction stays in force until the next one, latched or not: every bag gets it.
            if sub.latched or sub.role == 'instruction':
                self._latched[topic] = data
            if sub.role == 'instruction' and sub.msgtype == STRING:
                self._instruction = deserialize_message(data, String).data
            episode = self._episode
        if episode is None:
            return
        try:
            episode.bag.write(topic, stamp, data)
        except BagClosedError:
            pass                           # the episode ended while this message was on its way
        except OSError as e:
            with self._lock:
                if self._episode is episode:
                    self.get_logger().error(f'writing {topic} to {episode.path} failed: {e}; stopping the episode')
                    self._finish_episode(False, 'write_error')

    # ------------------------------------------------------------------ episodes
    def _event(self, kind: int, episode: _Episode, success: bool, stamp_ns: int) -> EpisodeEvent:
        msg = EpisodeEvent(event=kind, episode_index=episode.index, embodiment=self.embodiment.name,
                           task=episode.task, success=success)
        msg.header.stamp = to_time_msg(stamp_ns * 1e-9)
        return msg

    def _event_cdr(self, msg: EpisodeEvent) -> bytes:
        """The exact CDR bytes of an event. Not rclpy's serialize_message: with Fast DDS it returns
        the estimated size, trailing bytes included, which strict readers (rosbags) refuse."""
        ts = self.types.typestore
        stamp = ts.types['builtin_interfaces/msg/Time'](msg.header.stamp.sec, msg.header.stamp.nanosec)
        header = ts.types['std_msgs/msg/Header'](stamp, msg.header.frame_id)
        event = ts.types[EPISODE_EVENT](header, msg.event, msg.episode_index, msg.embodiment, msg.task, msg.success)
        return bytes(ts.serialize_cdr(event, EPISODE_EVENT))

    def _emit(self, episode: _Episode, msg: EpisodeEvent, stamp_ns: int) -> None:
        """Write an episode event into the bag and publish it."""
        episode.bag.write(self._event_topic, stamp_ns, self._event_cdr(msg))
        if self.context.ok():
            self._event_pub.publish(msg)

    def _start_refusal(self, task: str) -> str | None:
        if self._episode is not None:
            return f'episode {self._episode.index} is running ({self._episode.path}); stop it first'
        self._check_disk()
        if self.disk.low:
            return f'not enough disk space: {self.disk.describe()}'
        if not task:
            return 'no task: set StartEpisode.task (or publish the instruction on pi0/instruction first)'
        return None

    def _open_episode(self, index: int, path: Path, task: str) -> None:
        """Create the bag, declare every topic, write the latched messages and START. Lock held.

        Raises:
            BagPathError, OSError: nothing is left open (a half-made folder stays, never reused).
        """
        bag = EpisodeBag(path, self.types, self.params.compression)
        try:
            now = self.get_clock().now().nanoseconds
            for topic, sub in self._subs.items():
                bag.add_topic(topic, sub.msgtype, sub.offers)
            bag.add_topic(self._event_topic, EPISODE_EVENT, [bag_qos(LATCHED_QOS)])
            bag.set_custom_data({
                'embodiment': self.embodiment.name, 'task': task, 'episode_index': str(index),
                'camera_transport': self.params.camera_transport or 'embodiment file',
                'started_at': datetime.now().isoformat(timespec='seconds'), 'recorder': 'pi0_drivers/pi0_recorder'})
            episode = _Episode(index, path, bag, task, now)
            for topic, data in self._latched.items():     # e.g. the instruction set once, long ago
                bag.write(topic, now, data)
            self._emit(episode, self._event(EpisodeEvent.START, episode, False, now), now)
        except BaseException:
            bag.abort()
            raise
        self._episode = episode

    def _on_start(self, request: StartEpisode.Request, response: StartEpisode.Response) -> StartEpisode.Response:
        with self._lock:
            task = request.task.strip() or self._instruction.strip()
            refusal = self._start_refusal(task)
            if refusal is None:
                try:
                    index, path = new_bag_path(self.output_dir, self.prefix, datetime.now(), self._min_index)
                    self._min_index = index + 1
                    self._open_episode(index, path, task)
                except (BagPathError, OSError) as e:
                    refusal = f'cannot open a bag: {e}'
            if refusal is not None:
                self.get_logger().warning(f'start_episode refused: {refusal}')
                response.success, response.message = False, refusal
                return response
            silent = [t for t in self.specs if t not in self._subs]
        text = f'recording episode {index} to {path}: "{task}"'
        if silent:
            text += f'; nothing published yet on {", ".join(silent)} (recorded once it is)'
        self.get_logger().info(text)
        response.success, response.message = True, text
        response.episode_index, response.bag_path = index, str(path)
        return response

    def _on_stop(self, request: StopEpisode.Request, response: StopEpisode.Response) -> StopEpisode.Response:
        with self._lock:
            if self._episode is None:
                response.ok, response.message = False, 'no episode is running'
                self.get_logger().warning('stop_episode refused: no episode is running')
                return response
            episode = self._episode
            duration, text = self._finish_episode(request.success, 'operator', request.discard)
        response.ok, response.message = True, text
        response.episode_index, response.duration = episode.index, duration
        response.bag_path = '' if request.discard else str(episode.path)
        return response

    def _finish_episode(self, success: bool, reason: str, discard: bool = False) -> tuple[float, str]:
        """Write STOP, finish the bag (or delete it). Call with the lock held. Returns (duration, text)."""
        episode, self._episode = self._episode, None
        now = self.get_clock().now().nanoseconds
        duration = max(0.0, (now - episode.start_ns) * 1e-9)
        bag = episode.bag
        try:
            self._emit(episode, self._event(EpisodeEvent.STOP, episode, success, now), now)
            bag.set_custom_data({'success': str(bool(success)).lower(), 'stop_reason': reason,
                                 'duration_s': f'{duration:.3f}'})
            bag.close()
        except (OSError, BagClosedError) as e:
            bag.abort()
            text = f'episode {episode.index}: the bag could not be finished ({e}); {episode.path} has no index'
            self.get_logger().error(text)
            return duration, text
        if discard:
            shutil.rmtree(episode.path, ignore_errors=True)
            text = f'episode {episode.index} discarded ({episode.path} deleted)'
        else:
            self.episodes_recorded += 1
            text = (f'episode {episode.index} stopped ({reason}, success={str(bool(success)).lower()}): '
                    f'{duration:.1f} s, {bag.message_count} messages, {bag.bytes_written / 1e6:.1f} MB '
                    f'in {episode.path}')
        self.get_logger().info(text)
        return duration, text

    # ------------------------------------------------------------------ disk
    def _check_disk(self) -> None:
        try:
            free = free_mb(self.output_dir)
        except OSError as e:
            self.get_logger().error(f'cannot check free space on {self.output_dir}: {e}', throttle_duration_sec=10.0)
            return
        with self._lock:
            change = self.disk.update(free)
            if change == 'low':
                stopped = ''
                if self._episode is not None:
                    stopped = f'episode {self._episode.index} stopped and its bag finished; '
                    self._finish_episode(False, 'disk_floor')
                self.get_logger().error(
                    f'free space on {self.output_dir} is {free:.0f} MiB, below the floor of {self.disk.floor_mb:.0f} '
                    f'MiB (disk_floor_mb): {stopped}new episodes are refused until space is back')
            elif change == 'ok':
                self.get_logger().info(f'free space is back ({self.disk.describe()}): episodes may start again')

    def _on_set_parameters(self, params) -> SetParametersResult:
        for param in params:
            if param.name == 'disk_floor_mb':
                if not isinstance(param.value, float | int) or param.value < 0:
                    return SetParametersResult(successful=False, reason='disk_floor_mb must be a number >= 0')
                self.disk.set_floor(param.value)   # takes effect at the next check (disk_check_period)
        return SetParametersResult(successful=True)


def main(args=None) -> None:
    """Run the recorder until SIGINT or SIGTERM, then drain, finish the bag and exit 0.

    rclpy's own signal handler would shut the context down at once, after which nothing more can be
    taken from the subscriptions; here the signal only sets a flag, the executor keeps spinning for
    shutdown_drain seconds (a second signal cuts it short), then the episode is finished.
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop, hurry = threading.Event(), threading.Event()

    def on_signal(_signum, _frame):
        (hurry if stop.is_set() else stop).set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        node = RecorderNode()
    except (ParameterError, EmbodimentError, UnknownTypeError) as e:
        rclpy.logging.get_logger('pi0_recorder').fatal(str(e))
        rclpy.try_shutdown()
        sys.exit(1)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, name='pi0_recorder_spin', daemon=True)
    spinner.start()
    try:
        while not stop.wait(0.1) and spinner.is_alive():
            pass
        if node.episode_running and spinner.is_alive():
            deadline = time.monotonic() + node.params.shutdown_drain
            while time.monotonic() < deadline and not hurry.wait(0.02):
                pass
    finally:
        node.finish('shutdown')
        executor.shutdown(timeout_sec=2.0)
        spinner.join(timeout=5.0)        # never tear the node down under a spinning executor
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
