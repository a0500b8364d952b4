"""Loss curve of a run (metrics.jsonl -> loss_curve.png)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def read_metrics(path: str | Path) -> list[dict]:
    """The per-step records of metrics.jsonl (later records of a step win: a resumed run rewrites them)."""
    path = Path(path)
    if not path.is_file():
        return []
    by_step = {}
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            by_step[record["step"]] = record
    return [by_step[s] for s in sorted(by_step)]


def plot_loss(metrics_path: str | Path, png_path: str | Path, title: str = "") -> Path | None:
    """Training loss (raw and smoothed, log scale) and learning rate against step; None without records."""
    records = read_metrics(metrics_path)
    if not records:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display on training machines
    import matplotlib.pyplot as plt

    steps = np.array([r["step"] for r in records])
    loss = np.array([r["loss"] for r in records])
    window = max(1, len(loss) // 50)
    smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(steps, loss, color="tab:blue", alpha=0.3 if window > 1 else 1.0, lw=0.8, label="loss")
    if window > 1:
        ax.plot(steps[window - 1 :], smooth, color="tab:blue", lw=1.8, label=f"loss (mean of {window})")
    if np.all(loss > 0):
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("flow-matching loss")
    ax.grid(alpha=0.3)
    lr = ax.twinx()
    lr.plot(steps, [r["lr"] for r in records], color="tab:orange", lw=1.0, label="learning rate")
    lr.set_ylabel("learning rate")
    lines = ax.get_legend_handles_labels()[0] + lr.get_legend_handles_labels()[0]
    ax.legend(lines, [h.get_label() for h in lines], loc="upper right")
    ax.set_title(title or "training loss")
    fig.tight_layout()
    png_path = Path(png_path)
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
    return png_path
