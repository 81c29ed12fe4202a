"""The one script to run when a GPU is lent: training, loader and inference speed and memory.

    python benchmarks/gpu_check.py                 # CUDA; about 5-8 minutes on one H100
    python benchmarks/gpu_check.py --tiny          # the same code paths on the CPU, tiny sizes
    python benchmarks/gpu_check.py --out DIR       # where the JSON and Markdown go

Writes ``<out>/gpu_check-<YYYYmmdd-HHMMSS>.json`` and ``.md`` (default out: results/bench/).
Sections, each of which catches and records its own failures (an out-of-memory error in one
precision does not stop the others):

* ``train`` — stage 1 (BSRNet, L1) and stage 2 (BSRGAN, ``paper`` preset: L1 + VGG19 + PatchGAN)
  at the paper's batch 48 and LR patch 72 (RRDBNet nb 23): steps/s, pairs/s and peak memory for
  fp32, bf16, bf16 + channels_last and bf16 + channels_last + torch.compile. A variant that runs
  out of memory is retried with gradient accumulation 2, 4, 8 (the same effective batch). The
  VGG has random weights (speed does not depend on them; the machine has no network).
* ``loader`` — degraded training pairs/s of the data loader with the machine's cores
  (``benchmarks/loader.py:measure_loader``), and pairs/s when the workers only cut crops and
  plans for ``data.degradation_device``, next to the pairs/s the fastest training variant
  consumes.
* ``inference`` — tiled ``bsrgan.inference.upscale`` of a 512x512 and a 2048x1536 input with
  the x4 RRDBNet in fp32, fp16 and bf16: frames/s and peak memory.
* ``degradation`` — the batched degradation on the device (``benchmarks/degradation.py``).
* ``memory_estimate`` — the CPU-derived estimate (``bsrgan.training.memory``) of each train
  step's peak, to compare with the measured one.

``--tiny`` shrinks everything (rrdbnet_tiny, batch 2, LR 8; small images; compile with the
``aot_eager`` backend, which traces like inductor but generates no code) so that the whole
script runs on a CPU in well under a minute; a test runs it.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import gc
import importlib.util
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bsrgan.training import Trainer, load_config

REPO = Path(__file__).resolve().parent.parent
STAGES = {"stage 1 BSRNet (L1)": "bsrnet_x4_paper.yaml",
          "stage 2 BSRGAN (paper preset: L1 + VGG19 + PatchGAN)": "bsrgan_x4_paper.yaml"}
VARIANTS = {  # name -> runtime overrides
    "fp32": {"runtime.precision": "fp32", "runtime.channels_last": False},
    "bf16": {"runtime.precision": "bf16", "runtime.channels_last": False},
    "bf16 + channels_last": {"runtime.precision": "bf16", "runtime.channels_last": True},
    "bf16 + channels_last + compile": {"runtime.precision": "bf16", "runtime.channels_last": True,
                                       "runtime.compile": True},
}
GIB = 2 ** 30


@dataclasses.dataclass
class Settings:
    """What one mode measures; ``full`` is the paper scale on CUDA, ``tiny`` the CPU smoke run."""

    device: str
    overrides: dict[str, Any]  # applied to the stage configs
    steps: int  # timed steps per variant
    warmup: int  # untimed steps (compile, cuDNN autotuning)
    accumulations: tuple[int, ...]  # tried in order while a variant runs out of memory
    compile_backend: str
    loader_workers: int
    loader_batches: int
    inference_model: str
    inference_sizes: tuple[tuple[int, int], ...]  # (H, W) of the LR input
    inference_repeats: int
    degradation_batches: tuple[int, ...]
    degradation_pairs: int | None  # pairs per batch size and repeat (None: the script's default)
    degradation_repeats: int
    estimate_sizes: tuple[tuple[int, int], ...]
    workdir: Path = Path(tempfile.gettempdir())  # main() sets a temporary folder it removes

    @classmethod
    def full(cls) -> Settings:
        return cls(device="cuda", overrides={}, steps=10, warmup=3, accumulations=(1, 2, 4, 8),
                   compile_backend="inductor",
                   loader_workers=max(1, (os.cpu_count() or 2) - 2), loader_batches=20,
                   inference_model="rrdbnet_x4", inference_sizes=((512, 512), (1536, 2048)),
                   inference_repeats=2, degradation_batches=(16, 64), degradation_pairs=None,
                   degradation_repeats=3,
                   estimate_sizes=((1, 12), (2, 12), (2, 16)))

    @classmethod
    def tiny(cls) -> Settings:
        return cls(device="cpu", overrides={
            "model.generator": "rrdbnet_tiny", "data.batch_size": 2, "data.lq_patch": 8,
            "data.hr_crop": 32, "runtime.num_threads": 1}, steps=1, warmup=1,
            accumulations=(1, 2), compile_backend="aot_eager", loader_workers=1,
            loader_batches=2, inference_model="rrdbnet_tiny",
            inference_sizes=((24, 24), (24, 32)), inference_repeats=1, degradation_batches=(2,),
            degradation_pairs=2, degradation_repeats=1,
            estimate_sizes=((1, 8), (2, 8), (1, 12)))


class Deadline:
    """Seconds left of the run's budget; sections skip work once it is spent."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def passed(self) -> bool:
        return self.left() <= 0


