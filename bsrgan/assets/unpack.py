"""Unpack the image files of a dataset archive (zip, tar, rar) into a folder, atomically.

zip and tar use the standard library (:mod:`zipfile`, :mod:`tarfile`), member by member, so a
20 GB tar is streamed, not listed first. Python has no RAR decoder (the ``rarfile`` package
itself calls an external program), so ``.rar`` goes through the first of ``bsdtar``, ``7z``,
``unrar`` or ``unar`` found on ``PATH``.

Only regular files below ``members`` (a path prefix inside the archive) whose extension is an
image extension are kept, with the prefix removed; names that would leave the folder (absolute,
``..``) are refused. The files are written to ``.<folder>.unpacking`` next to the target and
renamed onto it at the end, so an interrupted unpack never leaves a half-filled folder.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from bsrgan.assets.errors import AssetError
from bsrgan.io import IMAGE_EXTENSIONS

RAR_TOOLS: tuple[tuple[str, ...], ...] = (
    ("bsdtar", "-xf", "{archive}", "-C", "{dest}"),
    ("7z", "x", "-y", "-o{dest}", "{archive}"),
    ("unrar", "x", "-o+", "{archive}", "{dest}/"),
    ("unar", "-f", "-o", "{dest}", "{archive}"),
)


def archive_kind(path: Path) -> str:
    """``zip``, ``tar`` or ``rar`` from the file name."""
    name = path.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")):
        return "tar"
    if name.endswith(".rar"):
        return "rar"
    raise AssetError(f"{path}: unknown archive type (expected .zip, .tar[.gz|.bz2|.xz] or .rar)")


def unpack_images(archive: Path, dest: Path, *, members: str = "", progress: bool = True) -> int:
    """Extract the images below ``members`` of ``archive`` into ``dest``; return how many.

    An existing ``dest`` is replaced. Raises :class:`AssetError` for a damaged archive, a member
    that would escape ``dest``, or a RAR archive with no unpacking program available.
    """
    from tqdm.auto import tqdm

    kind = archive_kind(archive)
    prefix = members.strip("/") + "/" if members.strip("/") else ""
    tmp = dest.with_name(f".{dest.name}.unpacking")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    count = 0
    try:
        with tqdm(unit="img", desc=f"unpack {archive.name}", disable=not progress) as bar:
            for name, stream in _members(archive, kind, tmp):
                rel = _keep(name, prefix)
                if rel is None:
                    continue
                target = tmp.joinpath(*rel.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with stream, open(target, "wb") as out:
                    shutil.copyfileobj(stream, out, 1 << 20)
                count += 1
                bar.update(1)
        shutil.rmtree(tmp / ".raw", ignore_errors=True)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise AssetError(f"{archive}: cannot unpack ({type(exc).__name__}: {exc}); delete it to "
                         "download it again") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return count


def _keep(name: str, prefix: str) -> PurePosixPath | None:
    """The relative output path of archive member ``name``, or None to skip it."""
    if not name.startswith(prefix):
        return None
    rel = PurePosixPath(name[len(prefix):])
    if rel.suffix.lower() not in IMAGE_EXTENSIONS:
        return None
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise AssetError(f"archive member {name!r} would be written outside the target folder")
    return rel


def _members(archive: Path, kind: str, tmp: Path) -> Iterator[tuple[str, BinaryIO]]:
    """(name, open stream) of every regular file, in archive order."""
    if kind == "zip":
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    yield info.filename, zf.open(info)
    elif kind == "tar":
        with tarfile.open(archive, mode="r|*") as tf:  # streamed: no index of a 20 GB tar first
            for member in tf:
                if member.isfile():
                    stream = tf.extractfile(member)
                    if stream is not None:
                        yield member.name, stream
    else:
        raw = tmp / ".raw"
        _unrar(archive, raw)
        for path in sorted(raw.rglob("*")):
            if path.is_file() and not path.is_symlink():
                with open(path, "rb") as stream:
                    yield path.relative_to(raw).as_posix(), stream


def _unrar(archive: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for template in RAR_TOOLS:
        if shutil.which(template[0]) is None:
            continue
        command = [part.format(archive=archive, dest=dest) for part in template]
        with tempfile.TemporaryFile() as log:
            done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
            if done.returncode == 0:
                return
            log.seek(0)
            tail = log.read()[-500:].decode(errors="replace")
        raise AssetError(f"{archive}: {template[0]} failed (exit {done.returncode}): {tail}")
    tools = ", ".join(t[0] for t in RAR_TOOLS)
    raise AssetError(
        f"{archive} is a RAR archive and none of {tools} is installed (Python cannot read RAR "
        f"by itself). Install one (e.g. apt-get install libarchive-tools, or p7zip-full), or "
        f"unpack it yourself and pass the image folder with --path")
