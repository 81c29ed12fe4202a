"""``evaluate(dataset, methods, metrics, out_dir)``: SR outputs -> scores -> tables, figure, provenance.

Layout of ``out_dir``::

    lr/<stem>.png              LR inputs cut by a crop protocol (DPED); whole-image inputs are not copied
    sr/<method>/<stem>.png     generated SR images (bicubic, model:), reused while their key matches
    per_image.csv              one row per method x image (status ok / partial / missing / failed)
    summary.csv                mean / std / n per method and metric (subset "all", and "common")
    table.md                   the Markdown table (arrows, best in bold, n/a) with its notes
    figure.png                 LR region + each method's region with its per-image scores
    provenance.json            input / weights / output / metric model file hashes, protocol,
                               options, tiles, code and package versions

SR generation runs one image at a time (torch already uses every core inside one image); each
output is handed to a :class:`ScorePool` as soon as it exists, which scores it on ``workers``
processes while the next images are generated. Problems stay local: an unreadable input or
output, a failed generation (``failed``) or a metric that fails on an image (``partial``: the
other metrics are kept) marks that row, and the run goes on; :attr:`EvaluationResult.ok` is
False when any row failed or is partial.
"""
from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bsrgan.assets.verify import sha256_file, sha256_file_cached
from bsrgan.evaluation import tables
from bsrgan.evaluation.cache import OutputCache
from bsrgan.evaluation.datasets import DPED_DEFAULT_CROP, EvalDataset, load_dataset
from bsrgan.evaluation.methods import (
    MethodSpec,
    match_outputs,
    parse_methods,
    published_outputs,
)
from bsrgan.evaluation.provenance import portable_path, provenance_record, write_provenance
from bsrgan.evaluation.scoring import (
    MetricPlan,
    ScorePool,
    ScoreResult,
    ScoreTask,
    plan_metrics,
)
from bsrgan.utils.cpus import usable_cpus

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """Where one method's SR image for one input comes from, or why there is none."""

    status: str  # "ok" | "missing" | "failed"
    source: str = ""  # "generated" | "cached" | "published" | "dir"
    path: Path | None = None
    error: str = ""
    run: dict[str, Any] = field(default_factory=dict)  # generated: device, tile_used


@dataclass
class EvaluationResult:
    """What :func:`evaluate` produced.

    Attributes:
        per_image: one row per method x image (status, source, SR size, scale, scores, error).
        summary: one row per method (n, n_missing, n_failed, ``<metric>_mean/_std/_n``).
        common_summary: the same over the images every method has, or None when all have all.
        markdown: the Markdown table with its notes (also in ``paths["table"]``).
        paths: ``per_image``, ``summary``, ``table``, ``figure`` (absent if not drawn),
            ``provenance``, ``sr`` (folder of generated images), ``lr`` (crops, if any).
        unavailable: metric -> reason it shows as n/a.
        inputs: stem -> LR file scored (the crop for cropped datasets), readable inputs only.
        outputs: method -> stem -> SR file (generated, cached, published or read from a folder).
    """

    dataset: EvalDataset
    methods: list[MethodSpec]
    metrics: MetricPlan
    per_image: pd.DataFrame
    summary: pd.DataFrame
    common_summary: pd.DataFrame | None
    markdown: str
    paths: dict[str, Path] = field(default_factory=dict)
    inputs: dict[str, Path] = field(default_factory=dict)
    outputs: dict[str, dict[str, Path]] = field(default_factory=dict)

    def figure(self, path: str | os.PathLike[str], *, images: list[str] | None = None,
               methods: list[str] | None = None, scale: float = 1.0, **options) -> Path:
        """Draw the comparison figure (:func:`bsrgan.evaluation.figure.comparison_figure`) of
        these results to ``path``: e.g. ``scale=0.5`` for a copy small enough to commit."""
        from bsrgan.evaluation.figure import comparison_figure

        names = methods or [m.name for m in self.methods]
        return comparison_figure(Path(path), self.inputs, self.per_image, self.outputs, names,
                                 self.metrics.names, images=images, scale=scale, **options)

    @property
    def unavailable(self) -> dict[str, str]:
        return dict(self.metrics.unavailable)

    @property
    def failures(self) -> pd.DataFrame:
        """Rows whose SR image could not be had or read (``failed``) or on which a metric failed
        (``partial``); ``missing`` outputs (a method without an output for an image) are not."""
        return self.per_image[self.per_image["status"].isin(tables.FAILURES)]

    @property
    def ok(self) -> bool:
        return self.failures.empty


def _progress(iterable, total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="img", disable=not enabled, leave=False)


