"""Tiled Earth Engine downloads against the fake server: exact mosaics, retries, resume, limits."""

from __future__ import annotations

import io
import json
import os
import random
import threading

import ee
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from osgeo import gdal, osr

from smdownscale.algorithms import raster
from smdownscale.algorithms.errors import Canceled, InputError
from smdownscale.algorithms.gee import GeeError, auth, transport
from smdownscale.algorithms.gee.transport import RetryPolicy, Tile, plan_tiles
from smdownscale.tests import fake_ee
from smdownscale.tests.fake_ee import FakeEarthEngine, Fault

BANDS = ["sm", "ndvi", "lst"]


@pytest.fixture
def fake():
    with FakeEarthEngine(bands=tuple(BANDS)) as server:
        auth.initialize(project=server.project, url=server.url, force=True)
        yield server
    assert server.internet_attempts == []


def _grid(width: int = 70, height: int = 50, epsg: int = 6933, x0: float = 1_000_000.0, y0: float = 5_000_000.0,
          res: float = 1000.0) -> raster.Grid:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    return raster.Grid(srs.ExportToWkt(), (x0, res, 0.0, y0, 0.0, -res), width, height)


def _expected(grid: raster.Grid, nbands: int = len(BANDS), mask=None) -> np.ndarray:
    x, y = grid.centers(0, grid.height)
    out = np.stack([fake_ee.field(x, y, k) for k in range(nbands)])
    if mask is not None:
        for k in range(nbands):
            out[k][mask(x, y, k)] = np.nan
    return out


def _image():
    return ee.Image.constant([1, 2, 3]).rename(BANDS)


