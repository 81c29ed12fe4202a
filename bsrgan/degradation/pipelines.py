"""The BSRGAN degradation pipelines: sample a plan (the trace), then replay it.

``plan_*`` draws every random choice from one ``numpy.random.Generator`` using only the image
size, and returns the trace: a JSON-serialisable list of ``{"op": name, "params": dict}`` in
application order. :func:`replay` applies a trace deterministically, so ``degrade_*`` (plan +
replay) and ``replay(img, trace)`` give bit-identical ``(lq, hq)``. Order, probabilities and
ranges follow the authors' release (``cszn/BSRGAN utils/utils_blindsr.py``); see
``docs/degradation.md`` for every deviation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bsrgan.degradation.blur import BlurParams, apply_blur, sample_blur
from bsrgan.degradation.downsample import (
    ShiftedDownsampleParams,
    apply_shifted_downsample,
    sample_shifted_downsample,
)
from bsrgan.degradation.isp import CameraNoiseParams, apply_camera_noise, sample_camera_noise
from bsrgan.degradation.jpeg import JpegParams, apply_jpeg, sample_jpeg
from bsrgan.degradation.noise import (
    GaussianNoiseParams,
    PoissonNoiseParams,
    apply_gaussian_noise,
    apply_poisson_noise,
    apply_speckle_noise,
    sample_gaussian_noise,
    sample_poisson_noise,
    sample_speckle_noise,
)
from bsrgan.degradation.resize import ResizeParams, apply_resize, sample_cv2_method
from bsrgan.degradation.sharpen import SharpenParams, apply_sharpen
from bsrgan.degradation.validation import check_image, check_scale_factor

Image = np.ndarray
Trace = list[dict[str, Any]]

# degrade_bsrgan (release degradation_bsrgan)
SCALE2_PROB = 0.25  # sf == 4: halve first, then continue with sf = 2
SCALE2_MATLAB_PROB = 0.5  # ... by MATLAB bicubic imresize, else an OpenCV interpolation
DOWNSAMPLE2_RESIZE_PROB = 0.75  # else shifted-blur + nearest
JPEG_PROB = 0.9
CAMERA_NOISE_PROB = 0.25
# degrade_bsrgan_plus (release degradation_bsrgan_plus)
RESIZE_UP_PROB, RESIZE_DOWN_PROB = 0.2, 0.7  # else keep the size
POISSON_PROB = SPECKLE_PROB = PLUS_CAMERA_NOISE_PROB = 0.1


# ----------------------------------------------------------------------------- pair-level ops
@dataclass(frozen=True)
class ModcropParams:
    """Crop bottom/right so height and width are multiples of ``sf`` (applied to lq and hq)."""

    sf: int


@dataclass(frozen=True)
class CropParams:
    """Aligned crop: LQ ``size``^2 at (top, left); HQ ``size*sf``^2 at (top*sf, left*sf)."""

    top: int
    left: int
    size: int
    sf: int


def apply_modcrop(img: Image, params: ModcropParams) -> Image:
    """(H, W, 3) -> (H - H % sf, W - W % sf, 3), a view."""
    sf = check_scale_factor(params.sf)
    h, w = img.shape[:2]
    return img[: h - h % sf, : w - w % sf]


def apply_crop(lq: Image, hq: Image, params: CropParams) -> tuple[Image, Image]:
    """Cut the aligned patch pair (copies)."""
    t, l, p, sf = params.top, params.left, params.size, params.sf
    if t < 0 or l < 0 or t + p > lq.shape[0] or l + p > lq.shape[1]:
        raise ValueError(
            f"crop {p}x{p} at ({t}, {l}) does not fit the LQ image {lq.shape[0]}x{lq.shape[1]}"
        )
    if (t + p) * sf > hq.shape[0] or (l + p) * sf > hq.shape[1]:
        raise ValueError(
            f"crop {p * sf}x{p * sf} at ({t * sf}, {l * sf}) does not fit the HQ image "
            f"{hq.shape[0]}x{hq.shape[1]}"
        )
    lq_patch = lq[t : t + p, l : l + p].copy()
    hq_patch = hq[t * sf : (t + p) * sf, l * sf : (l + p) * sf].copy()
    return lq_patch, hq_patch


def _sharpen_pair(lq: Image, hq: Image, params: SharpenParams) -> tuple[Image, Image]:
    sharp = apply_sharpen(lq, params)  # before hq is set aside, so both get it
    return sharp, sharp


# ----------------------------------------------------------------------------- op registry
@dataclass(frozen=True)
class Op:
    """How a trace entry is rebuilt and applied.

    ``make_params(**dict)`` rebuilds the params; ``apply`` is ``apply(lq, params) -> lq`` or,
    for ``pair`` ops, ``apply(lq, hq, params) -> (lq, hq)``.
    """

    make_params: Callable[..., Any]
    apply: Callable[..., Any]
    pair: bool = False


OPS: dict[str, Op] = {
    "modcrop": Op(
        ModcropParams, lambda lq, hq, p: (apply_modcrop(lq, p), apply_modcrop(hq, p)), True
    ),
    "sharpen": Op(SharpenParams, _sharpen_pair, True),
    "blur": Op(BlurParams, apply_blur),
    "downsample1": Op(ResizeParams, apply_resize),
    "downsample2": Op(ResizeParams, apply_resize),
    "downsample2_shifted": Op(ShiftedDownsampleParams, apply_shifted_downsample),
    "downsample3": Op(ResizeParams, apply_resize),
    "resize": Op(ResizeParams, apply_resize),
    "resize_final": Op(ResizeParams, apply_resize),
    "gaussian_noise": Op(GaussianNoiseParams, apply_gaussian_noise),
    "speckle_noise": Op(GaussianNoiseParams, apply_speckle_noise),
    "poisson_noise": Op(PoissonNoiseParams, apply_poisson_noise),
    "jpeg": Op(JpegParams, apply_jpeg),
    "camera_noise": Op(CameraNoiseParams, apply_camera_noise, True),
    "crop": Op(CropParams, apply_crop, True),
}


def trace_entry(op: str, params: Any) -> dict[str, Any]:
    """``{"op": op, "params": dataclasses.asdict(params)}``."""
    if op not in OPS:
        raise ValueError(f"unknown degradation op {op!r}; known: {sorted(OPS)}")
    return {"op": op, "params": dataclasses.asdict(params)}


def parse_entry(entry: dict[str, Any]) -> tuple[str, Any]:
    """``(op name, params object)`` of one trace entry; ValueError if it is malformed."""
    if not isinstance(entry, dict) or "op" not in entry or "params" not in entry:
        raise ValueError(f"trace entry must be a dict with 'op' and 'params', got {entry!r}")
    name = entry["op"]
    if name not in OPS:
        raise ValueError(f"unknown degradation op {name!r}; known: {sorted(OPS)}")
    try:
        return name, OPS[name].make_params(**entry["params"])
    except TypeError as err:
        raise ValueError(f"bad params for op {name!r}: {err}") from err


def apply_op(lq: Image, hq: Image, entry: dict[str, Any]) -> tuple[Image, Image]:
    """Apply one trace entry to the pair; returns the new ``(lq, hq)``."""
    name, params = parse_entry(entry)
    op = OPS[name]
    if op.pair:
        return op.apply(lq, hq, params)
    return op.apply(lq, params), hq


def replay(img: Image, trace: Sequence[dict[str, Any]]) -> tuple[Image, Image]:
    """Re-apply a trace to the HR image it was drawn for.

    Args:
        img: (H, W, 3) float32 RGB in [0, 1], the image given to ``degrade_*``.
        trace: the trace returned by ``degrade_*`` / ``plan_*`` (or its JSON round trip).

    Returns:
        (lq, hq): (p, p, 3) and (p*sf, p*sf, 3) float32 in [0, 1], bit-identical to the original
        draw.
    """
    img = check_image(img)
    lq = hq = img
    for i, entry in enumerate(trace):
        try:
            lq, hq = apply_op(lq, hq, entry)
        except ValueError as err:
            raise ValueError(
                f"trace step {i} ({entry.get('op') if isinstance(entry, dict) else entry!r}): {err}"
            ) from err
    return lq, hq


# ----------------------------------------------------------------------------- planning
def _check_patch(height: int, width: int, sf: int, lq_patchsize: int) -> tuple[int, int]:
    """Mod-cropped size; ValueError naming both sizes when the image is too small."""
    if (
        isinstance(lq_patchsize, bool)
        or not isinstance(lq_patchsize, (int, np.integer))
        or lq_patchsize < 1
    ):
        raise ValueError(f"lq_patchsize must be a positive integer, got {lq_patchsize!r}")
    h, w = height - height % sf, width - width % sf
    need = lq_patchsize * sf
    if h < need or w < need:
        raise ValueError(
            f"image of size {height}x{width} (HxW) is too small: lq_patchsize={lq_patchsize} at "
            f"sf={sf} needs at least {need}x{need}"
        )
    return h, w


def _check_rng(rng: np.random.Generator | None) -> np.random.Generator:
    if rng is None:
        return np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator or None, got {type(rng).__name__}")
    return rng


def _random_crop(rng: np.random.Generator, h: int, w: int, size: int, sf: int) -> CropParams:
    top = int(rng.integers(0, h - size + 1))
    left = int(rng.integers(0, w - size + 1))
    return CropParams(top, left, size, sf)


def plan_bsrgan(
    rng: np.random.Generator,
    height: int,
    width: int,
    sf: int = 4,
    lq_patchsize: int = 72,
    isp: bool = True,
) -> Trace:
    """Draw the trace of one ``degrade_bsrgan`` sample for an HR image of ``height x width``."""
    sf = check_scale_factor(sf)
    h, w = _check_patch(height, width, sf, lq_patchsize)
    trace = [trace_entry("modcrop", ModcropParams(sf))]
    sf_ori = sf
    if sf == 4 and rng.random() < SCALE2_PROB:  # downsample-1
        if rng.random() < SCALE2_MATLAB_PROB:
            p = ResizeParams(-(-h // 2), -(-w // 2), "matlab_bicubic")
        else:
            p = ResizeParams(h // 2, w // 2, sample_cv2_method(rng))
        trace.append(trace_entry("downsample1", p))
        h, w, sf = p.height, p.width, 2

    order = [int(i) for i in rng.permutation(7)]
    i2, i3 = order.index(2), order.index(3)
    if i2 > i3:  # downsample-2 must come before downsample-3
        order[i2], order[i3] = order[i3], order[i2]

    h_before, w_before = h, w  # size before downsample-2 (reset there)
    for step in order:
        if step in (0, 1):
            trace.append(trace_entry("blur", sample_blur(rng, sf)))
        elif step == 2:
            h_before, w_before = h, w
            if rng.random() < DOWNSAMPLE2_RESIZE_PROB:
                sf1 = rng.uniform(1.0, 2.0 * sf)
                p = ResizeParams(
                    max(1, int(1 / sf1 * h)), max(1, int(1 / sf1 * w)), sample_cv2_method(rng)
                )
                trace.append(trace_entry("downsample2", p))
                h, w = p.height, p.width
            else:
                trace.append(trace_entry("downsample2_shifted", sample_shifted_downsample(rng, sf)))
                h, w = -(-h // sf), -(-w // sf)
        elif step == 3:
            p = ResizeParams(h_before // sf, w_before // sf, sample_cv2_method(rng))
            trace.append(trace_entry("downsample3", p))
            h, w = p.height, p.width
        elif step == 4:
            trace.append(trace_entry("gaussian_noise", sample_gaussian_noise(rng)))
        elif step == 5:
            if rng.random() < JPEG_PROB:
                trace.append(trace_entry("jpeg", sample_jpeg(rng)))
        elif step == 6 and rng.random() < CAMERA_NOISE_PROB and isp:  # draw even if not isp
            trace.append(trace_entry("camera_noise", sample_camera_noise(rng)))

    trace.append(trace_entry("jpeg", sample_jpeg(rng)))
    trace.append(trace_entry("crop", _random_crop(rng, h, w, lq_patchsize, sf_ori)))
    return trace


def plan_bsrgan_plus(
    rng: np.random.Generator,
    height: int,
    width: int,
    sf: int = 4,
    lq_patchsize: int = 64,
    shuffle_prob: float = 0.5,
    use_sharp: bool = False,
    isp: bool = True,
) -> Trace:
    """Draw the trace of one ``degrade_bsrgan_plus`` sample for a ``height x width`` HR image."""
    sf = check_scale_factor(sf)
    if not 0.0 <= shuffle_prob <= 1.0:
        raise ValueError(f"shuffle_prob must be in [0, 1], got {shuffle_prob!r}")
    h0, w0 = _check_patch(height, width, sf, lq_patchsize)
    h, w = h0, w0
    trace = [trace_entry("modcrop", ModcropParams(sf))]
    if use_sharp:
        trace.append(trace_entry("sharpen", SharpenParams()))

    if rng.random() < shuffle_prob:
        order = [int(i) for i in rng.permutation(13)]
    else:  # fixed order; the four noises of each half are shuffled locally, JPEG stays in place
        order = list(range(13))
        order[2:6] = [2 + int(i) for i in rng.permutation(4)]
        order[9:13] = [9 + int(i) for i in rng.permutation(4)]

    for step in order:
        if step in (0, 7):
            trace.append(trace_entry("blur", sample_blur(rng, sf)))
        elif step in (1, 8):
            rnum = rng.random()
            if rnum > 1.0 - RESIZE_UP_PROB:
                sf1 = rng.uniform(1.0, 2.0)
            elif rnum < RESIZE_DOWN_PROB:
                sf1 = rng.uniform(0.5 / sf, 1.0)
            else:
                sf1 = 1.0
            p = ResizeParams(max(1, int(sf1 * h)), max(1, int(sf1 * w)), sample_cv2_method(rng))
            trace.append(trace_entry("resize", p))
            h, w = p.height, p.width
        elif step in (2, 9):
            trace.append(trace_entry("gaussian_noise", sample_gaussian_noise(rng)))
        elif step in (3, 10):
            if rng.random() < POISSON_PROB:
                trace.append(trace_entry("poisson_noise", sample_poisson_noise(rng)))
        elif step in (4, 11):
            if rng.random() < SPECKLE_PROB:
                trace.append(trace_entry("speckle_noise", sample_speckle_noise(rng)))
        elif step in (5, 12):
            if rng.random() < PLUS_CAMERA_NOISE_PROB and isp:
                trace.append(trace_entry("camera_noise", sample_camera_noise(rng)))
        elif step == 6:
            trace.append(trace_entry("jpeg", sample_jpeg(rng)))

    p = ResizeParams(h0 // sf, w0 // sf, sample_cv2_method(rng))
    trace.append(trace_entry("resize_final", p))
    trace.append(trace_entry("jpeg", sample_jpeg(rng)))
    trace.append(trace_entry("crop", _random_crop(rng, p.height, p.width, lq_patchsize, sf)))
    return trace


# ----------------------------------------------------------------------------- public pipelines
def degrade_bsrgan(
    img: Image,
    sf: int = 4,
    lq_patchsize: int = 72,
    rng: np.random.Generator | None = None,
    isp: bool = True,
) -> tuple[Image, Image, Trace]:
    """BSRGAN degradation (paper Sec. 3; release ``degradation_bsrgan``).

    Args:
        img: HR image (H, W, 3) float32 RGB in [0, 1], H and W >= lq_patchsize * sf.
        sf: scale factor.
        lq_patchsize: side of the LQ patch.
        rng: source of all randomness (None: fresh OS entropy).
        isp: include the processed camera sensor noise (p = 0.25).

    Returns:
        lq (p, p, 3), hq (p*sf, p*sf, 3) float32 in [0, 1], and the trace for :func:`replay`.

    Raises:
        ValueError: image smaller than ``lq_patchsize * sf`` (the message names both sizes), not
            float (H, W, 3) in [0, 1], or bad ``sf`` / ``lq_patchsize``.
        TypeError: ``img`` is not a numpy array or ``rng`` not a ``numpy.random.Generator``.
    """
    img = check_image(img)
    trace = plan_bsrgan(_check_rng(rng), img.shape[0], img.shape[1], sf, lq_patchsize, isp)
    lq, hq = replay(img, trace)
    return lq, hq, trace


def degrade_bsrgan_plus(
    img: Image,
    sf: int = 4,
    lq_patchsize: int = 64,
    shuffle_prob: float = 0.5,
    use_sharp: bool = False,
    rng: np.random.Generator | None = None,
    isp: bool = True,
) -> tuple[Image, Image, Trace]:
    """Extended BSRGAN degradation (release ``degradation_bsrgan_plus``, with Real-ESRGAN ideas).

    Args as :func:`degrade_bsrgan`, plus ``shuffle_prob`` (probability of a fully shuffled order)
    and ``use_sharp`` (USM-sharpen the HR first; the HQ target is then the sharpened image).
    """
    img = check_image(img)
    trace = plan_bsrgan_plus(
        _check_rng(rng), img.shape[0], img.shape[1], sf, lq_patchsize, shuffle_prob, use_sharp, isp
    )
    lq, hq = replay(img, trace)
    return lq, hq, trace
