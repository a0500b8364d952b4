"""A rosbags typestore that knows the ROS 2 standard messages and our pi0_msgs, without ROS.

Bags written by rosbag2 (mcap) embed their message definitions and rosbags reads those; this typestore is
the fallback for bags that carry none (sqlite3 bags from Humble) and the one the tests write bags with.
The pi0_msgs definitions are read from the .msg files themselves: the installed share folder when the
workspace is built, else the source tree next to this package.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

PACKAGE = "pi0_msgs"
# Humble's definitions: the oldest distro we support, and Image/JointState/Odometry/String have not
# changed since, so they decode bags from later distros too.
BASE_STORE = Stores.ROS2_HUMBLE


def find_msg_dir() -> Path:
    """The folder holding pi0_msgs' .msg files.

    Raises:
        FileNotFoundError: neither an installed pi0_msgs nor the source tree is found.
    """
    candidates = []
    try:  # pure Python, part of ament; absent on a machine with no ROS at all
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

        try:
            candidates.append(Path(get_package_share_directory(PACKAGE)) / "msg")
        except PackageNotFoundError:
            pass
    except ImportError:
        pass
    # Source checkout: <repo>/pi0_policy/pi0_policy/data/typestore.py -> <repo>/pi0_msgs/msg
    candidates.append(Path(__file__).resolve().parents[3] / PACKAGE / "msg")
    for folder in candidates:
        if any(folder.glob("*.msg")):
            return folder
    raise FileNotFoundError(f"no {PACKAGE} .msg files found; looked in {[str(c) for c in candidates]}")


@lru_cache(maxsize=4)
def pi0_typestore(msg_dir: str | None = None) -> Typestore:
    """Humble's standard types plus every pi0_msgs message (``pi0_msgs/msg/<Name>``).

    Args:
        msg_dir: folder of .msg files; found with :func:`find_msg_dir` when None.
    """
    folder = Path(msg_dir) if msg_dir is not None else find_msg_dir()
    store = get_typestore(BASE_STORE)
    types = {}
    for path in sorted(folder.glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"{PACKAGE}/msg/{path.stem}"))
    store.register(types)
    return store
