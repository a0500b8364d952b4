"""Simulator node: the simulated robot of an embodiment, a stand-in for the robot and its vendor
driver stack. It speaks exactly the interfaces the real driver stack exposes, so the pi0 driver node
is the same code on hardware and in simulation:

Subscribes / serves  each arm's and base's controller interface as the embodiment's interface blocks
                     name it (see pi0_sim.endpoints: JointTrajectoryController and forward
                     controllers, Robotiq GripperCommand, franka_gripper Move/Grasp, Interbotix
                     JointGroupCommand/JointSingleCommand, ARX RobotCmd, Twist/TwistStamped)
Publishes            joint states (or ARX RobotStatus), odometry and camera images as the robot's
                     drivers do; sim/task_state (pi0_msgs/SimTaskState: the task's objects, tool tips
                     and what has been reached; reliable, latched); /diagnostics
                     with physics aloha_mujoco also sim/reward (std_msgs/Float64MultiArray, reliable,
                     latched, at the state rate: ros_messages.REWARD_FIELDS)
                     with clock lockstep also /clock (rosgraph_msgs/Clock)
Services             sim/reset (pi0_msgs/ResetSimulation): start pose, a new task layout

Simulation-only controls and judgements are ROS interfaces of this node, so tools (evaluation,
demonstration collection, the demo) work against any running stack and never reach into the
simulator.

Time: with clock wall (the default) the world steps on wall-clock timers and the stack runs in real
time. With clock lockstep the simulator owns time: it publishes /clock (every other node of the stack
runs with use_sim_time) and advances one control tick at a time, after that tick's command
(pi0/command, and the driver's pi0/driver/sent saying it passed that command on) and never while a
chunk request is outstanding (pi0/chunk_request answered on pi0/action_chunk): see pi0_sim/lockstep.py. Each tick then
publishes the joint states, the camera frames that are due, the task state and reward, and /clock last.

The world is the kinematic SimWorld (parameter physics: kinematic, any embodiment) or, for trossen_bimanual
only, AlohaPhysicsWorld (physics: aloha_mujoco): gym-aloha's MuJoCo scene and task (aloha_task).
"""

from __future__ import annotations

import threading
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from nav_msgs.msg import Odometry
from pi0_msgs.msg import ActionChunk, ChunkRequest, ExecutorCommand, SimTaskState
from pi0_msgs.srv import ResetSimulation
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CompressedImage, Image, JointState
from std_msgs.msg import Float64, Float64MultiArray, Header

from pi0_common.embodiment import load_embodiment
from pi0_common.lifecycle import READY, STATES_TOPIC
from pi0_common.messages import to_sec, to_time_msg
from pi0_common.params import Param, declare_all, in_range, non_negative, one_of, positive, refusal
from pi0_common.qos import CHUNK_QOS, LATCHED_QOS, SENSOR_PUB_QOS
from pi0_common.spin import run_node
from pi0_sim import ros_messages
from pi0_sim.endpoints import ARM_ENDPOINTS, BASE_ENDPOINTS
from pi0_sim.lockstep import POLICY_WAIT, LockstepClock
from pi0_sim.spec import SimConfigError
from pi0_sim.world import SimWorld

LOCKSTEP_REPUBLISH = 0.5      # wall s between repeats of a tick's sensors while lock-step time waits for the policy

