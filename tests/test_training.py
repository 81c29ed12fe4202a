"""Training: config loading, seeded data, EMA, checkpoints, one step per stage, exact resume after
SIGKILL, the non-finite guard, DDP on gloo, and a short run that beats its starting PSNR.

Everything runs on CPU with rrdbnet_tiny and 16x16 LR patches; subprocess runs use one thread.
"""
from __future__ import annotations

import copy
import json
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import torch
import yaml
from training_helpers import (
    FAST,
    REPO,
    TINY,
    small_images,
    straight_and_resumed,
    subprocess_env,
    tiny_config,
    torchrun_train,
    write_config,
)

from bsrgan.training import (
    LOSS_PRESETS,
    BlindSRDataset,
    ConfigError,
    ModelEMA,
    NonFiniteLossError,
    ResumableSampler,
    Trainer,
    config_from_dict,
    config_to_dict,
    list_checkpoints,
    load_checkpoint,
    load_config,
    replace,
)
from bsrgan.training import checkpoint as ckpt
from bsrgan.training.dataset import flip_rotate, make_loader

EXPERIMENTS = REPO / "experiments"


# ----------------------------------------------------------------------------- config


def test_repo_configs_load_and_resolve_presets():
    tiny = load_config(TINY)
    assert tiny.stage == "psnr" and tiny.model.generator == "rrdbnet_tiny"
    bsrnet = load_config(EXPERIMENTS / "bsrnet_x4_paper.yaml")
    assert bsrnet.optim.lr_g == 1.0e-4
    assert bsrnet.optim.milestones == [200_000, 400_000, 600_000, 800_000, 1_000_000, 2_000_000]
    assert bsrnet.optim.gamma == 0.5 and bsrnet.ema_decay == 0.999
    assert (bsrnet.data.batch_size, bsrnet.data.lq_patch, bsrnet.data.hr_crop) == (48, 72, 320)
    assert bsrnet.model.generator == "rrdbnet_x4" and bsrnet.loss.pixel == "l1"
    bsrgan = load_config(EXPERIMENTS / "bsrgan_x4_paper.yaml")
    assert bsrgan.stage == "gan" and bsrgan.loss.preset == "paper"
    assert bsrgan.optim.lr_g == bsrgan.optim.lr_d == 5.0e-5
    assert bsrgan.optim.milestones == [800_000, 1_600_000]
    assert (bsrgan.model.discriminator, bsrgan.loss.gan, bsrgan.loss.gan_weight) == (
        "patchgan_sn", "lsgan", 0.1)
    assert bsrgan.loss.perceptual_weight == 1.0 and bsrgan.loss.pixel_weight == 1.0
    assert bsrgan.model.init_from  # stage 2 starts from BSRNet
    released = replace(bsrgan, **{"loss.preset": "released", "loss.gan_weight": None,
                                  "model.discriminator": None, "loss.perceptual_preset": None})
    assert (released.model.discriminator, released.loss.gan_weight,
            released.loss.perceptual_preset) == ("unet_sn", 1.0, "released")
    assert LOSS_PRESETS["released"]["gan"] == "lsgan"


@pytest.mark.parametrize("name", ["bsrnet_x4_paper", "bsrgan_x4_paper"])
def test_paper_configs_build_a_trainer_on_cpu(tmp_path, name):
    """The GPU configs wire up (models, losses, optimisers, loader) without running a step."""
    overrides = {**FAST, "runtime.device": "cpu", "data.hr_crop": 320, "data.hr_dir": "embedded"}
    if name.startswith("bsrgan"):
        overrides.update({"model.init_from": None, "loss.perceptual_backbone": "vgg16",
                          "loss.perceptual_pretrained": False})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the embedded cat photo is below the 320 crop
        trainer = Trainer(load_config(EXPERIMENTS / f"{name}.yaml", overrides=overrides),
                          tmp_path)
    n_params = sum(p.numel() for p in trainer.generator.parameters())
    assert n_params == 16_697_987  # the released RRDBNet x4
    assert trainer.autocast_dtype is None  # fp32 on CPU
    assert trainer.sched_g.milestones == dict.fromkeys(trainer.config.optim.milestones, 1)
    if name.startswith("bsrgan"):
        assert type(trainer.discriminator).__name__ == "PatchGANDiscriminator"
        assert trainer.gan_loss.weight == 0.1 and trainer.opt_d.param_groups[0]["lr"] == 5.0e-5
    assert ("chelsea", "300x451 < crop 320") in trainer.dataset.excluded
    trainer.close()


