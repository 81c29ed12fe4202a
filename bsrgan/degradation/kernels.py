"""Blur kernels of the BSRGAN degradation model, built vectorised (no per-pixel loops).

All kernels are float64 (k, k) arrays with odd k, non-negative, summing to 1, centred on
pixel ``k // 2``. They follow the authors' release (``cszn/BSRGAN utils/utils_blindsr.py``):
``fspecial_gaussian`` (MATLAB ``fspecial('gaussian')``), ``anisotropic_Gaussian`` and
``shift_pixel``.
"""

from __future__ import annotations

import numpy as np

#: Smallest variance / standard deviation used; a draw of exactly 0 would divide by zero. Below
#: this the kernel is already a discrete delta, so clamping changes nothing measurable.
MIN_SPREAD = 1e-6


def _check_size(size: int) -> int:
    if (
        isinstance(size, bool)
        or not isinstance(size, (int, np.integer))
        or size < 1
        or size % 2 == 0
    ):
        raise ValueError(f"kernel size must be a positive odd integer, got {size!r}")
    return int(size)


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel offsets (y, x) from the kernel centre, each (size, size)."""
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    return np.meshgrid(r, r, indexing="ij")


def isotropic_gaussian(size: int, sigma: float) -> np.ndarray:
    """MATLAB ``fspecial('gaussian', size, sigma)``: (size, size), sums to 1.

    Values below ``eps * max`` are zeroed as MATLAB does.
    """
    size = _check_size(size)
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    sigma = max(float(sigma), MIN_SPREAD)
    y, x = _grid(size)
    k = np.exp(-(x * x + y * y) / (2.0 * sigma * sigma))
    k[k < np.finfo(np.float64).eps * k.max()] = 0.0
    return k / k.sum()


def gaussian_1d(size: int, sigma: float) -> np.ndarray:
    """1-D Gaussian (size,), sums to 1; ``outer(g, g)`` is :func:`isotropic_gaussian`.

    (Up to MATLAB's zeroing of entries below ``eps * max`` in 2-D: a difference below 1e-15.)
    """
    size = _check_size(size)
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    sigma = max(float(sigma), MIN_SPREAD)
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(r * r) / (2.0 * sigma * sigma))
    return g / g.sum()


def trim_kernel(kernel: np.ndarray, tol: float = 1e-8) -> np.ndarray:
    """Drop outer rings (2-D) or end taps (1-D) of a centred kernel holding < ``tol`` of its mass.

    Keeps the kernel odd-sized and centred, then renormalises. Filtering a [0, 1] image with the
    trimmed kernel differs from the full one by at most ~2 * tol, below float32 resolution, at a
    fraction of the cost for narrow kernels.
    """
    n = kernel.shape[0]
    total = kernel.sum()
    r = 0
    while n - 2 * (r + 1) >= 1:
        core = slice(r + 1, n - r - 1)
        inner = kernel[core, core] if kernel.ndim == 2 else kernel[core]
        if total - inner.sum() > tol * total:
            break
        r += 1
    k = kernel[r : n - r, r : n - r] if kernel.ndim == 2 else kernel[r : n - r]
    return k / k.sum()


def gaussian_covariance(theta: float, l1: float, l2: float) -> np.ndarray:
    """2x2 covariance with eigenvalues (l1, l2), the l1 axis at angle ``theta`` (radians).

    Same construction as the release: ``V D V^-1`` with V the reflection built from
    (cos theta, sin theta).
    """
    c, s = np.cos(theta), np.sin(theta)
    v = np.array([[c, s], [s, -c]])
    d = np.diag([max(float(l1), MIN_SPREAD), max(float(l2), MIN_SPREAD)])
    return v @ d @ v.T  # v is symmetric orthogonal: v^-1 == v == v.T


def anisotropic_gaussian(size: int, theta: float, l1: float, l2: float) -> np.ndarray:
    """Anisotropic Gaussian kernel (size, size), sums to 1; eigen-variances l1, l2 (px^2).

    Equal to the release's ``anisotropic_Gaussian`` (which evaluates
    ``scipy.stats.multivariate_normal.pdf`` pixel by pixel); the normalising constant cancels.
    """
    size = _check_size(size)
    for name, value in (("theta", theta), ("l1", l1), ("l2", l2)):
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")
    if l1 < 0 or l2 < 0:
        raise ValueError(f"eigenvalues must be >= 0, got l1={l1!r}, l2={l2!r}")
    inv = np.linalg.inv(gaussian_covariance(theta, l1, l2))
    y, x = _grid(size)
    quad = inv[0, 0] * x * x + (inv[0, 1] + inv[1, 0]) * x * y + inv[1, 1] * y * y
    k = np.exp(-0.5 * quad)  # the centre is exp(0) = 1, so the sum is never 0
    return k / k.sum()


def shift_matrix(n: int, shift: float) -> np.ndarray:
    """(n, n) matrix sampling a length-n signal at ``clip(i + shift, 0, n - 1)`` linearly."""
    pos = np.clip(np.arange(n, dtype=np.float64) + shift, 0.0, n - 1.0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    m = np.zeros((n, n))
    rows = np.arange(n)
    np.add.at(m, (rows, lo), 1.0 - frac)
    np.add.at(m, (rows, hi), frac)
    return m


def shift_kernel(kernel: np.ndarray, sf: int) -> np.ndarray:
    """Shift a kernel by (sf - 1) / 2 px towards the upper left, renormalised to sum 1.

    Bilinear resampling with edge clamping, exactly the release's ``shift_pixel`` (which used
    the removed ``scipy.interpolate.interp2d``). Convolving (true convolution) with the result
    and keeping every sf-th pixel makes LR pixel m sample HR position ``sf*m + (sf-1)/2``, the
    centre of its sf x sf block, so the LR image stays aligned with the HR grid.

    A 1-D kernel (k,) is shifted the same way along its only axis (the separable form).
    """
    if kernel.ndim not in (1, 2) or (kernel.ndim == 2 and kernel.shape[0] != kernel.shape[1]):
        raise ValueError(f"kernel must be 1-D or square 2-D, got shape {kernel.shape}")
    shift = (sf - 1) * 0.5
    m = shift_matrix(kernel.shape[0], shift)
    k = m @ kernel @ m.T if kernel.ndim == 2 else m @ kernel
    return k / k.sum()
