"""A small pinhole-camera rasteriser for the simulator: numpy for the geometry, Pillow for filling.

Painter's algorithm: the supporting planes (floor, table) are drawn first, then every other
primitive (block faces, arm links, joints, fingers) from far to near by mean camera depth. Boxes are
back-face culled, so the faces of one convex box never overlap. Everything crossing the camera's
near plane is clipped in camera coordinates first, which matters for wrist cameras that sit inside
the scene. Flat shading with one directional light keeps block faces distinguishable.

Camera (optical) frame: z forward, x right, y down, as in ROS ``*_optical_frame``.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

BACKGROUND = (186, 190, 196)
FLOOR = (112, 108, 104)
FLOOR_GRID = (98, 94, 90)
TABLE = (168, 150, 122)
LINK = (72, 74, 80)
JOINT = (128, 130, 138)
FINGER = (38, 38, 42)
BASE_BODY = (62, 64, 72)

NEAR = 0.01                                     # m, near clipping plane
_LIGHT = np.array([0.3, 0.2, 1.0]) / np.linalg.norm([0.3, 0.2, 1.0])
_TOP_SHADE = 0.45 + 0.55 * _LIGHT[2]

# Unit cube corners, and its faces as corner indices (in order around the face) with outward normals.
_CUBE = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)])
_FACE_CORNERS = np.array([(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)])
_FACE_NORMALS = np.array([(-1, 0, 0), (1, 0, 0), (0, -1, 0), (0, 1, 0), (0, 0, -1), (0, 0, 1)], dtype=float)


def shade(color, normal) -> tuple[int, int, int]:
    """Colour of a face with a world-frame unit normal; upward faces keep ``color`` exactly."""
    k = (0.45 + 0.55 * max(0.0, float(np.dot(normal, _LIGHT)))) / _TOP_SHADE
    return tuple(min(255, int(round(c * k))) for c in color)


class Canvas:
    """One image being drawn from one camera pose.

    Args:
        width, height: image size in pixels.
        fov_deg: horizontal field of view (square pixels, principal point at the centre).
        world_from_camera: 4x4 pose of the optical frame in the world.
    """

    def __init__(self, width: int, height: int, fov_deg: float, world_from_camera: np.ndarray):
        self.width, self.height = width, height
        self.f = (width / 2) / math.tan(math.radians(fov_deg) / 2)
        self.cx, self.cy = width / 2, height / 2
        self.rot_cw = world_from_camera[:3, :3].T          # world -> camera rotation
        self.eye = world_from_camera[:3, 3].copy()
        self._ground: list[tuple] = []
        self._items: list[tuple] = []

    # ------------------------------------------------------------------ geometry
    def to_camera(self, points: np.ndarray) -> np.ndarray:
        return (points - self.eye) @ self.rot_cw.T

    def _project(self, pc: np.ndarray) -> list[tuple[float, float]]:
        u = self.f * pc[:, 0] / pc[:, 2] + self.cx
        v = self.f * pc[:, 1] / pc[:, 2] + self.cy
        return list(zip(u.tolist(), v.tolist(), strict=True))

    def facing(self, point: np.ndarray, normal) -> bool:
        """Whether a surface at ``point`` with a world normal faces the camera (back-face culling)."""
        return float(np.dot(np.asarray(normal), point - self.eye)) < 0.0

    # ------------------------------------------------------------------ primitives
    def polygon(self, points: np.ndarray, color, ground: bool = False) -> None:
        """A filled convex polygon with world-frame vertices (N, 3)."""
        self._polygon_cam(self.to_camera(points), color, ground)

    def _polygon_cam(self, pc: np.ndarray, color, ground: bool) -> None:
        if np.any(pc[:, 2] < NEAR):
            if np.all(pc[:, 2] < NEAR):
                return
            pc = _clip_polygon(pc)
            if len(pc) < 3:
                return
        item = ('polygon', self._project(pc), color, 0)
        (self._ground if ground else self._items).append((float(pc[:, 2].sum()) / len(pc), item))

    def segment(self, p0: np.ndarray, p1: np.ndarray, radius: float, color, ground: bool = False) -> None:
        """A thick line (a link or a finger) of world radius ``radius`` between two world points."""
        self.segments(p0[None], p1[None], radius, color, ground)

    def segments(self, p0: np.ndarray, p1: np.ndarray, radius: float, color, ground: bool = False) -> None:
        """Many thick lines at once, world endpoints (N, 3) each; projected in one numpy pass."""
        a, b = self.to_camera(p0), self.to_camera(p1)
        za, zb = a[:, 2:], b[:, 2:]
        keep = ((za >= NEAR) | (zb >= NEAR))[:, 0]
        # Pull an endpoint behind the near plane forward onto it, along its segment.
        with np.errstate(divide='ignore', invalid='ignore'):
            s = np.where(za == zb, 0.0, (NEAR - za) / (zb - za))
        on_near = a + s * (b - a)
        a, b = np.where(za < NEAR, on_near, a), np.where(zb < NEAR, on_near, b)
        a, b = a[keep], b[keep]
        depth = (a[:, 2] + b[:, 2]) / 2
        widths = np.maximum(1, np.rint(2 * radius * self.f / depth)).astype(int)
        ua, va = self.f * a[:, 0] / a[:, 2] + self.cx, self.f * a[:, 1] / a[:, 2] + self.cy
        ub, vb = self.f * b[:, 0] / b[:, 2] + self.cx, self.f * b[:, 1] / b[:, 2] + self.cy
        out = self._ground if ground else self._items
        for row in zip(ua.tolist(), va.tolist(), ub.tolist(), vb.tolist(), widths.tolist(), depth.tolist(),
                       strict=True):
            xy = self._clip_to_image(*row[:4], margin=row[4])
            if xy is not None:
                out.append((row[5], ('line', xy, color, row[4])))

    def _clip_to_image(self, u0, v0, u1, v1, margin):
        """Liang-Barsky clip of a 2-D segment to the image (plus a margin): Pillow walks every pixel
        of a thin line, even far outside the image, so a floor line clipped at the near plane would
        otherwise cost milliseconds."""
        lo_u, lo_v, hi_u, hi_v = -margin, -margin, self.width + margin, self.height + margin
        du, dv = u1 - u0, v1 - v0
        t0, t1 = 0.0, 1.0
        for p, q in ((-du, u0 - lo_u), (du, hi_u - u0), (-dv, v0 - lo_v), (dv, hi_v - v0)):
            if p == 0.0:
                if q < 0.0:
                    return None
            else:
                r = q / p
                if p < 0.0:
                    t0 = max(t0, r)
                else:
                    t1 = min(t1, r)
                if t0 > t1:
                    return None
        return [(u0 + t0 * du, v0 + t0 * dv), (u0 + t1 * du, v0 + t1 * dv)]

    def ball(self, p: np.ndarray, radius: float, color) -> None:
        """A joint: a disc of world radius ``radius`` at a world point."""
        pc = self.to_camera(p[None])
        z = float(pc[0, 2])
        if z < NEAR:
            return
        (u, v), = self._project(pc)
        r = max(1.0, radius * self.f / z)
        if u + r < 0 or v + r < 0 or u - r > self.width or v - r > self.height:
            return
        # Drawn a hair nearer than the links that meet there, so that it covers their ends.
        self._items.append((z - 1e-4, ('ellipse', (u - r, v - r, u + r, v + r), color, 0)))

    def box(self, center: np.ndarray, size, rotation: np.ndarray, color, ground: bool = False) -> None:
        """A shaded box (visible faces only): centre, (sx, sy, sz), world rotation (3, 3)."""
        corners = center + (_CUBE * np.asarray(size)) @ rotation.T
        corners_cam = self.to_camera(corners)
        normals = _FACE_NORMALS @ rotation.T
        centers = corners[_FACE_CORNERS].mean(axis=1)
        visible = np.einsum('ij,ij->i', normals, centers - self.eye) < 0.0
        for i in np.flatnonzero(visible):
            self._polygon_cam(corners_cam[_FACE_CORNERS[i]], shade(color, normals[i]), ground)

    # ------------------------------------------------------------------ output
    def image(self, background=BACKGROUND) -> np.ndarray:
        """Rasterise: ground layer in insertion order, then the rest far to near. (H, W, 3) uint8."""
        img = Image.new('RGB', (self.width, self.height), background)
        draw = ImageDraw.Draw(img)
        # Stable sort on depth alone (ties keep insertion order, so the result is deterministic).
        items = [it for _, it in self._ground] + [it for _, it in sorted(self._items, key=lambda e: -e[0])]
        for kind, xy, color, width in items:
            if kind == 'polygon':
                draw.polygon(xy, fill=color)
            elif kind == 'line':
                draw.line(xy, fill=color, width=width)
            else:
                draw.ellipse(xy, fill=color)
        return np.asarray(img).copy()


def _clip_polygon(pc: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman clip of a camera-frame polygon against the plane z = NEAR."""
    out = []
    n = len(pc)
    for i in range(n):
        a, b = pc[i], pc[(i + 1) % n]
        a_in, b_in = a[2] >= NEAR, b[2] >= NEAR
        if a_in:
            out.append(a)
        if a_in != b_in:
            s = (a[2] - NEAR) / (a[2] - b[2])
            out.append(a + s * (b - a))
    return np.array(out) if out else np.empty((0, 3))
