"""Image quality metrics: NIQE, NRQM, PI (PIRM 2018 protocol), PSNR, SSIM, LPIPS.

One factory with metadata, :func:`create`; functional helpers for training validation,
:func:`psnr`, :func:`ssim`, :func:`rgb_to_y_bt601`. NIQE is a MATLAB-faithful port of the
official LIVE code (within 1 % of MATLAB on the calibration images); pyiqa's NIQE is kept as
``create("niqe", backend="pyiqa")``. NRQM is our vectorised torch implementation
(:mod:`bsrgan.metrics.nrqm`, equal to pyiqa's; pyiqa's is kept as ``backend="pyiqa"``); NRQM and
PI need the ``nrqm-model`` file and without it raise :class:`MetricUnavailable` naming
``bsrgan fetch nrqm-model``. :func:`perceptual_index` derives PI from NIQE and NRQM values.
"""

from .base import Metric, MetricInfo
from .color import colour_shift, rgb_to_gray_matlab, rgb_to_y_bt601
from .errors import MetricUnavailable
from .full_reference import psnr, ssim
from .niqe import NiqeModel, load_niqe_model, niqe_features, niqe_from_luma
from .no_reference import perceptual_index
from .protocols import PROTOCOLS, LumaProtocol
from .registry import (
    METRICS,
    available_metrics,
    create,
    is_available,
    list_metrics,
    metric_info,
    unavailable_reason,
)

__all__ = [
    "METRICS",
    "PROTOCOLS",
    "LumaProtocol",
    "Metric",
    "MetricInfo",
    "MetricUnavailable",
    "NiqeModel",
    "available_metrics",
    "colour_shift",
    "create",
    "is_available",
    "list_metrics",
    "load_niqe_model",
    "metric_info",
    "niqe_features",
    "niqe_from_luma",
    "perceptual_index",
    "psnr",
    "rgb_to_gray_matlab",
    "rgb_to_y_bt601",
    "ssim",
    "unavailable_reason",
]
