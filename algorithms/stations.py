"""In-situ soil moisture observations: CSV tables and ISMN ``.stm`` files, reduced to daily means.

Every reader returns a list of :class:`Observation` (one value, one station, one day). Sub-daily
records keep their day in ``date``; :func:`daily_means` averages them per station and day, which is
what a daily 1 km estimate is compared with. Values are volumetric soil moisture in m3/m3.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from .errors import InputError
from .raster import srs_from_user
from .units import is_fill

#: Plausible volumetric soil moisture (m3/m3).
SM_RANGE = (0.0, 1.0)

# Accepted column names (lower case, spaces/dashes folded to '_'), in order of preference.
COLUMNS = {
    "station": ("station", "station_id", "stationid", "id", "site", "site_id", "name", "station_name"),
    "x": ("lon", "lng", "long", "longitude", "x"),
    "y": ("lat", "latitude", "y"),
    "date": ("date", "datetime", "date_time", "time", "timestamp", "day"),
    "value": ("value", "sm", "soil_moisture", "soilmoisture", "vsm", "swc", "theta"),
    "crs": ("crs", "epsg", "srs"),
}
_LABELS = {"x": "longitude/x", "y": "latitude/y", "date": "date", "value": "soil moisture value",
           "station": "station id", "crs": "CRS"}
_MISSING = {"", "na", "nan", "null", "none", "-"}
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%d.%m.%Y", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M",
                 "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")
_FLOAT_RE = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


@dataclass(frozen=True)
class Observation:
    """One soil moisture value of one station: coordinates in ``crs_wkt``, value in m3/m3."""

    station: str
    x: float
    y: float
    crs_wkt: str
    date: dt.date
    value: float


def crs_wkt(text: str = "EPSG:4326") -> str:
    """WKT of a CRS given as EPSG:code, PROJ string or WKT."""
    return srs_from_user(text).ExportToWkt()


def parse_date(text: str) -> dt.date:
    """The day of an ISO-like date or date-time ('2023-06-01', '2023/06/01 06:00', '20230601', ...)."""
    s = text.strip()
    if s.endswith("Z"):
        s = s[:-1]
    s = re.sub(r"([+-]\d{2}:?\d{2})$", "", s) if "T" in s or " " in s else s
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    try:
        return dt.datetime.fromisoformat(s).date()
    except ValueError:
        raise ValueError(text) from None


def _norm(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower().lstrip("\ufeff"))


def _find_column(header: list[str], key: str, given: str | None) -> int | None:
    norm = [_norm(h) for h in header]
    if given:
        if _norm(given) in norm:
            return norm.index(_norm(given))
        raise InputError(f"The station table has no column '{given}' for the {_LABELS[key]}; "
                         f"its columns are: {', '.join(header)}.")
    for cand in COLUMNS[key]:
        if cand in norm:
            return norm.index(cand)
    # units in the name, e.g. 'sm_m3m3' or 'soil_moisture_(m3/m3)'
    if key == "value":
        for i, n in enumerate(norm):
            if re.match(r"^(sm|soil_moisture|vsm|swc)[_(\[]", n):
                return i
    if key == "date":  # 'obs_date', 'date_utc', 'measurement_time'
        for part in ("date", "time"):
            for i, n in enumerate(norm):
                if part in n.split("_"):
                    return i
    return None


def _check_range(value: float, where: str) -> None:
    lo, hi = SM_RANGE
    if value < lo or value > hi:
        if is_fill(value):
            hint = (" It is a fill value for missing data: leave the value empty (or NA) to skip the record, as for "
                    "a raster's nodata.")
        elif 1.0 < value <= 100.0:
            hint = " The values look like percent: divide them by 100."
        else:
            hint = " Remove the row or mark it as missing (leave the value empty)."
        raise InputError(f"{where}: soil moisture {value:g} is outside {lo:g}-{hi:g} m3/m3.{hint}")


def read_csv(path: str, value_col: str | None = None, station_col: str | None = None, x_col: str | None = None,
             y_col: str | None = None, date_col: str | None = None, crs: str | None = None,
             nodata: float | None = None) -> list[Observation]:
    """Observations from a CSV table (comma, semicolon or tab separated).

    Columns are found case-insensitively (station/id/name, lon/longitude/x, lat/latitude/y,
    date/datetime/time, value/sm/soil_moisture, optional crs) unless named explicitly. Coordinates are
    in ``crs`` (or the table's CRS column; default EPSG:4326, x = longitude). Without a station
    column, a station is identified by its coordinates. Empty, 'NA' and ``nodata`` values are skipped.
    """
    if not os.path.isfile(path):
        raise InputError(f"Station file not found: {path}. Check the path.")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            text = f.read()
    except UnicodeDecodeError:
        with open(path, newline="", encoding="latin-1") as f:
            text = f.read()
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise InputError(f"The station table {os.path.basename(path)} is empty; give a CSV with a header row "
                         "(station, lon, lat, date, value) and one row per observation.")
    first = lines[0]
    delim = max([",", ";", "\t"], key=first.count)
    if first.count(delim) == 0:
        delim = ","
    rows = list(csv.reader(lines, delimiter=delim))
    header = [h.strip() for h in rows[0]]
    cols = {"station": _find_column(header, "station", station_col),
            "x": _find_column(header, "x", x_col),
            "y": _find_column(header, "y", y_col),
            "date": _find_column(header, "date", date_col),
            "value": _find_column(header, "value", value_col),
            "crs": _find_column(header, "crs", None)}
    missing = [_LABELS[k] for k in ("x", "y", "date", "value") if cols[k] is None]
    if missing:
        raise InputError(f"The station table {os.path.basename(path)} has no {', '.join(missing)} column; "
                         f"found columns: {', '.join(header)}. Name them station, lon, lat, date and value "
                         "(or choose the columns explicitly).")
    default_wkt = crs_wkt(crs or "EPSG:4326")
    wkts: dict[str, str] = {}
    out: list[Observation] = []
    for lineno, row in enumerate(rows[1:], start=2):
        if len(row) < len(header):
            row = row + [""] * (len(header) - len(row))
        where = f"{os.path.basename(path)}, row {lineno}"

        def cell(key: str, row: list[str] = row) -> str:
            i = cols[key]
            return row[i].strip() if i is not None else ""

        raw = cell("value")
        if raw.lower() in _MISSING:
            continue
        try:
            value = float(raw.replace(",", ".") if delim != "," else raw)
        except ValueError:
            raise InputError(f"{where}: the soil moisture value '{raw}' is not a number; "
                             "fix it or leave it empty to skip the row.") from None
        if math.isnan(value) or (nodata is not None and value == nodata):
            continue
        _check_range(value, where)
        try:
            day = parse_date(cell("date"))
        except ValueError:
            raise InputError(f"{where}: cannot read the date '{cell('date')}'; write dates as YYYY-MM-DD "
                             "(optionally followed by a time, e.g. 2023-06-01 06:00).") from None
        try:
            x = float(cell("x").replace(",", ".") if delim != "," else cell("x"))
            y = float(cell("y").replace(",", ".") if delim != "," else cell("y"))
        except ValueError:
            raise InputError(f"{where}: the coordinates '{cell('x')}', '{cell('y')}' are not numbers.") from None
        wkt = default_wkt
        if cols["crs"] is not None and cell("crs"):
            code = cell("crs")
            code = f"EPSG:{code}" if code.isdigit() else code
            if code not in wkts:
                wkts[code] = crs_wkt(code)
            wkt = wkts[code]
        station = cell("station") if cols["station"] is not None else ""
        if not station:
            station = f"{x:.5f},{y:.5f}"
        out.append(Observation(station, x, y, wkt, day, value))
    if not out:
        raise InputError(f"The station table {os.path.basename(path)} holds no soil moisture value "
                         "(every value is empty or missing).")
    return out


def find_column(names: Sequence[str], key: str) -> str | None:
    """The name among ``names`` that is the ``key`` column ('station', 'x', 'y', 'date', 'value', 'crs')."""
    i = _find_column(list(names), key, None)
    return names[i] if i is not None else None


def from_records(records: Iterable[tuple[Any, float, float, Any, Any]], crs_wkt_text: str,
                 label: str = "The station layer") -> list[Observation]:
    """Observations from (station, x, y, date, value) records, e.g. the features of a point layer.

    ``date`` may be a date, a datetime or text; ``value`` a number or text. Records without a value are
    skipped; unreadable dates or values and values outside 0-1 m3/m3 are errors naming the record
    (1-based). A record without a station id is identified by its coordinates.
    """
    out: list[Observation] = []
    for k, (station, x, y, day, value) in enumerate(records, start=1):
        where = f"{label}, feature {k}"
        if value is None or (isinstance(value, str) and value.strip().lower() in _MISSING):
            continue
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise InputError(f"{where}: the soil moisture value '{value}' is not a number.") from None
        if math.isnan(v):
            continue
        _check_range(v, where)
        if isinstance(day, dt.datetime):
            d = day.date()
        elif isinstance(day, dt.date):
            d = day
        else:
            try:
                d = parse_date(str(day if day is not None else ""))
            except ValueError:
                raise InputError(f"{where}: cannot read the date '{day}'; use a date field or text "
                                 "as YYYY-MM-DD.") from None
        if x is None or y is None or not (math.isfinite(x) and math.isfinite(y)):
            raise InputError(f"{where} has no point geometry; give a point layer with valid geometries.")
        sid = str(station).strip() if station not in (None, "") else f"{x:.5f},{y:.5f}"
        out.append(Observation(sid, float(x), float(y), crs_wkt_text, d, v))
    if not out:
        raise InputError(f"{label} holds no soil moisture value (every value is empty or missing).")
    return out


def _is_float(token: str) -> bool:
    return bool(_FLOAT_RE.match(token))


@dataclass(frozen=True)
class StmHeader:
    cse: str
    network: str
    station: str
    lat: float
    lon: float
    elevation: float
    depth_from: float
    depth_to: float
    sensor: str


def parse_stm_header(line: str, name: str = "") -> StmHeader:
    """The header line of an ISMN 'Header+values' file: CSE network station lat lon elev depth_from depth_to sensor."""
    tokens = line.split()
    for i in range(3, len(tokens) - 4):
        if all(_is_float(t) for t in tokens[i:i + 5]):
            lat, lon, elev, d0, d1 = (float(t) for t in tokens[i:i + 5])
            return StmHeader(tokens[0], tokens[1], " ".join(tokens[2:i]), lat, lon, elev, d0, d1,
                             " ".join(tokens[i + 5:]).strip("'\""))
    raise InputError(f"{name or 'The file'} is not an ISMN 'Header+values' .stm file: its first line should read "
                     "'CSE network station latitude longitude elevation depth_from depth_to sensor'. "
                     "Download the ISMN data in the 'Header+values' format.")


def read_ismn_stm(paths: Sequence[str] | str, max_depth: float | None = None,
                  flags: Iterable[str] = ("G",)) -> list[Observation]:
    """Observations from ISMN 'Header+values' ``.stm`` files (UTC records), keeping only ``flags`` (good: 'G').

    Files whose sensor starts deeper than ``max_depth`` metres are skipped (SMAP surface soil
    moisture is 0-5 cm). Stations are named 'network/station'. Sub-daily values keep their day;
    use :func:`daily_means`.
    """
    if isinstance(paths, str):
        paths = [paths]
    if not paths:
        raise InputError("No ISMN .stm file was given; choose one file or a folder of .stm files.")
    keep = set(flags)
    wkt = crs_wkt("EPSG:4326")
    out: list[Observation] = []
    used = 0
    for path in paths:
        name = os.path.basename(path)
        if not os.path.isfile(path):
            raise InputError(f"ISMN file not found: {path}. Check the path.")
        with open(path, encoding="utf-8", errors="replace") as f:
            header_line = f.readline()
            head = parse_stm_header(header_line, name)
            if max_depth is not None and head.depth_from > max_depth + 1e-9:
                continue
            used += 1
            station = f"{head.network}/{head.station}"
            for lineno, line in enumerate(f, start=2):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) < 4:
                    raise InputError(f"{name}, line {lineno}: expected 'YYYY/MM/DD HH:MM value flag', "
                                     f"got '{line.strip()}'.")
                if parts[3] not in keep:
                    continue
                try:
                    day = dt.datetime.strptime(parts[0], "%Y/%m/%d").date()
                    value = float(parts[2])
                except ValueError:
                    raise InputError(f"{name}, line {lineno}: cannot read '{line.strip()}' as "
                                     "'YYYY/MM/DD HH:MM value flag'.") from None
                if math.isnan(value):
                    continue
                _check_range(value, f"{name}, line {lineno}")
                out.append(Observation(station, head.lon, head.lat, wkt, day, value))
    if used == 0:
        raise InputError(f"Every ISMN file given measures deeper than {max_depth:g} m; "
                         "give surface sensors (0-5 cm) or raise the maximum sensor depth.")
    return out


def find_stm_files(folder: str) -> list[str]:
    """Soil moisture ``.stm`` files under a folder (ISMN names carry '_sm_' or 'Soil-Moisture')."""
    if not os.path.isdir(folder):
        raise InputError(f"Folder not found: {folder}. Check the path.")
    found, other = [], []
    for root, _dirs, files in os.walk(folder):
        for fn in sorted(files):
            if not fn.lower().endswith(".stm"):
                continue
            low = fn.lower()
            (found if ("_sm_" in low or "soil-moisture" in low or "soil_moisture" in low) else other).append(
                os.path.join(root, fn))
    if not found and len(other) == 0:
        raise InputError(f"No .stm file in {folder}; give a folder of ISMN 'Header+values' files or a CSV table.")
    if not found:
        raise InputError(f"None of the {len(other)} .stm files in {folder} holds soil moisture (their names "
                         "carry no '_sm_'); download the soil moisture variable from ISMN.")
    return sorted(found)


def read_stations(path: str, max_depth: float | None = None, **csv_options) -> list[Observation]:
    """A CSV table, one ISMN .stm file, or a folder of ISMN .stm files."""
    if os.path.isdir(path):
        return read_ismn_stm(find_stm_files(path), max_depth=max_depth)
    if path.lower().endswith(".stm"):
        return read_ismn_stm([path], max_depth=max_depth)
    return read_csv(path, **csv_options)


def daily_means(observations: Iterable[Observation]) -> list[Observation]:
    """One observation per station and day: the mean of its values (coordinates of the first record)."""
    groups: dict[tuple[str, dt.date], list[Observation]] = {}
    for ob in observations:
        groups.setdefault((ob.station, ob.date), []).append(ob)
    out = []
    for (station, day), obs in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        first = obs[0]
        out.append(Observation(station, first.x, first.y, first.crs_wkt, day,
                               math.fsum(o.value for o in obs) / len(obs)))
    return out