PARAMETERS = [
    Param('embodiment', 'ur5e', 'Embodiment name (a file in pi0_common/embodiments) or a YAML path.'),
    Param('physics', 'kinematic', 'kinematic: the kinematic world of any embodiment; aloha_mujoco: gym-aloha\'s '
          'MuJoCo scene and task rules (trossen_bimanual only; publishes sim/reward).',
          one_of('kinematic', 'aloha_mujoco')),
    Param('aloha_task', 'transfer_cube', 'The gym-aloha task of physics aloha_mujoco.',
          one_of('transfer_cube', 'insertion')),
    Param('clock', 'wall', 'wall: the world steps in real time; lockstep: the simulator publishes /clock and '
          'advances one control tick once that tick\'s command has come and no chunk request is outstanding '
          '(run the other nodes with use_sim_time).', one_of('wall', 'lockstep')),
    Param('lockstep_rate_hz', 0.0, 'Lock-step ticks per simulated second: the rate of whatever commands the robot '
          '(the executor\'s rate_hz); 0 = the embodiment\'s control rate.', non_negative),
    Param('lockstep_command_timeout', 1.0, 'Wall seconds a lock-step tick waits for its command before it goes '
          'ahead without it.', positive),
    Param('lockstep_policy_timeout', 60.0, 'Wall seconds lock-step time stands still for an unanswered chunk '
          'request.', positive),
    Param('seed', 0, 'Seed of the task layouts (and start poses); sim/reset with a seed reseeds.'),
    Param('start_spread', 0.0, 'Every reset starts the arm joints up to this far from home (rad, uniform, '
          'seeded); 0 starts at home. May be changed at run time.', in_range(0.0, 1.0), read_only=False),
    Param('state_rate_hz', 125.0, 'Joint state and odometry rate (a Python timer runs a little slow under load: '
          '125 keeps it above 100 Hz).', positive),
    Param('camera_rate_hz', 15.0, 'Camera frame rate.', positive),
    Param('camera_transport', '', 'raw or compressed for every camera; empty keeps the embodiment file.',
          one_of('', 'raw', 'compressed')),
    Param('jpeg_quality', 90, 'JPEG quality of compressed images.', in_range(1, 100)),
    Param('task_state_rate_hz', 20.0, 'Rate of sim/task_state.', positive),
    Param('speed_scaling', 100.0, 'Percent: the speed scaling of arms whose controller reports one (UR: the '
          'pendant slider; 0 = program paused or protective stop: trajectories stand still). Published on '
          'their speed_scaling_topic. May be changed at run time.', in_range(0.0, 100.0), read_only=False),
]


