"""The real-image comparison as steps (notebooks 04 and 05), after :mod:`bsrgan.evaluation.plan`
has said what can run: evaluate several datasets (reusing scores an earlier evaluation already
has), one table across datasets, the comparison figures, and our inference set beside the
authors' published outputs. Also the names every table uses (:func:`method_label`,
:func:`dataset_title`).

>>> from bsrgan.evaluation import load_dataset
>>> from bsrgan.evaluation.comparison import compare_methods, method_label
>>> ds = {"realsrset": load_dataset("realsrset").subset(["chip"])}            # doctest: +SKIP
>>> run = compare_methods(ds, {"realsrset": {"bicubic": "bicubic",
...                            "BSRGAN_published": "published:bsrgan"}},
...                       "niqe", "results/cmp", protocol="paper")             # doctest: +SKIP
>>> run.scores()                          # dataset, inputs, method, n, metric means  # doctest: +SKIP

Reuse: with ``reuse=<folder of an earlier run>`` (notebook 04's OUTPUT_DIR, laid out as
``<dataset>/per_image.csv``), a (method, image) row is taken over instead of recomputed when it
has the same SPEC, dataset protocol and metric protocol, a finite score for every metric we
compute, and the SR image this run would score: a published output (pinned by its hash), or a
generated one whose cache key (input, weights, code version, device, tile) is this run's.
``dir:`` rows are always scored again. Everything else is evaluated here. Reused rows say
where they come from (column ``reused_from``; ``sr_file`` relative to this run's dataset folder)
and carry the scores as that ``per_image.csv`` holds them (8 significant digits).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bsrgan.evaluation import tables
from bsrgan.evaluation.datasets import EvalDataset
from bsrgan.evaluation.methods import parse_method

__all__ = [
    "DATASET_TITLES",
    "PUBLISHED_LABELS",
    "STAND_INS",
    "Comparison",
    "DatasetRun",
    "compare_methods",
    "dataset_title",
    "method_label",
    "ours_vs_published",
]

#: what the numbers of each dataset are on, in words (tables, summaries, README)
DATASET_TITLES: dict[str, str] = {
    "realsrset": "RealSRSet: the authors' 20 real LR images",
    "dped-readme": "DPED, the authors' images: the 3 LR images of their README (512x256)",
    "dped-iphone": "DPED, our crops: crops of the 29 iPhone 3GS test photos (our protocol)",
}
#: published key -> label of those outputs in our tables
PUBLISHED_LABELS: dict[str, str] = {"bsrgan": "BSRGAN_published", "esrgan": "ESRGAN_published",
                                    "realsr_jpeg": "RealSR_JPEG_published"}
#: registry weights that stand in for official weights -> the official name they stand in for
STAND_INS: dict[str, str] = {"RealSR_JPEG_x4_fp16": "RealSR_JPEG"}
_OFFICIAL_OF_PUBLISHED = {"bsrgan": "BSRGAN", "esrgan": "ESRGAN", "realsr_jpeg": "RealSR_JPEG"}


def dataset_title(name: str) -> str:
    """``DATASET_TITLES[name]``, or the name itself for a folder dataset."""
    return DATASET_TITLES.get(name, f"{name}: a folder of LR images")


def method_label(spec: str) -> str:
    """The name a SPEC gets in our tables: ``published:bsrgan`` -> ``BSRGAN_published``,
    ``model:RealSR_JPEG_x4_fp16`` -> ``RealSR_JPEG_standin``, ``model:BSRGAN`` -> ``BSRGAN``."""
    method = parse_method(spec)
    if method.kind == "published":
        return PUBLISHED_LABELS.get(method.target, f"{method.target}_published")
    if method.kind == "model" and method.target in STAND_INS:
        return f"{STAND_INS[method.target]}_standin"
    return method.name


def _base_protocol(text) -> str:
    """A dataset protocol without the "; subset of N image(s)" that subsets append."""
    return str(text).split("; subset of")[0]


# --------------------------------------------------------------------------------------- runs

@dataclass
class DatasetRun:
    """All rows of one dataset: evaluated here and reused, with tables and what the figure needs.

    Attributes:
        dataset: the inputs (name, images, crop protocol).
        per_image: one row per method x image (``reused_from`` names the earlier run, or "").
        summary: mean / std / n per method (and a ``subset == "common"`` block when methods
            cover different images).
        markdown: the Markdown table with its notes.
        inputs: stem -> LR file; outputs: method -> stem -> SR file.
        metric_names, infos, unavailable: the metric plan (names, metadata, n/a reasons).
        paths: files written for this dataset (per_image, summary, table).
    """

    dataset: EvalDataset
    per_image: pd.DataFrame
    summary: pd.DataFrame
    markdown: str
    inputs: dict[str, Path]
    outputs: dict[str, dict[str, Path]]
    metric_names: tuple[str, ...]
    infos: dict
    unavailable: dict[str, str]
    paths: dict[str, Path] = field(default_factory=dict)

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(self.per_image["method"]))

    def figure(self, path: str | os.PathLike[str], *, images: list[str] | None = None,
               methods: list[str] | None = None, scale: float = 1.0, **options) -> Path:
        """The comparison figure of this dataset (see :mod:`bsrgan.evaluation.figure`)."""
        from bsrgan.evaluation.figure import comparison_figure

        return comparison_figure(Path(path), self.inputs, self.per_image, self.outputs,
                                 methods or self.methods, self.metric_names, images=images,
                                 scale=scale, **options)


@dataclass
class Comparison:
    """The runs of :func:`compare_methods`, one per dataset."""

    runs: dict[str, DatasetRun]
    protocol: str

    @property
    def per_image(self) -> pd.DataFrame:
        frames = [r.per_image for r in self.runs.values()]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    @property
    def reused(self) -> int:
        """How many rows were taken over from an earlier run."""
        rows = self.per_image
        return int((rows.get("reused_from", pd.Series(dtype=str)).fillna("") != "").sum())

    def scores(self) -> pd.DataFrame:
        """One row per dataset x method: what the inputs are, n and the mean of each metric."""
        rows = []
        for name, run in self.runs.items():
            all_rows = run.summary[run.summary["subset"] == "all"]
            for r in all_rows.itertuples(index=False):
                row = {"dataset": name, "inputs": dataset_title(name), "method": r.method,
                       "n": int(r.n)}
                for metric in run.metric_names:
                    row[metric] = getattr(r, f"{metric}_mean")
                rows.append(row)
        return pd.DataFrame(rows)

    def markdown(self) -> str:
        """Every dataset's table, each headed by what its inputs are."""
        return "\n".join(run.markdown for run in self.runs.values())


