"""Convert teleoperation bags (one rosbag2 folder per episode) into a LeRobotDataset for training.

    python -m pi0_policy.data.convert BAGS_DIR OUT_DIR --embodiment ur5e [--format v2.1|v3] [--fps N]

Writes LeRobotDataset v2.1 (what openpi trains on) by default, v3.0 with ``--format v3`` (LeRobot >= 0.4),
camera frames as PNG images inside the parquet files, resampled to the embodiment's control rate. Also
writes ``OUT_DIR/norm_stats.json`` (openpi's format, over state and actions) and ``meta/pi0_ros.json``
(the embodiment, each episode's source bag and every skipped bag with the reason). A corrupt, truncated or
incomplete bag is reported and skipped; the exit status is non-zero only when no episode converted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pi0_common.embodiment import EmbodimentError, load_embodiment

from ..normalize import compute_norm_stats, save_norm_stats
from . import lerobot_format as lf
from .bag_reader import BagError
from .episode import load_episode
from .reader import CONVERSION_FILE
from .writer import EpisodeError, open_writer

NORM_STATS_FILE = "norm_stats.json"
BAG_FILES = ("metadata.yaml", "*.mcap", "*.db3")


@dataclass
class EpisodeReport:
    """Outcome for one bag."""

    bag: str
    ok: bool
    episode_index: int | None = None
    frames: int = 0
    task: str = ""
    error: str = ""
    warnings: list[str] = field(default_factory=list)
    source: dict = field(default_factory=dict)


@dataclass
class ConversionResult:
    """What :func:`convert` did."""

    out_dir: Path
    reports: list[EpisodeReport]
    frames: int
    seconds: float

    @property
    def converted(self) -> list[EpisodeReport]:
        """Reports of the episodes written."""
        return [r for r in self.reports if r.ok]

    @property
    def skipped(self) -> list[EpisodeReport]:
        """Reports of the bags skipped."""
        return [r for r in self.reports if not r.ok]


def find_bags(folder: str | Path) -> list[Path]:
    """Episode bag folders: ``folder`` itself if it is a bag, else its sub-folders that hold bag files
    (with or without metadata.yaml: a bag missing it is reported, not silently ignored), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"bags folder not found: {folder}")

    def is_bag(p: Path) -> bool:
        return any(any(p.glob(pattern)) for pattern in BAG_FILES)

    if is_bag(folder):
        return [folder]
    return sorted(p for p in folder.iterdir() if p.is_dir() and is_bag(p))


