"""Execute an experiment's notebooks with papermill, in order, into one run folder.

Layout of a run folder ``<results_dir>/<name>/<run-id>/``::

    run.json                      provenance, parameters, timings, status (rewritten after each notebook)
    01_degradation_model.ipynb    the executed notebook (partially executed when it failed)
    01_degradation_model/         its OUTPUT_DIR: figures, tables, outputs.json
    02_train_bsrnet.ipynb
    02_train_bsrnet/
    ...

On the first failing notebook the run stops; the partially executed notebook stays in place,
``run.json`` records the failing cell, and :class:`RunResult` carries a non-zero exit code.
Rerunning with ``--out <run folder> --only 03`` reuses the outputs (e.g. weights) that earlier
notebooks recorded in that folder.
"""
from __future__ import annotations

import ast
import contextlib
import datetime as dt
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bsrgan.assets.verify import sha256_file
from bsrgan.runner.checks import (
    CheckContext,
    ParameterError,
    absolute_paths,
    literal_default,
    notebook_checks,
    problems_in,
)
from bsrgan.runner.config import Experiment, NotebookSpec, Override, parse_only
from bsrgan.runner.outputs import read_outputs
from bsrgan.runner.parameters import (
    ResolvedParameters,
    check_shared_parameters,
    declared_parameters,
    resolve_parameters,
)
from bsrgan.runner.provenance import device_info, environment_flags, git_info, package_versions
from bsrgan.runner.record import read_record
from bsrgan.utils.atomic import atomic_write_text

RUN_FILE = "run.json"
#: papermill tags on the cells it adds to an executed notebook (not part of the source).
_PAPERMILL_TAGS = {"injected-parameters", "papermill-error-cell-tag"}
_INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


@dataclass
class NotebookFailure:
    """Where and why a notebook stopped."""

    ename: str
    evalue: str
    cell_index: int | None = None  # papermill's index while executing (injected cell counted)
    source_cell_index: int | None = None  # index in the source notebook
    exec_count: int | None = None
    source: str = ""


@dataclass
class NotebookRecord:
    """One executed notebook in ``run.json`` (paths relative to the run folder)."""

    id: str
    notebook: str
    output_notebook: str
    output_dir: str
    status: str = "pending"  # pending | running | ok | failed | interrupted
    started: str | None = None
    seconds: float | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    git_sha: str | None = None
    notebook_sha256: str | None = None  # the source notebook as executed
    record: dict[str, Any] = field(default_factory=dict)  # metrics, configs, datasets, weights
    error: NotebookFailure | None = None


@dataclass
class RunResult:
    """What :func:`run_experiment` did."""

    run_dir: Path
    status: str  # ok | failed | interrupted
    records: list[NotebookRecord]

    @property
    def exit_code(self) -> int:
        return 0 if self.status == "ok" else 1

    @property
    def failed(self) -> NotebookRecord | None:
        return next((r for r in self.records if r.status == "failed"), None)


