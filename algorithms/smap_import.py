"""Import SMAP granules as NSIDC distributes them (HDF5) onto SMAP's own EASE-Grid 2.0 lattice.

Products (NSIDC short names):

* ``SPL4SMGP`` (L4 global 3-hourly 9 km): ``Geophysical_Data/sm_surface`` and ``sm_rootzone``,
  1624 x 3856 cells, geolocation in ``cell_lat`` / ``cell_lon``;
* ``SPL3SMP_E`` (L3 enhanced, daily 9 km): ``Soil_Moisture_Retrieval_Data_AM/soil_moisture`` with
  ``retrieval_qual_flag``, and ``Soil_Moisture_Retrieval_Data_PM/soil_moisture_pm`` with
  ``retrieval_qual_flag_pm`` (geolocation ``latitude(_pm)`` / ``longitude(_pm)``), 1624 x 3856 cells;
* ``SPL3SMP`` (L3, daily 36 km): the same names on 406 x 964 cells.

The granules carry no geotransform: the documented lattice is assigned (EPSG:6933, cell size
9008.055210146 m or 36032.220840584 m, the grid centred on (0, 0)) and checked against the file's own
latitude/longitude arrays inside the area, so a granule on another grid is refused instead of being
misplaced. Fill values (``_FillValue``, -9999), values outside ``valid_min``/``valid_max`` and, for L3,
retrievals whose ``retrieval_qual_flag`` fails (bits 0-2: recommended quality, attempted, successful;
or only bits 1-2 when every retrieval is kept) become nodata.

:func:`import_smap` subsets to the whole cells covering an area, averages the valid values of each cell
over every time step (daily, 8- or 16-day on the MODIS calendar, monthly, or a fixed number of days;
L3 AM and PM combined as chosen), and writes ``smap/smap_YYYYMMDD.tif`` and ``manifest.json`` in the
format :mod:`.gee.fetch` writes. Optionally the factor rasters (GeoTIFFs, one factor per file, named by
band description or file name, dated or static) are aligned onto a fine grid covering the same cells
as ``factors/factors_YYYYMMDD.tif``, so the manifest is complete for screen, train and downscale.
Everything is read through GDAL's HDF5 driver (multidimensional API); nothing here imports QGIS.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import math
import os
import re
import shutil
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
from osgeo import gdal, ogr, osr

from . import raster
from .dates import as_date, calendar_steps, date_from_name, strip_date
from .errors import Canceled, InputError
from .manifest import remove_written, utc_now, write_manifest
from .raster import Grid, IsCanceled, Progress, never_canceled, no_progress

EASE_CRS = "EPSG:6933"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
FILL = -9999.0
#: Tolerance (degrees) between a granule's own cell latitude/longitude and the lattice's cell centres.
GEOLOCATION_TOLERANCE = 0.01
STEPS = ("daily", "8day", "16day", "monthly", "ndays")
PASSES = ("am", "pm", "mean", "am_then_pm")
QUALITY = ("recommended", "retrieved")
#: retrieval_qual_flag bits that must be 0: 0 recommended quality, 1 retrieval attempted, 2 retrieval successful.
QUALITY_BITS = {"recommended": 0b111, "retrieved": 0b110}
QUALITY_FILL = 65534


@dataclass(frozen=True)
class Lattice:
    """A global EASE-Grid 2.0 lattice (EPSG:6933), centred on (0, 0)."""

    name: str
    cell: float
    cols: int
    rows: int

    @property
    def x0(self) -> float:
        return -self.cols / 2 * self.cell

    @property
    def y0(self) -> float:
        return self.rows / 2 * self.cell

    def window_grid(self, col0: int, row0: int, width: int, height: int) -> Grid:
        """The grid of the lattice window of ``width`` x ``height`` cells from column ``col0``, row ``row0``.

        Parameters
        ----------
        col0, row0 : int
            The window's first column and row in the lattice.
        width, height : int
            Its size in cells.

        Returns
        -------
        Grid
            The window's grid in EASE-Grid 2.0 (EPSG:6933) metres.
        """
        wkt = raster.srs_from_user(EASE_CRS).ExportToWkt()
        return Grid(wkt, (self.x0 + col0 * self.cell, self.cell, 0.0, self.y0 - row0 * self.cell, 0.0, -self.cell),
                    width, height)


M09 = Lattice("EASE-Grid 2.0 global 9 km", 9008.055210146, 3856, 1624)
M36 = Lattice("EASE-Grid 2.0 global 36 km", 36032.220840584, 964, 406)


@dataclass(frozen=True)
class Layer:
    """One soil moisture array of a product: dataset, quality flag (L3) and geolocation arrays."""

    data: str
    lat: str
    lon: str
    flag: str | None = None


@dataclass(frozen=True)
class Product:
    short_name: str
    title: str
    lattice: Lattice
    #: layer name -> {pass ('' for L4, 'am', 'pm') -> Layer}
    layers: dict[str, dict[str, Layer]]
    name_pattern: re.Pattern
    subdaily: bool = False


def _l3_layers() -> dict[str, dict[str, Layer]]:
    am = "Soil_Moisture_Retrieval_Data_AM/"
    pm = "Soil_Moisture_Retrieval_Data_PM/"
    return {"sm_surface": {
        "am": Layer(am + "soil_moisture", am + "latitude", am + "longitude", am + "retrieval_qual_flag"),
        "pm": Layer(pm + "soil_moisture_pm", pm + "latitude_pm", pm + "longitude_pm", pm + "retrieval_qual_flag_pm"),
    }}


PRODUCTS: dict[str, Product] = {p.short_name: p for p in (
    Product("SPL4SMGP", "SMAP L4 global 3-hourly 9 km surface and root-zone soil moisture", M09,
            {"sm_surface": {"": Layer("Geophysical_Data/sm_surface", "cell_lat", "cell_lon")},
             "sm_rootzone": {"": Layer("Geophysical_Data/sm_rootzone", "cell_lat", "cell_lon")}},
            re.compile(r"SMAP_L4_SM_gph_(\d{8}T\d{6})_(V[A-Za-z]?\d+)_\d+", re.I), subdaily=True),
    Product("SPL3SMP_E", "SMAP enhanced L3 radiometer global daily 9 km soil moisture", M09, _l3_layers(),
            re.compile(r"SMAP_L3_SM_P_E_(\d{8})_(R\d+)_\d+", re.I)),
    Product("SPL3SMP", "SMAP L3 radiometer global daily 36 km soil moisture", M36, _l3_layers(),
            re.compile(r"SMAP_L3_SM_P_(\d{8})_(R\d+)_\d+", re.I)),
)}
#: Names users may give for a product.
PRODUCT_ALIASES = {"L4": "SPL4SMGP", "SPL4SMGP": "SPL4SMGP", "L3E": "SPL3SMP_E", "L3_E": "SPL3SMP_E",
                   "SPL3SMP_E": "SPL3SMP_E", "L3": "SPL3SMP", "SPL3SMP": "SPL3SMP"}


@dataclass
class Granule:
    """One opened granule: its file, product, time stamp, version and the open multidimensional dataset."""

    path: str
    product: Product
    time: dt.datetime
    version: str
    ds: Any = field(repr=False, default=None)

    @property
    def date(self) -> dt.date:
        return self.time.date()


@dataclass
class ImportResult:
    manifest_path: str
    smap_files: list[str]
    factor_files: list[str]
    product: str
    version: str
    grid: Grid
    steps_written: list[str]
    steps_empty: list[str]
    granules_used: int
    granules_outside_dates: list[str]
    fine_grid: Grid | None = None

    @property
    def files(self) -> list[str]:
        return self.smap_files + self.factor_files + [self.manifest_path]


# -- opening granules -------------------------------------------------------------------------------

def _is_hdf5(path: str) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(2048 + 8)
    return any(head[o:o + 8] == HDF5_SIGNATURE for o in (0, 512, 1024, 2048))


def _hdf5_truncation(path: str, size: int) -> str | None:
    """A description when the HDF5 superblock's end-of-file address lies beyond the file's size, else None."""
    with open(path, "rb") as fh:
        head = fh.read(2048 + 96)
    base = next((o for o in (0, 512, 1024, 2048) if head[o:o + 8] == HDF5_SIGNATURE), None)
    if base is None or len(head) < base + 12:
        return None
    version = head[base + 8]
    if version in (0, 1):
        offsets = head[base + 13]
        at = base + (24 if version == 0 else 28) + 2 * offsets
    elif version in (2, 3):
        offsets = head[base + 9]
        at = base + 12 + 2 * offsets
    else:
        return None
    if offsets not in (2, 4, 8) or len(head) < at + offsets:
        return None
    eof = int.from_bytes(head[at:at + offsets], "little") + base
    if eof > size:
        return f"it has {size:,} bytes but its HDF5 header says {eof:,}: the download was cut short"
    return None


def _open_multidim(path: str) -> Any:
    """The file opened read-only with GDAL's HDF5 driver (multidimensional API), with clear errors."""
    name = os.path.basename(path)
    if not os.path.exists(path):
        raise InputError(f"SMAP granule not found: {path}. Check the path.")
    if os.path.isdir(path):
        raise InputError(f"{path} is a folder; choose the SMAP .h5 granules themselves.")
    try:
        size = os.path.getsize(path)
        is_hdf5 = size > 0 and _is_hdf5(path)
    except OSError as exc:
        raise InputError(f"SMAP granule is not readable: {path} ({exc.strerror or exc}). Check its permissions.") \
            from exc
    if size == 0:
        raise raster.damaged_error(path, "the file is empty, 0 bytes")
    if not is_hdf5:
        raise InputError(f"{name} is not an HDF5 file; give SMAP granules as NSIDC distributes them "
                         "(SMAP_L4_SM_gph_*.h5, SMAP_L3_SM_P_E_*.h5 or SMAP_L3_SM_P_*.h5).")
    cut = _hdf5_truncation(path, size)
    if cut:
        raise raster.damaged_error(path, cut)
    messages: list[str] = []
    gdal.PushErrorHandler(lambda cls, _n, msg: messages.append(msg))
    try:
        ds = gdal.OpenEx(path, gdal.OF_MULTIDIM_RASTER | gdal.OF_READONLY, allowed_drivers=["HDF5"])
    except RuntimeError as exc:
        messages.append(str(exc))
        ds = None
    finally:
        gdal.PopErrorHandler()
    if ds is None or ds.GetRootGroup() is None:
        raise raster.damaged_error(path, "the HDF5 library cannot read its structure")
    return ds


