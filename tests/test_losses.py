"""bsrgan.losses: pixel, VGG perceptual (layers, presets, weights handling) and GAN objectives."""
from __future__ import annotations

import math
import urllib.error

import pytest
import torch
import torch.nn.functional as F
from torchvision.models import vgg as tv_vgg

from bsrgan import assets
from bsrgan.losses import (
    GAN_KINDS,
    GANLoss,
    LowPassColourLoss,
    PerceptualLoss,
    PixelLoss,
    VGGWeightsError,
    layer_indices,
)
from bsrgan.losses.perceptual import VGG16_ASSET

RELEASED_VGG19 = {"conv1_2": 2, "conv2_2": 7, "conv3_4": 16, "conv4_4": 25, "conv5_4": 34}
RELEASED_VGG16 = {"conv1_2": 2, "conv2_2": 7, "conv3_3": 14, "conv4_3": 21, "conv5_3": 28}


def _pair(seed: int = 0, shape=(2, 3, 32, 32)) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g), torch.rand(shape, generator=g)


# ---------------------------------------------------------------- pixel

def test_pixel_loss_values_and_weight():
    pred, target = torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 0.5)
    assert PixelLoss("l1")(pred, target).item() == pytest.approx(0.5)
    assert PixelLoss("l2")(pred, target).item() == pytest.approx(0.25)
    assert PixelLoss("l1", weight=4.0)(pred, target).item() == pytest.approx(2.0)
    assert PixelLoss()(target, target).item() == 0.0


def test_pixel_loss_rejects_bad_kind_and_shapes():
    with pytest.raises(ValueError, match="kind must be one of"):
        PixelLoss("charbonnier")
    with pytest.raises(ValueError, match="differ in shape"):
        PixelLoss()(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5))


# ---------------------------------------------------------------- low-pass colour


def test_colour_loss_is_l1_of_block_means_times_weight():
    pred, target = _pair(1, (2, 3, 16, 24))
    blocks = lambda x: x.reshape(2, 3, 2, 8, 3, 8).mean((3, 5))
    expected = (blocks(pred) - blocks(target)).abs().mean()
    assert LowPassColourLoss(8, weight=3.0)(pred, target).item() == pytest.approx(3 * expected.item())
    assert LowPassColourLoss(1)(pred, target).item() == pytest.approx(F.l1_loss(pred, target).item())


def test_colour_loss_sees_colour_not_texture():
    """Zero-mean texture inside each block costs nothing; a colour cast of 0.1 costs 0.1."""
    target = torch.full((1, 3, 16, 16), 0.5)
    checker = (torch.arange(16)[:, None] + torch.arange(16)[None, :]) % 2 * 0.2 - 0.1
    loss = LowPassColourLoss(8)
    assert loss(target + checker, target).item() == pytest.approx(0.0, abs=1e-7)
    cast = target + torch.tensor([0.1, 0.0, -0.1]).view(1, 3, 1, 1)
    assert loss(cast, target).item() == pytest.approx(2 * 0.1 / 3)
    # its gradient is constant over each block: it can only move block means
    pred = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(2), requires_grad=True)
    loss(pred, target).backward()
    grad = pred.grad.reshape(1, 3, 2, 8, 2, 8)
    assert torch.equal(grad, grad[:, :, :, :1, :, :1].expand_as(grad))


def test_colour_loss_rejects_bad_arguments():
    with pytest.raises(ValueError, match="kernel must be an integer >= 1"):
        LowPassColourLoss(0)
    with pytest.raises(ValueError, match="weight must be >= 0"):
        LowPassColourLoss(8, weight=-1.0)
    with pytest.raises(ValueError, match="differ in shape"):
        LowPassColourLoss()(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 16))
    with pytest.raises(ValueError, match=r"H, W >= kernel \(8\)"):
        LowPassColourLoss(8)(torch.zeros(1, 3, 4, 8), torch.zeros(1, 3, 4, 8))


# ---------------------------------------------------------------- GAN

