"""Validation of a soil moisture estimate against a reference raster and/or in-situ stations.

Reference: the reference raster is warped onto the estimate's grid (a virtual raster, never a copy)
and compared pixel by pixel, block by block, with streaming sums (bounded memory). Stations: the
daily mean of each station on the estimate's date is paired with the estimate pixel containing the
station. Metrics (n, R, MAE, RMSE, bias, ubRMSD) per source, pooled over stations and per station.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import uuid
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from osgeo import gdal, osr

from .dates import date_from_name
from .errors import Canceled, InputError
from .metrics import METRIC_NAMES, MetricsAccumulator, csv_value, metrics
from .paths import check_apart, check_not_compared_with_itself
from .raster import (
    Grid,
    IsCanceled,
    Progress,
    atomic_path,
    band_mask,
    band_values,
    block_rows_for,
    check_output_path,
    gdal_exceptions,
    iter_blocks,
    never_canceled,
    no_progress,
    open_raster,
    read_block,
    reading,
    srs_from_wkt,
)
from .stations import Observation, daily_means
from .units import AS_IS, SmReading, check_soil_moisture_sample, recorded_reading

RESAMPLING = ("auto", "bilinear", "average", "nearest", "cubic")
CSV_COLUMNS = ("source", "estimate", "date") + METRIC_NAMES
#: Sources of the reference comparison split by the quality raster of downscale (gapfill codes).
QUALITY_SOURCES = {1: "reference:all factors observed", 2: "reference:filled", 3: "reference:coarse only",
                   4: "reference:from a neighbouring date"}
PAIR_COLUMNS = ("station", "date", "x", "y", "col", "row", "observed", "estimated", "difference", "status")


@dataclass
class StationPair:
    """A station's daily mean and the estimate pixel containing the station (NaN when none)."""

    station: str
    date: dt.date
    x: float
    y: float
    col: int
    row: int
    observed: float
    estimated: float
    status: str  # 'ok', 'outside' (not on the estimate's grid) or 'nodata'


def _resolution_in(grid: Grid, crs_wkt: str) -> float:
    """Approximate pixel size of ``grid`` expressed in the units of another CRS."""
    xmin, ymin, xmax, ymax = grid.extent_in(crs_wkt)
    return math.sqrt(((xmax - xmin) / grid.width) * ((ymax - ymin) / grid.height))


