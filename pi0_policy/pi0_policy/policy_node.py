"""Policy node: keeps the latest camera frames and joint states, runs π₀ on one worker thread when
the chunk executor asks (or continuously), and publishes action chunks.

Subscribes  the embodiment's cameras (sensor_msgs/Image or CompressedImage, per camera), joint
            states, odometry (mobile robots), pi0/chunk_request, pi0/instruction (latched String)
Publishes   pi0/action_chunk (pi0_msgs/ActionChunk), /diagnostics
Services    pi0/set_instruction (pi0_msgs/SetInstruction)

Callbacks only store messages; decoding and inference happen on the worker, so no callback ever
waits on the model, and at most one inference is in flight. With ``backend:=openpi`` the worker sends
the observation to a remote openpi-protocol server (``server:=host:port``) instead of running the model;
the reply is published stamped with the observation time, so the executor's latency compensation
covers the round trip; after a timeout or a lost connection nothing is published (the executor's
watchdog holds) and the next inference connects again. The chunk's stamp is the observation's
(the joint state's) stamp, so the executor can skip the steps that passed during inference.

A managed (lifecycle) node: parameters are checked at start (a checkpoint folder that does not exist
stops the node there); configure loads the weights and warms up (a full-size checkpoint takes minutes
on a CPU) and subscribes to the robot's inputs; activate lets it infer and publish chunks; deactivate
stops both (an inference in flight finishes, its chunk is dropped); cleanup frees the model. The
instruction topic and service work in every state.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from nav_msgs.msg import Odometry
from pi0_msgs.msg import ActionChunk, ChunkRequest
from pi0_msgs.srv import SetInstruction
from rcl_interfaces.msg import SetParametersResult
from rclpy.lifecycle import LifecycleNode
from sensor_msgs.msg import CompressedImage, Image, JointState
from std_msgs.msg import String

from pi0_common.embodiment import load_embodiment
from pi0_common.lifecycle import SUCCESS, EntityScope, configure_failed
from pi0_common.messages import MessageError, make_chunk_msg, request_from_msg, to_sec
from pi0_common.params import declare_all, refusal
from pi0_common.qos import CHUNK_QOS, LATCHED_QOS, POLICY_CHUNK_QOS, SENSOR_QOS, warn_on_incompatible_qos
from pi0_common.spin import run_node
from pi0_policy.image_conversion import ImageConversionError, compressed_to_rgb, image_to_rgb
from pi0_policy.loading import RANDOM_PREFIX, PolicyLoadError, load_policy, simulation_only
from pi0_policy.observation import ObservationBuffer, ObservationNotReadyError
from pi0_policy.policy_params import PARAMETERS, with_timing
from pi0_policy.rtc_alignment import guidance_for
from pi0_policy.serve.client import RemoteError, RemoteUnavailableError, make_remote, remote_client
from pi0_policy.serve.layouts import node_actions, node_observation

# Wall seconds the worker waits, on simulated time, for the observation of the tick a request was made at.
SIM_OBSERVATION_WAIT = 10.0



class PolicyNode(LifecycleNode):
    def __init__(self, **kwargs):
        super().__init__('pi0_policy', **kwargs)
        p = declare_all(self, PARAMETERS)
        self.params = p
        self.embodiment = with_timing(load_embodiment(p.embodiment), p.rate_hz, p.executed_steps)
        self.instruction = p.instruction
        self.remote = self.policy = self.worker = None
        unfit = simulation_only(p.checkpoint) if p.hardware and p.backend == 'local' else None
        if unfit and not p.allow_simulation_policy:
            raise PolicyLoadError(f'checkpoint {unfit}: refused on a real robot (hardware true); launch with '
                                  f'sim:=true, pick a checkpoint trained for this robot, or set '
                                  f'allow_simulation_policy:=true on purpose')
        if p.backend == 'openpi':
            remote_client(p.server, p.server_timeout)        # checks the address; configure connects
        elif p.checkpoint != 'default' and not p.checkpoint.startswith(RANDOM_PREFIX) \
                and not Path(p.checkpoint).expanduser().is_dir():
            raise PolicyLoadError(f'parameter checkpoint: checkpoint folder not found at {p.checkpoint}')
        self.active = False
        self.configure_error = ''
        self.configured = EntityScope(self)
        self.lock = threading.Lock()
        self.busy = False
        self.pending_request: ChunkRequest | None = None
        self.chunk_id = 0
        self.last_error = ''
        self.last_inference_ms = 0.0
        self.inferences = 0
        # A lifecycle publisher: chunks go out only while the node is active.
        self.chunk_pub = self.create_lifecycle_publisher(ActionChunk, 'pi0/action_chunk', POLICY_CHUNK_QOS)
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.create_subscription(String, 'pi0/instruction', self._on_instruction, LATCHED_QOS)
        self.create_service(SetInstruction, 'pi0/set_instruction', self._srv_set_instruction)
        self.create_timer(1.0, self._publish_diagnostics)
        self.add_on_set_parameters_callback(self._on_set_parameters)

    # ---------------------------------------------------------------- lifecycle
    def on_configure(self, state):
        p, emb = self.params, self.embodiment
        try:
            if p.backend == 'openpi':
                self.remote = make_remote(p.server, p.server_timeout, self.get_logger())
            else:
                self.policy = load_policy(p.checkpoint, emb, asset_id=p.asset_id or emb.norm_stats_asset,
                                          device=p.device, dtype=p.dtype, num_threads=p.num_threads,
                                          logger=self.get_logger(), conventions=p.conventions)
        except ValueError as e:           # PolicyLoadError: a folder that is no checkpoint, stats that do not fit
            return configure_failed(self, e)
        self.configured.open()
        fed = getattr(self.policy, 'robot_cameras', None)      # a ConventionPolicy reads only these
        slots = (tuple(s.strip() for s in p.cameras.split(',') if s.strip())
                 or (tuple(c for c in emb.camera_slots if c in fed.values()) if fed else emb.camera_slots))
        self.inputs = ObservationBuffer(emb, slots, p.max_state_age, p.max_image_age)
        if p.warmup and self.policy is not None:
            t0 = time.perf_counter()
            self.policy.warmup()
            self.get_logger().info(f'warm-up inference took {1e3 * (time.perf_counter() - t0):.0f} ms')
        self.rng = np.random.default_rng(None if p.seed < 0 else p.seed)
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix='pi0_inference')
        for topic in emb.joint_state_topics:
            self.create_subscription(JointState, topic, lambda m, t=topic: self._on_joint_state(t, m), SENSOR_QOS,
                                     event_callbacks=warn_on_incompatible_qos(self, topic))
        if emb.base is not None:
            topic = emb.base.odometry_topic
            self.create_subscription(Odometry, topic, self._on_odometry, SENSOR_QOS,
                                     event_callbacks=warn_on_incompatible_qos(self, topic))
        self.camera_topics = {}
        for cam in emb.cameras:
            if cam.slot not in slots:
                continue
            transport = p.camera_transport or cam.transport
            kind, decode = (CompressedImage, compressed_to_rgb) if transport == 'compressed' else (Image, image_to_rgb)
            topic = cam.wire_topic(transport)
            self.camera_topics[cam.slot] = topic
            self.create_subscription(kind, topic, lambda m, s=cam.slot, d=decode: self._on_image(s, m, d), SENSOR_QOS,
                                     event_callbacks=warn_on_incompatible_qos(self, topic))
        self.create_subscription(ChunkRequest, 'pi0/chunk_request', self._on_request, CHUNK_QOS,
                                 event_callbacks=warn_on_incompatible_qos(self, 'pi0/chunk_request'))
        if p.trigger == 'continuous':
            self.create_timer(emb.dt, lambda: self._start(None))
        masked = [s for s in emb.camera_slots if s not in slots]
        cameras = ', '.join(f'{s}={t}' for s, t in self.camera_topics.items())
        what = self.policy.describe() if self.policy is not None else f'remote openpi server {self.remote.uri}'
        self.get_logger().info(
            f'{emb.name}: {what}; cameras {cameras}'
            + (f' (masked: {", ".join(masked)})' if masked else '') + f'; instruction "{self.instruction}"')
        return SUCCESS

    def on_activate(self, state):
        self.active = True
        result = super().on_activate(state)          # the chunk publisher is live from here
        self.get_logger().info('active: inferring and publishing chunks')
        # The executor asks as soon as this node subscribes, often before it is active: that request is
        # answered now rather than after the executor's request timeout (which, on a lock-step simulator's
        # clock, would not pass while the simulator waits for the answer).
        with self.lock:
            waiting, self.pending_request = self.pending_request, None
        if waiting is not None:
            self._start(waiting)
        return result

    def on_deactivate(self, state):
        self.active = False        # no new inference; the chunk of one in flight is dropped (publisher off)
        with self.lock:
            self.pending_request = None
        self.get_logger().info('inactive: no inference, no chunks')
        return super().on_deactivate(state)

    def on_cleanup(self, state):
        self._release()
        return SUCCESS

    def on_shutdown(self, state):
        self.active = False
        self._release()
        return SUCCESS

    def _release(self) -> None:
        """Stop the worker (an inference in flight finishes), drop the inputs' subscriptions and the model."""
        if self.worker is not None:
            self.worker.shutdown(wait=True, cancel_futures=True)
            self.worker = None
        self.configured.release()
        if self.remote is not None:
            self.remote.close()
        self.remote = self.policy = None
        with self.lock:
            self.busy, self.pending_request = False, None

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # ---------------------------------------------------------------- inputs (store only)
    def _on_joint_state(self, topic: str, msg: JointState) -> None:
        try:
            bad = self.inputs.add_joint_state(topic, msg.name, msg.position, to_sec(msg.header.stamp))
        except ValueError as e:
            self.get_logger().error(f'joint state refused: {e}', throttle_duration_sec=5.0)
            return
        if bad:
            self.get_logger().error(f'{topic}: non-finite positions for {", ".join(bad)}: not used',
                                    throttle_duration_sec=5.0)

    def _on_odometry(self, msg: Odometry) -> None:
        twist = msg.twist.twist
        self.inputs.add_base_velocity({'vx': twist.linear.x, 'vy': twist.linear.y, 'wz': twist.angular.z},
                                      to_sec(msg.header.stamp))

    def _on_image(self, slot: str, msg, decode) -> None:
        self.inputs.add_frame(slot, msg, to_sec(msg.header.stamp), decode)

    def _on_set_parameters(self, changed) -> SetParametersResult:
        """`ros2 param set` on a running node: the instruction applies to the next inference, the ages to
        the next observation; a refused value changes nothing."""
        values = {c.name: c.value for c in changed}
        reason = refusal(PARAMETERS, changed)
        if reason is None and 'instruction' in values and not values['instruction'].strip():
            reason = 'instruction = "": an empty instruction is refused (the policy would have no task)'
        if reason is not None:
            self.get_logger().warning(f'parameter change refused: {reason}')
            return SetParametersResult(successful=False, reason=reason)
        if 'instruction' in values:
            self._set_instruction(values['instruction'])
        with self.lock:
            for name in ('max_state_age', 'max_image_age'):
                if name in values:
                    setattr(self.params, name, values[name])
                    if getattr(self, 'inputs', None) is not None:
                        setattr(self.inputs, name, values[name])
        return SetParametersResult(successful=True)

    def _on_instruction(self, msg: String) -> None:
        self._set_instruction(msg.data)

    def _srv_set_instruction(self, request, response):
        response.success, response.message = self._set_instruction(request.instruction)
        return response

    def _set_instruction(self, text: str) -> tuple[bool, str]:
        if not text.strip():
            return False, 'instruction is empty: kept "' + self.instruction + '"'
        with self.lock:
            changed = text != self.instruction
            self.instruction = text
        if changed:
            self.get_logger().info(f'instruction: "{text}"')
        return True, f'instruction set to "{text}"'

    def _on_request(self, msg: ChunkRequest) -> None:
        self._start(msg)

    # ---------------------------------------------------------------- inference
    def _start(self, request: ChunkRequest | None) -> None:
        with self.lock:
            if not self.active or self.worker is None:
                if request is not None and self.worker is not None:
                    self.pending_request = request      # answered once active
                return
            if self.busy:
                if request is not None:
                    self.pending_request = request      # answered with the next chunk
                return
            self.busy = True
        self.worker.submit(self._infer, request)

    def _infer(self, request: ChunkRequest | None) -> None:
        try:
            self._infer_once(request)
        finally:
            with self.lock:
                self.busy = False
                pending, self.pending_request = self.pending_request, None
            if pending is not None:
                self._start(pending)

    def _infer_once(self, request: ChunkRequest | None) -> None:
        emb = self.embodiment
        try:
            obs = self._observation(request)
        except (ObservationNotReadyError, ImageConversionError) as e:
            self._report(f'not inferring: {e}')
            return
        with self.lock:
            instruction = self.instruction
        if not instruction.strip():
            self._report('not inferring: no instruction (set the instruction parameter, topic or service)')
            return
        rtc = None
        if request is not None:
            try:
                rtc = guidance_for(request_from_msg(request, emb), obs.stamp, emb.dt)
            except MessageError as e:
                self._report(f'chunk request {request.request_id}: {e}; sampling without guidance')
        t0 = time.perf_counter()
        if self.remote is not None:
            actions, dt = self._infer_remote(obs, instruction)
            if actions is None:
                return
        else:
            noise = self.rng.standard_normal((self.policy.horizon, self.policy.action_dim)).astype(np.float32)
            try:
                result = self.policy.infer(obs.images, obs.state, instruction, noise=noise, rtc=rtc)
                actions, dt = result.actions, emb.dt
            except ValueError as e:
                self._report(f'inference refused its input: {e}')
                return
        elapsed = time.perf_counter() - t0
        with self.lock:
            self.chunk_id += 1
            chunk_id = self.chunk_id
            self.inferences += 1
            self.last_inference_ms = 1e3 * elapsed
            self.last_error = ''
        self.chunk_pub.publish(make_chunk_msg(
            emb, chunk_id, obs.stamp, dt, actions, elapsed, instruction,
            request.request_id if request is not None else 0))

    def _observation(self, request: ChunkRequest | None):
        """The newest observation. On simulated time (a lock-step simulator, which stands still until this
        request is answered) it is the one of the request's tick: the simulator published that tick's joint
        states before its clock, but they may arrive after the request; and right after start-up the first
        images may not have arrived at all (the simulator republishes the tick's sensors while it waits).
        Both are waited for, up to SIM_OBSERVATION_WAIT of wall time."""
        if request is None or not self.get_clock().ros_time_is_active:
            return self.inputs.snapshot(self.now())
        asked_at, deadline = to_sec(request.header.stamp), time.monotonic() + SIM_OBSERVATION_WAIT
        while True:
            try:
                obs = self.inputs.snapshot(self.now())
                if obs.stamp >= asked_at - 1e-6 or time.monotonic() > deadline:
                    return obs
            except ObservationNotReadyError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.005)

    def _infer_remote(self, obs, instruction: str):
        """(actions [H, valid_dims], dt) from the remote server, or (None, None) after reporting why."""
        emb, layout = self.embodiment, self.params.server_layout
        grippers = tuple(emb.indices('gripper'))
        try:
            reply = self.remote.infer(node_observation(layout, obs.state, obs.images, instruction, grippers))
            actions = node_actions(layout, reply['actions'], obs.state, grippers, emb.valid_dims)
        except (RemoteError, RemoteUnavailableError, ValueError) as e:
            self._report(f'remote policy: {e}')
            return None, None
        meta = self.remote.metadata or {}
        rate = meta.get('control_rate_hz') if meta.get('server') == 'pi0_ros' and layout == 'embodiment' else None
        return actions, (1.0 / float(rate) if rate else emb.dt)

    def _report(self, text: str) -> None:
        with self.lock:
            self.last_error = text
        self.get_logger().warning(text, throttle_duration_sec=2.0)

    def _publish_diagnostics(self) -> None:
        with self.lock:
            error, ms, count, instruction = self.last_error, self.last_inference_ms, self.inferences, self.instruction
        diag = DiagnosticArray()
        diag.header.stamp = self.get_clock().now().to_msg()
        diag.status.append(DiagnosticStatus(
            level=DiagnosticStatus.WARN if error else DiagnosticStatus.OK,
            name=f'{self.get_name()}: {self.embodiment.name}', hardware_id=self.embodiment.name,
            message=error or 'ok', values=[
                KeyValue(key='inferences', value=str(count)), KeyValue(key='last_inference_ms', value=f'{ms:.1f}'),
                KeyValue(key='instruction', value=instruction)]))
        self.diag_pub.publish(diag)

    def destroy_node(self):
        if getattr(self, 'worker', None) is not None:     # absent when __init__ failed before creating it
            self.worker.shutdown(wait=True, cancel_futures=True)   # an inference in flight finishes
        if getattr(self, 'remote', None) is not None:
            self.remote.close()
        return super().destroy_node()


def main(args=None):
    run_node(PolicyNode, args)


if __name__ == '__main__':
    main()
