"""Tiled, memory-bounded inference: ``upscale(model, img)`` and the batch tool behind ``bsrgan upscale``."""
from bsrgan.inference.device import (
    auto_tile,
    check_precision,
    memory_budget,
    plan_tile,
    select_device,
)
from bsrgan.inference.tiling import TileGrid, pad_to_multiple, tile_starts
from bsrgan.inference.upscale import upscale, upscale_alpha

__all__ = [
    "TileGrid",
    "auto_tile",
    "check_precision",
    "memory_budget",
    "pad_to_multiple",
    "plan_tile",
    "select_device",
    "tile_starts",
    "upscale",
    "upscale_alpha",
]
