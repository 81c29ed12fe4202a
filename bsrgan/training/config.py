"""Training configuration: dataclasses loaded from YAML with type checks.

Every YAML key maps one to one onto a dataclass field; unknown keys and values of the wrong
type are errors that name the file and the key. Fields left as ``None`` are filled in by
:func:`resolve` from two tables of defaults, so the recipe lives in data, not in branches:

* ``STAGE_DEFAULTS``: stage 1 (``psnr``, BSRNet) and stage 2 (``gan``, BSRGAN) optimiser settings.
* ``LOSS_PRESETS``: the two BSRGAN recipes, ``paper`` (as written in the paper) and ``released``
  (the authors' published training config).

The resolved config (no ``None`` left where a preset applies) is what gets saved next to the
run's outputs and inside every checkpoint.
"""
from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

STAGES = ("psnr", "gan")
DEGRADATIONS = ("bsrgan", "bsrgan_plus")
DEGRADATION_DEVICES = ("worker", "cuda", "cpu")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
D_PRECISIONS = ("fp32", "same")
BACKBONES = ("vgg19", "vgg16")

#: Keys that may differ between a checkpoint's config and the config that resumes it: how long
#: the run goes, how it logs, how the loader is parallelised (the data stream is a pure
#: function of seed, epoch and index, so the loader settings cannot change what is trained on),
#: and how a step is computed where that leaves its result unchanged up to float rounding, so
#: that a run can move to a GPU with less memory or another machine: gradient accumulation and
#: activation checkpointing (tested to give the whole batch's gradients), threads, memory
#: format, compilation and cuDNN's algorithm choice; and ``model.init_from``, which only a fresh
#: run reads (a resumed one takes every weight from its checkpoint), so a stage-2 run resumes
#: on a machine where the BSRNet file lies elsewhere. Any other difference refuses the resume
#: unless it is explicitly allowed.
RESUME_FREE_KEYS = (
    "total_steps", "log_every", "checkpoint_every", "keep_last",
    "validation.every", "validation.num_grid",
    "runtime.tensorboard", "runtime.progress", "runtime.max_nonfinite",
    "data.num_workers", "data.pin_memory", "data.persistent_workers", "data.prefetch_factor",
    "data.worker_start_method",
    "optim.accumulate", "model.checkpoint_trunk", "model.init_from",
    "runtime.num_threads", "runtime.channels_last", "runtime.compile", "runtime.compile_backend",
    "runtime.cudnn_benchmark", "runtime.deterministic",
)

#: Optimiser defaults per stage (paper Sec. 4.1 / the authors' KAIR configs).
STAGE_DEFAULTS: dict[str, dict[str, Any]] = {
    "psnr": {
        "lr_g": 1.0e-4,
        "milestones": [200_000, 400_000, 600_000, 800_000, 1_000_000, 2_000_000],
    },
    "gan": {
        "lr_g": 5.0e-5,
        "lr_d": 5.0e-5,
        "milestones": [800_000, 1_600_000],
    },
}

#: Loss/discriminator recipes for the GAN stage.
LOSS_PRESETS: dict[str, dict[str, Any]] = {
    # The paper: L1 (1) + VGG perceptual (1) + least-squares PatchGAN with spectral norm (0.1).
    "paper": {
        "pixel_weight": 1.0,
        "perceptual_weight": 1.0,
        "perceptual_preset": "paper",
        "gan": "lsgan",
        "gan_weight": 0.1,
        "discriminator": "patchgan_sn",
    },
    # The authors' released config: U-Net discriminator with spectral norm, LSGAN, GAN weight 1,
    # VGG layers [2, 7, 16, 25, 34] weighted [0.1, 0.1, 1, 1, 1].
    "released": {
        "pixel_weight": 1.0,
        "perceptual_weight": 1.0,
        "perceptual_preset": "released",
        "gan": "lsgan",
        "gan_weight": 1.0,
        "discriminator": "unet_sn",
    },
}


class ConfigError(ValueError):
    """A config file or dict is malformed; the message names the source and the key."""


