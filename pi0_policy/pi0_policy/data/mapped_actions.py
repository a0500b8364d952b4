"""The action of a mapped bag (:mod:`.mapped_bag`): from one command topic, or from the leader arms' joint
states (ALOHA-style rigs), plus an optional base velocity command.

Each message sets the dims it carries; the action at a message's time holds the latest value of every dim
(NaN until a dim has been set once, so frames before that are dropped by the alignment). Joints are matched
by name; a gripper's command is mapped through the embodiment's command range, a leader's gripper through
the leader's open/closed readings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pi0_common.embodiment import Embodiment

from .align import TimeSeries
from .bag_reader import BagError
from .mapping import COMMAND_TYPES, Mapping

TWIST_TYPES = ("geometry_msgs/msg/Twist", "geometry_msgs/msg/TwistStamped")


class ActionBuilder:
    """Collects action samples message by message; :meth:`series` gives the action time series."""

    def __init__(self, emb: Embodiment, mapping: Mapping, available: dict[str, str], path: Path, find_topic):
        self.emb, self.path = emb, path
        self.stamps: dict[str, str] = {}  # topic -> stamp choice
        self.warnings: list[str] = []
        self._kind: dict[str, str] = {}  # topic -> how to read it
        self._names: dict[str, dict[str, tuple[int, object]]] = {}  # topic -> joint name -> (dim, converter)
        self._samples: list[tuple[int, np.ndarray, np.ndarray]] = []  # (t, dims, values)
        self._bad = 0
        if mapping.action_source == "command":
            topic = find_topic(mapping.command, available, COMMAND_TYPES, "action", path)
            self._kind[topic] = available[topic]
            self._names[topic] = self._command_names()
            self.stamps[topic] = mapping.command.stamp
        else:
            arms = emb.arm_slices()
            if len(mapping.leaders) != len(arms):
                raise BagError(f"{path}: action: {emb.name} has {len(arms)} arm(s), the mapping names "
                               f"{len(mapping.leaders)} leader topic(s)")  # fmt: skip
            for spec, (arm, joint_idx, grip_idx) in zip(mapping.leaders, arms, strict=True):
                topic = find_topic(spec, available, ("sensor_msgs/msg/JointState",), f"leader of arm {arm.name}", path)
                names = {j.name: (i, None) for j, i in zip(arm.joints, joint_idx, strict=True)}
                if grip_idx is not None:
                    names[mapping.leader_gripper.joint] = (grip_idx, mapping.leader_gripper.to_unified)
                self._kind[topic], self._names[topic], self.stamps[topic] = "leader", names, spec.stamp
        if mapping.base_command is not None:
            if emb.base is None:
                raise BagError(f"{path}: action.base: {emb.name} has no base")
            topic = find_topic(mapping.base_command, available, TWIST_TYPES, "action.base", path)
            self._kind[topic], self.stamps[topic] = "twist", mapping.base_command.stamp

    def _command_names(self) -> dict[str, tuple[int, object]]:
        """Joint name -> (dim, gripper command converter); a name two arms share maps to None (ambiguous)."""
        names: dict[str, tuple[int, object] | None] = {}
        for arm, joint_idx, grip_idx in self.emb.arm_slices():
            entries = [(j.name, (i, None)) for j, i in zip(arm.joints, joint_idx, strict=True)]
            if grip_idx is not None:
                entries.append((arm.gripper.joint, (grip_idx, arm.gripper.command_to_unified)))
            for name, entry in entries:
                names[name] = None if name in names else entry
        return names

    def add(self, topic: str, t: int, msg) -> None:
        """One message of an action topic at time t (ns)."""
        kind = self._kind[topic]
        if kind == "pi0_msgs/msg/ExecutorCommand":
            d, values = int(msg.valid_dims), np.asarray(msg.positions, dtype=np.float64)
            if d != self.emb.valid_dims or int(msg.num_points) < 1 or values.size < d:
                raise BagError(f"{self.path}: {topic}: {values.size} values for {msg.num_points} points x {d} dims; "
                               f"{self.emb.name} needs {self.emb.valid_dims} dims")  # fmt: skip
            self._put(t, np.arange(d), values[:d])
        elif kind == "std_msgs/msg/Float64MultiArray":
            values = np.asarray(msg.data, dtype=np.float64)
            if values.size != self.emb.valid_dims:
                raise BagError(f"{self.path}: {topic}: {values.size} values; {self.emb.name}'s action has "
                               f"{self.emb.valid_dims} ({', '.join(self.emb.dim_names)})")  # fmt: skip
            self._put(t, np.arange(values.size), values)
        elif kind == "trajectory_msgs/msg/JointTrajectory":
            if len(msg.points):
                self._by_name(topic, t, list(msg.joint_names), msg.points[0].positions)
        elif kind in ("sensor_msgs/msg/JointState", "leader"):
            self._by_name(topic, t, list(msg.name), msg.position)
        elif kind == "twist":
            twist = msg.twist if hasattr(msg, "twist") else msg
            value = {"vx": twist.linear.x, "vy": twist.linear.y, "wz": twist.angular.z}
            self._put(t, np.asarray(self.emb.base_indices()), np.array([value[a] for a in self.emb.base.axes]))

    def _by_name(self, topic: str, t: int, names: list[str], positions) -> None:
        dims, values = [], []
        table = self._names[topic]
        for name, value in zip(names, positions, strict=False):
            if name not in table:
                continue
            entry = table[name]
            if entry is None:
                raise BagError(f"{self.path}: {topic}: joint {name!r} belongs to several arms of {self.emb.name}; "
                               "use one command topic per arm with distinct joint names, or leader topics")
            dims.append(entry[0])
            values.append(entry[1](float(value)) if entry[1] else float(value))
        if dims:
            self._put(t, np.asarray(dims), np.asarray(values, dtype=np.float64))

    def _put(self, t: int, dims: np.ndarray, values: np.ndarray) -> None:
        finite = np.isfinite(values)
        if not finite.all():
            self._bad += int((~finite).sum())
            dims, values = dims[finite], values[finite]
        self._samples.append((int(t), dims, values))

    def series(self) -> TimeSeries:
        """Every action sample as the full action vector, latest value of each dim held.

        Raises:
            BagError: a dim that no message ever set.
        """
        if self._bad:
            self.warnings.append(f"{self._bad} non-finite action value(s) were ignored")
        self._samples.sort(key=lambda s: s[0])
        current = np.full(self.emb.valid_dims, np.nan)
        stamps = np.empty(len(self._samples), np.int64)
        rows = np.empty((len(self._samples), self.emb.valid_dims))
        for k, (t, dims, values) in enumerate(self._samples):
            current[dims] = values
            stamps[k], rows[k] = t, current
        never = [self.emb.dim_names[i] for i in np.flatnonzero(np.isnan(current))]
        if never or not len(self._samples):
            missing = never or self.emb.dim_names
            raise BagError(f"{self.path}: no action for {', '.join(missing)} in {sorted(self._kind)}")
        return TimeSeries(stamps, rows)
