"""Run a pi0_ros stack for a bounded time, with a live status line, a summary and a plot of commanded vs
measured joints (the README's main job):

    python -m pi0_bringup.run_stack --embodiment ur5e --sim --duration 30 --plot out/demo_ur5e.png
    python -m pi0_bringup.run_stack --attach --duration 30      # watch a stack `ros2 launch` started

Every node runs in its own process, as `ros2 launch` starts them (pi0_bringup.runner); this tool only
talks ROS to them: the status line comes from the latched pi0/executor_status, the driver's counts from
/diagnostics, the task report from sim/task_state. With --episode-seconds and --instructions
(simulation only) the run is cut into episodes: at each one the executor is paused, sim/reset puts the
arm at its start pose and the blocks in a new layout, the next instruction is published on
pi0/instruction and the executor resumes; the summary then says, per episode, whether the tool reached
the block the instruction names.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

import numpy as np
from std_msgs.msg import String

from pi0_bringup.console import Console
from pi0_bringup.monitor import StackMonitor
from pi0_bringup.plots import plot_commanded_vs_measured
from pi0_bringup.ros_client import RosClient
from pi0_bringup.runner import Stack
from pi0_bringup.sim_task import task_report
from pi0_bringup.stack_interfaces import Diagnostics, StackControls, TaskStateWatcher, driver_counts
from pi0_bringup.stack_spec import robot_stack
from pi0_common.embodiment import available_embodiments, load_embodiment
from pi0_common.qos import LATCHED_QOS


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--embodiment', default='ur5e', choices=available_embodiments())
    ap.add_argument('--sim', action=argparse.BooleanOptionalAction, default=True,
                    help='also start the simulator (default), or drive the real robot (its drivers must run)')
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
    ap.add_argument('--attach', action='store_true',
                    help='start nothing: watch (and, with --episode-seconds, drive) the stack already running, '
                         'e.g. ros2 launch pi0_bringup ur5e.launch.py sim:=true; --embodiment must match it')
    ap.add_argument('--log-level', default='info', help='ROS log level of the nodes this tool starts')
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


@contextlib.contextmanager
def stack_or_attach(args, console: Console):
    """The tool's ROS client: of a stack it starts (and stops at the end), or alone with --attach.
    Yields (client, check_alive)."""
    if args.attach:
        with RosClient('pi0_run_stack') as client:
            client.wait_until_ready(args.startup_timeout)      # its lifecycle manager says: all active
            yield client, lambda: None
        return
    specs = robot_stack(args.embodiment, sim=args.sim, checkpoint=args.checkpoint, instruction=args.instruction,
                        switching=args.switching)
    with Stack(specs, log_level=args.log_level, console=console) as stack:
        yield stack.client, stack.check


def main(argv=None) -> int:
    args = parse_args(argv)
    console = Console()
    what = 'attaching to the running' if args.attach else 'starting the'
    console.line(f'pi0_ros: {what} {args.embodiment} stack ({"simulated" if args.sim else "real robot"})...')
    embodiment = load_embodiment(args.embodiment)
    t_start = time.monotonic()
    with stack_or_attach(args, console) as (client, check_alive):
        monitor = StackMonitor(embodiment, context=client.context, namespace=client.namespace)
        client.add_node(monitor)
        diagnostics = Diagnostics(client.node)
        task = TaskStateWatcher(client.node) if args.sim else None
        console.line(f'pi0_ros: nodes up in {time.monotonic() - t_start:.1f} s')
        episodes = Episodes(client, task, args, monitor) if args.sim and args.episode_seconds > 0 else None
        if episodes is not None:
            episodes.update(0.0)      # the first episode resumes the executor (an attached one may be paused)
        deadline = time.monotonic() + args.startup_timeout
        while not monitor.snapshot().chunk_t:
            check_alive()
            if time.monotonic() > deadline:
                status = monitor.snapshot().status
                hint = (f'the executor is {status.state}' if status is not None and status.state != 'active'
                        else 'see the policy node log')
                console.line(f'pi0_ros: no chunk within {args.startup_timeout:g} s ({hint})')
                return 1
            time.sleep(0.1)
        t0 = time.monotonic()
        last_print = -1e9
        while (elapsed := time.monotonic() - t0) < args.duration:
            check_alive()
            if episodes is not None:
                episodes.update(elapsed)
            if console.live or elapsed - last_print >= 5.0:
                console.status(status_line(elapsed, monitor))
                last_print = elapsed
            time.sleep(0.1)
        ran_for = time.monotonic() - t0
        rec = monitor.snapshot()
        counts = driver_counts(diagnostics)
        if episodes is not None:
            episodes.finish()
            tasks = episodes.results
        else:
            instruction = rec.chunk_instruction[-1] if rec.chunk_instruction else args.instruction
            tasks = [task_report(task.state, instruction)] if task is not None else []
    console.end_status()
    print_summary(args, rec, rec.status, embodiment, counts, [t for t in tasks if t], ran_for)
    if args.plot:
        marks = episodes.starts if episodes is not None else []
        shown = 'episodes (solid)' if marks else f'"{rec.chunk_instruction[-1] if rec.chunk_instruction else ""}"'
        path = plot_commanded_vs_measured(rec, embodiment, args.plot, episode_starts=marks,
                                          title=f'{args.embodiment}: {shown}, chunk switches dashed')
        print(f'plot: {path}')
    return 0


class Episodes:
    """Cuts a simulated run into episodes through the stack's ROS interfaces."""

    def __init__(self, client: RosClient, task: TaskStateWatcher, args, monitor: StackMonitor):
        self.client, self.task, self.seconds = client, task, args.episode_seconds
        texts = [t.strip() for t in args.instructions.split(';') if t.strip()]
        current = monitor.snapshot().chunk_instruction
        self.instructions = texts or [args.instruction or (current[-1] if current else '')]
        self.controls = StackControls(client.node)
        self.instruction_pub = client.node.create_publisher(String, 'pi0/instruction', LATCHED_QOS)
        self.index = -1
        self.episode_number = -1               # the simulator's count of the running episode
        self.starts: list[float] = []          # ROS clock time of each episode start
        self.results: list[str] = []

    def _report(self) -> None:
        state = self.task.state
        if self.index >= 0 and state is not None and state.episode == self.episode_number:
            report = task_report(state, self.instructions[self.index % len(self.instructions)])
            if report:
                self.results.append(f'episode {self.index}: {report}')

    def update(self, elapsed: float) -> None:
        """Start the next episode when its time has come."""
        if self.index >= 0 and elapsed < (self.index + 1) * self.seconds:
            return
        self._report()
        self.index += 1
        text = self.instructions[self.index % len(self.instructions)]
        self.controls.pause()
        time.sleep(0.1)                       # the pause's hold reaches the driver before the reset
        self.episode_number = self.controls.reset()
        if text:                              # none given: the policy keeps its own
            self.instruction_pub.publish(String(data=text))
        time.sleep(0.2)                       # the new instruction and fresh frames reach the policy
        self.controls.resume()
        self.starts.append(self.client.node.get_clock().now().nanoseconds * 1e-9)

    def finish(self) -> None:
        self._report()


