"""bsrgan.io: round trips (8/16-bit, gray, alpha, EXIF orientation) and every error path."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from bsrgan.io import ImageReadError, imread, imread_raw, imwrite, list_images


def _ramp(h: int = 24, w: int = 37) -> np.ndarray:
    """A float32 RGB image with distinct, non-symmetric content in each channel."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([x / (w - 1), y / (h - 1), (x * y) / ((w - 1) * (h - 1))], axis=2)


@pytest.mark.parametrize("ext", [".png", ".bmp", ".tif", ".webp"])
def test_8bit_round_trip_is_exact_on_the_8bit_grid(tmp_path, ext):
    img = np.rint(_ramp() * 255) / 255
    out = imwrite(tmp_path / f"a{ext}", img)
    back = imread(out)
    assert back.dtype == np.float32 and back.shape == img.shape
    tol = 0.0 if ext != ".webp" else 0.08  # webp default is lossy
    np.testing.assert_allclose(back, img, atol=tol + 1e-6)


def test_jpeg_round_trip_is_close(tmp_path):
    img = _ramp(64, 64)
    back = imread(imwrite(tmp_path / "a.jpg", img, jpeg_quality=98))
    assert np.abs(back - img).mean() < 0.01


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16bit_round_trip_keeps_precision(tmp_path, ext):
    img = _ramp()
    data = imread_raw(imwrite(tmp_path / f"a{ext}", img, bit_depth=16))
    assert data.bit_depth == 16
    np.testing.assert_allclose(data.rgb, img, atol=0.5 / 65535 + 1e-7)
    # far finer than the 8-bit grid could represent
    assert np.abs(data.rgb - np.rint(img * 255) / 255).max() > 1e-3


def test_gray_is_read_as_three_equal_channels(tmp_path):
    gray = _ramp()[:, :, 0]
    data = imread_raw(imwrite(tmp_path / "g.png", gray))
    assert data.is_gray and data.rgb.shape == gray.shape + (3,)
    np.testing.assert_allclose(data.rgb[:, :, 0], data.rgb[:, :, 2])
    np.testing.assert_allclose(data.rgb[:, :, 1], np.rint(gray * 255) / 255, atol=1e-6)


def test_alpha_is_dropped_by_default_and_returned_on_request(tmp_path):
    rgb = np.rint(_ramp() * 255) / 255
    alpha = np.linspace(0, 1, rgb.shape[1], dtype=np.float32)[None, :].repeat(rgb.shape[0], 0)
    alpha = np.rint(alpha * 255) / 255
    path = imwrite(tmp_path / "rgba.png", np.dstack([rgb, alpha]))
    assert imread(path).shape == rgb.shape
    got_rgb, got_alpha = imread(path, with_alpha=True)
    np.testing.assert_allclose(got_rgb, rgb, atol=1e-6)
    np.testing.assert_allclose(got_alpha, alpha, atol=1e-6)
    assert imread(imwrite(tmp_path / "rgb.png", rgb), with_alpha=True)[1] is None


def test_channel_order_is_rgb(tmp_path):
    red = np.zeros((4, 4, 3), np.float32)
    red[..., 0] = 1
    imwrite(tmp_path / "red.png", red)
    assert cv2.imread(str(tmp_path / "red.png"))[0, 0].tolist() == [0, 0, 255]  # OpenCV is BGR
    np.testing.assert_array_equal(imread(tmp_path / "red.png")[0, 0], [1, 0, 0])


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(tmp_path, orientation):
    # Distinct quadrants so that every flip/rotation gives a different picture.
    pixels = np.zeros((40, 64, 3), np.uint8)
    pixels[:20, :32] = (255, 0, 0)
    pixels[:20, 32:] = (0, 255, 0)
    pixels[20:, :32] = (0, 0, 255)
    pixels[20:, 32:] = (255, 255, 0)
    pil = Image.fromarray(pixels)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.jpg"
    pil.save(path, quality=95, exif=exif)

    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"), np.float32) / 255
    got = imread(path)
    assert got.shape == expected.shape
    assert np.abs(got - expected).mean() < 0.02
    if orientation in (5, 6, 7, 8):
        assert got.shape[:2] == (64, 40)


def test_imwrite_is_atomic_and_creates_folders(tmp_path):
    target = tmp_path / "deep" / "er" / "x.png"
    imwrite(target, _ramp())
    assert target.exists()
    assert [p.name for p in target.parent.iterdir()] == ["x.png"]  # no temp file left behind
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)  # not mkstemp's private mode


def test_imwrite_failure_leaves_previous_file(tmp_path):
    target = imwrite(tmp_path / "x.png", _ramp())
    before = target.read_bytes()
    with pytest.raises(ValueError, match="expected"):
        imwrite(target, np.zeros((4, 4, 5), np.float32))
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]


@pytest.mark.parametrize(
    "kwargs, args, match",
    [
        ({}, ("x.gif", np.zeros((2, 2, 3), np.float32)), "unsupported extension"),
        ({"bit_depth": 16}, ("x.jpg", np.zeros((2, 2, 3), np.float32)), "16-bit"),
        ({"bit_depth": 12}, ("x.png", np.zeros((2, 2, 3), np.float32)), "bit_depth"),
    ],
)
def test_imwrite_rejects_bad_requests(tmp_path, kwargs, args, match):
    with pytest.raises(ValueError, match=match):
        imwrite(tmp_path / args[0], args[1], **kwargs)


def test_imwrite_rejects_integer_images(tmp_path):
    with pytest.raises(TypeError, match="float"):
        imwrite(tmp_path / "x.png", np.zeros((2, 2, 3), np.uint8))


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_missing_file(tmp_path):
    with pytest.raises(ImageReadError, match="file not found") as err:
        imread(tmp_path / "nope.png")
    assert "nope.png" in str(err.value)


def test_empty_file(tmp_path):
    with pytest.raises(ImageReadError, match="empty file") as err:
        imread(_write(tmp_path / "empty.png", b""))
    assert "empty.png" in str(err.value)


def test_directory(tmp_path):
    with pytest.raises(ImageReadError, match="directory"):
        imread(tmp_path)


def test_not_an_image(tmp_path):
    with pytest.raises(ImageReadError, match="not a decodable image") as err:
        imread(_write(tmp_path / "notes.png", b"this is text, not pixels\n" * 20))
    assert "notes.png" in str(err.value)


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_truncated_files(tmp_path, ext):
    rng = np.random.default_rng(0)
    full = imwrite(tmp_path / f"full{ext}", rng.random((64, 64, 3), dtype=np.float32))
    data = full.read_bytes()
    cut = _write(tmp_path / f"cut{ext}", data[: len(data) * 2 // 3])
    with pytest.raises(ImageReadError, match="truncated|not a decodable") as err:
        imread(cut)
    assert f"cut{ext}" in str(err.value)


def test_unreadable_file(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can read files without read permission")
    path = imwrite(tmp_path / "locked.png", _ramp())
    path.chmod(0)
    with pytest.raises(ImageReadError, match="unreadable"):
        imread(path)


def test_list_images_filters_and_sorts(tmp_path):
    for name in ["b.PNG", "a.jpg", "c.txt", "d.webp"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.png").mkdir()
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.PNG", "d.webp"]
    with pytest.raises(FileNotFoundError, match="missing"):
        list_images(tmp_path / "missing")
