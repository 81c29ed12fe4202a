"""The training loop: stage 1 (BSRNet, L1) and stage 2 (BSRGAN, L1 + VGG + GAN).

Read :meth:`Trainer.train_step` top to bottom for one optimisation step and :meth:`Trainer.run`
for the loop (log, validate, checkpoint). :func:`train` is the one-call API for notebooks and
the CLI.

* **Fail fast.** Everything a run needs from outside (VGG19 weights, the generator's starting
  weights, validation images and metric files, a resumable checkpoint whose config matches) is
  obtained or checked before any network is built; under DDP each machine's local rank 0
  downloads, the other ranks wait and then read the cached file.
* **One step** = ``optim.accumulate`` micro-batches: the generator pass (D frozen) over all of
  them, then the discriminator pass over all of them, then one optimiser step for each network.
  Spectral-norm power iterations run on the first micro-batch of each pass only, so a step with
  accumulation computes what one step on the whole batch computes.
* **Non-finite guard.** A step whose losses or gradients are not finite on any rank is skipped on
  every rank (no optimiser or EMA update) and counted; ``runtime.max_nonfinite`` consecutive ones
  stop the run with :class:`NonFiniteLossError`, leaving the last checkpoint (written before
  them) untouched.
* **Deviations** from the paper's recipe that a config asks for (VGG16, an untrained VGG, a
  dropped loss term) are listed in ``summary.json``, every checkpoint and the log.
"""
from __future__ import annotations

import bisect
import contextlib
import dataclasses
import hashlib
import json
import math
import os
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from bsrgan.training import checkpoint as ckpt
from bsrgan.training.config import (
    ResumeConfigError,
    TrainConfig,
    config_differences,
    config_to_dict,
    dropped_terms,
    load_config,
    replace,
    resume_blockers,
    save_config,
)
from bsrgan.training.dataset import (
    BlindSRDataset,
    degrade_on_device,
    hq_to_float,
    make_loader,
    training_source,
)
from bsrgan.training.distributed import (
    DistContext,
    any_true,
    cleanup,
    gather_digests,
    init_distributed,
    local_main_first,
    main_only,
    mean_over_ranks,
)
from bsrgan.training.ema import ModelEMA, unwrap
from bsrgan.training.loader_plan import plan_loader
from bsrgan.training.run_log import RunLogger
from bsrgan.utils.atomic import atomic_write_text

#: A run is loader-bound when the step waits for data this share of its time or more.
LOADER_BOUND_SHARE = 0.2
#: How a changed number of torchrun processes is listed among a resume's config differences.
WORLD_SIZE_KEY = "world size (torchrun processes)"
#: torch's warning when a schedule steps before its optimiser (see Trainer._step_schedulers).
_SCHEDULER_BEFORE_OPTIMIZER = r"Detected call of `lr_scheduler\.step\(\)` before `optimizer\.step\(\)`"


class NonFiniteLossError(RuntimeError):
    """Too many consecutive steps with a NaN/Inf loss or gradient; the run stopped."""


@dataclass
class TrainResult:
    """What a finished run left behind (paths are inside ``run_dir``)."""

    run_dir: Path
    ema_weights: Path  # plain EMA generator state dict: bsrgan.models.load_pretrained(path)
    last_checkpoint: Path | None
    steps: int
    history: Any  # pandas.DataFrame of val_log.csv (step, psnr, ssim, psnr_bicubic, ...)
    train_log: Any  # pandas.DataFrame of train_log.csv (step, losses, lr, it/s)
    final_metrics: dict[str, float] = field(default_factory=dict)
    nonfinite_steps: int = 0
    perceptual: str | None = None  # the perceptual loss description (backbone, weights origin)
    summary_path: Path | None = None
    deviations: list[str] = field(default_factory=list)  # departures from the paper's recipe
    snapshots: list[Path] = field(default_factory=list)  # EMA exports, one per checkpoint


def train(
    config: TrainConfig | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    resume: bool | str | os.PathLike[str] = False,
    progress: bool | None = None,
    overrides: dict[str, Any] | None = None,
    overwrite: bool = False,
    allow_config_change: bool = False,
) -> TrainResult:
    """Train one stage and return where its results are.

    Args:
        config: a :class:`TrainConfig` or a YAML path.
        out_dir: run folder (checkpoints/, snapshots/, weights/, logs, validation samples).
        resume: False (fresh run; refuses a folder that already has checkpoints), True (continue
            from the latest checkpoint in ``out_dir``, or start fresh if there is none) or the
            path of a checkpoint to continue from.
        progress: show the tqdm bar (default: ``config.runtime.progress``).
        overrides: dotted-key overrides, e.g. ``{"total_steps": 200}``.
        overwrite: for a fresh run, delete the checkpoints a previous run left in ``out_dir``
            instead of refusing to start.
        allow_config_change: resume even if the config differs from the checkpoint's in more
            than run length and logging (:data:`bsrgan.training.config.RESUME_FREE_KEYS`); the
            new values apply, learning-rate milestones included.

    Under ``torchrun`` every process calls this; rank 0 writes all files.
    """
    if not isinstance(config, TrainConfig):
        config = load_config(config, overrides=overrides)
    elif overrides:
        config = replace(config, **overrides)
    if progress is not None:
        config = dataclasses.replace(
            config, runtime=dataclasses.replace(config.runtime, progress=progress))
    trainer = Trainer(config, out_dir, resume=resume, overwrite=overwrite,
                      allow_config_change=allow_config_change)
    try:
        return trainer.run()
    finally:
        trainer.close()


