"""BSRGAN / BSRGAN+ pipelines: shapes, determinism, replay, JSON traces, alignment, op frequencies.

Frequencies are checked on sampled plans only (no images), against the release's probabilities
with a 4-sigma binomial tolerance.
"""

from __future__ import annotations

import json
from collections import Counter

import cv2
import numpy as np
import pytest

from bsrgan.degradation import (
    OPS,
    degrade_bsrgan,
    degrade_bsrgan_plus,
    plan_bsrgan,
    plan_bsrgan_plus,
    replay,
)

NOISY_OPS = {"gaussian_noise", "speckle_noise", "poisson_noise", "jpeg", "camera_noise"}


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A 323x338 crop of a real photo (odd sizes exercise the mod-crop), float32 RGB [0, 1]."""
    from bsrgan.data import embedded_hr_images

    img = embedded_hr_images(["astronaut"])["astronaut"]
    return np.ascontiguousarray(img[40:363, 100:438])


def assert_binomial(count: int, n: int, p: float, what: str) -> None:
    sigma = np.sqrt(n * p * (1 - p))
    assert abs(count - n * p) <= 4 * sigma + 1e-9, f"{what}: {count}/{n}, expected p={p}"


def ops(trace: list[dict]) -> list[str]:
    return [entry["op"] for entry in trace]


# --------------------------------------------------------------------------- shapes / range
@pytest.mark.parametrize("sf, patch", [(4, 72), (2, 48), (3, 40)])
def test_bsrgan_shapes_and_range(photo: np.ndarray, sf: int, patch: int) -> None:
    for seed in range(3):
        lq, hq, trace = degrade_bsrgan(
            photo, sf=sf, lq_patchsize=patch, rng=np.random.default_rng(seed), isp=False
        )
        assert lq.shape == (patch, patch, 3) and hq.shape == (patch * sf, patch * sf, 3)
        assert lq.dtype == hq.dtype == np.float32
        assert 0.0 <= lq.min() and lq.max() <= 1.0 and 0.0 <= hq.min() and hq.max() <= 1.0
        assert ops(trace)[0] == "modcrop" and ops(trace)[-2:] == ["jpeg", "crop"]


@pytest.mark.parametrize("use_sharp", [False, True])
def test_bsrgan_plus_shapes_and_range(photo: np.ndarray, use_sharp: bool) -> None:
    for seed in range(3):
        lq, hq, trace = degrade_bsrgan_plus(
            photo,
            sf=4,
            lq_patchsize=64,
            shuffle_prob=0.5,
            use_sharp=use_sharp,
            rng=np.random.default_rng(seed),
            isp=False,
        )
        assert lq.shape == (64, 64, 3) and hq.shape == (256, 256, 3)
        assert lq.dtype == hq.dtype == np.float32
        assert 0.0 <= lq.min() and lq.max() <= 1.0
        assert ("sharpen" in ops(trace)) == use_sharp
        assert ops(trace)[-3:] == ["resize_final", "jpeg", "crop"]


def test_hq_is_the_aligned_crop_of_the_input(photo: np.ndarray) -> None:
    """Without sharpening or camera noise hq is untouched HR, cut at sf x the LQ offset."""
    for seed in range(4):
        _, hq, trace = degrade_bsrgan(photo, rng=np.random.default_rng(seed), isp=False)
        crop = trace[-1]["params"]
        t, l = 4 * crop["top"], 4 * crop["left"]
        np.testing.assert_array_equal(hq, photo[t : t + 288, l : l + 288])
        assert (
            0 <= crop["top"] <= 80 - 72 and 0 <= crop["left"] <= 84 - 72
        )  # 320x336 after mod-crop


# --------------------------------------------------------------------------- determinism / replay
@pytest.mark.parametrize("degrade", [degrade_bsrgan, degrade_bsrgan_plus])
def test_same_seed_same_pair_and_replay_reproduces(photo: np.ndarray, degrade) -> None:
    for seed in range(4):
        lq, hq, trace = degrade(photo, rng=np.random.default_rng(seed), isp=False)
        lq2, hq2, trace2 = degrade(photo, rng=np.random.default_rng(seed), isp=False)
        assert trace == trace2
        np.testing.assert_array_equal(lq, lq2)
        np.testing.assert_array_equal(hq, hq2)
        rlq, rhq = replay(photo, trace)
        np.testing.assert_array_equal(lq, rlq)
        np.testing.assert_array_equal(hq, rhq)
    lq_a, _, _ = degrade(photo, rng=np.random.default_rng(100), isp=False)
    lq_b, _, _ = degrade(photo, rng=np.random.default_rng(101), isp=False)
    assert not np.array_equal(lq_a, lq_b)


@pytest.mark.parametrize("degrade", [degrade_bsrgan, degrade_bsrgan_plus])
def test_json_trace_round_trips_through_replay(photo: np.ndarray, degrade, tmp_path) -> None:
    for seed in range(6):
        lq, hq, trace = degrade(photo, rng=np.random.default_rng(seed), isp=False)
        path = tmp_path / f"trace_{seed}.json"
        path.write_text(json.dumps(trace))  # plain json: no numpy types anywhere
        loaded = json.loads(path.read_text())
        assert loaded == trace
        rlq, rhq = replay(photo, loaded)
        np.testing.assert_array_equal(lq, rlq)
        np.testing.assert_array_equal(hq, rhq)


def test_pairs_do_not_depend_on_the_opencv_thread_count(photo: np.ndarray) -> None:
    """Replays must match on other machines: OpenCV's threading may not change a single bit."""
    before = cv2.getNumThreads()
    try:
        pairs = {}
        for threads in (1, 2):
            cv2.setNumThreads(threads)
            pairs[threads] = [
                degrade(photo, rng=np.random.default_rng(seed), isp=False)[:2]
                for seed in range(3)
                for degrade in (degrade_bsrgan, degrade_bsrgan_plus)
            ]
    finally:
        cv2.setNumThreads(before)
    for (lq1, hq1), (lq2, hq2) in zip(pairs[1], pairs[2], strict=True):
        np.testing.assert_array_equal(lq1, lq2)
        np.testing.assert_array_equal(hq1, hq2)


