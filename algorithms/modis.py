"""MODIS land products as downloaded, turned into factor rasters: LST (MOD11A1/MYD11A1 daily, MOD11A2/MYD11A2
8-day) and NDVI (MOD13A2/MYD13A2 16-day), 1 km on the MODIS sinusoidal grid.

Files are recognised by their names, as NASA's LP DAAC and AppEEARS write them:

* **HDF4-EOS tiles** (``MOD11A1.A2023182.h26v04.061.2023183094512.hdf``), read with GDAL's HDF4 driver
  (``HDF4_EOS:EOS_GRID:"file":MODIS_Grid_Daily_1km_LST:LST_Day_1km``); also HDF5 / NetCDF files holding the same
  layers (GDAL subdatasets named by the layer), among them AppEEARS' NetCDF output (``MOD11A1.061_1km_aid0001.nc``:
  every date of a request in one file, along a CF time axis).
* **AppEEARS GeoTIFF exports**, one layer per file (``MOD11A1.061_LST_Day_1km_doy2023182_aid0001.tif`` with
  ``MOD11A1.061_QC_Day_doy2023182_aid0001.tif``; ``MOD13A2.061__1_km_16_days_NDVI_doy2023177_aid0001.tif`` with
  ``..._1_km_16_days_pixel_reliability_...``). A value layer needs its quality layer among the files given.

The date is the composite's first day (``A2023182`` / ``doy2023182``, year and day of year), or, for NetCDF
layers with a time axis, each band's time. Each layer is read
as stored (integers), masked and scaled with the product's documented values (MOD11 user guide, MOD13 user
guide; the files' own attributes differ in convention — MOD13's HDF4 ``scale_factor`` is 10000, to divide by):

* LST: fill 0, valid 7500..65535, x 0.02 -> kelvin. Kept where QC bits 0-1 are 00 (good quality), or 01 (other
  quality) with bits 6-7 (average LST error) 00 (<= 1 K); everything else (cloud, not produced, larger error)
  is nodata.
* NDVI: fill -3000, valid -2000..10000, x 0.0001. Kept where the pixel reliability is 0 (good) or 1 (marginal);
  2 (snow/ice), 3 (cloudy) and -1 (fill) are nodata.

Already-scaled floating-point exports are taken as they are. The result of each file is a float32 GeoTIFF in
the file's own CRS (sinusoidal), band named ``lst_day`` / ``lst_night`` / ``ndvi`` and file name carrying the
date, which :mod:`.smap_import` aligns onto the factor stacks like any other dated factor file (tiles of one
date are combined; a step takes the composites dated inside it, else the latest before it).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from osgeo import gdal

from . import raster
from .dates import date_from_name
from .errors import InputError


@dataclass(frozen=True)
class Layer:
    factor: str  #: the factor (band) name written
    name: str  #: the layer's name in the product
    qc: str  #: its quality layer
    scale: float
    fill: float
    valid: tuple[float, float]  #: valid range of the stored values
    rule: str  #: "lst" or "reliability"


LST = (Layer("lst_day", "LST_Day_1km", "QC_Day", 0.02, 0, (7500, 65535), "lst"),
       Layer("lst_night", "LST_Night_1km", "QC_Night", 0.02, 0, (7500, 65535), "lst"))
NDVI = (Layer("ndvi", "1 km 16 days NDVI", "1 km 16 days pixel reliability", 0.0001, -3000, (-2000, 10000),
              "reliability"),)
PRODUCTS = {"MOD11A1": LST, "MYD11A1": LST, "MOD11A2": LST, "MYD11A2": LST, "MOD13A2": NDVI, "MYD13A2": NDVI}

_PRODUCT_RE = re.compile(r"(?<![A-Za-z0-9])(M[OY]D1[13]A[12])(?![A-Za-z0-9])", re.I)
_DOY_RE = re.compile(r"(?:\.A|doy)(\d{4})(\d{3})(?!\d)")
_TILE_RE = re.compile(r"(?<![A-Za-z0-9])(h\d\dv\d\d)(?![A-Za-z0-9])")
CONTAINERS = (".hdf", ".h4", ".hdf4", ".h5", ".he5", ".hdf5", ".nc", ".nc4")


def _key(text: str) -> str:
    """A layer name compared loosely: AppEEARS writes '1 km 16 days NDVI' as '_1_km_16_days_NDVI'."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def is_modis(path: str) -> bool:
    """True when ``path``'s file name names a MODIS LST or NDVI product (MOD11A1/A2, MOD13A2, MYD twins).

    Parameters
    ----------
    path : str
        A file path.

    Returns
    -------
    bool
        True when the name holds a MODIS LST/NDVI product code.
    """
    return bool(_PRODUCT_RE.search(os.path.basename(path)))


