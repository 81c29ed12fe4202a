"""bsrgan.models: RRDBNet layout, variant registry, pretrained loading, discriminators."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn.utils import parametrize

from bsrgan import assets
from bsrgan.io import imread
from bsrgan.models import (
    DISCRIMINATORS,
    MODELS,
    PatchGANDiscriminator,
    RRDBNet,
    UNetDiscriminatorSN,
    WeightsError,
    build_discriminator,
    build_model,
    load_pretrained,
)

X4_PARAMS = 16_697_987


def _official_layout(shared_assets: Path, scale: str) -> list[tuple[str, tuple[int, ...]]]:
    path = shared_assets.parent / "fixtures" / f"rrdbnet_{scale}_official_keys.tsv"
    if not path.is_file():
        pytest.skip(f"key fixture {path} not found")
    rows = [line.split("\t") for line in path.read_text().splitlines()[1:] if line.strip()]
    return [(name, tuple(int(d) for d in shape.split("x"))) for name, shape in rows]


def _tiny(seed: int = 0, **overrides) -> RRDBNet:
    torch.manual_seed(seed)  # tests may seed the global generator; library code never does
    return build_model("rrdbnet_tiny", **overrides)


def _save(obj, path: Path) -> Path:
    torch.save(obj, path)
    return path


# ---------------------------------------------------------------- generator architecture

@pytest.mark.parametrize("name", sorted(MODELS))
def test_generator_forward_odd_size_is_finite(name):
    torch.manual_seed(0)
    model = build_model(name)
    with torch.no_grad():
        out = model(torch.rand(2, 3, 7, 5))
    assert out.shape == (2, 3, 7 * model.sf, 5 * model.sf)
    assert torch.isfinite(out).all()


# the full x4/x2 nets have the same layer types as these, only more of them (CPU time)
@pytest.mark.parametrize("name,sf", [("rrdbnet_tiny", 4), ("rrdbnet_tiny", 2), ("rrdbnet_small", 4)])
def test_every_generator_parameter_gets_a_gradient(name, sf):
    torch.manual_seed(0)
    model = build_model(name, sf=sf)
    model(torch.rand(2, 3, 7, 5)).square().mean().backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert no_grad == []


def test_registry_scales_and_overrides():
    assert {n: build_model(n).sf for n in ("rrdbnet_x4", "rrdbnet_x2")} == {"rrdbnet_x4": 4,
                                                                           "rrdbnet_x2": 2}
    small = build_model("rrdbnet_small", nb=2)
    assert (small.nf, small.nb, small.gc, small.sf) == (32, 2, 16, 4)
    assert len(small.RRDB_trunk) == 2
    with pytest.raises(KeyError, match="rrdbnet_x4"):
        build_model("rrdbnet_x3")


@pytest.mark.parametrize("scale", ["x4", "x2"])
def test_state_dict_equals_official_release_layout(shared_assets, scale):
    expected = _official_layout(shared_assets, scale)
    model = build_model(f"rrdbnet_{scale}")
    assert [(k, tuple(v.shape)) for k, v in model.state_dict().items()] == expected


def test_x4_parameter_count_and_x2_has_no_second_upsampler():
    x4, x2 = build_model("rrdbnet_x4"), build_model("rrdbnet_x2")
    assert sum(p.numel() for p in x4.parameters()) == X4_PARAMS
    assert sum(p.numel() for p in x2.parameters()) == X4_PARAMS - 64 * 64 * 9 - 64
    assert not hasattr(x2, "upconv2")


def test_generator_rejects_bad_configs_and_inputs():
    with pytest.raises(ValueError, match="sf must be one of"):
        RRDBNet(sf=3)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        _tiny()(torch.rand(1, 1, 8, 8))


def test_residual_trunk_starts_near_identity():
    """ESRGAN init (dense blocks at 0.1 x Kaiming): the output of a fresh net is small, not exploding."""
    out = _tiny()(torch.rand(1, 3, 16, 16))
    assert out.abs().max() < 1.0


def test_init_scales_only_the_dense_blocks_as_esrgan_does():
    """ESRGAN's reference init (BasicSR RRDBNet): the dense-block convs get 0.1 x Kaiming-normal
    weights and zero biases; the convs on the input-output path keep PyTorch's default."""
    model = _tiny(nf=32, gc=16)
    dense = [m for name, m in model.named_modules() if ".RDB" in name and name[-5:-1] == "conv"]
    assert len(dense) == 15
    for conv in dense:
        fan_in = conv.weight[0].numel()
        assert conv.weight.std().item() == pytest.approx(0.1 * math.sqrt(2 / fan_in), rel=0.2)
        assert not conv.bias.any()
    path = [model.conv_first, model.trunk_conv, model.upconv1, model.upconv2, model.HRconv,
            model.conv_last]
    for conv in path:  # Kaiming-uniform with a = sqrt(5): std = 1 / sqrt(3 fan_in)
        fan_in = conv.weight[0].numel()
        assert conv.weight.std().item() == pytest.approx(1 / math.sqrt(3 * fan_in), rel=0.2)
        assert conv.bias.abs().max() > 0
    # scaling the path convs by 0.1 too made the untrained output ~4e-5 of the input's magnitude
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        ratio = model(x).abs().mean() / x.abs().mean()
    assert 1e-2 < ratio < 10


