"""Low-pass colour loss: L1 between block means of prediction and target (not in the paper).

A short GAN stage on a small generator moves the mean colour of its outputs. Ablations single
out the VGG perceptual term, whose gradient norm was 7.5x the pixel L1's on a quickstart batch
(12.0 vs 1.6); removing the block-mean part of that gradient did not stop the drift, so the
large updates it asks for seem to move the generator's colour mapping, and the pixel L1 pulls
back too weakly. This term compares ``k x k`` block means of output and target, so it
constrains colour and low frequencies only and leaves texture (what the perceptual and GAN
terms are for) free.
The idea follows the colour loss of frequency-separation SR training (Fritsche, Gu and Timofte,
"Frequency Separation for Real-World Super-Resolution", ICCVW 2019), with a box filter instead
of their Gaussian. BSRGAN's own loss has no such term: a config that uses it records it as a
deviation (see ``docs/training.md``, "Colours").
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LowPassColourLoss(nn.Module):
    """``weight * mean(|avgpool_k(pred) - avgpool_k(target)|)``.

    pred, target: ``(B, C, H, W)``, float, same shape, H and W >= ``kernel`` (rows and columns
    past the last whole block are ignored, as ``avg_pool2d`` does). Returns a scalar tensor.
    """

    def __init__(self, kernel: int = 8, weight: float = 1.0):
        super().__init__()
        if int(kernel) != kernel or kernel < 1:
            raise ValueError(f"LowPassColourLoss: kernel must be an integer >= 1, got {kernel!r}")
        if weight < 0:
            raise ValueError(f"LowPassColourLoss: weight must be >= 0, got {weight!r}")
        self.kernel, self.weight = int(kernel), float(weight)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(f"LowPassColourLoss: pred {tuple(pred.shape)} and target "
                             f"{tuple(target.shape)} differ in shape")
        if pred.ndim != 4 or min(pred.shape[-2:]) < self.kernel:
            raise ValueError(f"LowPassColourLoss: expects (B, C, H, W) with H, W >= kernel "
                             f"({self.kernel}), got {tuple(pred.shape)}")
        k = self.kernel
        return self.weight * F.l1_loss(F.avg_pool2d(pred, k), F.avg_pool2d(target, k))

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, weight={self.weight}"
