"""bsrgan.metrics: factory metadata, MATLAB colour/resize conventions, PIRM protocol, NIQE
calibration against the official MATLAB values, pyiqa cross-check, NRQM/PI unavailable path,
PSNR/SSIM known values, LPIPS from local files, input handling and error paths."""

from __future__ import annotations

import csv
import math
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from bsrgan import metrics
from bsrgan.metrics import MetricUnavailable, create, psnr, rgb_to_y_bt601, ssim
from bsrgan.metrics.color import (
    GRAY_WEIGHTS,
    rgb_to_gray_matlab_uint8,
    rgb_to_y_bt601_uint8,
    to_uint8_matlab,
)
from bsrgan.metrics.matlab_resize import imresize_matlab
from bsrgan.metrics.niqe import load_niqe_model, niqe_from_luma

CALIBRATION_IMAGES = ("I03", "I04", "I06", "I08", "I19")
# pyiqa's shipped NIQE is within ~0.7 % of MATLAB on these four, ~5 % off on I19.
PYIQA_AGREES_ON = ("I03", "I04", "I06", "I08")


# --- helpers and fixtures -----------------------------------------------------------------------

def _textured_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Natural-ish RGB float32 image in [0, 1]: smooth gradients + blurred noise + edges."""
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    base = np.stack([0.5 + 0.3 * np.sin(6 * xx + c) * np.cos(4 * yy - c) for c in (0.0, 1.0, 2.0)], -1)
    noise = cv2.GaussianBlur(rng.standard_normal((height, width, 3)).astype(np.float32), (0, 0), 1.2)
    edges = ((xx * 7).astype(int) % 2)[..., None] * 0.15
    return np.clip(base + 0.08 * noise + edges, 0, 1).astype(np.float32)


def _read_bmp(path: Path) -> np.ndarray:
    try:
        from bsrgan.io import imread
    except ImportError:  # the I/O module is optional for these tests
        return cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255.0
    return imread(path)


@pytest.fixture
def calibration(asset_env: Path, shared_assets: Path) -> dict:
    """Calibration images (float RGB) and the official MATLAB values per metric row."""
    folder = shared_assets / "metrics" / "calibration"
    if not (folder / "results_official.csv").is_file():
        pytest.skip(f"calibration set not found in {folder}")
    with open(folder / "results_official.csv", newline="") as handle:
        rows = {row["Method"]: row for row in csv.DictReader(handle)}
    official = {name: {k[:-4]: float(v) for k, v in row.items() if k.endswith(".bmp")}
                for name, row in rows.items()}
    images = {n: _read_bmp(folder / "dist_dir" / f"{n}.bmp") for n in CALIBRATION_IMAGES}
    refs = {n: _read_bmp(folder / "ref_dir" / f"{n}.bmp") for n in CALIBRATION_IMAGES}
    return {"official": official, "dist": images, "ref": refs, "folder": folder}


@pytest.fixture
def no_nrqm_model(shared_assets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mirror without NRQM_model.mat (only the NIQE model), empty cache, downloads disabled."""
    mirror = tmp_path / "mirror"
    (mirror / "metrics").mkdir(parents=True)
    (mirror / "metrics" / "niqe_modelparameters.mat").write_bytes(
        (shared_assets / "metrics" / "niqe_modelparameters.mat").read_bytes())
    monkeypatch.setenv("BSRGAN_MIRRORS", str(mirror))
    monkeypatch.setenv("BSRGAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BSRGAN_OFFLINE", "1")


# --- factory and metadata -----------------------------------------------------------------------

EXPECTED_INFO = {  # name: (lower_better, needs_reference)
    "niqe": (True, False),
    "nrqm": (False, False),
    "pi": (True, False),
    "psnr": (False, True),
    "ssim": (False, True),
    "lpips": (True, True),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_INFO))
def test_metric_info_table(name: str) -> None:
    info = metrics.metric_info(name)
    assert info.name == name
    assert (info.lower_better, info.needs_reference) == EXPECTED_INFO[name]
    low, high = info.range
    assert low < high
    assert info.arrow == ("↓" if info.lower_better else "↑")
    assert name in metrics.list_metrics()


