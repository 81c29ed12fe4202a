"""One factory for every metric, driven by a table (pyiqa's ``create_metric`` pattern).

>>> from bsrgan.metrics import create
>>> niqe = create("niqe")                               # PIRM protocol: BT.601 Y, shave 4
>>> niqe_paper = create("niqe", protocol="paper")       # BT.601 Y, no shave (authors' figure)
>>> niqe_live = create("niqe", protocol="live-rgb2gray")  # rgb2gray, no shave (LIVE release)
>>> psnr_y = create("psnr", color="y", crop_border=4)
>>> niqe.info.lower_better, psnr_y.info.needs_reference
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .base import Metric, MetricInfo
from .errors import MetricUnavailable
from .full_reference import PSNR_INFO, SSIM_INFO, PSNRMetric, SSIMMetric
from .lpips_metric import LPIPS_INFO, LPIPSMetric
from .no_reference import NIQE_INFO, NRQM_INFO, PI_INFO, NIQEMetric, NRQMMetric, PIMetric

__all__ = [
    "METRICS",
    "MetricSpec",
    "available_metrics",
    "create",
    "is_available",
    "list_metrics",
    "metric_info",
    "unavailable_reason",
]


@dataclass(frozen=True)
class MetricSpec:
    """A registry row: metadata, the class that builds it, and the files it needs locally."""

    info: MetricInfo
    build: Callable[..., Metric]
    needs: tuple[tuple[str, str], ...] = ()  # (asset name, keyword that overrides its path)


METRICS: dict[str, MetricSpec] = {
    "niqe": MetricSpec(NIQE_INFO, NIQEMetric, (("niqe-params", "model_path"),)),
    "nrqm": MetricSpec(NRQM_INFO, NRQMMetric, (("nrqm-model", "model_path"),)),
    "pi": MetricSpec(PI_INFO, PIMetric, (("niqe-params", "niqe_model_path"), ("nrqm-model", "nrqm_model_path"))),
    "psnr": MetricSpec(PSNR_INFO, PSNRMetric),
    "ssim": MetricSpec(SSIM_INFO, SSIMMetric),
    "lpips": MetricSpec(LPIPS_INFO, LPIPSMetric, (("vgg16-features", "backbone_path"),)),
}


def _spec(name: str) -> MetricSpec:
    try:
        return METRICS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(METRICS)}") from None


def list_metrics() -> list[str]:
    """Every registered metric name, available here or not."""
    return list(METRICS)


def metric_info(name: str) -> MetricInfo:
    """Metadata of ``name`` without building it (no files needed)."""
    return _spec(name).info


def create(name: str, **kwargs: Any) -> Metric:
    """Build metric ``name`` with its options; see each class for the keywords.

    - ``niqe``: ``protocol="pirm"|"paper"|"live-rgb2gray"``, ``crop_border=None`` (protocol's), ``backend=
      "matlab-port"|"pyiqa"``, ``model_path``.
    - ``nrqm``: ``protocol``, ``crop_border``, ``model_path``, ``backend="torch"|"pyiqa"``,
      ``device=None`` (torch backend: the GPU when present).
    - ``pi``: ``protocol``, ``crop_border``, ``niqe_backend``, ``niqe_model_path``,
      ``nrqm_model_path``, ``nrqm_backend``, ``device``.
    - ``psnr`` / ``ssim``: ``color="y"|"rgb"``, ``crop_border=0``.
    - ``lpips``: ``net="vgg"``, ``backbone_path``, ``device``.

    Raises MetricUnavailable (message names the ``bsrgan fetch`` command) when a model file or
    package is missing, ValueError for an unknown name or option value.
    """
    return _spec(name).build(**kwargs)


def unavailable_reason(name: str, **kwargs: Any) -> str | None:
    """Why ``create(name, **kwargs)`` cannot run here without a download, or None if it can.

    Checks the needed files in explicit paths, the cache and ``$BSRGAN_MIRRORS`` only (never
    downloads) and the optional packages; does not build the metric.
    """
    from .model_files import model_file

    spec = _spec(name)
    try:
        if spec.info.name == "lpips":
            if kwargs.get("net", "vgg") != "vgg":
                LPIPSMetric(net=kwargs["net"])  # raises with the reason
            import importlib.util

            if importlib.util.find_spec("lpips") is None:
                return "the `lpips` package (linear layers) is not installed: pip install lpips"
        for asset, keyword in spec.needs:
            model_file(spec.info.name, asset, kwargs.get(keyword), local_only=True)
    except MetricUnavailable as err:
        return err.reason
    return None


def is_available(name: str, **kwargs: Any) -> bool:
    """True when ``name`` can run here with local files only (see :func:`unavailable_reason`)."""
    return unavailable_reason(name, **kwargs) is None


def available_metrics() -> list[str]:
    """Registered metrics that can run here with local files only."""
    return [name for name in METRICS if is_available(name)]
