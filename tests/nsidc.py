"""Build SMAP granules with NSIDC's published HDF5 layout, for the import tests.

Files are written through GDAL's netCDF driver as netCDF-4, which is HDF5: groups, dataset names,
shapes, data types, ``_FillValue`` / ``valid_min`` / ``valid_max`` / ``units`` attributes, quality-flag
datasets and the ``Metadata`` group as NSIDC writes them (SPL4SMGP, SPL3SMP_E, SPL3SMP). Geolocation
(``cell_lat`` / ``cell_lon``, ``latitude`` / ``longitude``) holds the lattice's cell centres computed with
the ellipsoidal Lambert cylindrical equal-area formulas below, independently of PROJ; L3 geolocation is
filled (-9999) where there is no retrieval, as in NSIDC's files.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from typing import Mapping

import numpy as np
from osgeo import gdal

#: WGS 84 and EASE-Grid 2.0 (Lambert cylindrical equal-area, standard parallel 30 N/S).
A = 6378137.0
F = 1 / 298.257223563
E2 = F * (2 - F)
E = math.sqrt(E2)
PHI1 = math.radians(30.0)
K0 = math.cos(PHI1) / math.sqrt(1 - E2 * math.sin(PHI1) ** 2)

GRIDS = {"M09": (9008.055210146, 3856, 1624), "M36": (36032.220840584, 964, 406)}


def _q(phi: np.ndarray) -> np.ndarray:
    s = np.sin(phi)
    return (1 - E2) * (s / (1 - E2 * s * s) - 1 / (2 * E) * np.log((1 - E * s) / (1 + E * s)))


def ease_xy(lat: float, lon: float) -> tuple[float, float]:
    """EASE-Grid 2.0 global x, y (metres) of a point, from the map projection's formulas."""
    return A * K0 * math.radians(lon), float(A * _q(np.radians(lat)) / (2 * K0))


def cell_of(lat: float, lon: float, grid: str = "M09") -> tuple[int, int]:
    """(row, column) of the lattice cell holding a point."""
    cell, cols, rows = GRIDS[grid]
    x, y = ease_xy(lat, lon)
    return int(math.floor((rows / 2 * cell - y) / cell)), int(math.floor((x + cols / 2 * cell) / cell))


def cell_centres(grid: str = "M09") -> tuple[np.ndarray, np.ndarray]:
    """Latitude per row and longitude per column of the lattice's cell centres (inverse formulas)."""
    cell, cols, rows = GRIDS[grid]
    xs = -cols / 2 * cell + (np.arange(cols) + 0.5) * cell
    ys = rows / 2 * cell - (np.arange(rows) + 0.5) * cell
    lon = np.degrees(xs / (A * K0))
    qp = _q(np.array(math.pi / 2))
    beta = np.arcsin(2 * ys * K0 / (A * qp))
    lat = beta + (E2 / 3 + 31 * E2 ** 2 / 180 + 517 * E2 ** 3 / 5040) * np.sin(2 * beta) \
        + (23 * E2 ** 2 / 360 + 251 * E2 ** 3 / 3780) * np.sin(4 * beta) + (761 * E2 ** 3 / 45360) * np.sin(6 * beta)
    return np.degrees(lat), lon


_F32 = gdal.ExtendedDataType.Create(gdal.GDT_Float32)
_U16 = gdal.ExtendedDataType.Create(gdal.GDT_UInt16)
_STR = gdal.ExtendedDataType.CreateString()


def _attr(obj, name: str, value, kind=None) -> None:
    kind = kind or (_STR if isinstance(value, str) else _F32)
    a = obj.CreateAttribute(name, [], kind)
    a.Write(value)


def _write(group, name: str, dims, data: np.ndarray, attrs: Mapping[str, object], kind=_F32) -> None:
    arr = group.CreateMDArray(name, dims, kind, ["COMPRESS=DEFLATE", "ZLEVEL=1"])
    for k, v in attrs.items():
        _attr(arr, k, v, kind if k == "_FillValue" else None)
    assert arr.Write(np.ascontiguousarray(data)) == gdal.CE_None


