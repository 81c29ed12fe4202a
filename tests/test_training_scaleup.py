"""What a long GPU run relies on, checked on the CPU: fail-fast set-up, resume refusal, D precision,
the non-finite gradient guard, gradient accumulation, activation checkpointing, EMA snapshots,
NIQE/LPIPS validation and the GAN stage under torchrun (gloo).

Tiny models (rrdbnet_tiny), 16x16 LR patches; equivalences are checked in float64.
"""
from __future__ import annotations

import copy
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from training_helpers import REPO, small_images, tiny_config, torchrun, torchrun_train
from training_helpers import write_config as write_tiny_config

from bsrgan.training import (
    BlindSRDataset,
    ConfigError,
    ResumeConfigError,
    Trainer,
    config_to_dict,
    list_checkpoints,
    load_checkpoint,
)

PAPER_GAN = REPO / "experiments" / "bsrgan_x4_paper.yaml"
GAN = {"stage": "gan", "loss.preset": "paper", "optim.lr_g": 1.0e-3, "optim.lr_d": 1.0e-3,
       "loss.perceptual_backbone": "vgg16", "loss.perceptual_pretrained": False}


def tiny(**overrides):
    """The quiet tiny config with batches of 4 (two micro-batches of 2 with accumulation)."""
    return tiny_config(**{"data.batch_size": 4, **overrides})


