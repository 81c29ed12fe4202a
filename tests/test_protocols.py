"""Metric protocols (bsrgan.metrics.protocols): ``pirm``, ``paper``, ``live-rgb2gray`` and the
deprecated ``matlab`` alias, in the metrics, the evaluation plan and the CLI."""
from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pytest

from bsrgan.cli import main as cli_main
from bsrgan.metrics import create
from bsrgan.metrics.color import rgb_to_gray_matlab_uint8, rgb_to_y_bt601_uint8
from bsrgan.metrics.niqe import load_niqe_model, niqe_from_luma
from bsrgan.metrics.protocols import (
    PROTOCOLS,
    canonical_protocol,
    get_protocol,
    luma_for_protocol,
)


def _photo_like(rng: np.random.Generator, h: int = 160, w: int = 208) -> np.ndarray:
    """Smooth colour gradients + fine noise, float32 RGB in [0, 1]."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([0.5 + 0.3 * np.sin(5 * xx + c) * np.cos(3 * yy - c) for c in (0.0, 1.0, 2.0)], -1)
    return np.clip(base + 0.05 * rng.standard_normal((h, w, 3)), 0, 1).astype(np.float32)


def test_the_three_protocols_and_what_they_compute():
    assert {(p.name, p.luma, p.shave) for p in PROTOCOLS.values()} == {
        ("pirm", "ycbcr_y", 4), ("paper", "ycbcr_y", 0), ("live-rgb2gray", "gray", 0)}
    img = _photo_like(np.random.default_rng(0))
    y = rgb_to_y_bt601_uint8(img)
    np.testing.assert_array_equal(luma_for_protocol(img, get_protocol("paper")), y)
    np.testing.assert_array_equal(luma_for_protocol(img, get_protocol("pirm")), y[4:-4, 4:-4])
    np.testing.assert_array_equal(luma_for_protocol(img, get_protocol("live-rgb2gray")),
                                  rgb_to_gray_matlab_uint8(img))
    assert "not MATLAB's built-in niqe()" in get_protocol("live-rgb2gray").description


def test_paper_protocol_is_y_without_shave_for_niqe(asset_env: Path):
    img = _photo_like(np.random.default_rng(1))
    model = load_niqe_model()
    paper = create("niqe", protocol="paper")
    assert paper.settings["crop_border"] == 0
    assert paper(img) == pytest.approx(niqe_from_luma(rgb_to_y_bt601_uint8(img), model), rel=1e-12)
    # the border counts under `paper`, not under `pirm`
    scribbled = img.copy()
    scribbled[:4] = 0
    assert paper(scribbled) != pytest.approx(paper(img), rel=1e-6)
    assert create("niqe")(scribbled) == pytest.approx(create("niqe")(img), rel=1e-12)


def test_matlab_alias_warns_and_means_live_rgb2gray(asset_env: Path):
    with pytest.warns(FutureWarning, match="'matlab' is deprecated.*'live-rgb2gray'"):
        assert canonical_protocol("matlab") == "live-rgb2gray"
    with pytest.warns(FutureWarning, match="built-in niqe"):
        old = create("niqe", protocol="matlab")
    img = _photo_like(np.random.default_rng(2))
    assert old(img) == create("niqe", protocol="live-rgb2gray")(img)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # current names never warn
        for name in PROTOCOLS:
            assert canonical_protocol(name) == name
    with pytest.raises(ValueError, match="unknown protocol 'ntire'.*live-rgb2gray.*paper.*pirm"):
        get_protocol("ntire")


def test_live_rgb2gray_is_the_live_release_not_matlab_builtin_niqe(calibration_i03):
    """I03: the LIVE release code gives 15.75, MATLAB's built-in niqe() 7.20 (results_official.csv)."""
    img, official = calibration_i03
    ours = create("niqe", protocol="live-rgb2gray")(img)
    assert ours == pytest.approx(official["niqe"], rel=0.01)
    assert abs(ours - official["niqe_matlab"]) > 8


@pytest.fixture
def calibration_i03(asset_env: Path, shared_assets: Path):
    from bsrgan.io import imread

    folder = shared_assets / "metrics" / "calibration"
    with open(folder / "results_official.csv", newline="") as handle:
        rows = {row["Method"]: float(row["I03.bmp"]) for row in csv.DictReader(handle)}
    return imread(folder / "dist_dir" / "I03.bmp"), rows


def test_evaluation_plan_and_cli_use_the_current_name(asset_env: Path, tmp_path: Path, capsys):
    from bsrgan.evaluation import plan_metrics

    with pytest.warns(FutureWarning):
        plan = plan_metrics("niqe", protocol="matlab")
    assert plan.options["niqe"] == {"protocol": "live-rgb2gray"}
    assert plan_metrics("niqe", protocol="paper").options["niqe"] == {"protocol": "paper"}
    with pytest.raises(ValueError, match="unknown protocol"):
        plan_metrics("niqe", protocol="Paper")

    folder = tmp_path / "lr"
    folder.mkdir()
    from bsrgan.io import imwrite

    imwrite(folder / "a.png", _photo_like(np.random.default_rng(3), 48, 48))
    out = tmp_path / "out"
    with pytest.warns(FutureWarning):
        code = cli_main(["evaluate", "--dataset", str(folder), "--method", "bicubic",
                         "--metrics", "niqe", "--protocol", "matlab", "-o", str(out),
                         "--no-figure", "--no-progress", "--workers", "1"])
    assert code == 0
    assert "live-rgb2gray (LIVE NIQE release" in (out / "table.md").read_text()
    with pytest.raises(SystemExit):
        cli_main(["evaluate", "--dataset", str(folder), "--method", "bicubic",
                  "--protocol", "ntire", "-o", str(out)])
    assert "unknown protocol 'ntire'" in capsys.readouterr().err
