"""bsrgan.inference and `bsrgan upscale`: tile geometry, blending, padding, layouts, precision,
device handling, the batch tool and the CLI; the real RealSR_JPEG weights where ../shared exists."""
from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bsrgan.cli import main as cli_main
from bsrgan.inference import TileGrid, auto_tile, pad_to_multiple, tile_starts, upscale
from bsrgan.inference.batch import InPlaceError, upscale_files
from bsrgan.inference.device import (
    CPU_MEMORY_BUDGET,
    bytes_per_input_pixel,
    plan_tile,
    select_device,
)
from bsrgan.inference.tiling import axis_weights, reflect_indices
from bsrgan.io import imread, imread_raw, imwrite
from bsrgan.models import build_model, load_pretrained


# ------------------------------------------------------------------------------------ models
class LocalSR(nn.Module):
    """Stand-in SR net with a small receptive field (< 2 input pixels): nearest upsampling plus a
    learned-looking residual from a 3x3 conv at low and one at high resolution. Records the
    largest input it was given."""

    def __init__(self, sf: int = 4, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.sf = sf
        self.lr_conv = nn.Conv2d(3, 8, 3, padding=1)
        self.hr_conv = nn.Conv2d(8, 3, 3, padding=1)
        for conv in (self.lr_conv, self.hr_conv):
            conv.weight.data = torch.randn(conv.weight.shape, generator=gen) * 0.1
            conv.bias.data = torch.randn(conv.bias.shape, generator=gen) * 0.1
        self.max_input_hw = (0, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.max_input_hw = tuple(max(a, b) for a, b in zip(self.max_input_hw, x.shape[-2:]))
        feat = F.interpolate(torch.relu(self.lr_conv(x)), scale_factor=self.sf, mode="nearest")
        return F.interpolate(x, scale_factor=self.sf, mode="nearest") + self.hr_conv(feat)


class UnshuffleSR(nn.Module):
    """Stand-in for an architecture that needs even input sides (pixel-unshuffle front end)."""

    size_multiple = 2

    def __init__(self, sf: int = 2):
        super().__init__()
        self.sf = sf
        self.mix = nn.Conv2d(12, 3 * (2 * sf) ** 2, 1)
        gen = torch.Generator().manual_seed(1)
        self.mix.weight.data = torch.randn(self.mix.weight.shape, generator=gen) * 0.2
        self.mix.bias.data.fill_(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 2 or x.shape[-2] % 2:
            raise ValueError(f"UnshuffleSR needs even sides, got {tuple(x.shape)}")
        return F.pixel_shuffle(self.mix(F.pixel_unshuffle(x, 2)), 2 * self.sf)


@pytest.fixture(scope="module")
def tiny_model() -> nn.Module:
    """The registry's `rrdbnet_tiny`, with weights large enough that its output is not ~0."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = build_model("rrdbnet_tiny")
        model.reset_parameters(scale=0.5)
    model.conv_last.bias.data.fill_(0.5)
    return model.eval()


def _rand(shape, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def _photo(h: int, w: int) -> np.ndarray:
    """Smooth colourful content (so that bicubic/luma comparisons are meaningful)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([0.5 + 0.4 * np.sin(x / 5.0), 0.5 + 0.4 * np.cos(y / 7.0),
                     (x + y) / (h + w)], axis=2).astype(np.float32)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2)))


# ------------------------------------------------------------------------------------ tiling
@pytest.mark.parametrize("length,tile,overlap", [(100, 32, 8), (301, 64, 32), (65, 64, 32),
                                                 (1000, 256, 32), (7, 3, 2), (97, 40, 0)])
