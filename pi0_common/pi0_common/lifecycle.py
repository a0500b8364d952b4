"""What pi0_ros's managed (lifecycle) nodes share: the driver, the chunk executor and the policy node.

Each declares and checks its parameters in __init__ (a bad value stops the process before anything
starts); on_configure builds what connects or loads (interface clients, the executor core, the model);
on_activate starts publishing and commanding; on_deactivate holds; on_cleanup releases what configure
built; on_shutdown works from any state. A configure that cannot succeed logs one line and returns
FAILURE, and a node that is then shut down (finalized) ends its process with exit code 1 (run_node).
"""

from __future__ import annotations

from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn

SUCCESS = TransitionCallbackReturn.SUCCESS
# The lifecycle manager's report of the stack (diagnostic_msgs/DiagnosticStatus, latched): message READY once
# every managed node reached its goal state, 'failed: <node>: <why>' otherwise.
STATES_TOPIC = 'pi0/lifecycle/states'
READY = 'ready'
FAILURE = TransitionCallbackReturn.FAILURE


def state_of(node: LifecycleNode) -> str:
    """The node's primary state: unconfigured, inactive, active or finalized (or a transition state)."""
    # rclpy keeps the state machine private and offers no getter; GetState answers from the same field.
    return node._state_machine.current_state[1]


def configure_failed(node: LifecycleNode, error) -> TransitionCallbackReturn:
    """Log why configure failed (one line), remember it for the exit code, and return FAILURE."""
    node.configure_error = str(error)
    node.get_logger().error(f'configure failed: {error}')
    return FAILURE


def bring_up(node: LifecycleNode, activate: bool = True) -> str:
    """Configure (and activate) a node of this process, as the lifecycle manager does over services
    (tests, in-process tools); returns the state reached."""
    if node.trigger_configure() == SUCCESS and activate:
        node.trigger_activate()
    return state_of(node)


class EntityScope:
    """What a node creates after ``open()`` (publishers, subscriptions, clients, services, timers and
    waitables: actions, QoS events), so that on_cleanup destroys exactly what on_configure made, including
    what helper objects (the driver's vendor interfaces) create on the node, then or later."""

    KINDS = ('publishers', 'subscriptions', 'clients', 'services', 'timers', 'waitables')

    def __init__(self, node):
        self.node = node
        self._before: dict[str, set[int]] | None = None

    def open(self) -> EntityScope:
        self._before = {kind: {id(e) for e in getattr(self.node, kind)} for kind in self.KINDS}
        return self

    def release(self) -> None:
        """Destroy everything created since open(), newest first; subscriptions and publishers take their
        QoS event handlers with them, so the waitables left are actions, which destroy themselves."""
        if self._before is None:
            return
        node, before = self.node, self._before
        created = {kind: [e for e in getattr(node, kind) if id(e) not in before[kind]] for kind in self.KINDS}
        for publisher in reversed(created['publishers']):
            node.destroy_lifecycle_publisher(publisher)      # any publisher; also leaves the managed entities
        for kind, destroy in (('subscriptions', node.destroy_subscription), ('clients', node.destroy_client),
                              ('services', node.destroy_service), ('timers', node.destroy_timer)):
            for entity in reversed(created[kind]):
                destroy(entity)
        for waitable in reversed(created['waitables']):
            if id(waitable) in {id(w) for w in node.waitables}:
                if hasattr(waitable, 'destroy'):
                    waitable.destroy()
                if id(waitable) in {id(w) for w in node.waitables}:
                    node.remove_waitable(waitable)
        self._before = None
