"""SR generators for methods computed here: ``bicubic`` and ``model:``.

A generator maps an LR image float32 (h, w, 3) in [0, 1] to its SR image float32
(s*h, s*w, 3) in [0, 1]. For the cache key (:mod:`bsrgan.evaluation.cache`) it describes
everything that changes its output:

- ``fingerprint``: the method's settings that change every output (bicubic: scale; models:
  weights sha256 and precision) and the code version: the package version, the sha256 of the
  source files that compute the output (:data:`CODE_MODULES`) and, for models, the torch version;
- ``run_settings(h, w)``: what one image actually runs with, the device and the tile planned
  for its size (``0`` = whole image) and, only when tiled, the tile overlap; passed back to
  ``__call__`` so the key and the run agree.

The options that only choose a tile (``tile``, ``memory_budget``) are not keyed themselves:
the tile they give is. Another budget that plans the same tile reuses the cached images.

Model weights are hashed up front but the network is loaded only when a tile plan or an image
needs it.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from bsrgan.assets.verify import sha256_file_cached
from bsrgan.evaluation.methods import MethodSpec

#: modules whose source decides each generator's output (their sha256 is in the cache key)
CODE_MODULES: dict[str, tuple[str, ...]] = {
    "bicubic": ("bsrgan.degradation.resize", "bsrgan.io", "bsrgan.evaluation.generate"),
    "model": ("bsrgan.inference.upscale", "bsrgan.inference.tiling", "bsrgan.inference.device",
              "bsrgan.models.rrdbnet", "bsrgan.models.pretrained", "bsrgan.io",
              "bsrgan.evaluation.generate"),
}


@functools.cache
def source_sha256(modules: tuple[str, ...]) -> str:
    """sha256 over the source files of ``modules`` (in order), read once per process."""
    digest = hashlib.sha256()
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ImportError(f"cannot locate the source of {name}")
        digest.update(name.encode() + b"\0" + Path(spec.origin).read_bytes() + b"\0")
    return digest.hexdigest()


def code_version(kind: str) -> dict[str, str]:
    """``{"bsrgan": version, "source_sha256": ...}`` (plus ``torch`` for models): the version
    of the code that makes a ``kind`` generator's output. Any edit of those sources, or a
    new release, gives new cache keys, so older cached images are never reused."""
    from bsrgan import __version__

    version = {"bsrgan": __version__, "source_sha256": source_sha256(CODE_MODULES[kind])}
    if kind == "model":
        import torch

        version["torch"] = torch.__version__
    return version


class BicubicUpscaler:
    """MATLAB ``imresize(lr, scale, 'bicubic')`` (Keys a = -0.5), clipped to [0, 1]."""

    def __init__(self, scale: int = 4) -> None:
        if scale < 1:
            raise ValueError(f"bicubic scale must be >= 1, got {scale}")
        self.scale = int(scale)
        self.fingerprint: dict[str, Any] = {"kind": "bicubic", "resize": "matlab-imresize-bicubic",
                                            "scale": self.scale, "code": code_version("bicubic")}

    def run_settings(self, height: int, width: int) -> dict[str, Any]:
        """Per-image settings: bicubic always runs in numpy on the CPU, whole."""
        return {"device": "cpu"}

    def __call__(self, lr: np.ndarray, run: dict[str, Any] | None = None) -> np.ndarray:
        from bsrgan.degradation.resize import imresize

        return np.clip(imresize(lr, scale=self.scale), 0.0, 1.0)


def resolve_weights(target: str) -> Path:
    """A weights file path, or a registry name (``BSRGAN``...) fetched through ``bsrgan.assets``."""
    path = Path(target).expanduser()
    if path.is_file():
        return path
    from bsrgan.models import PRETRAINED

    if target in PRETRAINED:
        from bsrgan.assets import fetch

        return Path(fetch(target))
    raise FileNotFoundError(f"model {target!r} is neither an existing weights file nor a registered "
                            f"name ({', '.join(sorted(PRETRAINED))})")


class ModelUpscaler:
    """An RRDBNet from a weights file, run with :func:`bsrgan.inference.upscale`.

    ``tile=None`` plans each image's tile from ``memory_budget`` (whole image when it fits,
    :func:`bsrgan.inference.plan_tile`); the planned tile is part of the image's cache key.
    """

    def __init__(self, weights: Path, *, tile: int | None = None, tile_overlap: int = 32,
                 precision: str = "fp32", device: str = "auto",
                 memory_budget: int | None = None) -> None:
        from bsrgan.inference.device import check_precision, select_device

        self.weights = Path(weights)
        self.weights_sha256 = sha256_file_cached(self.weights)
        self.tile, self.tile_overlap = tile, tile_overlap
        self.precision, self.memory_budget = precision, memory_budget
        self.device = select_device(device)
        self.dtype = check_precision(precision, self.device)
        self._model = None
        self.fingerprint: dict[str, Any] = {
            "kind": "model", "weights_sha256": self.weights_sha256, "precision": precision,
            "code": code_version("model"),
        }

    @property
    def model(self):
        if self._model is None:
            from bsrgan.models import load_pretrained

            self._model = load_pretrained(self.weights)
        return self._model

    @property
    def scale(self) -> int:
        return int(self.model.sf)

    def device_name(self) -> str:
        """``"cpu"`` or ``"cuda (<GPU name>)"``: outputs may differ between devices."""
        if self.device.type == "cuda":
            import torch

            return f"cuda ({torch.cuda.get_device_name(self.device)})"
        return self.device.type

    def run_settings(self, height: int, width: int) -> dict[str, Any]:
        """The device and the tile (``0`` = whole image) an ``height x width`` input runs with,
        and the overlap of its tiles when there are any (a whole image has none to blend)."""
        from bsrgan.inference import plan_tile

        tile = self.tile
        if tile is None:
            tile = plan_tile(self.model, height, width, self.device, self.dtype,
                             budget=self.memory_budget)
        run = {"device": self.device_name(), "tile_used": int(tile)}
        if tile:
            run["tile_overlap"] = self.tile_overlap
        return run

    def __call__(self, lr: np.ndarray, run: dict[str, Any] | None = None) -> np.ndarray:
        from bsrgan.inference import upscale

        run = self.run_settings(*lr.shape[:2]) if run is None else run
        sr = upscale(self.model, lr, tile=run["tile_used"], tile_overlap=self.tile_overlap,
                     precision=self.precision, device=self.device)
        return np.clip(sr, 0.0, 1.0)


def output_key(generator, input_sha256: str, height: int, width: int) -> tuple[str, dict[str, Any]]:
    """(cache key, run settings) of ``generator``'s SR image of an ``height x width`` input with
    this sha256: the key :class:`bsrgan.evaluation.cache.OutputCache` files the image under."""
    from bsrgan.evaluation.cache import cache_key

    run = generator.run_settings(height, width)
    return cache_key(input_sha256, {**generator.fingerprint, **run}), run


#: the options of :func:`make_generator` (``evaluate`` passes them through)
GENERATOR_OPTIONS = ("scale", "tile", "tile_overlap", "precision", "device", "memory_budget")


def make_generator(method: MethodSpec, *, scale: int = 4, tile: int | None = None,
                   tile_overlap: int = 32, precision: str = "fp32", device: str = "auto",
                   memory_budget: int | None = None):
    """The generator of a ``bicubic`` / ``model:`` method (ValueError for other kinds)."""
    if method.kind == "bicubic":
        return BicubicUpscaler(scale)
    if method.kind == "model":
        return ModelUpscaler(resolve_weights(method.target), tile=tile, tile_overlap=tile_overlap,
                             precision=precision, device=device, memory_budget=memory_budget)
    raise ValueError(f"method {method.name!r} ({method.spec}) reads existing outputs; "
                     "nothing to generate")
