"""Methods under evaluation: ``NAME=SPEC`` strings and how each finds its SR output per image.

SPEC is one of

- ``bicubic``: MATLAB-style bicubic x``scale`` upsampling of the LR input (our vectorised
  ``imresize``, :func:`bsrgan.degradation.resize.imresize`; clipped to [0, 1], saved as 8-bit PNG);
- ``model:NAME_OR_PATH``: an RRDBNet from the weights registry (``BSRGAN``, ``RealSR_JPEG``...)
  or a ``.pth`` file, run with tiled inference (:func:`bsrgan.inference.upscale`);
- ``published:bsrgan|esrgan|realsr_jpeg``: the authors' published x4 outputs of that method on the
  dataset under evaluation (:data:`PUBLISHED_BY_DATASET`): on RealSRSet asset
  ``realsrset-published-<which>`` (all 20 of each are registered), on the authors' README DPED
  images (``dped-readme``) asset ``dped-readme-published-bsrgan``; files ``<stem>_<SUFFIX>.png``,
  each needed file fetched on its own (:func:`published_outputs`). A folder dataset is matched
  against the RealSRSet outputs; ``dped-iphone`` (our crops) has none;
- ``dir:PATH``: a folder of SR outputs matched to the inputs by file stem (``<stem>.*`` or
  ``<stem>_<anything>.*``).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bsrgan.io import list_images

KINDS: tuple[str, ...] = ("bicubic", "model", "published", "dir")
#: published method -> (asset name, file-name suffix after the input stem)
PUBLISHED: dict[str, tuple[str, str]] = {
    "bsrgan": ("realsrset-published-bsrgan", "_BSRGAN"),
    "esrgan": ("realsrset-published-esrgan", "_ESRGAN"),
    "realsr_jpeg": ("realsrset-published-realsr_jpeg", "_RealSR_JPEG"),
}
#: dataset -> published method -> (asset, suffix); datasets not listed (folders) use RealSRSet's
PUBLISHED_BY_DATASET: dict[str, dict[str, tuple[str, str]]] = {
    "realsrset": PUBLISHED,
    "dped-readme": {"bsrgan": ("dped-readme-published-bsrgan", "_BSRGAN")},
    "dped-iphone": {},  # our own crop protocol: nobody published outputs for these crops
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


@dataclass(frozen=True)
class MethodSpec:
    """One evaluated method.

    Attributes:
        name: label in tables, figure and output folders (letters, digits, ``_ . + -``).
        kind: one of :data:`KINDS`.
        target: model name/path (``model``), published key (``published``), folder (``dir``),
            empty for ``bicubic``.
    """

    name: str
    kind: str
    target: str = ""

    @property
    def spec(self) -> str:
        """The SPEC string this method was parsed from (``kind`` or ``kind:target``)."""
        return self.kind if not self.target else f"{self.kind}:{self.target}"

    @property
    def portable_spec(self) -> str:
        """The SPEC without this machine's folders: a ``model:`` / ``dir:`` path by its last
        component (``model:w.pth``), as tables, provenance and recorded commands give it."""
        if self.kind in ("dir", "model") and ("/" in self.target or os.sep in self.target):
            return f"{self.kind}:{Path(self.target).name}"
        return self.spec

    @property
    def generates(self) -> bool:
        """True when the SR images are computed here (and cached), not read from a folder."""
        return self.kind in ("bicubic", "model")


class MethodSpecError(ValueError):
    """A ``NAME=SPEC`` string that cannot be understood; the message says why and what is valid."""


_SYNTAX = ("expected NAME=SPEC with SPEC one of: bicubic, model:NAME_OR_PATH, "
           f"published:{'|'.join(PUBLISHED)}, dir:PATH")


def parse_method(text: str) -> MethodSpec:
    """``"esrgan=published:esrgan"`` -> ``MethodSpec("esrgan", "published", "esrgan")``.

    A bare SPEC without ``NAME=`` is named after it (``bicubic`` -> ``bicubic``,
    ``published:bsrgan`` -> ``bsrgan``, ``model:x/y.pth`` -> ``y``, ``dir:out/esr`` -> ``esr``).
    """
    name, sep, spec = text.partition("=")
    if not sep:
        name, spec = "", text
    name, spec = name.strip(), spec.strip()
    kind, _, target = spec.partition(":")
    kind = kind.strip().lower()
    target = target.strip()
    if kind not in KINDS:
        raise MethodSpecError(f"method {text!r}: unknown SPEC kind {kind!r}; {_SYNTAX}")
    if kind == "bicubic" and target:
        raise MethodSpecError(f"method {text!r}: bicubic takes no argument; {_SYNTAX}")
    if kind != "bicubic" and not target:
        raise MethodSpecError(f"method {text!r}: {kind}: needs an argument; {_SYNTAX}")
    if kind == "published":
        target = target.lower()
        known = sorted({m for outputs in PUBLISHED_BY_DATASET.values() for m in outputs})
        if target not in known:
            raise MethodSpecError(f"method {text!r}: no published outputs named {target!r}; "
                                  f"available: {', '.join(known)}")
    if not name:
        name = kind if kind == "bicubic" else (target if kind == "published" else Path(target).stem)
    if not _NAME.match(name):
        raise MethodSpecError(f"method {text!r}: NAME {name!r} must start with a letter or digit "
                              "and contain only letters, digits, '_', '.', '+', '-'")
    return MethodSpec(name, kind, target)


def parse_methods(items) -> list[MethodSpec]:
    """Parse ``NAME=SPEC`` strings (or pass MethodSpec through, or a ``{name: spec}`` dict).

    Raises MethodSpecError when two methods share a name.
    """
    if isinstance(items, dict):
        items = [f"{name}={spec}" for name, spec in items.items()]
    if isinstance(items, (str, MethodSpec)):
        items = [items]
    methods = [m if isinstance(m, MethodSpec) else parse_method(m) for m in items]
    if not methods:
        raise MethodSpecError(f"no method given; {_SYNTAX}")
    seen: set[str] = set()
    for m in methods:
        if m.name in seen:
            raise MethodSpecError(f"method name {m.name!r} is used twice; give each a distinct NAME=")
        seen.add(m.name)
    return methods


def published_asset(method: str, dataset: str) -> tuple[str, str]:
    """(asset name, file suffix) of the authors' published ``method`` outputs on ``dataset``.

    ``dataset`` is a registered dataset name; any other name (a folder) means RealSRSet's outputs.
    Raises MethodSpecError naming what the authors did publish when there is no such set.
    """
    outputs = PUBLISHED_BY_DATASET.get(dataset, PUBLISHED)
    if method in outputs:
        return outputs[method]
    where = "; ".join(f"{d}: {', '.join(o) or 'none'}" for d, o in PUBLISHED_BY_DATASET.items())
    raise MethodSpecError(f"the authors published no {method!r} outputs for dataset {dataset!r} "
                          f"(published outputs per dataset: {where})")


def published_methods(dataset: str) -> list[str]:
    """The ``published:`` methods that exist for ``dataset`` (e.g. ``["bsrgan"]`` for dped-readme)."""
    return list(PUBLISHED_BY_DATASET.get(dataset, PUBLISHED))


@dataclass(frozen=True)
class Match:
    """Where one input's SR output is: ``path``, or None with ``problem`` (missing / ambiguous)."""

    path: Path | None
    problem: str = ""


