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
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from .errors import InputError
from .raster import srs_from_user, srs_from_wkt
from .units import is_fill

#: Plausible volumetric soil moisture (m3/m3).
SM_RANGE = (0.0, 1.0)

# Accepted column names (lower case, spaces/dashes folded to '_'), in order of preference.
# Chinese headers as station tables of Chinese agencies name them (区站号 station number, 经度 longitude, ...).
COLUMNS = {
    "station": ("station", "station_id", "stationid", "id", "site", "site_id", "name", "station_name",
                "区站号", "站号", "站点", "站名", "台站", "站点名称", "台站名称", "站点编号"),
    "x": ("lon", "lng", "long", "longitude", "x", "经度"),
    "y": ("lat", "latitude", "y", "纬度"),
    "date": ("date", "datetime", "date_time", "time", "timestamp", "day", "日期", "观测日期", "时间", "观测时间"),
    # (not 土壤相对湿度, relative soil moisture: percent of field capacity, not m3/m3)
    "value": ("value", "sm", "soil_moisture", "soilmoisture", "vsm", "vwc", "swc", "theta", "土壤湿度", "土壤水分",
              "土壤含水量", "体积含水量", "土壤体积含水量"),
    "crs": ("crs", "epsg", "srs"),
    # the sensor's depth (a table with several depths per station: ISMN exports, CMA's 10/20/40 cm layers)
    "depth": ("depth", "depth_from", "sensor_depth", "depth_cm", "depth_m", "深度", "土层深度", "观测深度"),
    # ISMN's quality flag (G good, D01-D10 dubious, C01-C03 out of range, M missing); not the provider's own flag
    "flag": ("flag", "flags", "ismn_flag", "quality_flag", "qc_flag", "soil_moisture_flag", "sm_flag"),
}
# Column names that may carry units after them, e.g. 'lat_deg', 'Longitude (deg)', '经度(°)', 'sm_m3m3'.
_PREFIXES = {
    "x": ("lon", "lng", "longitude", "经度"),
    "y": ("lat", "latitude", "纬度"),
    "value": ("sm", "soil_moisture", "vsm", "vwc", "swc", "土壤湿度", "土壤水分", "土壤含水量", "体积含水量",
              "土壤体积含水量"),
    "depth": ("depth", "深度", "土层深度", "观测深度"),
}
_UNIT_START = "_([（"
_LABELS = {"x": "longitude/x", "y": "latitude/y", "date": "date", "value": "soil moisture value",
           "station": "station id", "crs": "CRS", "depth": "depth", "flag": "quality flag"}
_MISSING = {"", "na", "nan", "null", "none", "-"}
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%d.%m.%Y", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M",
                 "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
                 # Chinese Excel's long date (2023年6月5日) and dotted dates (2023.6.5), with or without a time
                 "%Y年%m月%d日", "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日%H:%M", "%Y.%m.%d",
                 "%Y.%m.%d %H:%M:%S", "%Y.%m.%d %H:%M")
_PERCENT_IN_NAME = re.compile(r"%|percent|(?<![a-z])pct(?![a-z])|百分")
_FLOAT_RE = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_NONFINITE_RE = re.compile(r"^[-+]?(nan|inf|infinity)$", re.IGNORECASE)
_DATE_TOKEN = re.compile(r"^\d{4}[/-]\d{1,2}[/-]\d{1,2}$")
_TIME_TOKEN = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")
_ISMN_FLAG = re.compile(r"^(G|M|U|C0[1-3]|D(0[1-9]|10))(,(G|M|U|C0[1-3]|D(0[1-9]|10)))*$")
# ISMN file names: CSE_Network_Station_<variable>_<depth from>_<depth to>_..., e.g. '_sm_0.000000_0.050000_'
_VARIABLE_IN_NAME = re.compile(r"_([A-Za-z][A-Za-z0-9-]*)_-?\d+\.\d+_-?\d+\.\d+(_|\.stm$)", re.IGNORECASE)
_SM_NAMES = ("sm", "soil-moisture", "soil_moisture")

#: The ISMN download layouts this module reads, by the names ISMN's download page gives them.
HEADER_VALUES = "Header+values"
CEOP_SEP = "CEOP formatted"


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
    """WKT of a CRS given as EPSG:code, PROJ string or WKT.

    Parameters
    ----------
    text : str
        'EPSG:<code>', a PROJ string or WKT.

    Returns
    -------
    str
        The CRS as WKT.
    """
    return srs_from_user(text).ExportToWkt()


def parse_date(text: str) -> dt.date:
    """The day of an ISO-like date or date-time ('2023-06-01', '2023/06/01 06:00', '20230601', '2023年6月1日', ...).

    Parameters
    ----------
    text : str
        The date text; a time and a UTC offset, when present, are dropped.

    Returns
    -------
    datetime.date
        The day.

    Raises
    ------
    ValueError
        ``text`` is not a date.
    """
    s = text.strip()
    s = re.sub(r"\s*(UTC|GMT)$", "", s, flags=re.IGNORECASE)  # '2023-06-01 00:00:00 UTC'
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
    # units in the name, e.g. 'sm_m3m3', 'soil_moisture_(m3/m3)', 'lat_deg', '经度(°)'
    for prefix in _PREFIXES.get(key, ()):
        for i, n in enumerate(norm):
            if (len(n) > len(prefix) and n.startswith(prefix) and n[len(prefix)] in _UNIT_START
                    and "flag" not in n):  # 'sm_flag' is the flag of 'sm', not a value
                return i
    if key == "date":  # 'obs_date', 'date_utc', 'measurement_time', '观测日期(北京时)'
        for part in ("date", "time"):
            for i, n in enumerate(norm):
                if part in n.split("_"):
                    return i
        for part in ("日期", "时间"):
            for i, n in enumerate(norm):
                if part in n:
                    return i
    return None


