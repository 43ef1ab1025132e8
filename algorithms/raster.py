"""Raster input/output shared by every engine module.

One place opens rasters (with clear errors), describes grids, iterates blocks with progress and
cancel, and writes GeoTIFFs atomically (temporary name, renamed when complete, removed on failure
or cancel). Pixel values inside the engine are float arrays with ``NaN`` for nodata.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import re
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
from osgeo import gdal, ogr, osr

from .errors import Canceled, InputError
from .grids import NOMINAL_METRES_PER_DEGREE

try:
    from osgeo import gdal_array
except ImportError:  # pragma: no cover - GDAL built without numpy support
    gdal_array = None

Progress = Callable[[float], None]
IsCanceled = Callable[[], bool]

NODATA_F32 = -9999.0
GTIFF_OPTIONS = ["TILED=YES", "COMPRESS=DEFLATE", "PREDICTOR=3", "BIGTIFF=IF_SAFER", "NUM_THREADS=2"]
#: Metadata key marking a categorical band (land cover classes): aggregated as class fractions.
KIND_KEY = "SMD_KIND"
#: Largest grid the engine writes or warps onto (2 billion pixels: the world at 1 km is 0.8 billion).
MAX_GRID_PIXELS = 2_000_000_000
#: Largest coarse grid, which the engine holds in memory whole (the world at 9 km is 6 million cells).
MAX_COARSE_PIXELS = 50_000_000


# -- GDAL's exception mode, scoped to the engine's own calls --------------------------------------
# The engine relies on GDAL raising RuntimeError. Switching that on for the whole process (at import)
# would change every other plugin sharing QGIS's Python, so it is switched on only while engine code
# runs and restored exactly afterwards. GDAL >= 3.7 keeps a per-thread override (what its own
# ExceptionMgr uses): each thread sets and restores its own. Older GDAL has one process-wide switch
# per module: the first engine call to enter (of any thread) switches the modules that were off on,
# the last one to leave switches them off again, in reverse order (GDAL < 3.7 requires it).
_EXCEPTION_MODULES = tuple(m for m in (gdal, ogr, osr, gdal_array) if m is not None)
_THREAD_LOCAL = all(hasattr(m, "_GetExceptionsLocal") and hasattr(m, "_SetExceptionsLocal")
                    for m in (gdal, ogr, osr))
_mode_lock = threading.RLock()
_mode_depth = 0
_mode_switched: list = []  # modules switched on by the outermost engine call (process-wide mode)


@contextlib.contextmanager
def gdal_exceptions() -> Iterator[None]:
    """Run the body with GDAL, OGR and OSR raising RuntimeError on errors; restore each module's mode after.

    Usable as ``with gdal_exceptions():`` and as the decorator ``@gdal_exceptions()``; nests; restores
    the modes also when the body raises. Every engine entry point runs inside it.
    """
    if _THREAD_LOCAL:
        modules = [m for m in _EXCEPTION_MODULES if hasattr(m, "_SetExceptionsLocal")]
        saved = [m._GetExceptionsLocal() for m in modules]
        for m in modules:
            m._SetExceptionsLocal(1)
        try:
            yield
        finally:
            for m, value in zip(modules, saved):
                m._SetExceptionsLocal(value)
        return
    global _mode_depth, _mode_switched
    with _mode_lock:
        if _mode_depth == 0:
            _mode_switched = []
            for m in (gdal, ogr, osr):  # gdal_array follows gdal's mode before GDAL 3.7
                if not m.GetUseExceptions():
                    m.UseExceptions()
                    _mode_switched.append(m)
        _mode_depth += 1
    try:
        yield
    finally:
        with _mode_lock:
            _mode_depth -= 1
            if _mode_depth == 0:
                for m in reversed(_mode_switched):
                    # refused (and left on) only if other code switched modes on meanwhile and is still inside
                    with contextlib.suppress(RuntimeError):
                        m.DontUseExceptions()
                _mode_switched = []


def no_progress(_fraction: float) -> None:
    """Default progress callback.

    Parameters
    ----------
    _fraction : float
        The fraction done (0 to 1), ignored.
    """


def never_canceled() -> bool:
    """Default cancel callback.

    Returns
    -------
    bool
        Always False.
    """
    return False


@gdal_exceptions()
def srs_from_wkt(wkt: str) -> osr.SpatialReference:
    """A spatial reference from WKT, axes in GIS order (x = easting/longitude).

    Parameters
    ----------
    wkt
        A CRS as WKT.

    Returns
    -------
    osr.SpatialReference
        The CRS, traditional GIS axis order.
    """
    srs = osr.SpatialReference()
    srs.ImportFromWkt(wkt)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


@gdal_exceptions()
def srs_from_user(text: str) -> osr.SpatialReference:
    """A CRS from 'EPSG:6933', a PROJ string or WKT.

    Parameters
    ----------
    text
        'EPSG:code', a PROJ string or WKT.

    Returns
    -------
    osr.SpatialReference
        The CRS, traditional GIS axis order.

    Raises
    ------
    InputError
        ``text`` is not a CRS GDAL understands.
    """
    srs = osr.SpatialReference()
    try:
        srs.SetFromUserInput(text)
    except RuntimeError as exc:
        raise InputError(f"'{text}' is not a coordinate reference system GDAL understands; "
                         "give it as EPSG:code, a PROJ string or WKT.") from exc
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid: CRS (WKT), geotransform and size."""

    crs_wkt: str
    transform: tuple[float, float, float, float, float, float]
    width: int
    height: int

    @classmethod
    @gdal_exceptions()
    def from_dataset(cls, ds: gdal.Dataset, path: str = "") -> Grid:
        """The grid of an open raster (``path`` names it in errors).

        Parameters
        ----------
        ds : gdal.Dataset
            An open raster.
        path : str
            The name used in error messages (empty: the dataset's description).

        Returns
        -------
        Grid
            Its CRS (WKT), geotransform, width and height.

        Raises
        ------
        InputError
            The raster has no CRS (or no georeferencing at all) or is rotated, or its header is damaged.
        """
        wkt = ds.GetProjection()
        if not wkt:
            damage = _damage(ds)  # a header cut short loses the CRS tags: not a file without CRS
            if damage:
                raise damaged_error(path or ds.GetDescription() or "The raster", _detail(damage, path))
            if ds.GetGeoTransform(can_return_null=True) is None:  # a layer of an HDF5/netCDF granule, a plain image
                raise InputError(f"{path or 'The raster'} has no georeferencing (neither a coordinate reference "
                                 "system nor a geotransform), so its pixels have no place on the Earth. For a layer of "
                                 "an NSIDC SMAP granule, use smdownscale:importsmap (Import SMAP granules), which "
                                 "places it on SMAP's EASE-Grid 2.0; otherwise georeference the raster (gdal_translate "
                                 "-a_srs -a_ullr, or the Georeferencer in QGIS) and run again.")
            raise InputError(f"{path or 'The raster'} has no coordinate reference system; "
                             "assign one (e.g. with 'Assign projection' in QGIS or gdal_edit.py -a_srs) and run again.")
        gt = tuple(ds.GetGeoTransform())
        if gt[2] != 0 or gt[4] != 0:
            raise InputError(f"{path or 'The raster'} is rotated; warp it to a north-up grid first (gdalwarp).")
        return cls(wkt, gt, ds.RasterXSize, ds.RasterYSize)  # type: ignore[arg-type]

    @classmethod
    def from_path(cls, path: str) -> Grid:
        """The grid of the raster at ``path`` (opened read-only).

        Parameters
        ----------
        path : str
            A raster file.

        Returns
        -------
        Grid
            Its grid.

        Raises
        ------
        InputError
            From :func:`open_raster` and :meth:`from_dataset`.
        """
        return cls.from_dataset(open_raster(path), path)

    @classmethod
    def from_extent(cls, crs_wkt: str, xmin: float, ymin: float, xmax: float, ymax: float,
                    res: float) -> Grid:
        """A north-up grid of ``res`` pixels from ``xmin``/``ymax`` covering the extent (width and height
        rounded).

        Parameters
        ----------
        crs_wkt : str
            The grid's CRS as WKT.
        xmin, ymin, xmax, ymax : float
            The extent, in the CRS's units.
        res : float
            The pixel size, in the CRS's units (square pixels).

        Returns
        -------
        Grid
            The grid; its extent may differ from the one given by up to half a pixel on the right and bottom.

        Raises
        ------
        InputError
            ``res`` is not positive or the extent is empty.
        """
        if res <= 0:
            raise InputError(f"The resolution must be positive (got {res}).")
        if xmax <= xmin or ymax <= ymin:
            raise InputError("The extent is empty: its maximum must be greater than its minimum.")
        width = max(1, int(round((xmax - xmin) / res)))
        height = max(1, int(round((ymax - ymin) / res)))
        return cls(crs_wkt, (xmin, res, 0.0, ymax, 0.0, -res), width, height)

    @property
    def res(self) -> tuple[float, float]:
        return self.transform[1], -self.transform[5]

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax)."""
        x0, dx, _, y0, _, dy = self.transform
        return x0, y0 + dy * self.height, x0 + dx * self.width, y0

    @property
    def srs(self) -> osr.SpatialReference:
        return srs_from_wkt(self.crs_wkt)

    @property
    def size(self) -> int:
        return self.width * self.height

    def check_size(self, what: str, fix: str = "", max_pixels: int = MAX_GRID_PIXELS) -> Grid:
        """Refuse a grid larger than ``max_pixels`` before anything is allocated or written; returns the grid.

        ``what`` names the grid as the user gave it (e.g. "The reference raster ref.tif"); ``fix`` says what
        to change (a default names the resolution and extent).

        Parameters
        ----------
        what : str
            The grid as the user gave it, for the message.
        fix : str
            What to change (empty: a text naming the resolution and its units).
        max_pixels : int
            The largest grid accepted, in pixels (width x height).

        Returns
        -------
        Grid
            This grid, unchanged.

        Raises
        ------
        InputError
            The grid is empty or larger than ``max_pixels`` (the message names the size and the fix).
        """
        n = int(self.width) * int(self.height)
        if self.width < 1 or self.height < 1:
            raise InputError(f"{what} defines an empty grid ({self.width} x {self.height} pixels).")
        if n <= max_pixels:
            return self
        srs = self.srs
        units = "degrees" if srs.IsGeographic() else (srs.GetLinearUnitsName() or "CRS units")
        gb = n * 4 / 2**30
        fix = fix or ("Check the resolution: it is in the units of the target CRS "
                      f"({units}); choose a coarser resolution or a smaller extent.")
        raise InputError(f"{what} is a {self.width} x {self.height} pixel grid of {self.res[0]:.6g} {units} "
                         f"({n:,} pixels, {gb:,.1f} GB per band); smdownscale works on grids of at most "
                         f"{max_pixels:,} pixels. {fix}")

    def same_as(self, other: Grid, tol: float = 1e-6) -> bool:
        """Whether ``other`` has the same size, CRS and transform (within ``tol`` of a pixel).

        Parameters
        ----------
        other : Grid
            The grid to compare with.
        tol : float
            Tolerance on the transform, in pixels of this grid.

        Returns
        -------
        bool
            True when size, CRS and transform match.
        """
        return (self.width == other.width and self.height == other.height
                and np.allclose(self.transform, other.transform, atol=tol * max(abs(self.res[0]), 1e-12))
                and bool(self.srs.IsSame(other.srs)))

    def centers(self, row0: int, nrows: int) -> tuple[np.ndarray, np.ndarray]:
        """x and y of pixel centers for rows ``row0 .. row0+nrows-1`` (arrays of shape (nrows, width)).

        Parameters
        ----------
        row0 : int
            The first row (0-based).
        nrows : int
            The number of rows.

        Returns
        -------
        tuple of numpy.ndarray
            x and y of the pixel centers in the grid's CRS, each of shape (nrows, width).
        """
        x0, dx, _, y0, _, dy = self.transform
        xs = x0 + (np.arange(self.width) + 0.5) * dx
        ys = y0 + (np.arange(row0, row0 + nrows) + 0.5) * dy
        return np.meshgrid(xs, ys)

    @gdal_exceptions()
    def extent_in(self, other_wkt: str) -> tuple[float, float, float, float]:
        """This grid's extent transformed into another CRS (densified edges).

        Parameters
        ----------
        other_wkt : str
            The target CRS as WKT.

        Returns
        -------
        tuple of float
            (xmin, ymin, xmax, ymax) in the target CRS: the bounding box of the transformed edges (21 points each).

        Raises
        ------
        InputError
            The extent cannot be transformed into the other CRS.
        """
        ct = osr.CoordinateTransformation(self.srs, srs_from_wkt(other_wkt))
        xmin, ymin, xmax, ymax = self.extent
        t = np.linspace(0.0, 1.0, 21)
        xs = np.concatenate([xmin + (xmax - xmin) * t, np.full(21, xmax), xmin + (xmax - xmin) * t, np.full(21, xmin)])
        ys = np.concatenate([np.full(21, ymin), ymin + (ymax - ymin) * t, np.full(21, ymax), ymin + (ymax - ymin) * t])
        pts = np.array(ct.TransformPoints(np.column_stack([xs, ys]).tolist()))
        ok = np.isfinite(pts[:, 0]) & np.isfinite(pts[:, 1])
        if not ok.any():
            raise InputError("The raster extents cannot be transformed between their coordinate systems.")
        return (float(pts[ok, 0].min()), float(pts[ok, 1].min()), float(pts[ok, 0].max()), float(pts[ok, 1].max()))

    def overlaps(self, other: Grid) -> bool:
        """Whether the extents of the two grids overlap (``other``'s transformed into this CRS).

        Parameters
        ----------
        other : Grid
            The other grid, in any CRS.

        Returns
        -------
        bool
            True when the extents overlap (touching edges do not count).
        """
        a = self.extent
        b = other.extent_in(self.crs_wkt)
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    @property
    def units(self) -> str:
        """The CRS's unit of length as people name it: 'degrees', 'metre', 'US survey foot', ..."""
        srs = self.srs
        if srs.IsGeographic():
            return "degrees"
        return srs.GetLinearUnitsName() or "CRS units"

    def _centre_lonlat(self) -> list[tuple[float, float]] | None:
        """Lon/lat of the centre pixel's corner and of its neighbours along x and y (None: no transformation)."""
        x0, dx, _rx, y0, _ry, dy = self.transform
        cx, cy = x0 + dx * self.width / 2.0, y0 + dy * self.height / 2.0
        try:
            ct = osr.CoordinateTransformation(self.srs, srs_from_user("EPSG:4326"))
            points = [ct.TransformPoint(x, y)[:2] for x, y in ((cx, cy), (cx + dx, cy), (cx, cy + dy))]
        except (RuntimeError, InputError):
            return None
        return points if all(math.isfinite(v) for p in points for v in p) else None

    def _nominal_res(self) -> tuple[float, float]:
        """The pixel size in metres from the CRS's unit (111 319.49 m per degree)."""
        srs = self.srs
        unit = srs.GetLinearUnits() if srs.IsProjected() else NOMINAL_METRES_PER_DEGREE
        return abs(self.transform[1]) * unit, abs(self.transform[5]) * unit

    @gdal_exceptions()
    def ground_res(self) -> tuple[float, float]:
        """The ground size of one pixel at the grid's centre, in metres (degrees converted at its latitude).

        Returns
        -------
        tuple of float
            (x, y) sides in metres: great-circle distances from the centre pixel to its neighbours; the nominal
            size (CRS unit x pixel size, 111 319.49 m per degree) when the CRS cannot be transformed to lon/lat.
        """
        points = self._centre_lonlat()
        if points is None:
            return self._nominal_res()
        (lon0, lat0), (lon1, lat1), (lon2, lat2) = points
        gx, gy = ground_distance(lon0, lat0, lon1, lat1), ground_distance(lon0, lat0, lon2, lat2)
        if not (math.isfinite(gx) and math.isfinite(gy) and gx > 0 and gy > 0):
            return self._nominal_res()
        return gx, gy

    @gdal_exceptions()
    def ground_side(self) -> float:
        """The side of a square of the ground area of one pixel at the grid's centre, in metres.

        Unlike :meth:`ground_res` it is right for sheared pixels too: far from its central meridian a sinusoidal
        grid's (MODIS) pixels are parallelograms whose neighbour along y lies much further than the pixel's height,
        though each covers its nominal area.

        Returns
        -------
        float
            sqrt(area) in metres: the cross product of the centre pixel's sides along x and y as east and north
            components on the mean Earth sphere; the nominal size when the CRS cannot be transformed to lon/lat.
        """
        points = self._centre_lonlat()
        nx, ny = self._nominal_res()
        if points is None:
            return math.sqrt(nx * ny)
        (lon0, lat0), *others = points
        k = math.radians(1.0) * EARTH_RADIUS
        (e1, n1), (e2, n2) = ((((lon - lon0 + 180.0) % 360.0 - 180.0) * k * math.cos(math.radians(lat0)),
                               (lat - lat0) * k) for lon, lat in others)
        area = abs(e1 * n2 - e2 * n1)
        return math.sqrt(area) if math.isfinite(area) and area > 0 else math.sqrt(nx * ny)


#: The mean Earth radius (m), for ground distances.
EARTH_RADIUS = 6371008.8


def ground_distance(lon0: float, lat0: float, lon1: float, lat1: float) -> float:
    """Great-circle distance in metres (haversine on the mean Earth sphere, ample for pixel sizes).

    Parameters
    ----------
    lon0, lat0, lon1, lat1 : float
        The two points, in degrees.

    Returns
    -------
    float
        The distance in metres.
    """
    p0, p1 = math.radians(lat0), math.radians(lat1)
    a = (math.sin((p1 - p0) / 2) ** 2
         + math.cos(p0) * math.cos(p1) * math.sin(math.radians(lon1 - lon0) / 2) ** 2)
    return 2 * EARTH_RADIUS * math.asin(min(1.0, math.sqrt(a)))


#: Dataset metadata of a coarse stack (align's aggregate_stack): the resolution record of the fine stack it averages.
FINE_RESOLUTION_KEY = "SMD_FINE_RESOLUTION"


def resolution_record(grid: Grid) -> dict[str, Any]:
    """What a model file records of the resolution of the factor stacks it was trained on.

    Parameters
    ----------
    grid : Grid
        A factor stack's grid.

    Returns
    -------
    dict
        ``x``, ``y`` (pixel size in the CRS's units), ``units`` ('metre', 'degrees', ...), ``metres`` (the ground
        sides at the grid's centre, :meth:`Grid.ground_res`) and ``side`` (the side of the pixel's ground area there,
        :meth:`Grid.ground_side`: what resolutions are compared by).
    """
    gx, gy = grid.ground_res()
    return {"x": abs(float(grid.transform[1])), "y": abs(float(grid.transform[5])), "units": grid.units,
            "metres": [float(gx), float(gy)], "side": float(grid.ground_side())}


def resolution_side(record: Mapping[str, Any]) -> float:
    """The pixel size of a resolution record in metres: its ``side``, or for a record without one (written before
    it was recorded) the geometric mean of its ``metres``.

    Parameters
    ----------
    record : Mapping[str, Any]
        A :func:`resolution_record`.

    Returns
    -------
    float
        Metres.

    Raises
    ------
    KeyError, TypeError, ValueError, IndexError, AttributeError
        The record is damaged.
    """
    side = record.get("side")
    if side is not None:
        return float(side)
    return math.sqrt(float(record["metres"][0]) * float(record["metres"][1]))


def is_metres(units: str) -> bool:
    """Whether a CRS's unit name (:attr:`Grid.units`, GDAL's linear unit name) is the metre.

    Parameters
    ----------
    units : str
        The unit's name.

    Returns
    -------
    bool
        True for 'metre', 'meter' or 'metres' in any case.
    """
    return units.lower() in ("metre", "meter", "metres")


def describe_resolution(record: Mapping[str, Any]) -> str:
    """A resolution record as people read it: '1000 m', '0.01 degrees (about 890 m)'.

    Parameters
    ----------
    record : Mapping[str, Any]
        A :func:`resolution_record`.

    Returns
    -------
    str
        The pixel size in the CRS's units, with its size in metres when the units are not metres.
    """
    x, y, units = float(record["x"]), float(record["y"]), str(record.get("units") or "")
    metres = resolution_side(record)
    size = f"{x:g}" if math.isclose(x, y, rel_tol=1e-6) else f"{x:g} x {y:g}"
    if is_metres(units):
        return f"{size} m"
    return f"{size} {units} (about {metres:.0f} m)"


#: A pixel size below this many metres in a projected CRS was typed in degrees (no soil moisture product is that fine).
SMALLEST_METRES = 1.0


def check_resolution_units(resolution: float, srs: osr.SpatialReference, what: str) -> None:
    """Refuse a pixel size in a projected CRS that is below 1 m: a value such as 0.01 was meant in degrees.

    Such a grid would be refused as too large anyway, by a message that does not name the unit.

    Parameters
    ----------
    resolution : float
        The pixel size as given, in the CRS's units.
    srs : osr.SpatialReference
        The CRS it is in (a geographic CRS is not checked).
    what : str
        The parameter as the user gave it, e.g. "The fine resolution (FINE_RESOLUTION)".

    Raises
    ------
    InputError
        The CRS is projected and the pixel size is below :data:`SMALLEST_METRES`.
    """
    if not srs.IsProjected() or not resolution > 0:
        return
    metres = resolution * (srs.GetLinearUnits() or 1.0)
    if metres >= SMALLEST_METRES:
        return
    name = srs.GetLinearUnitsName() or "CRS units"
    units = "metres" if is_metres(name) else name
    per_unit = srs.GetLinearUnits() or 1.0
    as_degrees = resolution * NOMINAL_METRES_PER_DEGREE / per_unit
    raise InputError(f"{what} is {resolution:g}, in the units of the target CRS ({units}): pixels of {metres:.3g} m. "
                     f"{resolution:g} looks like a value in degrees ({resolution:g} degree is about "
                     f"{as_degrees:.0f} {units}). Give the pixel size in {units}: about {1000.0 / per_unit:.0f} "
                     "for 1 km.")


def _north_up(grid: Grid, path: str) -> Grid:
    """The grid, refused when its rows run south to north (a positive pixel height): extents, cells and outputs
    are computed for north-up grids."""
    if grid.transform[5] > 0:
        name = os.path.basename(path)
        raise InputError(f"{name} is stored south-up (its first row is the southernmost, the pixel height "
                         f"{grid.transform[5]:g} is positive); warp it to a north-up grid first (gdalwarp {name} "
                         "north_up.tif, or QGIS Raster > Projections > Warp) and give that raster.")
    return grid


def stack_grid(ds: gdal.Dataset, path: str) -> Grid:
    """The grid of a fine factor stack, size-checked (the grid the 1 km outputs are written on).

    Parameters
    ----------
    ds : gdal.Dataset
        The open factor stack.
    path : str
        Its path, named in errors.

    Returns
    -------
    Grid
        Its grid, checked against :data:`MAX_GRID_PIXELS`.

    Raises
    ------
    InputError
        The raster has no CRS, is rotated, south-up or damaged, or its grid is larger than the limit.
    """
    return _north_up(Grid.from_dataset(ds, path), path).check_size(
        f"The factor stack {os.path.basename(path)}",
        "Align the factors onto the 1 km grid of the area (smdownscale:align) and use that stack.")


def coarse_grid(ds: gdal.Dataset, path: str) -> Grid:
    """The grid of a coarse soil moisture raster, size-checked against the coarse limit (held in memory whole).

    Parameters
    ----------
    ds : gdal.Dataset
        The open soil moisture raster.
    path : str
        Its path, named in errors.

    Returns
    -------
    Grid
        Its grid, checked against :data:`MAX_COARSE_PIXELS`.

    Raises
    ------
    InputError
        The raster has no CRS, is rotated, south-up or damaged, or its grid is larger than the limit.
    """
    return _north_up(Grid.from_dataset(ds, path), path).check_size(
        f"The soil moisture raster {os.path.basename(path)}", "Give the coarse (~9 km) SMAP raster of the area.",
        MAX_COARSE_PIXELS)


_GDAL_PREFIX = re.compile(r"^[A-Z][A-Z0-9_]+:")  # subdatasets such as NETCDF:"f.nc":sm, HDF5:...
#: GDAL messages of a read that failed because the file's bytes are missing or corrupt.
_READ_FAILURE = re.compile(r"IReadBlock|TIFFRead|TIFFFill|Failed to read directory|Cannot read TIFF header|"
                           r"read error|I/?O error|short read|truncat|failed to read|premature end|"
                           r"unexpected end|not enough data|decod", re.IGNORECASE)
#: GDAL warnings while opening that mean the file's header could not be read completely.
_OPEN_DAMAGE = re.compile(r"I/?O error|read error|short read|truncat|failed to read|premature end|unexpected end",
                          re.IGNORECASE)


def damaged_error(path: str, detail: str) -> InputError:
    """The error for a raster file whose bytes are missing or corrupt (truncated download or export).

    Parameters
    ----------
    path : str
        The file (or the name the user knows it by).
    detail : str
        What GDAL reported.

    Returns
    -------
    InputError
        The error, to raise.
    """
    return InputError(f"{path} is damaged or incomplete ({detail}): download or export it again.")


#: GDAL 3.10+ appends the errors that led to an error ("... failed. May be caused by: ..."); the first one is
#: what earlier versions give alone.
_CAUSED_BY = re.compile(r"\.?\s*May be caused by:.*", re.DOTALL)


def first_error(message: object) -> str:
    """GDAL's error message without the causes GDAL 3.10+ appends, so a message reads the same on every
    GDAL version.

    Parameters
    ----------
    message : object
        A GDAL error or its message.

    Returns
    -------
    str
        The message without GDAL's "caused by" chain.
    """
    return _CAUSED_BY.sub("", str(message))


def _detail(message: str, path: str = "") -> str:
    """GDAL's message, on one line, without the file name it starts with (the error names the file)."""
    text = " ".join(first_error(message).split())
    for name in (path, os.path.basename(path)):
        i = text.rfind(name) if name else -1
        if i >= 0 and text[i + len(name):].strip(" ,:."):
            text = text[i + len(name):].lstrip(" ,:")
            break
    text = text.rstrip(" .")
    return (text[:297] + "...") if len(text) > 300 else text or "it cannot be read"


def read_failure(exc: BaseException, sources: Sequence[str],
                 shown: dict[str, str] | None = None) -> InputError | None:
    """The damaged-file error for a GDAL read failure ``exc``, or None when ``exc`` is not one.

    ``sources``: the files the read came from (for a warped or virtual raster, its source files). The
    error names the source GDAL's message names, else all of them; ``shown`` maps a source to the name
    the user knows it by (e.g. a temporary download to its address).

    Parameters
    ----------
    exc : BaseException
        The exception a read raised.
    sources : Sequence[str]
        The files read (empty names are ignored).
    shown : dict[str, str] or None
        Source -> name shown to the user (None: the sources' own names).

    Returns
    -------
    InputError or None
        The error naming the damaged source(s), or None when ``exc`` is not a read failure (a full disk or a
        write failure is not one).
    """
    text = str(exc)
    if not isinstance(exc, RuntimeError) or not _READ_FAILURE.search(text) or is_disk_full(exc) \
            or any(t in text.lower() for t in _WRITE_FAILURE_TEXT):
        return None
    sources = [s for s in sources if s]
    named = ([s for s in sources if s in text] or [s for s in sources if os.path.basename(s) in text]
             or sources)
    detail = _detail(text, named[0] if len(named) == 1 else "")
    names = [(shown or {}).get(s, s) for s in named]
    if len(names) == 1:
        return damaged_error(names[0], detail)
    if not names:
        return damaged_error("A raster", detail)
    return InputError(f"One of {', '.join(names)} is damaged or incomplete ({detail}): download or export it again.")


@contextlib.contextmanager
def reading(*sources: str, shown: dict[str, str] | None = None) -> Iterator[None]:
    """GDAL reads from ``sources`` in the body: a read failure becomes :func:`damaged_error` naming its source.

    Parameters
    ----------
    *sources : str
        The files the body reads from.
    shown : dict[str, str] or None
        Source -> name shown in the error (None: the sources' own names).

    Raises
    ------
    InputError
        A read fails because a source is damaged or truncated (:func:`damaged_error`, naming it).
    """
    with gdal_exceptions():
        try:
            yield
        except RuntimeError as exc:
            mapped = read_failure(exc, sources, shown)
            if mapped is None:
                raise
            raise mapped from exc


def _damage(ds: gdal.Dataset) -> str | None:
    """GDAL's message when reading the first or last block of the first or last band fails, else None.

    A truncated file (a download or export cut short) usually opens, as its header comes first, but
    lacks its last blocks; a header cut short loses tags (the CRS) and blocks alike.
    """
    w, h = ds.RasterXSize, ds.RasterYSize
    if ds.RasterCount == 0 or w == 0 or h == 0:
        return None
    with gdal_exceptions():
        for b in sorted({1, ds.RasterCount}):
            band = ds.GetRasterBand(b)
            for x, y in ((0, 0), (w - 1, h - 1)):
                try:
                    band.ReadRaster(x, y, 1, 1)
                except RuntimeError as exc:
                    if _READ_FAILURE.search(str(exc)):
                        return str(exc)
        ds.FlushCache()  # the probed blocks do not stay in GDAL's block cache
    return None


@gdal_exceptions()
def open_raster(path: str) -> gdal.Dataset:
    """Open a raster read-only, with an actionable error for missing, unreadable, damaged or non-raster files.

    Parameters
    ----------
    path
        The raster file.

    Returns
    -------
    gdal.Dataset
        The dataset, opened read-only.

    Raises
    ------
    InputError
        No path, a missing, unreadable, damaged or non-raster file.
    """
    if not path:
        raise InputError("No raster was given; choose a raster file.")
    plain_file = not (path.startswith("/vsi") or _GDAL_PREFIX.match(path))
    if plain_file and not os.path.exists(path):
        raise InputError(f"Raster file not found: {path}. Check the path.")
    if plain_file and os.path.isfile(path) and not os.access(path, os.R_OK):
        raise InputError(f"Raster file is not readable: {path}. Check its permissions.")
    if plain_file and os.path.isfile(path) and os.path.getsize(path) == 0:
        _check_readable(path)  # /proc files report 0 bytes too: empty only when nothing can be read
        with open(path, "rb") as fh:
            if not fh.read(1):
                raise damaged_error(path, "the file is empty, 0 bytes")
    warnings: list[str] = []
    gdal.PushErrorHandler(lambda cls, _num, msg: warnings.append(msg) if cls == gdal.CE_Warning else None)
    try:
        ds = gdal.OpenEx(path, gdal.OF_RASTER | gdal.OF_READONLY)
    except RuntimeError as exc:
        if plain_file:
            _check_readable(path)
        if _READ_FAILURE.search(str(exc)):
            raise damaged_error(path, _detail(str(exc), path)) from exc
        raise InputError(f"{path} is not a raster GDAL can read ({exc}). "
                         "Give a GeoTIFF or another GDAL raster.") from exc
    finally:
        gdal.PopErrorHandler()
    if ds is None or ds.RasterCount == 0:
        if plain_file:
            _check_readable(path)
        layers = [name for name, _ in (ds.GetSubDatasets() if ds is not None else [])]
        ds = None
        if layers:
            smap = os.path.basename(path).upper().startswith("SMAP_L")
            hint = ("An NSIDC SMAP granule is turned into soil moisture rasters by smdownscale:importsmap (Import "
                    "SMAP granules). " if smap else "")
            raise InputError(f"{path} is a container of {len(layers)} layers (e.g. {layers[0]}), not one raster. "
                             f"{hint}Give one layer by its GDAL name, or export the layer to a GeoTIFF.")
        raise InputError(f"{path} is not a raster GDAL can read. Give a GeoTIFF or another GDAL raster.")
    damage = next((w for w in warnings if _OPEN_DAMAGE.search(w)), None) or _damage(ds)
    if damage:
        ds = None  # closed now, not when the error's traceback is collected
        raise damaged_error(path, _detail(damage, path))
    return ds


def _check_readable(path: str) -> None:
    """Raise a clear error when a plain file that GDAL could not open cannot even be read."""
    if os.path.isdir(path):
        raise InputError(f"{path} is a folder, not a raster file GDAL can read. Choose the raster file itself.")
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise InputError(f"Raster file is not readable: {path} ({exc.strerror or exc}). Check its permissions and "
                         "the disk it is on, or copy it elsewhere.") from exc


def band_names(ds: gdal.Dataset, path: str = "") -> list[str]:
    """Band descriptions; a band without one is named after the file (and band number).

    Parameters
    ----------
    ds : gdal.Dataset
        An open raster.
    path : str
        Its path, for the fallback names (empty: the dataset's description).

    Returns
    -------
    list of str
        One name per band: its description, else the file's stem (``<stem>_b<i>`` when there are several bands).
    """
    stem = _clean_stem(path or ds.GetDescription())
    names = []
    for i in range(1, ds.RasterCount + 1):
        desc = (ds.GetRasterBand(i).GetDescription() or "").strip()
        if not desc:
            desc = stem if ds.RasterCount == 1 else f"{stem}_b{i}"
        names.append(desc)
    return names


def _clean_stem(path: str) -> str:
    from .dates import strip_date

    stem = os.path.splitext(os.path.basename(path))[0]
    return strip_date(stem) or stem


#: Factor names that are land cover whatever their file says (a name token, case-insensitive): MODIS MCD12Q1's
#: layers (LC_Type1..5, LC_Prop1..3), ESA CCI's lccs_class and its files (ESACCI-LC-L4-LCCS-Map-300m-...), ESA
#: WorldCover, China's CLCD, GLC_FCS30, IGBP, Copernicus Global Land Cover's discrete_classification, and the usual
#: words (landcover, land_cover, landuse, lulc; 土地利用, 土地覆盖, 地表覆盖). Such rasters usually come as plain
#: integers without a colour table, and averaging class codes makes a number that is no class. A name that also says
#: fraction, percent, probability or share ('landcover_crop_fraction', Copernicus' 'crops-coverfraction') is a
#: continuous quantity.
_LAND_COVER_RE = re.compile(
    r"(?<![a-z0-9])(landcover|land_cover|land_use|landuse|lulc|lc_type[1-5]|lc_prop[1-3]|lccs(_class)?|worldcover|"
    r"clcd|glc_?fcs30d?|igbp|discrete_classification)(?![a-z])|土地利用|土地覆盖|土地覆被|地表覆盖")
_AMOUNT_RE = re.compile(r"frac|percent|pct|prob|share|density|比例|概率|百分比")


def is_land_cover(name: str) -> bool:
    """True for a factor name that is a land cover product's (a categorical band when its file says nothing).

    Parameters
    ----------
    name : str
        A factor name (band description or file stem), e.g. 'MCD12Q1.LC_Type1', 'ESA_WorldCover_10m_Map'.

    Returns
    -------
    bool
        Whether the name holds a land cover token (:data:`_LAND_COVER_RE`).
    """
    low = name.lower().replace(" ", "_").replace("-", "_")
    return _LAND_COVER_RE.search(low) is not None and _AMOUNT_RE.search(low) is None


def band_kinds(ds: gdal.Dataset) -> list[str]:
    """'categorical' or 'continuous' per band (the SMD_KIND metadata item, else a colour table/RAT or a land cover
    product's name, :func:`is_land_cover`: the band's, or for a single-band raster also its file's, since a land cover
    file often names its one band after the product's band ('Map' in ESA WorldCover from Earth Engine) or 'b1').

    Parameters
    ----------
    ds : gdal.Dataset
        An open raster.

    Returns
    -------
    list of str
        One kind per band, 'categorical' or 'continuous' (an unknown ``SMD_KIND`` value is returned lowercased).
    """
    kinds = []
    names = band_names(ds)
    named_file = ds.RasterCount == 1 and is_land_cover(_clean_stem(ds.GetDescription()))
    for i in range(1, ds.RasterCount + 1):
        b = ds.GetRasterBand(i)
        kind = (b.GetMetadataItem(KIND_KEY) or "").lower()
        if not kind:
            classes = (b.GetColorTable() is not None or b.GetDefaultRAT() is not None or is_land_cover(names[i - 1])
                       or named_file)
            kind = "categorical" if classes else "continuous"
        kinds.append(kind)
    return kinds


@gdal_exceptions()
def select_bands(stack_path_or_ds: str | gdal.Dataset, names: Sequence[str]) -> list[int]:
    """1-based band indices of the named factors, matched by band description (never by position).

    Parameters
    ----------
    stack_path_or_ds
        The factor stack: a path (opened read-only) or an open dataset.
    names
        Factor names, each a band description.

    Returns
    -------
    list[int]
        The band index of each name, in the order of ``names``.

    Raises
    ------
    InputError
        A name is not a band of the stack, or several bands share a name.
    """
    if isinstance(stack_path_or_ds, str):
        path = stack_path_or_ds
        ds = open_raster(path)
    else:
        ds = stack_path_or_ds
        path = ds.GetDescription()
    bands = band_names(ds, path)
    label = os.path.basename(path) or "The factor stack"
    dup = sorted({n for n in names if bands.count(n) > 1})
    if dup:
        raise InputError(f"The factor stack {label} has several bands named {', '.join(dup)}, so the factor cannot "
                         "be identified; give every band a distinct description (rebuild the stack with "
                         "smdownscale:align).")
    missing = [n for n in names if n not in bands]
    if missing:
        raise InputError(f"The factor stack {label} lacks the factor(s) {', '.join(missing)} that the model needs; "
                         f"its bands are {', '.join(bands)}; align the missing factors into the stack "
                         "(smdownscale:align).")
    return [bands.index(n) + 1 for n in names]


def read_block(ds: gdal.Dataset, row0: int, nrows: int, bands: Sequence[int] | None = None,
               dtype: type = np.float32, sources: Sequence[str] | None = None) -> np.ndarray:
    """Read rows of the given 1-based bands as a (bands, nrows, width) float array with NaN for nodata.

    A read failure (a damaged or truncated file) raises :func:`damaged_error` naming the file, or, for a
    virtual (e.g. warped) dataset, the one of ``sources`` it came from.

    Parameters
    ----------
    ds : gdal.Dataset
        An open raster.
    row0 : int
        The first row (0-based).
    nrows : int
        The number of rows.
    bands : Sequence[int] or None
        1-based band numbers (None: every band).
    dtype : type
        The array's numpy type.
    sources : Sequence[str] or None
        The files behind ``ds``, named when a read fails (None: the dataset's description).

    Returns
    -------
    numpy.ndarray
        Shape (len(bands), nrows, width); nodata and non-finite values are NaN, the others scaled by the band's
        declared scale and offset (:func:`band_values`).
    """
    bands = list(bands) if bands is not None else list(range(1, ds.RasterCount + 1))
    out = np.empty((len(bands), nrows, ds.RasterXSize), dtype=dtype)
    with reading(*(sources if sources is not None else [ds.GetDescription()])):
        for k, b in enumerate(bands):
            band = ds.GetRasterBand(b)
            out[k] = band_values(band, band.ReadAsArray(0, row0, ds.RasterXSize, nrows).astype(dtype, copy=False),
                                 band_mask(band, 0, row0, ds.RasterXSize, nrows))
    return out


def band_mask(band: gdal.Band, xoff: int, yoff: int, xsize: int, ysize: int, buf_xsize: int | None = None,
              buf_ysize: int | None = None) -> np.ndarray | None:
    """The validity mask of a window of a band whose missing pixels are marked by a mask rather than a nodata value (a
    GeoTIFF's internal or ``.msk`` mask, e.g. written by rasterio or ``gdal_translate -mask``, or an alpha band): 0
    where a pixel is missing. None for a band without such a mask (nodata values or all valid), so only such files
    cost the extra read.

    Parameters
    ----------
    band : gdal.Band
        The band.
    xoff, yoff, xsize, ysize : int
        The window read, in pixels.
    buf_xsize, buf_ysize : int or None
        The size it was read at (a decimated read); None: the window's.

    Returns
    -------
    numpy.ndarray or None
        (rows, cols) uint8 mask (0: missing), or None.
    """
    if band.GetMaskFlags() & (gdal.GMF_ALL_VALID | gdal.GMF_NODATA):
        return None
    return band.GetMaskBand().ReadAsArray(xoff, yoff, xsize, ysize, buf_xsize=buf_xsize, buf_ysize=buf_ysize)


def band_values(band: gdal.Band, stored: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """The values a band's stored values stand for: nodata, masked and non-finite values NaN, the others scaled by the
    band's declared scale and offset (value = stored x scale + offset; MODIS LST stored x 50, NDVI x 10000). Every
    reader of factor, soil moisture and reference values goes through here.

    Parameters
    ----------
    band : gdal.Band
        The band the values were read from.
    stored : numpy.ndarray
        Its stored values as a float array (changed in place where masked).
    mask : numpy.ndarray or None
        The band's mask over the same pixels (:func:`band_mask`; 0: missing), or None.

    Returns
    -------
    numpy.ndarray
        The values, NaN where missing.
    """
    if mask is not None:
        stored[mask == 0] = np.nan
    nd = band.GetNoDataValue()
    if nd is not None and not np.isnan(nd):
        stored[stored == nd] = np.nan
    stored[~np.isfinite(stored)] = np.nan
    scale, offset = band.GetScale(), band.GetOffset()
    scale = 1.0 if scale is None or scale == 0 else float(scale)  # GDAL reports 0 for "not set" in some drivers
    offset = 0.0 if offset is None else float(offset)
    if scale == 1.0 and offset == 0.0:
        return stored
    return stored * scale + offset


@gdal_exceptions()
def read_all(path: str, bands: Sequence[int] | None = None, dtype: type = np.float32) -> np.ndarray:
    """Every row of ``bands`` (default: all) of the raster at ``path`` as (bands, rows, cols) ``dtype`` with NaN for
    nodata.

    Parameters
    ----------
    path
        The raster file.
    bands
        1-based band indices (None: all).
    dtype
        The array type.

    Returns
    -------
    np.ndarray
        (bands, rows, cols), NaN for nodata.

    Raises
    ------
    InputError
        From :func:`open_raster` and :func:`read_block`.
    """
    ds = open_raster(path)
    return read_block(ds, 0, ds.RasterYSize, bands, dtype)


def block_rows_for(width: int, nbands: int, target_bytes: int = 64 * 2**20, itemsize: int = 4) -> int:
    """Rows per block so that one block of all bands stays near ``target_bytes``.

    Parameters
    ----------
    width : int
        Pixels per row.
    nbands : int
        Bands read together.
    target_bytes : int
        The wanted block size, in bytes.
    itemsize : int
        Bytes per value.

    Returns
    -------
    int
        Rows per block, between 1 and 4096.
    """
    return int(max(1, min(4096, target_bytes // max(1, width * max(1, nbands) * itemsize))))


def iter_blocks(height: int, block_rows: int, progress: Progress = no_progress,
                is_canceled: IsCanceled = never_canceled, start: float = 0.0,
                end: float = 1.0) -> Iterator[tuple[int, int]]:
    """Yield (row0, nrows) row blocks; reports progress between ``start`` and ``end``; raises Canceled.

    Parameters
    ----------
    height : int
        Rows in all.
    block_rows : int
        Rows per block (at least 1).
    progress : Progress
        Called with the fraction done after each block.
    is_canceled : IsCanceled
        Checked before each block and after the last.
    start, end : float
        The progress range the blocks span.

    Yields
    ------
    tuple of int
        (row0, nrows) of each block, top to bottom.

    Raises
    ------
    Canceled
        ``is_canceled()`` became true.
    """
    block_rows = max(1, int(block_rows))
    for row0 in range(0, height, block_rows):
        if is_canceled():
            raise Canceled()
        nrows = min(block_rows, height - row0)
        yield row0, nrows
        progress(start + (end - start) * (row0 + nrows) / max(height, 1))
    if is_canceled():  # canceled during the last block
        raise Canceled()


#: A driver or provider prefix before a path (``GTIFF_RAW:``, ``CSV:``, ``NETCDF:``), not a drive letter (``C:``).
_DRIVER_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9_]+:")


def check_plain_path(path: str) -> None:
    """Refuse an output named as a GDAL virtual path or with a driver prefix: the engine writes plain files, and
    such a name would become folders named '/vsizip' or 'CSV:' on disk.

    Parameters
    ----------
    path : str
        The output file or folder.

    Raises
    ------
    InputError
        ``path`` starts with ``/vsi`` (``/vsizip/``, ``/vsimem/``, ...) or a driver prefix (``GTIFF_RAW:``, ``CSV:``).
    """
    if path.lower().startswith("/vsi") or _DRIVER_PREFIX.match(path):
        rest = re.sub(r"^/vsi[A-Za-z0-9_]*/+", "/", path) if path.lower().startswith("/vsi") else \
            path[_DRIVER_PREFIX.match(path).end():]
        archive = re.match(r"^(.*?\.(?:zip|tar|tgz|gz|7z|rar))/", rest, re.IGNORECASE)
        name = os.path.basename(path.rstrip("/")) or "output"
        if archive:
            plain = os.path.join(os.path.dirname(archive.group(1)), name)
        elif not path.lower().startswith("/vsi") and os.path.isabs(rest) and os.path.isdir(os.path.dirname(rest)):
            plain = rest
        else:
            plain = os.path.join(os.path.expanduser("~"), name)
        raise InputError(f"The output {path} is a GDAL virtual path or driver prefix (/vsizip/, /vsimem/, GTIFF_RAW:, "
                         "CSV:, ...); results are written as plain files. Give a path on disk, e.g. "
                         f"{os.path.join(os.path.expanduser('~'), plain)}; nothing was written.")


def check_output_path(path: str) -> None:
    """Fail early, with a fix, when an output cannot be written.

    Parameters
    ----------
    path : str
        The output file.

    Raises
    ------
    InputError
        No path, a GDAL virtual path or driver prefix (``/vsizip/...``, ``GTIFF_RAW:...``), the path names a
        folder (ends with '/' or is an existing folder), or its folder cannot be created or is not writable.
    """
    if not path:
        raise InputError("No output path was given; choose where to save the result.")
    check_plain_path(path)
    if path.endswith(("/", os.sep)) or os.path.isdir(path):
        raise InputError(f"The output {path} is a folder, not a file name; give a file name (inside it, or "
                         "beside it); nothing was written.")
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if not os.path.isdir(folder):
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise InputError(f"Cannot create the output folder {folder} ({exc.strerror}); "
                             "choose another location.") from exc
    if not os.access(folder, os.W_OK):
        raise InputError(f"The output folder {folder} is not writable; choose another location.")


def _partial_name(path: str, tag: str = "partial") -> str:
    folder, name = os.path.split(os.path.abspath(path))
    stem, ext = os.path.splitext(name)
    return os.path.join(folder, f".{stem}.{tag}-{os.getpid()}-{uuid.uuid4().hex[:8]}{ext}")


def partial_name(path: str, tag: str = "partial") -> str:
    """A hidden temporary name next to ``path`` (``.<stem>.<tag>-<pid>-<random><ext>``).

    The writer's process id in the name lets :func:`remove_stale_partials` recognize files left by a
    process that was killed.

    Parameters
    ----------
    path : str
        The final file name.
    tag : str
        The kind of temporary file ('partial' or 'raw'; :func:`remove_stale_partials` knows both).

    Returns
    -------
    str
        A path in the same folder, unique to this call.
    """
    return _partial_name(path, tag)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":  # on Windows os.kill would end the process: assume it runs
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: the process exists (another user's)
        return True
    return True


def remove_stale_partials(path: str) -> list[str]:
    """Remove temporary siblings of ``path`` (see :func:`partial_name`) whose writing process no longer exists.

    A process killed while writing (SIGKILL, power loss) leaves its hidden temporary file behind;
    the next run writing the same output removes it. Files of live processes are never touched.
    Returns the removed paths.

    Parameters
    ----------
    path : str
        The final file name whose temporary siblings are looked for.

    Returns
    -------
    list of str
        The removed files (empty when the folder cannot be listed).
    """
    folder, name = os.path.split(os.path.abspath(path))
    stem, ext = os.path.splitext(name)
    pattern = re.compile(rf"^\.{re.escape(stem)}\.(?:partial|raw)-(\d+)-[0-9a-f]{{8}}{re.escape(ext)}(?:\.aux\.xml)?$")
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for entry in names:
        m = pattern.match(entry)
        if m and not _pid_alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                os.remove(os.path.join(folder, entry))
                removed.append(os.path.join(folder, entry))
    return removed


_DISK_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_DISK_FULL_TEXT = ("no space left on device", "disk quota exceeded", "free disk space available")
_WRITE_FAILURE_TEXT = ("write error", "_tiffwriteproc", "file too large", "cannot write", "failed to write")
_TEMP_NAME = re.compile(r"^\.(.+)\.(?:partial|raw)-(?:\d+-)?[0-9a-f]{8}(\.[^.]*)?$")
#: Below this much free space, a failed write is reported as a full disk.
LOW_DISK_BYTES = 64 * 2**20


def is_disk_full(exc: BaseException) -> bool:
    """True for an OSError (ENOSPC/EDQUOT) or a GDAL error reporting a full disk.

    Parameters
    ----------
    exc : BaseException
        Any exception.

    Returns
    -------
    bool
        True when it reports a full disk or an exceeded quota.
    """
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
        return True
    return isinstance(exc, (OSError, RuntimeError)) and any(t in str(exc).lower() for t in _DISK_FULL_TEXT)


def _shown_name(path: str) -> str:
    """The file name a user knows: a temporary name (.<stem>.partial-...<ext>) shown as <stem><ext>."""
    name = os.path.basename(path)
    m = _TEMP_NAME.match(name)
    return m.group(1) + (m.group(2) or "") if m else name


def _free_bytes(folder: str) -> int | None:
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):
        return None
    return st.f_bavail * st.f_frsize


def disk_full_error(path: str) -> InputError:
    """The error for a write that ran out of disk space, naming the folder and the file not written.

    Parameters
    ----------
    path : str
        The file that was being written.

    Returns
    -------
    InputError
        The error, to raise.
    """
    folder = os.path.dirname(os.path.abspath(path)) or "."
    return InputError(f"No space left on device: free disk space in {folder} (or choose an output folder on "
                      f"another disk) and run again; {_shown_name(path)} was not written.")


def write_failure(exc: BaseException, path: str) -> InputError | None:
    """The user-facing error for ``exc`` raised while writing ``path`` (or its temporary file), or None
    when ``exc`` is not a write failure (it is then re-raised as it is).

    Parameters
    ----------
    exc : BaseException
        The exception raised while writing.
    path : str
        The file being written.

    Returns
    -------
    InputError or None
        The error saying what to do (full disk, file too large for the file system, no permission, failed
        write), or None.
    """
    if not isinstance(exc, (OSError, RuntimeError)):
        return None
    folder = os.path.dirname(os.path.abspath(path)) or "."
    name = _shown_name(path)
    text = str(exc).lower()
    if is_disk_full(exc):
        return disk_full_error(path)
    too_large = InputError(f"The file system of {folder} cannot hold a file this large ({first_error(exc)}); "
                           f"choose an output folder on another disk (FAT32 drives stop at 4 GB); {name} was not "
                           "written.")
    if isinstance(exc, OSError):
        if exc.errno == errno.EFBIG:
            return too_large
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) and \
                os.path.dirname(os.path.abspath(exc.filename or path)) == folder:
            return InputError(f"Cannot write {name} in {folder} ({exc.strerror}); choose another output folder or "
                              "check its permissions.")
        return None
    if not any(t in text for t in _WRITE_FAILURE_TEXT):
        return None
    free = _free_bytes(folder)
    if free is not None and free < LOW_DISK_BYTES:
        return disk_full_error(path)
    if "file too large" in text:
        return too_large
    return InputError(f"Writing {name} in {folder} failed ({first_error(exc)}); check that the disk has free space "
                      "and works, or choose another output folder.")


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)
    for side in (".aux.xml", ".ovr"):
        with contextlib.suppress(OSError):
            os.remove(path + side)


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path next to ``path``; rename it to ``path`` on success, delete it on error.

    Used for every file the engine writes, so an interrupted, failed or canceled run never leaves a
    partial file under the final name (and never clobbers a previous good result before success).

    Parameters
    ----------
    path : str
        The final file name.

    Yields
    ------
    str
        The temporary name to write to, in the same folder.

    Raises
    ------
    InputError
        The disk is full or the file cannot be written (mapped from the OS error); the temporary file is
        removed.
    """
    check_output_path(path)
    remove_stale_partials(path)
    tmp = _partial_name(path)
    try:
        yield tmp
        if os.path.exists(path + ".aux.xml"):
            _remove(path + ".aux.xml")
        os.replace(tmp, path)
        if os.path.exists(tmp + ".aux.xml"):
            os.replace(tmp + ".aux.xml", path + ".aux.xml")
    except BaseException as exc:
        _remove(tmp)
        mapped = write_failure(exc, path)
        if mapped is not None:
            raise mapped from exc
        raise


@gdal_exceptions()
def create_geotiff(path: str, grid: Grid, nbands: int, dtype: int = gdal.GDT_Float32,
                   nodata: float | None = NODATA_F32, names: Sequence[str] | None = None,
                   kinds: Sequence[str] | None = None, metadata: dict[str, str] | None = None) -> gdal.Dataset:
    """Create a tiled, compressed GeoTIFF on ``grid`` (call inside :func:`atomic_path`).

    Parameters
    ----------
    path
        Where to create it (a temporary name from :func:`atomic_path`).
    grid
        Its grid.
    nbands, dtype, nodata
        Band count, GDAL data type and nodata value.
    names, kinds
        Band descriptions and ``SMD_KIND`` per band.
    metadata
        Dataset metadata.

    Returns
    -------
    gdal.Dataset
        The new dataset, open for writing.

    Raises
    ------
    InputError
        The file cannot be created (disk space, permissions).
    """
    grid.check_size(f"The output {_shown_name(path)}")
    options = list(GTIFF_OPTIONS)
    if dtype not in (gdal.GDT_Float32, gdal.GDT_Float64):
        options = [o for o in options if not o.startswith("PREDICTOR")] + ["PREDICTOR=2"]
    try:
        ds = gdal.GetDriverByName("GTiff").Create(path, grid.width, grid.height, nbands, dtype, options)
    except RuntimeError as exc:
        raise InputError(f"Cannot write {path} ({exc}); check free disk space and permissions.") from exc
    ds.SetGeoTransform(grid.transform)
    ds.SetProjection(grid.crs_wkt)
    for i in range(nbands):
        band = ds.GetRasterBand(i + 1)
        if nodata is not None:
            band.SetNoDataValue(nodata)
        if names is not None:
            band.SetDescription(str(names[i]))
        if kinds is not None and kinds[i] == "categorical":
            band.SetMetadataItem(KIND_KEY, "categorical")
    if metadata:
        for key, value in metadata.items():
            ds.SetMetadataItem(str(key), str(value))
    return ds


@gdal_exceptions()
def write_block(ds: gdal.Dataset, row0: int, block: np.ndarray, nodata: float = NODATA_F32,
                col0: int = 0) -> None:
    """Write a (bands, rows, width) float block at row ``row0`` (and column ``col0``), NaN becoming ``nodata``.

    Parameters
    ----------
    ds
        A dataset open for writing.
    row0, col0
        Where the block starts.
    block
        (bands, rows, cols) float values, NaN for nodata.
    nodata
        The value NaN becomes.

    Raises
    ------
    InputError
        The disk is full or the write fails (mapped from GDAL's error).
    """
    if block.ndim == 2:
        block = block[None]
    try:
        for k in range(block.shape[0]):
            arr = np.where(np.isfinite(block[k]), block[k], nodata)
            ds.GetRasterBand(k + 1).WriteArray(arr, col0, row0)
    except (OSError, RuntimeError) as exc:
        mapped = write_failure(exc, ds.GetDescription())
        if mapped is not None:
            raise mapped from exc
        raise


@gdal_exceptions()
def write_raster(path: str, grid: Grid, data: np.ndarray, names: Sequence[str] | None = None,
                 kinds: Sequence[str] | None = None, metadata: dict[str, str] | None = None,
                 dtype: int = gdal.GDT_Float32, nodata: float = NODATA_F32) -> str:
    """Write a whole (bands, rows, cols) or (rows, cols) array atomically; NaN becomes nodata.

    Parameters
    ----------
    path
        The file to write (atomically).
    grid
        Its grid.
    data
        (bands, rows, cols) or (rows, cols), NaN for nodata.
    names, kinds, metadata
        Band descriptions, ``SMD_KIND`` per band and dataset metadata.
    dtype, nodata
        GDAL data type and nodata value.

    Returns
    -------
    str
        ``path``.
    """
    data = data[None] if data.ndim == 2 else data
    with atomic_path(path) as tmp:
        ds = create_geotiff(tmp, grid, data.shape[0], dtype, nodata, names, kinds, metadata)
        write_block(ds, 0, data, nodata)
        ds.FlushCache()
        ds = None
    return path
