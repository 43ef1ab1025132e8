"""algorithms/native.py and model_io.load_compiled: the compiled tree walker predicts scikit-learn's
values bit for bit, refuses arrays it could walk out of, and everything falls back to scikit-learn
when it is switched off."""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import pytest
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR
from sklearn.tree import DecisionTreeRegressor, ExtraTreeRegressor

from smdownscale.algorithms import inference, model_io, native
from smdownscale.algorithms.errors import ModelFileError
from smdownscale.algorithms.hybrid import LinearBoostRegressor
from smdownscale.tests.scenes import previous_hybrid


def _data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype(np.float32)
    x[:, 3] = np.round(x[:, 3], 1)  # many ties: rows fall exactly on thresholds' neighbours
    x[:, 4] = rng.integers(0, 2, n)  # a 0/1 class column, as land cover gives
    y = np.sin(x[:, 0]) + 0.5 * x[:, 1] * x[:, 2] + 0.3 * x[:, 4] + 0.1 * rng.normal(size=n)
    return x, y


def _sequential(est):
    if "n_jobs" in est.get_params():
        est.set_params(n_jobs=1)  # scikit-learn's own sum, tree by tree in order
    return est


MODELS = {
    "rf": lambda: RandomForestRegressor(n_estimators=25, min_samples_leaf=2, max_features=0.5, random_state=0),
    "et": lambda: ExtraTreesRegressor(n_estimators=12, random_state=0),
    "cart": lambda: DecisionTreeRegressor(min_samples_leaf=3, random_state=0),
    "extratree": lambda: ExtraTreeRegressor(random_state=0),
    "stumps": lambda: RandomForestRegressor(n_estimators=7, max_depth=1, random_state=0),
}


