"""Explain a degradation: one trace step in words, a trace step by step, the ISP stages.

For teaching (notebook 01) and debugging: :func:`describe_step` turns a trace entry into a short
label with its parameters, :func:`step_through` replays a trace and keeps the image after every
step, :func:`camera_noise_stages` shows the camera-noise ISP one stage at a time.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from bsrgan.degradation.pipelines import apply_op
from bsrgan.degradation.validation import check_image

#: Display names of the trace ops.
OP_NAMES: dict[str, str] = {
    "modcrop": "mod-crop",
    "sharpen": "USM sharpening",
    "downsample1": "downsample-1 (halve)",
    "blur": "blur",
    "downsample2": "downsample-2 (resize)",
    "downsample2_shifted": "downsample-2 (shifted blur + nearest)",
    "downsample3": "downsample-3",
    "resize": "resize",
    "resize_final": "final resize",
    "gaussian_noise": "Gaussian noise",
    "poisson_noise": "Poisson noise",
    "speckle_noise": "speckle noise",
    "jpeg": "JPEG",
    "camera_noise": "camera noise (ours)",
    "crop": "aligned crop",
}


def describe_step(entry: dict[str, Any]) -> str:
    """A trace entry as a short label: the op, then its main parameters (one or two lines).

    >>> describe_step({"op": "jpeg", "params": {"quality": 57}})
    'JPEG\\nquality 57'
    """
    op, p = entry["op"], entry["params"]
    name = OP_NAMES.get(op, op)
    if op == "blur":
        if p["kind"] == "isotropic":
            detail = f"isotropic {p['size']}², σ={p['sigma']:.2f}"
        else:
            detail = (f"anisotropic {p['size']}²\nλ={p['l1']:.1f}/{p['l2']:.1f}, "
                      f"θ={math.degrees(p['theta']):.0f}°")
    elif op in ("downsample1", "downsample2", "downsample3", "resize", "resize_final"):
        detail = f"{p['method']} → {p['width']}×{p['height']}"
    elif op == "downsample2_shifted":
        detail = f"σ={p['sigma']:.2f}, every {p['sf']}th pixel"
    elif op in ("gaussian_noise", "speckle_noise"):
        detail = (f"{p['mode']}, σ={p['sigma'] * 255:.1f}/255" if p["mode"] != "correlated"
                  else "channel-correlated")
    elif op == "poisson_noise":
        detail = f"{'gray' if p['gray'] else 'colour'}, scale {p['scale']:.3g}"
    elif op == "jpeg":
        detail = f"quality {p['quality']}"
    elif op == "camera_noise":
        detail = f"shot {p['shot_noise']:.1e}, read {p['read_noise']:.1e}"
    elif op == "crop":
        detail = f"{p['size']}² at ({p['top']}, {p['left']})"
    elif op == "modcrop":
        detail = f"to a multiple of {p['sf']}"
    elif op == "sharpen":
        detail = f"weight {p['weight']}, radius {p['radius']}"
    else:
        detail = ", ".join(f"{k}={v}" for k, v in p.items() if not isinstance(v, (list, dict)))
    return f"{name}\n{detail}"


@dataclass(frozen=True)
class Step:
    """The degraded image after one trace step.

    Attributes:
        op: trace op name.
        label: :func:`describe_step` of the entry.
        image: the LQ image after the step, (h, w, 3) float32 in [0, 1].
        scale: HR height / current height (1 = HR size, ``sf`` = LR size).
    """

    op: str
    label: str
    image: np.ndarray
    scale: float

    @property
    def space(self) -> str:
        """Where the step left the image: ``"HR size"``, ``"LR size"`` or e.g. ``"1/2.7 of HR"``."""
        if abs(self.scale - 1.0) < 1e-6:
            return "HR size"
        return f"1/{self.scale:.2g} of HR"


def step_through(img: np.ndarray, trace: list[dict[str, Any]], *,
                 skip: tuple[str, ...] = ("modcrop",)) -> list[Step]:
    """Replay ``trace`` on ``img`` and keep the LQ image after every step.

    Args:
        img: the HR image the trace was drawn for, (H, W, 3) float32 in [0, 1].
        trace: a trace of ``plan_*`` / ``degrade_*``.
        skip: ops applied but not kept (the mod-crop changes nothing visible).
    Returns:
        one :class:`Step` per kept entry; the first is the HR input itself (op ``"input"``).
        The last image equals ``replay(img, trace)[0]``.
    """
    lq = hq = check_image(img)
    hr_height = img.shape[0]
    steps = [Step("input", "HR input\n" + f"{img.shape[1]}×{img.shape[0]}", img, 1.0)]
    for entry in trace:
        lq, hq = apply_op(lq, hq, entry)
        if entry["op"] == "modcrop":
            hr_height = hq.shape[0]
        if entry["op"] in skip:
            continue
        if entry["op"] == "crop":
            scale = hq.shape[0] / lq.shape[0]
        else:
            scale = hr_height / lq.shape[0]
        steps.append(Step(entry["op"], describe_step(entry), lq, scale))
    return steps


def camera_noise_stages(img: np.ndarray, params) -> dict[str, np.ndarray]:
    """The camera-noise ISP of :mod:`bsrgan.degradation.isp`, one stage at a time.

    Args:
        img: sRGB (H, W, 3) float32 in [0, 1].
        params: :class:`bsrgan.degradation.isp.CameraNoiseParams`.
    Returns:
        stage name -> (H, W, 3) image in [0, 1] (RAW mosaics shown as gray), in order.
    """
    from bsrgan.degradation import isp

    linear = isp.reverse_isp(img, params)
    raw = isp.mosaic(linear, params.bayer_pattern)
    noisy = isp.add_raw_noise(raw, params.shot_noise, params.read_noise,
                              np.random.default_rng(params.seed))
    gray = lambda plane: np.repeat(np.clip(plane, 0, 1)[..., None], 3, axis=2)
    return {
        "sRGB input": img,
        "reverse ISP\n(camera RGB, linear)": np.clip(linear, 0, 1),
        f"Bayer {params.bayer_pattern} mosaic": gray(raw),
        "RAW + shot/read noise": gray(noisy),
        f"forward ISP, no noise\n({params.demosaic} demosaic)": isp.forward_isp_raw(raw, params),
        "forward ISP of the\nnoisy RAW": isp.forward_isp_raw(noisy, params),
    }
