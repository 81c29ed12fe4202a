"""``bsrgan prepare``: cut HR photos into sub-images once, so that training decodes small files.

Training crops 320 px (``data.hr_crop``) at random from each HR image. Decoding a whole 2K PNG
for each crop costs more than the degradation itself; cutting every photo once into overlapping
sub-images (BasicSR's ``extract_subimages``: 480 px, step 240) makes each sample decode a
480 px PNG instead. A training epoch then visits every region of every photo about equally
often instead of every photo equally often, as in BasicSR's DF2K_sub.

Tiles start every ``step`` pixels along each side; an edge tile flush with the right/bottom
border is added when the grid does not end there, so every pixel is covered. An image smaller
than the crop on a side gives no tile (``keep_small=True`` stores it whole instead). Tiles keep
the source's sample type (8- or 16-bit) and are written as lossless PNG.

The output folder holds the sub-images (``<source folder name>/<relative path>_sNNN.png``),
``manifest.tsv`` (see :mod:`bsrgan.data.manifest`), ``sources.tsv`` (one row per source image:
size, modification time, tiles, status) and ``prepare.json`` (the settings). A source whose
size and modification time match ``sources.tsv`` and whose sub-images exist is not touched
again, so a second run over the same inputs does no work, and an interrupted run continues
where it stopped (both tables are checkpointed every few seconds and when the run stops,
atomically; an interrupted process pool finishes only the images already handed to its workers).
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import glob
import hashlib
import io
import json
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from bsrgan.data.discovery import HRImage, discover_hr_images
from bsrgan.data.manifest import MANIFEST_NAME, ManifestRow, read_manifest, write_manifest
from bsrgan.io import IMAGE_EXTENSIONS
from bsrgan.utils.atomic import atomic_write_bytes, atomic_write_text
from bsrgan.utils.cpus import usable_cpus

DEFAULT_CROP = 480
DEFAULT_STEP = 240
SETTINGS_NAME = "prepare.json"
SOURCES_NAME = "sources.tsv"
SOURCES_COLUMNS = ("source", "bytes", "mtime_ns", "height", "width", "tiles", "status", "message")
CHECKPOINT_EVERY_S = 5.0


@dataclass(frozen=True)
class PrepareSettings:
    """How sub-images are cut. A folder keeps the settings it was first prepared with."""

    crop: int = DEFAULT_CROP
    step: int = DEFAULT_STEP
    keep_small: bool = False  # store images smaller than the crop whole instead of skipping them
    png_compression: int = 3  # zlib level 0-9 (BasicSR uses 3); decoding speed hardly depends on it

    def check(self) -> None:
        if self.crop < 1 or self.step < 1:
            raise ValueError(f"crop and step must be >= 1, got crop={self.crop}, step={self.step}")
        if self.step > self.crop:
            raise ValueError(f"step {self.step} > crop {self.crop} would leave gaps between tiles")
        if not 0 <= self.png_compression <= 9:
            raise ValueError(f"png_compression must be in 0..9, got {self.png_compression}")


@dataclass
class SourceState:
    """One row of ``sources.tsv``: what became of a source image."""

    source: str
    bytes: int
    mtime_ns: int
    height: int = 0
    width: int = 0
    tiles: int = 0
    status: str = "ok"  # ok | too_small | failed
    message: str = ""


@dataclass
class PrepareReport:
    """What :func:`prepare` found and did."""

    out: Path
    settings: PrepareSettings
    sources: int = 0  # source images found
    processed: int = 0  # source images cut (or retried) in this run
    up_to_date: int = 0  # source images already prepared by an earlier run
    written: int = 0  # sub-images written in this run
    subimages: int = 0  # sub-images in the manifest
    faces: int = 0  # of which faces
    too_small: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # list entries whose file does not exist
    empty: list[str] = field(default_factory=list)  # sources that hold no image
    dropped: int = 0  # manifest rows of sources no longer given (rows dropped, files kept)
    seconds: float = 0.0

    @property
    def did_work(self) -> bool:
        return self.processed > 0

    @property
    def manifest(self) -> Path:
        return self.out / MANIFEST_NAME

    def summary(self) -> str:
        """A few lines for the console."""
        s = self.settings
        if self.did_work:
            head = (f"prepared {self.processed} of {self.sources} source images -> "
                    f"{self.written} sub-images ({s.crop}x{s.crop}, step {s.step}) in "
                    f"{self.seconds:.1f} s")
            if self.up_to_date:
                head += f"; {self.up_to_date} were already prepared"
        else:
            head = (f"nothing to do: all {self.up_to_date} source images are already prepared "
                    f"(checked in {self.seconds:.1f} s)")
        lines = [head, (f"manifest: {self.manifest} ({self.subimages} sub-images, "
                        f"{self.faces} of them faces)")]
        if self.too_small:
            keep = "" if s.keep_small else " (--keep-small stores them whole)"
            lines.append(f"{len(self.too_small)} images smaller than {s.crop} px on a side gave "
                         f"no sub-image{keep}, e.g. {self.too_small[0]}")
        for path, reason in self.failed:
            lines.append(f"failed: {path}: {reason}")
        if self.missing:
            lines.append(f"{len(self.missing)} listed files do not exist, e.g. {self.missing[0]}")
        if self.empty:
            lines.append(f"{len(self.empty)} sources hold no image: {', '.join(self.empty)}")
        if self.dropped:
            lines.append(f"{self.dropped} manifest rows of sources not given this time were "
                         "dropped (their files were kept)")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Task:
    source: str
    out: str
    stem: str  # POSIX path relative to out, without the _sNNN.png ending
    face: bool
    settings: PrepareSettings


def tile_starts(length: int, crop: int, step: int) -> list[int]:
    """Tile offsets along one side: 0, step, 2*step, ..., plus ``length - crop`` if not on the
    grid; empty when ``length < crop``."""
    if length < crop:
        return []
    starts = list(range(0, length - crop + 1, step))
    if starts[-1] != length - crop:
        starts.append(length - crop)
    return starts


def tile_boxes(height: int, width: int, crop: int, step: int) -> list[tuple[int, int, int, int]]:
    """(top, left, crop, crop) of every tile of a ``height x width`` image, row by row."""
    return [(top, left, crop, crop) for top in tile_starts(height, crop, step)
            for left in tile_starts(width, crop, step)]


def prepare(sources: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str], *,
            settings: PrepareSettings | None = None, faces: Sequence[str | os.PathLike[str]] = (),
            workers: int | None = None, progress: bool = True,
            log: Callable[[str], None] | None = None) -> PrepareReport:
    """Cut every image of ``sources`` into sub-images under ``out``; see the module docstring.

    Args:
        sources: folders (recursive), file lists, manifests or image files.
        out: output folder (created); it must not be a source folder.
        settings: crop, step, small-image policy, PNG compression (default 480 / 240).
        faces: sources whose images are all faces (others follow the folder-name rule of
            :mod:`bsrgan.data.discovery`).
        workers: processes (default: the CPUs this process may use; 1 = in this process).
        progress: tqdm bar over the source images.
        log: receives one-line notes (e.g. resumed work); default: none.

    Returns:
        a :class:`PrepareReport`. One unreadable image never stops the run: it is reported in
        ``failed`` (and retried by the next run).

    Raises:
        ValueError: no source holds an image, the settings differ from those ``out`` was
            prepared with, or bad settings.
        FileNotFoundError: a source does not exist.
    """
    started = time.perf_counter()
    settings = settings or PrepareSettings()
    settings.check()
    out = Path(out).expanduser().resolve()
    _check_not_inside_sources(out, sources)
    report = PrepareReport(out=out, settings=settings)
    tasks, stats = _plan(sources, out, settings, faces, report)
    if not tasks:
        listed = (f"; {len(report.missing)} listed files do not exist, e.g. {report.missing[0]}"
                  if report.missing else "")
        raise ValueError(f"no image found in {', '.join(str(s) for s in sources)} (looked for "
                         f"{', '.join(sorted(IMAGE_EXTENSIONS))} files, in folders recursively)"
                         + listed)
    out.mkdir(parents=True, exist_ok=True)
    _check_settings(out, settings)
    report.sources = len(tasks)
    state = _read_sources(out / SOURCES_NAME)
    rows_by_source: dict[str, list[ManifestRow]] = {}
    manifest = out / MANIFEST_NAME
    if manifest.is_file():
        for row in read_manifest(manifest):
            rows_by_source.setdefault(row.source, []).append(row)
    todo = [t for t in tasks if not _up_to_date(t, stats[t.source], state, rows_by_source, out)]
    report.up_to_date = len(tasks) - len(todo)
    given = {t.source for t in tasks}
    report.dropped = sum(len(r) for s, r in rows_by_source.items() if s not in given)
    rows_by_source = {s: r for s, r in rows_by_source.items() if s in given}
    state = {s: st for s, st in state.items() if s in given}
    if todo and report.up_to_date and log is not None:
        log(f"resuming: {report.up_to_date} of {len(tasks)} source images are already prepared")

    def checkpoint() -> None:
        write_manifest(manifest, [r for rows in rows_by_source.values() for r in rows])
        _write_sources(out / SOURCES_NAME, list(state.values()))

    if todo or report.dropped or not manifest.is_file():
        last = time.monotonic()
        try:  # an interruption (Ctrl-C, an error) keeps what was finished for the next run
            with contextlib.closing(_run(todo, workers, progress)) as results:
                for st, rows in results:
                    state[st.source] = st
                    rows_by_source[st.source] = rows
                    report.processed += 1
                    report.written += len(rows)
                    if time.monotonic() - last > CHECKPOINT_EVERY_S:
                        checkpoint()
                        last = time.monotonic()
        finally:
            checkpoint()
    for st in state.values():
        if st.status == "too_small":
            report.too_small.append(st.source)
        elif st.status == "failed":
            report.failed.append((st.source, st.message))
    all_rows = [r for rows in rows_by_source.values() for r in rows]
    report.subimages = len(all_rows)
    report.faces = sum(r.face for r in all_rows)
    report.seconds = time.perf_counter() - started
    return report


# ----------------------------------------------------------------------------- planning


def _check_not_inside_sources(out: Path, sources: Sequence[str | os.PathLike[str]]) -> None:
    """The output may lie inside an input folder (it is skipped there), but must not be an
    input folder or contain one (its sub-images would land among the inputs)."""
    for src in sources:
        folder = Path(src).expanduser().resolve()
        if out == folder or out in folder.parents:
            raise ValueError(f"output folder {out} is or contains the input {folder}; choose an "
                             "output folder outside the inputs")


def _check_settings(out: Path, settings: PrepareSettings) -> None:
    path = out / SETTINGS_NAME
    wanted = dataclasses.asdict(settings)
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: unreadable ({exc}); delete it or choose another output "
                             "folder") from exc
        diff = {k: (old.get(k), v) for k, v in wanted.items() if old.get(k) != v}
        if diff:
            what = ", ".join(f"{k}: {a} -> {b}" for k, (a, b) in diff.items())
            raise ValueError(f"{out} was prepared with other settings ({what}); use the same "
                             "settings to continue it, or another output folder")
        return
    atomic_write_text(path, json.dumps(wanted, indent=2) + "\n")


def _plan(sources: Sequence[str | os.PathLike[str]], out: Path, settings: PrepareSettings,
          faces: Sequence[str | os.PathLike[str]], report: PrepareReport
          ) -> tuple[list[_Task], dict[str, os.stat_result]]:
    """One task per distinct source image, with a stable output name; the missing list
    entries and the sources without images go to ``report``."""
    tasks: list[_Task] = []
    stats: dict[str, os.stat_result] = {}
    used_roots: set[str] = set()
    used_stems: set[str] = set()
    for src in sources:
        found = discover_hr_images(src, faces=faces, exclude=out)
        report.missing += found.missing
        if not found.images:
            report.empty.append(str(src))
            continue
        root = _root_of(Path(src).expanduser(), found.images)
        key = _unique(root.name or "images", used_roots)
        for image in found.images:
            source = str(image.path.resolve())
            if source in stats:
                continue
            stats[source] = os.stat(source)
            try:
                rel = image.path.resolve().relative_to(root.resolve())
            except ValueError:
                rel = Path(image.path.name)
            stem = str(PurePosixPath(key, *rel.with_suffix("").parts))
            if stem in used_stems:  # a.png and a.jpg in one folder
                stem = str(PurePosixPath(key, *rel.parent.parts, rel.name.replace(".", "_")))
            used_stems.add(stem)
            tasks.append(_Task(source, str(out), stem, image.face, settings))
    return tasks, stats


def _root_of(source: Path, images: list[HRImage]) -> Path:
    if source.is_dir():
        return source
    return Path(os.path.commonpath([str(img.path.resolve().parent) for img in images]))


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{name}-{n}"
    used.add(candidate)
    return candidate


def _up_to_date(task: _Task, stat: os.stat_result, state: dict[str, SourceState],
                rows_by_source: dict[str, list[ManifestRow]], out: Path) -> bool:
    old = state.get(task.source)
    if old is None or old.bytes != stat.st_size or old.mtime_ns != stat.st_mtime_ns:
        return False
    if old.status == "too_small":
        return True
    if old.status != "ok":
        return False
    # the names must be this run's: a stem moves when a name clash appears (a.bmp added next to
    # a.png) or sources are given in another order, and then another source may cut to the old one
    names = {r.subimage for r in rows_by_source.get(task.source, [])}
    return (names == {tile_name(task.stem, k) for k in range(1, old.tiles + 1)}
            and all((out / name).is_file() for name in names))


# ----------------------------------------------------------------------------- cutting


def _run(tasks: list[_Task], workers: int | None, progress: bool):
    """Yield (state, rows) per task as they finish, in a process pool or in this process."""
    from tqdm.auto import tqdm

    n = workers if workers is not None else usable_cpus()
    bar = tqdm(total=len(tasks), unit="img", desc="prepare", disable=not progress or not tasks)
    try:
        if n <= 1 or len(tasks) <= 1:
            for task in tasks:
                result = _cut(task)
                bar.update(1)
                yield result
            return
        import multiprocessing

        # spawn: forking a process whose OpenCV thread pool has run can deadlock the children
        pool = ProcessPoolExecutor(max_workers=min(n, len(tasks)),
                                   mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_init)
        try:
            futures = [pool.submit(_cut, task) for task in tasks]
            for future in as_completed(futures):
                bar.update(1)
                yield future.result()
        finally:  # stopped early: drop the queued images (a plain `with` would cut them all)
            pool.shutdown(wait=True, cancel_futures=True)
    finally:
        bar.close()


def _worker_init() -> None:
    import cv2

    cv2.setNumThreads(1)


def _cut(task: _Task) -> tuple[SourceState, list[ManifestRow]]:
    """Cut one source image into its tiles (never raises for a bad image: status 'failed')."""
    import cv2

    from bsrgan.io import ImageReadError, imread_pixels

    stat = os.stat(task.source)
    state = SourceState(task.source, stat.st_size, stat.st_mtime_ns)
    s = task.settings
    try:
        pixels = imread_pixels(task.source)
    except ImageReadError as exc:
        state.status, state.message = "failed", exc.reason
        return state, []
    state.height, state.width = pixels.shape[:2]
    boxes = tile_boxes(state.height, state.width, s.crop, s.step)
    if not boxes and s.keep_small:
        boxes = [(0, 0, state.height, state.width)]
    out = Path(task.out)
    rows: list[ManifestRow] = []
    for k, (top, left, h, w) in enumerate(boxes, start=1):
        bgr = np.ascontiguousarray(pixels[top:top + h, left:left + w, ::-1])
        ok, encoded = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, s.png_compression])
        if not ok:
            state.status, state.message = "failed", f"PNG encoding failed for tile {k}"
            return state, []
        data = encoded.tobytes()
        rel = tile_name(task.stem, k)
        atomic_write_bytes(out / rel, data)  # never half-written under its name, fsynced
        rows.append(ManifestRow(rel, task.source, top, left, h, w, task.face,
                                hashlib.sha256(data).hexdigest()))
    _remove_stale_tiles(out, task.stem, {r.subimage for r in rows})
    state.tiles = len(rows)
    if not boxes:
        state.status = "too_small"
    return state, rows


def tile_name(stem: str, k: int) -> str:
    """File of tile ``k`` (1-based) of the source whose sub-images are named ``stem``."""
    return f"{stem}_s{k:03d}.png"


def _remove_stale_tiles(out: Path, stem: str, keep: set[str]) -> None:
    """Tiles an earlier version of this source left behind (it had more tiles then)."""
    folder = out / PurePosixPath(stem).parent
    name = PurePosixPath(stem).name
    if not folder.is_dir():
        return
    for path in folder.glob(f"{glob.escape(name)}_s*.png"):
        number = path.name[len(name) + 2:-4]  # 001 ... 999, 1000 ...
        rel = str(PurePosixPath(stem).parent / path.name)
        if number.isdigit() and rel not in keep:
            path.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- sources.tsv


def _read_sources(path: Path) -> dict[str, SourceState]:
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        if tuple(reader.fieldnames or ()) != SOURCES_COLUMNS:
            return {}  # unknown layout: everything is redone
        out = {}
        for row in reader:
            try:
                st = SourceState(row["source"], int(row["bytes"]), int(row["mtime_ns"]),
                                 int(row["height"]), int(row["width"]), int(row["tiles"]),
                                 row["status"], row["message"] or "")
            except (TypeError, ValueError):
                continue  # a damaged row: that source is redone
            out[st.source] = st
    return out


def _write_sources(path: Path, states: list[SourceState]) -> None:
    buf = io.StringIO()
    buf.write("\t".join(SOURCES_COLUMNS) + "\n")
    for st in sorted(states, key=lambda s: s.source):
        message = " ".join(st.message.split())  # no tabs or newlines
        buf.write("\t".join(str(v) for v in (st.source, st.bytes, st.mtime_ns, st.height,
                                              st.width, st.tiles, st.status, message)) + "\n")
    atomic_write_text(path, buf.getvalue())
