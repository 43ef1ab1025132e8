"""smdownscale:downscale's temporal filling through processing.run: neighbouring stacks of one date, the default."""

import os

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException, QgsProcessingFeedback, QgsProcessingParameterDefinition

from smdownscale.algorithms import options
from smdownscale.algorithms.raster import read_all, write_raster
from smdownscale.processing_provider.algs.downscale import DownscaleAlgorithm as A
from smdownscale.tests.scenes import RS_FINE, RS_H, RS_NDVI, RS_W, residual_scene, rs_relation

HOLE = (slice(10, 12), slice(20, 25))  # the residual scene's NDVI gap


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    s = residual_scene(str(tmp_path_factory.mktemp("tfill")))
    folder = os.path.dirname(s["stack"])
    rng = np.random.default_rng(4)
    lst, _, ndvi = read_all(s["stack"], dtype=np.float64)  # lst, dem, ndvi
    hole = rng.choice(RS_NDVI, ndvi[HOLE].shape)  # NDVI under the gap, seen on 2023-06-03 only
    seen = ndvi.copy()
    seen[HOLE] = hole
    # 2023-06-03: the same NDVI pattern, greener by 0.05 everywhere (its level), valid everywhere
    neighbour = os.path.join(folder, "factors_20230603.tif")
    write_raster(neighbour, RS_FINE, np.stack([seen + 0.05, lst]), names=["ndvi", "lst"])  # other band order
    return {**s, "neighbour": neighbour, "ndvi_hole": hole, "lst": lst}


def test_default_window_fills_from_the_neighbouring_stack(run, scene, tmp_path):
    out, qual = str(tmp_path / "sm.tif"), str(tmp_path / "q.tif")
    res = run("smdownscale:downscale", {A.MODEL: scene["model"], A.FACTORS: scene["stack"],
                                        A.SOIL_MOISTURE: scene["smap"], A.RESIDUAL_CORRECTION: 1,
                                        A.NEIGHBOUR_FACTORS: [scene["neighbour"]], A.CLIP_MIN: -1.0, A.CLIP_MAX: 2.0,
                                        A.OUTPUT: out, A.QUALITY: qual})
    assert res[A.OUTPUT] == out
    got = read_all(out)[0].astype(np.float64)
    # the neighbour's NDVI moved to this date's level (-0.05) recovers every hidden observed NDVI: all the weight
    expected = rs_relation(scene["ndvi_hole"], scene["lst"][HOLE])
    np.testing.assert_allclose(got[HOLE], expected, atol=1e-6)  # no residual correction: the model itself
    q = gdal.Open(qual).ReadAsArray()
    assert (q[HOLE] == 4).all() and (q == 4).sum() == 10 and (q == 1).sum() == RS_H * RS_W - 10
    assert gdal.Open(out).GetMetadataItem("pixels_from_other_date") == "10"


def test_window_zero_or_no_neighbours_fills_from_cell_means(run, scene, tmp_path):
    # window 0 with a neighbour; the default window (12) without one
    for params in ({A.FILL_WINDOW_DAYS: 0, A.NEIGHBOUR_FACTORS: [scene["neighbour"]]}, {}):
        qual = str(tmp_path / f"q{len(params)}.tif")
        run("smdownscale:downscale", {A.MODEL: scene["model"], A.FACTORS: scene["stack"],
                                      A.SOIL_MOISTURE: scene["smap"], A.RESIDUAL_CORRECTION: 1,
                                      A.OUTPUT: str(tmp_path / f"sm{len(params)}.tif"), A.QUALITY: qual, **params})
        q = gdal.Open(qual).ReadAsArray()
        assert (q[HOLE] == 2).all() and (q == 4).sum() == 0


