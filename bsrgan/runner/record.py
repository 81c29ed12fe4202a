"""What a notebook used and found, for ``run.json``: inputs with sha256, configs, headline metrics.

A notebook calls :func:`record` (any number of times; entries merge) to write
``<OUTPUT_DIR>/record.json``::

    record(out, datasets={"training": HR_DIR or None}, weights={"BSRNet (EMA)": path},
           configs={"stage1": config_to_dict(config)}, metrics={"psnr_y_db": 21.5})

Datasets are hashed as the images the code reads (one digest over the sorted names and sha256 of
every image in the folder; ``None`` means the photos embedded in scikit-image), weights as files;
a registry name (e.g. ``"BSRNet"``) is resolved through the asset cache first. ``bsrgan run``
copies the record into the notebook's entry in ``run.json``. Paths are written relative to the
project (``<project>/...``) or the home folder (``~/...``), so a record can be committed.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

from bsrgan.utils.atomic import atomic_write_text

RECORD_FILE = "record.json"
_SECTIONS = ("metrics", "configs", "datasets", "weights")


def record(output_dir: str | os.PathLike[str], *, metrics: dict[str, Any] | None = None,
           configs: dict[str, Any] | None = None,
           datasets: dict[str, str | os.PathLike[str] | None] | None = None,
           weights: dict[str, str | os.PathLike[str]] | None = None) -> Path:
    """Merge entries into ``<output_dir>/record.json`` (atomic); returns its path.

    Args:
        metrics: headline numbers (JSON values, nested dicts allowed), e.g. the final
            validation PSNR; NaN and infinities are written as null.
        configs: resolved configs as plain dicts (``config_to_dict``); absolute paths in them
            are written with :func:`portable_path`.
        datasets: role -> image folder, asset name, or None (the embedded photos).
        weights: role -> weights file or registry name.
    """
    data = read_record(output_dir)
    if metrics:
        data["metrics"].update({k: _plain(v) for k, v in metrics.items()})
    if configs:
        data["configs"].update(_portable_paths(configs))
    for role, source in (datasets or {}).items():
        data["datasets"][role] = describe_dataset(source)
    for role, source in (weights or {}).items():
        data["weights"][role] = describe_weights(source)
    json.dumps(data, allow_nan=False)  # fail here, not in the runner, on a value that is not JSON
    return atomic_write_text(Path(output_dir) / RECORD_FILE,
                             json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_record(output_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The record of a notebook's output folder (empty sections when there is none)."""
    path = Path(output_dir) / RECORD_FILE
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON: {exc}") from exc
    return {section: dict(data.get(section) or {}) for section in _SECTIONS}


def describe_dataset(source: str | os.PathLike[str] | None) -> dict[str, Any]:
    """``{"path", "images", "sha256"}`` of HR images or an asset.

    ``source``: None or ``"embedded"`` (the photos in scikit-image), an image folder (searched
    recursively), a ``manifest.tsv`` / prepared folder (its manifest, which holds every
    sub-image's sha256, is hashed instead of the images), a file list, or an asset name.
    """
    from bsrgan.assets.verify import sha256_file
    from bsrgan.data.discovery import discover_hr_images
    from bsrgan.data.manifest import MANIFEST_NAME

    if source is None or str(source) == "embedded":
        from bsrgan.data.embedded import EMBEDDED_PHOTOS, embedded_data_dir

        files = [embedded_data_dir() / name for name in EMBEDDED_PHOTOS.values()]
        shown = "embedded scikit-image photos"
    else:
        path = Path(source)
        if not path.exists():
            from bsrgan.assets import fetch

            path = Path(fetch(str(source), progress=False))
        shown = portable_path(path)
        manifest = path if path.is_file() and path.name == MANIFEST_NAME else path / MANIFEST_NAME
        if manifest.is_file():
            return {"path": shown, "images": len(discover_hr_images(path).images),
                    "sha256": sha256_file(manifest), "hashed": MANIFEST_NAME}
        files = [image.path for image in discover_hr_images(path).images]
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.name):
        digest.update(f"{path.name}\t{sha256_file(path)}\n".encode())
    return {"path": shown, "images": len(files), "sha256": digest.hexdigest()}


def describe_weights(source: str | os.PathLike[str]) -> dict[str, Any]:
    """``{"path", "sha256"}`` of a weights file (a registry name is fetched into the cache)."""
    from bsrgan.assets.verify import sha256_file

    path = Path(source)
    if not path.is_file():
        from bsrgan.assets import AssetError, fetch

        try:
            path = Path(fetch(str(source), progress=False))
        except AssetError as exc:
            return {"path": str(source), "sha256": None,
                    "error": str(exc).strip().splitlines()[0]}
    return {"path": portable_path(path), "sha256": sha256_file(path)}


def portable_path(path: str | os.PathLike[str]) -> str:
    """``path`` relative to the project (``<project>/...``) or home (``~/...``) when below them."""
    from bsrgan.runner.outputs import project_root

    path = Path(path).resolve()
    for root, prefix in ((project_root(path), "<project>/"), (Path.home(), "~/")):
        try:
            rel = path.relative_to(root.resolve())
        except ValueError:
            continue
        if (root / "pyproject.toml").is_file() or prefix == "~/":
            return f"{prefix}{rel}"
    return str(path)


def _portable_paths(value: Any) -> Any:
    """Every absolute path string in a nested config, through :func:`portable_path`."""
    if isinstance(value, dict):
        return {k: _portable_paths(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_portable_paths(v) for v in value]
    if isinstance(value, str) and os.path.isabs(value):
        return portable_path(value)
    return value


def _plain(value: Any) -> Any:
    """numpy scalars -> Python numbers, NaN/inf -> None (strict JSON), recursively."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        try:
            value = value.item()
        except (TypeError, ValueError):
            return value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
