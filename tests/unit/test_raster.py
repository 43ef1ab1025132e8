import datetime as dt
import os
import re

import numpy as np
import pytest
from osgeo import gdal

from smdownscale.algorithms import raster
from smdownscale.algorithms.errors import Canceled, InputError
from smdownscale.algorithms.raster import Grid, srs_from_user
from smdownscale.tests import nsidc


def _grid(w=20, h=10, res=1000.0, epsg="EPSG:6933"):
    return Grid(srs_from_user(epsg).ExportToWkt(), (1000.0, res, 0.0, 50000.0, 0.0, -res), w, h)


def test_write_and_read_roundtrip_keeps_nodata(tmp_path):
    g = _grid()
    data = np.arange(200, dtype=np.float32).reshape(10, 20)
    data[2, 3] = np.nan
    out = str(tmp_path / "a.tif")
    raster.write_raster(out, g, data, names=["ndvi"])
    back = raster.read_all(out)[0]
    assert np.isnan(back[2, 3])
    assert np.nansum(back) == pytest.approx(np.nansum(data))
    ds = raster.open_raster(out)
    assert raster.band_names(ds, out) == ["ndvi"]
    assert ds.GetRasterBand(1).GetNoDataValue() == raster.NODATA_F32
    assert Grid.from_path(out).same_as(g)
    assert [f for f in os.listdir(tmp_path) if "partial" in f] == []


def test_pixels_under_a_mask_band_are_nodata(tmp_path):
    """A raster whose missing pixels are marked by a GDAL mask (a GeoTIFF's internal or .msk mask, as rasterio and
    ``gdal_translate -mask`` write them) and hold a fill such as 0 underneath, without a nodata value: those pixels
    are NaN in every read (block reads, the decimated samples of the unit checks), the others scaled as usual."""
    from smdownscale.algorithms import units

    g = _grid()
    out = str(tmp_path / "masked.tif")
    ds = gdal.GetDriverByName("GTiff").Create(out, 20, 10, 2, gdal.GDT_Int16)
    ds.SetGeoTransform(g.transform)
    ds.SetProjection(g.crs_wkt)
    ds.CreateMaskBand(gdal.GMF_PER_DATASET)
    stored = np.arange(1, 201, dtype=np.int16).reshape(10, 20)
    stored[3:6, 4:9] = 0  # the fill under the mask
    for b in (1, 2):
        band = ds.GetRasterBand(b)
        band.SetScale(0.01)
        band.WriteArray(stored)
    mask = np.full((10, 20), 255, np.uint8)
    mask[3:6, 4:9] = 0
    ds.GetRasterBand(1).GetMaskBand().WriteArray(mask)  # one mask for every band
    ds = None
    ds = raster.open_raster(out)
    assert ds.GetRasterBand(2).GetMaskFlags() == gdal.GMF_PER_DATASET  # the file holds such a mask: the test can fail
    back = raster.read_block(ds, 0, 10, [1, 2])
    assert np.isnan(back[:, 3:6, 4:9]).all()
    assert np.isfinite(back).sum() == 2 * (200 - 15)
    np.testing.assert_allclose(back[0, 7], stored[7] * 0.01, rtol=1e-6)
    sample = units.sample_bands(ds, [1, 2], max_pixels=10_000)
    assert np.isnan(sample[0][3:6, 4:9]).all() and np.isfinite(sample[0]).sum() == 200 - 15
    ds = None


def test_band_names_fall_back_to_file_stem_without_date(tmp_path):
    g = _grid()
    out = str(tmp_path / "lst_day_20230601.tif")
    raster.write_raster(out, g, np.zeros((2, 10, 20), np.float32))
    ds = raster.open_raster(out)
    for i in (1, 2):
        ds.GetRasterBand(i).SetDescription("")
    assert raster.band_names(ds, out) == ["lst_day_b1", "lst_day_b2"]


def test_atomic_path_removes_partial_file_on_error(tmp_path):
    out = tmp_path / "b.tif"
    with pytest.raises(RuntimeError):
        with raster.atomic_path(str(out)) as tmp:
            open(tmp, "w").write("half")
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_atomic_path_keeps_previous_result_until_success(tmp_path):
    out = tmp_path / "c.tif"
    out.write_text("old")
    with pytest.raises(Canceled):
        with raster.atomic_path(str(out)) as tmp:
            open(tmp, "w").write("new")
            raise Canceled()
    assert out.read_text() == "old"


