"""A π₀ policy that applies a checkpoint's conventions around the network.

Three spaces:
    robot    the embodiment's unified units (joints rad, grippers 0 = open, cameras by embodiment slot);
    data     the checkpoint's training data (ALOHA, DROID or the embodiment's space; cameras by the
             training names); what openpi clients send and get back;
    model    normalised, after ALOHA's adaptation and the delta transform, images by model slot.

Inputs  robot -> data (gripper direction) -> adapt_to_pi -> normalise state.
Outputs unnormalise -> + state at chunk start on the delta mask -> back from the π space -> data; for
        the robot also velocities -> positions (integrated from the state at the checkpoint's rate) and
        gripper direction.
Openpi keeps the state it adds to delta actions in the adapted space, as here.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import convention_math as cm
from .conventions import MODEL_SLOTS, Conventions, ConventionsError
from .image_transforms import check_image, resize_with_pad, to_model_pixels
from .model.rtc import RtcGuidance
from .norm_modes import FeatureNorm, load_lerobot_stats, load_openpi_stats
from .policy import InferenceResult, Pi0Policy


@dataclass
class Prepared:
    """One sample's model inputs, and its state in the adapted space (for delta actions)."""

    pixels: np.ndarray
    present: np.ndarray
    tokens: np.ndarray
    token_mask: np.ndarray
    state: np.ndarray
    adapted_state: np.ndarray


@dataclass
class Sample:
    """One request in data space: state [state_dim], images by model slot (None = absent), prompt."""

    state: np.ndarray
    images: dict[str, np.ndarray | None]
    prompt: str


def load_stats(folder: str | Path, conv: Conventions) -> dict[str, dict[str, np.ndarray]]:
    """The statistics the conventions name: ``assets/<asset_id>/norm_stats.json`` or LeRobot's file."""
    folder = Path(folder)
    if conv.asset_id:
        path = folder / "assets" / conv.asset_id / "norm_stats.json"
        if not path.is_file():
            have = sorted(p.parent.name for p in (folder / "assets").glob("*/norm_stats.json"))
            raise ConventionsError(f"conventions field 'norm.asset_id': {path} not found"
                                   + (f"; the checkpoint has {have}" if have else ""))
        return load_openpi_stats(path)
    if conv.norm_state == conv.norm_actions == "identity":
        return {}
    try:
        return load_lerobot_stats(folder)
    except FileNotFoundError:
        raise ConventionsError(f"conventions field 'norm.asset_id': not set and {folder} has no LeRobot "
                               f"normaliser file") from None


