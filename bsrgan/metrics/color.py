"""Colour conversions the metrics are defined on, in MATLAB's conventions.

- ``rgb_to_y_bt601``: Y of BT.601 YCbCr, "studio" range (16-235 for 8-bit), as MATLAB ``rgb2ycbcr``
  and the SR literature (BasicSR ``bgr2ycbcr(y_only=True)``) compute it.
- ``rgb_to_gray_matlab``: MATLAB ``rgb2gray`` luma (0.2989 R + 0.5870 G + 0.1140 B).
- ``*_uint8`` variants reproduce what MATLAB returns for a ``uint8`` image read by ``imread``:
  the same formulas evaluated on 0-255 values, then rounded half away from zero and saturated.
- ``colour_shift``: how far two images' mean colours are apart (an artefact indicator, not a
  MATLAB convention).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "GRAY_WEIGHTS",
    "YCBCR_Y_WEIGHTS",
    "colour_shift",
    "rgb_to_gray_matlab",
    "rgb_to_gray_matlab_uint8",
    "rgb_to_y_bt601",
    "rgb_to_y_bt601_uint8",
    "to_uint8_matlab",
]

#: BT.601 Y weights for RGB in [0, 1] giving Y in [16, 235] (MATLAB rgb2ycbcr, first row).
YCBCR_Y_WEIGHTS = np.array([65.481, 128.553, 24.966], dtype=np.float64)
YCBCR_Y_OFFSET = 16.0

#: MATLAB rgb2gray weights: first row of inv([1 .956 .621; 1 -.272 -.647; 1 -1.106 1.703]),
#: i.e. 0.298936021293775, 0.587043074451121, 0.114020904255103.
GRAY_WEIGHTS = np.linalg.inv(
    np.array([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.106, 1.703]])
)[0]


def _check_rgb(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got shape {img.shape}")
    return img.astype(np.float64, copy=False)


def to_uint8_matlab(x: np.ndarray) -> np.ndarray:
    """MATLAB's conversion of double 0-255 values to uint8: round half away from zero, saturate.

    Returns float64 holding integers in [0, 255] (what ``double(uint8(x))`` gives).
    """
    clipped = np.clip(np.asarray(x, dtype=np.float64), 0.0, 255.0)
    return np.floor(clipped + 0.5)  # non-negative after saturation: half away from zero = floor(x + .5)


def rgb_to_y_bt601(img: np.ndarray) -> np.ndarray:
    """Y of BT.601 YCbCr (MATLAB ``rgb2ycbcr`` on doubles).

    img: (H, W, 3) RGB float in [0, 1] -> (H, W) float64 in [16/255, 235/255]; not rounded.
    """
    rgb = _check_rgb(img)
    return (rgb @ YCBCR_Y_WEIGHTS + YCBCR_Y_OFFSET) / 255.0


def rgb_to_y_bt601_uint8(img: np.ndarray) -> np.ndarray:
    """Y channel of MATLAB ``rgb2ycbcr(uint8 image)``, as PIRM 2018's scoring code reads it.

    img: (H, W, 3) RGB float in [0, 1] (first quantised to uint8 like ``im2uint8``)
    -> (H, W) float64 integer values in [16, 235].
    """
    rgb8 = to_uint8_matlab(_check_rgb(img) * 255.0)
    return to_uint8_matlab(rgb8 @ YCBCR_Y_WEIGHTS / 255.0 + YCBCR_Y_OFFSET)


def rgb_to_gray_matlab(img: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2gray`` luma on doubles. img: (H, W, 3) in [0, 1] -> (H, W) float64 in [0, 1]."""
    return _check_rgb(img) @ GRAY_WEIGHTS


def rgb_to_gray_matlab_uint8(img: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2gray(uint8 image)``: what the official NIQE code sees for an ``imread`` RGB file.

    img: (H, W, 3) RGB float in [0, 1] -> (H, W) float64 integer values in [0, 255].
    """
    rgb8 = to_uint8_matlab(_check_rgb(img) * 255.0)
    return to_uint8_matlab(rgb8 @ GRAY_WEIGHTS)


def colour_shift(img: np.ndarray, ref: np.ndarray) -> float:
    """Largest per-channel difference of the mean colours, in 8-bit levels (0-255).

    img, ref: (H, W, 3) RGB in [0, 1], any sizes (e.g. an SR output and the bicubic upscale of its
    input, or an SR output and its HR target). 0 means the same mean colour.
    """
    img, ref = np.asarray(img), np.asarray(ref)
    if img.ndim != 3 or ref.ndim != 3 or img.shape[2] != 3 or ref.shape[2] != 3:
        raise ValueError(f"colour_shift expects two (H, W, 3) RGB images, got {img.shape} and "
                         f"{ref.shape}")
    means = [x.reshape(-1, 3).astype(np.float64).mean(axis=0) for x in (img, ref)]
    return float(np.abs(means[0] - means[1]).max() * 255.0)
