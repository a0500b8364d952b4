"""Bags the suite did not record (sqlite3, rosbag2 v9 and v5, no pi0 topics) convert through a mapping file:
per-topic stamps, task from an argument or a topic, episodes from the whole bag, windows or a topic, the
action from a command topic or the leader arms; missing or ambiguous topics list what the bag holds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer

from pi0_policy.data.bag_reader import BagError
from pi0_policy.data.convert import convert
from pi0_policy.data.mapping import load_mapping
from pi0_policy.data.reader import LeRobotReader
from pi0_policy.data.typestore import pi0_typestore

from . import bagmaker as bm

NS = bm.NS
T0 = bm.T0
KNUCKLE = bm.GRIPPER_JOINT
CAMERA_DELAY_NS = 30_000_000  # the cameras' frames are received 30 ms after their stamp


def write_sqlite_bag(path: Path, messages: list, delays: dict[str, int] | None = None, version: int = 9) -> Path:
    """(topic, msgtype, stamp, msg) records into a sqlite3 bag; receive time = stamp + the topic's delay."""
    store, delays = pi0_typestore(), delays or {}
    with Writer(path, version=9, storage_plugin=StoragePlugin.SQLITE3) as writer:
        connections = {}
        for topic, msgtype, t, msg in sorted(messages, key=lambda m: m[2] + delays.get(m[0], 0)):
            if topic not in connections:
                connections[topic] = writer.add_connection(topic, msgtype, typestore=store)
            writer.write(connections[topic], t + delays.get(topic, 0), store.serialize_cdr(msg, msgtype))
    if version != 9:  # as Humble writes it: the version is all that this reader's path depends on
        meta = path / "metadata.yaml"
        meta.write_text(meta.read_text().replace("version: 9", f"version: {version}", 1))
    return path


def arm(t_s: float) -> list[float]:
    return [0.1 * j + 0.5 * t_s for j in range(6)]


def ur5e_messages(seconds: float = 2.0, extra: list | None = None) -> list:
    """A plain UR5e stack: joint states at 100 Hz, a JointState command at 20 Hz, two cameras at 20 Hz."""
    t = bm._types()
    msgs = []
    for k in range(int(seconds * 100) + 1):
        ts = T0 + k * 10_000_000
        msgs.append(("/joint_states", "sensor_msgs/msg/JointState", ts,
                     bm.joint_state(ts, bm.UR5E_JOINTS + [KNUCKLE], arm(k / 100) + [0.7929 * k / 200])))
    for k in range(int(seconds * 20) + 1):
        ts = T0 + k * 50_000_000
        msgs.append(("/joint_command", "sensor_msgs/msg/JointState", ts,
                     bm.joint_state(ts, [KNUCKLE] + bm.UR5E_JOINTS, [0.7929] + [k / 100] * 6)))
        msgs.append(("/camera/color/image_raw", "sensor_msgs/msg/Image", ts,
                     bm.raw_image(ts, bm.frame_color(1, k, (24, 32)))))
        msgs.append(("/wrist/image_raw/compressed", "sensor_msgs/msg/CompressedImage", ts,
                     bm.compressed_image(ts, bm.frame_color(2, k, (24, 32)))))
    msgs.append(("/tf_static", "std_msgs/msg/String", T0, t["std_msgs/msg/String"](data="unrelated")))
    return msgs + (extra or [])


MAPPING = {
    "state": ["/joint_states"],
    "cameras": {"base": "/camera/color/image_raw", "left_wrist": {"topic": "wrist/image_raw/compressed"}},
    "action": {"source": "command", "topic": "/joint_command"},
}


