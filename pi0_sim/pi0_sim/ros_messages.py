"""ROS messages the simulator publishes, built from SimWorld values: camera images (raw rgb8 or JPEG,
as a camera driver and image_transport's compressed plugin publish them), joint states, odometry,
the task state and (ALOHA physics) the task's reward.
"""

from __future__ import annotations

import io

import numpy as np
from geometry_msgs.msg import Point
from nav_msgs.msg import Odometry
from pi0_msgs.msg import SimTaskState
from PIL import Image as PILImage
from sensor_msgs.msg import CompressedImage, Image, JointState
from std_msgs.msg import Float64MultiArray, MultiArrayDimension

from pi0_common.messages import to_time_msg

TASK = 'reach_blocks'
# sim/reward (std_msgs/Float64MultiArray): data in this order, also named in layout.dim[0].label. reward: the
# task's reward now (gym-aloha: 0..4); max_reward: the highest this episode; task_max_reward: the task's
# maximum (4); success: 1.0 once max_reward reached task_max_reward this episode (gym-aloha's is_success), else 0.0
REWARD_FIELDS = ('reward', 'max_reward', 'task_max_reward', 'success')


def encode_image(rgb: np.ndarray, stamp, frame_id: str) -> Image:
    msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding='rgb8', is_bigendian=0, step=rgb.shape[1] * 3)
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    msg.data = np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
    return msg


def encode_compressed(rgb: np.ndarray, stamp, frame_id: str, quality: int) -> CompressedImage:
    buffer = io.BytesIO()
    PILImage.fromarray(rgb).save(buffer, format='JPEG', quality=quality)
    msg = CompressedImage(format='rgb8; jpeg compressed rgb8', data=buffer.getvalue())
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    return msg


def joint_state(names, positions, velocities, stamp) -> JointState:
    msg = JointState(name=list(names), position=[float(p) for p in positions], velocity=[float(v) for v in velocities])
    msg.header.stamp = stamp
    return msg


def odometry(odom: dict[str, float], stamp) -> Odometry:
    msg = Odometry()
    msg.header.stamp = stamp
    msg.header.frame_id, msg.child_frame_id = 'odom', 'base_link'
    msg.pose.pose.position.x, msg.pose.pose.position.y = float(odom['x']), float(odom['y'])
    msg.pose.pose.orientation.z = float(np.sin(odom['yaw'] / 2))
    msg.pose.pose.orientation.w = float(np.cos(odom['yaw'] / 2))
    # Odometry twist is in the child (base) frame.
    msg.twist.twist.linear.x, msg.twist.twist.linear.y = float(odom['vx']), float(odom['vy'])
    msg.twist.twist.angular.z = float(odom['wz'])
    return msg


def _point(xyz) -> Point:
    return Point(x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2]))


def reward(world) -> Float64MultiArray:
    """The ALOHA task's reward (AlohaPhysicsWorld), fields as REWARD_FIELDS."""
    msg = Float64MultiArray(data=[world.reward(), float(world.max_reward_so_far), float(world.max_reward),
                                  1.0 if world.success else 0.0])
    msg.layout.dim = [MultiArrayDimension(label=','.join(REWARD_FIELDS), size=len(REWARD_FIELDS),
                                          stride=len(REWARD_FIELDS))]
    return msg


def task_state(world, episode: int, now: float) -> SimTaskState:
    """The block task's state: where the blocks and the tool tips are, and which arm reached which block.
    For the ALOHA physics: gym-aloha's objects and the arms' finger midpoints, in its MuJoCo world frame,
    nothing reached (sim/reward judges that task)."""
    if not hasattr(world, 'scene'):
        return _aloha_task_state(world, episode, now)
    scene = world.scene
    arms = [a.name for a in world.embodiment.arms]
    msg = SimTaskState(task=TASK, episode=episode, object_size=float(scene.block_size))
    msg.header.stamp = to_time_msg(now)
    msg.object_names = list(scene.blocks)
    msg.object_positions = [_point(p) for p in scene.blocks.values()]
    msg.arm_names = arms
    msg.tool_positions = [_point(world.ee_position(a)) for a in arms]
    msg.reached = [f'{a}/{c}' for a in arms for c in scene.blocks if scene.reached(a, c)]
    return msg


def _aloha_task_state(world, episode: int, now: float) -> SimTaskState:
    arms = [a.name for a in world.embodiment.arms]
    msg = SimTaskState(task=f'aloha_{world.task_name}', episode=episode, object_size=float(world.object_size))
    msg.header.stamp = to_time_msg(now)
    objects = world.object_positions()
    msg.object_names, msg.object_positions = list(objects), [_point(p) for p in objects.values()]
    msg.arm_names = arms
    msg.tool_positions = [_point(world.ee_position(a)) for a in arms]
    return msg