def _array(ds: Any, path_in_file: str) -> Any:
    """The array at ``group/.../name`` in an open multidimensional dataset, or None."""
    parts = [p for p in path_in_file.split("/") if p]
    group = ds.GetRootGroup()
    with raster.gdal_exceptions():
        for part in parts[:-1]:
            try:
                names = group.GetGroupNames() or []
            except RuntimeError:
                return None
            if part not in names:
                return None
            group = group.OpenGroup(part)
        try:
            names = group.GetMDArrayNames() or []
        except RuntimeError:
            return None
        if parts[-1] not in names:
            return None
        return group.OpenMDArray(parts[-1])


def _attr(obj: Any, name: str) -> Any:
    try:
        a = obj.GetAttribute(name)
    except RuntimeError:
        return None
    if a is None:
        return None
    try:
        value = a.Read()
    except RuntimeError:
        return None
    if isinstance(value, (list, tuple)):
        value = value[0] if len(value) == 1 else value
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value


def _shape(arr: Any) -> tuple[int, ...]:
    return tuple(int(d.GetSize()) for d in arr.GetDimensions())


def _group_names(ds: Any) -> list[str]:
    try:
        return list(ds.GetRootGroup().GetGroupNames() or [])
    except RuntimeError:
        return []


def _metadata_attr(ds: Any, group_path: str, name: str) -> Any:
    group = ds.GetRootGroup()
    with raster.gdal_exceptions():
        try:
            for part in group_path.split("/"):
                if part not in (group.GetGroupNames() or []):
                    return None
                group = group.OpenGroup(part)
        except RuntimeError:
            return None
        return _attr(group, name)


