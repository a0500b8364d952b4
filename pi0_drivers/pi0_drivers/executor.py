"""The chunk executor's logic: which chunk to follow, what to command at each tick, when to ask for
the next chunk, and when to hold. The ROS node (executor_node.py) only feeds it messages and time.

States:
    disarmed  the node is inactive (a stack on hardware waits here): nothing at all is commanded until
              resume() arms it
    waiting   no chunk yet (after start, resume or reset): hold, ask for a chunk
    active    following a chunk
    holding   watchdog: the chunk ran out and no fresh one came, or the policy is gone: hold, zero the base
    paused    pause service, or the robot stopped following (tracking error): hold, ignore chunks
              until resume
    stopped   stop service: like paused, but the chunk history is dropped
    frozen    the robot's controller froze (UR speed scaling 0: program paused, protective stop):
              hold where the robot is; when it runs again, wait for a chunk observed after that
    estop     e-stop latched: hold and refuse everything until reset

Every command is limited from where the robot is: the first command after a start, a resume, a
freeze or a tracking fault starts at the measured position at rest, and every command then moves
within the joint limits, velocity limits (scaled) and acceleration limits of the embodiment. With no
joint state, or one older than max_state_age, nothing is commanded at all. Holds and e-stops slow
down within the acceleration limits.

Pure Python and numpy: no rclpy import.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from pi0_common.commands import MODE_ACTIVE, MODE_ESTOP, MODE_HOLD, ChunkRequestInfo, Command, first_non_finite
from pi0_common.embodiment import Embodiment
from pi0_drivers.chunking import Chunk, ChunkBlender, LatencyEstimator
from pi0_drivers.executor_config import RUNTIME_SETTABLE, ExecutorConfig, ExecutorStats
from pi0_drivers.safety import Limits, largest_jump, limit_motion, stop_motion

IGNORING_CHUNKS = ('disarmed', 'paused', 'stopped', 'frozen', 'estop')   # states that take no chunk, ask none
_EPS = 1e-6   # step-index tolerance: times are sums of float steps (0.05 * 19 is not exactly 0.95)


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
        self.state = 'disarmed' if config.hardware else 'waiting'
        self._base_idx = np.array(embodiment.base_indices(), dtype=int)
        self._joint_idx = np.array(embodiment.indices('joint'), dtype=int)
        self._measured: np.ndarray | None = None
        self._measured_stamp = -math.inf
        self._last_command: np.ndarray | None = None
        self._base_command = np.zeros(len(self._base_idx))
        self._last_rate = np.zeros(embodiment.valid_dims)   # per second, of the last command
        self._last_command_time: float | None = None
        self.blocked = ''                          # why nothing is commanded now ('' when commanding)
        self._executing_id: int | None = None    # chunk whose first command went out
        self._request_id = 0
        self._request_sent_at: float | None = None
        self._accept_after = -math.inf             # observations older than the last resume are stale
        self.policy_lost_since: float | None = None   # the policy's liveliness lapsed then (None: alive)

    # ---------------------------------------------------------------- inputs
    def update_measured(self, state: np.ndarray, stamp: float) -> None:
        """The robot's measured state (valid dims) and when it was measured (s, the clock of ``now``)."""
        if stamp >= self._measured_stamp:
            self._measured, self._measured_stamp = np.asarray(state, dtype=float), stamp

    def _fresh(self, now: float) -> str:
        """'' when the measured state is fresh, else why it is not."""
        if self._measured is None:
            return 'no joint state yet'
        age = now - self._measured_stamp
        if age > self.config.max_state_age:
            return f'joint states are {age:.3f} s old (max_state_age {self.config.max_state_age:g} s)'
        return ''

    def _rereference(self) -> None:
        """The next command starts where the robot is, at rest (no catch-up motion, ever). A base keeps
        the velocity it was last commanded, from which it ramps within its acceleration limits."""
        if self._last_command is not None:
            self._base_command = self._last_command[self._base_idx].copy()
        self._last_command = self._last_command_time = None
        self._last_rate = np.zeros(self.embodiment.valid_dims)

    @property
    def reference(self) -> np.ndarray | None:
        """Where the command currently is: the last command sent, else the measured state."""
        if self._last_command is not None:
            return self._last_command
        if self._measured is None:
            return None
        ref = self._measured.copy()
        ref[self._base_idx] = self._base_command    # base velocities are commands, not measurements
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
        if self.state in IGNORING_CHUNKS:
            return False, f'chunk {chunk_id} ignored: executor is {self.state}'
        stale = self._fresh(now)
        if stale:
            return False, f'chunk {chunk_id} refused: {stale}'
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
        if self.state not in ('estop', 'disarmed'):
            self.state = 'paused'

    def stop(self) -> None:
        if self.state not in ('estop', 'disarmed'):
            self.state = 'stopped'
            self.blender.clear()

    def disarm(self) -> None:
        """Nothing at all is commanded until resume() arms again (the node is inactive). A latched e-stop
        stays latched: only reset_estop clears it."""
        if self.state != 'estop':
            self.state = 'disarmed'
            self.blender.clear()

    def resume(self, now: float | None = None) -> bool:
        """Arm a disarmed executor, or leave paused/stopped; wait for a fresh chunk. False while the
        e-stop is latched.

        Chunks computed from observations taken before ``now`` are refused afterwards (the world may
        have changed meanwhile), and the next command starts at the measured position: a robot moved
        while the executor was paused (by hand, by a reset) is not pulled back to where it was.
        """
        if self.state == 'estop':
            return False
        if self.state in ('disarmed', 'paused', 'stopped'):
            self.blender.clear()
            self._request_sent_at = None
            self._rereference()
            if now is not None:
                self._accept_after = now
            self.state = 'waiting'
        return True

    def set_frozen(self, reason: str | None, now: float) -> None:
        """The robot's controller froze (reason) or runs again (None). While frozen: hold where the robot
        is, take no chunk; afterwards wait for a chunk observed after the controller ran again."""
        if reason and self.state not in ('frozen', 'estop', 'disarmed'):
            self.state = 'frozen'
            self.blender.clear()
            self._rereference()
            self.stats.freezes += 1
            self.stats.last_error = f'frozen: {reason}'
        elif not reason and self.state == 'frozen':
            self._rereference()
            self._accept_after = now
            self.state = 'waiting'

    def reconfigure(self, **changes) -> None:
        """Change numbers of a running executor (the node's run-time parameters); they apply from the next
        tick. Only RUNTIME_SETTABLE fields: the rate, horizon and hardware flag shape everything else.

        Raises:
            ValueError: an unknown or fixed field, or a value the config refuses; nothing changes then.
        """
        fixed = set(changes) - set(RUNTIME_SETTABLE)
        if fixed:
            raise ValueError(f'{", ".join(sorted(fixed))}: not settable while running '
                             f'(settable: {", ".join(RUNTIME_SETTABLE)})')
        config = replace(self.config, **changes)           # validates
        limits = Limits.from_embodiment(self.embodiment, config.velocity_scale, config.position_margin)
        blender_args = (config.switching, config.crossfade_steps, config.ensemble_decay)
        if blender_args != (self.config.switching, self.config.crossfade_steps, self.config.ensemble_decay):
            # The chunk in execution carries on under the new rule; the command limiter still bounds the
            # step from the last command, so a change of rule never makes a jump.
            current, self.blender = self.blender.current, ChunkBlender(*blender_args)
            if current is not None:
                self.blender.add(current, current.arrival)
        self.config, self.limits = config, limits

    def policy_lost(self, now: float, reason: str) -> None:
        """The policy is gone (its chunks' liveliness lapsed): the committed steps (the first executed_steps
        of the current chunk) still run, then hold; on hardware pause, so nothing moves until resume."""
        if self.policy_lost_since is None:
            self.policy_lost_since, self.stats.policy_losses = now, self.stats.policy_losses + 1
        self.stats.last_error = f'policy lost: {reason}'

    def policy_back(self) -> None:
        """A policy is alive again: ask it at once (a request sent while it was gone got no answer)."""
        if self.policy_lost_since is not None:
            self.policy_lost_since = self._request_sent_at = None

    def _policy_gone(self, now: float) -> bool:
        """True (holding, or paused on hardware) once the policy is lost and no committed step is left."""
        chunk, last_committed = self.blender.current, self.config.executed_steps - 1 + _EPS
        if self.policy_lost_since is None or self.state not in ('active', 'waiting', 'holding') or (
                self.state == 'active' and chunk is not None and chunk.step_index(now) <= last_committed):
            return False
        if self.config.hardware:
            self.state = 'paused'
            self.blender.clear()
            self.stats.last_error += '; paused: pi0/executor/resume to go on'
        elif self.state == 'active':
            self.state, self.stats.watchdog_holds = 'holding', self.stats.watchdog_holds + 1
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
        """The command issued at this tick (row i for now + i dt), or None when nothing may be commanded:
        disarmed, or no fresh measured state (``blocked`` says why)."""
        cfg = self.config
        self.stats.ticks += 1
        if self.state == 'disarmed':
            self.blocked = 'disarmed: pi0/executor/resume arms the stack'
            return None
        self.blocked = self._fresh(now)
        if self.blocked:
            return None
        # After a gap in the joint states the controller went on with the last segment it had; the
        # commands go on from where they were if the robot is still near them, and the tracking check
        # holds it where it is otherwise (re-referencing from a measurement that is up to max_state_age
        # old would command it back there).
        if self._tracking_fault() or self._policy_gone(now):
            return self._hold(now)
        chunk = self.blender.current
        if self.state == 'active' and chunk is not None:
            if chunk.step_index(now) > cfg.executed_steps - 1 + cfg.overrun_steps + _EPS:
                self.state = 'holding'
                self.stats.watchdog_holds += 1
            else:
                return self._follow(now, chunk)
        return self._hold(now)

    def _tracking_fault(self) -> bool:
        """True (and paused, re-referenced) when a joint's last command is further from the measured
        joint than max_tracking_error: the robot does not follow, so commands must not run on."""
        if self._last_command is None or not len(self._joint_idx) or self.state in ('frozen', 'estop'):
            return False
        error = np.abs(self._last_command[self._joint_idx] - self._measured[self._joint_idx])
        worst = int(np.argmax(error))
        if error[worst] <= self.config.max_tracking_error:
            return False
        if self.state in ('paused', 'stopped'):
            # Moved while paused (a simulation reset, a person): hold where it is now, do not pull it back.
            self._rereference()
            return True
        name = self.embodiment.dim_names[self._joint_idx[worst]]
        self.stats.tracking_faults += 1
        self.stats.last_error = (f'tracking error {error[worst]:.3f} rad on {name} (max_tracking_error '
                                 f'{self.config.max_tracking_error:g}): holding where the robot is; resume to go on')
        self.state = 'paused'
        self.blender.clear()
        self._rereference()
        return True

    def _follow(self, now: float, chunk: Chunk) -> Command:
        cfg = self.config
        rows = self.blender.targets(now, cfg.lookahead_points, cfg.dt)
        limited, rate = limit_motion(rows, self.reference, self._last_rate, self.limits, cfg.dt, self._elapsed(now))
        if self._executing_id != chunk.chunk_id:
            self._executing_id = chunk.chunk_id
            self.stats.chunks_executed += 1
            self.stats.steps_skipped += max(0, int(math.floor(chunk.step_index(now) + _EPS)))
        self._last_command, self._last_rate, self._last_command_time = limited[0].copy(), rate, now
        return Command(MODE_ACTIVE, now, cfg.dt, limited, chunk.chunk_id)

    def _elapsed(self, now: float) -> float:
        """Time since the last command, at most one period: a tick that comes early moves less, so the
        velocity limits hold in real time; a late one does not catch up."""
        if self._last_command_time is None:
            return self.config.dt
        return min(max(now - self._last_command_time, 1e-6), self.config.dt)

    def hold_now(self, now: float) -> Command | None:
        """The hold command of a pause, stop, freeze or e-stop, to send at once rather than at the next
        tick (so that the pause has reached the robot when the service returns). None when not holding
        or when nothing may be commanded."""
        if self.state not in ('paused', 'stopped', 'frozen', 'estop') or self._fresh(now):
            return None
        return self._hold(now)

    def _hold(self, now: float) -> Command | None:
        """Come to rest within the acceleration limits (arms stop where they can, bases ramp to zero):
        the rows are the way to rest, so a trajectory controller gets the whole ramp."""
        cfg = self.config
        rows, rate = stop_motion(self.reference, self._last_rate, self.limits, cfg.dt, cfg.lookahead_points,
                                 self._elapsed(now))
        self._last_command, self._last_rate, self._last_command_time = rows[0].copy(), rate, now
        mode = MODE_ESTOP if self.state == 'estop' else MODE_HOLD
        return Command(mode, now, cfg.dt, rows, 0)

    # ---------------------------------------------------------------- asking for chunks
    def want_request(self, now: float) -> bool:
        """True when the next chunk should be asked for now, so that it arrives before the executed
        part of the current one runs out (the latency estimate decides how early)."""
        cfg = self.config
        if self.state in IGNORING_CHUNKS:
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
            committed, _ = limit_motion(rows, ref, self._last_rate, self.limits, cfg.dt)
        return ChunkRequestInfo(self._request_id, start, cfg.dt, committed, delay, cfg.rtc_execution_horizon)