def test_unknown_metric_and_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown metric 'brisque'"):
        create("brisque")
    with pytest.raises(ValueError, match="color must be one of"):
        create("psnr", color="ycbcr")
    with pytest.raises(ValueError, match="crop_border"):
        create("ssim", crop_border=-1)


def test_full_reference_objects_record_settings_and_check_call_style() -> None:
    m = create("psnr", color="rgb", crop_border=4)
    assert m.settings == {"color": "rgb", "crop_border": 4}
    img = np.full((32, 32, 3), 0.5, np.float32)
    with pytest.raises(TypeError, match="full-reference"):
        m(img)
    assert m(img, img) == math.inf


def test_niqe_factory_options(asset_env: Path) -> None:
    pirm = create("niqe")
    assert pirm.settings["protocol"] == "pirm" and pirm.settings["crop_border"] == 4
    assert pirm.settings["backend"] == "matlab-port"
    live = create("niqe", protocol="live-rgb2gray")
    assert live.settings["crop_border"] == 0
    assert create("niqe", protocol="pirm", crop_border=0).settings["crop_border"] == 0
    with pytest.raises(ValueError, match="unknown protocol"):
        create("niqe", protocol="ntire")
    with pytest.raises(ValueError, match="unknown NIQE backend"):
        create("niqe", backend="skvideo")
    with pytest.raises(TypeError, match="no-reference"):
        pirm(np.zeros((200, 200, 3), np.float32), np.zeros((200, 200, 3), np.float32))
    assert metrics.is_available("niqe") and "niqe" in metrics.available_metrics()


# --- MATLAB conventions -------------------------------------------------------------------------

def test_matlab_colour_conversions_on_known_pixels() -> None:
    np.testing.assert_allclose(GRAY_WEIGHTS, [0.298936021293775, 0.587043074451121, 0.114020904255103],
                               atol=1e-12)
    assert abs(GRAY_WEIGHTS.sum() - 1.0) < 1e-12
    px = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]])
    # MATLAB: rgb2gray(uint8 red) = 76, green 150, blue 29; rgb2ycbcr Y = 81, 145, 41, 235, 16
    np.testing.assert_array_equal(rgb_to_gray_matlab_uint8(px)[0], [76, 150, 29, 255, 0])
    np.testing.assert_array_equal(rgb_to_y_bt601_uint8(px)[0], [81, 145, 41, 235, 16])
    np.testing.assert_allclose(rgb_to_y_bt601(px)[0] * 255, [81.481, 144.553, 40.966, 235, 16], atol=1e-9)
    # MATLAB rounds half away from zero (numpy's round would give 2 and 0 here)
    np.testing.assert_array_equal(to_uint8_matlab(np.array([2.5, 0.5, 254.5, 300, -3])), [3, 1, 255, 255, 0])


def test_imresize_matches_pyiqa_matlab_port_and_keeps_flat_regions_flat() -> None:
    torch = pytest.importorskip("torch")
    from pyiqa.matlab_utils import imresize

    rng = np.random.default_rng(0)
    img = rng.uniform(0, 255, (37, 50))
    ours = imresize_matlab(img, 0.5)
    assert ours.shape == (19, 25)  # ceil, as MATLAB
    theirs = imresize(torch.from_numpy(img)[None, None], scale=0.5, antialiasing=True)[0, 0].numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-3)
    flat = np.full((48, 64), 37.0)
    flat[:, 40:] = 200.0
    out = imresize_matlab(flat, 0.5)
    interior = out[5:-5, 2:12]  # far from the step and the borders: bit-identical values
    assert np.unique(interior).size == 1


# --- PIRM protocol ------------------------------------------------------------------------------

