"""Processed camera sensor noise on a group, in torch (see :mod:`bsrgan.degradation.isp`).

The same steps as the numpy backend, each vectorised over the group with per-sample camera
parameters: reverse ISP (inverse tone curve, gamma expansion, colour matrix, highlight-preserving
inverse gains), Bayer mosaic, heteroscedastic RAW noise (one torch generator per sample, seeded
with ``params.seed``), forward ISP (gains, demosaic, inverse colour matrix, gamma, tone curve).
Demosaicing filters every sample's RAW plane with its four estimator kernels (bilinear or
Malvar-He-Cutler, reflect-101 borders) in one grouped convolution, then picks, at each of the
four Bayer sites, which estimate fills which colour -- a (3 colours x 5 sources x 2 x 2) table per
sample built from its CFA pattern.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from bsrgan.degradation.batched.canvas import Size, per_sample, reflect_pad
from bsrgan.degradation.batched.filtering import depthwise
from bsrgan.degradation.batched.noise import standard_normal
from bsrgan.degradation.camera import BAYER_PATTERNS, HIGHLIGHT_INFLECTION
from bsrgan.degradation.isp import _GAMMA_FLOOR, _KERNELS, _SITES, CameraNoiseParams

#: Order of the demosaic estimates stacked for the per-site selection.
_SOURCES = ("raw", "g", "h", "v", "d")


def site_table(pattern: str) -> np.ndarray:
    """(3, 5, 2, 2) float32: which source fills colour c at Bayer site (i, j) of ``pattern``.

    Sources are the site's own value and the g/h/v/d estimates; at a green site the colour of
    the row neighbours comes from "h" and that of the column neighbours from "v", at a red or
    blue site green comes from "g" and the other of red/blue from "d" (as
    :func:`bsrgan.degradation.isp.demosaic`).
    """
    colours = BAYER_PATTERNS[pattern]
    table = np.zeros((3, len(_SOURCES), 2, 2), dtype=np.float32)
    src = {name: k for k, name in enumerate(_SOURCES)}
    for (i, j), c in zip(_SITES, colours):
        table[c, src["raw"], i, j] = 1
        if c == 1:
            table[colours[2 * i + (1 - j)], src["h"], i, j] = 1
            table[colours[2 * (1 - i) + j], src["v"], i, j] = 1
        else:
            table[1, src["g"], i, j] = 1
            table[2 - c, src["d"], i, j] = 1
    return table


def _demosaic_kernels(method: str) -> np.ndarray:
    """(4, 5, 5) float32: the g, h, v, d estimators of ``method``, 3x3 ones zero-padded."""
    out = np.zeros((4, 5, 5), dtype=np.float32)
    for k, name in enumerate(("g", "h", "v", "d")):
        kernel = _KERNELS[method][name]
        o = (5 - kernel.shape[0]) // 2
        out[k, o : o + kernel.shape[0], o : o + kernel.shape[1]] = kernel
    return out


@dataclass(frozen=True)
class CameraBatch:
    """Per-sample camera parameters of a group as device tensors."""

    ccm: torch.Tensor  # (G, 3, 3) linear sRGB -> camera
    cam2rgb: torch.Tensor  # (G, 3, 3) its inverse
    wb_gains: torch.Tensor  # (G, 3, 1, 1) forward white balance * brightness (R, G, B)
    gamma: torch.Tensor  # (G, 1, 1, 1)
    smoothstep: torch.Tensor  # (G, 1, 1, 1) bool: tone curve on
    cfa: torch.Tensor  # (G, 3, 2, 2) one-hot colour of each Bayer site
    sites: torch.Tensor  # (G, 3, 5, 2, 2) demosaic selection table
    demosaic: torch.Tensor  # (G, 4, 5, 5) estimator kernels
    shot: torch.Tensor  # (G, 1, 1, 1) RAW noise variance per unit signal
    read: torch.Tensor  # (G, 1, 1, 1) RAW noise variance floor
    seeds: tuple[int, ...]
    noisy: tuple[bool, ...]

    @classmethod
    def from_params(cls, params: Sequence[CameraNoiseParams], device: torch.device) -> CameraBatch:
        def tensor(array: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).to(device)

        wb = np.stack([np.array([p.red_gain, 1.0, p.blue_gain], np.float32) * np.float32(p.rgb_gain)
                       for p in params])
        cfa = np.zeros((len(params), 3, 2, 2), dtype=np.float32)
        for g, p in enumerate(params):
            for (i, j), c in zip(_SITES, BAYER_PATTERNS[p.bayer_pattern]):
                cfa[g, c, i, j] = 1
        return cls(
            ccm=tensor(np.stack([p.ccm for p in params])),
            cam2rgb=tensor(np.stack([p.cam2rgb for p in params])),
            wb_gains=tensor(wb)[:, :, None, None],
            gamma=per_sample([p.gamma for p in params], device),
            smoothstep=per_sample([p.tone_mapping == "smoothstep" for p in params], device) > 0,
            cfa=tensor(cfa),
            sites=tensor(np.stack([site_table(p.bayer_pattern) for p in params])),
            demosaic=tensor(np.stack([_demosaic_kernels(p.demosaic) for p in params])),
            shot=per_sample([p.shot_noise for p in params], device),
            read=per_sample([p.read_noise for p in params], device),
            seeds=tuple(p.seed for p in params),
            noisy=tuple(p.shot_noise > 0 or p.read_noise > 0 for p in params),
        )


def _colour_matrix(images: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """out[:, i] = sum_j M[i, j] * images[:, j] per sample; (G, 3, H, W)."""
    return torch.einsum("gij,gjyx->giyx", matrices, images)


def _power(x: torch.Tensor, exponent: torch.Tensor) -> torch.Tensor:
    return x.clamp_min(_GAMMA_FLOOR).pow(exponent)


def _inverse_smoothstep(x: torch.Tensor) -> torch.Tensor:
    return 0.5 - torch.sin(torch.asin(x * -2.0 + 1.0) * (1.0 / 3.0))


def _smoothstep(x: torch.Tensor) -> torch.Tensor:
    return (x * x) * (x * -2.0 + 3.0)


def reverse_isp(images: torch.Tensor, cam: CameraBatch) -> torch.Tensor:
    """sRGB (G, 3, H, W) in [0, 1] -> linear camera RGB before white balance, in [0, 1]."""
    x = images.clamp(0.0, 1.0)
    x = torch.where(cam.smoothstep, _inverse_smoothstep(x), x)
    x = _colour_matrix(_power(x, cam.gamma), cam.ccm)
    # highlight-preserving inverse gains (Brooks' safe_invert_gains)
    gains = 1.0 / cam.wb_gains
    grey = x.mean(dim=1, keepdim=True)
    mask = ((grey - HIGHLIGHT_INFLECTION) / (1.0 - HIGHLIGHT_INFLECTION)) ** 2
    safe = torch.maximum(mask + (1.0 - mask) * gains, gains)
    x = x * torch.where(grey > HIGHLIGHT_INFLECTION, safe, gains)
    return x.clamp_(0.0, 1.0)


def _by_site(x: torch.Tensor) -> torch.Tensor:
    """(G, C, H, W) -> (G, C, H/2, 2, W/2, 2): pixels by Bayer site (zero-padded to even sizes)."""
    g, c, h, w = x.shape
    x = F.pad(x, (0, w % 2, 0, h % 2))
    return x.reshape(g, c, x.shape[2] // 2, 2, x.shape[3] // 2, 2)


def _from_sites(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Inverse of :func:`_by_site`: (G, C, H/2, 2, W/2, 2) -> (G, C, height, width)."""
    g, c, h2, _, w2, _ = x.shape
    return x.reshape(g, c, 2 * h2, 2 * w2)[:, :, :height, :width]


