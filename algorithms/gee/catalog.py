"""The Earth Engine data catalog, kept as data in ``catalog.json``.

One entry per product or factor. The entry id is the band name written to the output files. Each
entry names its collection (or image) id, the bands it reads, the per-band ``scale``/``offset``
that turn stored numbers into physical units, the quality ``mask`` rules, the band ``math`` that
makes one band out of the selected ones, the temporal ``reducer``, unit, kind (continuous or
categorical), native resolution and dataset version, an optional ``min_value`` (physical values below it,
ERA5-Land's occasional negative precipitation, are raised to it) and optional ``latitudes`` ([south, north]: the
dataset covers only that band, e.g. SRTM 56 S to 60 N). ``alternatives`` hold overrides for another
source of the same factor (MODIS Aqua instead of Terra, NASADEM instead of SRTM, CHIRPS instead of
ERA5-Land, ESA WorldCover instead of MCD12Q1). :mod:`expressions` turns entries into Earth
Engine expressions; nothing here talks to a server.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import os
from typing import Any, Iterable

from ..errors import InputError

CATALOG_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "catalog.json")

REQUIRED_KEYS = ("id", "role", "title", "collection", "asset_type", "bands", "math", "scale", "offset", "mask",
                 "unit", "kind", "reducer", "native_resolution", "version", "notes")
ROLES = ("smap", "factor")
KINDS = ("continuous", "categorical")
ASSET_TYPES = ("image", "image_collection")
#: mean/median/sum over the step; first = earliest valid image; latest = most recent image starting
#: before the step end (yearly products); static = one image, dates ignored.
REDUCERS = ("mean", "median", "sum", "first", "latest", "static")
MATH_OPS = {"band": 1, "normalized_difference": 2, "difference": 2, "linear": None, "terrain": 1}
#: fill: the band's fill values (e.g. SMAP's -9999) are masked, each compared exactly.
MASK_TYPES = ("bits_zero", "equals", "range", "fill")
FILTER_TYPES = ("eq", "list_contains")
SMAP_PRODUCTS = {"L4": "L4", "L3E": "L3E", "L3": "L3E", "L3 ENHANCED": "L3E", "L3_E": "L3E"}

#: Factors selected when the user picks none (the reference study's predictors that Earth Engine serves).
DEFAULT_FACTORS = ("ndvi", "lst_day", "lst_night", "elevation", "slope", "vv", "vh", "precipitation", "landcover")


class Catalog:
    """The loaded catalog: entries by id, in file order."""

    def __init__(self, data: dict[str, Any], path: str = CATALOG_PATH) -> None:
        self.path = path
        self.version = int(data.get("version", 0))
        self.entries: list[dict[str, Any]] = list(data.get("entries", []))
        self._by_id = {e["id"]: e for e in self.entries if isinstance(e, dict) and "id" in e}

    # -- look-ups -------------------------------------------------------------------------------
    def ids(self, role: str | None = None) -> list[str]:
        """The entry ids, of one ``role`` ('factor', 'smap') or all.

        Parameters
        ----------
        role : str or None
            'factor' or 'smap' (None: every entry).

        Returns
        -------
        list of str
            The ids, in catalog order.
        """
        return [e["id"] for e in self.entries if role is None or e.get("role") == role]

    def factor_ids(self) -> list[str]:
        """The ids of the factor entries.

        Returns
        -------
        list of str
            The ids, in catalog order.
        """
        return self.ids("factor")

    def get(self, entry_id: str, source: str | None = None) -> dict[str, Any]:
        """The entry ``entry_id`` (with the overrides of ``source`` applied); unknown ids name the known ones.

        Parameters
        ----------
        entry_id : str
            The entry's id.
        source : str or None
            An alternative source of the entry (None or 'default': the entry as it is).

        Returns
        -------
        dict[str, Any]
            A copy of the entry.

        Raises
        ------
        InputError
            The id is unknown, or the source is not one of the entry's.
        """
        entry = self._by_id.get(entry_id)
        if entry is None:
            raise InputError(f"Unknown factor '{entry_id}'. Known factors: {', '.join(self.factor_ids())}.")
        return with_source(entry, source)

    def factors(self, names: Iterable[str], sources: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Factor entries in the requested order; unknown or repeated names are errors that list the known ones.

        Parameters
        ----------
        names : Iterable[str]
            Factor ids (surrounding blanks ignored).
        sources : dict[str, str] or None
            Factor id -> alternative source (None: every default).

        Returns
        -------
        list of dict[str, Any]
            Copies of the entries, in the order of ``names``.

        Raises
        ------
        InputError
            No factor, an unknown one, or one chosen twice.
        """
        names = [str(n).strip() for n in names]
        if not names:
            raise InputError("Choose at least one factor. Known factors: " + ", ".join(self.factor_ids()) + ".")
        unknown = [n for n in names if n not in self._by_id or self._by_id[n].get("role") != "factor"]
        if unknown:
            raise InputError(f"Unknown factor{'s' if len(unknown) > 1 else ''} {', '.join(repr(u) for u in unknown)}. "
                             f"Known factors: {', '.join(self.factor_ids())}.")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InputError(f"Factor{'s' if len(dupes) > 1 else ''} {', '.join(dupes)} chosen more than once; "
                             "choose each factor once.")
        sources = sources or {}
        return [self.get(n, sources.get(n)) for n in names]

    def smap(self, product: str = "L4", layer: str = "sm_surface") -> dict[str, Any]:
        """The SMAP entry for a product ('L4' or 'L3E' / 'L3 enhanced') and layer ('sm_surface', 'sm_rootzone').

        Parameters
        ----------
        product : str
            'L4' or 'L3E' (also 'L3 enhanced'), any case.
        layer : str
            'sm_surface' or 'sm_rootzone'.

        Returns
        -------
        dict[str, Any]
            A copy of the entry.

        Raises
        ------
        InputError
            An unknown product, or a layer the product does not have.
        """
        key = SMAP_PRODUCTS.get(str(product).strip().upper())
        if key is None:
            raise InputError(f"Unknown SMAP product '{product}'; choose L4 or L3E (L3 enhanced).")
        matches = [e for e in self.entries if e.get("role") == "smap" and e.get("product") == key]
        for e in matches:
            if e.get("layer") == layer:
                return copy.deepcopy(e)
        layers = sorted({str(e.get("layer")) for e in matches})
        raise InputError(f"SMAP {key} has no layer '{layer}'; choose one of: {', '.join(layers)}."
                         + (" Root-zone soil moisture comes only from SMAP L4." if layer == "sm_rootzone" else ""))


