"""Residual correction: mass conservation per coarse cell (constant and smooth), no seams in smooth mode."""

from __future__ import annotations

import math

import numpy as np
import pytest
from osgeo import gdal
from scipy import ndimage

from smdownscale.algorithms.aggregate import AreaIndex, CellIndex, CoarseMean
from smdownscale.algorithms.downscale import downscale
from smdownscale.algorithms.errors import InputError
from smdownscale.algorithms.raster import Grid, read_all, srs_from_user, write_raster
from smdownscale.algorithms.residual import (
    RESIDUAL_MODES,
    ResidualCorrector,
    atpk_weights,
    check_mode,
    correct_array,
    fit_residual_variogram,
)
from smdownscale.tests.scenes import ds_fields, save_ds_model, write_ds_stack

UTM = srs_from_user("EPSG:32650").ExportToWkt()
W, H = 72, 54
FINE = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), W, H)
# 9 km cells offset from the fine grid (pixels are not aligned with cells); one cell column beyond the fine grid
COARSE = Grid(UTM, (396500.0, 9000.0, 0.0, 4602500.0, 0.0, -9000.0), 9, 7)


def cells_of_pixels(fine: Grid = FINE, coarse: Grid = COARSE) -> np.ndarray:
    """Flat coarse cell of every fine pixel center, from the grid arithmetic (-1 outside)."""
    x = fine.transform[0] + (np.arange(fine.width) + 0.5) * fine.transform[1]
    y = fine.transform[3] + (np.arange(fine.height) + 0.5) * fine.transform[5]
    col = np.floor((x - coarse.transform[0]) / coarse.transform[1]).astype(int)
    row = np.floor((y - coarse.transform[3]) / coarse.transform[5]).astype(int)
    rr, cc = np.meshgrid(row, col, indexing="ij")
    ok = (rr >= 0) & (rr < coarse.height) & (cc >= 0) & (cc < coarse.width)
    return np.where(ok, rr * coarse.width + cc, -1)