def test_tile_starts_cover_the_axis_with_at_least_the_overlap(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    assert starts[0] == 0 and starts[-1] == length - tile
    assert all(b > a for a, b in itertools.pairwise(starts))
    assert all(a + tile - b >= overlap for a, b in itertools.pairwise(starts))
    # no more tiles than needed: one fewer tile could not keep the overlap
    n = len(starts)
    assert n == 1 or (n - 2) * (tile - overlap) + tile < length


def test_tile_starts_single_tile_and_errors():
    assert tile_starts(50, 64, 32) == [0] and tile_starts(64, 64, 63) == [0]
    with pytest.raises(ValueError, match="overlap"):
        tile_starts(100, 32, 32)
    with pytest.raises(ValueError, match="tile"):
        tile_starts(100, 0, 0)
    with pytest.raises(ValueError, match="length"):
        tile_starts(0, 8, 0)


@pytest.mark.parametrize("length,tile,overlap,sf", [(100, 32, 8, 4), (301, 64, 32, 2),
                                                    (9, 4, 3, 4), (40, 40, 8, 4), (130, 48, 16, 1)])
def test_axis_weights_are_a_partition_of_unity(length, tile, overlap, sf):
    starts = tile_starts(length, tile, overlap)
    weights = axis_weights(starts, min(tile, length), length, sf)
    total = np.zeros(length * sf)
    for s, w in zip(starts, weights):
        assert w.shape == (min(tile, length) * sf,) and w.dtype == np.float32 and (w > 0).all()
        total[s * sf:s * sf + w.size] += w
    np.testing.assert_allclose(total, 1.0, atol=1e-6)
    # the image border belongs fully to the border tile (nothing to blend with there)
    assert weights[0][0] == pytest.approx(1.0) and weights[-1][-1] == pytest.approx(1.0)


def test_axis_weights_drop_the_tile_edge_and_feather_the_middle():
    starts = tile_starts(96, 64, 32)  # [0, 32]: a 32-pixel band, 128 output pixels at sf=4
    left, right = axis_weights(starts, 64, 96, 4)
    band_right = right[:128]
    assert band_right[:32].max() < 1e-5  # the quarter next to the right tile's edge: ~no weight
    assert band_right[-32:].min() > 1 - 1e-5  # and the left tile's edge quarter likewise
    ramp = band_right[32:96]
    assert np.all(np.diff(ramp) > 0)  # a monotone linear cross-fade in between
    np.testing.assert_allclose(np.diff(ramp), 1 / 64, atol=1e-6)
    np.testing.assert_allclose(left[128:] + band_right, 1.0, atol=1e-6)


def test_tile_grid_plan_and_errors():
    grid = TileGrid.plan(100, 301, 64, 32)
    assert (grid.tile_h, grid.tile_w) == (64, 64) and len(grid) == 3 * 9
    whole = TileGrid.plan(100, 301, 0, 32)
    assert len(whole) == 1 and (whole.tile_h, whole.tile_w) == (100, 301)
    assert TileGrid.plan(10, 10, 8, 2, multiple=5).tile_h == 5  # tile rounded down to the multiple
    with pytest.raises(ValueError, match=">= 0"):
        TileGrid.plan(10, 10, -1, 2)
    with pytest.raises(ValueError, match="larger than the tile overlap"):
        TileGrid.plan(100, 100, 32, 32)
    with pytest.raises(ValueError, match="multiple"):
        TileGrid.plan(11, 10, 8, 2, multiple=2)


@pytest.mark.parametrize("length,padded", [(5, 8), (5, 20), (2, 7), (1, 4), (3, 3)])
def test_reflect_indices_match_numpy_reflect_and_replicate_single_pixels(length, padded):
    src = np.arange(length)
    expected = np.pad(src, (0, padded - length), mode="reflect" if length > 1 else "edge")
    np.testing.assert_array_equal(src[reflect_indices(length, padded)], expected)


def test_pad_to_multiple():
    x = torch.arange(2 * 3 * 5, dtype=torch.float32).reshape(2, 3, 5)
    assert pad_to_multiple(x, 1) is x
    padded = pad_to_multiple(x, 4)
    assert padded.shape == (2, 4, 8)
    np.testing.assert_array_equal(padded.numpy(),
                                  np.pad(x.numpy(), ((0, 0), (0, 1), (0, 3)), mode="reflect"))
    one = pad_to_multiple(torch.ones(3, 1, 1) * 0.25, 4)
    assert one.shape == (3, 4, 4) and torch.all(one == 0.25)
    with pytest.raises(ValueError):
        pad_to_multiple(x, 0)


# ------------------------------------------------------------------------------------ upscale
def test_tiled_equals_whole_image_for_a_small_receptive_field():
    model, img = LocalSR(), _rand((70, 93, 3), seed=1)
    whole = upscale(model, img, tile=0, device="cpu")
    tiled = upscale(model, img, tile=32, tile_overlap=16, device="cpu")
    batched = upscale(model, img, tile=32, tile_overlap=16, device="cpu", tile_batch=4)
    assert whole.shape == (280, 372, 3) and whole.dtype == np.float32
    assert 0.0 < whole.mean() < 1.0 and whole.std() > 0.1  # a real image, not a clipped constant
    np.testing.assert_allclose(tiled, whole, atol=2e-6)
    np.testing.assert_allclose(batched, tiled, atol=1e-6)


def test_the_model_only_ever_sees_tiles():
    model = LocalSR(sf=2)
    img = _photo(520, 700)
    out = upscale(model, img, tile=128, tile_overlap=32, device="cpu")
    assert model.max_input_hw == (128, 128)  # device memory is bounded by the tile, not the image
    assert out.shape == (1040, 1400, 3)
    np.testing.assert_allclose(out, upscale(model, img, tile=0, device="cpu"), atol=2e-6)


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 1), (3, 301, 3), (301, 3, 3), (17, 23, 3),
                                   (2, 1, 3)])
