"""Downscaling: exact predictions of a known relation, band matching by name, nodata, residual correction."""

import math
import os

import numpy as np
import pytest
from osgeo import gdal, osr
from sklearn.tree import DecisionTreeRegressor

from smdownscale.algorithms import model_io
from smdownscale.algorithms.downscale import cover_stack, downscale
from smdownscale.algorithms.errors import Canceled, InputError, ModelFileError
from smdownscale.algorithms.raster import Grid, read_all, write_raster
from smdownscale.tests.scenes import (
    DS_FACTORS,
    DS_FINE,
    DS_H,
    DS_W,
    UTM,
    WGS84,
    ds_fields,
    ds_relation,
    save_ds_model,
    write_ds_stack,
)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_ds_model(str(tmp_path_factory.mktemp("model") / "sm.smdmodel"))


def _expected(fields):
    """The relation where every model factor is valid, NaN elsewhere."""
    ok = np.isfinite(fields["ndvi"]) & np.isfinite(fields["lst"]) & np.isfinite(fields["landcover"])
    return np.where(ok, ds_relation(fields["ndvi"], fields["lst"], fields["landcover"]), np.nan)


def _coarse_grid(crs=UTM):
    # 9 km cells, origin offset so fine pixels are not aligned with the cells; one column beyond the stack
    return Grid(crs, (396500.0, 9000.0, 0.0, 4602500.0, 0.0, -9000.0), 8, 6)


def _cell_of_pixels(coarse):
    """Cell (flat index, -1 outside) of every fine pixel center, point by point (independent of the engine)."""
    ct = None if coarse.srs.IsSame(DS_FINE.srs) else osr.CoordinateTransformation(DS_FINE.srs, coarse.srs)
    out = np.full((DS_H, DS_W), -1)
    for r in range(DS_H):
        for c in range(DS_W):
            x = DS_FINE.transform[0] + (c + 0.5) * DS_FINE.transform[1]
            y = DS_FINE.transform[3] + (r + 0.5) * DS_FINE.transform[5]
            if ct is not None:
                x, y, _ = ct.TransformPoint(x, y)
            col = math.floor((x - coarse.transform[0]) / coarse.transform[1])
            row = math.floor((y - coarse.transform[3]) / coarse.transform[5])
            if 0 <= col < coarse.width and 0 <= row < coarse.height:
                out[r, c] = row * coarse.width + col
    return out


def _files(folder):
    return sorted(os.listdir(folder))


def test_prediction_equals_relation_and_keeps_nodata(tmp_path, model):
    f = ds_fields()
    stack = write_ds_stack(tmp_path / "factors_20230601.tif", f)
    out = str(tmp_path / "sm_1km_20230601.tif")
    res = downscale(model, stack, out, residual="none")
    got = read_all(out)[0]
    exp = _expected(f)
    invalid = ~np.isfinite(f["ndvi"]) | ~np.isfinite(f["landcover"])
    assert np.isnan(got[invalid]).all() and invalid.sum() == 13
    np.testing.assert_allclose(got[~invalid], exp[~invalid], atol=1e-6)
    assert np.isfinite(got[0]).sum() == DS_W - invalid[0].sum()  # dem nodata does not matter
    assert res.n_valid == DS_W * DS_H - 13
    assert res.mean == pytest.approx(float(np.mean(exp[~invalid])), abs=1e-6)
    assert res.std == pytest.approx(float(np.std(exp[~invalid])), abs=1e-6)
    assert res.min == pytest.approx(float(exp[~invalid].min()), abs=1e-6)
    assert res.max == pytest.approx(float(exp[~invalid].max()), abs=1e-6)
    assert res.date == "2023-06-01" and res.model_type == "rf" and res.n_clipped == 0
    ds = gdal.Open(out)
    band = ds.GetRasterBand(1)
    assert band.DataType == gdal.GDT_Float32 and band.GetNoDataValue() == -9999.0
    assert band.GetDescription() == "soil_moisture"
    md = ds.GetMetadata()
    assert md["units"] == "m3/m3" and md["model"] == "sm.smdmodel" and md["model_type"] == "rf"
    assert md["date"] == "2023-06-01" and md["residual_correction"] == "none"
    assert _files(tmp_path) == ["factors_20230601.tif", "sm_1km_20230601.tif"]