def guarded(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one measurement; an exception becomes ``{"error": ..., "traceback": ...}``."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - recorded: one failure must not stop the others
        return {"error": f"{type(exc).__name__}: {exc}"[:2000],
                "traceback": traceback.format_exc(limit=6)[-3000:]}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device: torch.device) -> None:
    """Free what earlier measurements left (e.g. after an out-of-memory error), reset the peak."""
    if device.type == "cuda":
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak(device: torch.device) -> dict[str, float | None]:
    if device.type != "cuda":
        return {"peak_allocated_gib": None, "peak_reserved_gib": None}
    return {"peak_allocated_gib": torch.cuda.max_memory_allocated(device) / GIB,
            "peak_reserved_gib": torch.cuda.max_memory_reserved(device) / GIB}


# ------------------------------------------------------------------------------------ train


def synthetic_hr_folder(settings: Settings) -> str:
    """A folder with one random 400x400 HR image: the train section feeds fixed random batches,
    but a trainer needs a dataset to build its loader (it is never read)."""
    from bsrgan.io import imwrite

    folder = settings.workdir / "hr"
    if not (folder / "noise.png").is_file():
        imwrite(folder / "noise.png", np.random.default_rng(0).random((400, 400, 3)))
    return str(folder)


def stage_config(file: str, settings: Settings, **overrides: Any):
    return load_config(REPO / "experiments" / file, overrides={
        "data.hr_dir": synthetic_hr_folder(settings),
        "validation.every": 0, "runtime.tensorboard": False, "runtime.progress": False,
        "runtime.device": settings.device, "data.num_workers": 0, "model.init_from": None,
        "loss.perceptual_pretrained": False, "runtime.compile_backend": settings.compile_backend,
        **settings.overrides, **overrides})


def _quiet_trainer(cfg, settings: Settings) -> Trainer:
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return Trainer(cfg, tempfile.mkdtemp(prefix="run_", dir=settings.workdir))


def train_variant(file: str, overrides: dict[str, Any], settings: Settings,
                  accumulate: int) -> dict[str, Any]:
    """steps/s and peak memory of one stage and variant on a fixed random batch."""
    cfg = stage_config(file, settings, **overrides, **{"optim.accumulate": accumulate})
    device = torch.device(settings.device)
    _reset_peak(device)
    trainer = _quiet_trainer(cfg, settings)
    try:
        batch = cfg.data.batch_size
        g = torch.Generator().manual_seed(0)
        lq = torch.rand(batch, 3, cfg.data.lq_patch, cfg.data.lq_patch, generator=g)
        hq = torch.rand(batch, 3, cfg.data.lq_patch * 4, cfg.data.lq_patch * 4, generator=g)
        lq, hq = trainer._to_device(lq, hq)
        first = time.perf_counter()
        trainer.train_step(lq, hq)  # compile / cuDNN autotuning happen here
        _sync(device)
        first_step_s = time.perf_counter() - first
        for _ in range(settings.warmup - 1):
            trainer.train_step(lq, hq)
        _sync(device)
        start = time.perf_counter()
        applied = 0
        for _ in range(settings.steps):
            applied += trainer.train_step(lq, hq)[1]
        _sync(device)
        seconds = time.perf_counter() - start
    finally:
        trainer.close()
        del trainer
    rate = settings.steps / seconds
    return {"steps_per_s": rate, "pairs_per_s": rate * batch, "batch": batch,
            "accumulate": accumulate, "micro_batch": batch // accumulate,
            "first_step_s": first_step_s, "steps_applied": applied, "timed_steps": settings.steps,
            **_peak(device)}


