"""Registry data: which named assets exist and, per file, its relative path, URL, size and sha256.

The data ships as package data in two tables next to this module:

- ``assets.tsv``: ``name, kind, root, description``; ``kind`` is ``file`` (``root`` is the file's
  relative path) or ``folder`` (``root`` is the folder holding all of the asset's files).
- ``registry.tsv``: ``asset, path, bytes, sha256, git_sha1, url, note``; empty ``bytes`` mean
  an unknown size; a file is *verified* by its ``sha256`` or, where only that is published, by
  its git blob SHA-1 (``git_sha1``: SHA-1 of ``b"blob <size>\\0"`` + bytes); with neither it is
  *unverified*. An empty ``url`` means the file has no public download and is only available
  from a mirror (``note`` then says what it is).

``registry.tsv`` is generated from the offline mirror's ``MANIFEST.tsv`` and the list of the
authors' published outputs by ``python -m bsrgan.assets.build_registry``. Tests build their own :class:`Registry` from
:class:`Asset` objects instead of touching these tables.
"""
from __future__ import annotations

import csv
import dataclasses
import difflib
import functools
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Literal

from bsrgan.assets.errors import AssetError

AssetKind = Literal["file", "folder"]
FILES_COLUMNS = ("asset", "path", "bytes", "sha256", "git_sha1", "url", "note")
ASSETS_COLUMNS = ("name", "kind", "root", "description")


@dataclasses.dataclass(frozen=True)
class AssetFile:
    """One file of an asset.

    Attributes:
        asset: name of the asset the file belongs to.
        relpath: POSIX relative path, identical in cache, mirrors and manifest.
        size: size in bytes, or None when unknown.
        sha256: lowercase hex digest, or None when unknown.
        git_sha1: lowercase hex git blob SHA-1, or None; verifies the file when ``sha256`` is
            unknown (files whose bytes were not seen when the registry was made).
        url: public download URL, or None when the file is only available from a mirror.
        note: what the file is / where it came from (shown when it cannot be found).
    """

    asset: str
    relpath: str
    size: int | None = None
    sha256: str | None = None
    url: str | None = None
    note: str = ""
    git_sha1: str | None = None

    def __post_init__(self) -> None:
        _check_relpath(self.relpath)
        _check_hex(self.relpath, "sha256", self.sha256, 64)
        _check_hex(self.relpath, "git blob SHA-1", self.git_sha1, 40)
        if self.size is not None and self.size < 0:
            raise ValueError(f"{self.relpath}: negative size {self.size}")

    @property
    def verified(self) -> bool:
        """True when the registry knows a content hash of the file (sha256 or git blob SHA-1)."""
        return self.sha256 is not None or self.git_sha1 is not None

    @property
    def check(self) -> tuple[str, str] | None:
        """The hash a copy is verified against: ``("sha256", hex)``, ``("git blob SHA-1", hex)``
        when only that is known, or None for an unverified file."""
        if self.sha256 is not None:
            return "sha256", self.sha256
        if self.git_sha1 is not None:
            return "git blob SHA-1", self.git_sha1
        return None


@dataclasses.dataclass(frozen=True)
class Asset:
    """A named asset: one file (weights, metric parameters) or a folder of files (a dataset)."""

    name: str
    kind: AssetKind
    root: str
    files: tuple[AssetFile, ...]
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("file", "folder"):
            raise ValueError(
                f"asset {self.name!r}: kind must be 'file' or 'folder', got {self.kind!r}")
        _check_relpath(self.root)
        if not self.files:
            raise ValueError(f"asset {self.name!r} has no files")
        if self.kind == "file" and (len(self.files) != 1 or self.files[0].relpath != self.root):
            raise ValueError(
                f"asset {self.name!r}: a 'file' asset has exactly one file, {self.root!r}")
        for f in self.files:
            if f.asset != self.name:
                raise ValueError(
                    f"file {f.relpath!r} says asset {f.asset!r}, listed under {self.name!r}")
            if self.kind == "folder" and not f.relpath.startswith(self.root + "/"):
                raise ValueError(
                    f"file {f.relpath!r} lies outside the folder {self.root!r} of {self.name!r}")

    @property
    def total_size(self) -> int | None:
        """Sum of the file sizes in bytes, or None if any size is unknown."""
        sizes = [f.size for f in self.files]
        return None if any(s is None for s in sizes) else sum(sizes)  # type: ignore[misc]

    @property
    def verified(self) -> bool:
        """True when every file has a known sha256."""
        return all(f.verified for f in self.files)


