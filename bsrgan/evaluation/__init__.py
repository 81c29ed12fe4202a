"""Evaluation of SR methods on real LR datasets (RealSRSet, DPED: the authors' README images or
our crops of the iPhone photos, any folder).

>>> from bsrgan.evaluation import check_availability, evaluate
>>> plan = check_availability(["realsrset"], ["bicubic", "bsrgan=published:bsrgan"],
...                           "niqe,nrqm,pi")                 # doctest: +SKIP
>>> plan.table()                 # what can run here, and why not  # doctest: +SKIP
>>> result = evaluate("realsrset", plan.methods, plan.metrics,
...                   "results/realsrset")                     # doctest: +SKIP
>>> result.summary, result.per_image, result.paths["table"]     # doctest: +SKIP

Modules: :mod:`availability` (what can run, one truthful reason), :mod:`methods` (NAME=SPEC),
:mod:`datasets` (inputs and crop protocol), :mod:`generate` + :mod:`cache` (SR images, reused
by content and code key), :mod:`scoring` (each metric once per image, process pool),
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
    published_files,
    published_methods,
    published_outputs,
)
from bsrgan.evaluation.runner import EvaluationResult, evaluate
from bsrgan.evaluation.scoring import MetricPlan, ScorePool, Scorer, plan_metrics

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
    "ScorePool",
    "Scorer",
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
    "published_files",
    "published_methods",
    "published_outputs",
]
