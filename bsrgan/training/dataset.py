"""Training pairs synthesised on the fly: HR crop -> flip/rotation -> BSRGAN degradation.

Every sample draws from its own ``numpy.random.Generator`` seeded by ``(run seed, epoch, index)``
through ``np.random.SeedSequence``, so any batch can be regenerated from its indices, workers
need no seeding, and a resumed run sees exactly the data an uninterrupted one would have seen.
The sampler therefore yields ``(epoch, index)`` pairs rather than bare indices.

The HR side stays 8-bit until the crop: a file is decoded to uint8 (no float copy of the whole
image), the random crop is cut and flipped in uint8, and only the crop becomes float32 for the
degradation, with the same ``x / 255`` as :func:`bsrgan.io.imread`. With ``hq_uint8=True`` (the
trainer's loader) the HQ target leaves the worker as uint8 (4x less shared memory than float32)
and :func:`hq_to_float` converts it on the training device.
"""
from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler, Sampler

log = logging.getLogger(__name__)

#: ``data.hr_dir`` value that selects the photos embedded in scikit-image (a demo, not training).
EMBEDDED = "embedded"
ImageSource = (str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
               | Mapping[str, np.ndarray] | None)


class MissingTrainingDataError(FileNotFoundError, ValueError):
    """No HR training images were configured, or none usable were found where configured."""


def no_training_data_message(setting: str = "data.hr_dir") -> str:
    """What to do when a training run has no HR images (``setting`` names the knob to set)."""
    return (
        f"no training data: {setting} is not set. The paper trains on DIV2K + Flickr2K + WED + "
        "2,000 FFHQ faces: get them with `bsrgan fetch div2k-train-hr flickr2k wed` (FFHQ by "
        "hand: `bsrgan fetch ffhq-2000` says how), cut them into sub-images once "
        "with `bsrgan prepare SRC... -o /data/bsrgan_hr`, then set "
        f"{setting}=/data/bsrgan_hr (a folder, searched recursively; a list of folders; or a "
        "manifest.tsv / file list). For a smoke test on the five photos embedded in "
        f"scikit-image set {setting}: {EMBEDDED}. See docs/training.md, 'Training data'.")


def training_source(hr_dir: str | list[str] | None, setting: str = "data.hr_dir"
                    ) -> ImageSource:
    """The dataset source for the config value ``hr_dir``.

    ``"embedded"`` selects the embedded demo photos (returned as None); None (not set) raises
    :class:`MissingTrainingDataError` with :func:`no_training_data_message`.
    """
    if hr_dir is None or (isinstance(hr_dir, (str, list)) and not hr_dir):
        raise MissingTrainingDataError(no_training_data_message(setting))
    if hr_dir == EMBEDDED:
        return None
    return hr_dir


