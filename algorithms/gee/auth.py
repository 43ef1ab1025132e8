"""Earth Engine authentication: project, credentials, clear error messages, no secrets in text.

Nothing here opens a browser or a dialog, and nothing reads from the terminal (``ee.Authenticate`` is never
called, so a ``qgis_process`` run never waits for input): persistent credentials come from a previous
sign-in — :class:`SignIn`, started by the settings dialog's "Sign in with Google" button, or
``earthengine authenticate`` in a terminal — and a service-account key is passed in by the caller (the plugin
reads it from the QGIS authentication database). Every text that may reach a log, a message or a file goes
through :func:`redact`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import json
import os
import re
import secrets
import tempfile
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Iterator, Optional
from urllib.parse import parse_qs, urlencode, urlparse

from . import GeeError

ENV_PROJECT = "SMDOWNSCALE_EE_PROJECT"
ENV_PROJECT_FALLBACK = "EARTHENGINE_PROJECT"
ENV_URL = "SMDOWNSCALE_EE_URL"
DEFAULT_URL = "https://earthengine.googleapis.com"
REGISTER_URL = "https://code.earthengine.google.com/register"

MISSING_PROJECT = (
    "An Earth Engine Cloud project id is required: set it in the plugin settings or the "
    f"{ENV_PROJECT} environment variable (projects must be registered for Earth Engine: {REGISTER_URL})"
)
NOT_AUTHENTICATED = (
    "Not authenticated with Earth Engine: sign in once with 'Sign in with Google' in the plugin settings "
    "(Raster > Soil moisture downscaling > Settings…) or run `earthengine authenticate` once in a terminal "
    "(either stores your credentials for QGIS and qgis_process), or choose a service account key in the "
    "plugin settings."
)
TOO_LARGE = (
    "The area is too large for interactive download; reduce the area or resolution, or use the export "
    "option (Export to Drive/Cloud Storage)."
)

_lock = threading.Lock()
_state: dict[str, Any] = {"key": None, "project": None}


# -- redaction ------------------------------------------------------------------------------------
_SECRET_FIELDS = r"(?:access_token|refresh_token|id_token|client_secret|private_key_id|private_key|api_key|apikey|" \
                 r"assertion|password|token|key)"
_REDACTIONS: list[tuple[re.Pattern, str]] = [
    # PEM blocks (service-account private keys), also with escaped newlines as in a JSON string.
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----(?:\\n)?", re.S),
     "[redacted private key]"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*", re.S), "[redacted private key]"),
    # "field": "value" / 'field': 'value' (JSON, Python reprs).
    (re.compile(r"""(["'])(""" + _SECRET_FIELDS + r""")\1(\s*:\s*)(["'])(?:\\.|(?!\4).)*\4""", re.I),
     r"\1\2\1\3\4[redacted]\4"),
    # field=value (query strings, form bodies, key=value logs).
    (re.compile(r"""\b(""" + _SECRET_FIELDS + r""")=[^&\s"',;]+""", re.I), r"\1=[redacted]"),
    # Authorization headers and bare tokens.
    (re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]+", re.I), r"\1 [redacted]"),
    (re.compile(r"\bya29\.[A-Za-z0-9._\-]+"), "[redacted token]"),
    (re.compile(r"\b1//[A-Za-z0-9._\-]{10,}"), "[redacted token]"),
    (re.compile(r"\bAIza[0-9A-Za-z_\-]{20,}"), "[redacted key]"),
]


def redact(text: Any) -> str:
    """``text`` with access/refresh tokens, API keys, private keys and other secrets replaced.

    Parameters
    ----------
    text : Any
        Any text (converted with ``str``).

    Returns
    -------
    str
        The text with secrets replaced.
    """
    out = str(text)
    for pattern, repl in _REDACTIONS:
        out = pattern.sub(repl, out)
    return out


