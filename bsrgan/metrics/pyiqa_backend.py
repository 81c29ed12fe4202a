"""pyiqa's NIQE and NRQM on a prepared luma plane, always with our local parameter files.

The luma comes from :func:`bsrgan.metrics.protocols.luma_for_protocol` (0-255 integers, already
shaved), so pyiqa's own colour conversion and cropping are bypassed and the two NIQE backends
see identical pixels. pyiqa is imported lazily: importing ``bsrgan.metrics`` stays light.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["PyiqaNIQE", "PyiqaNRQM"]


def _luma_tensor(luma: np.ndarray, scale: float):
    import torch

    return torch.from_numpy(np.ascontiguousarray(luma, dtype=np.float64) / scale)[None, None]


class PyiqaNIQE:
    """pyiqa ``NIQE`` (BasicSR port) with the given ``niqe_modelparameters.mat``; luma (H, W) 0-255."""

    def __init__(self, model_path: str | Path) -> None:
        from pyiqa.archs.niqe_arch import NIQE

        self.net = NIQE(test_y_channel=False, crop_border=0, pretrained_model_path=str(model_path))

    def __call__(self, luma: np.ndarray) -> float:
        import torch

        with torch.no_grad():  # pyiqa multiplies 1-channel input by 255 and rounds
            return float(self.net(_luma_tensor(luma, 255.0)))


class PyiqaNRQM:
    """pyiqa ``NRQM`` (Ma et al. 2017) with the given ``NRQM_model.mat``; luma (H, W) 0-255."""

    def __init__(self, model_path: str | Path) -> None:
        from pyiqa.archs.nrqm_arch import NRQM

        self.net = NRQM(test_y_channel=False, crop_border=0, pretrained_model_path=str(model_path))

    def __call__(self, luma: np.ndarray) -> float:
        import torch

        with torch.no_grad():  # 1-channel input is used as is: 0-255 values
            return float(self.net(_luma_tensor(luma, 1.0)))