def smooth_prediction(seed: int = 0) -> np.ndarray:
    """A smooth raw prediction field (gentle plane + long wave) with a few nodata holes."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    pred = 0.2 + 0.001 * xx - 0.0007 * yy + 0.01 * np.sin(xx / 9.0) * np.cos(yy / 13.0)
    pred[rng.random((H, W)) < 0.002] = np.nan
    pred[20:24, 30:35] = np.nan
    return pred


def coarse_sm(seed: int = 1) -> np.ndarray:
    sm = np.random.default_rng(seed).uniform(0.1, 0.35, (COARSE.height, COARSE.width))
    sm[3, 4] = np.nan  # a cell without SMAP
    return sm


def full_cells(pred: np.ndarray, cells: np.ndarray) -> list[int]:
    """Cells whose every pixel is valid and that hold a complete 9 x 9 block of pixel centers."""
    out = []
    for c in np.unique(cells[cells >= 0]):
        member = cells == c
        if member.sum() == 81 and np.isfinite(pred[member]).all():
            out.append(int(c))
    return out


def edge_jumps(values: np.ndarray, cells: np.ndarray) -> tuple[float, float]:
    """Mean |difference| of horizontally and vertically adjacent pixels across cell edges and inside cells."""
    across, inside = [], []
    for axis in (0, 1):
        d = np.abs(np.diff(values, axis=axis))
        a = cells.take(range(1, cells.shape[axis]), axis=axis)
        b = cells.take(range(0, cells.shape[axis] - 1), axis=axis)
        ok = np.isfinite(d) & (a >= 0) & (b >= 0)
        across.append(d[ok & (a != b)])
        inside.append(d[ok & (a == b)])
    return float(np.concatenate(across).mean()), float(np.concatenate(inside).mean())


@pytest.mark.parametrize("mode", ["constant", "smooth"])
def test_every_fully_valid_cell_conserves_smap(mode):
    pred = smooth_prediction()
    sm = coarse_sm()
    out, summary = correct_array(pred, FINE, COARSE, sm, mode)
    cells = cells_of_pixels()
    full = [c for c in full_cells(pred, cells) if np.isfinite(sm.ravel()[c])]
    assert len(full) >= 20
    for c in full:
        # the stated tolerance is the same for both modes: smooth ends with the (tiny) leftover as a constant
        assert abs(out[cells == c].mean() - sm.ravel()[c]) < 1e-6, (mode, c)
    # partly valid cells conserve the mean of their valid pixels too
    for c in np.unique(cells[cells >= 0]):
        member = (cells == c) & np.isfinite(pred)
        if member.any() and np.isfinite(sm.ravel()[c]):
            assert abs(out[member].mean() - sm.ravel()[c]) < 1e-6
    assert summary.max_cell_deviation < 1e-6
    # pixels whose cell has no SMAP (nodata, or outside the coarse grid) are counted; outside the grid they keep
    # the raw prediction, in the nodata cell too in constant mode, while smooth continues its surface there
    hole = (cells == 3 * COARSE.width + 4) & np.isfinite(pred)
    outside = (cells < 0) & np.isfinite(pred)
    np.testing.assert_array_equal(out[outside], pred[outside])
    if mode == "constant":
        np.testing.assert_array_equal(out[hole], pred[hole])
    else:
        assert np.abs(out[hole] - pred[hole]).min() > 1e-4 and np.abs(out[hole] - pred[hole]).max() > 0.02
    assert summary.n_uncorrected == int(hole.sum() + outside.sum()) and hole.sum() > 0
    np.testing.assert_array_equal(np.isfinite(out), np.isfinite(pred))
    has = [c for c in np.unique(cells[cells >= 0]) if ((cells == c) & np.isfinite(pred)).any()
           and np.isfinite(sm.ravel()[c])]
    assert summary.n_cells_corrected == len(has)
    expected_resid = [sm.ravel()[c] - pred[(cells == c) & np.isfinite(pred)].mean() for c in has]
    assert summary.mean_abs_residual == pytest.approx(np.mean(np.abs(expected_resid)), abs=1e-12)


def test_constant_mode_shifts_each_cell_by_its_residual():
    pred = smooth_prediction(3)
    sm = coarse_sm(4)
    out, _ = correct_array(pred, FINE, COARSE, sm, "constant")
    cells = cells_of_pixels()
    for c in full_cells(pred, cells):
        if np.isfinite(sm.ravel()[c]):
            member = cells == c
            shift = out[member] - pred[member]
            np.testing.assert_allclose(shift, sm.ravel()[c] - pred[member].mean(), atol=1e-12)


def test_smooth_mode_converges_and_has_no_seams():
    pred = smooth_prediction()
    sm = coarse_sm()
    cells = cells_of_pixels()
    const, _ = correct_array(pred, FINE, COARSE, sm, "constant")
    smooth, summary = correct_array(pred, FINE, COARSE, sm, "smooth")
    # the knot iterations themselves reach the cell means; the constant leftover step is negligible
    assert summary.max_leftover < 1e-7 and 1 <= summary.iterations < 200
    c_across, c_inside = edge_jumps(const, cells)
    s_across, s_inside = edge_jumps(smooth, cells)
    raw_across, raw_inside = edge_jumps(pred, cells)
    assert raw_across == pytest.approx(raw_inside, rel=0.3)  # the raw field has no cell structure
    assert c_across > 5 * c_inside  # constant steps at every cell edge
    assert s_across < 1.5 * s_inside  # smooth: edges look like the inside of cells
    assert s_across < 0.3 * c_across
    # a constant field corrected against a constant SMAP stays constant in both modes
    flat = np.full((H, W), 0.2)
    for mode in ("constant", "smooth"):
        out, _ = correct_array(flat, FINE, COARSE, np.full((COARSE.height, COARSE.width), 0.25), mode)
        inside = cells_of_pixels() >= 0
        np.testing.assert_allclose(out[inside], 0.25, atol=1e-9)


def test_smooth_mode_with_smap_in_another_crs():
    wgs84 = srs_from_user("EPSG:4326").ExportToWkt()
    x0, y0, x1, y1 = FINE.extent_in(wgs84)
    coarse = Grid(wgs84, (x0 - 0.03, 0.1, 0.0, y1 + 0.02, 0.0, -0.1), int((x1 - x0) / 0.1) + 2,
                  int((y1 - y0) / 0.1) + 2)
    sm = np.random.default_rng(7).uniform(0.15, 0.35, (coarse.height, coarse.width))
    pred = smooth_prediction(5)
    out, summary = correct_array(pred, FINE, coarse, sm, "smooth")
    from smdownscale.algorithms.aggregate import CellIndex

    cells = CellIndex(FINE, coarse).rows(0, H)
    checked = 0
    for c in np.unique(cells[cells >= 0]):
        member = (cells == c) & np.isfinite(pred)
        if member.any():
            assert abs(out[member].mean() - sm.ravel()[c]) < 1e-6
            checked += 1
    assert checked == summary.n_cells_corrected > 4


def test_downscale_smooth_mode_end_to_end(tmp_path):
    model = save_ds_model(str(tmp_path / "m.smdmodel"))
    stack = write_ds_stack(tmp_path / "factors_20230601.tif", ds_fields(4))
    sm = np.random.default_rng(9).uniform(0.1, 0.4, (6, 8))
    coarse = Grid(UTM, (396500.0, 9000.0, 0.0, 4602500.0, 0.0, -9000.0), 8, 6)
    smap = str(tmp_path / "smap_20230601.tif")
    write_raster(smap, coarse, sm)
    outs = {}
    for mode in ("constant", "smooth", "atpk"):
        out = str(tmp_path / f"sm_{mode}_20230601.tif")
        res = downscale(model, stack, out, coarse_sm=smap, residual=mode, clip=(-5.0, 5.0), block_rows=7)
        assert res.residual == mode and res.max_cell_deviation < 1e-6
        md = gdal.Open(out).GetMetadata()
        assert md["residual_correction"] == mode and float(md["max_cell_deviation"]) < 1e-6
        outs[mode] = read_all(out)[0].astype(np.float64)
        if mode in ("smooth", "atpk"):
            assert res.smooth_iterations >= 1 and res.smooth_max_leftover < 1e-6
        else:
            assert res.smooth_iterations == 0 and math.isnan(res.smooth_max_leftover)
    a, b = outs["constant"], outs["smooth"]
    np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b))
    assert np.nanmax(np.abs(a - b)) > 1e-3  # the two modes spread the residual differently
    # the whole-array helper and the block-wise engine agree
    raw = str(tmp_path / "raw.tif")
    downscale(model, stack, raw, coarse_sm=smap, residual="none", clip=(-5.0, 5.0))  # gaps filled as above
    fine = Grid.from_path(stack)
    ref, _ = correct_array(read_all(raw)[0].astype(np.float64), fine, coarse, sm, "smooth")
    ok = np.isfinite(b)
    np.testing.assert_allclose(b[ok], ref[ok], atol=2e-6)
    # area-to-point kriging block by block (7 rows at a time) equals the whole-array result
    k = outs["atpk"]
    ref_k, _ = correct_array(read_all(raw)[0].astype(np.float64), fine, coarse, sm, "atpk")
    np.testing.assert_allclose(k[ok], ref_k[ok], atol=2e-6)
    assert np.nanmax(np.abs(k - b)) > 1e-4


def test_modes_and_errors():
    assert RESIDUAL_MODES == ("constant", "smooth", "none", "atpk")
    assert check_mode(" Smooth ") == "smooth" and check_mode(None) == "none" and check_mode("ATPK") == "atpk"
    with pytest.raises(InputError,
                       match="Unknown residual correction 'cubic'; use one of constant, smooth, none, atpk"):
        check_mode("cubic")
    with pytest.raises(InputError, match="shape"):
        correct_array(smooth_prediction(), FINE, COARSE, np.zeros((3, 3)), "smooth")
    out, summary = correct_array(smooth_prediction(), FINE, COARSE, coarse_sm(), "none")
    np.testing.assert_array_equal(out, smooth_prediction())
    assert summary.n_cells_corrected == 0


def cell_means(values: np.ndarray, area: bool, fine: Grid = FINE, coarse: Grid = COARSE) -> np.ndarray:
    """Mean of the valid values per coarse cell, by the center rule or by area shares (aggregate's definitions)."""
    acc = CoarseMean(AreaIndex(fine, coarse) if area else CellIndex(fine, coarse), 1)
    acc.add(0, values)
    return acc.mean()[0]


def smooth_smap(seed: int = 1) -> np.ndarray:
    """Coarse soil moisture with a spatial structure (residuals correlated over a few cells) and a nodata cell."""
    yy, xx = np.mgrid[0:COARSE.height, 0:COARSE.width].astype(np.float64)
    sm = 0.22 + 0.05 * np.sin(xx / 2.5 + 0.3) * np.cos(yy / 3.0) + 0.004 * np.random.default_rng(seed).normal(
        size=xx.shape)
    sm[3, 4] = np.nan
    return sm


@pytest.mark.parametrize("mode", ["constant", "smooth", "atpk"])
@pytest.mark.parametrize("area", [False, True])
def test_every_mode_conserves_the_cell_means_it_is_built_with(mode, area):
    pred = smooth_prediction()
    sm = smooth_smap()
    out, summary = correct_array(pred, FINE, COARSE, sm, mode, area=area)
    means = cell_means(out, area)
    raw = cell_means(pred, area)
    has = np.isfinite(sm) & np.isfinite(raw)
    assert has.sum() == summary.n_cells_corrected == COARSE.size - 1
    np.testing.assert_allclose(means[has], sm[has], atol=1e-9, rtol=0)
    assert summary.max_cell_deviation < 1e-6  # the corrector's own check (float32 values)
    # pixels whose center lies in the cell without SMAP keep their prediction in constant mode; smooth and atpk
    # continue their surface into it (no step at its edges: its pixels' correction is that of the neighbours')
    cells = cells_of_pixels()
    hole = cells == 3 * COARSE.width + 4
    if mode == "constant":
        np.testing.assert_array_equal(out[hole], pred[hole])
    else:
        ring = ndimage.binary_dilation(hole, np.ones((3, 3), bool)) & ~hole & np.isfinite(pred)
        corr_hole, corr_ring = (out - pred)[hole & np.isfinite(pred)], (out - pred)[ring]
        assert corr_ring.min() - 0.01 < corr_hole.min() and corr_hole.max() < corr_ring.max() + 0.01
        assert np.abs(corr_hole).max() > 1e-3
    if area:  # by the center rule the area-weighted result no longer conserves SMAP exactly at the edges
        assert np.nanmax(np.abs(cell_means(out, False) - sm)[has]) > 1e-5


def test_atpk_is_coherent_smooth_and_follows_the_residuals_variogram():
    pred = smooth_prediction()
    sm = smooth_smap()
    corr = ResidualCorrector(CellIndex(FINE, COARSE), sm, "atpk")
    for row0 in range(0, H, 10):  # block by block, as downscale feeds it
        corr.add(row0, pred[row0:row0 + 10])
    corr.solve()
    out = np.vstack([corr.apply(row0, pred[row0:row0 + 10]) for row0 in range(0, H, 10)])
    summary = corr.finish()
    assert summary.max_leftover < 1e-9 and summary.iterations < 200
    np.testing.assert_allclose(cell_means(out, False)[np.isfinite(sm)], sm[np.isfinite(sm)], atol=1e-9, rtol=0)
    sill, rng, nugget = corr.variogram
    assert rng > 1.0 and sill > 0  # residuals correlated over cells: a range of more than a cell
    assert corr.weights.shape == (64, 25)
    np.testing.assert_allclose(corr.weights.sum(axis=1), 1.0, atol=1e-9)
    cells = cells_of_pixels()
    across, inside = edge_jumps(out - pred, cells)
    across_c, inside_c = edge_jumps(correct_array(pred, FINE, COARSE, sm, "constant")[0] - pred, cells)
    assert across / max(inside, 1e-12) < 3.0 < across_c / max(inside_c, 1e-12)


def test_variogram_fit_and_kriging_weights():
    rng = np.random.default_rng(5)
    noise = rng.normal(size=(30, 30))
    sill, short, nugget = fit_residual_variogram(noise)
    assert short < 0.5 or sill < 0.2 * nugget  # no spatial structure: a range below a cell or a nugget
    yy, xx = np.mgrid[0:30, 0:30]
    field = np.sin(xx / 4.0) + np.cos(yy / 5.0)
    _, long_range, _ = fit_residual_variogram(field)
    assert long_range > 2.0
    w_short = atpk_weights(1.0, 0.2, 0.0)
    w_long = atpk_weights(1.0, 5.0, 0.0)
    np.testing.assert_allclose(w_short.sum(axis=1), 1.0, atol=1e-9)
    # a short range keeps each pixel on its own cell's residual; a long one spreads toward the neighbours
    assert w_short[27, 12] > 0.9 and w_short[:, 12].min() > 0.5
    corner, center = 0, 3 * 8 + 3  # the bin at the cell's top-left corner, a bin next to its center
    assert w_long[corner, 6] > w_long[corner, 18]  # the top-left neighbour outweighs the bottom-right one there
    assert w_long[center, 12] > w_long[corner, 12]
    assert fit_residual_variogram(np.full((2, 2), np.nan)) == (1.0, 1.0, 0.0)


# -- seams on a grid not aligned with the pixels, continuation into cells without SMAP, knots, blocks ----------

WGS84 = srs_from_user("EPSG:4326").ExportToWkt()
GEO_FINE = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), 120, 100)


