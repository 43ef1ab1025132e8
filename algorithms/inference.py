"""Fast, exact prediction of fitted scikit-learn models over many pixels.

A tree ensemble spends its prediction time walking every tree from the root for every pixel. When
consecutive pixels take different paths, each level of each tree is a cache miss. Pixels sorted by
the leaf they reach in the first tree take nearly the same paths in the other trees too (the trees
of a forest split on the same strong factors), so the nodes they visit stay in the CPU caches: the
forest predicts about twice as fast. Each pixel's prediction is computed exactly as before (the same
trees on the same values, summed in the same order), so the numbers do not change.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import native

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
    """Row order grouping rows by the leaf of the ensemble's first tree, or None when it would not help.

    Parameters
    ----------
    estimator : Any
        A fitted estimator.
    x : numpy.ndarray
        The (rows, features) design matrix, float32.

    Returns
    -------
    numpy.ndarray or None
        A permutation of the row indices, or None for a model that is not a tree ensemble or for few rows.
    """
    tree = _first_tree(estimator)
    if tree is None or x.shape[0] < MIN_SORTED_ROWS:
        return None
    return _leaf_order(tree.apply(x), int(tree.tree_.node_count))


def _leaf_order(leaves: np.ndarray, node_count: int) -> np.ndarray:
    # Node ids number the tree depth-first, so nearby ids are nearby leaves: dropping low bits to fit
    # 16 bits keeps the grouping and lets numpy use its linear-time radix sort.
    shift = max(0, int(node_count).bit_length() - 16)
    return np.argsort((leaves >> shift).astype(np.uint16), kind="stable")


def predict(estimator: Any, x: np.ndarray) -> np.ndarray:
    """``estimator.predict(x)`` as a float64 vector, with tree ensembles evaluated in leaf order.

    ``x`` is the (rows, features) design matrix (float32, as scikit-learn's trees use). The result is
    the estimator's own prediction for every row, in the original row order.

    Parameters
    ----------
    estimator : Any
        A fitted scikit-learn estimator.
    x : numpy.ndarray
        The (rows, features) design matrix (converted to float32).

    Returns
    -------
    numpy.ndarray
        float64 predictions, shape (rows,).
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


def _averaged_trees(estimator: Any) -> list[Any] | None:
    """The trees of a random forest or extra trees regressor (whose prediction is their mean), else None."""
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor

    if isinstance(estimator, (RandomForestRegressor, ExtraTreesRegressor)) and len(estimator.estimators_) > 1:
        return list(estimator.estimators_)
    return None


class TreeMean:
    """Regression trees predicting the mean of their leaf values, as a random forest (or one tree) does.

    Built from the arrays of a model file one tree at a time (:func:`.model_io.load_trees`), so only the
    trees are in memory, never a second copy of the file. Predictions equal the forest's sequential
    ``predict`` bit for bit: each tree's leaf values are added in tree order, then divided by the number
    of trees. Rows are taken in first-tree leaf order (see :func:`predict`) and split between threads
    (scikit-learn's tree walk releases the GIL).
    """

    def __init__(self, trees: list[Any]) -> None:
        self.trees = trees
        self.values = [np.asarray(t.value, dtype=np.float64).reshape(-1) for t in trees]
        self.kind = ""

    @classmethod
    def from_arrays(cls, arrays: Any, n_features: int) -> TreeMean:
        """From (nodes, values, max_depth) per tree, as scikit-learn stores a Tree's state.

        Parameters
        ----------
        arrays : Any
            An iterable of (node records, values, max_depth), one per tree.
        n_features : int
            The number of features the trees take.

        Returns
        -------
        TreeMean
            The trees, whose prediction is the mean of their leaves.

        Raises
        ------
        ValueError
            No tree is given, or a tree's arrays are malformed (:func:`.native.check_tree_arrays`).
        """
        from sklearn.tree._tree import Tree

        trees = []
        for nodes, values, depth in arrays:
            native.check_tree_arrays(np.asarray(nodes["left_child"]), np.asarray(nodes["right_child"]),
                              np.asarray(nodes["feature"]), n_features)
            tree = Tree(n_features, np.ones(1, dtype=np.intp), 1)
            tree.__setstate__({"max_depth": int(depth), "node_count": int(nodes.shape[0]), "nodes": nodes,
                               "values": np.ascontiguousarray(values, dtype=np.float64)})
            trees.append(tree)
        if not trees:
            raise ValueError("tree arrays: no tree")
        return cls(trees)

    def predict(self, x: np.ndarray, n_threads: int = 1) -> np.ndarray:
        """The mean of the trees' leaf values for every row of ``x`` (float64), rows visited in leaf order for
        large inputs (same values as scikit-learn's sequential predict).

        Parameters
        ----------
        x : numpy.ndarray
            The (rows, features) design matrix (converted to float32).
        n_threads : int
            Threads walking parts of the rows.

        Returns
        -------
        numpy.ndarray
            float64 predictions, shape (rows,).
        """
        x = np.ascontiguousarray(x, dtype=np.float32)
        n = x.shape[0]
        out = np.empty(n, dtype=np.float64)
        if n == 0:
            return out
        order = _leaf_order(self.trees[0].apply(x), int(self.trees[0].node_count)) if n >= MIN_SORTED_ROWS \
            else None
        xs = x[order] if order is not None else x
        res = np.empty(n, dtype=np.float64)

        def run(a: int, b: int) -> None:
            part = xs[a:b]
            acc = np.zeros(b - a, dtype=np.float64)
            for tree, values in zip(self.trees, self.values):
                acc += values[tree.apply(part)]
            acc /= len(self.trees)
            res[a:b] = acc

        native.in_row_parts(n, max(1, min(int(n_threads), n // MIN_SORTED_ROWS or 1)), run)
        if order is None:
            return res
        out[order] = res
        return out


class SvrKernel:
    """An RBF support vector regression (alone or after the Pipeline's scaler, as train.py builds it),
    predicted by :class:`.native.CompiledSvr`: the compiled fused kernel when the library is built, numpy
    blocks otherwise. Rows go through the pipeline's own fitted transformers in chunks of
    :data:`.native.SVR_CHUNK_ROWS` (scikit-learn's arithmetic, so the kernel sees the same numbers as
    ``SVR.predict``), which bounds the memory for any extent. Equal to the pipeline's ``predict`` within
    1e-12 (rounding of the sums).
    """

    def __init__(self, steps: list[Any], compiled: native.CompiledSvr) -> None:
        self.steps = steps
        self.compiled = compiled

    @classmethod
    def of(cls, estimator: Any) -> SvrKernel | None:
        """The kernel of an RBF SVR (alone or after scikit-learn transformers), or None for any other model.

        Parameters
        ----------
        estimator : Any
            A fitted estimator.

        Returns
        -------
        SvrKernel or None
            The kernel with the transformers to apply first, or None.
        """
        found = native.compile_svr(estimator)
        return None if found is None else cls(*found)

    @property
    def n_support(self) -> int:
        return self.compiled.n_support

    def predict(self, x: np.ndarray, n_threads: int = 1, use_native: bool | None = None) -> np.ndarray:
        """scikit-learn's ``predict`` of the SVR (transformers applied) for every row of ``x``, float64, in chunks
        of bounded memory (the compiled kernel, else numpy blocks: the same values within 1e-9).

        Parameters
        ----------
        x : numpy.ndarray
            The (rows, features) design matrix, before the transformers.
        n_threads : int
            Threads for the compiled kernel.
        use_native : bool or None
            As for :meth:`.native.CompiledSvr.predict`.

        Returns
        -------
        numpy.ndarray
            float64 predictions, shape (rows,).
        """
        n = x.shape[0]
        out = np.empty(n, dtype=np.float64)
        step = native.SVR_CHUNK_ROWS * max(1, int(n_threads))
        for a in range(0, n, step):
            part = x[a:a + step]
            for transformer in self.steps:
                part = transformer.transform(part)
            out[a:a + step] = self.compiled.predict(np.asarray(part, dtype=np.float64), n_threads, use_native)
        return out


class Predictor:
    """A fitted model ready to predict many pixels, the fastest exact way available.

    Random forests, extra trees and single regression trees go to the compiled tree walker
    (:mod:`.native`) when it is built: the same values as scikit-learn's ``predict``, bit for bit,
    several times faster; without it they are scikit-learn trees (:class:`TreeMean`, same values). In
    both cases no scikit-learn estimator is kept (``estimator`` is None). RBF support vector regression
    (with its scaler) goes to :class:`SvrKernel` (the compiled fused kernel, else numpy blocks; scikit-learn's
    values within 1e-12). Every other model predicts through :func:`predict` (scikit-learn, tree ensembles
    in leaf order).
    """

    def __init__(self, estimator: Any, n_jobs: int | None = -1) -> None:
        compiled = native.compile_forest(estimator) if native.available() else None
        svr = SvrKernel.of(estimator) if compiled is None else None
        keep = None if compiled is not None or svr is not None else estimator
        self._setup(type(estimator).__name__, compiled, None, keep, n_jobs)
        self.svr = svr
        if svr is not None:
            self.kind = "SVR"

    def _setup(self, kind: str, compiled: native.CompiledForest | None, trees: TreeMean | None, estimator: Any,
               n_jobs: int | None) -> None:
        self.kind = kind
        self.compiled = compiled
        self.trees = trees
        self.svr: SvrKernel | None = None
        self.estimator = estimator
        self.set_n_jobs(n_jobs)

    @classmethod
    def from_compiled(cls, compiled: native.CompiledForest, n_jobs: int | None = -1) -> Predictor:
        """A predictor for a tree model read straight into the walker's arrays (model_io.load_compiled).

        Parameters
        ----------
        compiled : native.CompiledForest
            The walker's arrays.
        n_jobs : int or None
            Threads for prediction (None or -1: every core).

        Returns
        -------
        Predictor
            The predictor.
        """
        self = cls.__new__(cls)
        self._setup(compiled.kind or "tree model", compiled, None, None, n_jobs)
        return self

    @classmethod
    def from_trees(cls, trees: TreeMean, n_jobs: int | None = -1) -> Predictor:
        """A predictor for a tree model read as scikit-learn trees (model_io.load_trees, no compiled walker).

        Parameters
        ----------
        trees : TreeMean
            The trees.
        n_jobs : int or None
            Threads for prediction (None or -1: every core).

        Returns
        -------
        Predictor
            The predictor.
        """
        self = cls.__new__(cls)
        self._setup(trees.kind or "tree model", None, trees, None, n_jobs)
        return self

    @property
    def backend(self) -> str:
        if self.svr is not None:
            return "compiled SVR kernel" if native.available() else "numpy SVR kernel"
        return "compiled tree walker" if self.compiled is not None else "scikit-learn"

    def set_n_jobs(self, n_jobs: int | None) -> None:
        """Threads for prediction: None or -1 means every core.

        Parameters
        ----------
        n_jobs : int or None
            The number of threads (None or -1: every core); also set on the estimator's ``n_jobs`` parameters.
        """
        self.n_jobs = n_jobs
        if self.estimator is not None and n_jobs is not None and hasattr(self.estimator, "get_params"):
            try:
                keys = [k for k in self.estimator.get_params(deep=True) if k == "n_jobs" or k.endswith("__n_jobs")]
                if keys:
                    self.estimator.set_params(**{k: n_jobs for k in keys})
            except (TypeError, ValueError, AttributeError):
                pass

    def _threads(self) -> int:
        cores = os.cpu_count() or 1
        if self.n_jobs is None or self.n_jobs == -1:
            return cores
        return max(1, cores + 1 + self.n_jobs) if self.n_jobs < 0 else max(1, self.n_jobs)

    @property
    def has_spread(self) -> bool:
        """True for an averaging tree ensemble (random forest, extra trees): :meth:`spread` is defined."""
        if self.compiled is not None:
            return self.compiled.averaged
        if self.trees is not None:
            return len(self.trees.trees) > 1
        return _averaged_trees(self.estimator) is not None

    def spread(self, x: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
        """Standard deviation of the individual trees' predictions for every row of ``x`` (float64).

        The ensemble predicts the mean of its trees; the same walk over trees whose leaves hold the squared
        values gives the mean of the squares, so sd = sqrt(E[v^2] - E[v]^2) costs one walk more than the
        prediction and no memory per tree (the compiled walker, unchanged, or scikit-learn trees). Only for
        :attr:`has_spread` models.

        Parameters
        ----------
        x
            The design matrix (finite float32 rows).
        mean
            This predictor's :meth:`predict` of ``x`` when the caller already has it (then only the squares
            are walked; the result is the same); None: predicted here.

        Returns
        -------
        numpy.ndarray
            The trees' standard deviation per row (float64), shape (rows,).

        Raises
        ------
        ValueError
            The model is not an ensemble of averaged trees, or ``mean`` has not one value per row.
        """
        if not self.has_spread:
            raise ValueError("the model is not an ensemble of averaged trees")
        if mean is None:
            mean = self.predict(x)
        elif np.shape(mean) != (x.shape[0],):
            raise ValueError(f"the mean has shape {np.shape(mean)}, not one value per row ({x.shape[0]})")
        mean = np.asarray(mean, dtype=np.float64)
        if self.compiled is not None:
            if getattr(self, "_squares", None) is None:
                c = self.compiled
                self._squares = native.CompiledForest(c.nodes, c.leaf_value * c.leaf_value, c.roots, c.divisor,
                                                      c.n_features)
            squares = self._squares.predict(x, self._threads())
        elif self.trees is not None:
            if getattr(self, "_squares", None) is None:
                sq = TreeMean.__new__(TreeMean)
                sq.trees, sq.kind = self.trees.trees, self.trees.kind
                sq.values = [v * v for v in self.trees.values]
                self._squares = sq
            squares = self._squares.predict(x, self._threads())
        else:
            trees = _averaged_trees(self.estimator)
            assert trees is not None
            xs = np.ascontiguousarray(x, dtype=np.float32)
            squares = np.zeros(xs.shape[0], dtype=np.float64)
            for tree in trees:
                v = np.asarray(tree.predict(xs), dtype=np.float64)
                squares += v * v
            squares /= len(trees)
        return np.sqrt(np.maximum(squares - mean * mean, 0.0))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Prediction for every row of the design matrix ``x`` (finite float32 rows), float64.

        Parameters
        ----------
        x : numpy.ndarray
            The (rows, features) design matrix.

        Returns
        -------
        numpy.ndarray
            float64 predictions, shape (rows,).
        """
        if self.compiled is not None:
            return self.compiled.predict(x, self._threads())
        if self.trees is not None:
            return self.trees.predict(x, self._threads())
        if self.svr is not None:
            return self.svr.predict(x, self._threads())
        assert self.estimator is not None
        return predict(self.estimator, x)
