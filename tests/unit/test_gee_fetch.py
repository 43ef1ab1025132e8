"""fetch() against the fake Earth Engine server: grids, values, band names, manifest, no secrets, bad inputs."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from osgeo import gdal

from smdownscale.algorithms import raster
from smdownscale.algorithms.errors import Canceled, InputError, SmdError
from smdownscale.algorithms.gee import GeeError, auth
from smdownscale.algorithms.gee.fetch import EASE_CELL, EASE_X0, EASE_Y0, area_geometry, fetch, fine_grid, smap_grid
from smdownscale.algorithms.gee.transport import RetryPolicy
from smdownscale.algorithms.manifest import manifest_inputs, read_manifest
from smdownscale.tests.fake_ee import FakeEarthEngine, Fault, field

TOKEN = "ya29.smd-fetch-test-token-0451"
AREA = (115.80, 41.80, 116.10, 42.05, "EPSG:4326")  # Shandian River, Inner Mongolia
FACTORS = ["ndvi", "lst_day", "landcover"]
FAST = RetryPolicy(base=0.01, cap=0.02)


@pytest.fixture(scope="module")
def key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture
def fake():
    with FakeEarthEngine(access_token=TOKEN) as server:
        yield server


def _run(fake, tmp_path, **kw):
    kw.setdefault("factors", FACTORS)
    kw.setdefault("out_dir", str(tmp_path / "out"))
    kw.setdefault("retry", FAST)
    area = kw.pop("area", AREA)
    start, end = kw.pop("start", "2023-06-01"), kw.pop("end", "2023-06-02")
    return fetch(area, start, end, kw.pop("step", "daily"), project=fake.project, url=fake.url, **kw)


def _expected(grid: raster.Grid, nbands: int) -> np.ndarray:
    x, y = grid.centers(0, grid.height)
    return np.stack([field(x, y, k) for k in range(nbands)])


def _everything_in(folder) -> bytes:
    blob = b""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with open(os.path.join(root, name), "rb") as fh:
                blob += fh.read()
    return blob


def test_fetch_writes_smap_and_factors_on_their_grids_with_the_server_values(fake, tmp_path, key_pem):
    creds = fake.service_account_info(key_pem)
    res = _run(fake, tmp_path, credentials=creds, workers=2)
    out = tmp_path / "out"
    assert [os.path.relpath(p, out) for p in res.smap_files] == ["smap/smap_20230601.tif", "smap/smap_20230602.tif"]
    assert [os.path.relpath(p, out) for p in res.factor_files] == ["factors/factors_20230601.tif",
                                                                  "factors/factors_20230602.tif"]
    # the service-account token was really used for the pixel requests
    pixel_requests = fake.requests_to("computePixels")
    assert len(pixel_requests) == 4
    assert all({k.lower(): v for k, v in r.headers.items()}.get("authorization") == f"Bearer {TOKEN}"
               for r in pixel_requests)

    # SMAP: whole EASE-Grid 2.0 9 km cells covering the area
    sm = raster.Grid.from_path(res.smap_files[0])
    x0, dx, _, y0, _, dy = sm.transform
    assert dx == pytest.approx(EASE_CELL, abs=1e-9) and dy == pytest.approx(-EASE_CELL, abs=1e-9)
    col0, row0 = (x0 - EASE_X0) / EASE_CELL, (EASE_Y0 - y0) / EASE_CELL
    assert abs(col0 - round(col0)) < 1e-6 and abs(row0 - round(row0)) < 1e-6
    assert (round(col0), round(row0)) == (3168, 267)
    assert (sm.width, sm.height) == (4, 4)
    geom, srs = area_geometry(AREA)
    axmin, aymin, axmax, aymax = raster.Grid(srs.ExportToWkt(), (AREA[0], 0.3, 0, AREA[3], 0, -0.25), 1, 1) \
        .extent_in(sm.crs_wkt)
    sxmin, symin, sxmax, symax = sm.extent
    assert sxmin <= axmin < sxmin + EASE_CELL and sxmax - EASE_CELL < axmax <= sxmax
    assert symin <= aymin < symin + EASE_CELL and symax - EASE_CELL < aymax <= symax
    assert sm.srs.GetAuthorityCode(None) == "6933"

    # fine grid: EPSG:6933 at 1 km, on whole kilometres, covering the SMAP cells
    fg = raster.Grid.from_path(res.factor_files[0])
    assert fg.res == (1000.0, 1000.0)
    assert all(v % 1000.0 == 0 for v in (fg.transform[0], fg.transform[3]))
    fxmin, fymin, fxmax, fymax = fg.extent
    assert fxmin <= sxmin < fxmin + 1000 and fxmax - 1000 < sxmax <= fxmax
    assert fymin <= symin < fymin + 1000 and fymax - 1000 < symax <= fymax
    assert (fg.width, fg.height) == (38, 37)

    # values: the fake server's field at each pixel center, band by band
    for path, grid, n in ((res.smap_files[1], sm, 1), (res.factor_files[1], fg, 3)):
        np.testing.assert_allclose(raster.read_all(path), _expected(grid, n), rtol=0, atol=2e-3)

    # band descriptions, kinds, nodata and dates
    ds = gdal.Open(res.factor_files[0])
    assert raster.band_names(ds) == FACTORS
    assert raster.band_kinds(ds) == ["continuous", "continuous", "categorical"]
    assert ds.GetRasterBand(1).GetNoDataValue() == -9999.0
    assert ds.GetMetadataItem("SMD_DATE") == "2023-06-01"
    del ds
    assert raster.band_names(gdal.Open(res.smap_files[0])) == ["sm_surface"]

    # each request carried the right expression on the right grid
    bodies = [json.dumps(r.body) for r in pixel_requests]
    smap_bodies = [b for b in bodies if "NASA/SMAP/SPL4SMGP/008" in b]
    stack_bodies = [b for b in bodies if "MODIS/061/MOD13A2" in b]
    assert len(smap_bodies) == 2 and len(stack_bodies) == 2
    assert all("MODIS/061/MOD11A1" in b and "MODIS/061/MCD12Q1" in b for b in stack_bodies)
    assert all('"scaleX": 1000.0' in b and '"crsCode": "EPSG:6933"' in b for b in stack_bodies)
    assert all(f'"scaleX": {EASE_CELL}' in b for b in smap_bodies)
    for body, (d0, d1) in zip(smap_bodies, (("01", "02"), ("02", "03"))):
        assert f'"end": {{"constantValue": "2023-06-{d1}"}}, "start": {{"constantValue": "2023-06-{d0}"}}' in body

    # manifest: dates, files, bands, units, provenance, and no secret anywhere in the output folder
    m = read_manifest(res.manifest_path)
    assert m.dates == ["2023-06-01", "2023-06-02"]
    assert m.factor_names == FACTORS
    assert m.units == {"ndvi": "1", "lst_day": "K", "landcover": "class", "sm_surface": "m3/m3"}
    assert m.provenance["collections"]["lst_day"] == ["MODIS/061/MOD11A1"]
    assert m.provenance["versions"]["sm_surface"] == "SPL4SMGP version 8"
    assert m.provenance["earthengine_api"] == __import__("ee").__version__
    assert m.request["resolution"] == 1000.0 and m.request["crs"] == "EPSG:6933"
    assert manifest_inputs(res.manifest_path) == (res.smap_files, res.factor_files)
    raw = open(res.manifest_path, encoding="utf-8").read()
    assert all(not os.path.isabs(f["smap"]) for f in json.loads(raw)["files"])
    everything = _everything_in(out)
    assert TOKEN.encode() not in everything
    assert b"PRIVATE KEY" not in everything and creds["private_key_id"].encode() not in everything
    assert not os.path.exists(out / ".cache")  # tile cache removed after success


def test_manifest_path_escape_is_refused(fake, tmp_path):
    res = _run(fake, tmp_path, end="2023-06-01", factors=["elevation"])
    doc = json.loads(open(res.manifest_path).read())
    doc["files"][0]["factors"] = "../../etc/passwd"
    with open(res.manifest_path, "w") as fh:
        json.dump(doc, fh)
    with pytest.raises(InputError, match="points outside the manifest's folder"):
        manifest_inputs(res.manifest_path)


def test_polygon_area_in_utm_and_fine_grid_in_another_crs(fake, tmp_path):
    # a triangle in UTM 50N, fine grid in UTM 50N at 500 m
    poly = {"type": "Polygon", "coordinates": [[[400000, 4630000], [430000, 4630000], [415000, 4655000],
                                                [400000, 4630000]]]}
    res = _run(fake, tmp_path, area=poly, area_crs="EPSG:32650", factors=["slope", "vv"], target_crs="EPSG:32650",
               fine_resolution=500.0, end="2023-06-01")
    fg = raster.Grid.from_path(res.factor_files[0])
    assert fg.res == (500.0, 500.0) and fg.srs.GetAuthorityCode(None) == "32650"
    assert fg.transform[0] % 500 == 0 and fg.transform[3] % 500 == 0
    sm = raster.Grid.from_path(res.smap_files[0])
    xmin, ymin, xmax, ymax = sm.extent_in(fg.crs_wkt)
    assert fg.extent[0] <= xmin and fg.extent[1] <= ymin and fg.extent[2] >= xmax and fg.extent[3] >= ymax
    np.testing.assert_allclose(raster.read_all(res.factor_files[0]), _expected(fg, 2), rtol=0, atol=2e-3)
    body = json.dumps(fake.requests_to("computePixels")[-1].body)
    assert '"crsCode": "EPSG:32650"' in body and "Terrain.slope" in body and "COPERNICUS/S1_GRD" in body
    assert read_manifest(res.manifest_path).request["area"]["geometry"]["type"] == "Polygon"


def test_masked_pixels_become_nodata(tmp_path):
    def mask(x, y, band):
        return (x < np.median(x)) if band == 1 else np.zeros(np.shape(x), bool)

    with FakeEarthEngine(mask=mask) as fake:
        res = _run(fake, tmp_path, end="2023-06-01", factors=["ndvi", "lst_day"])
    arr = raster.read_all(res.factor_files[0])
    assert np.isfinite(arr[0]).all()
    nan_share = np.isnan(arr[1]).mean()
    assert 0.4 < nan_share < 0.6
    assert np.isfinite(raster.read_all(res.smap_files[0])).all()


def test_retries_and_resume_after_cancel(fake, tmp_path):
    fake.inject(Fault.http(503), times=1)
    calls = {"n": 0}

    def cancel_after_first_file():
        calls["n"] += 1
        return len(fake.requests_to("computePixels")) >= 3

    out = tmp_path / "out"
    with pytest.raises(Canceled):
        _run(fake, tmp_path, is_canceled=cancel_after_first_file, workers=1)
    left = sorted(os.path.relpath(os.path.join(r, f), out) for r, _d, fs in os.walk(out) for f in fs)
    assert not [p for p in left if p.endswith(".tif") or p.endswith(".json")]  # nothing but the tile cache
    assert left and all(p.startswith(".cache") and p.endswith(".npy") for p in left)
    before = len(fake.requests_to("computePixels"))
    res = _run(fake, tmp_path)
    assert res.tiles_from_cache == len(left) >= 1
    assert res.tiles_fetched == 4 - res.tiles_from_cache
    assert len(fake.requests_to("computePixels")) - before == res.tiles_fetched
    assert not os.path.exists(out / ".cache")
    assert len(manifest_inputs(res.manifest_path)[0]) == 2


def test_export_starts_tasks_and_records_them(fake, tmp_path):
    res = _run(fake, tmp_path, export="drive", export_target="smd_exports", step="monthly", end="2023-07-31")
    assert [t["kind"] for t in res.tasks] == ["smap", "factors", "smap", "factors"]
    assert [t["file_prefix"] for t in res.tasks] == ["smap_20230601", "factors_20230601", "smap_20230701",
                                                     "factors_20230701"]
    assert len(fake.operations) == 4 and not fake.requests_to("computePixels")
    assert {op.description for op in fake.operations.values()} == {f"smdownscale {t['file_prefix']}" for t in res.tasks}
    body = fake.requests_to("export")[1].body
    assert body["fileExportOptions"]["driveDestination"]["folder"] == "smd_exports"
    m = read_manifest(res.manifest_path)
    assert [e["task"] for e in m.exports] == [t["task"] for t in res.tasks]
    assert not res.smap_files and not os.path.exists(tmp_path / "out" / "smap")
    with pytest.raises(InputError, match="describes Earth Engine export tasks"):
        manifest_inputs(res.manifest_path)


def test_grids_snap_numerically():
    geom, srs = area_geometry((1_000_123.0, 4_500_456.0, 1_050_789.0, 4_530_000.0, "EPSG:6933"))
    sm = smap_grid(geom, srs)
    cols = (np.array([sm.extent[0], sm.extent[2]]) - EASE_X0) / EASE_CELL
    rows = (EASE_Y0 - np.array([sm.extent[3], sm.extent[1]])) / EASE_CELL
    assert np.allclose(cols, np.round(cols), atol=1e-9) and np.allclose(rows, np.round(rows), atol=1e-9)
    assert (sm.width, sm.height) == (math.ceil((1_050_789 - EASE_X0) / EASE_CELL)
                                     - math.floor((1_000_123 - EASE_X0) / EASE_CELL),
                                     math.ceil((EASE_Y0 - 4_500_456) / EASE_CELL)
                                     - math.floor((EASE_Y0 - 4_530_000) / EASE_CELL))
    fg = fine_grid(sm, "EPSG:6933", 1000.0)
    assert fg.transform[0] == math.floor(sm.extent[0] / 1000) * 1000
    assert fg.extent[2] == math.ceil(sm.extent[2] / 1000) * 1000
    with pytest.raises(InputError, match="not finer than SMAP's 9 km cells"):
        fine_grid(sm, "EPSG:6933", 10000.0)


# -- bad inputs: nothing is requested, nothing is written ---------------------------------------

@pytest.mark.parametrize("kwargs, fragment", [
    ({"start": "2023-06-10", "end": "2023-06-01"}, "The date range is reversed"),
    ({"factors": ["ndvi", "soil_colour"]}, "Unknown factor 'soil_colour'. Known factors: vv, vh,"),
    ({"factors": []}, "Choose at least one factor"),
    ({"area": (116.0, 42.0, 115.0, 43.0, "EPSG:4326")}, "is empty: its maximum must be greater"),
    ({"area": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}, "area_crs": "EPSG:4326"},
     r"invalid \(self-intersecting"),
    ({"area": {"type": "Point", "coordinates": [116, 42]}, "area_crs": "EPSG:4326"}, "must be a polygon, not a point"),
    ({"area": {"type": "Polygon", "coordinates": [[]]}, "area_crs": "EPSG:4326"}, "polygon is empty"),
    # GDAL < 3.10 refuses a polygon without rings as GeoJSON, GDAL 3.10+ reads it as an empty polygon
    ({"area": {"type": "Polygon", "coordinates": []}, "area_crs": "EPSG:4326"},
     "not a GeoJSON geometry" if int(gdal.VersionInfo()) < 3100000 else "polygon is empty"),
    ({"step": "weekly"}, "Unknown time step 'weekly'"),
    ({"smap_product": "L3E", "smap_layer": "sm_rootzone"}, "Root-zone soil moisture comes only from SMAP L4"),
    ({"area": (100.0, 38.0, 125.0, 53.0, "EPSG:4326"), "fine_resolution": 100.0},
     "too large for interactive download.*set the export option"),
    ({"export": "gcs"}, "needs a bucket name"),
])
def test_bad_inputs_are_named_and_nothing_is_requested(fake, tmp_path, kwargs, fragment):
    with pytest.raises(InputError, match=fragment):
        _run(fake, tmp_path, **kwargs)
    assert not fake.requests_to("computePixels") and not fake.requests_to("export")
    assert not os.path.exists(tmp_path / "out" / "manifest.json")
    assert not os.path.exists(tmp_path / "out" / "smap")


def test_missing_project_is_explained(tmp_path, monkeypatch):
    for var in (auth.ENV_PROJECT, "EARTHENGINE_PROJECT"):
        monkeypatch.delenv(var, raising=False)
    with FakeEarthEngine() as fake:
        with pytest.raises(GeeError, match="An Earth Engine Cloud project id is required.*SMDOWNSCALE_EE_PROJECT"):
            fetch(AREA, "2023-06-01", "2023-06-01", "daily", ["ndvi"], out_dir=str(tmp_path / "o"), url=fake.url)
        assert not fake.requests_to("computePixels")
    assert not os.path.exists(tmp_path / "o" / "manifest.json")


def test_export_tasks_are_followed_to_the_end(fake, tmp_path):
    fake.task_states = ["PENDING", "RUNNING", "SUCCEEDED"]
    seen = []
    res = _run(fake, tmp_path, export="gcs", export_target="smd-bucket", step="monthly", end="2023-06-30",
               wait_exports=True, export_poll=0.01, progress=seen.append)
    assert [t["state"] for t in res.tasks] == ["SUCCEEDED", "SUCCEEDED"]
    polls = fake.requests_to("operation")
    assert len(polls) >= 2 * 2  # each task polled until it left RUNNING
    assert seen[-1] == pytest.approx(1.0) and seen == sorted(seen)
    assert [e["state"] for e in read_manifest(res.manifest_path).exports] == ["SUCCEEDED", "SUCCEEDED"]


def test_failed_export_task_reports_earth_engines_message(fake, tmp_path):
    fake.task_states = ["PENDING", "FAILED"]
    with pytest.raises(SmdError, match="the destination is not writable"):
        _run(fake, tmp_path, export="drive", step="monthly", end="2023-06-30", wait_exports=True, export_poll=0.01)
    assert not os.path.exists(tmp_path / "out" / "manifest.json")


def test_cancel_while_waiting_cancels_every_export_task(fake, tmp_path):
    fake.task_states = ["PENDING", "RUNNING", "RUNNING", "RUNNING", "SUCCEEDED"]
    calls = {"n": 0}

    def cancel_after_start() -> bool:  # canceled once the tasks are started and being followed
        calls["n"] += 1
        return bool(fake.requests_to("operation"))

    with pytest.raises(Canceled):
        _run(fake, tmp_path, export="drive", step="monthly", end="2023-06-30", wait_exports=True,
             export_poll=0.01, is_canceled=cancel_after_start)
    assert len(fake.requests_to("cancel")) == len(fake.operations) == 2
