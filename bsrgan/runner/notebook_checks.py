"""The value rules of each numbered notebook (see :mod:`bsrgan.runner.checks`).

Names are looked up in the package's registries when a rule runs (models, discriminator
presets, degradations, datasets, assets, metrics), so a registry that grows needs no change here.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bsrgan.runner.checks import (
    CheckContext,
    Keywords,
    NotebookChecks,
    Rule,
    at_least_times,
    choice,
    custom,
    integer,
    items,
    number,
    path,
)

#: NIQE needs two 96 x 96 blocks after the 4-pixel shave of the PIRM protocol.
NIQE_MIN_SIZE = 2 * 96 + 8


# --------------------------------------------------------------------------- registries (lazy)


def _models() -> Iterable[str]:
    from bsrgan.models import MODELS

    return MODELS


def _pretrained() -> Iterable[str]:
    from bsrgan.models import PRETRAINED

    return PRETRAINED


def _degradations() -> Iterable[str]:
    from bsrgan.training.config import DEGRADATIONS

    return DEGRADATIONS


def _precisions() -> Iterable[str]:
    from bsrgan.training.config import PRECISIONS

    return PRECISIONS


def _loss_presets() -> Iterable[str]:
    from bsrgan.training.config import LOSS_PRESETS

    return LOSS_PRESETS


def _backbones() -> Iterable[str]:
    from bsrgan.training.config import BACKBONES

    return BACKBONES


def _datasets() -> Iterable[str]:
    from bsrgan.evaluation.datasets import DATASET_ASSETS

    return DATASET_ASSETS


def _metrics() -> Iterable[str]:
    from bsrgan.metrics import METRICS

    return METRICS


def _protocols() -> Iterable[str]:
    from bsrgan.metrics import PROTOCOLS

    return PROTOCOLS


def _published() -> Iterable[str]:
    from bsrgan.evaluation import PUBLISHED

    return PUBLISHED


def _realsrset_stems() -> Iterable[str]:
    from pathlib import PurePosixPath

    from bsrgan.assets import default_registry

    return [PurePosixPath(f.relpath).stem for f in default_registry().asset("realsrset").files]


# --------------------------------------------------------------------------- shared rules

_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def _device(name: str = "DEVICE"):
    def check(values: Mapping[str, Any], ctx: CheckContext) -> list[str]:
        value = values[name]
        if not isinstance(value, str) or not _DEVICE_RE.match(value):
            return [f"{name}={value!r} must be 'auto', 'cpu', 'cuda' or 'cuda:N'"]
        if value.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                return [f"{name}={value!r} but torch sees no CUDA device on this machine"]
            index = int(value.split(":")[1]) if ":" in value else 0
            if index >= torch.cuda.device_count():
                return [(f"{name}={value!r} but there are only {torch.cuda.device_count()} "
                        "CUDA device(s)")]
        return []
    return custom([name], check)


def _config_overrides(values: Mapping[str, Any], ctx: CheckContext) -> list[str]:
    value = values["CONFIG_OVERRIDES"]
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        return [f"CONFIG_OVERRIDES={value!r} must map dotted TrainConfig keys to values"]
    return []


def _photo_assets() -> list[str]:
    """HR_DIR / VAL_SET names: "embedded" and the registry's folders of HR photos."""
    from bsrgan.training.recipes import photo_assets

    return ["embedded", *photo_assets()]


#: HR_DIR is a path, "embedded" for the demo photos, or a photo-folder asset (e.g. sunhays80).
_hr_sources = Keywords(_photo_assets)


def _hr_dir(*, empty_ok: bool) -> Rule:
    """HR_DIR: a folder (searched recursively), a manifest.tsv or file list, "embedded", or an
    asset that is a folder of photos."""
    return path("HR_DIR", "any", empty_ok=empty_ok, names=_hr_sources,
                what="HR source")


def _training_rules() -> tuple:
    """Rules notebooks 02 and 03 share."""
    return (
        integer("SEED", low=0),
        choice("MODEL", _models, what="generator (bsrgan.models.MODELS)"),
        integer("NUM_ITERS", low=1),
        integer("BATCH_SIZE", low=1),
        integer("LQ_PATCH", low=4),
        at_least_times("HR_CROP", "LQ_PATCH", 4, why="the HR crop must hold the x4 HR patch"),
        number("LR", low=0.0, high=1.0, low_open=True),
        number("EMA_DECAY", low=0.0, high=1.0, high_open=True),
        choice("DEGRADATION", _degradations, what="degradation pipeline"),
        _hr_dir(empty_ok=False),
        path("VAL_SET", "dir", empty_ok=False, names=_photo_assets,
             what="validation set ('embedded' or a photo asset)"),
        integer("VAL_EVERY", low=1, why="the notebook plots the validation curve"),
        integer("VAL_IMAGES", low=1),
        integer("VAL_HR_SIZE", low=32, multiple_of=4),
        integer("CHECKPOINT_EVERY", low=1),
        integer("NUM_WORKERS", low=0),
        _device(),
        choice("PRECISION", _precisions, what="precision"),
        custom(["CONFIG_OVERRIDES"], _config_overrides),
    )


