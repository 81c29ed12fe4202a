"""Turn what users pass to a metric (array or path) into float32 RGB (H, W, 3) in [0, 1]."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["ImageLike", "as_rgb", "image_label"]

ImageLike = np.ndarray | str | os.PathLike


def image_label(img: ImageLike) -> str:
    """How an input is named in error messages: its path, or the array shape."""
    if isinstance(img, (str, os.PathLike)):
        return str(img)
    return f"array of shape {getattr(img, 'shape', '?')}"


def _read(path: Path) -> np.ndarray:
    from bsrgan.io import imread

    return imread(path)


def as_rgb(img: ImageLike) -> np.ndarray:
    """Float32 RGB (H, W, 3) in [0, 1] from a path or an array.

    Arrays may be (H, W) or (H, W, 1) gray (repeated to 3 channels), (H, W, 3) RGB or (H, W, 4)
    RGBA (alpha dropped: the metrics score the colour values). uint8 / uint16 arrays are scaled
    by 255 / 65535; float arrays must already lie in [0, 1]. Paths are read with
    ``bsrgan.io.imread`` (gray -> RGB, alpha dropped). Raises ValueError naming the input.
    """
    if isinstance(img, (str, os.PathLike)):
        return _read(Path(img))
    arr = np.asarray(img)
    label = image_label(arr)
    if arr.ndim == 3 and arr.shape[2] in (1, 3, 4):
        arr = arr[..., :3] if arr.shape[2] == 4 else arr
    elif arr.ndim != 2:
        raise ValueError(f"expected an image (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got {label}")
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"unsupported image dtype {arr.dtype} for {label}; use float in [0, 1] or uint8")
    if not np.isfinite(arr).all():
        raise ValueError(f"image ({label}) contains NaN or infinite values")
    low, high = float(arr.min()), float(arr.max())
    if low < -1e-6 or high > 1 + 1e-6:
        raise ValueError(f"float image ({label}) must lie in [0, 1], got values in [{low:.4g}, {high:.4g}]")
    return np.clip(arr, 0.0, 1.0).astype(np.float32, copy=False)
