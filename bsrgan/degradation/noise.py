"""Additive Gaussian, multiplicative speckle and Poisson noise (release ``add_*_noise``).

Sampling draws the noise *parameters* and a ``seed``; ``apply_*`` generates the noise field from
``numpy.random.default_rng(seed)``, so apply stays pure and a trace replays bit-identically on
the machine that drew it. Channel-correlated noise also stores its 3x3 colour ``factor`` (the
SVD factor of the covariance, computed once when sampling): replay then needs no LAPACK call,
whose last bits differ between builds. Traces written before the factor was stored replay by
recomputing it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bsrgan.degradation.validation import check_image

#: Gaussian / speckle noise level ~ U{2..25} / 255 (release ``noise_level1=2, noise_level2=25``).
NOISE_LEVEL_RANGE = (2, 25)
#: rnum > 0.6: per-channel ("color"), rnum < 0.4: one map for all channels ("gray"),
#: else channel-correlated with covariance |L^2 U^T D U|, L = 25 / 255.
COLOR_PROB, GRAY_PROB = 0.4, 0.4
NOISE_MODES = ("color", "gray", "correlated")
#: Poisson: photon scale 10 ** (2 + 2 U) in [1e2, 1e4); 50/50 per-channel or luma-only.
POISSON_GRAY_PROB = 0.5
#: ITU-R BT.601 luma weights, as in the release.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])
SEED_BOUND = 2**32


@dataclass(frozen=True)
class GaussianNoiseParams:
    """One Gaussian (or speckle) noise draw.

    ``sigma`` is the per-channel std in [0, 1] units for "color"/"gray"; ``cov`` the 3x3
    covariance (nested lists) for "correlated" and ``factor`` its 3x3 colour factor F with
    ``F^T F = cov`` up to the sign handling of the SVD (noise = z @ F for z ~ N(0, I));
    ``seed`` drives the noise field. ``factor`` is None for the other modes and in traces
    written before it was stored (it is then recomputed from ``cov``).
    """

    mode: str
    sigma: float
    cov: list | None
    seed: int
    factor: list | None = None


@dataclass(frozen=True)
class PoissonNoiseParams:
    """Poisson (shot) noise: photons per unit intensity ``scale``; ``gray`` = luma-only noise."""

    scale: float
    gray: bool
    seed: int


def _draw_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(SEED_BOUND))


def sample_gaussian_noise(
    rng: np.random.Generator,
    level_min: int = NOISE_LEVEL_RANGE[0],
    level_max: int = NOISE_LEVEL_RANGE[1],
) -> GaussianNoiseParams:
    """Draw Gaussian noise parameters; the level is U{level_min..level_max} / 255."""
    if not 0 <= level_min <= level_max:
        raise ValueError(f"need 0 <= level_min <= level_max, got {level_min}, {level_max}")
    level = int(rng.integers(level_min, level_max + 1))
    rnum = rng.random()
    if rnum > 1.0 - COLOR_PROB:
        return GaussianNoiseParams("color", level / 255.0, None, _draw_seed(rng))
    if rnum < GRAY_PROB:
        return GaussianNoiseParams("gray", level / 255.0, None, _draw_seed(rng))
    # The release scales by noise_level2 (the maximum), not by the drawn level, and orthonormalises
    # a uniform random matrix (scipy.linalg.orth); signs of U cancel under the abs().
    big_l = level_max / 255.0
    d = np.diag(rng.random(3))
    u = np.linalg.svd(rng.random((3, 3)))[0]
    cov = np.abs(big_l**2 * (u.T @ d @ u))
    factor = correlated_noise_factor(cov)
    return GaussianNoiseParams("correlated", 0.0, cov.tolist(), _draw_seed(rng), factor.tolist())


def correlated_noise_factor(cov: np.ndarray) -> np.ndarray:
    """(3, 3) float64 F = sqrt(s)[:, None] * V^T from the SVD cov = U diag(s) V^T.

    numpy's ``multivariate_normal`` (method "svd") draws ``z @ F``. ``|cov|`` need not be
    positive semi-definite; like the release we take the SVD factor regardless.
    """
    cov = np.asarray(cov, dtype=np.float64)
    if cov.shape != (3, 3):
        raise ValueError(f"correlated noise needs a 3x3 covariance, got shape {cov.shape}")
    _, s, vt = np.linalg.svd(cov)
    return np.sqrt(s)[:, None] * vt


def noise_factor(params: GaussianNoiseParams) -> np.ndarray:
    """The (3, 3) float32 colour factor of a "correlated" draw: stored, else from ``cov``."""
    if params.factor is not None:
        factor = np.asarray(params.factor, dtype=np.float64)
        if factor.shape != (3, 3) or not np.all(np.isfinite(factor)):
            raise ValueError(f"noise factor must be a finite 3x3 matrix, got {params.factor!r}")
    else:  # a trace from before the factor was stored
        factor = correlated_noise_factor(np.asarray(params.cov, dtype=np.float64))
    return factor.astype(np.float32)


def sample_speckle_noise(rng: np.random.Generator) -> GaussianNoiseParams:
    """Speckle uses the same draw as Gaussian noise; the field is multiplied by the image."""
    return sample_gaussian_noise(rng)


def noise_field(shape: tuple[int, int], params: GaussianNoiseParams) -> np.ndarray:
    """Zero-mean noise (H, W, 3) or (H, W, 1) (gray) float32 from ``params``."""
    gen = np.random.default_rng(params.seed)
    h, w = shape
    if params.mode == "color":
        return gen.standard_normal((h, w, 3), dtype=np.float32) * np.float32(params.sigma)
    if params.mode == "gray":
        return gen.standard_normal((h, w, 1), dtype=np.float32) * np.float32(params.sigma)
    if params.mode == "correlated":
        return gen.standard_normal((h, w, 3), dtype=np.float32) @ noise_factor(params)
    raise ValueError(f"noise mode must be one of {NOISE_MODES}, got {params.mode!r}")


def apply_gaussian_noise(img: np.ndarray, params: GaussianNoiseParams) -> np.ndarray:
    """img + noise, clipped: (H, W, 3) float32 [0, 1] -> same."""
    img = check_image(img)
    out = img + noise_field(img.shape[:2], params)
    return np.clip(out, 0.0, 1.0, out=out)


def apply_speckle_noise(img: np.ndarray, params: GaussianNoiseParams) -> np.ndarray:
    """img + img * noise (signal-dependent), clipped: (H, W, 3) float32 [0, 1] -> same."""
    img = check_image(img)
    img = np.clip(img, 0.0, 1.0)
    out = img + img * noise_field(img.shape[:2], params)
    return np.clip(out, 0.0, 1.0, out=out)


def sample_poisson_noise(rng: np.random.Generator) -> PoissonNoiseParams:
    """Draw Poisson noise parameters: scale 10 ** (2 + 2 U), luma-only with p = 0.5."""
    scale = 10.0 ** (2.0 * rng.random() + 2.0)
    gray = bool(rng.random() >= 1.0 - POISSON_GRAY_PROB)
    return PoissonNoiseParams(float(scale), gray, _draw_seed(rng))


def apply_poisson_noise(img: np.ndarray, params: PoissonNoiseParams) -> np.ndarray:
    """Shot noise on the 8-bit-quantised image, clipped: (H, W, 3) float32 [0, 1] -> same."""
    img = check_image(img)
    if not params.scale > 0:
        raise ValueError(f"Poisson scale must be > 0, got {params.scale!r}")
    gen = np.random.default_rng(params.seed)
    img = np.round(np.clip(img, 0.0, 1.0) * 255.0) / 255.0
    if params.gray:
        luma = np.round(np.clip(img @ LUMA_WEIGHTS.astype(np.float32), 0.0, 1.0) * 255.0) / 255.0
        noise = (
            gen.poisson(luma * params.scale).astype(np.float32) / np.float32(params.scale) - luma
        )
        out = img + noise[..., None]
    else:
        out = gen.poisson(img * params.scale).astype(np.float32) / np.float32(params.scale)
    return np.clip(out, 0.0, 1.0, out=out).astype(np.float32, copy=False)
