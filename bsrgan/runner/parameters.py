"""Resolve and type-check the values a notebook receives.

Each notebook declares its parameters in one cell tagged ``parameters`` with annotations
(``NUM_ITERS: int = 200  # training iterations``); papermill reads them back with
``inspect_notebook``. A value for notebook ``N`` and parameter ``P`` comes from, first match wins:

1. ``--set N.P=V`` (command line, this notebook),
2. ``--set P=V`` (command line, every notebook that declares ``P``),
3. the notebook's ``parameters`` in the experiment file,
4. an output recorded by an earlier notebook of the run (:func:`bsrgan.runner.write_outputs`),
5. the experiment-wide ``parameters``,
6. the notebook's own default (nothing is injected).

Every value is checked against the declared type; a value for a parameter the notebook does not
declare is an error (it would be ignored silently otherwise).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bsrgan.runner.config import Experiment, ExperimentError, NotebookSpec, Override

#: Parameter every notebook must declare; the runner sets it to the notebook's output folder.
OUTPUT_DIR = "OUTPUT_DIR"


@dataclass(frozen=True)
class DeclaredParameter:
    """A parameter as written in a notebook's ``parameters`` cell."""

    name: str
    type_name: str  # annotation text, e.g. "int", "str | None"
    default: str  # source text of the default value
    help: str


def declared_parameters(notebook: Path) -> dict[str, DeclaredParameter]:
    """Parameters of ``notebook`` by name, read with papermill (no kernel is started)."""
    import papermill

    if not notebook.is_file():
        raise ExperimentError(f"notebook {notebook} does not exist")
    found = papermill.inspect_notebook(str(notebook))
    return {
        name: DeclaredParameter(
            name=name,
            type_name=str(info.get("inferred_type_name") or "None"),
            default=str(info.get("default", "")),
            help=str(info.get("help", "")),
        )
        for name, info in found.items()
    }


_OPTIONAL_RE = re.compile(r"^(?:Optional\[(?P<inner>.+)\]|(?P<a>.+?)\s*\|\s*None|None\s*\|\s*(?P<b>.+))$")
_GENERIC_RE = re.compile(r"^(?P<base>\w+)\[.*\]$")
_SIMPLE_TYPES: dict[str, type | tuple[type, ...]] = {
    "int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict,
    "tuple": (list, tuple),
}


def split_list(text: str) -> list[str]:
    """One string given for a list parameter: ``"realsrset"`` -> ``["realsrset"]`` (never a list
    of characters), ``"a, b"`` -> ``["a", "b"]``."""
    return [part.strip() for part in text.split(",") if part.strip()]


def coerce(value: Any, type_name: str, *, raw: str | None = None, where: str) -> Any:
    """Return ``value`` converted to the annotated type, or raise :class:`ExperimentError`.

    ``raw`` (command-line text) is used verbatim for ``str`` parameters. Conversions are the
    lossless ones only: int -> float, numeric text -> float (YAML 1.1 reads ``1e-4`` as text),
    and one string for a list parameter -> a list (split at commas: ``realsrset`` ->
    ``["realsrset"]``, never a list of characters). Unknown annotations pass through unchecked.
    """
    type_name = type_name.strip()
    optional = _OPTIONAL_RE.match(type_name)
    if optional:
        if value is None or (raw is not None and raw.strip() in ("None", "null", "~")):
            return None
        inner = optional["inner"] or optional["a"] or optional["b"]
        return coerce(value, inner, raw=raw, where=where)
    generic = _GENERIC_RE.match(type_name)
    base = generic["base"] if generic else type_name
    base = {"List": "list", "Dict": "dict", "Tuple": "tuple"}.get(base, base)
    if base not in _SIMPLE_TYPES:
        return value
    if base == "str":
        if raw is not None:
            text = raw.strip()
            if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
                text = text[1:-1]
            return text
        if isinstance(value, str):
            return value
    elif base == "bool":
        if isinstance(value, bool):
            return value
    elif base == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif base == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif isinstance(value, _SIMPLE_TYPES[base]):
        return list(value) if base == "tuple" else value
    elif base in ("list", "tuple") and isinstance(value, str):
        return split_list(value)
    hint = " (quote it)" if base == "str" else ""
    raise ExperimentError(f"{where}: expects {type_name}, got {type(value).__name__} {value!r}{hint}")


