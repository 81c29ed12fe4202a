"""bsrgan.evaluation and ``bsrgan evaluate``: methods, datasets/crops, caching, tables, figure.

The end-to-end tests run on a tiny folder of crops of the embedded photos with three methods:
``bicubic``, a ``dir:`` folder and ``model:`` an rrdbnet_tiny whose weights make it an exact
nearest-neighbour x4 upsampler (so its SR output is known). NIQE needs the LIVE parameter file
from the offline mirror (``asset_env``); NRQM's model file is not in the mirror, so NRQM and PI
exercise the "unavailable -> n/a" path.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from nearest_model import save_nearest_model

from bsrgan.cli import main as cli_main
from bsrgan.data import embedded_hr_images
from bsrgan.degradation.resize import imresize
from bsrgan.evaluation import (
    CropBox,
    EvalImage,
    MethodSpec,
    MethodSpecError,
    crop_boxes,
    evaluate,
    load_dataset,
    match_outputs,
    parse_method,
    parse_methods,
)
from bsrgan.evaluation.cache import OutputCache, cache_key
from bsrgan.evaluation.datasets import cropped_dataset
from bsrgan.evaluation.figure import detail_window, score_caption
from bsrgan.evaluation.scoring import parse_metric_names
from bsrgan.evaluation.tables import markdown_table, summarise
from bsrgan.io import imread, imwrite
from bsrgan.metrics import create, metric_info

LR_H, LR_W = 40, 56  # x4 -> 160 x 224: two whole 96-px NIQE blocks after the 4-px shave
STEMS = ("astronaut", "coffee", "rocket")


# ----------------------------------------------------------------------------- helpers
def _quantise(img: np.ndarray) -> np.ndarray:
    return np.round(np.clip(img, 0, 1) * 255) / 255


def _make_lr_folder(folder: Path) -> dict[str, np.ndarray]:
    """Three small textured LR crops of the embedded photos; returns them (8-bit values)."""
    photos = embedded_hr_images()
    images = {}
    for k, stem in enumerate(STEMS):
        crop = photos[stem][60 + 20 * k:60 + 20 * k + LR_H, 100:100 + LR_W]
        images[stem] = _quantise(crop).astype(np.float32)
        imwrite(folder / f"{stem}.png", images[stem])
    return images


@pytest.fixture
def tiny_setup(tmp_path: Path):
    """LR folder, a dir: method folder (bicubic made here, named <stem>_x4.png), weights file."""
    lr_dir = tmp_path / "lr"
    lrs = _make_lr_folder(lr_dir)
    outside = tmp_path / "external_sr"
    for stem, lr in lrs.items():
        imwrite(outside / f"{stem}_x4.png", np.clip(imresize(lr, scale=4), 0, 1) * 0.9)
    weights = save_nearest_model(tmp_path / "nearest.pth")
    methods = ["bicubic=bicubic", f"ext=dir:{outside}", f"nearest=model:{weights}"]
    return {"lr_dir": lr_dir, "lrs": lrs, "ext": outside, "weights": weights, "methods": methods}


# ----------------------------------------------------------------------------- methods
def test_parse_method_kinds_and_default_names():
    assert parse_method("b=bicubic") == MethodSpec("b", "bicubic", "")
    assert parse_method("bicubic") == MethodSpec("bicubic", "bicubic", "")
    assert parse_method("esr=published:ESRGAN") == MethodSpec("esr", "published", "esrgan")
    assert parse_method("published:realsr_jpeg").name == "realsr_jpeg"
    assert parse_method("model:weights/BSRGAN.pth") == MethodSpec("BSRGAN", "model", "weights/BSRGAN.pth")
    assert parse_method("x=model:BSRGAN").spec == "model:BSRGAN"
    assert parse_method("out=dir:/a/b=c").target == "/a/b=c"  # only the first '=' splits
    assert parse_method("dir:runs/esr").name == "esr"
    assert parse_method("x=dir:d").generates is False and parse_method("bicubic").generates


@pytest.mark.parametrize("text, fragment", [
    ("x=lanczos", "unknown SPEC kind"),
    ("x=bicubic:4", "takes no argument"),
    ("x=model:", "needs an argument"),
    ("x=published:swinir", "no published outputs"),
    ("bad name=bicubic", "NAME"),
])
def test_parse_method_errors_say_what_is_valid(text, fragment):
    with pytest.raises(MethodSpecError, match=fragment):
        parse_method(text)


def test_parse_methods_rejects_duplicates_and_accepts_dicts():
    with pytest.raises(MethodSpecError, match="used twice"):
        parse_methods(["a=bicubic", "a=published:bsrgan"])
    assert [m.name for m in parse_methods({"b": "bicubic", "p": "published:bsrgan"})] == ["b", "p"]
    with pytest.raises(MethodSpecError, match="no method"):
        parse_methods([])


def test_match_outputs_by_stem(tmp_path: Path):
    blank = np.zeros((4, 4, 3), np.float32)
    for name in ("dog.png", "dog_2_x4.png", "cat_x4.png", "cat_SR.png", "owl_BSRGAN.png", "notes.txt"):
        if name.endswith(".png"):
            imwrite(tmp_path / name, blank)
        else:
            (tmp_path / name).write_text("x")
    found = match_outputs(tmp_path, ["dog", "dog_2", "cat", "owl", "eel"])
    assert found["dog"].path.name == "dog.png"  # exact stem wins
    assert found["dog_2"].path.name == "dog_2_x4.png"  # longest stem owns the file
    assert found["cat"].path is None and "ambiguous" in found["cat"].problem
    assert found["owl"].path.name == "owl_BSRGAN.png"
    assert found["eel"].path is None and "no output" in found["eel"].problem
    published = match_outputs(tmp_path, ["owl", "dog"], suffix="_BSRGAN")
    assert published["owl"].path.name == "owl_BSRGAN.png" and published["dog"].path is None
    with pytest.raises(FileNotFoundError, match="does not exist"):
        match_outputs(tmp_path / "nope", ["dog"])


# ----------------------------------------------------------------------------- datasets / DPED crops
def test_crop_boxes_centre_and_grid():
    assert crop_boxes(1536, 2048, (512, 256), 1) == [CropBox(768, 640, 512, 256)]
    grid = crop_boxes(1536, 2048, (512, 256), 4)  # 2 x 2 cells of 1024 x 768, crop centred in each
    assert grid == [CropBox(256, 256, 512, 256), CropBox(1280, 256, 512, 256),
                    CropBox(256, 1024, 512, 256), CropBox(1280, 1024, 512, 256)]
    many = crop_boxes(300, 400, (256, 200), 5)  # cells smaller than the crop: shifted inside
    assert len(many) == 5 and len(set(many)) > 1
    for box in many:
        assert 0 <= box.x <= 400 - 256 and 0 <= box.y <= 300 - 200
    assert crop_boxes(256, 512, (512, 256), 3) == [CropBox(0, 0, 512, 256)] * 3
    with pytest.raises(ValueError, match="larger than"):
        crop_boxes(200, 400, (512, 256), 1)
    with pytest.raises(ValueError, match="positive"):
        crop_boxes(200, 400, (64, 64), 0)


def test_cropped_dataset_cuts_the_documented_window(tmp_path: Path):
    rng = np.random.default_rng(0)
    photo = _quantise(rng.random((120, 160, 3))).astype(np.float32)
    imwrite(tmp_path / "07.png", photo)
    one = cropped_dataset("dped-like", [tmp_path / "07.png"], (64, 32), 1, "test")
    assert one.stems == ["07"] and "centre crop of 64x32 (W x H)" in one.protocol
    np.testing.assert_array_equal(one.images[0].load(), photo[44:76, 48:112])
    four = cropped_dataset("dped-like", [tmp_path / "07.png"], (64, 32), 4, "test")
    assert four.stems == ["07_crop00", "07_crop01", "07_crop02", "07_crop03"]
    box = four.images[3].crop
    np.testing.assert_array_equal(four.images[3].load(), photo[box.y:box.y + 32, box.x:box.x + 64])
    too_big = EvalImage("07", tmp_path / "07.png", CropBox(150, 0, 64, 32))
    with pytest.raises(ValueError, match="does not fit"):
        too_big.load()


def test_dped_iphone_default_protocol(asset_env):
    ds = load_dataset("dped-iphone")
    assert len(ds.images) == 29 and ds.stems[:2] == ["00", "01"]
    assert all(im.crop == CropBox(768, 640, 512, 256) for im in ds.images)  # 2048 x 1536 photos
    assert "centre crop of 512x256 (W x H)" in ds.protocol and "29 full-size photos" in ds.protocol
    lr = ds.images[0].load()
    assert lr.shape == (256, 512, 3)
    np.testing.assert_array_equal(lr, imread(ds.images[0].source)[640:896, 768:1280])
    two = load_dataset("dped-iphone", dped_crop=(256, 128), dped_crops=2)
    assert len(two.images) == 58 and two.stems[:2] == ["00_crop00", "00_crop01"]


def test_folder_dataset_errors(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="neither"):
        load_dataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no images"):
        load_dataset(tmp_path / "empty")
    imwrite(tmp_path / "dup" / "a.png", np.zeros((8, 8, 3), np.float32))
    imwrite(tmp_path / "dup" / "a.jpg", np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="share the stem"):
        load_dataset(tmp_path / "dup")


# ----------------------------------------------------------------------------- cache / tables / figure
def test_output_cache_keys(tmp_path: Path):
    cache = OutputCache(tmp_path)
    key = cache_key("a" * 64, {"kind": "model", "weights_sha256": "1"})
    assert key != cache_key("b" * 64, {"kind": "model", "weights_sha256": "1"})
    assert key != cache_key("a" * 64, {"kind": "model", "weights_sha256": "2"})
    assert not cache.is_fresh("x", key)
    cache.record("x", key)
    assert not cache.is_fresh("x", key)  # key without image is not a hit
    imwrite(cache.image_path("x"), np.zeros((4, 4, 3), np.float32))
    assert cache.is_fresh("x", key) and not cache.is_fresh("x", key[::-1])
    cache.invalidate("x")
    assert not cache.is_fresh("x", key)


def test_markdown_table_arrows_bold_and_na():
    per_image = pd.DataFrame([
        {"dataset": "d", "image": i, "method": m, "spec": "s", "status": st, "niqe": v, "nrqm": np.nan,
         "psnr": p, "protocol": "pirm", "dataset_protocol": "whole"}
        for m, i, st, v, p in [("a", "1", "ok", 4.0, 20.0), ("a", "2", "ok", 6.0, 22.0),
                               ("b", "1", "ok", 3.0, 30.0), ("b", "2", "missing", np.nan, np.nan),
                               ("c", "1", "failed", np.nan, np.nan), ("c", "2", "ok", 5.0, 21.0)]])
    names = ("niqe", "nrqm", "psnr")
    summary = summarise(per_image, ["a", "b", "c"], names)
    assert list(summary["n"]) == [2, 1, 1] and list(summary["n_missing"]) == [0, 1, 0]
    assert list(summary["niqe_mean"]) == [5.0, 3.0, 5.0] and summary["niqe_std"][0] == 1.0
    infos = {n: metric_info(n) for n in names}
    lines = markdown_table(summary, names, infos).splitlines()
    assert lines[0] == "| Method | n | NIQE ↓ | NRQM ↑ | PSNR ↑ |"
    assert lines[2] == "| a | 2 | 5.000 | n/a | 21.000 |"
    assert lines[3] == "| b | 1 | **3.000** | n/a | **30.000** |"
    assert lines[4] == "| c | 1 | 5.000 | n/a | 21.000 |"


def test_text_table_escapes_pipes():
    from bsrgan.evaluation.tables import text_table

    assert text_table(["a", "b"], [["x|y", 3]]).splitlines() == [
        "| a | b |", "|:--|:--|", "| x\\|y | 3 |"]


def test_detail_window_finds_the_textured_patch():
    rng = np.random.default_rng(1)
    img = np.full((120, 200, 3), 0.5, np.float32)
    img[60:100, 130:170] = rng.random((40, 40, 3))
    y, x, side = detail_window(img, 40)
    assert side == 40 and abs(y - 60) <= 20 and abs(x - 130) <= 20
    assert detail_window(img[:10, :12], 48)[2] == 10  # window shrinks to the image
    row = pd.Series({"status": "ok", "niqe": 3.14159, "pi": np.nan})
    assert score_caption(row, ("niqe", "pi")) == "NIQE 3.14 | PI n/a"
    assert score_caption(pd.Series({"status": "missing"}), ("niqe",)) == "missing"


def test_metric_names_are_validated():
    assert parse_metric_names("NIQE, pi,niqe") == ("niqe", "pi")
    with pytest.raises(ValueError, match="unknown metric"):
        parse_metric_names("niqe,brisque")
    with pytest.raises(ValueError, match="no metric"):
        parse_metric_names(" , ")


# ----------------------------------------------------------------------------- end to end
def test_evaluate_tiny_folder(tiny_setup, asset_env, tmp_path: Path):
    out = tmp_path / "results"
    result = evaluate(tiny_setup["lr_dir"], tiny_setup["methods"], "niqe,nrqm,pi", out,
                      workers=1, progress=False)
    per = result.per_image
    assert len(per) == 9 and set(per["status"]) == {"ok"} and result.ok
    assert list(result.summary["method"]) == ["bicubic", "ext", "nearest"]
    assert list(result.summary["n"]) == [3, 3, 3] and result.common_summary is None
    for name in ("per_image", "summary", "table", "figure", "provenance"):
        assert result.paths[name].is_file(), name

    # SR outputs are what each method should produce
    lr = tiny_setup["lrs"]["coffee"]
    np.testing.assert_allclose(imread(out / "sr" / "bicubic" / "coffee.png"),
                               _quantise(imresize(lr, scale=4)), atol=1e-6)
    np.testing.assert_allclose(imread(out / "sr" / "nearest" / "coffee.png"),
                               np.repeat(np.repeat(lr, 4, 0), 4, 1), atol=1e-6)
    assert (per["scale"] == 4).all() and (per["sr_height"] == 4 * LR_H).all()

    # scores equal a direct computation with bsrgan.metrics, and the CSVs hold the same numbers
    niqe = create("niqe", protocol="pirm")
    direct = {("bicubic", "coffee"): niqe(out / "sr" / "bicubic" / "coffee.png"),
              ("nearest", "astronaut"): niqe(out / "sr" / "nearest" / "astronaut.png"),
              ("ext", "rocket"): niqe(tiny_setup["ext"] / "rocket_x4.png")}
    csv = pd.read_csv(result.paths["per_image"])
    # the metric columns in request order, also those n/a here (not appended after the rest)
    assert list(csv.columns[-6:]) == ["niqe", "nrqm", "pi", "error", "protocol", "dataset_protocol"]
    for (method, stem), value in direct.items():
        row = csv[(csv["method"] == method) & (csv["image"] == stem)].iloc[0]
        assert row["niqe"] == pytest.approx(value, rel=1e-6)
        assert row["protocol"].startswith("pirm") and "used whole" in row["dataset_protocol"]
    means = per.groupby("method", sort=False)["niqe"].mean()
    summary_csv = pd.read_csv(result.paths["summary"]).set_index("method")
    for method, mean in means.items():
        assert summary_csv.loc[method, "niqe_mean"] == pytest.approx(mean, rel=1e-6)
    assert len(set(np.round(means, 6))) == 3  # three different methods, three different NIQEs

    # NRQM / PI unavailable: n/a with the fetch command, the rest of the run unaffected
    assert set(result.unavailable) == {"nrqm", "pi"}
    assert per["nrqm"].isna().all() and per["pi"].isna().all()
    table = result.paths["table"].read_text()
    assert table == result.markdown and "| Method | n | NIQE ↓ | NRQM ↑ | PI ↓ |" in table
    assert "bsrgan fetch nrqm-model" in table
    best = means.idxmin()
    assert f"| {best} | 3 | **{means[best]:.3f}** | n/a | n/a |" in table

    # provenance: hashes of inputs and weights, protocol, versions, no machine paths
    text = result.paths["provenance"].read_text()
    assert str(tmp_path) not in text
    record = json.loads(text)
    model_entry = next(m for m in record["methods"] if m["name"] == "nearest")
    from bsrgan.evaluation.cache import sha256_file
    assert model_entry["weights_sha256"] == sha256_file(tiny_setup["weights"])
    assert model_entry["spec"] == "model:nearest.pth" and model_entry["generated"] == 3
    assert record["dataset"]["images"][0]["sha256"] == sha256_file(tiny_setup["lr_dir"] / "astronaut.png")
    assert record["protocol"]["metrics"].startswith("pirm")
    assert record["metrics"]["unavailable"].keys() == {"nrqm", "pi"}
    assert record["environment"]["packages"]["numpy"] == np.__version__


def test_cache_reuses_and_invalidates(tiny_setup, tmp_path: Path):
    out = tmp_path / "results"
    methods = ["bicubic=bicubic", f"nearest=model:{tiny_setup['weights']}"]
    first = evaluate(tiny_setup["lr_dir"], methods, "niqe", out, workers=1, progress=False,
                     figure=False)
    assert set(first.per_image["source"]) == {"generated"}
    sr_file = out / "sr" / "nearest" / "coffee.png"
    stamp = sr_file.stat().st_mtime_ns

    second = evaluate(tiny_setup["lr_dir"], methods, "niqe", out, workers=1, progress=False,
                      figure=False)
    assert set(second.per_image["source"]) == {"cached"} and sr_file.stat().st_mtime_ns == stamp

    save_nearest_model(tiny_setup["weights"], gain=0.5)  # new weights, same file name
    lr = tiny_setup["lrs"]["astronaut"]
    imwrite(tiny_setup["lr_dir"] / "astronaut.png", lr[::-1].copy())  # changed input
    third = evaluate(tiny_setup["lr_dir"], methods, "niqe", out, workers=1, progress=False,
                     figure=False)
    source = third.per_image.set_index(["method", "image"])["source"]
    assert (source.loc["nearest"] == "generated").all()
    assert source.loc[("bicubic", "astronaut")] == "generated"
    assert source.loc[("bicubic", "coffee")] == "cached" and source.loc[("bicubic", "rocket")] == "cached"
    np.testing.assert_allclose(imread(sr_file), _quantise(0.5 * np.repeat(np.repeat(
        tiny_setup["lrs"]["coffee"], 4, 0), 4, 1)), atol=1e-6)


def test_cropped_inputs_are_written_and_read_once_per_photo(tmp_path: Path, monkeypatch):
    import bsrgan.evaluation.runner as runner_module
    from bsrgan.assets.verify import sha256_file

    rng = np.random.default_rng(3)
    photo = tmp_path / "photos" / "07.png"
    imwrite(photo, _quantise(rng.random((120, 160, 3))).astype(np.float32))
    ds = cropped_dataset("dped-like", [photo], (64, 32), 2, "test")
    hashed: list[Path] = []

    def counting_sha(path):
        hashed.append(Path(path))
        return sha256_file(path)

    monkeypatch.setattr(runner_module, "sha256_file", counting_sha)
    import bsrgan.io

    decoded: list[Path] = []
    real_imread = bsrgan.io.imread

    def counting_imread(path, *args, **kwargs):
        decoded.append(Path(path))
        return real_imread(path, *args, **kwargs)

    monkeypatch.setattr(bsrgan.io, "imread", counting_imread)
    out = tmp_path / "results"
    result = evaluate(ds, ["bicubic=bicubic"], "niqe", out, workers=1, progress=False,
                      figure=False)
    assert list(result.per_image["status"]) == ["ok", "ok"] and result.paths["lr"] == out / "lr"
    for image in ds.images:  # the LR input is the documented window of the photo
        np.testing.assert_array_equal(imread(out / "lr" / f"{image.stem}.png"), image.load())
    record = json.loads(result.paths["provenance"].read_text())
    photo_sha = sha256_file(photo)
    for entry in record["dataset"]["images"]:
        assert entry["source_sha256"] == photo_sha
        assert entry["sha256"] == sha256_file(out / "lr" / f"{entry['stem']}.png") != photo_sha
    assert hashed.count(photo) == 1  # two crops, one photo: hashed once
    assert decoded.count(photo) == 1  # ... and decoded once


def test_failing_images_are_reported_not_fatal(tiny_setup, asset_env, tmp_path: Path):
    lr_dir = tiny_setup["lr_dir"]
    (lr_dir / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (tiny_setup["ext"] / "coffee_x4.png").write_bytes(b"garbage")  # corrupt output of one method
    result = evaluate(lr_dir, tiny_setup["methods"], "niqe", tmp_path / "r", workers=2,
                      progress=False)
    per = result.per_image.set_index(["method", "image"])
    assert not result.ok and len(result.failures) == 4  # broken x 3 methods + ext/coffee
    for method in ("bicubic", "ext", "nearest"):
        assert per.loc[(method, "broken"), "status"] == "failed"
        assert "broken.png" in per.loc[(method, "broken"), "error"]
    assert "<external_sr>/coffee_x4.png" in per.loc[("ext", "coffee"), "error"]
    assert str(tmp_path) not in result.paths["per_image"].read_text()  # no machine paths
    ok = result.per_image[result.per_image["status"] == "ok"]
    assert len(ok) == 8 and ok["niqe"].notna().all()  # everything else scored (in 2 processes)
    assert list(result.summary["n"]) == [3, 2, 3] and list(result.summary["n_failed"]) == [1, 2, 1]
    assert "ext: 2 of 4 outputs failed (broken, coffee)" in result.markdown


def test_metrics_without_parameter_files_are_na(tiny_setup, tmp_path: Path, monkeypatch):
    # offline, no mirror and an empty cache: no NIQE model. The session cache may already hold
    # one (CI exports BSRGAN_MIRRORS, so earlier tests fill it), hence a fresh BSRGAN_HOME.
    monkeypatch.delenv("BSRGAN_MIRRORS", raising=False)
    monkeypatch.setenv("BSRGAN_HOME", str(tmp_path / "empty_home"))
    result = evaluate(tiny_setup["lr_dir"], ["bicubic"], "niqe", tmp_path / "r", workers=1,
                      progress=False)
    assert "niqe" in result.unavailable and "bsrgan fetch niqe-params" in result.markdown
    assert result.ok and (result.per_image["sr_height"] == 4 * LR_H).all()
    assert "| bicubic | 3 | n/a |" in result.markdown


def test_no_more_scoring_processes_than_images(tiny_setup, tmp_path: Path):
    result = evaluate(tiny_setup["lr_dir"], ["bicubic"], "niqe", tmp_path / "r", workers=8,
                      images=["coffee"], progress=False, figure=False)
    record = json.loads(result.paths["provenance"].read_text())
    assert record["protocol"]["workers"] == 1  # one image: scored here, nothing spawned


def test_published_outputs_on_realsrset(asset_env, tmp_path: Path):
    stems = ["chip", "comic1", "dog"]
    result = evaluate("realsrset", ["bsrgan=published:bsrgan", "esrgan=published:esrgan"], "niqe",
                      tmp_path / "r", images=stems, workers=1, progress=False, figure=False)
    per = result.per_image.set_index(["method", "image"])
    # the authors published dog_ESRGAN.png (registered, verified by its git blob SHA-1), but the
    # offline mirror does not carry it and tests never download: missing, with the reason
    assert per.loc[("esrgan", "dog"), "status"] == "missing"
    assert "dog_ESRGAN.png is not available" in per.loc[("esrgan", "dog"), "error"]
    assert "downloads are disabled (BSRGAN_OFFLINE=1)" in per.loc[("esrgan", "dog"), "error"]
    assert result.ok  # a missing published output is not a failure
    assert list(result.summary["n"]) == [3, 2] and list(result.summary["n_missing"]) == [0, 1]
    assert (per.loc[per["status"] == "ok", "scale"] == 4).all()
    from bsrgan.assets import fetch
    chip = fetch("realsrset-published-bsrgan") / "chip_BSRGAN.png"
    assert per.loc[("bsrgan", "chip"), "niqe"] == pytest.approx(create("niqe")(chip), rel=1e-9)
    common = result.common_summary.set_index("method")
    assert list(common["n"]) == [2, 2]
    assert common.loc["bsrgan", "niqe_mean"] == pytest.approx(
        per.loc[[("bsrgan", "chip"), ("bsrgan", "comic1")], "niqe"].mean())
    assert ("esrgan: 1 of 3 outputs missing (dog: it is in neither the cache nor a mirror, and "
            "downloads are disabled (BSRGAN_OFFLINE=1))") in result.markdown
    assert "On the 2 images every method has" in result.markdown
    record = json.loads(result.paths["provenance"].read_text())
    esr = next(m for m in record["methods"] if m["name"] == "esrgan")
    assert set(esr["outputs_sha256"]) == {"chip", "comic1"}
    niqe_files = record["metrics"]["model_files_sha256"]["niqe"]
    from bsrgan.assets import default_registry
    assert niqe_files == {"niqe_modelparameters.mat":
                          default_registry().file("metrics/niqe_modelparameters.mat").sha256}


def test_errors_name_cached_outputs_without_machine_paths(asset_env, tmp_path: Path):
    reference = tmp_path / "hr"
    imwrite(reference / "chip.png", np.zeros((8, 8, 3), np.float32))  # not the SR size
    result = evaluate("realsrset", ["bsrgan=published:bsrgan"], "psnr", tmp_path / "r",
                      images=["chip"], reference=reference, workers=1, progress=False,
                      figure=False)
    row = result.per_image.iloc[0]
    assert row["status"] == "partial" and "psnr: " in row["error"]
    assert "<cache>/realsrset-published/bsrgan/chip_BSRGAN.png" in row["error"]
    assert str(tmp_path) not in result.paths["per_image"].read_text()


def test_cli_end_to_end(tiny_setup, asset_env, tmp_path: Path, capsys):
    out = tmp_path / "cli"
    argv = ["evaluate", "--dataset", str(tiny_setup["lr_dir"]), "--metrics", "niqe,pi",
            "-o", str(out), "--workers", "1", "--no-progress", "--figure-images", "coffee"]
    bare = save_nearest_model(tmp_path / "bare.pth")  # a SPEC without NAME=, by absolute path
    for m in [*tiny_setup["methods"], f"model:{bare}"]:
        argv += ["--method", m]
    assert cli_main(argv) == 0
    printed = capsys.readouterr().out
    assert "| Method | n | NIQE ↓ | PI ↓ |" in printed and "| nearest | 3 |" in printed
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["method"]) == ["bicubic", "ext", "nearest", "bare"]
    assert (out / "figure.png").stat().st_size > 10_000
    record = json.loads((out / "provenance.json").read_text())
    assert record["command"][:2] == ["bsrgan", "evaluate"] and str(tmp_path) not in json.dumps(record)
    methods = [record["command"][i + 1] for i, w in enumerate(record["command"]) if w == "--method"]
    assert methods == ["bicubic=bicubic", "ext=dir:external_sr", "nearest=model:nearest.pth",
                       "model:bare.pth"]  # as typed, paths by name: the command can be rerun
    at = record["command"].index("--figure-images")  # recorded as typed, so it can be rerun
    assert record["command"][at + 1] == "coffee"
    assert cli_main(["evaluate", "--dataset", str(tiny_setup["lr_dir"]), "--method", "x=nope",
                     "-o", str(out)]) == 2
    assert "unknown SPEC kind" in capsys.readouterr().err
    assert cli_main(["evaluate", "--dataset", str(tmp_path / "none"), "--method", "bicubic",
                     "-o", str(out)]) == 2


def test_unavailable_method_fails_its_rows_only(tiny_setup, asset_env, tmp_path: Path):
    result = evaluate(tiny_setup["lr_dir"], ["bicubic", "gone=model:no_such_weights.pth",
                                             f"missing=dir:{tmp_path / 'nothing'}"],
                      "niqe", tmp_path / "r", workers=1, progress=False, figure=False)
    per = result.per_image
    assert (per.loc[per["method"] == "bicubic", "status"] == "ok").all()
    gone = per[per["method"] == "gone"]
    assert (gone["status"] == "failed").all() and gone["error"].str.contains("neither").all()
    assert (per.loc[per["method"] == "missing", "status"] == "failed").all()
    assert list(result.summary["n"]) == [3, 0, 0]
    assert "| gone | 0 | n/a |" in result.markdown


def test_scoring_falls_back_to_this_process_when_the_pool_breaks(tmp_path: Path, monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    from bsrgan.evaluation import scoring

    class BrokenPool:
        def __init__(self, *args, **kwargs):
            pass

        def submit(self, *args, **kwargs):
            raise BrokenProcessPool("worker died")

        def shutdown(self, *args, **kwargs):
            pass

    monkeypatch.setattr(scoring, "ProcessPoolExecutor", BrokenPool)
    rng = np.random.default_rng(3)
    tasks = []
    for k in range(3):
        imwrite(tmp_path / f"{k}.png", rng.random((16, 16, 3)))
        tasks.append(scoring.ScoreTask(("m", str(k)), tmp_path / f"{k}.png"))
    tasks.append(scoring.ScoreTask(("m", "gone"), tmp_path / "gone.png"))
    done = []
    results = list(scoring.score_all(tasks, {}, workers=2, on_done=done.append))
    assert [r.key for r in results] == [t.key for t in tasks] and len(done) == 4
    assert (results[0].height, results[0].width) == (16, 16)
    assert "image" in results[3].errors and "gone.png" in results[3].errors["image"]


def test_a_killed_scoring_process_loses_and_repeats_no_row(tmp_path: Path):
    import os
    import signal

    from bsrgan.evaluation import scoring

    rng = np.random.default_rng(5)
    tasks = []
    for k in range(6):
        imwrite(tmp_path / f"{k}.png", rng.random((16, 8 + k, 3)))
        tasks.append(scoring.ScoreTask(("m", str(k)), tmp_path / f"{k}.png"))
    done = []
    with scoring.ScorePool({}, workers=2, on_done=done.append) as pool:
        for task in tasks:
            pool.submit(task)
        os.kill(next(iter(pool._executor._processes)), signal.SIGKILL)  # a real worker dies
        results = pool.results()
        counted = pool._bar.n
    assert sorted(results) == sorted(t.key for t in tasks) and len(done) == len(tasks)
    assert [results[t.key].width for t in tasks] == [8 + k for k in range(6)]
    assert not any(r.errors for r in results.values())
    assert counted == len(tasks)  # the progress bar counts each image once
    assert pool._executor is None  # closed: no process left behind


# ----------------------------------------------------------------------------- each metric once
_CALLS: dict[str, int] = {}  # metric name -> calls of the counting stand-ins


class _CountingMetric:
    """Stands in for NIQE / NRQM: a known value per image, and a count of its calls."""

    def __init__(self, name: str, value: float, **settings):
        from bsrgan.metrics import metric_info

        self.info, self.value, self.settings = metric_info(name), value, settings
        _CALLS.setdefault(name, 0)

    def __call__(self, img, ref=None):
        _CALLS[self.info.name] += 1
        return self.value + float(img.mean())


@pytest.fixture
def counting_metrics(monkeypatch):
    """NIQE and NRQM replaced in the metric factory by counting stand-ins (no model files)."""
    from bsrgan.metrics import registry

    for name, value in (("niqe", 4.0), ("nrqm", 6.0)):
        spec = registry.METRICS[name]
        monkeypatch.setitem(registry.METRICS, name, registry.MetricSpec(
            spec.info, lambda _n=name, _v=value, **kw: _CountingMetric(_n, _v, **kw)))
    _CALLS.clear()
    return _CALLS


@pytest.mark.parametrize("order", [("niqe", "nrqm", "pi"), ("pi", "niqe", "nrqm"),
                                   ("nrqm", "pi", "niqe"), ("pi",), ("pi", "nrqm")])
def test_scorer_computes_each_component_once_per_image(order, counting_metrics, tmp_path: Path):
    from bsrgan.evaluation.scoring import Scorer, ScoreTask, metric_options
    from bsrgan.metrics import perceptual_index

    images = []
    for k in range(3):
        images.append(np.full((8, 8, 3), 0.2 * k, np.float32))
        imwrite(tmp_path / f"{k}.png", images[-1])
    scorer = Scorer({name: metric_options(name, "pirm", 4) for name in order})
    results = [scorer(ScoreTask(("m", str(k)), tmp_path / f"{k}.png")) for k in range(3)]
    assert counting_metrics == {"niqe": 3, "nrqm": 3}  # once per image, whatever the order
    for k, result in enumerate(results):
        mean = float(imread(tmp_path / f"{k}.png").mean())
        niqe, nrqm = 4.0 + mean, 6.0 + mean
        assert set(result.values) == set(order) and not result.errors
        assert result.values["pi"] == pytest.approx(perceptual_index(niqe, nrqm))
        assert result.values["pi"] == pytest.approx(((10 - nrqm) + niqe) / 2)
        if "niqe" in order:
            assert result.values["niqe"] == pytest.approx(niqe)


def test_scorer_keeps_distinct_metric_options_apart(counting_metrics, tmp_path: Path):
    from bsrgan.evaluation.scoring import Scorer, ScoreTask

    imwrite(tmp_path / "a.png", np.full((8, 8, 3), 0.5, np.float32))
    scorer = Scorer({"niqe": {"protocol": "matlab"}, "pi": {"protocol": "pirm"}})
    scorer(ScoreTask(("m", "a"), tmp_path / "a.png"))
    assert counting_metrics == {"niqe": 2, "nrqm": 1}  # matlab NIQE and PI's pirm NIQE differ


def test_scorer_builds_pi_components_with_pi_options(counting_metrics, tmp_path: Path):
    """PI's backend, model and device options reach the NIQE / NRQM it is computed from."""
    from bsrgan.evaluation.scoring import Scorer

    scorer = Scorer({"pi": {"protocol": "paper", "niqe_backend": "pyiqa", "nrqm_backend": "pyiqa",
                            "nrqm_model_path": "m.mat", "device": "cpu"}})
    settings = {metric.info.name: metric.settings for metric in scorer._instances.values()}
    assert settings == {"niqe": {"protocol": "paper", "backend": "pyiqa"},
                        "nrqm": {"protocol": "paper", "backend": "pyiqa", "model_path": "m.mat",
                                 "device": "cpu"}}


