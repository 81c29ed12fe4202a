"""Unsharp masking of the HR image (release ``add_sharpening``, from Real-ESRGAN)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from bsrgan.degradation.validation import check_image


@dataclass(frozen=True)
class SharpenParams:
    """USM: residual ``weight``, Gaussian ``radius`` (px, made odd), ``threshold`` (8-bit units)."""

    weight: float = 0.5
    radius: int = 50
    threshold: float = 10.0

    def __post_init__(self) -> None:
        if self.kernel_size < 1:
            raise ValueError(f"USM radius must be >= 1, got {self.radius!r}")

    @property
    def kernel_size(self) -> int:
        """Side of the Gaussian window: ``radius``, made odd by adding 1 (as the release)."""
        return self.radius + 1 if self.radius % 2 == 0 else self.radius


def apply_sharpen(img: np.ndarray, params: SharpenParams = SharpenParams()) -> np.ndarray:
    """Sharpen where the high-pass residual exceeds the threshold (soft mask).

    out = m * clip(I + w (I - B)) + (1 - m) * I, B = Gaussian blur of I, m = blurred
    indicator of |I - B| * 255 > threshold. (H, W, 3) float32 [0, 1] -> same.
    """
    img = check_image(img)
    radius = params.kernel_size
    blurred = cv2.GaussianBlur(img, (radius, radius), 0)
    residual = img - blurred
    mask = (np.abs(residual) * 255.0 > params.threshold).astype(np.float32)
    soft_mask = cv2.GaussianBlur(mask, (radius, radius), 0)  # (H, W, 3): check_image saw 3 channels
    sharp = np.clip(img + np.float32(params.weight) * residual, 0.0, 1.0)
    out = soft_mask * sharp + (1.0 - soft_mask) * img
    return np.clip(out, 0.0, 1.0, out=out)
