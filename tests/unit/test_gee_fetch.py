"""fetch() against the fake Earth Engine server: grids, values, band names, manifest, no secrets, bad inputs."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import os
import re

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from osgeo import gdal

from smdownscale.algorithms import raster
from smdownscale.algorithms.errors import Canceled, InputError, SmdError
from smdownscale.algorithms.gee import GeeError, auth
from smdownscale.algorithms.gee.catalog import load_catalog
from smdownscale.algorithms.gee.fetch import area_geometry, fetch, fine_grid, smap_grid
from smdownscale.algorithms.gee.request import Connection, FetchRequest
from smdownscale.algorithms.gee.transport import RetryPolicy
from smdownscale.algorithms.grids import EASE_CELL, EASE_X0, EASE_Y0
from smdownscale.algorithms.manifest import manifest_inputs, read_manifest
from smdownscale.tests.fake_ee import (
    EE_DATASETS,
    FakeEarthEngine,
    Fault,
    answer_dtype,
    field,
    loaded_ids,
    output_bands,
    smap_cells,
    smap_is_fill,
    smap_value,
)
from smdownscale.tests.scenes import request_objects

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
def fake(key_pem):
    with FakeEarthEngine(access_token=TOKEN, require_token=True) as server:
        server.key = server.service_account_info(key_pem)
        yield server


def _run(fake, tmp_path, **kw):
    if getattr(fake, "key", None) is not None:  # the fake wants a bearer token: a service account gets one
        kw.setdefault("credentials", fake.key)
    kw.setdefault("factors", FACTORS)
    kw.setdefault("out_dir", str(tmp_path / "out"))
    kw.setdefault("retry", FAST)
    kw.setdefault("area", AREA)
    kw.setdefault("start", "2023-06-01")
    kw.setdefault("end", "2023-06-02")
    kw.setdefault("step", "daily")
    out_dir = kw.pop("out_dir")
    callbacks = {k: kw.pop(k) for k in ("progress", "is_canceled", "log") if k in kw}
    request, options, connection = request_objects(project=fake.project, url=fake.url, **kw)
    return fetch(request, out_dir, options, connection, **callbacks)


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

    # SMAP: the asset's own cells as Earth Engine reports them (the fake: EPSG:4326, 0.1 degree), not re-gridded
    sm = raster.Grid.from_path(res.smap_files[0])
    assert sm.srs.GetAuthorityCode(None) == "4326"
    x0, dx, _, y0, _, dy = sm.transform
    assert dx == pytest.approx(0.1, abs=1e-12) and dy == pytest.approx(-0.1, abs=1e-12)
    col0, row0 = (x0 + 180.0) / 0.1, (90.0 - y0) / 0.1
    assert abs(col0 - round(col0)) < 1e-6 and abs(row0 - round(row0)) < 1e-6
    assert (round(col0), round(row0)) == (2958, 479)
    assert (sm.width, sm.height) == (3, 3)  # 115.8-116.1 E, 41.8-42.05 N in whole 0.1 degree cells
    assert fake.requests_to("compute")  # the grid was read from the asset
    # every cell keeps its own value (date-dependent in the fake), fills are nodata
    cols, rows = np.meshgrid(2958 + np.arange(3), 479 + np.arange(3))
    for path, day in zip(res.smap_files, ("2023-06-01", "2023-06-02")):
        want = smap_value(cols, rows, dt.date.fromisoformat(day).toordinal())
        want[smap_is_fill(cols, rows)] = np.nan
        np.testing.assert_allclose(raster.read_all(path)[0], want, rtol=0, atol=1e-6)
    assert not np.allclose(raster.read_all(res.smap_files[0]), raster.read_all(res.smap_files[1]), equal_nan=True)
    sxmin, symin, sxmax, symax = sm.extent_in(raster.srs_from_user("EPSG:6933").ExportToWkt())

    # fine grid: EPSG:6933 at 1 km, on whole kilometres, covering the SMAP cells
    fg = raster.Grid.from_path(res.factor_files[0])
    assert fg.res == (1000.0, 1000.0)
    assert all(v % 1000.0 == 0 for v in (fg.transform[0], fg.transform[3]))
    fxmin, fymin, fxmax, fymax = fg.extent
    assert fxmin <= sxmin < fxmin + 1000 and fxmax - 1000 < sxmax <= fxmax
    assert fymin <= symin < fymin + 1000 and fymax - 1000 < symax <= fymax

    # values: the fake server's field at each pixel center, band by band
    np.testing.assert_allclose(raster.read_all(res.factor_files[1]), _expected(fg, 3), rtol=0, atol=2e-3)

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
    assert all('"scaleX": 0.1' in b and '"crsCode": "EPSG:4326"' in b for b in smap_bodies)
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
    assert m.request["smap_grid"]["crs"] == "EPSG:4326" and m.request["smap_grid"]["width"] == 3
    assert m.request["smap_grid"]["asset_transform"] == [0.1, 0.0, -180.0, 0.0, -0.1, 90.0]
    assert m.request["smap_grid"]["source"].startswith("NASA/SMAP/SPL4SMGP/008")
    assert manifest_inputs(res.manifest_path) == (res.smap_files, res.factor_files)
    raw = open(res.manifest_path, encoding="utf-8").read()
    assert all(not os.path.isabs(f["smap"]) for f in json.loads(raw)["files"])
    everything = _everything_in(out)
    assert TOKEN.encode() not in everything
    assert b"PRIVATE KEY" not in everything and creds["private_key_id"].encode() not in everything
    assert not os.path.exists(out / ".cache")  # tile cache removed after success


def test_smap_fills_never_reach_the_files_and_l3e_keeps_its_008_degree_grid(fake, tmp_path):
    area = (115.0, 41.0, 116.0, 42.0, "EPSG:4326")
    res = _run(fake, tmp_path, area=area, end="2023-06-01", factors=["elevation"])
    sm = raster.Grid.from_path(res.smap_files[0])
    x, y = sm.centers(0, sm.height)
    cols, rows = smap_cells("NASA/SMAP/SPL4SMGP/008", x, y, "EPSG:4326")
    fills = smap_is_fill(cols, rows)
    assert (sm.width, sm.height) == (10, 10) and 5 <= fills.sum() <= 15
    got = raster.read_all(res.smap_files[0])[0]
    assert np.isnan(got[fills]).all()
    assert np.isfinite(got[~fills]).all() and got[~fills].min() >= 0.05 and got[~fills].max() <= 0.45
    res3 = _run(fake, tmp_path, area=area, end="2023-06-01", factors=["elevation"], smap_product="L3E",
                out_dir=str(tmp_path / "l3e"))
    g3 = raster.Grid.from_path(res3.smap_files[0])
    assert g3.res == pytest.approx((0.08, 0.08)) and (g3.width, g3.height) == (13, 13)
    x, y = g3.centers(0, g3.height)
    cols, rows = smap_cells("NASA/SMAP/SPL3SMP_E/005", x, y, "EPSG:4326")
    assert len(set(zip(cols.ravel(), rows.ravel()))) == g3.size  # one file pixel per asset cell


@pytest.mark.parametrize("lat0, what", [(0.0, "duplicated"), (45.0, "lost")])
def test_the_fake_shows_what_re_gridding_smap_onto_ease_would_do(lat0, what):
    # SMAP L4 as stored (0.1 degree) sampled onto the EASE-Grid 2.0 9 km lattice by nearest neighbour: near the
    # equator EASE cells repeat a neighbour's value, further north whole columns of asset cells are never taken
    geom, srs = area_geometry((100.0, lat0, 110.0, lat0 + 10.0, "EPSG:4326"))
    ease = smap_grid(geom, srs)
    x, y = ease.centers(0, ease.height)
    cols, rows = smap_cells("NASA/SMAP/SPL4SMGP/008", x, y, ease.crs_wkt)
    taken = set(zip(cols.ravel(), rows.ravel()))
    row0 = round((90.0 - lat0 - 10.0) / 0.1)
    inside = {(c, r) for c in range(2800, 2900) for r in range(row0, row0 + 100)}  # the area's asset cells
    if what == "duplicated":
        assert ease.size - len(taken) > 0.05 * ease.size
    else:
        assert len(inside - taken) > 0.05 * len(inside)


def test_requests_are_sized_by_the_source_pixels_they_make_earth_engine_read(fake, tmp_path):
    # Sentinel-1 VV at 1 km: each fine pixel averages ~10^4 10 m pixels (maxPixels 102^2), twice with gap filling
    fake.max_input_pixels = 3e6
    res = _run(fake, tmp_path, end="2023-06-01", factors=["vv", "ndvi"], max_input_pixels=3e6)
    stack = [e for e in fake.pixel_log if "COPERNICUS/S1_GRD" in e["assets"]]
    assert len(stack) == res.tiles_fetched - 1 > 4  # the factor stack took several requests (SMAP one)
    assert all(e["input_pixels"] <= 3e6 for e in fake.pixel_log)
    assert sum(e["pixels"] for e in stack) == raster.Grid.from_path(res.factor_files[0]).size
    assert res.splits == 0
    fg = raster.Grid.from_path(res.factor_files[0])
    np.testing.assert_allclose(raster.read_all(res.factor_files[0]), _expected(fg, 2), rtol=0, atol=2e-3)


@pytest.mark.fault("fetchgee: Earth Engine refuses a request for memory")
def test_a_tile_refused_for_memory_is_fetched_as_smaller_requests(fake, tmp_path):
    fake.max_input_pixels = 2e6  # the server allows less than the plan: the big tiles are refused
    logs = []
    res = _run(fake, tmp_path, end="2023-06-01", factors=["vv"], max_input_pixels=4e7, log=logs.append)
    assert res.splits >= 1
    assert any("refused for memory or time" in line for line in logs)
    refused = [r for r in fake.requests_to("computePixels") if "COPERNICUS/S1_GRD" in json.dumps(r.body)]
    assert len(refused) > len([e for e in fake.pixel_log if "COPERNICUS/S1_GRD" in e["assets"]])
    assert all(e["input_pixels"] <= 2e6 for e in fake.pixel_log)
    fg = raster.Grid.from_path(res.factor_files[0])
    np.testing.assert_allclose(raster.read_all(res.factor_files[0]), _expected(fg, 1), rtol=0, atol=2e-3)


def test_plan_only_sends_no_computation_and_predicts_the_real_run(fake, tmp_path):
    logs = []
    res = _run(fake, tmp_path, factors=["vv", "ndvi"], max_input_pixels=3e6, plan_only=True, log=logs.append)
    out = tmp_path / "out"
    assert not fake.requests_to("computePixels") and not fake.requests_to("export")
    assert [r.body["expression"]["values"][r.body["expression"]["result"]]["functionInvocationValue"]["functionName"]
            for r in fake.requests_to("compute")] == ["Image.projection"]  # SMAP's grid, a metadata look-up
    assert sorted(os.listdir(out)) == ["plan.csv"] and res.files == [str(out / "plan.csv")]
    rows = list(csv.DictReader(open(out / "plan.csv", encoding="utf-8")))
    assert [(r["date"], r["kind"], r["unit"]) for r in rows] == [
        ("2023-06-01", "smap", "requests"), ("2023-06-01", "factors", "requests"),
        ("2023-06-02", "smap", "requests"), ("2023-06-02", "factors", "requests"), ("total", "", "requests")]
    assert int(rows[-1]["count"]) == res.plan.requests and int(rows[-1]["training_runs"]) == 0
    assert any("Plan only" in line and "source_pixels" in line for line in logs)
    # the real run makes exactly the planned requests, pixels and bytes
    real = _run(fake, tmp_path, factors=["vv", "ndvi"], max_input_pixels=3e6)
    assert len(fake.requests_to("computePixels")) == res.plan.requests == real.tiles_fetched
    assert sum(e["pixels"] * e["bands"] for e in fake.pixel_log) == res.plan.pixels
    assert sum(e["bytes"] for e in fake.pixel_log) == res.plan.bytes
    assert all(e["input_pixels"] <= 3e6 for e in fake.pixel_log)
    exported = _run(fake, tmp_path, factors=["vv"], export="drive", plan_only=True, out_dir=str(tmp_path / "x"))
    assert exported.plan.requests == 4 and {r["unit"] for r in exported.plan.rows} == {"tasks"}
    assert not fake.requests_to("export")


def test_requests_without_a_bearer_token_are_refused(fake, tmp_path):
    with pytest.raises(GeeError, match="(?i)authenticat"):
        _run(fake, tmp_path, credentials=None, end="2023-06-01", factors=["elevation"])
    assert not fake.pixel_log and not os.path.exists(tmp_path / "out" / "manifest.json")
    assert all(r.headers.get("authorization") is None for r in fake.requests_to("compute"))


def test_each_step_gets_its_own_dates_values(tmp_path):
    def offset(day, band):
        return (day % 7) * 10.0

    with FakeEarthEngine(day_offset=offset) as fake:
        res = _run(fake, tmp_path, factors=["lst_day"], window_days=0)
    grid = raster.Grid.from_path(res.factor_files[0])
    days = [dt.date.fromisoformat(d).toordinal() % 7 for d in ("2023-06-01", "2023-06-02")]
    assert days[0] != days[1]
    for path, day in zip(res.factor_files, days):  # each step has the values of its own day
        np.testing.assert_allclose(raster.read_all(path), _expected(grid, 1) + day * 10.0, rtol=0, atol=2e-3)


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


def test_geographic_fine_grid_still_averages_fine_sources(fake, tmp_path):
    # EPSG:4326 at 0.01 degree (about 0.83 x 1.1 km here): 10 m Sentinel-1 and 30 m SRTM are averaged, land cover
    # takes the majority class, exactly as in a metric CRS
    res = _run(fake, tmp_path, end="2023-06-01", factors=["vv", "elevation", "landcover"], target_crs="EPSG:4326",
               fine_resolution=0.01)
    fg = raster.Grid.from_path(res.factor_files[0])
    assert fg.res == pytest.approx((0.01, 0.01)) and fg.srs.GetAuthorityCode(None) == "4326"
    (body,) = [r.body for r in fake.requests_to("computePixels") if "COPERNICUS/S1_GRD" in json.dumps(r.body)]
    from smdownscale.tests.ee_graph import calls, graph

    tree = graph(body["expression"])
    reducers = sorted(a["reducer"]["fn"] for a in calls(tree, "Image.reduceResolution"))
    assert reducers == ["Reducer.mean", "Reducer.mean", "Reducer.mode"]
    assert {a["scale"] for a in calls(tree, "Image.setDefaultProjection")} == {10, 500}  # metres (composites)
    assert not calls(tree, "Image.resample")


def test_masked_pixels_become_nodata(tmp_path):
    def mask(x, y, band):
        return (x < np.median(x)) if band == 1 else np.zeros(np.shape(x), bool)

    with FakeEarthEngine(mask=mask) as fake:
        res = _run(fake, tmp_path, end="2023-06-01", factors=["ndvi", "lst_day"])
    arr = raster.read_all(res.factor_files[0])
    assert np.isfinite(arr[0]).all()
    nan_share = np.isnan(arr[1]).mean()
    assert 0.4 < nan_share < 0.6
    sm = raster.read_all(res.smap_files[0])[0]  # SMAP: only its fill cells are missing
    x, y = raster.Grid.from_path(res.smap_files[0]).centers(0, sm.shape[0])
    np.testing.assert_array_equal(np.isnan(sm), smap_is_fill(*smap_cells("NASA/SMAP/SPL4SMGP/008", x, y, "EPSG:4326")))


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
    assert float(body["maxPixels"]["value"]) == 1e13  # raised explicitly: the server's default 1e8 is enforced
    m = read_manifest(res.manifest_path)
    assert [e["task"] for e in m.exports] == [t["task"] for t in res.tasks]
    assert not res.smap_files and not os.path.exists(tmp_path / "out" / "smap")
    with pytest.raises(InputError, match="describes Earth Engine export tasks"):
        manifest_inputs(res.manifest_path)


def test_the_fake_fails_exports_beyond_max_pixels(fake, tmp_path):
    import ee

    from smdownscale.algorithms.gee.transport import wait_for_export

    auth.initialize(project=fake.project, url=fake.url, credentials=fake.key, force=True)
    task = ee.batch.Export.image.toDrive(ee.Image.constant(1).toFloat(), description="too big", crs="EPSG:4326",
                                         crsTransform=[0.01, 0, 100, 0, -0.01, 50], dimensions="200x100",
                                         maxPixels=1000)
    task.start()
    with pytest.raises(SmdError, match="Too many pixels in the region. Specified: 20000, maximum allowed: 1000"):
        wait_for_export(task.name, poll=0.0, sleep=lambda s: None)


def test_the_fake_checks_band_ids_and_answers_in_the_expressions_type(fake, tmp_path):
    import ee

    from smdownscale.algorithms.gee import transport

    res = _run(fake, tmp_path, end="2023-06-01", factors=["ndvi", "landcover"])
    for r in fake.requests_to("computePixels"):  # every request asked for exactly the bands its expression makes
        assert output_bands(r.body["expression"]) == r.body["bandIds"]
        assert answer_dtype(r.body["expression"]) == "<f4"  # the transport casts to float32
    assert sum(e["bytes"] for e in fake.pixel_log) == 4 * sum(e["pixels"] * e["bands"] for e in fake.pixel_log)
    grid = raster.Grid.from_path(res.smap_files[0])
    image = ee.Image.constant(0.25).rename(["sm_surface"])
    with pytest.raises(GeeError, match="Band pattern 'sm_rootzone' did not match any bands"):
        transport.fetch_image(image, grid, ["sm_rootzone"], str(tmp_path / "x.tif"), str(tmp_path / "c"), retry=FAST)
    assert answer_dtype(json.loads(image.toDouble().serialize(for_cloud_api=True))) == "<f8"
    assert answer_dtype(json.loads(image.multiply(2).serialize(for_cloud_api=True))) == "<f8"  # not cast: double


def test_every_factor_and_source_asks_for_assets_and_bands_earth_engine_has(fake, tmp_path):
    # the fake knows Earth Engine's datasets apart from the plugin's catalog (fake_ee.EE_DATASETS, from
    # google/earthengine-catalog): every factor of every source is requested once, and served
    cat = load_catalog()
    pairs = [(f, s) for f in cat.factor_ids() for s in [None, *cat.get(f).get("alternatives", {})]]
    for k, (factor, source) in enumerate(pairs):
        res = _run(fake, tmp_path, factors=[factor], sources={factor: source} if source else None,
                   end="2023-06-01", window_days=0, out_dir=str(tmp_path / f"o{k}"))
        assert len(res.smap_files) == 1, (factor, source)
    loaded = {i for r in fake.requests_to("computePixels") for i in loaded_ids(r.body["expression"])}
    assert loaded == set(EE_DATASETS) - {"NASA/SMAP/SPL3SMP_E/005", "NASA/SMAP/SPL3SMP_E/006"}


@pytest.mark.parametrize("change, message", [
    ({"bands": ["LST_Day"]}, "Image.select: Pattern 'LST_Day' did not match any bands."),
    ({"mask": [{"type": "bits_zero", "band": "QC_Day_1km", "bits": [0, 1]}]},
     "Image.select: Pattern 'QC_Day_1km' did not match any bands."),
    ({"collection": "MODIS/006/MOD11A1"},  # deprecated: superseded by MODIS/061
     "ImageCollection.load: ImageCollection asset 'MODIS/006/MOD11A1' not found"),
])
def test_the_fake_refuses_asset_ids_and_bands_earth_engine_does_not_have(fake, tmp_path, change, message):
    from smdownscale.algorithms.gee import expressions, transport

    entry = {**load_catalog().get("lst_day"), **change}
    image = expressions.build_stack([entry], dt.date(2023, 6, 1), dt.date(2023, 6, 2))
    grid = raster.Grid(raster.srs_from_user("EPSG:4326").ExportToWkt(), (116.0, 0.01, 0.0, 42.0, 0.0, -0.01), 4, 4)
    auth.initialize(project=fake.project, url=fake.url, credentials=fake.key, force=True)
    with pytest.raises(GeeError, match=re.escape(message)):
        transport.fetch_image(image, grid, ["lst_day"], str(tmp_path / "x.tif"), str(tmp_path / "c"), retry=FAST)


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
    with pytest.raises(InputError, match="not finer than SMAP's cells"):
        fine_grid(sm, "EPSG:6933", 10000.0)
    # degrees typed for a metric CRS: named as such (before, the grid was refused as an area too large)
    with pytest.raises(InputError, match=r"^The fine resolution \(FINE_RESOLUTION\) is 0\.01, in the units of the "
                                         r"target CRS \(metres\): pixels of 0\.01 m\. 0\.01 looks like a value in "
                                         r"degrees \(0\.01 degree is about 1113 metres\)\. Give the pixel size in "
                                         r"metres: about 1000 for 1 km\.$"):
        fine_grid(sm, "EPSG:6933", 0.01)


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
    # Earth Engine holds no SMAP before its record starts: the steps would be requested and written empty
    ({"start": "2015-03-20", "end": "2015-04-05"},
     r"^SMAP L4 \(NASA/SMAP/SPL4SMGP/008\) starts on 2015-03-31: Earth Engine has no SMAP data for 2015-03-20\. "
     r"Choose a start date on or after 2015-03-31\.$"),
    # a factor whose dataset does not reach the area would be empty on every step (earthengine-catalog extents)
    ({"area": (25.0, 61.5, 26.0, 62.5, "EPSG:4326"), "factors": ["ndvi", "slope"]},
     r"^The factor slope comes from USGS/SRTMGL1_003, which covers latitudes 56 S to 60 N only; the area "
     r"\(61\.5 N to 62\.5 N\) lies outside it, so the factor would be empty on every step\. Choose another area, "
     r"or leave slope out\.$"),
    ({"area": (25.0, 61.5, 26.0, 62.5, "EPSG:4326"), "factors": ["elevation"], "sources": {"elevation": "nasadem"}},
     r"^The factor elevation comes from NASA/NASADEM_HGT/001, which covers latitudes 56 S to 60 N only;.*"
     r"or leave elevation out\.$"),
    ({"area": (25.0, 51.0, 26.0, 52.0, "EPSG:4326"), "factors": ["precipitation"],
      "sources": {"precipitation": "chirps"}},
     r"^The factor precipitation comes from UCSB-CHG/CHIRPS/DAILY, which covers latitudes 50 S to 50 N only; the "
     r"area \(51 N to 52 N\) lies outside it, so the factor would be empty on every step\. Choose another area, or "
     r"choose the source 'default' \(ERA5-Land daily aggregates\) for precipitation, or leave it out\.$"),
    ({"start": "2014-06-01", "end": "2014-06-02", "smap_product": "L3E"},
     r"^SMAP L3E \(NASA/SMAP/SPL3SMP_E/005\) starts on 2015-03-31"),
])
def test_bad_inputs_are_named_and_nothing_is_requested(fake, tmp_path, kwargs, fragment):
    with pytest.raises(InputError, match=fragment):
        _run(fake, tmp_path, **kwargs)
    assert not fake.requests_to("computePixels") and not fake.requests_to("export")
    assert not os.path.exists(tmp_path / "out" / "manifest.json")
    assert not os.path.exists(tmp_path / "out" / "smap")


def test_an_area_partly_inside_a_factors_coverage_is_fetched(fake, tmp_path):
    # SRTM reaches 60 N: an area across it is served (pixels north of 60 N are nodata, as on Earth Engine)
    res = _run(fake, tmp_path, area=(25.0, 59.6, 25.6, 60.3, "EPSG:4326"), factors=["elevation"])
    assert res.files and fake.requests_to("computePixels")


def test_missing_project_is_explained(tmp_path, monkeypatch):
    for var in (auth.ENV_PROJECT, "EARTHENGINE_PROJECT"):
        monkeypatch.delenv(var, raising=False)
    with FakeEarthEngine() as fake:
        with pytest.raises(GeeError, match="An Earth Engine Cloud project id is required.*SMDOWNSCALE_EE_PROJECT"):
            fetch(FetchRequest(AREA, "2023-06-01", "2023-06-01", "daily", ["ndvi"]), str(tmp_path / "o"),
                  connection=Connection(url=fake.url))
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


@pytest.mark.bad_input("fetchgee: a lon/lat extent labelled with a projected CRS (engine)")
def test_degrees_labelled_with_a_projected_crs_are_refused():
    # 115.55..116.35 x 41.65..42.25 read as EPSG:3857 metres is a 0.8 m x 0.6 m patch in the Gulf of Guinea
    for crs in ("EPSG:3857", "EPSG:32650"):
        with pytest.raises(InputError, match=rf"^The area \(115\.55, 41\.65, 116\.35, 42\.25\) is given in {crs}, a "
                                             r"projected CRS, so it covers only 0\.8 m x 0\.6 m; its numbers look like "
                                             r"longitudes and latitudes\. Give the extent in EPSG:4326"):
            area_geometry((115.55, 41.65, 116.35, 42.25, crs))
    square = {"type": "Polygon", "coordinates": [[[115.5, 41.5], [116.5, 41.5], [116.5, 42.5], [115.5, 41.5]]]}
    with pytest.raises(InputError, match=r"or assign the area layer its real CRS"):
        area_geometry(square, "EPSG:3857")
    # the same numbers in degrees, and a real metre extent near the origin, are areas
    assert area_geometry((115.55, 41.65, 116.35, 42.25, "EPSG:4326"))[0].GetArea() == pytest.approx(0.48)
    assert area_geometry((0.0, 0.0, 5000.0, 5000.0, "EPSG:3857"))[0].GetArea() == pytest.approx(25e6)


@pytest.mark.bad_input("fetchgee: extent typed xmin,ymin,xmax,ymax (latitudes beyond 90)")
def test_extent_with_latitudes_beyond_90_names_the_order():
    # '115.55,41.65,116.35,42.25 [EPSG:4326]' read as xmin,xmax,ymin,ymax: latitudes 42.25..116.35; the error was
    # PROJ's ("Full reprojection failed ... OGR_ENABLE_PARTIAL_REPROJECTION"), naming no fix
    with pytest.raises(InputError, match=r"^The extent's latitudes run from 42\.25 to 116\.35, beyond 90 degrees \(its "
                                         r"longitudes from 41\.65 to 115\.55\)\. An extent is written xmin,xmax,ymin,"
                                         r"ymax, both longitudes first"):
        area_geometry((41.65, 42.25, 115.55, 116.35, "EPSG:4326"))