class BlindSRDataset(Dataset):
    """LR/HR training pairs from HR images on disk (or in memory).

    Args:
        source: what :func:`bsrgan.data.discovery.discover_hr_images` accepts (a folder searched
            recursively, a ``manifest.tsv`` of ``bsrgan prepare``, a file list, or a list of
            these), a ``{name: (H, W, 3) image}`` mapping (float in [0, 1], rounded to 8 bits, or
            uint8), or None / ``"embedded"`` for :func:`bsrgan.data.embedded_hr_images`.
        scale: super-resolution factor (sf).
        hr_crop: side of the random HR crop taken before degradation; images smaller than this
            on either side are excluded at construction (count + warning).
        lq_patch: LR patch side; the HR patch is ``lq_patch * scale``.
        degradation: ``"bsrgan"`` or ``"bsrgan_plus"``.
        isp: pass through to the degradation (camera sensor noise).
        seed: run seed; sample ``(epoch, index)`` uses ``SeedSequence([seed, epoch, index])``.
        hq_uint8: return ``hq`` as uint8 (see below) instead of float32.
        shuffle_prob, use_sharp: passed to ``degrade_bsrgan_plus`` (``bsrgan_plus`` only).
        degrade_in_worker: False: do not degrade here; items carry the uint8 HR crop and its
            plan instead, and :func:`degrade_on_device` makes the pair on the training device.

    Items (``dataset[(epoch, index)]`` or ``dataset[index]`` for epoch 0) are dicts with
    ``lq`` (3, lq_patch, lq_patch) float32 in [0, 1], ``hq`` (3, lq_patch*scale, lq_patch*scale)
    float32 in [0, 1] (or uint8 in [0, 255] with ``hq_uint8``), plus ``index`` and ``epoch``.
    With ``degrade_in_worker=False`` they hold ``hr`` (3, hr_crop, hr_crop) uint8 and ``trace``
    (the sample's degradation plan as a JSON string: ``plan_bsrgan`` / ``plan_bsrgan_plus``
    drawn from the same generator, hence the same plan the worker path would apply) instead of
    ``lq`` and ``hq``.
    The uint8 HQ is exact (``hq_to_float`` gives back the float path bit for bit) except for the
    samples whose degradation applied camera noise: that op also passes the HQ through the ISP,
    and rounding its output to 8 bits moves it by at most 0.5/255.

    Face images (``HRImage.face``, see :mod:`bsrgan.data.discovery`) get a horizontal flip or
    none; other images one of the 8 flips/rotations.
    """

    def __init__(
        self,
        source: ImageSource = None,
        *,
        scale: int = 4,
        hr_crop: int = 320,
        lq_patch: int = 72,
        degradation: str = "bsrgan",
        isp: bool = True,
        seed: int = 0,
        hq_uint8: bool = False,
        shuffle_prob: float = 0.1,
        use_sharp: bool = False,
        degrade_in_worker: bool = True,
    ) -> None:
        if hr_crop < lq_patch * scale:
            raise ValueError(f"hr_crop {hr_crop} must be >= lq_patch * scale = {lq_patch * scale}")
        self.scale = scale
        self.hr_crop = hr_crop
        self.lq_patch = lq_patch
        self.degradation = degradation
        self.isp = isp
        self.seed = int(seed)
        self.hq_uint8 = bool(hq_uint8)
        self.degrade_in_worker = bool(degrade_in_worker)
        self._degrade = degradation_fn(degradation)
        self._options = ({"shuffle_prob": float(shuffle_prob), "use_sharp": bool(use_sharp)}
                         if degradation == "bsrgan_plus" else {})
        self.names, self._items, self.faces, self.excluded = _collect(source, hr_crop)
        if self.excluded:
            detail = "; ".join(f"{n} ({why})" for n, why in self.excluded[:5])
            more = "" if len(self.excluded) <= 5 else f"; and {len(self.excluded) - 5} more"
            msg = (f"BlindSRDataset: excluded {len(self.excluded)} of "
                   f"{len(self.excluded) + len(self.names)} images: {detail}{more}")
            warnings.warn(msg, stacklevel=2)
            log.warning(msg)
        if not self.names:
            raise MissingTrainingDataError(
                f"BlindSRDataset: no usable HR image in {_describe(source)} (need both sides >= "
                f"hr_crop={hr_crop}); `bsrgan prepare SRC... -o OUT` cuts large photos into "
                "480 px sub-images that train from any folder tree")

    def __len__(self) -> int:
        return len(self.names)

    @property
    def num_faces(self) -> int:
        return sum(self.faces)

    def sample_rng(self, epoch: int, index: int) -> np.random.Generator:
        """The generator that fully determines sample ``index`` of ``epoch``."""
        return np.random.default_rng(np.random.SeedSequence([self.seed, int(epoch), int(index)]))

    def hr_sample(self, epoch: int, index: int) -> tuple[np.ndarray, np.random.Generator]:
        """The augmented uint8 HR crop of sample ``(epoch, index)`` and its generator.

        Returns ``(hr, rng)``: hr is uint8 (hr_crop, hr_crop, 3), cropped at random and flipped
        (faces: horizontal flip or none; others: one of 8 flips/rotations); ``rng`` has made
        exactly those draws and continues with the degradation's.
        """
        rng = self.sample_rng(epoch, index)
        img, used = self._load_or_substitute(index)
        hr = random_crop(img, self.hr_crop, rng)
        mode = 4 * int(rng.integers(2)) if self.faces[used] else int(rng.integers(8))
        return flip_rotate(hr, mode), rng

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        hr, rng = self.hr_sample(epoch, index)
        if not self.degrade_in_worker:
            return {"hr": torch.from_numpy(np.ascontiguousarray(hr.transpose(2, 0, 1))),
                    "trace": json.dumps(self.plan(rng)), "index": index, "epoch": epoch}
        lq, hq, _ = self._degrade(uint8_to_float(hr), sf=self.scale, lq_patchsize=self.lq_patch,
                                  rng=rng, isp=self.isp, **self._options)
        return {
            "lq": _to_chw(lq),
            "hq": _to_chw_uint8(hq) if self.hq_uint8 else _to_chw(hq),
            "index": index,
            "epoch": epoch,
        }

    def plan(self, rng: np.random.Generator) -> list[dict[str, Any]]:
        """The degradation plan (trace) of one ``hr_crop`` x ``hr_crop`` sample from ``rng``."""
        from bsrgan.degradation import plan_bsrgan, plan_bsrgan_plus

        size = (self.hr_crop, self.hr_crop, self.scale, self.lq_patch)
        if self.degradation == "bsrgan_plus":
            return plan_bsrgan_plus(rng, *size, isp=self.isp, **self._options)
        return plan_bsrgan(rng, *size, isp=self.isp)

    def _load_or_substitute(self, index: int) -> tuple[np.ndarray, int]:
        """(uint8 image, its index): image ``index``, or if it became unreadable since start-up,
        the next readable one."""
        for step in range(len(self._items)):
            i = (index + step) % len(self._items)
            try:
                return self._load(i), i
            except (OSError, ValueError) as exc:
                log.warning("BlindSRDataset: skipping %s: %s", self.names[i], exc)
        raise RuntimeError("BlindSRDataset: no HR image could be read")

    def _load(self, index: int) -> np.ndarray:
        """uint8 (H, W, 3), possibly a read-only view (see :func:`bsrgan.io.imread_pixels`)."""
        item = self._items[index]
        if isinstance(item, np.ndarray):
            return item
        from bsrgan.io import imread_pixels

        img = imread_pixels(item)
        if img.dtype != np.uint8:  # 16-bit / float files: round the whole image to 8 bits
            from bsrgan.io import as_uint8

            img = as_uint8(img)
        return img


