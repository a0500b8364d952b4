"""Teleoperation recording: one rosbag2 bag (metadata.yaml + mcap, version 8) per episode.

    naming.py         bag folder names and the next episode index (never overwrite a bag)
    disk.py           the free-space floor
    typestore.py      message definitions for the bags (distro store + installed .msg files), QoS
    topics.py         which topics an embodiment's recording holds
    episode_bag.py    one open bag: connections, serialized writes, custom metadata, close
    recorder_node.py  the ROS node: raw subscriptions, start/stop services, signals, disk checks

Everything but recorder_node.py is plain Python (no rclpy), so it is tested without a ROS graph.
"""
