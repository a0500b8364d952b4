"""What the soak benchmark (soak.py) sees of the running stack: the executor's command stamps, the
policy's chunks, the executor's status (with the reason of each refusal), the recorder's services, and
each node process's resident memory.
"""

from __future__ import annotations

import os
import re
import threading
import time
from array import array
from collections import Counter

import numpy as np
from pi0_msgs.msg import ActionChunk, ExecutorCommand, ExecutorStatus
from pi0_msgs.srv import StartEpisode, StopEpisode
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from pi0_common.embodiment import Embodiment
from pi0_common.messages import to_sec
from pi0_common.qos import LATCHED_QOS
from pi0_common.spin import call_service

# Deeper than the stack's depth-1 CHUNK_QOS: a command this process had no time to take must queue,
# not be replaced, or its missing stamp would read as a late tick.
WATCH_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=500, reliability=ReliabilityPolicy.RELIABLE)
STATUS_FIELDS = ('ticks', 'ticks_late', 'chunks_received', 'chunks_executed', 'chunks_rejected', 'steps_skipped',
                 'watchdog_holds')


def rss_mb(pid: int | None) -> float:
    """Resident memory of a process in MB (VmRSS), NaN once it has ended."""
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        pass
    return float('nan')


def reason_kind(text: str) -> str:
    """A refusal's reason without its chunk id, numbers and joint name, so that equal reasons count together."""
    text = re.sub(r'^chunk \d+ ', '', text.strip())
    text = re.sub(r'(commanded) \S+', r'\1 <joint>', text)     # "it starts 0.4 away from the commanded left/elbow"
    return re.sub(r'-?\d+(\.\d+)?(e-?\d+)?', '#', text)


