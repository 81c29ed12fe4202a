"""Regenerate ``registry.tsv`` from the offline mirror's ``MANIFEST.tsv``.

Maintenance tool, run by hand when the mirror manifest changes::

    python -m bsrgan.assets.build_registry ../shared/assets/MANIFEST.tsv

Each manifest row (``path, bytes, sha256, source``) is assigned to the asset of ``assets.tsv``
whose root contains it. A ``source`` that is not an http(s) URL (files converted from other
packages) becomes a file without download URL, its text kept as the ``note``. Files that the
manifest does not carry are appended from :data:`EXTRA_FILES`: the official KAIR weights and
pyiqa's NRQM model, whose sha256 is not published (they are recorded on first download).
"""
from __future__ import annotations

import argparse
import csv
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

EXTRA_FILES: tuple[AssetFile, ...] = (
    *(AssetFile(asset=n, relpath=f"weights/{n}.pth", url=KAIR_URL.format(name=n),
                note="official RRDBNet release of cszn/KAIR v1.0; sha256 not published")
      for n in KAIR_WEIGHTS),
    AssetFile(asset="nrqm-model", relpath="metrics/NRQM_model.mat", url=NRQM_URL,
              note="pyiqa's NRQM model (IQA-PyTorch-Weights on Hugging Face; older pyiqa used "
                   "github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/"
                   "NRQM_model.mat); sha256 not published"),
)


def manifest_files(manifest_text: str, assets_text: str) -> list[AssetFile]:
    """Registry files for the rows of ``MANIFEST.tsv``, each assigned to its asset."""
    roots = [(row["name"], row["kind"], row["root"])
             for row in csv.DictReader(io.StringIO(assets_text), delimiter="\t")]
    out = []
    for row in csv.DictReader(io.StringIO(manifest_text), delimiter="\t"):
        path, source = row["path"], row["source"].strip()
        owners = [name for name, kind, root in roots
                  if (path == root if kind == "file" else path.startswith(root + "/"))]
        if len(owners) != 1:
            raise ValueError(f"manifest path {path!r} matches assets {owners}; fix assets.tsv")
        is_url = source.startswith(("https://", "http://"))
        out.append(AssetFile(
            asset=owners[0], relpath=path, size=int(row["bytes"]), sha256=row["sha256"].lower(),
            url=source if is_url else None, note="" if is_url else source,
        ))
    return out


def registry_table(files: Sequence[AssetFile], assets_text: str) -> str:
    """The text of ``registry.tsv``: files grouped in ``assets.tsv`` order, sorted by path."""
    order = {row["name"]: i for i, row in
             enumerate(csv.DictReader(io.StringIO(assets_text), delimiter="\t"))}
    lines = ["\t".join(FILES_COLUMNS)]
    for f in sorted(files, key=lambda f: (order[f.asset], f.relpath)):
        cells = (f.asset, f.relpath, "" if f.size is None else str(f.size),
                 f.sha256 or "", f.url or "", f.note)
        if any("\t" in c or "\n" in c for c in cells):
            raise ValueError(f"{f.relpath}: tab or newline in a registry cell")
        lines.append("\t".join(cells))
    return "\n".join(lines) + "\n"


def build(manifest: Path) -> str:
    """Build the full ``registry.tsv`` text from the manifest plus :data:`EXTRA_FILES`."""
    assets_text = (resources.files("bsrgan.assets") / "assets.tsv").read_text(encoding="utf-8")
    header = tuple(next(csv.reader(io.StringIO(assets_text), delimiter="\t")))
    if header != ASSETS_COLUMNS:
        raise ValueError(f"assets.tsv: expected columns {ASSETS_COLUMNS}, got {header}")
    files = manifest_files(manifest.read_text(encoding="utf-8"), assets_text) + list(EXTRA_FILES)
    return registry_table(files, assets_text)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: write ``registry.tsv`` next to this module (or to ``--out``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path, help="path to the mirror's MANIFEST.tsv")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("registry.tsv"))
    args = parser.parse_args(argv)
    from bsrgan.utils.atomic import atomic_write_text

    atomic_write_text(args.out, build(args.manifest))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
