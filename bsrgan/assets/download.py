"""Streamed, verified, atomic download of one registry file; optionally resumable.

A plain download leaves nothing behind when it fails. A resumable one (``resume=True``, used for
the multi-gigabyte training archives) keeps the bytes it got in ``.<name>.part`` next to the
target and continues from there on the next call with an HTTP ``Range`` request; a server that
ignores the range (status 200) makes it start over. Either way the file is renamed onto its
target only when it is complete and verified.

pooch, the scientific-Python registry/download library, was not used here: its HTTP downloader
always fetches the whole file (no ``Range`` resume), and this package already has the registry,
mirror and trust-on-first-use logic pooch would otherwise provide.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from bsrgan.assets import messages
from bsrgan.assets.errors import AssetError
from bsrgan.assets.registry import AssetFile
from bsrgan.assets.settings import AssetSettings
from bsrgan.assets.verify import CHUNK_BYTES, content_mismatch, hash_file, stream_hashed
from bsrgan.utils.atomic import atomic_path


def download(entry: AssetFile, target: Path, settings: AssetSettings, *,
             progress: bool = True, resume: bool = False) -> tuple[Path, str]:
    """Download ``entry.url`` to ``target``; return ``(target, sha256)``.

    ``resume=True``: see the module docstring (:func:`download_resumable`).

    The bytes go to a temporary file in ``target``'s folder, which is renamed onto ``target``
    only when the byte count matches ``Content-Length`` and the registry size, and the sha256
    (or git blob SHA-1) matches the registry (when known). Otherwise the temporary file is removed and
    :class:`AssetError` names the asset, the URL and the expected hash. Network errors
    (DNS, refused, timeout, HTTP status, dropped connection) become :class:`AssetError` too.
    """
    if not entry.url:
        raise messages.unavailable(entry, settings, "it has no download URL")
    if resume:
        return download_resumable(entry, target, settings, progress=progress)
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


def partial_path(target: Path) -> Path:
    """Where a resumable download keeps the bytes received so far."""
    return target.with_name(f".{target.name}.part")


def download_resumable(entry: AssetFile, target: Path, settings: AssetSettings, *,
                       progress: bool = True) -> tuple[Path, str]:
    """Download ``entry.url`` to ``target``, continuing a ``.part`` file an earlier call left.

    Returns ``(target, sha256)``. On a network error the bytes received so far stay in
    :func:`partial_path` and :class:`AssetError` says so; on a size or hash mismatch of the
    complete file the partial file is removed.
    """
    part = partial_path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    offset = part.stat().st_size if part.is_file() else 0
    if entry.size is not None and offset > entry.size:
        part.unlink()
        offset = 0
    digest = _hash_prefix(part, offset)
    try:
        if entry.size is None or offset < entry.size:
            digest = _fetch_rest(entry, part, offset, digest, settings, progress)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        kept = part.stat().st_size if part.is_file() else 0
        raise messages.unavailable(
            entry, settings, f"download failed ({_describe(exc)}); {kept} bytes are kept in "
                             f"{part} and the next attempt continues from there") from exc
    sha256, n_bytes = digest.hexdigest(), part.stat().st_size
    try:
        _check_complete(entry, settings, n_bytes, None, sha256, part)
    except AssetError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, target)
    return target, sha256


def _fetch_rest(entry: AssetFile, part: Path, offset: int, digest: hashlib._Hash,
                settings: AssetSettings, progress: bool) -> hashlib._Hash:
    """Append the bytes after ``offset`` to ``part`` (rewrite it if the server ignores the
    range); return the sha256 state of the whole file."""
    from bsrgan import __version__

    headers = {"User-Agent": f"bsrgan/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(entry.url or "", headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=settings.timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # range not satisfiable: the part is the whole file
            return digest
        raise
    with response:
        if offset and not _continues_at(response, offset):
            offset, digest = 0, hashlib.sha256()  # the server sent the whole file again
        length = response.headers.get("Content-Length", "")
        total = offset + int(length) if length.strip().isdigit() else entry.size
        with open(part, "ab" if offset else "wb") as out, tqdm(
                total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                desc=entry.relpath, disable=not progress) as bar:
            for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                out.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
    received = part.stat().st_size
    if total is not None and received < total:
        raise http.client.IncompleteRead(b"", total - received)
    return digest


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def _continues_at(response: http.client.HTTPResponse, offset: int) -> bool:
    """True when the server answered a Range request with the bytes from ``offset`` on."""
    if response.status != 206:
        return False
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    return bool(match) and int(match.group(1)) == offset


def _hash_prefix(path: Path, n_bytes: int) -> hashlib._Hash:
    """sha256 state of the part already downloaded: all of ``path``, whose size is ``n_bytes``
    (0: nothing kept, ``path`` may not exist)."""
    return hash_file(hashlib.sha256(), path) if n_bytes else hashlib.sha256()
