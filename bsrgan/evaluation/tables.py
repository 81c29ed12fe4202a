"""Results tables: per-image CSV, summary CSV (mean per dataset x method x metric) and Markdown.

Every row of both CSVs carries the metric ``protocol`` and the ``dataset_protocol`` (how the LR
inputs were made), so a CSV copied on its own still says what its numbers mean. Means are taken
over the images a method has (column ``n``) on which the metric could be computed (``<metric>_n``);
when methods cover different images, a second set of summary rows (``subset == "common"``)
averages over the images every method has.

Row statuses: ``ok``; ``partial`` (the output was scored, but at least one metric failed on it,
e.g. NIQE on a flat image: its other metrics count, the failed one does not, and the Markdown
table gives that metric's n next to its mean); ``missing`` (the method has no output for the
image); ``failed`` (input or output unreadable, generation failed, method unavailable).
``partial`` and ``failed`` rows are failures (:data:`FAILURES`): ``bsrgan evaluate`` exits 1.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from bsrgan.utils.atomic import atomic_write_text

STATUSES = ("ok", "partial", "missing", "failed")
SCORED = ("ok", "partial")  # rows whose output was read and scored
FAILURES = ("partial", "failed")
NA = "n/a"


def is_finite(value) -> bool:
    """True for a finite number (a score); False for NaN, inf, None, text."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def per_image_frame(rows: list[dict], metric_names: tuple[str, ...]) -> pd.DataFrame:
    """Rows (one per method x image) -> DataFrame with every metric column present (NaN = none),
    the metrics in request order before ``error``, whichever of them had values."""
    frame = pd.DataFrame(rows)
    for name in metric_names:
        if name not in frame:
            frame[name] = np.nan
        frame[name] = frame[name].astype(float)
    others = [c for c in frame.columns if c not in metric_names]
    at = others.index("error") if "error" in others else len(others)
    return frame[others[:at] + list(metric_names) + others[at:]]


def common_images(per_image: pd.DataFrame, methods: list[str]) -> list[str]:
    """Images (in table order) that every method scored (status ``ok`` or ``partial``)."""
    ok = per_image[per_image["status"].isin(SCORED)]
    stems = [s for s in dict.fromkeys(per_image["image"])
             if all(((ok["method"] == m) & (ok["image"] == s)).any() for m in methods)]
    return stems


def summarise(per_image: pd.DataFrame, methods: list[str], metric_names: tuple[str, ...],
              *, subset: str = "all", images: list[str] | None = None) -> pd.DataFrame:
    """One row per method: counts, and mean / std / n of each metric over its scored images.

    ``n`` counts the scored outputs (``ok`` + ``partial``); ``<metric>_n`` the images the metric
    has a value for (fewer when it failed on some, which are also in ``n_partial``). A value is
    anything but NaN: PSNR of an image identical to its reference is +inf, and so is the mean.
    """
    frame = per_image if images is None else per_image[per_image["image"].isin(images)]
    rows = []
    for method in methods:
        mine = frame[frame["method"] == method]
        ok = mine[mine["status"].isin(SCORED)]
        row = {
            "dataset": mine["dataset"].iloc[0] if len(mine) else "",
            "method": method,
            "spec": mine["spec"].iloc[0] if len(mine) else "",
            "subset": subset,
            "n": len(ok),
            "n_partial": int((mine["status"] == "partial").sum()),
            "n_missing": int((mine["status"] == "missing").sum()),
            "n_failed": int((mine["status"] == "failed").sum()),
        }
        for name in metric_names:
            values = ok[name].to_numpy(dtype=float)
            values = values[~np.isnan(values)]
            row[f"{name}_mean"] = float(values.mean()) if len(values) else math.nan
            row[f"{name}_std"] = (float(values.std(ddof=0)) if len(values)
                                  and np.isfinite(values).all() else math.nan)  # inf: no spread
            row[f"{name}_n"] = len(values)
        row["protocol"] = mine["protocol"].iloc[0] if len(mine) else ""
        row["dataset_protocol"] = mine["dataset_protocol"].iloc[0] if len(mine) else ""
        rows.append(row)
    return pd.DataFrame(rows)


def best_rows(summary: pd.DataFrame, name: str, lower_better: bool) -> set[int]:
    """Positions of the best mean of ``name`` (all ties); empty with fewer than two values."""
    values = summary[f"{name}_mean"].to_numpy(dtype=float)
    known = ~np.isnan(values)
    if known.sum() < 2:
        return set()
    best = np.nanmin(values) if lower_better else np.nanmax(values)
    return {i for i, v in enumerate(values) if known[i] and v == best}


