"""MODIS LST / NDVI files as AppEEARS delivers them, for tests: one-layer GeoTIFFs named
``<product>.061_<layer>_doy<YYYYDDD>_aid0001.tif`` and CF NetCDF files holding several layers, both on the MODIS
sinusoidal grid (sphere of radius 6371007.181 m, 926.625433 m cells aligned with the tile lattice), values stored
as the products store them (LST uint16 x 0.02 K with fill 0, QC uint8; NDVI int16 x 0.0001 with fill -3000,
pixel reliability int8 with fill -1).

HDF4-EOS tiles cannot be written here: GDAL's HDF4 writer (HDF4Image) writes plain SDS named Band0, Band1 without
HDF-EOS grid metadata, and no HDF4 library is available to Python. The HDF4 path is GDAL's own driver (the same
subdataset lookup as NetCDF, by layer name) and is not exercised by the tests.
"""

from __future__ import annotations

import datetime as dt
import math
import os

import numpy as np
from osgeo import gdal, osr

SINUSOIDAL = "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs"
R = 6371007.181
CELL = 926.625433055833
X_MIN, Y_MAX = -20015109.354, 10007554.677

DTYPES = {np.uint16: gdal.GDT_UInt16, np.uint8: gdal.GDT_Byte, np.int16: gdal.GDT_Int16, np.int8: gdal.GDT_Int16,
          np.float32: gdal.GDT_Float32}


def srs_wkt() -> str:
    srs = osr.SpatialReference()
    srs.ImportFromProj4(SINUSOIDAL)
    return srs.ExportToWkt()


def lonlat_to_xy(lon: float, lat: float) -> tuple[float, float]:
    y = R * math.radians(lat)
    return R * math.radians(lon) * math.cos(math.radians(lat)), y


def grid_for(lon0: float, lat0: float, lon1: float, lat1: float) -> tuple[tuple[float, ...], int, int]:
    """Geotransform and size of the lattice-aligned sinusoidal window covering a lon/lat box."""
    xs, ys = zip(*(lonlat_to_xy(lo, la) for lo in (lon0, lon1) for la in (lat0, lat1)))
    c0 = math.floor((min(xs) - X_MIN) / CELL)
    c1 = math.ceil((max(xs) - X_MIN) / CELL)
    r0 = math.floor((Y_MAX - max(ys)) / CELL)
    r1 = math.ceil((Y_MAX - min(ys)) / CELL)
    return (X_MIN + c0 * CELL, CELL, 0.0, Y_MAX - r0 * CELL, 0.0, -CELL), c1 - c0, r1 - r0


def centres(gt: tuple[float, ...], width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude of the cell centres."""
    x = gt[0] + (np.arange(width) + 0.5) * gt[1]
    y = gt[3] + (np.arange(height) + 0.5) * gt[5]
    xx, yy = np.meshgrid(x, y)
    lat = np.degrees(yy / R)
    return np.degrees(xx / (R * np.cos(np.radians(lat)))), lat


def appeears_name(product: str, layer: str, date: dt.date) -> str:
    doy = date.timetuple().tm_yday
    tag = layer.replace(" ", "_")
    if tag[0].isdigit():
        tag = "_" + tag
    return f"{product}.061_{tag}_doy{date.year}{doy:03d}_aid0001.tif"


def write_geotiff(folder: str, product: str, layer: str, date: dt.date, gt, data: np.ndarray) -> str:
    path = os.path.join(folder, appeears_name(product, layer, date))
    ds = gdal.GetDriverByName("GTiff").Create(path, data.shape[1], data.shape[0], 1, DTYPES[data.dtype.type],
                                              ["COMPRESS=DEFLATE"])
    ds.SetGeoTransform(gt)
    ds.SetProjection(srs_wkt())
    ds.GetRasterBand(1).WriteArray(data)
    ds = None
    return path


def write_netcdf(path: str, gt, layers: dict[str, np.ndarray], scale: dict[str, float] | None = None,
                 times: list[dt.date] | None = None) -> str:
    """A CF NetCDF with the layers as variables (y, x) and the sinusoidal grid mapping; with ``times``, variables
    (time, y, x) along a time axis in days since 2000-01-01, as AppEEARS writes them."""
    height, width = next(iter(layers.values())).shape[-2:]
    ds = gdal.GetDriverByName("netCDF").CreateMultiDimensional(path)
    rg = ds.GetRootGroup()
    f64 = gdal.ExtendedDataType.Create(gdal.GDT_Float64)
    text = gdal.ExtendedDataType.CreateString()
    dims = []
    if times is not None:
        dt_ = rg.CreateDimension("time", "TEMPORAL", None, len(times))
        tv = rg.CreateMDArray("time", [dt_], f64)
        tv.Write(np.array([(t - dt.date(2000, 1, 1)).days for t in times], np.float64))
        tv.CreateAttribute("units", [], text).Write("days since 2000-01-01 00:00:00")
        tv.CreateAttribute("calendar", [], text).Write("julian")
        dims.append(dt_)
    dy = rg.CreateDimension("y", None, None, height)
    dx = rg.CreateDimension("x", None, None, width)

    def attr(obj, name, value):
        if isinstance(value, str):
            obj.CreateAttribute(name, [], text).Write(value)
        else:
            obj.CreateAttribute(name, [], f64).Write(float(value))

    xv = rg.CreateMDArray("x", [dx], f64)
    xv.Write(gt[0] + (np.arange(width) + 0.5) * gt[1])
    yv = rg.CreateMDArray("y", [dy], f64)
    yv.Write(gt[3] + (np.arange(height) + 0.5) * gt[5])
    for var, axis in ((xv, "x"), (yv, "y")):
        attr(var, "standard_name", f"projection_{axis}_coordinate")
        attr(var, "units", "m")
    crs = rg.CreateMDArray("crs", [], gdal.ExtendedDataType.Create(gdal.GDT_Byte))
    attr(crs, "grid_mapping_name", "sinusoidal")
    attr(crs, "spatial_ref", srs_wkt())
    attr(crs, "crs_wkt", srs_wkt())
    for name, data in layers.items():
        arr = rg.CreateMDArray(name, [*dims, dy, dx], gdal.ExtendedDataType.Create(DTYPES[data.dtype.type]))
        arr.Write(data)
        attr(arr, "grid_mapping", "crs")
        if scale and name in scale:
            attr(arr, "scale_factor", scale[name])
    ds = None
    return path
