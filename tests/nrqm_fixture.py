"""Synthetic NRQM model files in the exact ``.mat`` layout of pyiqa's ``NRQM_model.mat``.

The real model has no offline copy, so tests write a small one into ``tmp_path`` at test time
(never a committed binary). Layout, as pyiqa reads it: a struct ``model`` with ``linear`` (4 x 1
double) and ``rf``, a 1 x 3 cell of structs with randomforest-matlab's ``regRF_train`` fields in
its order (``lDau, rDau, nodestatus, nrnodes, upper, avnode, mbest, ndtree, ntree``); pyiqa reads
fields 0, 1, 4, 5, 6 by position.

The trees are grown on feature vectors the caller passes (e.g. NRQM features of the test images,
plus random points between them): every split is a midpoint between two sample values, so the
test images take different paths, and no threshold lies within ``margin`` (relative to the
feature's spread) of any sample value that the caller marks as protected, so a round-off-level
difference in a feature cannot change a path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.io

FIELDS = ("lDau", "rDau", "nodestatus", "nrnodes", "upper", "avnode", "mbest", "ndtree", "ntree")
NODE_TERMINAL, NODE_INTERIOR = -1, -3  # randomforest's node status codes


@dataclass
class _Tree:
    left: list[int] = field(default_factory=list)  # 1-based child numbers, 0 = none
    right: list[int] = field(default_factory=list)
    attribute: list[int] = field(default_factory=list)  # 1-based feature, 0 at leaves
    threshold: list[float] = field(default_factory=list)
    value: list[float] = field(default_factory=list)

    def add(self) -> int:
        for column in (self.left, self.right, self.attribute):
            column.append(0)
        self.threshold.append(0.0)
        self.value.append(0.0)
        return len(self.left) - 1


def _split(rng: np.random.Generator, x: np.ndarray, protected: np.ndarray,
           margin: float) -> tuple[int, float] | None:
    """A random feature and a midpoint threshold that separates the rows of ``x``, or None."""
    spread = np.ptp(protected, axis=0) + 1e-12
    for feature in rng.permutation(x.shape[1]):
        values = np.unique(x[:, feature])
        if values.size < 2:
            continue
        mids = (values[1:] + values[:-1]) / 2
        clearance = np.abs(mids[:, None] - protected[None, :, feature]).min(axis=1)
        mids = mids[clearance > margin * spread[feature]]
        if mids.size:
            return int(feature), float(rng.choice(mids))
    return None


def grow_tree(rng: np.random.Generator, x: np.ndarray, y: np.ndarray, protected: np.ndarray,
              max_depth: int = 8, margin: float = 1e-4) -> _Tree:
    """A regression tree on samples ``x`` (n, d) with targets ``y`` (n,), nodes numbered breadth-first."""
    tree = _Tree()
    queue = [(tree.add(), np.arange(len(x)), 0)]
    while queue:
        node, rows, depth = queue.pop(0)
        tree.value[node] = float(y[rows].mean())
        split = _split(rng, x[rows], protected, margin) if depth < max_depth and rows.size > 1 else None
        if split is None:
            continue  # a leaf: children 0, feature 0, threshold 0
        feature, threshold = split
        go_left = x[rows, feature] <= threshold
        tree.attribute[node], tree.threshold[node] = feature + 1, threshold
        left, right = tree.add(), tree.add()
        tree.left[node], tree.right[node] = left + 1, right + 1
        queue += [(left, rows[go_left], depth + 1), (right, rows[~go_left], depth + 1)]
    return tree


def synthetic_forest(rng: np.random.Generator, samples: np.ndarray, protected: np.ndarray | None = None,
                     n_trees: int = 24, max_depth: int = 8, margin: float = 1e-4) -> dict[str, np.ndarray]:
    """One forest in randomforest-matlab's struct fields, trained on bootstrap draws of ``samples``.

    samples: (n, d) float64 feature vectors; targets are random NRQM-like scores in [2, 9].
    protected: rows whose values no threshold may come near (default: ``samples``).
    """
    samples = np.asarray(samples, dtype=np.float64)
    protected = samples if protected is None else np.asarray(protected, dtype=np.float64)
    targets = rng.uniform(2.0, 9.0, size=len(samples))
    trees = []
    for _ in range(n_trees):
        rows = rng.integers(0, len(samples), size=len(samples))
        trees.append(grow_tree(rng, samples[rows], targets[rows], protected, max_depth, margin))
    n_nodes = max(len(t.left) for t in trees)

    def table(column: str, dtype) -> np.ndarray:
        out = np.zeros((n_nodes, n_trees), dtype=dtype)
        for j, tree in enumerate(trees):
            values = getattr(tree, column)
            out[: len(values), j] = values
        return out

    left = table("left", np.int32)
    status = np.zeros((n_nodes, n_trees), dtype=np.int32)
    for j, tree in enumerate(trees):
        status[: len(tree.left), j] = np.where(np.asarray(tree.left) > 0, NODE_INTERIOR, NODE_TERMINAL)
    return {
        "lDau": left,
        "rDau": table("right", np.int32),
        "nodestatus": status,
        "nrnodes": np.int32(n_nodes),
        "upper": table("threshold", np.float64),
        "avnode": table("value", np.float64),
        "mbest": table("attribute", np.int32),
        "ndtree": np.array([[len(t.left) for t in trees]], dtype=np.int32),
        "ntree": float(n_trees),
    }


def write_model(path: Path, forests: list[dict[str, np.ndarray]], linear: np.ndarray) -> Path:
    """Write ``model.linear`` (4 x 1) and ``model.rf`` (1 x 3 cell of forest structs) to ``path``."""
    cell = np.empty((1, len(forests)), dtype=object)
    for k, forest in enumerate(forests):
        cell[0, k] = {name: forest[name] for name in FIELDS}  # dict order = MATLAB field order
    linear = np.asarray(linear, dtype=np.float64).reshape(-1, 1)
    scipy.io.savemat(str(path), {"model": {"linear": linear, "rf": cell}})
    return path


def write_synthetic_nrqm_model(path: Path, rng: np.random.Generator,
                               feature_samples: tuple[np.ndarray, np.ndarray, np.ndarray],
                               protected: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                               n_trees: int = 24, max_depth: int = 8) -> Path:
    """A complete synthetic ``NRQM_model.mat``: three forests on the DCT, GSM and SVD samples.

    feature_samples: per group (n, 18), (n, 45), (n, 75) arrays to grow the trees on.
    protected: per group, values no threshold may come near (default: the samples).
    The linear step is NRQM-like: score = 0.5 + 0.3 dct + 0.3 gsm + 0.35 svd forest output.
    """
    protected = protected or feature_samples
    forests = [synthetic_forest(rng, s, p, n_trees, max_depth) for s, p in zip(feature_samples, protected)]
    return write_model(path, forests, np.array([0.5, 0.3, 0.3, 0.35]))
