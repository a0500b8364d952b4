"""The post-training loop: datasets -> mixture batches -> flow-matching loss -> AdamW + EMA -> checkpoints.

One process, or one per device under torchrun (DDP or FSDP; see distributed.py). Batches, flow noise and
flow times are pure functions of (seed, step, rank), so a resumed run continues exactly where the saved one
stopped. On a GPU the forward runs under bf16 autocast with float32 master weights (openpi's PyTorch trainer
trains in plain bf16, one of the suspected causes of its quality gap, openpi #989).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_state_dict,
)
from torch.utils.data import ConcatDataset, DataLoader
from tqdm import tqdm

from ..data.mixture import MixtureBatchSampler, mixture_weights
from ..data.reader import LeRobotReader
from ..data.torch_dataset import Pi0Dataset
from ..model.config import Pi0Config, get_config
from ..model.flow_matching import sample_time
from ..model.pi0 import Pi0Model
from ..model.tokenizer import TINY_TOKENIZER, TOKENIZER_FILES, PromptTokenizer
from ..model.weights import load_checkpoint, read_config
from ..normalize import NormStats, compute_norm_stats
from . import checkpoint, distributed
from .config import TrainConfig
from .grad_checkpointing import enable_gradient_checkpointing
from .loss import FlowMatchingLoss, batch_to
from .optim import Ema, make_optimizer, make_scheduler
from .plot import plot_loss

METRICS_FILE = "metrics.jsonl"
LOSS_PLOT = "loss_curve.png"
REPLICA_FILE = "replica_check.json"
PREFIX = "model."  # parameter names of FlowMatchingLoss: "model." + the Pi0Model name


def build_model(cfg: TrainConfig) -> tuple[Pi0Model, Pi0Config, Path]:
    """The model to train (float32 master weights), the config to save it under, and the tokenizer file.

    From scratch, the weights come from ``cfg.seed``; from a checkpoint, they are loaded strictly.
    """
    torch.manual_seed(cfg.seed)
    if cfg.init is not None:
        save_config = read_config(cfg.init)
        model = load_checkpoint(cfg.init, config=dataclasses.replace(save_config, dtype="float32"))
    else:
        save_config = model_config(cfg.config)
        model = Pi0Model(dataclasses.replace(save_config, dtype="float32"))
    return model.train(), save_config, tokenizer_file(save_config, cfg)


def model_config(name_or_path: str) -> Pi0Config:
    """A named config (pi0, pi0_small, pi0_tiny) or a Pi0Config JSON file (e.g. a checkpoint's pi0_ros_config.json)."""
    path = Path(name_or_path)
    if path.suffix == ".json":
        if not path.is_file():
            raise FileNotFoundError(f"model config file not found: {path}")
        return Pi0Config.from_dict(json.loads(path.read_text()))
    return get_config(name_or_path)


def tokenizer_file(config: Pi0Config, cfg: TrainConfig) -> Path:
    """The SentencePiece model: the shipped tiny one, --tokenizer, or the --init checkpoint's."""
    if config.tokenizer == "tiny":
        return TINY_TOKENIZER
    candidates = [Path(cfg.tokenizer)] if cfg.tokenizer else []
    if cfg.init is not None:
        candidates += [Path(cfg.init) / name for name in TOKENIZER_FILES]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        raise FileNotFoundError(f"config {config.name!r} uses PaliGemma's tokenizer: pass --tokenizer "
                                f"paligemma_tokenizer.model (looked in {[str(c) for c in candidates]})")  # fmt: skip
    return found


def norm_stats_by_asset(readers: list[LeRobotReader]) -> dict[str, dict[str, NormStats]]:
    """openpi-style statistics per robot (norm-stats asset), over all datasets of that robot."""
    groups: dict[str, list[LeRobotReader]] = {}
    for r in readers:
        groups.setdefault(r.norm_stats_asset, []).append(r)
    stats = {}
    for asset, group in groups.items():
        dims = {r.state.shape[1] for r in group}
        if len(dims) != 1:
            raise ValueError(f"datasets of robot asset {asset!r} have different dims {sorted(dims)}: "
                             f"{[str(r.root) for r in group]}")  # fmt: skip
        stats[asset] = {"state": compute_norm_stats(np.concatenate([r.state for r in group])),
                        "actions": compute_norm_stats(np.concatenate([r.action for r in group]))}
    return stats


def _full(t: torch.Tensor) -> torch.Tensor:
    """A CPU copy of a (possibly FSDP-sharded) tensor; collective for sharded ones."""
    if hasattr(t, "full_tensor"):
        t = t.full_tensor()
    return t.detach().cpu()


class Trainer:
    """Builds everything a run needs; :meth:`run` trains to ``cfg.steps``."""

    def __init__(self, cfg: TrainConfig, progress: bool = True):
        self.cfg, self.progress = cfg, progress
        self.info = distributed.setup(cfg.distributed, cfg.device)
        self.out = Path(cfg.out)
        if self.info.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        if not cfg.resume and checkpoint.latest(self.out) is not None:
            raise FileExistsError(f"{self.out} already holds checkpoints: pass --resume, or choose another --out")
        self.readers = [LeRobotReader(d) for d in cfg.data]
        model, self.save_config, self.tokenizer_file = build_model(cfg)
        self.model = model
        self.tokenizer = PromptTokenizer(self.tokenizer_file, model.config.max_token_len)
        if self.tokenizer.vocab_size > model.config.vocab_size:
            raise ValueError(f"{self.tokenizer_file} has {self.tokenizer.vocab_size} ids; the model embeds "
                             f"{model.config.vocab_size}")  # fmt: skip
        self.norm_stats = norm_stats_by_asset(self.readers)
        self.datasets = [Pi0Dataset(r, model.config, self.tokenizer, self.norm_stats[r.norm_stats_asset], i)
                         for i, r in enumerate(self.readers)]  # fmt: skip
        self.sizes = [len(d) for d in self.datasets]
        self.loss_module = FlowMatchingLoss(model, valid_dims_only=cfg.loss_dims == "valid")
        if cfg.grad_checkpointing:
            enable_gradient_checkpointing(model)
        self.loss_module.to(self.info.device)
        self.frozen = self._freeze_unused()
        self.module = distributed.wrap(self.loss_module, model, self.info)
        self.params = {n: p for n, p in model.named_parameters() if p.requires_grad}
        self.optimizer = make_optimizer(list(self.params.values()), cfg)
        self.scheduler = make_scheduler(self.optimizer, cfg)
        self.ema = Ema(self.params, cfg.ema) if cfg.ema > 0 else None
        self.step = 0
        self.resumed_from: Path | None = None
        if cfg.resume:
            self._restore()

    # ----------------------------------------------------------------------------------------------

    def _step_inputs(self, step: int, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Flow noise and times for a step: drawn from a generator seeded by (seed, step, rank)."""
        c = self.model.config
        seed = int(np.random.SeedSequence([self.cfg.seed, step, self.info.rank, 1]).generate_state(1)[0])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            noise = torch.randn(batch_size, c.action_horizon, c.action_dim)
            t = sample_time(batch_size, c.time_beta_alpha, c.time_beta_beta, c.time_scale, c.time_offset)
        return noise.to(self.info.device), t.to(self.info.device)

    def _autocast(self):
        if self.info.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _freeze_unused(self) -> list[str]:
        """Freeze the parameters no loss depends on, found by one probe forward/backward.

        π₀ computes the keys/values of the prefix in the last LLM layer but never the prefix's own output, so
        that layer's attention output, MLP and the LLM's final norm get no gradient. DDP would stall on them
        (openpi passes find_unused_parameters=True instead); freezing also keeps them out of the optimizer.
        """
        sampler = MixtureBatchSampler(self.sizes, min(2, self.cfg.batch_size), self.cfg.seed, self.info.rank)
        concat = ConcatDataset(self.datasets)
        batch = torch.utils.data.default_collate([concat[i] for i in sampler.batch(0)])
        batch = batch_to(batch, self.info.device)
        noise, t = self._step_inputs(0, len(batch["state"]))
        with self._autocast():
            loss = self.loss_module(batch, noise, t)
        loss.backward()
        named = list(self.model.named_parameters())
        used = distributed.all_max_flags(torch.tensor([p.grad is not None for _, p in named]), self.info)
        frozen = []
        for (name, p), is_used in zip(named, used.tolist(), strict=True):
            p.grad = None
            if not is_used and p.requires_grad:
                p.requires_grad_(False)
                frozen.append(name)
        return frozen

    def train_step(self, batch: dict[str, torch.Tensor]) -> tuple[float, float, float]:
        """One optimizer step; returns (this rank's loss, gradient norm before clipping, learning rate used)."""
        lr = self.scheduler.get_last_lr()[0]
        noise, t = self._step_inputs(self.step, len(batch["state"]))
        with self._autocast():
            loss = self.module(batch, noise, t)
        loss.backward()
        params = list(self.params.values())
        max_norm = self.cfg.grad_clip if self.cfg.grad_clip > 0 else float("inf")
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=False)
        norm = norm.full_tensor() if hasattr(norm, "full_tensor") else norm
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.update(self.params)
        self.step += 1
        return float(loss.detach()), float(norm), lr

    # ----------------------------------------------------------------------------------------------

    def run(self) -> dict:
        """Train until ``cfg.steps``; returns a summary (final loss, samples/s, last checkpoint)."""
        cfg, info = self.cfg, self.info
        sampler = MixtureBatchSampler(self.sizes, cfg.batch_size, cfg.seed, info.rank, self.step, cfg.mixture_power)
        loader = DataLoader(ConcatDataset(self.datasets), batch_sampler=sampler, num_workers=cfg.workers,
                            pin_memory=info.device.type == "cuda")  # fmt: skip
        if info.is_main:
            self._log_start()
        bar = tqdm(total=cfg.steps, initial=self.step, unit="step", disable=not (self.progress and info.is_main),
                   dynamic_ncols=True)  # fmt: skip
        metrics = open(self.out / METRICS_FILE, "a") if info.is_main else None  # noqa: SIM115 (closed below)
        losses, rates, last_save = [], [], None
        tick = time.perf_counter()
        try:
            for batch in loader:
                if self.step >= cfg.steps:
                    break
                loss, norm, lr = self.train_step(batch_to(batch, info.device))
                loss = distributed.all_mean(loss, info)
                now = time.perf_counter()
                rate = cfg.batch_size * info.world_size / (now - tick)  # samples/s, data loading included
                tick = now
                losses.append(loss)
                rates.append(rate)
                if metrics is not None:
                    metrics.write(json.dumps({"step": self.step, "loss": loss, "lr": lr, "grad_norm": norm,
                                              "samples_per_s": rate}) + "\n")  # fmt: skip
                    metrics.flush()
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}", samples_s=f"{rate:.1f}")
                if info.is_main and (self.step % cfg.log_every == 0 or self.step == cfg.steps):
                    window = losses[-cfg.log_every :]
                    tqdm.write(f"step {self.step}/{cfg.steps}  loss {np.mean(window):.4f}  lr {lr:.3e}  "
                               f"grad_norm {norm:.3f}  {np.median(rates[-cfg.log_every:]):.1f} samples/s")  # fmt: skip
                if self.step % cfg.save_every == 0 or self.step == cfg.steps:
                    last_save = self.save()
                    tick = time.perf_counter()  # saving is not training time
        finally:
            bar.close()
            if metrics is not None:
                metrics.close()
        replicas = self.check_replicas() if cfg.check_replicas else None
        return {"step": self.step, "loss": losses[-1] if losses else None, "losses": losses,
                "samples_per_s": float(np.median(rates[1:] or rates)) if rates else None,
                "checkpoint": last_save, "frozen": self.frozen, "replicas": replicas}  # fmt: skip

    def _log_start(self) -> None:
        weights = mixture_weights(self.sizes, self.cfg.mixture_power)
        n = sum(p.numel() for p in self.model.parameters())
        lines = [f"π₀ {self.save_config.name}: {n / 1e6:.1f} M parameters, {len(self.frozen)} frozen (unused), "
                 f"device {self.info.device}, {self.info.world_size} process(es) ({self.info.mode}), "
                 f"batch {self.cfg.batch_size} per process"]  # fmt: skip
        for r, size, w in zip(self.readers, self.sizes, weights, strict=True):
            lines.append(f"  dataset {r.root} ({r.version}, {r.robot_type}): {size} frames, "
                         f"{r.num_episodes} episodes, mixture weight {w:.3f}")  # fmt: skip
        if self.resumed_from is not None:
            lines.append(f"  resumed from {self.resumed_from} at step {self.step}")
        tqdm.write("\n".join(lines))

    # ----------------------------------------------------------------------------------------------

    def _datasets_json(self) -> list[dict]:
        weights = mixture_weights(self.sizes, self.cfg.mixture_power)
        return [{"path": str(r.root), "format": r.version, "robot_type": r.robot_type, "asset": r.norm_stats_asset,
                 "frames": len(r), "episodes": r.num_episodes, "mixture_weight": float(w)}
                for r, w in zip(self.readers, weights, strict=True)]  # fmt: skip

    def save(self) -> Path | None:
        """Write a checkpoint of the current step (collective: every rank calls it); rank 0 returns its folder."""
        opts = StateDictOptions(full_state_dict=True, cpu_offload=True)
        raw = get_model_state_dict(self.loss_module, options=opts)
        optim = get_optimizer_state_dict(self.loss_module, self.optimizer, options=opts)
        ema = {n: _full(t) for n, t in self.ema.shadow.items()} if self.ema is not None else {}
        folder = None
        if self.info.is_main:
            raw = {k[len(PREFIX) :]: v for k, v in raw.items()}
            weights = {**raw, **ema}
            state = {"step": self.step, "model": raw, "optimizer": optim, "scheduler": self.scheduler.state_dict(),
                     "ema_updates": self.ema.updates if self.ema is not None else 0,
                     "world_size": self.info.world_size, "frozen": self.frozen}  # fmt: skip
            folder = checkpoint.save(self.out, self.step, weights, self.save_config, self.norm_stats,
                                     self.tokenizer_file, state, self.cfg.to_dict(), self._datasets_json(),
                                     self.cfg.keep_last)  # fmt: skip
            plot_loss(self.out / METRICS_FILE, self.out / LOSS_PLOT, f"π₀ {self.save_config.name} post-training")
        distributed.barrier(self.info)
        return folder

    def _restore(self) -> None:
        folder = checkpoint.latest(self.out)
        if folder is None:
            raise FileNotFoundError(f"--resume: no checkpoint in {self.out / checkpoint.CHECKPOINTS}")
        state = checkpoint.load_train_state(folder)
        set_state_dict(self.loss_module, self.optimizer,
                       model_state_dict={PREFIX + k: v for k, v in state["model"].items()},
                       optim_state_dict=state["optimizer"], options=StateDictOptions(full_state_dict=True))
        self.scheduler.load_state_dict(state["scheduler"])
        self.step = int(state["step"])
        if self.ema is not None:
            # The EMA weights are the checkpoint's model (cast back to float32 if it was saved in bf16).
            saved = dict(load_checkpoint(folder, config=self.model.config).named_parameters())
            with torch.no_grad():
                for name, shadow in self.ema.shadow.items():
                    value = saved[name].detach().float()
                    if hasattr(shadow, "device_mesh"):
                        from torch.distributed.tensor import distribute_tensor

                        value = distribute_tensor(value.to(shadow.device), shadow.device_mesh, shadow.placements)
                    shadow.copy_(value)
            self.ema.updates = int(state["ema_updates"])
        self.resumed_from = folder

    def check_replicas(self) -> dict:
        """Digest of every rank's weights (and EMA); all equal when data parallelism kept them in sync."""
        h = hashlib.sha256()
        tensors = dict(self.model.named_parameters())
        if self.ema is not None:
            tensors.update({"ema." + n: t for n, t in self.ema.shadow.items()})
        for name in sorted(tensors):
            t = tensors[name]
            local = t.to_local() if hasattr(t, "to_local") else t  # FSDP: this rank's shard
            h.update(name.encode())
            h.update(local.detach().float().cpu().contiguous().numpy().tobytes())
        digests = distributed.gather_objects(h.hexdigest(), self.info)
        result = {"mode": self.info.mode, "world_size": self.info.world_size, "digests": digests,
                  "identical": len(set(digests)) == 1, "sharded": self.info.mode == "fsdp"}  # fmt: skip
        if self.info.is_main:
            (self.out / REPLICA_FILE).write_text(json.dumps(result, indent=2))
        return result

    def close(self) -> None:
        """Leave the process group."""
        distributed.teardown(self.info)


def train(cfg: TrainConfig, progress: bool = True) -> dict:
    """Build a Trainer, run it, clean up; returns the run summary."""
    trainer = Trainer(cfg, progress)
    try:
        return trainer.run()
    finally:
        trainer.close()
