"""bsrgan.utils: the usable-CPU count shared by data preparation, the loader plan and scoring."""
from __future__ import annotations

import os

import pytest

from bsrgan.utils import cpus
from bsrgan.utils.cpus import usable_cpus


def test_usable_cpus_follows_the_affinity_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    if hasattr(os, "sched_getaffinity"):
        assert usable_cpus() == len(os.sched_getaffinity(0))
    monkeypatch.setattr(cpus.os, "sched_getaffinity", lambda pid: {3}, raising=False)
    assert usable_cpus() == 1  # pinned to one CPU (taskset, a cpuset) whatever cpu_count says


def test_usable_cpus_without_affinity_falls_back_to_cpu_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(cpus.os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(cpus.os, "cpu_count", lambda: 6)
    assert usable_cpus() == 6
    monkeypatch.setattr(cpus.os, "cpu_count", lambda: None)  # undeterminable: still one
    assert usable_cpus() == 1


def test_every_user_asks_the_one_helper() -> None:
    from bsrgan.data import prepare
    from bsrgan.evaluation import runner, scoring
    from bsrgan.training import loader_plan

    for module in (prepare, runner, scoring, loader_plan):
        assert module.usable_cpus is usable_cpus, module.__name__
