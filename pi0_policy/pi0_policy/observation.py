"""The policy's latest inputs and the freshness rules that decide whether it may infer.

Rules, learnt from other VLA bridges: never infer until every configured input has arrived and is fresh;
never zero-fill a missing joint (the state is refused) and never fake a camera (a camera that is not
configured is masked; one that is configured but silent blocks inference). The observation's stamp
is the stamp of the joint state used (the oldest of the joint values), so step 0 of the chunk is
aligned with the proprioception it was conditioned on.

Pure Python: messages are stored as given and decoded only when a snapshot is taken, in the
inference worker, so the subscription callbacks stay cheap.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pi0_common.embodiment import Embodiment, MissingJointsError
from pi0_common.joint_states import JointStateCache


class ObservationNotReadyError(Exception):
    """Inference must wait; the text says for what."""


@dataclass
class Observation:
    stamp: float                       # seconds, acquisition time of the state used
    state: np.ndarray                  # [valid_dims], physical units
    images: dict[str, np.ndarray]      # slot -> uint8 HxWx3 RGB, configured cameras only
    image_stamps: dict[str, float]


@dataclass
class _Frame:
    msg: Any
    stamp: float
    decode: Callable[[Any], np.ndarray]


class ObservationBuffer:
    """Thread-safe store of the latest joint states and camera frames."""

    def __init__(self, embodiment: Embodiment, camera_slots: tuple[str, ...], max_state_age: float,
                 max_image_age: float):
        unknown = set(camera_slots) - set(embodiment.camera_slots)
        if unknown:
            raise ValueError(f'cameras {sorted(unknown)} are not cameras of {embodiment.name} '
                             f'({", ".join(embodiment.camera_slots)})')
        if not camera_slots:
            raise ValueError('at least one camera is required')
        self.embodiment = embodiment
        self.camera_slots = tuple(camera_slots)
        self.max_state_age, self.max_image_age = max_state_age, max_image_age
        self.joints = JointStateCache(embodiment)
        self._frames: dict[str, _Frame] = {}
        self._lock = threading.Lock()

    def add_joint_state(self, topic: str, names, positions, stamp: float) -> list[str]:
        with self._lock:
            return self.joints.update(topic, list(names), list(positions), stamp)

    def add_base_velocity(self, velocity: dict[str, float], stamp: float) -> None:
        with self._lock:
            self.joints.update_base(velocity, stamp)

    def add_frame(self, slot: str, msg: Any, stamp: float, decode: Callable[[Any], np.ndarray]) -> None:
        with self._lock:
            previous = self._frames.get(slot)
            if previous is None or stamp >= previous.stamp:
                self._frames[slot] = _Frame(msg, stamp, decode)

    def snapshot(self, now: float) -> Observation:
        """The current observation, decoded.

        Raises:
            ObservationNotReadyError: an input is missing or stale (the text names it).
            ImageConversionError: a frame cannot be decoded.
        """
        with self._lock:
            try:
                state, stamp = self.joints.state(require_base=True)
            except MissingJointsError as e:
                raise ObservationNotReadyError(str(e)) from None
            frames = dict(self._frames)
        if now - stamp > self.max_state_age:
            raise ObservationNotReadyError(f'joint state is {now - stamp:.3f} s old (max {self.max_state_age:g} s)')
        missing = [s for s in self.camera_slots if s not in frames]
        if missing:
            raise ObservationNotReadyError(f'no image yet from camera(s) {", ".join(missing)}')
        for slot in self.camera_slots:
            age = now - frames[slot].stamp
            if age > self.max_image_age:
                raise ObservationNotReadyError(f'camera {slot} image is {age:.3f} s old (max {self.max_image_age:g} s)')
        images = {slot: frames[slot].decode(frames[slot].msg) for slot in self.camera_slots}
        return Observation(stamp, state, images, {s: frames[s].stamp for s in self.camera_slots})
