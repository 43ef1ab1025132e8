"""Model training: spatial cross-validation, metadata, model types, cancel and errors."""

from __future__ import annotations

import os

import numpy as np
import pytest

from smdownscale.algorithms import model_io
from smdownscale.algorithms.errors import Canceled, InputError
from smdownscale.algorithms.features import coarse_pairs, fine_design
from smdownscale.algorithms.train import cv_table, spatial_groups, train_model

from .test_features import DATES, make_scene

MORE_DATES = DATES + ("2023-06-25", "2023-07-03")


def nonlinear_sm(m):
    """A known nonlinear relation: logistic in NDVI, quadratic in LST, wetter on class 30."""
    veg = 0.25 / (1.0 + np.exp(-12.0 * (m["ndvi"] - 0.45)))
    heat = 0.15 * ((m["lst_day"] - 280.0) / 40.0) ** 2
    return 0.12 + veg - heat + 0.1 * m["landcover=30"]


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return make_scene(str(tmp_path_factory.mktemp("train")), sm_func=nonlinear_sm, dates=MORE_DATES, seed=7)


def test_rf_spatial_cv_and_metadata(scene, tmp_path):
    out = str(tmp_path / "rf.smdmodel")
    res = train_model(scene["sm"], scene["stacks"], out, "rf", cv_folds=5, cv_block_cells=4, seed=0, n_jobs=2)
    assert res.metrics["r"] > 0.9
    assert res.metrics["n"] == 600
    assert res.metrics["rmse"] < 0.03
    meta = res.meta
    cv = meta["cv"]
    assert cv["spatial"]["folds"] == 5 and cv["spatial"]["block_cells"] == 4
    assert cv["spatial"]["blocks"] == 9  # 12 x 10 cells in 4 x 4 blocks: 3 x 3
    assert cv["random"]["label"] == "optimistic" and len(cv["random"]["per_fold"]) == 5
    assert sum(f["n"] for f in cv["spatial"]["per_fold"]) == 600
    assert cv["spatial"]["pooled"]["r"] == pytest.approx(res.metrics["r"])
    # random folds on autocorrelated cells look at least as good as spatial ones here
    assert cv["random"]["pooled"]["r"] >= cv["spatial"]["pooled"]["r"] - 0.02
    assert meta["format"] == "smdownscale-model" and meta["format_version"] == 1
    assert meta["model_type"] == "rf" and meta["params"]["n_estimators"] == 100
    assert cv["n_estimators"] == 50 and meta["params"]["max_samples"] is None
    assert meta["params"]["min_samples_leaf"] == 2
    assert meta["factors"] == [{"name": "ndvi", "kind": "continuous", "classes": []},
                               {"name": "lst_day", "kind": "continuous", "classes": []},
                               {"name": "landcover", "kind": "categorical", "classes": [10, 20, 30]}]
    assert meta["features"] == ["ndvi", "lst_day", "landcover=10", "landcover=20", "landcover=30"]
    assert meta["target"] == "soil_moisture" and meta["units"]["soil_moisture"] == "m3/m3"
    assert meta["training_mode"] == "coarse"
    assert meta["training_grid"]["width"] == 12 and meta["training_grid"]["height"] == 10
    assert "6933" in meta["training_grid"]["crs_wkt"]
    assert meta["dates"] == list(MORE_DATES) and meta["n_samples"] == 600
    assert meta["created"].endswith("+00:00")
    imp = meta["feature_importances"]
    assert list(imp) == meta["features"] and sum(imp.values()) == pytest.approx(1.0)
    assert imp["ndvi"] > imp["landcover=20"] and imp["lst_day"] > imp["landcover=20"]
    # the saved file holds the same model and meta
    est, saved = model_io.load_model(out)
    assert saved["cv"]["spatial"]["pooled"]["r"] == pytest.approx(res.metrics["r"])
    assert saved["features"] == meta["features"]
    pairs = coarse_pairs(scene["sm"], scene["stacks"])
    fit_r = np.corrcoef(est.predict(pairs.X), pairs.y)[0, 1]
    assert fit_r > 0.97
    table = cv_table(meta)
    assert "spatial blocks pooled" in table and "random (optimistic) pooled" in table and "fold 5" in table
    assert "cross-validation forests use 50 trees; the saved model 100" in table


def test_large_sets_cap_samples_per_tree(scene, tmp_path, monkeypatch):
    from smdownscale.algorithms import train

    monkeypatch.setattr(train, "RF_MAX_TREE_SAMPLES", 200)
    res = train_model(scene["sm"], scene["stacks"], str(tmp_path / "cap.smdmodel"), "rf", params={"n_estimators": 20},
                      cv_folds=2)
    assert res.meta["params"]["max_samples"] == 200 and res.meta["cv"]["n_estimators"] == 20
    est, _ = model_io.load_model(str(tmp_path / "cap.smdmodel"))
    assert est.max_samples == 200 and len(est.estimators_) == 20


