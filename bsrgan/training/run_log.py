"""Run logging: CSV tables, TensorBoard scalars/images, a tqdm bar and a text log.

Only rank 0 writes (other ranks get a logger whose methods do nothing). On resume from step
``s`` the CSV rows and TensorBoard events after ``s`` (written by the interrupted run) are
dropped, so the logs of a resumed run match those of an uninterrupted one.
"""
from __future__ import annotations

import csv
import io
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from bsrgan.utils.atomic import atomic_write_text

LOGGER_NAME = "bsrgan.training"


class CsvLog:
    """Append-only CSV keyed by ``step``; the header grows if a later row has new columns."""

    def __init__(self, path: Path, resume_step: int | None = None) -> None:
        self.path = Path(path)
        self.columns: list[str] = []
        if self.path.is_file():
            rows = self.read_rows()
            if resume_step is not None:
                rows = [r for r in rows if _as_int(r.get("step")) <= resume_step]
                self._rewrite(rows, self.columns)

    def read_rows(self) -> list[dict[str, str]]:
        with open(self.path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            self.columns = list(reader.fieldnames or [])
            return list(reader)

    def append(self, row: dict[str, Any]) -> None:
        row = {k: _fmt(v) for k, v in row.items()}
        new = [k for k in row if k not in self.columns]
        if not self.path.is_file() or not self.columns:
            self.columns = list(row)
            self._rewrite([row], self.columns)
            return
        if new:
            rows = self.read_rows() + [row]
            self._rewrite(rows, self.columns + new)
            return
        with open(self.path, "a", newline="", encoding="utf-8") as fh:
            csv.DictWriter(fh, fieldnames=self.columns).writerow(row)

    def _rewrite(self, rows: list[dict[str, Any]], columns: list[str]) -> None:
        self.columns = list(columns)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.columns)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.path, buf.getvalue())


class RunLogger:
    """Everything a run reports. ``enabled=False`` (ranks > 0) makes every method a no-op.

    Files in ``run_dir``: ``train_log.csv`` (step, losses, lr, it/s), ``val_log.csv`` (step,
    PSNR/SSIM of the EMA model and bicubic), ``train.log`` (text), ``tb/`` (TensorBoard).
    """

    def __init__(self, run_dir: Path, *, enabled: bool = True, tensorboard: bool = True,
                 progress: bool = True, total_steps: int = 0, start_step: int = 0,
                 resumed: bool = False) -> None:
        self.enabled = enabled
        self.run_dir = Path(run_dir)
        self._writer = None
        self._bar = None
        self._handler: logging.Handler | None = None
        self.log = logging.getLogger(LOGGER_NAME)
        self._last_time = time.perf_counter()
        self._last_step = start_step
        if not enabled:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        resume_step = start_step if resumed else None
        if not resumed:  # a fresh run in an existing folder starts fresh logs
            for name in ("train_log.csv", "val_log.csv"):
                (self.run_dir / name).unlink(missing_ok=True)
        self.train_csv = CsvLog(self.run_dir / "train_log.csv", resume_step)
        self.val_csv = CsvLog(self.run_dir / "val_log.csv", resume_step)
        self._handler = logging.FileHandler(self.run_dir / "train.log", encoding="utf-8")
        self._handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        self.log.addHandler(self._handler)
        self.log.setLevel(logging.INFO)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._writer = SummaryWriter(str(self.run_dir / "tb"),
                                             purge_step=start_step + 1 if resumed else None)
            except ImportError as exc:  # pragma: no cover - tensorboard is a dependency
                self.log.warning("TensorBoard disabled: %s", exc)
        if progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total_steps, initial=start_step, unit="it",
                             dynamic_ncols=True, desc="train")

    def info(self, msg: str, *args: Any) -> None:
        """A line in train.log and on the console (above the progress bar)."""
        self._emit(logging.INFO, msg, args)

    def warning(self, msg: str, *args: Any) -> None:
        """Like :meth:`info`, at WARNING level and prefixed ``WARNING:`` on the console."""
        self._emit(logging.WARNING, msg, args)

    def _emit(self, level: int, msg: str, args: tuple[Any, ...]) -> None:
        if not self.enabled:
            return
        text = msg % args if args else msg
        self.log.log(level, text)
        line = text if level < logging.WARNING else "WARNING: " + text
        if self._bar is not None:
            self._bar.write(line)
        else:
            print(line, flush=True)

    def advance(self, step: int, postfix: dict[str, float] | None = None) -> None:
        """Move the bar to ``step``; ``postfix`` (e.g. the loss) is shown beside it."""
        if self._bar is None:
            return
        self._bar.update(step - self._bar.n)
        if postfix:
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in postfix.items()}, refresh=False)

    def steps_per_second(self, step: int) -> float:
        """Steps per second since the previous call."""
        now = time.perf_counter()
        rate = (step - self._last_step) / max(now - self._last_time, 1e-9)
        self._last_time, self._last_step = now, step
        return rate

    def train(self, step: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        self.train_csv.append({"step": step, **values})
        if self._writer is not None:
            for key, value in values.items():
                self._writer.add_scalar(f"train/{key}", value, step)

    def validation(self, step: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        self.val_csv.append({"step": step, **values})
        if self._writer is not None:
            for key, value in values.items():
                self._writer.add_scalar(f"val/{key}", value, step)
            self._writer.flush()

    def image(self, tag: str, step: int, img: np.ndarray) -> None:
        """img: (H, W, 3) float in [0, 1] or uint8."""
        if not self.enabled or self._writer is None:
            return
        self._writer.add_image(tag, img, step, dataformats="HWC")

    def text(self, tag: str, text: str) -> None:
        if self.enabled and self._writer is not None:
            self._writer.add_text(tag, text, 0)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._handler is not None:
            self.log.removeHandler(self._handler)
            self._handler.close()
            self._handler = None


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return value


def _as_int(value: Any) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0
