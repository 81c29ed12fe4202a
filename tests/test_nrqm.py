"""Our torch NRQM against pyiqa's (the reference), with a synthetic model in NRQM_model.mat's layout.

pyiqa's NRQM takes ~1 s for a 160 x 192 crop on one core, so the end-to-end comparison uses
three crops of published SR outputs from the offline mirror, scored once per module by pyiqa
(features captured on the way into its forests). The building blocks (shape lookup, float32
resize, pyramids, forests) are compared with pyiqa's functions directly, mostly bit for bit.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from nrqm_fixture import (
    pyiqa_nrqm_with_features,
    synthetic_forest,
    synthetic_model_for,
    write_model,
)

from bsrgan.metrics import MetricUnavailable, create, perceptual_index
from bsrgan.metrics.nrqm import (
    MIN_SIZE,
    NrqmScorer,
    load_nrqm_model,
    nrqm_features,
    pack_forest,
    predict,
    size_problem,
)
from bsrgan.metrics.nrqm.ggd import ggd_shape, ggd_shape_index, shape_grid, variation_ratio
from bsrgan.metrics.nrqm.pyramid import gaussian_pyramid, steerable_bands
from bsrgan.metrics.nrqm.resize import imresize_f32
from bsrgan.metrics.protocols import get_protocol, luma_for_protocol

nrqm_arch = pytest.importorskip("pyiqa.archs.nrqm_arch")

# (published output, top, left, height, width): RGB crops; NRQM sees them shaved by 4 px (PIRM)
CROPS = (
    ("bsrgan/chip_BSRGAN.png", 100, 150, 168, 200),
    ("esrgan/building_ESRGAN.png", 200, 40, 168, 168),
    ("realsr_jpeg/comic1_RealSR_JPEG.png", 50, 300, 155, 179),  # odd sizes
)
FEATURE_RTOL = 1e-6
SCORE_ATOL = 1e-4


# --- fixtures -----------------------------------------------------------------------------------

@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Both NRQMs are many small tensor ops, which two intra-op threads slow down on a busy
    machine: this module took ~175 s wall with torch's default 2 threads and 42 s with one on
    the shared 2-core project machine (load ~10). Ours and pyiqa's run with the same setting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def crops(shared_assets: Path) -> dict[str, np.ndarray]:
    """RGB float32 crops of published SR outputs (the mirror's BSRGAN / ESRGAN / RealSR-JPEG)."""
    from bsrgan.io import imread

    out = {}
    for rel, top, left, height, width in CROPS:
        img = imread(shared_assets / "realsrset-published" / rel)
        out[Path(rel).stem] = np.ascontiguousarray(img[top : top + height, left : left + width])
    return out


@pytest.fixture(scope="module")
def lumas(crops: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """PIRM luma planes (Y of the uint8 image, 0-255, shaved 4 px) of the crops."""
    pirm = get_protocol("pirm")
    return {name: luma_for_protocol(rgb, pirm) for name, rgb in crops.items()}


@pytest.fixture(scope="module")
def model_path(lumas: dict[str, np.ndarray], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic NRQM_model.mat whose trees split between the crops' features."""
    path = tmp_path_factory.mktemp("nrqm") / "NRQM_model.mat"
    return synthetic_model_for(list(lumas.values()), path, np.random.default_rng(2017))


@pytest.fixture(scope="module")
def pyiqa_reference(lumas: dict[str, np.ndarray], model_path: Path) -> dict[str, dict]:
    """pyiqa's NRQM of each crop's luma with the synthetic model, and the features it computed."""
    pyiqa_nrqm = pyiqa_nrqm_with_features(model_path)
    out = {}
    for name, luma in lumas.items():
        score, features = pyiqa_nrqm(luma)
        out[name] = {"score": score, "features": features}
    return out


# --- building blocks against pyiqa --------------------------------------------------------------

def test_shape_lookup_equals_brute_force_argmin() -> None:
    _, ratio = shape_grid()
    mids = (ratio[1:] + ratio[:-1]) / 2  # computed midpoints: ties or within an ulp of one
    rho = torch.cat([ratio[::7], mids[::7], ratio[:40], mids[:40], ratio[-40:], mids[-40:],
                     torch.tensor([0.0, -1.0, 1e12, float("nan"), float("inf")], dtype=torch.float64)])
    brute = (rho[:, None] - ratio[None, :]).abs().argmin(dim=-1)
    assert torch.equal(ggd_shape_index(rho), brute)


def test_shape_and_variation_equal_pyiqa() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3000, 48, generator=gen, dtype=torch.float64)
    x = x * torch.rand(3000, 1, generator=gen, dtype=torch.float64) ** 3
    x[:40] = x[:40].sign() * x[:40].abs() ** 3  # heavy tails
    x[40:50] = 0.0  # flat blocks
    x[50:60, 1:] = 0.0  # one non-zero coefficient
    assert torch.equal(ggd_shape(x), nrqm_arch.gamma_gen_gauss(x))
    assert torch.equal(variation_ratio(x), nrqm_arch.get_var_gen_gauss(x))


@pytest.mark.parametrize(("size", "out"), [
    ((64, 80), (128, 160)),  # the parent bands: x2
    ((33, 47), (65, 93)),  # odd sizes: scale just below 2
    ((50, 51), (50, 51)),  # same size: only the float32 round trip
    ((95, 40), (48, 20)),  # shrinking (antialiased)
    ((40, 40), (40, 81)),  # one axis only
])
def test_float32_resize_is_bit_equal_to_pyiqa(size: tuple[int, int], out: tuple[int, int]) -> None:
    from pyiqa.matlab_utils import imresize

    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, *size, generator=gen, dtype=torch.float64) * 40
    ours = imresize_f32(x, out)
    assert ours.dtype == torch.float64 and ours.shape == (2, *out)
    assert torch.equal(ours, imresize(x[:, None], sizes=out)[:, 0])


@pytest.mark.parametrize(("height", "width"), [(64, 80), (67, 53)])
def test_pyramids_are_bit_equal_to_pyiqa(height: int, width: int) -> None:
    from pyiqa.matlab_utils import SCFpyr_PyTorch

    gen = torch.Generator().manual_seed(2)
    x = torch.rand(2, 1, height, width, generator=gen, dtype=torch.float64) * 255
    theirs = SCFpyr_PyTorch(height=2, nbands=6).build(x)
    highpass, bands = steerable_bands(x[:, 0])
    assert torch.equal(highpass, theirs[0])
    for scale in range(2):
        assert torch.equal(bands[scale], torch.stack([b[..., 0] for b in theirs[scale + 1]], dim=1))
    for ours, ref in zip(gaussian_pyramid(x / 255), nrqm_arch.get_gauss_pyramid(x / 255)):
        assert torch.equal(ours, ref)


def test_dct_features_equal_pyiqa_on_flat_regions(shared_assets: Path) -> None:
    """Screenshots have many flat blocks, where two DCT statistics magnify round-off: same DCT."""
    from bsrgan.io import imread
    from bsrgan.metrics.nrqm.dct_features import dct_features

    rgb = imread(shared_assets / "realsrset-published" / "bsrgan" / "ppt3_BSRGAN.png")[300:460, 200:392]
    luma = torch.from_numpy(luma_for_protocol(rgb, get_protocol("pirm")))[None, None]
    for level in gaussian_pyramid(luma / 255):
        theirs = nrqm_arch.block_dct(level)
        np.testing.assert_allclose(dct_features(level).numpy(), theirs.numpy(), rtol=1e-13, atol=0)


# --- forests ------------------------------------------------------------------------------------

def _plain_forest(features: np.ndarray, fields: dict[str, np.ndarray]) -> np.ndarray:
    """Reference: walk each tree of each sample on its own (randomforest's regression rule)."""
    out = np.zeros(len(features))
    n_trees = fields["lDau"].shape[1]
    for i, feat in enumerate(features):
        total = 0.0
        for t in range(n_trees):
            node = 0
            while True:
                attr = int(fields["mbest"][node, t]) - 1
                go_left = feat[attr] <= fields["upper"][node, t]
                child = int(fields["lDau"][node, t] if go_left else fields["rDau"][node, t])
                if child == 0:
                    break
                node = child - 1
            total += fields["avnode"][node, t]
        out[i] = total / n_trees
    return out


def _pyiqa_forest(features: np.ndarray, fields: dict[str, np.ndarray]) -> np.ndarray:
    params = [fields[k] for k in ("lDau", "rDau", "upper", "avnode", "mbest")]
    return nrqm_arch.random_forest_regression(torch.from_numpy(features), *params).numpy()[:, 0]


def _pack(fields: dict[str, np.ndarray], n_features: int):
    return pack_forest(fields["lDau"], fields["rDau"], fields["mbest"], fields["upper"],
                       fields["avnode"], n_features)


def test_vectorised_forest_equals_per_tree_walks() -> None:
    rng = np.random.default_rng(3)
    samples = rng.normal(size=(60, 18)) * rng.uniform(0.1, 5, size=18)
    fields = synthetic_forest(rng, samples, n_trees=40, max_depth=12)
    forest = _pack(fields, 18)
    assert forest.n_trees == 40 and 2 < forest.steps <= 13
    queries = np.concatenate([samples, rng.normal(size=(30, 18)) * 3])
    used = fields["mbest"] > 0  # features exactly at a threshold go left
    for i, (node, tree) in enumerate(zip(*np.nonzero(used))):
        if i < 20:
            queries[i, fields["mbest"][node, tree] - 1] = fields["upper"][node, tree]
    queries[-3:, :5] = np.nan  # NaN compares false: right
    ours = predict(forest, torch.from_numpy(queries)).numpy()
    np.testing.assert_array_equal(ours, _pyiqa_forest(queries, fields))  # same leaves, same mean
    np.testing.assert_allclose(ours, _plain_forest(queries, fields), rtol=1e-13)  # summation order
    assert np.unique(ours).size > 30  # the queries really take different paths


def test_forest_with_a_cycle_ends_where_pyiqa_does() -> None:
    # node 1 -> 2 -> 3 -> 2 ... on the left; a malformed table, only to pin the loop bound
    fields = {"lDau": np.array([[2], [3], [2]]), "rDau": np.array([[0], [0], [0]]),
              "mbest": np.array([[1], [1], [1]]), "upper": np.array([[5.0], [5.0], [5.0]]),
              "avnode": np.array([[1.0], [2.0], [3.0]])}
    feats = np.array([[0.0], [9.0]])
    ours = predict(_pack(fields, 1), torch.from_numpy(feats)).numpy()
    np.testing.assert_array_equal(ours, _pyiqa_forest(feats, fields))


def test_forest_rejects_bad_tables() -> None:
    good = synthetic_forest(np.random.default_rng(4), np.random.default_rng(5).normal(size=(10, 4)),
                            n_trees=3)
    bad_child = dict(good, lDau=good["lDau"] + 100)
    with pytest.raises(ValueError, match="lDau holds node numbers outside"):
        _pack(bad_child, 4)
    with pytest.raises(ValueError, match="mbest holds feature numbers outside"):
        _pack(good, 2)
    with pytest.raises(ValueError, match="upper has shape"):
        _pack(dict(good, upper=good["upper"][:-1]), 4)
    with pytest.raises(ValueError, match=r"features of shape \(B, 4\)"):
        predict(_pack(good, 4), torch.zeros(2, 5, dtype=torch.float64))


# --- model file ---------------------------------------------------------------------------------

def test_model_file_layout_loads_like_pyiqa_and_is_hashed(model_path: Path) -> None:
    model = load_nrqm_model(model_path)
    assert model.sha256 == hashlib.sha256(model_path.read_bytes()).hexdigest()
    net = nrqm_arch.NRQM(test_y_channel=False, pretrained_model_path=str(model_path))
    np.testing.assert_array_equal(model.linear.numpy(), net.linear_param.ravel())
    for forest, params in zip(model.forests, net.rf_params_list):
        left, right, threshold, value, attribute = params
        np.testing.assert_array_equal(forest.left.numpy(), left)
        np.testing.assert_array_equal(forest.right.numpy(), right)
        np.testing.assert_array_equal(forest.threshold.numpy(), threshold)
        np.testing.assert_array_equal(forest.value.numpy(), value)
        np.testing.assert_array_equal(forest.attribute.numpy(), attribute)
    assert [f.n_features for f in model.forests] == [18, 45, 75]


def test_bad_model_files_are_named_in_the_error(tmp_path: Path, model_path: Path) -> None:
    junk = tmp_path / "junk.mat"
    junk.write_bytes(b"not a mat file")
    with pytest.raises(ValueError, match="junk.mat: not a readable MATLAB"):
        load_nrqm_model(junk)
    rng = np.random.default_rng(6)
    forests = [synthetic_forest(rng, rng.normal(size=(8, n))) for n in (18, 45, 75)]
    short = write_model(tmp_path / "short.mat", forests, np.ones(3))
    with pytest.raises(ValueError, match="short.mat: model.linear must hold 4 numbers"):
        load_nrqm_model(short)
    wide = write_model(tmp_path / "wide.mat", [forests[1]] * 3, np.ones(4))  # 45 features in forest 1
    with pytest.raises(ValueError, match="wide.mat: dct forest: mbest holds feature numbers"):
        load_nrqm_model(wide)
    with pytest.warns(UserWarning), pytest.raises(MetricUnavailable, match="junk.mat"):
        create("nrqm", model_path=junk)


# --- NRQM and PI end to end ---------------------------------------------------------------------

def test_features_equal_pyiqa_on_sr_outputs(lumas: dict, pyiqa_reference: dict) -> None:
    for name, luma in lumas.items():
        ours = nrqm_features(torch.from_numpy(luma)).groups()
        for group, theirs in zip(ours, pyiqa_reference[name]["features"]):
            np.testing.assert_allclose(group.numpy(), theirs, rtol=FEATURE_RTOL, atol=0, err_msg=name)


def test_nrqm_equals_pyiqa_end_to_end(crops: dict, model_path: Path, pyiqa_reference: dict) -> None:
    with pytest.warns(UserWarning):  # the explicit file cannot be verified (no published sha256)
        metric = create("nrqm", model_path=model_path, device="cpu")
    assert metric.settings["backend"] == "torch"
    assert metric.model_sha256 == hashlib.sha256(model_path.read_bytes()).hexdigest()
    scores = {name: metric(rgb) for name, rgb in crops.items()}
    for name, score in scores.items():
        assert score == pytest.approx(pyiqa_reference[name]["score"], abs=SCORE_ATOL), name
    values = sorted(scores.values())
    assert min(np.diff(values)) > 0.05  # the synthetic forests tell the crops apart
    clone = pickle.loads(pickle.dumps(metric))  # evaluation ships metrics to worker processes
    name = next(iter(crops))
    assert clone(crops[name]) == scores[name]


def test_pi_with_our_nrqm_equals_pi_with_pyiqas(crops: dict, model_path: Path, asset_env: Path) -> None:
    rgb = crops["chip_BSRGAN"]  # 160 x 192 after the shave: two NIQE blocks
    with pytest.warns(UserWarning):  # the explicit file cannot be verified (no published sha256)
        ours = create("pi", nrqm_model_path=model_path)
    with pytest.warns(UserWarning):
        theirs = create("pi", nrqm_model_path=model_path, nrqm_backend="pyiqa")
    parts, ref = ours.components(rgb), theirs.components(rgb)
    assert parts["pi"] == pytest.approx(ref["pi"], abs=SCORE_ATOL)
    assert parts["niqe"] == ref["niqe"]
    assert parts["pi"] == perceptual_index(parts["niqe"], parts["nrqm"])
    assert ours(rgb) == parts["pi"] and ours.model_sha256 == theirs.model_sha256


def test_batches_equal_single_images(lumas: dict, model_path: Path) -> None:
    scorer = NrqmScorer(model_path, device="cpu")
    luma = lumas["building_ESRGAN"]
    pair = np.stack([luma, luma[::-1, ::-1]])
    batch = scorer.scores(pair)
    assert batch.shape == (2,)
    assert batch[0].item() == pytest.approx(scorer(pair[0]), abs=1e-12)
    assert batch[1].item() == pytest.approx(scorer(pair[1].copy()), abs=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_gpu_equals_cpu(lumas: dict, model_path: Path) -> None:
    luma = lumas["chip_BSRGAN"]
    cpu = NrqmScorer(model_path, device="cpu")
    gpu = NrqmScorer(model_path, device="cuda")
    for a, b in zip(cpu.features(luma).groups(), gpu.features(luma).groups()):
        np.testing.assert_allclose(b.cpu().numpy(), a.numpy(), rtol=FEATURE_RTOL)
    assert gpu(luma) == pytest.approx(cpu(luma), abs=SCORE_ATOL)


# --- errors -------------------------------------------------------------------------------------

def test_nrqm_input_errors(model_path: Path, tmp_path: Path) -> None:
    with pytest.warns(UserWarning):
        metric = create("nrqm", model_path=model_path, protocol="pirm", device="cpu")
    small = MIN_SIZE + 8 - 1  # one row short after the 4-px shave
    with pytest.raises(ValueError, match=rf"NRQM needs at least {MIN_SIZE}x{MIN_SIZE} pixels, got "
                                         rf"{small - 8}x192 \(.* shaving 4 px .* {small}x200 px"):
        metric(np.zeros((small, 200, 3), np.float32))
    rng = np.random.default_rng(7)
    for height, width in ((MIN_SIZE, 400), (84, 84)):  # smallest accepted sizes after the shave
        assert np.isfinite(metric(rng.random((height + 8, width + 8, 3)).astype(np.float32)))
    # 83 x 83: 16 blocks of 5 x 5 in the smallest pyramid level, not the 25 the SVD features take
    # (it used to fail deep in the forest: "expected features of shape (B, 75), got (1, 66)")
    import cv2

    too_few_blocks = tmp_path / "too_few_blocks.png"  # the message names the image file
    cv2.imwrite(str(too_few_blocks), (rng.random((83 + 8, 83 + 8, 3)) * 255).astype(np.uint8))
    with pytest.raises(ValueError, match=r"too_few_blocks.png: NRQM needs 25 blocks .* a 83x83 "
                                         r"image has 16 there"):
        metric(too_few_blocks)
    assert size_problem(60, 163) and not size_problem(60, 164)  # 24 and 27 blocks
    flat = tmp_path / "flat.png"
    cv2.imwrite(str(flat), np.full((100, 100, 3), 120, np.uint8))
    with pytest.raises(ValueError, match="flat.png: NRQM is undefined"):
        metric(flat)
    # constant at other sizes and values: the inverse of the covariance happened to succeed and
    # gave a finite score made of round-off (6.30 with this model)
    with pytest.raises(torch.linalg.LinAlgError, match="undefined for a constant image"):
        NrqmScorer(model_path, device="cpu")(np.full((120, 200), 120.0))
    with pytest.raises(ValueError, match="NRQM expects a luma image"):
        nrqm_features(torch.zeros(2, 3, 64, 64, dtype=torch.float64))
    with pytest.raises(ValueError, match="unknown NRQM backend"):
        create("nrqm", model_path=model_path, backend="matlab")
    with pytest.raises(ValueError, match="CPU only"):
        create("nrqm", model_path=model_path, backend="pyiqa", device="cuda")
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        NrqmScorer(model_path, device="gpu")(np.ones((100, 100)))
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="'cuda' requested but CUDA is not available"):
            NrqmScorer(model_path, device="cuda")(np.ones((100, 100)))
