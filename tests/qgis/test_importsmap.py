"""smdownscale:importsmap through processing.run: NSIDC granules to the manifest, which train takes unchanged."""

from __future__ import annotations

import datetime as dt
import json
import os

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException

from smdownscale.algorithms import raster
from smdownscale.algorithms.manifest import manifest_inputs, read_manifest
from smdownscale.algorithms.smap_import import M09
from smdownscale.processing_provider.algs.downscale import DownscaleAlgorithm as D
from smdownscale.processing_provider.algs.importsmap import ImportSmapAlgorithm as A
from smdownscale.processing_provider.algs.screen import ScreenAlgorithm as S
from smdownscale.processing_provider.algs.train import TrainAlgorithm as T
from smdownscale.processing_provider.algs.validate import ValidateAlgorithm as V
from smdownscale.tests import nsidc

EXTENT = "115.55,116.35,41.65,42.25 [EPSG:4326]"
LON0, LAT0, LON1, LAT1 = 115.2, 41.3, 116.7, 42.6


def _ndvi(lon, lat):
    return 0.2 + 0.5 * (lon - LON0) / (LON1 - LON0) + 0.1 * np.sin(lat * 7.0)


@pytest.fixture(scope="module")
def granules(tmp_path_factory):
    """Two days of SPL4SMGP granules whose soil moisture over the area follows an NDVI field, and that field as
    dated GeoTIFFs plus a static elevation."""
    base = tmp_path_factory.mktemp("importsmap")
    lat, lon = nsidc.cell_centres("M09")
    r0, c0 = nsidc.cell_of(LAT1, LON0)
    r1, c1 = nsidc.cell_of(LAT0, LON1)
    files = []
    for day in (1, 2):
        cells = {(r, c): float(0.05 + 0.4 * _ndvi(lon[c], lat[r]) + 0.01 * day)
                 for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)}
        for hour in (1, 4):
            files.append(nsidc.write_l4(str(base), dt.datetime(2023, 6, day, hour, 30), cells))
    os.makedirs(base / "l3e")
    centre = nsidc.cell_of(42.0, 116.0)
    l3e = nsidc.write_l3(str(base / "l3e"), dt.date(2023, 6, 1), {centre: 0.3}, {centre: 0.1})
    wgs = raster.srs_from_user("EPSG:4326").ExportToWkt()
    grid = raster.Grid.from_extent(wgs, LON0 - 0.3, LAT0 - 0.3, LON1 + 0.3, LAT1 + 0.3, 0.01)
    gx, gy = grid.centers(0, grid.height)
    os.makedirs(base / "factors")
    factor_files = []
    for day in (1, 2):
        factor_files.append(raster.write_raster(str(base / "factors" / f"ndvi_2023060{day}.tif"), grid,
                                                _ndvi(gx, gy).astype(np.float32)))
    factor_files.append(raster.write_raster(str(base / "factors" / "elevation.tif"), grid,
                                            (1000 + 200 * np.cos(gx * 3)).astype(np.float32)))
    return {"base": base, "l4": files, "l3e": l3e, "factors": factor_files}


