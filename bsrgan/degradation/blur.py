"""Gaussian blur op: isotropic or anisotropic kernel, applied in the current image space.

Release (``add_blur``): with p = 0.5 anisotropic, size 2*U{2..11}+3, theta ~ U(0, pi),
eigen-variances l1, l2 ~ (4 + sf) * U(0, 1); else isotropic, same sizes,
sigma ~ (2 + 0.2 sf) * U(0, 1). Mirror (reflect-101) borders.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bsrgan.degradation.filtering import convolve_reflect101, convolve_separable_reflect101
from bsrgan.degradation.kernels import (
    anisotropic_gaussian,
    gaussian_1d,
    isotropic_gaussian,
    trim_kernel,
)
from bsrgan.degradation.validation import check_image, check_scale_factor

ANISOTROPIC_PROB = 0.5
KERNEL_HALF_SIZES = (2, 11)  # size = 2 * U{2..11} + 3 -> 7..25
BLUR_KINDS = ("anisotropic", "isotropic")


@dataclass(frozen=True)
class BlurParams:
    """One blur draw. ``kind`` is "anisotropic" (theta, l1, l2 used) or "isotropic" (sigma)."""

    kind: str
    size: int
    sigma: float = 0.0
    theta: float = 0.0
    l1: float = 0.0
    l2: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in BLUR_KINDS:
            raise ValueError(
                f"BlurParams.kind must be 'anisotropic' or 'isotropic', got {self.kind!r}"
            )


def sample_blur(rng: np.random.Generator, sf: int = 4) -> BlurParams:
    """Draw blur parameters for scale factor ``sf`` (release ``add_blur``)."""
    sf = check_scale_factor(sf)
    if rng.random() < ANISOTROPIC_PROB:
        l1 = (4.0 + sf) * rng.random()
        l2 = (4.0 + sf) * rng.random()
        size = 2 * int(rng.integers(KERNEL_HALF_SIZES[0], KERNEL_HALF_SIZES[1] + 1)) + 3
        theta = float(rng.random() * np.pi)
        return BlurParams("anisotropic", size, theta=theta, l1=float(l1), l2=float(l2))
    size = 2 * int(rng.integers(KERNEL_HALF_SIZES[0], KERNEL_HALF_SIZES[1] + 1)) + 3
    sigma = (2.0 + 0.2 * sf) * rng.random()
    return BlurParams("isotropic", size, sigma=float(sigma))


def blur_kernel(params: BlurParams) -> np.ndarray:
    """The (size, size) float64 kernel of a draw, summing to 1."""
    if params.kind == "anisotropic":
        return anisotropic_gaussian(params.size, params.theta, params.l1, params.l2)
    return isotropic_gaussian(params.size, params.sigma)


def apply_blur(img: np.ndarray, params: BlurParams) -> np.ndarray:
    """Blur (H, W, 3) float32 [0, 1] -> (H, W, 3) float32 [0, 1].

    Isotropic kernels run as two 1-D passes, anisotropic ones as one 2-D pass; negligible
    outer taps are trimmed (:func:`~bsrgan.degradation.kernels.trim_kernel`). The kernel is convex,
    so only float rounding can leave [0, 1]; that is clipped away.
    """
    img = check_image(img)
    if params.kind == "isotropic":
        g = trim_kernel(gaussian_1d(params.size, params.sigma))
        out = convolve_separable_reflect101(img, g, g)
    else:
        out = convolve_reflect101(img, trim_kernel(blur_kernel(params)))
    return np.clip(out, 0.0, 1.0, out=out)
