"""Tick timing of a control loop: how far each interval is from the period (jitter), and late ticks.

Pure Python and numpy: no rclpy import.
"""

from __future__ import annotations

from collections import deque

import numpy as np


class TickStats:
    """Tick interval jitter (|interval - period|) and late ticks, over a window."""

    def __init__(self, period: float, window: int = 2000):
        self.period = period
        self.deviation: deque[float] = deque(maxlen=window)
        self.late = 0
        self._last: float | None = None

    def add(self, t: float) -> None:
        if self._last is not None:
            interval = t - self._last
            self.deviation.append(abs(interval - self.period))
            if interval > 1.5 * self.period:
                self.late += 1
        self._last = t

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.deviation, q)) if self.deviation else 0.0
