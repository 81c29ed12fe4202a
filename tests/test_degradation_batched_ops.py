"""Batched (torch) degradation ops against the numpy backend, op by op, on the CPU.

Each group call mixes samples of different sizes (odd ones included), so the padded canvas,
the per-sample borders and the per-sample kernels/matrices are exercised together. The
contract (issue 13) is a max abs difference of 1/255 for deterministic ops; we assert a
tighter 1e-4 (float32 rounding, measured <= ~2e-5) so that a real defect cannot hide below it.
JPEG is compared exactly: on the CPU torchvision's libjpeg writes the same bytes as OpenCV's.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import torch

from bsrgan.degradation import isp as numpy_isp
from bsrgan.degradation.batched import blur as batched_blur
from bsrgan.degradation.batched import isp as batched_isp
from bsrgan.degradation.batched import noise as batched_noise
from bsrgan.degradation.batched.canvas import Canvas, crop, reflect101_indices, reflect_pad
from bsrgan.degradation.batched.jpeg import jpeg as batched_jpeg
from bsrgan.degradation.batched.resize import axis_matrix, resize
from bsrgan.degradation.blur import BlurParams, apply_blur, sample_blur
from bsrgan.degradation.downsample import (
    apply_shifted_downsample,
    sample_shifted_downsample,
)
from bsrgan.degradation.jpeg import JpegParams, apply_jpeg, to_uint8
from bsrgan.degradation.noise import (
    GaussianNoiseParams,
    PoissonNoiseParams,
    apply_gaussian_noise,
    apply_speckle_noise,
    sample_gaussian_noise,
)
from bsrgan.degradation.resize import CV2_METHODS, METHODS, ResizeParams, apply_resize
from bsrgan.degradation.sharpen import SharpenParams, apply_sharpen

# one intra-op thread: test time then depends less on how busy the machine is
pytestmark = pytest.mark.usefixtures("one_torch_thread")
TOL = 1e-4  # float32 rounding; the contract is 1/255
CPU = torch.device("cpu")
#: (h, w) of the samples of one group: odd, tiny (smaller than a 25-tap kernel) and mixed.
SIZES = [(61, 67), (40, 33), (9, 7), (2, 3)]


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    """Crops of a real photo, float32 RGB [0, 1], one per size in SIZES."""
    from bsrgan.data import embedded_hr_images

    photo = embedded_hr_images(["astronaut"])["astronaut"]
    return [np.ascontiguousarray(photo[100 + 7 * i : 100 + 7 * i + h, 180 : 180 + w])
            for i, (h, w) in enumerate(SIZES)]


def group(imgs: list[np.ndarray]) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """Zero-padded (G, 3, H, W) tensor of (h, w, 3) arrays, and their sizes."""
    sizes = [im.shape[:2] for im in imgs]
    h, w = max(s[0] for s in sizes), max(s[1] for s in sizes)
    out = torch.zeros(len(imgs), 3, h, w)
    for g, im in enumerate(imgs):
        out[g, :, : im.shape[0], : im.shape[1]] = torch.from_numpy(im.transpose(2, 0, 1))
    return out, [tuple(s) for s in sizes]


def sample(t: torch.Tensor, g: int, size: tuple[int, int]) -> np.ndarray:
    """Sample g of a group tensor as an (h, w, C) array."""
    return t[g, :, : size[0], : size[1]].permute(1, 2, 0).numpy()


def max_diff(ours: torch.Tensor, refs: list[np.ndarray]) -> float:
    return max(float(np.abs(sample(ours, g, r.shape[:2]) - r).max()) for g, r in enumerate(refs))


# --------------------------------------------------------------------------- canvas
@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_reflect101_indices_equal_numpy_reflect_padding(n: int) -> None:
    """Any pad width, even wider than the image: numpy's repeated reflection (what SciPy does)."""
    for pad in (0, 1, 3, 12, 25):
        ours = reflect101_indices([n], pad, pad, n, CPU)[0].numpy()
        expected = np.pad(np.arange(n), pad, mode="reflect")
        np.testing.assert_array_equal(ours, expected)


def test_reflect_pad_of_equal_sizes_equals_the_per_sample_indexing() -> None:
    """Equal sizes take torch's reflect padding; the result is that of the index maps."""
    images = torch.rand(2, 3, 9, 11)
    fast = reflect_pad(images, [(9, 11)] * 2, (4, 4), (3, 5))
    rows = reflect101_indices([9, 9], 4, 4, 9, CPU)
    cols = reflect101_indices([11, 11], 3, 5, 11, CPU)
    assert torch.equal(fast, images[:, :, rows[0]][:, :, :, cols[0]])


