"""Memory of a training step, measured on any device, to estimate what a GPU run needs.

* :func:`saved_tensor_bytes` — bytes of the tensors autograd keeps for the backward pass of a
  forward (``torch.autograd.graph.saved_tensors_hooks``), counted once per storage.
* :class:`TensorMemoryTracker` — a ``TorchDispatchMode`` that adds up the storages every op
  creates while they are alive and records the peak: on a GPU this is close to what
  ``torch.cuda.max_memory_allocated`` reports, minus what never passes the dispatcher (cuDNN /
  cuBLAS workspaces) and the caching allocator's block rounding.
* :func:`estimate_step_memory` — one training step of a config on the CPU at a few small
  micro-batches and patches, with the live bytes recorded after every op. A step runs the same
  ops in the same order at every size, so op ``i`` holds ``fixed_i + per_pixel_i * n`` bytes
  (n = micro-batch x LR pixels; both fitted by least squares over the sizes); the estimated
  peak at the configured size is ``state + max_i(fixed_i + per_pixel_i * n)``, wherever in the
  step that maximum falls (end of the forward pass at paper scale, the gradients and optimiser
  at tiny sizes). This is an ESTIMATE of device memory: the CPU's autocast casts the same
  convolutions to bf16 as CUDA's does, but kernels, workspaces, ``torch.compile`` and the CUDA
  context (~0.5 GiB) are not modelled.
"""
from __future__ import annotations

import contextlib
import io
import tempfile
import warnings
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

GIB = 2 ** 30


def saved_tensor_bytes(fn: Callable[[], Any], exclude: Iterable[torch.Tensor] = ()) -> int:
    """Bytes of distinct storages autograd saves for backward while ``fn()`` runs.

    ``exclude``: tensors not to count (e.g. the parameters, which exist anyway).
    """
    skip = {t.untyped_storage().data_ptr() for t in exclude}
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        if st.data_ptr() not in skip:
            storages[st.data_ptr()] = st.nbytes()  # views of one storage count once
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()  # kept alive until counted: every saved storage is alive, pointers unique
        total = sum(storages.values())
    del out
    return total


class TensorMemoryTracker(TorchDispatchMode):
    """Live bytes of the tensor storages created by ops inside the ``with`` block, and their peak.

    Storages that existed before (pass them to :meth:`ignore`, e.g. parameters and optimiser
    moments) are not counted when an in-place op returns them.
    """

    def __init__(self, trace: bool = False) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self.trace: list[int] | None = [] if trace else None  # live bytes after every op
        self._sizes: dict[int, int] = {}
        self._ignored: set[int] = set()

    def ignore(self, tensors: Iterable[torch.Tensor]) -> int:
        """Do not count these tensors' storages; returns their distinct bytes."""
        total = 0
        for t in tensors:
            st = t.untyped_storage()
            if st._cdata not in self._ignored:
                self._ignored.add(st._cdata)
                total += st.nbytes()
        return total

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor):
                self._track(leaf)
        if self.trace is not None:
            self.trace.append(self.live)
        return out

    def _track(self, t: torch.Tensor) -> None:
        st = t.untyped_storage()
        key = st._cdata
        if key in self._sizes or key in self._ignored:
            return
        size = st.nbytes()
        self._sizes[key] = size
        self.live += size
        self.peak = max(self.peak, self.live)
        weakref.finalize(st, self._free, key)

    def _free(self, key: int) -> None:
        self.live -= self._sizes.pop(key, 0)


@dataclass
class StepMemory:
    """One training step at one size: the state alive before it and the live bytes it added
    after each op (``trace``)."""

    micro_batch: int
    lq_patch: int
    state_bytes: int  # weights, EMA, optimiser moments, buffers: alive before the step
    trace: np.ndarray  # (ops,) int64 bytes created by the step and alive after op i

    @property
    def lq_pixels(self) -> int:
        return self.micro_batch * self.lq_patch ** 2

    @property
    def peak_bytes(self) -> int:
        return self.state_bytes + int(self.trace.max())


@dataclass
class MemoryEstimate:
    """Peak of a step at any size: ``state + max_i(fixed_i + per_pixel_i * n)`` over its ops,
    n = micro-batch x LR pixels, from per-op least-squares fits over the measured sizes."""

    state_bytes: int
    fixed: np.ndarray  # (ops,) bytes
    per_pixel: np.ndarray  # (ops,) bytes per LR pixel of the micro-batch
    points: list[StepMemory]
    max_fit_error: float  # largest error of the fit at a measured peak, relative to that peak

    def peak_bytes(self, micro_batch: int, lq_patch: int) -> float:
        n = micro_batch * lq_patch ** 2
        return float(self.state_bytes + np.max(self.fixed + self.per_pixel * n))

    def per_sample_bytes(self, micro_batch: int, lq_patch: int) -> float:
        """What one more sample adds to the peak at this micro-batch."""
        return self.peak_bytes(micro_batch + 1, lq_patch) - self.peak_bytes(micro_batch, lq_patch)

    def largest_micro_batch(self, lq_patch: int, budget_bytes: float, limit: int = 4096) -> int:
        """The largest micro-batch (<= limit) whose estimated peak fits ``budget_bytes`` (0: none)."""
        low, high = 0, limit
        while low < high:  # the peak grows with the micro-batch
            mid = (low + high + 1) // 2
            if self.peak_bytes(mid, lq_patch) <= budget_bytes:
                low = mid
            else:
                high = mid - 1
        return low


