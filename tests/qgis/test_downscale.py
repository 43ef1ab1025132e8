"""smdownscale:downscale through processing.run: values, residual correction, styling inputs, errors."""

import os

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException, QgsProcessingFeedback

from smdownscale.algorithms import model_io
from smdownscale.algorithms.raster import Grid, read_all, write_raster
from smdownscale.processing_provider.algs.downscale import DownscaleAlgorithm as A
from smdownscale.tests.scenes import (
    RS_COARSE,
    RS_FINE,
    RS_H,
    RS_LST,
    RS_NDVI,
    RS_W,
    residual_scene,
    rs_relation,
)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return residual_scene(str(tmp_path_factory.mktemp("downscale")))


def test_downscale_with_residual_correction(run, scene, tmp_path):
    out = str(tmp_path / "sm_1km_20230601.tif")
    res = run("smdownscale:downscale", {A.MODEL: scene["model"], A.FACTORS: scene["stack"],
                                        A.SOIL_MOISTURE: scene["smap"], A.RESIDUAL_CORRECTION: 0,
                                        A.FILL_GAPS: False, A.OUTPUT: out})
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


def _steps(values):
    """Mean |step| between horizontal neighbours across the 9-pixel cell edges, and inside cells."""
    d = np.abs(np.diff(values, axis=1))
    edge = (np.arange(RS_W - 1) % 9) == 8
    return float(np.nanmean(d[:, edge])), float(np.nanmean(d[:, ~edge]))


def test_default_is_complete_smooth_and_flags_each_pixel(run, scene, tmp_path):
    from qgis.core import QgsPalettedRasterRenderer, QgsRasterLayer

    from smdownscale.processing_provider.layers import QUALITY_COLORS, apply_quality_style, quality_labels

    out, qual = str(tmp_path / "sm_1km_20230601.tif"), str(tmp_path / "quality_20230601.tif")
    res = run("smdownscale:downscale", {A.MODEL: scene["model"], A.FACTORS: scene["stack"],
                                        A.SOIL_MOISTURE: scene["smap"], A.CLIP_MIN: -1.0, A.CLIP_MAX: 2.0,
                                        A.OUTPUT: out, A.QUALITY: qual})
    assert res[A.QUALITY] == qual
    got = read_all(out)[0].astype(np.float64)
    assert np.isfinite(got).all()  # the NDVI gap is filled
    np.testing.assert_allclose(np.mean(got.reshape(4, 9, 5, 9), axis=(1, 3)), scene["sm"], atol=1e-6)
    assert gdal.Open(out).GetMetadataItem("residual_correction") == "smooth"
    q = gdal.Open(qual).ReadAsArray()
    np.testing.assert_array_equal(q, np.where(np.isnan(scene["raw"]), 2, 1))
    # no seams: the smooth default steps across cell edges about as inside them; constant per cell does not
    across, inside = _steps(got)
    const = str(tmp_path / "constant.tif")
    run("smdownscale:downscale", {A.MODEL: scene["model"], A.FACTORS: scene["stack"], A.SOIL_MOISTURE: scene["smap"],
                                  A.RESIDUAL_CORRECTION: 0, A.CLIP_MIN: -1.0, A.CLIP_MAX: 2.0, A.OUTPUT: const})
    c_across, c_inside = _steps(read_all(const)[0].astype(np.float64))
    assert across / inside < c_across / c_inside
    # the quality layer's categorical style
    layer = QgsRasterLayer(qual, "quality")
    apply_quality_style(layer)
    renderer = layer.renderer()
    assert isinstance(renderer, QgsPalettedRasterRenderer)
    classes = renderer.classes()
    assert [c.value for c in classes] == [1, 2, 3, 4]
    assert [c.label for c in classes] == [quality_labels()[k] for k in (1, 2, 3, 4)]
    assert [c.color.name() for c in classes] == [QUALITY_COLORS[k] for k in (1, 2, 3, 4)]
    assert quality_labels()[2] == "Missing factors filled (coarse-cell means)"
    assert quality_labels()[4] == "Factors partly from a neighbouring date"