_DEPTH_IN_NAME = re.compile(r"(\d+(?:\.\d+)?)_?(cm|mm|m)(?![a-z0-9])")


def _layer_columns(header: list[str]) -> list[tuple[float, int]]:
    """(depth in metres, index) of the soil moisture columns naming a depth ('土壤体积含水量_10cm', 'sm_0_5cm',
    'vwc (20 cm)'), shallowest first: one row per station and day holding each layer in its own column."""
    scale = {"cm": 0.01, "mm": 0.001, "m": 1.0}
    found = []
    for i, h in enumerate(header):
        n = _norm(h)
        if "flag" in n:
            continue
        named = any(n.startswith(p) for p in _PREFIXES["value"]) or any(c in n for c in COLUMNS["value"] if len(c) > 3)
        depth = _DEPTH_IN_NAME.search(n.replace("_(", "(").replace("(", "_").replace(")", ""))
        if named and depth:
            found.append((float(depth.group(1)) * scale[depth.group(2)], i))
    return sorted(found)


def _decode(raw: bytes) -> str:
    """A station table's text: UTF-16 with its BOM (Excel's "Unicode Text"); UTF-8 (with or without a BOM); else
    GB18030 (Chinese Excel saves GBK) when that makes a Chinese column name of the header readable; else Latin-1
    (every byte a character)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        text = ""
    header = next((ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
    chinese = {n for names in COLUMNS.values() for n in names if not n.isascii()}
    if any(n in header for n in chinese):
        return text
    return raw.decode("latin-1")


def _missing_code(value: float) -> bool:
    """A fill value (-9999, ...) or a table's missing-value code (999.9, 9999: CMA's and others' tables)."""
    return is_fill(value) or value >= 999.0


def _check_range(value: float, where: str) -> None:
    lo, hi = SM_RANGE
    if value < lo or value > hi:
        if _missing_code(value):
            hint = (" It is a fill value for missing data: leave the value empty (or NA) to skip the record, as for "
                    "a raster's nodata.")
        elif 1.0 < value <= 100.0:
            hint = " The values look like percent: divide them by 100."
        else:
            hint = " Remove the row or mark it as missing (leave the value empty)."
        raise InputError(f"{where}: soil moisture {value:g} is outside {lo:g}-{hi:g} m3/m3.{hint}")


def _check_percent(value: float, where: str) -> None:
    """A value of a column declaring percent, in the file's own unit (a 999.9 must not be called 9.999 m3/m3)."""
    if value < 0.0 or value > 100.0:
        fill = _missing_code(value)
        hint = (" It is a fill value for missing data: leave the value empty (or NA) to skip the record." if fill
                else " Remove the row or mark it as missing (leave the value empty).")
        raise InputError(f"{where}: soil moisture {value:g} % is outside 0-100 %.{hint}")


def is_geographic(wkt: str) -> bool:
    """True when the CRS ``wkt`` has longitude/latitude coordinates (degrees); False when it cannot be read.

    Parameters
    ----------
    wkt : str
        A CRS as WKT.

    Returns
    -------
    bool
        True for a geographic (degrees) CRS.
    """
    try:
        return bool(srs_from_wkt(wkt).IsGeographic())
    except RuntimeError:
        return False


class CoordinateError(InputError):
    """A station position that cannot be one (NaN/inf, latitude beyond 90, longitude beyond 180 in degrees)."""


def _degrees_minutes(v: float, limit: int) -> float | None:
    """Decimal degrees of a coordinate written as degrees and minutes together (11130: 111°30'), or None when ``v``
    cannot be one (a fraction of a minute kept: 11130.5)."""
    a = abs(v)
    if not math.isfinite(a):
        return None
    deg, minutes = divmod(a, 100.0)
    if minutes >= 60.0 or deg > limit or (deg == limit and minutes > 0):
        return None
    return math.copysign(deg + minutes / 60.0, v)


def _dm_text(v: float, spelled: bool = False) -> str:
    deg, minutes = divmod(abs(v), 100.0)
    sign = "-" if v < 0 else ""
    return f"{sign}{deg:.0f}°{minutes:g}'" if spelled else f"{v:g}"