def new_run_id(now: dt.datetime | None = None) -> str:
    """A sortable run id from the UTC time, e.g. ``20261128-064512``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y%m%d-%H%M%S")


def plan_run(
    experiment: Experiment,
    *,
    overrides: list[Override] | None = None,
    only: str | None = None,
    run_dir: str | os.PathLike[str] | None = None,
) -> dict[str, ResolvedParameters]:
    """Validate a run without executing it: the parameters each selected notebook would get.

    Values that earlier notebooks will produce at run time are not known yet (their parameters
    show the notebook defaults here). Raises :class:`ExperimentError` exactly where
    :func:`run_experiment` would, before it runs anything.
    """
    return _plan(experiment, list(overrides or []), only, run_dir)[0]


def _plan(experiment: Experiment, overrides: list[Override], only: str | None,
          run_dir: str | os.PathLike[str] | None) -> tuple[dict[str, ResolvedParameters], dict]:
    """:func:`plan_run`, plus every notebook's declared parameters (parsed once, reused by the run).

    Checks types, then values (:mod:`bsrgan.runner.checks`) of every selected notebook, and
    raises one :class:`ParameterError` listing every bad value before anything runs.
    """
    selected = parse_only(only, experiment)
    declared = {spec.id: declared_parameters(experiment.notebook_path(spec))
                for spec in experiment.notebooks}
    check_shared_parameters(experiment, declared, overrides, selected)
    root = Path(run_dir).resolve() if run_dir is not None else \
        experiment.results_root() / "<run-id>"
    upstream: dict[str, tuple[str, Any]] = {}
    for spec in experiment.notebooks:  # outputs already recorded in a reused run folder
        if spec.id not in selected and run_dir is not None:
            for name, value in read_outputs(root / spec.stem).items():
                upstream[name] = (spec.id, value)
    plan: dict[str, ResolvedParameters] = {}
    produced: set[str] = set()  # parameters earlier selected notebooks will hand on
    reports: list[str] = []
    for spec in experiment.notebooks:
        if spec.id not in selected:
            continue
        output_dir = root / spec.stem
        resolved = _resolve(experiment, spec, declared[spec.id], overrides, upstream, output_dir)
        plan[spec.id] = resolved
        explicit = {n for n, src in resolved.sources.items()
                    if src.startswith(("--set", "experiment:notebooks"))}
        values = {name: literal_default(p.default) for name, p in declared[spec.id].items()}
        values.update(resolved.values)
        # an empty required parameter is reported once, below, not again by each notebook's rules
        pending = (produced - explicit) | _empty_required(experiment, resolved)
        ctx = CheckContext(base_dir=output_dir, pending=frozenset(pending))
        problems = problems_in(spec.notebook, values, ctx)
        if problems:
            reports.append(_problem_report(spec, problems, resolved))
        checks = notebook_checks(spec.notebook)
        if checks is not None:
            produced |= set(checks.produces)
    reports = _missing_required(experiment, plan) + reports
    if reports:
        raise ParameterError("bad parameter values; nothing was run:\n" + "\n".join(reports))
    return plan, declared


def _empty_required(experiment: Experiment, resolved: ResolvedParameters) -> set[str]:
    return {name for name in experiment.required
            if name in resolved.values and resolved.values[name] in ("", None, [], {})}


def _missing_required(experiment: Experiment, plan: dict[str, ResolvedParameters]) -> list[str]:
    """One line per required parameter left empty in a selected notebook that declares it."""
    lines = []
    for name, what in experiment.required.items():
        empty = [i for i, resolved in plan.items() if name in _empty_required(experiment, resolved)]
        if empty:
            lines.append(f"experiment {experiment.name!r} needs {name} (empty for notebook(s) "
                         f"{', '.join(empty)}): {what}. Set it with --set {name}=VALUE")
    return lines


def _resolve(experiment: Experiment, spec: NotebookSpec, declared: dict,
             overrides: list[Override], upstream: dict[str, tuple[str, Any]],
             output_dir: Path) -> ResolvedParameters:
    """:func:`resolve_parameters` with relative paths made absolute where they were given:
    ``--set`` values against the folder ``bsrgan run`` started in, experiment-file values
    against the YAML file's folder (the kernel itself runs in ``output_dir``)."""
    resolved = resolve_parameters(experiment, spec, declared, overrides, upstream, output_dir)
    values = absolute_paths(spec.notebook, resolved.values, resolved.sources,
                            cli_dir=Path.cwd(), file_dir=experiment.base_dir)
    return ResolvedParameters(values=values, sources=resolved.sources)


def _problem_report(spec: NotebookSpec, problems: list[str], resolved: ResolvedParameters) -> str:
    """The problems of one notebook, and where each mentioned value came from."""
    lines = [f"[{spec.id}] {spec.notebook}:"]
    lines += [f"  - {problem}" for problem in problems]
    text = " ".join(problems)
    origins = [f"{name} from {source}" for name, source in resolved.sources.items()
               if name != "OUTPUT_DIR" and re.search(rf"\b{name}\b", text)]
    if origins:
        lines.append(f"    (given: {'; '.join(origins)})")
    return "\n".join(lines)


