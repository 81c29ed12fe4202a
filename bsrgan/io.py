"""Image I/O: every image in the package enters as float32 RGB in [0, 1] and leaves atomically.

``imread`` decodes with OpenCV (8/16-bit PNG and TIFF, JPEG, BMP, WebP), applies the JPEG/TIFF/WebP
EXIF orientation (OpenCV's ``IMREAD_UNCHANGED`` ignores it), converts gray to 3 channels and
drops alpha unless asked for. Every failure — missing, empty, truncated or non-image file —
raises :class:`ImageReadError`, whose message names the file and the reason.
"""
from __future__ import annotations

import io as _io
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from bsrgan.utils.atomic import atomic_write_bytes

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
)
_EXIF_ORIENTATION_TAG = 0x0112
_LOSSLESS_16BIT = frozenset({".png", ".tif", ".tiff"})


class ImageReadError(ValueError):
    """An image file could not be read; the message names the file and the reason."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot read image {self.path}: {reason}")


@dataclass(frozen=True)
class ImageData:
    """A decoded image with what is needed to write it back faithfully.

    Attributes:
        rgb: float32 (H, W, 3) in [0, 1] (gray images repeated over 3 channels).
        alpha: float32 (H, W) in [0, 1], or None when the file has no alpha channel.
        bit_depth: 8 or 16 (bits per channel of the file; 32 for float TIFF).
        is_gray: True when the file stores a single colour channel.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    bit_depth: int
    is_gray: bool


def imread(
    path: str | os.PathLike[str], *, with_alpha: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray | None]:
    """Read an image as float32 RGB (H, W, 3) in [0, 1].

    With ``with_alpha=True`` returns ``(rgb, alpha)`` where alpha is float32 (H, W) in [0, 1]
    or None. Raises :class:`ImageReadError` for missing, empty, truncated or non-image files.
    """
    data = imread_raw(path)
    return (data.rgb, data.alpha) if with_alpha else data.rgb


