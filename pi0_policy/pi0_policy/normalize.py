"""State/action normalisation with openpi's statistics file (``assets/<asset_id>/norm_stats.json``).

Format and maths follow openpi (``src/openpi/shared/normalize.py``, ``transforms.py`` Normalize/Unnormalize):

    {"norm_stats": {"state": {"mean": [...], "std": [...], "q01": [...], "q99": [...]}, "actions": {...}}}

z-score:  (x − mean) / (std + 1e-6)              inverse  x·(std + 1e-6) + mean
quantile: (x − q01) / (q99 − q01 + 1e-6)·2 − 1   inverse  (x + 1)/2·(q99 − q01 + 1e-6) + q01

π₀ checkpoints use z-score; π₀.5 and π₀-FAST use quantiles. Vectors have the robot's dimension, not the
padded model dimension.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EPS = 1e-6  # openpi's epsilon (LeRobot uses 1e-8; the difference is far below action precision)


@dataclass(frozen=True)
class NormStats:
    """Statistics of one vector (state or actions) over a dataset."""

    mean: np.ndarray
    std: np.ndarray
    q01: np.ndarray | None = None
    q99: np.ndarray | None = None

    def __post_init__(self):
        for name in ("mean", "std", "q01", "q99"):
            value = getattr(self, name)
            if value is None:
                continue
            array = np.asarray(value, dtype=np.float64)
            if array.ndim != 1 or not np.all(np.isfinite(array)):
                raise ValueError(f"norm stats {name} must be a finite 1-D vector, got shape {array.shape}")
            object.__setattr__(self, name, array)
        if self.std.shape != self.mean.shape:
            raise ValueError(f"norm stats std has {self.std.shape[0]} dims, mean has {self.mean.shape[0]}")
        if (self.q01 is None) != (self.q99 is None):
            raise ValueError("norm stats need both q01 and q99, or neither")
        if self.q01 is not None and not (self.q01.shape == self.q99.shape == self.mean.shape):
            raise ValueError("norm stats q01/q99 must have the dims of mean")

    @property
    def dim(self) -> int:
        """Number of dimensions the statistics cover."""
        return self.mean.shape[0]

    @property
    def has_quantiles(self) -> bool:
        """Whether q01/q99 are present."""
        return self.q01 is not None

    def normalize(self, x: np.ndarray, use_quantiles: bool = False) -> np.ndarray:
        """Physical units -> model space over the last axis (its first x.shape[-1] stats are used)."""
        d = np.shape(x)[-1]
        if d > self.dim:
            raise ValueError(f"vector has {d} dims but the norm stats cover {self.dim}")
        if use_quantiles:
            q01, q99 = self._quantiles()
            return (x - q01[:d]) / (q99[:d] - q01[:d] + EPS) * 2.0 - 1.0
        return (x - self.mean[:d]) / (self.std[:d] + EPS)

    def unnormalize(self, x: np.ndarray, use_quantiles: bool = False) -> np.ndarray:
        """Model space -> physical units; dims beyond the stats pass through (as openpi does)."""
        d = min(np.shape(x)[-1], self.dim)
        head, tail = x[..., :d], x[..., d:]
        if use_quantiles:
            q01, q99 = self._quantiles()
            head = (head + 1.0) / 2.0 * (q99[:d] - q01[:d] + EPS) + q01[:d]
        else:
            head = head * (self.std[:d] + EPS) + self.mean[:d]
        return np.concatenate([head, tail], axis=-1) if tail.shape[-1] else head

    def _quantiles(self) -> tuple[np.ndarray, np.ndarray]:
        if self.q01 is None:
            raise ValueError("quantile normalisation needs q01/q99 in norm_stats.json")
        return self.q01, self.q99

    def to_dict(self) -> dict:
        """JSON-ready dict in openpi's field names."""
        out = {"mean": self.mean.tolist(), "std": self.std.tolist()}
        if self.q01 is not None:
            out.update(q01=self.q01.tolist(), q99=self.q99.tolist())
        return out


def compute_norm_stats(values: np.ndarray) -> NormStats:
    """Statistics of samples [N, d]: mean, std (population) and the 1st/99th percentiles."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or len(values) == 0:
        raise ValueError(f"need samples of shape [N, d], got {values.shape}")
    return NormStats(mean=values.mean(0), std=values.std(0), q01=np.quantile(values, 0.01, axis=0),
                     q99=np.quantile(values, 0.99, axis=0))


def load_norm_stats(path: str | Path) -> dict[str, NormStats]:
    """Read norm_stats.json (or a folder holding it): {"state": NormStats, "actions": NormStats, ...}."""
    path = Path(path)
    if path.is_dir():
        path = path / "norm_stats.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"norm stats file not found: {path}") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("norm_stats"), dict):
        raise ValueError(f'{path}: expected {{"norm_stats": {{"state": ..., "actions": ...}}}}')
    stats = {}
    for key, fields in data["norm_stats"].items():
        try:
            stats[key] = NormStats(mean=fields["mean"], std=fields["std"], q01=fields.get("q01"),
                                   q99=fields.get("q99"))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path}: bad entry {key!r}: {e}") from None
    return stats


def save_norm_stats(path: str | Path, stats: dict[str, NormStats]) -> Path:
    """Write stats in openpi's format; ``path`` is the file or the folder to hold norm_stats.json."""
    path = Path(path)
    if path.suffix != ".json":
        path = path / "norm_stats.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"norm_stats": {k: v.to_dict() for k, v in stats.items()}}, indent=2))
    return path


# LeRobot keeps the dataset statistics of its normaliser step in a safetensors file beside the model,
# with flat keys "<feature>.<stat>" (``processor/normalize_processor.py`` ``state_dict``).
LEROBOT_STATS_GLOB = "policy_preprocessor*normalizer_processor.safetensors"
LEROBOT_FEATURES = {"state": "observation.state", "actions": "action"}


def load_lerobot_norm_stats(folder: str | Path) -> dict[str, NormStats]:
    """Read the state/action statistics of a LeRobot checkpoint folder's normaliser file."""
    from safetensors.numpy import load_file

    files = sorted(Path(folder).glob(LEROBOT_STATS_GLOB))
    if not files:
        raise FileNotFoundError(f"no {LEROBOT_STATS_GLOB} in {folder}")
    flat = load_file(str(files[0]))
    stats = {}
    for ours, theirs in LEROBOT_FEATURES.items():
        fields = {s: flat.get(f"{theirs}.{s}") for s in ("mean", "std", "q01", "q99")}
        if fields["mean"] is None or fields["std"] is None:
            raise ValueError(f"{files[0]}: no {theirs}.mean / {theirs}.std")
        if fields["q01"] is None or fields["q99"] is None:
            fields["q01"] = fields["q99"] = None
        stats[ours] = NormStats(**{k: None if v is None else v.reshape(-1) for k, v in fields.items()})
    return stats
