"""Teleoperation and recording: teleop sources that publish pi0/command (``teleop/``), and the
rosbag2 episode recorder, one bag (metadata.yaml + mcap, version 8) per episode:

    naming.py            bag folder names and the next episode index (never overwrite a bag)
    disk.py              the free-space floor
    typestore.py         message definitions for the bags (distro store + installed .msg files), QoS
    topics.py            which topics an embodiment's recording holds
    episode_bag.py       one open bag: connections, serialized writes, custom metadata, close
    episode_recorder.py  the episode state machine: start/stop, latched messages, events, disk floor
    recorder_node.py     the ROS node: graph discovery, raw subscriptions, services, diagnostics,
                         signals

Everything but the two nodes (recorder_node.py, teleop/teleop_node.py) is plain Python (no rclpy,
no message classes), so it is tested without a ROS graph.
"""