def check_coordinates(x: float, y: float, where: str, geographic: bool = True) -> None:
    """Refuse a station position that cannot be one: NaN/inf in any CRS; |lat| > 90 or |lon| > 180 in degrees.

    ``x`` is the longitude and ``y`` the latitude when ``geographic``. Raises :class:`InputError` naming
    ``where`` (file and row), so such a station is never reported as lying outside the estimate.

    Parameters
    ----------
    x, y : float
        The station's coordinates.
    where : str
        The file and row (or feature), named in the error.
    geographic : bool
        Whether x and y are longitude and latitude in degrees.

    Raises
    ------
    CoordinateError
        A coordinate is not finite, or out of range in degrees (an :class:`InputError`).
    """
    if not (math.isfinite(x) and math.isfinite(y)):
        raise CoordinateError(f"{where}: invalid station coordinates ({x:g}, {y:g}): both must be finite numbers. "
                         "Give the station's position or remove the row.")
    if not geographic:
        return
    problems = []
    if abs(y) > 90.0:
        problems.append(f"latitude {y:g} is outside -90 to 90")
    if abs(x) > 180.0:
        problems.append(f"longitude {x:g} is outside -180 to 180")
    if problems:
        if abs(x) <= 90.0 < abs(y) <= 180.0:
            hint = " Longitude and latitude look swapped."
        elif (abs(x) > 180.0 and abs(y) > 90.0 and _degrees_minutes(x, 180) is not None
              and _degrees_minutes(y, 90) is not None):
            hint = (" They look like degrees and minutes written together (as China Meteorological Administration "
                    f"tables write them: {_dm_text(x)} for {_dm_text(x, True)}): convert them to decimal degrees, "
                    f"degrees + minutes / 60 (longitude {_degrees_minutes(x, 180):.4f}, latitude "
                    f"{_degrees_minutes(y, 90):.4f}).")
        elif abs(x) > 1000.0 and abs(y) > 1000.0:
            hint = (" They look like projected coordinates (metres), not degrees: give their CRS (in a CSV a column "
                    "named crs with the EPSG code, e.g. EPSG:32649 for UTM zone 49N; for a point layer, the layer's "
                    "CRS), or convert them to longitude and latitude.")
        else:
            hint = " Give the station's position in degrees or remove the row."
        raise CoordinateError(f"{where}: invalid station coordinates: {' and '.join(problems)} "
                         f"(longitude {x:g}, latitude {y:g}).{hint}")


