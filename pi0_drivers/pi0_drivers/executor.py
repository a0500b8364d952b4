"""The chunk executor's logic: which chunk to follow, what to command at each tick, when to ask for
the next chunk, and when to hold. The ROS node (executor_node.py) only feeds it messages and time.

States:
    waiting   no chunk yet (after start, resume or reset): hold, ask for a chunk
    active    following a chunk
    holding   watchdog: the chunk ran out and no fresh one came; hold the arms, zero the base
    paused    pause service: hold, ignore chunks until resume
    stopped   stop service: like paused, but the chunk history is dropped
    estop     e-stop latched: hold and refuse everything until reset

Pure Python and numpy: no rclpy import.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pi0_common.commands import MODE_ACTIVE, MODE_ESTOP, MODE_HOLD, ChunkRequestInfo, Command, first_non_finite
from pi0_common.embodiment import Embodiment
from pi0_drivers.chunking import SWITCHING_MODES, Chunk, ChunkBlender, LatencyEstimator
from pi0_drivers.safety import Limits, largest_jump, limit_trajectory

_EPS = 1e-6   # step-index tolerance: times are sums of float steps (0.05 * 19 is not exactly 0.95)


@dataclass(frozen=True)
class ExecutorConfig:
    """Every number of the executor's behaviour (DESIGN.md section 7)."""

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

    def __post_init__(self):
        if self.switching not in SWITCHING_MODES:
            raise ValueError(f'switching: expected one of {", ".join(SWITCHING_MODES)}, got {self.switching!r}')
        for name in ('executed_steps', 'crossfade_steps', 'lookahead_points', 'rtc_execution_horizon'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')
        for name in ('rate_hz', 'request_timeout', 'max_joint_jump', 'max_gripper_jump'):
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
    requests: int = 0
    last_error: str = ''
    rejected_reasons: list[str] = field(default_factory=list)


class ChunkExecutor:
    """Turns chunks into per-tick commands for one embodiment. Not thread-safe: call from one thread."""

    def __init__(self, embodiment: Embodiment, config: ExecutorConfig):
        if config.executed_steps > embodiment.horizon:
            raise ValueError(f'executed_steps {config.executed_steps} exceeds the horizon {embodiment.horizon}')
        self.embodiment = embodiment
        self.config = config
        self.limits = Limits.from_embodiment(embodiment, config.velocity_scale, config.position_margin)
        self.blender = ChunkBlender(config.switching, config.crossfade_steps, config.ensemble_decay)
        self.latency = LatencyEstimator()
        self.stats = ExecutorStats()
        self.state = 'waiting'
        self._base_idx = np.array(embodiment.base_indices(), dtype=int)
        self._measured: np.ndarray | None = None
        self._last_command: np.ndarray | None = None
        self._last_command_time: float | None = None
        self._executing_id: int | None = None    # chunk whose first command went out
        self._request_id = 0
        self._request_sent_at: float | None = None
        self._accept_after = -math.inf             # observations older than the last resume are stale

    # ---------------------------------------------------------------- inputs
    def update_measured(self, state: np.ndarray) -> None:
        """The robot's measured state (valid dims). Used to hold before the first command."""
        self._measured = np.asarray(state, dtype=float)

    @property
    def reference(self) -> np.ndarray | None:
        """Where the command currently is: the last command sent, else the measured state."""
        if self._last_command is not None:
            return self._last_command
        if self._measured is None:
            return None
        ref = self._measured.copy()
        ref[self._base_idx] = 0.0
        return ref

    def offer_chunk(self, chunk_id: int, stamp: float, dt: float, actions: np.ndarray, now: float,
                    request_id: int = 0) -> tuple[bool, str]:
        """Validate a chunk and, if it is acceptable, make it the one to follow.

        Returns:
            (accepted, reason). A refused chunk changes nothing about what is executed.
        """
        self.stats.chunks_received += 1
        ok, reason = self._validate(chunk_id, stamp, dt, actions, now)
        if request_id and request_id == self._request_id:
            self._request_sent_at = None          # answered, even if refused: ask again next tick
        if not ok:
            self.stats.chunks_rejected += 1
            self.stats.last_error = reason
            return False, reason
        self.latency.add(now - stamp)
        self.blender.add(Chunk(chunk_id, stamp, dt, np.asarray(actions, dtype=float), now), now)
        self.stats.chunks_accepted += 1
        if self.state in ('waiting', 'holding'):
            self.state = 'active'
        return True, 'accepted'

    def _validate(self, chunk_id: int, stamp: float, dt: float, actions: np.ndarray,
                  now: float) -> tuple[bool, str]:
        cfg, emb = self.config, self.embodiment
        if self.state in ('paused', 'stopped', 'estop'):
            return False, f'chunk {chunk_id} ignored: executor is {self.state}'
        actions = np.asarray(actions)
        if actions.ndim != 2 or actions.shape[1] != emb.valid_dims:
            return False, (f'chunk {chunk_id} refused: actions have shape {actions.shape}, expected '
                           f'(H, {emb.valid_dims}) for {emb.name}')
        if actions.shape[0] < cfg.executed_steps:
            return False, (f'chunk {chunk_id} refused: {actions.shape[0]} steps, fewer than the '
                           f'{cfg.executed_steps} executed per chunk')
        if not (math.isfinite(dt) and dt > 0):
            return False, f'chunk {chunk_id} refused: dt {dt} is not a positive number'
        if not math.isfinite(stamp):
            return False, f'chunk {chunk_id} refused: stamp is not finite'
        bad = first_non_finite(actions)
        if bad is not None:
            return False, (f'chunk {chunk_id} refused: non-finite value at step {bad[0]}, '
                           f'dim {bad[1]} ({emb.dim_names[bad[1]]})')
        if stamp > now + cfg.max_future:
            return False, (f'chunk {chunk_id} refused: stamped {stamp - now:.3f} s in the future '
                           f'(clocks of policy and executor disagree?)')
        last_step = cfg.executed_steps - 1 + cfg.overrun_steps
        if now > stamp + last_step * dt + _EPS:
            return False, (f'chunk {chunk_id} refused: stale, its observation is {now - stamp:.3f} s old '
                           f'and every step it may execute is past')
        if stamp < self._accept_after:
            return False, (f'chunk {chunk_id} refused: its observation was taken before the executor resumed '
                           f'({self._accept_after - stamp:.3f} s earlier)')
        current = self.blender.current
        if current is not None and stamp <= current.stamp:
            return False, (f'chunk {chunk_id} refused: its observation ({stamp:.3f}) is not newer than '
                           f'the chunk being executed ({current.stamp:.3f})')
        ref = self.reference
        if ref is not None:
            first = Chunk(chunk_id, stamp, dt, actions, now).at(now)
            jump = largest_jump(first, ref, self.limits, cfg.max_joint_jump, cfg.max_gripper_jump)
            if jump is not None:
                name, size, allowed = jump
                return False, (f'chunk {chunk_id} refused: it starts {size:.3f} away from the commanded '
                               f'{name} (at most {allowed:.3f} allowed)')
        return True, ''

    # ---------------------------------------------------------------- control
    def pause(self) -> None:
        if self.state != 'estop':
            self.state = 'paused'

    def stop(self) -> None:
        if self.state != 'estop':
            self.state = 'stopped'
            self.blender.clear()

    def resume(self, now: float | None = None) -> bool:
        """Leave paused/stopped; wait for a fresh chunk. False while the e-stop is latched.

        Chunks computed from observations taken before ``now`` are refused afterwards (the world may
        have changed while paused), and the hold reference is measured anew: a robot moved while the
        executor was paused (by hand, by a reset) is not pulled back to where it was.
        """
        if self.state == 'estop':
            return False
        if self.state in ('paused', 'stopped'):
            self.blender.clear()
            self._request_sent_at = None
            if self._measured is not None:
                self._last_command = self._last_command_time = None
            if now is not None:
                self._accept_after = now
            self.state = 'waiting'
        return True

    def estop(self) -> None:
        self.state = 'estop'
        self.blender.clear()

    def reset_estop(self) -> bool:
        if self.state != 'estop':
            return False
        self.state = 'stopped'
        return True

    # ---------------------------------------------------------------- per tick
    def tick(self, now: float) -> Command | None:
        """The command issued at this tick (row i for now + i dt), or None when nothing is known about
        the robot yet (no command, no measured state): then nothing may be sent."""
        cfg = self.config
        self.stats.ticks += 1
        chunk = self.blender.current
        if self.state == 'active' and chunk is not None:
            if chunk.step_index(now) > cfg.executed_steps - 1 + cfg.overrun_steps + _EPS:
                self.state = 'holding'
                self.stats.watchdog_holds += 1
            else:
                return self._follow(now, chunk)
        return self._hold(now)

    def _follow(self, now: float, chunk: Chunk) -> Command:
        cfg = self.config
        rows = self.blender.targets(now, cfg.lookahead_points, cfg.dt)
        start = self.reference if self.reference is not None else rows[0]
        limited = limit_trajectory(rows, start, self.limits, cfg.dt, self._elapsed(now))
        if self._executing_id != chunk.chunk_id:
            self._executing_id = chunk.chunk_id
            self.stats.chunks_executed += 1
            self.stats.steps_skipped += max(0, int(math.floor(chunk.step_index(now) + _EPS)))
        self._last_command, self._last_command_time = limited[0].copy(), now
        return Command(MODE_ACTIVE, now, cfg.dt, limited, chunk.chunk_id)

    def _elapsed(self, now: float) -> float:
        """Time since the last command, at most one period: a tick that comes early moves less, so the
        velocity limits hold in real time; a late one does not catch up."""
        if self._last_command_time is None:
            return self.config.dt
        return min(max(now - self._last_command_time, 0.0), self.config.dt)

    def hold_now(self, now: float) -> Command | None:
        """The hold command of a pause, stop or e-stop, to send at once rather than at the next tick (so
        that the pause has reached the robot when the service returns). None when not holding."""
        if self.state not in ('paused', 'stopped', 'estop'):
            return None
        return self._hold(now)

    def _hold(self, now: float) -> Command | None:
        cfg = self.config
        ref = self.reference
        if ref is None:
            return None
        target = ref.copy()
        target[self._base_idx] = 0.0              # bases stop; the rate limit sets the deceleration
        held = limit_trajectory(target[None, :], ref, self.limits, cfg.dt, self._elapsed(now))[0]
        self._last_command, self._last_command_time = held, now
        mode = MODE_ESTOP if self.state == 'estop' else MODE_HOLD
        return Command(mode, now, cfg.dt, held[None, :], 0)

    # ---------------------------------------------------------------- asking for chunks
    def want_request(self, now: float) -> bool:
        """True when the next chunk should be asked for now, so that it arrives before the executed
        part of the current one runs out (the latency estimate decides how early)."""
        cfg = self.config
        if self.state in ('paused', 'stopped', 'estop'):
            return False
        if self._request_sent_at is not None and now - self._request_sent_at < cfg.request_timeout:
            return False
        chunk = self.blender.current
        if chunk is None or self.state != 'active':
            return True
        latency = self.latency.estimate
        if latency is None:
            return True                           # no warm measurement yet: ask at once
        runs_out = chunk.step_time(cfg.executed_steps)
        return now >= runs_out - latency - cfg.request_margin

    def make_request(self, now: float) -> ChunkRequestInfo:
        """Register a request and describe it, with the committed actions for RTC when enabled."""
        cfg = self.config
        self._request_id += 1
        self._request_sent_at = now
        self.stats.requests += 1
        latency = self.latency.estimate or 0.0
        delay = int(math.ceil(latency / cfg.dt - _EPS))
        committed = np.zeros((0, self.embodiment.valid_dims))
        start = now + cfg.dt                      # this tick's command has gone out already
        if cfg.switching == 'rtc' and self.state == 'active' and self.blender.current is not None:
            count = delay + cfg.rtc_execution_horizon
            rows = self.blender.targets(start, count, cfg.dt)
            ref = self.reference if self.reference is not None else rows[0]
            committed = limit_trajectory(rows, ref, self.limits, cfg.dt)
        return ChunkRequestInfo(self._request_id, start, cfg.dt, committed, delay, cfg.rtc_execution_horizon)
