"""NRQM's global features: Gaussian-scale-mixture statistics of steerable-pyramid bands (45).

pyiqa's ``global_gsm``: the image (0-255) is decomposed into 2 scales x 6 orientations
(:func:`~bsrgan.metrics.nrqm.pyramid.steerable_bands`); each band is divisively normalised by
its neighbourhood (3 x 3 spatial neighbours, the upsampled parent band, the other orientations
at the same scale), whose covariance is estimated over the band; then

- 12 generalised-Gaussian shapes, one per normalised band;
- 6 shapes of the two scales of each orientation pooled;
- 12 SSIM contrast-structure terms between each (resized) band and the high-pass residual;
- 15 contrast-structure terms between the normalised bands of each orientation pair, scale 0.

The SSIM window is pyiqa's float32 ``fspecial('gaussian', 11, 1.5)``. pyiqa filters each map
with the 11 x 11 window in float64 (135 full 2-D convolutions for a 512 x 512 image); here the
window is applied as two 11-tap passes of its separable float64 factor, and each band's local
mean and energy are filtered once, not once per pair. The separable window differs from the
float32-rounded one by at most 2^-24 relative per tap; the terms moved by at most 1.4e-9
relative on the SR outputs measured (tests/test_nrqm.py allows 1e-6).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .ggd import ggd_shape
from .pyramid import steerable_bands
from .resize import imresize_f32

__all__ = ["gsm_features", "normalised_bands"]

_N_ORIENT = 6
_GUARD = 16  # border dropped from the normalised scale-0 bands (halved per scale)
_SSIM_C2 = (0.03 * 255) ** 2  # pyiqa calls ssim with data_range=255
_NORM_EPS = 1e-12
_CHUNK = 1 << 16  # pixels per step of the neighbourhood energy


def _separable_gaussian(size: int = 11, sigma: float = 1.5) -> list[float]:
    """1-D factor g of fspecial('gaussian', size, sigma) = outer(g, g) (float64)."""
    half = (size - 1) / 2.0
    x = np.arange(-half, half + 1)
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return (g / g.sum()).tolist()


_SSIM_TAPS = _separable_gaussian()


def _filter_valid(maps: torch.Tensor) -> torch.Tensor:
    """Gaussian-weighted local means, 'valid' region: (..., H, W) -> (..., H - 10, W - 10)."""
    taps = _SSIM_TAPS
    n = len(taps)
    rows = maps.shape[-2] - n + 1
    acc = maps[..., 0:rows, :] * taps[0]
    for k in range(1, n):
        acc.add_(maps[..., k : k + rows, :], alpha=taps[k])
    cols = maps.shape[-1] - n + 1
    out = acc[..., 0:cols] * taps[0]
    for k in range(1, n):
        out.add_(acc[..., k : k + cols], alpha=taps[k])
    return out


def _contrast_structure(x_mean: torch.Tensor, x_energy: torch.Tensor, y_mean: torch.Tensor,
                        y_energy: torch.Tensor, xy_mean: torch.Tensor) -> torch.Tensor:
    """Mean over the map of relu(SSIM's contrast-structure term), from filtered moments."""
    sigma_x = x_energy - x_mean.pow(2)
    sigma_y = y_energy - y_mean.pow(2)
    sigma_xy = xy_mean - x_mean * y_mean
    cs_map = F.relu((2 * sigma_xy + _SSIM_C2) / (sigma_x + sigma_y + _SSIM_C2))
    return cs_map.mean(dim=(-2, -1))


def _normalise(band: torch.Tensor, parent: torch.Tensor | None, others: list[torch.Tensor],
               guard: int) -> torch.Tensor:
    """Divisive normalisation of one band (B, H, W) -> (B, H - 2 - 2 guard, W - 2 - 2 guard).

    The neighbourhood vectors (9 spatial neighbours, the parent, the other orientations) are the
    rows of ``neigh`` (B, K, n_pixels), in pyiqa's order; each centre coefficient is divided by
    sqrt(v^T C^-1 v / n) of its vector v (n = 9 spatial + 1 parent), C their covariance with
    negative eigenvalues clipped to 0 (keeping the trace), as pyiqa's ``norm_sender_normalized``.
    """
    batch, height, width = band.shape
    rows, cols = height - 2, width - 2
    planes = [band[:, dy : dy + rows, dx : dx + cols] for dy in range(3) for dx in range(3)]
    n_terms = 9
    if parent is not None:
        planes.append(parent[:, 1:-1, 1:-1])
        n_terms += 1
    planes += [o[:, 1:-1, 1:-1] for o in others]
    neigh = torch.stack(planes, dim=1).reshape(batch, len(planes), rows * cols)
    cov = neigh @ neigh.transpose(1, 2) / neigh.shape[2]
    evals, evecs = torch.linalg.eigh(cov)  # clip negative eigenvalues, keep the trace
    positive = evals * (evals > 0)
    positive_sum = positive.sum(dim=1, keepdim=True)
    evals = positive * evals.sum(dim=1, keepdim=True) / (positive_sum + (positive_sum == 0).to(evals.dtype))
    cov = evecs @ torch.diag_embed(evals) @ evecs.transpose(1, 2)
    centre = planes[4].reshape(batch, -1)
    centre = centre - centre.mean(dim=1, keepdim=True)
    # pyiqa: solve(C^T, neigh) * neigh / n, summed over K; here one inverse and a product instead
    # of a solve with n_pixels right-hand sides, and the sum over K as row-wise multiply-adds
    # (equal up to round-off times C's condition number)
    inverse = torch.linalg.inv(cov.transpose(1, 2))
    energy = neigh.new_empty(batch, neigh.shape[2])
    for start in range(0, neigh.shape[2], _CHUNK):  # in chunks: no second (B, K, n_pixels) array
        part = neigh[:, :, start : start + _CHUNK]
        weighted = inverse @ part
        acc = energy[:, start : start + _CHUNK]
        torch.mul(weighted[:, 0], part[:, 0], out=acc)
        for k in range(1, part.shape[1]):
            acc.addcmul_(weighted[:, k], part[:, k])
    z = (energy / n_terms).sqrt()
    nonzero = z != 0
    out = (centre * nonzero / (z * nonzero + _NORM_EPS)).reshape(batch, rows, cols)
    out = out[:, guard:-guard, guard:-guard]
    return out - out.mean(dim=(1, 2), keepdim=True)


def normalised_bands(bands: list[torch.Tensor]) -> list[torch.Tensor]:
    """The 12 divisively normalised bands (scale-major), each (B, h, w) float64."""
    out = []
    for scale, level in enumerate(bands):
        for b in range(_N_ORIENT):
            parent = None
            if scale + 1 < len(bands):
                parent = imresize_f32(bands[scale + 1][:, b], tuple(level.shape[-2:]))
            others = [level[:, o] for o in range(_N_ORIENT) if o != b]
            out.append(_normalise(level[:, b], parent, others, _GUARD // 2**scale))
    return out


def gsm_features(img: torch.Tensor) -> torch.Tensor:
    """The 45 GSM features of a luma image.

    img: (B, 1, H, W) float64 in 0-255, H, W >= 40. Returns (B, 45) float64.
    """
    batch = img.shape[0]
    highpass, bands = steerable_bands(img[:, 0])
    normalised = normalised_bands(bands)
    feats = [ggd_shape(sb.reshape(batch, -1)) for sb in normalised]
    for b in range(_N_ORIENT):
        pooled = torch.cat([normalised[b].reshape(batch, -1), normalised[b + _N_ORIENT].reshape(batch, -1)], dim=1)
        feats.append(ggd_shape(pooled))

    hp_mean, hp_energy = _filter_valid(highpass), _filter_valid(highpass * highpass)
    size = tuple(highpass.shape[-2:])
    for level in bands:
        for b in range(_N_ORIENT):
            band = imresize_f32(level[:, b], size)  # float32 round trip even at the same size
            feats.append(_contrast_structure(_filter_valid(band), _filter_valid(band * band),
                                             hp_mean, hp_energy, _filter_valid(band * highpass)))

    scale0 = torch.stack(normalised[:_N_ORIENT], dim=1)  # (B, 6, h, w)
    means, energies = _filter_valid(scale0), _filter_valid(scale0 * scale0)
    for i in range(_N_ORIENT):
        for j in range(i + 1, _N_ORIENT):
            feats.append(_contrast_structure(means[:, i], energies[:, i], means[:, j], energies[:, j],
                                             _filter_valid(scale0[:, i] * scale0[:, j])))
    return torch.stack(feats, dim=1)
