"""Plots of a run: commanded vs measured joints with chunk boundaries marked."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pi0_bringup.monitor import Recording
from pi0_common.embodiment import Embodiment


def plot_commanded_vs_measured(rec: Recording, emb: Embodiment, path: str | Path, title: str = '',
                               episode_starts: list[float] = ()) -> Path:
    """One panel per unified dim: commanded target (at its due time) and measured value; dashed lines
    where a new chunk's first command was sent, solid ones where an episode started (scene reset)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not rec.command_t:
        raise ValueError('nothing was commanded: no plot')
    t0 = rec.command_t[0]
    ct = np.asarray(rec.command_t) - t0
    cq = np.stack(rec.command_q)
    mt = np.asarray(rec.measured_t) - t0 if rec.measured_t else np.zeros(0)
    mq = np.stack(rec.measured_q) if rec.measured_q else np.zeros((0, emb.valid_dims))
    chunk_ids = np.asarray(rec.command_chunk)
    boundaries = ct[1:][(chunk_ids[1:] != chunk_ids[:-1]) & (chunk_ids[1:] != 0)]

    n = emb.valid_dims
    cols = 2 if n > 8 else 1
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(7 * cols, 1.6 * rows + 1), sharex=True, squeeze=False)
    for i, dim in enumerate(emb.dims):
        ax = axes[i % rows][i // rows]
        ax.plot(ct, cq[:, i], lw=1.2, label='commanded', color='tab:blue')
        if len(mt):
            keep = mt >= -0.5
            ax.plot(mt[keep], mq[keep, i], lw=1.0, label='measured', color='tab:orange', alpha=0.8)
        for b in boundaries:
            ax.axvline(b, color='grey', lw=0.5, ls='--', alpha=0.6)
        for e in episode_starts:
            ax.axvline(e - t0, color='black', lw=1.0)
        unit = {'joint': 'rad', 'gripper': '0..1', 'base': 'vel'}[dim.kind]
        ax.set_ylabel(f'{dim.name}\n[{unit}]', fontsize=7)
        ax.tick_params(labelsize=7)
    for ax in axes[-1]:
        ax.set_xlabel('time [s]')
    for j in range(n, rows * cols):
        axes[j % rows][j // rows].axis('off')
    axes[0][0].legend(loc='upper right', fontsize=7)
    fig.suptitle(title or f'{emb.name}: commanded vs measured ({len(boundaries)} chunk switches, dashed)',
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
