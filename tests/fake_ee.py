"""A fake Earth Engine REST server on 127.0.0.1 for tests (no test reaches the internet).

The real earthengine-api client talks to it: it answers the discovery document and the algorithm
list shipped with the ``ee`` package (so ``ee.Initialize(url=fake.url, ...)`` works), ``value:compute``
(``getInfo``), ``image:computePixels`` with NPY or GeoTIFF bytes for the requested grid, export tasks
(``image:export``, ``operations/<id>`` and ``operations/<id>:cancel``) and an OAuth token endpoint (for
service-account credentials whose ``token_uri`` points here). For the Google-account sign-in it also plays
Google's authorization endpoint (``/o/oauth2/auth``: checks the request as Google does and redirects the
"browser" to the loopback ``redirect_uri`` with a one-time code, or ``error=access_denied`` when
``fake.consent`` is False) and exchanges that code at ``/token`` only with the matching PKCE verifier,
client and redirect URI (else HTTP 400 ``invalid_grant``, as Google answers).

Pixel values are a deterministic function of the pixel-center coordinates (:func:`field`), so any
tiling of a grid yields the same mosaic and tests can check values exactly. Masked pixels
(:func:`default_mask` or ``fake.mask``) are delivered the way Earth Engine delivers them: filled with
the value of an ``Image.unmask`` call found in the expression, else 0.

With ``numeric=True`` computePixels evaluates the expression itself (:class:`NumericEvaluator`): the server-side
chain's cell means (``reduceResolution``), bilinear spreading (``resample``), masks, arithmetic and a saved
regressor (``Classifier.load`` of ``fake.classifiers``) on test images (``Image.load`` of ``fake.images``) and the
fake's own collections; any other function is refused (HTTP 400), and signatures are checked first as always.

The fake serves the datasets of :data:`EE_DATASETS` (asset ids and bands as google/earthengine-catalog publishes them,
written down apart from the plugin's catalog): a request loading another asset, or selecting a band the loaded
datasets do not have, is refused with Earth Engine's message.

Faults are injected per endpoint (``fake.inject(Fault.http(503), times=2)``): HTTP errors in
Earth Engine's JSON shape (optionally with ``Retry-After``), slow answers, connections dropped
mid-body and corrupt payloads. Every request is logged (time, endpoint, path, JSON body, headers).

    with FakeEarthEngine() as fake:
        auth.initialize(project=fake.project, url=fake.url)
        fake.inject(Fault.http(429), times=2)
        ...
        assert len(fake.requests_to("computePixels")) == ...
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from dataclasses import field as dc_field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator, Optional
from urllib.parse import parse_qs, urlencode, urlparse

import ee
import numpy as np

EE_TESTS_DIR = os.path.join(os.path.dirname(__import__("ee").__file__), "tests")
DISCOVERY_PATH = os.path.join(EE_TESTS_DIR, "cloud_api_discovery_document.json")
ALGORITHMS_PATH = os.path.join(EE_TESTS_DIR, "algorithms.json")

#: Earth Engine's per-request limits for computePixels.
MAX_REQUEST_BYTES = 50331648
MAX_SIDE = 32768


def field(x: np.ndarray, y: np.ndarray, band: int) -> np.ndarray:
    """The deterministic test field: a float32 value per pixel center (x, y) and band index."""
    x = np.round(np.asarray(x, dtype=np.float64), 6)
    y = np.round(np.asarray(y, dtype=np.float64), 6)
    value = (band + 1) * 1000.0 + np.mod(x * 0.001, 97.0) + np.mod(y * 0.001, 89.0) * 0.01
    return value.astype(np.float32)


#: SMAP as Earth Engine stores it (not on the EASE-Grid 2.0 lattice): L4 warped to EPSG:4326 (here 0.1 degree
#: cells), L3 enhanced at 0.08 degrees; Earth Engine's transform order [xScale, xShear, xTranslation, yShear,
#: yScale, yTranslation].
SMAP_PROJECTIONS = {
    "NASA/SMAP/SPL4SMGP/007": {"crs": "EPSG:4326", "transform": [0.1, 0.0, -180.0, 0.0, -0.1, 90.0]},
    "NASA/SMAP/SPL4SMGP/008": {"crs": "EPSG:4326", "transform": [0.1, 0.0, -180.0, 0.0, -0.1, 90.0]},
    "NASA/SMAP/SPL3SMP_E/005": {"crs": "EPSG:4326", "transform": [0.08, 0.0, -180.0, 0.0, -0.08, 90.0]},
    "NASA/SMAP/SPL3SMP_E/006": {"crs": "EPSG:4326", "transform": [0.08, 0.0, -180.0, 0.0, -0.08, 90.0]},
}
SMAP_FILL = -9999.0
#: Images per SMAP step the fake pretends to average (L4: 8 three-hourly images a day).
SMAP_IMAGES_PER_STEP = 8


def smap_value(col: np.ndarray, row: np.ndarray, day: int) -> np.ndarray:
    """The fake's SMAP soil moisture (m3/m3, 0.05-0.45) of lattice cell (col, row) on day ``day`` (ordinal):
    a different value in every cell and on every day, so a duplicated or dropped cell is visible."""
    phase = np.sin(np.asarray(col, dtype=np.float64) * 12.9898 + np.asarray(row, dtype=np.float64) * 78.233
                   + day * 0.731) * 43758.5453
    return (0.05 + 0.4 * (phase - np.floor(phase))).astype(np.float32)


def smap_is_fill(col: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Cells where one of the step's SMAP images holds the fill value -9999 (about one cell in ten)."""
    return (np.asarray(col) * 7 + np.asarray(row) * 13) % 10 == 0


def smap_cells(collection: str, x: np.ndarray, y: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """The SMAP lattice cell (col, row) holding each point (x, y) given in ``crs`` (nearest: the cell it is in)."""
    from osgeo import osr

    proj = SMAP_PROJECTIONS[collection]
    src, dst = osr.SpatialReference(), osr.SpatialReference()
    src.SetFromUserInput(crs)
    dst.SetFromUserInput(proj["crs"])
    for srs in (src, dst):
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    pts = np.column_stack([np.ravel(x), np.ravel(y)])
    if not src.IsSame(dst):
        pts = np.asarray(osr.CoordinateTransformation(src, dst).TransformPoints(pts))[:, :2]
    sx, _, tx, _, sy, ty = proj["transform"]
    col = np.floor((pts[:, 0] - tx) / sx + 1e-9).astype(np.int64).reshape(np.shape(x))
    row = np.floor((pts[:, 1] - ty) / sy + 1e-9).astype(np.int64).reshape(np.shape(x))
    return col, row


def default_mask(x: np.ndarray, y: np.ndarray, band: int) -> np.ndarray:
    """No pixel is masked."""
    return np.zeros(np.shape(x), dtype=bool)


def grid_centers(grid: dict) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-center coordinates (rows, cols) of a computePixels ``grid`` (PixelGrid JSON)."""
    dims = grid.get("dimensions", {})
    width, height = int(dims["width"]), int(dims["height"])
    a = grid.get("affineTransform", {})
    sx, shx, tx = float(a.get("scaleX", 1)), float(a.get("shearX", 0)), float(a.get("translateX", 0))
    shy, sy, ty = float(a.get("shearY", 0)), float(a.get("scaleY", 1)), float(a.get("translateY", 0))
    c, r = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    return tx + c * sx + r * shx, ty + c * shy + r * sy


def find_unmask_value(node: Any, values: Optional[dict] = None) -> Optional[float]:
    """The constant ``value`` of the outermost ``Image.unmask`` call in a serialized expression."""
    if isinstance(node, dict):
        if values is None and "values" in node and "result" in node:
            values = node["values"]
            return find_unmask_value(values.get(node["result"]), values)
        if "valueReference" in node and values is not None:
            return find_unmask_value(values.get(node["valueReference"]), values)
        call = node.get("functionInvocationValue")
        if call:
            if call.get("functionName") == "Image.unmask":
                arg = call.get("arguments", {}).get("value")
                const = _constant(arg, values)
                if const is not None:
                    return float(const)
            for arg in call.get("arguments", {}).values():
                found = find_unmask_value(arg, values)
                if found is not None:
                    return found
    return None


def _constant(node: Any, values: Optional[dict]) -> Any:
    if isinstance(node, dict):
        if "constantValue" in node:
            return node["constantValue"]
        if "valueReference" in node and values is not None:
            return _constant(values.get(node["valueReference"]), values)
        call = node.get("functionInvocationValue") or {}
        if call.get("functionName") == "Image.constant":
            return _constant(call.get("arguments", {}).get("value"), values)
    return None


@dataclass
class Fault:
    """One injected misbehaviour (see the class methods)."""

    kind: str  # "ok", "status", "slow", "drop", "corrupt"
    status: int = 0
    message: str = ""
    error_status: str = ""
    retry_after: Optional[float] = None
    seconds: float = 0.0
    corrupt: str = "garbage"  # "garbage", "short", "shape", "bands"

    @classmethod
    def http(cls, status: int, message: str = "", error_status: str = "",
                     retry_after: Optional[float] = None) -> Fault:
        """An HTTP error with an Earth Engine style JSON body ``{"error": {code, message, status}}``."""
        default = {429: "Too many concurrent aggregations.", 500: "An internal error has occurred.",
                   502: "Bad Gateway", 503: "The service is currently unavailable.",
                   504: "Deadline exceeded."}.get(status, "Error")
        return cls("status", status=status, message=message or default,
                   error_status=error_status or _STATUS_NAMES.get(status, "UNKNOWN"), retry_after=retry_after)

    @classmethod
    def ok(cls) -> Fault:
        """Answer normally (to let the first requests through before another fault)."""
        return cls("ok")

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Wait ``seconds`` before answering (normally) — beyond the client timeout if it is short."""
        return cls("slow", seconds=seconds)

    @classmethod
    def drop(cls) -> Fault:
        """Send headers with the full Content-Length and half of the body, then close the connection."""
        return cls("drop")

    @classmethod
    def corrupt_payload(cls, how: str = "garbage") -> Fault:
        """HTTP 200 with a bad body: 'garbage' bytes, a 'short' (truncated) NPY, an NPY of the wrong
        'shape', or one missing 'bands'."""
        return cls("corrupt", corrupt=how)


_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "UNAVAILABLE", 503: "UNAVAILABLE",
                 504: "DEADLINE_EXCEEDED"}