def test_band_order_does_not_matter(tmp_path, model):
    f = ds_fields(2)
    a = write_ds_stack(tmp_path / "a.tif", f, ("dem", "lst", "landcover", "ndvi"))
    b = write_ds_stack(tmp_path / "b.tif", f, ("ndvi", "landcover", "dem", "lst"))
    downscale(model, a, str(tmp_path / "oa.tif"), residual="none")
    downscale(model, b, str(tmp_path / "ob.tif"), residual="none")
    ga, gb = read_all(str(tmp_path / "oa.tif"))[0], read_all(str(tmp_path / "ob.tif"))[0]
    np.testing.assert_array_equal(ga, gb)
    np.testing.assert_allclose(ga[np.isfinite(ga)], _expected(f)[np.isfinite(ga)], atol=1e-6)


def test_decision_tree_model(tmp_path):
    model = save_ds_model(str(tmp_path / "cart.smdmodel"), "cart")
    f = ds_fields(3)
    out = str(tmp_path / "o.tif")
    res = downscale(model, write_ds_stack(tmp_path / "s.tif", f), out, residual="none", n_jobs=2)
    got = read_all(out)[0]
    ok = np.isfinite(got)
    np.testing.assert_allclose(got[ok], _expected(f)[ok], atol=1e-6)
    assert res.model_type == "cart"


def test_missing_factor_names_it_and_writes_nothing(tmp_path, model):
    f = ds_fields()
    stack = write_ds_stack(tmp_path / "s.tif", f, ("dem", "ndvi", "landcover"))
    out = str(tmp_path / "o.tif")
    with pytest.raises(InputError, match=r"lacks the factor\(s\) lst"):
        downscale(model, stack, out, residual="none")
    assert _files(tmp_path) == ["s.tif"]


def test_residual_correction_conserves_cell_means(tmp_path, model):
    f = ds_fields(4)
    stack = write_ds_stack(tmp_path / "factors_20230601.tif", f)
    coarse = _coarse_grid()
    rng = np.random.default_rng(9)
    sm = rng.uniform(0.1, 0.4, (coarse.height, coarse.width))
    sm[2, 3] = np.nan  # a cell without SMAP: its pixels keep the raw prediction
    smap = str(tmp_path / "smap_20230601.tif")
    write_raster(smap, coarse, sm)
    out = str(tmp_path / "sm_1km_20230601.tif")
    res = downscale(model, stack, out, coarse_sm=smap, residual="constant", clip=(-5.0, 5.0), fill_gaps=False)
    got = read_all(out)[0].astype(np.float64)
    raw = _expected(f)
    cells = _cell_of_pixels(coarse)
    valid = np.isfinite(raw)
    np.testing.assert_array_equal(np.isfinite(got), valid)
    checked = 0
    for cell in np.unique(cells[cells >= 0]):
        member = (cells == cell) & valid
        if not member.any():
            continue
        target = sm.ravel()[cell]
        if np.isnan(target):
            np.testing.assert_allclose(got[member], raw[member], atol=1e-6)
            continue
        assert abs(got[member].mean() - target) < 1e-6
        # a constant shift per cell: the pattern inside the cell is the model's
        resid = target - raw[member].mean()
        np.testing.assert_allclose(got[member], raw[member] + resid, atol=1e-6)
        checked += 1
    assert checked == res.n_cells_corrected and checked > 20
    nodata_cell = 2 * coarse.width + 3
    assert res.n_uncorrected == int(((cells == nodata_cell) & valid).sum()) > 0
    assert res.max_cell_deviation < 1e-6
    resid_all = [sm.ravel()[c] - raw[(cells == c) & valid].mean() for c in np.unique(cells[cells >= 0])
                 if ((cells == c) & valid).any() and np.isfinite(sm.ravel()[c])]
    assert res.mean_abs_residual == pytest.approx(float(np.mean(np.abs(resid_all))), abs=1e-6)
    assert gdal.Open(out).GetMetadata()["residual_correction"] == "constant"
    assert _files(tmp_path) == ["factors_20230601.tif", "sm_1km_20230601.tif", "smap_20230601.tif"]


