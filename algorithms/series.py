"""Time series: downscale and validate a set of dates in one run.

Inputs are file lists paired by the date in their names (:func:`dates.pair_by_date`), a manifest
written by 'Fetch data from Earth Engine' (:func:`manifest.manifest_inputs`), or a folder holding
``factors_<date>.tif`` and ``smap_<date>.tif`` (directly or in ``factors/`` and ``smap/`` subfolders,
as the fetch writes them). Every date goes through the single-date engine (:func:`downscale.downscale`,
:func:`validate.compare_reference`, :func:`validate.sample_stations`), so a series gives exactly the
files and numbers of single-date runs. A factor missing at a pixel takes its value on the nearest other
date of the series within :data:`.options.FILL_WINDOW_DAYS` days (the default, 12; 0 = off) where it is
valid, moved to the date's level and, with gap filling, weighed against the gap filler's own value
(:class:`.gapfill.TemporalFill`): a single-date run given the other dates as its neighbouring stacks.

Downscaled files are written into a hidden staging folder and moved into place only when every date is
done: a failed or canceled run leaves nothing behind. A CSV list (``date,start,end,file``) describes the
series for any tool; ``start``/``end`` is the time each file stands for (from its date to the next date,
at most one typical step), which QGIS uses as the layers' temporal ranges.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import glob
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from . import options
from .dates import date_from_name, pair_by_date, strip_date
from .downscale import DownscaleResult, check_detail, downscale, reuse_models
from .errors import Canceled, InputError
from .gapfill import check_window, nearest_dates
from .metrics import METRIC_NAMES, MetricsAccumulator, csv_value
from .paths import FolderOutput, check_apart, check_not_compared_with_itself
from .raster import IsCanceled, Progress, atomic_path, check_output_path, gdal_exceptions, never_canceled, no_progress
from .report import PairSampler
from .stations import Observation
from .validate import CSV_COLUMNS, StationPair, compare_reference, sample_stations, station_metrics, write_pairs_csv

#: Output files are named <prefix>_<YYYYMMDD>.tif.
OUTPUT_PREFIX = "sm_1km"
#: The quality raster of each date (:mod:`gapfill` codes) is named <QUALITY_PREFIX>_<YYYYMMDD>.tif.
QUALITY_PREFIX = "quality"
#: The list of a series' files, next to them.
LIST_NAME = "sm_1km_series.csv"
LIST_COLUMNS = ("date", "start", "end", "file")
RASTER_EXTENSIONS = (".tif", ".tiff")


# -- inputs ------------------------------------------------------------------------------------------

def folder_inputs(folder: str) -> tuple[list[str], list[str]]:
    """(SMAP paths, factor stack paths) found in a folder, in date order.

    A ``manifest.json`` in the folder is used when present; otherwise files named ``smap_<date>.tif``
    and ``factors_<date>.tif`` in the folder or its ``smap/`` and ``factors/`` subfolders.

    Parameters
    ----------
    folder : str
        The input folder.

    Returns
    -------
    tuple of list of str
        (SMAP paths, factor stack paths), each sorted by date.

    Raises
    ------
    InputError
        The folder does not exist or holds no factor stack; also from the manifest.
    """
    if not folder or not os.path.isdir(folder):
        raise InputError(f"Input folder not found: {folder or '(none)'}. Choose the folder holding "
                         "factors_<date>.tif and smap_<date>.tif (or the folder of a fetch with its manifest.json).")
    manifest = os.path.join(folder, "manifest.json")
    if os.path.isfile(manifest):
        from .manifest import manifest_inputs

        return manifest_inputs(manifest)
    found: dict[str, list[str]] = {"smap": [], "factors": []}
    for sub in ("", "smap", "factors"):
        for path in sorted(glob.glob(os.path.join(folder, sub, "*"))):
            stem, ext = os.path.splitext(os.path.basename(path))
            if ext.lower() not in RASTER_EXTENSIONS or not os.path.isfile(path):
                continue
            kind = strip_date(stem).lower()
            if kind in found and date_from_name(path) is not None:
                found[kind].append(path)
    if not found["factors"]:
        raise InputError(f"No factor stack named factors_<date>.tif (e.g. factors_20230601.tif) was found in {folder} "
                         "or its factors/ subfolder; name the stacks that way, or give them as a list.")
    key = lambda p: date_from_name(p)  # noqa: E731
    return sorted(found["smap"], key=key), sorted(found["factors"], key=key)


def resolve_inputs(stacks: Sequence[str] | None = None, smap: Sequence[str] | None = None,
                   manifest: str | None = None, folder: str | None = None) -> tuple[list[str], list[str]]:
    """(factor stacks, SMAP rasters) of a series given as lists, a manifest or a folder (exactly one of them).

    Parameters
    ----------
    stacks : Sequence[str] or None
        The factor stacks.
    smap : Sequence[str] or None
        The SMAP rasters going with ``stacks`` (None: none).
    manifest : str or None
        A fetch manifest.
    folder : str or None
        An input folder (:func:`folder_inputs`).

    Returns
    -------
    tuple of list of str
        (factor stack paths, SMAP paths; the latter empty when none is given).

    Raises
    ------
    InputError
        Not exactly one of lists, manifest and folder is given; also from reading them.
    """
    given = [name for name, v in (("factor stack list", stacks), ("manifest", manifest), ("input folder", folder))
             if v]
    if len(given) != 1:
        raise InputError("Give the dates to process in one way: a list of factor stacks, a manifest or an input "
                         f"folder (got {', '.join(given) if given else 'none'}).")
    if manifest:
        from .manifest import manifest_inputs

        sm, st = manifest_inputs(manifest)
        return st, sm
    if folder:
        sm, st = folder_inputs(folder)
        return st, sm
    return list(stacks or []), list(smap or [])


def pair_series(stacks: Sequence[str], smap: Sequence[str] | None = None) -> list[tuple[dt.date, str, str | None]]:
    """(date, factor stack, SMAP raster or None) per date, sorted; every file name must carry its date.

    Parameters
    ----------
    stacks : Sequence[str]
        The factor stacks, dated by name.
    smap : Sequence[str] or None
        SMAP rasters paired with them by date (None or empty: none).

    Returns
    -------
    list of tuple
        (date, factor stack, SMAP raster or None) per date, in date order.

    Raises
    ------
    InputError
        No stack, a name without a date, or two stacks of one date.
    """
    if not stacks:
        raise InputError("Give at least one factor stack.")
    if smap:
        out = []
        for label, stack, sm in pair_by_date(list(stacks), list(smap), "factor stack", "soil moisture"):
            if label.startswith("#"):
                raise InputError("A time series needs the date in every file name (YYYYMMDD or YYYY-MM-DD), e.g. "
                                 "factors_20230601.tif and smap_20230601.tif; rename the files.")
            out.append((dt.date.fromisoformat(label), stack, sm))
        return out
    missing = [os.path.basename(p) for p in stacks if date_from_name(p) is None]
    if missing:
        raise InputError(f"These factor stacks have no date (YYYYMMDD or YYYY-MM-DD) in their name: "
                         f"{', '.join(missing)}. A time series needs the date in every file name; rename them.")
    seen: dict[dt.date, str] = {}
    for p in stacks:
        d = date_from_name(p)
        assert d is not None
        if d in seen:
            raise InputError(f"Two factor stacks carry the date {d.isoformat()}: {os.path.basename(seen[d])} and "
                             f"{os.path.basename(p)}. Keep one per date.")
        seen[d] = p
    return [(d, seen[d], None) for d in sorted(seen)]


# -- the list of a series ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SeriesEntry:
    """One file of a series and the time it stands for: ``start`` <= t < ``end``."""

    date: dt.date
    start: dt.date
    end: dt.date
    path: str


def time_ranges(dates: Sequence[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """[start, end) of each date: until the next date, at most the typical (median) step; one day if alone.

    Parameters
    ----------
    dates : Sequence[datetime.date]
        The series' dates (any order).

    Returns
    -------
    list of tuple of datetime.date
        (start, end) per date, in date order, end exclusive.
    """
    ds = sorted(dates)
    gaps = [(b - a).days for a, b in zip(ds, ds[1:])]
    step = dt.timedelta(days=max(1, int(round(float(np.median(gaps))))) if gaps else 1)
    out = []
    for i, d in enumerate(ds):
        end = d + step
        if i + 1 < len(ds):
            end = min(end, ds[i + 1])
        out.append((d, end))
    return out


def write_series_list(path: str, items: Sequence[tuple[dt.date, str]], folder: str | None = None) -> str:
    """Write the CSV list (date, start, end, file) of a series atomically.

    Files are stored relative to ``folder``: where the list will be read from (default: its own folder).

    Parameters
    ----------
    path : str
        The CSV file.
    items : Sequence[tuple[datetime.date, str]]
        (date, file) per map.
    folder : str or None
        The folder the paths are made relative to (None: the list's own).

    Returns
    -------
    str
        ``path``.
    """
    folder = os.path.abspath(folder or os.path.dirname(os.path.abspath(path)))
    items = sorted(items, key=lambda kv: kv[0])
    ranges = time_ranges([d for d, _ in items])
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(LIST_COLUMNS)
            for (d, p), (start, end) in zip(items, ranges):
                rel = os.path.relpath(os.path.abspath(p), folder).replace(os.sep, "/")
                w.writerow([d.isoformat(), start.isoformat(), end.isoformat(), rel])
    return path


def read_series_list(path: str) -> list[SeriesEntry]:
    """The entries of a series list, with absolute paths.

    Parameters
    ----------
    path : str
        The CSV file.

    Returns
    -------
    list of SeriesEntry
        The entries in file order.

    Raises
    ------
    InputError
        The file cannot be read or is not a series list.
    """
    folder = os.path.dirname(os.path.abspath(path))
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise InputError(f"Cannot read the series list {path} ({exc.strerror}).") from exc
    try:
        return [SeriesEntry(dt.date.fromisoformat(r["date"]), dt.date.fromisoformat(r["start"]),
                            dt.date.fromisoformat(r["end"]), os.path.normpath(os.path.join(folder, r["file"])))
                for r in rows]
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path} is not a series list (columns {', '.join(LIST_COLUMNS)}).") from exc


def output_name(day: dt.date, prefix: str = OUTPUT_PREFIX) -> str:
    """The file name of the map of ``day``: ``<prefix>_<YYYYMMDD>.tif``.

    Parameters
    ----------
    day : datetime.date
        The map's date.
    prefix : str
        The name's prefix.

    Returns
    -------
    str
        The file name.
    """
    return f"{prefix}_{day:%Y%m%d}.tif"


# -- downscaling ---------------------------------------------------------------------------------------

def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it exists
        return True
    return True


def _remove_stale_stages(out_dir: str, prefix: str) -> None:
    """Remove staging folders left in ``out_dir`` by a series run whose process was killed."""
    pattern = re.compile(rf"^\.{re.escape(prefix)}-partial-(\d+)-[0-9a-f]{{8}}$")
    for entry in os.listdir(out_dir):
        m = pattern.match(entry)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            shutil.rmtree(os.path.join(out_dir, entry), ignore_errors=True)


@gdal_exceptions()
def downscale_series(model_path: str, stacks: Sequence[str], smap: Sequence[str] | None, out_dir: str,
                     residual: str = options.RESIDUAL_MODES.default_key, clip: tuple[float, float] = (0.0, 0.6),
                     block_rows: int | None = None, n_jobs: int | None = -1, prefix: str = OUTPUT_PREFIX,
                     progress: Progress = no_progress, is_canceled: IsCanceled = never_canceled,
                     sm_scale: float | None = None, sm_nodata: float | None = None, quality: bool = True,
                     fill_gaps: bool = True, fill_window_days: int = options.FILL_WINDOW_DAYS,
                     detail: str | None = None) -> list[DownscaleResult]:
    """Downscale every date: ``<out_dir>/<prefix>_<YYYYMMDD>.tif`` per date, plus the list ``sm_1km_series.csv``
    and (``quality``) the quality raster ``<out_dir>/quality_<YYYYMMDD>.tif`` of each date.

    Factor stacks and SMAP rasters are paired by the date in their names (SMAP is needed for residual
    correction and gap filling; with ``residual='none'`` it serves gap filling only). Each date is
    :func:`downscale.downscale` with the same arguments. Returns one result per date, in date order, with
    ``output`` (and ``quality``) the final paths. With ``fill_window_days`` > 0 a factor missing at a pixel takes
    its value on the nearest other date of the series within that many days (a tie: the earlier date), moved to
    the date's level, read block by block from those dates' stacks (:class:`.gapfill.TemporalFill`).

    Parameters
    ----------
    model_path
        The model file (.smdmodel).
    stacks, smap
        Factor stacks and SMAP rasters (None without residual correction).
    out_dir
        The folder receiving one map per date and the series list.
    residual, clip, block_rows, n_jobs, sm_scale, sm_nodata
        As for :func:`.downscale.downscale`.
    prefix
        File name prefix of the maps.
    quality, fill_gaps
        Whether to write a quality raster per date, and gap-free prediction, as for :func:`.downscale.downscale`.
    fill_window_days
        Temporal filling of factors from the other dates of the series within this many days (0: off; default
        :data:`.options.FILL_WINDOW_DAYS`).
    detail
        The within-cell detail ('model', 'contrast'; None: the default), as for :func:`.downscale.downscale`.
    progress, is_canceled
        Progress fraction and cancel check (:mod:`.raster` defaults).

    Returns
    -------
    list[DownscaleResult]
        One result per date, in date order.

    Raises
    ------
    InputError
        Residual correction without SMAP for every date, no or a file as the output folder, a bad temporal
        filling window; also from :func:`.downscale.downscale`.
    Canceled
        ``is_canceled()`` became true; the files of this run are removed.
    """
    residual = (residual or "none").lower()
    if residual != "none" and not smap:
        raise InputError("Residual correction needs a SMAP raster for every date: give the SMAP rasters (or a "
                         "manifest or folder holding them), or set residual correction off.")
    contrast = check_detail(detail)[0] == "contrast"  # needs the SMAP cells, also without residual correction
    steps = pair_series(stacks, smap if residual != "none" or ((fill_gaps or contrast) and smap) else None)
    window = check_window(fill_window_days)
    dated = [(d, st) for d, st, _ in steps]
    if not out_dir:
        raise InputError("No output folder was given; choose a folder for the downscaled files.")
    out_dir = os.path.abspath(out_dir)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise InputError(f"{out_dir} is a file, not a folder; choose a folder for the downscaled files.")
    list_path = os.path.join(out_dir, LIST_NAME)
    check_output_path(list_path)
    finals = [os.path.join(out_dir, output_name(d, prefix)) for d, _, _ in steps]
    qualities = [os.path.join(out_dir, output_name(d, QUALITY_PREFIX)) for d, _, _ in steps] if quality else []
    check_apart({"file": FolderOutput(out_dir, [os.path.basename(p) for p in finals + qualities] + [LIST_NAME])},
                {"factor stack": [st for _, st, _ in steps], "soil moisture raster": [sm for _, _, sm in steps if sm],
                 "model file": model_path})
    os.makedirs(out_dir, exist_ok=True)
    _remove_stale_stages(out_dir, prefix)
    stage = os.path.join(out_dir, f".{prefix}-partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.makedirs(stage)
    n = len(steps)
    results: list[DownscaleResult] = []
    try:
        with reuse_models():  # the model file is loaded once for all dates
            for i, (day, stack, sm) in enumerate(steps):
                if is_canceled():
                    raise Canceled()
                res = downscale(model_path, stack, os.path.join(stage, output_name(day, prefix)),
                                coarse_sm=sm if residual != "none" or fill_gaps or contrast else None,
                                residual=residual, detail=detail,
                                clip=clip, block_rows=block_rows, n_jobs=n_jobs,
                                progress=lambda f, i=i: progress(min(1.0, (i + f) / n)), is_canceled=is_canceled,
                                sm_scale=sm_scale, sm_nodata=sm_nodata, fill_gaps=fill_gaps,
                                quality=os.path.join(stage, output_name(day, QUALITY_PREFIX)) if quality else None,
                                neighbours=[st for _, st in nearest_dates(day, dated, window)],
                                fill_window_days=window)
                results.append(res)
        write_series_list(os.path.join(stage, LIST_NAME), [(d, f) for (d, _, _), f in zip(steps, finals)], out_dir)
        if is_canceled():
            raise Canceled()
        for name in [os.path.basename(f) for f in finals + qualities] + [LIST_NAME]:
            for side in ("", ".aux.xml"):
                src = os.path.join(stage, name + side)
                if os.path.exists(src):
                    os.replace(src, os.path.join(out_dir, name + side))
                elif side == ".aux.xml" and os.path.exists(os.path.join(out_dir, name + side)):
                    with contextlib.suppress(OSError):  # a stale sidecar of an earlier run
                        os.remove(os.path.join(out_dir, name + side))
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    progress(1.0)
    return [dataclasses.replace(r, output=f, quality=q if quality else "")
            for r, f, q in zip(results, finals, qualities or finals)]


# -- validation ----------------------------------------------------------------------------------------

@dataclass
class SeriesValidation:
    """Metrics of a series: ``rows`` per date and source, ``pooled`` over all dates per source.

    ``pairs`` are all station pairs; ``samples`` (estimate, reference) an evenly spaced subsample of the
    reference comparison's pixel pairs (for plots); ``skipped`` names dates without station data.
    """

    rows: list[dict[str, Any]]
    pooled: dict[str, dict[str, Any]]
    pairs: list[StationPair] = field(default_factory=list)
    samples: tuple[np.ndarray, np.ndarray] | None = None
    skipped: list[str] = field(default_factory=list)


def write_series_metrics_csv(path: str, rows: Sequence[dict[str, Any]], pooled: dict[str, dict[str, Any]]) -> str:
    """The metrics CSV of a series (the columns of a single-date run): per-date rows, then pooled rows dated 'all'.

    Parameters
    ----------
    path : str
        The CSV file to write (atomically).
    rows : Sequence[dict[str, Any]]
        One row per date and source: 'source', 'estimate', 'date' and the metrics.
    pooled : dict[str, dict[str, Any]]
        Source -> metrics pooled over the dates.

    Returns
    -------
    str
        ``path``.
    """
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(CSV_COLUMNS)
            for r in rows:
                w.writerow([r["source"], r["estimate"], r["date"]] + [csv_value(r[k]) for k in METRIC_NAMES])
            for source, m in pooled.items():
                w.writerow([source, "", "all"] + [csv_value(m[k]) for k in METRIC_NAMES])
    return path


@gdal_exceptions()
def validate_series(estimates: Sequence[str], references: Sequence[str] | None = None,
                    observations: Sequence[Observation] | None = None, output_csv: str | None = None,
                    pairs_csv: str | None = None, resampling: str = "auto", max_samples: int = 20000,
                    progress: Progress = no_progress, is_canceled: IsCanceled = never_canceled,
                    ref_scale: float = 1.0, ref_nodata: float | None = None) -> SeriesValidation:
    """Validate every date of a series against its reference raster and/or the stations of that day.

    Estimates and references are paired by the date in their names (by order when no name has a
    date, then without stations). Per-date metrics are those of :func:`validate.validate`; pooled
    metrics use every pair of every date: 'reference' (all pixels), 'stations' and 'station:<id>'.
    A date without station observations is skipped (noted in ``skipped``); none at all is an error.

    Parameters
    ----------
    estimates
        Soil moisture maps, one per date.
    references
        Reference rasters paired with the estimates, or None.
    observations
        Station observations, or None.
    output_csv, pairs_csv
        Where to write the metrics and the station pairs (None: not written).
    resampling
        How references are resampled onto the estimates ('auto', ...).
    max_samples
        Pixel pairs kept for the pooled scatter plot.
    progress, is_canceled
        Progress fraction and cancel check (:mod:`.raster` defaults).
    ref_scale, ref_nodata
        How to read the references.

    Returns
    -------
    SeriesValidation
        Per-date rows and pooled metrics, the station pairs, pixel samples, and the dates skipped.

    Raises
    ------
    InputError
        No estimate, nothing to validate against, a reference that is its estimate itself, estimates without
        dates for stations, or no station comparable on any date.
    Canceled
        ``is_canceled()`` became true.
    """
    if not estimates:
        raise InputError("Give at least one soil moisture estimate to validate.")
    if not references and not observations:
        raise InputError("Nothing to validate against: give reference rasters, station observations, or both.")
    for p in (output_csv, pairs_csv):
        if p:
            check_output_path(p)
    check_apart({"metrics table": output_csv, "pairs table": pairs_csv},
                {"estimate": list(estimates), "reference raster": list(references or [])})
    if references:
        steps = [(label, est, ref) for label, est, ref in
                 pair_by_date(list(estimates), list(references), "estimate", "reference")]
        for _, est, ref in steps:
            check_not_compared_with_itself(est, ref)
    else:
        steps = [(d.isoformat(), est, None) for d, est, _ in pair_series(estimates)]
    days: list[dt.date | None] = [None if label.startswith("#") else dt.date.fromisoformat(label)
                                  for label, _, _ in steps]
    if observations and any(d is None for d in days):
        raise InputError("Comparing with stations needs the date of every estimate in its file name (YYYYMMDD or "
                         "YYYY-MM-DD), e.g. sm_1km_20230601.tif; rename the files.")
    acc = MetricsAccumulator()
    sampler = PairSampler(max_samples)

    def sink(e: np.ndarray, r: np.ndarray) -> None:
        acc.add(e, r)
        sampler(e, r)

    rows: list[dict[str, Any]] = []
    all_pairs: list[StationPair] = []
    skipped: list[str] = []
    first_error: InputError | None = None
    resampling_used = resampling
    n = len(steps)
    for i, ((_label, est, ref), day) in enumerate(zip(steps, days)):
        if is_canceled():
            raise Canceled()
        date_text = day.isoformat() if day else ""
        if ref:
            m = compare_reference(est, ref, resampling, lambda f, i=i: progress(min(1.0, (i + 0.95 * f) / n)),
                                  is_canceled, sink=sink, ref_scale=ref_scale, ref_nodata=ref_nodata)
            resampling_used = str(m.pop("resampling", resampling))
            rows.append({"source": "reference", "estimate": os.path.basename(est), "date": date_text, **m})
        if observations:
            assert day is not None
            try:
                pairs = sample_stations(est, observations, day)
            except InputError as exc:
                first_error = first_error or exc
                skipped.append(f"{date_text}: {exc}")
                continue
            all_pairs.extend(pairs)
            rows.append({"source": "stations", "estimate": os.path.basename(est), "date": date_text,
                         **station_metrics(pairs)["stations"]})
        progress((i + 1) / n)
    pooled: dict[str, dict[str, Any]] = {}
    if references:
        pooled["reference"] = {**acc.result(), "resampling": resampling_used}
    if observations:
        if not all_pairs:
            assert first_error is not None
            if len(steps) == 1:
                raise first_error
            raise InputError(f"No station could be compared on any of the {len(steps)} dates; the first problem: "
                             f"{first_error}")
        pooled.update(station_metrics(all_pairs))
    if output_csv:
        write_series_metrics_csv(output_csv, rows, pooled)
    if pairs_csv and all_pairs:
        write_pairs_csv(pairs_csv, all_pairs)
    progress(1.0)
    samples = (sampler.estimate, sampler.reference) if references else None
    return SeriesValidation(rows, pooled, all_pairs, samples, skipped)