def test_pirm_protocol_is_y_of_uint8_then_shave_4(asset_env: Path) -> None:
    rng = np.random.default_rng(1)
    img = _textured_image(rng, 200, 296)
    # direct computation, written out: MATLAB rgb2ycbcr on the uint8 image, Y, shave 4
    rgb8 = np.floor(img.astype(np.float64) * 255 + 0.5)
    y = np.floor(16 + (65.481 * rgb8[..., 0] + 128.553 * rgb8[..., 1] + 24.966 * rgb8[..., 2]) / 255 + 0.5)
    model = load_niqe_model()
    expected = niqe_from_luma(y[4:-4, 4:-4], model)
    assert create("niqe")(img) == pytest.approx(expected, rel=1e-12)
    # the 4-px border does not count under PIRM but does without the shave
    scribbled = img.copy()
    scribbled[:4] = rng.uniform(0, 1, scribbled[:4].shape)
    scribbled[:, -4:] = 0
    assert create("niqe")(scribbled) == pytest.approx(expected, rel=1e-12)
    unshaved = create("niqe", crop_border=0)
    assert unshaved(scribbled) != pytest.approx(unshaved(img), rel=1e-6)
    # Y of YCbCr, not MATLAB gray: the live-rgb2gray protocol (gray, no shave) scores differently
    assert create("niqe", protocol="live-rgb2gray")(img) == pytest.approx(
        niqe_from_luma(rgb_to_gray_matlab_uint8(img), model), rel=1e-12)
    assert create("niqe", protocol="live-rgb2gray")(img) != pytest.approx(expected, rel=1e-3)


# --- NIQE calibration against MATLAB ------------------------------------------------------------

@pytest.mark.parametrize("name", CALIBRATION_IMAGES)
def test_niqe_matches_official_matlab_within_1_percent(calibration: dict, name: str) -> None:
    ours = create("niqe", protocol="live-rgb2gray")(calibration["dist"][name])
    official = calibration["official"]["niqe"][name]
    assert ours == pytest.approx(official, rel=0.01), f"{name}: ours {ours:.4f} vs MATLAB {official:.4f}"


def test_niqe_accepts_paths_is_deterministic_and_picklable(calibration: dict) -> None:
    m = create("niqe", protocol="live-rgb2gray")
    path = calibration["folder"] / "dist_dir" / "I04.bmp"
    assert m(path) == m(path) == m(calibration["dist"]["I04"])
    clone = pickle.loads(pickle.dumps(m))  # evaluation ships metric objects to worker processes
    assert clone(path) == m(path) and clone.settings == m.settings


@pytest.mark.parametrize("name", PYIQA_AGREES_ON)
def test_pyiqa_niqe_cross_check(calibration: dict, name: str) -> None:
    img = calibration["dist"][name]
    ours = create("niqe", protocol="live-rgb2gray")(img)
    theirs = create("niqe", protocol="live-rgb2gray", backend="pyiqa")(img)
    assert theirs == pytest.approx(ours, rel=0.01)


# --- NRQM / PI ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["nrqm", "pi"])
def test_nrqm_and_pi_unavailable_without_model(no_nrqm_model: None, name: str) -> None:
    assert not metrics.is_available(name)
    reason = metrics.unavailable_reason(name)
    assert "bsrgan fetch nrqm-model" in reason
    with pytest.raises(MetricUnavailable, match="bsrgan fetch nrqm-model") as err:
        create(name)
    assert err.value.metric == "nrqm"
    # everything else still runs
    assert metrics.is_available("niqe") and name not in metrics.available_metrics()
    assert create("niqe")(_textured_image(np.random.default_rng(2), 120, 220)) > 0


def test_nrqm_explicit_missing_path_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(MetricUnavailable, match="bsrgan fetch nrqm-model"):
        create("nrqm", model_path=tmp_path / "nope" / "NRQM_model.mat")


def _nrqm_model_or_skip() -> None:
    if not metrics.is_available("nrqm"):
        pytest.skip(f"NRQM model not available here: {metrics.unavailable_reason('nrqm').splitlines()[0]}")


@pytest.mark.parametrize("name", CALIBRATION_IMAGES)
def test_nrqm_and_pi_calibration_when_model_present(calibration: dict, name: str) -> None:
    _nrqm_model_or_skip()
    img = calibration["dist"][name]
    nrqm = create("nrqm", protocol="live-rgb2gray")(img)
    assert nrqm == pytest.approx(calibration["official"]["nrqm"][name], rel=0.03)
    parts = create("pi").components(img)  # PIRM scoring code: Y, shave 4
    assert parts["pi"] == pytest.approx(((10 - parts["nrqm"]) + parts["niqe"]) / 2, rel=1e-12)
    assert parts["pi"] == pytest.approx(calibration["official"]["pi"][name], rel=0.03)


