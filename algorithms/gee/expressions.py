"""Earth Engine expressions built from catalog entries, and the time steps of a request.

Every factor becomes one float band named after its entry id, in physical units, masked by the
entry's quality rules and reduced over the time step with the entry's reducer:

* per image: select the entry's bands, ``x * scale + offset`` (raised to the entry's ``min_value`` where it has
  one), mask with the quality rules (computed on the raw image), apply the band math, rename to the entry id;
* over the step ``[start, end)``: filter the collection(s) by date, bounds and properties (Sentinel-1
  instrument mode, polarisation, orbit pass) and reduce (mean / median / sum / first / latest);
  static datasets ignore the dates;
* gap filling (entries with ``gap_fill``: Sentinel-1, Landsat, MODIS LST and albedo): pixels left
  empty by the step composite are filled from a composite of ``window_days`` before and after the
  step (``[start - window_days, end + window_days)``); ``window_days = 0`` turns it off;
* products whose images stand for a period (MOD13A2, 16 days) also use images whose period started
  up to ``cadence_days - 1`` days before the step;
* antecedent precipitation is the total over ``antecedent_days`` ending at the step end;
* on the fine grid (``BuildOptions.fine_crs``/``fine_scale``), data finer than the grid are averaged
  into it (``reduceResolution``; majority class for categorical data) instead of sampled, and
  coarser continuous data are interpolated bilinearly. The decision is made in metres: a fine pixel's
  ground size at the area (``BuildOptions.fine_metres``, :func:`.fetch.pixel_size`) against the
  source's native resolution, whatever the CRS's unit (metres, feet, degrees).

A fully masked placeholder is merged into every collection so a step without any image gives an
empty (masked) band instead of a band-less image that would break the stack.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import ee

from .. import raster
from ..dates import as_date, calendar_steps
from ..errors import InputError
from ..grids import NOMINAL_METRES_PER_DEGREE
from .catalog import collections_for, load_catalog

STEPS = {"daily": "daily", "1day": "daily", "day": "daily", "8day": "8day", "8-day": "8day",
         "16day": "16day", "16-day": "16day", "monthly": "monthly", "month": "monthly"}
ORBIT_PASSES = ("both", "ASCENDING", "DESCENDING")
#: Data finer than this fraction of the fine resolution are averaged into the fine grid.
AGGREGATE_BELOW = 0.75
#: Upper bound of input pixels reduceResolution may combine into one output pixel.
MAX_REDUCE_PIXELS = 65535


@dataclass
class BuildOptions:
    """Choices that shape the expressions (see the module docstring)."""

    window_days: int = 8
    orbit_pass: str = "both"
    antecedent_days: int | None = None
    sources: dict[str, str] = field(default_factory=dict)
    fine_crs: str | None = None
    #: Fine pixel size in ``fine_crs`` units (metres, feet, degrees).
    fine_scale: float | None = None
    #: Ground size of a fine pixel at the area, in metres (decides averaging / interpolation); default:
    #: ``fine_scale`` times the CRS unit's nominal size (exact only for metric projected CRSs).
    fine_metres: float | None = None
    #: Largest side of a fine pixel in metres (ground or Earth Engine's nominal size): bounds the number of
    #: source pixels ``reduceResolution`` combines into one fine pixel. Default: ``fine_metres``.
    fine_side_metres: float | None = None

    def __post_init__(self) -> None:
        if int(self.window_days) < 0:
            raise InputError(f"The compositing window must be 0 days or more (got {self.window_days}).")
        self.window_days = int(self.window_days)
        orbit = str(self.orbit_pass or "both").strip()
        orbit = "both" if orbit.lower() in ("both", "any", "") else orbit.upper()
        if orbit not in ORBIT_PASSES:
            raise InputError(f"Unknown orbit pass '{self.orbit_pass}'; choose ASCENDING, DESCENDING or both.")
        self.orbit_pass = orbit
        if self.antecedent_days is not None and int(self.antecedent_days) < 1:
            raise InputError("The antecedent precipitation window must be at least 1 day "
                             f"(got {self.antecedent_days}).")
        if self.fine_scale is not None and self.fine_scale <= 0:
            raise InputError(f"The fine resolution must be positive (got {self.fine_scale}).")
        if self.fine_metres is None and self.fine_crs and self.fine_scale:
            self.fine_metres = float(self.fine_scale) * _nominal_unit_metres(self.fine_crs)
        if self.fine_side_metres is None and self.fine_metres:
            self.fine_side_metres = float(self.fine_metres)


def _nominal_unit_metres(crs: str) -> float:
    """Earth Engine's nominal size of one unit of ``crs`` in metres (111 319.49 m per degree)."""
    srs = raster.srs_from_user(crs)
    return float(srs.GetLinearUnits()) if srs.IsProjected() else NOMINAL_METRES_PER_DEGREE