@gdal_exceptions()
def compare_reference(estimate: str, reference: str, resampling: str = "auto", progress: Progress = no_progress,
                      is_canceled: IsCanceled = never_canceled, block_rows: int | None = None,
                      sink: Callable[[np.ndarray, np.ndarray], None] | None = None, ref_scale: float = 1.0,
                      ref_nodata: float | None = None, baseline: str | None = None,
                      quality: str | None = None,
                      by_quality: dict[str, dict[str, float]] | None = None) -> dict[str, float]:
    """Metrics of the estimate (band 1) against the reference (band 1) warped onto the estimate's grid.

    ``resampling`` 'auto' averages a reference finer than the estimate and interpolates (bilinear)
    a coarser one. ``sink(estimate_block, reference_block)``, when given, also receives every block
    (pooling over dates, samples for plots). Reference values equal to ``ref_nodata`` are nodata and the
    others are multiplied by ``ref_scale`` (0.01 for percent); both rasters are checked to hold soil
    moisture in m3/m3 (:mod:`units`). ``quality`` (the estimate's quality raster from downscale, on its
    grid) splits the pixels by the path that produced them: ``by_quality`` receives the metrics of each
    path present (:data:`QUALITY_SOURCES`).

    ``baseline`` (e.g. the coarse SMAP raster the estimate was downscaled from) is resampled bilinearly
    onto the estimate's grid and compared with the reference where the estimate, the reference and the
    baseline all hold a value; its metrics are returned under ``"baseline"`` (a dict of the same metrics,
    whose ``"estimate"`` holds the estimate's metrics on those same pixels), so the estimate can be judged
    against plain resampling. When the estimate's metadata names the baseline as the SMAP raster it was
    downscaled from, read with a scale or nodata value (downscale's SM_SCALE / SM_NODATA), the baseline is read
    the same way (:func:`.units.recorded_reading`).

    Parameters
    ----------
    estimate
        The soil moisture map (band 1).
    reference
        The reference raster (band 1).
    resampling
        'auto' or a GDAL resampling name.
    progress, is_canceled
        Progress fraction and cancel check (:mod:`.raster` defaults).
    block_rows
        Rows per block (None: automatic).
    sink
        Receives every (estimate, reference) block pair, or None.
    ref_scale, ref_nodata
        How to read the reference.
    baseline
        A coarse raster compared on the same pixels (see above), or None.
    quality, by_quality
        The estimate's quality raster and the dict receiving the metrics per path (see above), or None.

    Returns
    -------
    dict[str, float]
        n, r, mae, rmse, bias and ubrmsd over the pixels valid in both.

    Raises
    ------
    InputError
        An unknown resampling, a reference that does not overlap or cannot be resampled, or no pixel valid in
        both.
    Canceled
        ``is_canceled()`` became true.
    """
    if resampling not in RESAMPLING:
        raise InputError(f"Unknown resampling '{resampling}'; use one of {', '.join(RESAMPLING)}.")
    est_ds = open_raster(estimate)
    grid = Grid.from_dataset(est_ds, estimate).check_size(
        f"The estimate {os.path.basename(estimate)}, onto whose grid the reference is resampled,",
        "Validate an estimate of the size smdownscale:downscale writes (clip it to the area of interest first).")
    q_ds = None
    if quality:
        q_ds = open_raster(quality)
        qgrid = Grid.from_dataset(q_ds, quality)
        if (qgrid.width, qgrid.height) != (grid.width, grid.height) or not np.allclose(
                qgrid.transform, grid.transform, rtol=0, atol=1e-6 * max(abs(grid.res[0]), 1.0)):
            raise InputError(f"The quality raster {os.path.basename(quality)} is not on the grid of the estimate "
                             f"{os.path.basename(estimate)}; give the quality raster downscale wrote with it.")
    ref_ds = open_raster(reference)
    rgrid = Grid.from_dataset(ref_ds, reference)
    if not grid.overlaps(rgrid):
        raise InputError(f"The reference {os.path.basename(reference)} does not overlap the estimate "
                         f"{os.path.basename(estimate)}; give a reference covering the same area.")
    reading = SmReading(float(ref_scale), None if ref_nodata is None else float(ref_nodata), "REF_SCALE",
                        "REF_NODATA")
    check_soil_moisture_sample(ref_ds, reference, reading, "reference")
    check_soil_moisture_sample(est_ds, estimate, SmReading(1.0, None, "", ""), "estimate")
    base_ds = None
    base_reading = AS_IS
    if baseline:
        base_ds = open_raster(baseline)
        if not grid.overlaps(Grid.from_dataset(base_ds, baseline)):
            raise InputError(f"The baseline {os.path.basename(baseline)} does not overlap the estimate "
                             f"{os.path.basename(estimate)}; give the SMAP raster the estimate was downscaled from.")
        # the SMAP raster the estimate was downscaled from is read as downscale read it (SM_SCALE, SM_NODATA)
        base_reading = recorded_reading(est_ds.GetMetadata() or {}, baseline) or AS_IS
        check_soil_moisture_sample(base_ds, baseline, base_reading, "baseline")
    if resampling == "auto":
        finer = _resolution_in(rgrid, grid.crs_wkt) < 0.999 * math.sqrt(grid.res[0] * grid.res[1])
        resampling = "average" if finer else "bilinear"
    tag = uuid.uuid4().hex[:12]
    src_path = f"/vsimem/smd_validate_src_{tag}.vrt"
    vrt_path = f"/vsimem/smd_validate_{tag}.vrt"
    base_path = f"/vsimem/smd_validate_base_{tag}.vrt"
    try:
        src = ref_ds
        if ref_ds.RasterCount > 1:
            src = gdal.Translate(src_path, ref_ds, format="VRT", bandList=[1])
        nd = src.GetRasterBand(1).GetNoDataValue()
        if reading.nodata is not None:
            nd = reading.nodata
        warp = gdal.Warp(vrt_path, src, format="VRT", outputBounds=grid.extent, width=grid.width,
                         height=grid.height, dstSRS=grid.crs_wkt, resampleAlg=resampling,
                         outputType=gdal.GDT_Float32, srcNodata=nd, dstNodata=-9999.0)
        if warp is None:
            raise InputError(f"Cannot resample {os.path.basename(reference)} onto the estimate's grid.")
        base_warp = None
        if base_ds is not None:
            base_nodata = {} if base_reading.nodata is None else {"srcNodata": base_reading.nodata}
            base_warp = gdal.Warp(base_path, base_ds, format="VRT", outputBounds=grid.extent, width=grid.width,
                                  height=grid.height, dstSRS=grid.crs_wkt, resampleAlg="bilinear",
                                  outputType=gdal.GDT_Float32, dstNodata=-9999.0, **base_nodata)
            if base_warp is None:
                raise InputError(f"Cannot resample {os.path.basename(baseline)} onto the estimate's grid.")
        acc = MetricsAccumulator()
        base_acc = MetricsAccumulator()
        same_acc = MetricsAccumulator()  # the estimate on the baseline's pixels
        per_path = {code: MetricsAccumulator() for code in QUALITY_SOURCES}
        rows = block_rows or block_rows_for(grid.width, 2, target_bytes=16 * 2**20)
        for row0, nrows in iter_blocks(grid.height, rows, progress, is_canceled):
            e = read_block(est_ds, row0, nrows, [1])[0]
            r = read_block(warp, row0, nrows, [1], sources=[reference])[0]
            if reading.scale != 1.0:
                r *= reading.scale
            acc.add(e, r)
            if q_ds is not None:
                q = read_block(q_ds, row0, nrows, [1], sources=[quality])[0]
                for code, a in per_path.items():
                    a.add(np.where(q == code, e, np.nan), r)
            if sink is not None:
                sink(e, r)
            if base_warp is not None:
                b = read_block(base_warp, row0, nrows, [1], sources=[baseline])[0]
                if base_reading.scale != 1.0:
                    b *= base_reading.scale
                base_acc.add(np.where(np.isfinite(e), b, np.nan), r)
                same_acc.add(np.where(np.isfinite(b), e, np.nan), r)
        warp = base_warp = None
        src = None
    finally:
        for p in (vrt_path, src_path, base_path):
            if gdal.VSIStatL(p) is not None:
                gdal.Unlink(p)
    res = acc.result()
    if res["n"] == 0:
        raise InputError(f"The estimate {os.path.basename(estimate)} and the reference {os.path.basename(reference)} "
                         "have no pixel where both hold a value; check that they cover the same area and that "
                         "their nodata values are set correctly.")
    res["resampling"] = resampling  # type: ignore[assignment]
    if base_ds is not None:
        base = base_acc.result()
        if base["n"] == 0:
            raise InputError(f"The baseline {os.path.basename(baseline)} has no value on the pixels where the "
                             "estimate and the reference are compared; give the SMAP raster of the same area.")
        base["estimate"] = same_acc.result()  # type: ignore[assignment]
        res["baseline"] = base  # type: ignore[assignment]
    if by_quality is not None and q_ds is not None:
        for code, a in per_path.items():
            m = a.result()
            if m["n"]:
                by_quality[QUALITY_SOURCES[code]] = {**m, "resampling": resampling}
    return res


