"""JPEG compression artefacts (release ``add_JPEG_noise``), OpenCV encoder in memory."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from bsrgan.degradation.validation import check_image

QUALITY_RANGE = (30, 95)


@dataclass(frozen=True)
class JpegParams:
    """JPEG quality factor in 1..100 (higher = better)."""

    quality: int

    def __post_init__(self) -> None:
        if not 1 <= self.quality <= 100:
            raise ValueError(f"JPEG quality must be in 1..100, got {self.quality!r}")


def sample_jpeg(rng: np.random.Generator) -> JpegParams:
    """Quality ~ U{30..95}."""
    return JpegParams(int(rng.integers(QUALITY_RANGE[0], QUALITY_RANGE[1] + 1)))


def to_uint8(img: np.ndarray) -> np.ndarray:
    """float [0, 1] -> uint8 by rounding (the release's ``single2uint``)."""
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def apply_jpeg(img: np.ndarray, params: JpegParams) -> np.ndarray:
    """Encode as 8-bit JPEG and decode: (H, W, 3) float32 [0, 1] -> same, multiples of 1/255."""
    img = check_image(img)
    bgr = np.ascontiguousarray(to_uint8(img)[..., ::-1])  # the codec's colour transform expects BGR
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(params.quality)])
    if not ok:
        raise RuntimeError(f"OpenCV failed to JPEG-encode an image of shape {img.shape}")
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return decoded[..., ::-1].astype(np.float32) * np.float32(1.0 / 255.0)
