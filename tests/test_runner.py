"""bsrgan.runner / ``bsrgan run``: experiment files, overrides, output passing, provenance, failures.

The notebooks here are tiny throwaway ones generated into tmp_path; each papermill execution
starts a real kernel (~1-2 s), so the end-to-end tests share as few executions as possible.
"""
import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from bsrgan.assets.verify import sha256_file
from bsrgan.cli import main as cli_main
from bsrgan.runner import (
    ExperimentError,
    coerce,
    load_experiment,
    parse_only,
    parse_override,
    read_outputs,
    run_experiment,
    write_outputs,
)


def make_notebook(path: Path, parameters: str, *body: str) -> Path:
    """Write a notebook with one ``parameters`` cell and code cells ``body``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell(textwrap.dedent(parameters).strip())
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# test notebook"), params]
    nb.cells += [nbformat.v4.new_code_cell(textwrap.dedent(code).strip()) for code in body]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


PRODUCER = (
    """
    NUM: int = 1  # a number
    SEED: int = 7  # random seed
    OUTPUT_DIR: str = "results/a"  # where results go
    """,
    """
    from pathlib import Path
    from bsrgan.runner import record, write_outputs
    Path(OUTPUT_DIR, "table.md").write_text(f"| num |\\n|---|\\n| {NUM} |\\n")
    Path(OUTPUT_DIR, "summary.md").write_text("# a\\n")
    write_outputs(OUTPUT_DIR, DOUBLED=NUM * 2, TABLE=str(Path(OUTPUT_DIR, "table.md")))
    record(OUTPUT_DIR, metrics={"doubled": NUM * 2}, configs={"c": {"num": NUM}},
           weights={"table": Path(OUTPUT_DIR, "table.md")})
    """,
)
CONSUMER = (
    """
    DOUBLED: int = 0  # produced by notebook a
    SCALE: float = 1.0  # a float parameter
    LABEL: str = "x"  # a text parameter
    OUTPUT_DIR: str = "results/b"  # where results go
    """,
    """
    import json, os
    with open(os.path.join(OUTPUT_DIR, "seen.json"), "w") as fh:
        json.dump({"DOUBLED": DOUBLED, "SCALE": SCALE, "LABEL": LABEL, "cwd": os.getcwd()}, fh)
    """,
)
FAILING = (
    """
    OUTPUT_DIR: str = "results/c"  # where results go
    """,
    "print('before the failure')",
    "x = 1\nraise ValueError('boom in the third cell')",
    "print('never reached')",
)


def write_experiment(root: Path, notebooks: dict[str, tuple], extra: str = "", per_nb: str = "") -> Path:
    """An experiment at root/experiments/exp.yaml over notebooks root/notebooks/<id>.ipynb."""
    entries = []
    for notebook_id, cells in notebooks.items():
        make_notebook(root / "notebooks" / f"{notebook_id}_nb.ipynb", *cells)
        entries.append(f'  - id: "{notebook_id}"\n    notebook: {notebook_id}_nb.ipynb\n')
    path = root / "experiments" / "exp.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"name: exp\ndescription: test\n{extra}notebooks:\n" + "".join(entries) + per_nb)
    return path


# ---------------------------------------------------------------------- config, overrides, types

def test_load_experiment_resolves_paths_relative_to_the_yaml(tmp_path):
    path = write_experiment(tmp_path, {"a": PRODUCER})
    exp = load_experiment(path)
    assert exp.name == "exp" and exp.ids() == ["a"]
    assert exp.notebook_path(exp.spec("a")) == (tmp_path / "notebooks" / "a_nb.ipynb").resolve()
    assert exp.results_root() == (tmp_path / "results" / "exp").resolve()
    assert "base_dir" not in exp.to_dict()


@pytest.mark.parametrize("text, message", [
    ("name: e\nnotebooks: []\n", "non-empty list"),
    ("name: e\nnotbooks: []\n", "unknown key"),
    ("notebooks:\n  - {id: a, notebook: a.ipynb}\n", "missing required key 'name'"),
    ("name: e\nnotebooks:\n  - {id: 1, notebook: a.ipynb}\n", 'write "01"'),
    ("name: e\nnotebooks:\n  - {id: a, notebook: a.py}\n", "not an .ipynb"),
    ("name: e\nnotebooks:\n  - {id: a, notebook: a.ipynb, timeout: 3}\n", "unknown key"),
    ("name: e\nnotebooks:\n  - {id: a, notebook: a.ipynb}\n  - {id: a, notebook: b.ipynb}\n",
     "duplicate notebook ids"),
    ("name: ../up\nnotebooks:\n  - {id: a, notebook: a.ipynb}\n", "plain folder name"),
    ("name: e\nnotebooks: [\n", "not valid YAML"),
])
def test_bad_experiment_files_name_the_file_and_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ExperimentError, match=message) as info:
        load_experiment(path)
    assert "bad.yaml" in str(info.value)


def test_missing_experiment_file(tmp_path):
    with pytest.raises(ExperimentError, match="does not exist"):
        load_experiment(tmp_path / "nope.yaml")


def test_parse_override_forms():
    o = parse_override("NUM_ITERS=10")
    assert (o.notebook, o.key, o.value, o.raw) == (None, "NUM_ITERS", 10, "10")
    o = parse_override("02.LR=1e-4")
    assert (o.notebook, o.key, o.raw) == ("02", "LR", "1e-4")
    assert parse_override("X=[1, 2]").value == [1, 2]
    assert parse_override("X=").value == ""
    assert parse_override("X=a=b").value == "a=b"
    with pytest.raises(ExperimentError, match="KEY=VALUE"):
        parse_override("NUM_ITERS")
    with pytest.raises(ExperimentError, match="KEY=VALUE"):
        parse_override("1X=3")


def test_coerce_checks_declared_types():
    assert coerce(3, "float", where="w") == 3.0 and isinstance(coerce(3, "float", where="w"), float)
    assert coerce("1e-4", "float", where="w") == pytest.approx(1e-4)  # YAML 1.1 reads it as text
    assert coerce(1, "str", raw="01", where="w") == "01"  # command-line text kept verbatim
    assert coerce("a", "str", raw='"a b"', where="w") == "a b"
    assert coerce(None, "str | None", where="w") is None
    assert coerce(5, "Optional[int]", where="w") == 5
    assert coerce([1], "list[int]", where="w") == [1]
    assert coerce(object, "SomeClass", where="w") is object  # unknown annotations pass through
    # one string for a list parameter is a one-item list (papermill/--set), never its characters
    assert coerce("realsrset", "list", where="w") == ["realsrset"]
    assert coerce("a, b", "list[str]", where="w") == ["a", "b"]
    for value, type_name in [("abc", "int"), (1.5, "int"), (True, "int"), (1, "bool"),
                             ("x", "float"), (3, "str"), ({}, "list")]:
        with pytest.raises(ExperimentError, match="expects"):
            coerce(value, type_name, where="w")


def test_parse_only_keeps_experiment_order(tmp_path):
    exp = load_experiment(write_experiment(tmp_path, {"a": PRODUCER, "b": CONSUMER}))
    assert parse_only(None, exp) == ["a", "b"]
    assert parse_only("b,a", exp) == ["a", "b"]
    with pytest.raises(ExperimentError, match=r"no notebook\(s\) \['z'\]"):
        parse_only("a,z", exp)


def test_outputs_round_trip_and_merge(tmp_path):
    assert read_outputs(tmp_path) == {}
    write_outputs(tmp_path, A=1)
    write_outputs(tmp_path, B="x", A=2)
    assert read_outputs(tmp_path) == {"A": 2, "B": "x"}
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        write_outputs(tmp_path, C=object())


def test_record_hashes_inputs_and_writes_strict_json(tmp_path):
    import numpy as np

    from bsrgan.io import imwrite
    from bsrgan.runner import read_record, record

    checkout = tmp_path / "checkout"
    (checkout / "notebooks").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    images = checkout / "data"
    images.mkdir()
    for i in range(2):
        imwrite(images / f"{i}.png", np.full((8, 8, 3), i / 2, dtype=np.float32))
    (images / "notes.txt").write_text("not an image")
    weights = checkout / "w.pth"
    weights.write_bytes(b"weights")
    out = checkout / "results" / "lab" / "nb"
    record(out, datasets={"train": images}, weights={"w": weights},
           metrics={"psnr": np.float32(20.5), "niqe": {"a": float("nan")}},
           configs={"stage1": {"data": {"hr_dir": str(images), "scale": 4},
                               "model": {"init_from": str(weights)}, "name": "bsrnet",
                               "elsewhere": "/opt/not/below/either/root"}})
    first = read_record(out)
    assert first["configs"]["stage1"] == {  # no path of this machine in a committed record
        "data": {"hr_dir": "<project>/data", "scale": 4},
        "model": {"init_from": "<project>/w.pth"}, "name": "bsrnet",
        "elsewhere": "/opt/not/below/either/root"}
    assert first["datasets"]["train"]["images"] == 2  # what the code reads: images only
    assert first["datasets"]["train"]["path"] == "<project>/data"
    assert first["weights"]["w"] == {"path": "<project>/w.pth", "sha256": sha256_file(weights)}
    assert first["metrics"] == {"psnr": 20.5, "niqe": {"a": None}}  # strict JSON: no NaN
    json.loads((out / "record.json").read_text(), parse_constant=pytest.fail)
    imwrite(images / "1.png", np.zeros((8, 8, 3), dtype=np.float32))  # one image changes
    record(out, datasets={"train": images}, metrics={"steps": 3})
    second = read_record(out)
    assert second["datasets"]["train"]["sha256"] != first["datasets"]["train"]["sha256"]
    assert second["metrics"] == {**first["metrics"], "steps": 3}  # entries merge


# ---------------------------------------------------------------- validation before anything runs

@pytest.mark.parametrize("args, message", [
    (["--set", "NOPE=1"], "no selected notebook declares 'NOPE'"),
    (["--set", "b.NOPE=1"], "has no parameter 'NOPE'"),
    (["--set", "NUM=abc"], "expects int, got str 'abc'"),
    (["--set", "z.NUM=1"], "no notebook 'z'"),
    (["--set", "OUTPUT_DIR=/x"], "set by the runner"),
    (["--only", "b", "--set", "a.NUM=3"], "not selected by --only"),
    (["--only", "q"], "no notebook"),
])
def test_bad_overrides_exit_2_before_running(tmp_path, capsys, args, message):
    path = write_experiment(tmp_path, {"a": PRODUCER, "b": CONSUMER})
    assert cli_main(["run", str(path), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "results").exists()  # nothing was executed or created


def test_yaml_parameter_not_declared_is_an_error(tmp_path):
    path = write_experiment(tmp_path, {"a": PRODUCER}, per_nb="    parameters: {NUMM: 3}\n")
    with pytest.raises(ExperimentError, match="has no parameter 'NUMM'"):
        run_experiment(load_experiment(path))
    path = write_experiment(tmp_path, {"a": PRODUCER}, extra="parameters: {SEEDD: 1}\n")
    with pytest.raises(ExperimentError, match="declared by none of the notebooks"):
        run_experiment(load_experiment(path))


def test_notebook_without_output_dir_is_rejected(tmp_path):
    path = write_experiment(tmp_path, {"a": ("N: int = 1  # n", "print(N)")})
    with pytest.raises(ExperimentError, match="declares no OUTPUT_DIR"):
        run_experiment(load_experiment(path))


# ------------------------------------------------------------------------------- end to end

def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout.strip()


def test_run_passes_outputs_applies_overrides_and_records_provenance(tmp_path, capsys):
    path = write_experiment(tmp_path, {"a": PRODUCER, "b": CONSUMER},
                            extra="parameters: {SEED: 3}\n",
                            per_nb="    parameters: {SCALE: 2, LABEL: from-yaml}\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "init")
    sha = _git(tmp_path, "rev-parse", "HEAD")
    (tmp_path / "experiments" / "exp.yaml").write_text(path.read_text() + "# edited\n")  # dirty

    out = tmp_path / "run1"
    code = cli_main(["run", str(path), "--set", "a.NUM=21", "--set", "LABEL=007", "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "run ok in" in printed.out and f"[a] {out / 'a_nb' / 'summary.md'}" in printed.out
    # outputs of a reach b; --set beats the YAML; str parameters keep the command-line text
    seen = json.loads((out / "b_nb" / "seen.json").read_text())
    assert seen["DOUBLED"] == 42 and seen["SCALE"] == 2.0 and seen["LABEL"] == "007"
    assert Path(seen["cwd"]).resolve() == (out / "b_nb").resolve()  # notebooks run in their folder
    assert (out / "a_nb.ipynb").is_file() and (out / "b_nb.ipynb").is_file()
    assert (out / "a_nb" / "table.md").read_text().endswith("| 21 |\n")

    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "ok" and run["experiment"] == "exp" and run["run_id"] == "run1"
    assert run["git"] == {"sha": sha, "dirty": True, "branch": run["git"]["branch"]}
    assert run["packages"]["papermill"] and run["packages"]["bsrgan"]
    assert run["device"]["cpu_count"] >= 1 and "cuda_available" in run["device"]
    assert run["overrides"] == ["a.NUM=21", "LABEL=007"]
    assert run["seeds"] == {"a": {"SEED": 3}}
    assert run["environment"]["BSRGAN_MIRRORS"] in (True, False)
    a, b = run["notebooks"]
    assert a["status"] == b["status"] == "ok"
    assert a["parameters"] == {"NUM": 21, "SEED": 3, "OUTPUT_DIR": "a_nb"}  # relative to the run
    assert a["sources"]["NUM"] == "--set a.NUM=21" and a["sources"]["SEED"] == "experiment:parameters"
    assert a["outputs"] == {"DOUBLED": 42, "TABLE": "a_nb/table.md"}
    assert b["sources"]["DOUBLED"] == "output:a" and b["sources"]["SCALE"] == "experiment:notebooks[b]"
    assert b["parameters"]["LABEL"] == "007"
    assert a["seconds"] > 0 and b["seconds"] > 0 and run["seconds"] >= a["seconds"] + b["seconds"]
    assert a["notebook"] == "notebooks/a_nb.ipynb" and a["git_sha"] == sha
    # what was run and what it used, by content: notebook, experiment file, inputs; headline numbers
    assert a["notebook_sha256"] == sha256_file(tmp_path / "notebooks" / "a_nb.ipynb")
    assert run["experiment_file"] == {"path": "experiments/exp.yaml", "sha256": sha256_file(path)}
    assert a["record"]["metrics"] == {"doubled": 42} and run["metrics"] == {"a": {"doubled": 42}}
    assert a["record"]["configs"] == {"c": {"num": 21}}
    table = a["record"]["weights"]["table"]
    assert table == {"path": "a_nb/table.md", "sha256": sha256_file(out / "a_nb" / "table.md")}
    assert str(tmp_path) not in (out / "run.json").read_text()  # no machine paths in the record

    # --only b into the same folder: a's recorded output is reused, a's record kept
    code = cli_main(["run", str(path), "--only", "b", "--set", "b.SCALE=0.5", "--out", str(out)])
    assert code == 0
    seen = json.loads((out / "b_nb" / "seen.json").read_text())
    assert seen["DOUBLED"] == 42 and seen["SCALE"] == 0.5
    run2 = json.loads((out / "run.json").read_text())
    assert run2["only"] == ["b"] and [r["id"] for r in run2["notebooks"]] == ["a", "b"]
    assert run2["notebooks"][0]["parameters"]["NUM"] == 21  # the earlier record of a
    assert run2["notebooks"][1]["sources"]["DOUBLED"] == "output:a"
    # both calls are on record: the whole first run and the partial rerun
    first, second = run2["invocations"]
    assert first["only"] == ["a", "b"] and first["status"] == "ok" and first["seconds"] > 0
    assert second["only"] == ["b"] and second["overrides"] == ["b.SCALE=0.5"]
    assert run["invocations"] == [first]


def test_failure_stops_keeps_partial_notebook_and_exits_nonzero(tmp_path, capsys):
    path = write_experiment(tmp_path, {"a": PRODUCER, "c": FAILING, "b": CONSUMER})
    code = cli_main(["run", str(path)])
    assert code == 1
    err = capsys.readouterr().err
    assert "[c] FAILED" in err and "ValueError: boom in the third cell" in err
    assert "in cell 3 (In [" in err  # markdown, parameters, print, raise -> source cell 3
    assert "raise ValueError('boom in the third cell')" in err
    run_dirs = list((tmp_path / "results" / "exp").iterdir())
    assert len(run_dirs) == 1
    out = run_dirs[0]
    assert "partially executed notebook" in err and str(out.name) in err

    executed = nbformat.read(out / "c_nb.ipynb", as_version=4)
    texts = ["".join(o.get("text", "") for o in cell.get("outputs", [])) for cell in executed.cells
             if cell.cell_type == "code"]
    assert any("before the failure" in t for t in texts)
    assert not any("never reached" in t for t in texts)
    assert not (out / "b_nb.ipynb").exists()  # the run stopped

    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "failed"
    statuses = {r["id"]: r["status"] for r in run["notebooks"]}
    assert statuses == {"a": "ok", "c": "failed", "b": "pending"}
    error = run["notebooks"][1]["error"]
    assert error["ename"] == "ValueError" and error["evalue"] == "boom in the third cell"
    assert error["source_cell_index"] == 3 and "raise ValueError" in error["source"]
    assert run["git"]["sha"] is None  # tmp_path is not a git checkout


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path, capsys):
    path = write_experiment(tmp_path, {"a": PRODUCER, "b": CONSUMER},
                            per_nb="    parameters: {SCALE: 2}\n")
    assert cli_main(["run", str(path), "--dry-run", "--set", "NUM=5"]) == 0
    out = capsys.readouterr().out
    assert "[a] a_nb.ipynb" in out and "NUM = 5  (--set NUM=5)" in out
    assert "SCALE = 2.0  (experiment:notebooks[b])" in out
    assert not (tmp_path / "results").exists()


def test_sigterm_stops_the_run_and_records_it(tmp_path):
    sleeper = ("""
    OUTPUT_DIR: str = "results/s"  # where results go
    """, "import pathlib, time\npathlib.Path('started').touch()\ntime.sleep(120)")
    path = write_experiment(tmp_path, {"s": sleeper})
    out = tmp_path / "run"
    bsrgan = str(Path(sys.executable).with_name("bsrgan"))  # the console script of this venv
    proc = subprocess.Popen([bsrgan, "run", str(path), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until the sleeping cell runs
            if (out / "s_nb" / "started").is_file():  # written in the kernel's cwd
                break
            if proc.poll() is not None:
                pytest.fail(f"bsrgan run exited early: {proc.communicate()[1]}")
            time.sleep(0.5)
        else:
            pytest.fail("the notebook never started")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "[s] interrupted" in err
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "interrupted" and run["notebooks"][0]["status"] == "interrupted"


def test_notebook_output_dir_defaults_to_results_lab_of_the_checkout(tmp_path, monkeypatch):
    from bsrgan.runner import notebook_output_dir, project_root

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")  # where `jupyter lab notebooks/` starts kernels
    assert project_root() == tmp_path.resolve()
    folder = notebook_output_dir("", "02_train_bsrnet")
    assert folder == tmp_path.resolve() / "results" / "lab" / "02_train_bsrnet" and folder.is_dir()
    given = notebook_output_dir(tmp_path / "explicit", "02_train_bsrnet")
    assert given == tmp_path / "explicit" and given.is_dir()