# ----------------------------------------------------------------------------- honest tables
def test_a_metric_failing_on_an_image_marks_the_row_counts_n_and_exits_1(
        tiny_setup, asset_env, tmp_path: Path, capsys):
    lr_dir, ext = tiny_setup["lr_dir"], tiny_setup["ext"]
    imwrite(ext / "coffee_x4.png", np.full((4 * LR_H, 4 * LR_W, 3), 0.5, np.float32))  # flat
    imwrite(ext / "rocket_x4.png", np.full((100, 100, 3), 0.3, np.float32))  # < two 96-px blocks
    result = evaluate(lr_dir, ["bicubic", f"ext=dir:{ext}"], "niqe,psnr", tmp_path / "r",
                      reference=ext, workers=1, progress=False, figure=False)
    per = result.per_image.set_index(["method", "image"])
    assert per.loc[("ext", "coffee"), "status"] == "partial"  # NIQE failed, PSNR kept
    assert np.isnan(per.loc[("ext", "coffee"), "niqe"])
    assert per.loc[("ext", "coffee"), "psnr"] == np.inf  # compared with itself
    coffee_error = per.loc[("ext", "coffee"), "error"]
    assert "niqe: ValueError: <external_sr>/coffee_x4.png: NIQE is undefined" in coffee_error
    rocket_error = per.loc[("ext", "rocket"), "error"]
    assert "<external_sr>/rocket_x4.png: niqe needs at least two whole 96x96 blocks" in rocket_error
    assert "array of shape" not in coffee_error + rocket_error  # errors name the image file
    assert not result.ok and set(result.failures["image"]) == {"coffee", "rocket"}

    summary = result.summary.set_index("method")
    assert summary.loc["ext", "n"] == 3 and summary.loc["ext", "n_partial"] == 2
    assert summary.loc["ext", "niqe_n"] == 1 and summary.loc["bicubic", "niqe_n"] == 3
    assert summary.loc["ext", "niqe_mean"] == pytest.approx(per.loc[("ext", "astronaut"), "niqe"])
    ext_row = next(line for line in result.markdown.splitlines() if line.startswith("| ext |"))
    assert f"{summary.loc['ext', 'niqe_mean']:.3f} (n=1)" in ext_row  # n per metric, shown
    assert "ext: NIQE failed on 2 of 3 scored outputs (coffee, rocket)" in result.markdown
    # PSNR of an output identical to its reference is +inf: a value, not a failure
    assert "ext: PSNR failed" not in result.markdown
    assert summary.loc["ext", "psnr_n"] == 3 and summary.loc["ext", "psnr_mean"] == np.inf
    assert ext_row.endswith("| **inf** |")  # the best PSNR, shown as it is

    argv = ["evaluate", "--dataset", str(lr_dir), "--method", "bicubic", "--method",
            f"ext=dir:{ext}", "--metrics", "niqe", "-o", str(tmp_path / "cli"), "--workers", "1",
            "--no-progress", "--no-figure"]
    assert cli_main(argv) == 1  # as docs/evaluation.md says: a metric failure is a failure
    err = capsys.readouterr().err
    assert "metric failed: ext / coffee: niqe: ValueError:" in err and "coffee_x4.png" in err