def test_config_explicit_values_win_over_preset():
    cfg = config_from_dict({"stage": "gan", "loss": {"preset": "paper", "gan_weight": 0.5},
                            "optim": {"lr_d": 1.0e-4}})
    assert cfg.loss.gan_weight == 0.5 and cfg.optim.lr_d == 1.0e-4 and cfg.optim.lr_g == 5.0e-5


@pytest.mark.parametrize("text, fragment", [
    ("total_step: 10\n", "unknown key(s) total_step"),
    ("data:\n  batchsize: 4\n", "unknown key(s) data.batchsize"),
    ("optim:\n  lr_g: 1e-4\n", "YAML 1.1"),
    ("seed: 1.5\n", "seed must be int"),
    ("runtime:\n  compile: 1\n", "runtime.compile must be bool"),
    ("stage: gan\n", "loss.preset is required"),
    ("stage: gan\nloss:\n  preset: fancy\n", "loss.preset must be one of"),
    ("stage: dance\n", "stage must be one of"),
    ("data:\n  hr_crop: 100\n  lq_patch: 72\n", "hr_crop (100) must be >="),
    ("loss:\n  preset: paper\n", "gan stage only"),
    ("- 1\n- 2\n", "top level must be a mapping"),
])
def test_config_errors_name_file_and_key(tmp_path, text, fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value) and fragment in str(info.value)


def test_config_roundtrip_is_lossless(tmp_path):
    cfg = load_config(EXPERIMENTS / "bsrgan_x4_paper.yaml")
    again = config_from_dict(yaml.safe_load(yaml.safe_dump(config_to_dict(cfg))))
    assert again == cfg


# ----------------------------------------------------------------------------- data


def test_dataset_is_a_pure_function_of_seed_epoch_index():
    images = small_images()
    ds = BlindSRDataset(images, hr_crop=64, lq_patch=16, seed=3)
    a, b = ds[(2, 1)], BlindSRDataset(images, hr_crop=64, lq_patch=16, seed=3)[(2, 1)]
    assert a["lq"].shape == (3, 16, 16) and a["hq"].shape == (3, 64, 64)
    assert torch.equal(a["lq"], b["lq"]) and torch.equal(a["hq"], b["hq"])
    assert 0.0 <= float(a["lq"].min()) and float(a["lq"].max()) <= 1.0
    assert not torch.equal(a["lq"], ds[(3, 1)]["lq"])  # next epoch: new crop/degradation
    other_seed = BlindSRDataset(images, hr_crop=64, lq_patch=16, seed=4)
    assert not torch.equal(a["hq"], other_seed[(2, 1)]["hq"])


def test_loader_workers_and_resume_offset_reproduce_the_stream():
    ds = BlindSRDataset(small_images(), hr_crop=64, lq_patch=16, seed=0)
    kw = {"batch_size": 2, "pin_memory": False, "persistent_workers": True, "prefetch_factor": 2}
    stream = make_loader(ds, num_workers=0, **kw)
    it = iter(stream)
    first = [next(it) for _ in range(4)]  # 8 samples: spans 3 epochs of 3 images
    with_workers = iter(make_loader(ds, num_workers=2, **kw))
    assert all(torch.equal(b["lq"], next(with_workers)["lq"]) for b in first)
    resumed = iter(make_loader(ds, num_workers=0, start_step=3, **kw))
    assert torch.equal(next(resumed)["hq"], first[3]["hq"])
    assert [int(e) for e in first[1]["epoch"]] == [0, 1]  # epochs continue inside a batch


def test_sampler_shards_each_epoch_across_ranks():
    ranks = [ResumableSampler(10, seed=1, rank=r, world_size=2) for r in range(2)]
    epoch0 = [[i for _, i in _take(iter(s), 5)] for s in ranks]
    assert sorted(epoch0[0] + epoch0[1]) == list(range(10))
    later = ResumableSampler(10, seed=1, rank=1, world_size=2, start=7)
    assert _take(iter(later), 3) == _take(iter(ranks[1]), 10)[7:]


