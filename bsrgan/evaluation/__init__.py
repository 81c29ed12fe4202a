"""Evaluation of SR methods on real LR datasets (RealSRSet, DPED: the authors' README images or
our crops of the iPhone photos, any folder).

>>> from bsrgan.evaluation import evaluate
>>> result = evaluate("realsrset", ["bicubic=bicubic", "bsrgan=published:bsrgan"],
...                   "niqe,nrqm,pi", "results/realsrset")        # doctest: +SKIP
>>> result.summary, result.per_image, result.paths["table"]     # doctest: +SKIP

Modules: :mod:`availability` (what can run here, one truthful reason), :mod:`methods` (NAME=SPEC), :mod:`datasets` (inputs and crop protocol),
:mod:`generate` + :mod:`cache` (SR images, reused by content key), :mod:`scoring` (metric pool),
:mod:`tables`, :mod:`figure`, :mod:`provenance`, :mod:`runner` (``evaluate``).
The comparison of notebooks 04/05: :mod:`plan` (step 1: what runs on which dataset),
:mod:`comparison` (several datasets, reuse of earlier scores, ours beside published outputs),
:mod:`paper` (the authors' reported numbers beside ours, reproduction status).
"""
from bsrgan.evaluation.availability import (
    Availability,
    AvailabilityReport,
    check_availability,
    check_dataset,
    check_method,
    check_metric,
)
from bsrgan.evaluation.datasets import (
    DPED_DEFAULT_CROP,
    CropBox,
    EvalDataset,
    EvalImage,
    crop_boxes,
    load_dataset,
)
from bsrgan.evaluation.methods import (
    PUBLISHED,
    PUBLISHED_BY_DATASET,
    MethodSpec,
    MethodSpecError,
    match_outputs,
    parse_method,
    parse_methods,
    published_asset,
    published_methods,
    published_outputs,
)
from bsrgan.evaluation.runner import EvaluationResult, evaluate
from bsrgan.evaluation.scoring import MetricPlan, plan_metrics

__all__ = [
    "DPED_DEFAULT_CROP",
    "PUBLISHED",
    "PUBLISHED_BY_DATASET",
    "Availability",
    "AvailabilityReport",
    "CropBox",
    "EvalDataset",
    "EvalImage",
    "EvaluationResult",
    "MethodSpec",
    "MethodSpecError",
    "MetricPlan",
    "check_availability",
    "check_dataset",
    "check_method",
    "check_metric",
    "crop_boxes",
    "evaluate",
    "load_dataset",
    "match_outputs",
    "parse_method",
    "parse_methods",
    "plan_metrics",
    "published_asset",
    "published_methods",
    "published_outputs",
]