class SoakWatcher(Node):
    def __init__(self, embodiment: Embodiment, **kwargs):
        super().__init__('pi0_soak_watcher', **kwargs)
        self.embodiment = embodiment
        self.lock = threading.Lock()
        self.measuring = False
        self._last_stamp: float | None = None
        self._window = array('d')            # tick intervals since the last take_intervals()
        self.intervals = array('d')          # every tick interval while measuring
        self.commands_seen = 0
        self.chunks_seen = 0
        self.status: ExecutorStatus | None = None
        self.status_at_begin: ExecutorStatus | None = None
        self._rejected: int | None = None
        self.refusals: Counter[str] = Counter()
        self.refusals_merged = 0             # refusals that shared one status with another (reason of the last)
        self.create_subscription(ExecutorCommand, 'pi0/command', self._on_command, WATCH_QOS)
        self.create_subscription(ActionChunk, 'pi0/action_chunk', self._on_chunk, WATCH_QOS)
        self.create_subscription(ExecutorStatus, 'pi0/executor_status', self._on_status, LATCHED_QOS)
        self.start_client = self.create_client(StartEpisode, 'pi0/recorder/start_episode')
        self.stop_client = self.create_client(StopEpisode, 'pi0/recorder/stop_episode')

    # -- callbacks (the client's spinner thread) -----------------------------------------------------
    def _on_command(self, msg: ExecutorCommand) -> None:
        if msg.embodiment != self.embodiment.name:
            return                                # another stack on this ROS domain (see begin())
        stamp = to_sec(msg.header.stamp)          # the executor's clock at its tick
        with self.lock:
            if self.measuring:
                self.commands_seen += 1
                if self._last_stamp is not None:
                    self._window.append(stamp - self._last_stamp)
                    self.intervals.append(stamp - self._last_stamp)
            self._last_stamp = stamp

    def _on_chunk(self, msg: ActionChunk) -> None:
        if msg.embodiment != self.embodiment.name:
            return
        with self.lock:
            if self.measuring:
                self.chunks_seen += 1

    def _on_status(self, msg: ExecutorStatus) -> None:
        if msg.embodiment != self.embodiment.name:
            return
        with self.lock:
            self.status = msg
            if self.measuring and self._rejected is not None and msg.chunks_rejected > self._rejected:
                new = msg.chunks_rejected - self._rejected
                self.refusals[reason_kind(msg.last_error)] += new
                self.refusals_merged += new - 1
            self._rejected = msg.chunks_rejected

    # -- the benchmark's thread -----------------------------------------------------------------------
    def wait_for_execution(self, stack, timeout: float) -> None:
        """Until the executor has executed a chunk (the policy is loaded, warm and in the loop)."""
        deadline = time.monotonic() + timeout
        while self.status is None or self.status.chunks_executed == 0:
            stack.check()
            if time.monotonic() > deadline:
                state = self.status.state if self.status else 'no status'
                raise TimeoutError(f'no chunk executed after {timeout:g} s (executor: {state})')
            time.sleep(0.2)

    def begin(self) -> None:
        """Start counting (everything before is warm-up).

        Raises:
            RuntimeError: another stack publishes on this ROS domain: its ticks, chunks and status would
                mix with this one's (tests pick a random ROS_DOMAIN_ID; give the soak its own too).
        """
        for topic in ('pi0/command', 'pi0/action_chunk', 'pi0/executor_status'):
            if (n := self.count_publishers(topic)) > 1:
                raise RuntimeError(f'{n} publishers on {topic}: another stack runs on ROS_DOMAIN_ID '
                                   f'{os.environ.get("ROS_DOMAIN_ID", "0")}; set another one')
        with self.lock:
            self.measuring = True
            self.status_at_begin = self.status
            self._rejected = self.status.chunks_rejected
            self._window = array('d')

    def take_intervals(self) -> np.ndarray:
        """The tick intervals (s) since the previous call."""
        with self.lock:
            window, self._window = self._window, array('d')
        return np.frombuffer(window, dtype=float) if len(window) else np.zeros(0)

    def start_episode(self, task: str) -> StartEpisode.Response:
        return call_service(self.start_client, StartEpisode.Request(task=task), timeout=30.0)

    def stop_episode(self) -> StopEpisode.Response:
        # Finishing a bag writes its summary and metadata: give it time on a loaded machine.
        return call_service(self.stop_client, StopEpisode.Request(success=True), timeout=60.0)

    def totals(self, period: float, late_ms: float) -> dict:
        """The run's figures: tick timing from the command stamps, counts from the status."""
        with self.lock:
            iv = np.frombuffer(self.intervals, dtype=float).copy() if len(self.intervals) else np.zeros(0)
            end, begin = self.status, self.status_at_begin
            delta = {f: int(getattr(end, f)) - int(getattr(begin, f)) for f in STATUS_FIELDS}
            out = dict(commands_seen=self.commands_seen, chunks_published=self.chunks_seen,
                       refusal_reasons=dict(self.refusals.most_common()), refusals_merged=self.refusals_merged)
        dev = np.abs(iv - period) * 1e3
        out.update(
            late_5ms=int(np.sum((iv - period) * 1e3 > late_ms)),
            jitter_p50_ms=float(np.percentile(dev, 50)) if len(dev) else float('nan'),
            jitter_p99_ms=float(np.percentile(dev, 99)) if len(dev) else float('nan'),
            jitter_max_ms=float(dev.max()) if len(dev) else float('nan'),
            executor_ticks=delta['ticks'], executor_ticks_late=delta['ticks_late'],
            chunks_received=delta['chunks_received'], chunks_executed=delta['chunks_executed'],
            chunks_refused=delta['chunks_rejected'], steps_skipped=delta['steps_skipped'],
            watchdog_holds=delta['watchdog_holds'],
            chunks_unexecuted=delta['chunks_received'] - delta['chunks_executed'] - delta['chunks_rejected'],
            executor_state=end.state, executor_last_error=end.last_error,
            status_jitter_p99_ms=1e3 * float(end.tick_jitter_p99))
        return out
