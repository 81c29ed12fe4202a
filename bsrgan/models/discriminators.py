"""Discriminators for GAN training: the paper's spectral-norm PatchGAN and Real-ESRGAN's U-Net.

Both return raw logits (no sigmoid); pair them with ``bsrgan.losses.GANLoss``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _sn

LRELU_SLOPE = 0.2


def _maybe_sn(conv: nn.Conv2d, enabled: bool) -> nn.Module:
    return _sn(conv) if enabled else conv


def _check_input(x: torch.Tensor, in_nc: int, min_size: int, who: str) -> None:
    if x.ndim != 4 or x.shape[1] != in_nc:
        raise ValueError(f"{who} expects input of shape (B, {in_nc}, H, W), got {tuple(x.shape)}")
    if min(x.shape[-2:]) < min_size:
        raise ValueError(f"{who} needs H, W >= {min_size}, got {tuple(x.shape[-2:])}")


class PatchGANDiscriminator(nn.Module):
    """PatchGAN (pix2pix ``NLayerDiscriminator``) with spectral normalisation, as used by BSRGAN.

    ``n_layers`` stride-2 4x4 convs (channels nf, 2nf, 4nf, ... capped at 8nf), one stride-1 4x4 conv,
    and a stride-1 4x4 conv to one channel; LeakyReLU 0.2 in between. With n_layers=3 each output
    logit sees a 70x70 input patch. ``spectral_norm=True`` wraps every conv in spectral norm and uses
    no other normalisation; ``spectral_norm=False`` gives the same convs with no normalisation at all.

    Input ``(B, in_nc, H, W)`` in [0, 1]; output ``(B, 1, H // 2**n_layers - 2, W // 2**n_layers - 2)``
    logits (e.g. 256x256 -> 30x30; 96x96 -> 10x10). Needs H, W >= 3 * 2**n_layers.
    """

    def __init__(self, in_nc: int = 3, nf: int = 64, n_layers: int = 3, spectral_norm: bool = True):
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"PatchGANDiscriminator: n_layers must be >= 1, got {n_layers}")
        self.in_nc, self.n_layers = in_nc, n_layers
        channels = [in_nc] + [nf * min(2 ** i, 8) for i in range(n_layers + 1)]
        layers: list[nn.Module] = []
        for i in range(n_layers + 1):
            stride = 2 if i < n_layers else 1
            conv = nn.Conv2d(channels[i], channels[i + 1], kernel_size=4, stride=stride, padding=1)
            layers += [_maybe_sn(conv, spectral_norm), nn.LeakyReLU(LRELU_SLOPE, inplace=True)]
        layers.append(_maybe_sn(nn.Conv2d(channels[-1], 1, kernel_size=4, stride=1, padding=1),
                                spectral_norm))
        self.body = nn.Sequential(*layers)

    @property
    def min_input_size(self) -> int:
        return 3 * 2 ** self.n_layers

    def output_size(self, size: int) -> int:
        """Spatial size of the logit map for an input side of ``size`` pixels."""
        return size // 2 ** self.n_layers - 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.in_nc, self.min_input_size, type(self).__name__)
        return self.body(x)


class UNetDiscriminatorSN(nn.Module):
    """U-Net discriminator with spectral norm (Real-ESRGAN; the authors' released GAN config).

    Encoder: 3x3 conv, then three stride-2 4x4 convs (nf -> 2nf -> 4nf -> 8nf). Decoder: three
    (bilinear x2 upsample -> 3x3 conv) stages back to nf channels, each added to the encoder feature
    of the same resolution when ``skip_connection`` is on; two 3x3 convs and a 3x3 conv to one channel.
    All convs but the first and last are spectrally normalised; LeakyReLU 0.2. Layer names follow
    Real-ESRGAN (``conv0`` ... ``conv9``).

    Input ``(B, in_nc, H, W)`` in [0, 1]; output ``(B, 1, H, W)`` per-pixel logits. Any H, W >= 8
    works: each decoder stage upsamples to the exact size of its skip feature (Real-ESRGAN's
    fixed x2 upsampling needs H, W divisible by 8; for such sizes the two are identical).
    """

    def __init__(self, in_nc: int = 3, nf: int = 64, skip_connection: bool = True):
        super().__init__()
        self.in_nc, self.skip_connection = in_nc, skip_connection
        self.conv0 = nn.Conv2d(in_nc, nf, 3, 1, 1)
        self.conv1 = _sn(nn.Conv2d(nf, nf * 2, 4, 2, 1, bias=False))
        self.conv2 = _sn(nn.Conv2d(nf * 2, nf * 4, 4, 2, 1, bias=False))
        self.conv3 = _sn(nn.Conv2d(nf * 4, nf * 8, 4, 2, 1, bias=False))
        self.conv4 = _sn(nn.Conv2d(nf * 8, nf * 4, 3, 1, 1, bias=False))
        self.conv5 = _sn(nn.Conv2d(nf * 4, nf * 2, 3, 1, 1, bias=False))
        self.conv6 = _sn(nn.Conv2d(nf * 2, nf, 3, 1, 1, bias=False))
        self.conv7 = _sn(nn.Conv2d(nf, nf, 3, 1, 1, bias=False))
        self.conv8 = _sn(nn.Conv2d(nf, nf, 3, 1, 1, bias=False))
        self.conv9 = nn.Conv2d(nf, 1, 3, 1, 1)

    def _up(self, x: torch.Tensor, conv: nn.Module, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        x = F.leaky_relu(conv(x), LRELU_SLOPE)
        return x + skip if self.skip_connection else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.in_nc, 8, type(self).__name__)
        x0 = F.leaky_relu(self.conv0(x), LRELU_SLOPE)
        x1 = F.leaky_relu(self.conv1(x0), LRELU_SLOPE)
        x2 = F.leaky_relu(self.conv2(x1), LRELU_SLOPE)
        x3 = F.leaky_relu(self.conv3(x2), LRELU_SLOPE)
        x4 = self._up(x3, self.conv4, x2)
        x5 = self._up(x4, self.conv5, x1)
        x6 = self._up(x5, self.conv6, x0)
        out = F.leaky_relu(self.conv7(x6), LRELU_SLOPE)
        out = F.leaky_relu(self.conv8(out), LRELU_SLOPE)
        return self.conv9(out)