def compare_methods(datasets: dict[str, EvalDataset], methods: dict[str, dict[str, str]],
                    metrics, out_dir: str | os.PathLike[str], *, protocol: str = "paper",
                    reuse: str | os.PathLike[str] | None = None, progress: bool = False,
                    **evaluate_options) -> Comparison:
    """Evaluate ``methods[name]`` (``{label: spec}``) on each dataset, reusing earlier rows.

    Args:
        datasets: name -> inputs (e.g. from :func:`bsrgan.evaluation.load_dataset`).
        methods: name -> ``{label: spec}`` evaluated on that dataset.
        metrics: ``"niqe,nrqm,pi"`` or a list.
        out_dir: one folder per dataset: ``per_image.csv``, ``summary.csv``, ``table.md`` and
            the evaluation(s) run here (the whole folder when nothing was reused, else
            ``evaluated/part<k>/``, each with its ``provenance.json``; reused rows are described
            by the earlier run's ``provenance.json``, named in ``reused_from``).
        protocol: metric protocol (``paper`` reproduces the authors' README figure).
        reuse: an earlier run's folder (``<dataset>/per_image.csv``), or None / "".
        evaluate_options: passed to :func:`bsrgan.evaluation.evaluate` (workers, tile, device...).
    """
    from bsrgan.evaluation.scoring import plan_metrics
    from bsrgan.metrics.protocols import canonical_protocol

    protocol = canonical_protocol(protocol)
    plan = plan_metrics(metrics, protocol=protocol)
    out = Path(out_dir)
    runs = {}
    for name, ds in datasets.items():
        earlier = _earlier_rows(Path(reuse), name) if reuse not in (None, "") else None
        runs[name] = _run_dataset(ds, methods.get(name, {}), metrics, plan, out / name, protocol,
                                  earlier, progress, evaluate_options)
    return Comparison(runs, protocol)