def test_any_size_works(tiny_model, shape):
    img = _rand(shape, seed=2)
    out = upscale(tiny_model, img, tile=16, tile_overlap=4, device="cpu")
    expected = (shape[0] * 4, shape[1] * 4) + shape[2:]
    assert out.shape == expected and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    assert out.std() > 0.005 or shape[:2] == (1, 1)
    if max(shape[:2]) <= 16:  # a single tile: exactly the network's own output
        rgb = img if img.ndim == 3 else np.repeat(img[:, :, None], 3, axis=2)
        with torch.inference_mode():
            ref = tiny_model(torch.from_numpy(rgb).permute(2, 0, 1)[None])
        ref = ref[0].clamp(0, 1).permute(1, 2, 0).numpy()
        if img.ndim == 2:
            ref = ref @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        np.testing.assert_allclose(out, ref, atol=1e-5)


def test_tiled_tiny_rrdbnet_is_close_to_whole_image(tiny_model):
    img = _photo(48, 80)
    whole = upscale(tiny_model, img, tile=0, device="cpu")
    tiled = upscale(tiny_model, img, tile=32, tile_overlap=16, device="cpu")
    assert psnr(tiled, whole) > 45


def test_gray_in_gray_out(tiny_model):
    gray = _photo(20, 27)[:, :, 0]
    out = upscale(tiny_model, gray, tile=16, tile_overlap=4, device="cpu")
    assert out.shape == (80, 108)
    colour = upscale(tiny_model, np.repeat(gray[:, :, None], 3, axis=2), tile=16, tile_overlap=4,
                     device="cpu")
    np.testing.assert_allclose(out, colour @ np.array([0.299, 0.587, 0.114], np.float32), atol=1e-6)
    kept = upscale(tiny_model, gray[:, :, None], tile=16, tile_overlap=4, device="cpu")
    assert kept.shape == (80, 108, 1)
    np.testing.assert_allclose(kept[:, :, 0], out)


def test_alpha_is_upscaled_bicubically_and_separately(tiny_model):
    rgb = _photo(21, 30)
    alpha = np.clip(np.linspace(-0.2, 1.2, 30, dtype=np.float32)[None, :].repeat(21, 0), 0, 1)
    out = upscale(tiny_model, np.dstack([rgb, alpha]), tile=16, tile_overlap=4, device="cpu")
    assert out.shape == (84, 120, 4)
    np.testing.assert_allclose(out[:, :, :3], upscale(tiny_model, rgb, tile=16, tile_overlap=4,
                                                      device="cpu"), atol=1e-6)
    expected = np.clip(cv2.resize(alpha, (120, 84), interpolation=cv2.INTER_CUBIC), 0, 1)
    np.testing.assert_allclose(out[:, :, 3], expected, atol=1e-6)
    gray_alpha = upscale(tiny_model, np.dstack([rgb[:, :, 0], alpha]), tile=16, tile_overlap=4,
                         device="cpu")
    assert gray_alpha.shape == (84, 120, 2)
    np.testing.assert_allclose(gray_alpha[:, :, 1], expected, atol=1e-6)
    np.testing.assert_allclose(gray_alpha[:, :, 0], upscale(tiny_model, rgb[:, :, 0], tile=16,
                                                            tile_overlap=4, device="cpu"), atol=1e-6)


