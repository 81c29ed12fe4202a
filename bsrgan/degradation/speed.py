"""Wall-clock speed of the two pipelines in the current process (notebook 01's table).

For a CPU-time, one-thread benchmark with a per-op breakdown run ``benchmarks/degradation.py``.
"""
from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np


def time_pipelines(crops: Sequence[np.ndarray], *, sf: int, lq_patch: int, pairs: int,
                   seed: int = 0):
    """Milliseconds per pair of ``degrade_bsrgan`` and ``degrade_bsrgan_plus``, ISP on and off.

    Args:
        crops: HR crops (H, W, 3) float32 in [0, 1], used in turn.
        pairs: pairs timed per configuration (after one warm-up pair).
    Returns:
        a table: pipeline, isp, ms/pair, pairs/s (wall clock of this process, all threads).
    """
    import pandas as pd

    from bsrgan.degradation import degrade_bsrgan, degrade_bsrgan_plus

    if not crops or pairs < 1:
        raise ValueError("time_pipelines: need at least one crop and one pair")
    patch = min(lq_patch, min(min(c.shape[:2]) for c in crops) // sf)
    rows = []
    for label, degrade in (("bsrgan", degrade_bsrgan), ("bsrgan_plus", degrade_bsrgan_plus)):
        for isp in (True, False):
            rng = np.random.default_rng(seed)
            degrade(crops[0], sf=sf, lq_patchsize=patch, rng=rng, isp=isp)  # warm-up
            t0 = time.perf_counter()
            for i in range(pairs):
                degrade(crops[i % len(crops)], sf=sf, lq_patchsize=patch, rng=rng, isp=isp)
            ms = (time.perf_counter() - t0) / pairs * 1000
            rows.append({"pipeline": label, "isp": isp, "ms/pair": round(ms, 2),
                         "pairs/s": round(1000 / ms, 1)})
    return pd.DataFrame(rows)
