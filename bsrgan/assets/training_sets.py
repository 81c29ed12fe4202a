"""The paper's training sets: DIV2K, Flickr2K, WED and 2,000 FFHQ faces, as named downloads.

``bsrgan fetch div2k-train-hr`` downloads the archive into the cache (resumable, with a progress
bar; sha256-checked where a hash is known, trust-on-first-use otherwise, exactly like the
official weights), unpacks its HR images into ``$BSRGAN_HOME/training/<folder>/`` and returns
that folder, ready for ``bsrgan prepare``. A folder someone already has is accepted with
``--path`` (checked, never copied).

FFHQ lives on Google Drive behind a download quota, so no script fetches it reliably;
``bsrgan fetch ffhq-2000`` prints what to download and where to put it. The paper does not say
which 2,000 FFHQ faces it used; this project fixes them as :data:`FFHQ_SUBSET`: the first 2,000
images of the official 1024x1024 release, ``images1024x1024/00000/00000.png`` to
``images1024x1024/01000/01999.png``, i.e. the two folders ``00000`` and ``01000`` (all of them
in FFHQ's training split, images 0-59,999), about 2.5 GB (estimated from the 89.1 GB for all
70,000), instead of a sample spread over all 70 folders that would need the whole 89 GB.

Where the URLs, sizes and hashes come from (none of this was re-checked here: no network):

- DIV2K train/valid HR: https://data.vision.ee.ethz.ch/cvl/DIV2K/; sizes and sha256 as recorded
  by TensorFlow Datasets (``tensorflow_datasets/url_checksums/div2k.txt``); ETH publishes none.
- Flickr2K: the EDSR authors' ``Flickr2K.tar`` (https://cv.snu.ac.kr/research/EDSR/), which also
  holds the LR versions (only ``Flickr2K/Flickr2K_HR/`` is unpacked); no published size or
  sha256: trust-on-first-use.
- WED (Waterloo Exploration Database, 4,744 ``pristine_images``): the authors' RAR archive
  (https://ivc.uwaterloo.ca/database/WaterlooExploration/); no published size or sha256.
- FFHQ: https://github.com/NVlabs/ffhq-dataset (per-file md5s are in its
  ``ffhq-dataset-v2.json``, which is not read here).
"""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from bsrgan.assets.errors import AssetError, UnverifiedAssetWarning
from bsrgan.assets.registry import AssetFile, local_path
from bsrgan.assets.resolution import resolve_file
from bsrgan.assets.settings import AssetSettings
from bsrgan.assets.verify import read_sidecar, sha256_file
from bsrgan.io import IMAGE_EXTENSIONS
from bsrgan.utils.atomic import atomic_write_text

MARKER = ".bsrgan-unpacked.json"
DIV2K_URL = "https://data.vision.ee.ethz.ch/cvl/DIV2K/{name}"
TFDS_NOTE = ("size and sha256 as recorded by TensorFlow Datasets "
             "(tensorflow_datasets/url_checksums/div2k.txt); ETH publishes none")

#: The 2,000 FFHQ faces of this project: relative paths inside FFHQ's images1024x1024/.
FFHQ_SUBSET: tuple[str, ...] = tuple(f"{i // 1000 * 1000:05d}/{i:05d}.png" for i in range(2000))


@dataclass(frozen=True)
class TrainingSet:
    """A training image set.

    Attributes:
        name: what ``bsrgan fetch`` calls it.
        description: one line.
        images: how many HR images the set has.
        folder: cache-relative folder that receives the images.
        archive: the download (None: no scripted download, see ``manual``).
        members: folder inside the archive whose images are kept.
        faces: the images are faces (training flips them horizontally only).
        homepage: where the set is described.
        manual: what to download by hand and where to put it (when ``archive`` is None).
        expected: relative paths the folder must hold (FFHQ); empty = count only.
    """

    name: str
    description: str
    images: int
    folder: str
    archive: AssetFile | None
    members: str = ""
    faces: bool = False
    homepage: str = ""
    manual: str = ""
    expected: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return self.archive.url if self.archive and self.archive.url else self.homepage

    @property
    def download_size(self) -> int | None:
        return self.archive.size if self.archive else None


