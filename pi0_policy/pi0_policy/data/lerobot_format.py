"""What LeRobotDataset v2.1 (openpi) and v3.0 (LeRobot >= 0.4) files must contain, written without LeRobot.

Sources: ``lerobot/common/datasets/{utils,compute_stats}.py`` at openpi's pinned LeRobot (v2.1) and
``src/lerobot/datasets/{utils,feature_utils,io_utils,compute_stats,dataset_metadata,dataset_writer}.py``
(v3.0). Both read the data parquet through Hugging Face ``datasets``, so the Arrow types must be the ones
``datasets`` writes for each feature (``get_hf_features_from_features``):

    dtype "image"            -> struct<bytes: binary, path: string>   (PNG bytes embedded)
    shape (1,)               -> the scalar type (timestamp float32, indices int64)
    shape (n,)               -> fixed_size_list<dtype>[n]

and the schema carries the ``huggingface`` metadata that names those feature types, so a reader that
infers features from the file (v2.1's ``load_dataset("parquet")``) decodes images as images.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

V21, V30 = "v2.1", "v3.0"
FORMATS = {"v2.1": V21, "v3": V30, "v3.0": V30}
CHUNKS_SIZE = 1000  # episodes (v2.1) or files (v3.0) per chunk folder
DATA_FILE_SIZE_MB = 100  # v3.0: a data file is closed once it passes this size
VIDEO_FILE_SIZE_MB = 200

# The bookkeeping columns LeRobot adds to every dataset, in its order.
DEFAULT_FEATURES = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}
STATE_KEY, ACTION_KEY = "observation.state", "action"
IMAGE_PREFIX = "observation.images."
# LeRobot >= 0.4 (v3.0) episode stats carry these quantiles as well.
V3_QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)


def image_key(slot: str) -> str:
    """Feature name of a camera slot."""
    return IMAGE_PREFIX + slot


def build_features(dim_names: list[str], cameras: dict[str, dict], video: bool = False) -> dict[str, dict]:
    """The info.json ``features`` of a converted dataset.

    Args:
        dim_names: names of the state/action dims (the embodiment's unified layout, valid dims only).
        cameras: slot -> {"shape": [H, W, 3] or None, "topic": ..., "transport": ...}; recorded in the
            feature's ``info`` so a reader knows which camera slot each ``observation.images.<slot>`` is.
            A None shape is fixed by the writer from the first frame.
        video: cameras as MP4 videos (dtype "video") instead of PNG images inside the parquet files.
    """
    d = len(dim_names)
    features = {
        STATE_KEY: {"dtype": "float32", "shape": [d], "names": list(dim_names)},
        ACTION_KEY: {"dtype": "float32", "shape": [d], "names": list(dim_names)},
    }
    for slot, cam in cameras.items():
        features[image_key(slot)] = {
            "dtype": "video" if video else "image", "shape": list(cam["shape"]) if cam.get("shape") else None,
            "names": ["height", "width", "channels"],
            "info": {"camera_slot": slot, "topic": cam["topic"], "transport": cam["transport"]},
        }  # fmt: skip
    return {**features, **DEFAULT_FEATURES}


def arrow_type(ft: dict) -> pa.DataType:
    """The Arrow type ``datasets`` stores a feature as."""
    if ft["dtype"] == "image":
        return pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    value = pa.from_numpy_dtype(np.dtype(ft["dtype"]))
    shape = list(ft["shape"])
    if shape == [1]:
        return value
    if len(shape) == 1:
        return pa.list_(pa.field("item", value), shape[0])  # "item": the child name datasets has always written
    raise ValueError(f"unsupported feature shape {shape}")


def hf_feature_json(ft: dict, version: str) -> dict:
    """The ``datasets`` feature type as serialised in the schema metadata.

    v2.1 readers use ``datasets`` 2.x/3.x ("Sequence"); v3.0 readers use ``datasets`` >= 4 ("List", which
    still reads the legacy "Sequence").
    """
    if ft["dtype"] == "image":
        return {"_type": "Image"}
    value = {"dtype": ft["dtype"], "_type": "Value"}
    if list(ft["shape"]) == [1]:
        return value
    return {"feature": value, "length": ft["shape"][0], "_type": "Sequence" if version == V21 else "List"}


def data_schema(features: dict[str, dict], version: str) -> pa.Schema:
    """Arrow schema of the data parquet files (video features are not columns)."""
    columns = {k: ft for k, ft in features.items() if ft["dtype"] != "video"}
    hf = {"info": {"features": {k: hf_feature_json(ft, version) for k, ft in columns.items()}}}
    return pa.schema([(k, arrow_type(ft)) for k, ft in columns.items()],
                     metadata={b"huggingface": json.dumps(hf).encode()})


# --------------------------------------------------------------------------------------------------
# Statistics (compute_stats.py)


def estimate_num_samples(n: int, min_samples: int = 100, max_samples: int = 10_000, power: float = 0.75) -> int:
    """How many frames of an episode LeRobot samples for image statistics."""
    if n < min_samples:
        min_samples = n
    return max(min_samples, min(int(n**power), max_samples))


def image_sample_indices(n: int) -> list[int]:
    """The frames whose images enter the episode's image statistics (LeRobot's ``sample_indices``)."""
    return np.round(np.linspace(0, n - 1, estimate_num_samples(n))).astype(int).tolist()


def downsample_for_stats(image_chw: np.ndarray, target: int = 150, threshold: int = 300) -> np.ndarray:
    """LeRobot's ``auto_downsample_height_width``: stride-subsample images of 300 px or more."""
    _, h, w = image_chw.shape
    if max(w, h) < threshold:
        return image_chw
    factor = int(w / target) if w > h else int(h / target)
    return image_chw[:, ::factor, ::factor]


