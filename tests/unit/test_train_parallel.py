"""Training's single-threaded fits side by side: the same folds, metrics and picks as one at a time; cancel."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from smdownscale.algorithms import model_io
from smdownscale.algorithms import train as train_mod
from smdownscale.algorithms.errors import Canceled
from smdownscale.algorithms.train import TrainRequest, train_model
from smdownscale.tests.scenes import MORE_DATES, make_scene, nonlinear_sm


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return make_scene(str(tmp_path_factory.mktemp("parallel")), sm_func=nonlinear_sm, dates=MORE_DATES, seed=7)


@pytest.fixture
def fits(monkeypatch):
    """Every fit training makes: (model type, rows, the thread it ran on)."""
    seen: list[tuple[str, int, str]] = []
    real = train_mod._fit

    def fit(estimator, x, y, model_type, seed):
        seen.append((model_type, int(y.size), threading.current_thread().name))
        return real(estimator, x, y, model_type, seed)

    monkeypatch.setattr(train_mod, "_fit", fit)
    return seen


def _without_times(value):
    """Metadata without what depends on the clock (seconds spent, creation time, prediction cost)."""
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if k not in ("seconds", "created", "province_day")}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


@pytest.mark.parametrize("model_type", ["gbr", "linear_gbr", "svr"])
def test_folds_side_by_side_give_the_same_metrics_and_model(scene, tmp_path, fits, model_type):
    runs = {}
    for n_jobs in (1, 2):
        out = str(tmp_path / f"{model_type}_{n_jobs}.smdmodel")
        fits.clear()
        res = train_model(TrainRequest(scene["sm"], scene["stacks"], out, model_type, cv_folds=3, n_jobs=n_jobs))
        threads = [name for _, _, name in fits]
        # 3 spatial + 3 random folds, 6 transfer folds (2x and 3x coarser grids) and the final fit
        assert len(threads) == 13
        if n_jobs == 1:
            assert all(not name.startswith("smd-fit") for name in threads)
        else:  # every fit on the pool's two threads, the final one beside the reported folds
            assert {name.rsplit("_", 1)[0] for name in threads} == {"smd-fit"} and len(set(threads)) == 2
        est, _ = model_io.load_model(out)
        runs[n_jobs] = (res, est)
    (one, est1), (two, est2) = runs[1], runs[2]
    for scheme in ("spatial", "random"):
        assert one.meta["cv"][scheme]["per_fold"] == two.meta["cv"][scheme]["per_fold"]
        assert one.meta["cv"][scheme]["pooled"] == two.meta["cv"][scheme]["pooled"]
        assert len(two.meta["cv"][scheme]["per_fold"]) == 3
    assert one.meta["cv"]["transfer"]["fold_rmse"] == two.meta["cv"]["transfer"]["fold_rmse"]
    assert len(two.meta["cv"]["transfer"]["fold_rmse"]) == 6
    assert one.metrics == two.metrics and 0 < one.metrics["rmse"] < 0.05
    pairs = train_mod.coarse_pairs(scene["sm"], scene["stacks"])
    np.testing.assert_array_equal(est1.predict(pairs.X), est2.predict(pairs.X))


def _approx(value):
    """Metadata whose numbers compare to within 1e-12 (the forests sum their trees' predictions over threads in
    whatever order the threads finish, so their last digit follows n_jobs)."""
    if isinstance(value, dict):
        return {k: _approx(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_approx(v) for v in value]
    return pytest.approx(value, rel=1e-12, abs=1e-15) if isinstance(value, float) else value


def test_auto_picks_the_same_with_one_or_two_jobs(scene, tmp_path, fits):
    metas = {}
    for n_jobs in (1, 2):
        fits.clear()
        res = train_model(TrainRequest(scene["sm"], scene["stacks"], str(tmp_path / f"auto{n_jobs}.smdmodel"), "auto",
                                       cv_folds=3, n_jobs=n_jobs))
        side = sum(name.startswith("smd-fit") for _, _, name in fits)
        assert side == 0 if n_jobs == 1 else side > 0
        metas[n_jobs] = _without_times(res.meta)
    one, two = metas[1], metas[2]
    assert [c["model_type"] for c in two["auto"]["candidates"]] == list(train_mod.AUTO_CANDIDATES)
    assert one["model_type"] == two["model_type"] == two["auto"]["winner"] == one["auto"]["winner"]
    assert [c["ranking"] for c in one["auto"]["candidates"]] == [c["ranking"] for c in two["auto"]["candidates"]]
    for c1, c2 in zip(one["auto"]["candidates"], two["auto"]["candidates"]):
        if c1["model_type"] in ("rf", "extratrees"):
            assert c1 == _approx(c2)
        else:  # single-threaded models: the very same numbers
            assert c1 == c2
    assert any(c.get("transfer", {}).get("fold_rmse") for c in two["auto"]["candidates"] if c["model_type"] != "rf")
    assert one["cv"] == _approx(two["cv"])
    assert one["params"] == two["params"]
    assert train_mod.selection_table(one) == train_mod.selection_table(two)


def test_cancel_during_side_by_side_folds_stops_them_and_writes_nothing(scene, tmp_path, fits, monkeypatch):
    out = str(tmp_path / "m.smdmodel")
    cancel = threading.Event()
    record = train_mod._fit

    def fit(estimator, x, y, model_type, seed):
        if len(fits) == 2:  # the third fit asks to cancel (and still runs)
            cancel.set()
        return record(estimator, x, y, model_type, seed)

    monkeypatch.setattr(train_mod, "_fit", fit)
    with pytest.raises(Canceled):
        train_model(TrainRequest(scene["sm"], scene["stacks"], out, "linear_gbr", cv_folds=5, n_jobs=2),
                    is_canceled=cancel.is_set)
    # of 5 spatial and 5 random folds, 6 transfer folds and the final fit, none starts after the cancel (one
    # already past its cancel check may)
    assert 3 <= len(fits) <= 4
    assert all(name.startswith("smd-fit") for _, _, name in fits)
    assert not any(t.name.startswith("smd-fit") for t in threading.enumerate())  # no thread left running
    assert not os.path.exists(out) and os.listdir(tmp_path) == []


def test_hybrid_fits_side_by_side_use_one_openmp_thread_each(scene, tmp_path, monkeypatch):
    # the hybrid's histogram boosting would use every core through OpenMP; beside each other, its fits and fold
    # predictions take one each (OpenMP's thread count is set in the thread that fits, never in the caller's)
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    from smdownscale.algorithms.hybrid import LinearBoostRegressor

    seen: list[tuple[str, str, int]] = []
    real_fit, real_predict = LinearBoostRegressor.fit, LinearBoostRegressor.predict

    def fit(self, x, y):
        seen.append(("fit", threading.current_thread().name, _openmp_effective_n_threads()))
        return real_fit(self, x, y)

    def predict(self, x):
        seen.append(("predict", threading.current_thread().name, _openmp_effective_n_threads()))
        return real_predict(self, x)

    monkeypatch.setattr(LinearBoostRegressor, "fit", fit)
    monkeypatch.setattr(LinearBoostRegressor, "predict", predict)
    before = _openmp_effective_n_threads()
    train_model(TrainRequest(scene["sm"], scene["stacks"], str(tmp_path / "h.smdmodel"), "linear_gbr", cv_folds=3,
                             n_jobs=2))
    # 3 spatial + 3 random folds, 6 transfer folds and the final fit; a prediction per fold
    assert sum(kind == "fit" for kind, _, _ in seen) == 13 and sum(kind == "predict" for kind, _, _ in seen) == 12
    assert {name.rsplit("_", 1)[0] for _, name, _ in seen} == {"smd-fit"}
    assert {threads for _, _, threads in seen} == {1}
    assert _openmp_effective_n_threads() == before
    unlimited: list[int] = []
    probe = threading.Thread(target=lambda: unlimited.append(_openmp_effective_n_threads()))
    probe.start()
    probe.join()
    if (os.cpu_count() or 1) > 1 and "OMP_NUM_THREADS" not in os.environ:
        assert unlimited[0] > 1  # a thread of its own would have used every core
