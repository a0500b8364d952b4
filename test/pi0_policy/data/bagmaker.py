"""Real rosbag2 episode bags for the tests: mcap storage, bag version 8, CDR-serialised messages.

Messages are built from the same typestore the converter falls back to (Humble types + pi0_msgs from the
.msg files), and the bag embeds their definitions as ``ros2 bag record`` does.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from rosbags.rosbag2 import StoragePlugin, Writer

from pi0_policy.data.typestore import pi0_typestore

NS = 1_000_000_000
T0 = 1_700_000_000 * NS  # START of the test episodes


def _types():
    return pi0_typestore().types


def header(t_ns: int, frame_id: str = ""):
    t = _types()
    return t["std_msgs/msg/Header"](stamp=t["builtin_interfaces/msg/Time"](sec=t_ns // NS, nanosec=t_ns % NS),
                                    frame_id=frame_id)


def joint_state(t_ns: int, names: list[str], positions: list[float]):
    n = len(names)
    return _types()["sensor_msgs/msg/JointState"](header=header(t_ns), name=list(names),
                                                   position=np.asarray(positions, dtype=np.float64),
                                                   velocity=np.zeros(n), effort=np.zeros(n))


def raw_image(t_ns: int, rgb: np.ndarray, encoding: str = "rgb8", row_padding: int = 0):
    """sensor_msgs/Image; ``row_padding`` extra bytes per row exercise ``step``."""
    if encoding == "rgb8":
        pixels = rgb
    elif encoding == "bgr8":
        pixels = rgb[..., ::-1]
    elif encoding == "mono8":
        pixels = rgb[..., :1]
    else:
        raise ValueError(encoding)
    h, w, c = pixels.shape
    rows = np.zeros((h, w * c + row_padding), np.uint8)
    rows[:, : w * c] = pixels.reshape(h, w * c)
    return _types()["sensor_msgs/msg/Image"](header=header(t_ns), height=h, width=w, encoding=encoding,
                                              is_bigendian=0, step=w * c + row_padding, data=rows.reshape(-1))


def compressed_image(t_ns: int, rgb: np.ndarray, fmt: str = "png"):
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG" if fmt == "png" else "JPEG", quality=95)
    return _types()["sensor_msgs/msg/CompressedImage"](header=header(t_ns), format=fmt,
                                                        data=np.frombuffer(buf.getvalue(), np.uint8))


def command(t_ns: int, rows: np.ndarray, embodiment: str = "ur5e", mode: int = 0, dt: float = 0.05):
    rows = np.atleast_2d(np.asarray(rows, dtype=np.float32))
    return _types()["pi0_msgs/msg/ExecutorCommand"](
        header=header(t_ns), embodiment=embodiment, mode=mode, chunk_id=0, dt=dt, valid_dims=rows.shape[1],
        num_points=rows.shape[0], positions=rows.reshape(-1))


def episode_event(t_ns: int, event: int, task: str = "", index: int = 0, embodiment: str = "ur5e",
                  success: bool = False):
    return _types()["pi0_msgs/msg/EpisodeEvent"](header=header(t_ns), event=event, episode_index=index,
                                                  embodiment=embodiment, task=task, success=success, topics=[],
                                                  messages_received=np.zeros(0, np.uint64),
                                                  messages_lost=np.zeros(0, np.uint64),
                                                  messages_late=np.zeros(0, np.uint64))


def string(text: str):
    return _types()["std_msgs/msg/String"](data=text)


def odometry(t_ns: int, vx: float, vy: float, wz: float):
    t = _types()
    twist = t["geometry_msgs/msg/Twist"](linear=t["geometry_msgs/msg/Vector3"](x=vx, y=vy, z=0.0),
                                         angular=t["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=wz))
    pose = t["geometry_msgs/msg/Pose"](position=t["geometry_msgs/msg/Point"](x=0.0, y=0.0, z=0.0),
                                       orientation=t["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0))
    return t["nav_msgs/msg/Odometry"](
        header=header(t_ns, "odom"), child_frame_id="base_link",
        pose=t["geometry_msgs/msg/PoseWithCovariance"](pose=pose, covariance=np.zeros(36)),
        twist=t["geometry_msgs/msg/TwistWithCovariance"](twist=twist, covariance=np.zeros(36)))


def write_bag(path: str | Path, messages: list[tuple[str, str, int, object]], log_offset_ns: int = 0) -> Path:
    """Write (topic, msgtype, stamp_ns, message) records; the log time is the stamp plus ``log_offset_ns``."""
    store = pi0_typestore()
    path = Path(path)
    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        connections = {}
        for topic, msgtype, t_ns, msg in sorted(messages, key=lambda m: m[2]):
            if topic not in connections:
                connections[topic] = writer.add_connection(topic, msgtype, typestore=store)
            writer.write(connections[topic], t_ns + log_offset_ns, store.serialize_cdr(msg, msgtype))
    return path


# --------------------------------------------------------------------------------------------------
# A UR5e episode with known contents


UR5E_JOINTS = ["shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint", "wrist_1_joint", "wrist_2_joint",
               "wrist_3_joint"]
GRIPPER_JOINT = "robotiq_85_left_knuckle_joint"
GRIPPER_CLOSED = 0.7929


def joint_value(j: int, t_s: float) -> float:
    """A smooth, non-linear joint trajectory (so interpolation differs from hold)."""
    return 0.3 * (j + 1) * np.sin(1.7 * t_s + j) + 0.1 * t_s * t_s


def gripper_value(t_s: float) -> float:
    """Knuckle angle in rad, open -> closed over the episode, briefly past closed (clipped to 1)."""
    return GRIPPER_CLOSED * min(1.1, t_s / 0.6)


def frame_color(slot_id: int, k: int, shape: tuple[int, int]) -> np.ndarray:
    """An image that says which camera and which frame it is."""
    h, w = shape
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = k * 7 % 256
    img[..., 1] = slot_id * 100
    img[..., 2] = np.arange(w, dtype=np.uint8)[None, :] * 3
    return img


@dataclass
class Ur5eEpisode:
    """Parameters of a test episode; times are seconds after START."""

    task: str = "pick up the red block"
    index: int = 0
    duration: float = 0.6
    namespace: str = ""
    joint_rate: float = 125.0
    joint_start: float = 0.011
    command_rate: float = 20.0
    command_start: float = 0.013
    base_rate: float = 10.0  # slower than the 20 fps frames: frames repeat
    base_start: float = 0.07
    base_encoding: str = "bgr8"
    wrist_rate: float = 30.0
    wrist_start: float = 0.004
    wrist_transport: str = "compressed"
    image_shape: tuple[int, int] = (24, 32)
    with_stop: bool = True
    success: bool = True
    extra: list = field(default_factory=list)

    def topic(self, relative: str) -> str:
        return f"{self.namespace}/{relative}"

    def times(self, start: float, rate: float) -> np.ndarray:
        return np.arange(start, self.duration + 0.2, 1.0 / rate)

    def command_row(self, k: int) -> np.ndarray:
        return np.array([0.01 * k * (j + 1) for j in range(6)] + [min(1.0, k / 10)], np.float32)

    def messages(self) -> list:
        msgs = [(self.topic("pi0/episode_event"), "pi0_msgs/msg/EpisodeEvent", T0,
                 episode_event(T0, 0, self.task, self.index))]
        if self.with_stop:
            t = T0 + int(self.duration * NS)
            msgs.append((self.topic("pi0/episode_event"), "pi0_msgs/msg/EpisodeEvent", t,
                         episode_event(t, 1, self.task, self.index, success=self.success)))
        for t_s in self.times(self.joint_start, self.joint_rate):
            t = T0 + int(round(t_s * NS))
            # Arm joints in a shuffled order with a joint we do not use; the gripper in its own message.
            order = [3, 0, 5, 1, 4, 2]
            names = [UR5E_JOINTS[j] for j in order] + ["some_other_joint"]
            values = [joint_value(j, t_s) for j in order] + [42.0]
            msgs.append((self.topic("joint_states"), "sensor_msgs/msg/JointState", t, joint_state(t, names, values)))
            msgs.append((self.topic("joint_states"), "sensor_msgs/msg/JointState", t + 1000,
                         joint_state(t + 1000, [GRIPPER_JOINT], [gripper_value(t_s)])))
        for k, t_s in enumerate(self.times(self.command_start, self.command_rate)):
            t = T0 + int(round(t_s * NS))
            look_ahead = np.stack([self.command_row(k), self.command_row(k) + 100.0])  # row 1 must not be used
            msgs.append((self.topic("pi0/command"), "pi0_msgs/msg/ExecutorCommand", t, command(t, look_ahead)))
        for k, t_s in enumerate(self.times(self.base_start, self.base_rate)):
            t = T0 + int(round(t_s * NS))
            rgb = frame_color(1, k, self.image_shape)
            msgs.append((self.topic("camera/base/image_raw"), "sensor_msgs/msg/Image", t,
                         raw_image(t, rgb, self.base_encoding, row_padding=4)))
        for k, t_s in enumerate(self.times(self.wrist_start, self.wrist_rate)):
            t = T0 + int(round(t_s * NS))
            rgb = frame_color(2, k, self.image_shape)
            if self.wrist_transport == "compressed":
                msgs.append((self.topic("camera/wrist/image_raw/compressed"), "sensor_msgs/msg/CompressedImage", t,
                             compressed_image(t, rgb, "png")))
            else:
                msgs.append((self.topic("camera/wrist/image_raw"), "sensor_msgs/msg/Image", t, raw_image(t, rgb)))
        msgs.append((self.topic("pi0/instruction"), "std_msgs/msg/String", T0 - NS, string("an older instruction")))
        return msgs + self.extra

    def write(self, path: str | Path) -> Path:
        return write_bag(path, self.messages())

    # ---- what the converter must produce -----------------------------------------------------------

    def expected(self, fps: int = 20) -> dict:
        """Rows the converter must write, computed here independently of its code."""
        joint_t = self.times(self.joint_start, self.joint_rate)
        cmd_t = self.times(self.command_start, self.command_rate)
        base_t = self.times(self.base_start, self.base_rate)
        wrist_t = self.times(self.wrist_start, self.wrist_rate)
        first_input = max(joint_t[0] + 1e-6, cmd_t[0], base_t[0], wrist_t[0])
        rows = []
        k = 0
        while k / fps <= self.duration + 1e-12:
            t = k / fps
            if t >= first_input:
                state = [np.interp(t, joint_t, [joint_value(j, s) for s in joint_t]) for j in range(6)]
                grip_t = joint_t + 1e-6
                grip = np.interp(t, grip_t, [min(1.0, gripper_value(s) / GRIPPER_CLOSED) for s in joint_t])
                c = int(np.searchsorted(cmd_t, t + 1e-12, side="right") - 1)
                b = int(np.searchsorted(base_t, t + 1e-12, side="right") - 1)
                w = int(np.searchsorted(wrist_t, t + 1e-12, side="right") - 1)
                rows.append({"state": np.array(state + [grip], np.float32), "action": self.command_row(c),
                             "base": frame_color(1, b, self.image_shape), "wrist": frame_color(2, w, self.image_shape)})
            k += 1
        return {"rows": rows}
