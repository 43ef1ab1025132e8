"""Search NASA Earthdata for SMAP granules (with NASA's ``earthaccess``) and download them resumably.

Which part does what:

* **Login** — :func:`login` uses ``earthaccess`` (an optional dependency, imported only when called):
  a token or a user name and password held by the caller (the QGIS authentication database), or, for
  headless ``qgis_process`` runs, earthaccess's own ``environment`` strategy (``EARTHDATA_TOKEN``, or
  ``EARTHDATA_USERNAME`` and ``EARTHDATA_PASSWORD``) or its ``netrc`` strategy (``~/.netrc`` or the file
  ``NETRC`` names, machine ``urs.earthdata.nasa.gov``). A user name and password are exchanged by
  earthaccess for an Earthdata Login token at EDL's ``/api/users/find_or_create_token``.
* **Search** — :func:`search` asks NASA's CMR through earthaccess (``DataGranules``: ``granules.umm_json``,
  ``CMR-Search-After`` paging) for a product's granules by short name, version, dates and bounding box,
  and reads each granule's file name, data URL, size and checksum from its UMM-G record.
* **Download** — :func:`download` is ours (standard library only), because earthaccess 0.17's download
  restarts an interrupted file from zero and checks neither size nor checksum. Each file is written as
  ``<name>.partial`` and renamed when its size (and checksum, when CMR gives one) is right; partial files
  are never used. An interrupted or killed download resumes from its ``.partial`` with an HTTP range
  request; a file already complete in the cache is not downloaded again. The token goes only to the data
  URL (``Authorization: Bearer``), never on to the signed storage URL it redirects to.

Secrets (token, password) are never logged, stored in settings or written into a manifest or any file:
error messages are redacted.  :func:`system` points earthaccess at another CMR / Earthdata Login
(``SMDOWNSCALE_CMR_URL`` / ``SMDOWNSCALE_EDL_HOST``: NASA's UAT, or the tests' loopback fake).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .errors import Canceled, InputError, SmdError
from .raster import IsCanceled, Progress, never_canceled, no_progress

CMR_URL = "https://cmr.earthdata.nasa.gov"
EDL_HOST = "urs.earthdata.nasa.gov"
#: Versions searched by default: the current ones at NSIDC.
DEFAULT_VERSIONS = {"SPL4SMGP": "008", "SPL3SMP_E": "006", "SPL3SMP": "009"}
MAX_GRANULES = 20000
CHUNK = 1 << 20
USER_AGENT = "smdownscale (QGIS plugin)"


class EarthdataError(SmdError):
    """A NASA Earthdata request failed; the message says why and what to do."""


@dataclass(frozen=True)
class RemoteGranule:
    name: str
    url: str
    size: int | None
    checksum: str | None = None
    algorithm: str | None = None
    start: str = ""


def _redact(text: str, token: str | None) -> str:
    return text.replace(token, "***") if token else text


class _NoAuthOnRedirect(urllib.request.HTTPRedirectHandler):
    """Follow redirects without carrying the Authorization header (added unredirected) to the next host."""


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_NoAuthOnRedirect())


def _request(url: str, headers: dict[str, str] | None = None, token: str | None = None) -> urllib.request.Request:
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    if token:
        req.add_unredirected_header("Authorization", f"Bearer {token}")
    return req


def _http_error(exc: urllib.error.HTTPError, what: str, token: str | None) -> EarthdataError:
    body = ""
    with contextlib.suppress(Exception):
        body = exc.read(2000).decode("utf-8", "replace")
    detail = body
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        errors = json.loads(body).get("errors")
        if errors:
            detail = "; ".join(str(e) for e in errors)
    detail = _redact(" ".join(detail.split())[:300], token)
    if exc.code in (401, 403):
        return EarthdataError(f"{what}: NASA Earthdata refused the credentials (HTTP {exc.code}). Check the "
                              "Earthdata Login token (it expires after 60 days; generate a new one at "
                              "urs.earthdata.nasa.gov) and that you accepted the NSIDC data use agreement.")
    if exc.code == 404:
        return EarthdataError(f"{what}: not found (HTTP 404){': ' + detail if detail else ''}.")
    if exc.code == 429 or exc.code >= 500:
        return EarthdataError(f"{what}: NASA Earthdata is busy or failing (HTTP {exc.code}); try again later.")
    return EarthdataError(f"{what}: HTTP {exc.code}{': ' + detail if detail else ''}.")


def _network_error(exc: BaseException, what: str) -> EarthdataError:
    return EarthdataError(f"{what}: NASA Earthdata cannot be reached ({exc}). Check the network connection "
                          "(and proxy settings), or download the granules elsewhere and import the files.")


# -- search ---------------------------------------------------------------------------------------------

def _umm_granule(item: dict[str, Any]) -> RemoteGranule | None:
    umm = item.get("umm") or {}
    urls = [u.get("URL") for u in umm.get("RelatedUrls") or []
            if u.get("Type") == "GET DATA" and str(u.get("URL", "")).startswith(("http://", "https://"))]
    urls = [u for u in urls if u and u.lower().endswith((".h5", ".he5", ".hdf5"))] or [u for u in urls if u]
    if not urls:
        return None
    url = urls[0]
    name = os.path.basename(urllib.parse.urlparse(url).path)
    size = checksum = algorithm = None
    info = ((umm.get("DataGranule") or {}).get("ArchiveAndDistributionInformation") or [])
    for entry in info:
        if entry.get("Name") == name or len(info) == 1:
            if entry.get("SizeInBytes") is not None:
                size = int(entry["SizeInBytes"])
            ck = entry.get("Checksum") or {}
            if ck.get("Value") and str(ck.get("Algorithm", "")).replace("-", "").upper() in ("MD5", "SHA256"):
                checksum, algorithm = str(ck["Value"]).lower(), str(ck["Algorithm"]).replace("-", "").upper()
    start = str(((umm.get("TemporalExtent") or {}).get("RangeDateTime") or {}).get("BeginningDateTime", ""))
    return RemoteGranule(name, url, size, checksum, algorithm, start)


# -- earthaccess: system, login, search ----------------------------------------------------------------

LOGIN_HELP = ("Give your Earthdata Login in one of these ways: a QGIS authentication configuration (Basic: your "
              "user name and password, or only a token as password); for qgis_process the environment variables "
              "EARTHDATA_USERNAME and EARTHDATA_PASSWORD, or EARTHDATA_TOKEN; or a netrc file (~/.netrc, or the file "
              "the NETRC variable names) with the line 'machine {host} login USER password PASSWORD'. Register at "
              "urs.earthdata.nasa.gov.")


def _earthaccess() -> Any:
    try:
        import earthaccess
    except ImportError as exc:
        raise InputError(f"Searching NASA Earthdata needs NASA's earthaccess library, which this Python cannot "
                         f"import ({exc}). Install it from Raster > Soil moisture downscaling > Check "
                         "dependencies…, or download the granules elsewhere and import the files.") from exc
    return earthaccess


def system(cmr_url: str | None = None, edl_host: str | None = None) -> Any:
    """earthaccess's ``System`` for a CMR address and an Earthdata Login host; NASA's own (``PROD``) by default.

    Parameters
    ----------
    cmr_url : str or None
        The CMR address (None: NASA's).
    edl_host : str or None
        The Earthdata Login host (None: NASA's).

    Returns
    -------
    Any
        ``earthaccess.system.PROD`` when neither is given, else a new ``earthaccess.system.System``.
    """
    from earthaccess.system import PROD, System

    if not cmr_url and not edl_host:
        return PROD
    return System(f"{(cmr_url or CMR_URL).rstrip('/')}/search/", PROD.status_url, PROD.status_api_url,
                  edl_host or EDL_HOST)


def login(token: str | None = None, username: str | None = None, password: str | None = None,
          cmr_url: str | None = None, edl_host: str | None = None, log: Callable[[str], None] | None = None) -> Any:
    """An authenticated ``earthaccess.Auth`` (see the module doc for the order of the ways to log in).

    Parameters
    ----------
    token : str or None
        An Earthdata Login token.
    username, password : str or None
        Earthdata Login credentials.
    cmr_url, edl_host : str or None
        Other CMR and Earthdata Login addresses (None: NASA's).
    log : Callable[[str], None] or None
        Receives a line saying how the login was made (None: silent).

    Returns
    -------
    Any
        The ``earthaccess.Auth``, authenticated.

    Raises
    ------
    InputError
        No credentials are found, or only one of EARTHDATA_USERNAME and EARTHDATA_PASSWORD is set.
    EarthdataError
        Earthdata Login refuses the credentials or cannot be reached.
    """
    ea = _earthaccess()
    from earthaccess.auth import netrc_path
    from earthaccess.exceptions import LoginAttemptFailure, LoginStrategyUnavailable

    say = log or (lambda _m: None)
    sysm = system(cmr_url, edl_host)
    host = sysm.edl_hostname
    secrets = [s for s in (token, password, os.environ.get("EARTHDATA_PASSWORD"), os.environ.get("EARTHDATA_TOKEN"))
               if s]
    auth = ea.Auth()
    env_user, env_password = os.environ.get("EARTHDATA_USERNAME"), os.environ.get("EARTHDATA_PASSWORD")
    try:
        if token or (username and password):
            how = "the QGIS authentication configuration"
            # earthaccess 0.17 has no public strategy for credentials held in memory: its own exchange, as the
            # "environment" strategy does after reading the variables
            auth._set_earthdata_system(sysm)
            auth._get_credentials(None if token else username, None if token else password, token or None)
        elif os.environ.get("EARTHDATA_TOKEN") or (env_user and env_password):
            how = "the environment variables " + ("EARTHDATA_TOKEN" if os.environ.get("EARTHDATA_TOKEN") else
                                                  "EARTHDATA_USERNAME and EARTHDATA_PASSWORD")
            auth.login(strategy="environment", system=sysm)
        elif env_user or env_password:
            raise InputError("Only one of EARTHDATA_USERNAME and EARTHDATA_PASSWORD is set; set both (or "
                             "EARTHDATA_TOKEN).")
        else:
            how = f"the netrc file {netrc_path()}"
            auth.login(strategy="netrc", system=sysm)
    except LoginStrategyUnavailable as exc:
        raise InputError(f"No Earthdata Login credentials ({_redact_all(str(exc), secrets)}). "
                         + LOGIN_HELP.format(host=host)) from None
    except LoginAttemptFailure:
        raise EarthdataError(f"NASA Earthdata Login refused the user name and password from {how} (wrong "
                             "password, or the account is not yet activated); check them by signing in at "
                             f"https://{host}.") from None
    except (OSError, ValueError) as exc:  # requests' connection errors are OSErrors
        raise EarthdataError(f"Logging in to NASA Earthdata Login ({host}): {_redact_all(str(exc), secrets)}. "
                             "Check the network connection (and proxy settings).") from None
    if not auth.authenticated or not (auth.token or {}).get("access_token"):
        raise InputError("No Earthdata Login credentials. " + LOGIN_HELP.format(host=host))
    say(f"Logged in to NASA Earthdata with {how}.")
    return auth


def auth_token(auth: Any) -> str | None:
    """The Earthdata Login token of an ``earthaccess.Auth`` (for the data URLs).

    Parameters
    ----------
    auth : Any
        An ``earthaccess.Auth`` or None.

    Returns
    -------
    str or None
        The access token, or None without one.
    """
    return ((getattr(auth, "token", None) or {}).get("access_token")) if auth is not None else None


def _redact_all(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = _redact(text, secret)
    return text


def search(short_name: str, start: dt.date, end: dt.date, bbox: Sequence[float], version: str | None = None,
           cmr_url: str = CMR_URL, auth: Any = None, limit: int = MAX_GRANULES,
           is_canceled: IsCanceled = never_canceled) -> list[RemoteGranule]:
    """The granules of ``short_name`` (version ``version`` or the current default) over ``bbox`` (W, S, E, N in
    degrees) between ``start`` and ``end`` (inclusive), in time order, found by earthaccess in NASA's CMR
    (``auth``'s system, else ``cmr_url``'s).

    Parameters
    ----------
    short_name : str
        The CMR collection short name (e.g. 'SPL3SMP_E').
    start, end : datetime.date
        The first and last day (inclusive).
    bbox : Sequence[float]
        (W, S, E, N) in degrees.
    version : str or None
        The collection version (None: CMR's default).
    cmr_url : str
        The CMR address used without ``auth``.
    auth : Any
        An ``earthaccess.Auth`` whose system is searched, or None.
    limit : int
        The most granules accepted.
    is_canceled : IsCanceled
        Checked before and after the search.

    Returns
    -------
    list of RemoteGranule
        The granules (name, data URL, size, checksum, start time), in time order.

    Raises
    ------
    EarthdataError
        CMR cannot be reached, answers with an HTTP error, or answers something that is not its JSON.
    InputError
        Too many granules match, or none does over the area and dates.
    Canceled
        ``is_canceled()`` became true.
    """
    ea = _earthaccess()
    import requests

    if auth is None:
        auth = ea.Auth()
        auth._set_earthdata_system(system(cmr_url if cmr_url != CMR_URL else None))
    version = version or DEFAULT_VERSIONS.get(short_name)
    w, s, e, n = (float(v) for v in bbox)
    params: dict[str, Any] = {"short_name": short_name,
                              "temporal": (f"{start.isoformat()}T00:00:00Z", f"{end.isoformat()}T23:59:59Z"),
                              "bounding_box": (max(w, -180), max(s, -90), min(e, 180), min(n, 90))}
    if version:
        params["version"] = version
    what = f"Searching NASA's CMR for {short_name}"
    token = auth_token(auth)
    if is_canceled():
        raise Canceled()
    try:
        with warnings.catch_warnings():  # earthaccess 0.17 warns about its own use of DataGranule.size()
            warnings.simplefilter("ignore", FutureWarning)
            items = ea.DataGranules(auth).parameters(**params).get(limit + 1)
    except RuntimeError as exc:  # earthaccess: CMR answered with an HTTP error; its text is CMR's JSON
        detail = str(exc)
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            detail = "; ".join(str(m) for m in json.loads(detail).get("errors") or []) or detail
        detail = _redact(" ".join(detail.split())[:300], token)
        hint = (" The Earthdata Login token is not valid (tokens expire after 60 days): generate a new one at "
                "urs.earthdata.nasa.gov, or log in with your user name and password." if "token" in detail.lower()
                else "")
        raise EarthdataError(f"{what}: CMR refused the search: {detail}.{hint}") from None
    except requests.exceptions.JSONDecodeError as exc:
        raise EarthdataError(f"{what}: the answer is not CMR's JSON ({exc}); try again later.") from None
    except (requests.exceptions.RequestException, OSError) as exc:
        raise _network_error(Exception(_redact(str(exc), token)), what) from None
    if is_canceled():
        raise Canceled()
    if len(items) > limit:
        raise InputError(f"More than {limit} {short_name} granules match; choose a shorter date range.")
    out: list[RemoteGranule] = []
    for item in items:
        g = _umm_granule(item)
        if g is not None and all(g.name != o.name for o in out):
            out.append(g)
    if not out:
        raise InputError(f"NASA's CMR has no {short_name}{' version ' + version if version else ''} granule over "
                         f"the area between {start.isoformat()} and {end.isoformat()}; check the dates (SMAP data "
                         "start on 2015-03-31) and the product version.")
    return sorted(out, key=lambda g: g.start)


# -- download -------------------------------------------------------------------------------------------

def _digest(path: str, algorithm: str) -> str:
    h = hashlib.md5() if algorithm == "MD5" else hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _complete(path: str, g: RemoteGranule) -> bool:
    if not os.path.isfile(path):
        return False
    if g.size is not None and os.path.getsize(path) != g.size:
        return False
    return not (g.checksum and g.algorithm and _digest(path, g.algorithm) != g.checksum)


def download(granules: Sequence[RemoteGranule], cache_dir: str, token: str | None, timeout: float = 120.0,
             retries: int = 3, opener: urllib.request.OpenerDirector | None = None,
             progress: Progress = no_progress, is_canceled: IsCanceled = never_canceled,
             log: Callable[[str], None] | None = None, backoff: float = 1.0) -> list[str]:
    """Download ``granules`` into ``cache_dir`` (see the module doc); returns their paths, in order.

    Parameters
    ----------
    granules : Sequence[RemoteGranule]
        The granules to fetch.
    cache_dir : str
        The folder receiving them (files already complete are reused).
    token : str or None
        The Earthdata Login token sent with each request.
    timeout : float
        Seconds a request may wait for data.
    retries : int
        Attempts per granule.
    opener : urllib.request.OpenerDirector or None
        The opener used (None: a default one).
    progress : Progress
        Called with the fraction of bytes done (granules of unknown size count 1).
    is_canceled : IsCanceled
        Checked between granules and during each download.
    log : Callable[[str], None] or None
        Receives a line per file (None: silent).
    backoff : float
        The first wait between attempts, in seconds (doubling).

    Returns
    -------
    list of str
        The local paths, in the order of ``granules``.

    Raises
    ------
    InputError
        No Earthdata Login token was given.
    EarthdataError
        A download fails after its retries, or CMR gave an unusable file name.
    Canceled
        ``is_canceled()`` became true; partial downloads are kept for resuming.
    """
    say = log or (lambda _m: None)
    opener = opener or _opener()
    if not token:
        raise InputError("Downloading SMAP from NASA Earthdata needs an Earthdata Login token. "
                         + LOGIN_HELP.format(host=EDL_HOST))
    os.makedirs(cache_dir, exist_ok=True)
    total = float(sum(g.size or 1 for g in granules)) or 1.0
    done = 0.0
    paths = []
    for g in granules:
        if is_canceled():
            raise Canceled()
        if os.sep in g.name or g.name in ("", ".", ".."):
            raise EarthdataError(f"CMR gave an unusable file name for {g.url}; report it.")
        final = os.path.join(cache_dir, g.name)
        if _complete(final, g):
            say(f"{g.name}: already in the cache.")
        else:
            _fetch_one(g, final, token, timeout, retries, opener, is_canceled, say, backoff,
                       lambda n, base=done: progress(min(1.0, (base + n) / total)))
        done += g.size or 1
        progress(min(1.0, done / total))
        paths.append(final)
    return paths


def _fetch_one(g: RemoteGranule, final: str, token: str, timeout: float, retries: int,
               opener: urllib.request.OpenerDirector, is_canceled: IsCanceled, say: Callable[[str], None],
               backoff: float, step: Callable[[int], None]) -> None:
    partial = final + ".partial"
    what = f"Downloading {g.name}"
    attempt = 0
    while True:
        have = os.path.getsize(partial) if os.path.isfile(partial) else 0
        if g.size is not None and have > g.size:
            os.remove(partial)
            have = 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with opener.open(_request(g.url, headers, token), timeout=timeout) as resp:
                status = getattr(resp, "status", 200)
                if have and status == 206:
                    m = re.match(r"bytes (\d+)-", resp.headers.get("Content-Range", ""))
                    if not m or int(m.group(1)) != have:
                        raise EarthdataError(f"{what}: the server resumed at the wrong place; try again.")
                    mode = "ab"
                    say(f"{g.name}: resuming after {have:,} bytes.")
                else:
                    mode, have = "wb", 0
                with open(partial, mode) as fh:
                    while True:
                        if is_canceled():
                            raise Canceled("Canceled by the user; the partial download is kept and resumes on the "
                                           "next run.")
                        block = resp.read(CHUNK)
                        if not block:
                            break
                        fh.write(block)
                        have += len(block)
                        step(have)
            if g.size is not None and have < g.size:
                raise ConnectionError(f"the connection closed after {have:,} of {g.size:,} bytes")
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # the range starts at or past the end: start over
                os.remove(partial)
                continue
            err = _http_error(exc, what, token)
            if (exc.code == 429 or exc.code >= 500) and attempt < retries:
                attempt += 1
                time.sleep(backoff * 2 ** (attempt - 1))
                continue
            raise err from exc
        except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError) as exc:
            if attempt < retries:
                attempt += 1
                say(f"{g.name}: {exc}; retrying ({attempt} of {retries}).")
                time.sleep(backoff * 2 ** (attempt - 1))
                continue
            raise _network_error(exc, what) from exc
        if g.size is not None and os.path.getsize(partial) != g.size:
            raise EarthdataError(f"{what}: {os.path.getsize(partial):,} bytes instead of {g.size:,}; try again.")
        if g.checksum and g.algorithm and _digest(partial, g.algorithm) != g.checksum:
            os.remove(partial)
            raise EarthdataError(f"{what}: the file's {g.algorithm} checksum differs from NASA's; the partial file "
                                 "was removed, run again to download it anew.")
        os.replace(partial, final)
        say(f"{g.name}: downloaded ({os.path.getsize(final):,} bytes).")
        return


def area_bbox(area: Any, area_crs: str | None = None) -> tuple[float, float, float, float]:
    """The area's bounding box in degrees (W, S, E, N), for CMR's ``bounding_box``; None: the whole globe.

    Parameters
    ----------
    area : Any
        An area as :func:`.gee.fetch.area_geometry` takes it (a lon/lat box, a geometry, a layer path), or None.
    area_crs : str or None
        The area's CRS when it does not carry one.

    Returns
    -------
    tuple of float
        (W, S, E, N) in degrees; the whole globe when ``area`` is None.
    """
    if area is None:
        return (-180.0, -90.0, 180.0, 90.0)
    from . import raster
    from .gee.fetch import _envelope_in, area_geometry

    with raster.gdal_exceptions():
        geom, srs = area_geometry(area, area_crs)
        return _envelope_in(geom, srs, raster.srs_from_user("EPSG:4326"))


def fetch_granules(short_name: str, start: dt.date | str, end: dt.date | str, area: Any, cache_dir: str,
                   token: str | None = None, username: str | None = None, password: str | None = None,
                   area_crs: str | None = None, version: str | None = None, cmr_url: str | None = None,
                   edl_host: str | None = None, progress: Progress = no_progress,
                   is_canceled: IsCanceled = never_canceled, log: Callable[[str], None] | None = None) -> list[str]:
    """Log in (:func:`login`), search (:func:`search`) and download (:func:`download`) a product's granules for an
    area and dates (inclusive) into ``cache_dir``.

    Parameters
    ----------
    short_name, version
        The product (e.g. SPL3SMP_E) and its version (None: CMR's default).
    start, end
        Dates (inclusive).
    area, area_crs
        The area (see :func:`.gee.fetch.area_geometry`).
    cache_dir
        Where granules are downloaded (and resumed).
    token, username, password
        Earthdata Login credentials (None: earthaccess reads the environment or a netrc file).
    cmr_url, edl_host
        CMR's address and the Earthdata Login host (None: NASA's).
    progress, is_canceled
        Progress fraction and cancel check (:mod:`.raster` defaults).
    log
        Messages for the user, or None.

    Returns
    -------
    list[str]
        The granules' paths, in time order.

    Raises
    ------
    InputError
        The dates are missing or reversed, or the area is not one; also from :func:`search` and
        :func:`download`.
    EarthdataError
        From :func:`search` and :func:`download`.
    """
    say = log or (lambda _m: None)
    try:
        first = start if isinstance(start, dt.date) else dt.date.fromisoformat(str(start).strip())
        last = end if isinstance(end, dt.date) else dt.date.fromisoformat(str(end).strip())
    except ValueError as exc:
        raise InputError(f"Searching NASA Earthdata needs a start and an end date (YYYY-MM-DD) ({exc}).") from exc
    if last < first:
        raise InputError(f"The date range is reversed: the end date {last.isoformat()} is before the start date "
                         f"{first.isoformat()}. Swap them.")
    auth = login(token, username, password, cmr_url=cmr_url, edl_host=edl_host, log=say)
    found = search(short_name, first, last, area_bbox(area, area_crs), version=version, auth=auth,
                   is_canceled=is_canceled)
    size = sum(g.size or 0 for g in found)
    say(f"NASA's CMR lists {len(found)} {short_name} granule(s) ({size / 2**20:,.0f} MB) for "
        f"{first.isoformat()} .. {last.isoformat()}; downloading into {cache_dir} (files already there are kept).")
    return download(found, cache_dir, auth_token(auth), progress=progress, is_canceled=is_canceled, log=say)
