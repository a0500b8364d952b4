"""Training samples for π₀ from a converted dataset, prepared the way Pi0Policy prepares inference inputs.

For frame i of an episode that ends at row e (exclusive):

* images: every camera slot of the model in prefix order (base, left_wrist, right_wrist), resized with pad
  to the model's image size and mapped to [-1, 1] (image_transforms, as openpi); a slot the dataset lacks is
  masked, never faked;
* prompt: the episode's task, tokenised (tokens + mask);
* state: normalised with the robot's statistics, zero-padded to the model's state_dim;
* actions: rows i .. i+H-1, past the episode end repeating the last action (``action_is_pad`` marks those
  steps), normalised and zero-padded to action_dim; ``action_dim_mask`` marks the robot's real dims.
"""

from __future__ import annotations

import numpy as np
from torch.utils.data import Dataset

from ..image_transforms import resize_with_pad, to_model_pixels
from ..model.config import Pi0Config
from ..model.tokenizer import PromptTokenizer
from ..normalize import NormStats
from ..policy import CAMERA_SLOTS
from .reader import LeRobotReader


class Pi0Dataset(Dataset):
    """Map-style dataset of model inputs over one LeRobot dataset."""

    def __init__(self, reader: LeRobotReader, config: Pi0Config, tokenizer: PromptTokenizer,
                 norm_stats: dict[str, NormStats], dataset_index: int = 0, use_quantiles: bool = False):
        """Prepare a dataset.

        Args:
            reader: the dataset.
            config: the model's config (image size, horizon, padded dims, number of camera slots).
            tokenizer: prompt tokenizer.
            norm_stats: {"state": ..., "actions": ...} for this robot (its valid dims).
            dataset_index: reported in each sample (which dataset of a mixture it came from).
            use_quantiles: q01/q99 normalisation instead of mean/std (π₀ uses mean/std).
        """
        self.reader, self.config, self.tokenizer = reader, config, tokenizer
        self.dataset_index, self.use_quantiles = dataset_index, use_quantiles
        self.dims = reader.state.shape[1]
        if self.dims > min(config.state_dim, config.action_dim):
            raise ValueError(f"{reader.root}: {self.dims} dims do not fit the model "
                             f"(state_dim {config.state_dim}, action_dim {config.action_dim})")  # fmt: skip
        for key in ("state", "actions"):
            if norm_stats[key].dim != self.dims:
                raise ValueError(f"{reader.root}: {key} norm stats cover {norm_stats[key].dim} dims, "
                                 f"the data has {self.dims}")
        self.slots = CAMERA_SLOTS[: config.num_cameras]
        extra = sorted(set(reader.camera_slots) - set(self.slots))
        if extra:
            raise ValueError(f"{reader.root}: camera slot(s) {extra} are not among the model's {list(self.slots)}")
        # Whole-dataset normalisation once: cheaper than per sample and identical.
        self._state = self._pad(norm_stats["state"].normalize(reader.state.astype(np.float64), use_quantiles),
                                config.state_dim)
        self._actions = self._pad(norm_stats["actions"].normalize(reader.action.astype(np.float64), use_quantiles),
                                  config.action_dim)
        self._dim_mask = np.arange(config.action_dim) < self.dims
        self._ends = np.array([e.stop for e in reader.episodes])  # exclusive end row of each episode
        self._prompts: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    @staticmethod
    def _pad(x: np.ndarray, dim: int) -> np.ndarray:
        return np.pad(x, ((0, 0), (0, dim - x.shape[1]))).astype(np.float32)

    def __len__(self) -> int:
        return len(self.reader)

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        if not 0 <= i < len(self):
            raise IndexError(f"row {i} out of range for {len(self)} rows")
        r, c = self.reader, self.config
        stop = int(self._ends[int(r.episode_index[i])])
        steps = i + np.arange(c.action_horizon)
        pad = steps >= stop
        size = c.image_size
        images = np.full((len(self.slots), 3, size, size), -1.0, np.float32)  # black, as openpi's absent cameras
        masks = np.zeros(len(self.slots), bool)
        for k, slot in enumerate(self.slots):
            if slot in r.camera_slots:
                images[k] = to_model_pixels(resize_with_pad(r.image(i, slot), size, size))
                masks[k] = True
        task_index = int(r.task_index[i])
        if task_index not in self._prompts:
            self._prompts[task_index] = self.tokenizer.tokenize(r.tasks[task_index])
        tokens, token_masks = self._prompts[task_index]
        return {
            "images": images, "image_masks": masks, "tokens": tokens, "token_masks": token_masks,
            "state": self._state[i], "actions": self._actions[np.minimum(steps, stop - 1)],
            "action_is_pad": pad, "action_dim_mask": self._dim_mask,
            "dataset_index": np.int64(self.dataset_index),
        }  # fmt: skip
