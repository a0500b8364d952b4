"""Chunk executor node: a thin ROS wrapper around executor.ChunkExecutor.

Subscribes  pi0/action_chunk (pi0_msgs/ActionChunk), the embodiment's joint state topics, pi0/estop
Publishes   pi0/command (pi0_msgs/ExecutorCommand) every tick, pi0/chunk_request, pi0/executor_status
            (latched), /diagnostics
Services    pi0/executor/{pause,resume,stop,reset_estop} (std_srvs/Trigger)
Action      pi0/run_instruction (pi0_msgs/RunInstruction)

A managed (lifecycle) node. Configure builds the core and subscribes; activate arms it (publishes
commands and chunk requests); deactivate sends one hold and then nothing; cleanup drops what configure
built. Inactive is the core's 'disarmed'. On hardware activation is the single arming gate: the
lifecycle manager stops at inactive, and `ros2 lifecycle set /pi0_chunk_executor activate` or
pi0/executor/resume (which activates an inactive node) arms; in simulation the manager activates it.
The services, the e-stop, pi0/executor_status and /diagnostics work in every state.

Every callback of this node runs on one thread (the node spins on a SingleThreadedExecutor of its
own, see pi0_common.spin), so a tick waits for whatever callback runs before it: callbacks are kept
short, nothing logs at a rate (warnings are throttled), and the state they share sits behind one
short lock (the run_instruction coroutine and the services take it too).
"""

from __future__ import annotations

import threading
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from pi0_msgs.msg import ActionChunk, ChunkRequest, ExecutorCommand, ExecutorStatus
from rcl_interfaces.msg import SetParametersResult
from rclpy.lifecycle import LifecycleNode
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64
from std_srvs.srv import Trigger

from pi0_common.embodiment import MissingJointsError, load_embodiment
from pi0_common.joint_states import JointStateCache
from pi0_common.lifecycle import SUCCESS, EntityScope, state_of
from pi0_common.liveliness import watch_policy_liveliness
from pi0_common.messages import MessageError, chunk_from_msg, command_to_msg, request_to_msg, to_sec
from pi0_common.params import declare_all, refusal
from pi0_common.qos import CHUNK_QOS, EVENT_QOS, LATCHED_QOS, SENSOR_QOS, subscribe_any_durability
from pi0_common.spin import run_node
from pi0_drivers.executor import ChunkExecutor
from pi0_drivers.executor_params import PARAMETERS, config_changes, config_from
from pi0_drivers.instruction_action import RunInstructionServer
from pi0_drivers.tick_stats import TickStats

DEADMAN_CHECK_PERIOD = 0.05     # s: a released deadman pauses within deadman_timeout + this

