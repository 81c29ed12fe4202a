"""The BSRGAN degradation model applied in batches on a torch device (GPU or CPU).

Plans are drawn on the CPU by the numpy backend (same ``plan_*`` functions, same traces); the
pixels of a whole batch are then degraded in torch on ``hr.device``. See the "Batched backend"
section of ``docs/degradation.md``.

    lq, hq, traces = degrade_bsrgan_batch(hr, sf=4, lq_patchsize=72, rngs=rngs, isp=True)
    lq, hq = replay_batch(hr, traces)
"""

from bsrgan.degradation.batched.ops import BATCH_OPS
from bsrgan.degradation.batched.pipeline import (
    degrade_bsrgan_batch,
    degrade_bsrgan_plus_batch,
    replay_batch,
)

__all__ = ["BATCH_OPS", "degrade_bsrgan_batch", "degrade_bsrgan_plus_batch", "replay_batch"]
