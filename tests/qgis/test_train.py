"""smdownscale:train through processing.run: model file, CV outputs, factor selection, chaining, errors."""

from __future__ import annotations

import os

import numpy as np
import pytest
from qgis.core import QgsProcessingException

from smdownscale.algorithms import model_io
from smdownscale.algorithms.features import coarse_pairs
from smdownscale.processing_provider.algs.screen import ScreenAlgorithm as S
from smdownscale.processing_provider.algs.train import TrainAlgorithm as T
from smdownscale.tests.scenes import DATES, MORE_DATES, make_scene, nonlinear_sm


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return make_scene(str(tmp_path_factory.mktemp("qtrain")), sm_func=nonlinear_sm, dates=MORE_DATES, seed=11)


def test_train_rf_outputs_and_model_file(run, scene, tmp_path):
    out = str(tmp_path / "rf.smdmodel")
    res = run("smdownscale:train", {T.SOIL_MOISTURE: scene["sm"], T.FACTORS: scene["stacks"], T.MODEL_TYPE: 0,
                                    T.N_ESTIMATORS: 40, T.CV_FOLDS: 4, T.CV_BLOCK_CELLS: 4, T.OUTPUT: out})
    assert res[T.OUTPUT] == out and os.path.isfile(out)
    assert res[T.N_SAMPLES] == 600
    assert res[T.CV_R] > 0.9 and res[T.CV_RMSE] < 0.03
    assert 0 < res[T.CV_MAE] <= res[T.CV_RMSE] and res[T.CV_UBRMSD] <= res[T.CV_RMSE] + 1e-12
    est, meta = model_io.load_model(out)
    pooled = meta["cv"]["spatial"]["pooled"]
    assert (pooled["r"], pooled["mae"], pooled["rmse"], pooled["ubrmsd"]) == pytest.approx(
        (res[T.CV_R], res[T.CV_MAE], res[T.CV_RMSE], res[T.CV_UBRMSD]))
    assert meta["cv"]["spatial"]["folds"] == 4 and meta["params"]["n_estimators"] == 40
    assert meta["features"] == ["ndvi", "lst_day", "landcover=10", "landcover=20", "landcover=30"]
    pairs = coarse_pairs(scene["sm"], scene["stacks"])
    assert np.corrcoef(est.predict(pairs.X), pairs.y)[0, 1] > 0.97


def test_train_selected_factors_and_model_types(run, scene, tmp_path):
    from qgis.core import QgsProcessingFeedback

    out = str(tmp_path / "svr.smdmodel")
    feedback = QgsProcessingFeedback()
    lines = []
    feedback.pushInfo = lines.append
    res = run("smdownscale:train", {T.SOIL_MOISTURE: scene["sm"], T.FACTORS: scene["stacks"],
                                    T.SELECTED_FACTORS: " lst_day, ndvi ", T.MODEL_TYPE: 1, T.CV_FOLDS: 3,
                                    T.OUTPUT: out}, feedback=feedback)
    est, meta = model_io.load_model(out)
    assert meta["model_type"] == "svr" and meta["features"] == ["lst_day", "ndvi"]
    # the log says how many support vectors the SVR has and what a province-day costs
    n = est.named_steps["svr"].support_.size
    cost = [line for line in lines if line.startswith(f"The SVR has {n} support vectors: downscaling a province-day "
                                                      "(4 million 1 km pixels) takes about ")]
    assert len(cost) == 1 and cost[0].endswith(" s on this computer (compiled SVR kernel).")
    assert res[T.CV_R] > 0.8
    res = run("smdownscale:train", {T.SOIL_MOISTURE: scene["sm"], T.FACTORS: scene["stacks"], T.MODEL_TYPE: 2,
                                    T.CV_FOLDS: 0, T.OUTPUT: "TEMPORARY_OUTPUT"})
    assert res[T.OUTPUT].endswith(".smdmodel")
    _, meta = model_io.load_model(res[T.OUTPUT])
    assert meta["model_type"] == "cart" and meta["cv"] is None and np.isnan(res[T.CV_R])


def test_screen_selection_feeds_train(run, scene, tmp_path):
    sel = run("smdownscale:screen", {S.SOIL_MOISTURE: scene["sm"], S.FACTORS: scene["stacks"], S.MAX_FACTORS: 2,
                                     S.OUTPUT: str(tmp_path / "screen.csv")})[S.SELECTED]
    assert len(sel.split(",")) == 2
    out = str(tmp_path / "chained.smdmodel")
    run("smdownscale:train", {T.SOIL_MOISTURE: scene["sm"], T.FACTORS: scene["stacks"], T.SELECTED_FACTORS: sel,
                              T.N_ESTIMATORS: 10, T.CV_FOLDS: 2, T.OUTPUT: out})
    assert [f["name"] for f in model_io.read_meta(out)["factors"]] == sel.split(",")


