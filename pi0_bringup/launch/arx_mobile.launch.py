"""Two ARX X5 arms on a differential-drive base: `ros2 launch pi0_bringup arx_mobile.launch.py sim:=true`.

Real robot: start the ARX vendor nodes (see arx_bimanual.launch.py) and the base driver
(geometry_msgs/Twist on cmd_vel) first. The base gets zero velocity when commands stop.
Arguments as in pi0_stack.launch.py: sim, checkpoint, instruction, namespace, params_file, switching,
log_level. Every robot topic is relative: namespace moves them all; to rename single ones, include
this file inside a GroupAction with launch_ros.actions.SetRemap(src=..., dst=...).
"""

from pi0_bringup.launch_util import include_stack


def generate_launch_description():
    return include_stack('arx_mobile')
