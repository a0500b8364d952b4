"""sensor_msgs/Image and CompressedImage to RGB numpy arrays, without cv_bridge.

Honours ``step`` (rows may be padded), the common colour encodings and big-endian 16-bit data, and
decodes JPEG/PNG compressed images with Pillow. Anything else is refused with an error that names
the encoding, so a camera with an unexpected format never feeds the policy garbage.

Pure Python: messages are read by attribute, nothing from rclpy is imported.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image as PILImage

# encoding -> (channels, dtype, how to get RGB from the channels)
_ENCODINGS = {
    'rgb8': (3, np.uint8, lambda a: a),
    'bgr8': (3, np.uint8, lambda a: a[..., ::-1]),
    'rgba8': (4, np.uint8, lambda a: a[..., :3]),
    'bgra8': (4, np.uint8, lambda a: a[..., 2::-1]),
    'mono8': (1, np.uint8, lambda a: np.repeat(a, 3, axis=-1)),
    '8UC1': (1, np.uint8, lambda a: np.repeat(a, 3, axis=-1)),
    '8UC3': (3, np.uint8, lambda a: a),
    'mono16': (1, np.uint16, lambda a: np.repeat((a >> 8).astype(np.uint8), 3, axis=-1)),
    'rgb16': (3, np.uint16, lambda a: (a >> 8).astype(np.uint8)),
    'bgr16': (3, np.uint16, lambda a: (a[..., ::-1] >> 8).astype(np.uint8)),
}
SUPPORTED_ENCODINGS = tuple(_ENCODINGS)


class ImageConversionError(ValueError):
    """The image cannot be converted; the text says why."""


def image_to_rgb(msg) -> np.ndarray:
    """uint8 array [height, width, 3] (RGB) of a sensor_msgs/Image."""
    if msg.encoding not in _ENCODINGS:
        raise ImageConversionError(f'unsupported image encoding {msg.encoding!r}; supported: '
                                   f'{", ".join(SUPPORTED_ENCODINGS)}')
    channels, dtype, to_rgb = _ENCODINGS[msg.encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    pixel_bytes = channels * np.dtype(dtype).itemsize
    if height == 0 or width == 0:
        raise ImageConversionError(f'empty image ({width}x{height})')
    if step < width * pixel_bytes:
        raise ImageConversionError(f'step {step} is smaller than width {width} x {pixel_bytes} bytes per pixel')
    data = np.frombuffer(bytes(msg.data) if not isinstance(msg.data, (bytes, bytearray)) else msg.data,
                         dtype=np.uint8)
    if data.size != height * step:
        raise ImageConversionError(f'{data.size} bytes of data, expected height {height} x step {step} = '
                                   f'{height * step}')
    rows = data.reshape(height, step)[:, :width * pixel_bytes]
    pixels = np.ascontiguousarray(rows).view(np.dtype(dtype).newbyteorder('>' if msg.is_bigendian else '<'))
    pixels = pixels.reshape(height, width, channels).astype(dtype)
    return np.ascontiguousarray(to_rgb(pixels), dtype=np.uint8)


def compressed_to_rgb(msg) -> np.ndarray:
    """uint8 array [height, width, 3] (RGB) of a sensor_msgs/CompressedImage (JPEG or PNG)."""
    fmt = (msg.format or '').lower()
    if fmt and not any(k in fmt for k in ('jpeg', 'jpg', 'png')):
        raise ImageConversionError(f'unsupported compressed format {msg.format!r}; expected jpeg or png')
    try:
        with PILImage.open(io.BytesIO(bytes(msg.data))) as img:
            if img.format not in ('JPEG', 'PNG'):
                raise ImageConversionError(f'compressed data is {img.format}, expected JPEG or PNG')
            rgb = np.asarray(img.convert('RGB'))
    except (OSError, SyntaxError) as e:
        raise ImageConversionError(f'compressed image does not decode: {e}') from None
    # image_transport's "<enc>; jpeg compressed bgr8" JPEGs are encoded by OpenCV from BGR data, which
    # writes a standard JPEG: decoded here it is already RGB, whatever the original encoding was.
    return np.ascontiguousarray(rgb)