def mosaic(images: torch.Tensor, cam: CameraBatch) -> torch.Tensor:
    """(G, 3, H, W) -> (G, 1, H, W) RAW plane through each sample's colour filter array."""
    raw = torch.einsum("gcyaxb,gcab->gyaxb", _by_site(images), cam.cfa)[:, None]
    return _from_sites(raw, images.shape[2], images.shape[3])


def add_raw_noise(raw: torch.Tensor, sizes: Sequence[Size], cam: CameraBatch) -> torch.Tensor:
    """``raw + sqrt(read + shot * raw) * N(0, 1)`` per sample (no noise where both are 0)."""
    _, _, h, w = raw.shape
    seeds = [s for s, on in zip(cam.seeds, cam.noisy) if on]
    index = [i for i, on in enumerate(cam.noisy) if on]
    if not index:
        return raw
    z = torch.zeros_like(raw)
    z[index] = standard_normal(seeds, [(1, *sizes[i]) for i in index], (len(index), 1, h, w),
                               raw.device)
    return raw + torch.sqrt(raw * cam.shot + cam.read) * z


def demosaic(raw: torch.Tensor, sizes: Sequence[Size], cam: CameraBatch) -> torch.Tensor:
    """(G, 1, H, W) RAW -> (G, 3, H, W) RGB (not clipped), reflect-101 borders per sample."""
    padded = reflect_pad(raw.expand(-1, 4, -1, -1), sizes, (2, 2), (2, 2))
    estimates = depthwise(padded, cam.demosaic)  # correlation, as cv2.filter2D
    sources = _by_site(torch.cat([raw, estimates], dim=1))
    out = torch.einsum("gkyaxb,gckab->gcyaxb", sources, cam.sites)
    return _from_sites(out, raw.shape[2], raw.shape[3])


