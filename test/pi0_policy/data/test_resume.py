"""An interrupted conversion resumes from its finished episodes; episodes append to an existing dataset; the
progress bar counts frames per second."""

from __future__ import annotations

import numpy as np
import pytest

from pi0_policy.data import convert_jobs
from pi0_policy.data.convert import convert, main
from pi0_policy.data.reader import LeRobotReader
from pi0_policy.data.writer import LeRobotWriter


def test_an_interrupted_conversion_resumes_without_redoing_finished_episodes(bags_dir, converted_video, tmp_path,
                                                                              monkeypatch):
    out = tmp_path / "ds"
    add_staged = LeRobotWriter.add_staged

    def interrupted(self, folder):
        if self.episodes:  # the second episode: as if the machine went down
            raise KeyboardInterrupt
        return add_staged(self, folder)

    monkeypatch.setattr(LeRobotWriter, "add_staged", interrupted)
    with pytest.raises(KeyboardInterrupt):
        convert(bags_dir, out, "ur5e", "v3", progress=False, workers=1)
    monkeypatch.setattr(LeRobotWriter, "add_staged", add_staged)
    assert sorted(p.name for p in (out / ".pi0_stages").iterdir()) == ["ep0", "ep1", "settings.json"]

    with pytest.raises(FileExistsError, match="interrupted conversion; add --resume"):
        convert(bags_dir, out, "ur5e", "v3", progress=False)
    with pytest.raises(FileExistsError, match=r"other settings \(fps\)"):
        convert(bags_dir, out, "ur5e", "v3", fps=10, progress=False, resume=True)

    loaded = []
    read_streams = convert_jobs.read_streams
    monkeypatch.setattr(convert_jobs, "read_streams", lambda bag, *a: loaded.append(bag) or read_streams(bag, *a))
    result = convert(bags_dir, out, "ur5e", "v3", progress=False, workers=1, resume=True)
    assert [r.bag.rsplit("/", 1)[-1] for r in result.converted] == ["ep0", "ep1"]
    assert [b.rsplit("/", 1)[-1] for b in loaded] == ["ep2_truncated", "ep3_no_metadata"]  # only the unfinished
    assert not (out / ".pi0_stages").exists()
    resumed, direct = LeRobotReader(out), LeRobotReader(converted_video["v3"].out_dir)
    np.testing.assert_array_equal(resumed.state, direct.state)
    assert resumed.episodes == direct.episodes
    error = np.abs(resumed.image(13, "base").astype(int) - direct.image(13, "base").astype(int)).mean()
    assert error < 2.0


def test_the_progress_bar_counts_frames_per_second(bags_dir, tmp_path, capsys):
    assert main([str(bags_dir), str(tmp_path / "ds"), "--embodiment", "ur5e", "--workers", "2"]) == 0
    err = capsys.readouterr().err
    final = err.replace("\r", "\n").strip().splitlines()[-1]
    assert final.startswith("converting 4 episode(s): 19 frames [") and " frames/s, 4/4 episodes]" in final


@pytest.mark.parametrize("fmt", ["v2.1", "v3"])
def test_appending_episodes_gives_the_dataset_of_converting_them_together(bags_dir, converted_video, tmp_path, fmt):
    import json
    import shutil

    from pi0_policy.data.writer import AppendError

    for name in ("ep0", "ep1"):
        shutil.copytree(bags_dir / name, tmp_path / name / name)
    out = tmp_path / "ds"
    convert(tmp_path / "ep0", out, "ur5e", fmt, progress=False)
    with pytest.raises(FileExistsError, match="--append"):
        convert(tmp_path / "ep1", out, "ur5e", fmt, progress=False)
    with pytest.raises(AppendError, match="observation.images.base is video"):
        convert(tmp_path / "ep1", out, "ur5e", fmt, progress=False, video=False, append=True)
    result = convert(tmp_path / "ep1", out, "ur5e", fmt, progress=False, append=True)
    assert [r.episode_index for r in result.converted] == [1]
    appended, together = LeRobotReader(out), LeRobotReader(converted_video[fmt].out_dir)
    np.testing.assert_array_equal(appended.state, together.state)
    np.testing.assert_array_equal(appended.index, together.index)
    assert appended.episodes == together.episodes and appended.tasks == together.tasks
    for row in (0, 10, 11, 18):  # both episodes' frames decode (v3: the second from a file of its own)
        error = np.abs(appended.image(row, "left_wrist").astype(int) - together.image(row, "left_wrist")).mean()
        assert error < 2.0
    roots = (out, converted_video[fmt].out_dir)
    a, b = (json.loads((root / "norm_stats.json").read_text())["norm_stats"] for root in roots)
    np.testing.assert_allclose(a["state"]["mean"], b["state"]["mean"], rtol=1e-6)
    a, b = (json.loads((root / "meta/stats.json").read_text())["observation.state"] for root in roots)
    np.testing.assert_allclose(a["mean"], b["mean"], rtol=1e-6)
    meta = json.loads((out / "meta/pi0_ros.json").read_text())
    assert [e["bag"].rsplit("/", 1)[-1] for e in meta["episodes"]] == ["ep0", "ep1"]
    if fmt == "v3":
        assert sorted(p.name for p in (out / "videos/observation.images.base/chunk-000").iterdir()) == [
            "file-000.mp4", "file-001.mp4"]  # fmt: skip
