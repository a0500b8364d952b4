"""Success rate of the scripted transfer_cube expert (pi0_sim.aloha_expert) on the MuJoCo ALOHA twin, closed loop
without ROS: per seed, gym-aloha's cube layout for that seed and the expert's style for that seed, up to 400
ticks (gym-aloha's 8 s episode). Reports how many reach reward 4, the ticks to success, and (--full) whether
the whole script ends with the cube held by the left gripper alone at 8 s.

    .venv/bin/python benchmarks/aloha_expert.py                 # seeds 0..49, stop at success
    .venv/bin/python benchmarks/aloha_expert.py --seeds 200 --full
    .venv/bin/python benchmarks/aloha_expert.py --start-spread 0.1    # arms start off gym-aloha's pose
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pi0_common.embodiment import load_embodiment
from pi0_sim.aloha_expert import TransferCubeExpert, run_episode
from pi0_sim.aloha_physics import AlohaPhysicsWorld
from pi0_sim.expert import PlanningError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--seeds', type=int, default=50, help='seeds 0..N-1')
    parser.add_argument('--first', type=int, default=0, help='first seed')
    parser.add_argument('--full', action='store_true', help='run the whole 400 ticks, not stop at success')
    parser.add_argument('--start-spread', type=float, default=0.0,
                        help='arm joints start up to this far (rad) from gym-aloha\'s start pose')
    args = parser.parse_args()
    emb = load_embodiment('trossen_bimanual')
    world = AlohaPhysicsWorld(emb, task='transfer_cube', start_spread=args.start_spread)
    ok, held, ticks, failures = 0, 0, [], []
    start = time.perf_counter()
    for seed in range(args.first, args.first + args.seeds):
        world.reset(seed=seed)
        expert = TransferCubeExpert(emb, world.physics.model.ptr, seed=seed)
        try:
            result = run_episode(world, expert, stop_on_success=not args.full)
        except PlanningError as e:
            failures.append(f'seed {seed}: no plan: {e}')
            continue
        if result.success:
            ok += 1
            ticks.append(result.success_step)
        else:
            failures.append(f'seed {seed}: max reward {result.max_reward:g}')
        if args.full and world.reward() == 4.0 and world.gripper_closure('right') < 0.1:
            held += 1
    wall = time.perf_counter() - start
    print(f'transfer_cube scripted expert: {ok}/{args.seeds} seeds reach reward 4 within 400 ticks '
          f'(seeds {args.first}..{args.first + args.seeds - 1}, {wall:.1f} s)')
    if ticks:
        print(f'ticks to success: median {np.median(ticks):.0f}, max {max(ticks)}')
    if args.full:
        print(f'{held}/{args.seeds} end the 8 s with the cube held by the left gripper alone, the right open')
    for line in failures:
        print('  ' + line)


if __name__ == '__main__':
    main()
