"""Where the metric parameter files come from: an explicit path or the asset registry.

Nothing here downloads behind the user's back except through ``bsrgan.assets.fetch`` (which
honours ``BSRGAN_OFFLINE``); pyiqa is always handed a local file so it never downloads.
"""

from __future__ import annotations

from pathlib import Path

from .errors import MetricUnavailable

__all__ = ["NIQE_ASSET", "NRQM_ASSET", "model_file"]

NIQE_ASSET = "niqe-params"
NRQM_ASSET = "nrqm-model"
_FILE_NAMES = {NIQE_ASSET: "niqe_modelparameters.mat", NRQM_ASSET: "NRQM_model.mat"}


def _settings(local_only: bool):
    from bsrgan.assets import AssetSettings

    settings = AssetSettings.from_env()
    if not local_only:
        return settings
    return settings.without_downloads("only the cache and mirrors were checked (no download "
                                      "was tried)")


def model_file(metric: str, asset: str, path: str | Path | None = None, *, local_only: bool = False) -> Path:
    """Local path of ``asset`` (or the verified explicit ``path``).

    Raises MetricUnavailable naming the ``bsrgan fetch`` command when the file cannot be had
    (not in cache or mirrors and no download possible, or ``local_only``).
    """
    from bsrgan.assets import AssetError, fetch

    try:
        return fetch(asset, path=path, progress=False, settings=_settings(local_only))
    except (AssetError, OSError) as err:
        raise MetricUnavailable(
            metric,
            f"its model file {_FILE_NAMES.get(asset, asset)} is missing; run `bsrgan fetch {asset}` "
            f"(or pass model_path=...). Details: {err}",
        ) from err