def test_residual_correction_with_smap_in_another_crs(tmp_path, model):
    f = ds_fields(5)
    stack = write_ds_stack(tmp_path / "s.tif", f)
    x0, y0, x1, y1 = DS_FINE.extent_in(WGS84)
    coarse = Grid(WGS84, (x0 - 0.03, 0.1, 0.0, y1 + 0.02, 0.0, -0.1), int((x1 - x0) / 0.1) + 2,
                  int((y1 - y0) / 0.1) + 2)
    sm = np.random.default_rng(1).uniform(0.15, 0.35, (coarse.height, coarse.width))
    smap = str(tmp_path / "smap.tif")
    write_raster(smap, coarse, sm)
    out = str(tmp_path / "o.tif")
    res = downscale(model, stack, out, coarse_sm=smap, clip=(-5.0, 5.0))
    got = read_all(out)[0].astype(np.float64)
    cells = _cell_of_pixels(coarse)
    n = 0
    for cell in np.unique(cells[cells >= 0]):
        member = (cells == cell) & np.isfinite(got)
        if member.any():
            assert abs(got[member].mean() - sm.ravel()[cell]) < 1e-6
            n += 1
    assert n == res.n_cells_corrected > 4 and res.n_uncorrected == 0


def test_block_size_does_not_change_the_result(tmp_path, model):
    f = ds_fields(6)
    stack = write_ds_stack(tmp_path / "s.tif", f)
    coarse = _coarse_grid()
    smap = str(tmp_path / "smap.tif")
    write_raster(smap, coarse, np.random.default_rng(2).uniform(0.1, 0.4, (coarse.height, coarse.width)))
    downscale(model, stack, str(tmp_path / "whole.tif"), coarse_sm=smap)
    downscale(model, stack, str(tmp_path / "b7.tif"), coarse_sm=smap, block_rows=7)
    a, b = read_all(str(tmp_path / "whole.tif"))[0], read_all(str(tmp_path / "b7.tif"))[0]
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a[np.isfinite(a)], b[np.isfinite(b)], atol=1e-7)


def test_clip_range_bounds_values(tmp_path, model):
    f = ds_fields(7)
    out = str(tmp_path / "o.tif")
    res = downscale(model, write_ds_stack(tmp_path / "s.tif", f), out, residual="none", clip=(0.15, 0.3))
    got = read_all(out)[0]
    exp = _expected(f)
    ok = np.isfinite(exp)
    assert np.nanmin(got) == pytest.approx(0.15) and np.nanmax(got) == pytest.approx(0.3)
    np.testing.assert_allclose(got[ok], np.clip(exp[ok], 0.15, 0.3), atol=1e-6)
    assert res.n_clipped == int(((exp[ok] < 0.15) | (exp[ok] > 0.3)).sum()) > 0


def test_cells_clipping_moves_off_smap_are_measured(tmp_path, model):
    """Each cell's mean equals SMAP before clipping; the values written after clipping to the range are measured
    too: the cells whose written mean is more than 0.001 off SMAP, and the largest deviation, checked here cell by
    cell on the output (metadata and result)."""
    f = ds_fields(7)
    stack = write_ds_stack(tmp_path / "factors_20230601.tif", f)
    coarse = _coarse_grid()
    sm = np.random.default_rng(4).uniform(0.1, 0.4, (coarse.height, coarse.width))
    smap = str(tmp_path / "smap_20230601.tif")
    write_raster(smap, coarse, sm)
    out = str(tmp_path / "sm_1km_20230601.tif")
    res = downscale(model, stack, out, coarse_sm=smap, residual="constant", clip=(0.1, 0.4), fill_gaps=False)
    got = read_all(out)[0].astype(np.float64)
    cells = _cell_of_pixels(coarse)
    devs = []
    for cell in np.unique(cells[cells >= 0]):
        member = (cells == cell) & np.isfinite(got)
        if member.any() and np.isfinite(sm.ravel()[cell]):
            devs.append(abs(got[member].mean() - sm.ravel()[cell]))
    devs = np.array(devs)
    assert res.max_cell_deviation < 1e-6 and res.n_clipped > 0
    assert res.max_cell_deviation_written == pytest.approx(devs.max(), abs=1e-6) and devs.max() > 0.01
    assert res.n_cells_off_after_clipping == int(np.count_nonzero(devs > 0.001)) > 0
    meta = gdal.Open(out).GetMetadata()
    assert meta["cells_off_after_clipping"] == str(res.n_cells_off_after_clipping)
    assert float(meta["max_cell_deviation_after_clipping"]) == pytest.approx(devs.max(), rel=1e-2)
    # a clip range the values fit in moves no cell
    res = downscale(model, stack, str(tmp_path / "wide.tif"), coarse_sm=smap, residual="constant", clip=(-5.0, 5.0),
                    fill_gaps=False)
    assert res.n_clipped == 0 and res.n_cells_off_after_clipping == 0 and res.max_cell_deviation_written < 1e-6


