"""Processed camera sensor noise (bsrgan.degradation.isp): round trips, noise statistics,
Brooks et al. parameter ranges, determinism, serialisation, shapes and error paths."""

from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from bsrgan.degradation import camera
from bsrgan.degradation.isp import (
    CameraNoiseParams,
    add_raw_noise,
    apply_camera_noise,
    demosaic,
    forward_isp_raw,
    forward_isp_rgb,
    gamma_compression,
    gamma_expansion,
    inverse_smoothstep,
    mosaic,
    reverse_isp,
    safe_invert_gains,
    sample_camera_noise,
    smoothstep,
)

PATTERNS = tuple(camera.BAYER_PATTERNS)
METHODS = camera.DEMOSAIC_METHODS


def _psnr(img: np.ndarray, ref: np.ndarray) -> float:
    mse = float(np.mean((img.astype(np.float64) - ref.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def _natural_crops(size: int = 192) -> dict[str, np.ndarray]:
    """Centre crops of scikit-image's bundled colour photos, float32 RGB in [0, 1]."""
    crops = {}
    for name in ("astronaut", "chelsea", "coffee"):
        img = getattr(skdata, name)().astype(np.float32) / 255.0
        top, left = (img.shape[0] - size) // 2, (img.shape[1] - size) // 2
        crops[name] = np.ascontiguousarray(img[top : top + size, left : left + size])
    return crops


def _params(seed: int = 0, **overrides) -> CameraNoiseParams:
    return dataclasses.replace(sample_camera_noise(np.random.default_rng(seed)), **overrides)


def _noiseless(seed: int = 0, **overrides) -> CameraNoiseParams:
    return _params(seed, shot_noise=0.0, read_noise=0.0, **overrides)


# ----------------------------------------------------------------------------- building blocks


def test_tone_and_gamma_curves_are_exact_inverses():
    x = np.linspace(0.0, 1.0, 1001, dtype=np.float32)
    np.testing.assert_allclose(smoothstep(inverse_smoothstep(x)), x, atol=2e-6)
    np.testing.assert_allclose(
        inverse_smoothstep(smoothstep(x)), x, atol=5e-4
    )  # asin is steep at 0 and 1
    np.testing.assert_allclose(
        gamma_compression(gamma_expansion(x, 2.2), 2.2), x, atol=2e-3
    )  # 1e-8 floor
    np.testing.assert_allclose(gamma_expansion(x[500:501], 2.2), [0.5**2.2], rtol=1e-5)
    np.testing.assert_allclose(
        smoothstep(np.float32([0.25])), [3 * 0.25**2 - 2 * 0.25**3], rtol=1e-6
    )
    assert smoothstep(x).dtype == np.float32 and inverse_smoothstep(x).dtype == np.float32


def test_safe_invert_gains_plain_below_highlights_and_preserves_white():
    rgb_gain, red, blue = 1.25, 2.0, 1.6
    grey = np.full((4, 4, 3), 0.5, np.float32)
    np.testing.assert_allclose(
        safe_invert_gains(grey, rgb_gain, red, blue)[0, 0], [0.5 / 2.5, 0.4, 0.5 / 2.0], rtol=1e-6
    )
    white = np.ones((4, 4, 3), np.float32)
    np.testing.assert_allclose(
        safe_invert_gains(white, rgb_gain, red, blue), white, atol=1e-6
    )  # mask = 1
    near = np.full((1, 1, 3), 0.95, np.float32)  # halfway up the ramp: mask = 0.25
    out = safe_invert_gains(near, rgb_gain, red, blue)[0, 0]
    gains = np.array([1 / (red * rgb_gain), 1 / rgb_gain, 1 / (blue * rgb_gain)])
    np.testing.assert_allclose(out, 0.95 * (0.25 + 0.75 * gains), rtol=1e-5)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_mosaic_samples_the_right_colour_per_site(pattern):
    img = np.zeros((6, 7, 3), np.float32)
    img[..., 0], img[..., 1], img[..., 2] = 0.1, 0.5, 0.9
    raw = mosaic(img, pattern)
    values = {"R": 0.1, "G": 0.5, "B": 0.9}
    expected = np.array(
        [[values[pattern[0]], values[pattern[1]]], [values[pattern[2]], values[pattern[3]]]],
        np.float32,
    )
    np.testing.assert_array_equal(raw[:2, :2], expected)
    np.testing.assert_array_equal(raw, np.tile(expected, (3, 4))[:6, :7])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("shape", [(8, 8), (7, 9), (2, 2), (5, 2)])
def test_demosaic_is_exact_on_flat_colour_and_keeps_samples(method, pattern, shape):
    colour = np.array([0.2, 0.6, 0.35], np.float32)
    flat = np.broadcast_to(colour, shape + (3,)).copy()
    out = demosaic(mosaic(flat, pattern), pattern, method)
    assert out.shape == shape + (3,) and out.dtype == np.float32
    np.testing.assert_allclose(
        out, flat, atol=1e-6
    )  # also at the borders: reflect-101 keeps the phase
    noise = np.random.default_rng(1).random(shape + (3,), dtype=np.float32)
    raw = mosaic(noise, pattern)
    np.testing.assert_array_equal(mosaic(demosaic(raw, pattern, method), pattern), raw)


def _resize2x_tf1_bilinear(plane: np.ndarray) -> np.ndarray:
    """TF1 ``resize_bilinear`` (align_corners=False, legacy pixel centres) by 2 on (h, w):
    output i samples input i / 2, clamped at the last row/column."""

    def along(a: np.ndarray, axis: int) -> np.ndarray:
        n = a.shape[axis]
        pos = np.arange(2 * n) * 0.5
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, n - 1)
        frac = (pos - lo).reshape([-1, 1] if axis == 0 else [1, -1])
        return np.take(a, lo, axis=axis) * (1 - frac) + np.take(a, hi, axis=axis) * frac

    return along(along(plane, 0), 1)


def _brooks_bilinear_demosaic(raw: np.ndarray) -> np.ndarray:
    """Brooks' ``process.demosaic`` algorithm (flip / resize_bilinear / flip per RGGB plane,
    greens averaged from the two green planes), written with numpy as an independent reference."""

    def to_depth(a):  # space_to_depth(2): (2h, 2w) -> (h, w, 4), sites row-major
        h, w = a.shape
        return a.reshape(h // 2, 2, w // 2, 2).transpose(0, 2, 1, 3).reshape(h // 2, w // 2, 4)

    def to_space(a):  # depth_to_space(2)
        h, w, _ = a.shape
        return a.reshape(h, w, 2, 2).transpose(0, 2, 1, 3).reshape(2 * h, 2 * w)

    red_plane, gr_plane, gb_plane, blue_plane = (raw[i::2, j::2] for i in (0, 1) for j in (0, 1))
    red = _resize2x_tf1_bilinear(red_plane)
    g_r = to_depth(_resize2x_tf1_bilinear(gr_plane[:, ::-1])[:, ::-1])
    g_b = to_depth(_resize2x_tf1_bilinear(gb_plane[::-1, :])[::-1, :])
    green_sites = [
        (g_r[..., 0] + g_b[..., 0]) / 2,
        g_r[..., 1],
        g_b[..., 2],
        (g_r[..., 3] + g_b[..., 3]) / 2,
    ]
    green = to_space(np.stack(green_sites, axis=-1))
    blue = _resize2x_tf1_bilinear(blue_plane[::-1, ::-1])[::-1, ::-1]
    return np.stack([red, green, blue], axis=-1)


@pytest.mark.parametrize("shape", [(2, 2), (8, 8), (6, 10), (32, 48)])
def test_bilinear_demosaic_equals_brooks_reference_including_borders(shape):
    raw = mosaic(np.random.default_rng(3).random(shape + (3,), dtype=np.float32), "RGGB")
    reference = _brooks_bilinear_demosaic(raw.astype(np.float64))
    np.testing.assert_allclose(demosaic(raw, "RGGB", "bilinear"), reference, atol=1e-6)


def test_malvar_beats_bilinear_on_natural_images():
    for name, img in _natural_crops().items():
        scores = {
            m: _psnr(np.clip(demosaic(mosaic(img, "RGGB"), "RGGB", m), 0, 1), img) for m in METHODS
        }
        assert scores["malvar"] > scores["bilinear"] + 2.0, (name, scores)
        assert scores["bilinear"] > 25.0, (name, scores)


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("seed", range(4))
def test_colour_round_trip_without_mosaic_is_near_identity(seed):
    """sRGB -> RAW colour space -> sRGB (the hq path): >= 40 dB on natural images."""
    params = _noiseless(seed)
    for name, img in _natural_crops().items():
        out = forward_isp_rgb(reverse_isp(img, params), params)
        assert _psnr(out, img) >= 40.0, (name, params, _psnr(out, img))


@pytest.mark.parametrize("method", METHODS)
def test_zero_noise_lq_round_trip_through_raw_is_near_identity(method):
    """lq -> RAW (mosaic) -> lq without noise: >= 40 dB on band-limited natural crops.

    Demosaicing loses detail above the Bayer Nyquist rate, so sharp crops are reported with a
    lower bound (that loss is part of the intended degradation); LQ images in the pipeline are
    usually blurred, which the Gaussian pre-blur (sigma 1.5 px) stands for.
    """
    for seed in range(3):
        params = _noiseless(seed, demosaic=method)
        for name, img in _natural_crops().items():
            smooth = cv2.GaussianBlur(img, (0, 0), 1.5)
            lq, hq = apply_camera_noise(smooth, smooth, params)
            assert _psnr(lq, smooth) >= 40.0, (name, method, _psnr(lq, smooth))
            assert _psnr(hq, smooth) >= 40.0, (name, method, _psnr(hq, smooth))
            sharp_lq, _ = apply_camera_noise(img, None, params)
            assert _psnr(sharp_lq, img) >= 24.0, (name, method, _psnr(sharp_lq, img))


def test_apply_equals_composition_of_building_blocks():
    img = _natural_crops(64)["chelsea"]
    params = _params(3)
    raw = mosaic(reverse_isp(img, params), params.bayer_pattern)
    noisy = add_raw_noise(
        raw, params.shot_noise, params.read_noise, np.random.default_rng(params.seed)
    )
    lq, _ = apply_camera_noise(img, None, params)
    np.testing.assert_array_equal(lq, forward_isp_raw(noisy, params))


# ----------------------------------------------------------------------------- noise statistics


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_raw_noise_variance_matches_shot_and_read(seed):
    """Flat RAW patches at known levels: measured variance = read + shot * x within 4 %."""
    params = sample_camera_noise(np.random.default_rng(100 + seed))
    rng = np.random.default_rng(seed)
    levels = np.array([0.02, 0.1, 0.3, 0.6, 0.9])
    measured = []
    for level in levels:
        flat = np.full((256, 256), level, np.float32)
        noisy = add_raw_noise(flat, params.shot_noise, params.read_noise, rng)
        measured.append(np.var(noisy.astype(np.float64)))
        assert abs(float(noisy.mean()) - level) < 5 * np.sqrt(measured[-1] / flat.size)
    expected = params.read_noise + params.shot_noise * levels
    np.testing.assert_allclose(measured, expected, rtol=0.04)  # sampling error of var: ~0.6 %
    slope, intercept = np.polyfit(levels, measured, 1)
    np.testing.assert_allclose(slope, params.shot_noise, rtol=0.05)
    assert abs(intercept - params.read_noise) < 0.05 * expected[0] + 0.02 * params.read_noise


def test_raw_noise_inside_apply_uses_the_sampled_levels():
    """Through the whole lq path: the RAW that apply_camera_noise noises has variance read + shot*x."""
    params = _params(7, demosaic="bilinear")
    lq = np.full((128, 128, 3), 0.5, np.float32)
    raw = mosaic(reverse_isp(lq, params), params.bayer_pattern)
    noisy = add_raw_noise(
        raw, params.shot_noise, params.read_noise, np.random.default_rng(params.seed)
    )
    for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)):
        site = raw[i::2, j::2]
        expected = params.read_noise + params.shot_noise * float(site[0, 0])
        np.testing.assert_allclose(
            np.var((noisy - raw)[i::2, j::2].astype(np.float64)), expected, rtol=0.05
        )
    out, _ = apply_camera_noise(lq, None, params)
    assert float(np.std(out - 0.5)) > 0.5 * np.sqrt(
        params.read_noise
    )  # noise survives the forward ISP


def test_lq_and_hq_stay_consistent_in_colour():
    """Mean colour difference of lq (noisy) vs hq (noise-free) is small relative to the noise."""
    for seed in range(6):
        params = _params(seed)
        for name, img in _natural_crops(128).items():
            lq, hq = apply_camera_noise(img, img, params)
            noise_rms = float(np.sqrt(np.mean((lq - hq) ** 2)))
            mean_diff = np.abs(lq.mean(axis=(0, 1)) - hq.mean(axis=(0, 1)))
            assert np.all(mean_diff < 0.25 * noise_rms + 0.004), (name, seed, mean_diff, noise_rms)
            assert _psnr(hq, img) > 40.0


# ----------------------------------------------------------------------------- sampling


def test_sampled_ranges_match_brooks():
    rng = np.random.default_rng(2024)
    draws = [sample_camera_noise(rng) for _ in range(3000)]
    red = np.array([p.red_gain for p in draws])
    blue = np.array([p.blue_gain for p in draws])
    inv_gain = 1.0 / np.array([p.rgb_gain for p in draws])
    log_shot = np.log([p.shot_noise for p in draws])
    log_read = np.log([p.read_noise for p in draws])

    assert red.min() >= 1.9 and red.max() <= 2.4 and abs(red.mean() - 2.15) < 0.01
    assert blue.min() >= 1.5 and blue.max() <= 1.9 and abs(blue.mean() - 1.7) < 0.01
    assert abs(inv_gain.mean() - 0.8) < 0.006 and abs(inv_gain.std() - 0.1) < 0.006
    lo, hi = np.log(1e-4), np.log(1.2e-2)
    assert log_shot.min() >= lo and log_shot.max() <= hi
    assert (
        abs(log_shot.mean() - (lo + hi) / 2) < 0.05
        and abs(log_shot.std() - (hi - lo) / np.sqrt(12)) < 0.05
    )
    residual = log_read - (2.18 * log_shot + 1.20)
    assert abs(residual.mean()) < 0.015 and abs(residual.std() - 0.26) < 0.012

    assert {p.bayer_pattern for p in draws} == {"RGGB"}
    assert {p.tone_mapping for p in draws} == {"smoothstep"} and {p.gamma for p in draws} == {2.2}
    share_malvar = np.mean([p.demosaic == "malvar" for p in draws])
    assert abs(share_malvar - 0.5) < 4 * np.sqrt(0.25 / len(draws))
    assert len({p.seed for p in draws}) == len(draws)


def test_sampled_colour_matrices_are_normalised_mixtures_of_brooks_cameras():
    """Rows sum to 1 (grey stays grey) and lie inside the hull of the four normalised cameras."""
    per_camera = np.einsum("kij,jl->kil", camera.XYZ_TO_CAMERA_MATRICES, camera.SRGB_TO_XYZ)
    assert np.all(per_camera.sum(axis=2) > 0)
    per_camera /= per_camera.sum(axis=2, keepdims=True)
    lo, hi = per_camera.min(axis=0) - 1e-9, per_camera.max(axis=0) + 1e-9
    rng = np.random.default_rng(5)
    for _ in range(300):
        params = sample_camera_noise(rng)
        ccm = params.ccm
        np.testing.assert_allclose(ccm.sum(axis=1), 1.0, atol=1e-12)
        np.testing.assert_allclose(params.cam2rgb @ np.ones(3), 1.0, atol=1e-9)
        assert np.all(ccm >= lo) and np.all(ccm <= hi)


# ----------------------------------------------------------------------------- determinism & serialisation


def test_deterministic_given_params_and_seed_changes_the_noise():
    img = _natural_crops(96)["coffee"]
    params = _params(11)
    lq1, hq1 = apply_camera_noise(img, img, params)
    lq2, hq2 = apply_camera_noise(img.copy(), img.copy(), params)
    np.testing.assert_array_equal(lq1, lq2)
    np.testing.assert_array_equal(hq1, hq2)
    lq3, hq3 = apply_camera_noise(img, img, dataclasses.replace(params, seed=params.seed + 1))
    assert not np.array_equal(lq1, lq3)
    np.testing.assert_array_equal(hq1, hq3)  # hq carries no noise
    assert sample_camera_noise(np.random.default_rng(4)) == sample_camera_noise(
        np.random.default_rng(4)
    )
    assert sample_camera_noise(np.random.default_rng(4)) != sample_camera_noise(
        np.random.default_rng(5)
    )


def test_inputs_are_not_modified():
    img = _natural_crops(64)["astronaut"]
    before = img.copy()
    apply_camera_noise(img, img, _params(2))
    np.testing.assert_array_equal(img, before)


def test_params_json_round_trip():
    params = _params(9)
    text = json.dumps(dataclasses.asdict(params))
    loaded = json.loads(text)
    assert isinstance(loaded["rgb2cam"], list)
    assert CameraNoiseParams.from_dict(loaded) == params
    assert CameraNoiseParams(**loaded) == params
    as_tuples = dict(loaded, rgb2cam=tuple(tuple(row) for row in loaded["rgb2cam"]))
    assert CameraNoiseParams(**as_tuples) == params  # tuples normalised to lists
    numpy_fields = dict(
        loaded, rgb2cam=np.array(loaded["rgb2cam"]), red_gain=np.float32(2.0), seed=np.int64(3)
    )
    rebuilt = CameraNoiseParams(**numpy_fields)
    json.dumps(dataclasses.asdict(rebuilt))  # numpy scalars/arrays became plain Python
    assert type(rebuilt.seed) is int and type(rebuilt.red_gain) is float


# ----------------------------------------------------------------------------- shapes & errors


@pytest.mark.parametrize(
    "lq_shape, hq_shape",
    [((72, 72), (288, 288)), ((73, 71), (146, 142)), ((2, 3), (5, 5)), ((9, 2), (9, 2))],
)
def test_output_shapes_dtype_and_range(lq_shape, hq_shape):
    rng = np.random.default_rng(0)
    lq = rng.random(lq_shape + (3,), dtype=np.float32)
    hq = rng.random(hq_shape + (3,), dtype=np.float32)
    for seed in range(3):
        out_lq, out_hq = apply_camera_noise(lq, hq, _params(seed))
        assert out_lq.shape == lq.shape and out_hq.shape == hq.shape
        assert out_lq.dtype == np.float32 and out_hq.dtype == np.float32
        assert (
            out_lq.min() >= 0.0
            and out_lq.max() <= 1.0
            and out_hq.min() >= 0.0
            and out_hq.max() <= 1.0
        )
    out_lq, out_hq = apply_camera_noise(lq.astype(np.float64), None, _params(0))
    assert out_hq is None and out_lq.dtype == np.float32


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((8, 8), np.float32), r"shape \(H, W, 3\)"),
        (np.zeros((8, 8, 4), np.float32), r"shape \(H, W, 3\)"),
        (np.zeros((1, 8, 3), np.float32), "at least 2x2"),
        (np.zeros((8, 8, 3), np.uint8), "float image"),
        (np.full((8, 8, 3), 255.0, np.float32), r"values in \[0, 1\]"),
        (np.full((8, 8, 3), -0.5, np.float32), r"values in \[0, 1\]"),
        (np.full((8, 8, 3), np.nan, np.float32), "NaN"),
        ([[0.0, 0.0, 0.0]], "numpy array"),
    ],
)
def test_bad_images_raise_clear_errors(bad, message):
    good = np.zeros((8, 8, 3), np.float32)
    with pytest.raises(ValueError, match=message) as lq_error:
        apply_camera_noise(bad, good, _params())
    assert "lq" in str(lq_error.value)
    with pytest.raises(ValueError, match=message) as hq_error:
        apply_camera_noise(good, bad, _params())
    assert "hq" in str(hq_error.value)


