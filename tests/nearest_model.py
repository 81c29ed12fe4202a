"""An rrdbnet_tiny whose weights make it ``gain`` x nearest-neighbour x4 upsampling: a model
whose SR output is known exactly (tests of evaluation, caching and reuse)."""
from __future__ import annotations

from pathlib import Path

import torch

from bsrgan.models import build_model


def nearest_model(gain: float = 1.0) -> torch.nn.Module:
    """rrdbnet_tiny computing ``gain * nearest_x4(lr)`` (before the [0, 1] clip)."""
    model = build_model("rrdbnet_tiny")
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        for i in range(3):
            model.conv_first.weight[i, i, 1, 1] = 1.0
            model.conv_last.weight[i, i, 1, 1] = gain
        for conv in (model.upconv1, model.upconv2, model.HRconv):
            conv.weight[:, :, 1, 1] = torch.eye(conv.weight.shape[0])
    return model


def save_nearest_model(path: Path, gain: float = 1.0) -> Path:
    """Write :func:`nearest_model`'s state dict to ``path`` (folders created); returns it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(nearest_model(gain).state_dict(), path)
    return path