#: Fewer pairs than this give no meaningful correlation R (none from 1 pair, always +1 or -1 from 2).
MIN_PAIRS_FOR_R = 3


def few_pairs_notes(results: dict[str, dict], estimate: str, reference: str | None) -> list[str]:
    """Warnings for the sources of a validation that compare fewer than :data:`MIN_PAIRS_FOR_R` pairs.

    Parameters
    ----------
    results : dict[str, dict]
        The metrics per source (:func:`validate`); 'reference' and 'stations' are looked at (one station on one
        date is always 1 pair, so 'station:<id>' is not).
    estimate : str
        The estimate, named in the warning (with its size in pixels).
    reference : str or None
        The reference raster, named in the warning.

    Returns
    -------
    list[str]
        One warning per source with fewer pairs (none when every source has enough).
    """
    notes = []
    for source in ("reference", "stations"):
        res = results.get(source)
        if not res or not 0 < int(res["n"]) < MIN_PAIRS_FOR_R:
            continue
        n = int(res["n"])
        r = float(res["r"])
        if source == "reference":
            ds = gdal.OpenEx(estimate, gdal.OF_RASTER | gdal.OF_READONLY)
            size = f"{ds.RasterXSize} x {ds.RasterYSize} pixels" if ds is not None else "small"
            problem = (f"The estimate {os.path.basename(estimate)} ({size}) and the reference "
                       f"{os.path.basename(str(reference))} have only {n} pixel pair(s) where both hold a value")
            fix = "Validate an estimate of a larger area, or with a reference covering more of it"
        else:
            problem = (f"Only {n} station observation(s) fall on valid pixels of the estimate "
                       f"{os.path.basename(estimate)}")
            fix = "Add stations inside the estimate, or compare with a reference raster"
        message = (f"{problem}: R needs at least {MIN_PAIRS_FOR_R} pairs (from 1 pair it cannot be computed, from 2 it "
                   f"is always +1 or -1), so R ({'nan' if math.isnan(r) else f'{r:g}'}) says nothing, and MAE, RMSE "
                   f"and bias rest on {n} value(s). {fix}.")
        notes.append(message)
    return notes


