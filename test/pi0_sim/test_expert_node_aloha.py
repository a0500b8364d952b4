"""The scripted expert node on the ALOHA MuJoCo twin, over real DDS: with the simulator in lock-step (physics
aloha_mujoco, transfer_cube) and the real trossen_bimanual driver and the expert on simulated time, as
record.launch.py runs them, an instruction goal transfers the cube (sim/reward reaches 4) and is done once the
script has ended. The choice of expert by task (task_experts): the block task never imports MuJoCo, an ALOHA task
without an expert is refused, and the transfer is done only with success and the script played out."""

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from geometry_msgs.msg import Point
from pi0_msgs.action import RunInstruction
from pi0_msgs.msg import ExecutorCommand
from rclpy.action import ActionClient
from std_msgs.msg import Float64MultiArray

from pi0_common.embodiment import load_embodiment
from pi0_common.messages import to_duration_msg, to_sec
from pi0_common.qos import CHUNK_QOS, LATCHED_QOS
from pi0_sim.expert import PlanningError
from pi0_sim.task_experts import make_task_expert, task_view

EMB = load_embodiment('trossen_bimanual')
SIM = {'embodiment': 'trossen_bimanual', 'physics': 'aloha_mujoco', 'aloha_task': 'transfer_cube', 'seed': 3,
       'camera_rate_hz': 2.0, 'clock': 'lockstep'}      # renders cost ~50 ms each on a CPU: few of them
SIM_TIME = {'use_sim_time': True}


def test_the_block_task_expert_node_does_not_import_mujoco():
    code = ('import sys; import pi0_sim.expert_node; from pi0_sim.task_experts import make_task_expert; '
            'from pi0_common.embodiment import load_embodiment; '
            'make_task_expert("reach_blocks", load_embodiment("ur5e")); '
            'sys.exit("mujoco" in sys.modules)')
    assert subprocess.run([sys.executable, '-c', code], timeout=60).returncode == 0


def test_an_aloha_task_without_an_expert_is_refused():
    with pytest.raises(PlanningError, match='no scripted expert for the task .aloha_insertion.'):
        make_task_expert('aloha_insertion', EMB)


def fake_task_state(box) -> SimpleNamespace:
    return SimpleNamespace(task='aloha_transfer_cube', object_names=['box'], object_size=0.04, reached=[],
                           object_positions=[Point(x=float(box[0]), y=float(box[1]), z=float(box[2]))])


def test_the_transfer_is_met_only_with_success_and_the_script_ended():
    pytest.importorskip('gym_aloha')
    from pi0_sim.aloha_physics import AlohaPhysicsWorld
    world = AlohaPhysicsWorld(EMB, task='transfer_cube', seed=3)
    state = np.concatenate([np.append(world.arm_positions(a), world.gripper_closure(a)) for a in ('left', 'right')])
    expert = make_task_expert('aloha_transfer_cube', EMB, seed=3)
    view = task_view(fake_task_state(world.object_positions()['box']), state, EMB, np.eye(4))
    assert view.grippers == {'left': state[6], 'right': state[13]} and view.objects['box'][2] > 0
    succeeded = task_view(fake_task_state(world.object_positions()['box']), state, EMB, np.eye(4), success=True)
    expert.begin(view, 'transfer the cube')
    assert not expert.met(succeeded, 1e9)                   # not started
    first = expert.command(view, 10.0)                      # the plan plays from its first command, ...
    assert first.stamp == 10.0 and np.allclose(first.positions[0], state)      # ... from where the arms rest
    end = 10.0 + expert.expert.plan.events['end']
    assert not expert.met(view, end + 1.0)                  # the script ended, no success
    assert not expert.met(succeeded, end - 0.1)             # success, the script still runs
    assert expert.met(succeeded, end)
    # every tick the expert sees the newest box: once the arms have met, it re-plans the hand-over from it
    meet = 10.0 + expert.expert.plan.meet_tick * EMB.dt
    cube = np.array(expert.expert.style.meet) - [0.0, 0.0, 0.02]
    expert.command(task_view(fake_task_state(cube), state, EMB, np.eye(4)), meet - 0.1)
    assert not expert.expert.plan.replanned
    rows = expert.command(task_view(fake_task_state(cube), state, EMB, np.eye(4)), meet + 0.02).positions
    assert expert.expert.plan.replanned and rows.shape == (10, EMB.valid_dims)


@pytest.mark.slow
def test_the_expert_transfers_the_cube_through_the_stack_in_lockstep(ros):
    pytest.importorskip('gym_aloha')
    pytest.importorskip('interbotix_xs_msgs', reason='make setup builds it into install_vendor/; source tools/env.sh')
    from pi0_drivers.driver_node import RobotDriverNode
    from pi0_sim.expert_node import ScriptedExpertNode
    from pi0_sim.simulator_node import SimulatorNode

    ros.make(SimulatorNode, SIM)
    driver = ros.make(RobotDriverNode, {'embodiment': 'trossen_bimanual', **SIM_TIME})
    expert = ros.make(ScriptedExpertNode, {'embodiment': 'trossen_bimanual', 'seed': 3, 'hold': 0.2, **SIM_TIME})
    probe = ros.node('probe')
    reward = ros.collect(probe, Float64MultiArray, 'sim/reward', LATCHED_QOS)
    commands = ros.collect(probe, ExecutorCommand, 'pi0/command', CHUNK_QOS)
    client = ActionClient(probe, RunInstruction, 'expert/run_instruction')
    assert ros.wait_for(lambda: all(a.modes.confirmed for a in driver.arms), 10)      # set_operating_modes

    def ready():
        try:
            return expert.view().task == 'aloha_transfer_cube'
        except PlanningError:
            return False
    assert ros.wait_for(ready, 10) and client.wait_for_server(timeout_sec=10)
    handle_future = client.send_goal_async(RunInstruction.Goal(instruction='transfer the cube',
                                                               time_limit=to_duration_msg(120.0)))
    assert ros.wait_for(handle_future.done, 10) and handle_future.result().accepted
    result_future = handle_future.result().get_result_async()
    assert ros.wait_for(result_future.done, 130)
    result = result_future.result().result
    assert result.outcome == RunInstruction.Result.OUTCOME_DONE, result.message
    assert result.message == 'transferred the cube'
    assert max(r.data[0] for r in reward) == 4.0 and reward[-1].data[3] == 1.0      # reward, success
    plan = expert.expert.expert.plan
    assert plan.replanned                               # the hand-over followed the cube in the right fingers
    # Lock-step: the driver passed a command on at every tick (the simulator waits for it; the probe's depth-1
    # subscription may miss one, never the first or the last), until the script had ended (simulated seconds after
    # the plan's first command) and the hold had passed. Only the first command may be followed by a gap: until
    # it reaches the simulator, nothing commands the robot and time runs at real-time pace.
    first, last = to_sec(commands[0].header.stamp), to_sec(commands[-1].header.stamp)
    assert round((last - first) / EMB.dt) - 1 <= driver.commands_sent <= round((last - first) / EMB.dt) + 1
    start = expert.expert.start                     # the stamp of the plan's first command
    assert start == first
    assert plan.events['end'] + 0.2 - EMB.dt <= last - start <= plan.events['end'] + 0.2 + 0.1, (last - start)
    assert reward[-1].data[0] == 4.0            # the cube still held by the left gripper alone at the end
