"""Model files: round trip, and refusal of anything that is not a clean smdownscale model."""

from __future__ import annotations

import io
import json
import os
import pathlib
import pickle
import re
import zipfile

import numpy as np
import pytest
import sklearn
import skops.io as sio
from sklearn.ensemble import ExtraTreesRegressor, GradientBoostingRegressor, RandomForestRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR
from sklearn.tree import DecisionTreeRegressor

from smdownscale.algorithms import inference, model_io, native, train
from smdownscale.algorithms.errors import ModelFileError
from smdownscale.algorithms.model_io import ALLOWED_TYPES, load_model, read_meta, save_model
from smdownscale.tests.scenes import previous_hybrid

META = {"model_type": "rf", "features": ["ndvi", "lst_day"], "n_samples": 200, "cv": {"r": float("nan")}}


def _xy():
    rng = np.random.default_rng(0)
    x = rng.random((200, 3))
    return x, 0.1 + 0.3 * x[:, 0] - 0.1 * x[:, 1] ** 2


MODELS = {
    "rf": lambda: RandomForestRegressor(n_estimators=10, min_samples_leaf=2, random_state=0),
    "extratrees": lambda: ExtraTreesRegressor(n_estimators=5, random_state=0),
    "cart": lambda: DecisionTreeRegressor(min_samples_leaf=5, max_depth=12),
    "svr": lambda: Pipeline([("scale", StandardScaler()), ("svr", SVR(epsilon=0.005))]),
    "gbr": lambda: GradientBoostingRegressor(n_estimators=5, random_state=0),
    "linear_gbr": lambda: train.make_estimator("linear_gbr", {"max_iter": 20}, 0, 1),
    "linear_gbr-previous": lambda: previous_hybrid(0, n_estimators=10),
}


def _schema_types(path):
    with zipfile.ZipFile(path) as zf:
        schema = json.loads(zf.read("schema.json"))
    found = set()

    def walk(node):
        if isinstance(node, dict):
            if "__module__" in node:
                found.add((node["__module__"], node["__class__"]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schema)
    return found


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_round_trip_predicts_identically(tmp_path, kind):
    x, y = _xy()
    est = train.prepare_for_saving(MODELS[kind]().fit(x, y))
    path = str(tmp_path / f"{kind}.smdmodel")
    save_model(path, est, dict(META, array=np.arange(3), scalar=np.float32(0.5)))
    # every type skops writes for the supported models is on the allowlist
    assert _schema_types(path) <= ALLOWED_TYPES
    loaded, meta = load_model(path)
    assert type(loaded) is type(est)
    np.testing.assert_array_equal(loaded.predict(x), est.predict(x))
    assert meta["format"] == "smdownscale-model" and meta["format_version"] == 1
    assert meta["sklearn_version"] == sklearn.__version__ and meta["numpy_version"] == np.__version__
    assert meta["features"] == ["ndvi", "lst_day"] and meta["array"] == [0, 1, 2] and meta["scalar"] == 0.5
    assert np.isnan(meta["cv"]["r"])
    assert read_meta(path)["n_samples"] == 200
    assert [f for f in os.listdir(tmp_path)] == [f"{kind}.smdmodel"]


def test_hybrid_files_name_its_class_by_the_plugin_package(tmp_path):
    # the hybrid is our own class: its files name it as smdownscale.algorithms.hybrid, which the allowlist holds
    # (and nothing else of ours); its boosting and the previous construction's pieces are scikit-learn's
    x, y = _xy()
    path = str(tmp_path / "h.smdmodel")
    save_model(path, train.prepare_for_saving(MODELS["linear_gbr"]().fit(x, y)), META)
    types = _schema_types(path)
    assert ("smdownscale.algorithms.hybrid", "LinearBoostRegressor") in types
    assert ("sklearn.ensemble._hist_gradient_boosting.gradient_boosting", "HistGradientBoostingRegressor") in types
    assert [t for t in ALLOWED_TYPES if t[0].startswith("smdownscale")] == [
        ("smdownscale.algorithms.hybrid", "LinearBoostRegressor")]
    assert not {("sklearn.ensemble._gb", "GradientBoostingRegressor"), ("sklearn.linear_model._ridge", "Ridge")} & types


def test_hybrid_files_written_before_histogram_boosting_load_and_predict_as_before(tmp_path):
    # a model file of the previous hybrid (gradient boosting with the ridge pipeline as its init), written as train
    # wrote it, loads and predicts exactly what the fitted estimator predicted, with scikit-learn and the walker
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 6))
    y = 0.2 + 0.05 * x[:, 0] - 0.03 * x[:, 1] + 0.04 * np.sin(2 * x[:, 2]) + 0.01 * rng.normal(size=3000)
    fitted = train.prepare_for_saving(previous_hybrid(0).fit(x, y))
    path = str(tmp_path / "previous.smdmodel")
    save_model(path, fitted, {"model_type": "linear_gbr", "params": {"n_estimators": 50, "ridge_alpha": 1.0}})
    assert {("sklearn.ensemble._gb", "GradientBoostingRegressor"), ("sklearn.linear_model._ridge", "Ridge"),
            ("sklearn.pipeline", "Pipeline")} <= _schema_types(path)
    assert model_io.load_compiled(path) is None and model_io.load_trees(path) is None  # not a forest: skops loads it
    loaded, meta = load_model(path)
    assert type(loaded) is GradientBoostingRegressor and type(loaded.init_).__name__ == "Pipeline"
    assert meta["params"]["n_estimators"] == 50 and len(loaded.estimators_) == 50
    xt = rng.normal(size=(20000, 6)).astype(np.float32)
    expected = fitted.predict(xt)
    assert expected.std() > 0.03
    np.testing.assert_array_equal(loaded.predict(xt), expected)
    predictor = inference.Predictor(loaded)
    assert predictor.backend == ("compiled tree walker" if native.available() else "scikit-learn")
    np.testing.assert_array_equal(predictor.predict(xt), expected)


