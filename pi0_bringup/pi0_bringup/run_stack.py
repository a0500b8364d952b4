"""Run a pi0_ros stack in this process for a bounded time, with a live status line, a summary and a
plot of commanded vs measured joints (the README's main job):

    python -m pi0_bringup.run_stack --embodiment ur5e --sim --duration 30 --plot out/demo_ur5e.png

With --episode-seconds and --instructions (simulation only) the run is cut into episodes: at each
one the executor is paused, sim/reset puts the arm home and the blocks in a new layout, the next
instruction is published on pi0/instruction and the executor resumes; the summary then says, per
episode, whether the tool reached the block the instruction names.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from rclpy.node import Node
from std_msgs.msg import String
from std_srvs.srv import Trigger

from pi0_bringup.monitor import StackMonitor
from pi0_bringup.plots import plot_commanded_vs_measured
from pi0_bringup.runner import Stack
from pi0_common.embodiment import available_embodiments
from pi0_common.qos import LATCHED_QOS
from pi0_common.spin import call_service


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--embodiment', default='ur5e', choices=available_embodiments())
    ap.add_argument('--sim', action=argparse.BooleanOptionalAction, default=True,
                    help='simulated robot (default) or the real one (its driver must be running)')
    ap.add_argument('--duration', type=float, default=30.0, help='seconds to run after the first chunk')
    ap.add_argument('--checkpoint', default='', help='checkpoint folder, "default" or "random:<config>"')
    ap.add_argument('--instruction', default='', help='language instruction (default: the params file)')
    ap.add_argument('--switching', default='', help='replace, crossfade, rtc or ensemble')
    ap.add_argument('--plot', default='', help='save commanded vs measured joints to this PNG')
    ap.add_argument('--startup-timeout', type=float, default=120.0, help='seconds to wait for the first chunk')
    ap.add_argument('--episode-seconds', type=float, default=0.0,
                    help='simulation: reset the scene every this many seconds (0: one continuous run)')
    ap.add_argument('--instructions', default='',
                    help='simulation: instructions for successive episodes, separated by ";" (cycled)')
    ap.add_argument('--single-process', action='store_true',
                    help='run the policy node in this process too (default: its own process, as ros2 launch does)')
    return ap.parse_args(argv)


def percentile(values, q) -> float:
    return float(np.percentile(values, q)) if len(values) else float('nan')


def status_line(elapsed: float, monitor: StackMonitor) -> str:
    rec = monitor.snapshot()
    instruction = rec.chunk_instruction[-1] if rec.chunk_instruction else ''
    s = rec.status
    infer = f'{rec.inference_ms[-1]:5.0f} ms' if rec.inference_ms else '   -- ms'
    if s is None:
        return f't={elapsed:5.1f}s  waiting for the executor'
    return (f't={elapsed:5.1f}s  {s.state:8s} chunks {s.chunks_executed:4d}/{s.chunks_received:<4d} '
            f'rej {s.chunks_rejected:<3d} infer {infer}  jitter p50 {1e3 * s.tick_jitter_p50:4.1f} '
            f'p99 {1e3 * s.tick_jitter_p99:4.1f} ms  late {s.ticks_late:<3d} "{instruction}"')


def main(argv=None) -> int:
    args = parse_args(argv)
    interactive = sys.stdout.isatty()
    print(f'pi0_ros: starting the {args.embodiment} stack ({"simulated" if args.sim else "real robot"})...',
          flush=True)
    t_start = time.monotonic()
    with Stack(args.embodiment, sim=args.sim, checkpoint=args.checkpoint, instruction=args.instruction,
               switching=args.switching, policy_process=not args.single_process) as stack:
        embodiment = stack.executor.embodiment
        monitor = StackMonitor(embodiment, context=stack.context)
        stack.add_node(monitor)
        instruction = stack.params['pi0_policy'].get('instruction', '')
        print(f'pi0_ros: nodes up in {time.monotonic() - t_start:.1f} s', flush=True)
        deadline = time.monotonic() + args.startup_timeout
        while not monitor.snapshot().chunk_t:
            if time.monotonic() > deadline:
                print(f'\npi0_ros: no chunk within {args.startup_timeout:g} s (see the policy node log above)')
                return 1
            time.sleep(0.1)
        episodes = Episodes(stack, args) if args.sim and args.episode_seconds > 0 else None
        t0 = time.monotonic()
        last_print = 0.0
        while (elapsed := time.monotonic() - t0) < args.duration:
            if episodes is not None:
                episodes.update(elapsed)
            if interactive or elapsed - last_print >= 5.0:
                line = status_line(elapsed, monitor)
                print(('\r' + line) if interactive else line, end='' if interactive else '\n', flush=True)
                last_print = elapsed
            time.sleep(0.1)
        ran_for = time.monotonic() - t0
        rec = monitor.snapshot()
        status = stack.executor.status()
        driver = stack.driver
        tasks = []
        if episodes is not None:
            episodes.finish()
            tasks = episodes.results
        elif driver.sim is not None:
            with driver.sim.lock:
                tasks = [task_report(driver.sim.world, instruction)]
    if interactive:
        print()
    print_summary(args, rec, status, driver, [t for t in tasks if t], ran_for)
    if args.plot:
        marks = episodes.starts if episodes is not None else []
        what = 'episodes (solid)' if marks else f'"{instruction}"'
        path = plot_commanded_vs_measured(rec, embodiment, args.plot, episode_starts=marks,
                                          title=f'{args.embodiment}: {what}, chunk switches dashed')
        print(f'plot: {path}')
    return 0


class Episodes:
    """Cuts a simulated run into episodes through the stack's own ROS interfaces."""

    def __init__(self, stack: Stack, args):
        self.stack, self.seconds = stack, args.episode_seconds
        texts = [t.strip() for t in args.instructions.split(';') if t.strip()]
        self.instructions = texts or [stack.params['pi0_policy'].get('instruction', '')]
        self.node = Node('pi0_run_stack', context=stack.context)
        stack.add_node(self.node)
        self.instruction_pub = self.node.create_publisher(String, 'pi0/instruction', LATCHED_QOS)
        self.pause, self.resume, self.reset = (self.node.create_client(Trigger, srv) for srv in (
            'pi0/executor/pause', 'pi0/executor/resume', 'sim/reset'))
        self.index = -1
        self.starts: list[float] = []          # stack clock time of each episode start
        self.results: list[str] = []

    def _report(self) -> None:
        if self.index >= 0:
            sim = self.stack.driver.sim
            with sim.lock:
                report = task_report(sim.world, self.instructions[self.index % len(self.instructions)])
            if report:
                self.results.append(f'episode {self.index}: {report}')

    def update(self, elapsed: float) -> None:
        """Start the next episode when its time has come."""
        if self.index >= 0 and elapsed < (self.index + 1) * self.seconds:
            return
        self._report()
        self.index += 1
        text = self.instructions[self.index % len(self.instructions)]
        call_service(self.pause, Trigger.Request(), timeout=5.0)
        time.sleep(0.1)                       # the pause's hold reaches the driver before the reset
        call_service(self.reset, Trigger.Request(), timeout=5.0)
        self.instruction_pub.publish(String(data=text))
        time.sleep(0.2)                       # the new instruction and fresh frames reach the policy
        call_service(self.resume, Trigger.Request(), timeout=5.0)
        self.starts.append(self.node.get_clock().now().nanoseconds * 1e-9)

    def finish(self) -> None:
        self._report()