def feature_stats(values: np.ndarray, quantiles: bool) -> dict[str, np.ndarray]:
    """min/max/mean/std/count over axis 0 (scalars keep a length-1 axis), plus quantiles for v3.0."""
    values = np.asarray(values)
    keep = values.ndim == 1
    stats = {
        "min": np.min(values, axis=0, keepdims=keep), "max": np.max(values, axis=0, keepdims=keep),
        "mean": np.mean(values, axis=0, keepdims=keep), "std": np.std(values, axis=0, keepdims=keep),
        "count": np.array([len(values)]),
    }  # fmt: skip
    if quantiles:
        for q in V3_QUANTILES:
            stats[f"q{int(q * 100):02d}"] = np.quantile(values, q, axis=0, keepdims=keep)
    return stats


def image_histogram(images_nchw: np.ndarray) -> np.ndarray:
    """int64 [C, 256]: each channel's pixel counts per value. Histograms of several batches add up."""
    if images_nchw.dtype != np.uint8:
        raise ValueError(f"image statistics need uint8 images, got {images_nchw.dtype}")
    return np.stack([np.bincount(images_nchw[:, c].ravel(), minlength=256) for c in range(images_nchw.shape[1])])


def image_stats(images_nchw: np.ndarray, quantiles: bool) -> dict[str, np.ndarray]:
    """Per-channel statistics of sampled uint8 images, scaled to [0, 1], shaped (3, 1, 1).

    Computed from each channel's 256-bin histogram: exactly numpy's min/max/mean/std (and its default "linear"
    quantiles) over the pixels, without a float copy of every sampled image.
    """
    return histogram_stats(image_histogram(images_nchw), len(images_nchw), quantiles)


def histogram_stats(hist: np.ndarray, images: int, quantiles: bool) -> dict[str, np.ndarray]:
    """:func:`image_stats` from the summed histogram of ``images`` images (so a long episode never holds
    its sampled images: the converter adds each sampled frame's histogram as it goes)."""
    channels = hist.shape[0]
    values = np.arange(256, dtype=np.float64)
    count = hist.sum(axis=1)
    mean = (hist * values).sum(axis=1) / count
    stats = {
        "min": np.array([np.flatnonzero(h)[0] for h in hist], np.float64),
        "max": np.array([np.flatnonzero(h)[-1] for h in hist], np.float64),
        "mean": mean, "std": np.sqrt((hist * (values - mean[:, None]) ** 2).sum(axis=1) / count),
    }  # fmt: skip
    if quantiles:
        cumulative = np.cumsum(hist, axis=1)
        for q in V3_QUANTILES:
            position = q * (count - 1)  # numpy "linear": between sorted elements floor(pos) and floor(pos) + 1
            low = np.floor(position).astype(np.int64)
            at = [np.searchsorted(cumulative[c], [low[c] + 1, min(low[c] + 2, count[c])]) for c in range(channels)]
            a, b = np.array(at, np.float64).T
            stats[f"q{int(q * 100):02d}"] = a + (position - low) * (b - a)
    out = {k: (v / 255.0).reshape(-1, 1, 1) for k, v in stats.items()}
    out["count"] = np.array([images])
    return out


def aggregate_stats(stats_list: list[dict[str, dict[str, np.ndarray]]]) -> dict[str, dict[str, np.ndarray]]:
    """Dataset statistics from episode statistics (LeRobot's ``aggregate_stats``: pooled mean and variance)."""
    out = {}
    for key in {k for s in stats_list for k in s}:
        parts = [s[key] for s in stats_list if key in s]
        means = np.stack([p["mean"] for p in parts])
        variances = np.stack([p["std"] ** 2 for p in parts])
        counts = np.stack([p["count"] for p in parts])
        total = counts.sum(axis=0)
        while counts.ndim < means.ndim:
            counts = counts[..., None]
        mean = (means * counts).sum(axis=0) / total
        variance = ((variances + (means - mean) ** 2) * counts).sum(axis=0) / total
        agg = {"min": np.min(np.stack([p["min"] for p in parts]), axis=0),
               "max": np.max(np.stack([p["max"] for p in parts]), axis=0),
               "mean": mean, "std": np.sqrt(variance), "count": total}  # fmt: skip
        for q in [k for k in parts[0] if k.startswith("q") and k[1:].isdigit()]:
            if all(q in p for p in parts):
                values = np.stack([p[q] for p in parts])
                # Exact global quantiles cannot be pooled; LeRobot keeps the envelope.
                agg[q] = values.min(axis=0) if int(q[1:]) <= 50 else values.max(axis=0)
        out[key] = agg
    return out


def to_json_stats(stats: dict[str, dict[str, np.ndarray]]) -> dict:
    """Nested lists for JSON (meta/stats.json, episodes_stats.jsonl)."""
    return {k: {s: np.asarray(v).tolist() for s, v in feat.items()} for k, feat in stats.items()}
