"""NRQM features and score (Ma, Yang, Yang, Yang, CVIU 2017), equal to pyiqa's implementation.

Three feature groups of a luma image (0-255, float64), each scored by its regression forest:

- ``dct`` (18): block-DCT statistics on a 3-level Gaussian pyramid of ``luma / 255``;
- ``gsm`` (45): Gaussian-scale-mixture statistics of a steerable pyramid of ``luma``;
- ``svd`` (75): the 25 singular values of the matrix of non-overlapping 5 x 5 blocks
  (zero-padded at the right and bottom) of each level of the same Gaussian pyramid.

score = linear[0] + sum_k linear[k + 1] * mean over forest k's trees (:mod:`.forest`).
Everything is float64 torch on the input's device; pyiqa's float32 roundings of filters, masks and
resized bands are reproduced where it makes them (see :mod:`.pyramid`, :mod:`.resize`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .dct_features import dct_features
from .forest import predict
from .gsm_features import gsm_features
from .model import NrqmModel
from .pyramid import gaussian_pyramid

__all__ = ["MIN_SIZE", "NrqmFeatures", "nrqm_features", "nrqm_score", "svd_features"]

MIN_SIZE = 45  # smallest side: normalised scale-0 bands (H - 2 - 2 * 16) must hold the 11-px SSIM window
_SVD_BLOCK = 5


@dataclass(frozen=True)
class NrqmFeatures:
    """Per-image NRQM features, float64: ``dct`` (B, 18), ``gsm`` (B, 45), ``svd`` (B, 75)."""

    dct: torch.Tensor
    gsm: torch.Tensor
    svd: torch.Tensor

    def groups(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The three groups in forest order."""
        return self.dct, self.gsm, self.svd


def svd_features(level: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) float64 -> (B, 25) singular values (descending) of its 5 x 5 block matrix."""
    height, width = level.shape[-2:]
    pad_rows = -height % _SVD_BLOCK
    pad_cols = -width % _SVD_BLOCK
    blocks = F.unfold(F.pad(level, (0, pad_cols, 0, pad_rows)), _SVD_BLOCK, stride=_SVD_BLOCK)
    return torch.linalg.svdvals(blocks.transpose(1, 2))


def _as_batch(luma: torch.Tensor) -> torch.Tensor:
    """(H, W), (B, H, W) or (B, 1, H, W) -> (B, 1, H, W) float64, with a size check."""
    if luma.ndim == 2:
        luma = luma[None, None]
    elif luma.ndim == 3:
        luma = luma[:, None]
    if luma.ndim != 4 or luma.shape[1] != 1:
        raise ValueError(f"NRQM expects a luma image (H, W), (B, H, W) or (B, 1, H, W); got {tuple(luma.shape)}")
    if min(luma.shape[-2:]) < MIN_SIZE:
        raise ValueError(f"NRQM needs at least {MIN_SIZE}x{MIN_SIZE} pixels, got "
                         f"{luma.shape[-2]}x{luma.shape[-1]}")
    return luma.to(torch.float64)


def nrqm_features(luma: torch.Tensor) -> NrqmFeatures:
    """The 138 NRQM features of a luma image.

    luma: (H, W), (B, H, W) or (B, 1, H, W) in 0-255 (integers for the PIRM protocol), on any
    device; H, W >= :data:`MIN_SIZE`. Computed in float64 on ``luma``'s device.
    """
    img = _as_batch(luma)
    pyramid = gaussian_pyramid(img / 255.0)
    dct = torch.cat([dct_features(level) for level in pyramid], dim=1)
    svd = torch.cat([svd_features(level) for level in pyramid], dim=1)
    return NrqmFeatures(dct=dct, gsm=gsm_features(img), svd=svd)


def nrqm_score(features: NrqmFeatures, model: NrqmModel) -> torch.Tensor:
    """(B,) float64 NRQM scores from features (on the model's device)."""
    preds = [predict(forest, group) for forest, group in zip(model.forests, features.groups())]
    linear = model.linear.to(preds[0])
    return linear[0] + sum(w * p for w, p in zip(linear[1:], preds))