def test_non_contiguous_and_float64_inputs(photo: np.ndarray) -> None:
    rng_seed = 5
    ref = degrade_bsrgan(photo, rng=np.random.default_rng(rng_seed), isp=False)[:2]
    out = degrade_bsrgan(photo.astype(np.float64), rng=np.random.default_rng(rng_seed), isp=False)
    np.testing.assert_array_equal(ref[0], out[0])
    flipped = photo[:, ::-1]
    lq, _, trace = degrade_bsrgan(flipped, rng=np.random.default_rng(rng_seed), isp=False)
    np.testing.assert_array_equal(replay(np.ascontiguousarray(flipped), trace)[0], lq)


def test_degradation_does_not_modify_the_input(photo: np.ndarray) -> None:
    before = photo.copy()
    degrade_bsrgan_plus(photo, use_sharp=True, rng=np.random.default_rng(0), isp=False)
    degrade_bsrgan(photo, rng=np.random.default_rng(0), isp=False)
    np.testing.assert_array_equal(photo, before)


@pytest.mark.parametrize(
    "plan, degrade", [(plan_bsrgan, degrade_bsrgan), (plan_bsrgan_plus, degrade_bsrgan_plus)]
)
def test_camera_noise_is_traced_and_replayed(photo: np.ndarray, plan, degrade) -> None:
    seed = next(
        s for s in range(500) if "camera_noise" in ops(plan(np.random.default_rng(s), 323, 338))
    )
    lq, hq, trace = degrade(photo, rng=np.random.default_rng(seed))
    assert "camera_noise" in ops(trace)
    assert lq.dtype == hq.dtype == np.float32 and 0.0 <= lq.min() and lq.max() <= 1.0
    rlq, rhq = replay(photo, json.loads(json.dumps(trace)))
    np.testing.assert_array_equal(lq, rlq)
    np.testing.assert_array_equal(hq, rhq)


