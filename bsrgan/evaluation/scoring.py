"""Scoring SR images with a set of metrics, in worker processes, one image per task.

The metric set is decided once in the parent (:func:`plan_metrics`): metrics that cannot run
here (e.g. NRQM / PI without ``NRQM_model.mat``) are set aside with the reason, so the table says
n/a instead of the run failing. Each worker process builds the available metrics once and scores
whole images; an error on one image (or one metric of one image) comes back as text.

Options per metric: NIQE / NRQM / PI take the luma ``protocol`` (``pirm``: BT.601 Y, shave 4;
``paper``: BT.601 Y, no shave; ``live-rgb2gray``: rgb2gray, no shave); PSNR / SSIM (only with
reference images) use BT.601 Y and shave ``scale`` pixels per border, the usual SR convention.
"""
from __future__ import annotations

import logging
import math
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_LUMA_METRICS = ("niqe", "nrqm", "pi")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetricPlan:
    """Which metrics run and with which options.

    Attributes:
        names: requested metric names, in table order.
        options: name -> keyword arguments for ``bsrgan.metrics.create`` (available metrics).
        unavailable: name -> reason (missing model file...), reported as n/a.
        infos: name -> ``MetricInfo`` (direction, reference), for every requested name.
    """

    names: tuple[str, ...]
    options: dict[str, dict[str, Any]]
    unavailable: dict[str, str]
    infos: dict[str, Any] = field(repr=False)

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
    """Decide which metrics run; build each once here so that a missing file shows up now."""
    from bsrgan.metrics import MetricUnavailable, create, metric_info
    from bsrgan.metrics.protocols import canonical_protocol

    protocol = canonical_protocol(protocol)  # ValueError if unknown; an old alias warns once
    names = parse_metric_names(metrics)
    options: dict[str, dict[str, Any]] = {}
    unavailable: dict[str, str] = {}
    infos = {n: metric_info(n) for n in names}
    for name in names:
        if infos[name].needs_reference and not has_reference:
            unavailable[name] = "full-reference metric and no reference images were given"
            continue
        kwargs = metric_options(name, protocol, scale)
        try:
            create(name, **kwargs)
        except MetricUnavailable as err:
            unavailable[name] = err.reason
            continue
        options[name] = kwargs
    return MetricPlan(names, options, unavailable, infos)


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


class Scorer:
    """Metric objects built from a plan's options; ``scorer(task) -> ScoreResult``."""

    def __init__(self, options: dict[str, dict[str, Any]]) -> None:
        from bsrgan.metrics import create

        self.metrics = {name: create(name, **kw) for name, kw in options.items()}

    def __call__(self, task: ScoreTask) -> ScoreResult:
        from bsrgan.io import imread

        try:
            img = imread(task.sr)
            ref = imread(task.ref) if task.ref is not None else None
        except Exception as err:  # noqa: BLE001 - any unreadable file is this row's error
            return ScoreResult(task.key, {}, {"image": str(err)})
        values: dict[str, float] = {}
        errors: dict[str, str] = {}
        for name, metric in self.metrics.items():
            if name in values or name in errors:
                continue
            try:
                if metric.info.needs_reference:
                    if ref is None:
                        raise ValueError("no reference image for this input")
                    values[name] = float(metric(img, ref))
                elif hasattr(metric, "components"):  # PI: NIQE and NRQM come with it for free
                    for part, value in metric.components(img).items():
                        if part in self.metrics:
                            values[part] = float(value)
                else:
                    values[name] = float(metric(img))
            except Exception as err:  # noqa: BLE001 - one metric failing leaves the others
                errors[name] = f"{type(err).__name__}: {err}"
        return ScoreResult(task.key, values, errors, img.shape[0], img.shape[1])


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


def default_workers() -> int:
    """CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def score_all(tasks: list[ScoreTask], options: dict[str, dict[str, Any]], *, workers: int = 1,
              on_done: Callable[[ScoreResult], None] | None = None) -> Iterator[ScoreResult]:
    """Score every task; ``workers > 1`` uses a pool of spawned processes (one image per task).

    Yields results in task order. Spawned (not forked) workers are safe after the parent
    has run torch's thread pools.
    """
    workers = max(1, min(int(workers), len(tasks)))
    if not tasks:
        return
    if workers == 1:
        scorer = Scorer(options)
        for task in tasks:
            result = scorer(task)
            if on_done:
                on_done(result)
            yield result
        return
    threads = max(1, math.floor(default_workers() / workers))
    ctx = multiprocessing.get_context("spawn")
    done: set[tuple[str, str]] = set()
    try:
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(options, threads)) as pool:
            for result in pool.map(_score_in_worker, tasks, chunksize=1):
                done.add(result.key)
                if on_done:
                    on_done(result)
                yield result
    except (BrokenProcessPool, OSError) as err:  # e.g. a worker killed, or no way to spawn
        rest = [t for t in tasks if t.key not in done]
        log.warning("scoring processes failed (%s); scoring the remaining %d image(s) here",
                    err, len(rest))
        yield from score_all(rest, options, workers=1, on_done=on_done)