@pytest.mark.parametrize("after", [0, 3, 9])
def test_cancel_removes_temporary_and_output(tmp_path, model, after):
    f = ds_fields()
    stack = write_ds_stack(tmp_path / "s.tif", f)
    coarse = _coarse_grid()
    smap = str(tmp_path / "smap.tif")
    write_raster(smap, coarse, np.full((coarse.height, coarse.width), 0.25))
    calls = []

    def is_canceled():
        calls.append(1)
        return len(calls) > after

    with pytest.raises(Canceled):
        downscale(model, stack, str(tmp_path / "o.tif"), coarse_sm=smap, block_rows=5, is_canceled=is_canceled)
    assert _files(tmp_path) == ["s.tif", "smap.tif"]


def test_residual_needs_coarse_soil_moisture(tmp_path, model):
    stack = write_ds_stack(tmp_path / "s.tif", ds_fields())
    with pytest.raises(InputError, match="give the coarse SMAP raster of the same date, or set residual "
                                         "correction off"):
        downscale(model, stack, str(tmp_path / "o.tif"))
    assert _files(tmp_path) == ["s.tif"]


def test_smap_not_overlapping(tmp_path, model):
    stack = write_ds_stack(tmp_path / "s.tif", ds_fields())
    far = Grid(UTM, (900000.0, 9000.0, 0.0, 3000000.0, 0.0, -9000.0), 4, 4)
    smap = str(tmp_path / "smap.tif")
    write_raster(smap, far, np.full((4, 4), 0.2))
    with pytest.raises(InputError, match="do not overlap"):
        downscale(model, stack, str(tmp_path / "o.tif"), coarse_sm=smap)
    assert _files(tmp_path) == ["s.tif", "smap.tif"]


def test_smap_of_another_date(tmp_path, model):
    stack = write_ds_stack(tmp_path / "factors_20230601.tif", ds_fields())
    smap = str(tmp_path / "smap_20230602.tif")
    write_raster(smap, _coarse_grid(), np.full((6, 8), 0.2))
    with pytest.raises(InputError, match="dated 2023-06-01 but the soil moisture raster smap_20230602.tif"):
        downscale(model, stack, str(tmp_path / "o.tif"), coarse_sm=smap)


def test_all_nodata_stack(tmp_path, model):
    f = ds_fields()
    f["lst"][:] = np.nan
    stack = write_ds_stack(tmp_path / "s.tif", f)
    smap = str(tmp_path / "smap.tif")
    write_raster(smap, _coarse_grid(), np.full((6, 8), 0.2))
    for kwargs in ({"residual": "none"}, {"coarse_sm": smap}):  # without SMAP and with gap filling alike
        with pytest.raises(InputError, match=r"^Missing at every pixel of s\.tif: lst, so no pixel has all factors"):
            downscale(model, stack, str(tmp_path / "o.tif"), **kwargs)
    f["ndvi"][:] = np.nan
    f["lst"][:] = 300.0
    f["ndvi"][0, 0] = 0.3  # each factor somewhere, never together
    f["lst"][0, 0] = np.nan
    stack = write_ds_stack(tmp_path / "s.tif", f)
    with pytest.raises(InputError, match=r"^No pixel of s\.tif has all factors valid"):
        downscale(model, stack, str(tmp_path / "o.tif"), residual="none")
    assert _files(tmp_path) == ["s.tif", "smap.tif"]