def _dates_summary(dates: Sequence[dt.date]) -> str:
    ds = sorted(set(dates))
    if not ds:
        return "none"
    if len(ds) <= 8:
        return ", ".join(d.isoformat() for d in ds)
    return (f"{len(ds)} days from {ds[0].isoformat()} to {ds[-1].isoformat()} "
            f"({', '.join(d.isoformat() for d in ds[:3])}, ..., {', '.join(d.isoformat() for d in ds[-3:])})")


@gdal_exceptions()
def sample_stations(estimate: str, observations: Sequence[Observation], date: dt.date) -> list[StationPair]:
    """Daily means of the stations on ``date`` paired with the estimate pixel containing each station.

    Parameters
    ----------
    estimate
        The soil moisture map (band 1).
    observations
        Station observations (any dates).
    date
        The day to compare.

    Returns
    -------
    list[StationPair]
        One pair per station observed on ``date``, with its status (a station outside or on nodata is kept
        with a reason).

    Raises
    ------
    InputError
        No station observed on ``date``, or none falls on a valid pixel.
    """
    daily = daily_means(observations)
    today = [o for o in daily if o.date == date]
    if not today:
        raise InputError(f"No station has an observation on {date.isoformat()}, the estimate's date. The stations "
                         f"have observations on: {_dates_summary([o.date for o in daily])}. Give observations "
                         "for that day, or validate the estimate of a day they cover.")
    ds = open_raster(estimate)
    grid = Grid.from_dataset(ds, estimate)
    band = ds.GetRasterBand(1)
    x0, dx, _, y0, _, dy = grid.transform
    transforms: dict[str, osr.CoordinateTransformation | None] = {}
    pairs = []
    for ob in today:
        if ob.crs_wkt not in transforms:
            src = srs_from_wkt(ob.crs_wkt)
            transforms[ob.crs_wkt] = None if src.IsSame(grid.srs) else osr.CoordinateTransformation(src, grid.srs)
        ct = transforms[ob.crs_wkt]
        try:
            px, py = (ct.TransformPoint(ob.x, ob.y)[:2] if ct is not None else (ob.x, ob.y))
        except RuntimeError:
            px, py = math.nan, math.nan
        col = math.floor((px - x0) / dx) if math.isfinite(px) else -1
        row = math.floor((py - y0) / dy) if math.isfinite(py) else -1
        value, status = math.nan, "outside"
        if 0 <= col < grid.width and 0 <= row < grid.height:
            with reading(estimate):
                v = float(band_values(band, band.ReadAsArray(col, row, 1, 1).astype(np.float64),
                                      band_mask(band, col, row, 1, 1))[0, 0])
            if math.isfinite(v):
                value, status = v, "ok"
            else:
                status = "nodata"
        pairs.append(StationPair(ob.station, ob.date, ob.x, ob.y, col, row, ob.value, value, status))
    # released before an error can keep this frame alive: a garbage collection could free the dataset before its
    # band (an exception's traceback is a reference cycle), which crashes GDAL
    band = ds = None
    if not any(p.status == "ok" for p in pairs):
        outside = sum(p.status == "outside" for p in pairs)
        nodata = sum(p.status == "nodata" for p in pairs)
        raise InputError(f"No station falls on a valid pixel of the estimate on {date.isoformat()}: of the "
                         f"{len(pairs)} stations observed that day, {outside} lie outside the estimate and "
                         f"{nodata} on nodata pixels. The stations have observations on: "
                         f"{_dates_summary([o.date for o in daily])}. Check the station coordinates and their "
                         "CRS, or give an estimate covering the stations.")
    return pairs