def _archive(name: str, relname: str, url: str, size: int | None, sha256: str | None,
             note: str) -> AssetFile:
    return AssetFile(asset=name, relpath=f"training/archives/{relname}", size=size,
                     sha256=sha256, url=url, note=note)


TRAINING_SETS: dict[str, TrainingSet] = {s.name: s for s in (
    TrainingSet(
        "div2k-train-hr", "DIV2K training HR: 800 2K PNG photos (NTIRE 2017)", 800,
        "training/DIV2K_train_HR",
        _archive("div2k-train-hr", "DIV2K_train_HR.zip",
                 DIV2K_URL.format(name="DIV2K_train_HR.zip"), 3_530_603_713,
                 "9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335", TFDS_NOTE),
        members="DIV2K_train_HR", homepage="https://data.vision.ee.ethz.ch/cvl/DIV2K/"),
    TrainingSet(
        "div2k-valid-hr", "DIV2K validation HR: 100 2K PNG photos (NTIRE 2017)", 100,
        "training/DIV2K_valid_HR",
        _archive("div2k-valid-hr", "DIV2K_valid_HR.zip",
                 DIV2K_URL.format(name="DIV2K_valid_HR.zip"), 448_993_893,
                 "20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc", TFDS_NOTE),
        members="DIV2K_valid_HR", homepage="https://data.vision.ee.ethz.ch/cvl/DIV2K/"),
    TrainingSet(
        "flickr2k", "Flickr2K: 2,650 2K PNG photos (EDSR, NTIRE 2017); the tar also holds LR "
        "versions, not unpacked", 2650, "training/Flickr2K_HR",
        _archive("flickr2k", "Flickr2K.tar", "https://cv.snu.ac.kr/research/EDSR/Flickr2K.tar",
                 None, None, "EDSR authors' archive; size and sha256 not published "
                 "(trust-on-first-use)"),
        members="Flickr2K/Flickr2K_HR", homepage="https://github.com/limbee/NTIRE2017"),
    TrainingSet(
        "wed", "Waterloo Exploration Database: 4,744 pristine BMP photos (RAR; needs bsdtar, "
        "7z, unrar or unar)", 4744, "training/WED",
        _archive("wed", "exploration_database_and_code.rar",
                 "http://ivc.uwaterloo.ca/database/WaterlooExploration/"
                 "exploration_database_and_code.rar", None, None,
                 "Waterloo IVC lab's archive; size and sha256 not published "
                 "(trust-on-first-use)"),
        members="exploration_database_and_code/pristine_images",
        homepage="https://ivc.uwaterloo.ca/database/WaterlooExploration/"),
    TrainingSet(
        "ffhq-2000", "FFHQ faces 00000-01999 (1024x1024 PNG): the paper's 2,000 faces, fixed "
        "here as the first two folders; download by hand (Google Drive quota)", 2000,
        "training/ffhq-2000", None, faces=True,
        homepage="https://github.com/NVlabs/ffhq-dataset",
        manual=("FFHQ is on Google Drive behind a download quota, so it is not downloaded by a "
                "script. Download the folders 00000 and 01000 of images1024x1024 (2,000 PNGs, "
                "~2.5 GB) from https://drive.google.com/open?id=1tZUcXDBeOibC6jcMCtgRRz67pzrAHeHL "
                "(or run NVlabs' download_ffhq.py --images and keep those two folders)"),
        expected=FFHQ_SUBSET),
)}


def training_set(name: str) -> TrainingSet:
    """The training set called ``name``; :class:`AssetError` lists the known ones."""
    try:
        return TRAINING_SETS[name.lower()]
    except KeyError:
        raise AssetError(f"unknown training set {name!r}; known: "
                         f"{', '.join(TRAINING_SETS)}") from None


def is_unpacked(tset: TrainingSet, settings: AssetSettings | None = None) -> bool:
    """True when the set's folder in the cache was filled completely (its marker exists)."""
    st = settings if settings is not None else AssetSettings.from_env()
    return (local_path(st.home, tset.folder) / MARKER).is_file()