def read_csv(path: str, value_col: str | None = None, station_col: str | None = None, x_col: str | None = None,
             y_col: str | None = None, date_col: str | None = None, crs: str | None = None,
             nodata: float | None = None, warn: Callable[[str], None] | None = None) -> list[Observation]:
    """Observations from a CSV table (comma, semicolon or tab separated).

    Columns are found case-insensitively (station/id/name, lon/longitude/x, lat/latitude/y,
    date/datetime/time, value/sm/soil_moisture, optional crs) unless named explicitly. Coordinates are
    in ``crs`` (or the table's CRS column; default EPSG:4326, x = longitude). Without a station
    column, a station is identified by its coordinates. Empty, 'NA' and ``nodata`` values are skipped;
    coordinates that are NaN/inf, or beyond +-90/180 in a geographic CRS, are errors naming the row.
    A value column whose name declares percent ('土壤体积含水量(%)', 'VWC (%)') is divided by 100. A flag
    column holding ISMN quality flags keeps only values flagged 'G' (good); with a depth column
    (several sensors per station), only each station's shallowest sensor is kept.

    Parameters
    ----------
    path : str
        The CSV file.
    value_col, station_col, x_col, y_col, date_col : str or None
        Column names (None: found by the usual names).
    crs : str or None
        The CRS of the coordinates (None: the table's CRS column, else EPSG:4326).
    nodata : float or None
        A value meaning "no measurement" (None: only empty and 'NA'-like cells are missing).
    warn : Callable[[str], None] or None
        Receives a message when deeper sensors are left out (None: no messages).

    Returns
    -------
    list of Observation
        One observation per kept row (values in m3/m3, dates as days), in file order.

    Raises
    ------
    InputError
        The file is missing or empty, lacks a needed column, or a row has an unreadable value, date, depth or
        coordinates, or no row has a value (or none flagged 'G' in an ISMN flag column), or a column declaring
        percent holds values in m3/m3.
    """
    if not os.path.isfile(path):
        raise InputError(f"Station file not found: {path}. Check the path.")
    with open(path, "rb") as fb:
        text = _decode(fb.read())
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise InputError(f"The station table {os.path.basename(path)} is empty; give a CSV with a header row "
                         "(station, lon, lat, date, value) and one row per observation.")
    declared = re.fullmatch(r'\s*"?sep=(.)"?\s*', lines[0], re.IGNORECASE)  # Excel's "sep=;" line
    if declared:
        lines = lines[1:]
        if not lines:
            raise InputError(f"The station table {os.path.basename(path)} holds only its 'sep=' line; give a CSV with "
                             "a header row (station, lon, lat, date, value) and one row per observation.")
    first = lines[0]
    delim = declared.group(1) if declared else max([",", ";", "\t"], key=first.count)
    if first.count(delim) == 0:
        delim = ","
    rows = list(csv.reader(lines, delimiter=delim))
    header = [h.strip() for h in rows[0]]
    cols = {"station": _find_column(header, "station", station_col),
            "x": _find_column(header, "x", x_col),
            "y": _find_column(header, "y", y_col),
            "date": _find_column(header, "date", date_col),
            "value": _find_column(header, "value", value_col),
            "crs": _find_column(header, "crs", None),
            "depth": _find_column(header, "depth", None),
            "flag": _find_column(header, "flag", None)}
    layers = _layer_columns(header) if value_col is None else []
    if len(layers) > 1:  # a column per depth: SMAP's surface soil moisture is compared with the shallowest layer
        cols["value"] = layers[0][1]
        if warn is not None:
            warn(f"{os.path.basename(path)}: soil moisture at several depths, one column each "
                 f"({', '.join(header[i] for _, i in layers)}); the shallowest, {header[layers[0][1]]}, is compared "
                 "with the estimate (to compare another, load the table as a point layer and choose that column as "
                 "the soil moisture field).")
    missing = [_LABELS[k] for k in ("x", "y", "date", "value") if cols[k] is None]
    if missing:
        raise InputError(f"The station table {os.path.basename(path)} has no {', '.join(missing)} column; "
                         f"found columns: {', '.join(header)}. Name them station, lon, lat, date and value "
                         "(or choose the columns explicitly).")
    default_wkt = crs_wkt(crs or "EPSG:4326")
    wkts: dict[str, str] = {}
    geographic: dict[str, bool] = {}
    out: list[Observation] = []
    depths: list[float] = []
    name = os.path.basename(path)
    flag_col = cols["flag"]
    ismn_flags = flag_col is not None and _holds_ismn_flags(row[flag_col] for row in rows[1:] if len(row) > flag_col)
    flags_seen: Counter = Counter()
    flagged = 0
    # a value column declaring percent ('土壤体积含水量(%)', 'VWC (%)', 'sm_percent'): values / 100, checked after
    percent = bool(_PERCENT_IN_NAME.search(header[cols["value"]].lower()))
    largest = -math.inf
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
        if ismn_flags:
            flagged += 1
            flags_seen.update(cell("flag").split(","))
            if cell("flag") != "G":
                continue
        if percent:
            _check_percent(value, where)
            largest = max(largest, value)
            value /= 100.0
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
        if wkt not in geographic:
            geographic[wkt] = is_geographic(wkt)
        check_coordinates(x, y, where, geographic[wkt])
        station = cell("station") if cols["station"] is not None else ""
        if not station:
            station = f"{x:.5f},{y:.5f}"
        if cols["depth"] is not None:
            try:
                depths.append(float(cell("depth").replace(",", ".") if delim != "," else cell("depth")))
            except ValueError:
                raise InputError(f"{where}: the sensor depth '{cell('depth')}' is not a number; give each "
                                 "value's depth.") from None
        out.append(Observation(station, x, y, wkt, day, value))
    if not out and flagged:
        raise _no_kept_values([name], flagged, flags_seen, {"G"})
    if not out:
        raise InputError(f"The station table {name} holds no soil moisture value "
                         "(every value is empty or missing).")
    if percent and largest <= 1.0:
        raise InputError(f"The column '{header[cols['value']]}' of {name} declares percent, but every value is at most "
                         f"{largest:g}: they look like m3/m3. Correct the column name (e.g. '土壤体积含水量(m3/m3)' or "
                         "'sm'), or give the values in percent.")
    if depths:
        out = _shallowest(out, depths, name, header[cols["depth"]], warn)
    return out


def _holds_ismn_flags(cells: Iterable[str]) -> bool:
    """Whether a flag column holds ISMN quality flags (every filled cell 'G', 'D06', 'C01,D07', 'M', ...)."""
    filled = [c.strip() for c in cells if c.strip()]
    return bool(filled) and all(_ISMN_FLAG.match(c) for c in filled)


def _shallowest(obs: list[Observation], depths: list[float], name: str, column: str,
                warn: Callable[[str], None] | None) -> list[Observation]:
    """Each station's values at its shallowest sensor depth: deeper layers are not compared with surface soil
    moisture (SMAP's top 5 cm), nor averaged into the same day with it."""
    top: dict[str, float] = {}
    for ob, d in zip(obs, depths):
        top[ob.station] = min(d, top.get(ob.station, d))
    kept = [ob for ob, d in zip(obs, depths) if d <= top[ob.station] + 1e-9]
    if len(kept) < len(obs) and warn is not None:
        found = ", ".join(f"{d:g}" for d in sorted(set(depths)))
        warn(f"{name}: soil moisture at several depths ({column}: {found}); each station's shallowest sensor is "
             f"compared with the estimate, {len(obs) - len(kept)} deeper value(s) left out.")
    return kept


def find_column(names: Sequence[str], key: str) -> str | None:
    """The name among ``names`` that is the ``key`` column ('station', 'x', 'y', 'date', 'value', 'crs').

    Parameters
    ----------
    names : Sequence[str]
        The table's column names.
    key : str
        'station', 'x', 'y', 'date', 'value' or 'crs'.

    Returns
    -------
    str or None
        The matching column name (case-insensitive), or None.
    """
    i = _find_column(list(names), key, None)
    return names[i] if i is not None else None


