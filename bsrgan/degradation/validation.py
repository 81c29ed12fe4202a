"""Input checks shared by every degradation op (one clear error instead of a cv2 traceback)."""

from __future__ import annotations

import numpy as np

#: Values may leave [0, 1] by float rounding only; anything beyond this is a caller bug.
RANGE_TOLERANCE = 1e-4


def check_image(img: object, name: str = "img") -> np.ndarray:
    """Validate an RGB image and return it as float32 (no copy when it already is).

    Args:
        img: (H, W, 3) floating array with values in [0, 1].
        name: how the error message calls the argument.

    Raises:
        TypeError: not a numpy array.
        ValueError: wrong shape, integer dtype, non-finite or out-of-range values.
    """
    if not isinstance(img, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array (H, W, 3), got {type(img).__name__}")
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"{name}: expected shape (H, W, 3) RGB, got {img.shape}")
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f"{name}: empty image of shape {img.shape}")
    if not np.issubdtype(img.dtype, np.floating):
        raise ValueError(
            f"{name}: expected a float image in [0, 1], got dtype {img.dtype} "
            "(convert uint8 with img.astype(np.float32) / 255)"
        )
    img = img.astype(np.float32, copy=False)
    lo, hi = float(img.min()), float(img.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    if lo < -RANGE_TOLERANCE or hi > 1.0 + RANGE_TOLERANCE:
        raise ValueError(f"{name}: values must lie in [0, 1], got range [{lo:.4g}, {hi:.4g}]")
    return img


def check_scale_factor(sf: object) -> int:
    """Return ``sf`` as int; raise ValueError unless it is an integer >= 1."""
    if isinstance(sf, bool) or not isinstance(sf, (int, np.integer)) or sf < 1:
        raise ValueError(f"sf: expected an integer scale factor >= 1, got {sf!r}")
    return int(sf)
