"""Datasets at real scale: a long episode of three 640x480 cameras at 30 Hz, converted to video and image
datasets; sizes, conversion speed, the converter's peak memory and the reader's samples/s.

    source tools/env.sh && python benchmarks/dataset_scale.py [--minutes 2] [--out out/dataset_scale]

The episode is the recorder's bag layout (rosbag2 v8, mcap, the suite's topics) with frames from the
simulator's renderer while every arm moves (not noise): joint states and commands at the robot's rate,
the cameras at 30 Hz, written once with raw images (rgb8, ~28 MB/s per camera: 2 minutes take 10 GB) and
once with JPEG ones (as image_transport's compressed transport publishes them). The bag is written with
rosbags directly, not published through the ROS recorder: messages offered = written here.

Each conversion runs as ``python -m pi0_policy.data.convert`` in its own process; its peak memory is the
largest sum of resident memory over its process tree (the converter and its workers), polled every 0.1 s.
The episode is converted at full length and at a quarter of it, to show whether memory grows with length.
The reader is timed on random rows (every camera decoded: a training sample's images) and in order.

``--lerobot-v21 PYTHON`` / ``--lerobot-v30 PYTHON`` (interpreters with LeRobot 0.3.3 / 0.6.1 installed)
also open the video datasets with LeRobot's own ``LeRobotDataset`` and decode the rows (every
``--lerobot-stride``-th; 1 = every frame) with each of its decoders (torchcodec, pyav), which check every
frame against its row's timestamp (1e-4 s); a few frames are compared with this repo's reader.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from rosbags.rosbag2 import StoragePlugin, Writer

from pi0_common.embodiment import load_embodiment
from pi0_policy.data.reader import LeRobotReader
from pi0_policy.data.typestore import pi0_typestore
from pi0_sim.world import SimWorld

NS = 1_000_000_000
CAMERA_HZ = 30
T0 = 1_700_000_000 * NS


def embodiment_640(name: str):
    emb = load_embodiment(name)
    return dataclasses.replace(emb, cameras=tuple(dataclasses.replace(c, width=640, height=480) for c in emb.cameras))


def _msg(store, msgtype: str, **fields):
    return store.types[msgtype](**fields)


def _header(store, t: int):
    return _msg(store, "std_msgs/msg/Header", stamp=_msg(store, "builtin_interfaces/msg/Time", sec=t // NS,
                                                             nanosec=t % NS), frame_id="")  # fmt: skip


def write_bags(folder: Path, emb, seconds: float, task: str = "fold the towel") -> dict:
    """One episode, written to ``folder/raw/ep`` (rgb8 images) and ``folder/compressed/ep`` (JPEG);
    returns the message counts per topic and the seconds spent rendering."""
    store = pi0_typestore()
    writers = {k: Writer(folder / k / "ep", version=8, storage_plugin=StoragePlugin.MCAP)
               for k in ("raw", "compressed")}
    for w in writers.values():
        w.open()
    connections: dict[tuple[str, str], object] = {}
    counts: dict[str, int] = {}

    def write(kind: str, topic: str, msgtype: str, t: int, msg) -> None:
        for k in (("raw", "compressed") if kind == "both" else (kind,)):
            if (k, topic) not in connections:
                connections[(k, topic)] = writers[k].add_connection(topic, msgtype, typestore=store)
            writers[k].write(connections[(k, topic)], t, store.serialize_cdr(msg, msgtype))
        counts[topic] = counts.get(topic, 0) + 1

    world = SimWorld(emb, seed=0)
    rate = emb.control_rate_hz
    event = "pi0_msgs/msg/EpisodeEvent"
    write("both", "/pi0/episode_event", event, T0, _msg(store, event, header=_header(store, T0), event=0,
          episode_index=0, embodiment=emb.name, task=task, success=False))  # fmt: skip
    render_s, next_camera, k = 0.0, 0.0, 0
    while k / rate <= seconds:
        now = k / rate
        if k % int(2 * rate) == 0:  # every arm 0.3 rad away from home and back, every 2 s
            for arm in emb.arms:
                home = np.array([j.home for j in arm.joints])
                offset = 0.3 * np.sin(np.arange(len(home)) + now)
                world.command_trajectory([j.name for j in arm.joints], [1.0, 2.0], [(home + offset).tolist(),
                                         home.tolist()], now, topic=arm.joint_state_topic)  # fmt: skip
        world.step(now)
        t = T0 + int(round(now * NS))
        for topic in emb.joint_state_topics:
            names, pos, vel = world.joint_state(topic)
            write("both", "/" + topic, "sensor_msgs/msg/JointState", t, _msg(
                store, "sensor_msgs/msg/JointState", header=_header(store, t), name=names,
                position=np.asarray(pos), velocity=np.asarray(vel), effort=np.zeros(len(pos))))  # fmt: skip
        command = np.concatenate([np.append(world.arm_positions(a.name), world.gripper_closure(a.name))
                                  if a.gripper is not None else world.arm_positions(a.name)
                                  for a in emb.arms]).astype(np.float32)  # fmt: skip
        write("both", "/pi0/command", "pi0_msgs/msg/ExecutorCommand", t, _msg(
            store, "pi0_msgs/msg/ExecutorCommand", header=_header(store, t), embodiment=emb.name, mode=0,
            chunk_id=0, dt=1 / rate, valid_dims=len(command), num_points=1, positions=command))  # fmt: skip
        if now + 1e-9 >= next_camera:
            next_camera += 1 / CAMERA_HZ
            for cam in emb.cameras:
                r0 = time.perf_counter()
                rgb = world.render(cam.slot)
                render_s += time.perf_counter() - r0
                h, w, _ = rgb.shape
                write("raw", "/" + cam.topic, "sensor_msgs/msg/Image", t, _msg(
                    store, "sensor_msgs/msg/Image", header=_header(store, t), height=h, width=w, encoding="rgb8",
                    is_bigendian=0, step=3 * w, data=rgb.reshape(-1)))  # fmt: skip
                buf = io.BytesIO()
                Image.fromarray(rgb).save(buf, format="JPEG", quality=90)
                write("compressed", "/" + cam.topic + "/compressed", "sensor_msgs/msg/CompressedImage", t, _msg(
                    store, "sensor_msgs/msg/CompressedImage", header=_header(store, t),
                    format="rgb8; jpeg compressed bgr8", data=np.frombuffer(buf.getvalue(), np.uint8)))  # fmt: skip
        k += 1
    t = T0 + int(round(seconds * NS))
    write("both", "/pi0/episode_event", event, t, _msg(store, event, header=_header(store, t), event=1,
          episode_index=0, embodiment=emb.name, task=task, success=True))  # fmt: skip
    for w in writers.values():
        w.close()
    return {"counts": counts, "render_s": render_s}


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total


def run_converter(args: list[str]) -> dict:
    """``python -m pi0_policy.data.convert ARGS``: wall time and peak memory of its process tree."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "pi0_policy.data.convert", *args, "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss_bytes(proc.pid))
        time.sleep(0.1)
    out = proc.stdout.read()
    if proc.returncode != 0:
        raise RuntimeError(f"convert {args} failed:\n{out}")
    return {"seconds": time.perf_counter() - t0, "peak_mb": peak / 2**20, "output": out.strip().splitlines()[-1]}