def test_model_file_problems(tmp_path):
    stack = write_ds_stack(tmp_path / "s.tif", ds_fields())
    bad = tmp_path / "bad.smdmodel"
    bad.write_text("not a model")
    with pytest.raises(ModelFileError, match="is not a smdownscale model file"):
        downscale(str(bad), stack, str(tmp_path / "o.tif"), residual="none")
    with pytest.raises(ModelFileError, match="Model file not found"):
        downscale(str(tmp_path / "missing.smdmodel"), stack, str(tmp_path / "o.tif"), residual="none")
    inconsistent = str(tmp_path / "inc.smdmodel")
    est = DecisionTreeRegressor().fit(np.zeros((4, 4)), np.zeros(4))
    model_io.save_model(inconsistent, est, {"features": ["a", "b", "c", "d"], "factors": DS_FACTORS,
                                            "model_type": "cart"})
    with pytest.raises(ModelFileError, match="feature list does not match its factors"):
        downscale(inconsistent, stack, str(tmp_path / "o.tif"), residual="none")
    assert _files(tmp_path) == ["bad.smdmodel", "inc.smdmodel", "s.tif"]


def test_bad_options(tmp_path, model):
    stack = write_ds_stack(tmp_path / "s.tif", ds_fields())
    with pytest.raises(InputError, match="Unknown residual correction 'bicubic'"):
        downscale(model, stack, str(tmp_path / "o.tif"), residual="bicubic")
    with pytest.raises(InputError, match="minimum below its maximum"):
        downscale(model, stack, str(tmp_path / "o.tif"), residual="none", clip=(0.6, 0.0))
    with pytest.raises(InputError, match=r"The output raster \(.*s\.tif\) is the same file as the input factor stack"):
        downscale(model, stack, stack, residual="none")



def _band_file(path, grid, data, dtype, nodata, scale=None, offset=None, north_up=True):
    """A one-band GeoTIFF storing ``data`` as ``dtype`` (NaN as ``nodata``), with a declared scale and offset."""
    gt = list(grid.transform)
    if not north_up:  # rows stored south to north: the first row is the southernmost
        gt[3], gt[5] = gt[3] + gt[5] * grid.height, -gt[5]
        data = data[::-1]
    ds = gdal.GetDriverByName("GTiff").Create(str(path), grid.width, grid.height, 1, dtype)
    ds.SetGeoTransform(gt)
    ds.SetProjection(grid.crs_wkt)
    band = ds.GetRasterBand(1)
    band.SetNoDataValue(nodata)
    if scale is not None:
        band.SetScale(scale)
        band.SetOffset(offset)
    band.WriteArray(np.where(np.isfinite(data), data, nodata))
    ds = None
    return str(path)


@pytest.mark.bad_input("downscale: factors stored as MODIS-style scaled integers with scale/offset in the file")
def test_scaled_integer_factors_are_read_as_the_values_they_stand_for(tmp_path, model):
    f = ds_fields(6)
    floats = downscale(model, write_ds_stack(tmp_path / "float.tif", f), str(tmp_path / "a.tif"), residual="none")
    # LST as UInt16 Kelvin x 50 with an offset in the file's metadata, NDVI as Int16 x 10000 with the fill -3000
    lst = _band_file(tmp_path / "lst.tif", DS_FINE, np.round((f["lst"] - 10.0) / 0.02), gdal.GDT_UInt16, 0,
                     0.02, 10.0)
    ndvi = _band_file(tmp_path / "ndvi.tif", DS_FINE, np.round(f["ndvi"] / 1e-4), gdal.GDT_Int16, -3000, 1e-4, 0.0)
    lc = _band_file(tmp_path / "lc.tif", DS_FINE, f["landcover"], gdal.GDT_Float32, -9999)
    stack = gdal.BuildVRT(str(tmp_path / "scaled.vrt"), [ndvi, lst, lc], separate=True)
    for i, name in enumerate(["ndvi", "lst", "landcover"], 1):
        stack.GetRasterBand(i).SetDescription(name)
    stack.GetRasterBand(3).SetMetadataItem("SMD_KIND", "categorical")
    stack = None
    out = str(tmp_path / "b.tif")
    res = downscale(model, str(tmp_path / "scaled.vrt"), out, residual="none")
    np.testing.assert_allclose(read_all(out)[0], read_all(str(tmp_path / "a.tif"))[0], atol=1e-6)
    assert res.n_valid == floats.n_valid == DS_W * DS_H - 13  # the NDVI fill is nodata, not NDVI -0.3
    assert res.mean == pytest.approx(floats.mean, abs=1e-6)


