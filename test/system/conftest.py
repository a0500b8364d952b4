"""Helpers shared by the system tests (stacks of real node processes)."""

from __future__ import annotations

import time

from pi0_bringup.runner import Stack


def wait(cond, timeout: float, stack: Stack | None = None) -> bool:
    """Poll ``cond``; with ``stack``, fail at once (naming the node) if a node process dies meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack is not None:
            stack.check()
        if cond():
            return True
        time.sleep(0.02)
    return cond()
