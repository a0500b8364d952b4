"""One terminal shared by the nodes' forwarded output and a tool's live status line.

Node processes print from reader threads while a tool redraws its status line with '\\r'; without a
common lock the two interleave mid-line. Every write goes through Console: a log line first wipes the
status line, then the status line is drawn again under it.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

CLEAR_LINE = '\r\033[K'


class Console:
    def __init__(self, stream: TextIO | None = None, live: bool | None = None):
        self.stream = stream if stream is not None else sys.stdout
        # A live status line only makes sense on a terminal; in a log file it becomes one line per update.
        self.live = self.stream.isatty() if live is None else live
        self.lock = threading.Lock()
        self._status = ''

    def line(self, text: str) -> None:
        """Print a full line (node output, a tool's message) above the status line."""
        with self.lock:
            if self.live and self._status:
                self.stream.write(CLEAR_LINE)
            self.stream.write(text + '\n')
            if self.live and self._status:
                self.stream.write(self._status)
            self.stream.flush()

    def status(self, text: str) -> None:
        """Replace the live status line (on a terminal), or print it as a line (elsewhere)."""
        with self.lock:
            if self.live:
                self._status = text
                self.stream.write(CLEAR_LINE + text)
            else:
                self.stream.write(text + '\n')
            self.stream.flush()

    def end_status(self) -> None:
        """Leave the last status line on screen and continue below it."""
        with self.lock:
            if self.live and self._status:
                self.stream.write('\n')
                self.stream.flush()
            self._status = ''
