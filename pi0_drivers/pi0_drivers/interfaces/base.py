"""What every robot interface implements: one class per command interface (a vendor driver's ROS
topics and actions). In simulation pi0_sim's simulator node serves the very same topics, so the
commands travel as the real messages, to the real names, and the driver code does not change.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from pi0_common.commands import Command
from pi0_common.embodiment import Embodiment
from pi0_common.embodiment_parts import ArmSpec, BaseSpec


class InterfaceError(ValueError):
    """An interface cannot be built: bad configuration or a message package that is not installed."""


def config_value(config: dict[str, Any], key: str, kind: type, where: str, default: Any = ...) -> Any:
    """A value of an embodiment's ``interface`` block, type-checked, naming the key when wrong."""
    if key not in config:
        if default is ...:
            raise InterfaceError(f'{where}: interface.{key} is required')
        return default
    value = config[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind):
        raise InterfaceError(f'{where}: interface.{key} must be {kind.__name__}, got {value!r}')
    return value


def check_keys(config: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(config) - allowed - {'driver'})
    if extra:
        raise InterfaceError(f'{where}: unknown interface field(s) {", ".join(extra)}')


class ArmInterface(ABC):
    """Sends one arm's share of the executor commands (its joints and gripper) to the robot."""

    vendor_hint = "the robot's ROS 2 driver"   # what to start when no joint states arrive

    def __init__(self, node, embodiment: Embodiment, arm: ArmSpec, joint_idx: list[int],
                 grip_idx: int | None, overrides: dict[str, Any]):
        self.node, self.embodiment, self.arm = node, embodiment, arm
        self.joint_idx, self.grip_idx = joint_idx, grip_idx
        self.where = f'{embodiment.name}/{arm.name}'

    @abstractmethod
    def send(self, command: Command, now: float) -> None:
        """Publish this arm's part of a validated command."""

    def on_timeout(self, now: float) -> None:
        """No command for a while: by default nothing (controllers hold their last target)."""

    def describe(self) -> str:
        return type(self).__name__


class BaseInterface(ABC):
    def __init__(self, node, embodiment: Embodiment, base: BaseSpec, base_idx: list[int],
                 overrides: dict[str, Any]):
        self.node, self.embodiment, self.base, self.base_idx = node, embodiment, base, base_idx
        self.where = f'{embodiment.name}/base'

    @abstractmethod
    def send(self, command: Command, now: float) -> None:
        """Publish the base velocity of a validated command (row 0)."""

    @abstractmethod
    def on_timeout(self, now: float) -> None:
        """No command for a while: command zero velocity."""

    def describe(self) -> str:
        return type(self).__name__