def from_records(records: Iterable[tuple[Any, float, float, Any, Any]], crs_wkt_text: str,
                 label: str = "The station layer") -> list[Observation]:
    """Observations from (station, x, y, date, value) records, e.g. the features of a point layer.

    ``date`` may be a date, a datetime or text; ``value`` a number or text. Records without a value are
    skipped; unreadable dates or values, values outside 0-1 m3/m3 and impossible coordinates (NaN/inf,
    or beyond +-90/180 degrees in a geographic CRS) are errors naming the record (1-based). A record
    without a station id is identified by its coordinates.

    Parameters
    ----------
    records : Iterable[tuple[Any, float, float, Any, Any]]
        (station id or None, x, y, date, value) per feature.
    crs_wkt_text : str
        The CRS of x and y, as WKT.
    label : str
        The source, named in errors.

    Returns
    -------
    list of Observation
        One observation per record with a value, in record order.

    Raises
    ------
    InputError
        A record has an unreadable value or date or no point geometry, or no record has a value.
    """
    out: list[Observation] = []
    geographic: bool | None = None
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
        if x is None or y is None or (math.isnan(x) and math.isnan(y)):
            raise InputError(f"{where} has no point geometry; give a point layer with valid geometries.")
        if geographic is None:
            geographic = is_geographic(crs_wkt_text)
        check_coordinates(float(x), float(y), where, geographic)
        sid = str(station).strip() if station not in (None, "") else f"{x:.5f},{y:.5f}"
        out.append(Observation(sid, float(x), float(y), crs_wkt_text, d, v))
    if not out:
        raise InputError(f"{label} holds no soil moisture value (every value is empty or missing).")
    return out


def _is_float(token: str) -> bool:
    return bool(_FLOAT_RE.match(token))


def _is_number(token: str) -> bool:
    """A decimal number, or 'nan'/'inf' (read so that impossible coordinates are named, not misread)."""
    return bool(_FLOAT_RE.match(token) or _NONFINITE_RE.match(token))


def _is_date_or_time(token: str) -> bool:
    return bool(_DATE_TOKEN.match(token) or _TIME_TOKEN.match(token))


class _LayoutError(InputError):
    """A file that is not in a layout this module reads (a folder skips it, a single file is refused)."""


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
    """The header line of an ISMN 'Header+values' file: CSE network station lat lon elev depth_from depth_to sensor.

    A header has at least 8 tokens and no date or time token (so a record is never taken for one);
    the station name may hold spaces or digits, the sensor (newer downloads) is optional. A header
    whose coordinates are impossible (NaN, |lat| > 90, |lon| > 180) is an error naming the file.

    Parameters
    ----------
    line : str
        The first line of the file.
    name : str
        The file name, for the error.

    Returns
    -------
    StmHeader
        Network, station, latitude, longitude, elevation, sensor depths (m) and sensor.

    Raises
    ------
    InputError
        The line is not the header of an ISMN 'Header+values' file.
    """
    tokens = line.split()
    if len(tokens) >= 8 and not any(_is_date_or_time(t) for t in tokens):
        starts = [i for i in range(3, len(tokens) - 4) if all(_is_number(t) for t in tokens[i:i + 5])]
        plausible = [i for i in starts if all(_is_float(t) for t in tokens[i:i + 5])
                     and abs(float(tokens[i])) <= 90.0 and abs(float(tokens[i + 1])) <= 180.0]
        for i in plausible or starts[:1]:
            lat, lon, elev, d0, d1 = (float(t) for t in tokens[i:i + 5])
            check_coordinates(lon, lat, f"{name or 'The file'}, line 1 (header)")
            return StmHeader(tokens[0], tokens[1], " ".join(tokens[2:i]), lat, lon, elev, d0, d1,
                             " ".join(tokens[i + 5:]).strip("'\""))
    raise _LayoutError(f"{name or 'The file'} is not an ISMN 'Header+values' .stm file: its first line should read "
                       "'CSE network station latitude longitude elevation depth_from depth_to sensor'. "
                       "Download the ISMN data in the 'Header+values' or 'CEOP formatted' layout.")


def _ceop_split(tokens: list[str]) -> int | None:
    """Index of the latitude in a CEOP record (after 2 dates and times, CSE, network, station), or None.

    The station name may hold spaces: the latitude starts the run of six numbers (latitude, longitude,
    elevation, depth from, depth to, value) that the ISMN quality flag follows.
    """
    if len(tokens) < 14 or not (_DATE_TOKEN.match(tokens[0]) and _TIME_TOKEN.match(tokens[1])
                                and _DATE_TOKEN.match(tokens[2]) and _TIME_TOKEN.match(tokens[3])):
        return None
    for i in range(7, len(tokens) - 6):
        if all(_is_number(t) for t in tokens[i:i + 6]) and not _is_number(tokens[i + 6]):
            return i
    return None


def _is_ceop_combined(tokens: list[str], i: int) -> bool:
    """The older 'CEOP' layout: soil temperature, flag, soil moisture, flag of every depth in one file."""
    return (len(tokens) == i + 9 and _is_number(tokens[i + 7]) and bool(_ISMN_FLAG.match(tokens[i + 6]))
            and bool(_ISMN_FLAG.match(tokens[i + 8])))


_CEOP_COMBINED = ("it is in ISMN's older 'CEOP' layout (soil temperature and soil moisture of every depth of a "
                  "station in one file), which is not read. Download the ISMN data as variables stored in "
                  "separate files, in the 'Header+values' or 'CEOP formatted' layout.")


