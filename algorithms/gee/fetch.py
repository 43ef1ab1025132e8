"""Fetch SMAP and the downscaling factors from Earth Engine for an area, a date range and a time step.

Per time step it writes (under ``out_dir``)

* ``smap/smap_<YYYYMMDD>.tif``: SMAP soil moisture on the grid of Earth Engine's SMAP asset, as it is
  (projection and transform read from the asset: EPSG:4326 for L4, about 11 km; 0.08 degrees for L3
  enhanced), the window of whole cells covering the area: no cell is duplicated or dropped by re-gridding;
* ``factors/factors_<YYYYMMDD>.tif``: the factors as one float32 band each (band description =
  factor name, land cover marked ``SMD_KIND=categorical``) on the fine grid: ``target_crs`` at
  ``fine_resolution``, covering the same SMAP cells, its edges on whole multiples of the resolution;
  averaging finer data into it is decided from the fine pixel's ground size in metres
  (:func:`pixel_size`), for any CRS;

and ``manifest.json`` (:mod:`..manifest`), which the chain's algorithms take instead of file lists.
Pixels go through :func:`.transport.fetch_image` (tiles, retries, resumable tile cache). Tiles of
every step are kept in ``cache_dir`` until the whole request has succeeded, so a run that is
interrupted, fails or is canceled resumes without downloading them again; files written by a run
that does not finish are removed. Areas beyond interactive limits go through export tasks instead
(``export='drive'`` or ``'gcs'``), recorded in the manifest.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import shutil
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from osgeo import ogr, osr

from .. import raster
from ..errors import Canceled, InputError
from ..grids import EASE_CELL, EASE_COLS, EASE_CRS, EASE_ROWS, EASE_X0, EASE_Y0, NOMINAL_METRES_PER_DEGREE
from ..manifest import StepFiles, remove_written, utc_now, write_manifest
from ..raster import Grid, IsCanceled, Progress, never_canceled, no_progress
from . import GeeError, auth, expressions
from .catalog import check_record, collections_for, load_catalog
from .expressions import BuildOptions
from .plan import RunPlan
from .request import Connection, FetchOptions, FetchRequest
from .transport import (
    DEFAULT_MAX_INPUT_PIXELS,
    RetryPolicy,
    crs_for_request,
    fetch_image,
    plan_tiles,
    start_export,
    wait_for_export,
)

EXPORTS = (None, "drive", "gcs")
#: The dry run's table, written into the output folder.
PLAN_FILE = "plan.csv"


@dataclass
class FetchResult:
    """What :func:`fetch` wrote: the manifest, the files per kind, export tasks and transfer statistics."""

    manifest_path: str
    files: list[str]
    smap_files: list[str] = field(default_factory=list)
    factor_files: list[str] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    tiles_fetched: int = 0
    tiles_from_cache: int = 0
    retries: int = 0
    splits: int = 0
    #: The dry run's plan (``plan_only``), else None.
    plan: RunPlan | None = None


# -- area and grids -------------------------------------------------------------------------------

def _srs(text: str) -> osr.SpatialReference:
    return raster.srs_from_user(text)


@raster.gdal_exceptions()
def area_geometry(area: Any, area_crs: str | None = None) -> tuple[ogr.Geometry, osr.SpatialReference]:
    """The area as an OGR polygon and its CRS.

    ``area``: ``(xmin, ymin, xmax, ymax, crs)``; a GeoJSON polygon/multipolygon (dict or text) with
    ``area_crs``; or ``(geojson, crs)``.

    Parameters
    ----------
    area
        An extent ``(xmin, ymin, xmax, ymax, crs)``, a GeoJSON polygon, or ``(geojson, crs)``.
    area_crs
        The CRS of a GeoJSON ``area``.

    Returns
    -------
    tuple[ogr.Geometry, osr.SpatialReference]
        The polygon and its CRS.

    Raises
    ------
    InputError
        An extent that is not four finite numbers, is empty or has latitudes beyond 90 degrees (xmin,ymin,xmax,ymax
        order), a polygon without CRS, not GeoJSON, not a
        polygon, empty, invalid or without area; an area in a projected CRS whose numbers are degrees (less than
        :data:`DEGREES_MISTAKE_M` across, every coordinate within -180..180 and -90..90).
    """
    if isinstance(area, (tuple, list)) and len(area) == 5:
        try:
            xmin, ymin, xmax, ymax = (float(v) for v in area[:4])
        except (TypeError, ValueError) as exc:
            raise InputError(f"The extent {area[:4]} is not four numbers (xmin, ymin, xmax, ymax).") from exc
        if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)):
            raise InputError("The extent has non-finite coordinates; draw or type the extent again.")
        if xmax <= xmin or ymax <= ymin:
            raise InputError(f"The extent ({xmin}, {ymin}, {xmax}, {ymax}) is empty: its maximum must be greater than "
                             "its minimum. Draw the extent again.")
        srs = _srs(str(area[4]))
        if srs.IsGeographic() and (ymin < -90.0 or ymax > 90.0):
            raise InputError(f"The extent's latitudes run from {ymin:g} to {ymax:g}, beyond 90 degrees (its longitudes "
                             f"from {xmin:g} to {xmax:g}). An extent is written xmin,xmax,ymin,ymax, both longitudes "
                             "first: e.g. 115.55,116.35,41.65,42.25 [EPSG:4326] for 115.55-116.35 E, 41.65-42.25 N. "
                             "Check the order of the numbers.")
        ring = ogr.Geometry(ogr.wkbLinearRing)
        for x, y in ((xmin, ymin), (xmax, ymin), (xmax, ymax), (xmin, ymax), (xmin, ymin)):
            ring.AddPoint_2D(x, y)
        geom = ogr.Geometry(ogr.wkbPolygon)
        geom.AddGeometry(ring)
        _check_not_degrees(geom, srs, str(area[4]))
        return geom, srs
    if isinstance(area, (tuple, list)) and len(area) == 2:
        area, area_crs = area
    if not area_crs:
        raise InputError("The area polygon has no coordinate reference system; give its CRS.")
    text = area if isinstance(area, str) else json.dumps(area)
    try:
        geom = ogr.CreateGeometryFromJson(text)
    except RuntimeError as exc:
        raise InputError(f"The area is not a GeoJSON geometry ({exc}); choose a polygon layer.") from exc
    if geom is None:
        raise InputError("The area is not a GeoJSON geometry; choose a polygon layer.")
    if ogr.GT_Flatten(geom.GetGeometryType()) not in (ogr.wkbPolygon, ogr.wkbMultiPolygon):
        raise InputError(f"The area must be a polygon, not a {geom.GetGeometryName().lower()}; choose a polygon "
                         "layer or an extent.")
    if geom.IsEmpty():
        raise InputError("The area polygon is empty; choose a layer with at least one non-empty polygon.")
    if not geom.IsValid():
        raise InputError("The area polygon is invalid (self-intersecting or badly nested rings); repair it with "
                         "Processing > Vector geometry > Fix geometries and run again.")
    if geom.GetArea() <= 0:
        raise InputError("The area polygon has no area (its vertices are on a line); choose a real polygon.")
    srs = _srs(str(area_crs))
    _check_not_degrees(geom, srs, str(area_crs))
    return geom, srs


#: An area in a projected CRS whose coordinates all look like degrees and that spans less than this (metres)
#: is degrees labelled with the wrong CRS (a lon/lat extent typed with [EPSG:3857] or a UTM code).
DEGREES_MISTAKE_M = 1000.0


def _check_not_degrees(geom: ogr.Geometry, srs: osr.SpatialReference, crs: str) -> None:
    if not srs.IsProjected():
        return
    xmin, xmax, ymin, ymax = geom.GetEnvelope()
    if not (-180.0 <= xmin <= xmax <= 180.0 and -90.0 <= ymin <= ymax <= 90.0):
        return
    metres = srs.GetLinearUnits() or 1.0
    wide, high = (xmax - xmin) * metres, (ymax - ymin) * metres
    if max(wide, high) >= DEGREES_MISTAKE_M:
        return
    raise InputError(f"The area ({xmin:g}, {ymin:g}, {xmax:g}, {ymax:g}) is given in {crs}, a projected CRS, so it "
                     f"covers only {wide:.3g} m x {high:.3g} m; its numbers look like longitudes and latitudes. Give "
                     "the extent in EPSG:4326 (e.g. 'xmin,xmax,ymin,ymax [EPSG:4326]'), or assign the area layer its "
                     "real CRS.")


def _envelope_in(geom: ogr.Geometry, srs: osr.SpatialReference, target: osr.SpatialReference) -> tuple[float, ...]:
    g = geom.Clone()
    if not srs.IsSame(target):
        xmin, xmax, ymin, ymax = g.GetEnvelope()
        g.Segmentize(max(xmax - xmin, ymax - ymin) / 50.0)
        try:
            g.Transform(osr.CoordinateTransformation(srs, target))
        except RuntimeError as exc:
            raise InputError(f"The area cannot be transformed into {target.GetName()} ({exc}); check its CRS.") from exc
    xmin, xmax, ymin, ymax = g.GetEnvelope()
    if not all(math.isfinite(v) for v in (xmin, xmax, ymin, ymax)):
        raise InputError(f"The area lies outside what {target.GetName()} can represent; check its CRS and extent.")
    return xmin, ymin, xmax, ymax


def _lat(value: float) -> str:
    return f"{abs(value):g} {'S' if value < 0 else 'N'}"


@raster.gdal_exceptions()
def check_coverage(entries: Sequence[dict[str, Any]], geom: ogr.Geometry, srs: osr.SpatialReference) -> None:
    """Refuse a factor whose dataset does not reach the area at all (catalog ``latitudes``: SRTM and NASADEM cover
    56 S to 60 N, CHIRPS 50 S to 50 N): Earth Engine would return it empty on every step.

    Parameters
    ----------
    entries : Sequence[dict[str, Any]]
        The factors' catalog entries (sources applied).
    geom, srs
        The area and its CRS.

    Raises
    ------
    InputError
        The area lies wholly north or south of a factor's dataset; the message names the factor, its coverage and
        another source that covers the area, if the factor has one.
    """
    limited = [e for e in entries if e.get("latitudes")]
    if not limited:
        return
    _xmin, south, _xmax, north = _envelope_in(geom, srs, _srs("EPSG:4326"))
    for entry in limited:
        lo, hi = (float(v) for v in entry["latitudes"])
        if south < hi and north > lo:
            continue
        base = load_catalog().get(entry["id"])
        others = [s for s in ["default", *base.get("alternatives", {})] if s != entry.get("source", "default")]
        covering = []
        for source in others:
            alt = load_catalog().get(entry["id"], source)
            band = alt.get("latitudes")
            if not band or (south < float(band[1]) and north > float(band[0])):
                covering.append(f"'{source}' ({alt['version']})")
        fix = (f"choose the source {' or '.join(covering)} for {entry['id']}, or leave it out" if covering
               else f"leave {entry['id']} out")
        raise InputError(f"The factor {entry['id']} comes from {entry['collection']}, which covers latitudes "
                         f"{_lat(lo)} to {_lat(hi)} only; the area ({_lat(south)} to {_lat(north)}) lies outside it, "
                         f"so the factor would be empty on every step. Choose another area, or {fix}.")


def smap_collection_for(entry: dict[str, Any], day: dt.date) -> str:
    """The collection (dataset version) of a SMAP entry that covers ``day`` (else the newest).

    Parameters
    ----------
    entry : dict[str, Any]
        The SMAP catalog entry.
    day : datetime.date
        The day wanted.

    Returns
    -------
    str
        The Earth Engine collection id.
    """
    cols = collections_for(entry)
    for col in cols:
        lo = dt.date.fromisoformat(col["from"]) if col.get("from") else dt.date.min
        hi = dt.date.fromisoformat(col["until"]) if col.get("until") else dt.date.max
        if lo <= day < hi:
            return col["id"]
    return cols[-1]["id"]


def smap_asset_projection(entry: dict[str, Any], day: dt.date) -> dict[str, Any]:
    """SMAP's own grid as Earth Engine stores it: ``{"collection", "band", "crs", "transform"}`` read from the
    asset (one ``getInfo`` of ``ImageCollection(id).first().select(band).projection()``; the transform in Earth
    Engine's order [xScale, xShear, xTranslation, yShear, yScale, yTranslation]). Earth Engine must be initialized.

    Earth Engine's SMAP copies are not on the EASE-Grid 2.0 lattice (L4 was warped to EPSG:4326, L3 enhanced
    is stored at 0.08 degrees): fetching them on their own grid keeps every cell's own value.

    Parameters
    ----------
    entry : dict[str, Any]
        The SMAP catalog entry.
    day : datetime.date
        The day whose collection is read (:func:`smap_collection_for`).

    Returns
    -------
    dict[str, Any]
        'collection' (id), 'band', 'crs' (Earth Engine's CRS text) and 'transform' (six floats).

    Raises
    ------
    GeeError
        Earth Engine cannot be asked, or describes a grid that is not north-up.
    """
    import ee

    collection = smap_collection_for(entry, day)
    band = entry["bands"][0]
    try:
        info = ee.ImageCollection(collection).first().select([band]).projection().getInfo()
    except Exception as exc:
        raise auth.explain(exc) from None
    crs = (info or {}).get("crs") or (info or {}).get("wkt")
    transform = (info or {}).get("transform")
    ok = (isinstance(crs, str) and isinstance(transform, list) and len(transform) == 6
          and all(isinstance(v, (int, float)) and math.isfinite(v) for v in transform)
          and transform[1] == 0 and transform[3] == 0 and transform[0] > 0 and transform[4] < 0)
    if not ok:
        raise GeeError(f"Earth Engine described the grid of {collection} as {info!r}, not a north-up grid; run "
                       "again, and report it if it persists.", kind="payload")
    return {"collection": collection, "band": band, "crs": crs, "transform": [float(v) for v in transform]}


@raster.gdal_exceptions()
def lattice_window(geom: ogr.Geometry, srs: osr.SpatialReference, crs: str, transform: Sequence[float]) -> Grid:
    """The window of whole cells of the lattice ``crs`` + ``transform`` (Earth Engine's order) covering the area.

    Parameters
    ----------
    geom, srs
        The area and its CRS.
    crs
        The lattice's CRS.
    transform
        The lattice's transform in Earth Engine's order.

    Returns
    -------
    Grid
        The window of whole lattice cells.

    Raises
    ------
    InputError
        The area lies outside the lattice.
    """
    target = _srs(crs)
    sx, _shx, tx, _shy, sy, ty = (float(v) for v in transform)
    xmin, ymin, xmax, ymax = _envelope_in(geom, srs, target)
    if target.IsGeographic():
        ymin, ymax = max(ymin, -90.0), min(ymax, 90.0)
    eps = 1e-9
    col0 = math.floor((xmin - tx) / sx + eps)
    col1 = math.ceil((xmax - tx) / sx - eps)
    row0 = math.floor((ymax - ty) / sy + eps)
    row1 = math.ceil((ymin - ty) / sy - eps)
    if target.IsGeographic():
        row0 = max(row0, math.ceil((90.0 - ty) / sy - eps))
        row1 = min(row1, math.floor((-90.0 - ty) / sy + eps))
    if col1 <= col0 or row1 <= row0:
        raise InputError("The area lies outside SMAP's grid; choose another area.")
    # origins rounded to 1e-9 units: 2963 x 0.1 - 180 is 116.30000000000001 in floating point
    return Grid(target.ExportToWkt(), (round(tx + col0 * sx, 9), sx, 0.0, round(ty + row0 * sy, 9), 0.0, sy),
                col1 - col0, row1 - row0)


def smap_native_grid(entry: dict[str, Any], geom: ogr.Geometry, srs: osr.SpatialReference,
                     day: dt.date) -> tuple[Grid, dict[str, Any]]:
    """SMAP's own cells covering the area (:func:`smap_asset_projection` + :func:`lattice_window`) and the
    projection record for the manifest.

    Parameters
    ----------
    entry
        The SMAP catalog entry.
    geom, srs
        The area and its CRS.
    day
        A day of the request (chooses the collection).

    Returns
    -------
    tuple[Grid, dict[str, Any]]
        The window of SMAP's cells and the projection record.

    Raises
    ------
    InputError
        The area covers too many SMAP cells.
    GeeError
        From :func:`smap_asset_projection`.
    """
    proj = smap_asset_projection(entry, day)
    grid = lattice_window(geom, srs, proj["crs"], proj["transform"])
    if grid.size > 4_000_000:
        raise InputError(f"The area covers {grid.width} x {grid.height} SMAP cells; choose a smaller area.")
    return grid, proj


@raster.gdal_exceptions()
def smap_grid(geom: ogr.Geometry, srs: osr.SpatialReference) -> Grid:
    """The window of whole EASE-Grid 2.0 9 km cells covering the area (the SMAP products' own lattice at NSIDC;
    used for input checks before Earth Engine is asked for its copy's grid, see :func:`smap_native_grid`).

    Parameters
    ----------
    geom, srs
        The area and its CRS.

    Returns
    -------
    Grid
        The window of whole EASE-Grid 2.0 9 km cells.

    Raises
    ------
    InputError
        The area lies outside SMAP's global grid.
    """
    ease = _srs(EASE_CRS)
    xmin, ymin, xmax, ymax = _envelope_in(geom, srs, ease)
    eps = 1e-9
    col0 = max(0, math.floor((xmin - EASE_X0) / EASE_CELL + eps))
    col1 = min(EASE_COLS, math.ceil((xmax - EASE_X0) / EASE_CELL - eps))
    row0 = max(0, math.floor((EASE_Y0 - ymax) / EASE_CELL + eps))
    row1 = min(EASE_ROWS, math.ceil((EASE_Y0 - ymin) / EASE_CELL - eps))
    if col1 <= col0 or row1 <= row0:
        raise InputError("The area lies outside SMAP's global grid (about 85 S to 85 N); choose another area.")
    return Grid(ease.ExportToWkt(), (EASE_X0 + col0 * EASE_CELL, EASE_CELL, 0.0, EASE_Y0 - row0 * EASE_CELL, 0.0,
                                     -EASE_CELL), col1 - col0, row1 - row0)


@dataclass(frozen=True)
class PixelSize:
    """A grid's pixel in metres at the grid's centre: ground size along x and y, and Earth Engine's nominal
    size (CRS unit x pixel size: metres, feet, or 111 319.49 m per degree)."""

    x: float
    y: float
    nominal: float

    @property
    def ground(self) -> float:
        """The pixel's ground size: the side of a square of the same area."""
        return math.sqrt(self.x * self.y)

    @property
    def largest(self) -> float:
        """The largest of the ground sides and the nominal size (bounds the source pixels per pixel)."""
        return max(self.x, self.y, self.nominal)


@raster.gdal_exceptions()
def pixel_size(grid: Grid) -> PixelSize:
    """The ground size of one pixel of ``grid`` at the grid's centre, for any CRS (metres, feet, degrees).

    Parameters
    ----------
    grid
        Any north-up grid.

    Returns
    -------
    PixelSize
        The ground sides along x and y and Earth Engine's nominal size, in metres.
    """
    srs = grid.srs
    unit = srs.GetLinearUnits() if srs.IsProjected() else NOMINAL_METRES_PER_DEGREE
    return PixelSize(*grid.ground_res(), abs(grid.transform[1]) * unit)


#: The fine resolution as the forms name it, in messages.
FINE_RESOLUTION_LABEL = "The fine resolution (FINE_RESOLUTION)"


@raster.gdal_exceptions()
def fine_grid(coarse: Grid, target_crs: str, resolution: float) -> Grid:
    """The fine grid in ``target_crs`` covering the SMAP window, edges on whole multiples of ``resolution``.

    Parameters
    ----------
    coarse
        SMAP's window.
    target_crs
        The fine grid's CRS.
    resolution
        Pixel size in units of ``target_crs``.

    Returns
    -------
    Grid
        The fine grid.

    Raises
    ------
    InputError
        The resolution is not positive, or not finer than SMAP's cells.
    """
    if not resolution or resolution <= 0 or not math.isfinite(resolution):
        raise InputError(f"The fine resolution must be a positive number (got {resolution}).")
    target = _srs(target_crs)
    raster.check_resolution_units(resolution, target, FINE_RESOLUTION_LABEL)
    xmin, ymin, xmax, ymax = coarse.extent_in(target.ExportToWkt())
    cx, cy = (xmin + xmax) / 2.0, (ymin + ymax) / 2.0
    probe = Grid(target.ExportToWkt(), (cx, resolution, 0.0, cy, 0.0, -resolution), 1, 1)
    if pixel_size(probe).ground >= pixel_size(coarse).ground:
        unit = "m" if target.IsProjected() and target.GetLinearUnits() == 1.0 else target.GetLinearUnitsName() \
            if target.IsProjected() else "degrees"
        raise InputError(f"The fine resolution ({resolution:g} {unit}) is not finer than SMAP's cells (about "
                         f"{pixel_size(coarse).ground / 1000:.0f} km); choose a smaller pixel size (e.g. 1000 m).")
    eps = 1e-9
    xmin = math.floor(xmin / resolution + eps) * resolution
    ymin = math.floor(ymin / resolution + eps) * resolution
    xmax = math.ceil(xmax / resolution - eps) * resolution
    ymax = math.ceil(ymax / resolution - eps) * resolution
    return Grid.from_extent(target.ExportToWkt(), xmin, ymin, xmax, ymax, resolution)


def _ee_crs(grid: Grid) -> str:
    crs = crs_for_request(grid)
    return crs.get("crsCode") or crs["crsWkt"]


def _lonlat_box(grid: Grid) -> list[float]:
    wgs = osr.SpatialReference()
    wgs.ImportFromEPSG(4326)
    xmin, ymin, xmax, ymax = grid.extent_in(wgs.ExportToWkt())
    return [xmin, max(-90.0, ymin), xmax, min(90.0, ymax)]


# -- the request ----------------------------------------------------------------------------------

def _request_key(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _mb(nbytes: float) -> str:
    mb = nbytes / 2**20
    return f"{mb:,.0f} MB" if mb >= 10 else f"{mb:.2f} MB"


def _cancel_exports(operation_names: list[str]) -> None:
    """Cancel export tasks on Earth Engine (best effort: a task that already ended cannot be canceled)."""
    import ee

    for name in operation_names:
        with contextlib.suppress(Exception):
            ee.data.cancelOperation(name)


@dataclass
class _Setup:
    """A checked fetch request on its grids: what every step of :func:`fetch` reads."""

    request: FetchRequest
    options: FetchOptions
    steps: list[tuple[dt.date, dt.date, str]]
    entries: list[dict[str, Any]]
    smap_entry: dict[str, Any]
    build: BuildOptions
    geom: ogr.Geometry
    srs: osr.SpatialReference
    coarse: Grid | None = None
    fine: Grid | None = None
    smap_proj: dict[str, Any] = field(default_factory=dict)
    project_id: str = ""
    step_bytes: int = 0
    stack_cost: float = 1.0

    @property
    def names(self) -> list[str]:
        return [e["id"] for e in self.entries]

    @property
    def kinds(self) -> list[str]:
        return [e["kind"] for e in self.entries]

    def check_size(self, coarse: Grid, fine: Grid) -> int:
        """Bytes of one time step; InputError when an interactive download would exceed the limit."""
        step_bytes = (fine.size * len(self.entries) + coarse.size) * 4
        limit = self.options.max_interactive_bytes
        if self.options.export is None and step_bytes > limit:
            raise InputError(
                f"The area is too large for interactive download: one time step is {_mb(step_bytes)} "
                f"({fine.width} x {fine.height} pixels x {len(self.entries)} factors at "
                f"{self.request.fine_resolution:g}), beyond the {_mb(limit)} limit. Choose a smaller area, a coarser "
                "fine resolution or fewer factors, or set the export option (Google Drive or Cloud Storage) to have "
                "Earth Engine write the files as export tasks.")
        return step_bytes


def _check_request(request: FetchRequest, options: FetchOptions, out_dir: str) -> _Setup:
    """Every check that needs no request to Earth Engine, including the size on SMAP's EASE-Grid 2.0 lattice."""
    if not out_dir:
        raise InputError("No output folder was given; choose where to save the data.")
    if options.export not in EXPORTS:
        raise InputError(f"Unknown export option '{options.export}'; choose none, drive or gcs.")
    if options.export == "gcs" and not options.export_target:
        raise InputError("Export to Cloud Storage needs a bucket name; give it, or export to Google Drive.")
    steps = expressions.time_steps(request.start, request.end, request.step)
    cat = load_catalog()
    sources = dict(request.sources or {})
    entries = cat.factors(list(request.factors), sources)
    smap_entry = cat.smap(request.smap_product, request.smap_layer)
    check_record(smap_entry, steps[0][0])
    build = BuildOptions(window_days=request.window_days, orbit_pass=request.orbit_pass,
                         antecedent_days=request.antecedent_days, sources=sources)
    geom, srs = area_geometry(request.area, request.area_crs)
    check_coverage(entries, geom, srs)
    setup = _Setup(request, options, steps, entries, smap_entry, build, geom, srs)
    ease = smap_grid(geom, srs)
    setup.check_size(ease, fine_grid(ease, request.target_crs, float(request.fine_resolution)))
    return setup


def _on_earth_engine(setup: _Setup, connection: Connection) -> None:
    """Initialize Earth Engine, read SMAP's own grid from the asset and put the fine grid over its cells."""
    request = setup.request
    setup.project_id = auth.initialize(connection.project, connection.credentials, connection.url)
    setup.coarse, setup.smap_proj = smap_native_grid(setup.smap_entry, setup.geom, setup.srs, setup.steps[0][0])
    setup.fine = fine_grid(setup.coarse, request.target_crs, float(request.fine_resolution))
    setup.step_bytes = setup.check_size(setup.coarse, setup.fine)
    setup.build.fine_crs = _ee_crs(setup.fine)
    setup.build.fine_scale = float(request.fine_resolution)
    size = pixel_size(setup.fine)
    setup.build.fine_metres, setup.build.fine_side_metres = size.ground, size.largest
    setup.stack_cost = expressions.input_pixels_per_pixel(setup.entries, setup.build)


def _request_record(setup: _Setup) -> dict[str, Any]:
    """The request as the manifest records it (and, without ``export``, the key of its tile cache)."""
    request, coarse, fine, steps = setup.request, setup.coarse, setup.fine, setup.steps
    assert coarse is not None and fine is not None
    return {
        "area": _area_record(request.area, request.area_crs, setup.geom, setup.srs),
        "start": steps[0][0].isoformat(), "end": (steps[-1][1] - dt.timedelta(days=1)).isoformat(),
        "step": expressions.STEPS[str(request.step).strip().lower().replace(" ", "")],
        "factors": setup.names, "sources": {e["id"]: e.get("source", "default") for e in setup.entries},
        "smap_product": setup.smap_entry["product"], "smap_layer": request.smap_layer,
        "crs": request.target_crs, "resolution": float(request.fine_resolution),
        "window_days": setup.build.window_days, "orbit_pass": setup.build.orbit_pass,
        "antecedent_days": request.antecedent_days,
        "smap_grid": {"crs": setup.smap_proj["crs"], "transform": list(coarse.transform), "width": coarse.width,
                      "height": coarse.height, "source": f"{setup.smap_proj['collection']} (the asset's own grid)",
                      "asset_transform": setup.smap_proj["transform"]},
        "fine_grid": {"crs": request.target_crs,
                      "transform": list(fine.transform), "width": fine.width, "height": fine.height},
        "export": setup.options.export,
    }


@raster.gdal_exceptions()
def fetch(request: FetchRequest, out_dir: str, options: FetchOptions | None = None,
          connection: Connection | None = None, progress: Progress = no_progress,
          is_canceled: IsCanceled = never_canceled, log: Callable[[str], None] | None = None) -> FetchResult:
    """Fetch SMAP and the factors for every time step of ``request.start``..``request.end`` (inclusive) into
    ``out_dir``; see the module doc.

    Parameters
    ----------
    request
        Area, dates, time step, factors, SMAP product and fine grid (:class:`.request.FetchRequest`).
    out_dir
        The output folder (created when missing): ``smap/``, ``factors/``, ``manifest.json``.
    options
        How to transfer (:class:`.request.FetchOptions`): download or export tasks, workers, cache, limits,
        ``plan_only`` (compute nothing, write ``plan.csv`` of :func:`plan_fetch` into ``out_dir``; the only
        request sent reads SMAP's grid from the asset).
    connection
        Earth Engine project, credentials and endpoint (:func:`.auth.initialize`).
    progress, is_canceled, log
        Progress fraction, cancel check and messages for the user.

    Returns
    -------
    FetchResult
        The manifest, the files per kind, the export tasks and transfer statistics (``plan`` for a dry run).

    Raises
    ------
    InputError
        A bad input (area, dates, factors, export option, an area too large to download), named with its fix.
    GeeError
        Earth Engine refused or failed (authentication, quota, a failed export task), with its message.
    Canceled
        ``is_canceled()`` became true; files this run wrote are removed, the tile cache is kept.
    """
    options = options or FetchOptions()
    say = log or (lambda _m: None)
    out_dir = os.path.abspath(out_dir) if out_dir else ""
    setup = _check_request(request, options, out_dir)
    _on_earth_engine(setup, connection or Connection())
    max_input = options.max_input_pixels if options.max_input_pixels is not None else DEFAULT_MAX_INPUT_PIXELS
    coarse, fine = setup.coarse, setup.fine
    assert coarse is not None and fine is not None
    record = _request_record(setup)
    say(f"{len(setup.steps)} time step(s); SMAP grid {coarse.width} x {coarse.height} cells, fine grid {fine.width} x "
        f"{fine.height} pixels, {len(setup.entries)} factor(s) ({_mb(setup.step_bytes)} per step; Earth Engine reads "
        f"about {setup.stack_cost * fine.size:.3g} source pixels per step, at most {max_input:.3g} per request).")
    if options.plan_only:
        run_plan = plan_fetch(setup.steps, coarse, fine, len(setup.entries), setup.stack_cost, max_input,
                              options.export)
        run_plan.write_csv(os.path.join(out_dir, PLAN_FILE))
        say("Plan only (nothing was computed or downloaded):\n" + run_plan.table())
        progress(1.0)
        return FetchResult("", [run_plan.path], tasks=[], plan=run_plan)
    key = _request_key({k: v for k, v in record.items() if k != "export"})
    cache_root = os.path.join(os.path.abspath(options.cache_dir) if options.cache_dir else
                              os.path.join(out_dir, ".cache"), key)
    run = _StepRun(setup, out_dir, cache_root, max_input, progress, is_canceled, say)
    requested = utc_now()
    try:
        for s0, s1, label in setup.steps:
            if is_canceled():
                raise Canceled()
            if options.export is not None:
                run.export_step(s0, s1, label)
            else:
                run.download_step(s0, s1, label)
        if run.result.tasks and options.wait_exports:
            run.wait_for_exports()
        manifest_path = write_manifest(os.path.join(out_dir, "manifest.json"), run.step_files, _bands(setup),
                                       record, _provenance(setup.entries, setup.smap_entry, setup.steps,
                                                           setup.project_id, requested),
                                       exports=run.result.tasks)
    except BaseException:
        remove_written(out_dir, run.written)
        raise
    shutil.rmtree(cache_root, ignore_errors=True)
    with contextlib.suppress(OSError):
        os.rmdir(os.path.dirname(cache_root))  # the default .cache folder, when empty
    result = run.result
    result.manifest_path = manifest_path
    result.files = result.smap_files + result.factor_files + [manifest_path]
    progress(1.0)
    return result


def _bands(setup: _Setup) -> dict[str, Any]:
    """The manifest's band descriptions: SMAP's layer and every factor."""
    smap = setup.smap_entry
    return {"smap": {"name": setup.request.smap_layer, "unit": smap["unit"], "product": smap["product"]},
            "factors": [{"name": e["id"], "unit": e["unit"], "kind": e["kind"]} for e in setup.entries]}


class _StepRun:
    """The time steps of one :func:`fetch`: downloads or export tasks, progress, files written, statistics."""

    def __init__(self, setup: _Setup, out_dir: str, cache_root: str, max_input_pixels: float, progress: Progress,
                 is_canceled: IsCanceled, say: Callable[[str], None]) -> None:
        import ee

        self.setup, self.out_dir, self.cache_root = setup, out_dir, cache_root
        self.max_input_pixels = max_input_pixels
        self.progress, self.is_canceled, self.say = progress, is_canceled, say
        self.result = FetchResult("", [], tasks=[])
        self.written: list[str] = []
        self.step_files: list[StepFiles | dict] = []
        coarse, fine = setup.coarse, setup.fine
        assert coarse is not None and fine is not None
        self.coarse, self.fine = coarse, fine
        self.weights = [coarse.size, fine.size * len(setup.entries)]
        self.total = float(sum(self.weights) * len(setup.steps))
        self.done = 0.0
        self.retry = setup.options.retry or RetryPolicy()
        lon0, lat0, lon1, lat1 = _lonlat_box(coarse)
        self.region = ee.Geometry.Rectangle([lon0, lat0, lon1, lat1], None, False)

    def _images(self, s0: dt.date, s1: dt.date, label: str) -> tuple[Any, Any, str, str]:
        """SMAP's and the factors' images of one step and the paths of their files."""
        request = self.setup.request
        smap_img = expressions.build_smap(request.smap_product, request.smap_layer, s0, s1, self.region)
        stack_img = expressions.build_stack(self.setup.entries, s0, s1, self.region, self.setup.build)
        return (smap_img, stack_img, os.path.join(self.out_dir, "smap", f"smap_{label}.tif"),
                os.path.join(self.out_dir, "factors", f"factors_{label}.tif"))

    def export_step(self, s0: dt.date, s1: dt.date, label: str) -> None:
        """Start the two export tasks of one step (SMAP, factors); the manifest records them, not files."""
        options, layer = self.setup.options, self.setup.request.smap_layer
        smap_img, stack_img, smap_path, stack_path = self._images(s0, s1, label)
        for kind, img, grid, bands, path in (("smap", smap_img, self.coarse, [layer], smap_path),
                                              ("factors", stack_img, self.fine, self.setup.names, stack_path)):
            prefix = os.path.splitext(os.path.basename(path))[0]
            task = start_export(img, grid, bands, f"smdownscale {prefix}", destination=options.export,
                                folder=options.export_target if options.export == "drive" else None,
                                bucket=options.export_target if options.export == "gcs" else None, prefix=prefix)
            self.result.tasks.append({"date": s0.isoformat(), "kind": kind, "task": task,
                                      "destination": options.export,
                                      "target": options.export_target or "smdownscale", "file_prefix": prefix,
                                      "bands": bands})
            self.say(f"Started Earth Engine export task {task} ({prefix}).")
        self.step_files.append({"date": s0.isoformat(), "end": s1.isoformat(), "smap": None, "factors": None})
        self.done += sum(self.weights)
        self.progress(self.done / self.total * (0.1 if options.wait_exports else 1.0))  # waiting takes the rest

    def download_step(self, s0: dt.date, s1: dt.date, label: str) -> None:
        """Download SMAP and the factor stack of one step, tile by tile through the cache."""
        setup, options = self.setup, self.setup.options
        smap_img, stack_img, smap_path, stack_path = self._images(s0, s1, label)
        meta = {"SMD_DATE": s0.isoformat(), "SMD_DATE_END": (s1 - dt.timedelta(days=1)).isoformat()}
        for img, grid, bands, path, kinds, weight, cost in (
                (smap_img, self.coarse, [setup.request.smap_layer], smap_path, None, self.weights[0], 1.0),
                (stack_img, self.fine, setup.names, stack_path, setup.kinds, self.weights[1], setup.stack_cost)):
            existed = os.path.exists(path)
            base = self.done

            def sub(f: float, base: float = base, weight: float = weight) -> None:
                self.progress(min(1.0, (base + f * weight) / self.total))

            stats = fetch_image(img, grid, bands, path, self.cache_root, workers=options.workers, retry=self.retry,
                                timeout=options.timeout, progress=sub, is_canceled=self.is_canceled,
                                keep_cache=True, metadata=meta, kinds=kinds, log=self.say, input_per_pixel=cost,
                                max_input_pixels=self.max_input_pixels)
            if not existed:
                self.written.append(path)
            self.result.tiles_fetched += stats.fetched
            self.result.tiles_from_cache += stats.from_cache
            self.result.retries += stats.retries
            self.result.splits += stats.splits
            self.done += weight
        self.result.smap_files.append(smap_path)
        self.result.factor_files.append(stack_path)
        self.step_files.append({"date": s0.isoformat(), "end": s1.isoformat(), "smap": smap_path,
                                "factors": stack_path})
        self.say(f"{s0.isoformat()}: wrote {os.path.relpath(smap_path, self.out_dir)} and "
                 f"{os.path.relpath(stack_path, self.out_dir)}.")

    def wait_for_exports(self) -> None:
        """Follow the export tasks to their end: progress per finished task; cancel cancels them on the server."""
        tasks = self.result.tasks
        for i, task in enumerate(tasks):
            try:
                status = wait_for_export(task["task"], is_canceled=self.is_canceled,
                                         poll=self.setup.options.export_poll)
            except Canceled:
                _cancel_exports([t["task"] for t in tasks[i + 1:]])
                raise
            task["state"] = status.get("state", "SUCCEEDED")
            if status.get("destination_uris"):
                task["destination_uris"] = list(status["destination_uris"])
            self.say(f"Export task {task['task']} ({task['file_prefix']}) finished: {task['state']}.")
            self.progress(0.1 + 0.9 * (i + 1) / len(tasks))


def plan_fetch(steps: Sequence[tuple], coarse: Grid, fine: Grid, n_factors: int, stack_cost: float,
               max_input_pixels: float, export: str | None) -> RunPlan:
    """What :func:`fetch` would ask of Earth Engine, per time step: SMAP and the factor stack as interactive
    requests (tiles of :func:`.transport.plan_tiles`) or, with ``export``, one task each.

    Parameters
    ----------
    steps
        The time steps.
    coarse, fine
        SMAP's window and the fine grid.
    n_factors
        The number of factors.
    stack_cost
        Source pixels per fine pixel.
    max_input_pixels
        Source pixels one request may read.
    export
        None (download), 'drive' or 'gcs'.

    Returns
    -------
    RunPlan
        One row per step and kind.
    """
    run_plan = RunPlan("fetchgee")
    for s0, _s1, _label in steps:
        date = s0.isoformat()
        for kind, grid, nbands, cost in (("smap", coarse, 1, 1.0), ("factors", fine, n_factors, stack_cost)):
            if export is None:
                count, unit = len(plan_tiles(grid, nbands, 4, input_per_pixel=cost,
                                             max_input_pixels=max_input_pixels)), "requests"
            else:
                count, unit = 1, "tasks"
            run_plan.add(date, kind, unit, count, grid.size * nbands, grid.size * nbands * 4, grid.size * cost)
    where = "downloaded" if export is None else f"written by the export tasks ({export})"
    run_plan.notes += [f"bytes: float32 values {where}; source_pixels: pixels Earth Engine reads to compute them",
                       "no training on Earth Engine (train locally on the files)"]
    return run_plan


def _area_record(area: Any, area_crs: str | None, geom: ogr.Geometry, srs: osr.SpatialReference) -> dict[str, Any]:
    xmin, xmax, ymin, ymax = geom.GetEnvelope()
    crs = srs.GetAuthorityName(None) and f"{srs.GetAuthorityName(None)}:{srs.GetAuthorityCode(None)}"
    record: dict[str, Any] = {"bbox": [xmin, ymin, xmax, ymax], "crs": crs or srs.ExportToWkt()}
    if not (isinstance(area, (tuple, list)) and len(area) == 5):
        record["geometry"] = json.loads(geom.ExportToJson())
    return record


def _provenance(entries: Sequence[dict[str, Any]], smap_entry: dict[str, Any], steps: Sequence[tuple],
                project: str, requested: str) -> dict[str, Any]:
    import ee

    first, last = steps[0][0], steps[-1][1]

    def used(entry: dict[str, Any]) -> list[str]:
        out = []
        for col in collections_for(entry):
            lo = dt.date.fromisoformat(col["from"]) if col.get("from") else dt.date.min
            hi = dt.date.fromisoformat(col["until"]) if col.get("until") else dt.date.max
            if entry["reducer"] == "static" or (lo < last and hi > first) or len(collections_for(entry)) == 1:
                out.append(col["id"])
        return out

    all_entries = [smap_entry, *entries]
    return {
        "source": "Google Earth Engine",
        "project": project,
        "requested": requested,
        "earthengine_api": getattr(ee, "__version__", "unknown"),
        "collections": {e["id"]: used(e) for e in all_entries},
        "versions": {e["id"]: e["version"] for e in all_entries},
        "catalog_version": load_catalog().version,
    }
