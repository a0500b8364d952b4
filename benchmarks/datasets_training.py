"""Conversion speed (bags -> LeRobot dataset) and training throughput (samples/s) on this machine.

    .venv/bin/python benchmarks/datasets_training.py                      # synthetic UR5e bags, pi0_tiny + pi0_small
    .venv/bin/python benchmarks/datasets_training.py --bags ~/pi0_demos   # bags from collect_demos / the recorder

Conversion: frames/s and bag MB/s over the whole pipeline (read, align, decode, PNG-encode, write), with the
share of pass 1 (stamps and signals, no pixels). Training: samples/s of full steps (data loading included,
as the trainer logs them) and of the model step alone on a ready batch, so the data-loading share shows.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "test" / "pi0_policy" / "data"))  # the tests' bag writer

from bagmaker import Ur5eEpisode  # noqa: E402

from pi0_common.embodiment import load_embodiment  # noqa: E402
from pi0_policy.data.bag_reader import read_streams  # noqa: E402
from pi0_policy.data.convert import convert, find_bags  # noqa: E402
from pi0_policy.train.config import TrainConfig  # noqa: E402
from pi0_policy.train.loss import batch_to  # noqa: E402
from pi0_policy.train.trainer import Trainer  # noqa: E402


def synthetic_bags(folder: Path, episodes: int, seconds: float, size: int) -> Path:
    """UR5e episodes: two raw cameras of size x size at 30 Hz, joints at 125 Hz, commands at 20 Hz."""
    for i in range(episodes):
        Ur5eEpisode(index=i, duration=seconds, image_shape=(size, size), base_rate=30.0, wrist_transport="raw",
                    base_start=0.005).write(folder / f"ep{i:03d}")  # fmt: skip
    return folder


def bench_conversion(bags: Path, out: Path) -> Path:
    size_mb = sum(f.stat().st_size for f in bags.rglob("*") if f.is_file()) / 2**20
    emb = load_embodiment("ur5e")
    t0 = time.perf_counter()
    for bag in find_bags(bags):
        read_streams(bag, emb)
    pass1 = time.perf_counter() - t0
    result = convert(bags, out, "ur5e", progress=False)
    frames = result.frames
    print(f"conversion: {len(result.converted)} episodes, {frames} frames, {size_mb:.1f} MB of bags in "
          f"{result.seconds:.2f} s: {frames / result.seconds:.0f} frames/s, {size_mb / result.seconds:.1f} MB/s; "
          f"pass 1 (no pixels) {100 * pass1 / result.seconds:.0f}% of the time")  # fmt: skip
    return out


def bench_training(dataset: Path, config: str, batch: int, steps: int, workers: int, out: Path) -> None:
    cfg = TrainConfig(data=[str(dataset)], out=str(out), config=config, steps=steps, batch_size=batch,
                      save_every=10**9, log_every=10**9, workers=workers, ema=0.99)  # fmt: skip
    trainer = Trainer(cfg, progress=False)
    summary = trainer.run()  # its samples/s include data loading (the median after the first step)
    loader_batch = torch.utils.data.default_collate([trainer.datasets[0][i] for i in range(batch)])
    model_times, cpu_times = [], []
    for _ in range(3):
        t, c = time.perf_counter(), time.process_time()
        trainer.train_step(batch_to(loader_batch, trainer.info.device))
        model_times.append(time.perf_counter() - t)
        cpu_times.append(time.process_time() - c)
    model_rate = batch / min(model_times)
    params = sum(p.numel() for p in trainer.model.parameters()) / 1e6
    # On a shared machine the minimum wall time is the least disturbed; CPU time (all threads) does not
    # count the time other jobs held the cores.
    print(f"training {config} ({params:.1f} M params), batch {batch}, {workers} workers: "
          f"{summary['samples_per_s']:.1f} samples/s with data loading (median), model step alone "
          f"{model_rate:.1f} samples/s (best of 3, {min(model_times) * 1e3:.0f} ms), "
          f"{statistics.median(cpu_times) * 1e3 / batch:.0f} CPU-ms per sample")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bags", type=Path, default=None, help="bags to convert (default: synthetic UR5e bags)")
    ap.add_argument("--episodes", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--configs", default="pi0_tiny,pi0_small")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bags = args.bags or synthetic_bags(tmp / "bags", args.episodes, args.seconds, args.image_size)
        dataset = bench_conversion(bags, tmp / "dataset")
        for config in args.configs.split(","):
            bench_training(dataset, config, args.batch, args.steps, args.workers, tmp / f"run_{config}")


if __name__ == "__main__":
    main()
