"""Credential hygiene over a whole run: the service-account key and its tokens never reach any artefact.

A full chain runs with a fake service-account key held in the QGIS authentication database and a
fake access token served by the fake Earth Engine: fetchgee, align, screen, train, downscale and
validate on its outputs, then a QGIS project holding the output layers is saved. Every file written
(archives decompressed), the project files, the QGIS profile, the settings, the Processing feedback,
the QGIS message log, Python's log records and the process's stdout/stderr are searched for the token
and the key's contents.
"""

from __future__ import annotations

import io
import json
import logging
import os
import zipfile

import pytest
from qgis.core import (
    QgsApplication,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProject,
    QgsRasterLayer,
    QgsSettings,
)

from smdownscale.algorithms import model_io
from smdownscale.processing_provider import settings
from smdownscale.tests.fake_ee import FakeEarthEngine

TOKEN = "ya29.smd-credential-hygiene-token-90210"
MASTER_PASSWORD = "smdownscale-test-master"


def field(x, y, band):
    """Smooth plausible values; band 2 (land cover) classes 10/20/30."""
    import numpy as np

    wave = np.sin(np.asarray(x, dtype=float) / 14000.0) * np.cos(np.asarray(y, dtype=float) / 19000.0)
    if band == 2:
        return np.choose((wave > -0.3).astype(int) + (wave > 0.3).astype(int), (10.0, 20.0, 30.0)).astype("f4")
    return (0.22 + 0.12 * wave + 0.05 * band).astype("f4")


class _Feedback(QgsProcessingFeedback):
    """Keeps every text the algorithms report."""

    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def pushInfo(self, info):
        self.lines.append(info)

    def pushWarning(self, warning):
        self.lines.append(warning)

    def pushDebugInfo(self, info):
        self.lines.append(info)

    def pushCommandInfo(self, info):
        self.lines.append(info)

    def pushConsoleInfo(self, info):
        self.lines.append(info)

    def reportError(self, error, fatalError=False):  # noqa: N803
        self.lines.append(error)

    def setProgressText(self, text):
        self.lines.append(text)


@pytest.fixture
def auth_db(qgis_app):
    am = QgsApplication.authManager()
    if not am.masterPasswordIsSet():
        if am.masterPasswordHashInDatabase() and not am.setMasterPassword(MASTER_PASSWORD, True):
            assert ".qgis-settings" in am.authenticationDatabasePath()  # a throw-away test profile
            am.eraseAuthenticationDatabase(False)
        assert am.setMasterPassword(MASTER_PASSWORD, True)
    before = set(am.configIds())
    yield am
    for cfg in set(am.configIds()) - before:
        am.removeAuthenticationConfig(cfg)


@pytest.fixture
def key():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def _blobs(path: str) -> list[bytes]:
    """The bytes of a file and, for zip archives (.qgz project, .smdmodel model), of every member."""
    with open(path, "rb") as fh:
        data = fh.read()
    out = [data]
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            out += [zf.read(name) for name in zf.namelist()]
    return out


def _files(folder: str) -> list[str]:
    return [os.path.join(r, f) for r, _d, fs in os.walk(folder) for f in fs]


