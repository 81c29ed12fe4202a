"""LPIPS (Zhang et al. 2018) with the VGG16 backbone, built from local files only.

- linear calibration layers: LPIPS v0.1 ``vgg.pth`` shipped inside the ``lpips`` pip package;
- backbone: torchvision ``vgg16().features`` ImageNet weights from the asset ``vgg16-features``
  (fp16 copy, converted to float32 here).

The AlexNet variant (LPIPS's default) needs torchvision's AlexNet weights, which have no copy in
the asset registry: it is reported as unavailable rather than downloaded.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .base import Metric, MetricInfo
from .errors import MetricUnavailable
from .inputs import ImageLike, as_rgb
from .model_files import model_file

__all__ = ["LPIPS_INFO", "VGG16_ASSET", "LPIPSMetric"]

LPIPS_INFO = MetricInfo("lpips", True, True, (0.0, 1.0), "LPIPS v0.1, VGG16 backbone; lower is better")
VGG16_ASSET = "vgg16-features"
# torchvision vgg16().features index -> LPIPS slice holding it (slices end after relu1_2 ... relu5_3)
_SLICE_ENDS = (4, 9, 16, 23, 30)


def _slice_key(key: str) -> str:
    """``features.16.weight`` -> ``slice4.16.weight`` (LPIPS keeps torchvision's indices)."""
    _, index, param = key.split(".")
    slice_no = next(n for n, end in enumerate(_SLICE_ENDS, start=1) if int(index) < end)
    return f"slice{slice_no}.{index}.{param}"


class LPIPSMetric(Metric):
    """``create("lpips")``: ``m(img, ref)`` on RGB images in [0, 1] (CPU, float32)."""

    def __init__(self, net: str = "vgg", backbone_path: str | Path | None = None, device: str = "cpu") -> None:
        if net != "vgg":
            raise MetricUnavailable(
                "lpips", f"net={net!r} needs {net} ImageNet weights, which have no offline copy in the "
                "asset registry; use net='vgg' (backbone from `bsrgan fetch vgg16-features`)")
        try:
            import lpips
        except ImportError as err:
            raise MetricUnavailable("lpips", "the `lpips` package (linear layers) is not installed: "
                                    "pip install lpips") from err
        import torch

        path = model_file("lpips", VGG16_ASSET, backbone_path)
        super().__init__(LPIPS_INFO, net=net, version="0.1", backbone_path=str(path))
        with warnings.catch_warnings():  # torchvision's deprecation notice for `pretrained=`
            warnings.simplefilter("ignore", UserWarning)
            model = lpips.LPIPS(net="vgg", version="0.1", pnet_rand=True, verbose=False)
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.net.load_state_dict({_slice_key(k): v.float() for k, v in state.items()}, strict=True)
        self.model = model.eval().to(device)
        self.device = device

    def score_pair(self, img: ImageLike, ref: ImageLike) -> float:
        import torch

        a, b = as_rgb(img), as_rgb(ref)
        if a.shape != b.shape:
            raise ValueError(f"image and reference shapes differ: {a.shape} vs {b.shape}")

        def to_tensor(x: np.ndarray) -> torch.Tensor:  # (H, W, 3) [0, 1] -> (1, 3, H, W) [-1, 1]
            return torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None].to(self.device) * 2 - 1

        with torch.no_grad():
            return float(self.model(to_tensor(a), to_tensor(b)))