# -- time steps ---------------------------------------------------------------------------------

def time_steps(start: dt.date | str, end: dt.date | str, step: str = "daily") -> list[tuple[dt.date, dt.date, str]]:
    """Time steps covering ``start``..``end`` (both inclusive) as ``(start, end_exclusive, 'YYYYMMDD')``.

    daily: one step per day. 8day/16day: the MODIS composite calendar (periods starting on day of
    year 1, 9, 17, ... or 1, 17, 33, ..., restarting every 1 January, so the last period of a year is
    shorter). monthly: calendar months. The first and last periods are clipped to the date range;
    the label is the (clipped) step start.

    Parameters
    ----------
    start, end
        Dates (inclusive), ``datetime.date`` or ISO text.
    step
        daily, 8day, 16day or monthly.

    Returns
    -------
    list[tuple[dt.date, dt.date, str]]
        ``(start, end_exclusive, label)`` per step.

    Raises
    ------
    InputError
        A date is not a date, the range is reversed, or the step is unknown.
    """
    start = as_date(start, "start date")
    end = as_date(end, "end date")
    if end < start:
        raise InputError(f"The date range is reversed: the end date {end.isoformat()} is before the start date "
                         f"{start.isoformat()}. Swap them.")
    kind = STEPS.get(str(step).strip().lower().replace(" ", ""))
    if kind is None:
        raise InputError(f"Unknown time step '{step}'; choose daily, 8day, 16day or monthly.")
    return calendar_steps(start, end, kind)


def step_days(kind: str) -> int:
    """Nominal length of a time step in days (for messages and size estimates).

    Parameters
    ----------
    kind : str
        A time step ('daily', '8day', '16day', 'monthly' and the aliases of :data:`STEPS`).

    Returns
    -------
    int
        1, 8, 16 or 31.
    """
    return {"daily": 1, "8day": 8, "16day": 16, "monthly": 31}[STEPS[str(kind).strip().lower().replace(" ", "")]]


# -- expressions --------------------------------------------------------------------------------

def _iso(d: dt.date) -> str:
    return d.isoformat()


def _mask_condition(img: ee.Image, rule: dict[str, Any]) -> ee.Image:
    band = img.select([rule["band"]])
    kind = rule["type"]
    if kind == "bits_zero":
        bits = sum(1 << int(b) for b in rule["bits"])
        return band.bitwiseAnd(bits).eq(0)
    if kind == "equals":
        return band.eq(rule["value"])
    if kind == "fill":
        cond = None
        for value in rule["values"]:
            keep = band.neq(float(value))
            cond = keep if cond is None else cond.And(keep)
        return cond
    cond = None
    if "min" in rule:
        cond = band.gte(rule["min"])
    if "max" in rule:
        upper = band.lte(rule["max"])
        cond = upper if cond is None else cond.And(upper)
    return cond


def _band_math(value: ee.Image, bands: Sequence[str], spec: dict[str, Any]) -> ee.Image:
    op = spec["op"]
    if op == "band":
        return value.select([bands[0]])
    if op == "normalized_difference":
        return value.normalizedDifference([bands[0], bands[1]])
    if op == "difference":
        return value.select([bands[0]]).subtract(value.select([bands[1]]))
    if op == "linear":
        total = None
        for b, w in zip(bands, spec["weights"]):
            term = value.select([b]).multiply(float(w))
            total = term if total is None else total.add(term)
        return total.add(float(spec.get("constant", 0.0)))
    if op == "terrain":
        dem = value.select([bands[0]])
        return ee.Terrain.slope(dem) if spec["product"] == "slope" else ee.Terrain.aspect(dem)
    raise InputError(f"Unknown band math '{op}' in the catalog; reinstall the plugin.")


def _needs_aggregation(entry: dict[str, Any], options: BuildOptions) -> bool:
    return bool(options.fine_crs and options.fine_metres
                and float(entry["native_resolution"]) < AGGREGATE_BELOW * float(options.fine_metres))


def _interpolates(entry: dict[str, Any], options: BuildOptions) -> bool:
    return bool(options.fine_crs and options.fine_metres and entry["kind"] == "continuous"
                and entry["math"]["op"] != "terrain"
                and float(entry["native_resolution"]) > float(options.fine_metres) / AGGREGATE_BELOW)