def imread_raw(path: str | os.PathLike[str]) -> ImageData:
    """Read an image and keep its alpha channel, bit depth and gray-ness (see :class:`ImageData`)."""
    path = Path(path)
    encoded = _read_bytes(path)
    decoded = cv2.imdecode(np.frombuffer(encoded, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.size == 0:
        raise ImageReadError(path, "not a decodable image (unknown format or corrupt data)")
    _check_not_truncated(path, encoded)
    decoded = _apply_exif_orientation(decoded, _exif_orientation(encoded))
    return _to_image_data(path, decoded)


def imread_pixels(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode an image to RGB (H, W, 3) in its stored sample type, with no float conversion.

    uint8 for 8-bit files, uint16 for 16-bit PNG/TIFF, float32 for float TIFF; EXIF orientation
    applied, gray repeated over 3 channels (a broadcast view), alpha dropped. The result may be a
    read-only, non-contiguous view of the decoded buffer (OpenCV's BGR order reversed): crop it
    first and copy the crop, so that a crop of a large image costs only the decode. The training
    loader and ``bsrgan prepare`` read images this way. Raises :class:`ImageReadError`.
    """
    path = Path(path)
    encoded = _read_bytes(path)
    decoded = cv2.imdecode(np.frombuffer(encoded, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.size == 0:
        raise ImageReadError(path, "not a decodable image (unknown format or corrupt data)")
    _check_not_truncated(path, encoded)
    decoded = _apply_exif_orientation(decoded, _exif_orientation(encoded))
    if decoded.dtype not in (np.uint8, np.uint16, np.float32):
        raise ImageReadError(path, f"unsupported pixel type {decoded.dtype}")
    if decoded.ndim == 3 and decoded.shape[2] in (1, 2):  # gray (+ alpha)
        decoded = decoded[:, :, 0]
    if decoded.ndim == 2:
        return np.broadcast_to(decoded[:, :, None], (*decoded.shape, 3))
    if decoded.shape[2] == 3:
        return decoded[:, :, ::-1]
    if decoded.shape[2] == 4:
        return decoded[:, :, 2::-1]
    raise ImageReadError(path, f"unsupported channel count {decoded.shape[2]}")


def as_uint8(pixels: np.ndarray) -> np.ndarray:
    """Samples from :func:`imread_pixels` as contiguous uint8 (16-bit and float rounded).

    uint16 ``x`` becomes ``round(x / 257)``; float becomes ``round(clip(x, 0, 1) * 255)``.
    """
    if pixels.dtype == np.uint8:
        return np.ascontiguousarray(pixels)
    if pixels.dtype == np.uint16:
        return ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return np.rint(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)


def imread_uint8(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image as contiguous uint8 RGB (H, W, 3); see :func:`imread_pixels`."""
    return as_uint8(imread_pixels(path))


def imwrite(
    path: str | os.PathLike[str],
    img: np.ndarray,
    *,
    bit_depth: int = 8,
    jpeg_quality: int = 95,
) -> Path:
    """Write a float image in [0, 1] atomically; the format follows the file extension.

    Args:
        path: target file (.png, .jpg, .bmp, .tif, .webp). Parent folders are created.
        img: float (H, W), (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA; values are clipped to [0, 1].
        bit_depth: 8, or 16 for PNG/TIFF.
        jpeg_quality: JPEG/WebP quality when writing those formats.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in IMAGE_EXTENSIONS:
        raise ValueError(f"cannot write {path}: unsupported extension {ext!r}")
    if bit_depth not in (8, 16):
        raise ValueError(f"cannot write {path}: bit_depth must be 8 or 16, got {bit_depth}")
    if bit_depth == 16 and ext not in _LOSSLESS_16BIT:
        raise ValueError(f"cannot write {path}: 16-bit output needs .png or .tif, not {ext}")
    img = np.asarray(img)
    if not np.issubdtype(img.dtype, np.floating):
        raise TypeError(f"cannot write {path}: expected a float image in [0, 1], got {img.dtype}")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)):
        raise ValueError(f"cannot write {path}: expected (H, W), (H, W, 3) or (H, W, 4), got {img.shape}")
    scale, dtype = (255.0, np.uint8) if bit_depth == 8 else (65535.0, np.uint16)
    quantised = np.rint(np.clip(img, 0.0, 1.0) * scale).astype(dtype)
    if quantised.ndim == 3:
        code = cv2.COLOR_RGB2BGR if quantised.shape[2] == 3 else cv2.COLOR_RGBA2BGRA
        quantised = cv2.cvtColor(quantised, code)
    params: list[int] = []
    if ext in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)]
    elif ext == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, int(jpeg_quality)]
    ok, encoded = cv2.imencode(ext, quantised, params)
    if not ok:
        raise ValueError(f"cannot write {path}: OpenCV could not encode a {quantised.shape} image as {ext}")
    return atomic_write_bytes(path, encoded.tobytes())


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """Sorted image files (by extension, case-insensitive) directly inside ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: {folder}")
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )


# --------------------------------------------------------------------------------------------
def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise ImageReadError(path, "file not found")
    if path.is_dir():
        raise ImageReadError(path, "is a directory, not an image file")
    try:
        encoded = path.read_bytes()
    except OSError as exc:
        raise ImageReadError(path, f"unreadable ({exc.strerror or exc})") from exc
    if not encoded:
        raise ImageReadError(path, "empty file (0 bytes)")
    return encoded


def _check_not_truncated(path: Path, encoded: bytes) -> None:
    """OpenCV decodes truncated JPEGs (grey-filled) without error; catch them by their end marker."""
    tail = encoded[-4096:]
    if encoded[:2] == b"\xff\xd8" and b"\xff\xd9" not in tail:
        raise ImageReadError(path, "truncated JPEG (no end-of-image marker)")
    if encoded[:8] == b"\x89PNG\r\n\x1a\n" and b"IEND" not in tail:
        raise ImageReadError(path, "truncated PNG (no IEND chunk)")


def _exif_orientation(encoded: bytes) -> int:
    """EXIF orientation (1..8) of JPEG/TIFF/WebP data; 1 when absent or unreadable."""
    if not (encoded[:2] == b"\xff\xd8" or encoded[:4] in (b"II*\x00", b"MM\x00*") or encoded[8:12] == b"WEBP"):
        return 1
    try:
        from PIL import Image

        with Image.open(_io.BytesIO(encoded)) as pil:
            value = pil.getexif().get(_EXIF_ORIENTATION_TAG, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not make a valid image unreadable
        return 1
    return int(value) if value in range(1, 9) else 1


def _apply_exif_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """Rotate/flip (H, W[, C]) pixels so that they display upright (EXIF 2..8)."""
    if orientation == 2:
        img = img[:, ::-1]
    elif orientation == 3:
        img = img[::-1, ::-1]
    elif orientation == 4:
        img = img[::-1]
    elif orientation == 5:
        img = np.swapaxes(img, 0, 1)
    elif orientation == 6:
        img = np.rot90(img, k=-1)
    elif orientation == 7:
        img = np.swapaxes(img, 0, 1)[::-1, ::-1]
    elif orientation == 8:
        img = np.rot90(img, k=1)
    return np.ascontiguousarray(img)


def _to_image_data(path: Path, decoded: np.ndarray) -> ImageData:
    if decoded.dtype == np.uint8:
        scale, bit_depth = 255.0, 8
    elif decoded.dtype == np.uint16:
        scale, bit_depth = 65535.0, 16
    elif decoded.dtype == np.float32:
        scale, bit_depth = 1.0, 32
    else:
        raise ImageReadError(path, f"unsupported pixel type {decoded.dtype}")
    img = decoded.astype(np.float32) / np.float32(scale)
    if bit_depth == 32:
        img = np.clip(img, 0.0, 1.0)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    alpha = None
    if img.ndim == 2:
        rgb, is_gray = np.repeat(img[:, :, None], 3, axis=2), True
    elif img.shape[2] == 2:  # gray + alpha
        rgb, alpha, is_gray = np.repeat(img[:, :, :1], 3, axis=2), img[:, :, 1], True
    elif img.shape[2] == 3:
        rgb, is_gray = img[:, :, ::-1], False
    elif img.shape[2] == 4:
        rgb, alpha, is_gray = img[:, :, 2::-1], img[:, :, 3], False
    else:
        raise ImageReadError(path, f"unsupported channel count {img.shape[2]}")
    rgb = np.ascontiguousarray(rgb, dtype=np.float32)
    alpha = None if alpha is None else np.ascontiguousarray(alpha, dtype=np.float32)
    return ImageData(rgb=rgb, alpha=alpha, bit_depth=bit_depth, is_gray=is_gray)