def _is_oom(record: dict[str, Any]) -> bool:
    return "OutOfMemoryError" in record.get("error", "") or "out of memory" in record.get(
        "error", "")


def train_section(settings: Settings, deadline: Deadline) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for stage, file in STAGES.items():
        out[stage] = {}
        for name, overrides in VARIANTS.items():
            if deadline.passed():
                out[stage][name] = {"skipped": "time budget spent"}
                continue
            tried = []
            for accumulate in settings.accumulations:
                record = guarded(lambda f=file, o=overrides, a=accumulate:
                                 train_variant(f, o, settings, a))
                tried.append({"accumulate": accumulate, **record})
                if not _is_oom(record) or deadline.passed():
                    break
            result = dict(tried[-1])
            if len(tried) > 1:
                result["out_of_memory_at"] = [t["accumulate"] for t in tried[:-1]]
            out[stage][name] = result
            print(f"train | {stage} | {name}: {_brief(result)}", flush=True)
    return out


# ----------------------------------------------------------------------------------- loader


def _benchmark_module(name: str):
    """``benchmarks/<name>.py`` as a module (the folder is not a package)."""
    path = REPO / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bsrgan_benchmarks_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look modules up by name
    spec.loader.exec_module(module)
    return module


def loader_section(settings: Settings, train: dict[str, Any]) -> dict[str, Any]:
    """Pairs/s of the training loader (benchmarks/loader.py:measure_loader, the embedded photos:
    the device machine may hold no training data) with the workers degrading, and with the
    workers only cutting crops for ``data.degradation_device`` (the device then degrades), next
    to the pairs/s the fastest training variant of each stage consumes."""
    cfg = stage_config(STAGES["stage 1 BSRNet (L1)"], settings)
    measure_loader = _benchmark_module("loader").measure_loader
    kwargs = {"workers": settings.loader_workers, "batch_size": cfg.data.batch_size,
              "batches": settings.loader_batches, "hr_crop": cfg.data.hr_crop,
              "lq_patch": cfg.data.lq_patch, "scale": cfg.data.scale}
    record = guarded(lambda: {"source": "benchmarks/loader.py:measure_loader (embedded photos)",
                              **measure_loader("embedded", **kwargs)})
    record["crops_and_plans_only"] = guarded(
        lambda: measure_loader("embedded", degrade_in_worker=False, **kwargs))
    demand = {stage: max((v["pairs_per_s"] for v in variants.values() if "pairs_per_s" in v),
                         default=None) for stage, variants in train.items()}
    record["gpu_demand_pairs_per_s"] = demand
    supply = record.get("pairs_per_s")
    needed = max((v for v in demand.values() if v), default=None)
    if supply and needed:
        record["verdict"] = ("loader keeps up" if supply >= needed else
                             f"loader is the bottleneck ({supply:.0f} < {needed:.0f} pairs/s)")
    print(f"loader: {_brief(record)}", flush=True)
    return record


# -------------------------------------------------------------------------------- inference


