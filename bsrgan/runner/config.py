"""Experiment files: a YAML list of numbered notebooks and their parameters, as dataclasses.

An experiment file looks like::

    name: quickstart                 # results go to <results_dir>/<name>/<run-id>/
    description: CPU tour of the paper in ~14 minutes
    notebook_dir: ../notebooks       # relative to this YAML file
    results_dir: ../results          # relative to this YAML file
    parameters:                      # shared: given to every notebook that declares them
      SEED: 0
    required:                        # optional: parameters that must be set to a non-empty
      HR_DIR: the training images    # value before anything runs (name: what it is / how)
    notebooks:
      - id: "01"
        notebook: 01_degradation_model.ipynb
        parameters:
          NUM_SAMPLES: 6
        timeout_s: 600               # optional per-cell time limit

Keys map one to one onto the dataclass fields below; an unknown key is an error that names the
file and the key. Command-line overrides are ``KEY=VALUE`` (every selected notebook that declares
``KEY``) or ``ID.KEY=VALUE`` (one notebook), values parsed as YAML (typed later against the
notebook's own annotations, see :mod:`bsrgan.runner.parameters`).
"""
from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ExperimentError(ValueError):
    """An experiment file, a parameter or an override is invalid; the message says which."""


@dataclass(frozen=True)
class NotebookSpec:
    """One notebook of an experiment.

    Attributes:
        id: short name used by ``--only`` and ``ID.KEY=VALUE`` overrides (e.g. ``"02"``).
        notebook: file name, relative to the experiment's ``notebook_dir``.
        parameters: values for parameters the notebook declares in its ``parameters`` cell.
        timeout_s: per-cell execution limit in seconds (None: no limit).
    """

    id: str
    notebook: str
    parameters: dict[str, Any] = field(default_factory=dict)
    timeout_s: int | None = None

    @property
    def stem(self) -> str:
        """The notebook's file name without ``.ipynb``; names its outputs in a run folder."""
        return Path(self.notebook).stem


