"""The arithmetic of checkpoint conventions: ALOHA's adaptation to the π internal space, delta and
absolute actions, joint velocities, gripper direction. Pure numpy, no state.

ALOHA ``adapt_to_pi`` (what openpi's ALOHA fine-tunes were trained with). Standard ALOHA data has
[left 6 joints, left gripper, right 6 joints, right gripper]; the π base model was trained on the
same robot in another convention:
  * the shoulder and elbow of each arm (dims 1, 2, 8, 9) turn the other way;
  * the state's gripper is ALOHA's normalised finger position (0 = closed at 0.01844 m, 1 = open at
    0.05800 m); the π space wants the gripper horn angle, normalised over the encoder range
    0.5476..1.6296 rad. The horn angle follows from the finger travel by the law of cosines of the
    Interbotix linkage (horn radius 0.022 m, arm 0.036 m);
  * the actions' gripper leaves the model as that angle minus 0.5476 and goes to ALOHA's normalised
    gripper joint (0 = closed at -0.6213 rad, 1 = open at 1.4910 rad).
"""

from __future__ import annotations

import numpy as np

ALOHA_DIMS = 14
ALOHA_GRIPPERS = (6, 13)
ALOHA_FLIPPED = (1, 2, 8, 9)
FINGER_CLOSED, FINGER_OPEN = 0.01844, 0.05800        # m, ALOHA's follower finger range
HORN_RADIUS, LINK_LENGTH = 0.022, 0.036              # m, Interbotix gripper linkage
PI_ANGLE_LOW, PI_ANGLE_HIGH = 0.5476, 1.6296         # rad, the π gripper normalisation range
JOINT_CLOSED, JOINT_OPEN = -0.6213, 1.4910           # rad, ALOHA's follower gripper joint range


def _flip_signs(x: np.ndarray) -> np.ndarray:
    signs = np.ones(ALOHA_DIMS)
    signs[list(ALOHA_FLIPPED)] = -1.0
    return x * signs


def _check_aloha(x: np.ndarray, what: str) -> None:
    if x.shape[-1] != ALOHA_DIMS:
        raise ValueError(f"adapt_to_pi: {what} must have {ALOHA_DIMS} dims (ALOHA), got {x.shape[-1]}")


def aloha_state_to_pi(state: np.ndarray) -> np.ndarray:
    """ALOHA state (normalised finger positions) -> the π space (flipped joints, normalised horn angles)."""
    state = np.asarray(state, dtype=np.float64)
    _check_aloha(state, "state")
    out = _flip_signs(state)
    finger = FINGER_CLOSED + out[..., ALOHA_GRIPPERS] * (FINGER_OPEN - FINGER_CLOSED)
    cos_law = (HORN_RADIUS**2 + finger**2 - LINK_LENGTH**2) / (2.0 * HORN_RADIUS * finger)
    angle = np.arcsin(np.clip(cos_law, -1.0, 1.0))
    out[..., ALOHA_GRIPPERS] = (angle - PI_ANGLE_LOW) / (PI_ANGLE_HIGH - PI_ANGLE_LOW)
    return out


def pi_actions_to_aloha(actions: np.ndarray) -> np.ndarray:
    """Actions in the π space -> ALOHA actions (joint angles, normalised gripper joint)."""
    actions = np.asarray(actions, dtype=np.float64)
    _check_aloha(actions, "actions")
    out = _flip_signs(actions)
    out[..., ALOHA_GRIPPERS] = (out[..., ALOHA_GRIPPERS] + PI_ANGLE_LOW - JOINT_CLOSED) / (JOINT_OPEN - JOINT_CLOSED)
    return out


def aloha_actions_to_pi(actions: np.ndarray) -> np.ndarray:
    """The inverse of :func:`pi_actions_to_aloha` (for training targets and RTC's committed actions)."""
    actions = np.asarray(actions, dtype=np.float64)
    _check_aloha(actions, "actions")
    out = _flip_signs(actions)
    out[..., ALOHA_GRIPPERS] = out[..., ALOHA_GRIPPERS] * (JOINT_OPEN - JOINT_CLOSED) + JOINT_CLOSED - PI_ANGLE_LOW
    return out


def bool_mask(spec) -> tuple[bool, ...]:
    """A per-dimension mask from a run-length list (openpi's style: [6, -1, 6, -1] = six True, one
    False, six True, one False) or from a list of booleans."""
    spec = list(spec)
    if all(isinstance(v, bool) for v in spec):
        return tuple(spec)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v != 0 for v in spec):
        raise ValueError(f"a mask is a list of booleans or of non-zero run lengths, got {spec}")
    out: list[bool] = []
    for run in spec:
        out.extend([run > 0] * abs(run))
    return tuple(out)


def _state_offset(state: np.ndarray, mask: tuple[bool, ...], width: int) -> np.ndarray:
    n = len(mask)
    offset = np.zeros(width)
    offset[:n] = np.where(mask, np.asarray(state, np.float64)[:n], 0.0)
    return offset


def delta_to_absolute(actions: np.ndarray, state: np.ndarray, mask: tuple[bool, ...]) -> np.ndarray:
    """Actions relative to the state at chunk start -> absolute, on the masked dims ([H, d] or [d])."""
    actions = np.asarray(actions, dtype=np.float64)
    return actions + _state_offset(state, mask, actions.shape[-1])


def absolute_to_delta(actions: np.ndarray, state: np.ndarray, mask: tuple[bool, ...]) -> np.ndarray:
    """The inverse of :func:`delta_to_absolute`."""
    actions = np.asarray(actions, dtype=np.float64)
    return actions - _state_offset(state, mask, actions.shape[-1])


def integrate_velocities(actions: np.ndarray, state: np.ndarray, mask: tuple[bool, ...], dt: float) -> np.ndarray:
    """Velocity dims (masked) of a chunk [H, d] -> positions: step k holds state + dt * (v_0 + ... + v_k),
    the position reached at the end of step k when each velocity is held for one period."""
    actions = np.asarray(actions, dtype=np.float64)
    m = np.zeros(actions.shape[-1], bool)
    m[: len(mask)] = mask
    out = actions.copy()
    out[:, m] = np.asarray(state, np.float64)[: len(m)][m] + dt * np.cumsum(actions[:, m], axis=0)
    return out


def differentiate_positions(actions: np.ndarray, state: np.ndarray, mask: tuple[bool, ...], dt: float) -> np.ndarray:
    """The inverse of :func:`integrate_velocities`."""
    actions = np.asarray(actions, dtype=np.float64)
    m = np.zeros(actions.shape[-1], bool)
    m[: len(mask)] = mask
    out = actions.copy()
    previous = np.vstack([np.asarray(state, np.float64)[: len(m)][m][None], actions[:-1, m]])
    out[:, m] = (actions[:, m] - previous) / dt
    return out


def flip_grippers(x: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
    """g -> 1 - g on the gripper dims: between 0 = open (pi0_ros, DROID) and 1 = open (ALOHA)."""
    out = np.array(x, dtype=np.float64, copy=True)
    if dims:
        out[..., list(dims)] = 1.0 - out[..., list(dims)]
    return out
