"""Search NASA's Common Metadata Repository (CMR) for SMAP granules and download them resumably.

* :func:`search` asks CMR's granule search (``/search/granules.umm_json``) for a product's granules by
  short name, temporal range and bounding box, following CMR's ``CMR-Search-After`` paging, and returns
  each granule's file name, data URL, size and checksum (from its UMM-G record).
* :func:`download` fetches them into a cache folder with an Earthdata Login token (``Authorization:
  Bearer``, never sent on to the storage a data URL redirects to). Each file is written as
  ``<name>.partial`` and renamed when its size (and checksum, when CMR gives one) is right; partial
  files are never used. A download that was interrupted or killed resumes from its ``.partial`` with an
  HTTP range request; a file already complete in the cache is not downloaded again.

Only the standard library is used (urllib), so this works in QGIS's own Python. The token is never logged,
stored in settings or written into a manifest: the caller passes it in (the Processing algorithm reads it
from the QGIS authentication database or the ``EARTHDATA_TOKEN`` environment variable).
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
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .errors import Canceled, InputError, SmdError
from .raster import IsCanceled, Progress, never_canceled, no_progress

CMR_URL = "https://cmr.earthdata.nasa.gov"
#: Versions searched by default: the current ones at NSIDC.
DEFAULT_VERSIONS = {"SPL4SMGP": "008", "SPL3SMP_E": "006", "SPL3SMP": "009"}
PAGE_SIZE = 200
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


def search(short_name: str, start: dt.date, end: dt.date, bbox: Sequence[float], version: str | None = None,
           cmr_url: str = CMR_URL, page_size: int = PAGE_SIZE, timeout: float = 60.0,
           opener: urllib.request.OpenerDirector | None = None,
           is_canceled: IsCanceled = never_canceled) -> list[RemoteGranule]:
    """The granules of ``short_name`` (version ``version`` or the current default) over ``bbox`` (W, S, E, N in
    degrees) between ``start`` and ``end`` (inclusive), in time order.

    Raises
    ------
    EarthdataError
        CMR cannot be reached, answers with an HTTP error, or answers something that is not its JSON.
    InputError
        Too many granules match, or none does over the area and dates.
    Canceled
        ``is_canceled()`` became true.
    """
    opener = opener or _opener()
    version = version or DEFAULT_VERSIONS.get(short_name)
    w, s, e, n = (float(v) for v in bbox)
    params = [("short_name", short_name), ("page_size", str(page_size)), ("sort_key", "start_date"),
              ("temporal", f"{start.isoformat()}T00:00:00Z,{end.isoformat()}T23:59:59Z"),
              ("bounding_box", f"{max(w, -180):.6f},{max(s, -90):.6f},{min(e, 180):.6f},{min(n, 90):.6f}")]
    if version:
        params.append(("version", version))
    url = f"{cmr_url.rstrip('/')}/search/granules.umm_json?{urllib.parse.urlencode(params)}"
    what = f"Searching NASA's CMR for {short_name}"
    out: list[RemoteGranule] = []
    after = None
    while True:
        if is_canceled():
            raise Canceled()
        headers = {"Accept": "application/vnd.nasa.cmr.umm_results+json"}
        if after:
            headers["CMR-Search-After"] = after
        try:
            with opener.open(_request(url, headers), timeout=timeout) as resp:
                doc = json.loads(resp.read().decode("utf-8"))
                after = resp.headers.get("CMR-Search-After")
        except urllib.error.HTTPError as exc:
            raise _http_error(exc, what, None) from exc
        except (urllib.error.URLError, socket.timeout, OSError) as exc:
            raise _network_error(exc, what) from exc
        except ValueError as exc:
            raise EarthdataError(f"{what}: the answer is not CMR's JSON ({exc}); try again later.") from exc
        items = doc.get("items") or []
        for item in items:
            g = _umm_granule(item)
            if g is not None and all(g.name != o.name for o in out):
                out.append(g)
        if len(out) > MAX_GRANULES:
            raise InputError(f"More than {MAX_GRANULES} {short_name} granules match; choose a shorter date range.")
        if not items or len(items) < page_size or not after:
            break
    if not out:
        raise InputError(f"NASA's CMR has no {short_name}{' version ' + version if version else ''} granule over "
                         f"the area between {start.isoformat()} and {end.isoformat()}; check the dates (SMAP data "
                         "start on 2015-03-31) and the product version.")
    return out


# -- download -------------------------------------------------------------------------------------------

def _digest(path: str, algorithm: str) -> str:
    h = hashlib.md5() if algorithm == "MD5" else hashlib.sha256()  # noqa: S324 - CMR's own checksum
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
        raise InputError("Downloading SMAP from NASA Earthdata needs an Earthdata Login token: store it in the QGIS "
                         "authentication database and choose it, or set EARTHDATA_TOKEN for qgis_process. Generate "
                         "a token at urs.earthdata.nasa.gov (Generate Token).")
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
    """The area's bounding box in degrees (W, S, E, N), for CMR's ``bounding_box``; None: the whole globe."""
    if area is None:
        return (-180.0, -90.0, 180.0, 90.0)
    from . import raster
    from .gee.fetch import _envelope_in, area_geometry

    with raster.gdal_exceptions():
        geom, srs = area_geometry(area, area_crs)
        return _envelope_in(geom, srs, raster.srs_from_user("EPSG:4326"))


def fetch_granules(short_name: str, start: dt.date | str, end: dt.date | str, area: Any, cache_dir: str,
                   token: str | None, area_crs: str | None = None, version: str | None = None,
                   cmr_url: str | None = None, progress: Progress = no_progress,
                   is_canceled: IsCanceled = never_canceled, log: Callable[[str], None] | None = None) -> list[str]:
    """Search and download a product's granules for an area and dates (inclusive) into ``cache_dir``.

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
    token
        The Earthdata Login token.
    cmr_url
        CMR's address (None: NASA's).
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
    if not token:
        download([], cache_dir, token)  # the message saying how to give a token
    try:
        first = start if isinstance(start, dt.date) else dt.date.fromisoformat(str(start).strip())
        last = end if isinstance(end, dt.date) else dt.date.fromisoformat(str(end).strip())
    except ValueError as exc:
        raise InputError(f"Searching NASA Earthdata needs a start and an end date (YYYY-MM-DD) ({exc}).") from exc
    if last < first:
        raise InputError(f"The date range is reversed: the end date {last.isoformat()} is before the start date "
                         f"{first.isoformat()}. Swap them.")
    found = search(short_name, first, last, area_bbox(area, area_crs), version=version, cmr_url=cmr_url or CMR_URL,
                   is_canceled=is_canceled)
    size = sum(g.size or 0 for g in found)
    say(f"NASA's CMR lists {len(found)} {short_name} granule(s) ({size / 2**20:,.0f} MB) for "
        f"{first.isoformat()} .. {last.isoformat()}; downloading into {cache_dir} (files already there are kept).")
    return download(found, cache_dir, token, progress=progress, is_canceled=is_canceled, log=say)
