"""Importing NSIDC SMAP granules (SPL4SMGP, SPL3SMP_E, SPL3SMP): lattice, masks, time steps, manifest, bad inputs."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil

import numpy as np
import pytest
from osgeo import gdal, osr

from smdownscale.algorithms import raster
from smdownscale.algorithms import smap_import as si
from smdownscale.algorithms.errors import Canceled, InputError
from smdownscale.algorithms.manifest import manifest_inputs, read_manifest
from smdownscale.tests import nsidc

# The SMAP cell holding 41.5 N, 111.9 E (Inner Mongolia), from the projection's own formulas.
ROW, COL = nsidc.cell_of(41.5, 111.9)
ROW36, COL36 = nsidc.cell_of(41.5, 111.9, "M36")
AREA = (111.5, 41.2, 112.2, 41.8, "EPSG:4326")
DAY = dt.date(2023, 6, 1)


def _value_at(path: str, lat: float, lon: float) -> float:
    """The output raster's value at a point, located through PROJ and the file's geotransform."""
    ds = gdal.Open(path)
    gt = ds.GetGeoTransform()
    wgs = osr.SpatialReference()
    wgs.ImportFromEPSG(4326)
    wgs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    dst = osr.SpatialReference()
    dst.ImportFromWkt(ds.GetProjection())
    dst.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    x, y, _ = osr.CoordinateTransformation(wgs, dst).TransformPoint(lon, lat)
    col, row = int((x - gt[0]) // gt[1]), int((y - gt[3]) // gt[5])
    arr = raster.read_all(path)[0]
    return float(arr[row, col])


@pytest.fixture(scope="module")
def l4_day(tmp_path_factory):
    """Eight 3-hourly SPL4SMGP granules of 2023-06-01 and two of 2023-06-02."""
    folder = tmp_path_factory.mktemp("l4")
    paths = []
    for h in range(8):
        when = dt.datetime(2023, 6, 1, 3 * h + 1, 30)
        paths.append(nsidc.write_l4(str(folder), when, {(ROW, COL): 0.10 + 0.01 * h, (ROW, COL + 1): 0.30},
                                    {(ROW, COL): 0.25}))
    for h in range(2):
        paths.append(nsidc.write_l4(str(folder), dt.datetime(2023, 6, 2, 3 * h + 1, 30), {(ROW, COL): 0.40}))
    return paths


@pytest.fixture(scope="module")
def l3e_days(tmp_path_factory):
    """Two SPL3SMP_E days with AM/PM retrievals, quality flags and out-of-range values around the cell."""
    folder = tmp_path_factory.mktemp("l3e")
    c = (ROW, COL)
    a = (ROW, COL + 1)    # AM not recommended (bit 0), PM fine
    b = (ROW + 1, COL)    # AM retrieval failed (bits 1-2), PM missing
    o = (ROW + 1, COL + 1)  # AM out of the valid range, PM fine
    day1 = nsidc.write_l3(str(folder), DAY, {c: 0.20, a: 0.30, b: 0.35, o: 0.60}, {c: 0.30, a: 0.10, o: 0.15},
                          am_flag={a: 0b0001, b: 0b0110})
    day2 = nsidc.write_l3(str(folder), DAY + dt.timedelta(days=1), {c: 0.40}, {})
    return [day1, day2]


def test_lattice_constants_match_nsidc():
    assert si.M09.x0 == pytest.approx(-17367530.445161372, abs=1e-6)
    assert si.M09.y0 == pytest.approx(7314540.830638504, abs=1e-6)
    assert si.M36.cell == pytest.approx(4 * si.M09.cell) and si.M36.x0 == pytest.approx(si.M09.x0)
    assert (si.M36.rows, si.M36.cols) == (406, 964)
    # the cell holding 41.5 N, 111.9 E: independent formulas and PROJ agree
    assert (ROW, COL) == (273, 3126)
    lon, lat = si.lattice_lonlat(si.M09, (COL, ROW, 1, 1))
    assert abs(lat[0, 0] - 41.5) < 0.06 and abs(lon[0, 0] - 111.9) < 0.06
    rows_lat, cols_lon = nsidc.cell_centres("M09")
    # PROJ's inverse series differs between versions by ~1e-8 degrees (1 mm): far below a cell
    assert lat[0, 0] == pytest.approx(rows_lat[ROW], abs=1e-7) and lon[0, 0] == pytest.approx(cols_lon[COL], abs=1e-7)


def test_l4_daily_mean_placed_on_the_lattice(l4_day, tmp_path):
    out = tmp_path / "out"
    res = si.import_smap(l4_day, str(out), area=AREA)
    assert res.product == "SPL4SMGP" and res.version == "Vv7032"
    assert [os.path.basename(p) for p in res.smap_files] == ["smap_20230601.tif", "smap_20230602.tif"]
    grid = raster.Grid.from_path(res.smap_files[0])
    col0, row0 = (COL - 4, ROW - 3)
    assert grid.transform == pytest.approx((si.M09.x0 + col0 * si.M09.cell, 9008.055210146, 0.0,
                                           si.M09.y0 - row0 * si.M09.cell, 0.0, -9008.055210146), abs=1e-6)
    assert raster.srs_from_wkt(grid.crs_wkt).GetAuthorityCode(None) == "6933"
    assert _value_at(res.smap_files[0], 41.5, 111.9) == pytest.approx(np.mean([0.10 + 0.01 * h for h in range(8)]),
                                                                      abs=1e-6)
    arr = raster.read_all(res.smap_files[0])[0]
    assert arr[ROW - row0, COL - col0 + 1] == pytest.approx(0.30)
    assert np.isfinite(arr).sum() == 2  # every other cell is fill
    assert _value_at(res.smap_files[1], 41.5, 111.9) == pytest.approx(0.40)
    ds = gdal.Open(res.smap_files[0])
    assert ds.GetRasterBand(1).GetDescription() == "sm_surface" and ds.GetRasterBand(1).GetNoDataValue() == -9999
    assert ds.GetMetadataItem("SMD_DATE") == "2023-06-01" and ds.GetMetadataItem("SMD_GRANULES") == "8"


def test_l4_rootzone_and_eight_day_step(l4_day, tmp_path):
    res = si.import_smap(l4_day, str(tmp_path / "o"), area=AREA, layer="sm_rootzone", step="8day")
    # MODIS 8-day calendar: 2023-06-01 is day 152, period starting day 145 (2023-05-25) clipped to the range
    assert [os.path.basename(p) for p in res.smap_files] == ["smap_20230601.tif"]
    assert _value_at(res.smap_files[0], 41.5, 111.9) == pytest.approx(0.25)
    m = read_manifest(res.manifest_path)
    assert m.bands["smap"]["name"] == "sm_rootzone" and m.request["step"] == "8day"
    assert m.request["end"] == "2023-06-02"


def test_time_steps_calendars():
    steps = si.time_steps(dt.date(2023, 12, 20), dt.date(2024, 1, 12), "8day")
    assert [(a.isoformat(), b.isoformat()) for a, b, _ in steps] == [
        ("2023-12-20", "2023-12-27"), ("2023-12-27", "2024-01-01"), ("2024-01-01", "2024-01-09"),
        ("2024-01-09", "2024-01-13")]
    assert [s[2] for s in si.time_steps(dt.date(2023, 6, 1), dt.date(2023, 6, 10), "ndays", 4)] == [
        "20230601", "20230605", "20230609"]
    assert len(si.time_steps(dt.date(2023, 1, 15), dt.date(2023, 3, 1), "monthly")) == 3
    with pytest.raises(InputError, match="reversed"):
        si.time_steps(dt.date(2023, 6, 2), dt.date(2023, 6, 1), "daily")
    with pytest.raises(InputError, match="at least 1"):
        si.time_steps(dt.date(2023, 6, 1), dt.date(2023, 6, 2), "ndays", 0)


@pytest.mark.parametrize("passes,quality,expected", [
    # cells: c (both good), a (AM not recommended), b (AM failed, no PM), o (AM out of valid range)
    ("am", "recommended", {"c": 0.20, "a": None, "b": None, "o": None}),
    ("pm", "recommended", {"c": 0.30, "a": 0.10, "b": None, "o": 0.15}),
    ("mean", "recommended", {"c": 0.25, "a": 0.10, "b": None, "o": 0.15}),
    ("am_then_pm", "recommended", {"c": 0.20, "a": 0.10, "b": None, "o": 0.15}),
    ("am", "retrieved", {"c": 0.20, "a": 0.30, "b": None, "o": None}),
    ("mean", "retrieved", {"c": 0.25, "a": 0.20, "b": None, "o": 0.15}),
])
def test_l3e_masks_and_am_pm(l3e_days, tmp_path, passes, quality, expected):
    res = si.import_smap(l3e_days[:1], str(tmp_path / "o"), area=AREA, passes=passes, quality=quality)
    grid = raster.Grid.from_path(res.smap_files[0])
    col0 = round((grid.transform[0] - si.M09.x0) / si.M09.cell)
    row0 = round((si.M09.y0 - grid.transform[3]) / si.M09.cell)
    arr = raster.read_all(res.smap_files[0])[0]
    cells = {"c": (ROW, COL), "a": (ROW, COL + 1), "b": (ROW + 1, COL), "o": (ROW + 1, COL + 1)}
    for key, want in expected.items():
        r, c = cells[key]
        got = arr[r - row0, c - col0]
        if want is None:
            assert np.isnan(got), (key, got)
        else:
            assert got == pytest.approx(want, abs=1e-6), key
    assert np.isfinite(arr).sum() == sum(v is not None for v in expected.values())


def test_l3e_monthly_average_of_days(l3e_days, tmp_path):
    res = si.import_smap(l3e_days, str(tmp_path / "o"), area=AREA, passes="am", step="monthly",
                         start="2023-06-01", end="2023-06-30")
    assert len(res.smap_files) == 1 and res.granules_used == 2
    assert _value_at(res.smap_files[0], 41.5, 111.9) == pytest.approx(0.30)  # (0.20 + 0.40) / 2
    ds = gdal.Open(res.smap_files[0])
    assert ds.GetMetadataItem("SMD_DATE_END") == "2023-06-30"


def test_l3_36km(tmp_path):
    path = nsidc.write_l3(str(tmp_path), DAY, {(ROW36, COL36): 0.22}, {(ROW36, COL36): 0.18}, short_name="SPL3SMP",
                          crid="R19240")
    res = si.import_smap([path], str(tmp_path / "o"), area=AREA, passes="mean")
    assert res.product == "SPL3SMP"
    grid = raster.Grid.from_path(res.smap_files[0])
    assert grid.res[0] == pytest.approx(36032.220840584)
    assert (grid.transform[0] - si.M36.x0) / si.M36.cell == pytest.approx(round((grid.transform[0] - si.M36.x0)
                                                                              / si.M36.cell), abs=1e-9)
    assert _value_at(res.smap_files[0], 41.5, 111.9) == pytest.approx(0.20)


def test_manifest_and_factor_stacks(l4_day, tmp_path):
    src = tmp_path / "factors_in"
    src.mkdir()
    fine_area = raster.Grid.from_extent(raster.srs_from_user("EPSG:4326").ExportToWkt(), 110.0, 40.0, 114.0, 43.0,
                                        0.01)
    elev = np.full((fine_area.height, fine_area.width), 1200.0, np.float32)
    raster.write_raster(str(src / "elevation.tif"), fine_area, elev)
    for day, value in (("20230601", 0.3), ("20230602", 0.5)):
        raster.write_raster(str(src / f"ndvi_{day}.tif"), fine_area, np.full_like(elev, value))
    files = sorted(str(p) for p in src.iterdir())
    res = si.import_smap(l4_day, str(tmp_path / "o"), area=AREA, factors=files, fine_resolution=1000.0,
                         start="2023-06-01", end="2023-06-02", step="ndays", step_days=2)
    assert len(res.factor_files) == 1
    sm, stacks = manifest_inputs(res.manifest_path)
    assert sm == res.smap_files and stacks == res.factor_files
    ds = gdal.Open(stacks[0])
    assert [ds.GetRasterBand(i + 1).GetDescription() for i in range(ds.RasterCount)] == ["elevation", "ndvi"]
    stack = raster.read_all(stacks[0])
    assert np.nanmean(stack[0]) == pytest.approx(1200.0) and np.nanmean(stack[1]) == pytest.approx(0.4, abs=1e-5)
    fine = raster.Grid.from_path(stacks[0])
    coarse = raster.Grid.from_path(sm[0])
    assert fine.res[0] == 1000.0 and fine.extent[0] <= coarse.extent[0] and fine.extent[2] >= coarse.extent[2]
    doc = json.loads(open(res.manifest_path).read())
    assert doc["bands"]["factors"] == [{"name": "elevation", "unit": "", "kind": "continuous"},
                                       {"name": "ndvi", "unit": "", "kind": "continuous"}]
    assert doc["request"]["step_days"] == 2 and doc["provenance"]["product"] == "SPL4SMGP"
    assert len(doc["provenance"]["granules"]["2023-06-01"]) == 10


# -- bad inputs: clear message, nothing written ---------------------------------------------------------

def _nothing_written(out):
    assert not os.path.exists(out / "manifest.json")
    assert not list(out.glob("smap/*")) and not list(out.glob("factors/*"))


def _other_product(folder):
    """An SPL2SMP_E-like half-orbit file: another NSIDC product, not a gridded L3/L4 granule."""
    drv = gdal.GetDriverByName("netCDF")
    path = os.path.join(folder, "SMAP_L2_SM_P_E_45123_D_20230601T012345_R19240_001.h5")
    ds = drv.CreateMultiDimensional(path, [], ["FORMAT=NC4"])
    g = ds.GetRootGroup().CreateGroup("Soil_Moisture_Retrieval_Data")
    d = ds.GetRootGroup().CreateDimension("phony_dim_0", None, None, 100)
    g.CreateMDArray("soil_moisture", [d], gdal.ExtendedDataType.Create(gdal.GDT_Float32)).Write(np.zeros(100, "f4"))
    ds = None
    return path


BAD_GRANULES = {
    "other_product": "a granule of another SMAP product (L2 half orbit)",
    "truncated": "a truncated HDF5 granule",
    "not_hdf5": "a GeoTIFF named like a granule",
    "empty": "an empty granule file",
    "outside_area": "granules without data in the area",
    "mixed_versions": "granules of two product versions",
    "mixed_products": "granules of two products",
    "subset": "a subsetted granule (not the global grid)",
    "moved_lattice": "a granule whose geolocation is off the lattice",
    "duplicate": "the same granule twice",
    "dates_outside": "no granule in the date range",
    "rootzone_from_l3": "root-zone layer asked from L3",
}


@pytest.mark.parametrize("case", [pytest.param(k, marks=pytest.mark.bad_input(f"importsmap: {v}"), id=k)
                                  for k, v in BAD_GRANULES.items()])
def test_bad_granules(case, l4_day, l3e_days, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    area = AREA
    kwargs = {}
    if case == "other_product":
        files, match = [l4_day[0], _other_product(str(folder))], "not a SMAP L4 .* or L3 .* granule.*Soil_Moisture"
    elif case == "truncated":
        bad = folder / os.path.basename(l4_day[1])
        data = open(l4_day[1], "rb").read()
        bad.write_bytes(data[: len(data) // 2])
        files, match = [l4_day[0], str(bad)], "damaged or incomplete .it has [0-9,]+ bytes but its HDF5 header says " \
            "[0-9,]+: the download was cut short.: download"
    elif case == "not_hdf5":
        bad = folder / "SMAP_L4_SM_gph_20230601T223000_Vv7032_001.h5"
        raster.write_raster(str(bad).replace(".h5", ".tif"), raster.Grid.from_extent(
            raster.srs_from_user("EPSG:4326").ExportToWkt(), 0, 0, 1, 1, 0.5), np.zeros((2, 2), "f4"))
        shutil.move(str(bad).replace(".h5", ".tif"), bad)
        files, match = [str(bad)], "not an HDF5 file"
    elif case == "empty":
        bad = folder / "SMAP_L4_SM_gph_20230601T223000_Vv7032_001.h5"
        bad.write_bytes(b"")
        files, match = [str(bad)], "empty, 0 bytes"
    elif case == "outside_area":  # data only in Inner Mongolia, area over the Sahara
        files, match = l4_day[:2], "No valid SMAP value inside the area"
        area = (10.0, 20.0, 11.0, 21.0, "EPSG:4326")
    elif case == "mixed_versions":
        other = nsidc.write_l4(str(folder), dt.datetime(2023, 6, 1, 22, 30), {(ROW, COL): 0.2}, version="Vv8010")
        files, match = [l4_day[0], other], "different versions: Vv7032 .1 file., Vv8010 .1 file."
    elif case == "mixed_products":
        files, match = [l4_day[0], l3e_days[0]], "mix SMAP products: SPL4SMGP .1 file., SPL3SMP_E .1 file."
    elif case == "subset":
        drv = gdal.GetDriverByName("netCDF")
        path = str(folder / "SMAP_L4_SM_gph_20230601T223000_Vv7032_001.h5")
        ds = drv.CreateMultiDimensional(path, [], ["FORMAT=NC4"])
        root = ds.GetRootGroup()
        dy, dx = root.CreateDimension("y", None, None, 50), root.CreateDimension("x", None, None, 60)
        root.CreateGroup("Geophysical_Data").CreateMDArray(
            "sm_surface", [dy, dx], gdal.ExtendedDataType.Create(gdal.GDT_Float32)).Write(np.zeros((50, 60), "f4"))
        ds = None
        files, match = [path], "50 x 60 array instead of the global 1624 x 3856 .SPL4SMGP. grid: it is a subset"
    elif case == "moved_lattice":  # values placed one column east of where its own cell_lon says
        path = nsidc.write_l4(str(folder), dt.datetime(2023, 6, 1, 22, 30), {(ROW, COL): 0.2}, lon_shift=1)
        files, match = [path], "not on the EASE-Grid 2.0 global 9 km lattice: its cell at row 273, column 3126"
    elif case == "duplicate":
        copy = folder / os.path.basename(l4_day[0]).replace("_001.h5", "_002.h5")
        shutil.copy(l4_day[0], copy)
        files, match = [l4_day[0], str(copy)], "same SPL4SMGP granule"
    elif case == "dates_outside":
        files, match = l4_day[:2], "None of the 2 granule.s. falls in 2024-01-01"
        kwargs = {"start": "2024-01-01", "end": "2024-01-31"}
    else:
        files, match = l3e_days[:1], "SPL3SMP_E has no layer 'sm_rootzone'.*only from SMAP L4"
        kwargs = {"layer": "sm_rootzone"}
    out = tmp_path / "out"
    with pytest.raises(InputError, match=match):
        si.import_smap(files, str(out), area=area, **kwargs)
    _nothing_written(out)


def test_cancel_removes_what_was_written(l4_day, tmp_path):
    calls = {"n": 0}

    def is_canceled():
        calls["n"] += 1
        return calls["n"] > 14  # after the first day's granules have been read and written

    out = tmp_path / "out"
    with pytest.raises(Canceled):
        si.import_smap(l4_day, str(out), area=AREA, is_canceled=is_canceled)
    _nothing_written(out)


def test_product_choice_refuses_other_granules(l4_day, tmp_path):
    with pytest.raises(InputError, match=r"1 granule\(s\) are not SPL3SMP_E: SMAP_L4_SM_gph_20230601T013000"):
        si.import_smap(l4_day[:1], str(tmp_path / "o"), area=AREA, product="L3E")
