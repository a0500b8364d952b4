"""In-process runner: the same three nodes as pi0_stack.launch.py, with the same parameter file,
composed in one process on one rclpy executor. Used by the main job and by the system tests, since
`ros2 launch` is not installable everywhere; on a full ROS install the launch files do the same.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import rclpy
import yaml
from rclpy.executors import MultiThreadedExecutor
from rclpy.parameter import Parameter

from pi0_drivers.driver_node import RobotDriverNode
from pi0_drivers.executor_node import ChunkExecutorNode
from pi0_policy.policy_node import PolicyNode

NODE_NAMES = ('pi0_robot_driver', 'pi0_chunk_executor', 'pi0_policy')


def config_dir() -> Path:
    """pi0_bringup/config, installed (ament index) or in the source tree."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
        try:
            return Path(get_package_share_directory('pi0_bringup')) / 'config'
        except PackageNotFoundError:
            pass
    except ImportError:
        pass
    return Path(__file__).resolve().parent.parent / 'config'


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f'{prefix}.{k}' if prefix else k, v, out)
    else:
        out[prefix] = value


def node_parameters(params_file: str | Path, node_name: str) -> dict[str, Any]:
    """The parameters a ROS params file gives a node, wildcards first (as rcl applies them)."""
    with open(params_file) as f:
        data = yaml.safe_load(f) or {}
    out: dict[str, Any] = {}
    for key in ('/**', '**', f'/**/{node_name}', node_name, f'/{node_name}'):
        block = data.get(key)
        if isinstance(block, dict):
            _flatten('', block.get('ros__parameters', {}), out)
    return out


class Stack:
    """policy + executor + driver for one embodiment, spinning in a background thread.

    Args mirror the launch arguments; ``overrides`` adds per-node parameters on top
    (e.g. {'pi0_chunk_executor': {'switching': 'crossfade'}}).
    """

    def __init__(self, embodiment: str = 'ur5e', sim: bool = True, checkpoint: str = '', instruction: str = '',
                 namespace: str = '', params_file: str | Path = '', switching: str = '',
                 overrides: dict[str, dict[str, Any]] | None = None, threads: int = 8):
        params_file = Path(params_file) if params_file else config_dir() / f'{embodiment}.yaml'
        if not params_file.is_file():
            raise FileNotFoundError(f'no parameter file {params_file} for embodiment {embodiment!r}')
        self.params = {name: node_parameters(params_file, name) for name in NODE_NAMES}
        self.params['pi0_robot_driver'].update(embodiment=embodiment, sim=sim)
        self.params['pi0_chunk_executor']['embodiment'] = embodiment
        self.params['pi0_policy']['embodiment'] = embodiment
        if checkpoint:
            self.params['pi0_policy']['checkpoint'] = checkpoint
        if instruction:
            self.params['pi0_policy']['instruction'] = instruction
        if switching:
            self.params['pi0_chunk_executor']['switching'] = switching
        for node, values in (overrides or {}).items():
            if node not in self.params:
                raise ValueError(f'override for unknown node {node!r}; nodes: {", ".join(NODE_NAMES)}')
            self.params[node].update(values)
        self.namespace = namespace
        self.threads = threads
        self.context: rclpy.Context | None = None
        self.nodes: dict[str, Any] = {}
        self._executor: MultiThreadedExecutor | None = None
        self._thread: threading.Thread | None = None

    def _make(self, cls, name):
        overrides = [Parameter(k, value=v) for k, v in self.params[name].items()]
        node = cls(context=self.context, namespace=self.namespace, parameter_overrides=overrides)
        self.nodes[name] = node
        self._executor.add_node(node)
        return node

    def start(self) -> Stack:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self._executor = MultiThreadedExecutor(num_threads=self.threads, context=self.context)
        try:
            # Driver first (the robot's state flows), the policy last (loading and warm-up take a while).
            self._make(RobotDriverNode, 'pi0_robot_driver')
            self._make(ChunkExecutorNode, 'pi0_chunk_executor')
            self._thread = threading.Thread(target=self._spin, name='pi0_stack', daemon=True)
            self._thread.start()
            self._make(PolicyNode, 'pi0_policy')
        except BaseException:
            self.shutdown()
            raise
        return self

    def _spin(self) -> None:
        try:
            self._executor.spin()
        except Exception:   # the context was shut down under the executor
            if self.context is not None and self.context.ok():
                raise

    def add_node(self, node) -> None:
        """Spin another node (a monitor, a test probe) with the stack."""
        self._executor.add_node(node)

    @property
    def driver(self) -> RobotDriverNode:
        return self.nodes['pi0_robot_driver']

    @property
    def executor(self) -> ChunkExecutorNode:
        return self.nodes['pi0_chunk_executor']

    @property
    def policy(self) -> PolicyNode:
        return self.nodes['pi0_policy']

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(timeout_sec=2.0)
        for node in reversed(list(self.nodes.values())):
            node.destroy_node()
        self.nodes.clear()
        if self.context is not None:
            rclpy.try_shutdown(context=self.context)
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self.context = None

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.shutdown()
