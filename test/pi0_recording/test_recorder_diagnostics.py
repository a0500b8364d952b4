"""The recorder's /diagnostics, read over DDS from another process, as a demo collector does to wait
until the recorder records everything: the topics it subscribed and still awaits, the running
episode, the count of finished ones and the free space."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from pi0_msgs.srv import StartEpisode, StopEpisode
from sensor_msgs.msg import JointState

from pi0_common.qos import SENSOR_PUB_QOS

NAME = 'pi0_recorder: ur5e'


def run_recorder(out: Path, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, '-m', 'pi0_recording.recorder_node', '--ros-args', '-p', f'output_dir:={out}',
           '-p', 'embodiment:=ur5e', '-p', 'disk_floor_mb:=0.0', '-p', 'discovery_period:=0.2']
    return subprocess.Popen(cmd, stdout=log.open('w'), stderr=subprocess.STDOUT)


class Diagnostics:
    """The latest recorder status seen on /diagnostics."""

    def __init__(self, node):
        self.latest: DiagnosticStatus | None = None
        node.create_subscription(DiagnosticArray, '/diagnostics', self._on_array, 10)

    def _on_array(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == NAME:
                self.latest = status

    def values(self) -> dict[str, str]:
        return {} if self.latest is None else {kv.key: kv.value for kv in self.latest.values}

    def wait(self, what: str, condition, proc, log: Path, timeout: float = 30.0) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while not condition(self.values()):
            assert proc.poll() is None, f'recorder exited:\n{log.read_text()}'
            assert time.monotonic() < deadline, f'{what}: last status {self.values()}\n{log.read_text()}'
            time.sleep(0.05)
        return self.values()


def topics(value: str) -> set[str]:
    return set(filter(None, value.split(',')))


@pytest.mark.slow
def test_diagnostics_tell_another_process_what_is_recorded(ros, tmp_path):
    log = tmp_path / 'recorder.log'
    node = ros.node('diagnostics_reader')
    diagnostics = Diagnostics(node)
    joints = node.create_publisher(JointState, 'joint_states', SENSOR_PUB_QOS)
    proc = run_recorder(tmp_path / 'bags', log)
    try:
        first = diagnostics.wait('first status', lambda v: '/joint_states' in topics(v.get('subscribed', '')),
                                 proc, log)
        assert diagnostics.latest.level == DiagnosticStatus.WARN           # cameras etc. have no publisher
        assert '/joint_states' not in topics(first['waiting_for_publisher'])
        assert {'/camera/base/image_raw', '/pi0/command', '/pi0/instruction'} <= topics(first['waiting_for_publisher'])
        assert first['episode'] == '' and first['episodes_recorded'] == '0' and float(first['free_mb']) > 0

        started = ros.call(node, StartEpisode, 'pi0/recorder/start_episode', StartEpisode.Request(task='reach'))
        assert started.success, started.message
        joints.publish(JointState(name=['a'], position=[1.0]))
        diagnostics.wait('episode running', lambda v: v.get('episode') == '0', proc, log)
        assert ros.call(node, StopEpisode, 'pi0/recorder/stop_episode', StopEpisode.Request(success=True)).ok
        done = diagnostics.wait('episode counted', lambda v: v.get('episodes_recorded') == '1', proc, log)
        assert done['episode'] == ''
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(timeout=20) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
