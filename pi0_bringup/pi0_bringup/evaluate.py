"""Closed-loop evaluation of a policy on the simulated UR5e block task, through the whole ROS stack:

    python -m pi0_bringup.evaluate --checkpoint default --episodes 20

    python -m pi0_bringup.evaluate --attach --episodes 20      # a stack started elsewhere with
                                                               # ros2 launch pi0_bringup ur5e.launch.py sim:=true

Only ROS interfaces are used. Per episode i: the executor is paused, sim/reset with seed --seed + i puts
the blocks in a new layout and the arm at its start pose (so an episode is the same in both modes), and
the pi0/run_instruction action runs "reach the red block" or "reach the blue block" (alternating) for
at most --timeout seconds. The episode succeeds when the tool reaches the named block; it is a
confusion when the tool reaches the other block first (language not followed); both as the simulator
reports them on sim/task_state. --start-spread sets the simulator's start_spread parameter. Prints the success
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
from tqdm import tqdm

from pi0_bringup.block_task import INSTRUCTIONS, START_SPREAD
from pi0_bringup.ros_client import RosClient
from pi0_bringup.runner import START_TIMEOUT, Stack
from pi0_bringup.sim_task import horizontal_distance, named_object, reached
from pi0_bringup.stack_interfaces import StackControls, TaskStateWatcher, wait_for_services
from pi0_bringup.stack_spec import EXECUTOR, SIMULATOR, robot_stack
from pi0_common.messages import to_duration_msg
from pi0_common.spin import wait_for_future

POLL = 0.05   # s between looks at the latest task state


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
    ap.add_argument('--seed', type=int, default=1000,
                    help='episode i resets the scene with seed SEED + i (different from the demonstrations)')
    ap.add_argument('--switching', default='', help='executor switching mode (default: the params file)')
    ap.add_argument('--json', default='out/eval.json', help='write the per-episode results here')
    ap.add_argument('--start-spread', type=float, default=START_SPREAD,
                    help='rad: each episode starts the arm joints up to this far from home (0: at home)')
    ap.add_argument('--attach', action='store_true',
                    help='evaluate the stack already running (ros2 launch pi0_bringup ur5e.launch.py sim:=true); '
                         '--checkpoint and --switching are then those it was started with')
    args = ap.parse_args(argv)
    if args.episodes < 1 or args.timeout <= 0:
        ap.error('--episodes must be at least 1 and --timeout positive')
    if not 0.0 <= args.start_spread <= 1.0:
        ap.error('--start-spread must be in [0, 1] rad')
    return args


class Evaluator:
    """Runs episodes on a running UR5e stack in simulation, through its ROS interfaces only."""

    def __init__(self, client: RosClient, start_spread: float, check_alive=lambda: None):
        self.node = client.node
        self.check_alive = check_alive          # raises when a node of our own stack died
        self.task = TaskStateWatcher(self.node)
        self.controls = StackControls(self.node)
        self.client = ActionClient(self.node, RunInstruction, 'pi0/run_instruction')
        wait_for_services(self.node, [self.client, self.controls.reset_client, self.controls.pause_client], 60,
                          'the UR5e stack in simulation (sim:=true)')
        self.controls.set_simulator_parameter('start_spread', float(start_spread))

    def run_episode(self, index: int, instruction: str, timeout: float, seed: int) -> Episode:
        self.controls.pause()             # the hold is on its way to the driver when this returns
        time.sleep(0.1)                   # ... and applied before the reset moves the arm
        episode = self.controls.reset(seed=seed)
        state = self.task.wait_for_episode(episode)
        time.sleep(0.3)                   # fresh joint states and frames of the new layout reach the policy
        arm = state.arm_names[0]
        target = named_object(instruction, state.object_names)
        if target is None:
            raise RuntimeError(f'the scene has no object named in {instruction!r} '
                               f'(objects: {list(state.object_names)})')
        others = [o for o in state.object_names if o != target]
        goal = RunInstruction.Goal(instruction=instruction, time_limit=to_duration_msg(timeout))
        handle = wait_for_future(self.client.send_goal_async(goal), 10, 'the run_instruction action')
        if not handle.accepted:
            raise RuntimeError(f'episode {index}: run_instruction goal rejected')
        result_future = handle.get_result_async()
        t0 = time.monotonic()
        reached_at, confusion = None, False
        while not result_future.done():
            self.check_alive()
            state = self.task.state
            if state.episode == episode and reached_at is None:
                if any(reached(state, arm, o) for o in others):
                    confusion = True
                if reached(state, arm, target) and not confusion:
                    reached_at = time.monotonic() - t0
                    # Reached: end the episode early.
                    wait_for_future(handle.cancel_goal_async(), 10, 'the run_instruction action')
            time.sleep(POLL)
        result = result_future.result().result
        distance = horizontal_distance(self.task.state, arm, target)
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


def evaluate(client: RosClient, args, check_alive=lambda: None) -> list[Episode]:
    evaluator = Evaluator(client, args.start_spread, check_alive)
    episodes: list[Episode] = []
    order = [INSTRUCTIONS[i % 2] for i in range(2 * args.episodes)]
    bar = tqdm(order, desc='eval', unit='ep')
    for i, instruction in enumerate(bar):
        episodes.append(evaluator.run_episode(i, instruction, args.timeout, seed=args.seed + i))
        bar.set_postfix(success=f'{sum(e.success for e in episodes)}/{len(episodes)}',
                        confusions=sum(e.confusion for e in episodes))
    return episodes


def main(argv=None) -> int:
    args = parse_args(argv)
    t_start = time.monotonic()
    if args.attach:
        with RosClient('pi0_evaluator') as client:
            client.wait_until_ready(START_TIMEOUT)                 # its lifecycle manager says: all active
            episodes = evaluate(client, args)
    else:
        overrides = {EXECUTOR: {'start_paused': True}, SIMULATOR: {'seed': args.seed}}
        specs = robot_stack('ur5e', sim=True, checkpoint=args.checkpoint, switching=args.switching,
                            overrides=overrides)
        with Stack(specs) as stack:
            episodes = evaluate(stack.client, args, stack.check)
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
