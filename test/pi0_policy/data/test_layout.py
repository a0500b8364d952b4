"""The files, read the way LeRobot reads them (v2.1: jsonl + one parquet per episode through ``datasets``;
v3.0: shared parquet files, parquet metadata tables looked up by position, pandas-indexed tasks)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pi0_policy.data import lerobot_format as lf
from pi0_policy.data.reader import LeRobotReader
from pi0_policy.data.writer import EpisodeData, open_writer

DEFAULT_KEYS = ["timestamp", "frame_index", "episode_index", "index", "task_index"]
COLUMNS = ["observation.state", "action", "observation.images.base", "observation.images.left_wrist", *DEFAULT_KEYS]


def _info(root) -> dict:
    return json.loads((root / "meta" / "info.json").read_text())


def _check_data_schema(schema: pa.Schema, version: str) -> None:
    assert schema.names == COLUMNS
    assert schema.field("observation.state").type == pa.list_(pa.field("item", pa.float32()), 7)
    assert schema.field("observation.images.base").type == pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    assert schema.field("timestamp").type == pa.float32() and schema.field("index").type == pa.int64()
    hf = json.loads(schema.metadata[b"huggingface"])["info"]["features"]  # what `datasets` decodes columns as
    assert hf["observation.images.base"] == {"_type": "Image"}
    assert hf["action"]["_type"] == ("Sequence" if version == "v2.1" else "List") and hf["action"]["length"] == 7
    assert hf["task_index"] == {"dtype": "int64", "_type": "Value"}


def test_v21_layout(converted):
    root = converted["v2.1"].out_dir
    info = _info(root)
    assert info["codebase_version"] == "v2.1" and info["robot_type"] == "ur5e" and info["fps"] == 20
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (2, 19, 2)
    assert (info["total_chunks"], info["chunks_size"], info["total_videos"], info["video_path"]) == (1, 1000, 0, None)
    assert info["splits"] == {"train": "0:2"}
    assert list(info["features"]) == COLUMNS
    assert info["features"]["observation.images.base"]["shape"] == [24, 32, 3]
    assert info["features"]["observation.images.left_wrist"]["info"]["camera_slot"] == "left_wrist"
    episodes = [json.loads(line) for line in (root / "meta" / "episodes.jsonl").read_text().splitlines()]
    assert episodes == [{"episode_index": 0, "tasks": ["pick up the red block"], "length": 11},
                        {"episode_index": 1, "tasks": ["stack the blocks"], "length": 8}]
    tasks = [json.loads(line) for line in (root / "meta" / "tasks.jsonl").read_text().splitlines()]
    assert {t["task_index"]: t["task"] for t in tasks} == {0: "pick up the red block", 1: "stack the blocks"}
    index = 0
    for e in episodes:
        path = root / info["data_path"].format(episode_chunk=0, episode_index=e["episode_index"])
        table = pq.read_table(path)
        _check_data_schema(table.schema, "v2.1")
        assert table.column("index").to_pylist() == list(range(index, index + e["length"]))
        assert table.column("episode_index").to_pylist() == [e["episode_index"]] * e["length"]
        index += e["length"]
    # Episode stats as LeRobot's aggregate_stats checks them: count [1], images (3, 1, 1) in [0, 1].
    stats = [json.loads(line) for line in (root / "meta" / "episodes_stats.jsonl").read_text().splitlines()]
    assert [s["episode_index"] for s in stats] == [0, 1]
    for s in stats:
        assert set(s["stats"]) == set(COLUMNS)
        for feature in s["stats"].values():
            assert set(feature) == {"min", "max", "mean", "std", "count"} and np.shape(feature["count"]) == (1,)
        assert np.shape(s["stats"]["observation.images.base"]["mean"]) == (3, 1, 1)
        assert 0.0 <= np.min(s["stats"]["observation.images.base"]["min"]) <= np.max(
            s["stats"]["observation.images.base"]["max"]) <= 1.0  # fmt: skip


def test_v3_layout(converted):
    root = converted["v3"].out_dir
    info = _info(root)
    assert info["codebase_version"] == "v3.0" and info["data_path"] == lf_path("data")
    assert (info["data_files_size_in_mb"], info["chunks_size"]) == (100, 1000) and "total_chunks" not in info
    files = sorted(p.relative_to(root).as_posix() for p in (root / "data").rglob("*.parquet"))
    assert files == ["data/chunk-000/file-000.parquet"]  # both episodes share one file
    table = pq.read_table(root / files[0])
    _check_data_schema(table.schema, "v3")
    assert table.column("index").to_pylist() == list(range(19))  # row position == index
    episodes = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [e["episode_index"] for e in episodes] == [0, 1]  # row position == episode_index
    assert [(e["dataset_from_index"], e["dataset_to_index"]) for e in episodes] == [(0, 11), (11, 19)]
    assert [(e["data/chunk_index"], e["data/file_index"], e["tasks"]) for e in episodes] == [
        (0, 0, ["pick up the red block"]), (0, 0, ["stack the blocks"])]  # fmt: skip
    assert (episodes[0]["meta/episodes/chunk_index"], episodes[0]["meta/episodes/file_index"]) == (0, 0)
    assert np.shape(episodes[0]["stats/observation.images.base/mean"]) == (3, 1, 1)
    assert "stats/observation.state/q99" in episodes[0]
    tasks = pq.read_table(root / "meta" / "tasks.parquet")
    # pandas reads this as a DataFrame indexed by task: LeRobot's tasks.iloc[task_index].name is the string.
    pandas_meta = json.loads(tasks.schema.metadata[b"pandas"])
    assert pandas_meta["index_columns"] == ["task"]
    assert tasks.column("task_index").to_pylist() == [0, 1]
    assert tasks.column("task").to_pylist() == ["pick up the red block", "stack the blocks"]
    stats = json.loads((root / "meta" / "stats.json").read_text())
    assert {"q01", "q50", "q99"} <= set(stats["observation.state"]) and stats["index"]["count"] == [19]


def lf_path(kind: str) -> str:
    return {"data": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"}[kind]


def test_both_formats_hold_the_same_data(converted):
    a, b = (LeRobotReader(converted[f].out_dir) for f in ("v2.1", "v3"))
    for name in ("state", "action", "timestamp", "frame_index", "episode_index", "index", "task_index"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.tasks == b.tasks and a.episodes == b.episodes
    np.testing.assert_array_equal(a.image(17, "left_wrist"), b.image(17, "left_wrist"))


def _episode(n: int, task: str, value: float) -> EpisodeData:
    state = np.full((n, 7), value, np.float32)
    frames = ({"base": (k, np.full((8, 8, 3), k, np.uint8))} for k in range(n))
    return EpisodeData(task, state, state + 1, frames)


def test_v3_starts_a_new_file_at_the_size_limit_and_only_finalize_makes_it_readable(tmp_path):
    camera = {"base": {"shape": None, "topic": "t", "transport": "raw"}}
    features = lf.build_features([f"j{i}" for i in range(7)], camera)
    writer = open_writer("v3", tmp_path / "ds", 20, "ur5e", features, data_file_size_mb=1e-6)
    for k, task in enumerate(["a", "b", "a"]):
        writer.add_episode(_episode(5 + k, task, k))
    data = sorted((tmp_path / "ds" / "data").rglob("*.parquet"))
    assert [p.name for p in data] == ["file-000.parquet", "file-001.parquet", "file-002.parquet"]
    with pytest.raises(pa.ArrowInvalid):  # the open file has no footer yet
        pq.read_metadata(data[-1])
    writer.finalize()
    reader = LeRobotReader(tmp_path / "ds")
    assert reader.tasks == ["a", "b"] and reader.task_index.tolist() == [0] * 5 + [1] * 6 + [0] * 7
    assert [(e.start, e.stop) for e in reader.episodes] == [(0, 5), (5, 11), (11, 18)]
    episodes = pq.read_table(tmp_path / "ds/meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [e["data/file_index"] for e in episodes] == [0, 1, 2]
    assert reader.image(12, "base")[0, 0, 0] == 1


def test_a_failed_episode_leaves_nothing_behind(tmp_path):
    features = lf.build_features(["j"] * 7, {"base": {"shape": None, "topic": "t", "transport": "raw"}})
    writer = open_writer("v2.1", tmp_path / "ds", 20, "ur5e", features)
    writer.add_episode(_episode(4, "a", 0))
    bad = _episode(4, "b", 1)
    bad.frames = ({"base": (k, np.zeros((9, 8, 3), np.uint8))} for k in range(4))  # resolution changed
    with pytest.raises(ValueError, match=r"\[9, 8\] pixels, the dataset has \[8, 8\]"):
        writer.add_episode(bad)
    writer.add_episode(_episode(3, "c", 2))
    writer.finalize()
    reader = LeRobotReader(tmp_path / "ds")
    assert reader.tasks == ["a", "c"] and len(reader) == 7 and reader.num_episodes == 2
    assert sorted(p.name for p in (tmp_path / "ds").rglob("*.parquet")) == [
        "episode_000000.parquet", "episode_000001.parquet"]  # fmt: skip


def test_image_statistics_are_numpy_statistics_of_the_pixels():
    images = (np.random.default_rng(0).beta(2, 5, size=(9, 3, 6, 5)) * 255).astype(np.uint8)
    stats = lf.image_stats(images, quantiles=True)
    pixels = images.astype(np.float64).transpose(1, 0, 2, 3).reshape(3, -1)
    for name, fn in (("min", np.min), ("max", np.max), ("mean", np.mean), ("std", np.std)):
        np.testing.assert_allclose(stats[name].reshape(3), fn(pixels, axis=1) / 255, rtol=1e-12, atol=1e-15)
    for q in lf.V3_QUANTILES:
        np.testing.assert_allclose(stats[f"q{int(q * 100):02d}"].reshape(3), np.quantile(pixels, q, axis=1) / 255,
                                   atol=1e-12)
    assert stats["count"].tolist() == [9] and stats["mean"].shape == (3, 1, 1)
