"""bsrgan.training.recipes.training_source / validation_source: where a stage's HR photos come
from (a path, a photo asset, or the photos embedded in scikit-image, with a note on fallback)."""
from __future__ import annotations

from pathlib import Path

import pytest

from bsrgan.assets import AssetError
from bsrgan.training.recipes import photo_assets, training_source, validation_source


def test_photo_assets_are_the_hr_photo_folders():
    assert {"kodak24", "set14", "sunhays80"} <= set(photo_assets())
    assert "realsrset" not in photo_assets()  # LR test photos, not HR training photos
    assert "niqe-params" not in photo_assets()  # a file


def test_embedded_photos():
    src = training_source("embedded")
    assert src.folder is None and src.hr_dir == "embedded" and src.notes == ()
    assert "5 photos embedded in scikit-image" in src.description


def test_an_empty_value_is_refused_not_read_as_the_working_directory():
    with pytest.raises(ValueError, match=r"HR_DIR is empty: .*sunhays80.*'embedded'"):
        training_source("")


def test_paths_pass_through(tmp_path):
    src = training_source(str(tmp_path))
    assert src.folder == str(tmp_path.resolve()) and src.hr_dir == src.folder
    # a manifest that does not exist yet is the trainer's to report, with its own message
    missing = str(tmp_path / "prepared" / "manifest.tsv")
    assert training_source(missing).hr_dir == missing


def test_an_unavailable_asset_falls_back_to_the_embedded_photos_with_a_note(monkeypatch):
    monkeypatch.delenv("BSRGAN_MIRRORS", raising=False)  # offline (conftest), empty cache
    src = training_source("sunhays80")
    assert src.hr_dir == "embedded"
    assert len(src.notes) == 1
    assert "'sunhays80' (HR_DIR) unavailable" in src.notes[0]
    assert "embedded in scikit-image" in src.notes[0]


def test_assets_come_from_the_mirror(asset_env):
    src = training_source("sunhays80")
    assert src.notes == () and "Sun-Hays80" in src.description
    assert len(list(Path(src.folder).glob("*.jpg"))) == 80
    assert validation_source("set14").notes == ()


def test_validation_source_rejects_what_is_not_photos():
    with pytest.raises(AssetError, match=r"'realsrset'.*photo assets"):
        validation_source("realsrset")
    notes = validation_source("embedded").notes
    assert any("sanity check, not a benchmark" in n for n in notes)