def with_source(entry: dict[str, Any], source: str | None) -> dict[str, Any]:
    """A copy of ``entry`` with the overrides of alternative ``source`` applied (None or 'default': as is).

    Parameters
    ----------
    entry : dict[str, Any]
        A catalog entry.
    source : str or None
        One of its alternative sources, or None / 'default'.

    Returns
    -------
    dict[str, Any]
        The changed copy (the entry itself is not modified).

    Raises
    ------
    InputError
        The entry has no such source.
    """
    out = copy.deepcopy(entry)
    if source in (None, "", "default"):
        return out
    alts = entry.get("alternatives", {})
    if source not in alts:
        names = ", ".join(["default", *alts]) if alts else "default"
        raise InputError(f"Factor '{entry['id']}' has no source '{source}'; choose one of: {names}.")
    override = alts[source]
    out.update(copy.deepcopy(override))
    if "collection" in override and "collections" not in override:
        out.pop("collections", None)  # a replaced collection drops the default's version list
    out["source"] = source
    return out


def collections_for(entry: dict[str, Any]) -> list[dict[str, str]]:
    """The collections an entry reads, each ``{"id", optional "from", optional "until"}`` (ISO dates).

    Parameters
    ----------
    entry : dict[str, Any]
        A catalog entry.

    Returns
    -------
    list of dict[str, str]
        Its collections ("from" inclusive, "until" exclusive), in catalog order.
    """
    cols = entry.get("collections")
    if cols:
        return [dict(c) for c in cols]
    return [{"id": entry["collection"]}]


