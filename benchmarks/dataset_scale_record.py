"""The recording half of ``dataset_scale.py``: episodes published through the real recorder.

A recorder (``python -m pi0_recording.recorder_node``, its own process, as launch starts it) records the
embodiment's topics; this process publishes them at their real rates with the simulator's world behind
them: every camera at 30 Hz with frames from the simulator's renderer (raw rgb8 or JPEG, as the simulator
and image_transport publish them), every arm's joint states and the unified command at the robot's
control rate, the instruction (latched). Episodes are started and stopped through the recorder's
services; the STOP event says per topic what the recorder received, what the middleware reported lost
and what arrived late, and the bag's metadata what was written.

Publishing is paced by the wall clock; when rendering and publishing fall behind, messages go out as
fast as they can (none is skipped), so the counts offered are the episode's nominal counts and the
publishing time says whether this process kept up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import rclpy
import yaml
from pi0_msgs.msg import EpisodeEvent, ExecutorCommand
from pi0_msgs.srv import StartEpisode, StopEpisode
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image, JointState
from std_msgs.msg import String

from pi0_common.qos import CHUNK_QOS, LATCHED_QOS, SENSOR_PUB_QOS
from pi0_sim.ros_messages import encode_compressed, encode_image
from pi0_sim.world import SimWorld

CAMERA_HZ = 30
JPEG_QUALITY = 90          # the simulator's default
DRAIN_S = 1.0              # after the last message, before STOP: what is on its way reaches the bag


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total


class PeakMemory(threading.Thread):
    """Polls a process tree's resident memory every 0.1 s until stopped; ``peak`` in bytes."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self._done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.1):
            self.peak = max(self.peak, tree_rss_bytes(self.pid))

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


