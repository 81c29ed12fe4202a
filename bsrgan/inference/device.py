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

CPU_TILE = 256  # CPU default: ~1 GiB peak for the 23-block x4 model in fp32 (13 KiB per pixel)
MIN_AUTO_TILE = 64
MAX_AUTO_TILE = 1024  # beyond this a GPU is saturated; larger tiles only cost memory
GPU_MEMORY_FRACTION = 0.5  # share of the *free* device memory the auto tile may plan to use
# Peak activation memory per input pixel, in elements: the widest moment of an RRDBNet forward is
# at the output resolution (upsampled features, the next conv's output and the nearest-upsampled
# copy: ~3 tensors of nf channels at sf^2 pixels per input pixel), plus the convolution workspace.
# 4 * nf * sf^2 elements covers both; measured on CPU it is ~3.3 * nf * sf^2 (docs/inference.md).
ACTIVATIONS_PER_PIXEL = 4


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
    """Documented estimate of peak device memory per input pixel for an RRDBNet-like model:
    ``ACTIVATIONS_PER_PIXEL * nf * sf**2`` elements of ``dtype`` (nf=64, sf=4, fp32:
    4 * 64 * 16 * 4 B = 16 KiB per input pixel, so a 512x512 tile plans for 4 GiB)."""
    sf, nf = model_dims(model)
    element = torch.tensor([], dtype=dtype).element_size()
    return ACTIVATIONS_PER_PIXEL * nf * sf * sf * element


def auto_tile(model: nn.Module, device: torch.device, dtype: torch.dtype = torch.float32) -> int:
    """Tile side (input pixels) for ``tile=None``.

    CPU: the fixed :data:`CPU_TILE`. CUDA: the largest multiple of 32 whose estimated peak
    (:func:`bytes_per_input_pixel` times tile area) fits in :data:`GPU_MEMORY_FRACTION` of the
    free memory reported by ``torch.cuda.mem_get_info``, clamped to [64, 1024].
    """
    if device.type != "cuda":
        return CPU_TILE
    free, _total = torch.cuda.mem_get_info(device)
    side = math.isqrt(int(free * GPU_MEMORY_FRACTION) // bytes_per_input_pixel(model, dtype))
    return int(min(MAX_AUTO_TILE, max(MIN_AUTO_TILE, side - side % 32)))
