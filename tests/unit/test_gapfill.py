"""Gap-free prediction: filled pixels where a factor is missing, the coarse field where none is, quality codes."""

from __future__ import annotations

import os

import numpy as np
import pytest
from osgeo import gdal
from sklearn.tree import DecisionTreeRegressor

from smdownscale.algorithms import model_io
from smdownscale.algorithms.aggregate import CellIndex
from smdownscale.algorithms.downscale import downscale
from smdownscale.algorithms.errors import Canceled, InputError
from smdownscale.algorithms.features import CATEGORICAL, FactorSpec
from smdownscale.algorithms.gapfill import (
    ALL_FACTORS,
    COARSE_ONLY,
    CONTEXT_HALO,
    FILLED,
    FROM_OTHER_DATE,
    LEARN_STRIDE,
    QUALITY_CLASSES,
    SAMPLE_PIXELS,
    GapFiller,
    local_means,
    sample_stride,
)
from smdownscale.algorithms.raster import Grid, read_all, srs_from_user, write_raster

UTM = srs_from_user("EPSG:32650").ExportToWkt()
# 4 x 3 coarse cells of 9 x 9 fine pixels, aligned: cell (r, c) holds fine rows 9r..9r+8, cols 9c..9c+8
W, H = 36, 27
FINE = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), W, H)
COARSE = Grid(UTM, (400000.0, 9000.0, 0.0, 4600000.0, 0.0, -9000.0), 4, 3)
FEATURES = ["ndvi", "lst", "landcover=10", "landcover=20"]
FACTORS = [{"name": "ndvi", "kind": "continuous", "classes": []},
           {"name": "lst", "kind": "continuous", "classes": []},
           {"name": "landcover", "kind": "categorical", "classes": [10, 20]}]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.uniform(0.1, 0.8, 3000), rng.uniform(280, 310, 3000), rng.uniform(0, 1, 3000)])
    x = np.column_stack([x, 1.0 - x[:, 2]])
    y = 0.05 + 0.3 * x[:, 0] + 0.002 * (x[:, 1] - 280.0) + 0.05 * x[:, 3]
    est = DecisionTreeRegressor(random_state=0).fit(x, y)
    path = str(tmp_path_factory.mktemp("model") / "sm.smdmodel")
    model_io.save_model(path, est, {"features": FEATURES, "factors": FACTORS, "model_type": "cart",
                                    "units": "m3/m3"})
    return path, est


def _scene(tmp_path):
    rng = np.random.default_rng(3)
    ndvi = rng.uniform(0.1, 0.8, (H, W))
    lst = rng.uniform(280, 310, (H, W))
    lc = rng.choice([10.0, 20.0], (H, W))
    lst[2:5, 2:5] = np.nan          # a cloud in cell (0, 0): LST missing, filled from the cell's mean
    lst[:, 27:36] = np.nan          # no LST in column 3 of cells: each such cell takes its left neighbour's mean
    ndvi[20, 20] = lst[20, 20] = lc[20, 20] = np.nan  # no factor, cell (2, 2) has SMAP: coarse only
    ndvi[1, 30] = lst[1, 30] = lc[1, 30] = np.nan     # no factor, cell (0, 3) has no SMAP: stays nodata
    stack = str(tmp_path / "factors_20230601.tif")
    write_raster(stack, FINE, np.stack([ndvi, lst, lc]), names=["ndvi", "lst", "landcover"],
                 kinds=["continuous", "continuous", "categorical"])
    sm = np.array([[0.20, 0.25, 0.30, np.nan], [0.22, 0.27, 0.31, 0.18], [0.24, 0.26, 0.28, 0.21]])
    smap = str(tmp_path / "smap_20230601.tif")
    write_raster(smap, COARSE, sm)
    return stack, smap, {"ndvi": ndvi, "lst": lst, "lc": lc, "sm": sm}


def _cell(r, c):
    return slice(9 * r, 9 * r + 9), slice(9 * c, 9 * c + 9)


def _cell_means(values):
    """(3, 4) means of the observed (float32) values of each cell."""
    v = values.astype(np.float32).astype(np.float64)
    return np.array([[np.nanmean(v[_cell(r, c)]) if np.isfinite(v[_cell(r, c)]).any() else np.nan
                      for c in range(4)] for r in range(3)])


def _bilinear(m, i, j):
    """Bilinear interpolation of cell values ``m`` (knots at the cell centers, clamped at the border) at the
    center of fine pixel (i, j)."""
    v = min(max((i + 0.5) / 9 - 0.5, 0.0), m.shape[0] - 1.0)
    u = min(max((j + 0.5) / 9 - 0.5, 0.0), m.shape[1] - 1.0)
    r0, c0 = int(v), int(u)
    r1, c1 = min(r0 + 1, m.shape[0] - 1), min(c0 + 1, m.shape[1] - 1)
    ty, tx = v - r0, u - c0
    return ((1 - ty) * ((1 - tx) * m[r0, c0] + tx * m[r0, c1]) + ty * ((1 - tx) * m[r1, c0] + tx * m[r1, c1]))


def _window_mean(v, r, c):
    """Mean of the finite values of ``v`` in the 3 x 3 window around (r, c), clipped at the raster's edges."""
    w = v[max(0, r - 1):r + 2, max(0, c - 1):c + 2]
    return float(np.nanmean(w))