def test_canvas_take_put_stack_round_trip() -> None:
    data = torch.zeros(3, 3, 8, 8)
    canvas = Canvas(data, [(8, 8)] * 3)
    block = torch.rand(2, 3, 10, 12)
    canvas.put([2, 0], block, [(10, 12), (4, 5)])  # grows to 10x12
    assert canvas.data.shape == (3, 3, 10, 12) and canvas.sizes == [(4, 5), (8, 8), (10, 12)]
    torch.testing.assert_close(canvas.data[2], block[0], rtol=0, atol=0)
    assert torch.equal(canvas.data[0, :, :4, :5], block[1, :, :4, :5])
    assert canvas.data[0, :, 4:].abs().sum() == 0 and canvas.data[0, :, :, 5:].abs().sum() == 0
    taken, sizes = canvas.take([0, 2])
    assert taken.shape == (2, 3, 10, 12) and sizes == [(4, 5), (10, 12)]
    with pytest.raises(ValueError, match="different sizes"):
        canvas.stack()
    canvas.put([0, 1, 2], torch.ones(3, 3, 2, 2), [(2, 2)] * 3)
    assert torch.equal(canvas.stack(), torch.ones(3, 3, 2, 2))


def test_canvas_put_never_stores_nan_outside_the_valid_region() -> None:
    canvas = Canvas(torch.zeros(1, 3, 4, 4), [(4, 4)])
    block = torch.full((1, 3, 4, 4), float("nan"))
    block[:, :, :2, :2] = 0.5
    canvas.put([0], block, [(2, 2)])
    assert torch.isfinite(canvas.data).all()


def test_crop_matches_slicing() -> None:
    images = torch.rand(2, 3, 20, 30)
    out = crop(images, [(3, 4, 5), (10, 20, 8)])
    assert torch.equal(out[0, :, :5, :5], images[0, :, 3:8, 4:9])
    assert torch.equal(out[1], images[1, :, 10:18, 20:28])


# --------------------------------------------------------------------------- filtering
def test_blur_matches_numpy(images: list[np.ndarray]) -> None:
    rng = np.random.default_rng(0)
    cases = [sample_blur(rng, 4) for _ in range(12)] + [
        BlurParams("isotropic", 25, sigma=2.8),
        BlurParams("anisotropic", 25, theta=0.7, l1=8.0, l2=0.3),  # wider than the 9x7 and 2x3
        BlurParams("isotropic", 7, sigma=0.0),  # a delta
    ]
    for start in range(0, len(cases), len(images)):
        params = (cases[start:] + cases)[: len(images)]
        x, sizes = group(images)
        ours = batched_blur.blur(x, sizes, params)
        refs = [apply_blur(im, p) for im, p in zip(images, params)]
        assert max_diff(ours, refs) <= TOL, params


def test_blur_rejects_an_unknown_kind(images: list[np.ndarray]) -> None:
    x, sizes = group(images[:1])
    with pytest.raises(ValueError, match="kind"):
        batched_blur.blur(x, sizes, [BlurParams("box", 7)])


def test_shifted_downsample_matches_numpy(images: list[np.ndarray]) -> None:
    rng = np.random.default_rng(1)
    params = [sample_shifted_downsample(rng, sf) for sf in (4, 2, 3, 4)]
    x, sizes = group(images)
    ours, new_sizes = batched_blur.shifted_downsample(x, sizes, params)
    refs = [apply_shifted_downsample(im, p) for im, p in zip(images, params)]
    assert new_sizes == [r.shape[:2] for r in refs]
    assert max_diff(ours, refs) <= TOL


def test_sharpen_matches_numpy(images: list[np.ndarray]) -> None:
    """Equal away from threshold ties; with the pipeline's default params equal everywhere.

    USM's mask is a hard threshold on ``|I - blur(I)| * 255``; on 8-bit images small kernels
    produce residuals exactly at the threshold, where float rounding (1e-7 here) decides the
    side. Such pixels, and the pixels their soft mask reaches, are excluded; there are few.
    """
    params = [SharpenParams(), SharpenParams(weight=0.8, radius=6, threshold=4.0),
              SharpenParams(radius=3), SharpenParams(radius=1)]
    big = [images[0], images[1]] * 2
    x, sizes = group(big)
    ours = batched_blur.sharpen(x, sizes, params)
    for g, (im, p) in enumerate(zip(big, params)):
        ref = apply_sharpen(im, p)
        diff = np.abs(sample(ours, g, im.shape[:2]) - ref).max(axis=2)
        radius = p.kernel_size
        residual = np.abs(im - cv2.GaussianBlur(im, (radius, radius), 0)) * 255
        ties = (np.abs(residual - p.threshold) < 1e-3).any(axis=2).astype(np.uint8)
        reach = cv2.dilate(ties, np.ones((radius, radius), np.uint8)) > 0
        assert ties.sum() <= 0.01 * ties.size, p
        assert diff[~reach].max() <= TOL, p
        if p == SharpenParams():
            assert diff.max() <= TOL