def _colour_fields(generator: torch.Generator, n: int, lr_size: int = 16, sf: int = 4):
    """Smooth random colour images: HR = bilinear x16 of 4x4 random colours, LR = its area mean."""
    base = torch.rand(n, 3, 4, 4, generator=generator)
    hr = torch.nn.functional.interpolate(base, size=(lr_size * sf,) * 2, mode="bilinear",
                                         align_corners=False)
    return torch.nn.functional.interpolate(hr, scale_factor=1 / sf, mode="area"), hr


@pytest.mark.usefixtures("one_torch_thread")  # a 16x16 tiny net only loses time to a second thread
def test_fresh_generator_learns_to_pass_colours_through():
    """Regression for the quickstart's colour casts: RRDBNet has no global skip, so it must learn to
    pass colours through. With ESRGAN's init, 200 Adam steps (L1, lr 1e-3) bring the mean colour of
    unseen smooth colour images within a few levels (measured: median 2.8-7.5/255 over 3 seeds);
    with every conv scaled by 0.1 the same run stayed 15-25/255 off (max 29-49)."""
    model = _tiny()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = torch.Generator().manual_seed(0)
    for _ in range(200):
        lq, hq = _colour_fields(data, 4)
        loss = torch.nn.functional.l1_loss(model(lq), hq)
        opt.zero_grad()
        loss.backward()
        opt.step()
    lq, hq = _colour_fields(torch.Generator().manual_seed(1000), 16)
    with torch.no_grad():
        out = model(lq)
    error = (out.mean((2, 3)) - hq.mean((2, 3))).abs().amax(1) * 255  # worst channel per image
    assert error.median() < 8 and error.max() < 15


# ---------------------------------------------------------------- pretrained loading

def test_fp16_state_dict_round_trip_infers_config(tmp_path):
    model = _tiny(1, nf=24, nb=2, gc=12)
    half = {k: v.half() for k, v in model.state_dict().items()}
    loaded = load_pretrained(_save(half, tmp_path / "tiny_fp16.pth"))
    assert (loaded.nf, loaded.nb, loaded.gc, loaded.sf) == (24, 2, 12, 4)
    assert not loaded.training
    for k, v in loaded.state_dict().items():
        assert v.dtype == torch.float32
        torch.testing.assert_close(v, half[k].float(), rtol=0, atol=0)


def test_scale_factor_inferred_for_x2(tmp_path):
    x2 = _tiny(sf=2)
    loaded = load_pretrained(_save(x2.state_dict(), tmp_path / "x2.pth"))
    assert loaded.sf == 2 and not hasattr(loaded, "upconv2")
    x = torch.rand(1, 3, 6, 9)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), x2.eval()(x))
    assert loaded(x).shape == (1, 3, 12, 18)


