"""Declared, described and validated node parameters.

Each node lists its parameters once as ``Param`` rows (name, default, description, check); the
node declares them all with descriptors (so ``ros2 param describe`` explains them) and refuses to
start, naming the parameter, when a value is invalid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor


class ParameterError(ValueError):
    """An invalid parameter value; the node does not start."""


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    description: str
    check: Callable[[Any], str | None] | None = None   # returns an error text, or None when fine
    read_only: bool = True


def declare_all(node, params: list[Param]) -> SimpleNamespace:
    """Declare every parameter and return their values as attributes (dots become underscores)."""
    values = {}
    for p in params:
        descriptor = ParameterDescriptor(description=p.description, read_only=p.read_only)
        value = node.declare_parameter(p.name, p.default, descriptor).value
        if p.check is not None:
            error = p.check(value)
            if error:
                raise ParameterError(f'{node.get_name()}: parameter {p.name!r} = {value!r}: {error}')
        values[p.name.replace('.', '_')] = value
    return SimpleNamespace(**values)


def refusal(params: list[Param], changed) -> str | None:
    """Why a run-time change of parameters (rclpy Parameters) is refused, by the same checks as at start
    (rclpy itself refuses read-only and wrongly typed values); None when every value is fine."""
    checks = {p.name: p.check for p in params}
    for param in changed:
        check = checks.get(param.name)
        error = check(param.value) if check is not None else None
        if error:
            return f'{param.name} = {param.value!r}: {error}'
    return None


# Reusable checks ---------------------------------------------------------------------------------
def positive(v) -> str | None:
    return None if v > 0 else 'must be positive'


def non_negative(v) -> str | None:
    return None if v >= 0 else 'must be >= 0'


def one_of(*choices) -> Callable[[Any], str | None]:
    return lambda v: None if v in choices else f'expected one of {", ".join(map(str, choices))}'


def in_range(lo, hi) -> Callable[[Any], str | None]:
    return lambda v: None if lo <= v <= hi else f'must be in [{lo}, {hi}]'
