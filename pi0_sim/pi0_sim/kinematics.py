"""Serial-chain kinematics for the simulator: Denavit-Hartenberg forward kinematics, the geometric
Jacobian and a damped-least-squares position inverse kinematics.

Two DH conventions are supported, because robot vendors publish both:

- ``standard`` (Denavit-Hartenberg, as in the UR documentation): link i is
  ``Rz(theta_i) Tz(d_i) Tx(a_i) Rx(alpha_i)`` and joint i turns about the z axis of frame i-1;
- ``modified`` (Craig, as in the Franka documentation): link i is
  ``Rx(alpha_{i-1}) Tx(a_{i-1}) Rz(theta_i) Tz(d_i)`` and joint i turns about the z axis of frame i.

A table row is always ``[a, alpha, d, theta_offset]`` as listed by the convention for that joint
(for ``modified`` the a and alpha of the row are those *before* the joint), and the joint angle is
``theta = q + theta_offset``. Everything here is numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DH_CONVENTIONS = ('standard', 'modified')


def rpy_matrix(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """Rotation matrix of URDF roll-pitch-yaw angles (fixed axes x, then y, then z)."""
    cr, sr = np.cos(roll), np.sin(roll)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cy, sy = np.cos(yaw), np.sin(yaw)
    return np.array([
        [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
        [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
        [-sp, cp * sr, cp * cr],
    ])


def pose(xyz=(0.0, 0.0, 0.0), rpy=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Homogeneous 4x4 transform from a translation and URDF roll-pitch-yaw angles."""
    t = np.eye(4)
    t[:3, :3] = rpy_matrix(*rpy)
    t[:3, 3] = xyz
    return t


def planar_pose(x: float, y: float, yaw: float) -> np.ndarray:
    """4x4 transform of a planar (mobile base) pose."""
    return pose((x, y, 0.0), (0.0, 0.0, yaw))


