"""Error texts: every failure names the asset, its URL and the path where the file belongs."""
from __future__ import annotations

from pathlib import Path

from bsrgan.assets.registry import AssetFile, local_path
from bsrgan.assets.settings import MIRRORS_ENV, OFFLINE_ENV, AssetSettings


def describe_sources(entry: AssetFile) -> str:
    """Lines giving the file's URL (or that it has none) and its expected sha256."""
    if entry.url:
        url = f"  URL: {entry.url}"
    else:
        what = entry.note or "a file made for this project"
        url = (f"  URL: none - this file has no public download; it is only available from a "
               f"mirror. It is: {what}")
    sha = entry.sha256 or "unknown (not published; recorded on first use, file unverified)"
    return f"{url}\n  expected sha256: {sha}"


def placement_hint(entry: AssetFile, settings: AssetSettings) -> str:
    """How the user can provide the file by hand."""
    target = local_path(settings.home, entry.relpath)
    how = f"download {entry.url} and place it at" if entry.url else "place a copy of the file at"
    return (f"  Fix: {how} {target}\n"
            f"       or set {MIRRORS_ENV} to a folder that contains {entry.relpath}"
            " (e.g. ../shared/assets).")


def not_found(entry: AssetFile, settings: AssetSettings, reason: str) -> str:
    """Message for a file found neither in the cache nor a mirror, and not downloaded."""
    mirrors = ", ".join(str(m) for m in settings.mirrors) or f"none ({MIRRORS_ENV} is not set)"
    return (f"Asset {entry.asset!r}: file {entry.relpath} is not available: {reason}.\n"
            f"  looked in cache: {local_path(settings.home, entry.relpath)}\n"
            f"  looked in mirrors: {mirrors}\n"
            f"{describe_sources(entry)}\n{placement_hint(entry, settings)}")


def offline_reason() -> str:
    """Reason text when downloads are disabled."""
    return f"downloads are disabled ({OFFLINE_ENV}=1)"


def mismatch(entry: AssetFile, source: str, got: str, settings: AssetSettings, *,
             expected: str | None = None, what: str = "sha256",
             consequence: str = "Nothing was cached.") -> str:
    """Message for a file whose hash or size differs from what is expected."""
    want = expected if expected is not None else entry.sha256
    return (f"Asset {entry.asset!r}: {what} mismatch for {entry.relpath} from {source}: "
            f"expected {want}, got {got}. {consequence}\n"
            f"{describe_sources(entry)}\n{placement_hint(entry, settings)}")


def explicit_path(entry: AssetFile, path: Path, problem: str) -> str:
    """Message for a user-given path that cannot stand in for a registry file."""
    return (f"Asset {entry.asset!r}: the given path {path} for {entry.relpath} {problem}.\n"
            f"{describe_sources(entry)}")
