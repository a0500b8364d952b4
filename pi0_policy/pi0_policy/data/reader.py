"""Read a LeRobotDataset (v2.1 or v3.0) back: numbers as numpy arrays, camera frames on demand.

It checks what training silently depends on, and raises :class:`DatasetError` naming the file and field:
row ``index`` equals row position, each episode's rows are contiguous with ``frame_index`` 0..len-1,
timestamps are ``frame_index / fps`` (within LeRobot's 1e-4 s), declared dtypes are the stored ones, and
task / episode tables are ordered by their index (LeRobot >= 0.4 looks both up by position).

Image features stay PNG bytes in an Arrow file that is memory-mapped (converted once from the parquet
files into ``<root>/.arrow_cache``, as ``datasets`` does), so a dataset larger than RAM still trains. Video
features are decoded on demand (:mod:`.video_decode`): the row at ``timestamp`` t shows frame round(t * fps)
of its episode's video (v3.0: of the shared file, from the episode's ``from_timestamp``), and the decoded
frame's time must be within 1e-4 s of it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from . import lerobot_format as lf
from .video_decode import VideoCache

CONVERSION_FILE = "meta/pi0_ros.json"  # written by our converter: embodiment and per-episode provenance
TIMESTAMP_TOLERANCE_S = 1e-4  # LeRobot's default tolerance_s
NUMERIC_COLUMNS = (lf.STATE_KEY, lf.ACTION_KEY, "timestamp", "frame_index", "episode_index", "index", "task_index")


class DatasetError(ValueError):
    """A dataset that does not follow its declared layout; the message names the file and field."""


@dataclass(frozen=True)
class EpisodeInfo:
    """One episode: its rows are ``[start, stop)``; ``task`` is its first row's (LeRobot allows several)."""

    index: int
    start: int
    stop: int
    task: str

    @property
    def length(self) -> int:
        """Number of frames."""
        return self.stop - self.start


