"""Which policy a node runs: a checkpoint folder, the embedded default policy, or random weights.

    <folder>          an openpi (PyTorch-converted), LeRobot or pi0_ros checkpoint folder
    default           the default policy shipped in pi0_policy/checkpoints/default (trained in
                      simulation on the UR5e block task: "reach the red/blue block")
    random:<config>   random weights of a named config with statistics made from the embodiment's
                      home pose: it moves, but means nothing; for plumbing tests and embodiments that
                      have no trained policy here

With conventions (a ``pi0_conventions.yaml`` in the checkpoint folder, or the ``conventions`` argument:
a preset name such as ``pi0_aloha_towel``, a file, or ``auto`` to also read a LeRobot ``config.json``)
the policy applies the checkpoint's input and output transforms (pi0_policy.convention_policy);
without, it is the plain Pi0Policy.

Pure Python: no rclpy import.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from pi0_common.embodiment import Embodiment
from pi0_policy.convention_math import flip_grippers
from pi0_policy.convention_policy import ConventionPolicy, check_embodiment
from pi0_policy.conventions import CONVENTIONS_FILE, Conventions, ConventionsError, load_conventions
from pi0_policy.model.config import get_config
from pi0_policy.model.pi0 import Pi0Model
from pi0_policy.model.tokenizer import load_tokenizer
from pi0_policy.normalize import NormStats
from pi0_policy.policy import Pi0Policy

RANDOM_PREFIX = 'random:'


class PolicyLoadError(ValueError):
    """The requested policy cannot be loaded; the text says what to do."""


SIMULATION_MARKER = 'trained_in_simulation'     # a file in a checkpoint folder trained on simulated data only


def simulation_only(checkpoint: str) -> str | None:
    """Why a checkpoint must not drive a real robot unasked (random weights, or a policy trained only in
    simulation: the embedded default, or a folder holding the trained_in_simulation marker), or None."""
    if checkpoint.startswith(RANDOM_PREFIX):
        return f'{checkpoint} has random weights'
    folder = default_checkpoint_dir() if checkpoint == 'default' else Path(checkpoint).expanduser()
    if checkpoint == 'default' or (folder / SIMULATION_MARKER).is_file():
        return f'{checkpoint} was trained in simulation only'
    return None


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


def random_convention_stats(conv: Conventions, emb: Embodiment) -> dict[str, dict[str, np.ndarray]]:
    """Statistics around the embodiment's home pose, in the conventions' adapted space."""
    from pi0_policy import convention_math as cm

    home = flip_grippers(emb.home, conv.gripper_dims) if conv.gripper_open == 1 else emb.home.copy()
    centre = cm.aloha_state_to_pi(home) if conv.adapt_to_pi else home
    spread = random_norm_stats(emb)['state'].std
    stats = {'mean': centre, 'std': spread, 'q01': centre - 2 * spread, 'q99': centre + 2 * spread,
             'q10': centre - spread, 'q90': centre + spread, 'min': centre - 3 * spread, 'max': centre + 3 * spread}
    actions = dict(stats, mean=np.zeros_like(centre)) if conv.actions != 'absolute' else stats
    return {'state': stats, 'actions': actions}


def random_convention_policy(config_name: str, conv: Conventions, emb: Embodiment, seed: int = 0,
                             device: str = 'cpu') -> ConventionPolicy:
    config = dataclasses.replace(get_config(config_name), action_horizon=conv.action_horizon)
    torch.manual_seed(seed)
    model = Pi0Model(config).to(device)
    plain = Pi0Policy(model, load_tokenizer(config), None, norm_stats_source=f'random around {emb.name} home')
    return ConventionPolicy(plain, conv, random_convention_stats(conv, emb))


def resolve_conventions(spec: str, checkpoint: str, emb: Embodiment) -> Conventions | None:
    """The conventions a ``conventions`` parameter names: a preset or file; 'auto' = the checkpoint's
    pi0_conventions.yaml or LeRobot config.json; '' = its pi0_conventions.yaml if it has one, else none
    (pi0_ros's own convention, and LeRobot normaliser statistics as before)."""
    folder = default_checkpoint_dir() if checkpoint == 'default' else Path(checkpoint).expanduser()
    if not spec:
        if checkpoint.startswith(RANDOM_PREFIX) or not (folder / CONVENTIONS_FILE).is_file():
            return None
        spec = str(folder / CONVENTIONS_FILE)
    try:
        if spec == 'auto':
            return load_conventions('', folder, control_rate_hz=emb.control_rate_hz)
        return load_conventions(spec, folder, control_rate_hz=emb.control_rate_hz)
    except ConventionsError as e:
        raise PolicyLoadError(str(e)) from None


def load_policy(checkpoint: str, emb: Embodiment, asset_id: str | None = None, device: str = 'cpu',
                dtype: str | None = None, num_threads: int = 0, logger=None,
                conventions: str = '') -> Pi0Policy | ConventionPolicy:
    """Load the policy a node's ``checkpoint`` parameter names, checked against the embodiment.

    Raises:
        PolicyLoadError: missing folder, statistics or conventions that do not fit the embodiment.
    """
    if num_threads > 0:
        torch.set_num_threads(num_threads)
    conv = resolve_conventions(conventions, checkpoint, emb)
    if conv is not None:
        return _load_with_conventions(checkpoint, conv, emb, device, dtype, logger)
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


def _load_with_conventions(checkpoint: str, conv: Conventions, emb: Embodiment, device: str, dtype: str | None,
                           logger) -> ConventionPolicy:
    try:
        check_embodiment(conv, emb)
        if checkpoint.startswith(RANDOM_PREFIX):
            if logger is not None:
                logger.warning(f'checkpoint {checkpoint}: RANDOM weights with conventions {conv.name}')
            return random_convention_policy(checkpoint[len(RANDOM_PREFIX):], conv, emb, device=device)
        folder = default_checkpoint_dir() if checkpoint == 'default' else Path(checkpoint).expanduser()
        if not folder.is_dir():
            raise PolicyLoadError(f'checkpoint folder not found at {folder}')
        return ConventionPolicy.from_checkpoint(folder, conv, device=device, dtype=dtype)
    except ConventionsError as e:
        raise PolicyLoadError(f'{checkpoint}: {e}') from None
