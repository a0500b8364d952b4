"""Generic ros2_control arms (fibocom_mobile) over real DDS: a JointTrajectory per arm to its
JointTrajectoryController, a Float64MultiArray per gripper, the holonomic base on TwistStamped, and the
simulated controllers following. Standard message packages only: nothing to skip.

The base is assumed to be ros2_controllers' mecanum_drive_controller (Fibocom publishes no driver), named
base_controller: it takes geometry_msgs/TwistStamped on ~/reference, not ~/cmd_vel (kilted 0f8eb14,
mecanum_drive_controller/src/mecanum_drive_controller.cpp:128-130; the type: include/mecanum_drive_controller/
mecanum_drive_controller.hpp:79), warns about and restamps a zero stamp (:283-289) and publishes ~/odometry
(:139)."""

import pytest
from geometry_msgs.msg import TwistStamped
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from pi0_common.commands import MODE_ACTIVE, MODE_HOLD
from pi0_common.embodiment import load_embodiment
from pi0_common.messages import to_sec
from pi0_common.qos import SENSOR_QOS


def test_arms_get_trajectories_grippers_forward_commands_and_the_base_a_stamped_twist(rig):
    r = rig('fibocom_mobile', command_timeout=0.2)
    traj = {s: r.collect(JointTrajectory, f'{s}_arm_controller/joint_trajectory') for s in ('left', 'right')}
    grip = {s: r.collect(Float64MultiArray, f'{s}_gripper_controller/commands') for s in ('left', 'right')}
    base = r.collect(TwistStamped, 'base_controller/reference')
    states = r.collect(JointState, 'joint_states', SENSOR_QOS)
    for s in ('left', 'right'):
        r.wait_subscribed(f'{s}_arm_controller/joint_trajectory', count=2)     # the probe and the sim
        r.wait_subscribed(f'{s}_gripper_controller/commands', count=2)
    r.wait_subscribed('base_controller/reference', count=2)
    rows = r.rows(gripper=0.5)
    rows[:, r.emb.indices('base')] = [0.2, -0.1, 0.3]                 # vx, vy, wz
    for _ in range(10):
        r.send(MODE_ACTIVE, rows)
        r.settle(0.02)
    assert r.ros.wait_for(lambda: len(traj['right']) == 10 and len(grip['right']) == 10, 5)
    left = traj['left'][-1]
    assert left.joint_names == [f'left_joint{i}' for i in range(1, 7)]
    assert to_sec(left.header.stamp) == 0.0 and len(left.points) == len(rows)
    times = [to_sec(p.time_from_start) for p in left.points]
    assert times[0] > 0 and all(b > a for a, b in zip(times, times[1:], strict=False))
    assert list(traj['right'][-1].points[-1].positions) == pytest.approx(rows[-1, 7:13], abs=1e-5)
    assert list(grip['left'][-1].data) == pytest.approx([0.02])       # half of 0.04 m
    twist = base[-1].twist
    assert base[-1].header.stamp.sec > 0                              # stamped, as the controller wants
    assert (twist.linear.x, twist.linear.y, twist.angular.z) == pytest.approx((0.2, -0.1, 0.3), abs=1e-6)
    # the simulated controllers follow
    assert r.ros.wait_for(lambda: dict(zip(states[-1].name, states[-1].position, strict=True))['right_joint1']
                          > 0.01, 3)
    # hold: one point per arm, once; then the watchdog zeroes the base
    for _ in range(3):
        r.send(MODE_HOLD, r.rows(n=1))
    assert r.ros.wait_for(lambda: len(traj['left']) == 11, 5) and len(traj['left'][-1].points) == 1
    count = len(base)
    r.settle(0.5)
    assert len(traj['left']) == 11
    assert len(base) > count and base[-1].twist.linear.x == 0.0 and base[-1].twist.angular.z == 0.0


def test_the_base_is_addressed_as_a_mecanum_drive_controller_named_base_controller():
    base = load_embodiment('fibocom_mobile').base
    assert base.interface['topic'] == 'base_controller/reference' and base.interface['stamped'] is True
    assert base.odometry_topic == 'base_controller/odometry'
