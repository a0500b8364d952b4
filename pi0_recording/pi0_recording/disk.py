"""The free-space floor: below it a recording stops cleanly instead of dying on a full disk (which
would leave an mcap without its index and no metadata.yaml).

Pure Python: no rclpy import.
"""

from __future__ import annotations

import shutil
from pathlib import Path

MB = 1024 * 1024
RESUME_MARGIN = 0.05    # recording resumes once free space is 5 % above the floor, not at the floor


def free_mb(path: Path) -> float:
    """Free space (MiB, for an unprivileged user) on the file system that holds path."""
    return shutil.disk_usage(path).free / MB


class DiskGuard:
    """Says when free space falls below the floor and when it is back (with a small margin, so a
    disk hovering at the floor does not start and stop episodes every second)."""

    def __init__(self, floor_mb: float):
        self.floor_mb = float(floor_mb)
        self.low = False
        self.last_free_mb: float | None = None

    def update(self, free: float) -> str | None:
        """Feed the free space (MiB). Returns 'low' when it just fell below the floor, 'ok' when it
        just came back, None when nothing changed."""
        self.last_free_mb = free
        if not self.low and free < self.floor_mb:
            self.low = True
            return 'low'
        if self.low and free >= self.floor_mb * (1.0 + RESUME_MARGIN):
            self.low = False
            return 'ok'
        return None

    def set_floor(self, floor_mb: float) -> None:
        self.floor_mb = float(floor_mb)

    def describe(self) -> str:
        free = 'unknown' if self.last_free_mb is None else f'{self.last_free_mb:.0f} MiB'
        return f'free space {free}, floor {self.floor_mb:.0f} MiB (disk_floor_mb)'
