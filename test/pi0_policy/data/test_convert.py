"""Bags -> dataset: known recorded signals must come out as exactly the expected aligned frames."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pi0_common.embodiment import load_embodiment
from pi0_policy.data import convert as convert_module
from pi0_policy.data.bag_reader import BagError, read_streams
from pi0_policy.data.convert import convert
from pi0_policy.data.reader import LeRobotReader

from . import bagmaker as bm
from .conftest import GOOD


def test_good_bags_convert_and_broken_ones_are_reported_and_skipped(converted):
    for result in converted.values():
        assert [r.ok for r in result.reports] == [True, True, False, False]
        skipped = {r.bag.rsplit("/", 1)[-1]: r.error for r in result.skipped}
        assert "File end magic is invalid" in skipped["ep2_truncated"] and "ep2_truncated" in skipped["ep2_truncated"]
        assert "no metadata.yaml" in skipped["ep3_no_metadata"]
        meta = json.loads((result.out_dir / "meta" / "pi0_ros.json").read_text())
        assert [s["bag"].rsplit("/", 1)[-1] for s in meta["skipped"]] == ["ep2_truncated", "ep3_no_metadata"]
        assert [e["source"]["success"] for e in meta["episodes"]] == [True, True]


def test_cli_prints_a_report_per_episode(bags_dir, tmp_path, capsys):
    assert convert_module.main([str(bags_dir), str(tmp_path / "ds"), "--embodiment", "ur5e", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.count("  ok ") == 2 and out.count("SKIPPED") == 2 and "2 episode(s)" in out
    assert convert_module.main([str(bags_dir), str(tmp_path / "ds"), "--embodiment", "ur5e"]) == 2  # not empty
    assert convert_module.main([str(bags_dir), str(tmp_path / "x"), "--embodiment", "ur5"]) == 2  # unknown robot


@pytest.mark.parametrize("fmt", ["v2.1", "v3"])
def test_rows_are_the_recorded_signals_aligned_to_the_frame_clock(converted, fmt):
    reader = LeRobotReader(converted[fmt].out_dir)
    assert reader.camera_slots == ["base", "left_wrist"] and reader.fps == 20
    for episode, spec in zip(reader.episodes, GOOD.values(), strict=True):
        expected = spec.expected(fps=20)["rows"]
        assert episode.length == len(expected) and episode.task == spec.task
        for k, row in enumerate(expected):
            i = episode.start + k
            # State: interpolated between the joint samples around the frame time (float32 of the exact value).
            np.testing.assert_allclose(reader.state[i], row["state"], rtol=0, atol=2e-7)
            # Action: row 0 of the command issued at or before the frame (the look-ahead row is +100).
            np.testing.assert_array_equal(reader.action[i], row["action"])
            # Images: the latest frame at or before the frame time, pixel for pixel (bgr8/rgb8, padded rows, PNG).
            np.testing.assert_array_equal(reader.image(i, "base"), row["base"])
            np.testing.assert_array_equal(reader.image(i, "left_wrist"), row["wrist"])


def test_timestamps_start_at_zero_and_step_exactly_and_dtypes_are_as_declared(converted):
    reader = LeRobotReader(converted["v2.1"].out_dir)
    for e in reader.episodes:
        ts = reader.timestamp[e.start : e.stop]
        assert ts.dtype == np.float32
        np.testing.assert_array_equal(ts, (np.arange(e.length) / 20).astype(np.float32))
    assert reader.state.dtype == np.float32 and reader.action.dtype == np.float32
    assert reader.features["observation.state"]["dtype"] == "float32"
    # The first frames are dropped until every input has arrived (the base camera starts 70 ms in).
    meta = json.loads((reader.root / "meta" / "pi0_ros.json").read_text())
    assert [e["source"]["dropped_leading_frames"] for e in meta["episodes"]] == [2, 2]


def test_nan_values_are_dropped_and_a_missing_stop_ends_at_the_last_sample(tmp_path):
    spec = bm.Ur5eEpisode(with_stop=False, task="")  # no STOP, no task in START: the instruction is the task
    t_nan = bm.T0 + int(0.19 * bm.NS)  # an extra command between two good ones (0.163 s and 0.213 s)
    spec.extra = [("/pi0/command", "pi0_msgs/msg/ExecutorCommand", t_nan, bm.command(t_nan, np.full(7, np.nan))),
                  ("/joint_states", "sensor_msgs/msg/JointState", t_nan,
                   bm.joint_state(t_nan, ["elbow_joint", bm.GRIPPER_JOINT], [np.nan, np.nan]))]
    spec.write(tmp_path / "bags" / "ep")
    result = convert(tmp_path / "bags", tmp_path / "ds", "ur5e", progress=False)
    report = result.reports[0]
    assert report.ok, report.error
    assert any("1 pi0/command message(s) with non-finite" in w for w in report.warnings)
    assert any("2 non-finite joint/base value(s)" in w for w in report.warnings)
    assert any("no STOP" in w for w in report.warnings)
    reader = LeRobotReader(tmp_path / "ds")
    assert reader.tasks == ["an older instruction"]
    assert np.all(np.isfinite(reader.action)) and np.all(np.isfinite(reader.state))
    # Without STOP the episode runs to the last sample (joint states go on 0.2 s past the nominal end).
    assert reader.episodes[0].length > len(bm.Ur5eEpisode().expected()["rows"])


def test_bags_of_another_robot_or_without_a_camera_are_refused_with_the_reason(tmp_path):
    emb = load_embodiment("ur5e")
    spec = bm.Ur5eEpisode()
    t = bm.T0 + 50_000_000
    spec.extra = [("/pi0/command", "pi0_msgs/msg/ExecutorCommand", t, bm.command(t, np.zeros((1, 14))))]
    spec.write(tmp_path / "wrong_dims")
    with pytest.raises(BagError, match="14 dims; ur5e needs 7"):
        read_streams(tmp_path / "wrong_dims", emb)
    messages = [m for m in bm.Ur5eEpisode().messages() if "camera/base" not in m[0]]
    bm.write_bag(tmp_path / "no_base", messages)
    with pytest.raises(BagError, match="camera 'base'.*/camera/base/image_raw"):
        read_streams(tmp_path / "no_base", emb)
    # Leaving the camera out on purpose is allowed.
    assert set(read_streams(tmp_path / "no_base", emb, cameras=("left_wrist",)).images) == {"left_wrist"}


def test_bags_from_the_recorder_writer_under_a_namespace(tmp_path):
    """The recorder's own writer (pi0_recording: definitions from its registry, receive times as log
    times) with the stack in namespace /robot1."""
    from pi0_policy.data.typestore import find_msg_dir, pi0_typestore
    from pi0_recording.episode_bag import EpisodeBag
    from pi0_recording.typestore import TypeRegistry

    msg_dir = find_msg_dir()
    registry = TypeRegistry("humble", share_dir=lambda pkg: msg_dir.parent if pkg == "pi0_msgs" else None)
    store = pi0_typestore()
    spec = bm.Ur5eEpisode(namespace="/robot1")
    bag = EpisodeBag(tmp_path / "bags" / "ur5e_ep000000", registry)
    for topic, msgtype, t, msg in sorted(spec.messages(), key=lambda m: m[2]):
        bag.add_topic(topic, msgtype, [])
        bag.write(topic, t + 3_000_000, store.serialize_cdr(msg, msgtype))  # received 3 ms after the stamp
    bag.close()
    result = convert(tmp_path / "bags", tmp_path / "ds", "ur5e", "v3", progress=False, video=False)
    assert result.reports[0].ok, result.reports[0].error
    assert result.reports[0].source["namespace"] == "/robot1"
    reader = LeRobotReader(tmp_path / "ds")
    expected = spec.expected()["rows"]
    np.testing.assert_array_equal(reader.action, np.stack([r["action"] for r in expected]))
    np.testing.assert_array_equal(reader.image(3, "base"), expected[3]["base"])


def test_two_arms_and_a_base_map_by_topic_name_and_gripper(tmp_path):
    """trossen_mobile: the same joint names on two topics, grippers in metres, base velocity from odometry."""
    emb = load_embodiment("trossen_mobile")
    msgs = [("/pi0/episode_event", "pi0_msgs/msg/EpisodeEvent", bm.T0,
             bm.episode_event(bm.T0, 0, "drive and grasp", embodiment="trossen_mobile"))]
    stop = bm.T0 + bm.NS // 5
    msgs.append(("/pi0/episode_event", "pi0_msgs/msg/EpisodeEvent", stop,
                 bm.episode_event(stop, 1, "drive and grasp", embodiment="trossen_mobile")))
    names = ["waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "left_finger"]
    for k in range(30):
        t = bm.T0 + k * 10_000_000
        for side, offset, finger in (("left", 0.0, 0.0579), ("right", 1.0, 0.0440)):
            msgs.append((f"/follower_{side}/joint_states", "sensor_msgs/msg/JointState", t,
                         bm.joint_state(t, names[::-1], [finger] + [offset + j / 10 for j in range(6)][::-1])))
        msgs.append(("/mobile_base/odom", "nav_msgs/msg/Odometry", t, bm.odometry(t, 0.001 * k, 0.5, -0.002 * k)))
        msgs.append(("/pi0/command", "pi0_msgs/msg/ExecutorCommand", t,
                     bm.command(t, np.full((1, 16), float(k)), "trossen_mobile", dt=0.02)))
        for cam in emb.cameras:
            msgs.append((f"/{cam.topic}", "sensor_msgs/msg/Image", t, bm.raw_image(t, np.zeros((4, 6, 3), np.uint8))))
    bm.write_bag(tmp_path / "bags" / "ep", msgs)
    result = convert(tmp_path / "bags", tmp_path / "ds", "trossen_mobile", progress=False)
    assert result.reports[0].ok, result.reports[0].error
    reader = LeRobotReader(tmp_path / "ds")
    assert reader.fps == 50 and reader.camera_slots == ["base", "left_wrist", "right_wrist"]
    arms = np.array([j / 10 for j in range(6)] + [0.0] + [1 + j / 10 for j in range(6)] + [1.0], np.float32)
    np.testing.assert_allclose(reader.state[:, :14], np.tile(arms, (len(reader), 1)), atol=1e-6)
    t = np.arange(len(reader)) * 0.02  # frame k at 20 ms: odometry samples every 10 ms, linear in time
    np.testing.assert_allclose(reader.state[:, 14], 0.1 * t, atol=1e-6)  # vx = 0.001 * (t / 10 ms)
    np.testing.assert_allclose(reader.state[:, 15], -0.2 * t, atol=1e-6)  # wz (vy is not a trossen_mobile axis)
    np.testing.assert_array_equal(reader.action[:, 0], 2 * np.arange(len(reader)))
