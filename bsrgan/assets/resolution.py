"""Find a registry file: explicit path -> cache -> mirrors -> download.

Every file that ends up in the cache has been verified: against the registry sha256 (or git blob
SHA-1, where only that is published) when it is known, otherwise its hash is recorded in a
``<file>.sha256`` sidecar on first use (with an :class:`UnverifiedAssetWarning`) and later uses
are checked against that record.
"""
from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path, PurePosixPath

from bsrgan.assets import messages
from bsrgan.assets.download import download
from bsrgan.assets.errors import AssetError, UnverifiedAssetWarning
from bsrgan.assets.registry import Asset, AssetFile, Registry, default_registry, local_path
from bsrgan.assets.settings import AssetSettings
from bsrgan.assets.verify import (
    content_mismatch,
    read_sidecar,
    sha256_file,
    sidecar_path,
    stream_hashed,
    write_sidecar,
)
from bsrgan.utils.atomic import atomic_path

PathLike = str | os.PathLike[str]


def resolve(relpath: str, *, path: PathLike | None = None, progress: bool = True,
            registry: Registry | None = None, settings: AssetSettings | None = None) -> Path:
    """Local, verified path of the registry file ``relpath``.

    Example: ``resolve("metrics/niqe_modelparameters.mat")``.

    Args:
        relpath: the file's relative path in the manifest layout.
        path: an explicit file to use instead of the cache (verified, never copied).
        progress: show a tqdm bar while downloading.
        registry: the registry to look ``relpath`` up in (default: the shipped one).
        settings: cache/mirror/network settings (default: from the environment).

    Raises:
        AssetError: unknown path, checksum mismatch, or the file cannot be found or downloaded.
    """
    reg = registry if registry is not None else default_registry()
    return resolve_file(reg.file(relpath), path=path, progress=progress, settings=settings)


def resolve_file(entry: AssetFile, *, path: PathLike | None = None, progress: bool = True,
                 settings: AssetSettings | None = None, resume: bool = False) -> Path:
    """Like :func:`resolve` for a registry entry that is already looked up.

    ``resume=True`` makes a download resumable (see :mod:`bsrgan.assets.download`).
    """
    st = settings if settings is not None else AssetSettings.from_env()
    if path is not None:
        return _use_explicit(entry, Path(path).expanduser(), st)
    target = local_path(st.home, entry.relpath)
    if target.is_file() and _cache_is_valid(entry, target, st):
        return target
    for mirror in st.mirrors:
        candidate = local_path(mirror, entry.relpath)
        if candidate.is_file():
            return _copy_from_mirror(entry, candidate, target, st)
    if not entry.url:
        raise messages.unavailable(entry, st, "it is in neither the cache nor a mirror")
    if st.offline:
        raise messages.unavailable(
            entry, st, f"it is in neither the cache nor a mirror, and {messages.offline_reason(st)}")
    _, sha256 = download(entry, target, st, progress=progress, resume=resume)
    if not entry.verified:
        _record_unverified(entry, target, sha256, f"downloaded from {entry.url}")
    return target


def fetch_files(name: str, *, progress: bool = True, registry: Registry | None = None,
                settings: AssetSettings | None = None) -> list[Path]:
    """Resolve every file of the asset ``name``; return their local paths in registry order.

    Every file is tried; when some cannot be had, one :class:`AssetError` names all of them
    (first line: how many, which, and why) followed by the full message of the first.
    """
    reg = registry if registry is not None else default_registry()
    st = settings if settings is not None else AssetSettings.from_env()
    asset = reg.asset(name)
    paths = []
    failed: list[tuple[AssetFile, AssetError]] = []
    for entry in asset.files:
        try:
            paths.append(resolve_file(entry, progress=progress, settings=st))
        except AssetError as exc:
            if len(asset.files) == 1:
                raise
            failed.append((entry, exc))
    if failed:
        names = ", ".join(PurePosixPath(entry.relpath).name for entry, _ in failed)
        reasons = list(dict.fromkeys(exc.reason or exc.summary for _, exc in failed))
        why = reasons[0] if len(reasons) == 1 else "; ".join(reasons)
        raise AssetError(
            f"Asset {asset.name!r}: {len(failed)} of {len(asset.files)} files are not available "
            f"({names}): {why}.\n{failed[0][1]}\n  (files of this asset live under "
            f"{local_path(st.home, asset.root)})", reason=why) from failed[0][1]
    return paths


