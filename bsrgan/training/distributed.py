"""Process-group helpers for ``torchrun`` (DDP); a single process is the world-size-1 case."""
from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


@dataclass(frozen=True)
class DistContext:
    """Where this process sits: rank 0 alone logs, validates and writes checkpoints."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    owns_group: bool = False  # True when init_distributed created the process group

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def launched_by_torchrun() -> bool:
    """True when the torchrun environment (RANK, WORLD_SIZE, LOCAL_RANK) is set."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))


def select_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> ``cuda:<local_rank>`` when CUDA is available, else CPU."""
    if name == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"runtime.device is {name!r} but CUDA is not available")
        if device.index is None:
            device = torch.device(f"cuda:{local_rank}")
    return device


def check_device_for_ranks(device_name: str, world_size: int) -> None:
    """Refuse a device with a fixed index when several processes train: every rank would use it.

    Raises :class:`bsrgan.training.config.ConfigError` for e.g. ``cuda:0`` with world size > 1.
    """
    if world_size <= 1 or device_name in ("auto", "cpu", "cuda"):
        return
    device = torch.device(device_name)
    if device.type == "cuda" and device.index is not None:
        from bsrgan.training.config import ConfigError

        raise ConfigError(
            f"runtime.device is {device_name!r} under torchrun with {world_size} processes: every "
            f"rank would train on that one GPU. Use runtime.device: auto or cuda (rank r then "
            f"uses cuda:<LOCAL_RANK>), and choose GPUs with CUDA_VISIBLE_DEVICES")


def init_distributed(device_name: str = "auto", timeout_s: float = 1800.0) -> DistContext:
    """Join the torchrun process group if launched by torchrun (or one already exists).

    Backend: NCCL on CUDA, gloo on CPU. Returns a world-size-1 context otherwise.
    """
    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
        check_device_for_ranks(device_name, world)
        local_rank = int(os.environ.get("LOCAL_RANK", rank))
        return DistContext(rank, world, local_rank, select_device(device_name, local_rank))
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) == 1:
        return DistContext(device=select_device(device_name, 0))
    check_device_for_ranks(device_name, int(os.environ["WORLD_SIZE"]))
    local_rank = int(os.environ["LOCAL_RANK"])
    device = select_device(device_name, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, timeout=datetime.timedelta(seconds=timeout_s))
    return DistContext(dist.get_rank(), dist.get_world_size(), local_rank, device, True)


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def any_true(flag: bool, ctx: DistContext) -> bool:
    """True on every rank if ``flag`` is true on any rank (keeps ranks taking the same branch)."""
    if not ctx.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def mean_over_ranks(values: dict[str, float], ctx: DistContext) -> dict[str, float]:
    """Average scalar logs over ranks (for display; every rank must call it)."""
    if not ctx.enabled or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    t /= ctx.world_size
    return dict(zip(keys, t.tolist()))


def gather_digests(digest: str, ctx: DistContext) -> list[str]:
    """Every rank's string (e.g. a weight hash), gathered on every rank."""
    return [str(d) for d in gather_objects(digest, ctx)]


def gather_objects(obj: Any, ctx: DistContext) -> list[Any]:
    """Every rank's picklable ``obj``, gathered on every rank (a collective: all ranks call it)."""
    if not ctx.enabled:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def local_main_first(fn: Callable[[], T], ctx: DistContext) -> T:
    """Run ``fn`` on each node's local rank 0 first, then on the other ranks.

    For work that fills a per-machine cache, such as a download: the local main process
    downloads once, every other rank then finds the file. All ranks wait for each other after
    each round, and if ``fn`` failed on any rank, every rank raises that rank's exception (so no
    rank is left waiting at a later collective).
    """
    if not ctx.enabled:
        return fn()
    result: Any = None
    for first in (True, False):  # local main processes, then the others; errors shared each time
        error: BaseException | None = None
        if (ctx.local_rank == 0) == first:
            result, error = _attempt(fn)
        _raise_any(error, ctx)
    return result


def main_only(fn: Callable[[], T], ctx: DistContext) -> T | None:
    """Run ``fn`` on rank 0 only (its result there, None elsewhere); an exception it raises is
    raised on every rank, so that all processes stop together instead of waiting for rank 0."""
    result, error = _attempt(fn) if ctx.is_main else (None, None)
    _raise_any(error, ctx)
    return result


def _attempt(fn: Callable[[], T]) -> tuple[T | None, Exception | None]:
    """``(fn(), None)``, or ``(None, the exception)`` for the caller to share with every rank."""
    try:
        return fn(), None
    except Exception as exc:  # noqa: BLE001 - re-raised by _raise_any, on every rank
        return None, exc


def _raise_any(error: BaseException | None, ctx: DistContext) -> None:
    """Raise, on every rank, the first error any rank had (a collective: all ranks call it;
    it also makes every rank wait for the slowest)."""
    errors = [e for e in gather_objects(error, ctx) if e is not None]
    if errors:
        raise errors[0]


def cleanup(ctx: DistContext) -> None:
    """Leave the process group if this module created it."""
    if ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()
