"""Checkpoints: atomic writes, keep the last K, find the latest, restore RNG states.

A checkpoint is one ``torch.save``d dict::

    {"step", "generator", "ema", "discriminator", "optimizer_g", "optimizer_d",
     "scheduler_g", "scheduler_d", "scaler", "rng", "counters", "world_size", "config",
     "deviations", "format"}

``generator`` is the raw generator state dict and ``ema`` its moving average, so
``bsrgan.models.load_pretrained`` can read a checkpoint directly (it prefers ``ema``).
Files are named ``step_00001000.pt``; the zero padding makes name order = step order.

Next to every checkpoint the trainer exports the EMA generator alone as a plain fp32 state dict
(:func:`export_weights`, ``snapshots/<name>_ema_step_00001000.pth``): small, loadable by any
RRDBNet code, and never pruned (``keep_last`` applies to the full checkpoints only).
"""
from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bsrgan.utils.atomic import atomic_path

CHECKPOINT_FORMAT = 1
_NAME = re.compile(r"^step_(\d{8,})\.pt$")


def checkpoint_name(step: int) -> str:
    return f"step_{step:08d}.pt"


def list_checkpoints(folder: str | os.PathLike[str]) -> list[Path]:
    """Complete checkpoints in ``folder`` sorted by step (temporary files are ignored)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(folder: str | os.PathLike[str]) -> Path | None:
    """The checkpoint with the highest step, or None."""
    found = list_checkpoints(folder)
    return found[-1] if found else None


def save_checkpoint(
    folder: str | os.PathLike[str], step: int, state: dict[str, Any], keep_last: int
) -> Path:
    """Write ``state`` as ``folder/step_<step>.pt`` atomically, then delete all but the last K.

    A crash during the write leaves only a hidden temporary file that is never picked up, so
    the previous checkpoint stays the latest complete one.
    """
    if keep_last < 1:
        raise ValueError(f"keep_last must be >= 1, got {keep_last}")
    path = Path(folder) / checkpoint_name(step)
    payload = {"format": CHECKPOINT_FORMAT, "step": int(step), **state}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    for old in list_checkpoints(folder)[:-keep_last]:
        old.unlink(missing_ok=True)
    return path


def snapshot_name(run_name: str, step: int) -> str:
    return f"{run_name}_ema_step_{step:08d}.pth"


def export_weights(path: str | os.PathLike[str], state: dict[str, torch.Tensor]) -> Path:
    """Write a plain fp32 CPU state dict (e.g. the EMA generator) atomically; returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save({k: (v.detach().float() if v.is_floating_point() else v.detach()).cpu()
                    for k, v in state.items()}, tmp)
    return path


def load_checkpoint(path: str | os.PathLike[str], map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; clear error when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # truncated / not a torch file
        raise ValueError(f"{path}: cannot read checkpoint ({exc})") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT or "step" not in state:
        raise ValueError(f"{path}: not a bsrgan training checkpoint (format {CHECKPOINT_FORMAT})")
    return state


def capture_rng_state() -> dict[str, Any]:
    """Global RNG states (torch CPU/CUDA, numpy, python).

    Library code here draws from explicit generators only; the global states are saved so that
    any third-party code that does use them (e.g. cuDNN algorithm choice, user callbacks) resumes
    exactly as well.
    """
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state` (only for a run resuming its own checkpoint)."""
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    same_gpus = torch.cuda.is_available() and len(state.get("cuda", ())) == torch.cuda.device_count()
    if "cuda" in state and same_gpus:
        torch.cuda.set_rng_state_all(state["cuda"])