@pytest.mark.bad_input("downscale: the only neighbouring stack beyond the window (processing.run)")
def test_window_beyond_the_only_neighbour_is_refused(run, scene, tmp_path):
    # 2023-06-03 is 2 days away: with a 1-day window the run used to fill from cell means, saying nothing
    params = {A.MODEL: scene["model"], A.FACTORS: scene["stack"], A.SOIL_MOISTURE: scene["smap"],
              A.RESIDUAL_CORRECTION: 1, A.NEIGHBOUR_FACTORS: [scene["neighbour"]], A.OUTPUT: str(tmp_path / "sm.tif"),
              A.QUALITY: str(tmp_path / "q.tif")}
    with pytest.raises(QgsProcessingException, match=r"None of the neighbouring factor stacks lies within the 1-day "
                                                     r"temporal filling window of 2023-06-01 .*: their dates are "
                                                     r"2023-06-03, the nearest 2 days away"):
        run("smdownscale:downscale", {**params, A.FILL_WINDOW_DAYS: 1})
    assert os.listdir(tmp_path) == []
    run("smdownscale:downscale", {**params, A.FILL_WINDOW_DAYS: 2})  # the window reaches it
    assert (gdal.Open(params[A.QUALITY]).ReadAsArray()[HOLE] == 4).all()


@pytest.mark.bad_input("downscale: neighbouring factor stacks given with a time series")
def test_neighbours_with_a_series_are_refused(run, scene, tmp_path):
    with pytest.raises(QgsProcessingException, match="Neighbouring factor stacks are for one date"):
        run("smdownscale:downscale", {A.MODEL: scene["model"], A.FACTORS_SERIES: [scene["stack"]],
                                      A.SOIL_MOISTURE_SERIES: [scene["smap"]],
                                      A.NEIGHBOUR_FACTORS: [scene["neighbour"]],
                                      A.OUTPUT_FOLDER: str(tmp_path / "out")})
    assert not os.path.exists(tmp_path / "out")


def test_default_window_is_the_engine_option():
    alg = A()
    alg.initAlgorithm()
    assert alg.parameterDefinition(A.FILL_WINDOW_DAYS).defaultValue() == options.FILL_WINDOW_DAYS == 12
    for name in (A.FILL_WINDOW_DAYS, A.NEIGHBOUR_FACTORS):
        assert alg.parameterDefinition(name).flags() & QgsProcessingParameterDefinition.Flag.FlagAdvanced


class _Log(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def pushInfo(self, info):
        self.lines.append(info)


def test_the_log_lists_only_dates_whose_values_were_used(run, scene, tmp_path):
    """A neighbouring date whose NDVI is this date's mirrored (0.9 - NDVI: low where it is high) errs by twice
    the fill's error at every hidden observed pixel: the gap filling weighs it 0, so none of its values enters the
    map and the log names no date and no factor taken from one, only the weight."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    lst, _, ndvi = read_all(scene["stack"], dtype=np.float64)
    mirrored = str(folder / "factors_20230603.tif")
    write_raster(mirrored, RS_FINE, np.stack([np.where(np.isfinite(ndvi), 0.9 - ndvi, 0.5), lst]),
                 names=["ndvi", "lst"])
    log = _Log()
    qual = str(tmp_path / "q.tif")
    run("smdownscale:downscale", {A.MODEL: scene["model"], A.FACTORS: scene["stack"], A.SOIL_MOISTURE: scene["smap"],
                                  A.RESIDUAL_CORRECTION: 1, A.NEIGHBOUR_FACTORS: [mirrored],
                                  A.OUTPUT: str(tmp_path / "sm.tif"), A.QUALITY: qual}, feedback=log)
    assert (gdal.Open(qual).ReadAsArray()[HOLE] == 2).all()
    assert "2023-06-01: 0 pixels with factors from a neighbouring date within 12 days (dates used: none)." in log.lines
    assert not [line for line in log.lines if "taken from a neighbouring date" in line]
    assert ("Weight of the neighbouring dates' values against the gap filling's own, measured on observed pixels: "
            "ndvi 0.00.") in log.lines