def folder_mb(path: Path, skip: str = ".arrow_cache") -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and skip not in p.parts) / 2**20


def time_reader(root: Path, seconds: float = 20.0) -> dict:
    """Samples/s of LeRobotReader: every camera's image of random rows, then of rows in order."""
    reader = LeRobotReader(root)
    rng = np.random.default_rng(0)
    out = {}
    for name, rows in (("random", rng.integers(0, len(reader), 100_000)), ("in order", np.arange(len(reader)))):
        for row in rows[:5]:  # warm-up: open files, fault the first pages in
            for slot in reader.camera_slots:
                reader.image(int(row), slot)
        t0, n = time.perf_counter(), 0
        for row in rows:
            for slot in reader.camera_slots:
                reader.image(int(row), slot)
            n += 1
            if time.perf_counter() - t0 > seconds:
                break
        out[name] = n / (time.perf_counter() - t0)
    return out


LEROBOT_CHECK = """
import json, sys
import numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset
root, backend, stride = sys.argv[1], sys.argv[2], int(sys.argv[3])
ds = LeRobotDataset("local/pi0_ros_check", root=root, video_backend=backend)
keys = ds.meta.video_keys
checked, means = 0, {}
for i in range(0, len(ds), stride):
    item = ds[i]  # every camera decoded at the row's timestamp; LeRobot raises beyond its tolerance
    checked += 1
    if i in (0, len(ds) // 2):
        means[i] = [float((item[k] * 255).mean()) for k in keys]
print(json.dumps({"rows": checked, "of": len(ds), "keys": keys, "means": means}))
"""


