"""Writers of LeRobotDataset v2.1 (default: what openpi trains on) and v3.0 (LeRobot >= 0.4).

Both stream an episode frame by frame into a temporary parquet file, so that an episode that fails half way
(an undecodable camera frame) leaves nothing behind, and memory holds one row group of images at a time.
Only a complete episode is committed:

* v2.1 moves the file to ``data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet`` and appends
  to ``meta/episodes.jsonl``, ``meta/episodes_stats.jsonl`` and ``meta/tasks.jsonl`` at :meth:`finalize`;
* v3.0 appends the episode's row groups to the open ``data/chunk-XXX/file-XXX.parquet`` (a new file once
  the size limit is reached) and keeps episode rows for ``meta/episodes/chunk-000/file-000.parquet``.

:meth:`finalize` closes every parquet writer (without it a parquet file has no footer and cannot be read)
and writes ``meta/info.json``, the task table and the statistics. Rows are written in episode order with a
global ``index`` that equals the row position; task and episode tables are ordered by their index.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from . import lerobot_format as lf

ROWS_PER_GROUP = 64  # frames buffered (as PNG) before a row group is written


class EpisodeError(ValueError):
    """An episode that does not fit the dataset (e.g. a camera changed resolution); it is not written."""


@dataclass
class EpisodeData:
    """One aligned episode.

    Attributes:
        task: the language instruction.
        state, action: float32 [N, d].
        frames: N items, each slot -> (source frame id, uint8 RGB [H, W, 3]); equal ids within a slot are
            the same image (a camera slower than the frame rate) and are encoded once.
    """

    task: str
    state: np.ndarray
    action: np.ndarray
    frames: Iterable[dict[str, tuple[int, np.ndarray]]]


def encode_png(rgb: np.ndarray) -> bytes:
    """Lossless PNG (LeRobot writes its image frames with compress_level=1 too)."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