# --------------------------------------------------------------------------- alignment
def _correlation_peak(lq: np.ndarray, hq: np.ndarray, sf: int, radius: int = 3) -> tuple[int, int]:
    """Integer shift (dy, dx) of HQ that best matches the bicubic-upsampled LQ."""
    up = cv2.resize(lq, (lq.shape[1] * sf, lq.shape[0] * sf), interpolation=cv2.INTER_CUBIC)
    a = up.mean(axis=2)[radius + 8 : -radius - 8, radius + 8 : -radius - 8]
    a = (a - a.mean()) / a.std()
    best, best_shift = -np.inf, (0, 0)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            b = hq.mean(axis=2)[
                radius + 8 + dy : hq.shape[0] - radius - 8 + dy,
                radius + 8 + dx : hq.shape[1] - radius - 8 + dx,
            ]
            c = float(((b - b.mean()) / b.std() * a).mean())
            if c > best:
                best, best_shift = c, (dy, dx)
    return best_shift


def noise_free(trace: list[dict]) -> list[dict]:
    """Drop noise / JPEG ops, and blurs after the first down-sampling.

    A blur in LR space is up to 4x wider in HR pixels and flattens the correlation surface so
    much that its integer peak is no longer a reliable alignment estimate; HR-space blurs stay.
    """
    kept, downsampled = [], False
    for e in trace:
        downsampled |= e["op"].startswith(("downsample", "resize"))
        if e["op"] in NOISY_OPS or (e["op"] == "blur" and downsampled):
            continue
        kept.append(e)
    return kept


def test_lq_and_hq_are_aligned_on_noise_free_plans(photo: np.ndarray) -> None:
    """Every down-sampling path (halving, resize, shifted blur + nearest) keeps the HR grid."""
    seen = set()
    for seed in range(60):
        trace = noise_free(plan_bsrgan(np.random.default_rng(seed), *photo.shape[:2], isp=False))
        paths = frozenset(ops(trace)) & {
            "downsample1",
            "downsample2",
            "downsample2_shifted",
            "blur",
        }
        if paths in seen:
            continue
        seen.add(paths)
        lq, hq = replay(photo, trace)
        assert _correlation_peak(lq, hq, 4) == (0, 0), ops(trace)
    assert {"downsample1", "downsample2_shifted", "blur"} <= set().union(*seen)


def test_plus_lq_and_hq_are_aligned_on_noise_free_plans(photo: np.ndarray) -> None:
    for seed in range(6):
        trace = noise_free(
            plan_bsrgan_plus(np.random.default_rng(seed), *photo.shape[:2], isp=False)
        )
        lq, hq = replay(photo, trace)
        assert _correlation_peak(lq, hq, 4) == (0, 0), ops(trace)


# --------------------------------------------------------------------------- op frequencies
N_PLANS = 4000


@pytest.fixture(scope="module")
def bsrgan_plans() -> list[list[dict]]:
    rng = np.random.default_rng(1234)
    return [plan_bsrgan(rng, 320, 320, sf=4, lq_patchsize=72, isp=True) for _ in range(N_PLANS)]


def test_bsrgan_op_counts_and_probabilities(bsrgan_plans: list[list[dict]]) -> None:
    n = len(bsrgan_plans)
    counts = Counter(op for trace in bsrgan_plans for op in set(ops(trace)))
    for trace in bsrgan_plans:
        c = Counter(ops(trace))
        assert c["blur"] == 2 and c["gaussian_noise"] == 1 and c["downsample3"] == 1
        assert c["downsample2"] + c["downsample2_shifted"] == 1
        assert 1 <= c["jpeg"] <= 2 and c["camera_noise"] <= 1
    halved = [t for t in bsrgan_plans if "downsample1" in ops(t)]
    assert_binomial(len(halved), n, 0.25, "sf=4 halving")
    matlab = sum(t[1]["params"]["method"] == "matlab_bicubic" for t in halved)
    assert_binomial(matlab, len(halved), 0.5, "halving by MATLAB imresize")
    assert_binomial(counts["downsample2"], n, 0.75, "downsample-2 by resize")
    assert_binomial(
        sum(Counter(ops(t))["jpeg"] == 2 for t in bsrgan_plans), n, 0.9, "JPEG inside the shuffle"
    )
    assert_binomial(counts["camera_noise"], n, 0.25, "camera sensor noise")


