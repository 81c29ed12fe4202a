"""Figures of the shuffled pipeline (notebook 01, sections 6-8): one sample step by step, where
the shuffle puts each step, a gallery of pairs, the distributions of the drawn parameters."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bsrgan.plotting import style
from bsrgan.viz.common import show_image, subplots


def plot_degradation_strip(steps: Sequence, *, per_row: int = 6):
    """One sample, step by step (:func:`bsrgan.degradation.explain.step_through`).

    Every panel has the same size, so an image that got smaller shows bigger pixels; under each
    panel: the op, its parameters, and the image size relative to the HR photo.
    """
    n = len(steps)
    rows = -(-n // per_row)
    with style():
        fig, axes = subplots(rows, per_row, panel=(2.45, 3.35))
        for ax in axes.ravel()[n:]:
            ax.set_axis_off()
        for i, (ax, step) in enumerate(zip(axes.ravel(), steps)):
            h, w = step.image.shape[:2]
            title = "HR input" if i == 0 else f"step {i}"
            below = step.label.split("\n", 1)
            text = "\n".join([*below, f"{w}×{h} px, {step.space}"]) if i else \
                f"{w}×{h} px, {step.space}"
            show_image(ax, step.image, title, below=text)
        fig.subplots_adjust(hspace=0.6, wspace=0.15)
    return fig


def plot_order_heatmap(measured, expected, *, n_orders: int):
    """Step x position frequencies of the shuffle: measured over ``n_orders`` draws next to the
    exact probabilities (:func:`bsrgan.degradation.statistics.expected_order_positions`)."""
    import matplotlib.pyplot as plt

    vmax = float(max(measured.values.max(), expected.values.max()))
    with style():
        fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.6), constrained_layout=True)
        for ax, table, title in ((axes[0], measured, f"measured over {n_orders:,} shuffles"),
                                 (axes[1], expected, "exact probability")):
            image = ax.imshow(table.values * 100, cmap="viridis", vmin=0, vmax=vmax * 100)
            for (r, c), value in np.ndenumerate(table.values * 100):
                ax.text(c, r, f"{value:.0f}", ha="center", va="center",
                        color="white" if value < vmax * 60 else "black")
            ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns])
            ax.set_yticks(range(table.shape[0]), list(table.index))
            ax.set_xlabel("position in the shuffled order")
            ax.set_title(title)
        axes[1].set_yticklabels([])
        fig.colorbar(image, ax=axes, label="% of samples", shrink=0.9)
    return fig


def plot_placement(table):
    """Stacked bars: how often each op acts before, between or after the two downsamplings
    (:func:`bsrgan.degradation.statistics.placement_table`), with the 1/3 marks."""
    import matplotlib.pyplot as plt

    from bsrgan.degradation.statistics import PLACEMENTS

    colours = ("#4c72b0", "#dd8452", "#55a868")
    with style():
        fig, ax = plt.subplots(figsize=(9.5, 3.2))
        left = np.zeros(len(table))
        labels = [f"{op} (n = {n:,})" for op, n in zip(table["op"], table["n"])]
        for name, colour in zip(PLACEMENTS, colours):
            values = table[name].to_numpy(dtype=float)
            ax.barh(labels, values, left=left, color=colour, label=name)
            for y, (x0, v) in enumerate(zip(left, values)):
                ax.text(x0 + v / 2, y, f"{v:.0%}", ha="center", va="center", color="white")
            left += values
        for x in (1 / 3, 2 / 3):
            ax.axvline(x, color="black", lw=0.8, ls="--")
        ax.set_xlim(0, 1)
        ax.invert_yaxis()
        ax.set_xlabel("fraction of the op's occurrences (dashed: 1/3 and 2/3)")
        ax.legend(ncol=3, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    return fig


def _op_list(trace: Sequence[dict[str, Any]]) -> str:
    from bsrgan.degradation.explain import OP_NAMES

    names = [OP_NAMES.get(e["op"], e["op"]).split(" (")[0] for e in trace
             if e["op"] not in ("modcrop", "crop")]
    if names and names[-1] == "JPEG":
        names[-1] = "JPEG (final)"
    return "\n".join(f"{i}. {name}" for i, name in enumerate(names, start=1))


def plot_gallery(pairs: Sequence[tuple[str, np.ndarray, np.ndarray, list]]):
    """LR (top) and HR (bottom) of each ``(name, lq, hq, trace)`` pair, its ops in order below."""
    with style():
        fig, axes = subplots(2, len(pairs), panel=(2.6, 3.2))
        for i, (name, lq, hq, trace) in enumerate(pairs):
            show_image(axes[0, i], lq, f"LR {lq.shape[1]}×{lq.shape[0]}\n({name})")
            show_image(axes[1, i], hq, f"HR {hq.shape[1]}×{hq.shape[0]}",
                       below=_op_list(trace))
    return fig


def plot_parameter_distributions(plans: Sequence[list[dict[str, Any]]]):
    """Histograms of three drawn parameters over many plans: isotropic blur width, JPEG
    quality, Gaussian noise level."""
    import matplotlib.pyplot as plt

    blurs = [e["params"] for p in plans for e in p if e["op"] == "blur"]
    qualities = [e["params"]["quality"] for p in plans for e in p if e["op"] == "jpeg"]
    levels = [e["params"]["sigma"] * 255 for p in plans for e in p
              if e["op"] == "gaussian_noise" and e["params"]["mode"] != "correlated"]
    anisotropic = np.mean([b["kind"] == "anisotropic" for b in blurs])
    with style():
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.4), constrained_layout=True)
        axes[0].hist([b["sigma"] for b in blurs if b["kind"] == "isotropic"], bins=30)
        axes[0].set(title=f"isotropic blur ({1 - anisotropic:.0%} of blurs)",
                    xlabel="σ (HR pixels)", ylabel="count")
        axes[1].hist(qualities, bins=np.arange(29.5, 96.5, 1))
        axes[1].set(title="JPEG (shuffled and final)", xlabel="quality", ylabel="count")
        axes[2].hist(levels, bins=np.arange(1.5, 26.5))
        axes[2].set(title="Gaussian noise (colour and gray modes)", xlabel="σ × 255",
                    ylabel="count")
    return fig


def plot_pipeline_variants(rows: Sequence[tuple[str, Sequence[np.ndarray], Sequence[int]]]):
    """One row per pipeline: ``(name, LR images, ops per image)``; same photos and seeds."""
    n = max(len(images) for _, images, _ in rows)
    with style():
        fig, axes = subplots(len(rows), n, panel=(2.8, 3.0))
        for r, (name, images, n_ops) in enumerate(rows):
            for c, (img, ops) in enumerate(zip(images, n_ops)):
                show_image(axes[r, c], img, f"{name}: {ops} ops")
    return fig
