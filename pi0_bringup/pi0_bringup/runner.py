"""The process runner: starts a stack's nodes (stack_spec) each as its own process, exactly what
`ros2 launch` starts, forwards their output, notices one that dies, and stops them all like launch does.
Used by the tools (make demo, evaluate, collect_demos), the system tests and the benchmarks, since
`ros2 launch` is not on PyPI; with a ROS install the launch files start the same nodes.

    with Stack(robot_stack('ur5e', sim=True)) as stack:
        stack.client.wait_for_nodes(...)   # the parent's own client node: services, actions, topics
        stack.check()                      # raises NodeDiedError if a node process ended on its own

Nothing of the stack runs in this process; tools talk to it through ROS only, so each also works
against a stack that `ros2 launch` started elsewhere (their --attach option).
"""

from __future__ import annotations

import signal
import tempfile
from pathlib import Path

from pi0_bringup.console import Console
from pi0_bringup.node_process import NodeProcess
from pi0_bringup.ros_client import RosClient
from pi0_bringup.stack_spec import MANAGER, NodeSpec

START_TIMEOUT = 300.0     # s until every node is in the graph: a full-size checkpoint loads for minutes on a CPU
SIGINT_TIMEOUT = 5.0      # s after SIGINT before SIGTERM, and after SIGTERM before SIGKILL (launch's defaults)
SIGTERM_TIMEOUT = 5.0


class NodeDiedError(RuntimeError):
    """A node process ended while the stack was meant to run."""

    def __init__(self, codes: dict[str, int]):
        self.codes = codes
        super().__init__('node process(es) ended: ' + ', '.join(f'{n} (exit code {c})' for n, c in codes.items())
                         + '; their output is above')


class Stack:
    """The nodes of ``specs`` as child processes, plus a client node in this process.

    Args:
        specs: from stack_spec (robot_stack, recording_stack), in start order.
        log_level: the nodes' ROS log level.
        console: where the nodes' output goes (default: stdout, shared with a live status line).
    """

    def __init__(self, specs: list[NodeSpec], log_level: str = 'info', console: Console | None = None):
        if not specs:
            raise ValueError('a stack needs at least one node')
        if len({s.namespace for s in specs}) != 1:
            raise ValueError('the nodes of one stack share one namespace')
        self.specs = list(specs)
        self.namespace = specs[0].namespace
        self.log_level = log_level
        self.console = console or Console()
        self.processes: dict[str, NodeProcess] = {}
        self.exit_codes: dict[str, int | None] = {}
        self.client: RosClient | None = None
        self._params_dir: tempfile.TemporaryDirectory | None = None

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self, wait: bool = True, timeout: float = START_TIMEOUT) -> Stack:
        """Start every node; with ``wait``, return once all are in the ROS graph and, with a lifecycle
        manager in the stack, once it reports the managed nodes configured and activated."""
        try:
            self._params_dir = tempfile.TemporaryDirectory(prefix='pi0_stack_params_')
            self.client = RosClient(namespace=self.namespace)
            for spec in self.specs:
                process = NodeProcess(spec, Path(self._params_dir.name), self.console, self.log_level)
                process.start()
                self.processes[spec.name] = process
            if wait:
                self.wait_for_nodes(timeout=timeout)
        except BaseException:
            self.shutdown()
            raise
        return self

    def shutdown(self) -> dict[str, int | None]:
        """Stop like launch: SIGINT to every node, then SIGTERM, then SIGKILL to those still running.
        Returns (and prints) each node's exit code (negative: ended by that signal; None: never ended)."""
        running = [p for p in self.processes.values() if p.returncode() is None]
        for sig, timeout in ((signal.SIGINT, SIGINT_TIMEOUT), (signal.SIGTERM, SIGTERM_TIMEOUT),
                             (signal.SIGKILL, SIGTERM_TIMEOUT)):
            if not running:
                break
            if sig != signal.SIGINT:
                self.console.line(f'[runner] {", ".join(p.name for p in running)} still running: '
                                  f'sending {signal.Signals(sig).name}')
            for p in running:
                p.stopping = True
                p.send(sig)
            running = [p for p in running if p.wait(timeout) is None]
        for name, p in self.processes.items():
            if name not in self.exit_codes:
                self.exit_codes[name] = p.returncode()
                self.console.line(f'[runner] {name} exited with code {self.exit_codes[name]}')
        self.processes.clear()
        if self.client is not None:
            self.client.close()
            self.client = None
        if self._params_dir is not None:
            self._params_dir.cleanup()
            self._params_dir = None
        return dict(self.exit_codes)

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.shutdown()

    # -- watching -------------------------------------------------------------------------------
    def died(self) -> dict[str, int]:
        """Nodes whose process ended without being asked to, with their exit codes."""
        return {n: p.returncode() for n, p in self.processes.items()
                if p.returncode() is not None and not p.stopping}

    def check(self) -> None:
        """Raise NodeDiedError if a node process ended on its own (tools call this as they poll)."""
        died = self.died()
        if died:
            raise NodeDiedError(died)

    def wait_for_nodes(self, names: list[str] | None = None, timeout: float = START_TIMEOUT) -> None:
        """Until the named nodes (default: all of the stack, and then until its lifecycle manager reports
        it ready) are in the graph; raises NodeDiedError if one of the stack's processes ends meanwhile,
        StackNotReadyError if the manager reports a failure."""
        self.client.wait_for_nodes(names or [s.name for s in self.specs], timeout, keep_waiting=self.check)
        if names is None and any(s.name == MANAGER for s in self.specs):
            self.client.wait_until_ready(timeout, keep_waiting=self.check)

    def output(self, name: str) -> str:
        """The recent output of one node (also forwarded to the console as it came)."""
        return self.processes[name].output()

    # -- fault injection (tests) -----------------------------------------------------------------
    def signal(self, name: str, sig: int) -> None:
        """Send a signal to one node's process; unless it is SIGINT/SIGTERM-and-expected, its end is
        then reported by died() like any other (a test that kills a node expects that)."""
        self.processes[name].send(sig)

    def kill(self, name: str, timeout: float = 5.0) -> int | None:
        """SIGKILL one node (no clean-up in it: a crash) and return its exit code."""
        process = self.processes[name]
        process.send(signal.SIGKILL)
        return process.wait(timeout)

    def restart(self, name: str) -> None:
        """Start a node whose process ended (killed by a test, crashed) again, as it was first started;
        its earlier end no longer counts in died(). Returns at once: wait_for_nodes([name]) waits for it
        (a managed node then still needs configure and activate, as after any start by hand)."""
        old = self.processes[name]
        if old.returncode() is None:
            raise RuntimeError(f'{name} is still running: kill or stop it first')
        process = NodeProcess(old.spec, Path(self._params_dir.name), self.console, self.log_level)
        process.start()
        self.processes[name] = process

    # -- for the tools ----------------------------------------------------------------------------
    @property
    def context(self):
        return self.client.context

    @property
    def node(self):
        return self.client.node

    def add_node(self, node) -> None:
        self.client.add_node(node)

    def parameters(self, name: str) -> dict:
        """The resolved parameters one node was started with."""
        return next(s.parameters for s in self.specs if s.name == name)