@dataclass(frozen=True)
class ModisFile:
    path: str
    product: str
    date: dt.date | None  #: None: dated by the file's time axis
    tile: str


def describe(path: str) -> ModisFile:
    """The product, date (from the name, else None: the file's time axis) and tile of a MODIS file.

    Parameters
    ----------
    path : str
        A MODIS file as downloaded (NASA's or AppEEARS' name).

    Returns
    -------
    ModisFile
        Its path, product (upper case), date (None: dated by the file's time axis) and tile ('' when the name has
        none).

    Raises
    ------
    InputError
        The name is not a MODIS LST/NDVI product's, or its date is not a real day.
    """
    name = os.path.basename(path)
    m = _PRODUCT_RE.search(name)
    if not m:
        raise InputError(f"{name} is not named like a MODIS LST or NDVI file (MOD11A1, MOD11A2, MOD13A2 or their "
                         "MYD twins, e.g. MOD11A1.A2023182.h26v04.061.2023183094512.hdf); keep NASA's or AppEEARS' "
                         "file names.")
    product = m.group(1).upper()
    d = _DOY_RE.search(name)
    date = None
    if d:
        try:
            date = dt.date(int(d.group(1)), 1, 1) + dt.timedelta(days=int(d.group(2)) - 1)
        except ValueError:
            date = None
        if date is not None and date.year != int(d.group(1)):
            date = None
    date = date or date_from_name(path)
    if date is None and not path.lower().endswith(CONTAINERS):  # a container may date its layers by a time axis
        raise InputError(f"{name} carries no date in its name (A2023182 or doy2023182: year and day of year); keep "
                         "NASA's or AppEEARS' file names.")
    t = _TILE_RE.search(name)
    return ModisFile(path, product, date, t.group(1) if t else "")


_TIME_UNITS = re.compile(r"\s*(days|hours|minutes|seconds)\s+since\s+(\d{4})-(\d{1,2})-(\d{1,2})", re.I)


def _band_dates(ds: gdal.Dataset, f: ModisFile) -> list[dt.date]:
    """The date of each band: a NetCDF time axis (CF units, as AppEEARS writes: one band per date), else the
    file name's date for a single band."""
    units = (ds.GetMetadata() or {}).get("time#units", "")
    m = _TIME_UNITS.match(units)
    values = [ds.GetRasterBand(b).GetMetadataItem("NETCDF_DIM_time") for b in range(1, ds.RasterCount + 1)]
    if m and all(v is not None for v in values):
        base = dt.datetime(int(m.group(2)), int(m.group(3)), int(m.group(4)))
        return [(base + dt.timedelta(**{m.group(1).lower(): float(v)})).date() for v in values]
    name = os.path.basename(f.path)
    if ds.RasterCount != 1:
        raise InputError(f"{name} has {ds.RasterCount} bands but no time axis saying their dates; give one date per "
                         "file (AppEEARS: GeoTIFF output, or NetCDF with its time variable), or the HDF tiles.")
    if f.date is None:
        raise InputError(f"{name} carries no date, neither in its name (A2023182 or doy2023182) nor as a time "
                         "axis; keep NASA's or AppEEARS' file names.")
    return [f.date]


def _subdatasets(path: str) -> list[tuple[str, str]]:
    """(GDAL source, layer name) of each layer in a container file."""
    try:
        with raster.reading(path):
            ds = gdal.OpenEx(path, gdal.OF_RASTER | gdal.OF_READONLY)
    except RuntimeError as exc:
        raise InputError(f"{path} is not a file GDAL can read ({exc}); download it again.") from exc
    if ds is None:
        raise InputError(f"{path} is not a file GDAL can read; download it again.")
    subs = [v for k, v in (ds.GetMetadata("SUBDATASETS") or {}).items() if k.endswith("_NAME")]
    out = [(sub, layer_name(sub)) for sub in subs]
    if not subs and ds.RasterCount:  # a file holding one variable opens as that variable
        band = ds.GetRasterBand(1)
        out = [(path, band.GetMetadataItem("NETCDF_VARNAME") or band.GetDescription() or "")]
    return out