def station_metrics(pairs: Sequence[StationPair]) -> dict[str, dict[str, float]]:
    """Metrics pooled over all stations ('stations') and per station ('station:<id>').

    Parameters
    ----------
    pairs : Sequence[StationPair]
        Station pairs; only those with status 'ok' count.

    Returns
    -------
    dict[str, dict[str, float]]
        'stations' (all pairs pooled) and 'station:<id>' per station -> the dict :func:`.metrics.metrics` returns.
    """
    ok = [p for p in pairs if p.status == "ok"]
    out = {"stations": metrics(np.array([p.estimated for p in ok]), np.array([p.observed for p in ok]))}
    for station in sorted({p.station for p in ok}):
        sel = [p for p in ok if p.station == station]
        out[f"station:{station}"] = metrics(np.array([p.estimated for p in sel]), np.array([p.observed for p in sel]))
    return out


def write_metrics_csv(path: str, results: dict[str, dict], estimate: str, date: dt.date | None) -> str:
    """One row per source: 'reference', 'stations', 'station:<id>'.

    Parameters
    ----------
    path : str
        The CSV file to write (atomically).
    results : dict[str, dict]
        Source ('reference', 'stations', 'station:<id>') -> metrics (:func:`.metrics.metrics`).
    estimate : str
        The soil moisture map validated (its file name fills the estimate column).
    date : datetime.date or None
        The date compared (None: an empty date column).

    Returns
    -------
    str
        ``path``.
    """
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(CSV_COLUMNS)
            for source, res in results.items():
                w.writerow([source, os.path.basename(estimate), date.isoformat() if date else ""]
                           + [csv_value(res[k]) for k in METRIC_NAMES])
    return path


def write_pairs_csv(path: str, pairs: Sequence[StationPair]) -> str:
    """Write the station pairs as CSV (one row per station and date) atomically; returns ``path``.

    Parameters
    ----------
    path : str
        The CSV file to write.
    pairs : Sequence[StationPair]
        The pairs, written in this order.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    InputError
        The file cannot be written (:func:`.raster.atomic_path`).
    """
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(PAIR_COLUMNS)
            for p in pairs:
                w.writerow([p.station, p.date.isoformat(), repr(p.x), repr(p.y), p.col, p.row, csv_value(p.observed),
                            csv_value(p.estimated), csv_value(p.estimated - p.observed), p.status])
    return path


