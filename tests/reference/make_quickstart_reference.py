"""Train the short quickstart-like reference run and write (or compare) its numbers.

    python tests/reference/make_quickstart_reference.py            # rewrite quickstart_stage1.json
    python tests/reference/make_quickstart_reference.py --compare  # rerun, print the differences

The configuration is notebook 02's recipe (:func:`bsrgan.training.recipes.bsrnet_config`) at
the quickstart's sizes (``rrdbnet_small``, batch 4, 32x32 LR patches from 160x160 HR crops,
Adam 4e-4, the embedded photos) but 60 instead of 1,500 iterations and EMA 0.9 instead of
0.99 (so the averaged weights follow the training), so a test can
rerun it in about 20 s. ``tests/test_reproducibility.py`` compares a fresh run with the committed
numbers within the tolerances stored next to them; ``docs/reproducibility.md`` says how those
were measured.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

REFERENCE = Path(__file__).with_name("quickstart_stage1.json")

#: Notebook 02 parameters of the reference run.
PARAMETERS = {
    "SEED": 0, "MODEL": "rrdbnet_small", "NUM_ITERS": 60, "BATCH_SIZE": 4, "LQ_PATCH": 32,
    "HR_CROP": 160, "LR": 4.0e-4, "EMA_DECAY": 0.9, "DEGRADATION": "bsrgan", "HR_DIR": "embedded",
    "VAL_EVERY": 20, "VAL_IMAGES": 4, "VAL_HR_SIZE": 128, "CHECKPOINT_EVERY": 1000,
    "NUM_WORKERS": 0, "DEVICE": "cpu", "PRECISION": "fp32", "PROGRESS": False,
    "CONFIG_OVERRIDES": {"runtime.tensorboard": False},
}

#: Agreement a rerun must reach (docs/reproducibility.md has the measurements behind them).
TOLERANCE = {
    # the synthetic validation pairs and the bicubic line (numpy PCG64 + OpenCV + JPEG): measured
    # identical with 1 or 2 threads, AVX-512, AVX2 or SSE4.1 kernels
    "psnr_bicubic_db": 1.0e-3,
    # the untrained network (torch's CPU generator is the same everywhere): measured identical
    "psnr_step0_db": 1.0e-3,
    # after 60 Adam steps: measured at most 7.2e-5 dB apart across thread counts and SIMD widths
    "psnr_db": 1.0e-2,
    # per logged window of the L1 loss: measured at most 2.8e-5 relative
    "l_pix_rel": 1.0e-3,
}


def run(threads: int | None = None, iters: int | None = None, val_every: int | None = None,
        ema_decay: float | None = None) -> dict:
    """Train the reference configuration in a temporary folder; return its numbers.

    ``iters`` / ``val_every`` / ``ema_decay`` change the run (measurements of how far reruns
    drift over longer training, see docs/reproducibility.md); the reference uses none of them.
    """
    import torch

    from bsrgan.training import train
    from bsrgan.training.recipes import bsrnet_config

    params = dict(PARAMETERS)
    for key, value in (("NUM_ITERS", iters), ("VAL_EVERY", val_every), ("EMA_DECAY", ema_decay)):
        if value is not None:
            params[key] = value
    if threads:
        params["CONFIG_OVERRIDES"] = {**params["CONFIG_OVERRIDES"], "runtime.num_threads": threads}
    config = bsrnet_config(params, val_dir=None, source="reference parameters")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = train(config, Path(tmp) / "run", progress=False)
        seconds = time.perf_counter() - t0
        weights = torch.load(result.ema_weights, map_location="cpu", weights_only=True)
    digest = hashlib.sha256()
    for name in sorted(weights):
        digest.update(name.encode())
        digest.update(weights[name].contiguous().numpy().tobytes())
    history, log = result.history, result.train_log
    return {
        "steps": [int(s) for s in history["step"]],
        "psnr": [round(float(v), 6) for v in history["psnr"]],
        "ssim": [round(float(v), 6) for v in history["ssim"]],
        "psnr_bicubic": [round(float(v), 6) for v in history["psnr_bicubic"]],
        "l_pix": [round(float(v), 6) for v in log["l_pix"]],
        "ema_sha256": digest.hexdigest(),
        "seconds": round(seconds, 1),
        "threads": torch.get_num_threads() if not threads else threads,
    }


def differences(ref: dict, new: dict) -> dict[str, float]:
    """Largest absolute differences (and relative for the loss) between two runs."""
    import numpy as np

    def gap(key):
        return float(np.max(np.abs(np.subtract(ref[key], new[key]))))

    loss_rel = np.abs(np.subtract(ref["l_pix"], new["l_pix"])) / np.abs(ref["l_pix"])
    return {
        "psnr_bicubic_db": gap("psnr_bicubic"),
        "psnr_step0_db": abs(ref["psnr"][0] - new["psnr"][0]),
        "psnr_db": gap("psnr"),
        "l_pix_rel": float(loss_rel.max()),
        "bit_identical_weights": ref["ema_sha256"] == new["ema_sha256"],
    }


def environment() -> dict:
    import cv2
    import numpy as np
    import torch

    return {"torch": torch.__version__, "numpy": np.__version__, "opencv": cv2.__version__,
            "python": platform.python_version(), "machine": platform.machine(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", action="store_true",
                        help="rerun and print the differences to the committed numbers")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--iters", type=int, default=None,
                        help="measurement only: train this long instead (writes --json)")
    parser.add_argument("--val-every", type=int, default=None, help="with --iters")
    parser.add_argument("--ema-decay", type=float, default=None, help="with --iters")
    parser.add_argument("--json", type=Path, default=None,
                        help="measurement only: write this run's numbers here")
    args = parser.parse_args(argv)
    numbers = run(args.threads, args.iters, args.val_every, args.ema_decay)
    if args.json is not None:
        args.json.write_text(json.dumps({"environment": environment(), "numbers": numbers},
                                        indent=1) + "\n")
        print(f"wrote {args.json}")
        return 0
    if args.compare:
        ref = json.loads(REFERENCE.read_text())
        diff = differences(ref["numbers"], numbers)
        print(json.dumps({"environment": environment(), "threads": numbers["threads"],
                          "seconds": numbers["seconds"], "differences": diff,
                          "final_psnr": numbers["psnr"][-1]}, indent=1))
        ok = all(diff[k] <= v for k, v in TOLERANCE.items())
        print("within tolerance" if ok else "OUTSIDE tolerance", file=sys.stderr)
        return 0 if ok else 1
    REFERENCE.write_text(json.dumps({
        "what": "notebook 02 recipe at the quickstart's sizes, 60 iterations (see the script)",
        "parameters": PARAMETERS, "tolerance": TOLERANCE, "environment": environment(),
        "numbers": {k: v for k, v in numbers.items() if k != "seconds"}}, indent=1) + "\n")
    print(f"wrote {REFERENCE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
