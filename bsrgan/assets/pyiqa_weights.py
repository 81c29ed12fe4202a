"""Local files for pyiqa metrics, so that pyiqa never starts its own download.

Pass the result as ``pretrained_model_path``, e.g.
``pyiqa.create_metric("niqe", pretrained_model_path=str(pyiqa_weight_path("niqe")))``.
"""
from __future__ import annotations

from pathlib import Path

from bsrgan.assets.registry import Registry
from bsrgan.assets.resolution import PathLike, fetch
from bsrgan.assets.settings import AssetSettings

# pyiqa metric name -> registry asset holding its parameter file.
PYIQA_ASSETS: dict[str, str] = {
    "niqe": "niqe-params",
    "nrqm": "nrqm-model",
}


def pyiqa_weight_path(name: str, *, path: PathLike | None = None, progress: bool = True,
                      registry: Registry | None = None,
                      settings: AssetSettings | None = None) -> Path:
    """Verified local path of the parameter file of pyiqa metric ``name`` (``niqe``, ``nrqm``).

    An asset name (``niqe-params``, ``nrqm-model``) is accepted too. Raises ``KeyError`` for a
    metric without a registered file and :class:`AssetError` when the file cannot be obtained.
    """
    key = name.lower()
    if key in PYIQA_ASSETS:
        asset = PYIQA_ASSETS[key]
    elif name in PYIQA_ASSETS.values():
        asset = name
    else:
        raise KeyError(f"no registered parameter file for pyiqa metric {name!r}; "
                       f"known: {', '.join(PYIQA_ASSETS)}")
    return fetch(asset, path=path, progress=progress, registry=registry, settings=settings)
