"""Metric metadata and the callable interface every metric object follows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .inputs import ImageLike

__all__ = ["Metric", "MetricInfo"]


@dataclass(frozen=True)
class MetricInfo:
    """What a results table needs to know about a metric.

    Attributes:
        name: registry name (``niqe``, ``psnr``, ...).
        lower_better: True when a lower score means better quality (NIQE, PI, LPIPS).
        needs_reference: True for full-reference metrics, called as ``m(img, ref)``.
        range: (low, high) of typical scores; ``float("inf")`` for unbounded.
        description: one line for tables and provenance records.
    """

    name: str
    lower_better: bool
    needs_reference: bool
    range: tuple[float, float]
    description: str = ""

    @property
    def arrow(self) -> str:
        """``↓`` or ``↑`` for table headers."""
        return "↓" if self.lower_better else "↑"


class Metric:
    """Base of metric objects: ``m(img) -> float`` or, with ``info.needs_reference``, ``m(img, ref)``.

    ``img`` / ``ref``: float32 RGB (H, W, 3) in [0, 1], gray (H, W), RGBA (H, W, 4), or a path.
    ``settings`` records the options the object was built with (for provenance files).
    """

    def __init__(self, info: MetricInfo, **settings: Any) -> None:
        self.info = info
        self.settings = settings

    def __call__(self, img: ImageLike, ref: ImageLike | None = None) -> float:
        if self.info.needs_reference and ref is None:
            raise TypeError(f"{self.info.name} is full-reference: call it as m(img, ref)")
        if not self.info.needs_reference and ref is not None:
            raise TypeError(f"{self.info.name} is no-reference: call it as m(img)")
        return self.score(img) if ref is None else self.score_pair(img, ref)

    def score(self, img: ImageLike) -> float:  # no-reference metrics override
        raise NotImplementedError

    def score_pair(self, img: ImageLike, ref: ImageLike) -> float:  # full-reference metrics override
        raise NotImplementedError

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.settings.items())
        return f"{type(self).__name__}({opts})"
