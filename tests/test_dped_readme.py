"""The authors' README DPED images (dataset ``dped-readme``) and their published BSRGAN outputs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bsrgan.evaluation import (
    MethodSpecError,
    evaluate,
    load_dataset,
    match_outputs,
    parse_method,
    published_asset,
    published_methods,
)
from bsrgan.io import imread
from bsrgan.metrics.protocols import PROTOCOLS

STEMS = ["00003", "00080", "00081"]


def test_published_outputs_are_looked_up_per_dataset():
    assert published_asset("bsrgan", "realsrset") == ("realsrset-published-bsrgan", "_BSRGAN")
    assert published_asset("bsrgan", "dped-readme") == ("dped-readme-published-bsrgan", "_BSRGAN")
    assert published_asset("esrgan", "my_folder") == ("realsrset-published-esrgan", "_ESRGAN")
    assert published_methods("dped-readme") == ["bsrgan"]
    assert published_methods("dped-iphone") == []
    with pytest.raises(MethodSpecError, match="no 'esrgan' outputs for dataset 'dped-readme'"):
        published_asset("esrgan", "dped-readme")
    with pytest.raises(MethodSpecError, match="dped-iphone: none"):
        published_asset("bsrgan", "dped-iphone")
    assert parse_method("published:bsrgan").target == "bsrgan"
    from bsrgan.evaluation import published_files

    assert list(published_files("bsrgan", "dped-readme")) == STEMS
    assert published_files("bsrgan", "dped-readme")["00080"].relpath.endswith("00080_BSRGAN.png")
    assert len(published_files("esrgan", "realsrset")) == 20  # all 20 registered


def test_dataset_resolves_from_the_mirror(asset_env):
    ds = load_dataset("dped-readme")
    assert ds.name == "dped-readme" and ds.source == "dped-readme"
    assert ds.stems == STEMS
    assert "the authors' 3 DPED LR images from their README" in ds.protocol
    for image in ds.images:
        assert image.crop is None  # used whole, unlike dped-iphone's crops of full photos
        assert image.load().shape == (256, 512, 3)  # 512x256 (W x H), as in the README
    # the cache now holds the verified files
    assert (asset_env / "dped-readme").is_dir()


def test_published_outputs_match_by_stem_and_are_exactly_4x(asset_env):
    from bsrgan.assets import fetch

    ds = load_dataset("dped-readme")
    asset, suffix = published_asset("bsrgan", ds.name)
    matches = match_outputs(Path(fetch(asset)), ds.stems, suffix)
    assert sorted(matches) == STEMS
    for image in ds.images:
        match = matches[image.stem]
        assert match.path is not None and match.path.name == f"{image.stem}_BSRGAN.png"
        lr, sr = image.load(), imread(match.path)
        assert sr.shape == (4 * lr.shape[0], 4 * lr.shape[1], 3) == (1024, 2048, 3)
        # a real x4 of this input, not another image: its 4x4 box average is close to the LR
        pooled = sr.reshape(lr.shape[0], 4, lr.shape[1], 4, 3).mean(axis=(1, 3))
        assert np.abs(pooled - lr).mean() < 0.05


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_published_bsrgan_outputs_score_under_each_protocol(asset_env, tmp_path, protocol):
    result = evaluate("dped-readme", ["BSRGAN_published=published:bsrgan"], "niqe",
                      tmp_path / protocol, protocol=protocol, workers=1, figure=False,
                      progress=False)
    rows = result.per_image.set_index("image")
    assert list(rows.index) == STEMS
    assert (rows["status"] == "ok").all() and (rows["source"] == "published").all()
    assert (rows["error"] == "").all()
    assert (rows["scale"] == 4).all() and (rows["note"] == "").all()
    assert np.isfinite(rows["niqe"]).all() and (rows["niqe"] > 1).all() and (rows["niqe"] < 10).all()
    assert rows["protocol"].iloc[0].startswith(f"{protocol} (")
    assert result.ok


def test_methods_without_published_dped_outputs_fail_with_the_reason(asset_env, tmp_path):
    result = evaluate("dped-readme", ["bicubic", "esr=published:esrgan"], "niqe", tmp_path,
                      protocol="paper", images=["00080"], workers=1, figure=False, progress=False)
    esr = result.per_image[result.per_image["method"] == "esr"]
    assert (esr["status"] == "failed").all()
    assert esr["error"].str.contains("published no 'esrgan' outputs for dataset 'dped-readme'").all()
    bicubic = result.per_image[result.per_image["method"] == "bicubic"]
    assert (bicubic["status"] == "ok").all() and np.isfinite(bicubic["niqe"]).all()
