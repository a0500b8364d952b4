"""The scripted expert: which block an instruction names, smooth minimum-jerk joint paths within
the speed it was given, closed-loop reaches in the simulator for both colours, per-episode variety,
and a clear refusal for a block out of reach."""

import numpy as np
import pytest

from pi0_common.commands import MODE_ACTIVE
from pi0_common.embodiment import load_embodiment
from pi0_sim.expert import (
    ExpertStyle,
    JointPath,
    PlanningError,
    ScriptedExpert,
    min_jerk,
    move_time,
    scene_from_world,
    target_color,
)
from pi0_sim.world import SimWorld

UR5E = load_embodiment('ur5e')
COLORS = ('red', 'blue')


def test_instruction_names_exactly_one_block():
    assert target_color('reach the red block', COLORS) == 'red'
    assert target_color('Reach the BLUE block.', COLORS) == 'blue'
    for bad in ('reach the green block', 'red or blue?', 'a reddish block', ''):
        with pytest.raises(PlanningError, match='exactly one'):
            target_color(bad, COLORS)


def test_min_jerk_path_is_smooth_and_respects_the_speed():
    assert (min_jerk(0.0), min_jerk(0.5), min_jerk(1.0)) == (0.0, 0.5, 1.0)
    q0, q1 = np.zeros(6), np.array([1.0, -0.5, 0.2, 0.0, 0.0, 0.3])
    vmax = np.full(6, np.pi)
    t = move_time(q0, q1, vmax, speed=0.3)
    path = JointPath(np.array([0.0, t]), np.vstack([q0, q1]))
    ts = np.linspace(-0.1, t + 0.1, 2001)
    qs = np.array([path.sample(x) for x in ts])
    velocity = np.diff(qs, axis=0) / np.diff(ts)[:, None]
    assert np.max(np.abs(velocity) / vmax) <= 0.3 + 1e-3
    np.testing.assert_allclose(qs[0], q0)
    np.testing.assert_allclose(qs[-1], q1)
    assert np.all(np.abs(velocity[:5]) < 1e-9) and np.all(np.abs(velocity[-5:]) < 1e-9)   # at rest at both ends


def run_episode(world, expert, instruction, max_time=10.0):
    """Closed loop as in the stack: each command becomes a JointTrajectoryController goal."""
    names = [j.name for j in UR5E.arms[0].joints]
    expert.begin(scene_from_world(world), instruction, world.time)
    t = world.time
    while t < max_time + world.time:
        cmd = expert.command(t)
        assert cmd.mode == MODE_ACTIVE and cmd.positions.shape == (10, UR5E.valid_dims)
        assert np.all(cmd.positions[:, 6] == 0.0)                          # gripper open throughout
        times = [(i + 1) * cmd.dt for i in range(len(cmd.positions))]
        world.command_trajectory(names, times, cmd.positions[:, :6].tolist(), t)
        t += cmd.dt
        world.step(t)
        if world.scene.reached('arm', expert.color):
            return True
    return False


@pytest.mark.parametrize('instruction', ['reach the red block', 'reach the blue block'])
def test_expert_reaches_the_named_block_in_the_simulator(instruction):
    world = SimWorld(UR5E, seed=3)
    color = instruction.split()[2]
    other = 'blue' if color == 'red' else 'red'
    for episode in range(3):
        world.reset(now=0.0)
        expert = ScriptedExpert(UR5E, seed=episode)
        assert run_episode(world, expert, instruction)
        assert world.scene.reached('arm', color) and not world.scene.reached('arm', other)


def test_episodes_differ_but_a_seed_repeats():
    world = SimWorld(UR5E, seed=5)
    paths = []
    for seed in (1, 2, 1):
        world.reset(seed=5, now=0.0)
        expert = ScriptedExpert(UR5E, seed=seed)
        expert.begin(scene_from_world(world), 'reach the red block', 0.0)
        paths.append(expert.path)
    assert not np.allclose(paths[0].points, paths[1].points) or paths[0].duration != paths[1].duration
    np.testing.assert_allclose(paths[0].points, paths[2].points)
    styles = [ExpertStyle.sample(np.random.default_rng(s)) for s in range(20)]
    assert len({round(s.speed, 3) for s in styles}) == 20
    assert all(0.15 <= s.speed <= 0.35 and 0.06 <= s.approach_height <= 0.14 for s in styles)


def test_a_block_out_of_reach_is_refused():
    world = SimWorld(UR5E, seed=0)
    world.scene.place_block('red', (3.0, 0.0))
    with pytest.raises(PlanningError, match='cannot reach'):
        ScriptedExpert(UR5E, seed=0).begin(scene_from_world(world), 'reach the red block', 0.0)
    with pytest.raises(RuntimeError, match='begin'):
        ScriptedExpert(UR5E).command(0.0)
