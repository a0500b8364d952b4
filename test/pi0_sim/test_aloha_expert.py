"""The scripted transfer_cube expert on the MuJoCo ALOHA twin: it solves gym-aloha's task closed loop (reward 4
within the 400-tick episode) on several layouts, its command stream is ordinary teleop output (unified rows
within the joint and velocity limits, the gripper as closure 0 = open .. 1 = closed), and the same script with
the gripper convention inverted fails."""

import numpy as np
import pytest

pytest.importorskip('gym_aloha')

from pi0_common.commands import MODE_ACTIVE  # noqa: E402
from pi0_common.embodiment import load_embodiment  # noqa: E402
from pi0_sim.aloha_expert import EPISODE_STEPS, TransferCubeExpert, TransferStyle, run_episode  # noqa: E402
from pi0_sim.aloha_physics import AlohaPhysicsWorld  # noqa: E402

EMB = load_embodiment('trossen_bimanual')
SEEDS = [0, 1, 2, 3, 4]
LIMIT_SLACK = 1e-9


@pytest.fixture(scope='module')
def world():
    return AlohaPhysicsWorld(EMB, task='transfer_cube', seed=0)


def episode(world, seed, **kwargs):
    world.reset(seed=seed)
    expert = TransferCubeExpert(EMB, world.physics.model.ptr, seed=seed)
    return expert, run_episode(world, expert, **kwargs)


@pytest.mark.parametrize('seed', SEEDS)
def test_transfers_the_cube_within_the_episode(world, seed):
    expert, result = episode(world, seed)
    assert result.success and result.max_reward == 4.0, expert.style
    assert result.steps == result.success_step <= EPISODE_STEPS
    assert expert.plan.replanned        # the hand-over followed the cube as it hung in the right fingers


def test_the_whole_demonstration_ends_with_the_cube_in_the_left_gripper_only(world):
    expert, result = episode(world, 7, stop_on_success=False)
    assert result.steps == EPISODE_STEPS and result.success and result.success_step < EPISODE_STEPS
    assert expert.plan.events['end'] < EPISODE_STEPS * EMB.dt      # the script fits gym-aloha's 8 s
    assert world.reward() == 4.0            # still held by the left, off the table
    assert world.gripper_closure('right') < 0.1         # open, backed off
    assert 0.3 < world.gripper_closure('left') < 0.6    # closed on the 4 cm cube (on nothing it reads ~0.94)
    assert world.object_positions()['box'][2] > 0.15


def test_commands_are_teleop_rows_within_the_joint_and_velocity_limits(world):
    world.reset(seed=3)
    start = np.concatenate([np.append(world.arm_positions(a), world.gripper_closure(a)) for a in ('left', 'right')])
    expert = TransferCubeExpert(EMB, world.physics.model.ptr, seed=3)
    result = run_episode(world, expert, stop_on_success=False)
    rows = np.vstack([start, result.rows])
    assert rows.shape == (EPISODE_STEPS + 1, EMB.valid_dims)
    assert np.all(rows >= EMB.lower - LIMIT_SLACK) and np.all(rows <= EMB.upper + LIMIT_SLACK)
    speed = np.abs(np.diff(rows, axis=0)) / EMB.dt
    for arm, joints, grip in EMB.arm_slices():
        vmax = np.array([j.max_velocity for j in arm.joints])
        assert np.all(speed[:, joints] <= vmax), arm.name
        assert np.all(speed[:, grip] <= arm.gripper.max_rate), arm.name
    grips = rows[:, [g for _, _, g in EMB.arm_slices()]]
    assert grips.min() == 0.0 and grips.max() == 1.0        # both open fully and close fully
    # row i of a command is the plan at stamp + (i + 1) dt, as the block scene's expert
    cmd = expert.command(2.0)
    assert cmd.mode == MODE_ACTIVE and cmd.stamp == 2.0 and cmd.dt == EMB.dt
    assert cmd.positions.shape == (expert.lookahead, EMB.valid_dims)
    np.testing.assert_allclose(cmd.positions[4], expert.plan.sample(2.0 + 5 * EMB.dt - expert._t0))


def test_inverted_gripper_convention_fails(world):
    # The same script with closure taken as 0 = closed: the right gripper shuts before it reaches the
    # cube and opens around it, so the cube is never carried, let alone handed over.
    def inverted(arm, closure):
        return arm.gripper.to_command(1.0 - closure)

    _, result = episode(world, 0, to_gripper_command=inverted)
    assert not result.success and result.max_reward < 2.0 and result.success_step is None
    assert result.steps == EPISODE_STEPS


def test_styles_vary_per_seed_and_repeat_for_the_same_seed(world):
    world.reset(seed=5)
    plans = []
    for seed in (11, 11, 12):
        expert = TransferCubeExpert(EMB, world.physics.model.ptr, seed=seed)
        expert.begin_from_world(world)
        plans.append((expert.style, expert.plan.rows))
    assert plans[0][0] == plans[1][0] and np.array_equal(plans[0][1], plans[1][1])
    assert plans[0][0] != plans[2][0]
    assert not np.array_equal(plans[0][1][:200], plans[2][1][:200])


def test_observe_replans_the_handover_once_after_the_meeting(world):
    world.reset(seed=2)
    expert = TransferCubeExpert(EMB, world.physics.model.ptr, seed=2)
    expert.begin_from_world(world, now=10.0)
    meet = 10.0 + expert.plan.meet_tick * EMB.dt
    before = expert.plan.rows.copy()
    assert not expert.observe(world.object_positions()['box'], meet - 0.1)
    cube = np.array(expert.style.meet) + [0.0, 0.0, -0.02]       # it hangs 2 cm low
    assert expert.observe(cube, meet + 0.05)
    rows = expert.plan.rows
    k = expert.plan.meet_tick + 3
    np.testing.assert_array_equal(rows[:k + 1], before[:k + 1])    # nothing already commanded changes
    assert not expert.observe(cube, meet + 0.5)                        # once
    # the left closes lower than first planned, by the 2 cm
    left = [j.name for j in EMB.arms[0].joints]
    kin = expert.kin['left']
    t_take = round(expert.plan.events['handover'] / EMB.dt) - 1     # events: s after the start
    p, _ = kin.forward(rows[t_take, :len(left)])
    assert p[2] == pytest.approx(cube[2], abs=0.005)


def test_a_given_style_is_followed(world):
    world.reset(seed=1)
    expert = TransferCubeExpert(EMB, world.physics.model.ptr, seed=1)
    style = TransferStyle.sample(np.random.default_rng(99))
    arms = {a: world.arm_positions(a) for a in ('left', 'right')}
    assert expert.begin(world.object_positions()['box'], arms, {a: world.gripper_closure(a) for a in arms}, 0.0,
                        style=style) is style
    assert expert.style is style
    # the arms rest for the style's hesitation, then move
    still = int(round(style.hesitation / EMB.dt))
    joints = [i for _, idx, _ in EMB.arm_slices() for i in idx]
    rows = expert.plan.rows[:, joints]
    assert np.allclose(rows[:still + 1], rows[0]) and not np.allclose(rows[still + 2], rows[0])
