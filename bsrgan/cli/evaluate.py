"""``bsrgan evaluate --dataset D --method NAME=SPEC ... -o OUTDIR``: scores, tables and figure."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bsrgan.cli.upscale import add_memory_budget_option


def _size(text: str) -> tuple[int, int]:
    """``"512x256"`` -> (512, 256) (width, height)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 512x256, got {text!r}") from None
    if w < 1 or h < 1:
        raise argparse.ArgumentTypeError(f"crop size must be positive, got {text!r}")
    return w, h


def _protocol(text: str) -> str:
    """A metric protocol name (an old alias warns and is replaced by its current name)."""
    from bsrgan.metrics.protocols import canonical_protocol

    try:
        return canonical_protocol(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _stems(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` sub-command."""
    parser = subparsers.add_parser(
        "evaluate",
        help="score SR methods (NIQE/NRQM/PI...) on RealSRSet, DPED (our crops or the authors' "
             "README images) or a folder",
        description="Produce (or read) each method's SR outputs, score them, and write per-image "
                    "and summary CSVs, a Markdown table, a comparison figure and a provenance JSON "
                    "to OUTDIR. Generated SR images are cached by input, weights, code version, "
                    "device and tile. Exit code 1 if an image failed or a metric failed on an "
                    "image (a method without an output for an image does not count), 2 for bad "
                    "usage.",
    )
    parser.add_argument("--dataset", required=True, metavar="realsrset|dped-iphone|dped-readme|PATH",
                        help="dataset name or a folder of LR images")
    parser.add_argument("--method", dest="methods", action="append", required=True,
                        metavar="NAME=SPEC",
                        help="repeatable; SPEC: bicubic | model:NAME_OR_PATH | "
                             "published:bsrgan|esrgan|realsr_jpeg | dir:PATH")
    parser.add_argument("--metrics", default="niqe,nrqm,pi",
                        help="comma-separated (niqe, nrqm, pi, psnr, ssim, lpips); default niqe,nrqm,pi")
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="OUTDIR",
                        help="results folder, e.g. results/realsrset")
    parser.add_argument("--protocol", type=_protocol, default="pirm",
                        metavar="pirm|paper|live-rgb2gray",
                        help="NIQE/NRQM/PI luma protocol: pirm = BT.601 Y, shave 4 (default); "
                             "paper = BT.601 Y, no shave (reproduces the authors' README figure); "
                             "live-rgb2gray = rgb2gray, no shave (LIVE NIQE release on an RGB "
                             "file; formerly 'matlab', which still works and warns)")
    parser.add_argument("--dped-crop", type=_size, default=(512, 256), metavar="WxH",
                        help="LR crop size for dped-iphone (default 512x256)")
    parser.add_argument("--dped-crops", type=int, default=1, metavar="N",
                        help="crops per DPED photo: 1 = centre crop (default); N = row-major grid")
    parser.add_argument("--images", type=_stems, default=None, metavar="STEM,...",
                        help="evaluate only these images")
    parser.add_argument("--reference", type=Path, default=None, metavar="DIR",
                        help="HR images matched by stem, for psnr/ssim/lpips")
    parser.add_argument("--scale", type=int, default=4, help="scale of bicubic (default 4)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="scoring processes (default: all usable cores)")
    parser.add_argument("--tile", type=int, default=None, metavar="N",
                        help="inference tile side in LR pixels; 0 = whole image; default: planned "
                             "from --memory-budget (the whole image when it fits)")
    add_memory_budget_option(parser)
    parser.add_argument("--tile-overlap", type=int, default=32, metavar="N")
    parser.add_argument("--precision", choices=("fp32", "fp16", "bf16"), default="fp32")
    parser.add_argument("--device", default="auto", metavar="auto|cpu|cuda[:N]")
    parser.add_argument("--figure-images", type=_stems, default=None, metavar="STEM,...",
                        help="images in the comparison figure (default: the first 4)")
    parser.add_argument("--no-figure", action="store_true", help="skip the comparison figure")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """0 = all scored, 1 = an image failed or a metric failed on an image, 2 = bad usage."""
    from bsrgan.assets import AssetError
    from bsrgan.evaluation import MethodSpecError, evaluate

    try:
        result = evaluate(
            args.dataset, args.methods, args.metrics, args.output, protocol=args.protocol,
            scale=args.scale, workers=args.workers, tile=args.tile, tile_overlap=args.tile_overlap,
            precision=args.precision, device=args.device, dped_crop=args.dped_crop,
            dped_crops=args.dped_crops, images=args.images, reference=args.reference,
            figure=not args.no_figure, figure_images=args.figure_images,
            progress=not args.no_progress, memory_budget=args.memory_budget,
            command=_command(args),
        )
    except (MethodSpecError, ValueError, FileNotFoundError, AssetError) as exc:
        print(f"bsrgan evaluate: {exc}", file=sys.stderr)
        return 2
    print(result.markdown)
    for name, path in result.paths.items():
        print(f"  {name}: {path}", file=sys.stderr)
    for row in result.failures.itertuples(index=False):
        what = "metric failed" if row.status == "partial" else "failed"
        print(f"  {what}: {row.method} / {row.image}: {row.error}", file=sys.stderr)
    return 0 if result.ok else 1


def _command(args: argparse.Namespace) -> list[str]:
    """The options as given, with paths reduced to their last component (no machine paths).

    Raises MethodSpecError for a ``--method`` that cannot be parsed (a usage error).
    """
    from bsrgan.evaluation.methods import parse_method

    words = ["bsrgan", "evaluate"]
    for key, value in vars(args).items():
        if key in ("func", "command") or value is None or value is False:
            continue
        if isinstance(value, Path) or (isinstance(value, str) and "/" in value):
            value = Path(value).name
        if isinstance(value, tuple):
            value = "x".join(map(str, value))
        if key == "memory_budget":  # parsed to bytes; typed in GiB
            value = f"{value / 2**30:g}"
        if key == "methods":  # as typed (NAME= only if given), model:/dir: paths by name
            for text in value:
                method = parse_method(text)
                words += ["--method", (f"{method.name}=" if "=" in text else "")
                          + method.portable_spec]
            continue
        if isinstance(value, list):  # --images / --figure-images, as typed: a,b,c
            value = ",".join(value)
        words += [f"--{key.replace('_', '-')}"] + ([] if value is True else [str(value)])
    return words