def _take(it, n):
    return [next(it) for _ in range(n)]


def test_small_and_unreadable_images_are_excluded_with_a_warning(tmp_path):
    from bsrgan.io import imwrite

    images = small_images()
    imwrite(tmp_path / "big.png", images["img2"])
    imwrite(tmp_path / "small.png", images["img1"][:40, :40])
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.warns(UserWarning, match="excluded 2 of 3 images"):
        ds = BlindSRDataset(tmp_path, hr_crop=64, lq_patch=16)
    assert ds.names == ["big.png"]
    reasons = dict(ds.excluded)
    assert "40x40 < crop 64" in reasons["small.png"] and "unreadable" in reasons["broken.png"]
    assert ds[0]["hq"].shape == (3, 64, 64)
    with pytest.raises(ValueError, match="no usable HR image"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        BlindSRDataset({"a": images["img1"]}, hr_crop=320, lq_patch=72)


def test_flip_rotate_covers_the_eight_dihedral_transforms():
    img = np.arange(2 * 3 * 1, dtype=np.float32).reshape(2, 3, 1)
    outs = {flip_rotate(img, m).tobytes() + bytes(flip_rotate(img, m).shape) for m in range(8)}
    assert len(outs) == 8
    with pytest.raises(ValueError):
        flip_rotate(img, 8)


def test_validation_set_is_fixed_and_cached(tmp_path):
    from bsrgan.training.validation import build_validation_set, cached_validation_set

    kw = {"num_images": 2, "hr_size": 64, "scale": 4, "seed": 7}
    images = small_images()
    first = cached_validation_set(tmp_path, images, **kw)
    assert first.lq.shape == (2, 16, 16, 3) and first.hq.shape == (2, 64, 64, 3)
    stamp = (tmp_path / "set.npz").stat().st_mtime_ns
    again = cached_validation_set(tmp_path, images, **kw)  # read back, not rebuilt
    assert (tmp_path / "set.npz").stat().st_mtime_ns == stamp
    assert np.array_equal(first.lq, again.lq) and first.names == again.names
    assert np.array_equal(build_validation_set(images, **kw).lq, first.lq)  # same seeds
    other = cached_validation_set(tmp_path, images, **{**kw, "seed": 8})  # recipe changed
    assert not np.array_equal(other.lq, first.lq)


# ----------------------------------------------------------------------------- EMA, checkpoints


def test_ema_follows_the_exponential_average():
    model = torch.nn.Linear(3, 2)
    ema = ModelEMA(model, decay=0.9)
    before = ema.module.weight.clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.update(model)
    torch.testing.assert_close(ema.module.weight, 0.9 * before + 0.1 * model.weight)
    assert not ema.module.weight.requires_grad
    with pytest.raises(ValueError):
        ModelEMA(model, decay=1.0)


def test_checkpoints_are_atomic_pruned_and_validated(tmp_path):
    for step in (10, 20, 30):
        ckpt.save_checkpoint(tmp_path, step, {"x": torch.tensor([step])}, keep_last=2)
    (tmp_path / ".step_00000040.pt.tmp-abc.pt").write_bytes(b"partial")  # killed mid-write
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_00000020.pt", "step_00000030.pt"]
    assert int(load_checkpoint(ckpt.latest_checkpoint(tmp_path))["x"]) == 30
    (tmp_path / "garbage.pt").write_bytes(b"\x00" * 10)
    with pytest.raises(ValueError, match="garbage.pt"):
        load_checkpoint(tmp_path / "garbage.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a bsrgan training checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_fresh_run_refuses_a_folder_with_checkpoints(tmp_path):
    ckpt.save_checkpoint(tmp_path / "checkpoints", 5, {}, keep_last=1)
    with pytest.raises(FileExistsError, match="resume"):
        Trainer(tiny_config(), tmp_path)
    trainer = Trainer(tiny_config(), tmp_path, overwrite=True)
    assert trainer.step == 0 and not list_checkpoints(tmp_path / "checkpoints")
    trainer.close()


# ----------------------------------------------------------------------------- one step per stage


def _fixed_batch(cfg):
    ds = BlindSRDataset(small_images(), hr_crop=cfg.data.hr_crop, lq_patch=cfg.data.lq_patch,
                        seed=5)
    items = [ds[(0, i)] for i in range(2)]
    return torch.stack([x["lq"] for x in items]), torch.stack([x["hq"] for x in items])


def test_psnr_step_changes_weights_and_lowers_the_loss(tmp_path):
    cfg = tiny_config(**{"optim.lr_g": 1.0e-3})
    trainer = Trainer(cfg, tmp_path)
    lq, hq = _fixed_batch(cfg)
    with torch.no_grad():
        before = trainer.generator_losses(trainer.generator(lq), hq)["g_total"].item()
    weights = copy.deepcopy(trainer.generator.state_dict())
    ema = copy.deepcopy(trainer.ema.state_dict())
    values, applied = trainer.train_step(lq, hq)
    assert applied and values["g_total"] == pytest.approx(before, rel=1e-5)
    with torch.no_grad():
        after = trainer.generator_losses(trainer.generator(lq), hq)["g_total"].item()
    assert after < before
    changed = [k for k, v in trainer.generator.state_dict().items() if not torch.equal(v, weights[k])]
    assert len(changed) == len(weights)
    assert not torch.equal(trainer.ema.state_dict()["conv_first.weight"], ema["conv_first.weight"])
    assert trainer.opt_g.state_dict()["state"][0]["step"] == 1
    trainer.close()


@pytest.mark.parametrize("preset", ["paper", "released"])
def test_gan_step_updates_g_and_d_and_lowers_both_losses(tmp_path, preset):
    bsrnet = tmp_path / "bsrnet.pth"
    from bsrgan.models import build_model

    torch.save(build_model("rrdbnet_tiny").state_dict(), bsrnet)
    cfg = tiny_config(**{"stage": "gan", "loss.preset": preset, "optim.lr_g": 1.0e-3,
                         "optim.lr_d": 1.0e-4, "loss.perceptual_backbone": "vgg16",
                         "loss.perceptual_pretrained": False, "model.init_from": str(bsrnet)})
    trainer = Trainer(cfg, tmp_path / "run")
    assert trainer.config.model.discriminator == LOSS_PRESETS[preset]["discriminator"]
    init = torch.load(bsrnet)
    assert all(torch.equal(v, init[k]) for k, v in trainer.generator.state_dict().items())
    lq, hq = _fixed_batch(cfg)
    frozen_d = copy.deepcopy(trainer.discriminator)
    g_before = copy.deepcopy(trainer.generator.state_dict())
    d_before = copy.deepcopy(trainer.discriminator.state_dict())

    def losses(disc):
        live = trainer.discriminator
        trainer.discriminator = trainer.d_model = disc
        with torch.no_grad():
            sr = trainer.generator(lq)
            g = trainer.generator_losses(sr, hq)["g_total"].item()
            d = trainer.discriminator_losses(sr_fixed, hq)["d_loss"].item()
        trainer.discriminator = trainer.d_model = live
        return g, d

    with torch.no_grad():
        sr_fixed = trainer.generator(lq)
    frozen_d.eval()  # no power-iteration update while scoring
    g0, d0 = losses(frozen_d)
    values, applied = trainer.train_step(lq, hq)
    assert applied and {"l_pix", "l_percep", "l_gan", "d_loss"} <= set(values)
    new_d = copy.deepcopy(trainer.discriminator).eval()
    g1, _ = losses(frozen_d)  # G improved against the D it was trained against
    _, d1 = losses(new_d)  # D improved on the same real/fake pair
    assert g1 < g0 and d1 < d0
    assert any(not torch.equal(v, g_before[k]) for k, v in trainer.generator.state_dict().items())
    assert any(not torch.equal(v, d_before[k])
               for k, v in trainer.discriminator.state_dict().items() if v.is_floating_point())
    assert "VGG16" in trainer.perceptual_description
    trainer.close()


# ----------------------------------------------------------------------------- non-finite guard


def test_nonfinite_steps_are_skipped_then_stop_the_run(tmp_path):
    cfg = tiny_config(**{"total_steps": 20, "checkpoint_every": 4, "runtime.max_nonfinite": 3})
    trainer = Trainer(cfg, tmp_path)
    poison = {"on": False}
    trainer.generator.register_forward_hook(
        lambda m, i, out: out * float("nan") if poison["on"] else out)
    trainer.run(until=4)
    assert [p.name for p in list_checkpoints(tmp_path / "checkpoints")] == ["step_00000004.pt"]
    good = copy.deepcopy(trainer.generator.state_dict())
    ema = copy.deepcopy(trainer.ema.state_dict())
    poison["on"] = True
    trainer.run(until=5)  # one bad batch: skipped, counted, nothing updated
    assert trainer.nonfinite_total == 1 and trainer.step == 5
    assert all(torch.equal(v, good[k]) for k, v in trainer.generator.state_dict().items())
    assert all(torch.equal(v, ema[k]) for k, v in trainer.ema.state_dict().items())
    assert trainer.opt_g.state_dict()["state"][0]["step"] == 4
    poison["on"] = False
    trainer.run(until=6)
    assert trainer.nonfinite_streak == 0
    poison["on"] = True
    with pytest.raises(NonFiniteLossError, match="3 consecutive steps.*step_00000004.pt"):
        trainer.run()
    assert trainer.step == 9 and trainer.nonfinite_total == 4
    trainer.close()
    kept = list_checkpoints(tmp_path / "checkpoints")
    assert [p.name for p in kept] == ["step_00000004.pt"]
    state = load_checkpoint(kept[0])
    assert all(torch.isfinite(v).all() for v in state["generator"].values())
    rows = (tmp_path / "train_log.csv").read_text().splitlines()
    assert rows[0].startswith("step,") and "nonfinite_total" in rows[0]


# ----------------------------------------------------------------------------- exact resume


@pytest.mark.slow  # three interpreter start-ups: 15-35 s on 2 busy cores
def test_resume_after_sigkill_is_bitwise_identical(tmp_path):
    n = 6
    config = write_config(tmp_path / "cfg.yaml", total_steps=2 * n, checkpoint_every=n,
                           keep_last=3, **{"runtime.deterministic": True})
    train = [sys.executable, "-m", "bsrgan.train", "--config", str(config), "--no-progress"]
    env = subprocess_env()
    straight = subprocess.run(train + ["--out", str(tmp_path / "straight")], check=False, env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert straight.returncode == 0, straight.stderr[-2000:]

    killed_dir = tmp_path / "killed"
    proc = subprocess.Popen(train + ["--out", str(killed_dir)], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    mid = killed_dir / "checkpoints" / f"step_{n:08d}.pt"
    deadline = time.monotonic() + 240
    while not mid.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert mid.exists()
    assert not (killed_dir / "checkpoints" / f"step_{2 * n:08d}.pt").exists()

    resumed = subprocess.run(train + ["--out", str(killed_dir), "--resume"], check=False, env=env,
                             cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / f"step_{2 * n:08d}.pt")
    b = load_checkpoint(killed_dir / "checkpoints" / f"step_{2 * n:08d}.pt")
    for key in ("generator", "ema"):
        assert a[key].keys() == b[key].keys()
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key]), key
    adam_a, adam_b = a["optimizer_g"]["state"], b["optimizer_g"]["state"]
    assert all(torch.equal(adam_a[i]["exp_avg_sq"], adam_b[i]["exp_avg_sq"]) for i in adam_a)
    assert a["scheduler_g"] == b["scheduler_g"]
    # and training did move the weights away from the mid-run checkpoint
    m = load_checkpoint(mid)
    assert not torch.equal(m["generator"]["conv_last.weight"], b["generator"]["conv_last.weight"])
    # the resumed log has each step once
    steps = [int(r.split(",")[0]) for r in
             (killed_dir / "train_log.csv").read_text().splitlines()[1:]]
    assert steps == sorted(set(steps)) and steps[-1] == 2 * n


def test_run_in_chunks_continues_the_data_stream(tmp_path):
    """run(until=2) then run() in one process == run() straight: no batch is seen twice."""
    cfg = tiny_config(total_steps=4, checkpoint_every=100)
    straight = Trainer(cfg, tmp_path / "a")
    straight.run()
    chunked = Trainer(cfg, tmp_path / "b")
    chunked.run(until=2)
    assert chunked.step == 2
    chunked.run()
    for name, value in straight.generator.state_dict().items():
        assert torch.equal(value, chunked.generator.state_dict()[name]), name
    straight.close()
    chunked.close()


def test_gan_stage_resume_restores_discriminator_and_both_optimisers(tmp_path):
    cfg = tiny_config(**{"stage": "gan", "loss.preset": "released", "total_steps": 4,
                         "checkpoint_every": 2, "keep_last": 5, "optim.lr_g": None,
                         "loss.perceptual_backbone": "vgg16", "loss.perceptual_pretrained": False})
    a, b = straight_and_resumed(cfg, tmp_path, stop_at=2)
    for key in ("generator", "ema", "discriminator"):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key]), key
    assert a["scheduler_d"] == b["scheduler_d"]
    d_a, d_b = a["optimizer_d"]["state"], b["optimizer_d"]["state"]
    assert all(torch.equal(d_a[i]["exp_avg"], d_b[i]["exp_avg"]) for i in d_a)