def _earlier_rows(folder: Path, dataset: str) -> pd.DataFrame | None:
    """``folder/<dataset>/per_image.csv`` with each SR file resolved (column ``sr_path``)."""
    path = folder / dataset / "per_image.csv"
    if not path.is_file():
        return None
    rows = pd.read_csv(path, dtype={"image": str, "method": str, "spec": str, "error": str},
                       keep_default_na=False, na_values=[""])
    rows["sr_path"] = [_resolve_sr(folder / dataset, r) for r in rows.itertuples(index=False)]
    rows["reused_from"] = folder.name
    return rows


def _resolve_sr(root: Path, row) -> Path | None:
    """The SR file of an earlier row: in its results folder, or the published asset's file."""
    name = getattr(row, "sr_file", None)
    if not isinstance(name, str) or not name:
        return None
    if row.source == "published":  # fetched again, file by file, as evaluation does
        from bsrgan.evaluation.methods import published_outputs

        try:
            match = published_outputs(parse_method(row.spec).target, [row.image],
                                      dataset=row.dataset)[row.image]
        except ValueError:
            return None
        candidate = match.path
        if candidate is None or candidate.name != name:
            return None
    else:
        candidate = root / name
    return candidate if candidate.is_file() else None


def _reusable(earlier: pd.DataFrame | None, ds: EvalDataset, spec: str, protocol: str,
              metrics: list[str]) -> dict[str, pd.Series]:
    """stem -> earlier row of (spec, stem) with this metric protocol and dataset protocol and a
    finite score for every metric (candidates: :func:`_same_output` checks the SR image)."""
    if earlier is None or earlier.empty:
        return {}
    mine = earlier[(earlier["spec"] == parse_method(spec).portable_spec)
                   & earlier["status"].isin(tables.SCORED)
                   & (earlier["protocol"].astype(str).str.split(" \\(").str[0] == protocol)
                   & (earlier["dataset_protocol"].map(_base_protocol) == _base_protocol(ds.protocol))]
    found = {}
    for _, row in mine.iterrows():
        if row["image"] in ds.stems and all(m in row and tables.is_finite(row[m]) for m in metrics):
            found[row["image"]] = row
    return found


def _same_output(rows: dict[str, pd.Series], spec: str, inputs: dict[str, Path],
                 sizes: dict[str, tuple[int, int]], options: dict) -> dict[str, pd.Series]:
    """The candidate rows whose SR image is the one this run would score.

    Published outputs are pinned by the registry's hashes: always. A generated image (bicubic,
    ``model:``) only when the cache key filed beside it in the earlier run equals the key this
    run computes (input bytes, weights, precision, code version, device, tile): the same SPEC
    may name other weights under the same file name, or older code. ``dir:`` outputs never:
    nothing records what that folder held.
    """
    method = parse_method(spec)
    if method.kind == "published" or not rows:
        return rows
    if method.kind == "dir":
        return {}
    from bsrgan.assets.verify import sha256_file_cached
    from bsrgan.evaluation.cache import OutputCache
    from bsrgan.evaluation.generate import GENERATOR_OPTIONS, make_generator, output_key

    try:
        generator = make_generator(method, **{k: v for k, v in options.items()
                                              if k in GENERATOR_OPTIONS})
    except Exception:  # noqa: BLE001 - cannot run here: evaluation reports why; nothing reused
        return {}
    kept = {}
    for stem, row in rows.items():
        path = row["sr_path"]
        if path is None or stem not in inputs:
            continue
        key, _ = output_key(generator, sha256_file_cached(inputs[stem]), *sizes[stem])
        if OutputCache(path.parent).is_fresh(path.stem, key):
            kept[stem] = row
    return kept


