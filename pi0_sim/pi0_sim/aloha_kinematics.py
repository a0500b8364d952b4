"""Kinematics of the ViperX arms of the MuJoCo ALOHA twin (AlohaPhysicsWorld), for the transfer_cube expert.

Forward kinematics and an inverse kinematics (damped least squares on the scene's Jacobians, within the joint
limits) of the tool point between the finger pads, on the scene's own MjModel. Each ArmKinematics works on a
private MjData of that model, so planning never disturbs the live simulation.

Pure Python (MuJoCo, numpy): no rclpy import. Importing this module sets MUJOCO_GL=egl unless it is set, as
aloha_physics does: the GL backend is fixed when mujoco is first imported, and the twin renders headless.
"""

from __future__ import annotations

import os

os.environ.setdefault('MUJOCO_GL', 'egl')    # before mujoco is imported

import mujoco as mj  # noqa: E402
import numpy as np  # noqa: E402

from pi0_sim.expert import PlanningError  # noqa: E402

# The tool point, in the gripper_link frame (x along the fingers, y the direction they close in): between
# the finger pads, 2.4 cm short of the finger tips (the pads span x = 0.064 .. 0.154 m of gripper_link
# in the scene's collision meshes, and the cube is 4 cm).
TOOL_POINT = np.array([0.13, 0.0, 0.0])
IK_POSITION_TOLERANCE = 0.003       # m
IK_ANGLE_TOLERANCE = 0.03           # rad
LIMIT_MARGIN = 0.02                 # rad inside the joint limits for every planned joint


def gripper_frame(approach, closing) -> np.ndarray:
    """Rotation of gripper_link whose x (along the fingers) is ``approach`` and y (closing) ``closing``."""
    x = np.asarray(approach, dtype=float)
    x = x / np.linalg.norm(x)
    y = np.asarray(closing, dtype=float)
    y = y - x * (x @ y)
    y = y / np.linalg.norm(y)
    return np.column_stack([x, y, np.cross(x, y)])


