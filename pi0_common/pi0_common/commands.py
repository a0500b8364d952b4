"""The data that crosses between the chunk executor, the teleop sources, the drivers and the policy,
as plain Python: a per-tick command and a chunk request. pi0_common.messages converts them to and from
their pi0_msgs messages.

Pure Python and numpy: no rclpy import.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MODE_ACTIVE, MODE_HOLD, MODE_ESTOP = 0, 1, 2   # as in pi0_msgs/ExecutorCommand


@dataclass
class Command:
    """One tick's output. Row i of positions is the command for the interval starting at stamp + i * dt
    (as in openpi's runtime and the recorded datasets: the action at time t is the command issued at t,
    which the controller reaches one step later)."""

    mode: int
    stamp: float
    dt: float
    positions: np.ndarray               # [N, valid_dims]
    chunk_id: int = 0


@dataclass
class ChunkRequestInfo:
    request_id: int
    committed_start: float              # time row 0 of committed is due
    dt: float
    committed: np.ndarray               # [K, valid_dims], empty when not using RTC or nothing to commit
    inference_delay_steps: int
    execution_horizon: int


def first_non_finite(values: np.ndarray) -> tuple[int, int] | None:
    """(row, column) of the first NaN or infinity in a 2-D array, or None."""
    bad = np.argwhere(~np.isfinite(values))
    return (int(bad[0][0]), int(bad[0][1])) if len(bad) else None