class ConventionPolicy:
    """Pi0Policy's network, fed and read through a checkpoint's conventions."""

    def __init__(self, policy: Pi0Policy, conv: Conventions, stats: dict[str, dict[str, np.ndarray]]):
        if policy.norm_stats is not None:
            raise ValueError("ConventionPolicy normalises itself: give it a Pi0Policy without norm stats")
        cfg = policy.config
        if conv.action_horizon != cfg.action_horizon:
            raise ConventionsError(f"conventions field 'action_horizon': {conv.action_horizon}, but the model "
                                   f"predicts {cfg.action_horizon} steps")
        if conv.state_dim > cfg.state_dim or conv.action_dim > cfg.action_dim:
            raise ConventionsError(f"conventions fields 'state_dim'/'action_dim': {conv.state_dim}/"
                                   f"{conv.action_dim} exceed the model's {cfg.state_dim}/{cfg.action_dim}")
        slots = MODEL_SLOTS[: cfg.num_cameras]
        extra = sorted(set(conv.cameras) - set(slots))
        if extra:
            raise ConventionsError(f"conventions field 'cameras': {extra} but the model has slots {list(slots)}")
        self.policy, self.conv, self.model, self.config = policy, conv, policy.model, cfg
        flavour = conv.normalization_flavour
        try:
            self.state_norm = FeatureNorm(conv.norm_state, flavour, stats.get("state"))
            self.action_norm = FeatureNorm(conv.norm_actions, flavour, stats.get("actions"))
        except ValueError as e:
            raise ConventionsError(f"conventions field 'norm': {e}") from None
        for key, norm, field in (("state", self.state_norm, "state_dim"), ("actions", self.action_norm, "action_dim")):
            dim = getattr(conv, field)
            if norm.dim is not None and norm.dim < dim:
                raise ConventionsError(f"conventions field '{field}': {dim}, the {key} statistics cover {norm.dim}")
        self.camera_slots = tuple(s for s in slots if s in conv.cameras)
        # pi0_ros/embodiment naming of the node's inputs: which embodiment camera feeds each slot
        self.robot_cameras = {slot: conv.robot_camera_for(conv.cameras[slot]) for slot in self.camera_slots}

    @classmethod
    def from_checkpoint(cls, folder: str | Path, conv: Conventions, device: str = "cpu",
                        dtype: str | None = None) -> ConventionPolicy:
        from .model.tokenizer import load_tokenizer
        from .model.weights import load_checkpoint

        model = load_checkpoint(Path(folder), device=device, dtype=dtype)
        policy = Pi0Policy(model, load_tokenizer(model.config, folder), None, norm_stats_source=conv.name)
        return cls(policy, conv, load_stats(folder, conv))

    # ------------------------------------------------------------------ what the node reads
    @property
    def horizon(self) -> int:
        return self.policy.horizon

    @property
    def action_dim(self) -> int:
        return self.policy.action_dim

    def describe(self) -> str:
        return f"{self.policy.describe()}; {self.conv.describe()}"

    def warmup(self) -> None:
        size = self.config.image_size
        images = {s: np.zeros((size, size, 3), np.uint8) for s in self.camera_slots}
        self.infer_data([Sample(np.zeros(self.conv.state_dim), images, "warm up")])

    # ------------------------------------------------------------------ data space (server)
    def prepare(self, sample: Sample) -> Prepared:
        """Check and convert one data-space sample to model inputs (numpy; cheap to batch later).

        Raises:
            ValueError: the state, an image or the prompt is malformed (the text says which).
        """
        state_model, adapted = self.state_to_model(sample.state)
        pixels, present = self._pixels(sample.images)
        tokens, mask = self.policy.tokenizer.tokenize(self._prompt(sample.prompt), self.conv.prompt_format)
        return Prepared(pixels, present, tokens, mask, state_model.astype(np.float32), adapted)

    def run(self, batch: list[Prepared], noise: np.ndarray | None = None,
            guidance: RtcGuidance | None = None) -> list[np.ndarray]:
        """Prepared samples -> data-space chunks [H, action_dim], one network call for the batch."""
        dev = self.model.device
        tensors = dict(images=np.stack([p.pixels for p in batch]), image_masks=np.stack([p.present for p in batch]),
                       tokens=np.stack([p.tokens for p in batch]), token_masks=np.stack([p.token_mask for p in batch]),
                       state=np.stack([p.state for p in batch]))
        tensors = {k: torch.as_tensor(v, device=dev) for k, v in tensors.items()}
        noise_t = None
        if noise is not None:
            shape = (len(batch), self.horizon, self.action_dim)
            noise_t = torch.as_tensor(np.asarray(noise, np.float32).reshape(shape), device=dev)
        with torch.inference_mode():
            out = self.model.sample_actions(**tensors, noise=noise_t, guidance=guidance).float().cpu().numpy()
        return [self.actions_from_model(out[i], p.adapted_state) for i, p in enumerate(batch)]

    def infer_data(self, samples: list[Sample], noise: np.ndarray | None = None,
                   guidance: RtcGuidance | None = None) -> tuple[list[np.ndarray], dict[str, float]]:
        """A batch of data-space samples -> data-space chunks and timings in ms."""
        t0 = time.perf_counter()
        prepared = [self.prepare(s) for s in samples]
        t1 = time.perf_counter()
        chunks = self.run(prepared, noise, guidance)
        t2 = time.perf_counter()
        return chunks, {"preprocess": 1e3 * (t1 - t0), "model+postprocess": 1e3 * (t2 - t1)}

    def _prompt(self, prompt: str | None) -> str:
        if prompt is None or not str(prompt).strip():
            if self.conv.default_prompt:
                return self.conv.default_prompt
            raise ValueError("no prompt, and the conventions have no default_prompt")
        return str(prompt)

    def _pixels(self, images: dict[str, np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
        size, slots = self.config.image_size, MODEL_SLOTS[: self.config.num_cameras]
        pixels = np.zeros((len(slots), 3, size, size), np.float32)
        present = np.zeros(len(slots), bool)
        for i, slot in enumerate(slots):
            image = images.get(slot) if slot in self.camera_slots else None
            if image is None:
                continue
            check_image(image, f"image {self.conv.cameras[slot]!r}")
            pixels[i] = to_model_pixels(resize_with_pad(image, size, size))
            present[i] = True
        if not present.any():
            raise ValueError(f"no image: give at least one of {[self.conv.cameras[s] for s in self.camera_slots]}")
        return pixels, present

    def state_to_model(self, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Data-space state -> (normalised model state, state in the adapted space)."""
        state = np.asarray(state, dtype=np.float64)
        if state.shape != (self.conv.state_dim,):
            raise ValueError(f"state must have shape ({self.conv.state_dim},), got {state.shape}")
        if not np.all(np.isfinite(state)):
            raise ValueError(f"state has non-finite values at {np.flatnonzero(~np.isfinite(state)).tolist()}")
        adapted = cm.aloha_state_to_pi(state) if self.conv.adapt_to_pi else state
        return self.state_norm.normalize(adapted), adapted

    def actions_from_model(self, model_actions: np.ndarray, adapted_state: np.ndarray) -> np.ndarray:
        """Model-space chunk [H, >= action_dim] -> data-space chunk [H, action_dim]."""
        c = self.conv
        actions = self.action_norm.unnormalize(np.asarray(model_actions, np.float64)[:, : c.action_dim])
        if c.actions == "delta":
            actions = cm.delta_to_absolute(actions, adapted_state, c.delta_mask)
        return cm.pi_actions_to_aloha(actions) if c.adapt_to_pi else actions

    def actions_to_model(self, actions: np.ndarray, state: np.ndarray) -> np.ndarray:
        """Data-space actions [k, action_dim] -> model space (for RTC's committed actions)."""
        c = self.conv
        adapted_state = self.state_to_model(state)[1]
        actions = np.asarray(actions, np.float64)
        actions = cm.aloha_actions_to_pi(actions) if c.adapt_to_pi else actions
        if c.actions == "delta":
            actions = cm.absolute_to_delta(actions, adapted_state, c.delta_mask)
        return self.action_norm.normalize(actions)

    # ------------------------------------------------------------------ robot space (node)
    def state_robot_to_data(self, state: np.ndarray) -> np.ndarray:
        state = np.asarray(state, np.float64)
        return cm.flip_grippers(state, self.conv.gripper_dims) if self.conv.gripper_open == 1 else state

    def actions_data_to_robot(self, actions: np.ndarray, state_data: np.ndarray) -> np.ndarray:
        c = self.conv
        if c.actions == "velocity":
            actions = cm.integrate_velocities(actions, state_data, c.velocity_mask, c.dt)
        return cm.flip_grippers(actions, c.gripper_dims) if c.gripper_open == 1 else actions

    def actions_robot_to_data(self, actions: np.ndarray, state_data: np.ndarray) -> np.ndarray:
        c = self.conv
        actions = cm.flip_grippers(actions, c.gripper_dims) if c.gripper_open == 1 else np.asarray(actions)
        if c.actions == "velocity":
            actions = cm.differentiate_positions(actions, state_data, c.velocity_mask, c.dt)
        return actions

    def infer(self, images: dict[str, np.ndarray | None], state: np.ndarray, prompt: str,
              noise: np.ndarray | None = None, rtc: RtcGuidance | None = None) -> InferenceResult:
        """The node's call: embodiment cameras and unified state in, a chunk in robot units out."""
        unknown = sorted(set(images) - set(self.robot_cameras.values()))
        if unknown:
            raise ValueError(f"camera(s) {unknown} feed no model slot; the conventions map "
                             f"{self.robot_cameras}")
        state_data = self.state_robot_to_data(state)
        sample = Sample(state_data, {slot: images.get(cam) for slot, cam in self.robot_cameras.items()}, prompt)
        guidance = None
        if rtc is not None:
            prev = self.actions_robot_to_data(np.asarray(rtc.prev_actions, np.float64), state_data)
            guidance = dataclasses.replace(rtc, prev_actions=self.actions_to_model(prev, state_data).astype(np.float32))
        t0 = time.perf_counter()
        (chunk,), timing = self.infer_data([sample], noise, guidance)
        actions = self.actions_data_to_robot(chunk, state_data).astype(np.float32)
        timing["total"] = 1e3 * (time.perf_counter() - t0)
        return InferenceResult(actions, chunk.astype(np.float32), timing)


def check_embodiment(conv: Conventions, emb, timing: bool = True) -> None:
    """Refuse conventions that do not fit the robot; the text names the field. ``timing`` also checks the
    control rate and executed steps (the node executes the chunks; a server's client does)."""
    if conv.state_dim != emb.valid_dims or conv.action_dim != emb.valid_dims:
        raise ConventionsError(f"conventions fields 'state_dim'/'action_dim': {conv.state_dim}/{conv.action_dim}, "
                               f"but {emb.name} has {emb.valid_dims} dims")
    grippers = tuple(emb.indices("gripper"))
    if tuple(conv.gripper_dims) != grippers:
        raise ConventionsError(f"conventions field 'gripper_dims': {list(conv.gripper_dims)}, but {emb.name}'s "
                               f"grippers are at {list(grippers)}")
    if timing and abs(conv.control_rate_hz - emb.control_rate_hz) > 1e-6:
        raise ConventionsError(
            f"conventions field 'control_rate_hz': the checkpoint was trained at {conv.control_rate_hz:g} Hz, "
            f"{emb.name} runs at {emb.control_rate_hz:g} Hz: use an embodiment file with control_rate_hz "
            f"{conv.control_rate_hz:g} and executed_steps <= {conv.action_horizon} for this checkpoint")
    if timing and emb.executed_steps > conv.action_horizon:
        raise ConventionsError(f"conventions field 'action_horizon': {conv.action_horizon} steps, fewer than the "
                               f"{emb.executed_steps} {emb.name} executes (set executed_steps <= "
                               f"{conv.action_horizon}; the checkpoint's authors execute {conv.executed_steps})")
    missing = [cam for cam in (conv.robot_camera_for(conv.cameras[s]) for s in conv.cameras)
               if cam not in emb.camera_slots]
    if missing:
        raise ConventionsError(f"conventions field 'robot_cameras': {missing} are not cameras of {emb.name} "
                               f"({', '.join(emb.camera_slots)}); map each training camera to one")
