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
from . import GeeError
from .catalog import collections_for, load_catalog
from .plan import RunPlan

#: Bytes one time step may take (all bands, float32) before the interactive download is refused.
MAX_INTERACTIVE_BYTES = 2 * 2**30
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
        ring = ogr.Geometry(ogr.wkbLinearRing)
        for x, y in ((xmin, ymin), (xmax, ymin), (xmax, ymax), (xmin, ymax), (xmin, ymin)):
            ring.AddPoint_2D(x, y)
        geom = ogr.Geometry(ogr.wkbPolygon)
        geom.AddGeometry(ring)
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
    return geom, _srs(str(area_crs))


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


def smap_collection_for(entry: dict[str, Any], day: dt.date) -> str:
    """The collection (dataset version) of a SMAP entry that covers ``day`` (else the newest)."""
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
    """
    import ee

    from .auth import explain

    collection = smap_collection_for(entry, day)
    band = entry["bands"][0]
    try:
        info = ee.ImageCollection(collection).first().select([band]).projection().getInfo()
    except Exception as exc:  # noqa: BLE001
        raise explain(exc) from None
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
    """The window of whole cells of the lattice ``crs`` + ``transform`` (Earth Engine's order) covering the area."""
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
    projection record for the manifest."""
    proj = smap_asset_projection(entry, day)
    grid = lattice_window(geom, srs, proj["crs"], proj["transform"])
    if grid.size > 4_000_000:
        raise InputError(f"The area covers {grid.width} x {grid.height} SMAP cells; choose a smaller area.")
    return grid, proj


@raster.gdal_exceptions()
def smap_grid(geom: ogr.Geometry, srs: osr.SpatialReference) -> Grid:
    """The window of whole EASE-Grid 2.0 9 km cells covering the area (the SMAP products' own lattice at NSIDC;
    used for input checks before Earth Engine is asked for its copy's grid, see :func:`smap_native_grid`)."""
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


_EARTH_RADIUS = 6371008.8  # mean radius (m), for ground distances


def _ground_distance(lon0: float, lat0: float, lon1: float, lat1: float) -> float:
    """Great-circle distance in metres (haversine on the mean Earth sphere, ample for pixel sizes)."""
    p0, p1 = math.radians(lat0), math.radians(lat1)
    a = (math.sin((p1 - p0) / 2) ** 2
         + math.cos(p0) * math.cos(p1) * math.sin(math.radians(lon1 - lon0) / 2) ** 2)
    return 2 * _EARTH_RADIUS * math.asin(min(1.0, math.sqrt(a)))


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
    """The ground size of one pixel of ``grid`` at the grid's centre, for any CRS (metres, feet, degrees)."""
    srs = grid.srs
    x0, dx, _rx, y0, _ry, dy = grid.transform
    unit = srs.GetLinearUnits() if srs.IsProjected() else NOMINAL_METRES_PER_DEGREE
    nominal = abs(dx) * unit
    wgs = osr.SpatialReference()
    wgs.ImportFromEPSG(4326)
    wgs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    cx, cy = x0 + dx * grid.width / 2.0, y0 + dy * grid.height / 2.0
    try:
        ct = osr.CoordinateTransformation(srs, wgs)
        (lon0, lat0, _), (lon1, lat1, _), (lon2, lat2, _) = (ct.TransformPoint(x, y) for x, y in
                                                             ((cx, cy), (cx + dx, cy), (cx, cy + dy)))
        gx, gy = _ground_distance(lon0, lat0, lon1, lat1), _ground_distance(lon0, lat0, lon2, lat2)
    except RuntimeError:
        gx = gy = nominal
    if not (math.isfinite(gx) and math.isfinite(gy) and gx > 0 and gy > 0):
        gx = gy = nominal
    return PixelSize(gx, gy, nominal)


@raster.gdal_exceptions()
def fine_grid(coarse: Grid, target_crs: str, resolution: float) -> Grid:
    """The fine grid in ``target_crs`` covering the SMAP window, edges on whole multiples of ``resolution``."""
    if not resolution or resolution <= 0 or not math.isfinite(resolution):
        raise InputError(f"The fine resolution must be a positive number (got {resolution}).")
    target = _srs(target_crs)
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
    from .transport import crs_for_request

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


@raster.gdal_exceptions()
def fetch(area: Any, start: dt.date | str, end: dt.date | str, step: str, factors: Sequence[str],
          smap_product: str = "L4", smap_layer: str = "sm_surface", fine_resolution: float = 1000.0,
          target_crs: str = "EPSG:6933", out_dir: str = "", window_days: int = 8, workers: int = 4,
          cache_dir: str | None = None, export: str | None = None, export_target: str | None = None,
          area_crs: str | None = None, orbit_pass: str = "both", antecedent_days: int | None = None,
          sources: dict[str, str] | None = None, project: str | None = None, credentials: Any = None,
          url: str | None = None, max_interactive_bytes: int = MAX_INTERACTIVE_BYTES, timeout: float = 120.0,
          retry: Any = None, progress: Progress = no_progress, is_canceled: IsCanceled = never_canceled,
          log: Callable[[str], None] | None = None, wait_exports: bool = False,
          export_poll: float = 10.0, max_input_pixels: float | None = None, plan_only: bool = False) -> FetchResult:
    """Fetch SMAP and the factors for every time step of ``start``..``end`` (inclusive); see the module doc.

    ``area``: an extent ``(xmin, ymin, xmax, ymax, crs)`` or a GeoJSON polygon with ``area_crs``.
    ``step``: daily, 8day, 16day or monthly (:func:`.expressions.time_steps`). ``export``: None (download),
    'drive' (``export_target`` = Drive folder) or 'gcs' (``export_target`` = bucket). ``project``,
    ``credentials``, ``url``: see :func:`.auth.initialize`. Raises InputError for bad inputs, GeeError for
    Earth Engine failures, Canceled when canceled. ``plan_only``: compute nothing, write ``plan.csv`` (requests or
    tasks, pixels, bytes, source pixels per step, :func:`plan_fetch`) into ``out_dir`` and return it as
    ``FetchResult.plan``; the only request sent reads SMAP's grid from the asset.
    """
    from . import expressions
    from .expressions import BuildOptions, time_steps

    say = log or (lambda _m: None)
    if max_input_pixels is None:
        from .transport import DEFAULT_MAX_INPUT_PIXELS

        max_input_pixels = DEFAULT_MAX_INPUT_PIXELS
    if not out_dir:
        raise InputError("No output folder was given; choose where to save the data.")
    out_dir = os.path.abspath(out_dir)
    if export not in EXPORTS:
        raise InputError(f"Unknown export option '{export}'; choose none, drive or gcs.")
    if export == "gcs" and not export_target:
        raise InputError("Export to Cloud Storage needs a bucket name; give it, or export to Google Drive.")
    steps = time_steps(start, end, step)
    cat = load_catalog()
    sources = dict(sources or {})
    entries = cat.factors(list(factors), sources)
    smap_entry = cat.smap(smap_product, smap_layer)
    options = BuildOptions(window_days=window_days, orbit_pass=orbit_pass, antecedent_days=antecedent_days,
                           sources=sources)
    geom, srs = area_geometry(area, area_crs)
    names = [e["id"] for e in entries]
    kinds = [e["kind"] for e in entries]

    def check_size(coarse: Grid, fine: Grid) -> int:
        step_bytes = (fine.size * len(names) + coarse.size) * 4
        if export is None and step_bytes > max_interactive_bytes:
            raise InputError(
                f"The area is too large for interactive download: one time step is {_mb(step_bytes)} "
                f"({fine.width} x {fine.height} pixels x {len(names)} factors at {fine_resolution:g}), beyond the "
                f"{_mb(max_interactive_bytes)} limit. Choose a smaller area, a coarser fine resolution or fewer "
                "factors, or set the export option (Google Drive or Cloud Storage) to have Earth Engine write the "
                "files as export tasks.")
        return step_bytes

    # checks on SMAP's EASE-Grid 2.0 lattice before anything is sent, then SMAP's own grid on Earth Engine
    ease = smap_grid(geom, srs)
    check_size(ease, fine_grid(ease, target_crs, float(fine_resolution)))

    from . import auth

    project_id = auth.initialize(project, credentials, url)
    import ee

    coarse, smap_proj = smap_native_grid(smap_entry, geom, srs, steps[0][0])
    fine = fine_grid(coarse, target_crs, float(fine_resolution))
    step_bytes = check_size(coarse, fine)
    options.fine_crs = _ee_crs(fine)
    options.fine_scale = float(fine_resolution)
    size = pixel_size(fine)
    options.fine_metres, options.fine_side_metres = size.ground, size.largest
    stack_cost = expressions.input_pixels_per_pixel(entries, options)

    from .transport import RetryPolicy, fetch_image, start_export, wait_for_export

    lon0, lat0, lon1, lat1 = _lonlat_box(coarse)
    region = ee.Geometry.Rectangle([lon0, lat0, lon1, lat1], None, False)
    request = {
        "area": _area_record(area, area_crs, geom, srs),
        "start": steps[0][0].isoformat(), "end": (steps[-1][1] - dt.timedelta(days=1)).isoformat(),
        "step": expressions.STEPS[str(step).strip().lower().replace(" ", "")],
        "factors": names, "sources": {e["id"]: e.get("source", "default") for e in entries},
        "smap_product": smap_entry["product"], "smap_layer": smap_layer,
        "crs": target_crs, "resolution": float(fine_resolution), "window_days": options.window_days,
        "orbit_pass": options.orbit_pass, "antecedent_days": antecedent_days,
        "smap_grid": {"crs": smap_proj["crs"], "transform": list(coarse.transform), "width": coarse.width,
                      "height": coarse.height, "source": f"{smap_proj['collection']} (the asset's own grid)",
                      "asset_transform": smap_proj["transform"]},
        "fine_grid": {"crs": target_crs,
                      "transform": list(fine.transform), "width": fine.width, "height": fine.height},
        "export": export,
    }
    key = _request_key({k: v for k, v in request.items() if k != "export"})
    cache_root = os.path.join(os.path.abspath(cache_dir) if cache_dir else os.path.join(out_dir, ".cache"), key)
    retry = retry or RetryPolicy()
    requested = utc_now()
    say(f"{len(steps)} time step(s); SMAP grid {coarse.width} x {coarse.height} cells, fine grid {fine.width} x "
        f"{fine.height} pixels, {len(names)} factor(s) ({_mb(step_bytes)} per step; Earth Engine reads about "
        f"{stack_cost * fine.size:.3g} source pixels per step, at most {max_input_pixels:.3g} per request).")
    if plan_only:
        run_plan = plan_fetch(steps, coarse, fine, len(names), stack_cost, max_input_pixels, export)
        run_plan.write_csv(os.path.join(out_dir, PLAN_FILE))
        say("Plan only (nothing was computed or downloaded):\n" + run_plan.table())
        progress(1.0)
        return FetchResult("", [run_plan.path], tasks=[], plan=run_plan)

    written: list[str] = []
    result = FetchResult("", [], tasks=[])
    step_files: list[StepFiles | dict] = []
    weights = [coarse.size, fine.size * len(names)]
    total = float(sum(weights) * len(steps))
    done = 0.0
    try:
        for s0, s1, label in steps:
            if is_canceled():
                raise Canceled()
            smap_img = expressions.build_smap(smap_product, smap_layer, s0, s1, region)
            stack_img = expressions.build_stack(entries, s0, s1, region, options)
            smap_path = os.path.join(out_dir, "smap", f"smap_{label}.tif")
            stack_path = os.path.join(out_dir, "factors", f"factors_{label}.tif")
            meta = {"SMD_DATE": s0.isoformat(), "SMD_DATE_END": (s1 - dt.timedelta(days=1)).isoformat()}
            if export is not None:
                tasks = []
                for kind, img, grid, bands, path in (("smap", smap_img, coarse, [smap_layer], smap_path),
                                                      ("factors", stack_img, fine, names, stack_path)):
                    prefix = os.path.splitext(os.path.basename(path))[0]
                    task = start_export(img, grid, bands, f"smdownscale {prefix}", destination=export,
                                        folder=export_target if export == "drive" else None,
                                        bucket=export_target if export == "gcs" else None, prefix=prefix)
                    tasks.append({"date": s0.isoformat(), "kind": kind, "task": task, "destination": export,
                                  "target": export_target or "smdownscale", "file_prefix": prefix, "bands": bands})
                    say(f"Started Earth Engine export task {task} ({prefix}).")
                result.tasks += tasks
                step_files.append({"date": s0.isoformat(), "end": s1.isoformat(), "smap": None, "factors": None})
                done += weights[0] + weights[1]
                progress(done / total * (0.1 if wait_exports else 1.0))  # waiting takes the rest
                continue
            for img, grid, bands, path, kinds_, weight, cost in (
                    (smap_img, coarse, [smap_layer], smap_path, None, weights[0], 1.0),
                    (stack_img, fine, names, stack_path, kinds, weights[1], stack_cost)):
                existed = os.path.exists(path)
                base = done

                def sub(f: float, base: float = base, weight: float = weight) -> None:
                    progress(min(1.0, (base + f * weight) / total))

                stats = fetch_image(img, grid, bands, path, cache_root, workers=workers, retry=retry,
                                    timeout=timeout, progress=sub, is_canceled=is_canceled, keep_cache=True,
                                    metadata=meta, kinds=kinds_, log=say, input_per_pixel=cost,
                                    max_input_pixels=max_input_pixels)
                if not existed:
                    written.append(path)
                result.tiles_fetched += stats.fetched
                result.tiles_from_cache += stats.from_cache
                result.retries += stats.retries
                result.splits += stats.splits
                done += weight
            result.smap_files.append(smap_path)
            result.factor_files.append(stack_path)
            step_files.append({"date": s0.isoformat(), "end": s1.isoformat(), "smap": smap_path,
                               "factors": stack_path})
            say(f"{s0.isoformat()}: wrote {os.path.relpath(smap_path, out_dir)} and "
                f"{os.path.relpath(stack_path, out_dir)}.")
        if result.tasks and wait_exports:
            # follow the export tasks to the end: progress per finished task, cancel cancels them on the server
            for i, task in enumerate(result.tasks):
                try:
                    status = wait_for_export(task["task"], is_canceled=is_canceled, poll=export_poll)
                except Canceled:
                    _cancel_exports([t["task"] for t in result.tasks[i + 1:]])
                    raise
                task["state"] = status.get("state", "SUCCEEDED")
                if status.get("destination_uris"):
                    task["destination_uris"] = list(status["destination_uris"])
                say(f"Export task {task['task']} ({task['file_prefix']}) finished: {task['state']}.")
                progress(0.1 + 0.9 * (i + 1) / len(result.tasks))
        bands = {"smap": {"name": smap_layer, "unit": smap_entry["unit"], "product": smap_entry["product"]},
                 "factors": [{"name": e["id"], "unit": e["unit"], "kind": e["kind"]} for e in entries]}
        provenance = _provenance(entries, smap_entry, steps, project_id, requested)
        manifest_path = write_manifest(os.path.join(out_dir, "manifest.json"), step_files, bands, request,
                                       provenance, exports=result.tasks)
    except BaseException:
        remove_written(out_dir, written)
        raise
    shutil.rmtree(cache_root, ignore_errors=True)
    with contextlib.suppress(OSError):
        os.rmdir(os.path.dirname(cache_root))  # the default .cache folder, when empty
    result.manifest_path = manifest_path
    result.files = result.smap_files + result.factor_files + [manifest_path]
    progress(1.0)
    return result


def plan_fetch(steps: Sequence[tuple], coarse: Grid, fine: Grid, n_factors: int, stack_cost: float,
               max_input_pixels: float, export: str | None) -> RunPlan:
    """What :func:`fetch` would ask of Earth Engine, per time step: SMAP and the factor stack as interactive
    requests (tiles of :func:`.transport.plan_tiles`) or, with ``export``, one task each."""
    from .transport import plan_tiles

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
