"""Robot driver node: turns pi0/command (pi0_msgs/ExecutorCommand) into the robot's own ROS interface,
one interface object per arm and base as the embodiment file says. The same code drives the real
robot and the simulated one: in simulation pi0_sim's simulator node serves the vendor interfaces.

A command that is malformed, for another embodiment, non-finite or stale is refused (logged,
throttled) and nothing is sent. When commands stop, bases get zero velocity after command_timeout.
Counts of commands sent and refused go to /diagnostics. After a command has been passed to the robot's
interfaces, pi0/driver/sent (std_msgs/Header, stamped with that command's stamp) says so: a lock-step
simulator waits for it before moving its clock on, and it tells anyone how far the driver has got.

A managed (lifecycle) node: configure builds the vendor interfaces (their publishers, clients and
action clients) and subscribes pi0/command; activate lets commands through; deactivate stops sending
(bases get zero velocity once; arm controllers hold their last target) and nothing goes to the robot
while inactive; cleanup destroys what configure built. The e-stop latch, its reset service and
/diagnostics work in every state.
"""

from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from pi0_msgs.msg import ExecutorCommand
from rclpy.lifecycle import LifecycleNode
from std_msgs.msg import Bool, Header
from std_srvs.srv import Trigger

from pi0_common.embodiment import load_embodiment
from pi0_common.lifecycle import SUCCESS, EntityScope, configure_failed
from pi0_common.messages import MessageError, command_from_msg
from pi0_common.params import Param, declare_all, positive
from pi0_common.qos import CHUNK_QOS, subscribe_any_durability
from pi0_common.spin import run_node
from pi0_drivers.interfaces import ARM_DRIVERS, BASE_DRIVERS
from pi0_drivers.interfaces.base import InterfaceError

PARAMETERS = [
    Param('embodiment', 'ur5e', 'Embodiment name (a file in pi0_common/embodiments) or a YAML path.'),
    Param('arm_mode', '', 'Override the arm command mode of the embodiment file (UR arms: trajectory; '
          'forward_position is refused, see interfaces/ur.py); empty keeps the file.'),
    Param('gripper_mode', '', 'Override the UR gripper mode (parallel_gripper_action on Jazzy and later, '
          'gripper_action on Humble, forward_command); empty keeps the file.'),
    Param('command_timeout', 0.5, 'Seconds without a valid command after which bases get zero velocity.',
          positive),
    Param('max_command_age', 0.5, 'Seconds: commands whose first point was due longer ago are refused.',
          positive),
    Param('joint_state_timeout', 5.0, 'Seconds after start to warn when no joint states arrive.', positive),
]