def batch(n: int = 4, seed: int = 5, lq_patch: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    ds = BlindSRDataset(small_images(), hr_crop=64, lq_patch=lq_patch, seed=seed)
    items = [ds[(i // 3, i % 3)] for i in range(n)]
    return torch.stack([x["lq"] for x in items]), torch.stack([x["hq"] for x in items])


def write_config(path: Path, **overrides) -> Path:
    return write_tiny_config(path, **{"data.batch_size": 4, **overrides})


def to_float64(trainer: Trainer) -> Trainer:
    """Run a trainer's step in float64 (the optimisers keep the same parameter objects)."""
    for module in (trainer.generator, trainer.discriminator, trainer.perceptual_loss,
                   trainer.ema.module):
        if module is not None:
            module.double()
    return trainer


# ----------------------------------------------------------------------------- fail fast


def test_auto_backbone_is_refused_naming_both_choices():
    with pytest.raises(ConfigError, match="'auto' is no longer accepted.*'vgg19'.*'vgg16'"):
        tiny(**{**GAN, "loss.perceptual_backbone": "auto"})
    assert tiny(stage="gan", **{"loss.preset": "paper"}).loss.perceptual_backbone == "vgg19"


def test_dropping_a_preset_loss_term_needs_an_explicit_ablation(tmp_path):
    with pytest.raises(ConfigError, match=r"perceptual_weight is 0.*preset 'paper'.*allow_ablation"):
        tiny(**GAN, **{"loss.perceptual_weight": 0.0})
    with pytest.raises(ConfigError, match="gan_weight is 0"):
        tiny(**GAN, **{"loss.gan_weight": 0})
    cfg = tiny(**GAN, **{"loss.perceptual_weight": 0.0, "loss.allow_ablation": True})
    trainer = Trainer(cfg, tmp_path)
    assert trainer.perceptual_loss is None
    assert any("perceptual_weight set to 0" in d for d in trainer.deviations)
    trainer.close()


def test_colour_term_is_checked_logged_and_recorded_as_a_deviation(tmp_path):
    with pytest.raises(ConfigError, match="loss.colour_weight must be >= 0"):
        tiny(**GAN, **{"loss.colour_weight": -1.0})
    with pytest.raises(ConfigError, match=r"colour_kernel \(128\) must be <= the HR patch"):
        tiny(**GAN, **{"loss.colour_weight": 1.0, "loss.colour_kernel": 128})
    trainer = Trainer(tiny(**GAN, total_steps=2), tmp_path / "paper")
    assert trainer.colour_loss is None  # the paper's loss has no colour term
    assert not any("colour" in d for d in trainer.deviations)
    trainer.close()
    cfg = tiny(**GAN, total_steps=2, log_every=1, **{"loss.colour_weight": 10.0})
    trainer = Trainer(cfg, tmp_path / "colour")
    lq, hq = batch(2)
    sr = trainer.generator(lq)
    losses = trainer.generator_losses(sr, hq)
    expected = 10.0 * F.l1_loss(F.avg_pool2d(sr, 8), F.avg_pool2d(hq, 8))
    assert losses["l_colour"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert losses["g_total"].item() == pytest.approx(sum(
        losses[k].item() for k in ("l_pix", "l_colour", "l_percep", "l_gan")), rel=1e-6)
    result = trainer.run()
    trainer.close()
    summary = json.loads(result.summary_path.read_text())
    assert any("low-pass colour loss x10 (8x8 block means)" in d for d in summary["deviations"])
    log = (tmp_path / "colour" / "train_log.csv").read_text().splitlines()[0]
    assert "l_colour" in log.split(",")


def test_paper_gan_config_without_vgg19_stops_at_once_naming_the_vgg16_option(
        tmp_path, monkeypatch, capsys):
    """The acceptance check, in-process: offline, empty torch.hub cache, training data given."""
    from bsrgan.cli import main
    from bsrgan.io import imwrite

    hr = tmp_path / "hr"
    imwrite(hr / "photo.png", np.kron(small_images()["img2"], np.ones((4, 4, 1), np.float32)))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no cached VGG19
    started = time.perf_counter()
    code = main(["train", "--config", str(PAPER_GAN), "--out", str(tmp_path / "run"),
                 "--set", f"data.hr_dir={hr}", "--no-progress"])
    seconds = time.perf_counter() - started
    err = capsys.readouterr().err
    assert code == 1 and seconds < 60
    assert "VGG19" in err and "loss.perceptual_backbone: vgg16" in err and "BSRGAN_OFFLINE" in err
    assert not (tmp_path / "run" / "config.yaml").exists()  # stopped before building the run


def test_init_distributed_refuses_a_fixed_gpu_under_torchrun(monkeypatch):
    from bsrgan.training.distributed import init_distributed

    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    with pytest.raises(ConfigError, match=r"runtime.device is 'cuda:0' under torchrun with 2 "
                                          r"processes.*auto or cuda"):
        init_distributed("cuda:0")  # refused before any CUDA or process-group call


LOCAL_MAIN_FIRST = '''
import os, sys, time
from pathlib import Path
import torch.distributed as dist
from bsrgan.training.distributed import cleanup, init_distributed, local_main_first, main_only

out = Path(sys.argv[1])
ctx = init_distributed("cpu")

def fetch():
    target = out / "weights.bin"
    if not target.exists():  # a download: only the local main process may get here
        (out / f"downloaded_by_{ctx.rank}").touch()
        time.sleep(0.5)
        target.write_bytes(b"vgg")
    return target.read_bytes()

def broken():
    raise ValueError(f"no network on rank {ctx.rank}")

assert local_main_first(fetch, ctx) == b"vgg"
try:
    local_main_first(broken, ctx)
except ValueError as exc:
    (out / f"error_seen_by_{ctx.rank}").write_text(str(exc))
def disk_full():
    raise OSError(f"disk full on rank {ctx.rank}")

try:  # rank 0's work (validation, a checkpoint) fails: every rank stops, none waits forever
    main_only(disk_full, ctx)
except OSError as exc:
    (out / f"main_only_error_seen_by_{ctx.rank}").write_text(str(exc))
cleanup(ctx)
'''


def test_local_main_first_downloads_once_and_shares_failures(tmp_path):
    script = tmp_path / "first.py"
    script.write_text(LOCAL_MAIN_FIRST)
    done = torchrun([str(script), str(tmp_path)], cwd=tmp_path, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.glob("downloaded_by_*")) == ["downloaded_by_0"]
    for rank in (0, 1):  # rank 0's error reaches rank 1, which never ran the function
        assert (tmp_path / f"error_seen_by_{rank}").read_text() == "no network on rank 0"
        assert (tmp_path / f"main_only_error_seen_by_{rank}").read_text() == "disk full on rank 0"


# ----------------------------------------------------------------------------- resume


def test_resume_with_a_changed_config_is_refused_listing_the_differences(tmp_path):
    cfg = tiny(total_steps=4, checkpoint_every=2, keep_last=5)
    first = Trainer(cfg, tmp_path)
    first.run(until=2)
    first.close()

    # run length, logging, and how a step is computed (same gradients, less memory) may change
    longer = tiny(total_steps=6, checkpoint_every=2, keep_last=5, log_every=1,
                  **{"optim.accumulate": 2, "model.checkpoint_trunk": True,
                     "model.init_from": "read/by/a/fresh/run/only.pth"})
    Trainer(longer, tmp_path, resume=True).close()

    changed = tiny(total_steps=4, checkpoint_every=2, keep_last=5,
                   **{"optim.lr_g": 5.0e-4, "optim.milestones": [3], "ema_decay": 0.9})
    with pytest.raises(ResumeConfigError) as info:
        Trainer(changed, tmp_path, resume=True)
    text = str(info.value)
    assert "step_00000002.pt" in text and "--allow-config-change" in text
    for line in ("optim.lr_g: 0.001 -> 0.0005", "optim.milestones:", "ema_decay: 0.99 -> 0.9"):
        assert line in text
    assert "total_steps" not in text

    # allowed: the new values apply, the LR schedule included (MultiStepLR.load_state_dict would
    # otherwise restore the old milestones and learning rate)
    resumed = Trainer(changed, tmp_path, resume=True, allow_config_change=True)
    assert resumed.sched_g.milestones == {3: 1} and resumed.ema.decay == 0.9
    assert resumed.opt_g.param_groups[0]["lr"] == pytest.approx(5.0e-4)
    resumed.run()  # steps 3 and 4; the milestone at 3 halves the LR
    assert resumed.opt_g.param_groups[0]["lr"] == pytest.approx(2.5e-4)
    resumed.close()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert {c["key"] for c in summary["config_changes_on_resume"]} == {
        "optim.lr_g", "optim.milestones", "ema_decay"}


def test_config_fields_an_older_checkpoint_lacks_count_only_when_set():
    """A field added since a checkpoint was written differs only when the new config sets it
    away from its default; a field removed since is ignored."""
    from bsrgan.training.config import config_differences

    old = config_to_dict(tiny())
    del old["optim"]["accumulate"], old["runtime"]["d_precision"]
    old["data"]["field_removed_since"] = 1
    assert config_differences(old, tiny()) == []
    assert config_differences(old, tiny(**{"runtime.d_precision": "same"})) == [
        ("runtime.d_precision", "<not set>", "same")]


def test_resume_with_another_number_of_processes_is_refused(tmp_path):
    """The effective batch is batch_size x world size: a checkpoint of a 2-process run does not
    continue in one process unless that is allowed."""
    cfg = tiny(total_steps=2, checkpoint_every=1)
    first = Trainer(cfg, tmp_path)
    first.run(until=1)
    first.close()
    path = tmp_path / "checkpoints" / "step_00000001.pt"
    state = load_checkpoint(path)
    assert state["world_size"] == 1
    torch.save({**state, "world_size": 2}, path)  # as a torchrun --nproc_per_node=2 run saves it
    with pytest.raises(ResumeConfigError, match=r"world size \(torchrun processes\): 2 -> 1"):
        Trainer(cfg, tmp_path, resume=True)
    resumed = Trainer(cfg, tmp_path, resume=True, allow_config_change=True)
    assert resumed.config_changes == [("world size (torchrun processes)", 2, 1)]
    resumed.close()


def test_cli_resume_refusal_exits_2(tmp_path, capsys):
    from bsrgan.cli import main

    config = write_config(tmp_path / "cfg.yaml", total_steps=2, checkpoint_every=1)
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run"),
                 "--no-progress"]) == 0
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run"), "--resume",
                 "--set", "seed=3", "--no-progress"]) == 2
    assert "seed: 0 -> 3" in capsys.readouterr().err


# ----------------------------------------------------------------------------- numerics


def _ops_and_dtypes(fn) -> list[tuple[str, torch.dtype]]:
    """(aten op, dtype of its first tensor output) for every op ``fn`` dispatches."""
    from torch.utils._python_dispatch import TorchDispatchMode

    seen = []

    class Record(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            first = out[0] if isinstance(out, (tuple, list)) else out
            if isinstance(first, torch.Tensor):
                seen.append((func.overloadpacket.__name__, first.dtype))
            return out

    with Record():
        fn()
    return seen


@pytest.mark.parametrize("d_precision", ["fp32", "same"])
def test_discriminator_and_spectral_norm_run_in_fp32_under_bf16_autocast(tmp_path, d_precision):
    cfg = tiny(**GAN, **{"runtime.precision": "bf16", "runtime.d_precision": d_precision})
    trainer = Trainer(cfg, tmp_path)
    assert trainer.autocast_dtype == torch.bfloat16
    lq, hq = batch(2)
    with torch.no_grad(), trainer._autocast():
        sr = trainer.g_model(lq)
    assert sr.dtype == torch.bfloat16  # G itself runs in bf16
    trainer.discriminator.train()
    ops = _ops_and_dtypes(lambda: trainer.discriminator_losses(sr, hq))
    sigma_ops = [dt for name, dt in ops if name in ("mv", "dot", "vdot")]
    convs = [dt for name, dt in ops if name == "convolution"]
    assert sigma_ops and convs  # the power iteration and sigma did run
    if d_precision == "fp32":
        assert set(sigma_ops) == {torch.float32} and set(convs) == {torch.float32}
    else:  # D under G's autocast: its convolutions in bf16
        assert torch.bfloat16 in convs
    trainer.close()


def test_nonfinite_gradients_with_finite_losses_skip_the_step(tmp_path):
    trainer = Trainer(tiny(**GAN, **{"optim.milestones": [1]}), tmp_path)
    lq, hq = batch()
    weights = copy.deepcopy(trainer.generator.state_dict())
    d_weights = copy.deepcopy(trainer.discriminator.state_dict())
    ema = copy.deepcopy(trainer.ema.state_dict())
    param = next(trainer.discriminator.parameters())
    handle = param.register_hook(lambda g: g * float("inf"))  # only D's gradients blow up
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's scheduler-before-optimiser warning included
        values, applied = trainer.train_step(lq, hq)
    assert not applied and all(np.isfinite(v) for v in values.values())
    # the skipped step still counts as an iteration of the LR schedule (milestone 1 passed)
    for opt in (trainer.opt_g, trainer.opt_d):
        assert opt.param_groups[0]["lr"] == pytest.approx(0.5e-3)
    assert "non-finite gradients in the discriminator" in trainer._skip_reason
    for before, module in ((weights, trainer.generator), (d_weights, trainer.discriminator),
                           (ema, trainer.ema.module)):
        assert all(torch.equal(v, before[k]) for k, v in module.state_dict().items()
                   if "_u" not in k and "_v" not in k)  # spectral-norm vectors may move
    assert not trainer.opt_g.state and not trainer.opt_d.state  # no Adam step happened
    handle.remove()
    assert trainer.train_step(lq, hq)[1]
    trainer.close()


def test_gradient_clipping_applies_to_both_networks(tmp_path):
    trainer = Trainer(tiny(**GAN, **{"optim.grad_clip": 1.0e-3}), tmp_path)
    assert trainer.train_step(*batch())[1]
    for model in (trainer.generator, trainer.discriminator):  # gradients as the step used them
        norm = torch.nn.utils.get_total_norm([p.grad for p in model.parameters()])
        assert float(norm) == pytest.approx(1.0e-3, rel=1e-3)
    trainer.close()


# ----------------------------------------------------------------------------- memory


@pytest.mark.parametrize("preset", ["paper", "released"])
def test_accumulating_two_micro_batches_equals_one_step_on_the_whole_batch(tmp_path, preset):
    """2 x 2 accumulated == 1 x 4, float64: gradients, updated weights, EMA and SN vectors.

    8x8 LR / 32x32 HR patches keep the float64 VGG and discriminator passes fast."""
    lq, hq = batch(4, lq_patch=8)
    runs = {}
    for accumulate in (1, 2):
        cfg = tiny(**{**GAN, "loss.preset": preset, "optim.accumulate": accumulate,
                      "data.lq_patch": 8})
        trainer = to_float64(Trainer(cfg, tmp_path / f"acc{accumulate}"))
        values, applied = trainer.train_step(lq.double(), hq.double())
        assert applied
        runs[accumulate] = {
            "values": values,
            "g_grad": [p.grad.clone() for p in trainer.generator.parameters()],
            "d_grad": [p.grad.clone() for p in trainer.discriminator.parameters()],
            "g": copy.deepcopy(trainer.generator.state_dict()),
            "d": copy.deepcopy(trainer.discriminator.state_dict()),
            "ema": copy.deepcopy(trainer.ema.state_dict()),
        }
        trainer.close()
    one, two = runs[1], runs[2]
    assert one["values"].keys() == two["values"].keys()
    for key, value in one["values"].items():
        assert two["values"][key] == pytest.approx(value, rel=1e-12, abs=1e-14), key
    for name in ("g_grad", "d_grad"):
        for a, b in zip(one[name], two[name]):
            torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-14)
    for name in ("g", "d", "ema"):  # weights after the Adam step, SN u/v buffers included
        for key, value in one[name].items():
            torch.testing.assert_close(two[name][key], value, rtol=1e-10, atol=1e-13)


def test_batch_must_split_into_equal_micro_batches():
    with pytest.raises(ConfigError, match=r"batch_size \(4\) must be a multiple of "
                                          r"optim.accumulate \(3\)"):
        tiny(**{"optim.accumulate": 3})


def test_checkpointed_trunk_gives_the_same_gradients_with_fewer_saved_activations():
    from bsrgan.models import build_model
    from bsrgan.training.memory import saved_tensor_bytes

    torch.manual_seed(0)
    plain = build_model("rrdbnet_tiny", nb=3).double().train()
    ckpt = copy.deepcopy(plain)
    ckpt.checkpoint_trunk = True
    x = torch.rand(2, 3, 12, 12, dtype=torch.float64)
    grads = []
    for model in (plain, ckpt):
        out = model(x)
        (out ** 2).mean().backward()
        grads.append([p.grad for p in model.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(b, a, rtol=1e-12, atol=0)
    stored = {name: saved_tensor_bytes(lambda m=m: m(x).sum())
              for name, m in (("plain", plain), ("ckpt", ckpt))}
    assert stored["ckpt"] < 0.5 * stored["plain"]
    with torch.no_grad():  # no effect outside training
        assert torch.equal(ckpt.eval()(x), plain.eval()(x))


# ----------------------------------------------------------------------------- snapshots


def test_every_checkpoint_exports_an_ema_snapshot_that_is_never_pruned(tmp_path):
    from bsrgan.models import load_pretrained

    cfg = tiny(**GAN, total_steps=3, checkpoint_every=1, keep_last=1)
    trainer = Trainer(cfg, tmp_path)
    result = trainer.run()
    trainer.close()
    assert [p.name for p in list_checkpoints(tmp_path / "checkpoints")] == ["step_00000003.pt"]
    names = [p.name for p in result.snapshots]
    assert names == [f"train_tiny_ema_step_{s:08d}.pth" for s in (1, 2, 3)]
    last = load_checkpoint(tmp_path / "checkpoints" / "step_00000003.pt")
    snap = torch.load(result.snapshots[-1], weights_only=True)
    assert all(torch.equal(snap[k], v) for k, v in last["ema"].items())
    assert load_pretrained(result.snapshots[0]).sf == 4  # a plain state dict
    # the deviations this config asks for are written everywhere
    summary = json.loads(result.summary_path.read_text())
    for record in (summary["deviations"], last["deviations"], result.deviations):
        assert any("VGG16 instead of the paper's VGG19" in d for d in record)
        assert any("UNTRAINED" in d for d in record)
    assert summary["snapshots"] == [f"snapshots/{n}" for n in names]


# ----------------------------------------------------------------------------- NIQE / LPIPS


def test_gan_validation_logs_niqe_on_real_images_and_lpips(tmp_path, asset_env):
    from bsrgan.models import build_model
    from bsrgan.training import train

    textured = build_model("rrdbnet_tiny")
    textured.reset_parameters(scale=1.0)  # unscaled init: outputs with texture NIQE can score
    torch.save(textured.state_dict(), tmp_path / "start.pth")
    result = train(tiny(**GAN), tmp_path / "run", overrides={
        "model.init_from": str(tmp_path / "start.pth"),
        "total_steps": 2, "validation.every": 2, "validation.num_images": 2,
        "validation.hr_size": 64, "validation.niqe_set": "realsrset",
        "validation.niqe_images": 2, "validation.lpips": True, "runtime.tensorboard": True})
    hist = result.history
    assert list(hist["step"]) == [0, 2]
    for key in ("niqe", "niqe_bicubic", "lpips", "lpips_bicubic"):
        assert hist[key].notna().all(), key
    assert hist["niqe_bicubic"].nunique() == 1 and hist["lpips_bicubic"].nunique() == 1
    assert (hist["niqe"] > 0).all() and ((hist["lpips"] > 0) & (hist["lpips"] < 1)).all()
    log = (tmp_path / "run" / "train.log").read_text()
    assert "NIQE on 2 real images of realsrset (Lincoln, building)" in log
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "run" / "tb"))
    events.Reload()
    assert {"val/niqe", "val/lpips", "val/psnr"} <= set(events.Tags()["scalars"])
    assert {"val_real/Lincoln", "val_real/building"} <= set(events.Tags()["images"])


def test_missing_validation_images_stop_the_run_before_any_network_is_built(tmp_path,
                                                                            monkeypatch):
    import bsrgan.models

    def no_networks(*args, **kwargs):
        raise AssertionError("a network was built before the validation set")

    monkeypatch.setattr(bsrgan.models, "build_model", no_networks)
    cfg = tiny(**{"validation.every": 5, "validation.hr_dir": str(tmp_path / "nowhere")})
    with pytest.raises(FileNotFoundError, match="nowhere"):
        Trainer(cfg, tmp_path / "run")
    assert not (tmp_path / "run" / "config.yaml").exists()


def test_missing_niqe_images_stop_the_run_before_training(tmp_path, monkeypatch):
    from bsrgan.assets import AssetError

    monkeypatch.delenv("BSRGAN_MIRRORS", raising=False)  # CI sets it; this test needs none

    cfg = tiny(**{"validation.every": 5, "validation.niqe_set": "realsrset"})
    with pytest.raises(AssetError, match="realsrset"):  # offline, no mirror
        Trainer(cfg, tmp_path)
    from bsrgan.models.pretrained import WeightsError

    with pytest.raises(WeightsError, match="nowhere.pth"):
        Trainer(tiny(**{"model.init_from": str(tmp_path / "nowhere.pth")}), tmp_path)


# ----------------------------------------------------------------------------- DDP


def test_gan_stage_under_torchrun_ends_with_identical_g_and_d_on_both_ranks(tmp_path):
    config = write_config(tmp_path / "cfg.yaml", total_steps=3, checkpoint_every=3,
                          **{**GAN, "optim.accumulate": 2})
    done = torchrun_train(config, tmp_path / "run")
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["effective_batch"] == 8
    assert summary["micro_batch"] == 2 and summary["nonfinite_steps"] == 0
    digests = summary["rank_weight_digests"]
    for name in ("generator", "discriminator"):
        assert len(digests[name]) == 2 and digests[name][0] == digests[name][1], name
    from bsrgan.models import build_discriminator
    from bsrgan.training.trainer import _state_digest

    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "step_00000003.pt")
    disc = build_discriminator("patchgan_sn")
    disc.load_state_dict(state["discriminator"])
    assert _state_digest(disc) == digests["discriminator"][0]
    assert state["optimizer_d"]["state"][0]["step"] == 3  # D took every step