def test_reflection_padding_for_models_that_need_even_sides():
    model = UnshuffleSR(sf=2)
    for shape in [(1, 1, 3), (3, 301, 3), (7, 5, 3)]:
        img = _rand(shape, seed=3)
        out = upscale(model, img, tile=8, tile_overlap=2, device="cpu")
        assert out.shape == (shape[0] * 2, shape[1] * 2, 3)
        pads = [(0, s % 2) for s in shape[:2]] + [(0, 0)]
        mode = "edge" if 1 in shape[:2] else "reflect"
        padded = np.pad(img, pads, mode=mode)
        whole = upscale(model, padded, tile=0, device="cpu")[:shape[0] * 2, :shape[1] * 2]
        np.testing.assert_allclose(out, whole, atol=1e-6)


def test_bf16_on_cpu_is_close_and_fp16_on_cpu_is_refused(tiny_model):
    img = _photo(24, 24)
    fp32 = upscale(tiny_model, img, tile=0, device="cpu")
    bf16 = upscale(tiny_model, img, tile=0, device="cpu", precision="bf16")
    assert bf16.dtype == np.float32 and 0 < np.abs(bf16 - fp32).max() < 0.05
    with pytest.raises(ValueError, match="fp16.*CUDA"):
        upscale(tiny_model, img, device="cpu", precision="fp16")
    with pytest.raises(ValueError, match="unknown precision"):
        upscale(tiny_model, img, device="cpu", precision="int8")


def test_cpu_path_never_touches_torch_cuda(tiny_model, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("torch.cuda called on the CPU path")

    for name in ("is_available", "mem_get_info", "synchronize", "current_stream",
                 "is_bf16_supported", "get_device_name"):
        monkeypatch.setattr(torch.cuda, name, boom)
    assert plan_tile(tiny_model, 9, 11, torch.device("cpu")) == 0
    out = upscale(tiny_model, _photo(9, 11), tile=None, device="cpu", precision="bf16")
    assert out.shape == (36, 44, 3)


def test_tile_plan_follows_the_memory_budget():
    cpu = torch.device("cpu")
    x4 = build_model("rrdbnet_x4")  # nf=64, sf=4: 16 KiB per LR pixel in fp32, 8 KiB in bf16
    assert bytes_per_input_pixel(x4, torch.float32) == 16 * 2**10
    assert CPU_MEMORY_BUDGET == 2 * 2**30
    # the default CPU budget runs every RealSRSet image (at most 360x360) and a 512x256 DPED
    # crop whole: one forward pass instead of 4 overlapping 256-px tiles for a 300-px image
    for h, w in ((360, 360), (300, 300), (256, 512), (120, 120)):
        assert plan_tile(x4, h, w, cpu) == 0, (h, w)
    # 131,073 pixels no longer fit: the largest multiple-of-32 square that does (362^2 -> 352)
    assert plan_tile(x4, 363, 362, cpu) == 352 and plan_tile(x4, 1536, 2048, cpu) == 352
    assert plan_tile(x4, 363, 362, cpu, torch.bfloat16) == 0  # half the bytes per pixel
    assert plan_tile(x4, 300, 300, cpu, budget=300 * 300 * 16 * 2**10 - 1) == 288
    assert plan_tile(x4, 300, 300, cpu, budget=2**20) == 64  # never below the minimum tile
    with pytest.raises(ValueError, match="positive"):
        plan_tile(x4, 300, 300, cpu, budget=0)


def test_upscale_runs_whole_images_that_fit_and_tiles_the_rest():
    model = LocalSR()  # no nf attribute: planned as nf=64, sf=4, i.e. 16 KiB per pixel in fp32
    img = _photo(100, 130)
    whole = upscale(model, img, device="cpu")
    assert model.max_input_hw == (100, 130)  # one pass over the whole image
    model.max_input_hw = (0, 0)
    tiled = upscale(model, img, device="cpu", tile_overlap=16, memory_budget=64 * 64 * 2**14)
    assert model.max_input_hw == (64, 64)  # the budget holds exactly one 64x64 tile
    np.testing.assert_allclose(tiled, whole, atol=1e-5)  # receptive field < dropped margin


def test_tile_plan_on_cuda_follows_free_memory(monkeypatch):
    model = build_model("rrdbnet_tiny")  # nf=16, sf=4: 4 * 16 * 16 * 4 B = 4 KiB per pixel
    assert bytes_per_input_pixel(model, torch.float32) == 4096
    assert bytes_per_input_pixel(model, torch.float16) == 2048
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (2 * 2**30, 80 * 2**30))
    assert auto_tile(model, cuda) == 512  # half of 2 GiB / 4 KiB = 2**18 pixels = 512^2
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (10 * 2**20, 80 * 2**30))
    assert auto_tile(model, cuda) == 64  # clamped to the minimum
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (2**40, 2**40))
    assert auto_tile(model, cuda) == 1024  # and to the maximum
    assert plan_tile(model, 3000, 4000, cuda) == 0  # ... unless the whole image fits: one pass
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (2 * 2**30, 80 * 2**30))
    assert plan_tile(model, 512, 512, cuda) == 0 and plan_tile(model, 513, 512, cuda) == 512


