"""One figure style for the notebooks, the evaluation figures and the README.

Figures are for reading: text of at least :data:`MIN_FONT_PT` points, saved at
:data:`DEFAULT_DPI` (never below :data:`MIN_DPI`). Notebooks call :func:`apply_style` once and save
with a :class:`FigureWriter`; package code that builds a ``matplotlib.figure.Figure`` itself uses
:func:`style` and :func:`save_figure`::

    from bsrgan.plotting import FigureWriter, apply_style

    apply_style()
    save = FigureWriter(OUTPUT_DIR)
    fig, ax = plt.subplots()
    ...
    save(fig, "training_curves")      # OUTPUT_DIR/training_curves.png, 120 dpi, shown in Jupyter
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MIN_DPI = 110
DEFAULT_DPI = 120
MIN_FONT_PT = 9

#: matplotlib settings of every figure: legible text, no chart junk.
RC: dict[str, Any] = {
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": MIN_FONT_PT,
    "ytick.labelsize": MIN_FONT_PT,
    "legend.fontsize": MIN_FONT_PT,
    "figure.titlesize": 11,
    "figure.dpi": DEFAULT_DPI,
    "savefig.dpi": DEFAULT_DPI,
    "savefig.bbox": "tight",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "image.interpolation": "nearest",
}


def apply_style() -> None:
    """Set :data:`RC` globally (for notebooks, where every figure should follow it)."""
    import matplotlib

    matplotlib.rcParams.update(RC)


@contextlib.contextmanager
def style() -> Iterator[None]:
    """:data:`RC` for the figures built inside the block only (for package code)."""
    import matplotlib

    with matplotlib.rc_context(RC):
        yield


def save_figure(fig: Any, path: str | os.PathLike[str], *, dpi: int = DEFAULT_DPI) -> Path:
    """Write ``fig`` to ``path`` atomically (format from the suffix) at ``dpi`` >= :data:`MIN_DPI`.

    The PNG records its dpi, so readers and tests can check it. An opaque PNG is stored as RGB
    (matplotlib writes RGBA) with zlib's best compression: the same pixels, about 12 % smaller
    for the photo-filled comparison figures (measured: 1,213 -> 1,056 KB, 845 -> 739 KB).
    """
    if dpi < MIN_DPI:
        raise ValueError(f"save_figure: dpi must be at least {MIN_DPI} (legible figures), got {dpi}")
    from bsrgan.utils.atomic import atomic_path

    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=fmt)
        if fmt == "png":
            _drop_opaque_alpha(Path(tmp))
    return path


def _drop_opaque_alpha(png: Path) -> None:
    """Rewrite an RGBA PNG whose alpha is 255 everywhere as an optimised RGB PNG (same dpi)."""
    from PIL import Image

    with Image.open(png) as img:
        img.load()
    if img.mode != "RGBA" or img.getchannel("A").getextrema() != (255, 255):
        return
    img.convert("RGB").save(png, format="PNG", optimize=True, dpi=img.info.get("dpi", (72, 72)))


class FigureWriter:
    """``writer(fig, name)`` saves ``<folder>/<name>.png`` with :func:`save_figure` and shows it.

    Args:
        folder: where figures go (created when missing).
        dpi: resolution of the saved files (>= :data:`MIN_DPI`).
        show: display the figure after saving (``plt.show()``; inline in Jupyter and papermill).
            The figure is closed afterwards either way.
    """

    def __init__(self, folder: str | os.PathLike[str], *, dpi: int = DEFAULT_DPI,
                 show: bool = True) -> None:
        if dpi < MIN_DPI:
            raise ValueError(f"FigureWriter: dpi must be at least {MIN_DPI}, got {dpi}")
        self.folder, self.dpi, self.show = Path(folder), dpi, show
        self.saved: list[Path] = []

    def __call__(self, fig: Any, name: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = save_figure(fig, self.folder / f"{name}.png", dpi=self.dpi)
        self.saved.append(path)
        import matplotlib.pyplot as plt

        if self.show:
            plt.show()
        plt.close(fig)  # shown (inline) or not: free it; a notebook may draw dozens
        return path

    def markdown(self, title: str | None = None) -> str:
        """Markdown that embeds every figure saved so far (paths relative to ``folder``)."""
        lines = [f"## {title}", ""] if title else []
        for path in self.saved:
            lines += [f"![{path.stem}]({path.name})", ""]
        return "\n".join(lines)
