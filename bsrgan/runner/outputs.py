"""Values a notebook hands to the notebooks after it (e.g. the path of the BSRNet weights).

A notebook ends with ``write_outputs(OUTPUT_DIR, BSRNET_WEIGHTS=str(path))``; the runner reads
the file after the notebook finished and passes each value to every later notebook that declares
a parameter of that name. Values must be JSON-serialisable plain values.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bsrgan.utils.atomic import atomic_write_text

OUTPUTS_FILE = "outputs.json"


def write_outputs(output_dir: str | os.PathLike[str], **values: Any) -> Path:
    """Merge ``values`` into ``<output_dir>/outputs.json`` (atomic) and return its path."""
    path = Path(output_dir) / OUTPUTS_FILE
    merged = read_outputs(output_dir)
    for name, value in values.items():
        try:
            json.dumps(value)
        except TypeError as exc:
            raise TypeError(f"output {name}={value!r} is not JSON-serialisable: {exc}") from exc
        merged[name] = value
    return atomic_write_text(path, json.dumps(merged, indent=2, sort_keys=True) + "\n")


def read_outputs(output_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The outputs a notebook recorded in ``output_dir`` ({} when it recorded none)."""
    path = Path(output_dir) / OUTPUTS_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise TypeError(f"{path}: expected a JSON object of NAME: value")
    return data


def project_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The checkout a notebook runs in: the nearest folder at or above ``start`` (default: the
    working directory) holding ``pyproject.toml`` and ``notebooks/``; ``start`` itself if none."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "notebooks").is_dir():
            return folder
    return here


def notebook_output_dir(output_dir: str | os.PathLike[str], notebook: str) -> Path:
    """Where a notebook writes, created if missing.

    ``output_dir`` when one is given (``bsrgan run`` and papermill pass it); an empty value, the
    default of an interactive Jupyter session, means ``<project>/results/lab/<notebook>/``, which
    git ignores, so Run-All in JupyterLab never writes next to the notebooks.
    """
    folder = Path(output_dir) if str(output_dir) else project_root() / "results" / "lab" / notebook
    folder.mkdir(parents=True, exist_ok=True)
    return folder