def test_device_selection(monkeypatch):
    assert select_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device"):
        select_device("gpu0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert select_device("auto") == torch.device("cpu")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        select_device("cuda")


def test_bad_inputs_and_models_are_clear_errors(tiny_model):
    with pytest.raises(TypeError, match="float image"):
        upscale(tiny_model, np.zeros((4, 4, 3), np.uint8), device="cpu")
    with pytest.raises(ValueError, match="shape"):
        upscale(tiny_model, np.zeros((4, 4, 5), np.float32), device="cpu")
    with pytest.raises(ValueError, match="empty"):
        upscale(tiny_model, np.zeros((0, 4, 3), np.float32), device="cpu")
    with pytest.raises(ValueError, match="tile_batch"):
        upscale(tiny_model, np.zeros((4, 4, 3), np.float32), device="cpu", tile_batch=0)
    no_scale = nn.Conv2d(3, 3, 1)
    with pytest.raises(ValueError, match="model.sf"):
        upscale(no_scale, np.zeros((4, 4, 3), np.float32), device="cpu")
    no_scale.sf = 2  # claims x2 but returns x1
    with pytest.raises(RuntimeError, match="expected"):
        upscale(no_scale, np.zeros((4, 4, 3), np.float32), device="cpu")


def test_model_mode_is_restored(tiny_model):
    model = LocalSR().train()
    upscale(model, _photo(8, 8), device="cpu")
    assert model.training
    upscale(tiny_model, _photo(8, 8), device="cpu")
    assert not tiny_model.training


# ------------------------------------------------------------------------- real weights (shared)
@pytest.fixture(scope="module")
def realsr_jpeg(shared_assets: Path) -> nn.Module:
    """The real RealSR-JPEG x4 RRDBNet from the offline mirror (skipped by `shared_assets` when
    ../shared is absent)."""
    return load_pretrained(shared_assets / "weights" / "RealSR_JPEG_x4_fp16.pth")


def _row_steps(img: np.ndarray) -> np.ndarray:
    """Mean absolute difference between output row r-1 and row r, for r = 1..H-1."""
    return np.abs(np.diff(img.astype(np.float64), axis=0)).mean(axis=(1, 2))


def _seams(starts, tile: int, sf: int) -> list[int]:
    """Output rows where a tile begins or ends inside the image."""
    return sorted({s * sf for s in starts[1:]} | {(s + tile) * sf for s in starts[:-1]})


@pytest.mark.shared
def test_real_model_tiled_matches_whole_image_without_seams(realsr_jpeg, shared_assets):
    img = imread(shared_assets / "realsrset" / "chip.png")[:80, :80]
    whole = upscale(realsr_jpeg, img, tile=0, device="cpu")
    tiled = upscale(realsr_jpeg, img, tile=56, device="cpu")  # default overlap 32: tiles at 0, 24
    assert psnr(tiled, whole) >= 45.0

    seams = _seams(TileGrid.plan(80, 80, 56, 32).row_starts, 56, 4)
    assert seams == [96, 224]
    for axis_img, axis_whole in ((tiled, whole), (tiled.transpose(1, 0, 2), whole.transpose(1, 0, 2))):
        steps, steps_whole = _row_steps(axis_img), _row_steps(axis_whole)
        interior = np.median(steps)
        for r in seams:
            # the step across a seam is the image's own step there, to a tiny fraction of a
            # typical interior step (a visible seam adds a step of the size of the interior one)
            assert abs(steps[r - 1] - steps_whole[r - 1]) < 0.05 * interior

    # control: abutting tiles without overlap leave a step the same check catches
    naive = upscale(realsr_jpeg, img, tile=40, tile_overlap=0, device="cpu")
    assert TileGrid.plan(80, 80, 40, 0).row_starts == (0, 40)
    steps, steps_whole = _row_steps(naive), _row_steps(whole)
    assert abs(steps[159] - steps_whole[159]) > 0.2 * np.median(steps)
    assert psnr(naive, whole) < psnr(tiled, whole) - 6


# ------------------------------------------------------------------------------- batch and CLI
@pytest.fixture
def tiny_weights(tmp_path, tiny_model) -> Path:
    """The tiny model saved as a plain state dict, loadable by `--model PATH`."""
    path = tmp_path / "weights" / "tiny.pth"
    path.parent.mkdir()
    torch.save(tiny_model.state_dict(), path)
    return path


@pytest.fixture
def image_folder(tmp_path) -> Path:
    """An input folder: an 8-bit RGB, a 16-bit RGB, a gray and an RGBA image."""
    folder = tmp_path / "in"
    folder.mkdir()
    photo = _photo(12, 17)
    imwrite(folder / "rgb.png", photo)
    imwrite(folder / "deep.png", photo, bit_depth=16)
    imwrite(folder / "gray.png", photo[:, :, 1])
    imwrite(folder / "rgba.png", np.dstack([photo, np.linspace(0, 1, 17)[None, :].repeat(12, 0)]))
    return folder


def _run_cli(*argv) -> int:
    return cli_main(["upscale", *map(str, argv), "--no-progress", "--device", "cpu"])


def test_cli_folder_in_files_out(image_folder, tiny_weights, tmp_path, tiny_model):
    out = tmp_path / "out"
    assert _run_cli(image_folder, "-o", out, "--model", tiny_weights, "--tile", 8,
                    "--tile-overlap", 2) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["deep_BSRGAN.png", "gray_BSRGAN.png", "rgb_BSRGAN.png", "rgba_BSRGAN.png"]
    rgb = imread_raw(out / "rgb_BSRGAN.png")
    assert rgb.rgb.shape == (48, 68, 3) and rgb.bit_depth == 8 and rgb.alpha is None
    expected = upscale(tiny_model, imread(image_folder / "rgb.png"), tile=8, tile_overlap=2,
                       device="cpu")
    np.testing.assert_allclose(rgb.rgb, expected, atol=0.5 / 255 + 1e-6)
    deep = imread_raw(out / "deep_BSRGAN.png")
    assert deep.bit_depth == 16  # 16-bit in, 16-bit out
    gray = imread_raw(out / "gray_BSRGAN.png")
    assert gray.is_gray and gray.rgb.shape == (48, 68, 3)
    rgba = imread_raw(out / "rgba_BSRGAN.png")
    assert rgba.alpha is not None and rgba.alpha.shape == (48, 68)
    assert rgba.alpha[:, 0].max() < 0.05 and rgba.alpha[:, -1].min() > 0.95


def test_cli_corrupt_file_is_reported_and_skipped(image_folder, tiny_weights, tmp_path, capsys):
    (image_folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    (image_folder / "empty.jpg").write_bytes(b"")
    out = tmp_path / "out"
    code = _run_cli(image_folder, "-o", out, "--model", tiny_weights, "--tile", 8,
                    "--tile-overlap", 2, "--suffix", "_x4", "--ext", "tif")
    err = capsys.readouterr().err
    assert code == 1
    assert "broken.png" in err and "empty.jpg" in err
    assert sorted(p.name for p in out.iterdir()) == ["deep_x4.tif", "gray_x4.tif", "rgb_x4.tif",
                                                     "rgba_x4.tif"]
    assert "4 written, 0 skipped (output exists), 2 failed" in err


def test_cli_missing_input_and_bad_settings(image_folder, tiny_weights, tmp_path, capsys):
    out = tmp_path / "out"
    assert _run_cli(image_folder / "rgb.png", tmp_path / "nope.png", "-o", out,
                    "--model", tiny_weights) == 1
    assert "nope.png" in capsys.readouterr().err
    assert (out / "rgb_BSRGAN.png").is_file()
    assert _run_cli(image_folder, "-o", out, "--model", tmp_path / "missing.pth") == 2
    assert "missing.pth" in capsys.readouterr().err
    assert _run_cli(image_folder, "-o", out, "--model", tiny_weights, "--precision", "fp16") == 2
    assert "CUDA" in capsys.readouterr().err
    assert _run_cli(image_folder, "-o", out, "--model", tiny_weights, "--ext", "gif") == 2
    with pytest.raises(SystemExit) as usage:  # argparse: a budget must be a positive GiB count
        _run_cli(image_folder, "-o", out, "--model", tiny_weights, "--memory-budget", "0")
    assert usage.value.code == 2 and "memory budget must be positive" in capsys.readouterr().err


def test_cli_memory_budget_sets_the_tile_plan(image_folder, tiny_weights, tmp_path,
                                              monkeypatch):
    from bsrgan.inference import batch

    seen = []
    real = batch.upscale
    monkeypatch.setattr(batch, "upscale", lambda *a, **kw: seen.append(kw) or real(*a, **kw))
    out = tmp_path / "out"
    assert _run_cli(image_folder / "rgb.png", "-o", out, "--model", tiny_weights,
                    "--memory-budget", "0.5") == 0
    assert seen[0]["tile"] is None and seen[0]["memory_budget"] == 2**29


def test_existing_outputs_are_skipped_unless_overwrite(image_folder, tiny_weights, tmp_path):
    out = tmp_path / "out"
    args = (image_folder / "rgb.png", "-o", out, "--model", tiny_weights)
    assert _run_cli(*args) == 0
    target = out / "rgb_BSRGAN.png"
    imwrite(target, np.zeros((2, 2, 3)))  # a marker: must survive a second run
    assert _run_cli(*args) == 0
    assert imread(target).shape == (2, 2, 3)
    assert _run_cli(*args, "--overwrite") == 0
    assert imread(target).shape == (48, 68, 3)


def test_refuses_to_write_into_an_input_folder(image_folder, tiny_weights, capsys, tiny_model):
    before = sorted(p.name for p in image_folder.iterdir())
    assert _run_cli(image_folder / "rgb.png", "-o", image_folder, "--model", tiny_weights) == 2
    assert "--allow-in-place" in capsys.readouterr().err
    assert sorted(p.name for p in image_folder.iterdir()) == before
    with pytest.raises(InPlaceError):
        upscale_files(tiny_model, [image_folder], image_folder, progress=False)
    assert _run_cli(image_folder / "rgb.png", "-o", image_folder, "--model", tiny_weights,
                    "--allow-in-place") == 0
    assert (image_folder / "rgb_BSRGAN.png").is_file()
    # even when allowed, an output that would replace its own input is refused
    report = upscale_files(tiny_model, [image_folder / "rgb.png"], image_folder, suffix="",
                           allow_in_place=True, overwrite=True, device="cpu", progress=False,
                           log=lambda msg: None)
    assert not report.ok and "overwrite the input" in report.failed[0][1]
    assert imread(image_folder / "rgb.png").shape == (12, 17, 3)


def test_output_name_collisions_are_reported(tmp_path, tiny_model):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        imwrite(tmp_path / sub / "same.png", _photo(5, 5))
    messages: list[str] = []
    report = upscale_files(tiny_model, [tmp_path / "a", tmp_path / "b"], tmp_path / "out",
                           device="cpu", progress=False, log=messages.append)
    assert len(report.written) == 1 and len(report.failed) == 1
    assert "already produced from" in messages[0] and str(tmp_path / "b" / "same.png") in messages[0]
