"""Teleoperation and recording: teleop sources that publish pi0/command, and the rosbag2 episode
recorder (a ROS-free episode recorder behind a thin node)."""