def prepare_inputs(dataset: EvalDataset, lr_dir: Path) -> tuple[dict[str, Path], dict[str, tuple[int, int]], dict[str, str]]:
    """Check every input (each source file decoded once); write cropped ones to ``lr_dir``.

    Returns (stem -> LR file, stem -> (h, w), stem -> error for unusable inputs).
    """
    from bsrgan.io import imread, imwrite

    files: dict[str, Path] = {}
    sizes: dict[str, tuple[int, int]] = {}
    errors: dict[str, str] = {}
    decoded: tuple[Path, np.ndarray] | None = None  # crops of one photo are consecutive
    for image in dataset.images:
        try:
            if decoded is None or decoded[0] != image.source:
                decoded = None
                decoded = (image.source, imread(image.source))
            lr = image.cut(decoded[1])
            if image.crop is not None:
                files[image.stem] = imwrite(lr_dir / f"{image.stem}.png", lr)
            else:
                files[image.stem] = image.source
            sizes[image.stem] = lr.shape[:2]
        except Exception as err:  # noqa: BLE001 - a bad input is reported, not fatal
            files.setdefault(image.stem, image.source)
            errors[image.stem] = f"input: {err}"
    return files, sizes, errors


def _existing_outputs(method: MethodSpec, stems: list[str], dataset: str) -> dict[str, Outcome]:
    """Outcomes of a ``published:`` (the authors' outputs on ``dataset``, file by file) /
    ``dir:`` method (matched by stem)."""
    if method.kind == "published":
        found, kind = published_outputs(method.target, stems, dataset=dataset), "published"
    else:
        found, kind = match_outputs(Path(method.target).expanduser(), stems), "dir"
    outcomes = {}
    for stem, match in found.items():
        if match.path is not None:
            outcomes[stem] = Outcome("ok", kind, match.path)
        elif match.problem.startswith("ambiguous"):
            outcomes[stem] = Outcome("failed", kind, None, match.problem)
        else:
            outcomes[stem] = Outcome("missing", kind, None, match.problem)
    return outcomes


def _generated_outputs(method: MethodSpec, stems: list[str], lr_files: dict[str, Path],
                       lr_sizes: dict[str, tuple[int, int]], input_sha: dict[str, str],
                       input_errors: dict[str, str], sr_dir: Path, options: dict[str, Any],
                       progress: bool, on_ready) -> tuple[dict[str, Outcome], dict]:
    """Generate (or reuse) the SR images of a ``bicubic`` / ``model:`` method.

    An image is reused when its cache key matches: input sha256, the generator's fingerprint
    (settings, weights, code version) and the device and tile it would run with now.
    """
    from bsrgan.evaluation.generate import make_generator, output_key
    from bsrgan.io import imread, imwrite

    generator = make_generator(method, **options)
    cache = OutputCache(sr_dir / method.name)
    outcomes: dict[str, Outcome] = {}
    started, generated = time.perf_counter(), 0
    for stem in _progress(stems, len(stems), f"SR {method.name}", progress):
        if stem in input_errors:
            outcomes[stem] = Outcome("failed", "", None, input_errors[stem])
            continue
        target = cache.image_path(stem)
        try:
            key, run = output_key(generator, input_sha[stem], *lr_sizes[stem])
            if cache.is_fresh(stem, key):
                outcomes[stem] = Outcome("ok", "cached", target, run=run)
            else:
                cache.invalidate(stem)
                imwrite(target, generator(imread(lr_files[stem]), run))
                cache.record(stem, key)
                generated += 1
                outcomes[stem] = Outcome("ok", "generated", target, run=run)
        except Exception as err:  # noqa: BLE001 - one image failing does not stop the method
            log.warning("%s: %s failed: %s", method.name, stem, err)
            outcomes[stem] = Outcome("failed", "generated", None, f"generation: {err}")
            continue
        on_ready(stem, target)
    info = dict(generator.fingerprint)
    if method.kind == "model":
        info["weights_file"] = generator.weights.name
    runs = [o.run for o in outcomes.values() if o.run]
    if runs:
        info["device_used"] = sorted({r["device"] for r in runs})
        if "tile_used" in runs[0]:
            info["tile_used"] = {s: o.run["tile_used"] for s, o in outcomes.items() if o.run}
    info["generated"] = generated
    info["seconds"] = round(time.perf_counter() - started, 2)
    return outcomes, info