@pytest.mark.bad_input("downscale: a south-up SMAP raster or factor stack")
def test_south_up_rasters_are_refused_naming_the_fix(tmp_path, model):
    f = ds_fields()
    stack = write_ds_stack(tmp_path / "factors_20230601.tif", f)
    coarse = _coarse_grid()
    smap = _band_file(tmp_path / "smap_20230601.tif", coarse, np.full((6, 8), 0.2), gdal.GDT_Float32, -9999,
                      north_up=False)
    # not "do not overlap": the raster covers the stack, its rows only run the other way
    with pytest.raises(InputError, match=r"smap_20230601.tif is stored south-up .*pixel height 9000 is positive.*"
                                         r"warp it to a north-up grid first \(gdalwarp smap_20230601.tif"):
        downscale(model, stack, str(tmp_path / "o.tif"), coarse_sm=smap)
    south = _band_file(tmp_path / "south.tif", DS_FINE, f["ndvi"], gdal.GDT_Float32, -9999, north_up=False)
    with pytest.raises(InputError, match=r"south.tif is stored south-up \(.*pixel height 1000 is positive"):
        downscale(model, south, str(tmp_path / "o.tif"), residual="none")
    assert _files(tmp_path) == ["factors_20230601.tif", "smap_20230601.tif", "south.tif"]
    north = str(tmp_path / "north" / "smap_20230601.tif")  # the fix the message gives
    os.makedirs(os.path.dirname(north))
    gdal.Warp(north, smap)
    res = downscale(model, stack, str(tmp_path / "north" / "o.tif"), coarse_sm=north)
    assert res.n_cells_corrected > 20


def test_cover_stack_extends_the_smap_lattice_over_the_stack_with_cells_without_a_value():
    """A SMAP raster smaller than the stack: its lattice continues over the whole stack (cells without a value), so
    every pixel lies in a cell; one that covers the stack is returned as it is."""
    coarse = _coarse_grid()  # 396500 .. 468500 x 4548500 .. 4602500: covers DS_FINE (400000 .. 460000)
    sm = np.arange(48.0).reshape(6, 8)
    same, values = cover_stack(coarse, sm, DS_FINE)
    assert same is coarse and values is sm
    part = Grid(UTM, (414500.0, 9000.0, 0.0, 4593500.0, 0.0, -9000.0), 3, 2)  # columns 2-4, rows 1-2 of the above
    grid, values = cover_stack(part, sm[1:3, 2:5], DS_FINE)
    # on the same lattice: x from 396500 (2 cells to the left), y from 4602500 (1 row up), to cover 460000 / 4555000
    assert grid.same_as(Grid(UTM, (396500.0, 9000.0, 0.0, 4602500.0, 0.0, -9000.0), 8, 6))
    np.testing.assert_array_equal(values[1:3, 2:5], sm[1:3, 2:5])
    assert np.isnan(values).sum() == 48 - 6
    # in another CRS (the stack in degrees): the lattice in SMAP's own CRS still covers every pixel
    geo = Grid(WGS84, (115.9, 0.01, 0.0, 41.55, 0.0, -0.01), 60, 40)  # around the small raster
    grid, values = cover_stack(part, sm[1:3, 2:5], geo)
    xmin, ymin, xmax, ymax = geo.extent_in(UTM)
    gx0, gy0, gx1, gy1 = grid.extent
    assert gx0 <= xmin and gy0 <= ymin and gx1 >= xmax and gy1 >= ymax
    assert (gx0 - 396500.0) % 9000.0 == pytest.approx(0.0) and (4602500.0 - gy1) % 9000.0 == pytest.approx(0.0)
    assert gx0 > xmin - 9000.0 and gx1 < xmax + 9000.0  # no more than needed