def geo_coarse() -> Grid:
    """0.1 degree cells (about 8.4 x 11.1 pixels) over GEO_FINE, not aligned with it; the border cells are partial."""
    x0, y0, x1, y1 = GEO_FINE.extent_in(WGS84)
    return Grid(WGS84, (x0 - 0.037, 0.1, 0.0, y1 + 0.023, 0.0, -0.1), int((x1 - x0 + 0.037) / 0.1) + 1,
                int((y1 - y0 + 0.023) / 0.1) + 1)


def seam_ratio(values: np.ndarray, cells: np.ndarray) -> float:
    """Mean |step| between 4-neighbours across cell edges over that inside cells (as bench/gaps.py measures it)."""
    across, inside = edge_jumps(values, cells)
    return across / inside


def geo_scene(seed: int = 3) -> dict:
    """A known truth (a smooth field plus 1 km texture, no cell structure), a prediction that misses a smooth part
    of it, and SMAP = the truth's cell means plus retrieval error on :func:`geo_coarse`; cells less than half
    covered have no SMAP value (as partial cells of a real product), nor has one cell inside."""
    rng = np.random.default_rng(seed)
    coarse = geo_coarse()
    yy, xx = np.mgrid[0:GEO_FINE.height, 0:GEO_FINE.width].astype(np.float64)
    texture = ndimage.gaussian_filter(rng.normal(size=xx.shape), 1.0)
    truth = 0.22 + 0.06 * np.sin(xx / 17.0 + 1.0) * np.cos(yy / 23.0) + 0.02 * texture
    pred = 0.8 * truth + 0.03 + 0.0004 * (xx - yy)
    cells = CellIndex(GEO_FINE, coarse).rows(0, GEO_FINE.height)
    count = np.bincount(cells[cells >= 0], minlength=coarse.size).reshape(coarse.height, coarse.width)
    sm = cell_means(truth, False, GEO_FINE, coarse) + 0.005 * rng.normal(size=count.shape)
    sm[count < 0.5 * count.max()] = np.nan
    sm[3, 5] = np.nan
    return {"coarse": coarse, "truth": truth, "pred": pred, "sm": sm, "cells": cells}


