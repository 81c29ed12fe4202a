"""Training pairs synthesised on the fly: HR crop -> flip/rotation -> BSRGAN degradation.

Every sample draws from its own ``numpy.random.Generator`` seeded by ``(run seed, epoch, index)``
through ``np.random.SeedSequence``, so any batch can be regenerated from its indices, workers
need no seeding, and a resumed run sees exactly the data an uninterrupted one would have seen.
The sampler therefore yields ``(epoch, index)`` pairs rather than bare indices.
"""
from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler, Sampler

log = logging.getLogger(__name__)

ImageSource = str | os.PathLike[str] | Mapping[str, np.ndarray] | None


class BlindSRDataset(Dataset):
    """LR/HR training pairs from a folder of HR images (or in-memory images).

    Args:
        source: folder of HR images, a ``{name: float32 (H, W, 3) in [0, 1]}`` mapping, or None
            for :func:`bsrgan.data.embedded_hr_images`.
        scale: super-resolution factor (sf).
        hr_crop: side of the random HR crop taken before degradation; images smaller than this
            on either side are excluded at construction (count + warning).
        lq_patch: LR patch side; the HR patch is ``lq_patch * scale``.
        degradation: ``"bsrgan"`` or ``"bsrgan_plus"``.
        isp: pass through to the degradation (camera sensor noise).
        seed: run seed; sample ``(epoch, index)`` uses ``SeedSequence([seed, epoch, index])``.

    Items (``dataset[(epoch, index)]`` or ``dataset[index]`` for epoch 0) are dicts with
    ``lq`` (3, lq_patch, lq_patch) and ``hq`` (3, lq_patch*scale, lq_patch*scale) float32 tensors
    in [0, 1], plus ``index`` and ``epoch``.
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
    ) -> None:
        if hr_crop < lq_patch * scale:
            raise ValueError(f"hr_crop {hr_crop} must be >= lq_patch * scale = {lq_patch * scale}")
        self.scale = scale
        self.hr_crop = hr_crop
        self.lq_patch = lq_patch
        self.degradation = degradation
        self.isp = isp
        self.seed = int(seed)
        self._degrade = degradation_fn(degradation)
        self.names, self._items, self.excluded = _collect(source, hr_crop)
        if self.excluded:
            detail = "; ".join(f"{n} ({why})" for n, why in self.excluded[:5])
            more = "" if len(self.excluded) <= 5 else f"; and {len(self.excluded) - 5} more"
            msg = (f"BlindSRDataset: excluded {len(self.excluded)} of "
                   f"{len(self.excluded) + len(self.names)} images: {detail}{more}")
            warnings.warn(msg, stacklevel=2)
            log.warning(msg)
        if not self.names:
            raise ValueError(f"BlindSRDataset: no usable HR image in {_describe(source)} "
                             f"(need both sides >= hr_crop={hr_crop})")

    def __len__(self) -> int:
        return len(self.names)

    def sample_rng(self, epoch: int, index: int) -> np.random.Generator:
        """The generator that fully determines sample ``index`` of ``epoch``."""
        return np.random.default_rng(np.random.SeedSequence([self.seed, int(epoch), int(index)]))

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        rng = self.sample_rng(epoch, index)
        img = self._load_or_substitute(index)
        hr = random_crop(img, self.hr_crop, rng)
        hr = flip_rotate(hr, int(rng.integers(8)))
        lq, hq, _ = self._degrade(hr, sf=self.scale, lq_patchsize=self.lq_patch, rng=rng,
                                  isp=self.isp)
        return {
            "lq": _to_chw(lq),
            "hq": _to_chw(hq),
            "index": index,
            "epoch": epoch,
        }

    def _load_or_substitute(self, index: int) -> np.ndarray:
        """Image ``index``; if it became unreadable since start-up, the next readable one."""
        for step in range(len(self._items)):
            i = (index + step) % len(self._items)
            try:
                return self._load(i)
            except (OSError, ValueError) as exc:
                log.warning("BlindSRDataset: skipping %s: %s", self.names[i], exc)
        raise RuntimeError("BlindSRDataset: no HR image could be read")

    def _load(self, index: int) -> np.ndarray:
        item = self._items[index]
        if isinstance(item, np.ndarray):
            return item
        from bsrgan.io import imread

        return imread(item)


def degradation_fn(name: str) -> Callable[..., tuple[np.ndarray, np.ndarray, Any]]:
    """``degrade_bsrgan`` or ``degrade_bsrgan_plus`` by config name."""
    import bsrgan.degradation as deg

    table = {"bsrgan": "degrade_bsrgan", "bsrgan_plus": "degrade_bsrgan_plus"}
    if name not in table:
        raise ValueError(f"unknown degradation {name!r}; choose from {sorted(table)}")
    return getattr(deg, table[name])


def random_crop(img: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A ``size`` x ``size`` crop at a uniformly random position. img: (H, W, C), H, W >= size."""
    h, w = img.shape[:2]
    if h < size or w < size:
        raise ValueError(f"image {h}x{w} is smaller than the crop {size}")
    top = int(rng.integers(0, h - size + 1))
    left = int(rng.integers(0, w - size + 1))
    return img[top:top + size, left:left + size]


def flip_rotate(img: np.ndarray, mode: int) -> np.ndarray:
    """One of the 8 dihedral transforms: rotate by ``90 * (mode % 4)``, then flip if mode >= 4."""
    if not 0 <= mode < 8:
        raise ValueError(f"mode must be in [0, 8), got {mode}")
    out = np.rot90(img, k=mode % 4)
    if mode >= 4:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def _to_chw(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32))


def _describe(source: ImageSource) -> str:
    if source is None:
        return "the embedded images"
    if isinstance(source, Mapping):
        return f"{len(source)} in-memory images"
    return str(source)


def _collect(source: ImageSource, hr_crop: int) -> tuple[list[str], list, list[tuple[str, str]]]:
    """(names, items, excluded): items are arrays or paths; excluded are (name, reason)."""
    if source is None:
        from bsrgan.data import embedded_hr_images

        source = embedded_hr_images()
    names: list[str] = []
    items: list = []
    excluded: list[tuple[str, str]] = []
    if isinstance(source, Mapping):
        for name, img in source.items():
            img = np.asarray(img)
            if img.ndim != 3 or img.shape[2] != 3:
                excluded.append((name, f"shape {img.shape} is not (H, W, 3)"))
            elif min(img.shape[:2]) < hr_crop:
                excluded.append((name, f"{img.shape[0]}x{img.shape[1]} < crop {hr_crop}"))
            else:
                names.append(name)
                items.append(np.ascontiguousarray(img, dtype=np.float32))
        return names, items, excluded
    from bsrgan.io import list_images

    folder = Path(source)
    if not folder.is_dir():
        raise FileNotFoundError(f"HR image folder not found: {folder}")
    for path in list_images(folder):
        size = _image_size(path)
        if isinstance(size, str):
            excluded.append((path.name, size))
        elif min(size) < hr_crop:
            excluded.append((path.name, f"{size[0]}x{size[1]} < crop {hr_crop}"))
        else:
            names.append(path.name)
            items.append(path)
    return names, items, excluded


def _image_size(path: Path) -> tuple[int, int] | str:
    """(H, W) from the file header (cheap), or the reason the file cannot be used."""
    from PIL import Image

    from bsrgan.io import imread

    try:
        with Image.open(path) as im:
            w, h = im.size
        return h, w
    except (OSError, ValueError) as exc:  # not a header PIL knows: let our reader decide
        log.debug("PIL cannot read the size of %s (%s); decoding it", path, exc)
    try:
        img = imread(path)
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