def fetch(name: str, *, path: PathLike | None = None, progress: bool = True,
          registry: Registry | None = None, settings: AssetSettings | None = None) -> Path:
    """Materialise the asset ``name`` and return where it is.

    A single-file asset (weights, metric parameters) returns the verified file; a folder asset
    (dataset) returns the cache folder holding all of its files in the manifest layout.
    ``path`` uses an existing copy instead: the file itself, or a folder laid out like the
    asset's folder; it is verified in place and returned.
    """
    reg = registry if registry is not None else default_registry()
    st = settings if settings is not None else AssetSettings.from_env()
    asset = reg.asset(name)
    if path is not None:
        return _fetch_explicit(asset, Path(path).expanduser(), st)
    files = fetch_files(asset.name, progress=progress, registry=reg, settings=st)
    return files[0] if asset.kind == "file" else local_path(st.home, asset.root)


def cached_count(asset: Asset, settings: AssetSettings | None = None) -> int:
    """How many files of ``asset`` are present in the cache (existence only, no hashing)."""
    st = settings if settings is not None else AssetSettings.from_env()
    return sum(local_path(st.home, f.relpath).is_file() for f in asset.files)


def _fetch_explicit(asset: Asset, path: Path, settings: AssetSettings) -> Path:
    if asset.kind == "file":
        return _use_explicit(asset.files[0], path, settings)
    for entry in asset.files:
        relative = entry.relpath[len(asset.root) + 1:]
        _use_explicit(entry, local_path(path, relative), settings)
    return path


def _use_explicit(entry: AssetFile, path: Path, settings: AssetSettings) -> Path:
    if not path.is_file():
        raise AssetError(messages.explicit_path(entry, path, "does not exist or is not a file"))
    if entry.size is not None and path.stat().st_size != entry.size:
        raise AssetError(messages.explicit_path(
            entry, path, f"has {path.stat().st_size} bytes, expected {entry.size}"))
    if entry.check is not None:
        got = content_mismatch(entry.check, path)
        if got is not None:
            raise AssetError(messages.explicit_path(entry, path, f"has {entry.check[0]} {got}"))
    else:
        warnings.warn(f"asset {entry.asset!r}: using {path} unverified (no published sha256)",
                      UnverifiedAssetWarning, stacklevel=4)
    return path


def _cache_is_valid(entry: AssetFile, target: Path, settings: AssetSettings) -> bool:
    """Check a cached file; a corrupt copy of a known-hash file is removed (returns False)."""
    if entry.check is not None:
        kind, expected = entry.check
        size_ok = entry.size is None or target.stat().st_size == entry.size
        got = content_mismatch(entry.check, target) if size_ok else f"{target.stat().st_size} bytes"
        if got is None:
            return True
        warnings.warn(f"asset {entry.asset!r}: cached {target} is corrupt (expected {kind} "
                      f"{expected}, got {got}); removing it and fetching again",
                      RuntimeWarning, stacklevel=4)
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        return False
    recorded = read_sidecar(target)
    got = sha256_file(target)
    if recorded is None:
        _record_unverified(entry, target, got, "found in the cache")
    elif got != recorded:
        raise AssetError(messages.mismatch(
            entry, f"the cache ({target})", got, settings, expected=recorded,
            what="recorded sha256",
            consequence=(f"The file changed since its hash was recorded in {sidecar_path(target)}; "
                         "delete the sidecar to accept the new file, or both files to fetch it "
                         "again.")))
    return True


def _copy_from_mirror(entry: AssetFile, source: Path, target: Path,
                      settings: AssetSettings) -> Path:
    """Copy ``source`` into the cache at ``target``, renamed into place only if it verifies."""
    size = source.stat().st_size
    if entry.size is not None and size != entry.size:
        raise AssetError(messages.mismatch(
            entry, f"mirror file {source}", f"{size} bytes", settings,
            expected=f"{entry.size} bytes", what="size"))
    with open(source, "rb") as src, atomic_path(target) as tmp:
        sha256, _ = stream_hashed(src, tmp)
        got = content_mismatch(entry.check, tmp, sha256)
        if got is not None:
            raise AssetError(messages.mismatch(entry, f"mirror file {source}", got, settings))
    if not entry.verified:
        _record_unverified(entry, target, sha256, f"copied from mirror {source}")
    return target


def _record_unverified(entry: AssetFile, target: Path, sha256: str, how: str) -> None:
    write_sidecar(target, sha256)
    warnings.warn(
        f"asset {entry.asset!r}: {target.name} {how} is UNVERIFIED (no published sha256); "
        f"recorded sha256 {sha256} in {sidecar_path(target)}",
        UnverifiedAssetWarning, stacklevel=4)
