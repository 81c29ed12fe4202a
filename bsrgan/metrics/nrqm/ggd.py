"""Generalised-Gaussian statistics of NRQM: shape by table lookup, coefficient of variation.

The shape estimate is moment matching on a grid, as in pyiqa's ``gamma_gen_gauss``: the ratio
``rho = var(x) / (mean|x - mean(x)| ** 2 + 1e-7)`` is matched to
``r(g) = Gamma(1/g) Gamma(3/g) / Gamma(2/g) ** 2`` on ``g = 0.03, 0.031, ..., 10`` and the grid
value with the nearest ``r`` is returned (the first one on a tie). pyiqa compares ``rho`` with
all 9971 grid values (an (n, 9971) array); ``r`` is strictly decreasing on the grid, so a binary
search plus a comparison of the two neighbours picks the same index in O(log n).
"""

from __future__ import annotations

import torch

__all__ = ["ggd_shape", "ggd_shape_index", "shape_grid", "variation_ratio"]

_RHO_EPS = 1e-7


def shape_grid(device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """The shape grid ``g`` and its moment ratios ``r(g)``, both (9971,) float64 on ``device``.

    ``g`` is built as pyiqa builds it: ``torch.arange`` in float32 (so the grid holds the float32
    values nearest to 0.03 + 0.001 k), then widened to float64; ``r`` is computed in float64.
    """
    grid = torch.arange(0.03, 10 + 0.001, 0.001).to(device=device, dtype=torch.float64)
    ratio = (torch.lgamma(1.0 / grid) + torch.lgamma(3.0 / grid) - 2 * torch.lgamma(2.0 / grid)).exp()
    return grid, ratio


_GRIDS: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}


def _cached_grid(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    key = str(device)
    if key not in _GRIDS:
        _GRIDS[key] = shape_grid(device)
    return _GRIDS[key]


def ggd_shape_index(rho: torch.Tensor) -> torch.Tensor:
    """Index into :func:`shape_grid` of the ratio nearest to each ``rho`` (any shape, float64).

    Equal to ``(rho[..., None] - r).abs().argmin(-1)``: ties go to the lower index, and a NaN
    ``rho`` gives index 0 (where ``argmin`` puts it).
    """
    _, ratio = _cached_grid(rho.device)
    n = ratio.numel()
    ascending = ratio.flip(0)
    pos = torch.searchsorted(ascending, rho.contiguous())  # ascending[pos - 1] < rho <= ascending[pos]
    upper = (n - 1 - pos).clamp(0, n - 1)  # ratio[upper] >= rho: the lower index
    lower = (n - pos).clamp(0, n - 1)  # ratio[lower] < rho: the next index
    d_upper = (rho - ratio[upper]).abs().masked_fill(pos >= n, float("inf"))
    d_lower = (rho - ratio[lower]).abs().masked_fill(pos <= 0, float("inf"))
    index = torch.where(d_lower < d_upper, lower, upper)
    return index.masked_fill(torch.isnan(rho), 0)


def ggd_shape(x: torch.Tensor) -> torch.Tensor:
    """Generalised-Gaussian shape of the samples along the last axis.

    x: (..., n) float64, n >= 2. Returns (...) float64 values of the grid 0.03:0.001:10.
    """
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True, unbiased=True)
    mean_abs = (x - mean).abs().mean(dim=-1, keepdim=True) ** 2
    rho = (var / (mean_abs + _RHO_EPS))[..., 0]
    grid, _ = _cached_grid(x.device)
    return grid[ggd_shape_index(rho)]


def variation_ratio(x: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Coefficient of variation of ``|x|`` along the last axis: ``std(|x|) / (mean(|x|) + eps)``.

    x: (..., n) float64; the standard deviation is the unbiased one. Returns (...) float64.
    """
    magnitude = x.abs()
    return magnitude.std(dim=-1, unbiased=True) / (magnitude.mean(dim=-1) + eps)
