"""The parts an embodiment is made of: joints, grippers, arms, a mobile base, cameras, and the flat
dims of the unified vector. Frozen dataclasses, built and validated by pi0_common.embodiment.

Pure Python: no rclpy import.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class JointSpec:
    name: str                   # as in sensor_msgs/JointState
    lower: float                # rad
    upper: float                # rad
    max_velocity: float         # rad/s
    max_acceleration: float     # rad/s^2: the executor's ramps (starts, holds, stops) stay below it
    home: float                 # rad


@dataclass(frozen=True)
class GripperSpec:
    """Maps the unified gripper value g in [0, 1] (0 = open) to hardware units, both ways.

    The state side (what the joint state reports) and the command side (what the driver sends) may
    use different units, e.g. ALOHA reports finger width in metres but is commanded in radians.
    """

    joint: str                  # joint in the joint state that measures the gripper
    state_open: float
    state_closed: float
    command_open: float
    command_closed: float
    max_rate: float             # unified units per second (1.0: full stroke in one second)
    home: float = 0.0

    def to_unified(self, state_value: float) -> float:
        g = (state_value - self.state_open) / (self.state_closed - self.state_open)
        return float(min(1.0, max(0.0, g)))

    def to_command(self, g: float) -> float:
        g = min(1.0, max(0.0, float(g)))
        return self.command_open + g * (self.command_closed - self.command_open)

    def command_to_unified(self, command_value: float) -> float:
        g = (command_value - self.command_open) / (self.command_closed - self.command_open)
        return float(min(1.0, max(0.0, g)))

    def unified_to_state(self, g: float) -> float:
        return self.state_open + min(1.0, max(0.0, g)) * (self.state_closed - self.state_open)


@dataclass(frozen=True)
class ArmSpec:
    name: str                   # "arm" for single-arm robots, "left"/"right" for bimanual ones
    joint_state_topic: str      # where this arm's joints are reported
    joints: tuple[JointSpec, ...]
    gripper: GripperSpec | None
    camera: str | None          # wrist camera slot, if any
    interface: dict[str, Any] = field(default_factory=dict, compare=False)  # read by the driver
    # std_msgs/Float64 in percent where the robot's controller reports its speed scaling (UR): at 0 the
    # controller is frozen (program paused, protective stop) and the executor holds
    speed_scaling_topic: str | None = None


@dataclass(frozen=True)
class BaseSpec:
    axes: tuple[str, ...]       # subset of ("vx", "vy", "wz"), in unified order
    max_velocity: tuple[float, ...]      # per axis, m/s or rad/s
    max_acceleration: tuple[float, ...]  # per axis, m/s^2 or rad/s^2
    odometry_topic: str
    interface: dict[str, Any] = field(default_factory=dict, compare=False)  # read by the driver
    # std_msgs/Float64 in percent where the robot's controller reports its speed scaling (UR): at 0 the
    # controller is frozen (program paused, protective stop) and the executor holds
    speed_scaling_topic: str | None = None


@dataclass(frozen=True)
class CameraSpec:
    slot: str                   # "base", "left_wrist", "right_wrist"
    topic: str                  # default topic (remappable)
    transport: str              # "raw" (sensor_msgs/Image) or "compressed" (sensor_msgs/CompressedImage)
    width: int                  # resolution the simulator renders
    height: int

    def wire_topic(self, transport: str | None = None) -> str:
        """The topic on the wire: image_transport puts compressed images on <topic>/compressed."""
        return self.topic + '/compressed' if (transport or self.transport) == 'compressed' else self.topic


@dataclass(frozen=True)
class DimSpec:
    """One dimension of the unified vector, flattened out of the arms and the base."""

    index: int
    name: str                   # unique: "<arm>/<joint>", "<arm>/gripper", "base/<axis>"
    kind: str                   # "joint", "gripper" or "base"
    lower: float
    upper: float
    max_rate: float             # per second: rad/s for joints, 1/s for grippers, m/s^2 or rad/s^2 for base
    home: float
    max_accel: float = math.inf  # per second^2, on the rate above: rad/s^2 for joints (none for grippers, bases)
