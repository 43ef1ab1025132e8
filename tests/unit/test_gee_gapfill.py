"""The server-side gap filling and residual correction evaluated numerically by the fake Earth Engine.

The fake (numeric mode) computes the expressions downscalegee sends, pixel by pixel, as Earth Engine does; the
results are checked against SMAP (each cell's mean), the local chain (:mod:`algorithms.residual`,
:mod:`algorithms.gapfill`) and the seam measure of the bench.
"""

from __future__ import annotations

import os
import sys

import ee
import numpy as np
import pytest
from scipy import ndimage

from smdownscale.algorithms import gapfill, residual
from smdownscale.algorithms.aggregate import CellIndex, CoarseMean
from smdownscale.algorithms.gee import auth, server
from smdownscale.tests.fake_ee import FakeEarthEngine
from smdownscale.tests.scenes import GEE_CLASSIFIER, GEE_FACTORS, GEE_IDS, gee_pixels, gee_scene

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))

from gaps import seam_ratio  # noqa: E402


@pytest.fixture(scope="module")
def fake():
    with FakeEarthEngine(project="test-project", numeric=True) as server_:
        auth.initialize(project=server_.project, url=server_.url, force=True)
        yield server_


def _context(scene):
    fine_proj = server.fine_projection(scene.fine)
    max_pixels = server.cell_max_pixels(scene.fine, scene.coarse)
    smap_cells = ee.Image(GEE_IDS["smap"]).reproject(server.smap_projection(scene.coarse)).rename(["soil_moisture"])
    return fine_proj, max_pixels, smap_cells


@pytest.mark.parametrize("mode", ["smooth", "constant"])
def test_server_correction_keeps_each_cell_mean(fake, mode):
    scene = gee_scene(clouds=False)
    scene.register(fake)
    fine_proj, max_pixels, smap_cells = _context(scene)
    image = server.correct_residual(ee.Image(GEE_IDS["prediction"]), smap_cells, mode, fine_proj, max_pixels,
                                    scene.coarse)
    out = gee_pixels(image.toFloat(), scene.fine, ["soil_moisture"])[0]
    smap = scene.smap_window()
    has = np.isfinite(smap)
    assert has.sum() == smap.size - 1  # one cell without SMAP
    means = scene.cell_means(out)
    assert np.abs(means[has] - smap[has]).max() < 2e-6  # float32 output
    plain = scene.on_fine(scene.prediction)
    no_smap = np.isin(scene.cells(), np.flatnonzero(~has.ravel()))
    assert no_smap.sum() > 70
    corrected = (scene.cells() >= 0) & ~no_smap
    assert np.abs(out - plain)[corrected].mean() > 0.01  # the correction did something
    if mode == "constant":
        np.testing.assert_allclose(out[no_smap], plain[no_smap], atol=1e-6)  # left as predicted, as locally
    else:
        # the surface continues into the cell without SMAP (fading toward its knot of 0), as locally: no step at
        # its edge, where the correction's steps are those inside cells
        corr = out - plain
        ring = ndimage.binary_dilation(no_smap, np.ones((3, 3), bool)) & ~no_smap
        edge = np.abs(np.diff(corr, axis=1))[(no_smap[:, 1:] & ring[:, :-1]) | (no_smap[:, :-1] & ring[:, 1:])]
        inner = np.abs(np.diff(corr, axis=1))[corrected[:, 1:] & corrected[:, :-1]]
        assert np.abs(corr[no_smap]).max() > 0.01 and edge.max() < 1.2 * inner.max()


def test_smooth_server_correction_has_no_seams_like_the_local_one(fake):
    scene = gee_scene(clouds=False)
    scene.register(fake)
    fine_proj, max_pixels, smap_cells = _context(scene)
    cells = scene.cells()
    pred = scene.on_fine(scene.prediction)
    truth = scene.on_fine(scene.truth)
    ratios = {}
    for mode in ("constant", "smooth"):
        image = server.correct_residual(ee.Image(GEE_IDS["prediction"]), smap_cells, mode, fine_proj, max_pixels,
                                        scene.coarse)
        out = gee_pixels(image, scene.fine, ["soil_moisture"])[0]
        local, _ = residual.correct_array(pred, scene.fine, scene.coarse, scene.smap_window(), mode)
        ratios[mode] = (seam_ratio(out, cells), seam_ratio(local, cells))
        inside = cells >= 0
        has = np.isfinite(scene.smap_window().ravel())[np.where(inside, cells, 0)] & inside

        def rmse(values, where):
            return np.sqrt(np.mean((values - truth)[where] ** 2))

        assert rmse(out, has) < 1.1 * rmse(local, has)
        # in the cell without SMAP both continue the smooth surface (the server fades it out within the cell, the
        # local chain a cell further), both closer to the truth than the prediction
        no = inside & ~has
        if mode == "smooth":
            assert rmse(local, no) < rmse(out, no) < 0.7 * rmse(pred, no)
        else:
            assert rmse(out, no) == rmse(local, no) == rmse(pred, no)
    truth_ratio = seam_ratio(truth, cells)
    assert truth_ratio == pytest.approx(1.01, abs=0.01)
    server_constant, local_constant = ratios["constant"]
    server_smooth, local_smooth = ratios["smooth"]
    assert server_constant == pytest.approx(local_constant, rel=1e-3) and server_constant > 1.5  # 9 km steps
    assert server_smooth == pytest.approx(local_smooth, rel=0.1)  # 1.08 against 1.14 locally
    assert server_smooth < 1.1 * truth_ratio


