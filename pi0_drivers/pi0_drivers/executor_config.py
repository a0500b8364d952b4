"""The numbers of the chunk executor's behaviour, and what it counts.

Pure Python: no rclpy import.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pi0_drivers.chunking import SWITCHING_MODES

# What a running executor may change (ChunkExecutor.reconfigure); the rest is fixed at start.
RUNTIME_SETTABLE = ('switching', 'crossfade_steps', 'ensemble_decay', 'overrun_steps', 'request_margin',
                    'request_timeout', 'velocity_scale', 'max_joint_jump', 'max_gripper_jump', 'max_future',
                    'max_tracking_error', 'max_state_age')


@dataclass(frozen=True)
class ExecutorConfig:
    """Every number of the executor's behaviour."""

    executed_steps: int                 # open-loop horizon: steps of a chunk executed before the next
    rate_hz: float                      # tick rate, the embodiment's control rate
    switching: str = 'replace'          # see chunking.SWITCHING_MODES
    crossfade_steps: int = 5
    ensemble_decay: float = 0.1
    overrun_steps: int = 8              # keep following a chunk this many steps past executed_steps
                                        # while the next one is late, then hold (watchdog)
    request_margin: float = 0.05        # s, ask for the next chunk this much earlier than needed
    request_timeout: float = 5.0        # s, ask again if a request got no answer
    lookahead_points: int = 10          # rows per command (trajectory drivers use them)
    velocity_scale: float = 1.0         # fraction of the joint velocity limits allowed
    position_margin: float = 0.0        # rad kept away from the joint limits
    max_joint_jump: float = 0.35        # rad, refuse a chunk that starts further than this away
    max_gripper_jump: float = 1.0
    max_future: float = 0.5             # s, refuse chunks stamped further in the future (clock skew)
    rtc_execution_horizon: int = 10     # steps of committed actions sent for real-time chunking
    hardware: bool = False              # start disarmed: nothing is commanded until resume() arms
    max_tracking_error: float = 0.3     # rad between the last command and the measured joint: beyond,
                                        # the robot is not following (frozen, blocked): hold and pause
    max_state_age: float = 0.2          # s: with older joint states nothing is commanded

    def __post_init__(self):
        if self.switching not in SWITCHING_MODES:
            raise ValueError(f'switching: expected one of {", ".join(SWITCHING_MODES)}, got {self.switching!r}')
        for name in ('executed_steps', 'crossfade_steps', 'lookahead_points', 'rtc_execution_horizon'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')
        for name in ('rate_hz', 'request_timeout', 'max_joint_jump', 'max_gripper_jump', 'max_tracking_error',
                     'max_state_age'):
            if not getattr(self, name) > 0:
                raise ValueError(f'{name} must be positive, got {getattr(self, name)}')
        for name in ('overrun_steps', 'request_margin', 'max_future', 'position_margin', 'ensemble_decay'):
            if getattr(self, name) < 0:
                raise ValueError(f'{name} must be >= 0, got {getattr(self, name)}')

    @property
    def dt(self) -> float:
        return 1.0 / self.rate_hz


@dataclass
class ExecutorStats:
    chunks_received: int = 0
    chunks_accepted: int = 0
    chunks_rejected: int = 0
    chunks_executed: int = 0
    ticks: int = 0
    steps_skipped: int = 0
    watchdog_holds: int = 0
    tracking_faults: int = 0
    freezes: int = 0
    policy_losses: int = 0              # times the policy's liveliness lapsed
    requests: int = 0
    last_error: str = ''
    rejected_reasons: list[str] = field(default_factory=list)