@dataclass(frozen=True)
class Experiment:
    """A sequence of notebooks run in order, plus where to find them and write results.

    Attributes:
        name: experiment name; results go to ``<results_dir>/<name>/<run-id>/``.
        description: one line for humans, copied into ``run.json``.
        notebooks: the notebooks in execution order.
        parameters: shared parameters, given to every notebook that declares them.
        notebook_dir: folder of the notebooks, relative to ``base_dir``.
        results_dir: root of the results, relative to ``base_dir``.
        base_dir: folder of the YAML file (absolute); relative paths above resolve against it.
        required: parameters that must not be empty ("", null, []) in any selected notebook
            that declares them, checked before the first notebook runs: ``name -> what it is``
            (the text is shown in the error).
        source: the YAML file itself (None when built from a dict in memory).
    """

    name: str
    notebooks: list[NotebookSpec]
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    notebook_dir: str = "../notebooks"
    results_dir: str = "../results"
    base_dir: Path = field(default_factory=Path.cwd)
    required: dict[str, str] = field(default_factory=dict)
    source: Path | None = None

    def notebook_path(self, spec: NotebookSpec) -> Path:
        """Absolute path of a notebook's source file."""
        return (self.base_dir / self.notebook_dir / spec.notebook).resolve()

    def results_root(self) -> Path:
        """Absolute ``<results_dir>/<name>`` folder that holds one sub-folder per run."""
        return (self.base_dir / self.results_dir / self.name).resolve()

    def spec(self, notebook_id: str) -> NotebookSpec:
        """The notebook with this id; :class:`ExperimentError` listing the ids otherwise."""
        for spec in self.notebooks:
            if spec.id == notebook_id:
                return spec
        raise ExperimentError(
            f"experiment {self.name!r} has no notebook {notebook_id!r}; ids: {self.ids()}"
        )

    def ids(self) -> list[str]:
        return [spec.id for spec in self.notebooks]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly view without the machine-specific ``base_dir`` and ``source``."""
        data = dataclasses.asdict(self)
        data.pop("base_dir")
        data.pop("source")
        return data


_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_PARAM_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def load_experiment(path: str | os.PathLike[str]) -> Experiment:
    """Read an experiment YAML file into an :class:`Experiment` (validated, paths unresolved)."""
    path = Path(path)
    if not path.is_file():
        raise ExperimentError(f"experiment file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ExperimentError(f"{path}: not valid YAML: {exc}") from exc
    return experiment_from_dict(data, source=path)


def experiment_from_dict(data: Any, source: str | os.PathLike[str]) -> Experiment:
    """Build an :class:`Experiment` from parsed YAML; ``source`` names the file in errors."""
    source = Path(source)
    where = str(source)
    if not isinstance(data, dict):
        raise ExperimentError(f"{where}: expected a mapping at the top level, got {type(data).__name__}")
    allowed = {f.name for f in dataclasses.fields(Experiment)} - {"base_dir", "source"}
    _reject_unknown(data, allowed, where)
    for key in ("name", "notebooks"):
        if key not in data:
            raise ExperimentError(f"{where}: missing required key {key!r}")
    name = data["name"]
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ExperimentError(f"{where}: 'name' must be a plain folder name, got {name!r}")
    raw_notebooks = data["notebooks"]
    if not isinstance(raw_notebooks, list) or not raw_notebooks:
        raise ExperimentError(f"{where}: 'notebooks' must be a non-empty list")
    notebooks = [_notebook_from_dict(item, f"{where}: notebooks[{i}]")
                 for i, item in enumerate(raw_notebooks)]
    ids = [spec.id for spec in notebooks]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ExperimentError(f"{where}: duplicate notebook ids {duplicates}")
    experiment = Experiment(
        name=name,
        notebooks=notebooks,
        description=_typed(data.get("description", ""), str, f"{where}: description"),
        parameters=_parameters(data.get("parameters", {}), f"{where}: parameters"),
        notebook_dir=_typed(data.get("notebook_dir", "../notebooks"), str, f"{where}: notebook_dir"),
        results_dir=_typed(data.get("results_dir", "../results"), str, f"{where}: results_dir"),
        base_dir=source.resolve().parent,
        required=_required(data.get("required", {}), f"{where}: required"),
        source=source.resolve() if source.is_file() else None,
    )
    return experiment


def _notebook_from_dict(item: Any, where: str) -> NotebookSpec:
    if not isinstance(item, dict):
        raise ExperimentError(f"{where}: expected a mapping with 'id' and 'notebook'")
    _reject_unknown(item, {f.name for f in dataclasses.fields(NotebookSpec)}, where)
    for key in ("id", "notebook"):
        if key not in item:
            raise ExperimentError(f"{where}: missing required key {key!r}")
    notebook_id = item["id"]
    if isinstance(notebook_id, int) and not isinstance(notebook_id, bool):
        raise ExperimentError(f"{where}: id must be a quoted string (write \"{notebook_id:02d}\")")
    notebook_id = _typed(notebook_id, str, f"{where}: id")
    if not _NAME_RE.match(notebook_id) or "." in notebook_id:
        raise ExperimentError(f"{where}: id {notebook_id!r} must be letters, digits, '-' or '_'")
    notebook = _typed(item["notebook"], str, f"{where}: notebook")
    if not notebook.endswith(".ipynb"):
        raise ExperimentError(f"{where}: notebook {notebook!r} is not an .ipynb file")
    timeout = item.get("timeout_s")
    if timeout is not None and (not isinstance(timeout, int) or isinstance(timeout, bool)
                                or timeout <= 0):
        raise ExperimentError(f"{where}: timeout_s must be a positive integer, got {timeout!r}")
    return NotebookSpec(
        id=notebook_id,
        notebook=notebook,
        parameters=_parameters(item.get("parameters", {}), f"{where}: parameters"),
        timeout_s=timeout,
    )


def _reject_unknown(data: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ExperimentError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def _typed(value: Any, kind: type, where: str) -> Any:
    if not isinstance(value, kind):
        raise ExperimentError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value


def _parameters(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ExperimentError(f"{where}: expected a mapping of NAME: value")
    for key in value:
        if not isinstance(key, str) or not _PARAM_RE.match(key):
            raise ExperimentError(f"{where}: {key!r} is not a valid parameter name")
    return dict(value)


def _required(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ExperimentError(f"{where}: expected a mapping of NAME: what it is")
    for key, text in value.items():
        if not isinstance(key, str) or not _PARAM_RE.match(key):
            raise ExperimentError(f"{where}: {key!r} is not a valid parameter name")
        if not isinstance(text, str):
            raise ExperimentError(f"{where}: {key}: expected a text saying what to set")
    return dict(value)


@dataclass(frozen=True)
class Override:
    """A ``--set`` value: ``KEY=VALUE`` (``notebook`` None) or ``ID.KEY=VALUE``.

    ``raw`` keeps the text after ``=`` so a parameter declared ``str`` gets it verbatim
    (YAML would turn ``01`` into the integer 1); ``value`` is the YAML-parsed value.
    """

    key: str
    raw: str
    value: Any
    notebook: str | None = None

    @property
    def text(self) -> str:
        prefix = f"{self.notebook}." if self.notebook else ""
        return f"{prefix}{self.key}={self.raw}"


_OVERRIDE_RE = re.compile(r"^(?:(?P<nb>[A-Za-z0-9_-]+)\.)?(?P<key>[A-Za-z_][A-Za-z0-9_]*)=(?P<raw>.*)$",
                          re.DOTALL)


def parse_override(text: str) -> Override:
    """Parse ``KEY=VALUE`` or ``ID.KEY=VALUE``; the value is read as YAML (``10`` -> int)."""
    match = _OVERRIDE_RE.match(text)
    if not match:
        raise ExperimentError(
            f"override {text!r} is not KEY=VALUE or ID.KEY=VALUE (e.g. NUM_ITERS=10, 02.NUM_ITERS=10)"
        )
    raw = match["raw"]
    if raw.strip() == "":
        value: Any = ""
    else:
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
    return Override(key=match["key"], raw=raw, value=value, notebook=match["nb"])


def parse_only(text: str | None, experiment: Experiment) -> list[str]:
    """Turn ``"02,03"`` into validated ids in experiment order; None/empty selects all."""
    if not text:
        return experiment.ids()
    wanted = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [i for i in wanted if i not in experiment.ids()]
    if unknown:
        raise ExperimentError(
            f"--only: experiment {experiment.name!r} has no notebook(s) {unknown}; ids: {experiment.ids()}"
        )
    return [i for i in experiment.ids() if i in wanted]
