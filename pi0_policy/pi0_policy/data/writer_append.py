"""Appending episodes to a dataset that exists: a writer picks up its episodes, tasks, statistics and
where its files end, and adds new episodes after them (v3.0: in new data and video files; files that
were closed are never reopened). Nothing existing is rewritten until :meth:`finalize` rewrites the
metadata with the old and the new episodes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from . import lerobot_format as lf

CAMERA_DTYPES = ("image", "video")


class AppendError(ValueError):
    """The dataset cannot take these episodes (another version, robot, frame rate or features)."""


def load_existing(writer) -> None:
    """Fill a freshly made writer with the dataset in its root.

    Raises:
        AppendError: no dataset there, or one that differs from the writer's in version, robot, fps,
            features or camera storage (video or images).
    """
    root = writer.root
    info_path = root / "meta" / "info.json"
    if not info_path.is_file():
        raise AppendError(f"{root}: no meta/info.json to append to")
    info = json.loads(info_path.read_text())
    differences = []
    if info.get("codebase_version") != writer.version:
        differences.append(f"version {info.get('codebase_version')} (not {writer.version})")
    if info.get("robot_type") != writer.robot_type:
        differences.append(f"robot {info.get('robot_type')} (not {writer.robot_type})")
    if int(info.get("fps", 0)) != writer.fps:
        differences.append(f"fps {info.get('fps')} (not {writer.fps})")
    old, new = info.get("features", {}), writer.features
    if list(old) != list(new):
        differences.append(f"features {list(old)} (not {list(new)})")
    else:
        for key, ft in new.items():
            shape_differs = ft["dtype"] not in CAMERA_DTYPES and old[key]["shape"] != ft["shape"]
            if old[key]["dtype"] != ft["dtype"] or shape_differs:
                differences.append(f"{key} is {old[key]['dtype']} {old[key]['shape']}")
    if differences:
        raise AppendError(f"{root}: cannot append: the dataset has " + "; ".join(differences))
    for key in writer.camera_keys:  # resolution and video info as the dataset has them
        writer.features[key] = dict(old[key])
    writer.total_frames = int(info["total_frames"])
    if writer.version == lf.V21:
        _load_v21(writer)
    else:
        _load_v30(writer)
    if sum(e["length"] for e in writer.episodes) != writer.total_frames:
        raise AppendError(f"{root}: the episodes' lengths do not add up to total_frames {writer.total_frames}")


def _stats(flat: dict) -> dict:
    return {k: {s: np.asarray(v) for s, v in feat.items()} for k, feat in flat.items()}


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _load_v21(writer) -> None:
    meta = writer.root / "meta"
    writer.tasks = {row["task"]: row["task_index"] for row in sorted(_jsonl(meta / "tasks.jsonl"),
                                                                       key=lambda r: r["task_index"])}  # fmt: skip
    writer.episodes = sorted(_jsonl(meta / "episodes.jsonl"), key=lambda e: e["episode_index"])
    stats = {row["episode_index"]: row["stats"] for row in _jsonl(meta / "episodes_stats.jsonl")}
    writer.episode_stats = [_stats(stats[e["episode_index"]]) for e in writer.episodes]


def _load_v30(writer) -> None:
    from .writer_v3 import next_file

    meta = writer.root / "meta"
    table = pq.read_table(meta / "tasks.parquet")
    writer.tasks = dict(zip(table.column("task").to_pylist(), table.column("task_index").to_pylist(), strict=True))
    rows = []
    for path in sorted((meta / "episodes").glob("chunk-*/file-*.parquet")):
        rows += pq.read_table(path).to_pylist()
    rows.sort(key=lambda r: r["episode_index"])
    writer.episodes, writer.episode_stats = [], []
    for row in rows:
        stats: dict = {}
        for name, value in row.items():
            if name.startswith("stats/"):
                feature, stat = name[len("stats/") :].rsplit("/", 1)
                stats.setdefault(feature, {})[stat] = np.asarray(value)
        writer.episode_stats.append(stats)
        writer.episodes.append({k: v for k, v in row.items() if not k.startswith(("stats/", "meta/episodes/"))})
    if rows:
        last = rows[-1]
        writer._file = next_file(last["data/chunk_index"], last["data/file_index"])
        for key in writer.video_keys:
            writer._videos[key] = (next_file(last[f"videos/{key}/chunk_index"], last[f"videos/{key}/file_index"]),
                                   None)  # fmt: skip
