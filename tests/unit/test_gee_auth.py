"""Earth Engine authentication: project resolution, credentials, error messages, redaction."""

from __future__ import annotations

import json
import logging

import ee
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from osgeo import osr

from smdownscale.algorithms import raster
from smdownscale.algorithms.errors import SmdError
from smdownscale.algorithms.gee import GeeError, auth, transport
from smdownscale.tests import fake_ee
from smdownscale.tests.fake_ee import FakeEarthEngine, Fault

TOKEN = "ya29.a0AfB_secretAccessToken123"


@pytest.fixture
def no_env(monkeypatch):
    for name in (auth.ENV_PROJECT, auth.ENV_PROJECT_FALLBACK, auth.ENV_URL):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture
def fake(no_env):
    with FakeEarthEngine(access_token=TOKEN) as server:
        yield server
    assert server.internet_attempts == []


def _key_body(pem: str) -> str:
    """The base64 body of a PEM key (what must never leak)."""
    return "".join(pem.strip().splitlines()[1:-1])


# -- project --------------------------------------------------------------------------------------
def test_missing_project_says_where_to_set_it(no_env):
    with pytest.raises(GeeError) as err:
        auth.initialize(url="http://127.0.0.1:9")
    assert str(err.value) == (
        "An Earth Engine Cloud project id is required: set it in the plugin settings or the SMDOWNSCALE_EE_PROJECT "
        "environment variable (projects must be registered for Earth Engine: https://code.earthengine.google.com/"
        "register)")
    assert err.value.kind == "project" and isinstance(err.value, SmdError)


def test_project_from_argument_then_environment(fake, monkeypatch):
    def used_project() -> str:
        assert ee.Number(5).getInfo() == 5
        return fake.requests_to("compute")[-1].path.split("/")[3]

    monkeypatch.setenv(auth.ENV_PROJECT_FALLBACK, "fallback-project")
    assert auth.initialize(url=fake.url) == "fallback-project" == used_project()
    monkeypatch.setenv(auth.ENV_PROJECT, "env-project")
    assert auth.initialize(url=fake.url) == "env-project" == used_project()
    assert auth.current_project() == "env-project"
    assert auth.initialize(project="arg-project", url=fake.url) == "arg-project" == used_project()


def test_url_from_environment_and_repeated_calls_are_cheap(fake, monkeypatch):
    monkeypatch.setenv(auth.ENV_URL, fake.url)
    auth.initialize(project="p-one", force=True)
    n = len(fake.requests)
    assert n >= 1 and fake.requests[0].endpoint == "discovery"
    auth.initialize(project="p-one")
    assert len(fake.requests) == n  # same arguments: nothing re-initialized
    assert ee.Number(2).getInfo() == 2
    assert "authorization" not in {k.lower() for k in fake.requests[-1].headers}  # anonymous on loopback


def test_unregistered_project_at_initialize(fake):
    ee.Reset()  # a fresh session loads the algorithm list, the first call a project must be allowed to make
    fake.inject(fake_ee.unregistered_project("unreg-project"), endpoint="algorithms")
    with pytest.raises(GeeError) as err:
        auth.initialize(project="unreg-project", url=fake.url, force=True)
    assert err.value.kind == "project"
    assert str(err.value).startswith("The Cloud project 'unreg-project' cannot use Earth Engine")
    assert "Project 'projects/unreg-project' not registered to use Earth Engine" in str(err.value)
    assert auth.initialize(project="test-project", url=fake.url) == "test-project"  # not cached after failure