def test_memory_tracker_counts_each_live_storage_once():
    from bsrgan.training.memory import TensorMemoryTracker

    tracker = TensorMemoryTracker()
    outside = torch.empty(100)
    tracker.ignore([outside])
    with tracker:
        a = torch.empty(1000)  # 4000 B
        view = a.view(10, 100)  # the same storage
        b = torch.empty(500, dtype=torch.float64)  # 4000 B
        del b
        c = torch.empty(250)  # 1000 B
        outside.add_(1)  # an in-place op on an ignored tensor
    assert (tracker.peak, tracker.live) == (8000, 5000)
    del a, view, c


def test_memory_estimate_of_a_step_scales_with_pixels_and_precision():
    """State = weights + EMA + two Adam moments exactly; the per-op fit predicts a size it was
    not fitted on; the memory per sample shrinks with checkpointing and with bf16."""
    from bsrgan.models import build_model
    from bsrgan.training.memory import estimate_step_memory, fit

    cfg = tiny(**{"model.generator_args": {"nb": 4}})
    params = list(build_model("rrdbnet_tiny", nb=4).parameters())
    n_params = sum(p.numel() for p in params)
    sizes = ((1, 8), (2, 8), (2, 12))
    plain = estimate_step_memory(cfg, sizes, precision="fp32")
    # fp32 weights, EMA, Adam exp_avg and exp_avg_sq, plus Adam's 4-byte step counters
    assert all(p.state_bytes == 4 * 4 * n_params + 4 * len(params) for p in plain.points)
    held_out = plain.points[2]
    predicted = fit(plain.points[:2]).peak_bytes(held_out.micro_batch, held_out.lq_patch)
    assert predicted == pytest.approx(held_out.peak_bytes, rel=0.01)
    assert plain.max_fit_error < 0.01
    checkpointed = estimate_step_memory(
        tiny(**{"model.generator_args": {"nb": 4}, "model.checkpoint_trunk": True}), sizes,
        precision="fp32")
    bf16 = estimate_step_memory(cfg, sizes, precision="bf16")
    per_sample = {name: est.per_sample_bytes(48, 72) for name, est in
                  (("plain", plain), ("checkpointed", checkpointed), ("bf16", bf16))}
    assert per_sample["checkpointed"] < 0.5 * per_sample["plain"]
    assert per_sample["bf16"] < 0.6 * per_sample["plain"]
    assert plain.peak_bytes(48, 72) > plain.peak_bytes(24, 72) > plain.points[0].peak_bytes
    assert plain.largest_micro_batch(72, plain.peak_bytes(10, 72)) == 10
