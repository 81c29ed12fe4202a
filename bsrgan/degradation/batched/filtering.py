"""Per-sample convolution of a group of images: one grouped ``conv2d`` for the whole group.

Each sample has its own kernel. The kernels are zero-padded (centred) to the largest size in the
group and applied as a depthwise convolution with ``groups = G * C``; borders are reflect-101 of
each sample's own valid region (:func:`~bsrgan.degradation.batched.canvas.reflect_pad`), as in
the numpy backend (:mod:`bsrgan.degradation.filtering`). Kernels are flipped, so these are true
convolutions like the numpy ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from bsrgan.degradation.batched.canvas import Size, reflect_pad


def stack_kernels(kernels: Sequence[np.ndarray], device: torch.device) -> torch.Tensor:
    """Centre-pad odd-sized 1-D (k,) or square 2-D (k, k) kernels to a common size.

    Returns float32 (G, k) or (G, k, k) on ``device``.
    """
    size = max(k.shape[0] for k in kernels)
    ndim = kernels[0].ndim
    out = np.zeros((len(kernels),) + (size,) * ndim, dtype=np.float32)
    for i, k in enumerate(kernels):
        if k.ndim != ndim or k.shape[0] % 2 == 0 or any(n != k.shape[0] for n in k.shape):
            raise ValueError(f"kernels must all be odd-sized and {ndim}-D square, got {k.shape}")
        o = (size - k.shape[0]) // 2
        out[(i,) + (slice(o, o + k.shape[0]),) * ndim] = k
    return torch.from_numpy(out).to(device)


def depthwise(x: torch.Tensor, kernels: torch.Tensor,
              stride: tuple[int, int] = (1, 1)) -> torch.Tensor:
    """Valid correlation (no padding) of each sample with its own kernels.

    Args:
        x: (G, C, H, W).
        kernels: (G, kh, kw), one kernel for all channels of a sample, or (G, C, kh, kw), one
            per channel.

    Returns:
        (G, C, (H - kh) // sy + 1, (W - kw) // sx + 1).
    """
    g, c, h, w = x.shape
    if kernels.dim() == 3:
        weight = kernels.repeat_interleave(c, dim=0)[:, None]  # (G*C, 1, kh, kw)
    else:
        weight = kernels.reshape(g * c, 1, kernels.shape[-2], kernels.shape[-1])
    out = F.conv2d(x.reshape(1, g * c, h, w), weight, stride=stride, groups=g * c)
    return out.reshape(g, c, out.shape[2], out.shape[3])


def convolve(images: torch.Tensor, sizes: Sequence[Size], kernels: torch.Tensor) -> torch.Tensor:
    """Convolve each sample with its (k, k) kernel, reflect-101 borders, same size.

    Args:
        images: (G, C, h, w) float32, valid sizes ``sizes``.
        kernels: (G, k, k) float32, odd k.

    Returns:
        (G, C, h, w) float32.
    """
    pad = kernels.shape[-1] // 2
    padded = reflect_pad(images, sizes, (pad, pad), (pad, pad))
    return depthwise(padded, kernels.flip(-1, -2))


def convolve_separable(images: torch.Tensor, sizes: Sequence[Size], kernels_y: torch.Tensor,
                       kernels_x: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """Convolve each sample with ``outer(ky, kx)`` as two 1-D passes, reflect-101 borders.

    With ``stride`` s > 1 only every s-th row and column is kept (``out[::s, ::s]`` of the
    full-size result, computed without the discarded ones).

    Args:
        images: (G, C, h, w) float32, valid sizes ``sizes``.
        kernels_y, kernels_x: (G, ky), (G, kx) float32, odd lengths.

    Returns:
        (G, C, ceil(h / s), ceil(w / s)) float32.
    """
    py, px = kernels_y.shape[-1] // 2, kernels_x.shape[-1] // 2
    padded = reflect_pad(images, sizes, (py, py), (px, px))
    rows = depthwise(padded, kernels_y.flip(-1)[:, :, None], (stride, 1))
    return depthwise(rows, kernels_x.flip(-1)[:, None, :], (1, stride))
