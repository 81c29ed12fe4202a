"""Memory of a training step, measured on any device, to estimate what a GPU run needs.

* :func:`saved_tensor_bytes` — bytes of the tensors autograd keeps for the backward pass of a
  forward (``torch.autograd.graph.saved_tensors_hooks``), counted once per storage.
* :class:`TensorMemoryTracker` — a ``TorchDispatchMode`` that adds up the storages every op
  creates while they are alive and records the peak: on a GPU this is close to what
  ``torch.cuda.max_memory_allocated`` reports, minus what never passes the dispatcher (cuDNN /
  cuBLAS workspaces) and the caching allocator's block rounding.
* :func:`estimate_step_memory` — the peak of one training step of a config on the CPU at a few
  small micro-batches and patches, fitted as ``fixed + per_pixel * micro_batch * lq_patch**2``
  and extrapolated to the configured micro-batch and patch. This is an ESTIMATE of device
  memory: the CPU's autocast casts the same convolutions to bf16 as CUDA's does, but kernels,
  workspaces, ``torch.compile`` and the CUDA context (~0.5 GiB) are not modelled.
"""
from __future__ import annotations

import tempfile
import warnings
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
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
    """Peak of one training step at one size (bytes)."""

    micro_batch: int
    lq_patch: int
    state_bytes: int  # weights, EMA, optimiser moments, buffers: alive before the step
    peak_bytes: int  # state + the peak of everything the step created

    @property
    def lq_pixels(self) -> int:
        return self.micro_batch * self.lq_patch ** 2


@dataclass
class MemoryEstimate:
    """``peak(n) = fixed + per_pixel * n`` for n = micro-batch x LR pixels, fitted on the CPU."""

    fixed_bytes: float
    per_pixel_bytes: float
    points: list[StepMemory]
    max_fit_error: float  # largest relative residual of the fit over the measured points

    def peak_bytes(self, micro_batch: int, lq_patch: int) -> float:
        return self.fixed_bytes + self.per_pixel_bytes * micro_batch * lq_patch ** 2

    def largest_micro_batch(self, lq_patch: int, budget_bytes: float) -> int:
        """The largest micro-batch whose estimated peak fits in ``budget_bytes`` (0: none)."""
        return max(0, int((budget_bytes - self.fixed_bytes) // (self.per_pixel_bytes
                                                                  * lq_patch ** 2)))


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
    """Peak tensor bytes of one ``train_step`` of ``trainer`` on random data of this size.

    One untracked step first creates the optimiser moments, so the tracked step is a steady one.
    """
    g = torch.Generator().manual_seed(seed)
    sf = trainer.scale
    lq = torch.rand(micro_batch, 3, lq_patch, lq_patch, generator=g)
    hq = torch.rand(micro_batch, 3, lq_patch * sf, lq_patch * sf, generator=g)
    trainer.train_step(lq, hq)
    trainer.opt_g.zero_grad(set_to_none=True)
    if trainer.opt_d is not None:
        trainer.opt_d.zero_grad(set_to_none=True)
    tracker = TensorMemoryTracker()
    state = tracker.ignore(_state_tensors(trainer))
    lq, hq = trainer._to_device(lq), trainer._to_device(hq)
    tracker.ignore([lq, hq])
    with tracker:
        trainer.train_step(lq, hq)
    return StepMemory(micro_batch, lq_patch, state, state + tracker.peak)


def fit(points: list[StepMemory]) -> MemoryEstimate:
    """Least-squares line through (micro-batch x LR pixels, peak bytes)."""
    n = np.array([p.lq_pixels for p in points], dtype=np.float64)
    y = np.array([p.peak_bytes for p in points], dtype=np.float64)
    slope, intercept = np.polyfit(n, y, 1)
    error = float(np.max(np.abs(intercept + slope * n - y) / y))
    return MemoryEstimate(float(intercept), float(slope), points, error)


def estimate_step_memory(config, sizes: Iterable[tuple[int, int]] = ((1, 16), (2, 16), (1, 24)),
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
    cfg = replace(config, **{
        "runtime.device": "cpu", "runtime.precision": precision, "runtime.compile": False,
        "runtime.tensorboard": False, "runtime.progress": False, "validation.every": 0,
        "validation.niqe_set": None, "validation.lpips": False, "model.init_from": None,
        "loss.perceptual_pretrained": False, "loss.perceptual_weights_path": None,
        "data.hr_dir": None, "data.num_workers": 0, "optim.accumulate": 1, "data.batch_size": 1,
        "data.lq_patch": 8, "data.hr_crop": 8 * config.data.scale,
    })
    points = []
    with tempfile.TemporaryDirectory(prefix="bsrgan_memory_") as tmp, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-image notices of the embedded photos
        trainer = Trainer(cfg, tmp)
        try:
            for micro_batch, lq_patch in sizes:
                points.append(measure_step(trainer, micro_batch, lq_patch))
        finally:
            trainer.close()
    return fit(points)
