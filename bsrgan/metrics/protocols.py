"""How an RGB image becomes the luma plane that NIQE / NRQM / PI score.

Every protocol first quantises the image to uint8 (as ``imread`` gives it to MATLAB); they differ
in the colour conversion and in the border shaved before scoring:

- ``pirm``: Y of BT.601 YCbCr as MATLAB ``rgb2ycbcr`` returns it for a uint8 image (16-235,
  rounded), then 4 pixels shaved per border (``convert_shave_image.m`` of the PIRM 2018 scoring
  code). The default of :func:`bsrgan.metrics.create`.
- ``paper``: the same Y plane, **no shave**. With it our NIQE of the authors' published outputs
  reproduces the NIQE values of their README comparison figure within 0.009 (the seven cells
  whose published outputs the offline mirror holds), where ``pirm`` misses by up to 0.97
  (docs/evaluation.md has the numbers). NRQM and PI use the same plane.
- ``live-rgb2gray``: MATLAB ``rgb2gray`` of the uint8 image (rounded), no shave: what the LIVE
  NIQE release's ``computequality.m`` sees for an RGB file read with ``imread``. It is **not**
  MATLAB's built-in ``niqe()`` (another pristine model and settings: 7.20 instead of 15.75 on
  calibration image I03). Formerly called ``matlab``; that name still works and warns.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .color import rgb_to_gray_matlab_uint8, rgb_to_y_bt601_uint8

__all__ = [
    "DEPRECATED_ALIASES",
    "PROTOCOLS",
    "LumaProtocol",
    "canonical_protocol",
    "get_protocol",
    "luma_for_protocol",
]


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
    "paper": LumaProtocol(
        "paper", "ycbcr_y", 0,
        "the authors' README figure: MATLAB rgb2ycbcr Y (uint8, 16-235), no shave",
    ),
    "live-rgb2gray": LumaProtocol(
        "live-rgb2gray", "gray", 0,
        "LIVE NIQE release computequality.m on an RGB file: MATLAB rgb2gray (uint8), no shave "
        "(not MATLAB's built-in niqe())",
    ),
}

#: old name -> current name; looking up an old name warns (FutureWarning) and returns the new one.
DEPRECATED_ALIASES: dict[str, str] = {"matlab": "live-rgb2gray"}

_CONVERTERS = {"ycbcr_y": rgb_to_y_bt601_uint8, "gray": rgb_to_gray_matlab_uint8}


def canonical_protocol(name: str) -> str:
    """The current name of protocol ``name`` (an old alias warns); ValueError for unknown names."""
    if name in DEPRECATED_ALIASES:
        new = DEPRECATED_ALIASES[name]
        warnings.warn(
            f"metric protocol {name!r} is deprecated and will be removed: use {new!r} "
            f"({PROTOCOLS[new].description}). MATLAB's built-in niqe() is a different metric "
            "(7.20 instead of 15.75 on calibration image I03).",
            FutureWarning, stacklevel=3,
        )
        return new
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; choose one of {sorted(PROTOCOLS)}")
    return name


def get_protocol(name: str) -> LumaProtocol:
    """Look up a protocol by name (old aliases warn); ValueError lists the known ones."""
    return PROTOCOLS[canonical_protocol(name)]


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