def check_record(entry: dict[str, Any], start: dt.date) -> None:
    """Refuse a date range that starts before a SMAP product's record on Earth Engine (``available_from``).

    Earth Engine holds no SMAP image before the record starts (2015-03-31 for L4 and L3 enhanced): steps before it
    would be requested, and written, empty.

    Parameters
    ----------
    entry : dict[str, Any]
        The SMAP catalog entry (an entry without ``available_from`` is not checked).
    start : datetime.date
        The first day of the request.

    Raises
    ------
    InputError
        ``start`` is before the first day of the product's record.
    """
    first = entry.get("available_from")
    if entry.get("role") != "smap" or not first or start >= dt.date.fromisoformat(first):
        return
    oldest = collections_for(entry)[0]["id"]  # the version whose record starts first
    raise InputError(f"SMAP {entry.get('product', '')} ({oldest}) starts on {first}: Earth Engine has no "
                     f"SMAP data for {start.isoformat()}. Choose a start date on or after {first}.")


def validate_entry(entry: Any) -> list[str]:
    """Problems with one entry (empty list when it is valid).

    Parameters
    ----------
    entry : Any
        A catalog entry as read from JSON.

    Returns
    -------
    list of str
        One text per problem, starting with the entry's id.
    """
    if not isinstance(entry, dict):
        return ["entry is not an object"]
    name = entry.get("id", "<no id>")
    problems = [f"{name}: missing key '{k}'" for k in REQUIRED_KEYS if k not in entry]
    if problems:
        return problems

    def bad(msg: str) -> None:
        problems.append(f"{name}: {msg}")

    if entry["role"] not in ROLES:
        bad(f"role '{entry['role']}' not in {ROLES}")
    if entry["kind"] not in KINDS:
        bad(f"kind '{entry['kind']}' not in {KINDS}")
    if entry["asset_type"] not in ASSET_TYPES:
        bad(f"asset_type '{entry['asset_type']}' not in {ASSET_TYPES}")
    if entry["reducer"] not in REDUCERS:
        bad(f"reducer '{entry['reducer']}' not in {REDUCERS}")
    if entry["asset_type"] == "image" and entry["reducer"] != "static":
        bad("an image asset must use the 'static' reducer")
    if not isinstance(entry["collection"], str) or not entry["collection"]:
        bad("collection must be a non-empty string")
    bands = entry["bands"]
    if not isinstance(bands, list) or not bands or not all(isinstance(b, str) and b for b in bands):
        bad("bands must be a non-empty list of band names")
        bands = []
    for key in ("scale", "offset", "native_resolution"):
        if not isinstance(entry[key], (int, float)) or isinstance(entry[key], bool):
            bad(f"{key} must be a number")
    floor = entry.get("min_value", 0.0)
    if not isinstance(floor, (int, float)) or isinstance(floor, bool):
        bad("min_value must be a number")
    if isinstance(entry["native_resolution"], (int, float)) and entry["native_resolution"] <= 0:
        bad("native_resolution must be positive")
    if not isinstance(entry["unit"], str) or not entry["unit"]:
        bad("unit must be a non-empty string")
    math = entry["math"]
    op = math.get("op") if isinstance(math, dict) else None
    if op not in MATH_OPS:
        bad(f"math op '{op}' not in {tuple(MATH_OPS)}")
    else:
        nbands = MATH_OPS[op]
        per_pass = [p.get("bands", []) for p in entry.get("passes", [])] or [bands]
        for pb in per_pass:
            if nbands is not None and len(pb) != nbands:
                bad(f"math op '{op}' takes {nbands} band(s), got {len(pb)}")
        if op == "linear":
            weights = math.get("weights")
            if not isinstance(weights, list) or len(weights) != len(bands):
                bad("linear math needs one weight per band")
        if op == "terrain" and math.get("product") not in ("slope", "aspect"):
            bad("terrain math product must be 'slope' or 'aspect'")
    rules = list(entry["mask"]) + [r for p in entry.get("passes", []) for r in p.get("mask", [])]
    for rule in rules:
        if not isinstance(rule, dict) or rule.get("type") not in MASK_TYPES or not rule.get("band"):
            bad(f"mask rule {rule!r} is not one of {MASK_TYPES} with a band")
            continue
        if rule["type"] == "bits_zero" and not (isinstance(rule.get("bits"), list) and rule["bits"]
                                                and all(isinstance(b, int) and 0 <= b < 32 for b in rule["bits"])):
            bad(f"bits_zero rule on {rule['band']} needs a list of bit numbers 0-31")
        if rule["type"] == "equals" and not isinstance(rule.get("value"), (int, float)):
            bad(f"equals rule on {rule['band']} needs a numeric value")
        if rule["type"] == "fill" and not (isinstance(rule.get("values"), list) and rule["values"]
                                           and all(isinstance(v, (int, float)) for v in rule["values"])):
            bad(f"fill rule on {rule['band']} needs a list of numeric fill values")
        if rule["type"] == "range" and "min" not in rule and "max" not in rule:
            bad(f"range rule on {rule['band']} needs min and/or max")
    for flt in entry.get("filters", []):
        if not isinstance(flt, dict) or flt.get("type") not in FILTER_TYPES or not flt.get("property"):
            bad(f"filter {flt!r} is not one of {FILTER_TYPES} with a property")
        elif "value" not in flt and "option" not in flt:
            bad(f"filter on {flt['property']} needs a value or an option")
    for col in collections_for(entry):
        if not col.get("id"):
            bad("a collection has no id")
    band = entry.get("latitudes")
    if band is not None and not (isinstance(band, list) and len(band) == 2
                                 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in band)
                                 and -90.0 <= band[0] < band[1] <= 90.0):
        bad(f"latitudes {band!r} must be [south, north] in degrees, south < north")
    if "available_from" in entry:
        try:
            dt.date.fromisoformat(str(entry["available_from"]))
        except ValueError:
            bad(f"available_from '{entry['available_from']}' is not an ISO date (YYYY-MM-DD)")
    if entry["role"] == "smap" and (not entry.get("product") or not entry.get("layer")):
        bad("a SMAP entry needs product and layer")
    if entry["kind"] == "categorical" and entry["reducer"] in ("mean", "median", "sum"):
        bad("a categorical entry cannot be averaged or summed over time; use first, latest or static")
    return problems


