"""UR5e with a Robotiq 2F-85: `ros2 launch pi0_bringup ur5e.launch.py sim:=true`.

Real robot: start ur_robot_driver (ur_control.launch.py ur_type:=ur5e robot_ip:=...) first, with the
External Control program running; the driver then streams to scaled_joint_trajectory_controller.
Arguments as in pi0_stack.launch.py: sim, checkpoint, instruction, namespace, params_file, switching,
log_level.
"""

from pi0_bringup.launch_util import include_stack


def generate_launch_description():
    return include_stack('ur5e')
