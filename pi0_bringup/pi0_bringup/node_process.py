"""One node of a stack as its own operating-system process, started the way `ros2 launch` starts it:
the package's installed console script with `--ros-args` remapping its name and namespace, a params
file and a log level. Its output is forwarded line by line, prefixed with the node's name.
"""

from __future__ import annotations

import collections
import ctypes
import os
import signal
import subprocess
import threading
from pathlib import Path

import yaml

from pi0_bringup.console import Console
from pi0_bringup.stack_spec import NodeSpec, fully_qualified_name

KEEP_LINES = 2000      # recent output lines kept per node (tests, error reports)


def executable_path(package: str, executable: str) -> Path:
    """<prefix>/lib/<package>/<executable>, as `ros2 run` and launch_ros find it."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix
    try:
        prefix = get_package_prefix(package)
    except PackageNotFoundError:
        raise FileNotFoundError(f'package {package!r} is not installed (is the workspace built and sourced?)') \
            from None
    path = Path(prefix) / 'lib' / package / executable
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(f'no executable {path} (package {package}); rebuild the workspace')
    return path


def write_params_file(spec: NodeSpec, folder: Path) -> Path:
    """The node's resolved parameters, keyed by its exact fully qualified name."""
    path = folder / f'{spec.name}.yaml'
    key = fully_qualified_name(spec.name, spec.namespace)
    path.write_text(yaml.safe_dump({key: {'ros__parameters': spec.parameters}}, sort_keys=False))
    return path


try:    # looked up here, not between fork and exec, where loading a library could deadlock
    _PRCTL = ctypes.CDLL(None).prctl
except (OSError, AttributeError):
    _PRCTL = None
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # The children live in their own sessions (a Ctrl-C in the terminal reaches only the parent, which
    # then stops them in order, as launch does); without the death signal, a parent killed hard would
    # leave them running. Linux sends it when the thread that started the child ends: start stacks from
    # the main thread.
    os.setsid()
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, int(signal.SIGTERM))


class NodeProcess:
    def __init__(self, spec: NodeSpec, params_dir: Path, console: Console, log_level: str = 'info'):
        self.spec = spec
        self.console = console
        self.lines: collections.deque[str] = collections.deque(maxlen=KEEP_LINES)
        self.stopping = False          # set when we asked it to stop: its exit is then no failure
        self.cmd = [str(executable_path(spec.package, spec.executable)), '--ros-args',
                    '-r', f'__node:={spec.name}', '--params-file', str(write_params_file(spec, params_dir)),
                    '--log-level', log_level]
        if spec.namespace:
            self.cmd[2:2] = ['-r', f'__ns:={fully_qualified_name("", spec.namespace).rstrip("/")}']
        for source, target in spec.remaps.items():
            self.cmd += ['-r', f'{source}:={target}']
        self.proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def start(self) -> None:
        # Python children would block-buffer a pipe: their log lines would come late and out of order.
        env = dict(os.environ, PYTHONUNBUFFERED='1')
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent)
        self._reader = threading.Thread(target=self._forward, name=f'output_{self.name}', daemon=True)
        self._reader.start()

    def _forward(self) -> None:
        for raw in iter(self.proc.stdout.readline, b''):
            text = raw.decode('utf-8', errors='replace').rstrip('\r\n')
            self.lines.append(text)
            self.console.line(f'[{self.name}] {text}')
        self.proc.stdout.close()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def returncode(self) -> int | None:
        """The exit code once the process ended (negative: killed by that signal), else None."""
        return self.proc.poll() if self.proc is not None else None

    def send(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int | None:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        if self._reader is not None:
            self._reader.join(timeout=2.0)         # the last lines it printed reach the console first
        return code

    def output(self) -> str:
        return '\n'.join(self.lines)
