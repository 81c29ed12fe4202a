"""The JSON provenance record of an evaluation: what was scored, with what, under which protocol.

Paths are stored relative to the results folder or by file name only (with their sha256), never
as absolute paths of this machine, so a results folder can be committed or shared as is.
"""
from __future__ import annotations

import json
import math
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bsrgan.utils.atomic import atomic_write_text


def portable_path(path: str | os.PathLike[str] | None, root: Path) -> str | None:
    """``path`` relative to ``root`` when inside it, else its file name (no machine paths)."""
    if path is None:
        return None
    path = Path(path)
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


def environment() -> dict[str, Any]:
    """Package versions, git commit and hardware (from :mod:`bsrgan.runner.provenance`)."""
    from bsrgan.runner.provenance import device_info, environment_flags, git_info, package_versions

    return {
        "python": sys.version.split()[0],
        "packages": package_versions(),
        "git": git_info(Path(__file__).resolve().parent),
        "device": device_info(),
        "env_set": environment_flags(),
    }


def provenance_record(*, dataset: dict[str, Any], methods: list[dict[str, Any]],
                      metrics: dict[str, Any], protocol: dict[str, Any], outputs: dict[str, str],
                      counts: dict[str, Any], command: list[str] | None = None,
                      seconds: float | None = None) -> dict[str, Any]:
    """Assemble the record (every argument is already JSON-serialisable)."""
    return {
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "protocol": protocol,
        "dataset": dataset,
        "methods": methods,
        "metrics": metrics,
        "counts": counts,
        "outputs": outputs,
        "seconds": None if seconds is None else round(seconds, 1),
        "environment": environment(),
    }


def write_provenance(path: Path, record: dict[str, Any]) -> Path:
    """Atomic, pretty-printed JSON (NaN written as null, infinities as "inf" / "-inf")."""
    text = json.dumps(_finite(record), indent=2, sort_keys=False, allow_nan=False)
    atomic_write_text(path, text + "\n")
    return path


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj
