"""The policy a server runs: always a ConventionPolicy. A checkpoint without conventions (a pi0_ros
checkpoint, ``default``, ``random:<config>``) is served in the embodiment's own space and units."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from pi0_common.embodiment import Embodiment
from pi0_policy.convention_policy import ConventionPolicy, check_embodiment
from pi0_policy.conventions import MODEL_SLOTS, Conventions, ConventionsError, conventions_from_dict
from pi0_policy.loading import (
    RANDOM_PREFIX,
    PolicyLoadError,
    default_checkpoint_dir,
    random_convention_stats,
    random_norm_stats,
    resolve_conventions,
)
from pi0_policy.model.config import get_config
from pi0_policy.model.pi0 import Pi0Model
from pi0_policy.model.tokenizer import load_tokenizer
from pi0_policy.policy import Pi0Policy


def embodiment_conventions(emb: Embodiment, horizon: int, num_cameras: int, name: str,
                           quantiles: bool = False) -> Conventions:
    """pi0_ros's own convention for an embodiment: absolute actions in its units, cameras by slot."""
    slots = [s for s in MODEL_SLOTS[:num_cameras] if s in emb.camera_slots]
    mode = "quantiles" if quantiles else "mean_std"
    return conventions_from_dict(dict(
        name=name, source="pi0_ros", layout="embodiment", state_dim=emb.valid_dims, action_dim=emb.valid_dims,
        actions="absolute", gripper_dims=emb.indices("gripper"), gripper_open=0,
        norm={"state": mode, "actions": mode}, cameras={s: s for s in slots}, action_horizon=horizon,
        control_rate_hz=emb.control_rate_hz, executed_steps=min(emb.executed_steps, horizon)), name)


def load_serving_policy(checkpoint: str, emb: Embodiment, conventions: str = "", asset_id: str | None = None,
                        device: str = "cpu", dtype: str | None = None, seed: int = 0) -> ConventionPolicy:
    """The ConventionPolicy for ``--checkpoint`` / ``--conventions`` (checked against the embodiment's dims,
    grippers and cameras; its rate is the client's business)."""
    conv = resolve_conventions(conventions, checkpoint, emb)
    try:
        if conv is not None:
            check_embodiment(conv, emb, timing=False)
        if checkpoint.startswith(RANDOM_PREFIX):
            config = get_config(checkpoint[len(RANDOM_PREFIX):])
            if conv is not None:
                config = dataclasses.replace(config, action_horizon=conv.action_horizon)
            torch.manual_seed(seed)
            model = Pi0Model(config).to(device)
            plain = Pi0Policy(model, load_tokenizer(config), None, norm_stats_source=f"random ({emb.name} home)")
            if conv is None:
                conv = embodiment_conventions(emb, config.action_horizon, config.num_cameras, checkpoint)
                stats = {k: {"mean": v.mean, "std": v.std} for k, v in random_norm_stats(emb).items()}
            else:
                stats = random_convention_stats(conv, emb)
            return ConventionPolicy(plain, conv, stats)
        folder = default_checkpoint_dir() if checkpoint == "default" else Path(checkpoint).expanduser()
        if not folder.is_dir():
            raise PolicyLoadError(f"checkpoint folder not found at {folder}")
        if conv is not None:
            return ConventionPolicy.from_checkpoint(folder, conv, device=device, dtype=dtype)
        plain = Pi0Policy.from_checkpoint(folder, asset_id=asset_id, device=device, dtype=dtype)
        stats = {k: {f: np.asarray(getattr(v, f)) for f in ("mean", "std", "q01", "q99") if getattr(v, f) is not None}
                 for k, v in plain.norm_stats.items()}
        conv = embodiment_conventions(emb, plain.horizon, plain.config.num_cameras, str(checkpoint),
                                      plain.use_quantiles)
        return ConventionPolicy(Pi0Policy(plain.model, plain.tokenizer, None, norm_stats_source=str(folder)),
                                conv, stats)
    except ConventionsError as e:
        raise PolicyLoadError(f"{checkpoint}: {e}") from None
