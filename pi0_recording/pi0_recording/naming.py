"""Episode bag names: ``<prefix>_ep<NNNNNN>_<YYYYmmdd-HHMMSS>`` folders in one output directory.

The episode index continues after the highest index of any bag already in the directory (whatever
its prefix), so a restarted recorder, or a second session in the same folder, never reuses an index;
a path that exists anyway is refused, never overwritten.

Pure Python: no rclpy import.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

BAG_NAME_RE = re.compile(r'^(?P<prefix>.+)_ep(?P<index>\d{6,})_(?P<stamp>\d{8}-\d{6})$')
PREFIX_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')


class BagPathError(RuntimeError):
    """A bag cannot be created where it was asked for (it exists, or the folder is unusable)."""


def check_prefix(prefix: str) -> str | None:
    """Error text for a bag name prefix that is not a plain file name, else None."""
    if not PREFIX_RE.match(prefix):
        return 'must start with a letter or digit and hold only letters, digits, "_", "." and "-"'
    return None


def bag_name(prefix: str, index: int, when: datetime) -> str:
    """Folder name of episode ``index`` started at ``when`` (local time, seconds)."""
    if index < 0:
        raise ValueError(f'episode index must be >= 0, got {index}')
    return f'{prefix}_ep{index:06d}_{when:%Y%m%d-%H%M%S}'


def parse_bag_name(name: str) -> tuple[str, int, str] | None:
    """(prefix, index, stamp) of a bag folder name, or None when it is not one of ours."""
    m = BAG_NAME_RE.match(name)
    return (m['prefix'], int(m['index']), m['stamp']) if m else None


def next_episode_index(output_dir: Path) -> int:
    """One more than the highest episode index in output_dir (0 for an empty or missing folder).

    Unfinished bags (a folder without metadata.yaml, left by a crash) count too: their index is
    never given out again.
    """
    indices = [parsed[1] for p in Path(output_dir).iterdir()
               if (parsed := parse_bag_name(p.name)) is not None] if Path(output_dir).is_dir() else []
    return max(indices) + 1 if indices else 0


def new_bag_path(output_dir: Path, prefix: str, when: datetime, min_index: int = 0) -> tuple[int, Path]:
    """(episode index, bag path) for the next episode. The folder itself is not created here.

    Args:
        min_index: lowest index to give out (a recorder passes one more than its last episode, so a
            discarded, deleted episode's index is not given out again either).

    Raises:
        BagPathError: the path exists already (it is never reused).
    """
    index = max(next_episode_index(output_dir), min_index)
    path = Path(output_dir) / bag_name(prefix, index, when)
    if path.exists():
        raise BagPathError(f'{path} exists already; refusing to overwrite a bag')
    return index, path
