"""benchmarks/gpu_check.py: the device check runs end to end on the CPU (--tiny), so it cannot rot
before a GPU is lent; an out-of-memory variant is retried with accumulation; failures are recorded."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "gpu_check.py"


def load_script(monkeypatch):
    spec = importlib.util.spec_from_file_location("gpu_check_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # ~19 s on 2 idle cores (minutes on a busy one): 8 trainers, a worker, ...
def test_tiny_run_writes_every_section(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    done = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--out", str(tmp_path / "bench")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    [report_path] = (tmp_path / "bench").glob("gpu_check-*.json")
    assert report_path.with_suffix(".md").is_file()
    report = json.loads(report_path.read_text())
    assert report["environment"]["mode"] == "tiny"
    assert {"train", "loader", "inference", "degradation", "memory_estimate"} <= set(report)
    train = report["train"]
    assert len(train) == 2
    for variants in train.values():
        assert list(variants) == ["fp32", "bf16", "bf16 + channels_last",
                                  "bf16 + channels_last + compile"]
        for record in variants.values():
            assert record["steps_per_s"] > 0 and record["steps_applied"] == record["timed_steps"]
    loader = report["loader"]
    assert loader["pairs_per_s"] > 0 and "verdict" in loader
    assert loader["crops_and_plans_only"]["pairs_per_s"] > 0  # data.degradation_device's loader
    assert all(v > 0 for v in loader["gpu_demand_pairs_per_s"].values())
    for precisions in report["inference"].values():
        assert precisions["fp32"]["frames_per_s"] > 0 and precisions["bf16"]["frames_per_s"] > 0
        assert precisions["fp16"] == {"skipped": "fp16 inference needs CUDA"}
        assert precisions["fp32"]["output"] == [4 * s for s in precisions["fp32"]["input"]]
    degradation = report["degradation"]
    assert all(v > 0 for v in degradation["pairs_per_s"].values())
    assert all(r["estimated_peak_gib"] > 0 for r in report["memory_estimate"].values())
    assert '"error"' not in report_path.read_text()


def test_out_of_memory_is_retried_with_accumulation_and_failures_are_recorded(monkeypatch):
    gpu_check = load_script(monkeypatch)
    settings = gpu_check.Settings.tiny()
    calls = []

    def fake_variant(file, overrides, settings, accumulate):
        calls.append(accumulate)
        if accumulate == 1 and overrides.get("runtime.precision") == "fp32":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        if overrides.get("runtime.compile"):
            raise RuntimeError("inductor crashed")
        return {"steps_per_s": 1.0, "pairs_per_s": 2.0, "accumulate": accumulate}

    monkeypatch.setattr(gpu_check, "train_variant", fake_variant)
    out = gpu_check.train_section(settings, gpu_check.Deadline(60))
    for variants in out.values():
        assert variants["fp32"]["accumulate"] == 2 and variants["fp32"]["out_of_memory_at"] == [1]
        assert variants["bf16"]["accumulate"] == 1 and "out_of_memory_at" not in variants["bf16"]
        failed = variants["bf16 + channels_last + compile"]
        assert failed["error"] == "RuntimeError: inductor crashed" and "traceback" in failed
    assert calls.count(2) == 2  # only the out-of-memory variant was retried
    spent = gpu_check.train_section(settings, gpu_check.Deadline(0))
    assert all(r == {"skipped": "time budget spent"} for v in spent.values() for r in v.values())
