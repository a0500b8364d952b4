"""Trossen ALOHA, two ViperX 300 S followers: `ros2 launch pi0_bringup trossen_bimanual.launch.py sim:=true`.

Real robot: start the xs_sdk followers (ros2 launch aloha aloha_bringup.launch.py) first;
interbotix_xs_msgs must be installed. The driver streams JointGroupCommand/JointSingleCommand at 50 Hz.
Arguments as in pi0_stack.launch.py: sim, checkpoint, instruction, namespace, params_file, switching,
log_level. Every robot topic is relative: namespace moves them all; to rename single ones, include
this file inside a GroupAction with launch_ros.actions.SetRemap(src=..., dst=...).
"""

from pi0_bringup.launch_util import include_stack


def generate_launch_description():
    return include_stack('trossen_bimanual')
