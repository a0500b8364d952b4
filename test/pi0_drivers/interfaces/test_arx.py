"""ARX X5 arms (arx_bimanual) over real DDS: RobotCmd per arm for every command, the vendor's RobotStatus
bridged to sensor_msgs/JointState, and the simulated vendor node behind the same topics.

The vendor node (ARXroboticsX/ARX_X5 c783287, ROS2/X5_ws/src/arx_x5_ros2/arx_x5_controller/src/
X5Controller.cpp) subscribes RobotCmd on arm_sub_topic_name, default arm_cmd (:38-41), publishes
RobotStatus on arm_pub_topic_name, default arm_status (:31, 36), and passes RobotCmd.gripper to the motor
unchanged (:104): motor units, 0 closed and about 5 open (arx5-sdk config.h:107, the X5's fully open
readout 5.03), not metres."""

import math

import pytest
from sensor_msgs.msg import JointState

from pi0_common.commands import MODE_ACTIVE, MODE_HOLD
from pi0_common.qos import SENSOR_QOS

from .harness import vendor

arx = vendor('arx5_arm_msg')

NAMES = [f'joint{i}' for i in range(1, 7)] + ['gripper']
OPEN_READOUT = 5.03          # arx5-sdk include/app/config.h:107 (X5)


def test_commands_are_robot_cmds_in_position_mode_clamped(rig):
    r = rig('arx_bimanual', sim=False, command_timeout=0.2)
    left, right = r.collect(arx.RobotCmd, 'arx_left/arm_cmd'), r.collect(arx.RobotCmd, 'arx_right/arm_cmd')
    r.wait_subscribed('arx_left/arm_cmd')
    r.wait_subscribed('arx_right/arm_cmd')
    rows = r.rows(gripper=0.25)
    rows[0, r.emb.dim_names.index('right/joint2')] = -1.0        # lower limit -0.05
    before = r.now()
    r.send(MODE_ACTIVE, rows)
    assert r.ros.wait_for(lambda: left and right, 5)
    cmd = left[-1]
    assert list(cmd.joint_pos) == pytest.approx(rows[0, :6], abs=1e-5)
    assert cmd.gripper == pytest.approx(OPEN_READOUT * 0.75, rel=0.02)   # motor units, open at about 5
    assert cmd.mode == 5                                            # the vendor's POSITION_CONTROL
    assert list(cmd.end_pos) == [0.0] * 6
    assert cmd.header.stamp.sec + cmd.header.stamp.nanosec * 1e-9 >= before - 0.01
    assert right[-1].joint_pos[1] == pytest.approx(-0.05)           # clamped before the wire
    assert r.node.arms[1].clamp.clamped == 1
    for _ in range(3):                                              # hold: the held position, streamed
        r.send(MODE_HOLD, r.rows(n=1, offset=0.1))
    assert r.ros.wait_for(lambda: len(left) == 4, 5)
    assert list(left[-1].joint_pos) == pytest.approx(r.rows(n=1, offset=0.1)[0, :6], abs=1e-5)
    r.settle(0.5)                                                   # timeouts: the vendor keeps its target
    assert len(left) == 4 and len(right) == 4


def test_the_vendor_status_becomes_joint_states(rig):
    r = rig('arx_bimanual', sim=False)
    states = r.collect(JointState, 'arx_left/joint_states', SENSOR_QOS)
    # until the vendor node talks there is no joint state publisher (the driver's warning still fires)
    assert r.node.count_publishers('arx_left/joint_states') == 0
    status_pub = r.probe.create_publisher(arx.RobotStatus, 'arx_left/arm_status', 10)
    assert r.ros.wait_for(lambda: r.probe.count_subscribers('arx_left/arm_status') == 1, 5)
    status = arx.RobotStatus()
    status.joint_pos = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.07]
    status.joint_vel = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.5]
    status.joint_cur = [9.0] * 7
    status.header.stamp.sec = 42
    status_pub.publish(status)
    assert r.ros.wait_for(lambda: states, 5)
    js = states[-1]
    assert js.name == NAMES
    assert list(js.position) == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.07])
    assert list(js.velocity) == pytest.approx([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.5])
    assert list(js.effort) == [] and js.header.stamp.sec == 42
    status.joint_pos[3] = math.nan                                  # never passed on
    status_pub.publish(status)
    r.settle(0.3)
    assert len(states) == 1 and r.node.arms[0].statuses == 1


def test_the_simulated_vendor_node_closes_the_loop(rig):
    r = rig('arx_bimanual')
    assert not any('arx' in t for t in r.sim.state_pubs)       # the bridge publishes them, not the sim
    states = r.collect(JointState, 'arx_right/joint_states', SENSOR_QOS)
    status = r.collect(arx.RobotStatus, 'arx_right/arm_status', SENSOR_QOS)
    rows = r.rows(n=1, offset=0.1, gripper=1.0)
    for _ in range(25):
        r.send(MODE_ACTIVE, rows)
        r.settle(0.02)

    def measured():
        return dict(zip(states[-1].name, states[-1].position, strict=True))
    assert r.ros.wait_for(lambda: states and measured()['joint1'] > 0.09, 3)
    assert measured()['gripper'] == pytest.approx(0.0, abs=1e-3)  # closed
    assert status and status[-1].joint_pos[0] == pytest.approx(measured()['joint1'], abs=0.01)
    assert r.node.count_publishers('arx_right/joint_states') == 1


def test_the_simulated_vendor_node_takes_the_gripper_in_motor_units(rig):
    r = rig('arx_bimanual')
    cmd = r.probe.create_publisher(arx.RobotCmd, 'arx_left/arm_cmd', 10)
    assert r.ros.wait_for(lambda: r.probe.count_subscribers('arx_left/arm_cmd') == 1, 5)
    joints = list(r.emb.home[:6])
    cmd.publish(arx.RobotCmd(joint_pos=joints, gripper=OPEN_READOUT / 2, mode=5))
    assert r.ros.wait_for(lambda: r.sim.world.gripper_closure('left') == pytest.approx(0.5, abs=0.02), 3)
    cmd.publish(arx.RobotCmd(joint_pos=joints, gripper=0.088 / 2, mode=5))       # metres would be closed
    assert r.ros.wait_for(lambda: r.sim.world.gripper_closure('left') > 0.98, 3)