def test_a_plain_sqlite_bag_converts_with_the_task_from_the_command_line(tmp_path):
    write_sqlite_bag(tmp_path / "bags" / "run1", ur5e_messages(),
                     {"/camera/color/image_raw": CAMERA_DELAY_NS, "/wrist/image_raw/compressed": CAMERA_DELAY_NS})
    (tmp_path / "map.yaml").write_text(json.dumps(MAPPING))
    result = convert(tmp_path / "bags", tmp_path / "ds", "ur5e", mapping=tmp_path / "map.yaml",
                     task="wipe the table", video=False, progress=False)  # fmt: skip
    report = result.reports[0]
    assert report.ok, report.error
    assert report.source["clock_offsets_ms"]["/camera/color/image_raw"] == pytest.approx(30.0)
    assert report.source["clock_offsets_ms"]["/joint_states"] == pytest.approx(0.0)
    reader = LeRobotReader(tmp_path / "ds")
    assert reader.tasks == ["wipe the table"] and len(reader) == 41  # 2 s at 20 fps from the first sample
    k = np.arange(41)
    np.testing.assert_allclose(reader.state[:, :6], np.stack([arm(t) for t in k / 20]), atol=1e-6)
    np.testing.assert_allclose(reader.state[:, 6], np.minimum(1.0, k / 40), atol=1e-6)
    np.testing.assert_allclose(reader.action[:, :6], np.repeat(k[:, None] / 100, 6, axis=1), atol=1e-6)
    np.testing.assert_allclose(reader.action[:, 6], 1.0)  # the command's knuckle angle, in unified units
    for i in (0, 17, 40):  # header stamps: frame k is camera frame k
        np.testing.assert_array_equal(reader.image(i, "base"), bm.frame_color(1, i, (24, 32)))


