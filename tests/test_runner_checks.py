"""Value checks before anything runs: ``bsrgan run --dry-run``, each notebook's first cell,
relative paths, list parameters given as one string, and where stage 2 finds stage 1's weights.

No kernel is started here: plans are built from the real notebooks' declared parameters
(papermill reads them without executing anything).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import papermill
import pytest
import torch

from bsrgan.cli import main as cli_main
from bsrgan.models import WeightsError, build_model
from bsrgan.runner import (
    ParameterError,
    check_parameters,
    load_experiment,
    parse_override,
    plan_run,
)
from bsrgan.runner.checks import CheckContext, absolute_paths, problems_in
from bsrgan.runner.notebook_checks import NOTEBOOK_CHECKS
from bsrgan.training.recipes import (
    MissingWeightsError,
    bsrgan_config,
    bsrnet_config,
    bsrnet_init,
    bsrnet_start,
    bsrnet_weight_candidates,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
PAPER = ROOT / "experiments" / "paper_x4.yaml"
QUICKSTART = ROOT / "experiments" / "quickstart.yaml"


def defaults(stem: str) -> dict:
    """The parameter values a notebook has when nothing is injected."""
    import ast

    found = papermill.inspect_notebook(str(ROOT / "notebooks" / f"{stem}.ipynb"))
    return {name: ast.literal_eval(info["default"]) for name, info in found.items()}


# ------------------------------------------------------------------ the rules match the notebooks

@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_rules_for_its_parameters(path):
    checks = NOTEBOOK_CHECKS[path.stem]
    declared = list(papermill.inspect_notebook(str(path)))
    if path.stem[:2] in ("01", "02", "03"):  # ours: every parameter has a rule entry
        assert sorted(checks.parameters) == sorted(declared)
    else:  # 04/05: the rules name only parameters the notebook declares
        assert set(checks.parameters) <= set(declared)
    assert set(checks.lists) | set(checks.paths) <= set(checks.parameters)


@pytest.mark.parametrize("stem", ["01_degradation_model", "02_train_bsrnet"])
def test_notebook_defaults_pass_their_own_checks(stem, tmp_path):
    assert problems_in(stem, defaults(stem), CheckContext(base_dir=tmp_path)) == []


def test_notebook_first_cell_calls_the_checks():
    for path in NOTEBOOKS[:3]:
        nb = nbformat.read(path, as_version=4)
        first_code = next(c for c in nb.cells if c.cell_type == "code"
                          and "parameters" not in c.metadata.get("tags", []))
        assert f'check_parameters("{path.stem}", globals())' in first_code.source, path.stem


# ------------------------------------------------------------------------ check_parameters

def test_check_parameters_reports_every_bad_value_by_name(tmp_path):
    values = {**defaults("02_train_bsrnet"), "HR_CROP": 96, "LQ_PATCH": 32, "VAL_EVERY": 0,
              "MODEL": "rrdbnet_smal", "LR": -1.0, "EMA_DECAY": 1.0, "HR_DIR": "missing",
              "DEGRADATION": "bsrgan+", "DEVICE": "gpu", "VAL_HR_SIZE": 130}
    with pytest.raises(ParameterError) as info:
        check_parameters("02_train_bsrnet", values, base_dir=tmp_path)
    text = str(info.value)
    assert "notebook 02_train_bsrnet: 9 bad parameter value(s)" in text
    assert "HR_CROP=96 must be >= 4 * LQ_PATCH (= 128)" in text
    assert "VAL_EVERY=0 must be >= 1" in text
    assert "MODEL='rrdbnet_smal' is not a known generator" in text and "'rrdbnet_small'?" in text
    assert "LR=-1.0 must be in (0.0, 1.0]" in text and "EMA_DECAY=1.0 must be in [0.0, 1.0)" in text
    assert f"HR_DIR='missing': no such file or folder (relative to {tmp_path})" in text
    assert "DEGRADATION='bsrgan+'" in text and "DEVICE='gpu'" in text
    assert "VAL_HR_SIZE=130 must be a multiple of 4" in text


def test_check_parameters_turns_one_string_into_a_list_in_place(tmp_path):
    namespace = {**defaults("04_evaluate_realsrset_dped"), "DATASETS": "realsrset",
                 "MODELS": "RealSR_JPEG_x4_fp16, BSRGAN", "unrelated": 1}
    values = check_parameters("04_evaluate_realsrset_dped", namespace, base_dir=tmp_path)
    assert namespace["DATASETS"] == values["DATASETS"] == ["realsrset"]  # not ['r', 'e', ...]
    assert namespace["MODELS"] == ["RealSR_JPEG_x4_fp16", "BSRGAN"]
    assert "unrelated" not in values


def test_unknown_names_are_errors_and_folders_count_as_datasets(tmp_path):
    (tmp_path / "my_lr").mkdir()
    values = {**defaults("04_evaluate_realsrset_dped"),
              "DATASETS": ["realsrset", "dpedd", "my_lr"], "METRICS": "niqe,nrqn",
              "MODELS": ["BSRGAN", "BSRGANN"], "PUBLISHED": ["esrgan", "bsrgann"]}
    problems = problems_in("04_evaluate_realsrset_dped", values, CheckContext(base_dir=tmp_path))
    text = "\n".join(problems)
    assert "DATASETS: 'dpedd' is not a known dataset nor an existing folder" in text
    assert "my_lr" not in text  # an existing folder is a dataset
    assert "METRICS: 'nrqn' is not a known metric" in text and "'nrqm'?" in text
    assert "MODELS: 'BSRGANN'" in text and "PUBLISHED: 'bsrgann'" in text
    assert len(problems) == 4


def test_pending_values_are_not_checked_and_unknown_notebooks_have_no_rules(tmp_path):
    values = {**defaults("04_evaluate_realsrset_dped"), "BSRNET_WEIGHTS": "not/yet/there.pth"}
    ctx = CheckContext(base_dir=tmp_path, pending=frozenset({"BSRNET_WEIGHTS"}))
    assert problems_in("04_evaluate_realsrset_dped", values, ctx) == []
    assert problems_in("99_custom", {"X": -1}, ctx) == []
    with pytest.raises(ParameterError, match="no parameter checks are registered"):
        check_parameters("99_custom", {})


def test_config_level_problems_come_from_the_trainer_config(tmp_path):
    values = {**defaults("02_train_bsrnet"), "CONFIG_OVERRIDES": {"data.hr_cropp": 5}}
    problems = problems_in("02_train_bsrnet", values, CheckContext(base_dir=tmp_path))
    assert len(problems) == 1 and "the training config these values make is invalid" in problems[0]
    assert "data.hr_cropp" in problems[0]


# ---------------------------------------------------------------------- bsrgan run --dry-run

@pytest.mark.parametrize("override, names", [
    ("03.LQ_PATCH=96", ["[03] 03_train_bsrgan.ipynb", "HR_CROP=320 must be >= 4 * LQ_PATCH (= 384)",
                        "LQ_PATCH from --set 03.LQ_PATCH=96"]),
    ("04.DATASETS=[realsrset, dpedd]", ["[04] 04_evaluate_realsrset_dped.ipynb",
                                        "DATASETS: 'dpedd' is not a known dataset"]),
    ("02.VAL_EVERY=0", ["VAL_EVERY=0 must be >= 1"]),
    ("02.MODEL=rrdbnet_x5", ["MODEL='rrdbnet_x5' is not a known generator"]),
])
def test_paper_dry_run_fails_early_naming_the_parameter(capsys, override, names):
    assert cli_main(["run", str(PAPER), "--dry-run", "--set", override]) == 2
    err = capsys.readouterr().err
    assert "bad parameter values; nothing was run" in err
    for name in names:
        assert name in err


def test_dry_run_accepts_one_string_for_a_list(capsys):
    assert cli_main(["run", str(PAPER), "--dry-run", "--only", "04",
                     "--set", "04.DATASETS=realsrset"]) == 0
    assert "DATASETS = ['realsrset']  (--set 04.DATASETS=realsrset)" in capsys.readouterr().out


def test_weights_stage_2_gets_from_stage_1_are_not_checked_before_they_exist(tmp_path):
    # 03 and 04 get BSRNET_WEIGHTS from 02 at run time
    plan = plan_run(load_experiment(PAPER), overrides=[parse_override(f"HR_DIR={tmp_path}")])
    assert plan["03"].values.get("BSRNET_WEIGHTS", "") == ""


def test_relative_set_paths_resolve_against_the_launch_folder(tmp_path, monkeypatch):
    (tmp_path / "hr").mkdir()
    monkeypatch.chdir(tmp_path)
    plan = plan_run(load_experiment(QUICKSTART), overrides=[parse_override("HR_DIR=hr")],
                    only="01,02")
    for notebook_id in ("01", "02"):
        assert plan[notebook_id].values["HR_DIR"] == str((tmp_path / "hr").resolve())
    # registry names stay names; a missing relative folder is reported where it was looked for
    plan = plan_run(load_experiment(QUICKSTART), overrides=[parse_override("02.VAL_SET=set14")],
                    only="02")
    assert plan["02"].values["VAL_SET"] == "set14"
    with pytest.raises(ParameterError,
                       match=f"HR_DIR='{tmp_path.resolve()}/nope': no such file or folder"):
        plan_run(load_experiment(QUICKSTART), overrides=[parse_override("HR_DIR=nope")], only="02")


def test_absolute_paths_by_source_and_for_notebooks_without_rules(tmp_path):
    (tmp_path / "cli" / "data").mkdir(parents=True)
    (tmp_path / "yaml" / "data").mkdir(parents=True)
    values = {"HR_DIR": "data", "VAL_SET": "data", "SEED": 1, "OUTPUT_DIR": "/run/02"}
    sources = {"HR_DIR": "--set HR_DIR=data", "VAL_SET": "experiment:notebooks[02]",
               "SEED": "--set SEED=1", "OUTPUT_DIR": "runner"}
    out = absolute_paths("02_train_bsrnet", values, sources, cli_dir=tmp_path / "cli",
                         file_dir=tmp_path / "yaml")
    assert out["HR_DIR"] == str(tmp_path / "cli" / "data")
    assert out["VAL_SET"] == str(tmp_path / "yaml" / "data")
    assert out["SEED"] == 1 and out["OUTPUT_DIR"] == "/run/02"
    custom = absolute_paths("99_custom", {"P": "data", "Q": "set14"},
                            {"P": "--set P=data", "Q": "--set Q=set14"},
                            cli_dir=tmp_path / "cli", file_dir=tmp_path)
    assert custom == {"P": str(tmp_path / "cli" / "data"), "Q": "set14"}  # only what exists


# ------------------------------------------------------------- stage 2 starts from stage 1

def fake_checkout(root: Path) -> Path:
    (root / "notebooks").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    return root


def save_weights(path: Path, model: str = "rrdbnet_tiny", seed: int = 0) -> Path:
    torch.manual_seed(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(build_model(model).state_dict(), path)
    return path


def test_stage_2_refuses_to_start_without_bsrnet_weights(tmp_path, monkeypatch):
    root = fake_checkout(tmp_path / "checkout")
    monkeypatch.chdir(root / "notebooks")
    with pytest.raises(MissingWeightsError, match="run notebook 02 first") as info:
        bsrnet_start("", "rrdbnet_tiny")
    assert "results/lab/02_train_bsrnet/run/weights/" in str(info.value)
    assert "'random'" in str(info.value)
    values = {**defaults("03_train_bsrgan"), "MODEL": "rrdbnet_tiny"}
    with pytest.raises(ParameterError, match="BSRNET_WEIGHTS is empty and notebook 02 has left"):
        check_parameters("03_train_bsrgan", values)
    assert bsrnet_start("random", "rrdbnet_tiny").weights is None  # only when asked for


def test_stage_2_finds_the_newest_weights_of_notebook_02(tmp_path, monkeypatch):
    root = fake_checkout(tmp_path / "checkout")
    lab = save_weights(root / "results/lab/02_train_bsrnet/run/weights/bsrnet_ema.pth")
    run = save_weights(root / "results/quickstart/20260101-000000/02_train_bsrnet/run/weights/"
                              "bsrnet_ema.pth", seed=1)
    os.utime(lab, (1_000_000, 1_000_000))  # the bsrgan run folder is newer
    monkeypatch.chdir(root / "notebooks")
    assert bsrnet_weight_candidates(root) == [run.resolve(), lab.resolve()]
    start = bsrnet_start("", "rrdbnet_tiny")
    assert start.weights == str(run.resolve())
    assert "results/quickstart/20260101-000000/02_train_bsrnet" in start.description
    assert "2 found" in start.description
    check_parameters("03_train_bsrgan", {**defaults("03_train_bsrgan"), "MODEL": "rrdbnet_tiny"})
    with pytest.raises(WeightsError, match="do not fit MODEL='rrdbnet_small'"):
        bsrnet_start("", "rrdbnet_small")
    with pytest.raises(MissingWeightsError, match="neither a file nor a registered model"):
        bsrnet_start("nope.pth", "rrdbnet_tiny")


def test_stage_1_starts_random_or_from_weights_that_fit(tmp_path, monkeypatch):
    """INIT_WEIGHTS: empty trains from scratch (the paper); a file or registry name is
    fine-tuned from, said in the description; weights that do not fit MODEL, or a name that
    is nothing, fail before training, in the first cell too."""
    scratch = bsrnet_init("", "rrdbnet_tiny")
    assert scratch.weights is None and "from scratch" in scratch.description
    weights = save_weights(tmp_path / "w" / "start.pth")
    start = bsrnet_init(str(weights), "rrdbnet_tiny")
    assert start.weights == str(weights)
    assert "start.pth, fine-tuned: not trained from scratch" in start.description
    config = bsrnet_config({**defaults("02_train_bsrnet"), "MODEL": "rrdbnet_tiny"},
                           val_dir=None, init_from=start.weights)
    assert config.model.init_from == str(weights) and config.stage == "psnr"
    with pytest.raises(WeightsError, match="do not fit MODEL='rrdbnet_small'"):
        bsrnet_init(str(weights), "rrdbnet_small")
    with pytest.raises(MissingWeightsError, match="INIT_WEIGHTS='nope.pth' is neither"):
        bsrnet_init("nope.pth", "rrdbnet_tiny")
    with pytest.raises(KeyError, match="unknown MODEL"):
        bsrnet_init("", "rrdbnet_huge")
    monkeypatch.chdir(tmp_path)
    values = defaults("02_train_bsrnet")
    check_parameters("02_train_bsrnet", {**values, "INIT_WEIGHTS": "RealSR_JPEG"})
    check_parameters("02_train_bsrnet", {**values, "INIT_WEIGHTS": "w/start.pth"})
    with pytest.raises(ParameterError, match="INIT_WEIGHTS='RealSR_JPG'"):
        check_parameters("02_train_bsrnet", {**values, "INIT_WEIGHTS": "RealSR_JPG"})


# ----------------------------------------------------------------------------- recipes

def test_stage_configs_map_the_notebook_parameters(tmp_path):
    p1 = {**defaults("02_train_bsrnet"), "CONFIG_OVERRIDES": {"optim.milestones": [100]}}
    c1 = bsrnet_config(p1, val_dir=str(tmp_path))
    assert (c1.stage, c1.total_steps, c1.data.lq_patch, c1.data.hr_crop) == ("psnr", 300, 32, 160)
    assert c1.optim.lr_g == p1["LR"] and c1.optim.lr_d is None and c1.optim.milestones == [100]
    assert c1.validation.hr_dir == str(tmp_path) and c1.data.hr_dir == "embedded"
    # the pairs have the generator's scale: an x2 model trains on x2 pairs, not x4 ones
    assert c1.data.scale == 4
    assert bsrnet_config({**p1, "MODEL": "rrdbnet_x2"}, val_dir=None).data.scale == 2
    p2 = defaults("03_train_bsrgan")
    c2 = bsrgan_config(p2, val_dir=None, init_from="w.pth")
    assert c2.stage == "gan" and c2.model.init_from == "w.pth"
    assert c2.optim.lr_g == c2.optim.lr_d == p2["LR"]
    assert c2.loss.preset == "paper" and c2.model.discriminator == "patchgan_sn"
    assert c2.loss.perceptual_backbone == p2["PERCEPTUAL_BACKBONE"] == "vgg16"
    assert c2.loss.perceptual_weight == 1.0  # never dropped: no VGG weights is an error
    json.dumps(p2)  # the notebook parameters are plain values
