"""The BSRGAN degradation model: seeded, replayable, vectorised.

Public entry points::

    lq, hq, trace = degrade_bsrgan(img, sf=4, lq_patchsize=72, rng=rng, isp=True)
    lq, hq, trace = degrade_bsrgan_plus(img, sf=4, lq_patchsize=64, rng=rng)
    lq, hq = replay(img, trace)

    # the same plans applied to a torch batch (B, 3, H, W) on any device
    lq, hq, traces = degrade_bsrgan_batch(hr, sf=4, lq_patchsize=72, rngs=rngs, isp=True)
    lq, hq = replay_batch(hr, traces)

Each op is a ``sample_<op>(rng, ...) -> <Op>Params`` / ``apply_<op>(img, params)`` pair in its
own module (kernels, blur, resize, downsample, noise, jpeg, sharpen, isp); the batched torch
backend lives in :mod:`bsrgan.degradation.batched`. See ``docs/degradation.md``.
"""

from typing import Any

from bsrgan.degradation.pipelines import (
    OPS,
    apply_op,
    degrade_bsrgan,
    degrade_bsrgan_plus,
    plan_bsrgan,
    plan_bsrgan_plus,
    replay,
)

__all__ = [
    "OPS",
    "apply_op",
    "degrade_bsrgan",
    "degrade_bsrgan_batch",
    "degrade_bsrgan_plus",
    "degrade_bsrgan_plus_batch",
    "plan_bsrgan",
    "plan_bsrgan_plus",
    "replay",
    "replay_batch",
]

#: Imported on first use: they need torch and torchvision, the numpy backend does not.
_BATCHED = ("degrade_bsrgan_batch", "degrade_bsrgan_plus_batch", "replay_batch")


def __getattr__(name: str) -> Any:
    if name in _BATCHED:
        from bsrgan.degradation import batched

        return getattr(batched, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