class ResumeConfigError(ConfigError):
    """A run was asked to resume with a config that differs from its checkpoint's."""


@dataclass
class DataConfig:
    """Training pairs: HR crops degraded on the fly by ``degrade_bsrgan`` / ``_plus``."""

    # HR training images: a folder (searched recursively; a prepared folder is read from its
    # manifest.tsv), a manifest.tsv or file list, or a list of these; "embedded" = the five
    # photos in scikit-image (demo configs only). Not set (None): training refuses to start.
    hr_dir: str | list[str] | None = None
    degradation: str = "bsrgan"  # "bsrgan" | "bsrgan_plus"
    isp: bool = True  # camera sensor noise through the ISP model
    # where the pairs are degraded: "worker" (numpy pipeline in the DataLoader workers), or
    # "cuda" / "cpu": the workers send uint8 HR crops and their plans, and the training process
    # degrades each batch with the batched torch backend ("cuda" = its own GPU)
    degradation_device: str = "worker"
    shuffle_prob: float = 0.1  # bsrgan_plus: P(fully shuffled order); the authors' KAIR config
    use_sharp: bool = False  # bsrgan_plus: USM-sharpen the HR target (KAIR config: false)
    scale: int = 4
    hr_crop: int = 320  # random HR crop before degradation (authors' H_size)
    lq_patch: int = 72  # LR patch; the HR patch is lq_patch * scale
    # LR/HR pairs per process per optimiser step; optim.accumulate splits them into equal
    # micro-batches (DDP: effective batch = batch_size * world size, whatever accumulate is)
    batch_size: int = 48
    # DataLoader processes per training process; "auto" = the CPUs this process may use,
    # divided among the torchrun processes of the node, minus one for the process itself
    # (at most 16); see bsrgan.training.loader_plan
    num_workers: int | str = "auto"
    pin_memory: bool = True
    persistent_workers: bool = True
    prefetch_factor: int = 2
    # how workers start: "spawn" (safe default: a fork after OpenCV/OpenMP thread pools were used
    # in the parent can deadlock the workers), "forkserver", or "fork" (fastest start)
    worker_start_method: str = "spawn"


@dataclass
class ModelConfig:
    """Generator, discriminator (GAN stage) and the weights the generator starts from."""

    generator: str = "rrdbnet_x4"  # name in bsrgan.models.MODELS
    generator_args: dict[str, Any] = field(default_factory=dict)  # overrides, e.g. {nb: 23}
    discriminator: str | None = None  # bsrgan.models.DISCRIMINATORS; None = from loss preset
    discriminator_args: dict[str, Any] = field(default_factory=dict)
    init_from: str | None = None  # BSRNet weights or a stage-1 checkpoint (its EMA is used)
    # recompute each RRDB block's activations in the backward pass instead of storing them
    # (activation checkpointing): far less memory for ~1/3 more generator compute
    checkpoint_trunk: bool = False


@dataclass
class LossConfig:
    """Loss terms. ``preset`` fills every ``None`` field (GAN stage only)."""

    preset: str | None = None  # "paper" | "released"; None for the PSNR stage
    pixel: str = "l1"  # "l1" | "l2"
    pixel_weight: float | None = None
    perceptual_weight: float | None = None
    perceptual_preset: str | None = None  # VGG layer set: "paper" | "released"
    # "vgg19" (the paper; the run fails fast when its weights cannot be had) or "vgg16" (the
    # offline asset: a deviation, recorded in summary.json and every checkpoint)
    perceptual_backbone: str = "vgg19"
    perceptual_weights_path: str | None = None  # local VGG weights file, e.g. the vgg16 mirror
    perceptual_pretrained: bool = True  # False: random VGG (tests only; recorded as a deviation)
    gan: str | None = None  # "lsgan" | "vanilla" | "ragan"
    gan_weight: float | None = None
    # True allows a weight of 0 for a term the preset uses (an ablation, recorded as a
    # deviation); False refuses it, so that no loss term is ever dropped by accident
    allow_ablation: bool = False
    # low-pass colour term (bsrgan.losses.LowPassColourLoss): L1 between colour_kernel x
    # colour_kernel block means of output and target, times colour_weight. Not in the paper:
    # 0 (the default) is BSRGAN's loss; > 0 is recorded as a deviation
    colour_weight: float = 0.0
    colour_kernel: int = 8


