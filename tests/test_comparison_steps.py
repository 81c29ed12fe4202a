"""The comparison steps of notebooks 04/05 (bsrgan.evaluation.comparison): labels, several
datasets in one call, reuse of an earlier run's rows, and our outputs beside published ones."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from nearest_model import save_nearest_model

from bsrgan.evaluation import load_dataset
from bsrgan.evaluation.comparison import (
    colour_shifts,
    compare_methods,
    dataset_title,
    method_label,
    ours_vs_published,
)
from bsrgan.evaluation.plan import plan_comparison
from bsrgan.io import imread, imwrite


def test_method_labels_and_dataset_titles():
    assert method_label("published:bsrgan") == "BSRGAN_published"
    assert method_label("published:realsr_jpeg") == "RealSR_JPEG_published"
    assert method_label("model:RealSR_JPEG_x4_fp16") == "RealSR_JPEG_standin"
    assert method_label("model:BSRGAN") == "BSRGAN"
    assert method_label("bicubic") == "bicubic"
    assert "the authors' images" in dataset_title("dped-readme")
    assert "our crops" in dataset_title("dped-iphone")
    assert dataset_title("mine") == "mine: a folder of LR images"


@pytest.fixture
def chip_only(asset_env):
    return {"realsrset": load_dataset("realsrset").subset(["chip"]),
            "dped-readme": load_dataset("dped-readme").subset(["00080"])}


def test_several_datasets_then_reuse_in_a_later_run(chip_only, tmp_path: Path):
    first = compare_methods(
        chip_only, {"realsrset": {"bicubic": "bicubic", "BSRGAN_published": "published:bsrgan"},
                    "dped-readme": {"BSRGAN_published": "published:bsrgan"}},
        "niqe", tmp_path / "04_eval", protocol="paper", workers=1)
    scores = first.scores()
    assert scores[["dataset", "method", "n"]].values.tolist() == [
        ["realsrset", "bicubic", 1], ["realsrset", "BSRGAN_published", 1],
        ["dped-readme", "BSRGAN_published", 1]]
    assert scores["inputs"].iloc[-1] == dataset_title("dped-readme")
    assert first.reused == 0 and "### DPED, the authors' images" in first.markdown()
    for name in chip_only:  # nothing reused: the ordinary evaluation layout
        assert (tmp_path / "04_eval" / name / "provenance.json").is_file()

    # a later run on more images, one more method: only what is new is evaluated
    later_ds = {"realsrset": load_dataset("realsrset").subset(["chip", "comic1"])}
    mine = tmp_path / "mine"
    mine.mkdir()
    shutil.copy(Path(first.runs["realsrset"].outputs["BSRGAN_published"]["chip"]),
                mine / "chip.png")
    methods = {"realsrset": {"bicubic": "bicubic", "BSRGAN_published": "published:bsrgan",
                             "BSRGAN": f"dir:{mine}"}}
    later = compare_methods(later_ds, methods, "niqe", tmp_path / "05", protocol="paper",
                            reuse=tmp_path / "04_eval", workers=1)
    rows = later.runs["realsrset"].per_image.set_index(["method", "image"])
    assert later.reused == 2  # bicubic and BSRGAN_published on chip
    assert rows.loc[("bicubic", "chip"), "reused_from"] == "04_eval"
    assert rows.loc[("bicubic", "comic1"), "reused_from"] == ""
    before = first.runs["realsrset"].per_image.set_index(["method", "image"])
    # as per_image.csv holds it: 8 significant digits
    assert rows.loc[("bicubic", "chip"), "niqe"] == pytest.approx(
        before.loc[("bicubic", "chip"), "niqe"], rel=1e-7)
    assert rows.loc[("BSRGAN", "comic1"), "status"] == "missing"
    assert list(rows.index.get_level_values(0).unique()) == ["bicubic", "BSRGAN_published", "BSRGAN"]
    evaluated = pd.concat(pd.read_csv(p, dtype={"image": str}) for p in
                          (tmp_path / "05" / "realsrset" / "evaluated").glob("*/per_image.csv"))
    assert ("chip" not in set(evaluated[evaluated.method == "bicubic"].image))  # not recomputed
    assert "2 of 6 rows reused from the earlier run `04_eval`" in later.runs["realsrset"].markdown
    written = pd.read_csv(tmp_path / "05" / "realsrset" / "per_image.csv", dtype={"image": str})
    assert len(written) == 6 and set(written.reused_from.fillna("")) == {"", "04_eval"}
    # the reused rows' SR files are found again: the figure and the output comparison use them
    run = later.runs["realsrset"]
    assert Path(run.outputs["bicubic"]["chip"]).is_file()
    assert run.figure(tmp_path / "fig.png", scale=0.5).stat().st_size > 10_000

    pairs = ours_vs_published(later)
    assert pairs[["image", "ours", "published"]].values.tolist() == [
        ["chip", "BSRGAN", "BSRGAN_published"]]
    assert pairs["psnr_rgb_db"].iloc[0] == np.inf and pairs["max_abs_diff_8bit"].iloc[0] == 0
    assert pairs["d_niqe"].iloc[0] == pytest.approx(0, abs=1e-6)  # one score reused (8 digits)

    # mean colour against bicubic's: the authors' BSRGAN keeps chip's colours within ~1.3/255
    shifts = colour_shifts(later).set_index(["method", "image"])["colour_shift"]
    assert shifts[("BSRGAN_published", "chip")] == pytest.approx(1.3, abs=0.05)
    assert shifts[("BSRGAN", "chip")] == shifts[("BSRGAN_published", "chip")]  # the same file
    assert ("BSRGAN", "comic1") not in shifts.index  # no output, no row
    assert set(shifts.index.get_level_values(0)) == {"BSRGAN_published", "BSRGAN"}


def test_rows_of_another_protocol_are_not_reused(chip_only, tmp_path: Path):
    ds = {"realsrset": chip_only["realsrset"]}
    compare_methods(ds, {"realsrset": {"bicubic": "bicubic"}}, "niqe", tmp_path / "a",
                    protocol="pirm", workers=1)
    again = compare_methods(ds, {"realsrset": {"bicubic": "bicubic"}}, "niqe", tmp_path / "b",
                            protocol="paper", reuse=tmp_path / "a", workers=1)
    assert again.reused == 0
    assert again.per_image["protocol"].iloc[0].startswith("paper (")
    # a folder without results for this dataset is simply not used
    none = compare_methods(ds, {"realsrset": {"bicubic": "bicubic"}}, "niqe", tmp_path / "c",
                           protocol="paper", reuse=tmp_path / "nothing-here", workers=1)
    assert none.reused == 0


def test_generated_rows_are_reused_only_for_the_same_image(chip_only, tmp_path: Path):
    """The SPEC names weights by file name: retrained weights under the same name, another
    tile or a ``dir:`` folder whose content may have changed are scored again, not reused."""
    ds = {"realsrset": chip_only["realsrset"]}
    weights = save_nearest_model(tmp_path / "run" / "G.pth")
    folder = tmp_path / "outputs"
    folder.mkdir()
    lr = imread(chip_only["realsrset"].images[0].source)
    imwrite(folder / "chip.png", np.repeat(np.repeat(lr, 4, 0), 4, 1))  # x4, scored by NIQE
    methods = {"realsrset": {"ours": f"model:{weights}", "mine": f"dir:{folder}"}}
    first = compare_methods(ds, methods, "niqe", tmp_path / "04", workers=1)
    niqe = first.per_image.set_index("method")["niqe"]
    assert set(first.per_image["status"]) == {"ok"}

    same = compare_methods(ds, methods, "niqe", tmp_path / "05a", reuse=tmp_path / "04",
                           workers=1)
    rows = same.per_image.set_index("method")
    assert rows.loc["ours", "reused_from"] == "04" and rows.loc["mine", "reused_from"] == ""
    # the reused row points at the earlier run's image, relative to this run's dataset folder
    assert rows.loc["ours", "sr_file"] == "../../04/realsrset/sr/ours/chip.png"
    assert (tmp_path / "05a" / "realsrset" / rows.loc["ours", "sr_file"]).is_file()

    tiled = compare_methods(ds, methods, "niqe", tmp_path / "05b", reuse=tmp_path / "04",
                            workers=1, tile=64)  # another tile: another image
    assert tiled.reused == 0

    save_nearest_model(weights, gain=0.5)  # retrained: same file name, other weights
    later = compare_methods(ds, methods, "niqe", tmp_path / "05c", reuse=tmp_path / "04",
                            workers=1)
    rows = later.per_image.set_index("method")
    assert later.reused == 0 and rows.loc["ours", "source"] == "generated"
    assert rows.loc["ours", "niqe"] != pytest.approx(niqe["ours"], abs=1e-3)


def test_plan_says_what_runs_on_which_dataset_and_why_not(asset_env):
    plan = plan_comparison(
        ["realsrset", "dped-readme", "dped-iphone", "no-such-set"], published=["bsrgan", "esrgan"],
        models=["BSRGAN", "RealSR_JPEG_x4_fp16"], trained={"ours_BSRNet": ""},
        metrics="niqe,nrqm", images={"realsrset": ["chip"]}, num_images=1, dped_crop=(96, 64))
    assert {n: ds.stems for n, ds in plan.datasets.items()} == {
        "realsrset": ["chip"], "dped-readme": ["00003"], "dped-iphone": ["00"]}
    assert plan.methods["realsrset"] == {
        "bicubic": "bicubic", "BSRGAN_published": "published:bsrgan",
        "ESRGAN_published": "published:esrgan", "RealSR_JPEG_standin": "model:RealSR_JPEG_x4_fp16"}
    assert list(plan.methods["dped-readme"]) == ["bicubic", "BSRGAN_published", "RealSR_JPEG_standin"]
    assert list(plan.methods["dped-iphone"]) == ["bicubic", "RealSR_JPEG_standin"]
    table = plan.table().set_index("item")
    assert table.loc["dataset no-such-set", "status"] == "unavailable"
    assert table.loc["published esrgan on dped-readme", "status"] == "not published"
    assert table.loc["published bsrgan on dped-iphone", "reason"] == (
        "the authors published no bsrgan outputs for dped-iphone")
    assert table.loc["weights BSRGAN", "status"] == "unavailable"  # offline in the tests
    assert "BSRGAN" in plan.not_evaluated and table.loc["weights BSRGAN", "reason"]
    assert table.loc["trained ours_BSRNet", "status"] == "not given"
    if "nrqm" in plan.metric_unavailable:  # no NRQM model file offline
        assert table.loc["metric nrqm", "status"] == "unavailable"
    assert table.loc["metric niqe", "status"] == "available"
    assert set(plan.skipped.index) < set(range(len(table)))
    assert plan.markdown().count("\n") == len(table) + 1


def test_plan_uses_a_stand_in_only_for_official_weights_it_cannot_fetch(asset_env):
    plan = plan_comparison(["realsrset"], official=["RealSR_JPEG", "FSSR_JPEG"],
                           stand_ins={"RealSR_JPEG": "RealSR_JPEG_x4_fp16"}, metrics="niqe",
                           images={"realsrset": ["chip"]})
    assert plan.methods["realsrset"] == {"bicubic": "bicubic",
                                         "RealSR_JPEG_standin": "model:RealSR_JPEG_x4_fp16"}
    table = plan.table().set_index("item")
    assert table.loc["weights RealSR_JPEG", "status"] == "stand-in"
    assert "stand-in RealSR_JPEG_x4_fp16: available" in table.loc["weights RealSR_JPEG", "reason"]
    assert table.loc["weights FSSR_JPEG", "status"] == "unavailable"
    assert set(plan.not_evaluated) == {"RealSR_JPEG", "FSSR_JPEG"}
