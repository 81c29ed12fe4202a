"""Where assets live: cache folder, mirror folders, network switch, read from the environment.

Environment variables (read at call time, never cached):

- ``BSRGAN_HOME``: the cache; default ``$XDG_CACHE_HOME/bsrgan`` or ``~/.cache/bsrgan``.
- ``BSRGAN_MIRRORS``: folders with the manifest's layout, separated by ``os.pathsep``.
- ``BSRGAN_OFFLINE``: ``1``/``true``/``yes`` disables downloads (tests and CI set it).
- ``BSRGAN_DOWNLOAD_TIMEOUT``: socket timeout of a download in seconds (default 30).
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

HOME_ENV = "BSRGAN_HOME"
MIRRORS_ENV = "BSRGAN_MIRRORS"
OFFLINE_ENV = "BSRGAN_OFFLINE"
TIMEOUT_ENV = "BSRGAN_DOWNLOAD_TIMEOUT"
DEFAULT_TIMEOUT_S = 30.0

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


@dataclasses.dataclass(frozen=True)
class AssetSettings:
    """Locations and network policy used to resolve assets.

    Attributes:
        home: cache folder; files keep their registry relative path below it.
        mirrors: read-only folders searched in order, same relative layout as the cache.
        offline: when True, a file missing from cache and mirrors is an error, never a download.
        timeout: socket timeout of one download in seconds (connect and each read).
        offline_reason: why ``offline`` is set, as error messages say it (``BSRGAN_OFFLINE=1``
            only when that variable set it); not part of equality.
    """

    home: Path
    mirrors: tuple[Path, ...] = ()
    offline: bool = False
    timeout: float = DEFAULT_TIMEOUT_S
    offline_reason: str = dataclasses.field(default="", compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AssetSettings:
        """Read the settings from ``environ`` (default: ``os.environ``)."""
        env = os.environ if environ is None else environ
        offline = _parse_bool(env.get(OFFLINE_ENV, ""), OFFLINE_ENV)
        return cls(
            home=default_home(env),
            mirrors=tuple(
                Path(p).expanduser() for p in env.get(MIRRORS_ENV, "").split(os.pathsep) if p),
            offline=offline,
            timeout=_parse_timeout(env.get(TIMEOUT_ENV, "")),
            offline_reason=(f"downloads are disabled ({OFFLINE_ENV}={env[OFFLINE_ENV].strip()})"
                            if offline else ""),
        )

    def without_downloads(self, reason: str) -> AssetSettings:
        """The same settings with downloads off; ``reason`` is what error messages will say,
        e.g. ``"downloads are disabled (--offline)"`` or ``"only the cache and mirrors were
        checked (no download was tried)"``."""
        if self.offline:
            return self
        return dataclasses.replace(self, offline=True, offline_reason=reason)


def default_home(environ: Mapping[str, str] | None = None) -> Path:
    """The cache: ``$BSRGAN_HOME``, else ``$XDG_CACHE_HOME/bsrgan``, else ``~/.cache/bsrgan``."""
    env = os.environ if environ is None else environ
    if env.get(HOME_ENV):
        return Path(env[HOME_ENV]).expanduser()
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]).expanduser() / "bsrgan"
    return Path("~/.cache/bsrgan").expanduser()


def _parse_bool(value: str, name: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name}={value!r} is not a boolean (use 1/0, true/false, yes/no)")


def _parse_timeout(value: str) -> float:
    if not value.strip():
        return DEFAULT_TIMEOUT_S
    try:
        timeout = float(value)
    except ValueError:
        raise ValueError(f"{TIMEOUT_ENV}={value!r} is not a number of seconds") from None
    if timeout <= 0:
        raise ValueError(f"{TIMEOUT_ENV}={value!r} must be positive")
    return timeout
