"""A fresh quickstart-like training run agrees with the committed reference numbers.

``tests/reference/quickstart_stage1.json`` holds the validation history, loss log and weight
digest of notebook 02's recipe at the quickstart's sizes (60 iterations), written by
``tests/reference/make_quickstart_reference.py`` with the tolerances measured in
``docs/reproducibility.md``. The rerun uses one torch thread (the reference used two): that is
also what makes it fast on a busy machine, and it checks the thread-count tolerance.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent / "reference" / "make_quickstart_reference.py"


def load_script():
    spec = importlib.util.spec_from_file_location("make_quickstart_reference", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reference_file_matches_its_script():
    script = load_script()
    ref = json.loads(script.REFERENCE.read_text())
    assert ref["parameters"] == script.PARAMETERS  # regenerate it when the recipe changes
    assert ref["tolerance"] == script.TOLERANCE
    numbers = ref["numbers"]
    assert numbers["steps"] == [0, 20, 40, 60]
    assert numbers["psnr"][-1] > numbers["psnr"][0] + 5  # it trains: not a flat reference


@pytest.mark.slow
def test_a_fresh_quickstart_like_run_matches_the_reference_within_tolerance():
    script = load_script()
    ref = json.loads(script.REFERENCE.read_text())
    numbers = script.run(threads=1)
    assert numbers["steps"] == ref["numbers"]["steps"]
    diff = script.differences(ref["numbers"], numbers)
    for key, tolerance in ref["tolerance"].items():
        assert diff[key] <= tolerance, (key, diff[key], tolerance)
