"""The tools' own foothold in the ROS graph: one rclpy context and one client node, spun in a background
thread, from which they wait for nodes, call services and actions and subscribe. The stack itself runs
elsewhere (child processes of the runner, or a `ros2 launch` in another terminal): nothing of it lives
in this process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

import rclpy
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from pi0_bringup.stack_spec import fully_qualified_name
from pi0_common.spin import NodeSpinner


class NodesMissingError(RuntimeError):
    """Nodes the caller waited for did not appear in the ROS graph."""


class StackNotReadyError(RuntimeError):
    """The lifecycle manager reported a failure, or the stack did not become ready in time."""


class RosClient:
    def __init__(self, name: str = 'pi0_bringup_client', namespace: str = ''):
        self.namespace = namespace
        self.context = rclpy.Context()
        # No rclpy signal handler: Ctrl-C stays a KeyboardInterrupt in the tool's main thread, which then
        # stops its stack in order instead of losing its ROS context first.
        rclpy.init(context=self.context, signal_handler_options=SignalHandlerOptions.NO)
        self.spinner = NodeSpinner(self.context)
        # The pid keeps two tools on one graph from colliding on one node name.
        self.node = Node(f'{name}_{os.getpid()}', namespace=namespace, context=self.context)
        self.spinner.add(self.node)

    def add_node(self, node: Node) -> None:
        """Spin another node of this process (a monitor, a probe); destroyed by close()."""
        self.spinner.add(node)

    def node_names(self) -> set[str]:
        """Fully qualified names of the nodes in the graph now."""
        return {fully_qualified_name(name, ns) for name, ns in self.node.get_node_names_and_namespaces()}

    def wait_for_nodes(self, names: Iterable[str], timeout: float, namespace: str | None = None,
                       keep_waiting: Callable[[], None] | None = None) -> None:
        """Until every named node is in the graph. ``keep_waiting`` runs every poll and may raise (a
        process that died). Raises NodesMissingError naming the missing ones."""
        ns = self.namespace if namespace is None else namespace
        wanted = {fully_qualified_name(n, ns) for n in names}
        deadline = time.monotonic() + timeout
        while missing := wanted - self.node_names():
            if keep_waiting is not None:
                keep_waiting()
            if time.monotonic() > deadline:
                raise NodesMissingError(f'node(s) {", ".join(sorted(missing))} not in the ROS graph '
                                        f'after {timeout:g} s')
            time.sleep(0.1)

    def wait_until_ready(self, timeout: float, keep_waiting: Callable[[], None] | None = None) -> None:
        """Until the stack's lifecycle manager reports every managed node in its goal state (active; on
        hardware the executor inactive until armed), from its latched pi0/lifecycle/states.

        Raises:
            StackNotReadyError: the manager reported a failure (which node and why), or ``timeout``.
        """
        from diagnostic_msgs.msg import DiagnosticStatus

        from pi0_bringup.lifecycle_manager import FAILED, stack_ready
        from pi0_common.lifecycle import STATES_TOPIC
        from pi0_common.qos import LATCHED_QOS
        last: list[DiagnosticStatus] = []
        sub = self.node.create_subscription(DiagnosticStatus, STATES_TOPIC, last.append, LATCHED_QOS)
        try:
            deadline = time.monotonic() + timeout
            while not (last and stack_ready(last[-1])):
                if last and last[-1].message.startswith(FAILED):
                    raise StackNotReadyError(f'the lifecycle manager reports {last[-1].message}')
                if keep_waiting is not None:
                    keep_waiting()
                if time.monotonic() > deadline:
                    states = ', '.join(f'{kv.key} {kv.value}' for kv in last[-1].values) if last else 'no report'
                    raise StackNotReadyError(f'stack not ready after {timeout:g} s ({states})')
                time.sleep(0.1)
        finally:
            self.node.destroy_subscription(sub)

    def close(self) -> None:
        if self.context is None:
            return
        self.spinner.shutdown()
        rclpy.try_shutdown(context=self.context)
        self.context = None

    def __enter__(self) -> RosClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
