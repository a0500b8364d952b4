"""Lifecycle manager (pi0_lifecycle_manager): brings a stack's managed nodes up in order and reports them.

Parameters
    node_names   the managed nodes, in bring-up order (driver, executor, policy)
    autostart    configure them all, in order, then activate those in ``activate``
    activate     the nodes to activate; ["all"] = every one. On hardware the launch files leave the
                 executor out: its activation is the stack's arming gate, for the operator
                 (`ros2 lifecycle set /pi0_chunk_executor activate`, or pi0/executor/resume)
Publishes pi0/lifecycle/states (diagnostic_msgs/DiagnosticStatus, latched): one key per node with its
state, and a message: starting, ready (every node in its goal state), failed: <node>: <why>, stopping,
stopped. Tools wait for "ready" (pi0_bringup.ros_client). States that change by other hands (`ros2
lifecycle set`) are followed through each node's transition_event topic.

A configure that fails is logged with the node and its reason (the node's own error line, read from
/rosout), the node is shut down (finalized, so its process exits with code 1) and nothing further is
brought up. On shutdown the manager deactivates the active nodes in reverse order. Service calls go
through a client node of its own, spun in a thread, so they never wait inside a callback of this one.
"""

from __future__ import annotations

import threading
import time

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from lifecycle_msgs.msg import Transition, TransitionEvent
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.msg import Log
from rclpy.node import Node

from pi0_common.lifecycle import READY, STATES_TOPIC
from pi0_common.params import Param, declare_all, positive
from pi0_common.qos import LATCHED_QOS
from pi0_common.spin import NodeSpinner, run_node

FAILED = 'failed'
GOAL = {True: 'active', False: 'inactive'}
GET_STATE_RETRY = 2.0      # s before get_state is asked again

PARAMETERS = [
    Param('node_names', ['pi0_robot_driver', 'pi0_chunk_executor', 'pi0_policy'],
          'Managed nodes (names relative to this node\'s namespace), in bring-up order.'),
    Param('autostart', True, 'Configure every node in order, then activate those in activate.'),
    Param('activate', ['all'], 'Nodes to activate after configuring; ["all"] = every node. On hardware the '
          'executor is left inactive (disarmed): activating it arms the robot.'),
    Param('service_timeout', 300.0, 'Seconds to wait for a node\'s lifecycle services (its process starting).',
          positive),
    Param('configure_timeout', 900.0, 'Seconds one configure may take (a full-size checkpoint loads and warms '
          'up for minutes on a CPU).', positive),
    Param('transition_timeout', 30.0, 'Seconds any other transition may take.', positive),
]


class TransitionError(RuntimeError):
    """A node did not make a transition; the text says which and why."""