# --- PSNR / SSIM --------------------------------------------------------------------------------

def test_psnr_ssim_identical_images() -> None:
    img = _textured_image(np.random.default_rng(3), 40, 48)
    for y_channel in (True, False):
        assert psnr(img, img, y_channel=y_channel) == math.inf
        assert ssim(img, img, y_channel=y_channel) == pytest.approx(1.0, abs=1e-12)


def test_psnr_known_noise() -> None:
    ref = np.full((32, 32, 3), 0.5)
    sign = np.where((np.indices((32, 32)).sum(0) % 2) == 0, 1.0, -1.0)[..., None]
    img = ref + 0.1 * sign  # every pixel off by 0.1 -> MSE 0.01
    assert psnr(img, ref, y_channel=False) == pytest.approx(20.0, abs=1e-9)
    # equal RGB offsets change Y of BT.601 by 0.1 * 219 / 255
    assert psnr(img, ref, y_channel=True) == pytest.approx(20.0 - 20 * math.log10(219 / 255), abs=1e-9)
    # damage only in the border: cropped away
    bordered = ref.copy()
    bordered[:2] = 0.0
    assert psnr(bordered, ref, crop_border=2) == math.inf
    assert psnr(bordered, ref) < 20
    assert psnr(img[..., 0], ref[..., 0]) == pytest.approx(20.0, abs=1e-9)  # gray planes


def test_ssim_matches_scikit_image_gaussian_ssim() -> None:
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(4)
    ref = _textured_image(rng, 48, 40).astype(np.float64)
    img = np.clip(ref + rng.normal(0, 0.05, ref.shape), 0, 1)
    kw = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False, "data_range": 255}
    expected_rgb = structural_similarity(img * 255, ref * 255, channel_axis=2, **kw)
    expected_y = structural_similarity(rgb_to_y_bt601(img) * 255, rgb_to_y_bt601(ref) * 255, **kw)
    assert ssim(img, ref, y_channel=False) == pytest.approx(expected_rgb, abs=1e-9)
    assert ssim(img, ref) == pytest.approx(expected_y, abs=1e-9)
    assert create("ssim", color="y", crop_border=4)(img, ref) == pytest.approx(  # via float32
        ssim(img, ref, crop_border=4), abs=1e-6)


def test_psnr_matches_official_values(calibration: dict) -> None:
    for name in CALIBRATION_IMAGES:
        value = create("psnr", color="rgb")(calibration["dist"][name], calibration["ref"][name])
        assert value == pytest.approx(calibration["official"]["psnr"][name], abs=0.01)


def test_full_reference_errors() -> None:
    a = np.zeros((20, 20, 3))
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(a, np.zeros((20, 21, 3)))
    with pytest.raises(ValueError, match="11x11"):
        ssim(np.zeros((10, 30)), np.zeros((10, 30)))
    with pytest.raises(ValueError, match="too small"):
        psnr(a, a, crop_border=10)


# --- LPIPS --------------------------------------------------------------------------------------

def test_lpips_vgg_from_local_files(asset_env: Path) -> None:
    if not metrics.is_available("lpips"):
        pytest.skip(f"LPIPS not available here: {metrics.unavailable_reason('lpips')}")
    m = create("lpips")
    rng = np.random.default_rng(5)
    ref = _textured_image(rng, 64, 64)
    noise = rng.normal(0, 1, ref.shape).astype(np.float32)
    small = m(np.clip(ref + 0.03 * noise, 0, 1), ref)
    large = m(np.clip(ref + 0.15 * noise, 0, 1), ref)
    assert m(ref, ref) == pytest.approx(0.0, abs=1e-6)
    assert 0 < small < large < 1.5


def test_lpips_alexnet_is_unavailable_not_downloaded() -> None:
    with pytest.raises(MetricUnavailable, match="no offline copy"):
        create("lpips", net="alex")
    assert "no offline copy" in metrics.unavailable_reason("lpips", net="alex")


# --- inputs -------------------------------------------------------------------------------------

