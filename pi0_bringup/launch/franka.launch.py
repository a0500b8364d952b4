"""Franka Research 3 with the Franka Hand: `ros2 launch pi0_bringup franka.launch.py sim:=true`.

Real robot: start franka_ros2 with the fr3_arm_controller JointTrajectoryController
(franka_fr3_moveit_config moveit.launch.py robot_ip:=...) and the franka_gripper node; franka_msgs
must be installed (the hand is driven through its move/grasp actions).
Arguments as in pi0_stack.launch.py: sim, checkpoint, instruction, namespace, params_file, switching,
log_level. Every robot topic is relative: namespace moves them all; to rename single ones, include
this file inside a GroupAction with launch_ros.actions.SetRemap(src=..., dst=...).
"""

from pi0_bringup.launch_util import include_stack


def generate_launch_description():
    return include_stack('franka')