class Registry:
    """Named assets and their files, looked up by asset name or by file relative path."""

    def __init__(self, assets: Iterable[Asset]) -> None:
        self._assets: dict[str, Asset] = {}
        self._files: dict[str, AssetFile] = {}
        for asset in assets:
            if asset.name in self._assets:
                raise ValueError(f"duplicate asset name {asset.name!r}")
            self._assets[asset.name] = asset
            for f in asset.files:
                if f.relpath in self._files:
                    raise ValueError(f"file {f.relpath!r} is listed twice")
                self._files[f.relpath] = f

    def __iter__(self) -> Iterator[Asset]:
        return iter(self._assets.values())

    def __len__(self) -> int:
        return len(self._assets)

    def __contains__(self, name: object) -> bool:
        return name in self._assets

    @property
    def names(self) -> list[str]:
        """Asset names in registry order."""
        return list(self._assets)

    def asset(self, name: str) -> Asset:
        """The asset called ``name`` (exact, else unique case-insensitive match)."""
        if name in self._assets:
            return self._assets[name]
        folded = [n for n in self._assets if n.lower() == name.lower()]
        if len(folded) == 1:
            return self._assets[folded[0]]
        close = difflib.get_close_matches(name, self._assets, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise AssetError(
            f"Unknown asset {name!r}.{hint} Known assets: {', '.join(self._assets)} "
            "(`bsrgan fetch --list` shows them with sizes)."
        )

    def file(self, relpath: str) -> AssetFile:
        """The registry entry of the file at ``relpath`` (manifest layout)."""
        key = str(PurePosixPath(relpath))
        try:
            return self._files[key]
        except KeyError:
            close = difflib.get_close_matches(key, self._files, n=3, cutoff=0.6)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise AssetError(f"No registry file has the relative path {relpath!r}.{hint}") from None

    @classmethod
    def from_tables(cls, assets_tsv: str, files_tsv: str) -> Registry:
        """Build a registry from the text of ``assets.tsv`` and ``registry.tsv``."""
        files_by_asset: dict[str, list[AssetFile]] = {}
        for row in _read_tsv(files_tsv, FILES_COLUMNS, "registry.tsv"):
            f = AssetFile(
                asset=row["asset"],
                relpath=row["path"],
                size=int(row["bytes"]) if row["bytes"] else None,
                sha256=row["sha256"] or None,
                url=row["url"] or None,
                note=row["note"],
                git_sha1=row["git_sha1"] or None,
            )
            files_by_asset.setdefault(f.asset, []).append(f)
        assets = []
        for row in _read_tsv(assets_tsv, ASSETS_COLUMNS, "assets.tsv"):
            files = files_by_asset.pop(row["name"], [])
            assets.append(Asset(row["name"], row["kind"], row["root"],  # type: ignore[arg-type]
                                tuple(files), row["description"]))
        if files_by_asset:
            raise ValueError(
                f"registry.tsv lists files of undeclared assets: {sorted(files_by_asset)}")
        return cls(assets)


@functools.lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The registry shipped with the package (``assets.tsv`` + ``registry.tsv``)."""
    here = resources.files("bsrgan.assets")
    return Registry.from_tables(
        (here / "assets.tsv").read_text(encoding="utf-8"),
        (here / "registry.tsv").read_text(encoding="utf-8"),
    )


def _read_tsv(text: str, columns: tuple[str, ...], what: str) -> list[dict[str, str]]:
    reader = csv.DictReader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
    if tuple(reader.fieldnames or ()) != columns:
        raise ValueError(f"{what}: expected columns {columns}, got {reader.fieldnames}")
    return [dict(row) for row in reader]


def _check_hex(relpath: str, what: str, value: str | None, length: int) -> None:
    if value is not None and (len(value) != length
                              or any(c not in "0123456789abcdef" for c in value)):
        raise ValueError(f"{relpath}: {what} must be {length} lowercase hex digits, got {value!r}")


def _check_relpath(relpath: str) -> None:
    """Reject paths that could escape the cache or mirror folder."""
    p = PurePosixPath(relpath)
    if not relpath or p.is_absolute() or ".." in p.parts or "\\" in relpath or str(p) != relpath:
        raise ValueError(f"registry path {relpath!r} must be a normalised relative POSIX path")


def local_path(folder: Path, relpath: str) -> Path:
    """``folder / relpath`` using the registry's POSIX relative path on any OS."""
    return folder.joinpath(*PurePosixPath(relpath).parts)
