"""The paper's two training stages, built from the plain parameters of notebooks 02 and 03.

A notebook's parameters cell holds flat values (``NUM_ITERS``, ``LQ_PATCH``, ...); this module
turns them into a :class:`~bsrgan.training.TrainConfig` and finds what a stage starts from, so the
notebooks read like the paper's steps::

    vset = validation_source(VAL_SET)                       # Set14 from the mirror, or the photos
    photos = training_source(HR_DIR)                        # e.g. Sun-Hays80, or the photos
    init = bsrnet_init(INIT_WEIGHTS, MODEL)                 # random (the paper) or fine-tune
    config = bsrnet_config(params, val_dir=vset.folder, hr_dir=photos.hr_dir,
                           init_from=init.weights)            # stage 1: L1
    start = bsrnet_start(BSRNET_WEIGHTS, MODEL)             # stage 2 starts from stage 1's EMA
    config = bsrgan_config(params, val_dir=vset.folder, init_from=start.weights,
                           hr_dir=photos.hr_dir)

``params`` maps the notebook's parameter names (upper case) to their values; ``CONFIG_OVERRIDES``
(dotted TrainConfig keys) reaches any field the flat parameters do not name.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bsrgan.training.config import TrainConfig, config_from_dict

#: Value of ``BSRNET_WEIGHTS`` that starts the GAN stage from a random generator on purpose.
RANDOM_START = "random"
#: Folder, under a notebook's output folder, that holds the trainer's run (weights/, logs, ...).
RUN_SUBDIR = "run"
#: Notebook 02's name: its output folders are where stage 2 looks for BSRNet weights.
BSRNET_NOTEBOOK = "02_train_bsrnet"


#: Where the registry keeps folders of HR photos (Kodak24, Set14, Sun-Hays80).
PHOTO_ASSET_ROOT = "hr/"


@dataclass(frozen=True)
class PhotoSource:
    """Where a stage's HR photos (training or validation) come from.

    Attributes:
        folder: what ``DataConfig.hr_dir`` / ``ValidationConfig.hr_dir`` take: a folder, a
            manifest or file list, or None for the photos embedded in scikit-image.
        description: one line naming the photos, for summaries.
        notes: sentences for the summary (a fallback, or that validation photos are also
            training photos).
    """

    folder: str | None
    description: str = ""
    notes: tuple[str, ...] = ()

    @property
    def hr_dir(self) -> str:
        """The value for ``DataConfig.hr_dir``: the folder, or ``"embedded"``."""
        return self.folder if self.folder is not None else "embedded"


def photo_assets() -> list[str]:
    """Registered assets that are folders of HR photos (e.g. ``kodak24``, ``set14``,
    ``sunhays80``): the names ``HR_DIR`` and ``VAL_SET`` accept besides paths."""
    from bsrgan.assets import default_registry

    return [a.name for a in default_registry()
            if a.kind == "folder" and a.root.startswith(PHOTO_ASSET_ROOT)]


def _embedded_description() -> str:
    from bsrgan.data.embedded import EMBEDDED_PHOTOS

    return (f"the {len(EMBEDDED_PHOTOS)} photos embedded in scikit-image "
            f"({', '.join(EMBEDDED_PHOTOS)})")


def photo_source(spec: str, *, role: str, parameter: str) -> PhotoSource:
    """Resolve a stage's photos: ``"embedded"``, an existing path, or a photo asset name.

    An asset is fetched through :mod:`bsrgan.assets` (cache, ``$BSRGAN_MIRRORS``, download);
    when it cannot be had (offline, no mirror) the embedded photos stand in and ``notes`` says
    so, so a notebook still runs and its summary states what it used. Any other value (a
    manifest, a file list, a path that does not exist) is passed on unchanged for the trainer
    to check.

    Args:
        spec: the parameter's value.
        role: ``"training"`` or ``"validation"`` (for the notes).
        parameter: the parameter's name (for errors), e.g. ``"HR_DIR"``.
    """
    from bsrgan.assets import AssetError, default_registry, fetch

    if not spec:  # Path("") would be the working directory
        raise ValueError(f"{parameter} is empty: give a folder, a manifest or file list, a photo "
                         f"asset ({', '.join(photo_assets())}) or 'embedded'")
    if spec == "embedded":
        return PhotoSource(None, _embedded_description())
    path = Path(spec).expanduser()
    if path.exists() or spec not in photo_assets():
        return PhotoSource(str(path.resolve()) if path.exists() else spec, f"`{path.name}`")
    asset = default_registry().asset(spec)
    try:
        folder = str(fetch(spec, progress=False))
    except AssetError as exc:
        note = (f"{role} photos {spec!r} ({parameter}) unavailable, using "
                f"{_embedded_description()} instead: {str(exc).strip().splitlines()[0]}")
        return PhotoSource(None, _embedded_description(), (note,))
    return PhotoSource(folder, f"asset '{spec}': {asset.description}".rstrip(": "))


def training_source(hr_dir: str) -> PhotoSource:
    """Resolve ``HR_DIR`` (notebooks 02/03): a folder, a manifest or file list, ``"embedded"``,
    or a photo asset such as ``"sunhays80"`` (the embedded photos stand in, with a note, when it
    cannot be fetched)."""
    return photo_source(hr_dir, role="training", parameter="HR_DIR")


def validation_source(val_set: str) -> PhotoSource:
    """Resolve ``VAL_SET``: ``"embedded"``, an existing folder, or a photo asset (e.g. ``"set14"``).

    An asset that cannot be fetched (offline, no mirror) falls back to the embedded photos and
    says so in ``notes``; a name that is neither raises :class:`bsrgan.assets.AssetError`.
    """
    from bsrgan.assets import AssetError

    if val_set != "embedded" and not Path(val_set).is_dir() and val_set not in photo_assets():
        raise AssetError(f"VAL_SET {val_set!r} is neither a folder nor a photo asset; "
                         f"photo assets: {photo_assets()}")
    source = photo_source(val_set, role="validation", parameter="VAL_SET")
    if source.folder is None:
        caveat = ("validation uses the embedded photos, which are also the default training "
                  "photos (other crops and degradations): a sanity check, not a benchmark")
        source = PhotoSource(None, source.description, (*source.notes, caveat))
    return source


@functools.cache
def generator_scale(model: str) -> int:
    """The scale factor of the registered generator ``model`` (built on the meta device: no
    weights are allocated). Raises KeyError for an unknown name."""
    import torch

    from bsrgan.models import build_model

    with torch.device("meta"):
        return int(build_model(model).sf)


def _common(params: Mapping[str, Any], val_dir: str | None, stage: str,
            hr_dir: str | None = None) -> dict[str, Any]:
    """The config sections stage 1 and stage 2 share, from the notebook parameters.

    The data's scale factor is the generator's (``MODEL``), so an x2 model trains on x2 pairs.
    """
    p = params
    num_iters = int(p["NUM_ITERS"])
    workers = int(p.get("NUM_WORKERS", 0))
    return {
        "name": "bsrnet" if stage == "psnr" else "bsrgan",
        "stage": stage,
        "seed": p["SEED"],
        "total_steps": num_iters,
        "ema_decay": p["EMA_DECAY"],
        "log_every": max(1, min(50 if stage == "psnr" else 25, num_iters // 20)),
        "checkpoint_every": p.get("CHECKPOINT_EVERY", 1000),
        "data": {"hr_dir": hr_dir or p.get("HR_DIR") or None, "degradation": p["DEGRADATION"],
                 "scale": generator_scale(p["MODEL"]),
                 "hr_crop": p["HR_CROP"], "lq_patch": p["LQ_PATCH"],
                 "batch_size": p["BATCH_SIZE"], "num_workers": workers,
                 "persistent_workers": workers > 0},
        "model": {"generator": p["MODEL"]},
        "optim": {"lr_g": p["LR"]},
        "validation": {"every": p["VAL_EVERY"], "hr_dir": val_dir,
                       "num_images": p["VAL_IMAGES"], "hr_size": p["VAL_HR_SIZE"],
                       "degradation": p["DEGRADATION"]},
        "runtime": {"device": p.get("DEVICE", "auto"), "precision": p.get("PRECISION", "auto"),
                    "progress": bool(p.get("PROGRESS", False))},
    }


def bsrnet_config(params: Mapping[str, Any], *, val_dir: str | None, hr_dir: str | None = None,
                  init_from: str | None = None,
                  source: str = "notebook 02 parameters") -> TrainConfig:
    """Stage 1 (BSRNet): RRDBNet trained with L1 only; Adam, EMA of the weights.

    Args:
        params: notebook 02's parameters by name (``SEED``, ``MODEL``, ``NUM_ITERS``, ...).
        val_dir: validation photos (:func:`validation_source`), None for the embedded ones.
        init_from: weights to fine-tune from (:func:`bsrnet_init`); None trains from a random
            generator, as the paper does.
        source: names the parameters in errors.
    Raises:
        bsrgan.training.ConfigError: a value the trainer rejects; the message names the key.
    """
    data = _common(params, val_dir, "psnr", hr_dir)
    data["model"]["init_from"] = init_from
    return config_from_dict(data, source=source, overrides=_overrides(params))


def bsrgan_config(params: Mapping[str, Any], *, val_dir: str | None, init_from: str | None,
                  hr_dir: str | None = None,
                  source: str = "notebook 03 parameters") -> TrainConfig:
    """Stage 2 (BSRGAN): the generator starts from ``init_from``; L1 + VGG perceptual + GAN loss.

    ``LOSS_PRESET`` picks the recipe (``paper`` or ``released``, see
    :data:`bsrgan.training.LOSS_PRESETS`); the discriminator's learning rate equals ``LR``.
    ``PERCEPTUAL_BACKBONE`` is ``vgg19`` (the paper) or ``vgg16`` (the offline asset, a deviation
    the trainer records); there is no silent fallback between them. ``COLOUR_WEIGHT`` > 0 adds
    the low-pass colour term (:class:`bsrgan.losses.LowPassColourLoss`, not in the paper, also
    recorded); 0 or absent is the paper's loss.
    """
    data = _common(params, val_dir, "gan", hr_dir)
    loss: dict[str, Any] = {"preset": params["LOSS_PRESET"],
                            "perceptual_backbone": params["PERCEPTUAL_BACKBONE"],
                            "colour_weight": params.get("COLOUR_WEIGHT", 0.0)}
    data["loss"] = loss
    data["model"]["init_from"] = init_from
    data["optim"]["lr_d"] = params["LR"]
    return config_from_dict(data, source=source, overrides=_overrides(params))


def _overrides(params: Mapping[str, Any]) -> dict[str, Any]:
    overrides = params.get("CONFIG_OVERRIDES") or {}
    if not isinstance(overrides, Mapping):
        raise TypeError(f"CONFIG_OVERRIDES must be a mapping of dotted TrainConfig keys, "
                        f"got {overrides!r}")
    return dict(overrides)


# --------------------------------------------------------------------------- stage 2 start


@dataclass(frozen=True)
class StartingPoint:
    """What a stage's generator starts from (:func:`bsrnet_init`, :func:`bsrnet_start`).

    Attributes:
        weights: a weights file or registry name for ``model.init_from``; None for ``random``.
        description: one line for the summary (which file, found how).
    """

    weights: str | None
    description: str


class MissingWeightsError(FileNotFoundError):
    """Weights a stage should start from cannot be found; the message says what to do."""


def bsrnet_weight_candidates(project: str | os.PathLike[str]) -> list[Path]:
    """EMA weights notebook 02 left in ``project``, newest first.

    Looks in ``results/lab/02_train_bsrnet/run/weights/`` (interactive runs) and in
    ``results/<experiment>/<run-id>/02_train_bsrnet/run/weights/`` (``bsrgan run``).
    """
    results = Path(project) / "results"
    patterns = (f"lab/{BSRNET_NOTEBOOK}/{RUN_SUBDIR}/weights/*_ema.pth",
                f"*/*/{BSRNET_NOTEBOOK}/{RUN_SUBDIR}/weights/*_ema.pth")
    found = {path.resolve() for pattern in patterns for path in results.glob(pattern)
             if path.is_file()}
    return sorted(found, key=lambda path: path.stat().st_mtime, reverse=True)


def bsrnet_start(value: str, model: str, *, project: str | os.PathLike[str] | None = None
                 ) -> StartingPoint:
    """Resolve ``BSRNET_WEIGHTS`` for a generator ``model``.

    - ``""``: the newest BSRNet weights notebook 02 wrote in this checkout
      (:func:`bsrnet_weight_candidates`); :class:`MissingWeightsError` when there are none.
    - ``"random"``: a random generator, on purpose (an ablation; never a silent fallback).
    - a file, or a registry name such as ``"BSRNet"`` (the official weights).

    The weights must fit ``model`` (checked here, before any training): a mismatch raises
    :class:`bsrgan.models.WeightsError` naming the file.
    """
    from bsrgan.models import PRETRAINED
    from bsrgan.runner.outputs import project_root

    if value == RANDOM_START:
        return StartingPoint(None, "a random generator (BSRNET_WEIGHTS='random'), not BSRNet")
    if value:
        how = "registry weights" if value in PRETRAINED else "BSRNet weights"
        start = StartingPoint(value, f"{how} {_weights_name(value, 'BSRNET_WEIGHTS')}")
    else:
        root = project_root(project)
        candidates = bsrnet_weight_candidates(root)
        if not candidates:
            raise MissingWeightsError(
                "no BSRNet weights to start the GAN stage from: run notebook 02 first (its EMA "
                f"weights land in results/lab/{BSRNET_NOTEBOOK}/{RUN_SUBDIR}/weights/ of "
                f"{root}), or set BSRNET_WEIGHTS to a weights file, to 'BSRNet' for the official "
                "weights, or to 'random' to train from a random generator on purpose")
        newest = candidates[0]
        shown = newest.relative_to(root) if newest.is_relative_to(root) else newest
        start = StartingPoint(str(newest), f"BSRNet weights {shown} (the newest of notebook 02 "
                                           f"in this checkout, {len(candidates)} found)")
    _require_model(model)
    _check_fits(start.weights, model)
    return start


def bsrnet_init(value: str, model: str) -> StartingPoint:
    """Resolve notebook 02's ``INIT_WEIGHTS`` for a generator ``model``.

    - ``""``: a random generator; the paper trains BSRNet from scratch.
    - a file, or a registry name such as ``"RealSR_JPEG"``: BSRNet is fine-tuned from these
      weights, a departure from the paper that ``description`` states. A registry name is
      fetched now (cache, ``$BSRGAN_MIRRORS``, download).

    The weights must fit ``model`` (checked here, before any training): a mismatch raises
    :class:`bsrgan.models.WeightsError` naming the file; a name that is neither a file nor a
    registered model raises :class:`MissingWeightsError`.
    """
    _require_model(model)
    if not value:
        return StartingPoint(None, "random weights (the paper trains BSRNet from scratch)")
    name = _weights_name(value, "INIT_WEIGHTS")
    _check_fits(value, model)
    return StartingPoint(value, f"the weights {name}, fine-tuned: not trained from scratch as in "
                                "the paper, so the results inherit what those weights learnt")


def _weights_name(value: str, parameter: str) -> str:
    """How ``value`` is shown: a registered model's name, or an existing file's name;
    :class:`MissingWeightsError` naming ``parameter`` when it is neither."""
    from bsrgan.models import PRETRAINED

    if value in PRETRAINED:
        return value
    if Path(value).is_file():
        return Path(value).name
    raise MissingWeightsError(f"{parameter}={value!r} is neither a file nor a registered model "
                              f"({sorted(PRETRAINED)})")


def _require_model(model: str) -> None:
    from bsrgan.models import MODELS

    if model not in MODELS:
        raise KeyError(f"unknown MODEL {model!r}; registered: {sorted(MODELS)}")


def _check_fits(weights: str, model: str) -> None:
    """Load ``weights`` into ``model`` strictly; WeightsError naming both when they differ."""
    from bsrgan.models import WeightsError, build_model, load_pretrained

    loaded = load_pretrained(weights)
    target = build_model(model)
    try:
        target.load_state_dict(loaded.state_dict(), strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"{weights}: these weights do not fit MODEL={model!r} "
                           f"({str(exc).splitlines()[0]}); set MODEL to the generator "
                           "they were trained with") from exc


# --------------------------------------------------------------------------- running, reporting


def train_gan_stage(params: Mapping[str, Any], run_dir: str | os.PathLike[str], *,
                    val_dir: str | None, init_from: str | None, hr_dir: str | None = None,
                    resume: bool = False):
    """Build the stage-2 config and train it; returns ``(config, result, notes)``.

    No loss term is ever dropped: without the VGG weights the chosen ``PERCEPTUAL_BACKBONE``
    needs, training stops with an error naming the weights and the explicit alternative
    (``PERCEPTUAL_BACKBONE="vgg16"``, a recorded deviation). ``notes`` lists the perceptual loss
    used and every deviation from the paper the trainer recorded.
    """
    from bsrgan.training.trainer import train

    config = bsrgan_config(params, val_dir=val_dir, init_from=init_from, hr_dir=hr_dir)
    result = train(config, run_dir, resume=resume, overwrite=not resume)
    notes = [f"perceptual loss: {result.perceptual}"] if result.perceptual else []
    notes += [f"deviation from the paper: {d}" for d in result.deviations]
    return config, result, notes


def validation_table(history, label: str):
    """Bicubic, the model at its first and at its last validation: PSNR-Y / SSIM-Y and, when the
    run logged it, the mean-colour shift against HR (worst channel, 0-255 levels)."""
    import pandas as pd

    first, last = history.iloc[0], history.iloc[-1]
    colour = "colour_shift" in history.columns
    rows = []
    for name, row, suffix in (("bicubic", last, "_bicubic"),
                              (f"{label}, iteration {int(first['step'])}", first, ""),
                              (f"{label}, iteration {int(last['step'])}", last, "")):
        entry = {"model": name, "PSNR-Y (dB)": row["psnr" + suffix], "SSIM-Y": row["ssim" + suffix]}
        if colour:
            entry["mean-colour shift (/255)"] = row["colour_shift" + suffix]
        rows.append(entry)
    return pd.DataFrame(rows).round(4)
