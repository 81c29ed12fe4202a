"""The shuffle of degrade_bsrgan as notebook 01 teaches it: the order, where steps land, one
sample step by step, and the figures that show them (legible text)."""
from __future__ import annotations

import numpy as np
import pytest

from bsrgan.degradation import BSRGAN_STEPS, plan_bsrgan, replay, sample_bsrgan_order
from bsrgan.degradation import statistics as st
from bsrgan.degradation.explain import describe_step, step_through
from bsrgan.plotting import MIN_FONT_PT


@pytest.fixture(scope="module")
def orders():
    rng = np.random.default_rng(7)
    return [sample_bsrgan_order(rng) for _ in range(20_000)]


@pytest.fixture(scope="module")
def plans():
    rng = np.random.default_rng(8)
    return [plan_bsrgan(rng, 256, 256, sf=4, lq_patchsize=32) for _ in range(3_000)]


def test_order_is_a_permutation_with_downsample_2_first(orders):
    assert all(sorted(o) == list(range(len(BSRGAN_STEPS))) for o in orders)
    assert all(o.index(2) < o.index(3) for o in orders)


def test_exact_position_probabilities_are_a_distribution():
    expected = st.expected_order_positions()
    assert np.allclose(expected.sum(axis=0), 1) and np.allclose(expected.sum(axis=1), 1)
    assert expected.loc["downsample-2", 7] == 0 and expected.loc["downsample-3", 1] == 0
    assert expected.loc["downsample-2", 1] == pytest.approx(6 / 21)
    assert expected.loc["blur (1st)", 4] == pytest.approx(1 / 7)


def test_measured_positions_match_the_exact_probabilities(orders):
    measured = st.order_position_table(orders)
    expected = st.expected_order_positions()
    se = np.sqrt(expected * (1 - expected) / len(orders))
    z = ((measured - expected).abs() / se.where(se > 0, 1)).to_numpy()
    assert z.max() < 4.5, z.max()  # 49 cells: a 4.5 sigma excursion would be a real bias


def test_the_plans_use_the_same_order_function():
    """plan_bsrgan draws its order with sample_bsrgan_order: same generator state, same order."""
    step_ops = {0: "blur", 1: "blur", 2: ("downsample2", "downsample2_shifted"), 3: "downsample3",
                4: "gaussian_noise", 5: "jpeg", 6: "camera_noise"}
    for seed in range(20):
        rng = np.random.default_rng(seed)
        trace = plan_bsrgan(rng, 256, 256, sf=3, lq_patchsize=32)  # sf 3: no downsample-1
        order = sample_bsrgan_order(np.random.default_rng(seed))
        shuffled = [e["op"] for e in trace[1:-2]]  # without mod-crop, final JPEG, crop
        wanted = [step_ops[i] for i in order]
        kept = [w for w in wanted if any(op in (w if isinstance(w, tuple) else (w,))
                                         for op in shuffled)]
        assert len(kept) == len(shuffled)
        for w, op in zip(kept, shuffled):
            assert op in (w if isinstance(w, tuple) else (w,))


def test_steps_land_before_between_after_the_downsamplings_a_third_each(plans):
    table = st.placement_table(plans).set_index("op")
    assert table.loc["blur", "n"] == 2 * len(plans)
    assert table.loc["gaussian_noise", "n"] == len(plans)
    for op in ("blur", "gaussian_noise", "jpeg"):
        n = table.loc[op, "n"]
        for column in st.PLACEMENTS:
            assert abs(table.loc[op, column] - 1 / 3) < 4 * np.sqrt(2 / 9 / n), (op, column)


def test_op_frequencies_match_the_pipeline_probabilities(plans):
    table = st.op_frequency_table(plans, sf=4).set_index("op")
    assert table.loc["blur", "measured"] == 2.0 and table.loc["blur", "z"] == 0
    assert (table["z"].abs() < 4).all(), table
    assert st.expected_ops_per_sample(sf=3).get("downsample1") is None
    assert "camera_noise" not in st.expected_ops_per_sample(isp=False)
    with pytest.raises(ValueError, match="no plans"):
        st.op_frequency_table([])


def test_step_through_ends_where_replay_ends_and_labels_every_step():
    rng = np.random.default_rng(3)
    img = rng.random((128, 128, 3), dtype=np.float32)
    trace = plan_bsrgan(np.random.default_rng(11), 128, 128, sf=4, lq_patchsize=32)
    steps = step_through(img, trace)
    lq, _ = replay(img, trace)
    assert steps[0].op == "input" and steps[0].space == "HR size"
    assert np.array_equal(steps[-1].image, lq) and steps[-1].op == "crop"
    assert steps[-1].scale == pytest.approx(4.0) and steps[-1].space == "1/4 of HR"
    assert [s.op for s in steps[1:]] == [e["op"] for e in trace if e["op"] != "modcrop"]
    for step, entry in zip(steps[1:], [e for e in trace if e["op"] != "modcrop"]):
        assert step.label == describe_step(entry) and "\n" in step.label


def test_describe_step_shows_the_parameters():
    blur = {"op": "blur", "params": {"kind": "anisotropic", "size": 15, "sigma": 0.0,
                                     "theta": np.pi / 4, "l1": 3.0, "l2": 1.0}}
    assert describe_step(blur) == "blur\nanisotropic 15²\nλ=3.0/1.0, θ=45°"
    resize = {"op": "downsample3", "params": {"height": 18, "width": 24, "method": "area"}}
    assert describe_step(resize) == "downsample-3\narea → 24×18"
    noise = {"op": "gaussian_noise", "params": {"mode": "gray", "sigma": 12 / 255, "cov": None,
                                                "seed": 1}}
    assert describe_step(noise) == "Gaussian noise\ngray, σ=12.0/255"


def _font_sizes(fig) -> list[float]:
    from matplotlib.text import Text

    return [t.get_fontsize() for t in fig.findobj(Text) if t.get_text().strip()]


def test_shuffle_figures_have_legible_text(orders, plans):
    import matplotlib.pyplot as plt

    from bsrgan.viz import shuffle as viz

    img = np.random.default_rng(0).random((128, 128, 3), dtype=np.float32)
    trace = plan_bsrgan(np.random.default_rng(1), 128, 128, sf=4, lq_patchsize=32)
    figures = [
        viz.plot_degradation_strip(step_through(img, trace)),
        viz.plot_order_heatmap(st.order_position_table(orders[:500]),
                               st.expected_order_positions(), n_orders=500),
        viz.plot_placement(st.placement_table(plans[:200])),
        viz.plot_parameter_distributions(plans[:200]),
    ]
    for fig in figures:
        sizes = _font_sizes(fig)
        assert sizes and min(sizes) >= MIN_FONT_PT, min(sizes)
        plt.close(fig)
