"""How an RGB image becomes the luma plane that NIQE / NRQM / PI score.

- ``pirm`` (default; PIRM 2018 challenge, what BSRGAN reports): Y of BT.601 YCbCr as MATLAB
  ``rgb2ycbcr`` returns it for a uint8 image (16-235, rounded), then 4 pixels shaved per border
  (``convert_shave_image.m`` of the PIRM scoring code).
- ``matlab``: MATLAB ``rgb2gray`` of the uint8 image (rounded), no shave: what the official LIVE
  ``niqe`` / ``computequality`` sees for an RGB file read with ``imread``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .color import rgb_to_gray_matlab_uint8, rgb_to_y_bt601_uint8

__all__ = ["PROTOCOLS", "LumaProtocol", "get_protocol", "luma_for_protocol"]


@dataclass(frozen=True)
class LumaProtocol:
    """A named recipe: colour conversion (``luma``) and pixels shaved per border (``shave``)."""

    name: str
    luma: str  # "ycbcr_y" or "gray"
    shave: int
    description: str


PROTOCOLS: dict[str, LumaProtocol] = {
    "pirm": LumaProtocol(
        "pirm", "ycbcr_y", 4, "PIRM 2018: MATLAB rgb2ycbcr Y (uint8, 16-235), shave 4 px per border"
    ),
    "matlab": LumaProtocol(
        "matlab", "gray", 0, "official MATLAB code: rgb2gray (uint8) of the RGB image, no shave"
    ),
}

_CONVERTERS = {"ycbcr_y": rgb_to_y_bt601_uint8, "gray": rgb_to_gray_matlab_uint8}


def get_protocol(name: str) -> LumaProtocol:
    """Look up a protocol by name; ValueError lists the known ones."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}; choose one of {sorted(PROTOCOLS)}") from None


def luma_for_protocol(rgb: np.ndarray, protocol: LumaProtocol, shave: int | None = None) -> np.ndarray:
    """rgb: float (H, W, 3) in [0, 1] -> luma (H - 2s, W - 2s) float64 holding integers 0-255.

    ``shave`` overrides the protocol's border (``None`` keeps it).
    """
    s = protocol.shave if shave is None else int(shave)
    if s < 0:
        raise ValueError(f"shave / crop_border must be >= 0, got {s}")
    luma = _CONVERTERS[protocol.luma](rgb)
    if s:
        if luma.shape[0] <= 2 * s or luma.shape[1] <= 2 * s:
            raise ValueError(f"image of {luma.shape[0]}x{luma.shape[1]} px is too small to shave {s} px per border")
        luma = luma[s:-s, s:-s]
    return luma
