"""In-process runner: the same three nodes as pi0_stack.launch.py, with the same parameter file,
composed in one process, each node spun on its own executor thread (see pi0_common.spin). Used by the
main job and by the system tests, since `ros2 launch` is not installable everywhere; on a full ROS
install the launch files do the same.

With ``policy_process=True`` the policy node runs in a child process of its own (as under
`ros2 launch`): the model's Python work then no longer shares one interpreter lock with the control
tick and the simulator, which on a small CPU halves the jitter and the inference time.
"""

from __future__ import annotations

import multiprocessing
import traceback
from pathlib import Path
from typing import Any

import rclpy
import yaml
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter

from pi0_common.spin import NodeSpinner
from pi0_drivers.driver_node import RobotDriverNode
from pi0_drivers.executor_node import ChunkExecutorNode
from pi0_policy.policy_node import PolicyNode

NODE_NAMES = ('pi0_robot_driver', 'pi0_chunk_executor', 'pi0_policy')
POLICY_START_TIMEOUT = 300.0   # s: loading a full-size checkpoint on a CPU takes minutes


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
                 overrides: dict[str, dict[str, Any]] | None = None, policy_process: bool = False):
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
        self.policy_process = policy_process
        self._policy_proc = None
        self._policy_stop = None
        self.context: rclpy.Context | None = None
        self.nodes: dict[str, Any] = {}
        self._spinner: NodeSpinner | None = None

    def _make(self, cls, name):
        overrides = [Parameter(k, value=v) for k, v in self.params[name].items()]
        node = cls(context=self.context, namespace=self.namespace, parameter_overrides=overrides)
        self.nodes[name] = node
        self._spinner.add(node)
        return node

    def start(self) -> Stack:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self._spinner = NodeSpinner(self.context)
        try:
            # Driver first (the robot's state flows), the policy last (loading and warm-up take a while).
            self._make(RobotDriverNode, 'pi0_robot_driver')
            self._make(ChunkExecutorNode, 'pi0_chunk_executor')
            if self.policy_process:
                self._start_policy_process()
            else:
                self._make(PolicyNode, 'pi0_policy')
        except BaseException:
            self.shutdown()
            raise
        return self

    def _start_policy_process(self) -> None:
        ctx = multiprocessing.get_context('spawn')      # never fork a process that runs DDS threads
        ready, self._policy_stop = ctx.Event(), ctx.Event()
        self._policy_proc = ctx.Process(target=_policy_process_main, name='pi0_policy',
                                        args=(self.params['pi0_policy'], self.namespace, ready, self._policy_stop))
        self._policy_proc.start()
        deadline = POLICY_START_TIMEOUT
        while not ready.wait(0.2):
            deadline -= 0.2
            if not self._policy_proc.is_alive() or deadline <= 0:
                raise RuntimeError(f'the policy node did not start (exit code {self._policy_proc.exitcode}); '
                                   f'its error is printed above')

    def add_node(self, node) -> None:
        """Spin another node (a monitor, a test probe) with the stack; it is destroyed with the stack."""
        self._spinner.add(node)

    @property
    def driver(self) -> RobotDriverNode:
        return self.nodes['pi0_robot_driver']

    @property
    def executor(self) -> ChunkExecutorNode:
        return self.nodes['pi0_chunk_executor']

    @property
    def policy(self) -> PolicyNode:
        if self.policy_process:
            raise RuntimeError('the policy node runs in its own process; talk to it through ROS')
        return self.nodes['pi0_policy']

    def shutdown(self) -> None:
        if self._policy_proc is not None:
            self._policy_stop.set()
            self._policy_proc.join(timeout=10.0)
            if self._policy_proc.is_alive():
                self._policy_proc.terminate()
                self._policy_proc.join(timeout=5.0)
            self._policy_proc = None
        if self._spinner is not None:
            self._spinner.shutdown()
            self._spinner = None
        self.nodes.clear()
        if self.context is not None:
            rclpy.try_shutdown(context=self.context)
        self.context = None

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.shutdown()


def _policy_process_main(params: dict[str, Any], namespace: str, ready, stop) -> None:
    """Child process: the policy node alone, until the parent sets ``stop``."""
    rclpy.init()
    node = None
    try:
        node = PolicyNode(namespace=namespace, parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        ready.set()
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
    except KeyboardInterrupt:
        pass
    except Exception:
        traceback.print_exc()
        raise SystemExit(1) from None
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