class Trainer:
    """Holds the models, optimisers, data and logs of one run; see :func:`train`."""

    def __init__(self, config: TrainConfig, run_dir: str | os.PathLike[str], *,
                 resume: bool | str | os.PathLike[str] = False,
                 ctx: DistContext | None = None, overwrite: bool = False,
                 allow_config_change: bool = False) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self.ctx = ctx or init_distributed(config.runtime.device)
        self.device = self.ctx.device
        self.is_gan = config.stage == "gan"
        self.step = 0
        self._data_iter: Iterator[dict[str, torch.Tensor]] | None = None
        self.nonfinite_total = 0
        self.nonfinite_streak = 0
        self._skip_reason = ""
        self.final_metrics: dict[str, float] = {}
        self.last_checkpoint: Path | None = None
        self.snapshots: list[Path] = []
        rt = config.runtime

        # --- fail fast: training images first (a run without data stops before any model is
        # built), then the checkpoint and its config, then everything fetched from outside
        dc = config.data
        self.degradation_device = _degradation_device(dc.degradation_device, self.device)
        self.dataset = BlindSRDataset(training_source(dc.hr_dir), scale=dc.scale,
                                      hr_crop=dc.hr_crop, lq_patch=dc.lq_patch,
                                      degradation=dc.degradation, isp=dc.isp, seed=config.seed,
                                      hq_uint8=True, shuffle_prob=dc.shuffle_prob,
                                      use_sharp=dc.use_sharp,
                                      degrade_in_worker=self.degradation_device is None)
        self.loader_plan = plan_loader(
            num_workers=dc.num_workers, batch_size=dc.batch_size, lq_patch=dc.lq_patch,
            scale=dc.scale, prefetch_factor=dc.prefetch_factor,
            hr_crop=None if self.degradation_device is None else dc.hr_crop)
        self._windows_logged = 0
        self._loader_warned_at: int | None = None
        resume_from = self._find_resume_checkpoint(resume, overwrite)
        state = ckpt.load_checkpoint(resume_from) if resume_from else None
        self.config_changes: list[tuple[str, Any, Any]] = []
        if state is not None:
            self.config_changes = self._check_resume_config(state, resume_from,
                                                            allow_config_change)
        init_state = self._preflight(state)

        # --- speed / determinism switches
        # (process-wide switches; close() puts the previous values back)
        self._saved_switches = (torch.are_deterministic_algorithms_enabled(),
                                torch.get_num_threads(), torch.backends.cudnn.benchmark)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = rt.cudnn_benchmark and not rt.deterministic
        if rt.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        if rt.num_threads > 0:
            torch.set_num_threads(rt.num_threads)
        self.autocast_dtype = _autocast_dtype(rt.precision, self.device)
        # D in fp32 under autocast unless asked otherwise (spectral norm's power iteration
        # and the D logits are sensitive to bf16 rounding)
        self.d_autocast = self.autocast_dtype is not None and rt.d_precision == "same"
        self.memory_format = torch.channels_last if rt.channels_last else torch.contiguous_format

        # --- networks (initialised from a private RNG stream: global state untouched)
        from bsrgan.models import build_discriminator, build_model

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            generator = build_model(config.model.generator, **config.model.generator_args)
            disc = None
            if self.is_gan:
                disc = build_discriminator(config.model.discriminator,
                                           **config.model.discriminator_args)
        if init_state is not None:
            generator.load_state_dict(init_state, strict=True)
        if config.model.checkpoint_trunk:
            if not hasattr(generator, "checkpoint_trunk"):
                raise ValueError(f"model.checkpoint_trunk: generator {config.model.generator} "
                                 f"does not support activation checkpointing")
            generator.checkpoint_trunk = True
        self.generator = generator.to(self.device, memory_format=self.memory_format)
        self.discriminator = (disc.to(self.device, memory_format=self.memory_format)
                              if disc is not None else None)
        self._sn_modules = _spectral_norm_modules(self.discriminator)
        self.ema = ModelEMA(self.generator, config.ema_decay)
        self.scale = getattr(self.generator, "sf", config.data.scale)
        if self.scale != config.data.scale:
            raise ValueError(f"generator {config.model.generator} is x{self.scale} but "
                             f"data.scale is {config.data.scale}")

        # --- optimisers and schedules
        oc = config.optim
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=oc.lr_g,
                                      betas=tuple(oc.betas), weight_decay=oc.weight_decay)
        self.sched_g = torch.optim.lr_scheduler.MultiStepLR(self.opt_g, oc.milestones, oc.gamma)
        self.opt_d = self.sched_d = None
        if self.discriminator is not None:
            self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=oc.lr_d,
                                          betas=tuple(oc.betas), weight_decay=oc.weight_decay)
            self.sched_d = torch.optim.lr_scheduler.MultiStepLR(self.opt_d, oc.milestones,
                                                                oc.gamma)
        self.scaler = torch.amp.GradScaler(self.device.type,
                                           enabled=self.autocast_dtype == torch.float16)

        # --- losses
        self._build_losses()
        self.deviations = self._deviations()

        # --- restore
        if state is not None:
            self._load_state(state)
            if resume_blockers(self.config_changes):  # allowed by allow_config_change
                self._apply_optimiser_config()

        # --- wrappers: DDP, then compile (the bare modules stay in self.generator/discriminator)
        self.g_model: nn.Module = self.generator
        self.d_model: nn.Module | None = self.discriminator
        self._ddp_g = self._ddp_d = None
        if self.ctx.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.g_model = self._ddp_g = DDP(self.g_model, device_ids=ids)
            if self.discriminator is not None:
                self.d_model = self._ddp_d = DDP(self.discriminator, device_ids=ids)
        if rt.compile:
            self.g_model = torch.compile(self.g_model, backend=rt.compile_backend)

        # --- data loader (HQ leaves the workers as uint8; _to_device converts it). A step
        # splits its batch into micro-batches of batch_size / accumulate: consecutive parts of
        # the same sample stream, so a step sees the same pairs whatever accumulate is
        self.micro_batch = dc.batch_size // oc.accumulate
        self.loader = make_loader(self.dataset, batch_size=dc.batch_size,
                                  num_workers=self.loader_plan.num_workers,
                                  pin_memory=dc.pin_memory,
                                  persistent_workers=dc.persistent_workers,
                                  prefetch_factor=dc.prefetch_factor, rank=self.ctx.rank,
                                  world_size=self.ctx.world_size, start_step=self.step,
                                  worker_start_method=dc.worker_start_method)

        # --- logs and the resolved config (rank 0; the other ranks wait for them)
        self.logger = RunLogger(self.run_dir, enabled=self.ctx.is_main,
                                tensorboard=rt.tensorboard, progress=rt.progress,
                                total_steps=config.total_steps, start_step=self.step,
                                resumed=state is not None)
        main_only(lambda: self._start_run_folder(resume_from, state), self.ctx)

    # ------------------------------------------------------------------ setup helpers

    def _find_resume_checkpoint(self, resume: bool | str | os.PathLike[str],
                                overwrite: bool) -> Path | None:
        folder = self.run_dir / "checkpoints"
        if resume is False or resume is None:
            old = ckpt.list_checkpoints(folder)
            if old and not overwrite:
                raise FileExistsError(
                    f"{self.run_dir} already holds checkpoints of a run; resume it (--resume), "
                    f"start over (--overwrite) or choose another output folder")
            main_only(lambda: [path.unlink(missing_ok=True) for path in old], self.ctx)
            return None
        if resume is True:
            return ckpt.latest_checkpoint(folder)
        path = Path(resume)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: checkpoint to resume from not found")
        return path

    def _check_resume_config(self, state: dict[str, Any], path: Path,
                             allow: bool) -> list[tuple[str, Any, Any]]:
        """Differences between the checkpoint's config and this one; refuse unless allowed.

        The number of torchrun processes counts as a setting: it multiplies the effective batch
        and reshards the data stream (checkpoints from before it was recorded are not checked).
        """
        diffs = config_differences(state.get("config") or {}, self.config)
        saved_world = state.get("world_size")
        if saved_world is not None and int(saved_world) != self.ctx.world_size:
            diffs.append((WORLD_SIZE_KEY, int(saved_world), self.ctx.world_size))
        blockers = resume_blockers(diffs)
        if blockers and not allow:
            listing = "\n".join(f"  {key}: {old!r} -> {new!r}" for key, old, new in blockers)
            raise ResumeConfigError(
                f"{path}: cannot resume: the config differs from the checkpoint's in "
                f"{len(blockers)} setting(s) that change what is trained:\n{listing}\n"
                f"Resume with the checkpoint's config (see {self.run_dir / 'config.yaml'}), start "
                f"a new run, or pass --allow-config-change (allow_config_change=True) to apply "
                f"the new values from step {int(state['step'])} on")
        return diffs

    def _preflight(self, state: dict[str, Any] | None) -> dict[str, torch.Tensor] | None:
        """Obtain what the run needs from outside before anything slow; returns the generator's
        starting weights (``model.init_from``) for a fresh run, else None.

        Rank 0 alone builds the validation set and the NIQE/LPIPS scorer (``self.vset``,
        ``self.scorer``; None on the other ranks); an error there stops every rank.
        """
        cfg = self.config
        lc = cfg.loss
        if self.is_gan and lc.perceptual_weight and lc.perceptual_pretrained:
            local_main_first(lambda: _vgg_weights_file(lc), self.ctx)
        init_state = None
        if cfg.model.init_from and state is None:
            from bsrgan.models import load_pretrained

            source = cfg.model.init_from
            init_state = local_main_first(lambda: load_pretrained(source).state_dict(), self.ctx)
        self.vset = main_only(self._validation_set, self.ctx)
        self.scorer = main_only(self._perceptual_scorer, self.ctx)
        return init_state

    def _perceptual_scorer(self):
        """NIQE/LPIPS validation (rank 0), loading its images and metric files now."""
        vc = self.config.validation
        if vc.every == 0 or (vc.niqe_set is None and not vc.lpips):
            return None
        from bsrgan.training.quality import PerceptualScorer, load_real_set

        real = load_real_set(vc.niqe_set, vc.niqe_images) if vc.niqe_set else None
        return PerceptualScorer(real, lpips=vc.lpips, scale=self.config.data.scale,
                                device=self.device)

    def _build_losses(self) -> None:
        from bsrgan.losses import PixelLoss

        lc = self.config.loss
        self.pixel_loss = PixelLoss(lc.pixel, lc.pixel_weight).to(self.device)
        self.colour_loss = None
        if lc.colour_weight:
            from bsrgan.losses import LowPassColourLoss

            self.colour_loss = LowPassColourLoss(lc.colour_kernel, lc.colour_weight)
        self.perceptual_loss = None
        self.gan_loss = None
        if not self.is_gan:
            return
        from bsrgan.losses import GANLoss, PerceptualLoss

        if lc.perceptual_weight:
            self.perceptual_loss = PerceptualLoss(
                backbone=lc.perceptual_backbone, preset=lc.perceptual_preset,
                weights_path=lc.perceptual_weights_path, pretrained=lc.perceptual_pretrained,
                weight=lc.perceptual_weight).to(self.device).eval()
        self.gan_loss = GANLoss(lc.gan, lc.gan_weight).to(self.device)

    def _deviations(self) -> list[str]:
        """Departures from the paper's recipe that this config asks for, in words."""
        lc, out = self.config.loss, []
        if self.perceptual_loss is not None:
            if lc.perceptual_backbone != "vgg19":
                out.append(f"perceptual loss on {lc.perceptual_backbone.upper()} instead of the "
                           f"paper's VGG19 (loss.perceptual_backbone: {lc.perceptual_backbone})")
            if not lc.perceptual_pretrained:
                out.append("perceptual loss on an UNTRAINED, randomly initialised VGG "
                           "(loss.perceptual_pretrained: false; for tests only)")
        if self.colour_loss is not None:
            out.append(f"low-pass colour loss x{lc.colour_weight:g} ({lc.colour_kernel}x"
                       f"{lc.colour_kernel} block means) added; BSRGAN has no such term "
                       f"(loss.colour_weight: {lc.colour_weight:g})")
        for key in dropped_terms(self.config):
            out.append(f"loss term {key} set to 0, dropped from preset {lc.preset!r} "
                       f"(loss.allow_ablation: true)")
        return out

    @property
    def perceptual_description(self) -> str | None:
        return getattr(self.perceptual_loss, "description", None)

    def _announce(self, resume_from: Path | None, state: dict | None) -> None:
        cfg, log = self.config, self.logger
        n_g = sum(p.numel() for p in self.generator.parameters())
        log.info("run %s: stage %s, %s (%.2f M params), device %s, precision %s (D: %s), "
                 "world size %d", cfg.name, cfg.stage, cfg.model.generator, n_g / 1e6,
                 self.device, _precision_name(self.autocast_dtype),
                 _precision_name(self.autocast_dtype if self.d_autocast else None),
                 self.ctx.world_size)
        log.info("data: %d HR images (%d faces, %d excluded) from %s, batch %d/process "
                 "(%d micro-batch(es) of %d), effective batch %d, LR patch %d, x%d, %s%s",
                 len(self.dataset), self.dataset.num_faces, len(self.dataset.excluded),
                 cfg.data.hr_dir, cfg.data.batch_size, cfg.optim.accumulate, self.micro_batch,
                 cfg.data.batch_size * self.ctx.world_size, cfg.data.lq_patch, cfg.data.scale,
                 cfg.data.degradation,
                 "; generator trunk checkpointed" if cfg.model.checkpoint_trunk else "")
        log.info("%s", self.loader_plan.describe())
        if self.degradation_device is not None:
            log.info("degradation: the workers send uint8 HR crops and plans; this process "
                     "degrades each batch on %s (data.degradation_device: %s)",
                     self.degradation_device, cfg.data.degradation_device)
        for note in self.loader_plan.warnings:
            log.warning("%s", note)
        if self.discriminator is not None:
            log.info("discriminator: %s; loss preset %s: pixel x%g, perceptual x%g, %s GAN x%g",
                     cfg.model.discriminator, cfg.loss.preset, cfg.loss.pixel_weight,
                     cfg.loss.perceptual_weight or 0.0, cfg.loss.gan, cfg.loss.gan_weight)
        if self.perceptual_description:
            log.info("perceptual loss: %s", self.perceptual_description)
            log.text("perceptual_loss", self.perceptual_description)
        for text in self.deviations:
            log.warning("DEVIATION from the paper: %s", text)
        if self.deviations:
            log.text("deviations", "\n".join(f"- {d}" for d in self.deviations))
        if self.vset is not None:
            vc, lr_size = cfg.validation, cfg.validation.hr_size // self.scale
            log.info("validation: %d images %dx%d (LR %dx%d), seed %d", len(self.vset),
                     vc.hr_size, vc.hr_size, lr_size, lr_size, vc.seed)
        if self.scorer is not None and self.scorer.real is not None:
            real = self.scorer.real
            log.info("validation: NIQE on %d real images of %s (%s)", len(real), real.source,
                     ", ".join(real.names))
        if state is not None:
            log.info("resumed from %s at step %d", resume_from, self.step)
            for key, old, new in self.config_changes:
                log.warning("config changed on resume: %s: %r -> %r", key, old, new)

    def _validation_set(self):
        """The fixed synthetic validation set, built (or read from the run's cache) now, or None
        when validation is off."""
        vc = self.config.validation
        if vc.every == 0:
            return None
        from bsrgan.training.validation import cached_validation_set

        try:
            return cached_validation_set(
                self.run_dir / "validation", vc.hr_dir, num_images=vc.num_images,
                hr_size=vc.hr_size, scale=self.config.data.scale, degradation=vc.degradation,
                isp=vc.isp, seed=vc.seed)
        except FileNotFoundError as exc:  # name the key; subclasses such as ImageReadError
            raise FileNotFoundError(f"validation.hr_dir: {exc}") from exc  # take other args
        except ValueError as exc:
            raise ValueError(f"validation.hr_dir: {exc}") from exc

    def _start_run_folder(self, resume_from: Path | None, state: dict | None) -> None:
        """Rank 0: the resolved config next to the run, and the start-up log."""
        save_config(self.config, self.run_dir / "config.yaml")
        self._announce(resume_from, state)

    # ------------------------------------------------------------------ state

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue bit for bit (see :mod:`bsrgan.training.checkpoint`)."""
        return {
            "step": self.step,
            "generator": unwrap(self.generator).state_dict(),
            "ema": self.ema.state_dict(),
            "discriminator": (unwrap(self.discriminator).state_dict()
                              if self.discriminator is not None else None),
            "optimizer_g": self.opt_g.state_dict(),
            "optimizer_d": self.opt_d.state_dict() if self.opt_d else None,
            "scheduler_g": self.sched_g.state_dict(),
            "scheduler_d": self.sched_d.state_dict() if self.sched_d else None,
            "scaler": self.scaler.state_dict(),
            "rng": ckpt.capture_rng_state(),
            "counters": {"nonfinite_total": self.nonfinite_total,
                         "nonfinite_streak": self.nonfinite_streak},
            "world_size": self.ctx.world_size,
            "config": config_to_dict(self.config),
            "deviations": list(self.deviations),
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.ema.load_state_dict(state["ema"])
        if self.discriminator is not None:
            if state.get("discriminator") is None:
                raise ValueError("checkpoint has no discriminator but this is a gan-stage run")
            self.discriminator.load_state_dict(state["discriminator"])
            self.opt_d.load_state_dict(state["optimizer_d"])
            self.sched_d.load_state_dict(state["scheduler_d"])
        self.opt_g.load_state_dict(state["optimizer_g"])
        self.sched_g.load_state_dict(state["scheduler_g"])
        self.scaler.load_state_dict(state["scaler"])
        ckpt.restore_rng_state(state["rng"])
        counters = state.get("counters", {})
        self.nonfinite_total = int(counters.get("nonfinite_total", 0))
        self.nonfinite_streak = int(counters.get("nonfinite_streak", 0))
        self.step = int(state["step"])

    def _apply_optimiser_config(self) -> None:
        """After a resume with a changed config: the optimisers' and schedules' settings are the
        new config's (``load_state_dict`` restored the old learning rates and milestones).

        The learning rate is set to what the new schedule gives at the current step:
        ``lr * gamma ** (number of new milestones <= step)``.
        """
        oc = self.config.optim
        for opt, sched, lr in ((self.opt_g, self.sched_g, oc.lr_g),
                               (self.opt_d, self.sched_d, oc.lr_d)):
            if opt is None:
                continue
            sched.milestones = Counter(oc.milestones)
            sched.gamma = oc.gamma
            sched.base_lrs = [lr] * len(opt.param_groups)
            now = lr * oc.gamma ** bisect.bisect_right(sorted(oc.milestones), sched.last_epoch)
            for group in opt.param_groups:
                group.update(initial_lr=lr, lr=now, betas=tuple(oc.betas),
                             weight_decay=oc.weight_decay)
            sched._last_lr = [group["lr"] for group in opt.param_groups]

    def save_checkpoint(self) -> Path | None:
        """Rank 0 writes ``checkpoints/step_<step>.pt`` (atomic, keeps the last K) and the EMA
        generator as ``snapshots/<name>_ema_step_<step>.pth`` (kept, never pruned); the other
        ranks wait, and a failure there (a full disk) stops every rank. Returns the checkpoint's
        path on rank 0, None elsewhere."""
        return main_only(self._write_checkpoint, self.ctx)

    def _write_checkpoint(self) -> Path:
        path = ckpt.save_checkpoint(self.run_dir / "checkpoints", self.step, self.state_dict(),
                                    self.config.keep_last)
        snapshot = self.run_dir / "snapshots" / ckpt.snapshot_name(self.config.name, self.step)
        self.snapshots.append(ckpt.export_weights(snapshot, self.ema.state_dict()))
        self.last_checkpoint = path
        return path

    # ------------------------------------------------------------------ one step

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=self.autocast_dtype or torch.float32,
                              enabled=self.autocast_dtype is not None)

    def _discriminate(self, disc: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """D logits (fp32 or wider). Under G's autocast, D runs in fp32 unless
        ``runtime.d_precision: same``; its spectral-norm power iteration then runs in fp32 too."""
        if self.d_autocast:
            with self._autocast():
                return _widen(disc(x))
        with torch.autocast(self.device.type, enabled=False):
            return _widen(disc(_widen(x)))

    def generator_losses(self, sr: torch.Tensor, hq: torch.Tensor) -> dict[str, torch.Tensor]:
        """Generator objective terms (fp32 scalars) and their sum ``g_total``.

        sr, hq: (B, 3, H, W); sr is the raw generator output, hq in [0, 1].
        """
        losses = {"l_pix": self.pixel_loss(_widen(sr), hq)}
        if self.colour_loss is not None:
            losses["l_colour"] = self.colour_loss(_widen(sr), hq)
        if self.perceptual_loss is not None:
            with self._autocast():
                losses["l_percep"] = _widen(self.perceptual_loss(sr, hq))
        if self.gan_loss is not None:
            disc = self.discriminator  # bare module: D is frozen for the G step, no DDP sync
            fake_logits = self._discriminate(disc, sr)
            real_logits = None
            if self.gan_loss.kind == "ragan":
                with torch.no_grad():
                    real_logits = self._discriminate(disc, hq)
            losses["l_gan"] = self.gan_loss.generator(fake_logits, real_logits)
        losses["g_total"] = sum(losses.values())
        return losses

    def discriminator_losses(self, sr: torch.Tensor, hq: torch.Tensor) -> dict[str, torch.Tensor]:
        """D objective on real ``hq`` vs detached ``sr`` (one forward over both halves)."""
        batch = torch.cat([hq, sr.detach().to(hq.dtype)]).contiguous(
            memory_format=self.memory_format)
        logits = self._discriminate(self.d_model, batch)
        real_logits, fake_logits = logits.chunk(2)
        return {"d_loss": self.gan_loss.discriminator(real_logits, fake_logits),
                "d_real": real_logits.detach().mean(), "d_fake": fake_logits.detach().mean()}

    def _training_pair(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """(lq, hq) of a loader batch: as the workers made it, or degraded here on
        ``data.degradation_device`` from the uint8 HR crops and plans the workers sent."""
        if self.degradation_device is None:
            return batch["lq"], batch["hq"]
        return degrade_on_device(batch, self.degradation_device)

    def _to_device(self, lq: torch.Tensor, hq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Move a batch to the device in the training memory format; a uint8 HQ (as the loader
        sends it) becomes float32 in [0, 1] there (:func:`bsrgan.training.dataset.hq_to_float`).
        """
        lq = lq.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        hq = hq_to_float(hq.to(self.device, non_blocking=True))
        return lq, hq.contiguous(memory_format=self.memory_format)

    def train_step(self, lq: torch.Tensor, hq: torch.Tensor) -> tuple[dict[str, float], bool]:
        """One optimisation step on a batch. lq: (B, 3, h, w), hq: (B, 3, h*sf, w*sf) in [0, 1].

        The batch is split into ``optim.accumulate`` equal micro-batches; each micro-batch loss
        is divided by their number, so the summed gradients are those of the whole batch's mean
        loss. Returns (loss values averaged over the micro-batches, applied); ``applied`` is
        False when a loss or a gradient was not finite on any rank, in which case no weights,
        optimiser moments or EMA changed.
        """
        lq, hq = self._to_device(lq, hq)
        parts = self.config.optim.accumulate
        if lq.shape[0] % parts:
            raise ValueError(f"batch of {lq.shape[0]} cannot be split into optim.accumulate="
                             f"{parts} equal micro-batches")
        micro = list(zip(lq.chunk(parts), hq.chunk(parts)))
        self.opt_g.zero_grad(set_to_none=True)
        if self.opt_d is not None:
            self.opt_d.zero_grad(set_to_none=True)

        g_sums, fakes = self._generator_pass(micro)  # G: forward, losses (D frozen), backward
        d_sums = self._discriminator_pass(micro, fakes) if self.discriminator is not None else {}

        names = [*g_sums, *d_sums]
        stacked = torch.stack([v.float() for v in (*g_sums.values(), *d_sums.values())]) / parts
        values = dict(zip(names, stacked.tolist()))
        self.scaler.unscale_(self.opt_g)  # no-op without fp16; real gradients for the checks
        if self.opt_d is not None:
            self.scaler.unscale_(self.opt_d)
        problems = [f"non-finite loss {k}" for k, v in values.items() if not math.isfinite(v)]
        grad_norms: dict[str, torch.Tensor] = {}
        if not problems:  # one norm per network: checked here, reused by gradient clipping
            grad_norms = {"generator": _grad_norm(self.generator)}
            if self.discriminator is not None:
                grad_norms["discriminator"] = _grad_norm(self.discriminator)
            problems = [f"non-finite gradients in the {name}"
                        for name, norm in grad_norms.items() if not torch.isfinite(norm)]
        if any_true(bool(problems), self.ctx):  # same decision on every rank
            self._skip_reason = ", ".join(problems) or "non-finite values on another rank"
            self.opt_g.zero_grad(set_to_none=True)
            if self.opt_d is not None:
                self.opt_d.zero_grad(set_to_none=True)
            if self.scaler.is_enabled():
                self.scaler.update()  # fp16: an overflow lowers the loss scale
            self._step_schedulers(skipped=True)
            return values, False

        self._optimizer_step(self.opt_g, self.generator, grad_norms["generator"])
        if self.opt_d is not None:
            self._optimizer_step(self.opt_d, self.discriminator, grad_norms["discriminator"])
        self.scaler.update()
        self.ema.update(self.generator)
        self._step_schedulers()
        return values, True

    def _generator_pass(self, micro: list[tuple[torch.Tensor, torch.Tensor]]
                        ) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
        """Backward of the generator objective over the micro-batches, D frozen.

        Returns the summed loss terms and the detached outputs (the fakes for the D pass).
        """
        parts = len(micro)
        sums: dict[str, torch.Tensor] = {}
        fakes = []
        if self.discriminator is not None:
            self.discriminator.requires_grad_(False)
        for i, (lq, hq) in enumerate(micro):
            with _no_sync(self._ddp_g, last=i == parts - 1), \
                    _power_iteration(self._sn_modules, enabled=i == 0):
                with self._autocast():
                    sr = self.g_model(lq)
                losses = self.generator_losses(sr, hq)
                self.scaler.scale(losses["g_total"] / parts).backward()
            if self.discriminator is not None:
                fakes.append(sr.detach())
            for k, v in losses.items():
                sums[k] = sums[k] + v.detach() if k in sums else v.detach()
        return sums, fakes

    def _discriminator_pass(self, micro: list[tuple[torch.Tensor, torch.Tensor]],
                            fakes: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """Backward of the D objective (real HR vs the G pass's fakes); summed loss values."""
        parts = len(micro)
        sums: dict[str, torch.Tensor] = {}
        self.discriminator.requires_grad_(True)
        for i, ((_, hq), fake) in enumerate(zip(micro, fakes)):
            with _no_sync(self._ddp_d, last=i == parts - 1), \
                    _power_iteration(self._sn_modules, enabled=i == 0):
                losses = self.discriminator_losses(fake, hq)
                self.scaler.scale(losses["d_loss"] / parts).backward()
            for k, v in losses.items():
                sums[k] = sums[k] + v.detach() if k in sums else v.detach()
        return sums

    def _optimizer_step(self, opt: torch.optim.Optimizer, model: nn.Module,
                        grad_norm: torch.Tensor) -> None:
        """Clip to ``optim.grad_clip`` (with the norm train_step measured on the unscaled
        gradients), then step."""
        if self.config.optim.grad_clip:
            torch.nn.utils.clip_grads_with_norm_(model.parameters(), self.config.optim.grad_clip,
                                                 grad_norm)
        self.scaler.step(opt)

    def _step_schedulers(self, *, skipped: bool = False) -> None:
        """Advance the learning-rate schedules by one iteration, applied or skipped.

        The schedules count iterations, as the authors' loop does (KAIR steps its schedulers
        every iteration), so the learning rate at step ``s`` does not depend on how many steps
        were skipped as non-finite. Torch warns when a schedule moves before its optimiser has
        ever stepped (a run whose first step is skipped); that order is intended here, so the
        warning is silenced for skipped steps only.
        """
        with warnings.catch_warnings():
            if skipped:
                warnings.filterwarnings("ignore", message=_SCHEDULER_BEFORE_OPTIMIZER,
                                        category=UserWarning)
            self.sched_g.step()
            if self.sched_d is not None:
                self.sched_d.step()

    # ------------------------------------------------------------------ loop

    def validate(self) -> dict[str, float]:
        """Score the EMA generator on the fixed set (and NIQE/LPIPS when configured); log
        scalars, a CSV row and sample images."""
        if not self.ctx.is_main or self.vset is None:
            return {}
        from bsrgan.training.validation import comparison_grid, evaluate

        # fp32 even when training in bf16: bf16 outputs would cap the measurable PSNR
        scores, sr = evaluate(self.ema.module, self.vset, device=self.device)
        real_sr: list[np.ndarray] = []
        if self.scorer is not None:
            extra, real_sr = self.scorer.score(self.ema.module, self.vset, sr)
            scores.update(extra)
        self.logger.validation(self.step, scores)
        grid = comparison_grid(self.vset, sr, self.config.validation.num_grid)
        self.logger.image("val/lr_sr_hr", self.step, grid)
        if real_sr:  # the first num_grid real images, as TensorBoard images
            shown = list(zip(self.scorer.real.names, real_sr))[:self.config.validation.num_grid]
            for name, img in shown:
                self.logger.image(f"val_real/{name}", self.step, np.clip(img, 0.0, 1.0))
        self._write_grid(grid)
        extra_text = "".join(f", {k.upper()} {scores[k]:.4g} (bicubic {scores[k + '_bicubic']:.4g})"
                             for k in ("niqe", "lpips") if k in scores)
        self.logger.info("step %d: EMA PSNR %.2f dB / SSIM %.4f (bicubic %.2f dB / %.4f), "
                         "mean-colour shift %.1f/255 (bicubic %.1f)%s",
                         self.step, scores["psnr"], scores["ssim"], scores["psnr_bicubic"],
                         scores["ssim_bicubic"], scores["colour_shift"],
                         scores["colour_shift_bicubic"], extra_text)
        self.final_metrics = scores
        return scores

    def _write_grid(self, grid: np.ndarray) -> None:
        from bsrgan.io import imwrite

        imwrite(self.run_dir / "samples" / f"step_{self.step:08d}.png", grid)

    def run(self, until: int | None = None) -> TrainResult:
        """Train up to step ``until`` (default ``total_steps``); returns the run's results."""
        cfg = self.config
        end = cfg.total_steps if until is None else min(until, cfg.total_steps)
        vevery = cfg.validation.every
        if self.step == 0 and vevery > 0:
            main_only(self.validate, self.ctx)  # the starting point of every curve
        window: dict[str, list[float]] = {}
        if self._data_iter is None:  # one stream per Trainer: run(until=...) in chunks continues it
            self._data_iter = iter(self.loader)
        data_iter = self._data_iter
        started = time.perf_counter()
        self.logger.steps_per_second(self.step)
        while self.step < end:
            waited = time.perf_counter()
            batch = next(data_iter)
            computed = time.perf_counter()
            values, applied = self.train_step(*self._training_pair(batch))
            done = time.perf_counter()
            self.step += 1
            self._count_nonfinite(applied, values)
            for k, v in values.items():
                window.setdefault(k, []).append(v)
            window.setdefault("data_wait_ms", []).append(1000.0 * (computed - waited))
            window.setdefault("compute_ms", []).append(1000.0 * (done - computed))
            self.logger.advance(self.step, {"loss": values["g_total"]})
            if self.step % cfg.log_every == 0 or self.step == end:
                self._log_window(window)
                window = {}
            if vevery > 0 and self.step % vevery == 0:
                main_only(self.validate, self.ctx)  # rank 0; the others wait
            if self.step == cfg.total_steps:
                self.save_checkpoint()
            elif self.step % cfg.checkpoint_every == 0:
                if self.nonfinite_streak:  # keep the last checkpoint from before the trouble
                    self.logger.warning("step %d: checkpoint skipped during a run of non-finite "
                                        "steps", self.step)
                else:
                    self.save_checkpoint()
        elapsed = time.perf_counter() - started
        return self._finish(elapsed)

    def _count_nonfinite(self, applied: bool, values: dict[str, float]) -> None:
        if applied:
            self.nonfinite_streak = 0
            return
        self.nonfinite_total += 1
        self.nonfinite_streak += 1
        self.logger.warning("step %d skipped: %s; losses %s (%d in a row, %d in total)",
                            self.step, self._skip_reason, dict(values.items()),
                            self.nonfinite_streak, self.nonfinite_total)
        if self.nonfinite_streak >= self.config.runtime.max_nonfinite:
            last = ckpt.latest_checkpoint(self.run_dir / "checkpoints")
            msg = (f"stopping at step {self.step}: {self.nonfinite_streak} consecutive steps had "
                   f"a non-finite loss or gradient (runtime.max_nonfinite="
                   f"{self.config.runtime.max_nonfinite}; last: {self._skip_reason}). "
                   f"Last good checkpoint: {last or 'none written yet'}. Lower the learning rate, "
                   f"enable optim.grad_clip or use runtime.precision: fp32, then resume from it.")
            self.logger.warning(msg)
            raise NonFiniteLossError(msg)

    def _log_window(self, window: dict[str, list[float]]) -> None:
        means = {k: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
                 for k, v in window.items()}
        means = mean_over_ranks(means, self.ctx)
        means["lr_g"] = self.opt_g.param_groups[0]["lr"]
        if self.opt_d is not None:
            means["lr_d"] = self.opt_d.param_groups[0]["lr"]
        means["it_per_s"] = self.logger.steps_per_second(self.step)
        means["nonfinite_total"] = float(self.nonfinite_total)
        self.logger.train(self.step, means)
        self._check_loader_bound(means)

    def _check_loader_bound(self, means: dict[str, float]) -> None:
        """Warn when the step waits for data >= LOADER_BOUND_SHARE of its time (not in the first
        window, which includes the workers' start-up; at most every 10 windows)."""
        self._windows_logged += 1
        wait, compute = means.get("data_wait_ms"), means.get("compute_ms")
        if wait is None or compute is None or self._windows_logged == 1:
            return
        share = wait / max(wait + compute, 1e-9)
        workers = self.loader_plan.num_workers
        if workers == 0:
            if self._windows_logged == 2:
                self.logger.info("data is made in the training process (data.num_workers: 0): "
                                 "%.0f%% of each step", 100 * share)
            return
        last = self._loader_warned_at
        if share < LOADER_BOUND_SHARE or (
                last is not None and self.step - last < 10 * self.config.log_every):
            return
        self._loader_warned_at = self.step
        self.logger.warning(
            "step %d: loader-bound: each step waited %.0f ms for data and computed %.0f ms "
            "(%.0f%% waiting) with %d loader workers per process. Cut the HR photos into "
            "sub-images once (`bsrgan prepare`), raise data.num_workers, or use more CPU cores",
            self.step, wait, compute, 100 * share, workers)

    def _finish(self, elapsed: float) -> TrainResult:
        digests = {"generator": gather_digests(_state_digest(unwrap(self.generator)), self.ctx)}
        if self.discriminator is not None:
            digests["discriminator"] = gather_digests(
                _state_digest(unwrap(self.discriminator)), self.ctx)
        for name, values in digests.items():
            if len(set(values)) != 1:
                self.logger.warning("ranks ended with different %s weights: %s", name, values)
        weights = self.run_dir / "weights" / f"{self.config.name}_ema.pth"
        summary_path = self.run_dir / "summary.json"
        main_only(lambda: self._write_results(weights, summary_path, digests, elapsed), self.ctx)
        return TrainResult(
            run_dir=self.run_dir, ema_weights=weights,
            last_checkpoint=self.last_checkpoint or ckpt.latest_checkpoint(
                self.run_dir / "checkpoints"),
            steps=self.step, history=_read_csv(self.run_dir / "val_log.csv"),
            train_log=_read_csv(self.run_dir / "train_log.csv"),
            final_metrics=dict(self.final_metrics), nonfinite_steps=self.nonfinite_total,
            perceptual=self.perceptual_description, summary_path=summary_path,
            deviations=list(self.deviations), snapshots=self._snapshot_files())

    def _write_results(self, weights: Path, summary_path: Path,
                       digests: dict[str, list[str]], elapsed: float) -> None:
        """Rank 0: the final EMA weights and ``summary.json``."""
        cfg = self.config
        ckpt.export_weights(weights, self.ema.state_dict())
        summary = {
            "name": cfg.name, "stage": cfg.stage, "steps": self.step,
            "world_size": self.ctx.world_size, "device": str(self.device),
            "precision": _precision_name(self.autocast_dtype),
            "d_precision": _precision_name(self.autocast_dtype if self.d_autocast else None),
            "batch_per_process": cfg.data.batch_size, "accumulate": cfg.optim.accumulate,
            "micro_batch": self.micro_batch,
            "effective_batch": cfg.data.batch_size * self.ctx.world_size,
            "checkpoint_trunk": cfg.model.checkpoint_trunk,
            "perceptual_loss": self.perceptual_description,
            "deviations": self.deviations,
            "config_changes_on_resume": [
                {"key": k, "old": old, "new": new} for k, old, new in self.config_changes],
            "final_validation": self.final_metrics, "nonfinite_steps": self.nonfinite_total,
            "ema_weights": str(weights.relative_to(self.run_dir)),
            "last_checkpoint": (str(self.last_checkpoint.relative_to(self.run_dir))
                                if self.last_checkpoint else None),
            "snapshots": sorted(str(p.relative_to(self.run_dir)) for p in self._snapshot_files()),
            "seconds_this_session": round(elapsed, 2), "rank_weight_digests": digests,
        }
        atomic_write_text(summary_path, json.dumps(summary, indent=2))
        self.logger.info("done: step %d, EMA weights %s", self.step, weights)

    def _snapshot_files(self) -> list[Path]:
        """Every EMA snapshot of this run folder (earlier sessions' included), by step."""
        folder = self.run_dir / "snapshots"
        return sorted(folder.glob(f"{self.config.name}_ema_step_*.pth")) if folder.is_dir() else []

    def close(self) -> None:
        """Close logs, leave the process group (if this trainer created it), restore switches."""
        self._data_iter = None  # lets DataLoader worker processes shut down
        self.logger.close()
        cleanup(self.ctx)
        deterministic, threads, benchmark = self._saved_switches
        torch.use_deterministic_algorithms(deterministic)
        torch.set_num_threads(threads)
        torch.backends.cudnn.benchmark = benchmark


# ---------------------------------------------------------------------- helpers


def _vgg_weights_file(lc) -> Path:
    """The perceptual loss's VGG weights file, obtained now; the error names the config keys."""
    from bsrgan.losses.perceptual import VGGWeightsError, vgg_weights_file

    try:
        return vgg_weights_file(lc.perceptual_backbone, lc.perceptual_weights_path)
    except VGGWeightsError as exc:
        if lc.perceptual_backbone != "vgg19":
            raise
        raise VGGWeightsError(
            f"the perceptual loss needs VGG19 ImageNet weights (the paper's backbone) and they "
            f"cannot be had: {exc}.\nIn the config: point loss.perceptual_weights_path at a local "
            f"copy of that file, or train on VGG16 explicitly with loss.perceptual_backbone: vgg16 "
            f"(--set loss.perceptual_backbone=vgg16; a deviation from the paper, recorded in "
            f"summary.json and every checkpoint)") from exc


def _widen(x: torch.Tensor) -> torch.Tensor:
    """bf16/fp16 -> fp32; fp32 and fp64 unchanged (tests run the step in fp64)."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _grad_norm(model: nn.Module) -> torch.Tensor:
    """The global L2 norm of ``model``'s gradients (0-dim; NaN/Inf when any gradient is)."""
    return torch.nn.utils.get_total_norm([p.grad for p in model.parameters()
                                          if p.grad is not None])


def _no_sync(ddp: nn.Module | None, *, last: bool):
    """DDP: skip the gradient all-reduce on every micro-batch but the last."""
    return ddp.no_sync() if ddp is not None and not last else contextlib.nullcontext()


def _spectral_norm_modules(model: nn.Module | None) -> list[nn.Module]:
    """The spectral-norm parametrisations inside ``model`` (none for None)."""
    from torch.nn.utils.parametrizations import _SpectralNorm

    return [m for m in model.modules() if isinstance(m, _SpectralNorm)] if model else []


@contextlib.contextmanager
def _power_iteration(modules: list[nn.Module], *, enabled: bool):
    """Switch the power iteration of these spectral-norm modules on or off inside the block.

    Off, spectral norm divides by the sigma of its current singular-vector estimates without
    updating them (its eval-mode behaviour); nothing else in the model changes mode. One update
    per pass of a step, however many micro-batches the pass has.
    """
    before = [m.training for m in modules]
    for m in modules:
        m.train(m.training and enabled)
    try:
        yield
    finally:
        for m, mode in zip(modules, before):
            m.train(mode)


def _degradation_device(setting: str, device: torch.device) -> torch.device | None:
    """Where the training process degrades batches: None (in the workers), the training GPU
    for "cuda", or the CPU for "cpu"."""
    if setting == "worker":
        return None
    if setting == "cpu":
        return torch.device("cpu")
    if device.type != "cuda":
        raise ValueError(f"data.degradation_device: cuda degrades on the training GPU, but this "
                         f"run trains on {device} (runtime.device); use cpu or worker")
    return device


def _autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """None = fp32. ``auto``: bf16 on a CUDA GPU that supports it, else fp32. bf16 also runs on
    the CPU (autocast; slow without native bf16 units); fp16 needs CUDA."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "auto":  # CUDA: bf16 where the GPU has it (Ampere and later)
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    if precision == "fp16" and device.type != "cuda":
        raise ValueError(f"runtime.precision 'fp16' needs CUDA; use fp32, bf16 or auto on "
                         f"{device.type}")
    return torch.float16 if precision == "fp16" else torch.bfloat16


def _precision_name(dtype: torch.dtype | None) -> str:
    return {None: "fp32", torch.bfloat16: "bf16 autocast", torch.float16: "fp16 autocast"}[dtype]


def _state_digest(model: nn.Module) -> str:
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _read_csv(path: Path):
    import pandas as pd

    return pd.read_csv(path) if path.is_file() else pd.DataFrame()
