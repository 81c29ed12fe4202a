"""Gaussian, speckle and Poisson noise on a group, drawn with one torch ``Generator`` per sample.

Each sample's noise comes from ``torch.Generator(device).manual_seed(params.seed)`` -- the seed
its plan recorded -- and is drawn at the sample's own size, so a sample gets the same noise
whichever batch it is in. The numpy backend draws from ``numpy.random.default_rng(seed)``
instead: for one trace the two backends give different realisations of the same distribution.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from bsrgan.degradation.batched.canvas import Size
from bsrgan.degradation.noise import (
    LUMA_WEIGHTS,
    NOISE_MODES,
    GaussianNoiseParams,
    PoissonNoiseParams,
    noise_factor,
)


def generator(seed: int, device: torch.device) -> torch.Generator:
    """A fresh torch generator on ``device`` seeded with ``seed``."""
    return torch.Generator(device=device).manual_seed(int(seed))


def standard_normal(seeds: Sequence[int], shapes: Sequence[tuple[int, int, int]],
                    out_shape: tuple[int, int, int, int], device: torch.device) -> torch.Tensor:
    """N(0, 1) fields: sample g is ``randn(shapes[g])`` from its seed, top-left in ``out_shape``.

    Args:
        seeds: one seed per sample.
        shapes: (channels, h, w) per sample.
        out_shape: (G, C, H, W) of the zero-padded result.
    """
    out = torch.zeros(out_shape, device=device)
    for g, (seed, (c, h, w)) in enumerate(zip(seeds, shapes)):
        out[g, :c, :h, :w] = torch.randn((c, h, w), generator=generator(seed, device),
                                         device=device)
    return out


def colour_factors(params: Sequence[GaussianNoiseParams]) -> np.ndarray:
    """(G, 3, 3) float32 F with noise = z @ F per pixel (z the channel vector of N(0, 1) draws).

    "color": sigma * I; "gray": one draw in channel 0 copied to all three (row 0 = sigma);
    "correlated": the stored (or recomputed) SVD factor of the covariance.
    """
    out = np.zeros((len(params), 3, 3), dtype=np.float32)
    for g, p in enumerate(params):
        if p.mode == "color":
            out[g] = np.eye(3, dtype=np.float32) * np.float32(p.sigma)
        elif p.mode == "gray":
            out[g, 0, :] = np.float32(p.sigma)
        elif p.mode == "correlated":
            out[g] = noise_factor(p)
        else:
            raise ValueError(f"noise mode must be one of {NOISE_MODES}, got {p.mode!r}")
    return out


def gaussian_fields(params: Sequence[GaussianNoiseParams], sizes: Sequence[Size],
                    height: int, width: int, device: torch.device) -> torch.Tensor:
    """Zero-mean noise (G, 3, height, width) float32; sample g valid in its ``sizes[g]``."""
    shapes = [(1 if p.mode == "gray" else 3, h, w) for p, (h, w) in zip(params, sizes)]
    z = standard_normal([p.seed for p in params], shapes, (len(params), 3, height, width),
                        device)
    return mix_channels(z, torch.from_numpy(colour_factors(params)).to(device))


def mix_channels(z: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Per-sample channel mixing ``out[:, c] = sum_k z[:, k] * F[k, c]``; z (G, 3, H, W)."""
    return torch.einsum("gkyx,gkc->gcyx", z, factors)


def add_gaussian(images: torch.Tensor, fields: torch.Tensor) -> torch.Tensor:
    """images + noise, clipped to [0, 1]."""
    return (images + fields).clamp_(0.0, 1.0)


def add_speckle(images: torch.Tensor, fields: torch.Tensor) -> torch.Tensor:
    """images + images * noise (signal-dependent), clipped to [0, 1]."""
    images = images.clamp(0.0, 1.0)
    return (images + images * fields).clamp_(0.0, 1.0)


def poisson(images: torch.Tensor, sizes: Sequence[Size],
            params: Sequence[PoissonNoiseParams]) -> torch.Tensor:
    """Shot noise on the 8-bit-quantised images (as the numpy backend), clipped to [0, 1].

    Per sample: ``scale`` photons per unit intensity, counts ~ Poisson(img * scale) per channel,
    or, with ``gray``, one luma (BT.601) count map whose deviation is added to all channels.
    """
    for p in params:
        if not p.scale > 0:
            raise ValueError(f"Poisson scale must be > 0, got {p.scale!r}")
    device = images.device
    img = torch.round(images.clamp(0.0, 1.0) * 255.0) / 255.0
    luma_weights = torch.tensor(LUMA_WEIGHTS, dtype=torch.float32, device=device)
    out = torch.empty_like(img)
    for g, (p, (h, w)) in enumerate(zip(params, sizes)):
        x = img[g, :, :h, :w]
        scale = torch.tensor(p.scale, dtype=torch.float32, device=device)
        if p.gray:
            luma = torch.einsum("cyx,c->yx", x, luma_weights).clamp(0.0, 1.0)
            luma = torch.round(luma * 255.0) / 255.0
            counts = torch.poisson((luma * p.scale).contiguous(), generator=generator(p.seed, device))
            out[g, :, :h, :w] = x + (counts / scale - luma)
        else:
            counts = torch.poisson((x * p.scale).contiguous(), generator=generator(p.seed, device))
            out[g, :, :h, :w] = counts / scale
    return out.clamp_(0.0, 1.0)
