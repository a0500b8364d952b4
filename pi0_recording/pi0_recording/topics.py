"""What a recording holds, and how to subscribe to it.

For an embodiment (its file is the one source of truth): every camera on the wire (raw or
compressed, per run), every joint state topic, odometry for mobile robots, the unified command
``pi0/command`` (the dataset's action), the robot interface topics the driver publishes (every
``topic`` / ``*_topic`` of the arms' and base's interface blocks: JointTrajectory, Float64MultiArray,
Interbotix JointGroupCommand, Twist, ...; their types are taken from the ROS graph, so the bag holds
whatever the driver really publishes), the instruction, and the episode events.

Names are relative, like the rest of the stack: the node resolves them in its namespace.

QoS follows ``ros2 bag record``: subscribe reliable only when every publisher offers reliable (a
reliable subscriber never matches a best-effort publisher), transient-local only when every
publisher is latched; the offered profiles are written into the bag so that ``ros2 bag play``
offers the same.

Pure Python: no rclpy import (QoS profiles are read by attribute).
"""

from __future__ import annotations

from dataclasses import dataclass

from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

from pi0_common.embodiment import Embodiment

IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED_IMAGE = 'sensor_msgs/msg/CompressedImage'
JOINT_STATE = 'sensor_msgs/msg/JointState'
ODOMETRY = 'nav_msgs/msg/Odometry'
EXECUTOR_COMMAND = 'pi0_msgs/msg/ExecutorCommand'
STRING = 'std_msgs/msg/String'
EPISODE_EVENT = 'pi0_msgs/msg/EpisodeEvent'

COMMAND_TOPIC = 'pi0/command'
INSTRUCTION_TOPIC = 'pi0/instruction'
EPISODE_EVENT_TOPIC = 'pi0/episode_event'

ROLES = ('camera', 'joint_states', 'odometry', 'command', 'interface', 'instruction', 'extra')


@dataclass(frozen=True)
class TopicSpec:
    name: str                   # relative to the recorder's namespace (or absolute)
    msgtype: str | None         # expected type; None: whatever the graph says
    role: str                   # one of ROLES


def interface_topics(interface: dict) -> list[str]:
    """The topic names in an embodiment interface block (keys ``topic`` and ``*_topic``)."""
    return [v for k, v in interface.items() if (k == 'topic' or k.endswith('_topic')) and isinstance(v, str) and v]


def recorded_topics(emb: Embodiment, camera_transport: str = '', extra: tuple[str, ...] = ()) -> list[TopicSpec]:
    """The topics one episode of this embodiment records (the recorder's own episode events aside).

    Args:
        camera_transport: 'raw' or 'compressed' for every camera; '' keeps each camera's setting.
        extra: more topics to record, types from the graph.

    Raises:
        ValueError: an unknown camera transport.
    """
    if camera_transport not in ('', 'raw', 'compressed'):
        raise ValueError(f'camera_transport must be raw, compressed or empty, got {camera_transport!r}')
    specs: list[TopicSpec] = []
    for cam in emb.cameras:
        transport = camera_transport or cam.transport
        specs.append(TopicSpec(cam.wire_topic(transport), COMPRESSED_IMAGE if transport == 'compressed' else IMAGE,
                               'camera'))
    specs += [TopicSpec(t, JOINT_STATE, 'joint_states') for t in emb.joint_state_topics]
    if emb.base is not None:
        specs.append(TopicSpec(emb.base.odometry_topic, ODOMETRY, 'odometry'))
    specs.append(TopicSpec(COMMAND_TOPIC, EXECUTOR_COMMAND, 'command'))
    blocks = [arm.interface for arm in emb.arms] + ([emb.base.interface] if emb.base is not None else [])
    for block in blocks:
        specs += [TopicSpec(t, None, 'interface') for t in interface_topics(block)]
    specs.append(TopicSpec(INSTRUCTION_TOPIC, STRING, 'instruction'))
    specs += [TopicSpec(t, None, 'extra') for t in extra if t]
    seen, unique = set(), []
    for spec in specs:             # an arm's and a gripper's interface may share a topic
        if spec.name not in seen:
            seen.add(spec.name)
            unique.append(spec)
    return unique


def choose_type(topic: str, expected: str | None, published: list[str]) -> tuple[str, list[str]]:
    """(the type to record, problems to report) from the types a topic's publishers offer.

    The expected type wins when some publisher offers it; otherwise the graph does (the bag holds
    what is really published). Problems name publishers that disagree, or an unexpected type.
    """
    types = sorted(set(published))
    msgtype = expected if expected in types else types[0]
    problems = []
    if len(types) > 1:
        problems.append(f'{topic}: publishers disagree on the type ({", ".join(types)}); recording {msgtype} only')
    if expected is not None and expected != msgtype:
        problems.append(f'{topic}: expected {expected}, the graph has {msgtype}; recording what is published')
    return msgtype, problems


# ---------------------------------------------------------------------------------------- QoS
def _enum(cls, value, unknown):
    try:
        return cls(int(value))
    except (ValueError, TypeError):
        return cls(unknown)


def _time(duration) -> QosTime:
    sec, nsec = divmod(int(duration.nanoseconds), 1_000_000_000)
    return QosTime(sec, nsec)


def bag_qos(profile) -> Qos:
    """A publisher's QoS profile (rclpy QoSProfile, read by attribute) as rosbags writes it into
    offered_qos_profiles; the enum values are rmw's, which rosbag2 stores as numbers."""
    return Qos(
        _enum(QosHistory, profile.history, QosHistory.UNKNOWN), int(profile.depth),
        _enum(QosReliability, profile.reliability, QosReliability.UNKNOWN),
        _enum(QosDurability, profile.durability, QosDurability.UNKNOWN),
        _time(profile.deadline), _time(profile.lifespan),
        _enum(QosLiveliness, profile.liveliness, QosLiveliness.UNKNOWN),
        _time(profile.liveliness_lease_duration), bool(profile.avoid_ros_namespace_conventions))


def adapted_request(offers: list[Qos]) -> tuple[bool, bool]:
    """(reliable, transient_local) for a subscription that matches every offer, as rosbag2 does:
    reliable only if all publishers are reliable, transient-local only if all are latched."""
    if not offers:
        return False, False
    reliable = all(q.reliability == QosReliability.RELIABLE for q in offers)
    latched = all(q.durability == QosDurability.TRANSIENT_LOCAL for q in offers)
    return reliable, latched
