"""The MuJoCo twin of trossen_bimanual on gym-aloha's scenes: follower joint names and units, the gripper
conventions (ours 0 = open, gym-aloha's 0 = closed), set-point tracking, per-seed object poses, the task's
reward, and the cameras."""

import numpy as np
import pytest

pytest.importorskip('gym_aloha')

from gym_aloha.utils import sample_box_pose, sample_insertion_pose  # noqa: E402

from pi0_common.embodiment import load_embodiment  # noqa: E402
from pi0_sim.aloha_physics import AlohaPhysicsWorld  # noqa: E402
from pi0_sim.spec import SimConfigError  # noqa: E402

EMB = load_embodiment('trossen_bimanual')
LEFT, RIGHT = 'follower_left/joint_states', 'follower_right/joint_states'
JOINTS = ['waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle', 'wrist_rotate']
GRIPPER = EMB.arms[1].gripper       # state in finger metres, command in motor radians
START = [0.0, -0.96, 1.16, 0.0, -0.3, 0.0]      # gym-aloha's START_ARM_POSE (= our home)


@pytest.fixture
def world():
    return AlohaPhysicsWorld(EMB, task='transfer_cube', seed=0, start_time=100.0)


def run(world, until, rate=50.0):
    while world.time < until - 1e-9:
        world.step(min(until, world.time + 1.0 / rate))


def test_joint_states_per_follower_in_the_real_units(world):
    for topic in (LEFT, RIGHT):
        names, pos, vel = world.joint_state(topic)
        assert names == JOINTS + ['left_finger']
        np.testing.assert_allclose(pos[:6], START, atol=1e-9)
        # gym-aloha starts with the fingers at 0.02239 m, nearly closed (normalised 0.1 open): in the real
        # follower's finger metres that is 10% of the way from closed to open.
        expected = GRIPPER.state_closed + 0.1 * (GRIPPER.state_open - GRIPPER.state_closed)
        assert pos[6] == pytest.approx(expected, abs=1e-4)
        assert vel == [0.0] * 7
    with pytest.raises(ValueError, match='unknown joint state topic'):
        world.joint_state('joint_states')


def test_steps_whole_physics_steps_up_to_the_clock(world):
    world.step(100.0301)
    assert world.time == 100.0301
    assert world.physics.data.time == pytest.approx(0.030)    # 15 steps of 2 ms
    world.step(100.0401)
    assert world.physics.data.time == pytest.approx(0.040)
    with pytest.raises(ValueError, match='backwards'):
        world.step(100.0)


def gripper_after(world, command, topic=RIGHT, seconds=0.5):
    start = world.time
    world.command_positions(['gripper'], [command], start, topic=topic)
    run(world, start + seconds)
    side = 'right' if topic == RIGHT else 'left'
    finger = world.physics.named.data.qpos[f'vx300s_{side}/left_finger'][0]
    return float(finger), world.joint_state(topic)[1][6], world.gripper_closure(side)


def test_gripper_open_and_closed_commands_move_the_fingers_the_right_way(world):
    # The inverted-convention catch: the open motor angle must spread gym-aloha's fingers (slide 0.021
    # closed .. 0.057 m open) and read back as the real follower's open finger position, and vice versa.
    mid = (GRIPPER.state_open + GRIPPER.state_closed) / 2
    finger, state, closure = gripper_after(world, GRIPPER.command_open)
    assert finger > 0.05 and state > mid and closure < 0.1
    assert state == pytest.approx(GRIPPER.state_open, abs=0.001)
    finger, state, closure = gripper_after(world, GRIPPER.command_closed)
    assert finger < 0.025 and state < mid and closure > 0.9
    # the other follower's gripper did not move, and the two finger actuators mirror each other
    assert world.physics.named.data.qpos['vx300s_left/left_finger'][0] == pytest.approx(0.02239, abs=5e-4)
    ctrl = world.physics.data.ctrl
    assert ctrl[14] == pytest.approx(-ctrl[15])


