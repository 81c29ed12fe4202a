"""Real colour photographs bundled inside the scikit-image wheel.

They are the offline default HR images of the quickstart: no network, no ``../shared`` mirror.
Only files that sit in ``skimage/data`` of the installed wheel are used (scikit-image fetches its
other sample images with pooch at run time, which would need the network).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from bsrgan.io import imread

# name -> file inside skimage/data; all natural colour photographs (not synthetic or medical).
EMBEDDED_PHOTOS: dict[str, str] = {
    "astronaut": "astronaut.png",  # 512 x 512, Eileen Collins (NASA)
    "chelsea": "chelsea.png",  # 300 x 451, a cat
    "coffee": "coffee.png",  # 400 x 600, a cup of coffee
    "rocket": "rocket.jpg",  # 427 x 640, SpaceX Falcon 9 launch
    "motorcycle": "motorcycle_left.png",  # 500 x 741, left view of a stereo pair
}


def embedded_data_dir() -> Path:
    """The ``skimage/data`` folder of the installed scikit-image."""
    import skimage

    return Path(skimage.__file__).parent / "data"


def embedded_hr_images(names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Return the embedded photographs as float32 RGB (H, W, 3) in [0, 1], keyed by name.

    Args:
        names: subset of :data:`EMBEDDED_PHOTOS` keys (default: all, in table order).
    """
    names = list(EMBEDDED_PHOTOS) if names is None else list(names)
    unknown = sorted(set(names) - set(EMBEDDED_PHOTOS))
    if unknown:
        raise KeyError(f"unknown embedded image(s) {unknown}; available: {sorted(EMBEDDED_PHOTOS)}")
    folder = embedded_data_dir()
    return {name: imread(folder / EMBEDDED_PHOTOS[name]) for name in names}
