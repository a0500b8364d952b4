"""Faults injected into a running UR5e stack in simulation (simulator, driver, executor, policy: each its
own process, started by the runner, π₀ with random weights), each with its safe outcome asserted:

- the policy process SIGKILLed mid-chunk: the executor hears it from DDS liveliness, executes at most
  the committed steps, then holds; in simulation it goes on once a new policy runs; on hardware
  nothing moves after the new policy is up until the operator resumes;
- joint states that stall (the simulator SIGSTOPped): the executor commands nothing and says why, and
  goes on after SIGCONT;
- the executor SIGKILLed: no more commands; the controller ends the last segment and the arm settles;
- 20 % of the chunks dropped between policy and executor (a relay here drops every 5th): no command
  beyond the position, velocity and acceleration limits, and the executor keeps running;
- a camera that jumps back in time and then stalls (a relay here re-stamps it): the policy refuses the
  stale observation, says so on /diagnostics, and publishes no chunk from it;
- the robot driver SIGKILLed: the controller holds its last goal (the arm settles) and the executor
  keeps running within the limits; once its commands run away from the arm that no longer follows,
  it holds where the arm was measured (a tracking fault), not where the last command was.
"""

import os
import re
import signal
import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from pi0_msgs.msg import ActionChunk
from rclpy.node import Node
from sensor_msgs.msg import Image

from pi0_bringup.monitor import StackMonitor
from pi0_bringup.runner import Stack
from pi0_bringup.stack_interfaces import StackControls
from pi0_bringup.stack_spec import DRIVER, EXECUTOR, POLICY, SIMULATOR, robot_stack
from pi0_common.commands import MODE_ACTIVE, MODE_HOLD
from pi0_common.embodiment import load_embodiment
from pi0_common.messages import to_sec
from pi0_common.qos import CHUNK_QOS, POLICY_CHUNK_QOS, SENSOR_PUB_QOS, SENSOR_QOS
from pi0_common.spin import NoAnswerError, call_service

from .conftest import wait as wait_until

EMB = load_embodiment('ur5e')
TIMEOUT = 60.0          # s for chunks to flow on a loaded 2-core machine; a healthy run takes a few
CAMERA = EMB.cameras[0]
CAMERA_TOPIC = CAMERA.wire_topic(CAMERA.transport)


def wait(cond, timeout: float = TIMEOUT, stack: Stack | None = None) -> bool:
    return wait_until(cond, timeout, stack)