def test_smooth_correction_has_the_seams_of_the_truth_on_a_geographic_grid():
    g = geo_scene()
    cells, truth, pred, sm = g["cells"], g["truth"], g["pred"], g["sm"]
    no_sm = ~np.isfinite(sm.ravel()[np.where(cells >= 0, cells, 0)]) & (cells >= 0)
    assert no_sm.sum() > 500  # partial border cells and the cell inside
    smooth, summary = correct_array(pred, GEO_FINE, g["coarse"], sm, "smooth")
    const, _ = correct_array(pred, GEO_FINE, g["coarse"], sm, "constant")
    truth_ratio = seam_ratio(truth, cells)
    assert truth_ratio == pytest.approx(1.0, abs=0.05)  # the truth knows nothing of the cells
    assert seam_ratio(const, cells) > 1.5 * truth_ratio
    # the smooth surface continues into the cells without SMAP: no step where the correction would stop
    assert abs(seam_ratio(smooth, cells) / truth_ratio - 1.0) < 0.04  # it was 1.75 / 0.996 while the correction
    # stopped at the edges of cells without SMAP
    assert summary.n_uncorrected == int(no_sm.sum())
    # and on the cells with SMAP alone it adds no seams either
    has = np.isfinite(sm.ravel())
    inner = np.where(cells >= 0, has[np.where(cells >= 0, cells, 0)], False)
    masked = np.where(inner, smooth, np.nan)
    assert abs(seam_ratio(masked, np.where(inner, cells, -1)) / seam_ratio(np.where(inner, truth, np.nan),
                                                                           np.where(inner, cells, -1)) - 1) < 0.05
    # the corrected map is closer to the truth than the prediction (ubRMSD)
    assert np.std(smooth - truth) < 0.6 * np.std(pred - truth)


