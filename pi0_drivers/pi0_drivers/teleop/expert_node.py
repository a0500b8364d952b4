"""The scripted expert as a node: publishes its commands on pi0/command at the control rate, like the
teleop node does for a human.

It reads the SimWorld it is given (privileged), so it runs in the process that simulates the robot
(the driver node with sim:=true), sharing that simulation's lock. pi0_bringup.collect_demos composes
the two with the recorder.
"""

from __future__ import annotations

import threading

from pi0_msgs.msg import ExecutorCommand
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node

from pi0_common.embodiment import Embodiment
from pi0_common.messages import command_to_msg
from pi0_common.qos import CHUNK_QOS
from pi0_sim.expert import ExpertStyle, ScriptedExpert


class ScriptedExpertNode(Node):
    """Args:
        world: the simulated world (``RobotDriverNode.sim.world``).
        world_lock: the lock the simulation holds while it steps (``RobotDriverNode.sim.lock``).
        embodiment: the simulated robot.
        seed: seeds the per-episode motion styles.
    """

    def __init__(self, world, world_lock: threading.Lock, embodiment: Embodiment, seed: int | None = None,
                 lookahead: int = 10, **kwargs):
        super().__init__('pi0_scripted_expert', **kwargs)
        self.world, self.world_lock, self.embodiment = world, world_lock, embodiment
        self.expert = ScriptedExpert(embodiment, lookahead=lookahead, seed=seed)
        self._lock = threading.Lock()
        self._active = False
        self._reached_since: float | None = None
        self.pub = self.create_publisher(ExecutorCommand, 'pi0/command', CHUNK_QOS)
        self.create_timer(embodiment.dt, self._on_tick, callback_group=MutuallyExclusiveCallbackGroup())

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def begin(self, instruction: str) -> ExpertStyle:
        """Plan an episode from the world as it is now and start commanding it.

        Raises:
            PlanningError: the instruction names no single block, or it is out of reach.
        """
        with self._lock, self.world_lock:
            style = self.expert.begin(self.world, instruction, self.now())
            self._active, self._reached_since = True, None
        return style

    def end(self) -> None:
        """Stop commanding (the robot's controllers hold the last target)."""
        with self._lock:
            self._active = False

    def reached_for(self) -> float:
        """Seconds the named block has been reached without interruption (0 when it is not)."""
        with self._lock:
            return 0.0 if self._reached_since is None else max(0.0, self.now() - self._reached_since)

    def _on_tick(self) -> None:
        with self._lock:
            if not self._active:
                return
            now = self.now()
            with self.world_lock:
                command = self.expert.command(now)
                reached = self.expert.reached(self.world)
            if not reached:
                self._reached_since = None
            elif self._reached_since is None:
                self._reached_since = now
        self.pub.publish(command_to_msg(command, self.embodiment))
