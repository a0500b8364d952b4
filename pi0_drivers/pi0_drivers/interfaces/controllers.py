"""Commands for ros2_control controllers, shared by the UR, Franka and generic ros2_control arms:
JointTrajectory segments for a JointTrajectoryController and single values for a forward command
controller.

Segment timing: header.stamp = 0 ("start now"); row i, commanded for the interval from stamp + i dt,
is reached at its end: time_from_start = stamp + (i + 1) dt - now. Rows whose time has come already
are dropped, never squeezed into the time left: the JointTrajectoryController replaces the previous
trajectory from its current desired state and interpolates linearly to the first point, so a
command that arrives late still moves at the speed the executor planned (a row due within
MIN_LEAD goes too, as a point at time 0 would make the controller step). A new trajectory replaces
the previous one, so re-sending every tick keeps the controller on the latest plan. The JTC enforces
no velocity limits itself (ros2_controllers' joint_trajectory_controller), so the timing must.
"""

from __future__ import annotations

import numpy as np
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from pi0_common.commands import MODE_ACTIVE, Command
from pi0_common.messages import to_duration_msg
from pi0_common.qos import ROBOT_COMMAND_QOS

MIN_LEAD = 0.002             # s: a row due sooner than this is dropped with the rows already due


def trajectory_times(stamp: float, dt: float, count: int, now: float) -> tuple[int, list[float]]:
    """(index of the first row still ahead, time_from_start of each row from there on): the end of its
    interval, stamp + (i + 1) dt, minus now. Rows due already (within MIN_LEAD) are dropped."""
    first = next((i for i in range(count) if stamp + (i + 1) * dt - now > MIN_LEAD), count)
    return first, [stamp + (i + 1) * dt - now for i in range(first, count)]


def make_trajectory(joint_names: list[str], rows: np.ndarray, times: list[float]) -> JointTrajectory:
    msg = JointTrajectory()
    msg.joint_names = list(joint_names)
    for row, t in zip(rows, times, strict=True):
        msg.points.append(JointTrajectoryPoint(positions=[float(v) for v in row],
                                               time_from_start=to_duration_msg(t)))
    return msg


class TrajectorySender:
    """One arm's commands as JointTrajectory segments to a JointTrajectoryController topic (UR, Franka
    and generic ros2_control arms): every command becomes a segment of its rows still ahead (see
    trajectory_times). A hold's rows are the executor's way to rest within the acceleration limits;
    once a hold has come to rest, the controller keeps it by itself and nothing more is sent until the
    next active command."""

    def __init__(self, node, topic: str, joint_names: list[str]):
        self.topic, self.joint_names = topic, list(joint_names)
        self.pub = node.create_publisher(JointTrajectory, topic, ROBOT_COMMAND_QOS)
        self.late_rows_dropped = 0
        self._resting: np.ndarray | None = None    # where a hold came to rest (sent once)

    def send(self, rows: np.ndarray, command: Command, now: float) -> None:
        if command.mode != MODE_ACTIVE:
            at_rest = np.allclose(rows, rows[0], atol=1e-6)
            if at_rest and self._resting is not None and np.allclose(rows[0], self._resting, atol=1e-6):
                return
            self._resting = rows[0].copy() if at_rest else None
        else:
            self._resting = None
        first, times = trajectory_times(command.stamp, command.dt, len(rows), now)
        self.late_rows_dropped += first
        if times:
            self.pub.publish(make_trajectory(self.joint_names, rows[first:], times))


class ForwardGripper:
    """The gripper target as Float64MultiArray [position] to a forward command controller."""

    def __init__(self, node, topic):
        self.name = topic
        self.pub = node.create_publisher(Float64MultiArray, topic, ROBOT_COMMAND_QOS)

    def describe(self) -> str:
        return f'forward command on {self.name}'

    def send(self, position: float) -> None:
        self.pub.publish(Float64MultiArray(data=[float(position)]))
