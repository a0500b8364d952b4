"""Conversions between pi0_msgs messages and the numpy/dataclass world of the pure core, with the
checks every receiver needs (sizes, embodiment, finite values). Errors name what is wrong.
"""

from __future__ import annotations

import importlib

import numpy as np
from builtin_interfaces.msg import Duration, Time
from pi0_msgs.msg import ActionChunk, ChunkRequest, ExecutorCommand

from pi0_common.commands import ChunkRequestInfo, Command, first_non_finite
from pi0_common.embodiment import UNIFIED_DIM, Embodiment


class MessageError(ValueError):
    """A message that cannot be used; the text says why."""


def import_types(package: str, module: str, names: tuple[str, ...]) -> tuple | None:
    """The named types of an interface package that may not be installed (e.g. franka_msgs.action), or
    None when it is not.

    Raises:
        MessageError: the package is installed but lacks one of the types (an incompatible version).
    """
    try:
        mod = importlib.import_module(f'{package}.{module}')
    except ImportError:
        return None
    try:
        return tuple(getattr(mod, n) for n in names)
    except AttributeError as e:
        raise MessageError(f'{package}.{module} is installed but has no {e.name}: an incompatible version') from None


def to_sec(stamp: Time | Duration) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def to_time_msg(seconds: float) -> Time:
    sec = int(np.floor(seconds))
    return Time(sec=sec, nanosec=min(int(round((seconds - sec) * 1e9)), 999_999_999))


def to_duration_msg(seconds: float) -> Duration:
    sec = int(np.floor(seconds))
    return Duration(sec=sec, nanosec=min(int(round((seconds - sec) * 1e9)), 999_999_999))


def chunk_from_msg(msg: ActionChunk, emb: Embodiment) -> np.ndarray:
    """Actions [H, valid_dims] of an ActionChunk meant for this embodiment.

    Raises:
        MessageError: wrong embodiment, inconsistent sizes or padding that is not zero. Non-finite
            values are left for the executor, which refuses them naming the step and dim.
    """
    if msg.embodiment != emb.name:
        raise MessageError(f'chunk {msg.chunk_id} is for embodiment {msg.embodiment!r}, this is {emb.name!r}')
    if msg.action_dim != UNIFIED_DIM or msg.valid_dims != emb.valid_dims:
        raise MessageError(f'chunk {msg.chunk_id}: action_dim {msg.action_dim} / valid_dims {msg.valid_dims}, '
                           f'expected {UNIFIED_DIM} / {emb.valid_dims} for {emb.name}')
    if msg.horizon == 0 or len(msg.actions) != msg.horizon * msg.action_dim:
        raise MessageError(f'chunk {msg.chunk_id}: {len(msg.actions)} values for horizon {msg.horizon} x '
                           f'action_dim {msg.action_dim}')
    actions = np.asarray(msg.actions, dtype=np.float64).reshape(msg.horizon, msg.action_dim)
    padding = actions[:, emb.valid_dims:]
    if np.any(padding[np.isfinite(padding)] != 0.0) or not np.all(np.isfinite(padding)):
        raise MessageError(f'chunk {msg.chunk_id}: dims {emb.valid_dims}..{UNIFIED_DIM - 1} must be zero padding')
    return actions[:, :emb.valid_dims]


def make_chunk_msg(emb: Embodiment, chunk_id: int, stamp: float, dt: float, actions: np.ndarray,
                   inference_time: float, instruction: str, request_id: int = 0) -> ActionChunk:
    """ActionChunk from actions [H, valid_dims] in physical units (padded here to the unified 18)."""
    padded = emb.pad(np.asarray(actions, dtype=np.float32))
    msg = ActionChunk()
    msg.header.stamp = to_time_msg(stamp)
    msg.header.frame_id = ''
    msg.embodiment = emb.name
    msg.chunk_id = chunk_id
    msg.request_id = request_id
    msg.dt = float(dt)
    msg.horizon = padded.shape[0]
    msg.action_dim = UNIFIED_DIM
    msg.valid_dims = emb.valid_dims
    msg.actions = padded.astype(np.float32).ravel()
    msg.inference_time = to_duration_msg(inference_time)
    msg.instruction = instruction
    return msg


