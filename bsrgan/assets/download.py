"""Streamed, verified, atomic download of one registry file."""
from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from bsrgan.assets import messages
from bsrgan.assets.errors import AssetError
from bsrgan.assets.registry import AssetFile
from bsrgan.assets.settings import AssetSettings
from bsrgan.assets.verify import content_mismatch, stream_hashed
from bsrgan.utils.atomic import atomic_path


def download(entry: AssetFile, target: Path, settings: AssetSettings, *,
             progress: bool = True) -> tuple[Path, str]:
    """Download ``entry.url`` to ``target``; return ``(target, sha256)``.

    The bytes go to a temporary file in ``target``'s folder, which is renamed onto ``target``
    only when the byte count matches ``Content-Length`` and the registry size, and the sha256
    (or git blob SHA-1) matches the registry (when known). Otherwise the temporary file is removed and
    :class:`AssetError` names the asset, the URL and the expected hash. Network errors
    (DNS, refused, timeout, HTTP status, dropped connection) become :class:`AssetError` too.
    """
    if not entry.url:
        raise messages.unavailable(entry, settings, "it has no download URL")
    from bsrgan import __version__

    request = urllib.request.Request(entry.url, headers={"User-Agent": f"bsrgan/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout) as response:
            header = response.headers.get("Content-Length", "")
            announced = int(header) if header.strip().isdigit() else None
            with atomic_path(target) as tmp, tqdm(
                total=announced if announced is not None else entry.size, unit="B",
                unit_scale=True, unit_divisor=1024, desc=entry.relpath, disable=not progress,
            ) as bar:
                sha256, n_bytes = stream_hashed(response, tmp, bar.update)
                _check_complete(entry, settings, n_bytes, announced, sha256, tmp)
    except AssetError:
        raise
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        raise messages.unavailable(entry, settings, f"download failed ({_describe(exc)})") from exc
    return target, sha256


def _check_complete(entry: AssetFile, settings: AssetSettings, n_bytes: int,
                    announced: int | None, sha256: str, path: Path) -> None:
    """Raise (so that the temporary file is dropped) unless the download is whole and correct."""
    if announced is not None and n_bytes != announced:
        raise AssetError(messages.mismatch(
            entry, f"{entry.url} (download interrupted)", f"{n_bytes} bytes", settings,
            expected=f"{announced} bytes", what="size"))
    if entry.size is not None and n_bytes != entry.size:
        raise AssetError(messages.mismatch(
            entry, entry.url or "", f"{n_bytes} bytes", settings,
            expected=f"{entry.size} bytes", what="size"))
    got = content_mismatch(entry.check, path, sha256)
    if got is not None:
        raise AssetError(messages.mismatch(entry, entry.url or "", got, settings))


def _describe(exc: BaseException) -> str:
    """Short reason for a network failure: HTTP status, or the underlying socket error."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, BaseException):
        return f"{type(reason).__name__}: {reason}"
    return f"{type(exc).__name__}: {reason}"
