"""Record scripted-expert demonstrations of the simulated UR5e block task through the ROS stack:

    python -m pi0_bringup.collect_demos --episodes 50 --out ~/pi0_demos [--seed 0]

One process composes the UR5e driver with its simulated robot (sim:=true, parameters from
pi0_bringup/config/ur5e.yaml), the recorder and the scripted expert; no executor, no policy. Per
episode: sim/reset (a new block layout), the instruction on pi0/instruction (alternately "reach the
red block" / "reach the blue block"), start_episode(task), the expert publishes pi0/command until the
block is reached (plus a short hold), stop_episode(success=reached). Everything goes over DDS and the
services, as with a human at a leader arm, and runs in real time (the simulation steps on wall-clock
timers). One bag per episode in --out (see pi0_drivers/recording).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import rclpy
import yaml
from pi0_msgs.srv import StartEpisode, StopEpisode
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.serialization import deserialize_message
from rclpy.signals import SignalHandlerOptions
from std_msgs.msg import String
from std_srvs.srv import Trigger
from tqdm import tqdm

from pi0_bringup.block_task import INSTRUCTIONS, START_SPREAD
from pi0_bringup.runner import config_dir, node_parameters
from pi0_common.qos import LATCHED_QOS
from pi0_common.spin import NoAnswerError, NodeSpinner, call_service
from pi0_drivers.driver_node import RobotDriverNode
from pi0_drivers.teleop.expert_node import ScriptedExpertNode
from pi0_recording.recorder_node import RecorderNode
from pi0_sim.expert import PlanningError

EMBODIMENT = 'ur5e'


class CollectError(RuntimeError):
    """The collection cannot go on (a service refused, a node never came up)."""


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--episodes', type=int, required=True, help='number of episodes to record')
    ap.add_argument('--out', required=True, help='output folder for the episode bags')
    ap.add_argument('--seed', type=int, default=0, help='seeds the block layouts and the expert styles')
    ap.add_argument('--camera-transport', choices=('raw', 'compressed'), default='raw',
                    help='cameras as sensor_msgs/Image or JPEG CompressedImage (default raw)')
    ap.add_argument('--compression', choices=('none', 'zstd'), default='none',
                    help='mcap chunk compression of the bags (zstd: smaller raw images, more CPU)')
    ap.add_argument('--hold', type=float, default=0.5, help='seconds to stay on the block before stopping')
    ap.add_argument('--episode-timeout', type=float, default=20.0, help='seconds before an episode counts as failed')
    ap.add_argument('--disk-floor-mb', type=float, default=1024.0, help='recorder disk floor (MiB)')
    ap.add_argument('--start-spread', type=float, default=START_SPREAD,
                    help='rad: each episode starts the arm joints up to this far from home (0: at home)')
    args = ap.parse_args(argv)
    if args.episodes < 1:
        ap.error('--episodes must be at least 1')
    if args.hold < 0 or args.episode_timeout <= 0:
        ap.error('--hold must be >= 0 and --episode-timeout positive')
    if not 0.0 <= args.start_spread <= 1.0:
        ap.error('--start-spread must be in [0, 1] rad')
    return args


class DemoCollector:
    """Driver (simulated), recorder and scripted expert in one process, each spinning on its own thread."""

    def __init__(self, out: Path, seed: int, camera_transport: str, disk_floor_mb: float, compression: str = 'none',
                 start_spread: float = 0.0):
        self.context = rclpy.Context()
        rclpy.init(context=self.context, signal_handler_options=SignalHandlerOptions.NO)
        self.nodes: list[Node] = []
        self.spinner = NodeSpinner(self.context)      # each node on its own executor thread
        try:
            driver_params = node_parameters(config_dir() / f'{EMBODIMENT}.yaml', 'pi0_robot_driver')
            driver_params.update(embodiment=EMBODIMENT, sim=True, sim_seed=seed, sim_camera_transport=camera_transport,
                                 sim_start_spread=start_spread)
            self.driver = self._add(RobotDriverNode, driver_params)
            self.recorder = self._add(RecorderNode, {
                'embodiment': EMBODIMENT, 'output_dir': str(out), 'camera_transport': camera_transport,
                'disk_floor_mb': disk_floor_mb, 'compression': compression})
            self.expert = self._add(ScriptedExpertNode, {}, world=self.driver.sim.world,
                                    world_lock=self.driver.sim.lock, embodiment=self.driver.embodiment, seed=seed)
            self.client = self._add(Node, {}, node_name='pi0_collect_demos')
            self.instruction_pub = self.client.create_publisher(String, 'pi0/instruction', LATCHED_QOS)
            self.reset_client = self.client.create_client(Trigger, 'sim/reset')
            self.start_client = self.client.create_client(StartEpisode, 'pi0/recorder/start_episode')
            self.stop_client = self.client.create_client(StopEpisode, 'pi0/recorder/stop_episode')
        except BaseException:
            self.shutdown()
            raise

    def _add(self, cls, params: dict, **kwargs):
        node = cls(context=self.context, parameter_overrides=[Parameter(k, value=v) for k, v in params.items()],
                   **kwargs)
        self.nodes.append(node)
        self.spinner.add(node)
        return node

    def wait_until_recording_everything(self, timeout: float = 15.0) -> None:
        """Until the recorder subscribes to every wanted topic that has a publisher (the graph takes
        a moment), so the first episode misses nothing."""
        deadline = time.monotonic() + timeout
        while True:
            published = {t for t in self.recorder.specs if self.recorder.count_publishers(t) > 0}
            missing = published - set(self.recorder.subscribed_topics)
            if published and not missing:
                return
            if time.monotonic() > deadline:
                raise CollectError(f'the recorder did not subscribe to {", ".join(sorted(missing))} in {timeout:g} s')
            time.sleep(0.05)

    def set_instruction(self, text: str, timeout: float = 5.0) -> None:
        """Publish the instruction and wait until the recorder holds it, so the bag gets this one."""
        self.instruction_pub.publish(String(data=text))
        deadline = time.monotonic() + timeout
        while True:
            data = self.recorder.latched_message('pi0/instruction')
            if data is not None and deserialize_message(data, String).data == text:
                return
            if time.monotonic() > deadline:
                raise CollectError(f'the recorder did not receive the instruction {text!r}')
            time.sleep(0.01)

    def episode(self, instruction: str, hold: float, timeout: float) -> tuple[bool, StopEpisode.Response]:
        """One demonstration. Returns (reached, the stop response)."""
        reset = call_service(self.reset_client, Trigger.Request())
        if not reset.success:
            raise CollectError(f'sim/reset failed: {reset.message}')
        self.set_instruction(instruction)
        started = call_service(self.start_client, StartEpisode.Request(task=instruction))
        if not started.success:
            raise CollectError(f'start_episode refused: {started.message}')
        reached = False
        try:
            self.expert.begin(instruction)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.expert.reached_for() >= hold:
                    reached = True
                    break
                time.sleep(0.02)
        except PlanningError as e:
            tqdm.write(f'episode {started.episode_index}: no plan ({e}); recorded as a failure')
        finally:
            self.expert.end()
            stopped = call_service(self.stop_client, StopEpisode.Request(success=reached, discard=False))
        if not stopped.ok:
            raise CollectError(f'stop_episode refused: {stopped.message}')
        return reached, stopped

    def shutdown(self) -> None:
        for node in self.nodes:
            if isinstance(node, RecorderNode):
                node.finish('interrupted')          # a Ctrl-C mid-episode still leaves a finished bag
        self.spinner.shutdown()
        rclpy.try_shutdown(context=self.context)


def topic_rates(bag: Path) -> dict[str, float]:
    """Messages per second of each topic in a bag, from its metadata.yaml."""
    meta = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    seconds = max(meta['duration']['nanoseconds'] * 1e-9, 1e-9)
    return {t['topic_metadata']['name']: t['message_count'] / seconds for t in meta['topics_with_message_count']}


def bag_megabytes(bag: Path) -> float:
    return sum(f.stat().st_size for f in bag.iterdir()) / 1e6


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out).expanduser().absolute()
    t0 = time.monotonic()
    print(f'collect_demos: {args.episodes} episode(s) of {EMBODIMENT} (simulated) into {out}', flush=True)
    collector = DemoCollector(out, args.seed, args.camera_transport, args.disk_floor_mb, args.compression,
                              args.start_spread)
    results: list[tuple[bool, StopEpisode.Response, float]] = []
    try:
        collector.wait_until_recording_everything()
        print(f'collect_demos: nodes up in {time.monotonic() - t0:.1f} s', flush=True)
        with tqdm(total=args.episodes, unit='ep', desc='demos', file=sys.stdout) as bar:
            for i in range(args.episodes):
                t_episode = time.monotonic()
                reached, stopped = collector.episode(INSTRUCTIONS[i % 2], args.hold, args.episode_timeout)
                results.append((reached, stopped, time.monotonic() - t_episode))
                bar.set_postfix(reached=f'{sum(r for r, _, _ in results)}/{len(results)}',
                                last=f'{results[-1][2]:.1f}s')
                bar.update(1)
    except (CollectError, NoAnswerError) as e:
        print(f'collect_demos: error: {e}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('\ncollect_demos: interrupted; the running episode is finished as a failure', file=sys.stderr)
    finally:
        collector.shutdown()
    if not results:
        return 1
    walls = [w for _, _, w in results]
    bags = [Path(s.bag_path) for _, s, _ in results]
    rates = [topic_rates(b) for b in bags]
    # Real time shows in the rates: the slowest episode's rate of each stream next to its mean.
    shown = ', '.join(f'{t} {sum(r[t] for r in rates) / len(rates):.1f} (min {min(r[t] for r in rates):.1f})'
                      for t in rates[0] if rates[0][t] > 1.0)
    print(f'collect_demos: {sum(r for r, _, _ in results)}/{len(results)} episodes reached the block; '
          f'{sum(bag_megabytes(b) for b in bags):.1f} MB in {out}')
    print(f'collect_demos: per episode {sum(walls) / len(walls):.2f} s wall on average (max {max(walls):.2f} s), '
          f'{sum(s.duration for _, s, _ in results) / len(results):.2f} s recorded')
    print(f'collect_demos: rates in Hz, mean (slowest episode): {shown}')
    return 0 if len(results) == args.episodes else 1


if __name__ == '__main__':
    sys.exit(main())
