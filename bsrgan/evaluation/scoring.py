"""Scoring SR images with a set of metrics, in worker processes, one image per task.

The metric set is decided once in the parent (:func:`plan_metrics`): metrics that cannot run
here (e.g. NRQM / PI without ``NRQM_model.mat``) are set aside with the reason, so the table says
n/a instead of the run failing. The check is :func:`bsrgan.evaluation.availability.check_metric`,
the same one the notebooks call.

Each image is scored once per metric *component*: NIQE and NRQM are computed once per image and
protocol and PI is derived from them (PI = ((10 - NRQM) + NIQE) / 2), in any order of the
requested names (:class:`Scorer`). A :class:`ScorePool` scores images as they are submitted, on
``workers`` spawned processes with a progress bar, so scoring overlaps SR generation; an error
on one image (or one metric of one image) comes back as text naming the image file.

Options per metric: NIQE / NRQM / PI take the luma ``protocol`` (``pirm``: BT.601 Y, shave 4;
``paper``: BT.601 Y, no shave; ``live-rgb2gray``: rgb2gray, no shave); PSNR / SSIM (only with
reference images) use BT.601 Y and shave ``scale`` pixels per border, the usual SR convention.
"""
from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bsrgan.utils.cpus import usable_cpus

_LUMA_METRICS = ("niqe", "nrqm", "pi")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetricPlan:
    """Which metrics run and with which options.

    Attributes:
        names: requested metric names, in table order.
        options: name -> keyword arguments for ``bsrgan.metrics.create`` (available metrics).
        unavailable: name -> one-line reason (missing model file and why...), reported as n/a.
        infos: name -> ``MetricInfo`` (direction, reference), for every requested name.
        model_files: name -> {file name: sha256} of the parameter files the metric reads
            (NIQE's pristine model, NRQM's regression model...), for the provenance record.
    """

    names: tuple[str, ...]
    options: dict[str, dict[str, Any]]
    unavailable: dict[str, str]
    infos: dict[str, Any] = field(repr=False)
    model_files: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)

    @property
    def available(self) -> list[str]:
        return [n for n in self.names if n in self.options]


def metric_options(name: str, protocol: str, scale: int) -> dict[str, Any]:
    """Keyword arguments of ``create(name, ...)`` under our evaluation protocol."""
    if name in _LUMA_METRICS:
        return {"protocol": protocol}
    if name in ("psnr", "ssim"):
        return {"color": "y", "crop_border": int(scale)}
    if name == "lpips":
        return {"device": "cpu"}
    return {}


def parse_metric_names(metrics: str | Iterable[str]) -> tuple[str, ...]:
    """``"niqe,nrqm,pi"`` or a list -> lower-case unique names in order; unknown names raise."""
    from bsrgan.metrics import list_metrics

    items = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    names: list[str] = []
    for item in items:
        name = str(item).strip().lower()
        if not name or name in names:
            continue
        if name not in list_metrics():
            raise ValueError(f"unknown metric {name!r}; known: {', '.join(list_metrics())}")
        names.append(name)
    if not names:
        raise ValueError("no metric given (e.g. --metrics niqe,nrqm,pi)")
    return tuple(names)


def plan_metrics(metrics: str | Iterable[str], *, protocol: str = "pirm", scale: int = 4,
                 has_reference: bool = False) -> MetricPlan:
    """Decide which metrics run; build each once here so that a missing file shows up now.

    A model file that is not in the cache or a mirror is downloaded here when downloads are
    allowed (exactly what scoring would need), so "n/a" always means it could not be had.
    """
    from bsrgan.evaluation.availability import check_metric
    from bsrgan.metrics import metric_info
    from bsrgan.metrics.protocols import canonical_protocol

    protocol = canonical_protocol(protocol)  # ValueError if unknown; an old alias warns once
    names = parse_metric_names(metrics)
    options: dict[str, dict[str, Any]] = {}
    unavailable: dict[str, str] = {}
    model_files: dict[str, dict[str, str]] = {}
    infos = {n: metric_info(n) for n in names}
    for name in names:
        kwargs = metric_options(name, protocol, scale)
        status = check_metric(name, kwargs, has_reference=has_reference)
        if not status.available:
            unavailable[name] = status.reason
            continue
        options[name] = kwargs
        model_files[name] = status.files
    return MetricPlan(names, options, unavailable, infos, model_files)


@dataclass(frozen=True)
class ScoreTask:
    """Score ``sr`` (and compare with ``ref`` when given); ``key`` identifies the row."""

    key: tuple[str, str]  # (method, stem)
    sr: Path
    ref: Path | None = None


