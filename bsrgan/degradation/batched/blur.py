"""Gaussian filtering ops on a group: blur, shifted-blur downsampling, USM sharpening.

Kernels are built on the CPU from each sample's params with the numpy backend's own builders
(:mod:`bsrgan.degradation.kernels`), so both backends filter with the same taps; only the
convolution runs batched on the device (:mod:`bsrgan.degradation.batched.filtering`).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch

from bsrgan.degradation.batched.canvas import Size, per_sample
from bsrgan.degradation.batched.filtering import convolve, convolve_separable, stack_kernels
from bsrgan.degradation.blur import BlurParams, blur_kernel
from bsrgan.degradation.downsample import ShiftedDownsampleParams
from bsrgan.degradation.kernels import gaussian_1d, shift_kernel, trim_kernel
from bsrgan.degradation.sharpen import SharpenParams
from bsrgan.degradation.validation import check_scale_factor


def blur(images: torch.Tensor, sizes: Sequence[Size],
         params: Sequence[BlurParams]) -> torch.Tensor:
    """Blur each sample with its kernel: (G, C, h, w) -> (G, C, h, w), clipped to [0, 1].

    Isotropic kernels run as two 1-D passes, anisotropic ones as one 2-D pass (one grouped
    convolution per kind); negligible outer taps are trimmed as in the numpy backend.
    """
    unknown = {p.kind for p in params} - {"isotropic", "anisotropic"}
    if unknown:
        raise ValueError(f"BlurParams.kind must be 'anisotropic' or 'isotropic', got {unknown}")
    out = torch.empty_like(images)
    for kind in ("isotropic", "anisotropic"):
        members = [i for i, p in enumerate(params) if p.kind == kind]
        if not members:
            continue
        rows = torch.as_tensor(members, device=images.device)
        sub, sub_sizes = images.index_select(0, rows), [sizes[i] for i in members]
        if kind == "isotropic":
            taps = stack_kernels([trim_kernel(gaussian_1d(params[i].size, params[i].sigma))
                                  for i in members], images.device)
            out[rows] = convolve_separable(sub, sub_sizes, taps, taps)
        else:
            taps = stack_kernels([trim_kernel(blur_kernel(params[i])) for i in members],
                                 images.device)
            out[rows] = convolve(sub, sub_sizes, taps)
    return out.clamp_(0.0, 1.0)


def shifted_downsample(images: torch.Tensor, sizes: Sequence[Size],
                       params: Sequence[ShiftedDownsampleParams]) -> tuple[torch.Tensor, list[Size]]:
    """Shifted Gaussian blur, then every sf-th pixel: (G, C, h, w) -> (G, C, ceil(h/sf), ...).

    Samples with different ``sf`` run in separate strided convolutions. Returns the images
    (clipped to [0, 1]) and their new valid sizes.
    """
    sfs = [check_scale_factor(p.sf) for p in params]
    new_sizes = [(-(-h // sf), -(-w // sf)) for (h, w), sf in zip(sizes, sfs)]
    out_h = max(s[0] for s in new_sizes)
    out_w = max(s[1] for s in new_sizes)
    out = images.new_zeros((images.shape[0], images.shape[1], out_h, out_w))
    for sf in sorted(set(sfs)):
        members = [i for i, s in enumerate(sfs) if s == sf]
        rows = torch.as_tensor(members, device=images.device)
        taps = stack_kernels([shift_kernel(gaussian_1d(params[i].size, params[i].sigma), sf)
                              for i in members], images.device)
        sub_sizes = [sizes[i] for i in members]
        h, w = max(s[0] for s in sub_sizes), max(s[1] for s in sub_sizes)
        sub = images.index_select(0, rows)[:, :, :h, :w]
        sub = convolve_separable(sub, sub_sizes, taps, taps, stride=sf)
        out[rows, :, : sub.shape[2], : sub.shape[3]] = sub
    return out.clamp_(0.0, 1.0), new_sizes


def usm_kernel(radius: int) -> np.ndarray:
    """OpenCV's Gaussian for ``cv2.GaussianBlur(img, (radius, radius), 0)``, (radius,) float64."""
    return cv2.getGaussianKernel(radius, 0).ravel()


def sharpen(images: torch.Tensor, sizes: Sequence[Size],
            params: Sequence[SharpenParams]) -> torch.Tensor:
    """Unsharp masking per sample (as :func:`bsrgan.degradation.sharpen.apply_sharpen`).

    out = m * clip(I + w (I - B)) + (1 - m) * I with B the Gaussian blur of I and m the blurred
    indicator of ``|I - B| * 255 > threshold``. (G, C, h, w) -> same, in [0, 1].
    """
    radii = []
    for p in params:
        radius = p.radius + 1 if p.radius % 2 == 0 else p.radius
        if radius < 1:
            raise ValueError(f"USM radius must be >= 1, got {p.radius!r}")
        radii.append(radius)
    taps = stack_kernels([usm_kernel(r) for r in radii], images.device)
    weight = per_sample([p.weight for p in params], images.device)
    threshold = per_sample([p.threshold for p in params], images.device)
    residual = images - convolve_separable(images, sizes, taps, taps)
    mask = (residual.abs() * 255.0 > threshold).to(images.dtype)
    soft = convolve_separable(mask, sizes, taps, taps)
    sharp = (images + weight * residual).clamp_(0.0, 1.0)
    return (soft * sharp + (1.0 - soft) * images).clamp_(0.0, 1.0)