def test_server_fill_is_the_local_bilinear_fill(fake):
    """Missing factors take the bilinear surface through their cell means, as gapfill's default: the same values
    where the four cells around a pixel have observations and lie in the window (the local fill extends the
    edge cells beyond the window, the server uses the cells beyond it)."""
    scene = gee_scene()
    scene.register(fake)
    fine_proj, max_pixels, _ = _context(scene)
    model = server.load_model(GEE_CLASSIFIER, list(GEE_FACTORS), "rf")
    features = server.feature_image(ee.Image(GEE_IDS["factors"]), model.entries)
    filled, all_observed, any_observed = server.fill_features(features, fine_proj, max_pixels, scene.coarse)
    image = filled.addBands(all_observed.rename(["all"])).addBands(any_observed.rename(["any"]))
    ndvi, lst, all_obs, any_obs = gee_pixels(image, scene.fine, ["ndvi", "lst_day", "all", "any"])
    _, _, xf, sel = scene.local_chain()
    x, y = scene.fine.centers(0, scene.fine.height)
    masked = np.stack([scene.masked(x, y, 0), scene.masked(x, y, 1)])
    np.testing.assert_array_equal(all_obs, ~masked.any(axis=0))
    np.testing.assert_array_equal(any_obs, ~masked.all(axis=0))
    # where a factor was observed it is kept
    np.testing.assert_allclose(ndvi[~masked[0]], scene.ndvi(x, y)[~masked[0]], rtol=1e-6)
    # where it was not: the four knots around each pixel
    cx0, cdx, _, cy0, _, cdy = scene.coarse.transform
    c0 = np.floor((x - cx0) / cdx - 0.5).astype(int)
    r0 = np.floor((y - cy0) / cdy - 0.5).astype(int)
    empty = (5, 2)  # the cell where neither factor was observed
    comparable = (c0 >= 0) & (c0 + 1 < scene.coarse.width) & (r0 >= 0) & (r0 + 1 < scene.coarse.height)
    comparable &= ~(np.isin(c0, (empty[0] - 1, empty[0])) & np.isin(r0, (empty[1] - 1, empty[1])))
    server_x = np.stack([ndvi[sel], lst[sel]], axis=1)
    keep = comparable[sel]
    assert keep.sum() > 150 and np.isin(np.flatnonzero(sel.ravel()), np.flatnonzero(masked[0].ravel())).any()
    np.testing.assert_allclose(server_x[keep], xf[keep], rtol=1e-5)
    # around the empty cell the server interpolates the cells that have a mean: finite, within their range
    near = sel & ~comparable & (scene.cells() >= 0)
    assert near.sum() > 50
    assert np.all((ndvi[near] > 0.2) & (ndvi[near] < 0.7) & (lst[near] > 288) & (lst[near] < 312))


def test_server_chain_fills_every_pixel_with_the_local_quality_codes(fake):
    scene = gee_scene()
    scene.register(fake)
    values, quality = scene.server_chain()
    local, local_quality, _, _ = scene.local_chain()
    cells = scene.cells()
    inside = cells >= 0
    np.testing.assert_array_equal(quality[inside], local_quality[inside])
    counts = {int(c): int((quality[inside] == c).sum()) for c in (0, 1, 2, 3)}
    # 0: the cell without SMAP where no factor was observed; 3: both factors masked, SMAP there
    assert counts[1] > 3000 and counts[2] > 200 and counts[3] > 100 and counts[0] == 81
    smap = scene.smap_window()
    no_value = np.isin(cells, np.flatnonzero(~np.isfinite(smap).ravel()))
    np.testing.assert_array_equal(quality[inside] == 0, no_value[inside])
    assert np.isfinite(values[inside & ~no_value]).all()  # gap-free wherever the coarse field is
    means = scene.cell_means(values)
    has = np.isfinite(smap)
    assert np.abs(means[has] - smap[has]).max() < 1e-6
    # as good as the local chain: seams, and the filled pixels' distance to the truth
    truth = scene.on_fine(scene.truth)
    assert seam_ratio(values, cells) == pytest.approx(seam_ratio(local, cells), rel=0.05)
    assert seam_ratio(values, cells) < 1.05 * seam_ratio(truth, cells)
    for code in (gapfill.ALL_FACTORS, gapfill.FILLED, gapfill.COARSE_ONLY):
        m = inside & (quality == code)
        rmse = np.sqrt(np.mean((values - truth)[m] ** 2))
        local_rmse = np.sqrt(np.mean((local - truth)[m] ** 2))
        assert rmse < 1.05 * local_rmse, code
    both = inside & np.isfinite(values) & np.isfinite(local)
    assert np.abs(values - local)[both].mean() < 0.005


