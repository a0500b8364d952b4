"""The policy node's parameters: what they mean, their ranges and choices, and which ones may change on a
running node (instruction, max_state_age, max_image_age: from the next inference). ``with_timing``: the
embodiment as the executor runs it, when a checkpoint was trained at another rate.

Pure Python: no rclpy import.
"""

from __future__ import annotations

from dataclasses import replace

from pi0_common.params import Param, non_negative, one_of, positive

PARAMETERS = [
    Param('embodiment', 'ur5e', 'Embodiment name (a file in pi0_common/embodiments) or a YAML path.'),
    Param('checkpoint', 'default', 'Checkpoint folder (openpi or LeRobot π₀, or one saved by pi0_ros); '
          '"default" = the embedded default policy; "random:<config>" = random weights (plumbing only).'),
    Param('asset_id', '', 'Norm-stats asset in the checkpoint (assets/<id>/norm_stats.json); empty = the '
          "embodiment's norm_stats_asset."),
    Param('conventions', '', 'Checkpoint conventions: a preset (pi0_aloha_towel, pi0_droid, ...), a '
          'pi0_conventions.yaml, "auto" (the checkpoint\'s own file or LeRobot config); empty = pi0_ros\'s.'),
    Param('backend', 'local', 'local: run the model here; openpi: ask a remote openpi-protocol server.',
          one_of('local', 'openpi')),
    Param('server', '', 'host:port of the remote server (backend openpi).'),
    Param('server_timeout', 2.0, 'Seconds to wait for a remote reply; then nothing is published.', positive),
    Param('server_layout', 'embodiment', 'What the remote server takes: embodiment (pi0_policy.serve), '
          'aloha or droid (openpi\'s example layouts).', one_of('embodiment', 'aloha', 'droid')),
    Param('rate_hz', 0.0, "The executor's control rate, when it is not the embodiment's (a checkpoint trained at "
          'another rate; the launch argument conventions sets both nodes); 0 = the embodiment value.', non_negative),
    Param('executed_steps', 0, "The executor's executed steps per chunk; 0 = the embodiment value.", non_negative),
    Param('device', 'cpu', 'Torch device: cpu, cuda, cuda:1, ...'),
    Param('dtype', 'float32', 'Model dtype: float32 or bfloat16.', one_of('float32', 'bfloat16')),
    Param('num_threads', 0, 'Torch CPU threads; 0 = torch default.', non_negative),
    Param('instruction', '', 'Language instruction; settable at run time (ros2 param set), and by topic, service '
          'and action (the latest of them counts).', read_only=False),
    Param('trigger', 'request', 'request: infer when the executor asks; continuous: infer back to back.',
          one_of('request', 'continuous')),
    Param('cameras', '', 'Comma-separated camera slots to use; empty = every camera of the embodiment. A '
          'camera left out is masked; one listed must deliver fresh images.'),
    Param('camera_transport', '', 'raw or compressed for every camera; empty = the embodiment file.',
          one_of('', 'raw', 'compressed')),
    Param('max_state_age', 0.25, 'Seconds: older joint states block inference.', positive, read_only=False),
    Param('max_image_age', 0.5, 'Seconds: older camera frames block inference.', positive, read_only=False),
    Param('seed', -1, 'Noise seed for reproducible chunks; -1 = random.'),
    Param('warmup', True, 'Run one inference on dummy inputs before going active (the first is cold).'),
    Param('hardware', True, 'A real robot: a checkpoint with random weights or trained in simulation only (the '
          'embedded default) is refused unless allow_simulation_policy is true. The launch files set false with '
          'sim:=true; a node started any other way is taken to drive hardware.'),
    Param('allow_simulation_policy', False, 'On hardware, run a random or simulation-only checkpoint anyway.'),
]


def with_timing(emb, rate_hz: float, executed_steps: int):
    """The embodiment as the executor runs it: its rate and executed steps may differ from the file's."""
    return replace(emb, control_rate_hz=rate_hz or emb.control_rate_hz,
                   executed_steps=executed_steps or emb.executed_steps)
