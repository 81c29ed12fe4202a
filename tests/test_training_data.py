"""Training data: discovery, manifests, bsrgan prepare, face flips, the uint8 path, fail-loud
configs, the loader plan, and a tiny training run from a prepared folder.

Images are small synthetic PNGs written to ``tmp_path``; prepare runs in-process (workers=1)
except in one test that checks the process pool.
"""
from __future__ import annotations

import hashlib
import os
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from training_helpers import FAST, REPO, TINY, tiny_config

from bsrgan.cli import main
from bsrgan.data.discovery import discover_hr_images, is_face_folder
from bsrgan.data.manifest import ManifestError, ManifestRow, read_manifest, write_manifest
from bsrgan.data.prepare import PrepareSettings, prepare, tile_boxes, tile_starts
from bsrgan.io import imread, imwrite
from bsrgan.training import ConfigError, Trainer, load_config
from bsrgan.training.dataset import (
    BlindSRDataset,
    MissingTrainingDataError,
    flip_rotate,
    hq_to_float,
    make_loader,
    random_crop,
)
from bsrgan.training.loader_plan import batch_bytes, plan_loader, resolve_num_workers

PAPER = REPO / "experiments" / "bsrnet_x4_paper.yaml"


def photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth random colour image, float32 (h, w, 3) in [0, 1], 8-bit exact."""
    rng = np.random.default_rng(seed)
    base = rng.random((h // 8 + 1, w // 8 + 1, 3)).astype(np.float32)
    img = cv2.resize(base, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.rint(np.clip(img, 0, 1) * 255).astype(np.float32) / np.float32(255)


def write_photos(folder: Path, sizes: dict[str, tuple[int, int]]) -> dict[str, Path]:
    out = {}
    for i, (rel, (h, w)) in enumerate(sizes.items()):
        out[rel] = imwrite(folder / rel, photo(h, w, seed=i))
    return out


# ----------------------------------------------------------------------------- discovery


def test_discovery_walks_folders_recursively_in_sorted_order(tmp_path: Path) -> None:
    write_photos(tmp_path / "a", {"z.png": (40, 40), "sub/b.png": (40, 40),
                                  "sub/deeper/c.jpg": (40, 40), ".hidden/x.png": (40, 40)})
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    write_photos(tmp_path / "b", {"d.png": (40, 40)})
    found = discover_hr_images(tmp_path / "a")
    assert [img.name for img in found.images] == ["sub/b.png", "sub/deeper/c.jpg", "z.png"]
    both = discover_hr_images([tmp_path / "b", tmp_path / "a", tmp_path / "b" / "d.png"])
    assert [img.name for img in both.images] == ["d.png", "sub/b.png", "sub/deeper/c.jpg",
                                                  "z.png"]
    assert both.duplicates == 1
    with pytest.raises(FileNotFoundError, match="HR source not found: .*nope"):
        discover_hr_images([tmp_path / "a", tmp_path / "nope"])
    with pytest.raises(ValueError, match="no HR source given"):
        discover_hr_images([])


def test_file_lists_resolve_relative_paths_and_report_missing_entries(tmp_path: Path) -> None:
    files = write_photos(tmp_path / "photos", {"one.png": (40, 40), "FFHQ/two.png": (40, 40)})
    listing = tmp_path / "train.txt"
    listing.write_text(f"# my list\nphotos/one.png\n\n{files['FFHQ/two.png']}\nphotos/gone.png\n")
    found = discover_hr_images(listing)
    assert [img.path for img in found.images] == [tmp_path / "photos/one.png",
                                                  files["FFHQ/two.png"]]
    assert [img.face for img in found.images] == [False, True]
    assert found.missing == [f"{listing}: photos/gone.png"]


def test_file_list_folder_entries_follow_the_face_rule_and_the_exclusion(tmp_path: Path) -> None:
    write_photos(tmp_path / "data", {"ffhq/00000/1.png": (40, 40), "div2k/2.png": (40, 40),
                                     "div2k/out/3.png": (40, 40)})
    listing = _write(tmp_path / "data" / "list.txt", "ffhq/00000\ndiv2k\ndiv2k/out/3.png\n")
    found = discover_hr_images(listing)
    assert {img.name: img.face for img in found.images} == {
        "1.png": True, "2.png": False, "out/3.png": False}
    assert found.duplicates == 1  # div2k/out/3.png, listed and inside a listed folder
    # an output folder inside a listed folder is never read back as input (bsrgan prepare)
    kept = discover_hr_images(listing, exclude=tmp_path / "data" / "div2k" / "out")
    assert [img.name for img in kept.images] == ["1.png", "2.png"]


@pytest.mark.parametrize("name, face", [("ffhq", True), ("FFHQ_2000", True), ("faces", True),
                                        ("face-crops", True), ("surfaces", False),
                                        ("facebook", False), ("div2k", False)])
def test_face_folder_rule(name: str, face: bool) -> None:
    assert is_face_folder(name) is face


def test_face_tags_from_folder_names_and_from_the_faces_option(tmp_path: Path) -> None:
    write_photos(tmp_path / "data", {"div2k/0001.png": (40, 40), "ffhq/00000/1.png": (40, 40)})
    write_photos(tmp_path / "portraits", {"p.png": (40, 40)})
    found = discover_hr_images([tmp_path / "data", tmp_path / "portraits"],
                               faces=[tmp_path / "portraits"])
    assert {img.name: img.face for img in found.images} == {
        "div2k/0001.png": False, "ffhq/00000/1.png": True, "p.png": True}
    assert found.num_faces == 2
    # the source folder's own name counts, folders above it do not
    assert all(img.face for img in discover_hr_images(tmp_path / "data" / "ffhq").images)
    write_photos(tmp_path / "faces_project", {"div2k/x.png": (40, 40)})
    assert not discover_hr_images(tmp_path / "faces_project" / "div2k").images[0].face


# ----------------------------------------------------------------------------- manifest


def test_manifest_round_trip_and_errors_name_file_and_line(tmp_path: Path) -> None:
    rows = [ManifestRow("b/x_s002.png", "/src/x.png", 0, 240, 480, 480, False, "ab" * 32),
            ManifestRow("a/y_s001.png", "/src/ffhq/y.png", 10, 0, 480, 480, True, "cd" * 32)]
    path = write_manifest(tmp_path / "manifest.tsv", rows)
    assert read_manifest(path) == sorted(rows, key=lambda r: r.subimage)
    text = path.read_text().splitlines()
    (tmp_path / "bad.tsv").write_text("\n".join([text[0], text[1].replace("\t480\t", "\tbig\t", 1)]))
    with pytest.raises(ManifestError, match=r"bad.tsv:2: crop box"):
        read_manifest(tmp_path / "bad.tsv")
    (tmp_path / "escape.tsv").write_text("\n".join([text[0], "../x.png" + text[1][12:]]))
    with pytest.raises(ManifestError, match="escape.tsv:2: sub-image '../x.png'"):
        read_manifest(tmp_path / "escape.tsv")
    with pytest.raises(ManifestError, match="not a bsrgan manifest"):
        read_manifest(_write(tmp_path / "x.tsv", "a\tb\n"))


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------- prepare


def test_tiles_cover_the_image_with_an_edge_tile_and_skip_short_sides() -> None:
    assert tile_starts(1000, 480, 240) == [0, 240, 480, 520]
    assert tile_starts(960, 480, 240) == [0, 240, 480]
    assert tile_starts(480, 480, 240) == [0]
    assert tile_starts(479, 480, 240) == []
    assert tile_boxes(1536, 2048, 480, 240)[-1] == (1056, 1568, 480, 480)
    assert len(tile_boxes(1536, 2048, 480, 240)) == 6 * 8  # a DPED photo gives 48 tiles


def test_prepare_writes_exact_crops_a_manifest_and_reports_small_and_broken(
        tmp_path: Path) -> None:
    src = tmp_path / "HR"
    files = write_photos(src, {"big.png": (150, 200), "nested/ffhq/face.png": (96, 96),
                               "small.png": (60, 90)})
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "out"
    report = prepare([src], out, settings=PrepareSettings(crop=96, step=48), workers=1,
                     progress=False)
    assert report.did_work and report.sources == 4 and report.processed == 4
    assert report.too_small == [str(files["small.png"].resolve())]
    assert [Path(p).name for p, _ in report.failed] == ["broken.png"]
    rows = read_manifest(out / "manifest.tsv")
    big = [r for r in rows if r.source.endswith("big.png")]
    assert [r.box for r in big] == [(t, l, 96, 96) for t in (0, 48, 54) for l in (0, 48, 96, 104)]
    assert big[0].subimage == "HR/big_s001.png" and big[-1].subimage == "HR/big_s012.png"
    source = imread(files["big.png"])
    for r in big[::5]:
        tile = imread(out / r.subimage)
        assert np.array_equal(tile, source[r.top:r.top + 96, r.left:r.left + 96])  # lossless
        assert hashlib.sha256((out / r.subimage).read_bytes()).hexdigest() == r.sha256
    assert [r.face for r in rows if "ffhq" in r.subimage] == [True]
    assert report.subimages == len(rows) == 13 and report.faces == 1
    assert "1 images smaller than 96 px" in report.summary()
    assert "failed: " in report.summary()


def test_prepare_is_resumable_and_redoes_only_what_changed(tmp_path: Path) -> None:
    src = tmp_path / "HR"
    files = write_photos(src, {f"{i}.png": (120, 120) for i in range(3)})
    out = tmp_path / "out"
    settings = PrepareSettings(crop=96, step=48)
    first = prepare([src], out, settings=settings, workers=1, progress=False)
    assert first.processed == 3 and first.written == 3 * 4
    manifest_before = (out / "manifest.tsv").read_bytes()
    again = prepare([src], out, settings=settings, workers=1, progress=False)
    assert not again.did_work and again.up_to_date == 3 and again.written == 0
    assert again.summary().startswith("nothing to do: all 3 source images are already prepared")
    assert (out / "manifest.tsv").read_bytes() == manifest_before
    # a changed source and a lost sub-image are redone, nothing else
    imwrite(files["1.png"], photo(120, 120, seed=7))
    os.utime(files["1.png"], ns=(time.time_ns(), time.time_ns() + 10**9))
    (out / "HR" / "2_s003.png").unlink()
    third = prepare([src], out, settings=settings, workers=1, progress=False)
    assert third.processed == 2 and third.up_to_date == 1 and third.subimages == 12
    assert np.array_equal(imread(out / "HR" / "1_s001.png"), imread(files["1.png"])[:96, :96])
    with pytest.raises(ValueError, match=r"other settings \(crop: 96 -> 64"):
        prepare([src], out, settings=PrepareSettings(crop=64, step=32), progress=False)
    with pytest.raises(ValueError, match="is or contains the input"):
        prepare([src], tmp_path, settings=settings, progress=False)
    inside = prepare([src], src / "prepared", settings=settings, workers=1, progress=False)
    assert inside.sources == 3  # the output folder inside the input is not an input
    assert prepare([src], src / "prepared", settings=settings, progress=False).up_to_date == 3


def test_prepare_redoes_a_source_whose_sub_image_names_moved(tmp_path: Path) -> None:
    """a.bmp added next to a.png takes the name a_sNNN.png (it sorts first): a.png is cut again
    as a_png_sNNN.png instead of keeping rows that now point at a.bmp's tiles."""
    src, out = tmp_path / "HR", tmp_path / "out"
    settings = PrepareSettings(crop=64, step=32)
    write_photos(src, {"a.png": (100, 100)})
    prepare([src], out, settings=settings, workers=1, progress=False)
    imwrite(src / "a.bmp", photo(100, 100, seed=5))
    report = prepare([src], out, settings=settings, workers=1, progress=False)
    assert report.processed == 2 and report.subimages == 18
    rows = read_manifest(out / "manifest.tsv")
    assert len({r.subimage for r in rows}) == 18
    for r in rows:
        tile = imread(out / r.subimage)
        assert np.array_equal(tile, imread(r.source)[r.top:r.top + 64, r.left:r.left + 64])
        assert hashlib.sha256((out / r.subimage).read_bytes()).hexdigest() == r.sha256


