"""Suite-wide test set-up.

Every pytest run gets a DDS domain of its own, so that two runs on one machine (or a run beside a
live stack) never see each other's topics. Discovery is already kept on this host by
tools/env.sh (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST).
"""

import os
import random

if 'ROS_DOMAIN_ID' not in os.environ:
    # 1..101 are valid Fast DDS domains on Linux; 0 is left to the user's live stacks.
    os.environ['ROS_DOMAIN_ID'] = str(random.Random(os.getpid()).randint(1, 101))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')


# ---------------------------------------------------------------- ROS harness for node tests
import time  # noqa: E402

import pytest  # noqa: E402


class RosHarness:
    """A private rclpy context whose nodes each spin on their own executor thread (pi0_common.spin),
    for node-level tests with real DDS between the nodes. ``wait_for`` polls a condition meanwhile."""

    def __init__(self):
        import rclpy

        from pi0_common.spin import NodeSpinner
        self.rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.spinner = NodeSpinner(self.context)
        self.nodes = []

    def add(self, node):
        self.nodes.append(node)
        self.spinner.add(node)
        return node

    def node(self, name: str, **kwargs):
        from rclpy.node import Node
        return self.add(Node(name, context=self.context, **kwargs))

    def make(self, cls, parameters: dict | None = None, lifecycle: str = 'active', **kwargs):
        """Construct one of our node classes in this context with parameter overrides. A lifecycle node is
        brought to ``lifecycle`` (active, inactive or unconfigured) as the lifecycle manager would; a
        failed configure raises ValueError with the node's reason."""
        from rclpy.lifecycle import LifecycleNode
        from rclpy.parameter import Parameter

        from pi0_common.lifecycle import bring_up
        overrides = [Parameter(k, value=v) for k, v in (parameters or {}).items()]
        node = cls(context=self.context, parameter_overrides=overrides, **kwargs)
        if isinstance(node, LifecycleNode) and lifecycle != 'unconfigured':
            if bring_up(node, activate=lifecycle == 'active') not in ('active', 'inactive'):
                node.destroy_node()
                raise ValueError(node.configure_error)
        return self.add(node)

    def collect(self, node, msg_type, topic: str, qos=10):
        """Subscribe and return the list the messages are appended to."""
        received = []
        node.create_subscription(msg_type, topic, received.append, qos)
        return received

    @staticmethod
    def wait_for(condition, timeout: float = 10.0, interval: float = 0.02) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(interval)
        return condition()

    def call(self, node, srv_type, name: str, request, timeout: float = 5.0):
        client = node.create_client(srv_type, name)
        assert client.wait_for_service(timeout_sec=timeout), f'service {name} not available'
        future = client.call_async(request)
        assert self.wait_for(future.done, timeout), f'service {name} did not answer'
        return future.result()

    def transition(self, node, target: str, label: str, timeout: float = 30.0) -> bool:
        """Ask the lifecycle node ``target`` (a name) for a transition (configure, activate, deactivate,
        cleanup, shutdown) through its real lifecycle_msgs/ChangeState service; True when it succeeded."""
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState
        request = ChangeState.Request(transition=Transition(label=label))
        return self.call(node, ChangeState, f'{target}/change_state', request, timeout).success

    def lifecycle_state(self, node, target: str) -> str:
        """The state ``target`` reports through its lifecycle_msgs/GetState service."""
        from lifecycle_msgs.srv import GetState
        return self.call(node, GetState, f'{target}/get_state', GetState.Request()).current_state.label

    def shutdown(self):
        self.spinner.shutdown()
        self.rclpy.try_shutdown(context=self.context)


@pytest.fixture
def ros():
    harness = RosHarness()
    yield harness
    harness.shutdown()


@pytest.fixture
def context():
    """A private rclpy context, for tests that make their own nodes and executors."""
    import rclpy
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.try_shutdown(context=ctx)
