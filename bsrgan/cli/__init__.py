"""The ``bsrgan`` command line: one sub-command per module in this package.

Each sub-command module exposes ``register(subparsers)`` which adds its parser and sets
``func`` (a callable taking the parsed ``argparse.Namespace`` and returning an exit code).
"""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Sub-command modules, in the order they appear in ``bsrgan --help``.
COMMANDS: tuple[str, ...] = (
    "fetch",
    "prepare",
    "upscale",
    "evaluate",
    "train",
    "run",
)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Build the top-level parser with every sub-command, or with ``only`` that one.

    Registering one sub-command imports only its module: ``bsrgan prepare`` or ``bsrgan fetch``
    then start without importing torch (which ``upscale`` needs at registration).
    """
    from bsrgan import __version__

    parser = argparse.ArgumentParser(
        prog="bsrgan",
        description="BSRGAN reproduction: degradation model, training, inference and evaluation.",
    )
    parser.add_argument("--version", action="version", version=f"bsrgan {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if only is None else (only,):
        importlib.import_module(f"bsrgan.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bsrgan`` console script; returns the process exit code."""
    words = list(sys.argv[1:] if argv is None else argv)
    first = next((w for w in words if not w.startswith("-")), None)
    parser = build_parser(first if first in COMMANDS else None)
    args = parser.parse_args(words)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover - ``python -m bsrgan.cli``
    sys.exit(main())
