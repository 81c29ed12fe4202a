"""Single degradation ops: kernels, blur, resize, shifted downsampling, noise, JPEG, USM.

Per op: shape / dtype / range, determinism, bad input, and a value that proves correctness
(equivalence with the release's SciPy formulation, measured statistics, alignment).
"""

from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest
from scipy import ndimage

from bsrgan.degradation.blur import BlurParams, apply_blur, blur_kernel, sample_blur
from bsrgan.degradation.downsample import (
    ShiftedDownsampleParams,
    apply_shifted_downsample,
    sample_shifted_downsample,
    shifted_kernel,
)
from bsrgan.degradation.jpeg import JpegParams, apply_jpeg, sample_jpeg
from bsrgan.degradation.kernels import (
    anisotropic_gaussian,
    gaussian_1d,
    gaussian_covariance,
    isotropic_gaussian,
    shift_kernel,
    trim_kernel,
)
from bsrgan.degradation.noise import (
    GaussianNoiseParams,
    PoissonNoiseParams,
    apply_gaussian_noise,
    apply_poisson_noise,
    apply_speckle_noise,
    correlated_noise_factor,
    noise_field,
    sample_gaussian_noise,
    sample_poisson_noise,
)
from bsrgan.degradation.resize import METHODS, ResizeParams, apply_resize, imresize
from bsrgan.degradation.sharpen import SharpenParams, apply_sharpen


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A 128x128 crop of a real photo (scikit-image's astronaut), float32 RGB [0, 1]."""
    from bsrgan.data import embedded_hr_images

    img = embedded_hr_images(["astronaut"])["astronaut"]
    return np.ascontiguousarray(img[100:228, 180:308])


def rand_img(h: int = 48, w: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, 3), dtype=np.float32)


def blob(h: int, w: int, cy: float, cx: float, sigma: float = 4.0) -> np.ndarray:
    y, x = np.mgrid[:h, :w]
    g = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * sigma**2)).astype(np.float32)
    return np.repeat(g[..., None], 3, axis=2)


def centroid(img: np.ndarray) -> tuple[float, float]:
    m = img[..., 0].astype(np.float64)
    y, x = np.mgrid[: m.shape[0], : m.shape[1]]
    return float((y * m).sum() / m.sum()), float((x * m).sum() / m.sum())


# --------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("seed", range(20))
def test_sampled_kernels_sum_to_one_and_are_point_symmetric(seed: int) -> None:
    params = sample_blur(np.random.default_rng(seed), sf=4)
    k = blur_kernel(params)
    assert k.shape == (params.size, params.size) and params.size % 2 == 1
    assert 7 <= params.size <= 25
    assert k.min() >= 0 and k.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-15)  # centred Gaussian


@pytest.mark.parametrize("sigma", [0.0, 0.3, 1.0, 2.8])
def test_isotropic_kernel_symmetric_and_separable(sigma: float) -> None:
    k = isotropic_gaussian(15, sigma)
    assert k.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(k, k.T, atol=0)
    np.testing.assert_allclose(k, k[::-1], atol=0)
    np.testing.assert_allclose(k, k[:, ::-1], atol=0)
    g = gaussian_1d(15, sigma)
    np.testing.assert_allclose(np.outer(g, g), k, atol=1e-15)
    if sigma == 0.0:  # zero width -> discrete delta
        assert k[7, 7] == 1.0


def test_isotropic_kernel_matches_fspecial_formula() -> None:
    # MATLAB fspecial('gaussian', 5, 1): exp(-(x^2+y^2)/2) normalised
    r = np.arange(-2, 3)
    ref = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / 2.0)
    np.testing.assert_allclose(isotropic_gaussian(5, 1.0), ref / ref.sum(), rtol=1e-12)


def test_anisotropic_kernel_has_requested_covariance() -> None:
    theta, l1, l2 = 0.6, 5.0, 1.5
    k = anisotropic_gaussian(41, theta, l1, l2)  # wide enough that truncation is negligible
    y, x = np.mgrid[-20:21, -20:21]
    cov = np.array([[(k * x * x).sum(), (k * x * y).sum()], [(k * x * y).sum(), (k * y * y).sum()]])
    np.testing.assert_allclose(cov, gaussian_covariance(theta, l1, l2), rtol=0.02, atol=0.02)
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(cov)), [l2, l1], rtol=0.02)


