"""``manifest.tsv`` of a prepared training folder: one row per sub-image.

Columns (tab-separated, one header row):

- ``subimage``: the sub-image file, POSIX path relative to the manifest's folder;
- ``source``: the absolute path of the image it was cut from;
- ``top``, ``left``, ``height``, ``width``: the crop box in the source (pixels);
- ``face``: ``1`` for a face image (training gives it horizontal flips only), else ``0``;
- ``sha256``: hex digest of the sub-image file.

``bsrgan prepare`` writes it; training reads it (``data.hr_dir: OUT`` or ``OUT/manifest.tsv``)
without opening a single image header, since the sizes are in the table.
"""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bsrgan.utils.atomic import atomic_write_text

MANIFEST_NAME = "manifest.tsv"
COLUMNS = ("subimage", "source", "top", "left", "height", "width", "face", "sha256")


class ManifestError(ValueError):
    """A manifest file is malformed; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class ManifestRow:
    """One sub-image: where it is (relative to the manifest), where it came from, its hash."""

    subimage: str
    source: str
    top: int
    left: int
    height: int
    width: int
    face: bool
    sha256: str

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(top, left, height, width) in the source image."""
        return self.top, self.left, self.height, self.width


def write_manifest(path: str | os.PathLike[str], rows: list[ManifestRow]) -> Path:
    """Write ``rows`` (sorted by sub-image) as a manifest, atomically."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE,
                        escapechar=None)
    writer.writerow(COLUMNS)
    for row in sorted(rows, key=lambda r: r.subimage):
        cells = (row.subimage, row.source, row.top, row.left, row.height, row.width,
                 int(row.face), row.sha256)
        if any(isinstance(c, str) and ("\t" in c or "\n" in c) for c in cells):
            raise ManifestError(f"{path}: tab or newline in the name of {row.source!r}")
        writer.writerow(cells)
    return atomic_write_text(path, buf.getvalue())


def read_manifest(path: str | os.PathLike[str]) -> list[ManifestRow]:
    """Rows of the manifest at ``path``; :class:`ManifestError` names the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read the manifest ({exc.strerror or exc})") from exc
    lines = text.splitlines()
    if not lines or tuple(lines[0].split("\t")) != COLUMNS:
        raise ManifestError(f"{path}: not a bsrgan manifest (expected the header "
                            f"{' '.join(COLUMNS)})")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) != len(COLUMNS):
            raise ManifestError(f"{path}:{number}: expected {len(COLUMNS)} tab-separated "
                                f"columns, got {len(cells)}")
        sub, source, top, left, height, width, face, sha = cells
        rel = PurePosixPath(sub)
        if rel.is_absolute() or ".." in rel.parts:
            raise ManifestError(f"{path}:{number}: sub-image {sub!r} must be a relative path "
                                "inside the manifest's folder")
        try:
            numbers = [int(v) for v in (top, left, height, width)]
        except ValueError:
            raise ManifestError(f"{path}:{number}: crop box {top, left, height, width} is not "
                                "four integers") from None
        if face not in ("0", "1"):
            raise ManifestError(f"{path}:{number}: face must be 0 or 1, got {face!r}")
        rows.append(ManifestRow(sub, source, *numbers, face == "1", sha))
    return rows


def is_manifest(path: Path) -> bool:
    """True when ``path`` is a file whose first line is the manifest header."""
    try:
        with open(path, encoding="utf-8") as fh:
            first = fh.readline().rstrip("\n")
    except (OSError, UnicodeDecodeError):
        return False
    return tuple(first.split("\t")) == COLUMNS
