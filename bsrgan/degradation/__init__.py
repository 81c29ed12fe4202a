"""The BSRGAN degradation model: seeded, replayable, vectorised.

Public entry points::

    lq, hq, trace = degrade_bsrgan(img, sf=4, lq_patchsize=72, rng=rng, isp=True)
    lq, hq, trace = degrade_bsrgan_plus(img, sf=4, lq_patchsize=64, rng=rng)
    lq, hq = replay(img, trace)

Each op is a ``sample_<op>(rng, ...) -> <Op>Params`` / ``apply_<op>(img, params)`` pair in its
own module (kernels, blur, resize, downsample, noise, jpeg, sharpen, isp). See
``docs/degradation.md``.
"""

from bsrgan.degradation.pipelines import (
    BSRGAN_STEPS,
    OPS,
    apply_op,
    degrade_bsrgan,
    degrade_bsrgan_plus,
    plan_bsrgan,
    plan_bsrgan_plus,
    replay,
    sample_bsrgan_order,
)

__all__ = [
    "BSRGAN_STEPS",
    "OPS",
    "apply_op",
    "degrade_bsrgan",
    "degrade_bsrgan_plus",
    "plan_bsrgan",
    "plan_bsrgan_plus",
    "replay",
    "sample_bsrgan_order",
]
