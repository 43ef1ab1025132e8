"""The linear trend + boosting hybrid (model type 'linear_gbr'): a ridge regression on standardized factors, then
histogram gradient boosting on its residuals.

The trend extrapolates linearly beyond the range of the coarse factors the model was fitted on (1 km factors span
a wider range than their 9 km means); the boosted trees add what is not linear. The boosting is scikit-learn's
:class:`~sklearn.ensemble.HistGradientBoostingRegressor` (binned splits: a fit costs a fraction of exact-split
gradient boosting's, the model files written before this class hold a ``GradientBoostingRegressor`` with the
ridge pipeline as its ``init`` and still load and predict as they did).

The trend is stored folded into one weight per feature and an intercept (``coef_``, ``intercept_``) and computed
feature by feature in float64, so each row's value depends on that row alone (never on how many rows are
predicted together): the compiled tree walker (:mod:`.native`) adds the same trend to its walk of the boosted
trees and predicts exactly what :meth:`LinearBoostRegressor.predict` does for float32 rows.

This module needs scikit-learn; it is imported where a model is made, loaded or compiled, never at plugin load.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin


class LinearBoostRegressor(RegressorMixin, BaseEstimator):
    """A ridge trend on standardized factors plus histogram gradient boosting of its residuals.

    ``predict(x) = trend(x) + boost_.predict(x)``. Early stopping is off (every fit runs ``max_iter``
    iterations: the same model for the same rows and seed). Parameters other than ``ridge_alpha`` are
    :class:`~sklearn.ensemble.HistGradientBoostingRegressor`'s.

    Parameters
    ----------
    ridge_alpha : float
        The ridge penalty of the trend (on standardized factors).
    max_iter : int
        Boosting iterations (one tree each).
    learning_rate : float
        The shrinkage of every tree.
    max_leaf_nodes : int or None
        Leaves per tree (None: no limit).
    min_samples_leaf : int
        The fewest samples a leaf holds.
    l2_regularization : float
        The L2 penalty on leaf values.
    max_depth : int or None
        The deepest a tree grows (None: no limit but ``max_leaf_nodes``).
    max_bins : int
        Histogram bins per feature (at most 255).
    random_state : int or None
        The seed (binning subsamples more than 200,000 rows).
    """

    def __init__(self, ridge_alpha: float = 1.0, max_iter: int = 50, learning_rate: float = 0.1,
                 max_leaf_nodes: int | None = None, min_samples_leaf: int = 5, l2_regularization: float = 0.0,
                 max_depth: int | None = 3, max_bins: int = 255, random_state: int | None = None) -> None:
        self.ridge_alpha = ridge_alpha
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.max_depth = max_depth
        self.max_bins = max_bins
        self.random_state = random_state

    def fit(self, x: Any, y: Any) -> LinearBoostRegressor:
        """Fit the ridge trend to ``y``, then the boosting to what it leaves.

        Parameters
        ----------
        x : array-like
            Shape (samples, features), finite.
        y : array-like
            Shape (samples,): the target.

        Returns
        -------
        LinearBoostRegressor
            This estimator, fitted.

        Raises
        ------
        ValueError
            ``x`` or ``y`` is empty, not finite, of mismatched length, or a parameter is invalid.
        """
        from sklearn.ensemble import HistGradientBoostingRegressor
        from sklearn.linear_model import Ridge
        from sklearn.preprocessing import StandardScaler
        from sklearn.utils.validation import check_X_y

        x, y = check_X_y(x, y, dtype=np.float64, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        alpha = float(self.ridge_alpha)
        if not (np.isfinite(alpha) and alpha >= 0):
            raise ValueError(f"ridge_alpha must be a finite number >= 0, got {self.ridge_alpha!r}")
        scaler = StandardScaler().fit(x)
        ridge = Ridge(alpha=alpha).fit(scaler.transform(x), y)
        # trend = intercept + sum_j coef_j (x_j - mean_j) / scale_j, folded into one weight per feature
        coef = np.asarray(ridge.coef_, dtype=np.float64).reshape(-1) / scaler.scale_
        self.coef_ = coef
        self.intercept_ = float(ridge.intercept_) - float(np.sum(coef * scaler.mean_))
        self.n_features_in_ = int(x.shape[1])
        boost = HistGradientBoostingRegressor(
            max_iter=self.max_iter, learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf, l2_regularization=self.l2_regularization,
            max_depth=self.max_depth, max_bins=self.max_bins, early_stopping=False, random_state=self.random_state)
        self.boost_ = boost.fit(x, y - self._linear(x))
        return self

    def _rows(self, x: Any) -> np.ndarray:
        """``x`` as a 2-D float32 or float64 array of the fitted width (float32 rows are not copied)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, ("coef_", "boost_"))
        x = np.asarray(x)
        if x.dtype not in (np.float32, np.float64):
            x = x.astype(np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features_in_:
            raise ValueError(f"x has shape {x.shape}; this model takes {self.n_features_in_} features per row")
        return x

    def _linear(self, x: np.ndarray) -> np.ndarray:
        # feature by feature in float64: a row's value never depends on the other rows (unlike a BLAS product)
        out = np.full(x.shape[0], self.intercept_, dtype=np.float64)
        for j, w in enumerate(np.asarray(self.coef_, dtype=np.float64)):
            out += np.asarray(x[:, j], dtype=np.float64) * w
        return out

    def trend(self, x: Any) -> np.ndarray:
        """The ridge trend of every row of ``x`` (what the boosting adds to).

        Parameters
        ----------
        x : array-like
            Shape (rows, features).

        Returns
        -------
        numpy.ndarray
            float64, shape (rows,).

        Raises
        ------
        ValueError
            ``x`` is not a matrix of the fitted width.
        """
        return self._linear(self._rows(x))

    def predict(self, x: Any) -> np.ndarray:
        """The trend plus the boosted trees for every row of ``x``.

        Parameters
        ----------
        x : array-like
            Shape (rows, features).

        Returns
        -------
        numpy.ndarray
            float64 predictions, shape (rows,).

        Raises
        ------
        ValueError
            ``x`` is not a matrix of the fitted width.
        """
        x = self._rows(x)
        return self._linear(x) + self.boost_.predict(x)