class RobotDriverNode(LifecycleNode):
    def __init__(self, **kwargs):
        super().__init__('pi0_robot_driver', **kwargs)
        p = declare_all(self, PARAMETERS)
        self.params = p
        self.embodiment = load_embodiment(p.embodiment)
        self.arms, self.bases = [], []
        self.active = False
        self.configure_error = ''
        self.configured = EntityScope(self)
        # The interface blocks and mode overrides are checked now, by building the interfaces once and
        # releasing them: a bad value stops the node before it starts, as any bad parameter does.
        self.configured.open()
        try:
            self._build_interfaces()
        finally:
            self.configured.release()
            self.arms, self.bases = [], []

        self.commands_sent = 0
        self.commands_refused = 0
        self.last_command_time: float | None = None
        self._joint_states_seen = False
        self.estop_latched = False
        # The e-stop latches here too, whoever commands (executor, teleop, a script), in every state.
        subscribe_any_durability(self, Bool, 'pi0/estop', self._on_estop)
        self.create_service(Trigger, 'pi0/driver/reset_estop', self._srv_reset_estop)
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.sent_pub = self.create_publisher(Header, 'pi0/driver/sent', CHUNK_QOS)
        self.create_timer(1.0, self._publish_diagnostics)
        self._start = self.now()

    def _build_interfaces(self) -> None:
        p, emb = self.params, self.embodiment
        overrides = {'mode': p.arm_mode, 'gripper_mode': p.gripper_mode}
        for arm, joint_idx, grip_idx in emb.arm_slices():
            name = arm.interface.get('driver')
            if name not in ARM_DRIVERS:
                raise InterfaceError(f'{emb.name}/{arm.name}: unknown driver {name!r}; known: {sorted(ARM_DRIVERS)}')
            self.arms.append(ARM_DRIVERS[name](self, emb, arm, joint_idx, grip_idx, overrides))
        if emb.base is not None:
            name = emb.base.interface.get('driver')
            if name not in BASE_DRIVERS:
                raise InterfaceError(f'{emb.name}/base: unknown driver {name!r}; known: {sorted(BASE_DRIVERS)}')
            self.bases.append(BASE_DRIVERS[name](self, emb, emb.base, emb.base_indices(), {}))

    # ---------------------------------------------------------------- lifecycle
    def on_configure(self, state):
        self.configured.open()
        try:
            self._build_interfaces()
        except ValueError as e:           # InterfaceError: e.g. a message package that is not installed
            self._release()
            return configure_failed(self, e)
        self.create_subscription(ExecutorCommand, 'pi0/command', self._on_command, CHUNK_QOS)
        self.create_timer(0.1, self._on_watchdog)
        self._start = self.now()
        parts = [f'{a.arm.name}: {a.describe()}' for a in self.arms] + [f'base: {b.describe()}' for b in self.bases]
        self.get_logger().info(f'{self.embodiment.name}: ' + '; '.join(parts))
        return SUCCESS

    def on_activate(self, state):
        self.last_command_time = None
        self.active = True
        self.get_logger().info('active: commands pass to the robot')
        return super().on_activate(state)

    def on_deactivate(self, state):
        self._hold()
        return super().on_deactivate(state)

    def on_cleanup(self, state):
        self._release()
        return SUCCESS

    def on_shutdown(self, state):
        if self.active:
            self._hold()
        self._release()
        return SUCCESS

    def _hold(self) -> None:
        """Stop sending: bases get zero velocity now (what the command timeout would send), arm controllers
        hold their last target; from here on nothing is sent."""
        self.active = False
        now = self.now()
        for interface in self.arms + self.bases:
            interface.on_timeout(now)
        self.get_logger().info('inactive: nothing is sent to the robot, which holds')

    def _release(self) -> None:
        self.active = False
        self.configured.release()
        self.arms, self.bases = [], []

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_command(self, msg: ExecutorCommand) -> None:
        if not self.active:
            self.get_logger().warning('command ignored: the driver is not active', throttle_duration_sec=5.0)
            return
        now = self.now()
        try:
            command = command_from_msg(msg, self.embodiment)
        except MessageError as e:
            self.commands_refused += 1
            self.get_logger().error(f'command refused, nothing sent: {e}', throttle_duration_sec=2.0)
            return
        if self.estop_latched and command.mode != ExecutorCommand.MODE_ESTOP:
            self.commands_refused += 1
            self.get_logger().error('command refused, nothing sent: the e-stop is latched (only the executor\'s '
                                    'e-stop ramp passes; pi0/driver/reset_estop resets)', throttle_duration_sec=2.0)
            return
        if command.stamp < now - self.params.max_command_age:
            self.commands_refused += 1
            self.get_logger().warning(f'command refused, nothing sent: stale by {now - command.stamp:.3f} s',
                                      throttle_duration_sec=2.0)
            return
        # A command is never from the future: stamped ahead of this node's clock, that clock is the stale
        # one (on simulated time the executor may have heard the simulator's newest /clock first), and the
        # segment timing counts from the stamp.
        now = max(now, command.stamp)
        for interface in self.arms + self.bases:
            interface.send(command, now)
        self.commands_sent += 1
        self.last_command_time = now
        self.sent_pub.publish(Header(stamp=msg.header.stamp))

    def _on_estop(self, msg: Bool) -> None:
        if msg.data and not self.estop_latched:
            self.estop_latched = True
            self.get_logger().error('E-STOP latched: no command passes but the executor\'s e-stop ramp until '
                                    'pi0/driver/reset_estop')

    def _srv_reset_estop(self, _request, response):
        response.success, self.estop_latched = self.estop_latched, False
        response.message = 'e-stop reset' if response.success else 'no e-stop was latched'
        return response

    def _on_watchdog(self) -> None:
        now = self.now()
        if self.active and (self.last_command_time is None
                            or now - self.last_command_time > self.params.command_timeout):
            for interface in self.arms + self.bases:
                interface.on_timeout(now)
        if not self._joint_states_seen and now - self._start > self.params.joint_state_timeout:
            # The graph tells whether the robot's driver is up, without a 100 Hz subscription here.
            missing = [t for t in self.embodiment.joint_state_topics if self.count_publishers(t) == 0]
            self._joint_states_seen = not missing
            if not missing:
                return
            topics = ', '.join(missing)
            hint = self.arms[0].vendor_hint if self.arms else "the robot's driver"
            self.get_logger().warning(
                f'nothing publishes {topics} after {self.params.joint_state_timeout:g} s: start {hint}, '
                f'or launch with sim:=true to add the simulated robot', throttle_duration_sec=30.0)

    def _publish_diagnostics(self) -> None:
        diag = DiagnosticArray()
        diag.header.stamp = self.get_clock().now().to_msg()
        level = DiagnosticStatus.OK if self._joint_states_seen or self.commands_sent else DiagnosticStatus.WARN
        if self.estop_latched:
            level = DiagnosticStatus.ERROR
        diag.status.append(DiagnosticStatus(
            level=level, name=f'{self.get_name()}: {self.embodiment.name}', hardware_id=self.embodiment.name,
            message='; '.join(i.describe() for i in self.arms + self.bases), values=[
                KeyValue(key='commands_sent', value=str(self.commands_sent)),
                KeyValue(key='commands_refused', value=str(self.commands_refused)),
                KeyValue(key='estop_latched', value=str(self.estop_latched).lower())]))
        self.diag_pub.publish(diag)


def main(args=None):
    run_node(RobotDriverNode, args)


if __name__ == '__main__':
    main()
