"""align: target grids, alignment of factor rasters (values, nodata, names, errors) and coarse stacks."""

import os

import numpy as np
import pytest
from osgeo import gdal, osr

from smdownscale.algorithms import align, raster
from smdownscale.algorithms.errors import Canceled, InputError
from smdownscale.algorithms.raster import Grid, srs_from_user

UTM33 = srs_from_user("EPSG:32633").ExportToWkt()
LAEA = srs_from_user("EPSG:3035").ExportToWkt()


def _grid(wkt, x0, y0, res, width, height):
    return Grid(wkt, (float(x0), float(res), 0.0, float(y0), 0.0, -float(res)), width, height)


def _centers(grid):
    x, y = grid.centers(0, grid.height)
    return x, y


def _to(grid, wkt, x, y):
    """Points (x, y) of ``grid``'s CRS transformed into ``wkt`` with osr, one by one."""
    ct = osr.CoordinateTransformation(grid.srs, raster.srs_from_wkt(wkt))
    out = np.array([ct.TransformPoint(float(a), float(b))[:2] for a, b in zip(x.ravel(), y.ravel())])
    return out[:, 0].reshape(x.shape), out[:, 1].reshape(x.shape)


def _raw(path, band=1):
    ds = gdal.Open(path)
    return ds.GetRasterBand(band).ReadAsArray(), ds.GetRasterBand(band).GetNoDataValue()


def _leftovers(folder):
    return sorted(f for f in os.listdir(folder) if ".partial-" in f)


# UTM 33N source, 60 x 60 px at 100 m; a LAEA Europe target inside it.
SRC = _grid(UTM33, 500000, 5000000, 100, 60, 60)


