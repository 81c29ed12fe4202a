"""Content hashes (sha256; git blob SHA-1), hashed copies, and ``<file>.sha256`` sidecars.

A git blob SHA-1 is SHA-1 over ``b"blob <size>\\0"`` followed by the file's bytes: the id git
gives a file's content. It is how a repository file can be verified when only its git object
id is published (GitHub's tree API lists it for every file, sha256 it does not).
"""
from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from bsrgan.utils.atomic import atomic_write_text

CHUNK_BYTES = 1 << 20
SIDECAR_SUFFIX = ".sha256"


def hash_file(digest, path: Path):
    """Feed the bytes of ``path`` to the hashlib object ``digest`` (in CHUNK_BYTES reads); returns it."""
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest


def sha256_file(path: Path) -> str:
    """Lowercase hex sha256 of the file at ``path``."""
    return hash_file(hashlib.sha256(), path).hexdigest()


@functools.lru_cache(maxsize=256)
def _sha256_of(path: str, identity: tuple[int, ...]) -> str:
    return sha256_file(Path(path))


def sha256_file_cached(path: str | os.PathLike[str]) -> str:
    """:func:`sha256_file`, read once per file version in this process (same inode, size,
    modification and change times): for files that several steps hash (weights checked, then
    loaded; inputs checked for reuse, then evaluated)."""
    st = os.stat(path)
    identity = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    return _sha256_of(str(Path(path).resolve()), identity)


def git_blob_sha1(path: Path) -> str:
    """Lowercase hex git blob SHA-1 of the file at ``path`` (what ``git hash-object`` prints)."""
    size = os.path.getsize(path)
    return hash_file(hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False), path).hexdigest()


def content_mismatch(check: tuple[str, str] | None, path: Path,
                     sha256: str | None = None) -> str | None:
    """The hash ``path`` has when it differs from ``check`` (``(kind, hex)``), else None.

    ``kind`` is ``"sha256"`` or ``"git blob SHA-1"``; ``sha256`` is the file's sha256 when the
    caller already computed it (a streamed copy). ``check=None`` (unknown hash) never mismatches.
    """
    if check is None:
        return None
    kind, expected = check
    if kind == "sha256":
        got = sha256 if sha256 is not None else sha256_file(path)
    elif kind == "git blob SHA-1":
        got = git_blob_sha1(path)
    else:
        raise ValueError(f"unknown hash kind {kind!r}")
    return None if got == expected else got


def stream_hashed(
    src: BinaryIO, dst: Path, on_chunk: Callable[[int], object] | None = None
) -> tuple[str, int]:
    """Copy ``src`` into the new file ``dst``, hashing on the way; return ``(sha256, bytes)``.

    ``on_chunk(n)`` is called after each chunk (progress bars). ``dst`` is fsynced.
    """
    digest = hashlib.sha256()
    n_bytes = 0
    with open(dst, "wb") as out:
        for chunk in iter(lambda: src.read(CHUNK_BYTES), b""):
            out.write(chunk)
            digest.update(chunk)
            n_bytes += len(chunk)
            if on_chunk is not None:
                on_chunk(len(chunk))
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest(), n_bytes


def sidecar_path(path: Path) -> Path:
    """Where the recorded hash of ``path`` lives: ``<path>.sha256``."""
    return path.with_name(path.name + SIDECAR_SUFFIX)


def read_sidecar(path: Path) -> str | None:
    """The sha256 recorded for ``path`` (``sha256sum`` format), or None when not recorded."""
    side = sidecar_path(path)
    try:
        text = side.read_text(encoding="utf-8").split()
    except FileNotFoundError:
        return None
    return text[0].lower() if text else None


def write_sidecar(path: Path, sha256: str) -> Path:
    """Record ``sha256`` for ``path`` next to it, in ``sha256sum`` format; return the sidecar."""
    return atomic_write_text(sidecar_path(path), f"{sha256}  {path.name}\n")