@dataclass
class OptimConfig:
    """Adam + MultiStepLR for G (and D). ``None`` = the stage default."""

    lr_g: float | None = None
    lr_d: float | None = None
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    weight_decay: float = 0.0
    milestones: list[int] | None = None
    gamma: float = 0.5
    grad_clip: float | None = None  # max global grad norm; None = no clipping
    # gradient accumulation: data.batch_size is split into this many micro-batches whose
    # gradients are summed before one optimiser step (same effective batch, less memory)
    accumulate: int = 1


@dataclass
class ValidationConfig:
    """A fixed synthetic set: HR centre crops degraded once with fixed seeds, cached in the run."""

    every: int = 5000  # steps; 0 disables validation
    hr_dir: str | None = None  # None = the embedded images
    num_images: int = 8
    hr_size: int = 256  # HR centre crop; LR is hr_size // scale
    degradation: str = "bsrgan"
    isp: bool = True
    seed: int = 2021
    num_grid: int = 4  # images shown in the LR/SR/HR grid
    lpips: bool = False  # also LPIPS (VGG) of the EMA model on the synthetic set
    # real LR images scored with NIQE (no reference): an asset name such as "realsrset" or a
    # folder; None = off. The first niqe_images files in name order form the fixed subset.
    niqe_set: str | None = None
    niqe_images: int = 8


@dataclass
class RuntimeConfig:
    """Speed and safety switches."""

    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:N"
    precision: str = "auto"  # "auto" (bf16 on CUDA, fp32 on CPU) | "fp32" | "bf16" | "fp16"
    channels_last: bool = True
    compile: bool = False  # torch.compile the generator (CUDA)
    compile_backend: str = "inductor"  # torch.compile backend ("aot_eager": no code generation)
    # the discriminator's precision when G runs under autocast: "fp32" (its convs and the
    # spectral-norm power iteration in fp32) or "same" (under G's autocast)
    d_precision: str = "fp32"
    cudnn_benchmark: bool = True
    deterministic: bool = False  # torch.use_deterministic_algorithms (bitwise resume on CPU)
    num_threads: int = 0  # torch intra-op CPU threads; 0 = torch's default (all cores)
    max_nonfinite: int = 10  # consecutive non-finite steps before the run stops
    tensorboard: bool = True
    progress: bool = True  # tqdm bar on rank 0


@dataclass
class TrainConfig:
    """One training run (one stage)."""

    name: str = "run"
    stage: str = "psnr"  # "psnr" (BSRNet) | "gan" (BSRGAN)
    seed: int = 0
    total_steps: int = 1_000_000
    ema_decay: float = 0.999
    log_every: int = 100
    checkpoint_every: int = 5000
    keep_last: int = 3
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)


# --------------------------------------------------------------------------- loading


def load_config(
    path: str | os.PathLike[str], overrides: dict[str, Any] | None = None
) -> TrainConfig:
    """Read a YAML file into a resolved :class:`TrainConfig`.

    ``overrides`` maps dotted keys to values, e.g. ``{"total_steps": 200, "data.batch_size": 4}``;
    they are type-checked like the file. Relative paths in the file stay as written.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if raw is None:
        raw = {}
    return config_from_dict(raw, source=str(path), overrides=overrides)


def config_from_dict(
    data: dict[str, Any],
    *,
    source: str = "<dict>",
    overrides: dict[str, Any] | None = None,
) -> TrainConfig:
    """Build and resolve a config from a plain nested dict (type-checked, unknown keys rejected)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: top level must be a mapping, got {type(data).__name__}")
    data = _apply_overrides(data, overrides or {}, source)
    config = _build(TrainConfig, data, source, prefix="")
    return resolve(config, source=source)


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    """Plain nested dict (YAML/JSON-serialisable) of a config."""
    return dataclasses.asdict(config)


