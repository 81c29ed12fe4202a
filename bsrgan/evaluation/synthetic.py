"""What the GAN stage buys, measured on synthetic pairs with a ground truth.

:func:`compare_on_validation` runs bicubic and any number of generators on a fixed validation
set (``bsrgan.training.validation.build_validation_set``) and scores every output with

- distortion: PSNR and SSIM on the BT.601 Y channel, ``crop_border = scale`` (as in training);
- perception: LPIPS (VGG, full reference, lower is better) and NIQE (no reference, PIRM
  protocol, lower is better);
- two artefact indicators: the mean-colour shift against the HR (worst channel, in 8-bit
  levels) and the high-frequency energy ratio (Laplacian energy of the output's luma over the
  HR's: above 1 means texture or noise the HR does not have, below 1 a smoother image).

A metric whose model files are missing (offline, no mirror) is listed in ``unavailable`` with
the reason instead of failing the comparison; a score undefined for one image (NIQE of a flat
output) is NaN and listed in ``undefined``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_METRICS: tuple[str, ...] = ("psnr", "ssim", "lpips", "niqe")


@dataclass
class StageComparison:
    """Scores of each method on each validation image.

    Attributes:
        per_image: one row per (method, image): every metric and indicator.
        summary: one row per method: the means (methods in the order given).
        outputs: method -> SR images (N, H, W, 3) float32 in [0, 1].
        unavailable: metric -> why it could not be computed here.
        undefined: scores that are undefined for one output (NaN in the tables), e.g. NIQE of
            a flat image, each as ``"method/image: reason"``.
    """

    per_image: Any
    summary: Any
    outputs: dict[str, np.ndarray]
    unavailable: dict[str, str] = field(default_factory=dict)
    undefined: list[str] = field(default_factory=list)


def high_frequency_ratio(sr: np.ndarray, hr: np.ndarray, border: int = 4) -> float:
    """Laplacian energy of ``sr``'s luma divided by ``hr``'s (``border`` pixels shaved)."""
    import cv2

    from bsrgan.metrics import rgb_to_y_bt601

    def energy(img: np.ndarray) -> float:
        y = np.asarray(rgb_to_y_bt601(img), dtype=np.float32)
        lap = cv2.Laplacian(y, cv2.CV_32F, ksize=3)
        if border:
            lap = lap[border:-border, border:-border]
        return float(np.mean(lap.astype(np.float64) ** 2))

    reference = energy(hr)
    return energy(sr) / reference if reference > 0 else float("nan")


def _perceptual_metrics(names: Sequence[str], unavailable: dict[str, str]) -> dict[str, Any]:
    """``create(name)`` for LPIPS / NIQE; a missing model file goes to ``unavailable``."""
    from bsrgan.metrics import MetricUnavailable, create

    metrics = {}
    for name in names:
        if name in ("lpips", "niqe"):
            try:
                metrics[name] = create(name)
            except MetricUnavailable as exc:
                unavailable[name] = str(exc).strip().splitlines()[0]
    return metrics


def compare_on_validation(models: Mapping[str, Any], vset, *,
                          metrics: Sequence[str] = DEFAULT_METRICS,
                          device: str = "cpu") -> StageComparison:
    """Score bicubic and generators on the same LR/HR pairs.

    Args:
        models: method label -> ``torch.nn.Module`` (an x``scale`` generator) or None for
            bicubic upsampling (OpenCV, as the trainer's reference line).
        vset: ``bsrgan.training.validation.ValidationSet``.
        metrics: any of :data:`DEFAULT_METRICS`.
    """
    import pandas as pd
    import torch

    from bsrgan.metrics import colour_shift, psnr, ssim
    from bsrgan.training.validation import bicubic_upscale, super_resolve

    unknown = sorted(set(metrics) - set(DEFAULT_METRICS))
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; choose from {list(DEFAULT_METRICS)}")
    unavailable: dict[str, str] = {}
    scorers = _perceptual_metrics(metrics, unavailable)
    outputs: dict[str, np.ndarray] = {}
    for label, model in models.items():
        if model is None:
            outputs[label] = np.stack([bicubic_upscale(lq, vset.scale) for lq in vset.lq])
        else:
            outputs[label] = super_resolve(model, vset.lq, device=torch.device(device))
    rows = []
    undefined: list[str] = []
    border = vset.scale
    for label, srs in outputs.items():
        for name, sr, hr in zip(vset.names, srs, vset.hq):
            row: dict[str, Any] = {"method": label, "image": name}
            if "psnr" in metrics:
                row["psnr"] = psnr(sr, hr, crop_border=border, y_channel=True)
            if "ssim" in metrics:
                row["ssim"] = ssim(sr, hr, crop_border=border, y_channel=True)
            if "lpips" in scorers:
                row["lpips"] = float(scorers["lpips"](sr, hr))
            if "niqe" in scorers:
                try:
                    row["niqe"] = float(scorers["niqe"](sr))
                except ValueError:  # e.g. a flat output: NIQE undefined; the row stays
                    row["niqe"] = float("nan")
                    undefined.append(f"NIQE of {label} on {name} (too few textured blocks)")
            row["colour_shift"] = colour_shift(sr, hr)
            row["hf_ratio"] = high_frequency_ratio(sr, hr, border)
            rows.append(row)
    per_image = pd.DataFrame(rows)
    summary = (per_image.drop(columns="image").groupby("method", sort=False).mean()
               .reset_index())
    for name in unavailable:
        summary[name] = np.nan
    return StageComparison(per_image=per_image, summary=summary, outputs=outputs,
                           unavailable=unavailable, undefined=undefined)


def comparison_notes(summary, *, start: str, gan: str) -> list[str]:
    """Sentences, from the measured means, on what the GAN stage changed relative to its start.

    Args:
        summary: :attr:`StageComparison.summary`.
        start, gan: the method labels of the starting generator (BSRNet) and the GAN result.
    """
    s = summary.set_index("method")
    if start not in s.index or gan not in s.index:
        raise KeyError(f"comparison_notes: {start!r} and {gan!r} must both be in the summary")
    a, b = s.loc[start], s.loc[gan]
    notes = [f"PSNR-Y {a.psnr:.2f} → {b.psnr:.2f} dB ({b.psnr - a.psnr:+.2f} dB): "
             + ("the GAN stage gave up fidelity, as expected of it." if b.psnr < a.psnr else
                "the GAN stage did not lower PSNR here (a very short or weak GAN stage).")]
    for metric, what in (("lpips", "LPIPS"), ("niqe", "NIQE")):
        if metric in s and np.isfinite(a[metric]) and np.isfinite(b[metric]):
            change = (b[metric] - a[metric]) / abs(a[metric]) if a[metric] else 0.0
            verdict = ("better by this measure (perceptually closer to the HR / to natural "
                       "images)." if change < -0.01 else
                       "worse by this measure in this run." if change > 0.01 else
                       "no change beyond 1 % in this run.")
            notes.append(f"{what} {a[metric]:.3f} → {b[metric]:.3f} (lower is better): {verdict}")
    notes.append(f"Mean-colour shift against the HR, worst channel: {a.colour_shift:.1f} "
                 f"({start}) → {b.colour_shift:.1f} ({gan}) levels of 255.")
    notes.append(f"High-frequency energy relative to the HR: {a.hf_ratio:.2g} ({start}) → "
                 f"{b.hf_ratio:.2g} ({gan}); above 1 means detail or noise the HR does not "
                 "have, below 1 a smoother image than the HR"
                 + (f" (bicubic: {s.loc['bicubic'].hf_ratio:.2g})." if "bicubic" in s.index
                    else "."))
    return notes