@dataclass(frozen=True)
class ScoreResult:
    key: tuple[str, str]
    values: dict[str, float]
    errors: dict[str, str]  # metric (or "image") -> message
    height: int = 0
    width: int = 0


def _component_options(name: str, kwargs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The NIQE / NRQM options a PI with ``kwargs`` is made of (as ``PIMetric`` passes them)."""
    if name != "pi":
        return {name: kwargs}
    shared = {k: kwargs[k] for k in ("protocol", "crop_border") if k in kwargs}
    niqe = dict(shared, backend=kwargs.get("niqe_backend"), model_path=kwargs.get("niqe_model_path"))
    nrqm = dict(shared, backend=kwargs.get("nrqm_backend"), model_path=kwargs.get("nrqm_model_path"),
                device=kwargs.get("device"))
    return {"niqe": niqe, "nrqm": nrqm}


def _key(name: str, kwargs: dict[str, Any]) -> tuple:
    """Hashable identity of a metric instance: its name and non-default options."""
    return (name, tuple(sorted((k, repr(v)) for k, v in kwargs.items() if v is not None)))


class Scorer:
    """Metrics built from a plan's options; ``scorer(task) -> ScoreResult``.

    Every metric instance (name + options) is built and evaluated once per image: NIQE and NRQM
    requested on their own and as parts of PI are the same instances, and PI is derived from
    their two values, whatever the order of ``options``.
    """

    def __init__(self, options: dict[str, dict[str, Any]]) -> None:
        from bsrgan.metrics import create

        self.names = list(options)
        self._instances: dict[tuple, Any] = {}
        self._parts: dict[str, dict[str, tuple]] = {}  # requested name -> component -> key
        for name, kwargs in options.items():
            parts = {}
            for part, part_kwargs in _component_options(name, kwargs).items():
                key = _key(part, part_kwargs)
                if key not in self._instances:
                    clean = {k: v for k, v in part_kwargs.items() if v is not None}
                    self._instances[key] = create(part, **clean)
                parts[part] = key
            self._parts[name] = parts

    def __call__(self, task: ScoreTask) -> ScoreResult:
        from bsrgan.io import imread
        from bsrgan.metrics import perceptual_index

        try:
            img = imread(task.sr)
            ref = imread(task.ref) if task.ref is not None else None
        except Exception as err:  # noqa: BLE001 - any unreadable file is this row's error
            return ScoreResult(task.key, {}, {"image": str(err)})
        label = str(task.sr)
        computed: dict[tuple, float | str] = {}  # instance key -> value, or error text

        def value_of(key: tuple) -> float | str:
            if key not in computed:
                metric = self._instances[key]
                try:
                    if metric.info.needs_reference:
                        if ref is None:
                            raise ValueError("no reference image for this input")
                        computed[key] = float(metric(img, ref))
                    else:
                        computed[key] = float(metric(img))
                except Exception as err:  # noqa: BLE001 - one metric failing leaves the others
                    computed[key] = _named_error(err, img, label)
            return computed[key]

        values: dict[str, float] = {}
        errors: dict[str, str] = {}
        for name in self.names:
            parts = {part: value_of(key) for part, key in self._parts[name].items()}
            failed = {part: v for part, v in parts.items() if isinstance(v, str)}
            if failed:
                errors[name] = (next(iter(failed.values())) if name in parts else
                                "; ".join(f"needs {p.upper()}, which failed: {e}"
                                          for p, e in failed.items()))
            elif name == "pi":
                values[name] = perceptual_index(parts["niqe"], parts["nrqm"])
            else:
                values[name] = parts[name]
        return ScoreResult(task.key, values, errors, img.shape[0], img.shape[1])


def _named_error(err: Exception, img: Any, label: str) -> str:
    """``"Type: message"`` with the metric's "array of shape (...)" replaced by the file."""
    from bsrgan.metrics.inputs import image_label

    text = str(err).replace(image_label(img), label)
    if label not in text:
        text = f"{label}: {text}"
    return f"{type(err).__name__}: {text}"


_WORKER_SCORER: Scorer | None = None


def _init_worker(options: dict[str, dict[str, Any]], torch_threads: int) -> None:
    global _WORKER_SCORER
    try:
        import torch

        torch.set_num_threads(torch_threads)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    _WORKER_SCORER = Scorer(options)


def _score_in_worker(task: ScoreTask) -> ScoreResult:
    assert _WORKER_SCORER is not None, "worker not initialised"
    return _WORKER_SCORER(task)


class ScorePool:
    """Scores images as they are submitted, in parallel, with one progress bar.

    ``workers > 1``: a pool of spawned processes (``concurrent.futures``; spawned, not forked,
    so it is safe after the parent ran torch's thread pools), each building the metrics once
    and using ``cores / workers`` torch threads; images are scored while the caller goes on
    (e.g. generating the next SR image). ``workers == 1``: scored here, in :meth:`results`.
    A pool that breaks (a worker killed, no way to spawn) is reported and the remaining images
    are scored in this process; an error on one image never stops the others.

    >>> with ScorePool(plan.options, workers=4) as pool:       # doctest: +SKIP
    ...     pool.submit(ScoreTask(("bsrgan", "chip"), Path("chip_BSRGAN.png")))
    ...     results = pool.results()                           # key -> ScoreResult
    """

    def __init__(self, options: dict[str, dict[str, Any]], workers: int = 1, *,
                 progress: bool = True, desc: str = "scoring",
                 on_done: Callable[[ScoreResult], None] | None = None) -> None:
        from tqdm.auto import tqdm

        self.options = options
        self.workers = max(1, int(workers))
        self.on_done = on_done
        self._bar = tqdm(total=0, desc=desc, unit="img", disable=not progress, leave=False)
        self._pending: list[ScoreTask] = []  # to score here (workers == 1, or pool broken)
        self._futures: dict[Future, ScoreTask] = {}
        self._executor: ProcessPoolExecutor | None = None
        self._scorer: Scorer | None = None
        self._broken = False

    def __enter__(self):  # -> Self (typing.Self needs Python 3.11)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, task: ScoreTask) -> None:
        """Queue ``task``; with workers it starts right away in a worker process."""
        self._bar.total += 1
        self._bar.refresh()
        if self.workers == 1 or self._broken:
            self._pending.append(task)
            return
        try:
            if self._executor is None:
                threads = max(1, usable_cpus() // self.workers)
                self._executor = ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init_worker, initargs=(self.options, threads))
            future = self._executor.submit(_score_in_worker, task)
        except (BrokenProcessPool, OSError, RuntimeError) as err:
            self._break(err)
            self._pending.append(task)
            return
        self._futures[future] = task
        future.add_done_callback(self._count_done)

    def _count_done(self, future: Future) -> None:
        """Progress for a task a worker finished; a broken pool's tasks count when rescored here."""
        if not future.cancelled() and not isinstance(future.exception(), BrokenProcessPool):
            self._bar.update(1)

    def results(self) -> dict[tuple[str, str], ScoreResult]:
        """Wait for every submitted task; ``(method, stem) -> ScoreResult``."""
        out: dict[tuple[str, str], ScoreResult] = {}
        futures, self._futures = self._futures, {}
        for future in as_completed(futures):
            task = futures[future]
            try:
                result = future.result()
            except BrokenProcessPool as err:
                self._break(err)
                self._pending.append(task)
                continue
            except Exception as err:  # noqa: BLE001 - e.g. a result that cannot be pickled
                result = ScoreResult(task.key, {}, {"image": f"scoring process: {err}"})
            self._finish(result, out)
        for task in self._pending:
            if self._scorer is None:
                self._scorer = Scorer(self.options)
            self._finish(self._scorer(task), out)
            self._bar.update(1)
        self._pending = []
        return out

    def _finish(self, result: ScoreResult, out: dict) -> None:
        out[result.key] = result
        if self.on_done is not None:
            self.on_done(result)

    def _break(self, err: BaseException) -> None:
        """The pool is unusable: its unfinished futures fail with BrokenProcessPool, and
        :meth:`results` scores their tasks (and every later one) here."""
        if not self._broken:
            log.warning("scoring processes failed (%s); scoring the remaining images here", err)
        self._broken = True

    def close(self) -> None:
        self._bar.close()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def score_all(tasks: list[ScoreTask], options: dict[str, dict[str, Any]], *, workers: int = 1,
              on_done: Callable[[ScoreResult], None] | None = None,
              progress: bool = False) -> Iterator[ScoreResult]:
    """Score every task (see :class:`ScorePool`); yields results in task order."""
    if not tasks:
        return
    with ScorePool(options, min(max(1, int(workers)), len(tasks)), progress=progress,
                   on_done=on_done) as pool:
        for task in tasks:
            pool.submit(task)
        results = pool.results()
    for task in tasks:
        yield results[task.key]
