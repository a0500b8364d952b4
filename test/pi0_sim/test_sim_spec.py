"""The sim: block is validated when a SimWorld is built, with errors that name the field."""

import copy
import dataclasses
import subprocess
import sys

import pytest

from pi0_common.embodiment import EmbodimentError, load_embodiment
from pi0_sim.spec import SimConfigError
from pi0_sim.world import SimWorld


def with_sim(name, edit):
    emb = load_embodiment(name)
    sim = copy.deepcopy(emb.sim)
    edit(sim)
    return dataclasses.replace(emb, sim=sim)


def set_path(sim, path, value):
    *keys, last = path
    for k in keys:
        sim = sim[k]
    if value is KeyError:
        del sim[last]
    else:
        sim[last] = value


@pytest.mark.parametrize('name, path, value, message', [
    ('ur5e', ('arms', 'arm', 'links', 2), [0.1, 0.2, 0.3], r'ur5e: sim\.arms\.arm\.links\[2\]'),
    ('ur5e', ('arms', 'arm', 'links', 0, 1), float('nan'), r'sim\.arms\.arm\.links\[0\]'),
    ('ur5e', ('arms', 'arm', 'dh'), 'craig', r'sim\.arms\.arm\.dh: expected one of'),
    ('ur5e', ('arms', 'arm', 'wrist_camera'), KeyError, r'sim\.arms\.arm\.wrist_camera: required'),
    ('ur5e', ('arms', 'arm', 'wrist_camera', 'fov_deg'), 200, r'wrist_camera\.fov_deg'),
    ('ur5e', ('arms', 'arm', 'tool', 'xyz'), [0, 0], r'sim\.arms\.arm\.tool\.xyz: expected 3'),
    ('ur5e', ('arms', 'arm', 'colour'), 'red', r'sim\.arms\.arm: unknown field\(s\) colour'),
    ('ur5e_bimanual', ('arms', 'right'), KeyError, r'sim\.arms\.right: required'),
    ('ur5e', ('arms', 'extra'), {}, r'sim\.arms: unknown field\(s\) extra'),
    ('ur5e', ('base_camera',), KeyError, r'sim\.base_camera: required'),
    ('ur5e', ('table', 'size'), [1.0, -1.0], r'sim\.table\.size'),
    ('ur5e', ('blocks', 'x'), [0.3, 2.0], r'sim\.blocks: the x/y ranges must lie on the table'),
    ('ur5e', ('blocks', 'x'), [0.6, 0.3], r'sim\.blocks\.x: expected \[low, high\]'),
    ('ur5e', ('blocks', 'min_separation'), 0.01, r'sim\.blocks\.min_separation'),
    ('ur5e', ('floor_height',), 0.5, r'sim\.floor_height'),
])
def test_bad_sim_blocks_name_the_field(name, path, value, message):
    emb = with_sim(name, lambda sim: set_path(sim, path, value))
    with pytest.raises(SimConfigError, match=message):
        SimWorld(emb)


def test_a_missing_sim_block_is_an_embodiment_error():
    emb = dataclasses.replace(load_embodiment('franka'), sim={})
    with pytest.raises(EmbodimentError, match='franka: sim: the embodiment file has no sim block'):
        SimWorld(emb)


def test_the_sim_core_imports_no_ros():
    code = ('import sys, pi0_sim.world, pi0_sim.expert; '
            'bad = [m for m in sys.modules if m.split(".")[0] in ("rclpy", "sensor_msgs", "std_msgs")]; '
            'assert not bad, bad')
    subprocess.run([sys.executable, '-c', code], check=True)
