"""The one exception type of the asset registry."""
from __future__ import annotations


class AssetError(RuntimeError):
    """An asset could not be resolved, verified or downloaded.

    The message always names the asset, its download URL (or says that there is none) and the
    exact path where a user can place the file by hand.
    """


class UnverifiedAssetWarning(UserWarning):
    """A file whose sha256 the registry does not know was accepted; its hash was recorded."""