def test_usm_kernel_is_opencvs_gaussian_blur(images: list[np.ndarray]) -> None:
    """The 1-D taps reproduce cv2.GaussianBlur(img, (r, r), 0) (fixed tables below 9 taps)."""
    for radius in (3, 7, 51):
        g = batched_blur.usm_kernel(radius).astype(np.float32)
        ours = cv2.sepFilter2D(images[0], -1, g, g, borderType=cv2.BORDER_REFLECT_101)
        ref = cv2.GaussianBlur(images[0], (radius, radius), 0)
        assert np.abs(ours - ref).max() <= 1e-6


# --------------------------------------------------------------------------- resize
@pytest.mark.parametrize("method", METHODS)
def test_axis_matrices_reproduce_opencv_and_imresize(method: str) -> None:
    """Down, up, same size, and (for area) one axis up while the other goes down."""
    rng = np.random.default_rng(2)
    for h, w, oh, ow in [(41, 37, 13, 11), (31, 29, 47, 50), (320, 320, 40, 40), (50, 48, 60, 40),
                         (50, 50, 50, 51), (13, 13, 100, 100), (7, 9, 3, 2), (100, 99, 33, 99)]:
        img = rng.random((h, w, 3), dtype=np.float32)
        shrinking = oh <= h and ow <= w
        my, mx = axis_matrix(method, h, oh, shrinking), axis_matrix(method, w, ow, shrinking)
        rows = np.tensordot(my, img.astype(np.float64), axes=(1, 0))  # (oh, w, 3)
        ours = np.tensordot(rows, mx, axes=(1, 1)).transpose(0, 2, 1)
        if method in CV2_METHODS:
            ref = cv2.resize(img, (ow, oh), interpolation=CV2_METHODS[method])
        else:
            ref = apply_resize(img, ResizeParams(oh, ow, method))
            ours = np.clip(ours, 0, 1)
        assert np.abs(ours - ref).max() <= TOL, (h, w, oh, ow)


def test_same_size_opencv_resize_is_a_copy() -> None:
    """cv2.resize to the same size copies (docs/degradation.md); the matrices are identities."""
    img = np.random.default_rng(3).random((20, 30, 3), dtype=np.float32)
    for method in CV2_METHODS:
        assert np.array_equal(cv2.resize(img, (30, 20), interpolation=CV2_METHODS[method]), img)
        assert np.array_equal(axis_matrix(method, 20, 20), np.eye(20))


def test_group_resize_matches_numpy(images: list[np.ndarray]) -> None:
    """One call, four samples, four methods, different input and output sizes."""
    methods = ["matlab_bicubic", "area", "cubic", "linear"]
    targets = [(30, 33), (60, 50), (4, 3), (5, 2)]
    x, sizes = group(images)
    ours = resize(x, sizes, targets, methods).clamp(0, 1)
    refs = [apply_resize(im, ResizeParams(h, w, m))
            for im, (h, w), m in zip(images, targets, methods)]
    assert max_diff(ours, refs) <= TOL


def test_resize_rejects_an_unknown_method(images: list[np.ndarray]) -> None:
    x, sizes = group(images[:1])
    with pytest.raises(ValueError, match="unknown resize method"):
        resize(x, sizes, [(10, 10)], ["lanczos"])


# --------------------------------------------------------------------------- noise
def numpy_normals(params: GaussianNoiseParams, size: tuple[int, int]) -> np.ndarray:
    """The N(0, 1) draws behind numpy's ``noise_field`` (h, w, 1 or 3)."""
    channels = 1 if params.mode == "gray" else 3
    gen = np.random.default_rng(params.seed)
    return gen.standard_normal((*size, channels), dtype=np.float32)