# ----------------------------------------------------------------------------- DDP


def test_ddp_gloo_two_processes_end_with_identical_weights(tmp_path):
    """Stage 1 under torchrun, with a DataLoader worker process per rank inside the trainer."""
    config = write_config(tmp_path / "cfg.yaml", total_steps=3, checkpoint_every=3,
                           **{"data.num_workers": 1, "data.persistent_workers": True})
    done = torchrun_train(config, tmp_path / "run")
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    digests = summary["rank_weight_digests"]["generator"]
    assert summary["world_size"] == 2 and len(digests) == 2 and digests[0] == digests[1]
    assert summary["effective_batch"] == 2 * summary["batch_per_process"]
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "step_00000003.pt")
    from bsrgan.models import build_model
    from bsrgan.training.trainer import _state_digest

    model = build_model("rrdbnet_tiny")
    model.load_state_dict(state["generator"])
    assert _state_digest(model) == digests[0]  # the saved weights are those every rank holds
    # only rank 0 wrote logs
    assert len((tmp_path / "run" / "train_log.csv").read_text().splitlines()) >= 2


# ----------------------------------------------------------------------------- learning + CLI


def test_short_run_beats_its_starting_validation_psnr(tmp_path):
    pytest.importorskip("bsrgan.metrics")
    from bsrgan.models import load_pretrained
    from bsrgan.training import train

    result = train(TINY, tmp_path, progress=False, overrides={
        "runtime.tensorboard": True, "total_steps": 200, "validation.every": 100})
    hist = result.history
    assert list(hist["step"]) == [0, 100, 200]
    assert hist["psnr"].iloc[-1] > hist["psnr"].iloc[0] + 1.0
    assert hist["psnr_bicubic"].nunique() == 1  # the reference line is fixed
    assert result.final_metrics["psnr"] == pytest.approx(hist["psnr"].iloc[-1])
    model = load_pretrained(result.ema_weights)
    assert model.sf == 4
    from_checkpoint = load_pretrained(result.last_checkpoint).state_dict()  # reads its "ema"
    assert all(torch.equal(v, from_checkpoint[k]) for k, v in model.state_dict().items())
    assert (tmp_path / "samples" / "step_00000200.png").is_file()
    assert (tmp_path / "validation" / "set.npz").is_file()
    assert any((tmp_path / "tb").iterdir())
    assert list(result.train_log["step"])[-1] == 200


def test_cli_reports_config_errors(tmp_path, capsys):
    from bsrgan.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("total_steps: ten\n")
    assert main(["train", "--config", str(bad)]) == 2
    assert "total_steps must be int" in capsys.readouterr().err
    assert main(["train", "--config", str(bad), "--set", "nonsense"]) == 2


def test_a_missing_validation_folder_is_reported_under_its_config_key(tmp_path):
    config = tiny_config(**{"validation.every": 1, "validation.hr_dir": str(tmp_path / "nope")})
    with pytest.raises(FileNotFoundError, match=r"validation\.hr_dir: HR source not found: .*nope"):
        Trainer(config, tmp_path / "run")


def test_validation_photos_smaller_than_the_crop_are_reported_under_the_config_key(tmp_path):
    from bsrgan.io import imwrite

    folder = tmp_path / "val"
    imwrite(folder / "small.png", np.zeros((40, 40, 3), np.float32))
    config = tiny_config(**{"validation.every": 1, "validation.hr_dir": str(folder),
                            "validation.hr_size": 64})
    with pytest.raises(ValueError, match=r"validation\.hr_dir: no validation image is at least"):
        Trainer(config, tmp_path / "run")