def test_iter_blocks_covers_rows_reports_progress_and_cancels():
    seen, progress = [], []
    for row0, n in raster.iter_blocks(10, 3, progress.append):
        seen.append((row0, n))
    assert seen == [(0, 3), (3, 3), (6, 3), (9, 1)]
    assert progress[-1] == 1.0
    calls = iter([False, False, True])
    with pytest.raises(Canceled):
        for _ in raster.iter_blocks(10, 3, is_canceled=lambda: next(calls)):
            pass


def test_a_smap_granule_given_as_a_raster_names_importsmap(tmp_path):
    # an NSIDC SPL3SMP_E granule (HDF5 of many layers) given where a soil moisture raster is expected
    granule = nsidc.write_l3(str(tmp_path), dt.date(2023, 6, 5), {(100, 3000): 0.2}, {(100, 3000): 0.21})
    with pytest.raises(InputError, match=r"SMAP_L3_SM_P_E_20230605_R19240_001\.h5 is a container of \d+ layers "
                                         r"\(e\.g\. HDF5:.*\), not one raster\. An NSIDC SMAP granule is turned "
                                         r"into soil moisture rasters by smdownscale:importsmap"):
        raster.open_raster(granule)


@pytest.mark.bad_input("downscale: a layer of an NSIDC SMAP granule given by its GDAL name (HDF5:...://sm_surface)")
def test_a_smap_granule_layer_without_georeferencing_names_importsmap(tmp_path):
    # GDAL opens the layer, but NSIDC's HDF5 carries no geotransform: assigning a CRS alone would not place it
    granule = nsidc.write_l4(str(tmp_path), dt.datetime(2023, 6, 1, 1, 30), {(500, 3000): 0.25})
    layer = f'HDF5:"{granule}"://Geophysical_Data/sm_surface'
    with pytest.raises(InputError) as err:
        Grid.from_path(layer)
    assert str(err.value) == (
        f"{layer} has no georeferencing (neither a coordinate reference system nor a geotransform), so its pixels "
        "have no place on the Earth. For a layer of an NSIDC SMAP granule, use smdownscale:importsmap (Import SMAP "
        "granules), which places it on SMAP's EASE-Grid 2.0; otherwise georeference the raster (gdal_translate -a_srs "
        "-a_ullr, or the Georeferencer in QGIS) and run again.")


def test_open_raster_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        raster.open_raster(str(tmp_path / "missing.tif"))
    txt = tmp_path / "notes.tif"
    txt.write_text("not a raster")
    with pytest.raises(InputError, match="not a raster GDAL can read"):
        raster.open_raster(str(txt))


def test_raster_without_crs_is_refused(tmp_path):
    path = str(tmp_path / "nocrs.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 5, 5, 1, gdal.GDT_Float32)
    ds.SetGeoTransform((0, 1, 0, 0, 0, -1))
    ds = None
    with pytest.raises(InputError, match="has no coordinate reference system; assign one"):
        Grid.from_path(path)


def test_output_folder_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="Cannot create the output folder"):
        raster.check_output_path(str(blocker / "sub" / "x.tif"))


def test_grid_overlap_across_crs():
    fine = _grid(res=1000.0)
    other = Grid(srs_from_user("EPSG:4326").ExportToWkt(), (100.0, 0.1, 0, 50.0, 0, -0.1), 10, 10)
    assert not fine.overlaps(other)
    near = Grid(fine.crs_wkt, (5000.0, 1000.0, 0, 45000.0, 0, -1000.0), 5, 5)
    assert fine.overlaps(near)


def test_gdal_subdataset_names_are_passed_to_gdal(tmp_path):
    g = _grid()
    path = str(tmp_path / "a.tif")
    raster.write_raster(path, g, np.ones((10, 20), np.float32))
    ds = raster.open_raster(f"GTIFF_DIR:1:{path}")
    assert ds.RasterXSize == 20
    with pytest.raises(InputError, match="not a raster GDAL can read"):
        raster.open_raster(f"NETCDF:{tmp_path}/missing.nc:sm")


