"""Camera frames -> MP4 video with PyAV, laid out and described as LeRobot does.

The codecs come from PyAV's own PyPI wheel (av 18.1.0, which bundles FFmpeg 8.1.2): it encodes H.264 with
``libx264``, HEVC with ``libx265`` and AV1 with ``libsvtav1`` (decoded by its ``libdav1d``); it has no
``libopenh264`` and no ``libaom-av1``. The default is H.264 (``libx264``, its default preset) with LeRobot's
other settings: yuv420p, a keyframe every 2 frames (``g=2``, so any frame decodes after at most one other),
crf 30. LeRobot's own default, AV1 with SVT-AV1 (``--vcodec libsvtav1``, preset 12), is available but not
the default: run as root (as here and in CI), SVT-AV1 creates its threads (about 50 for one 640x480
encoder) with real-time priority 99 (SCHED_FIFO), which on 2 cores starves everything else (a control loop
too) and once hung a conversion; at crf 30 its files were also larger than H.264's (its crf scale differs).

Size: a keyframe every 2 frames makes half the frames intra-coded, and lossless PNG (the image datasets) is
very good at the simulator's flat-shaded frames (about 6 KB per 640x480 frame), so there the video dataset
is about a fifth of the image dataset. Sensor noise changes that: the same frames with Gaussian noise of
2 grey levels take about 500 KB per PNG and the video 0.3 % of it (crf 30 smooths the noise away).
Longer GOPs shrink the video (``--gop``), but every random read then decodes up to ``g - 1`` more frames
(benchmarks/README.md measures both).

Every video has a constant frame rate from t=0: frame k of an episode has pts k in a 1/fps time base, so it
is shown at k/fps, the row's ``timestamp``. A camera slower than the dataset repeats frames; nothing is
dropped or timed from the camera's own stamps.

v3.0 packs several episodes into one file. :class:`VideoAppender` copies an episode's packets into the open
file with their timestamps shifted by the frames already there (no re-encoding), so the episode plays from
``from_timestamp`` = frames before it / fps to ``to_timestamp`` = from + its frames / fps.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

# SVT-AV1 prints its whole configuration to stderr per encoder unless told to log errors only.
os.environ.setdefault("SVT_LOG", "1")

import av  # noqa: E402

CODECS = {"libsvtav1": "AV1 (SVT-AV1)", "h264": "H.264 (libx264)", "hevc": "HEVC (libx265)"}
ENCODERS = {"libsvtav1": "libsvtav1", "h264": "libx264", "hevc": "libx265", "av1": "libsvtav1"}


def drop_realtime_priority() -> None:
    """Put every thread of this process that runs under a real-time scheduler back to the normal one.

    SVT-AV1 run as root switches the thread that calls it, and its own worker pool, to SCHED_FIFO priority 99,
    and leaves them there: every thread the process starts afterwards inherits it (DDS threads included), and
    on 2 cores a few busy real-time threads starve everything else until the machine livelocks. Encoding
    needs no real-time priority, so it is undone after every call into that encoder.
    """
    realtime = (getattr(os, "SCHED_FIFO", None), getattr(os, "SCHED_RR", None))
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:  # not Linux: no such scheduler switch to undo
        return
    for tid in map(int, tids):
        try:
            if os.sched_getscheduler(tid) in realtime:
                os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
        except OSError:  # the thread ended meanwhile
            pass


class VideoError(ValueError):
    """A frame that cannot go into the video (odd size, changed size) or a codec PyAV does not have."""


@dataclass(frozen=True)
class VideoSettings:
    """Encoder settings (LeRobot's VideoEncoderConfig fields, with its defaults)."""

    vcodec: str = "h264"
    pix_fmt: str = "yuv420p"
    g: int | None = 2
    crf: int | None = 30
    preset: int | str | None = None  # SVT-AV1: 12 (LeRobot's) when None; x264/x265: their own default
    fast_decode: int = 0
    threads: int = 0  # encoder threads; 0 lets the codec choose
    extra_options: dict = field(default_factory=dict)

    def __post_init__(self):
        vcodec = "libsvtav1" if self.vcodec == "av1" else self.vcodec
        object.__setattr__(self, "vcodec", vcodec)
        if vcodec not in CODECS:
            raise VideoError(f"video codec {self.vcodec!r}: choose one of {sorted(CODECS)}")
        try:
            av.codec.Codec(ENCODERS[vcodec], "w")
        except Exception:  # noqa: BLE001 - PyAV's UnknownCodecError moved between releases
            raise VideoError(f"this PyAV build has no {ENCODERS[vcodec]} encoder") from None
        if vcodec == "libsvtav1" and self.preset is None:
            object.__setattr__(self, "preset", 12)

    def options(self) -> dict[str, str]:
        """FFmpeg codec options, as LeRobot passes them."""
        opts = {}
        if self.g is not None:
            opts["g"] = str(self.g)
        if self.crf is not None:
            opts["crf"] = str(self.crf)
        if self.preset is not None:
            opts["preset"] = str(self.preset)
        if self.fast_decode:
            opts.update({"svtav1-params": f"fast-decode={self.fast_decode}"} if self.vcodec == "libsvtav1"
                        else {"tune": "fastdecode"})  # fmt: skip
        if self.threads:
            opts["threads"] = str(self.threads)
        opts.update({k: str(v) for k, v in self.extra_options.items()})
        return opts

    def info_fields(self) -> dict:
        """The encoder fields LeRobot >= 0.4 records in a video feature's info (``video.g`` ...)."""
        fields = asdict(self)
        fields.pop("threads")
        fields.pop("vcodec")
        fields.pop("pix_fmt")
        fields["video_backend"] = "pyav"
        return {f"video.{k}": v for k, v in fields.items()}


class EpisodeVideoEncoder:
    """One camera's frames of one episode into an MP4 file, frame k at k/fps."""

    def __init__(self, path: str | Path, fps: int, settings: VideoSettings):
        self.path, self.fps, self.settings = Path(path), int(fps), settings
        self.frames = 0
        self._container = None
        self._stream = None
        self._shape: tuple[int, int] | None = None
        self._time_base = Fraction(1, self.fps)

    def _open(self, height: int, width: int) -> None:
        if height % 2 or width % 2:
            raise VideoError(f"{width}x{height} frames: yuv420p video needs an even width and height "
                             "(convert with images instead)")  # fmt: skip
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self.path), "w")
        stream = self._container.add_stream(ENCODERS[self.settings.vcodec], rate=self.fps,
                                            options=self.settings.options())
        stream.width, stream.height, stream.pix_fmt = width, height, self.settings.pix_fmt
        stream.codec_context.time_base = self._time_base
        self._stream, self._shape = stream, (height, width)

    def write(self, rgb: np.ndarray) -> None:
        """Append one uint8 RGB [H, W, 3] frame."""
        if self._container is None:
            self._open(rgb.shape[0], rgb.shape[1])
        elif rgb.shape[:2] != self._shape:
            raise VideoError(f"frame {self.frames}: {list(rgb.shape[:2])} pixels, the video has {list(self._shape)}")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts, frame.time_base = self.frames, self._time_base
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        if self.settings.vcodec == "libsvtav1":
            drop_realtime_priority()
        self.frames += 1

    def close(self) -> int:
        """Flush the encoder and close the file; returns the number of frames."""
        if self._container is not None:
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
            self._container = None
            if self.settings.vcodec == "libsvtav1":
                drop_realtime_priority()
        return self.frames

    def abort(self) -> None:
        """Close without caring about the file (it is deleted)."""
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # noqa: BLE001 - the file is thrown away
                pass
            self._container = None
        self.path.unlink(missing_ok=True)


