"""Figures of the single degradation ops (notebook 01, sections 1-5)."""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np

from bsrgan.plotting import style
from bsrgan.viz.common import show_image, subplots


def plot_photos(photos: Mapping[str, np.ndarray]):
    """The HR photographs side by side, each titled with its name and size."""
    with style():
        fig, axes = subplots(1, len(photos), panel=(2.8, 3.0))
        for ax, (name, img) in zip(axes[0], photos.items()):
            show_image(ax, img, f"{name}\n{img.shape[1]}×{img.shape[0]}")
    return fig


def crop_center(img: np.ndarray, size: int) -> np.ndarray:
    """The central ``size`` x ``size`` window of an (H, W, 3) image (a view)."""
    h, w = img.shape[:2]
    if h < size or w < size:
        raise ValueError(f"image {w}x{h} is smaller than the {size}x{size} centre crop")
    top, left = (h - size) // 2, (w - size) // 2
    return img[top:top + size, left:left + size]


def _blur_label(p) -> str:
    if p.kind == "isotropic":
        return f"isotropic {p.size}×{p.size}\nσ = {p.sigma:.2f}"
    return (f"anisotropic {p.size}×{p.size}\nλ = {p.l1:.1f}, {p.l2:.1f}; "
            f"θ = {math.degrees(p.theta):.0f}°")


def plot_blur_kernels(img: np.ndarray, draws: Sequence):
    """Top: each drawn kernel (its size, shape, sum); bottom: ``img`` blurred with it."""
    from bsrgan.degradation.blur import apply_blur, blur_kernel

    with style():
        fig, axes = subplots(2, len(draws), panel=(2.4, 2.7))
        for i, p in enumerate(draws):
            kernel = blur_kernel(p)
            axes[0, i].imshow(kernel, cmap="magma")
            axes[0, i].set_title(f"{_blur_label(p)}\nsum {kernel.sum():.3f}")
            axes[0, i].set_axis_off()
            show_image(axes[1, i], apply_blur(img, p))
        axes[0, 0].text(-0.15, 0.5, "kernel", transform=axes[0, 0].transAxes, rotation=90,
                        ha="right", va="center")
        axes[1, 0].text(-0.15, 0.5, "blurred", transform=axes[1, 0].transAxes, rotation=90,
                        ha="right", va="center")
    return fig


