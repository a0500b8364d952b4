"""Two UR5e arms with Robotiq 2F-85 grippers: `ros2 launch pi0_bringup ur5e_bimanual.launch.py sim:=true`.

Real robots: start ur_robot_driver with one ros2_control system per arm (tf_prefix left_ and right_,
distinct ports; Universal_Robots_ROS2_Tutorials my_dual_robot_cell) with External Control running on
both; the driver streams to left_/right_scaled_joint_trajectory_controller.
Arguments as in pi0_stack.launch.py: sim, checkpoint, instruction, namespace, params_file, switching,
log_level. Every robot topic is relative: namespace moves them all; to rename single ones, include
this file inside a GroupAction with launch_ros.actions.SetRemap(src=..., dst=...).
"""

from pi0_bringup.launch_util import include_stack


def generate_launch_description():
    return include_stack('ur5e_bimanual')
