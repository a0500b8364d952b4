"""Declared, described and validated node parameters.

Each node lists its parameters once as ``Param`` rows (name, default, description, check); the
node declares them all with descriptors, so ``ros2 param describe`` shows the description, the
accepted range or choices and whether the value can change at run time, and it refuses to start,
naming the parameter, when a value is invalid. Run-time changes go through ``refusal``: the same
checks as at start, so a value refused at start is refused later too.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException

INT_MAX = 2 ** 63 - 1


class ParameterError(ValueError):
    """An invalid parameter value; the node does not start."""


class Check:
    """A parameter check: ``check(value)`` is an error text, or None when the value is fine. ``lo``/``hi``
    (inclusive; a strict bound is ``lo_open``) and ``choices`` also go into the parameter's descriptor."""

    def __init__(self, error: str, lo=None, hi=None, lo_open: bool = False, choices: tuple = ()):
        self.error, self.lo, self.hi, self.lo_open, self.choices = error, lo, hi, lo_open, choices

    def __call__(self, value) -> str | None:
        if self.choices:
            return None if value in self.choices else self.error
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return self.error
        if self.hi is not None and value > self.hi:
            return self.error
        return None

    def describe(self, descriptor: ParameterDescriptor, value) -> None:
        """Put the range (numbers) or the choices (text) into the descriptor."""
        if self.choices:
            descriptor.additional_constraints = 'one of: ' + ', '.join(repr(c) for c in self.choices)
            return
        if isinstance(value, bool) or not isinstance(value, int | float):
            return
        if isinstance(value, int):
            lo = -INT_MAX if self.lo is None else int(self.lo) + (1 if self.lo_open else 0)
            descriptor.integer_range = [IntegerRange(from_value=lo, to_value=INT_MAX if self.hi is None
                                                     else int(self.hi), step=0)]
        else:
            lo = -sys.float_info.max if self.lo is None else float(self.lo)
            if self.lo_open:
                lo = math.nextafter(lo, math.inf)     # ranges are inclusive: the next double above
            descriptor.floating_point_range = [FloatingPointRange(
                from_value=lo, to_value=sys.float_info.max if self.hi is None else float(self.hi), step=0.0)]
        descriptor.additional_constraints = self.error


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    description: str
    check: Callable[[Any], str | None] | None = None   # returns an error text, or None when fine
    read_only: bool = True                             # False: settable at run time (the node applies it)


def descriptor_of(p: Param) -> ParameterDescriptor:
    descriptor = ParameterDescriptor(description=p.description, read_only=p.read_only)
    if isinstance(p.check, Check):
        p.check.describe(descriptor, p.default)
    return descriptor


def declare_all(node, params: list[Param]) -> SimpleNamespace:
    """Declare every parameter and return their values as attributes (dots become underscores)."""
    values = {}
    for p in params:
        try:
            value = node.declare_parameter(p.name, p.default, descriptor_of(p)).value
        except (InvalidParameterTypeException, InvalidParameterValueException) as e:
            # rclpy refused the given value (wrong type, outside the descriptor's range): one clear line.
            expected = f' ({p.check.error})' if isinstance(p.check, Check) else ''
            raise ParameterError(f'{node.get_name()}: parameter {p.name!r}: {e.args[0]}{expected}') from None
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
positive = Check('must be positive', lo=0, lo_open=True)
non_negative = Check('must be >= 0', lo=0)


def one_of(*choices) -> Check:
    return Check(f'expected one of {", ".join(map(str, choices))}', choices=choices)


def in_range(lo, hi) -> Check:
    return Check(f'must be in [{lo}, {hi}]', lo=lo, hi=hi)
