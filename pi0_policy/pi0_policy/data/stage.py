"""One episode written on its own into a stage folder, ready for a writer to add to the dataset.

Staging is what runs in the converter's worker processes (any number at once, each episode independent of
the others): rows stream into ``data.parquet`` (one row group of PNG images at a time in image datasets) and
camera frames into ``<feature>.mp4`` (video datasets), while the episode statistics accumulate (image
statistics from pixel histograms of LeRobot's sampled frames). Memory is therefore bounded by a row group
and the encoders, whatever the episode's length. ``stage.json`` is written last: a folder without it is an
unfinished episode, and a finished one is never redone when a conversion resumes.

The episode, index and task columns hold placeholders (0, the frame index, 0); the writer fills in the
real ones when it adds the episode (:meth:`LeRobotWriter.add_staged`).
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from . import lerobot_format as lf
from .video_encode import EpisodeVideoEncoder, VideoError, VideoSettings

ROWS_PER_GROUP = 64  # rows buffered (images as PNG) before a row group is written
STAGE_FILE = "stage.json"
DATA_FILE = "data.parquet"


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


@dataclass(frozen=True)
class StageSpec:
    """What a stage needs to know of the dataset (picklable: it travels to worker processes)."""

    version: str  # lf.V21 or lf.V30
    fps: int
    features: dict[str, dict]
    video: VideoSettings | None = None

    @property
    def camera_keys(self) -> list[str]:
        """Image and video features, in feature order."""
        return [k for k, ft in self.features.items() if ft["dtype"] in ("image", "video")]

    def is_video(self, key: str) -> bool:
        """Whether a camera feature is stored as video."""
        return self.features[key]["dtype"] == "video"


def encode_png(rgb: np.ndarray) -> bytes:
    """Lossless PNG (LeRobot writes its image frames with compress_level=1 too)."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def stage_episode(spec: StageSpec, episode: EpisodeData, folder: str | Path,
                  on_rows: Callable[[int], None] | None = None) -> dict:
    """Write one episode into ``folder`` (created, emptied first); returns what ``stage.json`` holds.

    Args:
        on_rows: called with the number of rows written since the last call (progress reporting).

    Raises:
        EpisodeError: inconsistent sizes or image shapes; the folder is removed.
    """
    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        return _stage(spec, episode, folder, on_rows)
    except VideoError as e:
        shutil.rmtree(folder, ignore_errors=True)
        raise EpisodeError(str(e)) from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _stage(spec: StageSpec, episode: EpisodeData, folder: Path, on_rows) -> dict:
    n, d = episode.state.shape
    expected = spec.features[lf.STATE_KEY]["shape"][0]
    if episode.action.shape != (n, d) or d != expected or n == 0:
        raise EpisodeError(f"state {episode.state.shape} / action {episode.action.shape}: expected [N>0, {expected}]")
    columns = {
        lf.STATE_KEY: episode.state.astype(np.float32), lf.ACTION_KEY: episode.action.astype(np.float32),
        "timestamp": (np.arange(n) / spec.fps).astype(np.float32), "frame_index": np.arange(n, dtype=np.int64),
        "episode_index": np.zeros(n, np.int64), "index": np.arange(n, dtype=np.int64),
        "task_index": np.zeros(n, np.int64),
    }  # fmt: skip
    schema = lf.data_schema(spec.features, spec.version)
    encoders = {k: EpisodeVideoEncoder(folder / f"{k}.mp4", spec.fps, spec.video)
                for k in spec.camera_keys if spec.is_video(k)}  # fmt: skip
    hist: dict[str, np.ndarray] = {}
    shapes: dict[str, list[int]] = {}
    sample_at = set(lf.image_sample_indices(n))
    last_png: dict[str, tuple[int, bytes]] = {}
    pending: dict[str, list] = {k: [] for k in spec.camera_keys if not spec.is_video(k)}
    start = count = 0
    try:
        with pq.ParquetWriter(folder / DATA_FILE, schema, compression="snappy") as writer:
            for frame in _limit(episode.frames, n):
                for key in spec.camera_keys:
                    slot = key[len(lf.IMAGE_PREFIX) :]
                    if slot not in frame:
                        raise EpisodeError(f"frame {count}: no image for camera {slot!r}")
                    source, rgb = frame[slot]
                    _check_shape(spec, key, rgb, count, shapes)
                    if key in encoders:
                        encoders[key].write(rgb)
                    else:
                        if last_png.get(slot, (None,))[0] != source:
                            last_png[slot] = (source, encode_png(rgb))
                        pending[key].append({"bytes": last_png[slot][1], "path": None})
                    if count in sample_at:
                        h = lf.image_histogram(lf.downsample_for_stats(rgb.transpose(2, 0, 1))[None])
                        hist[key] = hist[key] + h if key in hist else h
                count += 1
                if count - start == ROWS_PER_GROUP:
                    writer.write_table(_table(schema, columns, pending, start, count))
                    start, pending = count, {k: [] for k in pending}
                    if on_rows:
                        on_rows(ROWS_PER_GROUP)
            if count != n:
                raise EpisodeError(f"{count} camera frames for {n} state/action rows")
            if count > start:
                writer.write_table(_table(schema, columns, pending, start, count))
        for encoder in encoders.values():
            encoder.close()
    except BaseException:
        for encoder in encoders.values():
            encoder.abort()
        raise
    if on_rows and count > start:
        on_rows(count - start)
    quantiles = spec.version == lf.V30
    stats = {k: lf.feature_stats(v, quantiles) for k, v in columns.items() if k in (
        lf.STATE_KEY, lf.ACTION_KEY, "timestamp", "frame_index")}  # fmt: skip
    for key, h in hist.items():
        stats[key] = lf.histogram_stats(h, len(sample_at), quantiles)
    meta = {"task": episode.task, "length": n, "shapes": shapes, "videos": sorted(encoders),
            "stats": lf.to_json_stats(stats)}  # fmt: skip
    (folder / STAGE_FILE).write_text(json.dumps(meta))
    return meta


def read_stage(folder: str | Path) -> dict | None:
    """A finished stage's ``stage.json`` contents, None when the episode is unfinished."""
    path = Path(folder) / STAGE_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def _check_shape(spec: StageSpec, key: str, rgb: np.ndarray, frame: int, shapes: dict) -> None:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise EpisodeError(f"{key} frame {frame}: expected uint8 HxWx3, got {rgb.dtype} {rgb.shape}")
    declared = spec.features[key].get("shape") or shapes.get(key)
    if declared is None:
        shapes[key] = list(rgb.shape)
    elif list(rgb.shape) != list(declared):
        raise EpisodeError(f"{key} frame {frame}: {list(rgb.shape)[:2]} pixels, the dataset has {list(declared)[:2]}")
    else:
        shapes[key] = list(declared)


def _table(schema: pa.Schema, columns: dict[str, np.ndarray], images: dict[str, list], start: int,
           stop: int) -> pa.Table:
    arrays = []
    for name in schema.names:
        field_type = schema.field(name).type
        if name in images:
            arrays.append(pa.array(images[name], type=field_type))
        elif pa.types.is_fixed_size_list(field_type):
            block = np.ascontiguousarray(columns[name][start:stop])
            arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(block.reshape(-1)), field_type.list_size))
        else:
            arrays.append(pa.array(columns[name][start:stop], type=field_type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _limit(frames: Iterable, n: int) -> Iterator:
    """The frames, failing if there are more than n."""
    for count, frame in enumerate(frames):
        if count == n:
            raise EpisodeError(f"more camera frames than the {n} state/action rows")
        yield frame
