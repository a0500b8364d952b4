"""Command line of the trainer.

    python -m pi0_policy.train --data DS1 [--data DS2 ...] (--config pi0_small | --init CKPT) --steps N \\
        --batch-size B --out RUN [--resume] [--ema 0.99] [--grad-checkpointing] [--lr 2.5e-5] [--save-every 1000]
    torchrun --nproc_per_node 8 -m pi0_policy.train ... --distributed ddp     # or fsdp for the full-size model
"""

from __future__ import annotations

import argparse
import sys

from .config import DISTRIBUTED, LOSS_DIMS, TrainConfig


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """argv -> TrainConfig (its validation errors become usage errors)."""
    d = TrainConfig(data=["-"], out="-", config="-")  # only to read the defaults
    p = argparse.ArgumentParser(prog="python -m pi0_policy.train", description="Post-train π₀ on LeRobot datasets.")
    p.add_argument("--data", action="append", required=True,
                   help="a LeRobot dataset folder (v2.1 or v3.0); repeat to mix datasets, weighted ∝ frames^0.43")
    start = p.add_mutually_exclusive_group(required=True)
    start.add_argument("--config",
                       help="train from scratch: a named model config (pi0, pi0_small, pi0_tiny) or a Pi0Config .json")
    start.add_argument("--init", help="start from this checkpoint folder (openpi, LeRobot or pi0_ros)")
    p.add_argument("--out", required=True, help="run folder for checkpoints, metrics.jsonl and loss_curve.png")
    p.add_argument("--steps", type=int, default=d.steps, help=f"total optimizer steps (default {d.steps})")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="samples per step and process")
    p.add_argument("--lr", type=float, default=None,
                   help="peak learning rate (default 2.5e-5 with --init, 3e-4 from scratch)")
    p.add_argument("--warmup-steps", type=int, default=None, help="linear warm-up (default min(1000, steps/10))")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--grad-clip", type=float, default=d.grad_clip, help="max gradient norm, 0 disables")
    p.add_argument("--ema", type=float, default=d.ema, help=f"EMA decay of the saved weights, 0 disables ({d.ema})")
    p.add_argument("--save-every", type=int, default=d.save_every, help="steps between checkpoints")
    p.add_argument("--log-every", type=int, default=d.log_every, help="steps between log lines")
    p.add_argument("--keep-last", type=int, default=0, help="keep only this many checkpoints (0: all)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--grad-checkpointing", action="store_true", help="recompute activations to save memory")
    p.add_argument("--loss-dims", choices=LOSS_DIMS, default=d.loss_dims,
                   help="valid: average over each robot's real dims (default); all: padded dims too, as openpi")
    p.add_argument("--workers", type=int, default=d.workers, help="DataLoader worker processes")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--distributed", choices=DISTRIBUTED, default="none", help="under torchrun: ddp or fsdp")
    p.add_argument("--tokenizer", default=None, help="PaliGemma SentencePiece model (for --config pi0)")
    p.add_argument("--check-replicas", action="store_true", help="at the end, check all ranks hold the same weights")
    a = p.parse_args(argv)
    try:
        return TrainConfig(
            data=a.data, out=a.out, config=a.config, init=a.init, steps=a.steps, batch_size=a.batch_size, lr=a.lr,
            warmup_steps=a.warmup_steps, weight_decay=a.weight_decay, grad_clip=a.grad_clip, ema=a.ema,
            save_every=a.save_every, log_every=a.log_every, keep_last=a.keep_last, resume=a.resume, seed=a.seed,
            grad_checkpointing=a.grad_checkpointing, loss_dims=a.loss_dims, workers=a.workers, device=a.device,
            distributed=a.distributed, tokenizer=a.tokenizer, check_replicas=a.check_replicas,
        )  # fmt: skip
    except ValueError as e:
        p.error(str(e))


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    cfg = parse_args(argv)
    from .trainer import train  # after argument parsing: --help stays fast

    try:
        summary = train(cfg)
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if summary.get("replicas") and not summary["replicas"]["identical"] and not summary["replicas"]["sharded"]:
        print(f"error: ranks ended with different weights: {summary['replicas']['digests']}", file=sys.stderr)
        return 3
    return 0
