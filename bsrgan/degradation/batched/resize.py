"""Batched resizing: every method as two per-sample matrix products, ``My @ img @ Mx^T``.

All four resize methods of the degradation model are separable and linear, so each is fully
described by one weight matrix per axis. This module writes those matrices from the methods'
definitions -- OpenCV's ``INTER_LINEAR``, ``INTER_CUBIC`` and ``INTER_AREA`` (``cv2.resize``
on float32 images; formulas of OpenCV's ``resize.cpp``) and MATLAB's antialiased bicubic
``imresize`` (:func:`bsrgan.degradation.resize.resize_matrix`) -- and applies them to a group of
samples at once: each sample has its own input size, output size and method; matrices are
zero-padded to the group's largest sizes, so one batched matmul per axis resizes the group.

The matrices are built on the CPU (cached per method and size) as compact tap tables (index,
weight) and expanded into dense matrices on the device with one ``scatter_add``, so only a few
hundred kilobytes travel to the device per group.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch

from bsrgan.degradation.batched.canvas import Size
from bsrgan.degradation.resize import METHODS, resize_matrix

#: Keys' coefficient of OpenCV's bicubic interpolation (MATLAB's imresize uses -0.5).
CV2_CUBIC_A = -0.75


def _cv2_cubic_coefficients(fx: np.ndarray) -> np.ndarray:
    """(n, 4) weights of taps sx-1..sx+2 for fractional offsets ``fx`` (OpenCV interpolateCubic)."""
    a = np.float32(CV2_CUBIC_A)
    x = fx.astype(np.float32)
    c0 = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a
    c1 = ((a + 2) * x - (a + 3)) * x * x + 1
    c2 = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1
    return np.stack([c0, c1, c2, 1 - c0 - c1 - c2], axis=1)


def _cv2_interpolating_matrix(method: str, in_len: int, out_len: int) -> np.ndarray:
    """(out, in) weights of cv2 INTER_LINEAR / INTER_CUBIC, or INTER_AREA when enlarging.

    Output pixel ``d`` samples input position ``(d + 0.5) * in / out - 0.5`` (half-pixel
    centres). Linear taps outside the image are moved onto the edge pixel with weight 1; cubic
    taps are clamped to the edge (replicated border). INTER_AREA, when any axis is enlarged,
    is OpenCV's linear interpolation with its own fraction ``(d + 1) - (sx + 1) * out / in``
    (only pixels that straddle an input boundary are blended).
    """
    inv_scale = out_len / in_len
    scale = 1.0 / inv_scale
    d = np.arange(out_len, dtype=np.float64)
    if method == "area":
        sx = np.floor(d * scale).astype(np.int64)
        fx = ((d + 1) - (sx + 1) * inv_scale).astype(np.float32)
        fx = np.where(fx <= 0, np.float32(0), fx - np.floor(fx))
    else:
        pos = ((d + 0.5) * scale - 0.5).astype(np.float32)
        sx = np.floor(pos).astype(np.int64)
        fx = pos - sx
    m = np.zeros((out_len, in_len), dtype=np.float64)
    rows = np.arange(out_len)
    if method == "cubic":
        coeffs = _cv2_cubic_coefficients(fx)
        for t in range(4):
            np.add.at(m, (rows, np.clip(sx - 1 + t, 0, in_len - 1)), coeffs[:, t])
        return m
    outside = (sx < 0) | (sx >= in_len - 1)  # OpenCV: fx = 0 and sx clamped to the edge
    fx = np.where(outside, np.float32(0), fx)
    sx = np.clip(sx, 0, in_len - 1)
    np.add.at(m, (rows, sx), 1 - fx)
    np.add.at(m, (rows, np.minimum(sx + 1, in_len - 1)), fx)
    return m


def _cv2_area_matrix(in_len: int, out_len: int) -> np.ndarray:
    """(out, in) weights of cv2 INTER_AREA when shrinking: overlap of each input pixel with the
    output cell ``[d * s, (d + 1) * s)``, ``s = in / out``, divided by the cell width."""
    scale = in_len / out_len
    m = np.zeros((out_len, in_len), dtype=np.float64)
    for d in range(out_len):
        f1 = d * scale
        f2 = f1 + scale
        cell = min(scale, in_len - f1)
        s2 = min(int(np.floor(f2)), in_len - 1)
        s1 = min(int(np.ceil(f1)), s2)
        if s1 - f1 > 1e-3:
            m[d, s1 - 1] += (s1 - f1) / cell
        m[d, s1:s2] += 1.0 / cell
        if f2 - s2 > 1e-3:
            m[d, s2] += min(f2 - s2, 1.0, cell) / cell
    return m


def axis_matrix(method: str, in_len: int, out_len: int, shrinking: bool = True) -> np.ndarray:
    """(out_len, in_len) float64 weight matrix of ``method`` along one axis.

    ``shrinking`` matters for ``area`` only: OpenCV averages areas only when *no* axis of the
    image is enlarged; otherwise both axes use its area-flavoured linear interpolation.
    """
    if method not in METHODS:
        raise ValueError(f"unknown resize method {method!r}; expected one of {METHODS}")
    if in_len < 1 or out_len < 1:
        raise ValueError(f"resize lengths must be >= 1, got {in_len} -> {out_len}")
    if method == "matlab_bicubic":
        return resize_matrix(in_len, out_len, out_len / in_len).astype(np.float64)
    if in_len == out_len:
        return np.eye(in_len)
    if method == "area" and shrinking:
        return _cv2_area_matrix(in_len, out_len)
    return _cv2_interpolating_matrix(method, in_len, out_len)


@lru_cache(maxsize=2048)
def axis_taps(method: str, in_len: int, out_len: int,
              shrinking: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The non-zero entries of :func:`axis_matrix` per output pixel: index and weight (out, T).

    Rows with fewer than T taps are padded with weight 0 at index 0. Cached; read-only.
    """
    m = axis_matrix(method, in_len, out_len, shrinking)
    taps = max(1, int((m != 0).sum(axis=1).max()))
    index = np.zeros((out_len, taps), dtype=np.int64)
    weight = np.zeros((out_len, taps), dtype=np.float32)
    for d in range(out_len):
        nz = np.flatnonzero(m[d])
        index[d, : nz.size] = nz
        weight[d, : nz.size] = m[d, nz]
    index.flags.writeable = weight.flags.writeable = False
    return index, weight