def test_smooth_correction_fades_out_over_a_region_without_smap():
    pred = smooth_prediction()
    sm = smooth_smap()
    sm[:, 5:] = np.nan  # SMAP only on the five western cell columns
    cells = cells_of_pixels()
    out, summary = correct_array(pred, FINE, COARSE, sm, "smooth")
    corr = out - pred
    col = np.where(cells >= 0, cells % COARSE.width, -1)
    # the cells with SMAP conserve it exactly
    means = cell_means(out, False)
    np.testing.assert_allclose(means[:, :5][np.isfinite(sm[:, :5])], sm[:, :5][np.isfinite(sm[:, :5])], atol=1e-9,
                               rtol=0)
    # the first column without SMAP continues the surface, the second takes it down to none at its far centre, and
    # from the third on (pixels between two knots of zero) the prediction is left as it is
    assert np.nanmax(np.abs(corr[col == 5])) > 0.01
    np.testing.assert_array_equal(out[col >= 7], pred[col >= 7])
    assert summary.n_uncorrected == int((np.isfinite(pred) & ((col >= 5) | (cells == 3 * COARSE.width + 4))).sum())
    # no step anywhere: the largest step of the correction across the first cell edge without SMAP is no larger
    # than its steps inside cells
    d = np.abs(np.diff(corr, axis=1))
    edge = (col[:, :-1] == 4) & (col[:, 1:] == 5)
    inside = col[:, :-1] == col[:, 1:]
    assert np.nanmax(d[edge]) < np.nanmax(d[inside]) and np.nanmean(d[edge]) < 2 * np.nanmean(d[inside])


