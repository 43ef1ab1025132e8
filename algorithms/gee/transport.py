"""Tiled, resumable, retrying download of Earth Engine images with ``ee.data.computePixels``.

:func:`fetch_image` splits a grid into tiles that stay under Earth Engine's interactive limits
(:func:`plan_tiles`: 48 MiB and 32768 px per side per request), keeps several requests in flight,
retries 429/5xx answers, timeouts, dropped connections and damaged payloads with exponential backoff
and full jitter, stores every finished tile in a cache folder (``<sha256>.npy``, written atomically)
so an interrupted or failed run resumes without downloading it again, and merges the tiles into one
float32 GeoTIFF written atomically. Errors that retrying cannot fix (400/401/403) fail at once with
the message of :func:`.auth.explain`.

Areas beyond interactive limits go through an export task instead (:func:`start_export`,
:func:`wait_for_export`).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import io
import json
import logging
import math
import os
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

from .. import raster
from ..errors import Canceled, InputError
from ..raster import Grid, IsCanceled, Progress, never_canceled, no_progress
from . import GeeError
from .auth import classify, explain, http_status, redact, retry_after

LOG = logging.getLogger(__name__)

#: Earth Engine's interactive limits per computePixels request.
MAX_REQUEST_BYTES = 48 * 2**20
MAX_SIDE = 32768
#: Defaults: 80 % of the byte limit (headroom for the server's own accounting), tiles of at most
#: 1024 px per side so several requests run in parallel and each finishes well within EE's time limit.
DEFAULT_MAX_BYTES = int(0.8 * MAX_REQUEST_BYTES)
DEFAULT_MAX_SIDE = 1024
#: Source pixels one request may make Earth Engine read (our budget, not a published limit): about 2.7e8, e.g.
#: 1-km tiles of 80 x 80 px over 10 m Sentinel-1 VV and VH with gap filling, or 1024 x 1024 px of 1 km data.
#: Interactive requests that need more fail on the server ("User memory limit exceeded", "Computation timed
#: out"); a tile refused that way is split into four and fetched again (up to MAX_SPLITS times).
DEFAULT_MAX_INPUT_PIXELS = 2 ** 28
MAX_SPLITS = 3
CACHE_VERSION = 1
RETRYABLE_KINDS = ("quota", "server", "network", "payload")


@dataclass(frozen=True)
class Tile:
    """A window of a grid: first row and column, number of rows and columns."""

    row0: int
    col0: int
    rows: int
    cols: int

    def grid(self, parent: Grid) -> Grid:
        """The tile as a grid of its own (same CRS and resolution).

        Parameters
        ----------
        parent : Grid
            The grid the tile was cut from.

        Returns
        -------
        Grid
            The tile's grid.
        """
        x0, dx, rx, y0, ry, dy = parent.transform
        return Grid(parent.crs_wkt, (x0 + self.col0 * dx, dx, rx, y0 + self.row0 * dy, ry, dy),
                    self.cols, self.rows)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: retry ``k`` (1, 2, ...) waits up to ``min(cap, base * 2**(k-1))`` seconds,
    a uniformly random part of it with ``jitter`` ("full jitter"), at least a server's Retry-After
    (capped); ``max_attempts`` counts the first try."""

    max_attempts: int = 6
    base: float = 1.0
    cap: float = 60.0
    jitter: bool = True

    def bound(self, retry: int) -> float:
        """The longest wait before retry number ``retry`` (1-based): exponential, at most ``cap``.

        Parameters
        ----------
        retry : int
            The retry number, from 1.

        Returns
        -------
        float
            Seconds.
        """
        return float(min(self.cap, self.base * 2.0 ** (retry - 1)))

    def delay(self, retry: int, rng: Optional[random.Random] = None, server_hint: Optional[float] = None) -> float:
        """The wait before retry number ``retry``: jittered up to :meth:`bound`, at least the server's
        Retry-After hint (capped).

        Parameters
        ----------
        retry : int
            The retry number, from 1.
        rng : random.Random or None
            The jitter's random source (None: the module's).
        server_hint : float or None
            Seconds the server asked to wait (Retry-After), or None.

        Returns
        -------
        float
            Seconds to wait.
        """
        bound = self.bound(retry)
        wait = (rng or random).uniform(0.0, bound) if self.jitter else bound
        if server_hint is not None:
            wait = max(wait, min(server_hint, self.cap))
        return wait


