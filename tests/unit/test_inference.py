"""algorithms/inference.py: leaf-ordered prediction gives the estimator's own numbers, in the original order."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesRegressor, GradientBoostingRegressor, RandomForestRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR
from sklearn.tree import DecisionTreeRegressor

from smdownscale.algorithms import inference


def _data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    x[:, 5] = rng.integers(0, 2, n)  # a 0/1 class-fraction column, as land cover gives
    y = np.sin(x[:, 0]) + 0.5 * x[:, 1] * x[:, 2] + 0.2 * x[:, 5] + 0.1 * rng.normal(size=n)
    return x, y


@pytest.fixture(scope="module")
def fitted():
    x, y = _data(3000)
    return {
        "rf": RandomForestRegressor(n_estimators=20, min_samples_leaf=2, random_state=0, n_jobs=1).fit(x, y),
        "et": ExtraTreesRegressor(n_estimators=10, random_state=0, n_jobs=1).fit(x, y),
        "gbr": GradientBoostingRegressor(n_estimators=15, random_state=0).fit(x, y),
        "cart": DecisionTreeRegressor(min_samples_leaf=3, random_state=0).fit(x, y),
        "svr": Pipeline([("s", StandardScaler()), ("m", SVR())]).fit(x[:400], y[:400]),
    }


@pytest.mark.parametrize("name", ["rf", "et", "gbr", "cart", "svr"])
def test_equals_plain_predict_bit_for_bit(fitted, name):
    est = fitted[name]
    x, _ = _data(20000, seed=1)
    expected = est.predict(x)
    got = inference.predict(est, x)
    assert got.dtype == np.float64 and got.shape == (x.shape[0],)
    np.testing.assert_array_equal(got, expected)
    # the same on a float64, non-contiguous design matrix
    wide = np.asfortranarray(np.hstack([x, x]).astype(np.float64))[:, :6]
    np.testing.assert_array_equal(inference.predict(est, wide), expected)


def test_ensembles_are_reordered_by_first_tree_leaf(fitted):
    x, _ = _data(20000, seed=2)
    order = inference.locality_order(fitted["rf"], x)
    assert order is not None and sorted(order.tolist()) == list(range(x.shape[0]))
    leaves = fitted["rf"].estimators_[0].apply(x)[order]
    assert np.all(np.diff(leaves) >= 0)  # grouped by leaf (node ids of this small tree fit 16 bits)
    assert inference.locality_order(fitted["gbr"], x) is not None
    # single trees, pipelines and small batches are predicted as given
    assert inference.locality_order(fitted["cart"], x) is None
    assert inference.locality_order(fitted["svr"], x) is None
    assert inference.locality_order(fitted["rf"], x[: inference.MIN_SORTED_ROWS - 1]) is None


def test_parallel_forest_matches_sequential(fitted):
    rf = fitted["rf"]
    x, _ = _data(30000, seed=3)
    sequential = rf.predict(x)
    rf.set_params(n_jobs=2)
    try:
        got = inference.predict(rf, x)
    finally:
        rf.set_params(n_jobs=1)
    # threads sum the trees in the order they finish: equal up to float64 rounding
    np.testing.assert_allclose(got, sequential, rtol=1e-12, atol=1e-15)


def test_empty_and_small_inputs(fitted):
    x, _ = _data(10, seed=4)
    np.testing.assert_array_equal(inference.predict(fitted["rf"], x), fitted["rf"].predict(x))
    assert inference.predict(fitted["cart"], np.empty((0, 6), np.float32)).shape == (0,)


def test_trees_with_more_than_65536_nodes():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(40000, 3)).astype(np.float32)
    y = rng.normal(size=40000)  # noise: every sample gets its own leaf
    rf = RandomForestRegressor(n_estimators=2, bootstrap=False, random_state=0, n_jobs=1).fit(x, y)
    assert rf.estimators_[0].tree_.node_count > 2**16
    xt = rng.normal(size=(20000, 3)).astype(np.float32)
    order = inference.locality_order(rf, xt)
    leaves = rf.estimators_[0].apply(xt)[order]
    assert np.all(np.diff(leaves >> 1) >= 0)
    np.testing.assert_array_equal(inference.predict(rf, xt), rf.predict(xt))
