"""Pixel-wise reconstruction loss (L1 as in BSRNet/BSRGAN, or L2)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_PIXEL_FNS = {"l1": F.l1_loss, "l2": F.mse_loss}


class PixelLoss(nn.Module):
    """``weight * mean(|pred - target|)`` (kind "l1") or ``weight * mean((pred - target)**2)`` ("l2").

    pred, target: same shape, e.g. ``(B, C, H, W)`` float in [0, 1]. Returns a scalar tensor.
    """

    def __init__(self, kind: str = "l1", weight: float = 1.0):
        super().__init__()
        if kind not in _PIXEL_FNS:
            raise ValueError(f"PixelLoss: kind must be one of {sorted(_PIXEL_FNS)}, got {kind!r}")
        self.kind, self.weight = kind, float(weight)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(f"PixelLoss: pred {tuple(pred.shape)} and target "
                             f"{tuple(target.shape)} differ in shape")
        return self.weight * _PIXEL_FNS[self.kind](pred, target)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, weight={self.weight}"
