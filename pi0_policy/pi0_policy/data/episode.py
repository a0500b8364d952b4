"""One bag -> one aligned episode: frame times, state, action and which camera frame each row shows.

The frame clock starts at the episode's START and ticks at the dataset fps. Frames before every input
(each joint, the base, the command and each camera) has delivered its first sample are dropped; the
remaining rows are numbered from 0, so timestamps start at 0 and step exactly 1/fps.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pi0_common.embodiment import Embodiment

from .align import NS, frame_times, index_at_or_before, interpolate, sample_age, sample_and_hold
from .bag_reader import BagError, EpisodeStreams, iter_images, read_streams
from .stage import EpisodeData

STALE_WARNING_S = 0.5  # an input whose newest sample is older than this at some frame is reported


@dataclass
class AlignedEpisode:
    """The aligned rows of one episode (images are decoded later, while writing).

    Attributes:
        streams: what pass 1 read.
        fps: frames per second.
        times_ns: int64 [N] alignment time of each row.
        state, action: float32 [N, valid_dims].
        image_index: slot -> int [N], the camera frame (index into ``streams.images[slot].stamps``) of each row.
        dropped: frames dropped at the start while inputs were still arriving.
        warnings: things worth telling the user (stale inputs, dropped commands, ...).
    """

    streams: EpisodeStreams
    fps: int
    times_ns: np.ndarray
    state: np.ndarray
    action: np.ndarray
    image_index: dict[str, np.ndarray]
    dropped: int
    warnings: list[str] = field(default_factory=list)

    @property
    def length(self) -> int:
        """Number of rows."""
        return len(self.times_ns)

    def to_episode_data(self) -> EpisodeData:
        """The writer's input; camera frames are decoded from the bag as the writer consumes them."""
        return EpisodeData(self.streams.task, self.state, self.action, self.iter_frames())

    def iter_frames(self) -> Iterator[dict[str, tuple[int, np.ndarray]]]:
        """Rows in order, each slot -> (camera frame index, uint8 RGB), decoding each camera frame once.

        Frames are decoded in bag order and a row is emitted as soon as all of its images are decoded, so
        only the frames between the slowest and the fastest camera are held in memory.
        """
        n = self.length
        if not self.image_index:
            yield from ({} for _ in range(n))
            return
        needed = {slot: set(np.unique(idx).tolist()) for slot, idx in self.image_index.items()}
        decoded: dict[str, dict[int, np.ndarray]] = {slot: {} for slot in self.image_index}
        row = 0
        for slot, index, rgb in iter_images(self.streams.path, self.streams, needed):
            decoded[slot][index] = rgb
            while row < n and all(int(idx[row]) in decoded[s] for s, idx in self.image_index.items()):
                yield {s: (int(idx[row]), decoded[s][int(idx[row])]) for s, idx in self.image_index.items()}
                row += 1
                if row < n:  # forget frames no later row can show (indices only grow with time)
                    for s, idx in self.image_index.items():
                        keep = int(idx[row])
                        for old in [i for i in decoded[s] if i < keep]:
                            del decoded[s][old]
        if row < n:
            raise BagError(f"{self.streams.path}: camera frames of rows {row}..{n - 1} not found on the second read")


def align_episode(streams: EpisodeStreams, fps: int) -> AlignedEpisode:
    """Resample an episode's streams onto the frame clock.

    Raises:
        BagError: no frame at which every input has arrived (naming the late inputs).
    """
    times = frame_times(streams.start_ns, streams.stop_ns, fps)
    state = np.stack([interpolate(series, times) for series in streams.state], axis=1) if len(times) else None
    if state is None:
        raise BagError(f"{streams.path}: STOP comes before START")
    action, cmd_idx = sample_and_hold(streams.commands, times)
    image_index = {slot: index_at_or_before(s.stamps, times) for slot, s in streams.images.items()}
    ready = np.isfinite(state).all(axis=1) & (cmd_idx >= 0) & np.isfinite(action).all(axis=1)
    for idx in image_index.values():
        ready &= idx >= 0
    if not ready.any():
        raise BagError(f"{streams.path}: no frame between START and STOP at which every input has arrived; "
                       f"first samples: {_first_samples(streams)}")  # fmt: skip
    # Inputs only accumulate, so once every input has arrived every later frame is complete.
    first = int(np.argmax(ready))
    times = times[first:]
    episode = AlignedEpisode(
        streams=streams, fps=fps, times_ns=times, state=state[first:].astype(np.float32),
        action=action[first:].astype(np.float32), image_index={s: i[first:] for s, i in image_index.items()},
        dropped=first, warnings=list(streams.warnings),
    )  # fmt: skip
    episode.warnings += _stale_inputs(streams, times)
    return episode


def _first_samples(streams: EpisodeStreams) -> str:
    """'input: +x.xxx s' relative to START for every input, for error messages."""
    firsts = {name: s.first for name, s in zip(streams.dim_names, streams.state, strict=True)}
    firsts["command"] = streams.commands.first
    firsts.update({f"camera {slot}": int(s.stamps[0]) for slot, s in streams.images.items()})
    return ", ".join(f"{k} {'never' if v is None else f'{(v - streams.start_ns) / NS:+.3f} s'}"
                     for k, v in firsts.items())


def _stale_inputs(streams: EpisodeStreams, times: np.ndarray) -> list[str]:
    """Warnings for inputs whose newest sample was older than STALE_WARNING_S at some frame."""
    # One line for all joint/base dims: they usually come in the same messages and go stale together.
    ages = {"state": np.nanmax(np.stack([sample_age(s, times) for s in streams.state]), axis=0)}
    ages["command"] = sample_age(streams.commands, times)
    for slot, s in streams.images.items():
        ages[f"camera {slot}"] = (times - s.stamps[index_at_or_before(s.stamps, times)]) / NS
    out = []
    for name, age in ages.items():
        worst = float(np.nanmax(age)) if len(age) else 0.0
        if worst > STALE_WARNING_S:
            out.append(f"{name}: newest sample up to {worst:.2f} s old ({int((age > STALE_WARNING_S).sum())} frames)")
    return out


def load_episode(path: str | Path, embodiment: Embodiment, fps: int, cameras: tuple[str, ...] | None = None,
                 namespace: str | None = None) -> AlignedEpisode:
    """Read (pass 1) and align one episode bag."""
    return align_episode(read_streams(path, embodiment, cameras, namespace), fps)