ALIGNED_FINE = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), 135, 135)
ALIGNED_COARSE = Grid(UTM, (400000.0, 9000.0, 0.0, 4600000.0, 0.0, -9000.0), 15, 15)  # 9 x 9 pixels per cell


@pytest.mark.parametrize("grid", ["aligned", "geographic"])
def test_smooth_correction_conserves_smap_to_1e8(grid):
    if grid == "aligned":
        fine, coarse = ALIGNED_FINE, ALIGNED_COARSE
        rng = np.random.default_rng(2)
        pred = 0.2 + 0.05 * ndimage.gaussian_filter(rng.normal(size=(fine.height, fine.width)), 3.0)
        sm = rng.uniform(0.1, 0.35, (coarse.height, coarse.width))
        sm[0, :] = np.nan
        sm[7, 7] = np.nan
    else:
        fine, g = GEO_FINE, geo_scene(5)
        coarse, pred, sm = g["coarse"], g["pred"], g["sm"]
    pred = pred.copy()
    pred[40:44, 50:60] = np.nan
    out, summary = correct_array(pred, fine, coarse, sm, "smooth")
    means = cell_means(out, False, fine, coarse)
    has = np.isfinite(sm) & np.isfinite(cell_means(pred, False, fine, coarse))
    assert has.sum() == summary.n_cells_corrected > 20
    assert np.abs(means[has] - sm[has]).max() < 1e-8
    assert summary.max_leftover < 1e-8 and summary.iterations < 200