# -- project and url ------------------------------------------------------------------------------
def resolve_project(project: Optional[str] = None, key_info: Optional[dict] = None) -> str:
    """The project id: the argument, else $SMDOWNSCALE_EE_PROJECT, else $EARTHENGINE_PROJECT, else the
    service-account key's own project; raises :class:`GeeError` when there is none.

    Parameters
    ----------
    project : str or None
        The project id given.
    key_info : dict or None
        A service-account key's content.

    Returns
    -------
    str
        The project id, stripped.

    Raises
    ------
    GeeError
        No project id is given or set.
    """
    for candidate in (project, os.environ.get(ENV_PROJECT), os.environ.get(ENV_PROJECT_FALLBACK),
                      (key_info or {}).get("project_id")):
        if candidate and str(candidate).strip():
            return str(candidate).strip()
    raise GeeError(MISSING_PROJECT, kind="project")


def resolve_url(url: Optional[str] = None) -> str:
    """The Earth Engine base URL: the argument, else $SMDOWNSCALE_EE_URL, else the public endpoint.

    Parameters
    ----------
    url : str or None
        The URL given.

    Returns
    -------
    str
        The URL without a trailing slash.
    """
    return (url or os.environ.get(ENV_URL) or DEFAULT_URL).rstrip("/")


def is_loopback(url: str) -> bool:
    """Whether ``url`` points at this machine (a local test server).

    Parameters
    ----------
    url : str
        A URL.

    Returns
    -------
    bool
        True for 127.x.x.x, localhost and ::1.
    """
    host = (urlparse(url).hostname or "").lower()
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


def current_project() -> Optional[str]:
    """The project of the last successful :func:`initialize` (None before).

    Returns
    -------
    str or None
        The project id.
    """
    return _state["project"]


# -- credentials ----------------------------------------------------------------------------------
def _service_account(info: dict) -> Any:
    import ee
    from google.oauth2 import service_account

    missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
    if info.get("type", "service_account") != "service_account" or missing:
        raise GeeError("The service account key is not a Google Cloud service-account JSON key"
                       + (f" (missing: {', '.join(missing)})" if missing else "")
                       + "; download a JSON key from Google Cloud console > IAM > Service accounts > Keys and "
                         "choose it in the plugin settings.", kind="auth")
    try:
        return service_account.Credentials.from_service_account_info(info, scopes=ee.oauth.SCOPES)
    except (ValueError, TypeError, KeyError) as exc:
        raise GeeError("The service account key cannot be read (" + redact(exc) + "); download a new JSON key "
                       "from Google Cloud console > IAM > Service accounts > Keys.", kind="auth") from None


def _adc_available() -> bool:
    if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        return True
    config = os.environ.get("CLOUDSDK_CONFIG") or os.path.join(os.path.expanduser("~"), ".config", "gcloud")
    return os.path.isfile(os.path.join(config, "application_default_credentials.json"))


def _persistent() -> Any:
    """Credentials stored by ``earthengine authenticate`` (or gcloud application-default credentials)."""
    import ee

    if not os.path.isfile(ee.oauth.get_credentials_path()) and not _adc_available():
        raise GeeError(NOT_AUTHENTICATED, kind="auth")
    try:
        return ee.data.get_persistent_credentials()
    except Exception as exc:
        raise explain(exc) from None


def _credentials(credentials: Any, url: str) -> Any:
    if credentials is None:
        if is_loopback(url):
            from google.auth.credentials import AnonymousCredentials

            return AnonymousCredentials()
        credentials = "persistent"
    if isinstance(credentials, str):
        if credentials != "persistent":
            raise GeeError(f"Unknown credentials choice '{redact(credentials)}': use 'persistent' or a service "
                           "account key.", kind="auth")
        return _persistent()
    if isinstance(credentials, dict):
        return _service_account(credentials)
    return credentials


@contextlib.contextmanager
def _offline_catalog(url: str) -> Iterator[None]:
    """Against a local server, keep ee.Initialize from downloading its deprecated-asset list."""
    import ee

    dep = getattr(ee, "deprecation", None)
    if not is_loopback(url) or dep is None or not hasattr(dep, "_FetchDataCatalogStac"):
        yield
        return
    original = dep._FetchDataCatalogStac
    dep._FetchDataCatalogStac = lambda: {}
    try:
        yield
    finally:
        dep._FetchDataCatalogStac = original


