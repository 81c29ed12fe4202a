"""The shared figure style: legible text, saved dpi recorded in the PNG, atomic writes."""
from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import pytest
from PIL import Image

from bsrgan.plotting import MIN_DPI, MIN_FONT_PT, RC, FigureWriter, save_figure, style


def test_style_text_is_at_least_the_minimum_size():
    sizes = [v for k, v in RC.items() if k.endswith(("size", "labelsize")) and "title" not in k]
    assert all(s >= MIN_FONT_PT for s in sizes)
    with style():
        assert matplotlib.rcParams["xtick.labelsize"] >= MIN_FONT_PT
        assert matplotlib.rcParams["savefig.dpi"] >= MIN_DPI


def test_save_figure_records_dpi_and_refuses_low_dpi(tmp_path):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    path = save_figure(fig, tmp_path / "sub" / "line.png")
    dpi = Image.open(path).info["dpi"]
    assert round(dpi[0]) >= MIN_DPI
    with pytest.raises(ValueError, match="dpi must be at least"):
        save_figure(fig, tmp_path / "low.png", dpi=72)
    assert not (tmp_path / "low.png").exists()
    plt.close(fig)


def test_figure_writer_lists_what_it_saved(tmp_path):
    save = FigureWriter(tmp_path, show=False)
    fig, _ = plt.subplots()
    save(fig, "a")
    save(fig, "b")
    assert [p.name for p in save.saved] == ["a.png", "b.png"]
    assert "![a](a.png)" in save.markdown("Figures")
    plt.close(fig)


def test_opaque_figures_are_stored_as_rgb_with_the_same_pixels(tmp_path):
    import numpy as np

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.imshow(np.random.default_rng(0).random((32, 32, 3)))
    rgba = tmp_path / "rgba.png"
    fig.savefig(rgba, dpi=MIN_DPI, bbox_inches="tight")  # matplotlib's own file
    path = save_figure(fig, tmp_path / "saved.png", dpi=MIN_DPI)
    saved, reference = Image.open(path), Image.open(rgba)
    assert reference.mode == "RGBA" and saved.mode == "RGB"
    assert np.array_equal(np.asarray(saved), np.asarray(reference)[..., :3])
    assert round(saved.info["dpi"][0]) == MIN_DPI
    assert path.stat().st_size < rgba.stat().st_size
    fig.patch.set_alpha(0.0)  # a figure with transparent pixels keeps its alpha
    assert Image.open(save_figure(fig, tmp_path / "clear.png")).mode == "RGBA"
    plt.close(fig)