def run_experiment(
    experiment: Experiment,
    *,
    overrides: list[Override] | None = None,
    only: str | None = None,
    out: str | os.PathLike[str] | None = None,
    log_output: bool = False,
    kernel_name: str | None = None,
    command: list[str] | None = None,
    stream: TextIO | None = None,
    err_stream: TextIO | None = None,
) -> RunResult:
    """Run the selected notebooks of ``experiment`` in order; see the module docstring.

    Args:
        overrides: ``--set`` values (:func:`bsrgan.runner.parse_override`).
        only: comma-separated notebook ids (``"02,03"``); None runs all.
        out: run folder (default ``<results_dir>/<name>/<new run id>``); an existing folder is
            reused: notebooks not selected keep their records and pass on their outputs.
        log_output: stream the notebooks' cell outputs through papermill's logger.
        kernel_name: Jupyter kernel (default: the notebook's own kernelspec, ``python3``).
        command: the command line, recorded in ``run.json``.
    Raises:
        ExperimentError: invalid selection, parameters or overrides (before anything runs).
    """
    stream = stream or sys.stdout
    err_stream = err_stream or sys.stderr
    overrides = list(overrides or [])
    run_dir = Path(out).resolve() if out is not None else _fresh_run_dir(experiment.results_root())
    # Validate every selected notebook's parameters before spending time on the first one.
    plan, declared = _plan(experiment, overrides, only, run_dir)
    selected = list(plan)
    project_root = _project_root(experiment)
    previous = _load_previous(run_dir)

    git = git_info(project_root)
    records: dict[str, NotebookRecord] = {}
    upstream: dict[str, tuple[str, Any]] = {}
    for spec in experiment.notebooks:
        if spec.id in selected:
            records[spec.id] = NotebookRecord(
                id=spec.id,
                notebook=_relative(experiment.notebook_path(spec), project_root),
                output_notebook=f"{spec.stem}.ipynb",
                output_dir=spec.stem,
            )
        else:
            if spec.id in previous:
                records[spec.id] = previous[spec.id]
            for name, value in read_outputs(run_dir / spec.stem).items():
                upstream[name] = (spec.id, value)

    run_info: dict[str, Any] = {
        "experiment": experiment.name,
        "description": experiment.description,
        "run_id": run_dir.name,
        "status": "running",
        "started": _now(),
        "finished": None,
        "seconds": None,
        "command": _portable({"command": command}, run_dir, project_root)["command"],
        "overrides": [o.text for o in overrides],
        "only": selected,
        "git": git,
        "packages": package_versions(),
        "device": device_info(),
        "environment": environment_flags(),
        "config": experiment.to_dict(),
        "experiment_file": _experiment_file(experiment, project_root),
        "previous_invocations": _previous_invocations(run_dir),
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    print(f"run {experiment.name} -> {_display(run_dir)}", file=stream)
    t_run = time.perf_counter()
    status = "ok"
    for spec in experiment.notebooks:
        if spec.id not in selected:
            continue
        record = records[spec.id]
        output_dir = run_dir / spec.stem
        output_dir.mkdir(parents=True, exist_ok=True)
        resolved = _resolve(experiment, spec, declared[spec.id], overrides, upstream, output_dir)
        record.parameters = _portable(resolved.values, run_dir, project_root)
        record.sources = resolved.sources
        record.defaults = {name: p.default for name, p in declared[spec.id].items()
                           if name not in resolved.values}
        record.status, record.started, record.git_sha = "running", _now(), git["sha"]
        record.notebook_sha256 = sha256_file(experiment.notebook_path(spec))
        _write_run(run_dir, run_info, records)
        shown = ", ".join(f"{k}={v!r}" for k, v in record.parameters.items() if k != "OUTPUT_DIR")
        print(f"[{spec.id}] {spec.notebook} {shown}", file=stream, flush=True)
        t0 = time.perf_counter()
        try:
            _execute(experiment.notebook_path(spec), run_dir / record.output_notebook,
                     resolved.values, cwd=output_dir, timeout_s=spec.timeout_s,
                     log_output=log_output, kernel_name=kernel_name)
        except KeyboardInterrupt:
            record.status, record.seconds = "interrupted", round(time.perf_counter() - t0, 3)
            run_info.update(status="interrupted", finished=_now())
            _write_run(run_dir, run_info, records)
            print(f"[{spec.id}] interrupted after {record.seconds:.1f} s; partially executed "
                  f"notebook: {_display(run_dir / record.output_notebook)}", file=err_stream,
                  flush=True)
            raise
        except Exception as exc:  # noqa: BLE001 - any failure stops the run and is reported
            record.seconds = round(time.perf_counter() - t0, 3)
            record.status = "failed"
            record.error = _failure(exc, run_dir / record.output_notebook)
            status = "failed"
            _report_failure(record, run_dir, err_stream)
            break
        record.seconds = round(time.perf_counter() - t0, 3)
        record.status = "ok"
        outputs = read_outputs(output_dir)
        record.outputs = _portable(outputs, run_dir, project_root)
        record.record = _portable(read_record(output_dir), run_dir, project_root)
        for name, value in outputs.items():
            upstream[name] = (spec.id, value)
        print(f"[{spec.id}] ok in {record.seconds:.1f} s", file=stream, flush=True)
        _write_run(run_dir, run_info, records)

    run_info.update(status=status, finished=_now(), seconds=round(time.perf_counter() - t_run, 3))
    _write_run(run_dir, run_info, records)
    print(f"run {status} in {run_info['seconds']:.1f} s; results in {_display(run_dir)}",
          file=stream, flush=True)
    for record in records.values():
        summary = run_dir / record.output_dir / "summary.md"
        if record.status == "ok" and summary.is_file():
            print(f"  [{record.id}] {_display(summary)}", file=stream, flush=True)
    return RunResult(run_dir=run_dir, status=status, records=list(records.values()))


def _execute(source: Path, target: Path, parameters: dict[str, Any], *, cwd: Path,
             timeout_s: int | None, log_output: bool, kernel_name: str | None) -> None:
    import papermill

    # ipykernel warns at every start that its local TCP sockets are not encrypted: noise here.
    quiet = ["--IPKernelApp.log_level=ERROR"] if kernel_name in (None, "python3") else []
    with _inline_matplotlib():
        papermill.execute_notebook(
            str(source), str(target), parameters=parameters, cwd=str(cwd),
            kernel_name=kernel_name, progress_bar=False, log_output=log_output,
            execution_timeout=timeout_s, extra_arguments=quiet,
        )


@contextlib.contextmanager
def _inline_matplotlib() -> Iterator[None]:
    """Let the kernel use the inline backend so executed notebooks keep their figures.

    ``MPLBACKEND=Agg`` (set by ``make run`` for headless machines) would make every figure
    vanish from the executed notebook; the inline backend is headless too.
    """
    before = os.environ.get("MPLBACKEND")
    if before is not None and before.lower() == "agg":
        os.environ["MPLBACKEND"] = _INLINE_BACKEND
    try:
        yield
    finally:
        if before is not None:
            os.environ["MPLBACKEND"] = before


def _failure(exc: BaseException, executed: Path) -> NotebookFailure:
    """Describe ``exc``; papermill's execution errors carry the cell and the exception."""
    import papermill

    if isinstance(exc, papermill.PapermillExecutionError):
        failure = NotebookFailure(
            ename=str(exc.ename), evalue=str(exc.evalue), cell_index=exc.cell_index,
            exec_count=exc.exec_count, source=str(exc.source),
        )
        failure.source_cell_index = _source_cell_index(executed)
        return failure
    return NotebookFailure(ename=type(exc).__name__, evalue=str(exc))


def _source_cell_index(executed: Path) -> int | None:
    """Index, in the source notebook, of the cell papermill marked as failed in ``executed``."""
    if not executed.is_file():
        return None
    try:
        cells = json.loads(executed.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return None
    index = 0
    for cell in cells:
        metadata = cell.get("metadata", {})
        if set(metadata.get("tags", [])) & _PAPERMILL_TAGS:
            continue  # cells papermill added: injected parameters, error banners
        if metadata.get("papermill", {}).get("status") == "failed":
            return index
        index += 1
    return None


def _report_failure(record: NotebookRecord, run_dir: Path, err: TextIO) -> None:
    failure = record.error
    assert failure is not None
    lines = [f"[{record.id}] FAILED after {record.seconds:.1f} s: {failure.ename}: {failure.evalue}"]
    if failure.cell_index is not None:
        where = f"cell {failure.source_cell_index}" if failure.source_cell_index is not None \
            else f"cell {failure.cell_index} (counting the injected parameters cell)"
        count = f" (In [{failure.exec_count}])" if failure.exec_count is not None else ""
        lines.append(f"  in {where}{count} of {record.notebook}:")
        source_lines = failure.source.splitlines()
        lines += [f"    | {line}" for line in source_lines[:20]]
        if len(source_lines) > 20:
            lines.append(f"    | ... ({len(source_lines) - 20} more lines)")
    lines.append(f"  partially executed notebook: {_display(run_dir / record.output_notebook)}")
    lines.append(f"  run record: {_display(run_dir / RUN_FILE)}")
    print("\n".join(lines), file=err, flush=True)


_INVOCATION_KEYS = ("started", "finished", "seconds", "status", "command", "overrides", "only")


def _write_run(run_dir: Path, run_info: dict[str, Any], records: dict[str, NotebookRecord]) -> None:
    data = dict(run_info)
    current = {key: run_info.get(key) for key in _INVOCATION_KEYS}
    current["git_sha"] = (run_info.get("git") or {}).get("sha")
    data["invocations"] = [*data.pop("previous_invocations", []), current]
    data["notebooks"] = [asdict(r) for r in records.values()]
    data["seeds"] = {r.id: _seeds(r) for r in records.values() if _seeds(r)}
    data["metrics"] = {r.id: r.record.get("metrics") for r in records.values()
                       if r.record.get("metrics")}
    atomic_write_text(run_dir / RUN_FILE, json.dumps(data, indent=2, default=str) + "\n")


def _seeds(record: NotebookRecord) -> dict[str, Any]:
    """Every parameter named ``SEED`` or ``*_SEED``, injected or default."""
    seeds: dict[str, Any] = {}
    for name, value in {**record.defaults, **record.parameters}.items():
        if name == "SEED" or name.endswith("_SEED"):
            if name in record.defaults and name not in record.parameters:
                with contextlib.suppress(ValueError, SyntaxError):
                    value = ast.literal_eval(value)
            seeds[name] = value
    return seeds


def _previous_invocations(run_dir: Path) -> list[dict[str, Any]]:
    """Earlier ``bsrgan run`` calls into this folder, oldest first (from its run.json)."""
    path = run_dir / RUN_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    invocations = data.get("invocations")
    if isinstance(invocations, list):
        return invocations
    return [{key: data.get(key) for key in _INVOCATION_KEYS}]


def _load_previous(run_dir: Path) -> dict[str, NotebookRecord]:
    """Records of an earlier run into the same folder (reused for notebooks not rerun)."""
    path = run_dir / RUN_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        records = {}
        for item in data.get("notebooks", []):
            error = item.pop("error", None)
            record = NotebookRecord(**item)
            record.error = NotebookFailure(**error) if error else None
            records[record.id] = record
        return records
    except (ValueError, TypeError, KeyError):
        return {}


def _experiment_file(experiment: Experiment, project_root: Path) -> dict[str, Any] | None:
    """Path (relative to the project) and sha256 of the experiment's YAML file."""
    if experiment.source is None or not experiment.source.is_file():
        return None
    return {"path": _relative(experiment.source, project_root),
            "sha256": sha256_file(experiment.source)}


def _fresh_run_dir(root: Path) -> Path:
    run_id = new_run_id()
    candidate, n = root / run_id, 2
    while candidate.exists():
        candidate, n = root / f"{run_id}-{n}", n + 1
    return candidate


def _project_root(experiment: Experiment) -> Path:
    """The folder above ``notebook_dir`` (the repository root for this repo's experiments)."""
    return (experiment.base_dir / experiment.notebook_dir).resolve().parent


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def _portable(values: dict[str, Any], run_dir: Path, project_root: Path) -> dict[str, Any]:
    """Replace absolute paths by paths relative to the run folder / project / home."""
    home = Path.home()

    def convert(value: Any) -> Any:
        if isinstance(value, str) and os.path.isabs(value):
            path = Path(value)
            for root, prefix in ((run_dir, ""), (project_root, "<project>/"), (home, "~/")):
                try:
                    rel = path.resolve().relative_to(root.resolve())
                except ValueError:
                    continue
                return f"{prefix}{rel}" if str(rel) != "." else (prefix.rstrip("/") or ".")
            return value
        if isinstance(value, list):
            return [convert(v) for v in value]
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        return value

    return {name: convert(value) for name, value in values.items()}


def _display(path: Path) -> str:
    """``path`` relative to the current folder when below it (shorter messages)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


__all__ = [
    "RUN_FILE",
    "NotebookFailure",
    "NotebookRecord",
    "RunResult",
    "new_run_id",
    "plan_run",
    "run_experiment",
]
