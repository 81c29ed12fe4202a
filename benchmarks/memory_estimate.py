"""Estimated GPU memory of the paper's training steps, derived from CPU measurements.

    python benchmarks/memory_estimate.py                  # Markdown table on stdout
    python benchmarks/memory_estimate.py --json out.json  # and the raw numbers

For stage 1 (BSRNet), stage 2 ``paper`` (PatchGAN-SN, VGG19 to conv4_4) and stage 2 ``released``
(U-Net-SN, VGG19 to conv5_4), in fp32 and bf16 autocast, with and without activation
checkpointing of the RRDB trunk: :func:`bsrgan.training.memory.estimate_step_memory` runs one
real training step on the CPU at micro-batch 1-2 and LR patches 12-16, records the bytes of all
live tensors after every op, fits each op's bytes linearly in (micro-batch x LR pixels) and
takes the maximum over the step at micro-batch 48 and LR patch 72. The table says which micro-batch fits a budget (default
70 GiB: an 80 GB H100 less ~9 GiB for the CUDA context, cuDNN workspaces and allocator slack,
which the CPU count does not see) and the accumulation that keeps the paper's batch of 48.
``holdout_error`` in the JSON: the fit on the two smaller sizes predicting the third's peak.
These are ESTIMATES; ``benchmarks/gpu_check.py`` measures the real peak on a GPU.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from bsrgan.training import load_config
from bsrgan.training.memory import GIB, estimate_step_memory, fit

REPO = Path(__file__).resolve().parent.parent
BATCH, LQ_PATCH = 48, 72
SIZES = ((1, 12), (2, 12), (2, 16))  # (micro-batch, LR patch) measured on the CPU

CASES = {  # name -> (config file, overrides)
    "stage 1 BSRNet": ("bsrnet_x4_paper.yaml", {}),
    "stage 2 paper (PatchGAN)": ("bsrgan_x4_paper.yaml", {}),
    "stage 2 released (U-Net)": ("bsrgan_x4_paper.yaml", {
        "loss.preset": "released", "model.discriminator": None, "loss.gan_weight": None,
        "loss.perceptual_preset": None}),
}


def accumulation_for(largest: int, batch: int = BATCH) -> int | None:
    """The smallest divisor-based accumulation whose micro-batch (batch / k) fits ``largest``."""
    for k in range(1, batch + 1):
        if batch % k == 0 and batch // k <= largest:
            return k
    return None


def estimate_all(budget_gib: float, cases: list[str] | None = None) -> list[dict]:
    rows = []
    for name, (file, overrides) in CASES.items():
        if cases and name not in cases:
            continue
        for precision in ("fp32", "bf16"):
            for checkpoint_trunk in (False, True):
                cfg = load_config(REPO / "experiments" / file, overrides={
                    **overrides, "model.checkpoint_trunk": checkpoint_trunk})
                cpu = time.process_time()
                est = estimate_step_memory(cfg, SIZES, precision=precision)
                last = est.points[-1]  # held out: fitted on the two smaller sizes only
                holdout = fit(est.points[:-1]).peak_bytes(last.micro_batch, last.lq_patch)
                largest = est.largest_micro_batch(LQ_PATCH, budget_gib * GIB)
                rows.append({
                    "case": name, "precision": precision, "checkpoint_trunk": checkpoint_trunk,
                    "peak_gib_batch48": est.peak_bytes(BATCH, LQ_PATCH) / GIB,
                    "peak_gib_batch1": est.peak_bytes(1, LQ_PATCH) / GIB,
                    "state_gib": est.state_bytes / GIB,
                    "per_sample_gib": est.per_sample_bytes(BATCH, LQ_PATCH) / GIB,
                    "largest_micro_batch": largest,
                    "accumulate": accumulation_for(largest),
                    "fit_error": est.max_fit_error,
                    "holdout_error": abs(holdout - last.peak_bytes) / last.peak_bytes,
                    "measured": [{"micro_batch": p.micro_batch, "lq_patch": p.lq_patch,
                                  "ops": len(p.trace), "peak_bytes": p.peak_bytes}
                                 for p in est.points],
                    "cpu_seconds": time.process_time() - cpu,
                })
                print(f"  {name}, {precision}, checkpoint_trunk={checkpoint_trunk}: "
                      f"{rows[-1]['peak_gib_batch48']:.1f} GiB at batch {BATCH}", file=sys.stderr,
                      flush=True)
    return rows


def markdown(rows: list[dict], budget_gib: float) -> str:
    header = (f"| step | precision | trunk checkpointed | est. peak, batch {BATCH} (GiB) | "
              f"est. per sample (GiB) | largest micro-batch in {budget_gib:g} GiB | "
              f"accumulate for batch {BATCH} |")
    lines = [header, "|---|---|---|---|---|---|---|"]
    for r in rows:
        acc = r["accumulate"]
        acc_text = "—" if acc is None else (f"{acc} (micro-batch {BATCH // acc})" if acc > 1
                                             else "1 (fits)")
        lines.append(f"| {r['case']} | {r['precision']} | {'yes' if r['checkpoint_trunk'] else 'no'}"
                     f" | {r['peak_gib_batch48']:.1f} | {r['per_sample_gib']:.2f} | "
                     f"{r['largest_micro_batch']} | {acc_text} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget-gib", type=float, default=70.0,
                        help="device memory a step may use (default 70: an 80 GB H100 less slack)")
    parser.add_argument("--case", action="append", choices=list(CASES),
                        help="only these cases (repeatable)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = estimate_all(args.budget_gib, args.case)
    print(markdown(rows, args.budget_gib))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"budget_gib": args.budget_gib, "rows": rows,
                                         "torch": torch.__version__}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
