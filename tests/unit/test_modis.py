"""MODIS LST and NDVI files (AppEEARS GeoTIFF layers, CF NetCDF holding several layers) -> quality-masked, scaled
factor files, and through importsmap's factor path onto the factor stacks. HDF4-EOS tiles cannot be generated
here (see tests/modis_files.py): their reading is GDAL's HDF4 driver and is not tested."""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pytest
from osgeo import gdal, osr

from smdownscale.algorithms import modis, raster
from smdownscale.algorithms.errors import InputError
from smdownscale.algorithms.smap_import import import_smap
from smdownscale.tests import modis_files as mf
from smdownscale.tests import nsidc

DAY = dt.date(2023, 7, 1)
GT, W, H = mf.grid_for(115.9, 41.9, 116.1, 42.1)


def _lst_pair():
    """6 LST values with their QC bytes and what must come out."""
    raw = np.array([[15000, 15000, 15000, 15000, 0, 7000]], np.uint16)
    qc = np.array([[0b00000000,  # good
                    0b00000001,  # other quality, LST error <= 1 K: kept
                    0b01000001,  # other quality, LST error <= 2 K: masked
                    0b00000010,  # not produced, cloud
                    0b00000000,  # fill value 0
                    0b00000000]], np.uint8)  # below the valid range 7500
    return raw, qc, np.array([[300.0, 300.0, np.nan, np.nan, np.nan, np.nan]], np.float32)


def test_lst_geotiff_layers_are_masked_by_qc_and_scaled(tmp_path):
    raw, qc, want = _lst_pair()
    gt = (GT[0], GT[1], 0.0, GT[3], 0.0, GT[5])
    files = [mf.write_geotiff(str(tmp_path), "MOD11A1", "LST_Day_1km", DAY, gt, raw),
             mf.write_geotiff(str(tmp_path), "MOD11A1", "QC_Day", DAY, gt, qc)]
    assert os.path.basename(files[0]) == "MOD11A1.061_LST_Day_1km_doy2023182_aid0001.tif"
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    logs = []
    (out,) = modis.convert(files, str(out_dir), logs.append)
    assert os.path.basename(out).startswith("lst_day_20230701_MOD11A1")
    got = raster.read_all(out)[0]
    np.testing.assert_array_equal(got, want)
    ds = raster.open_raster(out)
    assert ds.GetRasterBand(1).GetDescription() == "lst_day"
    assert "Sinusoidal" in ds.GetProjection() or "sinu" in ds.GetSpatialRef().ExportToProj4()
    assert ds.GetGeoTransform() == pytest.approx(gt)
    assert logs == [f"{os.path.basename(files[0])}: LST_Day_1km -> lst_day 2023-07-01, 2 of 6 pixels kept after "
                    "QC_Day."]


def test_ndvi_layers_are_masked_by_pixel_reliability_and_scaled(tmp_path):
    raw = np.array([[5000, 5000, 5000, 5000, -3000, 9000]], np.int16)
    rel = np.array([[0, 1, 2, 3, 0, -1]], np.int16)  # good, marginal, snow, cloudy, (fill value), fill
    files = [mf.write_geotiff(str(tmp_path), "MYD13A2", "1 km 16 days NDVI", DAY, GT, raw),
             mf.write_geotiff(str(tmp_path), "MYD13A2", "1 km 16 days pixel reliability", DAY, GT, rel)]
    assert os.path.basename(files[0]) == "MYD13A2.061__1_km_16_days_NDVI_doy2023182_aid0001.tif"
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out,) = modis.convert(files[::-1], str(out_dir))
    np.testing.assert_allclose(raster.read_all(out)[0], [[0.5, 0.5, np.nan, np.nan, np.nan, np.nan]], rtol=1e-6)
    assert raster.open_raster(out).GetRasterBand(1).GetDescription() == "ndvi"


def test_netcdf_holding_day_and_night_layers(tmp_path):
    raw, qc, want = _lst_pair()
    path = mf.write_netcdf(str(tmp_path / "MOD11A2.A2023185.h26v04.061.nc"), GT,
                           {"LST_Day_1km": raw, "QC_Day": qc, "LST_Night_1km": raw[:, ::-1].copy(),
                            "QC_Night": qc[:, ::-1].copy()}, scale={"LST_Day_1km": 0.02, "LST_Night_1km": 0.02})
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    day, night = modis.convert([path], str(out_dir))
    assert os.path.basename(day).startswith("lst_day_20230704_MOD11A2_h26v04")
    np.testing.assert_array_equal(raster.read_all(day)[0], want)
    np.testing.assert_array_equal(raster.read_all(night)[0], want[:, ::-1])
    assert raster.open_raster(night).GetRasterBand(1).GetDescription() == "lst_night"


