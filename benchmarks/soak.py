"""Soak: the simulated stack running for a long time, with the policy in the loop and episodes recorded.

    python benchmarks/soak.py --minutes 60 --embodiment trossen_bimanual [--out out/soak]
    python benchmarks/soak.py --minutes 1 --episode-every 30 --episode-seconds 10    # a quick try

Give it a ROS domain of its own (ROS_DOMAIN_ID=...): it refuses to measure when another stack
publishes the same topics.

Starts what `ros2 launch pi0_bringup <robot>.launch.py sim:=true` starts plus the recorder (as
record.launch.py configures it), every node its own process (pi0_bringup.runner), at the
embodiment's rate with its cameras streaming and the policy running (the params file's checkpoint
unless --checkpoint). Every --episode-every seconds an episode of --episode-seconds is recorded
through pi0/recorder/start_episode and stop_episode; each bag's size is measured, then the bag is
deleted unless --keep-bags. Measured, from outside the stack (its ROS interfaces and /proc):

  ticks later than 5 ms   intervals between the executor's consecutive pi0/command stamps (the
                          executor's clock at each tick) longer than the period + 5 ms; the executor's
                          own ticks_late (interval > 1.5 periods) beside it, and commands seen vs ticks
  p99 tick jitter         |interval - period| over the whole run, and per sample window
  resident memory         RSS (/proc/<pid>/status) of every node process at the start (after the
                          warm-up), after the first episode, and at the end, with growth in %
  chunks                  published (seen on pi0/action_chunk) = received by the executor = executed +
                          refused (reasons: the status's last_error when chunks_rejected grows; the
                          status runs at 10 Hz here so that each refusal is seen) + accepted but never
                          executed
  bags                    size and duration of every recorded episode
  machine load            the 1-minute load average at every sample (late ticks follow it on 2 cores)

Prints the figures beside the goals (0 ticks later than 5 ms, memory growth < 2 %, every chunk
accounted for) and writes soak.json and soak.png (tick jitter, late ticks and RSS over time) to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from soak_report import goal_lines, plot, summary_lines  # beside this script (its folder is on sys.path)
from soak_watch import SoakWatcher, rss_mb
from tqdm import tqdm

from pi0_bringup.console import Console
from pi0_bringup.runner import NodeDiedError, Stack
from pi0_bringup.stack_spec import EXECUTOR, POLICY, RECORDER, SIMULATOR, recording_stack, robot_stack
from pi0_common.embodiment import load_embodiment

LATE_MS = 5.0
STATUS_RATE_HZ = 10.0


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--minutes', type=float, default=60.0, help='measured duration, after the warm-up')
    ap.add_argument('--embodiment', default='trossen_bimanual')
    ap.add_argument('--checkpoint', default='', help="policy (default: the params file's; trossen_bimanual: "
                                                     'random:pi0_tiny)')
    ap.add_argument('--out', type=Path, default=Path('out/soak'))
    ap.add_argument('--episode-every', type=float, default=180.0, help='seconds between episode starts')
    ap.add_argument('--episode-seconds', type=float, default=60.0, help='length of each recorded episode')
    ap.add_argument('--warmup', type=float, default=20.0, help='seconds after the first executed chunk before '
                                                               'measuring starts')
    ap.add_argument('--sample', type=float, default=10.0, help='seconds per sample window (RSS, jitter)')
    ap.add_argument('--camera-fps', type=float, default=0.0, help="simulator camera rate (0: the params file's)")
    ap.add_argument('--keep-bags', action='store_true', help='keep the recorded bags in OUT/bags')
    return ap.parse_args(argv)


def build_specs(args, bag_dir: Path):
    sim = {'camera_rate_hz': args.camera_fps} if args.camera_fps > 0 else {}
    overrides = {EXECUTOR: {'status_rate_hz': STATUS_RATE_HZ}, **({SIMULATOR: sim} if sim else {})}
    specs = robot_stack(args.embodiment, sim=True, checkpoint=args.checkpoint, overrides=overrides)
    recorder = [s for s in recording_stack(args.embodiment, output_dir=str(bag_dir)) if s.name == RECORDER]
    return specs + recorder


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob('*') if f.is_file())


class Soak:
    """The measuring loop: samples, episodes, and the record of both."""

    def __init__(self, args, stack: Stack, watcher: SoakWatcher, period: float):
        self.args, self.stack, self.watcher, self.period = args, stack, watcher, period
        self.pids = {name: p.pid for name, p in stack.processes.items()}
        self.samples: list[dict] = []
        self.episodes: list[dict] = []
        self.rss_after_first_episode: dict[str, float] | None = None
        self._episode: dict | None = None
        self.failure = ''                # why the run ended early (a node process died), else empty

    def sample(self, t: float) -> dict:
        window = self.watcher.take_intervals()
        dev = np.abs(window - self.period) * 1e3
        s = dict(t=t, rss_mb={n: rss_mb(pid) for n, pid in self.pids.items()}, ticks=int(len(window)),
                 late_5ms=int(np.sum((window - self.period) * 1e3 > LATE_MS)),
                 jitter_p99_ms=float(np.percentile(dev, 99)) if len(dev) else float('nan'),
                 jitter_max_ms=float(dev.max()) if len(dev) else float('nan'),
                 load_1min=os.getloadavg()[0])      # the whole machine's: other work shows up as late ticks
        self.samples.append(s)
        return s

    def start_episode(self, t: float) -> None:
        response = self.watcher.start_episode(f'soak episode {len(self.episodes)}')
        if not response.success:
            raise RuntimeError(f'start_episode refused: {response.message}')
        self._episode = dict(index=int(response.episode_index), path=response.bag_path, t_start=t)

    def stop_episode(self, t: float) -> None:
        stopped = self.watcher.stop_episode()
        ep, self._episode = self._episode, None
        path = Path(stopped.bag_path or ep['path'])
        ep.update(t_stop=t, ok=bool(stopped.ok), message=stopped.message, duration_s=float(stopped.duration),
                  bytes=folder_bytes(path) if path.exists() else 0)
        self.episodes.append(ep)
        if self.rss_after_first_episode is None:
            self.rss_after_first_episode = {n: rss_mb(pid) for n, pid in self.pids.items()}
        if not self.args.keep_bags and path.exists():
            shutil.rmtree(path)

    def run(self, seconds: float) -> None:
        args = self.args
        t0 = time.monotonic()
        next_sample, next_episode = args.sample, 0.0
        bar = tqdm(total=round(seconds), unit='s', desc='soak', dynamic_ncols=True, mininterval=2.0)
        try:
            while (t := time.monotonic() - t0) < seconds:
                try:
                    self.stack.check()
                except NodeDiedError as e:
                    # An hour's figures up to here are still worth keeping: stop measuring, report it.
                    self.failure = str(e)
                    break
                if self._episode is None and t >= next_episode and t + args.episode_seconds <= seconds:
                    self.start_episode(t)
                    next_episode += args.episode_every
                elif self._episode is not None and t - self._episode['t_start'] >= args.episode_seconds:
                    self.stop_episode(t)
                if t >= next_sample:
                    s = self.sample(t)
                    next_sample += args.sample
                    late = sum(x['late_5ms'] for x in self.samples)
                    bar.set_postfix_str(f'late>5ms {late}, p99 {s["jitter_p99_ms"]:.2f} ms, '
                                        f'episodes {len(self.episodes)}', refresh=False)
                if (step := min(round(t), bar.total) - bar.n) > 0:
                    bar.update(step)
                time.sleep(0.2)
            if self._episode is not None and RECORDER not in self.stack.died():
                self.stop_episode(time.monotonic() - t0)
            self.sample(time.monotonic() - t0)
        finally:
            bar.close()


def main(argv=None) -> int:
    args = parse_args(argv)
    emb = load_embodiment(args.embodiment)
    period = 1.0 / emb.control_rate_hz
    args.out.mkdir(parents=True, exist_ok=True)
    bag_dir = args.out / 'bags'
    specs = build_specs(args, bag_dir)
    checkpoint = next(s.parameters.get('checkpoint', '') for s in specs if s.name == POLICY)
    print(f'soak: {args.embodiment} at {emb.control_rate_hz:g} Hz, {len(emb.cameras)} camera(s), policy '
          f'{checkpoint}, {args.minutes:g} min, an episode of {args.episode_seconds:g} s every '
          f'{args.episode_every:g} s', flush=True)
    # Node warnings (a refused chunk, every 2 s at most) would break the progress bar; refusals are
    # counted from the executor's status instead.
    with Stack(specs, log_level='error', console=Console(live=False)) as stack:
        watcher = SoakWatcher(emb, context=stack.context)
        stack.add_node(watcher)
        watcher.wait_for_execution(stack, timeout=300.0)
        time.sleep(args.warmup)
        watcher.begin()
        soak = Soak(args, stack, watcher, period)
        soak.sample(0.0)
        soak.run(args.minutes * 60.0)
        time.sleep(3.0 / STATUS_RATE_HZ)       # the last refusals reach the status
        result = dict(embodiment=args.embodiment, rate_hz=emb.control_rate_hz, checkpoint=checkpoint,
                      minutes=args.minutes, late_threshold_ms=LATE_MS, **watcher.totals(period, LATE_MS),
                      samples=soak.samples, episodes=soak.episodes,
                      rss_after_first_episode=soak.rss_after_first_episode, failure=soak.failure)
    result['exit_codes'] = stack.exit_codes
    (args.out / 'soak.json').write_text(json.dumps(result, indent=1))
    plot(result, args.out / 'soak.png')
    print('\n'.join(summary_lines(result)))
    print('\n'.join(goal_lines(result)))
    print(f'written: {args.out / "soak.json"}, {args.out / "soak.png"}')
    if soak.failure:
        print(f'the run ended early: {soak.failure}')
    return 1 if soak.failure else 0


if __name__ == '__main__':
    sys.exit(main())