def transform_points(t: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 4x4 transform to points of shape (..., 3)."""
    return points @ t[:3, :3].T + t[:3, 3]


@dataclass(frozen=True, eq=False)
class Chain:
    """A revolute serial chain described by a DH table, mounted somewhere in its parent frame.

    Attributes:
        convention: 'standard' or 'modified' (see the module docstring).
        dh: (n, 4) rows [a, alpha, d, theta_offset] in metres and radians.
        mount: 4x4 pose of the chain's base frame (DH frame 0) in the parent (robot) frame.
        tool: 4x4 pose of the tool tip in the last link frame; its z axis is the approach direction
            and its y axis the direction in which the fingers open.
        lower, upper: (n,) joint limits in radians, used by the inverse kinematics.
    """

    convention: str
    dh: np.ndarray
    mount: np.ndarray
    tool: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    def __post_init__(self):
        if self.convention not in DH_CONVENTIONS:
            raise ValueError(f'DH convention must be one of {DH_CONVENTIONS}, got {self.convention!r}')
        n = len(self.dh)
        if self.dh.shape != (n, 4) or self.lower.shape != (n,) or self.upper.shape != (n,):
            raise ValueError('dh must be (n, 4) and the limits (n,)')

    @property
    def dof(self) -> int:
        return len(self.dh)

    def link_transforms(self, q: np.ndarray) -> np.ndarray:
        """The n link transforms A_i (frame i-1 to frame i), shape (n, 4, 4), built in one go."""
        a, alpha, d, offset = self.dh.T
        theta = np.asarray(q, dtype=float) + offset
        ct, st, ca, sa = np.cos(theta), np.sin(theta), np.cos(alpha), np.sin(alpha)
        m = np.zeros((self.dof, 4, 4))
        m[:, 3, 3] = 1.0
        if self.convention == 'standard':   # Rz(theta) Tz(d) Tx(a) Rx(alpha)
            m[:, 0, 0], m[:, 0, 1], m[:, 0, 2], m[:, 0, 3] = ct, -st * ca, st * sa, a * ct
            m[:, 1, 0], m[:, 1, 1], m[:, 1, 2], m[:, 1, 3] = st, ct * ca, -ct * sa, a * st
            m[:, 2, 1], m[:, 2, 2], m[:, 2, 3] = sa, ca, d
        else:                               # Rx(alpha) Tx(a) Rz(theta) Tz(d)
            m[:, 0, 0], m[:, 0, 1], m[:, 0, 3] = ct, -st, a
            m[:, 1, 0], m[:, 1, 1], m[:, 1, 2], m[:, 1, 3] = st * ca, ct * ca, -sa, -sa * d
            m[:, 2, 0], m[:, 2, 1], m[:, 2, 2], m[:, 2, 3] = st * sa, ct * sa, ca, ca * d
        return m

    def frames(self, q: np.ndarray) -> np.ndarray:
        """Poses of DH frames 0..n and of the tool tip in the parent frame, shape (n + 2, 4, 4)."""
        out = np.empty((self.dof + 2, 4, 4))
        out[0] = self.mount
        for i, a in enumerate(self.link_transforms(q)):
            out[i + 1] = out[i] @ a
        out[-1] = out[-2] @ self.tool
        return out

    def tool_pose(self, q: np.ndarray) -> np.ndarray:
        """4x4 pose of the tool tip in the parent frame."""
        return self.frames(q)[-1]

    def tool_position(self, q: np.ndarray) -> np.ndarray:
        return self.frames(q)[-1, :3, 3]

    def jacobian(self, q: np.ndarray, frames: np.ndarray | None = None) -> np.ndarray:
        """Geometric Jacobian (6, n) of the tool tip in the parent frame: rows vx, vy, vz, wx, wy, wz."""
        f = self.frames(q) if frames is None else frames
        # The frame whose z axis is joint i's axis: i-1 for standard DH, i for modified DH.
        axis_frames = f[:-2] if self.convention == 'standard' else f[1:-1]
        z = axis_frames[:, :3, 2]
        p = axis_frames[:, :3, 3]
        tip = f[-1, :3, 3]
        return np.vstack([np.cross(z, tip - p).T, z.T])


class IKError(RuntimeError):
    """The inverse kinematics did not reach the target within tolerance."""


_DOWN = np.array([0.0, 0.0, -1.0])


def solve_ik(chain: Chain, target_xyz, q_seed, *, point_down: bool = False, tolerance: float = 1e-3,
             max_iterations: int = 300, damping: float = 0.05, orientation_weight: float = 0.3,
             max_step: float = 0.3, raise_on_failure: bool = False) -> np.ndarray:
    """Joint positions that put the tool tip at a position (damped least squares, position only).

    Args:
        chain: the arm.
        target_xyz: target tool-tip position in the chain's parent (robot) frame.
        q_seed: starting joint positions (n,); the answer stays on the seed's branch.
        point_down: also drive the tool's approach axis to point straight down (-z of the parent
            frame), as a top grasp needs. Only the axis is constrained, not the rotation about it.
        tolerance: position error (m) at which to stop.
        max_iterations: iteration budget.
        damping: DLS damping (lambda); keeps steps bounded near singularities.
        orientation_weight: metres per radian of pointing error when point_down is set.
        max_step: largest joint change per iteration (rad), so that it does not jump branches.
        raise_on_failure: raise IKError instead of returning the best effort.

    Returns:
        (n,) joint positions within the chain's limits. Without raise_on_failure this is a best
        effort: compare ``chain.tool_position(q)`` with the target if it matters.
    """
    target = np.asarray(target_xyz, dtype=float)
    q = np.clip(np.asarray(q_seed, dtype=float).copy(), chain.lower, chain.upper)
    if target.shape != (3,) or not np.all(np.isfinite(target)) or not np.all(np.isfinite(q)):
        raise ValueError('solve_ik: target must be 3 finite numbers and the seed finite')
    lam2 = damping ** 2
    pos_err = np.inf
    for _ in range(max_iterations):
        f = chain.frames(q)
        pos_err_vec = target - f[-1, :3, 3]
        pos_err = float(np.linalg.norm(pos_err_vec))
        j = chain.jacobian(q, f)
        if point_down:
            z_tool = f[-1, :3, 2]
            rot_err = np.cross(z_tool, _DOWN)
            if z_tool @ _DOWN < 0.0:
                # Pointing up: the cross product vanishes at the antipode, so push along any
                # horizontal axis with the full angle instead.
                axis = rot_err if np.linalg.norm(rot_err) > 1e-6 else np.array([1.0, 0.0, 0.0])
                rot_err = axis / np.linalg.norm(axis) * np.pi / 2
            done = pos_err < tolerance and np.linalg.norm(rot_err) < 1e-2
            err = np.concatenate([pos_err_vec, orientation_weight * rot_err])
            jac = np.vstack([j[:3], orientation_weight * j[3:]])
        else:
            done = pos_err < tolerance
            err, jac = pos_err_vec, j[:3]
        if done:
            return q
        dq = jac.T @ np.linalg.solve(jac @ jac.T + lam2 * np.eye(len(err)), err)
        biggest = np.max(np.abs(dq))
        if biggest > max_step:
            dq *= max_step / biggest
        q = np.clip(q + dq, chain.lower, chain.upper)
    if raise_on_failure:
        raise IKError(f'IK did not converge: {pos_err * 1000:.1f} mm from {target.round(3).tolist()}')
    return q
