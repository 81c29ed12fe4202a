"""Device, precision and automatic tile-size selection for inference.

Nothing here touches ``torch.cuda`` unless the chosen device is CUDA (``device="auto"`` asks
``torch.cuda.is_available()`` once, to choose).
"""
from __future__ import annotations

import contextlib
import math
from contextlib import AbstractContextManager

import torch
from torch import nn

PRECISIONS: dict[str, torch.dtype] = {
    "fp32": torch.float32,
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
}

# Tile planning (``tile=None``): the whole image when its estimated peak memory fits the budget,
# else the largest square tile that does. The estimate is ACTIVATIONS_PER_PIXEL * nf * sf^2
# elements per input (LR) pixel: the widest moment of an RRDBNet forward is at the output
# resolution (upsampled features, the next conv's output and the nearest-upsampled copy: ~3
# tensors of nf channels at sf^2 pixels per input pixel) plus the convolution workspace.
# nf=64, sf=4: 16 KiB per LR pixel in fp32, 8 KiB in bf16/fp16. Measured on CPU (peak RSS of
# whole-image runs, `benchmarks/inference.py --memory`): fp32 13.3-15.0 KiB, bf16 6.9-8.9 KiB.
ACTIVATIONS_PER_PIXEL = 4
CPU_MEMORY_BUDGET = 2 * 2**30  # bytes; fixed, so the plan is the same on every CPU machine
GPU_MEMORY_FRACTION = 0.5  # share of the *free* device memory a CUDA plan may use
MIN_AUTO_TILE = 64
MAX_AUTO_TILE = 1024  # a tiled GPU plan: beyond this a GPU is saturated, tiles only cost memory
TILE_MULTIPLE = 32  # planned tile sides are multiples of this


def select_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA if available, else CPU; anything else is parsed by ``torch.device``."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda[:N]'") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but CUDA is not available; "
                           "use device='cpu' or 'auto'")
    return dev


def check_precision(precision: str, device: torch.device) -> torch.dtype:
    """The compute dtype for ``precision`` on ``device``, or a clear error for an unsupported pair.

    fp16 runs only on CUDA (CPU half-precision convolutions are slow and not what a user wants by
    accident: use bf16 or fp32 on CPU); bf16 on CUDA needs an Ampere or newer GPU.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {sorted(PRECISIONS)}")
    dtype = PRECISIONS[precision]
    if dtype is torch.float32:
        return dtype
    if device.type == "cpu" and dtype is torch.float16:
        raise ValueError("precision 'fp16' needs a CUDA device; on CPU use 'bf16' (autocast) or 'fp32'")
    if device.type == "cuda" and dtype is torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise ValueError(f"precision 'bf16' is not supported by {torch.cuda.get_device_name(device)}; "
                         "use 'fp16' or 'fp32'")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"precision {precision!r} is only supported on cpu/cuda, not {device.type}")
    return dtype


def autocast(device: torch.device, dtype: torch.dtype) -> AbstractContextManager:
    """Mixed-precision context for ``dtype`` (no-op for fp32). The model keeps fp32 weights;
    autocast runs convolutions in ``dtype`` and keeps precision-sensitive ops in fp32."""
    if dtype is torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def model_dims(model: nn.Module) -> tuple[int, int]:
    """(scale factor, feature channels) of an SR model; ``nf`` defaults to 64 when not exposed."""
    base = getattr(model, "_orig_mod", model)  # torch.compile wrapper
    return int(getattr(base, "sf", 4)), int(getattr(base, "nf", 64))


def bytes_per_input_pixel(model: nn.Module, dtype: torch.dtype) -> int:
    """Estimated peak device memory per input pixel of an RRDBNet-like model:
    ``ACTIVATIONS_PER_PIXEL * nf * sf**2`` elements of ``dtype`` (nf=64, sf=4, fp32:
    4 * 64 * 16 * 4 B = 16 KiB per input pixel, so a 512x512 tile plans for 4 GiB)."""
    sf, nf = model_dims(model)
    element = torch.tensor([], dtype=dtype).element_size()
    return ACTIVATIONS_PER_PIXEL * nf * sf * sf * element


def memory_budget(device: torch.device) -> int:
    """Bytes a tile plan may use: :data:`CPU_MEMORY_BUDGET` on the CPU; on CUDA
    :data:`GPU_MEMORY_FRACTION` of the free memory (``torch.cuda.mem_get_info``)."""
    if device.type != "cuda":
        return CPU_MEMORY_BUDGET
    free, _total = torch.cuda.mem_get_info(device)
    return int(free * GPU_MEMORY_FRACTION)


def auto_tile(model: nn.Module, device: torch.device, dtype: torch.dtype = torch.float32, *,
              budget: int | None = None) -> int:
    """Side (input pixels) of the largest square tile whose estimated peak fits ``budget``
    (default :func:`memory_budget`): a multiple of 32, clamped to [64, 1024]."""
    budget = memory_budget(device) if budget is None else int(budget)
    side = math.isqrt(max(0, budget) // bytes_per_input_pixel(model, dtype))
    return int(min(MAX_AUTO_TILE, max(MIN_AUTO_TILE, side - side % TILE_MULTIPLE)))


def plan_tile(model: nn.Module, height: int, width: int, device: torch.device,
              dtype: torch.dtype = torch.float32, *, budget: int | None = None) -> int:
    """The tile ``upscale(tile=None)`` uses for an ``height x width`` input: ``0`` (the whole
    image, one forward pass, no overlap to recompute) when ``height * width`` pixels fit the
    memory budget, else :func:`auto_tile`.

    With the default budgets (nf=64, sf=4, fp32: 16 KiB per pixel): on the CPU (2 GiB) every
    input up to 131,072 pixels runs whole, e.g. all of RealSRSet (at most 360x360) and 512x256
    DPED crops; larger ones get 352-px tiles.
    """
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    budget = memory_budget(device) if budget is None else int(budget)
    if budget <= 0:
        raise ValueError(f"memory budget must be positive, got {budget} bytes")
    if height * width * bytes_per_input_pixel(model, dtype) <= budget:
        return 0
    return auto_tile(model, device, dtype, budget=budget)