def stm_layout(path: str) -> str:
    """The ISMN layout of a file, from its first line: :data:`HEADER_VALUES` or :data:`CEOP_SEP`.

    Raises an :class:`InputError` naming the file and what it holds instead (the older combined
    'CEOP' layout, a record where the header should be, or something else).

    Parameters
    ----------
    path : str
        An ISMN .stm file.

    Returns
    -------
    str
        :data:`HEADER_VALUES` or :data:`CEOP_SEP`.

    Raises
    ------
    InputError
        The file is empty, in the combined 'CEOP' layout, or starts with a record.
    """
    name = os.path.basename(path)
    with open(path, encoding="utf-8", errors="replace") as f:
        first = ""
        for first in f:
            if first.strip():
                break
    tokens = first.split()
    if not tokens:
        raise _LayoutError(f"{name} is empty; it is not an ISMN .stm file.")
    if len(tokens) >= 4 and _DATE_TOKEN.match(tokens[0]) and _TIME_TOKEN.match(tokens[1]):
        if _DATE_TOKEN.match(tokens[2]) and _TIME_TOKEN.match(tokens[3]):
            i = _ceop_split(tokens)
            if i is not None and _is_ceop_combined(tokens, i):
                raise _LayoutError(f"{name}: {_CEOP_COMBINED}")
            return CEOP_SEP
        raise _LayoutError(f"{name} starts with a record ('{first.strip()}'), not with the header line of an ISMN "
                           "'Header+values' file (CSE network station latitude longitude elevation depth_from "
                           "depth_to sensor); the file is incomplete. Download it again.")
    parse_stm_header(first, name)
    return HEADER_VALUES


@dataclass
class _FileStats:
    """What one file held: values within the depth range, and the ISMN flags seen on them."""

    in_depth: bool = False
    values: int = 0
    flags: Counter = field(default_factory=Counter)


def _read_header_values(path: str, f, keep: set, max_depth: float | None, wkt: str, out: list[Observation],
                        stats: _FileStats) -> None:
    name = os.path.basename(path)
    head = parse_stm_header(f.readline(), name)
    if max_depth is not None and head.depth_from > max_depth + 1e-9:
        return
    stats.in_depth = True
    station = f"{head.network}/{head.station}"
    for lineno, line in enumerate(f, start=2):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 4:
            raise InputError(f"{name}, line {lineno}: expected 'YYYY/MM/DD HH:MM value flag', "
                             f"got '{line.strip()}'.")
        stats.values += 1
        stats.flags.update(parts[3].split(","))
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


def _read_ceop_sep(path: str, f, keep: set, max_depth: float | None, wkt: str, out: list[Observation],
                   stats: _FileStats) -> None:
    """ISMN 'CEOP formatted' records: UTC nominal date time, UTC actual date time, CSE, network, station,
    latitude, longitude, elevation, depth from, depth to, value, ISMN flag, provider flag (optional).

    The day is the actual date (the nominal time is rounded to the half hour and may fall on the next day).
    """
    name = os.path.basename(path)
    for lineno, line in enumerate(f, start=1):
        tokens = line.split()
        if not tokens:
            continue
        where = f"{name}, line {lineno}"
        i = _ceop_split(tokens)
        if i is None:
            raise InputError(f"{where}: expected a 'CEOP formatted' record (UTC nominal date and time, UTC actual "
                             "date and time, CSE, network, station, latitude, longitude, elevation, depth from, "
                             f"depth to, value, ISMN flag, provider flag), got '{line.strip()}'.")
        if _is_ceop_combined(tokens, i):
            raise InputError(f"{where}: {_CEOP_COMBINED}")
        lat, lon, _elev, d0, _d1, value = (float(t) for t in tokens[i:i + 6])
        if max_depth is not None and d0 > max_depth + 1e-9:
            continue
        stats.in_depth = True
        check_coordinates(lon, lat, where)
        flag = tokens[i + 6]
        stats.values += 1
        stats.flags.update(flag.split(","))
        if flag not in keep:
            continue
        try:
            day = dt.datetime.strptime(tokens[2], "%Y/%m/%d").date()
        except ValueError:
            raise InputError(f"{where}: cannot read the actual date '{tokens[2]}' (YYYY/MM/DD).") from None
        if math.isnan(value):
            continue
        _check_range(value, where)
        out.append(Observation(f"{tokens[5]}/{' '.join(tokens[6:i])}", lon, lat, wkt, day, value))