def _conditional_lst(f, means, fill_at, i, j):
    """The LST the gap filler gives pixel (i, j): its filled cell mean ``fill_at(means['lst'], i, j)`` plus the
    conditional mean of the deviation given the pixel's NDVI and land-cover deviations and its context (the mean NDVI
    of its 3 x 3 window minus the NDVI fill), from the moments of the deviations over the fully observed pixels of
    the pixel's land-cover class on every 4th row (:data:`LEARN_STRIDE`; ridge 1e-6 of the mean variance)."""
    assert LEARN_STRIDE == 4 and CONTEXT_HALO == 1
    ndvi, lst, lc = (f[k].astype(np.float32).astype(np.float64) for k in ("ndvi", "lst", "lc"))

    def dev(r, c):
        b = [ndvi[r, c], lst[r, c], float(lc[r, c] == 10), float(lc[r, c] == 20), _window_mean(ndvi, r, c)]
        return np.array([b[k] - fill_at(means[n], r, c)
                         for k, n in enumerate(("ndvi", "lst", "lc10", "lc20", "ndvi"))])

    full = np.isfinite(ndvi) & np.isfinite(lst) & np.isfinite(lc)
    full[np.arange(H) % 4 != 0] = False  # learnt on every 4th row
    same_class = full & (lc == lc[i, j])
    assert same_class.sum() >= 20 * 4  # enough pixels per band (4 bands) for the class's own moments
    d = np.array([dev(r, c) for r, c in zip(*np.nonzero(same_class))]).T
    mu = d.mean(axis=1)
    cov = d @ d.T / d.shape[1] - np.outer(mu, mu)
    obs = [0, 2, 3, 4]
    c_oo = cov[np.ix_(obs, obs)]
    beta = np.linalg.solve(c_oo + 1e-6 * np.trace(c_oo) / 4 * np.eye(4), cov[obs, 1])
    return fill_at(means["lst"], i, j) + mu[1] + beta @ (dev(i, j)[obs] - mu[obs])