def reduce_pixels(entry: dict[str, Any], options: BuildOptions) -> int:
    """Source pixels ``reduceResolution`` may combine into one fine pixel for ``entry`` (1 when the entry is
    not averaged): the source pixels along the fine pixel's largest side, plus one on each edge, squared.

    Parameters
    ----------
    entry : dict[str, Any]
        A factor's catalog entry.
    options : BuildOptions
        The stack's build options (fine grid size).

    Returns
    -------
    int
        Source pixels per fine pixel, at most :data:`MAX_REDUCE_PIXELS`.
    """
    if not _needs_aggregation(entry, options):
        return 1
    side = float(options.fine_side_metres or options.fine_metres) / float(entry["native_resolution"])
    return int(min(MAX_REDUCE_PIXELS, (math.ceil(side) + 2) ** 2))


def input_pixels_per_pixel(entries: Sequence[dict[str, Any]], options: BuildOptions) -> float:
    """Source pixels Earth Engine reads for one fine pixel of the stack of ``entries``: per entry the
    ``reduceResolution`` window (:func:`reduce_pixels`, 1 when not averaged) times its bands, twice with gap filling
    (the step and the wider window are both composited). Sizes download requests (:func:`.transport.plan_tiles`).

    Parameters
    ----------
    entries : Sequence[dict[str, Any]]
        The stack's factor entries.
    options : BuildOptions
        The stack's build options.

    Returns
    -------
    float
        Source pixels per fine pixel, at least 1.
    """
    total = 0.0
    for entry in entries:
        layers = 2 if entry.get("gap_fill") and options.window_days > 0 else 1
        total += reduce_pixels(entry, options) * len(entry["bands"]) * layers
    return max(1.0, total)


def _image_fn(entry: dict[str, Any], bands: Sequence[str], masks: Sequence[dict[str, Any]],
              options: BuildOptions):
    """A function ee.Image -> one float band named ``entry['id']`` (select, scale, mask, math)."""
    scale = float(entry["scale"])
    offset = float(entry["offset"])
    floor = float(entry["min_value"]) if entry.get("min_value") is not None else None
    resample = _interpolates(entry, options)

    def prepare(image: Any) -> ee.Image:
        img = ee.Image(image)
        value = img.select(list(bands))
        if scale != 1.0:
            value = value.multiply(scale)
        if offset != 0.0:
            value = value.add(offset)
        if floor is not None:  # physically impossible values (ERA5-Land's negative precipitation) set to the floor
            value = value.max(floor)
        for rule in masks:
            value = value.updateMask(_mask_condition(img, rule))
        out = _band_math(value, bands, entry["math"]).rename([entry["id"]]).toFloat()
        if resample:
            out = out.resample("bilinear")
        return out

    return prepare


def _placeholder(entry_id: str) -> ee.Image:
    """A fully masked float band named ``entry_id`` (keeps empty steps from breaking the stack)."""
    return ee.Image.constant(0).toFloat().updateMask(ee.Image.constant(0)).rename([entry_id])


def _filtered(entry: dict[str, Any], begin: dt.date, stop: dt.date, area: ee.Geometry | None,
              options: BuildOptions) -> ee.ImageCollection:
    """The entry's prepared images starting in ``[begin, stop)`` (collections merged, placeholder first)."""
    passes = entry.get("passes") or [{"bands": entry["bands"], "mask": entry["mask"]}]
    merged = ee.ImageCollection([_placeholder(entry["id"])])
    for col in collections_for(entry):
        lo = max(begin, dt.date.fromisoformat(col["from"])) if col.get("from") else begin
        hi = min(stop, dt.date.fromisoformat(col["until"])) if col.get("until") else stop
        if lo >= hi:
            continue  # this version of the dataset does not cover the window
        coll = ee.ImageCollection(col["id"]).filterDate(_iso(lo), _iso(hi))
        if area is not None:
            coll = coll.filterBounds(area)
        for flt in entry.get("filters", []):
            value = flt.get("value")
            if "option" in flt:
                value = getattr(options, flt["option"])
                if value in (None, "", "both"):
                    continue
            if flt["type"] == "eq":
                coll = coll.filter(ee.Filter.eq(flt["property"], value))
            else:
                coll = coll.filter(ee.Filter.listContains(flt["property"], value))
        for p in passes:
            merged = merged.merge(coll.map(_image_fn(entry, p["bands"], p.get("mask", []), options)))
    return merged


def _reduce(coll: ee.ImageCollection, reducer: str) -> ee.Image:
    if reducer == "mean":
        return coll.mean()
    if reducer == "median":
        return coll.median()
    if reducer == "sum":
        return coll.sum()
    if reducer == "first":  # earliest valid image on top
        return coll.sort("system:time_start", False).mosaic()
    if reducer in ("latest", "static"):  # most recent valid image on top
        return coll.sort("system:time_start").mosaic()
    raise InputError(f"Unknown temporal reducer '{reducer}' in the catalog; reinstall the plugin.")