def _identify(ds: Any, path: str) -> Product:
    """The product a granule belongs to, from its contents (datasets and shapes), not its name."""
    name = os.path.basename(path)
    short = _metadata_attr(ds, "Metadata/DatasetIdentification", "shortName")
    l4 = _array(ds, "Geophysical_Data/sm_surface")
    l3 = _array(ds, "Soil_Moisture_Retrieval_Data_AM/soil_moisture")
    found = l4 if l4 is not None else l3
    if found is None:
        groups = _group_names(ds)
        what = f" (NSIDC short name {short})" if short else ""
        raise InputError(
            f"{name} is not a SMAP L4 (SPL4SMGP) or L3 (SPL3SMP_E, SPL3SMP) soil moisture granule{what}: it has no "
            "Geophysical_Data/sm_surface nor Soil_Moisture_Retrieval_Data_AM/soil_moisture"
            + (f" (its groups: {', '.join(groups[:8])})" if groups else "") + ". Give granules of one of these "
            "products.")
    shape = _shape(found)
    candidates = [p for p in PRODUCTS.values() if (p.short_name == "SPL4SMGP") == (l4 is not None)]
    for product in candidates:
        if shape == (product.lattice.rows, product.lattice.cols):
            if short and str(short).strip().upper() != product.short_name:
                raise InputError(f"{name} says it is {short} but its contents are those of {product.short_name}; "
                                 "the file is not a standard NSIDC granule. Download it again.")
            return product
    kinds = " or ".join(f"{p.lattice.rows} x {p.lattice.cols} ({p.short_name})" for p in candidates)
    raise InputError(f"{name} holds a {' x '.join(map(str, shape))} array instead of the global {kinds} grid: it is "
                     "a subset or reprojected file. Download the whole granule as NSIDC distributes it (no "
                     "subsetting or reformatting), which this algorithm places exactly on the EASE-Grid 2.0 lattice.")


def _granule_time(ds: Any, path: str, product: Product) -> tuple[dt.datetime, str]:
    """(time stamp, version) from NSIDC's file name, else from the file's metadata."""
    name = os.path.basename(path)
    version = str(_metadata_attr(ds, "Metadata/DatasetIdentification", "VersionID") or "").strip()
    m = product.name_pattern.search(name)
    if m:
        stamp, file_version = m.group(1), m.group(2)
        fmt = "%Y%m%dT%H%M%S" if "T" in stamp.upper() else "%Y%m%d"
        try:
            when = dt.datetime.strptime(stamp.upper(), fmt)
        except ValueError as exc:
            raise InputError(f"{name} carries an impossible date ({stamp}); keep NSIDC's file name.") from exc
        return when, file_version
    begin = str(_metadata_attr(ds, "Metadata/Extent", "rangeBeginningDateTime") or "")
    end = str(_metadata_attr(ds, "Metadata/Extent", "rangeEndingDateTime") or "")
    with contextlib.suppress(ValueError):
        t0 = dt.datetime.fromisoformat(begin.replace("Z", "").split(".")[0])
        t1 = dt.datetime.fromisoformat(end.replace("Z", "").split(".")[0]) if end else t0
        return t0 + (t1 - t0) / 2, version or "unknown"
    day = date_from_name(name)
    if day is not None:
        return dt.datetime(day.year, day.month, day.day, 12), version or "unknown"
    raise InputError(f"The date of {name} is unknown: neither its name ({product.short_name} granules are named "
                     "like " + ("SMAP_L4_SM_gph_20230601T013000_Vv7032_001.h5" if product.subdaily else
                                 "SMAP_L3_SM_P_E_20230601_R19240_001.h5") + ") nor its metadata give it. "
                     "Keep NSIDC's file names.")


@raster.gdal_exceptions()
def open_granule(path: str) -> Granule:
    """Open and identify one granule (product, time, version); raises InputError naming the problem.

    Parameters
    ----------
    path
        An NSIDC SMAP HDF5 granule (read-only).

    Returns
    -------
    Granule
        The granule's product, version, time and path.
    """
    ds = _open_multidim(path)
    product = _identify(ds, path)
    when, version = _granule_time(ds, path, product)
    return Granule(path, product, when, version, ds)


# -- area, steps -----------------------------------------------------------------------------------

def lattice_window(lattice: Lattice, geom: ogr.Geometry, srs: osr.SpatialReference) -> tuple[int, int, int, int]:
    """(col0, row0, width, height) of the whole lattice cells covering the area's envelope.

    Parameters
    ----------
    lattice : Lattice
        The SMAP lattice.
    geom : ogr.Geometry
        The area.
    srs : osr.SpatialReference
        The area's CRS.

    Returns
    -------
    tuple of int
        (col0, row0, width, height) in lattice cells.

    Raises
    ------
    InputError
        The area lies outside SMAP's global grid.
    """
    from .gee.fetch import _envelope_in

    ease = raster.srs_from_user(EASE_CRS)
    xmin, ymin, xmax, ymax = _envelope_in(geom, srs, ease)
    eps = 1e-9
    col0 = max(0, math.floor((xmin - lattice.x0) / lattice.cell + eps))
    col1 = min(lattice.cols, math.ceil((xmax - lattice.x0) / lattice.cell - eps))
    row0 = max(0, math.floor((lattice.y0 - ymax) / lattice.cell + eps))
    row1 = min(lattice.rows, math.ceil((lattice.y0 - ymin) / lattice.cell - eps))
    if col1 <= col0 or row1 <= row0:
        raise InputError("The area lies outside SMAP's global grid (about 85 S to 85 N); choose another area.")
    return col0, row0, col1 - col0, row1 - row0


