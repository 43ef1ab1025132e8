"""smdownscale:align through processing.run: grids from a reference or CRS + extent + resolution, values, errors."""

import os
import warnings

import numpy as np
import pytest
from osgeo import gdal, osr
from qgis.core import QgsProcessingException

from smdownscale.algorithms import raster
from smdownscale.algorithms.raster import Grid, srs_from_user
from smdownscale.processing_provider.algs.align import AlignAlgorithm as A

UTM33 = srs_from_user("EPSG:32633").ExportToWkt()
SRC = Grid(UTM33, (500000.0, 100.0, 0.0, 5000000.0, 0.0, -100.0), 40, 40)


@pytest.fixture()
def scene(tmp_path):
    """Two factor rasters on a 100 m UTM grid: a ramp in x and a land cover map; references at 200 m and 800 m."""
    x, y = SRC.centers(0, SRC.height)
    ramp = 0.01 * (x - 500000.0)
    ramp[:4, :4] = np.nan
    rng = np.random.default_rng(2)
    lc = np.repeat(np.repeat(rng.choice([10.0, 20.0, 30.0], (5, 5)), 8, axis=0), 8, axis=1)  # uniform per 800 m
    paths = {
        "ramp": raster.write_raster(str(tmp_path / "ramp_20230601.tif"), SRC, ramp),
        "landcover": raster.write_raster(str(tmp_path / "landcover.tif"), SRC, lc),
        "ref": raster.write_raster(str(tmp_path / "dem.tif"), Grid(UTM33, (500000.0, 200.0, 0.0, 5000000.0, 0.0,
                                                                             -200.0), 20, 20), np.zeros((20, 20))),
        "smap": raster.write_raster(str(tmp_path / "smap.tif"), Grid(UTM33, (500000.0, 800.0, 0.0, 5000000.0, 0.0,
                                                                              -800.0), 5, 5), np.zeros((5, 5))),
    }
    return tmp_path, paths, ramp, lc