def task_report(world, instruction: str) -> str | None:
    """In the block scene: distance of the tool to the block the instruction names."""
    blocks = getattr(world.scene, 'blocks', {})
    target = next((c for c in blocks if c in instruction.lower()), None)
    if target is None:
        return None
    arm = world.embodiment.arms[0].name
    dist = float(np.linalg.norm((world.ee_position(arm) - blocks[target])[:2]))
    reached = world.scene.reached(arm, target)
    return f'"{instruction}": tool {100 * dist:.1f} cm from the {target} block, reached: {"yes" if reached else "no"}'


def print_summary(args, rec, status, driver, tasks: list[str], elapsed: float) -> None:
    inf = np.asarray(rec.inference_ms)
    lat = np.asarray(rec.chunk_arrival) - np.asarray(rec.chunk_t) if rec.chunk_t else np.zeros(0)
    ticks = max(status.ticks, 1)
    print(f'\n=== pi0_ros {args.embodiment} ({"sim" if args.sim else "real"}), {elapsed:.1f} s ===')
    print(f'chunks      received {status.chunks_received}, executed {status.chunks_executed}, '
          f'rejected {status.chunks_rejected}')
    print(f'inference   mean {inf.mean():.1f} ms, p50 {percentile(inf, 50):.1f}, p95 {percentile(inf, 95):.1f}, '
          f'max {inf.max():.1f} ms' if len(inf) else 'inference   none')
    print(f'latency     observation->chunk p50 {1e3 * percentile(lat, 50):.0f} ms, max {1e3 * lat.max():.0f} ms; '
          f'executor estimate {1e3 * status.latency_estimate:.0f} ms' if len(lat) else 'latency     none')
    print(f'executor    {status.ticks} ticks at {driver.embodiment.control_rate_hz:g} Hz, jitter '
          f'p50 {1e3 * status.tick_jitter_p50:.2f} ms, p99 {1e3 * status.tick_jitter_p99:.2f} ms, late '
          f'{status.ticks_late} ({100 * status.ticks_late / ticks:.1f} %), steps skipped {status.steps_skipped}, '
          f'watchdog holds {status.watchdog_holds}')
    print(f'driver      {driver.commands_sent} commands sent, {driver.commands_refused} refused')
    if status.last_error:
        print(f'last error  {status.last_error}')
    for task in tasks:
        print(f'task        {task}')


if __name__ == '__main__':
    sys.exit(main())