def test_gaussian_and_speckle_noise_match_numpy_for_the_same_draws(images) -> None:
    """Given numpy's normal draws, the batched colour mixing and addition equal numpy's."""
    rng = np.random.default_rng(4)
    params = [sample_gaussian_noise(rng) for _ in range(40)]
    assert {p.mode for p in params} == {"color", "gray", "correlated"}
    for start in range(0, len(params), len(images)):
        ps = params[start : start + len(images)]
        x, sizes = group(images[: len(ps)])
        draws = [numpy_normals(p, s) for p, s in zip(ps, sizes)]
        z, _ = group([np.pad(d, ((0, 0), (0, 0), (0, 3 - d.shape[2]))) for d in draws])
        fields = batched_noise.mix_channels(z, torch.from_numpy(batched_noise.colour_factors(ps)))
        refs = [apply_gaussian_noise(im, p) for im, p in zip(images, ps)]
        assert max_diff(batched_noise.add_gaussian(x, fields), refs) <= TOL
        refs = [apply_speckle_noise(im, p) for im, p in zip(images, ps)]
        assert max_diff(batched_noise.add_speckle(x, fields), refs) <= TOL


def test_gaussian_fields_have_the_sampled_statistics() -> None:
    size = [(256, 256)]
    color = GaussianNoiseParams("color", 10 / 255, None, seed=1)
    gray = GaussianNoiseParams("gray", 20 / 255, None, seed=2)
    cov = np.array([[4.0, 2.0, 1.0], [2.0, 3.0, 0.5], [1.0, 0.5, 2.0]]) * 1e-3
    from bsrgan.degradation.noise import correlated_noise_factor

    corr = GaussianNoiseParams("correlated", 0.0, cov.tolist(), 3,
                               correlated_noise_factor(cov).tolist())
    f = batched_noise.gaussian_fields([color], size, 256, 256, CPU)[0]
    assert f.std(dim=(1, 2)).sub(10 / 255).abs().max() < 0.03 * 10 / 255
    assert abs(float(np.corrcoef(f[0].ravel(), f[1].ravel())[0, 1])) < 0.02
    f = batched_noise.gaussian_fields([gray], size, 256, 256, CPU)[0]
    assert torch.equal(f[0], f[1]) and torch.equal(f[1], f[2])
    assert abs(float(f[0].std()) - 20 / 255) < 0.03 * 20 / 255
    f = batched_noise.gaussian_fields([corr], size, 256, 256, CPU)[0]
    np.testing.assert_allclose(np.cov(f.reshape(3, -1).numpy()), cov, atol=2.5e-4)


def test_noise_depends_only_on_the_seed_and_the_sample_size() -> None:
    """Same seed -> same field, whatever the group's padded size; other seed -> other field."""
    p = GaussianNoiseParams("color", 0.1, None, seed=7)
    alone = batched_noise.gaussian_fields([p], [(20, 30)], 20, 30, CPU)[0]
    other = GaussianNoiseParams("color", 0.1, None, seed=8)
    padded = batched_noise.gaussian_fields([other, p], [(50, 40), (20, 30)], 50, 40, CPU)[1]
    assert torch.equal(padded[:, :20, :30], alone)
    assert padded[:, 20:].abs().sum() == 0 and padded[:, :, 30:].abs().sum() == 0
    assert not torch.equal(batched_noise.gaussian_fields([other], [(20, 30)], 20, 30, CPU)[0],
                           alone)


def test_poisson_noise_statistics() -> None:
    """Counts / scale: mean = the 8-bit-quantised image, variance = mean / scale."""
    flat = torch.full((1, 3, 200, 200), 0.4)
    for gray in (False, True):
        p = PoissonNoiseParams(scale=400.0, gray=gray, seed=3)
        out = batched_noise.poisson(flat, [(200, 200)], [p])[0]
        level = round(0.4 * 255) / 255
        assert abs(float(out.mean()) - level) < 3e-3
        assert abs(float(out.var()) - level / 400.0) < 0.1 * level / 400.0
        if gray:  # one luma noise map shared by the channels
            assert torch.equal(out[0], out[1]) and torch.equal(out[1], out[2])
    with pytest.raises(ValueError, match="scale"):
        batched_noise.poisson(flat, [(200, 200)], [PoissonNoiseParams(0.0, False, 1)])