def test_log_says_what_each_mode_does_with_pixels_without_smap(run, scene, tmp_path, warnings_feedback):
    # SMAP missing on one cell, and on the last cell column by a SMAP raster one column short of the stack
    sm = scene["sm"][:, :4].copy()
    sm[1, 2] = np.nan
    smap = str(tmp_path / "smap_20230601.tif")
    write_raster(smap, Grid(RS_COARSE.crs_wkt, RS_COARSE.transform, 4, 4), sm)
    raw = scene["raw"]
    hole = np.zeros(raw.shape, bool)
    hole[9:18, 18:27] = True
    outside = np.zeros(raw.shape, bool)
    outside[:, 36:] = True
    n = int((np.isfinite(raw) & (hole | outside)).sum())
    got = {}
    for mode, index in (("constant", 0), ("smooth", 2)):
        feedback = warnings_feedback()
        out = str(tmp_path / f"{mode}.tif")
        run("smdownscale:downscale", {A.MODEL: scene["model"], A.FACTORS: scene["stack"], A.SOIL_MOISTURE: smap,
                                      A.RESIDUAL_CORRECTION: index, A.FILL_GAPS: False, A.CLIP_MIN: -1.0,
                                      A.CLIP_MAX: 2.0, A.OUTPUT: out}, feedback=feedback)
        got[mode] = read_all(out)[0].astype(np.float64)
        notes = [line for line in feedback.lines if "pixels lie in cells without a SMAP value" in line]
        assert len(notes) == 1 and notes[0].startswith(f"{n} pixels ")
        got[mode + " note"] = notes[0]
    assert got["constant note"].endswith("and keep the uncorrected prediction.")
    assert got["smooth note"].endswith("The correction of the neighbouring cells continues into them (beyond the "
                                       "raster's edge as into its cells without a value) and fades out.")
    # what the notes say: constant keeps the prediction in both; smooth continues into both, beyond the raster's edge
    # as into the cell without SMAP (no step at the edge of a SMAP raster smaller than the stack)
    valid = np.isfinite(raw)
    for where in (outside, hole):
        np.testing.assert_allclose(got["constant"][where & valid], raw[where & valid], atol=1e-6)
        assert np.abs(got["smooth"] - raw)[where & valid].max() > 0.01


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


def test_quality_layer_loads_with_its_categorical_style(plugin, scene, tmp_path, handle_results):
    from qgis.core import (
        QgsApplication,
        QgsProcessingContext,
        QgsProcessingOutputLayerDefinition,
        QgsProject,
    )

    project = QgsProject.instance()
    context = QgsProcessingContext()
    context.setProject(project)
    feedback = QgsProcessingFeedback()
    alg = QgsApplication.processingRegistry().createAlgorithmById("smdownscale:downscale")
    out, qual = str(tmp_path / "sm.tif"), str(tmp_path / "quality.tif")
    # as the dialog passes outputs with "open output file after running" checked
    results, ok = alg.run({A.MODEL: scene["model"], A.FACTORS: scene["stack"], A.SOIL_MOISTURE: scene["smap"],
                           A.OUTPUT: QgsProcessingOutputLayerDefinition(out, project),
                           A.QUALITY: QgsProcessingOutputLayerDefinition(qual, project)}, context, feedback)
    assert ok and results[A.QUALITY] == qual
    names = {os.path.basename(k): v.name for k, v in context.layersToLoadOnCompletion().items()}
    assert names == {"sm.tif": "Soil moisture 1 km 2023-06-01", "quality.tif": "Quality 2023-06-01"}
    try:
        assert handle_results(alg, context, feedback, results)
        layer = project.mapLayersByName("Quality 2023-06-01")[0]
        renderer = layer.renderer()
        assert renderer.type() == "paletted"
        assert [(c.value, c.label) for c in renderer.classes()] == [
            (1, "All factors observed"), (2, "Missing factors filled (coarse-cell means)"),
            (3, "Coarse field only (no factor observed)"), (4, "Factors partly from a neighbouring date")]
        assert project.mapLayersByName("Soil moisture 1 km 2023-06-01")[0].renderer().type() == "singlebandpseudocolor"
    finally:
        project.removeAllMapLayers()
        project.layerTreeRoot().removeAllChildren()