def _group_matrices(specs: Sequence[tuple[str, int, int, bool]], out_max: int, in_max: int,
                    device: torch.device) -> torch.Tensor:
    """(G, out_max, in_max) float32 dense matrices of ``(method, in, out, shrinking)`` specs."""
    tables = [axis_taps(*spec) for spec in specs]
    taps = max(t[0].shape[1] for t in tables)
    index = np.zeros((len(specs), out_max, taps), dtype=np.int64)
    weight = np.zeros((len(specs), out_max, taps), dtype=np.float32)
    for g, (idx, w) in enumerate(tables):
        index[g, : idx.shape[0], : idx.shape[1]] = idx
        weight[g, : w.shape[0], : w.shape[1]] = w
    dense = torch.zeros((len(specs), out_max, in_max), device=device)
    return dense.scatter_add_(2, torch.from_numpy(index).to(device),
                              torch.from_numpy(weight).to(device))


def resize(images: torch.Tensor, sizes: Sequence[Size], out_sizes: Sequence[Size],
           methods: Sequence[str]) -> torch.Tensor:
    """Resize each sample from its valid size to its output size with its own method.

    Args:
        images: (G, C, h, w) float32; sample g is valid in ``[:sizes[g][0], :sizes[g][1]]``.
        out_sizes: (height, width) per sample.
        methods: per sample, one of ``linear``, ``cubic``, ``area`` (OpenCV) or
            ``matlab_bicubic``.

    Returns:
        (G, C, max height, max width) float32, not clipped (cubic kernels overshoot).
    """
    _, _, h, w = images.shape
    oh, ow = max(s[0] for s in out_sizes), max(s[1] for s in out_sizes)
    specs_y, specs_x = [], []
    for (ih, iw), (th, tw), method in zip(sizes, out_sizes, methods):
        if method not in METHODS:
            raise ValueError(f"unknown resize method {method!r}; expected one of {METHODS}")
        shrinking = th <= ih and tw <= iw
        specs_y.append((method, ih, th, shrinking))
        specs_x.append((method, iw, tw, shrinking))
    my = _group_matrices(specs_y, oh, h, images.device)
    mx = _group_matrices(specs_x, ow, w, images.device)
    return my[:, None] @ images @ mx[:, None].transpose(-1, -2)