def test_quality_codes_and_filled_values_exact(tmp_path, model):
    path, est = model
    stack, smap, f = _scene(tmp_path)
    out, qual = str(tmp_path / "sm.tif"), str(tmp_path / "quality.tif")
    res = downscale(path, stack, out, coarse_sm=smap, residual="none", quality=qual, n_jobs=1)
    got = read_all(out)[0]
    q = gdal.Open(qual).ReadAsArray()
    # every pixel's code, constructed independently
    exp_q = np.full((H, W), ALL_FACTORS, dtype=np.uint8)
    exp_q[2:5, 2:5] = FILLED
    exp_q[:, 27:36] = FILLED
    exp_q[20, 20] = COARSE_ONLY
    exp_q[1, 30] = 0
    np.testing.assert_array_equal(q, exp_q)
    assert np.isnan(got[1, 30]) and np.isfinite(got[q > 0]).all()
    assert (res.n_all_factors, res.n_filled, res.n_coarse_only) == (H * W - 9 - 243 - 1, 9 + 242, 1)
    assert res.filled_factors == {"ndvi": 1, "lst": 252, "landcover": 1}
    # LST cell means over the observed pixels; column 3 (none observed) takes column 2's
    lst = _cell_means(f["lst"])
    assert np.isnan(lst[:, 3]).all()
    lst[:, 3] = lst[:, 2]
    lc = f["lc"].astype(np.float64)
    means = {"ndvi": _cell_means(f["ndvi"]), "lst": lst,
             "lc10": _cell_means(np.where(np.isfinite(lc), lc == 10, np.nan)),
             "lc20": _cell_means(np.where(np.isfinite(lc), lc == 20, np.nan))}
    # filled pixels: the model on the observed factors plus LST's conditional mean given them: the LST cell means
    # interpolated bilinearly between the cell centers (cell (0, 0) is a corner cell: its pixels near the border
    # take its own mean) plus the deviation the pixel's NDVI and land cover predict
    for i, j in [(2, 2), (4, 3), (4, 4), (12, 30), (25, 35), (5, 27)]:
        if (i, j) in [(2, 2), (4, 3), (4, 4)]:
            assert _bilinear(lst, i, j) == pytest.approx(lst[0, 0], abs=1e-9)
        fill = _conditional_lst(f, means, _bilinear, i, j)
        assert fill != pytest.approx(_bilinear(lst, i, j), abs=1e-3)  # the deviation is not nothing
        x = np.array([[f["ndvi"][i, j], fill, f["lc"][i, j] == 10, f["lc"][i, j] == 20]], dtype=np.float32)
        assert got[i, j] == pytest.approx(float(est.predict(x)[0]), abs=1e-6), (i, j)
    # with fill_method='cell' each pixel takes its own cell's mean (plus the deviation)
    out_cell = str(tmp_path / "sm_cell.tif")
    downscale(path, stack, out_cell, coarse_sm=smap, residual="none", fill_method="cell", n_jobs=1)
    got_cell = read_all(out_cell)[0]
    for i, j in [(12, 30), (5, 27)]:
        fill = _conditional_lst(f, means, lambda m, r, c: m[r // 9, c // 9], i, j)
        x = np.array([[f["ndvi"][i, j], fill, f["lc"][i, j] == 10, f["lc"][i, j] == 20]], dtype=np.float32)
        assert got_cell[i, j] == pytest.approx(float(est.predict(x)[0]), abs=1e-6)
    # coarse only: every factor from the interpolated cell means, land cover as class fractions
    x = np.array([[_bilinear(_cell_means(f["ndvi"]), 20, 20), _bilinear(lst, 20, 20),
                   _bilinear(_cell_means(np.where(np.isfinite(lc), lc == 10, np.nan)), 20, 20),
                   _bilinear(_cell_means(np.where(np.isfinite(lc), lc == 20, np.nan)), 20, 20)]], dtype=np.float32)
    assert got[20, 20] == pytest.approx(float(est.predict(x)[0]), abs=1e-6)
    # the quality raster: Byte, nodata 0, the class names in the band, the counts in the output's metadata
    ds = gdal.Open(qual)
    band = ds.GetRasterBand(1)
    assert band.DataType == gdal.GDT_Byte and band.GetNoDataValue() == 0 and band.GetDescription() == "quality"
    assert band.GetCategoryNames()[1:4] == [QUALITY_CLASSES[1], QUALITY_CLASSES[2], QUALITY_CLASSES[3]]
    md = gdal.Open(out).GetMetadata()
    assert (md["pixels_filled"], md["pixels_coarse_only"]) == ("251", "1")
    assert md["gap_filling"] == "coarse-cell means of missing factors (bilinear)"


@pytest.mark.parametrize("method", ["bilinear", "cell"])
def test_missing_lst_from_its_relation_to_observed_factors(method):
    """Where LST deviates from its cell mean as NDVI and land cover say (here exactly: LST = 310 - 20 NDVI + 5 on
    class 20), a pixel missing LST gets its true value back (up to the bias of the cell mean), not the cell mean."""
    rng = np.random.default_rng(5)
    ndvi = rng.uniform(0.1, 0.8, (H, W))
    lc = rng.choice([10.0, 20.0], (H, W))
    truth = 310.0 - 20.0 * ndvi + 5.0 * (lc == 20)
    lst = truth.copy()
    lst[2:7, 3:8] = np.nan                      # a cloud over LST
    lst[12:16, 20:30] = ndvi[12:16, 20:30] = np.nan  # a cloud over LST and NDVI: land cover alone says +5
    block = np.stack([ndvi, lst, lc]).astype(np.float32)
    valid = np.all(np.isfinite(block), axis=0)
    specs = [FactorSpec.from_dict(d) for d in FACTORS]
    filler = GapFiller(CellIndex(FINE, COARSE), specs, np.ones((3, 4), bool), method)
    filler.observe(0, block, valid)
    filler.solve()
    x_plain, sel, _ = filler.design(0, block, valid)  # nothing learned yet: the cell means
    filler.learn(0, block, valid)
    x, sel2, codes = filler.design(0, block, valid)
    np.testing.assert_array_equal(sel, sel2)
    np.testing.assert_array_equal(sel, ~valid)
    assert (codes == FILLED).all()
    err, err_plain = np.abs(x[:, 1] - truth[sel]), np.abs(x_plain[:, 1] - truth[sel])
    lst_only = np.isfinite(ndvi[sel])
    # left: the bias of the cell means themselves (LST's mean over the cell's clear pixels is not its mean over
    # all of them, ~0.1 K here), against kelvins from the cell means alone
    assert err[lst_only].max() < 0.2, err[lst_only].max()
    assert err_plain[lst_only].mean() > 20 * err[lst_only].mean() and err_plain[lst_only].mean() > 3.0
    # without NDVI only the land-cover part is known: LST's deviation there is 5 (class 20 share deviation) plus
    # NDVI's unknown part, whose conditional mean given land cover is its mean deviation in the class
    both = ~lst_only
    assert err[both].mean() < 0.9 * err_plain[both].mean(), (err[both].mean(), err_plain[both].mean())
    np.testing.assert_array_equal(x[lst_only, 0], ndvi[sel][lst_only].astype(np.float32))  # observed: as is
    np.testing.assert_array_equal(x[:, 2:], x_plain[:, 2:])  # land cover observed everywhere: as is


def test_many_factors_two_missing_patterns():
    """63 factors (missing-factor patterns over several bytes), two patterns: each filled from what is known."""
    rng = np.random.default_rng(8)
    h, w = 90, 90  # 10 x 10 cells
    fine = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), w, h)
    coarse = Grid(UTM, (400000.0, 9000.0, 0.0, 4600000.0, 0.0, -9000.0), 10, 10)
    ndvi = rng.uniform(0.1, 0.8, (h, w))
    truth = 310.0 - 20.0 * ndvi
    lst = truth.copy()
    lst[20:40, 30:60] = np.nan
    extra = rng.uniform(0.0, 1.0, (61, h, w))
    extra[5, 50:60, 0:20] = np.nan  # a second pattern: one of the extra factors missing as well
    block = np.concatenate([np.stack([ndvi, lst]), extra]).astype(np.float32)
    valid = np.all(np.isfinite(block), axis=0)
    specs = [FactorSpec.from_dict({"name": f"f{k}", "kind": "continuous", "classes": []}) for k in range(63)]
    filler = GapFiller(CellIndex(fine, coarse), specs, np.ones((10, 10), bool))
    filler.observe(0, block, valid)
    filler.solve()
    filler.learn(0, block, valid)
    x, sel, _ = filler.design(0, block, valid)
    assert sel.sum() == 20 * 30 + 10 * 20
    miss_lst = ~np.isfinite(lst[sel])
    err = np.abs(x[miss_lst, 1] - truth[sel][miss_lst])
    # NDVI known: LST back up to the cell means' bias (cells under the cloud borrow a neighbour's mean), against
    # kelvins from the cell means alone (NDVI's spread x 20)
    assert np.median(err) < 0.3 and err.mean() < 0.5, (np.median(err), err.mean())