def plot_downsampling(img: np.ndarray, scale: int, shift) -> object:
    """``img`` downsampled by ``scale`` with each interpolation of the release, and with the
    shifted-blur + nearest path (its 25x25 kernel first)."""
    from bsrgan.degradation.downsample import apply_shifted_downsample, shifted_kernel
    from bsrgan.degradation.resize import METHODS, ResizeParams, apply_resize

    small = (img.shape[0] // scale, img.shape[1] // scale)
    results = {f"{m}": apply_resize(img, ResizeParams(*small, m)) for m in METHODS}
    results[f"shifted blur σ={shift.sigma:.2f}\n+ nearest"] = apply_shifted_downsample(img, shift)
    with style():
        fig, axes = subplots(1, len(results) + 1, panel=(2.5, 2.9))
        axes[0, 0].imshow(shifted_kernel(shift), cmap="magma")
        axes[0, 0].set_title(f"shifted kernel\n(x{scale}, centre moved\n{(scale - 1) / 2:g} px)")
        axes[0, 0].set_axis_off()
        for ax, (name, out) in zip(axes[0, 1:], results.items()):
            show_image(ax, out, name, below=f"{out.shape[1]}×{out.shape[0]}")
    return fig


def plot_gaussian_noise(img: np.ndarray, params_by_mode: Mapping[str, object]):
    """Per noise mode: the noise field (amplified x4 around gray) and the noisy image."""
    from bsrgan.degradation.noise import apply_gaussian_noise, noise_field

    with style():
        fig, axes = subplots(2, len(params_by_mode), panel=(3.1, 3.3))
        for i, (mode, p) in enumerate(params_by_mode.items()):
            field = np.broadcast_to(noise_field(img.shape[:2], p), img.shape)
            std = field.reshape(-1, 3).std(axis=0) * 255
            show_image(axes[0, i], 0.5 + 4 * field,
                       f"{mode} noise field (×4)\nstd R, G, B: "
                       + ", ".join(f"{s:.1f}" for s in std) + " /255")
            show_image(axes[1, i], apply_gaussian_noise(img, p), f"{mode} noise added")
    return fig


def jpeg_table(img: np.ndarray, qualities: Sequence[int]):
    """PSNR of ``img`` after one JPEG round trip at each quality (a table)."""
    import pandas as pd
    from skimage.metrics import peak_signal_noise_ratio

    from bsrgan.degradation.jpeg import JpegParams, apply_jpeg

    rows = [{"quality": q,
             "psnr_db": round(peak_signal_noise_ratio(img, apply_jpeg(img, JpegParams(q)),
                                                      data_range=1.0), 2)}
            for q in qualities]
    return pd.DataFrame(rows)


def plot_jpeg(img: np.ndarray, qualities: Sequence[int], *, zoom: int = 96):
    """The top-left ``zoom`` x ``zoom`` corner after JPEG at each quality, with its PSNR."""
    from bsrgan.degradation.jpeg import JpegParams, apply_jpeg

    table = jpeg_table(img, qualities)
    with style():
        fig, axes = subplots(1, len(qualities), panel=(3.0, 3.2))
        for ax, (_, row) in zip(axes[0], table.iterrows()):
            out = apply_jpeg(img, JpegParams(int(row.quality)))
            show_image(ax, out[:zoom, :zoom], f"quality {int(row.quality)}: "
                                              f"{row.psnr_db:.1f} dB")
    return fig


def plot_camera_noise_stages(img: np.ndarray, params):
    """The camera-noise ISP one stage at a time (:func:`~bsrgan.degradation.explain.camera_noise_stages`)."""
    from bsrgan.degradation.explain import camera_noise_stages

    stages = camera_noise_stages(img, params)
    with style():
        fig, axes = subplots(2, 3, panel=(3.2, 3.6))
        for ax, (title, stage) in zip(axes.ravel(), stages.items()):
            show_image(ax, stage, title)
    return fig


def camera_round_trip_table(img: np.ndarray, params):
    """PSNR of the ISP round trips against the input: how much the colour pipeline, the
    mosaic + demosaic, and the RAW noise each change the image."""
    import pandas as pd
    from skimage.metrics import peak_signal_noise_ratio

    from bsrgan.degradation import isp
    from bsrgan.degradation.explain import camera_noise_stages

    stages = list(camera_noise_stages(img, params).values())
    linear = isp.reverse_isp(img, params)
    rows = [
        ("reverse -> forward ISP, no mosaic", isp.forward_isp_rgb(linear, params)),
        ("reverse -> mosaic -> demosaic -> forward", stages[4]),
        ("... with shot and read noise", stages[5]),
    ]
    return pd.DataFrame([{"path": name, "psnr_db": round(float(
        peak_signal_noise_ratio(img, out, data_range=1.0)), 2)} for name, out in rows])


def plot_camera_noise_levels(img: np.ndarray, params, *, levels: int = 3):
    """The same image with the shot noise at the bottom, middle and top of the sampled range
    (read noise from the log-linear relation of Brooks et al., no jitter)."""
    from bsrgan.degradation import camera, isp

    lo, hi = np.log(camera.SHOT_NOISE_RANGE[0]), np.log(camera.SHOT_NOISE_RANGE[1])
    with style():
        fig, axes = subplots(1, levels, panel=(3.1, 3.3))
        for ax, log_shot in zip(axes[0], np.linspace(lo, hi, levels)):
            read = float(np.exp(camera.READ_NOISE_SLOPE * log_shot + camera.READ_NOISE_INTERCEPT))
            p = dataclasses.replace(params, shot_noise=float(np.exp(log_shot)), read_noise=read)
            noisy, _ = isp.apply_camera_noise(img, None, p)
            show_image(ax, noisy, f"shot {np.exp(log_shot):.1e}, read {read:.1e}")
    return fig