class LeRobotReader:
    """A converted dataset in memory (images memory-mapped).

    Attributes:
        root, info, version ("v2.1" or "v3.0"), fps, robot_type, features.
        state, action: float32 [N, d]; timestamp float32 [N]; frame_index, episode_index, index,
            task_index: int64 [N].
        tasks: task strings by task_index.
        episodes: EpisodeInfo by episode_index.
        camera_slots: slots with an ``observation.images.<slot>`` feature, in feature order.
    """

    def __init__(self, root: str | Path, cache_dir: str | Path | None = None):
        self.root = Path(root)
        info_path = self.root / "meta" / "info.json"
        if not info_path.is_file():
            raise DatasetError(f"{self.root}: no meta/info.json (not a LeRobot dataset)")
        self.info = json.loads(info_path.read_text())
        self.version = self.info.get("codebase_version")
        if self.version not in (lf.V21, lf.V30):
            raise DatasetError(f"{info_path}: codebase_version {self.version!r}; this reader knows v2.1 and v3.0")
        self.fps = int(self.info["fps"])
        self.robot_type = self.info.get("robot_type")
        self.features = self.info["features"]
        missing = [k for k in NUMERIC_COLUMNS if k not in self.features]
        if missing:
            raise DatasetError(f"{info_path}: features lack {missing}")
        self.camera_slots = [k[len(lf.IMAGE_PREFIX) :] for k, ft in self.features.items()
                             if k.startswith(lf.IMAGE_PREFIX) and ft["dtype"] in ("image", "video")]  # fmt: skip
        self.video_slots = [s for s in self.camera_slots if self.features[lf.image_key(s)]["dtype"] == "video"]
        if self.video_slots and not self.info.get("video_path"):
            raise DatasetError(f"{info_path}: video features but no video_path")
        self._videos = VideoCache()
        self._cache_dir = Path(cache_dir) if cache_dir else _default_cache(self.root)
        if self.version == lf.V21:
            self.tasks, episode_rows, files = self._v21_meta()
        else:
            self.tasks, episode_rows, files = self._v30_meta()
        self._load_data(files)
        self.episodes = self._check_episodes(episode_rows)
        self.conversion = json.loads((self.root / CONVERSION_FILE).read_text()) if (
            self.root / CONVERSION_FILE).is_file() else {}  # fmt: skip

    # ----------------------------------------------------------------------------------------------
    # Metadata

    def _v21_meta(self) -> tuple[list[str], list[dict], list[Path]]:
        meta = self.root / "meta"
        tasks = _read_jsonl(meta / "tasks.jsonl")
        task_list = [None] * len(tasks)
        for row in tasks:
            i = row["task_index"]
            if not 0 <= i < len(tasks) or task_list[i] is not None:
                raise DatasetError(f"{meta / 'tasks.jsonl'}: task_index values are not 0..{len(tasks) - 1}")
            task_list[i] = row["task"]
        episodes = sorted(_read_jsonl(meta / "episodes.jsonl"), key=lambda e: e["episode_index"])
        size = self.info.get("chunks_size", lf.CHUNKS_SIZE)
        files = [self.root / self.info["data_path"].format(episode_chunk=e["episode_index"] // size,
                                                           episode_index=e["episode_index"]) for e in episodes]
        return task_list, episodes, files

    def _v30_meta(self) -> tuple[list[str], list[dict], list[Path]]:
        meta = self.root / "meta"
        path = meta / "tasks.parquet"
        if not path.is_file():
            raise DatasetError(f"{path}: missing")
        table = pq.read_table(path)
        if "task" not in table.column_names or "task_index" not in table.column_names:
            raise DatasetError(f"{path}: needs columns task and task_index, has {table.column_names}")
        indices = table.column("task_index").to_pylist()
        if indices != list(range(len(indices))):
            raise DatasetError(f"{path}: row order must equal task_index (LeRobot looks tasks up by position)")
        episode_files = sorted((meta / "episodes").glob("chunk-*/file-*.parquet"))
        if not episode_files:
            raise DatasetError(f"{meta / 'episodes'}: no episode parquet files")
        columns = ["episode_index", "tasks", "length", "dataset_from_index", "dataset_to_index"]
        for slot in self.video_slots:
            columns += [f"videos/{lf.image_key(slot)}/{c}" for c in ("chunk_index", "file_index", "from_timestamp")]
        episodes = []
        for f in episode_files:
            names = pq.read_schema(f).names
            missing = [c for c in columns if c not in names]
            if missing:
                raise DatasetError(f"{f}: no column(s) {missing}")
            episodes += pq.read_table(f, columns=columns).to_pylist()
        for position, e in enumerate(episodes):
            if e["episode_index"] != position:
                raise DatasetError(f"{meta / 'episodes'}: row {position} holds episode {e['episode_index']} "
                                   "(LeRobot looks episodes up by position)")  # fmt: skip
        files = sorted((self.root / "data").glob("chunk-*/file-*.parquet"))
        return table.column("task").to_pylist(), episodes, files

    # ----------------------------------------------------------------------------------------------
    # Data

    def _load_data(self, files: list[Path]) -> None:
        if not files:
            raise DatasetError(f"{self.root}: no data files")
        numeric = {k: [] for k in NUMERIC_COLUMNS}
        self._images = {slot: [] for slot in self.camera_slots if slot not in self.video_slots}
        for path in files:
            if not path.is_file():
                raise DatasetError(f"{path}: listed in the metadata but missing")
            try:
                schema = pq.read_schema(path)
            except pa.ArrowInvalid as e:  # e.g. a writer that was never closed: no footer
                raise DatasetError(f"{path}: not a readable parquet file: {e}") from None
            self._check_schema(path, schema)
            table = pq.read_table(path, columns=list(NUMERIC_COLUMNS))
            for key in NUMERIC_COLUMNS:
                numeric[key].append(_to_numpy(table.column(key)))
            image_slots = [s for s in self.camera_slots if s not in self.video_slots]
            if image_slots:
                mapped = _mapped_table(path, [lf.image_key(s) for s in image_slots], self._cache_dir)
                for slot in image_slots:
                    self._images[slot].append(mapped.column(lf.image_key(slot)))
        arrays = {k: np.concatenate(v) for k, v in numeric.items()}
        self.state, self.action = arrays[lf.STATE_KEY], arrays[lf.ACTION_KEY]
        self.timestamp, self.frame_index = arrays["timestamp"], arrays["frame_index"]
        self.episode_index, self.index, self.task_index = arrays["episode_index"], arrays["index"], arrays["task_index"]
        # Row -> (chunk, offset) lookup for the image columns.
        self._image_chunks = {}
        for slot, columns in self._images.items():
            chunks = [c for col in columns for c in col.chunks]
            self._image_chunks[slot] = (chunks, np.cumsum([0] + [len(c) for c in chunks]))
        if not np.array_equal(self.index, np.arange(len(self.index))):
            bad = int(np.argmax(self.index != np.arange(len(self.index))))
            raise DatasetError(f"{self.root}: row {bad} has index {self.index[bad]}; rows must be ordered by index")

    def _check_schema(self, path: Path, schema: pa.Schema) -> None:
        for key, ft in self.features.items():
            if ft["dtype"] == "video":
                continue
            if key not in schema.names:
                raise DatasetError(f"{path}: no column {key!r} declared in info.json")
            stored, declared = schema.field(key).type, lf.arrow_type(ft)
            if not _same_type(stored, declared):
                raise DatasetError(f"{path}: column {key!r} is stored as {stored}, info.json declares {declared}")

    def _episode_videos(self, row: dict) -> dict[str, tuple[Path, float]]:
        """slot -> (video file, time of the episode's first frame in it)."""
        out = {}
        for slot in self.video_slots:
            key = lf.image_key(slot)
            if self.version == lf.V21:
                chunk = row["episode_index"] // self.info.get("chunks_size", lf.CHUNKS_SIZE)
                path = self.info["video_path"].format(episode_chunk=chunk, video_key=key,
                                                      episode_index=row["episode_index"])  # fmt: skip
                out[slot] = (self.root / path, 0.0)
            else:
                path = self.info["video_path"].format(video_key=key, chunk_index=row[f"videos/{key}/chunk_index"],
                                                      file_index=row[f"videos/{key}/file_index"])  # fmt: skip
                out[slot] = (self.root / path, float(row[f"videos/{key}/from_timestamp"]))
        return out

    def _check_episodes(self, rows: list[dict]) -> list[EpisodeInfo]:
        self._video_files: list[dict[str, tuple[Path, float]]] = []
        episodes = []
        start = 0
        for position, row in enumerate(rows):
            if row["episode_index"] != position:
                raise DatasetError(f"{self.root}: episodes are not numbered 0..{len(rows) - 1}")
            stop = start + int(row["length"])
            if self.version == lf.V30 and (row["dataset_from_index"], row["dataset_to_index"]) != (start, stop):
                claimed = (row["dataset_from_index"], row["dataset_to_index"])
                raise DatasetError(f"{self.root}: episode {position} claims rows [{claimed[0]}, {claimed[1]}), "
                                   f"they are [{start}, {stop})")
            rows_ep = slice(start, stop)
            if stop > len(self.index) or np.any(self.episode_index[rows_ep] != position):
                raise DatasetError(f"{self.root}: episode {position} is not rows [{start}, {stop})")
            if not np.array_equal(self.frame_index[rows_ep], np.arange(stop - start)):
                raise DatasetError(f"{self.root}: episode {position}: frame_index is not 0..{stop - start - 1}")
            expected = self.frame_index[rows_ep] / self.fps
            worst = float(np.max(np.abs(self.timestamp[rows_ep] - expected)))
            if worst > TIMESTAMP_TOLERANCE_S:
                raise DatasetError(f"{self.root}: episode {position}: timestamps are off frame_index/fps by {worst} s")
            tasks = self.task_index[rows_ep]
            if tasks.min() < 0 or tasks.max() >= len(self.tasks):
                raise DatasetError(f"{self.root}: episode {position}: task_index outside 0..{len(self.tasks) - 1}")
            episodes.append(EpisodeInfo(position, start, stop, self.tasks[int(tasks[0])]))
            self._video_files.append(self._episode_videos(row))
            start = stop
        if start != len(self.index):
            raise DatasetError(f"{self.root}: episodes cover {start} rows, the data has {len(self.index)}")
        return episodes

    # ----------------------------------------------------------------------------------------------
    # Access

    def __len__(self) -> int:
        return len(self.index)

    @property
    def num_episodes(self) -> int:
        """Number of episodes."""
        return len(self.episodes)

    def episode_of(self, row: int) -> EpisodeInfo:
        """The episode a row belongs to."""
        return self.episodes[int(self.episode_index[row])]

    def task(self, row: int) -> str:
        """The task string of a row."""
        return self.tasks[int(self.task_index[row])]

    def image(self, row: int, slot: str) -> np.ndarray:
        """uint8 RGB [H, W, 3] of a camera slot at a row.

        Raises:
            FrameTimestampError: (video) no frame of the video within 1e-4 s of the row's time.
        """
        if slot in self.video_slots:
            path, start = self._video_files[int(self.episode_index[row])][slot]
            t = start + float(self.timestamp[row])
            return self._videos.get(path).frame_at(t, self.fps, TIMESTAMP_TOLERANCE_S)
        chunks, offsets = self._image_chunks[slot]
        c = int(np.searchsorted(offsets, row, side="right") - 1)
        value = chunks[c][row - int(offsets[c])]
        data = value["bytes"].as_py()
        if data is None:
            raise DatasetError(f"{self.root}: row {row} camera {slot!r} has no embedded image bytes")
        with Image.open(io.BytesIO(data)) as img:
            return np.asarray(img.convert("RGB"))

    @property
    def norm_stats_asset(self) -> str:
        """The openpi asset id of this robot's normalisation statistics."""
        if self.conversion.get("norm_stats_asset"):
            return self.conversion["norm_stats_asset"]
        try:
            from pi0_common.embodiment import EmbodimentError, load_embodiment

            return load_embodiment(self.robot_type).norm_stats_asset
        except (ImportError, EmbodimentError, TypeError):
            return str(self.robot_type or "default")


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise DatasetError(f"{path}: missing")
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: not JSON lines: {e}") from None


