"""Content-addressed reuse of generated SR images.

An SR image ``<folder>/<stem>.png`` is reused when its key file ``<folder>/.keys/<stem>.key``
holds the key of the current request: sha256 over the LR input's bytes and the method's
fingerprint (weights, precision, code version, device, the tile used...: see
:mod:`bsrgan.evaluation.generate`). Any change of input or weights gives a new key and the image
is regenerated. The key is written after the image, so an interrupted run
never leaves a stale image that looks finished.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from bsrgan.assets.verify import sha256_file
from bsrgan.utils.atomic import atomic_write_text

__all__ = ["OutputCache", "cache_key", "sha256_file"]


def cache_key(input_sha256: str, fingerprint: dict[str, Any]) -> str:
    """Hex sha256 of the input hash and the method fingerprint (JSON, sorted keys)."""
    payload = json.dumps({"input": input_sha256, "method": fingerprint}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


class OutputCache:
    """Key files next to the generated images of one method."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def image_path(self, stem: str) -> Path:
        return self.folder / f"{stem}.png"

    def _key_path(self, stem: str) -> Path:
        return self.folder / ".keys" / f"{stem}.key"

    def is_fresh(self, stem: str, key: str) -> bool:
        """True when ``<stem>.png`` exists and was made for ``key``."""
        key_file = self._key_path(stem)
        if not (self.image_path(stem).is_file() and key_file.is_file()):
            return False
        return key_file.read_text().strip() == key

    def invalidate(self, stem: str) -> None:
        """Forget ``stem`` before regenerating it (an interrupted rewrite then counts as stale)."""
        self._key_path(stem).unlink(missing_ok=True)

    def record(self, stem: str, key: str) -> None:
        """Mark ``<stem>.png`` (already written) as made for ``key``."""
        atomic_write_text(self._key_path(stem), key + "\n")
