"""smdownscale:fetchgee through processing.run against the fake Earth Engine server, feeding train and downscale."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import (
    QgsApplication,
    QgsFeature,
    QgsGeometry,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsSettings,
    QgsVectorLayer,
)

from smdownscale.algorithms import raster
from smdownscale.algorithms.aggregate import CellIndex
from smdownscale.algorithms.manifest import manifest_inputs, read_manifest
from smdownscale.processing_provider import settings
from smdownscale.processing_provider.algs.downscale import DownscaleAlgorithm as D
from smdownscale.processing_provider.algs.fetchgee import FetchGeeAlgorithm as F
from smdownscale.processing_provider.algs.screen import ScreenAlgorithm as S
from smdownscale.processing_provider.algs.train import TrainAlgorithm as T
from smdownscale.tests.fake_ee import FakeEarthEngine

EXTENT = "115.55,116.35,41.65,42.25 [EPSG:4326]"
TOKEN = "ya29.smd-processing-token-7731"
MASTER_PASSWORD = "smdownscale-test-master"
LC_CLASSES = (10.0, 20.0, 30.0)


def plausible(x, y, band):
    """Smooth fields in physical ranges: band 0 soil moisture-like (also the first factor), band 2 classes."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    wave = np.sin(x / 14000.0) * np.cos(y / 19000.0)
    if band == 2:
        return np.choose((wave > -0.3).astype(int) + (wave > 0.3).astype(int), LC_CLASSES).astype(np.float32)
    return (0.22 + 0.12 * wave + 0.05 * band).astype(np.float32)


def plausible_smap(lon, lat, day):
    """SMAP on its own cells (lon/lat centers): the soil moisture-like field at the cell center."""
    from osgeo import osr

    wgs, ease = osr.SpatialReference(), osr.SpatialReference()
    wgs.ImportFromEPSG(4326)
    ease.ImportFromEPSG(6933)
    for srs in (wgs, ease):
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    pts = np.asarray(osr.CoordinateTransformation(wgs, ease).TransformPoints(
        np.column_stack([np.ravel(lon), np.ravel(lat)])))
    return plausible(pts[:, 0], pts[:, 1], 0).reshape(np.shape(lon))


@pytest.fixture
def fake(monkeypatch, plugin):
    with FakeEarthEngine(value_fn=plausible, access_token=TOKEN, smap_fn=plausible_smap) as server:
        monkeypatch.setenv("SMDOWNSCALE_EE_URL", server.url)
        monkeypatch.delenv("SMDOWNSCALE_EE_PROJECT", raising=False)
        monkeypatch.delenv("EARTHENGINE_PROJECT", raising=False)
        QgsSettings().remove("smdownscale")
        yield server
        QgsSettings().remove("smdownscale")


def _params(tmp_path, **kw):
    params = {F.EXTENT: EXTENT, F.START_DATE: "2023-06-01", F.END_DATE: "2023-06-02", F.TIME_STEP: 0,
              F.FACTORS: ["ndvi", "lst_day", "landcover"], F.PROJECT: "test-project",
              F.OUTPUT: str(tmp_path / "gee")}
    params.update(kw)
    return params


def _tifs(folder) -> list[str]:
    return [os.path.join(r, f) for r, _d, fs in os.walk(folder) for f in fs if f.endswith((".tif", ".json"))]


