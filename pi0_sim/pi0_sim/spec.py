"""The ``sim:`` block of an embodiment file, parsed and validated into frozen dataclasses.

The embodiment loader keeps ``sim:`` as a free-form mapping (it belongs to the simulator); this
module checks it when a SimWorld is built and names the offending field in every error, e.g.
``ur5e: sim.arms.arm.links[2]: expected [a, alpha, d, theta_offset]``. Lengths in metres, angles
in radians unless the key says ``_deg``. Frames: x forward, y left, z up; the robot frame is the
world frame at reset (mobile robots then drive away from it).

    sim:
      arms:
        <arm name>:                        # one entry per arm of the embodiment
          dh: standard | modified          # DH convention, see kinematics.py
          links: [[a, alpha, d, theta_offset], ...]   # one row per joint, in joint order
          mount: {xyz: [...], rpy: [...]}  # DH frame 0 in the robot frame
          tool: {xyz: [...], rpy: [...]}   # tool tip in the last DH frame; z approach, y finger opening
          gripper_width: [open, closed]    # finger gap drawn (m)            (default [0.08, 0.0])
          finger_length: 0.05              # drawn finger length (m)         (default 0.05)
          link_radius: 0.035               # drawn link radius (m)           (default 0.035)
          wrist_camera: {xyz: [...], fov_deg: 75, pitch_deg: 0}   # in the tool frame, looking along
                                           # tool z, image down = tool +x, tilted by pitch_deg towards
                                           # tool +x (required if the arm has a wrist camera)
      base_camera: {xyz: [...], look_at: [...], fov_deg: 60}   # robot frame (on the base if mobile)
      table: {center: [x, y], size: [sx, sy], height: h}        # world frame; top surface at z = h
      floor_height: -0.75                  # world z of the floor             (default table height - 0.75)
      base_body: {size: [sx, sy, sz]}      # drawn mobile base, centred under the robot origin (optional)
      blocks: {size: 0.045, x: [lo, hi], y: [lo, hi], min_separation: 0.15}   # where blocks are placed
              # optional: slots: [[x, y], ...] (blocks go to distinct slots) and jitter: m around each
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pi0_common.embodiment import Embodiment, EmbodimentError
from pi0_sim.kinematics import DH_CONVENTIONS, Chain, pose


class SimConfigError(EmbodimentError):
    """The ``sim:`` block of an embodiment file is missing, malformed or inconsistent."""


@dataclass(frozen=True, eq=False)
class WristCameraSpec:
    mount: np.ndarray           # 4x4 optical frame (z forward, x right, y down) in the tool frame
    fov_deg: float              # horizontal field of view


@dataclass(frozen=True, eq=False)
class ArmSim:
    chain: Chain
    gripper_width: tuple[float, float]    # finger gap (m) open, closed
    finger_length: float
    link_radius: float
    wrist_camera: WristCameraSpec | None


@dataclass(frozen=True, eq=False)
class BaseCameraSpec:
    mount: np.ndarray           # 4x4 optical frame in the robot frame
    fov_deg: float


@dataclass(frozen=True)
class TableSpec:
    center: tuple[float, float]
    size: tuple[float, float]
    height: float               # world z of the top surface
    thickness: float = 0.04


@dataclass(frozen=True)
class BlockSpec:
    size: float                 # edge length (m)
    x: tuple[float, float]      # world x range of block centres
    y: tuple[float, float]
    min_separation: float       # between block centres (m)
    slots: tuple[tuple[float, float], ...] = ()   # if given: blocks go to distinct slots (x, y) ...
    jitter: float = 0.0                           # ... each moved by up to this much in x and y (m)
    slot_colors: tuple[str, ...] = ()             # if given: the colour each slot is for (empty: any colour)


@dataclass(frozen=True)
class SimSpec:
    arms: dict[str, ArmSim]
    base_camera: BaseCameraSpec | None
    table: TableSpec
    floor_height: float
    base_body: tuple[float, float, float] | None
    blocks: BlockSpec


def look_at(eye, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """4x4 optical frame (z forward, x right, y down) at ``eye`` looking at ``target``."""
    eye, target, up = (np.asarray(v, dtype=float) for v in (eye, target, up))
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-6:                # looking straight down: pick image right = -y
        x = np.array([0.0, -1.0, 0.0])
    x /= np.linalg.norm(x)
    t = np.eye(4)
    t[:3, 0], t[:3, 1], t[:3, 2], t[:3, 3] = x, np.cross(z, x), z, eye
    return t


class _Reader:
    """Reads one mapping of the sim block, naming the path of anything wrong or left over."""

    def __init__(self, raw: Any, where: str):
        if not isinstance(raw, dict):
            raise SimConfigError(f'{where}: expected a mapping, got {type(raw).__name__}')
        self.raw, self.where, self.used = raw, where, set()

    def value(self, key: str, default: Any) -> Any:
        self.used.add(key)
        if key not in self.raw:
            if default is ...:
                raise SimConfigError(f'{self.where}.{key}: required field is missing')
            return default
        return self.raw[key]

    def number(self, key: str, default: Any = ..., positive: bool = False) -> float:
        value = self.value(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SimConfigError(f'{self.where}.{key}: expected a finite number, got {value!r}')
        if positive and value <= 0:
            raise SimConfigError(f'{self.where}.{key}: must be positive, got {value}')
        return float(value)

    def vector(self, key: str, n: int, default: Any = ...) -> tuple[float, ...]:
        value = self.value(key, default)
        return _vector(value, n, f'{self.where}.{key}')

    def mapping(self, key: str, default: Any = ...) -> _Reader | None:
        value = self.value(key, default)
        return None if value is None else _Reader(value, f'{self.where}.{key}')

    def text(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.value(key, ...)
        if value not in choices:
            raise SimConfigError(f'{self.where}.{key}: expected one of {choices}, got {value!r}')
        return value

    def done(self) -> None:
        extra = sorted(set(self.raw) - self.used)
        if extra:
            raise SimConfigError(f'{self.where}: unknown field(s) {", ".join(map(str, extra))}')


def _vector(value: Any, n: int, where: str) -> tuple[float, ...]:
    ok = isinstance(value, (list, tuple)) and len(value) == n and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    if not ok:
        raise SimConfigError(f'{where}: expected {n} finite numbers, got {value!r}')
    return tuple(float(v) for v in value)


def _range(r: _Reader, key: str) -> tuple[float, float]:
    lo, hi = r.vector(key, 2)
    if not lo <= hi:
        raise SimConfigError(f'{r.where}.{key}: expected [low, high] with low <= high, got {[lo, hi]}')
    return lo, hi


def _pose(r: _Reader | None) -> np.ndarray:
    if r is None:
        return np.eye(4)
    t = pose(r.vector('xyz', 3, (0.0, 0.0, 0.0)), r.vector('rpy', 3, (0.0, 0.0, 0.0)))
    r.done()
    return t


def _parse_arm(raw: Any, where: str, emb_arm) -> ArmSim:
    r = _Reader(raw, where)
    convention = r.text('dh', DH_CONVENTIONS)
    rows = r.value('links', ...)
    n = len(emb_arm.joints)
    if not isinstance(rows, list) or len(rows) != n:
        raise SimConfigError(f'{where}.links: expected one row per joint ({n} for arm {emb_arm.name!r}), '
                             f'got {rows!r}')
    dh = np.array([_vector(row, 4, f'{where}.links[{i}] ([a, alpha, d, theta_offset])')
                   for i, row in enumerate(rows)])
    mount = _pose(r.mapping('mount', None))
    tool = _pose(r.mapping('tool', None))
    width = r.vector('gripper_width', 2, (0.08, 0.0))
    if min(width) < 0:
        raise SimConfigError(f'{where}.gripper_width: gaps must not be negative, got {list(width)}')
    finger_length = r.number('finger_length', 0.05, positive=True)
    link_radius = r.number('link_radius', 0.035, positive=True)
    cam = None
    cam_r = r.mapping('wrist_camera', None)
    if cam_r is not None:
        cam = WristCameraSpec(_camera_in_tool(cam_r.vector('xyz', 3), cam_r.number('pitch_deg', 0.0)),
                              _fov(cam_r))
        cam_r.done()
    elif emb_arm.camera is not None:
        raise SimConfigError(f'{where}.wrist_camera: required, arm {emb_arm.name!r} has camera '
                             f'{emb_arm.camera!r}')
    r.done()
    chain = Chain(convention, dh, mount, tool, np.array([j.lower for j in emb_arm.joints]),
                  np.array([j.upper for j in emb_arm.joints]))
    return ArmSim(chain, (width[0], width[1]), finger_length, link_radius, cam)


def _camera_in_tool(xyz, pitch_deg: float) -> np.ndarray:
    # Optical z = tool z (looking along the approach axis), optical y (image down) = tool +x, so a
    # camera mounted at negative tool x sees the fingers at the bottom of its image; a positive
    # pitch turns the optical axis towards the fingers (about the optical x axis).
    if not -60.0 <= pitch_deg <= 60.0:
        raise SimConfigError(f'wrist_camera.pitch_deg: expected -60..60 degrees, got {pitch_deg}')
    t = np.eye(4)
    t[:3, 0], t[:3, 1], t[:3, 2], t[:3, 3] = (0.0, -1.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.0, 1.0), xyz
    return t @ pose(rpy=(-math.radians(pitch_deg), 0.0, 0.0))


def _fov(r: _Reader) -> float:
    fov = r.number('fov_deg')
    if not 10.0 <= fov <= 150.0:
        raise SimConfigError(f'{r.where}.fov_deg: expected 10..150 degrees, got {fov}')
    return fov


def parse_sim(emb: Embodiment) -> SimSpec:
    """Validate ``emb.sim`` against the embodiment and build the simulator's description of it.

    Raises:
        SimConfigError: naming the embodiment and the offending field.
    """
    try:
        return _parse_sim(emb)
    except SimConfigError as e:
        raise SimConfigError(f'{emb.name}: {e}') from None


def _parse_sim(emb: Embodiment) -> SimSpec:
    if not emb.sim:
        raise SimConfigError('sim: the embodiment file has no sim block, the simulator cannot draw it')
    r = _Reader(emb.sim, 'sim')
    arms_r = r.mapping('arms')
    arms = {}
    for arm in emb.arms:
        if arm.name not in arms_r.raw:
            raise SimConfigError(f'sim.arms.{arm.name}: required field is missing')
        arms_r.used.add(arm.name)
        arms[arm.name] = _parse_arm(arms_r.raw[arm.name], f'sim.arms.{arm.name}', arm)
    arms_r.done()
    for slot in emb.camera_slots:
        if slot != 'base' and not any(a.camera == slot for a in emb.arms):
            raise SimConfigError(f'camera {slot!r}: no arm carries it (set arms[*].camera), the simulator '
                                 f'cannot place it')

    base_camera = None
    cam_r = r.mapping('base_camera', None)
    if cam_r is not None:
        eye, target = cam_r.vector('xyz', 3), cam_r.vector('look_at', 3)
        if np.allclose(eye, target):
            raise SimConfigError('sim.base_camera: xyz and look_at must differ')
        base_camera = BaseCameraSpec(look_at(eye, target), _fov(cam_r))
        cam_r.done()
    elif 'base' in emb.camera_slots:
        raise SimConfigError('sim.base_camera: required, the embodiment has a base camera')

    t_r = r.mapping('table')
    table = TableSpec(t_r.vector('center', 2), t_r.vector('size', 2), t_r.number('height'))
    t_r.done()
    if min(table.size) <= 0:
        raise SimConfigError('sim.table.size: must be positive')
    floor = r.number('floor_height', table.height - 0.75)
    if floor >= table.height:
        raise SimConfigError(f'sim.floor_height: must be below the table top ({table.height}), got {floor}')

    base_body = None
    body_r = r.mapping('base_body', None)
    if body_r is not None:
        base_body = body_r.vector('size', 3)
        body_r.done()

    b_r = r.mapping('blocks')
    raw_slots = b_r.value('slots', [])
    if not isinstance(raw_slots, list):
        raise SimConfigError(f'{b_r.where}.slots: expected a list of [x, y], got {raw_slots!r}')
    slots = tuple(_vector(v, 2, f'{b_r.where}.slots[{i}]') for i, v in enumerate(raw_slots))
    blocks = BlockSpec(b_r.number('size', positive=True), _range(b_r, 'x'), _range(b_r, 'y'),
                       b_r.number('min_separation', 0.15, positive=True), slots, b_r.number('jitter', 0.0),
                       _slot_colors(b_r, len(slots)))
    b_r.done()
    r.done()
    _check_blocks_fit(blocks, table)
    return SimSpec(arms, base_camera, table, floor, base_body, blocks)


def _slot_colors(b_r: _Reader, n_slots: int) -> tuple[str, ...]:
    from pi0_sim.scene import BLOCK_COLORS  # scene.py imports this module

    raw = b_r.value('slot_colors', [])
    if not raw:
        return ()
    if not isinstance(raw, list) or len(raw) != n_slots or not all(c in BLOCK_COLORS for c in raw):
        raise SimConfigError(f'{b_r.where}.slot_colors: expected one of {sorted(BLOCK_COLORS)} per slot '
                             f'({n_slots}), got {raw!r}')
    missing = sorted(set(BLOCK_COLORS) - set(raw))
    if missing:
        raise SimConfigError(f'{b_r.where}.slot_colors: no slot for {", ".join(missing)}')
    return tuple(raw)


def _check_slots(blocks: BlockSpec) -> None:
    """Slots lie in the block region and stay min_separation apart even when both blocks jitter."""
    if len(blocks.slots) < 2:
        raise SimConfigError('sim.blocks.slots: at least two slots are needed for two blocks')
    if blocks.jitter < 0:
        raise SimConfigError(f'sim.blocks.jitter: must be >= 0, got {blocks.jitter}')
    (x0, x1), (y0, y1) = blocks.x, blocks.y
    for i, (x, y) in enumerate(blocks.slots):
        if not (x0 <= x - blocks.jitter and x + blocks.jitter <= x1 and y0 <= y - blocks.jitter
                and y + blocks.jitter <= y1):
            raise SimConfigError(f'sim.blocks.slots[{i}]: with its jitter it must lie in the x/y ranges')
    worst = 2 * math.sqrt(2) * blocks.jitter
    for i, a in enumerate(blocks.slots):
        for j, b in enumerate(blocks.slots[:i]):
            if math.dist(a, b) - worst < blocks.min_separation:
                raise SimConfigError(f'sim.blocks.slots[{j}] and [{i}]: closer than min_separation once jittered')


def _check_blocks_fit(blocks: BlockSpec, table: TableSpec) -> None:
    half = blocks.size / 2
    (x0, x1), (y0, y1) = blocks.x, blocks.y
    cx, cy = table.center
    sx, sy = table.size
    if x0 - half < cx - sx / 2 or x1 + half > cx + sx / 2 or y0 - half < cy - sy / 2 or y1 + half > cy + sy / 2:
        raise SimConfigError('sim.blocks: the x/y ranges must lie on the table')
    if blocks.min_separation < blocks.size * math.sqrt(2):
        raise SimConfigError(f'sim.blocks.min_separation: must be at least the block diagonal '
                             f'({blocks.size * math.sqrt(2):.3f} m) so that blocks never overlap')
    if blocks.slots:
        _check_slots(blocks)
        return
    # Two blocks must fit: the region's diagonal has to exceed the separation.
    if math.hypot(x1 - x0, y1 - y0) < blocks.min_separation:
        raise SimConfigError('sim.blocks: the x/y ranges are too small for two blocks min_separation apart')
