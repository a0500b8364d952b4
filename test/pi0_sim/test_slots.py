import copy
import dataclasses

import numpy as np
import pytest

from pi0_common.embodiment import load_embodiment
from pi0_sim.spec import SimConfigError, parse_sim
from pi0_sim.world import SimWorld


def without_slot_colors(emb):
    sim = copy.deepcopy(emb.sim)
    del sim['blocks']['slot_colors']
    return dataclasses.replace(emb, sim=sim)


def layouts(emb, n=40) -> list[dict[str, int]]:
    """The slot each colour got, over n resets."""
    spec = parse_sim(emb).blocks
    slots = np.asarray(spec.slots)
    world = SimWorld(emb, seed=1, start_time=0.0)
    out = []
    for i in range(n):
        world.reset(now=float(i))
        picked = {}
        for color, xyz in world.scene.blocks.items():
            d = np.abs(slots - xyz[:2]).max(axis=1)
            assert d.min() <= spec.jitter + 1e-9               # within the jitter of a slot
            picked[color] = int(d.argmin())
        assert picked['red'] != picked['blue']                # never the same slot
        out.append(picked)
    return out


def test_blocks_without_slot_colours_take_any_two_distinct_slots():
    emb = without_slot_colors(load_embodiment('ur5e'))
    used = {(p['red'], p['blue']) for p in layouts(emb)}
    n = len(parse_sim(emb).blocks.slots)
    assert len(used) == n * (n - 1)                           # every ordered pair of slots occurs


def test_ur5e_blocks_keep_to_the_slots_of_their_colour():
    emb = load_embodiment('ur5e')
    colors = parse_sim(emb).blocks.slot_colors
    used = {(p['red'], p['blue']) for p in layouts(emb)}
    assert all(colors[r] == 'red' and colors[b] == 'blue' for r, b in used)
    assert len(used) == colors.count('red') * colors.count('blue')   # every combination occurs


@pytest.mark.parametrize('slot_colors, match', [
    (['red', 'blue'], 'one of'),                              # not one per slot
    (['red', 'blue', 'green', 'red'], 'one of'),              # unknown colour
    (['red', 'red', 'red', 'red'], 'no slot for blue'),
])
def test_bad_slot_colours_are_refused(slot_colors, match):
    emb = load_embodiment('ur5e')
    sim = copy.deepcopy(emb.sim)
    sim['blocks']['slot_colors'] = slot_colors
    with pytest.raises(SimConfigError, match=match):
        parse_sim(dataclasses.replace(emb, sim=sim))


def test_slots_that_collide_once_jittered_are_refused():
    emb = load_embodiment('ur5e')
    sim = copy.deepcopy(emb.sim)
    sim['blocks']['slots'] = [[0.4, -0.2], [0.5, -0.2]]
    sim['blocks']['slot_colors'] = ['red', 'blue']
    with pytest.raises(SimConfigError, match='closer than min_separation'):
        parse_sim(dataclasses.replace(emb, sim=sim))
