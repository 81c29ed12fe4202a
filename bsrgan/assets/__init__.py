"""Named assets (datasets, metric parameters, weights): verified, cached, offline-capable.

Each file has a relative path, a public URL (or none), a size and a sha256 (where known);
see :mod:`bsrgan.assets.registry`. A file is resolved from, in order: an explicit path ->
the cache ``$BSRGAN_HOME`` (default ``~/.cache/bsrgan``) -> each folder of ``$BSRGAN_MIRRORS``
(``os.pathsep``-separated, manifest layout; verified and copied into the cache) -> a download
(streamed, tqdm progress, sha256 checked, atomic rename; disabled by ``BSRGAN_OFFLINE=1``).

>>> from bsrgan.assets import fetch
>>> lr_folder = fetch("realsrset")            # doctest: +SKIP
>>> weights = fetch("RealSR_JPEG_x4_fp16")    # doctest: +SKIP
"""
from bsrgan.assets.errors import AssetError, UnverifiedAssetWarning
from bsrgan.assets.pyiqa_weights import PYIQA_ASSETS, pyiqa_weight_path
from bsrgan.assets.registry import Asset, AssetFile, Registry, default_registry
from bsrgan.assets.resolution import cached_count, fetch, fetch_files, resolve, resolve_file
from bsrgan.assets.settings import AssetSettings

__all__ = [
    "PYIQA_ASSETS",
    "Asset",
    "AssetError",
    "AssetFile",
    "AssetSettings",
    "Registry",
    "UnverifiedAssetWarning",
    "cached_count",
    "default_registry",
    "fetch",
    "fetch_files",
    "pyiqa_weight_path",
    "resolve",
    "resolve_file",
]
