"""Chunk switching modes compared in simulation: how smooth is the hand-over from one chunk to the next?

For each mode (replace, crossfade, rtc, ensemble) the stack runs for a while in simulation with its
cameras streaming; from the executor's commands this prints, over the chunk boundaries (the ticks
where the command switches to a new chunk):
    jump   largest change of any joint between two ticks at a boundary (rad), and elsewhere
    jerk   largest third difference of any joint around a boundary (rad/s^3), and elsewhere
and for the control loop: tick jitter p50 / p99 (|interval - period|, ms) and the share of late ticks
(interval > 1.5 periods).

    python benchmarks/switching.py [--embodiment trossen_bimanual] [--seconds 20] [--checkpoint random:pi0_tiny]

A random-weight policy is the worst case for switching (consecutive chunks disagree as much as they
can); a trained one (--checkpoint default, UR5e) is the realistic case.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pi0_bringup.console import Console
from pi0_bringup.monitor import StackMonitor
from pi0_bringup.runner import Stack
from pi0_bringup.stack_spec import EXECUTOR, SIMULATOR, robot_stack
from pi0_common.commands import MODE_ACTIVE
from pi0_common.embodiment import load_embodiment
from pi0_drivers.chunking import SWITCHING_MODES


def boundary_metrics(t: np.ndarray, q: np.ndarray, chunk: np.ndarray, joints: np.ndarray, dt: float) -> dict:
    """Jumps and jerks at chunk boundaries and away from them (joint dims only)."""
    q = q[:, joints]
    step = np.abs(np.diff(q, axis=0)).max(axis=1)                 # [N-1], between tick i and i+1
    jerk = np.abs(np.diff(q, n=3, axis=0)).max(axis=1) / dt**3    # [N-3], centred near i+1.5
    switch = np.flatnonzero((chunk[1:] != chunk[:-1]) & (chunk[1:] != 0))   # tick i+1 starts a new chunk
    at_boundary = np.zeros(len(step), bool)
    at_boundary[switch] = True
    near = np.zeros(len(jerk), bool)
    for i in switch:
        near[max(0, i - 2):min(len(jerk), i + 1)] = True
    return dict(
        boundaries=len(switch),
        jump_boundary=float(step[at_boundary].max()) if at_boundary.any() else float('nan'),
        jump_elsewhere=float(step[~at_boundary].max()) if (~at_boundary).any() else float('nan'),
        jerk_boundary=float(jerk[near].max()) if near.any() else float('nan'),
        jerk_elsewhere=float(jerk[~near].max()) if (~near).any() else float('nan'))


def run_mode(mode: str, args) -> dict:
    overrides = {EXECUTOR: {'switching': mode}, SIMULATOR: {'camera_rate_hz': args.fps}}
    specs = robot_stack(args.embodiment, sim=True, checkpoint=args.checkpoint, overrides=overrides)
    emb = load_embodiment(args.embodiment)
    with Stack(specs, log_level='warn', console=Console(live=False)) as stack:
        monitor = StackMonitor(emb, context=stack.context)
        stack.add_node(monitor)
        deadline = time.monotonic() + 120
        while not monitor.snapshot().chunk_t and time.monotonic() < deadline:
            stack.check()
            time.sleep(0.1)
        start = len(monitor.snapshot().command_t)
        time.sleep(args.seconds)
        time.sleep(0.6)                 # the latched status (2 Hz) catches up with the commands seen
        rec = monitor.snapshot()
        status = rec.status
        stack.check()
    dt = emb.dt
    t = np.asarray(rec.command_t[start:])
    q = np.stack(rec.command_q[start:])
    mode_ids = np.asarray(rec.command_mode[start:])
    chunk = np.where(mode_ids == MODE_ACTIVE, np.asarray(rec.command_chunk[start:]), 0)
    out = boundary_metrics(t, q, chunk, np.asarray(emb.indices('joint')), dt)
    intervals = np.diff(t)
    dev = np.abs(intervals - dt) * 1e3
    out.update(jitter_p50=float(np.percentile(dev, 50)), jitter_p99=float(np.percentile(dev, 99)),
               late=float(np.mean(intervals > 1.5 * dt) * 100), ticks=len(t), rejected=status.chunks_rejected,
               holds=status.watchdog_holds,
               infer=float(np.median(rec.inference_ms)) if rec.inference_ms else float('nan'))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--embodiment', default='trossen_bimanual')
    ap.add_argument('--checkpoint', default='random:pi0_tiny')
    ap.add_argument('--seconds', type=float, default=20.0)
    ap.add_argument('--fps', type=float, default=30.0, help='camera frame rate of the simulator')
    ap.add_argument('--modes', default=','.join(SWITCHING_MODES))
    args = ap.parse_args()
    print(f'{args.embodiment}, {args.checkpoint}, cameras at {args.fps:g} fps, {args.seconds:g} s per mode')
    print(f'{"mode":>10} {"bounds":>6} {"jump@b":>8} {"jump else":>9} {"jerk@b":>9} {"jerk else":>9} '
          f'{"p50 ms":>7} {"p99 ms":>7} {"late %":>7} {"infer":>7} {"rej":>4} {"holds":>5}')
    for mode in args.modes.split(','):
        r = run_mode(mode, args)
        print(f'{mode:>10} {r["boundaries"]:6d} {r["jump_boundary"]:8.4f} {r["jump_elsewhere"]:9.4f} '
              f'{r["jerk_boundary"]:9.0f} {r["jerk_elsewhere"]:9.0f} {r["jitter_p50"]:7.2f} {r["jitter_p99"]:7.2f} '
              f'{r["late"]:7.2f} {r["infer"]:7.1f} {r["rejected"]:4d} {r["holds"]:5d}', flush=True)
    print('jump in rad between consecutive ticks, jerk in rad/s^3 (third difference / dt^3), at chunk '
          'boundaries (b) and elsewhere')


if __name__ == '__main__':
    main()