def test_library_is_built_for_the_test_run():
    # make test builds it (make native); a missing library must not silently test the fallback only
    assert native.available(), native.status()
    assert native.status() == "compiled tree walker"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_bit_identical_to_scikit_learn(name):
    x, y = _data(4000)
    est = _sequential(MODELS[name]().fit(x, y))
    compiled = native.compile_forest(est)
    assert compiled is not None and compiled.kind == type(est).__name__
    xt, _ = _data(30000, seed=1)
    xt[:4000] = x  # the training rows, which sit on both sides of every threshold
    expected = est.predict(xt)
    for threads in (1, 2, 3):
        got = compiled.predict(xt, threads)
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, expected)
    # internal nodes only: as many leaves as internal nodes plus one per tree
    trees = getattr(est, "estimators_", [est])
    assert compiled.nodes.size == sum((t.tree_.node_count - 1) // 2 for t in trees)
    assert compiled.leaf_value.size == compiled.nodes.size + len(trees)


@pytest.mark.parametrize("low", [np.float32(8.0), np.nextafter(np.float32(8.0), np.float32(9.0))])
def test_thresholds_between_float32_values_pick_the_same_side(low):
    # two neighbouring float32 values: scikit-learn splits at their float64 midpoint, which float32 cannot
    # hold; rounding it to nearest would go up for one of the two cases (ties to even)
    high = np.nextafter(low, np.float32(9.0))  # 9.5e-7 apart: more than scikit-learn's 1e-7 "constant" tolerance
    x = np.array([[low], [high]], dtype=np.float32)
    est = DecisionTreeRegressor().fit(x, np.array([0.0, 1.0]))
    t = est.tree_.threshold[0]
    assert float(low) < t < float(high)
    compiled = native.compile_forest(est)
    assert compiled.nodes["threshold"][0] == low
    xt = np.array([[low], [high], [np.nextafter(low, np.float32(0))], [np.nextafter(high, np.float32(9))]],
                  dtype=np.float32)
    np.testing.assert_array_equal(compiled.predict(xt, 1), est.predict(xt))
    np.testing.assert_array_equal(compiled.predict(xt, 1), [0.0, 1.0, 0.0, 1.0])


def test_single_leaf_tree_and_unsupported_models():
    x, y = _data(200)
    stump = DecisionTreeRegressor().fit(x, np.full(200, 0.25))  # one node: the root is a leaf
    compiled = native.compile_forest(stump)
    assert compiled.nodes.size == 0 and compiled.roots.tolist() == [-1]
    np.testing.assert_array_equal(compiled.predict(x, 1), np.full(200, 0.25))
    for est in (HistGradientBoostingRegressor(max_iter=5, random_state=0, loss="poisson").fit(x, y - y.min() + 1),
                Pipeline([("s", StandardScaler()), ("m", SVR(kernel="linear"))]).fit(x, y),  # RBF SVR: test_svr_kernel
                RandomForestRegressor(n_estimators=3, random_state=0).fit(x, np.c_[y, y])):  # two outputs
        assert native.compile_forest(est) is None
        predictor = inference.Predictor(est)
        assert predictor.compiled is None and predictor.estimator is est
        assert predictor.backend == "scikit-learn"


def _compiled_stump() -> native.CompiledForest:
    x, y = _data(500)
    return native.compile_forest(RandomForestRegressor(n_estimators=2, max_depth=3, random_state=0).fit(x, y))


@pytest.mark.parametrize("damage, message", [
    (lambda c: c.nodes["left"].__setitem__(1, 0), "does not point to a later node"),      # a loop back to the root
    (lambda c: c.nodes["right"].__setitem__(0, c.nodes.size + 5), "does not point to a later node"),
    (lambda c: c.nodes["left"].__setitem__(2, -10**6), "leaf id is out of range"),
    (lambda c: c.nodes["feature"].__setitem__(0, 5), "feature the model does not have"),
    (lambda c: c.nodes["feature"].__setitem__(0, -1), "feature the model does not have"),
    (lambda c: c.roots.__setitem__(1, 10**6), "root id is out of range"),
])
def test_arrays_that_could_escape_or_loop_are_refused(damage, message):
    c = _compiled_stump()
    damage(c)
    with pytest.raises(ValueError, match=message):
        native.CompiledForest(c.nodes, c.leaf_value, c.roots, c.divisor, c.n_features)


def test_wrong_feature_count_is_an_error():
    c = _compiled_stump()
    with pytest.raises(ValueError, match="expected 5 features"):
        c.predict(np.zeros((3, 4), np.float32), 1)
    assert c.predict(np.zeros((0, 5), np.float32), 1).shape == (0,)


def test_switched_off_falls_back_to_scikit_learn(monkeypatch):
    x, y = _data(3000)
    est = _sequential(MODELS["rf"]().fit(x, y))
    monkeypatch.setenv(native.ENV_SWITCH, "0")
    assert not native.available() and "switched off" in native.status()
    assert native.compile_forest(est) is not None  # the arrays need no library ...
    predictor = inference.Predictor(est, n_jobs=1)
    assert predictor.compiled is None and predictor.backend == "scikit-learn"  # ... but prediction does
    np.testing.assert_array_equal(predictor.predict(x), est.predict(x))
    with pytest.raises(RuntimeError, match="not available: switched off"):
        native.compile_forest(est).predict(x, 1)
    monkeypatch.delenv(native.ENV_SWITCH)
    assert native.available()
    predictor = inference.Predictor(est)
    assert predictor.estimator is None and predictor.backend == "compiled tree walker"  # the forest is freed
    np.testing.assert_array_equal(predictor.predict(x), est.predict(x))


def test_missing_library_is_reported_not_fatal(monkeypatch, tmp_path):
    monkeypatch.setattr(native, "library_path", lambda: str(tmp_path / "libsmdtreewalk.so"))
    native._state.clear()
    try:
        assert not native.available()
        assert "not built" in native.status() and "make native" in native.status()
    finally:
        monkeypatch.undo()
        native._state.clear()
    assert native.available()


# --- model files read straight into the walker -----------------------------------------------------

def _save(tmp_path, est, name="m.smdmodel"):
    from smdownscale.algorithms.train import prepare_for_saving

    path = str(tmp_path / name)
    model_io.save_model(path, prepare_for_saving(est), {"model_type": "test", "factors": []})
    return path


@pytest.mark.parametrize("name", ["rf", "et", "cart", "stumps"])
def test_load_compiled_predicts_what_load_model_predicts(tmp_path, name):
    x, y = _data(3000)
    path = _save(tmp_path, MODELS[name]().fit(x, y))
    found = model_io.load_compiled(path)
    assert found is not None
    compiled, meta = found
    assert meta["model_type"] == "test" and meta["format"] == model_io.FORMAT
    est, _ = model_io.load_model(path)
    xt, _ = _data(20000, seed=3)
    np.testing.assert_array_equal(compiled.predict(xt, 2), _sequential(est).predict(xt))
    assert compiled.kind == type(est).__name__


def test_load_compiled_leaves_other_models_to_skops(tmp_path):
    x, y = _data(500)
    for est in (HistGradientBoostingRegressor(max_iter=5, random_state=0).fit(x, y),
                Pipeline([("s", StandardScaler()), ("m", SVR())]).fit(x, y),
                LinearBoostRegressor(max_iter=5, random_state=0).fit(x, y)):
        path = _save(tmp_path, est, f"{type(est).__name__}.smdmodel")
        assert model_io.load_compiled(path) is None
        assert model_io.load_trees(path) is None
        loaded = model_io.load_model(path)[0]
        np.testing.assert_array_equal(loaded.predict(x), est.predict(x))
        if type(est) is LinearBoostRegressor:  # loaded with skops, then walked
            predictor = inference.Predictor(loaded)
            assert predictor.backend == "compiled tree walker"
            np.testing.assert_array_equal(predictor.predict(x), est.predict(x))


@pytest.mark.parametrize("name", ["rf", "et", "cart", "stumps"])
def test_load_trees_predicts_what_load_model_predicts_without_skops(tmp_path, name, monkeypatch):
    import skops.io

    x, y = _data(3000)
    path = _save(tmp_path, MODELS[name]().fit(x, y))
    est = _sequential(model_io.load_model(path)[0])
    monkeypatch.setattr(skops.io, "load", lambda *a, **k: pytest.fail("load_trees must not build the estimator"))
    trees, meta = model_io.load_trees(path)
    assert trees.kind == type(est).__name__ and meta["model_type"] == "test"
    assert len(trees.trees) == len(getattr(est, "estimators_", [est]))
    for n in (1000, 20000):  # below and above the leaf-ordering threshold
        xt, _ = _data(n, seed=4)
        expected = est.predict(xt)
        for threads in (1, 2):
            np.testing.assert_array_equal(trees.predict(xt, threads), expected)
    predictor = inference.Predictor.from_trees(trees)
    assert predictor.backend == "scikit-learn" and predictor.estimator is None
    np.testing.assert_array_equal(predictor.predict(xt), expected)


@pytest.mark.parametrize("left, right, feature, message", [
    ([1, -1, -1], [2, -1, -1], [0, 0, 0], None),
    ([1, 0, -1], [2, -1, -1], [0, 0, 0], "malformed children"),         # node 1: one child only
    ([1, 0, -1], [2, 2, -1], [0, 0, 0], "does not point to a later node"),  # node 1 -> root
    ([1, -1, -1], [3, -1, -1], [0, 0, 0], "does not point to a later node"),
    ([1, -1, -1], [2, -1, -1], [5, 0, 0], "feature the model does not have"),
])
def test_check_tree_arrays(left, right, feature, message):
    args = [np.array(v) for v in (left, right, feature)] + [5]
    if message is None:
        native.check_tree_arrays(*args)
    else:
        with pytest.raises(ValueError, match=message):
            native.check_tree_arrays(*args)


def _rewrite_member(src: str, dst: str, edit) -> None:
    """Copy a model file, passing the first tree's node array through ``edit``."""
    with zipfile.ZipFile(src) as zin:
        schema = json.loads(zin.read("schema.json"))
        est = schema["content"]["estimator"]["content"]["content"]
        tree = est["estimators_"]["content"][0]["content"]["content"]["tree_"]["content"]["content"]
        target = tree["nodes"]["file"]
        with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
            for item in zin.infolist():
                data = zin.read(item)
                if item.filename == target:
                    nodes = np.load(io.BytesIO(data), allow_pickle=False)
                    edit(nodes)
                    buf = io.BytesIO()
                    np.save(buf, nodes, allow_pickle=False)
                    data = buf.getvalue()
                zout.writestr(item.filename, data)


@pytest.mark.parametrize("loader", ["load_compiled", "load_trees"])
def test_a_tampered_tree_is_refused_not_walked(tmp_path, loader):
    load = getattr(model_io, loader)
    x, y = _data(2000)
    path = _save(tmp_path, RandomForestRegressor(n_estimators=3, max_depth=4, random_state=0).fit(x, y))
    looped = str(tmp_path / "looped.smdmodel")
    _rewrite_member(path, looped, lambda n: n["left_child"].__setitem__(1, 0))  # node 1 -> root: a cycle
    with pytest.raises(ModelFileError, match="damaged or incomplete.*does not point to a later node"):
        load(looped)
    wild = str(tmp_path / "wild.smdmodel")
    _rewrite_member(path, wild, lambda n: n["feature"].__setitem__(0, 99))
    with pytest.raises(ModelFileError, match="damaged or incomplete.*feature the model does not have"):
        load(wild)
    assert not os.path.exists(str(tmp_path / "looped.smdmodel.partial"))


def test_load_compiled_applies_the_model_file_checks(tmp_path):
    with pytest.raises(ModelFileError, match="Model file not found"):
        model_io.load_compiled(str(tmp_path / "absent.smdmodel"))
    text = tmp_path / "text.smdmodel"
    text.write_text("not a model")
    with pytest.raises(ModelFileError, match="not a zip archive"):
        model_io.load_compiled(str(text))
    # a type outside the allowlist anywhere in the file refuses it, as load_model does
    x, y = _data(500)
    path = _save(tmp_path, RandomForestRegressor(n_estimators=2, random_state=0).fit(x, y))
    bad = str(tmp_path / "bad.smdmodel")
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "schema.json":
                schema = json.loads(data)
                schema["content"]["estimator"]["content"]["content"]["extra"] = {
                    "__class__": "system", "__module__": "os", "__loader__": "FunctionNode", "content": {}}
                data = json.dumps(schema).encode()
            zout.writestr(item, data)
    with pytest.raises(ModelFileError, match=r"contains types a smdownscale model never holds \(os.system"):
        model_io.load_compiled(bad)


# --- building the library (what `make native` does, for a plugin installed from a zip) -------------

def test_build_compiles_a_working_library(tmp_path):
    import ctypes

    out = str(tmp_path / "libsmdtreewalk.so")
    ok, message = native.build(output=out)
    assert ok, message
    assert message == f"built {out}" and not os.path.exists(out + ".tmp")
    lib = ctypes.CDLL(out)
    assert lib.smd_treewalk_abi() == native.ABI and lib.smd_treewalk_node_size() == 16
    assert lib.smd_svr_rows() >= 8  # the SVR kernel is in the same library
    assert lib.smd_cpu_ok() == 1  # built for this processor (-march=native when the compiler takes it)


def test_build_failures_say_what_to_do_and_leave_nothing(tmp_path, monkeypatch):
    out = str(tmp_path / "lib.so")
    ok, message = native.build(compiler="false", output=out)  # a "compiler" that fails
    assert not ok and message.startswith("compiling ") and "failed" in message
    assert os.listdir(tmp_path) == []
    monkeypatch.setenv("CC", "")
    monkeypatch.setattr(native.shutil, "which", lambda name: None)
    assert native.find_compiler() is None
    ok, message = native.build(output=out)
    assert not ok and "no C compiler was found" in message and "apt install gcc" in message
    assert os.listdir(tmp_path) == []


def test_build_hint_fits_how_the_plugin_was_installed(tmp_path):
    assert native.build_hint(str(tmp_path)).startswith("build it with 'Build compiled tree walker'")  # from the zip
    (tmp_path / "Makefile").write_text("native:\n")
    assert native.build_hint(str(tmp_path)) == "run 'make native'"  # a checkout


# --- boosted trees through the walker ----------------------------------------------------------------

BOOSTED = {
    "hgb-default": lambda: __import__("smdownscale.algorithms.train", fromlist=["x"]).make_estimator("gbr"),
    "hgb-deep": lambda: HistGradientBoostingRegressor(max_iter=60, max_leaf_nodes=63, learning_rate=0.2,
                                                      random_state=0),
    "linear_gbr": lambda: __import__("smdownscale.algorithms.train", fromlist=["x"]).make_estimator("linear_gbr"),
    "linear_gbr-deep": lambda: LinearBoostRegressor(max_iter=60, max_leaf_nodes=63, min_samples_leaf=3,
                                                    l2_regularization=1.0, ridge_alpha=10.0, random_state=0),
    "linear_gbr-previous": lambda: previous_hybrid(0),  # model files written before histogram boosting
    "gb-plain": lambda: GradientBoostingRegressor(n_estimators=40, max_depth=4, learning_rate=0.1, random_state=0),
}


@pytest.mark.parametrize("name", sorted(BOOSTED))
def test_boosted_trees_bit_identical_to_scikit_learn(name):
    x, y = _data(4000)
    est = BOOSTED[name]().fit(x, y)
    compiled = native.compile_forest(est)
    assert compiled is not None and compiled.kind == type(est).__name__ and compiled.divisor == 1.0
    xt, _ = _data(30000, seed=1)
    xt[:4000] = x
    expected = est.predict(xt)
    assert expected.std() > 0.1
    for threads in (1, 2):
        np.testing.assert_array_equal(compiled.predict(xt, threads), expected)
    predictor = inference.Predictor(est)
    assert predictor.backend == "compiled tree walker" and predictor.estimator is None
    np.testing.assert_array_equal(predictor.predict(xt), expected)
    # a boosted model's trees are summed, not averaged: it has no spread (downscale's uncertainty refuses it)
    assert not compiled.averaged and not predictor.has_spread


def test_hybrid_walk_is_its_boosting_walk_plus_its_trend():
    # the walk of the hybrid is exactly its HistGradientBoostingRegressor's (baseline first, then every tree in
    # order), and its ridge trend is added last, as LinearBoostRegressor.predict adds them
    x, y = _data(4000)
    est = LinearBoostRegressor(max_iter=30, random_state=0).fit(x, y)
    assert est.boost_.n_iter_ == 30  # early stopping off, even above 10,000 rows
    compiled = native.compile_forest(est)
    assert compiled.init is None and compiled.offset is not None and compiled.roots.size == 31
    xt, _ = _data(20000, seed=5)
    trend = est.trend(xt)
    boost = est.boost_.predict(xt)
    np.testing.assert_array_equal(compiled.predict(xt, 2), boost + trend)
    np.testing.assert_array_equal(est.predict(xt), trend + boost)
    assert np.corrcoef(trend, est.predict(xt))[0, 1] > 0.3 and boost.std() > 0.1  # both parts carry signal
    # the trend of a row does not depend on the rows predicted with it (no BLAS product over the block)
    parts = np.concatenate([est.trend(xt[:1]), est.trend(xt[1:4097]), est.trend(xt[4097:])])
    np.testing.assert_array_equal(parts, trend)
    np.testing.assert_array_equal(native.compile_forest(est).predict(xt[7:8], 1), est.predict(xt[7:8]))


def test_hybrid_walk_on_float64_rows_is_the_prediction_of_their_float32_values():
    # the walker reads float32 rows (downscale's design matrices are float32, and there it equals the estimator bit
    # for bit); float64 rows are rounded to float32 first, as for every tree model it walks: its values are then the
    # estimator's on the rounded rows, and within the model's change over one float32 step of the exact ones
    x, y = _data(4000)
    est = LinearBoostRegressor(random_state=0).fit(x, y)
    rng = np.random.default_rng(9)
    x64 = rng.normal(size=(20000, 5))
    x64[:, 4] = rng.integers(0, 2, x64.shape[0])
    compiled = native.compile_forest(est)
    walked = compiled.predict(x64, 2)
    np.testing.assert_array_equal(walked, est.predict(x64.astype(np.float32)))
    gap = np.abs(walked - est.predict(x64))
    assert gap.max() > 0  # float64 rows are not walked exactly ...
    # ... the rounding moves the trend (by less than 1e-6 here) and, for a few rows, crosses a split
    assert np.mean(gap < 1e-6) > 0.99


def test_boosted_models_the_walker_cannot_sum_stay_with_scikit_learn():
    x, y = _data(2000)
    cat = np.c_[x, np.random.default_rng(0).integers(0, 4, x.shape[0])].astype(np.float32)
    for est, data in ((HistGradientBoostingRegressor(max_iter=10, loss="absolute_error").fit(x, y), x),
                      (HistGradientBoostingRegressor(max_iter=10, categorical_features=[5]).fit(cat, y), cat),
                      (GradientBoostingRegressor(n_estimators=5, loss="huber").fit(x, y), x)):
        assert native.compile_forest(est) is None
        predictor = inference.Predictor(est)
        assert predictor.backend == "scikit-learn"
        np.testing.assert_array_equal(predictor.predict(data), est.predict(data))
