"""smdownscale:downscale through processing.run: values, residual correction, styling inputs, errors."""

import os

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException
from sklearn.ensemble import RandomForestRegressor

from smdownscale.algorithms import model_io
from smdownscale.algorithms.raster import Grid, read_all, srs_from_user, write_raster
from smdownscale.processing_provider.downscale import DownscaleAlgorithm as A

UTM = srs_from_user("EPSG:32650").ExportToWkt()
W, H = 45, 36
FINE = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), W, H)
COARSE = Grid(UTM, (400000.0, 9000.0, 0.0, 4600000.0, 0.0, -9000.0), 5, 4)  # 9 x 9 pixels per cell, aligned
NDVI = np.round(np.arange(0.1, 0.85, 0.1), 2)
LST = np.array([280.0, 295.0, 310.0])


def relation(ndvi, lst):
    return 0.05 + 0.3 * ndvi + 0.002 * (lst - 280.0)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("downscale")
    combos = np.array([(a, b) for a in NDVI for b in LST])
    est = RandomForestRegressor(n_estimators=2, bootstrap=False, max_features=None, random_state=0)
    est.fit(combos, relation(combos[:, 0], combos[:, 1]))
    model = str(tmp / "rf.smdmodel")
    model_io.save_model(model, est, {"features": ["ndvi", "lst"], "model_type": "rf", "units": "m3/m3",
                                     "factors": [{"name": "ndvi", "kind": "continuous", "classes": []},
                                                 {"name": "lst", "kind": "continuous", "classes": []}]})
    rng = np.random.default_rng(0)
    ndvi = rng.choice(NDVI, (H, W))
    lst = rng.choice(LST, (H, W))
    ndvi[10:12, 20:25] = np.nan
    stack = str(tmp / "factors_20230601.tif")
    write_raster(stack, FINE, np.stack([lst, rng.normal(size=(H, W)), ndvi]), names=["lst", "dem", "ndvi"])
    sm = rng.uniform(0.15, 0.35, (COARSE.height, COARSE.width))
    smap = str(tmp / "smap_20230601.tif")
    write_raster(smap, COARSE, sm)
    return {"model": model, "stack": stack, "smap": smap, "sm": sm,
            "raw": np.where(np.isfinite(ndvi), relation(ndvi, lst), np.nan)}


def test_downscale_with_residual_correction(run, scene, tmp_path):
    out = str(tmp_path / "sm_1km_20230601.tif")
    res = run("smdownscale:downscale", {A.MODEL: scene["model"], A.FACTORS: scene["stack"],
                                        A.SOIL_MOISTURE: scene["smap"], A.OUTPUT: out})
    assert res[A.OUTPUT] == out
    got = read_all(out)[0].astype(np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(scene["raw"]))
    cell_means = np.nanmean(got.reshape(4, 9, 5, 9), axis=(1, 3))
    np.testing.assert_allclose(cell_means, scene["sm"], atol=1e-6)
    raw = scene["raw"]
    raw_means = np.nanmean(raw.reshape(4, 9, 5, 9), axis=(1, 3))
    shift = np.repeat(np.repeat(scene["sm"] - raw_means, 9, axis=0), 9, axis=1)
    np.testing.assert_allclose(got, np.clip(raw + shift, 0.0, 0.6), atol=1e-6)
    assert res[A.MEAN] == pytest.approx(float(np.nanmean(got)), abs=1e-6)
    ds = gdal.Open(out)
    assert ds.GetRasterBand(1).GetDescription() == "soil_moisture"
    assert ds.GetMetadataItem("residual_correction") == "constant"


def test_downscale_without_correction_gives_the_model(run, scene, tmp_path):
    out = str(tmp_path / "plain.tif")
    res = run("smdownscale:downscale", {A.MODEL: scene["model"], A.FACTORS: scene["stack"],
                                        A.RESIDUAL_CORRECTION: 1, A.CLIP_MIN: 0.1, A.CLIP_MAX: 0.3, A.OUTPUT: out})
    got = read_all(out)[0]
    ok = np.isfinite(scene["raw"])
    np.testing.assert_allclose(got[ok], np.clip(scene["raw"][ok], 0.1, 0.3), atol=1e-6)
    assert res[A.MEAN] == pytest.approx(float(np.clip(scene["raw"][ok], 0.1, 0.3).mean()), abs=1e-6)


def test_not_a_model_file(run, scene, tmp_path):
    bad = tmp_path / "notes.smdmodel"
    bad.write_text("this is not a model")
    out = tmp_path / "o.tif"
    with pytest.raises(QgsProcessingException, match="is not a smdownscale model file"):
        run("smdownscale:downscale", {A.MODEL: str(bad), A.FACTORS: scene["stack"], A.SOIL_MOISTURE: scene["smap"],
                                      A.OUTPUT: str(out)})
    assert sorted(os.listdir(tmp_path)) == ["notes.smdmodel"]


