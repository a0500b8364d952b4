"""What the policy side and the robot side of pi0_ros share; imports neither side.

Pure Python (no rclpy): embodiment and embodiment_parts (the embodiment files and their loader),
commands (per-tick commands and chunk requests), joint_states (name-mapped joint state cache).
ROS helpers: params (declared parameters), qos (QoS by role), spin (how nodes spin and stop),
messages (pi0_msgs conversions).
"""