def _default_deadline(ee: Any, seconds: float = 120.0) -> None:
    """Give ee.Initialize's own requests a timeout (earthengine-api waits forever by default)."""
    get_state = getattr(ee.data, "_get_state", None)
    state = get_state() if get_state is not None else None
    if state is not None and not getattr(state, "deadline_ms", 1):
        state.deadline_ms = int(seconds * 1000)


def initialize(project: Optional[str] = None, credentials: Any = None, url: Optional[str] = None,
               force: bool = False) -> str:
    """Initialize earthengine-api for ``project``; returns the project id used.

    ``credentials``: None or "persistent" (stored by ``earthengine authenticate``; None against a local
    test server means anonymous), a service-account key (the JSON file's content as a dict) or a
    google-auth credentials object. ``url``: the argument, else $SMDOWNSCALE_EE_URL, else the public
    endpoint. A repeated call with the same arguments does nothing unless ``force``.
    Raises :class:`GeeError` with an actionable message (never a token or key).

    Parameters
    ----------
    project : str or None
        The Cloud project (None: :func:`resolve_project`).
    credentials : Any
        See above.
    url : str or None
        The Earth Engine base URL (None: :func:`resolve_url`).
    force : bool
        Initialize again even with the same arguments.

    Returns
    -------
    str
        The project id.

    Raises
    ------
    GeeError
        earthengine-api is not installed, or the initialization fails (explained by :func:`explain`, never
        with a token).
    """
    try:
        import ee
    except ImportError as exc:
        raise GeeError("earthengine-api is not installed; install it into the Python that QGIS uses "
                       "(python -m pip install earthengine-api) and restart QGIS.", kind="other") from exc
    base = resolve_url(url)
    key_info = credentials if isinstance(credentials, dict) else None
    project_id = resolve_project(project, key_info)
    cred_key = ("sa", key_info.get("client_email"), key_info.get("private_key_id")) if key_info else \
        (credentials if isinstance(credentials, (str, type(None))) else id(credentials))
    key = (project_id, base, cred_key)
    with _lock:
        if not force and _state["key"] == key and ee.data.is_initialized():
            return project_id
        creds = _credentials(credentials, base)
        _default_deadline(ee)
        try:
            with _offline_catalog(base):
                ee.Initialize(credentials=creds, url=base, project=project_id)
        except GeeError:
            raise
        except Exception as exc:
            _state["key"] = None
            raise explain(exc, project_id) from None
        _state["key"] = key
        _state["project"] = project_id
    return project_id


# -- sign-in --------------------------------------------------------------------------------------
#: Google's OAuth endpoints, as earthengine-api uses them (``ee.oauth.AUTH_URI``/``TOKEN_URI``); tests point them
#: at a fake server on 127.0.0.1.
OAUTH_AUTH_URI = "https://accounts.google.com/o/oauth2/auth"
OAUTH_TOKEN_URI = "https://oauth2.googleapis.com/token"
#: How long a sign-in waits for the browser to come back.
SIGN_IN_TIMEOUT = 600.0

_SIGNED_IN_PAGE = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Earth Engine</title></head><body>"
                   "<h2>Signed in to Google Earth Engine</h2><p>QGIS has your Earth Engine credentials; you can close "
                   "this tab.</p></body></html>")
_REFUSED_PAGE = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Earth Engine</title></head><body>"
                 "<h2>Earth Engine sign-in was not completed</h2><p>Go back to QGIS and try again.</p></body></html>")


def _pkce() -> tuple[str, str]:
    """(code_verifier, code_challenge) of RFC 7636, S256."""
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(48)).rstrip(b"=").decode("ascii")
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=")
    return verifier, challenge.decode("ascii")


def write_credentials(info: dict, path: Optional[str] = None) -> str:
    """Write persistent Earth Engine credentials (readable only by the user) where earthengine-api reads them
    (``~/.config/earthengine/credentials``), atomically: a failed write leaves the previous file as it was.

    Parameters
    ----------
    info : dict
        The credentials (refresh token, client id and secret, ...).
    path : str or None
        The file (None: earthengine-api's credentials path).

    Returns
    -------
    str
        The path written.
    """
    import ee

    path = path or ee.oauth.get_credentials_path()
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".credentials-", dir=folder)  # created with mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(info, f)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    return path


