"""Recorder node: one rosbag2 bag (metadata.yaml + mcap, version 8) per teleoperation episode.

Subscribes  (serialized, as they arrive) the embodiment's cameras, joint states, odometry,
            pi0/command, the driver's interface topics, pi0/instruction and extra_topics; each
            topic once a publisher shows up in the graph, with the type and QoS it offers
Publishes   pi0/episode_event (pi0_msgs/EpisodeEvent, latched; START and STOP also go into the bag;
            STOP says per topic what was received, what the middleware reported lost and what was late),
            /diagnostics (1 Hz: the topics recorded and still awaited, the episode, free space)
Services    pi0/recorder/start_episode (pi0_msgs/StartEpisode), pi0/recorder/stop_episode (StopEpisode)

Nothing recorded is lost on the way out: SIGINT and SIGTERM stop the episode and finish the bag
(index, summary, metadata.yaml) after a short drain of what the readers already hold; free space
below disk_floor_mb stops the episode the same way and refuses new ones until space is back; a new
episode always gets a new folder (see naming.py). The episode logic lives in episode_recorder.py;
this node wires it to the graph.

Like every pi0_ros node it spins on one SingleThreadedExecutor (pi0_common/spin.py), so its
callbacks run one at a time: a stop request may wait behind message callbacks, each of them one
append to the bag.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
from functools import partial

import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from pi0_msgs.msg import EpisodeEvent
from pi0_msgs.srv import StartEpisode, StopEpisode
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions

from pi0_common.embodiment import EmbodimentError, load_embodiment
from pi0_common.params import ParameterError, declare_all, refusal
from pi0_common.qos import LATCHED_QOS, warn_on_incompatible_qos
from pi0_common.stop_signals import HURRY, catch_stop_signals, ignore_late_signals
from pi0_recording.episode_recorder import EpisodeEventData, EpisodeRecorder, StartRefusedError
from pi0_recording.recorder_params import EXTRA_TOPICS, PARAMETERS, prepare_output_dir
from pi0_recording.recorder_status import recorder_status
from pi0_recording.topics import (
    EPISODE_EVENT_TOPIC,
    TopicSpec,
    adapted_request,
    bag_qos,
    choose_type,
    recorded_topics,
)
from pi0_recording.typestore import TypeRegistry, UnknownTypeError

DIAGNOSTICS_PERIOD = 1.0     # s


def import_message(msgtype: str):
    """The Python class of 'pkg/msg/Name' (ImportError/AttributeError when not installed)."""
    package, _, name = msgtype.split('/')
    return getattr(importlib.import_module(f'{package}.msg'), name)


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
        self._complained: set[str] = set()

        self._event_pub = self.create_publisher(EpisodeEvent, EPISODE_EVENT_TOPIC, LATCHED_QOS)
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.recorder = EpisodeRecorder(
            embodiment=self.embodiment.name, output_dir=self.output_dir, prefix=self.prefix, types=self.types,
            event_topic=self.resolve_topic_name(EPISODE_EVENT_TOPIC), event_qos=bag_qos(LATCHED_QOS),
            clock_ns=lambda: self.get_clock().now().nanoseconds, publish_event=self._publish_event,
            disk_floor_mb=p.disk_floor_mb, compression=p.compression, camera_transport=p.camera_transport,
            late_threshold=p.late_threshold, log=self.get_logger())
        self.create_service(StartEpisode, 'pi0/recorder/start_episode', self._on_start)
        self.create_service(StopEpisode, 'pi0/recorder/stop_episode', self._on_stop)
        self.create_timer(p.discovery_period, self._discover)
        self.create_timer(p.disk_check_period, self.recorder.check_disk)
        self.create_timer(DIAGNOSTICS_PERIOD, self._publish_diagnostics)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.recorder.check_disk()
        self._discover()
        self.get_logger().info(
            f'{self.embodiment.name}: recording episodes into {self.output_dir} ({self.prefix}_ep<N>_<time>); '
            f'topics: {", ".join(self.specs)}')

    # ------------------------------------------------------------------ public (in-process users)
    @property
    def episode_running(self) -> bool:
        """Whether an episode is being recorded (False only once its bag is finished)."""
        return self.recorder.running

    @property
    def episodes_recorded(self) -> int:
        return self.recorder.episodes_recorded

    @property
    def disk(self):
        """The free-space floor (disk.DiskGuard)."""
        return self.recorder.disk

    @property
    def subscribed_topics(self) -> list[str]:
        return self.recorder.topics

    @property
    def waiting_topics(self) -> list[str]:
        """Wanted topics without a subscription yet (nobody publishes them, or their type is unknown)."""
        subscribed = set(self.recorder.topics)
        return [t for t in self.specs if t not in subscribed]

    def latched_message(self, topic: str) -> bytes | None:
        """The last message of a latched topic or the instruction, as the bags will get it."""
        return self.recorder.latched_message(self.resolve_topic_name(topic))

    def finish(self, reason: str = 'shutdown') -> None:
        """Stop a running episode (success false) and finish its bag."""
        self.recorder.finish(reason)

    def destroy_node(self):
        if hasattr(self, 'recorder'):      # not when __init__ failed (rclpy destroys the node at shutdown)
            self.finish('shutdown')
        return super().destroy_node()

    # ------------------------------------------------------------------ discovery
    def _complain_once(self, text: str) -> None:
        """Discovery runs every discovery_period: say each problem once."""
        if text not in self._complained:
            self._complained.add(text)
            self.get_logger().error(text)

    def _discover(self) -> None:
        """Subscribe to every wanted topic that has a publisher now, with its real type and QoS."""
        pending = self.waiting_topics
        if not pending:
            return
        graph = dict(self.get_topic_names_and_types())
        for topic in pending:
            spec = self.specs[topic]
            infos = self.get_publishers_info_by_topic(topic) if topic in graph else []
            if not infos:
                continue
            msgtype, problems = choose_type(topic, spec.msgtype, [i.topic_type for i in infos])
            for problem in problems:
                self._complain_once(problem)
            try:
                self.types.ensure(msgtype)
                cls = import_message(msgtype)
            except (UnknownTypeError, ImportError, AttributeError, ValueError) as e:
                self._complain_once(f'{topic} cannot be recorded: {msgtype}: {e}')
                continue
            offers = [bag_qos(i.qos_profile) for i in infos]
            reliable, latched = adapted_request(offers)
            qos = QoSProfile(depth=self.params.queue_depth, history=HistoryPolicy.KEEP_LAST,
                             reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)
            self.recorder.add_topic(topic, msgtype, offers, latched, spec.role)
            # message_lost: samples the middleware dropped before they reached us (rmw_fastrtps_cpp, the
            # default, reports them); counted per episode and reported in the STOP event.
            events = SubscriptionEventCallbacks(incompatible_qos=warn_on_incompatible_qos(self, topic).incompatible_qos,
                                                message_lost=partial(self._on_message_lost, topic))
            self.create_subscription(cls, topic, partial(self.recorder.on_message, topic), qos, raw=True,
                                     event_callbacks=events)
            self.get_logger().info(f'subscribed {topic} ({msgtype}, {"reliable" if reliable else "best effort"}'
                                   f'{", latched" if latched else ""})')

    def _on_message_lost(self, topic: str, info) -> None:
        self.recorder.on_message_lost(topic, info.total_count_change)
        self.get_logger().warning(f'{topic}: the middleware lost {info.total_count_change} message(s) '
                                  f'({info.total_count} since subscribing)', throttle_duration_sec=5.0)

    # ------------------------------------------------------------------ episodes
    def _publish_event(self, event: EpisodeEventData) -> None:
        if not self.context.ok():
            return                         # finished at shutdown: the bag has it, nobody listens
        topics, received, lost, late = (list(c) for c in zip(*event.counts, strict=True)) if event.counts else \
            ([], [], [], [])
        msg = EpisodeEvent(event=event.event, episode_index=event.episode_index, embodiment=event.embodiment,
                           task=event.task, success=event.success, topics=topics, messages_received=received,
                           messages_lost=lost, messages_late=late)
        sec, nanosec = divmod(event.stamp_ns, 1_000_000_000)
        msg.header.stamp = Time(sec=sec, nanosec=nanosec)
        self._event_pub.publish(msg)

    def _on_start(self, request: StartEpisode.Request, response: StartEpisode.Response) -> StartEpisode.Response:
        try:
            episode = self.recorder.start(request.task)
        except StartRefusedError as e:
            self.get_logger().warning(f'start_episode refused: {e}')
            response.success, response.message = False, str(e)
            return response
        text = f'recording episode {episode.index} to {episode.path}: "{episode.task}"'
        if silent := self.waiting_topics:
            text += f'; nothing published yet on {", ".join(silent)} (recorded once it is)'
        self.get_logger().info(text)
        response.success, response.message = True, text
        response.episode_index, response.bag_path = episode.index, str(episode.path)
        return response

    def _on_stop(self, request: StopEpisode.Request, response: StopEpisode.Response) -> StopEpisode.Response:
        stopped = self.recorder.stop(request.success, request.discard)
        if stopped is None:
            self.get_logger().warning('stop_episode refused: no episode is running')
            response.ok, response.message = False, 'no episode is running'
            return response
        response.ok, response.message = True, stopped.text
        response.episode_index, response.duration = stopped.index, stopped.duration
        response.bag_path = '' if stopped.discarded else str(stopped.path)
        return response

    def _on_set_parameters(self, params) -> SetParametersResult:
        reason = refusal(PARAMETERS, params)
        if reason:
            return SetParametersResult(successful=False, reason=reason)
        for param in params:
            if param.name == 'disk_floor_mb':
                self.recorder.set_disk_floor(param.value)   # takes effect at the next check (disk_check_period)
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------ diagnostics
    def _publish_diagnostics(self) -> None:
        status = recorder_status(self.recorder, self.waiting_topics)
        diag = DiagnosticArray()
        diag.header.stamp = self.get_clock().now().to_msg()
        diag.status.append(DiagnosticStatus(
            level=bytes([status.level]), name=f'{self.get_name()}: {self.embodiment.name}', message=status.message,
            hardware_id=self.embodiment.name, values=[KeyValue(key=k, value=v) for k, v in status.values.items()]))
        self._diag_pub.publish(diag)


def main(args=None) -> None:
    """Run the recorder until SIGINT or SIGTERM, then drain, finish the bag and exit 0.

    rclpy's own signal handler would shut the context down at once, after which nothing more can be
    taken from the subscriptions; here the signal only sets a flag, the executor keeps spinning for
    shutdown_drain seconds (a second signal cuts it short), then the episode is finished.
    """
    stop = catch_stop_signals()          # a second signal sets HURRY
    hurry = HURRY
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
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
        ignore_late_signals()


if __name__ == '__main__':
    main()
