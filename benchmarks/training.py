"""Training speed: optimisation steps/s and whether the data pipeline keeps up.

    python benchmarks/training.py            # CPU section, plus the GPU section when CUDA exists
    python benchmarks/training.py --quick    # fewer repetitions

CPU: steps/s of ``experiments/train_tiny.yaml`` (model only, on a fixed batch, and end to end
with the data loader), and degraded training pairs/s of one data worker at the tiny and at the
paper patch size, plus the speed-up of 2 workers over the in-process baseline.

GPU (paper config: RRDBNet nb 23, batch 48, LR patch 72): steps/s and peak memory of
fp32 eager (baseline) vs bf16 autocast + channels_last (+ torch.compile), for stage 1 (L1) and
stage 2 (L1 + VGG + GAN), and the data-loader throughput needed (steps/s x batch) against the
throughput the machine's CPU cores produce. Every ratio is against a baseline from the same run.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bsrgan.training import BlindSRDataset, Trainer, load_config
from bsrgan.training.dataset import make_loader

TINY = REPO / "experiments" / "train_tiny.yaml"
PAPER_PSNR = REPO / "experiments" / "bsrnet_x4_paper.yaml"
PAPER_GAN = REPO / "experiments" / "bsrgan_x4_paper.yaml"
# the embedded photos: step speed does not depend on which photos (the paper configs have no
# default training data and would refuse to start)
QUIET = {"validation.every": 0, "runtime.tensorboard": False, "runtime.progress": False,
         "data.hr_dir": "embedded"}


def _trainer(path: Path, **overrides) -> Trainer:
    cfg = load_config(path, overrides={**QUIET, **overrides})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-image exclusion notices
        return Trainer(cfg, tempfile.mkdtemp(prefix="bench_train_"))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def steps_per_second(trainer: Trainer, batch: dict, steps: int, warmup: int) -> float:
    """Optimisation steps/s on one fixed batch (model + optimiser + EMA, no data loading)."""
    lq, hq = batch["lq"], batch["hq"]
    if trainer.device.type == "cuda":
        lq, hq = lq.to(trainer.device), hq.to(trainer.device)
    for _ in range(warmup):
        trainer.train_step(lq, hq)
    _sync(trainer.device)
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(lq, hq)
    _sync(trainer.device)
    return steps / (time.perf_counter() - start)


def loader_pairs_per_second(dataset: BlindSRDataset, workers: int, batch: int, batches: int) -> float:
    """Degraded pairs/s delivered by a DataLoader with ``workers`` processes (0 = in-process)."""
    loader = make_loader(dataset, batch_size=batch, num_workers=workers, pin_memory=False,
                         persistent_workers=False, prefetch_factor=4)
    it = iter(loader)
    next(it)  # worker start-up is not throughput
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    rate = batches * batch / (time.perf_counter() - start)
    del it
    return rate


def cpu_section(quick: bool) -> None:
    threads = torch.get_num_threads()
    print(f"== CPU ({os.cpu_count()} cores, torch {torch.__version__}, "
          f"{threads} intra-op threads by default)")
    tiny = _trainer(TINY)
    batch = next(iter(tiny.loader))
    steps = 20 if quick else 60
    model_only = steps_per_second(tiny, batch, steps, warmup=3)
    tiny.close()
    tiny = _trainer(TINY)
    it = iter(tiny.loader)
    for _ in range(3):
        b = next(it)
        tiny.train_step(b["lq"], b["hq"])
    start = time.perf_counter()
    for _ in range(steps):
        b = next(it)
        tiny.train_step(b["lq"], b["hq"])
    end_to_end = steps / (time.perf_counter() - start)
    tiny.close()
    cfg = tiny.config
    print(f"tiny config ({cfg.model.generator}, batch {cfg.data.batch_size}, LR "
          f"{cfg.data.lq_patch}, {cfg.runtime.num_threads} thread):")
    print(f"  model only (fixed batch)        {model_only:7.1f} steps/s")
    print(f"  end to end (loader, 0 workers)  {end_to_end:7.1f} steps/s  "
          f"({end_to_end / model_only:.2f}x of model only)")

    torch.set_num_threads(1)  # a data worker runs one thread (see dataset.worker_init)
    for label, crop, patch, batch_size, n in (("tiny  (HR crop 96, LR 16)", 96, 16, 4, 40),
                                             ("paper (HR crop 320, LR 72)", 320, 72, 8, 8)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = BlindSRDataset(None, hr_crop=crop, lq_patch=patch, seed=0)
        n = max(2, n // 4) if quick else n
        base = loader_pairs_per_second(ds, 0, batch_size, n)
        two = loader_pairs_per_second(ds, 2, batch_size, n)
        print(f"data {label}: in-process (= 1 worker) {base:6.1f} pairs/s; 2 worker processes "
              f"{two:6.1f} pairs/s "
              f"({two / base:.2f}x)")
    torch.set_num_threads(threads)


def gpu_section(quick: bool, compile_: bool) -> None:
    device = torch.device("cuda")
    print(f"== GPU ({torch.cuda.get_device_name(device)}, torch {torch.__version__})")
    steps = 10 if quick else 30
    variants = [("fp32 eager", {"runtime.precision": "fp32", "runtime.channels_last": False}),
                ("bf16 + channels_last", {"runtime.precision": "bf16",
                                          "runtime.channels_last": True})]
    if compile_:
        variants.append(("bf16 + channels_last + compile",
                         {"runtime.precision": "bf16", "runtime.channels_last": True,
                          "runtime.compile": True}))
    ds_rate = None
    for stage, path, extra in (
        ("stage 1 BSRNet (L1)", PAPER_PSNR, {}),
        # random VGG weights: the speed does not depend on them, and no download is needed
        ("stage 2 BSRGAN (L1+VGG19+GAN, paper preset)", PAPER_GAN,
         {"model.init_from": None, "loss.perceptual_backbone": "vgg19",
          "loss.perceptual_pretrained": False}),
    ):
        print(f"{stage}: RRDBNet nb 23, batch 48, LR patch 72")
        baseline = None
        needed = 0.0
        for name, overrides in variants:
            try:
                trainer = _trainer(path, **{"runtime.device": "cuda", "data.num_workers": 0,
                                            **extra, **overrides})
            except (RuntimeError, OSError, ValueError) as exc:  # e.g. no VGG weights here
                print(f"  {name:32s} skipped: {exc}")
                break
            batch = next(iter(trainer.loader))
            batch_size = trainer.config.data.batch_size
            torch.cuda.reset_peak_memory_stats(device)
            warm = 8 if overrides.get("runtime.compile") else 3
            rate = steps_per_second(trainer, batch, steps, warmup=warm)
            peak = torch.cuda.max_memory_allocated(device) / 2**30
            trainer.close()
            del trainer
            torch.cuda.empty_cache()
            baseline = baseline or rate
            print(f"  {name:32s} {rate:6.2f} steps/s  {rate * batch_size:7.1f} pairs/s needed  "
                  f"peak {peak:5.1f} GiB  ({rate / baseline:.2f}x)")
            needed = max(needed, rate * batch_size)
        if ds_rate is None:
            torch.set_num_threads(1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = BlindSRDataset(None, hr_crop=320, lq_patch=72, seed=0)
            per_worker = loader_pairs_per_second(ds, 0, 8, 4 if quick else 12)
            workers = max(1, (os.cpu_count() or 2) - 2)
            ds_rate = per_worker * workers
            torch.set_num_threads(os.cpu_count() or 1)
            print(f"  data: {per_worker:.1f} pairs/s per worker; ~{ds_rate:.0f} pairs/s with "
                  f"{workers} workers (CPU cores - 2)")
        if baseline is not None:
            verdict = "keeps up" if ds_rate >= needed else "is the bottleneck"
            print(f"  loader {verdict}: needs {needed:.0f} pairs/s for the fastest variant, "
                  f"produces ~{ds_rate:.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--no-cpu", action="store_true", help="skip the CPU section")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    args = parser.parse_args()
    if not args.no_cpu:
        cpu_section(args.quick)
    if torch.cuda.is_available():
        gpu_section(args.quick, not args.no_compile)
    else:
        print("== GPU: CUDA not available, section skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