def inference_run(settings: Settings, size: tuple[int, int], precision: str) -> dict[str, Any]:
    from bsrgan.inference import check_precision, upscale
    from bsrgan.inference.device import auto_tile
    from bsrgan.models import build_model

    device = torch.device(settings.device)
    if device.type == "cpu" and precision == "fp16":
        return {"skipped": "fp16 inference needs CUDA"}
    dtype = check_precision(precision, device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model(settings.inference_model).eval().to(device)
    img = np.random.default_rng(0).random((*size, 3), dtype=np.float32)
    upscale(model, img[:32, :32], tile=0, precision=precision, device=device)  # warm-up
    tile = auto_tile(model, device, dtype)
    _reset_peak(device)
    start = time.perf_counter()
    for _ in range(settings.inference_repeats):
        out = upscale(model, img, tile=None, precision=precision, device=device)
    seconds = (time.perf_counter() - start) / settings.inference_repeats
    return {"frames_per_s": 1.0 / seconds, "seconds_per_frame": seconds, "tile": tile,
            "input": list(size), "output": list(out.shape[:2]), **_peak(device)}


def inference_section(settings: Settings, deadline: Deadline) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for size in settings.inference_sizes:
        key = f"{size[1]}x{size[0]}"
        out[key] = {}
        for precision in ("fp32", "fp16", "bf16"):
            if deadline.passed():
                out[key][precision] = {"skipped": "time budget spent"}
                continue
            out[key][precision] = guarded(lambda s=size, p=precision: inference_run(settings, s, p))
            print(f"inference | {key} | {precision}: {_brief(out[key][precision])}", flush=True)
    return out


# ------------------------------------------------------------------------------ degradation


def degradation_section(settings: Settings) -> dict[str, Any]:
    """The batched degradation on the device (benchmarks/degradation.py:measure_batched)."""
    measure = _benchmark_module("degradation").measure_batched
    result = measure(torch.device(settings.device), list(settings.degradation_batches),
                     pairs=settings.degradation_pairs, repeats=settings.degradation_repeats)
    return {"source": "benchmarks/degradation.py:measure_batched", **dict(result)}


# -------------------------------------------------------------------------- memory estimate


def memory_estimate_section(settings: Settings, deadline: Deadline) -> dict[str, Any]:
    from bsrgan.training.memory import estimate_step_memory

    out: dict[str, Any] = {}
    for stage, file in STAGES.items():
        for precision in ("fp32", "bf16"):
            key = f"{stage} | {precision}"
            if deadline.passed():
                out[key] = {"skipped": "time budget spent"}
                continue

            def one(p=precision, f=file) -> dict[str, Any]:
                cfg = stage_config(f, settings)
                est = estimate_step_memory(cfg, settings.estimate_sizes, precision=p)
                return {"estimated_peak_gib": est.peak_bytes(cfg.data.batch_size,
                                                             cfg.data.lq_patch) / GIB,
                        "batch": cfg.data.batch_size, "lq_patch": cfg.data.lq_patch,
                        "fit_error": est.max_fit_error}

            out[key] = guarded(one)
    return out


# ----------------------------------------------------------------------------------- report


def environment(settings: Settings, tiny: bool) -> dict[str, Any]:
    env: dict[str, Any] = {
        "date": dt.datetime.now().isoformat(timespec="seconds"), "mode": "tiny" if tiny else "full",
        "torch": torch.__version__, "python": platform.python_version(),
        "cpu_count": os.cpu_count(), "device": settings.device, "argv": sys.argv[1:],
    }
    try:
        env["git_commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, check=True,
                                           capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        env["git_commit"] = None
    if settings.device == "cuda" and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env.update(gpu=props.name, gpu_memory_gib=props.total_memory / GIB,
                   cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                   tf32_convolutions=torch.backends.cudnn.allow_tf32,
                   tf32_matmul=torch.backends.cuda.matmul.allow_tf32)
    return env


def _brief(record: dict[str, Any]) -> str:
    if "error" in record:
        return "ERROR " + record["error"].splitlines()[0][:160]
    if "skipped" in record:
        return "skipped: " + record["skipped"]
    keys = ("steps_per_s", "pairs_per_s", "frames_per_s", "peak_allocated_gib", "accumulate",
            "estimated_peak_gib")
    return ", ".join(f"{k} {record[k]:.3g}" for k in keys
                     if isinstance(record.get(k), (int, float)))


def markdown(report: dict[str, Any]) -> str:
    env = report["environment"]
    machine = (f"{env.get('gpu', env['device'])}, torch {env['torch']}, {env['cpu_count']} CPU "
               f"cores, commit {env.get('git_commit')}")
    lines = [f"# gpu_check {env['date']} ({env['mode']})", "", machine, ""]
    train = report.get("train", {})
    if isinstance(train, dict) and "error" not in train:
        lines += ["## Train (fixed batch, no data loading)", "",
                  "| stage | variant | steps/s | pairs/s | accumulate | peak (GiB) | first (s) |",
                  "|---|---|---|---|---|---|---|"]
        for stage, variants in train.items():
            for name, r in variants.items():
                if "steps_per_s" in r:
                    peak = r["peak_allocated_gib"]
                    lines.append(f"| {stage} | {name} | {r['steps_per_s']:.3g} | "
                                 f"{r['pairs_per_s']:.3g} | {r['accumulate']} | "
                                 f"{'n/a' if peak is None else f'{peak:.1f}'} | "
                                 f"{r['first_step_s']:.1f} |")
                else:
                    lines.append(f"| {stage} | {name} | {_brief(r)} | | | | |")
    inference = report.get("inference", {})
    if isinstance(inference, dict) and "error" not in inference:
        lines += ["", "## Tiled inference", "",
                  "| input (WxH) | precision | frames/s | tile | peak alloc. (GiB) |",
                  "|---|---|---|---|---|"]
        for size, precisions in inference.items():
            for precision, r in precisions.items():
                if "frames_per_s" in r:
                    peak = r["peak_allocated_gib"]
                    lines.append(f"| {size} | {precision} | {r['frames_per_s']:.3g} | {r['tile']} "
                                 f"| {'n/a' if peak is None else f'{peak:.2f}'} |")
                else:
                    lines.append(f"| {size} | {precision} | {_brief(r)} | | |")
    for section in ("loader", "degradation", "memory_estimate"):
        if section in report:
            lines += ["", f"## {section}", "", "```json",
                      json.dumps(_strip_tracebacks(report[section]), indent=2), "```"]
    return "\n".join(lines) + "\n"


def _strip_tracebacks(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_tracebacks(v) for k, v in value.items() if k != "traceback"}
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true",
                        help="the same code paths on the CPU with tiny sizes (tests)")
    parser.add_argument("--out", type=Path, default=REPO / "results" / "bench",
                        help="folder for gpu_check-<date>.json/.md (default: results/bench)")
    parser.add_argument("--budget-s", type=float, default=None,
                        help="stop starting new measurements after this many seconds "
                             "(default 450 on a GPU, 240 with --tiny)")
    parser.add_argument("--sections", default="train,loader,inference,degradation,memory_estimate",
                        help="comma-separated subset of the sections")
    args = parser.parse_args(argv)
    settings = Settings.tiny() if args.tiny else Settings.full()
    if settings.device == "cuda" and not torch.cuda.is_available():
        print("error: CUDA is not available; run with --tiny for the CPU smoke run",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as workdir:
        settings.workdir = Path(workdir)
        return run(settings, args)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Every requested section, then the JSON and Markdown reports."""
    deadline = Deadline(args.budget_s or (240.0 if args.tiny else 450.0))
    wanted = [s.strip() for s in args.sections.split(",") if s.strip()]
    report: dict[str, Any] = {"environment": environment(settings, args.tiny)}
    started = time.perf_counter()
    for section in wanted:
        t0 = time.perf_counter()
        if section == "train":
            report["train"] = guarded(lambda: train_section(settings, deadline))
        elif section == "loader":
            report["loader"] = guarded(lambda: loader_section(settings, report.get("train", {})))
        elif section == "inference":
            report["inference"] = guarded(lambda: inference_section(settings, deadline))
        elif section == "degradation":
            report["degradation"] = guarded(lambda: degradation_section(settings))
        elif section == "memory_estimate":
            report["memory_estimate"] = guarded(lambda: memory_estimate_section(settings,
                                                                                deadline))
        else:
            print(f"error: unknown section {section!r}", file=sys.stderr)
            return 2
        report.setdefault("seconds", {})[section] = round(time.perf_counter() - t0, 1)
    report["seconds"]["total"] = round(time.perf_counter() - started, 1)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / f"gpu_check-{stamp}.json"
    json_path.write_text(json.dumps(report, indent=2, default=str))
    (args.out / f"gpu_check-{stamp}.md").write_text(markdown(report))
    errors = json.dumps(report).count('"error"')
    print(f"wrote {json_path} ({report['seconds']['total']:.0f} s; {errors} measurement(s) "
          f"recorded an error)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