def test_poisson_noise_quantises_first_and_uses_bt601_luma() -> None:
    """Off-grid colours: the mean is the 8-bit-quantised level of each channel (each ~1.4e-3
    from the input, 5 sigma of the estimate away from the tolerance); per channel the variance
    is level / scale; with ``gray`` one deviation map of variance luma / scale, luma the BT.601
    mix of the quantised channels (equal weights would be 12 % off), is added to every channel.
    A second sample of another size shares the group, as in the pipeline."""
    values = torch.tensor([0.2013, 0.5034, 0.7985])
    levels = torch.round(values * 255) / 255
    scale, size = 2000.0, (200, 200)
    group = torch.zeros(2, 3, 230, 210)
    group[:, :, : size[0], : size[1]] = values[:, None, None]
    for gray in (False, True):
        params = [PoissonNoiseParams(scale, gray, seed=5), PoissonNoiseParams(scale, gray, 6)]
        out = batched_noise.poisson(group, [size, (230, 210)], params)[0, :, : size[0], : size[1]]
        torch.testing.assert_close(out.mean(dim=(1, 2)), levels, rtol=0, atol=5e-4)
        deviation = out - levels[:, None, None]
        if gray:
            luma = torch.round((levels @ torch.tensor([0.299, 0.587, 0.114])) * 255) / 255
            torch.testing.assert_close(deviation[1:], deviation[:1].expand(2, -1, -1),
                                       rtol=0, atol=1e-6)
            expected_var = torch.full((3,), float(luma) / scale)
        else:
            expected_var = levels / scale
            assert abs(float(np.corrcoef(deviation[0].ravel(), deviation[1].ravel())[0, 1])) < 0.02
        torch.testing.assert_close(deviation.var(dim=(1, 2)), expected_var, rtol=0.05, atol=0)


# --------------------------------------------------------------------------- JPEG
def test_jpeg_bytes_and_pixels_equal_opencv(images: list[np.ndarray]) -> None:
    """Measured: torchvision's libjpeg and OpenCV's write identical files on the CPU."""
    from torchvision.io import encode_jpeg

    for quality in (30, 61, 95):
        for im in images:
            ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(to_uint8(im)[..., ::-1]),
                                   [cv2.IMWRITE_JPEG_QUALITY, quality])
            with pytest.warns(DeprecationWarning):  # torchvision 0.29 deprecates its codecs
                ours = encode_jpeg(torch.from_numpy(to_uint8(im).transpose(2, 0, 1).copy()),
                                   quality=quality)
            assert ok and bytes(buf.ravel()) == bytes(ours.numpy())
    params = [JpegParams(q) for q in (30, 95, 30, 50)]
    x, sizes = group(images)
    ours = batched_jpeg(x, sizes, params)
    refs = [apply_jpeg(im, p) for im, p in zip(images, params)]
    assert max_diff(ours, refs) == 0.0


def test_jpeg_rejects_a_bad_quality(images: list[np.ndarray]) -> None:
    x, sizes = group(images[:1])
    with pytest.raises(ValueError, match="quality"):
        batched_jpeg(x, sizes, [JpegParams(0)])