def test_train_bad_inputs_leave_no_file(run, scene, tmp_path):
    out = str(tmp_path / "m.smdmodel")
    with pytest.raises(QgsProcessingException, match="2023-07-03 only among the soil moisture rasters"):
        run("smdownscale:train", {T.SOIL_MOISTURE: scene["sm"], T.FACTORS: scene["stacks"][:4], T.OUTPUT: out})
    with pytest.raises(QgsProcessingException, match=r"The factor\(s\) albedo chosen to train on are not bands of"):
        run("smdownscale:train", {T.SOIL_MOISTURE: scene["sm"], T.FACTORS: scene["stacks"],
                                  T.SELECTED_FACTORS: "ndvi,albedo", T.OUTPUT: out})
    os.makedirs(tmp_path / "few")
    few = make_scene(str(tmp_path / "few"), dates=DATES[:1], ncols=5, nrows=4)
    with pytest.raises(QgsProcessingException, match="Only 20 valid coarse cells .* at least 30 are needed: add dates"):
        run("smdownscale:train", {T.SOIL_MOISTURE: few["sm"], T.FACTORS: few["stacks"], T.OUTPUT: out})
    assert not os.path.exists(out)
    assert sorted(os.listdir(tmp_path)) == ["few"]


def test_train_reports_the_scale_transfer_check_and_the_noise_augmentation(run, scene, tmp_path):
    from smdownscale.algorithms import train as engine
    from smdownscale.processing_provider.algs.train import NOISE_AUGMENTATION_DEFAULT

    assert NOISE_AUGMENTATION_DEFAULT == engine.NOISE_AUGMENTATION
    outs = {}
    for aug in (0.0, 2.0):
        out = str(tmp_path / f"rf{aug}.smdmodel")
        outs[aug] = run("smdownscale:train", {T.SOIL_MOISTURE: scene["sm"], T.FACTORS: scene["stacks"],
                                              T.MODEL_TYPE: 0, T.N_ESTIMATORS: 30, T.CV_FOLDS: 3,
                                              T.NOISE_AUGMENTATION: aug, T.OUTPUT: out})
        _, meta = model_io.load_model(out)
        transfer = meta["cv"]["transfer"]["pooled"]
        assert (outs[aug][T.TRANSFER_R], outs[aug][T.TRANSFER_RMSE]) == pytest.approx((transfer["r"], transfer["rmse"]))
        assert 0.5 < outs[aug][T.TRANSFER_R] <= 1.0 and 0 < outs[aug][T.TRANSFER_RMSE] < 0.1
        if aug:
            assert meta["noise_augmentation"]["scale"] == 2.0 and meta["noise_augmentation"]["copies"] == 5
            assert set(meta["noise_augmentation"]["factor_noise_sd"]) == {"ndvi", "lst_day"}
        else:
            assert meta["noise_augmentation"] is None


def test_train_and_screen_leave_out_a_date_whose_lst_is_all_under_cloud(run, tmp_path, warnings_feedback):
    """A date whose stack has LST missing at every pixel (as align keeps a clouded date) is left out of screening and
    training with a warning naming it; the model says which dates it was trained on and which were left out."""
    from smdownscale.algorithms.raster import read_all, write_raster

    scene = make_scene(str(tmp_path / "s"), dates=DATES, seed=5)
    stack = read_all(scene["stacks"][1], dtype=np.float64)
    stack[1] = np.nan
    write_raster(scene["stacks"][1], scene["fine"], stack, names=["ndvi", "lst_day", "landcover"],
                 kinds=["continuous", "continuous", "categorical"])
    warning = ("Date 2023-06-09 was left out: lst_day missing at every pixel of its factor stack (all under cloud, or "
               "without a radar overpass).")
    out = str(tmp_path / "cart.smdmodel")
    feedback = warnings_feedback()
    run("smdownscale:train", {T.SOIL_MOISTURE: scene["sm"], T.FACTORS: scene["stacks"], T.MODEL_TYPE: 2,
                              T.CV_FOLDS: 0, T.OUTPUT: out}, feedback=feedback)
    assert warning in feedback.lines
    _, meta = model_io.load_model(out)
    assert meta["dates"] == ["2023-06-01", "2023-06-17"] and meta["dates_left_out"] == {"2023-06-09": ["lst_day"]}
    feedback = warnings_feedback()
    run("smdownscale:screen", {S.SOIL_MOISTURE: scene["sm"], S.FACTORS: scene["stacks"],
                               S.OUTPUT: str(tmp_path / "screen.csv")}, feedback=feedback)
    assert warning in feedback.lines