def test_fetchgee_outputs_feed_train_and_downscale(run, fake, tmp_path):
    res = run("smdownscale:fetchgee", _params(tmp_path))
    out = str(tmp_path / "gee")
    assert res[F.OUTPUT] == out and res[F.N_STEPS] == 2
    smap = res[F.SMAP_FILES].split(";")
    stacks = res[F.FACTOR_FILES].split(";")
    assert [os.path.basename(p) for p in smap] == ["smap_20230601.tif", "smap_20230602.tif"]
    assert [os.path.basename(p) for p in stacks] == ["factors_20230601.tif", "factors_20230602.tif"]
    assert res[F.MANIFEST] == os.path.join(out, "manifest.json")
    assert manifest_inputs(res[F.MANIFEST]) == (smap, stacks)
    m = read_manifest(res[F.MANIFEST])
    assert m.factor_names == ["ndvi", "lst_day", "landcover"] and m.request["step"] == "daily"
    ds = gdal.Open(stacks[0])
    assert raster.band_names(ds) == ["ndvi", "lst_day", "landcover"]
    assert raster.band_kinds(ds) == ["continuous", "continuous", "categorical"]
    del ds
    cg, fg = raster.Grid.from_path(smap[0]), raster.Grid.from_path(stacks[0])
    # SMAP on the asset's own cells (the fake's 0.1 degree grid), its fill cells nodata
    assert cg.res == pytest.approx((0.1, 0.1)) and fg.res == (1000.0, 1000.0)
    assert (cg.width, cg.height) == (9, 7)
    valid = sum(int(np.isfinite(raster.read_all(p)).sum()) for p in smap)
    assert 0.8 * 2 * cg.size <= valid < 2 * cg.size
    x, y = fg.centers(0, fg.height)
    np.testing.assert_allclose(raster.read_all(stacks[0])[2], plausible(x, y, 2))

    # the files feed train (coarse pairs over both dates) ...
    model = str(tmp_path / "model.smdmodel")
    tr = run("smdownscale:train", {T.SOIL_MOISTURE: smap, T.FACTORS: stacks, T.OUTPUT: model, T.CV_FOLDS: 2,
                                   T.CV_BLOCK_CELLS: 2, T.N_ESTIMATORS: 20})
    assert tr[T.N_SAMPLES] == valid  # no fill reaches a training sample
    assert tr[T.CV_R] > 0.9
    # the manifest can stand in for the two lists, in screen and train
    by_manifest = run("smdownscale:train", {T.MANIFEST: res[F.MANIFEST], T.OUTPUT: str(tmp_path / "m2.smdmodel"),
                                            T.CV_FOLDS: 2, T.CV_BLOCK_CELLS: 2, T.N_ESTIMATORS: 20})
    assert by_manifest[T.N_SAMPLES] == tr[T.N_SAMPLES]
    assert by_manifest[T.CV_R] == pytest.approx(tr[T.CV_R])
    screened = run("smdownscale:screen", {S.MANIFEST: res[F.MANIFEST], S.OUTPUT: str(tmp_path / "screen.csv")})
    assert set(screened[S.SELECTED].split(",")) <= {"ndvi", "lst_day", "landcover"}
    with pytest.raises(QgsProcessingException, match="either a manifest or the lists"):
        run("smdownscale:train", {T.MANIFEST: res[F.MANIFEST], T.SOIL_MOISTURE: smap, T.FACTORS: stacks,
                                  T.OUTPUT: str(tmp_path / "m3.smdmodel")})
    assert not (tmp_path / "m3.smdmodel").exists()
    # ... and downscale, whose residual correction gives back SMAP's mean in every cell
    sm1km = str(tmp_path / "sm_1km.tif")
    run("smdownscale:downscale", {D.MODEL: model, D.FACTORS: stacks[0], D.SOIL_MOISTURE: smap[0], D.OUTPUT: sm1km})
    fine = raster.read_all(sm1km)[0]
    idx = CellIndex(fg, cg).rows(0, fg.height).ravel()
    ok = (idx >= 0) & np.isfinite(fine.ravel())
    sums = np.bincount(idx[ok], weights=fine.ravel()[ok].astype(np.float64), minlength=cg.size)
    counts = np.bincount(idx[ok], minlength=cg.size)
    coarse = raster.read_all(smap[0])[0].ravel()
    have = np.isfinite(coarse) & (counts > 0)
    np.testing.assert_allclose((sums / np.maximum(counts, 1))[have], coarse[have], atol=1e-4)
    assert 0.05 < float(np.nanmean(fine)) < 0.4


def test_polygon_layer_area(run, fake, tmp_path):
    layer = QgsVectorLayer("Polygon?crs=EPSG:4326", "area", "memory")
    feat = QgsFeature()
    feat.setGeometry(QgsGeometry.fromWkt("POLYGON((115.8 41.8, 116.0 41.8, 115.9 42.0, 115.8 41.8))"))
    layer.dataProvider().addFeatures([feat])
    params = _params(tmp_path, **{F.EXTENT: None, F.AREA: layer, F.END_DATE: "2023-06-01"})
    del params[F.FACTORS]  # the default factors
    res = run("smdownscale:fetchgee", params)
    m = read_manifest(res[F.MANIFEST])
    assert m.factor_names == ["ndvi", "lst_day", "lst_night", "elevation", "slope", "vv", "vh", "precipitation",
                              "landcover"]
    assert m.request["area"]["geometry"]["type"] == "Polygon"
    assert m.request["area"]["bbox"] == pytest.approx([115.8, 41.8, 116.0, 42.0])
    assert raster.Grid.from_path(res[F.SMAP_FILES]).width == 2  # 115.8-116.0 E in 0.1 degree cells


