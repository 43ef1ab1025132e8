"""smdownscale:downscale through processing.run: values, residual correction, styling inputs, errors."""

import os

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException

from smdownscale.algorithms.raster import read_all, write_raster
from smdownscale.processing_provider.algs.downscale import DownscaleAlgorithm as A
from smdownscale.tests.scenes import RS_FINE, RS_H, RS_W, residual_scene


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return residual_scene(str(tmp_path_factory.mktemp("downscale")))


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
    write_raster(stack, RS_FINE, np.full((2, RS_H, RS_W), 0.3), names=["ndvi", "dem"])
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
