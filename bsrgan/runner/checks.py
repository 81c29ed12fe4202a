"""Value checks for notebook parameters: ranges, relations, known names, existing paths.

Types are checked by :func:`bsrgan.runner.parameters.coerce`; this module checks what the values
mean, before anything runs. The same rules serve two callers:

- ``bsrgan run --dry-run`` (and every ``bsrgan run`` before its first notebook) checks every
  selected notebook of the experiment;
- each notebook's first code cell calls :func:`check_parameters`, so a plain papermill or
  Jupyter run fails at its first cell too, not hours later.

A notebook's rules are a :class:`NotebookChecks`, registered by notebook name in
:mod:`bsrgan.runner.notebook_checks`. Every problem found is reported at once, each naming its
parameter; a misspelled model, dataset or method name is always an error.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bsrgan.runner.config import ExperimentError
from bsrgan.runner.parameters import split_list


class ParameterError(ExperimentError):
    """One or more notebook parameters have bad values; the message names each parameter."""


@dataclass(frozen=True)
class CheckContext:
    """What a rule may need besides the values.

    Attributes:
        base_dir: folder that relative paths resolve against (the notebook's working folder).
        pending: parameters an earlier notebook of the same run will produce (their values are
            not known yet, so their rules are skipped).
    """

    base_dir: Path = field(default_factory=Path.cwd)
    pending: frozenset[str] = frozenset()

    def path(self, value: str) -> Path:
        path = Path(os.path.expanduser(value))
        return path if path.is_absolute() else self.base_dir / path


@dataclass(frozen=True)
class Keywords:
    """Names for a parameter that is otherwise always a path (e.g. ``HR_DIR="embedded"``):
    every other value is a path, made absolute by ``bsrgan run`` even when it does not exist
    yet (so the error names the folder it was looked for in)."""

    words: tuple[str, ...] | Callable[[], Iterable[str]]  # the words, or a function listing them

    def __call__(self) -> tuple[str, ...]:
        return tuple(self.words() if callable(self.words) else self.words)


#: A rule looks at the values and returns problems (sentences that name the parameter).
Rule = Callable[[Mapping[str, Any], CheckContext], list[str]]


@dataclass(frozen=True)
class NotebookChecks:
    """The value rules of one notebook.

    Attributes:
        parameters: every parameter the notebook declares (a test keeps this in sync).
        rules: checks run in order; a rule whose parameters are missing or pending is skipped.
        lists: list parameters that also accept one string (``"a,b"`` -> ``["a", "b"]``).
        paths: parameters holding paths (or, per item for lists, paths or registry names):
            name -> function returning the known names (None: always a path). ``bsrgan run``
            makes relative ones absolute against the folder they were given in.
        produces: parameters the notebook hands to later notebooks (``write_outputs``).
        final: rules run only when ``rules`` found nothing (whole-config checks that would
            repeat their messages).
    """

    parameters: tuple[str, ...]
    rules: tuple[Rule, ...] = ()
    final: tuple[Rule, ...] = ()
    lists: tuple[str, ...] = ()
    paths: Mapping[str, Callable[[], Iterable[str]] | None] = field(default_factory=dict)
    produces: tuple[str, ...] = ()


# --------------------------------------------------------------------------- rule builders


def _ready(values: Mapping[str, Any], ctx: CheckContext, *names: str) -> bool:
    return all(n in values and n not in ctx.pending for n in names)


def integer(name: str, *, low: int | None = None, high: int | None = None,
            multiple_of: int | None = None, why: str = "") -> Rule:
    """``low <= value <= high`` (either bound optional), optionally a multiple of a number."""
    def rule(values: Mapping[str, Any], ctx: CheckContext) -> list[str]:
        if not _ready(values, ctx, name):
            return []
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{name}={value!r} must be an integer"]
        problems = []
        if low is not None and value < low:
            problems.append(f"{name}={value} must be >= {low}")
        if high is not None and value > high:
            problems.append(f"{name}={value} must be <= {high}")
        if multiple_of and value % multiple_of:
            problems.append(f"{name}={value} must be a multiple of {multiple_of}")
        return [p + (f" ({why})" if why else "") for p in problems]
    return rule


def number(name: str, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False, why: str = "") -> Rule:
    """A real number in a (half-)open or closed interval."""
    def rule(values: Mapping[str, Any], ctx: CheckContext) -> list[str]:
        if not _ready(values, ctx, name):
            return []
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return [f"{name}={value!r} must be a number"]
        bad = ((low is not None and (value <= low if low_open else value < low))
               or (high is not None and (value >= high if high_open else value > high)))
        if not bad:
            return []
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        interval = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        return [f"{name}={value} must be in {interval}" + (f" ({why})" if why else "")]
    return rule


def at_least_times(name: str, other: str, factor: int, *, why: str = "") -> Rule:
    """``values[name] >= factor * values[other]`` (e.g. HR_CROP >= 4 * LQ_PATCH)."""
    def rule(values: Mapping[str, Any], ctx: CheckContext) -> list[str]:
        if not _ready(values, ctx, name, other):
            return []
        a, b = values[name], values[other]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b)):
            return []  # the type rules report it
        if a >= factor * b:
            return []
        return [f"{name}={a} must be >= {factor} * {other} (= {factor * b})"
                + (f" ({why})" if why else "")]
    return rule


def choice(name: str, choices: Callable[[], Iterable[str]], *, what: str = "value") -> Rule:
    """One of a registry's names (looked up when the rule runs)."""
    def rule(values: Mapping[str, Any], ctx: CheckContext) -> list[str]:
        if not _ready(values, ctx, name):
            return []
        known = sorted(choices())
        if values[name] in known:
            return []
        return [f"{name}={values[name]!r} is not a known {what}; choose one of {known}"
                + _did_you_mean(values[name], known)]
    return rule


def items(name: str, choices: Callable[[], Iterable[str]], *, what: str,
          paths: str | None = None, allow_empty: bool = False, separator: str | None = None
          ) -> Rule:
    """Every item of a list (or of a ``separator``-joined string) is a known name, or, with
    ``paths="dir"`` / ``"file"``, an existing folder / file."""
    def rule(values: Mapping[str, Any], ctx: CheckContext) -> list[str]:
        if not _ready(values, ctx, name):
            return []
        value = values[name]
        if separator is not None and isinstance(value, str):
            value = [part.strip() for part in value.split(separator) if part.strip()]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            return [f"{name}={value!r} must be a list"]
        if not value and not allow_empty:
            return [f"{name} is empty; give at least one {what}"]
        known = sorted(choices())
        problems = []
        for item in value:
            if not isinstance(item, str):
                problems.append(f"{name}: item {item!r} must be a string")
            elif item in known or paths and _exists(ctx.path(item), paths):
                continue
            else:
                also = f" nor an existing {'folder' if paths == 'dir' else 'file'}" if paths else ""
                problems.append(f"{name}: {item!r} is not a known {what}{also}; known: {known}"
                                + _did_you_mean(item, known))
        return problems
    return rule


def path(name: str, kind: str, *, empty_ok: bool = True,
         names: Callable[[], Iterable[str]] | None = None, what: str = "name") -> Rule:
    """An existing folder (``kind="dir"``), file (``"file"``) or either (``"any"``); ``""``
    allowed with ``empty_ok``; with ``names``, a registry name is accepted instead of a path."""
    def rule(values: Mapping[str, Any], ctx: CheckContext) -> list[str]:
        if not _ready(values, ctx, name):
            return []
        value = values[name]
        if not isinstance(value, str):
            return [f"{name}={value!r} must be a string"]
        known = sorted(names()) if names else []
        if value == "":
            return [] if empty_ok else [f"{name} is empty: give a {_THINGS[kind]}"
                                        + (f" or one of {known}" if known else "")]
        if value in known or _exists(ctx.path(value), kind):
            return []
        thing = _THINGS[kind]
        where = "" if Path(value).is_absolute() else f" (relative to {ctx.base_dir})"
        also = f" nor a known {what} ({known})" if names else ""
        return [f"{name}={value!r}: no such {thing}{where}{also}"
                + (_did_you_mean(value, known) if names else "")]
    return rule


def custom(names: Sequence[str], check: Callable[..., list[str]]) -> Rule:
    """``check(values, ctx)`` run only when every parameter in ``names`` is known."""
    def rule(values: Mapping[str, Any], ctx: CheckContext) -> list[str]:
        if not _ready(values, ctx, *names):
            return []
        return check(values, ctx)
    return rule


_THINGS = {"dir": "folder", "file": "file", "any": "file or folder"}


def _exists(path: Path, kind: str) -> bool:
    return {"dir": path.is_dir, "file": path.is_file, "any": path.exists}[kind]()


def _did_you_mean(value: Any, known: Sequence[str]) -> str:
    import difflib

    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --------------------------------------------------------------------------- running the rules


def as_list(value: Any) -> Any:
    """A list parameter given as one string: ``"a"`` -> ``["a"]``, ``"a, b"`` -> ``["a", "b"]``
    (:func:`bsrgan.runner.parameters.split_list`); a tuple -> a list; anything else unchanged."""
    if isinstance(value, str):
        return split_list(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def notebook_checks(notebook: str) -> NotebookChecks | None:
    """The rules registered for a notebook (by file name or stem), None when it has none."""
    from bsrgan.runner.notebook_checks import NOTEBOOK_CHECKS

    return NOTEBOOK_CHECKS.get(Path(notebook).stem)


def problems_in(notebook: str, values: Mapping[str, Any], ctx: CheckContext) -> list[str]:
    """Every problem the rules of ``notebook`` find in ``values`` (lists already normalised)."""
    checks = notebook_checks(notebook)
    if checks is None:
        return []
    problems: list[str] = []
    for rule in checks.rules:
        problems.extend(rule(values, ctx))
    if not problems:
        for rule in checks.final:
            problems.extend(rule(values, ctx))
    return problems


def check_parameters(notebook: str, namespace: MutableMapping[str, Any], *,
                     base_dir: str | os.PathLike[str] | None = None,
                     pending: Iterable[str] = ()) -> dict[str, Any]:
    """Check a notebook's parameter values; call it in the notebook's first code cell.

    ``check_parameters("02_train_bsrnet", globals())`` picks the notebook's parameters out of
    ``namespace``, turns a list parameter given as one string (papermill ``-p DATASETS
    realsrset``) into a list, writing it back into ``namespace``, and runs the notebook's rules.

    Returns:
        the notebook's parameters by name (normalised).
    Raises:
        ParameterError: naming the notebook and every parameter with a bad value.
    """
    checks = notebook_checks(notebook)
    if checks is None:
        raise ParameterError(f"no parameter checks are registered for notebook {notebook!r}")
    values = {name: namespace[name] for name in checks.parameters if name in namespace}
    for name in checks.lists:
        if name in values:
            values[name] = namespace[name] = as_list(values[name])
    ctx = CheckContext(base_dir=Path(base_dir) if base_dir is not None else Path.cwd(),
                       pending=frozenset(pending))
    problems = problems_in(notebook, values, ctx)
    if problems:
        raise ParameterError(_message(notebook, problems))
    return values


def _message(notebook: str, problems: list[str]) -> str:
    lines = [f"notebook {Path(notebook).stem}: {len(problems)} bad parameter value(s):"]
    lines += [f"  - {p}" for p in problems]
    return "\n".join(lines)


def absolute_paths(notebook: str, values: dict[str, Any], sources: Mapping[str, str], *,
                   cli_dir: Path, file_dir: Path) -> dict[str, Any]:
    """Make relative path values absolute against the folder they were given in.

    ``--set`` values resolve against ``cli_dir`` (where ``bsrgan run`` started), values from the
    experiment file against ``file_dir`` (the YAML file's folder), not the notebook's output
    folder, which is where the kernel runs. Registry names stay as they are; a parameter that
    takes a name or a path is treated as a path when it exists, contains a ``/`` or has a
    file suffix. For
    notebooks without registered rules, a relative string that names an existing file or
    folder is made absolute.
    """
    checks = notebook_checks(notebook)
    out = dict(values)
    for name, value in values.items():
        source = sources.get(name, "")
        if source.startswith("--set"):
            base = cli_dir
        elif source.startswith("experiment:"):
            base = file_dir
        else:
            continue
        if checks is not None and name in checks.paths:
            names_fn = checks.paths[name]
            if names_fn is None:  # always a path
                out[name] = _absolute(value, base, set(), always=True)
            elif isinstance(names_fn, Keywords):  # a path unless it is one of the words
                out[name] = _absolute(value, base, set(names_fn()), always=True)
            else:  # a registry name, or a path when it exists or looks like one
                out[name] = _absolute(value, base, set(names_fn()), always=False)
        elif checks is None or name not in checks.parameters:
            out[name] = _absolute(value, base, set(), always=False)
    return out


def _absolute(value: Any, base: Path, known: set[str], *, always: bool) -> Any:
    if isinstance(value, list):
        return [_absolute(v, base, known, always=always) for v in value]
    if not isinstance(value, str) or not value or value in known:
        return value
    path = Path(os.path.expanduser(value))
    if path.is_absolute():
        return str(path)
    candidate = base / path
    looks_like_path = os.sep in value or "/" in value or value.startswith(".") or bool(path.suffix)
    if always or looks_like_path or candidate.exists():
        return str(candidate.resolve())
    return value


def literal_default(text: str) -> Any:
    """A parameter default as written in the notebook (source text) -> its value, or the text."""
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
