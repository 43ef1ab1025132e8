"""smdownscale:sampledata through processing.run: outputs, values, same scene as the engine, errors, cancel."""

import json
import os

import numpy as np
import pytest
from qgis.core import QgsApplication, QgsProcessingException, QgsProcessingFeedback, QgsRasterLayer

from smdownscale.algorithms import raster, sample
from smdownscale.algorithms.raster import Grid
from smdownscale.processing_provider.algs.sampledata import SampleDataAlgorithm as A


def test_sampledata_outputs_and_values(run, tmp_path):
    out = str(tmp_path / "scene")
    res = run("smdownscale:sampledata", {A.SIZE_KM: 60, A.N_DATES: 2, A.SEED: 7, A.OUTPUT: out})
    assert res[A.OUTPUT] == out
    assert res[A.DATES] == "2023-06-01;2023-06-09"
    factors = res[A.FACTOR_FILES].split(";")
    assert len(factors) == 3 + 6 * 2 and all(os.path.isfile(p) for p in factors)
    assert os.path.join(out, "static", "landcover.tif") in factors
    assert os.path.join(out, "dynamic", "precipitation_20230609.tif") in factors
    smap, truth = res[A.SMAP_FILES].split(";"), res[A.TRUTH_FILES].split(";")
    assert smap == [os.path.join(out, "smap", f"smap_{d}.tif") for d in ("20230601", "20230609")]
    assert truth == [os.path.join(out, "truth", f"truth_{d}.tif") for d in ("20230601", "20230609")]
    assert res[A.REFERENCE_GRID] == os.path.join(out, "static", "elevation.tif")
    fine = Grid.from_path(res[A.REFERENCE_GRID])
    assert (fine.width, fine.height, fine.res) == (60, 60, (1000.0, 1000.0))
    assert Grid.from_path(truth[0]).same_as(fine)
    coarse = Grid.from_path(smap[0])
    assert coarse.srs.IsSame(raster.srs_from_user("EPSG:6933")) and coarse.res[0] == pytest.approx(9008.055210146)
    for t in range(2):
        tr = raster.read_all(truth[t])[0]
        sm = raster.read_all(smap[t])[0]
        assert 0.1 < np.nanmean(tr) < 0.3 and 0.02 - 1e-6 <= np.nanmin(tr) and np.nanmax(tr) <= 0.5 + 1e-6
        assert abs(np.nanmean(sm) - np.nanmean(tr)) < 0.02 and np.isfinite(sm).sum() >= 25
    # the Processing run gives exactly the engine's scene for the same parameters
    engine = sample.make_sample(str(tmp_path / "engine"), seed=7, size_km=60, n_dates=2)
    for mine, theirs in zip(truth + smap, engine.truth_files + engine.smap_files):
        np.testing.assert_array_equal(raster.read_all(mine), raster.read_all(theirs))
    with open(os.path.join(out, "scene.json"), encoding="utf-8") as fh:
        meta = json.load(fh)
    assert meta["physics"]["noise"] == 0.015 and meta["physics"]["terrain"] == 1.0
    # QGIS shows every sample raster's CRS by name (not "Unknown CRS" or "[]" in layer pickers)
    for path in (res[A.REFERENCE_GRID], truth[0], smap[0], factors[-1]):
        crs = QgsRasterLayer(path, "x").crs()
        assert crs.isValid() and crs.description() and "unknown" not in crs.description().lower(), path
    assert QgsRasterLayer(truth[0], "x").crs().description() == sample.ALBERS_CHINA_NAME


def test_soil_moisture_legend_shows_the_unit(run, tmp_path):
    from qgis.core import QgsColorRampLegendNode, QgsLayerTreeLayer

    from smdownscale.processing_provider.layers import apply_soil_moisture_style

    scene = sample.make_sample(str(tmp_path / "scene"), size_km=30, n_dates=1, seed=3)
    layer = QgsRasterLayer(scene.smap_files[0], "Sample SMAP")
    apply_soil_moisture_style(layer)
    nodes = layer.legend().createLayerTreeModelLegendNodes(QgsLayerTreeLayer(layer))
    ramps = [n for n in nodes if isinstance(n, QgsColorRampLegendNode)]
    assert len(ramps) == 1 and ramps[0].settings().suffix() == " m³/m³"
    labels = [item[0] for item in layer.renderer().legendSymbologyItems()]
    assert labels[0] == "0.000 m³/m³" and labels[-1] == "0.450 m³/m³"


