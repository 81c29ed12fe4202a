"""The paper-style comparison figure: per image, the LR input with a marked region, that region
enlarged, and the same region of every method's SR output titled with its scores.

Region: a square LR window of ``crop`` pixels (default 64, i.e. 256 SR pixels at x4) chosen where
the LR image has the most detail (largest mean gradient magnitude over windows on a half-window
grid) — a deterministic, content-based choice, like the textured close-ups of the paper's figures.

Size: at ``scale=1`` every SR crop is drawn pixel for pixel (the figure is saved at
:data:`bsrgan.plotting.DEFAULT_DPI` and each panel is ``crop * sr_scale / dpi`` inches wide), so
artefacts can be judged; ``scale=0.5`` draws the same figure with the crops at half size (for a
copy small enough to commit). Text follows :mod:`bsrgan.plotting` (at least 9 pt) at any scale.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bsrgan.evaluation.tables import SCORED  # "partial": a metric failed, the image is fine
from bsrgan.io import imread

_FORMAT = {"niqe": "NIQE {:.2f}", "nrqm": "NRQM {:.2f}", "pi": "PI {:.2f}", "psnr": "PSNR {:.2f}",
           "ssim": "SSIM {:.3f}", "lpips": "LPIPS {:.3f}"}
DEFAULT_CROP = 64


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


def score_caption(row: pd.Series | None, metric_names: tuple[str, ...], sep: str = " | ") -> str:
    """``"NIQE 3.21 | PI n/a"`` from one per-image row (missing / failed rows say so)."""
    if row is None:
        return "no output"
    if row["status"] not in SCORED:
        return str(row["status"])
    parts = []
    for name in metric_names:
        value = row.get(name, np.nan)
        label = _FORMAT.get(name, name.upper() + " {:.3f}")
        parts.append(label.format(value) if not np.isnan(value) else f"{name.upper()} n/a")
    return sep.join(parts)


def _wrap(words: list[str], width: int, sep: str) -> list[str]:
    """Greedy: join ``words`` with ``sep`` into lines of at most ``width`` characters."""
    lines: list[str] = []
    for word in words:
        if lines and len(lines[-1]) + len(sep) + len(word) <= width:
            lines[-1] += sep + word
        else:
            lines.append(word)
    return lines


def _panel_title(method: str, row: pd.Series | None, metric_names: tuple[str, ...],
                 width: int) -> str:
    """Method name (broken at ``_`` when too long), then the scores, ``width`` characters a line."""
    name = _wrap([p + "_" for p in method.split("_")[:-1]] + [method.split("_")[-1]], width, "")
    scores = _wrap(score_caption(row, metric_names, sep="\n").split("\n"), width, "  ")
    return "\n".join(name + scores)


def _row(per_image: pd.DataFrame, method: str, stem: str) -> pd.Series | None:
    match = per_image[(per_image["method"] == method) & (per_image["image"] == stem)]
    return match.iloc[0] if len(match) else None


def _sr_crop(sr_file: Path | None, row: pd.Series | None, lr: np.ndarray, y: int, x: int,
             side: int) -> np.ndarray | None:
    """The SR pixels of the LR window (y, x, side), or None when there is no usable output."""
    if sr_file is None or row is None or row["status"] not in SCORED:
        return None
    try:
        sr = imread(sr_file)
    except ValueError:
        return None
    s = sr.shape[0] / lr.shape[0]
    panel = sr[round(y * s):round((y + side) * s), round(x * s):round((x + side) * s)]
    return panel if panel.size else None


def comparison_figure(path: Path, lr_paths: dict[str, Path], per_image: pd.DataFrame,
                      sr_paths: dict[str, dict[str, Path]], methods: list[str],
                      metric_names: tuple[str, ...], *, images: list[str] | None = None,
                      max_images: int = 4, crop: int = DEFAULT_CROP, sr_scale: int = 4,
                      scale: float = 1.0) -> Path:
    """Write the figure (PNG, or any format matplotlib knows from the suffix); returns ``path``.

    Args:
        lr_paths: image stem -> LR input file.
        per_image: the per-image table (columns method, image, status, metric names).
        sr_paths: method -> stem -> SR file (absent: no output for that image).
        images: stems to show (default: the first ``max_images`` readable inputs).
        crop: side of the compared LR window in pixels.
        sr_scale: the SR factor, which sizes the panels (``crop * sr_scale`` SR pixels).
        scale: 1 draws SR crops pixel for pixel; < 1 shrinks the images (not the text).
    """
    from matplotlib.figure import Figure  # no pyplot: no global figure state, any backend
    from matplotlib.patches import Rectangle

    from bsrgan.plotting import DEFAULT_DPI, save_figure, style

    if not 0 < scale <= 4:
        raise ValueError(f"comparison_figure: scale must be in (0, 4], got {scale}")
    stems = list(images) if images is not None else list(lr_paths)[:max_images]
    rows = []
    for stem in stems:
        try:
            rows.append((stem, imread(lr_paths[stem])))
        except (KeyError, ValueError):
            continue  # unreadable input: already reported in the tables
    if not rows:
        raise ValueError("no readable LR input to draw in the comparison figure")
    nrows, ncols = len(rows), 2 + len(methods)
    # every panel is exactly `panel` inches square: crop * sr_scale * scale pixels at DEFAULT_DPI
    panel = crop * sr_scale * scale / DEFAULT_DPI
    width_chars = max(8, int(panel * 72 / (0.62 * 9)))  # ~0.62 em per character at 9 pt
    titles = {(stem, m): _panel_title(m, _row(per_image, m, stem), metric_names, width_chars)
              for stem, _ in rows for m in methods}
    lines = max([t.count("\n") + 1 for t in titles.values()] + [2])
    title = lines * 1.3 * 9 / 72 + 0.08  # room for the title lines at 9 pt
    gap, margin = 0.06, 0.05
    width = 2 * margin + ncols * panel + (ncols - 1) * gap
    height = 2 * margin + nrows * (panel + title) + (nrows - 1) * gap
    with style():
        fig = Figure(figsize=(width, height))
        axes = fig.subplots(nrows, ncols, squeeze=False, gridspec_kw={
            "wspace": gap / panel, "hspace": (title + gap) / panel,
            "left": margin / width, "right": 1 - margin / width,
            "bottom": margin / height, "top": 1 - (margin + title) / height})
        for r, (stem, lr) in enumerate(rows):
            y, x, side = detail_window(lr, crop)
            ax = axes[r, 0]
            ax.imshow(lr)
            ax.add_patch(Rectangle((x - 0.5, y - 0.5), side, side, fill=False, edgecolor="red",
                                   lw=1.5))
            ax.set_title(f"{stem}\nLR input", fontsize=9)
            axes[r, 1].imshow(lr[y:y + side, x:x + side], interpolation="nearest")
            axes[r, 1].set_title(f"LR region\n{side} px", fontsize=9)
            for c, method in enumerate(methods, start=2):
                ax = axes[r, c]
                row = _row(per_image, method, stem)
                sr = _sr_crop(sr_paths.get(method, {}).get(stem), row, lr, y, x, side)
                if sr is None:  # same-sized blank, so the grid stays aligned
                    ax.imshow(np.full((side, side, 3), 0.85, np.float32))
                    ax.text(side / 2, side / 2, "no output", ha="center", va="center", fontsize=9)
                else:
                    # pixel-for-pixel at scale 1; antialiased when shrunk
                    ax.imshow(sr, interpolation="nearest" if scale >= 1 else "antialiased")
                ax.set_title(titles[(stem, method)], fontsize=9)
            for ax in axes[r]:
                ax.set_axis_off()  # images only: no ticks, no spines (titles stay)
        return save_figure(fig, Path(path), dpi=DEFAULT_DPI)