def test_appeears_netcdf_with_every_date_along_a_time_axis(tmp_path):
    raw, qc, want = _lst_pair()
    days = [dt.date(2023, 7, 1), dt.date(2023, 7, 2), dt.date(2023, 7, 31)]
    stack = np.stack([raw, raw[:, ::-1], raw])
    qcs = np.stack([qc, qc[:, ::-1], np.full_like(qc, 2)])  # the third day clouded everywhere
    path = mf.write_netcdf(str(tmp_path / "MOD11A1.061_1km_aid0001.nc"), GT, {"LST_Day_1km": stack, "QC_Day": qcs},
                           times=days)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    logs = []
    outs = modis.convert([path], str(out_dir), logs.append)
    assert [os.path.basename(p)[:16] for p in outs] == ["lst_day_20230701", "lst_day_20230702", "lst_day_20230731"]
    np.testing.assert_array_equal(raster.read_all(outs[0])[0], want)
    np.testing.assert_array_equal(raster.read_all(outs[1])[0], want[:, ::-1])
    assert np.isnan(raster.read_all(outs[2])[0]).all()
    assert logs[2] == "MOD11A1.061_1km_aid0001.nc: LST_Day_1km -> lst_day 2023-07-31, 0 of 6 pixels kept after QC_Day."
    flat = mf.write_netcdf(str(tmp_path / "MOD11A1.061_1km_aid0002.nc"), GT, {"LST_Day_1km": raw, "QC_Day": qc})
    with pytest.raises(InputError, match="carries no date, neither in its name .* nor as a time axis"):
        modis.convert([flat], str(out_dir))


@pytest.mark.parametrize("subdataset, layer", [
    ('HDF4_EOS:EOS_GRID:"/d/MOD11A1.A2023182.h26v04.061.2023183094512.hdf":MODIS_Grid_Daily_1km_LST:LST_Day_1km',
     "LST_Day_1km"),
    ('HDF4_EOS:EOS_GRID:"/d/MOD13A2.A2023177.h26v04.061.2023194.hdf":MODIS_Grid_16DAY_1km_VI:"1 km 16 days NDVI"',
     "1 km 16 days NDVI"),
    ('HDF4_EOS:EOS_GRID:"C:/d/MOD13A2.A2023177.hdf":MODIS_Grid_16DAY_1km_VI:"1 km 16 days pixel reliability"',
     "1 km 16 days pixel reliability"),
    ('HDF5:"/d/MOD11A1.A2023182.h26v04.061.h5"://HDFEOS/GRIDS/MODIS_Grid_Daily_1km_LST/Data_Fields/QC_Day',
     "QC_Day"),
    ('NETCDF:"/d/MOD11A1.061_1km_aid0001.nc":_1_km_16_days_NDVI', "_1_km_16_days_NDVI"),
])
def test_layer_names_from_gdal_subdataset_names(subdataset, layer):
    """The subdataset names GDAL gives MODIS HDF4-EOS tiles (quoted fields with spaces), HDF5 and NetCDF files."""
    assert modis.layer_name(subdataset) == layer
    assert modis._key(modis.layer_name(subdataset)) == modis._key(layer)


def test_already_scaled_float_exports_are_taken_as_they_are(tmp_path):
    vals = np.array([[301.5, 0.0, 290.25]], np.float32)
    qc = np.array([[0, 0, 2]], np.uint8)
    files = [mf.write_geotiff(str(tmp_path), "MOD11A1", "LST_Night_1km", DAY, GT, vals),
             mf.write_geotiff(str(tmp_path), "MOD11A1", "QC_Night", DAY, GT, qc)]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out,) = modis.convert(files, str(out_dir))
    np.testing.assert_array_equal(raster.read_all(out)[0], [[301.5, 0.0, np.nan]])


@pytest.mark.bad_input("importsmap: MODIS files that cannot be read as LST/NDVI")
def test_bad_modis_inputs_are_named(tmp_path):
    raw, qc, _ = _lst_pair()
    lst = mf.write_geotiff(str(tmp_path), "MOD11A1", "LST_Day_1km", DAY, GT, raw)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(InputError, match=r"needs its quality layer QC_Day of the same date \(2023-07-01\)"):
        modis.convert([lst], str(out_dir))
    undated = tmp_path / "MOD11A1_LST_Day_1km.tif"
    os.link(lst, undated)
    with pytest.raises(InputError, match="MOD11A1_LST_Day_1km.tif carries no date in its name"):
        modis.convert([str(undated)], str(out_dir))
    other = tmp_path / "landsat_LST_20230701.tif"
    os.link(lst, other)
    with pytest.raises(InputError, match="is not named like a MODIS LST or NDVI file"):
        modis.convert([str(other)], str(out_dir))
    evi = mf.write_geotiff(str(tmp_path), "MOD13A2", "1 km 16 days EVI", DAY, GT, raw.astype(np.int16))
    with pytest.raises(InputError, match="names none of the MOD13A2 layers 1 km 16 days NDVI"):
        modis.convert([evi], str(out_dir))
    nc = mf.write_netcdf(str(tmp_path / "MOD11A1.A2023182.h26v04.061.nc"), GT, {"LST_Day_1km": raw})
    with pytest.raises(InputError, match="holds LST_Day_1km but not its quality layer QC_Day"):
        modis.convert([nc], str(out_dir))
    qc_file = mf.write_geotiff(str(tmp_path), "MOD11A1", "QC_Day", DAY, GT, qc)
    copy = tmp_path / "copy"
    copy.mkdir()
    twin = str(copy / os.path.basename(lst))
    os.link(lst, twin)
    with pytest.raises(InputError, match="are the same MOD11A1 layer of 2023-07-01; give each file once"):
        modis.convert([lst, qc_file, twin], str(out_dir))
    multi = tmp_path / "multi"
    multi.mkdir()
    three = []
    for layer, arr in (("LST_Night_1km", raw), ("QC_Night", qc)):
        path = mf.write_geotiff(str(multi), "MOD11A1", layer, DAY, GT, arr)
        src = gdal.Open(path)
        three.append(str(multi / ("3_" + os.path.basename(path))))
        gdal.Translate(three[-1], gdal.BuildVRT("", [src, src, src], separate=True))
    with pytest.raises(InputError, match="3_MOD11A1.061_LST_Night_1km_doy2023182_aid0001.tif has 3 bands but no time "
                                         "axis saying their dates"):
        modis.convert(three, str(out_dir))
    assert os.listdir(out_dir) == []


