"""Datasets at real scale: teleoperation episodes of three 640x480 cameras at 30 Hz published through the
real recorder, converted to video and image datasets; messages offered vs written, sizes, conversion speed,
peak memory of recorder and converter, and the reader's samples/s.

    source tools/env.sh && python benchmarks/dataset_scale.py [--minutes 2] [--out out/dataset_scale]

Recording (dataset_scale_record.py): a recorder process (``pi0_recording.recorder_node``) records while
this process publishes the embodiment's topics at their real rates, with frames from the simulator's
renderer while every arm moves (not noise): once with raw rgb8 images (~28 MB/s per camera: 2 minutes take
10 GB of disk; a second episode of a quarter of the length follows) and once with JPEG images (as
image_transport's compressed transport publishes them). Per topic it prints the messages offered, what
the recorder received, what the middleware reported lost and what arrived late (the STOP event) and what
the bag holds.

Each conversion runs as ``python -m pi0_policy.data.convert`` in its own process; its peak memory is the
largest sum of resident memory over its process tree (the converter and its workers), polled every 0.1 s.
The full and the quarter-length episode show whether memory grows with length; the quarter-length one is
also converted with longer keyframe intervals (``--gop``) to show what a keyframe every 2 frames costs in
size and buys in random reads. The reader is timed on random rows (every camera decoded: a training
sample's images) and in order.

``--lerobot-v21 PYTHON`` / ``--lerobot-v30 PYTHON`` (interpreters with LeRobot 0.3.3 / 0.6.1 installed)
also open the video datasets with LeRobot's own ``LeRobotDataset`` and decode the rows (every
``--lerobot-stride``-th; 1 = every frame) with each of its decoders (torchcodec, pyav), which check every
frame against its row's timestamp (1e-4 s); a few frames are compared with this repo's reader.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from dataset_scale_record import CAMERA_HZ, record_session, tree_rss_bytes

from pi0_common.embodiment import load_embodiment
from pi0_policy.data.reader import LeRobotReader

GOPS = (6, 30)  # longer keyframe intervals tried on the quarter-length episode


def embodiment_640(name: str):
    emb = load_embodiment(name)
    return dataclasses.replace(emb, cameras=tuple(dataclasses.replace(c, width=640, height=480) for c in emb.cameras))


def record(out: Path, emb, seconds: float) -> dict:
    """The raw session (full episode, then a quarter) and the compressed one; bags end up in
    out/bags/{raw,compressed}/ and out/short/raw/."""
    raw = record_session(out / "bags/raw", emb, "raw", [seconds, seconds / 4])
    short = Path(raw["episodes"][1]["bag"])
    (out / "short/raw").mkdir(parents=True)
    short.rename(out / "short/raw" / short.name)
    compressed = record_session(out / "bags/compressed", emb, "compressed", [seconds])
    return {"raw": raw, "compressed": compressed}


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
    print(f"recording {args.minutes:g} min of {emb.name} through the recorder: {len(emb.cameras)} cameras 640x480 "
          f"at {CAMERA_HZ} Hz, joint states and commands at {emb.control_rate_hz:g} Hz ...", flush=True)
    results["recording"] = record(out, emb, seconds)
    results["bag"] = {"raw_mb": folder_mb(out / "bags/raw"), "compressed_mb": folder_mb(out / "bags/compressed")}
    runs = {
        "v2.1 video, raw bag": ["bags/raw", "v21_video", "--format", "v2.1"],
        "v3.0 video, raw bag": ["bags/raw", "v30_video", "--format", "v3"],
        "v2.1 video, JPEG bag": ["bags/compressed", "v21_video_jpeg", "--format", "v2.1"],
        "v2.1 images, raw bag": ["bags/raw", "v21_images", "--format", "v2.1", "--images"],
        "v2.1 video, raw bag, 1/4 length": ["short/raw", "v21_video_short", "--format", "v2.1"],
        "v2.1 images, raw bag, 1/4 length": ["short/raw", "v21_images_short", "--format", "v2.1", "--images"],
        **{f"v2.1 video g={g}, raw bag, 1/4 length": ["short/raw", f"v21_video_g{g}", "--format", "v2.1", "--gop",
                                                      str(g)] for g in GOPS},
    }  # fmt: skip
    results["conversions"] = {}
    for name, (bags, dataset, *extra) in runs.items():
        print(f"converting: {name} ...", flush=True)
        r = run_converter([str(out / bags), str(out / dataset), "--embodiment", args.embodiment, *extra])
        n = int(re.search(r"(\d+) frames written", r["output"]).group(1))
        r.update(dataset=dataset, dataset_mb=folder_mb(out / dataset), frames=n, frames_per_s=n / r["seconds"],
                 real_time_factor=(n / emb.control_rate_hz) / r["seconds"])  # fmt: skip
        results["conversions"][name] = r
    print("timing the reader ...", flush=True)
    results["reader"] = {name: time_reader(out / results["conversions"][name]["dataset"], args.reader_seconds)
                         for name in runs if name != "v2.1 video, JPEG bag"}  # fmt: skip
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
    print(f"\n{r['embodiment']}: {r['minutes']:g} min, {r['cameras']} cameras {r['resolution']} at "
          f"{r['camera_hz']} Hz, dataset at {r['fps']:g} fps")  # fmt: skip
    for transport, session in r["recording"].items():
        print(f"\nrecorder, {transport} images: peak memory {session['recorder_peak_mb']:.0f} MB, "
              f"exit code {session['recorder_exit']}")  # fmt: skip
        for ep in session["episodes"]:
            print(f"  episode of {ep['seconds']:g} s: published in {ep['publish_s']:.1f} s ({ep['render_s']:.1f} s "
                  f"rendering), bag {Path(ep['bag']).name}")  # fmt: skip
            header = f"  {'topic':<58}{'offered':>9}{'received':>10}{'lost':>6}{'late':>6}{'written':>9}"
            print(header + "\n  " + "-" * (len(header) - 2))
            for topic, offered in sorted(ep["offered"].items()):
                print(f"  {topic:<58}{offered:>9}{ep['received'].get(topic, 0):>10}{ep['lost'].get(topic, 0):>6}"
                      f"{ep['late'].get(topic, 0):>6}{ep['written'].get(topic, 0):>9}")  # fmt: skip
    b = r["bag"]
    print(f"\nbags: raw {b['raw_mb']:.0f} MB (both episodes), JPEG {b['compressed_mb']:.0f} MB")
    header = f"{'conversion':<38}{'frames':>8}{'s':>8}{'frames/s':>10}{'x real time':>12}{'peak MB':>9}{'MB':>9}"
    print("\n" + header + "\n" + "-" * len(header))
    for name, c in r["conversions"].items():
        print(f"{name:<38}{c['frames']:>8}{c['seconds']:>8.1f}{c['frames_per_s']:>10.1f}{c['real_time_factor']:>12.2f}"
              f"{c['peak_mb']:>9.0f}{c['dataset_mb']:>9.1f}")  # fmt: skip
    conv = r["conversions"]
    ratio = conv["v2.1 video, raw bag"]["dataset_mb"] / conv["v2.1 images, raw bag"]["dataset_mb"]
    print(f"video dataset / image dataset size: {100 * ratio:.1f} % (H.264, crf 30, a keyframe every 2 frames)")
    header = f"{'reader (all cameras per sample)':<38}{'random/s':>10}{'in order/s':>12}{'size':>8}{'random':>8}"
    print("\n" + header + "\n" + f"{'(size and random rate: % of images)':>{len(header)}}" + "\n" + "-" * len(header))
    for name, s in r["reader"].items():
        images = "v2.1 images, raw bag" + (", 1/4 length" if "1/4" in name else "")
        size = 100 * conv[name]["dataset_mb"] / conv[images]["dataset_mb"]
        rate = 100 * s["random"] / r["reader"][images]["random"]
        print(f"{name:<38}{s['random']:>10.1f}{s['in order']:>12.1f}{size:>7.1f}%{rate:>7.0f}%")
    for name, backends in r["lerobot"].items():
        for backend, c in backends.items():
            print(f"{name} ({backend}): " + (f"{c['rows']} of {c['of']} rows decoded at their timestamps in "
                  f"{c['seconds']:.0f} s; frame means within {c['mean_difference']:.3f} of this repo's reader"
                  if c["ok"] else f"FAILED: {c['error']}"))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