def test_import_l4_with_factors_then_train_on_the_manifest(granules, run, tmp_path):
    out = tmp_path / "import"
    res = run("smdownscale:importsmap", {A.GRANULES: granules["l4"], A.EXTENT: EXTENT, A.FACTORS: granules["factors"],
                                         A.FINE_RESOLUTION: 1000.0, A.OUTPUT: str(out)})
    assert res[A.N_STEPS] == 2
    assert res[A.SMAP_FILES].split(";") == [str(out / "smap" / f"smap_2023060{d}.tif") for d in (1, 2)]
    sm, stacks = manifest_inputs(res[A.MANIFEST])
    assert stacks == [str(out / "factors" / f"factors_2023060{d}.tif") for d in (1, 2)]
    m = read_manifest(res[A.MANIFEST])
    assert m.factor_names == ["elevation", "ndvi"] and m.request["smap_product"] == "SPL4SMGP"
    grid = raster.Grid.from_path(sm[0])
    assert grid.res[0] == pytest.approx(M09.cell)
    assert ((grid.transform[0] - M09.x0) / M09.cell) % 1 == pytest.approx(0.0, abs=1e-9)
    arr = raster.read_all(sm[0])[0]
    assert np.isfinite(arr).all() and 0.1 < float(arr.mean()) < 0.4
    text = json.dumps(json.loads(open(res[A.MANIFEST]).read()))
    assert "password" not in text.lower()
    # the chain takes it unchanged
    model = tmp_path / "m.smdmodel"
    trained = run("smdownscale:train", {T.MANIFEST: res[A.MANIFEST], T.MODEL_TYPE: 0, T.N_ESTIMATORS: 30,
                                        T.OUTPUT: str(model)})
    assert os.path.isfile(model) and trained[T.N_SAMPLES] > 50
    assert trained[T.CV_R] > 0.5
    screened = run("smdownscale:screen", {S.MANIFEST: res[A.MANIFEST], S.OUTPUT: str(tmp_path / "screen.csv")})
    assert "ndvi" in screened[S.SELECTED]
    done = run("smdownscale:downscale", {D.MODEL: str(model), D.MANIFEST: res[A.MANIFEST],
                                         D.OUTPUT_FOLDER: str(tmp_path / "sm_1km")})
    outputs = done[D.OUTPUT_FILES].split(";") if isinstance(done[D.OUTPUT_FILES], str) else done[D.OUTPUT_FILES]
    assert len(outputs) == 2
    checked = run("smdownscale:validate", {V.INPUT: outputs[0], V.REFERENCE: sm[0], V.OUTPUT: str(tmp_path / "v.csv")})
    assert checked[V.N] > 10 and checked[V.R] > 0.8  # the 1 km maps, aggregated, follow SMAP


def test_import_l3e_from_a_folder_pm_only(granules, run, tmp_path):
    res = run("smdownscale:importsmap", {A.GRANULE_FOLDER: os.path.dirname(granules["l3e"]), A.EXTENT: EXTENT,
                                         A.PASSES: 2, A.OUTPUT: str(tmp_path / "o")})
    arr = raster.read_all(res[A.SMAP_FILES])[0]
    assert np.nanmax(arr) == pytest.approx(0.1) and np.isfinite(arr).sum() == 1
    ds = gdal.Open(res[A.SMAP_FILES])
    assert ds.GetMetadataItem("SMD_SOURCE") == "SPL3SMP_E R19240"
    assert read_manifest(res[A.MANIFEST]).request["passes"] == "pm"


def test_without_granules_the_message_says_what_to_give(run, tmp_path):
    with pytest.raises(QgsProcessingException, match=r"Give the SMAP granules \(\.h5 files\) or the folder"):
        run("smdownscale:importsmap", {A.EXTENT: EXTENT, A.OUTPUT: str(tmp_path / "o")})
    assert not (tmp_path / "o").exists() or not os.listdir(tmp_path / "o")


