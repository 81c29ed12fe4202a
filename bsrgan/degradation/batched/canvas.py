"""A batch of images of different sizes in one padded tensor, and reflect-101 borders for it.

Every sample of a degradation batch follows its own plan, so after a few ops the images have
different sizes. A :class:`Canvas` keeps them in one ``(B, C, H, W)`` tensor, each anchored at
the top-left corner with its own valid size ``(h, w)``. What lies outside the valid region is
never used (ops address valid pixels only, or weight the rest by zero) and is always finite:
writes zero it, so no NaN or inf can leak in through a zero weight.

Borders are built by index: :func:`reflect101_indices` maps every padded position to a valid
pixel of *its* sample (OpenCV's ``BORDER_REFLECT_101``, repeated like ``numpy.pad(...,
"reflect")`` when the pad is wider than the image), so one gather pads a whole group whatever
the sizes of its members.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

Size = tuple[int, int]


@dataclass
class Canvas:
    """Images of a batch, each top-left in ``data`` (B, C, H, W) with valid size ``sizes[b]``."""

    data: torch.Tensor
    sizes: list[Size]

    def take(self, index: Sequence[int]) -> tuple[torch.Tensor, list[Size]]:
        """The samples ``index`` cut to their largest valid size: (G, C, h_max, w_max), sizes."""
        sizes = [self.sizes[i] for i in index]
        h, w = max(s[0] for s in sizes), max(s[1] for s in sizes)
        rows = torch.as_tensor(list(index), device=self.data.device)
        return self.data.index_select(0, rows)[:, :, :h, :w], sizes

    def put(self, index: Sequence[int], images: torch.Tensor, sizes: Sequence[Size]) -> None:
        """Store (G, C, h, w) ``images`` with valid ``sizes`` as samples ``index``.

        Pixels outside each valid size are zeroed; the canvas grows when ``images`` is larger.
        """
        g, c, h, w = images.shape
        if len(index) != g or len(sizes) != g:
            raise ValueError(f"put: {len(index)} indices and {len(sizes)} sizes for {g} images")
        big_h, big_w = max(h, self.data.shape[2]), max(w, self.data.shape[3])
        if (big_h, big_w) != tuple(self.data.shape[2:]):
            grown = self.data.new_zeros((self.data.shape[0], c, big_h, big_w))
            grown[:, :, : self.data.shape[2], : self.data.shape[3]] = self.data
            self.data = grown
        rows = torch.as_tensor(list(index), device=self.data.device)
        if any(tuple(s) != (h, w) for s in sizes):  # zero what lies outside a smaller sample
            images = torch.where(valid_mask(sizes, h, w, images.device), images, 0.0)
        if (h, w) != tuple(self.data.shape[2:]):
            block = self.data.new_zeros((g, c, self.data.shape[2], self.data.shape[3]))
            block[:, :, :h, :w] = images
            images = block
        self.data.index_copy_(0, rows, images)
        for i, size in zip(index, sizes):
            self.sizes[i] = (int(size[0]), int(size[1]))

    def stack(self) -> torch.Tensor:
        """All samples as one (B, C, h, w) tensor; they must all have the same valid size."""
        if len(set(self.sizes)) != 1:
            raise ValueError(f"samples end with different sizes {sorted(set(self.sizes))}; "
                             "every trace of a batch must end with the same patch size")
        h, w = self.sizes[0]
        return self.data[:, :, :h, :w].contiguous()


def per_sample(values: Sequence[float], device: torch.device) -> torch.Tensor:
    """One float32 value per sample as a (G, 1, 1, 1) tensor that broadcasts over images."""
    return torch.tensor(values, dtype=torch.float32, device=device)[:, None, None, None]


def valid_mask(sizes: Sequence[Size], height: int, width: int,
               device: torch.device) -> torch.Tensor:
    """(G, 1, height, width) bool mask, True inside each sample's valid size."""
    hs = torch.tensor([s[0] for s in sizes], device=device)
    ws = torch.tensor([s[1] for s in sizes], device=device)
    rows = torch.arange(height, device=device)[None, :, None] < hs[:, None, None]
    cols = torch.arange(width, device=device)[None, None, :] < ws[:, None, None]
    return (rows & cols)[:, None]


def reflect101_indices(lengths: Sequence[int], before: int, after: int,
                       extent: int, device: torch.device) -> torch.Tensor:
    """(G, before + extent + after) source index of each padded position, per sample.

    Position ``j`` stands for pixel ``i = j - before`` of a sample with ``lengths[g]`` valid
    pixels; ``i`` is reflected about the first and last pixel without repeating them (period
    ``2 (n - 1)``), so any pad width works. ``extent`` is the common padded length (>= every
    length); positions past a sample's end reflect back into its valid pixels as well.
    """
    n = torch.as_tensor(list(lengths), device=device)[:, None]
    i = torch.arange(-before, extent + after, device=device)[None, :].expand(len(lengths), -1)
    period = torch.clamp(2 * (n - 1), min=1)
    j = torch.remainder(i, period)
    j = torch.where(j >= n, period - j, j)
    return torch.where(n > 1, j, torch.zeros_like(j))


def reflect_pad(images: torch.Tensor, sizes: Sequence[Size], pad_y: tuple[int, int],
                pad_x: tuple[int, int]) -> torch.Tensor:
    """Pad (G, C, h, w) images by reflect-101 of each sample's valid region.

    Returns (G, C, pad_y[0] + h + pad_y[1], pad_x[0] + w + pad_x[1]).
    """
    g, c, h, w = images.shape
    if all(tuple(s) == (h, w) for s in sizes) and max(pad_y) < h and max(pad_x) < w:
        return F.pad(images, (*pad_x, *pad_y), mode="reflect")  # the same, in one fast op
    rows = reflect101_indices([s[0] for s in sizes], *pad_y, h, images.device)
    cols = reflect101_indices([s[1] for s in sizes], *pad_x, w, images.device)
    out = images.gather(2, rows[:, None, :, None].expand(g, c, rows.shape[1], w))
    return out.gather(3, cols[:, None, None, :].expand(g, c, rows.shape[1], cols.shape[1]))


def crop(images: torch.Tensor, boxes: Sequence[tuple[int, int, int]]) -> torch.Tensor:
    """Cut a ``size`` x ``size`` square at (top, left) out of each sample, one gather per axis.

    Args:
        images: (G, C, H, W).
        boxes: (top, left, size) per sample; the squares must lie inside the images.

    Returns:
        (G, C, P, P) with P the largest size; sample g is valid in its top-left size x size.
    """
    g, c, h, w = images.shape
    p = max(b[2] for b in boxes)
    steps = torch.arange(p, device=images.device)[None, :]
    tops = torch.tensor([b[0] for b in boxes], device=images.device)[:, None]
    lefts = torch.tensor([b[1] for b in boxes], device=images.device)[:, None]
    rows = (tops + steps).clamp_(max=h - 1)
    cols = (lefts + steps).clamp_(max=w - 1)
    out = images.gather(2, rows[:, None, :, None].expand(g, c, p, w))
    return out.gather(3, cols[:, None, None, :].expand(g, c, p, p))
