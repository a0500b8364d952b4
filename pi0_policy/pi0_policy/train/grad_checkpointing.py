"""Gradient (activation) checkpointing for Pi0Model, applied from outside the model.

Pi0Model runs its two Gemma stacks in one joint loop that calls each layer's ``qkv`` and ``finish`` methods
rather than its ``forward``, so the usual module wrappers do not apply. This wraps those two methods of every
Gemma layer, and the ``forward`` of every SigLIP encoder layer, with ``torch.utils.checkpoint``: their inputs
are kept, their inner activations (norms, projections, the MLP's hidden states, the largest tensors of a
layer) are recomputed in the backward pass. The joint attention itself stays stored.
"""

from __future__ import annotations

import functools

from torch import nn
from torch.utils.checkpoint import checkpoint

from ..model.pi0 import Pi0Model

_MARK = "_pi0_checkpointed"


def _checkpointed(fn):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        # Non-reentrant: works with inputs that do not require grad and with keyword arguments.
        return checkpoint(fn, *args, use_reentrant=False, **kwargs)

    setattr(run, _MARK, True)
    return run


def _wrap(module: nn.Module, method: str) -> bool:
    current = getattr(module, method)
    if getattr(current, _MARK, False):
        return False
    # An instance attribute shadows the class method; the module's hooks (FSDP's) still run around forward.
    setattr(module, method, _checkpointed(current))
    return True


def enable_gradient_checkpointing(model: Pi0Model) -> int:
    """Checkpoint every Gemma layer (both stacks) and SigLIP encoder layer; returns how many were wrapped.

    Idempotent. Results and gradients are unchanged; memory falls and compute rises by about one forward.
    """
    count = 0
    for stack in (model.llm, model.expert):
        for layer in stack.layers:
            count += _wrap(layer, "qkv")
            count += _wrap(layer, "finish")
    for layer in model.vision_tower.encoder.layers:
        count += _wrap(layer, "forward")
    return count
