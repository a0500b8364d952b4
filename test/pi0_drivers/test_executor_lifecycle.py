"""The chunk executor as a managed node, through its real lifecycle services over DDS, with the simulated
UR5e and its driver: it commands nothing unless active, deactivation sends one hold and then nothing,
and on hardware activation is the arming gate (pi0/executor/resume activates an inactive node)."""

from pi0_msgs.msg import ExecutorCommand, ExecutorStatus
from std_srvs.srv import Trigger

from pi0_common.messages import to_sec
from pi0_common.qos import CHUNK_QOS, LATCHED_QOS
from pi0_drivers.driver_node import RobotDriverNode
from pi0_drivers.executor_node import ChunkExecutorNode
from pi0_sim.simulator_node import SimulatorNode

EXECUTOR = 'pi0_chunk_executor'


def setup(ros, hardware: bool, lifecycle: str):
    ros.make(SimulatorNode, {'embodiment': 'ur5e'})
    ros.make(RobotDriverNode, {'embodiment': 'ur5e'})
    executor = ros.make(ChunkExecutorNode, {'embodiment': 'ur5e', 'hardware': hardware, 'status_rate_hz': 20.0},
                        lifecycle=lifecycle)
    probe = ros.node('probe')
    commands = ros.collect(probe, ExecutorCommand, 'pi0/command', CHUNK_QOS)
    status = ros.collect(probe, ExecutorStatus, 'pi0/executor_status', LATCHED_QOS)
    return executor, probe, commands, status


def quiet_for(ros, commands, seconds: float = 1.0) -> bool:
    before = len(commands)
    ros.wait_for(lambda: False, seconds)
    return len(commands) == before


def test_executor_commands_only_while_active(ros):
    executor, probe, commands, status = setup(ros, hardware=False, lifecycle='unconfigured')
    assert ros.lifecycle_state(probe, EXECUTOR) == 'unconfigured'
    assert probe.count_subscribers('pi0/action_chunk') == 0          # configure subscribes

    assert ros.transition(probe, EXECUTOR, 'configure')
    assert ros.wait_for(lambda: probe.count_subscribers('pi0/action_chunk') > 0, 5)
    assert ros.wait_for(lambda: status and status[-1].state == 'disarmed', 5)   # inactive == disarmed
    assert quiet_for(ros, commands) and not commands

    assert ros.transition(probe, EXECUTOR, 'activate')
    # active: it holds the measured pose, every tick
    assert ros.wait_for(lambda: len(commands) > 5, 5)
    assert ros.wait_for(lambda: status and status[-1].state == 'waiting', 5)

    assert ros.transition(probe, EXECUTOR, 'deactivate')
    done = probe.get_clock().now().nanoseconds * 1e-9
    ros.wait_for(lambda: False, 1.0)
    assert commands[-1].mode == ExecutorCommand.MODE_HOLD               # the last thing sent is a hold
    assert not [c for c in commands if to_sec(c.header.stamp) > done]   # ... and nothing after it
    assert quiet_for(ros, commands, 0.5)
    assert ros.wait_for(lambda: status and status[-1].state == 'disarmed', 5)
    # the services answer in every state: a pause while inactive changes nothing and commands nothing
    assert ros.call(probe, Trigger, 'pi0/executor/pause', Trigger.Request()) is not None
    assert quiet_for(ros, commands, 0.3)

    assert ros.transition(probe, EXECUTOR, 'cleanup')
    assert ros.lifecycle_state(probe, EXECUTOR) == 'unconfigured'
    assert ros.wait_for(lambda: probe.count_subscribers('pi0/action_chunk') == 0, 5)
    assert ros.transition(probe, EXECUTOR, 'shutdown')
    assert ros.lifecycle_state(probe, EXECUTOR) == 'finalized'
    assert quiet_for(ros, commands, 0.3)


def test_hardware_resume_activates_an_inactive_executor_and_deactivate_disarms(ros):
    executor, probe, commands, status = setup(ros, hardware=True, lifecycle='inactive')
    assert ros.lifecycle_state(probe, EXECUTOR) == 'inactive'
    assert ros.wait_for(lambda: status and status[-1].state == 'disarmed', 5)
    assert quiet_for(ros, commands) and not commands                     # disarmed: nothing at all

    reply = ros.call(probe, Trigger, 'pi0/executor/resume', Trigger.Request())
    assert reply.success, reply.message
    assert ros.lifecycle_state(probe, EXECUTOR) == 'active'               # arming is activation
    assert ros.wait_for(lambda: len(commands) > 5, 5)

    assert ros.transition(probe, EXECUTOR, 'deactivate')
    assert ros.wait_for(lambda: status and status[-1].state == 'disarmed', 5)
    ros.wait_for(lambda: False, 0.3)
    assert quiet_for(ros, commands)
    # `ros2 lifecycle set ... activate` arms as well
    assert ros.transition(probe, EXECUTOR, 'activate')
    assert ros.wait_for(lambda: status and status[-1].state == 'waiting', 5)


def test_resume_on_an_unconfigured_executor_is_refused(ros):
    _, probe, commands, _ = setup(ros, hardware=True, lifecycle='unconfigured')
    reply = ros.call(probe, Trigger, 'pi0/executor/resume', Trigger.Request())
    assert not reply.success and 'unconfigured' in reply.message
    assert ros.lifecycle_state(probe, EXECUTOR) == 'unconfigured'
    assert quiet_for(ros, commands, 0.5)


def test_the_core_disarms_but_keeps_a_latched_estop():
    from pi0_common.embodiment import load_embodiment
    from pi0_drivers.executor import ChunkExecutor, ExecutorConfig
    core = ChunkExecutor(load_embodiment('ur5e'), ExecutorConfig(executed_steps=16, rate_hz=20.0, hardware=False))
    assert core.state == 'waiting'
    core.disarm()
    assert core.state == 'disarmed' and core.tick(10.0) is None and 'disarmed' in core.blocked
    assert core.resume(10.0) and core.state == 'waiting'
    core.estop()
    core.disarm()
    assert core.state == 'estop' and not core.resume(11.0)            # only reset_estop clears it