def test_model_applies_at_fine_scale(scene, tmp_path):
    """The coarse-trained model predicts 1 km pixels from fine_design (class fractions become 0/1)."""
    from smdownscale.algorithms import raster

    out = str(tmp_path / "cart.smdmodel")
    res = train_model(scene["sm"][:1], scene["stacks"][:1], out, "cart", cv_folds=0)
    assert res.meta["cv"] is None and np.isnan(res.metrics["r"])
    est, meta = model_io.load_model(out)
    from smdownscale.algorithms.features import FactorSpec

    specs = [FactorSpec.from_dict(d) for d in meta["factors"]]
    block = raster.read_all(scene["stacks"][0])
    xs, valid = fine_design(block, specs)
    pred = est.predict(xs)
    assert xs.shape[1] == len(meta["features"]) and pred.shape == (int(valid.sum()),)
    lo, hi = meta["target_range"]
    assert lo - 1e-9 <= pred.min() and pred.max() <= hi + 1e-9  # a tree never leaves its training range


def test_spatial_folds_never_share_a_block(scene):
    from sklearn.model_selection import GroupKFold

    pairs = coarse_pairs(scene["sm"], scene["stacks"])
    groups = spatial_groups(pairs.cells, pairs.grid.width, 4)
    rows, cols = pairs.cells // 12, pairs.cells % 12
    # the block of a cell is fixed by its row and column, on every date
    assert np.array_equal(groups, (rows // 4) * 3 + cols // 4)
    for train, test in GroupKFold(n_splits=5).split(pairs.X, pairs.y, groups):
        assert not set(groups[train]) & set(groups[test])
        assert not set(pairs.cells[train]) & set(pairs.cells[test])


@pytest.mark.parametrize("model_type,min_r", [("svr", 0.95), ("cart", 0.9)])
def test_each_model_type_trains(scene, tmp_path, model_type, min_r):
    out = str(tmp_path / f"{model_type}.smdmodel")
    res = train_model(scene["sm"], scene["stacks"], out, model_type, cv_folds=3, cv_block_cells=4)
    assert res.meta["model_type"] == model_type
    assert res.metrics["r"] > min_r
    est, meta = model_io.load_model(out)
    assert type(est).__name__ == {"svr": "Pipeline", "cart": "DecisionTreeRegressor"}[model_type]
    if model_type == "svr":
        assert meta["params"]["epsilon"] == 0.005 and meta["params"]["kernel"] == "rbf"
        assert "feature_importances" not in meta
    else:
        assert meta["params"]["max_depth"] == 12 and meta["params"]["min_samples_leaf"] == 5


def test_selected_factors_and_params(scene, tmp_path):
    out = str(tmp_path / "sel.smdmodel")
    res = train_model(scene["sm"], scene["stacks"], out, "rf", factors=["lst_day", "ndvi"],
                      params={"n_estimators": 20}, cv_folds=2)
    assert res.meta["features"] == ["lst_day", "ndvi"] and res.meta["params"]["n_estimators"] == 20
    with pytest.raises(InputError, match="has no parameter.*n_trees"):
        train_model(scene["sm"], scene["stacks"], out, "rf", params={"n_trees": 5})
    with pytest.raises(InputError, match="Unknown model type 'xgb'"):
        train_model(scene["sm"], scene["stacks"], out, "xgb")
    with pytest.raises(InputError, match="must be 0 \\(none\\) or at least 2"):
        train_model(scene["sm"], scene["stacks"], out, "rf", cv_folds=1)


def test_cancel_and_errors_leave_no_file(scene, tmp_path):
    out = str(tmp_path / "m.smdmodel")
    seen = {"max": 0.0}

    def progress(f):
        seen["max"] = max(seen["max"], f)

    # cancel once cross-validation has started (progress beyond the pairing stage)
    with pytest.raises(Canceled):
        train_model(scene["sm"], scene["stacks"], out, "rf", params={"n_estimators": 10}, progress=progress,
                    is_canceled=lambda: seen["max"] > 0.35)
    assert 0.35 < seen["max"] < 0.95
    assert not os.path.exists(out)
    assert [f for f in os.listdir(tmp_path)] == []
    with pytest.raises(InputError, match="single 20 x 20-cell block"):
        train_model(scene["sm"], scene["stacks"], out, "rf", cv_block_cells=20)
    assert not os.path.exists(out)