class Recorder:
    """Stands in for time.sleep: records the delays without waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self.lock:
            self.delays.append(seconds)


def _fetch(tmp_path, grid, name="out.tif", cache="cache", **kw):
    kw.setdefault("sleep", Recorder())
    out = str(tmp_path / name)
    stats = transport.fetch_image(_image(), grid, BANDS, out, str(tmp_path / cache), **kw)
    return out, stats


def _raw(path: str) -> np.ndarray:
    ds = gdal.Open(path)
    return np.stack([ds.GetRasterBand(i + 1).ReadAsArray() for i in range(ds.RasterCount)])


def _leftovers(folder) -> list[str]:
    return [n for n in os.listdir(folder) if ".partial-" in n or n.endswith(".tmp")]


# -- the mosaic -----------------------------------------------------------------------------------
def test_tiles_merge_into_the_exact_field(fake, tmp_path):
    grid = _grid()
    progress: list[float] = []
    out, stats = _fetch(tmp_path, grid, max_side=32, progress=progress.append)
    assert (stats.tiles, stats.fetched, stats.from_cache, stats.retries) == (6, 6, 0, 0)
    assert stats.bytes > 70 * 50 * 3 * 4
    ds = gdal.Open(out)
    assert (ds.RasterXSize, ds.RasterYSize, ds.RasterCount) == (70, 50, 3)
    assert ds.GetGeoTransform() == grid.transform
    assert [ds.GetRasterBand(i + 1).GetDescription() for i in range(3)] == BANDS
    assert ds.GetRasterBand(1).GetNoDataValue() == -9999.0
    assert ds.GetRasterBand(1).DataType == gdal.GDT_Float32
    np.testing.assert_array_equal(raster.read_all(out), _expected(grid))
    assert progress[-1] == 1.0 and progress == sorted(progress) and len(progress) >= 6
    # Every request stayed within the tile plan, asked for NPY, the bands and masked pixels as -9999.
    reqs = fake.requests_to("computePixels")
    assert len(reqs) == 6
    tiles = plan_tiles(grid, 3, max_side=32)
    sent = sorted((r.body["grid"]["affineTransform"]["translateX"], r.body["grid"]["affineTransform"]["translateY"],
                   r.body["grid"]["dimensions"]["width"], r.body["grid"]["dimensions"]["height"]) for r in reqs)
    planned = sorted((1_000_000.0 + t.col0 * 1000.0, 5_000_000.0 - t.row0 * 1000.0, t.cols, t.rows) for t in tiles)
    assert sent == planned
    for r in reqs:
        assert r.body["fileFormat"] == "NPY" and r.body["bandIds"] == BANDS
        assert r.body["grid"]["crsCode"] == "EPSG:6933"
        assert fake_ee.find_unmask_value(r.body["expression"]) == -9999.0
    # The tile cache is removed after success, nothing partial is left.
    assert os.listdir(tmp_path) == ["out.tif"]


def test_any_tiling_gives_the_same_file_contents(fake, tmp_path):
    grid = _grid(45, 37)
    one, s1 = _fetch(tmp_path, grid, "one.tif", "c1", max_side=1024)
    many, s2 = _fetch(tmp_path, grid, "many.tif", "c2", max_side=7, workers=3)
    assert (s1.tiles, s2.tiles) == (1, 42)
    np.testing.assert_array_equal(_raw(one), _raw(many))


def test_masked_pixels_become_nodata(tmp_path):
    def mask(x, y, band):
        return (x < 1_010_000.0) if band == 1 else np.zeros(np.shape(x), bool)

    with FakeEarthEngine(bands=tuple(BANDS), mask=mask) as server:
        auth.initialize(project=server.project, url=server.url, force=True)
        grid = _grid(30, 20)
        out, _ = _fetch(tmp_path, grid, max_side=16)
    raw = _raw(out)
    assert (raw[1][:, :10] == -9999.0).all() and (raw[1][:, 10:] > 1000).all()
    assert (raw[0] > 0).all()
    np.testing.assert_array_equal(raster.read_all(out), _expected(grid, mask=mask))


def test_custom_crs_is_sent_as_wkt_and_geographic_as_epsg(fake, tmp_path):
    srs = osr.SpatialReference()
    srs.ImportFromProj4("+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +datum=WGS84 +units=m +no_defs")
    grid = raster.Grid(srs.ExportToWkt(), (0.0, 1000.0, 0.0, 4_000_000.0, 0.0, -1000.0), 20, 10)
    assert "crsWkt" in transport.pixel_grid(grid)
    out, _ = _fetch(tmp_path, grid, max_side=8)
    np.testing.assert_array_equal(raster.read_all(out), _expected(grid))
    assert fake.requests_to("computePixels")[0].body["grid"]["crsWkt"].startswith("PROJCS")
    geo = _grid(10, 10, epsg=4326, x0=110.0, y0=45.0, res=0.01)
    assert transport.pixel_grid(geo) == {
        "dimensions": {"width": 10, "height": 10},
        "affineTransform": {"scaleX": 0.01, "shearX": 0.0, "translateX": 110.0, "shearY": 0.0, "scaleY": -0.01,
                            "translateY": 45.0},
        "crsCode": "EPSG:4326"}


def test_serialized_expression_is_accepted_and_shares_the_cache(fake, tmp_path):
    grid = _grid(20, 10)
    text = ee.serializer.toJSON(_image())
    a = transport.serialize(transport.prepare_expression(text, -9999.0))
    b = transport.serialize(transport.prepare_expression(_image(), -9999.0))
    assert a == b
    out, _ = _fetch(tmp_path, grid, max_side=8, keep_cache=True)
    n = len(fake.requests_to("computePixels"))
    stats = transport.fetch_image(text, grid, BANDS, str(tmp_path / "again.tif"), str(tmp_path / "cache"),
                                  max_side=8)
    assert stats.from_cache == stats.tiles == 6 and stats.fetched == 0
    assert len(fake.requests_to("computePixels")) == n
    np.testing.assert_array_equal(_raw(out), _raw(str(tmp_path / "again.tif")))
    with pytest.raises(InputError, match="Expected an Earth Engine image"):
        transport.prepare_expression(42, -9999.0)


# -- retries --------------------------------------------------------------------------------------
def test_429_500_503_are_retried_with_exponential_backoff(fake, tmp_path):
    grid = _grid(20, 10)
    for status in (429, 500, 503):
        fake.inject(Fault.http(status))
    sleep = Recorder()
    logged: list[str] = []
    out, stats = _fetch(tmp_path, grid, workers=1, sleep=sleep, log=logged.append,
                        retry=RetryPolicy(max_attempts=6, base=1.0, cap=60.0, jitter=False))
    assert sleep.delays == [1.0, 2.0, 4.0]
    assert stats.retries == 3 and stats.delays == [1.0, 2.0, 4.0]
    assert len(fake.requests_to("computePixels")) == 4
    np.testing.assert_array_equal(raster.read_all(out), _expected(grid))
    assert [line.split(":")[1].split("(")[0].strip() for line in logged] == ["HTTP 429", "HTTP 500", "HTTP 503"]
    assert "retry 3 of 5 in 4.0 s" in logged[2]


def test_jittered_backoff_stays_within_its_exponential_bounds(fake, tmp_path):
    grid = _grid(20, 10)
    fake.inject(Fault.http(503), times=5)
    sleep = Recorder()
    out, stats = _fetch(tmp_path, grid, workers=1, sleep=sleep, retry=RetryPolicy(max_attempts=6, base=0.5, cap=3.0))
    assert len(sleep.delays) == 5
    bounds = [0.5, 1.0, 2.0, 3.0, 3.0]
    assert all(0.0 <= d <= b for d, b in zip(sleep.delays, bounds))
    assert sleep.delays != bounds  # jitter: not the plain bounds
    np.testing.assert_array_equal(raster.read_all(out), _expected(grid))
    # Over many draws full jitter fills its range: mean close to half the bound.
    rng = random.Random(1)
    draws = [RetryPolicy(base=1.0).delay(4, rng) for _ in range(4000)]
    assert max(draws) <= 8.0 and abs(np.mean(draws) - 4.0) < 0.2


def test_backoff_spacing_is_real_between_requests(fake, tmp_path):
    grid = _grid(20, 10)
    fake.inject(Fault.http(503), times=2)
    _fetch(tmp_path, grid, workers=1, sleep=None, retry=RetryPolicy(base=0.1, jitter=False))
    times = [r.time for r in fake.requests_to("computePixels")]
    assert len(times) == 3
    gaps = np.diff(times)
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2


def test_retry_after_header_is_respected(fake, tmp_path):
    fake.inject(Fault.http(429, "Too many concurrent aggregations.", retry_after=7))
    sleep = Recorder()
    _fetch(tmp_path, _grid(20, 10), workers=1, sleep=sleep)
    assert len(sleep.delays) == 1 and 7.0 <= sleep.delays[0] <= 60.0


def test_slow_response_beyond_the_timeout_is_retried(fake, tmp_path):
    grid = _grid(20, 10)
    fake.inject(Fault.slow(60.0))  # answers after 60 s (or when the server closes): only a timeout gets past it
    deadline = ee.data._get_state().deadline_ms
    out, stats = _fetch(tmp_path, grid, workers=1, timeout=1.0)
    # the client gave up on the hanging request and asked again (waiting for the answer would need no retry)
    assert stats.retries == 1 and len(fake.requests_to("computePixels")) == 2
    assert ee.data._get_state().deadline_ms == deadline  # the client's own timeout is restored
    np.testing.assert_array_equal(raster.read_all(out), _expected(grid))


def test_connection_dropped_mid_body_is_retried(fake, tmp_path):
    grid = _grid(40, 30)
    fake.inject(Fault.drop(), times=2)
    out, stats = _fetch(tmp_path, grid, workers=1)
    assert stats.retries == 2 and len(fake.requests_to("computePixels")) == 3
    np.testing.assert_array_equal(raster.read_all(out), _expected(grid))


@pytest.mark.parametrize("how", ["garbage", "short", "shape", "bands"])
def test_corrupt_payload_is_detected_and_fetched_again(fake, tmp_path, how):
    grid = _grid(20, 10)
    fake.inject(Fault.corrupt_payload(how))
    logged: list[str] = []
    out, stats = _fetch(tmp_path, grid, workers=1, log=logged.append)
    assert stats.retries == 1 and len(fake.requests_to("computePixels")) == 2
    assert "damaged answer" in logged[0]
    np.testing.assert_array_equal(raster.read_all(out), _expected(grid))


def test_retries_give_up_after_max_attempts(fake, tmp_path):
    fake.inject(Fault.http(503), times=None)
    sleep = Recorder()
    with pytest.raises(GeeError) as err:
        _fetch(tmp_path, _grid(20, 10), workers=1, sleep=sleep, retry=RetryPolicy(max_attempts=3))
    assert err.value.kind == "server"
    assert "failed 3 times" in str(err.value) and "The service is currently unavailable." in str(err.value)
    assert len(fake.requests_to("computePixels")) == 3 and len(sleep.delays) == 2
    assert not os.path.exists(tmp_path / "out.tif") and _leftovers(tmp_path) == []


# -- errors that retrying cannot fix ---------------------------------------------------------------
def test_unregistered_project_fails_at_once_with_a_clear_message(fake, tmp_path):
    fake.inject(fake_ee.unregistered_project(fake.project), times=None)
    sleep = Recorder()
    with pytest.raises(GeeError) as err:
        _fetch(tmp_path, _grid(), workers=1, max_side=32, sleep=sleep)
    msg = str(err.value)
    assert err.value.kind == "project"
    assert "The Cloud project 'test-project' cannot use Earth Engine" in msg
    assert "https://code.earthengine.google.com/register" in msg
    assert "not registered to use Earth Engine" in msg  # the original message is appended
    assert len(fake.requests_to("computePixels")) == 1 and sleep.delays == []
    assert not os.path.exists(tmp_path / "out.tif") and _leftovers(tmp_path) == []


def test_request_too_large_says_to_export(fake, tmp_path):
    fake.inject(fake_ee.request_too_large(), times=None)
    with pytest.raises(GeeError) as err:
        _fetch(tmp_path, _grid(20, 10), workers=1)
    assert err.value.kind == "too_large"
    assert str(err.value).startswith("The area is too large for interactive download; reduce the area or "
                                     "resolution, or use the export option (Export to Drive/Cloud Storage).")
    assert "must be less than or equal to 50331648 bytes" in str(err.value)
    assert len(fake.requests_to("computePixels")) == 1


def test_fake_server_enforces_earth_engine_limits(fake):
    """The plan keeps every request within limits the fake server enforces like Earth Engine."""
    grid = {"dimensions": {"width": 2049, "height": 2048}, "crsCode": "EPSG:4326",
            "affineTransform": {"scaleX": 0.01, "scaleY": -0.01, "translateX": 0, "translateY": 0}}
    with pytest.raises(ee.EEException, match="must be less than or equal to 50331648 bytes"):
        ee.data.computePixels({"expression": _image(), "fileFormat": "NPY", "grid": grid,
                               "bandIds": BANDS})
    tiles = plan_tiles(_grid(2048, 2048), 3)
    assert all(t.rows * t.cols * 3 * 4 <= transport.DEFAULT_MAX_BYTES for t in tiles)


# -- cancel and resume ----------------------------------------------------------------------------
def test_interrupted_run_resumes_from_its_tile_cache(fake, tmp_path):
    grid = _grid(60, 40)
    calls = {"n": 0}

    def progress(_f):
        calls["n"] += 1

    with pytest.raises(Canceled):
        _fetch(tmp_path, grid, "out.tif", "cache", max_side=16, workers=2, progress=progress,
               is_canceled=lambda: calls["n"] >= 5)
    assert not os.path.exists(tmp_path / "out.tif") and _leftovers(tmp_path) == []
    cached = [n for n in os.listdir(tmp_path / "cache") if n.endswith(".npy")]
    first = len(fake.requests_to("computePixels"))
    assert 5 <= len(cached) < 12 and first == len(cached)

    out, stats = _fetch(tmp_path, grid, "out.tif", "cache", max_side=16, workers=2)
    assert (stats.tiles, stats.from_cache, stats.fetched) == (12, len(cached), 12 - len(cached))
    assert len(fake.requests_to("computePixels")) - first == 12 - len(cached)

    ref, _ = _fetch(tmp_path, grid, "ref.tif", "fresh", max_side=16, workers=2)
    np.testing.assert_array_equal(_raw(out), _raw(ref))
    np.testing.assert_array_equal(raster.read_all(out), _expected(grid))


def test_failed_run_keeps_finished_tiles(fake, tmp_path):
    grid = _grid(48, 16)
    # Three tiles: two answered, then the permission is gone.
    fake.inject(Fault.ok(), times=2)
    fake.inject(fake_ee.permission_denied(fake.project), times=None)
    with pytest.raises(GeeError, match="cannot use Earth Engine"):
        _fetch(tmp_path, grid, max_side=16, workers=1)
    assert len(fake.requests_to("computePixels")) == 3
    assert len([n for n in os.listdir(tmp_path / "cache") if n.endswith(".npy")]) == 2
    fake.clear_faults()
    out, stats = _fetch(tmp_path, grid, max_side=16, workers=1)
    assert (stats.from_cache, stats.fetched) == (2, 1)
    np.testing.assert_array_equal(raster.read_all(out), _expected(grid))


def test_damaged_cache_file_is_fetched_again(fake, tmp_path):
    grid = _grid(32, 16)
    _fetch(tmp_path, grid, "a.tif", max_side=16, keep_cache=True)
    files = sorted((tmp_path / "cache").iterdir())
    assert len(files) == 2
    files[0].write_bytes(b"\x93NUMPY garbage")
    n = len(fake.requests_to("computePixels"))
    out, stats = _fetch(tmp_path, grid, "b.tif", max_side=16)
    assert (stats.from_cache, stats.fetched) == (1, 1) and len(fake.requests_to("computePixels")) == n + 1
    np.testing.assert_array_equal(raster.read_all(out), _expected(grid))


def test_cancel_before_start_writes_nothing(fake, tmp_path):
    with pytest.raises(Canceled):
        _fetch(tmp_path, _grid(20, 10), is_canceled=lambda: True)
    assert not os.path.exists(tmp_path / "out.tif") and fake.requests_to("computePixels") == []


def test_invalid_band_lists_are_rejected(fake, tmp_path):
    with pytest.raises(InputError, match="at least one factor"):
        transport.fetch_image(_image(), _grid(), [], str(tmp_path / "o.tif"), str(tmp_path / "c"))
    with pytest.raises(InputError, match="unique"):
        transport.fetch_image(_image(), _grid(), ["a", "a"], str(tmp_path / "o.tif"), str(tmp_path / "c"))


# -- tile plan ------------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(width=st.integers(1, 120_000), height=st.integers(1, 120_000), bands=st.integers(1, 64),
       max_side=st.integers(1, 40_000), max_mb=st.floats(0.01, 60.0), bpv=st.sampled_from([1, 2, 4, 8]))
def test_plan_tiles_respects_limits_and_covers_the_grid(width, height, bands, max_side, max_mb, bpv):
    grid = raster.Grid("", (0.0, 1.0, 0.0, 0.0, 0.0, -1.0), width, height)
    max_bytes = int(max_mb * 2**20)
    if bands * bpv > min(max_bytes, transport.MAX_REQUEST_BYTES):
        with pytest.raises(GeeError):
            plan_tiles(grid, bands, bpv, max_bytes, max_side)
        return
    side = min(max_side, 32768)
    assume(width * height / min(side * side, max_bytes // (bands * bpv)) <= 2000)  # keep the plan small
    tiles = plan_tiles(grid, bands, bpv, max_bytes, max_side)
    limit_side = min(max_side, 32768)
    for t in tiles:
        assert 1 <= t.rows <= limit_side and 1 <= t.cols <= limit_side
        assert t.rows * t.cols * bands * bpv <= min(max_bytes, 48 * 2**20)
    rows = sorted({(t.row0, t.rows) for t in tiles})
    cols = sorted({(t.col0, t.cols) for t in tiles})
    assert len(tiles) == len(rows) * len(cols)
    assert rows[0][0] == 0 and all(a[0] + a[1] == b[0] for a, b in zip(rows, rows[1:]))
    assert rows[-1][0] + rows[-1][1] == height
    assert cols[0][0] == 0 and all(a[0] + a[1] == b[0] for a, b in zip(cols, cols[1:]))
    assert cols[-1][0] + cols[-1][1] == width
    assert sum(t.rows * t.cols for t in tiles) == width * height


def test_plan_tiles_defaults():
    assert plan_tiles(_grid(100, 80), 3) == [Tile(0, 0, 80, 100)]
    tiles = plan_tiles(_grid(3000, 2500), 20)  # 20 bands: 1024 px tiles would exceed 38.4 MiB
    assert max(t.rows * t.cols * 80 for t in tiles) <= transport.DEFAULT_MAX_BYTES
    assert max(max(t.rows, t.cols) for t in tiles) <= 1024
    assert len({(t.rows, t.cols) for t in tiles}) <= 4  # evened out: no slivers
    assert min(t.rows for t in tiles) >= 0.9 * max(t.rows for t in tiles)
    with pytest.raises(GeeError, match="fewer bands"):
        plan_tiles(_grid(), 10, bytes_per_value=4, max_bytes=32)
    tile = Tile(10, 20, 5, 6)
    assert tile.grid(_grid()).transform == (1_020_000.0, 1000.0, 0.0, 4_990_000.0, 0.0, -1000.0)


# -- payload decoding -----------------------------------------------------------------------------
def _npy(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def test_decode_npy_accepts_earth_engine_shapes_and_rejects_the_rest():
    structured = np.zeros((2, 3), dtype=[("a", "<f4"), ("b", "<i2")])
    structured["a"] = [[1, 2, -9999], [4, np.nan, 6]]
    structured["b"] = 7
    out = transport.decode_npy(_npy(structured), 2, 3, ["b", "a"], -9999.0)
    assert out.dtype == np.float32 and out.shape == (2, 2, 3)
    assert (out[0] == 7).all()
    np.testing.assert_array_equal(out[1], [[1, 2, np.nan], [4, np.nan, 6]])
    masked = np.ma.masked_array(np.arange(6, dtype=np.float32).reshape(2, 3), mask=[[1, 0, 0], [0, 0, 1]])
    out = transport.decode_npy(masked, 2, 3, ["x"], -9999.0)
    np.testing.assert_array_equal(out[0], [[np.nan, 1, 2], [3, 4, np.nan]])
    plain = np.arange(12, dtype=np.uint8).reshape(2, 3, 2)
    np.testing.assert_array_equal(transport.decode_npy(_npy(plain), 2, 3, ["p", "q"], -9999.0)[1],
                                  [[1, 3, 5], [7, 9, 11]])
    bad = [b"", b"junk", _npy(np.array([{"a": 1}], dtype=object)), _npy(np.zeros((3, 2), np.float32)),
           _npy(np.array([["x", "y", "z"]] * 2))]
    for data in bad:
        with pytest.raises(transport._CorruptTileError):
            transport.decode_npy(data, 2, 3, ["x"], -9999.0)


# -- the fake server itself -------------------------------------------------------------------------
def test_fake_server_geotiff_and_value_compute(fake):
    grid = {"dimensions": {"width": 5, "height": 4}, "crsCode": "EPSG:6933",
            "affineTransform": {"scaleX": 1000.0, "shearX": 0, "translateX": 2000.0, "shearY": 0,
                                "scaleY": -1000.0, "translateY": 9000.0}}
    data = ee.data.computePixels({"expression": _image(), "fileFormat": "GEO_TIFF", "grid": grid,
                                  "bandIds": ["sm", "lst"]})
    name = "/vsimem/test_fake_ee.tif"
    gdal.FileFromMemBuffer(name, data)
    try:
        ds = gdal.Open(name)
        assert ds.GetGeoTransform() == (2000.0, 1000.0, 0.0, 9000.0, 0.0, -1000.0)
        x, y = fake_ee.grid_centers(grid)
        np.testing.assert_array_equal(ds.GetRasterBand(2).ReadAsArray(), fake_ee.field(x, y, 1))
        assert ds.GetRasterBand(2).GetDescription() == "lst"
    finally:
        gdal.Unlink(name)
    arr = ee.data.computePixels({"expression": _image(), "fileFormat": "NUMPY_NDARRAY", "grid": grid})
    assert arr.dtype.names == tuple(BANDS) and arr.shape == (4, 5)
    assert ee.Number(42).getInfo() == 42
    fake.compute_result = {"bands": [{"id": "sm"}]}
    assert ee.Image(1).getInfo() == {"bands": [{"id": "sm"}]}
    body = fake.requests_to("compute")[-1].body
    assert json.dumps(body["expression"]).count("Image.constant") == 1


# -- export tasks -----------------------------------------------------------------------------------
def test_export_to_drive_is_started_and_followed_to_the_end(fake):
    grid = _grid(400, 300)
    name = transport.start_export(_image(), grid, BANDS, "SMAP 2024-06-01/fine", folder="smd")
    assert name.startswith("projects/test-project/operations/")
    body = fake.requests_to("export")[0].body
    assert body["description"] == "SMAP 2024-06-01_fine"
    assert body["fileExportOptions"]["driveDestination"] == {"folder": "smd", "filenamePrefix": "SMAP 2024-06-01_fine"}
    assert fake_ee.find_unmask_value(body["expression"]) == -9999.0
    sleep = Recorder()
    progress: list[float] = []
    status = transport.wait_for_export(name, progress=progress.append, poll=5.0, sleep=sleep)
    assert status["state"] == "SUCCEEDED" and status["destination_uris"]
    assert progress[-1] == 1.0 and sleep.delays == [5.0]


def test_export_failure_and_cancel(fake):
    fake.task_states = ["PENDING", "RUNNING", "FAILED"]
    name = transport.start_export(_image(), _grid(), BANDS, "x", destination="gcs", bucket="bk", prefix="a/b")
    assert fake.requests_to("export")[0].body["fileExportOptions"]["cloudStorageDestination"] == {
        "bucket": "bk", "filenamePrefix": "a/b"}
    with pytest.raises(GeeError, match="ended as FAILED: Export failed: the destination is not writable"):
        transport.wait_for_export(name, sleep=Recorder())
    fake.task_states = ["PENDING", "RUNNING", "RUNNING", "SUCCEEDED"]
    name = transport.start_export(_image(), _grid(), BANDS, "y")
    polls = {"n": 0}

    def canceled():
        polls["n"] += 1
        return polls["n"] > 2

    with pytest.raises(Canceled, match="export task was canceled"):
        transport.wait_for_export(name, is_canceled=canceled, sleep=Recorder())
    assert len(fake.requests_to("cancel")) == 1
    assert ee.data.getOperation(name)["metadata"]["state"] == "CANCELLED"
    with pytest.raises(InputError, match="needs a bucket"):
        transport.start_export(_image(), _grid(), BANDS, "z", destination="gcs")


def test_tiles_stay_within_the_source_pixel_budget():
    # 1 km tiles over 10 m data: ~10^4 source pixels behind every output pixel
    grid = _grid(2048, 2048)
    tiles = plan_tiles(grid, 2, input_per_pixel=1.0e4)
    assert all(t.rows * t.cols * 1.0e4 <= transport.DEFAULT_MAX_INPUT_PIXELS for t in tiles)
    assert sum(t.rows * t.cols for t in tiles) == grid.size
    assert len(tiles) > len(plan_tiles(grid, 2))  # more, smaller requests than sizing by bytes alone
    with pytest.raises(GeeError, match="source pixels"):
        plan_tiles(grid, 1, input_per_pixel=1e9)
