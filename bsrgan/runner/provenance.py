"""Provenance of a run: code version, package versions, hardware and environment.

Everything here is JSON-serialisable and free of absolute paths of the machine, so that a
``run.json`` can be committed next to reference results.
"""
from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

#: Distributions whose versions decide the numbers a run produces.
TRACKED_PACKAGES: tuple[str, ...] = (
    "bsrgan", "torch", "torchvision", "numpy", "scipy", "opencv-python-headless", "scikit-image",
    "pillow", "pyiqa", "matplotlib", "pandas", "papermill", "nbclient", "ipykernel",
)
#: Environment variables that change what a run does; only whether they are set is recorded
#: (their values can be machine paths).
TRACKED_ENV: tuple[str, ...] = (
    "BSRGAN_HOME", "BSRGAN_MIRRORS", "BSRGAN_OFFLINE", "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
)


def git_info(folder: Path) -> dict[str, Any]:
    """``{"sha", "dirty", "branch"}`` of the git checkout containing ``folder``.

    ``dirty`` is True when tracked files differ from the commit (untracked files, such as run
    outputs, do not count). All values are None outside a git checkout or without git.
    """
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True,
                                  timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    sha = git("rev-parse", "HEAD")
    if sha is None:
        return {"sha": None, "dirty": None, "branch": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "sha": sha,
        "dirty": None if status is None else bool(status),
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
    }


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (None when not installed)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def device_info() -> dict[str, Any]:
    """CPU and accelerator the run sees (torch is imported lazily; absent torch is reported)."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    try:
        import torch
    except ImportError:
        info["torch"] = None
        return info
    info["torch_threads"] = torch.get_num_threads()
    info["cuda_available"] = torch.cuda.is_available()
    if info["cuda_available"]:
        info["cuda"] = torch.version.cuda
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def environment_flags(names: tuple[str, ...] = TRACKED_ENV) -> dict[str, bool]:
    """Whether each tracked environment variable is set."""
    return {name: name in os.environ for name in names}


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"
