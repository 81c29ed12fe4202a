"""The numbered notebooks and the experiment files.

Static checks (fast): one ``parameters`` cell, typed plain values with comments, committed
without outputs, a title, imports from the installed package. Execution: every notebook runs
through papermill with tiny parameters into tmp_path, and what it writes is checked.
"""
import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pytest

from bsrgan.runner import load_experiment, parse_override, plan_run, read_outputs

ROOT = Path(__file__).resolve().parents[1]
SHARED_ASSETS = ROOT.parent / "shared" / "assets"
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
EXPERIMENTS = [ROOT / "experiments" / f"{name}.yaml"
               for name in ("quickstart", "cpu_demo", "paper_x4", "paper_comparison")]
ALLOWED_TYPES = {"int", "float", "str", "bool", "list", "dict"}


def parameters_cell(nb) -> nbformat.NotebookNode:
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"expected exactly one cell tagged 'parameters', found {len(tagged)}"
    return tagged[0]


@pytest.fixture(scope="module", autouse=True)
def headless_matplotlib():
    old = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "Agg"
    yield
    if old is None:
        os.environ.pop("MPLBACKEND")
    else:
        os.environ["MPLBACKEND"] = old


def test_the_numbered_notebooks_exist():
    assert [p.stem[:2] for p in NOTEBOOKS] == [f"{i:02d}" for i in range(1, len(NOTEBOOKS) + 1)]
    assert len(NOTEBOOKS) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_structure(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "title first"
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for cell in code_cells:  # committed without outputs
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
        assert "sys.path" not in cell.source, "import the installed package, no path hacks"
    assert any("from bsrgan" in c.source or "import bsrgan" in c.source for c in code_cells)
    assert nb.cells[-1].cell_type == "code" and "summary" in nb.cells[-1].source.lower()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_is_typed_plain_and_documented(path):
    cell = parameters_cell(nbformat.read(path, as_version=4))
    tree = ast.parse(cell.source)
    names = []
    for node in tree.body:
        assert isinstance(node, ast.AnnAssign), f"not an annotated assignment: {ast.unparse(node)}"
        assert isinstance(node.target, ast.Name) and node.value is not None
        assert ast.unparse(node.annotation) in ALLOWED_TYPES, ast.unparse(node)
        ast.literal_eval(node.value)  # a plain value: nothing that does work
        names.append(node.target.id)
        assert node.target.id.isupper(), node.target.id
    lines = [line for line in cell.source.splitlines() if line.strip()]
    assert len(lines) == len(names), "one parameter per line"
    assert all("  # " in line for line in lines), "every parameter has a comment"
    assert "OUTPUT_DIR" in names
    declared = papermill.inspect_notebook(str(path))  # what `papermill --help-notebook` prints
    assert list(declared) == names
    assert all(info["help"] for info in declared.values())
    default = declared["OUTPUT_DIR"]["default"]
    nb = nbformat.read(path, as_version=4)
    if any("notebook_output_dir(OUTPUT_DIR" in c.source for c in nb.cells):
        assert default == '""', "run interactively, results go to results/lab/<notebook>/"
    else:
        assert default.strip('"').startswith("results/")


def test_papermill_help_notebook_lists_the_parameters():
    path = NOTEBOOKS[0]
    done = subprocess.run([sys.executable, "-m", "papermill", "--help-notebook", str(path)],
                          capture_output=True, text=True, timeout=120, check=True)
    for name in papermill.inspect_notebook(str(path)):
        assert name in done.stdout


def test_make_lab_sets_the_offline_mirror_like_make_run(tmp_path):
    """`make lab` exports BSRGAN_MIRRORS=../shared/assets when it exists and nothing is set."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    # a checkout next to a shared/assets folder; JupyterLab replaced by printing the variable
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    shutil.copy(ROOT / "Makefile", checkout / "Makefile")
    (tmp_path / "shared" / "assets").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "BSRGAN_MIRRORS"}
    show = ["STAMP=", "JUPYTER_LAB=printenv BSRGAN_MIRRORS; echo"]
    done = subprocess.run(["make", "-s", "lab", *show], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    assert str((tmp_path / "shared" / "assets").resolve()) in done.stdout.splitlines()
    done = subprocess.run(["make", "-s", "lab", *show], cwd=checkout,
                          env={**env, "BSRGAN_MIRRORS": "/elsewhere"},
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.splitlines()[0] == "/elsewhere"  # an explicit setting wins


# ----------------------------------------------------------------------------------- experiments

@pytest.mark.parametrize("path", [p for p in EXPERIMENTS if p.exists()], ids=lambda p: p.stem)
def test_experiment_files_match_the_notebooks(path):
    experiment = load_experiment(path)
    assert experiment.name == path.stem
    # every parameter declared by its notebook and well typed (required ones given a value)
    required = [parse_override(f"{name}={ROOT}") for name in experiment.required]  # a folder
    plan = plan_run(experiment, overrides=required)
    assert list(plan) == experiment.ids()
    for resolved in plan.values():
        assert "OUTPUT_DIR" in resolved.values


def test_quickstart_runs_on_cpu_offline():
    experiment = load_experiment(ROOT / "experiments" / "quickstart.yaml")
    assert [spec.stem for spec in experiment.notebooks] == [p.stem for p in NOTEBOOKS]
    for resolved in plan_run(experiment).values():
        if "DEVICE" in resolved.values:
            assert resolved.values["DEVICE"] == "cpu"
    # overrides are checked against the notebooks
    plan = plan_run(experiment, overrides=[parse_override("01.NUM_PAIRS=2")], only="01")
    assert plan["01"].values["NUM_PAIRS"] == 2


# ---------------------------------------------------------------------------------- execution

def execute(path: Path, tmp_path: Path, **parameters) -> Path:
    """Run ``path`` with papermill; returns its OUTPUT_DIR."""
    out = tmp_path / path.stem
    papermill.execute_notebook(str(path), str(tmp_path / path.name),
                               parameters={"OUTPUT_DIR": str(out), **parameters},
                               progress_bar=False, cwd=str(tmp_path))
    return out


def assert_figures_legible_and_summarised(out: Path, expected: set[str]) -> None:
    """Every PNG figure the notebook wrote is >= 110 dpi and embedded in its summary.md."""
    from PIL import Image

    from bsrgan.plotting import MIN_DPI

    figures = {p.stem: p for p in out.glob("*.png")}
    assert expected <= set(figures), sorted(expected - set(figures))
    summary = (out / "summary.md").read_text()
    for name, path in figures.items():
        with Image.open(path) as img:
            dpi = img.info.get("dpi")
        assert dpi is not None and round(dpi[0]) >= MIN_DPI, (name, dpi)
        assert f"![{name}]({name}.png)" in summary, name


@pytest.mark.slow
def test_01_degradation_model(tmp_path):
    out = execute(NOTEBOOK_DIR / "01_degradation_model.ipynb", tmp_path,
                  NUM_PAIRS=2, NUM_PLANS=400, SPEED_PAIRS=2)
    assert_figures_legible_and_summarised(out, {
        "hr_photos", "blur_kernels", "downsampling", "gaussian_noise", "jpeg",
        "camera_noise_steps", "camera_noise_levels", "degradation_steps", "shuffle_heatmap",
        "shuffle_placement", "pipeline_gallery", "op_distributions", "bsrgan_vs_plus"})
    stats = pd.read_csv(out / "op_statistics.csv")
    assert set(stats.op) >= {"blur", "jpeg", "camera_noise", "downsample2"}
    assert (stats.z.abs() < 5).all(), stats  # frequencies agree with the probabilities
    assert stats.set_index("op").loc["blur", "measured"] == 2.0
    trace = json.loads((out / "pair0_trace.json").read_text())
    assert trace[0]["op"] == "modcrop" and trace[-1]["op"] == "crop"
    summary = (out / "summary.md").read_text()
    assert "bit-identical: True" in summary
    assert "downsample-2 always before downsample-3" in summary
    record = json.loads((out / "record.json").read_text())
    assert record["metrics"]["replay_bit_identical"] is True
    assert record["metrics"]["order_max_abs_deviation"] < 0.1  # 400 draws: SE 0.018 per cell
    assert abs(sum(record["metrics"]["blur_before_between_after"]) - 1) < 1e-3
    assert record["datasets"]["HR photos"]["images"] == 5  # the embedded photos, hashed
    speed = pd.read_csv(out / "speed.csv")
    assert len(speed) == 4 and (speed["ms/pair"] > 0).all()


TINY_TRAINING = {"MODEL": "rrdbnet_tiny", "NUM_ITERS": 6, "BATCH_SIZE": 2, "LQ_PATCH": 16,
                 "HR_CROP": 80, "VAL_EVERY": 3, "VAL_IMAGES": 2, "VAL_HR_SIZE": 64, "DEVICE": "cpu",
                 "VAL_SET": "embedded"}


def copy_checkout(root: Path) -> Path:
    """The layout Jupyter sees: <root>/pyproject.toml and <root>/notebooks/*.ipynb."""
    (root / "notebooks").mkdir(parents=True)
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    for path in NOTEBOOKS:
        shutil.copy(path, root / "notebooks" / path.name)
    return root


def run_like_jupyter(checkout: Path, stem: str, executed: Path, **parameters) -> None:
    """Run a notebook as JupyterLab does: kernel in notebooks/, no OUTPUT_DIR injected."""
    assert "OUTPUT_DIR" not in parameters
    papermill.execute_notebook(str(checkout / "notebooks" / f"{stem}.ipynb"),
                               str(executed / f"{stem}.ipynb"), parameters=parameters,
                               progress_bar=False, cwd=str(checkout / "notebooks"))


@pytest.mark.slow
def test_02_then_03_run_in_jupyter_write_to_results_lab_and_hand_over_the_weights(
        tmp_path, monkeypatch):
    if (SHARED_ASSETS / "MANIFEST.tsv").is_file():  # real VGG16 features and NIQE parameters
        monkeypatch.setenv("BSRGAN_MIRRORS", str(SHARED_ASSETS))
    checkout = copy_checkout(tmp_path / "checkout")
    executed = tmp_path / "executed"
    executed.mkdir()
    lab = checkout / "results" / "lab"

    run_like_jupyter(checkout, "02_train_bsrnet", executed, **TINY_TRAINING)
    out2 = lab / "02_train_bsrnet"
    weights = Path(read_outputs(out2)["BSRNET_WEIGHTS"])
    assert weights.is_file() and weights.is_relative_to(out2)
    assert_figures_legible_and_summarised(out2, {"training_pairs", "training_curves",
                                                 "validation_grid"})
    history = pd.read_csv(out2 / "validation.csv")
    assert history["step"].tolist() == [0, 3, 6]
    assert (history["psnr_bicubic"] > 10).all()  # the reference line is a real PSNR
    summary = (out2 / "summary.md").read_text()
    assert "rrdbnet_tiny" in summary and "| bicubic" in summary
    record = json.loads((out2 / "record.json").read_text())
    assert record["configs"]["stage1"]["data"]["lq_patch"] == 16
    assert record["weights"]["BSRNet (EMA)"]["path"] == \
        "<project>/results/lab/02_train_bsrnet/run/weights/bsrnet_ema.pth"
    assert len(record["weights"]["BSRNet (EMA)"]["sha256"]) == 64

    # rerunning into the same folder continues the run with RESUME (and starts afresh without)
    run_like_jupyter(checkout, "02_train_bsrnet", executed, **{**TINY_TRAINING, "NUM_ITERS": 9},
                     RESUME=True)
    resumed = pd.read_csv(out2 / "validation.csv")
    assert resumed["step"].tolist() == [0, 3, 6, 9]
    assert resumed.iloc[:3].equals(history)  # the first 6 iterations were not redone

    # INIT_WEIGHTS fine-tunes from given weights (cpu_demo.yaml does, from a release): the run
    # starts exactly where those weights are, and the summary and record say so
    tuned = tmp_path / "fine-tuned"
    papermill.execute_notebook(str(checkout / "notebooks" / "02_train_bsrnet.ipynb"),
                               str(executed / "02_fine_tuned.ipynb"), progress_bar=False,
                               cwd=str(checkout / "notebooks"),
                               parameters={**TINY_TRAINING, "NUM_ITERS": 3,
                                           "INIT_WEIGHTS": str(weights), "OUTPUT_DIR": str(tuned)})
    tuned_history = pd.read_csv(tuned / "validation.csv")
    assert tuned_history.iloc[0]["psnr"] == pytest.approx(resumed.iloc[-1]["psnr"], abs=1e-3)
    assert "bsrnet_ema.pth, fine-tuned: not trained from scratch" in \
        (tuned / "summary.md").read_text()
    tuned_record = json.loads((tuned / "record.json").read_text())
    assert tuned_record["weights"]["initial weights"]["sha256"] == \
        json.loads((out2 / "record.json").read_text())["weights"]["BSRNet (EMA)"]["sha256"]
    assert "from scratch" in summary  # the first run: a random generator, as in the paper

    if not (SHARED_ASSETS / "MANIFEST.tsv").is_file():
        # no mirror, no VGG16 asset: 03 stops before training and names the missing weights
        # (a loss term is never dropped silently)
        with pytest.raises(papermill.PapermillExecutionError, match="(?i)vgg16"):
            run_like_jupyter(checkout, "03_train_bsrgan", executed, **TINY_TRAINING,
                             COMPARE_IMAGES=2, COMPARE_HR_SIZE=200)
        return
    # 03 with BSRNET_WEIGHTS left empty finds 02's weights in results/lab
    run_like_jupyter(checkout, "03_train_bsrgan", executed, **TINY_TRAINING,
                     COMPARE_IMAGES=2, COMPARE_HR_SIZE=200, COLOUR_WEIGHT=5.0)
    out3 = lab / "03_train_bsrgan"
    assert Path(read_outputs(out3)["BSRGAN_WEIGHTS"]).is_file()
    summary = (out3 / "summary.md").read_text()
    assert "from BSRNet weights results/lab/02_train_bsrnet/run/weights/bsrnet_ema.pth" in summary
    # the GAN stage starts from the BSRNet weights: identical validation at iteration 0
    gan_history = pd.read_csv(out3 / "validation.csv")
    assert gan_history.iloc[0]["psnr"] == pytest.approx(resumed.iloc[-1]["psnr"], abs=1e-3)
    table = pd.read_csv(out3 / "bsrnet_vs_bsrgan.csv")
    assert table["method"].tolist() == ["bicubic", "BSRNet (start)", "BSRGAN"]
    assert {"psnr", "ssim", "lpips", "niqe", "colour_shift", "hf_ratio"} <= set(table.columns)
    assert (table["psnr"] > 0).all()
    per_image = pd.read_csv(out3 / "stage_comparison_per_image.csv")
    assert len(per_image) == 3 * 2
    log = pd.read_csv(out3 / "run" / "train_log.csv")
    assert {"l_pix", "l_gan", "d_loss"} <= set(log.columns)
    assert "`patchgan_sn`" in summary and "## What this run shows" in summary
    figures = {"training_curves", "bsrnet_vs_bsrgan", "bsrnet_vs_bsrgan_zoom",
               "perception_distortion"}
    assert "l_percep" in log.columns and "VGG16" in summary  # the recorded deviation
    assert "l_colour" in log.columns and "low-pass colour loss x5" in summary  # the other one
    assert "deviation from the paper" in summary
    assert table.loc[0, "lpips"] > 0 and table.loc[0, "niqe"] > 0  # bicubic: defined
    assert_figures_legible_and_summarised(out3, figures)
    record = json.loads((out3 / "record.json").read_text())
    assert record["weights"]["start"]["sha256"] == \
        json.loads((out2 / "record.json").read_text())["weights"]["BSRNet (EMA)"]["sha256"]
    assert set(record["metrics"]["psnr"]) == {"bicubic", "BSRNet (start)", "BSRGAN"}
    # nothing was written next to the notebooks
    assert sorted(p.name for p in (checkout / "notebooks").iterdir()) == \
        sorted(p.name for p in NOTEBOOKS)


def _png_dpi(path: Path) -> float:
    from PIL import Image

    with Image.open(path) as im:
        return min(im.info.get("dpi", (0, 0)))


@pytest.mark.slow
def test_04_then_05_reuse_the_scores_and_set_the_paper_beside_ours(tmp_path, asset_env):
    """04 scores the three kinds of inputs and hands its folder to 05, which reuses its rows,
    puts the README figure's numbers beside ours and checks our inference against the
    published outputs."""
    out4 = execute(NOTEBOOK_DIR / "04_evaluate_realsrset_dped.ipynb", tmp_path,
                   DATASETS=["realsrset", "dped-readme", "dped-iphone"], REALSRSET_IMAGES=["chip"],
                   NUM_IMAGES=1, DPED_CROP=[96, 64], MODELS=["BSRGAN"], WORKERS=1, DEVICE="cpu")
    scores = pd.read_csv(out4 / "scores.csv")
    assert set(scores.dataset) == {"realsrset", "dped-readme", "dped-iphone"}
    by = scores.set_index(["dataset", "method"])
    assert by.loc[("realsrset", "bicubic"), "niqe"] > by.loc[("realsrset", "BSRGAN_published"), "niqe"]
    assert ("dped-readme", "BSRGAN_published") in by.index  # the authors' DPED outputs
    assert ("dped-iphone", "BSRGAN_published") not in by.index  # none for our crops
    summary = (out4 / "summary.md").read_text()
    assert "DPED, the authors' images" in summary and "DPED, our crops" in summary
    assert "weights BSRGAN" in summary  # offline: not available, with the reason
    assert "ours_BSRNet" in summary and "no weights given" in summary
    for name in ("realsrset", "dped-readme", "dped-iphone"):
        assert f"![{name}](comparison_{name}.png)" in summary  # the summary embeds its figures
        assert (out4 / name / "figure.png").is_file()  # full size, pixel for pixel
    for png in out4.glob("*.png"):
        assert _png_dpi(png) >= 110, png
    colours = pd.read_csv(out4 / "colour_shift.csv", dtype={"image": str})
    published = colours[(colours.method == "BSRGAN_published") & (colours.image == "chip")]
    assert published.colour_shift.iloc[0] == pytest.approx(1.3, abs=0.05)  # against bicubic
    assert "## Mean colour against bicubic" in summary
    handed = read_outputs(out4)["EVALUATION_DIR"]
    assert Path(handed) == out4.resolve()

    out5 = execute(NOTEBOOK_DIR / "05_paper_comparison.ipynb", tmp_path,
                   REALSRSET_IMAGES=["chip"], OFFICIAL=["BSRGAN", "RealSR_JPEG"],
                   EVALUATION_DIR=handed, WORKERS=1, DEVICE="cpu")
    availability = pd.read_csv(out5 / "availability.csv").set_index("item")
    assert availability.loc["weights BSRGAN", "status"] == "unavailable"
    assert availability.loc["weights RealSR_JPEG", "status"] == "stand-in"
    rows = pd.read_csv(out5 / "realsrset" / "per_image.csv", keep_default_na=False)
    reused = rows.set_index("method")["reused_from"]
    assert (reused.drop("RealSR_JPEG_standin") == out4.name).all()  # 04 scored these
    assert reused["RealSR_JPEG_standin"] == ""  # not run in 04: evaluated here
    assert (out5 / "realsrset" / "evaluated").is_dir()
    beside = pd.read_csv(out5 / "paper_vs_ours.csv")
    published = beside[(beside.source == "published") & (beside.metric == "niqe")]
    assert set(published.method) == {"ESRGAN", "RealSR-JPEG", "BSRGAN"}
    assert published.reproduced.all() and (published.delta.abs() <= 0.015).all()
    status = pd.read_csv(out5 / "reproduction_status.csv").set_index(["image", "method"])
    assert status.loc[("chip", "BSRGAN"), "niqe"].startswith("reproduced: published")
    assert status.loc[("chip", "FSSR-JPEG"), "niqe"].startswith("not computed: official:")
    assert status.loc[("building", "BSRGAN"), "niqe"].startswith("not computed")
    pairs = pd.read_csv(out5 / "ours_vs_published.csv")
    assert pairs[["image", "ours", "published"]].values.tolist() == [
        ["chip", "RealSR_JPEG_standin", "RealSR_JPEG_published"]]
    assert pairs["psnr_rgb_db"].iloc[0] >= 50  # same network, fp16 weights: 56.5 dB
    summary5 = (out5 / "summary.md").read_text()
    assert "![realsrset](comparison_realsrset.png)" in summary5
    assert "rows reused from notebook 04" in summary5


@pytest.mark.slow
def test_04_without_the_mirror_lists_what_it_could_not_get(tmp_path, monkeypatch):
    monkeypatch.delenv("BSRGAN_MIRRORS", raising=False)
    monkeypatch.setenv("BSRGAN_HOME", str(tmp_path / "empty_home"))  # not the session cache
    out = execute(NOTEBOOK_DIR / "04_evaluate_realsrset_dped.ipynb", tmp_path,
                  DATASETS=["realsrset", "dped-readme"], MODELS=["RealSR_JPEG_x4_fp16"],
                  DEVICE="cpu")
    summary = (out / "summary.md").read_text()
    assert "dataset realsrset" in summary and "dataset dped-readme" in summary
    assert "weights RealSR_JPEG_x4_fp16" in summary and "metric nrqm" in summary
