"""Upscale many files: collect inputs, name outputs, skip/refuse/report, never die on one image.

Used by ``bsrgan upscale``. Every output is written atomically (``bsrgan.io.imwrite``), keeps the
input's gray/alpha layout, and is 16-bit when the input is 16-bit (or float) and the output format
can hold it (PNG/TIFF).
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bsrgan.inference.device import check_precision, select_device
from bsrgan.inference.upscale import upscale
from bsrgan.io import IMAGE_EXTENSIONS, imread_raw, imwrite, list_images

SIXTEEN_BIT_EXTENSIONS = frozenset({"png", "tif", "tiff"})
NO_ALPHA_EXTENSIONS = frozenset({"jpg", "jpeg"})


class InPlaceError(ValueError):
    """The output folder would put results next to the inputs (refused unless asked for)."""


@dataclass
class BatchReport:
    """What happened to each input: written, skipped (output exists) or failed (with reason)."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        return (f"{len(self.written)} written, {len(self.skipped)} skipped (output exists), "
                f"{len(self.failed)} failed")


def collect_inputs(inputs: Sequence[str | os.PathLike[str]]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Expand folders (their images, sorted, not recursive) and keep files as given.

    Returns ``(files, problems)``: a missing input is a problem, not an exception, so the other
    inputs still run. The same file named twice is processed once.
    """
    files: list[Path] = []
    problems: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = list_images(path)
            if not found:
                problems.append((path, "folder contains no images"))
        elif path.exists():
            found = [path]
        else:
            problems.append((path, "no such file or folder"))
            continue
        for file in found:
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                files.append(file)
    return files, problems


def output_path(src: Path, outdir: Path, suffix: str = "_BSRGAN", ext: str = "png") -> Path:
    """``outdir / (src.stem + suffix + "." + ext)``."""
    return outdir / f"{src.stem}{suffix}.{ext.lstrip('.').lower()}"


def check_not_in_place(inputs: Sequence[str | os.PathLike[str]], outdir: Path) -> None:
    """Raise :class:`InPlaceError` if ``outdir`` is an input folder or the folder of an input file."""
    target = Path(outdir).resolve()
    for item in inputs:
        path = Path(item)
        folder = path if path.is_dir() else path.parent
        if folder.resolve() == target:
            raise InPlaceError(f"output folder {outdir} is the input folder of {path}; choose "
                               "another -o folder or pass --allow-in-place")


def upscale_files(
    model: nn.Module,
    inputs: Sequence[str | os.PathLike[str]],
    outdir: str | os.PathLike[str],
    *,
    suffix: str = "_BSRGAN",
    ext: str = "png",
    overwrite: bool = False,
    allow_in_place: bool = False,
    tile: int | None = None,
    tile_overlap: int = 32,
    precision: str = "fp32",
    device: str | torch.device = "auto",
    memory_budget: int | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> BatchReport:
    """Upscale every image among ``inputs`` (files and/or folders) into ``outdir``.

    ``tile=None`` plans each image's tile from ``memory_budget`` (bytes; default 2 GiB on the
    CPU, half the free memory on CUDA): the whole image when it fits, see
    :func:`bsrgan.inference.device.plan_tile`.
    A file that cannot be read or processed is reported through ``log`` (default: stderr, above
    the progress bar) with its path and the reason, and skipped; the others still run.
    Raises :class:`InPlaceError` before doing anything if ``outdir`` is an input folder and
    ``allow_in_place`` is false.
    """
    from tqdm.auto import tqdm

    outdir = Path(outdir)
    ext = ext.lstrip(".").lower()
    if "." + ext not in IMAGE_EXTENSIONS:
        raise ValueError(f"unsupported output extension {ext!r}; choose one of "
                         f"{sorted(e.lstrip('.') for e in IMAGE_EXTENSIONS)}")
    if not allow_in_place:
        check_not_in_place(inputs, outdir)
    # settings errors are the caller's, not the images': raise them once, before any work
    dev = select_device(device)
    check_precision(precision, dev)
    if (tile is not None and tile < 0) or tile_overlap < 0:
        raise ValueError(f"tile ({tile}) and tile overlap ({tile_overlap}) must be >= 0")
    if memory_budget is not None and memory_budget <= 0:
        raise ValueError(f"memory budget must be positive, got {memory_budget} bytes")
    log = log or (lambda msg: tqdm.write(msg, file=sys.stderr))
    report = BatchReport()
    files, problems = collect_inputs(inputs)
    for path, reason in problems:
        report.failed.append((path, reason))
        log(f"error: {path}: {reason}")

    claimed: dict[Path, Path] = {}
    bar = tqdm(files, desc="upscale", unit="img", disable=not progress)
    for src in bar:
        bar.set_postfix_str(src.name, refresh=False)
        dst = output_path(src, outdir, suffix, ext)
        reason = _name_conflict(src, dst, claimed)
        if reason:
            report.failed.append((src, reason))
            log(f"error: {src}: {reason}")
            continue
        claimed[dst.resolve()] = src
        if dst.exists() and not overwrite:
            report.skipped.append(src)
            continue
        try:
            _upscale_one(model, src, dst, ext, tile, tile_overlap, precision, dev, memory_budget)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - one bad image must not stop the batch
            reason = str(exc) if str(src) in str(exc) else f"{type(exc).__name__}: {exc}"
            report.failed.append((src, reason))
            log(f"error: {src}: {reason}")
        else:
            report.written.append(dst)
    return report


def _name_conflict(src: Path, dst: Path, claimed: dict[Path, Path]) -> str | None:
    if dst.resolve() == src.resolve():
        return f"output {dst} would overwrite the input itself; use another --suffix or -o folder"
    other = claimed.get(dst.resolve())
    if other is not None:
        return f"output {dst} is already produced from {other}; use another --suffix or folder"
    return None


def _upscale_one(model: nn.Module, src: Path, dst: Path, ext: str, tile: int | None,
                 tile_overlap: int, precision: str, device: torch.device,
                 memory_budget: int | None) -> None:
    data = imread_raw(src)
    alpha = None if ext in NO_ALPHA_EXTENSIONS else data.alpha
    planes = [data.rgb[:, :, :1]] if data.is_gray else [data.rgb]  # gray: model sees 3 copies
    if alpha is not None:
        planes.append(alpha[:, :, None])
    img = planes[0] if len(planes) == 1 else np.concatenate(planes, axis=2)
    out = upscale(model, img, tile=tile, tile_overlap=tile_overlap, precision=precision,
                  device=device, memory_budget=memory_budget)
    if out.shape[2] == 2:  # gray + alpha: image writers take RGBA, so repeat the gray plane
        out = out[:, :, [0, 0, 0, 1]]
    bit_depth = 16 if data.bit_depth >= 16 and ext in SIXTEEN_BIT_EXTENSIONS else 8
    imwrite(dst, out, bit_depth=bit_depth)
