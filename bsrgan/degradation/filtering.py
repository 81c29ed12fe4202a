"""2-D convolution of an RGB image with one kernel, mirror borders (OpenCV, float32)."""

from __future__ import annotations

import cv2
import numpy as np


def convolve_reflect101(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """True 2-D convolution of each channel, borders reflected without repeating the edge.

    Equals ``scipy.ndimage.convolve(img, kernel[..., None], mode='mirror')`` (what the release
    used) up to float32 rounding, at OpenCV speed.

    Args:
        img: (H, W, C) float32.
        kernel: (k, k) with odd k.

    Returns:
        (H, W, C) float32.
    """
    k = np.ascontiguousarray(kernel[::-1, ::-1], dtype=np.float32)  # filter2D correlates
    pad = k.shape[0] // 2
    h, w = img.shape[:2]
    if pad < h and pad < w:
        out = cv2.filter2D(img, cv2.CV_32F, k, borderType=cv2.BORDER_REFLECT_101)
    else:  # kernel wider than the image: numpy reflects repeatedly, OpenCV would refuse
        padded = np.pad(img, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
        out = cv2.filter2D(padded, cv2.CV_32F, k, borderType=cv2.BORDER_CONSTANT)
        out = out[pad : pad + h, pad : pad + w]
    return out.reshape(img.shape)


def convolve_separable_reflect101(
    img: np.ndarray, kernel_y: np.ndarray, kernel_x: np.ndarray
) -> np.ndarray:
    """Convolution with the separable kernel ``outer(kernel_y, kernel_x)``, reflect-101 borders.

    Two 1-D passes (O(k) per pixel instead of O(k^2)); same result as
    :func:`convolve_reflect101` with the 2-D kernel up to float32 rounding.
    """
    ky = np.ascontiguousarray(kernel_y[::-1], dtype=np.float32)
    kx = np.ascontiguousarray(kernel_x[::-1], dtype=np.float32)
    pad = max(ky.size, kx.size) // 2
    h, w = img.shape[:2]
    if pad < h and pad < w:
        out = cv2.sepFilter2D(img, cv2.CV_32F, kx, ky, borderType=cv2.BORDER_REFLECT_101)
    else:
        padded = np.pad(img, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
        out = cv2.sepFilter2D(padded, cv2.CV_32F, kx, ky, borderType=cv2.BORDER_CONSTANT)
        out = out[pad : pad + h, pad : pad + w]
    return out.reshape(img.shape)