class SignIn:
    """Sign in to Earth Engine with a Google account, as ``earthengine authenticate --auth_mode=localhost`` does.

    earthengine-api's own installed-app flow (its OAuth client, scopes and credentials file): a one-shot
    server on this computer's loopback receives the browser's redirect, the code is exchanged for a refresh
    token (PKCE, and a ``state`` value the redirect must carry), and the credentials are written where
    ``ee.Initialize`` and the ``earthengine`` command read them, so QGIS and ``qgis_process`` both use them.

    The caller shows :attr:`url` to the user (opens it in the browser) and calls :meth:`wait` off the GUI
    thread. Nothing here opens a window or reads the terminal. Errors are :class:`GeeError` (kind 'auth').
    """

    def __init__(self, scopes: Optional[list[str]] = None, auth_uri: Optional[str] = None,
                 token_uri: Optional[str] = None, timeout: float = SIGN_IN_TIMEOUT) -> None:
        try:
            import ee
        except ImportError as exc:
            raise GeeError("earthengine-api is not installed; install it into the Python that QGIS uses "
                           "(python -m pip install earthengine-api) and restart QGIS.", kind="other") from exc
        self.client_id = ee.oauth.CLIENT_ID
        self._client_secret = ee.oauth.CLIENT_SECRET  # earthengine-api's installed-app client (not a secret)
        self.scopes = list(scopes or ee.oauth.SCOPES)
        self.token_uri = token_uri or OAUTH_TOKEN_URI
        self.timeout = float(timeout)
        self._verifier, challenge = _pkce()
        self._state = secrets.token_urlsafe(24)
        self._result: dict[str, str] = {}
        self._canceled = threading.Event()
        self._server = self._start_server()
        self.redirect_uri = f"http://localhost:{self._server.server_address[1]}"
        self.url = (auth_uri or OAUTH_AUTH_URI) + "?" + urlencode({
            "client_id": self.client_id, "scope": " ".join(self.scopes), "redirect_uri": self.redirect_uri,
            "response_type": "code", "code_challenge": challenge, "code_challenge_method": "S256",
            "state": self._state})

    def _start_server(self) -> http.server.HTTPServer:
        sign_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlparse(self.path).query)
                if query.get("state", [""])[0] != sign_in._state or not ("code" in query or "error" in query):
                    self.send_error(404)  # not the redirect of this sign-in (e.g. /favicon.ico)
                    return
                if "code" in query:
                    sign_in._result.setdefault("code", query["code"][0])
                    page = _SIGNED_IN_PAGE
                else:
                    sign_in._result.setdefault("error", query["error"][0])
                    page = _REFUSED_PAGE
                body = page.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Silent (the query holds the code)."""

        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        server.timeout = 0.2
        return server

    def cancel(self) -> None:
        """Stop waiting (thread-safe); :meth:`wait` raises ``Canceled``."""
        self._canceled.set()

    def close(self) -> None:
        """Stop listening for the browser's redirect (idempotent)."""
        with contextlib.suppress(OSError):
            self._server.server_close()

    def wait(self, is_canceled: Callable[[], bool] = lambda: False, credentials_path: Optional[str] = None) -> str:
        """Wait for the browser's redirect, exchange the code and write the credentials; returns their path.

        Parameters
        ----------
        is_canceled : Callable[[], bool]
            Checked while waiting.
        credentials_path : str or None
            Where to write the credentials (None: earthengine-api's path).

        Returns
        -------
        str
            The credentials' path.

        Raises
        ------
        GeeError
            The user refuses, the time runs out or Google refuses the code.
        Canceled
            :meth:`cancel` was called or ``is_canceled()`` turns true.
        """
        from ..errors import Canceled

        deadline = time.monotonic() + self.timeout
        try:
            while not self._result:
                if self._canceled.is_set() or is_canceled():
                    raise Canceled("Earth Engine sign-in canceled; nothing was saved.")
                if time.monotonic() > deadline:
                    raise GeeError(f"Earth Engine sign-in timed out: the browser did not come back within "
                                   f"{self.timeout / 60:.0f} minutes. Click 'Sign in with Google' again and finish "
                                   "the sign-in in the browser.", kind="auth")
                self._server.handle_request()
        finally:
            self.close()
        if "error" in self._result:
            raise GeeError(f"Earth Engine sign-in was not completed in the browser ({redact(self._result['error'])}); "
                           "click 'Sign in with Google' again and allow access.", kind="auth")
        token = self._exchange(self._result["code"])
        info = {"refresh_token": token, "scopes": self.scopes, "redirect_uri": self.redirect_uri}
        return write_credentials(info, credentials_path)

    def _exchange(self, code: str) -> str:
        """The refresh token for an authorization code (HTTP POST to the token endpoint, 60 s timeout)."""
        data = urlencode({"code": code, "client_id": self.client_id, "client_secret": self._client_secret,
                          "redirect_uri": self.redirect_uri, "grant_type": "authorization_code",
                          "code_verifier": self._verifier}).encode("ascii")
        request = urllib.request.Request(self.token_uri, data=data,
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                answer = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read().decode("utf-8", "replace"))
                reason = detail.get("error_description") or detail.get("error") or exc.reason
            except (ValueError, AttributeError):
                reason = exc.reason
            raise GeeError(f"Google refused the Earth Engine sign-in (HTTP {exc.code}: {redact(reason)}); click "
                           "'Sign in with Google' again.", kind="auth") from None
        except (OSError, ValueError) as exc:
            raise GeeError(f"Cannot reach Google to finish the Earth Engine sign-in ({redact(exc)}); check the "
                           "internet connection (and proxy) and try again.", kind="network") from None
        token = answer.get("refresh_token") if isinstance(answer, dict) else None
        if not token:
            raise GeeError("Google's answer to the Earth Engine sign-in holds no refresh token; click 'Sign in with "
                           "Google' again.", kind="auth")
        return str(token)