def _inner_laea_grid(res, margin=800.0):
    """A LAEA grid (resolution ``res``) covering SRC shrunk by ``margin`` metres on every side."""
    inner = _grid(UTM33, 500000 + margin, 5000000 - margin, 6000 - 2 * margin, 1, 1)
    xmin, ymin, xmax, ymax = inner.extent_in(LAEA)
    # the inscribed box of the transformed inner square, shrunk to be safely inside it
    shrink = 0.2 * (xmax - xmin)
    xmin, ymin, xmax, ymax = xmin + shrink, ymin + shrink, xmax - shrink, ymax - shrink
    width = int((xmax - xmin) // res)
    height = int((ymax - ymin) // res)
    return _grid(LAEA, xmin, ymax, res, width, height)


# -- reference_grid -------------------------------------------------------------------------------

def test_reference_grid_from_raster(tmp_path):
    path = raster.write_raster(str(tmp_path / "ref.tif"), SRC, np.zeros((60, 60)))
    g = align.reference_grid(path)
    assert g.same_as(SRC)
    assert g.width == 60 and g.height == 60


def test_reference_grid_snaps_extent_outward():
    g = align.reference_grid(crs="EPSG:32633", extent=(1050.0, 2020.0, 3990.0, 5001.0), resolution=100.0)
    assert g.extent == pytest.approx((1000.0, 2000.0, 4000.0, 5100.0))
    assert (g.width, g.height) == (30, 31)
    assert g.res == (100.0, 100.0)
    assert g.srs.IsSame(srs_from_user("EPSG:32633"))
    # an extent already on multiples of the resolution is kept exactly
    g = align.reference_grid(crs="EPSG:32633", extent=(1000.0, 2000.0, 3000.0, 5000.0), resolution=100.0)
    assert g.extent == pytest.approx((1000.0, 2000.0, 3000.0, 5000.0)) and (g.width, g.height) == (20, 30)


def test_reference_grid_transforms_extent_from_its_crs():
    extent = (15.0, 45.0, 15.5, 45.4)  # lon/lat
    g = align.reference_grid(crs="EPSG:32633", extent=extent, extent_crs="EPSG:4326", resolution=1000.0)
    ct = osr.CoordinateTransformation(srs_from_user("EPSG:4326"), srs_from_user("EPSG:32633"))
    corners = np.array([ct.TransformPoint(x, y)[:2] for x in (15.0, 15.5) for y in (45.0, 45.4)])
    xmin, ymin, xmax, ymax = g.extent
    assert xmin <= corners[:, 0].min() and xmax >= corners[:, 0].max()
    assert ymin <= corners[:, 1].min() and ymax >= corners[:, 1].max()
    assert xmax - corners[:, 0].max() < 1000 and corners[:, 0].min() - xmin < 1000
    for v in g.extent:
        assert v % 1000.0 == pytest.approx(0.0, abs=1e-6)


def test_reference_grid_reference_with_new_resolution(tmp_path):
    path = raster.write_raster(str(tmp_path / "smap.tif"), SRC, np.zeros((60, 60)))
    g = align.reference_grid(path, resolution=250.0)
    assert g.extent == pytest.approx((500000.0, 4994000.0, 506000.0, 5000000.0))
    assert (g.width, g.height) == (24, 24)


def test_reference_grid_missing_pieces():
    with pytest.raises(InputError, match=r"missing an extent, a resolution\): give a reference raster"):
        align.reference_grid(crs="EPSG:32633")
    with pytest.raises(InputError, match="missing a coordinate reference system, an extent, a resolution"):
        align.reference_grid()
    with pytest.raises(InputError, match="resolution must be a positive number"):
        align.reference_grid(crs="EPSG:32633", extent=(0, 0, 10, 10), resolution=-5)
    with pytest.raises(InputError, match="not a coordinate reference system GDAL understands"):
        align.reference_grid(crs="EPSG:999999", extent=(0, 0, 10, 10), resolution=1)
    with pytest.raises(InputError, match="units of the target CRS \\(degrees\\)"):
        align.reference_grid(crs="EPSG:4326", extent=(0, 0, 100, 60), resolution=0.0001)


def test_reference_grid_resolution_typed_in_degrees_for_a_metric_crs():
    # 0.01 for a UTM grid: the message names the unit and the value meant, not only the grid's size
    with pytest.raises(InputError) as err:
        align.reference_grid(crs="EPSG:32650", extent=(400000.0, 4500000.0, 500000.0, 4600000.0), resolution=0.01)
    assert str(err.value) == (
        "The target resolution (RESOLUTION) is 0.01, in the units of the target CRS (metres): pixels of 0.01 m. 0.01 "
        "looks like a value in degrees (0.01 degree is about 1113 metres). Give the pixel size in metres: about 1000 "
        "for 1 km.")
    # a foot-based CRS: the suggestion is in feet
    with pytest.raises(InputError, match=r"0\.5 looks like a value in degrees .*about 3281 for 1 km"):
        align.reference_grid(crs="EPSG:2227", extent=(6000000.0, 2000000.0, 6100000.0, 2100000.0), resolution=0.5)
    # 1 m and more pass (a small extent), and degrees in a geographic CRS are what it asks for
    assert align.reference_grid(crs="EPSG:32650", extent=(400000.0, 4500000.0, 400100.0, 4500100.0),
                                resolution=1.0).width == 100
    assert align.reference_grid(crs="EPSG:4326", extent=(115.0, 41.0, 116.0, 42.0), resolution=0.01).width == 100


# -- align_rasters: values --------------------------------------------------------------------------

def test_linear_ramp_and_constant_survive_reprojection(tmp_path):
    x, y = _centers(SRC)
    ramp = 0.01 * (x - 500000) + 0.002 * (5000000 - y)  # 1 per pixel along x, 0.2 along y
    raster.write_raster(str(tmp_path / "ramp.tif"), SRC, ramp)
    raster.write_raster(str(tmp_path / "const.tif"), SRC, np.full((60, 60), 0.25))
    target = _inner_laea_grid(50.0)
    out = str(tmp_path / "stack.tif")
    res = align.align_rasters([str(tmp_path / "ramp.tif"), str(tmp_path / "const.tif")], target, out)
    assert res.names == ["ramp", "const"]
    assert res.resampling == ["bilinear", "bilinear"]
    assert res.valid_fraction == [1.0, 1.0]
    got = raster.read_all(out)
    assert Grid.from_path(out).same_as(target)
    tx, ty = _to(target, UTM33, *_centers(target))
    expected = 0.01 * (tx - 500000) + 0.002 * (5000000 - ty)
    np.testing.assert_allclose(got[0], expected, atol=1e-3)  # bilinear is exact on a linear field
    np.testing.assert_allclose(got[1], 0.25, atol=1e-6)


def test_coarsening_gives_the_mean_of_valid_pixels(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    checker = ((np.indices((40, 40)).sum(axis=0)) % 2).astype(float)  # 0/1 checkerboard
    values = rng.uniform(0.1, 0.4, (40, 40))
    values[:8, :6] = np.nan  # a hole: cells fully or partly inside it
    fine = _grid(UTM33, 500000, 5000000, 100, 40, 40)
    raster.write_raster(str(tmp_path / "checker.tif"), fine, checker)
    gdal.Open(str(tmp_path / "checker.tif")).BuildOverviews("NEAREST", [4])  # .ovr: never used for averages
    raster.write_raster(str(tmp_path / "values.tif"), fine, values)
    ds = gdal.GetDriverByName("GTiff").Create(str(tmp_path / "nan_holes.tif"), 40, 40, 1, gdal.GDT_Float32)
    ds.SetGeoTransform(fine.transform)
    ds.SetProjection(fine.crs_wkt)
    ds.GetRasterBand(1).WriteArray(values)  # NaN holes, no nodata value
    ds = None
    coarse = _grid(UTM33, 500000, 5000000, 400, 10, 10)
    inputs = [str(tmp_path / "checker.tif"), str(tmp_path / "values.tif"), str(tmp_path / "nan_holes.tif")]
    res = align.align_rasters(inputs, coarse, str(tmp_path / "a.tif"))
    assert res.resampling == ["average", "average", "average"]
    got = raster.read_all(str(tmp_path / "a.tif"))
    np.testing.assert_allclose(got[0], 0.5, atol=1e-6)
    blocks = values.reshape(10, 4, 10, 4).transpose(0, 2, 1, 3).reshape(10, 10, 16)
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
        expected = np.nanmean(blocks, axis=2)
    assert np.isnan(got[1, :2, 0]).all() and np.isnan(expected[:2, 0]).all()
    assert np.isfinite(got[1, :2, 1]).all()  # partly valid cells average their valid pixels
    np.testing.assert_allclose(got[1], expected, atol=1e-6)
    np.testing.assert_array_equal(got[2], got[1])  # NaN without a nodata value is nodata too
    # the same result when copied block by block in small blocks
    monkeypatch.setattr(raster, "block_rows_for", lambda *a, **k: 3)
    align.align_rasters(inputs, coarse, str(tmp_path / "b.tif"))
    np.testing.assert_array_equal(raster.read_all(str(tmp_path / "b.tif")), got)


def _dominant_classes(rng, n_cells, cell, classes):
    """A (n*cell, n*cell) class map where every cell x cell block has a strict majority class."""
    dom = rng.choice(classes, (n_cells, n_cells))
    out = np.empty((n_cells * cell, n_cells * cell))
    for r in range(n_cells):
        for c in range(n_cells):
            block = rng.choice(classes, cell * cell)
            block[: cell * cell // 2 + 2] = dom[r, c]
            out[r * cell:(r + 1) * cell, c * cell:(c + 1) * cell] = rng.permutation(block).reshape(cell, cell)
    return out, dom


def test_categorical_mode_when_coarsening_and_kind_kept(tmp_path):
    rng = np.random.default_rng(5)
    lc, dom = _dominant_classes(rng, 10, 4, [10, 20, 30, 40])
    fine = _grid(UTM33, 500000, 5000000, 100, 40, 40)
    raster.write_raster(str(tmp_path / "lc.tif"), fine, lc, kinds=["categorical"], names=["landcover"])
    res = align.align_rasters([str(tmp_path / "lc.tif")], _grid(UTM33, 500000, 5000000, 400, 10, 10),
                              str(tmp_path / "out.tif"))
    assert res.kinds == ["categorical"] and res.resampling == ["mode"]
    np.testing.assert_array_equal(raster.read_all(str(tmp_path / "out.tif"))[0], dom)
    assert raster.band_kinds(gdal.Open(str(tmp_path / "out.tif"))) == ["categorical"]


def test_categorical_by_name_uses_nearest_when_refining(tmp_path):
    rng = np.random.default_rng(6)
    lc = rng.choice([1.0, 2.0, 5.0], (60, 60))
    raster.write_raster(str(tmp_path / "landcover_2023-06-01.tif"), SRC, lc)  # no SMD_KIND: named categorical
    target = _inner_laea_grid(40.0)
    out = str(tmp_path / "out.tif")
    res = align.align_rasters([str(tmp_path / "landcover_2023-06-01.tif")], target, out, categorical={"LandCover"})
    assert res.names == ["landcover"] and res.kinds == ["categorical"] and res.resampling == ["near"]
    got = raster.read_all(out)[0]
    assert set(np.unique(got).tolist()) == {1.0, 2.0, 5.0}
    tx, ty = _to(target, UTM33, *_centers(target))
    col = np.floor((tx - 500000) / 100).astype(int)
    row = np.floor((5000000 - ty) / 100).astype(int)
    assert np.mean(got == lc[row, col]) > 0.97  # the approximate transformer may shift a pixel at class edges
    assert raster.band_kinds(gdal.Open(out)) == ["categorical"]
    # the same raster without the name hint is continuous (bilinear): values between classes appear
    raster.write_raster(str(tmp_path / "classes_2023-06-01.tif"), SRC, lc)
    res = align.align_rasters([str(tmp_path / "classes_2023-06-01.tif")], target, str(tmp_path / "c.tif"))
    assert res.resampling == ["bilinear"]
    assert len(np.unique(raster.read_all(str(tmp_path / "c.tif"))[0])) > 3


def test_land_cover_products_are_classes_by_their_names(tmp_path):
    # MODIS MCD12Q1 as downloaded: IGBP codes 1-17 as Byte, 255 the fill, no colour table, no SMD_KIND,
    # in MODIS sinusoidal at 463 m; aligned onto a 1 km UTM grid without naming it under 'categorical'
    sinu = srs_from_user("+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs").ExportToWkt()
    res = 463.312716528
    src = _grid(sinu, 8996000.0, 4690000.0, res, 80, 80)
    rng = np.random.default_rng(11)
    codes = np.repeat(np.repeat(rng.choice([7, 10, 12, 16], (20, 20)), 4, 0), 4, 1).astype(np.uint8)
    codes[:3] = 255
    path = str(tmp_path / "MCD12Q1.A2023001.LC_Type1.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 80, 80, 1, gdal.GDT_Byte)
    ds.SetGeoTransform(src.transform)
    ds.SetProjection(sinu)
    ds.GetRasterBand(1).SetNoDataValue(255)
    ds.GetRasterBand(1).WriteArray(codes)
    ds = None
    xmin, ymin, xmax, ymax = _grid(sinu, 8996000.0 + 3000, 4690000.0 - 3000, 80 * res - 6000, 1, 1).extent_in(UTM33)
    target = _grid(UTM33, xmin // 1000 * 1000 + 1000, ymax // 1000 * 1000 - 1000, 1000.0,
                   int((xmax - xmin) // 1000) - 2, int((ymax - ymin) // 1000) - 2)
    out = str(tmp_path / "stack.tif")
    got = align.align_rasters([path], target, out)
    assert got.names == ["MCD12Q1.LC_Type1"] and got.kinds == ["categorical"] and got.resampling == ["mode"]
    values = raster.read_all(out)[0]
    assert set(np.unique(values[np.isfinite(values)]).tolist()) <= {7.0, 10.0, 12.0, 16.0}  # no averaged codes
    assert raster.band_kinds(gdal.Open(out)) == ["categorical"]
    for name in ("ESA_WorldCover_10m_2021_v200_N42E111_Map", "CLCD_v01_2022", "lccs_class", "土地利用_2020",
                 "ESACCI-LC-L4-LCCS-Map-300m-P1Y-2020-v2.1.1", "C3S-LC-L4-LCCS-Map-300m-P1Y-2022-v2.1.1",
                 "LULC", "MCD12Q1.LC_Prop2", "discrete_classification", "Land_Cover_Type_1"):
        assert align.is_land_cover(name), name
    for name in ("elevation", "ndvi", "lst_day", "clay_content", "S1_VV", "landcover_crop_fraction",
                 "PROBAV_LC100_global_v3.0.1_2019-nrt_Crops-CoverFraction-layer_EPSG-4326", "lulc_tree_percent",
                 "ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20230601"):
        assert not align.is_land_cover(name), name


@pytest.mark.parametrize("file_name, description", [
    ("ESA_WorldCover_2021.tif", "Map"),  # Earth Engine's ESA/WorldCover/v200 band, exported (no colour table)
    ("CLCD_v01_2020_albert.tif", "b1"),
    ("lc_2020.tif", "LC_Type1"),  # the band's own name still counts
])
def test_land_cover_file_with_a_generic_band_description_is_classes(tmp_path, file_name, description):
    # a single-band land cover file whose band description is the product's band name ('Map') or a generic one:
    # its file name says what it is, and averaging its class codes would make numbers that are no class
    rng = np.random.default_rng(12)
    lc, dom = _dominant_classes(rng, 10, 4, [10, 20, 30, 80])
    path = str(tmp_path / file_name)
    ds = gdal.GetDriverByName("GTiff").Create(path, 40, 40, 1, gdal.GDT_Byte)
    ds.SetGeoTransform(_grid(UTM33, 500000, 5000000, 100, 40, 40).transform)
    ds.SetProjection(UTM33)
    ds.GetRasterBand(1).SetDescription(description)
    ds.GetRasterBand(1).SetNoDataValue(0)
    ds.GetRasterBand(1).WriteArray(lc.astype(np.uint8))
    ds = None
    out = str(tmp_path / "out.tif")
    res = align.align_rasters([path], _grid(UTM33, 500000, 5000000, 400, 10, 10), out)
    assert res.names == [description] and res.kinds == ["categorical"] and res.resampling == ["mode"]
    np.testing.assert_array_equal(raster.read_all(out)[0], dom)
    # a file name that says nothing keeps the band continuous; so does a multiband file named like land cover
    plain = str(tmp_path / "classes.tif")
    gdal.Translate(plain, path)
    assert raster.band_kinds(gdal.Open(plain)) == (["categorical"] if description == "LC_Type1" else ["continuous"])
    multi = str(tmp_path / "landcover_and_more.tif")
    gdal.Translate(multi, path, bandList=[1, 1])
    assert raster.band_kinds(gdal.Open(multi)) == (["categorical"] * 2 if description == "LC_Type1"
                                                   else ["continuous"] * 2)


def test_lst_with_masked_pixels_exported_as_zero_is_refused_naming_the_file(tmp_path):
    # an Earth Engine export of cloud-masked LST without noData: the gaps are 0 K, and no nodata is declared
    grid = Grid(srs_from_user("EPSG:32649").ExportToWkt(), (511000.0, 1000.0, 0.0, 4713000.0, 0.0, -1000.0), 30, 30)
    lst = 290.0 + np.arange(900, dtype=np.float64).reshape(30, 30) / 100.0
    lst[5:12, 8:20] = 0.0
    path = str(tmp_path / "LST_Day_1km_2023-06-05.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 30, 30, 1, gdal.GDT_Float32)
    ds.SetGeoTransform(grid.transform)
    ds.SetProjection(grid.crs_wkt)
    ds.GetRasterBand(1).WriteArray(lst)
    ds = None
    with pytest.raises(InputError, match=r"The factor LST_Day_1km in LST_Day_1km_2023-06-05\.tif is in Kelvin "
                                         r"\(median 29\d\) but 9\.3 % of its values lie below 150 K \(most often 0\)"
                                         r".*\(gdal_edit\.py -a_nodata 0 <file>"):
        align.align_rasters([path], grid, str(tmp_path / "stack.tif"))
    assert not (tmp_path / "stack.tif").exists()
    ds = gdal.Open(path, gdal.GA_Update)
    ds.GetRasterBand(1).SetNoDataValue(0)
    ds = None
    align.align_rasters([path], grid, str(tmp_path / "stack.tif"))  # declared: the gaps are nodata
    assert int(np.isnan(raster.read_all(str(tmp_path / "stack.tif"))[0]).sum()) == 7 * 12


def test_ndvi_stored_as_integers_is_refused_naming_its_file_and_read_once_its_scale_is_declared(tmp_path):
    # MODIS NDVI x 10000 as Int16 with -3000 the fill, without scale metadata (an Earth Engine or AppEEARS export)
    grid = Grid(srs_from_user("EPSG:4326").ExportToWkt(), (111.0, 1 / 120, 0.0, 42.5, 0.0, -1 / 120), 40, 30)
    ndvi = np.round(np.linspace(-0.1, 0.8, 1200).reshape(30, 40) * 10000)
    ndvi[:3] = -3000
    path = str(tmp_path / "NDVI_2023-06-05.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 40, 30, 1, gdal.GDT_Int16)
    ds.SetGeoTransform(grid.transform)
    ds.SetProjection(grid.crs_wkt)
    ds.GetRasterBand(1).SetNoDataValue(-3000)
    ds.GetRasterBand(1).WriteArray(ndvi)
    ds = None
    out = str(tmp_path / "stack.tif")
    with pytest.raises(InputError, match=r"The factor NDVI in NDVI_2023-06-05\.tif looks like a vegetation index but "
                                         r"holds values .* outside -1 to 1\. .* declare its scale in the file it "
                                         r"came from \(gdal_edit\.py -scale 0\.0001"):
        align.align_rasters([path], grid, out)
    assert not os.path.exists(out)
    ds = gdal.Open(path, gdal.GA_Update)
    ds.GetRasterBand(1).SetScale(0.0001)
    ds = None
    align.align_rasters([path], grid, out)
    got = raster.read_all(out, dtype=np.float64)[0]
    assert np.isnan(got[:3]).all()
    np.testing.assert_allclose(got[3:], ndvi[3:] * 1e-4, atol=1e-6)


def test_nodata_stays_nodata_not_zero(tmp_path):
    data = np.full((60, 60), 0.3)
    data[20:40, 20:40] = np.nan  # written as -9999 with the band's nodata set
    raster.write_raster(str(tmp_path / "sm.tif"), SRC, data)
    ints = np.full((60, 60), 7.0)
    ints[20:40, 20:40] = 0.0
    raster.write_raster(str(tmp_path / "soil.tif"), SRC, ints, dtype=gdal.GDT_Byte, nodata=0)
    # a float raster without a nodata value whose holes are NaN
    ds = gdal.GetDriverByName("GTiff").Create(str(tmp_path / "nanhole.tif"), 60, 60, 1, gdal.GDT_Float32)
    ds.SetGeoTransform(SRC.transform)
    ds.SetProjection(SRC.crs_wkt)
    ds.GetRasterBand(1).WriteArray(np.where(np.isnan(data), np.nan, 2.0))
    ds = None
    target = _inner_laea_grid(50.0, margin=200.0)
    out = str(tmp_path / "out.tif")
    paths = [str(tmp_path / n) for n in ("sm.tif", "soil.tif", "nanhole.tif")]
    res = align.align_rasters(paths, target, out)
    tx, ty = _to(target, UTM33, *_centers(target))
    col, row = (tx - 500000) / 100, (5000000 - ty) / 100
    hole = (col > 21) & (col < 39) & (row > 21) & (row < 39)
    clear = (col < 19) | (col > 41) | (row < 19) | (row > 41)
    assert hole.sum() > 100 and clear.sum() > 100
    for band, value in ((1, 0.3), (2, 7.0), (3, 2.0)):
        arr, nd = _raw(out, band)
        assert nd == raster.NODATA_F32
        assert (arr[hole] == raster.NODATA_F32).all()
        np.testing.assert_allclose(arr[clear], value, rtol=1e-6)
        assert not (arr == 0).any()
        valid = (arr != raster.NODATA_F32).mean()
        assert res.valid_fraction[band - 1] == pytest.approx(valid)
    assert 0.5 < res.valid_fraction[0] < 0.95


def test_nodata_is_per_band_in_multiband_inputs(tmp_path):
    fine = _grid(UTM33, 500000, 5000000, 100, 40, 40)
    a = np.full((40, 40), 0.2)
    a[:, :2] = np.nan  # band 1 has a hole where band 2 is valid
    b = np.full((40, 40), 0.4)
    b[:2, :] = np.nan
    raster.write_raster(str(tmp_path / "two.tif"), fine, np.stack([a, b]), names=["a", "b"])
    align.align_rasters([str(tmp_path / "two.tif")], _grid(UTM33, 500000, 5000000, 400, 10, 10),
                        str(tmp_path / "out.tif"))
    got = raster.read_all(str(tmp_path / "out.tif"))
    np.testing.assert_allclose(got[0], 0.2, rtol=1e-6)  # the -9999 of band 1 never enters an average
    np.testing.assert_allclose(got[1], 0.4, rtol=1e-6)


def test_band_descriptions_and_multiband_inputs(tmp_path):
    two = np.stack([np.full((60, 60), 300.0), np.full((60, 60), 280.0)])
    raster.write_raster(str(tmp_path / "lst_20230601.tif"), SRC, two, names=["lst_day", "lst_night"])
    raster.write_raster(str(tmp_path / "ndvi_20230601.tif"), SRC, np.full((60, 60), 0.6))
    raster.write_raster(str(tmp_path / "pair.tif"), SRC, two)
    out = str(tmp_path / "stack.tif")
    paths = [str(tmp_path / n) for n in ("lst_20230601.tif", "ndvi_20230601.tif", "pair.tif")]
    res = align.align_rasters(paths, SRC, out)
    names = ["lst_day", "lst_night", "ndvi", "pair_b1", "pair_b2"]
    assert res.names == names
    assert res.sources == [paths[0], paths[0], paths[1], paths[2], paths[2]]
    assert res.resampling_by_input() == {p: "average" for p in paths}  # same grid: an exact copy
    ds = gdal.Open(out)
    assert [ds.GetRasterBand(i).GetDescription() for i in range(1, 6)] == names
    assert ds.GetRasterBand(1).DataType == gdal.GDT_Float32
    got = raster.read_all(out)
    for band, value in zip(got, [300.0, 280.0, 0.6, 300.0, 280.0]):
        np.testing.assert_array_equal(band, np.float32(value))


def test_mixed_kind_bands_of_one_input(tmp_path):
    rng = np.random.default_rng(8)
    lc, dom = _dominant_classes(rng, 10, 4, [1, 2, 3])
    cont = rng.uniform(0, 1, (40, 40))
    fine = _grid(UTM33, 500000, 5000000, 100, 40, 40)
    raster.write_raster(str(tmp_path / "mix.tif"), fine, np.stack([cont, lc]), names=["sand", "landcover"],
                        kinds=["continuous", "categorical"])
    res = align.align_rasters([str(tmp_path / "mix.tif")], _grid(UTM33, 500000, 5000000, 400, 10, 10),
                              str(tmp_path / "out.tif"))
    assert res.resampling == ["average", "mode"]
    assert res.resampling_by_input() == {str(tmp_path / "mix.tif"): "average+mode"}
    got = raster.read_all(str(tmp_path / "out.tif"))
    np.testing.assert_allclose(got[0], cont.reshape(10, 4, 10, 4).mean(axis=(1, 3)), atol=1e-6)
    np.testing.assert_array_equal(got[1], dom)


# -- align_rasters: errors --------------------------------------------------------------------------

def test_duplicate_names_are_an_error(tmp_path):
    for d in ("20230601", "20230701"):
        raster.write_raster(str(tmp_path / f"ndvi_{d}.tif"), SRC, np.ones((60, 60)))
    out = str(tmp_path / "out.tif")
    with pytest.raises(InputError) as err:
        align.align_rasters([str(tmp_path / "ndvi_20230601.tif"), str(tmp_path / "ndvi_20230701.tif")], SRC, out)
    msg = str(err.value)
    assert "'ndvi' in ndvi_20230601.tif, ndvi_20230701.tif" in msg
    assert "give each raster a distinct name" in msg
    assert not os.path.exists(out) and _leftovers(tmp_path) == []


def test_non_overlapping_input_is_named_and_nothing_written(tmp_path):
    far = _grid(UTM33, 700000, 4000000, 100, 30, 30)
    raster.write_raster(str(tmp_path / "far.tif"), far, np.ones((30, 30)))
    raster.write_raster(str(tmp_path / "near.tif"), SRC, np.ones((60, 60)))
    out = str(tmp_path / "out.tif")
    with pytest.raises(InputError) as err:
        align.align_rasters([str(tmp_path / "near.tif"), str(tmp_path / "far.tif")], SRC, out)
    msg = str(err.value)
    assert f"{tmp_path / 'far.tif'} does not overlap the target grid" in msg
    assert "(700000, 3.997e+06, 703000, 4e+06)" in msg and "(500000, 4.994e+06, 506000, 5e+06)" in msg
    assert not os.path.exists(out) and _leftovers(tmp_path) == []


def test_raster_without_crs_and_missing_file(tmp_path):
    ds = gdal.GetDriverByName("GTiff").Create(str(tmp_path / "nocrs.tif"), 10, 10, 1, gdal.GDT_Float32)
    ds.SetGeoTransform(SRC.transform)
    ds = None
    out = str(tmp_path / "out.tif")
    with pytest.raises(InputError, match="nocrs.tif has no coordinate reference system; assign one"):
        align.align_rasters([str(tmp_path / "nocrs.tif")], SRC, out)
    with pytest.raises(InputError, match="Raster file not found: .*missing.tif"):
        align.align_rasters([str(tmp_path / "missing.tif")], SRC, out)
    (tmp_path / "notes.txt").write_text("not a raster")
    with pytest.raises(InputError, match="is not a raster GDAL can read"):
        align.align_rasters([str(tmp_path / "notes.txt")], SRC, out)
    with pytest.raises(InputError, match="No input rasters were given"):
        align.align_rasters([], SRC, out)
    assert not os.path.exists(out)


def test_output_must_not_be_an_input(tmp_path):
    path = raster.write_raster(str(tmp_path / "ndvi.tif"), SRC, np.ones((60, 60)))
    with pytest.raises(InputError, match=r"The output raster \(.*ndvi\.tif\) is the same file as the input raster "
                                         r"\(.*ndvi\.tif\): writing it would destroy that input"):
        align.align_rasters([path], SRC, path)
    np.testing.assert_array_equal(raster.read_all(path), 1.0)


def test_band_all_nodata_after_alignment_is_an_error(tmp_path):
    data = np.ones((60, 60))
    data[:, 30:] = np.nan
    raster.write_raster(str(tmp_path / "half.tif"), SRC, data)
    raster.write_raster(str(tmp_path / "full.tif"), SRC, np.ones((60, 60)))
    target = _grid(UTM33, 503500, 5000000, 100, 20, 20)  # only over the nodata half
    out = str(tmp_path / "out.tif")
    with pytest.raises(InputError, match=r"hold no valid pixel on the target grid: 'half' \(half.tif\)\. "):
        align.align_rasters([str(tmp_path / "full.tif"), str(tmp_path / "half.tif")], target, out)
    assert not os.path.exists(out) and _leftovers(tmp_path) == []


@pytest.mark.bad_input("align: a date's LST all cloud, its radar without an overpass")
def test_a_date_missing_an_observation_everywhere_keeps_it_missing(tmp_path):
    """LST under cloud all day, or Sentinel-1 with no overpass, is missing at every pixel of the area: the stack keeps
    the band, all nodata (downscale takes it from neighbouring dates), instead of refusing the date. A static factor
    missing everywhere, or every band, is still the wrong file or extent."""
    ones = np.ones((60, 60))
    for name, values in (("ndvi", 0.4 * ones), ("lst_day", np.full((60, 60), np.nan)),
                         ("S1_VV", np.full((60, 60), np.nan)), ("elevation", 900.0 * ones)):
        raster.write_raster(str(tmp_path / f"{name}_20230601.tif"), SRC, values)
    paths = [str(tmp_path / f"{n}_20230601.tif") for n in ("ndvi", "lst_day", "S1_VV", "elevation")]
    target = _grid(UTM33, 500500, 5000000, 100, 20, 20)
    got = align.align_rasters(paths, target, str(tmp_path / "stack.tif"))
    assert got.names == ["ndvi", "lst_day", "S1_VV", "elevation"] and got.valid_fraction == [1.0, 0.0, 0.0, 1.0]
    stack = raster.read_all(got.path)
    assert np.isnan(stack[1:3]).all() and np.allclose(stack[0], 0.4) and np.allclose(stack[3], 900.0)
    assert [align.may_miss_a_whole_date(n) for n in ("LST_Day_1km", "NDVI", "VH", "sigma0_vv", "angle", "s1_angle",
                                                      "albedo_landsat", "lst_diff", "elevation", "landcover", "vvh",
                                                      "slope_angle")] == [True] * 8 + [False] * 4
    with pytest.raises(InputError, match=r"hold no valid pixel on the target grid: 'lst_day' "
                                         r"\(lst_day_20230601\.tif\), 'S1_VV' \(S1_VV_20230601\.tif\)\. "):
        align.align_rasters(paths[1:3], target, str(tmp_path / "none.tif"))
    assert not os.path.exists(str(tmp_path / "none.tif"))


def test_cancel_after_first_block_leaves_nothing(tmp_path, monkeypatch):
    raster.write_raster(str(tmp_path / "a.tif"), SRC, np.ones((60, 60)))
    monkeypatch.setattr(raster, "block_rows_for", lambda *a, **k: 10)
    seen = []

    def progress(f):
        seen.append(f)

    def canceled():
        return len(seen) >= 1  # true once the first block has been written

    out = str(tmp_path / "out.tif")
    with pytest.raises(Canceled):
        align.align_rasters([str(tmp_path / "a.tif")], SRC, out, progress=progress, is_canceled=canceled)
    assert seen == [pytest.approx(10 / 60)]
    assert not os.path.exists(out) and _leftovers(tmp_path) == []


# -- aggregate_stack --------------------------------------------------------------------------------

def _expected_coarse(fine, coarse, values):
    """Mean of valid fine values per coarse cell by pixel center, computed point by point with osr."""
    ct = osr.CoordinateTransformation(fine.srs, coarse.srs)
    sums = np.zeros(coarse.size)
    valid = np.zeros(coarse.size)
    x0, dx, _, y0, _, dy = fine.transform
    cx0, cdx, _, cy0, _, cdy = coarse.transform
    for r in range(fine.height):
        for c in range(fine.width):
            x, y = ct.TransformPoint(x0 + (c + 0.5) * dx, y0 + (r + 0.5) * dy)[:2]
            col, row = int(np.floor((x - cx0) / cdx)), int(np.floor((y - cy0) / cdy))
            if 0 <= col < coarse.width and 0 <= row < coarse.height:
                k = row * coarse.width + col
                if np.isfinite(values[r, c]):
                    sums[k] += values[r, c]
                    valid[k] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / valid
    return mean.reshape(coarse.height, coarse.width)


def test_aggregate_stack_is_mean_of_pixels_whose_centers_fall_in_the_cell(tmp_path):
    rng = np.random.default_rng(11)
    fine = _grid(UTM33, 500000, 5000000, 100, 60, 60)
    values = rng.uniform(0.05, 0.45, (60, 60))
    values[rng.random((60, 60)) < 0.1] = np.nan
    path = raster.write_raster(str(tmp_path / "fine.tif"), fine, np.stack([values, 2 * values]), names=["a", "b"])
    # a coarse grid in another CRS (LAEA) at 1.3 km, not aligned with the fine pixels
    ext = fine.extent_in(LAEA)
    coarse = _grid(LAEA, ext[0] - 500, ext[3] + 500, 1300, int((ext[2] - ext[0] + 1000) // 1300) + 1,
                   int((ext[3] - ext[1] + 1000) // 1300) + 1)
    out = align.aggregate_stack(path, coarse, str(tmp_path / "coarse.tif"), min_valid_fraction=0.0)
    got = raster.read_all(out)
    expected = _expected_coarse(fine, coarse, values)
    assert np.isfinite(expected).sum() > 10
    np.testing.assert_allclose(got[0], expected, rtol=1e-6)
    np.testing.assert_allclose(got[1], 2 * expected, rtol=1e-6)
    assert Grid.from_path(out).same_as(coarse)
    ds = gdal.Open(out)
    assert [ds.GetRasterBand(i).GetDescription() for i in (1, 2)] == ["a", "b"]


def test_aggregate_stack_min_valid_fraction_and_mode(tmp_path):
    rng = np.random.default_rng(12)
    fine = _grid(UTM33, 500000, 5000000, 100, 40, 40)
    coarse = _grid(UTM33, 500000, 5000000, 400, 10, 10)  # 16 fine pixels per cell
    values = rng.uniform(0.1, 0.4, (40, 40))
    values[0:2, 0:4] = np.nan  # cell (0, 0): 8 of 16 valid -> kept at 0.5
    values[0:2, 4:8] = np.nan
    values[2, 4] = np.nan  # cell (0, 1): 7 of 16 valid -> nodata at 0.5
    lc, dom = _dominant_classes(rng, 10, 4, [10, 20, 30])
    lc[0:2, 4:8] = np.nan
    lc[2, 4] = np.nan
    path = raster.write_raster(str(tmp_path / "fine.tif"), fine, np.stack([values, lc]), names=["sm", "landcover"],
                               kinds=["continuous", "categorical"])
    out = align.aggregate_stack(path, coarse, str(tmp_path / "coarse.tif"), min_valid_fraction=0.5)
    got = raster.read_all(out)
    blocks = values.reshape(10, 4, 10, 4).transpose(0, 2, 1, 3).reshape(10, 10, 16)
    assert got[0, 0, 0] == pytest.approx(np.nanmean(blocks[0, 0]), rel=1e-6)
    assert np.isnan(got[0, 0, 1]) and np.isnan(got[1, 0, 1])
    keep = np.ones((10, 10), bool)
    keep[0, 1] = False
    np.testing.assert_allclose(got[0][keep], np.nanmean(blocks, axis=2)[keep], rtol=1e-6)
    np.testing.assert_array_equal(got[1][keep], dom[keep])  # the majority class of each cell
    assert raster.band_kinds(gdal.Open(out)) == ["continuous", "categorical"]
    out2 = align.aggregate_stack(path, coarse, str(tmp_path / "coarse2.tif"), min_valid_fraction=0.4)
    assert np.isfinite(raster.read_all(out2)[:, 0, 1]).all()


def test_aggregate_stack_errors_and_cancel(tmp_path, monkeypatch):
    fine = _grid(UTM33, 500000, 5000000, 100, 40, 40)
    path = raster.write_raster(str(tmp_path / "fine.tif"), fine, np.ones((40, 40)))
    out = str(tmp_path / "coarse.tif")
    with pytest.raises(InputError, match="does not overlap the coarse grid"):
        align.aggregate_stack(path, _grid(UTM33, 900000, 5000000, 400, 5, 5), out)
    with pytest.raises(InputError, match="coarse reference has smaller pixels than the fine stack"):
        align.aggregate_stack(path, _grid(UTM33, 500000, 5000000, 50, 10, 10), out)
    with pytest.raises(InputError, match="between 0 and 1"):
        align.aggregate_stack(path, _grid(UTM33, 500000, 5000000, 400, 10, 10), out, min_valid_fraction=50)
    monkeypatch.setattr(raster, "block_rows_for", lambda *a, **k: 8)
    calls = []

    def canceled():
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(Canceled):
        align.aggregate_stack(path, _grid(UTM33, 500000, 5000000, 400, 10, 10), out, is_canceled=canceled)
    assert len(calls) == 2
    assert not os.path.exists(out) and _leftovers(tmp_path) == []


@pytest.mark.bad_input("align: inputs stored as scaled integers with scale/offset in the file (MODIS LST, NDVI)")
def test_declared_scale_and_offset_are_applied(tmp_path):
    grid = Grid(srs_from_user("EPSG:32650").ExportToWkt(), (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), 6, 4)
    lst = np.arange(24, dtype=np.float64).reshape(4, 6) * 50 + 14000  # Kelvin x 50
    ndvi = np.arange(24, dtype=np.float64).reshape(4, 6) * 300 - 2000  # NDVI x 10000, -3000 the fill
    ndvi[0, 0] = -3000
    paths = []
    for name, data, dtype, nodata, scale, offset in (("lst_day", lst, gdal.GDT_UInt16, 0, 0.02, 0.0),
                                                     ("ndvi", ndvi, gdal.GDT_Int16, -3000, 1e-4, 0.0)):
        path = str(tmp_path / f"{name}.tif")
        ds = gdal.GetDriverByName("GTiff").Create(path, 6, 4, 1, dtype)
        ds.SetGeoTransform(grid.transform)
        ds.SetProjection(grid.crs_wkt)
        band = ds.GetRasterBand(1)
        band.SetNoDataValue(nodata)
        band.SetScale(scale)
        band.SetOffset(offset)
        band.WriteArray(data)
        ds = None
        paths.append(path)
    out = str(tmp_path / "stack.tif")
    align.align_rasters(paths, grid, out)
    got = raster.read_all(out, dtype=np.float64)
    np.testing.assert_allclose(got[0], lst * 0.02, rtol=1e-6)
    assert np.isnan(got[1][0, 0]) and np.isfinite(got[1]).sum() == 23
    np.testing.assert_allclose(got[1].ravel()[1:], ndvi.ravel()[1:] * 1e-4, atol=1e-6)
    assert gdal.Open(out).GetRasterBand(1).GetScale() in (None, 1.0)  # written as values: not scaled again


@pytest.mark.bad_input("align: categorical factor name matching no input (a typo)")
def test_categorical_name_matching_no_factor_is_refused(tmp_path):
    # 'lc' for the band 'MCD12Q1_LC_Type1' left it continuous: class codes averaged bilinearly, without a word
    rng = np.random.default_rng(6)
    path = str(tmp_path / "MCD12Q1_LC_Type1_2023-06-01.tif")
    raster.write_raster(path, SRC, rng.choice([1.0, 2.0, 5.0], (60, 60)))
    target = _inner_laea_grid(40.0)
    out = str(tmp_path / "out.tif")
    with pytest.raises(InputError, match=r"^The categorical factor name\(s\) lc match no factor of the inputs \(their "
                                         r"names: MCD12Q1_LC_Type1\)\. Write the names as listed"):
        align.align_rasters([path], target, out, categorical={"lc", "landcover"})
    assert not os.path.exists(out)
    # the form's default 'landcover' may match nothing; the right name makes the band categorical
    res = align.align_rasters([path], target, out, categorical={"landcover", "mcd12q1_lc_type1"})
    assert res.kinds == ["categorical"] and set(np.unique(raster.read_all(out)[0]).tolist()) == {1.0, 2.0, 5.0}