def test_prepare_removes_every_stale_tile_of_a_shrunk_source(tmp_path: Path) -> None:
    """Past tile 999 (_s1000.png) and with glob characters in the name (a[1] is not a1)."""
    src, out = tmp_path / "HR", tmp_path / "out"
    settings = PrepareSettings(crop=8, step=8)
    write_photos(src, {"a[1].png": (256, 256), "a1.png": (16, 16)})
    assert prepare([src], out, settings=settings, workers=1, progress=False).subimages == 1024 + 4
    assert (out / "HR" / "a[1]_s1024.png").is_file()
    imwrite(src / "a[1].png", photo(16, 24, seed=3))
    os.utime(src / "a[1].png", ns=(time.time_ns(), time.time_ns() + 10**9))
    assert prepare([src], out, settings=settings, workers=1, progress=False).subimages == 6 + 4
    assert sorted(p.name for p in (out / "HR").iterdir()) == (
        [f"a1_s00{k}.png" for k in range(1, 5)] + [f"a[1]_s00{k}.png" for k in range(1, 7)])


def test_an_interrupted_prepare_keeps_the_finished_sources(tmp_path: Path, monkeypatch) -> None:
    import bsrgan.data.prepare as prep

    src, out = tmp_path / "HR", tmp_path / "out"
    settings = PrepareSettings(crop=64, step=32)
    write_photos(src, {f"{i}.png": (100, 100) for i in range(4)})
    cut, calls = prep._cut, []

    def cut_until_ctrl_c(task):
        calls.append(task.source)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return cut(task)

    monkeypatch.setattr(prep, "_cut", cut_until_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        prepare([src], out, settings=settings, workers=1, progress=False)
    assert {Path(r.source).name for r in read_manifest(out / "manifest.tsv")} == {"0.png", "1.png"}
    monkeypatch.setattr(prep, "_cut", cut)
    again = prepare([src], out, settings=settings, workers=1, progress=False)
    assert again.up_to_date == 2 and again.processed == 2 and again.subimages == 4 * 9


def test_an_interrupted_process_pool_drops_the_queued_images(tmp_path: Path, monkeypatch) -> None:
    """Ctrl-C in the parent: the workers finish what they hold, not the whole queue."""
    import bsrgan.data.prepare as prep

    src, out = tmp_path / "HR", tmp_path / "out"
    write_photos(src, {f"{i:02d}.png": (300, 300) for i in range(12)})  # 225 tiles each
    write, calls = prep.write_manifest, []

    def interrupted_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return write(*args, **kwargs)

    monkeypatch.setattr(prep, "CHECKPOINT_EVERY_S", -1.0)  # checkpoint after the first image
    monkeypatch.setattr(prep, "write_manifest", interrupted_once)
    with pytest.raises(KeyboardInterrupt):
        prepare([src], out, settings=PrepareSettings(crop=64, step=16), workers=2, progress=False)
    cut = {p.name.split("_s")[0] for p in (out / "HR").glob("*.png")}
    assert 1 <= len(cut) <= 6  # 12 without cancelling the queue
    assert {Path(r.source).stem for r in read_manifest(out / "manifest.tsv")} <= cut


def test_prepare_keeps_16_bit_and_can_keep_small_images_whole(tmp_path: Path) -> None:
    src = tmp_path / "HR"
    src.mkdir()
    deep = (np.arange(80 * 100 * 3, dtype=np.uint32).reshape(80, 100, 3) * 37 % 65536)
    cv2.imwrite(str(src / "deep.png"), deep.astype(np.uint16))
    report = prepare([src], tmp_path / "out", settings=PrepareSettings(crop=96, step=48, keep_small=True),
                     workers=1, progress=False)
    (row,) = read_manifest(tmp_path / "out" / "manifest.tsv")
    assert row.box == (0, 0, 80, 100) and not report.too_small
    tile = cv2.imread(str(tmp_path / "out" / row.subimage), cv2.IMREAD_UNCHANGED)
    assert tile.dtype == np.uint16 and np.array_equal(tile, deep.astype(np.uint16))


def test_prepare_with_a_process_pool_matches_in_process(tmp_path: Path) -> None:
    src = tmp_path / "HR"
    write_photos(src, {f"{i}.png": (110, 130) for i in range(4)})
    settings = PrepareSettings(crop=64, step=32)
    prepare([src], tmp_path / "one", settings=settings, workers=1, progress=False)
    prepare([src], tmp_path / "two", settings=settings, workers=2, progress=False)
    assert (read_manifest(tmp_path / "one" / "manifest.tsv")
            == read_manifest(tmp_path / "two" / "manifest.tsv"))


def test_cli_prepare_says_when_there_is_nothing_to_do(tmp_path: Path, capsys) -> None:
    write_photos(tmp_path / "HR", {"a.png": (100, 100)})
    args = ["prepare", str(tmp_path / "HR"), "-o", str(tmp_path / "out"), "--crop", "64",
            "--step", "32", "--workers", "1", "--no-progress"]
    assert main(args) == 0
    assert "prepared 1 of 1 source images -> 9 sub-images" in capsys.readouterr().out
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "nothing to do" in out and f"data.hr_dir={tmp_path / 'out'}" in out
    assert main(["prepare", str(tmp_path / "missing"), "-o", str(tmp_path / "o2")]) == 2
    assert "HR source not found" in capsys.readouterr().err
    blocked = _write(tmp_path / "a_file", "not a folder") / "out"  # no traceback, the path named
    assert main(["prepare", str(tmp_path / "HR"), "-o", str(blocked), "--no-progress"]) == 2
    assert f"bsrgan prepare: [Errno 20] Not a directory: '{blocked}'" in capsys.readouterr().err


def test_prepare_refuses_sources_without_images_and_names_empty_ones(tmp_path: Path,
                                                                      capsys) -> None:
    (tmp_path / "empty").mkdir()
    listing = _write(tmp_path / "list.txt", "gone.png\n")
    with pytest.raises(ValueError, match=r"no image found in .*empty, .*list.txt .*1 listed "
                                         r"files do not exist, e.g. .*gone.png"):
        prepare([tmp_path / "empty", listing], tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    write_photos(tmp_path / "HR", {"a.png": (70, 70)})
    report = prepare([tmp_path / "HR", tmp_path / "empty"], tmp_path / "out",
                     settings=PrepareSettings(crop=64, step=32), workers=1, progress=False)
    assert report.subimages == 4 and report.empty == [str(tmp_path / "empty")]
    assert f"1 sources hold no image: {tmp_path / 'empty'}" in report.summary()
    assert main(["prepare", str(tmp_path / "empty"), "-o", str(tmp_path / "o2")]) == 2
    assert "no image found in" in capsys.readouterr().err


# ----------------------------------------------------------------------------- dataset


def test_prepared_folder_is_read_from_its_manifest(tmp_path: Path) -> None:
    write_photos(tmp_path / "HR", {"a.png": (100, 140), "ffhq/f.png": (64, 64)})
    out = tmp_path / "prepared"
    prepare([tmp_path / "HR"], out, settings=PrepareSettings(crop=64, step=32), workers=1,
            progress=False)
    rows = read_manifest(out / "manifest.tsv")
    for source in (out, out / "manifest.tsv", [out]):
        ds = BlindSRDataset(source, hr_crop=64, lq_patch=16)
        assert ds.names == [r.subimage for r in rows] and ds.num_faces == 1
    # a parent folder of a prepared folder uses its manifest too (faces kept): the raw photos,
    # then the manifest's rows; the walk does not list the sub-image files themselves
    parent = BlindSRDataset(tmp_path, hr_crop=64, lq_patch=16)
    assert parent.names == ["HR/a.png", "HR/ffhq/f.png", *(r.subimage for r in rows)]
    assert parent.num_faces == 2  # HR/ffhq/f.png and its one sub-image
    (out / rows[0].subimage).unlink()  # a row whose file is gone is reported, not used
    found = discover_hr_images(out)
    assert found.missing == [f"{out / 'manifest.tsv'}: {rows[0].subimage}"]
    assert [img.name for img in found.images] == [r.subimage for r in rows[1:]]


def test_faces_get_a_horizontal_flip_or_none(tmp_path: Path) -> None:
    img = photo(64, 64, seed=3)
    imwrite(tmp_path / "ffhq" / "face.png", img)
    imwrite(tmp_path / "div2k" / "scene.png", img)
    faces = BlindSRDataset(tmp_path / "ffhq", hr_crop=64, lq_patch=16)
    scenes = BlindSRDataset(tmp_path / "div2k", hr_crop=64, lq_patch=16)
    u8 = np.rint(img * 255).astype(np.uint8)
    modes = {flip_rotate(u8, m).tobytes(): m for m in range(8)}
    face_modes = {modes[faces.hr_sample(e, 0)[0].tobytes()] for e in range(60)}
    scene_modes = {modes[scenes.hr_sample(e, 0)[0].tobytes()] for e in range(60)}
    assert face_modes == {0, 4}  # identity and the left-right flip
    assert scene_modes == set(range(8))


def test_uint8_transfer_equals_the_float_path(tmp_path: Path) -> None:
    """HQ as uint8 + hq_to_float == the old float pipeline (imread -> crop -> degrade), bit for
    bit, except samples with camera noise (ISP-processed HQ): within 0.5/255 there."""
    from bsrgan.degradation import degrade_bsrgan

    for i in range(3):
        imwrite(tmp_path / f"{i}.png", photo(90, 110, seed=i))
    ds = BlindSRDataset(tmp_path, hr_crop=64, lq_patch=16, seed=5, hq_uint8=True)
    loader = iter(make_loader(ds, batch_size=4, num_workers=0, pin_memory=False,
                              persistent_workers=False, prefetch_factor=2))
    batches = [next(loader) for _ in range(4)]
    assert batches[0]["hq"].dtype == torch.uint8 and batches[0]["lq"].dtype == torch.float32
    seen_camera = seen_plain = 0
    for batch in batches:
        hq = hq_to_float(batch["hq"])
        for k in range(4):
            epoch, index = int(batch["epoch"][k]), int(batch["index"][k])
            rng = ds.sample_rng(epoch, index)
            hr = random_crop(imread(tmp_path / f"{index}.png"), 64, rng)
            lq_ref, hq_ref, trace = degrade_bsrgan(flip_rotate(hr, int(rng.integers(8))), 4, 16,
                                                   rng=rng)
            assert torch.equal(batch["lq"][k], torch.from_numpy(lq_ref.transpose(2, 0, 1).copy()))
            diff = (hq[k] - torch.from_numpy(hq_ref.transpose(2, 0, 1).copy())).abs().max()
            if any(e["op"] == "camera_noise" for e in trace):
                seen_camera += 1
                assert float(diff) <= 0.5 / 255 + 1e-7
            else:
                seen_plain += 1
                assert float(diff) == 0.0
    assert seen_plain > 0 and seen_camera > 0


# ----------------------------------------------------------------------------- configs


def test_paper_config_without_data_fails_before_any_model_is_built(monkeypatch,
                                                                    tmp_path: Path) -> None:
    import bsrgan.models

    def no_models(*_a, **_k):
        raise AssertionError("a model was built before the data check")

    monkeypatch.setattr(bsrgan.models, "build_model", no_models)
    cfg = load_config(PAPER)
    assert cfg.data.hr_dir is None
    with pytest.raises(MissingTrainingDataError) as info:
        Trainer(cfg, tmp_path / "run")
    msg = str(info.value)
    assert "data.hr_dir is not set" in msg and "bsrgan prepare" in msg and "embedded" in msg
    assert not (tmp_path / "run").exists()
    with pytest.raises(FileNotFoundError, match="HR source not found: /no/such/folder"):
        Trainer(load_config(PAPER, overrides={"data.hr_dir": "/no/such/folder"}), tmp_path / "r")


def test_cli_train_without_data_exits_non_zero_with_the_message(tmp_path: Path,
                                                                capsys) -> None:
    started = time.perf_counter()
    code = main(["train", "--config", str(PAPER), "--out", str(tmp_path / "out")])
    assert code == 1 and time.perf_counter() - started < 60
    err = capsys.readouterr().err
    assert "data.hr_dir is not set" in err and "bsrgan prepare" in err


def test_paper_x4_experiment_requires_hr_dir_before_running_anything(tmp_path: Path) -> None:
    from bsrgan.runner import ExperimentError, load_experiment, parse_override, plan_run

    experiment = load_experiment(REPO / "experiments" / "paper_x4.yaml")
    with pytest.raises(ExperimentError, match=r"needs HR_DIR .*bsrgan prepare"):
        plan_run(experiment)
    plan = plan_run(experiment, overrides=[parse_override(f"HR_DIR={tmp_path}")])
    assert plan["02"].values["HR_DIR"] == str(tmp_path)


def test_demo_configs_say_embedded_and_hr_dir_values_are_checked(tmp_path: Path) -> None:
    assert load_config(TINY).data.hr_dir == "embedded"
    assert load_config(TINY, overrides={"data.hr_dir": ["/a", "/b"]}).data.hr_dir == ["/a", "/b"]
    for bad, fragment in (([], "data.hr_dir must be"), ("", "data.hr_dir must be"),
                          ("many", None)):
        key = "data.num_workers" if fragment is None else "data.hr_dir"
        with pytest.raises(ConfigError, match="data.num_workers must be" if fragment is None
                           else fragment):
            load_config(TINY, overrides={key: bad})


# ----------------------------------------------------------------------------- loader plan


def test_loader_plan_divides_cpus_and_estimates_shared_memory() -> None:
    assert resolve_num_workers("auto", processes=1, cpus=32) == 16  # capped
    assert resolve_num_workers("auto", processes=4, cpus=32) == 7
    assert resolve_num_workers("auto", processes=8, cpus=8) == 1
    assert resolve_num_workers(3, processes=8, cpus=8) == 3
    assert batch_bytes(48, 72, 4) == 48 * 3 * (72 * 72 * 4 + 288 * 288)  # HQ uint8
    assert batch_bytes(48, 72, 4, hq_uint8=False) == 48 * 3 * (72 * 72 + 288 * 288) * 4
    assert batch_bytes(48, 72, 4, hr_crop=320) == 48 * 3 * 320 * 320  # degraded on the device
    plan = plan_loader(num_workers=12, batch_size=48, lq_patch=72, scale=4, prefetch_factor=4,
                       processes=1, cpus=32, shm_free=64 * 2**20)  # Docker's default
    assert plan.shm_bytes == 50 * batch_bytes(48, 72, 4)
    assert any("--shm-size" in w for w in plan.warnings)
    busy = plan_loader(num_workers=8, batch_size=4, lq_patch=16, scale=4, prefetch_factor=2,
                       processes=2, cpus=8, shm_free=None)
    assert any("compete" in w for w in busy.warnings) and "no /dev/shm" in busy.describe()


def test_trainer_logs_the_loader_plan_and_warns_when_loader_bound(tmp_path: Path) -> None:
    cfg = tiny_config(**{"data.num_workers": 2, "log_every": 5})
    trainer = Trainer(cfg, tmp_path)
    try:
        trainer._check_loader_bound({"data_wait_ms": 90.0, "compute_ms": 10.0})  # start-up
        trainer.step = 10
        trainer._check_loader_bound({"data_wait_ms": 60.0, "compute_ms": 40.0})
        trainer.step = 15
        trainer._check_loader_bound({"data_wait_ms": 60.0, "compute_ms": 40.0})  # too soon
    finally:
        trainer.close()
    log = (tmp_path / "train.log").read_text()
    assert "loader: 2 worker processes per training process" in log and "/dev/shm" in log
    assert log.count("loader-bound") == 1 and "60% waiting" in log and "bsrgan prepare" in log


def test_tiny_training_run_from_a_prepared_folder(tmp_path: Path) -> None:
    write_photos(tmp_path / "HR", {"a.png": (130, 150), "b/c.png": (100, 120),
                                   "ffhq/f.png": (96, 96)})
    report = prepare([tmp_path / "HR"], tmp_path / "prepared",
                     settings=PrepareSettings(crop=80, step=40), workers=1, progress=False)
    from bsrgan.training import train

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # nothing may be excluded
        result = train(TINY, tmp_path / "run", progress=False, overrides={
            **FAST, "data.hr_dir": str(tmp_path / "prepared"), "data.num_workers": 1,
            "data.persistent_workers": False, "total_steps": 6, "log_every": 3,
            "checkpoint_every": 6})
    assert result.steps == 6 and result.ema_weights.is_file()
    log = result.train_log
    assert list(log["step"]) == [3, 6]
    assert (log["data_wait_ms"] >= 0).all() and (log["compute_ms"] > 0).all()
    text = (tmp_path / "run" / "train.log").read_text()
    assert (f"data: {report.subimages} HR images ({report.faces} faces, 0 excluded)" in text
            and report.faces == 4)


# ----------------------------------------------------------------------------- io, runner


def test_imread_pixels_keeps_the_sample_type_and_as_uint8_rounds(tmp_path: Path) -> None:
    from PIL import Image

    from bsrgan.io import as_uint8, imread_pixels

    gray = (np.arange(12 * 10) % 256).astype(np.uint8).reshape(12, 10)
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    pixels = imread_pixels(tmp_path / "gray.png")
    assert pixels.shape == (12, 10, 3) and pixels.dtype == np.uint8
    assert np.array_equal(pixels[..., 1], gray)
    deep = np.array([[0, 128, 129, 257 * 7, 65535]], dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), deep)
    assert imread_pixels(tmp_path / "deep.png").dtype == np.uint16
    assert as_uint8(imread_pixels(tmp_path / "deep.png"))[0, :, 0].tolist() == [0, 0, 1, 7, 255]
    rgb = photo(20, 30, seed=2)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display needs a 90 degree clockwise turn
    Image.fromarray(np.rint(rgb * 255).astype(np.uint8)).save(tmp_path / "r.jpg", exif=exif,
                                                              quality=95)
    upright = imread_pixels(tmp_path / "r.jpg")
    assert upright.shape == (30, 20, 3)
    assert np.array_equal(np.ascontiguousarray(upright), np.rint(imread(tmp_path / "r.jpg")
                                                                 * 255).astype(np.uint8))


def test_experiment_required_must_map_names_to_texts(tmp_path: Path) -> None:
    from bsrgan.runner import ExperimentError
    from bsrgan.runner.config import experiment_from_dict

    base = {"name": "x", "notebooks": [{"id": "01", "notebook": "a.ipynb"}]}
    assert experiment_from_dict({**base, "required": {"HR_DIR": "photos"}},
                                tmp_path / "x.yaml").required == {"HR_DIR": "photos"}
    with pytest.raises(ExperimentError, match="required: expected a mapping"):
        experiment_from_dict({**base, "required": ["HR_DIR"]}, tmp_path / "x.yaml")