# -- errors ---------------------------------------------------------------------------------------
def http_status(exc: BaseException) -> Optional[int]:
    """The HTTP status behind an exception (ee.EEException keeps the HttpError as its context).

    Parameters
    ----------
    exc : BaseException
        An exception, searched with its causes and contexts.

    Returns
    -------
    int or None
        The HTTP status, or None.
    """
    seen = set()
    cur: Optional[BaseException] = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        status = getattr(cur, "status_code", None)
        if status is None:
            resp = getattr(cur, "resp", None) or getattr(cur, "response", None)
            status = getattr(resp, "status", None) or getattr(resp, "status_code", None)
        if isinstance(status, int) or (isinstance(status, str) and status.isdigit()):
            return int(status)
        cur = cur.__cause__ or cur.__context__
    return None


def retry_after(exc: BaseException) -> Optional[float]:
    """Seconds from a ``Retry-After`` header behind an exception, if any.

    Parameters
    ----------
    exc : BaseException
        An exception, searched with its causes and contexts.

    Returns
    -------
    float or None
        Seconds (at least 0), or None.
    """
    cur: Optional[BaseException] = exc
    seen = set()
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        resp = getattr(cur, "resp", None)
        if resp is not None and hasattr(resp, "get"):
            value = resp.get("retry-after") or resp.get("Retry-After")
            try:
                return max(0.0, float(value)) if value is not None else None
            except (TypeError, ValueError):
                return None
        cur = cur.__cause__ or cur.__context__
    return None


_NETWORK_TYPES = ("ConnectionError", "TimeoutError", "timeout", "ServerNotFoundError", "TransportError",
                  "RemoteDisconnected", "IncompleteRead", "ProtocolError", "ChunkedEncodingError",
                  "ReadTimeout", "ConnectTimeout", "SSLError")