class LeRobotWriter:
    """Common part: features, temporary episode files, statistics, tasks. Use :func:`open_writer`."""

    version = ""

    def __init__(self, root: str | Path, fps: int, robot_type: str, features: dict[str, dict]):
        self.root = Path(root)
        if self.root.exists() and any(self.root.iterdir()):
            raise FileExistsError(f"{self.root} exists and is not empty; choose a new output folder")
        if int(fps) != fps or fps <= 0:
            raise ValueError(f"LeRobot datasets need a positive integer fps, got {fps}")
        self.root.mkdir(parents=True, exist_ok=True)
        self.fps, self.robot_type, self.features = int(fps), robot_type, features
        self.image_keys = [k for k, ft in features.items() if ft["dtype"] == "image"]
        self.schema = lf.data_schema(features, self.version)
        self.tasks: dict[str, int] = {}
        self.episodes: list[dict] = []  # episode_index, tasks, length (+ format specifics)
        self.episode_stats: list[dict] = []
        self.total_frames = 0
        self._tmp = self.root / ".tmp_episode.parquet"
        self._finalized = False

    # ----------------------------------------------------------------------------------------------

    def add_episode(self, episode: EpisodeData) -> int:
        """Write one episode; returns its episode_index.

        Raises:
            EpisodeError: inconsistent sizes or image shapes (the dataset is unchanged).
        """
        if self._finalized:
            raise RuntimeError("the writer is finalized")
        n, d = episode.state.shape
        expected = self.features[lf.STATE_KEY]["shape"][0]
        if episode.action.shape != (n, d) or d != expected or n == 0:
            raise EpisodeError(f"state {episode.state.shape} / action {episode.action.shape}: "
                               f"expected [N>0, {expected}]")
        index = len(self.episodes)
        task_index = self.tasks.get(episode.task, len(self.tasks))
        columns = {
            lf.STATE_KEY: episode.state.astype(np.float32), lf.ACTION_KEY: episode.action.astype(np.float32),
            "timestamp": (np.arange(n) / self.fps).astype(np.float32), "frame_index": np.arange(n, dtype=np.int64),
            "episode_index": np.full(n, index, np.int64), "index": self.total_frames + np.arange(n, dtype=np.int64),
            "task_index": np.full(n, task_index, np.int64),
        }  # fmt: skip
        try:
            sampled = self._write_tmp(columns, episode.frames, n)
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise
        stats = {k: lf.feature_stats(v, self.version == lf.V30) for k, v in columns.items()}
        for key in self.image_keys:
            stats[key] = lf.image_stats(np.stack(sampled[key]), self.version == lf.V30)
        self.tasks.setdefault(episode.task, task_index)
        self._commit(index, n)
        self.episodes.append({"episode_index": index, "tasks": [episode.task], "length": n})
        self.episode_stats.append(stats)
        self.total_frames += n
        return index

    def _write_tmp(self, columns: dict[str, np.ndarray], frames: Iterable, n: int) -> dict[str, list]:
        """Stream rows into the temporary file; returns the downsampled images sampled for statistics."""
        sample_at = set(lf.image_sample_indices(n))
        sampled = {k: [] for k in self.image_keys}
        last_png: dict[str, tuple[int, bytes]] = {}
        pending: dict[str, list] = {k: [] for k in self.image_keys}
        start, count = 0, 0
        with pq.ParquetWriter(self._tmp, self.schema, compression="snappy") as writer:
            for frame in _limit(frames, n):
                for key in self.image_keys:
                    slot = key[len(lf.IMAGE_PREFIX) :]
                    if slot not in frame:
                        raise EpisodeError(f"frame {count}: no image for camera {slot!r}")
                    source, rgb = frame[slot]
                    self._check_shape(key, rgb, count)
                    if slot not in last_png or last_png[slot][0] != source:
                        last_png[slot] = (source, encode_png(rgb))
                    pending[key].append({"bytes": last_png[slot][1], "path": None})
                    if count in sample_at:
                        sampled[key].append(lf.downsample_for_stats(rgb.transpose(2, 0, 1)))
                count += 1
                if count - start == ROWS_PER_GROUP:
                    writer.write_table(self._table(columns, pending, start, count))
                    start, pending = count, {k: [] for k in self.image_keys}
            if count != n:
                raise EpisodeError(f"{count} camera frames for {n} state/action rows")
            if count > start:
                writer.write_table(self._table(columns, pending, start, count))
        return sampled

    def _table(self, columns: dict[str, np.ndarray], images: dict[str, list], start: int, stop: int) -> pa.Table:
        arrays = []
        for name in self.schema.names:
            field_type = self.schema.field(name).type
            if name in images:
                arrays.append(pa.array(images[name], type=field_type))
            elif pa.types.is_fixed_size_list(field_type):
                block = np.ascontiguousarray(columns[name][start:stop])
                arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(block.reshape(-1)), field_type.list_size))
            else:
                arrays.append(pa.array(columns[name][start:stop], type=field_type))
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def _check_shape(self, key: str, rgb: np.ndarray, frame: int) -> None:
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise EpisodeError(f"{key} frame {frame}: expected uint8 HxWx3, got {rgb.dtype} {rgb.shape}")
        ft = self.features[key]
        if ft["shape"] is None:
            ft["shape"] = list(rgb.shape)  # the first frame of the dataset fixes the camera's resolution
        elif list(rgb.shape) != list(ft["shape"]):
            raise EpisodeError(f"{key} frame {frame}: {list(rgb.shape)[:2]} pixels, the dataset has {ft['shape'][:2]}")

    # ----------------------------------------------------------------------------------------------

    def finalize(self) -> None:
        """Close files and write the metadata; idempotent. Nothing is readable before this."""
        if self._finalized:
            return
        self._close_data()
        self._write_meta()
        (self.root / "meta").mkdir(exist_ok=True)
        stats = lf.aggregate_stats(self.episode_stats) if self.episode_stats else {}
        (self.root / "meta" / "stats.json").write_text(json.dumps(lf.to_json_stats(stats), indent=4))
        info = self._info()
        (self.root / "meta" / "info.json").write_text(json.dumps(info, indent=4))
        self._tmp.unlink(missing_ok=True)
        self._finalized = True

    def _info(self) -> dict:
        features = {k: dict(v) for k, v in self.features.items()}
        for key in self.image_keys:
            if features[key]["shape"] is None:  # no episode written: declare the camera without a resolution
                features[key]["shape"] = [0, 0, 3]
        return {
            "codebase_version": self.version, "robot_type": self.robot_type,
            "total_episodes": len(self.episodes), "total_frames": self.total_frames, "total_tasks": len(self.tasks),
            **self._info_extra(), "fps": self.fps,
            "splits": {"train": f"0:{len(self.episodes)}"} if self.episodes else {},
            **self._info_paths(), "features": features,
        }  # fmt: skip

    # format-specific parts
    def _commit(self, index: int, n: int) -> None:
        raise NotImplementedError

    def _close_data(self) -> None:
        pass

    def _write_meta(self) -> None:
        raise NotImplementedError

    def _info_extra(self) -> dict:
        raise NotImplementedError

    def _info_paths(self) -> dict:
        raise NotImplementedError


