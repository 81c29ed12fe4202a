"""The comparison figure (bsrgan.evaluation.figure): legible text, SR crops pixel for pixel at
scale 1, a smaller copy at scale 0.5, and drawing it again from an EvaluationResult."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bsrgan.evaluation import evaluate
from bsrgan.evaluation import figure as figure_module
from bsrgan.io import imwrite
from bsrgan.plotting import MIN_DPI, MIN_FONT_PT


@pytest.fixture
def drawn(monkeypatch):
    """Keep the matplotlib Figure that comparison_figure saves, to inspect its layout."""
    from bsrgan import plotting

    figures = []
    original = plotting.save_figure

    def keep(fig, path, **kw):
        figures.append(fig)
        return original(fig, path, **kw)

    monkeypatch.setattr(plotting, "save_figure", keep)
    return figures


def _inputs(tmp_path: Path, methods=("bicubic", "RealSR_JPEG_standin")):
    rng = np.random.default_rng(0)
    lr = {}
    sr: dict[str, dict[str, Path]] = {m: {} for m in methods}
    rows = []
    for stem in ("a", "b"):
        img = rng.uniform(0, 1, (80, 120, 3)).astype(np.float32)
        lr[stem] = imwrite(tmp_path / f"{stem}.png", img)
        for m in methods:
            big = np.kron(img, np.ones((4, 4, 1), np.float32))
            sr[m][stem] = imwrite(tmp_path / m / f"{stem}.png", big)
            rows.append({"method": m, "image": stem, "status": "ok", "niqe": 3.14159, "pi": np.nan})
    rows[-1]["status"] = "failed"
    return lr, sr, pd.DataFrame(rows), list(methods)


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_panels_are_pixel_for_pixel_and_text_is_legible(tmp_path, drawn, scale):
    lr, sr, per_image, methods = _inputs(tmp_path)
    path = figure_module.comparison_figure(tmp_path / "fig.png", lr, per_image, sr, methods,
                                           ("niqe", "pi"), crop=32, scale=scale)
    fig = drawn[-1]
    fig.canvas.draw()
    side = 32 * 4 * scale  # SR pixels of the 32-px LR window at x4, times scale
    for ax in fig.axes[1:4]:  # LR region and the two methods' crops of the first image
        box = ax.get_window_extent()
        assert box.width == pytest.approx(side, abs=1) and box.height == pytest.approx(side, abs=1)
    sizes = [t.get_fontsize() for t in fig.findobj(lambda o: hasattr(o, "get_fontsize"))
             if getattr(t, "get_text", lambda: "")()]
    assert sizes and min(sizes) >= MIN_FONT_PT
    # the panels show the same region: the LR window and its SR pixels (rows y..y+side at x4)
    from bsrgan.io import imread

    y, x, w = figure_module.detail_window(imread(lr["a"]), 32)
    assert (y, x) != (x, y)  # a window off the diagonal: swapped axes would show
    np.testing.assert_array_equal(fig.axes[1].get_images()[0].get_array(),
                                  imread(lr["a"])[y:y + w, x:x + w])
    np.testing.assert_array_equal(fig.axes[2].get_images()[0].get_array(),
                                  imread(sr["bicubic"]["a"])[4 * y:4 * (y + w), 4 * x:4 * (x + w)])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[3].replace("\n", "").startswith("RealSR_JPEG_standin")  # broken at "_" if narrow
    assert "NIQE 3.14" in titles[2] and "PI n/a" in titles[2]
    assert titles[-1].endswith("failed")  # the failed row says so
    with Image.open(path) as im:
        assert min(im.info["dpi"]) >= MIN_DPI - 0.5


def test_scale_is_checked(tmp_path):
    lr, sr, per_image, methods = _inputs(tmp_path)
    with pytest.raises(ValueError, match="scale must be in"):
        figure_module.comparison_figure(tmp_path / "f.png", lr, per_image, sr, methods, ("niqe",),
                                        scale=0)


def test_result_draws_its_figure_again_smaller(tmp_path, asset_env):
    folder = tmp_path / "lr"
    rng = np.random.default_rng(1)
    for stem in ("x", "y"):
        imwrite(folder / f"{stem}.png", rng.uniform(0, 1, (40, 56, 3)).astype(np.float32))
    result = evaluate(folder, ["bicubic"], "niqe", tmp_path / "out", workers=1, progress=False)
    assert set(result.inputs) == {"x", "y"} and set(result.outputs["bicubic"]) == {"x", "y"}
    full = Image.open(result.paths["figure"]).size
    small = result.figure(tmp_path / "small.png", scale=0.5, images=["x"])
    with Image.open(small) as im:
        assert im.size[0] < full[0] and im.size[1] < full[1]
