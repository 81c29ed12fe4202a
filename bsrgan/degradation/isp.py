"""Processed camera sensor noise: reverse ISP -> RAW -> shot/read noise -> forward ISP.

The BSRGAN paper (Zhang et al., ICCV 2021) lists "processed camera sensor noise" among its
noises, but the authors never released it. This module rebuilds it from the paper's description
and the public parameter ranges of Brooks et al., "Unprocessing Images for Learned Raw
Denoising" (CVPR 2019, google-research/unprocessing). The full description of every step,
parameter range, source and deviation is in ``docs/camera_noise.md``; in short:

Reverse ISP (sRGB -> RAW), ``reverse_isp`` + ``mosaic``::

    x in [0,1] -> inverse smoothstep -> gamma expansion x**2.2 -> linear sRGB -> camera RGB
    (random ``rgb2cam``) -> inverse white balance / brightness gains (highlight-preserving)
    -> clip [0,1] -> Bayer mosaic (full-resolution single plane, any H, W >= 2)

RAW noise, ``add_raw_noise``: ``raw + N(0, read + shot * raw)`` (heteroscedastic Gaussian).

Forward ISP (RAW -> sRGB), ``forward_isp_raw``::

    white balance + brightness gains on the Bayer sites -> clip -> demosaic (bilinear or
    Malvar-He-Cutler) -> camera RGB -> XYZ -> linear sRGB (one matrix, ``inv(rgb2cam)``)
    -> clip -> gamma compression x**(1/2.2) -> smoothstep tone mapping

``apply_camera_noise(lq, hq, params)`` sends ``lq`` through reverse ISP -> mosaic -> noise ->
forward ISP, and ``hq`` through reverse ISP -> forward ISP with the same colour transforms but
neither noise nor mosaic/demosaic (``forward_isp_rgb``), so the pair stays consistent in colour
and the target never contains demosaicing artefacts.

All images are float32 ``(H, W, 3)`` RGB in ``[0, 1]``; RAW Bayer planes are float32 ``(H, W)``.
Sampling (``sample_camera_noise(rng)``) and applying are separate; the noise realisation comes
from ``numpy.random.default_rng(params.seed)``, so an application is deterministic given params.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from bsrgan.degradation.camera import (
    BAYER_PATTERNS,
    BLUE_GAIN_RANGE,
    DEFAULT_GAMMA,
    DEMOSAIC_METHODS,
    HIGHLIGHT_INFLECTION,
    READ_NOISE_INTERCEPT,
    READ_NOISE_LOG_STD,
    READ_NOISE_SLOPE,
    RED_GAIN_RANGE,
    RGB_GAIN_INVERSE_CLIP,
    RGB_GAIN_INVERSE_MEAN,
    RGB_GAIN_INVERSE_STD,
    SHOT_NOISE_RANGE,
    SRGB_TO_XYZ,
    TONE_MAPPINGS,
    XYZ_TO_CAMERA_MATRICES,
)

__all__ = [
    "CameraNoiseParams",
    "add_raw_noise",
    "apply_camera_noise",
    "apply_ccm",
    "apply_gains",
    "bayer_gains",
    "demosaic",
    "forward_isp_raw",
    "forward_isp_rgb",
    "gamma_compression",
    "gamma_expansion",
    "inverse_smoothstep",
    "mosaic",
    "random_rgb2cam",
    "reverse_isp",
    "safe_invert_gains",
    "sample_camera_noise",
    "smoothstep",
]

_GAMMA_FLOOR = 1e-8  # Brooks: clamps before the power so x**(1/g) is finite near zero.


@dataclass(frozen=True)
class CameraNoiseParams:
    """One synthetic camera and one noise realisation (JSON-serialisable via ``asdict``).

    Attributes:
        rgb2cam: 3x3 linear sRGB -> camera RGB matrix (list of 3 rows), rows sum to 1 so that
            white stays white after white balance; the forward ISP uses its inverse.
        rgb_gain: digital brightness gain (> 0); the reverse ISP divides by it.
        red_gain: white-balance gain of the red channel (> 0).
        blue_gain: white-balance gain of the blue channel (> 0).
        shot_noise: signal-dependent RAW noise variance per unit signal (>= 0).
        read_noise: signal-independent RAW noise variance (>= 0).
        seed: seed of the Gaussian noise realisation (int in [0, 2**63)).
        bayer_pattern: colour filter array layout of the top-left 2x2 tile: RGGB, BGGR, GRBG, GBRG.
        demosaic: "bilinear" or "malvar" (Malvar-He-Cutler 5x5 gradient-corrected).
        tone_mapping: "smoothstep" (3x^2 - 2x^3, Brooks' global curve) or "none".
        gamma: gamma exponent of the power-law transfer curve (Brooks: 2.2).
    """

    rgb2cam: list[list[float]]
    rgb_gain: float
    red_gain: float
    blue_gain: float
    shot_noise: float
    read_noise: float
    seed: int
    bayer_pattern: str = "RGGB"
    demosaic: str = "bilinear"
    tone_mapping: str = "smoothstep"
    gamma: float = DEFAULT_GAMMA

    def __post_init__(self) -> None:
        matrix = np.asarray(self.rgb2cam, dtype=np.float64)
        if matrix.shape != (3, 3) or not np.all(np.isfinite(matrix)):
            raise ValueError(
                f"CameraNoiseParams.rgb2cam must be a finite 3x3 matrix, got {self.rgb2cam!r}"
            )
        if np.linalg.cond(matrix) > 1e6:
            raise ValueError(f"CameraNoiseParams.rgb2cam is (nearly) singular: {matrix.tolist()}")
        # Plain Python lists of floats: hashable-free but JSON-friendly and tuple/list tolerant.
        object.__setattr__(self, "rgb2cam", matrix.tolist())
        for name in ("rgb_gain", "red_gain", "blue_gain", "gamma"):
            value = float(getattr(self, name))
            if not np.isfinite(value) or value <= 0:
                raise ValueError(
                    f"CameraNoiseParams.{name} must be a finite number > 0, got {value}"
                )
            object.__setattr__(self, name, value)
        for name in ("shot_noise", "read_noise"):
            value = float(getattr(self, name))
            if not np.isfinite(value) or value < 0:
                raise ValueError(
                    f"CameraNoiseParams.{name} must be a finite number >= 0, got {value}"
                )
            object.__setattr__(self, name, value)
        seed = self.seed
        integral = isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)
        if not integral or not 0 <= int(seed) < 2**63:
            raise ValueError(
                f"CameraNoiseParams.seed must be an integer in [0, 2**63), got {seed!r}"
            )
        object.__setattr__(self, "seed", int(seed))
        _check_choice("bayer_pattern", self.bayer_pattern, tuple(BAYER_PATTERNS))
        _check_choice("demosaic", self.demosaic, DEMOSAIC_METHODS)
        _check_choice("tone_mapping", self.tone_mapping, TONE_MAPPINGS)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CameraNoiseParams:
        """Rebuild from ``dataclasses.asdict`` output (also after a JSON round trip)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"CameraNoiseParams: unknown keys {unknown}; expected a subset of {sorted(known)}"
            )
        return cls(**data)

    @property
    def ccm(self) -> np.ndarray:
        """``rgb2cam`` as a float64 (3, 3) array."""
        return np.asarray(self.rgb2cam, dtype=np.float64)

    @property
    def cam2rgb(self) -> np.ndarray:
        """Camera RGB -> linear sRGB, float64 (3, 3): the inverse of ``rgb2cam``."""
        return np.linalg.inv(self.ccm)


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"CameraNoiseParams.{name} must be one of {list(choices)}, got {value!r}")