def test_gray_alpha_uint8_and_path_inputs_score_like_rgb(asset_env: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    gray = _textured_image(rng, 120, 220)[..., 1]
    gray = np.round(gray * 255) / 255  # exactly representable in 8 bits
    rgb = np.repeat(gray[..., None], 3, axis=2)
    m = create("niqe", protocol="live-rgb2gray")
    expected = m(rgb)
    assert m(gray) == pytest.approx(expected, rel=1e-12)
    assert m(gray[..., None]) == pytest.approx(expected, rel=1e-12)
    rgba = np.concatenate([rgb, rng.uniform(0, 1, gray.shape)[..., None]], axis=2)
    assert m(rgba) == pytest.approx(expected, rel=1e-12)
    assert m((rgb * 255).round().astype(np.uint8)) == pytest.approx(expected, rel=1e-12)
    path = tmp_path / "gray.png"
    cv2.imwrite(str(path), (gray * 255).round().astype(np.uint8))
    assert m(path) == pytest.approx(expected, rel=1e-12)
    # rgb2gray of an R=G=B image is the gray image itself, as MATLAB skips rgb2gray for gray files
    assert expected == pytest.approx(niqe_from_luma(gray * 255, load_niqe_model()), rel=1e-12)


def test_bad_inputs_raise_clear_errors(asset_env: Path, tmp_path: Path) -> None:
    m = create("niqe")
    with pytest.raises(ValueError, match=r"two whole 96x96 blocks.*got 100x100 px"):
        m(np.zeros((100, 100, 3), np.float32))
    with pytest.raises(ValueError, match="got 196x100 px"):  # 100 - 8 < 96 after the PIRM shave
        m(np.zeros((196, 100, 3), np.float32))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        m(np.full((200, 200, 3), 2.0, np.float32))
    with pytest.raises(ValueError, match="expected an image"):
        m(np.zeros((200, 200, 2), np.float32))
    with pytest.raises(ValueError, match="undefined"):
        m(np.full((200, 300, 3), 0.5, np.float32))  # flat: no AGGD fit anywhere
    missing = tmp_path / "missing.png"
    with pytest.raises(ValueError, match="missing.png"):
        m(missing)


def test_pi_plumbing_with_stand_in_nrqm(asset_env: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """PI = ((10 - NRQM) + NIQE) / 2 on the same PIRM luma (pyiqa's NRQM replaced by a stand-in)."""
    import bsrgan.metrics.pyiqa_backend as backend

    seen: list[np.ndarray] = []

    class StandInNRQM:
        def __init__(self, model_path: Path) -> None:
            assert Path(model_path).is_file()

        def __call__(self, luma: np.ndarray) -> float:
            seen.append(luma)
            return float(luma.mean()) / 25.5  # 0-10 like NRQM

    monkeypatch.setattr(backend, "PyiqaNRQM", StandInNRQM)
    model = tmp_path / "NRQM_model.mat"
    model.write_bytes(b"stand-in")
    img = _textured_image(np.random.default_rng(7), 120, 220)
    with pytest.warns(UserWarning):  # the explicit file cannot be verified (no published sha256)
        pi = create("pi", nrqm_model_path=model, nrqm_backend="pyiqa")
    parts = pi.components(img)
    y = rgb_to_y_bt601_uint8(img)[4:-4, 4:-4]
    np.testing.assert_array_equal(seen[0], y)
    assert parts["niqe"] == pytest.approx(create("niqe")(img), rel=1e-12)
    assert parts["nrqm"] == pytest.approx(y.mean() / 25.5)
    assert pi(img) == pytest.approx(((10 - parts["nrqm"]) + parts["niqe"]) / 2, rel=1e-12)
    assert pi.info.lower_better and pi.settings["protocol"] == "pirm"


def test_colour_shift_is_the_worst_channel_of_the_mean_colours_in_8bit_levels():
    from bsrgan.metrics import colour_shift

    ref = np.full((8, 8, 3), 0.5, np.float32)
    img = np.full((16, 16, 3), 0.5, np.float32)  # sizes may differ (SR vs bicubic or HR)
    img[..., 2] += 10 / 255
    img[..., 0] -= 4 / 255
    assert colour_shift(img, ref) == pytest.approx(10.0, abs=1e-4)
    assert colour_shift(ref, ref) == 0.0
    with pytest.raises(ValueError, match=r"two \(H, W, 3\) RGB images"):
        colour_shift(img[..., 0], ref)
