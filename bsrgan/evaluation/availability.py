"""Step 1 of a comparison: which datasets, methods and metrics can be evaluated here, and why not.

One check, used by :func:`bsrgan.evaluation.evaluate` and by the notebooks, so that a notebook
never says "n/a" for something ``evaluate`` would have computed:

- it resolves files exactly as evaluation does (cache -> ``$BSRGAN_MIRRORS`` -> download, unless
  downloads are off), so an item is unavailable only when evaluation could not have it either;
- every reason is one line from the asset layer, which names ``BSRGAN_OFFLINE=1`` only when that
  variable is what stopped a download.

>>> from bsrgan.evaluation import check_availability
>>> report = check_availability(["realsrset"], ["bicubic", "bsrgan=published:bsrgan",
...                             "BSRGAN=model:BSRGAN"], "niqe,nrqm,pi")   # doctest: +SKIP
>>> report.table()              # item, kind, name, status, detail, reason   # doctest: +SKIP
>>> report.methods, report.metrics, report.datasets                          # doctest: +SKIP
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bsrgan.assets.verify import sha256_file_cached
from bsrgan.evaluation.datasets import DPED_DEFAULT_CROP, EvalDataset, load_dataset
from bsrgan.evaluation.methods import (
    MethodSpec,
    MethodSpecError,
    match_outputs,
    parse_method,
    published_files,
    published_methods,
    published_outputs,
)

STATUSES = ("available", "partial", "unavailable")


@dataclass(frozen=True)
class Availability:
    """Whether one dataset / method / metric can be evaluated here.

    Attributes:
        kind: ``"dataset"``, ``"method"`` or ``"metric"``.
        name: the dataset, the method's NAME, or the metric.
        available: True when it can be evaluated (for published outputs: for at least one image).
        detail: what there is (``"20 images"``, ``"18 of 20 outputs"``, the weights file...).
        reason: one line saying why it (or a part of it) is not available; ``""`` when all is.
        spec: the method's ``NAME=SPEC`` (methods only).
        files: file name -> sha256 of the files it reads (weights, metric model files).
    """

    kind: str
    name: str
    available: bool
    detail: str = ""
    reason: str = ""
    spec: str = ""
    files: dict[str, str] = field(default_factory=dict)

    @property
    def item(self) -> str:
        return f"{self.kind} {self.name}"

    @property
    def status(self) -> str:
        """``available``, ``partial`` (available, with a reason for what is not) or ``unavailable``."""
        if not self.available:
            return "unavailable"
        return "partial" if self.reason else "available"


def error_reason(err: BaseException) -> str:
    """One truthful line for an error that makes something unavailable.

    Asset errors give their first line (which file, and why: not in cache or mirror and
    downloads disabled by ``BSRGAN_OFFLINE=1`` / download failed / ...); a missing metric model
    file says which file, why, and the ``bsrgan fetch`` command; anything else its first line.
    """
    from bsrgan.assets import AssetError
    from bsrgan.metrics import MetricUnavailable

    if isinstance(err, MetricUnavailable):
        base = err.reason.split(" Details:")[0].strip().rstrip(".")
        cause = err.__cause__
        why = getattr(cause, "reason", None) if isinstance(cause, AssetError) else None
        if not why:
            return base
        head, sep, tail = base.partition("; ")
        return f"{head}: {why}{sep}{tail}"
    if isinstance(err, AssetError):
        return err.summary
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def check_metric(name: str, options: dict[str, Any] | None = None, *, protocol: str = "pirm",
                 scale: int = 4, has_reference: bool = False) -> Availability:
    """Can metric ``name`` run here? Builds it as evaluation does (fetching its model files).

    ``options`` are the ``bsrgan.metrics.create`` keywords (default: the evaluation protocol's,
    :func:`bsrgan.evaluation.scoring.metric_options`). ``files`` lists the model files it reads
    with their sha256 (NIQE's pristine model, NRQM's regression model...).
    """
    from bsrgan.evaluation.scoring import metric_options
    from bsrgan.metrics import MetricUnavailable, create, metric_info

    info = metric_info(name)
    if info.needs_reference and not has_reference:
        return Availability("metric", name, False,
                            reason="full-reference metric and no reference images were given")
    kwargs = metric_options(name, protocol, scale) if options is None else options
    try:
        metric = create(name, **kwargs)
    except MetricUnavailable as err:
        return Availability("metric", name, False, reason=error_reason(err))
    files = {}
    for key, value in sorted(metric.settings.items()):
        if key.endswith("_path") and value and Path(value).is_file():
            files[Path(value).name] = sha256_file_cached(value)
    return Availability("metric", name, True, detail=", ".join(files), files=files)


def check_method(method: str | MethodSpec, stems: Iterable[str] | None = None, *,
                 dataset: str = "realsrset") -> Availability:
    """Can this method give SR outputs here? Resolves what evaluation would resolve.

    - ``bicubic``: always.
    - ``model:NAME_OR_PATH``: the weights file (a registered name is fetched).
    - ``published:KEY``: the authors' output on ``dataset`` of each of ``stems`` (default: every
      registered one), file by file; available when at least one can be had, ``reason`` names
      the others (or says that nothing of KEY was published for ``dataset``).
    - ``dir:PATH``: the folder, and the outputs matched to ``stems`` when given.
    """
    spec = method if isinstance(method, MethodSpec) else parse_method(method)
    text = f"{spec.name}={spec.spec}"
    if spec.kind == "bicubic":
        return Availability("method", spec.name, True, "computed here", spec=text)
    if spec.kind == "model":
        from bsrgan.evaluation.generate import resolve_weights

        try:
            weights = resolve_weights(spec.target)
        except Exception as err:  # noqa: BLE001 - any failure to obtain the weights is the reason
            return Availability("method", spec.name, False, reason=error_reason(err), spec=text)
        sha = sha256_file_cached(weights)
        return Availability("method", spec.name, True, f"weights {weights.name}", spec=text,
                            files={weights.name: sha})
    if spec.kind == "published":
        try:
            published = published_files(spec.target, dataset)
        except MethodSpecError as err:
            return Availability("method", spec.name, False, reason=str(err), spec=text)
        found = published_outputs(spec.target, list(published if stems is None else stems),
                                  dataset=dataset)
        return _matched(spec, text, found, "published outputs")
    folder = Path(spec.target).expanduser()
    if stems is None:
        from bsrgan.io import list_images

        if not folder.is_dir():
            return Availability("method", spec.name, False, spec=text,
                                reason=f"output folder {folder} does not exist")
        n = len(list_images(folder))
        return Availability("method", spec.name, n > 0, f"{n} images in {folder.name}", spec=text,
                            reason="" if n else f"output folder {folder} holds no images")
    try:
        found = match_outputs(folder, list(stems))
    except FileNotFoundError as err:
        return Availability("method", spec.name, False, reason=error_reason(err), spec=text)
    return _matched(spec, text, found, "outputs")


def _check_published(spec: MethodSpec, loaded: dict[str, EvalDataset]) -> Availability:
    """A ``published:`` method checked on each loaded dataset the authors published it for."""
    text = f"{spec.name}={spec.spec}"
    checks = [(name, check_method(spec, ds.stems, dataset=name)) for name, ds in loaded.items()
              if spec.target in published_methods(name)]
    if not checks:
        return Availability("method", spec.name, False, spec=text,
                            reason=f"the authors published no {spec.target} outputs for "
                                   f"{', '.join(loaded)}")
    if len(checks) == 1:
        return checks[0][1]
    return Availability("method", spec.name, any(c.available for _, c in checks),
                        "; ".join(f"{name}: {c.detail}" for name, c in checks),
                        reason="; ".join(f"{name}: {c.reason}" for name, c in checks if c.reason),
                        spec=text)


def _matched(spec: MethodSpec, text: str, found: dict, what: str) -> Availability:
    """Availability of a method whose outputs were matched per stem (published / dir)."""
    have = [s for s, m in found.items() if m.path is not None]
    missing: dict[str, list[str]] = {}
    for stem, match in found.items():
        if match.path is None:
            missing.setdefault(match.problem.partition(" is not available: ")[2] or match.problem,
                               []).append(stem)
    reason = "; ".join(f"{', '.join(s)}: {why}" for why, s in missing.items())
    return Availability("method", spec.name, bool(have), f"{len(have)} of {len(found)} {what}",
                        reason=reason, spec=text)


def check_dataset(dataset: str | os.PathLike[str], *,
                  dped_crop: tuple[int, int] = DPED_DEFAULT_CROP, dped_crops: int = 1,
                  images: list[str] | None = None) -> tuple[Availability, EvalDataset | None]:
    """Can ``dataset`` be loaded here (fetched as evaluation would)? Returns the check and the
    dataset (None when unavailable)."""
    from bsrgan.assets import AssetError

    name = str(dataset)
    try:
        ds = load_dataset(dataset, dped_crop=tuple(dped_crop), dped_crops=int(dped_crops))
        if images:
            ds = ds.subset(images)
    except (AssetError, FileNotFoundError, ValueError) as err:
        return Availability("dataset", name, False, reason=error_reason(err)), None
    return Availability("dataset", ds.name, True, f"{len(ds.stems)} images: {ds.protocol}"), ds


@dataclass(frozen=True)
class AvailabilityReport:
    """The result of :func:`check_availability`.

    Attributes:
        entries: one :class:`Availability` per dataset, method and metric, in that order.
        datasets: name -> the loaded :class:`EvalDataset`, for the available datasets.
    """

    entries: tuple[Availability, ...]
    datasets: dict[str, EvalDataset]

    def _of(self, kind: str) -> list[Availability]:
        return [e for e in self.entries if e.kind == kind]

    @property
    def methods(self) -> list[str]:
        """``NAME=SPEC`` of every method that can give at least one output."""
        return [e.spec for e in self._of("method") if e.available]

    @property
    def metrics(self) -> list[str]:
        """The metrics that can be computed here."""
        return [e.name for e in self._of("metric") if e.available]

    @property
    def skipped(self) -> list[Availability]:
        """Entries that are unavailable, or available only in part."""
        return [e for e in self.entries if e.status != "available"]

    def table(self) -> pd.DataFrame:
        """One row per entry: item, kind, name, status, detail, reason."""
        return pd.DataFrame([{"item": e.item, "kind": e.kind, "name": e.name, "status": e.status,
                              "detail": e.detail, "reason": e.reason} for e in self.entries],
                            columns=["item", "kind", "name", "status", "detail", "reason"])

    def markdown(self) -> str:
        """The table as Markdown (``|`` in texts escaped)."""
        from bsrgan.evaluation.tables import text_table

        return text_table(["item", "status", "detail", "reason"],
                          [[e.item, e.status, e.detail, e.reason] for e in self.entries])


def check_availability(datasets: Iterable[str | os.PathLike[str]] = (),
                       methods: Iterable[str | MethodSpec] | dict[str, str] = (),
                       metrics: str | Iterable[str] = (), *, protocol: str = "pirm",
                       scale: int = 4, has_reference: bool = False,
                       dped_crop: tuple[int, int] = DPED_DEFAULT_CROP, dped_crops: int = 1,
                       images: list[str] | None = None) -> AvailabilityReport:
    """Check every dataset, method and metric of a planned comparison (see the module docstring).

    Published outputs and ``dir:`` folders are matched against the images of the available
    datasets (all registered images when no dataset is given). Nothing raises for an
    unavailable item: it is an entry with its reason.
    """
    from bsrgan.evaluation.methods import parse_methods
    from bsrgan.evaluation.scoring import parse_metric_names

    entries: list[Availability] = []
    loaded: dict[str, EvalDataset] = {}
    for dataset in datasets:
        status, ds = check_dataset(dataset, dped_crop=dped_crop, dped_crops=dped_crops,
                                   images=images)
        entries.append(status)
        if ds is not None:
            loaded[ds.name] = ds
    stems = list(dict.fromkeys(s for ds in loaded.values() for s in ds.stems)) or None
    specs = parse_methods(methods) if methods else []
    entries += [_check_published(m, loaded) if m.kind == "published" and loaded
                else check_method(m, stems) for m in specs]
    names = parse_metric_names(metrics) if metrics else ()
    entries += [check_metric(n, protocol=protocol, scale=scale, has_reference=has_reference)
                for n in names]
    return AvailabilityReport(tuple(entries), loaded)