def test_constant_server_chain_is_seamy(fake):
    scene = gee_scene()
    scene.register(fake)
    values, quality = scene.server_chain("constant")
    local, local_quality, _, _ = scene.local_chain("constant")
    cells = scene.cells()
    np.testing.assert_array_equal(quality[cells >= 0], local_quality[cells >= 0])
    assert seam_ratio(values, cells) > 1.4
    assert seam_ratio(values, cells) == pytest.approx(seam_ratio(local, cells), rel=0.05)


def test_the_fake_refuses_what_earth_engine_refuses(fake):
    scene = gee_scene()
    scene.register(fake)
    fine_proj, max_pixels, _ = _context(scene)
    pred = ee.Image(GEE_IDS["prediction"])
    with pytest.raises(ee.EEException, match=r"Too many input pixels per output pixel. Need 8[0-9], but only 50"):
        gee_pixels(server.cell_means(pred, fine_proj, 50, scene.coarse), scene.coarse, ["soil_moisture"])
    with pytest.raises(ee.EEException, match="no fixed default projection"):
        gee_pixels(ee.Image.constant(1).rename(["soil_moisture"]).resample("bilinear").reproject(fine_proj), scene.fine,
               ["soil_moisture"])
    with pytest.raises(ee.EEException, match="Classifier asset 'projects/test-project/assets/other' not found"):
        model = server.load_model("projects/test-project/assets/other", list(GEE_FACTORS), "rf")
        gee_pixels(server.build_prediction(model, ee.Image(GEE_IDS["factors"]), None, "none", None, scene.fine,
                                       scene.coarse), scene.fine, ["soil_moisture"])


def test_smooth_correction_on_smap_grid_in_degrees(fake):
    """SMAP L4 as Earth Engine stores it (0.1 degree cells in EPSG:4326), the maps in EPSG:6933: the correction
    still keeps each cell's mean (cells by pixel centre, transformed, as the local chain's CellIndex)."""
    from smdownscale.algorithms.gee.fetch import fine_grid
    from smdownscale.algorithms.raster import Grid, srs_from_user
    from smdownscale.tests.fake_ee import TestImage

    coarse = Grid(srs_from_user("EPSG:4326").ExportToWkt(), (115.6, 0.1, 0.0, 42.2, 0.0, -0.1), 7, 5)
    fine = fine_grid(coarse, "EPSG:6933", 1000.0)
    scene = gee_scene(clouds=False)

    def smap_of(lon, lat):
        col, row = np.floor((lon + 180.0) / 0.1 + 1e-9), np.floor((90.0 - lat) / 0.1 + 1e-9)
        return (0.25 + 0.08 * np.sin(col * 1.3) + 0.05 * np.cos(row * 0.7))[None]

    fake.images["projects/test-project/assets/smap_degrees"] = TestImage(
        "EPSG:4326", [0.1, 0.0, -180.0, 0.0, -0.1, 90.0], ["sm_surface"], smap_of)
    scene.register(fake)
    fine_proj = server.fine_projection(fine)
    max_pixels = server.cell_max_pixels(fine, coarse)
    smap_cells = ee.Image("projects/test-project/assets/smap_degrees").reproject(server.smap_projection(coarse))
    index = CellIndex(fine, coarse)
    cells = np.asarray(index.rows(0, fine.height))
    lon, lat = coarse.centers(0, coarse.height)
    smap = smap_of(lon, lat)[0]
    ratios = {}
    for mode in ("constant", "smooth"):
        image = server.correct_residual(ee.Image(GEE_IDS["prediction"]), smap_cells.rename(["soil_moisture"]), mode,
                                        fine_proj, max_pixels, coarse)
        out = gee_pixels(image.toFloat(), fine, ["soil_moisture"])[0]
        acc = CoarseMean(index, 1)
        acc.add(0, out[None].astype(np.float32))
        assert np.abs(acc.mean()[0] - smap).max() < 2e-6
        local, _ = residual.correct_array(gee_pixels(ee.Image(GEE_IDS["prediction"]), fine, ["soil_moisture"])[0],
                                          fine, coarse, smap, mode)
        ratios[mode] = (seam_ratio(out, cells), seam_ratio(local, cells))
    assert ratios["constant"][0] > 2.0 and ratios["constant"][0] == pytest.approx(ratios["constant"][1], rel=0.02)
    assert ratios["smooth"][0] < 1.1 and ratios["smooth"][0] == pytest.approx(ratios["smooth"][1], rel=0.1)
