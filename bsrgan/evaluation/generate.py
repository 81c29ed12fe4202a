"""SR generators for methods computed here: ``bicubic`` and ``model:``.

A generator maps an LR image float32 (h, w, 3) in [0, 1] to its SR image float32
(s*h, s*w, 3) in [0, 1] and carries a JSON ``fingerprint`` of everything that changes its output
(the cache key, see :mod:`bsrgan.evaluation.cache`). Model weights are hashed up front but the
network is loaded only when an image actually has to be generated.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bsrgan.assets.verify import sha256_file
from bsrgan.evaluation.methods import MethodSpec


class BicubicUpscaler:
    """MATLAB ``imresize(lr, scale, 'bicubic')`` (Keys a = -0.5), clipped to [0, 1]."""

    def __init__(self, scale: int = 4) -> None:
        if scale < 1:
            raise ValueError(f"bicubic scale must be >= 1, got {scale}")
        self.scale = int(scale)
        self.fingerprint: dict[str, Any] = {"kind": "bicubic", "resize": "matlab-imresize-bicubic",
                                            "scale": self.scale}

    def __call__(self, lr: np.ndarray) -> np.ndarray:
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
    """An RRDBNet from a weights file, run with :func:`bsrgan.inference.upscale` (tiled)."""

    def __init__(self, weights: Path, *, tile: int | None = None, tile_overlap: int = 32,
                 precision: str = "fp32", device: str = "auto") -> None:
        self.weights = Path(weights)
        self.weights_sha256 = sha256_file(self.weights)
        self.tile, self.tile_overlap = tile, tile_overlap
        self.precision, self.device = precision, device
        self._model = None
        self.fingerprint: dict[str, Any] = {
            "kind": "model", "weights_sha256": self.weights_sha256, "tile": tile,
            "tile_overlap": tile_overlap, "precision": precision,
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

    def __call__(self, lr: np.ndarray) -> np.ndarray:
        from bsrgan.inference import upscale

        sr = upscale(self.model, lr, tile=self.tile, tile_overlap=self.tile_overlap,
                     precision=self.precision, device=self.device)
        return np.clip(sr, 0.0, 1.0)


def make_generator(method: MethodSpec, *, scale: int = 4, tile: int | None = None,
                   tile_overlap: int = 32, precision: str = "fp32", device: str = "auto"):
    """The generator of a ``bicubic`` / ``model:`` method (ValueError for other kinds)."""
    if method.kind == "bicubic":
        return BicubicUpscaler(scale)
    if method.kind == "model":
        return ModelUpscaler(resolve_weights(method.target), tile=tile, tile_overlap=tile_overlap,
                             precision=precision, device=device)
    raise ValueError(f"method {method.name!r} ({method.spec}) reads existing outputs; "
                     "nothing to generate")