def test_lsgan_targets():
    gan = GANLoss("lsgan")
    real, fake = torch.tensor([1.0, 0.0]), torch.tensor([0.5, -1.0])
    assert gan.discriminator(real, fake).item() == pytest.approx(0.5 + (0.25 + 1.0) / 2)
    assert gan.generator(fake).item() == pytest.approx((0.25 + 4.0) / 2)
    assert gan.discriminator(torch.ones(4), torch.zeros(4)).item() == 0.0
    assert gan.generator(torch.ones(4)).item() == 0.0


def test_vanilla_is_bce_with_logits():
    gan = GANLoss("vanilla")
    zeros = torch.zeros(3)
    assert gan.discriminator(zeros, zeros).item() == pytest.approx(2 * math.log(2))
    assert gan.generator(zeros).item() == pytest.approx(math.log(2))
    assert gan.generator(torch.tensor([20.0])).item() < 1e-8  # non-saturating: fake judged real


def test_ragan_matches_the_relativistic_formula():
    real, fake = torch.tensor([2.0, 0.0, 1.0]), torch.tensor([-1.0, 0.5])
    bce = F.binary_cross_entropy_with_logits
    d_expected = 0.5 * (bce(real - fake.mean(), torch.ones(3)) + bce(fake - real.mean(), torch.zeros(2)))
    g_expected = 0.5 * (bce(real - fake.mean(), torch.zeros(3)) + bce(fake - real.mean(), torch.ones(2)))
    gan = GANLoss("ragan", weight=0.1)
    torch.testing.assert_close(gan.discriminator(real, fake), d_expected)
    torch.testing.assert_close(gan.generator(fake, real_logits=real), 0.1 * g_expected)
    with pytest.raises(ValueError, match="real_logits"):
        gan.generator(fake)


@pytest.mark.parametrize("kind", GAN_KINDS)
def test_gradients_push_logits_the_right_way(kind):
    gan = GANLoss(kind)  # logits in (0, 1): between the LSGAN targets 0 and 1
    real = torch.rand(8, generator=torch.Generator().manual_seed(1)).requires_grad_()
    fake = torch.rand(8, generator=torch.Generator().manual_seed(2)).requires_grad_()
    gan.discriminator(real, fake).backward()
    assert (real.grad < 0).all() and (fake.grad > 0).all()  # D: real up, fake down
    real.grad, fake.grad = None, None
    gan.generator(fake, real_logits=real).backward()
    assert (fake.grad < 0).all()  # G: make fakes look real
    assert real.grad is None  # the G step never trains D through the real logits


def test_gan_weight_scales_generator_only_and_bad_kind():
    real, fake = torch.randn(4), torch.randn(4)
    one, tenth = GANLoss("lsgan"), GANLoss("lsgan", weight=0.1)
    assert tenth.generator(fake).item() == pytest.approx(0.1 * one.generator(fake).item())
    assert tenth.discriminator(real, fake).item() == pytest.approx(one.discriminator(real, fake).item())
    with pytest.raises(ValueError, match="kind must be one of"):
        GANLoss("hinge")


# ---------------------------------------------------------------- perceptual: layers and presets

def test_released_indices_are_pre_activation_convs_of_torchvision_vgg19():
    with torch.device("meta"):
        features = tv_vgg.vgg19().features
    assert {n: layer_indices("vgg19")[n] for n in RELEASED_VGG19} == RELEASED_VGG19
    for index in RELEASED_VGG19.values():
        assert isinstance(features[index], torch.nn.Conv2d)
        assert isinstance(features[index + 1], torch.nn.ReLU)
    loss = PerceptualLoss("vgg19", "released", pretrained=False)
    assert loss.layers == RELEASED_VGG19
    assert list(loss.layer_weights.values()) == [0.1, 0.1, 1.0, 1.0, 1.0]


def test_paper_preset_is_the_last_conv_before_the_fourth_pool():
    with torch.device("meta"):
        features = tv_vgg.vgg19().features
    loss = PerceptualLoss("vgg19", "paper", pretrained=False)
    ((name, index),) = loss.layers.items()
    pools = [i for i, m in enumerate(features) if isinstance(m, torch.nn.MaxPool2d)]
    convs_before_pool4 = [i for i, m in enumerate(features[: pools[3]])
                          if isinstance(m, torch.nn.Conv2d)]
    assert (name, index) == ("conv4_4", convs_before_pool4[-1])