def layer_name(subdataset: str) -> str:
    """The layer at the end of a GDAL subdataset name: an HDF4-EOS grid field
    (``HDF4_EOS:EOS_GRID:"f.hdf":MODIS_Grid_16DAY_1km_VI:"1 km 16 days NDVI"``), an HDF5 path
    (``HDF5:"f.h5"://MODIS_Grid_Daily_1km_LST/Data_Fields/LST_Day_1km``) or a NetCDF variable
    (``NETCDF:"f.nc":LST_Day_1km``).

    Parameters
    ----------
    subdataset : str
        A GDAL subdataset name.

    Returns
    -------
    str
        The layer's name, without quotes.
    """
    return re.split(r"[:/]", subdataset.rstrip('"'))[-1].strip('"')


def _find_in_container(path: str, layer: str) -> str | None:
    want = _key(layer)
    return next((src for src, name in _subdatasets(path) if _key(name) == want), None)


def _layer_in_name(path: str, layers: Sequence[Layer]) -> tuple[Layer, bool] | None:
    """(layer, is its quality layer) for a one-layer export named by its layer, else None."""
    key = "_" + _key(os.path.basename(path)) + "_"
    for layer in layers:
        if "_" + _key(layer.qc) + "_" in key:
            return layer, True
    for layer in layers:
        if "_" + _key(layer.name) + "_" in key:
            return layer, False
    return None


def _open(source: str, what: str) -> tuple[gdal.Dataset, raster.Grid]:
    ds = raster.open_raster(source)
    if not ds.GetProjection():
        raise InputError(f"{what} has no coordinate reference system (the MODIS sinusoidal grid); GDAL reads it "
                         "from the original HDF-EOS tiles and AppEEARS exports, keep those files as downloaded.")
    return ds, raster.Grid.from_dataset(ds, source)


def _band(ds: gdal.Dataset, source: str, band: int) -> np.ndarray:
    with raster.reading(source):
        return ds.GetRasterBand(band).ReadAsArray()


def _values(layer: Layer, raw: np.ndarray, qc: np.ndarray) -> np.ndarray:
    """Scaled values, NaN where filled, out of range or failing the quality rule."""
    if np.issubdtype(raw.dtype, np.floating):
        vals = raw.astype(np.float64)
        # an export already scaled (NDVI within -1..1, LST in kelvin) is taken as it is
        scaled = np.nanmax(np.abs(vals)) <= (1.5 if layer.rule == "reliability" else 400) if np.isfinite(
            vals).any() else True
        if scaled:
            ok = np.isfinite(vals)
            out = vals
        else:
            ok = np.isfinite(vals) & (vals != layer.fill) & (vals >= layer.valid[0]) & (vals <= layer.valid[1])
            out = vals * layer.scale
    else:
        vals = raw.astype(np.float64)
        ok = (vals != layer.fill) & (vals >= layer.valid[0]) & (vals <= layer.valid[1])
        out = vals * layer.scale
    q = np.nan_to_num(qc.astype(np.float64), nan=-1).astype(np.int64)
    if layer.rule == "lst":
        mandatory, error = q & 0b11, (q >> 6) & 0b11
        ok &= (q >= 0) & ((mandatory == 0) | ((mandatory == 1) & (error == 0)))
    else:
        ok &= (q == 0) | (q == 1)
    return np.where(ok, out, np.nan).astype(np.float32)


