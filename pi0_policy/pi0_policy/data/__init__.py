"""Datasets for post-training: rosbag2 episodes -> LeRobotDataset v2.1/v3.0 -> π₀ training samples."""