@dataclass
class FetchStats:
    """What a :func:`fetch_image` run did."""

    tiles: int = 0
    fetched: int = 0
    from_cache: int = 0
    retries: int = 0
    #: Tiles Earth Engine refused for memory or time and that were fetched as smaller requests.
    splits: int = 0
    bytes: int = 0
    #: Source pixels the requests make Earth Engine read (planned: output pixels x source pixels per pixel).
    input_pixels: float = 0.0
    seconds: float = 0.0
    delays: list = field(default_factory=list)


class _CorruptTileError(Exception):
    """A computePixels answer that is not the expected array."""


# -- tiling ---------------------------------------------------------------------------------------
def plan_tiles(grid: Grid, n_bands: int, bytes_per_value: int = 4, max_bytes: int = DEFAULT_MAX_BYTES,
               max_side: int = DEFAULT_MAX_SIDE, input_per_pixel: float = 1.0,
               max_input_pixels: float = DEFAULT_MAX_INPUT_PIXELS) -> list[Tile]:
    """Tiles covering ``grid`` row by row, each at most ``max_side`` px per side (never above 32768),
    ``max_bytes`` per request (``rows * cols * n_bands * bytes_per_value``, never above 48 MiB) and
    ``max_input_pixels`` source pixels read per request (``rows * cols * input_per_pixel``, the source pixels
    behind one output pixel, all bands: :func:`.expressions.input_pixels_per_pixel`); tile sizes are evened
    out so edge tiles are not slivers.

    Parameters
    ----------
    grid : Grid
        The grid to fetch.
    n_bands : int
        Bands per request.
    bytes_per_value : int
        Bytes per value in the answer.
    max_bytes : int
        Largest answer per request, in bytes.
    max_side : int
        Largest tile side, in pixels.
    input_per_pixel : float
        Source pixels Earth Engine reads per output pixel.
    max_input_pixels : float
        Most source pixels read per request.

    Returns
    -------
    list of Tile
        The tiles, row by row.

    Raises
    ------
    InputError
        No band is given.
    GeeError
        One pixel needs more source pixels, or more bytes, than a request may carry.
    """
    if n_bands < 1:
        raise InputError("No band to download; choose at least one factor.")
    input_per_pixel = max(1.0, float(input_per_pixel))
    if input_per_pixel > max_input_pixels:
        raise GeeError(f"One output pixel needs {input_per_pixel:,.0f} source pixels, beyond the "
                       f"{max_input_pixels:,.0f} a request may read; choose a coarser fine resolution or the export "
                       "option.", kind="too_large")
    max_side = int(max(1, min(max_side, MAX_SIDE)))
    max_bytes = int(min(max_bytes, MAX_REQUEST_BYTES))
    per_pixel = n_bands * bytes_per_value
    if per_pixel > max_bytes:
        raise GeeError(f"{n_bands} bands cannot be downloaded in one request (one pixel takes {per_pixel} bytes, "
                       f"the limit is {max_bytes}); download fewer bands at a time.", kind="too_large")
    rows, cols = min(grid.height, max_side), min(grid.width, max_side)
    while rows * cols * per_pixel > max_bytes or rows * cols * input_per_pixel > max_input_pixels:
        if rows >= cols:
            rows = max(1, rows // 2)
        else:
            cols = max(1, cols // 2)
    ny, nx = math.ceil(grid.height / rows), math.ceil(grid.width / cols)
    rows, cols = math.ceil(grid.height / ny), math.ceil(grid.width / nx)
    return [Tile(r, c, min(rows, grid.height - r), min(cols, grid.width - c))
            for r in range(0, grid.height, rows) for c in range(0, grid.width, cols)]


def crs_for_request(grid: Grid) -> dict[str, str]:
    """``{"crsCode": "EPSG:n"}`` when the grid's CRS is an EPSG code, else ``{"crsWkt": wkt}``.

    Parameters
    ----------
    grid : Grid
        The grid.

    Returns
    -------
    dict[str, str]
        The CRS part of a PixelGrid.
    """
    srs = grid.srs.Clone()
    name, code = srs.GetAuthorityName(None), srs.GetAuthorityCode(None)
    if not (name and code):
        with contextlib.suppress(RuntimeError):
            srs.AutoIdentifyEPSG()
        name, code = srs.GetAuthorityName(None), srs.GetAuthorityCode(None)
    if name and code and name.upper() == "EPSG":
        return {"crsCode": f"EPSG:{code}"}
    return {"crsWkt": grid.srs.ExportToWkt()}


def pixel_grid(grid: Grid, tile: Optional[Tile] = None) -> dict[str, Any]:
    """The computePixels ``grid`` (PixelGrid JSON) of a grid or one of its tiles.

    Parameters
    ----------
    grid : Grid
        The whole grid.
    tile : Tile or None
        One of its tiles (None: the whole grid).

    Returns
    -------
    dict[str, Any]
        'dimensions', 'affineTransform' and the CRS (:func:`crs_for_request`).
    """
    g = tile.grid(grid) if tile is not None else grid
    x0, dx, rx, y0, ry, dy = g.transform
    return {"dimensions": {"width": int(g.width), "height": int(g.height)},
            "affineTransform": {"scaleX": dx, "shearX": rx, "translateX": x0,
                                "shearY": ry, "scaleY": dy, "translateY": y0},
            **crs_for_request(grid)}


# -- expressions and cache keys ------------------------------------------------------------------
def prepare_expression(expression: Any, nodata: float) -> Any:
    """The ee.Image actually requested: ``expression`` (an ee.Image or its serialized JSON) as float32
    with masked pixels filled with ``nodata`` (computePixels has no mask in its NPY answer).

    Parameters
    ----------
    expression : Any
        An ee.Image, or its serialized JSON.
    nodata : float
        The value masked pixels take.

    Returns
    -------
    Any
        The ee.Image to request.

    Raises
    ------
    InputError
        The expression cannot be read, or is not an image.
    """
    import ee

    if isinstance(expression, str):
        try:
            expression = ee.deserializer.fromJSON(expression)
        except Exception as exc:
            raise InputError(f"The Earth Engine expression cannot be read ({redact(exc)}).") from exc
    if not isinstance(expression, ee.ComputedObject):
        raise InputError(f"Expected an Earth Engine image, got {type(expression).__name__}.")
    return ee.Image(expression).toFloat().unmask(nodata, False)


def serialize(image: Any) -> str:
    """The Earth Engine JSON of ``image`` (its cache key and request body).

    Parameters
    ----------
    image : Any
        An ee.Image.

    Returns
    -------
    str
        Its JSON.
    """
    import ee

    return ee.serializer.toJSON(image)


def tile_key(expression_json: str, request_grid: dict, band_names: Sequence[str], nodata: float) -> str:
    """Cache key of one tile: sha256 of the serialized expression, the tile's pixel grid and the bands.

    Parameters
    ----------
    expression_json : str
        The serialized expression.
    request_grid : dict
        The tile's PixelGrid (:func:`pixel_grid`).
    band_names : Sequence[str]
        The bands requested.
    nodata : float
        The fill of masked pixels.

    Returns
    -------
    str
        A hexadecimal sha256.
    """
    blob = json.dumps({"v": CACHE_VERSION, "expression": expression_json, "grid": request_grid,
                       "bands": list(band_names), "nodata": nodata}, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def cache_path(cache_dir: str, key: str) -> str:
    """The cache file of the tile with ``key`` in ``cache_dir``.

    Parameters
    ----------
    cache_dir : str
        The cache folder.
    key : str
        The tile's key (:func:`tile_key`).

    Returns
    -------
    str
        The .npy path.
    """
    return os.path.join(cache_dir, key + ".npy")


def _save_cached(cache_dir: str, key: str, array: np.ndarray) -> None:
    final = cache_path(cache_dir, key)
    tmp = os.path.join(cache_dir, f".{key}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _load_cached(cache_dir: str, key: str, tile: Tile, n_bands: int) -> Optional[np.ndarray]:
    path = cache_path(cache_dir, key)
    if not os.path.isfile(path):
        return None
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        arr = None
    if arr is None or arr.dtype != np.float32 or arr.shape != (n_bands, tile.rows, tile.cols):
        with contextlib.suppress(OSError):
            os.remove(path)
        return None
    return arr


# -- one request ----------------------------------------------------------------------------------
def decode_npy(data: bytes, rows: int, cols: int, band_names: Sequence[str], nodata: float) -> np.ndarray:
    """A computePixels NPY answer as a float32 (bands, rows, cols) array with NaN for nodata/masked.

    Accepts the structured array Earth Engine sends (one field per band), a plain (rows, cols[, bands])
    array and masked arrays; raises _CorruptTileError for anything else (damaged, truncated, wrong shape,
    missing band, non-numeric).

    Parameters
    ----------
    data : bytes
        The answer (or an array already decoded).
    rows, cols : int
        The tile's size.
    band_names : Sequence[str]
        The bands expected, in order.
    nodata : float
        The fill value, read as NaN.

    Returns
    -------
    numpy.ndarray
        float32 array of shape (bands, rows, cols).

    Raises
    ------
    _CorruptTileError
        The answer is not the expected array (private: the transport retries the tile).
    """
    if isinstance(data, np.ndarray):
        arr = data
    else:
        if not isinstance(data, (bytes, bytearray)) or not data:
            raise _CorruptTileError("empty answer")
        try:
            arr = np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, EOFError, OSError) as exc:
            raise _CorruptTileError(f"not a complete NPY array ({exc})") from None
        if not isinstance(arr, np.ndarray):
            raise _CorruptTileError("not a single array")
    n = len(band_names)
    out = np.empty((n, rows, cols), dtype=np.float32)
    masks: list = [None] * n
    if arr.dtype.names:
        missing = [b for b in band_names if b not in arr.dtype.names]
        if missing:
            raise _CorruptTileError(f"bands missing from the answer: {', '.join(missing)}")
        if arr.shape != (rows, cols):
            raise _CorruptTileError(f"shape {arr.shape} instead of {(rows, cols)}")
        for k, name in enumerate(band_names):
            values = arr[name]
            if not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
                raise _CorruptTileError(f"band {name} is not numeric ({values.dtype})")
            out[k] = np.ma.getdata(values)
            masks[k] = np.ma.getmaskarray(values) if np.ma.isMaskedArray(values) else None
    else:
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise _CorruptTileError(f"values are not numeric ({arr.dtype})")
        if arr.shape == (rows, cols) and n == 1:
            planes = np.ma.asarray(arr)[None]
        elif arr.shape == (rows, cols, n):
            planes = np.moveaxis(np.ma.asarray(arr), -1, 0)
        else:
            raise _CorruptTileError(f"shape {arr.shape} instead of {(rows, cols, n)}")
        out[:] = np.ma.getdata(planes)
        if np.ma.isMaskedArray(arr):
            masks = list(np.ma.getmaskarray(planes))
    for k in range(n):
        band = out[k]
        bad = ~np.isfinite(band) | (band == np.float32(nodata))
        if masks[k] is not None:
            bad |= masks[k]
        band[bad] = np.nan
    return out


def compute_pixels(image: Any, request_grid: dict, band_names: Sequence[str]) -> bytes:
    """One computePixels call (no retry) returning the raw NPY bytes.

    Parameters
    ----------
    image : Any
        The ee.Image (:func:`prepare_expression`).
    request_grid : dict
        The PixelGrid (:func:`pixel_grid`).
    band_names : Sequence[str]
        The bands requested.

    Returns
    -------
    bytes
        The NPY answer.
    """
    import ee

    return ee.data.computePixels({"expression": image, "fileFormat": "NPY", "grid": request_grid,
                                  "bandIds": list(band_names)})


@contextlib.contextmanager
def _client_settings(timeout: float) -> Iterator[None]:
    """Per-request timeout on the ee client and no client-side retries (this module retries itself);
    the previous settings are restored afterwards."""
    import ee

    get_state = getattr(ee.data, "_get_state", None)
    state = get_state() if get_state is not None else None
    previous_retries = getattr(state, "max_retries", 5)
    previous_deadline = getattr(state, "deadline_ms", None)
    deadline_ms = int(round(timeout * 1000)) if timeout and timeout > 0 else 0
    changed = previous_deadline != deadline_ms
    if changed:
        try:
            ee.data.setDeadline(deadline_ms)  # rebuilds the client (fetches the discovery document)
        except Exception as exc:
            raise explain(exc) from None
    ee.data.setMaxRetries(0)
    try:
        yield
    finally:
        ee.data.setMaxRetries(previous_retries)
        if changed and previous_deadline is not None:
            with contextlib.suppress(Exception):
                ee.data.setDeadline(previous_deadline)


class _Fetcher:
    """Fetches one tile with retries; shared by the worker threads of one run."""

    def __init__(self, image: Any, grid: Grid, band_names: Sequence[str], nodata: float, cache_dir: str,
                 retry: RetryPolicy, sleep: Optional[Callable[[float], None]], total: int,
                 log: Callable[[str], None], rng: random.Random) -> None:
        self.image = image
        self.grid = grid
        self.band_names = list(band_names)
        self.nodata = nodata
        self.cache_dir = cache_dir
        self.retry = retry
        self.stop = threading.Event()
        self.sleep = sleep if sleep is not None else self._interruptible_sleep
        self.total = total
        self.log = log
        self.rng = rng
        self.lock = threading.Lock()
        self.retries = 0
        self.splits = 0
        self.delays: list[float] = []

    def _interruptible_sleep(self, seconds: float) -> None:
        self.stop.wait(seconds)

    @raster.gdal_exceptions()
    def __call__(self, index: int, tile: Tile, key: str) -> tuple[np.ndarray, int]:
        try:
            return self._fetch(index, tile, key)
        except BaseException:
            self.stop.set()  # no new request once one tile has failed for good
            raise

    def _fetch(self, index: int, tile: Tile, key: str) -> tuple[np.ndarray, int]:
        array, nbytes = self._request(index, tile, 0)
        _save_cached(self.cache_dir, key, array)
        return array, nbytes

    def _split(self, index: int, tile: Tile, depth: int, err: GeeError) -> tuple[np.ndarray, int]:
        """The tile as four smaller requests (Earth Engine refused it for memory or time)."""
        halves_r = [(0, tile.rows)] if tile.rows < 2 else [(0, tile.rows // 2), (tile.rows // 2, tile.rows)]
        halves_c = [(0, tile.cols)] if tile.cols < 2 else [(0, tile.cols // 2), (tile.cols // 2, tile.cols)]
        parts = [Tile(tile.row0 + r0, tile.col0 + c0, r1 - r0, c1 - c0) for r0, r1 in halves_r for c0, c1 in halves_c]
        with self.lock:
            self.splits += 1
        self.log(redact(f"Earth Engine tile {index + 1} of {self.total}: refused for memory or time ({err}); "
                        f"fetching it as {len(parts)} smaller requests."))
        out = np.empty((len(self.band_names), tile.rows, tile.cols), dtype=np.float32)
        total = 0
        for part in parts:
            array, nbytes = self._request(index, part, depth + 1)
            r, c = part.row0 - tile.row0, part.col0 - tile.col0
            out[:, r:r + part.rows, c:c + part.cols] = array
            total += nbytes
        return out, total

    def _request(self, index: int, tile: Tile, depth: int) -> tuple[np.ndarray, int]:
        request_grid = pixel_grid(self.grid, tile)
        attempts = max(1, self.retry.max_attempts)
        for attempt in range(1, attempts + 1):
            if self.stop.is_set():
                raise Canceled()
            hint = None
            try:
                data = compute_pixels(self.image, request_grid, self.band_names)
                array = decode_npy(data, tile.rows, tile.cols, self.band_names, self.nodata)
            except _CorruptTileError as exc:
                err = GeeError(f"Earth Engine sent a damaged tile ({exc}).", kind="payload")
                reason = f"damaged answer ({exc})"
            except Exception as exc:
                if isinstance(exc, GeeError) and exc.kind not in RETRYABLE_KINDS:
                    raise
                kind = classify(exc)
                if kind == "compute_limit" and depth < MAX_SPLITS and tile.rows * tile.cols > 1:
                    return self._split(index, tile, depth, explain(exc))
                if kind not in RETRYABLE_KINDS:
                    raise explain(exc) from None
                err = explain(exc)
                hint = retry_after(exc)
                status = http_status(exc)
                reason = (f"HTTP {status}" if status else type(exc).__name__) + f" ({str(exc).strip()[:300]})"
            else:
                return array, len(data)
            if attempt == attempts:
                raise GeeError(f"Tile {index + 1} of {self.total} failed {attempts} times; the last error: {err}",
                               kind=err.kind)
            delay = self.retry.delay(attempt, self.rng, hint)
            with self.lock:
                self.retries += 1
                self.delays.append(delay)
            self.log(redact(f"Earth Engine tile {index + 1} of {self.total}: {reason}; retry {attempt} of "
                            f"{attempts - 1} in {delay:.1f} s."))
            self.sleep(delay)
        raise AssertionError("unreachable")


def _default_log(message: str) -> None:
    LOG.warning(message)


# -- the whole image ------------------------------------------------------------------------------
@raster.gdal_exceptions()
def fetch_image(expression: Any, grid: Grid, band_names: Sequence[str], output: str, cache_dir: str,
                workers: int = 4, retry: RetryPolicy = RetryPolicy(), timeout: float = 120.0,
                nodata: float = raster.NODATA_F32, progress: Progress = no_progress,
                is_canceled: IsCanceled = never_canceled, sleep: Optional[Callable[[float], None]] = None,
                max_side: int = DEFAULT_MAX_SIDE, max_bytes: int = DEFAULT_MAX_BYTES, keep_cache: bool = False,
                input_per_pixel: float = 1.0, max_input_pixels: float = DEFAULT_MAX_INPUT_PIXELS,
                metadata: Optional[dict[str, str]] = None, kinds: Optional[Sequence[str]] = None,
                log: Optional[Callable[[str], None]] = None, rng: Optional[random.Random] = None) -> FetchStats:
    """Download ``expression`` on ``grid`` into the float32 GeoTIFF ``output`` (band descriptions =
    ``band_names``, nodata -9999), tile by tile through computePixels.

    ``expression``: an ee.Image or its serialized JSON, with bands named ``band_names``. Finished tiles
    are cached in ``cache_dir`` (reused by the next run with the same expression, grid and bands; removed
    after success unless ``keep_cache``). ``sleep`` waits between retries (default: an interruptible
    wait); ``log`` receives one line per retry (default: the module logger), never a token.
    ``kinds``/``metadata`` go to :func:`raster.create_geotiff`. ``input_per_pixel``: the source pixels Earth
    Engine reads for one output pixel (all bands); tiles are sized so one request reads at most
    ``max_input_pixels`` (:func:`plan_tiles`), and a tile refused for memory or time is fetched as four smaller
    requests (up to :data:`MAX_SPLITS` times). Earth Engine must be initialized
    (:func:`.auth.initialize`). Raises GeeError, InputError or Canceled; the output then does not exist.

    Parameters
    ----------
    expression
        An ee.Image or its serialized JSON, bands named ``band_names``.
    grid
        The output grid.
    band_names
        The bands, in order.
    output
        The GeoTIFF to write (atomically).
    cache_dir
        The tile cache.
    workers, retry, timeout
        Parallel requests, the retry policy and seconds per request.
    nodata
        The output's nodata value.
    progress, is_canceled
        Progress fraction and cancel check (:mod:`.raster` defaults).
    sleep, rng
        How to wait between retries and the jitter's random source (tests).
    max_side, max_bytes, input_per_pixel, max_input_pixels
        Tile limits (:func:`plan_tiles`).
    keep_cache
        Keep the finished tiles after success.
    metadata, kinds
        Dataset metadata and ``SMD_KIND`` per band.
    log
        One line per retry (default: the module logger).

    Returns
    -------
    FetchStats
        Tiles fetched, taken from the cache, retried and split, bytes, source pixels and seconds.

    Raises
    ------
    InputError
        No band, repeated band names, or a cache folder that cannot be created.
    GeeError
        A tile fails after its retries, or cannot be made small enough.
    Canceled
        ``is_canceled()`` became true; finished tiles stay in the cache.
    """
    start = time.monotonic()
    band_names = [str(b) for b in band_names]
    if not band_names:
        raise InputError("No band to download; choose at least one factor.")
    if len(set(band_names)) != len(band_names):
        raise InputError(f"Band names must be unique: {', '.join(band_names)}.")
    try:
        os.makedirs(cache_dir, exist_ok=True)
    except OSError as exc:
        raise InputError(f"Cannot create the tile cache folder {cache_dir} ({exc.strerror}); choose another "
                         "output folder.") from exc
    raster.check_output_path(output)
    image = prepare_expression(expression, nodata)
    expression_json = serialize(image)
    tiles = plan_tiles(grid, len(band_names), 4, max_bytes=max_bytes, max_side=max_side,
                       input_per_pixel=input_per_pixel, max_input_pixels=max_input_pixels)
    keys = [tile_key(expression_json, pixel_grid(grid, t), band_names, nodata) for t in tiles]
    stats = FetchStats(tiles=len(tiles), input_pixels=float(grid.size) * max(1.0, float(input_per_pixel)))
    total = len(tiles)

    with raster.atomic_path(output) as tmp:
        ds = raster.create_geotiff(tmp, grid, len(band_names), nodata=nodata, names=band_names, kinds=kinds,
                                   metadata=metadata)
        missing: list[tuple[int, Tile, str]] = []
        for index, (tile, key) in enumerate(zip(tiles, keys)):
            if is_canceled():
                raise Canceled()
            cached = _load_cached(cache_dir, key, tile, len(band_names))
            if cached is None:
                missing.append((index, tile, key))
                continue
            raster.write_block(ds, tile.row0, cached, nodata, col0=tile.col0)
            stats.from_cache += 1
            progress(stats.from_cache / total)
        if missing:
            fetcher = _Fetcher(image, grid, band_names, nodata, cache_dir, retry, sleep, total,
                               log or _default_log, rng or random.Random())
            try:
                with _client_settings(timeout):
                    _fetch_all(fetcher, missing, workers, ds, stats, progress, is_canceled)
            finally:
                stats.retries = fetcher.retries
                stats.splits = fetcher.splits
                stats.delays = list(fetcher.delays)
        ds.FlushCache()
        ds = None
    if not keep_cache:
        for key in keys:
            with contextlib.suppress(OSError):
                os.remove(cache_path(cache_dir, key))
        with contextlib.suppress(OSError):
            os.rmdir(cache_dir)
    progress(1.0)
    stats.seconds = time.monotonic() - start
    return stats


def _fetch_all(fetcher: _Fetcher, missing: list, workers: int, ds: Any, stats: FetchStats, progress: Progress,
               is_canceled: IsCanceled) -> None:
    """Run the missing tiles on a thread pool, writing each into ``ds`` as it arrives (main thread)."""
    total = fetcher.total
    executor = cf.ThreadPoolExecutor(max_workers=max(1, min(int(workers), len(missing))),
                                     thread_name_prefix="smdownscale-ee")
    futures: dict = {}
    try:
        futures = {executor.submit(fetcher, index, tile, key): tile for index, tile, key in missing}
        pending = set(futures)
        while pending:
            if is_canceled():
                raise Canceled()
            finished, pending = cf.wait(pending, timeout=0.05, return_when=cf.FIRST_COMPLETED)
            for future in finished:
                if future.exception() is not None:
                    raise _first_failure(fetcher, executor, futures, future.exception())
                array, nbytes = future.result()
                tile = futures[future]
                raster.write_block(ds, tile.row0, array, fetcher.nodata, col0=tile.col0)
                stats.fetched += 1
                stats.bytes += nbytes
                progress((stats.from_cache + stats.fetched) / total)
                if is_canceled():
                    raise Canceled()
    except BaseException:
        fetcher.stop.set()
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown(wait=True)


def _first_failure(fetcher: _Fetcher, executor: cf.ThreadPoolExecutor, futures: dict,
                   seen: BaseException) -> BaseException:
    """The error that stopped the run: a real failure rather than the Canceled it caused in other workers."""
    fetcher.stop.set()
    executor.shutdown(wait=True, cancel_futures=True)
    for future in futures:
        if future.done() and not future.cancelled():
            exc = future.exception()
            if exc is not None and not isinstance(exc, Canceled):
                return exc
    return seen


# -- exports --------------------------------------------------------------------------------------
def start_export(expression: Any, grid: Grid, band_names: Sequence[str], description: str,
                 destination: str = "drive", folder: Optional[str] = None, bucket: Optional[str] = None,
                 prefix: Optional[str] = None, nodata: float = raster.NODATA_F32) -> str:
    """Start an Earth Engine export of ``expression`` on exactly ``grid`` as a float32 GeoTIFF to Google
    Drive (``folder``) or Cloud Storage (``bucket``); returns the task's operation name.

    Parameters
    ----------
    expression : Any
        An ee.Image or its serialized JSON.
    grid : Grid
        The exported grid.
    band_names : Sequence[str]
        The bands exported.
    description : str
        The task's description.
    destination : str
        'drive' or 'gcs' (also 'cloud_storage').
    folder : str or None
        The Drive folder.
    bucket : str or None
        The Cloud Storage bucket (needed for 'gcs').
    prefix : str or None
        The file name prefix (None: the description, made a valid task name).
    nodata : float
        The value masked pixels take.

    Returns
    -------
    str
        The operation name.

    Raises
    ------
    InputError
        An unknown destination, or Cloud Storage without a bucket.
    GeeError
        Earth Engine refuses the task (explained by :func:`.auth.explain`).
    """
    import ee

    image = prepare_expression(expression, nodata).select(list(band_names))
    x0, dx, rx, y0, ry, dy = grid.transform
    crs = crs_for_request(grid)
    common = {"image": image, "description": _task_description(description),
              "fileNamePrefix": prefix or _task_description(description),
              "crs": crs.get("crsCode") or crs.get("crsWkt"), "crsTransform": [dx, rx, x0, ry, dy, y0],
              "dimensions": f"{grid.width}x{grid.height}", "maxPixels": 1e13, "fileFormat": "GeoTIFF"}
    try:
        if destination == "drive":
            task = ee.batch.Export.image.toDrive(folder=folder or "smdownscale", **common)
        elif destination in ("gcs", "cloud_storage"):
            if not bucket:
                raise InputError("Export to Cloud Storage needs a bucket name; give one or export to Drive.")
            task = ee.batch.Export.image.toCloudStorage(bucket=bucket, **common)
        else:
            raise InputError(f"Unknown export destination '{destination}': use 'drive' or 'gcs'.")
        task.start()
    except (InputError, GeeError):
        raise
    except Exception as exc:
        raise explain(exc) from None
    return str(task.name)


def _task_description(text: str) -> str:
    """Earth Engine task descriptions: at most 100 of [A-Za-z0-9 .,:;_-]."""
    allowed = "".join(ch if ch.isascii() and (ch.isalnum() or ch in " .,:;_-") else "_" for ch in text)
    return allowed[:100] or "smdownscale_export"


def wait_for_export(operation_name: str, progress: Progress = no_progress, is_canceled: IsCanceled = never_canceled,
                    poll: float = 10.0, sleep: Callable[[float], None] = time.sleep,
                    timeout: Optional[float] = None) -> dict[str, Any]:
    """Poll an export task until it ends; returns its final status (``state``, ``destination_uris``...).

    Cancel (``is_canceled``) cancels the task on the server and raises Canceled; a failed or canceled task
    raises GeeError with the server's message; ``timeout`` (seconds) stops waiting (the task goes on).

    Parameters
    ----------
    operation_name : str
        The task's operation name.
    progress : Progress
        Called with the task's progress.
    is_canceled : IsCanceled
        Checked every poll.
    poll : float
        Seconds between polls.
    sleep : Callable[[float], None]
        How to wait.
    timeout : float or None
        Seconds to wait at most (None: until the task ends).

    Returns
    -------
    dict[str, Any]
        'state', 'destination_uris', 'name' and 'description' of the finished task.

    Raises
    ------
    Canceled
        ``is_canceled()`` became true; the task is canceled on Earth Engine.
    GeeError
        The task failed or was canceled, its status cannot be read, or it is still running after ``timeout``.
    """
    import ee

    waited = 0.0
    while True:
        if is_canceled():
            with contextlib.suppress(Exception):
                ee.data.cancelOperation(operation_name)
            raise Canceled("Canceled by the user; the export task was canceled on Earth Engine.")
        try:
            operation = ee.data.getOperation(operation_name)
        except Exception as exc:
            err = explain(exc)
            if err.kind not in RETRYABLE_KINDS:
                raise err from None
            operation = None
        if operation is not None:
            meta = operation.get("metadata", {})
            state = meta.get("state", "PENDING")
            if operation.get("done"):
                if state == "SUCCEEDED" and "error" not in operation:
                    progress(1.0)
                    return {"state": state, "destination_uris": meta.get("destinationUris", []),
                            "name": operation_name, "description": meta.get("description", "")}
                message = redact(operation.get("error", {}).get("message", state))
                raise GeeError(f"The Earth Engine export task ended as {state}: {message}. Check the task in the "
                               "Earth Engine Code Editor (Tasks tab), fix the cause and start it again.",
                               kind="other")
            progress(float(meta.get("progress", 0.0) or 0.0))
        if timeout is not None and waited >= timeout:
            raise GeeError(f"The Earth Engine export task {operation_name} is still running after {timeout:.0f} s; "
                           "it goes on on Earth Engine: follow it in the Code Editor (Tasks tab).", kind="other")
        sleep(poll)
        waited += poll
