"""The paper's numbers beside ours: the authors' README comparison figure, cell by cell.

The README of cszn/BSRGAN shows ``figs/comparison.png``: three RealSRSet images (building, chip,
oldphoto2) super-resolved by five methods, each panel titled with NIQE / NRQM / PI. Those 45
values ship with the package (``paper_values/readme_figure_values.csv``, source and reading notes
in the ``.json`` beside it) and :func:`readme_figure_values` loads them.

Each method of the figure can be re-scored here from one or more *sources*
(:data:`FIGURE_SOURCES`), best first: the authors' **published** outputs (their own images: only
the metric is ours), the **official** weights (our inference), or a **stand-in** for official
weights (``RealSR_JPEG_x4_fp16``: the RealSR DF2K-JPEG network in fp16, our inference).
:func:`compare_with_paper` lines up paper value, ours and the difference for every cell that was
computed from any source; :func:`reproduction_status` says per cell whether we reproduce it, from
which source, or why it could not be computed.

The figure was computed with the ``paper`` metric protocol (Y of MATLAB ``rgb2ycbcr``, no shave;
see :mod:`bsrgan.metrics.protocols`), which is what scores to compare with it must use.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from bsrgan.evaluation.tables import SCORED, is_finite

__all__ = [
    "FIGURE_METRICS",
    "FIGURE_SOURCES",
    "FIGURE_TOLERANCE",
    "PaperValues",
    "Source",
    "compare_with_paper",
    "figure_method_specs",
    "load_paper_values",
    "readme_figure_values",
    "reproduction_status",
]

FIGURE_METRICS: tuple[str, ...] = ("niqe", "nrqm", "pi")
#: |ours - paper| that counts as reproduced: the figure prints two decimals (±0.005) and our
#: NIQE port agrees with MATLAB to ~0.01 on natural images (docs/evaluation.md).
FIGURE_TOLERANCE = 0.015
_DATA = "paper_values"
_README_FIGURE = "readme_figure_values"


@dataclass(frozen=True)
class PaperValues:
    """Numbers reported by the authors.

    Attributes:
        values: one row per (image, method): ``image, method, niqe, nrqm, pi`` (NaN = not given),
            plus ``dataset``.
        source: where the numbers come from (URL or file name).
        description: how they were obtained (e.g. read off a figure).
        protocol: the metric protocol they match (``paper``), or ``""`` when unknown.
    """

    values: pd.DataFrame
    source: str
    description: str = ""
    protocol: str = ""

    def value(self, image: str, method: str, metric: str) -> float:
        """The reported ``metric`` of ``method`` on ``image`` (NaN when not reported)."""
        rows = self.values[(self.values["image"] == image) & (self.values["method"] == method)]
        return float(rows[metric].iloc[0]) if len(rows) and metric in rows else math.nan


def _check_columns(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    missing = {"image", "method"} - set(frame.columns)
    if missing:
        raise ValueError(f"{where}: paper table needs columns image, method and some of "
                         f"{', '.join(FIGURE_METRICS)}; missing {sorted(missing)}")
    metrics = [m for m in FIGURE_METRICS if m in frame.columns]
    if not metrics:
        raise ValueError(f"{where}: paper table has none of the metric columns "
                         f"{', '.join(FIGURE_METRICS)} (columns: {list(frame.columns)})")
    for m in FIGURE_METRICS:
        frame[m] = pd.to_numeric(frame[m], errors="raise") if m in frame else math.nan
    if frame.duplicated(["image", "method"]).any():
        dup = frame[frame.duplicated(["image", "method"], keep=False)][["image", "method"]]
        raise ValueError(f"{where}: several rows for {dup.drop_duplicates().values.tolist()}")
    return frame


def readme_figure_values() -> PaperValues:
    """The 45 NIQE / NRQM / PI values of the authors' README figure (3 images x 5 methods)."""
    folder = resources.files("bsrgan.evaluation").joinpath(_DATA)
    with folder.joinpath(f"{_README_FIGURE}.csv").open("r", encoding="utf-8") as handle:
        frame = pd.read_csv(handle)
    meta = json.loads(folder.joinpath(f"{_README_FIGURE}.json").read_text(encoding="utf-8"))
    frame = _check_columns(frame, f"{_README_FIGURE}.csv")
    frame.insert(0, "dataset", meta["dataset"])
    return PaperValues(frame, meta["source"], meta["how"], meta["protocol"])