def _method_outcomes(method, stems, lr_files, lr_sizes, input_sha, input_errors, sr_dir, options,
                     progress, on_ready, dataset):
    """Outcomes for every stem; a method that cannot start at all fails on every row.

    ``on_ready(stem, path)`` is called for each output as soon as it exists (to be scored).
    """
    from bsrgan.evaluation.availability import error_reason

    try:
        if method.generates:
            return _generated_outputs(method, stems, lr_files, lr_sizes, input_sha, input_errors,
                                      sr_dir, options, progress, on_ready)
        outcomes = _existing_outputs(method, stems, dataset)
    except Exception as err:  # noqa: BLE001 - e.g. weights or published outputs not available
        reason = error_reason(err)
        log.warning("method %s (%s) cannot run: %s", method.name, method.spec, reason)
        return ({s: Outcome("failed", "", None, f"method unavailable: {reason}") for s in stems},
                {"error": reason})
    for stem, error in input_errors.items():  # no usable LR input: the row cannot be judged
        if stem in outcomes:
            outcomes[stem] = Outcome("failed", outcomes[stem].source, None, error)
    for stem, outcome in outcomes.items():
        if outcome.status == "ok":
            on_ready(stem, outcome.path)
    return outcomes, {}


def evaluate(dataset: str | os.PathLike[str] | EvalDataset, methods, metrics="niqe,nrqm,pi",
             out_dir: str | os.PathLike[str] = "results/evaluation", *, protocol: str = "pirm",
             scale: int = 4, workers: int | None = None, tile: int | None = None,
             tile_overlap: int = 32, precision: str = "fp32", device: str = "auto",
             dped_crop: tuple[int, int] = DPED_DEFAULT_CROP, dped_crops: int = 1,
             images: list[str] | None = None, reference: str | os.PathLike[str] | None = None,
             figure: bool = True, figure_images: list[str] | None = None, progress: bool = True,
             memory_budget: int | None = None,
             command: list[str] | None = None) -> EvaluationResult:
    """Evaluate SR methods on a dataset and write tables, figure and provenance to ``out_dir``.

    Args:
        dataset: ``"realsrset"``, ``"dped-iphone"``, ``"dped-readme"``, a folder of LR images,
            or an EvalDataset.
        methods: ``["bicubic=bicubic", "bsrgan=published:bsrgan", "mine=model:w.pth", ...]``
            (see :mod:`bsrgan.evaluation.methods`), MethodSpec objects or a ``{name: spec}`` dict.
        metrics: ``"niqe,nrqm,pi"`` or a list; unavailable ones show as n/a.
        protocol: luma protocol of NIQE/NRQM/PI (:mod:`bsrgan.metrics.protocols`): ``"pirm"``
            (Y, shave 4), ``"paper"`` (Y, no shave: the authors' README figure) or
            ``"live-rgb2gray"``.
        scale: upscaling factor of ``bicubic`` (models use their own).
        workers: scoring processes (default: every usable core; at most one per SR image).
        tile, tile_overlap, precision, device, memory_budget: inference of ``model:`` methods;
            ``tile=None`` plans each image's tile from ``memory_budget`` (bytes; default 2 GiB
            on the CPU): the whole image when it fits (:func:`bsrgan.inference.plan_tile`).
        dped_crop, dped_crops: (width, height) and number of LR crops per DPED photo.
        images: evaluate only these stems.
        reference: folder of HR images matched by stem, for full-reference metrics (psnr, ssim...).
        figure, figure_images: draw the comparison figure (of these stems; default the first 4).
        command: the command line, recorded in the provenance.
    """
    started = time.perf_counter()
    ds = dataset if isinstance(dataset, EvalDataset) else load_dataset(
        dataset, dped_crop=tuple(dped_crop), dped_crops=int(dped_crops))
    if images:
        ds = ds.subset(images)
    specs = parse_methods(methods)
    from bsrgan.metrics.protocols import canonical_protocol, get_protocol

    protocol = canonical_protocol(protocol)  # an old alias warns once, here
    plan = plan_metrics(metrics, protocol=protocol, scale=scale, has_reference=reference is not None)

    protocol_text = f"{protocol} ({get_protocol(protocol).description})"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stems = ds.stems

    lr_files, lr_sizes, input_errors = prepare_inputs(ds, out / "lr")
    input_sha = {s: sha256_file_cached(p) for s, p in lr_files.items() if s not in input_errors}
    refs: dict[str, Path | None] = {}
    if reference is not None:
        refs = {s: m.path for s, m in match_outputs(Path(reference), stems).items()}

    options = {"scale": scale, "tile": tile, "tile_overlap": tile_overlap, "precision": precision,
               "device": device, "memory_budget": memory_budget}
    outcomes: dict[str, dict[str, Outcome]] = {}
    method_info: dict[str, dict] = {}
    n_workers = usable_cpus() if workers is None else max(1, int(workers))
    # no more processes than images to score, so each gets its share of the cores' threads
    n_workers = min(n_workers, max(1, len(stems) * len(specs)))
    with ScorePool(plan.options, n_workers, progress=progress) as pool:
        for method in specs:
            def submit(stem: str, path: Path, name: str = method.name) -> None:
                pool.submit(ScoreTask((name, stem), path, refs.get(stem)))

            outcomes[method.name], method_info[method.name] = _method_outcomes(
                method, stems, lr_files, lr_sizes, input_sha, input_errors, out / "sr", options,
                progress, submit, ds.name)
        scores = pool.results()  # also without any available metric: reads each output

    roots = _known_roots(ds, specs, out, reference)
    rows = []
    for method in specs:
        for stem in stems:
            o = outcomes[method.name][stem]
            row: dict[str, Any] = {"dataset": ds.name, "image": stem, "method": method.name,
                                   "spec": method.portable_spec, "status": o.status,
                                   "source": o.source, "sr_file": portable_path(o.path, out)}
            row.update(_scored_fields(o, scores.get((method.name, stem)), lr_sizes.get(stem)))
            row["error"] = _strip_roots(row["error"], roots)
            row["protocol"] = protocol_text
            row["dataset_protocol"] = ds.protocol
            rows.append(row)
    per_image = tables.per_image_frame(rows, plan.names)

    names = [m.name for m in specs]
    summary = tables.summarise(per_image, names, plan.names)
    common_summary = None
    if (summary["n"] < len(stems)).any():
        common = tables.common_images(per_image, names)
        common_summary = tables.summarise(per_image, names, plan.names, subset="common",
                                          images=common)
    markdown = tables.markdown_report(
        per_image, summary, common_summary, dataset=ds.name, protocol=protocol_text,
        dataset_protocol=ds.protocol, metric_names=plan.names, infos=plan.infos,
        unavailable=plan.unavailable)

    paths = {"per_image": out / "per_image.csv", "summary": out / "summary.csv",
             "table": out / "table.md", "provenance": out / "provenance.json", "sr": out / "sr"}
    if any(im.crop is not None for im in ds.images):
        paths["lr"] = out / "lr"
    tables.write_csv(paths["per_image"], per_image)
    full_summary = summary if common_summary is None else pd.concat([summary, common_summary])
    tables.write_csv(paths["summary"], full_summary)
    from bsrgan.utils.atomic import atomic_write_text

    atomic_write_text(paths["table"], markdown)

    figure_error = None
    sr_paths = {m: {s: o.path for s, o in outcomes[m].items() if o.path is not None}
                for m in names}
    usable = {s: p for s, p in lr_files.items() if s not in input_errors}
    if figure:
        try:
            paths["figure"] = _draw_figure(out / "figure.png", usable, per_image, sr_paths, names,
                                           plan.names, figure_images)
        except Exception as err:  # noqa: BLE001 - the tables are the result; the figure is extra
            figure_error = str(err)
            log.warning("comparison figure not drawn: %s", err)

    source_sha = _source_hashes(ds, input_sha)
    record = provenance_record(
        dataset={"name": ds.name, "source": ds.source, "protocol": ds.protocol,
                 "images": [{"stem": im.stem, "file": im.source.name,
                             "crop": None if im.crop is None else vars(im.crop),
                             "sha256": input_sha.get(im.stem),
                             "source_sha256": source_sha[im.stem]}
                            for im in ds.images],
                 "input_errors": input_errors,
                 "reference": None if reference is None else Path(reference).name},
        methods=[{"name": m.name, "spec": m.portable_spec, "kind": m.kind,
                  **method_info[m.name],
                  "outputs_sha256": _output_hashes(outcomes[m.name])} for m in specs],
        metrics={"requested": list(plan.names), "options": plan.options,
                 "model_files_sha256": plan.model_files,
                 "unavailable": {n: tables.short_reason(r) for n, r in plan.unavailable.items()},
                 "infos": {n: {"lower_better": i.lower_better, "needs_reference": i.needs_reference,
                               "range": list(i.range), "description": i.description}
                           for n, i in plan.infos.items()}},
        protocol={"metrics": protocol_text, "dataset": ds.protocol, "scale": scale,
                  "tile": tile, "tile_overlap": tile_overlap, "precision": precision,
                  "memory_budget": memory_budget, "workers": n_workers},
        outputs={k: portable_path(v, out) for k, v in paths.items()},
        counts={"images": len(stems), "figure_error": figure_error,
                "by_method": {m: {s: int((per_image[per_image["method"] == m]["status"] == s).sum())
                                  for s in tables.STATUSES} for m in names}},
        command=command, seconds=time.perf_counter() - started)
    write_provenance(paths["provenance"], record)
    return EvaluationResult(ds, specs, plan, per_image, summary, common_summary, markdown, paths,
                            usable, sr_paths)


