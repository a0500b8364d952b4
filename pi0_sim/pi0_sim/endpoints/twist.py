"""A simulated mobile base on geometry_msgs/Twist (Trossen SLATE, most vendor drivers) or TwistStamped
(ros2_control drive controllers; interface.stamped), on interface.topic: vx <- linear.x,
vy <- linear.y, wz <- angular.z.
"""

from __future__ import annotations

from geometry_msgs.msg import Twist, TwistStamped

from pi0_sim.endpoints.base import CONTROLLER_SUB_QOS, SimEndpoint


class TwistSimEndpoint(SimEndpoint):
    def __init__(self, node, world, lock, embodiment, base, config):
        super().__init__(node, world, lock, embodiment, base, config)
        stamped = config.get('stamped', False)
        node.create_subscription(TwistStamped if stamped else Twist, config['topic'],
                                 lambda m: self._on_twist(m.twist if stamped else m), CONTROLLER_SUB_QOS)

    def _on_twist(self, twist: Twist) -> None:
        axes = {"vx": twist.linear.x, "vy": twist.linear.y, "wz": twist.angular.z}
        with self.lock:
            try:
                self.world.command_base_velocity({a: axes[a] for a in self.spec.axes}, self.now())
            except ValueError as e:
                self.log_error(f"base command rejected: {e}")

