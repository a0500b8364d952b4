"""Message definitions for the bags.

A bag stores, per topic, the message definition (ros2msg text) and type hash of the serialized
bytes it holds; readers without our packages (rosbags, Foxglove, mcap tools) decode with them. The
bytes come from the ROS 2 distro this recorder runs on, so the definitions start from the rosbags
typestore of that distro (``$ROS_DISTRO``: humble, jazzy, kilted, ...) and every type it lacks
(pi0_msgs, vendor messages such as interbotix_xs_msgs or arx5 status) is registered from the .msg
file its package installed (``share/<pkg>/msg/<Name>.msg`` in the ament index), dependencies first.

No rclpy import (ament_index_python is a plain library).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.base import Nodetype

DISTRO_STORES = {
    'humble': Stores.ROS2_HUMBLE,
    'iron': Stores.ROS2_IRON,
    'jazzy': Stores.ROS2_JAZZY,
    'kilted': Stores.ROS2_KILTED,
    'lyrical': Stores.ROS2_LYRICAL,
}


class UnknownTypeError(LookupError):
    """No definition can be found for a message type; its topic cannot be recorded."""


def store_for_distro(distro: str | None) -> Stores:
    """The rosbags typestore matching a ROS distro name (the newest one for unknown distros)."""
    return DISTRO_STORES.get((distro or '').lower(), Stores.LATEST)


def split_type(msgtype: str) -> tuple[str, str]:
    """('pkg', 'Name') of 'pkg/msg/Name'.

    Raises:
        UnknownTypeError: not a message type name.
    """
    parts = msgtype.split('/')
    if len(parts) != 3 or parts[1] != 'msg' or not all(parts):
        raise UnknownTypeError(f'{msgtype!r} is not a message type name (pkg/msg/Name)')
    return parts[0], parts[2]


def ament_share_dir(package: str) -> Path | None:
    """share/<package> of an installed package, or None when the ament index does not know it."""
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    try:
        return Path(get_package_share_directory(package))
    except PackageNotFoundError:
        return None


def _referenced_types(fields) -> set[str]:
    """Names of the message types a parsed definition refers to (nested, arrays, sequences)."""
    out = set()
    for _, (kind, spec) in fields:
        while kind in (Nodetype.ARRAY, Nodetype.SEQUENCE):
            (kind, spec), _ = spec
        if kind == Nodetype.NAME:
            out.add(spec)
    return out


class TypeRegistry:
    """A rosbags typestore that learns missing types from installed .msg files.

    Args:
        distro: ROS distro whose definitions describe the recorded bytes (default $ROS_DISTRO).
        share_dir: package -> share folder lookup (the ament index; tests pass their own).
    """

    def __init__(self, distro: str | None = None, share_dir: Callable[[str], Path | None] = ament_share_dir):
        self.distro = distro if distro is not None else os.environ.get('ROS_DISTRO', '')
        self.typestore = get_typestore(store_for_distro(self.distro))
        self._share_dir = share_dir

    def known(self, msgtype: str) -> bool:
        return msgtype in self.typestore.fielddefs

    def register_package(self, package: str) -> list[str]:
        """Register every message of an installed package; returns the type names.

        Raises:
            UnknownTypeError: the package is not installed, or has no messages.
        """
        share = self._share_dir(package)
        files = sorted((share / 'msg').glob('*.msg')) if share is not None else []
        if not files:
            raise UnknownTypeError(f'package {package!r} has no installed messages (is the workspace sourced?)')
        names = [f'{package}/msg/{f.stem}' for f in files]
        for name in names:
            self.ensure(name)
        return names

    def ensure(self, msgtype: str) -> None:
        """Make msgtype (and every type it uses) known to the typestore.

        Raises:
            UnknownTypeError: naming the type whose .msg file cannot be found or parsed.
        """
        self._ensure(msgtype, set())

    def _ensure(self, msgtype: str, visiting: set[str]) -> None:
        if self.known(msgtype) or msgtype in visiting:
            return
        visiting.add(msgtype)
        package, name = split_type(msgtype)
        share = self._share_dir(package)
        path = share / 'msg' / f'{name}.msg' if share is not None else None
        if path is None or not path.is_file():
            raise UnknownTypeError(f'no definition for {msgtype}: {package} is not installed here '
                                   f'(no share/{package}/msg/{name}.msg in the ament index)')
        try:
            types = get_types_from_msg(path.read_text(), msgtype)
        except Exception as e:   # rosbags raises its own parser errors; name the file
            raise UnknownTypeError(f'cannot parse {path}: {e}') from e
        for dependency in _referenced_types(types[msgtype][1]):
            self._ensure(dependency, visiting)
        self.typestore.register(types)

    def definition(self, msgtype: str) -> tuple[str, str]:
        """(ros2msg definition text, RIHS01 hash) of a known type, as rosbag2 stores them."""
        self.ensure(msgtype)
        text, _ = self.typestore.generate_msgdef(msgtype, ros_version=2)
        return text, self.typestore.hash_rihs01(msgtype)