def test_anisotropic_with_equal_eigenvalues_is_isotropic() -> None:
    np.testing.assert_allclose(
        anisotropic_gaussian(11, 1.1, 2.25, 2.25), isotropic_gaussian(11, 1.5), atol=1e-12
    )


def test_degenerate_eigenvalues_give_a_finite_kernel() -> None:
    k = anisotropic_gaussian(9, 0.3, 0.0, 0.0)
    assert np.isfinite(k).all() and k[4, 4] == pytest.approx(1.0)


def test_shift_kernel_moves_mass_up_left_by_half_sf_minus_one() -> None:
    k = isotropic_gaussian(25, 2.0)
    for sf in (2, 3, 4):
        ks = shift_kernel(k, sf)
        cy, cx = centroid(np.repeat(ks[..., None], 3, axis=2))
        assert ks.sum() == pytest.approx(1.0)
        assert cy == pytest.approx(12 - (sf - 1) / 2, abs=0.02)
        assert cx == pytest.approx(12 - (sf - 1) / 2, abs=0.02)


def test_shift_kernel_1d_is_the_separable_factor_of_the_2d_shift() -> None:
    g = gaussian_1d(25, 1.7)
    for sf in (2, 3, 4):
        g_shifted = shift_kernel(g, sf)
        np.testing.assert_allclose(
            np.outer(g_shifted, g_shifted), shift_kernel(np.outer(g, g), sf), atol=1e-15
        )


def test_trim_kernel_drops_only_negligible_mass() -> None:
    k = isotropic_gaussian(25, 0.5)
    t = trim_kernel(k)
    assert t.shape[0] % 2 == 1 and t.shape[0] < 25
    pad = (25 - t.shape[0]) // 2
    assert k.sum() - k[pad:-pad, pad:-pad].sum() <= 1e-8
    assert trim_kernel(isotropic_gaussian(25, 5.0)).shape == (25, 25)  # wide: nothing to drop
    assert trim_kernel(gaussian_1d(25, 0.1)).shape == (1,)


@pytest.mark.parametrize("bad", [0, 4, -3, 2.5, True])
def test_kernel_size_must_be_odd_positive_int(bad: object) -> None:
    with pytest.raises(ValueError, match="odd"):
        isotropic_gaussian(bad, 1.0)  # type: ignore[arg-type]


def test_kernel_parameters_validated() -> None:
    with pytest.raises(ValueError, match="sigma"):
        isotropic_gaussian(5, float("nan"))
    with pytest.raises(ValueError, match="eigenvalues"):
        anisotropic_gaussian(5, 0.0, -1.0, 1.0)
    with pytest.raises(ValueError, match="square"):
        shift_kernel(np.ones((3, 5)), 2)


# --------------------------------------------------------------------------- blur
@pytest.mark.parametrize("seed", range(8))
def test_blur_equals_release_scipy_mirror_convolution(seed: int) -> None:
    img = rand_img(seed=seed)
    params = sample_blur(np.random.default_rng(seed), sf=4)
    out = apply_blur(img, params)
    ref = ndimage.convolve(img.astype(np.float64), blur_kernel(params)[..., None], mode="mirror")
    assert out.shape == img.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    np.testing.assert_allclose(out, ref, atol=2e-6)
    np.testing.assert_array_equal(out, apply_blur(img, params))  # deterministic


@pytest.mark.parametrize("kind", ["isotropic", "anisotropic"])
def test_blur_kernel_wider_than_image_reflects_repeatedly(kind: str) -> None:
    img = rand_img(9, 7)
    params = BlurParams(kind, 25, sigma=3.0, theta=0.4, l1=9.0, l2=2.0)
    ref = ndimage.convolve(img.astype(np.float64), blur_kernel(params)[..., None], mode="mirror")
    np.testing.assert_allclose(apply_blur(img, params), ref, atol=2e-6)


