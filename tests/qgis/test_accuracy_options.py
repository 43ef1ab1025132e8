"""Accuracy options through processing.run: train (auto, training modes, CV modes, search, derived factors),
screen (VIF, diagnostics) and downscale (smooth residual correction)."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException

from smdownscale.algorithms import model_io
from smdownscale.algorithms.raster import read_all
from smdownscale.processing_provider.algs.downscale import DownscaleAlgorithm as A
from smdownscale.processing_provider.algs.screen import ScreenAlgorithm as S
from smdownscale.processing_provider.algs.train import MODEL_KEYS
from smdownscale.processing_provider.algs.train import TrainAlgorithm as T
from smdownscale.tests.scenes import MORE_DATES, make_scene, nonlinear_sm, residual_scene, smooth_field


def _night(fields, sm, fine, coarse, rng):
    return {"lst_night": 285.0 + 8.0 * smooth_field(fine, rng)}


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return make_scene(str(tmp_path_factory.mktemp("qacc")), sm_func=nonlinear_sm, dates=MORE_DATES, seed=5,
                      extra=_night)


def test_train_auto_with_dates_cv_and_derived_factors(run, scene, tmp_path):
    out = str(tmp_path / "auto.smdmodel")
    res = run("smdownscale:train", {T.SOIL_MOISTURE: scene["sm"], T.FACTORS: scene["stacks"],
                                    T.MODEL_TYPE: MODEL_KEYS.index("auto"), T.CV_MODE: 1, T.CV_FOLDS: 3,
                                    T.DERIVED_FACTORS: [0, 1, 2], T.REPORT: None, T.OUTPUT: out})
    _, meta = model_io.load_model(out)
    assert res[T.MODEL_USED] == meta["model_type"] == meta["auto"]["winner"]
    assert meta["requested_model_type"] == "auto" and len(meta["auto"]["candidates"]) == 5
    assert meta["cv"]["mode"] == "dates" and meta["cv"]["dates"]["folds"] == 3
    assert res[T.CV_R] == pytest.approx(meta["cv"]["dates"]["pooled"]["r"]) and res[T.CV_R] > 0.8
    assert meta["derived_factors"]["used"] == ["lst_diff", "tvdi"] and "api" in meta["derived_factors"]["skipped"]
    assert meta["features"][-2:] == ["lst_diff", "tvdi"]
    assert res[T.N_SAMPLES] == 600


def test_train_paper_mode_and_search(run, scene, tmp_path):
    out = str(tmp_path / "paper.smdmodel")
    res = run("smdownscale:train", {T.SOIL_MOISTURE: scene["sm"][:2], T.FACTORS: scene["stacks"][:2],
                                    T.MODEL_TYPE: MODEL_KEYS.index("cart"), T.TRAINING_MODE: 1, T.CV_FOLDS: 2,
                                    T.SEARCH_SECONDS: 3.0, T.REPORT: None, T.OUTPUT: out})
    meta = model_io.read_meta(out)
    assert meta["training_mode"] == "paper" and res[T.MODEL_USED] == "cart"
    assert res[T.N_SAMPLES] == meta["n_samples"] > 2000  # 1 km pixels, not coarse cells
    search = meta["search"]
    assert search["budget_s"] == 3.0 and len(search["tried"]) >= 1
    assert search["winner"]["rmse"] == min(t["rmse"] for t in search["tried"])


def test_train_dates_cv_with_one_date_fails_cleanly(run, scene, tmp_path):
    out = str(tmp_path / "one.smdmodel")
    with pytest.raises(QgsProcessingException, match="dates held out needs at least 2 dates"):
        run("smdownscale:train", {T.SOIL_MOISTURE: scene["sm"][:1], T.FACTORS: scene["stacks"][:1], T.CV_MODE: 1,
                                  T.REPORT: None, T.OUTPUT: out})
    assert not os.path.exists(out) and os.listdir(tmp_path) == []


def test_screen_vif_and_diagnostics(run, scene, tmp_path):
    out = str(tmp_path / "screen.csv")
    res = run("smdownscale:screen", {S.SOIL_MOISTURE: scene["sm"], S.FACTORS: scene["stacks"], S.MAX_VIF: 5.0,
                                     S.MAX_COLLINEARITY: 1.0, S.DERIVED_FACTORS: [0], S.REPORT: None, S.OUTPUT: out})
    with open(out, newline="") as fh:
        rows = {r["factor"]: r for r in csv.DictReader(fh)}
    # lst_diff = lst_day - lst_night exactly: the three cannot all stay (VIF), though pairwise r allows it (1.0);
    # the weakest of the exact trio goes first (VIF inf), then what is still inflated
    trio = [rows[n] for n in ("lst_day", "lst_night", "lst_diff")]
    dropped = [r for r in trio if r["selected"] == "no"]
    assert 1 <= len(dropped) <= 2 and all(r["reason"].startswith("VIF ") for r in dropped)
    weakest = min(trio, key=lambda r: abs(float(r["pearson_r"])))
    assert weakest["selected"] == "no" and weakest["vif"] == "inf"
    assert weakest["reason"].startswith("VIF inf > 5: largely explained by the other kept factors together")
    assert all(float(r["vif"]) <= 5 for r in rows.values() if r["selected"] == "yes" and r["vif"] not in ("", "inf"))
    assert all(r["vif"] != "" and r["mutual_info"] != "" and r["perm_importance"] != "" for r in rows.values()
               if r["kind"] == "continuous")
    assert rows["ndvi"]["selected"] == "yes" and rows["ndvi"]["reason"].startswith("kept: |r|")
    assert set(res[S.SELECTED].split(",")) == {n for n, r in rows.items() if r["selected"] == "yes"}
    # without diagnostics the table keeps its standard columns
    plain = str(tmp_path / "plain.csv")
    run("smdownscale:screen", {S.SOIL_MOISTURE: scene["sm"], S.FACTORS: scene["stacks"], S.DIAGNOSTICS: False,
                               S.REPORT: None, S.OUTPUT: plain})
    with open(plain, newline="") as fh:
        assert "vif" not in next(csv.reader(fh))


@pytest.fixture(scope="module")
def ds_scene(tmp_path_factory):
    return residual_scene(str(tmp_path_factory.mktemp("qacc_downscale")))


def test_downscale_smooth_residual_correction(run, ds_scene, tmp_path):
    out = str(tmp_path / "smooth_20230601.tif")
    res = run("smdownscale:downscale", {A.MODEL: ds_scene["model"], A.FACTORS: ds_scene["stack"],
                                        A.SOIL_MOISTURE: ds_scene["smap"], A.RESIDUAL_CORRECTION: 2,
                                        A.FILL_GAPS: False, A.CLIP_MIN: -1.0, A.CLIP_MAX: 2.0, A.OUTPUT: out})
    got = read_all(out)[0].astype(np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ds_scene["raw"]))
    # 9 x 9 pixels per cell, aligned: every cell averages to SMAP
    cell_means = np.nanmean(got.reshape(4, 9, 5, 9), axis=(1, 3))
    np.testing.assert_allclose(cell_means, ds_scene["sm"], atol=1e-6)
    # and the correction is not constant inside a cell (it is a smooth surface)
    corr = got - ds_scene["raw"]
    assert np.nanstd(corr[:9, :9]) > 1e-4
    ds = gdal.Open(out)
    assert ds.GetMetadataItem("residual_correction") == "smooth"
    assert float(ds.GetMetadataItem("max_cell_deviation")) < 1e-6
    assert res[A.MEAN] == pytest.approx(float(np.nanmean(got)), abs=1e-6)
