"""Fixtures of the interface tests (helpers in harness.py)."""

import pytest

from .harness import DriverRig


@pytest.fixture
def rig(ros):
    """rig(embodiment, sim=True, **driver parameters) -> DriverRig"""
    return lambda embodiment, **kw: DriverRig(ros, embodiment, **kw)
