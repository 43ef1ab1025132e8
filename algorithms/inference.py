"""Fast, exact prediction of fitted scikit-learn models over many pixels.

A tree ensemble spends its prediction time walking every tree from the root for every pixel. When
consecutive pixels take different paths, each level of each tree is a cache miss. Pixels sorted by
the leaf they reach in the first tree take nearly the same paths in the other trees too (the trees
of a forest split on the same strong factors), so the nodes they visit stay in the CPU caches: the
forest predicts about twice as fast. Each pixel's prediction is computed exactly as before (the same
trees on the same values, summed in the same order), so the numbers do not change.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Fewer rows than this are predicted as they come (sorting would not pay off).
MIN_SORTED_ROWS = 4096


def _first_tree(estimator: Any) -> Any | None:
    """The first fitted tree of a tree ensemble (random forest, extra trees, gradient boosting), else None."""
    trees = getattr(estimator, "estimators_", None)
    if trees is None:
        return None
    try:
        first = np.asarray(trees, dtype=object).ravel()[0] if len(trees) else None
    except (TypeError, ValueError, IndexError):
        return None
    if first is None or not hasattr(first, "apply") or not hasattr(first, "tree_"):
        return None
    return first


def locality_order(estimator: Any, x: np.ndarray) -> np.ndarray | None:
    """Row order grouping rows by the leaf of the ensemble's first tree, or None when it would not help."""
    tree = _first_tree(estimator)
    if tree is None or x.shape[0] < MIN_SORTED_ROWS:
        return None
    leaves = tree.apply(x)
    # Node ids number the tree depth-first, so nearby ids are nearby leaves: dropping low bits to fit
    # 16 bits keeps the grouping and lets numpy use its linear-time radix sort.
    shift = max(0, int(tree.tree_.node_count).bit_length() - 16)
    return np.argsort((leaves >> shift).astype(np.uint16), kind="stable")


def predict(estimator: Any, x: np.ndarray) -> np.ndarray:
    """``estimator.predict(x)`` as a float64 vector, with tree ensembles evaluated in leaf order.

    ``x`` is the (rows, features) design matrix (float32, as scikit-learn's trees use). The result is
    the estimator's own prediction for every row, in the original row order.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.shape[0] == 0:
        return np.empty(0, dtype=np.float64)
    order = locality_order(estimator, x)
    if order is None:
        return np.asarray(estimator.predict(x), dtype=np.float64).reshape(-1)
    out = np.empty(x.shape[0], dtype=np.float64)
    out[order] = np.asarray(estimator.predict(x[order]), dtype=np.float64).reshape(-1)
    return out