def _run_dataset(ds, methods, metrics, plan, out, protocol, earlier, progress, options):
    from bsrgan.evaluation import evaluate
    from bsrgan.evaluation.runner import prepare_inputs

    stems = ds.stems
    out.mkdir(parents=True, exist_ok=True)
    inputs, sizes, errors = prepare_inputs(ds, out / "lr")
    inputs = {s: p for s, p in inputs.items() if s not in errors}
    reused = {label: _same_output(_reusable(earlier, ds, spec, protocol, plan.available), spec,
                                  inputs, sizes, options)
              for label, spec in methods.items()}
    missing: dict[frozenset, dict[str, str]] = {}
    for label, spec in methods.items():
        todo = frozenset(s for s in stems if s not in reused[label])
        if todo:
            missing.setdefault(todo, {})[label] = spec
    nothing_reused = all(not r for r in reused.values())
    parts = []
    for k, (todo, group) in enumerate(missing.items()):
        part_dir = out if nothing_reused else out / "evaluated" / f"part{k}"
        subset = ds if len(todo) == len(stems) else ds.subset(sorted(todo, key=stems.index))
        parts.append((part_dir, evaluate(subset, group, metrics, part_dir, protocol=protocol,
                                         progress=progress, figure=False, **options)))

    rows, outputs = [], {label: {} for label in methods}
    for part_dir, result in parts:
        frame = result.per_image.copy()
        if not nothing_reused:  # SR file names relative to this dataset's folder
            prefix = part_dir.relative_to(out).as_posix()
            local = frame["source"].isin(["generated", "cached"]) & frame["sr_file"].notna()
            frame.loc[local, "sr_file"] = prefix + "/" + frame.loc[local, "sr_file"]
        frame["reused_from"] = ""
        rows.append(frame)
        for label, files in result.outputs.items():
            outputs[label].update(files)
    for label, found in reused.items():
        for stem, row in found.items():
            row = row.copy()
            row["method"] = label
            if row["sr_path"] is not None:
                outputs[label][stem] = row["sr_path"]
                if row["source"] != "published":  # the earlier run's file, from this folder
                    row["sr_file"] = Path(os.path.relpath(row["sr_path"], out)).as_posix()
            rows.append(row.drop(labels=["sr_path"]).to_frame().T)
    per_image = _ordered(pd.concat(rows, ignore_index=True), list(methods), stems,
                         plan.names) if rows else pd.DataFrame()

    names = list(methods)
    summary = tables.summarise(per_image, names, plan.names) if names else pd.DataFrame()
    common = None
    if names and (summary["n"] < len(stems)).any():
        common = tables.summarise(per_image, names, plan.names, subset="common",
                                  images=tables.common_images(per_image, names))
    from bsrgan.metrics.protocols import get_protocol

    markdown = tables.markdown_report(
        per_image, summary, common, dataset=dataset_title(ds.name),
        protocol=f"{protocol} ({get_protocol(protocol).description})",
        dataset_protocol=ds.protocol, metric_names=plan.names, infos=plan.infos,
        unavailable=plan.unavailable) if names else f"### {ds.name}: no method to evaluate\n"
    n_reused = sum(len(f) for f in reused.values())
    if n_reused:
        markdown += (f"- {n_reused} of {len(per_image)} rows reused from the earlier run "
                     f"`{earlier['reused_from'].iloc[0]}` (same SPEC, inputs and protocol).\n")
    paths = {}
    if names:
        paths = {"per_image": tables.write_csv(out / "per_image.csv", per_image),
                 "summary": tables.write_csv(out / "summary.csv", summary if common is None
                                             else pd.concat([summary, common]))}
        from bsrgan.utils.atomic import atomic_write_text

        paths["table"] = atomic_write_text(out / "table.md", markdown)
    return DatasetRun(ds, summary=summary, per_image=per_image, markdown=markdown, inputs=inputs,
                      outputs=outputs, metric_names=plan.names, infos=plan.infos,
                      unavailable=dict(plan.unavailable), paths=paths)


