"""Which policy a node runs: a checkpoint folder, the embedded default policy, or random weights.

    <folder>          an openpi (PyTorch-converted), LeRobot or pi0_ros checkpoint folder
    default           the default policy shipped in pi0_policy/checkpoints/default (trained in
                      simulation on the UR5e block task: "reach the red/blue block")
    random:<config>   random weights of a named config with statistics made from the embodiment's
                      home pose: it moves, but means nothing; for plumbing tests and embodiments that
                      have no trained policy here

Pure Python: no rclpy import.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pi0_common.embodiment import Embodiment
from pi0_policy.model.config import get_config
from pi0_policy.model.pi0 import Pi0Model
from pi0_policy.model.tokenizer import load_tokenizer
from pi0_policy.normalize import NormStats
from pi0_policy.policy import Pi0Policy

RANDOM_PREFIX = 'random:'


class PolicyLoadError(ValueError):
    """The requested policy cannot be loaded; the text says what to do."""


def default_checkpoint_dir() -> Path:
    return Path(__file__).resolve().parent / 'checkpoints' / 'default'


def random_norm_stats(emb: Embodiment) -> dict[str, NormStats]:
    """Statistics around the home pose, narrow enough that random actions stay near it."""
    spread = np.array([{'joint': 0.15, 'gripper': 0.3, 'base': 0.1}[d.kind] for d in emb.dims])
    stats = NormStats(mean=emb.home.copy(), std=spread)
    return {'state': stats, 'actions': stats}


def random_policy(config_name: str, emb: Embodiment, seed: int = 0, device: str = 'cpu') -> Pi0Policy:
    config = get_config(config_name)
    torch.manual_seed(seed)
    model = Pi0Model(config).to(device)
    return Pi0Policy(model, load_tokenizer(config), random_norm_stats(emb),
                     norm_stats_source=f'random around {emb.name} home')


def load_policy(checkpoint: str, emb: Embodiment, asset_id: str | None = None, device: str = 'cpu',
                dtype: str | None = None, num_threads: int = 0, logger=None) -> Pi0Policy:
    """Load the policy a node's ``checkpoint`` parameter names, checked against the embodiment.

    Raises:
        PolicyLoadError: missing folder, or statistics that do not fit the embodiment.
    """
    if num_threads > 0:
        torch.set_num_threads(num_threads)
    if checkpoint.startswith(RANDOM_PREFIX):
        if logger is not None:
            logger.warning(f'checkpoint {checkpoint}: RANDOM weights, the robot will move meaninglessly '
                           f'(around its home pose)')
        return random_policy(checkpoint[len(RANDOM_PREFIX):], emb, device=device)
    folder = default_checkpoint_dir() if checkpoint == 'default' else Path(checkpoint).expanduser()
    if not folder.is_dir():
        what = 'the embedded default policy' if checkpoint == 'default' else 'checkpoint folder'
        raise PolicyLoadError(f'{what} not found at {folder}')
    if asset_id and not (folder / 'assets' / asset_id / 'norm_stats.json').is_file():
        assets = sorted(p.parent.name for p in (folder / 'assets').glob('*/norm_stats.json'))
        if assets:
            raise PolicyLoadError(f'{folder}: no norm stats for asset {asset_id!r}; it has {", ".join(assets)} '
                                  f'(set the asset_id parameter)')
        asset_id = None     # no openpi assets: a LeRobot checkpoint with its normaliser file
    policy = Pi0Policy.from_checkpoint(folder, asset_id=asset_id, device=device, dtype=dtype)
    if policy.norm_stats is not None:
        dims = policy.norm_stats['state'].dim
        if dims != emb.valid_dims:
            raise PolicyLoadError(f'{folder}: its norm stats ({policy.norm_stats_source}) have {dims} dims, '
                                  f'{emb.name} has {emb.valid_dims}: pick the asset of this robot (asset_id)')
    if policy.action_dim < emb.valid_dims:
        raise PolicyLoadError(f'{folder}: the model predicts {policy.action_dim} dims, {emb.name} needs '
                              f'{emb.valid_dims}')
    return policy
