"""Perceptual validation during training: NIQE on real LR images, LPIPS on the synthetic set.

PSNR/SSIM on synthetic pairs reward the blur a GAN stage is meant to remove; snapshots of the GAN
stage are better told apart by

* **NIQE** (no reference, lower is better) of the EMA generator's output on a fixed subset of
  real low-resolution photos (``validation.niqe_set``, e.g. the ``realsrset`` asset: the first
  ``validation.niqe_images`` files in name order), PIRM protocol (BT.601 Y, 4 px shaved);
* **LPIPS** (VGG, lower is better) of the output against the HR of the synthetic validation set.

Bicubic upsampling is scored once with the same metrics as a fixed reference line
(``niqe_bicubic``, ``lpips_bicubic``). Everything runs in fp32; the metrics come from
:func:`bsrgan.metrics.create`, so their model files are the package's assets.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bsrgan.training.validation import ValidationSet, bicubic_upscale, super_resolve


@dataclass
class RealImageSet:
    """Real LR photos without ground truth. images: float32 (h, w, 3) in [0, 1], sizes differ."""

    names: list[str]
    images: list[np.ndarray] = field(repr=False)
    source: str = ""

    def __len__(self) -> int:
        return len(self.names)


def load_real_set(source: str, count: int) -> RealImageSet:
    """The first ``count`` images (file-name order) of a folder or of a dataset asset.

    ``source`` is a folder, or an asset name (fetched from the cache, a mirror or its URL).
    Raises ``FileNotFoundError`` / ``bsrgan.assets.AssetError`` naming the source when the
    images cannot be had, ``ValueError`` when the folder holds no image.
    """
    from bsrgan.io import imread, list_images

    folder = Path(source)
    if not folder.is_dir():
        from bsrgan.assets import fetch

        folder = Path(fetch(source, progress=False))
    paths = sorted(list_images(folder), key=lambda p: p.name)[:count]
    if not paths:
        raise ValueError(f"validation.niqe_set {source!r}: no image in {folder}")
    return RealImageSet([p.stem for p in paths], [imread(p) for p in paths], str(source))


class PerceptualScorer:
    """NIQE on real LR images and/or LPIPS on the synthetic set, for one model at a time.

    Args:
        real: real LR images to score with NIQE (None: no NIQE).
        lpips: score LPIPS on the synthetic validation set.
        scale: the model's scale factor (for the bicubic reference).
        device: where the model and LPIPS run.

    Building it loads the metric files, so a missing one fails here (at the start of a run),
    not at the first validation.
    """

    def __init__(self, real: RealImageSet | None, *, lpips: bool, scale: int,
                 device: torch.device) -> None:
        from bsrgan.metrics import create

        self.real, self.scale, self.device = real, scale, device
        self.niqe = create("niqe") if real is not None else None
        self.lpips = create("lpips", device=str(device)) if lpips else None
        self._bicubic: dict[str, float] = {}

    def score(self, model: nn.Module, vset: ValidationSet | None,
              sr: np.ndarray | None) -> tuple[dict[str, float], list[np.ndarray]]:
        """Scores of ``model`` (and the bicubic reference); returns (scores, real SR images).

        ``sr``: the model's outputs on ``vset`` (N, H, W, 3) in [0, 1], already computed for
        PSNR/SSIM. Keys: ``niqe``, ``niqe_bicubic`` (real set; mean over the images where NIQE is
        defined, ``niqe_undefined`` counts the others when there are any), ``lpips``,
        ``lpips_bicubic``.
        """
        scores: dict[str, float] = {}
        real_sr: list[np.ndarray] = []
        if self.niqe is not None:
            real_sr = [super_resolve(model, img[None], device=self.device)[0]
                       for img in self.real.images]
            values = [self._niqe(out) for out in real_sr]
            scores["niqe"] = _nanmean(values)
            undefined = sum(not np.isfinite(v) for v in values)
            if undefined:  # e.g. a flat output early in training: counted, never fatal
                scores["niqe_undefined"] = float(undefined)
            if "niqe_bicubic" not in self._bicubic:
                self._bicubic["niqe_bicubic"] = _nanmean(
                    [self._niqe(bicubic_upscale(img, self.scale)) for img in self.real.images])
            scores["niqe_bicubic"] = self._bicubic["niqe_bicubic"]
        if self.lpips is not None and vset is not None and sr is not None:
            scores["lpips"] = float(np.mean([self.lpips(out, hq) for out, hq in zip(sr, vset.hq)]))
            if "lpips_bicubic" not in self._bicubic:
                self._bicubic["lpips_bicubic"] = float(np.mean(
                    [self.lpips(bicubic_upscale(lq, vset.scale), hq)
                     for lq, hq in zip(vset.lq, vset.hq)]))
            scores["lpips_bicubic"] = self._bicubic["lpips_bicubic"]
        return scores, real_sr

    def _niqe(self, img: np.ndarray) -> float:
        """NIQE, or NaN where it is undefined (fewer than two textured blocks)."""
        try:
            return float(self.niqe(img))
        except ValueError:
            return float("nan")


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")