def unregistered_project(project: str = "test-project") -> Fault:
    return Fault.http(
        403, f"Project 'projects/{project}' not registered to use Earth Engine. Visit "
             f"https://console.cloud.google.com/earth-engine/configuration?project={project} to register.")


def permission_denied(project: str = "test-project") -> Fault:
    return Fault.http(
        403, f"Caller does not have required permission to use project {project}. Grant the caller the "
             "roles/serviceusage.serviceUsageConsumer role.")


def unauthenticated() -> Fault:
    return Fault.http(
        401, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
             "other valid authentication credential.")


def too_many_aggregations() -> Fault:
    return Fault.http(429, "Too many concurrent aggregations.")


def quota_exceeded() -> Fault:
    return Fault.http(429, "Quota exceeded for quota metric 'Compute requests' of service "
                                   "'earthengine.googleapis.com'.")


def request_too_large(nbytes: int = 62914560) -> Fault:
    return Fault.http(
        400, f"Total request size ({nbytes} bytes) must be less than or equal to {MAX_REQUEST_BYTES} bytes.")


@dataclass
class Request:
    """One request the fake server received."""

    time: float
    method: str
    path: str
    endpoint: str
    body: Any
    headers: dict  # lower-case names


@dataclass
class _Rule:
    fault: Fault
    remaining: Optional[int]  # None: forever


@dataclass
class _Operation:
    name: str
    description: str
    states: list
    error: str
    step: int = 0
    canceled: bool = False
    body: dict = dc_field(default_factory=dict)


_ENDPOINTS = [
    ("discovery", re.compile(r"^/\$discovery/rest")),
    ("token", re.compile(r"^/token$")),
    ("authorize", re.compile(r"^/o/oauth2/auth$")),
    ("algorithms", re.compile(r"^/v1(?:alpha|beta)?/projects/[^/]+/algorithms$")),
    ("compute", re.compile(r"^/v1(?:alpha|beta)?/projects/[^/]+/value:compute$")),
    ("computePixels", re.compile(r"^/v1(?:alpha|beta)?/projects/[^/]+/image:computePixels$")),
    ("export", re.compile(r"^/v1(?:alpha|beta)?/projects/[^/]+/image:export$")),
    ("classifierExport", re.compile(r"^/v1(?:alpha|beta)?/projects/[^/]+/classifier:export$")),
    ("cancel", re.compile(r"^/v1(?:alpha|beta)?/projects/[^/]+/operations/[^/:]+:cancel$")),
    ("operation", re.compile(r"^/v1(?:alpha|beta)?/projects/[^/]+/operations/[^/:]+$")),
    ("operations", re.compile(r"^/v1(?:alpha|beta)?/projects/[^/]+/operations$")),
]


class FakeEarthEngine:
    """Context manager running the fake server on 127.0.0.1 (port chosen by the OS)."""

    def __init__(self, project: str = "test-project", bands: tuple[str, ...] = ("b1",),
                 value_fn: Callable[[np.ndarray, np.ndarray, int], np.ndarray] = field,
                 mask: Callable[[np.ndarray, np.ndarray, int], np.ndarray] = default_mask,
                 access_token: str = "ya29.fake-access-token",
                 smap_fn: Optional[Callable[[np.ndarray, np.ndarray, int], np.ndarray]] = None,
                 require_token: bool = False,
                 day_offset: Optional[Callable[[int, int], float]] = None, numeric: bool = False) -> None:
        self.project = project
        #: computePixels evaluates the expression itself (:class:`NumericEvaluator`) instead of answering the
        #: source's values: for server-side computations (cell means, bilinear spreading, gap filling).
        self.numeric = numeric
        #: Images ``Image.load`` serves in numeric mode, by asset id (:class:`TestImage`).
        self.images: dict = {}
        #: Saved regressors ``Classifier.load`` serves in numeric mode: asset id -> (input band names, function of
        #: the (bands, ...) values in that order).
        self.classifiers: dict = {}
        #: Factor values that depend on the date: ``day_offset(day_ordinal, band)`` is added to ``value_fn``
        #: (the day is the earliest date-range start of the expression). SMAP always depends on the date.
        self.day_offset = day_offset
        #: Refuse (HTTP 401) Earth Engine calls without ``Authorization: Bearer <access_token>``, as the server
        #: does (off by default: most tests initialize with anonymous credentials against the loopback).
        self.require_token = require_token
        #: SMAP values from the cell centers (lon, lat) and the day (ordinal); default :func:`smap_value`.
        self.smap_fn = smap_fn
        self.bands = list(bands)
        self.value_fn = value_fn
        self.mask = mask
        self.access_token = access_token
        #: Result of ``value:compute``: a value, or a callable taking the request body. Default
        #: (:func:`_evaluate`): constants, and the projection of a SMAP image (:data:`SMAP_PROJECTIONS`);
        #: anything else is refused (HTTP 400), as the fake cannot compute it.
        self.compute_result: Any = _evaluate
        #: SMAP's own grids, by collection id (the projection Earth Engine reports for its images).
        self.smap_projections = {k: dict(v) for k, v in SMAP_PROJECTIONS.items()}
        #: Per computePixels answer: {"pixels", "bytes", "bands", "crs", "assets", "input_pixels"}.
        self.pixel_log: list[dict] = []
        #: Source pixels one computePixels request may read: output pixels x (the ``maxPixels`` of every
        #: ``reduceResolution`` in the expression + one per band); beyond it the request fails as Earth Engine's
        #: do ("User memory limit exceeded.", HTTP 400).
        self.max_input_pixels: float = 2 ** 30
        #: Refuse (HTTP 400) expressions calling a function or argument ``algorithms.json`` does not list.
        self.check_signatures = True
        #: States an export operation walks through, one per status request.
        self.task_states = ["PENDING", "RUNNING", "SUCCEEDED"]
        self.task_error = "Export failed: the destination is not writable."
        self.requests: list[Request] = []
        self.operations: dict[str, _Operation] = {}
        #: The user's answer on Google's consent page (False: "Cancel", redirect with error=access_denied).
        self.consent = True
        #: Authorization codes issued by ``/o/oauth2/auth`` and not yet exchanged: code -> request parameters.
        self.auth_codes: dict[str, dict[str, str]] = {}
        #: Refresh tokens issued by the code exchange.
        self.refresh_tokens: list[str] = []
        self._rules: dict[str, list[_Rule]] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        #: Host names something tried to resolve outside 127.0.0.1 while the server ran (refused).
        self.internet_attempts: list[str] = []
        self._offline: Any = None
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        with open(DISCOVERY_PATH, encoding="utf-8") as f:
            self._discovery = json.load(f)
        # Earth Engine's classifier:export (Export.classifier.toAsset), missing from the shipped document
        resources = self._discovery["resources"]["projects"]["resources"]
        if "classifier" not in resources:
            method = json.loads(json.dumps(resources["image"]["methods"]["export"]))
            method.update({"id": "earthengine.projects.classifier.export",
                           "flatPath": "v1alpha/projects/{projectsId}/classifier:export",
                           "path": "v1alpha/{+project}/classifier:export"})
            resources["classifier"] = {"methods": {"export": method}}
        with open(ALGORITHMS_PATH, "rb") as f:
            self._algorithms = f.read()

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> FakeEarthEngine:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def start(self) -> None:
        self._offline = offline(self.internet_attempts)
        self._offline.__enter__()
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._offline is not None:
            self._offline.__exit__(None, None, None)
            self._offline = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the fake server is not running"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- configuration --------------------------------------------------------------------------
    def inject(self, fault: Fault, times: Optional[int] = 1, endpoint: str = "computePixels") -> None:
        """Apply ``fault`` to the next ``times`` requests of ``endpoint`` (None: to all of them).

        Rules apply in the order they were injected; ``endpoint="*"`` matches every endpoint.
        """
        with self._lock:
            self._rules.setdefault(endpoint, []).append(_Rule(fault, times))

    def clear_faults(self) -> None:
        with self._lock:
            self._rules.clear()

    def requests_to(self, endpoint: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.endpoint == endpoint]

    def service_account_info(self, private_key_pem: str, email: str = "runner@test-project.iam.gserviceaccount.com",
                             project: Optional[str] = None) -> dict:
        """A service-account key (as loaded from its JSON file) whose token endpoint is this server."""
        return {"type": "service_account", "project_id": project or self.project,
                "private_key_id": "0123456789abcdef0123456789abcdef01234567", "private_key": private_key_pem,
                "client_email": email, "client_id": "100000000000000000000", "token_uri": self.url + "/token"}

    # -- internals ------------------------------------------------------------------------------
    def _take_fault(self, endpoint: str) -> Optional[Fault]:
        with self._lock:
            for key in (endpoint, "*"):
                rules = self._rules.get(key, [])
                while rules:
                    rule = rules[0]
                    if rule.remaining is None:
                        return rule.fault
                    if rule.remaining > 0:
                        rule.remaining -= 1
                        if rule.remaining == 0:
                            rules.pop(0)
                        return rule.fault
                    rules.pop(0)
        return None

    def _log(self, req: Request) -> None:
        with self._lock:
            self.requests.append(req)

    def _sleep(self, seconds: float) -> None:
        self._closing.wait(seconds)


_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", None, ""}


