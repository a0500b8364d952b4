"""What the recorder reports on /diagnostics, as plain values: tools outside the process (a demo
collector, an operator's dashboard) read it to wait until every topic is recorded, or to see why
episodes are refused.

Pure Python: the node turns it into a diagnostic_msgs/DiagnosticStatus.
"""

from __future__ import annotations

from dataclasses import dataclass

from pi0_recording.episode_recorder import EpisodeRecorder

OK, WARN, ERROR = 0, 1, 2          # diagnostic_msgs/DiagnosticStatus levels


@dataclass(frozen=True)
class RecorderStatus:
    level: int
    message: str
    values: dict[str, str]          # the status KeyValues


def recorder_status(recorder: EpisodeRecorder, waiting: list[str]) -> RecorderStatus:
    """ERROR while free space is below the floor (episodes are refused), WARN while some wanted topic
    has no publisher yet, else OK.

    Args:
        waiting: wanted topics (resolved names) not subscribed yet.
    """
    index, disk = recorder.episode_index, recorder.disk
    if disk.low:
        level, message = ERROR, f'episodes refused: {disk.describe()}'
    elif waiting:
        level, message = WARN, f'waiting for a publisher on {len(waiting)} topic(s)'
    else:
        level, message = OK, 'recording every topic'
    if index is not None:
        message += f'; episode {index} running'
    return RecorderStatus(level, message, {
        'subscribed': ','.join(recorder.topics),
        'waiting_for_publisher': ','.join(waiting),
        'episode': '' if index is None else str(index),
        'episodes_recorded': str(recorder.episodes_recorded),
        'free_mb': '' if disk.last_free_mb is None else f'{disk.last_free_mb:.0f}',
        'output_dir': str(recorder.output_dir),
    })