# --------------------------------------------------------------------------------------------
# Sampling (Brooks et al. 2019 ranges)
# --------------------------------------------------------------------------------------------


def random_rgb2cam(rng: np.random.Generator) -> np.ndarray:
    """Random linear sRGB -> camera matrix, float64 (3, 3), each row summing to 1.

    A random convex combination of Brooks' four XYZ -> camera matrices (weights U(1e-8, 1e8),
    normalised), times sRGB -> XYZ, rows normalised (white balance maps grey to grey).
    """
    weights = rng.uniform(1e-8, 1e8, size=len(XYZ_TO_CAMERA_MATRICES))
    xyz2cam = np.tensordot(weights / weights.sum(), XYZ_TO_CAMERA_MATRICES, axes=1)
    rgb2cam = xyz2cam @ SRGB_TO_XYZ
    return rgb2cam / rgb2cam.sum(axis=1, keepdims=True)


def sample_camera_noise(rng: np.random.Generator) -> CameraNoiseParams:
    """Draw a synthetic camera and noise level with the published ranges of Brooks et al.

    - ``rgb2cam``: ``random_rgb2cam`` (Brooks ``random_ccm``).
    - ``rgb_gain = 1 / N(0.8, 0.1)`` (normal draw clipped to [0.3, 1.3], i.e. +-5 std, only to keep
      it positive), ``red_gain ~ U(1.9, 2.4)``, ``blue_gain ~ U(1.5, 1.9)`` (Brooks ``random_gains``).
    - ``log shot ~ U(log 1e-4, log 1.2e-2)``, ``log read = 2.18 log shot + 1.20 + N(0, 0.26)``
      (Brooks ``random_noise_levels``).
    - ``demosaic`` is bilinear (Brooks) or Malvar-He-Cutler with probability 1/2 each (our choice,
      see docs); the Bayer pattern is RGGB (Brooks; the pipeline's random crop already
      randomises the CFA phase); smoothstep tone mapping and gamma 2.2 (Brooks).
    - ``seed`` for the noise realisation.
    """
    rgb2cam = random_rgb2cam(rng)
    inverse_gain = float(
        np.clip(rng.normal(RGB_GAIN_INVERSE_MEAN, RGB_GAIN_INVERSE_STD), *RGB_GAIN_INVERSE_CLIP)
    )
    red_gain = float(rng.uniform(*RED_GAIN_RANGE))
    blue_gain = float(rng.uniform(*BLUE_GAIN_RANGE))
    log_shot = rng.uniform(np.log(SHOT_NOISE_RANGE[0]), np.log(SHOT_NOISE_RANGE[1]))
    log_read = (
        READ_NOISE_SLOPE * log_shot + READ_NOISE_INTERCEPT + rng.normal(0.0, READ_NOISE_LOG_STD)
    )
    demosaic_method = DEMOSAIC_METHODS[int(rng.integers(len(DEMOSAIC_METHODS)))]
    return CameraNoiseParams(
        rgb2cam=rgb2cam.tolist(),
        rgb_gain=1.0 / inverse_gain,
        red_gain=red_gain,
        blue_gain=blue_gain,
        shot_noise=float(np.exp(log_shot)),
        read_noise=float(np.exp(log_read)),
        seed=int(rng.integers(0, 2**63 - 1)),
        bayer_pattern="RGGB",
        demosaic=demosaic_method,
        tone_mapping="smoothstep",
        gamma=DEFAULT_GAMMA,
    )


