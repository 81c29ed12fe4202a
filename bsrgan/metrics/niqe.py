"""NIQE (Mittal, Soundararajan, Bovik 2013), a port of the official MATLAB release.

Follows LIVE's ``niqe_release`` (``computequality.m``, ``computefeature.m``,
``estimateaggdparam.m``), which the PIRM 2018 scoring code uses unchanged:

1. crop the luma image to whole 96 x 96 blocks (top-left anchored);
2. at two scales: MSCN coefficients with ``fspecial('gaussian', 7, 7/6)`` and ``'replicate'``
   borders, 18 AGGD features per block (block 96, then 48); between scales
   ``imresize(im, 0.5)`` (bicubic, antialiased, MATLAB weights);
3. fit a Gaussian to the block features (``nanmean``; ``nancov`` on NaN-free rows) and return the
   Mahalanobis-like distance to the pristine model, ``pinv`` with MATLAB's default tolerance.

Input is the luma image in 0-255 (float64 holding what MATLAB's ``double(uint8)`` holds);
colour conversion and border shaving belong to the protocol (``bsrgan.metrics.protocols``).

One deliberate difference from a literal translation: MSCN coefficients of flat 7 x 7
neighbourhoods are exactly 0 (see :func:`_mscn`). On the calibration images (MATLAB values
15.7536, 3.6549, 3.2355, 3.1840, 8.6352 for I03, I04, I06, I08, I19) this port gives
15.7460, 3.6549, 3.2343, 3.2020, 8.6652 (all within 0.6 %); pyiqa 0.1.16, with round-off
noise in flat regions, gives 9.07 on I19 (+5 %).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io
from scipy.ndimage import correlate1d, maximum_filter, minimum_filter
from scipy.special import gamma as gamma_fn

from .matlab_resize import imresize_matlab

__all__ = [
    "NIQE_BLOCK_SIZE",
    "NiqeModel",
    "load_niqe_model",
    "niqe_features",
    "niqe_from_luma",
]

NIQE_BLOCK_SIZE = 96
_GAMMA_GRID = 0.2 + 0.001 * np.arange(9801)  # MATLAB 0.2:0.001:10
_R_GAMMA = gamma_fn(2.0 / _GAMMA_GRID) ** 2 / (gamma_fn(1.0 / _GAMMA_GRID) * gamma_fn(3.0 / _GAMMA_GRID))
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))  # circshift offsets of computefeature.m


@dataclass(frozen=True)
class NiqeModel:
    """Pristine multivariate Gaussian: ``mu`` (36,) and ``cov`` (36, 36), float64."""

    mu: np.ndarray
    cov: np.ndarray
    source: str = ""


def load_niqe_model(path: str | Path | None = None) -> NiqeModel:
    """Load ``mu_prisparam`` / ``cov_prisparam`` from a NIQE ``.mat`` file.

    ``path=None`` resolves the asset ``niqe-params`` (LIVE's ``modelparameters.mat``) through
    ``bsrgan.assets.fetch`` (cache, then ``$BSRGAN_MIRRORS``, then download).
    """
    if path is None:
        from bsrgan.assets import fetch

        path = fetch("niqe-params", progress=False)
    path = Path(path)
    try:
        mat = scipy.io.loadmat(str(path))
        mu = np.ravel(mat["mu_prisparam"]).astype(np.float64)
        cov = np.asarray(mat["cov_prisparam"], dtype=np.float64)
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"{path}: not a NIQE model file (need mu_prisparam, cov_prisparam): {err}")
    if mu.shape != (36,) or cov.shape != (36, 36):
        raise ValueError(f"{path}: NIQE model has mu {mu.shape}, cov {cov.shape}; want (36,), (36, 36)")
    return NiqeModel(mu=mu, cov=cov, source=str(path))


def _gaussian_window(size: int = 7, sigma: float = 7.0 / 6.0) -> np.ndarray:
    """MATLAB ``fspecial('gaussian', size, sigma)``, (size, size), sums to 1."""
    half = (size - 1) / 2.0
    y, x = np.mgrid[-half : half + 1, -half : half + 1]
    h = np.exp(-(x * x + y * y) / (2.0 * sigma * sigma))
    h[h < np.finfo(np.float64).eps * h.max()] = 0.0
    return h / h.sum()


def _mscn(im: np.ndarray) -> np.ndarray:
    """Mean-subtracted contrast-normalised coefficients, ``(im - mu) ./ (sigma + 1)``.

    ``mu`` and ``sigma`` are local Gaussian-weighted mean and deviation with ``'replicate'``
    borders (the window is separable: two 1-D passes). Where the whole 7 x 7 neighbourhood is
    flat the coefficient is set to exactly 0, its value in exact arithmetic and what the MATLAB
    reference produces; floating-point filtering leaves +-1e-13 there whose random signs flip
    the AGGD left/right statistics and moved NIQE by 5 % on flat-region images (I19 of the
    calibration set; pyiqa's port has this deviation).
    """
    window = _gaussian_window()
    g = window.sum(axis=1)  # the 1-D factor (window = outer(g, g))
    radius = g.size // 2

    def smooth(x: np.ndarray) -> np.ndarray:
        return correlate1d(correlate1d(x, g, axis=0, mode="nearest"), g, axis=1, mode="nearest")

    mu = smooth(im)
    sigma = np.sqrt(np.abs(smooth(im * im) - mu * mu))
    mscn = (im - mu) / (sigma + 1.0)
    size = 2 * radius + 1
    flat = maximum_filter(im, size, mode="nearest") == minimum_filter(im, size, mode="nearest")
    mscn[flat] = 0.0
    return mscn


def _aggd_params(vec: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``estimateaggdparam.m`` for each row of ``vec`` (n_blocks, n_values).

    Returns alpha, beta_left, beta_right, each (n_blocks,). Empty sides give NaN as in MATLAB
    (``mean([])`` is NaN), and a NaN ratio selects the first grid value like MATLAB's ``min``.
    """
    neg, pos = vec < 0, vec > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        left_std = np.sqrt((vec * vec * neg).sum(1) / neg.sum(1))
        right_std = np.sqrt((vec * vec * pos).sum(1) / pos.sum(1))
        gamma_hat = left_std / right_std
        r_hat = np.abs(vec).mean(1) ** 2 / (vec * vec).mean(1)
        r_hat_norm = r_hat * (gamma_hat**3 + 1) * (gamma_hat + 1) / (gamma_hat**2 + 1) ** 2
        cost = (_R_GAMMA[None, :] - r_hat_norm[:, None]) ** 2
    cost = np.where(np.isnan(cost), np.inf, cost)  # MATLAB min skips NaN; all-NaN -> index 1
    alpha = _GAMMA_GRID[np.argmin(cost, axis=1)]
    scale = np.sqrt(gamma_fn(1.0 / alpha) / gamma_fn(3.0 / alpha))
    return alpha, left_std * scale, right_std * scale


def _block_features(blocks: np.ndarray) -> np.ndarray:
    """``computefeature.m`` on (n_blocks, b, b) MSCN blocks -> (n_blocks, 18)."""
    n = blocks.shape[0]
    flat = blocks.reshape(n, -1)
    alpha, beta_l, beta_r = _aggd_params(flat)
    feats = [alpha, (beta_l + beta_r) / 2.0]
    for shift in _SHIFTS:
        pair = flat * np.roll(blocks, shift, axis=(1, 2)).reshape(n, -1)
        alpha, beta_l, beta_r = _aggd_params(pair)
        mean = (beta_r - beta_l) * (gamma_fn(2.0 / alpha) / gamma_fn(1.0 / alpha))
        feats += [alpha, mean, beta_l, beta_r]
    return np.stack(feats, axis=1)


def _split_blocks(im: np.ndarray, size: int) -> np.ndarray:
    """(rows*size, cols*size) -> (rows*cols, size, size), column-major block order like blkproc."""
    rows, cols = im.shape[0] // size, im.shape[1] // size
    blocks = im[: rows * size, : cols * size].reshape(rows, size, cols, size)
    return blocks.transpose(2, 0, 1, 3).reshape(rows * cols, size, size)


def niqe_features(luma: np.ndarray, block_size: int = NIQE_BLOCK_SIZE) -> np.ndarray:
    """Per-block NIQE features of a luma image.

    luma: (H, W) float in 0-255 with H, W >= block_size. Returns (n_blocks, 36) float64:
    18 features at full scale, then 18 at half scale, for each whole block.
    """
    im = np.asarray(luma, dtype=np.float64)
    if im.ndim != 2:
        raise ValueError(f"NIQE expects a 2-D luma image, got shape {im.shape}")
    if im.shape[0] < block_size or im.shape[1] < block_size:
        raise ValueError(
            f"NIQE needs at least {block_size}x{block_size} pixels (one block), "
            f"got {im.shape[0]}x{im.shape[1]}"
        )
    rows, cols = im.shape[0] // block_size, im.shape[1] // block_size
    im = im[: rows * block_size, : cols * block_size]
    per_scale = []
    for scale in (1, 2):
        per_scale.append(_block_features(_split_blocks(_mscn(im), block_size // scale)))
        if scale == 1:
            im = imresize_matlab(im, 0.5)
    return np.concatenate(per_scale, axis=1)


def _pinv_matlab(a: np.ndarray) -> np.ndarray:
    """MATLAB ``pinv``: singular values below max(size) * s_max * eps are dropped."""
    u, s, vt = np.linalg.svd(a)
    tol = max(a.shape) * s.max() * np.finfo(np.float64).eps
    s_inv = np.where(s > tol, 1.0 / np.where(s > tol, s, 1.0), 0.0)
    return (vt.T * s_inv) @ u.T


def niqe_from_luma(
    luma: np.ndarray, model: NiqeModel, block_size: int = NIQE_BLOCK_SIZE
) -> float:
    """NIQE score of a luma image (H, W) in 0-255; lower is better."""
    feats = niqe_features(luma, block_size)
    with warnings.catch_warnings():  # an all-NaN column (flat image) gives NaN, reported below
        warnings.simplefilter("ignore", RuntimeWarning)
        mu_dist = np.nanmean(feats, axis=0)
    complete = feats[~np.isnan(feats).any(axis=1)]
    if complete.shape[0] < 2:
        return float("nan")
    cov_dist = np.cov(complete, rowvar=False)
    diff = model.mu - mu_dist
    return float(np.sqrt(diff @ _pinv_matlab((model.cov + cov_dist) / 2.0) @ diff))
