"""Earth Engine authentication: project, credentials, clear error messages, no secrets in text.

Nothing here opens a browser or a dialog (``ee.Authenticate`` is never called): persistent credentials
come from a previous ``earthengine authenticate``, a service-account key is passed in by the caller
(the plugin reads it from the QGIS authentication database). Every text that may reach a log, a
message or a file goes through :func:`redact`.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from typing import Any, Iterator, Optional
from urllib.parse import urlparse

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
    "Not authenticated with Earth Engine: run `earthengine authenticate` once in a terminal (it stores "
    "your credentials for QGIS and qgis_process), or choose a service account key in the plugin settings."
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
    """``text`` with access/refresh tokens, API keys, private keys and other secrets replaced."""
    out = str(text)
    for pattern, repl in _REDACTIONS:
        out = pattern.sub(repl, out)
    return out


# -- project and url ------------------------------------------------------------------------------
def resolve_project(project: Optional[str] = None, key_info: Optional[dict] = None) -> str:
    """The project id: the argument, else $SMDOWNSCALE_EE_PROJECT, else $EARTHENGINE_PROJECT, else the
    service-account key's own project; raises :class:`GeeError` when there is none.

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
    """The Earth Engine base URL: the argument, else $SMDOWNSCALE_EE_URL, else the public endpoint."""
    return (url or os.environ.get(ENV_URL) or DEFAULT_URL).rstrip("/")


def is_loopback(url: str) -> bool:
    """Whether ``url`` points at this machine (a local test server)."""
    host = (urlparse(url).hostname or "").lower()
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


def current_project() -> Optional[str]:
    """The project of the last successful :func:`initialize` (None before)."""
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


# -- errors ---------------------------------------------------------------------------------------
def http_status(exc: BaseException) -> Optional[int]:
    """The HTTP status behind an exception (ee.EEException keeps the HttpError as its context)."""
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
    """Seconds from a ``Retry-After`` header behind an exception, if any."""
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
    """The :class:`GeeError` kind of an exception (see :class:`GeeError`)."""
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
    message appended."""
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
           "TOO_LARGE", "ENV_PROJECT", "ENV_URL"]