def load_paper_values(path: str | os.PathLike[str] | None = None) -> PaperValues:
    """The README figure (``path`` None or ``""``), or a CSV of your own with columns
    ``image, method`` and any of ``niqe, nrqm, pi`` (optional ``dataset``, default realsrset)."""
    if path is None or str(path) == "":
        return readme_figure_values()
    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"paper table {path} does not exist") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"paper table {path}: not a readable CSV ({exc})") from None
    frame = _check_columns(frame, str(path))
    if "dataset" not in frame:
        frame.insert(0, "dataset", "realsrset")
    return PaperValues(frame, path.name, "user-supplied table", "")


# ------------------------------------------------------------------------------------- sources

@dataclass(frozen=True)
class Source:
    """One way to obtain a figure method's SR image here.

    Attributes:
        method: the method as the figure names it (``"RealSR-JPEG"``).
        kind: ``"published"`` (the authors' output files), ``"official"`` (official weights, our
            inference) or ``"stand-in"`` (other weights of the same network, our inference).
        spec: the evaluation SPEC (``published:realsr_jpeg``, ``model:RealSR_JPEG``).
        label: the method name in our tables (``RealSR_JPEG_published``).
        note: what a reader must know about this source.
    """

    method: str
    kind: str
    spec: str
    label: str
    note: str = ""

    @property
    def weights(self) -> str:
        """The registry name of the weights (``model:`` sources), else ``""``."""
        return self.spec.partition(":")[2] if self.spec.startswith("model:") else ""

    def matches(self, spec: str) -> bool:
        """True when an evaluated method's SPEC (as tables record it) is this source."""
        kind, _, target = str(spec).partition(":")
        if self.spec.startswith("published:"):
            return spec == self.spec
        # model specs are recorded with a registry name or a weights file name
        return kind == "model" and Path(target).stem == self.weights


def _sources(method: str, published: str | None, official: str,
             stand_in: str | None = None) -> tuple[Source, ...]:
    label = method.replace("-", "_")
    out = []
    if published:
        out.append(Source(method, "published", f"published:{published}", f"{label}_published",
                          "the authors' output images; only the metric is ours"))
    out.append(Source(method, "official", f"model:{official}", label,
                      "official weights, our tiled inference"))
    if stand_in:
        out.append(Source(method, "stand-in", f"model:{stand_in}", f"{label}_standin",
                          f"{stand_in}: same network in fp16, our inference (reproduces the "
                          "published outputs at ~56 dB PSNR, not bit for bit)"))
    return tuple(out)


#: figure method -> its sources, best first
FIGURE_SOURCES: dict[str, tuple[Source, ...]] = {
    "ESRGAN": _sources("ESRGAN", "esrgan", "ESRGAN"),
    "FSSR-JPEG": _sources("FSSR-JPEG", None, "FSSR_JPEG"),
    "RealSR-DPED": _sources("RealSR-DPED", None, "RealSR_DPED"),
    "RealSR-JPEG": _sources("RealSR-JPEG", "realsr_jpeg", "RealSR_JPEG", "RealSR_JPEG_x4_fp16"),
    "BSRGAN": _sources("BSRGAN", "bsrgan", "BSRGAN"),
}


def figure_method_specs(kinds: tuple[str, ...] = ("published", "official", "stand-in")
                        ) -> dict[str, str]:
    """``{label: spec}`` of every source of the figure's methods of the given ``kinds``."""
    return {s.label: s.spec for sources in FIGURE_SOURCES.values() for s in sources
            if s.kind in kinds}


# ---------------------------------------------------------------------------------- comparison