@pytest.mark.parametrize("layout", ["ours", "basicsr", "ddp_ema", "averaged_model", "lightning"])
def test_trainer_checkpoints_prefer_ema_weights(tmp_path, layout):
    raw, ema = _tiny(1).state_dict(), _tiny(2).state_dict()
    if layout == "ours":
        ckpt = {"format": 1, "step": 10, "generator": raw, "ema": ema,
                "discriminator": {"w": torch.zeros(1)}, "optimizer_g": {"state": {}},
                "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state()},
                "config": {"model": {"generator": "rrdbnet_tiny"}}}
    elif layout == "basicsr":
        ckpt = {"params": raw, "params_ema": ema}
    elif layout == "ddp_ema":
        ckpt = {"generator": {f"module.{k}": v for k, v in raw.items()},
                "ema": {f"module.{k}": v for k, v in ema.items()}}
    elif layout == "averaged_model":  # torch.optim.swa_utils.AveragedModel(...).state_dict()
        ckpt = {"ema": {**{f"module.{k}": v for k, v in ema.items()}, "n_averaged": torch.tensor(3)},
                "generator": raw}
    else:
        ckpt = {"state_dict": ema, "epoch": 3}
    loaded = load_pretrained(_save(ckpt, tmp_path / f"{layout}.pth"))
    for k, v in loaded.state_dict().items():
        torch.testing.assert_close(v, ema[k], rtol=0, atol=0)


def test_layout_mismatch_error_names_file_and_every_problem(tmp_path):
    state = _tiny().state_dict()
    del state["HRconv.bias"]
    state["extra.weight"] = torch.zeros(3)
    state["conv_last.weight"] = torch.zeros(3, 8, 3, 3)
    path = _save(state, tmp_path / "broken.pth")
    with pytest.raises(WeightsError) as info:
        load_pretrained(path)
    message = str(info.value)
    assert "broken.pth" in message
    assert "1 missing keys: HRconv.bias" in message
    assert "1 unexpected keys: extra.weight" in message
    assert "conv_last.weight file (3, 8, 3, 3) vs model (3, 16, 3, 3)" in message
    assert info.value.missing == ["HRconv.bias"] and info.value.unexpected == ["extra.weight"]
    assert [m[0] for m in info.value.mismatched] == ["conv_last.weight"]


def test_non_rrdbnet_weights_are_reported_against_the_release_layout(tmp_path):
    torch.manual_seed(0)
    path = _save(build_discriminator("patchgan_sn", nf=8).state_dict(), tmp_path / "disc.pth")
    with pytest.raises(WeightsError, match=r"disc\.pth.*missing keys: conv_first\.weight") as info:
        load_pretrained(path)
    assert len(info.value.missing) == len(build_model("rrdbnet_x4").state_dict())


@pytest.mark.parametrize("content", [b"", b"not a torch file", b"junk", None])
def test_unreadable_files_raise_weights_error(tmp_path, content):
    path = tmp_path / "bad.pth"
    if content is None:
        torch.save([1, 2, 3], path)  # readable, but not a state dict
    else:
        path.write_bytes(content)
    with pytest.raises(WeightsError, match="bad.pth"):
        load_pretrained(path)


def test_unknown_name_lists_released_models():
    with pytest.raises(WeightsError, match="BSRGANx2"):
        load_pretrained("BSRGAN_x8")


def test_registry_names_resolve_through_assets(tmp_path, monkeypatch):
    weights = _save(_tiny().state_dict(), tmp_path / "BSRNet.pth")
    asked = []
    monkeypatch.setattr(assets, "fetch", lambda name, **kw: asked.append(name) or weights)
    assert load_pretrained("BSRNet").nf == 16
    assert asked == ["BSRNet"]


def test_missing_official_weights_raise_asset_error_offline():
    """conftest sets BSRGAN_OFFLINE=1 and an empty cache: BSRGAN.pth is not available."""
    with pytest.raises(assets.AssetError, match="BSRGAN"):
        load_pretrained("BSRGAN")


def test_offline_mirror_weights_load_by_name(asset_env):
    model = load_pretrained("RealSR_JPEG_x4_fp16")
    assert (model.nf, model.nb, model.gc, model.sf) == (64, 23, 32, 4)
    assert all(p.dtype == torch.float32 for p in model.parameters())


@pytest.fixture(scope="module")
def realsr_jpeg(request) -> RRDBNet:
    shared = request.getfixturevalue("shared_assets")
    return load_pretrained(shared / "weights" / "RealSR_JPEG_x4_fp16.pth")


