"""How many DataLoader workers a training process runs, and the shared memory they need.

Under ``torchrun`` every process builds its own loader. ``data.num_workers: auto`` divides the
CPUs this process may use (``os.sched_getaffinity``) among the processes of the node
(``LOCAL_WORLD_SIZE``) and keeps one per process for the training loop itself:
``min(16, max(1, cpus // processes - 1))``. A fixed number is used as given, per process; the
start-up check warns when ``processes x (workers + 1)`` exceeds the CPUs.

Worker processes hand batches to the training process through shared memory (``/dev/shm`` on
Linux): up to ``prefetch_factor`` batches per worker are in flight, plus the one being copied
to the device. :func:`plan_loader` estimates that need and compares it with the free space of
``/dev/shm``; Docker gives a container 64 MB unless started with ``--shm-size`` or
``--ipc=host``, which the paper config's loader exceeds.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

from bsrgan.utils.cpus import usable_cpus

MAX_AUTO_WORKERS = 16
SHM_PATH = "/dev/shm"


@dataclass(frozen=True)
class LoaderPlan:
    """The loader of one training process and what it needs.

    Attributes:
        num_workers: worker processes of this training process.
        processes: training processes on this node (torchrun's LOCAL_WORLD_SIZE).
        cpus: CPUs this process may use.
        batch_bytes: bytes of one batch as the workers send it (float32 LQ + uint8 HQ, or the
            uint8 HR crops when the training process degrades them).
        sends: what a batch holds, in words (for the log).
        shm_bytes: /dev/shm needed by this process's loader (batches in flight).
        shm_free: free bytes of /dev/shm, or None where there is no /dev/shm.
        warnings: problems found (oversubscribed CPUs, too little /dev/shm).
    """

    num_workers: int
    processes: int
    cpus: int
    batch_bytes: int
    shm_bytes: int
    shm_free: int | None
    sends: str = "HQ uint8"
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One line for the run log."""
        node = ""
        if self.processes > 1:
            node = f"; x {self.processes} processes on this node = {_mb(self.shm_bytes * self.processes)}"
        free = "no /dev/shm" if self.shm_free is None else f"{_mb(self.shm_free)} free"
        return (f"loader: {self.num_workers} worker processes per training process "
                f"({self.processes} on this node, {self.cpus} CPUs usable); batch "
                f"{_mb(self.batch_bytes)} as sent ({self.sends}); /dev/shm need ~"
                f"{_mb(self.shm_bytes)} per process{node} ({free})")


def local_world_size() -> int:
    """Training processes on this node: torchrun's ``LOCAL_WORLD_SIZE``, else 1."""
    try:
        return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    except ValueError:
        return 1


def resolve_num_workers(setting: int | str, *, processes: int, cpus: int) -> int:
    """``data.num_workers`` as a number: ``"auto"`` per the module docstring, else as given."""
    if setting == "auto":
        return min(MAX_AUTO_WORKERS, max(1, cpus // max(1, processes) - 1))
    if not isinstance(setting, int) or setting < 0:
        raise ValueError(f"data.num_workers must be an integer >= 0 or 'auto', got {setting!r}")
    return setting


def batch_bytes(batch_size: int, lq_patch: int, scale: int, *, hq_uint8: bool = True,
                hr_crop: int | None = None) -> int:
    """Bytes of one collated batch: LQ float32 (B, 3, p, p) + HQ (B, 3, p*sf, p*sf); with
    ``hr_crop`` (degradation on the training device) the uint8 HR crops (B, 3, c, c) instead
    (their plans, a few kB of JSON text, are not counted)."""
    if hr_crop is not None:
        return batch_size * 3 * hr_crop * hr_crop
    lq = batch_size * 3 * lq_patch * lq_patch * 4
    hq = batch_size * 3 * (lq_patch * scale) ** 2 * (1 if hq_uint8 else 4)
    return lq + hq


def shm_free_bytes(path: str = SHM_PATH) -> int | None:
    """Free bytes of the shared-memory file system, or None when it does not exist."""
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def plan_loader(*, num_workers: int | str, batch_size: int, lq_patch: int, scale: int,
                prefetch_factor: int, hr_crop: int | None = None, processes: int | None = None,
                cpus: int | None = None, shm_free: int | None | str = "measure") -> LoaderPlan:
    """Worker count and shared-memory need of one training process's loader.

    ``hr_crop``: set when the workers send uint8 HR crops of this side and their plans
    (``data.degradation_device`` cuda or cpu) instead of LR/HR pairs. ``processes``, ``cpus``
    and ``shm_free`` default to this machine (tests pass them).
    """
    processes = local_world_size() if processes is None else processes
    cpus = usable_cpus() if cpus is None else cpus
    free = shm_free_bytes() if shm_free == "measure" else shm_free
    workers = resolve_num_workers(num_workers, processes=processes, cpus=cpus)
    one = batch_bytes(batch_size, lq_patch, scale, hr_crop=hr_crop)
    need = 0 if workers == 0 else (workers * prefetch_factor + 2) * one
    notes = []
    if workers and processes * (workers + 1) > cpus:
        notes.append(
            f"{processes} training process(es) x ({workers} loader workers + 1) = "
            f"{processes * (workers + 1)} processes for {cpus} usable CPUs: they will compete "
            "for the cores (data.num_workers: auto divides the CPUs among the processes)")
    if need and free is not None and need * processes > free:
        notes.append(
            f"the loaders need ~{_mb(need * processes)} of /dev/shm for batches in flight "
            f"({processes} process(es) x ({workers} workers x prefetch {prefetch_factor} + 2) x "
            f"{_mb(one)}) but /dev/shm has {_mb(free)} free: workers will die with 'No space "
            "left on device' / 'bus error'. In Docker start the container with "
            f"--shm-size={_suggest_gib(need * processes)}g or --ipc=host; otherwise lower "
            "data.num_workers or data.prefetch_factor")
    sends = "HQ uint8" if hr_crop is None else "uint8 HR crops and plans"
    return LoaderPlan(workers, processes, cpus, one, need, free, sends, notes)


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:.0f} MiB" if n_bytes < 2**30 else f"{n_bytes / 2**30:.1f} GiB"


def _suggest_gib(n_bytes: int) -> int:
    return max(1, -(-int(n_bytes * 1.5) // 2**30))
