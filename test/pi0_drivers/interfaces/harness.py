"""Helpers for the interface tests: a driver node for an embodiment, a probe node that listens on the
vendor topics, and executor commands published the way the executor publishes them.

Vendor message types come from an installed vendor package or from the vendor interfaces that
``make setup`` builds into install_vendor/ (vendor_interfaces/, sourced by tools/env.sh); ``vendor``
skips a test module with the reason when they are not importable.
"""

from __future__ import annotations

import importlib
import importlib.resources
import itertools

import numpy as np
import pytest
from pi0_msgs.msg import ExecutorCommand

from pi0_common.commands import Command
from pi0_common.embodiment import load_embodiment
from pi0_common.messages import command_to_msg
from pi0_common.qos import CHUNK_QOS
from pi0_drivers.driver_node import RobotDriverNode
from pi0_sim.simulator_node import SimulatorNode

FIXTURE_HINT = ('the vendor interface packages are not built or not sourced: run make setup (it builds them '
                'into install_vendor/) and source tools/env.sh before pytest')


def vendor(package: str, module: str = 'msg'):
    """The vendor module (e.g. franka_msgs.action), or skip the calling test module saying why."""
    try:
        return importlib.import_module(f'{package}.{module}')
    except ImportError:
        pytest.skip(f'{package} is not importable: {FIXTURE_HINT}', allow_module_level=True)


_RIGS = itertools.count()


def variant(embodiment: str, directory, **interface) -> str:
    """The path of a copy of an embodiment file whose arms' interface blocks have these keys changed
    (a value None removes the key): for the modes a file does not default to."""
    import yaml
    path = importlib.resources.files('pi0_common') / 'embodiments' / f'{embodiment}.yaml'
    data = yaml.safe_load(path.read_text())
    for arm in data['arms']:
        for key, value in interface.items():
            if value is None:
                arm['interface'].pop(key, None)
            else:
                arm['interface'][key] = value
    out = directory / f'{embodiment}_variant.yaml'
    out.write_text(yaml.safe_dump(data))
    return str(out)


class DriverRig:
    """A RobotDriverNode (with a SimulatorNode behind it) plus a probe node that publishes executor
    commands, all in a namespace of their own: endpoints of an earlier test can linger on the DDS graph
    for a moment, and a test must not see them (an action client would find a server that is gone)."""

    def __init__(self, ros, embodiment: str, sim: bool = True, **params):
        self.ros = ros
        self.emb = load_embodiment(embodiment)
        self.namespace = f'/rig{next(_RIGS)}'
        # The simulated vendor controllers, or (sim=False) nothing behind the driver: the test's probe
        # then plays the vendor driver.
        self.sim = ros.make(SimulatorNode, {'embodiment': embodiment}, namespace=self.namespace) if sim else None
        self.node = ros.make(RobotDriverNode, {'embodiment': embodiment, **params}, namespace=self.namespace)
        self.probe = ros.node('probe', namespace=self.namespace)
        self.pub = self.probe.create_publisher(ExecutorCommand, 'pi0/command', CHUNK_QOS)

    def now(self) -> float:
        return self.probe.get_clock().now().nanoseconds * 1e-9

    def collect(self, msg_type, topic: str, qos=10) -> list:
        return self.ros.collect(self.probe, msg_type, topic, qos)

    def wait_subscribed(self, topic: str, count: int = 1, timeout: float = 5.0) -> None:
        """Until the driver's publisher on topic sees the probe's subscription (no message lost)."""
        assert self.ros.wait_for(lambda: self.node.count_subscribers(topic) >= count, timeout), \
            f'nobody subscribed to {topic}'

    def send(self, mode: int, rows: np.ndarray, wait: bool = True) -> None:
        """Publish one command; with wait, until the driver has handled it (sent or refused)."""
        before = self.node.commands_sent + self.node.commands_refused
        self.pub.publish(command_to_msg(Command(mode, self.now(), self.emb.dt, np.atleast_2d(rows)), self.emb))
        if wait:
            assert self.ros.wait_for(lambda: self.node.commands_sent + self.node.commands_refused > before, 5), \
                'the driver did not handle the command'

    def rows(self, n: int = 5, offset: float = 0.02, gripper: float = 0.5) -> np.ndarray:
        """n rows from home: each joint a little further per row, grippers at ``gripper``."""
        rows = np.tile(self.emb.home, (n, 1))
        joints, grippers = self.emb.indices('joint'), self.emb.indices('gripper')
        rows[:, joints] += offset * np.arange(1, n + 1)[:, None]
        rows[:, grippers] = gripper
        return rows

    def settle(self, seconds: float) -> None:
        self.ros.wait_for(lambda: False, seconds)
