"""Decode one frame of a dataset video at a timestamp, as LeRobot's decoders pick it.

A row at time t (v3.0: the episode's ``from_timestamp`` plus the row's ``timestamp``) shows frame
round(t * fps) of the video; the decoded frame's own time must be within ``tolerance_s`` of t (LeRobot's
1e-4 s), else :class:`FrameTimestampError`. Decoding seeks to the keyframe at or before the frame and
decodes forward; a request just after the previous one goes on decoding without a seek, so reading an
episode in order decodes each frame once.

Open files are cached per process (a DataLoader worker opens its own after the fork), at most
``MAX_OPEN`` at a time.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from fractions import Fraction
from pathlib import Path

import numpy as np

from .video_encode import av

MAX_OPEN = 16
FORWARD_DECODE_LIMIT = 8  # decode forward rather than seek when the frame is at most this many ahead


class FrameTimestampError(ValueError):
    """No frame of the video is within the tolerance of the requested time."""


class VideoFile:
    """An open video, decoding frames by index."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._container = av.open(self.path)
        self._stream = self._container.streams.video[0]
        # One thread per file: a random read seeks and decodes one or two frames, which decoder threads only
        # slow down (parallelism comes from DataLoader workers).
        self._stream.thread_type = "NONE"
        self._stream.codec_context.thread_count = 1
        self.time_base = self._stream.time_base
        self._frames = None  # the running decode iterator
        self._last: tuple[int, np.ndarray] | None = None  # (pts, rgb) of the last decoded frame

    def frame_at(self, t: float, fps: int, tolerance_s: float) -> np.ndarray:
        """uint8 RGB [H, W, 3] of frame round(t * fps)."""
        index = round(t * fps)
        target = round(Fraction(index, fps) / self.time_base)
        if self._last is not None and self._last[0] == target:
            return self._last[1]
        ahead = self._last is not None and 0 < target - self._last[0] <= FORWARD_DECODE_LIMIT * (
            1 / (fps * self.time_base))  # fmt: skip
        if not ahead:
            self._container.seek(target, stream=self._stream, backward=True, any_frame=False)  # its keyframe
            self._frames = self._container.decode(self._stream)
        found = None
        for frame in self._frames:
            if frame.pts is None:
                continue
            if frame.pts >= target:
                found = frame
                break
        if found is None:
            self._frames = None
            self._last = None
            raise FrameTimestampError(f"{self.path}: no frame at or after {float(target * self.time_base):.6f} s "
                                      f"(requested {t:.6f} s)")  # fmt: skip
        found_t = float(found.pts * self.time_base)
        if abs(found_t - t) > tolerance_s:
            raise FrameTimestampError(f"{self.path}: the frame nearest {t:.6f} s is at {found_t:.6f} s "
                                      f"(tolerance {tolerance_s} s)")  # fmt: skip
        rgb = found.to_ndarray(format="rgb24")
        self._last = (found.pts, rgb)
        return rgb

    def close(self) -> None:
        """Close the file."""
        self._container.close()


class VideoCache:
    """Open :class:`VideoFile` objects by path, per process, least recently used closed first."""

    def __init__(self, max_open: int = MAX_OPEN):
        self.max_open = max_open
        self._pid = os.getpid()
        self._files: OrderedDict[str, VideoFile] = OrderedDict()

    def get(self, path: str | Path) -> VideoFile:
        """The open file for ``path``."""
        if os.getpid() != self._pid:  # forked: the parent's decoder state is not ours to use
            self._files = OrderedDict()
            self._pid = os.getpid()
        key = str(path)
        if key in self._files:
            self._files.move_to_end(key)
            return self._files[key]
        if not Path(key).is_file():
            raise FileNotFoundError(f"{key}: video file missing")
        video = VideoFile(key)
        self._files[key] = video
        while len(self._files) > self.max_open:
            _, old = self._files.popitem(last=False)
            old.close()
        return video

    def __getstate__(self) -> dict:  # a DataLoader pickles the dataset for spawned workers: open files stay
        return {"max_open": self.max_open}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["max_open"])
