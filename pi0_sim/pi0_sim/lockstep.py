"""Lock-step simulated time: when the simulator may advance its clock by one control tick.

In lock-step the simulator owns time (it publishes /clock; every other node of the stack runs with
use_sim_time), so that what a run collects or scores does not depend on how loaded the machine is. Its
tick is the control period, and time advances one tick at a time, only once the stack has caught up:

- A chunk request is outstanding (the executor asked the policy on pi0/chunk_request, and no chunk with
  that request id has come on pi0/action_chunk): time stands still until the chunk arrives, so inference
  takes no simulated time, whatever it takes on this machine. This is how gym-style evaluations step
  (the environment waits for the policy). Only once the policy is up (the lifecycle manager reports the
  stack ready, or a chunk has come): before that it may still be loading (the executor asks as soon as the
  policy subscribes), and such a request goes unanswered; the executor asks again after its timeout.
- The robot is being commanded (a unified command came on pi0/command, from the executor or a teleop
  source, both ticking on the simulated clock): the tick waits for the command stamped with the current
  time and, once a driver has been heard (pi0/driver/sent, published after it passed a command to the
  robot's interfaces), for the driver to have passed that command on. So every tick's command reaches the
  simulated controllers before time moves on. (Counting the robot's own command messages would not do:
  drivers send a hold once, a gripper goal only when it moves, and one tick's message can arrive after
  the next tick's command.)
- Nothing commands the robot (before arming, a stack without a controller): time runs at real-time
  pace, so start-up and idle stacks behave as with a wall clock.

A wait gives up after ``command_timeout`` (the commands stopped: disarmed, stale joint states) or
``policy_timeout`` (a request the policy refused or lost) seconds of wall time; the tick then goes ahead,
``poll`` says so (for a warning), and commands are not waited for again until the next one comes.

Pure Python: no rclpy import.
"""

from __future__ import annotations

from dataclasses import dataclass

_EPS = 1e-6     # s: stamps are sums of float ticks
COMMAND, SENT = 'a command for this tick', 'the driver to pass this tick\'s command on'
POLICY_WAIT = 'the policy (a chunk request is outstanding)'


@dataclass(frozen=True)
class Decision:
    advance: bool
    waiting_for: str = ''     # why not ('' when advancing, or when idle until the next real-time tick)
    gave_up: str = ''         # a wait that timed out: the tick went ahead anyway


class LockstepClock:
    """Simulated time in ticks of ``tick`` seconds, advanced when ``poll`` says so.

    Args:
        tick: simulated seconds per step: the control period of whatever commands the robot.
        start: simulated time at the start (s).
        command_timeout: wall seconds a tick waits for its command.
        policy_timeout: wall seconds time stands still for a chunk request.
    """

    def __init__(self, tick: float, start: float = 0.0, command_timeout: float = 1.0, policy_timeout: float = 60.0):
        if not tick > 0.0:
            raise ValueError(f'tick must be > 0 s, got {tick}')
        self.tick = float(tick)
        self.time = float(start)
        self.command_timeout = float(command_timeout)
        self.policy_timeout = float(policy_timeout)
        self.ticks = 0
        self._expecting = False                 # commands come every tick (until a wait for one gives up)
        self._commanded_at: float | None = None  # stamp of the newest command
        self._sent_at: float | None = None      # stamp of the newest command a driver passed on (None: no driver)
        self._pending: dict[int, float] = {}    # request id -> wall time it was seen
        self._policy_answers = False            # a chunk has come: the policy is up
        self._advanced_wall: float | None = None
        self._waiting: tuple[str, float] | None = None     # what this tick waits for, since when (wall)

    # ---------------------------------------------------------------- what the stack did
    def command(self, stamp: float) -> None:
        """A unified command (pi0/command) for the tick at ``stamp`` (simulated seconds)."""
        if self._commanded_at is None or stamp > self._commanded_at:
            self._commanded_at = float(stamp)
        self._expecting = True

    def sent(self, stamp: float) -> None:
        """A driver passed the command of ``stamp`` to the robot's interfaces."""
        if self._sent_at is None or stamp > self._sent_at:
            self._sent_at = float(stamp)

    def request(self, request_id: int, wall_now: float) -> None:
        """The executor asked for a chunk."""
        if request_id and self._policy_answers:
            self._pending.setdefault(int(request_id), wall_now)

    def policy_up(self) -> None:
        """The policy answers requests from now on (the stack is ready)."""
        self._policy_answers = True

    def chunk(self, request_id: int) -> None:
        """A chunk arrived: it answers its request and every earlier one (the executor asks one at a time,
        so an older request still without an answer was dropped)."""
        self._policy_answers = True
        for rid in [r for r in self._pending if r <= request_id]:
            del self._pending[rid]

    # ---------------------------------------------------------------- the decision
    def poll(self, wall_now: float) -> Decision:
        """Whether to advance by one tick now (then ``time`` has moved on)."""
        if self._advanced_wall is None:
            self._advanced_wall = wall_now
        gave_up = ''
        if self._pending:
            if wall_now - min(self._pending.values()) < self.policy_timeout:
                return self._wait(POLICY_WAIT, wall_now)
            gave_up = f'no chunk for request(s) {sorted(self._pending)} after {self.policy_timeout:g} s'
            self._pending.clear()
        if self._expecting:
            what = self._awaited()
            if what:
                decision = self._wait(what, wall_now)
                waited = wall_now - self._waiting[1]
                if waited < self.command_timeout:
                    return decision
                gave_up = gave_up or f'waited {waited:.2f} s for {what}'
                if what == SENT:
                    self._sent_at = None        # the driver went quiet (inactive): not waited for until it is back
                else:
                    self._expecting = False
        elif not gave_up and wall_now - self._advanced_wall < self.tick:
            return Decision(False)              # nothing commands the robot: real-time pace
        self.time += self.tick
        self.ticks += 1
        self._advanced_wall, self._waiting = wall_now, None
        return Decision(True, gave_up=gave_up)

    def _awaited(self) -> str:
        """What the current tick still waits for ('' = nothing)."""
        if self._commanded_at is None or self._commanded_at < self.time - _EPS:
            return COMMAND
        if self._sent_at is not None and self._sent_at < self.time - _EPS:
            return SENT
        return ''

    def _wait(self, what: str, wall_now: float) -> Decision:
        if self._waiting is None or self._waiting[0] != what:
            self._waiting = (what, wall_now)
        return Decision(False, waiting_for=what)

    @property
    def pending_requests(self) -> int:
        return len(self._pending)
