"""Record scripted-expert demonstrations of a simulated task through the ROS stack: the UR5e block task
(physics kinematic, the default) or gym-aloha's transfer_cube on the MuJoCo ALOHA twin (physics aloha_mujoco,
trossen_bimanual):

    python -m pi0_bringup.collect_demos --episodes 50 --out ~/pi0_demos [--seed 0]
    python -m pi0_bringup.collect_demos --episodes 50 --out ~/aloha_demos --physics aloha_mujoco --clock lockstep
    python -m pi0_bringup.collect_demos --episodes 50 --attach      # a stack started elsewhere with
        # ros2 launch pi0_bringup record.launch.py sim:=true teleop:=expert output_dir:=~/pi0_demos

Starts what record.launch.py starts with sim:=true teleop:=expert, each node in its own process: the
simulator, the robot's driver (parameters from pi0_bringup/config/<embodiment>.yaml), the recorder and the
scripted expert; no executor, no policy. Per episode i: sim/reset with seed --seed + i (a new layout and
start pose), the instruction on pi0/instruction (the block task: alternately "reach the red block" / "reach
the blue block"; ALOHA: "transfer the cube"; waited for until delivered), start_episode(task), the expert's
expert/run_instruction goal (it publishes pi0/command until its goal has been met for --hold seconds: the
block reached; the cube transferred, sim/reward's success, and its script played to the end),
stop_episode(success = the expert's outcome is "done"). Everything goes over DDS and the services, as
with a human at a leader arm. One bag per episode in --out.

With --clock wall (the params file's default) the stack runs in real time. With --clock lockstep the
simulator owns time (/clock; every other node on simulated time) and a tick passes only once the expert's
command for it has reached the simulated robot, so the recording does not depend on how loaded the machine is
(the ALOHA twin renders its three cameras on the CPU, slower than real time on small machines).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from pi0_msgs.action import RunInstruction
from pi0_msgs.srv import StartEpisode, StopEpisode
from rclpy.action import ActionClient
from rclpy.duration import Duration
from std_msgs.msg import String
from tqdm import tqdm

from pi0_bringup.block_task import INSTRUCTIONS, START_SPREAD
from pi0_bringup.ros_client import RosClient, StackNotReadyError
from pi0_bringup.runner import NodeDiedError, Stack
from pi0_bringup.stack_interfaces import Diagnostics, StackControls, TaskStateWatcher, wait_for_services
from pi0_bringup.stack_spec import EXPERT, RECORDER, SIMULATOR, recording_stack
from pi0_common.messages import to_duration_msg
from pi0_common.qos import LATCHED_QOS
from pi0_common.spin import NoAnswerError, call_service, wait_for_future

SETTLE = 0.1        # s after the instruction was acknowledged: the recorder has written it


@dataclass(frozen=True)
class DemoTask:
    """What the collector records for a simulator physics."""

    embodiment: str
    instructions: tuple[str, ...]      # episode i gets instructions[i % len]
    start_spread: float                # rad, the default of --start-spread
    episode_timeout: float             # s, the default of --episode-timeout
    success: str                       # what a successful episode did, for the summary


TASKS = {
    'kinematic': DemoTask('ur5e', INSTRUCTIONS, START_SPREAD, 20.0, 'reached the block'),
    # gym-aloha's episodes start at its fixed arm pose; the cube's place varies with the seed.
    'aloha_mujoco': DemoTask('trossen_bimanual', ('transfer the cube',), 0.0, 60.0, 'transferred the cube'),
}


class CollectError(RuntimeError):
    """The collection cannot go on (a service refused, a node never came up)."""


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--episodes', type=int, required=True, help='number of episodes to record')
    ap.add_argument('--out', default='', help='output folder for the episode bags (required unless --attach)')
    ap.add_argument('--physics', choices=tuple(TASKS), default='kinematic',
                    help='kinematic: the UR5e block task; aloha_mujoco: transfer_cube on the MuJoCo ALOHA twin')
    ap.add_argument('--clock', choices=('wall', 'lockstep'), default='',
                    help='the simulator\'s clock (default: the params file\'s, wall); lockstep: see above '
                         '(not with --attach: the running stack\'s)')
    ap.add_argument('--camera-rate', type=float, default=0.0,
                    help='simulated camera frame rate in Hz (default: the params file\'s; not with --attach)')
    ap.add_argument('--seed', type=int, default=0, help='episode i resets the scene with seed SEED + i; '
                                                        'also seeds the expert\'s motion styles')
    ap.add_argument('--camera-transport', choices=('raw', 'compressed'), default='raw',
                    help='cameras as sensor_msgs/Image or JPEG CompressedImage (default raw)')
    ap.add_argument('--compression', choices=('none', 'zstd'), default='none',
                    help='mcap chunk compression of the bags (zstd: smaller raw images, more CPU)')
    ap.add_argument('--hold', type=float, default=0.5,
                    help='seconds the expert\'s goal stays met before the episode stops (the block '
                         'reached; the cube transferred and the script ended)')
    ap.add_argument('--episode-timeout', type=float, default=None,
                    help='wall seconds before an episode counts as failed (default: 20; 60 for aloha_mujoco)')
    ap.add_argument('--disk-floor-mb', type=float, default=1024.0, help='recorder disk floor (MiB)')
    ap.add_argument('--start-spread', type=float, default=None,
                    help=f'rad: each episode starts the arm joints up to this far from home (0: at home; '
                         f'default {START_SPREAD:g} for the block task, 0 for aloha_mujoco)')
    ap.add_argument('--attach', action='store_true',
                    help='record with the stack already running (record.launch.py sim:=true teleop:=expert); '
                         'the bags go to its output_dir, and its recorder and expert keep their parameters')
    args = ap.parse_args(argv)
    task = args.task = TASKS[args.physics]
    if args.start_spread is None:
        args.start_spread = task.start_spread
    if args.episode_timeout is None:
        args.episode_timeout = task.episode_timeout
    if args.episodes < 1:
        ap.error('--episodes must be at least 1')
    if not args.out and not args.attach:
        ap.error('--out is required (unless --attach)')
    if args.hold < 0 or args.episode_timeout <= 0 or args.camera_rate < 0:
        ap.error('--hold and --camera-rate must be >= 0 and --episode-timeout positive')
    if not 0.0 <= args.start_spread <= 1.0:
        ap.error('--start-spread must be in [0, 1] rad')
    return args


class DemoCollector:
    """Drives episodes through the recording stack's ROS interfaces (its nodes run elsewhere)."""

    def __init__(self, client: RosClient, start_spread: float, check_alive=lambda: None):
        node = self.node = client.node
        self.check_alive = check_alive
        self.controls = StackControls(node)
        self.task = TaskStateWatcher(node)
        self.diagnostics = Diagnostics(node)
        self.instruction_pub = node.create_publisher(String, 'pi0/instruction', LATCHED_QOS)
        self.start_client = node.create_client(StartEpisode, 'pi0/recorder/start_episode')
        self.stop_client = node.create_client(StopEpisode, 'pi0/recorder/stop_episode')
        self.expert = ActionClient(node, RunInstruction, 'expert/run_instruction')
        wait_for_services(node, [self.controls.reset_client, self.start_client, self.stop_client, self.expert], 60,
                          'the recording stack (record.launch.py sim:=true teleop:=expert)')
        self.controls.set_simulator_parameter('start_spread', float(start_spread))

    def wait_until_recording_everything(self, timeout: float = 15.0) -> None:
        """Until a fresh report of the recorder on /diagnostics lists no topic that has a publisher as
        waiting for one (the graph takes a moment), so the first episode misses nothing."""
        since, deadline = time.monotonic(), time.monotonic() + timeout
        while True:
            self.check_alive()
            values = self.diagnostics.values(RECORDER, since=since)
            waiting = [t for t in values.get('waiting_for_publisher', '').split(',') if t]
            late = [t for t in waiting if self.node.count_publishers(t) > 0]
            if values.get('subscribed') and not late:
                return
            if time.monotonic() > deadline:
                raise CollectError(f'the recorder did not subscribe to {", ".join(late) or "anything"} '
                                   f'in {timeout:g} s')
            time.sleep(0.1)

    def set_instruction(self, text: str, timeout: float = 5.0) -> None:
        """Publish the instruction and wait until every subscriber (the recorder) has it, so the bag gets
        this one."""
        self.instruction_pub.publish(String(data=text))
        if not self.instruction_pub.wait_for_all_acked(Duration(seconds=timeout)):
            raise CollectError(f'the instruction {text!r} was not acknowledged within {timeout:g} s')
        time.sleep(SETTLE)

    def episode(self, index: int, seed: int, instruction: str, timeout: float) -> tuple[bool, StopEpisode.Response]:
        """One demonstration. Returns (reached, the stop response)."""
        self.task.wait_for_episode(self.controls.reset(seed=seed))
        self.set_instruction(instruction)
        started = call_service(self.start_client, StartEpisode.Request(task=instruction))
        if not started.success:
            raise CollectError(f'start_episode refused: {started.message}')
        reached = False
        try:
            goal = RunInstruction.Goal(instruction=instruction, time_limit=to_duration_msg(timeout))
            handle = wait_for_future(self.expert.send_goal_async(goal), 10, 'expert/run_instruction')
            if not handle.accepted:
                raise CollectError(f'episode {index}: the expert rejected the goal')
            result = wait_for_future(handle.get_result_async(), timeout + 10, 'expert/run_instruction').result
            reached = result.outcome == RunInstruction.Result.OUTCOME_DONE
            if not reached:
                tqdm.write(f'episode {started.episode_index}: {result.outcome} ({result.message}); '
                           f'recorded as a failure')
        finally:
            stopped = call_service(self.stop_client, StopEpisode.Request(success=reached, discard=False))
        if not stopped.ok:
            raise CollectError(f'stop_episode refused: {stopped.message}')
        return reached, stopped