# -- credentials ----------------------------------------------------------------------------------
def test_missing_persistent_credentials(no_env, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    with pytest.raises(GeeError) as err:
        auth.initialize(project="p-two", url="https://earthengine.googleapis.com", credentials="persistent",
                        force=True)
    assert str(err.value).startswith("Not authenticated with Earth Engine: sign in once with 'Sign in with Google' "
                                     "in the plugin settings (Raster > Soil moisture downscaling > Settings…) or "
                                     "run `earthengine authenticate` once in a terminal")
    assert "or choose a service account key in the plugin settings" in str(err.value)
    assert err.value.kind == "auth"


def test_service_account_key_authenticates_and_no_secret_reaches_logs(fake, pem, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    info = fake.service_account_info(pem)
    assert auth.initialize(credentials=info, url=fake.url, force=True) == fake.project  # project from the key
    assert ee.Number(7).getInfo() == 7
    assert len(fake.requests_to("token")) >= 1
    assert fake.requests_to("compute")[-1].headers.get("authorization") == f"Bearer {TOKEN}"
    # Failing requests whose answer echoes the token: the error, the retry lines and the logs stay clean.
    fake.inject(Fault.http(500, f"backend saw Authorization: Bearer {TOKEN} and access_token={TOKEN}"), times=None)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(6933)
    grid = raster.Grid(srs.ExportToWkt(), (0.0, 1000.0, 0.0, 0.0, 0.0, -1000.0), 8, 8)
    with pytest.raises(GeeError) as err:
        transport.fetch_image(ee.Image(1).rename("b1"), grid, ["b1"], str(tmp_path / "out.tif"),
                              str(tmp_path / "cache"), retry=transport.RetryPolicy(max_attempts=2),
                              sleep=lambda s: None, workers=1)
    assert err.value.kind == "server" and not (tmp_path / "out.tif").exists()
    retry_lines = [r.getMessage() for r in caplog.records if r.name.endswith("gee.transport")]
    assert len(retry_lines) == 1 and "retry 1 of 1" in retry_lines[0]
    for text in (str(err.value), caplog.text):
        assert TOKEN not in text and "secretAccessToken" not in text
        assert _key_body(pem)[:40] not in text and "PRIVATE KEY-----" not in text
    assert "Bearer [redacted]" in str(err.value) and "access_token=[redacted]" in retry_lines[0]


def test_bad_service_account_keys(fake, pem):
    with pytest.raises(GeeError, match=r"not a Google Cloud service-account JSON key \(missing: private_key\)"):
        auth.initialize(project="p", credentials={"type": "service_account", "client_email": "a@b",
                                                  "token_uri": fake.url + "/token"}, url=fake.url, force=True)
    broken = fake.service_account_info(pem.replace("MII", "XXX", 1)[:400] + "\n-----END PRIVATE KEY-----\n")
    with pytest.raises(GeeError) as err:
        auth.initialize(project="p", credentials=broken, url=fake.url, force=True)
    assert str(err.value).startswith("The service account key cannot be read")
    assert _key_body(broken["private_key"])[:30] not in str(err.value)
    with pytest.raises(GeeError, match="Unknown credentials choice"):
        auth.initialize(project="p", credentials="browser", url=fake.url, force=True)


# -- error messages -------------------------------------------------------------------------------
@pytest.mark.parametrize("fault, kind, fragment", [
    (fake_ee.unregistered_project(), "project", "cannot use Earth Engine: it is not registered for Earth Engine"),
    (fake_ee.permission_denied(), "project", "lacks permission on it"),
    (fake_ee.too_many_aggregations(), "quota", "quota exceeded or too many requests at once"),
    (fake_ee.quota_exceeded(), "quota", "Wait a few minutes and run again"),
    (fake_ee.request_too_large(), "too_large", auth.TOO_LARGE),
    (Fault.http(400, "Computation timed out."), "compute_limit", "use the export option"),
    (Fault.http(503), "server", "Earth Engine had a server error"),
])
def test_explain_maps_earth_engine_errors(fake, fault, kind, fragment):
    auth.initialize(project="test-project", url=fake.url, force=True)
    fake.inject(fault, endpoint="compute")
    ee.data.setMaxRetries(0)
    try:
        with pytest.raises(ee.EEException) as raised:
            ee.Number(1).getInfo()
    finally:
        ee.data.setMaxRetries(5)
    err = auth.explain(raised.value)
    assert err.kind == kind and fragment in str(err)
    assert str(err).endswith(f"(Earth Engine said: {fault.message})")
    assert auth.http_status(raised.value) == fault.status
    assert auth.explain(err) is err


def test_explain_unauthenticated(fake, pem):
    # Anonymous credentials cannot be refreshed after a 401.
    auth.initialize(project="test-project", url=fake.url, force=True)
    fake.inject(fake_ee.unauthenticated(), endpoint="compute")
    with pytest.raises(Exception) as raised:
        ee.Number(1).getInfo()
    assert auth.explain(raised.value).kind == "auth"
    # Real credentials are refreshed and retried, then the 401 comes through as an EEException.
    auth.initialize(credentials=fake.service_account_info(pem), url=fake.url, force=True)
    fake.inject(fake_ee.unauthenticated(), endpoint="compute", times=None)
    with pytest.raises(ee.EEException) as raised:
        ee.Number(1).getInfo()
    err = auth.explain(raised.value)
    assert err.kind == "auth" and str(err).startswith(auth.NOT_AUTHENTICATED)
    assert "invalid authentication credentials" in str(err)


def test_explain_network_errors_and_retry_after(fake):
    auth.initialize(project="test-project", url=fake.url, force=True)
    assert auth.explain(ConnectionResetError("Connection reset by peer")).kind == "network"
    assert auth.explain(TimeoutError("read timed out")).kind == "network"
    assert auth.explain(ValueError("something else")).kind == "other"
    fake.inject(Fault.http(429, retry_after=12), endpoint="compute")
    ee.data.setMaxRetries(0)
    try:
        with pytest.raises(ee.EEException) as raised:
            ee.Number(1).getInfo()
    finally:
        ee.data.setMaxRetries(5)
    assert auth.retry_after(raised.value) == 12.0


# -- redaction ------------------------------------------------------------------------------------
def test_redact_removes_tokens_and_keys(pem):
    key_json = json.dumps({"type": "service_account", "private_key": pem, "private_key_id": "abcdef123456",
                           "client_email": "runner@p.iam.gserviceaccount.com"})
    text = "\n".join([
        f"Authorization: Bearer {TOKEN}",
        "GET https://example.org/x?access_token=tok_123secret&alt=json",
        '{"refresh_token": "1//0gSecretRefreshTokenValue", "client_secret": "d-FL95Q19q7MQmFpd7hHD0Ty"}',
        "{'access_token': 'ya29.other', 'expires_in': 3599}",
        key_json,
        "bare key: " + pem,
        "api key AIzaSyA1234567890abcdefghijklmnopqrstuv",
    ])
    out = auth.redact(text)
    for secret in (TOKEN, "tok_123secret", "1//0gSecretRefreshTokenValue", "d-FL95Q19q7MQmFpd7hHD0Ty", "ya29.other",
                   "abcdef123456", _key_body(pem)[:30], _key_body(pem)[-30:], "AIzaSyA1234567890"):
        assert secret not in out, secret
    assert "Bearer [redacted]" in out and "access_token=[redacted]&alt=json" in out
    assert '"client_email": "runner@p.iam.gserviceaccount.com"' in out and "'expires_in': 3599" in out
    plain = "Tile 3 of 12: HTTP 503; retry 1 of 5 in 0.4 s."
    assert auth.redact(plain) == plain


# -- Google-account sign-in (the settings dialog's button) ----------------------------------------
@pytest.fixture
def home(monkeypatch, tmp_path):
    """A home folder of its own: credentials go to <home>/.config/earthengine/credentials."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    return tmp_path


def _sign_in(fake, **kwargs) -> auth.SignIn:
    return auth.SignIn(auth_uri=fake.url + "/o/oauth2/auth", token_uri=fake.url + "/token", **kwargs)


def _waiting(sign_in: auth.SignIn, **kwargs):
    """Run ``sign_in.wait`` in a thread; returns (thread, outcome) with outcome['path'] or outcome['error']."""
    import threading

    outcome: dict = {}

    def run():
        try:
            outcome["path"] = sign_in.wait(**kwargs)
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _browser(url: str) -> tuple[int, str]:
    """What the user's browser does with the sign-in URL: follow Google's redirect to the loopback."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_sign_in_writes_credentials_that_earth_engine_uses(fake, home, monkeypatch):
    import os
    import stat
    from urllib.parse import parse_qs, urlparse

    sign_in = _sign_in(fake)
    query = parse_qs(urlparse(sign_in.url).query)
    assert sign_in.url.startswith(fake.url + "/o/oauth2/auth?")
    assert query["client_id"] == [ee.oauth.CLIENT_ID] and query["code_challenge_method"] == ["S256"]
    assert query["scope"] == [" ".join(ee.oauth.SCOPES)]
    assert query["redirect_uri"][0].startswith("http://localhost:") and len(query["state"][0]) >= 32
    thread, outcome = _waiting(sign_in)
    status, page = _browser(sign_in.url)
    thread.join(30)
    assert status == 200 and "Signed in to Google Earth Engine" in page
    path = home / ".config" / "earthengine" / "credentials"
    assert outcome == {"path": str(path)}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert stored == {"refresh_token": fake.refresh_tokens[0], "scopes": ee.oauth.SCOPES,
                      "redirect_uri": query["redirect_uri"][0]}
    assert fake.auth_codes == {}  # the code was used once
    assert [f for f in os.listdir(path.parent)] == ["credentials"]  # no temporary file left
    # earthengine-api reads them as its own: refreshed at the (fake) token endpoint, accepted by Earth Engine
    monkeypatch.setattr(ee.oauth, "TOKEN_URI", fake.url + "/token")
    fake.require_token = True
    fake.compute_result = 7
    assert auth.initialize(project="test-project", credentials="persistent", url=fake.url, force=True) == \
        "test-project"
    assert ee.Number(1).getInfo() == 7
    refresh = [r for r in fake.requests_to("token") if "grant_type=refresh_token" in str(r.body)]
    assert refresh and fake.refresh_tokens[0].replace("/", "%2F") in str(refresh[-1].body)


def test_sign_in_refused_forged_or_abandoned_saves_nothing(fake, home):
    import os
    import socket
    from urllib.parse import parse_qs, urlparse

    from smdownscale.algorithms.errors import Canceled

    creds = home / ".config" / "earthengine" / "credentials"
    os.makedirs(creds.parent)
    creds.write_text('{"refresh_token": "previous"}')

    fake.consent = False  # "Cancel" on Google's consent page
    sign_in = _sign_in(fake)
    thread, outcome = _waiting(sign_in)
    assert _browser(sign_in.url)[1].count("sign-in was not completed") == 1
    thread.join(30)
    assert str(outcome["error"]) == ("Earth Engine sign-in was not completed in the browser (access_denied); click "
                                     "'Sign in with Google' again and allow access.")
    assert outcome["error"].kind == "auth"

    fake.consent = True
    sign_in = _sign_in(fake)
    redirect = parse_qs(urlparse(sign_in.url).query)["redirect_uri"][0]
    state = parse_qs(urlparse(sign_in.url).query)["state"][0]
    thread, outcome = _waiting(sign_in)
    assert _browser(f"{redirect}/?code=4/stolen&state=wrong")[0] == 404  # another page's redirect: ignored
    assert _browser(f"{redirect}/favicon.ico")[0] == 404
    assert thread.is_alive()
    assert _browser(f"{redirect}/?code=4/forged&state={state}")[0] == 200  # a code Google never issued
    thread.join(30)
    assert str(outcome["error"]) == ("Google refused the Earth Engine sign-in (HTTP 400: Bad Request); click "
                                     "'Sign in with Google' again.")

    sign_in = _sign_in(fake)
    port = sign_in._server.server_address[1]
    thread, outcome = _waiting(sign_in)
    sign_in.cancel()
    thread.join(30)
    assert isinstance(outcome["error"], Canceled)
    assert str(outcome["error"]) == "Earth Engine sign-in canceled; nothing was saved."
    with pytest.raises(OSError):  # the loopback server is closed
        socket.create_connection(("127.0.0.1", port), timeout=2).close()

    sign_in = _sign_in(fake, timeout=0.3)
    thread, outcome = _waiting(sign_in)
    thread.join(30)
    assert str(outcome["error"]).startswith("Earth Engine sign-in timed out: the browser did not come back within")
    assert creds.read_text() == '{"refresh_token": "previous"}'  # the earlier sign-in is untouched
    assert fake.refresh_tokens == []
