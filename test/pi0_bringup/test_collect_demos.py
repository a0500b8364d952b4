"""collect_demos end to end: scripted-expert demonstrations recorded through the ROS stack (simulator,
driver, recorder and expert each in its own process; services, an action, DDS). The bags are checked
independently of the expert: the layout is replayed from the seed and the last recorded joint state,
through the arm's kinematics, must put the tool on the named block."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from rosbags.highlevel import AnyReader

from pi0_bringup.block_task import START_SPREAD
from pi0_bringup.collect_demos import main, parse_args
from pi0_common.embodiment import load_embodiment
from pi0_sim.world import SimWorld

SEED = 3


def read(bag: Path) -> dict[str, list]:
    out: dict[str, list] = {}
    with AnyReader([bag]) as reader:
        for connection, t, raw in reader.messages():
            out.setdefault(connection.topic, []).append((t, reader.deserialize(raw, connection.msgtype)))
    return out


@pytest.mark.slow
def test_two_demonstrations_reach_the_named_blocks(tmp_path, capsys):
    assert main(['--episodes', '2', '--out', str(tmp_path), '--seed', str(SEED)]) == 0
    assert '2/2 episodes reached the block' in capsys.readouterr().out
    bags = sorted(tmp_path.iterdir())
    assert [b.name[:14] for b in bags] == ['ur5e_ep000000_', 'ur5e_ep000001_']

    emb = load_embodiment('ur5e')
    # The simulator's world: episode i is reset with seed SEED + i (layout and start pose).
    world = SimWorld(emb, seed=SEED, start_spread=START_SPREAD)
    chain = world.spec.arms['arm'].chain
    joint_names = [j.name for j in emb.arms[0].joints]
    for i, (bag, instruction) in enumerate(zip(bags, ['reach the red block', 'reach the blue block'], strict=True)):
        world.reset(seed=SEED + i)
        meta = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
        assert meta['version'] == 8
        assert meta['custom_data']['task'] == instruction and meta['custom_data']['success'] == 'true'
        topics = read(bag)
        assert [m.data for _, m in topics['/pi0/instruction']] == [instruction]
        assert [(e.event, e.success) for _, e in topics['/pi0/episode_event']] == [(0, False), (1, True)]
        for camera in ('/camera/base/image_raw', '/camera/wrist/image_raw'):
            _, image = topics[camera][-1]
            assert (image.width, image.height, image.encoding) == (224, 224, 'rgb8')
        commands = [m for _, m in topics['/pi0/command']]
        trajectories = [m for _, m in topics['/scaled_joint_trajectory_controller/joint_trajectory']]
        assert len(commands) > 10 and len(trajectories) > 10
        assert all(c.embodiment == 'ur5e' and c.valid_dims == 7 for c in commands)

        def arm_joints(state):
            return np.array([state.position[list(state.name).index(n)] for n in joint_names])

        # The episode started at rest at the world's spread start pose, away from home.
        start = np.array(world.joint_state('joint_states')[1][:6])
        np.testing.assert_allclose(arm_joints(topics['/joint_states'][0][1]), start, atol=1e-6)
        assert np.abs(start - [j.home for j in emb.arms[0].joints]).max() > 0.05
        q = arm_joints(topics['/joint_states'][-1][1])
        tool = chain.tool_position(q)
        color = instruction.split()[2]
        offset = tool - world.scene.block_top(color)
        assert np.linalg.norm(offset[:2]) <= 0.05 and -world.scene.block_size / 2 <= offset[2] <= 0.04
        # The last command's target is where the arm ended up (the controller tracked it).
        np.testing.assert_allclose(commands[-1].positions[:6], q, atol=0.02)


def test_bad_arguments_are_refused():
    with pytest.raises(SystemExit):
        parse_args(['--episodes', '0', '--out', 'x'])
    with pytest.raises(SystemExit):
        parse_args(['--episodes', '2'])                 # --out is needed unless --attach
    assert parse_args(['--episodes', '2', '--attach']).attach
    with pytest.raises(SystemExit):
        parse_args(['--episodes', '2', '--out', 'x', '--start-spread', '1.5'])
    with pytest.raises(SystemExit):
        parse_args(['--episodes', '2', '--out', 'x', '--camera-rate', '-1'])
    block = parse_args(['--episodes', '2', '--out', 'x'])
    assert (block.task.embodiment, block.start_spread, block.episode_timeout) == ('ur5e', START_SPREAD, 20.0)
    aloha = parse_args(['--episodes', '2', '--out', 'x', '--physics', 'aloha_mujoco', '--start-spread', '0.1'])
    assert (aloha.task.embodiment, aloha.start_spread, aloha.episode_timeout) == ('trossen_bimanual', 0.1, 60.0)


@pytest.mark.slow
def test_a_transfer_cube_demonstration_on_the_aloha_twin_in_lockstep(tmp_path, capsys):
    pytest.importorskip('gym_aloha')
    pytest.importorskip('interbotix_xs_msgs', reason='make setup builds it into install_vendor/; source tools/env.sh')
    assert main(['--episodes', '1', '--out', str(tmp_path), '--seed', str(SEED), '--physics', 'aloha_mujoco',
                 '--clock', 'lockstep', '--camera-rate', '2', '--hold', '0.2']) == 0
    assert '1/1 episodes transferred the cube' in capsys.readouterr().out
    [bag] = sorted(tmp_path.iterdir())
    assert bag.name.startswith('trossen_bimanual_ep000000_')
    meta = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert meta['custom_data']['task'] == 'transfer the cube' and meta['custom_data']['success'] == 'true'
    topics = read(bag)
    assert [m.data for _, m in topics['/pi0/instruction']] == ['transfer the cube']
    assert [(e.event, e.success) for _, e in topics['/pi0/episode_event']] == [(0, False), (1, True)]
    for camera in ('cam_high', 'cam_left_wrist', 'cam_right_wrist'):
        images = [m for _, m in topics[f'/{camera}/camera/color/image_rect_raw']]
        assert len(images) >= 10 and (images[-1].width, images[-1].height, images[-1].encoding) == (224, 224, 'rgb8')
    commands = [m for _, m in topics['/pi0/command']]
    emb = load_embodiment('trossen_bimanual')
    # Lock-step: one command a control tick for the whole demonstration (~6-7 s of simulated time), stamped on
    # the simulated clock the bag is recorded on. (After the first a tick may be missing: until the first command
    # reaches the simulator, nothing commands the robot and time runs at real-time pace.)
    stamps = np.array([c.header.stamp.sec + c.header.stamp.nanosec * 1e-9 for c in commands])
    assert len(commands) > 250 and np.allclose(np.diff(stamps[1:]), emb.dt, atol=1e-4)
    assert all(c.embodiment == 'trossen_bimanual' and c.valid_dims == emb.valid_dims for c in commands)
    for arm in ('left', 'right'):
        assert len(topics[f'/follower_{arm}/joint_states']) > 250
        assert len(topics[f'/follower_{arm}/commands/joint_group']) > 250
    # It ends with the cube in the left gripper alone: the left closed on it (on nothing it would read ~0.94),
    # the right open.
    last = {}
    for arm in emb.arms:
        _, state = topics['/' + arm.joint_state_topic][-1]
        last.update({(arm.joint_state_topic, n): p for n, p in zip(state.name, state.position, strict=True)})
    unified = emb.state_from_joints(last)
    (_, _, left_grip), (_, _, right_grip) = emb.arm_slices()
    assert 0.3 < unified[left_grip] < 0.6 and unified[right_grip] < 0.1, unified
