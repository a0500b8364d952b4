"""Cost of the ALOHA MuJoCo twin (pi0_sim.aloha_physics) per 50 Hz control tick: one step() (ten 2 ms physics
steps and the task's reward), a set-point command, and one render per camera slot at the embodiment's size.

    .venv/bin/python benchmarks/aloha_physics.py                  # transfer_cube, 100 ticks, 10 renders a slot
    .venv/bin/python benchmarks/aloha_physics.py --task insertion --size 640 480
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pi0_common.embodiment import load_embodiment
from pi0_sim.aloha_physics import AlohaPhysicsWorld


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--task', default='transfer_cube', choices=('transfer_cube', 'insertion'))
    parser.add_argument('--ticks', type=int, default=100)
    parser.add_argument('--renders', type=int, default=10)
    parser.add_argument('--size', type=int, nargs=2, metavar=('WIDTH', 'HEIGHT'), default=None)
    args = parser.parse_args()
    emb = load_embodiment('trossen_bimanual')
    world = AlohaPhysicsWorld(emb, task=args.task, image_size=tuple(args.size) if args.size else None)
    names = [j.name for j in emb.arms[0].joints]
    home = np.array([j.home for j in emb.arms[0].joints])
    step_s, command_s = [], []
    for k in range(1, args.ticks + 1):
        now = k * emb.dt
        t0 = time.perf_counter()
        world.step(now)
        t1 = time.perf_counter()
        for arm in emb.arms:
            world.command_positions(names, home + 0.2 * np.sin(now), now, topic=arm.joint_state_topic)
        step_s.append(t1 - t0)
        command_s.append(time.perf_counter() - t1)
    print(f'{args.task}: {args.ticks} ticks at {1 / emb.dt:g} Hz, {round(emb.dt / world.dt)} physics steps a tick')
    print(f'  step():   median {1e3 * np.median(step_s):.2f} ms, min {1e3 * np.min(step_s):.2f} ms')
    print(f'  commands: median {1e3 * np.median(command_s):.3f} ms (both arms)')
    for cam in emb.cameras:
        world.render(cam.slot)                                   # the first one makes the GL context
        times = []
        for _ in range(args.renders):
            t0 = time.perf_counter()
            image = world.render(cam.slot)
            times.append(time.perf_counter() - t0)
        print(f'  render {cam.slot:<11} {image.shape[1]}x{image.shape[0]}: median {1e3 * np.median(times):.1f} ms, '
              f'min {1e3 * np.min(times):.1f} ms')
    world.close()


if __name__ == '__main__':
    main()
