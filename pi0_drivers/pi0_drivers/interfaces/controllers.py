"""Commands for ros2_control controllers, shared by the UR, Franka and generic ros2_control arms:
JointTrajectory segments for a JointTrajectoryController and single values for a forward command
controller.

Segment timing: header.stamp = 0 ("start now"); row i, commanded for the interval from stamp + i dt,
is reached at its end: time_from_start = stamp + (i + 1) dt - now, never 0 (a first point at 0 makes
the controller step), strictly increasing. A new trajectory replaces the previous one, so re-sending
every tick keeps the controller on the latest plan.
"""

from __future__ import annotations

import numpy as np
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from pi0_common.commands import MODE_ACTIVE, Command
from pi0_common.messages import to_duration_msg
from pi0_common.qos import ROBOT_COMMAND_QOS

MIN_LEAD_FRACTION = 0.2      # first point at least 0.2 dt ahead: late commands still ramp, never step


def trajectory_times(stamp: float, dt: float, count: int, now: float) -> list[float]:
    """time_from_start of each point: the end of its interval (stamp + (i + 1) dt) minus now, at least
    MIN_LEAD_FRACTION dt for the first, and strictly increasing by at least that much after."""
    lead = MIN_LEAD_FRACTION * dt
    times, previous = [], 0.0
    for i in range(count):
        t = max(stamp + (i + 1) * dt - now, previous + lead)
        times.append(t)
        previous = t
    return times


def make_trajectory(joint_names: list[str], rows: np.ndarray, times: list[float]) -> JointTrajectory:
    msg = JointTrajectory()
    msg.joint_names = list(joint_names)
    for row, t in zip(rows, times, strict=True):
        msg.points.append(JointTrajectoryPoint(positions=[float(v) for v in row],
                                               time_from_start=to_duration_msg(t)))
    return msg


class TrajectorySender:
    """One arm's commands as JointTrajectory segments to a JointTrajectoryController topic (UR, Franka
    and generic ros2_control arms): while active, every command becomes a segment of its rows (see
    trajectory_times); entering a hold sends one point at the held position, after which the
    controller holds it by itself (nothing more is sent until the next active command)."""

    def __init__(self, node, topic: str, joint_names: list[str]):
        self.topic, self.joint_names = topic, list(joint_names)
        self.pub = node.create_publisher(JointTrajectory, topic, ROBOT_COMMAND_QOS)
        self._holding = False

    def send(self, rows: np.ndarray, command: Command, now: float) -> None:
        if command.mode == MODE_ACTIVE:
            times = trajectory_times(command.stamp, command.dt, len(rows), now)
            self.pub.publish(make_trajectory(self.joint_names, rows, times))
            self._holding = False
        elif not self._holding:
            self.pub.publish(make_trajectory(self.joint_names, rows[:1], [command.dt]))
            self._holding = True


class ForwardGripper:
    """The gripper target as Float64MultiArray [position] to a forward command controller."""

    def __init__(self, node, topic):
        self.name = topic
        self.pub = node.create_publisher(Float64MultiArray, topic, ROBOT_COMMAND_QOS)

    def send(self, position: float) -> None:
        self.pub.publish(Float64MultiArray(data=[float(position)]))
