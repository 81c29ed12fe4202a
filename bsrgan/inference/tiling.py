"""Tile grids, feathered blending weights and reflection padding for tiled super-resolution.

Geometry is in input (low-resolution) pixels; weights are in output pixels (``sf`` times finer).
Tiles along one axis all have the same size and their starts are spread evenly, so neighbouring
tiles overlap by *at least* ``overlap`` pixels and every tile of an image has one shape (they can
be batched, and ``torch.compile`` sees a single shape).

Blending (per axis; the 2-D weight of a tile is the outer product of its row and column weights):
inside the band where two tiles overlap, the outer quarter next to each tile's edge is dropped
(that is where a tile's output differs most from the whole-image output, because the network saw
zero padding instead of the neighbouring pixels) and the middle half is a linear cross-fade.
Weights are then divided by their per-pixel sum, so they form an exact partition of unity for any
geometry: a model whose receptive field is smaller than the dropped margin gives the whole-image
result up to float rounding.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

EDGE_TRIM = 0.25  # fraction of each overlap band, next to a tile's edge, that gets (almost) no weight
MIN_WEIGHT = 1e-6  # floor so that every covered pixel has a positive total weight


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Evenly spread start offsets of equal tiles of size ``min(tile, length)`` covering ``length``.

    Neighbouring tiles overlap by at least ``overlap`` pixels (by more when the tiles do not fit
    exactly). ``tile >= length`` gives the single start ``[0]``.
    """
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    if tile < 1:
        raise ValueError(f"tile must be >= 1, got {tile}")
    if tile >= length:
        return [0]
    if not 0 <= overlap < tile:
        raise ValueError(f"tile overlap must be in [0, tile={tile}), got {overlap}")
    count = math.ceil((length - tile) / (tile - overlap)) + 1
    last = length - tile
    return [round(i * last / (count - 1)) for i in range(count)]


def _cross_fade(band: int) -> np.ndarray:
    """Rising weights (band,) for the tile that *starts* at the beginning of an overlap band.

    Zero over the first ``EDGE_TRIM`` of the band, a linear ramp over the middle, one at the end;
    the falling weights of the other tile are this array reversed, and the two sum to one.
    """
    margin = int(band * EDGE_TRIM)
    ramp_len = band - 2 * margin
    t = np.arange(band, dtype=np.float64) + 0.5 - margin
    return np.clip(t / max(ramp_len, 1), 0.0, 1.0)


def axis_weights(starts: list[int], tile: int, length: int, sf: int) -> list[np.ndarray]:
    """Normalised blending weights, one float32 array of length ``tile * sf`` per tile start.

    Summed at their output positions (``start * sf``) the weights are one everywhere on
    ``[0, length * sf)``; at the image border a tile has full weight (no neighbour to blend with).
    """
    size = tile * sf
    raw = []
    for i, start in enumerate(starts):
        w = np.ones(size, dtype=np.float64)
        if i > 0:  # blend with the previous tile over their common band
            band = (starts[i - 1] + tile - start) * sf
            w[:band] = np.minimum(w[:band], _cross_fade(band))
        if i < len(starts) - 1:  # and with the next one
            band = (start + tile - starts[i + 1]) * sf
            w[size - band:] = np.minimum(w[size - band:], _cross_fade(band)[::-1])
        raw.append(np.maximum(w, MIN_WEIGHT))
    total = np.zeros(length * sf, dtype=np.float64)
    for start, w in zip(starts, raw):
        total[start * sf:start * sf + size] += w
    return [(w / total[s * sf:s * sf + size]).astype(np.float32) for s, w in zip(starts, raw)]


@dataclass(frozen=True)
class TileGrid:
    """A grid of equal tiles over an (height, width) image, with per-axis blending weights.

    Attributes:
        height, width: image size in input pixels.
        tile_h, tile_w: tile size in input pixels (``min(tile, height)``, ``min(tile, width)``).
        row_starts, col_starts: tile offsets along each axis.
    """

    height: int
    width: int
    tile_h: int
    tile_w: int
    row_starts: tuple[int, ...]
    col_starts: tuple[int, ...]

    @classmethod
    def plan(cls, height: int, width: int, tile: int, overlap: int, multiple: int = 1) -> TileGrid:
        """Plan tiles of (at most) ``tile`` x ``tile`` pixels; ``tile=0`` means one whole-image tile.

        ``multiple``: tile sides are rounded down to a multiple of it (the image itself must
        already be padded to a multiple, see :func:`pad_to_multiple`).
        """
        if tile < 0:
            raise ValueError(f"tile must be >= 0 (0 = whole image), got {tile}")
        if overlap < 0:
            raise ValueError(f"tile overlap must be >= 0, got {overlap}")
        if height % multiple or width % multiple:
            raise ValueError(f"image {height}x{width} is not padded to a multiple of {multiple}")
        if tile == 0:
            return cls(height, width, height, width, (0,), (0,))
        tile = max(multiple, tile - tile % multiple)
        if tile <= overlap and (tile < height or tile < width):
            raise ValueError(f"tile ({tile}) must be larger than the tile overlap ({overlap})")
        tile_h, tile_w = min(tile, height), min(tile, width)
        return cls(height, width, tile_h, tile_w,
                   tuple(tile_starts(height, tile_h, overlap)),
                   tuple(tile_starts(width, tile_w, overlap)))

    @property
    def tiles(self) -> list[tuple[int, int, int, int]]:
        """(row index, col index, y0, x0) of every tile, row-major."""
        return [(i, j, y, x) for i, y in enumerate(self.row_starts)
                for j, x in enumerate(self.col_starts)]

    def __len__(self) -> int:
        return len(self.row_starts) * len(self.col_starts)

    def weights(self, sf: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Row weights (one (tile_h*sf,) array per row start) and column weights (tile_w*sf,)."""
        return (axis_weights(list(self.row_starts), self.tile_h, self.height, sf),
                axis_weights(list(self.col_starts), self.tile_w, self.width, sf))


def reflect_indices(length: int, padded: int) -> np.ndarray:
    """Source indices (padded,) that extend ``range(length)`` by mirror reflection (edge pixel not
    repeated, like ``numpy.pad(mode="reflect")``) for any amount of padding; a length-1 axis is
    replicated, since it has nothing to reflect."""
    idx = np.arange(padded)
    if length == 1:
        return np.zeros(padded, dtype=np.int64)
    period = 2 * (length - 1)
    idx = idx % period
    return np.where(idx < length, idx, period - idx).astype(np.int64)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Reflection-pad ``x`` (C, H, W) at the bottom/right so that H and W are multiples of
    ``multiple``; returns ``x`` itself when nothing is needed."""
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}")
    height, width = x.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if pad_h == 0 and pad_w == 0:
        return x
    rows = torch.from_numpy(reflect_indices(height, height + pad_h))
    cols = torch.from_numpy(reflect_indices(width, width + pad_w))
    return x.index_select(-2, rows).index_select(-1, cols)
