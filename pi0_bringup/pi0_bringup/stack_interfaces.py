"""The ROS interfaces the tools drive a running stack through, wrapped once for all of them: the simulated
task's state and reset, the simulator's start spread (a parameter), the executor's pause and resume,
and what nodes report on /diagnostics. Each works the same against the runner's child processes and
against a `ros2 launch` stack elsewhere.
"""

from __future__ import annotations

import threading
import time

from diagnostic_msgs.msg import DiagnosticArray
from pi0_msgs.msg import SimTaskState
from pi0_msgs.srv import ResetSimulation
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from std_srvs.srv import Trigger

from pi0_common.qos import LATCHED_QOS
from pi0_common.spin import NoAnswerError, call_service, wait_for_future

SIMULATOR = 'pi0_simulator'


class TaskStateWatcher:
    """The latest sim/task_state (latched: a late subscriber gets the current one at once)."""

    def __init__(self, node: Node):
        self._lock = threading.Condition()
        self._state: SimTaskState | None = None
        node.create_subscription(SimTaskState, 'sim/task_state', self._on_state, LATCHED_QOS)

    def _on_state(self, msg: SimTaskState) -> None:
        with self._lock:
            self._state = msg
            self._lock.notify_all()

    @property
    def state(self) -> SimTaskState | None:
        with self._lock:
            return self._state

    def wait_for_episode(self, episode: int, timeout: float = 5.0) -> SimTaskState:
        """The first task state of this episode (or a later one)."""
        with self._lock:
            if not self._lock.wait_for(lambda: self._state is not None and self._state.episode >= episode, timeout):
                raise NoAnswerError(f'no sim/task_state of episode {episode} within {timeout:g} s')
            return self._state


class Diagnostics:
    """The latest /diagnostics key-values of each node (by the node name its status names)."""

    def __init__(self, node: Node):
        self._lock = threading.Lock()
        self._values: dict[str, dict[str, str]] = {}
        self._received: dict[str, float] = {}          # monotonic time of each node's last report
        node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        with self._lock:
            for status in msg.status:
                # pi0_ros nodes name their status "<node name>: <embodiment>"
                name = status.name.split(':', 1)[0].strip()
                self._values[name] = {kv.key: kv.value for kv in status.values}
                self._received[name] = time.monotonic()

    def values(self, node_name: str, since: float = -float('inf')) -> dict[str, str]:
        """The node's last key-values, if they came after ``since`` (time.monotonic()); else {}."""
        with self._lock:
            if self._received.get(node_name, -float('inf')) <= since:
                return {}
            return dict(self._values[node_name])


def driver_counts(diagnostics: Diagnostics) -> tuple[int, int] | None:
    """(commands sent, commands refused) from the robot driver's last /diagnostics, None before one came."""
    values = diagnostics.values('pi0_robot_driver')
    if 'commands_sent' not in values:
        return None
    return int(values['commands_sent']), int(values.get('commands_refused', 0))


class StackControls:
    """Clients of the executor's and the simulator's services, from one node of the tool's."""

    def __init__(self, node: Node):
        self.node = node
        self.pause_client = node.create_client(Trigger, 'pi0/executor/pause')
        self.resume_client = node.create_client(Trigger, 'pi0/executor/resume')
        self.reset_client = node.create_client(ResetSimulation, 'sim/reset')
        self.sim_params = AsyncParameterClient(node, SIMULATOR)

    def _trigger(self, client, timeout: float) -> None:
        response = call_service(client, Trigger.Request(), timeout=timeout)
        if not response.success:
            raise RuntimeError(f'{client.srv_name} refused: {response.message}')

    def pause(self, timeout: float = 5.0) -> None:
        self._trigger(self.pause_client, timeout)

    def resume(self, timeout: float = 5.0) -> None:
        self._trigger(self.resume_client, timeout)

    def reset(self, seed: int = -1, timeout: float = 10.0) -> int:
        """sim/reset (seed >= 0 reseeds the layouts first: reproducible episodes); returns the episode number."""
        response = call_service(self.reset_client, ResetSimulation.Request(seed=seed), timeout=timeout)
        if not response.success:
            raise RuntimeError(f'sim/reset refused: {response.message}')
        return response.episode

    def set_simulator_parameter(self, name: str, value, timeout: float = 10.0) -> None:
        """Set one of the simulator's parameters through its parameter service (works in --attach mode)."""
        if not self.sim_params.wait_for_services(timeout_sec=timeout):
            raise NoAnswerError(f'the parameter services of {SIMULATOR} are not available')
        response = wait_for_future(self.sim_params.set_parameters([Parameter(name, value=value)]), timeout,
                                   f'{SIMULATOR}/set_parameters')
        result = response.results[0]
        if not result.successful:
            raise RuntimeError(f'{SIMULATOR} refused {name} = {value!r}: {result.reason}')


def wait_for_services(node: Node, clients, timeout: float, what: str) -> None:
    """Until every client's service (or action server) is available; raises naming the missing ones."""
    deadline = time.monotonic() + timeout
    for client in clients:
        ready = client.wait_for_server if hasattr(client, 'wait_for_server') else client.wait_for_service
        if not ready(timeout_sec=max(deadline - time.monotonic(), 0.1)):
            name = getattr(client, 'srv_name', None) or getattr(client, '_action_name', '?')
            raise NoAnswerError(f'{name} is not available after {timeout:g} s: is {what} running?')
