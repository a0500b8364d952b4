"""Two 6-DoF arms on a holonomic base, all on ros2_control:
`ros2 launch pi0_bringup fibocom_mobile.launch.py sim:=true`.

Real robot: start its ros2_control bringup first: a JointTrajectoryController
(<side>_arm_controller) and a forward command controller (<side>_gripper_controller) per arm, and a
mecanum drive controller (ros2_controllers' mecanum_drive_controller: TwistStamped on
base_controller/reference, odometry on base_controller/odometry).
Arguments as in pi0_stack.launch.py: sim, checkpoint, instruction, namespace, params_file, switching,
log_level. Every robot topic is relative: namespace moves them all; to rename single ones, include
this file inside a GroupAction with launch_ros.actions.SetRemap(src=..., dst=...).
"""

from pi0_bringup.launch_util import include_stack


def generate_launch_description():
    return include_stack('fibocom_mobile')
