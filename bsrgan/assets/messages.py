"""Error texts: every failure names the asset, its URL and the path where the file belongs."""
from __future__ import annotations

from pathlib import Path

from bsrgan.assets.errors import AssetError
from bsrgan.assets.registry import AssetFile, local_path
from bsrgan.assets.settings import MIRRORS_ENV, AssetSettings


def describe_sources(entry: AssetFile) -> str:
    """Lines giving the file's URL (or that it has none) and its expected sha256."""
    if entry.url:
        url = f"  URL: {entry.url}"
    else:
        what = entry.note or "a file made for this project"
        url = (f"  URL: none - this file has no public download; it is only available from a "
               f"mirror. It is: {what}")
    if entry.check is None:
        return (f"{url}\n  expected sha256: unknown (not published; recorded on first use, "
                "file unverified)")
    kind, expected = entry.check
    return f"{url}\n  expected {kind}: {expected}"


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


def unavailable(entry: AssetFile, settings: AssetSettings, reason: str) -> AssetError:
    """The error for a file found neither in the cache nor a mirror, and not downloaded."""
    return AssetError(not_found(entry, settings, reason), reason=reason)


def offline_reason(settings: AssetSettings) -> str:
    """Why nothing was downloaded: ``BSRGAN_OFFLINE=1`` only when that variable is what said so."""
    return settings.offline_reason or "downloads are disabled"


def mismatch(entry: AssetFile, source: str, got: str, settings: AssetSettings, *,
             expected: str | None = None, what: str = "sha256",
             consequence: str = "Nothing was cached.") -> str:
    """Message for a file whose hash or size differs from what is expected.

    Without ``expected`` the registry hash is expected (sha256, or the git blob SHA-1 where only
    that is known; ``what`` then names it).
    """
    if expected is None and entry.check is not None:
        what, expected = entry.check
    want = expected
    return (f"Asset {entry.asset!r}: {what} mismatch for {entry.relpath} from {source}: "
            f"expected {want}, got {got}. {consequence}\n"
            f"{describe_sources(entry)}\n{placement_hint(entry, settings)}")


def explicit_path(entry: AssetFile, path: Path, problem: str) -> str:
    """Message for a user-given path that cannot stand in for a registry file."""
    return (f"Asset {entry.asset!r}: the given path {path} for {entry.relpath} {problem}.\n"
            f"{describe_sources(entry)}")
