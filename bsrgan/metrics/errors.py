"""Exceptions of the metrics package."""

from __future__ import annotations

__all__ = ["MetricUnavailable"]


class MetricUnavailable(RuntimeError):
    """A metric cannot run here (missing model file, missing optional package).

    The message says what is missing and the command that provides it, e.g.
    ``bsrgan fetch nrqm-model``. ``reason`` holds the same text for tables that print "n/a".
    """

    def __init__(self, metric: str, reason: str) -> None:
        self.metric = metric
        self.reason = reason
        super().__init__(f"metric {metric!r} is unavailable: {reason}")