def test_import_puts_modis_lst_and_ndvi_on_the_factor_stacks(tmp_path):
    """Two L4 days, MOD11A1 LST for each day (the western part clouded on day 2) and one MOD13A2 composite
    dated before both: the stacks hold lst_day (K) and ndvi on the EASE 1 km grid."""
    lon0, lat0, lon1, lat1 = 115.7, 41.7, 116.3, 42.3
    r0, c0 = nsidc.cell_of(lat1, lon0)
    r1, c1 = nsidc.cell_of(lat0, lon1)
    cells = {(r, c): 0.2 + 0.01 * (c - c0) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)}
    (tmp_path / "smap").mkdir()
    granules = [nsidc.write_l4(str(tmp_path / "smap"), dt.datetime(2023, 7, d, 1, 30), cells) for d in (1, 2)]
    gt, w, h = mf.grid_for(lon0 - 0.3, lat0 - 0.3, lon1 + 0.3, lat1 + 0.3)
    lon, _lat = mf.centres(gt, w, h)
    (tmp_path / "modis").mkdir()
    folder = str(tmp_path / "modis")
    files = []
    for d, lst_k in ((1, 300.0), (2, 310.0)):
        raw = np.full((h, w), round(lst_k / 0.02), np.uint16)
        qc = np.zeros((h, w), np.uint8)
        if d == 2:
            qc[lon < 116.0] = 0b10  # clouds over the west
        files += [mf.write_geotiff(folder, "MOD11A1", "LST_Day_1km", dt.date(2023, 7, d), gt, raw),
                  mf.write_geotiff(folder, "MOD11A1", "QC_Day", dt.date(2023, 7, d), gt, qc)]
    files += [mf.write_geotiff(folder, "MOD13A2", "1 km 16 days NDVI", dt.date(2023, 6, 26), gt,
                               np.full((h, w), 6000, np.int16)),
              mf.write_geotiff(folder, "MOD13A2", "1 km 16 days pixel reliability", dt.date(2023, 6, 26), gt,
                               np.zeros((h, w), np.int16))]
    before = {f: os.path.getmtime(f) for f in files}
    logs = []
    res = import_smap(granules, str(tmp_path / "out"), area=(115.8, 41.8, 116.2, 42.2, "EPSG:4326"),
                      modis=files, fine_resolution=1000.0, log=logs.append)
    assert [os.path.basename(p) for p in res.factor_files] == ["factors_20230701.tif", "factors_20230702.tif"]
    ds = raster.open_raster(res.factor_files[0])
    assert raster.band_names(ds) == ["lst_day", "ndvi"]
    day1 = raster.read_all(res.factor_files[0])
    day2 = raster.read_all(res.factor_files[1])
    assert np.isfinite(day1).all()
    np.testing.assert_allclose(day1[0], 300.0, rtol=1e-6)
    np.testing.assert_allclose(day1[1], 0.6, rtol=1e-6)
    np.testing.assert_allclose(day2[1], 0.6, rtol=1e-6)  # the 16-day composite covers both days
    fine = raster.Grid.from_path(res.factor_files[1])
    x, _ = fine.centers(0, fine.height)
    to_ease = osr.CoordinateTransformation(raster.srs_from_user("EPSG:4326"), raster.srs_from_user("EPSG:6933"))
    (x_west, _, _), (x_east, _, _) = (to_ease.TransformPoint(lon, 42.0) for lon in (115.97, 116.03))
    west, east = x < x_west, x > x_east
    assert west.sum() > 1000 and east.sum() > 1000
    assert np.isnan(day2[0][west]).all() and np.allclose(day2[0][east], 310.0, rtol=1e-6)
    assert any("LST_Day_1km -> lst_day 2023-07-02" in m for m in logs)
    manifest = open(res.manifest_path).read()
    assert "MOD11A1.061_LST_Day_1km_doy2023182_aid0001.tif" in manifest and "smd-modis-" not in manifest
    assert before == {f: os.path.getmtime(f) for f in files}
    assert sorted(os.listdir(tmp_path / "out")) == ["factors", "manifest.json", "smap"]