def test_no_credential_reaches_any_artefact_of_a_full_run(run, plugin, auth_db, key, tmp_path, monkeypatch, caplog,
                                                           capfd):
    caplog.set_level(logging.DEBUG)  # every logger, at the most talkative level
    messages: list[str] = []
    QgsApplication.messageLog().messageReceived.connect(lambda msg, tag, level: messages.append(f"{tag}: {msg}"))
    with FakeEarthEngine(value_fn=field, access_token=TOKEN) as fake:
        monkeypatch.setenv("SMDOWNSCALE_EE_URL", fake.url)
        monkeypatch.delenv("SMDOWNSCALE_EE_PROJECT", raising=False)
        QgsSettings().remove("smdownscale")
        info = fake.service_account_info(key)
        cfg = settings.store_service_account_key(json.dumps(info))
        settings.set_ee_authcfg(cfg)
        settings.set_ee_credentials_mode(settings.SERVICE_ACCOUNT)
        settings.set_ee_project("test-project")
        try:
            out = tmp_path / "run"
            feedback = _Feedback()

            def step(alg: str, params: dict) -> dict:
                return run(f"smdownscale:{alg}", params, context=QgsProcessingContext(), feedback=feedback)

            fetched = step("fetchgee", {"EXTENT": "115.55,116.35,41.65,42.25 [EPSG:4326]", "START_DATE": "2023-06-01",
                                        "END_DATE": "2023-06-02", "TIME_STEP": 0,
                                        "FACTORS": ["ndvi", "lst_day", "landcover"], "OUTPUT": str(out / "gee")})
            smap, stacks = fetched["SMAP_FILES"].split(";"), fetched["FACTOR_FILES"].split(";")
            aligned = step("align", {"INPUTS": stacks[:1], "REFERENCE": stacks[0], "COARSE_REFERENCE": smap[0],
                                     "OUTPUT": str(out / "factors_20230601.tif"),
                                     "COARSE_OUTPUT": str(out / "factors_coarse_20230601.tif")})
            screened = step("screen", {"SOIL_MOISTURE": smap, "FACTORS": stacks, "OUTPUT": str(out / "screen.csv")})
            model = str(out / "model.smdmodel")
            step("train", {"SOIL_MOISTURE": smap, "FACTORS": stacks, "SELECTED_FACTORS": screened["SELECTED"],
                           "N_ESTIMATORS": 10, "CV_FOLDS": 2, "CV_BLOCK_CELLS": 2, "OUTPUT": model})
            sm1km = str(out / "sm_1km_20230601.tif")
            step("downscale", {"MODEL": model, "FACTORS": aligned["OUTPUT"], "SOIL_MOISTURE": smap[0],
                               "OUTPUT": sm1km})
            validated = step("validate", {"INPUT": sm1km, "REFERENCE": smap[0], "OUTPUT": str(out / "metrics.csv")})
            assert validated["N"] > 0

            project = QgsProject()
            for path in [p for p in _files(str(out)) if p.endswith(".tif") and "/." not in p]:
                layer = QgsRasterLayer(path, os.path.basename(path))
                assert layer.isValid()
                project.addMapLayer(layer)
            assert project.write(str(out / "project.qgs")) and project.write(str(out / "project.qgz"))
        finally:
            auth_db.removeAuthenticationConfig(cfg)
        # the secrets really were in play: the token was fetched with the key and sent with every request
        assert fake.requests_to("token")
        pixel_auth = {r.headers.get("authorization") for r in fake.requests_to("computePixels")}
        assert pixel_auth == {f"Bearer {TOKEN}"}

    stored = {k: QgsSettings().value(k) for k in QgsSettings().allKeys() if k.startswith("smdownscale/")}
    QgsSettings().remove("smdownscale")
    assert stored[settings.KEY_AUTHCFG] == cfg  # the settings reference the key, they do not hold it
    assert stored[settings.KEY_CREDENTIALS] == settings.SERVICE_ACCOUNT

    pem_body = [ln for ln in key.splitlines() if ln and not ln.startswith("-----")]
    secrets = {"access token": TOKEN, "private key header": "PRIVATE KEY-----",
               "private key id": info["private_key_id"], "client e-mail": info["client_email"],
               "key body (first line)": pem_body[0], "key body (middle line)": pem_body[len(pem_body) // 2],
               "key body, JSON-escaped": key.replace("\n", "\\n")[30:90]}
    artefacts = _files(str(tmp_path))
    assert {"project.qgs", "project.qgz", "model.smdmodel", "manifest.json", "screen.csv", "metrics.csv",
            "sm_1km_20230601.tif"} <= {os.path.basename(p) for p in artefacts}
    assert model_io.read_meta(str(tmp_path / "run" / "model.smdmodel"))["dates"] == ["2023-06-01", "2023-06-02"]
    profile = QgsApplication.qgisSettingsDirPath()
    profile_files = [p for p in _files(profile) if os.path.getsize(p) < 50 * 2**20]
    settings_file = QgsSettings().fileName()
    captured = capfd.readouterr()
    texts = {"Processing feedback": "\n".join(feedback.lines), "QGIS message log": "\n".join(messages),
             "Python log records": "\n".join(f"{r.name}: {r.getMessage()}" for r in caplog.records),
             "stdout/stderr": captured.out + captured.err, "settings values": repr(stored)}
    assert "Fetched 2 time step(s)" in texts["Processing feedback"]

    assert caplog.records and profile_files and len(artefacts) >= 15
    control = tmp_path.parent / f"{tmp_path.name}-control.qgz"  # the search sees inside compressed archives
    with zipfile.ZipFile(control, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("project.qgs", f"<qgis><token>{TOKEN}</token></qgis>" * 10)
    assert TOKEN.encode() not in _blobs(str(control))[0] and TOKEN.encode() in _blobs(str(control))[1]
    control.unlink()

    found = []
    for path in artefacts + profile_files + [settings_file]:
        for blob in _blobs(path):
            found += [f"{label} in {path}" for label, s in secrets.items() if s.encode() in blob]
    for where, text in texts.items():
        found += [f"{label} in {where}" for label, s in secrets.items() if s in text]
    assert found == []


def test_settings_hold_only_the_reference_to_the_key(plugin, auth_db, key):
    """Storing a key writes it to the encrypted authentication database; the settings keep only its id."""
    info = {"type": "service_account", "project_id": "p", "private_key_id": "f" * 40, "private_key": key,
            "client_email": "runner@p.iam.gserviceaccount.com", "token_uri": "http://127.0.0.1:9/token"}
    QgsSettings().remove("smdownscale")
    cfg = settings.store_service_account_key(json.dumps(info))
    try:
        settings.set_ee_authcfg(cfg)
        QgsSettings().sync()
        values = {k: str(QgsSettings().value(k)) for k in QgsSettings().allKeys() if k.startswith("smdownscale/")}
        assert values == {settings.KEY_AUTHCFG: cfg}
        with open(QgsSettings().fileName(), "rb") as fh:
            ini = fh.read()
        assert cfg.encode() in ini and b"PRIVATE KEY" not in ini and info["private_key_id"].encode() not in ini
        with open(auth_db.authenticationDatabasePath(), "rb") as fh:
            db = fh.read()
        body = [ln for ln in key.splitlines() if ln and not ln.startswith("-----")][3]
        assert body.encode() not in db and b"PRIVATE KEY" not in db  # stored encrypted
        assert settings.read_service_account_key(cfg)["private_key"] == key  # and readable with the master password
    finally:
        auth_db.removeAuthenticationConfig(cfg)
        QgsSettings().remove("smdownscale")


EDL_USER, EDL_PASSWORD, EDL_TOKEN = "smd-hygiene-user", "edl-Password-hygiene-31337", "edl-token-hygiene-27182"


def test_no_earthdata_credential_reaches_any_artefact(run, plugin, auth_db, tmp_path, monkeypatch, caplog, capfd):
    """importsmap's search and download with an Earthdata Login user name and password held in the QGIS
    authentication database (earthaccess exchanges them for a token at the fake EDL over TLS): neither the
    password nor the token reaches the outputs, the cache, the profile, the settings or any log."""
    import datetime as dt

    from qgis.core import QgsAuthMethodConfig

    from smdownscale.tests import nsidc
    from smdownscale.tests.fake_earthdata import FakeEarthdata, FakeGranule

    caplog.set_level(logging.DEBUG)
    messages: list[str] = []
    QgsApplication.messageLog().messageReceived.connect(lambda msg, tag, level: messages.append(f"{tag}: {msg}"))
    for var in ("EARTHDATA_TOKEN", "EARTHDATA_USERNAME", "EARTHDATA_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    r, c = nsidc.cell_of(42.0, 116.0)
    cells = {(r + i, c + j): 0.2 + 0.01 * (i + j) for i in range(-2, 3) for j in range(-2, 3)}
    made = tmp_path / "made"
    made.mkdir()
    served = []
    for hour in (1, 4):
        path = nsidc.write_l4(str(made), dt.datetime(2023, 6, 1, hour, 30), cells)
        with open(path, "rb") as fh:
            served.append(FakeGranule("SPL4SMGP", "008", dt.datetime(2023, 6, 1, hour, 30), os.path.basename(path),
                                      fh.read()))
        os.remove(path)
    config = QgsAuthMethodConfig("Basic")
    config.setName("Earthdata Login")
    config.setConfig("username", EDL_USER)
    config.setConfig("password", EDL_PASSWORD)
    assert auth_db.storeAuthenticationConfig(config)[0]
    feedback = _Feedback()
    with FakeEarthdata(served, token=EDL_TOKEN, users={EDL_USER: EDL_PASSWORD}) as fake:
        for name, value in fake.proxy_env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("SMDOWNSCALE_CMR_URL", fake.url)
        res = run("smdownscale:importsmap", {
            "DOWNLOAD": True, "PRODUCT": 1, "START_DATE": "2023-06-01", "END_DATE": "2023-06-01",
            "EXTENT": "115.9,116.1,41.9,42.1 [EPSG:4326]", "EARTHDATA_AUTH": config.id(),
            "CACHE_FOLDER": str(tmp_path / "cache"), "OUTPUT": str(tmp_path / "out")},
            context=QgsProcessingContext(), feedback=feedback)
        # the secrets really were in play: Basic credentials at EDL, the token it gave at CMR and the data URLs
        assert any(h.get("authorization", "").startswith("Basic ") for p, h in fake.requests
                   if p == "/api/users/find_or_create_token")
        assert {h["authorization"] for _, h in fake.requests_to("/data/")} == {f"Bearer {EDL_TOKEN}"}
        assert {h["authorization"] for _, h in fake.requests_to("/search/")} == {f"Bearer {EDL_TOKEN}"}
    assert res["N_STEPS"] == 1
    assert "Logged in to NASA Earthdata with the QGIS authentication configuration." in feedback.lines

    stored = {k: QgsSettings().value(k) for k in QgsSettings().allKeys() if k.startswith("smdownscale/")}
    artefacts = _files(str(tmp_path))
    assert {"manifest.json", "smap_20230601.tif"} | {g.name for g in served} <= {os.path.basename(p) for p in artefacts}
    profile_files = [p for p in _files(QgsApplication.qgisSettingsDirPath()) if os.path.getsize(p) < 50 * 2**20]
    captured = capfd.readouterr()
    texts = {"Processing feedback": "\n".join(feedback.lines), "QGIS message log": "\n".join(messages),
             "Python log records": "\n".join(f"{r.name}: {r.getMessage()}" for r in caplog.records),
             "stdout/stderr": captured.out + captured.err, "settings values": repr(stored)}
    secrets = {"password": EDL_PASSWORD, "token": EDL_TOKEN}
    found = []
    for path in artefacts + profile_files + [QgsSettings().fileName()]:
        for blob in _blobs(path):
            found += [f"{label} in {path}" for label, s in secrets.items() if s.encode() in blob]
    for where, text in texts.items():
        found += [f"{label} in {where}" for label, s in secrets.items() if s in text]
    assert found == []