def time_steps(start: dt.date, end: dt.date, step: str, days: int = 1) -> list[tuple[dt.date, dt.date, str]]:
    """``(start, end_exclusive, 'YYYYMMDD')`` steps covering ``start``..``end`` (inclusive).

    daily; 8day / 16day: the MODIS composite calendar (periods from day of year 1, 9, 17, ... or 1, 17, ...,
    restarting every 1 January); monthly: calendar months; ndays: ``days`` days from ``start``. The first and
    last periods are clipped to the range; the label is the (clipped) step start.

    Parameters
    ----------
    start, end : datetime.date
        The first and last day (inclusive).
    step : str
        One of :data:`STEPS`.
    days : int
        The step length for 'ndays'.

    Returns
    -------
    list of tuple
        (first day, day after the last, label 'YYYYMMDD') per step, in date order.

    Raises
    ------
    InputError
        An unknown step, a reversed date range, or fewer than 1 day per step.
    """
    if step not in STEPS:
        raise InputError(f"Unknown time step '{step}'; choose one of {', '.join(STEPS)}.")
    if end < start:
        raise InputError(f"The date range is reversed: the end date {end.isoformat()} is before the start date "
                         f"{start.isoformat()}. Swap them.")
    if step == "ndays" and (not isinstance(days, int) or days < 1):
        raise InputError(f"The number of days per time step must be a whole number of at least 1 (got {days}).")
    return calendar_steps(start, end, step, days)


# -- reading one granule's window -------------------------------------------------------------------

def _read_window(arr: Any, col0: int, row0: int, width: int, height: int, granule: Granule,
                 what: str) -> np.ndarray:
    try:
        with raster.gdal_exceptions():
            data = arr.ReadAsArray(array_start_idx=[row0, col0], count=[height, width])
    except RuntimeError as exc:
        raise raster.damaged_error(granule.path, f"reading {what} failed: {raster._detail(str(exc), granule.path)}") \
            from exc
    if data is None or data.shape != (height, width):
        raise raster.damaged_error(granule.path, f"reading {what} failed")
    return data


def _soil_moisture(granule: Granule, layer: Layer, window: tuple[int, int, int, int], quality: str,
                   check_geolocation: bool = True) -> np.ndarray:
    """The layer's values inside the window (float64, NaN where filled, out of range or failing quality)."""
    col0, row0, width, height = window
    name = os.path.basename(granule.path)
    arr = _array(granule.ds, layer.data)
    if arr is None:
        raise InputError(f"{name} lacks the dataset {layer.data} of {granule.product.short_name}; the file is "
                         "incomplete or not a standard granule. Download it again.")
    lattice = granule.product.lattice
    if _shape(arr) != (lattice.rows, lattice.cols):
        raise InputError(f"{name}: {layer.data} is {' x '.join(map(str, _shape(arr)))} instead of "
                         f"{lattice.rows} x {lattice.cols}; download the whole granule again.")
    values = _read_window(arr, col0, row0, width, height, granule, layer.data).astype(np.float64)
    fill = _attr(arr, "_FillValue")
    bad = ~np.isfinite(values) | (values == FILL)
    if fill is not None:
        with contextlib.suppress(TypeError, ValueError):
            bad |= values == float(np.float32(fill))
    lo, hi = _attr(arr, "valid_min"), _attr(arr, "valid_max")
    with np.errstate(invalid="ignore"):
        if lo is not None:
            bad |= values < float(lo) - 1e-6
        if hi is not None:
            bad |= values > float(hi) + 1e-6
    if layer.flag is not None:
        flag_arr = _array(granule.ds, layer.flag)
        if flag_arr is None:
            raise InputError(f"{name} lacks the quality flag {layer.flag}; the file is incomplete or not a standard "
                             "granule. Download it again.")
        flags = _read_window(flag_arr, col0, row0, width, height, granule, layer.flag).astype(np.int64)
        bad |= (flags == QUALITY_FILL) | (flags < 0) | ((flags & QUALITY_BITS[quality]) != 0)
    if check_geolocation:
        _check_geolocation(granule, layer, window, ~bad)
    values[bad] = np.nan
    return values


@functools.lru_cache(maxsize=8)
def _lattice_axes(lattice: Lattice) -> tuple[np.ndarray, np.ndarray]:
    """Longitude of every lattice column and latitude of every lattice row (PROJ, EPSG:6933 -> 4326).

    The projection is cylindrical: longitude depends on x only and latitude on y only, so two lines of
    points give the whole lattice.
    """
    xs = lattice.x0 + (np.arange(lattice.cols) + 0.5) * lattice.cell
    ys = lattice.y0 - (np.arange(lattice.rows) + 0.5) * lattice.cell
    ct = osr.CoordinateTransformation(raster.srs_from_user(EASE_CRS), raster.srs_from_user("EPSG:4326"))
    lon = np.array(ct.TransformPoints(np.column_stack([xs, np.zeros_like(xs)]).tolist()))[:, 0]
    lat = np.array(ct.TransformPoints(np.column_stack([np.zeros_like(ys), ys]).tolist()))[:, 1]
    lon.setflags(write=False)
    lat.setflags(write=False)
    return lon, lat


