"""Benchmark tiled inference: time and peak memory, whole image vs tiles; GPU precisions.

CPU (always): the 23-block x4 RRDBNet (random weights: speed and memory do not depend on them)
on 128^2, 256^2 and 512^2 inputs, whole image (``tile=0``) vs ``tile=128`` (overlap 32). Each
configuration runs in a fresh subprocess, which reports its own peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) before and after the upscale, so the numbers do
not include the previous runs. Tiled peak memory should stay flat while whole-image memory grows
with the image.

Memory per LR pixel (``--memory``): whole-image fp32 and bf16 runs at several sizes, each in a
fresh subprocess; prints the peak-RSS increase per input pixel (KiB) and the slope between sizes,
the number behind ``bsrgan.inference.device.BYTES_PER_LR_PIXEL`` (the tile budget planner).

GPU (when CUDA is available): images/s and peak CUDA memory for a 640x480 input in fp32 / fp16 /
bf16, with and without channels_last and torch.compile, and the speedup over fp32 eager; with
``--memory`` also the peak CUDA memory per input pixel.

    python benchmarks/inference.py            # CPU 128/256/512 (+ GPU when present)
    python benchmarks/inference.py --quick    # CPU 128/256 only, GPU with fewer iterations
    python benchmarks/inference.py --no-cpu   # GPU only
    python benchmarks/inference.py --memory   # memory per LR pixel, whole image (CPU, GPU)
    python benchmarks/inference.py --plan     # CPU time: planned tile vs the old fixed 256 tile
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

CPU_TILE = 128
OVERLAP = 32
GPU_SIZE = (480, 640)  # (H, W)


# ------------------------------------------------------------------------------------------ CPU
def _child(size: int, tile: int, threads: int, precision: str = "fp32") -> None:
    """Run one configuration in this (fresh) process and print one JSON line."""
    import numpy as np
    import torch

    from bsrgan.inference import upscale
    from bsrgan.models import build_model

    torch.set_num_threads(threads)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = build_model("rrdbnet_x4").eval()
    img = np.random.default_rng(0).random((size, size, 3), dtype=np.float32)
    upscale(model, img[:8, :8], tile=0, precision=precision, device="cpu")  # one-time init
    base_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start, cpu_start = time.perf_counter(), time.process_time()
    out = upscale(model, img, tile=tile, tile_overlap=OVERLAP, precision=precision, device="cpu")
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"size": size, "tile": tile, "precision": precision, "seconds": seconds,
                      "cpu_seconds": cpu_seconds,
                      "base_mib": base_kib / 1024,
                      "peak_mib": peak_kib / 1024, "out_shape": list(out.shape)}))


def _run_child(size: int, tile: int, threads: int, precision: str = "fp32") -> dict:
    cmd = [sys.executable, __file__, "--child", str(size), str(tile), "--threads", str(threads),
           "--precision", precision]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child {cmd} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_cpu(sizes: list[int], threads: int) -> list[dict]:
    rows = []
    for size in sizes:
        for tile in (0, CPU_TILE):
            rows.append(_run_child(size, tile, threads))
            r = rows[-1]
            print(f"  {size:4d}^2 {'whole' if tile == 0 else f'tile {tile}':>9s}: {r['seconds']:7.1f} s "
                  f"({r['cpu_seconds']:.1f} CPU s), "
                  f"peak RSS {r['peak_mib']:7.0f} MiB (+{r['peak_mib'] - r['base_mib']:.0f} MiB "
                  "over the loaded model)", flush=True)
    return rows


def print_cpu_table(rows: list[dict]) -> None:
    by_key = {(r["size"], r["tile"]): r for r in rows}
    print("\n| input | whole: s (CPU s) | whole: peak RSS MiB (+inference) | tile 128: s (CPU s) | "
          "tile 128: peak RSS MiB (+inference) | CPU time tiled/whole | inference memory whole/tiled |")
    print("|---|---|---|---|---|---|---|")
    for size in sorted({r["size"] for r in rows}):
        w, t = by_key[(size, 0)], by_key[(size, CPU_TILE)]
        dw, dt = w["peak_mib"] - w["base_mib"], t["peak_mib"] - t["base_mib"]
        print(f"| {size}x{size} | {w['seconds']:.1f} ({w['cpu_seconds']:.1f}) | "
              f"{w['peak_mib']:.0f} (+{dw:.0f}) | {t['seconds']:.1f} ({t['cpu_seconds']:.1f}) | "
              f"{t['peak_mib']:.0f} (+{dt:.0f}) | {t['cpu_seconds'] / w['cpu_seconds']:.2f} | "
              f"{dw / max(dt, 1):.1f} |")


def run_memory(sizes: list[int], threads: int, precisions: tuple[str, ...]) -> list[dict]:
    """Whole-image peak-RSS increase per LR pixel, per precision and size (fresh processes)."""
    rows = []
    for precision in precisions:
        for size in sizes:
            r = _run_child(size, 0, threads, precision)
            r["kib_per_pixel"] = (r["peak_mib"] - r["base_mib"]) * 1024 / size**2
            rows.append(r)
            print(f"  {precision} {size:4d}^2 whole: +{r['peak_mib'] - r['base_mib']:.0f} MiB = "
                  f"{r['kib_per_pixel']:.2f} KiB per LR pixel ({r['cpu_seconds']:.1f} CPU s)",
                  flush=True)
    print("\n| precision | input | peak RSS increase MiB | KiB per LR pixel | slope from previous size "
          "(KiB per added pixel) |")
    print("|---|---|---|---|---|")
    for precision in precisions:
        mine = [r for r in rows if r["precision"] == precision]
        for prev, r in zip([None] + mine[:-1], mine):
            inc = r["peak_mib"] - r["base_mib"]
            slope = "" if prev is None else (
                f"{(inc - (prev['peak_mib'] - prev['base_mib'])) * 1024 / (r['size']**2 - prev['size']**2):.2f}")
            print(f"| {precision} | {r['size']}x{r['size']} | {inc:.0f} | {r['kib_per_pixel']:.2f} | {slope} |")
    return rows


def run_plan(size: int, threads: int) -> None:
    """CPU time of one ``size``-px image: the planned tile (the whole image, when it fits the
    2 GiB CPU budget) against the fixed 256-px tile the CPU used before (overlap 32)."""
    import torch

    from bsrgan.inference import plan_tile
    from bsrgan.models import build_model

    planned = plan_tile(build_model("rrdbnet_x4"), size, size, torch.device("cpu"))
    rows = {tile: _run_child(size, tile, threads) for tile in (planned, 256)}
    for tile, r in rows.items():
        label = "planned (whole image)" if tile == 0 else f"tile {tile}"
        print(f"  {size}^2 {label}: {r['cpu_seconds']:.1f} CPU s, {r['seconds']:.1f} s, "
              f"peak RSS +{r['peak_mib'] - r['base_mib']:.0f} MiB", flush=True)
    ratio = rows[256]["cpu_seconds"] / rows[planned]["cpu_seconds"]
    print(f"CPU time, fixed 256 tile / planned: {ratio:.2f}x (same run)")


def run_gpu_memory(sizes: list[int], device: str = "cuda") -> None:
    """Peak CUDA memory per LR pixel of whole-image inference (fp32 / fp16 / bf16)."""
    import numpy as np
    import torch

    from bsrgan.inference import upscale
    from bsrgan.models import build_model

    dev = torch.device(device)
    model = build_model("rrdbnet_x4").eval().to(dev)
    weights = torch.cuda.memory_allocated(dev)
    print("\n| precision | input | peak CUDA MiB above the weights | KiB per LR pixel |")
    print("|---|---|---|---|")
    for precision in ("fp32", "fp16", "bf16"):
        for size in sizes:
            img = np.random.default_rng(0).random((size, size, 3), dtype=np.float32)
            torch.cuda.synchronize(dev)
            torch.cuda.reset_peak_memory_stats(dev)
            upscale(model, img, tile=0, precision=precision, device=dev)
            peak = torch.cuda.max_memory_allocated(dev) - weights
            print(f"| {precision} | {size}x{size} | {peak / 2**20:.0f} | {peak / 1024 / size**2:.2f} |",
                  flush=True)


# ------------------------------------------------------------------------------------------ GPU
def run_gpu(iters: int, device: str = "cuda") -> list[dict]:
    """Throughput and peak memory of ``upscale`` on one 640x480 image per precision/layout/compile."""
    import numpy as np
    import torch

    from bsrgan.inference import upscale
    from bsrgan.models import build_model

    dev = torch.device(device)
    img = np.random.default_rng(0).random(GPU_SIZE + (3,), dtype=np.float32)
    precisions = ["fp32", "fp16", "bf16"] if dev.type == "cuda" else ["fp32", "bf16"]
    if dev.type == "cuda" and not torch.cuda.is_bf16_supported():
        precisions.remove("bf16")
    rows = []
    for compiled in (False, True):
        for channels_last in (False, True):
            for precision in precisions:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(0)
                    model = build_model("rrdbnet_x4").eval().to(dev)
                if channels_last:
                    model = model.to(memory_format=torch.channels_last)
                net = torch.compile(model) if compiled else model
                kwargs = {"tile": 0, "precision": precision, "device": dev, "channels_last": channels_last}
                try:
                    for _ in range(2):  # warm-up (and compilation)
                        upscale(net, img, **kwargs)
                except Exception as exc:  # noqa: BLE001 - report and go on (e.g. compile toolchain)
                    print(f"  {precision} channels_last={channels_last} compile={compiled}: "
                          f"FAILED {type(exc).__name__}: {exc}", flush=True)
                    continue
                if dev.type == "cuda":
                    torch.cuda.synchronize(dev)
                    torch.cuda.reset_peak_memory_stats(dev)
                start = time.perf_counter()
                for _ in range(iters):
                    upscale(net, img, **kwargs)
                if dev.type == "cuda":
                    torch.cuda.synchronize(dev)
                seconds = (time.perf_counter() - start) / iters
                peak = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else float("nan")
                rows.append({"precision": precision, "channels_last": channels_last,
                             "compile": compiled, "images_per_s": 1 / seconds, "peak_mib": peak})
                print(f"  {precision} channels_last={channels_last} compile={compiled}: "
                      f"{1 / seconds:.2f} img/s, peak {peak:.0f} MiB", flush=True)
                del net, model
    return rows


def print_gpu_table(rows: list[dict], device_name: str) -> None:
    base = next((r for r in rows if r["precision"] == "fp32" and not r["channels_last"]
                 and not r["compile"]), None)
    print(f"\nGPU: {device_name}, one 640x480 image -> 2560x1920 per call (tile=0, end to end incl. "
          "host transfers and blending)")
    print("| precision | channels_last | torch.compile | images/s | peak CUDA MiB | speedup vs fp32 eager |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        speedup = r["images_per_s"] / base["images_per_s"] if base else float("nan")
        print(f"| {r['precision']} | {r['channels_last']} | {r['compile']} | {r['images_per_s']:.2f} | "
              f"{r['peak_mib']:.0f} | {speedup:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CPU sizes 128 and 256 only")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="CPU input sizes")
    parser.add_argument("--no-cpu", action="store_true")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads per run (default 2)")
    parser.add_argument("--gpu-iters", type=int, default=None)
    parser.add_argument("--memory", action="store_true",
                        help="only measure whole-image memory per LR pixel (CPU fp32/bf16, GPU)")
    parser.add_argument("--plan", type=int, nargs="?", const=300, default=None, metavar="SIZE",
                        help="CPU time of a SIZE^2 image (default 300): planned tile vs fixed 256")
    parser.add_argument("--precision", default="fp32", help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs=2, type=int, metavar=("SIZE", "TILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child, threads=args.threads, precision=args.precision)
        return

    import torch

    if args.plan:
        print(f"CPU: rrdbnet_x4, {args.threads} threads, torch {torch.__version__}")
        run_plan(args.plan, args.threads)
        return
    if args.memory:
        sizes = args.sizes or [96, 160, 224, 288]
        if not args.no_cpu:
            print(f"CPU: rrdbnet_x4 whole image, {args.threads} threads, torch {torch.__version__}")
            run_memory(sizes, args.threads, ("fp32", "bf16"))
        if torch.cuda.is_available():
            run_gpu_memory(args.sizes or [256, 512, 1024])
        return

    if not args.no_cpu:
        sizes = args.sizes or ([128, 256] if args.quick else [128, 256, 512])
        print(f"CPU: rrdbnet_x4 (23 RRDB blocks, x4), {args.threads} threads, torch {torch.__version__}")
        print_cpu_table(run_cpu(sizes, args.threads))
    if torch.cuda.is_available():
        iters = args.gpu_iters or (5 if args.quick else 20)
        print_gpu_table(run_gpu(iters), torch.cuda.get_device_name())
    else:
        print("\nGPU: CUDA not available, GPU section skipped")


if __name__ == "__main__":
    main()
