"""Checkpoint folders of a run: loadable by Pi0Policy.from_checkpoint, resumable by the trainer.

    <out>/checkpoints/step_000500/
        model.safetensors, pi0_ros_config.json, config.json   the EMA weights (raw ones without EMA), as the model
        tokenizer.model                                        the prompt tokenizer
        assets/<asset_id>/norm_stats.json                      one per robot of the mixture (openpi's format)
        train_state.pt                                         raw weights, optimizer, schedule, step: for --resume
        train_config.json, datasets.json                       how the run was made
    <out>/checkpoints/latest                                   name of the newest complete checkpoint

A checkpoint is written into a temporary folder and renamed when complete, so an interrupted save never
leaves a half-written folder that --resume would pick up.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch

from ..model.config import Pi0Config
from ..model.pi0 import Pi0Model
from ..model.weights import save_checkpoint
from ..normalize import NormStats, save_norm_stats

CHECKPOINTS = "checkpoints"
LATEST = "latest"
TRAIN_STATE = "train_state.pt"


def step_name(step: int) -> str:
    """Folder name of a step's checkpoint."""
    return f"step_{step:06d}"


def export_model(state: dict[str, torch.Tensor], config: Pi0Config) -> Pi0Model:
    """A CPU Pi0Model in ``config``'s dtype policy holding ``state`` (our parameter names), strictly."""
    with torch.device("meta"):
        model = Pi0Model(config)
    model.to_empty(device="cpu")
    model.vision_tower.reset_buffers()
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k != "vision_tower.embeddings.position_ids"]  # a non-persistent buffer
    if missing or unexpected:
        raise RuntimeError(f"export: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model.eval()


def save(out: str | Path, step: int, weights: dict[str, torch.Tensor], config: Pi0Config,
         norm_stats: dict[str, dict[str, NormStats]], tokenizer_file: str | Path, train_state: dict,
         train_config: dict, datasets: list[dict], keep_last: int = 0) -> Path:
    """Write one checkpoint (rank 0 only) and point ``latest`` at it.

    Args:
        out: the run folder.
        step: optimizer steps done.
        weights: the model's weights to save (EMA), our parameter names, full (unsharded) tensors.
        config: the model config to save them under (its dtype is the one inference uses).
        norm_stats: asset id -> {"state": ..., "actions": ...}.
        tokenizer_file: SentencePiece model copied as tokenizer.model.
        train_state: what --resume needs (raw weights, optimizer, scheduler, step, ...).
        train_config, datasets: provenance, written as JSON.
        keep_last: delete older checkpoints beyond this many (0 keeps all).
    """
    root = Path(out) / CHECKPOINTS
    final = root / step_name(step)
    tmp = root / f".{step_name(step)}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    save_checkpoint(export_model(weights, config), tmp, tokenizer_file=tokenizer_file)
    for asset, stats in norm_stats.items():
        save_norm_stats(tmp / "assets" / asset, stats)
    torch.save(train_state, tmp / TRAIN_STATE)
    (tmp / "train_config.json").write_text(json.dumps(train_config, indent=2))
    (tmp / "datasets.json").write_text(json.dumps(datasets, indent=2))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    (root / (LATEST + ".tmp")).write_text(final.name + "\n")
    os.replace(root / (LATEST + ".tmp"), root / LATEST)
    if keep_last > 0:
        for old in sorted(p for p in root.glob("step_*") if p.is_dir())[:-keep_last]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def latest(out: str | Path) -> Path | None:
    """The newest complete checkpoint of a run, None when there is none."""
    root = Path(out) / CHECKPOINTS
    pointer = root / LATEST
    if pointer.is_file():
        folder = root / pointer.read_text().strip()
        if (folder / TRAIN_STATE).is_file():
            return folder
    found = sorted(p for p in root.glob("step_*") if (p / TRAIN_STATE).is_file()) if root.is_dir() else []
    return found[-1] if found else None


def load_train_state(folder: str | Path) -> dict:
    """The resume state saved with a checkpoint."""
    path = Path(folder) / TRAIN_STATE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no training state (is this a pi0_ros training checkpoint?)")
    return torch.load(path, map_location="cpu", weights_only=True)