def _ordered(frame: pd.DataFrame, methods: list[str], stems: list[str],
             metric_names: tuple[str, ...]) -> pd.DataFrame:
    """Rows in method order, then image order; metric columns as floats."""
    frame = frame.copy()
    for name in metric_names:
        frame[name] = pd.to_numeric(frame.get(name, np.nan), errors="coerce")
    for column in ("sr_height", "sr_width", "scale"):
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame["_m"] = frame["method"].map(methods.index)
    frame["_s"] = frame["image"].map(stems.index)
    frame = frame.sort_values(["_m", "_s"], kind="stable").drop(columns=["_m", "_s"])
    frame["error"] = frame["error"].fillna("") if "error" in frame else ""
    frame["note"] = frame["note"].fillna("") if "note" in frame else ""
    return frame.reset_index(drop=True)


# --------------------------------------------------------------- our inference vs published

def ours_vs_published(comparison: Comparison) -> pd.DataFrame:
    """Our inference beside the authors' published outputs of the same method, per image.

    Pairs every published method (``BSRGAN_published``...) with the official weights of the same
    method (``BSRGAN``) and their stand-ins (``RealSR_JPEG_standin``) evaluated on the same
    dataset. Returns ``dataset, image, ours, published, psnr_rgb_db, max_abs_diff_8bit`` and,
    per metric, ``<metric>_ours - <metric>_published`` as ``d_<metric>``.
    """
    from bsrgan.io import imread
    from bsrgan.metrics import psnr

    rows = []
    for name, run in comparison.runs.items():
        table = run.per_image.set_index(["method", "image"]) if len(run.per_image) else None
        for key, published in PUBLISHED_LABELS.items():
            official = _OFFICIAL_OF_PUBLISHED[key]
            ours = [official] + [f"{o}_standin" for o in STAND_INS.values() if o == official]
            for label in ours:
                for stem in run.dataset.stems:
                    a = run.outputs.get(label, {}).get(stem)
                    b = run.outputs.get(published, {}).get(stem)
                    if a is None or b is None:
                        continue
                    x, y = imread(a), imread(b)
                    row = {"dataset": name, "image": stem, "ours": label, "published": published}
                    if x.shape != y.shape:
                        row["note"] = f"shape {x.shape} vs {y.shape}"
                    else:
                        row["psnr_rgb_db"] = psnr(x, y, y_channel=False)
                        row["max_abs_diff_8bit"] = float(np.abs(x - y).max() * 255)
                    for metric in run.metric_names:
                        row[f"d_{metric}"] = (float(table.loc[(label, stem), metric])
                                              - float(table.loc[(published, stem), metric]))
                    rows.append(row)
    return pd.DataFrame(rows)


def colour_shifts(comparison: Comparison, reference: str = "bicubic") -> pd.DataFrame:
    """How far each method's output drifts from ``reference``'s mean colour, per image.

    A real LR photo has no ground truth, but bicubic upsampling keeps its colours, so a method
    whose mean colour moves away from bicubic's has changed the photo's colours (a cast, a
    darker image), whatever its NIQE. Returns ``dataset, image, method, colour_shift``: the
    largest per-channel difference of the mean colours in 8-bit levels
    (:func:`bsrgan.metrics.colour_shift`), for every method with an output beside the
    reference's; empty when no dataset has ``reference`` outputs.
    """
    from bsrgan.io import imread
    from bsrgan.metrics import colour_shift

    rows = []
    for name, run in comparison.runs.items():
        base = run.outputs.get(reference, {})
        for stem, ref_path in base.items():
            ref = imread(ref_path)
            for method, files in run.outputs.items():
                if method == reference or stem not in files:
                    continue
                rows.append({"dataset": name, "image": stem, "method": method,
                             "colour_shift": colour_shift(imread(files[stem]), ref)})
    return pd.DataFrame(rows, columns=["dataset", "image", "method", "colour_shift"])
