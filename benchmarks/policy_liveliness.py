"""How long after the policy process dies the executor hears it: a child process publishes ActionChunks
on pi0/action_chunk with the policy's QoS (pi0_common.qos.POLICY_CHUNK_QOS: AUTOMATIC liveliness, short
lease), this process watches it exactly as the executor node does (pi0_common.liveliness), SIGKILLs the
child a number of times, each time once it has been alive for a while, and prints the delay from the
kill to the "lost" callback (p50 / max), plus how often the watch flapped (lost and back again while
the publisher was alive), which is what a too-short lease costs on a loaded machine.

    python benchmarks/policy_liveliness.py [--kills 10] [--alive 3]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

import numpy as np


def publish_forever() -> None:
    """The child: a policy-like publisher, one chunk a second (liveliness does not need data)."""
    import rclpy
    from pi0_msgs.msg import ActionChunk

    from pi0_common.qos import POLICY_CHUNK_QOS
    rclpy.init()
    node = rclpy.create_node('liveliness_bench_policy')
    pub = node.create_publisher(ActionChunk, 'pi0/action_chunk', POLICY_CHUNK_QOS)
    node.create_timer(1.0, lambda: pub.publish(ActionChunk()))
    rclpy.spin(node)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--kills', type=int, default=10)
    parser.add_argument('--alive', type=float, default=3.0, help='seconds each publisher runs before the kill')
    parser.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        publish_forever()
        return

    import rclpy

    from pi0_common.liveliness import watch_policy_liveliness
    from pi0_common.qos import POLICY_LIVELINESS_LEASE
    rclpy.init()
    node = rclpy.create_node('liveliness_bench_executor')
    events: list[tuple[float, bool]] = []
    watch_policy_liveliness(node, 'pi0/action_chunk', lambda alive, _reason: events.append((time.monotonic(), alive)))

    def spin_until(cond, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not cond():
            rclpy.spin_once(node, timeout_sec=0.002)
        return cond()

    delays, flaps, missed = [], 0, 0
    for _ in range(args.kills):
        child = subprocess.Popen([sys.executable, __file__, '--child'], env=dict(os.environ))
        if not spin_until(lambda: events and events[-1][1], 60):
            raise SystemExit('the publisher never became alive')
        seen = len(events)
        spin_until(lambda: False, args.alive)
        flaps += sum(not alive for _, alive in events[seen:])
        child.send_signal(signal.SIGKILL)
        t_kill = time.monotonic()
        child.wait()
        n = len(events)
        if spin_until(lambda n=n: len(events) > n and not events[-1][1], 10):
            delays.append(events[-1][0] - t_kill)
        else:
            missed += 1
    d = 1e3 * np.asarray(delays)
    print(f'rmw {os.environ.get("RMW_IMPLEMENTATION", "default")}, lease {POLICY_LIVELINESS_LEASE:g} s, '
          f'{args.kills} SIGKILLs: lost after p50 {np.median(d):.0f} ms, max {d.max():.0f} ms '
          f'(min {d.min():.0f} ms); missed {missed}; flaps while alive {flaps}')
    node.destroy_node()
    rclpy.shutdown()


if __name__ == '__main__':
    main()
