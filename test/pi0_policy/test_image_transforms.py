"""Resize-with-pad like openpi (PIL bilinear, centred black padding) and the [-1, 1] pixel range."""

import numpy as np
import pytest
from PIL import Image

from pi0_policy.image_transforms import check_image, resize_with_pad, to_model_pixels


def _image(h, w, seed=0):
    return np.random.default_rng(seed).integers(1, 256, size=(h, w, 3), dtype=np.uint8)


def test_wide_image_is_padded_top_and_bottom():
    img = _image(480, 640)
    out = resize_with_pad(img, 224, 224)
    assert out.shape == (224, 224, 3) and out.dtype == np.uint8
    # 640x480 -> ratio 2.857 -> 224x168, 28 black rows above and below.
    assert not out[:28].any() and not out[196:].any()
    expected = np.asarray(Image.fromarray(img).resize((224, 168), resample=Image.BILINEAR))
    np.testing.assert_array_equal(out[28:196], expected)


def test_tall_image_is_padded_left_and_right_with_the_odd_pixel_last():
    out = resize_with_pad(_image(100, 41), 64, 64)
    # ratio 100/64 -> 64 x int(41 / 1.5625) = 26 wide; (64 - 26) // 2 = 19 columns left, 19 right.
    assert not out[:, :19].any() and out[:, 19:45].all() and not out[:, 45:].any()
    out = resize_with_pad(_image(100, 43), 64, 64)  # 27 wide: 18 left, 19 right
    assert not out[:, :18].any() and not out[:, 45:].any() and out[:, 18].any() and out[:, 44].any()


def test_right_size_is_returned_as_is():
    img = _image(64, 64)
    assert resize_with_pad(img, 64, 64) is img


def test_model_pixels_are_chw_in_minus_one_one():
    img = np.zeros((2, 3, 3), np.uint8)
    img[0, 0] = 255
    px = to_model_pixels(img)
    assert px.shape == (3, 2, 3) and px.dtype == np.float32
    assert px.min() == -1.0 and px.max() == 1.0 and (px[:, 0, 0] == 1.0).all()


@pytest.mark.parametrize("bad", [
    np.zeros((4, 4, 3), np.float32), np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8),
    np.zeros((0, 4, 3), np.uint8), [[0, 0, 0]],
])
def test_malformed_images_are_refused(bad):
    with pytest.raises(ValueError, match="HxWx3 uint8|numpy array"):
        check_image(bad)