def test_search_and_download_then_import(granules, run, tmp_path, monkeypatch):
    """DOWNLOAD: CMR search and authenticated download from the loopback fake, then the import; a second run
    finds every granule in the cache and downloads nothing."""
    from smdownscale.tests.fake_earthdata import FakeEarthdata, FakeGranule

    served = [FakeGranule("SPL4SMGP", "008", dt.datetime(2023, 6, day, hour, 30), os.path.basename(p),
                          open(p, "rb").read())
              for p, (day, hour) in zip(granules["l4"], [(1, 1), (1, 4), (2, 1), (2, 4)])]
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    with FakeEarthdata(served, token="edl-token-42") as fake:
        monkeypatch.setenv("SMDOWNSCALE_CMR_URL", fake.url)
        monkeypatch.setenv("EARTHDATA_TOKEN", "edl-token-42")  # earthaccess's "environment" strategy
        params = {A.DOWNLOAD: True, A.PRODUCT: 1, A.START_DATE: "2023-06-01", A.END_DATE: "2023-06-02",
                  A.EXTENT: EXTENT, A.CACHE_FOLDER: str(tmp_path / "cache"), A.OUTPUT: str(tmp_path / "o")}
        res = run("smdownscale:importsmap", params)
        assert res[A.N_STEPS] == 2
        assert sorted(os.listdir(tmp_path / "cache")) == sorted(g.name for g in served)
        assert len(fake.requests_to("/s3/")) == 4
        first = raster.read_all(res[A.SMAP_FILES].split(";")[0])[0]
        res2 = run("smdownscale:importsmap", {**params, A.OUTPUT: str(tmp_path / "o2")})
        assert len(fake.requests_to("/s3/")) == 4  # all from the cache
        assert np.array_equal(raster.read_all(res2[A.SMAP_FILES].split(";")[0])[0], first, equal_nan=True)
        text = open(res[A.MANIFEST]).read()
        assert "edl-token-42" not in text
        assert {h["authorization"] for _, h in fake.requests_to("/search/")} == {"Bearer edl-token-42"}
        monkeypatch.setenv("EARTHDATA_TOKEN", "expired-token")
        with pytest.raises(QgsProcessingException, match="CMR refused the search: Token does not exist"):
            run("smdownscale:importsmap", {**params, A.CACHE_FOLDER: str(tmp_path / "cache3"),
                                           A.OUTPUT: str(tmp_path / "o3")})
    assert not (tmp_path / "o3").exists() and not (tmp_path / "cache3").exists()  # refused before any download


def test_download_needs_a_product_and_dates(run, tmp_path, monkeypatch):
    for var in ("EARTHDATA_TOKEN", "EARTHDATA_USERNAME", "EARTHDATA_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    with pytest.raises(QgsProcessingException, match="Choose the SMAP product to search and download"):
        run("smdownscale:importsmap", {A.DOWNLOAD: True, A.EXTENT: EXTENT, A.OUTPUT: str(tmp_path / "o")})
    with pytest.raises(QgsProcessingException, match="Give the start and end dates of the granules to download"):
        run("smdownscale:importsmap", {A.DOWNLOAD: True, A.PRODUCT: 2, A.EXTENT: EXTENT,
                                       A.OUTPUT: str(tmp_path / "o")})
    with pytest.raises(QgsProcessingException, match=r"No Earthdata Login credentials \(No .netrc found at .*"
                                                     "EARTHDATA_USERNAME and EARTHDATA_PASSWORD, or EARTHDATA_TOKEN"):
        run("smdownscale:importsmap", {A.DOWNLOAD: True, A.PRODUCT: 2, A.EXTENT: EXTENT, A.START_DATE: "2023-06-01",
                                       A.END_DATE: "2023-06-01", A.CACHE_FOLDER: str(tmp_path / "c"),
                                       A.OUTPUT: str(tmp_path / "o")})
    assert not (tmp_path / "o").exists() and not (tmp_path / "c").exists()


def test_download_without_earthaccess_names_the_package(run, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "earthaccess", None)  # import fails as if not installed
    monkeypatch.setenv("EARTHDATA_TOKEN", "edl-token-42")
    with pytest.raises(QgsProcessingException,
                       match=r"(?s)needs earthaccess \(module earthaccess\).*earthaccess>=0.17"):
        run("smdownscale:importsmap", {A.DOWNLOAD: True, A.PRODUCT: 1, A.EXTENT: EXTENT, A.START_DATE: "2023-06-01",
                                       A.END_DATE: "2023-06-01", A.CACHE_FOLDER: str(tmp_path / "c"),
                                       A.OUTPUT: str(tmp_path / "o")})
    assert not (tmp_path / "o").exists() and not (tmp_path / "c").exists()
