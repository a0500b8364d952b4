"""The simulated robot behind the driver node: a SimWorld stepped on a timer, publishing what the
real robot's drivers publish (joint states, odometry, camera images) and listening, through the
interfaces' sim endpoints, to the very topics the real controllers listen to.
"""

from __future__ import annotations

import io
import threading

import numpy as np
from nav_msgs.msg import Odometry
from PIL import Image as PILImage
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from sensor_msgs.msg import CompressedImage, Image, JointState
from std_srvs.srv import Trigger

from pi0_common.embodiment import Embodiment
from pi0_common.messages import to_time_msg
from pi0_common.qos import SENSOR_PUB_QOS
from pi0_sim.world import SimWorld


def encode_image(rgb: np.ndarray, stamp: float, frame_id: str) -> Image:
    msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding='rgb8', is_bigendian=0,
                step=rgb.shape[1] * 3)
    msg.header.stamp = to_time_msg(stamp)
    msg.header.frame_id = frame_id
    msg.data = np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
    return msg


def encode_compressed(rgb: np.ndarray, stamp: float, frame_id: str, quality: int) -> CompressedImage:
    buffer = io.BytesIO()
    PILImage.fromarray(rgb).save(buffer, format='JPEG', quality=quality)
    msg = CompressedImage(format='rgb8; jpeg compressed rgb8', data=buffer.getvalue())
    msg.header.stamp = to_time_msg(stamp)
    msg.header.frame_id = frame_id
    return msg


class SimBackend:
    def __init__(self, node, embodiment: Embodiment, endpoints: list[tuple[type, object, dict]], seed: int,
                 state_rate_hz: float, camera_rate_hz: float, camera_transport: str, jpeg_quality: int,
                 start_spread: float = 0.0):
        self.node, self.embodiment = node, embodiment
        self.lock = threading.Lock()
        self.world = SimWorld(embodiment, seed=seed, start_time=self.now(), start_spread=start_spread)
        self.endpoints = [cls(node, self.world, self.lock, embodiment, spec, config)
                          for cls, spec, config in endpoints]
        self.jpeg_quality = jpeg_quality
        # An endpoint whose vendor publishes an arm's state in its own message (ARX RobotStatus) sets
        # publishes_state: it gets that arm's state after every step, and the driver's bridge (not the
        # simulator) turns it into the arm's JointState, as on the real robot.
        self.state_endpoints = [e for e in self.endpoints if getattr(e, 'publishes_state', False)]
        owned = {e.spec.joint_state_topic for e in self.state_endpoints}
        self.state_topics = list(embodiment.joint_state_topics)
        self.state_pubs = {t: node.create_publisher(JointState, t, SENSOR_PUB_QOS)
                           for t in self.state_topics if t not in owned}
        self.odom_pub = (node.create_publisher(Odometry, embodiment.base.odometry_topic, SENSOR_PUB_QOS)
                         if embodiment.base is not None else None)
        self.cameras = []
        for cam in embodiment.cameras:
            transport = camera_transport or cam.transport
            kind = CompressedImage if transport == 'compressed' else Image
            self.cameras.append((cam, transport, node.create_publisher(kind, cam.wire_topic(transport),
                                                                       SENSOR_PUB_QOS)))
        node.create_service(Trigger, 'sim/reset', self._on_reset)
        # Stepping and rendering get a group each: rendering must not delay the joint states.
        node.create_timer(1.0 / state_rate_hz, self._on_step, callback_group=MutuallyExclusiveCallbackGroup())
        node.create_timer(1.0 / camera_rate_hz, self._on_render, callback_group=MutuallyExclusiveCallbackGroup())

    def now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    def _on_reset(self, _request, response):
        """sim/reset: joints home (or spread around it: sim_start_spread), base at the origin, a new scene
        layout (the next one of the seed)."""
        with self.lock:
            self.world.reset(now=self.now())
        response.success, response.message = True, 'simulation reset'
        return response

    def _on_step(self) -> None:
        with self.lock:
            # The clock is read under the lock: a reset (or a command) stamped between reading it and
            # stepping would otherwise make this step go back in time.
            now = self.now()
            if now < self.world.time:       # the clock jumped back (sim time, a replayed bag)
                self.node.get_logger().warning('sim: the clock went back; the simulation is reset',
                                               throttle_duration_sec=5.0)
                self.world.reset(now=now)
            self.world.step(now)
            states = {t: self.world.joint_state(t) for t in self.state_topics}
            odom = self.world.odometry() if self.odom_pub is not None else None
        stamp = to_time_msg(now)
        for endpoint in self.state_endpoints:
            endpoint.publish_state(*states[endpoint.spec.joint_state_topic], stamp)
        for topic, (names, positions, velocities) in states.items():
            if topic not in self.state_pubs:
                continue
            msg = JointState(name=list(names), position=[float(p) for p in positions],
                             velocity=[float(v) for v in velocities])
            msg.header.stamp = stamp
            self.state_pubs[topic].publish(msg)
        if odom is not None:
            msg = Odometry()
            msg.header.stamp = stamp
            msg.header.frame_id, msg.child_frame_id = 'odom', 'base_link'
            msg.pose.pose.position.x, msg.pose.pose.position.y = float(odom['x']), float(odom['y'])
            msg.pose.pose.orientation.z = float(np.sin(odom['yaw'] / 2))
            msg.pose.pose.orientation.w = float(np.cos(odom['yaw'] / 2))
            # Odometry twist is in the child (base) frame.
            msg.twist.twist.linear.x, msg.twist.twist.linear.y = float(odom['vx']), float(odom['vy'])
            msg.twist.twist.angular.z = float(odom['wz'])
            self.odom_pub.publish(msg)

    def _on_render(self) -> None:
        now = self.now()
        with self.lock:
            images = [(cam, transport, pub, self.world.render(cam.slot)) for cam, transport, pub in self.cameras]
        for cam, transport, pub, rgb in images:
            frame = f'{cam.slot}_camera'
            if transport == 'compressed':
                pub.publish(encode_compressed(rgb, now, frame, self.jpeg_quality))
            else:
                pub.publish(encode_image(rgb, now, frame))
