"""Convert teleoperation bags (one rosbag2 folder per episode) into a LeRobotDataset for training.

    python -m pi0_policy.data.convert BAGS_DIR OUT_DIR --embodiment ur5e [--format v2.1|v3] [--fps N]
        [--images | --vcodec h264|hevc|libsvtav1] [--workers N] [--resume] [--append]
        [--mapping MAPPING.yaml [--task TEXT] [--episodes bag|window:SECONDS|topic:NAME]]

Writes LeRobotDataset v2.1 (what openpi trains on) by default, v3.0 with ``--format v3`` (LeRobot >= 0.4),
resampled to the embodiment's control rate, cameras as MP4 video laid out as LeRobot lays it out (H.264 by
default; ``--images`` stores PNG images inside the parquet files instead). Also writes
``OUT_DIR/norm_stats.json`` (openpi's format, over state and actions) and ``meta/pi0_ros.json`` (the
embodiment, the video settings, each episode's source bag and every skipped bag with the reason). A corrupt,
truncated or incomplete bag is reported and skipped; the exit status is non-zero only when no episode
converted.

Episodes convert in parallel worker processes (``--workers``, one per core by default), each streaming its
bag (memory does not grow with the episode's length); an interrupted conversion is finished by running the
same command with ``--resume`` (finished episodes are kept). ``--append`` adds episodes to an existing
dataset. Bags the suite did not record convert through a mapping file (:mod:`.mapping`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from pi0_common.embodiment import EmbodimentError, load_embodiment

from ..normalize import compute_norm_stats, save_norm_stats
from . import lerobot_format as lf
from .convert_jobs import STAGES_DIR, Job, default_workers, run_jobs, stage_folder
from .mapping import Mapping, MappingError, load_mapping
from .reader import CONVERSION_FILE
from .video_encode import CODECS, VideoError, VideoSettings
from .writer import AppendError, EpisodeError, open_writer

NORM_STATS_FILE = "norm_stats.json"
SETTINGS_FILE = "settings.json"
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
            data_file_size_mb: float | None = None, video: bool = True, video_settings: VideoSettings | None = None,
            workers: int | None = None, resume: bool = False, mapping: str | Path | Mapping | None = None,
            task: str | None = None, episodes: str | None = None, append: bool = False) -> ConversionResult:
    """Convert every episode bag under ``bags_dir`` into one dataset in ``out_dir``.

    Args:
        bags_dir: a bag folder, or a folder of bag folders (one per episode).
        out_dir: created; must be new or empty (or hold an interrupted conversion, with ``resume``, or a
            dataset, with ``append``).
        embodiment: embodiment name or YAML path (joint names, cameras, control rate, norm-stats asset).
        fmt: "v2.1" (openpi) or "v3" (LeRobot >= 0.4).
        fps: frames per second; the embodiment's control rate when None.
        cameras: camera slots to include; all of the embodiment's when None.
        namespace: the recorded stack's namespace; found from the episode-event topic when None.
        progress: show a progress bar (frames, frames/s, episodes done).
        data_file_size_mb: v3 only, the size at which a new data file is started.
        video: cameras as MP4 video (LeRobot's default); False: PNG images inside the parquet files.
        video_settings: codec and its options (H.264 with libx264, g=2, crf=30 when None).
        workers: episodes converted at once, each in its own process (one per core when None).
        resume: finish a conversion into ``out_dir`` that was interrupted: its finished episodes are kept.
        mapping: for bags the suite did not record: a mapping file (:mod:`.mapping`) naming the topics of the
            user's stack; its cameras are the dataset's (those in ``cameras`` when given).
        task, episodes: with a mapping, override its task (the text) and its episodes
            ("bag", "window:SECONDS" or "topic:NAME").
        append: add the episodes to the dataset in ``out_dir`` (same version, robot, fps, cameras); its
            statistics and norm stats then cover old and new episodes.

    Returns:
        The per-bag reports and totals.
    """
    t0 = time.perf_counter()
    emb = load_embodiment(embodiment)
    fps = fps if fps is not None else emb.control_rate_hz
    if float(fps) != int(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive integer (LeRobot stores it as one), got {fps}")
    fps = int(fps)
    if mapping is not None:
        mapping = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
        mapping = mapping.with_overrides(task, episodes)
        unknown = sorted(set(mapping.cameras) - set(emb.camera_slots))
        if unknown:
            raise ValueError(f"{mapping.source}: camera slot(s) {unknown} are not {emb.name}'s ({emb.camera_slots})")
    elif task or episodes:
        raise ValueError("--task and --episodes go with a mapping file (--mapping)")
    slots = tuple(c.slot for c in emb.cameras if (cameras is None or c.slot in cameras)
                  and (mapping is None or c.slot in mapping.cameras))  # fmt: skip
    if cameras is not None and set(cameras) - set(slots):
        unknown = sorted(set(cameras) - set(slots))
        raise ValueError(f"{emb.name} has no camera slot(s) {unknown}; it has {emb.camera_slots}")
    by_slot = {c.slot: c for c in emb.cameras}
    features = lf.build_features(emb.dim_names, {
        s: {"shape": None, "topic": by_slot[s].topic, "transport": by_slot[s].transport} for s in slots}, video)
    bags = find_bags(bags_dir)
    out = Path(out_dir)
    workers = workers or default_workers(len(bags))
    settings = {"embodiment": emb.name, "format": lf.FORMATS.get(fmt, fmt), "fps": fps, "cameras": list(slots),
                "namespace": namespace, "video": (video_settings or VideoSettings()).info_fields() if video else None,
                "mapping": dataclasses.asdict(mapping) if mapping is not None else None, "append": append}
    settings = json.loads(json.dumps(settings))  # as it reads back from the file
    resuming = _check_out_dir(out, settings, resume, append)
    kwargs = {"data_file_size_mb": data_file_size_mb} if data_file_size_mb and lf.FORMATS.get(fmt) == lf.V30 else {}
    if video:
        kwargs["video"] = _with_threads(video_settings or VideoSettings(), workers)
    before = json.loads((out / CONVERSION_FILE).read_text()) if append and (out / CONVERSION_FILE).is_file() else {}
    writer = open_writer(fmt, out, fps, emb.name, features, restart=resuming and not append, append=append, **kwargs)
    (out / STAGES_DIR).mkdir(exist_ok=True)
    (out / STAGES_DIR / SETTINGS_FILE).write_text(json.dumps(settings))
    jobs = [Job(str(bag), str(stage_folder(out, bag)), str(embodiment), fps, slots, namespace, writer.spec, mapping)
            for bag in bags]  # fmt: skip
    reports = []

    def add(job, report: dict) -> None:
        if not report["ok"]:
            reports.append(EpisodeReport(bag=report["bag"], ok=False, error=report.get("error", "")))
            return
        for part in report["episodes"]:
            r = EpisodeReport(**{k: v for k, v in part.items() if k != "stage"})
            if r.ok:
                try:
                    r.episode_index = writer.add_staged(part["stage"])
                except EpisodeError as e:
                    r.ok, r.error = False, str(e)
            reports.append(r)

    run_jobs(jobs, add, workers, progress)
    writer.finalize()
    _write_norm_stats(out)
    meta = {"embodiment": emb.name, "norm_stats_asset": emb.norm_stats_asset, "fps": fps,
            "valid_dims": emb.valid_dims, "dim_names": emb.dim_names, "camera_slots": list(slots),
            "video": writer.video.info_fields() if video else None,
            "episodes": before.get("episodes", []) + [_asdict(r) for r in reports if r.ok],
            "skipped": before.get("skipped", []) + [_asdict(r) for r in reports if not r.ok]}  # fmt: skip
    (out / CONVERSION_FILE).write_text(json.dumps(meta, indent=2))
    shutil.rmtree(out / STAGES_DIR, ignore_errors=True)  # the dataset is complete: nothing left to resume
    return ConversionResult(out, reports, sum(r.frames for r in reports if r.ok), time.perf_counter() - t0)


def _check_out_dir(out: Path, settings: dict, resume: bool, append: bool) -> bool:
    """Whether the output folder holds an interrupted conversion to resume; else it must be new or empty,
    or hold a dataset when appending.

    Raises:
        FileExistsError: a non-empty folder, an interrupted conversion without ``resume``, or one started
            with other settings.
    """
    saved = out / STAGES_DIR / SETTINGS_FILE
    if saved.is_file():
        before = json.loads(saved.read_text())
        if not resume:
            raise FileExistsError(f"{out} holds an interrupted conversion; add --resume to finish it")
        if before != settings:
            changed = sorted(k for k in settings if before.get(k) != settings[k])
            raise FileExistsError(f"{out}: the interrupted conversion used other settings ({', '.join(changed)})")
        return True
    if append:
        if not (out / "meta" / "info.json").is_file():
            raise FileNotFoundError(f"{out}: no dataset to append to (no meta/info.json)")
    elif out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty; choose a new output folder (or --append)")
    return False


def _write_norm_stats(out: Path) -> None:
    """openpi's norm stats over every row of the dataset (old and new ones when appending)."""
    states, actions = [], []
    for path in sorted((out / "data").rglob("*.parquet")):
        table = pq.read_table(path, columns=[lf.STATE_KEY, lf.ACTION_KEY])
        states.append(_matrix(table.column(lf.STATE_KEY)))
        actions.append(_matrix(table.column(lf.ACTION_KEY)))
    if states:
        save_norm_stats(out / NORM_STATS_FILE, {"state": compute_norm_stats(np.concatenate(states)),
                                                 "actions": compute_norm_stats(np.concatenate(actions))})


def _with_threads(settings: VideoSettings, workers: int) -> VideoSettings:
    """The encoder's threads: the cores shared among the workers, unless set."""
    if settings.threads:
        return settings
    return dataclasses.replace(settings, threads=max(1, (os.cpu_count() or 1) // workers))


def _matrix(column) -> np.ndarray:
    column = column.combine_chunks()
    return column.flatten().to_numpy().reshape(len(column), -1)


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
    p.add_argument("--images", action="store_true", help="cameras as PNG images in the parquet files, not video")
    p.add_argument("--vcodec", default="h264", choices=sorted(CODECS),
                   help="video codec: h264 (libx264, default), hevc (libx265) or libsvtav1 (AV1; see video_encode)")
    p.add_argument("--crf", type=int, default=30, help="video quality: lower is better and larger (default 30)")
    p.add_argument("--gop", type=int, default=2, help="frames between keyframes (default 2, as LeRobot)")
    p.add_argument("--workers", type=int, default=None, help="episodes converted at once (default: one per core)")
    p.add_argument("--resume", action="store_true", help="finish an interrupted conversion into OUT_DIR")
    p.add_argument("--append", action="store_true", help="add the episodes to the dataset in OUT_DIR")
    p.add_argument("--mapping", default=None,
                   help="bags the suite did not record: a YAML file naming your topics (pi0_policy.data.mapping)")
    p.add_argument("--task", default=None, help="with --mapping: the task of every episode")
    p.add_argument("--episodes", default=None,
                   help="with --mapping: bag (the whole bag), window:SECONDS or topic:NAME (start/stop messages)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    cameras = tuple(c.strip() for c in args.cameras.split(",")) if args.cameras else None
    try:
        settings = None if args.images else VideoSettings(args.vcodec, crf=args.crf, g=args.gop)
        result = convert(args.bags_dir, args.out_dir, args.embodiment, args.format, args.fps, cameras,
                         args.namespace, progress=not args.no_progress, video=not args.images,
                         video_settings=settings, workers=args.workers, resume=args.resume, mapping=args.mapping,
                         task=args.task, episodes=args.episodes, append=args.append)
    except (FileNotFoundError, FileExistsError, ValueError, EmbodimentError, VideoError, MappingError,
            AppendError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print_report(result)
    return 0 if result.converted else 1


if __name__ == "__main__":
    sys.exit(main())