class EpisodeSource:
    """The robot side of a teleoperation session: the simulator's world, published topic by topic."""

    def __init__(self, context, emb, transport: str, task: str):
        self.emb, self.transport, self.task = emb, transport, task
        self.node = Node("dataset_scale_source", context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        image = CompressedImage if transport == "compressed" else Image
        self.cameras = {c.slot: self.node.create_publisher(image, c.wire_topic(transport), SENSOR_PUB_QOS)
                        for c in emb.cameras}  # fmt: skip
        self.joints = {t: self.node.create_publisher(JointState, t, SENSOR_PUB_QOS) for t in emb.joint_state_topics}
        self.command = self.node.create_publisher(ExecutorCommand, "pi0/command", CHUNK_QOS)
        self.instruction = self.node.create_publisher(String, "pi0/instruction", LATCHED_QOS)
        self.instruction.publish(String(data=task))
        self.events: list[EpisodeEvent] = []
        self.node.create_subscription(EpisodeEvent, "pi0/episode_event", self.events.append, LATCHED_QOS)
        self.publishers = {**{p.topic_name: p for p in self.cameras.values()},
                           **{p.topic_name: p for p in self.joints.values()}, self.command.topic_name: self.command}
        self.world = SimWorld(emb, seed=0)

    def wait_for(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError(what)
            self.executor.spin_once(timeout_sec=0.05)

    def call(self, srv, name: str, request):
        client = self.node.create_client(srv, name)
        if not client.wait_for_service(timeout_sec=10.0):
            raise RuntimeError(f"no {name} service")
        future = client.call_async(request)
        self.executor.spin_until_future_complete(future, timeout_sec=30.0)
        if future.result() is None:
            raise RuntimeError(f"{name}: no answer")
        return future.result()

    def publish_episode(self, seconds: float, t_start: float) -> dict:
        """Publish ``seconds`` of the session (the world goes on from ``t_start``); returns the counts
        offered per topic and the wall time publishing took."""
        emb, rate = self.emb, self.emb.control_rate_hz
        offered = dict.fromkeys(self.publishers, 0)
        render_s, next_camera, k, t0 = 0.0, 0.0, 0, time.monotonic()
        while k / rate <= seconds:
            now = t_start + k / rate
            if (delay := t0 + k / rate - time.monotonic()) > 0:
                time.sleep(delay)
            if k % int(2 * rate) == 0:  # every arm 0.3 rad away from home and back, every 2 s
                for arm in emb.arms:
                    home = np.array([j.home for j in arm.joints])
                    target = home + 0.3 * np.sin(np.arange(len(home)) + now)
                    self.world.command_trajectory([j.name for j in arm.joints], [1.0, 2.0],
                                                  [target.tolist(), home.tolist()], now,
                                                  topic=arm.joint_state_topic)  # fmt: skip
            self.world.step(now)
            stamp = self.node.get_clock().now().to_msg()
            for topic, pub in self.joints.items():
                names, pos, vel = self.world.joint_state(topic)
                msg = JointState(name=list(names), position=[float(p) for p in pos], velocity=[float(v) for v in vel])
                msg.header.stamp = stamp
                pub.publish(msg)
                offered[pub.topic_name] += 1
            positions = np.concatenate([np.append(self.world.arm_positions(a.name), self.world.gripper_closure(a.name))
                                        if a.gripper is not None else self.world.arm_positions(a.name)
                                        for a in emb.arms])  # fmt: skip
            command = ExecutorCommand(embodiment=emb.name, mode=0, chunk_id=0, dt=1 / rate, valid_dims=len(positions),
                                      num_points=1, positions=positions.astype(float).tolist())  # fmt: skip
            command.header.stamp = stamp
            self.command.publish(command)
            offered[self.command.topic_name] += 1
            if k / rate + 1e-9 >= next_camera:
                next_camera += 1 / CAMERA_HZ
                for cam in emb.cameras:
                    r0 = time.perf_counter()
                    rgb = self.world.render(cam.slot)
                    render_s += time.perf_counter() - r0
                    msg = (encode_compressed(rgb, stamp, cam.slot, JPEG_QUALITY) if self.transport == "compressed"
                           else encode_image(rgb, stamp, cam.slot))  # fmt: skip
                    self.cameras[cam.slot].publish(msg)
                    offered[self.cameras[cam.slot].topic_name] += 1
            k += 1
        return {"offered": offered, "publish_s": time.monotonic() - t0, "render_s": render_s}


def bag_counts(bag: Path) -> dict[str, int]:
    """Messages written per topic, from the bag's metadata.yaml."""
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    return {t["topic_metadata"]["name"]: t["message_count"] for t in meta["topics_with_message_count"]}


def record_session(out: Path, emb, transport: str, lengths: list[float], task: str = "fold the towel") -> dict:
    """One recorder process recording one episode per entry of ``lengths`` (seconds) into ``out``.

    Returns per episode: its bag, the counts offered, received, lost, late (STOP event) and written (bag),
    the publishing time; and the recorder's peak memory.
    """
    log = out.with_suffix(".recorder.log")
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "pi0_recording.recorder_node", "--ros-args", "-p",
                             f"output_dir:={out}", "-p", f"embodiment:={emb.name}", "-p",
                             f"camera_transport:={transport}", "-p", "disk_floor_mb:=512.0", "-p",
                             "discovery_period:=0.2"], stdout=log.open("w"), stderr=subprocess.STDOUT)  # fmt: skip
    memory = PeakMemory(proc.pid)
    memory.start()
    context = rclpy.Context()
    rclpy.init(context=context)
    source = EpisodeSource(context, emb, transport, task)
    episodes, t_world = [], 0.0
    try:
        source.wait_for(lambda: all(p.get_subscription_count() for p in source.publishers.values())
                        or proc.poll() is not None, 60.0, f"the recorder never subscribed; see {log}")  # fmt: skip
        if proc.poll() is not None:
            raise RuntimeError(f"the recorder exited; see {log}")
        for seconds in lengths:
            source.events.clear()
            started = source.call(StartEpisode, "pi0/recorder/start_episode", StartEpisode.Request(task=task))
            if not started.success:
                raise RuntimeError(f"start_episode refused: {started.message}")
            published = source.publish_episode(seconds, t_world)
            t_world += seconds + 1.0
            time.sleep(DRAIN_S)
            stopped = source.call(StopEpisode, "pi0/recorder/stop_episode", StopEpisode.Request(success=True))
            source.wait_for(lambda: any(e.event == EpisodeEvent.STOP for e in source.events), 30.0, "no STOP event")
            stop = next(e for e in source.events if e.event == EpisodeEvent.STOP)
            bag = Path(stopped.bag_path)
            episodes.append({
                "bag": str(bag), "seconds": seconds, **published, "written": bag_counts(bag),
                "received": dict(zip(stop.topics, map(int, stop.messages_received), strict=True)),
                "lost": dict(zip(stop.topics, map(int, stop.messages_lost), strict=True)),
                "late": dict(zip(stop.topics, map(int, stop.messages_late), strict=True)),
            })  # fmt: skip
    finally:
        source.node.destroy_node()
        rclpy.try_shutdown(context=context)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        peak = memory.stop()
    return {"episodes": episodes, "recorder_peak_mb": peak / 2**20, "recorder_exit": proc.returncode}
