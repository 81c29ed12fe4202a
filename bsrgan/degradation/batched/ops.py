"""How each trace op runs on the batched backend: output sizes and group runners.

:data:`BATCH_OPS` maps every op name of :data:`bsrgan.degradation.OPS` to a :class:`BatchOp`:
its kind (ops of one kind run together), how it changes the (lq, hq) sizes -- checked on the
CPU before any pixel work -- and the runner that applies it to a group of samples held in the
LQ and HQ canvases.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from bsrgan.degradation.batched import blur as blur_ops
from bsrgan.degradation.batched import noise as noise_ops
from bsrgan.degradation.batched.canvas import Canvas, Size, crop
from bsrgan.degradation.batched.isp import camera_noise
from bsrgan.degradation.batched.jpeg import jpeg
from bsrgan.degradation.batched.resize import resize
from bsrgan.degradation.pipelines import OPS
from bsrgan.degradation.resize import METHODS
from bsrgan.degradation.validation import check_scale_factor

Sizes = tuple[Size, Size]  # (lq size, hq size) of one sample


@dataclass
class Pair:
    """The LQ and HQ images of a batch while it is being degraded."""

    lq: Canvas
    hq: Canvas


# ----------------------------------------------------------------------------- sizes
def _same(params: Any, sizes: Sizes) -> Sizes:
    return sizes


def _modcrop_size(params: Any, sizes: Sizes) -> Sizes:
    sf = check_scale_factor(params.sf)
    return tuple((h - h % sf, w - w % sf) for h, w in sizes)  # type: ignore[return-value]


def _sharpen_size(params: Any, sizes: Sizes) -> Sizes:
    return sizes[0], sizes[0]  # hq becomes the sharpened lq


def _resize_size(params: Any, sizes: Sizes) -> Sizes:
    if params.height < 1 or params.width < 1:
        raise ValueError(f"resize target must be >= 1 px, got {params.height}x{params.width}")
    if params.method not in METHODS:
        raise ValueError(f"unknown resize method {params.method!r}; expected one of {METHODS}")
    return (params.height, params.width), sizes[1]


def _shifted_size(params: Any, sizes: Sizes) -> Sizes:
    sf = check_scale_factor(params.sf)
    (h, w), hq = sizes
    return (-(-h // sf), -(-w // sf)), hq


def _camera_size(params: Any, sizes: Sizes) -> Sizes:
    if min(sizes[0]) < 2:
        raise ValueError(f"camera noise needs at least 2x2 pixels, got {sizes[0]}")
    return sizes


def _crop_size(params: Any, sizes: Sizes) -> Sizes:
    t, l, p, sf = params.top, params.left, params.size, params.sf
    (h, w), (hh, hw) = sizes
    if t < 0 or l < 0 or t + p > h or l + p > w:
        raise ValueError(f"crop {p}x{p} at ({t}, {l}) does not fit the LQ image {h}x{w}")
    if (t + p) * sf > hh or (l + p) * sf > hw:
        raise ValueError(f"crop {p * sf}x{p * sf} at ({t * sf}, {l * sf}) does not fit the HQ "
                         f"image {hh}x{hw}")
    return (p, p), (p * sf, p * sf)


# ----------------------------------------------------------------------------- group runners
def _lq_sizes(after: Sequence[Sizes]) -> list[Size]:
    return [s[0] for s in after]


def _run_modcrop(pair: Pair, index: list[int], params: list, after: list[Sizes]) -> None:
    for i, (lq, hq) in zip(index, after):  # the valid region shrinks; no pixel moves
        pair.lq.sizes[i], pair.hq.sizes[i] = lq, hq


def _run_sharpen(pair: Pair, index: list[int], params: list, after: list[Sizes]) -> None:
    x, sizes = pair.lq.take(index)
    out = blur_ops.sharpen(x, sizes, params)
    pair.lq.put(index, out, sizes)
    pair.hq.put(index, out, sizes)


def _run_blur(pair: Pair, index: list[int], params: list, after: list[Sizes]) -> None:
    x, sizes = pair.lq.take(index)
    pair.lq.put(index, blur_ops.blur(x, sizes, params), sizes)


def _run_shifted(pair: Pair, index: list[int], params: list, after: list[Sizes]) -> None:
    x, sizes = pair.lq.take(index)
    out, new_sizes = blur_ops.shifted_downsample(x, sizes, params)
    pair.lq.put(index, out, new_sizes)


def _run_resize(pair: Pair, index: list[int], params: list, after: list[Sizes]) -> None:
    x, sizes = pair.lq.take(index)
    out = resize(x, sizes, _lq_sizes(after), [p.method for p in params])
    pair.lq.put(index, out.clamp_(0.0, 1.0), _lq_sizes(after))


def _noise_runner(add: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Callable:
    def run(pair: Pair, index: list[int], params: list, after: list[Sizes]) -> None:
        x, sizes = pair.lq.take(index)
        fields = noise_ops.gaussian_fields(params, sizes, x.shape[2], x.shape[3], x.device)
        pair.lq.put(index, add(x, fields), sizes)

    return run


def _run_poisson(pair: Pair, index: list[int], params: list, after: list[Sizes]) -> None:
    x, sizes = pair.lq.take(index)
    pair.lq.put(index, noise_ops.poisson(x, sizes, params), sizes)


def _run_jpeg(pair: Pair, index: list[int], params: list, after: list[Sizes]) -> None:
    x, sizes = pair.lq.take(index)
    pair.lq.put(index, jpeg(x, sizes, params), sizes)


def _run_camera(pair: Pair, index: list[int], params: list, after: list[Sizes]) -> None:
    lq, lq_sizes = pair.lq.take(index)
    hq, hq_sizes = pair.hq.take(index)
    lq, hq = camera_noise(lq, lq_sizes, hq, params)
    pair.lq.put(index, lq, lq_sizes)
    pair.hq.put(index, hq, hq_sizes)


def _run_crop(pair: Pair, index: list[int], params: list, after: list[Sizes]) -> None:
    lq, _ = pair.lq.take(index)
    hq, _ = pair.hq.take(index)
    pair.lq.put(index, crop(lq, [(p.top, p.left, p.size) for p in params]), _lq_sizes(after))
    pair.hq.put(index, crop(hq, [(p.top * p.sf, p.left * p.sf, p.size * p.sf) for p in params]),
                [s[1] for s in after])


@dataclass(frozen=True)
class BatchOp:
    """How one trace op runs on the batched backend.

    Ops of the same ``kind`` run together in one group. ``size(params, (lq, hq)) -> (lq, hq)``
    gives the sizes after the op (raising ValueError when it cannot apply);
    ``run(pair, index, params, sizes_after)`` applies it to the samples ``index``.
    """

    kind: str
    size: Callable[[Any, Sizes], Sizes]
    run: Callable[[Pair, list[int], list, list[Sizes]], None]


_RESIZE = BatchOp("resize", _resize_size, _run_resize)

#: Every op of :data:`bsrgan.degradation.OPS`, by trace name.
BATCH_OPS: dict[str, BatchOp] = {
    "modcrop": BatchOp("modcrop", _modcrop_size, _run_modcrop),
    "sharpen": BatchOp("sharpen", _sharpen_size, _run_sharpen),
    "blur": BatchOp("blur", _same, _run_blur),
    "downsample1": _RESIZE,
    "downsample2": _RESIZE,
    "downsample2_shifted": BatchOp("shifted_downsample", _shifted_size, _run_shifted),
    "downsample3": _RESIZE,
    "resize": _RESIZE,
    "resize_final": _RESIZE,
    "gaussian_noise": BatchOp("gaussian_noise", _same, _noise_runner(noise_ops.add_gaussian)),
    "speckle_noise": BatchOp("speckle_noise", _same, _noise_runner(noise_ops.add_speckle)),
    "poisson_noise": BatchOp("poisson_noise", _same, _run_poisson),
    "jpeg": BatchOp("jpeg", _same, _run_jpeg),
    "camera_noise": BatchOp("camera_noise", _camera_size, _run_camera),
    "crop": BatchOp("crop", _crop_size, _run_crop),
}
#: Tie-break between kinds with equally many ready samples (first wins).
KIND_ORDER = tuple(dict.fromkeys(op.kind for op in BATCH_OPS.values()))
assert set(BATCH_OPS) == set(OPS), "every numpy op needs a batched runner"
