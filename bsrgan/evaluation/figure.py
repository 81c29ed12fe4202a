"""The paper-style comparison figure: per image, the LR input with a marked region, that region
enlarged, and the same region of every method's SR output titled with its scores.

Region: a square LR window of ``crop`` pixels (default 48, i.e. 192 SR pixels at x4) chosen where
the LR image has the most detail (largest mean gradient magnitude over windows on a half-window
grid) — a deterministic, content-based choice, like the textured close-ups of the paper's figures.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bsrgan.io import imread
from bsrgan.plotting import MIN_FONT_PT, save_figure, style

_FORMAT = {"niqe": "NIQE {:.2f}", "nrqm": "NRQM {:.2f}", "pi": "PI {:.2f}", "psnr": "PSNR {:.2f}",
           "ssim": "SSIM {:.3f}", "lpips": "LPIPS {:.3f}"}


def detail_window(lr: np.ndarray, size: int) -> tuple[int, int, int]:
    """(y, x, side) of the ``size``-pixel LR window with the largest mean gradient magnitude."""
    h, w = lr.shape[:2]
    side = max(1, min(size, h, w))
    gray = lr[..., :3].mean(axis=2) if lr.ndim == 3 else lr
    gy, gx = np.gradient(gray.astype(np.float64))
    energy = np.hypot(gx, gy)
    integral = np.pad(energy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    step = max(1, side // 2)
    best, best_pos = -1.0, (0, 0)
    for y in sorted({*range(0, h - side + 1, step), h - side}):
        for x in sorted({*range(0, w - side + 1, step), w - side}):
            total = (integral[y + side, x + side] - integral[y, x + side]
                     - integral[y + side, x] + integral[y, x])
            if total > best:
                best, best_pos = total, (y, x)
    return best_pos[0], best_pos[1], side


def score_caption(row: pd.Series | None, metric_names: tuple[str, ...]) -> str:
    """``"NIQE 3.21 | PI n/a"`` from one per-image row (missing / failed rows say so)."""
    if row is None:
        return "no output"
    if row["status"] not in ("ok", "partial"):
        return str(row["status"])
    parts = []
    for name in metric_names:
        value = row.get(name, np.nan)
        label = _FORMAT.get(name, name.upper() + " {:.3f}")
        parts.append(label.format(value) if np.isfinite(value) else f"{name.upper()} n/a")
    return " | ".join(parts)


def comparison_figure(path: Path, lr_paths: dict[str, Path], per_image: pd.DataFrame,
                      sr_paths: dict[str, dict[str, Path]], methods: list[str],
                      metric_names: tuple[str, ...], *, images: list[str] | None = None,
                      max_images: int = 4, crop: int = 48, panel_inches: float = 2.8) -> Path:
    """Write the figure (PNG, or any format matplotlib knows from the suffix); returns ``path``.

    Drawn in :func:`bsrgan.plotting.style` (text >= 9 pt) and saved with
    :func:`bsrgan.plotting.save_figure` (120 dpi).

    Args:
        lr_paths: image stem -> LR input file.
        per_image: the per-image table (columns method, image, status, metric names).
        sr_paths: method -> stem -> SR file (absent: no output for that image).
        images: stems to show (default: the first ``max_images`` readable inputs).
    """
    with style():
        fig = _draw(lr_paths, per_image, sr_paths, methods, metric_names, images, max_images,
                    crop, panel_inches)
    return save_figure(fig, path)


def _draw(lr_paths, per_image, sr_paths, methods, metric_names, images, max_images, crop,
          panel_inches):
    """The comparison figure (a ``matplotlib.figure.Figure``, no pyplot state)."""
    from matplotlib.figure import Figure  # no pyplot: no global figure state, any backend
    from matplotlib.patches import Rectangle

    stems = list(images) if images is not None else list(lr_paths)[:max_images]
    rows = []
    for stem in stems:
        try:
            rows.append((stem, imread(lr_paths[stem])))
        except (KeyError, ValueError):
            continue  # unreadable input: already reported in the tables
    if not rows:
        raise ValueError("no readable LR input to draw in the comparison figure")
    ncols = 2 + len(methods)
    fig = Figure(figsize=(panel_inches * ncols, panel_inches * 1.25 * len(rows)))
    axes = fig.subplots(len(rows), ncols, squeeze=False)
    for r, (stem, lr) in enumerate(rows):
        y, x, side = detail_window(lr, crop)
        ax = axes[r, 0]
        ax.imshow(lr)
        ax.add_patch(Rectangle((x - 0.5, y - 0.5), side, side, fill=False, edgecolor="red", lw=1.2))
        ax.set_title(f"{stem} (LR)", fontsize=MIN_FONT_PT)
        axes[r, 1].imshow(lr[y:y + side, x:x + side], interpolation="nearest")
        axes[r, 1].set_title("LR crop (nearest)", fontsize=MIN_FONT_PT)
        for c, method in enumerate(methods, start=2):
            ax = axes[r, c]
            match = per_image[(per_image["method"] == method) & (per_image["image"] == stem)]
            row = match.iloc[0] if len(match) else None
            sr_file = sr_paths.get(method, {}).get(stem)
            panel = None
            if sr_file is not None and row is not None and row["status"] in ("ok", "partial"):
                try:
                    sr = imread(sr_file)
                    s = sr.shape[0] / lr.shape[0]
                    panel = sr[round(y * s):round((y + side) * s), round(x * s):round((x + side) * s)]
                except ValueError:
                    panel = None
            if panel is None or panel.size == 0:  # same-sized blank, so the grid stays aligned
                ax.imshow(np.full((side, side, 3), 0.85, np.float32))
                ax.text(side / 2, side / 2, "no output", ha="center", va="center",
                        fontsize=MIN_FONT_PT)
            else:
                ax.imshow(panel)
            ax.set_title(f"{method}\n{score_caption(row, metric_names)}", fontsize=MIN_FONT_PT)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig
