"""Franka Research 3 on franka_ros2: the arm on a JointTrajectoryController, the hand through
franka_gripper's discrete actions.

Arm   trajectory_msgs/JointTrajectory to fr3_arm_controller/joint_trajectory (the JTC of
      franka_fr3_moveit_config), one short segment per command exactly as for UR arms
      (controllers.TrajectorySender). libfranka wants motion that is smooth at 1 kHz: the controller
      interpolates, the executor keeps the targets within the velocity limits.
Hand  franka_gripper (node franka_gripper) takes slow, discrete goals, not a 20 Hz stream. The unified
      gripper value is thresholded with hysteresis: above gripper_close_threshold it closes, below
      gripper_open_threshold it opens, in between nothing changes; exactly one goal per transition.
        open   franka_msgs/action/Move {width: GripperSpec.command_open (0.08 m), speed: gripper_speed}
        close  franka_msgs/action/Grasp {width: the middle of the stroke, epsilon inner = outer =
               grasp_epsilon, speed: gripper_speed, force: grasp_force}. The fingers close until they
               meet the object; width +- epsilon only decides whether franka_gripper reports success
               (with 0.04 +- 0.04 m any object counts, so a grasp is never reported failed because
               the object was not the size the policy could not tell us).
      A transition that happens while the action server is not up is sent as soon as it is.
Hold and timeout send nothing new: the controller and the hand keep their last goal.
State  the arm's joint_state_topic is published here from franka_ros2's own topics (franka_state.py): the
      arm joints from interface.arm_state_topic, the fingers from franka_gripper/joint_states.

franka_msgs comes with franka_ros2; where it is not installed, make setup builds its interface
definitions (see vendor.py).
"""

from __future__ import annotations

from pi0_common.commands import Command
from pi0_common.messages import import_types
from pi0_drivers.interfaces.base import ArmInterface, InterfaceError, check_keys, config_value
from pi0_drivers.interfaces.controllers import TrajectorySender
from pi0_drivers.interfaces.franka_state import ARM_STATE_TOPIC, HAND_STATE_TOPIC, FrankaStateBridge
from pi0_drivers.interfaces.vendor import merged_config, require_types

PACKAGE = 'franka_msgs'
INSTALL_HINT = 'build franka_ros2 (franka_msgs, franka_gripper) from frankarobotics/franka_ros2 into your workspace'
KEYS = {'trajectory_topic', 'gripper_move_action', 'gripper_grasp_action', 'gripper_close_threshold',
        'gripper_open_threshold', 'grasp_force', 'gripper_speed', 'grasp_epsilon', 'arm_state_topic',
        'hand_state_topic'}


class GripperHysteresis:
    """Open/close events from a continuous gripper value, with hysteresis: 'close' when it rises above
    close_above, 'open' when it falls below open_below, each once per transition. The first value
    decides the first event unless it lies in the dead band (the hand's state is not known at start)."""

    def __init__(self, close_above: float, open_below: float):
        if not 0.0 <= open_below < close_above <= 1.0:
            raise ValueError(f'need 0 <= open threshold ({open_below}) < close threshold ({close_above}) <= 1')
        self.close_above, self.open_below = close_above, open_below
        self.state: str | None = None         # 'open', 'closed' or None (unknown)

    def update(self, g: float) -> str | None:
        if g > self.close_above and self.state != 'closed':
            self.state = 'closed'
            return 'close'
        if g < self.open_below and self.state != 'open':
            self.state = 'open'
            return 'open'
        return None


def _hand_config(cfg: dict, where: str) -> dict:
    out = {
        'move_action': config_value(cfg, 'gripper_move_action', str, where, 'franka_gripper/move'),
        'grasp_action': config_value(cfg, 'gripper_grasp_action', str, where, 'franka_gripper/grasp'),
        'close': config_value(cfg, 'gripper_close_threshold', float, where, 0.6),
        'open': config_value(cfg, 'gripper_open_threshold', float, where, 0.4),
        'force': config_value(cfg, 'grasp_force', float, where, 20.0),
        'speed': config_value(cfg, 'gripper_speed', float, where, 0.1),
        'epsilon': config_value(cfg, 'grasp_epsilon', float, where, 0.005),
    }
    if not 0.0 <= out['open'] < out['close'] <= 1.0:
        raise InterfaceError(f'{where}: need 0 <= interface.gripper_open_threshold ({out["open"]}) < '
                             f'interface.gripper_close_threshold ({out["close"]}) <= 1')
    for key, name in (('force', 'grasp_force'), ('speed', 'gripper_speed')):
        if not out[key] > 0:
            raise InterfaceError(f'{where}: interface.{name} must be positive, got {out[key]}')
    if not out['epsilon'] >= 0:
        raise InterfaceError(f'{where}: interface.grasp_epsilon must be >= 0, got {out["epsilon"]}')
    return out


