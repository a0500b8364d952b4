"""The mapping file: which topics of a user's own stack hold what, for bags the suite did not record.

    # mapping.yaml (every key but state and cameras is optional)
    stamp: header                 # default time of every message: header (its header stamp) or receive
    state:                        # sensor_msgs/JointState topics; joints are taken by name from the embodiment
      - /joint_states
      - {topic: /gripper/joint_states, stamp: receive}
      # several arms with the same joint names: {topic: /follower_left/joint_states, arm: left}
    odometry: /odom               # nav_msgs/Odometry: the base velocity of a mobile robot
    cameras:                      # slot -> sensor_msgs/Image or CompressedImage topic
      base: /camera/color/image_raw
      left_wrist: {topic: /wrist/image_raw/compressed, stamp: receive}
    action:
      source: command             # command: one command topic; leader: the leader arms' joint states
      topic: /my_arm_controller/commands   # e.g. a forward command controller's Float64MultiArray
      # source: leader
      # topics: [/leader_left/joint_states, /leader_right/joint_states]   # one per arm, in the arms' order
      # gripper: {joint: gripper, open: 0.8298, closed: -0.0552}          # the leader's gripper readings
      # base: /cmd_vel              # either source: the base's geometry_msgs/Twist or TwistStamped
    task: {text: "pick up the red block"}     # or {topic: /instruction} (std_msgs/String)
    episodes: {mode: bag}                     # or {mode: window, seconds: 30} or {mode: topic, topic: /episode}

A command topic may be pi0_msgs/ExecutorCommand (row 0), trajectory_msgs/JointTrajectory (first point,
joints by name), sensor_msgs/JointState (joints by name) or std_msgs/Float64MultiArray (the embodiment's
unified vector); grippers in command units. An episode topic may be pi0_msgs/EpisodeEvent (START/STOP),
std_msgs/Bool (true starts, false stops) or std_msgs/String ("start"/"stop").

A topic without a leading "/" matches any namespace: it must then end exactly one topic of the bag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

STAMPS = ("header", "receive")
COMMAND_TYPES = ("pi0_msgs/msg/ExecutorCommand", "trajectory_msgs/msg/JointTrajectory",
                 "sensor_msgs/msg/JointState", "std_msgs/msg/Float64MultiArray")  # fmt: skip
EPISODE_TYPES = ("pi0_msgs/msg/EpisodeEvent", "std_msgs/msg/Bool", "std_msgs/msg/String")
ALOHA_LEADER_GRIPPER = {"joint": "gripper", "open": 0.8298, "closed": -0.0552}  # Interbotix/aloha constants


class MappingError(ValueError):
    """A mapping file that does not say what is needed; the message names the key."""


@dataclass(frozen=True)
class TopicSpec:
    """A topic and which time its messages are placed at."""

    topic: str
    stamp: str = "header"
    arm: str | None = None  # state topics of a robot with several arms: whose joints these are


@dataclass(frozen=True)
class LeaderGripper:
    """The leader's gripper joint and its open and closed readings (unified 0 and 1)."""

    joint: str
    open: float
    closed: float

    def to_unified(self, value: float) -> float:
        """Unified gripper value in [0, 1] (0 = open)."""
        return float(min(1.0, max(0.0, (value - self.open) / (self.closed - self.open))))


@dataclass(frozen=True)
class Mapping:
    """A parsed mapping file (see the module docstring)."""

    state: tuple[TopicSpec, ...]
    cameras: dict[str, TopicSpec]
    action_source: str = "command"
    command: TopicSpec | None = None
    leaders: tuple[TopicSpec, ...] = ()
    leader_gripper: LeaderGripper | None = None
    base_command: TopicSpec | None = None
    odometry: TopicSpec | None = None
    task_text: str = ""
    task_topic: TopicSpec | None = None
    episode_mode: str = "bag"
    window_s: float = 0.0
    episode_topic: TopicSpec | None = None
    source: str = ""  # the file, for messages
    extra: dict = field(default_factory=dict)

    def with_overrides(self, task: str | None = None, episodes: str | None = None) -> Mapping:
        """The command line's ``--task TEXT`` and ``--episodes bag|window:SECONDS|topic:NAME`` win."""
        changes = dict(self.__dict__)
        if task:
            changes.update(task_text=task, task_topic=None)
        if episodes:
            mode, _, arg = episodes.partition(":")
            changes.update(_episodes({"mode": mode, "seconds": arg or None, "topic": arg or None},
                                     self.extra.get("stamp", "header"), "--episodes"))  # fmt: skip
        return Mapping(**changes)


