"""Resizing: OpenCV interpolations and a vectorised MATLAB-style bicubic ``imresize``.

Every resize here uses the half-pixel-centre convention (output pixel i covers input
``(i + 0.5) / scale - 0.5``), so all of them keep the image aligned with the HR grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from bsrgan.degradation.validation import check_image

#: The release draws ``random.choice([1, 2, 3])`` = cv2.INTER_LINEAR / INTER_CUBIC / INTER_AREA.
CV2_METHODS = {"linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC, "area": cv2.INTER_AREA}
#: ``matlab_bicubic`` is :func:`imresize` (MATLAB ``imresize(..., 'bicubic')``, antialiased).
METHODS = (*CV2_METHODS, "matlab_bicubic")


@dataclass(frozen=True)
class ResizeParams:
    """Resize to exactly (height, width) with ``method`` from :data:`METHODS`; clip to [0, 1]."""

    height: int
    width: int
    method: str

    def __post_init__(self) -> None:
        if self.height < 1 or self.width < 1:
            raise ValueError(f"resize target must be >= 1 px, got {self.height}x{self.width}")
        if self.method not in METHODS:
            raise ValueError(f"unknown resize method {self.method!r}; expected one of {METHODS}")


def sample_cv2_method(rng: np.random.Generator) -> str:
    """Uniform draw from the three OpenCV interpolations the release uses."""
    return tuple(CV2_METHODS)[int(rng.integers(len(CV2_METHODS)))]


def apply_resize(img: np.ndarray, params: ResizeParams) -> np.ndarray:
    """(H, W, 3) float32 [0, 1] -> (height, width, 3) float32 [0, 1]."""
    img = check_image(img)
    if params.method == "matlab_bicubic":
        out = imresize(img, output_shape=(params.height, params.width))
    else:
        out = cv2.resize(
            img, (params.width, params.height), interpolation=CV2_METHODS[params.method]
        )
        out = out.reshape(params.height, params.width, img.shape[2])
    return np.clip(out, 0.0, 1.0, out=out)


def _cubic(x: np.ndarray) -> np.ndarray:
    """MATLAB's bicubic kernel (Keys, a = -0.5)."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


@lru_cache(maxsize=64)
def resize_matrix(in_len: int, out_len: int, scale: float, antialiasing: bool = True) -> np.ndarray:
    """(out_len, in_len) float32 matrix of MATLAB ``imresize`` bicubic weights along one axis.

    Out-of-range taps are folded back with MATLAB's symmetric (edge-repeating) boundary.
    Cached and read-only.
    """
    kernel_width = 4.0
    shrink = scale < 1 and antialiasing
    if shrink:
        kernel_width /= scale
    x = np.arange(1, out_len + 1, dtype=np.float64)  # MATLAB's 1-based coordinates
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    taps = int(np.ceil(kernel_width)) + 2
    idx = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    dist = u[:, None] - idx
    weights = scale * _cubic(dist * scale) if shrink else _cubic(dist)
    weights /= weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
    src = mirror[np.mod(idx.astype(np.int64) - 1, 2 * in_len)]
    m = np.zeros((out_len, in_len), dtype=np.float64)
    np.add.at(m, (np.repeat(np.arange(out_len), taps), src.ravel()), weights.ravel())
    m = m.astype(np.float32)
    m.flags.writeable = False
    return m


def imresize(
    img: np.ndarray,
    scale: float | None = None,
    output_shape: tuple[int, int] | None = None,
    antialiasing: bool = True,
) -> np.ndarray:
    """MATLAB ``imresize(img, scale, 'bicubic')`` (antialiased when shrinking), vectorised.

    Two matrix products (rows, then columns) replace the release's per-pixel loops
    (``imresize_np``). Give ``scale`` (output size ``ceil(scale * size)``) or ``output_shape``
    (height, width), as MATLAB does; with both, the scale sets the kernel and the shape the size.

    Args:
        img: (H, W, C) or (H, W) float array.

    Returns:
        float32 array of the new size; values may overshoot [0, 1] (bicubic ringing), callers clip.
    """
    if scale is None and output_shape is None:
        raise ValueError("imresize: give scale or output_shape")
    if img.ndim not in (2, 3):
        raise ValueError(f"imresize: expected (H, W) or (H, W, C), got shape {img.shape}")
    h, w = img.shape[:2]
    if output_shape is None:
        if not scale > 0:
            raise ValueError(f"imresize: scale must be > 0, got {scale!r}")
        output_shape = (int(np.ceil(h * scale)), int(np.ceil(w * scale)))
        scales = (float(scale), float(scale))
    else:
        scales = (output_shape[0] / h, output_shape[1] / w) if scale is None else (scale, scale)
    oh, ow = int(output_shape[0]), int(output_shape[1])
    if oh < 1 or ow < 1:
        raise ValueError(f"imresize: output size must be >= 1 px, got {oh}x{ow}")
    x = np.asarray(img, dtype=np.float32)
    squeeze = x.ndim == 2
    if squeeze:
        x = x[..., None]
    c = x.shape[2]
    mh = resize_matrix(h, oh, scales[0], antialiasing)
    mw = resize_matrix(w, ow, scales[1], antialiasing)
    rows = (mh @ x.reshape(h, w * c)).reshape(oh, w, c)  # MATLAB resizes dim 1 first
    out = np.ascontiguousarray((rows.transpose(0, 2, 1) @ mw.T).transpose(0, 2, 1))
    return out[..., 0] if squeeze else out
