"""JPEG compression artefacts on a group with ``torchvision.io.encode_jpeg`` / ``decode_jpeg``.

On the CPU torchvision uses its bundled libjpeg; on CUDA both calls take the whole list at once
and run on nvJPEG. Images are quantised to 8 bit exactly as the numpy backend does (``+0.5``,
then truncate). On the CPU the encoded bytes equal those of OpenCV's ``cv2.imencode`` at the
same quality (tested), so CPU JPEG matches the numpy backend exactly; nvJPEG output is not
measured here. torchvision 0.29 marks these functions deprecated in favour of TorchCodec; they
are what the pinned version offers for batched GPU coding, so their warning is silenced here.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torchvision.io import ImageReadMode, decode_jpeg, encode_jpeg

from bsrgan.degradation.batched.canvas import Size
from bsrgan.degradation.jpeg import JpegParams

_INV_255 = 1.0 / 255.0


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float [0, 1] -> uint8 by rounding half up (the numpy backend's ``to_uint8``)."""
    return (images.clamp(0.0, 1.0) * 255.0 + 0.5).to(torch.uint8)


def jpeg(images: torch.Tensor, sizes: Sequence[Size], params: Sequence[JpegParams]) -> torch.Tensor:
    """Encode each sample as an 8-bit JPEG at its quality and decode it.

    (G, 3, h, w) float32 [0, 1] -> same shape, multiples of 1/255 inside each valid size.
    """
    for p in params:
        if not 1 <= p.quality <= 100:
            raise ValueError(f"JPEG quality must be in 1..100, got {p.quality!r}")
    pixels = to_uint8(images)
    encoded: list[torch.Tensor | None] = [None] * len(params)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*TorchCodec", category=DeprecationWarning)
        for quality in sorted({int(p.quality) for p in params}):
            members = [g for g, p in enumerate(params) if int(p.quality) == quality]
            crops = [pixels[g, :, : sizes[g][0], : sizes[g][1]].contiguous() for g in members]
            for g, data in zip(members, encode_jpeg(crops, quality=quality)):
                encoded[g] = data.cpu()  # decode_jpeg reads its input from host memory
        decoded = decode_jpeg(encoded, mode=ImageReadMode.RGB, device=images.device)
    out = torch.zeros_like(pixels)
    for g, (image, (h, w)) in enumerate(zip(decoded, sizes)):
        out[g, :, :h, :w] = image
    return out.to(images.dtype) * _INV_255