def _window(entry: dict[str, Any], start: dt.date, end: dt.date, options: BuildOptions) -> tuple[dt.date, dt.date]:
    if entry["reducer"] == "latest":
        first = dt.date.fromisoformat(entry.get("available_from", "1970-01-01"))
        return first, max(end, first + dt.timedelta(days=1))
    if "antecedent_days" in entry:
        days = int(options.antecedent_days or entry["antecedent_days"])
        return end - dt.timedelta(days=days), end
    cadence = int(entry.get("cadence_days", 1) or 1)
    return start - dt.timedelta(days=max(cadence - 1, 0)), end


def _to_fine_grid(image: ee.Image, entry: dict[str, Any], options: BuildOptions, composite: bool) -> ee.Image:
    if not _needs_aggregation(entry, options):
        return image
    native = float(entry["native_resolution"])
    max_pixels = reduce_pixels(entry, options)
    if composite:
        # A composite has no projection of its own: have it computed at native resolution in the target CRS.
        image = image.setDefaultProjection(crs=options.fine_crs, scale=native)
    reducer = ee.Reducer.mode() if entry["kind"] == "categorical" else ee.Reducer.mean()
    res = float(options.fine_scale)
    return (image.reduceResolution(reducer=reducer, bestEffort=True, maxPixels=max_pixels)
            .reproject(crs=options.fine_crs, crsTransform=[res, 0, 0, 0, -res, 0]))


def build_factor(entry: dict[str, Any] | str, start: dt.date, end: dt.date, area: ee.Geometry | None = None,
                 options: BuildOptions | None = None) -> ee.Image:
    """One float band named after the entry, for the step ``[start, end)`` (``end`` exclusive).

    Parameters
    ----------
    entry
        A catalog entry or id.
    start, end
        The step (``end`` exclusive).
    area
        Limits the collections' search, or None.
    options
        Expression options (:class:`BuildOptions`).

    Returns
    -------
    ee.Image
        One float band.

    Raises
    ------
    InputError
        The step is empty, or the entry is unknown.
    """
    options = options or BuildOptions()
    if isinstance(entry, str):
        entry = load_catalog().get(entry, options.sources.get(entry))
    start = as_date(start, "start date")
    end = as_date(end, "end date")
    if end <= start:
        raise InputError(f"The time step {start.isoformat()}..{end.isoformat()} is empty; the end (exclusive) "
                         "must come after the start.")
    if entry["asset_type"] == "image":
        image = _image_fn(entry, entry["bands"], entry["mask"], options)(ee.Image(entry["collection"]))
        return _to_fine_grid(image, entry, options, composite=False)
    if entry["reducer"] == "static":
        coll = _filtered(entry, dt.date(1900, 1, 1), dt.date(2200, 1, 1), area, options)
        return _to_fine_grid(_reduce(coll, "static"), entry, options, composite=True)
    begin, stop = _window(entry, start, end, options)
    image = _reduce(_filtered(entry, begin, stop, area, options), entry["reducer"])
    if entry.get("gap_fill") and options.window_days > 0:
        w = dt.timedelta(days=options.window_days)
        wide = _reduce(_filtered(entry, begin - w, stop + w, area, options), entry["reducer"])
        image = ee.ImageCollection([wide, image]).mosaic()  # the step's own composite on top
    return _to_fine_grid(image, entry, options, composite=True)


def build_smap(product: str, layer: str, start: dt.date, end: dt.date, area: ee.Geometry | None = None) -> ee.Image:
    """SMAP soil moisture (m3/m3) for ``[start, end)``, one band named ``layer``, on SMAP's own pixels.

    Parameters
    ----------
    product, layer
        The SMAP product and layer.
    start, end
        The step (``end`` exclusive).
    area
        Limits the collection's search, or None.

    Returns
    -------
    ee.Image
        One float band named ``layer``.
    """
    entry = load_catalog().smap(product, layer)
    entry["id"] = layer
    return build_factor(entry, start, end, area, BuildOptions(window_days=0))


def build_stack(entries: Sequence[dict[str, Any] | str], start: dt.date, end: dt.date,
                area: ee.Geometry | None = None, options: BuildOptions | None = None) -> ee.Image:
    """The factors as one multiband float image, bands in the requested order.

    Parameters
    ----------
    entries
        Catalog entries or ids, in band order.
    start, end
        The step (``end`` exclusive).
    area
        Limits the collections' search, or None.
    options
        Expression options (:class:`BuildOptions`).

    Returns
    -------
    ee.Image
        One float band per factor.

    Raises
    ------
    InputError
        No factor is given.
    """
    if not entries:
        raise InputError("Choose at least one factor.")
    return ee.Image.cat([build_factor(e, start, end, area, options) for e in entries])