@pytest.mark.parametrize("switch, line", [
    ("", "Prediction: compiled SVR kernel (scikit-learn's values within 1e-9, faster)."),
    ("0", "Prediction: SVR kernel in numpy blocks (scikit-learn's values within 1e-9); the compiled library is "
          "switched off (SMDOWNSCALE_NATIVE=0)."),
])
def test_an_svr_predicts_with_its_kernel_and_the_log_says_so(run, scene, tmp_path, monkeypatch, switch, line):
    from sklearn.svm import SVR

    from smdownscale.algorithms import native, train

    combos = np.array([(a, b) for a in RS_NDVI for b in RS_LST])
    est = train.make_estimator("svr", {"C": 10.0, "epsilon": 0.001})
    est.fit(combos, rs_relation(combos[:, 0], combos[:, 1]))
    assert isinstance(est.steps[-1][1], SVR)
    model = str(tmp_path / "svr.smdmodel")
    model_io.save_model(model, est, {"features": ["ndvi", "lst"], "model_type": "svr", "units": "m3/m3",
                                     "factors": [{"name": "ndvi", "kind": "continuous", "classes": []},
                                                 {"name": "lst", "kind": "continuous", "classes": []}]})
    if switch:
        monkeypatch.setenv(native.ENV_SWITCH, switch)
    out = str(tmp_path / "sm_svr.tif")
    log = _Lines()
    run("smdownscale:downscale", {A.MODEL: model, A.FACTORS: scene["stack"], A.RESIDUAL_CORRECTION: 1,
                                  A.CLIP_MIN: -1.0, A.CLIP_MAX: 2.0, A.OUTPUT: out}, feedback=log.feedback)
    assert line in log.lines
    bands = read_all(scene["stack"])
    ok = np.isfinite(bands[2])
    x = np.c_[bands[2][ok], bands[0][ok]].astype(np.float32)  # ndvi, lst as the model's features
    np.testing.assert_allclose(read_all(out)[0][ok], est.predict(x).astype(np.float32), rtol=0, atol=1e-7)


def test_uncertainty_output_and_its_style(run, scene, tmp_path):
    from qgis.core import QgsRasterLayer

    from smdownscale.processing_provider.layers import SD_STYLE_RANGE, UncertaintyStyle

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
    UncertaintyStyle().apply(layer, None)
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


def test_contrast_detail_parameter(run, scene, tmp_path):
    """DETAIL 1 (contrast, the default): the 1 km class contrast of the mosaic comes from the contrast model, cell
    means are conserved; a model without contrast coefficients falls back to its own detail."""
    from smdownscale.algorithms import train
    from smdownscale.processing_provider.algs.downscale import DETAIL_MODES
    from smdownscale.tests.scenes import MOSAIC_CELL, MOSAIC_CELLS, mosaic_scene

    assert DETAIL_MODES == ("model", "contrast")
    mosaic = mosaic_scene(str(tmp_path), seed=1)
    model = str(tmp_path / "rf.smdmodel")
    train.train_model(train.TrainRequest(mosaic["sm"], mosaic["stacks"], model, "rf", params={"n_estimators": 20},
                                         cv_folds=0, n_jobs=1))
    n = MOSAIC_CELL * MOSAIC_CELLS
    parcels = mosaic["parcels"]
    got = {}
    for index in (0, 1):
        out = str(tmp_path / f"d{index}.tif")
        run("smdownscale:downscale", {A.MODEL: model, A.FACTORS: mosaic["stacks"][0], A.SOIL_MOISTURE: mosaic["sm"][0],
                                      A.DETAIL: index, A.CLIP_MIN: -1.0, A.CLIP_MAX: 2.0, A.OUTPUT: out})
        values = read_all(out)[0].astype(np.float64)
        cells = values.reshape(MOSAIC_CELLS, MOSAIC_CELL, MOSAIC_CELLS, MOSAIC_CELL)
        means = cells.mean(axis=(1, 3))
        np.testing.assert_allclose(means, read_all(mosaic["sm"][0])[0], atol=1e-6)
        d = values - np.kron(means, np.ones((MOSAIC_CELL, MOSAIC_CELL)))
        got[index] = d[parcels].mean() - d[~parcels].mean()
        assert gdal.Open(out).GetMetadataItem("detail") == DETAIL_MODES[index]
        assert values.shape == (n, n)
    truth = mosaic["truth"][0]
    dt = truth - np.kron(truth.reshape(MOSAIC_CELLS, MOSAIC_CELL, MOSAIC_CELLS, MOSAIC_CELL).mean(axis=(1, 3)),
                         np.ones((MOSAIC_CELL, MOSAIC_CELL)))
    want = dt[parcels].mean() - dt[~parcels].mean()
    assert abs(got[1] - want) < 0.015 and got[0] < want - 0.02
    # the default (contrast) with a model without coefficients: its own detail (and a warning in the log)
    old = str(tmp_path / "old.tif")
    run("smdownscale:downscale", {A.MODEL: scene["model"], A.FACTORS: scene["stack"], A.SOIL_MOISTURE: scene["smap"],
                                  A.OUTPUT: old})
    assert gdal.Open(old).GetMetadataItem("detail") == "model"