def test_an_arm_setpoint_is_reached_within_a_few_tenths_of_a_second(world):
    target = [0.4, -0.6, 0.9, 0.3, -0.1, 0.3]
    world.command_positions(JOINTS, target, 100.0, topic='follower_right/commands/joint_group')
    np.testing.assert_allclose(world.joint_state(RIGHT)[1][:6], START, atol=1e-6)   # tracked, not teleported
    run(world, 100.3)
    np.testing.assert_allclose(world.joint_state(RIGHT)[1][:6], target, atol=0.02)  # wrist_angle sags ~8 mrad
    np.testing.assert_allclose(world.arm_positions('left'), START, atol=0.02)       # the other arm holds


def test_commands_are_validated(world):
    with pytest.raises(ValueError, match='pass the topic'):
        world.command_positions(['waist'], [0.0], 100.0)
    with pytest.raises(ValueError, match='unknown'):
        world.command_positions(['nope'], [0.0], 100.0, topic=LEFT)
    with pytest.raises(ValueError, match='finite'):
        world.command_positions(['waist'], [float('nan')], 100.0, topic=LEFT)
    for other in ('ur5e', 'trossen_mobile'):
        with pytest.raises(SimConfigError, match='simulates trossen_bimanual'):
            AlohaPhysicsWorld(load_embodiment(other))


def test_reset_places_the_objects_as_gym_aloha_does_for_the_seed(world):
    world.reset(seed=1)
    first = world.object_positions()['box']
    np.testing.assert_allclose(first, sample_box_pose(1)[:3], atol=1e-9)
    run(world, 100.2)
    world.reset(seed=1)
    np.testing.assert_allclose(world.object_positions()['box'], first, atol=1e-12)
    world.reset(seed=2)
    assert np.linalg.norm(world.object_positions()['box'] - first) > 0.01
    world.reset()                                       # no seed: the next one
    np.testing.assert_allclose(world.object_positions()['box'], sample_box_pose(3)[:3], atol=1e-9)
    world.start_spread = 0.3                            # arms spread around the start pose, objects as before
    world.reset(seed=1)
    spread = world.arm_positions('left') - START
    assert np.all(np.abs(spread) <= 0.3 + 1e-9) and np.max(np.abs(spread)) > 0.01
    np.testing.assert_allclose(world.object_positions()['box'], first, atol=1e-12)
    insertion = AlohaPhysicsWorld(EMB, task='insertion', seed=5)
    peg, socket = sample_insertion_pose(5)
    np.testing.assert_allclose(insertion.object_positions()['peg'], peg[:3], atol=1e-9)
    np.testing.assert_allclose(insertion.object_positions()['socket'], socket[:3], atol=1e-9)


def test_reward_is_zero_at_start_and_rises_when_the_cube_is_lifted(world):
    # Open the right gripper, put the cube (its free joint) between the right finger pads in the air,
    # close the gripper through the Interbotix command and let the physics run: held off the table is
    # reward 2 (TransferCubeTask.get_reward: right gripper touches, the table does not).
    run(world, 100.1)
    assert world.reward() == 0.0 and world.max_reward_so_far == 0.0 and not world.success
    gripper_after(world, GRIPPER.command_open)
    physics = world.physics
    physics.named.data.qpos['red_box_joint'][:3] = world.ee_position('right')
    physics.named.data.qvel['red_box_joint'] = 0.0
    physics.forward()
    gripper_after(world, GRIPPER.command_closed)
    assert world.reward() == 2.0 and world.max_reward_so_far == 2.0
    assert world.object_positions()['box'][2] > 0.2              # held, 20 cm up
    assert not world.success and world.max_reward == 4.0
    world.reset(seed=0)
    assert world.max_reward_so_far == 0.0


def test_render_every_slot_at_the_configured_size():
    world = AlohaPhysicsWorld(EMB, image_size=(96, 64))
    world.command_positions(['waist'], [0.6], 0.0, topic=RIGHT)     # the right wrist turns away
    run(world, 0.4)
    images = {slot: world.render(slot) for slot in ('base', 'left_wrist', 'right_wrist')}
    for image in images.values():
        assert image.shape == (64, 96, 3) and image.dtype == np.uint8 and image.std() > 5
    assert np.abs(images['base'].astype(int) - images['left_wrist']).mean() > 10
    assert np.abs(images['left_wrist'].astype(int) - images['right_wrist']).mean() > 5
    with pytest.raises(ValueError, match='no camera'):
        world.render('front')
    assert AlohaPhysicsWorld(EMB).render('base').shape == (224, 224, 3)     # the embodiment's size
