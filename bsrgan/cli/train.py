"""``bsrgan train --config experiments/<name>.yaml [--resume]``: train BSRNet or BSRGAN."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from bsrgan.train import add_arguments

    parser = subparsers.add_parser(
        "train", help="train BSRNet (stage psnr) or BSRGAN (stage gan) from a YAML config",
        description="Train one stage from a YAML config; use torchrun -m bsrgan.train for "
                    "several GPUs.")
    add_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from bsrgan.train import run_from_args

    return run_from_args(args)