class Watch:
    """The monitor's recording plus the chunks' stamps by id and the nodes' /diagnostics messages."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.monitor = StackMonitor(EMB, context=stack.context)
        stack.add_node(self.monitor)
        self.chunk_stamps: dict[int, float] = {}
        self.diagnostics: dict[str, str] = {}
        self.monitor.create_subscription(ActionChunk, 'pi0/action_chunk', self._on_chunk, CHUNK_QOS)
        self.monitor.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)
        self.controls = StackControls(stack.node)

    def _on_chunk(self, msg: ActionChunk) -> None:
        self.chunk_stamps[msg.chunk_id] = to_sec(msg.header.stamp)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            self.diagnostics[status.name.split(':', 1)[0].strip()] = status.message

    def now(self) -> float:
        return self.monitor.now()

    def rec(self):
        return self.monitor.snapshot()

    def status(self):
        return self.rec().status

    def active_since(self, t: float) -> int:
        rec = self.rec()
        return sum(m == MODE_ACTIVE and s > t for m, s in zip(rec.command_mode, rec.command_t, strict=True))

    def commands_since(self, t: float) -> list[tuple[float, int, int, np.ndarray]]:
        rec = self.rec()
        return [(s, m, c, q) for s, m, c, q in zip(rec.command_t, rec.command_mode, rec.command_chunk,
                                                    rec.command_q, strict=True) if s > t]

    def settled(self, since: float, window: float = 0.5) -> bool:
        """The measured joints did not move in the last ``window`` s (and some came after ``since``)."""
        rec = self.rec()
        start = max(since, rec.measured_t[-1] - window) if rec.measured_t else since
        q = [x for s, x in zip(rec.measured_t, rec.measured_q, strict=True) if s > start]
        return len(q) > 3 and float(np.max(np.ptp(np.stack(q), axis=0))) < 1e-6


def assert_within_limits(watch: Watch) -> None:
    """Every command within the joint limits, and each one within the velocity limits of the one before,
    except where the executor re-referenced (a tracking fault: the robot did not follow, as when the
    driver died and the commands no longer reached it): there the command is a hold that starts where the
    robot was measured, never a jump anywhere else."""
    rec = watch.rec()
    q, t = np.stack(rec.command_q), np.asarray(rec.command_t)
    assert np.all(np.isfinite(q))
    assert np.all(q >= EMB.lower - 1e-6) and np.all(q <= EMB.upper + 1e-6), 'a command beyond the joint limits'
    rates = np.abs(np.diff(q, axis=0)) / np.maximum(np.diff(t), 1e-3)[:, None]
    for i in np.flatnonzero(np.any(rates > EMB.max_rate * 1.001 + 1e-4, axis=1)) + 1:
        assert rec.command_mode[i] == MODE_HOLD and at_a_measurement(rec, t[i], q[i]), \
            f'a command faster than the velocity limits at t={t[i]:.3f} (mode {rec.command_mode[i]}): ' \
            f'{np.round(q[i - 1], 3).tolist()} -> {np.round(q[i], 3).tolist()}'


def at_a_measurement(rec, t: float, q: np.ndarray) -> bool:
    """q lies where the robot was measured at most max_state_age before t (the executor re-references from
    the freshest joint state it has; 20 ms of motion at the velocity limits allowed for the sample it
    saw being another than the monitor's)."""
    window = [m for s, m in zip(rec.measured_t, rec.measured_q, strict=True)
              if t - EMB.max_state_age - 0.05 <= s <= t + 0.05]
    return any(np.all(np.abs(q - m) <= EMB.max_rate * 0.02 + 1e-4) for m in window)


def bring_up(stack: Stack, name: str) -> None:
    """Configure and activate a restarted managed node, as an operator would with `ros2 lifecycle set`.
    A reply can be lost while a new process is still being discovered: each step is asked until the
    node reports the state it leads to."""
    stack.wait_for_nodes([name], timeout=TIMEOUT)
    change = stack.node.create_client(ChangeState, f'{name}/change_state')
    get = stack.node.create_client(GetState, f'{name}/get_state')
    if not get.wait_for_service(timeout_sec=5.0):
        return                                   # not a managed node: it runs once started
    steps = {'unconfigured': Transition.TRANSITION_CONFIGURE, 'inactive': Transition.TRANSITION_ACTIVATE}
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        stack.check()
        try:
            state = call_service(get, GetState.Request(), timeout=5.0).current_state.label
            if state == 'active':
                return
            if state in steps:
                call_service(change, ChangeState.Request(transition=Transition(id=steps[state])), timeout=10.0)
        except NoAnswerError:
            pass
    raise AssertionError(f'{name} did not become active')


def kill_policy_mid_chunk(stack: Stack, watch: Watch) -> float:
    """SIGKILL the policy just after a new chunk started executing (its committed steps are ahead);
    returns when, in ROS time."""
    def fresh_chunk_started():      # the last command is the first or second of a chunk, the third or later
        rec = watch.rec()
        active = [c for m, c in zip(rec.command_mode, rec.command_chunk, strict=True) if m == MODE_ACTIVE]
        return (len(set(active)) >= 3 and rec.command_mode[-1] == MODE_ACTIVE
                and active.count(rec.command_chunk[-1]) <= 2)
    assert wait(fresh_chunk_started, TIMEOUT, stack), f'chunks did not flow: {watch.status()}'
    t_kill = watch.now()
    assert stack.kill(POLICY) == -signal.SIGKILL
    return t_kill


def own_domain() -> None:
    """Each stack on a ROS domain of its own: the participants of a stack just stopped (and those SIGKILLed,
    which DDS forgets only when their lease ends) must not answer the next stack's lifecycle manager."""
    os.environ['ROS_DOMAIN_ID'] = str(int(os.environ.get('ROS_DOMAIN_ID', '0')) % 100 + 1)


@pytest.fixture(scope='module', autouse=True)
def _restore_domain():
    before = os.environ.get('ROS_DOMAIN_ID')
    yield
    if before is None:
        os.environ.pop('ROS_DOMAIN_ID', None)
    else:
        os.environ['ROS_DOMAIN_ID'] = before


def lost_at(stack: Stack) -> float:
    """When the executor took the policy for lost (ROS time, from its log line)."""
    line = [x for x in stack.output(EXECUTOR).splitlines() if 'policy lost' in x][-1]
    return float(re.search(r'\[(\d+\.\d+)\]', line).group(1))


def assert_only_committed_steps(watch: Watch, t_lost: float) -> None:
    """Once the loss is known, no step past a chunk's executed_steps is commanded (no overrun)."""
    late = [(round((t - watch.chunk_stamps[c]) / EMB.dt, 2), c) for t, m, c, _ in watch.commands_since(t_lost)
            if m == MODE_ACTIVE and (t - watch.chunk_stamps[c]) / EMB.dt > EMB.executed_steps - 1 + 1e-3]
    assert not late, f'steps past the committed ones after the policy was lost (step, chunk): {late}'


def stack_specs(**overrides):
    own_domain()
    base = {POLICY: {'seed': 0}, EXECUTOR: {'request_timeout': 1.0}}
    for name, values in overrides.items():
        base.setdefault(name, {}).update(values)
    return robot_stack('ur5e', sim=True, checkpoint='random:pi0_tiny', instruction='reach the red block',
                       overrides=base)


# ----------------------------------------------------------------------------------------------- stack A
@pytest.fixture(scope='module')
def plain():
    with Stack(stack_specs()) as stack:
        yield stack, Watch(stack)


@pytest.mark.slow
def test_a_killed_policy_is_noticed_the_committed_steps_run_then_the_arm_holds(plain):
    stack, watch = plain
    t_kill = kill_policy_mid_chunk(stack, watch)
    assert wait(lambda: 'policy lost' in getattr(watch.status(), 'last_error', '')
                and watch.status().state == 'holding', 10), f'no policy loss reported: {watch.status()}'
    time.sleep(1.0)
    assert_only_committed_steps(watch, lost_at(stack))
    after = watch.commands_since(t_kill)
    holds = [i for i, (_, mode, _, _) in enumerate(after) if mode != MODE_ACTIVE]
    assert holds and all(after[i][1] == MODE_HOLD for i in range(holds[0], len(after)))
    assert watch.settled(t_kill), 'the arm did not come to rest'
    assert np.max(np.abs(after[-1][3] - watch.rec().measured_q[-1])) < 0.05     # held where it is
    assert stack.died() == {POLICY: -signal.SIGKILL}

    # In simulation a new policy process brings the chunks back without an operator.
    t_restart = watch.now()
    stack.restart(POLICY)
    bring_up(stack, POLICY)
    assert wait(lambda: watch.active_since(t_restart) > 10, TIMEOUT, stack), \
        f'no chunks after the restart: {watch.status()}'
    assert_within_limits(watch)


@pytest.mark.slow
def test_stalled_joint_states_stop_the_commands_and_say_why_then_go_on(plain):
    stack, watch = plain
    assert wait(lambda: watch.active_since(watch.now() - 1.0) > 5, TIMEOUT, stack)
    stack.signal(SIMULATOR, signal.SIGSTOP)
    t_stop = watch.now()
    try:
        assert wait(lambda: 'joint states are' in getattr(watch.status(), 'blocked', ''), 5), watch.status()
        # nothing is commanded from max_state_age after the last joint state on (a tick of slack)
        quiet = t_stop + EMB.max_state_age + 2 * EMB.dt
        time.sleep(1.0)
        assert not watch.commands_since(quiet), 'commands went out on stale joint states'
    finally:
        stack.signal(SIMULATOR, signal.SIGCONT)
    t_cont = watch.now()
    assert wait(lambda: watch.active_since(t_cont) > 10, TIMEOUT, stack), f'no commands after SIGCONT: {watch.status()}'
    assert not watch.status().blocked
    assert_within_limits(watch)


@pytest.mark.slow
def test_a_killed_executor_leaves_the_arm_settling_on_its_last_segment(plain):
    stack, watch = plain
    assert wait(lambda: watch.active_since(watch.now() - 1.0) > 5, TIMEOUT, stack)
    t_kill = watch.now()
    assert stack.kill(EXECUTOR) == -signal.SIGKILL
    assert wait(lambda: watch.settled(t_kill + 0.5), 5), 'the arm kept moving without an executor'
    assert not watch.commands_since(t_kill + 0.1)


# ----------------------------------------------------------------------------------------------- stack B
class FaultRelay(Node):
    """Between the policy and the executor: drops every 5th chunk. Between the simulator and the policy:
    one camera, passed on, re-stamped 5 s back in time ('back'), or not at all ('stall')."""

    def __init__(self, context):
        super().__init__('pi0_fault_relay', context=context)
        self.forwarded = self.dropped = 0
        self.camera_mode = 'pass'
        self.chunks = self.create_publisher(ActionChunk, 'fault/action_chunk', POLICY_CHUNK_QOS)   # as the policy's
        self.create_subscription(ActionChunk, 'pi0/action_chunk', self._on_chunk, CHUNK_QOS)
        self.camera = self.create_publisher(Image, f'fault/{CAMERA_TOPIC}', SENSOR_PUB_QOS)
        self.create_subscription(Image, CAMERA_TOPIC, self._on_image, SENSOR_QOS)

    def _on_chunk(self, msg: ActionChunk) -> None:
        if (self.forwarded + self.dropped) % 5 == 4:
            self.dropped += 1
        else:
            self.forwarded += 1
            self.chunks.publish(msg)

    def _on_image(self, msg: Image) -> None:
        if self.camera_mode == 'back':
            msg.header.stamp.sec -= 5
        if self.camera_mode != 'stall':
            self.camera.publish(msg)


@pytest.fixture(scope='module')
def relayed():
    specs = stack_specs()
    for spec in specs:
        if spec.name == EXECUTOR:
            spec.remaps = {'pi0/action_chunk': 'fault/action_chunk'}
        if spec.name == POLICY:
            spec.remaps = {CAMERA_TOPIC: f'fault/{CAMERA_TOPIC}'}
    with Stack(specs) as stack:
        watch = Watch(stack)
        relay = FaultRelay(stack.context)
        stack.add_node(relay)
        yield stack, watch, relay


@pytest.mark.slow
def test_dropped_chunks_never_make_a_command_jump_beyond_the_limits(relayed):
    stack, watch, relay = relayed
    assert wait(lambda: relay.dropped >= 3 and watch.status() is not None
                and watch.status().chunks_executed >= 8, 2 * TIMEOUT, stack), \
        f'dropped {relay.dropped}, status {watch.status()}'
    assert watch.status().chunks_received <= relay.forwarded
    assert_within_limits(watch)
    assert not stack.died()


@pytest.mark.slow
def test_a_camera_back_in_time_or_stalled_stops_inference_and_says_why(relayed):
    stack, watch, relay = relayed
    max_image_age = stack.parameters(POLICY).get('max_image_age', 0.5)
    assert wait(lambda: len(watch.chunk_stamps) >= 2, TIMEOUT, stack)
    for mode in ('back', 'stall'):
        relay.camera_mode = mode
        t_fault = watch.now()
        assert wait(lambda: f'camera {CAMERA.slot} image is' in watch.diagnostics.get(POLICY, ''), 10), \
            f'{mode}: the policy does not say its camera is stale: {watch.diagnostics.get(POLICY)}'
        time.sleep(2.0)
        stale = [s for s in watch.chunk_stamps.values() if s > t_fault + max_image_age]
        assert not stale, f'{mode}: chunks published from observations with a stale camera'
        relay.camera_mode = 'pass'
        t_back = watch.now()
        assert wait(lambda t=t_back: any(s > t for s in watch.chunk_stamps.values()), TIMEOUT, stack), \
            f'{mode}: no chunks once the camera is back'


@pytest.mark.slow
def test_a_killed_driver_leaves_the_arm_holding_and_the_executor_within_the_limits(relayed):
    stack, watch, _ = relayed
    assert wait(lambda: watch.active_since(watch.now() - 1.0) > 5, TIMEOUT, stack)
    t_kill = watch.now()
    assert stack.kill(DRIVER) == -signal.SIGKILL
    assert wait(lambda: watch.settled(t_kill + 0.5), 5), 'the arm kept moving without a driver'
    time.sleep(1.0)
    assert stack.died() == {DRIVER: -signal.SIGKILL}      # the executor runs on
    assert watch.commands_since(t_kill + 1.0)
    assert_within_limits(watch)


# ----------------------------------------------------------------------------------------------- stack C
@pytest.mark.slow
def test_on_hardware_a_returning_policy_moves_nothing_until_resume():
    with Stack(stack_specs(**{EXECUTOR: {'hardware': True}})) as stack:
        watch = Watch(stack)
        assert wait(lambda: watch.status() is not None, TIMEOUT, stack)
        if watch.status().state == 'disarmed':
            watch.controls.resume()
        kill_policy_mid_chunk(stack, watch)
        assert wait(lambda: watch.status().state == 'paused' and 'policy lost' in watch.status().last_error, 10), \
            f'not paused after the policy was lost: {watch.status()}'
        assert_only_committed_steps(watch, lost_at(stack))
        stack.restart(POLICY)
        bring_up(stack, POLICY)
        t_back = watch.now()
        time.sleep(3.0)
        assert watch.active_since(t_back) == 0, 'the arm moved after the policy came back, without resume'
        assert watch.status().state == 'paused'
        watch.controls.resume()
        t_resume = watch.now()
        assert wait(lambda: watch.active_since(t_resume) > 10, TIMEOUT, stack), \
            f'no chunks after resume: {watch.status()}'
        assert_within_limits(watch)
