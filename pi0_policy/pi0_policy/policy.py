"""Pi0Policy: the plain-Python inference object (no ROS) around Pi0Model.

Order of operations, as openpi's ``create_trained_policy`` writes them once: images are resized with pad
and mapped to [-1, 1], absent cameras are masked (never faked), the prompt is tokenised, the state is
normalised and zero-padded; the model samples a chunk in model space; the chunk is cut to the robot's dims
and unnormalised.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .image_transforms import check_image, resize_with_pad, to_model_pixels
from .model.config import Pi0Config
from .model.pi0 import Pi0Model
from .model.rtc import RtcGuidance
from .model.tokenizer import PromptTokenizer, load_tokenizer
from .model.weights import load_checkpoint
from .normalize import NormStats, load_lerobot_norm_stats, load_norm_stats

# Camera slots in prefix order (openpi's base_0_rgb, left_wrist_0_rgb, right_wrist_0_rgb).
CAMERA_SLOTS = ("base", "left_wrist", "right_wrist")

__all__ = ["CAMERA_SLOTS", "InferenceResult", "Pi0Policy", "RtcGuidance", "find_norm_stats"]


@dataclass
class InferenceResult:
    """One chunk.

    Attributes:
        actions: float32 [H, d] in physical units, d = the robot's dims.
        normalized_actions: float32 [H, action_dim], the model's output (model space, padded).
        timing: milliseconds for "preprocess", "model", "postprocess" and "total".
    """

    actions: np.ndarray
    normalized_actions: np.ndarray
    timing: dict[str, float]


class Pi0Policy:
    """Images + state + prompt -> a chunk of actions in physical units."""

    def __init__(self, model: Pi0Model, tokenizer: PromptTokenizer, norm_stats: dict[str, NormStats] | None,
                 use_quantiles: bool = False, camera_slots: tuple[str, ...] | None = None,
                 norm_stats_source: str = ""):
        """Wrap a model.

        Args:
            model: the network (eval mode is set here).
            tokenizer: prompt tokenizer whose ids fit the model's embedding.
            norm_stats: {"state": NormStats, "actions": NormStats}; None means the robot's units already
                are model space (tests, or a policy trained on normalised data).
            use_quantiles: q01/q99 normalisation (π₀.5 style) instead of mean/std (π₀).
            camera_slots: slot names in prefix order; the first config.num_cameras of CAMERA_SLOTS by default.
            norm_stats_source: where the stats came from, for :meth:`describe`.
        """
        self.model = model.eval()
        self.config = model.config
        self.tokenizer = tokenizer
        if tokenizer.vocab_size > self.config.vocab_size:
            raise ValueError(f"tokenizer has {tokenizer.vocab_size} ids, the model embeds {self.config.vocab_size}")
        if norm_stats is not None:
            missing = {"state", "actions"} - set(norm_stats)
            if missing:
                raise ValueError(f"norm stats lack {sorted(missing)}")
            if use_quantiles and not all(s.has_quantiles for s in norm_stats.values()):
                raise ValueError("quantile normalisation needs q01/q99 for state and actions")
            for key, dim in (("state", self.config.state_dim), ("actions", self.config.action_dim)):
                if norm_stats[key].dim > dim:
                    raise ValueError(f"{key} norm stats have {norm_stats[key].dim} dims, the model {dim}")
        self.norm_stats = norm_stats
        self.use_quantiles = use_quantiles
        self.camera_slots = tuple(camera_slots or CAMERA_SLOTS[: self.config.num_cameras])
        self.norm_stats_source = norm_stats_source

    @classmethod
    def from_checkpoint(cls, folder: str | Path, asset_id: str | None = None, device: str = "cpu",
                        dtype: str | None = None, config: Pi0Config | None = None, **kwargs) -> Pi0Policy:
        """Load model, tokenizer and norm stats from a checkpoint folder.

        Args:
            folder: openpi (PyTorch-converted), LeRobot or pi0_ros checkpoint folder.
            asset_id: which ``assets/<asset_id>/norm_stats.json``; None picks the only one (or LeRobot's
                normaliser file when there is no assets folder).
            device: torch device.
            dtype: "float32"/"bfloat16" to override the checkpoint's dtype.
            config: the model config, for folders whose config.json cannot describe it (e.g. openpi's
                ``train_pytorch.py`` step folders have none; the action horizon is not in the weights).
            **kwargs: passed to the constructor (use_quantiles, camera_slots).
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"checkpoint folder not found: {folder}")
        model = load_checkpoint(folder, config=config, device=device, dtype=dtype)
        tokenizer = load_tokenizer(model.config, folder)
        stats, source = find_norm_stats(folder, asset_id)
        return cls(model, tokenizer, stats, norm_stats_source=source, **kwargs)

    # ----------------------------------------------------------------------------------------------

    @property
    def horizon(self) -> int:
        """Steps per chunk (H)."""
        return self.config.action_horizon

    @property
    def action_dim(self) -> int:
        """The model's (padded) action dimension; ``noise`` has shape [horizon, action_dim]."""
        return self.config.action_dim

    def describe(self) -> str:
        """One line for logs."""
        m, c = self.model, self.config
        stats = self.norm_stats_source or ("none" if self.norm_stats is None else "given")
        return (f"π₀ {c.name} ({m.num_parameters() / 1e6:.1f} M params, {c.dtype}, {m.device}), "
                f"horizon {c.action_horizon}, action_dim {c.action_dim}, cameras {list(self.camera_slots)}, "
                f"norm stats {stats}")  # fmt: skip

    def warmup(self) -> None:
        """One inference on dummy inputs so that the first real call is not cold."""
        size = self.config.image_size
        dim = self.norm_stats["state"].dim if self.norm_stats else self.config.state_dim
        images = {slot: np.zeros((size, size, 3), np.uint8) for slot in self.camera_slots}
        self.infer(images, np.zeros(dim, np.float32), "warm up")

    def infer(self, images: dict[str, np.ndarray | None], state: np.ndarray, prompt: str,
              noise: np.ndarray | None = None, rtc: RtcGuidance | None = None) -> InferenceResult:
        """Sample one chunk.

        Args:
            images: camera slot -> uint8 H×W×3 RGB of any size; None or a missing slot is an absent camera.
            state: float [d] in physical units (d = the dims the norm stats cover, <= state_dim).
            prompt: the instruction.
            noise: [horizon, action_dim] (or with a leading 1) standard-normal sample, for determinism.
            rtc: real-time-chunking guidance; prev_actions in physical units.

        Returns:
            InferenceResult with actions [H, d].

        Raises:
            ValueError: bad input (state size or non-finite values, malformed image, unknown slot, all
                cameras absent, bad noise shape).
        """
        t0 = time.perf_counter()
        dev = self.model.device
        pixels, present = self._prepare_images(images)
        state_model = self._normalize("state", self._check_state(state))
        tokens, token_mask = self.tokenizer.tokenize(prompt)
        noise_t = None if noise is None else torch.as_tensor(self._check_noise(noise), device=dev)
        guidance = None if rtc is None else self._model_space_guidance(rtc)
        batch = dict(
            images=torch.as_tensor(pixels[None], device=dev), image_masks=torch.as_tensor(present[None], device=dev),
            tokens=torch.as_tensor(tokens[None], device=dev), token_masks=torch.as_tensor(token_mask[None], device=dev),
            state=torch.as_tensor(state_model[None], dtype=torch.float32, device=dev),
        )  # fmt: skip
        t1 = time.perf_counter()
        chunk = self.model.sample_actions(**batch, noise=noise_t, guidance=guidance)  # [1, H, A]
        normalized = chunk[0].float().cpu().numpy()  # waits for the device
        t2 = time.perf_counter()
        d = self._action_dims(len(state))
        actions = self._unnormalize("actions", normalized[:, :d]).astype(np.float32)
        t3 = time.perf_counter()
        timing = {"preprocess": t1 - t0, "model": t2 - t1, "postprocess": t3 - t2, "total": t3 - t0}
        return InferenceResult(actions, normalized, {k: 1e3 * v for k, v in timing.items()})

    # ----------------------------------------------------------------------------------------------

    def _prepare_images(self, images: dict[str, np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
        unknown = sorted(set(images) - set(self.camera_slots))
        if unknown:
            raise ValueError(f"unknown camera slot(s) {unknown}; this policy has {list(self.camera_slots)}")
        size = self.config.image_size
        pixels = np.zeros((len(self.camera_slots), 3, size, size), np.float32)  # masked slots stay unused
        present = np.zeros(len(self.camera_slots), bool)
        for i, slot in enumerate(self.camera_slots):
            image = images.get(slot)
            if image is None:
                continue
            check_image(image, f"image {slot!r}")
            pixels[i] = to_model_pixels(resize_with_pad(image, size, size))
            present[i] = True
        if not present.any():
            raise ValueError(f"all cameras are absent; give at least one of {list(self.camera_slots)}")
        return pixels, present

    def _check_state(self, state: np.ndarray) -> np.ndarray:
        state = np.asarray(state, dtype=np.float64)
        if state.ndim != 1:
            raise ValueError(f"state must be a 1-D vector, got shape {state.shape}")
        if not np.all(np.isfinite(state)):
            raise ValueError(f"state has non-finite values at {np.flatnonzero(~np.isfinite(state)).tolist()}")
        expected = self.norm_stats["state"].dim if self.norm_stats else None
        if expected is not None and len(state) != expected:
            raise ValueError(f"state has {len(state)} dims, the norm stats cover {expected}")
        if not 1 <= len(state) <= self.config.state_dim:
            raise ValueError(f"state has {len(state)} dims; the model takes 1..{self.config.state_dim}")
        return state

    def _check_noise(self, noise: np.ndarray) -> np.ndarray:
        noise = np.asarray(noise, dtype=np.float32)
        shape = (self.horizon, self.action_dim)
        if noise.shape not in (shape, (1, *shape)):
            raise ValueError(f"noise must have shape {shape}, got {noise.shape}")
        return noise.reshape(1, *shape)

    def _action_dims(self, state_dims: int) -> int:
        return self.norm_stats["actions"].dim if self.norm_stats else min(state_dims, self.action_dim)

    def _normalize(self, key: str, x: np.ndarray) -> np.ndarray:
        if self.norm_stats is None:
            return x
        return self.norm_stats[key].normalize(x, self.use_quantiles)

    def _unnormalize(self, key: str, x: np.ndarray) -> np.ndarray:
        if self.norm_stats is None:
            return x
        return self.norm_stats[key].unnormalize(x, self.use_quantiles)

    def _model_space_guidance(self, rtc: RtcGuidance) -> RtcGuidance:
        prev = np.asarray(rtc.prev_actions, dtype=np.float64)
        if prev.ndim != 2 or len(prev) == 0 or not np.all(np.isfinite(prev)):
            raise ValueError(f"rtc.prev_actions must be a finite [k, d] array, got shape {prev.shape}")
        d = self.norm_stats["actions"].dim if self.norm_stats else self.action_dim
        if prev.shape[1] > d:
            raise ValueError(f"rtc.prev_actions has {prev.shape[1]} dims, the actions have {d}")
        return dataclasses.replace(rtc, prev_actions=self._normalize("actions", prev).astype(np.float32))


def find_norm_stats(folder: str | Path, asset_id: str | None = None) -> tuple[dict[str, NormStats], str]:
    """Norm stats of a checkpoint folder and a label saying where they came from.

    ``assets/<asset_id>/norm_stats.json`` (openpi); with no asset_id, the only asset there is; with no
    assets folder, LeRobot's normaliser file.
    """
    folder = Path(folder)
    assets = folder / "assets"
    if asset_id is not None:
        return load_norm_stats(assets / asset_id / "norm_stats.json"), f"assets/{asset_id}"
    found = sorted(p.parent.name for p in assets.glob("*/norm_stats.json")) if assets.is_dir() else []
    if len(found) == 1:
        return load_norm_stats(assets / found[0]), f"assets/{found[0]}"
    if len(found) > 1:
        raise ValueError(f"{folder} has norm stats for several assets {found}; choose one with asset_id")
    try:
        return load_lerobot_norm_stats(folder), "LeRobot normaliser"
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{folder}: no assets/<asset_id>/norm_stats.json and no LeRobot normaliser file") from None