def test_vgg16_maps_presets_by_stage_and_states_the_deviation():
    with torch.device("meta"):
        features = tv_vgg.vgg16().features
    loss = PerceptualLoss("vgg16", "released", pretrained=False)
    assert loss.layers == RELEASED_VGG16
    assert all(isinstance(features[i], torch.nn.Conv2d) for i in RELEASED_VGG16.values())
    assert "DEVIATION" in loss.description and "VGG19" in loss.description
    assert "UNTRAINED" in loss.description
    assert PerceptualLoss("vgg16", "paper", pretrained=False).layers == {"conv4_3": 21}
    assert "DEVIATION" not in PerceptualLoss("vgg19", pretrained=False).description


def test_features_equal_torchvision_stack_at_requested_layers():
    """Our truncated extractor returns exactly torchvision's vgg19().features[:i+1] outputs."""
    loss = PerceptualLoss("vgg19", "released", pretrained=False)
    reference = tv_vgg.make_layers(tv_vgg.cfgs["E"])
    reference.load_state_dict(loss.vgg.state_dict(), strict=False)
    x, _ = _pair(shape=(1, 3, 32, 32))
    normalised = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
        [0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    feats = loss.features(x)
    assert list(feats) == list(RELEASED_VGG19)
    with torch.no_grad():
        for name, index in RELEASED_VGG19.items():
            torch.testing.assert_close(feats[name], reference[: index + 1](normalised.clone()))
        assert (feats["conv5_4"] < 0).any()  # pre-activation: not rectified


def test_loss_is_weighted_sum_zero_on_identity_and_differentiable():
    loss = PerceptualLoss("vgg16", "released", pretrained=False, weight=2.0)
    target, pred = _pair(shape=(1, 3, 40, 40))
    assert loss(target, target).item() == 0.0
    pred.requires_grad_()
    value = loss(pred, target)
    fp, ft = loss.features(pred), loss.features(target)
    manual = 2.0 * sum(w * F.l1_loss(fp[n], ft[n]) for n, w in loss.layer_weights.items())
    torch.testing.assert_close(value, manual)
    assert value.item() > 0
    value.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in loss.vgg.parameters())


def test_backbone_stays_frozen_in_eval_mode():
    loss = PerceptualLoss("vgg16", "paper", pretrained=False).train()
    assert loss.training and not loss.vgg.training
    assert not any(p.requires_grad for p in loss.parameters())
    assert len(loss.vgg) == 22  # truncated after conv4_3 (index 21)


def test_custom_layers_and_bad_arguments():
    loss = PerceptualLoss("vgg19", layer_weights={"relu2_2": 1.0, "pool1": 0.5}, pretrained=False)
    assert loss.layers == {"pool1": 4, "relu2_2": 8} and loss.preset == "custom"
    with pytest.raises(ValueError, match="unknown vgg16 layers"):
        PerceptualLoss("vgg16", layer_weights={"conv3_4": 1.0}, pretrained=False)
    with pytest.raises(ValueError, match="backbone must be one of"):
        PerceptualLoss("resnet50", pretrained=False)
    with pytest.raises(ValueError, match="preset must be one of"):
        PerceptualLoss(preset="srgan", pretrained=False)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        PerceptualLoss("vgg16", "paper", pretrained=False)(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))


# ---------------------------------------------------------------- perceptual: weights

