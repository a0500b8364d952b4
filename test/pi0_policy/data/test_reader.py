"""The reader refuses datasets whose files break what training relies on, naming the file and field;
and the norm stats written beside the data are numpy's statistics of it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pi0_policy.data.reader import DatasetError, LeRobotReader
from pi0_policy.normalize import load_norm_stats


@pytest.fixture
def v21(converted, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(converted["v2.1"].out_dir, root, ignore=shutil.ignore_patterns(".arrow_cache"))
    return root


def _rewrite(path, column: str, fn) -> None:
    table = pq.read_table(path)
    i = table.schema.get_field_index(column)
    table = table.set_column(i, pa.field(column, fn(table.column(column)).type), fn(table.column(column)))
    pq.write_table(table, path)


def test_float64_state_under_a_float32_declaration_is_refused(v21):
    path = v21 / "data/chunk-000/episode_000001.parquet"
    _rewrite(path, "observation.state", lambda c: pa.array(c.to_pylist(), pa.list_(pa.float64(), 7)))
    with pytest.raises(DatasetError, match=r"episode_000001.parquet: column 'observation.state' is stored as"):
        LeRobotReader(v21)


def test_timestamps_off_the_frame_clock_are_refused(v21):
    path = v21 / "data/chunk-000/episode_000000.parquet"
    _rewrite(path, "timestamp", lambda c: pa.array((np.asarray(c) * 1.01).astype(np.float32)))
    with pytest.raises(DatasetError, match="episode 0: timestamps are off frame_index/fps"):
        LeRobotReader(v21)


def test_rows_out_of_index_order_are_refused(v21):
    path = v21 / "data/chunk-000/episode_000000.parquet"
    _rewrite(path, "index", lambda c: pa.array(np.asarray(c)[::-1].copy()))
    with pytest.raises(DatasetError, match="rows must be ordered by index"):
        LeRobotReader(v21)


def test_v3_tables_must_be_ordered_by_their_index(converted, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(converted["v3"].out_dir, root, ignore=shutil.ignore_patterns(".arrow_cache"))
    tasks = pq.read_table(root / "meta/tasks.parquet")
    pq.write_table(tasks.take([1, 0]), root / "meta/tasks.parquet")
    with pytest.raises(DatasetError, match="tasks.parquet: row order must equal task_index"):
        LeRobotReader(root)


def test_norm_stats_are_numpy_statistics_of_the_written_data(converted):
    for result in converted.values():
        reader = LeRobotReader(result.out_dir)
        stats = load_norm_stats(result.out_dir / "norm_stats.json")
        raw = json.loads((result.out_dir / "norm_stats.json").read_text())
        assert set(raw["norm_stats"]) == {"state", "actions"}  # openpi's keys
        for key, values in (("state", reader.state), ("actions", reader.action)):
            x = values.astype(np.float64)
            np.testing.assert_allclose(stats[key].mean, x.mean(0), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(stats[key].std, x.std(0), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(stats[key].q01, np.quantile(x, 0.01, axis=0), atol=1e-12)
            np.testing.assert_allclose(stats[key].q99, np.quantile(x, 0.99, axis=0), atol=1e-12)
        # LeRobot's stats.json pools the episode statistics: the same numbers over the whole dataset.
        lerobot = json.loads((result.out_dir / "meta/stats.json").read_text())["observation.state"]
        np.testing.assert_allclose(lerobot["mean"], reader.state.mean(0), rtol=1e-6)
        np.testing.assert_allclose(lerobot["std"], reader.state.std(0), rtol=1e-5, atol=1e-7)
        assert lerobot["count"] == [len(reader)]