class LifecycleManager(Node):
    def __init__(self, **kwargs):
        super().__init__('pi0_lifecycle_manager', **kwargs)
        p = declare_all(self, PARAMETERS)
        self.params = p
        self.names = list(p.node_names)
        if not self.names or len(set(self.names)) != len(self.names):
            raise ValueError(f'parameter node_names: a list of distinct node names, not {self.names}')
        unknown = set(p.activate) - set(self.names) - {'all'}
        if unknown:
            raise ValueError(f'parameter activate: {", ".join(sorted(unknown))} not in node_names '
                             f'({", ".join(self.names)}); ["all"] activates every node')
        self.to_activate = set(self.names) if 'all' in p.activate else set(p.activate)
        self.lock = threading.Lock()
        self.states = {name: 'unknown' for name in self.names}
        self.summary = 'starting'
        self.errors: dict[str, str] = {}            # last error line each managed node logged
        self.stop = threading.Event()
        self.states_pub = self.create_publisher(DiagnosticStatus, STATES_TOPIC, LATCHED_QOS)
        ns = self.get_namespace().rstrip('/')
        self.fqn = {name: f'{ns}/{name}' for name in self.names}
        self.loggers = {self.fqn[n].lstrip('/').replace('/', '.'): n for n in self.names}   # as in /rosout
        for name in self.names:
            self.create_subscription(TransitionEvent, f'{name}/transition_event',
                                     lambda msg, n=name: self._on_transition(n, msg), 10)
        self.create_subscription(Log, '/rosout', self._on_log, 100)
        # Global arguments are left out: they rename every node of the process (__node:=).
        self.client_node = Node(f'{self.get_name()}_client', namespace=self.get_namespace(),
                                context=self.context, use_global_arguments=False)
        self.spinner = NodeSpinner(self.context)
        self.spinner.add(self.client_node)
        self.change = {n: self.client_node.create_client(ChangeState, f'{self.fqn[n]}/change_state')
                       for n in self.names}
        self.get = {n: self.client_node.create_client(GetState, f'{self.fqn[n]}/get_state') for n in self.names}
        self._publish()
        self.worker = None
        if p.autostart:
            self.worker = threading.Thread(target=self._bring_up, name='lifecycle_bring_up', daemon=True)
            self.worker.start()

    # ---------------------------------------------------------------- watching
    def _on_transition(self, name: str, msg: TransitionEvent) -> None:
        with self.lock:
            self.states[name] = msg.goal_state.label
        self._publish()

    def _on_log(self, msg: Log) -> None:
        name = self.loggers.get(msg.name)
        if name is not None and msg.level >= Log.ERROR:
            with self.lock:
                self.errors[name] = msg.msg.removeprefix('configure failed: ')

    def _publish(self, summary: str | None = None) -> None:
        with self.lock:
            if summary is not None:
                self.summary = summary
            elif self.summary in ('starting', READY):
                ready = all(self.states[n] == GOAL[n in self.to_activate] for n in self.names)
                self.summary = READY if ready else 'starting'
            msg = DiagnosticStatus(
                level={READY: DiagnosticStatus.OK}.get(self.summary, DiagnosticStatus.ERROR
                                                      if self.summary.startswith(FAILED) else DiagnosticStatus.WARN),
                name=self.get_fully_qualified_name(), message=self.summary,
                values=[KeyValue(key=n, value=self.states[n]) for n in self.names])
        self.states_pub.publish(msg)

    # ---------------------------------------------------------------- bring-up (worker thread)
    def _bring_up(self) -> None:
        log = self.get_logger()
        try:
            for name in self.names:
                self._wait_for_services(name)
                if self._get_state(name) == 'unconfigured':
                    log.info(f'configuring {name}')
                    if not self._transition(name, Transition.TRANSITION_CONFIGURE, self.params.configure_timeout):
                        self._configure_failed(name)
                        return
            for name in self.names:
                if name in self.to_activate and self._get_state(name) == 'inactive':
                    if not self._transition(name, Transition.TRANSITION_ACTIVATE, self.params.transition_timeout):
                        raise TransitionError(f'{name}: activate failed (see its log)')
        except TransitionError as e:
            if not self.stop.is_set():
                log.error(str(e))
                self._publish(f'{FAILED}: {e}')
            return
        left = sorted(set(self.names) - self.to_activate)
        log.info('stack ready: ' + ', '.join(f'{n} {self.states[n]}' for n in self.names)
                 + (f' ({", ".join(left)} left inactive: activate to arm)' if left else ''))
        self._publish()

    def _configure_failed(self, name: str) -> None:
        time.sleep(0.2)            # its error line may reach /rosout just after the reply
        with self.lock:
            why = self.errors.get(name, 'see its log')
        self.get_logger().error(f'{name}: configure failed: {why}; shutting it down, nothing more is started')
        self._transition(name, Transition.TRANSITION_UNCONFIGURED_SHUTDOWN, self.params.transition_timeout)
        self._publish(f'{FAILED}: {name}: {why}')

    def _wait_for_services(self, name: str) -> None:
        deadline = time.monotonic() + self.params.service_timeout
        while not (self.change[name].service_is_ready() and self.get[name].service_is_ready()):
            if self.stop.is_set():
                raise TransitionError('stopped')
            if time.monotonic() > deadline:
                raise TransitionError(f'{name}: no lifecycle services after {self.params.service_timeout:g} s '
                                       f'(is it running?)')
            time.sleep(0.1)

    def _call(self, client, request, timeout: float):
        """The response, or None after ``timeout`` or when the manager stops meanwhile."""
        future = client.call_async(request)
        deadline = time.monotonic() + timeout
        while not future.done():
            if (self.stop.is_set() and timeout > 2.0) or time.monotonic() > deadline:
                client.remove_pending_request(future)
                return None
            time.sleep(0.02)
        return future.result()

    def _get_state(self, name: str) -> str:
        # A request (or its response) can be lost while the service and this client are still matching
        # up, although the service already shows as ready; asking again is harmless: get_state changes nothing.
        deadline = time.monotonic() + self.params.transition_timeout
        while (response := self._call(self.get[name], GetState.Request(), GET_STATE_RETRY)) is None:
            if self.stop.is_set() or time.monotonic() > deadline:
                raise TransitionError('stopped' if self.stop.is_set() else f'{name}: no answer to get_state')
        with self.lock:
            self.states[name] = response.current_state.label
        return response.current_state.label

    def _transition(self, name: str, transition: int, timeout: float) -> bool:
        response = self._call(self.change[name], ChangeState.Request(transition=Transition(id=transition)), timeout)
        if response is None:
            raise TransitionError('stopped' if self.stop.is_set() else
                                   f'{name}: transition {transition} not done within {timeout:g} s')
        return response.success

    # ---------------------------------------------------------------- shutdown
    def destroy_node(self):
        """Deactivate the active nodes in reverse order (those still answering: under launch each node got
        the same signal and holds by itself), then stop."""
        self.stop.set()
        if self.worker is not None:
            self.worker.join(timeout=3.0)
        self._publish('stopping')
        for name in reversed(self.names):
            with self.lock:
                active = self.states[name] == 'active'
            if active and self.change[name].service_is_ready():
                try:
                    self._transition(name, Transition.TRANSITION_DEACTIVATE, 1.0)
                except TransitionError:
                    pass          # it is stopping by itself: its own shutdown holds
        self._publish('stopped')
        self.spinner.shutdown()
        return super().destroy_node()


def stack_ready(msg: DiagnosticStatus | None) -> bool:
    """Whether a pi0/lifecycle/states message says every managed node reached its goal state."""
    return msg is not None and msg.message == READY


def main(args=None):
    run_node(LifecycleManager, args)


if __name__ == '__main__':
    main()
