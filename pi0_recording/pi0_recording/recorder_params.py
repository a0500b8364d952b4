"""The recorder node's parameters (every one declared with a description and checked at start) and
the output folder they name."""

from __future__ import annotations

import os
from pathlib import Path

from pi0_common.params import Param, ParameterError, non_negative, one_of, positive
from pi0_recording.naming import check_prefix

PARAMETERS = [
    Param('embodiment', 'ur5e', 'Embodiment name (a file in pi0_common/embodiments) or a YAML path: '
          'decides the recorded topics.'),
    Param('output_dir', '', 'Folder for the episode bags (created if missing). Required.',
          lambda v: None if v.strip() else 'required: the folder to write episode bags into'),
    Param('prefix', '', 'Bag folder name prefix; empty = the embodiment name.',
          lambda v: check_prefix(v) if v else None),
    Param('camera_transport', '', 'raw (sensor_msgs/Image) or compressed (CompressedImage on <topic>/compressed) '
          'for every camera; empty keeps the embodiment file.', one_of('', 'raw', 'compressed')),
    Param('compression', 'none', 'mcap chunk compression: none or zstd (smaller raw-image bags, more CPU).',
          one_of('none', 'zstd')),
    Param('disk_floor_mb', 1024.0, 'MiB: below this much free space the running episode is stopped cleanly '
          'and new ones are refused until space is back. May be changed at run time.', non_negative,
          read_only=False),
    Param('disk_check_period', 1.0, 'Seconds between free-space checks.', positive),
    Param('discovery_period', 0.5, 'Seconds between looks at the ROS graph for the topics to record.', positive),
    Param('queue_depth', 100, 'Subscription queue depth (messages per topic buffered while writing).', positive),
    Param('late_threshold', 0.1, 'Seconds between a message\'s header stamp and its arrival above which it counts '
          'as late (per topic in the STOP episode event); 0 counts none. Needs the publishers\' clocks to agree '
          'with the recorder\'s.', non_negative),
    Param('shutdown_drain', 0.5, 'Seconds to keep writing after SIGINT/SIGTERM, so that messages already on '
          'their way are in the bag before it is finished.', non_negative),
]
EXTRA_TOPICS = 'extra_topics'     # a string array, declared by type (an empty list default would be bytes)


def prepare_output_dir(value: str) -> Path:
    """The absolute output folder, created if needed.

    Raises:
        ParameterError: it cannot be created or written to.
    """
    path = Path(value).expanduser().absolute()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ParameterError(f"pi0_recorder: parameter 'output_dir' = {value!r}: cannot create it: {e}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ParameterError(f"pi0_recorder: parameter 'output_dir' = {value!r}: {path} is not writable")
    return path
