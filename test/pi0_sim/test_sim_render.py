"""Cameras: every slot of every embodiment renders at its size, deterministically; what they see
changes as the robot moves; the blocks are visible and coloured; a wrist camera sees a block only
once the tool is over it."""

import numpy as np
import pytest

from pi0_common.embodiment import available_embodiments, load_embodiment
from pi0_sim.world import SimWorld


def red(img):
    r, g, b = (img[..., i].astype(int) for i in range(3))
    return (r > 120) & (g < 70) & (b < 70)


def blue(img):
    r, g, b = (img[..., i].astype(int) for i in range(3))
    return (b > 120) & (r < 70) & (g < 110)


def settle(world, arm_name, joints, until):
    """Stream one arm's joint set-points and step until ``until``."""
    arm = next(a for a in world.embodiment.arms if a.name == arm_name)
    world.command_positions([j.name for j in arm.joints], list(joints), world.time, topic=arm.joint_state_topic)
    while world.time < until:
        world.step(world.time + 0.02)


@pytest.mark.parametrize('name', available_embodiments())
def test_every_camera_slot_renders_at_its_size(name):
    world = SimWorld(load_embodiment(name), seed=0)
    for cam in world.embodiment.cameras:
        img = world.render(cam.slot)
        assert img.shape == (cam.height, cam.width, 3) and img.dtype == np.uint8
        assert img.std() > 5                              # not a blank frame
    with pytest.raises(ValueError, match='no camera'):
        world.render('top')


@pytest.mark.parametrize('name', available_embodiments())
def test_both_blocks_are_visible_from_the_base_camera_at_home(name):
    emb = load_embodiment(name)
    for seed in range(4):
        img = SimWorld(emb, seed=seed).render('base')
        assert red(img).sum() >= 12, f'{name} seed {seed}: red block not visible'
        assert blue(img).sum() >= 12, f'{name} seed {seed}: blue block not visible'


def test_block_tops_have_their_colours():
    world = SimWorld(load_embodiment('ur5e'), seed=0)
    img = world.render('base')
    for mask, color in ((red(img), (200, 30, 30)), (blue(img), (30, 60, 200))):
        pixels = img[mask].astype(int)
        assert np.any(np.all(np.abs(pixels - color) <= 3, axis=1))   # the lit top face


def test_rendering_is_deterministic_for_a_seed():
    emb = load_embodiment('trossen_mobile')
    a, b, c = SimWorld(emb, seed=7), SimWorld(emb, seed=7), SimWorld(emb, seed=8)
    for world in (a, b, c):
        world.command_positions(['waist', 'elbow'], [0.3, 0.8], 0.0, topic='follower_left/joint_states')
        world.command_base_velocity({'vx': 0.2, 'wz': 0.3}, 0.0)
        world.step(0.5)
    for slot in emb.camera_slots:
        np.testing.assert_array_equal(a.render(slot), b.render(slot))
    assert not np.array_equal(a.render('base'), c.render('base'))   # another block layout


@pytest.mark.parametrize('name', ['ur5e', 'franka', 'trossen_bimanual', 'arx_mobile', 'fibocom_mobile'])
def test_images_change_when_the_joints_move(name):
    world = SimWorld(load_embodiment(name), seed=0)
    before = {s: world.render(s) for s in world.embodiment.camera_slots}
    arm = world.embodiment.arms[0]
    target = np.array([j.home for j in arm.joints]) + np.resize([0.4, 0.25, -0.25, 0.3], len(arm.joints))
    settle(world, arm.name, target, 1.0)
    for slot, img in before.items():
        moved = arm.camera == slot or slot == 'base'
        changed = int((np.abs(world.render(slot).astype(int) - img).max(axis=-1) > 20).sum())
        assert (changed > 100) == moved, f'{name} {slot}: {changed} pixels changed'


def test_wrist_camera_sees_the_fingers_close():
    world = SimWorld(load_embodiment('ur5e'), seed=0)
    opened = world.render('left_wrist')
    world.command_positions(['robotiq_85_left_knuckle_joint'], [0.7929], 0.0)
    world.step(1.0)
    closed = world.render('left_wrist')
    bottom = slice(160, None)
    assert np.abs(closed[bottom].astype(int) - opened[bottom]).mean() > 2.0
    np.testing.assert_array_equal(closed[:80], opened[:80])     # the scene itself did not change


def test_wrist_camera_sees_a_block_only_once_the_tool_is_over_it():
    world = SimWorld(load_embodiment('ur5e'), seed=0)
    world.scene.place_block('red', (0.35, -0.35))       # ~0.5 m from the tool (at 0.49, 0.13)
    world.scene.place_block('blue', (0.8, 0.5))
    base = world.render('base')
    assert red(base).sum() > 12                          # in the scene, seen by the base camera
    assert red(world.render('left_wrist')).sum() == 0
    target = world.scene.block_top('red') + [0.0, 0.0, 0.15]
    q = world.solve_ik('arm', target, point_down=True)
    settle(world, 'arm', q, 3.0)
    assert np.linalg.norm(world.ee_position('arm') - target) < 2e-3
    img = world.render('left_wrist')
    mask = red(img)
    assert mask.sum() > 200
    rows, cols = np.nonzero(mask)
    # Straight below the tool: near the image centre, above the fingers.
    assert abs(cols.mean() - 112) < 40 and 40 < rows.mean() < 190
