"""Regression forests of NRQM, evaluated for all trees at once.

A forest is stored as randomforest-matlab (Liaw & Wiener's R ``randomForest`` code) stores it
and pyiqa reads it: per tree a column of node tables, nodes numbered from 1, ``left`` /
``right`` child numbers (0: none), the 1-based feature tested (``mbest``), the threshold
(``upper``) and the node's prediction (``avnode``). A sample goes left when
``feature <= threshold``; the walk stops when the chosen child is 0 and the tree predicts the
value of the node it stopped at. The forest predicts the mean over its trees.

:func:`predict` walks every tree of every sample in lockstep, one gather per level, for as many
levels as the deepest path (computed once when the forest is packed), instead of pyiqa's Python
loop over samples, trees and nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

__all__ = ["PackedForest", "pack_forest", "predict"]


@dataclass(frozen=True)
class PackedForest:
    """One forest as (n_nodes, n_trees) tables on one device.

    Attributes:
        left, right: int64 child node numbers (1-based, 0 = no child).
        attribute: int64 1-based feature tested at the node (0 at leaves: pyiqa then reads the
            last feature, as numpy's index -1 does; the result is never used).
        threshold: float64 split value; ``feature <= threshold`` goes left.
        value: float64 prediction of the node.
        n_features: length of the feature vector the forest was trained on.
        steps: nodes on the longest root-to-leaf path (levels :func:`predict` walks).
    """

    left: torch.Tensor
    right: torch.Tensor
    attribute: torch.Tensor
    threshold: torch.Tensor
    value: torch.Tensor
    n_features: int
    steps: int

    @property
    def n_nodes(self) -> int:
        return int(self.left.shape[0])

    @property
    def n_trees(self) -> int:
        return int(self.left.shape[1])

    def to(self, device: torch.device | str) -> PackedForest:
        """The same forest with its tables on ``device``."""
        move = {k: getattr(self, k).to(device) for k in ("left", "right", "attribute", "threshold", "value")}
        return replace(self, **move)


def _longest_path(left: np.ndarray, right: np.ndarray) -> int:
    """Nodes on the longest path from the roots that follows non-zero children (cap: n_nodes)."""
    n_nodes, n_trees = left.shape
    frontier = np.zeros((n_nodes, n_trees), dtype=bool)
    frontier[0] = True
    trees = np.arange(n_trees)
    for step in range(1, n_nodes + 1):
        nodes, cols = np.nonzero(frontier)
        frontier = np.zeros_like(frontier)
        for child in (left[nodes, cols], right[nodes, cols]):
            keep = child > 0
            frontier[child[keep] - 1, trees[cols[keep]]] = True
        if not frontier.any():
            return step
    return n_nodes


def pack_forest(left: np.ndarray, right: np.ndarray, attribute: np.ndarray, threshold: np.ndarray,
                value: np.ndarray, n_features: int, name: str = "forest") -> PackedForest:
    """Check and pack the (n_nodes, n_trees) tables of one forest (CPU tensors).

    Raises ValueError, naming ``name``, when the tables disagree in shape, a child number lies
    outside 0..n_nodes or a feature number outside 0..n_features.
    """
    tables = {"lDau": left, "rDau": right, "mbest": attribute, "upper": threshold, "avnode": value}
    arrays = {k: np.asarray(v) for k, v in tables.items()}
    shape = arrays["lDau"].shape
    if len(shape) != 2 or shape[0] < 1 or shape[1] < 1:
        raise ValueError(f"{name}: node tables must be (n_nodes, n_trees), got lDau of shape {shape}")
    for key, arr in arrays.items():
        if arr.shape != shape:
            raise ValueError(f"{name}: {key} has shape {arr.shape}, lDau has {shape}")
        if not np.all(np.isfinite(arr.astype(np.float64))):
            raise ValueError(f"{name}: {key} contains NaN or infinite values")
    ints = {}
    for key in ("lDau", "rDau", "mbest"):
        as_int = arrays[key].astype(np.int64)
        if not np.array_equal(as_int, arrays[key]):
            raise ValueError(f"{name}: {key} must hold whole numbers")
        ints[key] = as_int
    for key in ("lDau", "rDau"):
        if ints[key].min() < 0 or ints[key].max() > shape[0]:
            raise ValueError(f"{name}: {key} holds node numbers outside 0..{shape[0]}")
    if ints["mbest"].min() < 0 or ints["mbest"].max() > n_features:
        raise ValueError(f"{name}: mbest holds feature numbers outside 0..{n_features}")
    return PackedForest(
        left=torch.from_numpy(ints["lDau"]),
        right=torch.from_numpy(ints["rDau"]),
        attribute=torch.from_numpy(ints["mbest"]),
        threshold=torch.from_numpy(arrays["upper"].astype(np.float64)),
        value=torch.from_numpy(arrays["avnode"].astype(np.float64)),
        n_features=int(n_features),
        steps=_longest_path(ints["lDau"], ints["rDau"]),
    )


def predict(forest: PackedForest, features: torch.Tensor) -> torch.Tensor:
    """Mean prediction of the forest's trees for each sample.

    features: (B, n_features) float64 on the forest's device. Returns (B,) float64.
    """
    if features.ndim != 2 or features.shape[1] != forest.n_features:
        raise ValueError(f"expected features of shape (B, {forest.n_features}), got {tuple(features.shape)}")
    batch, n_trees = features.shape[0], forest.n_trees
    tree = torch.arange(n_trees, device=features.device).expand(batch, n_trees)
    node = torch.zeros(batch, n_trees, dtype=torch.int64, device=features.device)  # 0-based
    leaf = last = node
    done = torch.zeros(batch, n_trees, dtype=torch.bool, device=features.device)
    for _ in range(forest.steps):
        flat = node * n_trees + tree
        column = forest.attribute.flatten()[flat] - 1
        column = torch.where(column < 0, column + forest.n_features, column)
        go_left = features.gather(1, column) <= forest.threshold.flatten()[flat]
        child = torch.where(go_left, forest.left.flatten()[flat], forest.right.flatten()[flat])
        stop = (child == 0) & ~done
        leaf = torch.where(stop, node, leaf)
        done = done | stop
        last, node = node, torch.where(done, node, child - 1)
    # a walk still going after `steps` levels (only in a cyclic table, where steps = n_nodes as
    # pyiqa's loop bound) ends where pyiqa's does: at the node visited last
    leaf = torch.where(done, leaf, last)
    return forest.value.flatten()[leaf * n_trees + tree].mean(dim=1)