class VideoAppender:
    """A v3.0 video file that episodes are appended to by copying packets; open until :meth:`close`."""

    def __init__(self, path: str | Path, fps: int):
        self.path, self.fps = Path(path), int(fps)
        self.frames = 0  # frames already in the file
        self._container = None
        self._stream = None

    @property
    def size_bytes(self) -> int:
        """Bytes written so far (the file is incomplete until :meth:`close`)."""
        return self.path.stat().st_size if self.path.exists() else 0

    def append(self, episode_video: str | Path, frames: int) -> tuple[float, float]:
        """Copy an episode's video to the end; returns its (from_timestamp, to_timestamp) in this file."""
        start = self.frames
        with av.open(str(episode_video)) as source:
            src = source.streams.video[0]
            if self._container is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._container = av.open(str(self.path), "w")
                self._stream = self._container.add_stream_from_template(template=src, opaque=True)
                self._stream.time_base = src.time_base
            offset = Fraction(start, self.fps)
            for packet in source.demux(src):
                if packet.dts is None:  # the demuxer's flush packet
                    continue
                shift = round(offset / packet.time_base)
                packet.pts, packet.dts = packet.pts + shift, packet.dts + shift
                packet.stream = self._stream
                self._container.mux(packet)
        self.frames += frames
        return start / self.fps, self.frames / self.fps

    def close(self) -> None:
        """Write the file's index; idempotent."""
        if self._container is not None:
            self._container.close()
            self._container = None


def video_info(path: str | Path, settings: VideoSettings, version: str) -> dict:
    """The ``info`` of a video feature as LeRobot writes it after probing the first video file: v2.1
    (LeRobot 0.3.x) ``video.*`` stream fields with ``video.is_depth_map``; v3.0 (LeRobot >= 0.4) adds the
    encoder settings and a top-level ``is_depth_map``."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        info = {
            "video.height": stream.height, "video.width": stream.width, "video.codec": stream.codec.canonical_name,
            "video.pix_fmt": stream.pix_fmt,
        }  # fmt: skip
        if version == "v2.1":
            info["video.is_depth_map"] = False
        info["video.fps"] = int(stream.base_rate)
        info["video.channels"] = 3
        info["has_audio"] = bool(container.streams.audio)
    if version != "v2.1":
        info.update(settings.info_fields())
        info["is_depth_map"] = False
    return info