def test_slightly_out_of_range_inputs_are_clipped():
    img = np.full((8, 8, 3), 1.005, np.float32)
    img[0, 0] = -0.005
    lq, hq = apply_camera_noise(img, img, _noiseless())
    assert lq.min() >= 0.0 and hq.max() <= 1.0


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("rgb2cam", [[1.0, 0.0], [0.0, 1.0]], "3x3"),
        ("rgb2cam", [[1.0, 1.0, 1.0]] * 3, "singular"),
        ("red_gain", -1.0, "red_gain"),
        ("rgb_gain", float("nan"), "rgb_gain"),
        ("shot_noise", -1e-3, "shot_noise"),
        ("seed", -1, "seed"),
        ("seed", 1.5, "seed"),
        ("bayer_pattern", "RGBG", "bayer_pattern"),
        ("demosaic", "vng", "demosaic"),
        ("tone_mapping", "aces", "tone_mapping"),
        ("gamma", 0.0, "gamma"),
    ],
)
def test_invalid_params_raise(field, value, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(_params(), **{field: value})


def test_from_dict_names_unknown_keys():
    data = dict(dataclasses.asdict(_params()), exposure=2.0)
    with pytest.raises(ValueError, match="exposure"):
        CameraNoiseParams.from_dict(data)


def test_demosaic_rejects_bad_input():
    with pytest.raises(ValueError, match="method"):
        demosaic(np.zeros((4, 4), np.float32), "RGGB", "nearest")
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        demosaic(np.zeros((4, 4, 3), np.float32), "RGGB", "bilinear")
