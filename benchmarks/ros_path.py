"""Benchmark of the ROS path around the model (not the model itself: see model_latency.py).

1. image -> model tensor per camera: sensor_msgs/Image (rgb8, bgr8, mono8) and CompressedImage (JPEG)
   at common camera sizes, through image_to_rgb / compressed_to_rgb, resize-with-pad and [-1, 1] scaling;
2. ActionChunk build (make_chunk_msg: pad to 18, flatten) and publish (rclpy, serialization included);
3. executor tick jitter at 20 Hz and 50 Hz while the policy runs, and at 50 Hz while the policy runs and
   a recorder writes an episode: the UR5e stack in simulation started by the process runner (every node
   its own process, as under ros2 launch), tick intervals from the executor's own commands, p50 / p99 /
   max of |interval - period| and the share of late ticks;
4. camera frame latency across the simulator -> subscriber DDS hop (what the policy node sees): header
   stamp to receive time in a subscriber of another process, p50 / p99 / max per camera resolution,
   measured during the runs of 3.

    python benchmarks/ros_path.py [--seconds 20] [--checkpoint default] [--plot out/ros_path_jitter.png]
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np
from PIL import Image as PILImage


def timeit(fn, repeat: int) -> float:
    """Median milliseconds per call."""
    fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(1e3 * (time.perf_counter() - t0))
    return float(np.median(samples))


def bench_images(model_size: int) -> None:
    from sensor_msgs.msg import CompressedImage, Image

    from pi0_policy.image_conversion import compressed_to_rgb, image_to_rgb
    from pi0_policy.image_transforms import resize_with_pad, to_model_pixels

    print(f'\n1. image -> model tensor ({model_size}x{model_size}), median ms per camera')
    print(f'{"input":>26} {"decode":>8} {"resize+scale":>13} {"total":>8}')
    rng = np.random.default_rng(0)
    for h, w in ((224, 224), (480, 640), (720, 1280)):
        rgb = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        msgs = {}
        for enc in ('rgb8', 'bgr8', 'mono8'):
            px = rgb if enc != 'mono8' else rgb[..., :1]
            msgs[f'{enc} {w}x{h}'] = Image(height=h, width=w, encoding=enc, step=w * px.shape[-1],
                                          data=px.tobytes())
        buf = io.BytesIO()
        PILImage.fromarray(rgb).save(buf, format='JPEG', quality=90)
        msgs[f'jpeg {w}x{h}'] = CompressedImage(format='jpeg', data=buf.getvalue())
        for name, msg in msgs.items():
            decode = compressed_to_rgb if name.startswith('jpeg') else image_to_rgb
            decoded = decode(msg)
            t_dec = timeit(lambda m=msg, d=decode: d(m), 30)
            t_rs = timeit(lambda x=decoded: to_model_pixels(resize_with_pad(x, model_size, model_size)), 30)
            print(f'{name:>26} {t_dec:8.2f} {t_rs:13.2f} {t_dec + t_rs:8.2f}')


def bench_chunk_publish() -> None:
    import rclpy
    from pi0_msgs.msg import ActionChunk

    from pi0_common.embodiment import load_embodiment
    from pi0_common.messages import make_chunk_msg
    from pi0_common.qos import CHUNK_QOS

    print('\n2. ActionChunk (50 x 18), median ms')
    emb = load_embodiment('ur5e')
    actions = np.random.default_rng(0).normal(size=(50, emb.valid_dims))
    build = timeit(lambda: make_chunk_msg(emb, 1, 10.0, 0.05, actions, 0.1, 'reach the red block'), 200)
    rclpy.init()
    try:
        node = rclpy.create_node('bench_chunk_publisher')
        pub = node.create_publisher(ActionChunk, 'bench/action_chunk', CHUNK_QOS)
        sub_node = rclpy.create_node('bench_chunk_subscriber')
        sub_node.create_subscription(ActionChunk, 'bench/action_chunk', lambda m: None, CHUNK_QOS)
        msg = make_chunk_msg(emb, 1, 10.0, 0.05, actions, 0.1, 'reach the red block')
        time.sleep(0.5)     # discovery, so publish includes delivery to a matched subscriber
        publish = timeit(lambda: pub.publish(msg), 200)
        node.destroy_node()
        sub_node.destroy_node()
    finally:
        rclpy.shutdown()
    print(f'build {build:.3f} ms, publish {publish:.3f} ms (one matched subscriber)')


CASES = [('20 Hz', 20.0, False), ('50 Hz', 50.0, False), ('50 Hz + recorder', 50.0, True)]


def run_case(rate: float, record: bool, seconds: float, checkpoint: str, bag_dir: str) -> dict:
    """One run of the UR5e stack in simulation; the executor at ``rate``, optionally with a recorder
    writing one episode (raw cameras, joint states, commands) the whole time."""
    from pi0_msgs.srv import StartEpisode, StopEpisode
    from sensor_msgs.msg import CompressedImage, Image

    from pi0_bringup.console import Console
    from pi0_bringup.monitor import StackMonitor
    from pi0_bringup.runner import Stack
    from pi0_bringup.stack_spec import EXECUTOR, RECORDER, recording_stack, robot_stack
    from pi0_common.embodiment import load_embodiment
    from pi0_common.messages import to_sec
    from pi0_common.qos import SENSOR_QOS
    from pi0_common.spin import call_service

    specs = robot_stack('ur5e', sim=True, checkpoint=checkpoint, overrides={EXECUTOR: {'rate_hz': rate}})
    if record:
        specs += [s for s in recording_stack('ur5e', output_dir=bag_dir) if s.name == RECORDER]
    emb = load_embodiment('ur5e')
    latency: dict[str, list[float]] = {}

    def on_frame(msg, key: str):
        received = monitor.get_clock().now().nanoseconds * 1e-9
        latency.setdefault(key, []).append(received - to_sec(msg.header.stamp))

    with Stack(specs, log_level='warn', console=Console(live=False)) as stack:
        monitor = StackMonitor(emb, context=stack.context)
        for cam in emb.cameras:
            kind = CompressedImage if cam.transport == 'compressed' else Image
            key = f'{cam.slot} {cam.width}x{cam.height}' + (' jpeg' if kind is CompressedImage else '')
            monitor.create_subscription(kind, cam.wire_topic(), lambda m, k=key: on_frame(m, k), SENSOR_QOS)
        stack.add_node(monitor)
        deadline = time.monotonic() + 120
        while not monitor.snapshot().chunk_t and time.monotonic() < deadline:
            stack.check()
            time.sleep(0.1)
        if record:
            start_client = stack.node.create_client(StartEpisode, 'pi0/recorder/start_episode')
            assert call_service(start_client, StartEpisode.Request(task='benchmark')).success
        start = len(monitor.snapshot().command_t)
        latency.clear()
        time.sleep(seconds)
        rec = monitor.snapshot()
        frames = {k: list(v) for k, v in latency.items()}
        if record:
            stop_client = stack.node.create_client(StopEpisode, 'pi0/recorder/stop_episode')
            stopped = call_service(stop_client, StopEpisode.Request(success=True))
            print(f'    recorded {stopped.duration:.1f} s into {stopped.bag_path}')
        stack.check()
    return dict(stamps=np.asarray(rec.command_t[start:]), rec=rec, frames=frames)


def bench_jitter(seconds: float, checkpoint: str, plot: str) -> None:
    import tempfile

    print(f'\n3. executor ticks while the policy runs ({checkpoint}), UR5e in simulation, {seconds:g} s each')
    print(f'{"case":>17} {"ticks":>6} {"p50 ms":>8} {"p99 ms":>8} {"max ms":>8} {"late %":>7} {"infer ms":>9} '
          f'{"chunks":>7}')
    intervals, frames = {}, {}
    with tempfile.TemporaryDirectory(prefix='ros_path_bags_') as bag_dir:
        for name, rate, record in CASES:
            run = run_case(rate, record, seconds, checkpoint, bag_dir)
            stamps, rec = run['stamps'], run['rec']
            dev = np.abs(np.diff(stamps) - 1.0 / rate) * 1e3
            late = np.mean(np.diff(stamps) > 1.5 / rate) * 100
            infer = np.median(rec.inference_ms) if rec.inference_ms else float('nan')
            intervals[name] = (rate, np.diff(stamps) * 1e3)
            frames[name] = run['frames']
            print(f'{name:>17} {len(stamps):6d} {np.percentile(dev, 50):8.2f} {np.percentile(dev, 99):8.2f} '
                  f'{dev.max():8.2f} {late:7.2f} {infer:9.1f} {len(rec.chunk_t):7d}', flush=True)
    print('\n4. camera frames, simulator -> subscriber in another process (header stamp to receive), ms')
    print(f'{"case":>17} {"camera":>18} {"frames":>7} {"p50":>7} {"p99":>7} {"max":>7}')
    for name, per_size in frames.items():
        for size, values in sorted(per_size.items()):
            ms = 1e3 * np.asarray(values)
            print(f'{name:>17} {size:>18} {len(ms):7d} {np.percentile(ms, 50):7.2f} {np.percentile(ms, 99):7.2f} '
                  f'{ms.max():7.2f}')
    if plot:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, len(intervals), figsize=(5 * len(intervals), 3.2))
        for ax, (name, (rate, iv)) in zip(axes, intervals.items(), strict=True):
            ax.hist(iv, bins=60, color='tab:blue')
            ax.axvline(1e3 / rate, color='k', ls='--', lw=1)
            ax.set_title(f'executor tick intervals, {name}')
            ax.set_xlabel('ms')
        fig.tight_layout()
        fig.savefig(plot, dpi=110)
        print(f'histogram: {plot}')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--seconds', type=float, default=20.0)
    ap.add_argument('--checkpoint', default='default')
    ap.add_argument('--model-size', type=int, default=224)
    ap.add_argument('--plot', default='out/ros_path_jitter.png')
    ap.add_argument('--skip-jitter', action='store_true')
    args = ap.parse_args()
    bench_images(args.model_size)
    bench_chunk_publish()
    if not args.skip_jitter:
        import pathlib
        pathlib.Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        bench_jitter(args.seconds, args.checkpoint, args.plot)


if __name__ == '__main__':
    main()
