"""The one exception type of the asset registry."""
from __future__ import annotations


class AssetError(RuntimeError):
    """An asset could not be resolved, verified or downloaded.

    The message always names the asset, its download URL (or says that there is none) and the
    exact path where a user can place the file by hand; its first line says what is wrong.
    ``reason`` is the short why of a file that could not be had (``"it is in neither the cache
    nor a mirror, and downloads are disabled (BSRGAN_OFFLINE=1)"``), or None for other errors.
    """

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def summary(self) -> str:
        """The first line of the message: which file, and why it is not available."""
        text = str(self).strip()
        return text.splitlines()[0] if text else type(self).__name__


class UnverifiedAssetWarning(UserWarning):
    """A file whose sha256 the registry does not know was accepted; its hash was recorded."""
