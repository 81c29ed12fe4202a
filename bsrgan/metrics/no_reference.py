"""NIQE, NRQM and PI metric objects: protocol (luma + shave) -> backend -> score.

NIQE runs our MATLAB-faithful port (:mod:`bsrgan.metrics.niqe`) by default, or pyiqa's with
``backend="pyiqa"`` (cross-check). NRQM runs our torch implementation (:mod:`bsrgan.metrics.nrqm`,
equal to pyiqa's, on the GPU when present) by default, or pyiqa's with ``backend="pyiqa"`` (the
reference; CPU only); both read the ``nrqm-model`` asset and are unavailable
(:class:`MetricUnavailable`) without it. PI = ((10 - NRQM) + NIQE) / 2 (PIRM 2018):
:func:`perceptual_index` combines NIQE and NRQM values computed elsewhere.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from .base import Metric, MetricInfo
from .errors import MetricUnavailable
from .inputs import ImageLike, as_rgb, image_label
from .model_files import NIQE_ASSET, NRQM_ASSET, model_file
from .niqe import NIQE_BLOCK_SIZE, load_niqe_model, niqe_from_luma
from .protocols import get_protocol, luma_for_protocol

__all__ = [
    "NIQE_BACKENDS",
    "NIQE_INFO",
    "NRQM_BACKENDS",
    "NRQM_INFO",
    "PI_INFO",
    "NIQEMetric",
    "NRQMMetric",
    "PIMetric",
    "perceptual_index",
]

NIQE_INFO = MetricInfo("niqe", True, False, (0.0, float("inf")),
                       "NIQE (Mittal et al. 2013), LIVE pristine model; lower is better")
NRQM_INFO = MetricInfo("nrqm", False, False, (0.0, 10.0),
                       "NRQM / Ma score (Ma et al. 2017); higher is better")
PI_INFO = MetricInfo("pi", True, False, (0.0, float("inf")),
                     "Perceptual Index ((10 - NRQM) + NIQE) / 2 (PIRM 2018); lower is better")
NIQE_BACKENDS = ("matlab-port", "pyiqa")
NRQM_BACKENDS = ("torch", "pyiqa")


def perceptual_index(niqe: float, nrqm: float) -> float:
    """PIRM 2018 perceptual index ``((10 - nrqm) + niqe) / 2`` (lower is better).

    For callers that compute NIQE and NRQM once per image (e.g. with :meth:`NIQEMetric.score_luma`
    and :meth:`NRQMMetric.score_luma` on one luma plane) and derive PI from them.
    """
    return ((10.0 - nrqm) + niqe) / 2.0


class _LumaMetric(Metric):
    """Shared input handling: any image -> protocol luma (0-255, shaved) with a size check."""

    def __init__(self, info: MetricInfo, protocol: str, crop_border: int | None, **settings) -> None:
        self.protocol = get_protocol(protocol)
        self.crop_border = self.protocol.shave if crop_border is None else int(crop_border)
        if self.crop_border < 0:
            raise ValueError(f"crop_border must be >= 0, got {crop_border}")
        super().__init__(info, protocol=protocol, crop_border=self.crop_border, **settings)

    def luma(self, img: ImageLike) -> np.ndarray:
        """(H - 2c, W - 2c) float64 0-255 luma of ``img`` under this metric's protocol."""
        rgb = as_rgb(img)
        self._check_size(rgb.shape[:2], img)
        return luma_for_protocol(rgb, self.protocol, self.crop_border)

    def _check_size(self, shape: tuple[int, int], img: ImageLike) -> None:
        """NIQE-based scores need two whole 96 x 96 blocks after shaving (one to fit a covariance)."""
        c, b = self.crop_border, NIQE_BLOCK_SIZE
        h, w = shape[0] - 2 * c, shape[1] - 2 * c
        if h < b or w < b or (h // b) * (w // b) < 2:
            raise ValueError(
                f"{image_label(img)}: {self.info.name} needs at least two whole {b}x{b} blocks after "
                f"shaving {c} px per border, i.e. an image of at least {b + 2 * c}x{2 * b + 2 * c} "
                f"or {2 * b + 2 * c}x{b + 2 * c} px; got {shape[0]}x{shape[1]} px"
            )


class NIQEMetric(_LumaMetric):
    """NIQE of an image. ``backend``: ``"matlab-port"`` (default) or ``"pyiqa"``."""

    def __init__(self, protocol: str = "pirm", crop_border: int | None = None,
                 backend: str = "matlab-port", model_path: str | Path | None = None) -> None:
        if backend not in NIQE_BACKENDS:
            raise ValueError(f"unknown NIQE backend {backend!r}; choose one of {NIQE_BACKENDS}")
        path = model_file("niqe", NIQE_ASSET, model_path)
        super().__init__(NIQE_INFO, protocol, crop_border, backend=backend, model_path=str(path))
        if backend == "pyiqa":
            from .pyiqa_backend import PyiqaNIQE

            self._score_luma = PyiqaNIQE(path)
        else:
            self._score_luma = partial(niqe_from_luma, model=load_niqe_model(path))  # picklable

    def score(self, img: ImageLike) -> float:
        return self.score_luma(self.luma(img), img)

    def score_luma(self, luma: np.ndarray, img: ImageLike = "luma") -> float:
        """NIQE of an already prepared luma plane (0-255, shaved); ``img`` names it in errors."""
        value = self._score_luma(luma)
        if not np.isfinite(value):
            raise ValueError(f"{image_label(img)}: NIQE is undefined (fewer than two blocks with "
                             "finite features, e.g. a flat image)")
        return value


class NRQMMetric(_LumaMetric):
    """NRQM (Ma et al. 2017) of an image; raises MetricUnavailable when ``NRQM_model.mat`` is missing.

    Args:
        protocol, crop_border: how the luma plane is made (:mod:`bsrgan.metrics.protocols`).
        model_path: an ``NRQM_model.mat`` to use instead of the ``nrqm-model`` asset.
        backend: ``"torch"`` (default: :class:`bsrgan.metrics.nrqm.NrqmScorer`) or ``"pyiqa"``.
        device: torch backend only: ``None`` (the GPU when present, else the CPU), ``"cpu"``, ...

    Attributes:
        model_sha256: hex sha256 of the model file in use (it has no published hash: record it).
    """

    def __init__(self, protocol: str = "pirm", crop_border: int | None = None,
                 model_path: str | Path | None = None, backend: str = "torch",
                 device: str | None = None) -> None:
        if backend not in NRQM_BACKENDS:
            raise ValueError(f"unknown NRQM backend {backend!r}; choose one of {NRQM_BACKENDS}")
        if backend == "pyiqa" and device not in (None, "cpu"):
            raise ValueError(f"pyiqa's NRQM runs on the CPU only, got device={device!r}")
        path = model_file("nrqm", NRQM_ASSET, model_path)
        if backend == "pyiqa":
            from bsrgan.assets.verify import sha256_file

            from .pyiqa_backend import PyiqaNRQM

            self._score_luma = PyiqaNRQM(path)
            self.model_sha256 = sha256_file(path)
        else:
            from .nrqm import NrqmScorer

            try:
                self._score_luma = NrqmScorer(path, device)
            except ValueError as err:
                raise MetricUnavailable("nrqm", f"its model file is unusable: {err}") from err
            self.model_sha256 = self._score_luma.sha256
        super().__init__(NRQM_INFO, protocol, crop_border, model_path=str(path), backend=backend,
                         device=device)

    def _check_size(self, shape: tuple[int, int], img: ImageLike) -> None:
        """The shaved luma plane must pass :func:`bsrgan.metrics.nrqm.size_problem` (both limits)."""
        from .nrqm import size_problem

        c = self.crop_border
        problem = size_problem(shape[0] - 2 * c, shape[1] - 2 * c)
        if problem:
            raise ValueError(f"{image_label(img)}: {problem} (the luma plane after shaving {c} px "
                             f"per border of the {shape[0]}x{shape[1]} px image)")

    def score(self, img: ImageLike) -> float:
        return self.score_luma(self.luma(img), img)

    def score_luma(self, luma: np.ndarray, img: ImageLike = "luma") -> float:
        """NRQM of an already prepared luma plane (0-255, shaved); ``img`` names it in errors."""
        import torch

        try:
            value = self._score_luma(luma)
        except torch.linalg.LinAlgError as err:  # singular band covariance: a flat image
            raise ValueError(f"{image_label(img)}: NRQM is undefined (a steerable-pyramid band has "
                             f"a singular neighbourhood covariance, e.g. a flat image): {err}") from None
        if not np.isfinite(value):
            raise ValueError(f"{image_label(img)}: NRQM is undefined (non-finite score)")
        return value


class PIMetric(_LumaMetric):
    """Perceptual Index; :meth:`components` also returns the NIQE and NRQM it is made of.

    ``niqe_backend`` / ``nrqm_backend`` and the model paths go to :class:`NIQEMetric` and
    :class:`NRQMMetric` (``device`` to the latter); both are attributes (``.niqe``, ``.nrqm``).
    """

    def __init__(self, protocol: str = "pirm", crop_border: int | None = None,
                 niqe_backend: str = "matlab-port", niqe_model_path: str | Path | None = None,
                 nrqm_model_path: str | Path | None = None, nrqm_backend: str = "torch",
                 device: str | None = None) -> None:
        self.nrqm = NRQMMetric(protocol, crop_border, nrqm_model_path, nrqm_backend, device)
        self.niqe = NIQEMetric(protocol, crop_border, niqe_backend, niqe_model_path)
        super().__init__(PI_INFO, protocol, crop_border, niqe_backend=niqe_backend,
                         niqe_model_path=self.niqe.settings["model_path"],
                         nrqm_model_path=self.nrqm.settings["model_path"],
                         nrqm_backend=nrqm_backend, device=device)

    @property
    def model_sha256(self) -> str:
        """Hex sha256 of the NRQM model file in use."""
        return self.nrqm.model_sha256

    def components(self, img: ImageLike) -> dict[str, float]:
        """``{"niqe": ..., "nrqm": ..., "pi": ...}`` from one read of ``img``."""
        luma = self.luma(img)
        niqe = self.niqe.score_luma(luma, img)
        nrqm = self.nrqm.score_luma(luma, img)
        return {"niqe": niqe, "nrqm": nrqm, "pi": perceptual_index(niqe, nrqm)}

    def score(self, img: ImageLike) -> float:
        return self.components(img)["pi"]
