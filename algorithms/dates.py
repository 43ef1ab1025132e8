"""Dates in file names, and pairing of files by date."""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import os
import re
from typing import Sequence

from .errors import InputError

_DATE_RE = re.compile(r"(?<!\d)(\d{4})[-_]?(\d{2})[-_]?(\d{2})(?!\d)")
# Dates as data providers name their files: year and day of year after 'A' or 'doy' (NASA's MODIS
# 'MOD11A1.A2023156...', AppEEARS' '..._doy2023156_...'), and dotted dates (CHIRPS 'chirps-v2.0.2023.06.05').
# Removed by strip_date together with the separator before them, so 'MOD11A1.A2023156.LST_Day_1km' gives the
# same factor name on every date.
_DOY_RE = re.compile(r"(?:(?<=[._-])|^)(?:A|doy)(\d{4})(\d{3})(?!\d)", re.IGNORECASE)
_DOTTED_RE = re.compile(r"(?<!\d)(\d{4})\.(\d{2})\.(\d{2})(?!\d)")
# A month (monthly products: 'NDVI_2023-06', 'chirps-v2.0.2023.06', 'smap_2023_06'), taken as its first day
# when the name holds no day: a year 19xx/20xx and a month joined by '-', '_' or '.', followed by neither a
# digit nor a letter ('2023_10km' is no month).
_MONTH_RE = re.compile(r"(?<!\d)((?:19|20)\d{2})[-_.](0[1-9]|1[0-2])(?![-_.]?\d)(?![A-Za-z])")


def _matches(name: str) -> list[tuple[int, int, dt.date, bool]]:
    """Every valid date in ``name``: (start, end, date, provider form) in order of position."""
    found = []
    for m in _DATE_RE.finditer(name):
        with contextlib.suppress(ValueError):
            found.append((m.start(), m.end(), dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))), False))
    for m in _DOTTED_RE.finditer(name):
        with contextlib.suppress(ValueError):
            found.append((m.start(), m.end(), dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))), True))
    for m in _DOY_RE.finditer(name):
        year, doy = int(m.group(1)), int(m.group(2))
        if 1 <= doy <= (366 if calendar.isleap(year) else 365) and year >= 1:
            found.append((m.start(), m.end(), dt.date(year, 1, 1) + dt.timedelta(days=doy - 1), True))
    if not found:
        found = [(m.start(), m.end(), dt.date(int(m.group(1)), int(m.group(2)), 1), True)
                 for m in _MONTH_RE.finditer(name)]
    return sorted(found, key=lambda f: f[0])


def date_from_name(path: str) -> dt.date | None:
    """The first valid date in a file name, or None.

    YYYYMMDD, YYYY-MM-DD, YYYY_MM_DD and YYYY.MM.DD; year and day of year after 'A' or 'doy' as NASA and
    AppEEARS name MODIS files (MOD11A1.A2023156..., ..._doy2023156_...); in a name without a day, a month
    (YYYY-MM, YYYY_MM, YYYY.MM: monthly products) stands for its first day.

    Parameters
    ----------
    path : str
        A file path or name (only the base name is read).

    Returns
    -------
    datetime.date or None
        The date, or None when the name carries no valid date.
    """
    found = _matches(os.path.basename(path))
    return found[0][2] if found else None


def strip_date(stem: str) -> str:
    """A file stem without its date and the separators around it ('ndvi_20230601' -> 'ndvi').

    A year and day of year or a dotted date goes with the separator before it
    ('MOD11A1.A2023156.LST_Day_1km' -> 'MOD11A1.LST_Day_1km', 'chirps-v2.0.2023.06.05' -> 'chirps-v2.0').

    Parameters
    ----------
    stem : str
        A file name without its extension.

    Returns
    -------
    str
        The stem without its date (every date-like match removed).
    """
    for start, end, _, _ in reversed([f for f in _matches(stem) if f[3]]):
        if start > 0 and stem[start - 1] in "._-":
            start -= 1
        stem = stem[:start] + stem[end:]
    return _DATE_RE.sub("", stem).strip("_- .")