def lattice_lonlat(lattice: Lattice, window: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude of the lattice's cell centres inside the window, as (rows, cols) arrays.

    Parameters
    ----------
    lattice : Lattice
        The SMAP lattice.
    window : tuple of int
        (col0, row0, width, height) in lattice cells.

    Returns
    -------
    tuple of numpy.ndarray
        Longitude and latitude in degrees, each of shape (height, width) (read-only broadcast views).
    """
    col0, row0, width, height = window
    lon, lat = _lattice_axes(lattice)
    return np.broadcast_arrays(lon[None, col0:col0 + width], lat[row0:row0 + height, None])


def _check_geolocation(granule: Granule, layer: Layer, window: tuple[int, int, int, int],
                       where: np.ndarray) -> None:
    """Refuse a granule whose own cell latitudes/longitudes do not sit on the lattice's cell centres."""
    col0, row0, width, height = window
    lat_arr, lon_arr = _array(granule.ds, layer.lat), _array(granule.ds, layer.lon)
    if lat_arr is None or lon_arr is None:
        return  # geolocation arrays are optional for placement (the lattice is documented)
    lat = _read_window(lat_arr, col0, row0, width, height, granule, layer.lat).astype(np.float64)
    lon = _read_window(lon_arr, col0, row0, width, height, granule, layer.lon).astype(np.float64)
    ok = where & np.isfinite(lat) & np.isfinite(lon) & (lat != FILL) & (lon != FILL)
    if not ok.any():
        return
    exp_lon, exp_lat = lattice_lonlat(granule.product.lattice, window)
    dlon = np.abs((lon - exp_lon + 180.0) % 360.0 - 180.0)
    err = np.maximum(np.abs(lat - exp_lat), dlon)[ok]
    if float(err.max()) > GEOLOCATION_TOLERANCE:
        r, c = np.argwhere(ok & (np.maximum(np.abs(lat - exp_lat), dlon) == err.max()))[0]
        raise InputError(
            f"{os.path.basename(granule.path)} is not on the {granule.product.lattice.name} lattice: its cell at row "
            f"{row0 + r}, column {col0 + c} is at {lat[r, c]:.4f} N, {lon[r, c]:.4f} E instead of {exp_lat[r, c]:.4f} "
            f"N, {exp_lon[r, c]:.4f} E. The file is not a standard NSIDC granule; download it again.")


def _granule_values(granule: Granule, layer_name: str, window: tuple[int, int, int, int], passes: str,
                    quality: str) -> np.ndarray:
    """One granule's soil moisture in the window, AM/PM combined as asked (L3)."""
    layers = granule.product.layers.get(layer_name)
    if layers is None:
        known = ", ".join(granule.product.layers)
        extra = " Root-zone soil moisture comes only from SMAP L4 (SPL4SMGP)." if layer_name == "sm_rootzone" else ""
        raise InputError(f"{granule.product.short_name} has no layer '{layer_name}'; choose {known}.{extra}")
    if "" in layers:
        return _soil_moisture(granule, layers[""], window, quality)
    if passes == "am":
        return _soil_moisture(granule, layers["am"], window, quality)
    if passes == "pm":
        return _soil_moisture(granule, layers["pm"], window, quality)
    am = _soil_moisture(granule, layers["am"], window, quality)
    pm = _soil_moisture(granule, layers["pm"], window, quality)
    if passes == "am_then_pm":
        return np.where(np.isfinite(am), am, pm)
    both = np.isfinite(am) & np.isfinite(pm)
    return np.where(both, (am + pm) / 2, np.where(np.isfinite(am), am, pm))


# -- factors -----------------------------------------------------------------------------------------

def factor_name(path: str) -> str:
    """The factor a file holds: its band description, else its file name without the date.

    Parameters
    ----------
    path : str
        A single-band factor file.

    Returns
    -------
    str
        The factor's name.

    Raises
    ------
    InputError
        The file has more than one band.
    """
    ds = raster.open_raster(path)
    if ds.RasterCount != 1:
        raise InputError(f"{os.path.basename(path)} has {ds.RasterCount} bands; give one file per factor (or align "
                         "a multiband stack with smdownscale:align).")
    desc = (ds.GetRasterBand(1).GetDescription() or "").strip()
    if desc:
        return desc
    stem = os.path.splitext(os.path.basename(path))[0]
    return strip_date(stem) or stem


def plan_factors(paths: Sequence[str], steps: Sequence[tuple[dt.date, dt.date, str]]) -> tuple[
        list[str], dict[str, list[list[str]]]]:
    """Factor names (sorted) and, per step label, the files of each factor (in name order) for that step.

    A file without a date in its name is static (every step). Dated files of a factor: those dated inside
    the step are averaged; a step without any takes the latest file dated before it (a 16-day composite
    named by its first day covers the days after it).

    Parameters
    ----------
    paths : Sequence[str]
        Factor files, dated by name or undated (static).
    steps : Sequence[tuple[datetime.date, datetime.date, str]]
        The time steps (:func:`time_steps`).

    Returns
    -------
    tuple
        (factor names sorted, {step label: [the files of each factor, in name order]}).

    Raises
    ------
    InputError
        A factor given both dated and undated, several undated files of a factor, or no file dated on or
        before a step.
    """
    by_name: dict[str, list[tuple[dt.date | None, str]]] = defaultdict(list)
    for p in paths:
        by_name[factor_name(p)].append((date_from_name(p), p))
    names = sorted(by_name)
    plan: dict[str, list[list[str]]] = {}
    for s0, s1, label in steps:
        per_step = []
        for name in names:
            files = by_name[name]
            static = [p for d, p in files if d is None]
            dated = sorted((d, p) for d, p in files if d is not None)
            if static and dated:
                raise InputError(f"Factor '{name}' is given both as dated files and as a file without a date "
                                 f"({os.path.basename(static[0])}); give one or the other.")
            if len(static) > 1:
                raise InputError(f"Factor '{name}' is given by several files without a date: "
                                 f"{', '.join(os.path.basename(p) for p in static)}; keep one, or put dates in "
                                 "their names.")
            if static:
                per_step.append(static)
                continue
            inside = [p for d, p in dated if s0 <= d < s1]
            before = [p for d, p in dated if d < s0]
            if inside:
                per_step.append(inside)
            elif before:
                per_step.append([before[-1]])
            else:
                raise InputError(f"No '{name}' file is dated on or before the time step starting {s0.isoformat()} "
                                 f"(the first is {dated[0][0].isoformat()}); add one, or start the date range later.")
        plan[label] = per_step
    return names, plan


def _write_factor_stack(groups: Sequence[list[str]], names: Sequence[str], fine: Grid, out_path: str,
                        tmp_dir: str, metadata: dict[str, str], protected: dict[str, Any],
                        is_canceled: IsCanceled) -> None:
    """Align each factor's files onto ``fine`` (averaging several) and write the stack atomically."""
    from .align import align_rasters

    bands = []
    kinds = []
    for files in groups:
        acc = None
        count = None
        kind = "continuous"
        for i, p in enumerate(files):
            if is_canceled():
                raise Canceled()
            tmp = os.path.join(tmp_dir, f"{len(bands)}_{i}.tif")
            res = align_rasters([p], fine, tmp, protected=protected)
            kind = res.kinds[0]
            arr = raster.read_all(tmp)[0].astype(np.float64)
            if kind == "categorical":
                acc = arr  # classes are not averaged: the latest file inside the step
                continue
            valid = np.isfinite(arr)
            acc = np.where(valid, arr, 0.0) if acc is None else acc + np.where(valid, arr, 0.0)
            count = valid.astype(np.int32) if count is None else count + valid
            os.remove(tmp)
        if kind != "categorical" and acc is not None and count is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                acc = np.where(count > 0, acc / np.maximum(count, 1), np.nan)
        bands.append(acc.astype(np.float32))
        kinds.append(kind)
    raster.write_raster(out_path, fine, np.stack(bands), names=list(names), kinds=kinds, metadata=metadata)


# -- the import ---------------------------------------------------------------------------------------

def _as_date(value: dt.date | str | None, what: str) -> dt.date | None:
    return None if value in (None, "") else as_date(value, what)


def _check_same(granules: Sequence[Granule], product: str | None) -> Product:
    by_product = Counter(g.product.short_name for g in granules)
    if product:
        wanted = PRODUCT_ALIASES.get(str(product).strip().upper())
        if wanted is None:
            raise InputError(f"Unknown SMAP product '{product}'; choose SPL4SMGP (L4), SPL3SMP_E (L3 enhanced) or "
                             "SPL3SMP (L3).")
        others = [g for g in granules if g.product.short_name != wanted]
        if others:
            shown = ", ".join(f"{os.path.basename(g.path)} ({g.product.short_name})" for g in others[:5])
            raise InputError(f"{len(others)} granule(s) are not {wanted}: {shown}. Remove them or choose their "
                             "product.")
    elif len(by_product) > 1:
        parts = ", ".join(f"{n} ({c} file{'s' if c > 1 else ''})" for n, c in by_product.most_common())
        raise InputError(f"The granules mix SMAP products: {parts}. Import one product at a time.")
    versions = Counter(g.version for g in granules)
    if len(versions) > 1:
        parts = ", ".join(f"{v} ({c} file{'s' if c > 1 else ''})" for v, c in versions.most_common())
        raise InputError(f"The {granules[0].product.short_name} granules come from different versions: {parts}. "
                         "Values of different versions are not comparable; download every date from one version.")
    seen: dict[dt.datetime, str] = {}
    for g in granules:
        if g.time in seen:
            raise InputError(f"{os.path.basename(seen[g.time])} and {os.path.basename(g.path)} are the same "
                             f"{g.product.short_name} granule ({g.time.isoformat()}); give each granule once.")
        seen[g.time] = g.path
    return granules[0].product


@raster.gdal_exceptions()
def import_smap(granules: Sequence[str], out_dir: str, *args: Any, factors: Sequence[str] = (),
                modis: Sequence[str] = (), log: Callable[[str], None] | None = None, **kwargs: Any) -> ImportResult:
    """Import SMAP granules (see :func:`_import_smap`) into ``out_dir``; returns what was written.

    Parameters
    ----------
    granules
        Paths of the SMAP HDF5 granules.
    out_dir
        The folder receiving smap/, factors/ and manifest.json.
    *args, **kwargs
        Area, dates, time step, product, layer, passes, quality, fine grid, progress and cancel: see
        :func:`_import_smap`.
    factors
        Factor GeoTIFFs (one factor each, named by band description or file name).
    modis
        MODIS LST / NDVI files as downloaded (see :mod:`.modis`), masked and scaled into dated factor files in a
        temporary folder (removed afterwards), then aligned with the other ``factors``.
    log
        Messages for the user, or None.

    Returns
    -------
    ImportResult
        The files written and the manifest.

    Raises
    ------
    InputError
        See :func:`_import_smap` and :func:`.modis.convert`.
    """
    if not modis:
        return _import_smap(granules, out_dir, *args, factors=factors, log=log, **kwargs)
    from . import modis as modis_files

    if not granules:  # the same first message as without MODIS files
        return _import_smap(granules, out_dir, *args, factors=factors, log=log, **kwargs)
    tmp = tempfile.mkdtemp(prefix="smd-modis-")
    try:
        converted = modis_files.convert([os.path.abspath(p) for p in modis], tmp, log)
        return _import_smap(granules, out_dir, *args, factors=list(factors) + converted, log=log,
                            factor_sources=list(factors) + list(modis), **kwargs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _import_smap(granules: Sequence[str], out_dir: str, area: Any = None, area_crs: str | None = None,
                 start: dt.date | str | None = None, end: dt.date | str | None = None, step: str = "daily",
                 step_days: int = 1, product: str | None = None, layer: str = "sm_surface",
                 passes: str = "am_then_pm", quality: str = "recommended",
                 factors: Sequence[str] = (), fine_resolution: float = 1000.0, target_crs: str = EASE_CRS,
                 progress: Progress = no_progress, is_canceled: IsCanceled = never_canceled,
                 log: Callable[[str], None] | None = None,
                 factor_sources: Sequence[str] | None = None) -> ImportResult:
    """Import SMAP granules (see the module doc) into ``out_dir``; returns what was written.

    ``area``: an extent ``(xmin, ymin, xmax, ymax, crs)`` or a GeoJSON polygon with ``area_crs`` (see
    :func:`.gee.fetch.area_geometry`); None: the whole globe. ``start``/``end``: inclusive date range (default:
    the granules' dates). ``passes`` (L3): am, pm, mean (all valid retrievals) or am_then_pm (AM, PM where AM
    has none). ``quality`` (L3): recommended (bits 0-2 of retrieval_qual_flag clear) or retrieved (bits 1-2).
    Raises InputError before anything is written for bad inputs; removes what it wrote on error or cancel.

    Parameters
    ----------
    granules
        NSIDC SMAP HDF5 files (read-only).
    out_dir
        The folder receiving ``smap/``, ``factors/`` and ``manifest.json``.
    area, area_crs
        The area (None: the globe).
    start, end, step, step_days
        Dates (inclusive) and time step.
    product, layer, passes, quality
        What is read from the granules.
    factors, fine_resolution, target_crs
        Factor rasters to align per step, and their grid.
    progress, is_canceled
        Progress fraction and cancel check (:mod:`.raster` defaults).
    log
        Messages for the user, or None.

    Returns
    -------
    ImportResult
        The manifest, the files written, the product and grids, and which steps and granules were used.

    Raises
    ------
    InputError
        No folder or granules, an unknown pass, quality or layer, a granule given twice, no granule in the
        dates, no valid value in the area, or a write that fails.
    Canceled
        ``is_canceled()`` became true; the files of this run are removed.
    """
    from .gee.fetch import area_geometry, fine_grid

    say = log or (lambda _m: None)
    if not out_dir:
        raise InputError("No output folder was given; choose where to save the data.")
    out_dir = os.path.abspath(out_dir)
    if not granules:
        raise InputError("No SMAP granules were given; choose the .h5 files downloaded from NASA Earthdata.")
    if passes not in PASSES:
        raise InputError(f"Unknown AM/PM choice '{passes}'; choose one of {', '.join(PASSES)}.")
    if quality not in QUALITY:
        raise InputError(f"Unknown quality choice '{quality}'; choose recommended or retrieved.")
    start_d, end_d = _as_date(start, "start date"), _as_date(end, "end date")
    paths = [os.path.abspath(p) for p in granules]
    dupes = sorted({p for p in paths if paths.count(p) > 1})
    if dupes:
        raise InputError(f"{os.path.basename(dupes[0])} is given more than once; give each granule once.")
    opened: list[Granule] = []
    for i, p in enumerate(paths):
        if is_canceled():
            raise Canceled()
        opened.append(open_granule(p))
        progress(0.05 * (i + 1) / len(paths))
    prod = _check_same(opened, product)
    if layer not in prod.layers:
        known = ", ".join(prod.layers)
        extra = " Root-zone soil moisture comes only from SMAP L4 (SPL4SMGP)." if layer == "sm_rootzone" else ""
        raise InputError(f"{prod.short_name} has no layer '{layer}'; choose {known}.{extra}")
    dates = sorted(g.date for g in opened)
    start_d = start_d or dates[0]
    end_d = end_d or dates[-1]
    steps = time_steps(start_d, end_d, step, step_days)
    stop = steps[-1][1]
    outside = [os.path.basename(g.path) for g in opened if not (start_d <= g.date < stop)]
    used = [g for g in opened if start_d <= g.date < stop]
    if not used:
        raise InputError(f"None of the {len(opened)} granule(s) falls in {start_d.isoformat()} .. {end_d.isoformat()} "
                         f"(they cover {dates[0].isoformat()} .. {dates[-1].isoformat()}); change the dates or give "
                         "the granules of that period.")
    if outside:
        say(f"{len(outside)} granule(s) outside {start_d.isoformat()} .. {end_d.isoformat()} are not used: "
            + ", ".join(outside[:5]) + (" ..." if len(outside) > 5 else ""))
    if area is None:
        window = (0, 0, prod.lattice.cols, prod.lattice.rows)
        area_record: dict[str, Any] = {"bbox": None, "crs": None, "whole_grid": True}
    else:
        geom, srs = area_geometry(area, area_crs)
        window = lattice_window(prod.lattice, geom, srs)
        xmin, xmax, ymin, ymax = geom.GetEnvelope()
        auth = srs.GetAuthorityName(None)
        area_record = {"bbox": [xmin, ymin, xmax, ymax],
                       "crs": f"{auth}:{srs.GetAuthorityCode(None)}" if auth else srs.ExportToWkt()}
    grid = prod.lattice.window_grid(*window).check_size(
        "The SMAP window", "Choose a smaller area.", raster.MAX_COARSE_PIXELS)
    fine = None
    factor_names: list[str] = []
    factor_plan: dict[str, list[list[str]]] = {}
    if factors:
        fine = fine_grid(grid, target_crs, float(fine_resolution))
        factor_names, factor_plan = plan_factors(list(factors), steps)
    say(f"{len(used)} {prod.short_name} granule(s) ({used[0].version}), {len(steps)} time step(s); SMAP window "
        f"{grid.width} x {grid.height} cells of {prod.lattice.cell:.3f} m (columns {window[0]}-"
        f"{window[0] + window[2] - 1}, rows {window[1]}-{window[1] + window[3] - 1} of the {prod.lattice.name}).")

    by_step: dict[str, list[Granule]] = defaultdict(list)
    for g in used:
        for s0, s1, label in steps:
            if s0 <= g.date < s1:
                by_step[label].append(g)
                break
    written: list[str] = []
    smap_files: list[str] = []
    factor_files: list[str] = []
    step_files: list[dict[str, Any]] = []
    steps_empty: list[str] = []
    granule_names: dict[str, list[str]] = {}
    total = float(len(used) + (len(steps) * 2 if factors else 0))
    done = 0.0
    tmp_dir = None
    protected = {"SMAP granules": paths, "factor files": [os.path.abspath(p) for p in factor_sources or ()]}
    created_out = not os.path.exists(out_dir)
    try:
        for s0, s1, label in steps:
            members = sorted(by_step.get(label, []), key=lambda g: g.time)
            if not members:
                steps_empty.append(s0.isoformat())
                say(f"{s0.isoformat()}: no granule in this time step; nothing written for it.")
                continue
            total_sum = np.zeros((window[3], window[2]), np.float64)
            count = np.zeros((window[3], window[2]), np.int32)
            for g in members:
                if is_canceled():
                    raise Canceled()
                values = _granule_values(g, layer, window, passes, quality)
                ok = np.isfinite(values)
                total_sum[ok] += values[ok]
                count += ok
                done += 1
                progress(0.05 + 0.95 * done / total)
            if not count.any():
                steps_empty.append(s0.isoformat())
                say(f"{s0.isoformat()}: no valid SMAP value in the area ({len(members)} granule(s), all filled or "
                    "failing the quality flags); nothing written for it.")
                continue
            mean = np.where(count > 0, total_sum / np.maximum(count, 1), np.nan).astype(np.float32)
            meta = {"SMD_DATE": s0.isoformat(), "SMD_DATE_END": (s1 - dt.timedelta(days=1)).isoformat(),
                    "SMD_SOURCE": f"{prod.short_name} {members[0].version}", "SMD_GRANULES": str(len(members))}
            smap_path = os.path.join(out_dir, "smap", f"smap_{label}.tif")
            raster.check_output_path(smap_path)  # creates the folders, or names why it cannot
            existed = os.path.exists(smap_path)
            raster.write_raster(smap_path, grid, mean, names=[layer], metadata=meta)
            if not existed:
                written.append(smap_path)
            smap_files.append(smap_path)
            granule_names[s0.isoformat()] = [os.path.basename(g.path) for g in members]
            stack_path = None
            if factors and fine is not None:
                stack_path = os.path.join(out_dir, "factors", f"factors_{label}.tif")
                raster.check_output_path(stack_path)
                tmp_dir = tmp_dir or tempfile.mkdtemp(prefix=".smd-factors-", dir=out_dir)
                existed = os.path.exists(stack_path)
                _write_factor_stack(factor_plan[label], factor_names, fine, stack_path, tmp_dir, meta,
                                    protected, is_canceled)
                if not existed:
                    written.append(stack_path)
                factor_files.append(stack_path)
                done += 2
                progress(0.05 + 0.95 * done / total)
            step_files.append({"date": s0.isoformat(), "end": s1.isoformat(), "smap": smap_path,
                               "factors": stack_path})
            say(f"{s0.isoformat()}: {len(members)} granule(s), {int((count > 0).sum())} of {count.size} cells with "
                f"data -> {os.path.relpath(smap_path, out_dir)}")
        if not step_files:
            raise InputError(f"No valid SMAP value inside the area in any of the {len(used)} granule(s) "
                             f"({start_d.isoformat()} .. {end_d.isoformat()}): every cell is filled"
                             + (" or fails the quality flags" if prod.short_name != "SPL4SMGP" else "")
                             + ". Check that the area is on land inside the granules, or choose other dates"
                             + (" or keep every retrieval (quality 'retrieved')." if prod.short_name != "SPL4SMGP"
                                else "."))
        request = {
            "area": area_record, "start": start_d.isoformat(), "end": end_d.isoformat(), "step": step,
            "step_days": step_days if step == "ndays" else None, "smap_product": prod.short_name,
            "smap_layer": layer, "passes": passes if prod.short_name != "SPL4SMGP" else None,
            "quality": quality if prod.short_name != "SPL4SMGP" else None,
            "smap_grid": {"crs": EASE_CRS, "transform": list(grid.transform), "width": grid.width,
                          "height": grid.height, "lattice": prod.lattice.name, "window": list(window)},
        }
        if fine is not None:
            request.update({"factors": factor_names, "crs": target_crs, "resolution": float(fine_resolution),
                            "fine_grid": {"crs": target_crs, "transform": list(fine.transform), "width": fine.width,
                                          "height": fine.height}})
        bands: dict[str, Any] = {"smap": {"name": layer, "unit": "m3/m3", "product": prod.short_name}}
        if factor_names:
            kinds = raster.band_kinds(raster.open_raster(factor_files[0]))
            bands["factors"] = [{"name": n, "unit": "", "kind": k} for n, k in zip(factor_names, kinds)]
        provenance = {"source": "NASA Earthdata (NSIDC) granules, imported from local files",
                      "requested": utc_now(), "product": prod.short_name, "title": prod.title,
                      "versions": {layer: f"{prod.short_name} {used[0].version}"},
                      "granules": granule_names, "gdal": gdal.__version__,
                      "factor_files": sorted({os.path.basename(p) for p in (factor_sources or factors)})}
        manifest_path = write_manifest(os.path.join(out_dir, "manifest.json"), step_files, bands, request, provenance)
    except BaseException as exc:
        if tmp_dir:
            shutil.rmtree(tmp_dir, ignore_errors=True)
        remove_written(out_dir, written)
        if created_out:
            with contextlib.suppress(OSError):
                os.rmdir(out_dir)
        mapped = raster.write_failure(exc, out_dir) if isinstance(exc, OSError) else None
        if mapped is not None:
            raise mapped from exc
        raise
    finally:
        if tmp_dir:
            shutil.rmtree(tmp_dir, ignore_errors=True)
        for g in opened:
            g.ds = None
    progress(1.0)
    return ImportResult(manifest_path, smap_files, factor_files, prod.short_name, used[0].version, grid,
                        [s["date"] for s in step_files], steps_empty, sum(len(v) for v in granule_names.values()),
                        outside, fine)