def _scored_fields(outcome: Outcome, result: ScoreResult | None,
                   lr_size: tuple[int, int] | None) -> dict[str, Any]:
    """A row's status, SR size, scale, note, scores and error text from where its SR image came
    from (``outcome``) and how scoring went (``result``; None when nothing was scored)."""
    fields: dict[str, Any] = {"status": outcome.status, "sr_height": np.nan, "sr_width": np.nan,
                              "scale": np.nan, "note": ""}
    errors = [outcome.error] if outcome.error else []
    if result is not None and "image" in result.errors:  # the SR file itself is unreadable
        fields["status"] = "failed"
        errors.append(f"output: {result.errors['image']}")
    elif result is not None:
        if result.errors:  # a metric failed on this image: kept, marked, counted
            fields["status"] = "partial"
        errors += [f"{k}: {v}" for k, v in result.errors.items()]
        fields.update(result.values, sr_height=result.height, sr_width=result.width)
        lr_h, lr_w = lr_size or (0, 0)
        if lr_w:
            scale = fields["scale"] = result.width / lr_w
            if (result.height, result.width) != (lr_h * round(scale), lr_w * round(scale)):
                fields["note"] = (f"SR {result.width}x{result.height} is not an integer multiple "
                                  f"of LR {lr_w}x{lr_h}")
    fields["error"] = "; ".join(errors)
    return fields