def test_the_log_counts_clipped_pixels_next_to_other_warnings(run, scene, tmp_path):
    """Under 5 % of the pixels clipped: no clipping warning, so the log counts them, also when the run has other
    warnings (here: the model has no contrast coefficients and falls back to its own detail)."""
    values = scene["raw"][np.isfinite(scene["raw"])].astype(np.float64)
    # the highest value with at least 1 % of the pixels above it (the predictions have ties)
    top = next(float(u) for u in np.unique(values)[::-1] if (values > u).mean() >= 0.01)
    n = int((values > top).sum())
    assert 0.01 <= n / values.size <= 0.05
    log = _Lines()
    warnings = []
    log.feedback.pushWarning = warnings.append
    out = str(tmp_path / "clipped.tif")
    run("smdownscale:downscale", {A.MODEL: scene["model"], A.FACTORS: scene["stack"], A.RESIDUAL_CORRECTION: 1,
                                  A.CLIP_MIN: -1.0, A.CLIP_MAX: top, A.OUTPUT: out}, feedback=log.feedback)
    assert warnings, "the scene's run gives no warning: the case needs one"
    assert f"{n} pixels were clipped to -1-{top:g} m3/m3." in log.lines, (warnings, log.lines[-8:])
    assert float(np.nanmax(read_all(out)[0])) == pytest.approx(top, abs=1e-6)


def test_the_log_counts_the_cells_clipping_moves_off_smap(run, scene, tmp_path):
    """Residual correction conserves each cell's mean; clipping to a narrow range then moves some cells off SMAP:
    the log says how many and how far, as the output's metadata records them."""
    from osgeo import gdal

    log = _Lines()
    out = str(tmp_path / "narrow.tif")
    run("smdownscale:downscale", {A.MODEL: scene["model"], A.FACTORS: scene["stack"], A.SOIL_MOISTURE: scene["smap"],
                                  A.CLIP_MIN: 0.1, A.CLIP_MAX: 0.3, A.OUTPUT: out}, feedback=log.feedback)
    meta = gdal.Open(out).GetMetadata()
    n, largest = int(meta["cells_off_after_clipping"]), float(meta["max_cell_deviation_after_clipping"])
    assert n > 0 and largest > 0.001
    assert (f"Clipping to the physical range moved the mean of {n} coarse cells more than 0.001 m3/m3 off SMAP (at "
            f"most {largest:.3f} m3/m3): their clipped pixels keep the clipped amount off the cell.") in log.lines
    log = _Lines()
    run("smdownscale:downscale", {A.MODEL: scene["model"], A.FACTORS: scene["stack"], A.SOIL_MOISTURE: scene["smap"],
                                  A.CLIP_MIN: -1.0, A.CLIP_MAX: 2.0, A.OUTPUT: str(tmp_path / "wide.tif")},
        feedback=log.feedback)
    assert not [line for line in log.lines if line.startswith("Clipping to the physical range moved")]