@contextlib.contextmanager
def stack_or_attach(args, out: Path):
    """The tool's ROS client: of the recording stack it starts, or alone with --attach."""
    if args.attach:
        with RosClient('pi0_collect_demos') as client:
            yield client, lambda: None
        return
    simulator = {'seed': args.seed, **({'camera_rate_hz': args.camera_rate} if args.camera_rate else {})}
    specs = recording_stack(args.task.embodiment, output_dir=str(out), camera_transport=args.camera_transport,
                            teleop='expert', sim=True, disk_floor_mb=args.disk_floor_mb, clock=args.clock,
                            physics='' if args.physics == 'kinematic' else args.physics, overrides={
                                SIMULATOR: simulator, EXPERT: {'seed': args.seed, 'hold': args.hold},
                                RECORDER: {'compression': args.compression}})
    with Stack(specs) as stack:
        yield stack.client, stack.check


def topic_rates(bag: Path) -> dict[str, float]:
    """Messages per second of each topic in a bag, from its metadata.yaml."""
    meta = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    seconds = max(meta['duration']['nanoseconds'] * 1e-9, 1e-9)
    return {t['topic_metadata']['name']: t['message_count'] / seconds for t in meta['topics_with_message_count']}


def bag_megabytes(bag: Path) -> float:
    return sum(f.stat().st_size for f in bag.iterdir()) / 1e6


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out).expanduser().absolute() if args.out else None
    t0 = time.monotonic()
    where = f'into {out}' if out else 'with the running recorder'
    task = args.task
    print(f'collect_demos: {args.episodes} episode(s) of {task.embodiment} ({args.physics} simulation) {where}',
          flush=True)
    results: list[tuple[bool, StopEpisode.Response, float]] = []
    try:
        with stack_or_attach(args, out) as (client, check_alive):
            collector = DemoCollector(client, args.start_spread, check_alive)
            collector.wait_until_recording_everything()
            print(f'collect_demos: nodes up in {time.monotonic() - t0:.1f} s', flush=True)
            with tqdm(total=args.episodes, unit='ep', desc='demos', file=sys.stdout) as bar:
                for i in range(args.episodes):
                    t_episode = time.monotonic()
                    instruction = task.instructions[i % len(task.instructions)]
                    reached, stopped = collector.episode(i, args.seed + i, instruction, args.episode_timeout)
                    results.append((reached, stopped, time.monotonic() - t_episode))
                    bar.set_postfix(reached=f'{sum(r for r, _, _ in results)}/{len(results)}',
                                    last=f'{results[-1][2]:.1f}s')
                    bar.update(1)
    except (CollectError, NoAnswerError, NodeDiedError, StackNotReadyError) as e:
        print(f'collect_demos: error: {e}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # The running episode was stopped as a failure; the recorder also finishes a bag on SIGINT.
        print('\ncollect_demos: interrupted; the running episode is stopped as a failure', file=sys.stderr)
    if not results:
        return 1
    walls = [w for _, _, w in results]
    bags = [Path(s.bag_path) for _, s, _ in results]
    rates = [topic_rates(b) for b in bags]
    # Real time shows in the rates: the slowest episode's rate of each stream next to its mean.
    shown = ', '.join(f'{t} {sum(r[t] for r in rates) / len(rates):.1f} (min {min(r[t] for r in rates):.1f})'
                      for t in rates[0] if rates[0][t] > 1.0)
    print(f'collect_demos: {sum(r for r, _, _ in results)}/{len(results)} episodes {task.success}; '
          f'{sum(bag_megabytes(b) for b in bags):.1f} MB in {bags[0].parent}')
    print(f'collect_demos: per episode {sum(walls) / len(walls):.2f} s wall on average (max {max(walls):.2f} s), '
          f'{sum(s.duration for _, s, _ in results) / len(results):.2f} s recorded')
    print(f'collect_demos: rates in Hz, mean (slowest episode): {shown}')
    return 0 if len(results) == args.episodes else 1


if __name__ == '__main__':
    sys.exit(main())