def test_bsrgan_order_is_a_shuffle_with_downsample2_before_3(
    bsrgan_plans: list[list[dict]],
) -> None:
    n = len(bsrgan_plans)
    noise_first = noise_before_ds3 = blurs_before_ds2 = 0
    both_blurs_before_ds2 = 0
    for trace in bsrgan_plans:
        names = ops(trace)
        ds2 = next(i for i, o in enumerate(names) if o.startswith("downsample2"))
        ds3, noise = names.index("downsample3"), names.index("gaussian_noise")
        assert ds2 < ds3
        noise_first += noise < ds2
        noise_before_ds3 += noise < ds3
        n_hr_blurs = names[:ds2].count("blur")
        blurs_before_ds2 += n_hr_blurs >= 1
        both_blurs_before_ds2 += n_hr_blurs == 2
    # {noise, ds2, ds3} in random order with ds2/ds3 sorted:
    # noise is first w.p. 1/3 and before ds3 w.p. 2/3
    assert_binomial(noise_first, n, 1 / 3, "noise before downsample-2")
    assert_binomial(noise_before_ds3, n, 2 / 3, "noise before downsample-3")
    # {blur, blur, ds2, ds3}: a blur comes first w.p. 1/2, both blurs first w.p. 1/6
    assert_binomial(blurs_before_ds2, n, 1 / 2, "a blur in HR space")
    assert_binomial(both_blurs_before_ds2, n, 1 / 6, "both blurs in HR space")


def test_bsrgan_parameter_distributions(bsrgan_plans: list[list[dict]]) -> None:
    blurs = [e["params"] for t in bsrgan_plans for e in t if e["op"] == "blur"]
    assert_binomial(
        sum(b["kind"] == "anisotropic" for b in blurs), len(blurs), 0.5, "anisotropic blur"
    )
    noises = [e["params"] for t in bsrgan_plans for e in t if e["op"] == "gaussian_noise"]
    modes = Counter(p["mode"] for p in noises)
    assert_binomial(modes["color"], len(noises), 0.4, "colour noise")
    assert_binomial(modes["gray"], len(noises), 0.4, "gray noise")
    assert_binomial(modes["correlated"], len(noises), 0.2, "correlated noise")
    shifted = [e["params"] for t in bsrgan_plans for e in t if e["op"] == "downsample2_shifted"]
    sf_of = {True: 2, False: 4}
    for t in bsrgan_plans:
        sf = sf_of["downsample1" in ops(t)]
        for e in t:
            if e["op"] == "blur" and e["params"]["kind"] == "isotropic":
                assert e["params"]["sigma"] < 2 + 0.2 * sf
            if e["op"] == "downsample2_shifted":
                assert e["params"]["sf"] == sf and 0.1 <= e["params"]["sigma"] <= 0.6 * sf
            if e["op"] == "downsample2":  # 1 / U(1, 2 sf) of the current size
                size_before = 160 if sf == 2 else 320
                assert size_before / (2 * sf) - 1 <= e["params"]["height"] <= size_before
            if e["op"] == "downsample3":
                assert (e["params"]["height"], e["params"]["width"]) == (80, 80)
    assert shifted
    crops = [t[-1]["params"] for t in bsrgan_plans]
    assert {c["top"] for c in crops} == set(range(9)) and all(c["sf"] == 4 for c in crops)


def test_bsrgan_sf_other_than_4_never_halves() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        trace = plan_bsrgan(rng, 200, 200, sf=2, lq_patchsize=64, isp=False)
        assert "downsample1" not in ops(trace) and "camera_noise" not in ops(trace)


def test_bsrgan_plus_fixed_order_and_frequencies() -> None:
    rng = np.random.default_rng(99)
    n = 3000
    plans = [plan_bsrgan_plus(rng, 320, 320, shuffle_prob=0.0, isp=True) for _ in range(n)]
    resize_kind = Counter()
    counts = Counter()
    for trace in plans:
        names = ops(trace)
        counts.update(names)
        core = names[1:-3]  # between modcrop and resize_final / jpeg / crop
        j = core.index("jpeg")
        assert core[:2] == ["blur", "resize"] and core[j + 1 : j + 3] == ["blur", "resize"]
        assert set(core[2:j]) <= {
            "gaussian_noise",
            "poisson_noise",
            "speckle_noise",
            "camera_noise",
        }
        assert set(core[j + 3 :]) <= {
            "gaussian_noise",
            "poisson_noise",
            "speckle_noise",
            "camera_noise",
        }
        h = trace[2]["params"]["height"]
        resize_kind["up" if h > 320 else "down" if h < 320 else "keep"] += 1
    assert_binomial(resize_kind["up"], n, 0.2, "resize up")
    assert_binomial(resize_kind["down"], n, 0.7, "resize down")
    assert_binomial(counts["poisson_noise"], 2 * n, 0.1, "Poisson noise")
    assert_binomial(counts["speckle_noise"], 2 * n, 0.1, "speckle noise")
    assert_binomial(counts["camera_noise"], 2 * n, 0.1, "camera noise (plus)")
    assert counts["gaussian_noise"] == 2 * n and counts["jpeg"] == 2 * n
    # local shuffle: when Poisson noise is applied in the first half it precedes the Gaussian
    # noise half of the time
    first_halves = [ops(t)[: ops(t).index("jpeg")] for t in plans]
    with_poisson = [h for h in first_halves if "poisson_noise" in h]
    poisson_first = sum(h.index("poisson_noise") < h.index("gaussian_noise") for h in with_poisson)
    assert len(with_poisson) > 200
    assert_binomial(poisson_first, len(with_poisson), 0.5, "local noise shuffle")