def _listing(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _no_kept_values(names: list[str], values: int, flags: Counter, keep: set) -> InputError:
    what = names[0] if len(names) == 1 else f"the {len(names)} ISMN files ({_listing(names)})"
    if values == 0:
        held = f"The ISMN file {names[0]} holds" if len(names) == 1 else f"The {what[4:]} hold"
        return InputError(f"{held} no value, only the header; download the data again for a period the station "
                          "measured.")
    wanted = " or ".join(f"'{k}'" for k in sorted(keep))
    good = " (good)" if keep == {"G"} else ""
    found = ", ".join(sorted(flags))
    old = (" 'U' marks values of old downloads that ISMN had not checked yet: download the data again, current "
           "downloads flag every value." if "U" in flags else "")
    return InputError(f"None of the {values} values in {what} is flagged {wanted}{good}; flags found: {found}. "
                      "ISMN flags C01-C03 mark values outside the plausible range, D01-D10 dubious ones (frozen "
                      f"soil, spikes, jumps, plateaus) and M missing ones; only {wanted} values are compared.{old} "
                      "Choose stations and dates with good values.")


def read_ismn_stm(paths: Sequence[str] | str, max_depth: float | None = None,
                  flags: Iterable[str] = ("G",), warn: Callable[[str], None] | None = None) -> list[Observation]:
    """Observations from ISMN ``.stm`` files (UTC records), keeping only ``flags`` (good: 'G').

    Reads the 'Header+values' layout (header line, then date time value flag provider-flag; old and new
    downloads) and the 'CEOP formatted' layout (one record per line with station, coordinates and depth),
    told apart by their content. Values whose sensor starts deeper than ``max_depth`` metres are skipped
    (SMAP surface soil moisture is 0-5 cm). Stations are named 'network/station'. Sub-daily values keep
    their (actual) day; use :func:`daily_means`.

    With several files, a file in another layout is skipped and ``warn`` gets the file and why; a
    single file in another layout is an error. No value flagged ``flags`` at all is an error naming the
    flags found.

    Parameters
    ----------
    paths : Sequence[str] or str
        One .stm file or several.
    max_depth : float or None
        The deepest sensor start kept, in metres (None: every depth).
    flags : Iterable[str]
        The ISMN quality flags kept.
    warn : Callable[[str], None] or None
        Receives a message for each file skipped (None: no messages).

    Returns
    -------
    list of Observation
        The kept values in m3/m3, with their day (UTC), in file order.

    Raises
    ------
    InputError
        No file, a missing file, no readable file, every sensor deeper than ``max_depth``, or no value kept by
        ``flags``.
    """
    if isinstance(paths, str):
        paths = [paths]
    if not paths:
        raise InputError("No ISMN .stm file was given; choose one file or a folder of .stm files.")
    keep = set(flags)
    wkt = crs_wkt("EPSG:4326")
    out: list[Observation] = []
    read: list[str] = []
    skipped: list[str] = []
    used = 0
    values = 0
    found: Counter = Counter()
    for path in paths:
        name = os.path.basename(path)
        if not os.path.isfile(path):
            raise InputError(f"ISMN file not found: {path}. Check the path.")
        try:
            layout = stm_layout(path)
        except _LayoutError as exc:
            if len(paths) == 1:
                raise
            skipped.append(str(exc))
            continue
        except CoordinateError as exc:
            if len(paths) == 1:
                raise
            skipped.append(f"{name}: {exc}")
            continue
        stats = _FileStats()
        kept_before = len(out)
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                reader = _read_header_values if layout == HEADER_VALUES else _read_ceop_sep
                reader(path, f, keep, max_depth, wkt, out, stats)
        except CoordinateError as exc:
            if len(paths) == 1:
                raise
            del out[kept_before:]  # none of a file with an impossible position is used
            skipped.append(f"{name}: {exc}")
            continue
        if len(paths) > 1 and stats.values and len(out) == kept_before:
            flags = ", ".join(sorted(stats.flags)) or "none"
            skipped.append(f"{name}: none of its {stats.values} values is flagged {' or '.join(sorted(keep))} "
                           f"(flags found: {flags}).")
        read.append(name)
        used += stats.in_depth
        values += stats.values
        found.update(stats.flags)
    for note in skipped:
        if warn is not None:
            warn(f"ISMN file skipped: {note}")
    if not read:
        raise InputError(f"None of the {len(paths)} ISMN files could be read: " + " ".join(skipped))
    if used == 0:
        raise InputError(f"Every ISMN file given measures deeper than {max_depth:g} m; "
                         "give surface sensors (0-5 cm) or raise the maximum sensor depth.")
    if not out:
        raise _no_kept_values(read, values, found, keep)
    return out


def _scan_stm_folder(folder: str) -> tuple[list[str], list[str], int]:
    """(soil moisture files, notes on .stm files left out and why, number of other-variable files)."""
    if not os.path.isdir(folder):
        raise InputError(f"Folder not found: {folder}. Check the path.")
    found, notes, other = [], [], 0
    for root, _dirs, files in os.walk(folder):
        for fn in sorted(files):
            if not fn.lower().endswith(".stm"):
                continue
            path = os.path.join(root, fn)
            low = fn.lower()
            if "_sm_" in low or "soil-moisture" in low or "soil_moisture" in low:
                found.append(path)
                continue
            m = _VARIABLE_IN_NAME.search(fn)
            if m is not None and m.group(1).lower() not in _SM_NAMES:
                other += 1  # another variable (soil temperature, precipitation, ...): not for us
                continue
            try:
                stm_layout(path)
                notes.append(f"{fn}: its name carries no variable ('_sm_'), so it is not known to hold soil "
                             "moisture.")
            except _LayoutError as exc:
                notes.append(str(exc))
    return sorted(found), notes, other


def _folder_stm_files(folder: str) -> tuple[list[str], list[str]]:
    """(soil moisture files, notes on .stm files left out and why); an error when there is none."""
    found, notes, other = _scan_stm_folder(folder)
    if found:
        return found, notes
    if notes:
        raise InputError(f"No ISMN soil moisture file in {folder} can be read: " + " ".join(notes))
    if other == 0:
        raise InputError(f"No .stm file in {folder}; give a folder of ISMN 'Header+values' or 'CEOP formatted' "
                         "files or a CSV table.")
    raise InputError(f"None of the {other} .stm files in {folder} holds soil moisture (their names "
                     "carry no '_sm_'); download the soil moisture variable from ISMN.")


def find_stm_files(folder: str) -> list[str]:
    """Soil moisture ``.stm`` files under a folder (ISMN names carry '_sm_' or 'Soil-Moisture').

    Parameters
    ----------
    folder : str
        A folder, searched with its subfolders.

    Returns
    -------
    list of str
        The soil moisture .stm files found (none found is an InputError naming the folder).
    """
    return _folder_stm_files(folder)[0]


def read_stations(path: str, max_depth: float | None = None, warn: Callable[[str], None] | None = None,
                  **csv_options) -> list[Observation]:
    """A CSV table, one ISMN .stm file, or a folder of ISMN .stm files.

    For a folder, ``warn`` gets every .stm file left out and why (another layout, no variable in its name).

    Parameters
    ----------
    path : str
        A CSV file, an ISMN .stm file or a folder of .stm files.
    max_depth : float or None
        For ISMN files: the deepest sensor start kept, in metres (None: every depth).
    warn : Callable[[str], None] or None
        Receives a message for each ISMN file skipped, and for a table's deeper sensors left out.
    **csv_options
        For a CSV table: the keyword arguments of :func:`read_csv`.

    Returns
    -------
    list of Observation
        The observations (values in m3/m3).
    """
    if os.path.isdir(path):
        files, notes = _folder_stm_files(path)
        if warn is not None:
            for note in notes:
                warn(f"ISMN file skipped: {note}")
        return read_ismn_stm(files, max_depth=max_depth, warn=warn)
    if path.lower().endswith(".stm"):
        return read_ismn_stm([path], max_depth=max_depth, warn=warn)
    return read_csv(path, warn=warn, **csv_options)


#: Positions of one station id farther apart than this (metres) are two places, not one station's records.
SAME_PLACE_M = 100.0


def _distance_m(a: Observation, b: Observation, geographic: bool) -> float:
    if not geographic:
        return math.hypot(a.x - b.x, a.y - b.y)
    lat = math.radians(0.5 * (a.y + b.y))
    dlon = (a.x - b.x + 180.0) % 360.0 - 180.0
    return 111_195.0 * math.hypot(dlon * math.cos(lat), a.y - b.y)


def _place(ob: Observation, geographic: bool) -> str:
    if geographic:
        return f"longitude {ob.x:.5f}, latitude {ob.y:.5f}"
    return f"x {ob.x:.1f}, y {ob.y:.1f}"


def check_one_place_per_station(observations: Sequence[Observation]) -> None:
    """Refuse a station id given at two places (more than :data:`SAME_PLACE_M` apart).

    Parameters
    ----------
    observations : Sequence[Observation]
        The observations of every station.

    Raises
    ------
    InputError
        A station id has records at places more than :data:`SAME_PLACE_M` apart; the message names the id,
        both places and their distance.
    """
    first: dict[str, Observation] = {}
    geographic: dict[str, bool] = {}
    for ob in observations:
        seen = first.setdefault(ob.station, ob)
        if seen is ob or seen.crs_wkt != ob.crs_wkt:
            continue
        if ob.crs_wkt not in geographic:
            geographic[ob.crs_wkt] = is_geographic(ob.crs_wkt)
        geo = geographic[ob.crs_wkt]
        far = _distance_m(seen, ob, geo)
        if far > SAME_PLACE_M:
            raise InputError(f"Station '{ob.station}' is given at two places, {far / 1000.0:.1f} km apart: "
                             f"({_place(seen, geo)}) on {seen.date.isoformat()} and ({_place(ob, geo)}) on "
                             f"{ob.date.isoformat()}. One id must mean one place: give each station its own id, or "
                             "correct the coordinates.")


def daily_means(observations: Iterable[Observation]) -> list[Observation]:
    """One observation per station and day: the mean of its values (coordinates of the first record).

    Parameters
    ----------
    observations : Iterable[Observation]
        Observations, possibly several per station and day.

    Returns
    -------
    list of Observation
        One per station and day, sorted by day then station.

    Raises
    ------
    InputError
        One station id is given at places more than :data:`SAME_PLACE_M` apart (two stations sharing an id,
        or a mistyped coordinate): its values would be averaged and compared with one pixel.
    """
    observations = list(observations)
    check_one_place_per_station(observations)
    groups: dict[tuple[str, dt.date], list[Observation]] = {}
    for ob in observations:
        groups.setdefault((ob.station, ob.date), []).append(ob)
    out = []
    for (station, day), obs in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        first = obs[0]
        out.append(Observation(station, first.x, first.y, first.crs_wkt, day,
                               math.fsum(o.value for o in obs) / len(obs)))
    return out
