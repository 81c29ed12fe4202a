"""Training sets as named downloads: resumable HTTP Range downloads, unpacking, FFHQ by hand.

No network: archives are served by a real ``http.server`` on 127.0.0.1 whose handler honours
(or, on request, ignores) ``Range``; everything is written under ``tmp_path``.
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_http import LocalServer, RangedFile, running_server

from bsrgan.assets import AssetError, AssetFile, AssetSettings, UnverifiedAssetWarning
from bsrgan.assets.download import partial_path
from bsrgan.assets.resolution import resolve_file
from bsrgan.assets.training_sets import (
    FFHQ_SUBSET,
    MARKER,
    TRAINING_SETS,
    TrainingSet,
    fetch_training_set,
    is_unpacked,
)
from bsrgan.assets.unpack import unpack_images
from bsrgan.cli import main


def _payload(n: int, seed: int = 0) -> bytes:
    out, block = bytearray(), seed.to_bytes(4, "little")
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:n])


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with running_server() as srv:
        yield srv


def _settings(tmp_path: Path, *mirrors: Path, offline: bool = False) -> AssetSettings:
    return AssetSettings(home=tmp_path / "home", mirrors=mirrors, offline=offline, timeout=5.0)


def _entry(url: str, data: bytes | None, *, known: bool = True) -> AssetFile:
    return AssetFile("toy-set", "training/archives/toy.bin", len(data) if known and data else None,
                     hashlib.sha256(data).hexdigest() if known and data else None, url, "toy")


# ------------------------------------------------------------------- resumable download

def test_interrupted_download_resumes_with_a_range_request(tmp_path: Path,
                                                           server: LocalServer) -> None:
    data = _payload(3_000_000)  # several read chunks
    toy = server.serve("toy.bin", RangedFile(data))
    st = _settings(tmp_path)
    entry = _entry(f"{server.url}/toy.bin", data)
    target = st.home / entry.relpath
    toy.cut = 1_200_000
    with pytest.raises(AssetError, match="bytes are kept in .*next attempt continues"):
        resolve_file(entry, settings=st, progress=False, resume=True)
    kept = partial_path(target).stat().st_size
    assert 0 < kept <= 1_200_000 and not target.exists()
    got = resolve_file(entry, settings=st, progress=False, resume=True)
    assert got == target and got.read_bytes() == data
    assert server.requests == ["/toy.bin", "/toy.bin"] and toy.ranges == [None, f"bytes={kept}-"]
    assert not partial_path(target).exists()


def test_server_ignoring_range_restarts_from_zero(tmp_path: Path, server: LocalServer) -> None:
    data = _payload(500_000, seed=1)
    toy = server.serve("toy.bin", RangedFile(data))
    toy.ignore_range = True
    st = _settings(tmp_path)
    entry = _entry(f"{server.url}/toy.bin", data)
    target = st.home / entry.relpath
    target.parent.mkdir(parents=True)
    partial_path(target).write_bytes(data[:1000])  # left by an earlier attempt
    assert resolve_file(entry, settings=st, progress=False, resume=True).read_bytes() == data
    assert server.requests == ["/toy.bin"] and toy.ranges == ["bytes=1000-"]


def test_complete_part_with_wrong_hash_is_removed(tmp_path: Path, server: LocalServer) -> None:
    data = _payload(10_000, seed=2)
    server.serve("toy.bin", RangedFile(b"x" * len(data)))  # right size, wrong bytes
    st = _settings(tmp_path)
    entry = _entry(f"{server.url}/toy.bin", data)
    with pytest.raises(AssetError, match="sha256 mismatch"):
        resolve_file(entry, settings=st, progress=False, resume=True)
    assert not partial_path(st.home / entry.relpath).exists()
    assert not (st.home / entry.relpath).exists()


def test_part_holding_the_whole_file_is_finished_after_a_416(tmp_path: Path,
                                                            server: LocalServer) -> None:
    data = _payload(20_000, seed=3)
    toy = server.serve("toy.bin", RangedFile(data))
    st = _settings(tmp_path)
    entry = _entry(f"{server.url}/toy.bin", data, known=False)  # size unknown: must ask
    target = st.home / entry.relpath
    target.parent.mkdir(parents=True)
    partial_path(target).write_bytes(data)
    with pytest.warns(UnverifiedAssetWarning):
        assert resolve_file(entry, settings=st, progress=False, resume=True).read_bytes() == data
    assert server.requests == ["/toy.bin"] and toy.ranges == [f"bytes={len(data)}-"]


# ------------------------------------------------------------------- sets and unpacking

PNG = _payload(3000, seed=4)  # unpacking copies bytes; they need not decode


def _zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _tar_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _toy_set(url: str | None, data: bytes, relname: str, *, sha: bool = True) -> TrainingSet:
    entry = AssetFile("toy-set", f"training/archives/{relname}", len(data),
                      hashlib.sha256(data).hexdigest() if sha else None, url, "toy")
    return TrainingSet("toy-set", "toy", 2, "training/toy_HR", entry, members="Toy/Toy_HR")


def test_fetch_downloads_unpacks_the_hr_images_only_and_then_hits_the_cache(
        tmp_path: Path, server: LocalServer) -> None:
    archive = _zip_bytes({"Toy/Toy_HR/0001.png": PNG, "Toy/Toy_HR/sub/0002.png": PNG[::-1],
                          "Toy/Toy_LR/0001x4.png": PNG, "Toy/readme.txt": b"hello"})
    server.serve("toy.zip", RangedFile(archive))
    tset = _toy_set(f"{server.url}/toy.zip", archive, "toy.zip")
    st = _settings(tmp_path)
    folder = fetch_training_set(tset, settings=st, progress=False)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == [MARKER, "0001.png", "sub/0002.png"]
    assert (folder / "sub" / "0002.png").read_bytes() == PNG[::-1]
    assert fetch_training_set(tset, settings=st, progress=False) == folder
    assert len(server.requests) == 1  # the second call used the unpacked folder


def test_tar_from_a_mirror_offline_with_trust_on_first_use(tmp_path: Path) -> None:
    archive = _tar_bytes({"Toy/Toy_HR/a.png": PNG, "Toy/Toy_HR/b.png": PNG, "Toy/x.txt": b"-"})
    mirror = tmp_path / "mirror"
    (mirror / "training" / "archives").mkdir(parents=True)
    (mirror / "training" / "archives" / "toy.tar").write_bytes(archive)
    tset = _toy_set("http://unused.invalid/toy.tar", archive, "toy.tar", sha=False)
    st = _settings(tmp_path, mirror, offline=True)
    with pytest.warns(UnverifiedAssetWarning, match="recorded sha256"):
        folder = fetch_training_set(tset, settings=st, progress=False, remove_archive=True)
    assert sorted(p.name for p in folder.glob("*.png")) == ["a.png", "b.png"]
    assert not (st.home / "training" / "archives" / "toy.tar").exists()  # removed as asked
    assert hashlib.sha256(archive).hexdigest() in (folder / MARKER).read_text()


def test_unpack_refuses_members_that_escape_and_leaves_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(_zip_bytes({"HR/ok.png": PNG, "HR/../../evil.png": PNG}))
    with pytest.raises(AssetError, match="outside the target folder"):
        unpack_images(bad, tmp_path / "out", members="HR", progress=False)
    assert not (tmp_path / "out").exists() and not (tmp_path / ".out.unpacking").exists()
    assert not (tmp_path.parent / "evil.png").exists()


def _fake_bsdtar(folder: Path, script: str) -> Path:
    """A ``bsdtar`` on PATH that runs ``script`` with bsdtar's arguments (-xf ARCHIVE -C DEST)."""
    folder.mkdir()
    tool = folder / "bsdtar"
    tool.write_text(f"#!/bin/sh\n{script}\n")
    tool.chmod(0o755)
    return folder