@pytest.mark.parametrize("name", ["chip", "comic1", "Lincoln"])
def test_real_weights_reproduce_published_realsr_jpeg_outputs(shared_assets, realsr_jpeg, name):
    lr = imread(shared_assets / "realsrset" / f"{name}.png")
    published = imread(shared_assets / "realsrset-published" / "realsr_jpeg" / f"{name}_RealSR_JPEG.png")
    with torch.inference_mode():
        sr = realsr_jpeg(torch.from_numpy(lr).permute(2, 0, 1)[None])[0]
    sr8 = (sr.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round()
    mse = np.mean((sr8 - published.astype(np.float64) * 255) ** 2)
    psnr = 10 * math.log10(255**2 / mse)
    print(f"{name}: PSNR {psnr:.2f} dB vs published RealSR-JPEG output")
    assert sr8.shape == published.shape
    assert psnr >= 50.0


# ---------------------------------------------------------------- discriminators

def test_discriminator_registry_builds_the_named_classes():
    assert set(DISCRIMINATORS) == {"patchgan_sn", "unet_sn"}
    assert isinstance(build_discriminator("patchgan_sn", nf=8), PatchGANDiscriminator)
    assert isinstance(build_discriminator("unet_sn", nf=8), UNetDiscriminatorSN)
    with pytest.raises(KeyError, match="patchgan_sn"):
        build_discriminator("vgg128")


@pytest.mark.parametrize("name", sorted(DISCRIMINATORS))
@pytest.mark.parametrize("size", [(96, 96), (75, 53)])
def test_discriminator_output_shape_and_gradients(name, size):
    torch.manual_seed(0)
    disc = build_discriminator(name, nf=16)
    h, w = size
    logits = disc(torch.rand(2, 3, h, w))
    expected = (2, 1, h // 8 - 2, w // 8 - 2) if name == "patchgan_sn" else (2, 1, h, w)
    assert logits.shape == expected
    assert torch.isfinite(logits).all()
    logits.mean().backward()
    assert [n for n, p in disc.named_parameters() if p.grad is None or p.grad.abs().sum() == 0] == []


@pytest.mark.parametrize("name", sorted(DISCRIMINATORS))
def test_discriminators_are_spectrally_normalised(name):
    disc = build_discriminator(name, nf=8)
    convs = [m for m in disc.modules() if isinstance(m, torch.nn.Conv2d)]
    normalised = [parametrize.is_parametrized(m, "weight") for m in convs]
    # PatchGAN: every conv; U-Net: all but the first and last (Real-ESRGAN)
    assert normalised == ([True] * 5 if name == "patchgan_sn" else [False] + [True] * 8 + [False])
    plain = PatchGANDiscriminator(nf=8, spectral_norm=False)
    assert not any(parametrize.is_parametrized(m) for m in plain.modules())


def test_patchgan_receptive_field_is_70_pixels():
    torch.manual_seed(0)
    disc = PatchGANDiscriminator(nf=8, spectral_norm=False)
    x = torch.rand(1, 3, 128, 128, requires_grad=True)
    logits = disc(x)
    logits[0, 0, 7, 7].backward()
    touched = x.grad[0].abs().sum(0) > 0
    rows, cols = touched.any(1).nonzero().flatten(), touched.any(0).nonzero().flatten()
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (70, 70)


def test_unet_skip_connections_change_the_output():
    x = torch.rand(1, 3, 32, 32)
    torch.manual_seed(0)
    with_skip = UNetDiscriminatorSN(nf=8, skip_connection=True).eval()
    torch.manual_seed(0)
    without = UNetDiscriminatorSN(nf=8, skip_connection=False).eval()
    with torch.no_grad():
        assert not torch.allclose(with_skip(x), without(x))


@pytest.mark.parametrize("name", sorted(DISCRIMINATORS))
def test_discriminators_reject_too_small_or_wrong_inputs(name):
    disc = build_discriminator(name, nf=8)
    with pytest.raises(ValueError, match="needs H, W >="):
        disc(torch.rand(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        disc(torch.rand(1, 1, 64, 64))
