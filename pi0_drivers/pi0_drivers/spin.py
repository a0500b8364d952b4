"""The one main() of every pi0_ros node: init, spin on a multi-threaded executor, clean shutdown."""

from __future__ import annotations

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor


def run_node(node_cls, args=None) -> None:
    rclpy.init(args=args)
    node = None
    try:
        node = node_cls()
        executor = MultiThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        try:
            if node is not None:
                node.destroy_node()
            rclpy.try_shutdown()
        except KeyboardInterrupt:       # a second Ctrl-C during clean-up: nothing left to save
            pass
