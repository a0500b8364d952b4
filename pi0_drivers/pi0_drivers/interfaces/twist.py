"""Mobile bases on geometry_msgs/Twist (Trossen SLATE, most vendor drivers) or TwistStamped
(ros2_control drive controllers on Jazzy and later: diff_drive_controller on ~/cmd_vel,
mecanum_drive_controller on ~/reference, which wants the stamp set): interface.stamped selects, and the
header carries the send time. Axes map vx -> linear.x, vy -> linear.y (holonomic bases), wz -> angular.z.
Zero velocity on hold and on timeout.
"""

from __future__ import annotations

from geometry_msgs.msg import Twist, TwistStamped

from pi0_common.commands import Command
from pi0_common.messages import to_time_msg
from pi0_common.qos import ROBOT_COMMAND_QOS
from pi0_drivers.interfaces.base import BaseInterface, check_keys, config_value

KEYS = {'topic', 'stamped'}


def make_twist(axes: tuple[str, ...], values) -> Twist:
    twist = Twist()
    for axis, v in zip(axes, values, strict=True):
        if axis == 'vx':
            twist.linear.x = float(v)
        elif axis == 'vy':
            twist.linear.y = float(v)
        else:
            twist.angular.z = float(v)
    return twist


def twist_axes(twist: Twist) -> dict[str, float]:
    return {'vx': twist.linear.x, 'vy': twist.linear.y, 'wz': twist.angular.z}


class TwistBase(BaseInterface):
    def __init__(self, node, embodiment, base, base_idx, overrides):
        super().__init__(node, embodiment, base, base_idx, overrides)
        cfg = {**base.interface, **{k: v for k, v in overrides.items() if v not in ('', None)}}
        check_keys(cfg, KEYS, self.where)
        self.topic = config_value(cfg, 'topic', str, self.where)
        self.stamped = config_value(cfg, 'stamped', bool, self.where, False)
        self.pub = node.create_publisher(TwistStamped if self.stamped else Twist, self.topic, ROBOT_COMMAND_QOS)

    def describe(self) -> str:
        return f'{"TwistStamped" if self.stamped else "Twist"} on {self.topic}'

    def _publish(self, values, now: float) -> None:
        twist = make_twist(self.base.axes, values)
        if self.stamped:
            msg = TwistStamped(twist=twist)
            msg.header.stamp = to_time_msg(now)
            msg.header.frame_id = 'base_link'
            self.pub.publish(msg)
        else:
            self.pub.publish(twist)

    def send(self, command: Command, now: float) -> None:
        self._publish(command.positions[0, self.base_idx], now)

    def on_timeout(self, now: float) -> None:
        self._publish([0.0] * len(self.base.axes), now)


