"""The LeRobotDataset v3.0 writer: episodes share data and video files; episodes and tasks are parquet
tables (see :mod:`.writer` for what the writers have in common)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import lerobot_format as lf
from .video_encode import VideoAppender
from .writer import LeRobotWriter


def next_file(chunk: int, file: int) -> tuple[int, int]:
    """The (chunk, file) after this one: a chunk folder holds CHUNKS_SIZE files."""
    return (chunk + 1, 0) if file == lf.CHUNKS_SIZE - 1 else (chunk, file + 1)


class V3Writer(LeRobotWriter):
    """LeRobotDataset v3.0."""

    version = lf.V30
    DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"

    def __init__(self, *args, data_file_size_mb: float = lf.DATA_FILE_SIZE_MB,
                 video_file_size_mb: float = lf.VIDEO_FILE_SIZE_MB, **kwargs):
        super().__init__(*args, **kwargs)
        self.data_file_size_mb, self.video_file_size_mb = data_file_size_mb, video_file_size_mb
        self._file = (0, 0)  # (chunk_index, file_index) of the data file being written
        self._writer: pq.ParquetWriter | None = None
        self._file_bytes = 0
        self._videos: dict[str, tuple[tuple[int, int], VideoAppender]] = {}

    def _write_rows(self, path: Path, indices: dict, index: int, n: int) -> dict:
        size = path.stat().st_size
        if self._writer is not None and (self._file_bytes + size) / 2**20 >= self.data_file_size_mb:
            self._writer.close()  # as LeRobot: start a new file rather than pass the size limit
            self._writer = None
            self._file = next_file(*self._file)
        if self._writer is None:
            target = self.root / self.DATA_PATH.format(chunk_index=self._file[0], file_index=self._file[1])
            target.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(target, self.schema, compression="snappy")
            self._file_bytes = 0
        for table in self._rows(path, indices):
            self._writer.write_table(table)
        self._file_bytes += size
        return {"data/chunk_index": self._file[0], "data/file_index": self._file[1],
                "dataset_from_index": self.total_frames, "dataset_to_index": self.total_frames + n}  # fmt: skip

    def _write_video(self, key: str, path: Path, index: int, n: int) -> dict:
        location, appender = self._videos.get(key, (None, None))
        if appender is not None and (appender.size_bytes + path.stat().st_size) / 2**20 >= self.video_file_size_mb:
            appender.close()
            location, appender = next_file(*location), None
        if appender is None:
            location = location or (0, 0)
            target = self.root / self.VIDEO_PATH.format(video_key=key, chunk_index=location[0],
                                                        file_index=location[1])  # fmt: skip
            appender = VideoAppender(target, self.fps)
            self._videos[key] = (location, appender)
            self._first_video.setdefault(key, target)
        start, stop = appender.append(path, n)
        return {f"videos/{key}/chunk_index": location[0], f"videos/{key}/file_index": location[1],
                f"videos/{key}/from_timestamp": start, f"videos/{key}/to_timestamp": stop}  # fmt: skip

    def _close_files(self) -> None:
        if self._writer is not None:
            self._writer.close()  # writes the footer
            self._writer = None
        for _, appender in self._videos.values():
            appender.close()

    def _write_meta(self) -> None:
        meta = self.root / "meta"
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
