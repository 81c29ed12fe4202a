"""NRQM's local frequency features: statistics of 7 x 7 block DCTs (6 per pyramid level).

Blocks of 7 x 7 pixels are taken every 3 pixels ('same' zero padding, as TensorFlow pads) and
transformed with the orthonormal 2-D DCT-II. Over the 48 AC coefficients of each block:

- the generalised-Gaussian shape (:func:`~bsrgan.metrics.nrqm.ggd.ggd_shape`);
- the coefficient of variation of their magnitudes;
- the variance, over three orientation groups of 16 coefficients (pyiqa's index sets), of each
  group's coefficient of variation.

Per level the features are the mean of the lowest ~10 % and of all block shapes, and the mean of
the highest 10 % and of all values of the other two statistics (pyiqa's ``block_dct``).

The blocks are transformed as pyiqa transforms them (an FFT-based DCT along rows, then columns),
not by one 49 x 49 matrix product, which is faster but rounds differently: the two
coefficient-of-variation statistics divide by a mean magnitude plus only 1e-7 / 1e-8, so in flat
blocks, whose exact coefficients are 0, they magnify round-off; with the matrix product they moved
by up to 1.5e-8 relative on screenshots (ppt3 of RealSRSet).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .ggd import ggd_shape, variation_ratio

__all__ = ["BLOCK", "STRIDE", "block_dct", "dct_features"]

BLOCK = 7
STRIDE = 3


def _orientation_index() -> list[list[int]]:
    """Flat (row * 7 + col) indices of the three orientation groups, in pyiqa's order."""
    def cells(rows_cols):
        return [r * BLOCK + c for r, cols in rows_cols for c in cols]

    horizontal = cells([(0, range(1, 7)), (1, range(2, 7)), (2, range(4, 7)), (3, range(5, 7))])
    diagonal = cells([(1, [1]), (2, range(2, 4)), (3, range(2, 5)), (4, range(3, 7)), (5, range(4, 7)),
                      (6, range(4, 7))])
    vertical = [c * BLOCK + r for r, cols in [(0, range(1, 7)), (1, range(2, 7)), (2, range(4, 7)),
                                              (3, range(5, 7))] for c in cols]
    return [horizontal, diagonal, vertical]


_ORIENTATIONS = _orientation_index()


def _dct_last_axis(x: torch.Tensor) -> torch.Tensor:
    """Orthonormal DCT-II along the last axis through a length-N FFT (Makhoul's reordering).

    The same arithmetic, in the same order, as pyiqa's ``dct(x, norm='ortho')``, so coefficients
    whose exact value is 0 (flat blocks) carry the same round-off as pyiqa's; see the module note.
    """
    n = x.shape[-1]
    rows = x.contiguous().view(-1, n)
    v = torch.cat([rows[:, ::2], rows[:, 1::2].flip([1])], dim=-1)
    spectrum = torch.view_as_real(torch.fft.fft(v, dim=-1))
    k = -torch.arange(n, dtype=x.dtype, device=x.device)[None, :] * math.pi / (2 * n)
    out = spectrum[:, :, 0] * torch.cos(k) - spectrum[:, :, 1] * torch.sin(k)
    out[:, 0] /= math.sqrt(n) * 2
    out[:, 1:] /= math.sqrt(n / 2) * 2
    return (2 * out).view(*x.shape)


def block_dct(img: torch.Tensor) -> torch.Tensor:
    """img: (B, 1, H, W) float64 -> (B, n_blocks, 49) DCT coefficients of the 7 x 7 blocks.

    Coefficient ``u * 7 + v`` has vertical frequency u and horizontal frequency v.
    """
    height, width = img.shape[-2:]
    pad_rows = (math.ceil(height / STRIDE) - 1) * STRIDE + BLOCK - height
    pad_cols = (math.ceil(width / STRIDE) - 1) * STRIDE + BLOCK - width
    padded = F.pad(img, (pad_cols // 2, pad_cols - pad_cols // 2, pad_rows // 2, pad_rows - pad_rows // 2))
    blocks = F.unfold(padded, BLOCK, stride=STRIDE).transpose(1, 2)  # (B, n_blocks, 49)
    blocks = blocks.reshape(*blocks.shape[:2], BLOCK, BLOCK)
    along_rows = _dct_last_axis(blocks)
    coeffs = _dct_last_axis(along_rows.transpose(-1, -2)).transpose(-1, -2)
    return coeffs.reshape(*blocks.shape[:2], BLOCK * BLOCK)


def _low_tail_mean(values: torch.Tensor) -> torch.Tensor:
    """Mean of the ceil(10 %) + 1 smallest values along the last axis."""
    n = values.shape[-1]
    return values.sort(dim=-1).values[..., : math.ceil(0.1 * n) + 1].mean(dim=-1)


def _high_tail_mean(values: torch.Tensor) -> torch.Tensor:
    """Mean of the values from the 90 % position on (floor) along the last axis."""
    n = values.shape[-1]
    return values.sort(dim=-1).values[..., math.floor(0.9 * n):].mean(dim=-1)


def dct_features(img: torch.Tensor) -> torch.Tensor:
    """The 6 block-DCT features of one pyramid level.

    img: (B, 1, H, W) float64 in [0, 1]. Returns (B, 6) float64: low-10 % and mean block shape,
    high-10 % and mean coefficient of variation, high-10 % and mean orientation variance.
    """
    coeffs = block_dct(img)
    ac = coeffs[..., 1:]
    shape = ggd_shape(ac)
    variation = variation_ratio(ac)
    orient = torch.stack([variation_ratio(coeffs[..., idx], eps=1e-8) for idx in _ORIENTATIONS], dim=-1)
    orient_var = orient.var(dim=-1)
    return torch.stack([
        _low_tail_mean(shape), shape.mean(dim=-1),
        _high_tail_mean(variation), variation.mean(dim=-1),
        _high_tail_mean(orient_var), orient_var.mean(dim=-1),
    ], dim=1)