def save_config(config: TrainConfig, path: str | os.PathLike[str]) -> Path:
    """Write the config as YAML, atomically."""
    from bsrgan.utils.atomic import atomic_write_text

    text = yaml.safe_dump(config_to_dict(config), sort_keys=False)
    return atomic_write_text(path, text)


def replace(config: TrainConfig, **dotted: Any) -> TrainConfig:
    """Copy of ``config`` with dotted keys changed: ``replace(cfg, **{"data.batch_size": 4})``."""
    return config_from_dict(config_to_dict(config), source="<replace>", overrides=dotted)


# --------------------------------------------------------------------------- resolving


def resolve(config: TrainConfig, *, source: str = "<config>") -> TrainConfig:
    """Fill stage/preset defaults and check cross-field constraints; returns a new config."""
    cfg = dataclasses.replace(
        config,
        data=dataclasses.replace(config.data),
        model=dataclasses.replace(config.model),
        loss=dataclasses.replace(config.loss),
        optim=dataclasses.replace(config.optim),
    )
    _check_choice(source, "stage", cfg.stage, STAGES)
    for key, value in STAGE_DEFAULTS[cfg.stage].items():
        if getattr(cfg.optim, key) is None:
            setattr(cfg.optim, key, list(value) if isinstance(value, list) else value)

    if cfg.stage == "gan":
        if cfg.loss.preset is None:
            raise ConfigError(
                f"{source}: loss.preset is required for the gan stage "
                f"(one of {sorted(LOSS_PRESETS)})"
            )
        _check_choice(source, "loss.preset", cfg.loss.preset, tuple(LOSS_PRESETS))
        for key, value in LOSS_PRESETS[cfg.loss.preset].items():
            target = cfg.model if key == "discriminator" else cfg.loss
            if getattr(target, key) is None:
                setattr(target, key, value)
        _check_no_dropped_term(cfg, source)
    else:
        if cfg.loss.preset is not None:
            raise ConfigError(f"{source}: loss.preset applies to the gan stage only")
        if cfg.loss.pixel_weight is None:
            cfg.loss.pixel_weight = 1.0
        for key in ("perceptual_weight", "gan_weight"):
            if getattr(cfg.loss, key) not in (None, 0, 0.0):
                raise ConfigError(f"{source}: loss.{key} is only used by the gan stage")
        cfg.optim.lr_d = None

    _check_choice(source, "data.degradation", cfg.data.degradation, DEGRADATIONS)
    _check_choice(source, "data.degradation_device", cfg.data.degradation_device,
                  DEGRADATION_DEVICES)
    if not 0.0 <= cfg.data.shuffle_prob <= 1.0:
        raise ConfigError(f"{source}: data.shuffle_prob must be in [0, 1], got "
                          f"{cfg.data.shuffle_prob}")
    _check_choice(source, "data.worker_start_method", cfg.data.worker_start_method,
                  ("spawn", "forkserver", "fork"))
    _check_choice(source, "validation.degradation", cfg.validation.degradation, DEGRADATIONS)
    _check_choice(source, "runtime.precision", cfg.runtime.precision, PRECISIONS)
    _check_choice(source, "loss.pixel", cfg.loss.pixel, ("l1", "l2"))
    if cfg.loss.perceptual_backbone == "auto":
        raise ConfigError(
            f"{source}: loss.perceptual_backbone 'auto' is no longer accepted: it fell back to "
            f"VGG16 silently when VGG19 was missing. Use 'vgg19' (the paper) or 'vgg16' (an "
            f"explicit deviation, recorded in the run's results)")
    _check_choice(source, "loss.perceptual_backbone", cfg.loss.perceptual_backbone, BACKBONES)
    _check_choice(source, "runtime.d_precision", cfg.runtime.d_precision, D_PRECISIONS)
    positive = {
        "total_steps": cfg.total_steps, "log_every": cfg.log_every,
        "checkpoint_every": cfg.checkpoint_every, "keep_last": cfg.keep_last,
        "data.scale": cfg.data.scale, "data.lq_patch": cfg.data.lq_patch,
        "data.batch_size": cfg.data.batch_size, "runtime.max_nonfinite": cfg.runtime.max_nonfinite,
        "validation.num_images": cfg.validation.num_images,
        "validation.niqe_images": cfg.validation.niqe_images, "optim.accumulate": cfg.optim.accumulate,
    }
    for key, value in positive.items():
        if value < 1:
            raise ConfigError(f"{source}: {key} must be >= 1, got {value}")
    workers = cfg.data.num_workers
    if workers != "auto" and not (isinstance(workers, int) and workers >= 0):
        raise ConfigError(f"{source}: data.num_workers must be an integer >= 0 or \"auto\", "
                          f"got {workers!r}")
    if cfg.validation.every < 0:
        raise ConfigError(f"{source}: validation.every must be >= 0")
    if cfg.loss.colour_weight < 0:
        raise ConfigError(f"{source}: loss.colour_weight must be >= 0, got {cfg.loss.colour_weight}")
    if cfg.loss.colour_kernel < 1:
        raise ConfigError(f"{source}: loss.colour_kernel must be >= 1, got {cfg.loss.colour_kernel}")
    if cfg.loss.colour_weight and cfg.loss.colour_kernel > cfg.data.lq_patch * cfg.data.scale:
        raise ConfigError(
            f"{source}: loss.colour_kernel ({cfg.loss.colour_kernel}) must be <= the HR patch "
            f"side data.lq_patch * data.scale ({cfg.data.lq_patch * cfg.data.scale})")
    hr_dir = cfg.data.hr_dir
    paths = [hr_dir] if isinstance(hr_dir, str) else (hr_dir or [])
    if hr_dir is not None and (not paths or not all(paths)):
        raise ConfigError(f"{source}: data.hr_dir must be a non-empty path, list of paths or "
                          f"\"embedded\", got {hr_dir!r}")
    if cfg.data.hr_crop < cfg.data.lq_patch * cfg.data.scale:
        raise ConfigError(
            f"{source}: data.hr_crop ({cfg.data.hr_crop}) must be >= data.lq_patch * data.scale "
            f"({cfg.data.lq_patch * cfg.data.scale})"
        )
    if cfg.data.batch_size % cfg.optim.accumulate:
        raise ConfigError(
            f"{source}: data.batch_size ({cfg.data.batch_size}) must be a multiple of "
            f"optim.accumulate ({cfg.optim.accumulate}): the batch is split into equal "
            f"micro-batches")
    if cfg.validation.hr_size % cfg.data.scale:
        raise ConfigError(f"{source}: validation.hr_size must be a multiple of data.scale")
    if not 0.0 <= cfg.ema_decay < 1.0:
        raise ConfigError(f"{source}: ema_decay must be in [0, 1), got {cfg.ema_decay}")
    if sorted(cfg.optim.milestones) != list(cfg.optim.milestones):
        raise ConfigError(f"{source}: optim.milestones must be increasing")
    if len(cfg.optim.betas) != 2:
        raise ConfigError(f"{source}: optim.betas must have two values")
    return cfg


