"""Mobile ALOHA: xs_sdk followers on a Trossen SLATE base: `ros2 launch pi0_bringup trossen_mobile.launch.py sim:=true`.

Real robot: start the xs_sdk followers and the SLATE base node (aloha_bringup.launch.py, mobile)
first; interbotix_xs_msgs must be installed. The base gets geometry_msgs/Twist on
mobile_base/cmd_vel, zero velocity when commands stop.
Arguments as in pi0_stack.launch.py: sim, checkpoint, instruction, namespace, params_file, switching,
log_level. Every robot topic is relative: namespace moves them all; to rename single ones, include
this file inside a GroupAction with launch_ros.actions.SetRemap(src=..., dst=...).
"""

from pi0_bringup.launch_util import include_stack


def generate_launch_description():
    return include_stack('trossen_mobile')