def test_service_account_key_from_the_auth_database_is_used_and_never_written(run, fake, tmp_path, qgis_app):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    am = QgsApplication.authManager()
    if not am.masterPasswordIsSet():
        if am.masterPasswordHashInDatabase() and not am.setMasterPassword(MASTER_PASSWORD, True):
            assert ".qgis-settings" in am.authenticationDatabasePath()
            am.eraseAuthenticationDatabase(False)
        assert am.setMasterPassword(MASTER_PASSWORD, True)
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    info = fake.service_account_info(pem)
    cfg = settings.store_service_account_key(json.dumps(info))
    try:
        settings.set_ee_authcfg(cfg)
        settings.set_ee_credentials_mode(settings.SERVICE_ACCOUNT)
        settings.set_ee_project("test-project")
        feedback = _LogFeedback()
        res = run("smdownscale:fetchgee", _params(tmp_path, **{F.PROJECT: "", F.END_DATE: "2023-06-01",
                                                               F.FACTORS: ["slope"]}),
                  context=QgsProcessingContext(), feedback=feedback)
    finally:
        am.removeAuthenticationConfig(cfg)
    auths = {next((v for k, v in r.headers.items() if k.lower() == "authorization"), None)
             for r in fake.requests_to("computePixels")}
    assert auths == {f"Bearer {TOKEN}"}
    assert fake.requests_to("token")
    blob = b"".join(open(p, "rb").read() for p in _tifs(tmp_path / "gee")) + feedback.text.encode()
    assert "test-project" in read_manifest(res[F.MANIFEST]).provenance["project"]
    for secret in (TOKEN, "PRIVATE KEY", info["private_key_id"], info["client_email"]):
        assert secret.encode() not in blob


class _LogFeedback(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def pushInfo(self, info):
        self.lines.append(info)
        super().pushInfo(info)

    def reportError(self, error, fatalError=False):  # noqa: N803
        self.lines.append(error)
        super().reportError(error, fatalError)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.mark.parametrize("change, fragment", [
    ({F.START_DATE: "2023-06-10", F.END_DATE: "2023-06-01"}, "The date range is reversed: the end date 2023-06-01"),
    ({F.START_DATE: "2023/06/01"}, "'2023/06/01' is not a date; write it as YYYY-MM-DD"),
    ({F.FACTORS: ["ndvi", "soil_colour"]}, "Unknown factor 'soil_colour'. Known factors: vv, vh"),
    ({F.EXTENT: None}, "Give an extent or a polygon layer"),
    ({F.PROJECT: ""}, "An Earth Engine Cloud project id is required: set it in the plugin settings or the "
                      "SMDOWNSCALE_EE_PROJECT environment variable"),
    ({F.EXTENT: "100,125,38,53 [EPSG:4326]", F.FINE_RESOLUTION: 100.0},
     "too large for interactive download.*set the export option"),
])
def test_bad_inputs_raise_and_write_nothing(run, fake, tmp_path, change, fragment):
    with pytest.raises(QgsProcessingException, match=fragment):
        run("smdownscale:fetchgee", _params(tmp_path, **change))
    assert not _tifs(tmp_path)
    assert not fake.requests_to("computePixels")


def test_plan_only_computes_nothing_and_gives_the_plan_as_outputs(run, fake, tmp_path):
    res = run("smdownscale:fetchgee", _params(tmp_path, **{F.PLAN_ONLY: True}))
    assert not fake.requests_to("computePixels") and not fake.requests_to("export")
    out = tmp_path / "gee"
    assert sorted(os.listdir(out)) == ["plan.csv"] and res[F.PLAN] == str(out / "plan.csv")
    assert res[F.MANIFEST] is None and res[F.SMAP_FILES] == "" and res[F.N_STEPS] == 2
    rows = open(res[F.PLAN], encoding="utf-8").read().splitlines()
    assert [r.split(",")[1] for r in rows[1:]] == ["smap", "factors", "smap", "factors", ""]
    assert res[F.PLAN_REQUESTS] == int(rows[-1].split(",")[3]) == 4
    assert res[F.PLAN_BYTES] == int(rows[-1].split(",")[5]) > 0
