"""Training speed on the CPU: optimisation steps/s and whether the data pipeline keeps up.

    python benchmarks/training.py            # the CPU measurements below
    python benchmarks/training.py --quick    # fewer repetitions

Steps/s of ``experiments/train_tiny.yaml`` (model only, on a fixed batch, and end to end with
the data loader), and degraded training pairs/s of one data worker at the tiny and at the paper
patch size, plus the speed-up of 2 workers over the in-process baseline. Every ratio is against
a baseline from the same run.

On a GPU run ``benchmarks/gpu_check.py`` instead: the paper configs' steps/s and peak memory per
precision, the loader's supply against that demand, and tiled inference.
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
# the embedded photos: step speed does not depend on which photos
QUIET = {"validation.every": 0, "runtime.tensorboard": False, "runtime.progress": False,
         "data.hr_dir": "embedded"}


def _trainer(path: Path, **overrides) -> Trainer:
    cfg = load_config(path, overrides={**QUIET, **overrides})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-image exclusion notices
        return Trainer(cfg, tempfile.mkdtemp(prefix="bench_train_"))


def steps_per_second(trainer: Trainer, batch: dict, steps: int, warmup: int) -> float:
    """Optimisation steps/s on one fixed batch (model + optimiser + EMA, no data loading)."""
    lq, hq = batch["lq"], batch["hq"]
    for _ in range(warmup):
        trainer.train_step(lq, hq)
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(lq, hq)
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    cpu_section(args.quick)
    if torch.cuda.is_available():
        print("== GPU: run `python benchmarks/gpu_check.py` (training, loader and inference on "
              "the GPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
