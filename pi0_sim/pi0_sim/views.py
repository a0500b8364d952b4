"""What each simulated camera sees: the floor, the table, the blocks, the mobile base and the arms
(links, joints, gripper fingers), drawn into a Canvas from the world state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pi0_sim import render
from pi0_sim.kinematics import rpy_matrix, transform_points
from pi0_sim.scene import BLOCK_COLORS, Scene
from pi0_sim.spec import ArmSim, SimSpec

FINGER_RADIUS = 0.006
PALM_RADIUS = 0.012
FLOOR_EXTENT = 6.0          # m around the table centre
FLOOR_GRID = 0.5            # m between floor grid lines


@dataclass
class ArmView:
    """One arm's drawable state: its DH frames and tool in the world, and its gripper closure."""

    name: str
    sim: ArmSim
    frames: np.ndarray       # (n + 2, 4, 4) world poses: DH frames 0..n, then the tool tip
    closure: float           # gripper in [0, 1], 0 = open


def draw_world(canvas: render.Canvas, spec: SimSpec, scene: Scene, base_pose: np.ndarray,
               arms: list[ArmView], carrier: str | None = None) -> None:
    """Add everything in the world to ``canvas``.

    Args:
        carrier: the arm the camera is mounted on (a wrist camera); its links are not drawn (the
            camera looks away from them), only its fingers.
    """
    _draw_floor(canvas, spec)
    t = spec.table
    canvas.box(np.array([t.center[0], t.center[1], t.height - t.thickness / 2]),
               (t.size[0], t.size[1], t.thickness), np.eye(3), render.TABLE, ground=True)
    for color, center in scene.blocks.items():
        canvas.box(center, (scene.block_size,) * 3, rpy_matrix(0.0, 0.0, scene.block_yaw[color]),
                   BLOCK_COLORS[color])
    if spec.base_body is not None:
        sx, sy, sz = spec.base_body
        center = transform_points(base_pose, np.array([0.0, 0.0, spec.floor_height + sz / 2]))
        canvas.box(center, spec.base_body, base_pose[:3, :3], render.BASE_BODY)
    for arm in arms:
        _draw_arm(canvas, arm, links=arm.name != carrier)


def _draw_floor(canvas: render.Canvas, spec: SimSpec) -> None:
    cx, cy = spec.table.center
    z = spec.floor_height
    e = FLOOR_EXTENT
    corners = np.array([[cx - e, cy - e, z], [cx + e, cy - e, z], [cx + e, cy + e, z], [cx - e, cy + e, z]])
    if not canvas.facing(corners[0], (0.0, 0.0, 1.0)):
        return                                  # camera below the floor: nothing of it is visible
    canvas.polygon(corners, render.FLOOR, ground=True)
    k = np.arange(-e, e + 1e-9, FLOOR_GRID)
    lo, hi = np.full_like(k, -e), np.full_like(k, e)
    zs = np.full_like(k, z)
    starts = np.concatenate([np.column_stack([cx + k, cy + lo, zs]), np.column_stack([cx + lo, cy + k, zs])])
    ends = np.concatenate([np.column_stack([cx + k, cy + hi, zs]), np.column_stack([cx + hi, cy + k, zs])])
    canvas.segments(starts, ends, 0.004, render.FLOOR_GRID, ground=True)


def _draw_arm(canvas: render.Canvas, arm: ArmView, links: bool) -> None:
    sim = arm.sim
    tool = arm.frames[-1]
    palm = transform_points(tool, np.array([0.0, 0.0, -sim.finger_length]))
    if links:
        # Joint origins of the DH chain, then the palm; coincident origins (d = a = 0) collapse.
        points = [arm.frames[0, :3, 3]]
        for p in list(arm.frames[1:-1, :3, 3]) + [palm]:
            if np.linalg.norm(p - points[-1]) > 1e-3:
                points.append(p)
        points = np.array(points)
        canvas.segments(points[:-1], points[1:], sim.link_radius, render.LINK)
        for p in points[:-1]:
            canvas.ball(p, sim.link_radius * 1.15, render.JOINT)
    open_gap, closed_gap = sim.gripper_width
    half = (open_gap + (closed_gap - open_gap) * arm.closure) / 2
    bar = open_gap / 2 + FINGER_RADIUS
    if links:   # the palm would fill a wrist camera's view; only its fingers reach into it
        ends = transform_points(tool, np.array([[0.0, -bar, -sim.finger_length], [0.0, bar, -sim.finger_length]]))
        canvas.segment(ends[0], ends[1], PALM_RADIUS, render.FINGER)
    # Seen from the wrist camera the fingers run out of the bottom of the image (the palm is not
    # drawn there), so they start further back.
    root = -sim.finger_length * (1.0 if links else 2.0)
    roots = transform_points(tool, np.array([[0.0, -half, root], [0.0, half, root]]))
    tips = transform_points(tool, np.array([[0.0, -half, 0.0], [0.0, half, 0.0]]))
    canvas.segments(roots, tips, FINGER_RADIUS, render.FINGER)