def test_blur_keeps_constant_image() -> None:
    img = np.full((30, 30, 3), 0.37, np.float32)
    out = apply_blur(img, BlurParams("anisotropic", 21, theta=1.0, l1=7.0, l2=0.5))
    np.testing.assert_allclose(out, 0.37, atol=1e-6)


def test_blur_sampling_ranges_scale_with_sf() -> None:
    rng = np.random.default_rng(3)
    draws = [sample_blur(rng, sf=2) for _ in range(2000)]
    iso = [d.sigma for d in draws if d.kind == "isotropic"]
    aniso = [v for d in draws if d.kind == "anisotropic" for v in (d.l1, d.l2)]
    assert 0 <= min(iso) and max(iso) < 2.4 and max(iso) > 2.3  # (2 + 0.2 sf) U(0, 1)
    assert 0 <= min(aniso) and max(aniso) < 6.0 and max(aniso) > 5.9  # (4 + sf) U(0, 1)
    assert {d.size for d in draws} == set(range(7, 26, 2))
    assert all(0 <= d.theta < np.pi for d in draws if d.kind == "anisotropic")


def test_blur_rejects_bad_input() -> None:
    params = BlurParams("isotropic", 7, sigma=1.0)
    with pytest.raises(ValueError, match="dtype uint8"):
        apply_blur((rand_img() * 255).astype(np.uint8), params)
    with pytest.raises(ValueError, match=r"shape \(H, W, 3\)"):
        apply_blur(rand_img()[..., :2], params)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        apply_blur(rand_img() * 3, params)
    nan = rand_img()
    nan[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        apply_blur(nan, params)
    with pytest.raises(ValueError, match="kind"):
        apply_blur(rand_img(), BlurParams("box", 7))
    with pytest.raises(ValueError, match="scale factor"):
        sample_blur(np.random.default_rng(0), sf=0)


# --------------------------------------------------------------------------- resize
def test_imresize_matches_independent_matlab_port() -> None:
    torch = pytest.importorskip("torch")
    matlab_utils = pytest.importorskip("pyiqa.matlab_utils")
    img = rand_img(37, 50)
    for scale in (0.5, 0.25, 1 / 3, 0.7, 2.0):
        ref = (
            matlab_utils.imresize(
                torch.from_numpy(img.astype(np.float64)).permute(2, 0, 1)[None], scale=scale
            )[0]
            .permute(1, 2, 0)
            .numpy()
        )
        out = imresize(img, scale)
        assert out.shape == ref.shape == (int(np.ceil(37 * scale)), int(np.ceil(50 * scale)), 3)
        np.testing.assert_allclose(out, ref, atol=1e-5)


def test_imresize_half_is_aligned_and_exact_on_linear_ramps() -> None:
    ramp = np.tile(np.arange(64, dtype=np.float32)[None, :, None], (16, 1, 3)) / 64
    out = imresize(ramp, 0.5)
    # output pixel j sits at input position 2j + 0.5 (half-pixel centres); cubic is exact on lines
    expected = (2 * np.arange(32) + 0.5) / 64
    np.testing.assert_allclose(out[0, 6:-6, 0], expected[6:-6], atol=1e-6)
    np.testing.assert_allclose(imresize(np.full((9, 11), 0.6, np.float32), 0.5), 0.6, atol=1e-6)


def test_imresize_validates_arguments() -> None:
    with pytest.raises(ValueError, match="scale or output_shape"):
        imresize(rand_img())
    with pytest.raises(ValueError, match="scale must be > 0"):
        imresize(rand_img(), -1.0)
    with pytest.raises(ValueError, match="shape"):
        imresize(np.zeros((2, 2, 2, 2), np.float32), 0.5)


@pytest.mark.parametrize("method", METHODS)
def test_apply_resize_every_method(method: str) -> None:
    img = rand_img(40, 48)
    out = apply_resize(img, ResizeParams(13, 17, method))
    assert out.shape == (13, 17, 3) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    np.testing.assert_array_equal(out, apply_resize(img, ResizeParams(13, 17, method)))
    up = apply_resize(img, ResizeParams(80, 96, method))
    assert up.shape == (80, 96, 3)


def test_apply_resize_rejects_bad_params() -> None:
    with pytest.raises(ValueError, match="unknown resize method"):
        apply_resize(rand_img(), ResizeParams(10, 10, "lanczos9"))
    with pytest.raises(ValueError, match=">= 1 px"):
        apply_resize(rand_img(), ResizeParams(0, 10, "area"))


@pytest.mark.parametrize("method", METHODS)
def test_every_resize_keeps_the_hr_grid(method: str) -> None:
    """A blob at HR (cy, cx) lands at ((cy - 1.5) / 4, (cx - 1.5) / 4) after x4 downsampling."""
    img = blob(128, 128, 50.3, 71.7, sigma=5.0)
    cy, cx = centroid(apply_resize(img, ResizeParams(32, 32, method)))
    assert cy == pytest.approx((50.3 - 1.5) / 4, abs=0.03)
    assert cx == pytest.approx((71.7 - 1.5) / 4, abs=0.03)


# --------------------------------------------------------------------------- shifted downsampling
@pytest.mark.parametrize("sf", [2, 3, 4])
def test_shifted_downsample_is_aligned_with_the_hr_grid(sf: int) -> None:
    """LR pixel m samples HR position sf*m + (sf-1)/2: a blob's centroid maps accordingly."""
    img = blob(120, 120, 47.2, 63.9, sigma=4.0)
    out = apply_shifted_downsample(img, ShiftedDownsampleParams(1.2, sf))
    assert out.shape == (-(-120 // sf), -(-120 // sf), 3)
    cy, cx = centroid(out)
    assert cy == pytest.approx((47.2 - (sf - 1) / 2) / sf, abs=0.03)
    assert cx == pytest.approx((63.9 - (sf - 1) / 2) / sf, abs=0.03)


def test_shifted_downsample_impulse_lands_in_its_lr_pixel() -> None:
    """sf = 3: an impulse at the centre (3m+1, 3n+1) of LR pixel (m, n) peaks there, symmetric."""
    img = np.zeros((60, 60, 3), np.float32)
    img[3 * 7 + 1, 3 * 11 + 1] = 1.0
    out = apply_shifted_downsample(img, ShiftedDownsampleParams(1.0, 3))[..., 0]
    assert np.unravel_index(out.argmax(), out.shape) == (7, 11)
    assert out[6, 11] == pytest.approx(out[8, 11], rel=1e-5)
    assert out[7, 10] == pytest.approx(out[7, 12], rel=1e-5)
    # sf = 4: a 2x2 impulse centred on HR (4m+1.5, 4n+1.5) is symmetric around LR pixel (m, n)
    img = np.zeros((64, 64, 3), np.float32)
    img[4 * 5 + 1 : 4 * 5 + 3, 4 * 9 + 1 : 4 * 9 + 3] = 1.0
    out = apply_shifted_downsample(img, ShiftedDownsampleParams(2.0, 4))[..., 0]
    assert np.unravel_index(out.argmax(), out.shape) == (5, 9)
    assert out[4, 9] == pytest.approx(out[6, 9], rel=1e-5)


def test_shifted_downsample_equals_release_formulation() -> None:
    img = rand_img(64, 72)
    for sf in (2, 4):
        params = sample_shifted_downsample(np.random.default_rng(sf), sf)
        assert 0.1 <= params.sigma <= 0.6 * sf and params.size == 25
        ref = ndimage.convolve(
            img.astype(np.float64), shifted_kernel(params)[..., None], mode="mirror"
        )[::sf, ::sf]
        np.testing.assert_allclose(apply_shifted_downsample(img, params), ref, atol=2e-6)


def test_shifted_downsample_rejects_bad_sf() -> None:
    with pytest.raises(ValueError, match="scale factor"):
        apply_shifted_downsample(rand_img(), ShiftedDownsampleParams(1.0, 0))


# --------------------------------------------------------------------------- noise
GRAY = np.full((256, 256, 3), 0.5, np.float32)


@pytest.mark.parametrize("mode", ["color", "gray"])
@pytest.mark.parametrize("level", [2, 10, 25])
def test_gaussian_noise_std_matches_level(mode: str, level: int) -> None:
    out = apply_gaussian_noise(GRAY, GaussianNoiseParams(mode, level / 255, None, seed=level))
    diff = out - GRAY
    assert diff.std() == pytest.approx(level / 255, rel=0.1)
    assert abs(diff.mean()) < 0.1 * level / 255
    if mode == "gray":  # one map for all channels
        np.testing.assert_array_equal(diff[..., 0], diff[..., 2])
    else:
        assert abs(np.corrcoef(diff[..., 0].ravel(), diff[..., 1].ravel())[0, 1]) < 0.02


def test_correlated_noise_has_the_sampled_covariance() -> None:
    rng = np.random.default_rng(11)
    params = None
    while params is None or params.mode != "correlated":
        params = sample_gaussian_noise(rng)
    cov = np.asarray(params.cov)
    assert cov.shape == (3, 3) and (cov >= 0).all() and np.allclose(cov, cov.T)
    assert cov.max() <= (25 / 255) ** 2 + 1e-12
    field = noise_field((400, 400), params).reshape(-1, 3).astype(np.float64)
    # numpy's multivariate_normal("svd") semantics: covariance V^T diag(s) V, == cov when PSD
    _, s, vt = np.linalg.svd(cov)
    np.testing.assert_allclose(np.cov(field.T), vt.T @ np.diag(s) @ vt, atol=0.05 * cov.max())


def test_correlated_noise_stores_its_factor_and_old_traces_still_replay() -> None:
    """The SVD factor is computed once when sampling and travels in the trace (no LAPACK call
    at replay); a trace entry without it (written before it was stored) recomputes it."""
    rng = np.random.default_rng(11)
    params = sample_gaussian_noise(rng)
    while params.mode != "correlated":
        params = sample_gaussian_noise(rng)
    factor = np.asarray(params.factor)
    assert factor.shape == (3, 3)
    np.testing.assert_array_equal(factor, correlated_noise_factor(np.asarray(params.cov)))
    entry = json.loads(json.dumps(dataclasses.asdict(params)))
    assert GaussianNoiseParams(**entry) == params
    del entry["factor"]  # an old trace
    old = GaussianNoiseParams(**entry)
    assert old.factor is None
    np.testing.assert_array_equal(noise_field((40, 30), old), noise_field((40, 30), params))
    others = [sample_gaussian_noise(rng) for _ in range(20)]
    assert all(p.factor is None for p in others if p.mode != "correlated")
    with pytest.raises(ValueError, match="3x3"):
        noise_field((4, 4), dataclasses.replace(params, factor=[[1.0, 0.0]]))


def test_gaussian_noise_sampling_ranges() -> None:
    rng = np.random.default_rng(5)
    draws = [sample_gaussian_noise(rng) for _ in range(3000)]
    sigmas = {round(d.sigma * 255) for d in draws if d.mode != "correlated"}
    assert sigmas == set(range(2, 26))


def test_noise_is_deterministic_per_seed_and_clipped() -> None:
    img = rand_img(32, 32)
    p = GaussianNoiseParams("color", 25 / 255, None, seed=7)
    a, b = apply_gaussian_noise(img, p), apply_gaussian_noise(img, p)
    np.testing.assert_array_equal(a, b)
    other = apply_gaussian_noise(img, dataclasses.replace(p, seed=8))
    assert not np.array_equal(a, other)
    assert a.dtype == np.float32 and 0.0 <= a.min() and a.max() <= 1.0
    np.testing.assert_array_equal(img, rand_img(32, 32))  # input untouched


def test_speckle_noise_scales_with_intensity() -> None:
    img = np.concatenate([np.full((128, 128, 3), 0.2, np.float32), GRAY[:128, :128]], axis=1)
    out = apply_speckle_noise(img, GaussianNoiseParams("color", 20 / 255, None, seed=3))
    dark, bright = (out - img)[:, :128].std(), (out - img)[:, 128:].std()
    assert dark == pytest.approx(0.2 * 20 / 255, rel=0.1)
    assert bright == pytest.approx(0.5 * 20 / 255, rel=0.1)


@pytest.mark.parametrize("gray", [False, True])
def test_poisson_noise_variance_is_mean_over_scale(gray: bool) -> None:
    scale = 300.0
    img = np.full((256, 256, 3), 0.4, np.float32)  # 0.4 * 255 = 102: exactly on the 8-bit grid
    out = apply_poisson_noise(img, PoissonNoiseParams(scale, gray, seed=1))
    diff = out - img
    assert diff.var() == pytest.approx(0.4 / scale, rel=0.1)  # Var = lambda / scale^2
    assert abs(diff.mean()) < 0.01
    if gray:
        np.testing.assert_array_equal(diff[..., 0], diff[..., 1])
    np.testing.assert_array_equal(out, apply_poisson_noise(img, PoissonNoiseParams(scale, gray, 1)))


def test_poisson_sampling_range() -> None:
    rng = np.random.default_rng(2)
    scales = [sample_poisson_noise(rng).scale for _ in range(2000)]
    assert 100 <= min(scales) < 110 and 9000 < max(scales) < 10_000


def test_noise_rejects_bad_params() -> None:
    with pytest.raises(ValueError, match="noise mode"):
        apply_gaussian_noise(GRAY, GaussianNoiseParams("pink", 0.1, None, 0))
    with pytest.raises(ValueError, match="3x3"):
        apply_gaussian_noise(GRAY, GaussianNoiseParams("correlated", 0.0, [[1.0]], 0))
    with pytest.raises(ValueError, match="scale must be > 0"):
        apply_poisson_noise(GRAY, PoissonNoiseParams(0.0, False, 0))
    with pytest.raises(ValueError, match="level_min"):
        sample_gaussian_noise(np.random.default_rng(0), 30, 2)
    with pytest.raises(TypeError, match="numpy array"):
        not_an_array: object = [[0.5]]
        apply_gaussian_noise(not_an_array, GaussianNoiseParams("gray", 0.1, None, 0))


def test_noise_params_are_json_serialisable() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        for params in (sample_gaussian_noise(rng), sample_poisson_noise(rng)):
            d = json.loads(json.dumps(dataclasses.asdict(params)))
            assert type(params)(**d) == params


# --------------------------------------------------------------------------- JPEG
def test_jpeg_error_grows_as_quality_falls(photo: np.ndarray) -> None:
    errors = [
        float(np.mean((apply_jpeg(photo, JpegParams(q)) - photo) ** 2))
        for q in (95, 75, 50, 30, 10)
    ]
    assert all(a < b for a, b in itertools.pairwise(errors)), errors
    assert errors[0] < 3e-4  # q = 95: PSNR > 35 dB on a photo


def test_jpeg_output_is_8bit_and_keeps_colour_order() -> None:
    red = np.zeros((32, 32, 3), np.float32)
    red[..., 0] = 0.9
    out = apply_jpeg(red, JpegParams(90))
    assert out.shape == red.shape and out.dtype == np.float32
    np.testing.assert_allclose(out * 255, np.round(out * 255), atol=1e-4)
    assert out[..., 0].mean() > 0.85 and out[..., 2].mean() < 0.05  # not BGR-swapped
    np.testing.assert_array_equal(out, apply_jpeg(red, JpegParams(90)))


def test_jpeg_sampling_and_bad_quality() -> None:
    rng = np.random.default_rng(0)
    qualities = {sample_jpeg(rng).quality for _ in range(3000)}
    assert qualities == set(range(30, 96))
    with pytest.raises(ValueError, match="quality"):
        apply_jpeg(rand_img(), JpegParams(0))


# --------------------------------------------------------------------------- USM sharpening
def test_sharpen_boosts_detail_and_keeps_flat_regions(photo: np.ndarray) -> None:
    out = apply_sharpen(photo)
    assert out.shape == photo.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0

    def detail(x: np.ndarray) -> float:
        return float(np.abs(np.diff(x, axis=1)).mean())

    assert detail(out) > 1.05 * detail(photo)
    flat = np.full((64, 64, 3), 0.3, np.float32)
    np.testing.assert_allclose(apply_sharpen(flat), flat, atol=1e-6)
    # weight 0 is the identity
    np.testing.assert_allclose(apply_sharpen(photo, SharpenParams(weight=0.0)), photo, atol=1e-6)


def test_sharpen_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="expected shape"):
        apply_sharpen(np.zeros((8, 8), np.float32))
