"""NRQM (Ma, Yang, Yang, Yang, CVIU 2017) in torch, equal to pyiqa's implementation, fast.

>>> from bsrgan.metrics.nrqm import NrqmScorer              # doctest: +SKIP
>>> scorer = NrqmScorer("NRQM_model.mat")                  # GPU when present
>>> scorer(luma), scorer.sha256                            # luma: (H, W) float 0-255

Modules: :mod:`.features` (the three feature groups and the score), :mod:`.dct_features`,
:mod:`.gsm_features`, :mod:`.pyramid`, :mod:`.resize` (pyiqa's float32 bicubic),
:mod:`.ggd` (shape lookup), :mod:`.forest` (all trees at once), :mod:`.model` (the .mat file).
"""

from .features import MIN_SIZE, NrqmFeatures, nrqm_features, nrqm_score
from .forest import PackedForest, pack_forest, predict
from .model import FEATURE_GROUPS, NrqmModel, load_nrqm_model
from .scorer import NrqmScorer, resolve_device

__all__ = [
    "FEATURE_GROUPS",
    "MIN_SIZE",
    "NrqmFeatures",
    "NrqmModel",
    "NrqmScorer",
    "PackedForest",
    "load_nrqm_model",
    "nrqm_features",
    "nrqm_score",
    "pack_forest",
    "predict",
    "resolve_device",
]
