"""Regenerate ``registry.tsv`` from the offline mirror's ``MANIFEST.tsv`` and the upstream list.

Maintenance tool, run by hand when the mirror manifest or the upstream list changes::

    python -m bsrgan.assets.build_registry ../shared/assets/MANIFEST.tsv \
        [--upstream ../shared/assets/upstream-published.tsv]

Each manifest row (``path, bytes, sha256, source``) is assigned to the asset of ``assets.tsv``
whose root contains it. A ``source`` that is not an http(s) URL (files converted from other
packages) becomes a file without download URL, its text kept as the ``note``.

The upstream list (``path, url, bytes, sha256, git_blob_sha1``; default: ``upstream-published.tsv``
next to the manifest) holds every published output of BSRGAN, ESRGAN and RealSR-JPEG in the
authors' repository (``testsets/<METHOD>/<stem>_<METHOD>.png``) with a URL pinned to one commit.
Its rows are mapped to our folders (:data:`UPSTREAM_FOLDERS`); a row the manifest also has must
agree with it in size and sha256 and gives it the pinned URL and the git blob SHA-1; the others
are added (three of them have no known sha256 and are verified by their git blob SHA-1).

Files that neither list carries are appended from :data:`EXTRA_FILES`: the official KAIR weights
and pyiqa's NRQM model, whose sha256 is not published (they are recorded on first download).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import io
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from bsrgan.assets.registry import ASSETS_COLUMNS, FILES_COLUMNS, AssetFile

KAIR_URL = "https://github.com/cszn/KAIR/releases/download/v1.0/{name}.pth"
KAIR_WEIGHTS = ("BSRGAN", "BSRNet", "BSRGANx2", "RRDB", "ESRGAN",
                "FSSR_DPED", "FSSR_JPEG", "RealSR_DPED", "RealSR_JPEG")
# pyiqa >= 0.1.13 builds this URL with get_url_from_name("NRQM_model.mat") (archs/nrqm_arch.py).
NRQM_URL = "https://huggingface.co/chaofengc/IQA-PyTorch-Weights/resolve/main/NRQM_model.mat"
#: folder of the authors' repository -> our folder (the root of a ``realsrset-published-*`` asset)
UPSTREAM_FOLDERS: dict[str, str] = {
    "testsets/BSRGAN": "realsrset-published/bsrgan",
    "testsets/ESRGAN": "realsrset-published/esrgan",
    "testsets/RealSR_JPEG": "realsrset-published/realsr_jpeg",
}
UPSTREAM_COLUMNS = ("path", "url", "bytes", "sha256", "git_blob_sha1")
UPSTREAM_NAME = "upstream-published.tsv"

EXTRA_FILES: tuple[AssetFile, ...] = (
    *(AssetFile(asset=n, relpath=f"weights/{n}.pth", url=KAIR_URL.format(name=n),
                note="official RRDBNet release of cszn/KAIR v1.0; sha256 not published")
      for n in KAIR_WEIGHTS),
    AssetFile(asset="nrqm-model", relpath="metrics/NRQM_model.mat", url=NRQM_URL,
              note="pyiqa's NRQM model (IQA-PyTorch-Weights on Hugging Face; older pyiqa used "
                   "github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/"
                   "NRQM_model.mat); sha256 not published"),
)


def _owner(path: str, assets_text: str, what: str) -> str:
    """The asset of ``assets.tsv`` whose root holds ``path`` (exactly one, else ValueError)."""
    owners = [row["name"] for row in csv.DictReader(io.StringIO(assets_text), delimiter="\t")
              if (path == row["root"] if row["kind"] == "file"
                  else path.startswith(row["root"] + "/"))]
    if len(owners) != 1:
        raise ValueError(f"{what} path {path!r} matches assets {owners}; fix assets.tsv")
    return owners[0]


def manifest_files(manifest_text: str, assets_text: str) -> list[AssetFile]:
    """Registry files for the rows of ``MANIFEST.tsv``, each assigned to its asset."""
    out = []
    for row in csv.DictReader(io.StringIO(manifest_text), delimiter="\t"):
        path, source = row["path"], row["source"].strip()
        is_url = source.startswith(("https://", "http://"))
        out.append(AssetFile(
            asset=_owner(path, assets_text, "manifest"), relpath=path, size=int(row["bytes"]),
            sha256=row["sha256"].lower(), url=source if is_url else None,
            note="" if is_url else source,
        ))
    return out


def upstream_relpath(upstream_path: str) -> str:
    """``testsets/ESRGAN/dog_ESRGAN.png`` -> ``realsrset-published/esrgan/dog_ESRGAN.png``."""
    folder, _, name = upstream_path.rpartition("/")
    if folder not in UPSTREAM_FOLDERS or not name:
        raise ValueError(f"upstream path {upstream_path!r} is not in a known folder "
                         f"({', '.join(UPSTREAM_FOLDERS)}); extend UPSTREAM_FOLDERS")
    return f"{UPSTREAM_FOLDERS[folder]}/{name}"


def merge_upstream(files: Sequence[AssetFile], upstream_text: str,
                   assets_text: str) -> list[AssetFile]:
    """``files`` with the upstream list merged in (see the module docstring).

    Raises ValueError when the upstream list and a manifest row disagree on size or sha256,
    when a row has neither sha256 nor git blob SHA-1, or when a path is listed twice.
    """
    reader = csv.DictReader(io.StringIO(upstream_text), delimiter="\t")
    if tuple(reader.fieldnames or ()) != UPSTREAM_COLUMNS:
        raise ValueError(f"upstream list: expected columns {UPSTREAM_COLUMNS}, "
                         f"got {reader.fieldnames}")
    by_path = {f.relpath: f for f in files}
    seen: set[str] = set()
    for row in reader:
        relpath = upstream_relpath(row["path"])
        if relpath in seen:
            raise ValueError(f"upstream list names {row['path']!r} twice")
        seen.add(relpath)
        size = int(row["bytes"]) if row["bytes"].strip() else None
        sha256 = row["sha256"].strip().lower() or None
        git_sha1 = row["git_blob_sha1"].strip().lower() or None
        if sha256 is None and git_sha1 is None:
            raise ValueError(f"upstream list: {row['path']} has neither sha256 nor git blob SHA-1")
        known = by_path.get(relpath)
        if known is not None:
            if (size, sha256) != (known.size, known.sha256):
                raise ValueError(f"{relpath}: the manifest says {known.size} bytes, sha256 "
                                 f"{known.sha256}; the upstream list {size} bytes, sha256 {sha256}")
            by_path[relpath] = dataclasses.replace(known, url=row["url"].strip(), git_sha1=git_sha1)
        else:
            by_path[relpath] = AssetFile(
                asset=_owner(relpath, assets_text, "upstream"), relpath=relpath, size=size,
                sha256=sha256, url=row["url"].strip(), git_sha1=git_sha1)
    return list(by_path.values())


def registry_table(files: Sequence[AssetFile], assets_text: str) -> str:
    """The text of ``registry.tsv``: files grouped in ``assets.tsv`` order, sorted by path."""
    order = {row["name"]: i for i, row in
             enumerate(csv.DictReader(io.StringIO(assets_text), delimiter="\t"))}
    lines = ["\t".join(FILES_COLUMNS)]
    for f in sorted(files, key=lambda f: (order[f.asset], f.relpath)):
        cells = (f.asset, f.relpath, "" if f.size is None else str(f.size),
                 f.sha256 or "", f.git_sha1 or "", f.url or "", f.note)
        if any("\t" in c or "\n" in c for c in cells):
            raise ValueError(f"{f.relpath}: tab or newline in a registry cell")
        lines.append("\t".join(cells))
    return "\n".join(lines) + "\n"


def build(manifest: Path, upstream: Path | None = None) -> str:
    """The full ``registry.tsv`` text: manifest + upstream list + :data:`EXTRA_FILES`.

    ``upstream`` defaults to ``upstream-published.tsv`` next to the manifest.
    """
    assets_text = (resources.files("bsrgan.assets") / "assets.tsv").read_text(encoding="utf-8")
    header = tuple(next(csv.reader(io.StringIO(assets_text), delimiter="\t")))
    if header != ASSETS_COLUMNS:
        raise ValueError(f"assets.tsv: expected columns {ASSETS_COLUMNS}, got {header}")
    upstream = manifest.with_name(UPSTREAM_NAME) if upstream is None else upstream
    if not upstream.is_file():
        raise FileNotFoundError(f"upstream list {upstream} not found; pass --upstream PATH")
    files = manifest_files(manifest.read_text(encoding="utf-8"), assets_text)
    files = merge_upstream(files, upstream.read_text(encoding="utf-8"), assets_text)
    return registry_table(files + list(EXTRA_FILES), assets_text)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: write ``registry.tsv`` next to this module (or to ``--out``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path, help="path to the mirror's MANIFEST.tsv")
    parser.add_argument("--upstream", type=Path, default=None,
                        help=f"the list of published outputs (default: {UPSTREAM_NAME} next to "
                             "the manifest)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("registry.tsv"))
    args = parser.parse_args(argv)
    from bsrgan.utils.atomic import atomic_write_text

    atomic_write_text(args.out, build(args.manifest, args.upstream))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
