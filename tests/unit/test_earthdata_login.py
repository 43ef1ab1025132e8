"""Earthdata Login through earthaccess against the loopback fake: user name and password (QGIS authentication
database), the "environment" and "netrc" strategies for headless runs, and secrets that never reach a log or a
file. EDL is reached over TLS through the fake's CONNECT proxy (earthaccess builds https://<host> itself)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os

import pytest

from smdownscale.algorithms import earthdata
from smdownscale.algorithms.errors import InputError
from smdownscale.tests.fake_earthdata import FakeEarthdata, FakeGranule

USER, PASSWORD, TOKEN = "alice", "pw-Secret 7!", "edl-token-from-edl-5150"


def _granules():
    data = hashlib.sha256(b"granule").digest() * 4000
    return [FakeGranule("SPL3SMP_E", "006", dt.datetime(2023, 6, d), f"SMAP_L3_SM_P_E_202306{d:02d}_R19240_001.h5",
                        data) for d in (1, 2)]


@pytest.fixture
def edl(monkeypatch, tmp_path):
    """The fake, with the environment pointing earthaccess at it and no credentials around."""
    for var in ("EARTHDATA_TOKEN", "EARTHDATA_USERNAME", "EARTHDATA_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    with FakeEarthdata(_granules(), token=TOKEN, users={USER: PASSWORD}) as fake:
        for key, value in fake.proxy_env().items():
            monkeypatch.setenv(key, value)
        yield fake


def _login(fake, **kw):
    return earthdata.login(cmr_url=fake.url, edl_host=fake.EDL_HOST, **kw)


def _edl_posts(fake):
    return [h for p, h in fake.requests if p == "/api/users/find_or_create_token"]


def test_user_name_and_password_are_exchanged_for_a_token_at_edl(edl):
    auth = _login(edl, username=USER, password=PASSWORD)
    assert earthdata.auth_token(auth) == TOKEN
    posts = _edl_posts(edl)
    assert posts and posts[-1]["authorization"].startswith("Basic ")
    assert f"{edl.EDL_HOST}:443" in [p for p, _ in edl.requests]  # over TLS, through the proxy
    with pytest.raises(earthdata.EarthdataError, match="Earthdata Login refused the user name and password from "
                                                       "the QGIS authentication configuration") as err:
        _login(edl, username=USER, password="wrong-pw-123")
    assert "wrong-pw-123" not in str(err.value)


def test_environment_strategy_username_password_and_token(edl, monkeypatch):
    monkeypatch.setenv("EARTHDATA_USERNAME", USER)
    monkeypatch.setenv("EARTHDATA_PASSWORD", PASSWORD)
    logs = []
    assert earthdata.auth_token(_login(edl, log=logs.append)) == TOKEN
    assert logs == ["Logged in to NASA Earthdata with the environment variables EARTHDATA_USERNAME and "
                    "EARTHDATA_PASSWORD."]
    monkeypatch.setenv("EARTHDATA_PASSWORD", "not-it")
    with pytest.raises(earthdata.EarthdataError, match="refused the user name and password from the environment "
                                                       "variables EARTHDATA_USERNAME and EARTHDATA_PASSWORD"):
        _login(edl)
    monkeypatch.delenv("EARTHDATA_PASSWORD")
    with pytest.raises(InputError, match="Only one of EARTHDATA_USERNAME and EARTHDATA_PASSWORD is set"):
        _login(edl)
    monkeypatch.delenv("EARTHDATA_USERNAME")
    monkeypatch.setenv("EARTHDATA_TOKEN", "a-token-from-the-env")
    n = len(_edl_posts(edl))
    assert earthdata.auth_token(_login(edl)) == "a-token-from-the-env"
    assert len(_edl_posts(edl)) == n  # a token needs no EDL exchange


def test_netrc_strategy(edl, monkeypatch, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine {edl.EDL_HOST}\n  login {USER}\n  password {PASSWORD.replace(' ', '_')}\n")
    monkeypatch.setenv("NETRC", str(netrc))
    with pytest.raises(earthdata.EarthdataError, match=f"refused the user name and password from the netrc file "
                                                       f"{netrc}"):
        _login(edl)
    netrc.write_text(f'machine {edl.EDL_HOST} login {USER} password "{PASSWORD}"\n')
    logs = []
    assert earthdata.auth_token(_login(edl, log=logs.append)) == TOKEN
    assert logs == [f"Logged in to NASA Earthdata with the netrc file {netrc}."]
    netrc.write_text(f"machine urs.earthdata.nasa.gov login {USER} password x\n")
    with pytest.raises(InputError, match=r"No Earthdata Login credentials \(Username not found in .netrc file "
                                         r".*'machine urs.earthdata.test login USER password PASSWORD'"):
        _login(edl)


def test_without_any_credentials_the_message_lists_every_way(edl):
    with pytest.raises(InputError) as err:
        earthdata.fetch_granules("SPL3SMP_E", "2023-06-01", "2023-06-02", None, "/nonexistent/cache",
                                 cmr_url=edl.url, edl_host=edl.EDL_HOST)
    text = str(err.value)
    for way in ("QGIS authentication configuration", "EARTHDATA_USERNAME and EARTHDATA_PASSWORD", "EARTHDATA_TOKEN",
                f"machine {edl.EDL_HOST} login USER password PASSWORD"):
        assert way in text
    assert not os.path.exists("/nonexistent/cache") and edl.requests_to("/search/") == []


def test_fetch_logs_in_searches_and_downloads_and_no_secret_is_logged_or_written(edl, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    logs = []
    cache = tmp_path / "cache"
    paths = earthdata.fetch_granules("SPL3SMP_E", "2023-06-01", "2023-06-02", None, str(cache), username=USER,
                                     password=PASSWORD, cmr_url=edl.url, edl_host=edl.EDL_HOST, log=logs.append)
    assert [os.path.basename(p) for p in paths] == [g.name for g in _granules()]
    assert all(open(p, "rb").read() == g.data for p, g in zip(paths, _granules()))
    # the token EDL gave went to CMR and to the data endpoint, never to the signed storage URL
    assert {h["authorization"] for _, h in edl.requests_to("/search/")} == {f"Bearer {TOKEN}"}
    assert {h["authorization"] for _, h in edl.requests_to("/data/")} == {f"Bearer {TOKEN}"}
    assert all("authorization" not in h for _, h in edl.requests_to("/s3/"))
    # a wrong password afterwards: refused, nothing more written
    with pytest.raises(earthdata.EarthdataError) as err:
        earthdata.fetch_granules("SPL3SMP_E", "2023-06-01", "2023-06-02", None, str(tmp_path / "c2"),
                                 username=USER, password="wrong-Secret-99", cmr_url=edl.url, edl_host=edl.EDL_HOST,
                                 log=logs.append)
    said = "\n".join(logs + [r.getMessage() for r in caplog.records] + [str(err.value)])
    assert "Logged in to NASA Earthdata with the QGIS authentication configuration." in said
    for secret in (PASSWORD, TOKEN, "wrong-Secret-99"):
        assert secret not in said
    written = [os.path.join(d, f) for d, _, files in os.walk(tmp_path) for f in files]
    assert sorted(os.path.basename(f) for f in written) == sorted(g.name for g in _granules())
    # earthaccess persists credentials only when asked (persist=True): nothing new in the home folder
    assert {f: os.path.exists(os.path.expanduser(f)) for f in HOME_FILES} == home_before


HOME_FILES = ("~/.netrc", "~/.urs_cookies", "~/.dodsrc")
home_before = {f: os.path.exists(os.path.expanduser(f)) for f in HOME_FILES}
