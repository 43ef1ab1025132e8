"""A synthetic demonstration scene with a known answer (``smdownscale:sampledata``).

The scene lets anyone try the whole chain (align, screen, train, downscale, validate) without Earth
Engine, and lets tests and benchmarks measure how close a downscaling gets to the truth. It covers
``size_km`` x ``size_km`` km of semi-arid grassland in Xilingol, Inner Mongolia (centre 116.0 E, 43.5 N).
Everything is deterministic by ``seed``; each component draws from its own stream
(``np.random.default_rng([seed, ...])``), so the first dates of a scene do not depend on ``n_dates``.

Grids
    fine: 1 km on an equal-area Albers projection for China (origin on whole km); coarse: the SMAP
    EASE-Grid 2.0 global 9 km lattice (EPSG:6933, cells of 9008.055210146 m), the whole cells covering the
    fine extent, deliberately not aligned with the fine grid; precipitation: a CHIRPS-like 0.05 degree
    EPSG:4326 lattice, so aligning the factors has real reprojection and refining to do.

Factors (the ``static`` and ``dynamic`` folders)
    * elevation (m, about 900-1800): regional relief, ridges and valleys from gaussian-filtered noise
      at several scales (45, 20, 6, 2.5 and 1.2 km), rougher in hilly parts than on the plains, rising
      to the south; slope (degrees) computed from it.
    * landcover (categorical): from a moisture index (west-east gradient + smooth and patchy noise at
      25, 3 and 1.2 km + valleys wetter): forest on the wettest high ground, cropland on wet flat land,
      barren/sparse (sandy land) and shrub on the driest ground, grassland elsewhere, and a few lakes
      (water, 80) in low ground.
    * ndvi: per class base + seasonal green-up (peak early August) x moisture, a static 1.5 km
      pattern and a per-date 12 km anomaly.
    * lst_day / lst_night (K): warmer in the dry west, cooler with NDVI and elevation (lapse 6.5 and
      4.5 K/km), seasonal warming, per-date weather offset and 35 km anomaly.
    * precipitation (mm, antecedent 7 days, on the 0.05 degree grid): log-normal smooth field
      (40 and 15 km) times a west-east gradient whose strength varies by date.
    * vv / vh (dB, Sentinel-1 like, from the truth below): vv = -19 + 25 SM + 2 NDVI + static roughness
      (2 km, 1.2 dB) + 0.8 dB noise; vh = vv - 8 + 4 NDVI + 0.6 dB noise (the cross-polarised ratio
      grows with vegetation).

Truth (``truth`` folder, m3/m3)
    SM = clip(relation(factors) + noise, 0.02, 0.50) where :func:`generating_relation` is, with
    P the precipitation resampled bilinearly to 1 km, nl = ``nonlinearity`` and t = ``terrain``::

        0.195 + date offset + 0.18 (NDVI - 0.3)
        + 0.025 [(1 - nl) (P - 10) / 10 + nl (8 / 10) tanh((P - 10) / 8)]
        - 0.045 (LSTd - 303) / 10 [1 - nl 2.5 (NDVI - 0.3)]
        - 0.02 (LSTd - LSTn - 17) / 10
        + t [-0.04 slope / 5 + 0.008 (elevation - 1250) / 500]
        + landcover offset (cropland irrigated +0.03, forest +0.02, shrub -0.015, barren -0.04)
        - nl 0.06 tanh(max(LSTd - 303, 0) / 5) tanh(max(0.3 - NDVI, 0) / 0.1)   (hot bare ground dries out)

    (date offsets ~ N(0, 0.012) per date; all coefficients are stored in scene.json). Wetter with
    NDVI and rain, drier with heat, day-night contrast and steep slopes; the west-east aridity gradient
    arrives through the factors. ``noise`` is the std of spatially correlated noise (3 and 8 km
    scales, half static, half per date). Water is nodata; cloud gaps (a few blobs per date) are nodata
    in that date's NDVI and LST only, the truth stays valid there (it is computed from the clear factors).

SMAP (``smap`` folder, m3/m3)
    The mean of the valid truth pixels of each EASE cell (aggregate.CellIndex / CoarseMean, the
    project's one fine-to-coarse definition; cells less than half valid are nodata) plus an
    independent retrieval error per cell (std ``smap_error``, no bias).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import shutil
import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from osgeo import gdal, osr
from scipy import fft as sfft
from scipy import ndimage

from . import raster
from .aggregate import CellIndex, CoarseMean
from .errors import Canceled, InputError
from .grids import EASE_CELL, EASE_COLS, EASE_ROWS, EASE_X0, EASE_Y0
from .raster import Grid, IsCanceled, Progress, never_canceled, no_progress

ALBERS_CHINA = "+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
#: Its name in the files, shown by QGIS (a PROJ string alone reads as "Unknown CRS").
ALBERS_CHINA_NAME = "WGS 84 / Albers Equal Area China (105E, 25N 47N)"
CHIRPS_RES = 0.05
CENTER_LON, CENTER_LAT = 116.0, 43.5
SM_RANGE = (0.02, 0.50)
MIN_VALID_FRACTION = 0.5
LANDCOVER_NODATA = 255

#: class -> (name, RGB); colours after ESA WorldCover.
LANDCOVER_CLASSES: dict[int, tuple[str, tuple[int, int, int]]] = {
    10: ("cropland", (240, 150, 255)),
    20: ("grassland", (255, 255, 76)),
    30: ("forest", (0, 100, 0)),
    40: ("barren/sparse", (180, 180, 180)),
    50: ("shrub", (255, 187, 34)),
    80: ("water", (0, 100, 200)),
}
STATIC_FACTORS = ("elevation", "slope", "landcover")
DYNAMIC_FACTORS = ("ndvi", "lst_day", "lst_night", "vv", "vh", "precipitation")
#: Factors the generating relation reads (precipitation resampled to the fine grid).
RELATION_FACTORS = ("elevation", "slope", "landcover", "ndvi", "lst_day", "lst_night", "precipitation")
UNITS = {"elevation": "m", "slope": "degree", "landcover": "", "ndvi": "", "lst_day": "K", "lst_night": "K",
         "vv": "dB", "vh": "dB", "precipitation": "mm", "smap": "m3/m3", "truth": "m3/m3"}
GENERATOR = "smdownscale:sampledata"

# NDVI per class: (base, seasonal amplitude).
_NDVI_CLASS = {10: (0.17, 0.40), 20: (0.14, 0.40), 30: (0.34, 0.34), 40: (0.07, 0.10), 50: (0.12, 0.24)}


@dataclass
class SampleScene:
    """What :func:`make_sample` wrote. ``paths`` maps each layer name to its files (one per date for
    the dynamic layers, smap and truth; one for the static layers and for 'scene' = scene.json)."""

    out_dir: str
    dates: list[str]
    fine: Grid
    coarse: Grid
    paths: dict[str, list[str]] = field(default_factory=dict)

    @property
    def factor_files(self) -> list[str]:
        return [p for k in STATIC_FACTORS + DYNAMIC_FACTORS for p in self.paths[k]]

    @property
    def smap_files(self) -> list[str]:
        return list(self.paths["smap"])

    @property
    def truth_files(self) -> list[str]:
        return list(self.paths["truth"])

    @property
    def reference_grid(self) -> str:
        """static/elevation.tif: a raster on the 1 km grid."""
        return self.paths["elevation"][0]


# ---------------------------------------------------------------------------------------------
# grids

def _wkt(text: str, name: str = "") -> str:
    srs = osr.SpatialReference()
    srs.SetFromUserInput(text)
    if name:
        srs.SetProjCS(name)
    return srs.ExportToWkt()


def scene_grids(size_km: int) -> tuple[Grid, Grid, Grid]:
    """(fine 1 km Albers grid, coarse EASE 9 km grid, 0.05 degree precipitation grid) of a scene.

    Parameters
    ----------
    size_km : int
        Side of the square scene, in km (1 km pixels).

    Returns
    -------
    tuple of Grid
        (fine 1 km Albers grid, coarse EASE-Grid 2.0 9 km grid covering it, 0.05 degree precipitation grid).
    """
    albers = _wkt(ALBERS_CHINA, ALBERS_CHINA_NAME)
    ct = osr.CoordinateTransformation(raster.srs_from_wkt(_wkt("EPSG:4326")), raster.srs_from_wkt(albers))
    cx, cy, _ = ct.TransformPoint(CENTER_LON, CENTER_LAT)
    xmin = round(cx / 1000.0 - size_km / 2.0) * 1000.0
    ymax = round(cy / 1000.0 + size_km / 2.0) * 1000.0
    fine = Grid(albers, (xmin, 1000.0, 0.0, ymax, 0.0, -1000.0), size_km, size_km)

    ease = _wkt("EPSG:6933")
    ex0, ey0, ex1, ey1 = fine.extent_in(ease)
    c0 = max(0, math.floor((ex0 - EASE_X0) / EASE_CELL))
    c1 = min(EASE_COLS, math.ceil((ex1 - EASE_X0) / EASE_CELL))
    r0 = max(0, math.floor((EASE_Y0 - ey1) / EASE_CELL))
    r1 = min(EASE_ROWS, math.ceil((EASE_Y0 - ey0) / EASE_CELL))
    coarse = Grid(ease, (EASE_X0 + c0 * EASE_CELL, EASE_CELL, 0.0, EASE_Y0 - r0 * EASE_CELL, 0.0, -EASE_CELL),
                  c1 - c0, r1 - r0)

    geo = _wkt("EPSG:4326")
    lon0, lat0, lon1, lat1 = fine.extent_in(geo)
    i0, i1 = math.floor(lon0 / CHIRPS_RES) - 1, math.ceil(lon1 / CHIRPS_RES) + 1
    j0, j1 = math.floor(lat0 / CHIRPS_RES) - 1, math.ceil(lat1 / CHIRPS_RES) + 1
    precip = Grid(geo, (round(i0 * CHIRPS_RES, 10), CHIRPS_RES, 0.0, round(j1 * CHIRPS_RES, 10), 0.0, -CHIRPS_RES),
                  i1 - i0, j1 - j0)
    return fine, coarse, precip


def _grid_dict(grid: Grid) -> dict[str, Any]:
    return {"crs_wkt": grid.crs_wkt, "transform": list(grid.transform), "width": grid.width, "height": grid.height}


# ---------------------------------------------------------------------------------------------
# random fields

def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, *keys])


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float | tuple[float, float]) -> np.ndarray:
    """Stationary gaussian random field with unit variance and a gaussian correlation of ``sigma`` pixels.

    White noise filtered in the frequency domain on a padded canvas (no wrap-around), scaled by the
    exact variance of the discrete filter, so the field has unit variance whatever the scene size.

    Parameters
    ----------
    rng : numpy.random.Generator
        The random generator.
    shape : tuple[int, int]
        (rows, cols) of the field.
    sigma : float or tuple[float, float]
        Correlation length in pixels, the same or (along rows, along columns).

    Returns
    -------
    numpy.ndarray
        float32 field of ``shape``, mean about 0 and variance 1.
    """
    sy, sx = (sigma, sigma) if np.isscalar(sigma) else sigma  # type: ignore[misc]
    py, px = int(math.ceil(3 * sy)), int(math.ceil(3 * sx))
    ny = sfft.next_fast_len(shape[0] + 2 * py, real=True)
    nx = sfft.next_fast_len(shape[1] + 2 * px, real=True)
    white = rng.standard_normal((ny, nx), dtype=np.float32)
    hy = np.exp(-2.0 * math.pi ** 2 * sy ** 2 * np.fft.fftfreq(ny) ** 2)
    hx = np.exp(-2.0 * math.pi ** 2 * sx ** 2 * np.fft.rfftfreq(nx) ** 2)
    spec = sfft.rfft2(white)
    spec *= (hy[:, None] * hx[None, :]).astype(np.float32)
    out = sfft.irfft2(spec, s=(ny, nx))[py:py + shape[0], px:px + shape[1]]
    var = float(np.mean(hy ** 2)) * float(np.mean(np.exp(-4.0 * math.pi ** 2 * sx ** 2 * np.fft.fftfreq(nx) ** 2)))
    return (out / math.sqrt(var)).astype(np.float32)


def _blobs(rng: np.random.Generator, shape: tuple[int, int], count: int, radius: tuple[float, float],
           edge: np.ndarray, centers: list[tuple[int, int]] | None = None) -> np.ndarray:
    """Boolean mask of ``count`` irregular elliptic blobs (radius in pixels, edges roughened by ``edge``)."""
    h, w = shape
    mask = np.zeros(shape, dtype=bool)
    for k in range(count):
        if centers is not None:
            ci, cj = centers[k]
        else:
            ci, cj = int(rng.integers(0, h)), int(rng.integers(0, w))
        r = float(rng.uniform(min(radius), radius[1]))
        aspect = float(rng.uniform(0.55, 1.0))
        theta = float(rng.uniform(0.0, math.pi))
        m = int(math.ceil(1.6 * r)) + 1
        i0, i1, j0, j1 = max(0, ci - m), min(h, ci + m + 1), max(0, cj - m), min(w, cj + m + 1)
        ii, jj = np.mgrid[i0:i1, j0:j1]
        u = (jj - cj) * math.cos(theta) + (ii - ci) * math.sin(theta)
        v = -(jj - cj) * math.sin(theta) + (ii - ci) * math.cos(theta)
        d = np.sqrt((u / r) ** 2 + (v / (aspect * r)) ** 2)
        mask[i0:i1, j0:j1] |= d + 0.3 * edge[i0:i1, j0:j1] < 1.0
        mask[ci, cj] = True
    return mask


# ---------------------------------------------------------------------------------------------
# bilinear resampling between grids (used for precipitation: the truth's factor and the oracle's)

def bilinear_coords(src: Grid, dst: Grid) -> np.ndarray:
    """(2, H, W) fractional (row, col) in ``src`` of each ``dst`` pixel centre.

    Parameters
    ----------
    src : Grid
        The grid the values are on.
    dst : Grid
        The grid whose pixel centres are looked up (any CRS).

    Returns
    -------
    numpy.ndarray
        float64 array of shape (2, dst.height, dst.width): row and column in ``src`` (pixel centres at integers).
    """
    x, y = dst.centers(0, dst.height)
    if not src.srs.IsSame(dst.srs):
        ct = osr.CoordinateTransformation(dst.srs, src.srs)
        pts = np.asarray(ct.TransformPoints(np.column_stack([x.ravel(), y.ravel()])), dtype=np.float64)
        x, y = pts[:, 0].reshape(x.shape), pts[:, 1].reshape(y.shape)
    x0, dx, _, y0, _, dy = src.transform
    return np.stack([(y - y0) / dy - 0.5, (x - x0) / dx - 0.5])


def resample_bilinear(values: np.ndarray, src: Grid, dst: Grid | np.ndarray) -> np.ndarray:
    """Bilinear interpolation of ``values`` on ``src`` at the pixel centres of ``dst`` (a Grid or the
    output of :func:`bilinear_coords`), like gdalwarp -r bilinear: the outer half pixel takes the edge
    values; NaN where a neighbour is NaN or outside ``src``.

    Parameters
    ----------
    values : numpy.ndarray
        (rows, cols) values on ``src``, NaN for nodata.
    src : Grid
        Their grid.
    dst : Grid or numpy.ndarray
        The target grid, or its coordinates from :func:`bilinear_coords`.

    Returns
    -------
    numpy.ndarray
        float64 values at the target pixel centres, shape (dst.height, dst.width).
    """
    coords = bilinear_coords(src, dst) if isinstance(dst, Grid) else dst
    vals = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(vals)
    out = ndimage.map_coordinates(np.where(bad, 0.0, vals), coords, order=1, mode="nearest")
    hit = ndimage.map_coordinates(bad.astype(np.float64), coords, order=1, mode="nearest")
    outside = ((coords[0] < -0.5) | (coords[0] > vals.shape[0] - 0.5) | (coords[1] < -0.5)
               | (coords[1] > vals.shape[1] - 0.5) | ~np.isfinite(coords).all(axis=0))
    out[(hit > 1e-9) | outside] = np.nan
    return out


# ---------------------------------------------------------------------------------------------
# the generating relation

def default_relation(seed: int, dates: list[str], terrain: float = 1.0, nonlinearity: float = 0.0) -> dict[str, Any]:
    """Coefficients of :func:`generating_relation` for a scene (JSON types; stored in scene.json).

    Parameters
    ----------
    seed : int
        The scene's seed (draws the per-date offsets).
    dates : list[str]
        The scene's ISO dates.
    terrain : float
        Weight of the slope and elevation terms.
    nonlinearity : float
        Weight of the nonlinear terms (saturating rain, NDVI-LST interaction, heat stress), 0 (linear) to 1.

    Returns
    -------
    dict[str, Any]
        The relation's coefficients, the dates and their offsets, the clip range.
    """
    offsets = [round(float(_rng(seed, 3, t).normal(0.0, 0.012)), 6) for t in range(len(dates))]
    return {
        "b0": 0.195, "b_ndvi": 0.18, "ndvi_ref": 0.3,
        "b_p": 0.025, "p_ref": 10.0, "p_scale": 10.0, "p_sat": 8.0,
        "b_lst": -0.045, "lst_ref": 303.0, "lst_scale": 10.0, "k_interaction": 2.5,
        "b_stress": -0.06, "stress_lst": 303.0, "stress_ndvi": 0.3,
        "b_dtr": -0.02, "dtr_ref": 17.0,
        "b_slope": -0.04, "slope_scale": 5.0, "b_elev": 0.008, "elev_ref": 1250.0, "elev_scale": 500.0,
        "landcover_offsets": {"10": 0.03, "20": 0.0, "30": 0.02, "40": -0.04, "50": -0.015},
        "date_offsets": offsets, "dates": list(dates),
        "terrain": float(terrain), "nonlinearity": float(nonlinearity), "clip": list(SM_RANGE),
    }


def generating_relation(factors: Mapping[str, np.ndarray], date_index: int, params: Mapping[str, Any],
                        clip: bool = True) -> np.ndarray:
    """The noise-free soil moisture (m3/m3) of a sample scene from its true factors on the fine grid.

    ``factors`` holds arrays of the same shape for elevation, slope, landcover, ndvi, lst_day, lst_night
    and precipitation (resampled to the fine grid); ``params`` is the 'relation' of scene.json. NaN
    where a factor is NaN or the land cover has no offset (water). The truth is
    clip(relation without clip + noise); with ``clip`` the relation is clipped to the same range.

    Parameters
    ----------
    factors : Mapping[str, numpy.ndarray]
        The true factors on the fine grid, arrays of one shape (:data:`RELATION_FACTORS`).
    date_index : int
        The date's position in ``params['dates']``.
    params : Mapping[str, Any]
        The relation (:func:`default_relation`).
    clip : bool
        Whether to clip to the relation's range.

    Returns
    -------
    numpy.ndarray
        float64 soil moisture in m3/m3 of the factors' shape, NaN where undefined.

    Raises
    ------
    InputError
        A factor of the relation is missing, or ``date_index`` is outside the scene's dates.
    """
    missing = [k for k in RELATION_FACTORS if k not in factors]
    if missing:
        raise InputError(f"The generating relation needs the factors {', '.join(missing)}; "
                         f"give arrays for all of {', '.join(RELATION_FACTORS)}.")
    offsets = params["date_offsets"]
    if not 0 <= int(date_index) < len(offsets):
        raise InputError(f"Date index {date_index} is outside the scene's {len(offsets)} dates; "
                         f"give 0..{len(offsets) - 1}.")
    p = params
    f = {k: np.asarray(factors[k], dtype=np.float64) for k in RELATION_FACTORS}
    nl = float(p["nonlinearity"])
    ndvi = f["ndvi"] - p["ndvi_ref"]
    pz = (f["precipitation"] - p["p_ref"]) / p["p_scale"]
    if nl > 0:
        psat = p["p_sat"] / p["p_scale"] * np.tanh((f["precipitation"] - p["p_ref"]) / p["p_sat"])
        pz = (1.0 - nl) * pz + nl * psat
    lst = (f["lst_day"] - p["lst_ref"]) / p["lst_scale"]
    stress = 0.0
    if nl > 0:
        lst = lst * (1.0 - nl * p["k_interaction"] * ndvi)
        # threshold: hot, sparsely vegetated ground dries out beyond what the linear terms say
        stress = nl * p["b_stress"] * (np.tanh(np.maximum(f["lst_day"] - p["stress_lst"], 0.0) / 5.0)
                                       * np.tanh(np.maximum(p["stress_ndvi"] - f["ndvi"], 0.0) / 0.1))
    dtr = (f["lst_day"] - f["lst_night"] - p["dtr_ref"]) / p["lst_scale"]
    topo = (p["b_slope"] * f["slope"] / p["slope_scale"]
            + p["b_elev"] * (f["elevation"] - p["elev_ref"]) / p["elev_scale"])
    lut = np.full(256, np.nan)
    for cls, off in p["landcover_offsets"].items():
        lut[int(cls)] = off
    lc = f["landcover"]
    lc_idx = np.clip(np.where(np.isfinite(lc), lc, LANDCOVER_NODATA), 0, 255).astype(np.int64)
    sm = (p["b0"] + offsets[int(date_index)] + p["b_ndvi"] * ndvi + p["b_p"] * pz + p["b_lst"] * lst
          + p["b_dtr"] * dtr + float(p["terrain"]) * topo + lut[lc_idx] + stress)
    if clip:
        sm = np.clip(sm, *p["clip"])
    return sm


# ---------------------------------------------------------------------------------------------
# validation

def _check_int(value: Any, name: str, lo: int, hi: int | None, fix: str) -> int:
    try:
        ok = not isinstance(value, bool) and float(value) == int(value)
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok or int(value) < lo or (hi is not None and int(value) > hi):
        rng = f"between {lo} and {hi}" if hi is not None else f"a whole number >= {lo}"
        raise InputError(f"{name} must be {rng} (got {value!r}); {fix}.")
    return int(value)


def _check_float(value: Any, name: str, lo: float, hi: float, fix: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if not math.isfinite(v) or v < lo or v > hi:
        raise InputError(f"{name} must be between {lo:g} and {hi:g} (got {value!r}); {fix}.")
    return v


def scene_dates(start_date: str, n_dates: int, step_days: int) -> list[str]:
    """``n_dates`` ISO dates from ``start_date``, ``step_days`` apart.

    Parameters
    ----------
    start_date : str
        The first date, 'YYYY-MM-DD'.
    n_dates : int
        How many dates.
    step_days : int
        Days between dates.

    Returns
    -------
    list of str
        The ISO dates.

    Raises
    ------
    InputError
        ``start_date`` is not a YYYY-MM-DD date.
    """
    try:
        start = dt.date.fromisoformat(str(start_date).strip())
    except ValueError as exc:
        raise InputError(f"The start date '{start_date}' is not a date; "
                         "give it as YYYY-MM-DD, e.g. 2023-06-01.") from exc
    return [(start + dt.timedelta(days=step_days * i)).isoformat() for i in range(n_dates)]


# ---------------------------------------------------------------------------------------------
# writing

class _Writer:
    """Writes the scene into a staging folder inside ``out_dir``; :meth:`commit` moves it into place."""

    def __init__(self, out_dir: str, progress: Progress, is_canceled: IsCanceled, total_steps: int) -> None:
        self.out_dir = out_dir
        self.stage = os.path.join(out_dir, f".sampledata-partial-{uuid.uuid4().hex[:8]}")
        self.progress = progress
        self.is_canceled = is_canceled
        self.total = max(1, total_steps)
        self.done = 0
        self.files: list[str] = []  # relative paths, in writing order
        self.layers: dict[str, list[str]] = {}  # layer name -> relative paths
        os.makedirs(self.stage)

    def step(self) -> None:
        """One unit of work done; raises Canceled when asked to stop."""
        self.done += 1
        self.progress(min(1.0, self.done / self.total))
        if self.is_canceled():
            raise Canceled()

    def write(self, rel: str, grid: Grid, arr: np.ndarray, name: str, date: str | None = None,
              categorical: bool = False) -> None:
        path = os.path.join(self.stage, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        dtype, nodata = (gdal.GDT_Byte, LANDCOVER_NODATA) if categorical else (gdal.GDT_Float32, raster.NODATA_F32)
        meta = {"SMD_GENERATOR": GENERATOR}
        if date:
            meta["SMD_DATE"] = date
        start, end = self.done / self.total, (self.done + 1) / self.total
        with raster.atomic_path(path) as tmp:
            ds = raster.create_geotiff(tmp, grid, 1, dtype, nodata, [name],
                                       ["categorical" if categorical else "continuous"], meta)
            band = ds.GetRasterBand(1)
            band.SetUnitType(UNITS.get(name, ""))
            if categorical:
                table = gdal.ColorTable()
                names = [""] * 256
                for cls, (label, rgb) in LANDCOVER_CLASSES.items():
                    table.SetColorEntry(cls, (*rgb, 255))
                    names[cls] = label
                band.SetColorTable(table)
                band.SetCategoryNames(names)
            rows = raster.block_rows_for(grid.width, 1)
            for row0, nrows in raster.iter_blocks(grid.height, rows, self.progress, self.is_canceled, start, end):
                raster.write_block(ds, row0, arr[row0:row0 + nrows], nodata)
            ds.FlushCache()
            ds = None
        self.files.append(rel)
        self.layers.setdefault(name, []).append(rel)
        self.step()

    def commit(self, scene: dict[str, Any], previous: list[str]) -> None:
        """Move the staged files into ``out_dir`` (replacing a previous sample scene), then scene.json."""
        new = set(self.files)
        for rel in previous:
            if rel not in new:
                _remove(os.path.join(self.out_dir, rel))
        for rel in self.files:
            dst = os.path.join(self.out_dir, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.replace(os.path.join(self.stage, rel), dst)
            if os.path.exists(os.path.join(self.stage, rel) + ".aux.xml"):
                os.replace(os.path.join(self.stage, rel) + ".aux.xml", dst + ".aux.xml")
            elif os.path.exists(dst + ".aux.xml"):
                _remove(dst + ".aux.xml")
        tmp = os.path.join(self.out_dir, f".scene.partial-{uuid.uuid4().hex[:8]}.json")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(scene, fh, indent=1)
        os.replace(tmp, os.path.join(self.out_dir, "scene.json"))
        self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.stage, ignore_errors=True)


_SUBFOLDERS = ("static", "dynamic", "smap", "truth")


def _remove(path: str) -> None:
    for p in (path, path + ".aux.xml"):
        with contextlib.suppress(OSError):
            os.remove(p)


def _previous_scene(out_dir: str) -> list[str]:
    """Files of an earlier sample scene in ``out_dir``; raises if the subfolders hold anything else."""
    previous: list[str] = []
    path = os.path.join(out_dir, "scene.json")
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as fh:
                old = json.load(fh)
            ours = isinstance(old, dict) and old.get("generator") == GENERATOR
        except (OSError, ValueError):
            ours = False
        if not ours:
            raise InputError(f"The output folder already holds {path}, which was not written by 'Create sample "
                             "dataset'; choose an empty folder (or remove that file).")
        previous = [f for f in old.get("files", []) if isinstance(f, str) and f.split("/")[0] in _SUBFOLDERS
                    and ".." not in f.split("/")]
    known = set(previous)
    for sub in _SUBFOLDERS:
        folder = os.path.join(out_dir, sub)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            rel = f"{sub}/{name}"
            if rel in known or (name.endswith(".aux.xml") and rel[:-8] in known):
                continue
            raise InputError(f"The output folder already holds {os.path.join(folder, name)}, which is not part of a "
                             "sample scene; the chain reads every raster in these folders, so choose an empty "
                             "folder (or remove that file).")
    return previous


# ---------------------------------------------------------------------------------------------
# the scene

@raster.gdal_exceptions()
def make_sample(out_dir: str, seed: int = 42, size_km: int = 200, n_dates: int = 4, start_date: str = "2023-06-01",
                step_days: int = 8, noise: float = 0.015, terrain: float = 1.0, nonlinearity: float = 0.0,
                progress: Progress = no_progress, is_canceled: IsCanceled = never_canceled,
                smap_error: float = 0.004) -> SampleScene:
    """Write a sample scene with a known answer into ``out_dir`` (see the module docstring).

    All files are written into a staging folder and moved into place only when the whole scene is
    complete; on cancel or error nothing is left behind. An earlier sample scene in ``out_dir`` is
    replaced (its files that the new one does not have are removed).

    Parameters
    ----------
    out_dir
        The folder receiving the scene.
    seed, size_km, n_dates, start_date, step_days
        The scene's randomness, size and dates.
    noise, terrain, nonlinearity, smap_error
        The generating relation's noise and shape.
    progress, is_canceled
        Progress fraction and cancel check (:mod:`.raster` defaults).

    Returns
    -------
    SampleScene
        The folder, the dates, the fine and coarse grids and the paths of every file by kind.

    Raises
    ------
    InputError
        No folder, a file where the folder should be, or a folder that cannot be created or written.
    Canceled
        ``is_canceled()`` became true; nothing is left behind.
    """
    seed = _check_int(seed, "The seed", 0, 2**63 - 1, "give a whole number such as 42")
    size_km = _check_int(size_km, "The scene size", 20, 2000, "give a size in km in that range")
    n_dates = _check_int(n_dates, "The number of dates", 1, 366, "give how many dates to generate")
    step_days = _check_int(step_days, "The step between dates", 1, 366, "give the number of days between dates")
    noise = _check_float(noise, "The truth noise", 0.0, 0.2, "give a standard deviation in m3/m3 such as 0.015")
    terrain = _check_float(terrain, "The terrain effect", 0.0, 5.0, "give a factor such as 1 (0 switches it off)")
    nonlinearity = _check_float(nonlinearity, "The nonlinearity", 0.0, 1.0, "give a value from 0 (linear) to 1")
    smap_error = _check_float(smap_error, "The SMAP retrieval error", 0.0, 0.1, "give a standard deviation in m3/m3")
    dates = scene_dates(start_date, n_dates, step_days)
    if not out_dir:
        raise InputError("No output folder was given; choose a folder for the sample scene.")
    out_dir = os.path.abspath(out_dir)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise InputError(f"{out_dir} is a file, not a folder; choose a folder for the sample scene.")
    created = not os.path.exists(out_dir)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise InputError(f"Cannot create the output folder {out_dir} ({exc.strerror}); "
                         "choose another location.") from exc
    if not os.access(out_dir, os.W_OK):
        raise InputError(f"The output folder {out_dir} is not writable; choose another location.")

    writer = None
    try:
        previous = _previous_scene(out_dir)
        writer = _Writer(out_dir, progress, is_canceled, total_steps=2 + 3 + n_dates * 10)
        scene = _generate(writer, seed, size_km, dates, noise, terrain, nonlinearity, smap_error)
        writer.commit(scene, previous)
    except BaseException:
        if writer is not None:
            writer.discard()
        if created:
            with contextlib.suppress(OSError):
                os.rmdir(out_dir)
        raise
    fine, coarse, _ = scene_grids(size_km)
    paths = {name: [os.path.join(out_dir, *rel.split("/")) for rel in rels] for name, rels in scene["layers"].items()}
    paths["scene"] = [os.path.join(out_dir, "scene.json")]
    return SampleScene(out_dir, dates, fine, coarse, paths)


def _static_fields(seed: int, n: int) -> dict[str, np.ndarray]:
    """Terrain, moisture index, land cover and the static noise fields of a scene of n x n km."""
    rng = _rng(seed, 0)
    shape = (n, n)
    half = n / 2.0
    xn = np.broadcast_to(((np.arange(n) + 0.5 - half) / half)[None, :], shape)
    yn = np.broadcast_to(((half - np.arange(n) - 0.5) / half)[:, None], shape)

    regional = smooth_noise(rng, shape, 45)
    hilly = 0.5 + 0.5 * np.tanh(1.3 * smooth_noise(rng, shape, 20) + 0.3)
    ridges = (1.0 - np.abs(smooth_noise(rng, shape, 6))) ** 2
    hills = smooth_noise(rng, shape, 2.5)
    rough = smooth_noise(rng, shape, 1.2)
    elev = (1230.0 + 75.0 * regional - 50.0 * yn
            + (0.25 + hilly) * (130.0 * (ridges - 0.45) + 35.0 * hills + 14.0 * rough))
    dzdy, dzdx = np.gradient(elev.astype(np.float64), 1000.0)
    slope = np.degrees(np.arctan(np.hypot(dzdx, dzdy)))
    relief = elev - ndimage.gaussian_filter(elev.astype(np.float64), 8.0, mode="reflect")

    moist_large = 0.9 * xn + 0.45 * smooth_noise(rng, shape, 25)
    moist = moist_large + 0.45 * smooth_noise(rng, shape, 3) + 0.25 * smooth_noise(rng, shape, 1.2) - 0.004 * relief
    elev_z = (elev - 1250.0) / 150.0
    slope_z = (slope - 1.5) / 1.0

    # lakes in low ground
    area = n * n / 40000.0
    n_lakes = max(1, int(round(rng.uniform(3.0, 6.0) * area)))
    lake_edge = smooth_noise(rng, shape, 1.5)
    centers = []
    for _ in range(n_lakes):
        cand_i = rng.integers(2, n - 2, size=8)
        cand_j = rng.integers(2, n - 2, size=8)
        best = int(np.argmin(relief[cand_i, cand_j]))
        centers.append((int(cand_i[best]), int(cand_j[best])))
    water = _blobs(rng, shape, n_lakes, (2.0, min(6.0, n / 10.0)), lake_edge, centers)

    land = ~water
    lc = np.full(shape, 20, dtype=np.uint8)
    free = land.copy()

    def take(score: np.ndarray, fraction: float, cls: int) -> None:
        s = np.where(free, score, -np.inf)
        k = int(round(fraction * land.sum()))
        if k <= 0:
            return
        thr = np.partition(s.ravel(), s.size - k)[s.size - k]
        sel = free & (s >= thr)
        lc[sel] = cls
        free[sel] = False

    take(moist + 0.6 * elev_z + 0.4 * smooth_noise(rng, shape, 2.0), 0.07, 30)
    take(moist - 1.2 * slope_z + 0.7 * smooth_noise(rng, shape, 2.0), 0.12, 10)
    take(-moist + 0.6 * smooth_noise(rng, shape, 5.0), 0.10, 40)
    take(-moist + 0.8 * slope_z + 0.5 * smooth_noise(rng, shape, 2.0), 0.10, 50)
    lc[water] = 80

    ndvi_pattern = smooth_noise(rng, shape, 1.5)
    sm_static = (smooth_noise(rng, shape, 3) + smooth_noise(rng, shape, 8)) / math.sqrt(2.0)
    roughness = smooth_noise(rng, shape, 2.0)
    return {"xn": np.ascontiguousarray(xn), "elevation": elev.astype(np.float32), "slope": slope.astype(np.float32),
            "landcover": lc, "water": water, "moist": moist.astype(np.float32),
            "moist_large": moist_large.astype(np.float32), "ndvi_pattern": ndvi_pattern, "sm_static": sm_static,
            "roughness": roughness}


def _precipitation(seed: int, t: int, grid: Grid, fine: Grid) -> np.ndarray:
    """Antecedent 7-day precipitation (mm) of date t on the 0.05 degree grid."""
    rng = _rng(seed, 2, t)
    x, y = grid.centers(0, grid.height)
    ct = osr.CoordinateTransformation(grid.srs, fine.srs)
    pts = np.asarray(ct.TransformPoints(np.column_stack([x.ravel(), y.ravel()])), dtype=np.float64)
    fx0, _, fy1, _ = fine.extent
    half = (fine.extent[2] - fx0) / 2.0
    xn = ((pts[:, 0] - (fx0 + half)) / half).reshape(x.shape)
    km_y = CHIRPS_RES * 111.32
    km_x = km_y * math.cos(math.radians(float(np.mean(y))))
    base = rng.uniform(4.0, 12.0)
    gradient = rng.uniform(0.4, 1.2)
    field = (0.5 * gradient * xn + 0.55 * smooth_noise(rng, x.shape, (40.0 / km_y, 40.0 / km_x))
             + 0.25 * smooth_noise(rng, x.shape, (15.0 / km_y, 15.0 / km_x)))
    return (base * np.exp(field)).astype(np.float32)


def _generate(w: _Writer, seed: int, size_km: int, dates: list[str], noise: float, terrain: float,
              nonlinearity: float, smap_error: float) -> dict[str, Any]:
    fine, coarse, pgrid = scene_grids(size_km)
    n = size_km
    shape = (n, n)
    st = _static_fields(seed, n)
    w.step()
    relation = default_relation(seed, dates, terrain, nonlinearity)
    water = st["water"]
    w.write("static/elevation.tif", fine, st["elevation"], "elevation")
    w.write("static/slope.tif", fine, st["slope"], "slope")
    w.write("static/landcover.tif", fine, st["landcover"], "landcover", categorical=True)
    coords = bilinear_coords(pgrid, fine)
    index = _CachedCellIndex(fine, coarse)
    w.step()

    stats: list[dict[str, float]] = []
    lc = st["landcover"]
    for t, date in enumerate(dates):
        rng = _rng(seed, 1, t)
        tag = date.replace("-", "")
        doy = dt.date.fromisoformat(date).timetuple().tm_yday
        season = math.exp(-(((doy - 215.0) / 70.0) ** 2))

        base = np.zeros(shape, np.float32)
        amp = np.zeros(shape, np.float32)
        for cls, (b, a) in _NDVI_CLASS.items():
            base[lc == cls] = b
            amp[lc == cls] = a
        ndvi = (base + amp * season * (0.7 + 0.3 * np.tanh(st["moist"])) + 0.05 * st["ndvi_pattern"]
                + 0.02 * smooth_noise(rng, shape, 12) + 0.01 * rng.standard_normal(shape, dtype=np.float32))
        ndvi = np.clip(ndvi, -0.05, 0.92).astype(np.float32)
        ndvi[water] = np.nan
        t_off = float(rng.normal(0.0, 1.5))
        lapse = (st["elevation"] - 1250.0) / 1000.0
        lst_day = (300.0 + t_off + 3.0 * season - 1.5 * st["moist_large"] - 16.0 * (ndvi - 0.3) - 6.5 * lapse
                   + 1.8 * smooth_noise(rng, shape, 35) + 0.7 * smooth_noise(rng, shape, 1.5)).astype(np.float32)
        lst_night = (284.0 + 0.6 * t_off + 1.5 * season - 0.6 * st["moist_large"] - 3.0 * (ndvi - 0.3) - 4.5 * lapse
                     + 1.0 * smooth_noise(rng, shape, 35) + 0.4 * smooth_noise(rng, shape, 1.5)).astype(np.float32)
        n_clouds = max(1, int(round(rng.uniform(2.0, 5.0) * n * n / 40000.0)))
        clouds = _blobs(rng, shape, n_clouds, (4.0, min(14.0, n / 6.0)), smooth_noise(rng, shape, 2.0))
        w.step()

        precip = _precipitation(seed, t, pgrid, fine)
        precip_fine = resample_bilinear(precip, pgrid, coords)
        factors = {"elevation": st["elevation"], "slope": st["slope"], "landcover": lc.astype(np.float32),
                   "ndvi": ndvi, "lst_day": lst_day, "lst_night": lst_night,
                   "precipitation": precip_fine.astype(np.float32)}
        sm_noise = (st["sm_static"] + (smooth_noise(rng, shape, 3) + smooth_noise(rng, shape, 8)) / math.sqrt(2.0))
        truth = generating_relation(factors, t, relation, clip=False) + noise * sm_noise / math.sqrt(2.0)
        truth = np.clip(truth, *SM_RANGE).astype(np.float32)
        truth[water] = np.nan
        vv = (-19.0 + 25.0 * truth + 2.0 * ndvi + 1.2 * st["roughness"]
              + 0.8 * rng.standard_normal(shape, dtype=np.float32)).astype(np.float32)
        vh = (vv - 8.0 + 4.0 * ndvi + 0.6 * rng.standard_normal(shape, dtype=np.float32)).astype(np.float32)
        w.step()

        for name, arr in (("ndvi", ndvi), ("lst_day", lst_day), ("lst_night", lst_night)):
            out = arr.copy()
            out[clouds] = np.nan
            w.write(f"dynamic/{name}_{tag}.tif", fine, out, name, date)
        w.write(f"dynamic/vv_{tag}.tif", fine, vv, "vv", date)
        w.write(f"dynamic/vh_{tag}.tif", fine, vh, "vh", date)
        w.write(f"dynamic/precipitation_{tag}.tif", pgrid, precip, "precipitation", date)
        w.write(f"truth/truth_{tag}.tif", fine, truth, "truth", date)

        acc = CoarseMean(index, 1)
        for row0, nrows in raster.iter_blocks(n, raster.block_rows_for(n, 1), is_canceled=w.is_canceled):
            acc.add(row0, truth[row0:row0 + nrows])
        smap = acc.mean(MIN_VALID_FRACTION)[0]
        smap = smap + smap_error * rng.standard_normal(smap.shape)
        w.write(f"smap/smap_{tag}.tif", coarse, smap.astype(np.float32), "smap", date)
        ok = np.isfinite(truth)
        stats.append({"date": date, "truth_mean": round(float(truth[ok].mean()), 5),
                      "truth_std": round(float(truth[ok].std()), 5),
                      "smap_mean": round(float(np.nanmean(smap)), 5), "smap_cells": int(np.isfinite(smap).sum()),
                      "cloud_fraction": round(float(clouds.mean()), 4)})

    classes = {str(c): {"name": lab, "fraction": round(float((lc == c).mean()), 4)}
               for c, (lab, _) in LANDCOVER_CLASSES.items()}
    return {
        "generator": GENERATOR, "version": 1,
        "seed": seed, "size_km": size_km, "dates": dates, "center_lon_lat": [CENTER_LON, CENTER_LAT],
        "physics": {"noise": noise, "noise_scales_km": [3, 8], "terrain": terrain, "nonlinearity": nonlinearity,
                    "smap_error": smap_error, "smap_min_valid_fraction": MIN_VALID_FRACTION,
                    "vv": "-19 + 25*SM + 2*NDVI + 1.2*roughness(2 km) + N(0, 0.8) dB",
                    "vh": "VV - 8 + 4*NDVI + N(0, 0.6) dB",
                    "precipitation": "antecedent 7-day total, mm, 0.05 degree grid; the relation uses it "
                                     "resampled bilinearly to the fine grid"},
        "relation": relation,
        "grids": {"fine": _grid_dict(fine), "coarse": _grid_dict(coarse), "precipitation": _grid_dict(pgrid)},
        "landcover_classes": classes,
        "units": UNITS,
        "files": list(w.files),
        "layers": {k: list(v) for k, v in w.layers.items()},
        "stats": stats,
    }


class _CachedCellIndex(CellIndex):
    """CellIndex that remembers each block's cell indices (the same blocks are aggregated every date)."""

    def __init__(self, fine: Grid, coarse: Grid) -> None:
        super().__init__(fine, coarse)
        self._cache: dict[tuple[int, int], np.ndarray] = {}

    def rows(self, row0: int, nrows: int) -> np.ndarray:
        key = (row0, nrows)
        if key not in self._cache:
            self._cache[key] = super().rows(row0, nrows)
        return self._cache[key]