def convert(bags_dir: str | Path, out_dir: str | Path, embodiment: str, fmt: str = "v2.1", fps: int | None = None,
            cameras: tuple[str, ...] | None = None, namespace: str | None = None, progress: bool = True,
            data_file_size_mb: float | None = None) -> ConversionResult:
    """Convert every episode bag under ``bags_dir`` into one dataset in ``out_dir``.

    Args:
        bags_dir: a bag folder, or a folder of bag folders (one per episode).
        out_dir: created; must be new or empty.
        embodiment: embodiment name or YAML path (joint names, cameras, control rate, norm-stats asset).
        fmt: "v2.1" (openpi) or "v3" (LeRobot >= 0.4).
        fps: frames per second; the embodiment's control rate when None.
        cameras: camera slots to include; all of the embodiment's when None.
        namespace: the recorded stack's namespace; found from the episode-event topic when None.
        progress: show a tqdm bar.
        data_file_size_mb: v3 only, the size at which a new data file is started.

    Returns:
        The per-bag reports and totals.
    """
    t0 = time.perf_counter()
    emb = load_embodiment(embodiment)
    fps = fps if fps is not None else emb.control_rate_hz
    if float(fps) != int(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive integer (LeRobot stores it as one), got {fps}")
    fps = int(fps)
    slots = tuple(c.slot for c in emb.cameras if cameras is None or c.slot in cameras)
    if cameras is not None and set(cameras) - set(slots):
        unknown = sorted(set(cameras) - set(slots))
        raise ValueError(f"{emb.name} has no camera slot(s) {unknown}; it has {emb.camera_slots}")
    by_slot = {c.slot: c for c in emb.cameras}
    features = lf.build_features(emb.dim_names, {
        s: {"shape": None, "topic": by_slot[s].topic, "transport": by_slot[s].transport} for s in slots})
    kwargs = {"data_file_size_mb": data_file_size_mb} if data_file_size_mb and lf.FORMATS.get(fmt) == lf.V30 else {}
    writer = open_writer(fmt, out_dir, fps, emb.name, features, **kwargs)
    bags = find_bags(bags_dir)
    reports, states, actions = [], [], []
    for bag in tqdm(bags, desc="episodes", unit="bag", disable=not progress):
        report = EpisodeReport(bag=str(bag), ok=False)
        try:
            episode = load_episode(bag, emb, fps, slots, namespace)
            report.episode_index = writer.add_episode(episode.to_episode_data())
        except (BagError, EpisodeError) as e:
            report.error = str(e)
            reports.append(report)
            continue
        s = episode.streams
        report.ok, report.frames, report.task, report.warnings = True, episode.length, s.task, episode.warnings
        report.source = {"source_episode_index": s.source_episode_index, "success": s.success,
                         "start_ns": s.start_ns, "stop_ns": s.stop_ns, "namespace": s.namespace,
                         "dropped_leading_frames": episode.dropped,
                         "camera_topics": {k: v.topic for k, v in s.images.items()}}  # fmt: skip
        states.append(episode.state)
        actions.append(episode.action)
        reports.append(report)
    writer.finalize()
    out = Path(out_dir)
    if states:
        save_norm_stats(out / NORM_STATS_FILE, {"state": compute_norm_stats(np.concatenate(states)),
                                                 "actions": compute_norm_stats(np.concatenate(actions))})
    meta = {"embodiment": emb.name, "norm_stats_asset": emb.norm_stats_asset, "fps": fps,
            "valid_dims": emb.valid_dims, "dim_names": emb.dim_names, "camera_slots": list(slots),
            "episodes": [_asdict(r) for r in reports if r.ok], "skipped": [_asdict(r) for r in reports if not r.ok]}
    (out / CONVERSION_FILE).write_text(json.dumps(meta, indent=2))
    return ConversionResult(out, reports, sum(r.frames for r in reports), time.perf_counter() - t0)


def _asdict(report: EpisodeReport) -> dict:
    return {k: v for k, v in report.__dict__.items() if v not in (None, "", [], {})}


def print_report(result: ConversionResult, file=None) -> None:
    """A per-episode summary, skipped bags with their reason (to stdout by default)."""
    file = file or sys.stdout
    for r in result.reports:
        if r.ok:
            note = f"; warnings: {'; '.join(r.warnings)}" if r.warnings else ""
            print(f"  ok       episode {r.episode_index:4d}  {r.frames:6d} frames  {Path(r.bag).name}  "
                  f"task {r.task!r}{note}", file=file)  # fmt: skip
        else:
            print(f"  SKIPPED  {Path(r.bag).name}: {r.error}", file=file)
    rate = result.frames / result.seconds if result.seconds > 0 else 0.0
    print(f"{len(result.converted)} episode(s), {result.frames} frames written to {result.out_dir} "
          f"({len(result.skipped)} skipped) in {result.seconds:.1f} s ({rate:.0f} frames/s)", file=file)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(prog="python -m pi0_policy.data.convert", description=__doc__.split("\n")[0])
    p.add_argument("bags_dir", help="a folder of episode bags (one rosbag2 folder per episode) or one bag")
    p.add_argument("out_dir", help="the dataset folder to create (new or empty)")
    p.add_argument("--embodiment", required=True, help="embodiment name (e.g. ur5e) or YAML file")
    p.add_argument("--format", default="v2.1", choices=["v2.1", "v3"],
                   help="v2.1: LeRobotDataset v2.1 as openpi reads (default); v3: LeRobotDataset v3.0 (LeRobot >= 0.4)")
    p.add_argument("--fps", type=int, default=None, help="frame rate (default: the embodiment's control rate)")
    p.add_argument("--cameras", default=None, help="comma-separated camera slots to include (default: all)")
    p.add_argument("--namespace", default=None, help="the recorded stack's namespace (default: detected)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    cameras = tuple(c.strip() for c in args.cameras.split(",")) if args.cameras else None
    try:
        result = convert(args.bags_dir, args.out_dir, args.embodiment, args.format, args.fps, cameras,
                         args.namespace, progress=not args.no_progress)
    except (FileNotFoundError, FileExistsError, ValueError, EmbodimentError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print_report(result)
    return 0 if result.converted else 1


if __name__ == "__main__":
    sys.exit(main())
