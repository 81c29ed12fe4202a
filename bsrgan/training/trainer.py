"""The training loop: stage 1 (BSRNet, L1) and stage 2 (BSRGAN, L1 + VGG + GAN).

Read :meth:`Trainer.train_step` top to bottom for one optimisation step and :meth:`Trainer.run`
for the loop (log, validate, checkpoint). :func:`train` is the one-call API for notebooks and
the CLI. A step whose loss is not finite on any rank is skipped on every rank (no optimiser or
EMA update) and counted; ``runtime.max_nonfinite`` consecutive ones stop the run with
:class:`NonFiniteLossError`, leaving the last checkpoint (written before them) untouched.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from bsrgan.training import checkpoint as ckpt
from bsrgan.training.config import (
    TrainConfig,
    config_to_dict,
    load_config,
    replace,
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
    barrier,
    cleanup,
    gather_digests,
    init_distributed,
    mean_over_ranks,
)
from bsrgan.training.ema import ModelEMA, unwrap
from bsrgan.training.loader_plan import plan_loader
from bsrgan.training.run_log import RunLogger
from bsrgan.utils.atomic import atomic_path, atomic_write_text

#: A run is loader-bound when the step waits for data this share of its time or more.
LOADER_BOUND_SHARE = 0.2


class NonFiniteLossError(RuntimeError):
    """Too many consecutive steps with a NaN/Inf loss; the run stopped."""


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


def train(
    config: TrainConfig | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    resume: bool | str | os.PathLike[str] = False,
    progress: bool | None = None,
    overrides: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> TrainResult:
    """Train one stage and return where its results are.

    Args:
        config: a :class:`TrainConfig` or a YAML path.
        out_dir: run folder (checkpoints/, weights/, logs, validation samples).
        resume: False (fresh run; refuses a folder that already has checkpoints), True (continue
            from the latest checkpoint in ``out_dir``, or start fresh if there is none) or the
            path of a checkpoint to continue from.
        progress: show the tqdm bar (default: ``config.runtime.progress``).
        overrides: dotted-key overrides, e.g. ``{"total_steps": 200}``.
        overwrite: for a fresh run, delete the checkpoints a previous run left in ``out_dir``
            instead of refusing to start.

    Under ``torchrun`` every process calls this; rank 0 writes all files.
    """
    if not isinstance(config, TrainConfig):
        config = load_config(config, overrides=overrides)
    elif overrides:
        config = replace(config, **overrides)
    if progress is not None:
        config = dataclasses.replace(
            config, runtime=dataclasses.replace(config.runtime, progress=progress))
    trainer = Trainer(config, out_dir, resume=resume, overwrite=overwrite)
    try:
        return trainer.run()
    finally:
        trainer.close()


class Trainer:
    """Holds the models, optimisers, data and logs of one run; see :func:`train`."""

    def __init__(self, config: TrainConfig, run_dir: str | os.PathLike[str], *,
                 resume: bool | str | os.PathLike[str] = False,
                 ctx: DistContext | None = None, overwrite: bool = False) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self.ctx = ctx or init_distributed(config.runtime.device)
        self.device = self.ctx.device
        self.is_gan = config.stage == "gan"
        self.step = 0
        self._data_iter: Iterator[dict[str, torch.Tensor]] | None = None
        self.nonfinite_total = 0
        self.nonfinite_streak = 0
        self.final_metrics: dict[str, float] = {}
        self.last_checkpoint: Path | None = None
        rt = config.runtime

        # --- training images first: a run without data stops before any model is built
        dc = config.data
        self.degradation_device = _degradation_device(dc.degradation_device, self.device)
        self.dataset = BlindSRDataset(training_source(dc.hr_dir), scale=dc.scale,
                                      hr_crop=dc.hr_crop, lq_patch=dc.lq_patch,
                                      degradation=dc.degradation, isp=dc.isp, seed=config.seed,
                                      hq_uint8=True, shuffle_prob=dc.shuffle_prob,
                                      use_sharp=dc.use_sharp,
                                      degrade_in_worker=self.degradation_device is None)
        self.loader_plan = plan_loader(num_workers=dc.num_workers, batch_size=dc.batch_size,
                                       lq_patch=dc.lq_patch, scale=dc.scale,
                                       prefetch_factor=dc.prefetch_factor)
        self._windows_logged = 0
        self._loader_warned_at: int | None = None

        resume_from = self._find_resume_checkpoint(resume, overwrite)
        state = ckpt.load_checkpoint(resume_from) if resume_from else None

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
        if config.model.init_from and state is None:
            self._init_generator(generator, config.model.init_from)
        self.generator = generator.to(self.device, memory_format=self.memory_format)
        self.discriminator = (disc.to(self.device, memory_format=self.memory_format)
                              if disc is not None else None)
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

        # --- restore
        if state is not None:
            self._load_state(state)

        # --- wrappers: DDP, then compile (the bare modules stay in self.generator/discriminator)
        self.g_model: nn.Module = self.generator
        self.d_model: nn.Module | None = self.discriminator
        if self.ctx.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.g_model = DDP(self.g_model, device_ids=ids)
            if self.discriminator is not None:
                self.d_model = DDP(self.discriminator, device_ids=ids)
        if rt.compile:
            self.g_model = torch.compile(self.g_model)

        # --- data loader (HQ leaves the workers as uint8; _to_device converts it)
        self.loader = make_loader(self.dataset, batch_size=dc.batch_size,
                                  num_workers=self.loader_plan.num_workers,
                                  pin_memory=dc.pin_memory,
                                  persistent_workers=dc.persistent_workers,
                                  prefetch_factor=dc.prefetch_factor, rank=self.ctx.rank,
                                  world_size=self.ctx.world_size, start_step=self.step,
                                  worker_start_method=dc.worker_start_method)

        # --- logs, resolved config, validation set (rank 0)
        self.logger = RunLogger(self.run_dir, enabled=self.ctx.is_main,
                                tensorboard=rt.tensorboard, progress=rt.progress,
                                total_steps=config.total_steps, start_step=self.step,
                                resumed=state is not None)
        self.vset = None
        if self.ctx.is_main:
            save_config(config, self.run_dir / "config.yaml")
            self._announce(resume_from, state)
            if config.validation.every > 0:
                self.vset = self._validation_set()
        barrier(self.ctx)

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
            if self.ctx.is_main:
                for path in old:
                    path.unlink(missing_ok=True)
            barrier(self.ctx)
            return None
        if resume is True:
            return ckpt.latest_checkpoint(folder)
        path = Path(resume)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: checkpoint to resume from not found")
        return path

    def _init_generator(self, generator: nn.Module, source: str) -> None:
        """Stage 2 starts from BSRNet: a weights file, a stage-1 checkpoint (its EMA) or a name."""
        from bsrgan.models import load_pretrained

        pretrained = load_pretrained(source)
        generator.load_state_dict(pretrained.state_dict(), strict=True)

    def _build_losses(self) -> None:
        from bsrgan.losses import PixelLoss

        lc = self.config.loss
        self.pixel_loss = PixelLoss(lc.pixel, lc.pixel_weight).to(self.device)
        self.perceptual_loss = None
        self.gan_loss = None
        if not self.is_gan:
            return
        from bsrgan.losses import GANLoss

        if lc.perceptual_weight:
            self.perceptual_loss = _perceptual_loss(lc).to(self.device).eval()
        self.gan_loss = GANLoss(lc.gan, lc.gan_weight).to(self.device)

    @property
    def perceptual_description(self) -> str | None:
        return getattr(self.perceptual_loss, "description", None)

    def _announce(self, resume_from: Path | None, state: dict | None) -> None:
        cfg, log = self.config, self.logger
        n_g = sum(p.numel() for p in self.generator.parameters())
        log.info("run %s: stage %s, %s (%.2f M params), device %s, precision %s, world size %d",
                 cfg.name, cfg.stage, cfg.model.generator, n_g / 1e6, self.device,
                 _precision_name(self.autocast_dtype), self.ctx.world_size)
        log.info("data: %d HR images (%d faces, %d excluded) from %s, batch %d/process, "
                 "LR patch %d, x%d, %s", len(self.dataset), self.dataset.num_faces,
                 len(self.dataset.excluded), cfg.data.hr_dir, cfg.data.batch_size,
                 cfg.data.lq_patch, cfg.data.scale, cfg.data.degradation)
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
        if state is not None:
            log.info("resumed from %s at step %d", resume_from, self.step)
            old = _flatten(state.get("config") or {})
            new = _flatten(config_to_dict(self.config))
            diffs = sorted(k for k in new.keys() | old.keys() if new.get(k) != old.get(k))
            if diffs:
                log.warning("config differs from the checkpoint's in: %s", ", ".join(diffs))

    def _validation_set(self):
        from bsrgan.training.validation import cached_validation_set

        vc = self.config.validation
        vset = cached_validation_set(
            self.run_dir / "validation", vc.hr_dir, num_images=vc.num_images,
            hr_size=vc.hr_size, scale=self.scale, degradation=vc.degradation, isp=vc.isp,
            seed=vc.seed)
        self.logger.info("validation: %d images %dx%d (LR %dx%d), seed %d", len(vset),
                         vc.hr_size, vc.hr_size, vc.hr_size // self.scale,
                         vc.hr_size // self.scale, vc.seed)
        return vset

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
            "config": config_to_dict(self.config),
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

    def save_checkpoint(self) -> Path | None:
        """Rank 0 writes ``checkpoints/step_<step>.pt`` (atomic, keeps the last K)."""
        path = None
        if self.ctx.is_main:
            path = ckpt.save_checkpoint(self.run_dir / "checkpoints", self.step,
                                        self.state_dict(), self.config.keep_last)
            self.last_checkpoint = path
        barrier(self.ctx)
        return path

    # ------------------------------------------------------------------ one step

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=self.autocast_dtype or torch.float32,
                              enabled=self.autocast_dtype is not None)

    def generator_losses(self, sr: torch.Tensor, hq: torch.Tensor) -> dict[str, torch.Tensor]:
        """Generator objective terms (fp32 scalars) and their sum ``g_total``.

        sr, hq: (B, 3, H, W); sr is the raw generator output, hq in [0, 1].
        """
        sr32 = sr.float()
        losses = {"l_pix": self.pixel_loss(sr32, hq)}
        if self.perceptual_loss is not None:
            with self._autocast():
                losses["l_percep"] = self.perceptual_loss(sr, hq).float()
        if self.gan_loss is not None:
            disc = self.discriminator  # bare module: D is frozen for the G step, no DDP sync
            with self._autocast():
                fake_logits = disc(sr).float()
                real_logits = None
                if self.gan_loss.kind == "ragan":
                    with torch.no_grad():
                        real_logits = disc(hq).float()
            losses["l_gan"] = self.gan_loss.generator(fake_logits, real_logits)
        losses["g_total"] = sum(losses.values())
        return losses

    def discriminator_losses(self, sr: torch.Tensor, hq: torch.Tensor) -> dict[str, torch.Tensor]:
        """D objective on real ``hq`` vs detached ``sr`` (one forward over both halves)."""
        batch = torch.cat([hq, sr.detach().to(hq.dtype)]).contiguous(
            memory_format=self.memory_format)
        with self._autocast():
            logits = self.d_model(batch).float()
        real_logits, fake_logits = logits.chunk(2)
        return {"d_loss": self.gan_loss.discriminator(real_logits, fake_logits),
                "d_real": real_logits.detach().mean(), "d_fake": fake_logits.detach().mean()}

    def train_step(self, lq: torch.Tensor, hq: torch.Tensor) -> tuple[dict[str, float], bool]:
        """One optimisation step on a batch. lq: (B, 3, h, w), hq: (B, 3, h*sf, w*sf) in [0, 1].

        Returns (loss values, applied); ``applied`` is False when a loss was not finite on any
        rank, in which case no weights, optimiser moments or EMA changed.
        """
        lq, hq = self._to_device(lq, hq)
        self.opt_g.zero_grad(set_to_none=True)
        if self.opt_d is not None:
            self.opt_d.zero_grad(set_to_none=True)

        # generator: forward, losses (D frozen), backward
        if self.discriminator is not None:
            self.discriminator.requires_grad_(False)
        with self._autocast():
            sr = self.g_model(lq)
        g_losses = self.generator_losses(sr, hq)
        self.scaler.scale(g_losses["g_total"]).backward()

        # discriminator: real vs detached fake, backward
        d_losses: dict[str, torch.Tensor] = {}
        if self.discriminator is not None:
            self.discriminator.requires_grad_(True)
            d_losses = self.discriminator_losses(sr, hq)
            self.scaler.scale(d_losses["d_loss"]).backward()

        values_t = {**g_losses, **d_losses}
        stacked = torch.stack([v.detach().float() for v in values_t.values()])
        values = dict(zip(values_t, stacked.tolist()))
        finite = all(math.isfinite(v) for v in values.values())
        if any_true(not finite, self.ctx):  # same decision on every rank
            self.opt_g.zero_grad(set_to_none=True)
            if self.opt_d is not None:
                self.opt_d.zero_grad(set_to_none=True)
            self._step_schedulers()
            return values, False

        self._optimizer_step(self.opt_g, self.generator)
        if self.opt_d is not None:
            self._optimizer_step(self.opt_d, self.discriminator)
        self.scaler.update()
        self.ema.update(self.generator)
        self._step_schedulers()
        return values, True

    def _training_pair(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """(lq, hq) of a loader batch: as the workers made it, or degraded here on
        ``data.degradation_device`` from the uint8 HR crops and plans the workers sent."""
        if self.degradation_device is None:
            return batch["lq"], batch["hq"]
        return degrade_on_device(batch, self.degradation_device)

    def _to_device(self, lq: torch.Tensor, hq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Move a batch to the device; a uint8 HQ (as the loader sends it) becomes float32 in
        [0, 1] there (:func:`bsrgan.training.dataset.hq_to_float`)."""
        lq = lq.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        hq = hq_to_float(hq.to(self.device, non_blocking=True))
        return lq, hq.contiguous(memory_format=self.memory_format)

    def _optimizer_step(self, opt: torch.optim.Optimizer, model: nn.Module) -> None:
        if self.config.optim.grad_clip:
            self.scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), self.config.optim.grad_clip)
        self.scaler.step(opt)

    def _step_schedulers(self) -> None:
        # LR follows the iteration count (skipped steps included), as in the authors' loop.
        self.sched_g.step()
        if self.sched_d is not None:
            self.sched_d.step()

    # ------------------------------------------------------------------ loop

    def validate(self) -> dict[str, float]:
        """Score the EMA generator on the fixed set; log scalars, CSV row and a sample grid."""
        if not self.ctx.is_main or self.vset is None:
            return {}
        from bsrgan.training.validation import comparison_grid, evaluate

        # fp32 even when training in bf16: bf16 outputs would cap the measurable PSNR
        scores, sr = evaluate(self.ema.module, self.vset, device=self.device)
        self.logger.validation(self.step, scores)
        grid = comparison_grid(self.vset, sr, self.config.validation.num_grid)
        self.logger.image("val/lr_sr_hr", self.step, grid)
        self._write_grid(grid)
        self.logger.info("step %d: EMA PSNR %.2f dB / SSIM %.4f (bicubic %.2f dB / %.4f)",
                         self.step, scores["psnr"], scores["ssim"], scores["psnr_bicubic"],
                         scores["ssim_bicubic"])
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
            self.validate()  # the starting point of every curve
            barrier(self.ctx)
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
                self.validate()
                barrier(self.ctx)
            if self.step == cfg.total_steps:
                self.save_checkpoint()
            elif self.step % cfg.checkpoint_every == 0:
                if self.nonfinite_streak:  # keep the last checkpoint from before the trouble
                    self.logger.warning("step %d: checkpoint skipped during a run of non-finite "
                                        "losses", self.step)
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
        self.logger.warning("step %d skipped: non-finite loss %s (%d in a row, %d in total)",
                            self.step, {k: v for k, v in values.items()},
                            self.nonfinite_streak, self.nonfinite_total)
        if self.nonfinite_streak >= self.config.runtime.max_nonfinite:
            last = ckpt.latest_checkpoint(self.run_dir / "checkpoints")
            msg = (f"stopping at step {self.step}: {self.nonfinite_streak} consecutive steps had a "
                   f"non-finite loss (runtime.max_nonfinite={self.config.runtime.max_nonfinite}). "
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
        digests = gather_digests(_state_digest(unwrap(self.generator)), self.ctx)
        if len(set(digests)) != 1:
            self.logger.warning("ranks ended with different generator weights: %s", digests)
        weights = self.run_dir / "weights" / f"{self.config.name}_ema.pth"
        summary_path = self.run_dir / "summary.json"
        if self.ctx.is_main:
            with atomic_path(weights) as tmp:
                torch.save({k: v.detach().float().cpu() for k, v in self.ema.state_dict().items()},
                           tmp)
            summary = {
                "name": self.config.name, "stage": self.config.stage, "steps": self.step,
                "world_size": self.ctx.world_size, "device": str(self.device),
                "precision": _precision_name(self.autocast_dtype),
                "perceptual_loss": self.perceptual_description,
                "final_validation": self.final_metrics, "nonfinite_steps": self.nonfinite_total,
                "ema_weights": str(weights.relative_to(self.run_dir)),
                "last_checkpoint": (str(self.last_checkpoint.relative_to(self.run_dir))
                                    if self.last_checkpoint else None),
                "seconds_this_session": round(elapsed, 2), "rank_weight_digests": digests,
            }
            atomic_write_text(summary_path, json.dumps(summary, indent=2))
            self.logger.info("done: step %d, EMA weights %s", self.step, weights)
        barrier(self.ctx)
        return TrainResult(
            run_dir=self.run_dir, ema_weights=weights,
            last_checkpoint=self.last_checkpoint or ckpt.latest_checkpoint(
                self.run_dir / "checkpoints"),
            steps=self.step, history=_read_csv(self.run_dir / "val_log.csv"),
            train_log=_read_csv(self.run_dir / "train_log.csv"),
            final_metrics=dict(self.final_metrics), nonfinite_steps=self.nonfinite_total,
            perceptual=self.perceptual_description, summary_path=summary_path)

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


def _perceptual_loss(lc) -> nn.Module:
    """PerceptualLoss per config; backbone ``auto`` = VGG19 if its weights can be had, else VGG16.

    The fallback is a deviation from the paper and is stated in the loss ``description``, which
    the run logs and writes to ``summary.json``.
    """
    from bsrgan.losses import PerceptualLoss
    from bsrgan.losses.perceptual import VGGWeightsError

    kwargs = {"preset": lc.perceptual_preset, "weights_path": lc.perceptual_weights_path,
              "pretrained": lc.perceptual_pretrained, "weight": lc.perceptual_weight}
    if lc.perceptual_backbone != "auto":
        return PerceptualLoss(backbone=lc.perceptual_backbone, **kwargs)
    try:
        return PerceptualLoss(backbone="vgg19", **kwargs)
    except VGGWeightsError as exc:
        import logging

        logging.getLogger(__name__).warning("VGG19 weights unavailable (%s); using VGG16", exc)
        return PerceptualLoss(backbone="vgg16", **kwargs)


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
    """None = fp32. ``auto``: bf16 on a CUDA GPU that supports it, else fp32; bf16/fp16 need CUDA."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "auto":  # CUDA: bf16 where the GPU has it (Ampere and later)
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    if device.type != "cuda":
        raise ValueError(f"runtime.precision {precision!r} needs CUDA; use fp32 or auto on "
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


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v and all(isinstance(x, str) for x in v):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _read_csv(path: Path):
    import pandas as pd

    return pd.read_csv(path) if path.is_file() else pd.DataFrame()