@contextlib.contextmanager
def offline(attempts: list) -> Iterator[None]:
    """No internet: name lookups of other hosts than the loopback fail (and are recorded in
    ``attempts``); google-auth's background regional-access-boundary lookup and earthengine-api's
    deprecated-asset download, which would go to googleapis.com, are switched off."""
    import ee.deprecation
    import google.auth.credentials as gac

    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name not in _LOCAL_HOSTS and not str(name).startswith("127."):
            attempts.append(str(name))
            raise socket.gaierror(socket.EAI_NONAME, f"tests are offline: {name}")
        return real(host, *args, **kwargs)

    patches = [(socket, "getaddrinfo", guarded),
               (ee.deprecation, "_FetchDataCatalogStac", lambda: {})]
    rab = getattr(gac, "CredentialsWithRegionalAccessBoundary", None)
    if rab is not None and hasattr(rab, "_is_regional_access_boundary_lookup_required"):
        patches.append((rab, "_is_regional_access_boundary_lookup_required", lambda self: False))
    saved = [(obj, name, obj.__dict__[name]) for obj, name, _ in patches]
    for obj, name, value in patches:
        setattr(obj, name, value)
    try:
        yield
    finally:
        for obj, name, value in saved:
            setattr(obj, name, value)


class _RefusedError(Exception):
    """An expression the fake refuses, with Earth Engine's HTTP status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _resolve(expr: Any) -> Any:
    """A serialized expression with its value references inlined (shared nodes stay shared objects)."""
    if not (isinstance(expr, dict) and "values" in expr and "result" in expr):
        return expr
    values, done = expr["values"], {}

    def res(node: Any) -> Any:
        if isinstance(node, dict):
            if "valueReference" in node:
                ref = node["valueReference"]
                if ref not in done:
                    done[ref] = res(values.get(ref))
                return done[ref]
            if "functionDefinitionValue" in node:  # a mapped function: its body is a value id
                fdef = node["functionDefinitionValue"]
                return {"functionDefinitionValue": {**fdef, "body": res({"valueReference": fdef.get("body")})}}
            return {k: res(v) for k, v in node.items()}
        if isinstance(node, list):
            return [res(v) for v in node]
        return node

    return res(values.get(expr["result"]))


def _calls(node: Any) -> Iterator[dict]:
    """Every function invocation (``{"functionName", "arguments"}``) of a serialized expression, each shared
    node visited once."""
    seen: set = set()
    stack = [_resolve(node)]
    while stack:
        cur = stack.pop()
        if isinstance(cur, (dict, list)):
            if id(cur) in seen:
                continue
            seen.add(id(cur))
        if isinstance(cur, dict):
            call = cur.get("functionInvocationValue")
            if call:
                yield call
            stack.extend(cur.values())
        elif isinstance(cur, list):
            stack.extend(cur)


def loaded_ids(node: Any) -> list[str]:
    """Asset ids loaded anywhere in a serialized expression (ImageCollection.load / Image.load)."""
    out = []
    for call in _calls(node):
        if call.get("functionName") in ("ImageCollection.load", "Image.load"):
            value = (call.get("arguments", {}).get("id") or {}).get("constantValue")
            if isinstance(value, str) and value not in out:
                out.append(value)
    return out


def step_day(node: Any) -> Optional[int]:
    """The ordinal of the earliest date-range start in a serialized expression (the step's first day)."""
    import datetime as _dt

    days = []
    for call in _calls(node):
        if call.get("functionName") == "DateRange":
            start = (call.get("arguments", {}).get("start") or {}).get("constantValue")
            if isinstance(start, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", start):
                days.append(_dt.date.fromisoformat(start).toordinal())
    return min(days) if days else None


def masks_fill(node: Any, fill: float = SMAP_FILL) -> bool:
    """Whether the expression masks the fill value: an ``Image.neq`` against the constant ``fill``."""
    for call in _calls(node):
        if call.get("functionName") == "Image.neq":
            for inner in _calls(call.get("arguments", {}).get("image2")):
                if inner.get("functionName") == "Image.constant" and \
                        (inner.get("arguments", {}).get("value") or {}).get("constantValue") == fill:
                    return True
    return False


_SIGNATURES: dict = {}
#: name -> (return type, {argument name: type}) from the same file.
_TYPES: dict = {}


def signatures() -> dict:
    """Earth Engine's published algorithm signatures (``ee/tests/algorithms.json``): name -> (all argument
    names, required argument names)."""
    if not _SIGNATURES:
        with open(ALGORITHMS_PATH, encoding="utf-8") as fh:
            for alg in json.load(fh)["algorithms"]:
                args = alg.get("arguments", [])
                name = alg["name"].split("/", 1)[-1]
                _SIGNATURES[name] = (
                    {a["argumentName"] for a in args}, {a["argumentName"] for a in args if not a.get("optional")})
                _TYPES[name] = (alg.get("returnType"), {a["argumentName"]: a.get("type") for a in args})
    return _SIGNATURES


#: Families of Earth Engine types a value of one member may be given for another (numbers of any width, the
#: collections); ``Object``, ``Element`` and ``<any>`` hold anything (the client casts them).
_TYPE_FAMILIES = [{"Number", "Integer", "Float", "Long", "Short", "Byte", "Boolean"},
                  {"ImageCollection", "FeatureCollection", "Collection"}, {"Array", "List"},
                  {"Geometry", "Feature", "Rectangle"}]
#: Types the server builds from a number or a string given for them.
_FROM_NUMBER = {"Date", "ErrorMargin", "Projection", "PixelType"}
_ANY_TYPE = {"Object", "Element", "<any>", None}


def _base_type(t: Optional[str]) -> Optional[str]:
    return t.split("<", 1)[0] if t else t


def _types_meet(want: Optional[str], got: Optional[str]) -> bool:
    """Whether a value Earth Engine types ``got`` may be given for an argument of type ``want``."""
    w, g = _base_type(want), _base_type(got)
    if w in _ANY_TYPE or g in _ANY_TYPE or w == g:
        return True
    if w in _FROM_NUMBER and g in ("Number", "Integer", "Float", "Long", "String"):
        return True
    return any(w in fam and g in fam for fam in _TYPE_FAMILIES)


def _constant_type(value: Any) -> Optional[str]:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, (int, float)):
        return "Number"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "List"
    if isinstance(value, dict):
        return "Dictionary"
    return None


def _value_type(node: Any) -> Optional[str]:
    """The type of a serialized value: a constant's, or the return type of the function it invokes (None: unknown,
    e.g. a mapped function's argument)."""
    if not isinstance(node, dict):
        return None
    if "constantValue" in node:
        return _constant_type(node["constantValue"])
    if "arrayValue" in node:
        return "List"
    if "dictionaryValue" in node:
        return "Dictionary"
    if "functionDefinitionValue" in node:
        return "Algorithm"
    call = node.get("functionInvocationValue")
    if call and call.get("functionName") in _TYPES:
        return _TYPES[call["functionName"]][0]
    return None


def signature_errors(expression: Any) -> list[str]:
    """Calls of an expression that Earth Engine would reject: unknown functions, unknown arguments, missing
    required arguments, arguments of another type (a constant's, or the return type of the function giving it;
    checked against :func:`signatures`)."""
    known = signatures()
    problems = []
    for call in _calls(expression):
        name = call.get("functionName")
        if name is None:
            continue
        if name not in known:
            problems.append(f"Unknown algorithm: {name}.")
            continue
        allowed, required = known[name]
        given = set(call.get("arguments", {}))
        problems += [f"{name}: unknown argument '{a}'." for a in sorted(given - allowed)]
        problems += [f"{name}: missing required argument '{a}'." for a in sorted(required - given)]
        types = _TYPES[name][1]
        for arg, value in sorted(call.get("arguments", {}).items()):
            got = _value_type(value)
            if arg in types and not _types_meet(types[arg], got):
                problems.append(f"{name}, argument '{arg}': Invalid type. Expected type: {types[arg]}. "
                                f"Actual type: {got}.")
    return problems


_PASS_THROUGH = {"Image.toFloat": "value", "Image.toDouble": "value", "Image.unmask": "input",
                 "Image.updateMask": "image", "Image.resample": "image", "Image.reproject": "image",
                 "Image.reduceResolution": "image", "Image.setDefaultProjection": "image", "Image.clamp": "input",
                 "Image.clip": "input", "Image.add": "image1", "Image.subtract": "image1", "Image.multiply": "image1",
                 "Image.divide": "image1", "reduce.mean": "collection", "reduce.median": "collection",
                 "reduce.sum": "collection", "ImageCollection.mosaic": "collection", "Collection.sort": "collection",
                 "Collection.filter": "collection", "Collection.limit": "collection",
                 "ImageCollection.merge": "collection1"}
#: Numpy types of Earth Engine's casts (computePixels answers in the expression's type: double when not cast).
_CASTS = {"Image.toFloat": "<f4", "Image.toDouble": "<f8", "Image.toInt16": "<i2", "Image.toInt32": "<i4",
          "Image.toUint8": "u1", "Image.toInt8": "i1", "Image.toUint16": "<u2"}


def _const(node: Any) -> Any:
    return node.get("constantValue") if isinstance(node, dict) else None


def _invocation(node: Any) -> dict:
    return (node or {}).get("functionInvocationValue") or {} if isinstance(node, dict) else {}


def output_bands(expression: Any) -> Optional[list]:
    """The band names an image expression produces, as far as the fake can tell (None: unknown)."""
    def bands(node: Any, depth: int = 0) -> Optional[list]:
        if depth > 200 or not isinstance(node, dict):
            return None
        if "functionDefinitionValue" in node:
            return bands(node["functionDefinitionValue"].get("body"), depth + 1)
        call = _invocation(node)
        name, args = call.get("functionName"), call.get("arguments", {})
        if name == "Image.rename":
            return list(_const(args.get("names")) or []) or None
        if name == "Image.select":
            names = _const(args.get("newNames")) or _const(args.get("bandSelectors"))
            return list(names) if isinstance(names, list) and all(isinstance(n, str) for n in names) else None
        if name == "Image.addBands":
            dst, src = bands(args.get("dstImg"), depth + 1), bands(args.get("srcImg"), depth + 1)
            return None if dst is None or src is None else dst + [b for b in src if b not in dst]
        if name == "Image.constant":
            return ["constant"]
        if name == "Image.classify":
            return [_const(args.get("outputName")) or "classification"]
        if name == "Collection.map":
            return bands(args.get("baseAlgorithm"), depth + 1)
        if name == "ImageCollection.fromImages":
            images = (args.get("images") or {}).get("arrayValue", {}).get("values") or []
            return bands(images[0], depth + 1) if images else None
        if name in _PASS_THROUGH:
            return bands(args.get(_PASS_THROUGH[name]), depth + 1)
        return None

    return bands(_resolve(expression))


def answer_dtype(expression: Any) -> str:
    """The type computePixels answers in: the outermost cast of the expression, else double."""
    node = _resolve(expression)
    for _ in range(100):
        call = _invocation(node)
        name = call.get("functionName")
        if name in _CASTS:
            return _CASTS[name]
        if name not in _PASS_THROUGH:
            return "<f8"
        node = call.get("arguments", {}).get(_PASS_THROUGH[name])
    return "<f8"


def export_pixels(expression: Any) -> int:
    """Pixels an export writes, from its expression: earthengine-api folds ``dimensions`` into a rectangle in
    pixel coordinates, and ``region`` + ``crsTransform`` into a rectangle in the CRS and a reprojection."""
    rects, scales = [], []
    for call in _calls(expression):
        args = call.get("arguments", {})
        if call.get("functionName") == "GeometryConstructors.Rectangle":
            coords = (args.get("coordinates") or {}).get("constantValue")
            in_pixels = ((args.get("crs") or {}).get("functionInvocationValue") or {}).get("functionName") == \
                "Image.projection"
            if isinstance(coords, list) and len(coords) == 4 and all(isinstance(v, (int, float)) for v in coords):
                rects.append((abs(coords[2] - coords[0]) * abs(coords[3] - coords[1]), in_pixels))
        if call.get("functionName") == "Image.reproject":
            transform = (args.get("crsTransform") or {}).get("constantValue")
            if isinstance(transform, list) and len(transform) == 6 and transform[0] and transform[4]:
                scales.append(abs(transform[0] * transform[4]))
    for area, in_pixels in rects:
        if in_pixels:
            return int(round(area))
    if rects and scales:
        return int(round(max(a for a, _ in rects) / min(scales)))
    return 0


def _evaluate(body: dict) -> Any:
    expr = body.get("expression", {})
    values = expr.get("values", {})
    node = values.get(expr.get("result"), {})
    if "constantValue" in node:
        return node["constantValue"]
    call = node.get("functionInvocationValue", {})
    if call.get("functionName") == "Image.projection":
        ids = loaded_ids(expr)
        known = [i for i in ids if i in SMAP_PROJECTIONS]
        if known:
            return {"type": "Projection", **SMAP_PROJECTIONS[known[0]]}
        raise _RefusedError(400, f"ImageCollection.load: ImageCollection asset '{ids[0] if ids else '?'}' not found "
                            "(does not exist or caller does not have access).")
    raise _RefusedError(400, f"The fake Earth Engine cannot compute {call.get('functionName', 'this value')}.")


# -- numeric evaluation of image expressions (``FakeEarthEngine(numeric=True)``) ------------------------------

@dataclass(frozen=True)
class PixelGrid:
    """A grid the evaluator computes an image on: CRS, Earth Engine transform [sx, shx, tx, shy, sy, ty], size."""

    crs: str
    transform: tuple
    width: int
    height: int

    def centers(self) -> tuple[np.ndarray, np.ndarray]:
        sx, shx, tx, shy, sy, ty = self.transform
        c, r = np.meshgrid(np.arange(self.width) + 0.5, np.arange(self.height) + 0.5)
        return tx + c * sx + r * shx, ty + c * shy + r * sy


@dataclass
class _Pixels:
    """An evaluated image: values and masks (bands, rows, cols), 0/1 masks, band names."""

    values: np.ndarray
    mask: np.ndarray
    names: list


#: Test images served by ``Image.load`` (``fake.images[id]``): values and mask from pixel centres in ``crs``.
@dataclass
class TestImage:
    crs: str
    transform: list
    names: list
    values: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (x, y) -> (bands, ...) values
    mask: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]] = None  # (x, y) -> (bands, ...) True = masked


