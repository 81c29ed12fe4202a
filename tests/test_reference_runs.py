"""The committed reference runs under ``results/`` (quickstart and CPU demo): legible figures,
summaries that embed existing files, portable records, and the numbers the README states.

Only files git tracks are read (a developer's own runs under ``results/`` are ignored), and
nothing is written.
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Wall-time budgets of the runs (issue 15): make run within 15 minutes, the CPU demo an hour.
BUDGET_S = {"quickstart": 15 * 60, "cpu_demo": 60 * 60}
#: Absolute paths of a machine (home folders, scratch, this project's build machines).
MACHINE_PATH = re.compile(r"(?<![\w.~<>-])/(?:home|work|tmp|root|Users|mnt|data|scratch)/")


def tracked(suffix: str = "") -> list[Path]:
    try:
        listing = subprocess.run(["git", "ls-files", "-z", "--", "results"], cwd=ROOT,
                                 capture_output=True, check=True).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the committed runs cannot be told from local ones")
    return [ROOT / name for name in listing.split("\0") if name and name.endswith(suffix)]


def run_folders() -> list[Path]:
    return sorted({path.parent for path in tracked("/run.json")})


def test_both_reference_runs_are_committed():
    names = [folder.parent.name for folder in run_folders()]
    assert sorted(names) == ["cpu_demo", "quickstart"]
    for folder in run_folders():
        run = json.loads((folder / "run.json").read_text())
        assert run["status"] == "ok" and run["git"]["dirty"] is False
        assert run["experiment_file"]["path"] == f"experiments/{folder.parent.name}.yaml"
        assert all(nb["status"] == "ok" for nb in run["notebooks"])
        assert run["seconds"] <= BUDGET_S[folder.parent.name]


def test_every_committed_figure_is_legible():
    from PIL import Image

    pngs = tracked(".png")
    assert len(pngs) >= 20
    for path in pngs:
        with Image.open(path) as image:
            dpi = min(image.info.get("dpi", (0, 0)))
            assert dpi >= 110, f"{path.relative_to(ROOT)}: {dpi:.0f} dpi"
            assert image.mode == "RGB" and min(image.size) >= 200, path.relative_to(ROOT)
        assert path.stat().st_size < 1_500_000, f"{path.relative_to(ROOT)} is too large to commit"


def test_summaries_embed_files_that_exist():
    summaries = tracked("summary.md")
    assert len(summaries) >= 9
    committed = set(tracked())
    for summary in summaries:
        for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", summary.read_text()):
            assert (summary.parent / target) in committed, f"{summary}: {target} not committed"


def test_no_machine_paths_in_committed_text():
    folders = run_folders()
    for path in tracked():
        in_a_run = any(path.is_relative_to(folder) for folder in folders)
        if in_a_run and path.suffix in (".md", ".json", ".csv", ".yaml"):
            found = MACHINE_PATH.search(path.read_text(encoding="utf-8"))
            assert found is None, f"{path.relative_to(ROOT)}: {found and found.group(0)}"


def test_the_cpu_demo_meets_the_conditions_the_readme_states():
    """On RealSRSet (the 5 images it evaluates) the demo BSRGAN has lower NIQE than bicubic and
    than the demo BSRNet, image by image, and no method is more than 6/255 from bicubic's mean
    colour on any image."""
    (folder,) = [f for f in run_folders() if f.parent.name == "cpu_demo"]
    evaluation = folder / "04_evaluate_realsrset_dped"
    per_image = pd.read_csv(evaluation / "realsrset" / "per_image.csv")
    niqe = per_image.pivot(index="image", columns="method", values="niqe")
    assert len(niqe) == 5
    assert (niqe["ours_BSRGAN"] < niqe["bicubic"]).all()
    assert (niqe["ours_BSRGAN"] < niqe["ours_BSRNet"]).all()
    assert niqe["ours_BSRGAN"].mean() == pytest.approx(5.49, abs=0.005)  # the README's number
    assert niqe["bicubic"].mean() == pytest.approx(8.27, abs=0.005)
    colour = pd.read_csv(evaluation / "colour_shift.csv")
    assert set(colour["dataset"]) == {"realsrset", "dped-readme", "dped-iphone"}
    assert colour["colour_shift"].max() <= 6.0
    run = json.loads((folder / "run.json").read_text())
    start = run["notebooks"][0]["parameters"]["INIT_WEIGHTS"]
    assert start == "RealSR_JPEG_x4_fp16"  # fine-tuned, as the README says
