"""Episode bags written once per session, and the datasets converted from them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pi0_policy.data.convert import convert

from .bagmaker import Ur5eEpisode

# Two good episodes (different tasks, cameras over both transports and three raw encodings' paths), a
# truncated one and one whose metadata.yaml is missing.
GOOD = {
    "ep0": Ur5eEpisode(),
    "ep1": Ur5eEpisode(task="stack the blocks", index=1, duration=0.45, base_encoding="rgb8", wrist_transport="raw",
                       command_start=0.031, wrist_start=0.052),
}


@pytest.fixture(scope="session")
def bags_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bags")
    for name, episode in GOOD.items():
        episode.write(root / name)
    shutil.copytree(root / "ep0", root / "ep2_truncated")
    mcap = next((root / "ep2_truncated").glob("*.mcap"))
    os.truncate(mcap, mcap.stat().st_size // 2)
    shutil.copytree(root / "ep1", root / "ep3_no_metadata")
    (root / "ep3_no_metadata" / "metadata.yaml").unlink()
    return root


@pytest.fixture(scope="session")
def converted(bags_dir, tmp_path_factory) -> dict:
    """{"v2.1": result, "v3": result} of converting the same bags in both formats, cameras as PNG images
    (lossless: the tests compare pixels exactly)."""
    out = tmp_path_factory.mktemp("datasets")
    return {fmt: convert(bags_dir, out / fmt, "ur5e", fmt, progress=False, video=False, workers=1)
            for fmt in ("v2.1", "v3")}


@pytest.fixture(scope="session")
def converted_video(bags_dir, tmp_path_factory) -> dict:
    """The same bags converted with the defaults (cameras as H.264 video), v2.1 in two worker processes."""
    out = tmp_path_factory.mktemp("video_datasets")
    return {fmt: convert(bags_dir, out / fmt, "ur5e", fmt, progress=False, workers=2 if fmt == "v2.1" else 1)
            for fmt in ("v2.1", "v3")}