def fetch_training_set(tset: TrainingSet | str, *, path: str | os.PathLike[str] | None = None,
                       progress: bool = True, settings: AssetSettings | None = None,
                       remove_archive: bool = False) -> Path:
    """Materialise a training set and return the folder holding its images.

    Args:
        tset: a :class:`TrainingSet` or its name.
        path: a folder that already holds the set's images (checked in place, not copied; FFHQ:
            the folder with 00000/ and 01000/, or its images1024x1024 parent).
        progress: progress bars for the download and the unpacking.
        settings: cache/mirror/network settings (default: from the environment).
        remove_archive: delete the archive once its images are unpacked (its sha256 stays
            recorded in the folder's marker).

    Raises:
        AssetError: the download, the check or the unpacking failed, or (FFHQ) the images are
            not where they must be; the message says what to do.
    """
    tset = training_set(tset) if isinstance(tset, str) else tset
    st = settings if settings is not None else AssetSettings.from_env()
    folder = local_path(st.home, tset.folder)
    if path is not None:
        return _use_folder(tset, Path(path).expanduser(), st)
    if (folder / MARKER).is_file():
        return folder
    if tset.archive is None:
        if folder.is_dir():
            return _use_folder(tset, folder, st)
        raise AssetError(f"training set {tset.name!r}: {tset.manual}; then put them at "
                         f"{folder}/00000 and {folder}/01000, or pass their folder with "
                         f"`bsrgan fetch {tset.name} --path DIR`. See {tset.homepage}.")
    archive = resolve_file(tset.archive, progress=progress, settings=st, resume=True)
    from bsrgan.assets.unpack import unpack_images

    count = unpack_images(archive, folder, members=tset.members, progress=progress)
    if count != tset.images:
        warnings.warn(f"training set {tset.name!r}: unpacked {count} images from {archive}, "
                      f"expected {tset.images}", RuntimeWarning, stacklevel=2)
    sha = tset.archive.sha256 or read_sidecar(archive)
    atomic_write_text(folder / MARKER, json.dumps(
        {"set": tset.name, "archive": tset.archive.relpath, "url": tset.archive.url,
         "archive_sha256": sha, "images": count}, indent=2) + "\n")
    if remove_archive:
        archive.unlink(missing_ok=True)
    return folder


def _use_folder(tset: TrainingSet, folder: Path, settings: AssetSettings) -> Path:
    """Check a folder the user provides; FFHQ: the 2,000 files, hashed on first use."""
    if not folder.is_dir():
        raise AssetError(f"training set {tset.name!r}: {folder} is not a folder")
    if not tset.expected:
        count = sum(1 for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        if count < tset.images:
            warnings.warn(f"training set {tset.name!r}: {folder} holds {count} images, the set "
                          f"has {tset.images}", RuntimeWarning, stacklevel=3)
        if count == 0:
            raise AssetError(f"training set {tset.name!r}: no image in {folder}")
        return folder
    if not (folder / tset.expected[0]).is_file() and (folder / "images1024x1024").is_dir():
        folder = folder / "images1024x1024"
    missing = [rel for rel in tset.expected if not (folder / rel).is_file()]
    if missing:
        raise AssetError(
            f"training set {tset.name!r}: {len(missing)} of its {len(tset.expected)} images are "
            f"not in {folder} (e.g. {missing[0]}). {tset.manual}.")
    _check_recorded_hashes(tset, folder, settings)
    return folder


def _check_recorded_hashes(tset: TrainingSet, folder: Path, settings: AssetSettings) -> None:
    """Trust on first use: record the sha256 of each expected file, compare on later uses."""
    record = local_path(settings.home, f"training/{tset.name}.sha256")
    hashes = {rel: sha256_file(folder / rel) for rel in tset.expected}
    if record.is_file():
        known = dict(line.split(None, 1)[::-1] for line in
                     record.read_text(encoding="utf-8").splitlines() if line.strip())
        changed = [rel for rel, sha in hashes.items() if known.get(rel) not in (None, sha)]
        if changed:
            raise AssetError(
                f"training set {tset.name!r}: {len(changed)} files in {folder} differ from the "
                f"sha256 recorded on first use in {record} (e.g. {changed[0]}); delete the "
                "record to accept these files")
        return
    atomic_write_text(record, "".join(f"{sha}  {rel}\n" for rel, sha in hashes.items()))
    warnings.warn(f"training set {tset.name!r}: no published sha256; recorded the hashes of "
                  f"the {len(hashes)} files in {folder} in {record} (trust on first use)",
                  UnverifiedAssetWarning, stacklevel=4)
