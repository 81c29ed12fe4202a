"""``bsrgan fetch NAME...`` and ``bsrgan fetch --list``: materialise or list registry assets
and the paper's training sets (:mod:`bsrgan.assets.training_sets`)."""
from __future__ import annotations

import argparse
import sys
import warnings

from bsrgan.assets import AssetError, AssetSettings, cached_count, default_registry, fetch
from bsrgan.assets.registry import Asset
from bsrgan.assets.training_sets import (
    TRAINING_SETS,
    TrainingSet,
    fetch_training_set,
    is_unpacked,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``fetch`` sub-command."""
    parser = subparsers.add_parser(
        "fetch",
        help="download or copy named assets (datasets, metric files, weights) into the cache",
        description="Resolve named assets into the cache ($BSRGAN_HOME, default ~/.cache/bsrgan): "
                    "cache -> $BSRGAN_MIRRORS folders -> download, every file verified by sha256.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="asset names (see --list)")
    parser.add_argument("--list", action="store_true", help="list the registered assets and exit")
    parser.add_argument("--offline", action="store_true",
                        help="never download (same as BSRGAN_OFFLINE=1)")
    parser.add_argument("--no-progress", action="store_true", help="hide download progress bars")
    parser.add_argument("--path", metavar="DIR",
                        help="use this existing copy instead of the cache (a training set's "
                             "image folder, e.g. your FFHQ images1024x1024); checked, not copied")
    parser.add_argument("--remove-archive", action="store_true",
                        help="training sets: delete the downloaded archive once unpacked")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Fetch each named asset (or list them); 0 on success, 1 if any asset failed."""
    try:
        settings = AssetSettings.from_env()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.offline:
        settings = settings.without_downloads("downloads are disabled (--offline)")
    if args.list:
        print(format_table(list(default_registry()), settings))
        print(format_training_table(list(TRAINING_SETS.values()), settings))
        return 0
    if not args.names:
        print("error: bsrgan fetch needs at least one asset NAME, or --list", file=sys.stderr)
        return 2
    if args.path and len(args.names) != 1:
        print("error: --path goes with exactly one NAME", file=sys.stderr)
        return 2
    failed = 0
    for name in args.names:
        if name.lower() in TRAINING_SETS:
            failed += _fetch_training_set(TRAINING_SETS[name.lower()], args, settings)
            continue
        try:
            asset = default_registry().asset(name)
            where = fetch(asset.name, path=args.path, progress=not args.no_progress,
                          settings=settings)
        except AssetError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        check = (_verified_by(asset) if asset.verified else
                 "UNVERIFIED (no published sha256; recorded in <file>.sha256)")
        print(f"{asset.name}: {_count(asset)}, {_asset_size(asset)}, {check} -> {where}")
    return 1 if failed else 0


def format_table(assets: list[Asset], settings: AssetSettings) -> str:
    """Plain-text table: name, files, total size, verified/unverified, cached, description."""
    header = ("name", "files", "size", "sha256", "cached", "description")
    rows = [header]
    for asset in assets:
        n_cached = cached_count(asset, settings)
        cached = ("yes" if n_cached == len(asset.files) else
                  "no" if n_cached == 0 else f"{n_cached}/{len(asset.files)}")
        rows.append((asset.name, str(len(asset.files)), _asset_size(asset),
                     "verified" if asset.verified else "unverified", cached, asset.description))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] for r in rows]
    lines.append(f"cache: {settings.home} (files keep their registry relative paths below it)")
    mirrors = ", ".join(map(str, settings.mirrors)) or "none (BSRGAN_MIRRORS unset)"
    lines.append(f"mirrors: {mirrors}")
    return "\n".join(lines)


def _fetch_training_set(tset: TrainingSet, args: argparse.Namespace,
                        settings: AssetSettings) -> int:
    """Fetch one training set and say what to do next; returns 1 on failure."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            folder = fetch_training_set(tset, path=args.path, progress=not args.no_progress,
                                        settings=settings, remove_archive=args.remove_archive)
    except AssetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    print(f"{tset.name}: {tset.images} images -> {folder}")
    print(f"  next: bsrgan prepare {folder} ... -o /data/bsrgan_hr   (docs/training.md)")
    return 0


def format_training_table(sets: list[TrainingSet], settings: AssetSettings) -> str:
    """Plain-text table of the training sets: name, images, download, sha256, cached, URL."""
    header = ("name", "images", "download", "sha256", "cached", "url")
    rows = [header]
    for t in sets:
        check = ("manual" if t.archive is None else
                 "verified" if t.archive.sha256 else "first use")
        rows.append((t.name, str(t.images), _size(t.download_size) if t.archive else "by hand",
                     check, "yes" if is_unpacked(t, settings) else "no", t.url))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = ["training sets (the paper's HR training data; fetch, then `bsrgan prepare`):"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] for r in rows]
    lines += [f"  {t.name}: {t.description}" for t in sets]
    lines.append("'?' = size not published; 'first use' = no published sha256, recorded on the "
                 "first download and enforced after (like the official weights)")
    return "\n".join(lines)


def _verified_by(asset: Asset) -> str:
    """``"sha256 verified"``, or which files were verified by their git blob SHA-1 instead."""
    by_blob = sum(f.sha256 is None for f in asset.files)
    if not by_blob:
        return "sha256 verified"
    return f"verified (sha256; {by_blob} by git blob SHA-1)" if by_blob < len(asset.files) else \
        "git blob SHA-1 verified"


def _asset_size(asset: Asset) -> str:
    """Total size; ``">= X"`` when some files have no recorded size, ``"?"`` when none has."""
    sizes = [f.size for f in asset.files if f.size is not None]
    if len(sizes) == len(asset.files):
        return _size(sum(sizes))
    return f">= {_size(sum(sizes))}" if sizes else "?"


def _count(asset: Asset) -> str:
    return "1 file" if len(asset.files) == 1 else f"{len(asset.files)} files"


def _size(n_bytes: int | None) -> str:
    if n_bytes is None:
        return "?"
    size = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n_bytes} B"  # unreachable; keeps type checkers happy