@gdal_exceptions()
def validate(estimate: str, reference: str | None = None, stations: Sequence[Observation] | None = None,
             date: dt.date | None = None, output_csv: str | None = None, reference_resampling: str = "auto",
             pairs_csv: str | None = None, progress: Progress = no_progress,
             is_canceled: IsCanceled = never_canceled,
             sink: Callable[[np.ndarray, np.ndarray], None] | None = None, ref_scale: float = 1.0,
             ref_nodata: float | None = None, baseline: str | None = None,
             quality: str | None = None, warn: Callable[[str], None] | None = None) -> dict[str, dict]:
    """Compare an estimate with a reference raster and/or station observations.

    Returns ``{source: metrics}`` with sources 'reference', 'stations' (pooled) and 'station:<id>';
    each metrics dict has n, r, mae, rmse, bias, ubrmsd. ``date`` (for stations) defaults to the date
    in the estimate's file name. ``output_csv`` gets one row per source, ``pairs_csv`` the station pairs.
    ``sink`` receives the blocks of the reference comparison (see :func:`compare_reference`);
    ``ref_scale`` / ``ref_nodata`` say how to read the reference (scale to m3/m3, an undeclared nodata value).
    ``baseline`` (the coarse SMAP raster, resampled bilinearly) adds the source 'baseline': its metrics against
    the reference on the estimate's pixels (see :func:`compare_reference`).
    ``quality`` (downscale's quality raster of the estimate) adds the reference metrics of each path:
    'reference:all factors observed', 'reference:filled', 'reference:coarse only', 'reference:from a
    neighbouring date'.

    Parameters
    ----------
    estimate
        The soil moisture map (band 1).
    reference
        A reference raster, or None.
    stations, date
        Station observations and the day to compare (default: from the file name).
    output_csv, pairs_csv
        Where to write the metrics and the station pairs (None: not written).
    reference_resampling
        How the reference is resampled onto the estimate.
    progress, is_canceled
        Progress fraction and cancel check (:mod:`.raster` defaults).
    sink
        Receives the blocks of the reference comparison, or None.
    ref_scale, ref_nodata
        How to read the reference.
    baseline, quality
        The coarse SMAP raster and the estimate's quality raster (see above), or None.
    warn
        Receives a warning when the reference comparison or the stations give fewer than :data:`MIN_PAIRS_FOR_R`
        pairs (R cannot be computed from 1 pair and is always +1 or -1 from 2), or None.

    Returns
    -------
    dict[str, dict]
        ``{source: metrics}`` (see above).

    Raises
    ------
    InputError
        Nothing to validate against, the reference is the estimate itself, or stations without a known date;
        also from :func:`compare_reference` and :func:`sample_stations`.
    Canceled
        ``is_canceled()`` became true.
    """
    if not reference and not stations:
        raise InputError("Nothing to validate against: give a reference raster, station observations, or both.")
    if baseline and not reference:
        raise InputError("A baseline is compared with the reference raster: give a reference raster too, or leave "
                         "the baseline empty.")
    for p in (output_csv, pairs_csv):
        if p:
            check_output_path(p)
    check_apart({"metrics table": output_csv, "pairs table": pairs_csv},
                {"estimate": estimate, "reference raster": reference, "baseline": baseline,
                 "quality raster": quality})
    check_not_compared_with_itself(estimate, reference)
    open_raster(estimate)
    results: dict[str, dict] = {}
    if stations:
        date = date or date_from_name(estimate)
        if date is None:
            raise InputError(f"The date of {os.path.basename(estimate)} is unknown (its file name carries no "
                             "YYYYMMDD or YYYY-MM-DD date); give the date to compare with the stations.")
    split = 0.9 if stations else 1.0
    if reference:
        by_quality: dict[str, dict[str, float]] = {}
        results["reference"] = compare_reference(estimate, reference, reference_resampling,
                                                 lambda f: progress(split * f), is_canceled, sink=sink,
                                                 ref_scale=ref_scale, ref_nodata=ref_nodata, baseline=baseline,
                                                 quality=quality, by_quality=by_quality)
        if baseline:
            results["baseline"] = results["reference"].pop("baseline")
        results.update(by_quality)
    if is_canceled():
        raise Canceled()
    pairs: list[StationPair] = []
    if stations:
        assert date is not None
        pairs = sample_stations(estimate, stations, date)
        results.update(station_metrics(pairs))
    if warn is not None:
        for note in few_pairs_notes(results, estimate, reference):
            warn(note)
    if output_csv:
        write_metrics_csv(output_csv, results, estimate, date)
    if pairs_csv and pairs:
        write_pairs_csv(pairs_csv, pairs)
    progress(1.0)
    return results