def lerobot_check(python: str, root: Path, stride: int) -> dict:
    """Open a video dataset with LeRobot's LeRobotDataset in another interpreter, decoding with torchcodec
    and with pyav; the mean of a few frames is compared with this repo's reader."""
    reader = LeRobotReader(root)
    out = {}
    for backend in ("torchcodec", "pyav"):
        t0 = time.perf_counter()
        proc = subprocess.run([python, "-c", LEROBOT_CHECK, str(root), backend, str(stride)], capture_output=True,
                              text=True)  # fmt: skip
        if proc.returncode != 0:
            out[backend] = {"ok": False, "error": proc.stderr.strip().splitlines()[-1:]}
            continue
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        ours = {int(i): [float(reader.image(int(i), k.rsplit(".", 1)[-1]).mean()) for k in result["keys"]]
                for i in result["means"]}  # fmt: skip
        worst = max(abs(a - b) for i, m in result["means"].items() for a, b in zip(m, ours[int(i)], strict=True))
        out[backend] = {"ok": True, "rows": result["rows"], "of": result["of"], "seconds": time.perf_counter() - t0,
                        "mean_difference": worst}  # fmt: skip
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=2.0, help="episode length (default 2)")
    p.add_argument("--embodiment", default="trossen_bimanual", help="robot (default trossen_bimanual: 3 cameras)")
    p.add_argument("--out", default="out/dataset_scale", help="work folder (emptied first; bags and datasets)")
    p.add_argument("--reader-seconds", type=float, default=20.0, help="seconds per reader measurement")
    p.add_argument("--keep", action="store_true", help="keep the bags and datasets")
    p.add_argument("--lerobot-v21", default=None, help="a Python with LeRobot 0.3.3: open the v2.1 video dataset")
    p.add_argument("--lerobot-v30", default=None, help="a Python with LeRobot 0.6.1: open the v3.0 video dataset")
    p.add_argument("--lerobot-stride", type=int, default=1, help="LeRobot decodes every N-th row (default 1)")
    args = p.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    emb = embodiment_640(args.embodiment)
    seconds = args.minutes * 60
    results: dict = {"embodiment": emb.name, "minutes": args.minutes, "cameras": len(emb.cameras),
                     "resolution": "640x480", "camera_hz": CAMERA_HZ, "fps": emb.control_rate_hz}  # fmt: skip
    print(f"writing {args.minutes:g} min of {emb.name}: {len(emb.cameras)} cameras 640x480 at {CAMERA_HZ} Hz, "
          f"joint states and commands at {emb.control_rate_hz:g} Hz ...", flush=True)
    t0 = time.perf_counter()
    written = write_bags(out / "bags", emb, seconds)
    write_bags(out / "short", emb, seconds / 4)
    results["bag"] = {"counts": written["counts"], "write_s": time.perf_counter() - t0,
                      "render_s": written["render_s"], "raw_mb": folder_mb(out / "bags/raw"),
                      "compressed_mb": folder_mb(out / "bags/compressed")}  # fmt: skip
    frames = int(seconds * emb.control_rate_hz)
    runs = {
        "v2.1 video, raw bag": ["bags/raw", "v21_video", "--format", "v2.1"],
        "v3.0 video, raw bag": ["bags/raw", "v30_video", "--format", "v3"],
        "v2.1 video, JPEG bag": ["bags/compressed", "v21_video_jpeg", "--format", "v2.1"],
        "v2.1 images, raw bag": ["bags/raw", "v21_images", "--format", "v2.1", "--images"],
        "v2.1 video, raw bag, 1/4 length": ["short/raw", "v21_video_short", "--format", "v2.1"],
        "v2.1 video g=30, raw bag, 1/4 length": ["short/raw", "v21_video_g30", "--format", "v2.1", "--gop", "30"],
    }  # fmt: skip
    results["conversions"] = {}
    for name, (bags, dataset, *extra) in runs.items():
        print(f"converting: {name} ...", flush=True)
        r = run_converter([str(out / bags), str(out / dataset), "--embodiment", args.embodiment, *extra])
        n = frames // 4 if "1/4" in name else frames
        r.update(dataset_mb=folder_mb(out / dataset), frames=n, frames_per_s=n / r["seconds"],
                 real_time_factor=(n / emb.control_rate_hz) / r["seconds"])  # fmt: skip
        results["conversions"][name] = r
    results["reader"] = {name: time_reader(out / d, args.reader_seconds)
                         for name, d in (("video (v2.1)", "v21_video"), ("video (v3.0)", "v30_video"),
                                         ("images (v2.1)", "v21_images"))}  # fmt: skip
    results["lerobot"] = {}
    for python, name, dataset in ((args.lerobot_v21, "LeRobot 0.3.3, v2.1", "v21_video"),
                                  (args.lerobot_v30, "LeRobot 0.6.1, v3.0", "v30_video")):
        if python:
            print(f"opening with {name} ...", flush=True)
            results["lerobot"][name] = lerobot_check(python, out / dataset, args.lerobot_stride)
    report(results)
    (out.parent / "dataset_scale.json").write_text(json.dumps(results, indent=2))
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    return 0