def _is_network(exc: BaseException) -> bool:
    cur: Optional[BaseException] = exc
    seen = set()
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, (ConnectionError, TimeoutError)):
            return True
        if any(t.__name__ in _NETWORK_TYPES for t in type(cur).__mro__):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def classify(exc: BaseException) -> str:
    """The :class:`GeeError` kind of an exception (see :class:`GeeError`).

    Parameters
    ----------
    exc : BaseException
        An exception raised by earthengine-api or the network.

    Returns
    -------
    str
        'auth', 'project', 'quota', 'too_large', 'compute_limit', 'network', 'server', 'payload' or 'other'.
    """
    if isinstance(exc, GeeError):
        return exc.kind
    text = str(exc).lower()
    status = http_status(exc)
    names = {t.__name__ for t in type(exc).__mro__}
    google_auth = "GoogleAuthError" in names and "TransportError" not in names
    if google_auth or status == 401 or "please authorize access" in text or \
            "invalid authentication credentials" in text or "unauthenticated" in text or "invalid_grant" in text:
        return "auth"
    if "must be less than or equal to" in text or "request payload size exceeds" in text or \
            "too many pixels" in text:
        return "too_large"
    if status == 403 or "not registered to use earth engine" in text or "has not been used in project" in text \
            or "required permission to use project" in text or "permission_denied" in text \
            or "no project found" in text or "earth engine api has not been" in text:
        return "project"
    if status == 429 or "too many concurrent" in text or "quota exceeded" in text or "rate limit" in text \
            or "too many requests" in text or "resource_exhausted" in text:
        return "quota"
    if "computation timed out" in text or "memory limit exceeded" in text or "memory capacity exceeded" in text:
        return "compute_limit"
    if status is not None and status >= 500:
        return "server"
    if _is_network(exc):
        return "network"
    return "other"


def explain(exc: BaseException, project: Optional[str] = None) -> GeeError:
    """A :class:`GeeError` with a clear message for an Earth Engine failure, the original (redacted)
    message appended.

    Parameters
    ----------
    exc : BaseException
        The failure.
    project : str or None
        The project named in the message (None: the current one).

    Returns
    -------
    GeeError
        ``exc`` itself when it is one, else a new error of its :func:`classify` kind.
    """
    if isinstance(exc, GeeError):
        return exc
    kind = classify(exc)
    project = project or current_project() or "(none)"
    original = redact(str(exc).strip() or type(exc).__name__)
    if kind == "auth":
        msg = NOT_AUTHENTICATED
    elif kind == "project":
        msg = (f"The Cloud project '{project}' cannot use Earth Engine: it is not registered for Earth Engine, "
               "or your account (or service account) lacks permission on it. Register it at "
               f"{REGISTER_URL} (or ask its owner for the 'Service Usage Consumer' role), or set another project "
               f"in the plugin settings or the {ENV_PROJECT} environment variable.")
    elif kind == "quota":
        msg = ("Earth Engine refused the request: quota exceeded or too many requests at once. Wait a few minutes "
               "and run again (finished tiles are kept and not downloaded again), or lower the number of "
               "parallel requests.")
    elif kind == "too_large":
        msg = TOO_LARGE
    elif kind == "compute_limit":
        msg = ("Earth Engine could not compute the request within its interactive time or memory limits; reduce "
               "the area, the resolution or the number of factors, or use the export option (Export to "
               "Drive/Cloud Storage).")
    elif kind == "server":
        msg = ("Earth Engine had a server error; run again in a few minutes (finished tiles are kept and not "
               "downloaded again).")
    elif kind == "network":
        msg = ("Earth Engine could not be reached (network error, timeout or dropped connection); check the "
               "internet connection and proxy settings and run again (finished tiles are kept).")
    elif "not initialized" in original.lower():
        msg = "Earth Engine is not initialized; set the Earth Engine project in the plugin settings and run again."
    else:
        msg = "The Earth Engine request failed."
    return GeeError(f"{msg} (Earth Engine said: {original})", kind=kind)


__all__ = ["initialize", "explain", "redact", "classify", "http_status", "retry_after", "resolve_project",
           "resolve_url", "is_loopback", "current_project", "GeeError", "MISSING_PROJECT", "NOT_AUTHENTICATED",
           "SignIn", "write_credentials",
           "TOO_LARGE", "ENV_PROJECT", "ENV_URL"]