def test_knots_follow_smooth_residuals_and_bound_cell_noise():
    fine, coarse = ALIGNED_FINE, ALIGNED_COARSE
    yy, xx = np.mgrid[0:fine.height, 0:fine.width].astype(np.float64)
    pred = np.full(xx.shape, 0.2)
    # residuals of a plane: the knots are the plane at the cell centres (a bilinear surface reproduces it), no
    # oscillation; the edge extension at the grid's border disturbs the outer knots, less by a factor of about 6
    # with every cell inward
    plane = 0.1 + 0.002 * xx - 0.001 * yy
    sm = cell_means(pred + plane, False, fine, coarse)
    corr = ResidualCorrector(CellIndex(fine, coarse), sm, "smooth")
    corr.add(0, pred)
    corr.solve()
    centres = 0.1 + 0.002 * (9 * np.arange(15) + 4)[None, :] - 0.001 * (9 * np.arange(15) + 4)[:, None]
    dev = [np.abs(corr.knots - centres)[k:15 - k, k:15 - k].max() for k in range(5)]
    assert dev[3] < 5e-5 and all(dev[k + 1] < dev[k] / 4 for k in range(4))
    inner = corr.knots[3:-3, 3:-3]  # second differences: 0 for the plane (its step is 0.018 per cell)
    assert np.abs(np.diff(inner, 2, axis=0)).max() < 2e-5 and np.abs(np.diff(inner, 2, axis=1)).max() < 2e-5
    # a checkerboard of cell noise (the one pattern the cell-mean operator damps most): the knots amplify it by the
    # operator's inverse eigenvalue, (81 / 41)**2 = 3.90 for 9 x 9 pixels per cell, and no more
    board = 0.01 * (-1.0) ** np.add.outer(np.arange(15), np.arange(15))
    corr = ResidualCorrector(CellIndex(fine, coarse), 0.2 + board, "smooth")
    corr.add(0, pred)
    corr.solve()
    gain = corr.knots[3:-3, 3:-3] / board[3:-3, 3:-3]
    np.testing.assert_allclose(gain, (81 / 41) ** 2, rtol=0.02)
    assert np.abs(corr.knots).max() < 4.5 * 0.01


@pytest.mark.parametrize("mode", ["smooth", "atpk"])
def test_blocks_of_any_size_give_the_same_correction(mode):
    g = geo_scene(4)
    pred = g["pred"].copy()
    pred[30:33, :] = np.nan
    results = []
    for rows in (1, 7, 16, GEO_FINE.height):
        corr = ResidualCorrector(CellIndex(GEO_FINE, g["coarse"]), g["sm"], mode)
        for row0 in range(0, GEO_FINE.height, rows):
            corr.add(row0, pred[row0:row0 + rows])
        corr.solve()
        out = np.vstack([corr.apply(row0, pred[row0:row0 + rows]) for row0 in range(0, GEO_FINE.height, rows)])
        results.append((out, corr.finish()))
    ref, ref_summary = results[-1]
    assert ref_summary.max_cell_deviation < 1e-6 and ref_summary.n_uncorrected > 500
    for out, summary in results[:-1]:
        np.testing.assert_allclose(out, ref, atol=1e-10, rtol=0)  # sums in another order
        assert (summary.n_uncorrected, summary.n_cells_corrected, summary.iterations) == (
            ref_summary.n_uncorrected, ref_summary.n_cells_corrected, ref_summary.iterations)


@pytest.mark.parametrize("mode", ["smooth", "atpk"])
@pytest.mark.parametrize("area", [False, True])
def test_continuation_into_a_region_without_smap_reaches_as_documented(mode, area):
    # SMAP on the five western cell columns only, noisy residuals (their knots are the largest the surface carries)
    fine, coarse = ALIGNED_FINE, ALIGNED_COARSE
    rng = np.random.default_rng(1)
    pred = np.full((fine.height, fine.width), 0.2)
    sm = 0.25 + 0.02 * rng.normal(size=(coarse.height, coarse.width))
    sm[:, 5:] = np.nan
    out, summary = correct_array(pred, fine, coarse, sm, mode, area=area)
    corr = np.abs(out - pred)
    # cell columns without SMAP counted from the edge (1 = the first), 9 pixels each
    depth = np.arange(fine.width) // 9 - 4
    # smooth: the whole first cell and the half of the second facing it (the surface is 0 from that cell's centre
    # on); atpk: four cells; one more each with area shares (module docstring)
    last = {"smooth": 2, "atpk": 4}[mode] + area
    assert corr[:, depth == last].max() > 1e-4 and corr[:, depth == 1].max() > 0.01
    if mode == "smooth":
        half = (depth == last) & (np.arange(fine.width) % 9 >= 4)
        np.testing.assert_array_equal(out[:, half], pred[:, half])
    np.testing.assert_array_equal(out[:, depth > last], pred[:, depth > last])
    assert summary.n_uncorrected == int((depth >= 1).sum()) * fine.height