def _check_no_dropped_term(cfg: TrainConfig, source: str) -> None:
    """A preset's loss term set to weight 0 is refused unless ``loss.allow_ablation`` says so."""
    if cfg.loss.allow_ablation:
        return
    for key in ("pixel_weight", "perceptual_weight", "gan_weight"):
        preset_value = LOSS_PRESETS[cfg.loss.preset][key]
        if preset_value and not getattr(cfg.loss, key):
            raise ConfigError(
                f"{source}: loss.{key} is 0, which drops a term of loss preset "
                f"{cfg.loss.preset!r} (weight {preset_value:g}); that is a different model, not "
                f"BSRGAN. Set loss.allow_ablation: true to train this ablation on purpose (it is "
                f"recorded as a deviation in the run's results)")


def dropped_terms(cfg: TrainConfig) -> list[str]:
    """Loss weights of the GAN preset that ``cfg`` sets to 0 (allowed by ``allow_ablation``)."""
    if cfg.stage != "gan" or cfg.loss.preset is None:
        return []
    return [key for key in ("pixel_weight", "perceptual_weight", "gan_weight")
            if LOSS_PRESETS[cfg.loss.preset][key] and not getattr(cfg.loss, key)]


def _check_choice(source: str, key: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{source}: {key} must be one of {list(choices)}, got {value!r}")


# --------------------------------------------------------------------------- resume


_SECTIONS = ("data", "model", "loss", "optim", "validation", "runtime")


def flatten_config(data: dict[str, Any]) -> dict[str, Any]:
    """``{"data": {"batch_size": 4}}`` -> ``{"data.batch_size": 4}``; mapping-valued fields such
    as ``model.generator_args`` stay one value."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in _SECTIONS and isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


def config_differences(old: dict[str, Any], new: TrainConfig) -> list[tuple[str, Any, Any]]:
    """(key, old value, new value) for every field where ``new`` differs from a saved config.

    ``old`` is the plain dict stored in a checkpoint. A key the old config lacks (a field added
    since) counts as different only when the new value is not the field's default; a key only
    the old config has (a field removed since) is ignored.
    """
    before = flatten_config(old)
    after = flatten_config(config_to_dict(new))
    defaults = flatten_config(config_to_dict(TrainConfig()))
    diffs = []
    for key in sorted(after):
        if key in before:
            if before[key] != after[key]:
                diffs.append((key, before[key], after[key]))
        elif after[key] != defaults.get(key):
            diffs.append((key, "<not set>", after[key]))
    return diffs


def resume_blockers(diffs: list[tuple[str, Any, Any]]) -> list[tuple[str, Any, Any]]:
    """The differences that are not in :data:`RESUME_FREE_KEYS`."""
    return [d for d in diffs if d[0] not in RESUME_FREE_KEYS]


# --------------------------------------------------------------------------- type checks


def _apply_overrides(data: dict[str, Any], overrides: dict[str, Any], source: str) -> dict:
    import copy

    data = copy.deepcopy(data)
    for dotted, value in overrides.items():
        node = data
        parts = dotted.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{source}: override {dotted!r}: {part!r} is not a section")
            node = child
        node[parts[-1]] = value
    return data


def _build(cls: type, data: Any, source: str, prefix: str) -> Any:
    where = prefix.rstrip(".") or "top level"
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {where} must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) {', '.join(prefix + k for k in unknown)} "
            f"(allowed in {where}: {', '.join(names)})"
        )
    kwargs = {}
    for name in names:
        if name not in data:
            continue
        hint = hints[name]
        key = prefix + name
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, data[name], source, key + ".")
        else:
            kwargs[name] = _check_type(data[name], hint, source, key)
    return cls(**kwargs)


def _check_type(value: Any, hint: Any, source: str, key: str) -> Any:
    """Return ``value`` (ints widened to float where a float is expected) or raise ConfigError."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check_type(value, arg, source, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else
                          f"{source}: {key}: {value!r} does not match {_name(hint)}")
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise _type_error(value, hint, source, key)
        return [_check_type(v, args[0], source, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise _type_error(value, hint, source, key)
        return dict(value)
    if hint is Any:
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error(value, hint, source, key)
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(value, hint, source, key)
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise _type_error(value, hint, source, key)
        return value
    if hint is str:
        if not isinstance(value, str):
            raise _type_error(value, hint, source, key)
        return value
    raise ConfigError(f"{source}: {key}: unsupported field type {_name(hint)}")


def _type_error(value: Any, hint: Any, source: str, key: str) -> ConfigError:
    msg = f"{source}: {key} must be {_name(hint)}, got {type(value).__name__} {value!r}"
    if isinstance(value, str) and hint is float:
        msg += " (YAML 1.1 reads '1e-4' as a string: write 1.0e-4)"
    return ConfigError(msg)


def _name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
