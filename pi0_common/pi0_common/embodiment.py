"""Embodiments: one YAML file per robot, loaded into frozen dataclasses that validate on load.

An embodiment file is the single source of truth for a robot: its arms (joint names, limits, home
pose, gripper mapping), its mobile base, its cameras, its control rate and open-loop horizon, the
openpi norm-stats asset it uses, how its driver talks to the hardware (``interface``) and how the
simulator draws it (``sim``). The policy node, the chunk executor, the drivers, the recorder and the
launch files all read it from here. Adding a robot means adding one YAML file in ``embodiments/``.

The unified action space (README: Embodiments) is derived from the file, never written twice: for
each arm in order its joints then its gripper, then the base axes. The vector is zero-padded to
``UNIFIED_DIM`` (18). Joints are radians, grippers [0, 1] with 0 = open, base velocities m/s and
rad/s.

The parts (joints, grippers, arms, base, cameras, dims) are in embodiment_parts.py.

Pure Python: no rclpy import.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from pi0_common.embodiment_parts import ArmSpec, BaseSpec, CameraSpec, DimSpec, GripperSpec, JointSpec

UNIFIED_DIM = 18
CAMERA_SLOTS = ('base', 'left_wrist', 'right_wrist')
BASE_AXES = ('vx', 'vy', 'wz')
DIM_KINDS = ('joint', 'gripper', 'base')


class EmbodimentError(ValueError):
    """An embodiment file is missing, malformed or inconsistent."""


class MissingJointsError(ValueError):
    """A joint state does not (yet) cover every joint the embodiment needs."""


@dataclass(frozen=True)
class Embodiment:
    name: str
    description: str
    control_rate_hz: float
    executed_steps: int         # open-loop horizon: steps of each chunk executed before switching
    horizon: int                # steps the policy predicts per chunk
    norm_stats_asset: str       # openpi asset id of the normalization statistics
    arms: tuple[ArmSpec, ...]
    base: BaseSpec | None
    cameras: tuple[CameraSpec, ...]
    max_state_age: float = 0.2  # s: joint states older than this stop all commanding
    sim: dict[str, Any] = field(default_factory=dict, compare=False)  # read by the simulator

    # ---------------------------------------------------------------- derived layout
    @property
    def dt(self) -> float:
        return 1.0 / self.control_rate_hz

    @cached_property
    def dims(self) -> tuple[DimSpec, ...]:
        return _flatten_dims(self)

    @property
    def valid_dims(self) -> int:
        return len(self.dims)

    @property
    def dim_names(self) -> list[str]:
        return [d.name for d in self.dims]

    def indices(self, kind: str) -> list[int]:
        return [d.index for d in self.dims if d.kind == kind]

    @property
    def lower(self) -> np.ndarray:
        return np.array([d.lower for d in self.dims])

    @property
    def upper(self) -> np.ndarray:
        return np.array([d.upper for d in self.dims])

    @property
    def max_rate(self) -> np.ndarray:
        return np.array([d.max_rate for d in self.dims])

    @property
    def max_accel(self) -> np.ndarray:
        return np.array([d.max_accel for d in self.dims])

    @property
    def home(self) -> np.ndarray:
        return np.array([d.home for d in self.dims])

    def arm_slices(self) -> list[tuple[ArmSpec, list[int], int | None]]:
        """For each arm: (arm, unified indices of its joints, unified index of its gripper or None)."""
        out, i = [], 0
        for arm in self.arms:
            joint_idx = list(range(i, i + len(arm.joints)))
            i += len(arm.joints)
            grip_idx = None
            if arm.gripper is not None:
                grip_idx = i
                i += 1
            out.append((arm, joint_idx, grip_idx))
        return out

    def base_indices(self) -> list[int]:
        return self.indices('base')

    @property
    def camera_slots(self) -> tuple[str, ...]:
        return tuple(c.slot for c in self.cameras)

    @property
    def joint_state_topics(self) -> tuple[str, ...]:
        topics: list[str] = []
        for arm in self.arms:
            if arm.joint_state_topic not in topics:
                topics.append(arm.joint_state_topic)
        return tuple(topics)

    # ---------------------------------------------------------------- state mapping
    def state_from_joints(self, positions: dict[tuple[str, str], float],
                          base_velocity: dict[str, float] | None = None) -> np.ndarray:
        """Unified state vector (valid dims only) from measured joint positions.

        Args:
            positions: (joint_state_topic, joint name) -> position, as reported by the robot.
            base_velocity: measured base velocity per axis ("vx", "vy", "wz"), for mobile robots.

        Raises:
            MissingJointsError: naming every joint (and base) value that is not available; a
                missing joint is never zero-filled.
        """
        state = np.zeros(self.valid_dims)
        missing = []
        for arm, joint_idx, grip_idx in self.arm_slices():
            for spec, i in zip(arm.joints, joint_idx, strict=True):
                value = positions.get((arm.joint_state_topic, spec.name))
                if value is None:
                    missing.append(f'{arm.joint_state_topic}:{spec.name}')
                else:
                    state[i] = value
            if grip_idx is not None:
                value = positions.get((arm.joint_state_topic, arm.gripper.joint))
                if value is None:
                    missing.append(f'{arm.joint_state_topic}:{arm.gripper.joint}')
                else:
                    state[grip_idx] = arm.gripper.to_unified(value)
        if self.base is not None:
            for axis, i in zip(self.base.axes, self.base_indices(), strict=True):
                if base_velocity is None or axis not in base_velocity:
                    missing.append(f'{self.base.odometry_topic}:{axis}')
                else:
                    state[i] = base_velocity[axis]
        if missing:
            raise MissingJointsError(f'{self.name}: no measurement yet for {", ".join(missing)}')
        return state

    def pad(self, values: np.ndarray) -> np.ndarray:
        """Zero-pad the last axis from valid_dims to UNIFIED_DIM."""
        values = np.asarray(values)
        if values.shape[-1] != self.valid_dims:
            raise ValueError(f'{self.name}: expected {self.valid_dims} values, got {values.shape[-1]}')
        pad = [(0, 0)] * (values.ndim - 1) + [(0, UNIFIED_DIM - self.valid_dims)]
        return np.pad(values, pad)


def _flatten_dims(emb: Embodiment) -> tuple[DimSpec, ...]:
    dims: list[DimSpec] = []
    for arm in emb.arms:
        for j in arm.joints:
            dims.append(DimSpec(len(dims), f'{arm.name}/{j.name}', 'joint', j.lower, j.upper,
                                j.max_velocity, j.home, j.max_acceleration))
        if arm.gripper is not None:
            dims.append(DimSpec(len(dims), f'{arm.name}/gripper', 'gripper', 0.0, 1.0,
                                arm.gripper.max_rate, arm.gripper.home))
    if emb.base is not None:
        for axis, vmax, amax in zip(emb.base.axes, emb.base.max_velocity, emb.base.max_acceleration,
                                    strict=True):
            dims.append(DimSpec(len(dims), f'base/{axis}', 'base', -vmax, vmax, amax, 0.0))
    return tuple(dims)


# -------------------------------------------------------------------- loading and validation
def _embodiment_dir() -> Path:
    return Path(str(resources.files('pi0_common') / 'embodiments'))


def available_embodiments() -> list[str]:
    return sorted(p.stem for p in _embodiment_dir().glob('*.yaml'))


def load_embodiment(name_or_path: str | Path) -> Embodiment:
    """Load an embodiment by name (a file in pi0_common/embodiments) or from a YAML path.

    Raises:
        EmbodimentError: unknown name (with the closest known names) or an invalid file (naming
            the offending field).
    """
    path = Path(name_or_path)
    if path.suffix not in ('.yaml', '.yml'):
        known = available_embodiments()
        if str(name_or_path) not in known:
            close = difflib.get_close_matches(str(name_or_path), known, n=3)
            hint = f' Did you mean {", ".join(close)}?' if close else ''
            raise EmbodimentError(f'unknown embodiment {name_or_path!r}.{hint} Known: {", ".join(known)}')
        path = _embodiment_dir() / f'{name_or_path}.yaml'
    if not path.is_file():
        raise EmbodimentError(f'embodiment file {path} does not exist')
    try:
        with open(path) as f:
            raw = yaml.safe_load(f)
        return parse_embodiment(raw)
    except yaml.YAMLError as e:
        raise EmbodimentError(f'{path}: not valid YAML: {e}') from None
    except EmbodimentError as e:
        raise EmbodimentError(f'{path}: {e}') from None


class _Fields:
    """Reads a mapping field by field, naming the path of anything wrong or left over."""

    def __init__(self, raw: Any, where: str):
        if not isinstance(raw, dict):
            raise EmbodimentError(f'{where}: expected a mapping, got {type(raw).__name__}')
        self.raw, self.where, self.used = raw, where, set()

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        self.used.add(key)
        if key not in self.raw:
            if default is ...:
                raise EmbodimentError(f'{self.where}.{key}: required field is missing')
            return default
        value = self.raw[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise EmbodimentError(f'{self.where}.{key}: expected {getattr(kind, "__name__", kind)}, '
                                  f'got {value!r}')
        if isinstance(value, float) and not math.isfinite(value):
            raise EmbodimentError(f'{self.where}.{key}: must be finite, got {value}')
        return value

    def done(self) -> None:
        extra = sorted(set(self.raw) - self.used)
        if extra:
            raise EmbodimentError(f'{self.where}: unknown field(s) {", ".join(extra)}')


def _parse_joint(raw: Any, where: str) -> JointSpec:
    f = _Fields(raw, where)
    j = JointSpec(name=f.get('name', str), lower=f.get('lower', float), upper=f.get('upper', float),
                  max_velocity=f.get('max_velocity', float), max_acceleration=f.get('max_acceleration', float),
                  home=f.get('home', float, 0.0))
    f.done()
    if not j.lower < j.upper:
        raise EmbodimentError(f'{where}: lower ({j.lower}) must be below upper ({j.upper})')
    if not j.lower <= j.home <= j.upper:
        raise EmbodimentError(f'{where}: home {j.home} outside [{j.lower}, {j.upper}]')
    if j.max_velocity <= 0 or j.max_acceleration <= 0:
        raise EmbodimentError(f'{where}: max_velocity and max_acceleration must be positive')
    return j


def _parse_gripper(raw: Any, where: str) -> GripperSpec:
    f = _Fields(raw, where)
    state_open, state_closed = f.get('state_open', float), f.get('state_closed', float)
    g = GripperSpec(
        joint=f.get('joint', str), state_open=state_open, state_closed=state_closed,
        command_open=f.get('command_open', float, state_open),
        command_closed=f.get('command_closed', float, state_closed),
        max_rate=f.get('max_rate', float), home=f.get('home', float, 0.0))
    f.done()
    if g.state_open == g.state_closed or g.command_open == g.command_closed:
        raise EmbodimentError(f'{where}: open and closed positions must differ')
    if g.max_rate <= 0 or not 0.0 <= g.home <= 1.0:
        raise EmbodimentError(f'{where}: max_rate must be positive and home in [0, 1]')
    return g


def parse_embodiment(raw: Any) -> Embodiment:
    """Build and validate an Embodiment from the parsed YAML mapping."""
    f = _Fields(raw, 'embodiment')
    name = f.get('name', str)
    arms = []
    raw_arms = f.get('arms', list)
    if not raw_arms:
        raise EmbodimentError('embodiment.arms: at least one arm is required')
    for i, raw_arm in enumerate(raw_arms):
        where = f'arms[{i}]'
        af = _Fields(raw_arm, where)
        joints = tuple(_parse_joint(j, f'{where}.joints[{k}]') for k, j in enumerate(af.get('joints', list)))
        if not joints:
            raise EmbodimentError(f'{where}.joints: at least one joint is required')
        gripper_raw = af.get('gripper', dict, None)
        arm = ArmSpec(
            name=af.get('name', str), joint_state_topic=af.get('joint_state_topic', str),
            joints=joints,
            gripper=_parse_gripper(gripper_raw, f'{where}.gripper') if gripper_raw is not None else None,
            camera=af.get('camera', str, None), interface=af.get('interface', dict, {}),
            speed_scaling_topic=af.get('speed_scaling_topic', str, None))
        af.done()
        names = [j.name for j in joints] + ([arm.gripper.joint] if arm.gripper else [])
        if len(set(names)) != len(names):
            raise EmbodimentError(f'{where}: duplicate joint names in {names}')
        arms.append(arm)
    if len({a.name for a in arms}) != len(arms):
        raise EmbodimentError('embodiment.arms: arm names must be unique')

    base = None
    raw_base = f.get('base', dict, None)
    if raw_base is not None:
        bf = _Fields(raw_base, 'base')
        axes = tuple(bf.get('axes', list))
        if not axes or any(a not in BASE_AXES for a in axes) or list(axes) != sorted(axes, key=BASE_AXES.index):
            raise EmbodimentError(f'base.axes: expected an ordered subset of {BASE_AXES}, got {list(axes)}')
        vmax = tuple(float(v) for v in bf.get('max_velocity', list))
        amax = tuple(float(v) for v in bf.get('max_acceleration', list))
        if len(vmax) != len(axes) or len(amax) != len(axes) or min(vmax + amax) <= 0:
            raise EmbodimentError('base: max_velocity and max_acceleration need one positive value per axis')
        # A ros2_control drive controller is one setting: its name gives ~/reference and ~/odometry.
        controller = bf.get('controller', str, '')
        interface = dict(bf.get('interface', dict, {}))
        if controller:
            interface.setdefault('topic', f'{controller}/reference')
        odometry = bf.get('odometry_topic', str, f'{controller}/odometry' if controller else ...)
        base = BaseSpec(axes, vmax, amax, odometry, interface)
        bf.done()

    cameras = []
    for slot, raw_cam in f.get('cameras', dict).items():
        if slot not in CAMERA_SLOTS:
            raise EmbodimentError(f'cameras.{slot}: unknown slot, expected one of {CAMERA_SLOTS}')
        cf = _Fields(raw_cam, f'cameras.{slot}')
        cam = CameraSpec(slot, cf.get('topic', str), cf.get('transport', str, 'raw'),
                         cf.get('width', int, 224), cf.get('height', int, 224))
        cf.done()
        if cam.transport not in ('raw', 'compressed'):
            raise EmbodimentError(f'cameras.{slot}.transport: expected raw or compressed, got {cam.transport!r}')
        cameras.append(cam)
    cameras.sort(key=lambda c: CAMERA_SLOTS.index(c.slot))
    if not cameras:
        raise EmbodimentError('embodiment.cameras: at least one camera is required')
    for arm in arms:
        if arm.camera is not None and arm.camera not in [c.slot for c in cameras]:
            raise EmbodimentError(f'arm {arm.name}: camera {arm.camera!r} is not among the cameras')

    emb = Embodiment(
        name=name, description=f.get('description', str, ''),
        control_rate_hz=f.get('control_rate_hz', float), executed_steps=f.get('executed_steps', int),
        horizon=f.get('horizon', int, 50), norm_stats_asset=f.get('norm_stats_asset', str, name),
        max_state_age=f.get('max_state_age', float, 0.2),
        arms=tuple(arms), base=base, cameras=tuple(cameras), sim=f.get('sim', dict, {}))
    f.done()
    if emb.control_rate_hz <= 0 or emb.max_state_age <= 0:
        raise EmbodimentError('control_rate_hz and max_state_age: must be positive')
    if not 0 < emb.executed_steps <= emb.horizon:
        raise EmbodimentError(f'executed_steps: must be in [1, horizon={emb.horizon}], got {emb.executed_steps}')
    if emb.valid_dims > UNIFIED_DIM:
        raise EmbodimentError(f'{emb.valid_dims} dims exceed the unified action space of {UNIFIED_DIM}')
    return emb
