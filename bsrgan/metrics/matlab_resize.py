"""MATLAB ``imresize`` (bicubic, antialiased) for 2-D float arrays.

Weights and taps are built as MATLAB's ``contributions`` routine does: Keys cubic kernel (a = -0.5) stretched by ``1/scale`` when
shrinking (antialiasing), per-output weights normalised to sum 1, and out-of-range taps mirrored
back into the image with MATLAB's ``[1:n, n:-1:1]`` rule (symmetric padding, edge repeated).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["imresize_matlab", "resize_weights"]


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys bicubic kernel with a = -0.5 (MATLAB's ``cubic``)."""
    ax = np.abs(x)
    ax2, ax3 = ax**2, ax**3
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


def resize_weights(
    in_length: int, scale: float, antialiasing: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB's ``contributions``: (weights, indices), both (out_length, taps).

    indices are 0-based input positions after mirroring; every output is a fixed-order sum over
    its taps, so identical neighbourhoods give bit-identical outputs (a flat region stays flat).
    """
    out_length = math.ceil(in_length * scale)
    kernel_width = 4.0
    shrink_aa = antialiasing and scale < 1
    if shrink_aa:
        kernel_width /= scale
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)  # output pixel centres in input coordinates
    left = np.floor(u - kernel_width / 2.0)
    taps = math.ceil(kernel_width) + 2
    indices = left[:, None] + np.arange(taps)[None, :]  # 1-based, may fall outside the image
    dist = u[:, None] - indices
    weights = scale * _cubic(scale * dist) if shrink_aa else _cubic(dist)
    weights /= weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    return weights, mirror[np.mod(indices.astype(np.int64) - 1, mirror.size)]


def _resize_axis0(img: np.ndarray, scale: float) -> np.ndarray:
    weights, indices = resize_weights(img.shape[0], scale)
    out = np.zeros((weights.shape[0],) + img.shape[1:], dtype=np.float64)
    for tap in range(weights.shape[1]):
        out += weights[:, tap, None] * img[indices[:, tap]]
    return out


def imresize_matlab(img: np.ndarray, scale: float) -> np.ndarray:
    """Resize a 2-D float array like MATLAB ``imresize(img, scale)`` (bicubic, antialiased).

    img: (H, W) float; returns (ceil(H*scale), ceil(W*scale)) float64, not clipped (MATLAB does
    not clip double images). Rows are resized first, then columns, as MATLAB does for equal scales.
    """
    if img.ndim != 2:
        raise ValueError(f"imresize_matlab expects a 2-D array, got shape {img.shape}")
    img = np.asarray(img, dtype=np.float64)
    return _resize_axis0(_resize_axis0(img, scale).T, scale).T
