"""What the training tests share: the tiny config made quiet, smooth test images, and the
environment and port of subprocess (torchrun) runs.

Imported by the test modules as ``from training_helpers import ...`` (pytest puts ``tests/`` on
``sys.path``, as for ``nrqm_fixture``).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bsrgan.training import TrainConfig, config_to_dict, load_config

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "experiments" / "train_tiny.yaml"

#: The tiny config for in-process tests: no validation, TensorBoard or bar, one thread, 64 px
#: HR crops, batches of 2.
FAST: dict[str, Any] = {
    "validation.every": 0, "runtime.tensorboard": False, "runtime.progress": False,
    "runtime.num_threads": 1, "data.hr_crop": 64, "data.batch_size": 2,
}


def tiny_config(**overrides: Any) -> TrainConfig:
    """``experiments/train_tiny.yaml`` with :data:`FAST`, then ``overrides`` (dotted keys)."""
    return load_config(TINY, overrides={**FAST, **overrides})


def write_config(path: Path, **overrides: Any) -> Path:
    """:func:`tiny_config` resolved and written as YAML to ``path`` (for subprocess runs)."""
    path.write_text(yaml.safe_dump(config_to_dict(tiny_config(**overrides))))
    return path


def small_images(seed: int = 0) -> dict[str, np.ndarray]:
    """Three smooth random colour images (structure a network can learn), float32 [0, 1]."""
    rng = np.random.default_rng(seed)
    out = {}
    for i, (h, w) in enumerate([(96, 112), (80, 80), (128, 96)]):
        base = rng.random((h // 8 + 1, w // 8 + 1, 3)).astype(np.float32)
        out[f"img{i}"] = np.kron(base, np.ones((8, 8, 1), np.float32))[:h, :w]
    return out


def subprocess_env(**extra: str) -> dict[str, str]:
    """This environment with one BLAS/OpenMP thread and a fixed hash seed."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0", **extra)
    return env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (torchrun's --master_port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def straight_and_resumed(config: TrainConfig, folder: Path, *, stop_at: int
                         ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The last checkpoints of two runs of ``config``: one straight through (``folder/straight``)
    and one stopped after ``stop_at`` steps and continued by a new Trainer from its checkpoint
    (``folder/resumed``). ``config.checkpoint_every`` must divide ``stop_at``."""
    from bsrgan.training import Trainer, load_checkpoint
    from bsrgan.training.checkpoint import checkpoint_name

    straight = Trainer(config, folder / "straight")
    straight.run()
    straight.close()
    first = Trainer(config, folder / "resumed")
    first.run(until=stop_at)
    first.close()
    second = Trainer(config, folder / "resumed", resume=True)
    assert second.step == stop_at
    second.run()
    second.close()
    name = checkpoint_name(config.total_steps)
    return (load_checkpoint(folder / "straight" / "checkpoints" / name),
            load_checkpoint(folder / "resumed" / "checkpoints" / name))


def torchrun(args: list[str], cwd: Path, *, processes: int = 2, timeout: float = 300
             ) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --nproc_per_node=<processes> <args>`` on this machine
    (gloo on the CPU, one thread per process), output captured."""
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}",
           f"--master_port={free_port()}", "--master_addr=127.0.0.1", *args]
    return subprocess.run(cmd, env=subprocess_env(), cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False)


def torchrun_train(config: Path, out: Path) -> subprocess.CompletedProcess:
    """``bsrgan.train`` of ``config`` into ``out`` under :func:`torchrun` with 2 processes."""
    return torchrun(["-m", "bsrgan.train", "--config", str(config), "--out", str(out),
                     "--no-progress"], cwd=out.parent)
