"""Simulator speed: milliseconds per rendered camera image and per world step, per embodiment.

    source tools/env.sh && python benchmarks/sim_render.py [--frames 100] [--steps 2000]

Each camera is rendered ``--frames`` times while the arms move (so that the wrist views change),
and the world is stepped ``--steps`` times at 200 Hz with a trajectory running on every arm and,
on mobile robots, a base twist re-sent at every step. Prints one row per embodiment and the
budget they fit: a 50 Hz control loop with every camera at 30 Hz.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pi0_common.embodiment import available_embodiments, load_embodiment
from pi0_sim.world import SimWorld


def _wiggle(world: SimWorld, now: float) -> None:
    """A trajectory per arm: every joint 0.3 rad away from home and back over 2 s."""
    for arm in world.embodiment.arms:
        home = np.array([j.home for j in arm.joints])
        names = [j.name for j in arm.joints]
        points = [(home + 0.3).tolist(), home.tolist()]
        world.command_trajectory(names, [1.0, 2.0], points, now, topic=arm.joint_state_topic)


def bench_render(world: SimWorld, frames: int) -> dict[str, float]:
    """Median ms per image of each camera (medians: the machine may be shared)."""
    _wiggle(world, world.time)
    ms: dict[str, list[float]] = {slot: [] for slot in world.embodiment.camera_slots}
    for _ in range(frames):
        world.step(world.time + 0.02)
        for slot, times in ms.items():
            t = time.perf_counter()
            world.render(slot)
            times.append(time.perf_counter() - t)
    return {slot: 1000 * float(np.median(times)) for slot, times in ms.items()}


def bench_step(world: SimWorld, steps: int) -> float:
    """Median ms per 200 Hz step, over blocks of 100 steps."""
    _wiggle(world, world.time)
    blocks = []
    for _ in range(max(1, steps // 100)):
        t0 = time.perf_counter()
        for _ in range(100):
            if world.embodiment.base is not None:
                world.command_base_velocity({'vx': 0.1, 'wz': 0.2}, world.time)
            world.step(world.time + 1 / 200)
        blocks.append((time.perf_counter() - t0) / 100)
    return 1000 * float(np.median(blocks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=100, help='renders per camera')
    parser.add_argument('--steps', type=int, default=2000, help='world steps (200 Hz)')
    args = parser.parse_args()

    header = f'{"embodiment":<18}{"base":>8}{"l_wrist":>9}{"r_wrist":>9}{"step":>8}{"load %":>8}'
    print(header + '\n' + '-' * len(header))
    for name in available_embodiments():
        world = SimWorld(load_embodiment(name), seed=0)
        world.render('base')                            # warm-up
        cams = bench_render(world, args.frames)
        step = bench_step(world, args.steps)
        # CPU share of a 50 Hz step loop plus every camera at 30 Hz.
        load = (50 * step + 30 * sum(cams.values())) / 10
        cols = [cams.get(s) for s in ('base', 'left_wrist', 'right_wrist')]
        cells = ''.join(f'{c:>9.2f}' if c is not None else f'{"-":>9}' for c in cols)
        print(f'{name:<18}{cells[1:]}{step:>8.3f}{load:>8.1f}')
    print('\nmedian ms per rendered camera image (224x224) and per 200 Hz world step (with a base command '
          'on mobile robots);\nload: % of one core for 50 Hz steps + every camera at 30 Hz')


if __name__ == '__main__':
    main()