class ChunkExecutorNode(LifecycleNode):
    def __init__(self, **kwargs):
        super().__init__('pi0_chunk_executor', **kwargs)
        p = declare_all(self, PARAMETERS)
        self.embodiment = emb = load_embodiment(p.embodiment)
        self.params = p
        self.config = config_from(p, emb)
        self.core = self._new_core()       # built now too: it checks the numbers before anything starts
        self.joints = JointStateCache(emb)
        self.tick_stats = TickStats(self.config.dt)
        self.active = False
        self.activations = 0
        self.configure_error = ''
        self.configured = EntityScope(self)
        self.speed_scaling: dict[str, float] = {}
        self.deadman_seen: float | None = None
        self.lock = threading.Lock()

        # Lifecycle publishers: they publish only while the node is active.
        self.command_pub = self.create_lifecycle_publisher(ExecutorCommand, 'pi0/command', CHUNK_QOS)
        self.request_pub = self.create_lifecycle_publisher(ChunkRequest, 'pi0/chunk_request', CHUNK_QOS)
        self.status_pub = self.create_publisher(ExecutorStatus, 'pi0/executor_status', LATCHED_QOS)
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        subscribe_any_durability(self, Bool, 'pi0/estop', self._on_estop)
        for name in ('pause', 'resume', 'stop', 'reset_estop'):
            self.create_service(Trigger, f'pi0/executor/{name}', getattr(self, f'_srv_{name}'))
        self.create_timer(1.0 / p.status_rate_hz, self._publish_status)
        self.add_on_set_parameters_callback(self._on_set_parameters)

    def _new_core(self) -> ChunkExecutor:
        core = ChunkExecutor(self.embodiment, self.config)
        core.disarm()                      # inactive: nothing is commanded until activation arms it
        return core

    # ---------------------------------------------------------------- lifecycle
    def on_configure(self, state):
        p, emb = self.params, self.embodiment
        with self.lock:
            self.core = self._new_core()
        self.joints = JointStateCache(emb)
        self.tick_stats = TickStats(self.config.dt)
        self.configured.open()
        self.create_subscription(ActionChunk, 'pi0/action_chunk', self._on_chunk, CHUNK_QOS)
        watch_policy_liveliness(self, 'pi0/action_chunk', self._on_policy_liveliness)
        for topic in emb.joint_state_topics:
            self.create_subscription(JointState, topic, lambda m, t=topic: self._on_joint_state(t, m),
                                     SENSOR_QOS)
        for arm in emb.arms:
            if arm.speed_scaling_topic:
                self.create_subscription(Float64, arm.speed_scaling_topic,
                                         lambda m, t=arm.speed_scaling_topic: self._on_speed_scaling(t, m), EVENT_QOS)
        # Always there: deadman_timeout may be set at run time (0 = no deadman).
        self.create_subscription(Bool, 'pi0/deadman', self._on_deadman, EVENT_QOS)
        self.create_timer(DEADMAN_CHECK_PERIOD, self._check_deadman)
        self.instruction_server = RunInstructionServer(self)
        self.create_timer(self.config.dt, self._on_tick)
        self.get_logger().info(
            f'{emb.name}: {self.config.rate_hz:g} Hz, {self.config.executed_steps} of {emb.horizon} steps per '
            f'chunk, switching {self.config.switching}, velocity scale {self.config.velocity_scale:g}'
            + ('; DISARMED until activated (ros2 lifecycle set, or pi0/executor/resume)' if p.hardware else ''))
        return SUCCESS

    def on_activate(self, state):
        # Chunks observed before arming are refused (the world may have changed meanwhile); a simulated
        # stack's first activation is its start, as before lifecycles: no such barrier.
        since = self.now() if self.params.hardware or self.activations else None
        with self.lock:
            armed = self.core.resume(since)
            if self.params.start_paused and not self.params.hardware and not self.activations:
                self.core.pause()
            self.active = True
            self.activations += 1
            what = self.core.state if armed else 'e-stop latched: reset it, then resume'
        self.get_logger().info(f'active ({"ARMED" if self.params.hardware else "armed"}): {what}')
        return super().on_activate(state)

    def on_deactivate(self, state):
        self._disarm()
        return super().on_deactivate(state)

    def on_cleanup(self, state):
        self.configured.release()
        return SUCCESS

    def on_shutdown(self, state):
        if self.active:
            self._disarm()
        self.configured.release()
        return SUCCESS

    def _disarm(self) -> None:
        """One hold (the robot comes to rest within its limits), then nothing is commanded."""
        with self.lock:
            self.core.pause()
        self.publish_hold()
        with self.lock:
            self.core.disarm()
            self.active = False
        self.get_logger().info('inactive: disarmed, nothing is commanded')

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_set_parameters(self, changed) -> SetParametersResult:
        """`ros2 param set` on a running node: checked like at start (rclpy has already applied the
        descriptors' ranges and read-only flags), then applied from the next tick, or refused whole."""
        reason = refusal(PARAMETERS, changed)
        values = {c.name: c.value for c in changed}
        if reason is None:
            try:
                changes = config_changes(values, self.params, self.embodiment)
                with self.lock:
                    self.core.reconfigure(**changes)
                    self.config = self.core.config
            except ValueError as e:
                reason = str(e)
        if reason is not None:
            self.get_logger().warning(f'parameter change refused: {reason}')
            return SetParametersResult(successful=False, reason=reason)
        for name, value in values.items():
            setattr(self.params, name, value)
        self.get_logger().info('set ' + ', '.join(f'{k} = {v!r}' for k, v in values.items()))
        return SetParametersResult(successful=True)

    # ---------------------------------------------------------------- inputs
    def _on_chunk(self, msg: ActionChunk) -> None:
        now = self.now()
        try:
            actions = chunk_from_msg(msg, self.embodiment)
        except MessageError as e:
            with self.lock:
                self.core.stats.chunks_received += 1
                self.core.stats.chunks_rejected += 1
                self.core.stats.last_error = str(e)
            self.get_logger().error(str(e), throttle_duration_sec=2.0)
            return
        if not self.instruction_server.accepts_chunk(msg.instruction):
            self.get_logger().debug(f'chunk {msg.chunk_id} skipped: conditioned on "{msg.instruction}", '
                                    f'running "{self.instruction_server.active_instruction}"')
            return
        with self.lock:
            ok, reason = self.core.offer_chunk(msg.chunk_id, to_sec(msg.header.stamp), msg.dt, actions, now,
                                               msg.request_id)
        if not ok:
            self.get_logger().warning(reason, throttle_duration_sec=2.0)

    def _on_policy_liveliness(self, alive: bool, reason: str) -> None:
        with self.lock:
            if alive:
                self.core.policy_back()
            else:
                self.core.policy_lost(self.now(), reason)
        if alive:
            self.get_logger().info('a policy publishes chunks (liveliness)')
        else:
            self.get_logger().error(f'policy lost: {reason}; finishing the committed steps, then holding')

    def _on_joint_state(self, topic: str, msg: JointState) -> None:
        try:
            bad = self.joints.update(topic, list(msg.name), list(msg.position), to_sec(msg.header.stamp))
        except ValueError as e:
            self.get_logger().error(f'joint state refused: {e}', throttle_duration_sec=5.0)
            return
        if bad:
            self.get_logger().error(f'{topic}: non-finite positions for {bad} ignored', throttle_duration_sec=5.0)
        try:
            state, stamp = self.joints.state(require_base=False)
        except MissingJointsError:
            return
        with self.lock:
            self.core.update_measured(state, stamp)

    def _on_speed_scaling(self, topic: str, msg: Float64) -> None:
        """UR speed scaling in percent: at 0 the controller is frozen, and so is the executor."""
        self.speed_scaling[topic] = msg.data
        frozen = [t for t, v in self.speed_scaling.items() if not v > 0.0]
        reason = f'{", ".join(frozen)} at 0 % (robot program paused or protective stop)' if frozen else None
        with self.lock:
            was = self.core.state
            self.core.set_frozen(reason, self.now())
            changed = was != self.core.state
        if changed and reason:
            self.publish_hold()
            self.get_logger().warning(f'frozen: {reason}; holding where the robot is')
        elif changed:
            self.get_logger().info('speed scaling is back: waiting for a chunk observed from now on')

    def _on_deadman(self, msg: Bool) -> None:
        if msg.data:
            self.deadman_seen = self.now()

    def _check_deadman(self) -> None:
        if self.params.deadman_timeout <= 0:
            return
        now = self.now()
        if self.deadman_seen is not None and now - self.deadman_seen <= self.params.deadman_timeout:
            return
        with self.lock:
            if self.core.state in ('disarmed', 'paused', 'stopped', 'estop'):
                return
            self.core.pause()
            self.core.stats.last_error = f'deadman: no heartbeat on pi0/deadman for {self.params.deadman_timeout:g} s'
        self.publish_hold()
        self.get_logger().error('deadman released: paused; hold the deadman, then call pi0/executor/resume')

    def _on_estop(self, msg: Bool) -> None:
        if msg.data:
            with self.lock:
                latched_now = self.core.state != 'estop'
                self.core.estop()
            self.publish_hold()
            if latched_now:      # a latched publisher reaches both subscriptions
                self.get_logger().error('E-STOP: holding; call pi0/executor/reset_estop (and the driver\'s '
                                        'pi0/driver/reset_estop), then resume')

    def publish_hold(self) -> None:
        """Send the hold of a pause/stop/e-stop now, not at the next tick: when the service returns, the
        driver already has it (whoever paused may move the robot next, e.g. a simulation reset)."""
        with self.lock:
            command = self.core.hold_now(self.now())
        if command is not None:
            self.command_pub.publish(command_to_msg(command, self.embodiment))

    # ---------------------------------------------------------------- services
    def _srv_pause(self, _req, res):
        with self.lock:
            self.core.pause()
            res.success, res.message = self.core.state == 'paused', f'state: {self.core.state}'
        self.publish_hold()
        return res

    def _srv_resume(self, _req, res):
        if state_of(self) == 'inactive':
            # Arming and activation are one gate: resume on an inactive node is its activate transition.
            res.success = self.trigger_activate() == SUCCESS and self.core.state != 'estop'
            res.message = f'activated; state: {self.core.state}' if res.success else \
                f'activation failed; state: {self.core.state}'
            return res
        if state_of(self) != 'active':
            res.success, res.message = False, f'node is {state_of(self)}: configure it first'
            return res
        with self.lock:
            res.success = self.core.resume(self.now())
            res.message = f'state: {self.core.state}' if res.success else 'e-stop is latched: reset it first'
        return res

    def _srv_stop(self, _req, res):
        with self.lock:
            self.core.stop()
            res.success, res.message = self.core.state == 'stopped', f'state: {self.core.state}'
        self.publish_hold()
        return res

    def _srv_reset_estop(self, _req, res):
        with self.lock:
            res.success = self.core.reset_estop()
            res.message = 'e-stop reset: stopped until resume' if res.success else 'no e-stop was latched'
        return res

    # ---------------------------------------------------------------- tick
    def _on_tick(self) -> None:
        if not self.active:
            return
        now = self.now()
        # Jitter is measured on the clock the ticks run on: on simulated time (a lock-step simulator) the
        # wall-clock intervals say how fast the simulation runs, not whether a tick came late.
        self.tick_stats.add(now if self.get_clock().ros_time_is_active else time.monotonic())
        # Ask only when a policy listens: a request nobody hears would wait for request_timeout.
        listening = self.request_pub.get_subscription_count() > 0
        with self.lock:
            command = self.core.tick(now)
            request = self.core.make_request(now) if listening and self.core.want_request(now) else None
        # The request first: a lock-step simulator moves its clock on once this tick's command has come,
        # unless it has seen a request to wait for by then.
        if request is not None:
            self.request_pub.publish(request_to_msg(request, now, self.embodiment.valid_dims))
        if command is not None:
            self.command_pub.publish(command_to_msg(command, self.embodiment))

    # ---------------------------------------------------------------- status
    def status(self) -> ExecutorStatus:
        with self.lock:
            s, state = self.core.stats, self.core.state
            msg = ExecutorStatus(
                embodiment=self.embodiment.name, state=state, switching_mode=self.config.switching,
                chunks_received=s.chunks_received, chunks_executed=s.chunks_executed,
                chunks_rejected=s.chunks_rejected, ticks=s.ticks, ticks_late=self.tick_stats.late,
                steps_skipped=s.steps_skipped, watchdog_holds=s.watchdog_holds,
                latency_estimate=float(self.core.latency.estimate or 0.0),
                tick_jitter_p50=self.tick_stats.percentile(50), tick_jitter_p99=self.tick_stats.percentile(99),
                last_error=s.last_error, blocked=self.core.blocked)
        msg.header.stamp = self.get_clock().now().to_msg()
        return msg

    def _publish_status(self) -> None:
        msg = self.status()
        self.status_pub.publish(msg)
        level = {'active': DiagnosticStatus.OK, 'waiting': DiagnosticStatus.OK, 'paused': DiagnosticStatus.OK,
                 'stopped': DiagnosticStatus.OK, 'disarmed': DiagnosticStatus.OK, 'holding': DiagnosticStatus.WARN,
                 'frozen': DiagnosticStatus.WARN}.get(msg.state, DiagnosticStatus.ERROR)
        if msg.blocked and msg.state != 'disarmed':
            level = max(level, DiagnosticStatus.WARN)
        fields = ('chunks_received', 'chunks_executed', 'chunks_rejected', 'ticks', 'ticks_late',
                  'steps_skipped', 'watchdog_holds', 'latency_estimate', 'tick_jitter_p50', 'tick_jitter_p99')
        diag = DiagnosticArray()
        diag.header.stamp = msg.header.stamp
        diag.status.append(DiagnosticStatus(
            level=level, name=f'{self.get_name()}: {self.embodiment.name}', hardware_id=self.embodiment.name,
            message=msg.state + (f': {msg.blocked}' if msg.blocked else '')
            + (f' ({msg.last_error})' if msg.last_error and level != DiagnosticStatus.OK else ''),
            values=[KeyValue(key=f, value=str(getattr(msg, f))) for f in fields]))
        self.diag_pub.publish(diag)


def main(args=None):
    run_node(ChunkExecutorNode, args)


if __name__ == '__main__':
    main()
