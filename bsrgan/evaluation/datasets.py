"""Evaluation datasets: which LR inputs, named by which stems, cut by which crop protocol.

- ``realsrset``: the 20 real LR images of RealSRSet (asset ``realsrset``), used whole.
- ``dped-iphone``: the 29 full-size iPhone 3GS test photos of DPED (asset ``dped-iphone``,
  2048x1536). The paper shows 512x256 crops of these phones' photos; our protocol cuts from each
  photo ``n`` crops of ``width x height`` (default: one centre crop of 512x256, W x H) as LR input.
  Placement (:func:`crop_boxes`): the photo is split into a ``rows x cols`` grid of equal cells
  with ``cols = ceil(sqrt(n))`` and ``rows = ceil(n / cols)``; crop ``k`` (row-major) is centred
  in cell ``k`` and shifted inside the photo when it would stick out. ``n = 1`` is the centre crop.
  Crops are named ``<photo>`` (n = 1) or ``<photo>_crop<k>`` (k = 00, 01, ...).
- ``dped-readme``: the authors' own DPED LR images from their README (asset ``dped-readme``:
  ``figs/00003.png``, ``00080.png``, ``00081.png`` of cszn/BSRGAN, 512x256), used whole. Unlike
  ``dped-iphone`` these are the authors' inputs, and their BSRGAN x4 outputs are published
  (``published:bsrgan``), so scores on them can be set beside the authors' images one to one.
- any folder: every image of the folder (sorted), used whole, named by file stem.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bsrgan.io import imread, list_images

DATASET_ASSETS: dict[str, str] = {"realsrset": "realsrset", "dped-iphone": "dped-iphone",
                                  "dped-readme": "dped-readme"}
#: how each registered dataset's whole-image inputs are described in tables and provenance
_WHOLE_IMAGE_PROTOCOL: dict[str, str] = {
    "realsrset": "{n} real LR images, used whole",
    "dped-readme": "the authors' {n} DPED LR images from their README (cszn/BSRGAN figs/), used whole",
}
DPED_DEFAULT_CROP: tuple[int, int] = (512, 256)  # (width, height) in LR pixels


@dataclass(frozen=True)
class CropBox:
    """A window of an image in pixels: columns ``x:x+width``, rows ``y:y+height``."""

    x: int
    y: int
    width: int
    height: int

    def apply(self, img: np.ndarray) -> np.ndarray:
        """(H, W, C) -> (height, width, C) view."""
        return img[self.y:self.y + self.height, self.x:self.x + self.width]


@dataclass(frozen=True)
class EvalImage:
    """One LR input: ``stem`` (its name in every table), the ``source`` file, an optional crop."""

    stem: str
    source: Path
    crop: CropBox | None = None

    def load(self) -> np.ndarray:
        """The LR input, float32 (h, w, 3) RGB in [0, 1]. Raises ImageReadError / ValueError."""
        return self.cut(imread(self.source))

    def cut(self, img: np.ndarray) -> np.ndarray:
        """The LR input from the decoded ``source`` (H, W, 3): its crop, or ``img`` itself."""
        if self.crop is None:
            return img
        h, w = img.shape[:2]
        c = self.crop
        if c.x + c.width > w or c.y + c.height > h:
            raise ValueError(f"{self.source}: crop {c.width}x{c.height} at ({c.x}, {c.y}) does not "
                             f"fit the {w}x{h} image")
        return np.ascontiguousarray(c.apply(img))


@dataclass(frozen=True)
class EvalDataset:
    """A named, ordered set of LR inputs and the protocol that made them (one sentence)."""

    name: str
    images: tuple[EvalImage, ...]
    protocol: str
    source: str  # asset name, or the folder's name for a PATH dataset

    @property
    def stems(self) -> list[str]:
        return [im.stem for im in self.images]

    def subset(self, stems) -> EvalDataset:
        """Only the images named in ``stems`` (in dataset order); unknown names raise ValueError."""
        wanted = list(stems)
        unknown = sorted(set(wanted) - set(self.stems))
        if unknown:
            raise ValueError(f"dataset {self.name!r} has no image(s) {unknown}; it has {self.stems}")
        keep = tuple(im for im in self.images if im.stem in set(wanted))
        return EvalDataset(self.name, keep, f"{self.protocol}; subset of {len(keep)} image(s)",
                           self.source)


def crop_boxes(height: int, width: int, crop: tuple[int, int], n: int) -> list[CropBox]:
    """Deterministic grid placement of ``n`` crops of ``crop = (width, height)`` in an image.

    See the module docstring. Raises ValueError when the crop is larger than the image.
    """
    cw, ch = int(crop[0]), int(crop[1])
    if cw < 1 or ch < 1 or n < 1:
        raise ValueError(f"crop size and count must be positive, got {cw}x{ch} and n={n}")
    if cw > width or ch > height:
        raise ValueError(f"crop {cw}x{ch} (W x H) is larger than the {width}x{height} image")
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    boxes = []
    for k in range(n):
        r, c = divmod(k, cols)
        cy = (r + 0.5) * height / rows
        cx = (c + 0.5) * width / cols
        y = min(max(round(cy - ch / 2), 0), height - ch)
        x = min(max(round(cx - cw / 2), 0), width - cw)
        boxes.append(CropBox(x, y, cw, ch))
    return boxes


def _image_size(path: Path) -> tuple[int, int]:
    """(height, width) after EXIF orientation, from a full decode (29 photos: cheap enough)."""
    img = imread(path)
    return img.shape[0], img.shape[1]


def cropped_dataset(name: str, files: list[Path], crop: tuple[int, int], n: int,
                    source: str) -> EvalDataset:
    """Each file -> ``n`` grid-placed crops (see :func:`crop_boxes`)."""
    images: list[EvalImage] = []
    for f in files:
        try:
            h, w = _image_size(f)
        except ValueError:  # unreadable photo: keep it uncropped, the run reports it per image
            images.append(EvalImage(f.stem, f, CropBox(0, 0, crop[0], crop[1])))
            continue
        for k, box in enumerate(crop_boxes(h, w, crop, n)):
            stem = f.stem if n == 1 else f"{f.stem}_crop{k:02d}"
            images.append(EvalImage(stem, f, box))
    where = "centre crop" if n == 1 else f"{n} crops on a row-major grid (cell-centred)"
    protocol = (f"{name}: {where} of {crop[0]}x{crop[1]} (W x H) LR pixels from each of "
                f"{len(files)} full-size photos")
    return EvalDataset(name, tuple(images), protocol, source)


def load_dataset(dataset: str | os.PathLike[str], *, dped_crop: tuple[int, int] = DPED_DEFAULT_CROP,
                 dped_crops: int = 1) -> EvalDataset:
    """``"realsrset"``, ``"dped-iphone"``, ``"dped-readme"`` (fetched through :mod:`bsrgan.assets`)
    or a folder path."""
    key = str(dataset)
    if key in DATASET_ASSETS:
        from bsrgan.assets import fetch

        folder = Path(fetch(DATASET_ASSETS[key]))
        files = list_images(folder)
        if key == "dped-iphone":
            return cropped_dataset(key, files, dped_crop, dped_crops, DATASET_ASSETS[key])
        protocol = f"{key}: " + _WHOLE_IMAGE_PROTOCOL[key].format(n=len(files))
        return EvalDataset(key, tuple(EvalImage(f.stem, f) for f in files), protocol,
                           DATASET_ASSETS[key])
    folder = Path(dataset).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"dataset {key!r} is neither {', '.join(DATASET_ASSETS)} nor "
                                f"an existing folder of images")
    files = list_images(folder)
    if not files:
        raise FileNotFoundError(f"dataset folder {folder} holds no images")
    stems = [f.stem for f in files]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        raise ValueError(f"dataset folder {folder}: several files share the stem(s) {duplicates}; "
                         "outputs are matched by stem, so stems must be unique")
    protocol = f"{folder.name}: {len(files)} LR images from a folder, used whole"
    return EvalDataset(folder.name, tuple(EvalImage(f.stem, f) for f in files), protocol,
                       folder.name)