@dataclass(frozen=True)
class ResolvedParameters:
    """What one notebook receives: injected values plus where each came from."""

    values: dict[str, Any]
    sources: dict[str, str]  # name -> "cli", "experiment:notebook", "output:<id>", ...


def resolve_parameters(
    experiment: Experiment,
    spec: NotebookSpec,
    declared: dict[str, DeclaredParameter],
    overrides: list[Override],
    upstream: dict[str, tuple[str, Any]],
    output_dir: Path,
) -> ResolvedParameters:
    """Combine the sources listed in the module docstring for one notebook.

    Args:
        upstream: outputs of earlier notebooks, ``name -> (notebook id, value)``.
        output_dir: the notebook's output folder, injected as ``OUTPUT_DIR``.
    """
    where_nb = f"notebook {spec.id} ({spec.notebook})"
    if OUTPUT_DIR not in declared:
        raise ExperimentError(
            f"{where_nb} declares no {OUTPUT_DIR} parameter; the runner needs it to place the "
            f"notebook's results in the run folder"
        )
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}

    def put(name: str, value: Any, source: str, raw: str | None = None) -> None:
        if name == OUTPUT_DIR:
            raise ExperimentError(
                f"{where_nb}: {OUTPUT_DIR} is set by the runner (use --out for the run folder)"
            )
        if name not in declared:
            raise ExperimentError(
                f"{where_nb} has no parameter {name!r} (from {source}); declared: {sorted(declared)}"
            )
        values[name] = coerce(value, declared[name].type_name, raw=raw,
                              where=f"{where_nb}, parameter {name} (from {source})")
        sources[name] = source

    for name, value in experiment.parameters.items():
        if name in declared and name != OUTPUT_DIR:
            put(name, value, "experiment:parameters")
    for name, (producer, value) in upstream.items():
        if name in declared and name != OUTPUT_DIR:
            put(name, value, f"output:{producer}")
    for name, value in spec.parameters.items():
        put(name, value, f"experiment:notebooks[{spec.id}]")
    for override in overrides:
        if override.notebook is None and override.key in declared:
            put(override.key, override.value, f"--set {override.text}", raw=override.raw)
    for override in overrides:
        if override.notebook == spec.id:
            put(override.key, override.value, f"--set {override.text}", raw=override.raw)
    values[OUTPUT_DIR] = str(output_dir)
    sources[OUTPUT_DIR] = "runner"
    return ResolvedParameters(values=values, sources=sources)


def check_shared_parameters(
    experiment: Experiment,
    declared_by_id: dict[str, dict[str, DeclaredParameter]],
    overrides: list[Override],
    selected: list[str],
) -> None:
    """Reject shared parameters and global overrides that no notebook declares (typos)."""
    everywhere = set().union(*declared_by_id.values()) if declared_by_id else set()
    for name in experiment.parameters:
        if name not in everywhere:
            raise ExperimentError(
                f"experiment parameter {name!r} is declared by none of the notebooks "
                f"{experiment.ids()}"
            )
    selected_names = set().union(*(declared_by_id[i] for i in selected)) if selected else set()
    for override in overrides:
        if override.notebook is not None:
            if override.notebook not in experiment.ids():
                raise ExperimentError(
                    f"--set {override.text}: no notebook {override.notebook!r}; ids: {experiment.ids()}"
                )
            if override.notebook not in selected:
                raise ExperimentError(
                    f"--set {override.text}: notebook {override.notebook} is not selected by --only"
                )
        elif override.key not in selected_names:
            raise ExperimentError(
                f"--set {override.text}: no selected notebook declares {override.key!r}"
            )