def test_knots_of_cells_without_smap_continue_the_residuals_damped_by_their_correlation():
    fine, coarse = ALIGNED_FINE, ALIGNED_COARSE
    pred = np.full((fine.height, fine.width), 0.2)
    rows = np.arange(coarse.height)[:, None]
    # smooth residuals (0.05 plus a gentle north-south slope) on the five western cell columns
    sm = 0.25 + 0.001 * rows + np.zeros((coarse.height, coarse.width))
    sm[:, 5:] = np.nan
    corr = ResidualCorrector(CellIndex(fine, coarse), sm, "smooth")
    corr.add(0, pred)
    corr.solve()
    resid = corr.resid
    # the correlation about 0 of neighbouring residuals: sum of products / half the sum of squares
    h = resid[:, :5]
    num = (h[:, :-1] * h[:, 1:]).sum() + (h[:-1] * h[1:]).sum()
    den = 0.5 * ((h[:, :-1] ** 2).sum() + (h[:, 1:] ** 2).sum() + (h[:-1] ** 2).sum() + (h[1:] ** 2).sum())
    rho = num / den
    assert corr.continuation == pytest.approx(rho, rel=1e-12) and 0.99 < rho < 1.0
    # first column without SMAP (reach 1 in smooth mode, one more with area shares): rho x the mean of the
    # neighbouring residuals in the last column with SMAP (3 of them inside, 2 at the grid's border)
    first = np.array([resid[max(r - 1, 0):r + 2, 4].mean() for r in range(coarse.height)])
    np.testing.assert_allclose(corr.knots[:, 5], rho * first, rtol=1e-12)
    assert (corr.knots[:, 5] <= rho * resid[:, 4].max() + 1e-15).all()
    assert (corr.knots[:, 5] >= rho * resid[:, 4].min() - 1e-15).all()
    if corr.area is not None:  # reach 2: the second column takes rho x the mean of the first one's
        second = np.array([corr.knots[max(r - 1, 0):r + 2, 5].mean() for r in range(coarse.height)])
        np.testing.assert_allclose(corr.knots[:, 6], rho * second, rtol=1e-12)
        assert (corr.knots[:, 7:] == 0).all()
    else:
        assert (corr.knots[:, 6:] == 0).all()


def test_a_checkerboard_of_residuals_is_not_continued_into_cells_without_smap():
    # cell noise alternating in sign: the knots carry it amplified about 4x, but neighbouring residuals are
    # anti-correlated (rho clipped to 0), so the cells without SMAP take knots of 0 instead of a copied 0.039
    fine, coarse = ALIGNED_FINE, ALIGNED_COARSE
    pred = np.full((fine.height, fine.width), 0.2)
    board = 0.01 * (-1.0) ** np.add.outer(np.arange(15), np.arange(15))
    sm = 0.2 + board
    sm[:, 5:] = np.nan
    sm[10, 2] = np.nan  # and one cell inside
    corr = ResidualCorrector(CellIndex(fine, coarse), sm, "smooth")
    corr.add(0, pred)
    corr.solve()
    assert corr.continuation == 0.0
    assert (corr.knots[:, 5:] == 0).all() and corr.knots[10, 2] == 0
    assert np.abs(corr.knots[:, 2:4]).max() > 3 * 0.01  # the solved knots next to them carry the amplified noise
    out = corr.apply(0, pred)
    # conservation stays exact in the cells with SMAP, and the correction of the pixels without SMAP falls from the
    # neighbouring knots to 0 at their cell's centre: at most half the last solved knot from the cell edge on
    has = np.isfinite(sm)
    np.testing.assert_allclose(cell_means(out, False, fine, coarse)[has], sm[has], atol=1e-9, rtol=0)
    assert np.abs(out - pred)[:, 5 * 9:].max() <= 0.5 * np.abs(corr.knots[:, 4]).max() + 1e-12
    # a constant residual is fully correlated: continued at full strength one cell deep
    flat = np.full((coarse.height, coarse.width), 0.23)
    flat[:, 5:] = np.nan
    corr = ResidualCorrector(CellIndex(fine, coarse), flat, "smooth")
    corr.add(0, pred)
    corr.solve()
    assert corr.continuation == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(corr.knots[:, 5], 0.03, rtol=1e-9)
