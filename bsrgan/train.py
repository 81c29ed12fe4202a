"""``python -m bsrgan.train --config experiments/<name>.yaml [--out DIR] [--resume]``.

Also the ``torchrun`` entry point: ``torchrun --nproc_per_node=4 -m bsrgan.train --config ...``
runs DistributedDataParallel with one process per GPU (gloo on CPU); rank 0 writes all files.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by ``python -m bsrgan.train`` and ``bsrgan train``."""
    parser.add_argument("--config", required=True, help="YAML training config (experiments/*.yaml)")
    parser.add_argument("--out", default=None,
                        help="run folder (default: runs/<config name>)")
    parser.add_argument("--resume", nargs="?", const=True, default=False, metavar="CHECKPOINT",
                        help="continue the run in --out from its latest checkpoint, or from "
                             "CHECKPOINT")
    parser.add_argument("--overwrite", action="store_true",
                        help="start afresh in a run folder that holds checkpoints (deletes them)")
    parser.add_argument("--allow-config-change", action="store_true",
                        help="with --resume: accept a config that differs from the checkpoint's "
                             "beyond run length and logging (the new values apply, learning-rate "
                             "milestones included); without it such a resume is refused")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set total_steps=1000 "
                             "--set data.batch_size=16 (YAML syntax for the value)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run_from_args(args: argparse.Namespace) -> int:
    """Load the config, train, print where the results are; returns the exit code."""
    import yaml

    from bsrgan.training import ConfigError, load_config, train

    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"error: --set expects KEY=VALUE, got {item!r}", file=sys.stderr)
            return 2
        overrides[key.strip()] = yaml.safe_load(value)
    try:
        config = load_config(args.config, overrides=overrides)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = args.out or f"runs/{config.name}"
    try:
        result = train(config, out, resume=args.resume, overwrite=args.overwrite,
                       progress=False if args.no_progress else None,
                       allow_config_change=args.allow_config_change)
    except ConfigError as exc:  # e.g. a resume with a changed config, cuda:N under torchrun
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if not _is_run_setup_error(exc):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # under torchrun, rank 0 reports
    print(f"EMA weights: {result.ema_weights}")
    if result.final_metrics:
        m = result.final_metrics
        print(f"validation: PSNR {m['psnr']:.2f} dB, SSIM {m['ssim']:.4f} "
              f"(bicubic {m['psnr_bicubic']:.2f} dB)")
    return 0


def _is_run_setup_error(exc: BaseException) -> bool:
    """Errors that say what a run lacks (reported in one line), as opposed to bugs (traceback).

    The classes are imported here, on the error path, to keep the start of a run light.
    """
    from bsrgan.assets import AssetError
    from bsrgan.losses import VGGWeightsError
    from bsrgan.metrics import MetricUnavailable
    from bsrgan.models.pretrained import WeightsError
    from bsrgan.training import NonFiniteLossError

    return isinstance(exc, (NonFiniteLossError, VGGWeightsError, AssetError, MetricUnavailable,
                            WeightsError, FileExistsError, FileNotFoundError))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bsrgan.train", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