def _rotation_error(goal_rot: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """World-frame rotation vector taking rot to goal_rot."""
    diff = goal_rot @ rot.T
    q = np.empty(4)
    mj.mju_mat2Quat(q, diff.ravel())
    v = np.empty(3)
    mj.mju_quat2Vel(v, q, 1.0)
    return v


def slerp(rot0: np.ndarray, rot1: np.ndarray, s: float) -> np.ndarray:
    """The rotation a fraction s of the way from rot0 to rot1 (about the fixed axis taking one to the other)."""
    v = _rotation_error(rot1, rot0) * s
    angle = float(np.linalg.norm(v))
    if angle < 1e-12:
        return rot0.copy()
    k = v / angle
    cross = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return (np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * cross @ cross) @ rot0


class ArmKinematics:
    """Forward and inverse kinematics of one ViperX of the scene, on a private MjData of its model.

    Args:
        model: the scene's MjModel (``world.physics.model.ptr``); only read.
        arm: 'left' or 'right'.
        joints: the arm's joint names (the embodiment's order).
        lower, upper: joint limits the solutions keep to (rad).
    """

    def __init__(self, model, arm: str, joints, lower: np.ndarray, upper: np.ndarray, home=None):
        self.model, self.arm = model, arm
        self.home = np.zeros(len(joints)) if home is None else np.asarray(home, dtype=float)
        self.wrist = list(joints).index('wrist_angle')
        self.data = mj.MjData(model)
        ids = [mj.mj_name2id(model, mj.mjtObj.mjOBJ_JOINT, f'vx300s_{arm}/{j}') for j in joints]
        if min(ids) < 0:
            raise PlanningError(f'the scene has no joints {joints} on vx300s_{arm}')
        self.qpos = model.jnt_qposadr[ids].copy()
        self.dof = model.jnt_dofadr[ids].copy()
        self.body = mj.mj_name2id(model, mj.mjtObj.mjOBJ_BODY, f'vx300s_{arm}/gripper_link')
        self.lower = np.asarray(lower, dtype=float) + LIMIT_MARGIN
        self.upper = np.asarray(upper, dtype=float) - LIMIT_MARGIN
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))

    def _set(self, q: np.ndarray) -> None:
        self.data.qpos[self.qpos] = q
        mj.mj_kinematics(self.model, self.data)

    def forward(self, q) -> tuple[np.ndarray, np.ndarray]:
        """World position of the tool point and rotation of gripper_link at joints q."""
        self._set(np.asarray(q, dtype=float))
        rot = self.data.xmat[self.body].reshape(3, 3).copy()
        return self.data.xpos[self.body] + rot @ TOOL_POINT, rot

    def _descend(self, target: np.ndarray, rotation: np.ndarray, q: np.ndarray, iterations: int):
        """Damped least squares from q; returns (q, position miss, angle miss)."""
        for _ in range(iterations):
            p, rot = self.forward(q)
            err = np.concatenate([target - p, _rotation_error(rotation, rot)])
            if np.linalg.norm(err[:3]) < 1e-4 and np.linalg.norm(err[3:]) < 1e-3:
                break
            mj.mj_comPos(self.model, self.data)
            mj.mj_jac(self.model, self.data, self._jacp, self._jacr, p, self.body)
            jac = np.vstack([self._jacp[:, self.dof], self._jacr[:, self.dof]])
            dq = jac.T @ np.linalg.solve(jac @ jac.T + 1e-4 * np.eye(6), err)
            step = float(np.max(np.abs(dq)))
            if step > 0.2:
                dq *= 0.2 / step
            q = np.clip(q + dq, self.lower, self.upper)
        p, rot = self.forward(q)
        return q, float(np.linalg.norm(target - p)), float(np.linalg.norm(_rotation_error(rotation, rot)))

    def solve(self, position, rotation: np.ndarray, seed, iterations: int = 200, restarts: int = 8) -> np.ndarray:
        """Joints that put the tool point at ``position`` with gripper_link at ``rotation``: damped least
        squares on the scene's Jacobians, within the joint limits.

        With ``restarts`` (waypoints) it starts from ``seed`` and from the home pose with the wrist bent
        either way, and returns the solution nearest ``seed``: from a single start the wrist can pass its
        singularity (wrist_angle 0, forearm_roll and wrist_rotate aligned) onto the branch turned by pi,
        a long detour for a move. Only if all of them miss, from seeds drawn around home (the same every
        call). With ``restarts=0`` (along a line, every tick) only from ``seed``.

        Raises:
            PlanningError: the pose is out of reach (the best solution misses it by more than the tolerance).
        """
        target = np.asarray(position, dtype=float)
        seed = np.clip(np.asarray(seed, dtype=float), self.lower, self.upper)
        starts = [seed]
        if restarts:
            for bend in (0.0, 0.9, -0.9):
                start = self.home.copy()
                start[self.wrist] = bend or start[self.wrist]
                starts.append(start)
        rng = np.random.default_rng(0)
        found, best = [], None
        for attempt in range(len(starts) + restarts):
            if attempt >= len(starts):
                if found:
                    break
                start = self.home + rng.normal(0.0, 0.4, len(self.home))
            else:
                start = starts[attempt]
            q, miss, angle = self._descend(target, rotation, np.clip(start, self.lower, self.upper), iterations)
            if miss <= IK_POSITION_TOLERANCE and angle <= IK_ANGLE_TOLERANCE:
                found.append(q)
            elif best is None or miss + 0.1 * angle < best[1] + 0.1 * best[2]:
                best = (q, miss, angle)
        if found:
            return min(found, key=lambda q: float(np.max(np.abs(q - seed))))
        raise PlanningError(f'{self.arm}: cannot reach {np.round(target, 3).tolist()} '
                            f'({best[1] * 1000:.0f} mm, {np.degrees(best[2]):.0f} deg off)')