def _block_mean(a, k):
    h, w = a.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-nodata cells give NaN
        return np.nanmean(a.reshape(h // k, k, w // k, k).transpose(0, 2, 1, 3).reshape(h // k, w // k, -1), axis=2)


def test_align_to_reference_with_coarse_stack(run, scene):
    tmp, paths, ramp, lc = scene
    out, coarse = str(tmp / "factors.tif"), str(tmp / "factors_coarse.tif")
    res = run("smdownscale:align", {A.INPUTS: [paths["ramp"], paths["landcover"]], A.REFERENCE: paths["ref"],
                                    A.OUTPUT: out, A.COARSE_REFERENCE: paths["smap"], A.COARSE_OUTPUT: coarse})
    assert res[A.OUTPUT] == out and res[A.COARSE_OUTPUT] == coarse
    assert res[A.FACTOR_NAMES] == "ramp,landcover"
    assert Grid.from_path(out).same_as(Grid.from_path(paths["ref"]))
    fine = raster.read_all(out)
    np.testing.assert_allclose(fine[0], _block_mean(ramp, 2), rtol=1e-6)  # average when coarsening
    assert np.isnan(fine[0, :2, :2]).all()
    np.testing.assert_array_equal(fine[1], lc[::2, ::2])  # mode of uniform 2x2 blocks
    ds = gdal.Open(out)
    assert [ds.GetRasterBand(i).GetDescription() for i in (1, 2)] == ["ramp", "landcover"]
    assert raster.band_kinds(ds) == ["continuous", "categorical"]  # 'landcover' is categorical by default
    assert Grid.from_path(coarse).same_as(Grid.from_path(paths["smap"]))
    got = raster.read_all(coarse)
    # the fine stack's 200 m pixels are nested in the 800 m cells: 16 per cell, 4 of them nodata in cell (0, 0)
    np.testing.assert_allclose(got[0], _block_mean(fine[0], 4), rtol=1e-6)
    np.testing.assert_array_equal(got[1], lc[::8, ::8])


def test_align_to_crs_extent_resolution(run, scene):
    tmp, paths, ramp, _ = scene
    out = str(tmp / "laea.tif")
    ct = osr.CoordinateTransformation(srs_from_user("EPSG:32633"), srs_from_user("EPSG:3035"))
    cx, cy = ct.TransformPoint(502000.0, 4998000.0)[:2]
    extent = f"{cx - 990},{cx + 1010},{cy - 1000},{cy + 995} [EPSG:3035]"
    res = run("smdownscale:align", {A.INPUTS: [paths["ramp"]], A.TARGET_CRS: "EPSG:3035",
                                    A.TARGET_EXTENT: extent, A.RESOLUTION: 50.0, A.OUTPUT: out})
    assert res[A.COARSE_OUTPUT] is None and res[A.FACTOR_NAMES] == "ramp"
    g = Grid.from_path(out)
    assert g.srs.IsSame(srs_from_user("EPSG:3035"))
    assert g.res == pytest.approx((50.0, 50.0))
    assert g.extent == pytest.approx((np.floor((cx - 990) / 50) * 50, np.floor((cy - 1000) / 50) * 50,
                                      np.ceil((cx + 1010) / 50) * 50, np.ceil((cy + 995) / 50) * 50))
    x, y = g.centers(0, g.height)
    back = osr.CoordinateTransformation(srs_from_user("EPSG:3035"), srs_from_user("EPSG:32633"))
    pts = np.array(back.TransformPoints(np.column_stack([x.ravel(), y.ravel()]).tolist()))[:, 0]
    expected = (0.01 * (pts - 500000.0)).reshape(x.shape)  # bilinear keeps a linear ramp
    np.testing.assert_allclose(raster.read_all(out)[0], expected, atol=1e-3)


def test_a_date_s_lst_all_under_cloud_stays_missing_with_a_warning(run, scene, warnings_feedback):
    """An LST file of a date clouded over the whole area aligns into the stack as a band missing everywhere, with a
    warning saying how downscale takes it from neighbouring dates."""
    tmp, paths, ramp, _ = scene
    lst = raster.write_raster(str(tmp / "lst_day_20230601.tif"), SRC, np.full(ramp.shape, np.nan))
    out = str(tmp / "factors_20230601.tif")
    feedback = warnings_feedback()
    res = run("smdownscale:align", {A.INPUTS: [paths["ramp"], lst], A.REFERENCE: paths["ref"], A.OUTPUT: out},
              feedback=feedback)
    assert res[A.FACTOR_NAMES] == "ramp,lst_day"
    stack = raster.read_all(out)
    assert np.isnan(stack[1]).all() and np.isfinite(stack[0]).mean() > 0.9
    assert feedback.lines == [
        "lst_day holds no valid pixel on the target grid (cloud all day, or no radar overpass): it stays missing "
        "everywhere in the stack. To downscale this date, give the stacks of neighbouring dates (NEIGHBOUR_FACTORS) "
        "so the factor is taken from them; training leaves the date out."]


def test_bad_inputs_raise_and_write_nothing(run, scene):
    tmp, paths, _, _ = scene
    far = raster.write_raster(str(tmp / "far.tif"), Grid(UTM33, (800000.0, 100.0, 0.0, 4000000.0, 0.0, -100.0),
                                                          10, 10), np.ones((10, 10)))
    out = str(tmp / "out.tif")
    with pytest.raises(QgsProcessingException, match="far.tif does not overlap the target grid"):
        run("smdownscale:align", {A.INPUTS: [paths["ramp"], far], A.REFERENCE: paths["ref"], A.OUTPUT: out})
    assert not os.path.exists(out)
    with pytest.raises(QgsProcessingException,
                       match=r"Give a reference raster, or a target CRS, extent and resolution \(missing: "
                             r"target extent, target resolution\)"):
        run("smdownscale:align", {A.INPUTS: [paths["ramp"]], A.TARGET_CRS: "EPSG:3035", A.OUTPUT: out})
    with pytest.raises(QgsProcessingException, match="Factor names must be unique.*'ramp' in"):
        run("smdownscale:align", {A.INPUTS: [paths["ramp"], paths["ramp"]], A.REFERENCE: paths["ref"],
                                  A.OUTPUT: out})
    assert not os.path.exists(out)
    assert not [f for f in os.listdir(tmp) if ".partial-" in f]
