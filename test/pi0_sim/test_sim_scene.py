"""The task scene: seeded block layouts that are apart, on the table and reachable, and the
reached() success check."""

import dataclasses

import numpy as np
import pytest

from pi0_common.embodiment import available_embodiments, load_embodiment
from pi0_sim.world import SimWorld


def layout(world):
    return {c: p.copy() for c, p in world.scene.blocks.items()}


def test_layouts_are_seeded_and_reset_draws_a_new_one():
    emb = load_embodiment('ur5e')
    a, b = SimWorld(emb, seed=3), SimWorld(emb, seed=3)
    first = layout(a)
    assert set(first) == {'red', 'blue'}
    for c in first:
        np.testing.assert_array_equal(first[c], b.scene.blocks[c])
    a.reset()
    assert not np.allclose(a.scene.blocks['red'], first['red'])
    a.reset(seed=3)
    np.testing.assert_array_equal(a.scene.blocks['red'], first['red'])


@pytest.mark.parametrize('name', available_embodiments())
def test_blocks_are_apart_on_the_table_and_reachable_from_above(name):
    world = SimWorld(load_embodiment(name), seed=0)
    spec = world.spec.blocks
    for seed in range(3):
        world.reset(seed=seed)
        red, blue = world.scene.blocks['red'], world.scene.blocks['blue']
        assert np.linalg.norm(red[:2] - blue[:2]) >= 0.15
        for color, p in world.scene.blocks.items():
            assert spec.x[0] <= p[0] <= spec.x[1] and spec.y[0] <= p[1] <= spec.y[1]
            assert p[2] == pytest.approx(world.spec.table.height + spec.size / 2)
            # Some arm can put its tool tip 1 cm above the block, pointing down.
            target = world.scene.block_top(color) + [0.0, 0.0, 0.01]
            arms = sorted(world.embodiment.arms, key=lambda a: abs(world.ee_position(a.name)[1] - p[1]))
            errors = []
            for arm in arms:
                q = world.solve_ik(arm.name, target, point_down=True)
                tool = world.spec.arms[arm.name].chain.tool_pose(q)     # the bases are at the origin
                errors.append(np.linalg.norm(tool[:3, 3] - target))
                if errors[-1] < 2e-3 and tool[2, 2] < -0.999:
                    break
            else:
                pytest.fail(f'{name} seed {seed}: {color} block not reachable (errors {errors})')


def test_reached_needs_the_tool_over_the_block_top():
    world = SimWorld(load_embodiment('franka'), seed=1)
    assert not world.scene.reached('arm', 'red')
    top = world.scene.block_top('red')
    for offset, expected in [((0.0, 0.0, 0.02), True), ((0.03, 0.02, 0.0), True), ((0.05, 0.03, 0.02), False),
                             ((0.0, 0.0, 0.06), False), ((0.0, 0.0, -0.04), False)]:
        world.reset(seed=1)
        q = world.solve_ik('arm', top + offset)
        world.command_positions([j.name for j in world.embodiment.arms[0].joints], q.tolist(), world.time)
        world.step(world.time + 3.0)
        np.testing.assert_allclose(world.ee_position('arm'), top + offset, atol=2e-3)
        assert world.scene.reached('arm', 'red') == expected, offset
    assert world.scene.distance('arm', 'red') == pytest.approx(0.04, abs=2e-3)
    assert world.scene.distances('arm')['blue'] > 0.15


def test_blocks_can_be_placed_by_hand():
    world = SimWorld(load_embodiment('ur5e'), seed=0)
    world.scene.place_block('blue', (0.5, 0.1), yaw=0.3)
    np.testing.assert_allclose(world.scene.blocks['blue'], [0.5, 0.1, 0.0225])
    with pytest.raises(ValueError, match='unknown block colour'):
        world.scene.place_block('green', (0.5, 0.1))
    with pytest.raises(ValueError, match='finite'):
        world.scene.place_block('red', (np.nan, 0.1))


def test_a_small_block_region_is_refused():
    emb = load_embodiment('ur5e')
    sim = dict(emb.sim, blocks={'size': 0.045, 'x': [0.4, 0.45], 'y': [0.0, 0.05]})
    with pytest.raises(ValueError, match='too small for two blocks'):
        SimWorld(dataclasses.replace(emb, sim=sim))


def test_start_spread_moves_the_start_pose_within_bounds_and_is_seeded():
    emb = load_embodiment('ur5e')
    home = np.array([j.home for j in emb.arms[0].joints] + [emb.arms[0].gripper.home])
    topic = emb.joint_state_topics[0]
    a, b = SimWorld(emb, seed=7, start_spread=0.3), SimWorld(emb, seed=7, start_spread=0.3)
    starts = []
    for _ in range(20):
        a.reset()
        b.reset()
        q = np.array(a.joint_state(topic)[1])
        np.testing.assert_array_equal(q, b.joint_state(topic)[1])       # same seed, same starts
        assert np.all(np.abs(q[:6] - home[:6]) <= 0.3) and q[6] == home[6]  # the gripper starts at home
        starts.append(q)
    assert np.std(np.array(starts)[:, :6], axis=0).min() > 0.05              # every arm joint moves
    # At rest where it starts: no motion until commanded.
    a.step(a.time + 0.5)
    np.testing.assert_allclose(a.joint_state(topic)[1], starts[-1], atol=1e-12)
    # The layouts are those of the same seed without spread: the start pose is drawn after the layout.
    plain = SimWorld(emb, seed=7)
    spread = SimWorld(emb, seed=7, start_spread=0.3)
    assert all(np.array_equal(plain.scene.blocks[c], spread.scene.blocks[c]) for c in plain.scene.colors)
    np.testing.assert_array_equal(plain.joint_state(topic)[1], home)


@pytest.mark.parametrize('spread', [-0.1, 1.5, float('nan')])
def test_a_bad_start_spread_is_refused(spread):
    with pytest.raises(ValueError, match='start_spread'):
        SimWorld(load_embodiment('ur5e'), start_spread=spread)