class SimulatorNode(Node):
    def __init__(self, **kwargs):
        super().__init__('pi0_simulator', **kwargs)
        p = self.params = declare_all(self, PARAMETERS)
        emb = self.embodiment = load_embodiment(p.embodiment)
        self.lock = threading.Lock()            # the world: stepped, rendered and commanded from callbacks
        self.lockstep = None
        if p.clock == 'lockstep':               # before the world: now() is the lock-step clock from here on
            # Simulated time starts at the wall time, so stamps read as dates, as with a wall clock.
            self.lockstep = LockstepClock(1.0 / (p.lockstep_rate_hz or emb.control_rate_hz), start=time.time(),
                                          command_timeout=p.lockstep_command_timeout,
                                          policy_timeout=p.lockstep_policy_timeout)
        self.world = self._make_world(emb, p)
        self.episode = 0
        self.endpoints = []
        for arm in emb.arms:
            self.endpoints.append(self._endpoint(ARM_ENDPOINTS, arm, arm.interface))
        if emb.base is not None:
            self.endpoints.append(self._endpoint(BASE_ENDPOINTS, emb.base, emb.base.interface))
        # An endpoint whose vendor publishes an arm's state in its own message (ARX RobotStatus) gets that
        # arm's state after every step; the pi0 driver turns it into the JointState, as on the real robot.
        self.state_endpoints = [e for e in self.endpoints if getattr(e, 'publishes_state', False)]
        owned = {e.spec.joint_state_topic for e in self.state_endpoints}
        self.state_pubs = {t: self.create_publisher(JointState, t, SENSOR_PUB_QOS)
                           for t in emb.joint_state_topics if t not in owned}
        self.odom_pub = (self.create_publisher(Odometry, emb.base.odometry_topic, SENSOR_PUB_QOS)
                         if emb.base is not None else None)
        self.cameras = []
        for cam in emb.cameras:
            transport = p.camera_transport or cam.transport
            kind = CompressedImage if transport == 'compressed' else Image
            self.cameras.append((cam, transport, self.create_publisher(kind, cam.wire_topic(transport),
                                                                       SENSOR_PUB_QOS)))
        # As ur_controllers' speed_scaling_state_broadcaster: std_msgs/Float64 in percent, system-default QoS.
        self.scaling_pubs = [self.create_publisher(Float64, arm.speed_scaling_topic, 10)
                             for arm in emb.arms if arm.speed_scaling_topic]
        self.world.set_speed_scaling(p.speed_scaling / 100.0)
        self.task_pub = self.create_publisher(SimTaskState, 'sim/task_state', LATCHED_QOS)
        self.reward_pub = (self.create_publisher(Float64MultiArray, 'sim/reward', LATCHED_QOS)
                           if p.physics == 'aloha_mujoco' else None)
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.create_service(ResetSimulation, 'sim/reset', self._on_reset)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.steps = self.frames = 0
        self.render_seconds = 0.0
        if self.lockstep is None:
            self.create_timer(1.0 / p.state_rate_hz, self._on_step)
            self.create_timer(1.0 / p.camera_rate_hz, self._on_render)
            self.create_timer(1.0 / p.task_state_rate_hz, self._publish_task_state)
            rates = f'state at {p.state_rate_hz:g} Hz'
        else:
            self._start_lockstep()
            rates = f'lock-step ticks of {self.lockstep.tick * 1e3:g} ms of simulated time, state every tick'
        self.create_timer(1.0, self._publish_diagnostics)
        self._publish_task_state()
        self.get_logger().info(f'{emb.name}: simulated robot ({p.physics} physics), {len(self.cameras)} camera(s) at '
                               f'{p.camera_rate_hz:g} Hz, {rates}, seed {p.seed}')

    def _start_lockstep(self) -> None:
        p = self.params
        # /clock as rclpy's and rclcpp's time sources subscribe to it (depth 1: only the newest time counts).
        self.clock_pub = self.create_publisher(Clock, '/clock',
                                               QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        self.create_subscription(ExecutorCommand, 'pi0/command',
                                 lambda m: self.lockstep.command(to_sec(m.header.stamp)), CHUNK_QOS)
        self.create_subscription(Header, 'pi0/driver/sent', lambda m: self.lockstep.sent(to_sec(m.stamp)), CHUNK_QOS)
        self.create_subscription(ChunkRequest, 'pi0/chunk_request',
                                 lambda m: self.lockstep.request(m.request_id, time.monotonic()), CHUNK_QOS)
        self.create_subscription(ActionChunk, 'pi0/action_chunk', lambda m: self.lockstep.chunk(m.request_id),
                                 CHUNK_QOS)
        self.create_subscription(DiagnosticStatus, STATES_TOPIC,
                                 lambda m: self.lockstep.policy_up() if m.message == READY else None, LATCHED_QOS)
        self._next_frame = self._next_task_state = self.lockstep.time
        self._frame_period, self._task_state_period = 1.0 / p.camera_rate_hz, 1.0 / p.task_state_rate_hz
        self.lockstep_waiting = ''
        # Polled: the waits time out in wall time, and idle time runs at real-time pace.
        self.create_timer(0.002, self._on_lockstep)
        self._lockstep_tick()                   # time 0 of the run: a state, frames and /clock to start from

    def _make_world(self, emb, p):
        if p.physics == 'kinematic':
            return SimWorld(emb, seed=p.seed, start_time=self.now(), start_spread=p.start_spread)
        # imports MuJoCo (and sets MUJOCO_GL): only when asked for
        from pi0_sim.aloha_physics import AlohaPhysicsWorld
        return AlohaPhysicsWorld(emb, task=p.aloha_task, seed=p.seed, start_time=self.now(),
                                 start_spread=p.start_spread)

    def _endpoint(self, registry, spec, config):
        driver = config.get('driver')
        if driver not in registry:
            raise SimConfigError(f'{self.embodiment.name}: no simulated controller for driver {driver!r}; '
                                 f'known: {sorted(registry)}')
        return registry[driver](self, self.world, self.lock, self.embodiment, spec, config)

    def now(self) -> float:
        if self.lockstep is not None:
            return self.lockstep.time
        return self.get_clock().now().nanoseconds * 1e-9

    # ---------------------------------------------------------------- controls
    def _on_reset(self, request: ResetSimulation.Request, response: ResetSimulation.Response):
        with self.lock:
            self.world.reset(seed=request.seed if request.seed >= 0 else None, now=self.now())
            self.episode += 1
            response.episode = self.episode
        response.success = True
        response.message = f'episode {self.episode}' + (f', seed {request.seed}' if request.seed >= 0 else '')
        self._publish_task_state()
        return response

    def _on_set_parameters(self, params) -> SetParametersResult:
        reason = refusal(PARAMETERS, params)
        if reason:
            return SetParametersResult(successful=False, reason=reason)
        for param in params:
            if param.name == 'start_spread':
                with self.lock:
                    self.world.start_spread = float(param.value)      # from the next reset on
            elif param.name == 'speed_scaling':
                with self.lock:
                    self.world.set_speed_scaling(float(param.value) / 100.0)
                self.params.speed_scaling = float(param.value)
        return SetParametersResult(successful=True)

    # ---------------------------------------------------------------- stepping and publishing
    def _on_step(self) -> None:
        with self.lock:
            # The clock is read under the lock: a reset (or a command) stamped between reading it and
            # stepping would otherwise make this step go back in time.
            now = self.now()
            if now < self.world.time:       # the clock jumped back (sim time, a replayed bag)
                self.get_logger().warning('the clock went back; the simulation is reset', throttle_duration_sec=5.0)
                self.world.reset(now=now)
            self.world.step(now)
            states = {t: self.world.joint_state(t) for t in self.embodiment.joint_state_topics}
            odom = self.world.odometry() if self.odom_pub is not None else None
            reward = ros_messages.reward(self.world) if self.reward_pub is not None else None
            self.steps += 1
        stamp = to_time_msg(now)
        for endpoint in self.state_endpoints:
            endpoint.publish_state(*states[endpoint.spec.joint_state_topic], stamp)
        for topic, pub in self.state_pubs.items():
            pub.publish(ros_messages.joint_state(*states[topic], stamp))
        if odom is not None:
            self.odom_pub.publish(ros_messages.odometry(odom, stamp))
        for pub in self.scaling_pubs:
            pub.publish(Float64(data=float(self.params.speed_scaling)))
        if reward is not None:
            self.reward_pub.publish(reward)

    def _on_lockstep(self) -> None:
        wall = time.monotonic()
        decision = self.lockstep.poll(wall)
        self.lockstep_waiting = decision.waiting_for
        if decision.waiting_for == POLICY_WAIT and wall - self._published_wall >= LOCKSTEP_REPUBLISH:
            # The policy may lack this tick's sensors (a subscriber that matched late at start-up misses the
            # volatile messages before it): send them again, same stamp, while time stands still for it.
            self._on_step()
            self._on_render()
            self._published_wall = wall
        if decision.gave_up:
            self.get_logger().warning(f'lock-step: {decision.gave_up}; the tick goes ahead', throttle_duration_sec=5.0)
        if decision.advance:
            self._lockstep_tick()

    def _lockstep_tick(self) -> None:
        """Everything of the new simulated time, /clock last: a node that wakes on it finds the rest."""
        now = self.lockstep.time
        self._published_wall = time.monotonic()
        self._on_step()
        if now >= self._next_frame - 1e-6:
            self._on_render()
            while self._next_frame <= now + 1e-6:
                self._next_frame += self._frame_period
        if now >= self._next_task_state - 1e-6:
            self._publish_task_state()
            while self._next_task_state <= now + 1e-6:
                self._next_task_state += self._task_state_period
        self.clock_pub.publish(Clock(clock=to_time_msg(now)))

    def _on_render(self) -> None:
        t0 = time.perf_counter()
        with self.lock:
            now = self.now()
            images = [(cam, transport, pub, self.world.render(cam.slot)) for cam, transport, pub in self.cameras]
        stamp = to_time_msg(now)
        for cam, transport, pub, rgb in images:
            frame = f'{cam.slot}_camera'
            if transport == 'compressed':
                pub.publish(ros_messages.encode_compressed(rgb, stamp, frame, self.params.jpeg_quality))
            else:
                pub.publish(ros_messages.encode_image(rgb, stamp, frame))
        self.frames += 1
        self.render_seconds += time.perf_counter() - t0

    def _publish_task_state(self) -> None:
        with self.lock:
            msg = ros_messages.task_state(self.world, self.episode, self.now())
        self.task_pub.publish(msg)

    def _publish_diagnostics(self) -> None:
        diag = DiagnosticArray()
        diag.header.stamp = to_time_msg(self.now())
        render_ms = 1e3 * self.render_seconds / max(self.frames, 1)
        received = sum(getattr(e, 'received', 0) for e in self.endpoints)
        diag.status.append(DiagnosticStatus(
            level=DiagnosticStatus.OK, name=f'{self.get_name()}: {self.embodiment.name}',
            hardware_id=self.embodiment.name, message='simulating', values=[
                KeyValue(key='steps', value=str(self.steps)), KeyValue(key='frames', value=str(self.frames)),
                KeyValue(key='render_ms_mean', value=f'{render_ms:.2f}'),
                KeyValue(key='commands_received', value=str(received)),
                KeyValue(key='episode', value=str(self.episode)),
                KeyValue(key='clock', value=self.params.clock)]
            + ([KeyValue(key='lockstep_ticks', value=str(self.lockstep.ticks)),
                KeyValue(key='lockstep_waiting_for', value=self.lockstep_waiting)] if self.lockstep else [])))
        self.diag_pub.publish(diag)

    def destroy_node(self):
        close = getattr(self.world, 'close', None)     # the ALOHA physics frees its rendering contexts
        if close is not None:
            with self.lock:
                close()
        super().destroy_node()


def main(args=None):
    run_node(SimulatorNode, args)


if __name__ == '__main__':
    main()
