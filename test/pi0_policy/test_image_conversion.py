import io
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image as PILImage

from pi0_policy.image_conversion import ImageConversionError, compressed_to_rgb, image_to_rgb


def raw(rgb: np.ndarray, encoding: str, pad: int = 0, bigendian: bool = False):
    """An Image-like message of rgb in the given encoding, rows padded by `pad` bytes."""
    h, w, _ = rgb.shape
    if encoding == 'rgb8':
        px = rgb
    elif encoding == 'bgr8':
        px = rgb[..., ::-1]
    elif encoding == 'rgba8':
        px = np.concatenate([rgb, np.full((h, w, 1), 255, np.uint8)], axis=-1)
    elif encoding == 'mono8':
        px = rgb[..., :1]
    elif encoding == 'rgb16':
        px = (rgb.astype(np.uint16) << 8).astype('>u2' if bigendian else '<u2')
    rows = px.reshape(h, -1).view(np.uint8).reshape(h, -1)
    step = rows.shape[1] + pad
    data = np.zeros((h, step), np.uint8)
    data[:, :rows.shape[1]] = rows
    return SimpleNamespace(encoding=encoding, height=h, width=w, step=step, is_bigendian=int(bigendian),
                           data=data.tobytes())


@pytest.fixture
def rgb():
    return np.random.default_rng(0).integers(0, 255, (5, 7, 3), dtype=np.uint8)


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'rgba8'])
@pytest.mark.parametrize('pad', [0, 3])
def test_colour_encodings_and_row_padding(rgb, encoding, pad):
    assert np.array_equal(image_to_rgb(raw(rgb, encoding, pad)), rgb)


def test_mono8_becomes_grey_rgb(rgb):
    out = image_to_rgb(raw(rgb, 'mono8', pad=1))
    assert np.array_equal(out, np.repeat(rgb[..., :1], 3, axis=-1))


@pytest.mark.parametrize('bigendian', [False, True])
def test_16_bit_keeps_the_high_byte(rgb, bigendian):
    assert np.array_equal(image_to_rgb(raw(rgb, 'rgb16', bigendian=bigendian)), rgb)


def test_unknown_encoding_is_named(rgb):
    msg = raw(rgb, 'rgb8')
    msg.encoding = 'yuv422'
    with pytest.raises(ImageConversionError, match="'yuv422'"):
        image_to_rgb(msg)


def test_wrong_data_size_is_refused(rgb):
    msg = raw(rgb, 'rgb8')
    msg.data = msg.data[:-1]
    with pytest.raises(ImageConversionError, match='bytes of data'):
        image_to_rgb(msg)
    msg = raw(rgb, 'rgb8')
    msg.step = 3
    with pytest.raises(ImageConversionError, match='step'):
        image_to_rgb(msg)


@pytest.mark.parametrize('fmt, pil_format', [('rgb8; jpeg compressed bgr8', 'JPEG'), ('png', 'PNG')])
def test_compressed_images_decode_to_rgb(fmt, pil_format):
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[:, :8] = (200, 30, 30)          # red left half, blue right half
    rgb[:, 8:] = (30, 60, 200)
    buf = io.BytesIO()
    PILImage.fromarray(rgb).save(buf, format=pil_format)
    out = compressed_to_rgb(SimpleNamespace(format=fmt, data=buf.getvalue()))
    assert out.shape == (16, 16, 3)
    tol = 12 if pil_format == 'JPEG' else 0          # JPEG is lossy; compare away from the colour edge
    assert np.abs(out[:, :5].astype(int) - rgb[:, :5]).max() <= tol
    assert np.abs(out[:, 11:].astype(int) - rgb[:, 11:]).max() <= tol


def test_corrupt_compressed_data_is_refused():
    with pytest.raises(ImageConversionError, match='does not decode'):
        compressed_to_rgb(SimpleNamespace(format='jpeg', data=b'not a jpeg'))
    with pytest.raises(ImageConversionError, match='unsupported compressed format'):
        compressed_to_rgb(SimpleNamespace(format='h264', data=b'\x00'))
