"""The training objective as a module, so that DDP and FSDP see a ``forward``."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..model.pi0 import Pi0Model

MODEL_INPUTS = ("images", "image_masks", "tokens", "token_masks", "state")


class FlowMatchingLoss(nn.Module):
    """Mean flow-matching loss (model.compute_loss) over a batch.

    ``valid_dims_only`` (LeRobot's choice) averages over each sample's real action dims; otherwise the zero
    padding up to the model's action_dim is trained too (openpi's choice: the target there is the noise
    itself, which spends a small model's capacity on nothing).
    """

    def __init__(self, model: Pi0Model, valid_dims_only: bool = True):
        super().__init__()
        self.model = model
        self.valid_dims_only = valid_dims_only

    def forward(self, batch: dict[str, Tensor], noise: Tensor, time: Tensor) -> Tensor:
        """Scalar loss.

        Args:
            batch: a collated Pi0Dataset batch (actions [B, H, A], action_dim_mask [B, A], model inputs).
            noise: ε [B, H, A].
            time: t [B].
        """
        inputs = {k: batch[k] for k in MODEL_INPUTS}
        loss = self.model.compute_loss(**inputs, actions=batch["actions"], noise=noise, time=time)  # [B, H, A]
        if not self.valid_dims_only:
            return loss.mean()
        mask = batch["action_dim_mask"][:, None, :].to(loss.dtype)  # [B, 1, A]
        return (loss * mask).sum() / (mask.sum() * loss.shape[1]).clamp_min(1.0)


def batch_to(batch: dict[str, Tensor], device: torch.device) -> dict[str, Tensor]:
    """Move a collated batch to the device."""
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