def markdown_table(summary: pd.DataFrame, metric_names: tuple[str, ...], infos: dict,
                   *, decimals: int = 3) -> str:
    """``| Method | n | NIQE ↓ | ... |`` with the best mean per column in bold, n/a where none.

    A mean over fewer images than the method's ``n`` (the metric failed on the others) shows
    its own count: ``5.022 (n=17)``.
    """
    header = ["Method", "n"] + [f"{n.upper()} {infos[n].arrow}" for n in metric_names]
    lines = ["| " + " | ".join(header) + " |",
             "|:--|--:|" + "--:|" * len(metric_names)]
    bold = {n: best_rows(summary, n, infos[n].lower_better) for n in metric_names}
    for i, row in enumerate(summary.to_dict("records")):
        cells = [str(row["method"]), str(row["n"])]
        for name in metric_names:
            value, count = row[f"{name}_mean"], row.get(f"{name}_n", row["n"])
            text = NA if np.isnan(value) else f"{value:.{decimals}f}"
            text = f"**{text}**" if i in bold[name] else text
            if not np.isnan(value) and count < row["n"]:
                text += f" (n={count})"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def text_table(columns: list[str], rows: list[list[str]]) -> str:
    """A left-aligned Markdown table of text cells, ``|`` in a cell escaped."""
    lines = ["| " + " | ".join(columns) + " |", "|" + ":--|" * len(columns)]
    for cells in rows:
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def short_reason(reason: str) -> str:
    """First sentence-like part of a (possibly multi-line) unavailability reason."""
    text = reason.split(" Details:")[0].splitlines()[0].strip()
    return text.rstrip(".")


def markdown_report(per_image: pd.DataFrame, summary: pd.DataFrame, common: pd.DataFrame | None,
                    *, dataset: str, protocol: str, dataset_protocol: str,
                    metric_names: tuple[str, ...], infos: dict, unavailable: dict[str, str],
                    decimals: int = 3) -> str:
    """The Markdown results page: main table, notes on n/a and missing outputs, common subset."""
    parts = [f"### {dataset}: mean scores per method", "",
             markdown_table(summary, metric_names, infos, decimals=decimals), ""]
    notes = [f"Metric protocol: {protocol}.", f"Inputs: {dataset_protocol}.",
             ("Means over the images each method has (n; a metric that failed on some of them "
              "shows its own n); best mean per column in bold.")]
    for name, reason in unavailable.items():
        notes.append(f"{name.upper()}: n/a ({short_reason(reason)}).")
    for method in summary["method"]:
        mine = per_image[per_image["method"] == method]
        for status in ("missing", "failed"):
            rows = mine[mine["status"] == status]
            if len(rows):
                notes.append(f"{method}: {len(rows)} of {len(mine)} outputs {status} "
                             f"({_by_reason(rows, status)}).")
        partial = mine[mine["status"] == "partial"]
        for name in metric_names:
            failed = partial[np.isnan(partial[name].to_numpy(dtype=float))]
            if len(failed) and name not in unavailable:
                notes.append(f"{method}: {name.upper()} failed on {len(failed)} of "
                             f"{int(mine['status'].isin(SCORED).sum())} scored outputs "
                             f"({', '.join(failed['image'])}); see the error column of "
                             "per_image.csv.")
    parts += [f"- {note}" for note in notes]
    if common is not None:
        n = int(common["n"].max()) if len(common) else 0
        parts += ["", f"#### On the {n} images every method has", "",
                  markdown_table(common, metric_names, infos, decimals=decimals)]
    return "\n".join(parts) + "\n"


def _by_reason(rows: pd.DataFrame, status: str) -> str:
    """``"dog, tiger: <reason>"`` for missing rows (grouped by reason), else the stems."""
    if status != "missing" or "error" not in rows:
        return ", ".join(rows["image"])
    groups: dict[str, list[str]] = {}
    for stem, error in zip(rows["image"], rows["error"].fillna("")):
        reason = error.partition(" is not available: ")[2] or error
        groups.setdefault(reason, []).append(stem)
    return "; ".join(f"{', '.join(stems)}: {why}" if why else ", ".join(stems)
                     for why, stems in groups.items())


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    """Atomic CSV write (floats with full precision)."""
    atomic_write_text(path, frame.to_csv(index=False, float_format="%.8g"))
    return path
