"""Small drawing helpers shared by the figure modules."""
from __future__ import annotations

import numpy as np


def show_image(ax, img: np.ndarray, title: str = "", *, below: str = "") -> None:
    """Draw an RGB image (H, W, 3) in [0, 1] without axes; ``title`` above, ``below`` under it."""
    ax.imshow(np.clip(img, 0.0, 1.0), interpolation="nearest")
    if title:
        ax.set_title(title)
    if below:
        ax.text(0.5, -0.03, below, transform=ax.transAxes, ha="center", va="top")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def subplots(nrows: int, ncols: int, *, panel: tuple[float, float], squeeze: bool = False,
             **kwargs):
    """``plt.subplots`` sized from one panel's (width, height) in inches."""
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, figsize=(panel[0] * ncols, panel[1] * nrows),
                        squeeze=squeeze, **kwargs)