def command_to_msg(cmd: Command, emb: Embodiment) -> ExecutorCommand:
    msg = ExecutorCommand()
    msg.header.stamp = to_time_msg(cmd.stamp)
    msg.embodiment = emb.name
    msg.mode = cmd.mode
    msg.chunk_id = cmd.chunk_id
    msg.dt = float(cmd.dt)
    msg.valid_dims = emb.valid_dims
    msg.num_points = cmd.positions.shape[0]
    msg.positions = np.asarray(cmd.positions, dtype=np.float32).ravel()
    return msg


def command_from_msg(msg: ExecutorCommand, emb: Embodiment) -> Command:
    """Command of an ExecutorCommand for this embodiment.

    Raises:
        MessageError: wrong embodiment, sizes, mode, or any non-finite value: a driver must never
            pass such a command on.
    """
    if msg.embodiment != emb.name:
        raise MessageError(f'command is for embodiment {msg.embodiment!r}, this driver drives {emb.name!r}')
    if msg.valid_dims != emb.valid_dims or msg.num_points == 0 \
            or len(msg.positions) != msg.num_points * msg.valid_dims:
        raise MessageError(f'command has {len(msg.positions)} values for {msg.num_points} points x '
                           f'{msg.valid_dims} dims; {emb.name} has {emb.valid_dims} dims')
    if msg.mode not in (ExecutorCommand.MODE_ACTIVE, ExecutorCommand.MODE_HOLD, ExecutorCommand.MODE_ESTOP):
        raise MessageError(f'command mode {msg.mode} is unknown')
    if not (msg.dt > 0 and np.isfinite(msg.dt)):
        raise MessageError(f'command dt {msg.dt} is not a positive number')
    positions = np.asarray(msg.positions, dtype=np.float64).reshape(msg.num_points, msg.valid_dims)
    bad = first_non_finite(positions)
    if bad is not None:
        raise MessageError(f'command has a non-finite value at point {bad[0]}, dim {emb.dim_names[bad[1]]}')
    return Command(msg.mode, to_sec(msg.header.stamp), float(msg.dt), positions, msg.chunk_id)


def request_to_msg(info: ChunkRequestInfo, stamp: float, valid_dims: int) -> ChunkRequest:
    msg = ChunkRequest()
    msg.header.stamp = to_time_msg(stamp)
    msg.request_id = info.request_id
    msg.committed_start = to_time_msg(info.committed_start)
    msg.dt = float(info.dt)
    msg.valid_dims = valid_dims
    msg.committed_actions = np.asarray(info.committed, dtype=np.float32).ravel()
    msg.inference_delay_steps = info.inference_delay_steps
    msg.execution_horizon = info.execution_horizon
    return msg


def request_from_msg(msg: ChunkRequest, emb: Embodiment) -> ChunkRequestInfo:
    """ChunkRequestInfo of a ChunkRequest for this embodiment (empty committed: plain sampling)."""
    n = len(msg.committed_actions)
    if n and (msg.valid_dims != emb.valid_dims or n % emb.valid_dims):
        raise MessageError(f'chunk request {msg.request_id}: {n} committed values with valid_dims '
                           f'{msg.valid_dims} do not fit {emb.name} ({emb.valid_dims} dims)')
    committed = np.asarray(msg.committed_actions, dtype=np.float64).reshape(-1, emb.valid_dims)
    bad = first_non_finite(committed)
    if bad is not None:
        raise MessageError(f'chunk request {msg.request_id}: non-finite committed action at row {bad[0]}')
    return ChunkRequestInfo(msg.request_id, to_sec(msg.committed_start), float(msg.dt), committed,
                            int(msg.inference_delay_steps), int(msg.execution_horizon))
