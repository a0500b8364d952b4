"""One episode's bag: a rosbags Writer (rosbag2 version 8, mcap) fed with serialized messages.

Version 8 because Humble's ``ros2 bag play`` reads offered_qos_profiles as a YAML string (version 9
writes a list, which Humble cannot parse); Jazzy and later read both. Messages are written as the
CDR bytes that arrived, stamped with their receive time (the log time, as ``ros2 bag record`` does).

Thread-safe (one lock per bag): the recorder node's callbacks run on one executor thread, but an
episode may also be finished from another (main() at shutdown, an in-process user).
Pure Python: no rclpy import.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from rosbags.interfaces import Connection, Qos
from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer, WriterError

from pi0_recording.naming import BagPathError
from pi0_recording.typestore import TypeRegistry

BAG_VERSION = 8


class BagClosedError(RuntimeError):
    """The bag was closed (or never opened); nothing can be written to it."""


class EpisodeBag:
    """An open episode bag.

    Args:
        path: the bag folder; it must not exist (a bag is never overwritten).
        types: message definitions for the connections.
        compression: 'none' or 'zstd' (mcap chunk compression: smaller raw images, still indexed
            and playable; costs CPU while recording).

    Raises:
        BagPathError: the path exists, or its folder cannot be created.
    """

    def __init__(self, path: Path, types: TypeRegistry, compression: str = 'none'):
        if compression not in ('none', 'zstd'):
            raise ValueError(f"compression must be 'none' or 'zstd', got {compression!r}")
        self.path = Path(path)
        self.types = types
        self._lock = threading.Lock()
        if self.path.exists():
            raise BagPathError(f'{self.path} exists already; refusing to overwrite a bag')
        self._writer: Writer | None = Writer(self.path, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
        if compression == 'zstd':
            self._writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
        try:
            self._writer.open()
        except (WriterError, OSError) as e:
            raise BagPathError(f'cannot create bag {self.path}: {e}') from e
        self._connections: dict[str, Connection] = {}
        self.counts: dict[str, int] = {}
        self.bytes_written = 0
        self.opened_at = time.monotonic()

    @property
    def is_open(self) -> bool:
        return self._writer is not None

    def has_topic(self, topic: str) -> bool:
        return topic in self._connections

    def add_topic(self, topic: str, msgtype: str, offered_qos: list[Qos]) -> None:
        """Declare a topic (once; later calls are ignored). A topic with no message still shows in
        the metadata, with count 0, which tells a reader it was expected but silent.

        Raises:
            UnknownTypeError: no definition for msgtype.
        """
        with self._lock:
            if self._writer is None:
                raise BagClosedError(f'{self.path} is closed')
            if topic in self._connections:
                return
            msgdef, rihs01 = self.types.definition(msgtype)
            self._connections[topic] = self._writer.add_connection(
                topic, msgtype, msgdef=msgdef, rihs01=rihs01, offered_qos_profiles=list(offered_qos))
            self.counts[topic] = 0

    def write(self, topic: str, log_time_ns: int, data: bytes) -> None:
        """Append one serialized message of a declared topic.

        Raises:
            BagClosedError: the bag is closed.
            KeyError: the topic was not declared.
            OSError: the disk refused the write.
        """
        with self._lock:
            if self._writer is None:
                raise BagClosedError(f'{self.path} is closed')
            self._writer.write(self._connections[topic], log_time_ns, data)
            self.counts[topic] += 1
            self.bytes_written += len(data)

    def set_custom_data(self, values: dict[str, str]) -> None:
        """Key/value pairs for metadata.yaml custom_data (written at close)."""
        with self._lock:
            if self._writer is None:
                raise BagClosedError(f'{self.path} is closed')
            for key, value in values.items():
                self._writer.set_custom_data(key, str(value))

    def close(self) -> None:
        """Finish the mcap (summary and index) and write metadata.yaml. Idempotent.

        Raises:
            OSError: the disk refused the summary or metadata.yaml; the storage is aborted then,
                leaving an mcap without summary (``mcap recover`` can still read its chunks).
        """
        with self._lock:
            writer, self._writer = self._writer, None
            if writer is not None:
                try:
                    writer.close()
                except BaseException:
                    writer.abort()
                    raise

    def abort(self) -> None:
        """Close without the index or metadata.yaml. Idempotent."""
        with self._lock:
            writer, self._writer = self._writer, None
            if writer is not None:
                writer.abort()

    @property
    def message_count(self) -> int:
        return sum(self.counts.values())