def _draw_figure(path, lr_files, per_image, sr_paths, methods, metric_names, stems):
    from bsrgan.evaluation.figure import comparison_figure

    return comparison_figure(path, lr_files, per_image, sr_paths, methods, metric_names,
                             images=stems)


def _source_hashes(ds: EvalDataset, input_sha: dict[str, str]) -> dict[str, str | None]:
    """stem -> sha256 of its original file (differs from the input's when the input is a crop).

    A photo cut into several crops is hashed once.
    """
    by_file: dict[Path, str | None] = {}
    hashes: dict[str, str | None] = {}
    for image in ds.images:
        if image.crop is None:
            hashes[image.stem] = input_sha.get(image.stem)
            continue
        if image.source not in by_file:
            try:
                by_file[image.source] = sha256_file(image.source)
            except OSError:
                by_file[image.source] = None
        hashes[image.stem] = by_file[image.source]
    return hashes


def _known_roots(ds: EvalDataset, specs: list[MethodSpec], out: Path, reference) -> dict[str, str]:
    """Absolute folders that error messages may name -> short names for the results files
    (the asset cache and mirrors, which hold fetched datasets and published outputs, too)."""
    from bsrgan.assets import AssetSettings

    roots = {str(out.resolve()): ".", str(out): "."}
    try:
        settings = AssetSettings.from_env()
    except ValueError:  # a malformed variable: nothing was fetched under it
        settings = None
    if settings is not None:
        for folder, short in [(settings.home, "<cache>")] + [(m, "<mirror>") for m in settings.mirrors]:
            roots[str(folder)] = short
            roots[str(folder.resolve())] = short
    for image in ds.images:
        roots[str(image.source.parent)] = f"<{ds.source}>"
        roots[str(image.source.parent.resolve())] = f"<{ds.source}>"
    for m in specs:
        if m.kind in ("dir", "model"):
            target = Path(m.target).expanduser()
            folder = target if m.kind == "dir" else target.parent
            if str(folder) not in ("", "."):
                roots[str(folder.resolve())] = f"<{folder.name}>"
                roots[str(folder)] = f"<{folder.name}>"
    if reference is not None:
        roots[str(Path(reference).resolve())] = f"<{Path(reference).name}>"
    return roots


def _strip_roots(text: str, roots: dict[str, str]) -> str:
    """Replace machine folders in ``text`` by short names (longest first), whole folder names
    only: ``<cache>/realsrset`` does not shorten ``<cache>/realsrset-published/...``."""
    for root in sorted(roots, key=len, reverse=True):
        if len(root) > 1:
            text = re.sub(re.escape(root) + r"(?![\w.-])", lambda _m, r=root: roots[r], text)
    return text


def _output_hashes(outcomes: dict[str, Outcome]) -> dict[str, str]:
    """sha256 of each SR output scored (generated, cached, published or read from a folder)."""
    return {s: sha256_file(o.path) for s, o in outcomes.items() if o.path is not None}
