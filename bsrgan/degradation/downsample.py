"""Downsampling by blurring with a shifted Gaussian and keeping every sf-th pixel.

Release (``degradation_bsrgan``, downsample-2, p = 0.25): 25x25 Gaussian with
sigma ~ U(0.1, 0.6 sf), shifted by (sf - 1) / 2 px (``shift_pixel``) so that LR pixel m samples
HR position ``sf*m + (sf-1)/2`` (aligned with the HR grid, like bicubic/area resizing), then
nearest downsampling ``img[0::sf, 0::sf]``. Output (ceil(H/sf), ceil(W/sf), 3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bsrgan.degradation.filtering import convolve_separable_reflect101
from bsrgan.degradation.kernels import gaussian_1d, isotropic_gaussian, shift_kernel
from bsrgan.degradation.validation import check_image, check_scale_factor

KERNEL_SIZE = 25
SIGMA_LOW, SIGMA_HIGH_PER_SF = 0.1, 0.6


@dataclass(frozen=True)
class ShiftedDownsampleParams:
    """Gaussian ``sigma`` (HR px), scale factor ``sf``, kernel ``size``."""

    sigma: float
    sf: int
    size: int = KERNEL_SIZE

    def __post_init__(self) -> None:
        object.__setattr__(self, "sf", check_scale_factor(self.sf))


def sample_shifted_downsample(rng: np.random.Generator, sf: int) -> ShiftedDownsampleParams:
    """sigma ~ U(0.1, 0.6 sf)."""
    sf = check_scale_factor(sf)
    return ShiftedDownsampleParams(float(rng.uniform(SIGMA_LOW, SIGMA_HIGH_PER_SF * sf)), sf)


def shifted_kernel(params: ShiftedDownsampleParams) -> np.ndarray:
    """The (size, size) shifted Gaussian, summing to 1."""
    return shift_kernel(isotropic_gaussian(params.size, params.sigma), params.sf)


def apply_shifted_downsample(img: np.ndarray, params: ShiftedDownsampleParams) -> np.ndarray:
    """(H, W, 3) float32 [0, 1] -> (ceil(H/sf), ceil(W/sf), 3) float32 [0, 1].

    The shifted Gaussian is separable (the bilinear shift acts on each axis alone), so this runs
    as a vertical 1-D pass on the full image, keeps every sf-th row, then a horizontal pass on
    those rows only.
    """
    img = check_image(img)
    sf = params.sf
    g = shift_kernel(gaussian_1d(params.size, params.sigma), sf)
    one = np.ones(1)
    rows = convolve_separable_reflect101(img, g, one)[::sf]
    out = convolve_separable_reflect101(np.ascontiguousarray(rows), one, g)[:, ::sf]
    return np.clip(out, 0.0, 1.0)
