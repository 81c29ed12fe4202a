"""Speed and agreement of our torch NRQM against pyiqa's, side by side on the CPU.

For each image: the centre 512 x 512 crop (``--size``) of the PIRM luma (BT.601 Y of the uint8
image, shaved 4 px) of a published SR output is scored by pyiqa's ``NRQM`` and by ours
(``bsrgan.metrics.nrqm.NrqmScorer``) in this process, with the same model file. Printed per
image: CPU seconds of each (``time.process_time``: on a shared machine other processes inflate
it far less than wall time; wall seconds beside it), the speed ratio, the score difference and
the largest relative difference of the 138 features (pyiqa's captured on the way into its
forests). The last line is one JSON object with the totals.

Model: ``--model NRQM_model.mat`` when given; otherwise a synthetic model in the same layout
(``tests/nrqm_fixture.py``: 24 trees per forest grown on the images' own features, so their
paths differ). pyiqa walks the trees in Python, so with the real model (more trees) pyiqa's
time only grows: the synthetic model understates the speed-up.

    python benchmarks/metrics.py                       # 3 published outputs, 1 thread
    python benchmarks/metrics.py --images a.png b.png --size 512 --threads 1 --repeats 3

Images default to published BSRGAN / ESRGAN outputs of RealSRSet, found through the asset
registry (``BSRGAN_MIRRORS`` or a download).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

#: Files in the registry's layout: only these three are fetched (the ESRGAN asset as a whole
#: lacks two files in the offline mirror).
DEFAULT_IMAGES = ("realsrset-published/bsrgan/building_BSRGAN.png",
                  "realsrset-published/esrgan/Lincoln_ESRGAN.png",
                  "realsrset-published/bsrgan/oldphoto2_BSRGAN.png")
REPO = Path(__file__).resolve().parent.parent


def default_images() -> list[Path]:
    from bsrgan.assets import AssetError, resolve

    try:
        return [resolve(relpath, progress=False) for relpath in DEFAULT_IMAGES]
    except (AssetError, OSError) as err:
        raise SystemExit(f"published SR outputs not available ({err}); pass --images PATH ...") from err


def luma_crop(path: Path, size: int) -> np.ndarray:
    """Centre (size, size) crop of the PIRM luma of ``path`` (float64, 0-255)."""
    from bsrgan.io import imread
    from bsrgan.metrics.protocols import get_protocol, luma_for_protocol

    luma = luma_for_protocol(imread(path), get_protocol("pirm"))
    if min(luma.shape) < size:
        raise SystemExit(f"{path}: its luma is {luma.shape[0]}x{luma.shape[1]}, smaller than --size {size}")
    top, left = (luma.shape[0] - size) // 2, (luma.shape[1] - size) // 2
    return np.ascontiguousarray(luma[top : top + size, left : left + size])


def nrqm_fixture():
    """``tests/nrqm_fixture.py`` (synthetic model files, pyiqa's NRQM with its features)."""
    spec = importlib.util.spec_from_file_location("nrqm_fixture", REPO / "tests" / "nrqm_fixture.py")
    fixture = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = fixture  # dataclasses look their module up while the file runs
    spec.loader.exec_module(fixture)
    return fixture


def timed(fn, *args):
    """(result, CPU seconds, wall seconds) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn(*args)
    return out, time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", nargs="+", type=Path, help="SR images (default: 3 published outputs)")
    parser.add_argument("--size", type=int, default=512, help="centre crop of the luma (px)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both")
    parser.add_argument("--repeats", type=int, default=3, help="runs of ours per image (fastest kept)")
    parser.add_argument("--model", type=Path, help="NRQM_model.mat (default: a synthetic one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from bsrgan.metrics.nrqm import NrqmScorer

    images = args.images or default_images()
    lumas = [luma_crop(p, args.size) for p in images]
    fixture = nrqm_fixture()
    with tempfile.TemporaryDirectory() as tmp:
        model_path = args.model or fixture.synthetic_model_for(lumas, Path(tmp) / "NRQM_model.mat",
                                                               np.random.default_rng(0))
        ours = NrqmScorer(model_path, device="cpu")
        theirs = fixture.pyiqa_nrqm_with_features(model_path)
        rows = []
        for path, luma in zip(images, lumas):
            ours(luma)  # warm-up: masks and grids are cached per image size
            score, cpu, wall = min((timed(ours, luma) for _ in range(args.repeats)), key=lambda r: r[1])
            feats = ours.features(luma).groups()  # untimed, for the comparison
            (ref, ref_feats), ref_cpu, ref_wall = timed(theirs, luma)
            rel = max(float((np.abs(a.numpy() - b) / np.abs(b)).max())
                      for a, b in zip(feats, ref_feats))
            rows.append({"image": path.name, "pyiqa_cpu_s": ref_cpu, "pyiqa_wall_s": ref_wall,
                         "ours_cpu_s": cpu, "ours_wall_s": wall, "score": score,
                         "score_diff": abs(score - ref), "feature_rel_diff": rel})
            print(f"{path.name:24s} pyiqa {ref_cpu:7.2f} s cpu ({ref_wall:6.2f} wall)  "
                  f"ours {cpu:6.3f} s cpu ({wall:6.3f} wall)  x{ref_cpu / cpu:5.1f}  "
                  f"|dscore| {abs(score - ref):.1e}  max feature rel diff {rel:.1e}", flush=True)
    total_ref = sum(r["pyiqa_cpu_s"] for r in rows)
    total_ours = sum(r["ours_cpu_s"] for r in rows)
    summary = {
        "benchmark": "nrqm", "size": args.size, "threads": args.threads, "images": [r["image"] for r in rows],
        "model": "real" if args.model else "synthetic (tests/nrqm_fixture.py, 24 trees per forest)",
        "pyiqa_cpu_s": [round(r["pyiqa_cpu_s"], 3) for r in rows],
        "ours_cpu_s": [round(r["ours_cpu_s"], 4) for r in rows],
        "speed_ratio": round(total_ref / total_ours, 1),
        "max_score_diff": max(r["score_diff"] for r in rows),
        "max_feature_rel_diff": max(r["feature_rel_diff"] for r in rows),
    }
    print(f"speed ratio (total pyiqa CPU time / ours over {len(rows)} images): x{summary['speed_ratio']}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
