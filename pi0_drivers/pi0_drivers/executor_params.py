"""The chunk executor node's parameters: what they mean, which ones may change on a running node, and
how they become the core's ExecutorConfig.

Set at run time (`ros2 param set /pi0_chunk_executor velocity_scale 0.2`): the switching mode and its
numbers, the velocity scale (on hardware within hardware_velocity_limit), the watchdog and freshness
times and the refusal thresholds. They apply from the next tick (the switching mode to the chunk in
execution; the command limiter bounds every step, so a change never makes a jump). The rate, the
horizon and the hardware flag shape everything else and are fixed at start.

Pure Python: no rclpy import.
"""

from __future__ import annotations

from pi0_common.embodiment import Embodiment
from pi0_common.params import Param, in_range, non_negative, one_of, positive
from pi0_drivers.chunking import SWITCHING_MODES
from pi0_drivers.executor_config import RUNTIME_SETTABLE, ExecutorConfig

PARAMETERS = [
    Param('embodiment', 'ur5e', 'Embodiment name (a file in pi0_common/embodiments) or a YAML path.'),
    Param('rate_hz', 0.0, 'Control tick rate in Hz; 0 = the embodiment control rate.', non_negative),
    Param('executed_steps', 0, 'Steps of each chunk executed before switching (open-loop horizon); '
          '0 = the embodiment value.', non_negative),
    Param('switching', 'replace', 'Chunk switching: replace, crossfade, rtc (real-time chunking) or '
          'ensemble (temporal ensembling).', one_of(*SWITCHING_MODES), read_only=False),
    Param('crossfade_steps', 5, 'Length of a crossfade in steps.', positive, read_only=False),
    Param('ensemble_decay', 0.1, 'Temporal ensembling weight decay m in exp(-m i).', non_negative, read_only=False),
    Param('overrun_steps', 8, 'Steps a chunk may be followed past executed_steps while the next one is '
          'late; then the watchdog holds.', non_negative, read_only=False),
    Param('request_margin', 0.05, 'Seconds earlier than the latency estimate to ask for the next chunk.',
          non_negative, read_only=False),
    Param('request_timeout', 5.0, 'Seconds after which an unanswered chunk request is repeated.', positive,
          read_only=False),
    Param('lookahead_points', 10, 'Points per command (trajectory drivers send them as one segment).',
          positive),
    Param('velocity_scale', 1.0, 'Fraction of the joint velocity limits the executor may use (on hardware at '
          'most hardware_velocity_limit).', in_range(0.01, 1.0), read_only=False),
    Param('position_margin', 0.0, 'Radians kept away from every joint limit.', non_negative),
    Param('max_joint_jump', 0.35, 'Radians: a chunk starting further than this from the command is refused.',
          positive, read_only=False),
    Param('max_gripper_jump', 1.0, 'Same for grippers, in strokes (1.0: never refuse on the gripper).', positive,
          read_only=False),
    Param('max_future', 0.5, 'Seconds: chunks stamped further in the future are refused.', non_negative,
          read_only=False),
    Param('rtc_execution_horizon', 10, 'Real-time chunking: committed steps the policy inpaints over.', positive),
    Param('status_rate_hz', 2.0, 'Rate of pi0/executor_status and /diagnostics.', positive),
    Param('start_paused', False, 'Start paused: nothing moves until pi0/executor/resume is called.'),
    Param('hardware', True, 'A real robot: start disarmed (nothing at all is commanded until pi0/executor/resume '
          'arms the stack) and cap velocity_scale at hardware_velocity_limit. The launch files set false with '
          'sim:=true; a node started any other way is taken to drive hardware.'),
    Param('hardware_velocity_limit', 0.25, 'On hardware, velocity_scale is capped at this fraction of the joint '
          'velocity limits; raise it on purpose (at start) to go faster.', in_range(0.01, 1.0)),
    Param('max_tracking_error', 0.3, 'Radians between the last command and a measured joint beyond which the '
          'robot is taken not to follow: hold where it is and pause (resume re-references).', positive,
          read_only=False),
    Param('max_state_age', 0.0, 'Seconds: with older joint states nothing is commanded; 0 = the embodiment value.',
          non_negative, read_only=False),
    Param('deadman_timeout', 0.0, 'Seconds: with a positive value an operator heartbeat (std_msgs/Bool true on '
          'pi0/deadman) must arrive this often, or the executor pauses; 0 = no deadman.', non_negative,
          read_only=False),
]
RUNTIME_PARAMETERS = tuple(p.name for p in PARAMETERS if not p.read_only)


def config_from(p, emb: Embodiment) -> ExecutorConfig:
    """The core's config from the node's parameter values (declare_all's namespace)."""
    velocity_scale = min(p.velocity_scale, p.hardware_velocity_limit) if p.hardware else p.velocity_scale
    return ExecutorConfig(
        executed_steps=p.executed_steps or emb.executed_steps, rate_hz=p.rate_hz or emb.control_rate_hz,
        switching=p.switching, crossfade_steps=p.crossfade_steps, ensemble_decay=p.ensemble_decay,
        overrun_steps=p.overrun_steps, request_margin=p.request_margin, request_timeout=p.request_timeout,
        lookahead_points=p.lookahead_points, velocity_scale=velocity_scale,
        position_margin=p.position_margin, max_joint_jump=p.max_joint_jump,
        max_gripper_jump=p.max_gripper_jump, max_future=p.max_future,
        rtc_execution_horizon=p.rtc_execution_horizon, hardware=p.hardware,
        max_tracking_error=p.max_tracking_error, max_state_age=p.max_state_age or emb.max_state_age)


def config_changes(changed: dict, p, emb: Embodiment) -> dict:
    """The core reconfigure() arguments for changed node parameters {name: value} (already checked
    against their ranges); parameters the core does not hold (deadman_timeout) are left out.

    Raises:
        ValueError: velocity_scale above hardware_velocity_limit on hardware.
    """
    out = {k: v for k, v in changed.items() if k in RUNTIME_SETTABLE}
    if 'velocity_scale' in out and p.hardware and out['velocity_scale'] > p.hardware_velocity_limit:
        raise ValueError(f'velocity_scale = {out["velocity_scale"]:g}: above hardware_velocity_limit '
                         f'{p.hardware_velocity_limit:g} on a real robot (set that at start to go faster)')
    if out.get('max_state_age') == 0.0:
        out['max_state_age'] = emb.max_state_age
    return out