def _camera_to_srgb(cam_rgb: torch.Tensor, cam: CameraBatch) -> torch.Tensor:
    x = _colour_matrix(cam_rgb, cam.cam2rgb).clamp_(0.0, 1.0)
    x = _power(x, 1.0 / cam.gamma)
    x = torch.where(cam.smoothstep, _smoothstep(x), x)
    return x.clamp_(0.0, 1.0)


def forward_isp_raw(raw: torch.Tensor, sizes: Sequence[Size], cam: CameraBatch) -> torch.Tensor:
    """RAW (G, 1, H, W) -> sRGB (G, 3, H, W) in [0, 1]: gains, clip, demosaic, colour, tone."""
    site_gains = torch.einsum("gcab,gc->gab", cam.cfa, cam.wb_gains[:, :, 0, 0])
    wb = _by_site(raw) * site_gains[:, None, None, :, None, :]
    wb = _from_sites(wb, raw.shape[2], raw.shape[3]).clamp(0.0, 1.0)
    return _camera_to_srgb(demosaic(wb, sizes, cam), cam)


def forward_isp_rgb(cam_rgb: torch.Tensor, cam: CameraBatch) -> torch.Tensor:
    """Linear camera RGB (G, 3, H, W) -> sRGB without a mosaic (the noise-free path for hq)."""
    return _camera_to_srgb((cam_rgb * cam.wb_gains).clamp_(0.0, 1.0), cam)


def camera_noise(lq: torch.Tensor, lq_sizes: Sequence[Size], hq: torch.Tensor,
                 params: Sequence[CameraNoiseParams]) -> tuple[torch.Tensor, torch.Tensor]:
    """Processed camera sensor noise on ``lq``; the same colour pipeline without noise on ``hq``.

    Args:
        lq: (G, 3, h, w) float32 in [0, 1], valid sizes ``lq_sizes`` (each >= 2x2).
        hq: (G, 3, H, W) float32 in [0, 1].
        params: one :class:`~bsrgan.degradation.isp.CameraNoiseParams` per sample.

    Returns:
        (lq', hq') float32 in [0, 1], same shapes.
    """
    for size in lq_sizes:
        if min(size) < 2:
            raise ValueError(f"camera noise needs images of at least 2x2 pixels (one Bayer "
                             f"tile), got {size[0]}x{size[1]}")
    cam = CameraBatch.from_params(params, lq.device)
    raw = add_raw_noise(mosaic(reverse_isp(lq, cam), cam), lq_sizes, cam)
    return forward_isp_raw(raw, lq_sizes, cam), forward_isp_rgb(reverse_isp(hq, cam), cam)
