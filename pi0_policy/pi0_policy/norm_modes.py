"""Normalisation modes of released checkpoints, each with the arithmetic of the code that trained it.

Modes (LeRobot's ``normalization_mapping`` names, lower case; openpi uses mean_std for π₀ and
quantiles for π₀.5 / π₀-FAST):

    mean_std     z = (x - mean) / (std + eps_in)          x = z * (std + eps_out) + mean
    quantiles    z = 2 (x - q01) / span - 1, span = q99 - q01 (+ eps)
    quantile10   as quantiles with q10 / q90
    min_max      as quantiles with min / max
    identity     z = x

The two flavours differ only in where the epsilon goes:
    openpi   eps = 1e-6 added to std (both ways) and to the quantile span (both ways);
    lerobot  eps = 1e-8 added to std on the way in only; a span is replaced by eps only where it is 0.
So the same statistics give the same numbers as the checkpoint's own code, to float rounding.

Pure numpy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MODES = ("mean_std", "quantiles", "quantile10", "min_max", "identity")
FLAVOURS = ("openpi", "lerobot")
# which statistics each mode reads: (low/centre, high/scale)
_STATS = {"mean_std": ("mean", "std"), "quantiles": ("q01", "q99"), "quantile10": ("q10", "q90"),
          "min_max": ("min", "max"), "identity": ()}
_EPS = {"openpi": 1e-6, "lerobot": 1e-8}


def parse_mode(value: str, field: str) -> str:
    """A mode name from a conventions file or a LeRobot config (MEAN_STD, QUANTILES, ...)."""
    mode = str(value).strip().lower()
    if mode not in MODES:
        raise ValueError(f"{field}: unknown normalisation mode {value!r}; one of {', '.join(MODES)}")
    return mode


@dataclass(frozen=True)
class FeatureNorm:
    """How one vector (state or actions) is normalised: the mode, the flavour and its statistics."""

    mode: str
    flavour: str = "openpi"
    stats: dict[str, np.ndarray] | None = None

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"unknown normalisation mode {self.mode!r}")
        if self.flavour not in FLAVOURS:
            raise ValueError(f"unknown normalisation flavour {self.flavour!r}")
        needed = _STATS[self.mode]
        have = self.stats or {}
        missing = [k for k in needed if have.get(k) is None]
        if missing:
            raise ValueError(f"{self.mode} normalisation needs statistics {missing}; the file has "
                             f"{sorted(k for k, v in have.items() if v is not None)}")
        if needed and len({np.shape(have[k]) for k in needed}) != 1:
            raise ValueError(f"{self.mode} statistics {needed} differ in length")

    @property
    def dim(self) -> int | None:
        """Dims the statistics cover (None for identity)."""
        needed = _STATS[self.mode]
        return len(self.stats[needed[0]]) if needed else None

    def normalize(self, x: np.ndarray) -> np.ndarray:
        """Data space -> model space over the last axis (the first x.shape[-1] statistics are used)."""
        x = np.asarray(x, dtype=np.float64)
        if self.mode == "identity":
            return x
        d = x.shape[-1]
        if d > self.dim:
            raise ValueError(f"vector has {d} dims, the {self.mode} statistics cover {self.dim}")
        lo, hi = (self.stats[k][:d].astype(np.float64) for k in _STATS[self.mode])
        eps = _EPS[self.flavour]
        if self.mode == "mean_std":
            return (x - lo) / (hi + eps)
        return 2.0 * (x - lo) / self._span(lo, hi, eps) - 1.0

    def unnormalize(self, z: np.ndarray) -> np.ndarray:
        """Model space -> data space; dims beyond the statistics pass through unchanged."""
        z = np.asarray(z, dtype=np.float64)
        if self.mode == "identity":
            return z
        d = min(z.shape[-1], self.dim)
        lo, hi = (self.stats[k][:d].astype(np.float64) for k in _STATS[self.mode])
        eps = _EPS[self.flavour]
        head = z[..., :d]
        if self.mode == "mean_std":
            head = head * (hi + (eps if self.flavour == "openpi" else 0.0)) + lo
        else:
            head = (head + 1.0) / 2.0 * self._span(lo, hi, eps) + lo
        return np.concatenate([head, z[..., d:]], axis=-1)

    def _span(self, lo: np.ndarray, hi: np.ndarray, eps: float) -> np.ndarray:
        span = hi - lo
        if self.flavour == "openpi":
            return span + eps
        return np.where(span == 0, eps, span)


def load_openpi_stats(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """``norm_stats.json`` (or its folder) -> {"state": {"mean": ..., ...}, "actions": {...}}."""
    path = Path(path)
    if path.is_dir():
        path = path / "norm_stats.json"
    if not path.is_file():
        raise FileNotFoundError(f"norm stats file not found: {path}")
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("norm_stats"), dict):
        raise ValueError(f'{path}: expected {{"norm_stats": {{"state": ..., "actions": ...}}}}')
    return {key: {k: np.asarray(v, np.float64).reshape(-1) for k, v in fields.items() if v is not None}
            for key, fields in data["norm_stats"].items()}


LEROBOT_KEYS = {"state": "observation.state", "actions": "action"}


def load_lerobot_stats(folder: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """A LeRobot checkpoint's normaliser statistics -> {"state": {...}, "actions": {...}}, every statistic
    the file has (mean, std, min, max, q01, q99, q10, q90, ...)."""
    from safetensors.numpy import load_file

    from .normalize import LEROBOT_STATS_GLOB

    files = sorted(Path(folder).glob(LEROBOT_STATS_GLOB))
    if not files:
        raise FileNotFoundError(f"no {LEROBOT_STATS_GLOB} in {folder}")
    flat = load_file(str(files[0]))
    out: dict[str, dict[str, np.ndarray]] = {}
    for ours, theirs in LEROBOT_KEYS.items():
        prefix = theirs + "."
        out[ours] = {k[len(prefix):]: v.reshape(-1).astype(np.float64) for k, v in flat.items()
                     if k.startswith(prefix)}
    return out
