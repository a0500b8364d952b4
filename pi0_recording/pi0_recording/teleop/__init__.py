"""Teleoperation sources. Each publishes ``pi0/command`` (pi0_msgs/ExecutorCommand) at the
embodiment's control rate, exactly what the chunk executor publishes in autonomous runs, so the
driver node turns it into the robot's own interface messages the same way and the recorder records
the same topics whoever is in control.

    leader.py       leader-arm joint states -> follower arm targets (ALOHA-style rigs)
    commander.py    one safe unified command per tick from arm targets and a base twist
    teleop_node.py  the node: leader arms and/or a Twist (joystick, spacemouse) for the base

Everything but the node is plain Python (no rclpy).
"""
