import copy
import dataclasses

import numpy as np
import pytest

from pi0_drivers.embodiment import load_embodiment
from pi0_drivers.sim.spec import SimConfigError, parse_sim
from pi0_drivers.sim.world import SimWorld


def test_ur5e_blocks_go_to_distinct_jittered_slots():
    emb = load_embodiment('ur5e')
    spec = parse_sim(emb).blocks
    slots = np.asarray(spec.slots)
    world = SimWorld(emb, seed=1, start_time=0.0)
    used = set()
    for i in range(40):
        world.reset(now=float(i))
        picked = []
        for xyz in world.scene.blocks.values():
            d = np.abs(slots - xyz[:2]).max(axis=1)
            assert d.min() <= spec.jitter + 1e-9               # within the jitter of a slot
            picked.append(int(d.argmin()))
        assert picked[0] != picked[1]                         # never the same slot
        used.add(tuple(picked))
    assert len(used) == len(slots) * (len(slots) - 1)          # every ordered pair of slots occurs


def test_slots_that_collide_once_jittered_are_refused():
    emb = load_embodiment('ur5e')
    sim = copy.deepcopy(emb.sim)
    sim['blocks']['slots'] = [[0.4, -0.2], [0.5, -0.2]]
    with pytest.raises(SimConfigError, match='closer than min_separation'):
        parse_sim(dataclasses.replace(emb, sim=sim))