# ----------------------------------------------------------------------------- cache keys
def test_cache_key_follows_code_version_device_and_tile(tiny_setup, tmp_path: Path, monkeypatch):
    import bsrgan
    from bsrgan.evaluation import generate

    out = tmp_path / "results"
    methods = ["bicubic=bicubic", f"nearest=model:{tiny_setup['weights']}"]

    def run(**kwargs):
        result = evaluate(tiny_setup["lr_dir"], methods, "niqe", out, workers=1,
                          progress=False, figure=False, **kwargs)
        return result, result.per_image.set_index(["method", "image"])["source"]

    first, source = run()
    assert set(source) == {"generated"}
    record = json.loads(first.paths["provenance"].read_text())
    nearest = next(m for m in record["methods"] if m["name"] == "nearest")
    assert nearest["tile_used"] == {s: 0 for s in STEMS}  # 40x56 fits the budget: whole image
    assert nearest["device_used"] == ["cpu"] and nearest["code"]["bsrgan"] == bsrgan.__version__
    assert len(nearest["code"]["source_sha256"]) == 64 and "torch" in nearest["code"]
    from bsrgan.assets.verify import sha256_file
    assert nearest["outputs_sha256"]["coffee"] == sha256_file(out / "sr" / "nearest" / "coffee.png")

    _, source = run()
    assert set(source) == {"cached"}
    # options that plan the same tile give the same key: a larger budget, a fixed whole-image
    # tile and an overlap (nothing to blend in a whole image) all still run 40x56 whole
    for options in ({"memory_budget": 8 * 2**30}, {"tile": 0}, {"tile_overlap": 8}):
        _, source = run(**options)
        assert set(source) == {"cached"}, options
    # another tile plan is another key: rrdbnet_tiny needs 4 KiB per LR pixel (nf=16, sf=4,
    # fp32), so a 4 MiB budget cannot hold a 40x56 image and plans the minimum 64-px tile
    tiled, source = run(memory_budget=4096 * 32 * 32)
    assert (source.loc["nearest"] == "generated").all() and (source.loc["bicubic"] == "cached").all()
    record = json.loads(tiled.paths["provenance"].read_text())
    nearest = next(m for m in record["methods"] if m["name"] == "nearest")
    assert nearest["tile_used"] == {s: 64 for s in STEMS}
    _, source = run(tile=64)  # the same tile, fixed instead of planned: the same images
    assert set(source) == {"cached"}
    _, source = run(tile=64, tile_overlap=8)  # tiled, the overlap changes the blend
    assert (source.loc["nearest"] == "generated").all() and (source.loc["bicubic"] == "cached").all()

    # older code is never reused silently: a new source hash or package version regenerates
    monkeypatch.setattr(generate, "source_sha256", lambda modules: "0" * 64)
    _, source = run()
    assert set(source) == {"generated"}
    _, source = run()
    assert set(source) == {"cached"}
    monkeypatch.setattr(bsrgan, "__version__", "999.0")
    _, source = run()
    assert set(source) == {"generated"}