def _stage_config(stage: int):
    """The TrainConfig the values make must be valid (the trainer's own checks)."""
    def check(values: Mapping[str, Any], ctx: CheckContext) -> list[str]:
        from bsrgan.training.config import ConfigError
        from bsrgan.training.recipes import bsrgan_config, bsrnet_config

        try:
            if stage == 1:
                bsrnet_config(values, val_dir=None)
            else:
                bsrgan_config(values, val_dir=None, init_from=None)
        except (ConfigError, TypeError) as exc:
            return [f"the training config these values make is invalid: {exc}"]
        return []
    return check


def _bsrnet_weights(values: Mapping[str, Any], ctx: CheckContext) -> list[str]:
    from bsrgan.models import PRETRAINED
    from bsrgan.runner.outputs import project_root
    from bsrgan.training.recipes import RANDOM_START, bsrnet_weight_candidates

    value = values["BSRNET_WEIGHTS"]
    if not isinstance(value, str):
        return [f"BSRNET_WEIGHTS={value!r} must be a string"]
    if value == RANDOM_START or value in PRETRAINED:
        return []
    if value:
        if ctx.path(value).is_file():
            return []
        where = "" if Path(value).is_absolute() else f" (relative to {ctx.base_dir})"
        return [(f"BSRNET_WEIGHTS={value!r}: no such file{where} nor a registered model "
                f"({sorted(PRETRAINED)})")]
    root = project_root(ctx.base_dir)
    if bsrnet_weight_candidates(root):
        return []
    return [("BSRNET_WEIGHTS is empty and notebook 02 has left no weights in "
            f"{root / 'results'}: run notebook 02 first, or set BSRNET_WEIGHTS to a weights "
            "file, 'BSRNet' (official) or 'random' (on purpose)")]


def _dped_crop(values: Mapping[str, Any], ctx: CheckContext) -> list[str]:
    value = values["DPED_CROP"]
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 8 for v in value)):
        return [f"DPED_CROP={value!r} must be [width, height], two integers >= 8"]
    if value[0] > 2048 or value[1] > 1536:
        return [f"DPED_CROP={value!r} is larger than the 2048x1536 DPED photos"]
    return []


def _stand_ins(values: Mapping[str, Any], ctx: CheckContext) -> list[str]:
    value = values["STAND_INS"]
    if not isinstance(value, dict):
        return [f"STAND_INS={value!r} must map an official model name to a registry name"]
    known = sorted(_pretrained())
    return [f"STAND_INS: {k!r} -> {v!r}: both must be registered models ({known})"
            for k, v in value.items() if k not in known or v not in known]


def _tile(values: Mapping[str, Any], ctx: CheckContext) -> list[str]:
    value = values["TILE"]
    if isinstance(value, int) and not isinstance(value, bool) and (value == 0 or value >= 16):
        return []
    return [f"TILE={value!r} must be 0 (automatic) or a tile size >= 16 LR pixels"]


# --------------------------------------------------------------------------- the notebooks

_TRAINING_COMMON = ("SEED", "MODEL", "NUM_ITERS", "BATCH_SIZE", "LQ_PATCH", "HR_CROP", "LR",
                    "EMA_DECAY", "DEGRADATION", "HR_DIR", "VAL_SET", "VAL_EVERY", "VAL_IMAGES",
                    "VAL_HR_SIZE", "CHECKPOINT_EVERY", "NUM_WORKERS", "DEVICE", "PRECISION",
                    "PROGRESS", "RESUME", "CONFIG_OVERRIDES", "OUTPUT_DIR")
#: The parameters that must be known before the stage config they make is checked
#: (CONFIG_OVERRIDES is optional; RESUME and OUTPUT_DIR do not enter the config).
_STAGE_CONFIG_INPUTS = tuple(name for name in _TRAINING_COMMON
                             if name not in ("RESUME", "CONFIG_OVERRIDES", "OUTPUT_DIR"))

