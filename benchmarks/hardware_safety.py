"""A hardware launch against a stand-in vendor driver, and what the executor commanded.

The UR5e stack starts as on a real robot (hardware: disarmed, velocity scale capped at 0.25), with
pi0_sim's simulator node in the vendor driver's place: it publishes joint states, follows the
JointTrajectoryController topic, and freezes its trajectories while its UR speed scaling is 0, as
ur_robot_driver's scaled_joint_trajectory_controller does. The scenario, all through ROS:

    1. unarmed for a while            nothing may be commanded
    2. pi0/executor/resume arms it    commands start at the measured position; speeds and
                                      accelerations stay within the (scaled) limits
    3. speed scaling 0, then 100 %    the executor holds while frozen, then restarts from where the
                                      robot is (no catch-up)
    4. e-stop from a default-QoS      commands become e-stop holds within two ticks; the driver
       (volatile) publisher           latches too

    python benchmarks/hardware_safety.py [--unarmed 3] [--armed 6] [--checkpoint random:pi0_tiny]

test/system/test_hardware_safety.py runs the same scenario and asserts the figures.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
from std_msgs.msg import Bool
from trajectory_msgs.msg import JointTrajectory

from pi0_bringup.monitor import StackMonitor
from pi0_bringup.runner import Stack
from pi0_bringup.stack_interfaces import Diagnostics, StackControls
from pi0_bringup.stack_spec import EXECUTOR, POLICY, robot_stack
from pi0_common.commands import MODE_ACTIVE, MODE_ESTOP
from pi0_common.embodiment import load_embodiment
from pi0_common.qos import EVENT_QOS

HARDWARE_VELOCITY_LIMIT = 0.25      # the executor's default cap on hardware


@dataclass
class Figures:
    commands_while_unarmed: int
    trajectories_while_unarmed: int
    first_armed_offset: float            # rad, first command after arming vs the measured position
    max_speed_ratio: float               # commanded joint speed / scaled velocity limit, after arming
    max_accel_ratio: float               # commanded joint acceleration / acceleration limit
    steps_not_evaluated: int             # across a command the monitor missed
    max_tracking_error: float            # rad, command vs measured
    frozen_state_seen: bool
    first_unfrozen_offset: float         # rad, first active command after the freeze vs measured
    one_tick_travel: float               # rad, scaled velocity limit x dt
    estop_ticks: int                     # active commands after the e-stop was published
    driver_latched: bool
    active_commands: int

    def table(self) -> str:
        return '\n'.join(f'{k:>28}: {v:.4g}' if isinstance(v, float) else f'{k:>28}: {v}'
                         for k, v in self.__dict__.items())


def _wait(cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def _measured_at(rec, t: float) -> np.ndarray:
    times = np.asarray(rec.measured_t)
    i = max(int(np.searchsorted(times, t, side='right')) - 1, 0)
    return rec.measured_q[i]


def _motion_ratios(emb, q: np.ndarray, t: np.ndarray, mode: np.ndarray, dt: float) -> tuple[float, float, int]:
    """Peak speed and acceleration of the joint commands over their limits, with the executor's timing (a
    tick's step is the time since the last command, at most one period), over each run of active
    commands, and the number of steps left out. Holds are left out: a freeze or a tracking fault holds
    at the measured position, a new start from where the robot is rather than a motion of the command
    (the unit tests check that holds slow down within the acceleration limits). So are steps across a
    command this monitor did not receive (commands go out at depth 1, as controllers want them, and a
    loaded machine can replace one before it is delivered): over two ticks the speed would look doubled."""
    joints = emb.indices('joint')
    vmax = emb.max_rate[joints] * HARDWARE_VELOCITY_LIMIT
    speed = accel = 0.0
    skipped = 0
    active = np.concatenate([[False], mode == MODE_ACTIVE, [False]])
    edges = np.flatnonzero(np.diff(active.astype(int)))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if b - a < 3:
            continue
        intervals = np.diff(t[a:b])
        whole = intervals <= 1.5 * dt                    # no command missing in between
        skipped += int(np.sum(~whole))
        steps = np.minimum(intervals, dt)[:, None]
        v = np.diff(q[a:b, joints], axis=0) / steps
        if whole.any():
            speed = max(speed, float(np.max(np.abs(v[whole]) / vmax)))
        both = whole[1:] & whole[:-1]
        if both.any():
            dv = np.abs(np.diff(v, axis=0)[both]) / steps[1:][both] / emb.max_accel[joints]
            accel = max(accel, float(np.max(dv)))
    return speed, accel, skipped


def run_scenario(unarmed: float = 3.0, armed: float = 6.0, checkpoint: str = 'random:pi0_tiny') -> Figures:
    emb = load_embodiment('ur5e')
    dt = emb.dt
    specs = robot_stack('ur5e', sim=True, checkpoint=checkpoint, instruction='reach the red block',
                        overrides={EXECUTOR: {'hardware': True}, POLICY: {'seed': 0}})
    with Stack(specs) as stack:
        monitor = StackMonitor(emb, context=stack.context)
        stack.add_node(monitor)
        trajectories = []
        monitor.create_subscription(JointTrajectory, 'scaled_joint_trajectory_controller/joint_trajectory',
                                    trajectories.append, 10)
        controls, diagnostics = StackControls(stack.node), Diagnostics(stack.node)
        estop = stack.node.create_publisher(Bool, 'pi0/estop', EVENT_QOS)     # volatile: default QoS
        assert _wait(lambda: len(monitor.snapshot().measured_q) > 10, 30), 'no joint states'
        time.sleep(unarmed)
        rec = monitor.snapshot()
        unarmed_commands, unarmed_trajectories = len(rec.command_t), len(trajectories)
        t_arm = stack.node.get_clock().now().nanoseconds * 1e-9
        controls.resume()
        assert _wait(lambda: sum(m == MODE_ACTIVE for m in monitor.snapshot().command_mode) > armed / dt / 2,
                     armed + 60), 'no active commands after arming'
        time.sleep(armed / 2)
        controls.set_simulator_parameter('speed_scaling', 0.0)
        frozen = _wait(lambda: getattr(monitor.snapshot().status, 'state', '') == 'frozen', 3)
        time.sleep(1.0)
        t_unfreeze = stack.node.get_clock().now().nanoseconds * 1e-9
        controls.set_simulator_parameter('speed_scaling', 100.0)
        _wait(lambda: any(m == MODE_ACTIVE and t > t_unfreeze for m, t in
                          zip(monitor.snapshot().command_mode, monitor.snapshot().command_t, strict=True)), 30)
        time.sleep(armed / 2)
        t_estop, since = stack.node.get_clock().now().nanoseconds * 1e-9, time.monotonic()
        estop.publish(Bool(data=True))
        time.sleep(0.5)
        latched = _wait(lambda: diagnostics.values('pi0_robot_driver', since=since).get('estop_latched') == 'true',
                        3)
        rec = monitor.snapshot()
    t, q, mode = np.asarray(rec.command_t), np.stack(rec.command_q), np.asarray(rec.command_mode)
    armed_sel = t > t_arm
    first = int(np.argmax(armed_sel))
    speed, accel, skipped = _motion_ratios(emb, q[armed_sel], t[armed_sel], mode[armed_sel], dt)
    joints = emb.indices('joint')
    tracking = max(float(np.max(np.abs(q[i, joints] - _measured_at(rec, t[i])[joints])))
                   for i in np.nonzero(armed_sel)[0])
    after = np.nonzero((t > t_unfreeze) & (mode == MODE_ACTIVE))[0]
    unfrozen_offset = (float(np.max(np.abs(q[after[0], joints] - _measured_at(rec, t[after[0]])[joints])))
                       if len(after) else float('nan'))
    estop_ticks = int(np.sum((t > t_estop) & (mode != MODE_ESTOP)))
    return Figures(
        commands_while_unarmed=unarmed_commands, trajectories_while_unarmed=unarmed_trajectories,
        first_armed_offset=float(np.max(np.abs(q[first, joints] - _measured_at(rec, t[first])[joints]))),
        max_speed_ratio=speed, max_accel_ratio=accel, steps_not_evaluated=skipped, max_tracking_error=tracking,
        frozen_state_seen=frozen,
        first_unfrozen_offset=unfrozen_offset,
        one_tick_travel=float(np.max(emb.max_rate[joints]) * HARDWARE_VELOCITY_LIMIT * dt),
        estop_ticks=estop_ticks, driver_latched=latched, active_commands=int(np.sum(mode == MODE_ACTIVE)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--unarmed', type=float, default=3.0, help='seconds before arming')
    ap.add_argument('--armed', type=float, default=6.0, help='seconds armed (half before the freeze)')
    ap.add_argument('--checkpoint', default='random:pi0_tiny')
    args = ap.parse_args()
    print(run_scenario(args.unarmed, args.armed, args.checkpoint).table())


if __name__ == '__main__':
    main()