def match_outputs(folder: Path, stems: list[str], suffix: str | None = None) -> dict[str, Match]:
    """Match the images of ``folder`` to input ``stems`` by file stem.

    With ``suffix`` (published outputs) a file belongs to ``stem`` only if its stem is
    ``stem + suffix``. Without it, a file ``F`` belongs to the longest input stem ``s`` with
    ``F == s`` or ``F`` starting with ``s + "_"`` (so ``dog_2_x4`` goes to ``dog_2``, not ``dog``);
    an exact stem wins over suffixed ones, and two suffixed candidates are ambiguous.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"output folder {folder} does not exist or is not a folder")
    files = list_images(folder)
    candidates: dict[str, list[Path]] = {s: [] for s in stems}
    by_length = sorted(stems, key=len, reverse=True)
    for f in files:
        if suffix is not None:
            owner = f.stem[: -len(suffix)] if f.stem.endswith(suffix) else None
            if owner in candidates:
                candidates[owner].append(f)
            continue
        owner = next((s for s in by_length if f.stem == s or f.stem.startswith(s + "_")), None)
        if owner is not None:
            candidates[owner].append(f)
    matches: dict[str, Match] = {}
    for stem, found in candidates.items():
        exact = [f for f in found if f.stem == (stem if suffix is None else stem + suffix)]
        if len(exact) == 1:
            matches[stem] = Match(exact[0])
        elif len(found) == 1:
            matches[stem] = Match(found[0])
        elif not found:
            pattern = f"{stem}{suffix}.*" if suffix is not None else f"{stem}.* or {stem}_*.*"
            matches[stem] = Match(None, f"no output {pattern} in {folder}")
        else:
            names = ", ".join(sorted(f.name for f in found))
            matches[stem] = Match(None, f"ambiguous outputs for {stem!r} in {folder}: {names}")
    return matches


def published_files(key: str, dataset: str = "realsrset", *, registry=None) -> dict:
    """Input stem -> registry entry (:class:`bsrgan.assets.AssetFile`) of every output
    ``<stem><SUFFIX>.png`` the authors published for ``published:<key>`` on ``dataset``
    (MethodSpecError when there is no such set)."""
    from bsrgan.assets import default_registry

    asset_name, suffix = published_asset(key, dataset)
    asset = (registry if registry is not None else default_registry()).asset(asset_name)
    files = {}
    for entry in asset.files:
        name = PurePosixPath(entry.relpath).stem
        if name.endswith(suffix):
            files[name[: -len(suffix)]] = entry
    return files


def published_outputs(key: str, stems: list[str], *, dataset: str = "realsrset",
                      progress: bool = False, registry=None, settings=None) -> dict[str, Match]:
    """The authors' published output of each input stem of ``dataset``, fetched file by file.

    Each registered file ``<stem><SUFFIX>.png`` of the ``published:<key>`` asset of ``dataset``
    (:func:`published_asset`) is resolved on its own (cache -> ``$BSRGAN_MIRRORS`` -> download,
    verified), so a file that cannot be had (e.g. offline and not in the mirror) makes only its
    stem missing, with the asset layer's reason; a stem the authors published nothing for is
    missing too. Raises MethodSpecError when nothing of ``key`` was published for ``dataset``.
    """
    from bsrgan.assets import AssetError, resolve_file

    asset_name = published_asset(key, dataset)[0]
    by_stem = published_files(key, dataset, registry=registry)
    matches: dict[str, Match] = {}
    for stem in stems:
        entry = by_stem.get(stem)
        if entry is None:
            matches[stem] = Match(None, f"not published by the authors (asset {asset_name})")
            continue
        try:
            matches[stem] = Match(resolve_file(entry, progress=progress, settings=settings))
        except AssetError as err:
            matches[stem] = Match(None, f"{PurePosixPath(entry.relpath).name} is not available: "
                                        f"{err.reason or err.summary}")
    return matches
