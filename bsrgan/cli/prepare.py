"""``bsrgan prepare SRC... -o OUT``: cut HR training photos into sub-images once."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``prepare`` sub-command."""
    from bsrgan.data.prepare import DEFAULT_CROP, DEFAULT_STEP

    parser = subparsers.add_parser(
        "prepare",
        help="cut HR training photos into sub-images with a manifest (train with data.hr_dir=OUT)",
        description=(
            "Cut every image of the sources (folders, searched recursively; file lists; "
            "manifests) into overlapping square sub-images, written as lossless PNG with "
            "OUT/manifest.tsv (sub-image, source file, crop box, face flag, sha256). Uses all "
            "CPUs. Resumable: sources already prepared (same size and modification time) are "
            "skipped, so a second run over the same inputs does no work. Images in a folder "
            "named ffhq* or face/faces are tagged as faces (training flips them horizontally "
            "only); --faces tags whole sources. Exit code 1 if an image could not be read."),
    )
    parser.add_argument("sources", nargs="+", type=Path, metavar="SRC",
                        help="folder of HR images, file list (one path per line) or manifest")
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="OUT",
                        help="output folder (created; continue an earlier run by naming it again)")
    parser.add_argument("--crop", type=int, default=DEFAULT_CROP,
                        help=f"sub-image side in pixels (default {DEFAULT_CROP}; at least the "
                             "training data.hr_crop, 320 in the paper configs)")
    parser.add_argument("--step", type=int, default=DEFAULT_STEP,
                        help=f"distance between sub-images (default {DEFAULT_STEP})")
    parser.add_argument("--keep-small", action="store_true",
                        help="store images smaller than --crop whole instead of skipping them")
    parser.add_argument("--faces", action="append", type=Path, default=[], metavar="SRC",
                        help="tag every image of this source as a face (repeatable)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="processes (default: all CPUs; 1 = no subprocess)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Prepare; 0 = done (or nothing to do), 1 = some image failed, 2 = bad usage."""
    from bsrgan.data.manifest import ManifestError
    from bsrgan.data.prepare import PrepareSettings, prepare

    settings = PrepareSettings(crop=args.crop, step=args.step, keep_small=args.keep_small)
    try:
        report = prepare(args.sources, args.output, settings=settings, faces=args.faces,
                         workers=args.workers, progress=not args.no_progress,
                         log=lambda line: print(f"bsrgan prepare: {line}", file=sys.stderr))
    except (ValueError, FileNotFoundError, ManifestError) as exc:
        print(f"bsrgan prepare: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    if report.subimages:
        print(f"train on it with: --set data.hr_dir={report.out}")
    return 1 if report.failed else 0