def test_missing_factor(run, scene, tmp_path):
    stack = str(tmp_path / "factors.tif")
    write_raster(stack, FINE, np.full((2, H, W), 0.3), names=["ndvi", "dem"])
    out = tmp_path / "o.tif"
    with pytest.raises(QgsProcessingException, match=r"lacks the factor\(s\) lst that the model needs"):
        run("smdownscale:downscale", {A.MODEL: scene["model"], A.FACTORS: stack, A.RESIDUAL_CORRECTION: 1,
                                      A.OUTPUT: str(out)})
    assert sorted(os.listdir(tmp_path)) == ["factors.tif"]


def test_residual_correction_without_smap(run, scene, tmp_path):
    out = tmp_path / "o.tif"
    with pytest.raises(QgsProcessingException, match="Residual correction needs the coarse soil moisture"):
        run("smdownscale:downscale", {A.MODEL: scene["model"], A.FACTORS: scene["stack"], A.OUTPUT: str(out)})
    assert not out.exists()


class _Lines:
    """Processing feedback keeping the info lines."""

    def __init__(self):
        from qgis.core import QgsProcessingFeedback

        self.feedback = QgsProcessingFeedback()
        self.lines = []
        self.feedback.pushInfo = self.lines.append


@pytest.mark.parametrize("switch, line", [
    ("", "Prediction: compiled tree walker (same values as scikit-learn, faster)."),
    ("0", "Prediction: scikit-learn; the compiled tree walker is switched off (SMDOWNSCALE_NATIVE=0)."),
])
def test_the_log_says_how_the_model_predicted(run, scene, tmp_path, monkeypatch, switch, line):
    from smdownscale.algorithms import native

    if switch:
        monkeypatch.setenv(native.ENV_SWITCH, switch)
    out = str(tmp_path / f"sm_{switch or 'native'}.tif")
    log = _Lines()
    run("smdownscale:downscale", {A.MODEL: scene["model"], A.FACTORS: scene["stack"], A.RESIDUAL_CORRECTION: 1,
                                  A.CLIP_MIN: -1.0, A.CLIP_MAX: 2.0, A.OUTPUT: out}, feedback=log.feedback)
    assert line in log.lines
    ok = np.isfinite(scene["raw"])
    np.testing.assert_allclose(read_all(out)[0][ok], scene["raw"][ok], atol=1e-6)  # the same values either way


def test_uncertainty_output_and_its_style(run, scene, tmp_path):
    from qgis.core import QgsRasterLayer

    from smdownscale.processing_provider.base import SD_STYLE_RANGE, UncertaintyStyle

    out, unc = str(tmp_path / "sm.tif"), str(tmp_path / "sd.tif")
    res = run("smdownscale:downscale", {A.MODEL: scene["model"], A.FACTORS: scene["stack"],
                                        A.SOIL_MOISTURE: scene["smap"], A.OUTPUT: out, A.UNCERTAINTY: unc})
    assert res[A.UNCERTAINTY] == unc
    sd = read_all(unc)[0]
    ok = np.isfinite(scene["raw"])
    # the scene's two trees are grown alike (no bootstrap, every factor at each split): they never disagree
    np.testing.assert_array_equal(np.isnan(sd), ~ok)
    assert float(np.abs(sd[ok]).max()) == 0.0
    layer = QgsRasterLayer(unc, "sd")
    UncertaintyStyle.create().postProcessLayer(layer, None, None)
    renderer = layer.renderer()
    assert (renderer.classificationMin(), renderer.classificationMax()) == SD_STYLE_RANGE
    items = renderer.shader().rasterShaderFunction().colorRampItemList()
    assert items[0].color.name() == "#fcfbfd" and items[-1].color.name() == "#3f007d"


def test_uncertainty_of_a_time_series_is_refused(run, scene, tmp_path):
    with pytest.raises(QgsProcessingException, match="uncertainty output is written for one date"):
        run("smdownscale:downscale", {A.MODEL: scene["model"], A.FACTORS_SERIES: [scene["stack"]],
                                      A.SOIL_MOISTURE_SERIES: [scene["smap"]], A.OUTPUT_FOLDER: str(tmp_path / "o"),
                                      A.UNCERTAINTY: str(tmp_path / "sd.tif")})
    assert not os.path.exists(tmp_path / "sd.tif") and not os.path.exists(tmp_path / "o")
