"""Damaged or incomplete rasters (a download or export cut short) give the engine's own error, naming the file.

Real truncated GeoTIFFs of the two common layouts: tiled DEFLATE (as the engine writes) and stripped
uncompressed (as many other tools write), cut mid-file, inside the header (IFD), to nothing, and by the
end of the last tile. A file that is merely without CRS still says so.
"""

from __future__ import annotations

import gc
import os
import pathlib
import re

import numpy as np
import pytest
from osgeo import gdal

from smdownscale.algorithms import align, raster, validate
from smdownscale.algorithms.errors import InputError
from smdownscale.algorithms.raster import Grid, srs_from_user

FIX = "download or export it again."


def _grid(w=300, h=200):
    return Grid(srs_from_user("EPSG:32650").ExportToWkt(), (500000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), w, h)


def _values(nbands=3, h=200, w=300):
    return np.random.default_rng(0).random((nbands, h, w)).astype(np.float32)


def _stripped(path: str, crs: bool = True) -> str:
    """An uncompressed, stripped float32 GeoTIFF written with GDAL's defaults."""
    grid = _grid()
    ds = gdal.GetDriverByName("GTiff").Create(path, grid.width, grid.height, 3, gdal.GDT_Float32)
    ds.SetGeoTransform(grid.transform)
    if crs:
        ds.SetProjection(grid.crs_wkt)
    for k, arr in enumerate(_values()):
        ds.GetRasterBand(k + 1).WriteArray(arr)
    ds = None
    return path


