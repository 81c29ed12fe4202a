"""Training with ``data.degradation_device``: the workers send uint8 HR crops and plans, the
training process degrades each batch with the batched torch backend; exact resume on the CPU."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate
from training_helpers import straight_and_resumed, tiny_config

from bsrgan.degradation import replay
from bsrgan.training import BlindSRDataset, ConfigError, Trainer, load_checkpoint
from bsrgan.training.dataset import degrade_on_device, uint8_to_float


def dataset(**kwargs) -> BlindSRDataset:
    options = {"scale": 4, "hr_crop": 64, "lq_patch": 16, "seed": 3, **kwargs}
    return BlindSRDataset("embedded", **options)


def test_config_field_defaults_and_checks() -> None:
    cfg = tiny_config()
    assert (cfg.data.degradation_device, cfg.data.shuffle_prob, cfg.data.use_sharp) == (
        "worker", 0.1, False)
    with pytest.raises(ConfigError, match="data.degradation_device"):
        tiny_config(**{"data.degradation_device": "gpu"})
    with pytest.raises(ConfigError, match="data.shuffle_prob"):
        tiny_config(**{"data.shuffle_prob": 1.5})


def test_cuda_degradation_needs_a_cuda_training_device(tmp_path) -> None:
    cfg = tiny_config(**{"data.degradation_device": "cuda", "runtime.device": "cpu"})
    with pytest.raises(ValueError, match="degradation_device: cuda"):
        Trainer(cfg, tmp_path / "run")


def test_device_items_carry_the_hr_crop_and_the_workers_plan() -> None:
    """The plan shipped is the one the worker path applies to the same (epoch, index)."""
    on_device, in_worker = dataset(degrade_in_worker=False), dataset(degrade_in_worker=True)
    item = on_device[(2, 1)]
    assert item["hr"].dtype == torch.uint8 and item["hr"].shape == (3, 64, 64)
    trace = json.loads(item["trace"])
    hr, _ = in_worker.hr_sample(2, 1)
    assert torch.equal(item["hr"], torch.from_numpy(hr.transpose(2, 0, 1).copy()))
    lq, _ = replay(uint8_to_float(hr), trace)
    assert np.array_equal(in_worker[(2, 1)]["lq"].numpy(), lq.transpose(2, 0, 1))


def test_bsrgan_plus_options_reach_the_plans() -> None:
    fixed = dataset(degradation="bsrgan_plus", shuffle_prob=0.0, degrade_in_worker=False)
    sharp = dataset(degradation="bsrgan_plus", shuffle_prob=0.0, use_sharp=True,
                    degrade_in_worker=False)
    for i in range(5):  # without shuffling the order starts with the first blur
        assert json.loads(fixed[i]["trace"])[1]["op"] == "blur"
        assert [e["op"] for e in json.loads(sharp[i]["trace"])][1:3] == ["sharpen", "blur"]


def test_degrade_on_device_makes_the_training_pairs() -> None:
    ds = dataset(degrade_in_worker=False)
    batch = default_collate([ds[i] for i in range(3)])
    assert isinstance(batch["trace"], list) and len(batch["trace"]) == 3
    lq, hq = degrade_on_device(batch, torch.device("cpu"))
    assert lq.shape == (3, 3, 16, 16) and hq.shape == (3, 3, 64, 64)
    assert lq.dtype == torch.float32 and 0 <= float(lq.min()) <= float(lq.max()) <= 1
    again = degrade_on_device(batch, torch.device("cpu"))
    assert torch.equal(lq, again[0]) and torch.equal(hq, again[1])


def test_tiny_run_with_cpu_degradation_resumes_exactly(tmp_path) -> None:
    """End to end on the CPU: 4 steps straight == 2 steps, a new Trainer resuming, 2 more."""
    cfg = tiny_config(**{"data.degradation_device": "cpu", "total_steps": 4,
                         "checkpoint_every": 2, "keep_last": 5})
    probe = Trainer(cfg, tmp_path / "probe")
    assert probe.degradation_device == torch.device("cpu")
    # the loader's shared-memory estimate counts what the workers send: uint8 64 px HR crops
    assert probe.loader_plan.batch_bytes == 2 * 3 * 64 * 64
    assert "uint8 HR crops and plans" in probe.loader_plan.describe()
    probe.close()
    a, b = straight_and_resumed(cfg, tmp_path, stop_at=2)
    for key in ("generator", "ema"):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key]), key
    # and the steps after the resume did train
    m = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "step_00000002.pt")
    assert not torch.equal(m["generator"]["conv_last.weight"], b["generator"]["conv_last.weight"])