def _source_of(spec: str, method: str) -> Source | None:
    return next((s for s in FIGURE_SOURCES.get(method, ()) if s.matches(spec)), None)


def compare_with_paper(per_image: pd.DataFrame, paper: PaperValues | None = None, *,
                       tolerance: float = FIGURE_TOLERANCE) -> pd.DataFrame:
    """Paper value, ours and the difference for every figure cell we computed, from every source.

    Args:
        per_image: per-image rows of one or more evaluations (``evaluate(...).per_image`` or the
            ``per_image.csv`` files concatenated): columns dataset, image, method, spec, status,
            protocol and the metric columns. Rows whose SPEC is no source of a figure method
            (bicubic, our own models...) are ignored.
        paper: the reported numbers (default: the README figure).
        tolerance: largest ``|ours - paper|`` that counts as reproduced.

    Returns:
        One row per (image, method, metric, source) with a paper value and a finite score of
        ours: ``dataset, image, method, metric, paper, ours, delta`` (ours - paper),
        ``reproduced`` (``|delta| <= tolerance``), ``source`` (published / official /
        stand-in), ``our_method`` (label in our tables), ``protocol``. Sorted as the figure.
    """
    paper = paper or readme_figure_values()
    rows = []
    ok = per_image[per_image["status"].isin(SCORED)] if "status" in per_image else per_image
    for ref in paper.values.itertuples(index=False):
        mine = ok[(ok["dataset"] == ref.dataset) & (ok["image"] == ref.image)]
        for row in mine.itertuples(index=False):
            source = _source_of(row.spec, ref.method)
            if source is None:
                continue
            for metric in FIGURE_METRICS:
                reported = getattr(ref, metric)
                ours = getattr(row, metric, math.nan)
                if not (is_finite(reported) and is_finite(ours)):
                    continue
                delta = float(ours) - float(reported)
                rows.append({
                    "dataset": ref.dataset, "image": ref.image, "method": ref.method,
                    "metric": metric, "paper": float(reported), "ours": float(ours),
                    "delta": delta, "reproduced": abs(delta) <= tolerance,
                    "source": source.kind, "our_method": row.method,
                    "protocol": str(getattr(row, "protocol", "")).split(" (")[0],
                })
    columns = ["dataset", "image", "method", "metric", "paper", "ours", "delta", "reproduced",
               "source", "our_method", "protocol"]
    table = pd.DataFrame(rows, columns=columns)
    return _figure_order(table, paper).reset_index(drop=True)


def _figure_order(table: pd.DataFrame, paper: PaperValues) -> pd.DataFrame:
    """Rows in the paper table's image/method order, metrics as in FIGURE_METRICS, best source first."""
    images = list(dict.fromkeys(paper.values["image"]))
    methods = list(dict.fromkeys(paper.values["method"]))
    kinds = ["published", "official", "stand-in"]
    key = {
        "image": lambda s: s.map(images.index),
        "method": lambda s: s.map(methods.index),
        "metric": lambda s: s.map(FIGURE_METRICS.index),
        "source": lambda s: s.map(kinds.index),
    }
    if table.empty:
        return table
    return table.sort_values(list(key), key=lambda s: key[s.name](s), kind="stable")