def test_filled_pixels_are_residual_corrected_and_conserve_cell_means(tmp_path, model):
    path, _ = model
    stack, smap, f = _scene(tmp_path)
    for mode in ("constant", "smooth"):
        out = str(tmp_path / f"sm_{mode}.tif")
        res = downscale(path, stack, out, coarse_sm=smap, residual=mode, clip=(-5.0, 5.0), n_jobs=1)
        got = read_all(out)[0].astype(np.float64)
        for r in range(3):
            for c in range(4):
                v = got[_cell(r, c)]
                if np.isfinite(f["sm"][r, c]):
                    assert np.isfinite(v).all()  # no hole in a cell with a SMAP value
                    assert v.mean() == pytest.approx(f["sm"][r, c], abs=1e-6)  # filled pixels included
        assert res.n_cells_corrected == 11 and res.n_filled == 251 and res.n_coarse_only == 1


def test_pixels_under_a_mask_band_are_filled_like_nodata(tmp_path, model):
    """A stack without a nodata value whose missing pixels are marked by a GDAL mask (a lake masked by rasterio or
    ``gdal_translate -mask``, 0 in every band underneath): those pixels are missing factors, mapped from the coarse
    field and coded COARSE_ONLY exactly as the same pixels stored as nodata, not predicted from NDVI 0 and LST 0."""
    path, _ = model
    stack, smap, f = _scene(tmp_path)
    lake = np.zeros((H, W), bool)
    lake[11:16, 3:7] = True  # in cell (1, 0), which has SMAP
    values = np.stack([f["ndvi"], f["lst"], f["lc"]])
    plain = str(tmp_path / "nodata" / "factors_20230601.tif")
    os.makedirs(os.path.dirname(plain))
    write_raster(plain, FINE, np.where(lake, np.nan, values), names=["ndvi", "lst", "landcover"],
                 kinds=["continuous", "continuous", "categorical"])
    masked = str(tmp_path / "mask" / "factors_20230601.tif")
    os.makedirs(os.path.dirname(masked))
    ds = gdal.GetDriverByName("GTiff").Create(masked, W, H, 3, gdal.GDT_Float32)
    ds.SetGeoTransform(FINE.transform)
    ds.SetProjection(FINE.crs_wkt)
    ds.CreateMaskBand(gdal.GMF_PER_DATASET)
    for b, (name, v) in enumerate(zip(["ndvi", "lst", "landcover"], values)):
        band = ds.GetRasterBand(b + 1)
        band.SetDescription(name)
        if name == "landcover":
            band.SetMetadataItem("SMD_KIND", "categorical")
        band.WriteArray(np.where(lake, 0.0, v))  # the scene's other gaps stay NaN
    ds.GetRasterBand(1).GetMaskBand().WriteArray(np.where(lake, 0, 255).astype(np.uint8))
    ds = None
    got = {}
    for label, st in (("nodata", plain), ("mask", masked)):
        out, qual = str(tmp_path / label / "sm.tif"), str(tmp_path / label / "q.tif")
        res = downscale(path, st, out, coarse_sm=smap, quality=qual, n_jobs=1)
        got[label] = (read_all(out)[0], gdal.Open(qual).ReadAsArray(), res.n_coarse_only)
    assert (got["mask"][1][lake] == COARSE_ONLY).all(), np.unique(got["mask"][1][lake], return_counts=True)
    np.testing.assert_array_equal(got["mask"][1], got["nodata"][1])
    np.testing.assert_array_equal(got["mask"][0], got["nodata"][0])
    assert got["mask"][2] == int(lake.sum()) + 1  # the lake and the scene's own pixel without any factor


def test_fill_gaps_off_keeps_holes(tmp_path, model):
    path, _ = model
    stack, smap, f = _scene(tmp_path)
    out, qual = str(tmp_path / "sm.tif"), str(tmp_path / "q.tif")
    res = downscale(path, stack, out, coarse_sm=smap, fill_gaps=False, quality=qual, n_jobs=1)
    got = read_all(out)[0]
    holes = ~(np.isfinite(f["ndvi"]) & np.isfinite(f["lst"]) & np.isfinite(f["lc"]))
    np.testing.assert_array_equal(np.isnan(got), holes)
    np.testing.assert_array_equal(gdal.Open(qual).ReadAsArray(), np.where(holes, 0, ALL_FACTORS))
    assert res.n_filled == 0 and res.n_coarse_only == 0 and gdal.Open(out).GetMetadata()["gap_filling"] == "off"


def test_without_smap_quality_marks_predicted_pixels(tmp_path, model):
    path, _ = model
    stack, _, f = _scene(tmp_path)
    qual = str(tmp_path / "q.tif")
    res = downscale(path, stack, str(tmp_path / "sm.tif"), residual="none", quality=qual, n_jobs=1)
    holes = ~(np.isfinite(f["ndvi"]) & np.isfinite(f["lst"]) & np.isfinite(f["lc"]))
    np.testing.assert_array_equal(gdal.Open(qual).ReadAsArray(), np.where(holes, 0, ALL_FACTORS))
    assert res.n_all_factors == int((~holes).sum()) and res.quality == qual


@pytest.mark.parametrize("block_rows", [1, 2, 5])
def test_the_fill_and_its_progress_do_not_depend_on_the_block_rows(tmp_path, model, block_rows):
    """Each block of the filling pass reads its context's rows around it: the map is the same whatever the block
    size, and the progress only moves forward, up to 1 (it went up to 3.5 with one-row blocks, counted in the rows
    read rather than in the blocks to fill)."""
    path, _ = model
    stack, smap, _ = _scene(tmp_path)
    whole = downscale(path, stack, str(tmp_path / "whole.tif"), coarse_sm=smap, n_jobs=1)
    steps: list[float] = []
    res = downscale(path, stack, str(tmp_path / "sm.tif"), coarse_sm=smap, block_rows=block_rows, n_jobs=1,
                    progress=steps.append)
    assert res.n_filled == whole.n_filled > 0
    np.testing.assert_array_equal(read_all(str(tmp_path / "sm.tif")), read_all(str(tmp_path / "whole.tif")))
    assert max(steps) == 1.0 and min(steps) >= 0.0
    assert all(a <= b for a, b in zip(steps, steps[1:])), [round(v, 3) for v in steps]


