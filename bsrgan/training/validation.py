"""Validation on a fixed synthetic set: HR centre crops degraded once with fixed seeds.

The set is built at the start of a run and cached in ``<run>/validation/set.npz`` (with a JSON
description of how it was made), so every evaluation of a run, resumed or not, scores the same
LR/HR pairs. Scores: PSNR/SSIM on the BT.601 Y channel with ``crop_border = scale``, for the
model and for bicubic upsampling (the reference line a trained model must beat), and the
mean-colour shift (:func:`bsrgan.metrics.colour_shift`): a network without a global skip, such
as RRDBNet, has to learn to pass colours through, and a short or unstable run shows up here
before it shows up in PSNR.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from bsrgan.utils.atomic import atomic_path, atomic_write_text


@dataclass
class ValidationSet:
    """Fixed LR/HR pairs. lq: (N, h, w, 3), hq: (N, h*scale, w*scale, 3), float32 in [0, 1]."""

    names: list[str]
    lq: np.ndarray
    hq: np.ndarray
    scale: int

    def __len__(self) -> int:
        return len(self.names)


def build_validation_set(
    source, *, num_images: int, hr_size: int, scale: int, degradation: str = "bsrgan",
    isp: bool = True, seed: int = 2021,
) -> ValidationSet:
    """Centre-crop up to ``num_images`` HR images to ``hr_size`` and degrade each once.

    ``source``: folder, ``{name: image}`` mapping or None (embedded images). Image ``i`` is
    degraded with ``default_rng(SeedSequence([seed, i]))``; images smaller than ``hr_size``
    are skipped.
    """
    from bsrgan.training.dataset import _collect, degradation_fn, uint8_to_float

    names, items, _, _ = _collect(source, hr_size)
    if not names:
        raise ValueError(f"no validation image is at least {hr_size}x{hr_size}")
    degrade = degradation_fn(degradation)
    lqs, hqs, kept = [], [], []
    for i, (name, item) in enumerate(list(zip(names, items))[:num_images]):
        if isinstance(item, np.ndarray):  # in-memory images are held as uint8
            item = uint8_to_float(item)
        else:
            from bsrgan.io import imread

            item = imread(item)
        hr = center_crop(item, hr_size)
        rng = np.random.default_rng(np.random.SeedSequence([seed, i]))
        lq, hq, _ = degrade(hr, sf=scale, lq_patchsize=hr_size // scale, rng=rng, isp=isp)
        lqs.append(np.asarray(lq, dtype=np.float32))
        hqs.append(np.asarray(hq, dtype=np.float32))
        kept.append(name)
    return ValidationSet(kept, np.stack(lqs), np.stack(hqs), scale)


def cached_validation_set(cache_dir: Path, source, **kwargs) -> ValidationSet:
    """:func:`build_validation_set`, stored in ``cache_dir`` and reused while its recipe matches."""
    cache_dir = Path(cache_dir)
    recipe = {"source": _source_key(source), **kwargs}
    npz, meta = cache_dir / "set.npz", cache_dir / "set.json"
    if npz.is_file() and meta.is_file():
        try:
            if json.loads(meta.read_text(encoding="utf-8")).get("recipe") == recipe:
                with np.load(npz) as data:
                    return ValidationSet([str(n) for n in data["names"]], data["lq"], data["hq"],
                                         int(data["scale"]))
        except (OSError, ValueError, KeyError):
            pass  # unreadable cache: rebuild below
    vset = build_validation_set(source, **kwargs)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(npz) as tmp:
        np.savez(tmp, names=np.array(vset.names), lq=vset.lq, hq=vset.hq, scale=vset.scale)
    atomic_write_text(meta, json.dumps({"recipe": recipe, "names": vset.names}, indent=2))
    return vset


def center_crop(img: np.ndarray, size: int) -> np.ndarray:
    """The central ``size`` x ``size`` window of img (H, W, C)."""
    h, w = img.shape[:2]
    top, left = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(img[top:top + size, left:left + size])


def bicubic_upscale(lq: np.ndarray, scale: int) -> np.ndarray:
    """OpenCV bicubic upsampling, clipped to [0, 1]. lq: (h, w, 3) -> (h*scale, w*scale, 3)."""
    h, w = lq.shape[:2]
    up = cv2.resize(lq, (w * scale, h * scale), interpolation=cv2.INTER_CUBIC)
    return np.clip(up, 0.0, 1.0)


@torch.no_grad()
def super_resolve(model: nn.Module, lq: np.ndarray, *, device: torch.device,
                  batch_size: int = 4) -> np.ndarray:
    """Run ``model`` in fp32 on a stack of LR images. lq: (N, h, w, 3) -> (N, H, W, 3) in [0, 1].

    Always fp32, even for a bf16 training run: bf16 outputs would cap the measurable PSNR.
    """
    was_training = model.training
    model.eval()
    out = []
    try:
        for start in range(0, len(lq), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(lq[start:start + batch_size]))
            x = x.permute(0, 3, 1, 2).to(device)
            y = model(x)
            out.append(y.float().clamp_(0, 1).permute(0, 2, 3, 1).cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(out)


def evaluate(model: nn.Module, vset: ValidationSet, *,
             device: torch.device) -> tuple[dict[str, float], np.ndarray]:
    """Mean scores of the model and of bicubic over the set; returns (scores, SR).

    Scores: ``psnr``/``ssim`` (Y, crop_border=scale), ``colour_shift``
    (:func:`bsrgan.metrics.colour_shift` of SR vs HR, 0-255 levels), each also for bicubic
    upsampling (``*_bicubic``).
    """
    from bsrgan.metrics import colour_shift, psnr, ssim

    sr = super_resolve(model, vset.lq, device=device)
    border = vset.scale
    scores: dict[str, list[float]] = {"psnr": [], "ssim": [], "psnr_bicubic": [],
                                      "ssim_bicubic": [], "colour_shift": [],
                                      "colour_shift_bicubic": []}
    for lq, out, hq in zip(vset.lq, sr, vset.hq):
        bic = bicubic_upscale(lq, vset.scale)
        scores["psnr"].append(psnr(out, hq, crop_border=border, y_channel=True))
        scores["ssim"].append(ssim(out, hq, crop_border=border, y_channel=True))
        scores["psnr_bicubic"].append(psnr(bic, hq, crop_border=border, y_channel=True))
        scores["ssim_bicubic"].append(ssim(bic, hq, crop_border=border, y_channel=True))
        scores["colour_shift"].append(colour_shift(out, hq))
        scores["colour_shift_bicubic"].append(colour_shift(bic, hq))
    return {k: float(np.mean(v)) for k, v in scores.items()}, sr


def comparison_grid(vset: ValidationSet, sr: np.ndarray, count: int, gap: int = 4) -> np.ndarray:
    """Rows of [LR (nearest, enlarged) | SR | HR] for the first ``count`` images; (H, W, 3) float."""
    rows = []
    for lq, out, hq in list(zip(vset.lq, sr, vset.hq))[:count]:
        big = np.repeat(np.repeat(lq, vset.scale, axis=0), vset.scale, axis=1)
        pad = np.ones((hq.shape[0], gap, 3), dtype=np.float32)
        rows.append(np.concatenate([big, pad, out, pad, hq], axis=1))
    sep = np.ones((gap, rows[0].shape[1], 3), dtype=np.float32)
    parts = []
    for row in rows:
        parts.extend([row, sep])
    return np.clip(np.concatenate(parts[:-1], axis=0), 0.0, 1.0)


def _source_key(source) -> str:
    if source is None:
        return "embedded"
    if isinstance(source, dict):
        return "mapping:" + ",".join(sorted(source))
    return str(Path(source).resolve())
