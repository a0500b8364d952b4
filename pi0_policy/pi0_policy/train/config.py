"""Training configuration: one dataclass, validated on construction.

Defaults follow openpi's π₀ fine-tuning recipe (``training/config.py``, ``optimizer.py``): AdamW with
b2 = 0.95 and a tiny weight decay, gradient clipping at 1, linear warm-up then cosine decay to a tenth of
the peak, EMA of the weights with decay 0.99, batch 32.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

LOSS_DIMS = ("valid", "all")
DISTRIBUTED = ("none", "ddp", "fsdp")
FINETUNE_LR = 2.5e-5  # openpi's peak learning rate for fine-tuning π₀
SCRATCH_LR = 3e-4  # small models trained from scratch tolerate (and need) more


@dataclass
class TrainConfig:
    """Everything a training run needs; saved in every checkpoint (train_config.json)."""

    data: list[str]  # LeRobot dataset folders (v2.1 or v3.0), one per task-robot combination
    out: str  # run folder: checkpoints/, metrics.jsonl, loss_curve.png
    config: str | None = None  # from scratch: a named model config (pi0, pi0_small, pi0_tiny) or a .json Pi0Config
    init: str | None = None  # checkpoint folder to start from (openpi, LeRobot or ours)
    steps: int = 30_000  # total optimizer steps (a resumed run continues up to this)
    batch_size: int = 32  # per process
    lr: float | None = None  # peak learning rate; FINETUNE_LR with init, SCRATCH_LR from scratch
    warmup_steps: int | None = None  # None: min(1000, steps // 10)
    min_lr_ratio: float = 0.1  # cosine decay ends at peak * this
    weight_decay: float = 1e-10
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-8
    grad_clip: float = 1.0  # max global gradient norm; 0 disables clipping
    ema: float = 0.99  # EMA decay of the weights saved as the model; 0 disables EMA
    save_every: int = 1000  # steps between checkpoints (one is always written at the end)
    log_every: int = 100  # steps between log lines
    keep_last: int = 0  # checkpoints to keep (0: all)
    resume: bool = False  # continue from the newest checkpoint in out
    seed: int = 0
    grad_checkpointing: bool = False  # recompute layer activations in the backward pass
    loss_dims: str = "valid"  # "valid": average over each robot's real dims (LeRobot); "all": padded too (openpi)
    mixture_power: float = 0.43  # dataset i is drawn with probability ∝ n_i ** mixture_power (π₀ paper)
    workers: int = 2  # DataLoader worker processes
    device: str = "auto"  # "auto" (cuda when available), "cpu", "cuda"
    distributed: str = "none"  # "ddp" or "fsdp" under torchrun
    tokenizer: str | None = None  # SentencePiece model for configs that use PaliGemma's tokenizer
    check_replicas: bool = False  # after training, check that every rank holds identical weights (ddp)
    extra: dict = field(default_factory=dict)  # free-form notes stored with the run

    def __post_init__(self):
        problems = []
        if not self.data:
            problems.append("at least one --data folder is needed")
        if (self.config is None) == (self.init is None):
            problems.append("give exactly one of --config (from scratch) and --init (from a checkpoint)")
        for name in ("steps", "batch_size", "save_every", "log_every"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.ema < 1.0:
            problems.append(f"ema must be in [0, 1), got {self.ema}")
        if self.loss_dims not in LOSS_DIMS:
            problems.append(f"loss_dims must be one of {LOSS_DIMS}, got {self.loss_dims!r}")
        if self.distributed not in DISTRIBUTED:
            problems.append(f"distributed must be one of {DISTRIBUTED}, got {self.distributed!r}")
        if self.lr is not None and self.lr <= 0:
            problems.append(f"lr must be positive, got {self.lr}")
        if problems:
            raise ValueError("invalid training config: " + "; ".join(problems))
        self.betas = tuple(self.betas)

    @property
    def peak_lr(self) -> float:
        """The learning rate after warm-up."""
        if self.lr is not None:
            return self.lr
        return FINETUNE_LR if self.init is not None else SCRATCH_LR

    @property
    def warmup(self) -> int:
        """Warm-up steps."""
        return self.warmup_steps if self.warmup_steps is not None else min(1000, self.steps // 10)

    def to_dict(self) -> dict:
        """JSON-ready."""
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d
