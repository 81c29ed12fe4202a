"""Statistics of the BSRGAN shuffle over many planned samples (traces only, no pixels).

Expected values are derived from the pipeline's own probabilities
(:mod:`bsrgan.degradation.pipelines`), so a table compares the code with its specification:

- :func:`op_frequency_table`: how often each op appears per sample;
- :func:`order_position_table`: how often each of the seven shuffled steps lands at each position;
- :func:`placement_table`: whether an op acts before, between or after the two downsamplings
  (in HR space, at an intermediate size, or in LR space).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from bsrgan.degradation import pipelines as pl

Trace = list[dict[str, Any]]
#: Row labels of the seven shuffled steps (the two blurs are told apart by their index).
STEP_LABELS: tuple[str, ...] = ("blur (1st)", "blur (2nd)", "downsample-2", "downsample-3",
                                "Gaussian noise", "JPEG (p = 0.9)", "camera noise (p = 0.25)")
PLACEMENTS: tuple[str, ...] = ("before downsample-2", "between the two", "after downsample-3")
_DOWNSAMPLE2 = ("downsample2", "downsample2_shifted")


def expected_ops_per_sample(sf: int = 4, isp: bool = True) -> dict[str, float]:
    """Mean number of times each trace op appears in one ``degrade_bsrgan`` sample."""
    expected = {
        "downsample1": pl.SCALE2_PROB if sf == 4 else 0.0,
        "blur": 2.0,
        "downsample2": pl.DOWNSAMPLE2_RESIZE_PROB,
        "downsample2_shifted": 1.0 - pl.DOWNSAMPLE2_RESIZE_PROB,
        "downsample3": 1.0,
        "gaussian_noise": 1.0,
        "jpeg": pl.JPEG_PROB + 1.0,  # the shuffled one, plus the final one
        "camera_noise": pl.CAMERA_NOISE_PROB if isp else 0.0,
    }
    return {op: p for op, p in expected.items() if p > 0}


def op_frequency_table(plans: Sequence[Trace], sf: int = 4, isp: bool = True):
    """Expected vs measured ops per sample, with the z-score of the difference.

    The random part of each count is a Bernoulli draw (``p`` = fractional part of the
    expectation), so its standard error over ``n`` plans is ``sqrt(p(1-p)/n)``; ops that
    always appear have no error (z = 0 when they match).
    """
    import pandas as pd

    n = len(plans)
    if n == 0:
        raise ValueError("op_frequency_table: no plans given")
    counts = Counter(entry["op"] for plan in plans for entry in plan)
    rows = []
    for op, mean in expected_ops_per_sample(sf, isp).items():
        measured = counts[op] / n
        frac = mean % 1
        se = np.sqrt(frac * (1 - frac) / n) if 0 < frac < 1 else 0.0
        z = (measured - mean) / se if se else (0.0 if measured == mean else float("inf"))
        rows.append({"op": op, "expected per sample": mean, "measured": round(measured, 4),
                     "z": round(float(z), 2)})
    return pd.DataFrame(rows)


def order_position_table(orders: Sequence[Sequence[int]]):
    """Fraction of orders that put each step (rows, :data:`STEP_LABELS`) at each position
    (columns 1..7). ``orders`` come from :func:`~bsrgan.degradation.sample_bsrgan_order`."""
    import pandas as pd

    n_steps = len(pl.BSRGAN_STEPS)
    counts = np.zeros((n_steps, n_steps))
    for order in orders:
        for position, step in enumerate(order):
            counts[step, position] += 1
    if not len(orders):
        raise ValueError("order_position_table: no orders given")
    return pd.DataFrame(counts / len(orders), index=list(STEP_LABELS),
                        columns=range(1, n_steps + 1))


def expected_order_positions():
    """The exact probabilities of :func:`order_position_table`.

    The order is uniform over the permutations of the seven steps that put downsample-2 before
    downsample-3. Every other step is at each position with probability 1/7; the pair of
    positions of the two downsamplings is a uniform 2-subset of {1..7} (21 of them), so
    downsample-2 is at position ``k`` with probability (7-k)/21 and downsample-3 with (k-1)/21.
    """
    import pandas as pd

    n = len(pl.BSRGAN_STEPS)
    table = np.full((n, n), 1.0 / n)
    pairs = n * (n - 1) / 2
    for k in range(1, n + 1):
        table[2, k - 1] = (n - k) / pairs
        table[3, k - 1] = (k - 1) / pairs
    return pd.DataFrame(table, index=list(STEP_LABELS), columns=range(1, n + 1))


def placement_table(plans: Sequence[Trace]):
    """Where blur, Gaussian noise, the shuffled JPEG and camera noise act, over ``plans``.

    Returns a table with one row per op: how many times it appeared (``n``) and the fraction of
    those before downsample-2 (at the HR size, or half of it after downsample-1), between the
    two downsamplings, and after downsample-3 (at the LR size). For a uniform shuffle each is
    1/3: the three relative orders of (op, downsample-2, downsample-3) that keep the two
    downsamplings in order are equally likely.
    """
    import pandas as pd

    tally: dict[str, Counter] = {op: Counter() for op in
                                 ("blur", "gaussian_noise", "jpeg", "camera_noise")}
    for plan in plans:
        ops = [entry["op"] for entry in plan]
        i2 = next(i for i, op in enumerate(ops) if op in _DOWNSAMPLE2)
        i3 = ops.index("downsample3")
        final_jpeg = len(ops) - 2  # [..., final jpeg, crop]
        for i, op in enumerate(ops[:final_jpeg]):
            if op in tally:
                tally[op][0 if i < i2 else 1 if i < i3 else 2] += 1
    rows = []
    for op, counts in tally.items():
        total = sum(counts.values())
        row: dict[str, Any] = {"op": op, "n": total}
        for index, name in enumerate(PLACEMENTS):
            row[name] = round(counts[index] / total, 4) if total else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)
