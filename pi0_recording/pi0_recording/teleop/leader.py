"""Leader-arm mirroring (ALOHA-style rigs): each follower arm copies a leader arm's joints, mapped
by name (never by index), and the leader's gripper handle becomes the unified gripper value.

Defaults follow Interbotix/aloha (ROS 2): leaders ``leader_{left,right}`` publish joint states with
the followers' joint names, and the leader gripper joint ``gripper`` reads 0.8298 rad open and
-0.0552 rad closed (``LEADER_GRIPPER_JOINT_OPEN/CLOSE`` in aloha/constants.py). Other rigs (GELLO
arms, a second UR) set the topics and constants by parameter.

Pure Python: no rclpy import.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pi0_common.embodiment import Embodiment, MissingJointsError

ALOHA_LEADER_GRIPPER_OPEN = 0.8298      # rad, Interbotix/aloha constants.py
ALOHA_LEADER_GRIPPER_CLOSED = -0.0552


@dataclass(frozen=True)
class LeaderGripper:
    """Where the leader's gripper handle is, and its open and closed readings."""

    joint: str = 'gripper'
    open: float = ALOHA_LEADER_GRIPPER_OPEN
    closed: float = ALOHA_LEADER_GRIPPER_CLOSED

    def __post_init__(self):
        if self.open == self.closed or not (math.isfinite(self.open) and math.isfinite(self.closed)):
            raise ValueError(f'leader gripper open ({self.open}) and closed ({self.closed}) must be finite '
                             f'and differ')

    def to_unified(self, value: float) -> float:
        """Unified gripper value in [0, 1] (0 = open) of a leader reading."""
        return float(min(1.0, max(0.0, (value - self.open) / (self.closed - self.open))))


def default_leader_topic(follower_topic: str) -> str:
    """ALOHA naming: follower_left/joint_states -> leader_left/joint_states; otherwise a leader/ prefix."""
    if 'follower' in follower_topic:
        return follower_topic.replace('follower', 'leader')
    return 'leader/' + follower_topic.lstrip('/')


class LeaderMapping:
    """Follower arm targets (unified indices and values) from leader joint states.

    Args:
        embodiment: the follower robot.
        leader_topics: one joint state topic per arm, in the embodiment's arm order.
        gripper: the leader gripper handle (ignored for arms without a gripper).

    Raises:
        ValueError: not one topic per arm.
    """

    def __init__(self, embodiment: Embodiment, leader_topics: list[str], gripper: LeaderGripper):
        if len(leader_topics) != len(embodiment.arms):
            raise ValueError(f'{embodiment.name} has {len(embodiment.arms)} arm(s); got {len(leader_topics)} leader '
                             f'topic(s): {leader_topics}')
        self.embodiment = embodiment
        self.topics = list(leader_topics)
        self.gripper = gripper
        self._slices = embodiment.arm_slices()

    def arm_target(self, arm_index: int, names: list[str], positions: list[float]) -> tuple[list[int], np.ndarray]:
        """(unified indices, values) that arm ``arm_index`` should go to, from its leader's state.

        Raises:
            MissingJointsError: the leader state lacks a joint (named) or holds a non-finite value.
        """
        arm, joint_idx, grip_idx = self._slices[arm_index]
        if len(names) != len(positions):
            raise MissingJointsError(f'{self.topics[arm_index]}: {len(names)} names but {len(positions)} positions')
        by_name = dict(zip(names, positions, strict=True))
        wanted = [j.name for j in arm.joints] + ([self.gripper.joint] if grip_idx is not None else [])
        missing = [n for n in wanted if n not in by_name or not math.isfinite(by_name[n])]
        if missing:
            raise MissingJointsError(f'{self.topics[arm_index]}: no finite value for {", ".join(missing)}')
        indices = list(joint_idx)
        values = [by_name[j.name] for j in arm.joints]
        if grip_idx is not None:
            indices.append(grip_idx)
            values.append(self.gripper.to_unified(by_name[self.gripper.joint]))
        return indices, np.asarray(values, dtype=float)
