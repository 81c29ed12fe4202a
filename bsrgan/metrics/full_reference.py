"""PSNR and SSIM as the super-resolution literature computes them (BasicSR / MATLAB conventions).

Both take float images in [0, 1] of equal shape, crop ``crop_border`` pixels per border, and by
default score the Y channel of BT.601 YCbCr (:func:`~bsrgan.metrics.color.rgb_to_y_bt601`, not
rounded). SSIM is Wang et al.'s with an 11 x 11 Gaussian window (sigma 1.5) on 0-255 values,
``C1 = (0.01 * 255)^2``, ``C2 = (0.03 * 255)^2``, averaged over the fully covered ("valid")
positions; for RGB the per-channel SSIMs are averaged.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import correlate1d

from .base import Metric, MetricInfo
from .color import rgb_to_y_bt601
from .inputs import ImageLike, as_rgb

__all__ = ["PSNR_INFO", "SSIM_INFO", "PSNRMetric", "SSIMMetric", "prepare_pair", "psnr", "ssim"]

_SSIM_RADIUS = 5
_SSIM_SIGMA = 1.5


def prepare_pair(
    img: np.ndarray, ref: np.ndarray, *, crop_border: int = 0, y_channel: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Validate, crop and colour-convert a pair; returns float64 (H, W) or (H, W, 3) in [0, 1]."""
    a = np.asarray(img, dtype=np.float64)
    b = np.asarray(ref, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"image and reference shapes differ: {a.shape} vs {b.shape}")
    if a.ndim == 3 and a.shape[2] == 1:
        a, b = a[..., 0], b[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3):
        raise ValueError(f"expected (H, W) or (H, W, 3) images, got shape {a.shape}")
    if crop_border < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}")
    if crop_border:
        if min(a.shape[:2]) <= 2 * crop_border:
            raise ValueError(f"image of {a.shape[0]}x{a.shape[1]} px is too small for crop_border={crop_border}")
        a = a[crop_border:-crop_border, crop_border:-crop_border]
        b = b[crop_border:-crop_border, crop_border:-crop_border]
    if y_channel and a.ndim == 3:
        a, b = rgb_to_y_bt601(a), rgb_to_y_bt601(b)
    return a, b


def psnr(img: np.ndarray, ref: np.ndarray, *, crop_border: int = 0, y_channel: bool = True) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1] (peak 1); ``inf`` when identical.

    img, ref: (H, W, 3) RGB or (H, W) float in [0, 1]. ``y_channel`` scores BT.601 Y of RGB input.
    """
    a, b = prepare_pair(img, ref, crop_border=crop_border, y_channel=y_channel)
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(1.0 / mse))


def _gaussian_1d() -> np.ndarray:
    x = np.arange(-_SSIM_RADIUS, _SSIM_RADIUS + 1, dtype=np.float64)
    g = np.exp(-(x * x) / (2 * _SSIM_SIGMA**2))
    return g / g.sum()


def _ssim_plane(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two (H, W) planes in 0-255, mean over valid window positions."""
    g = _gaussian_1d()
    r = _SSIM_RADIUS

    def blur(x: np.ndarray) -> np.ndarray:
        return correlate1d(correlate1d(x, g, axis=0, mode="reflect"), g, axis=1, mode="reflect")[r:-r, r:-r]

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())


def ssim(img: np.ndarray, ref: np.ndarray, *, crop_border: int = 0, y_channel: bool = True) -> float:
    """Structural similarity (1 when identical), same inputs and conventions as :func:`psnr`.

    Needs at least 11 x 11 pixels after cropping.
    """
    a, b = prepare_pair(img, ref, crop_border=crop_border, y_channel=y_channel)
    if min(a.shape[:2]) < 2 * _SSIM_RADIUS + 1:
        raise ValueError(f"SSIM needs at least 11x11 pixels after cropping, got {a.shape[0]}x{a.shape[1]}")
    a, b = a * 255.0, b * 255.0
    if a.ndim == 2:
        return _ssim_plane(a, b)
    return float(np.mean([_ssim_plane(a[..., c], b[..., c]) for c in range(a.shape[2])]))


# --- metric objects for the factory -------------------------------------------------------------

PSNR_INFO = MetricInfo("psnr", False, True, (0.0, float("inf")), "PSNR in dB (peak 1); higher is better")
SSIM_INFO = MetricInfo("ssim", False, True, (-1.0, 1.0),
                       "SSIM, 11x11 Gaussian window sigma 1.5 on 0-255; higher is better")
COLORS = ("y", "rgb")


class _PairMetric(Metric):
    _fn = staticmethod(psnr)

    def __init__(self, info: MetricInfo, color: str = "y", crop_border: int = 0) -> None:
        if color not in COLORS:
            raise ValueError(f"color must be one of {COLORS} (BT.601 Y or RGB), got {color!r}")
        if crop_border < 0:
            raise ValueError(f"crop_border must be >= 0, got {crop_border}")
        super().__init__(info, color=color, crop_border=int(crop_border))

    def score_pair(self, img: ImageLike, ref: ImageLike) -> float:
        return self._fn(as_rgb(img), as_rgb(ref), crop_border=self.settings["crop_border"],
                        y_channel=self.settings["color"] == "y")


class PSNRMetric(_PairMetric):
    """``create("psnr", color="y"|"rgb", crop_border=4)``; ``m(img, ref) -> dB``."""

    _fn = staticmethod(psnr)

    def __init__(self, color: str = "y", crop_border: int = 0) -> None:
        super().__init__(PSNR_INFO, color, crop_border)


class SSIMMetric(_PairMetric):
    """``create("ssim", color="y"|"rgb", crop_border=4)``; ``m(img, ref) -> SSIM``."""

    _fn = staticmethod(ssim)

    def __init__(self, color: str = "y", crop_border: int = 0) -> None:
        super().__init__(SSIM_INFO, color, crop_border)
