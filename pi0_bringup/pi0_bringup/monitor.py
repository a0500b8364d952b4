"""A node that watches a running stack from the outside, like a user would with `ros2 topic echo`:
the executor's commands, the robot's measured joint states, the policy's chunks and the executor's
status. It records time series for the main job's summary and plot, and for system tests.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
from pi0_msgs.msg import ActionChunk, ExecutorCommand, ExecutorStatus
from rclpy.node import Node
from sensor_msgs.msg import JointState

from pi0_common.embodiment import Embodiment, MissingJointsError
from pi0_common.joint_states import JointStateCache
from pi0_common.messages import to_sec
from pi0_common.qos import CHUNK_QOS, LATCHED_QOS, SENSOR_QOS


@dataclass
class Recording:
    command_t: list[float] = field(default_factory=list)        # due time of row 0
    command_q: list[np.ndarray] = field(default_factory=list)
    command_mode: list[int] = field(default_factory=list)
    command_chunk: list[int] = field(default_factory=list)
    measured_t: list[float] = field(default_factory=list)
    measured_q: list[np.ndarray] = field(default_factory=list)
    chunk_t: list[float] = field(default_factory=list)          # observation stamp
    chunk_arrival: list[float] = field(default_factory=list)
    inference_ms: list[float] = field(default_factory=list)
    chunk_instruction: list[str] = field(default_factory=list)
    status: ExecutorStatus | None = None


class StackMonitor(Node):
    def __init__(self, embodiment: Embodiment, **kwargs):
        super().__init__('pi0_stack_monitor', **kwargs)
        self.embodiment = embodiment
        self.rec = Recording()
        self.lock = threading.Lock()
        self.joints = JointStateCache(embodiment)
        self.create_subscription(ExecutorCommand, 'pi0/command', self._on_command, CHUNK_QOS)
        self.create_subscription(ActionChunk, 'pi0/action_chunk', self._on_chunk, CHUNK_QOS)
        self.create_subscription(ExecutorStatus, 'pi0/executor_status', self._on_status, LATCHED_QOS)
        for topic in embodiment.joint_state_topics:
            self.create_subscription(JointState, topic, lambda m, t=topic: self._on_joints(t, m), SENSOR_QOS)

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_command(self, msg: ExecutorCommand) -> None:
        if msg.num_points == 0 or len(msg.positions) < msg.valid_dims:
            return
        with self.lock:
            self.rec.command_t.append(to_sec(msg.header.stamp))
            self.rec.command_q.append(np.asarray(msg.positions[:msg.valid_dims], dtype=float))
            self.rec.command_mode.append(msg.mode)
            self.rec.command_chunk.append(msg.chunk_id)

    def _on_chunk(self, msg: ActionChunk) -> None:
        with self.lock:
            self.rec.chunk_t.append(to_sec(msg.header.stamp))
            self.rec.chunk_arrival.append(self.now())
            self.rec.inference_ms.append(1e3 * to_sec(msg.inference_time))
            self.rec.chunk_instruction.append(msg.instruction)

    def _on_status(self, msg: ExecutorStatus) -> None:
        with self.lock:
            self.rec.status = msg

    def _on_joints(self, topic: str, msg: JointState) -> None:
        stamp = to_sec(msg.header.stamp)
        self.joints.update(topic, list(msg.name), list(msg.position), stamp)
        try:
            state, _ = self.joints.state(require_base=False)
        except MissingJointsError:
            return
        with self.lock:
            self.rec.measured_t.append(stamp)
            self.rec.measured_q.append(state)

    def snapshot(self) -> Recording:
        """A copy of what was recorded so far (lists copied; safe to use while recording goes on)."""
        with self.lock:
            r = self.rec
            return Recording(*(list(getattr(r, f)) if isinstance(getattr(r, f), list) else getattr(r, f)
                               for f in r.__dataclass_fields__))
