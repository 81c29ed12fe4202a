"""NRQM of prepared luma planes on any device: the model file, the device, the features, the score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .features import NrqmFeatures, nrqm_features, nrqm_score
from .model import NrqmModel, load_nrqm_model

__all__ = ["NrqmScorer", "resolve_device"]


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` / ``"auto"``: the first CUDA GPU when torch sees one, else the CPU."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class NrqmScorer:
    """Callable ``luma (H, W) 0-255 -> NRQM`` with one loaded model; picklable (CPU copy only).

    Args:
        model_path: ``NRQM_model.mat`` or a file in its layout (:mod:`.model`).
        device: where features and forests run; ``None`` / ``"auto"`` picks the GPU when present.
            The device is resolved at the first call, so a scorer built in a parent process and
            sent to workers does not touch CUDA before it is used.

    Attributes:
        model: the model on the CPU; ``model.sha256`` is the hash of the file read.
    """

    def __init__(self, model_path: str | Path, device: str | torch.device | None = None) -> None:
        self.model: NrqmModel = load_nrqm_model(model_path)
        self.device = None if device is None else str(device)
        self._on_device: NrqmModel | None = None

    @property
    def sha256(self) -> str:
        """Hex sha256 of the model file in use."""
        return self.model.sha256

    def _model(self) -> NrqmModel:
        device = resolve_device(self.device)
        if self._on_device is None or self._on_device.linear.device != device:
            self._on_device = self.model.to(device)
        return self._on_device

    def _tensor(self, luma: np.ndarray | torch.Tensor) -> torch.Tensor:
        device = resolve_device(self.device)
        if isinstance(luma, torch.Tensor):
            return luma.to(device=device, dtype=torch.float64)
        return torch.from_numpy(np.ascontiguousarray(luma, dtype=np.float64)).to(device)

    def features(self, luma: np.ndarray | torch.Tensor) -> NrqmFeatures:
        """The 18 + 45 + 75 features of ``luma`` ((H, W) or (B, H, W), 0-255)."""
        with torch.no_grad():
            return nrqm_features(self._tensor(luma))

    def scores(self, luma: np.ndarray | torch.Tensor) -> torch.Tensor:
        """(B,) float64 scores of (H, W) or (B, H, W) luma planes, on the scorer's device."""
        model = self._model()
        with torch.no_grad():
            return nrqm_score(nrqm_features(self._tensor(luma)), model)

    def __call__(self, luma: np.ndarray | torch.Tensor) -> float:
        """NRQM of one (H, W) luma plane in 0-255."""
        return float(self.scores(luma)[0])

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_on_device"] = None
        return state