def degradation_fn(name: str) -> Callable[..., tuple[np.ndarray, np.ndarray, Any]]:
    """``degrade_bsrgan`` or ``degrade_bsrgan_plus`` by config name."""
    import bsrgan.degradation as deg

    table = {"bsrgan": "degrade_bsrgan", "bsrgan_plus": "degrade_bsrgan_plus"}
    if name not in table:
        raise ValueError(f"unknown degradation {name!r}; choose from {sorted(table)}")
    return getattr(deg, table[name])


def random_crop(img: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A ``size`` x ``size`` crop (a view) at a uniformly random position. img: (H, W, C)."""
    h, w = img.shape[:2]
    if h < size or w < size:
        raise ValueError(f"image {h}x{w} is smaller than the crop {size}")
    top = int(rng.integers(0, h - size + 1))
    left = int(rng.integers(0, w - size + 1))
    return img[top:top + size, left:left + size]


def flip_rotate(img: np.ndarray, mode: int) -> np.ndarray:
    """One of the 8 dihedral transforms: rotate by ``90 * (mode % 4)``, then flip if mode >= 4.

    Mode 0 is the identity and mode 4 the horizontal (left-right) flip. Returns a contiguous copy.
    """
    if not 0 <= mode < 8:
        raise ValueError(f"mode must be in [0, 8), got {mode}")
    out = np.rot90(img, k=mode % 4)
    if mode >= 4:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def uint8_to_float(img: np.ndarray) -> np.ndarray:
    """uint8 -> float32 in [0, 1]: ``x / 255``, the conversion of :func:`bsrgan.io.imread`."""
    return img.astype(np.float32) / np.float32(255.0)


def hq_to_float(hq: torch.Tensor) -> torch.Tensor:
    """A uint8 HQ batch (from ``hq_uint8=True``) as float32 in [0, 1]; float input unchanged.

    ``x / 255`` in float32, the same correctly rounded division numpy does for the float path,
    so the result is bitwise equal to it. Call it after moving the batch to the device.
    """
    if hq.dtype == torch.uint8:
        return hq.to(torch.float32).div_(255.0)
    return hq


def degrade_on_device(batch: Mapping[str, Any],
                      device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(lq, hq) on ``device`` from a loader batch of ``degrade_in_worker=False`` items.

    The uint8 HR crops become float32 ``x / 255`` there (the worker path's conversion, bit for
    bit) and the batched torch backend applies each sample's plan
    (:func:`bsrgan.degradation.replay_batch`). Returns (B, 3, p, p) and (B, 3, p*sf, p*sf)
    float32 in [0, 1].
    """
    from bsrgan.degradation import replay_batch

    hr = batch["hr"].to(device, non_blocking=True).to(torch.float32).div_(255.0)
    return replay_batch(hr, [json.loads(trace) for trace in batch["trace"]])


def _to_chw(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32))


def _to_chw_uint8(img: np.ndarray) -> torch.Tensor:
    """float (H, W, 3) in [0, 1] -> uint8 (3, H, W), rounding to the nearest level."""
    quantised = np.rint(np.clip(img, 0.0, 1.0) * np.float32(255.0)).astype(np.uint8)
    return torch.from_numpy(np.ascontiguousarray(quantised.transpose(2, 0, 1)))


def _describe(source: ImageSource) -> str:
    if source is None or source == EMBEDDED:
        return "the embedded images"
    if isinstance(source, Mapping):
        return f"{len(source)} in-memory images"
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return ", ".join(str(s) for s in source)


