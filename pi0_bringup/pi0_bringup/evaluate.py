"""Closed-loop evaluation of a policy on the simulated UR5e block task, through the whole ROS stack:

    python -m pi0_bringup.evaluate --checkpoint default --episodes 20

Per episode: the executor is paused, sim/reset puts the blocks in a new layout and the arm home, and
the pi0/run_instruction action runs "reach the red block" or "reach the blue block" (alternating) for
at most --timeout seconds. The episode succeeds when the tool reaches the named block; it is a
confusion when the tool reaches the other block first (language not followed). Prints the success
rate per instruction, the confusion counts and the time to reach, and writes them to --json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from pi0_msgs.action import RunInstruction
from rclpy.action import ActionClient
from rclpy.node import Node
from std_srvs.srv import Trigger
from tqdm import tqdm

from pi0_bringup.block_task import INSTRUCTIONS, START_SPREAD
from pi0_bringup.runner import Stack
from pi0_common.messages import to_duration_msg
from pi0_common.spin import call_service, wait_for_future

POLL = 0.05   # s between checks of the simulated scene


@dataclass
class Episode:
    index: int
    instruction: str
    target: str
    success: bool
    confusion: bool
    time_to_reach: float | None
    final_distance: float          # horizontal tool-to-target distance at the end (m)
    chunks_executed: int


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--checkpoint', default='default', help='checkpoint folder, "default" or "random:<config>"')
    ap.add_argument('--episodes', type=int, default=20, help='episodes per instruction')
    ap.add_argument('--timeout', type=float, default=10.0, help='seconds per episode')
    ap.add_argument('--seed', type=int, default=1000, help='layout seed (different from the demonstrations)')
    ap.add_argument('--switching', default='', help='executor switching mode (default: the params file)')
    ap.add_argument('--json', default='out/eval.json', help='write the per-episode results here')
    ap.add_argument('--start-spread', type=float, default=START_SPREAD,
                    help='rad: each episode starts the arm joints up to this far from home (0: at home)')
    args = ap.parse_args(argv)
    if args.episodes < 1 or args.timeout <= 0:
        ap.error('--episodes must be at least 1 and --timeout positive')
    if not 0.0 <= args.start_spread <= 1.0:
        ap.error('--start-spread must be in [0, 1] rad')
    return args


class Evaluator:
    def __init__(self, stack: Stack):
        self.stack = stack
        self.world = stack.driver.sim.world
        self.lock = stack.driver.sim.lock
        self.arm = stack.driver.embodiment.arms[0].name
        self.node = Node('pi0_evaluator', context=stack.context)
        stack.add_node(self.node)
        self.client = ActionClient(self.node, RunInstruction, 'pi0/run_instruction')
        self.reset = self.node.create_client(Trigger, 'sim/reset')
        self.pause = self.node.create_client(Trigger, 'pi0/executor/pause')
        if not (self.client.wait_for_server(timeout_sec=30) and self.reset.wait_for_service(timeout_sec=10)
                and self.pause.wait_for_service(timeout_sec=10)):
            raise RuntimeError('the stack did not come up (run_instruction, sim/reset or pause missing)')

    def run_episode(self, index: int, instruction: str, timeout: float) -> Episode:
        target = next(c for c in ('red', 'blue') if c in instruction)
        other = 'blue' if target == 'red' else 'red'
        call_service(self.pause, Trigger.Request())   # the hold is on its way to the driver when this returns
        time.sleep(0.1)                               # ... and applied before the reset moves the arm home
        call_service(self.reset, Trigger.Request())
        time.sleep(0.3)                               # fresh joint states and frames of the new layout
        goal = RunInstruction.Goal(instruction=instruction, time_limit=to_duration_msg(timeout))
        handle = wait_for_future(self.client.send_goal_async(goal), 10, 'the run_instruction action')
        if not handle.accepted:
            raise RuntimeError(f'episode {index}: run_instruction goal rejected')
        result_future = handle.get_result_async()
        t0 = time.monotonic()
        reached_at, confusion = None, False
        while not result_future.done():
            with self.lock:
                hit, wrong = self.world.scene.reached(self.arm, target), self.world.scene.reached(self.arm, other)
            if wrong and reached_at is None:
                confusion = True
            if hit and reached_at is None and not confusion:
                reached_at = time.monotonic() - t0
                # Reached: end the episode early.
                wait_for_future(handle.cancel_goal_async(), 10, 'the run_instruction action')
            time.sleep(POLL)
        result = result_future.result().result
        with self.lock:
            distance = self.world.scene.horizontal_distance(self.arm, target)
        return Episode(index, instruction, target, reached_at is not None, confusion, reached_at, distance,
                       result.chunks_executed)


def summarize(episodes: list[Episode]) -> dict:
    out = {}
    for instruction in INSTRUCTIONS:
        eps = [e for e in episodes if e.instruction == instruction]
        times = [e.time_to_reach for e in eps if e.success]
        out[instruction] = dict(
            episodes=len(eps), successes=sum(e.success for e in eps), confusions=sum(e.confusion for e in eps),
            success_rate=sum(e.success for e in eps) / max(len(eps), 1),
            mean_time_to_reach=sum(times) / len(times) if times else None)
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    overrides = {'pi0_chunk_executor': {'start_paused': True},
                 'pi0_robot_driver': {'sim_seed': args.seed, 'sim_start_spread': args.start_spread}}
    episodes: list[Episode] = []
    t_start = time.monotonic()
    with Stack('ur5e', sim=True, checkpoint=args.checkpoint, switching=args.switching, overrides=overrides,
               policy_process=True) as stack:
        evaluator = Evaluator(stack)
        order = [INSTRUCTIONS[i % 2] for i in range(2 * args.episodes)]
        bar = tqdm(order, desc='eval', unit='ep')
        for i, instruction in enumerate(bar):
            episodes.append(evaluator.run_episode(i, instruction, args.timeout))
            ok = sum(e.success for e in episodes)
            bar.set_postfix(success=f'{ok}/{len(episodes)}', confusions=sum(e.confusion for e in episodes))
    summary = summarize(episodes)
    print(f'\n=== {args.checkpoint}: {len(episodes)} episodes, {time.monotonic() - t_start:.0f} s ===')
    print(f'{"instruction":>22} {"success":>9} {"rate":>6} {"confused":>9} {"mean time":>10}')
    for instruction, s in summary.items():
        mean = f'{s["mean_time_to_reach"]:.1f} s' if s['mean_time_to_reach'] is not None else '-'
        print(f'{instruction:>22} {s["successes"]:4d}/{s["episodes"]:<4d} {100 * s["success_rate"]:5.0f}% '
              f'{s["confusions"]:9d} {mean:>10}')
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({'checkpoint': args.checkpoint, 'seed': args.seed, 'summary': summary,
                                    'episodes': [asdict(e) for e in episodes]}, indent=1))
        print(f'results: {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