def test_sampledata_advanced_parameters(run, tmp_path):
    out = str(tmp_path / "scene")
    res = run("smdownscale:sampledata", {A.SIZE_KM: 40, A.N_DATES: 1, A.START_DATE: "2022-07-15", A.STEP_DAYS: 3,
                                         A.NOISE: 0.0, A.TERRAIN: 2.0, A.NONLINEARITY: 0.5, A.SMAP_ERROR: 0.0,
                                         A.OUTPUT: out})
    assert res[A.DATES] == "2022-07-15"
    with open(os.path.join(out, "scene.json"), encoding="utf-8") as fh:
        meta = json.load(fh)
    assert meta["physics"]["noise"] == 0.0 and meta["physics"]["smap_error"] == 0.0
    assert meta["relation"]["terrain"] == 2.0 and meta["relation"]["nonlinearity"] == 0.5
    # no noise: the truth is the relation of the factor files
    scene = sample.make_sample(str(tmp_path / "engine"), size_km=40, n_dates=1, start_date="2022-07-15",
                               noise=0.0, terrain=2.0, nonlinearity=0.5, smap_error=0.0)
    f = {k: raster.read_all(scene.paths[k][0], dtype=np.float64)[0] for k in sample.RELATION_FACTORS}
    pgrid = Grid.from_path(scene.paths["precipitation"][0])
    f["precipitation"] = sample.resample_bilinear(f["precipitation"], pgrid, scene.fine)
    oracle = sample.generating_relation(f, 0, meta["relation"])
    truth = raster.read_all(res[A.TRUTH_FILES], dtype=np.float64)[0]
    ok = np.isfinite(oracle)
    assert ok.mean() > 0.8
    np.testing.assert_allclose(truth[ok], oracle[ok], atol=2e-6)


def test_sampledata_bad_date_and_cancel(run, tmp_path):
    out = tmp_path / "scene"
    with pytest.raises(QgsProcessingException):
        run("smdownscale:sampledata", {A.SIZE_KM: 40, A.START_DATE: "1 June 2023", A.OUTPUT: str(out)})
    assert not out.exists()
    feedback = QgsProcessingFeedback()
    feedback.cancel()
    with pytest.raises(QgsProcessingException):
        run("smdownscale:sampledata", {A.SIZE_KM: 40, A.OUTPUT: str(out)}, feedback=feedback)
    assert not out.exists()
    with pytest.raises(QgsProcessingException):
        run("smdownscale:sampledata", {A.SIZE_KM: 10, A.OUTPUT: str(out)})  # below the parameter's minimum
    assert not out.exists()


def test_sampledata_messages_reach_the_user(plugin, tmp_path):
    """The engine's message (problem and fix) is what processAlgorithm raises."""
    from qgis.core import QgsProcessingContext

    alg = QgsApplication.processingRegistry().createAlgorithmById("smdownscale:sampledata")
    assert alg.displayName() == "Create sample dataset" and alg.group() == "Data preparation"
    assert "EASE-Grid 2.0" in alg.shortHelpString() and "VV = -19 + 25 SM" in alg.shortHelpString()
    context = QgsProcessingContext()
    params = {A.SIZE_KM: 40, A.START_DATE: "1 June 2023", A.OUTPUT: str(tmp_path / "x")}
    with pytest.raises(QgsProcessingException, match=r"The start date '1 June 2023' is not a date; give it as "
                                                     r"YYYY-MM-DD, e.g. 2023-06-01."):
        alg.processAlgorithm(params, context, QgsProcessingFeedback())
    feedback = QgsProcessingFeedback()
    feedback.cancel()
    with pytest.raises(QgsProcessingException, match="Canceled: no output was written."):
        alg.processAlgorithm({A.SIZE_KM: 40, A.OUTPUT: str(tmp_path / "y")}, context, feedback)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