def _collect(source: ImageSource, hr_crop: int
             ) -> tuple[list[str], list, list[bool], list[tuple[str, str]]]:
    """(names, items, faces, excluded): items are uint8 arrays or paths; excluded are
    (name, reason)."""
    if source is None or (isinstance(source, str) and source == EMBEDDED):
        from bsrgan.data import embedded_hr_images

        source = embedded_hr_images()
    names: list[str] = []
    items: list = []
    faces: list[bool] = []
    excluded: list[tuple[str, str]] = []
    if isinstance(source, Mapping):
        from bsrgan.io import as_uint8

        for name, img in source.items():
            img = np.asarray(img)
            if img.ndim != 3 or img.shape[2] != 3:
                excluded.append((name, f"shape {img.shape} is not (H, W, 3)"))
            elif min(img.shape[:2]) < hr_crop:
                excluded.append((name, f"{img.shape[0]}x{img.shape[1]} < crop {hr_crop}"))
            else:
                names.append(name)
                items.append(as_uint8(img))
                faces.append(False)
        return names, items, faces, excluded
    from bsrgan.data.discovery import discover_hr_images

    found = discover_hr_images(source)
    excluded += [(entry, "listed file not found") for entry in found.missing]
    for image in found.images:
        size = image.size or _image_size(image.path)
        if isinstance(size, str):
            excluded.append((image.name, size))
        elif min(size) < hr_crop:
            excluded.append((image.name, f"{size[0]}x{size[1]} < crop {hr_crop}"))
        else:
            names.append(image.name)
            items.append(image.path)
            faces.append(image.face)
    return names, items, faces, excluded


def _image_size(path: Path) -> tuple[int, int] | str:
    """(H, W) from the file header (cheap), or the reason the file cannot be used."""
    from PIL import Image

    from bsrgan.io import imread_pixels

    try:
        with Image.open(path) as im:
            w, h = im.size
            transposed = im.getexif().get(0x0112, 1) in (5, 6, 7, 8)  # EXIF: rotated by 90
        return (w, h) if transposed else (h, w)
    except (OSError, ValueError) as exc:  # not a header PIL knows: let our reader decide
        log.debug("PIL cannot read the size of %s (%s); decoding it", path, exc)
    try:
        img = imread_pixels(path)
        return img.shape[0], img.shape[1]
    except (OSError, ValueError) as exc:  # unreadable: excluded, never fatal for the run
        return f"unreadable: {exc}"


class ResumableSampler(Sampler):
    """Endless ``(epoch, index)`` stream, sharded across ranks, that can start mid-stream.

    Each epoch is a ``DistributedSampler`` permutation (seeded by ``seed + epoch``, padded so
    every rank gets the same count); ``start`` skips the first ``start`` items this rank would
    have produced, so resuming at step ``s`` with batch ``b`` uses ``start = s * b``.
    """

    def __init__(self, num_items: int, *, seed: int, rank: int = 0, world_size: int = 1,
                 start: int = 0, shuffle: bool = True) -> None:
        self._base = DistributedSampler(range(num_items), num_replicas=world_size, rank=rank,
                                        shuffle=shuffle, seed=seed, drop_last=False)
        self.per_epoch = len(self._base)
        self.start = int(start)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch, offset = divmod(self.start, self.per_epoch)
        while True:
            self._base.set_epoch(epoch)
            for i, index in enumerate(self._base):
                if i >= offset:
                    yield epoch, int(index)
            epoch, offset = epoch + 1, 0


def worker_init(_worker_id: int) -> None:
    """One intra-op thread per DataLoader worker (workers already parallelise across samples)."""
    torch.set_num_threads(1)
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover - opencv is a dependency
        pass


def make_loader(dataset: BlindSRDataset, *, batch_size: int, num_workers: int,
                pin_memory: bool, persistent_workers: bool, prefetch_factor: int,
                rank: int = 0, world_size: int = 1, start_step: int = 0,
                worker_start_method: str = "spawn") -> torch.utils.data.DataLoader:
    """An endless DataLoader whose first batch is the one for ``start_step`` (per rank).

    Workers are started with ``worker_start_method`` ("spawn" by default: forking a process
    whose OpenCV/OpenMP thread pools have run can leave the children deadlocked).
    """
    sampler = ResumableSampler(len(dataset), seed=dataset.seed, rank=rank,
                               world_size=world_size, start=start_step * batch_size)
    extra: dict[str, Any] = {}
    if num_workers > 0:
        extra = {"persistent_workers": persistent_workers, "prefetch_factor": prefetch_factor,
                 "worker_init_fn": worker_init,
                 "multiprocessing_context": worker_start_method}
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
        pin_memory=pin_memory and torch.cuda.is_available(), drop_last=True, **extra)