def _transform_points(x: np.ndarray, y: np.ndarray, src: str, dst: str) -> tuple[np.ndarray, np.ndarray]:
    from osgeo import osr

    if src == dst:
        return x, y
    a, b = osr.SpatialReference(), osr.SpatialReference()
    a.SetFromUserInput(src)
    b.SetFromUserInput(dst)
    if a.IsSame(b):
        return x, y
    for srs in (a, b):
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    pts = np.asarray(osr.CoordinateTransformation(a, b).TransformPoints(np.column_stack([np.ravel(x), np.ravel(y)])))
    return pts[:, 0].reshape(np.shape(x)), pts[:, 1].reshape(np.shape(x))


def _pixel_position(x: np.ndarray, y: np.ndarray, t: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Fractional (col, row) of points in a north-up grid with Earth Engine transform ``t`` (no shear)."""
    sx, shx, tx, shy, sy, ty = t
    if shx or shy:
        raise _RefusedError(400, "The fake Earth Engine evaluates north-up grids only.")
    return (x - tx) / sx, (y - ty) / sy


#: Functions the numeric evaluator computes (anything else is refused, HTTP 400).
NUMERIC_FUNCTIONS = ("Image.load", "Image.constant", "Image.reproject", "Image.reduceResolution", "Image.resample",
                     "Image.rename", "Image.select", "Image.toFloat", "Image.toDouble", "Image.add", "Image.subtract",
                     "Image.multiply", "Image.divide", "Image.max", "Image.gt", "Image.eq", "Image.not", "Image.mask",
                     "Image.updateMask", "Image.unmask", "Image.where", "Image.reduce", "Image.clamp",
                     "Image.addBands", "Image.cat", "Image.classify")
_BINARY = {"Image.add": np.add, "Image.subtract": np.subtract, "Image.multiply": np.multiply,
           "Image.max": np.maximum, "Image.gt": lambda a, b: (a > b).astype(np.float64),
           "Image.eq": lambda a, b: (a == b).astype(np.float64)}
#: Ops whose output keeps the default projection of one argument.
_KEEPS_PROJECTION = {"Image.unmask": "input", "Image.updateMask": "image", "Image.rename": "input",
                     "Image.select": "input", "Image.toFloat": "value", "Image.toDouble": "value",
                     "Image.resample": "image", "Image.reduceResolution": "image", "Image.mask": "image",
                     "Image.clamp": "input", "Image.where": "input", "Image.reduce": "image", "Image.not": "value",
                     **{name: "image1" for name in ("Image.add", "Image.subtract", "Image.multiply", "Image.divide",
                                                     "Image.max", "Image.gt", "Image.eq")}}


class NumericEvaluator:
    """Evaluates a serialized image expression on a grid, the way Earth Engine computes it (within the operations
    of :data:`NUMERIC_FUNCTIONS`):

    * an image is computed lazily on the grid it is requested in; ``reproject`` computes its input on the pixels of
      its own projection holding the requested pixel centres and takes, for each requested pixel, the one its
      centre falls in (nearest neighbour);
    * ``reduceResolution`` (under a ``reproject`` onto a coarser grid) averages the valid pixels of its input, in
      the input's default projection, whose centres fall in each output pixel; it fails as Earth Engine does when a
      pixel would need more than ``maxPixels`` inputs (``bestEffort`` is not taken);
    * ``resample('bilinear')`` interpolates between the pixel centres of the input's default projection (which must
      be known: a ``reproject`` or a loaded image); a pixel is masked when one of its four knots is;
    * band-wise arithmetic with one-band images broadcast, masks combined (a quotient by 0 is masked);
    * sources: ``Image.load`` of ``fake.images`` (:class:`TestImage`), and expressions loading the fake's
      collections (factors: :func:`field` with ``fake.mask``; SMAP: the value of the lattice cell, as computePixels
      answers them).
    """

    def __init__(self, fake: FakeEarthEngine, expression: Any) -> None:
        self.fake = fake
        self.root = _resolve(expression)
        self._cache: dict = {}

    # -- helpers ------------------------------------------------------------------------------------------
    @staticmethod
    def _call(node: Any) -> tuple[Optional[str], dict]:
        call = _invocation(node)
        return call.get("functionName"), call.get("arguments", {})

    def _const(self, node: Any) -> Any:
        if isinstance(node, dict) and "constantValue" in node:
            return node["constantValue"]
        if isinstance(node, dict) and "arrayValue" in node:
            return [self._const(v) for v in node["arrayValue"].get("values", [])]
        name, args = self._call(node)
        if name == "Image.constant":
            return self._const(args.get("value"))
        raise _RefusedError(400, f"The fake Earth Engine expects a constant here, got {name or node}.")

    def _projection(self, node: Any) -> Optional[tuple[str, tuple]]:
        """(crs, transform) of a Projection argument or of an image's default projection (None: unknown)."""
        name, args = self._call(node)
        if name == "Projection":
            return str(self._const(args.get("crs"))), tuple(float(v) for v in self._const(args.get("transform")))
        if name == "Image.reproject":
            crs = args.get("crs")
            if self._call(crs)[0] == "Projection":
                return self._projection(crs)
            return str(self._const(crs)), tuple(float(v) for v in self._const(args.get("crsTransform")))
        if name == "Image.load":
            image = self.fake.images.get(self._const(args.get("id")))
            return None if image is None else (image.crs, tuple(image.transform))
        if name in _KEEPS_PROJECTION:
            return self._projection(args.get(_KEEPS_PROJECTION[name]))
        return None

    @staticmethod
    def _covering(proj: tuple[str, tuple], grid: PixelGrid, x: np.ndarray, y: np.ndarray, margin: int = 0
                  ) -> tuple[PixelGrid, np.ndarray, np.ndarray]:
        """The pixels of ``proj`` around points (x, y) of ``grid``'s CRS: a sub-grid and each point's (col, row)
        in it (fractional)."""
        crs, t = proj
        px, py = _transform_points(x, y, grid.crs, crs)
        u, v = _pixel_position(px, py, t)
        c0 = int(np.floor(np.nanmin(u))) - margin
        r0 = int(np.floor(np.nanmin(v))) - margin
        c1 = int(np.floor(np.nanmax(u))) + margin + 1
        r1 = int(np.floor(np.nanmax(v))) + margin + 1
        sx, shx, tx, shy, sy, ty = t
        sub = PixelGrid(crs, (sx, shx, tx + c0 * sx, shy, sy, ty + r0 * sy), c1 - c0, r1 - r0)
        if sub.width * sub.height > 2 ** 26:
            raise _RefusedError(400, "User memory limit exceeded.")
        return sub, u - c0, v - r0

    # -- evaluation -----------------------------------------------------------------------------------------
    def pixels(self, grid: PixelGrid, node: Any = None) -> _Pixels:
        node = self.root if node is None else node
        key = (id(node), grid)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._eval(node, grid)
        return hit

    def _eval(self, node: Any, grid: PixelGrid) -> _Pixels:
        name, args = self._call(node)
        shape = (grid.height, grid.width)
        if name is None or name not in NUMERIC_FUNCTIONS:
            ids = loaded_ids(node)
            if ids and all(i in self.fake.smap_projections or _known_asset(i) for i in ids) and name != "Image.load":
                return self._source(node, ids, grid)
            raise _RefusedError(400, f"The fake Earth Engine cannot evaluate {name or 'this value'} numerically.")
        if name == "Image.load":
            image_id = self._const(args.get("id"))
            image = self.fake.images.get(image_id)
            if image is None:
                raise _RefusedError(400, f"Image.load: Image asset '{image_id}' not found (does not exist or caller "
                                         "does not have access).")
            x, y = _transform_points(*grid.centers(), grid.crs, image.crs)
            values = np.asarray(image.values(x, y), dtype=np.float64).reshape(len(image.names), *shape)
            masked = np.zeros(values.shape, bool) if image.mask is None else \
                np.asarray(image.mask(x, y), bool).reshape(values.shape)
            return _Pixels(np.where(masked, 0.0, values), (~masked).astype(np.float64), list(image.names))
        if name == "Image.constant":
            value = np.atleast_1d(np.asarray(self._const(args.get("value")), dtype=np.float64))
            n = value.size
            return _Pixels(np.broadcast_to(value[:, None, None], (n, *shape)).copy(), np.ones((n, *shape)),
                           ["constant"] if n == 1 else [f"constant_{k}" for k in range(n)])
        if name == "Image.reproject":
            return self._reproject(args, grid)
        if name == "Image.reduceResolution":
            return self._reduce_resolution(args, grid)
        if name == "Image.resample":
            return self._resample(args, grid)
        if name in ("Image.rename", "Image.select"):
            img = self.pixels(grid, args.get("input"))
            if name == "Image.rename":
                names = list(self._const(args.get("names")))
                return _Pixels(img.values, img.mask, names)
            picks = [img.names.index(s) if isinstance(s, str) else int(s)
                     for s in self._const(args.get("bandSelectors"))]
            new = self._const(args["newNames"]) if args.get("newNames") else [img.names[k] for k in picks]
            return _Pixels(img.values[picks], img.mask[picks], list(new))
        if name in ("Image.toFloat", "Image.toDouble"):
            img = self.pixels(grid, args.get("value"))
            cast = np.float32 if name == "Image.toFloat" else np.float64
            return _Pixels(img.values.astype(cast).astype(np.float64), img.mask, img.names)
        if name in _BINARY or name == "Image.divide":
            a, b = self.pixels(grid, args.get("image1")), self.pixels(grid, args.get("image2"))
            av, bv, am, bm = self._broadcast(a, b)
            mask = np.minimum(am, bm)
            with np.errstate(divide="ignore", invalid="ignore"):
                if name == "Image.divide":
                    values = np.where(bv != 0, av / np.where(bv != 0, bv, 1.0), 0.0)
                    mask = np.where(bv != 0, mask, 0.0)
                else:
                    values = _BINARY[name](av, bv)
            return _Pixels(np.where(mask > 0, values, 0.0), mask, a.names if a.values.shape[0] >= b.values.shape[0]
                           else b.names)
        if name == "Image.not":
            img = self.pixels(grid, args.get("value"))
            return _Pixels((img.values == 0).astype(np.float64), img.mask, img.names)
        if name == "Image.mask":
            if args.get("mask") is not None:
                raise _RefusedError(400, "The fake Earth Engine evaluates Image.mask without a new mask only.")
            img = self.pixels(grid, args.get("image"))
            return _Pixels(img.mask.copy(), np.ones_like(img.mask), img.names)
        if name == "Image.updateMask":
            img, m = self.pixels(grid, args.get("image")), self.pixels(grid, args.get("mask"))
            iv, mv, im, mm = self._broadcast(img, m)
            mask = np.minimum(im, np.where(mm > 0, np.clip(mv, 0.0, 1.0), 0.0))
            return _Pixels(np.where(mask > 0, iv, 0.0), mask, img.names)
        if name == "Image.unmask":
            img = self.pixels(grid, args.get("input"))
            value = self.pixels(grid, args["value"]) if args.get("value") is not None else \
                _Pixels(np.zeros_like(img.values), np.ones_like(img.mask), img.names)
            iv, vv, im, vm = self._broadcast(img, value)
            keep = im > 0
            return _Pixels(np.where(keep, iv, vv), np.where(keep, im, vm), img.names)
        if name == "Image.where":
            img, test = self.pixels(grid, args.get("input")), self.pixels(grid, args.get("test"))
            value = self.pixels(grid, args.get("value"))
            iv, tv, im, tm = self._broadcast(img, test)
            _, vv, _, vm = self._broadcast(img, value)
            swap = (tm > 0) & (tv != 0)
            return _Pixels(np.where(swap, vv, iv), np.where(swap, vm, im), img.names)
        if name == "Image.reduce":
            img = self.pixels(grid, args.get("image"))
            reducer = self._call(args.get("reducer"))[0]
            ops = {"Reducer.min": np.min, "Reducer.max": np.max}
            if reducer not in ops:
                raise _RefusedError(400, f"The fake Earth Engine cannot evaluate Image.reduce with {reducer}.")
            ok = img.mask > 0
            fill = np.inf if reducer == "Reducer.min" else -np.inf
            out = ops[reducer](np.where(ok, img.values, fill), axis=0)
            any_ok = ok.any(axis=0)
            return _Pixels(np.where(any_ok, out, 0.0)[None], any_ok[None].astype(np.float64),
                           [reducer.split(".")[1]])
        if name == "Image.classify":
            return self._classify(args, grid)
        if name == "Image.clamp":
            img = self.pixels(grid, args.get("input"))
            lo, hi = float(self._const(args.get("low"))), float(self._const(args.get("high")))
            return _Pixels(np.where(img.mask > 0, np.clip(img.values, lo, hi), 0.0), img.mask, img.names)
        parts = [self.pixels(grid, args.get("dstImg")), self.pixels(grid, args.get("srcImg"))] \
            if name == "Image.addBands" else [self.pixels(grid, n) for n in self._const_list(args.get("images"))]
        return _Pixels(np.concatenate([p.values for p in parts]), np.concatenate([p.mask for p in parts]),
                       [n for p in parts for n in p.names])

    @staticmethod
    def _const_list(node: Any) -> list:
        return list((node or {}).get("arrayValue", {}).get("values", []))

    @staticmethod
    def _broadcast(a: _Pixels, b: _Pixels) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        na, nb = a.values.shape[0], b.values.shape[0]
        if na != nb and 1 not in (na, nb):
            raise _RefusedError(400, f"Images must contain the same number of bands or only 1 band. Got {na} and "
                                     f"{nb}.")
        n = max(na, nb)
        return tuple(np.broadcast_to(v, (n, *v.shape[1:])) for v in (a.values, b.values, a.mask, b.mask))

    def _reproject(self, args: dict, grid: PixelGrid) -> _Pixels:
        crs = args.get("crs")
        proj = self._projection({"functionInvocationValue": {"functionName": "Image.reproject", "arguments": args}})
        if proj is None or (self._call(crs)[0] != "Projection" and args.get("crsTransform") is None):
            raise _RefusedError(400, "The fake Earth Engine evaluates reproject onto a crs and crsTransform only.")
        x, y = grid.centers()
        sub, u, v = self._covering(proj, grid, x, y)
        img = self.pixels(sub, args.get("image"))
        col = np.clip(np.floor(u).astype(np.int64), 0, sub.width - 1)
        row = np.clip(np.floor(v).astype(np.int64), 0, sub.height - 1)
        return _Pixels(img.values[:, row, col], img.mask[:, row, col], img.names)

    def _reduce_resolution(self, args: dict, grid: PixelGrid) -> _Pixels:
        reducer = self._call(args.get("reducer"))[0]
        if reducer != "Reducer.mean":
            raise _RefusedError(400, f"The fake Earth Engine evaluates reduceResolution with Reducer.mean only, not "
                                     f"{reducer}.")
        if args.get("bestEffort") is not None and self._const(args["bestEffort"]):
            raise _RefusedError(400, "The fake Earth Engine does not evaluate reduceResolution with bestEffort.")
        source = self._projection(args.get("image"))
        if source is None:
            raise _RefusedError(400, "Image.reduceResolution: The input to reduceResolution does not have a valid "
                                     "default projection. Use setDefaultProjection() first.")
        max_pixels = int(self._const(args["maxPixels"])) if args.get("maxPixels") is not None else 64
        sx, shx, tx, shy, sy, ty = grid.transform
        # the source pixels around the output pixels: their corners, then every source pixel's centre
        corners_x = tx + np.array([0, grid.width, 0, grid.width]) * sx
        corners_y = ty + np.array([0, 0, grid.height, grid.height]) * sy
        sub, _, _ = self._covering(source, grid, corners_x, corners_y, margin=1)
        img = self.pixels(sub, args.get("image"))
        cx, cy = _transform_points(*sub.centers(), sub.crs, grid.crs)
        u, v = _pixel_position(cx, cy, grid.transform)
        col, row = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
        inside = (col >= 0) & (col < grid.width) & (row >= 0) & (row < grid.height)
        cell = np.where(inside, row * grid.width + col, -1).ravel()
        use = cell >= 0
        count = np.bincount(cell[use], minlength=grid.width * grid.height)
        if count.max(initial=0) > max_pixels:
            raise _RefusedError(400, f"Image.reduceResolution: Too many input pixels per output pixel. Need "
                                     f"{int(count.max())}, but only {max_pixels} allowed. Try increasing maxPixels.")
        n = img.values.shape[0]
        values = np.zeros((n, grid.height, grid.width))
        mask = np.zeros((n, grid.height, grid.width))
        for b in range(n):
            ok = (img.mask[b].ravel() > 0) & use
            s = np.bincount(cell[ok], weights=img.values[b].ravel()[ok], minlength=grid.width * grid.height)
            k = np.bincount(cell[ok], minlength=grid.width * grid.height)
            with np.errstate(invalid="ignore", divide="ignore"):
                values[b] = np.where(k > 0, s / np.maximum(k, 1), 0.0).reshape(grid.height, grid.width)
            mask[b] = (k > 0).reshape(grid.height, grid.width)
        return _Pixels(values, mask, img.names)

    def _resample(self, args: dict, grid: PixelGrid) -> _Pixels:
        mode = self._const(args["mode"]) if args.get("mode") is not None else "bilinear"
        if mode != "bilinear":
            raise _RefusedError(400, f"The fake Earth Engine evaluates resample('bilinear') only, not {mode!r}.")
        source = self._projection(args.get("image"))
        if source is None:
            raise _RefusedError(400, "Image.resample: the input has no fixed default projection (a composite or a "
                                     "constant: Earth Engine would interpolate at 1 degree in WGS 84); reproject it "
                                     "first.")
        x, y = grid.centers()
        sub, u, v = self._covering(source, grid, x, y, margin=1)
        img = self.pixels(sub, args.get("image"))
        u, v = u - 0.5, v - 0.5  # positions relative to the knots (pixel centres)
        c0, r0 = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
        fx, fy = u - c0, v - r0
        values = np.zeros((img.values.shape[0], *x.shape))
        mask = np.ones_like(values)
        for dr, wy in ((0, 1.0 - fy), (1, fy)):
            for dc, wx in ((0, 1.0 - fx), (1, fx)):
                rr = np.clip(r0 + dr, 0, sub.height - 1)
                cc = np.clip(c0 + dc, 0, sub.width - 1)
                values += wy * wx * img.values[:, rr, cc]
                mask = np.minimum(mask, np.where(wy * wx > 0, img.mask[:, rr, cc], 1.0))
        return _Pixels(np.where(mask > 0, values, 0.0), mask, img.names)

    def _classify(self, args: dict, grid: PixelGrid) -> _Pixels:
        """A saved regressor (``Classifier.load`` of ``fake.classifiers``, output mode REGRESSION) applied to the
        image's bands by name; masked where an input band is."""
        loads = [c for c in _calls(args.get("classifier")) if c.get("functionName") == "Classifier.load"]
        others = {c.get("functionName") for c in _calls(args.get("classifier"))} - \
            {"Classifier.load", "Classifier.setOutputMode"}
        modes = [self._const(c["arguments"].get("mode")) for c in _calls(args.get("classifier"))
                 if c.get("functionName") == "Classifier.setOutputMode"]
        if len(loads) != 1 or others or modes != ["REGRESSION"]:
            raise _RefusedError(400, "The fake Earth Engine classifies with a saved regressor only "
                                     "(Classifier.load + setOutputMode('REGRESSION')).")
        asset = self._const(loads[0]["arguments"].get("id"))
        if asset not in self.fake.classifiers:
            raise _RefusedError(400, f"Classifier.load: Classifier asset '{asset}' not found (does not exist or caller "
                                     "does not have access).")
        inputs, fn = self.fake.classifiers[asset]
        img = self.pixels(grid, args.get("image"))
        missing = [b for b in inputs if b not in img.names]
        if missing:
            raise _RefusedError(400, f"Image.classify: Property '{missing[0]}' of feature is missing.")
        picks = [img.names.index(b) for b in inputs]
        mask = img.mask[picks].min(axis=0)
        values = np.asarray(fn(img.values[picks]), dtype=np.float64)
        out = self._const(args["outputName"]) if args.get("outputName") is not None else "classification"
        return _Pixels(np.where(mask > 0, values, 0.0)[None], (mask > 0)[None].astype(np.float64), [out])

    def _source(self, node: Any, ids: list, grid: PixelGrid) -> _Pixels:
        """A sub-expression loading the fake's collections: the values computePixels answers for it."""
        names = output_bands({"values": {"0": node}, "result": "0"}) or ["b1"]
        x, y = grid.centers()
        smap = [i for i in ids if i in self.fake.smap_projections]
        values, masks = [], []
        for k in range(len(names)):
            if smap:
                col, row = smap_cells(smap[0], x, y, grid.crs)
                day = step_day(node) or 0
                if self.fake.smap_fn is None:
                    vals = smap_value(col, row, day).astype(np.float64)
                else:
                    sx, _, tx, _, sy, ty = self.fake.smap_projections[smap[0]]["transform"]
                    vals = np.asarray(self.fake.smap_fn(tx + (col + 0.5) * sx, ty + (row + 0.5) * sy, day),
                                      dtype=np.float64)
                bad = smap_is_fill(col, row)
                if not masks_fill(node):
                    vals = np.where(bad, (vals * (SMAP_IMAGES_PER_STEP - 1) + SMAP_FILL) / SMAP_IMAGES_PER_STEP, vals)
                    bad = np.zeros_like(bad)
            else:
                vals = np.asarray(self.fake.value_fn(x, y, k), dtype=np.float64)
                if self.fake.day_offset is not None:
                    vals = vals + self.fake.day_offset(step_day(node) or 0, k)
                bad = np.asarray(self.fake.mask(x, y, k), dtype=bool)
            values.append(np.where(bad, 0.0, vals))
            masks.append((~bad).astype(np.float64))
        return _Pixels(np.stack(values), np.stack(masks), list(names))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeEarthEngine

    def log_message(self, format: str, *args: Any) -> None:
        """Silent."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing -------------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        fake = self.fake
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                body = raw.decode("latin-1")
        endpoint = next((name for name, rx in _ENDPOINTS if rx.match(path)), "unknown")
        fake._log(Request(time.monotonic(), method, path, endpoint, body,
                          {k.lower(): v for k, v in self.headers.items()}))
        try:
            fault = fake._take_fault(endpoint)
            if fault is not None and fault.kind == "status":
                self._send_error(fault.status, fault.message, fault.error_status, fault.retry_after)
                return
            if fault is not None and fault.kind == "slow":
                fake._sleep(fault.seconds)
            status, content_type, payload = self._answer(method, path, endpoint, body)
            if status == 200 and fault is not None and fault.kind == "corrupt":
                payload = self._corrupt(fault.corrupt, payload, body)
            if fault is not None and fault.kind == "drop":
                self._send_truncated(status, content_type, payload)
                return
            self._send(status, content_type, payload)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True

    def _answer(self, method: str, path: str, endpoint: str, body: Any) -> tuple[int, str, bytes]:
        fake = self.fake
        if endpoint == "discovery":
            doc = dict(fake._discovery)
            doc["rootUrl"] = fake.url + "/"
            doc["baseUrl"] = fake.url + "/"
            return 200, "application/json", json.dumps(doc).encode()
        if endpoint == "algorithms":
            return 200, "application/json", fake._algorithms
        if endpoint == "authorize":
            return self._authorize()
        if endpoint == "token" and isinstance(body, str) and "grant_type=authorization_code" in body:
            return self._exchange_code(body)
        if endpoint == "token":
            return 200, "application/json", json.dumps(
                {"access_token": fake.access_token, "expires_in": 3600, "token_type": "Bearer"}).encode()
        if fake.require_token and endpoint not in ("discovery", "token", "unknown") and \
                self.headers.get("Authorization") != f"Bearer {fake.access_token}":
            return 401, "application/json", _error_json(401, unauthenticated().message, "UNAUTHENTICATED")
        if endpoint in ("compute", "computePixels", "export", "classifierExport") and isinstance(body, dict) \
                and fake.check_signatures:
            problems = signature_errors(body.get("expression"))
            if problems:
                return 400, "application/json", _error_json(400, " ".join(problems[:3]), "INVALID_ARGUMENT")
        if endpoint == "compute":
            try:
                result = fake.compute_result(body) if callable(fake.compute_result) else fake.compute_result
            except _RefusedError as exc:
                return exc.status, "application/json", _error_json(exc.status, str(exc),
                                                                   _STATUS_NAMES.get(exc.status, "UNKNOWN"))
            return 200, "application/json", json.dumps({"result": result}).encode()
        if endpoint == "computePixels":
            return self._compute_pixels(body)
        if endpoint in ("export", "classifierExport"):
            return self._export(path, body)
        if endpoint in ("operation", "cancel"):
            return self._operation(path, endpoint)
        if endpoint == "operations":
            ops = [self._operation_json(op) for op in fake.operations.values()]
            return 200, "application/json", json.dumps({"operations": ops}).encode()
        return 404, "application/json", _error_json(404, f"Unknown path {path}", "NOT_FOUND")

    def _compute_pixels(self, body: dict) -> tuple[int, str, bytes]:
        fake = self.fake
        grid = body.get("grid") or {}
        dims = grid.get("dimensions") or {}
        width, height = int(dims.get("width", 0)), int(dims.get("height", 0))
        bands = list(body.get("bandIds") or fake.bands)
        fmt = body.get("fileFormat", "")
        if width <= 0 or height <= 0:
            return 400, "application/json", _error_json(400, "Grid dimensions must be positive.", "INVALID_ARGUMENT")
        if width > MAX_SIDE or height > MAX_SIDE:
            return 400, "application/json", _error_json(
                400, f"Grid dimensions ({width}x{height}) must be less than or equal to {MAX_SIDE} pixels per side.",
                "INVALID_ARGUMENT")
        dtype = np.dtype(answer_dtype(body.get("expression")))
        nbytes = width * height * len(bands) * dtype.itemsize
        if nbytes > MAX_REQUEST_BYTES:
            fault = request_too_large(nbytes)
            return 400, "application/json", _error_json(400, fault.message, fault.error_status)
        crs = grid.get("crsCode") or grid.get("crsWkt")
        if not crs:
            return 400, "application/json", _error_json(400, "The grid needs a crsCode or crsWkt.", "INVALID_ARGUMENT")
        if not _valid_crs(crs):
            return 400, "application/json", _error_json(400, f"Invalid CRS: {crs[:80]}", "INVALID_ARGUMENT")
        expression = body.get("expression")
        available = output_bands(expression)
        missing = [b for b in bands if available is not None and b not in available]
        if missing:
            return 400, "application/json", _error_json(
                400, f"Image.select: Band pattern '{missing[0]}' did not match any bands. Available bands: "
                     f"[{', '.join(available)}]", "INVALID_ARGUMENT")
        ids = loaded_ids(expression)
        unknown = [i for i in ids if not _known_asset(i) and i not in fake.images]
        if unknown:
            return 400, "application/json", _error_json(
                400, f"ImageCollection.load: ImageCollection asset '{unknown[0]}' not found (does not exist or caller "
                     "does not have access).", "INVALID_ARGUMENT")
        absent = unknown_bands(expression, fake.images)
        if absent:
            return 400, "application/json", _error_json(
                400, f"Image.select: Pattern '{absent[0]}' did not match any bands.", "INVALID_ARGUMENT")
        windows = [(c.get("arguments", {}).get("maxPixels") or {}).get("constantValue") or 0
                   for c in _calls(expression) if c.get("functionName") == "Image.reduceResolution"]
        input_pixels = width * height * (sum(float(w) for w in windows) + len(bands))
        if input_pixels > fake.max_input_pixels:
            return 400, "application/json", _error_json(400, "User memory limit exceeded.", "INVALID_ARGUMENT")
        x, y = grid_centers(grid)
        fill = find_unmask_value(expression)
        smap = [i for i in ids if i in fake.smap_projections]
        arrays = []
        if fake.numeric:
            a = grid.get("affineTransform", {})
            keys = (("scaleX", 1), ("shearX", 0), ("translateX", 0), ("shearY", 0), ("scaleY", 1), ("translateY", 0))
            where = PixelGrid(crs, tuple(float(a.get(k, d)) for k, d in keys), width, height)
            try:
                img = NumericEvaluator(fake, expression).pixels(where)
            except _RefusedError as exc:
                return exc.status, "application/json", _error_json(exc.status, str(exc),
                                                                   _STATUS_NAMES.get(exc.status, "UNKNOWN"))
            picks = [img.names.index(b) if b in img.names else None for b in bands]
            if None in picks:
                return 400, "application/json", _error_json(
                    400, f"Image.select: Band pattern '{bands[picks.index(None)]}' did not match any bands. Available "
                         f"bands: [{', '.join(img.names)}]", "INVALID_ARGUMENT")
            arrays = [np.where(img.mask[k] > 0, img.values[k], 0.0) for k in picks]  # masked pixels: 0
        for k in range(len(bands) if not fake.numeric else 0):
            if smap:  # SMAP: the value of the lattice cell each pixel center falls in (nearest neighbour)
                col, row = smap_cells(smap[0], x, y, crs)
                day = step_day(expression) or 0
                if fake.smap_fn is None:
                    values = smap_value(col, row, day).copy()
                else:
                    sx, _, tx, _, sy, ty = fake.smap_projections[smap[0]]["transform"]
                    values = np.asarray(fake.smap_fn(tx + (col + 0.5) * sx, ty + (row + 0.5) * sy, day),
                                        dtype=np.float32).copy()
                filled = smap_is_fill(col, row)
                if masks_fill(expression):
                    values[filled] = 0.0 if fill is None else fill
                else:  # a -9999 averaged into the step mean with the other images
                    n = SMAP_IMAGES_PER_STEP
                    values[filled] = (values[filled] * (n - 1) + SMAP_FILL) / n
            else:
                values = np.asarray(fake.value_fn(x, y, k), dtype=np.float32).copy()
                if fake.day_offset is not None:
                    values += np.float32(fake.day_offset(step_day(expression) or 0, k))
                values[np.asarray(fake.mask(x, y, k), dtype=bool)] = 0.0 if fill is None else fill
            arrays.append(values)
        with fake._lock:
            fake.pixel_log.append({"pixels": width * height, "bytes": nbytes, "bands": len(bands), "crs": crs,
                                   "assets": ids, "input_pixels": input_pixels})
        if fmt in ("NPY", "NUMPY_NDARRAY"):
            out = np.zeros((height, width), dtype=[(name, dtype.str) for name in bands])
            for name, values in zip(bands, arrays):
                out[name] = values
            buf = io.BytesIO()
            np.save(buf, out, allow_pickle=False)
            return 200, "application/octet-stream", buf.getvalue()
        if fmt == "GEO_TIFF":
            return 200, "image/tiff", _geotiff_bytes(grid, arrays, bands)
        return 400, "application/json", _error_json(400, f"Unsupported file format {fmt!r}.", "INVALID_ARGUMENT")

    def _export(self, path: str, body: dict) -> tuple[int, str, bytes]:
        fake = self.fake
        project = path.split("/")[3]
        task_id = (body or {}).get("requestId") or uuid.uuid4().hex.upper()[:24]
        task_id = re.sub(r"[^A-Za-z0-9_-]", "", task_id)
        name = f"projects/{project}/operations/{task_id}"
        description = (body or {}).get("description", "")
        states, error = list(fake.task_states), fake.task_error
        dims = ((body or {}).get("grid") or {}).get("dimensions") or {}
        pixels = int(dims.get("width", 0) or 0) * int(dims.get("height", 0) or 0) or \
            export_pixels((body or {}).get("expression"))
        raw_max = (body or {}).get("maxPixels")
        raw_max = raw_max.get("value") if isinstance(raw_max, dict) else raw_max  # an Int64Value: {"value": "n"}
        max_pixels = float(raw_max or 1e8)  # Earth Engine's default
        if pixels > max_pixels:  # the task fails on the server, as Earth Engine's do
            states = ["PENDING", "FAILED"]
            error = (f"Too many pixels in the region. Specified: {pixels}, maximum allowed: {max_pixels:.0f}. If you "
                     "are sure you want to compute or export a larger region, specify a higher maxPixels value.")
        with fake._lock:
            op = fake.operations.get(name)
            if op is None:
                op = _Operation(name, description, states, error, body=body or {})
                fake.operations[name] = op
        return 200, "application/json", json.dumps(self._operation_json(op)).encode()

    def _operation(self, path: str, endpoint: str) -> tuple[int, str, bytes]:
        fake = self.fake
        name = path.split("/", 2)[2]
        if endpoint == "cancel":
            name = name[: -len(":cancel")]
        with fake._lock:
            op = fake.operations.get(name)
            if op is None:
                return 404, "application/json", _error_json(404, f"Operation {name} not found.", "NOT_FOUND")
            if endpoint == "cancel":
                op.canceled = True
                return 200, "application/json", b"{}"
            if op.step < len(op.states) - 1:
                op.step += 1
        return 200, "application/json", json.dumps(self._operation_json(op)).encode()

    @staticmethod
    def _operation_json(op: _Operation) -> dict:
        state = "CANCELLED" if op.canceled else op.states[op.step]
        out: dict[str, Any] = {
            "name": op.name,
            "metadata": {"@type": "type.googleapis.com/google.earthengine.v1alpha.OperationMetadata",
                         "state": state, "description": op.description, "type": "EXPORT_IMAGE",
                         "createTime": "2024-06-01T00:00:00Z", "updateTime": "2024-06-01T00:00:01Z",
                         "progress": {"PENDING": 0.0, "RUNNING": 0.5}.get(state, 1.0)},
        }
        if state in ("SUCCEEDED", "FAILED", "CANCELLED"):
            out["done"] = True
        if state == "SUCCEEDED":
            out["response"] = {"@type": "type.googleapis.com/google.protobuf.Empty"}
            out["metadata"]["destinationUris"] = [f"https://drive.google.com/#folders/{op.description or 'export'}"]
        elif state == "FAILED":
            out["error"] = {"code": 2, "message": op.error}
        elif state == "CANCELLED":
            out["error"] = {"code": 1, "message": "Cancelled."}
        return out

    def _corrupt(self, how: str, payload: bytes, body: dict) -> bytes:
        if how == "short":
            return payload[: max(1, len(payload) // 2)]
        if how in ("shape", "bands"):
            arr = np.load(io.BytesIO(payload), allow_pickle=False)
            if how == "shape":
                arr = arr[:-1] if arr.shape[0] > 1 else np.concatenate([arr, arr])
            else:
                names = arr.dtype.names or ()
                arr = arr[list(names[:-1])] if len(names) > 1 else arr.astype([("other", "<f4")])
                arr = np.ascontiguousarray(arr)
            buf = io.BytesIO()
            np.save(buf, arr, allow_pickle=False)
            return buf.getvalue()
        return b"<html>not an array</html>" + os.urandom(64)

    # -- sending --------------------------------------------------------------------------------
    # -- Google-account sign-in ----------------------------------------------------------------
    def _authorize(self) -> tuple[int, str, bytes]:
        """Google's authorization endpoint: a checked request is redirected to its loopback redirect_uri."""
        fake = self.fake
        q = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        redirect = q.get("redirect_uri", "")
        problems = []
        if q.get("client_id") != ee.oauth.CLIENT_ID:
            problems.append("invalid_client")
        if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256" or \
                len(q.get("code_challenge", "")) < 43:
            problems.append("invalid_request")
        if "https://www.googleapis.com/auth/earthengine" not in q.get("scope", "").split():
            problems.append("invalid_scope")
        if urlparse(redirect).scheme != "http" or urlparse(redirect).hostname not in ("localhost", "127.0.0.1"):
            problems.append("redirect_uri_mismatch")
        if problems:
            return 400, "text/plain", f"Error 400: {problems[0]}".encode()
        back = {"state": q["state"]} if "state" in q else {}
        if not fake.consent:
            back["error"] = "access_denied"
        else:
            code = f"4/fake-{uuid.uuid4().hex}"
            fake.auth_codes[code] = q
            back["code"] = code
        self._location = redirect + "?" + urlencode(back)
        return 302, "text/plain", b""

    def _exchange_code(self, body: str) -> tuple[int, str, bytes]:
        """The authorization_code grant: one use per code, with its PKCE verifier, client and redirect URI."""
        fake = self.fake
        form = {k: v[0] for k, v in parse_qs(body).items()}
        issued = fake.auth_codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if issued is None or issued.get("code_challenge") != challenge or \
                form.get("redirect_uri") != issued.get("redirect_uri") or \
                form.get("client_id") != ee.oauth.CLIENT_ID or form.get("client_secret") != ee.oauth.CLIENT_SECRET:
            return 400, "application/json", json.dumps({"error": "invalid_grant",
                                                        "error_description": "Bad Request"}).encode()
        refresh = f"1//fake-refresh-{uuid.uuid4().hex}"
        fake.refresh_tokens.append(refresh)
        return 200, "application/json", json.dumps(
            {"access_token": fake.access_token, "expires_in": 3599, "refresh_token": refresh,
             "scope": issued.get("scope", ""), "token_type": "Bearer"}).encode()

    def _send(self, status: int, content_type: str, payload: bytes, extra: Optional[dict] = None) -> None:
        location = getattr(self, "_location", None)
        if status == 302 and location:
            extra = {**(extra or {}), "Location": location}
            self._location = None
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    def _send_error(self, status: int, message: str, error_status: str, retry_after: Optional[float]) -> None:
        extra = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
        self._send(status, "application/json; charset=UTF-8", _error_json(status, message, error_status), extra)

    def _send_truncated(self, status: int, content_type: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload[: len(payload) // 2])
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _valid_crs(crs: str) -> bool:
    from osgeo import osr

    srs = osr.SpatialReference()
    try:
        return srs.SetFromUserInput(crs) == 0
    except RuntimeError:
        return False


def _known_asset(asset_id: str) -> bool:
    """An asset the fake serves: one of :data:`EE_DATASETS` (written down independently of the plugin's catalog)."""
    return asset_id in EE_DATASETS or asset_id in SMAP_PROJECTIONS


def unknown_bands(expression: Any, images: Optional[dict] = None) -> list:
    """Bands an expression selects that neither the datasets it loads (:data:`EE_DATASETS`, ``images``) have nor
    the expression itself makes (renames, constants, band math), as Earth Engine refuses them."""
    images = images or {}
    ids = loaded_ids(expression)
    if not any(i in EE_DATASETS for i in ids):
        return []
    have = set(_MADE_BANDS)
    for i in ids:
        have.update(EE_DATASETS.get(i, ()))
        if i in images:
            have.update(images[i].names)
    selected = []
    for call in _calls(expression):
        name, args = call.get("functionName"), call.get("arguments", {})
        if name == "Image.rename":
            have.update(n for n in (_const(args.get("names")) or []) if isinstance(n, str))
        elif name == "Image.select":
            have.update(n for n in (_const(args.get("newNames")) or []) if isinstance(n, str))
            selected += [n for n in (_const(args.get("bandSelectors")) or []) if isinstance(n, str)]
    return [b for b in dict.fromkeys(selected) if b not in have]


#: Band names Earth Engine's own operations give their outputs.
_MADE_BANDS = ("constant", "nd", "slope", "aspect", "classification", "mean", "mode", "sum", "median")

#: The Earth Engine datasets the plugin reads and their bands, as google/earthengine-catalog publishes them
#: (catalog/<provider>/<id>.jsonnet; SMAP L4 and ERA5-Land: the bands of interest among many). Kept apart from the
#: plugin's catalog so that an asset id or band name that Earth Engine does not have is refused by the fake as Earth
#: Engine refuses it. Deprecated versions (MODIS/006, SPL4SMGP/007, Landsat Collection 1) are absent.
EE_DATASETS: dict[str, tuple[str, ...]] = {
    "NASA/SMAP/SPL4SMGP/008": ("sm_surface", "sm_rootzone", "sm_profile", "sm_surface_wetness", "sm_rootzone_wetness",
                               "sm_profile_wetness", "surface_temp", "soil_temp_layer1"),
    "NASA/SMAP/SPL3SMP_E/005": ("soil_moisture_am", "tb_h_corrected_am", "tb_v_corrected_am",
                                "vegetation_water_content_am", "retrieval_qual_flag_am", "tb_qual_flag_h_am",
                                "tb_qual_flag_v_am", "soil_moisture_pm", "tb_h_corrected_pm", "tb_v_corrected_pm",
                                "vegetation_water_content_pm", "retrieval_qual_flag_pm", "tb_qual_flag_h_pm",
                                "tb_qual_flag_v_pm", "soil_moisture_am_anomaly", "soil_moisture_pm_anomaly"),
    "COPERNICUS/S1_GRD": ("HH", "HV", "VV", "VH", "angle"),
    "MODIS/061/MOD11A1": ("LST_Day_1km", "QC_Day", "Day_view_time", "Day_view_angle", "LST_Night_1km", "QC_Night",
                          "Night_view_time", "Night_view_angle", "Emis_31", "Emis_32", "Clear_day_cov",
                          "Clear_night_cov"),
    "MODIS/061/MOD13A2": ("NDVI", "EVI", "DetailedQA", "sur_refl_b01", "sur_refl_b02", "sur_refl_b03", "sur_refl_b07",
                          "ViewZenith", "SolarZenith", "RelativeAzimuth", "DayOfYear", "SummaryQA"),
    "MODIS/061/MCD43A3": tuple(f"Albedo_{k}_{b}" for k in ("BSA", "WSA")
                               for b in ("Band1", "Band2", "Band3", "Band4", "Band5", "Band6", "Band7", "vis", "nir",
                                         "shortwave"))
                         + tuple(f"BRDF_Albedo_Band_Mandatory_Quality_{b}"
                                 for b in ("Band1", "Band2", "Band3", "Band4", "Band5", "Band6", "Band7", "vis", "nir",
                                           "shortwave")),
    "MODIS/061/MCD12Q1": ("LC_Type1", "LC_Type2", "LC_Type3", "LC_Type4", "LC_Type5", "LC_Prop1_Assessment",
                          "LC_Prop2_Assessment", "LC_Prop3_Assessment", "LC_Prop1", "LC_Prop2", "LC_Prop3", "QC", "LW"),
    "USGS/SRTMGL1_003": ("elevation",),
    "NASA/NASADEM_HGT/001": ("elevation", "num", "swb"),
    "ECMWF/ERA5_LAND/DAILY_AGGR": ("total_precipitation_sum", "temperature_2m", "skin_temperature",
                                   "volumetric_soil_water_layer_1", "total_evaporation_sum"),
    "UCSB-CHG/CHIRPS/DAILY": ("precipitation",),
    "OpenLandMap/SOL/SOL_SAND-WFRACTION_USDA-3A1A1A_M/v02": ("b0", "b10", "b30", "b60", "b100", "b200"),
    "OpenLandMap/SOL/SOL_CLAY-WFRACTION_USDA-3A1A1A_M/v02": ("b0", "b10", "b30", "b60", "b100", "b200"),
    "ESA/WorldCover/v200": ("Map",),
}
_LANDSAT_L2 = tuple(f"SR_B{k}" for k in range(1, 8)) + ("SR_QA_AEROSOL", "ST_B10", "ST_ATRAN", "ST_CDIST", "ST_DRAD",
                                                        "ST_EMIS", "ST_EMSD", "ST_QA", "ST_TRAD", "ST_URAD",
                                                        "QA_PIXEL", "QA_RADSAT")
EE_DATASETS.update({"LANDSAT/LC08/C02/T1_L2": _LANDSAT_L2, "LANDSAT/LC09/C02/T1_L2": _LANDSAT_L2,
                    "MODIS/061/MYD11A1": EE_DATASETS["MODIS/061/MOD11A1"],
                    "NASA/SMAP/SPL3SMP_E/006": EE_DATASETS["NASA/SMAP/SPL3SMP_E/005"]})


def _error_json(code: int, message: str, status: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "status": status}}).encode()


