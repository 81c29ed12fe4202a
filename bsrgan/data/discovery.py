"""Find HR training images: folders (recursive), file lists, prepared folders (manifests).

A source is any of:

- a folder: every image below it, recursively, in sorted path order (hidden files and folders,
  names starting with ``.``, are skipped). A folder - the source itself or one found inside it -
  that holds a ``manifest.tsv`` written by ``bsrgan prepare`` is read from its manifest instead
  (no walk, no image headers: the sizes and face flags are in the table);
- a ``manifest.tsv`` file;
- a file list: a text file with one image path per line, relative paths resolved against the
  list's folder, blank lines and lines starting with ``#`` ignored;
- a single image file.

Several sources may be given; an image reached twice is used once.

Face images are tagged so that training gives them horizontal flips only, as the authors'
KAIR loader does for its FFHQ faces. The rule: a manifest's ``face`` column when there is one;
otherwise an image is a face when a folder on its way from the source (the source folder
itself included; for a file list, the folders written in the list entry) is named ``ffhq...``
(any suffix, e.g. ``FFHQ``, ``ffhq_2000``) or ``face``/``faces`` followed by no other letter
(``faces``, ``face_crops``; not ``surfaces`` or ``facebook``), ignoring case; or when its source
was given in ``faces``. (KAIR tests ``'face' in path``, which also matches such look-alikes.)
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from bsrgan.data.manifest import MANIFEST_NAME, is_manifest, read_manifest
from bsrgan.io import IMAGE_EXTENSIONS

HRSpec = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
_FACE_FOLDER = re.compile(r"^(?:ffhq|faces?(?![a-z]))", re.IGNORECASE)


@dataclass(frozen=True)
class HRImage:
    """One HR training image.

    Attributes:
        path: the image file.
        size: (height, width) when known without decoding (from a manifest), else None.
        face: True for a face image (horizontal flips only in training).
        name: for messages: the path relative to its source (as written, for list entries).
    """

    path: Path
    size: tuple[int, int] | None = None
    face: bool = False
    name: str = ""


@dataclass
class Discovery:
    """What :func:`discover_hr_images` found.

    Attributes:
        images: the images, in source order then sorted path order, without duplicates.
        missing: entries of file lists and manifests whose file does not exist (``"<list>:
            <entry>"``); they are left out of ``images``.
        duplicates: how many images were reached more than once (used once).
    """

    images: list[HRImage] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    duplicates: int = 0

    @property
    def num_faces(self) -> int:
        return sum(img.face for img in self.images)


def is_face_folder(name: str) -> bool:
    """True for a folder name that marks face images (see the module docstring)."""
    return bool(_FACE_FOLDER.match(name))


def is_face_path(path: PurePath, root: PurePath | None) -> bool:
    """Face rule for ``path`` found under the source folder ``root`` (None: any folder named in
    ``path`` counts, as for file-list entries)."""
    if root is None:
        folders = path.parent.parts
    else:
        try:
            folders = (root.name, *path.parent.relative_to(root).parts)
        except ValueError:
            folders = path.parent.parts
    return any(is_face_folder(part) for part in folders)


def discover_hr_images(spec: HRSpec, *, faces: Sequence[str | os.PathLike[str]] = (),
                       exclude: str | os.PathLike[str] | None = None) -> Discovery:
    """Every HR image named by ``spec`` (a source or a list of sources, see the module docstring).

    Args:
        spec: a folder, a manifest, a file list, an image file, or a list of them.
        faces: sources whose images are all faces, whatever their names.
        exclude: a folder whose contents are never returned (e.g. the output of
            ``bsrgan prepare``, when it lies inside an input folder).

    Raises:
        FileNotFoundError: a source does not exist (the message names it).
        ValueError: ``spec`` is empty, or a manifest is malformed (the message names the file).
    """
    sources = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec)
    if not sources:
        raise ValueError("no HR source given (expected a folder, a manifest.tsv or a file list)")
    face_sources = {Path(f).expanduser().resolve() for f in faces}
    skip = Path(exclude).resolve() if exclude is not None else None
    found = Discovery()
    seen: set[Path] = set()
    for item in sources:
        source = Path(item).expanduser()
        if not source.exists():
            raise FileNotFoundError(f"HR source not found: {source} (expected a folder of "
                                    "images, a manifest.tsv written by `bsrgan prepare`, or a "
                                    "file list)")
        all_faces = source.resolve() in face_sources
        for image in _images_of(source, found, skip):
            key = image.path.resolve()
            if key in seen:
                found.duplicates += 1
                continue
            seen.add(key)
            found.images.append(HRImage(image.path, image.size, image.face or all_faces,
                                        image.name or image.path.name))
    return found


def _images_of(source: Path, found: Discovery, skip: Path | None) -> Iterator[HRImage]:
    if source.is_dir():
        yield from _walk(source, source, found, skip, set())
    elif source.suffix.lower() in IMAGE_EXTENSIONS:
        yield HRImage(source, None, is_face_path(source, source.parent), source.name)
    elif is_manifest(source):
        yield from _from_manifest(source, found)
    else:
        yield from _from_list(source, found)


def _walk(folder: Path, root: Path, found: Discovery, skip: Path | None,
          visited: set[Path]) -> Iterator[HRImage]:
    real = folder.resolve()
    if real in visited or (skip is not None and (real == skip or skip in real.parents)):
        return
    visited.add(real)
    manifest = folder / MANIFEST_NAME
    if manifest.is_file() and is_manifest(manifest):
        yield from _from_manifest(manifest, found)
        return
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise FileNotFoundError(f"cannot list HR folder {folder}: {exc.strerror or exc}") from exc
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        if entry.is_dir():
            yield from _walk(path, root, found, skip, visited)
        elif entry.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS:
            yield HRImage(path, None, is_face_path(path, root),
                          path.relative_to(root).as_posix())


def _from_manifest(manifest: Path, found: Discovery) -> Iterator[HRImage]:
    folder = manifest.parent
    for row in read_manifest(manifest):
        path = folder.joinpath(*PurePath(row.subimage).parts)
        if not path.is_file():
            found.missing.append(f"{manifest}: {row.subimage}")
            continue
        yield HRImage(path, (row.height, row.width), row.face, row.subimage)


def _from_list(listing: Path, found: Discovery) -> Iterator[HRImage]:
    try:
        lines = listing.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{listing}: not a readable file list of image paths ({exc})") from exc
    for line in lines:
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        written = Path(entry).expanduser()
        path = written if written.is_absolute() else listing.parent / written
        if path.is_file():
            yield HRImage(path, None, is_face_path(written, None), entry)
        elif path.is_dir():
            yield from _walk(path, path, found, None, set())
        else:
            found.missing.append(f"{listing}: {entry}")
