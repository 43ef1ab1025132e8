"""Per-pixel uncertainty of downscale: the spread of a forest's trees, exact, bounded, refused for other models."""

import os

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesRegressor, HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.tree import DecisionTreeRegressor

from smdownscale.algorithms import model_io
from smdownscale.algorithms.downscale import SPREAD_BAND_NAME, downscale
from smdownscale.algorithms.errors import Canceled, InputError
from smdownscale.algorithms.hybrid import LinearBoostRegressor
from smdownscale.algorithms.raster import Grid, read_all, srs_from_user, write_raster
from smdownscale.algorithms.train import prepare_for_saving

UTM = srs_from_user("EPSG:32650").ExportToWkt()
W, H = 50, 40
FINE = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), W, H)
COARSE = Grid(UTM, (396500.0, 9000.0, 0.0, 4602500.0, 0.0, -9000.0), 7, 6)
FACTORS = [{"name": "ndvi", "kind": "continuous", "classes": []}, {"name": "lst", "kind": "continuous", "classes": []}]


def _fit(kind="rf", seed=0):
    """A model of sm = 0.1 + 0.3 ndvi whose training targets are noisy (sd 0.04) only where lst > 300."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.uniform(0, 0.8, 3000), rng.uniform(280, 320, 3000)])
    noise = np.where(x[:, 1] > 300, rng.normal(0, 0.04, x.shape[0]), 0.0)
    y = 0.1 + 0.3 * x[:, 0] + noise
    est = {"rf": RandomForestRegressor(n_estimators=40, min_samples_leaf=1, random_state=0, n_jobs=1),
           "extratrees": ExtraTreesRegressor(n_estimators=40, bootstrap=True, random_state=0, n_jobs=1),
           "cart": DecisionTreeRegressor(random_state=0),
           "gbr": HistGradientBoostingRegressor(max_iter=20, random_state=0),
           "linear_gbr": LinearBoostRegressor(max_iter=20, random_state=0)}[kind]
    return est.fit(x, y)


def _model(path, kind="rf"):
    est = prepare_for_saving(_fit(kind))
    model_io.save_model(str(path), est, {"features": ["ndvi", "lst"], "factors": FACTORS, "model_type": kind,
                                         "units": "m3/m3"})
    return str(path), est


def _stack(path, seed=3):
    rng = np.random.default_rng(seed)
    ndvi = rng.uniform(0, 0.8, (H, W))
    lst = np.where(np.arange(W)[None, :] < W // 2, 290.0, 310.0) + rng.uniform(-5, 5, (H, W))
    ndvi[5:8, 3:9] = np.nan
    write_raster(str(path), FINE, np.stack([ndvi, lst]), names=["ndvi", "lst"])
    return str(path), ndvi, lst


@pytest.mark.parametrize("native", ["1", "0"])
@pytest.mark.parametrize("kind", ["rf", "extratrees"])
def test_spread_equals_the_trees_standard_deviation(tmp_path, monkeypatch, kind, native):
    monkeypatch.setenv("SMDOWNSCALE_NATIVE", native)
    model, est = _model(tmp_path / "m.smdmodel", kind)
    stack, ndvi, lst = _stack(tmp_path / "factors_20230601.tif")
    smap = str(tmp_path / "smap_20230601.tif")
    write_raster(smap, COARSE, np.full((COARSE.height, COARSE.width), 0.3))
    out, unc = str(tmp_path / "sm.tif"), str(tmp_path / "sd.tif")
    res = downscale(model, stack, out, coarse_sm=smap, uncertainty=unc, block_rows=7)
    sd = read_all(unc)[0]
    ok = np.isfinite(ndvi)
    x = np.column_stack([ndvi[ok], lst[ok]]).astype(np.float32)
    per_tree = np.stack([t.predict(x) for t in est.estimators_])
    np.testing.assert_allclose(sd[ok], per_tree.std(axis=0), atol=2e-6)
    assert np.isnan(sd[~ok]).all() and np.isfinite(read_all(out)[0][ok]).all()
    assert res.uncertainty == unc and res.mean_tree_sd == pytest.approx(float(per_tree.std(axis=0).mean()), abs=1e-6)
    # the trees disagree where their training targets were noisy (lst > 300, right half), not elsewhere
    left, right = float(np.nanmean(sd[:, : W // 2 - 3])), float(np.nanmean(sd[:, W // 2 + 3:]))
    assert right > 3 * left and 0.005 < right < 0.04
    from osgeo import gdal

    ds = gdal.Open(unc)
    assert ds.GetRasterBand(1).GetDescription() == SPREAD_BAND_NAME and ds.GetRasterBand(1).GetUnitType() == "m3/m3"
    assert "standard deviation" in ds.GetMetadata()["statistic"]
    assert sorted(os.listdir(tmp_path)) == ["factors_20230601.tif", "m.smdmodel", "sd.tif", "sm.tif",
                                            "smap_20230601.tif"]


def test_calibration_on_a_synthetic_case(tmp_path):
    """Held-out truth of the noisy half falls within 1.645 tree standard deviations about as often as stated."""
    model, est = _model(tmp_path / "m.smdmodel")
    stack, ndvi, lst = _stack(tmp_path / "factors.tif")
    out, unc = str(tmp_path / "sm.tif"), str(tmp_path / "sd.tif")
    downscale(model, stack, out, residual="none", uncertainty=unc)
    pred, sd = read_all(out)[0], read_all(unc)[0]
    rng = np.random.default_rng(11)
    truth = 0.1 + 0.3 * ndvi + np.where(lst > 300, rng.normal(0, 0.04, ndvi.shape), 0.0)
    noisy = np.isfinite(pred) & (lst > 300)
    inside = np.abs(truth - pred)[noisy] <= 1.645 * sd[noisy]
    assert 0.55 < inside.mean() < 0.95


@pytest.mark.parametrize("kind", ["cart", "gbr", "linear_gbr"])  # boosted trees are summed, not averaged
def test_other_models_are_refused_before_writing(tmp_path, kind):
    model, _ = _model(tmp_path / "m.smdmodel", kind)
    stack, _, _ = _stack(tmp_path / "factors.tif")
    with pytest.raises(InputError, match="spread of a forest's trees.*random forest or extra trees"):
        downscale(model, stack, str(tmp_path / "sm.tif"), residual="none", uncertainty=str(tmp_path / "sd.tif"))
    assert sorted(os.listdir(tmp_path)) == ["factors.tif", "m.smdmodel"]


def test_uncertainty_may_not_overwrite_an_input_or_the_output(tmp_path):
    model, _ = _model(tmp_path / "m.smdmodel")
    stack, _, _ = _stack(tmp_path / "factors.tif")
    before = open(stack, "rb").read()
    for target in (stack, str(tmp_path / "sm.tif")):
        with pytest.raises(InputError):
            downscale(model, stack, str(tmp_path / "sm.tif"), residual="none", uncertainty=target)
    assert open(stack, "rb").read() == before
    assert sorted(os.listdir(tmp_path)) == ["factors.tif", "m.smdmodel"]


def test_the_spread_is_written_in_the_main_pass_reading_the_stack_once(tmp_path, monkeypatch):
    from smdownscale.algorithms.derived import StackReader
    from smdownscale.algorithms.inference import Predictor

    model, est = _model(tmp_path / "m.smdmodel")
    stack, ndvi, lst = _stack(tmp_path / "factors.tif")
    reads, walks = [], []
    real_read, real_predict = StackReader.read, Predictor.predict
    monkeypatch.setattr(StackReader, "read", lambda self, row0, nrows: reads.append(row0) or real_read(self, row0,
                                                                                                        nrows))
    monkeypatch.setattr(Predictor, "predict", lambda self, x: walks.append(x.shape[0]) or real_predict(self, x))
    out, unc = str(tmp_path / "sm.tif"), str(tmp_path / "sd.tif")
    downscale(model, stack, out, residual="none", uncertainty=unc, block_rows=7)
    assert reads == [0, 7, 14, 21, 28, 35]  # every block read once, for the map and its spread
    assert len(walks) == 6  # the mean walked once per block (the spread reuses it)
    ok = np.isfinite(ndvi)
    x = np.column_stack([ndvi[ok], lst[ok]]).astype(np.float32)
    per_tree = np.stack([t.predict(x) for t in est.estimators_])
    np.testing.assert_allclose(read_all(unc)[0][ok], per_tree.std(axis=0), atol=2e-6)
    # given the mean, the spread is the same as computed from scratch (and a wrong mean is refused)
    p = Predictor(est)
    np.testing.assert_array_equal(p.spread(x, real_predict(p, x)), p.spread(x))
    with pytest.raises(ValueError, match="one value per row"):
        p.spread(x, np.zeros(3))


def test_cancel_while_writing_the_spread_leaves_no_file(tmp_path):
    model, _ = _model(tmp_path / "m.smdmodel")
    stack, _, _ = _stack(tmp_path / "factors.tif")
    calls = []

    def is_canceled():
        calls.append(1)
        return len(calls) > 3  # within the 6 blocks of 7 rows, map and spread half written

    with pytest.raises(Canceled):
        downscale(model, stack, str(tmp_path / "sm.tif"), residual="none", uncertainty=str(tmp_path / "sd.tif"),
                  block_rows=7, is_canceled=is_canceled)
    assert sorted(os.listdir(tmp_path)) == ["factors.tif", "m.smdmodel"]
