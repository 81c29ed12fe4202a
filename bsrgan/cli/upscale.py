"""``bsrgan upscale INPUT... -o OUTDIR``: tiled super-resolution of image files and folders."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bsrgan.inference.device import PRECISIONS


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``upscale`` sub-command."""
    parser = subparsers.add_parser(
        "upscale",
        help="super-resolve image files and folders (tiled, any size)",
        description="Super-resolve images with a BSRGAN-family model. An image whose estimated "
                    "peak memory fits the budget runs whole; larger ones run in feathered tiles "
                    "sized to the budget, so memory depends on the budget (or --tile), not on the "
                    "image. Unreadable files are reported and skipped; the exit code is 1 if any "
                    "input failed.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", type=Path,
                        help="image files and/or folders of images")
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="OUTDIR",
                        help="output folder (created if missing)")
    parser.add_argument("--model", default="BSRGAN", metavar="NAME|PATH",
                        help="registered weights name (e.g. BSRGAN, BSRGANx2, RealSR_JPEG) or a "
                             ".pth state dict (default: BSRGAN)")
    parser.add_argument("--tile", type=int, default=None, metavar="N",
                        help="tile side in input pixels; 0 = whole image; default: planned from "
                             "--memory-budget (the whole image when it fits)")
    add_memory_budget_option(parser)
    parser.add_argument("--tile-overlap", type=int, default=32, metavar="N",
                        help="overlap of neighbouring tiles in input pixels (default 32)")
    parser.add_argument("--precision", choices=sorted(PRECISIONS), default="fp32",
                        help="fp16 needs CUDA; bf16 works on CPU and recent GPUs (default fp32)")
    parser.add_argument("--device", default="auto", metavar="auto|cpu|cuda[:N]",
                        help="default: CUDA when available, else CPU")
    parser.add_argument("--suffix", default="_BSRGAN", help="appended to each output file stem")
    parser.add_argument("--ext", default="png", help="output format (png, tif, jpg, webp, bmp)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--allow-in-place", action="store_true",
                        help="allow OUTDIR to be a folder that holds inputs")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the model, upscale every input; 0 = all done, 1 = some input failed, 2 = bad usage."""
    from bsrgan.inference.batch import InPlaceError, check_not_in_place, upscale_files

    if not args.allow_in_place:
        try:
            check_not_in_place(args.inputs, args.output)
        except InPlaceError as exc:
            print(f"bsrgan upscale: {exc}", file=sys.stderr)
            return 2
    try:
        model = _load_model(args.model)
    except Exception as exc:  # noqa: BLE001 - report any loading problem as a usage error
        print(f"bsrgan upscale: cannot load model {args.model!r}: {exc}", file=sys.stderr)
        return 2
    try:
        report = upscale_files(
            model, args.inputs, args.output, suffix=args.suffix, ext=args.ext,
            overwrite=args.overwrite, allow_in_place=args.allow_in_place, tile=args.tile,
            tile_overlap=args.tile_overlap, precision=args.precision, device=args.device,
            memory_budget=args.memory_budget, progress=not args.no_progress,
        )
    except (ValueError, RuntimeError) as exc:  # invalid settings (device, precision, tile...)
        print(f"bsrgan upscale: {exc}", file=sys.stderr)
        return 2
    print(f"bsrgan upscale: {report.summary()} -> {args.output}", file=sys.stderr)
    for path, reason in report.failed:
        print(f"  failed: {path}: {reason}", file=sys.stderr)
    return 0 if report.ok else 1


def memory_budget_bytes(text: str) -> int:
    """``"2"`` / ``"0.5"`` (GiB) -> bytes; argparse type of ``--memory-budget``."""
    try:
        gib = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of GiB such as 2 or 0.5, got {text!r}") from None
    if not gib > 0:
        raise argparse.ArgumentTypeError(f"memory budget must be positive, got {text!r}")
    return int(gib * 2**30)


def add_memory_budget_option(parser: argparse.ArgumentParser) -> None:
    """``--memory-budget GIB``, shared by ``upscale`` and ``evaluate``."""
    parser.add_argument("--memory-budget", type=memory_budget_bytes, default=None, metavar="GIB",
                        help="memory the automatic tile plan may use, in GiB (default: 2 on the "
                             "CPU, half the free GPU memory on CUDA); the estimate is 16 KiB per "
                             "input pixel for the x4 RRDBNet in fp32 (docs/inference.md)")


def _load_model(name_or_path: str):
    from bsrgan.models import load_pretrained

    return load_pretrained(name_or_path)
