"""The latest measured joint positions, gathered from one or more JointState topics and mapped by
name (never by index: /joint_states order is not URDF order), and the base velocity from odometry.

Pure Python: the nodes pass in plain names, positions and stamps.
"""

from __future__ import annotations

import math

import numpy as np

from pi0_common.embodiment import Embodiment


class JointStateCache:
    """Per (topic, joint) latest position and its stamp. Older messages never overwrite newer ones."""

    def __init__(self, embodiment: Embodiment):
        self.embodiment = embodiment
        self._positions: dict[tuple[str, str], float] = {}
        self._stamps: dict[tuple[str, str], float] = {}
        self._base: dict[str, float] = {}
        self._base_stamp: float | None = None
        self.out_of_order = 0

    def update(self, topic: str, names: list[str], positions: list[float], stamp: float) -> list[str]:
        """Store a JointState. Returns the names of joints whose value was not finite (ignored)."""
        if len(names) != len(positions):
            raise ValueError(f'{topic}: {len(names)} names but {len(positions)} positions')
        bad = []
        for name, pos in zip(names, positions, strict=True):
            key = (topic, name)
            if key in self._stamps and stamp < self._stamps[key]:
                self.out_of_order += 1
                continue
            if not math.isfinite(pos):
                bad.append(name)
                continue
            self._positions[key] = float(pos)
            self._stamps[key] = stamp
        return bad

    def update_base(self, velocity: dict[str, float], stamp: float) -> None:
        if self._base_stamp is not None and stamp < self._base_stamp:
            self.out_of_order += 1
            return
        if all(math.isfinite(v) for v in velocity.values()):
            self._base, self._base_stamp = dict(velocity), stamp

    def state(self, require_base: bool = True) -> tuple[np.ndarray, float]:
        """(unified state [valid_dims], oldest stamp among the values used).

        Raises:
            MissingJointsError: naming what has not been measured yet.
        """
        emb = self.embodiment
        base = None
        if emb.base is not None:
            base = self._base if require_base else {axis: 0.0 for axis in emb.base.axes}
        state = emb.state_from_joints(self._positions, base)      # raises, naming what is missing
        stamps = [self._stamps[(arm.joint_state_topic, j.name)] for arm in emb.arms for j in arm.joints]
        stamps += [self._stamps[(arm.joint_state_topic, arm.gripper.joint)] for arm in emb.arms if arm.gripper]
        if emb.base is not None and require_base:
            stamps.append(self._base_stamp)
        return state, min(stamps)
