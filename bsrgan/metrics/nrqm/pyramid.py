"""The two pyramids of NRQM: a Gaussian pyramid and a complex steerable pyramid (real parts).

Both follow pyiqa's NRQM: the Gaussian pyramid filters with ``fspecial('gaussian', 3, 0.5)``
(zero border) and keeps every second sample from the second one; the steerable pyramid is
``buildSCFpyr`` of matlabPyrTools as ported to torch by pyiqa (``SCFpyr_PyTorch``, 2 scales,
6 orientations). Filters and frequency masks are rounded to float32 as pyiqa stores them and
then applied in float64, so the results agree with pyiqa to float64 round-off.
"""

from __future__ import annotations

from functools import lru_cache
from math import factorial

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["fspecial_gaussian_f32", "gaussian_pyramid", "steerable_bands"]


def fspecial_gaussian_f32(size: int, sigma: float) -> np.ndarray:
    """MATLAB ``fspecial('gaussian', size, sigma)`` rounded to float32, as float64 (size, size)."""
    half = (size - 1) / 2.0
    y, x = np.ogrid[-half : half + 1, -half : half + 1]
    h = np.exp(-(x * x + y * y) / (2.0 * sigma * sigma))
    h[h < np.finfo(h.dtype).eps * h.max()] = 0
    h /= h.sum()
    return h.astype(np.float32).astype(np.float64)


def gaussian_pyramid(x: torch.Tensor, levels: int = 2) -> list[torch.Tensor]:
    """x: (B, 1, H, W) float64 -> ``levels + 1`` images, each about half the size of the last."""
    kernel = torch.from_numpy(fspecial_gaussian_f32(3, 0.5)).to(x)[None, None]
    out = [x]
    for _ in range(levels):
        x = F.conv2d(F.pad(x, (1, 1, 1, 1)), kernel)[:, :, 1::2, 1::2]
        out.append(x)
    return out


# --- steerable pyramid ---------------------------------------------------------------------------

_N_ORIENT = 6
_LUT_SIZE = 1024


def _polar_grid(m: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """log2 radius and angle of the centred (m, n) DFT grid (radius at DC copied from its left)."""
    x = np.linspace(-(m // 2) / (m / 2), (m // 2) / (m / 2) - (1 - m % 2) * 2 / m, num=m)
    y = np.linspace(-(n // 2) / (n / 2), (n // 2) / (n / 2) - (1 - n % 2) * 2 / n, num=n)
    xv, yv = np.meshgrid(y, x)
    angle = np.arctan2(yv, xv)
    rad = np.sqrt(xv**2 + yv**2)
    rad[m // 2][n // 2] = rad[m // 2][n // 2 - 1]
    return np.log2(rad), angle


def _raised_cosine() -> tuple[np.ndarray, np.ndarray]:
    """matlabPyrTools ``rcosFn(1, -0.5)``: the radial transition (X in log2 radius, Y)."""
    n = 256
    x = np.pi * np.array(range(-n - 1, 2)) / 2 / n
    y = np.cos(x) ** 2
    y[0] = y[1]
    y[n + 2] = y[n + 1]
    return -0.5 + 2 / np.pi * (x + np.pi / 4), y


def _f32(mask: np.ndarray) -> np.ndarray:
    """float32, as pyiqa stores its masks; multiplied with float64 spectra they widen exactly."""
    return mask.astype(np.float32)


@lru_cache(maxsize=2)  # images of one size in a row reuse them; ~45 bytes per pixel
def _masks(height: int, width: int) -> dict[str, object]:
    """Frequency masks (float32) for a (height, width) image, 2 scales."""
    log_rad, angle = _polar_grid(height, width)
    x_rcos, y_rcos = _raised_cosine()
    y_rcos = np.sqrt(y_rcos)
    yi_rcos = np.sqrt(1 - y_rcos**2)
    x_cosn = np.pi * np.array(range(-(2 * _LUT_SIZE + 1), _LUT_SIZE + 2)) / _LUT_SIZE
    alpha = (x_cosn + np.pi) % (2 * np.pi) - np.pi
    order = _N_ORIENT - 1
    const = 2 ** (2 * order) * factorial(order) ** 2 / (_N_ORIENT * factorial(2 * order))
    y_cosn = 2 * np.sqrt(const) * np.power(np.cos(x_cosn), order) * (np.abs(alpha) < np.pi / 2)

    masks: dict[str, object] = {
        "lo0": _f32(np.interp(log_rad, x_rcos, yi_rcos)),
        "hi0": _f32(np.interp(log_rad, x_rcos, y_rcos)),
        "scales": [],
    }
    for _ in range(2):
        x_rcos = x_rcos - 1.0  # log2 of the scale factor 2
        himask = _f32(np.interp(log_rad, x_rcos, y_rcos))
        angles = np.stack([_f32(np.interp(angle, x_cosn + np.pi * b / _N_ORIENT, y_cosn))
                           for b in range(_N_ORIENT)])
        dims = np.array(log_rad.shape)
        start = (np.ceil((dims + 0.5) / 2) - np.ceil((np.ceil((dims - 0.5) / 2) + 0.5) / 2)).astype(int)
        end = (start + np.ceil((dims - 0.5) / 2)).astype(int)
        crop = (slice(start[0], end[0]), slice(start[1], end[1]))
        log_rad, angle = log_rad[crop], angle[crop]
        lomask = _f32(np.interp(log_rad, x_rcos, np.abs(np.sqrt(1 - y_rcos**2))))
        masks["scales"].append({"hi": himask, "angles": angles, "crop": crop, "lo": lomask})
    return masks


def steerable_bands(img: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """High-pass residual and oriented bands (real parts) of a 2-scale, 6-orientation pyramid.

    img: (B, H, W) float64 with H, W >= 16. Returns the high-pass (B, H, W) and per scale the
    six bands (B, 6, H_s, W_s), H_0 = H, H_1 = ceil((H - 0.5) / 2).
    """
    height, width = img.shape[-2:]
    if min(height, width) < 16:  # pyiqa: 2 levels need floor(log2(min size)) - 2 >= 2
        raise ValueError(f"the steerable pyramid needs at least 16x16 pixels, got {height}x{width}")
    masks = _masks(int(height), int(width))
    device = img.device

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a).to(device)

    dft = torch.fft.fftshift(torch.fft.fft2(img), dim=(-2, -1))
    highpass = torch.fft.ifft2(torch.fft.ifftshift(dft * tensor(masks["hi0"]), dim=(-2, -1))).real
    lodft = (dft * tensor(masks["lo0"]))[:, None]
    rotate = complex(np.power(complex(0, -1), _N_ORIENT - 1))  # (-i)^(order), as pyiqa
    bands = []
    for scale in masks["scales"]:
        himask = tensor(scale["hi"])
        band = img.new_empty(lodft.shape[0], _N_ORIENT, *lodft.shape[-2:])
        for b, angle in enumerate(scale["angles"]):  # one orientation at a time: less memory
            banddft = lodft[:, 0] * tensor(angle) * himask
            band[:, b] = torch.fft.ifft2(torch.fft.ifftshift(banddft * rotate, dim=(-2, -1))).real
        bands.append(band)
        lodft = tensor(scale["lo"]) * lodft[..., scale["crop"][0], scale["crop"][1]]
    return highpass, bands