def test_receive_times_windows_and_a_task_topic(tmp_path):
    """stamp: receive places the camera 30 ms late (each frame shows the previous camera frame); 1 s windows
    make two episodes; the task is the latest instruction before each."""
    tasks = [("/instruction", "std_msgs/msg/String", T0 - NS, bm.string("first")),
             ("/instruction", "std_msgs/msg/String", T0 + NS // 2, bm.string("second"))]
    write_sqlite_bag(tmp_path / "bags" / "run1", ur5e_messages(extra=tasks),
                     {"/camera/color/image_raw": CAMERA_DELAY_NS}, version=5)
    mapping = {**MAPPING, "cameras": {"base": {"topic": "/camera/color/image_raw", "stamp": "receive"}},
               "task": {"topic": "/instruction"}, "episodes": {"mode": "window", "seconds": 1.0}}
    result = convert(tmp_path / "bags", tmp_path / "ds", "ur5e", mapping=mapping, video=False, progress=False)
    assert [r.ok for r in result.reports] == [True, True], [r.error for r in result.reports]
    assert [Path(r.bag).name for r in result.reports] == ["run1#0", "run1#1"]
    reader = LeRobotReader(tmp_path / "ds")
    assert [e.task for e in reader.episodes] == ["first", "second"]
    assert reader.camera_slots == ["base"]
    # Frame 1 (50 ms) sees the camera frame received at 30 ms, i.e. frame 0; frame 0 had none and is dropped.
    assert [e.length for e in reader.episodes] == [20, 21]
    np.testing.assert_array_equal(reader.image(0, "base"), bm.frame_color(1, 0, (24, 32)))
    # The second window starts at 1 s, mid-bag: its first frame shows the camera frame received at 0.98 s.
    for row, camera_frame in ((20, 19), (30, 29), (40, 39)):
        np.testing.assert_array_equal(reader.image(row, "base"), bm.frame_color(1, camera_frame, (24, 32)))


def test_episode_bounds_from_a_bool_topic(tmp_path):
    t = bm._types()
    marks = [("/recording", "std_msgs/msg/Bool", T0 + s, t["std_msgs/msg/Bool"](data=v))
             for s, v in ((200_000_000, True), (700_000_000, False), (1_000_000_000, True), (1_500_000_000, False))]
    write_sqlite_bag(tmp_path / "bags" / "run1", ur5e_messages(extra=marks))
    result = convert(tmp_path / "bags", tmp_path / "ds", "ur5e", mapping=MAPPING, task="t", episodes="topic:/recording",
                     video=False, progress=False)  # fmt: skip
    assert [r.frames for r in result.reports] == [11, 11]
    reader = LeRobotReader(tmp_path / "ds")
    np.testing.assert_allclose(reader.state[0, :6], arm(0.2), atol=1e-6)
    np.testing.assert_allclose(reader.state[11, :6], arm(1.0), atol=1e-6)


def test_aloha_actions_from_the_leader_arms(tmp_path):
    names = ["waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate"]
    msgs = []
    for k in range(26):
        ts = T0 + k * 20_000_000
        for side, off in (("left", 0.0), ("right", 1.0)):
            msgs.append((f"/follower_{side}/joint_states", "sensor_msgs/msg/JointState", ts,
                         bm.joint_state(ts, names + ["left_finger"], [off + j / 10 for j in range(6)] + [0.0579])))
            msgs.append((f"/leader_{side}/joint_states", "sensor_msgs/msg/JointState", ts,
                         bm.joint_state(ts, names + ["gripper"], [off + k / 100] * 6 + [-0.0552])))
        for cam in ("cam_high", "cam_left_wrist", "cam_right_wrist"):
            msgs.append((f"/{cam}/image", "sensor_msgs/msg/Image", ts, bm.raw_image(ts, np.zeros((4, 6, 3), np.uint8))))
    write_sqlite_bag(tmp_path / "bags" / "ep", msgs)
    mapping = {"state": ["follower_left/joint_states", {"topic": "/follower_right/joint_states", "arm": "right"}],
               "cameras": {"base": "cam_high/image", "left_wrist": "cam_left_wrist/image",
                           "right_wrist": "cam_right_wrist/image"},
               "action": {"source": "leader", "topics": ["/leader_left/joint_states", "/leader_right/joint_states"]},
               "task": {"text": "fold"}}  # fmt: skip
    result = convert(tmp_path / "bags", tmp_path / "ds", "trossen_bimanual", mapping=mapping, progress=False)
    assert result.reports[0].ok, result.reports[0].error
    reader = LeRobotReader(tmp_path / "ds")
    k = np.arange(len(reader))
    np.testing.assert_allclose(reader.action[:, 0], k / 100, atol=1e-6)
    np.testing.assert_allclose(reader.action[:, 7], 1 + k / 100, atol=1e-6)
    np.testing.assert_allclose(reader.action[:, [6, 13]], 1.0)  # leader grippers closed
    np.testing.assert_allclose(reader.state[:, 7], 1.0, atol=1e-6)


def test_missing_ambiguous_and_mistyped_topics_list_what_the_bag_holds(tmp_path):
    extra = [("/robot2/joint_states", "sensor_msgs/msg/JointState", T0, bm.joint_state(T0, ["a"], [0.0]))]
    bag = write_sqlite_bag(tmp_path / "bags" / "run1", ur5e_messages(0.2, extra))
    cases = [({**MAPPING, "action": {"topic": "/arm/command"}}, r"action: no topic '/arm/command' in the bag; "
              r"it holds /camera/color/image_raw \(sensor_msgs/msg/Image\), .*/tf_static \(std_msgs/msg/String\)"),
             ({**MAPPING, "state": ["joint_states"]}, r"'joint_states' is ambiguous, it matches "
              r"\['/joint_states', '/robot2/joint_states'\]"),
             ({**MAPPING, "task": {"topic": "/camera/color/image_raw"}}, r"task: /camera/color/image_raw is "
              r"sensor_msgs/msg/Image, expected std_msgs/msg/String")]  # fmt: skip
    from pi0_common.embodiment import load_embodiment
    from pi0_policy.data.mapped_bag import read_mapped

    for mapping, message in cases:
        with pytest.raises(BagError, match=message):
            read_mapped(bag, load_embodiment("ur5e"), load_mapping({**mapping, "task": mapping.get("task") or
                                                                    {"text": "x"}}), ("base",))  # fmt: skip
    result = convert(tmp_path / "bags", tmp_path / "ds", "ur5e", mapping=cases[0][0], task="x", progress=False)
    assert not result.converted and "no topic '/arm/command'" in result.skipped[0].error