def test_vgg19_offline_raises_instead_of_random_weights(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setenv("BSRGAN_OFFLINE", "0")  # downloads allowed, but the network is down
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(VGGWeightsError, match=r"vgg19-dcbb9e9d\.pth.*URLError.*weights_path.*vgg16"):
        PerceptualLoss("vgg19")
    assert not (tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth").exists()


def test_vgg19_respects_bsrgan_offline_without_touching_the_network(monkeypatch, tmp_path):
    def network(*args, **kwargs):
        raise AssertionError("torch.hub download attempted although BSRGAN_OFFLINE=1")

    monkeypatch.setenv("BSRGAN_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))  # empty hub cache
    monkeypatch.setattr(torch.hub, "download_url_to_file", network)
    with pytest.raises(VGGWeightsError, match=r"BSRGAN_OFFLINE=1.*hub.checkpoints.vgg19-dcbb9e9d"):
        PerceptualLoss("vgg19")


def test_vgg19_is_downloaded_once_into_the_hub_cache_then_reused(monkeypatch, tmp_path):
    """The download goes to torch.hub's cache with the file's sha256 prefix; later runs reuse it."""
    source = PerceptualLoss("vgg19", "released", pretrained=False)
    calls = []

    def download(url, dst, hash_prefix=None, progress=True):
        calls.append((url, hash_prefix))
        torch.save({f"features.{k}": v for k, v in source.vgg.state_dict().items()}, dst)

    monkeypatch.setenv("BSRGAN_OFFLINE", "0")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    first = PerceptualLoss("vgg19", "released")
    monkeypatch.setenv("BSRGAN_OFFLINE", "1")  # the cached file needs no network
    again = PerceptualLoss("vgg19", "released")
    assert calls == [(tv_vgg.VGG19_Weights.IMAGENET1K_V1.url, "dcbb9e9d")]
    assert "torchvision IMAGENET1K_V1" in first.description and "DEVIATION" not in first.description
    for model in (first, again):
        for k, v in model.vgg.state_dict().items():
            assert torch.equal(v, source.vgg.state_dict()[k]), k


def test_vgg16_without_the_asset_raises(monkeypatch):
    def missing(name, **kwargs):
        raise assets.AssetError(f"asset {name!r} is not available offline")

    monkeypatch.setattr(assets, "fetch", missing)
    with pytest.raises(VGGWeightsError, match=VGG16_ASSET):
        PerceptualLoss("vgg16")


def test_weights_file_fp16_loads_and_wrong_files_are_named(tmp_path):
    source = PerceptualLoss("vgg16", "paper", pretrained=False)
    state = {f"features.{k}": v.half() for k, v in source.vgg.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # a full vgg16 state dict is fine too
    torch.save(state, tmp_path / "vgg16_fp16.pth")
    loaded = PerceptualLoss("vgg16", "paper", weights_path=tmp_path / "vgg16_fp16.pth")
    for k, v in loaded.vgg.state_dict().items():
        assert v.dtype == torch.float32
        torch.testing.assert_close(v, state[f"features.{k}"].float(), rtol=0, atol=0)
    assert "vgg16_fp16.pth" in loaded.description

    with pytest.raises(VGGWeightsError, match="vgg16_fp16.pth.*missing keys"):
        PerceptualLoss("vgg19", "paper", weights_path=tmp_path / "vgg16_fp16.pth")  # wrong arch
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(VGGWeightsError, match="junk.pth"):
        PerceptualLoss("vgg16", weights_path=tmp_path / "junk.pth")
    with pytest.raises(VGGWeightsError, match="not found"):
        PerceptualLoss("vgg16", weights_path=tmp_path / "absent.pth")
    with pytest.raises(ValueError, match="pretrained=False"):
        PerceptualLoss("vgg16", weights_path=tmp_path / "vgg16_fp16.pth", pretrained=False)


def test_real_vgg16_weights_from_the_offline_mirror(asset_env, shared_assets):
    loss = PerceptualLoss("vgg16", "released")  # default source: asset vgg16-features via mirror
    assert "asset 'vgg16-features'" in loss.description and "DEVIATION" in loss.description
    file_state = torch.load(shared_assets / "weights" / "vgg16_features_imagenet_fp16.pth",
                            weights_only=True)
    for index in RELEASED_VGG16.values():
        torch.testing.assert_close(loss.vgg[index].weight, file_state[f"features.{index}.weight"].float(),
                                   rtol=0, atol=0)
    g = torch.Generator().manual_seed(0)
    img = F.avg_pool2d(torch.rand(1, 3, 128, 128, generator=g), 4, 1, 0)  # smooth-ish, 125x125
    mild, strong = (F.avg_pool2d(img, k, 1, k // 2, count_include_pad=False) for k in (3, 7))
    assert loss(img, img).item() == 0.0
    assert 0 < loss(mild, img).item() < loss(strong, img).item()
    pred = mild.clone().requires_grad_()
    loss(pred, img).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