def _metadata(root, short_name: str, version: str, begin: dt.datetime, end: dt.datetime) -> None:
    meta = root.CreateGroup("Metadata")
    ident = meta.CreateGroup("DatasetIdentification")
    _attr(ident, "shortName", short_name)
    _attr(ident, "VersionID", version)
    ext = meta.CreateGroup("Extent")
    _attr(ext, "rangeBeginningDateTime", begin.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
    _attr(ext, "rangeEndingDateTime", end.strftime("%Y-%m-%dT%H:%M:%S.000Z"))


def _dataset(path: str):
    if os.path.exists(path):
        os.remove(path)
    drv = gdal.GetDriverByName("netCDF")
    return drv.CreateMultiDimensional(path, [], ["FORMAT=NC4"])


def _full(shape: tuple[int, int], cells: Mapping[tuple[int, int], float], fill: float, dtype=np.float32) -> np.ndarray:
    out = np.full(shape, fill, dtype)
    for (r, c), v in cells.items():
        out[r, c] = v
    return out


def l4_name(when: dt.datetime, version: str = "Vv7032") -> str:
    return f"SMAP_L4_SM_gph_{when:%Y%m%dT%H%M%S}_{version}_001.h5"


def l3_name(day: dt.date, short_name: str = "SPL3SMP_E", crid: str = "R19240") -> str:
    tag = "SMAP_L3_SM_P_E" if short_name == "SPL3SMP_E" else "SMAP_L3_SM_P"
    return f"{tag}_{day:%Y%m%d}_{crid}_001.h5"


def write_l4(folder: str, when: dt.datetime, surface: Mapping[tuple[int, int], float],
             rootzone: Mapping[tuple[int, int], float] | None = None, version: str = "Vv7032",
             name: str | None = None, lon_shift: int = 0) -> str:
    """An SPL4SMGP granule (3-hour window centred on ``when``) with the given (row, col) -> value cells.

    ``lon_shift``: shift ``cell_lon`` by that many columns (a file whose geolocation is not the lattice's).
    """
    cell, cols, rows = GRIDS["M09"]
    path = os.path.join(folder, name or l4_name(when, version))
    ds = _dataset(path)
    root = ds.GetRootGroup()
    dy = root.CreateDimension("y", None, None, rows)
    dx = root.CreateDimension("x", None, None, cols)
    lat, lon = cell_centres("M09")
    _write(root, "cell_lat", [dy, dx], np.repeat(lat[:, None], cols, 1).astype(np.float32),
           {"_FillValue": -9999.0, "units": "degrees_north", "valid_min": -90.0, "valid_max": 90.0})
    _write(root, "cell_lon", [dy, dx], np.repeat(np.roll(lon, lon_shift)[None, :], rows, 0).astype(np.float32),
           {"_FillValue": -9999.0, "units": "degrees_east", "valid_min": -180.0, "valid_max": 180.0})
    geo = root.CreateGroup("Geophysical_Data")
    for layer, cells, title in (("sm_surface", surface, "Top layer soil moisture (0-5 cm)"),
                                ("sm_rootzone", rootzone or {}, "Root zone soil moisture (0-100 cm)")):
        _write(geo, layer, [dy, dx], _full((rows, cols), cells, -9999.0),
               {"_FillValue": -9999.0, "units": "m3 m-3", "valid_min": 0.0, "valid_max": 0.9, "long_name": title})
    _metadata(root, "SPL4SMGP", "00" + version.lstrip("Vv")[0],
              when - dt.timedelta(minutes=90), when + dt.timedelta(minutes=90) - dt.timedelta(seconds=1))
    ds = None
    return path


def write_l3(folder: str, day: dt.date, am: Mapping[tuple[int, int], float], pm: Mapping[tuple[int, int], float],
             am_flag: Mapping[tuple[int, int], int] | None = None, pm_flag: Mapping[tuple[int, int], int] | None = None,
             short_name: str = "SPL3SMP_E", crid: str = "R19240", name: str | None = None) -> str:
    """An SPL3SMP_E (9 km) or SPL3SMP (36 km) daily granule: AM and PM retrievals with their quality flags.

    Cells given a value get flag 0 (recommended quality) unless ``*_flag`` says otherwise; the others are
    filled (-9999, flag 65534 meaning no retrieval is reported as "not attempted": bits 0-2 set).
    """
    grid = "M09" if short_name == "SPL3SMP_E" else "M36"
    _cell, cols, rows = GRIDS[grid]
    path = os.path.join(folder, name or l3_name(day, short_name, crid))
    ds = _dataset(path)
    root = ds.GetRootGroup()
    dy = root.CreateDimension("y", None, None, rows)
    dx = root.CreateDimension("x", None, None, cols)
    lat, lon = cell_centres(grid)
    for group_name, suffix, values, flags in (("Soil_Moisture_Retrieval_Data_AM", "", am, am_flag or {}),
                                              ("Soil_Moisture_Retrieval_Data_PM", "_pm", pm, pm_flag or {})):
        g = root.CreateGroup(group_name)
        _write(g, f"soil_moisture{suffix}", [dy, dx], _full((rows, cols), values, -9999.0),
               {"_FillValue": -9999.0, "units": "cm**3/cm**3", "valid_min": 0.02, "valid_max": 0.5,
                "long_name": "Representative soil moisture measurement for the Earth based grid cell."})
        q = np.full((rows, cols), 7, np.uint16)  # no retrieval attempted: bits 0-2 set
        for rc in values:
            q[rc] = 0
        for rc, v in flags.items():
            q[rc] = v
        _write(g, f"retrieval_qual_flag{suffix}", [dy, dx], q,
               {"_FillValue": np.uint16(65534), "long_name": "Bit flags that record the conditions and the quality "
                "of the retrieval algorithms that generate soil moisture for the grid cell"}, kind=_U16)
        have = np.zeros((rows, cols), bool)
        for rc in values:
            have[rc] = True
        _write(g, f"latitude{suffix}", [dy, dx], np.where(have, lat[:, None], -9999.0).astype(np.float32),
               {"_FillValue": -9999.0, "units": "degrees_north"})
        _write(g, f"longitude{suffix}", [dy, dx], np.where(have, lon[None, :], -9999.0).astype(np.float32),
               {"_FillValue": -9999.0, "units": "degrees_east"})
    begin = dt.datetime(day.year, day.month, day.day)
    _metadata(root, short_name, "006" if short_name == "SPL3SMP_E" else "009", begin,
              begin + dt.timedelta(days=1) - dt.timedelta(seconds=1))
    ds = None
    return path