NOTEBOOK_CHECKS: dict[str, NotebookChecks] = {
    "01_degradation_model": NotebookChecks(
        parameters=("SEED", "SCALE", "LQ_PATCH", "NUM_PAIRS", "NUM_PLANS", "SPEED_PAIRS",
                    "SPEED_HR_SIZE", "HR_DIR", "OUTPUT_DIR"),
        rules=(
            integer("SEED", low=0),
            integer("SCALE", low=2, high=4, why="the BSRGAN pipeline is defined for x2, x3, x4"),
            integer("LQ_PATCH", low=8),
            integer("NUM_PAIRS", low=1),
            integer("NUM_PLANS", low=100, why="the op statistics need a few hundred draws"),
            integer("SPEED_PAIRS", low=0),
            at_least_times("SPEED_HR_SIZE", "SCALE", 8),
            _hr_dir(empty_ok=True),
        ),
        paths={"HR_DIR": _hr_sources},
    ),
    "02_train_bsrnet": NotebookChecks(
        parameters=("INIT_WEIGHTS", *_TRAINING_COMMON),
        rules=(
            *_training_rules(),
            path("INIT_WEIGHTS", "file", names=_pretrained, what="registered model"),
        ),
        final=(custom(_STAGE_CONFIG_INPUTS, _stage_config(1)),),
        paths={"HR_DIR": _hr_sources, "VAL_SET": _photo_assets, "INIT_WEIGHTS": _pretrained},
        produces=("BSRNET_WEIGHTS",),
    ),
    "03_train_bsrgan": NotebookChecks(
        parameters=("BSRNET_WEIGHTS", "LOSS_PRESET", "PERCEPTUAL_BACKBONE", "COLOUR_WEIGHT",
                    "COMPARE_IMAGES", "COMPARE_HR_SIZE", *_TRAINING_COMMON),
        rules=(
            *_training_rules(),
            custom(["BSRNET_WEIGHTS"], _bsrnet_weights),
            choice("LOSS_PRESET", _loss_presets, what="loss preset"),
            choice("PERCEPTUAL_BACKBONE", _backbones, what="perceptual backbone"),
            number("COLOUR_WEIGHT", low=0.0),
            integer("COMPARE_IMAGES", low=1),
            integer("COMPARE_HR_SIZE", low=NIQE_MIN_SIZE, multiple_of=4,
                    why="NIQE needs two 96x96 blocks after a 4-pixel shave"),
        ),
        final=(custom(("LOSS_PRESET", "PERCEPTUAL_BACKBONE", "COLOUR_WEIGHT",
                       *_STAGE_CONFIG_INPUTS),
                      _stage_config(2)),),
        paths={"HR_DIR": _hr_sources, "VAL_SET": _photo_assets, "BSRNET_WEIGHTS": _pretrained},
        produces=("BSRGAN_WEIGHTS",),
    ),
    "04_evaluate_realsrset_dped": NotebookChecks(
        parameters=("DATASETS", "NUM_IMAGES", "DPED_CROP", "DPED_CROPS", "METRICS", "PROTOCOL",
                    "PUBLISHED", "MODELS", "BSRNET_WEIGHTS", "BSRGAN_WEIGHTS", "TILE", "DEVICE",
                    "WORKERS", "OUTPUT_DIR"),
        rules=(
            items("DATASETS", _datasets, what="dataset", paths="dir"),
            integer("NUM_IMAGES", low=0),
            custom(["DPED_CROP"], _dped_crop),
            integer("DPED_CROPS", low=1),
            items("METRICS", _metrics, what="metric", separator=","),
            choice("PROTOCOL", _protocols, what="protocol"),
            items("PUBLISHED", _published, what="published output set", allow_empty=True),
            items("MODELS", _pretrained, what="registered model", paths="file",
                  allow_empty=True),
            path("BSRNET_WEIGHTS", "file"),
            path("BSRGAN_WEIGHTS", "file"),
            custom(["TILE"], _tile),
            _device(),
            integer("WORKERS", low=0),
        ),
        lists=("DATASETS", "PUBLISHED", "MODELS"),
        paths={"DATASETS": _datasets, "MODELS": _pretrained, "BSRNET_WEIGHTS": None,
               "BSRGAN_WEIGHTS": None},
    ),
    "05_paper_comparison": NotebookChecks(
        parameters=("DATASETS", "NUM_IMAGES", "REALSRSET_IMAGES", "DPED_CROP", "METRICS",
                    "PROTOCOL", "OFFICIAL", "STAND_INS", "PUBLISHED", "PAPER_TABLE", "TILE",
                    "DEVICE", "WORKERS", "OUTPUT_DIR"),
        rules=(
            items("DATASETS", _datasets, what="dataset", paths="dir"),
            integer("NUM_IMAGES", low=0),
            items("REALSRSET_IMAGES", _realsrset_stems, what="RealSRSet image",
                  allow_empty=True),
            custom(["DPED_CROP"], _dped_crop),
            items("METRICS", _metrics, what="metric", separator=","),
            choice("PROTOCOL", _protocols, what="protocol"),
            items("OFFICIAL", _pretrained, what="registered model", allow_empty=True),
            custom(["STAND_INS"], _stand_ins),
            items("PUBLISHED", _published, what="published output set", allow_empty=True),
            path("PAPER_TABLE", "file"),
            custom(["TILE"], _tile),
            _device(),
            integer("WORKERS", low=0),
        ),
        lists=("DATASETS", "REALSRSET_IMAGES", "OFFICIAL", "PUBLISHED"),
        paths={"DATASETS": _datasets, "PAPER_TABLE": None},
    ),
}