@pytest.mark.parametrize("after", [0, 2, 4, 7])
def test_cancel_leaves_no_partial_quality_file(tmp_path, model, after):
    path, _ = model
    stack, smap, _ = _scene(tmp_path)
    calls = []

    def is_canceled():
        calls.append(1)
        return len(calls) > after

    with pytest.raises(Canceled):
        downscale(path, stack, str(tmp_path / "sm.tif"), coarse_sm=smap, quality=str(tmp_path / "q.tif"),
                  block_rows=5, is_canceled=is_canceled, n_jobs=1)
    assert sorted(os.listdir(tmp_path)) == ["factors_20230601.tif", "smap_20230601.tif"]


@pytest.mark.bad_input("downscale: quality raster written over an input")
def test_quality_may_not_overwrite_an_input(tmp_path, model):
    path, _ = model
    stack, smap, _ = _scene(tmp_path)
    with pytest.raises(InputError, match="The output quality raster .*smap_20230601.tif.* is the same file as the "
                                         "input soil moisture raster"):
        downscale(path, stack, str(tmp_path / "sm.tif"), coarse_sm=smap, quality=smap, n_jobs=1)
    assert sorted(os.listdir(tmp_path)) == ["factors_20230601.tif", "smap_20230601.tif"]


@pytest.mark.bad_input("downscale: quality raster on the soil moisture output's file")
def test_quality_and_output_on_one_file_are_refused(tmp_path, model):
    path, _ = model
    stack, smap, _ = _scene(tmp_path)
    out = str(tmp_path / "sm.tif")
    with pytest.raises(InputError, match="The outputs raster and quality raster are the same file"):
        downscale(path, stack, out, coarse_sm=smap, quality=out, n_jobs=1)
    assert sorted(os.listdir(tmp_path)) == ["factors_20230601.tif", "smap_20230601.tif"]


def test_validate_reports_each_quality_path(tmp_path):
    from smdownscale.algorithms.metrics import metrics
    from smdownscale.algorithms.validate import validate

    rng = np.random.default_rng(5)
    truth = rng.uniform(0.1, 0.4, (H, W))
    est = truth + rng.normal(0, 0.02, (H, W))
    q = np.ones((H, W))
    q[:, 27:] = FILLED
    q[20:23, 20:23] = COARSE_ONLY
    est[q == FILLED] += rng.normal(0, 0.03, int((q == FILLED).sum()))
    est[0, 0], q[0, 0] = np.nan, 0
    write_raster(str(tmp_path / "sm_1km_20230601.tif"), FINE, est[None])
    write_raster(str(tmp_path / "truth.tif"), FINE, truth[None])
    qual = str(tmp_path / "quality_20230601.tif")
    write_raster(qual, FINE, q[None])
    res = validate(str(tmp_path / "sm_1km_20230601.tif"), reference=str(tmp_path / "truth.tif"), quality=qual,
                   output_csv=str(tmp_path / "m.csv"))
    assert list(res) == ["reference", "reference:all factors observed", "reference:filled", "reference:coarse only"]
    e32, t32 = est.astype(np.float32).astype(np.float64), truth.astype(np.float32).astype(np.float64)
    for source, code in (("reference:all factors observed", 1), ("reference:filled", 2),
                         ("reference:coarse only", 3)):
        exp = metrics(e32[q == code], t32[q == code])
        assert res[source]["n"] == exp["n"] == int((q == code).sum())
        for k in ("r", "rmse", "bias", "ubrmsd"):
            assert res[source][k] == pytest.approx(exp[k], abs=1e-9)
    assert res["reference"]["n"] == H * W - 1
    assert res["reference:filled"]["ubrmsd"] > res["reference:all factors observed"]["ubrmsd"]
    with open(tmp_path / "m.csv") as fh:
        assert [line.split(",")[0] for line in fh.read().splitlines()[1:]] == list(res)
    # a quality raster of another grid is refused, naming the fix
    other = Grid(UTM, (500000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), W, H)
    write_raster(str(tmp_path / "q_other.tif"), other, q[None])
    with pytest.raises(InputError, match="is not on the grid of the estimate sm_1km_20230601.tif; give the quality"):
        validate(str(tmp_path / "sm_1km_20230601.tif"), reference=str(tmp_path / "truth.tif"),
                 quality=str(tmp_path / "q_other.tif"))


def _fused(evidence_of, seed=11):
    """A 90 x 90 scene: LST = 310 - 20 NDVI + a pattern of its own (what no other factor says), clouded over a
    block; the filler calibrated against ``evidence_of(lst, own pattern, rng)`` (a neighbouring date's LST) and asked
    to fill. Returns (filler, filled LST, true LST at the filled pixels, codes, filled LST without the evidence)."""
    rng = np.random.default_rng(seed)
    ndvi = rng.uniform(0.1, 0.8, (BIG, BIG))
    own = rng.normal(0.0, 3.0, (BIG, BIG))
    truth = 310.0 - 20.0 * ndvi + own
    lst = truth.copy()
    lst[20:50, 30:60] = np.nan
    block = np.stack([ndvi, lst]).astype(np.float32)
    evidence = np.stack([np.full((BIG, BIG), np.nan), evidence_of(truth, own, rng)]).astype(np.float32)
    filler, (x_plain, sel, codes_plain), (x, _, codes) = _fill_with_evidence(block, evidence)
    assert (codes_plain == FILLED).all()
    return filler, x[:, 1].astype(np.float64), truth[sel], codes, x_plain[:, 1].astype(np.float64)