def validate(data: dict[str, Any]) -> list[str]:
    """Problems with a whole catalog document, including every alternative source of every entry.

    Parameters
    ----------
    data : dict[str, Any]
        The catalog document as read from JSON.

    Returns
    -------
    list of str
        One text per problem (empty when the catalog is valid).
    """
    problems: list[str] = []
    entries = data.get("entries")
    if not isinstance(entries, list) or not entries:
        return ["catalog has no entries"]
    seen: set[str] = set()
    for e in entries:
        problems += validate_entry(e)
        if isinstance(e, dict) and "id" in e:
            if e["id"] in seen:
                problems.append(f"{e['id']}: id is not unique")
            seen.add(e["id"])
            for alt in (e.get("alternatives") or {}):
                problems += [f"{p} (source {alt})" for p in validate_entry(with_source(e, alt))]
    return problems


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> Catalog:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise InputError(f"The Earth Engine catalog {path} cannot be read ({exc}); reinstall the plugin.") from exc
    problems = validate(data)
    if problems:
        raise InputError(f"The Earth Engine catalog {path} is invalid: " + "; ".join(problems[:5])
                         + ". Reinstall the plugin.")
    return Catalog(data, path)


def load_catalog(path: str = CATALOG_PATH) -> Catalog:
    """Load and validate the catalog (cached until the file changes).

    Parameters
    ----------
    path : str
        The catalog JSON file.

    Returns
    -------
    Catalog
        The validated catalog.

    Raises
    ------
    InputError
        The catalog file is missing, or fails its validation.
    """
    try:
        mtime = os.path.getmtime(path)
    except OSError as exc:
        raise InputError(f"The Earth Engine catalog {path} is missing; reinstall the plugin.") from exc
    return _load(path, mtime)