# --------------------------------------------------------------------------------------------
# Pixel-wise building blocks: float32 (H, W, 3) in, float32 (H, W, 3) out
# --------------------------------------------------------------------------------------------


def _clipped_copy(img: np.ndarray) -> np.ndarray:
    """A fresh float32 copy of ``img`` clipped to [0, 1] (one allocation)."""
    out = np.empty(img.shape, dtype=np.float32)
    return np.clip(img, 0.0, 1.0, out=out, casting="same_kind")


def _inverse_smoothstep_(x: np.ndarray) -> np.ndarray:
    """In place: ``x <- 0.5 - sin(asin(1 - 2x) / 3)`` for float32 ``x`` in [0, 1]."""
    x *= -2.0
    x += 1.0
    np.arcsin(x, out=x)
    x *= np.float32(1.0 / 3.0)
    np.sin(x, out=x)
    return np.subtract(np.float32(0.5), x, out=x)


def _smoothstep_(x: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray:
    """In place: ``x <- 3x^2 - 2x^3`` for float32 ``x`` in [0, 1]."""
    t = np.multiply(x, -2.0, out=scratch)
    t += 3.0
    x *= x
    x *= t
    return x


def _power_(x: np.ndarray, exponent: float) -> np.ndarray:
    """In place: ``x <- max(x, 1e-8) ** exponent`` (OpenCV pow, float32)."""
    np.maximum(x, np.float32(_GAMMA_FLOOR), out=x)
    return cv2.pow(x, float(exponent), dst=x)


def inverse_smoothstep(img: np.ndarray) -> np.ndarray:
    """Exact inverse of ``smoothstep`` on [0, 1]: ``0.5 - sin(asin(1 - 2x) / 3)`` (input clipped)."""
    return _inverse_smoothstep_(_clipped_copy(img))


def smoothstep(img: np.ndarray) -> np.ndarray:
    """Global tone curve ``3x^2 - 2x^3`` (input clipped to [0, 1])."""
    return _smoothstep_(_clipped_copy(img))


def gamma_expansion(img: np.ndarray, gamma: float = DEFAULT_GAMMA) -> np.ndarray:
    """Gamma-encoded -> linear: ``max(x, 1e-8) ** gamma``."""
    return _power_(np.array(img, dtype=np.float32), gamma)


def gamma_compression(img: np.ndarray, gamma: float = DEFAULT_GAMMA) -> np.ndarray:
    """Linear -> gamma-encoded: ``max(x, 1e-8) ** (1 / gamma)``."""
    return _power_(np.array(img, dtype=np.float32), 1.0 / gamma)


def apply_ccm(img: np.ndarray, ccm: np.ndarray) -> np.ndarray:
    """Colour matrix on every pixel: ``out[..., i] = sum_j ccm[i, j] * img[..., j]``; (H, W, 3)."""
    return cv2.transform(
        np.ascontiguousarray(img, dtype=np.float32), np.asarray(ccm, dtype=np.float32)
    )


def _wb_gains(rgb_gain: float, red_gain: float, blue_gain: float) -> np.ndarray:
    """Forward per-channel gains (R, G, B), float32 (3,)."""
    return np.array([red_gain, 1.0, blue_gain], dtype=np.float32) * np.float32(rgb_gain)


def safe_invert_gains(
    img: np.ndarray, rgb_gain: float, red_gain: float, blue_gain: float
) -> np.ndarray:
    """Undo white balance and brightness without dimming highlights (Brooks).

    Pixel gains are ``[1/red, 1, 1/blue] / rgb_gain``; above grey level 0.9 they are blended
    towards 1 with weight ``mask = ((grey - 0.9) / 0.1) ** 2`` and never below the plain gains.
    """
    gains = np.float32(1.0) / _wb_gains(rgb_gain, red_gain, blue_gain)
    img = np.ascontiguousarray(img, dtype=np.float32)
    out = cv2.transform(img, np.diag(gains))
    grey = cv2.transform(img, np.full((1, 3), 1.0 / 3.0, dtype=np.float32))
    highlight = grey > HIGHLIGHT_INFLECTION
    if highlight.any():  # usually a small set of pixels: fix only those
        mask = np.square((grey[highlight] - HIGHLIGHT_INFLECTION) / (1.0 - HIGHLIGHT_INFLECTION))[
            :, None
        ]
        out[highlight] = img[highlight] * np.maximum(mask + (1.0 - mask) * gains, gains)
    return out


def apply_gains(img: np.ndarray, rgb_gain: float, red_gain: float, blue_gain: float) -> np.ndarray:
    """Forward white balance and brightness on an (H, W, 3) camera image (no clipping)."""
    return cv2.transform(
        np.ascontiguousarray(img, dtype=np.float32),
        np.diag(_wb_gains(rgb_gain, red_gain, blue_gain)),
    )


# --------------------------------------------------------------------------------------------
# Bayer plane: mosaic, gains, noise, demosaic. RAW is float32 (H, W), any H, W >= 2.
# --------------------------------------------------------------------------------------------

_SITES = ((0, 0), (0, 1), (1, 0), (1, 1))


def mosaic(img: np.ndarray, pattern: str = "RGGB") -> np.ndarray:
    """Sample an (H, W, 3) image through a colour filter array -> (H, W) float32 RAW plane.

    Full-resolution single plane (not Brooks' (H/2, W/2, 4) packing), so odd H or W need no
    padding or cropping: the last row/column simply holds a partial tile.
    """
    colours = BAYER_PATTERNS[pattern]
    raw = np.empty(img.shape[:2], dtype=np.float32)
    for (i, j), c in zip(_SITES, colours):
        raw[i::2, j::2] = img[i::2, j::2, c]
    return raw


def bayer_gains(raw: np.ndarray, pattern: str, gains_rgb: np.ndarray) -> np.ndarray:
    """Multiply each Bayer site by the gain of its colour; ``gains_rgb`` (3,) -> (H, W) float32."""
    tile = np.asarray(gains_rgb, dtype=np.float32)[list(BAYER_PATTERNS[pattern])].reshape(2, 2)
    h, w = raw.shape
    return raw * np.tile(tile, ((h + 1) // 2, (w + 1) // 2))[:h, :w]


def add_raw_noise(
    raw: np.ndarray, shot_noise: float, read_noise: float, rng: np.random.Generator
) -> np.ndarray:
    """Heteroscedastic Gaussian RAW noise: ``raw + sqrt(read + shot * raw) * N(0, 1)``, float32.

    ``raw`` must be non-negative (it is clipped to [0, 1] by the reverse ISP); no clipping after.
    """
    variance = np.multiply(raw, np.float32(shot_noise), dtype=np.float32)
    variance += np.float32(read_noise)
    noise = rng.standard_normal(raw.shape, dtype=np.float32)
    noise *= np.sqrt(variance, out=variance)
    noise += raw
    return noise


def _demosaic_kernels(method: str) -> dict[str, np.ndarray]:
    """Kernels estimating, at a site: green ('g'), the colour of the horizontal neighbours ('h'),
    of the vertical neighbours ('v') and of the diagonal neighbours ('d')."""
    if method == "bilinear":
        g = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], np.float32) / 4
        h = np.array([[0, 0, 0], [1, 0, 1], [0, 0, 0]], np.float32) / 2
        d = np.array([[1, 0, 1], [0, 0, 0], [1, 0, 1]], np.float32) / 4
    else:  # Malvar, He, Cutler, "High-quality linear interpolation for demosaicing", ICASSP 2004.
        g = (
            np.array(
                [
                    [0, 0, -1, 0, 0],
                    [0, 0, 2, 0, 0],
                    [-1, 2, 4, 2, -1],
                    [0, 0, 2, 0, 0],
                    [0, 0, -1, 0, 0],
                ],
                np.float32,
            )
            / 8
        )
        h = (
            np.array(
                [
                    [0, 0, 0.5, 0, 0],
                    [0, -1, 0, -1, 0],
                    [-1, 4, 5, 4, -1],
                    [0, -1, 0, -1, 0],
                    [0, 0, 0.5, 0, 0],
                ],
                np.float32,
            )
            / 8
        )
        d = (
            np.array(
                [
                    [0, 0, -1.5, 0, 0],
                    [0, 2, 0, 2, 0],
                    [-1.5, 0, 6, 0, -1.5],
                    [0, 2, 0, 2, 0],
                    [0, 0, -1.5, 0, 0],
                ],
                np.float32,
            )
            / 8
        )
    return {"g": g, "h": h, "v": np.ascontiguousarray(h.T), "d": d}


_KERNELS = {method: _demosaic_kernels(method) for method in DEMOSAIC_METHODS}


def demosaic(raw: np.ndarray, pattern: str = "RGGB", method: str = "bilinear") -> np.ndarray:
    """Interpolate an (H, W) RAW plane to (H, W, 3) float32 RGB (not clipped).

    ``bilinear`` (equal to Brooks' TF demosaic, borders included) or ``malvar`` (Malvar-He-Cutler 2004: bilinear plus a Laplacian
    correction from the site's own colour, ~4 dB better on natural images). Both are linear
    filters (OpenCV ``filter2D``) in float32, so no 16-bit quantisation; the sampled site keeps
    its own value exactly. Borders use reflect-101, which keeps the Bayer phase, so odd sizes are
    handled without padding.
    """
    if method not in _KERNELS:
        raise ValueError(
            f"demosaic: method must be one of {list(DEMOSAIC_METHODS)}, got {method!r}"
        )
    if raw.ndim != 2 or min(raw.shape) < 2:
        raise ValueError(
            f"demosaic: expected an (H, W) RAW plane with H, W >= 2, got shape {raw.shape}"
        )
    raw = np.ascontiguousarray(raw, dtype=np.float32)
    est = {
        key: cv2.filter2D(raw, -1, kernel, borderType=cv2.BORDER_REFLECT_101)
        for key, kernel in _KERNELS[method].items()
    }
    colours = BAYER_PATTERNS[pattern]
    out = np.empty(raw.shape + (3,), dtype=np.float32)
    for (i, j), c in zip(_SITES, colours):
        site = (slice(i, None, 2), slice(j, None, 2))
        out[site + (c,)] = raw[site]
        if c == 1:  # green site: its row holds one of R/B, its column the other
            out[site + (colours[2 * i + (1 - j)],)] = est["h"][site]
            out[site + (colours[2 * (1 - i) + j],)] = est["v"][site]
        else:  # red or blue site: green from the 4-neighbours, the other of R/B diagonally
            out[site + (1,)] = est["g"][site]
            out[site + (2 - c,)] = est["d"][site]
    return out


# --------------------------------------------------------------------------------------------
# Whole pipelines
# --------------------------------------------------------------------------------------------


def reverse_isp(img: np.ndarray, params: CameraNoiseParams) -> np.ndarray:
    """sRGB (H, W, 3) in [0, 1] -> linear camera RGB before white balance, (H, W, 3) in [0, 1]."""
    x = _clipped_copy(img)
    if params.tone_mapping == "smoothstep":
        _inverse_smoothstep_(x)
    _power_(x, params.gamma)
    x = apply_ccm(x, params.ccm)
    x = safe_invert_gains(x, params.rgb_gain, params.red_gain, params.blue_gain)
    return np.clip(x, 0.0, 1.0, out=x)


def _camera_to_srgb_(cam: np.ndarray, params: CameraNoiseParams) -> np.ndarray:
    """White-balanced camera RGB -> sRGB in [0, 1]: colour matrix, clip, gamma, tone curve.

    ``cam`` (float32, clipped to [0, 1]) is used as scratch space.
    """
    x = apply_ccm(cam, params.cam2rgb)
    np.clip(x, 0.0, 1.0, out=x)
    _power_(x, 1.0 / params.gamma)
    if params.tone_mapping == "smoothstep":
        _smoothstep_(x, scratch=cam)
    return np.clip(x, 0.0, 1.0, out=x)


def forward_isp_raw(raw: np.ndarray, params: CameraNoiseParams) -> np.ndarray:
    """RAW (H, W) -> sRGB (H, W, 3) float32 in [0, 1]: gains, clip, demosaic, colour, tone."""
    wb = bayer_gains(
        raw, params.bayer_pattern, _wb_gains(params.rgb_gain, params.red_gain, params.blue_gain)
    )
    np.clip(wb, 0.0, 1.0, out=wb)
    return _camera_to_srgb_(demosaic(wb, params.bayer_pattern, params.demosaic), params)


def forward_isp_rgb(cam: np.ndarray, params: CameraNoiseParams) -> np.ndarray:
    """Linear camera RGB (H, W, 3) -> sRGB without a mosaic: the noise-free path for ``hq``."""
    wb = apply_gains(cam, params.rgb_gain, params.red_gain, params.blue_gain)
    np.clip(wb, 0.0, 1.0, out=wb)
    return _camera_to_srgb_(wb, params)


def _check_image(img: np.ndarray, name: str) -> np.ndarray:
    """Validate an RGB image for the ISP (raises ValueError naming ``name``); returns it as is."""
    if not isinstance(img, np.ndarray):  # ValueError for every bad input: one type to catch
        raise ValueError(  # noqa: TRY004
            f"apply_camera_noise: {name} must be a numpy array, got {type(img).__name__}"
        )
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"apply_camera_noise: {name} must have shape (H, W, 3), got {img.shape}")
    if min(img.shape[:2]) < 2:
        raise ValueError(
            f"apply_camera_noise: {name} must be at least 2x2 pixels (one Bayer tile), got {img.shape}"
        )
    if not np.issubdtype(img.dtype, np.floating):
        raise ValueError(
            f"apply_camera_noise: {name} must be a float image in [0, 1], got dtype {img.dtype} "
            "(divide 8-bit images by 255)"
        )
    lo, hi = float(img.min()), float(img.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"apply_camera_noise: {name} contains NaN or inf")
    if lo < -0.01 or hi > 1.01:
        raise ValueError(
            f"apply_camera_noise: {name} must have values in [0, 1], got min {lo:.4g}, max {hi:.4g}"
        )
    return img  # reverse_isp clips (and copies) it