def test_save_refuses_non_json_meta_and_leaves_nothing(tmp_path):
    x, y = _xy()
    est = DecisionTreeRegressor().fit(x, y)
    with pytest.raises(TypeError, match="JSON types only"):
        save_model(str(tmp_path / "m.smdmodel"), est, {"bad": object()})
    assert os.listdir(tmp_path) == []


class Payload:
    """An object whose reconstruction touches a marker file (stands for arbitrary code)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __setstate__(self, state):
        pathlib.Path(state["marker"]).touch()
        self.__dict__.update(state)


class PicklePayload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_custom_object_payload_is_refused_without_running(tmp_path):
    marker = tmp_path / "marker"
    path = str(tmp_path / "evil.smdmodel")
    sio.dump({"meta": {"format": "smdownscale-model", "format_version": 1, "sklearn_version": sklearn.__version__},
              "estimator": Payload(str(marker))}, path)
    with pytest.raises(ModelFileError) as err:
        load_model(path)
    assert f"contains types a smdownscale model never holds ({__name__}.Payload)" in str(err.value)
    assert "nothing in it was run" in str(err.value)
    assert not marker.exists()
    # control: the payload is live; loading it with its type trusted does run it
    sio.load(path, trusted=sio.get_untrusted_types(file=path))
    assert marker.exists()


def _replace_estimator(src: str, dst: str, node: dict) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "schema.json":
                schema = json.loads(data)
                schema["content"]["estimator"] = node
                data = json.dumps(schema).encode()
            zout.writestr(item, data)


def test_function_and_type_nodes_outside_allowlist_are_refused(tmp_path):
    x, y = _xy()
    good = str(tmp_path / "good.smdmodel")
    save_model(good, DecisionTreeRegressor().fit(x, y), {})
    system = str(tmp_path / "system.smdmodel")
    _replace_estimator(good, system, {"__class__": "system", "__module__": "os", "__loader__": "FunctionNode",
                                      "content": {"module_path": "os", "function": "system"}})
    with pytest.raises(ModelFileError, match=r"never holds \(os\.system, skops FunctionNode\)"):
        load_model(system)
    evaltype = str(tmp_path / "eval.smdmodel")
    _replace_estimator(good, evaltype, {"__class__": "eval", "__module__": "builtins", "__loader__": "TypeNode"})
    with pytest.raises(ModelFileError, match=r"never holds \(builtins\.eval\)"):
        load_model(evaltype)


@pytest.mark.bad_input("downscale: a plain pickle given as the model (engine)")
def test_plain_pickle_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "model.smdmodel"
    path.write_bytes(pickle.dumps(PicklePayload(str(marker))))
    with pytest.raises(ModelFileError) as err:
        load_model(str(path))
    assert str(err.value) == (f"{path} is not a smdownscale model file (not a zip archive). "
                              "Choose a .smdmodel file written by smdownscale:train.")
    assert not marker.exists()
    pickle.loads(path.read_bytes())  # control: the payload is live
    assert marker.exists()


@pytest.mark.bad_input("downscale: an empty (0-byte) model file or an empty zip (engine)")
def test_empty_model_file_and_empty_zip(tmp_path):
    zero = tmp_path / "zero.smdmodel"
    zero.write_bytes(b"")
    empty_zip = tmp_path / "empty.smdmodel"
    zipfile.ZipFile(empty_zip, "w").close()
    for path, why in ((zero, "not a zip archive"), (empty_zip, "no skops schema inside")):
        for read in (load_model, read_meta):
            with pytest.raises(ModelFileError, match=rf"^{re.escape(str(path))} is not a smdownscale model file "
                                                     rf"\({why}\)\. Choose a \.smdmodel file written by "
                                                     r"smdownscale:train\.$"):
                read(str(path))


def test_text_zip_truncated_and_corrupt_files(tmp_path):
    text = tmp_path / "notes.smdmodel"
    text.write_text("just some text\n")
    with pytest.raises(ModelFileError, match=r"is not a smdownscale model file \(not a zip archive\)"):
        load_model(str(text))
    other_zip = tmp_path / "other.smdmodel"
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(ModelFileError, match=r"\(no skops schema inside\)"):
        load_model(str(other_zip))
    x, y = _xy()
    good = tmp_path / "good.smdmodel"
    save_model(str(good), RandomForestRegressor(n_estimators=5).fit(x, y), {})
    data = good.read_bytes()
    trunc = tmp_path / "trunc.smdmodel"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"trunc\.smdmodel is damaged or incomplete"):
        load_model(str(trunc))
    # flip bytes inside the first stored array: the archive checksum catches it
    with zipfile.ZipFile(good) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith(".npy"))
    corrupt = bytearray(data)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for k in range(start + 5, start + 15):
        corrupt[k] ^= 0xFF
    bad = tmp_path / "bad.smdmodel"
    bad.write_bytes(bytes(corrupt))
    with pytest.raises(ModelFileError, match=r"bad\.smdmodel is damaged or incomplete"):
        load_model(str(bad))
    with pytest.raises(ModelFileError, match="Model file not found"):
        load_model(str(tmp_path / "missing.smdmodel"))


@pytest.mark.bad_input("downscale: a skops file of a foreign estimator given as the model (engine)")
def test_skops_file_without_our_metadata(tmp_path):
    x, y = _xy()
    path = str(tmp_path / "bare.skops")
    sio.dump(DecisionTreeRegressor().fit(x, y), path)
    with pytest.raises(ModelFileError, match=r"not a smdownscale model file \(a skops file without smdownscale"):
        load_model(path)


def test_other_sklearn_version_and_newer_format(tmp_path):
    x, y = _xy()
    est = DecisionTreeRegressor().fit(x, y)
    old = str(tmp_path / "old.smdmodel")
    save_model(old, est, {"sklearn_version": "0.24.2"})
    with pytest.raises(ModelFileError) as err:
        load_model(old)
    assert str(err.value) == (f"The model {old} was trained with scikit-learn 0.24.2; this system has "
                              f"{sklearn.__version__}; retrain the model with smdownscale:train or install "
                              "scikit-learn 0.24.2.")
    # a different patch release is fine
    major_minor = ".".join(sklearn.__version__.split(".")[:2])
    patch = str(tmp_path / "patch.smdmodel")
    save_model(patch, est, {"sklearn_version": major_minor + ".99"})
    assert load_model(patch)[1]["sklearn_version"] == major_minor + ".99"
    newer = str(tmp_path / "newer.smdmodel")
    save_model(newer, est, {"format_version": model_io.FORMAT_VERSION + 1})
    with pytest.raises(ModelFileError, match="newer than this plugin reads"):
        load_model(newer)


def test_jsonable():
    assert model_io.jsonable({"a": (np.int64(1), np.bool_(True)), 2: np.array([[0.5]])}) == \
        {"a": [1, True], "2": [[0.5]]}
    assert json.loads(json.dumps(model_io.jsonable({"x": np.float32(2.0)}))) == {"x": 2.0}
    buf = io.StringIO()
    json.dump(model_io.jsonable({"n": None}), buf)
    assert buf.getvalue() == '{"n": null}'