def _same_type(stored: pa.DataType, declared: pa.DataType) -> bool:
    """Whether a stored column holds the declared feature: same value dtype and length for vectors (the list's
    child name and fixed vs variable length vary between writers), an embedded-image struct for images."""
    if pa.types.is_fixed_size_list(declared):
        sized = pa.types.is_list(stored) or (pa.types.is_fixed_size_list(stored)
                                             and stored.list_size == declared.list_size)  # fmt: skip
        return sized and stored.value_type == declared.value_type
    if pa.types.is_struct(declared):
        return pa.types.is_struct(stored) and stored.get_field_index("bytes") >= 0
    return stored == declared


def _to_numpy(column: pa.ChunkedArray) -> np.ndarray:
    """A column as numpy: scalars [N], fixed-size lists [N, n] (dtype as stored)."""
    column = column.combine_chunks()
    if pa.types.is_fixed_size_list(column.type):
        return column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), column.type.list_size)
    if pa.types.is_list(column.type):
        return np.stack(column.to_numpy(zero_copy_only=False))
    return column.to_numpy(zero_copy_only=False)


def _default_cache(root: Path) -> Path:
    """<root>/.arrow_cache, or a temp folder when the dataset is read-only."""
    folder = root / ".arrow_cache"
    try:
        folder.mkdir(exist_ok=True)
        return folder
    except OSError:
        return Path(tempfile.gettempdir()) / "pi0_arrow_cache"


def _mapped_table(path: Path, columns: list[str], cache_dir: Path) -> pa.Table:
    """Some columns of a parquet file as a memory-mapped, uncompressed Arrow table (built once, then reused)."""
    stat = path.stat()
    key = hashlib.sha1(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{columns}".encode()).hexdigest()[:20]
    cache_dir.mkdir(parents=True, exist_ok=True)
    arrow = cache_dir / f"{key}.arrow"
    if not arrow.is_file():
        table = pq.read_table(path, columns=columns)
        tmp = cache_dir / f"{key}.{os.getpid()}.tmp"  # several ranks may build it at once: rename is atomic
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(tmp, arrow)
    return pa.ipc.open_file(pa.memory_map(str(arrow))).read_all()