def print_summary(args, rec, status, embodiment, counts, tasks: list[str], elapsed: float) -> None:
    inf = np.asarray(rec.inference_ms)
    lat = np.asarray(rec.chunk_arrival) - np.asarray(rec.chunk_t) if rec.chunk_t else np.zeros(0)
    print(f'\n=== pi0_ros {args.embodiment} ({"sim" if args.sim else "real"}), {elapsed:.1f} s ===')
    if status is None:
        print('executor    no pi0/executor_status received')
    else:
        ticks = max(status.ticks, 1)
        print(f'chunks      received {status.chunks_received}, executed {status.chunks_executed}, '
              f'rejected {status.chunks_rejected}')
    print(f'inference   mean {inf.mean():.1f} ms, p50 {percentile(inf, 50):.1f}, p95 {percentile(inf, 95):.1f}, '
          f'max {inf.max():.1f} ms' if len(inf) else 'inference   none')
    print(f'latency     observation->chunk p50 {1e3 * percentile(lat, 50):.0f} ms, max {1e3 * lat.max():.0f} ms'
          + (f'; executor estimate {1e3 * status.latency_estimate:.0f} ms' if status is not None else '')
          if len(lat) else 'latency     none')
    if status is not None:
        print(f'executor    {status.ticks} ticks at {embodiment.control_rate_hz:g} Hz, jitter '
              f'p50 {1e3 * status.tick_jitter_p50:.2f} ms, p99 {1e3 * status.tick_jitter_p99:.2f} ms, late '
              f'{status.ticks_late} ({100 * status.ticks_late / ticks:.1f} %), steps skipped '
              f'{status.steps_skipped}, watchdog holds {status.watchdog_holds}')
    print(f'driver      {counts[0]} commands sent, {counts[1]} refused' if counts is not None
          else 'driver      no /diagnostics from pi0_robot_driver')
    if status is not None and status.last_error:
        print(f'last error  {status.last_error}')
    for task in tasks:
        print(f'task        {task}')


if __name__ == '__main__':
    sys.exit(main())
