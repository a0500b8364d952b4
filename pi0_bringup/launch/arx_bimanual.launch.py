"""Two ARX X5 arms: `ros2 launch pi0_bringup arx_bimanual.launch.py sim:=true`.

Real robot: start one ARX vendor node (arx_x5_controller, ARXroboticsX/ARX_X5) per arm in the namespace
arx_<side>, so that its default topics are arx_<side>/arm_cmd and arx_<side>/arm_status (or remap
ours); the driver needs the vendor's arx5_arm_msg (make setup builds it where none is installed).
The driver publishes each arm's status as arx_<side>/joint_states.
Arguments as in pi0_stack.launch.py: sim, checkpoint, instruction, namespace, params_file, switching,
log_level. Every robot topic is relative: namespace moves them all; to rename single ones, include
this file inside a GroupAction with launch_ros.actions.SetRemap(src=..., dst=...).
"""

from pi0_bringup.launch_util import include_stack


def generate_launch_description():
    return include_stack('arx_bimanual')
