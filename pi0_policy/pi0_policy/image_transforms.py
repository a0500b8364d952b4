"""Camera images -> model pixels, as openpi prepares them.

openpi resizes uint8 images with PIL bilinear and pads them, centred, with black to the model size
(``openpi_client/image_tools.py`` ``resize_with_pad``), then maps uint8 to [-1, 1] with x/255·2 − 1
(``models/model.py`` ``Observation.from_dict``). LeRobot resizes [0, 1] floats with torch instead, which
gives slightly different pixels for downscaled images; we follow openpi.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def check_image(image: np.ndarray, name: str = "image") -> None:
    """Raise ValueError unless ``image`` is an H×W×3 uint8 RGB array with H, W >= 1."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise ValueError(f"{name} must be HxWx3 uint8 RGB, got {image.dtype} {image.shape}")


def resize_with_pad(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize keeping the aspect ratio, then pad centred with black to height × width.

    Args:
        image: uint8 [H, W, 3].

    Returns:
        uint8 [height, width, 3]; the input itself when it already has that size.
    """
    check_image(image)
    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image
    ratio = max(w / width, h / height)
    new_h, new_w = int(h / ratio), int(w / ratio)  # int() truncates, as openpi
    resized = np.asarray(Image.fromarray(image).resize((new_w, new_h), resample=Image.BILINEAR))
    out = np.zeros((height, width, 3), dtype=np.uint8)
    top, left = (height - new_h) // 2, (width - new_w) // 2  # the odd pixel goes to the bottom/right
    out[top : top + new_h, left : left + new_w] = resized
    return out


def to_model_pixels(image: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] -> float32 [3, H, W] in [-1, 1]."""
    check_image(image)
    return (image.astype(np.float32) / 255.0 * 2.0 - 1.0).transpose(2, 0, 1)