def test_rar_goes_through_the_first_tool_found(tmp_path: Path, monkeypatch) -> None:
    """The RAR path end to end with a stand-in bsdtar that unpacks a tar named .rar."""
    rar = tmp_path / "wed.rar"
    rar.write_bytes(_tar_bytes({"db/pristine_images/00001.bmp": PNG, "db/readme.txt": b"-",
                                "db/pristine_images/sub/00002.bmp": PNG[::-1]}))
    tools = _fake_bsdtar(tmp_path / "bin", 'exec tar -xf "$2" -C "$4"')
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    count = unpack_images(rar, tmp_path / "WED", members="db/pristine_images", progress=False)
    files = sorted(p.relative_to(tmp_path / "WED").as_posix()
                   for p in (tmp_path / "WED").rglob("*") if p.is_file())
    assert count == 2 and files == ["00001.bmp", "sub/00002.bmp"]
    assert (tmp_path / "WED" / "sub" / "00002.bmp").read_bytes() == PNG[::-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["WED", "bin", "wed.rar"]  # no leftovers


def test_a_failing_rar_tool_is_reported_with_its_output(tmp_path: Path, monkeypatch) -> None:
    rar = tmp_path / "x.rar"
    rar.write_bytes(b"Rar!\x1a\x07\x00")
    tools = _fake_bsdtar(tmp_path / "bin", 'echo "x.rar: Unrecognized archive format" >&2; exit 1')
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(AssetError, match=r"x.rar: bsdtar failed \(exit 1\): x.rar: Unrecognized"):
        unpack_images(rar, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() and not (tmp_path / ".out.unpacking").exists()


def test_rar_without_a_tool_says_what_to_install(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no bsdtar/7z/unrar/unar
    rar = tmp_path / "x.rar"
    rar.write_bytes(b"Rar!\x1a\x07\x00")
    with pytest.raises(AssetError, match="RAR archive and none of bsdtar, 7z, unrar, unar"):
        unpack_images(rar, tmp_path / "out", progress=False)


# ------------------------------------------------------------------- FFHQ by hand

def test_ffhq_subset_is_the_first_two_thousand_images() -> None:
    tset = TRAINING_SETS["ffhq-2000"]
    assert tset.archive is None and tset.faces and tset.images == 2000
    assert FFHQ_SUBSET[0] == "00000/00000.png" and FFHQ_SUBSET[999] == "00000/00999.png"
    assert FFHQ_SUBSET[1000] == "01000/01000.png" and FFHQ_SUBSET[-1] == "01000/01999.png"
    assert len(set(FFHQ_SUBSET)) == 2000


def test_manual_set_explains_what_to_download_then_accepts_a_folder(tmp_path: Path) -> None:
    tset = TrainingSet("faces-toy", "toy", 3, "training/faces-toy", None, faces=True,
                       homepage="https://example.org", manual="Download the three faces",
                       expected=("00000/00000.png", "00000/00001.png", "01000/01000.png"))
    st = _settings(tmp_path, offline=True)
    with pytest.raises(AssetError) as info:
        fetch_training_set(tset, settings=st, progress=False)
    msg = str(info.value)
    assert "Download the three faces" in msg and str(st.home / "training" / "faces-toy") in msg
    assert "--path" in msg

    mine = tmp_path / "ffhq" / "images1024x1024"
    for i, rel in enumerate(tset.expected[:2]):
        (mine / rel).parent.mkdir(parents=True, exist_ok=True)
        (mine / rel).write_bytes(_payload(100, seed=i))
    with pytest.raises(AssetError, match="1 of its 3 images are not in"):
        fetch_training_set(tset, path=mine.parent, settings=st)
    (mine / tset.expected[2]).parent.mkdir(parents=True)
    (mine / tset.expected[2]).write_bytes(_payload(100, seed=9))
    with pytest.warns(UnverifiedAssetWarning, match="trust on first use"):
        assert fetch_training_set(tset, path=mine.parent, settings=st) == mine
    assert fetch_training_set(tset, path=mine, settings=st) == mine  # record matches
    (mine / tset.expected[0]).write_bytes(b"changed")
    with pytest.raises(AssetError, match="differ from the sha256 recorded"):
        fetch_training_set(tset, path=mine, settings=st)
    # put into the cache by hand, in FFHQ's release layout: `fetch --list` shows it as cached
    cached = st.home / "training" / "faces-toy"
    assert not is_unpacked(tset, st)
    shutil.copytree(mine, cached / "images1024x1024")
    (cached / "images1024x1024" / tset.expected[0]).write_bytes(_payload(100, seed=0))
    assert is_unpacked(tset, st)
    assert fetch_training_set(tset, settings=st) == cached / "images1024x1024"
    (cached / "images1024x1024" / tset.expected[1]).unlink()
    assert not is_unpacked(tset, st)


def test_cli_lists_the_training_sets_with_urls_and_sizes(tmp_path: Path, monkeypatch,
                                                          capsys) -> None:
    monkeypatch.setenv("BSRGAN_HOME", str(tmp_path / "home"))
    assert main(["fetch", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("div2k-train-hr", "div2k-valid-hr", "flickr2k", "wed", "ffhq-2000"):
        assert name in out
    assert "https://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_train_HR.zip" in out
    assert "3.5 GB" in out and "449.0 MB" in out
    assert main(["fetch", "ffhq-2000"]) == 1
    err = capsys.readouterr().err
    assert "Google Drive" in err and "images1024x1024" in err
