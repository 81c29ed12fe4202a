"""Step 1 of a comparison (notebooks 04 and 05): which datasets, methods and metrics can be
evaluated here, on which dataset each method runs, and why the rest cannot.

Built on the availability checks of :mod:`bsrgan.evaluation.availability` (resolved as
evaluation resolves them: cache, ``$BSRGAN_MIRRORS``, download unless offline), with the
comparison's own rules: published outputs only on the datasets the authors published them for,
a stand-in only for official weights that cannot be fetched, our trained weights when given.

>>> from bsrgan.evaluation.plan import plan_comparison
>>> plan = plan_comparison(["realsrset", "dped-readme"], published=["bsrgan"],
...                        models=["RealSR_JPEG_x4_fp16"], metrics="niqe")   # doctest: +SKIP
>>> plan.methods["dped-readme"]   # {"bicubic": ..., "BSRGAN_published": ..., ...}  # doctest: +SKIP
>>> plan.table()                  # item, status, detail, reason                  # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from bsrgan.evaluation.comparison import PUBLISHED_LABELS, dataset_title, method_label
from bsrgan.evaluation.datasets import EvalDataset

__all__ = ["ComparisonPlan", "plan_comparison"]


@dataclass
class ComparisonPlan:
    """What a comparison will evaluate here, and what it cannot, with the reasons.

    Attributes:
        datasets: name -> inputs, for the datasets that can be loaded.
        methods: dataset name -> ``{label: spec}`` of the methods that can run on it.
        entries: one row per dataset, method and metric checked: ``item, status, detail,
            reason`` (status ``available``, ``partial``, ``unavailable`` or ``not given``).
        not_evaluated: method label -> why it is not evaluated (for :mod:`bsrgan.evaluation.paper`).
        metric_unavailable: metric -> why it shows as n/a.
    """

    datasets: dict[str, EvalDataset]
    methods: dict[str, dict[str, str]]
    entries: list[dict[str, str]]
    not_evaluated: dict[str, str]
    metric_unavailable: dict[str, str]

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.entries, columns=["item", "status", "detail", "reason"])

    @property
    def skipped(self) -> pd.DataFrame:
        """The rows of :meth:`table` that are not fully available."""
        table = self.table()
        return table[table["status"] != "available"]

    def markdown(self) -> str:
        """The table as Markdown (``|`` in texts escaped)."""
        from bsrgan.evaluation.tables import text_table

        columns = ["item", "status", "detail", "reason"]
        return text_table(columns, [[e[k] for k in columns] for e in self.entries])


def _count(items, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _entry(item: str, status: str, detail: str = "", reason: str = "") -> dict[str, str]:
    return {"item": item, "status": status, "detail": detail, "reason": reason}


def plan_comparison(datasets, *, published=(), models=(), official=(),
                    stand_ins: dict[str, str] | None = None,
                    trained: dict[str, str] | None = None, metrics="niqe,nrqm,pi",
                    protocol: str = "paper", images: dict[str, list[str]] | None = None,
                    num_images: int = 0, dped_crop=(512, 256), dped_crops: int = 1
                    ) -> ComparisonPlan:
    """Step 1 of a comparison: check every dataset, method and metric as evaluation would
    (:mod:`bsrgan.evaluation.availability`: cache, mirrors, download unless offline).

    Args:
        datasets: names (``realsrset``, ``dped-readme``, ``dped-iphone``) or folders.
        published: published output keys (``bsrgan``...), used on the datasets they exist for.
        models: registry weights evaluated when they can be fetched (labels: ``BSRGAN``,
            ``RealSR_JPEG_standin`` for ``RealSR_JPEG_x4_fp16``).
        official: official weights; one that cannot be fetched is replaced by its stand-in
            from ``stand_ins`` (``{"RealSR_JPEG": "RealSR_JPEG_x4_fp16"}``) when that can.
        trained: label -> weights file of our own models ("" = not given).
        images: dataset -> stems to evaluate; other datasets take their first ``num_images``
            (0 = all).
    """
    from bsrgan.evaluation.availability import check_dataset, check_method, check_metric
    from bsrgan.evaluation.methods import published_methods
    from bsrgan.evaluation.scoring import parse_metric_names
    from bsrgan.metrics.protocols import canonical_protocol

    protocol = canonical_protocol(protocol)
    images = dict(images or {})
    entries: list[dict[str, str]] = []
    loaded: dict[str, EvalDataset] = {}
    for name in datasets:
        check, ds = check_dataset(name, dped_crop=tuple(dped_crop), dped_crops=int(dped_crops),
                                  images=images.get(str(name)) or None)
        if ds is not None and num_images and not images.get(ds.name):
            ds = ds.subset(ds.stems[:num_images])
        detail = f"{_count(ds.stems, 'image')}: {dataset_title(ds.name)}" if ds else check.detail
        entries.append(_entry(f"dataset {name}", check.status, detail, check.reason))
        if ds is not None:
            loaded[ds.name] = ds
    methods: dict[str, dict[str, str]] = {name: {"bicubic": "bicubic"} for name in loaded}
    not_evaluated: dict[str, str] = {}

    for key in published:
        label = PUBLISHED_LABELS.get(key, f"{key}_published")
        for name, ds in loaded.items():
            item = f"published {key} on {name}"
            if key not in published_methods(name):
                entries.append(_entry(item, "not published", "",
                                      f"the authors published no {key} outputs for {name}"))
                continue
            check = check_method(f"{label}=published:{key}", ds.stems, dataset=name)
            entries.append(_entry(item, check.status, check.detail, check.reason))
            if check.available:
                methods[name][label] = f"published:{key}"
            else:
                not_evaluated.setdefault(label, check.reason)

    weights = [(name, None) for name in models] + [(name, (stand_ins or {}).get(name))
                                                   for name in official]
    for name, stand_in in weights:
        label = method_label(f"model:{name}")
        check = check_method(f"{label}=model:{name}")
        if not check.available and stand_in:
            fallback = check_method(f"{method_label(f'model:{stand_in}')}=model:{stand_in}")
            entries.append(_entry(f"weights {name}", "stand-in" if fallback.available
                                  else "unavailable", fallback.detail,
                                  f"{check.reason}; stand-in {stand_in}: "
                                  + (fallback.reason or "available")))
            not_evaluated[label] = check.reason
            if fallback.available:
                label, name, check = method_label(f"model:{stand_in}"), stand_in, fallback
            else:
                not_evaluated[method_label(f"model:{stand_in}")] = fallback.reason
                continue
        else:
            entries.append(_entry(f"weights {name}", check.status, check.detail, check.reason))
        if check.available:
            for name_ in loaded:
                methods[name_][label] = f"model:{name}"
        else:
            not_evaluated[label] = check.reason

    for label, path in (trained or {}).items():
        if not path:
            entries.append(_entry(f"trained {label}", "not given", "",
                                  "no weights given (run notebooks 02/03, or bsrgan run passes "
                                  "them)"))
            continue
        check = check_method(f"{label}=model:{path}")
        entries.append(_entry(f"trained {label}", check.status, check.detail, check.reason))
        if check.available:
            for name_ in loaded:
                methods[name_][label] = f"model:{path}"

    metric_unavailable = {}
    for metric in parse_metric_names(metrics):
        check = check_metric(metric, protocol=protocol)
        entries.append(_entry(f"metric {metric}", check.status, check.detail, check.reason))
        if not check.available:
            metric_unavailable[metric] = check.reason
    return ComparisonPlan(loaded, methods, entries, not_evaluated, metric_unavailable)