# --------------------------------------------------------------------------- ISP
def camera_params(count: int) -> list[numpy_isp.CameraNoiseParams]:
    """Sampled cameras over every CFA pattern, demosaic method and tone mapping."""
    rng = np.random.default_rng(5)
    patterns, methods = ("RGGB", "BGGR", "GRBG", "GBRG"), ("bilinear", "malvar")
    return [dataclasses.replace(numpy_isp.sample_camera_noise(rng), bayer_pattern=patterns[k % 4],
                                demosaic=methods[k // 4 % 2],
                                tone_mapping=("smoothstep", "none")[k // 8 % 2])
            for k in range(count)]


def test_isp_steps_match_numpy(images: list[np.ndarray]) -> None:
    """Reverse ISP, mosaic, demosaic, forward ISP (RAW and RGB paths), per sample camera."""
    cams = camera_params(16)
    for start in range(0, len(cams), len(images)):
        ps = cams[start : start + len(images)]
        cam = batched_isp.CameraBatch.from_params(ps, CPU)
        x, sizes = group(images)
        rev = [numpy_isp.reverse_isp(im, p) for im, p in zip(images, ps)]
        assert max_diff(batched_isp.reverse_isp(x, cam), rev) <= TOL
        raws = [numpy_isp.add_raw_noise(numpy_isp.mosaic(r, p.bayer_pattern), p.shot_noise,
                                        p.read_noise, np.random.default_rng(p.seed))
                for r, p in zip(rev, ps)]
        mos = batched_isp.mosaic(group(rev)[0], cam)
        assert max_diff(mos, [numpy_isp.mosaic(r, p.bayer_pattern)[..., None]
                              for r, p in zip(rev, ps)]) == 0.0
        raw_t, _ = group([np.repeat(r[..., None], 3, axis=2) for r in raws])
        raw_t = raw_t[:, :1]
        demosaiced = [numpy_isp.demosaic(r, p.bayer_pattern, p.demosaic) for r, p in zip(raws, ps)]
        assert max_diff(batched_isp.demosaic(raw_t, sizes, cam), demosaiced) <= TOL
        fwd = [numpy_isp.forward_isp_raw(r, p) for r, p in zip(raws, ps)]
        assert max_diff(batched_isp.forward_isp_raw(raw_t, sizes, cam), fwd) <= TOL
        fwd = [numpy_isp.forward_isp_rgb(r, p) for r, p in zip(rev, ps)]
        assert max_diff(batched_isp.forward_isp_rgb(group(rev)[0], cam), fwd) <= TOL


def test_camera_noise_without_noise_matches_numpy(images: list[np.ndarray]) -> None:
    """The whole pair op, shot and read noise set to 0 (deterministic): lq and hq."""
    ps = [dataclasses.replace(p, shot_noise=0.0, read_noise=0.0) for p in camera_params(4)]
    hq_imgs = [images[0]] * 4
    lq, sizes = group(images)
    hq, _ = group(hq_imgs)
    lq_out, hq_out = batched_isp.camera_noise(lq, sizes, hq, ps)
    refs = [numpy_isp.apply_camera_noise(a, b, p) for a, b, p in zip(images, hq_imgs, ps)]
    assert max_diff(lq_out, [r[0] for r in refs]) <= TOL
    assert max_diff(hq_out, [r[1] for r in refs]) <= TOL


def test_camera_noise_adds_raw_noise_of_the_sampled_level() -> None:
    """On flat grey the noise std after the ISP grows with the sampled shot/read level."""
    grey = torch.full((2, 3, 64, 64), 0.5)
    quiet, loud = camera_params(2)
    quiet = dataclasses.replace(quiet, shot_noise=1e-4, read_noise=1e-7, demosaic="bilinear")
    loud = dataclasses.replace(loud, shot_noise=1e-2, read_noise=1e-4, demosaic="bilinear")
    out, hq = batched_isp.camera_noise(grey, [(64, 64)] * 2, grey.clone(), [quiet, loud])
    assert 3 * float(out[0].std()) < float(out[1].std())
    assert float(hq.std(dim=(2, 3)).max()) < 1e-6  # the target gets the colours, not the noise


def test_raw_noise_has_the_heteroscedastic_variance_per_sample() -> None:
    """``raw + sqrt(read + shot * raw) * N(0, 1)``: on flat RAW planes of two levels the
    variance is read + shot * level (numpy's ``add_raw_noise`` law, checked on its statistics
    since the generators differ); a noise-free camera in the same group keeps its plane exactly,
    and the noise of a smaller sample stays inside its valid size."""
    noisy, other = camera_params(2)
    noisy = dataclasses.replace(noisy, shot_noise=4e-3, read_noise=2e-4)
    silent = dataclasses.replace(other, shot_noise=0.0, read_noise=0.0)
    raw = torch.zeros(3, 1, 256, 256)
    raw[0, :, :128], raw[0, :, 128:] = 0.2, 0.7
    raw[1], raw[2, :, :100, :90] = 0.5, 0.3
    cam = batched_isp.CameraBatch.from_params([noisy, silent, noisy], CPU)
    out = batched_isp.add_raw_noise(raw, [(256, 256), (256, 256), (100, 90)], cam)
    for rows, level in ((slice(0, 128), 0.2), (slice(128, 256), 0.7)):
        noise = out[0, 0, rows] - level
        assert abs(float(noise.mean())) < 5 * (2e-4 + 4e-3 * level) ** 0.5 / 128
        assert abs(float(noise.var()) / (2e-4 + 4e-3 * level) - 1) < 0.04
    assert torch.equal(out[1], raw[1])
    assert float(out[2, :, :100, :90].sub(0.3).std()) > 0.02
    assert out[2, :, 100:].abs().sum() == 0 and out[2, :, :, 90:].abs().sum() == 0


def test_camera_noise_rejects_images_below_one_bayer_tile() -> None:
    x = torch.rand(1, 3, 4, 4)
    with pytest.raises(ValueError, match="2x2"):
        batched_isp.camera_noise(x, [(1, 4)], x, camera_params(1))