def load_mapping(path: str | Path | dict) -> Mapping:
    """Parse a mapping file (or an already loaded dict).

    Raises:
        MappingError: a missing or invalid key, naming it.
    """
    source = str(path) if not isinstance(path, dict) else "<mapping>"
    if isinstance(path, dict):
        raw = path
    else:
        try:
            raw = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as e:
            raise MappingError(f"{path}: cannot read the mapping: {e}") from None
    if not isinstance(raw, dict):
        raise MappingError(f"{source}: a mapping file is a YAML dictionary")
    known = {"stamp", "state", "odometry", "cameras", "action", "task", "episodes"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise MappingError(f"{source}: unknown key(s) {unknown}; known: {sorted(known)}")
    default = raw.get("stamp", "header")
    if default not in STAMPS:
        raise MappingError(f"{source}: stamp must be one of {STAMPS}, not {default!r}")
    state = raw.get("state")
    if isinstance(state, (str, dict)):
        state = [state]
    if not state:
        raise MappingError(f"{source}: state: name at least one sensor_msgs/JointState topic")
    cameras = raw.get("cameras") or {}
    if not isinstance(cameras, dict):
        raise MappingError(f"{source}: cameras: a dictionary of camera slot -> topic")
    action = raw.get("action") or {}
    task = raw.get("task") or {}
    out = {
        "state": tuple(_topic(s, default, f"{source}: state") for s in state),
        "cameras": {slot: _topic(t, default, f"{source}: cameras.{slot}") for slot, t in cameras.items()},
        "odometry": _topic(raw["odometry"], default, f"{source}: odometry") if raw.get("odometry") else None,
        "task_text": str(task.get("text") or ""),
        "task_topic": _topic(task["topic"], "receive", f"{source}: task.topic") if task.get("topic") else None,
        "source": source, "extra": {"stamp": default},
    }  # fmt: skip
    out.update(_action(action, default, source))
    out.update(_episodes(raw.get("episodes") or {"mode": "bag"}, default, f"{source}: episodes"))
    return Mapping(**out)


def _topic(value, default: str, where: str) -> TopicSpec:
    if isinstance(value, str) and value:
        return TopicSpec(value, default)
    if isinstance(value, dict) and isinstance(value.get("topic"), str) and value["topic"]:
        stamp = value.get("stamp", default)
        if stamp not in STAMPS:
            raise MappingError(f"{where}: stamp must be one of {STAMPS}, not {stamp!r}")
        return TopicSpec(value["topic"], stamp, value.get("arm"))
    raise MappingError(f"{where}: expected a topic name or {{topic: NAME, stamp: header|receive}}, got {value!r}")


def _action(action: dict, default: str, source: str) -> dict:
    kind = action.get("source", "command")
    base = action.get("base")
    base = _topic(base, default, f"{source}: action.base") if base else None
    if kind == "command":
        if not action.get("topic"):
            raise MappingError(f"{source}: action.topic: the command topic ({', '.join(COMMAND_TYPES)})")
        return {"action_source": kind, "command": _topic(action["topic"], default, f"{source}: action.topic"),
                "base_command": base}  # fmt: skip
    if kind == "leader":
        topics = action.get("topics")
        if not topics:
            raise MappingError(f"{source}: action.topics: one leader joint-state topic per arm")
        grip = {**ALOHA_LEADER_GRIPPER, **(action.get("gripper") or {})}
        if float(grip["open"]) == float(grip["closed"]):
            raise MappingError(f"{source}: action.gripper: open and closed readings must differ")
        return {"action_source": kind,
                "leaders": tuple(_topic(t, default, f"{source}: action.topics") for t in topics),
                "leader_gripper": LeaderGripper(str(grip["joint"]), float(grip["open"]), float(grip["closed"])),
                "base_command": base}  # fmt: skip
    raise MappingError(f"{source}: action.source must be command or leader, not {kind!r}")


def _episodes(spec: dict, default: str, where: str) -> dict:
    mode = spec.get("mode", "bag")
    if mode == "bag":
        return {"episode_mode": mode, "window_s": 0.0, "episode_topic": None}
    if mode == "window":
        try:
            seconds = float(spec.get("seconds"))
        except (TypeError, ValueError):
            seconds = 0.0
        if not seconds > 0:
            raise MappingError(f"{where}: window needs seconds > 0 (e.g. window:30)")
        return {"episode_mode": mode, "window_s": seconds, "episode_topic": None}
    if mode == "topic":
        if not spec.get("topic"):
            raise MappingError(f"{where}: topic needs the topic that starts and stops episodes (e.g. topic:/episode)")
        return {"episode_mode": mode, "window_s": 0.0, "episode_topic": _topic(spec["topic"], default, where)}
    raise MappingError(f"{where}: mode must be bag, window or topic, not {mode!r}")
