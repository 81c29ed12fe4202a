"""MATLAB ``imresize`` (bicubic) in float32, with the numerics of pyiqa's ``imresize``.

NRQM resizes steerable-pyramid bands (the half-scale parents up to full size, and the bands to
the high-pass size for the cross-scale SSIM terms). pyiqa's resize always computes in float32,
whatever the input dtype, and returns the input dtype, so the bands it compares are rounded to
float32 on the way, even when the size does not change. Those roundings change the GSM features
at the 1e-8 level, and one of them, a shape-grid lookup, can jump by a whole grid step when its
ratio sits near a grid midpoint; to be equal to pyiqa we therefore do the same float32 arithmetic
in the same order: weights from ``linspace`` positions, the Keys cubic (a = -0.5) normalised
per output sample, MATLAB's symmetric border, rows first and then columns, products summed over
the kernel taps in order.
"""

from __future__ import annotations

import math

import torch

__all__ = ["imresize_f32"]


def _cubic(x: torch.Tensor) -> torch.Tensor:
    """Keys cubic kernel, a = -0.5, evaluated as pyiqa evaluates it (same operations)."""
    a = -0.5
    ax = x.abs()
    ax2 = ax * ax
    ax3 = ax * ax2
    range_01 = ax.le(1)
    range_12 = torch.logical_and(ax.gt(1), ax.le(2))
    cont_01 = ((a + 2) * ax3 - (a + 3) * ax2 + 1) * range_01.to(dtype=x.dtype)
    cont_12 = ((a * ax3) - (5 * a * ax2) + (8 * a * ax) - (4 * a)) * range_12.to(dtype=x.dtype)
    return cont_01 + cont_12


def _taps(in_len: int, out_len: int, scale: float, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """Weights (taps, out_len) float32, first input index per output, and border pads."""
    taps = 4
    antialias: float = 1
    if scale < 1:  # MATLAB widens the kernel when shrinking
        antialias = scale
        taps = math.ceil(taps / antialias)
    taps += 2
    pos = torch.linspace(0, out_len - 1, steps=out_len, dtype=torch.float32, device=device)
    pos = (pos + 0.5) / scale - 0.5
    base = pos.floor() - (taps // 2) + 1
    dist = pos - base
    offsets = dist.new_zeros(taps, out_len)
    for k in range(taps):
        offsets[k].copy_(dist - k)
    offsets *= antialias
    weight = _cubic(offsets)
    weight /= weight.sum(dim=0, keepdim=True)
    first = base.long()
    lo, hi = int(first.min()), int(first.max()) + taps - 1
    pad_pre = -lo if lo <= 0 else 0
    pad_post = hi - in_len + 1 if hi >= in_len else 0
    return weight, first + pad_pre, pad_pre, pad_post


def _symmetric_pad(x: torch.Tensor, dim: int, pre: int, post: int) -> torch.Tensor:
    """Pad ``dim`` MATLAB-style: [a b c] -> [.. b a | a b c | c b ..]."""
    n = x.shape[dim]
    if pre > n or post > n:
        raise ValueError(f"cannot pad {pre}/{post} samples symmetrically on an axis of {n}")
    index = torch.cat([torch.arange(pre - 1, -1, -1), torch.arange(n), torch.arange(n - 1, n - 1 - post, -1)])
    return x.index_select(dim, index.to(x.device))


def _resize_axis(x: torch.Tensor, dim: int, size: int, scale: float) -> torch.Tensor:
    """x: (N, H, W) float32; resize axis ``dim`` (1 or 2) to ``size`` samples."""
    if scale == 1:
        return x
    weight, first, pre, post = _taps(x.shape[dim], size, scale, x.device)
    taps = weight.shape[0]
    padded = _symmetric_pad(x, dim, pre, post)
    index = first[None, :] + torch.arange(taps, device=x.device)[:, None]  # (taps, size)
    # The products are summed over the taps by one reduction over a contiguous (N, taps, H, W)
    # tensor, exactly pyiqa's layout: the reduction kernel's order of additions depends on the
    # layout (a Python loop over the taps, or transposed planes, differ by 1 ulp in some sizes).
    n, height, width = padded.shape
    if dim == 1:
        sample = padded.index_select(1, index.flatten()).view(n, taps, size, width)
        weight = weight.view(1, taps, size, 1)
    else:
        sample = padded[:, None].expand(n, taps, height, width).gather(
            3, index.view(1, taps, 1, size).expand(n, taps, height, size))
        weight = weight.view(1, taps, 1, size)
    return (sample * weight).sum(dim=1)


def imresize_f32(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic resize of (N, H, W) planes to ``size`` = (H', W'), computed in float32.

    Returns (N, H', W') in ``x``'s dtype, holding float32 values (pyiqa's ``imresize`` numerics;
    antialiased when shrinking, as MATLAB).
    """
    if x.ndim != 3:
        raise ValueError(f"expected (N, H, W) planes, got shape {tuple(x.shape)}")
    out = _resize_axis(x.float(), 1, size[0], size[0] / x.shape[1])
    out = _resize_axis(out, 2, size[1], size[1] / x.shape[2])
    return out.to(x.dtype)