def pair_by_date(left: Sequence[str], right: Sequence[str], left_label: str,
                 right_label: str) -> list[tuple[str, str, str]]:
    """Pair two file lists by the date in their names, or by order when no name carries a date.

    Returns (date label, left path, right path) sorted by date. A date present on one side only,
    a date repeated on one side, or lists of different length without dates are errors that name
    the problem. A single file on each side needs no matching: when only one of the two carries a
    date (e.g. a temporary output of a model), that date labels the pair.

    Parameters
    ----------
    left, right : Sequence[str]
        The two file lists.
    left_label, right_label : str
        What each list holds, for the messages (e.g. "soil moisture").

    Returns
    -------
    list of tuple of str
        (label, left path, right path) per pair, sorted by date: the label is the date as YYYY-MM-DD, or
        "#1", "#2", ... by position when no name carries a date.

    Raises
    ------
    InputError
        A list is empty, a date is on one side only or twice on one side, some names carry a date and others
        not, or undated lists differ in length.
    """
    if not left or not right:
        raise InputError(f"Give at least one {left_label if not left else right_label} raster.")
    ldates = [date_from_name(p) for p in left]
    rdates = [date_from_name(p) for p in right]
    if len(left) == 1 and len(right) == 1 and (ldates[0] is None) != (rdates[0] is None):
        only = ldates[0] or rdates[0]
        assert only is not None
        return [(only.isoformat(), left[0], right[0])]
    if all(d is None for d in ldates + rdates):
        if len(left) != len(right):
            raise InputError(f"{len(left)} {left_label} and {len(right)} {right_label} rasters were given and their "
                             "file names carry no date (YYYYMMDD or YYYY-MM-DD), so they cannot be paired; "
                             "give the same number of each in the same order, or put the date in the file names.")
        return [(f"#{i + 1}", a, b) for i, (a, b) in enumerate(zip(left, right))]
    for paths, dates, label, other in ((left, ldates, left_label, right_label),
                                       (right, rdates, right_label, left_label)):
        missing = [os.path.basename(p) for p, d in zip(paths, dates) if d is None]
        if missing and len(missing) == len(paths):  # the dates are all on the other side
            raise InputError(f"None of the {label} files has a date (YYYYMMDD or YYYY-MM-DD) in its name, while the "
                             f"{other} files do: {', '.join(missing)}. The files are paired by date: rename them so "
                             "every file carries its date.")
        if missing:
            raise InputError(f"These {label} files have no date (YYYYMMDD or YYYY-MM-DD) in their name while others "
                             f"do: {', '.join(missing)}. Rename them so every file carries its date.")
        seen: dict[dt.date, str] = {}
        for p, d in zip(paths, dates):
            if d in seen:
                raise InputError(f"Two {label} files carry the date {d.isoformat()}: "
                                 f"{os.path.basename(seen[d])} and {os.path.basename(p)}. Keep one per date.")
            seen[d] = p
    lmap = dict(zip(ldates, left))
    rmap = dict(zip(rdates, right))
    only_left = sorted(set(lmap) - set(rmap))
    only_right = sorted(set(rmap) - set(lmap))
    if only_left or only_right:
        parts = []
        if only_left:
            parts.append(f"{', '.join(d.isoformat() for d in only_left)} only among the {left_label} rasters")
        if only_right:
            parts.append(f"{', '.join(d.isoformat() for d in only_right)} only among the {right_label} rasters")
        raise InputError("Dates do not match between the inputs: " + "; ".join(parts)
                         + ". Give a raster for every date on both sides, or remove the unmatched ones.")
    return [(d.isoformat(), lmap[d], rmap[d]) for d in sorted(lmap)]


def calendar_steps(start: dt.date, end: dt.date, kind: str, days: int = 1) -> list[tuple[dt.date, dt.date, str]]:
    """``(start, end_exclusive, 'YYYYMMDD')`` steps covering ``start``..``end`` (both inclusive).

    ``kind``: 'daily'; '8day' / '16day', the MODIS composite calendar (periods from day of year 1, 9, 17, ...
    or 1, 17, 33, ..., restarting every 1 January, so a year's last period is shorter); 'monthly', calendar
    months; 'ndays', ``days`` days from ``start``. The first and last periods are clipped to the range; the
    label is the (clipped) step start. Callers check ``kind``, the order of the dates and ``days`` first.

    Parameters
    ----------
    start, end : datetime.date
        The first and last day covered (both inclusive).
    kind : str
        'daily', '8day', '16day', 'monthly' or 'ndays'.
    days : int
        The step length in days for 'ndays'.

    Returns
    -------
    list of tuple
        (first day, day after the last, label 'YYYYMMDD') per step, in date order.
    """
    stop = end + dt.timedelta(days=1)
    out: list[tuple[dt.date, dt.date, str]] = []
    day = start
    while day < stop:
        if kind == "daily":
            nxt = day + dt.timedelta(days=1)
        elif kind == "monthly":
            nxt = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
        elif kind == "ndays":
            nxt = day + dt.timedelta(days=days)
        else:
            length = 8 if kind == "8day" else 16
            doy = day.timetuple().tm_yday
            nxt = dt.date(day.year, 1, 1) + dt.timedelta(days=((doy - 1) // length) * length + length)
            nxt = min(nxt, dt.date(day.year + 1, 1, 1))
        nxt = min(nxt, stop)
        out.append((day, nxt, day.strftime("%Y%m%d")))
        day = nxt
    return out


def as_date(value: object, what: str) -> dt.date:
    """A date from a date, a datetime or 'YYYY-MM-DD' text; ``what`` names it in the error ("start date").

    Parameters
    ----------
    value : object
        A date, a datetime or ISO text.
    what : str
        What the date is, for the message.

    Returns
    -------
    datetime.date
        The date (a datetime's date part).

    Raises
    ------
    InputError
        ``value`` is not a date (the message names ``what``).
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise InputError(f"The {what} '{value}' is not a date; write it as YYYY-MM-DD.") from exc
