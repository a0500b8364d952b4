"""openpi's wire format: msgpack with numpy arrays and scalars as tagged maps.

    array   {b"__ndarray__": True, b"data": <raw bytes, C order>, b"dtype": <dtype.str>, b"shape": [...]}
    scalar  {b"__npgeneric__": True, b"data": <python value>, b"dtype": <dtype.str>}

Object, void and complex dtypes are refused (they would need pickle). Map keys and strings travel as
msgpack strings; ``openpi_client.msgpack_numpy`` reads and writes the same bytes.
"""

from __future__ import annotations

import msgpack
import numpy as np

_REFUSED_KINDS = ("O", "V", "c")


def _encode(obj):
    if isinstance(obj, np.ndarray | np.generic) and obj.dtype.kind in _REFUSED_KINDS:
        raise ValueError(f"cannot send dtype {obj.dtype}")
    if isinstance(obj, np.ndarray):
        array = np.ascontiguousarray(obj)
        return {b"__ndarray__": True, b"data": array.tobytes(), b"dtype": array.dtype.str, b"shape": array.shape}
    if isinstance(obj, np.generic):
        return {b"__npgeneric__": True, b"data": obj.item(), b"dtype": obj.dtype.str}
    return obj


def _decode(obj: dict):
    if b"__ndarray__" in obj:
        dtype = np.dtype(obj[b"dtype"])
        if dtype.kind in _REFUSED_KINDS:
            raise ValueError(f"refused dtype {dtype}")
        return np.ndarray(buffer=obj[b"data"], dtype=dtype, shape=tuple(obj[b"shape"]))
    if b"__npgeneric__" in obj:
        return np.dtype(obj[b"dtype"]).type(obj[b"data"])
    return obj


def pack(obj) -> bytes:
    """Python/numpy object -> bytes."""
    return msgpack.packb(obj, default=_encode)


def unpack(data: bytes):
    """Bytes -> Python/numpy object (arrays are read-only views of the message)."""
    return msgpack.unpackb(data, object_hook=_decode)