# ----------------------------------------------------------------------------- availability
def test_availability_is_the_check_evaluate_uses_and_says_why(asset_env, monkeypatch):
    from bsrgan.evaluation import check_availability, check_method, check_metric

    report = check_availability(["realsrset", "no/such/folder"],
                                ["bicubic", "esrgan=published:esrgan", "jpeg=published:realsr_jpeg",
                                 "BSRGAN=model:BSRGAN", "fp16=model:RealSR_JPEG_x4_fp16"],
                                "niqe,nrqm,pi")
    table = report.table().set_index("item")
    assert table.loc["dataset realsrset", "status"] == "available"
    assert table.loc["dataset realsrset", "detail"].startswith("20 images")
    assert table.loc["dataset no/such/folder", "status"] == "unavailable"
    offline = "downloads are disabled (BSRGAN_OFFLINE=1)"
    esrgan = table.loc["method esrgan"]  # the mirror lacks 2 of the authors' 20
    assert esrgan["status"] == "partial" and esrgan["detail"] == "18 of 20 published outputs"
    assert esrgan["reason"].startswith("dog, tiger: it is in neither the cache nor a mirror")
    assert offline in esrgan["reason"]
    assert table.loc["method jpeg", "detail"] == "3 of 20 published outputs"
    assert table.loc["method BSRGAN", "status"] == "unavailable"
    assert "weights/BSRGAN.pth is not available" in table.loc["method BSRGAN", "reason"]
    assert offline in table.loc["method BSRGAN", "reason"]
    assert table.loc["method fp16", "status"] == "available"
    assert table.loc["metric niqe", "detail"] == "niqe_modelparameters.mat"
    for name in ("nrqm", "pi"):
        reason = table.loc[f"metric {name}", "reason"]
        assert table.loc[f"metric {name}", "status"] == "unavailable"
        assert "NRQM_model.mat" in reason and offline in reason and "bsrgan fetch nrqm-model" in reason
    assert report.metrics == ["niqe"] and list(report.datasets) == ["realsrset"]
    assert report.methods == ["bicubic=bicubic", "esrgan=published:esrgan",
                              "jpeg=published:realsr_jpeg", "fp16=model:RealSR_JPEG_x4_fp16"]
    assert "| method esrgan | partial | 18 of 20 published outputs |" in report.markdown()
    # the same words in evaluate's tables: NRQM is n/a for the reason the check gave
    assert check_metric("nrqm").reason == table.loc["metric nrqm", "reason"]
    assert check_method("published:bsrgan").detail == "20 of 20 published outputs"

    # without BSRGAN_OFFLINE the reason never names it: here the download itself fails
    import urllib.error
    import urllib.request

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no route to host")

    monkeypatch.delenv("BSRGAN_OFFLINE")
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    reason = check_metric("nrqm").reason
    assert "download failed (URLError" in reason and "BSRGAN_OFFLINE" not in reason
    from bsrgan.metrics import unavailable_reason  # the local-only check of bsrgan.metrics
    assert "BSRGAN_OFFLINE" not in unavailable_reason("nrqm")
    assert "only the cache and mirrors were checked" in unavailable_reason("nrqm")
