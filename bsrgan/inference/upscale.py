"""Tiled super-resolution of images of any size with bounded device memory.

The image stays on the CPU. Tiles are cut from it, moved to the device one (bounded) batch at a
time, run through the model, weighted by their feathered blending weights on the device and added
into a float32 CPU output buffer. Peak device memory therefore depends on the tile size, never on
the image size; the CPU holds the input and the output once.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn

from bsrgan.inference.device import autocast, check_precision, plan_tile, select_device
from bsrgan.inference.tiling import TileGrid, pad_to_multiple

# ITU-R BT.601 luma, used to turn the model's (nearly gray) output for a gray input back to gray
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class _Layout:
    """How the caller's array maps to RGB (+ alpha) and back."""

    rgb: np.ndarray  # float32 (H, W, 3)
    alpha: np.ndarray | None  # float32 (H, W)
    gray: bool
    channel_axis: bool  # input had a channel axis ((H, W, C) rather than (H, W))


def upscale(
    model: nn.Module,
    img: np.ndarray,
    tile: int | None = None,
    tile_overlap: int = 32,
    precision: str = "fp32",
    device: str | torch.device = "auto",
    *,
    tile_batch: int = 1,
    channels_last: bool = False,
    size_multiple: int | None = None,
    memory_budget: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Super-resolve ``img`` with ``model``, tile by tile.

    Args:
        model: an SR network mapping (B, 3, h, w) in [0, 1] to (B, 3, sf*h, sf*w); its scale is
            read from ``model.sf``. It is moved to ``device`` and run in eval mode (its previous
            train/eval mode is restored afterwards).
        img: float32 (H, W, 3) RGB in [0, 1]; also (H, W) or (H, W, 1) gray, (H, W, 2) gray+alpha
            and (H, W, 4) RGBA. Gray is run through the model as 3 equal channels and returned as
            gray (BT.601 luma of the output); alpha is upscaled separately with bicubic
            interpolation (OpenCV ``INTER_CUBIC``), never by the network.
        tile: tile side in input pixels. ``None``: planned from the memory budget, the whole
            image when it fits (see :func:`bsrgan.inference.device.plan_tile`). ``0``: the whole
            image as one tile.
        tile_overlap: minimum overlap of neighbouring tiles in input pixels; the overlap band is
            feathered (see :mod:`bsrgan.inference.tiling`).
        precision: ``"fp32"``, ``"fp16"`` (CUDA only) or ``"bf16"`` — autocast over fp32 weights.
        device: ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        tile_batch: tiles per forward pass (all tiles of an image have one shape).
        channels_last: feed the model NHWC-strided tensors (faster convolutions on recent GPUs
            when the model was also converted with ``model.to(memory_format=torch.channels_last)``).
        size_multiple: pad (by reflection) so that the network input sides are multiples of this;
            default ``model.size_multiple`` if present, else 1 (RRDBNet takes any size).
        memory_budget: bytes the ``tile=None`` plan may use (default: 2 GiB on the CPU, half
            the free memory on CUDA; see :func:`bsrgan.inference.device.memory_budget`).
        progress: show a tqdm bar over tiles.

    Returns:
        float32 array in [0, 1] with the input's layout and ``sf`` times its height and width.
    """
    layout = _split_channels(img)
    dev = select_device(device)
    dtype = check_precision(precision, dev)
    if tile is None:
        tile = plan_tile(model, layout.rgb.shape[0], layout.rgb.shape[1], dev, dtype,
                         budget=memory_budget)
    if tile_batch < 1:
        raise ValueError(f"tile_batch must be >= 1, got {tile_batch}")
    multiple = size_multiple or int(getattr(getattr(model, "_orig_mod", model), "size_multiple", 1))

    was_training = model.training
    model.eval()
    model.to(dev)
    try:
        rgb = _upscale_rgb(model, layout.rgb, tile, tile_overlap, dev, dtype, tile_batch,
                           channels_last, multiple, progress)
    finally:
        model.train(was_training)
    return _merge_channels(rgb, layout)


def _upscale_rgb(model: nn.Module, rgb: np.ndarray, tile: int, overlap: int, dev: torch.device,
                 dtype: torch.dtype, tile_batch: int, channels_last: bool, multiple: int,
                 progress: bool) -> np.ndarray:
    """(H, W, 3) float32 -> (sf*H, sf*W, 3) float32 in [0, 1]."""
    height, width = rgb.shape[:2]
    image = pad_to_multiple(torch.from_numpy(rgb).permute(2, 0, 1), multiple)  # (3, Hp, Wp) CPU
    grid = TileGrid.plan(image.shape[1], image.shape[2], tile, overlap, multiple)
    sf = _scale_of(model)
    row_w, col_w = ([torch.from_numpy(w).to(dev) for w in ws] for ws in grid.weights(sf))
    out = np.zeros((grid.height * sf, grid.width * sf, 3), dtype=np.float32)
    param = next(model.parameters(), None)
    in_dtype = param.dtype if param is not None else torch.float32
    th, tw = grid.tile_h, grid.tile_w
    shape_in = (tile_batch, 3, th, tw)
    shape_out = (tile_batch, th * sf, tw * sf, 3)
    cuda = dev.type == "cuda"
    # On CUDA, transfers go through reusable pinned (page-locked) staging tiles; the output
    # buffer itself can be many GiB and is ordinary memory (page-locking that much starves the OS).
    stage_in = torch.empty(shape_in, pin_memory=True) if cuda else torch.empty(shape_in)
    stage_out = torch.empty(shape_out, pin_memory=True) if cuda else None

    tiles = grid.tiles
    bar = _progress_bar(len(tiles), progress)
    with torch.inference_mode(), autocast(dev, dtype):
        for first in range(0, len(tiles), tile_batch):
            batch = tiles[first:first + tile_batch]
            n = len(batch)
            for k, (_i, _j, y, x) in enumerate(batch):
                stage_in[k].copy_(image[:, y:y + th, x:x + tw])
            inp = stage_in[:n].to(dev, dtype=in_dtype, non_blocking=True)
            if channels_last:
                inp = inp.contiguous(memory_format=torch.channels_last)
            pred = model(inp)
            if pred.shape != (n, 3, th * sf, tw * sf):
                raise RuntimeError(f"model returned {tuple(pred.shape)} for input {tuple(inp.shape)};"
                                   f" expected (B, 3, {th * sf}, {tw * sf}) for scale {sf}")
            weight = torch.stack([row_w[i][:, None] * col_w[j][None, :] for i, j, _y, _x in batch])
            pred = (pred.float() * weight[:, None]).permute(0, 2, 3, 1)  # (n, th*sf, tw*sf, 3)
            if cuda:
                stage_out[:n].copy_(pred, non_blocking=True)
                torch.cuda.current_stream(dev).synchronize()
                pred = stage_out[:n]
            else:
                pred = pred.cpu()
            for k, (_i, _j, y, x) in enumerate(batch):
                out[y * sf:(y + th) * sf, x * sf:(x + tw) * sf] += pred[k].numpy()
            bar.update(n)
    bar.close()
    if out.shape[:2] != (height * sf, width * sf):
        out = np.ascontiguousarray(out[:height * sf, :width * sf])
    return np.clip(out, 0.0, 1.0, out=out)


def _scale_of(model: nn.Module) -> int:
    sf = getattr(getattr(model, "_orig_mod", model), "sf", None)  # _orig_mod: torch.compile
    if not isinstance(sf, int) or sf < 1:
        raise ValueError(f"upscale needs the model's integer scale factor as `model.sf`; "
                         f"{type(model).__name__} has sf={sf!r}")
    return sf


def _progress_bar(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="tiles", unit="tile", leave=False, disable=not enabled)


def _split_channels(img: np.ndarray) -> _Layout:
    img = np.asarray(img)
    if not np.issubdtype(img.dtype, np.floating):
        raise TypeError(f"upscale expects a float image in [0, 1], got dtype {img.dtype} "
                        "(divide uint8 by 255 or uint16 by 65535 first)")
    if img.ndim == 2:
        img, channel_axis = img[:, :, None], False
    elif img.ndim == 3 and img.shape[2] in (1, 2, 3, 4):
        channel_axis = True
    else:
        raise ValueError(f"upscale expects an (H, W) or (H, W, C) image with C in 1..4, "
                         f"got shape {img.shape}")
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f"upscale got an empty image of shape {img.shape}")
    img = img.astype(np.float32, copy=False)
    channels = img.shape[2]
    gray = channels in (1, 2)
    color = np.repeat(img[:, :, :1], 3, axis=2) if gray else np.ascontiguousarray(img[:, :, :3])
    alpha = img[:, :, channels - 1] if channels in (2, 4) else None
    return _Layout(rgb=color, alpha=alpha, gray=gray, channel_axis=channel_axis)


def upscale_alpha(alpha: np.ndarray, sf: int) -> np.ndarray:
    """Bicubic (OpenCV ``INTER_CUBIC``) upscaling of an alpha plane (H, W) -> (sf*H, sf*W), clipped
    to [0, 1]. Alpha is a mask, not a photo: the network was never trained on it."""
    height, width = alpha.shape
    big = cv2.resize(np.ascontiguousarray(alpha, dtype=np.float32), (width * sf, height * sf),
                     interpolation=cv2.INTER_CUBIC)
    return np.clip(big, 0.0, 1.0).reshape(height * sf, width * sf)


def _merge_channels(rgb: np.ndarray, layout: _Layout) -> np.ndarray:
    """Model output (sf*H, sf*W, 3) in [0, 1] -> the caller's layout (gray, alpha, channel axis)."""
    if not layout.gray and layout.alpha is None:
        return rgb
    sf = rgb.shape[0] // layout.rgb.shape[0]
    planes = [rgb @ LUMA_WEIGHTS] if layout.gray else [rgb[:, :, c] for c in range(3)]
    if layout.alpha is not None:
        planes.append(upscale_alpha(layout.alpha, sf))
    out = np.stack(planes, axis=2) if layout.channel_axis else planes[0]
    return np.clip(out, 0.0, 1.0)