def _geotiff_bytes(grid: dict, arrays: list, bands: list) -> bytes:
    from osgeo import gdal, osr

    a = grid.get("affineTransform", {})
    gt = (a.get("translateX", 0), a.get("scaleX", 1), a.get("shearX", 0),
          a.get("translateY", 0), a.get("shearY", 0), a.get("scaleY", 1))
    height, width = arrays[0].shape
    srs = osr.SpatialReference()
    srs.SetFromUserInput(grid.get("crsCode") or grid.get("crsWkt"))
    name = f"/vsimem/fake_ee_{uuid.uuid4().hex}.tif"
    ds = gdal.GetDriverByName("GTiff").Create(name, width, height, len(arrays), gdal.GDT_Float32)
    ds.SetGeoTransform(gt)
    ds.SetProjection(srs.ExportToWkt())
    for k, (values, band) in enumerate(zip(arrays, bands)):
        ds.GetRasterBand(k + 1).WriteArray(values)
        ds.GetRasterBand(k + 1).SetDescription(band)
    ds = None
    f = gdal.VSIFOpenL(name, "rb")
    gdal.VSIFSeekL(f, 0, 2)
    size = gdal.VSIFTellL(f)
    gdal.VSIFSeekL(f, 0, 0)
    data = gdal.VSIFReadL(1, size, f)
    gdal.VSIFCloseL(f)
    gdal.Unlink(name)
    return bytes(data)
