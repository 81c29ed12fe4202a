"""Figures of what the GAN stage buys (notebook 03): the outputs side by side and the
perception-distortion plane (Blau and Michaeli, CVPR 2018)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bsrgan.plotting import style
from bsrgan.viz.common import show_image, subplots

_COLOURS = ("#7f7f7f", "#1f77b4", "#d62728", "#2ca02c", "#9467bd")
_PERCEPTION_LABELS = {"niqe": "NIQE (no reference)", "lpips": "LPIPS (VGG)"}


def plot_perception_distortion(per_image, summary, *, perception: Sequence[str] = ("niqe", "lpips")):
    """PSNR (distortion, better to the right) against each perceptual measure (better down).

    Small dots: single images; large markers: the means of each method.
    """
    import matplotlib.pyplot as plt

    panels = [m for m in perception if m in summary and summary[m].notna().any()]
    if not panels:
        raise ValueError("plot_perception_distortion: none of the perceptual metrics "
                         f"{list(perception)} was computed")
    methods = list(summary["method"])
    with style():
        fig, axes = plt.subplots(1, len(panels), figsize=(5.6 * len(panels), 4.3),
                                 squeeze=False, constrained_layout=True)
        for ax, metric in zip(axes[0], panels):
            for colour, method in zip(_COLOURS, methods):
                rows = per_image[per_image["method"] == method]
                ax.scatter(rows["psnr"], rows[metric], s=16, alpha=0.35, color=colour)
                mean = summary[summary["method"] == method].iloc[0]
                ax.scatter(mean["psnr"], mean[metric], s=120, color=colour, edgecolor="black",
                           label=f"{method}: {mean['psnr']:.2f} dB, {mean[metric]:.3g}", zorder=3)
            ax.set(xlabel="PSNR-Y (dB) → less distortion",
                   ylabel=f"{_PERCEPTION_LABELS.get(metric, metric)} ↓ better")
            ax.set_title(f"perception–distortion: PSNR vs {metric.upper()}")
            ax.legend(loc="best")
    return fig


def plot_method_outputs(vset, outputs: dict[str, np.ndarray], *, count: int = 3,
                        zoom: int | None = None):
    """Rows: validation images; columns: each method's output, then the HR. With ``zoom``, the
    central ``zoom`` x ``zoom`` HR-pixel window, so artefacts can be judged."""
    n = min(count, len(vset))
    columns = [*outputs, "HR"]
    with style():
        fig, axes = subplots(n, len(columns), panel=(3.2, 3.4))
        for i in range(n):
            images = [outputs[m][i] for m in outputs] + [vset.hq[i]]
            for ax, name, img in zip(axes[i], columns, images):
                if zoom:
                    h, w = img.shape[:2]
                    t, l = (h - zoom) // 2, (w - zoom) // 2
                    img = img[t:t + zoom, l:l + zoom]
                show_image(ax, img, f"{name} ({vset.names[i]})")
    return fig
