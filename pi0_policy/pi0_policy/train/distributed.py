"""torchrun process groups, DDP and FSDP wrapping, and the collectives the loop needs.

DDP: every rank holds the whole model; parameters that never receive a gradient are frozen before
wrapping (see loop.freeze_unused), so ``find_unused_parameters`` (openpi's workaround, a graph walk per
step) is not needed.

FSDP (``fully_shard``, FSDP2): Pi0Model's joint layer loop calls each Gemma layer's ``qkv``/``finish``
methods, not its ``forward``, so a Gemma layer cannot be its own FSDP unit: FSDP would never gather it (the
failure LeRobot PR #3767 and awslabs #1174 report). The units here are the modules whose ``forward`` does run:
each SigLIP encoder layer and the token embedding (the largest single tensor of π₀); everything else is one
root unit, gathered for the step and resharded after it. Optimizer state, gradients and weights at rest are
sharded; the peak holds the Gemma layers unsharded. Sharding per Gemma layer needs the model to route each
(LLM layer, expert layer) pair through a module ``forward``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from ..model.pi0 import Pi0Model


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands."""

    mode: str  # "none", "ddp", "fsdp"
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that logs and writes files."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """Whether a process group is in use."""
        return self.mode != "none"


def pick_device(preference: str, local_rank: int = 0) -> torch.device:
    """"auto" -> cuda:<local_rank> when available, else cpu."""
    if preference == "auto":
        preference = "cuda" if torch.cuda.is_available() else "cpu"
    if preference == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device cuda requested but no CUDA device is available")
        return torch.device("cuda", local_rank)
    return torch.device(preference)


def setup(mode: str, device: str = "auto") -> DistInfo:
    """Join the torchrun process group for "ddp"/"fsdp" (nccl on GPUs, gloo on CPUs)."""
    if mode == "none":
        return DistInfo("none", 0, 1, 0, pick_device(device))
    if "WORLD_SIZE" not in os.environ:
        raise RuntimeError(f"--distributed {mode} needs torchrun: "
                           f"torchrun --nproc_per_node N -m pi0_policy.train ... --distributed {mode}")  # fmt: skip
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    dev = pick_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return DistInfo(mode, dist.get_rank(), dist.get_world_size(), local_rank, dev)


def teardown(info: DistInfo) -> None:
    """Leave the process group, once its worker threads are idle.

    Gloo's worker threads drop a finished collective (and the Python objects of its tensors, which needs the GIL)
    only after the caller has been woken. If the group's destructor then runs on this thread, holding the GIL and
    joining those workers, each waits for the other forever (seen as a hang, or an abort at exit). So first a
    barrier, so that every rank's collectives are done, then a pause without the GIL, so the workers can finish.
    """
    if info.active and dist.is_initialized():
        dist.barrier()
        time.sleep(0.2)
        dist.destroy_process_group()


def wrap(module: nn.Module, model: Pi0Model, info: DistInfo) -> nn.Module:
    """The module the training step calls: ``module`` itself, DDP around it, or it sharded in place (FSDP)."""
    if info.mode == "ddp":
        from torch.nn.parallel import DistributedDataParallel

        ids = [info.device.index] if info.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids)
    if info.mode == "fsdp":
        from torch.distributed.fsdp import fully_shard

        for layer in model.vision_tower.encoder.layers:
            fully_shard(layer)
        fully_shard(model.llm.embed_tokens)
        fully_shard(module)
    return module


def all_mean(value: float, info: DistInfo) -> float:
    """Mean of a scalar over ranks."""
    if not info.active:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=info.device if info.device.type == "cuda" else "cpu")
    dist.all_reduce(t)
    return float(t.item()) / info.world_size


def all_max_flags(flags: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Element-wise OR of a bool vector over ranks."""
    if not info.active:
        return flags
    t = flags.to(torch.int32).to(info.device if info.device.type == "cuda" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t.bool().cpu()


def gather_objects(obj, info: DistInfo) -> list:
    """Every rank's object, on every rank."""
    if not info.active:
        return [obj]
    out = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier(info: DistInfo) -> None:
    """Wait for every rank."""
    if info.active:
        dist.barrier()