def convert(paths: Sequence[str], out_dir: str, log=None) -> list[str]:
    """Turn MODIS files into dated single-factor GeoTIFFs in ``out_dir``; returns their paths.

    Parameters
    ----------
    paths : Sequence[str]
        MODIS files: HDF4/HDF5/NetCDF product files, or the per-layer files AppEEARS delivers (value and quality
        layers of one export).
    out_dir : str
        The folder receiving the factor files.
    log : Callable[[str], None] or None
        Receives one line per file written (None: silent).

    Returns
    -------
    list of str
        The written GeoTIFFs, one per layer and date (values scaled, QC-failed pixels nodata), in order of writing.

    Raises
    ------
    InputError
        A file is not a MODIS LST/NDVI product GDAL can read, lacks a layer or its quality layer, has no date or
        CRS, or value and quality layers do not match.
    """
    say = log or (lambda _m: None)
    files = [describe(p) for p in paths]
    exports: dict[tuple[str, dt.date, str, str], dict[bool, str]] = {}
    out: list[str] = []
    jobs: list[tuple[ModisFile, Layer, str, str]] = []  # file, layer, value source, quality source
    for f in files:
        layers = PRODUCTS[f.product]
        if f.path.lower().endswith(CONTAINERS):
            found = False
            for layer in layers:
                value = _find_in_container(f.path, layer.name)
                if value is None:
                    continue
                qc = _find_in_container(f.path, layer.qc)
                if qc is None:
                    raise InputError(f"{os.path.basename(f.path)} holds {layer.name} but not its quality layer "
                                     f"{layer.qc}; download the complete product file.")
                jobs.append((f, layer, value, qc))
                found = True
            if not found:
                raise InputError(f"{os.path.basename(f.path)} holds none of the layers "
                                 f"{', '.join(la.name for la in layers)} of {f.product}; give the product file as "
                                 "downloaded.")
            continue
        hit = _layer_in_name(f.path, layers)
        if hit is None:
            raise InputError(f"{os.path.basename(f.path)}: the file name names none of the {f.product} layers "
                             f"{', '.join(la.name + ' / ' + la.qc for la in layers)}; keep AppEEARS' file names.")
        layer, is_qc = hit
        slot = exports.setdefault((f.product, f.date, f.tile, layer.factor), {})
        if is_qc in slot:
            raise InputError(f"{os.path.basename(slot[is_qc])} and {os.path.basename(f.path)} are the same "
                             f"{f.product} layer of {f.date.isoformat()}; give each file once.")
        slot[is_qc] = f.path
    for (product, date, _tile, factor), slot in sorted(exports.items()):
        layer = next(la for la in PRODUCTS[product] if la.factor == factor)
        if False not in slot:
            continue  # a quality layer of a value layer not given: not needed
        if True not in slot:
            raise InputError(f"{os.path.basename(slot[False])} needs its quality layer {layer.qc} of the same date "
                             f"({date.isoformat()}) to mask clouds and failed retrievals; add the {product} "
                             f"'{layer.qc}' file.")
        f = next(x for x in files if x.path == slot[False])
        jobs.append((f, layer, slot[False], slot[True]))
    seen: set[tuple[str, dt.date, str, str]] = set()
    for f, layer, value_src, qc_src in jobs:
        shown = os.path.basename(f.path)
        vds, grid = _open(value_src, shown)
        qds, qc_grid = _open(qc_src, os.path.basename(qc_src))
        dates = _band_dates(vds, f)
        if (qds.RasterXSize, qds.RasterYSize, qds.RasterCount) != (vds.RasterXSize, vds.RasterYSize, vds.RasterCount) \
                or not np.allclose(qc_grid.transform, grid.transform):
            raise InputError(f"The quality layer {layer.qc} ({os.path.basename(qc_src)}) is not on the grid and dates "
                             f"of {layer.name} ({shown}); give the two layers of one export.")
        for band, date in enumerate(dates, 1):
            ident = (layer.factor, date, f.tile, f.product)
            if ident in seen:
                raise InputError(f"{f.product} {layer.name} of {date.isoformat()}"
                                 f"{' tile ' + f.tile if f.tile else ''} is given twice; give each file once.")
            seen.add(ident)
            values = _values(layer, _band(vds, value_src, band), _band(qds, qc_src, band))
            kept = int(np.isfinite(values).sum())
            name = f"{layer.factor}_{date:%Y%m%d}_{f.product}{'_' + f.tile if f.tile else ''}_{len(out)}.tif"
            target = os.path.join(out_dir, name)
            raster.write_raster(target, grid, values, names=[layer.factor],
                                metadata={"SMD_SOURCE": f"{f.product} {layer.name}", "SMD_DATE": date.isoformat()})
            say(f"{shown}: {layer.name} -> {layer.factor} {date.isoformat()}, {kept} of {values.size} pixels kept "
                f"after {layer.qc}.")
            out.append(target)
    return out
