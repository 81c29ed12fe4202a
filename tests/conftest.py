"""Shared pytest fixtures: the offline asset mirror and an isolated asset cache.

Every test runs with ``BSRGAN_OFFLINE=1`` and a throw-away ``BSRGAN_HOME`` so that nothing
tries the network (no DNS hangs in CI) or writes to ``~/.cache``. Tests that need the real files
of ``../shared/assets`` use the ``shared_assets`` / ``asset_env`` fixtures and skip cleanly when
that folder is absent (e.g. on a fresh clone without the mirror).
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_ASSETS = REPO_ROOT.parent / "shared" / "assets"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests that read the offline mirror with ``shared`` (deselect: ``-m "not shared"``)."""
    for item in items:
        if {"shared_assets", "asset_env"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.shared)


@pytest.fixture(scope="session")
def _session_asset_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bsrgan_home")


@pytest.fixture(autouse=True)
def _offline_assets(monkeypatch: pytest.MonkeyPatch, _session_asset_home: Path) -> None:
    """No downloads and no writes to the user's cache from any test."""
    monkeypatch.setenv("BSRGAN_OFFLINE", "1")
    monkeypatch.setenv("BSRGAN_HOME", str(_session_asset_home))


@pytest.fixture(scope="session")
def shared_assets() -> Path:
    """``../shared/assets`` (the offline mirror, with ``MANIFEST.tsv``), or skip the test."""
    if not (SHARED_ASSETS / "MANIFEST.tsv").is_file():
        pytest.skip(f"offline asset mirror ../shared/assets not found (looked for "
                    f"{SHARED_ASSETS / 'MANIFEST.tsv'}); this test needs its real files")
    return SHARED_ASSETS


@pytest.fixture
def asset_env(shared_assets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty cache ``tmp_path/"home"`` + the shared mirror, via env vars; returns the cache path."""
    home = tmp_path / "home"
    monkeypatch.setenv("BSRGAN_HOME", str(home))
    monkeypatch.setenv("BSRGAN_MIRRORS", str(shared_assets))
    return home


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """One torch intra-op thread for a module's tests (``pytestmark =
    pytest.mark.usefixtures("one_torch_thread")``): many small tensor ops run faster, and their
    time depends less on how busy the shared machine is; the previous count is put back."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
