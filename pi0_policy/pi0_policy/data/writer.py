"""Writers of LeRobotDataset v2.1 (default: what openpi trains on) and v3.0 (LeRobot >= 0.4).

An episode is first staged on its own (:mod:`.stage`: data rows, videos, statistics; in a worker process
when the converter runs in parallel), then added here in episode order: the writer gives it its episode,
row and task indices and puts its files where the format wants them. A stage is only read, never consumed,
so a conversion interrupted at any point is finished again from its stages.

* v2.1: ``data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet``,
  ``videos/chunk-{episode_chunk:03d}/<key>/episode_{episode_index:06d}.mp4`` and ``meta/episodes.jsonl``,
  ``meta/episodes_stats.jsonl``, ``meta/tasks.jsonl``;
* v3.0: rows appended to the open ``data/chunk-XXX/file-XXX.parquet`` and each camera's video appended to
  the open ``videos/<key>/chunk-XXX/file-XXX.mp4`` (new files once the size limits are passed), episode rows
  (with each video's ``from_timestamp``/``to_timestamp``) for ``meta/episodes/chunk-000/file-000.parquet``.

:meth:`finalize` closes every file (a parquet file without its footer or an MP4 without its index cannot
be read) and writes ``meta/info.json`` (with the codec metadata of each video feature), the task table and
the statistics. Rows are in episode order with a global ``index`` equal to the row position.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import lerobot_format as lf
from .stage import DATA_FILE, EpisodeData, EpisodeError, StageSpec, read_stage, stage_episode
from .video_encode import VideoSettings, video_info
from .writer_append import AppendError, load_existing

__all__ = ["AppendError", "EpisodeData", "EpisodeError", "LeRobotWriter", "V21Writer", "open_writer"]
OUTPUT_DIRS = ("data", "videos", "meta")


class LeRobotWriter:
    """Common part: features, indices, statistics, tasks. Use :func:`open_writer`."""

    version = ""

    def __init__(self, root: str | Path, fps: int, robot_type: str, features: dict[str, dict],
                 video: VideoSettings | None = None, restart: bool = False, append: bool = False):
        """Open a dataset for writing.

        Args:
            root: the dataset folder; new or empty, unless ``restart``.
            video: encoder settings for the features of dtype "video" (LeRobot's defaults when None).
            restart: start the dataset again in a folder that holds one: its data, videos and meta folders
                are removed (anything else, such as a converter's stages, is kept).
            append: add episodes after those of the dataset in ``root`` (see :mod:`.writer_append`; done by
                :func:`open_writer`).
        """
        self.root = Path(root)
        if restart:
            for name in OUTPUT_DIRS:
                shutil.rmtree(self.root / name, ignore_errors=True)
        elif not append and self.root.exists() and any(self.root.iterdir()):
            raise FileExistsError(f"{self.root} exists and is not empty; choose a new output folder")
        if int(fps) != fps or fps <= 0:
            raise ValueError(f"LeRobot datasets need a positive integer fps, got {fps}")
        self.root.mkdir(parents=True, exist_ok=True)
        self.fps, self.robot_type = int(fps), robot_type
        self.features = {k: dict(v) for k, v in features.items()}
        self.camera_keys = [k for k, ft in features.items() if ft["dtype"] in ("image", "video")]
        self.video_keys = [k for k, ft in features.items() if ft["dtype"] == "video"]
        self.video = video or (VideoSettings() if self.video_keys else None)
        self.schema = lf.data_schema(self.features, self.version)
        self.tasks: dict[str, int] = {}
        self.episodes: list[dict] = []  # episode_index, tasks, length (+ format specifics)
        self.episode_stats: list[dict] = []
        self.total_frames = 0
        self._first_video: dict[str, Path] = {}
        self._finalized = False

    @property
    def spec(self) -> StageSpec:
        """What staging an episode for this dataset needs."""
        return StageSpec(self.version, self.fps, self.features, self.video)

    # ----------------------------------------------------------------------------------------------

    def add_episode(self, episode: EpisodeData) -> int:
        """Stage and add one episode; returns its episode_index.

        Raises:
            EpisodeError: inconsistent sizes or image shapes (the dataset is unchanged).
        """
        self._check_open()
        folder = Path(tempfile.mkdtemp(prefix=".stage_", dir=self.root))
        try:
            stage_episode(self.spec, episode, folder)
            return self.add_staged(folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def add_staged(self, folder: str | Path) -> int:
        """Add a staged episode (:func:`.stage.stage_episode`); returns its episode_index. The stage is
        left as it is.

        Raises:
            EpisodeError: the stage is unfinished or its cameras do not match the dataset's resolution.
        """
        self._check_open()
        folder = Path(folder)
        meta = read_stage(folder)
        if meta is None:
            raise EpisodeError(f"{folder}: not a finished episode stage")
        for key, shape in meta["shapes"].items():
            declared = self.features[key]["shape"]
            if declared is not None and list(declared) != list(shape):
                raise EpisodeError(f"{key}: {list(shape)[:2]} pixels, the dataset has {list(declared)[:2]}")
        for key, shape in meta["shapes"].items():
            self.features[key]["shape"] = list(shape)  # the first episode fixes each camera's resolution
        n, index, task = int(meta["length"]), len(self.episodes), meta["task"]
        task_index = self.tasks.setdefault(task, len(self.tasks))
        indices = {"episode_index": np.full(n, index, np.int64),
                   "index": self.total_frames + np.arange(n, dtype=np.int64),
                   "task_index": np.full(n, task_index, np.int64)}  # fmt: skip
        episode = {"episode_index": index, "tasks": [task], "length": n}
        episode.update(self._write_rows(folder / DATA_FILE, indices, index, n))
        for key in self.video_keys:
            path = folder / f"{key}.mp4"
            episode.update(self._write_video(key, path, index, n))
        stats = {k: {s: np.asarray(v) for s, v in feat.items()} for k, feat in meta["stats"].items()}
        for key, values in indices.items():
            stats[key] = lf.feature_stats(values, self.version == lf.V30)
        self.episodes.append(episode)
        self.episode_stats.append({k: stats[k] for k in self.features if k in stats})
        self.total_frames += n
        return index

    def _rows(self, path: Path, indices: dict[str, np.ndarray]):
        """The staged row groups with the real index columns, in the dataset's schema."""
        source = pq.ParquetFile(path)
        offset = 0
        try:
            for group in range(source.num_row_groups):
                table = source.read_row_group(group)
                rows = slice(offset, offset + table.num_rows)
                for name, values in indices.items():
                    i = table.schema.get_field_index(name)
                    table = table.set_column(i, table.schema.field(i), pa.array(values[rows], pa.int64()))
                offset += table.num_rows
                yield table.replace_schema_metadata(self.schema.metadata)
        finally:
            source.close()

    def _check_open(self) -> None:
        if self._finalized:
            raise RuntimeError("the writer is finalized")

    # ----------------------------------------------------------------------------------------------

    def finalize(self) -> None:
        """Close files and write the metadata; idempotent. Nothing is readable before this."""
        if self._finalized:
            return
        self._close_files()
        meta = self.root / "meta"
        meta.mkdir(exist_ok=True)
        self._write_meta()
        stats = lf.aggregate_stats(self.episode_stats) if self.episode_stats else {}
        (meta / "stats.json").write_text(json.dumps(lf.to_json_stats(stats), indent=4))
        _write_json(meta / "info.json", self._info())
        self._finalized = True

    def _info(self) -> dict:
        features = {k: dict(v) for k, v in self.features.items()}
        for key in self.camera_keys:
            if features[key]["shape"] is None:  # no episode written: declare the camera without a resolution
                features[key]["shape"] = [0, 0, 3]
        for key, path in self._first_video.items():
            if path.is_file():  # LeRobot records what it probes from the first episode's video
                features[key]["info"] = {**video_info(path, self.video, self.version),
                                         **features[key].get("info", {})}  # fmt: skip
        return {
            "codebase_version": self.version, "robot_type": self.robot_type,
            "total_episodes": len(self.episodes), "total_frames": self.total_frames, "total_tasks": len(self.tasks),
            **self._info_extra(), "fps": self.fps,
            "splits": {"train": f"0:{len(self.episodes)}"} if self.episodes else {},
            "data_path": self.DATA_PATH, "video_path": self.VIDEO_PATH if self.video_keys else None,
            "features": features,
        }  # fmt: skip

    # format-specific parts
    DATA_PATH = VIDEO_PATH = ""

    def _write_rows(self, path: Path, indices: dict, index: int, n: int) -> dict:
        raise NotImplementedError

    def _write_video(self, key: str, path: Path, index: int, n: int) -> dict:
        raise NotImplementedError

    def _close_files(self) -> None:
        pass

    def _write_meta(self) -> None:
        raise NotImplementedError

    def _info_extra(self) -> dict:
        raise NotImplementedError


class V21Writer(LeRobotWriter):
    """LeRobotDataset v2.1: one parquet file and one video per camera per episode, jsonl metadata."""

    version = lf.V21
    DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
    VIDEO_PATH = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"

    def _write_rows(self, path: Path, indices: dict, index: int, n: int) -> dict:
        target = self.root / self.DATA_PATH.format(episode_chunk=index // lf.CHUNKS_SIZE, episode_index=index)
        target.parent.mkdir(parents=True, exist_ok=True)
        with pq.ParquetWriter(target, self.schema, compression="snappy") as writer:
            for table in self._rows(path, indices):
                writer.write_table(table)
        return {}

    def _write_video(self, key: str, path: Path, index: int, n: int) -> dict:
        target = self.root / self.VIDEO_PATH.format(episode_chunk=index // lf.CHUNKS_SIZE, video_key=key,
                                                    episode_index=index)  # fmt: skip
        target.parent.mkdir(parents=True, exist_ok=True)
        _link_or_copy(path, target)
        self._first_video.setdefault(key, target)
        return {}

    def _write_meta(self) -> None:
        meta = self.root / "meta"
        _write_jsonl(meta / "episodes.jsonl", self.episodes)
        _write_jsonl(meta / "tasks.jsonl", [{"task_index": i, "task": t} for t, i in self.tasks.items()])
        _write_jsonl(meta / "episodes_stats.jsonl",
                     [{"episode_index": i, "stats": lf.to_json_stats(s)} for i, s in enumerate(self.episode_stats)])

    def _info_extra(self) -> dict:
        chunks = (len(self.episodes) - 1) // lf.CHUNKS_SIZE + 1 if self.episodes else 0
        return {"total_videos": len(self.episodes) * len(self.video_keys), "total_chunks": chunks,
                "chunks_size": lf.CHUNKS_SIZE}  # fmt: skip


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link where the file system allows one (the stage stays intact at no cost), else a copy."""
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _write_json(path: Path, value: dict) -> None:
    path.write_text(json.dumps(value, indent=4))


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def open_writer(version: str, root: str | Path, fps: int, robot_type: str, features: dict[str, dict],
                **kwargs) -> LeRobotWriter:
    """A writer for "v2.1" or "v3" ("v3.0"); keyword arguments go to the writer (``video``, ``restart``,
    ``append``, ``data_file_size_mb`` and ``video_file_size_mb`` for v3.0).

    Raises:
        AppendError: with ``append``, a dataset that differs in version, robot, fps or features.
    """
    if version not in lf.FORMATS:
        raise ValueError(f"unknown dataset format {version!r}; choose v2.1 or v3")
    from .writer_v3 import V3Writer  # it builds on this module

    cls = V21Writer if lf.FORMATS[version] == lf.V21 else V3Writer
    writer = cls(root, fps, robot_type, features, **kwargs)
    if kwargs.get("append"):
        load_existing(writer)
    return writer