def reproduction_status(comparison: pd.DataFrame, paper: PaperValues | None = None, *,
                        not_evaluated: dict[str, str] | None = None,
                        metric_unavailable: dict[str, str] | None = None,
                        per_image: pd.DataFrame | None = None) -> pd.DataFrame:
    """Which cells of the paper table we reproduce, from which source; which not, and why.

    Args:
        comparison: :func:`compare_with_paper`'s table.
        paper: the reported numbers (default: the README figure).
        not_evaluated: source label (or figure method) -> why it was not evaluated here (e.g.
            the official weights cannot be fetched offline).
        metric_unavailable: metric -> why it was not computed (e.g. NRQM's model file).
        per_image: the scored rows, to name outputs that were missing or failed.

    Returns:
        One row per (image, method) of the paper table and one column per metric, each cell a
        short text: ``reproduced: published, Δ +0.008``, ``differs: stand-in, Δ +0.021``, or
        ``not computed: <reason>``. The best source decides (published, official, stand-in);
        ``+ also`` lists the other sources that were computed.
    """
    paper = paper or readme_figure_values()
    not_evaluated = dict(not_evaluated or {})
    metric_unavailable = dict(metric_unavailable or {})
    rows = []
    for ref in paper.values.itertuples(index=False):
        row = {"image": ref.image, "method": ref.method}
        for metric in FIGURE_METRICS:
            if not is_finite(getattr(ref, metric)):
                row[metric] = "not in the paper table"
                continue
            cells = comparison[(comparison["image"] == ref.image)
                               & (comparison["method"] == ref.method)
                               & (comparison["metric"] == metric)]
            if len(cells):
                row[metric] = _cell_text(cells)
            else:
                row[metric] = "not computed: " + _why_not(ref, metric, not_evaluated,
                                                           metric_unavailable, per_image)
        rows.append(row)
    return pd.DataFrame(rows, columns=["image", "method", *FIGURE_METRICS])


def _cell_text(cells: pd.DataFrame) -> str:
    best, others = cells.iloc[0], cells.iloc[1:]
    verdict = "reproduced" if best["reproduced"] else "differs"
    text = f"{verdict}: {best['source']}, Δ {best['delta']:+.3f}"
    if len(others):
        text += " (also " + ", ".join(f"{o.source} Δ {o.delta:+.3f}"
                                      for o in others.itertuples(index=False)) + ")"
    return text


def _why_not(ref, metric: str, not_evaluated: dict[str, str], metric_unavailable: dict[str, str],
             per_image: pd.DataFrame | None) -> str:
    if per_image is not None and len(per_image):
        rows = per_image[per_image["image"] == ref.image]
        if "dataset" in per_image:
            rows = rows[rows["dataset"] == ref.dataset]
        if rows.empty:
            return "image not evaluated here"
    if metric in metric_unavailable:
        return f"{metric.upper()} unavailable ({_short(metric_unavailable[metric])})"
    reasons = []
    for source in FIGURE_SOURCES.get(ref.method, ()):
        rows = None
        if per_image is not None:
            rows = per_image[(per_image["image"] == ref.image)
                             & per_image["spec"].map(source.matches)]
            if "dataset" in per_image:
                rows = rows[rows["dataset"] == ref.dataset]
        if rows is not None and len(rows):
            r = rows.iloc[0]
            if r["status"] not in SCORED:
                detail = f" ({_first_line(r['error'])})" if _has_text(r, "error") else ""
                reasons.append(f"{source.kind}: output {r['status']}{detail}")
            else:
                error = _metric_error(r, metric)
                reasons.append(f"{source.kind}: {metric.upper()} failed"
                               + (f" ({error})" if error else ""))
            continue
        why = not_evaluated.get(source.label) or not_evaluated.get(source.spec)
        reasons.append(f"{source.kind}: {_short(why)}" if why else f"{source.kind}: not evaluated")
    if not FIGURE_SOURCES.get(ref.method):
        return "no source of ours for this method"
    return "; ".join(reasons)


def _has_text(row, column: str) -> bool:
    value = row.get(column, "")
    return isinstance(value, str) and bool(value.strip())


def _metric_error(row, metric: str) -> str:
    error = row.get("error", "")
    if not isinstance(error, str):
        return ""
    parts = [p.strip() for p in error.split(";") if p.strip().startswith(f"{metric}:")]
    return parts[0] if parts else ""


def _short(text) -> str:
    """The gist of an availability reason, for a table cell: "file weights/BSRGAN.pth is not
    available" (no asset name, no details after the first ": " / " (" / ";")."""
    line = re.sub(r"^Asset '[^']*': ", "", _first_line(text))
    return re.split(r": | \(|; ", line, maxsplit=1)[0].rstrip(".")


def _first_line(text) -> str:
    lines = str(text).strip().splitlines()
    return lines[0].rstrip(".") if lines else ""