@pytest.mark.parametrize("shuffle_prob", [0.5, 1.0])
def test_bsrgan_plus_shuffle_probability(shuffle_prob: float) -> None:
    """Non-noise ops follow [blur, resize, jpeg, blur, resize] always in the fixed order and,
    among the 5! orders of those five slots, in 2 * 2 of them when fully shuffled (p = 1/30)."""
    rng = np.random.default_rng(7)
    n = 2000
    pattern = ["blur", "resize", "jpeg", "blur", "resize"]
    hits = 0
    for _ in range(n):
        names = ops(plan_bsrgan_plus(rng, 256, 256, shuffle_prob=shuffle_prob, isp=False))[1:-3]
        hits += [o for o in names if o in {"blur", "resize", "jpeg"}] == pattern
    assert_binomial(hits, n, (1 - shuffle_prob) + shuffle_prob / 30, "fixed-order pattern")


# --------------------------------------------------------------------------- errors
def test_too_small_input_names_both_sizes() -> None:
    img = np.zeros((250, 400, 3), np.float32)
    with pytest.raises(ValueError, match=r"250x400.*288x288"):
        degrade_bsrgan(img, rng=np.random.default_rng(0), isp=False)
    with pytest.raises(ValueError, match=r"250x400.*256x256"):
        degrade_bsrgan_plus(img, rng=np.random.default_rng(0), isp=False)
    with pytest.raises(ValueError, match="too small"):  # 289 mod-crops to 288: fits
        degrade_bsrgan(np.zeros((287, 300, 3), np.float32), isp=False)
    lq, _, _ = degrade_bsrgan(
        np.zeros((291, 289, 3), np.float32), rng=np.random.default_rng(0), isp=False
    )
    assert lq.shape == (72, 72, 3)


def test_bad_arguments_are_rejected(photo: np.ndarray) -> None:
    with pytest.raises(ValueError, match="dtype uint8"):
        degrade_bsrgan((photo * 255).astype(np.uint8), isp=False)
    with pytest.raises(TypeError, match="rng"):
        degrade_bsrgan(photo, rng=42, isp=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scale factor"):
        degrade_bsrgan(photo, sf=0, isp=False)
    with pytest.raises(ValueError, match="lq_patchsize"):
        degrade_bsrgan(photo, lq_patchsize=0, isp=False)
    with pytest.raises(ValueError, match="shuffle_prob"):
        degrade_bsrgan_plus(photo, shuffle_prob=1.5, isp=False)


def test_replay_rejects_malformed_traces(photo: np.ndarray) -> None:
    with pytest.raises(ValueError, match="unknown degradation op 'warp'"):
        replay(photo, [{"op": "warp", "params": {}}])
    with pytest.raises(ValueError, match="step 0.*'op' and 'params'"):
        replay(photo, [{"params": {}}])
    with pytest.raises(ValueError, match="bad params for op 'blur'"):
        replay(photo, [{"op": "blur", "params": {"radius": 3}}])
    with pytest.raises(ValueError, match="does not fit"):
        replay(photo, [{"op": "crop", "params": {"top": 300, "left": 0, "size": 72, "sf": 4}}])
    assert set(OPS) >= {"blur", "jpeg", "gaussian_noise", "camera_noise", "crop"}
