"""RRDBNet: the ESRGAN / BSRGAN generator (Wang et al. 2018; Zhang et al. 2021).

Parameter names and shapes follow the official KAIR/BSRGAN release exactly
(``conv_first``, ``RRDB_trunk.N.RDBk.convj``, ``trunk_conv``, ``upconv1``, ``upconv2`` (x4 only),
``HRconv``, ``conv_last``), so every released ``*.pth`` loads with ``strict=True``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

SUPPORTED_SCALES = (2, 4)
RESIDUAL_SCALE = 0.2  # ESRGAN's residual scaling inside dense blocks and RRDBs
DENSE_INIT_SCALE = 0.1  # ESRGAN: dense-block conv weights start at 0.1 x Kaiming-normal
LRELU_SLOPE = 0.2


def _conv3x3(in_ch: int, out_ch: int) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=1, padding=1, bias=True)


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convs; output = x + 0.2 * conv5(...). (B, nf, H, W) -> same."""

    def __init__(self, nf: int = 64, gc: int = 32):
        super().__init__()
        self.conv1 = _conv3x3(nf, gc)
        self.conv2 = _conv3x3(nf + gc, gc)
        self.conv3 = _conv3x3(nf + 2 * gc, gc)
        self.conv4 = _conv3x3(nf + 3 * gc, gc)
        self.conv5 = _conv3x3(nf + 4 * gc, nf)
        self.lrelu = nn.LeakyReLU(LRELU_SLOPE, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x + RESIDUAL_SCALE * x5


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks plus a scaled outer skip."""

    def __init__(self, nf: int = 64, gc: int = 32):
        super().__init__()
        self.RDB1 = ResidualDenseBlock(nf, gc)
        self.RDB2 = ResidualDenseBlock(nf, gc)
        self.RDB3 = ResidualDenseBlock(nf, gc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + RESIDUAL_SCALE * self.RDB3(self.RDB2(self.RDB1(x)))


class RRDBNet(nn.Module):
    """ESRGAN/BSRGAN generator.

    Args:
        in_nc, out_nc: input / output channels (3 for RGB).
        nf: trunk feature channels (64 in the release); gc: dense-block growth channels (32).
        nb: number of RRDB blocks (23 in the release).
        sf: scale factor, 2 or 4: one or two (nearest x2 upsample -> 3x3 conv -> LeakyReLU 0.2) stages.

    Input ``(B, in_nc, H, W)`` float, RGB in [0, 1]; output ``(B, out_nc, sf*H, sf*W)``, not clamped.
    Any H, W >= 1 works (the trunk is fully convolutional, padding 1).

    ``checkpoint_trunk = True`` (attribute, off by default) makes training forwards keep only the
    input of each RRDB block and recompute its inside during backward (activation
    checkpointing): same outputs and gradients, a fraction of the activation memory. It has no
    effect in eval mode or under ``torch.no_grad()``, and is not part of the state dict.
    """

    checkpoint_trunk: bool = False

    def __init__(self, in_nc: int = 3, out_nc: int = 3, nf: int = 64, nb: int = 23, gc: int = 32,
                 sf: int = 4):
        super().__init__()
        if sf not in SUPPORTED_SCALES:
            raise ValueError(f"RRDBNet: sf must be one of {SUPPORTED_SCALES}, got {sf!r}")
        if min(in_nc, out_nc, nf, nb, gc) < 1:
            raise ValueError(f"RRDBNet: sizes must be >= 1, got in_nc={in_nc}, out_nc={out_nc}, "
                             f"nf={nf}, nb={nb}, gc={gc}")
        self.in_nc, self.out_nc, self.nf, self.nb, self.gc, self.sf = in_nc, out_nc, nf, nb, gc, sf
        self.conv_first = _conv3x3(in_nc, nf)
        self.RRDB_trunk = nn.Sequential(*(RRDB(nf, gc) for _ in range(nb)))
        self.trunk_conv = _conv3x3(nf, nf)
        self.upconv1 = _conv3x3(nf, nf)
        if sf == 4:
            self.upconv2 = _conv3x3(nf, nf)
        self.HRconv = _conv3x3(nf, nf)
        self.conv_last = _conv3x3(nf, out_nc)
        self.lrelu = nn.LeakyReLU(LRELU_SLOPE, inplace=True)
        self.reset_parameters()

    def reset_parameters(self, scale: float = DENSE_INIT_SCALE) -> None:
        """ESRGAN initialisation, as in its reference implementation (BasicSR ``RRDBNet``).

        The five convs of every dense block get Kaiming-normal (fan_in) weights times ``scale``
        and zero biases, so each residual block starts close to identity; every other conv
        (``conv_first``, ``trunk_conv``, the upsampling convs, ``HRconv``, ``conv_last``) keeps
        PyTorch's default initialisation.

        Scaling *all* convs by 0.1 instead (this project's first version) shrinks the six convs
        on the path from input to output by 0.1 each: the untrained ``rrdbnet_small`` output is
        4e-5 times its input's magnitude (0.07 with this scheme) and, after the 1,500 steps of
        the CPU quickstart, its mean colours were still off by 15/255 (median over synthetic
        pairs); see docs/training.md.
        """
        for module in self.modules():
            if isinstance(module, ResidualDenseBlock):
                for conv in (module.conv1, module.conv2, module.conv3, module.conv4, module.conv5):
                    nn.init.kaiming_normal_(conv.weight, a=0, mode="fan_in")
                    conv.weight.data.mul_(scale)
                    nn.init.zeros_(conv.bias)
        for conv in self._path_convs():
            conv.reset_parameters()  # PyTorch's default (Kaiming-uniform, a=sqrt(5))

    def _path_convs(self) -> list[nn.Conv2d]:
        convs = [self.conv_first, self.trunk_conv, self.upconv1]
        if self.sf == 4:
            convs.append(self.upconv2)
        return [*convs, self.HRconv, self.conv_last]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_nc:
            raise ValueError(f"RRDBNet expects input of shape (B, {self.in_nc}, H, W), "
                             f"got {tuple(x.shape)}")
        fea = self.conv_first(x)
        fea = fea + self.trunk_conv(self._trunk(fea))
        fea = self.lrelu(self.upconv1(F.interpolate(fea, scale_factor=2, mode="nearest")))
        if self.sf == 4:
            fea = self.lrelu(self.upconv2(F.interpolate(fea, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.HRconv(fea)))

    def _trunk(self, fea: torch.Tensor) -> torch.Tensor:
        if not (self.checkpoint_trunk and self.training and torch.is_grad_enabled()):
            return self.RRDB_trunk(fea)
        for block in self.RRDB_trunk:
            fea = checkpoint(block, fea, use_reentrant=False)
        return fea

    def extra_repr(self) -> str:
        return (f"in_nc={self.in_nc}, out_nc={self.out_nc}, nf={self.nf}, nb={self.nb}, "
                f"gc={self.gc}, sf={self.sf}")