def report(r: dict) -> None:
    b = r["bag"]
    print(f"\n{r['embodiment']}: {r['minutes']:g} min, {r['cameras']} cameras {r['resolution']} at "
          f"{r['camera_hz']} Hz, dataset at {r['fps']:g} fps")  # fmt: skip
    print("messages written per topic: " + ", ".join(f"{t} {n}" for t, n in sorted(b["counts"].items())))
    print(f"bag: raw {b['raw_mb']:.0f} MB, JPEG {b['compressed_mb']:.0f} MB (written in {b['write_s']:.0f} s, "
          f"{b['render_s']:.0f} s of it rendering)")  # fmt: skip
    header = f"{'conversion':<34}{'frames':>8}{'s':>8}{'frames/s':>10}{'x real time':>12}{'peak MB':>9}{'MB':>9}"
    print("\n" + header + "\n" + "-" * len(header))
    for name, c in r["conversions"].items():
        print(f"{name:<34}{c['frames']:>8}{c['seconds']:>8.1f}{c['frames_per_s']:>10.1f}{c['real_time_factor']:>12.2f}"
              f"{c['peak_mb']:>9.0f}{c['dataset_mb']:>9.1f}")  # fmt: skip
    conv = r["conversions"]
    ratio = conv["v2.1 video, raw bag"]["dataset_mb"] / conv["v2.1 images, raw bag"]["dataset_mb"]
    print(f"video dataset / image dataset size: {100 * ratio:.1f} % (a keyframe every 2 frames, as LeRobot; "
          f"every 30: {conv['v2.1 video g=30, raw bag, 1/4 length']['dataset_mb']:.1f} MB instead of "
          f"{conv['v2.1 video, raw bag, 1/4 length']['dataset_mb']:.1f} MB for 1/4 of the episode)")  # fmt: skip
    header = f"{'reader (all cameras per sample)':<34}{'random/s':>10}{'in order/s':>12}"
    print("\n" + header + "\n" + "-" * len(header))
    for name, s in r["reader"].items():
        print(f"{name:<34}{s['random']:>10.1f}{s['in order']:>12.1f}")
    video, images = r["reader"]["video (v2.1)"]["random"], r["reader"]["images (v2.1)"]["random"]
    print(f"video / images, random rows: {100 * video / images:.0f} %")
    for name, backends in r["lerobot"].items():
        for backend, c in backends.items():
            print(f"{name} ({backend}): " + (f"{c['rows']} of {c['of']} rows decoded at their timestamps in "
                  f"{c['seconds']:.0f} s; frame means within {c['mean_difference']:.3f} of this repo's reader"
                  if c["ok"] else f"FAILED: {c['error']}"))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