def _cut(src: str, dst: str, keep: int) -> str:
    """A copy of ``src`` with only its first ``keep`` bytes (``keep`` < 0: all but the last -keep)."""
    data = pathlib.Path(src).read_bytes()
    pathlib.Path(dst).write_bytes(data[:keep])
    return dst


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("damaged")
    tiled = raster.write_raster(str(d / "tiled.tif"), _grid(), _values(), names=["a", "b", "c"])
    stripped = _stripped(str(d / "stripped.tif"))
    tiled_size, stripped_size = os.path.getsize(tiled), os.path.getsize(stripped)
    return {
        "tiled": tiled,
        "stripped": stripped,
        "tiled_half": _cut(tiled, str(d / "tiled_half.tif"), tiled_size // 2),
        "stripped_half": _cut(stripped, str(d / "stripped_half.tif"), stripped_size // 2),
        "tiled_header": _cut(tiled, str(d / "tiled_header.tif"), 300),  # inside the tags' data: CRS tags lost
        "stripped_header": _cut(stripped, str(d / "stripped_header.tif"), 300),  # inside the IFD
        "tiled_last": _cut(tiled, str(d / "tiled_last.tif"), -200),  # the last tile lacks its end
        "empty": _cut(tiled, str(d / "empty.tif"), 0),
        "nocrs": _stripped(str(d / "nocrs.tif"), crs=False),
    }


@pytest.fixture(autouse=True)
def _free_datasets():
    """Datasets held by the frames of caught errors are closed after each test, while GDAL is alive (collected
    at interpreter exit, after QGIS has shut GDAL down, they crash it)."""
    yield
    gc.collect()


def _msg(path: str, detail: str) -> str:
    return re.escape(f"{path} is damaged or incomplete (") + detail + re.escape(f"): {FIX}") + "$"


TILE_READ = r"band 1: IReadBlock failed at X offset \d+, Y offset \d+: TIFFReadEncodedTile\(\) failed"
STRIP_READ = r"band 1: IReadBlock failed at X offset \d+, Y offset \d+: TIFFReadEncodedStrip\(\) failed"
TAG_LOST = r'TIFFFetchNormalTag:IO error during reading of "GeoPixelScale"; tag ignored'


@pytest.mark.parametrize("key, detail", [
    ("tiled_half", TILE_READ),
    ("stripped_half", STRIP_READ),
    ("tiled_header", TAG_LOST),
    ("stripped_header", re.escape('TIFFReadDirectory:IO error during reading of "SampleFormat"')),
    ("tiled_last", r"band 1: IReadBlock failed at X offset 1, Y offset 0: TIFFReadEncodedTile\(\) failed"),
    ("empty", re.escape("the file is empty, 0 bytes")),
])
def test_open_raster_reports_damaged_file(files, key, detail):
    with pytest.raises(InputError) as err:
        raster.open_raster(files[key])
    assert re.match(_msg(files[key], detail), str(err.value)), str(err.value)
    assert "coordinate reference system" not in str(err.value)


def test_header_cut_short_is_not_reported_as_missing_crs(files):
    path = files["tiled_header"]
    ds = gdal.Open(path)  # opened by other means: GDAL gives no CRS, only warnings
    assert ds.GetProjection() == ""
    with pytest.raises(InputError) as err:
        Grid.from_dataset(ds, path)
    assert re.match(_msg(path, TILE_READ), str(err.value)), str(err.value)
    with pytest.raises(InputError) as err:
        Grid.from_path(path)
    assert str(err.value) == (f'{path} is damaged or incomplete (TIFFFetchNormalTag:IO error during reading of '
                              f'"GeoPixelScale"; tag ignored): {FIX}')


def test_valid_file_without_crs_still_says_so(files):
    path = files["nocrs"]
    with pytest.raises(InputError) as err:
        Grid.from_path(path)
    assert str(err.value) == (f"{path} has no coordinate reference system; assign one (e.g. with 'Assign "
                              "projection' in QGIS or gdal_edit.py -a_srs) and run again.")


def test_intact_files_open_and_read(files):
    for key in ("tiled", "stripped"):
        got = raster.read_all(files[key])
        np.testing.assert_array_equal(got, _values())


@pytest.mark.parametrize("key, detail", [("tiled_half", TILE_READ), ("stripped_half", STRIP_READ)])
def test_read_block_reports_damaged_file(files, key, detail):
    ds = gdal.Open(files[key])  # not through open_raster, which would refuse it before any read
    with pytest.raises(InputError) as err:
        raster.read_block(ds, 0, ds.RasterYSize)
    assert re.match(_msg(files[key], detail), str(err.value)), str(err.value)


def test_read_failure_of_a_warped_raster_names_its_source(files):
    src = files["tiled_half"]
    src_ds = gdal.Open(src)  # must outlive the warped dataset reading it
    warped = gdal.Warp("", src_ds, format="VRT", dstSRS="EPSG:32650", outputType=gdal.GDT_Float32)
    with pytest.raises(InputError) as err:
        raster.read_block(warped, 0, 10, [1], sources=[files["tiled"], src])
    assert re.match(_msg(src, TILE_READ), str(err.value)), str(err.value)
    del err, warped, src_ds  # the warped dataset first: it reads the other
    # GDAL's message names neither: all sources are named
    exc = RuntimeError("IReadBlock failed at X offset 0, Y offset 0: TIFFReadEncodedTile() failed.")
    mapped = raster.read_failure(exc, ["/data/a.tif", "/data/b.tif"])
    assert str(mapped) == ("One of /data/a.tif, /data/b.tif is damaged or incomplete (IReadBlock failed at X offset "
                           f"0, Y offset 0: TIFFReadEncodedTile() failed): {FIX}")


def test_read_failure_leaves_other_errors_alone():
    assert raster.read_failure(RuntimeError("Access window out of range in RasterIO()."), ["/a.tif"]) is None
    assert raster.read_failure(RuntimeError("/a.tif: Write error at scanline 3: No space left on device"),
                               ["/a.tif"]) is None
    assert raster.read_failure(ValueError("IReadBlock failed"), ["/a.tif"]) is None


def test_align_reports_damaged_factor_raster(files, tmp_path):
    out = str(tmp_path / "aligned.tif")
    with pytest.raises(InputError) as err:
        align.align_rasters([files["tiled"], files["stripped_half"]], _grid(150, 100), out)
    assert re.match(_msg(files["stripped_half"], STRIP_READ), str(err.value)), str(err.value)
    assert os.listdir(tmp_path) == []


def test_validate_reports_damaged_reference(files, tmp_path):
    est = raster.write_raster(str(tmp_path / "sm_20230601.tif"), _grid(), _values(1)[0])
    with pytest.raises(InputError) as err:
        validate.validate(est, reference=files["tiled_last"])
    assert re.match(_msg(files["tiled_last"], r"band 1: IReadBlock failed at X offset 1, Y offset 0: "
                                              r"TIFFReadEncodedTile\(\) failed"), str(err.value)), str(err.value)