def _state_tensors(trainer) -> list[torch.Tensor]:
    modules = [trainer.generator, trainer.discriminator, trainer.ema.module,
               trainer.perceptual_loss, trainer.pixel_loss, trainer.gan_loss]
    out = [t for m in modules if m is not None for t in (*m.parameters(), *m.buffers())]
    for opt in (trainer.opt_g, trainer.opt_d):
        if opt is not None:
            out += [v for s in opt.state.values() for v in s.values()
                    if isinstance(v, torch.Tensor)]
    return out


def measure_step(trainer, micro_batch: int, lq_patch: int, seed: int = 0) -> StepMemory:
    """Live tensor bytes after every op of one ``train_step`` of ``trainer`` on random data.

    One untracked step first creates the optimiser moments, so the traced step is a steady one
    (it starts with no gradients, as every step does).
    """
    g = torch.Generator().manual_seed(seed)
    sf = trainer.scale
    lq = torch.rand(micro_batch, 3, lq_patch, lq_patch, generator=g)
    hq = torch.rand(micro_batch, 3, lq_patch * sf, lq_patch * sf, generator=g)
    if not trainer.train_step(lq, hq)[1]:
        raise RuntimeError("the warm-up step was skipped (non-finite values)")
    trainer.opt_g.zero_grad(set_to_none=True)
    if trainer.opt_d is not None:
        trainer.opt_d.zero_grad(set_to_none=True)
    tracker = TensorMemoryTracker(trace=True)
    state = tracker.ignore(_state_tensors(trainer))
    lq, hq = trainer._to_device(lq, hq)
    tracker.ignore([lq, hq])
    with tracker:
        trainer.train_step(lq, hq)
    return StepMemory(micro_batch, lq_patch, state, np.asarray(tracker.trace, dtype=np.int64))


def fit(points: list[StepMemory]) -> MemoryEstimate:
    """Per-op least-squares lines through (micro-batch x LR pixels, live bytes).

    Needs at least two sizes whose steps ran the same number of ops.
    """
    lengths = {len(p.trace) for p in points}
    if len(points) < 2 or len(lengths) != 1:
        raise ValueError(f"need >= 2 measured steps with the same op sequence, got op counts "
                         f"{[len(p.trace) for p in points]}")
    n = np.array([p.lq_pixels for p in points], dtype=np.float64)
    traces = np.stack([p.trace for p in points]).astype(np.float64)  # (sizes, ops)
    design = np.stack([np.ones_like(n), n], axis=1)
    (fixed, per_pixel), *_ = np.linalg.lstsq(design, traces, rcond=None)
    state = points[0].state_bytes
    estimate = MemoryEstimate(state, fixed, per_pixel, points, 0.0)
    estimate.max_fit_error = float(max(
        abs(estimate.peak_bytes(p.micro_batch, p.lq_patch) - p.peak_bytes) / p.peak_bytes
        for p in points))
    return estimate


def estimate_step_memory(config, sizes: Iterable[tuple[int, int]] = ((1, 12), (2, 12), (2, 16)),
                         *, precision: str | None = None) -> MemoryEstimate:
    """Estimate the peak memory of one training step of ``config`` from CPU measurements.

    Builds the config's networks, optimisers and losses on the CPU (random VGG weights and no
    init weights: the same memory), runs one step at each (micro-batch, LR patch) of ``sizes``
    and fits :class:`MemoryEstimate`. ``precision``: ``"fp32"`` or ``"bf16"`` (CPU autocast);
    default: the config's (``auto`` = bf16, as on a CUDA GPU).
    """
    from bsrgan.training.config import replace
    from bsrgan.training.trainer import Trainer

    if precision is None:
        precision = "bf16" if config.runtime.precision in ("auto", "bf16") else "fp32"
    points = []
    with tempfile.TemporaryDirectory(prefix="bsrgan_memory_") as tmp, \
            warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        hr_dir = Path(tmp) / "hr"  # the loader is built but never read: one small image
        from bsrgan.io import imwrite

        imwrite(hr_dir / "noise.png", np.random.default_rng(0).random((64, 64, 3)))
        cfg = replace(config, **{
            "runtime.device": "cpu", "runtime.precision": precision, "runtime.compile": False,
            "runtime.tensorboard": False, "runtime.progress": False, "validation.every": 0,
            "validation.niqe_set": None, "validation.lpips": False, "model.init_from": None,
            "loss.perceptual_pretrained": False, "loss.perceptual_weights_path": None,
            "data.hr_dir": str(hr_dir), "data.num_workers": 0, "optim.accumulate": 1,
            "data.batch_size": 1, "data.lq_patch": 8, "data.hr_crop": 8 * config.data.scale,
        })
        trainer = Trainer(cfg, Path(tmp) / "run")
        try:
            for micro_batch, lq_patch in sizes:
                points.append(measure_step(trainer, micro_batch, lq_patch))
        finally:
            trainer.close()
    return fit(points)