class V21Writer(LeRobotWriter):
    """LeRobotDataset v2.1: one parquet per episode, jsonl metadata."""

    version = lf.V21
    DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
    VIDEO_PATH = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"

    def _commit(self, index: int, n: int) -> None:
        path = self.root / self.DATA_PATH.format(episode_chunk=index // lf.CHUNKS_SIZE, episode_index=index)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(self._tmp, path)

    def _write_meta(self) -> None:
        meta = self.root / "meta"
        meta.mkdir(exist_ok=True)
        _write_jsonl(meta / "episodes.jsonl", self.episodes)
        _write_jsonl(meta / "tasks.jsonl", [{"task_index": i, "task": t} for t, i in self.tasks.items()])
        _write_jsonl(meta / "episodes_stats.jsonl",
                     [{"episode_index": i, "stats": lf.to_json_stats(s)} for i, s in enumerate(self.episode_stats)])

    def _info_extra(self) -> dict:
        chunks = (len(self.episodes) - 1) // lf.CHUNKS_SIZE + 1 if self.episodes else 0
        return {"total_videos": 0, "total_chunks": chunks, "chunks_size": lf.CHUNKS_SIZE}

    def _info_paths(self) -> dict:
        return {"data_path": self.DATA_PATH, "video_path": None}


class V3Writer(LeRobotWriter):
    """LeRobotDataset v3.0: episodes share data files; episodes and tasks are parquet tables."""

    version = lf.V30
    DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"

    def __init__(self, *args, data_file_size_mb: float = lf.DATA_FILE_SIZE_MB, **kwargs):
        super().__init__(*args, **kwargs)
        self.data_file_size_mb = data_file_size_mb
        self._file = (0, 0)  # (chunk_index, file_index) being written
        self._writer: pq.ParquetWriter | None = None
        self._file_bytes = 0

    def _commit(self, index: int, n: int) -> None:
        size = self._tmp.stat().st_size
        if self._writer is not None and (self._file_bytes + size) / 2**20 >= self.data_file_size_mb:
            self._close_data()  # as LeRobot: start a new file rather than exceed the size limit
            chunk, file = self._file
            self._file = (chunk + 1, 0) if file == lf.CHUNKS_SIZE - 1 else (chunk, file + 1)
        if self._writer is None:
            path = self.root / self.DATA_PATH.format(chunk_index=self._file[0], file_index=self._file[1])
            path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(path, self.schema, compression="snappy")
            self._file_bytes = 0
        source = pq.ParquetFile(self._tmp)
        for group in range(source.num_row_groups):
            self._writer.write_table(source.read_row_group(group))
        source.close()
        self._file_bytes += size
        self._tmp.unlink()
        self._pending_location = {
            "data/chunk_index": self._file[0], "data/file_index": self._file[1],
            "dataset_from_index": self.total_frames, "dataset_to_index": self.total_frames + n,
        }  # fmt: skip

    def add_episode(self, episode: EpisodeData) -> int:
        """See :meth:`LeRobotWriter.add_episode`; also records where the episode's rows are."""
        index = super().add_episode(episode)
        self.episodes[index].update(self._pending_location)
        return index

    def _close_data(self) -> None:
        if self._writer is not None:
            self._writer.close()  # writes the footer
            self._writer = None

    def _write_meta(self) -> None:
        meta = self.root / "meta"
        meta.mkdir(exist_ok=True)
        _write_tasks_parquet(meta / "tasks.parquet", self.tasks)
        rows = []
        for episode, stats in zip(self.episodes, self.episode_stats, strict=True):
            row = dict(episode)
            row.update({f"stats/{k}/{s}": np.asarray(v).tolist() for k, feat in stats.items() for s, v in feat.items()})
            row.update({"meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0})
            rows.append(row)
        if rows:
            path = self.root / self.EPISODES_PATH.format(chunk_index=0, file_index=0)
            path.parent.mkdir(parents=True, exist_ok=True)
            table = pa.Table.from_pylist(rows)
            with pq.ParquetWriter(path, table.schema, compression="snappy") as writer:
                writer.write_table(table)

    def _info_extra(self) -> dict:
        return {"chunks_size": lf.CHUNKS_SIZE, "data_files_size_in_mb": lf.DATA_FILE_SIZE_MB,
                "video_files_size_in_mb": lf.VIDEO_FILE_SIZE_MB}

    def _info_paths(self) -> dict:
        return {"data_path": self.DATA_PATH, "video_path": None}


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def _write_tasks_parquet(path: Path, tasks: dict[str, int]) -> None:
    """``meta/tasks.parquet`` as pandas writes a DataFrame indexed by task: LeRobot reads it with
    ``pd.read_parquet`` and looks a task up by row position (``tasks.iloc[task_index].name``)."""
    ordered = sorted(tasks.items(), key=lambda item: item[1])
    pandas_meta = {
        "index_columns": ["task"],
        "column_indexes": [{"name": None, "field_name": None, "pandas_type": "unicode", "numpy_type": "object",
                            "metadata": {"encoding": "UTF-8"}}],
        "columns": [
            {"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64",
             "metadata": None},
            {"name": "task", "field_name": "task", "pandas_type": "unicode", "numpy_type": "object", "metadata": None},
        ],
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.3",
    }  # fmt: skip
    schema = pa.schema([("task_index", pa.int64()), ("task", pa.string())],
                       metadata={b"pandas": json.dumps(pandas_meta).encode()})
    table = pa.table({"task_index": [i for _, i in ordered], "task": [t for t, _ in ordered]}, schema=schema)
    pq.write_table(table, path)


def _limit(frames: Iterable, n: int) -> Iterator:
    """The frames, failing if there are more than n."""
    for count, frame in enumerate(frames):
        if count == n:
            raise EpisodeError(f"more camera frames than the {n} state/action rows")
        yield frame


def open_writer(version: str, root: str | Path, fps: int, robot_type: str, features: dict[str, dict],
                **kwargs) -> LeRobotWriter:
    """A writer for "v2.1" or "v3" ("v3.0")."""
    if version not in lf.FORMATS:
        raise ValueError(f"unknown dataset format {version!r}; choose v2.1 or v3")
    cls = V21Writer if lf.FORMATS[version] == lf.V21 else V3Writer
    return cls(root, fps, robot_type, features, **kwargs)
