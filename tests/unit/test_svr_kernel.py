"""The SVR kernel (native.CompiledSvr, inference.SvrKernel): scikit-learn's SVR.predict within 1e-9 for the
pipeline train.py builds, compiled and in numpy blocks; damaged arrays refused before the C code sees them;
without the library everything still predicts the same values."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

from smdownscale.algorithms import inference, model_io, native, train

TOL = 1e-9


def _data(n: int, seed: int = 0, features: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    x[:, 0] = x[:, 0] * 50 + 300  # an LST-like column in kelvin: the scaler matters
    x[:, 1] = rng.integers(0, 2, n)  # a 0/1 land cover fraction
    y = 0.25 + 0.05 * np.sin(x[:, 2]) + 0.02 * x[:, 3] * x[:, 4] + 0.03 * x[:, 1] + 0.005 * rng.normal(size=n)
    return x, y


@pytest.fixture(scope="module")
def fitted():
    x, y = _data(1500)
    models = {
        "train-default": train.make_estimator("svr").fit(x, y),  # gamma='scale', the scaler pipeline
        "gamma-float": train.make_estimator("svr", {"gamma": 0.3, "C": 3.0, "epsilon": 0.001}).fit(x, y),
        "bare-svr": SVR(C=10.0, epsilon=0.01, gamma=0.05).fit(StandardScaler().fit_transform(x), y),
        "wide-gamma": train.make_estimator("svr", {"gamma": 40.0}).fit(x, y),  # most kernel values underflow
    }
    return x, models


def test_the_library_has_the_kernel():
    assert native.available(), native.status()
    assert native._svr_function() is not None


@pytest.mark.parametrize("name", ["train-default", "gamma-float", "bare-svr", "wide-gamma"])
@pytest.mark.parametrize("use_native", [True, False], ids=["compiled", "numpy"])
def test_equals_scikit_learn_within_1e9(fitted, name, use_native):
    x, models = fitted
    est = models[name]
    kernel = inference.SvrKernel.of(est)
    assert kernel is not None
    svr = est.steps[-1][1] if isinstance(est, Pipeline) else est
    assert kernel.n_support == svr.support_.size > 50
    xt, _ = _data(7001, seed=3)  # not a multiple of the kernel's row block
    xt[:1500] = x  # the training rows, where the support vectors are
    if name == "bare-svr":
        xt = StandardScaler().fit(x).transform(xt)
    expected = est.predict(xt)
    assert expected.std() > 0.01  # a real model, not a constant
    for threads in (1, 2, 3):
        got = kernel.predict(xt, threads, use_native=use_native)
        assert got.dtype == np.float64 and got.shape == expected.shape
        assert np.max(np.abs(got - expected)) < TOL


def test_predictor_uses_the_kernel_and_bounds_memory_by_chunks(fitted, monkeypatch):
    x, models = fitted
    est = models["train-default"]
    predictor = inference.Predictor(est, n_jobs=2)
    assert predictor.svr is not None and predictor.estimator is None
    assert predictor.backend == "compiled SVR kernel" and predictor.kind == "SVR"
    monkeypatch.setattr(native, "SVR_CHUNK_ROWS", 1000)  # many chunks: the same values
    xt, _ = _data(5555, seed=5)
    assert np.max(np.abs(predictor.predict(xt) - est.predict(xt))) < TOL


def test_model_file_round_trip(fitted, tmp_path):
    x, models = fitted
    path = str(tmp_path / "svr.smdmodel")
    model_io.save_model(path, models["gamma-float"], {"model_type": "svr", "factors": []})
    assert model_io.load_compiled(path) is None  # not a tree model: loaded with skops
    est, _ = model_io.load_model(path)
    predictor = inference.Predictor(est)
    assert predictor.svr is not None
    assert np.max(np.abs(predictor.predict(x) - models["gamma-float"].predict(x))) < TOL


def test_without_the_library_numpy_blocks_give_the_same_values(fitted, monkeypatch):
    x, models = fitted
    est = models["train-default"]
    compiled = inference.Predictor(est).predict(x)
    monkeypatch.setenv(native.ENV_SWITCH, "0")
    assert not native.available() and native._svr_function() is None
    predictor = inference.Predictor(est)
    assert predictor.backend == "numpy SVR kernel"
    fallback = predictor.predict(x)
    assert np.max(np.abs(fallback - est.predict(x))) < TOL
    assert np.max(np.abs(fallback - compiled)) < TOL
    with pytest.raises(RuntimeError, match="compiled SVR kernel is not available.*switched off"):
        predictor.svr.predict(x, 1, use_native=True)


def _arrays(fitted):
    _, models = fitted
    c = inference.SvrKernel.of(models["train-default"]).compiled
    return c.support_vectors.copy(), c.coef.copy(), c.gamma, c.intercept


@pytest.mark.parametrize("damage, message", [
    (lambda a: (a[0][:-1], a[1], a[2], a[3]), "dual coefficients for"),
    (lambda a: (a[0].ravel(), a[1], a[2], a[3]), "must be a non-empty matrix"),
    (lambda a: (a[0][:0], a[1][:0], a[2], a[3]), "must be a non-empty matrix"),
    (lambda a: (a[0], a[1], 0.0, a[3]), "gamma must be positive"),
    (lambda a: (a[0], a[1], -1.0, a[3]), "gamma must be positive"),
    (lambda a: (a[0], a[1], float("nan"), a[3]), "gamma must be positive"),
    (lambda a: (a[0], a[1], a[2], float("inf")), "intercept finite"),
    (lambda a: (np.where(np.arange(a[0].size).reshape(a[0].shape) == 7, np.nan, a[0]), a[1], a[2], a[3]),
     "not finite"),
    (lambda a: (a[0], np.where(np.arange(a[1].size) == 3, np.inf, a[1]), a[2], a[3]), "not finite"),
])
def test_tampered_arrays_are_refused(fitted, damage, message):
    with pytest.raises(ValueError, match=message):
        native.CompiledSvr(*damage(_arrays(fitted)))


def test_rows_the_kernel_cannot_take_are_refused(fitted):
    c = native.CompiledSvr(*_arrays(fitted))
    with pytest.raises(ValueError, match="expected 6 features"):
        c.predict(np.zeros((3, 5)), 1)
    with pytest.raises(ValueError, match="must be finite"):
        c.predict(np.full((3, 6), np.nan), 1)
    assert c.predict(np.zeros((0, 6)), 2).shape == (0,)


def test_other_kernels_and_models_stay_with_scikit_learn(fitted):
    x, _ = fitted
    y = x[:, 2].astype(np.float64)
    for est in (Pipeline([("s", StandardScaler()), ("m", SVR(kernel="poly", degree=2))]).fit(x[:300], y[:300]),
                SVR(kernel="linear").fit(x[:300], y[:300])):
        assert native.compile_svr(est) is None
        predictor = inference.Predictor(est)
        assert predictor.svr is None and predictor.backend == "scikit-learn"
