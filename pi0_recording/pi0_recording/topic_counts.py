"""Per-topic accounting of one episode: messages received (and written), messages the middleware
reported lost, and messages that arrived late, for the STOP event.

Late means: the message's header stamp lies more than ``late_threshold_ns`` before its arrival (the
recorder's clock). That is the recorder's own backlog plus transport time, and it is only meaningful
when the publisher's clock and the recorder's agree (one machine, or synchronised clocks). Messages
without a header, or with a zero stamp, are never late.

Pure Python: the header stamp is read from the CDR bytes as they arrived.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

HEADER = 'std_msgs/msg/Header'
_STAMP = {0: struct.Struct('>iI'), 1: struct.Struct('<iI')}    # CDR encapsulation: 0 big-, 1 little-endian


def header_stamp_ns(data: bytes) -> int | None:
    """The header stamp of a serialized message whose first field is a std_msgs/Header (None: too
    short, or a zero stamp, which means the publisher did not set it)."""
    if len(data) < 12:
        return None
    sec, nanosec = _STAMP[data[1] & 1].unpack_from(data, 4)
    return sec * 1_000_000_000 + nanosec if (sec or nanosec) else None


@dataclass
class TopicCounts:
    received: int = 0
    lost: int = 0
    late: int = 0


class EpisodeCounts:
    """The counts of one episode, topic by topic, in the order topics were added.

    Args:
        late_threshold_ns: a message stamped more than this before it arrived counts as late; 0: never.
    """

    def __init__(self, topics: list[str], late_threshold_ns: int):
        self.late_threshold_ns = int(late_threshold_ns)
        self.topics: dict[str, TopicCounts] = {t: TopicCounts() for t in topics}

    def add_topic(self, topic: str) -> None:
        self.topics.setdefault(topic, TopicCounts())

    def received(self, topic: str, data: bytes, now_ns: int, stamped: bool) -> None:
        """One message written to the bag; stamped: its type starts with a std_msgs/Header."""
        counts = self.topics.setdefault(topic, TopicCounts())
        counts.received += 1
        if stamped and self.late_threshold_ns > 0:
            stamp = header_stamp_ns(data)
            if stamp is not None and now_ns - stamp > self.late_threshold_ns:
                counts.late += 1

    def lost(self, topic: str, count: int) -> None:
        """The middleware lost ``count`` more messages of a topic (a message-lost event's change)."""
        self.topics.setdefault(topic, TopicCounts()).lost += int(count)

    def rows(self) -> tuple[tuple[str, int, int, int], ...]:
        """(topic, received, lost, late) per topic."""
        return tuple((t, c.received, c.lost, c.late) for t, c in self.topics.items())

    def summary(self) -> str:
        """What went wrong, for the log ('' when nothing was lost or late)."""
        bad = [f'{t}: {c.lost} lost, {c.late} late' for t, c in self.topics.items() if c.lost or c.late]
        return '; '.join(bad)
