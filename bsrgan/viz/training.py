"""Figures of the training notebooks (02, 03): data samples, curves, the validation grid."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bsrgan.plotting import style
from bsrgan.viz.common import show_image, subplots


def plot_training_pairs(samples: Sequence[dict]):
    """LR (top, nearest) and HR (bottom) of dataset samples (``BlindSRDataset`` items)."""
    with style():
        fig, axes = subplots(2, len(samples), panel=(2.4, 2.8))
        for j, s in enumerate(samples):
            lq = s["lq"].permute(1, 2, 0).numpy()
            hq = s["hq"].permute(1, 2, 0).numpy()
            show_image(axes[0, j], lq, f"LR {lq.shape[1]}×{lq.shape[0]}\n"
                                       f"epoch {s['epoch']}, #{s['index']}")
            show_image(axes[1, j], hq, f"HR {hq.shape[1]}×{hq.shape[0]}")
    return fig


def dataset_samples(dataset, count: int = 6) -> list[dict]:
    """The first ``count`` samples of a ``BlindSRDataset``: epoch 0, then epoch 1 when the
    dataset has fewer images (another crop and degradation of the same photo)."""
    n = len(dataset)
    return [dataset[(i // n, i % n)] for i in range(count)]


def _validation_panel(ax, history, model_label: str) -> None:
    ax.plot(history["step"], history["psnr"], "o-", label=model_label)
    ax.plot(history["step"], history["psnr_bicubic"], "--", color="gray", label="bicubic")
    ax.set(xlabel="iteration", ylabel="validation PSNR-Y (dB)")
    ax.legend()


def plot_stage1_curves(train_log, history):
    """Stage 1: the L1 loss (window means) and the validation PSNR against bicubic."""
    import matplotlib.pyplot as plt

    with style():
        fig, axes = plt.subplots(1, 2, figsize=(12, 3.9), constrained_layout=True)
        axes[0].plot(train_log["step"], train_log["l_pix"], label="L1 (window mean)")
        axes[0].set(xlabel="iteration", ylabel="training loss")
        axes[0].legend()
        _validation_panel(axes[1], history, "BSRNet (EMA weights)")
    return fig


def plot_stage2_curves(train_log, history):
    """Stage 2: the generator's loss terms, the discriminator's outputs, validation PSNR."""
    import matplotlib.pyplot as plt

    labels = {"l_pix": "L1", "l_colour": "low-pass colour", "l_percep": "perceptual",
              "l_gan": "adversarial (G)", "d_loss": "discriminator"}
    with style():
        fig, axes = plt.subplots(1, 3, figsize=(16, 3.9), constrained_layout=True)
        for key, label in labels.items():
            if key in train_log:
                axes[0].plot(train_log["step"], train_log[key], label=label)
        axes[0].set_yscale("log")
        axes[0].set(xlabel="iteration", ylabel="loss (window mean)")
        axes[0].legend()
        for key, label in (("d_real", "D(real HR)"), ("d_fake", "D(generated)")):
            if key in train_log:
                axes[1].plot(train_log["step"], train_log[key], label=label)
        axes[1].set(xlabel="iteration", ylabel="discriminator output")
        axes[1].legend()
        _validation_panel(axes[2], history, "BSRGAN (EMA weights)")
    return fig


def latest_validation_grid(run_dir: str | Path) -> Path | None:
    """The grid image the trainer wrote at its last validation (``samples/step_*.png``)."""
    grids = sorted(Path(run_dir, "samples").glob("step_*.png"))
    return grids[-1] if grids else None


def plot_validation_grid(grid: str | Path, model_label: str):
    """The trainer's LR (nearest) | SR | HR grid, one validation image per row."""
    import matplotlib.pyplot as plt

    from bsrgan.io import imread

    img = imread(grid)
    height, width = img.shape[:2]
    with style():
        scale = 1.0 / 110  # about one image pixel per screen pixel at the saved dpi
        fig, ax = plt.subplots(figsize=(max(6.0, width * scale), max(3.0, height * scale + 0.6)))
        show_image(ax, np.asarray(img), f"{Path(grid).stem}: LR (nearest) | {model_label} | HR")
    return fig