def apply_camera_noise(
    lq: np.ndarray, hq: np.ndarray | None, params: CameraNoiseParams
) -> tuple[np.ndarray, np.ndarray | None]:
    """Processed camera sensor noise on ``lq``; the same colour pipeline without noise on ``hq``.

    Args:
        lq: float32 (h, w, 3) RGB in [0, 1] (h, w >= 2, odd sizes allowed).
        hq: float32 (H, W, 3) RGB in [0, 1] (any size, e.g. sf x lq), or None to skip.
        params: from ``sample_camera_noise``.

    Returns:
        ``(lq', hq')``: float32 in [0, 1], same shapes as the inputs. ``lq'`` = reverse ISP ->
        mosaic -> shot/read noise (``default_rng(params.seed)``) -> forward ISP with demosaic;
        ``hq'`` = reverse ISP -> forward ISP (no mosaic, no noise). Values within 0.01 outside
        [0, 1] are clipped; anything else raises ValueError.
    """
    lq = _check_image(lq, "lq")
    if hq is not None:
        hq = _check_image(hq, "hq")
    raw = mosaic(reverse_isp(lq, params), params.bayer_pattern)
    if params.shot_noise > 0 or params.read_noise > 0:
        raw = add_raw_noise(
            raw, params.shot_noise, params.read_noise, np.random.default_rng(params.seed)
        )
    lq_out = forward_isp_raw(raw, params)
    hq_out = None if hq is None else forward_isp_rgb(reverse_isp(hq, params), params)
    return lq_out, hq_out
