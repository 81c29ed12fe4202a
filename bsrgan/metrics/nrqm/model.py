"""The NRQM model file (``NRQM_model.mat``, as pyiqa reads it): linear weights and three forests.

Layout (MATLAB): a struct ``model`` with ``model.linear`` (4 x 1 double: bias, then the weights
of the three forest predictions) and ``model.rf``, a 1 x 3 cell of regression-forest structs as
randomforest-matlab's ``regRF_train`` returns them. pyiqa reads the forest fields by position,
and so do we: 0 ``lDau``, 1 ``rDau``, 4 ``upper``, 5 ``avnode``, 6 ``mbest`` (2, 3 are
``nodestatus``, ``nrnodes``). Forest k scores feature group k: the 18 block-DCT, 45 GSM and 75
singular-value features.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import scipy.io
import torch

from .forest import PackedForest, pack_forest

__all__ = ["FEATURE_GROUPS", "NrqmModel", "load_nrqm_model"]

FEATURE_GROUPS = (("dct", 18), ("gsm", 45), ("svd", 75))  # forest k <-> (features, length)
_FIELD_POSITIONS = {"lDau": 0, "rDau": 1, "upper": 4, "avnode": 5, "mbest": 6}


@dataclass(frozen=True)
class NrqmModel:
    """Linear weights and forests of NRQM.

    Attributes:
        linear: (4,) float64; score = linear[0] + sum_k linear[k + 1] * forest_k(features_k).
        forests: the DCT, GSM and SVD forests, in that order.
        source: file the model was read from ("" when built in memory).
        sha256: hex sha256 of that file's bytes ("" when built in memory).
    """

    linear: torch.Tensor
    forests: tuple[PackedForest, PackedForest, PackedForest]
    source: str = ""
    sha256: str = ""

    def to(self, device: torch.device | str) -> NrqmModel:
        """The same model with its tensors on ``device``."""
        return replace(self, linear=self.linear.to(device),
                       forests=tuple(f.to(device) for f in self.forests))


def _forest_fields(rf_cell: np.ndarray, k: int, label: str) -> dict[str, np.ndarray]:
    try:
        record = rf_cell[0, k][0, 0]
        return {key: np.asarray(record[pos]) for key, pos in _FIELD_POSITIONS.items()}
    except (IndexError, TypeError, ValueError, KeyError) as err:
        raise ValueError(f"{label}: model.rf{{{k + 1}}} is not a randomforest-matlab struct "
                         f"with at least 7 fields: {err}") from None


def load_nrqm_model(path: str | Path) -> NrqmModel:
    """Read ``NRQM_model.mat`` (or a file in its layout) and hash it.

    Raises ValueError naming the file when it is not a MATLAB file in that layout.
    """
    from bsrgan.assets.verify import sha256_file

    path = Path(path)
    label = str(path)
    try:
        mat = scipy.io.loadmat(str(path))
    except FileNotFoundError:
        raise
    except (scipy.io.matlab.MatReadError, ValueError, TypeError, OSError, IndexError, KeyError,
            NotImplementedError) as err:  # what scipy raises for junk, truncated or v7.3 files
        raise ValueError(f"{label}: not a readable MATLAB .mat file: {err}") from None
    if "model" not in mat:
        raise ValueError(f"{label}: no variable 'model' (found: {sorted(k for k in mat if not k.startswith('__'))})")
    model = mat["model"]
    names = model.dtype.names or ()
    if "linear" not in names or "rf" not in names:
        raise ValueError(f"{label}: 'model' must be a struct with fields linear and rf, has {names}")
    linear = np.asarray(model["linear"][0, 0], dtype=np.float64).ravel()
    if linear.shape != (4,):
        raise ValueError(f"{label}: model.linear must hold 4 numbers (bias + 3 weights), has {linear.size}")
    rf_cell = model["rf"][0, 0]
    if getattr(rf_cell, "size", 0) != 3:
        raise ValueError(f"{label}: model.rf must be a cell of 3 forests, has {getattr(rf_cell, 'size', 0)}")
    forests = []
    for k, (group, n_features) in enumerate(FEATURE_GROUPS):
        fields = _forest_fields(rf_cell.reshape(1, 3), k, label)
        forests.append(pack_forest(fields["lDau"], fields["rDau"], fields["mbest"], fields["upper"],
                                   fields["avnode"], n_features, name=f"{label}: {group} forest"))
    return NrqmModel(torch.from_numpy(linear), tuple(forests), label, sha256_file(path))
