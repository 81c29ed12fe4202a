"""sha256 hashing, hashed copies, and ``<file>.sha256`` sidecars for files of unknown hash."""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from bsrgan.utils.atomic import atomic_write_text

CHUNK_BYTES = 1 << 20
SIDECAR_SUFFIX = ".sha256"


def sha256_file(path: Path) -> str:
    """Lowercase hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