def _sparse(path, width, height, res=1000.0, epsg="EPSG:32650", names=None):
    """A huge grid in a tiny file (sparse tiles): a header can describe any size."""
    ds = gdal.GetDriverByName("GTiff").Create(str(path), width, height, len(names or [1]), gdal.GDT_Float32,
                                              ["TILED=YES", "BLOCKXSIZE=4096", "BLOCKYSIZE=4096", "SPARSE_OK=TRUE",
                                               "COMPRESS=DEFLATE", "BIGTIFF=YES"])
    ds.SetGeoTransform((500000.0, res, 0.0, 4600000.0, 0.0, -res))
    ds.SetProjection(srs_from_user(epsg).ExportToWkt())
    for i, name in enumerate(names or []):
        ds.GetRasterBand(i + 1).SetDescription(name)
    ds = None
    return str(path)


def test_grid_size_is_checked_before_anything_is_written(tmp_path):
    huge = Grid.from_path(_sparse(tmp_path / "huge.tif", 200_000, 200_000))
    assert os.path.getsize(tmp_path / "huge.tif") < 1_000_000
    with pytest.raises(InputError) as err:
        huge.check_size("The reference raster huge.tif", "Give another reference.")
    assert str(err.value) == ("The reference raster huge.tif is a 200000 x 200000 pixel grid of 1000 metre "
                              "(40,000,000,000 pixels, 149.0 GB per band); smdownscale works on grids of at most "
                              "2,000,000,000 pixels. Give another reference.")
    # the writer refuses it too, before creating a file
    with pytest.raises(InputError, match=r"The output out\.tif is a 200000 x 200000 pixel grid"):
        raster.write_raster(str(tmp_path / "out.tif"), huge, np.zeros((1, 1), np.float32))
    assert sorted(os.listdir(tmp_path)) == ["huge.tif"]
    # coarse grids have their own, smaller limit (they are held in memory whole)
    coarse = Grid(huge.crs_wkt, huge.transform, 10_000, 10_000)
    assert coarse.check_size("x") is coarse
    with pytest.raises(InputError, match=r"10000 x 10000 pixel grid .* at most 50,000,000 pixels\. Check the "
                                         r"resolution: it is in the units of the target CRS \(metre\)"):
        coarse.check_size("The soil moisture raster smap.tif", max_pixels=raster.MAX_COARSE_PIXELS)
    with pytest.raises(InputError, match="defines an empty grid"):
        Grid(huge.crs_wkt, huge.transform, 0, 5).check_size("The reference")


@pytest.mark.parametrize("name, suggested", [
    pytest.param("/vsizip/{d}/results.zip/sm.tif", "{d}/sm.tif",
                 marks=pytest.mark.bad_input("engine: output inside a zip given as /vsizip/"), id="vsizip"),
    pytest.param("/vsimem/sm.tif", "~/sm.tif", marks=pytest.mark.bad_input("engine: output in /vsimem/"), id="vsimem"),
    pytest.param("CSV:{d}/metrics.csv", "{d}/metrics.csv",
                 marks=pytest.mark.bad_input("engine: output with a GDAL driver prefix (CSV:)"), id="driver-prefix"),
])
def test_virtual_and_prefixed_output_paths_are_refused_and_nothing_is_created(tmp_path, monkeypatch, name, suggested):
    # they used to become folders named '/vsizip', '/vsimem' or 'CSV:' on disk, the result written inside
    monkeypatch.chdir(tmp_path)
    roots = {p: os.path.exists(p) for p in ("/vsizip", "/vsimem")}
    path = name.format(d=tmp_path)
    shown = os.path.expanduser(suggested) if suggested.startswith("~") else suggested.format(d=tmp_path)
    with pytest.raises(InputError, match=rf"^The output {re.escape(path)} is a GDAL virtual path or driver prefix "
                                         rf".*Give a path on disk, e\.g\. {re.escape(shown)}; nothing was written\.$"):
        raster.check_output_path(path)
    with pytest.raises(InputError, match="is a GDAL virtual path or driver prefix"):
        with raster.atomic_path(path):
            pass
    assert os.listdir(tmp_path) == []
    assert {p: os.path.exists(p) for p in roots} == roots