class FrankaArm(ArmInterface):
    vendor_hint = ('franka_ros2 with the fr3_arm_controller JointTrajectoryController and the franka_gripper node '
                   '(franka_fr3_moveit_config moveit.launch.py robot_ip:=<ip>, or use_fake_hardware:=true)')

    def __init__(self, node, embodiment, arm, joint_idx, grip_idx, overrides):
        super().__init__(node, embodiment, arm, joint_idx, grip_idx, overrides)
        cfg = merged_config(arm.interface, overrides, self.where, 'franka')
        check_keys(cfg, KEYS, self.where)
        self.topic = config_value(cfg, 'trajectory_topic', str, self.where)
        self.trajectory = TrajectorySender(node, self.topic, [j.name for j in arm.joints])
        self.hand = _Hand(node, arm, _hand_config(cfg, self.where), self.where) if arm.gripper is not None else None
        arm_states = config_value(cfg, 'arm_state_topic', str, self.where, ARM_STATE_TOPIC)
        hand_states = config_value(cfg, 'hand_state_topic', str, self.where, HAND_STATE_TOPIC)
        self.state = FrankaStateBridge(node, arm, arm_states, hand_states)

    def describe(self) -> str:
        hand = f', hand: {self.hand.describe()}' if self.hand else ''
        return f'Franka JointTrajectory on {self.topic}{hand}; {self.state.describe()}'

    def send(self, command: Command, now: float) -> None:
        self.trajectory.send(command.positions[:, self.joint_idx], command, now)
        if self.hand is not None:
            self.hand.update(float(command.positions[0, self.grip_idx]), now)


class _Hand:
    """franka_gripper move/grasp goals, one per hysteresis transition."""

    def __init__(self, node, arm, cfg: dict, where: str):
        self.node, self.arm, self.cfg, self.where = node, arm, cfg, where
        self.hysteresis = GripperHysteresis(cfg['close'], cfg['open'])
        self.pending: str | None = None       # a transition not sent yet (server not up)
        self.goals_sent: list[str] = []       # 'open' / 'close', in order (tests, diagnostics)
        g = arm.gripper
        self.open_width = g.command_open
        self.grasp_width = 0.5 * (g.command_open + g.command_closed)
        from rclpy.action import ActionClient
        self.move_type, self.grasp_type = require_types(import_types(PACKAGE, 'action', ('Move', 'Grasp')),
                                                        PACKAGE, where, INSTALL_HINT)
        self.move = ActionClient(node, self.move_type, cfg['move_action'])
        self.grasp = ActionClient(node, self.grasp_type, cfg['grasp_action'])

    def describe(self) -> str:
        return (f'Move on {self.cfg["move_action"]}, Grasp on {self.cfg["grasp_action"]} '
                f'(close above {self.cfg["close"]:g}, open below {self.cfg["open"]:g})')

    def update(self, g: float, now: float) -> None:
        event = self.hysteresis.update(g)
        if event is not None:
            self.pending = event              # a newer transition replaces one not yet sent
        if self.pending is not None:
            self._send(self.pending, now)

    def _send(self, event: str, now: float) -> None:
        client = self.move if event == 'open' else self.grasp
        if not client.server_is_ready():
            action = self.cfg['move_action' if event == 'open' else 'grasp_action']
            self.node.get_logger().warning(f'{self.where}: franka_gripper action {action} is not available; '
                                           f'the {event} goal waits for it', throttle_duration_sec=5.0)
            return
        future = client.send_goal_async(self._goal(event))
        future.add_done_callback(lambda f, e=event: self._on_response(f, e))
        self.pending = None
        self.goals_sent.append(event)

    def _goal(self, event: str):
        if event == 'open':
            return self.move_type.Goal(width=float(self.open_width), speed=self.cfg['speed'])
        goal = self.grasp_type.Goal(width=float(self.grasp_width), speed=self.cfg['speed'], force=self.cfg['force'])
        goal.epsilon.inner = goal.epsilon.outer = self.cfg['epsilon']
        return goal

    def _on_response(self, future, event: str) -> None:
        handle = future.result() if not future.cancelled() and future.exception() is None else None
        if handle is None or not handle.accepted:
            self.node.get_logger().error(f'{self.where}: franka_gripper refused the {event} goal',
                                         throttle_duration_sec=2.0)