#: The 90 x 90 scene of the weighing tests, on 10 x 10 cells of 9 x 9 pixels.
BIG = 90


def _fill_with_evidence(block, evidence):
    """The gap filler on the 90 x 90 scene: (filler, design without the evidence, design with it after
    calibration); both designs select the same pixels."""
    fine = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), BIG, BIG)
    coarse = Grid(UTM, (400000.0, 9000.0, 0.0, 4600000.0, 0.0, -9000.0), BIG // 9, BIG // 9)
    valid = np.all(np.isfinite(block), axis=0)
    filler = GapFiller(CellIndex(fine, coarse), [FactorSpec("ndvi"), FactorSpec("lst")],
                       np.ones((BIG // 9, BIG // 9), bool))
    filler.observe(0, block, valid)
    filler.solve()
    filler.learn(0, block, valid)
    plain = filler.design(0, block, valid)
    filler.calibrate(0, block, valid, evidence)
    fused = filler.design(0, block, valid, evidence)
    np.testing.assert_array_equal(plain[1], fused[1])
    return filler, plain, fused


def test_a_neighbouring_date_that_knows_the_pattern_outweighs_the_fill():
    """The other date saw LST's own pattern (plus 0.5 K of its own noise; its level is the stack's, as
    TemporalFill gives it): it gets nearly all the weight and the filled LST comes close to the truth, where the
    fill alone misses the pattern (3 K)."""
    filler, got, truth, codes, plain = _fused(lambda t, own, rng: t + rng.normal(0.0, 0.5, t.shape))
    w = filler.evidence_weights()
    assert w[0] == 0.0  # NDVI misses nowhere: nothing to weigh
    assert 0.9 < w[1] <= 1.0, w  # ~ 9 / (9 + 0.25) for independent errors of 3 K and 0.5 K
    rmse, rmse_plain = np.sqrt(np.mean((got - truth) ** 2)), np.sqrt(np.mean((plain - truth) ** 2))
    assert rmse < 0.7 and rmse_plain > 2.5, (rmse, rmse_plain)
    assert (codes == FROM_OTHER_DATE).all() and filler.from_other == {"lst": 900}


def test_a_neighbouring_date_that_knows_nothing_gets_no_weight():
    """The other date's LST has the same relation to NDVI but a pattern of its own: it knows nothing the fill does
    not, so it gets (almost) no weight and the filled LST is as good as the fill alone."""
    filler, got, truth, codes, plain = _fused(lambda t, own, rng: t - own + rng.normal(0.0, 3.0, t.shape))
    w = filler.evidence_weights()
    # the fill errs by today's pattern (3 K), the neighbour by today's minus its own (4.2 K): errors correlated
    # by today's pattern, so no mix of the two does better than the fill
    assert w[1] == 0.0, w
    rmse, rmse_plain = np.sqrt(np.mean((got - truth) ** 2)), np.sqrt(np.mean((plain - truth) ** 2))
    assert rmse == pytest.approx(rmse_plain, rel=1e-9)
    assert (codes == FILLED).all() and filler.from_other == {}


def test_no_calibration_pixels_no_weight():
    specs = [FactorSpec("lst")]
    filler = GapFiller(CellIndex(FINE, COARSE), specs, np.ones((3, 4), bool))
    assert filler.evidence_weights().tolist() == [0.0]


def test_the_weight_of_a_neighbouring_date_is_measured_for_the_factors_a_pixel_misses():
    """LST = 310 - 20 NDVI + 0.3 K of its own; clouds take LST, and NDVI too on part of them. Where NDVI is
    observed the fill knows LST within 0.3 K, better than the neighbouring date (1.5 K): the neighbour must get
    little weight there, and much where NDVI is missing too (the fill then errs by 20 x NDVI's deviation, ~4 K).
    One weight measured with every gappy factor hidden at once gave the neighbour ~0.9 everywhere."""
    rng = np.random.default_rng(4)
    ndvi_true = rng.uniform(0.1, 0.8, (BIG, BIG))
    truth = 310.0 - 20.0 * ndvi_true + rng.normal(0.0, 0.3, (BIG, BIG))
    lst, ndvi = truth.copy(), ndvi_true.copy()
    lst[20:50, 30:60] = np.nan
    ndvi[20:30, 30:60] = np.nan  # a third of the clouded pixels lose NDVI too
    block = np.stack([ndvi, lst]).astype(np.float32)
    evidence = np.stack([ndvi_true + rng.normal(0.0, 0.01, (BIG, BIG)),
                         truth + rng.normal(0.0, 1.5, (BIG, BIG))]).astype(np.float32)
    filler, (plain, sel, _), (x, _, codes) = _fill_with_evidence(block, evidence)
    lst_only = np.isfinite(ndvi[sel])
    err = x[:, 1].astype(np.float64) - truth[sel]
    err_plain = plain[:, 1].astype(np.float64) - truth[sel]
    rmse = lambda e: float(np.sqrt(np.mean(e ** 2)))  # noqa: E731
    # LST alone missing: about as good as the fill alone (0.6 K), not dragged towards the neighbour's 1.5 K
    assert rmse(err[lst_only]) < 1.1 * rmse(err_plain[lst_only]) < 0.7, (rmse(err[lst_only]), rmse(err_plain[lst_only]))
    # both missing: the neighbour's LST is far better than the fill's, and it is used
    assert rmse(err[~lst_only]) < 0.5 * rmse(err_plain[~lst_only]), (rmse(err[~lst_only]), rmse(err_plain[~lst_only]))


def _class_scene(neighbour_class):
    """The 90 x 90 scene with NDVI and a land-cover class (10 or 20, random per pixel), the class missing over a
    block; the filler calibrated against a neighbouring date whose class is ``neighbour_class(true class, rng)``."""
    rng = np.random.default_rng(12)
    fine = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), BIG, BIG)
    coarse = Grid(UTM, (400000.0, 9000.0, 0.0, 4600000.0, 0.0, -9000.0), BIG // 9, BIG // 9)
    ndvi = rng.uniform(0.1, 0.8, (BIG, BIG))
    lc_true = rng.choice([10.0, 20.0], (BIG, BIG))
    lc = lc_true.copy()
    lc[20:50, 30:60] = np.nan
    block = np.stack([ndvi, lc]).astype(np.float32)
    evidence = np.stack([ndvi, neighbour_class(lc_true, rng)]).astype(np.float32)
    valid = np.all(np.isfinite(block), axis=0)
    filler = GapFiller(CellIndex(fine, coarse), [FactorSpec("ndvi"), FactorSpec("landcover", CATEGORICAL, [10, 20])],
                       np.ones((BIG // 9, BIG // 9), bool))
    filler.observe(0, block, valid)
    filler.solve()
    filler.learn(0, block, valid)
    filler.calibrate(0, block, valid, evidence)
    x, sel, codes = filler.design(0, block, valid, evidence)
    return filler, x, lc_true[sel], codes


def test_a_neighbouring_date_s_class_that_agrees_gets_all_the_weight():
    """A land-cover class from two days away is the class of this date: it beats the cells' class fractions on
    every hidden observed pixel (Brier score 0 against about 0.5), takes weight 1, and the filled pixels get their
    true class, never a mix of codes."""
    filler, x, truth, codes = _class_scene(lambda t, rng: t)
    assert filler.factor_weights() == {"landcover": 1.0}
    np.testing.assert_array_equal(x[:, 1], truth == 10)
    np.testing.assert_array_equal(x[:, 2], truth == 20)
    assert (codes == FROM_OTHER_DATE).all() and filler.from_other == {"landcover": 900}


def test_a_neighbouring_date_s_class_that_knows_nothing_gets_no_weight():
    """A class drawn at random (independent of this date's): its Brier score (about 1) is twice the fractions'
    (about 0.5) and its errors are correlated with theirs, so it gets no weight and the fill keeps the fractions."""
    filler, x, truth, codes = _class_scene(lambda t, rng: rng.choice([10.0, 20.0], t.shape))
    assert filler.factor_weights()["landcover"] < 0.1
    assert 0.2 < float(np.mean(x[:, 1])) < 0.8 and np.all((x[:, 1] > 0.0) & (x[:, 1] < 1.0))


def test_learning_and_calibration_rows_thin_out_on_large_rasters():
    """Up to 4 x SAMPLE_PIXELS pixels every 4th row learns and every 4th row from row 2 calibrates; on a larger
    raster the stride grows in multiples of 4 so each samples about SAMPLE_PIXELS pixels, the calibration rows half
    a stride after the learning ones, whatever the blocks."""
    assert sample_stride(27, 36) == sample_stride(1000, 1000) == LEARN_STRIDE
    assert sample_stride(2000, 2000) == 16 and sample_stride(2000, 2001) == 20
    for h, w in ((2000, 2000), (2000, 2001), (5000, 3000), (1001, 1000)):
        stride = sample_stride(h, w)
        assert stride % LEARN_STRIDE == 0
        assert (h // stride) * w <= SAMPLE_PIXELS <= (-(-h // (stride - LEARN_STRIDE))) * w
    assert sample_stride(1001, 1000) == 8
    big = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), 2000, 2000)
    coarse = Grid(UTM, (400000.0, 9000.0, 0.0, 4600000.0, 0.0, -9000.0), 223, 223)
    filler = GapFiller(CellIndex(big, coarse), [FactorSpec("lst")], None)
    assert filler.stride == 16
    whole_learn, whole_cal = list(filler.learn_rows(0, 2000)), list(filler.calibration_rows(0, 2000))
    assert whole_learn == list(range(0, 2000, 16)) and whole_cal == list(range(8, 2000, 16))
    for size in (5, 16, 53, 256):  # the same rows whatever the block size
        blocks = [(r, min(size, 2000 - r)) for r in range(0, 2000, size)]
        assert [r for b in blocks for r in filler.learn_rows(*b)] == whole_learn
        assert [r for b in blocks for r in filler.calibration_rows(*b)] == whole_cal
    small = GapFiller(CellIndex(FINE, COARSE), [FactorSpec("lst")], None)
    assert small.stride == 4 and list(small.calibration_rows(0, H)) == list(range(2, H, 4))


def _context_scene(speckle):
    """90 x 90 pixels: a radar band that sees a smooth soil moisture pattern through pixel noise of sd ``speckle``
    (speckle), an LST band that follows the pattern closely, LST hidden over a 30 x 30 block (a cloud); the
    true LST there."""
    rng = np.random.default_rng(3)
    i, j = np.mgrid[0:BIG, 0:BIG]
    pattern = np.sin(2 * np.pi * i / 9.0) * np.cos(2 * np.pi * j / 9.0) + np.sin(2 * np.pi * (i + j) / 18.0)
    sar = -12.0 + 2.0 * pattern + rng.normal(0.0, speckle, (BIG, BIG))
    truth = 300.0 - 3.0 * pattern + rng.normal(0.0, 0.3, (BIG, BIG))
    lst = truth.copy()
    lst[30:60, 30:60] = np.nan
    return np.stack([sar, lst]).astype(np.float32), truth


def _context_filler(block):
    """A gap filler of the context scene's (vv, lst) block on a 1 km UTM grid with 9 km cells, its cell means solved;
    and the block's fully observed pixels."""
    fine = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), BIG, BIG)
    coarse = Grid(UTM, (400000.0, 9000.0, 0.0, 4600000.0, 0.0, -9000.0), BIG // 9, BIG // 9)
    valid = np.all(np.isfinite(block), axis=0)
    filler = GapFiller(CellIndex(fine, coarse), [FactorSpec("vv"), FactorSpec("lst")], np.ones((10, 10), bool))
    filler.observe(0, block, valid)
    filler.solve()
    return filler, valid


def _lst_filled(block, with_context):
    """The LST the gap filler gives the hidden pixels (flat, in row-major order), with or without the context."""
    filler, valid = _context_filler(block)
    context = filler.context(block, 0, BIG) if with_context else None
    filler.learn(0, block, valid, context)
    x, sel, _ = filler.design(0, block, valid, context=context)
    assert sel.sum() == 900
    return x[:, 1].astype(np.float64)


@pytest.mark.parametrize("speckle, gain, most", [(2.0, 0.75, 2.0), (0.0, 1.01, 1.2)])
def test_the_context_of_a_noisy_factor_fills_better(speckle, gain, most):
    """A pixel's radar value carries speckle; the mean of its 3 x 3 window carries much less of it, so with the
    context the filled LST comes closer to the truth (RMSE 1.68 K against 2.44 K without it, of an LST spread of
    2.65 K). Without speckle the context adds nothing but costs nothing either (1.05 K both)."""
    block, truth = _context_scene(speckle)
    hidden = truth[30:60, 30:60].ravel()
    rmse = {c: float(np.sqrt(np.mean((_lst_filled(block, c) - hidden) ** 2))) for c in (False, True)}
    assert rmse[True] <= gain * rmse[False], rmse
    assert rmse[True] < most, rmse


def test_local_means_over_the_observed_pixels_of_the_window():
    v = np.arange(20, dtype=np.float64).reshape(1, 4, 5)
    v[0, 1, 1] = np.nan
    got = local_means(v, 1, 2)  # rows 1 and 2, with rows 0 and 3 as their context
    assert got.shape == (1, 2, 5)
    # (1, 0): rows 0-2, cols 0-1 without the NaN at (1, 1): 0, 1, 5, 10, 11
    assert got[0, 0, 0] == pytest.approx(np.mean([0, 1, 5, 10, 11]))
    # (2, 2): rows 1-3, cols 1-3 without (1, 1)
    assert got[0, 1, 2] == pytest.approx(np.mean([7, 8, 11, 12, 13, 16, 17, 18]))
    assert np.isnan(local_means(np.full((1, 3, 3), np.nan), 0, 3)).all()


def test_the_context_of_the_pixels_missing_a_factor_alone_is_the_same():
    """The filling pass takes the context of the pixels it fills alone (a block's context in full is as large as
    the block): the same window means, bit for bit, and the same filled values."""
    block, _ = _context_scene(2.0)
    block[0, 28:31, 40:70] = np.nan  # a radar swath gap too, crossing the cloud's edge (20 pixels in both)
    rng = np.random.default_rng(5)
    v = rng.normal(0.0, 1.0, (2, 12, 7))
    v[rng.random(v.shape) < 0.3] = np.nan
    mask = rng.random((10, 7)) < 0.4
    assert np.array_equal(local_means(v, 1, 10, mask=mask), local_means(v, 1, 10)[:, mask], equal_nan=True)
    assert local_means(v, 1, 10, mask=np.zeros((10, 7), bool)).shape == (2, 0)
    filler, valid = _context_filler(block)
    full = filler.context(block, 0, BIG)
    filler.learn(0, block, valid, full)
    part = filler.context(block, 0, BIG, ~valid)
    assert part.shape == (2, int((~valid).sum())) and np.array_equal(part, full[:, ~valid], equal_nan=True)
    x_full, sel_full, q_full = filler.design(0, block, valid, context=full)
    x_part, sel_part, q_part = filler.design(0, block, valid, context=part)
    assert sel_full.sum() == 900 + 90 - 20 and np.array_equal(sel_full, sel_part)
    assert np.array_equal(x_full, x_part) and np.array_equal(q_full, q_part)


def test_the_filling_pass_reports_its_progress_block_by_block(tmp_path, model):
    """Every block with gaps moves the progress by its share of the filling pass (0.5 to 0.6 of the run): 3 blocks
    of 9 rows, each with a gap, report 0.5333, 0.5667 and 0.6."""
    path, _ = model
    stack, smap, _ = _scene(tmp_path)
    seen = []
    downscale(path, stack, str(tmp_path / "sm.tif"), coarse_sm=smap, residual="none", n_jobs=1, block_rows=9,
              progress=seen.append)
    fill_pass = [round(v, 4) for v in seen if 0.5 < v <= 0.6]
    assert fill_pass == [0.5333, 0.5667, 0.6], seen
    assert seen == sorted(seen) and seen[-1] == 1.0
