"""Real-time chunking across the ROS boundary: the executor sends the actions it has committed
(stamped, on its own time grid); the new chunk's step 0 is at the observation stamp. This aligns the
committed actions to the new chunk's steps, which is what the guided sampler needs.

Pure Python: no rclpy import.
"""

from __future__ import annotations

import math

import numpy as np

from pi0_common.commands import ChunkRequestInfo
from pi0_policy.model.rtc import RtcGuidance


def align_committed(committed: np.ndarray, committed_start: float, committed_dt: float, stamp: float, dt: float,
                    count: int) -> np.ndarray:
    """Committed actions resampled at stamp, stamp + dt, ... (count rows), held at their ends."""
    times = stamp + dt * np.arange(count)
    index = np.clip((times - committed_start) / committed_dt, 0.0, len(committed) - 1.0)
    lo = np.floor(index).astype(int)
    hi = np.minimum(lo + 1, len(committed) - 1)
    frac = (index - lo)[:, None]
    return (1.0 - frac) * committed[lo] + frac * committed[hi]


def guidance_for(request: ChunkRequestInfo, stamp: float, dt: float) -> RtcGuidance | None:
    """RtcGuidance for a chunk observed at ``stamp``, or None when the request commits nothing.

    Steps of the new chunk that the committed actions cover are guided; the inference delay is counted
    from the observation (the steps that will have passed when the chunk arrives).
    """
    if len(request.committed) == 0:
        return None
    end = request.committed_start + (len(request.committed) - 1) * request.dt
    count = int(math.floor((end - stamp) / dt + 1e-6)) + 1
    if count <= 0:
        return None
    prev = align_committed(request.committed, request.committed_start, request.dt, stamp, dt, count)
    # The executor measures its latency from the observation stamp to the chunk's arrival, so its
    # delay estimate counts exactly the new chunk's steps that will be over when it arrives.
    delay = min(request.inference_delay_steps, count)
    horizon = min(request.inference_delay_steps + request.execution_horizon, count)
    return RtcGuidance(prev_actions=prev, inference_delay=delay, execution_horizon=horizon)
