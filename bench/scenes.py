"""Bench scenes unlike the sample generator's: farmland-steppe mosaics with a different physics and layout.

``algorithms/sample.py`` (``smdownscale:sampledata``) draws semi-arid grassland whose truth is a smooth,
mostly linear function of the factors it hands out, on the EASE grid, with SMAP the center-rule mean
of the truth. The models and defaults were tuned on such scenes. This module writes scenes in the same
folder layout (``static``, ``dynamic``, ``smap``, ``truth``, ``scene.json``) from a different world,
so the accuracy bench measures the chain where it is hard:

Layout (fine grid: 1 km Albers, centered on the Hetao irrigation district, 107.6 E 40.9 N)
    * Land cover in ESA WorldCover codes: 10 tree cover (shelterbelts, riparian strips), 20 shrubland,
      30 grassland (steppe), 40 cropland, 50 built-up (villages), 60 bare/sparse (desert), 80 water,
      90 herbaceous wetland (around water in low ground).
    * Cropland is a mosaic of parcels of 1-3 km (Voronoi cells of random seeds ~2 km apart) inside
      irrigation districts; each parcel has an irrigation propensity and per date a share of parcels
      is freshly irrigated (wetness 0.75-0.95 whatever the rain): wet patches far smaller than a SMAP
      cell, switching between dates.
    * Soil texture (sand fraction, 6 km scale) is not handed out: it sets field capacity and wilting
      point, so part of the truth's spatial pattern is invisible in the factors (as in the real world).

Physics (per date)
    * Rain: a 1 km field (20 and 6 km scales, log-normal) of antecedent precipitation; the factor is its
      mean over each cell of a **5 km grid** in the fine projection whose origin is offset by
      (2.3, 1.7) km, so it is both coarse and misaligned. ``wet_date`` makes the last date a regional
      soaking (3.5x the rain, saturating), wetter than every other date.
    * Wetness w = 1 - exp(-rain / r0(sand)) reduced by evaporative demand (date temperature, bare
      soil); irrigated parcels and wetlands override it; built-up is dry. SM = wp + (fc - wp) w + noise
      (2 and 6 km scales), clipped to 0.02-0.50; water is nodata.
    * NDVI: steppe and rainfed crops respond to a slower (antecedent) wetness; irrigated crops are
      green by parcel crop stage; class bases after WorldCover. LST day cools with both vegetation and
      the true surface wetness (evaporative cooling, nonlinear in SM), LST night rises with wetness
      (thermal inertia). Cloud gaps in NDVI and LST.
    * Sentinel-1: vv = -21 + 32 SM (1 - 0.5 NDVI) + 3 NDVI + parcel tillage roughness, vh = vv - 7 +
      5 NDVI; both with **multiplicative gamma speckle** (4.4 looks, about 2 dB) in linear power.

SMAP
    The **area mean** of the truth over each coarse cell (every 1 km pixel split into 4 x 4 sub-pixels,
    each assigned to the cell containing it: partial pixels at cell edges count by area, unlike the
    center rule the chain uses), cells less than half valid are nodata, times a **multiplicative bias**
    (``smap_bias``), plus retrieval error. Coarse grids: ``ease`` (EASE-Grid 2.0 9 km, EPSG:6933, not
    aligned with the fine grid) or ``geo`` (0.1 degree EPSG:4326).

Everything is deterministic by ``seed``: each component draws from its own ``np.random.default_rng([seed,
...])`` stream.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from osgeo import gdal, osr
from scipy import ndimage
from scipy.spatial import cKDTree

GENERATOR = "bench:mosaic"
CENTER_LON, CENTER_LAT = 107.6, 40.9
PRECIP_RES = 5000.0
PRECIP_OFFSET = (2300.0, 1700.0)
GEO_RES = 0.1
SUBPIXELS = 4
#: WorldCover class -> name.
WORLDCOVER = {10: "tree cover", 20: "shrubland", 30: "grassland", 40: "cropland", 50: "built-up",
              60: "bare/sparse", 80: "water", 90: "herbaceous wetland"}
# NDVI per class (base, seasonal amplitude); cropland is handled per parcel.
_NDVI = {10: (0.35, 0.35), 20: (0.15, 0.2), 30: (0.12, 0.25), 50: (0.1, 0.05), 60: (0.05, 0.03), 90: (0.3, 0.3)}


@dataclass(frozen=True)
class MosaicPhysics:
    """What differs between mosaic scenes (stored in scene.json)."""

    coarse: str = "ease"            # 'ease' (EASE 9 km) or 'geo' (0.1 degree)
    cropland: float = 0.45          # share of land in irrigation districts
    irrigated: float = 0.35         # share of cropland parcels irrigated on a date
    wet_date: bool = False          # the last date is a regional soaking, wetter than every other date
    smap_bias: float = 1.0          # multiplicative bias of the coarse product
    smap_error: float = 0.006       # retrieval error (m3/m3, per cell)
    noise: float = 0.012            # spatially correlated truth noise (m3/m3)
    speckle_looks: float = 4.4      # equivalent number of looks of the SAR speckle (0: none)
    aridity: float = 0.5            # west-east aridity gradient strength (desert in the west)


def _wkt(text: str) -> str:
    srs = osr.SpatialReference()
    srs.SetFromUserInput(text)
    return srs.ExportToWkt()


def grids(size_km: int, coarse: str) -> tuple[Any, Any, Any, Any]:
    """(fine 1 km, coarse, 5 km precipitation grid, 250 m sub-pixel grid) of a mosaic scene."""
    from smdownscale.algorithms import grids, raster, sample
    from smdownscale.algorithms.raster import Grid

    albers = _wkt(sample.ALBERS_CHINA)
    ct = osr.CoordinateTransformation(raster.srs_from_wkt(_wkt("EPSG:4326")), raster.srs_from_wkt(albers))
    cx, cy, _ = ct.TransformPoint(CENTER_LON, CENTER_LAT)
    xmin = round(cx / 1000.0 - size_km / 2.0) * 1000.0
    ymax = round(cy / 1000.0 + size_km / 2.0) * 1000.0
    fine = Grid(albers, (xmin, 1000.0, 0.0, ymax, 0.0, -1000.0), size_km, size_km)
    sub = Grid(albers, (xmin, 1000.0 / SUBPIXELS, 0.0, ymax, 0.0, -1000.0 / SUBPIXELS),
               size_km * SUBPIXELS, size_km * SUBPIXELS)
    if coarse == "ease":
        ease = _wkt("EPSG:6933")
        ex0, ey0, ex1, ey1 = fine.extent_in(ease)
        cell = grids.EASE_CELL
        c0 = math.floor((ex0 - grids.EASE_X0) / cell)
        c1 = math.ceil((ex1 - grids.EASE_X0) / cell)
        r0 = math.floor((grids.EASE_Y0 - ey1) / cell)
        r1 = math.ceil((grids.EASE_Y0 - ey0) / cell)
        cgrid = Grid(ease, (grids.EASE_X0 + c0 * cell, cell, 0.0, grids.EASE_Y0 - r0 * cell, 0.0, -cell),
                     c1 - c0, r1 - r0)
    elif coarse == "geo":
        geo = _wkt("EPSG:4326")
        lon0, lat0, lon1, lat1 = fine.extent_in(geo)
        i0, i1 = math.floor(lon0 / GEO_RES), math.ceil(lon1 / GEO_RES)
        j0, j1 = math.floor(lat0 / GEO_RES), math.ceil(lat1 / GEO_RES)
        cgrid = Grid(geo, (round(i0 * GEO_RES, 10), GEO_RES, 0.0, round(j1 * GEO_RES, 10), 0.0, -GEO_RES),
                     i1 - i0, j1 - j0)
    else:
        raise ValueError(f"unknown coarse grid {coarse!r}")
    ox, oy = PRECIP_OFFSET
    pw = int(math.ceil((size_km * 1000.0 + ox) / PRECIP_RES)) + 1
    ph = int(math.ceil((size_km * 1000.0 + oy) / PRECIP_RES)) + 1
    pgrid = Grid(albers, (xmin - ox, PRECIP_RES, 0.0, ymax + oy, 0.0, -PRECIP_RES), pw, ph)
    return fine, cgrid, pgrid, sub


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, 1013, *keys])


def _static(seed: int, n: int, ph: MosaicPhysics) -> dict[str, np.ndarray]:
    from smdownscale.algorithms.sample import smooth_noise

    rng = _rng(seed, 0)
    shape = (n, n)
    xn = np.broadcast_to(((np.arange(n) + 0.5 - n / 2) / (n / 2))[None, :], shape)
    elev = (1050.0 + 40.0 * smooth_noise(rng, shape, 30) + 25.0 * smooth_noise(rng, shape, 8)
            + 60.0 * np.maximum(smooth_noise(rng, shape, 12), 0.0) ** 2)
    dzdy, dzdx = np.gradient(elev.astype(np.float64), 1000.0)
    slope = np.degrees(np.arctan(np.hypot(dzdx, dzdy)))
    low = elev - ndimage.gaussian_filter(elev.astype(np.float64), 6.0)
    sand = np.clip(0.45 + 0.12 * smooth_noise(rng, shape, 6) - 0.12 * ph.aridity * xn, 0.05, 0.9)
    aridity = -ph.aridity * xn + 0.35 * smooth_noise(rng, shape, 15)

    lc = np.full(shape, 30, dtype=np.uint8)
    # water: a river (meandering line) and a few reservoirs in low ground
    river_y = n / 2 + n * 0.25 * smooth_noise(rng, (1, n), (1, 12))[0]
    rows = np.arange(n)[:, None]
    water = np.abs(rows - river_y[None, :]) < 0.8
    nres = max(1, int(round(n * n / 8000)))
    cand = np.argsort(low.ravel())[: max(nres * 40, 1)]
    for k in rng.choice(cand, size=nres, replace=False):
        i, j = divmod(int(k), n)
        r = rng.uniform(1.0, 2.5)
        ii, jj = np.ogrid[:n, :n]
        water |= (ii - i) ** 2 + (jj - j) ** 2 <= r * r
    near_water = ndimage.distance_transform_edt(~water)
    # irrigation districts: lowland near the river, less in the arid west
    district = -0.02 * near_water - 0.01 * low + 0.6 * smooth_noise(rng, shape, 10) - 0.5 * aridity
    land = ~water
    thr = np.quantile(district[land], 1.0 - ph.cropland) if ph.cropland > 0 else np.inf
    crop = land & (district >= thr)
    # parcels: Voronoi cells of seeds ~2 km apart
    nseed = int(n * n / 4.0)
    pts = rng.uniform(0, n, size=(nseed, 2))
    ii, jj = np.mgrid[:n, :n]
    _, parcel = cKDTree(pts).query(np.column_stack([ii.ravel() + 0.5, jj.ravel() + 0.5]))
    parcel = parcel.reshape(shape)
    lc[crop] = 40
    desert = land & ~crop & (aridity + 0.3 * smooth_noise(rng, shape, 3) > 0.55)
    lc[desert] = 60
    shrub = land & ~crop & ~desert & (smooth_noise(rng, shape, 4) + 0.004 * slope.astype(np.float32) * 50 > 1.1)
    lc[shrub] = 20
    wet = land & ~crop & (near_water <= 2.5) & (low < 2.0) & (rng.random(shape) < 0.7)
    lc[wet] = 90
    trees = land & (((lc == 40) & (rng.random(shape) < 0.04)) | ((near_water <= 1.5) & (lc == 30)))
    lc[trees] = 10
    nvil = max(1, int(round(n * n / 900)))
    for _ in range(nvil):
        i, j = rng.integers(0, n, size=2)
        if land[i, j]:
            lc[max(0, i - 1):i + 1, max(0, j - 1):j + 1] = 50
    lc[water] = 80
    nparcel = int(parcel.max()) + 1
    return {"elevation": elev.astype(np.float32), "slope": slope.astype(np.float32), "landcover": lc,
            "water": water, "sand": sand.astype(np.float32), "aridity": aridity.astype(np.float32),
            "parcel": parcel, "propensity": rng.random(nparcel), "stage": rng.random(nparcel),
            "tillage": rng.normal(0.0, 1.5, nparcel), "roughness": smooth_noise(rng, shape, 2.0),
            "sm_static": smooth_noise(rng, shape, 6)}


def _write(path: str, grid: Any, arr: np.ndarray, name: str, date: str | None = None,
           categorical: bool = False) -> None:
    from smdownscale.algorithms import raster

    os.makedirs(os.path.dirname(path), exist_ok=True)
    meta = {"SMD_GENERATOR": GENERATOR}
    if date:
        meta["SMD_DATE"] = date
    if categorical:
        raster.write_raster(path, grid, arr.astype(np.float32), [name], ["categorical"], meta, gdal.GDT_Byte, 255)
    else:
        raster.write_raster(path, grid, arr.astype(np.float32), [name], ["continuous"], meta)


def _speckle(rng: np.random.Generator, db: np.ndarray, looks: float) -> np.ndarray:
    if looks <= 0:
        return db
    g = rng.gamma(looks, 1.0 / looks, size=db.shape)
    return (db + 10.0 * np.log10(g)).astype(np.float32)


def make_mosaic(out_dir: str, seed: int, size_km: int = 108, n_dates: int = 4, physics: MosaicPhysics | None = None,
                start_date: str = "2023-05-20", step_days: int = 12) -> dict[str, Any]:
    """Write a mosaic scene into ``out_dir`` (replaced); returns its scene.json content."""
    from smdownscale.algorithms.aggregate import CellIndex
    from smdownscale.algorithms.sample import smooth_noise

    ph = physics or MosaicPhysics()
    fine, coarse, pgrid, sub = grids(size_km, ph.coarse)
    n = size_km
    shape = (n, n)
    shutil.rmtree(out_dir, ignore_errors=True)
    st = _static(seed, n, ph)
    lc = st["landcover"]
    water = st["water"]
    _write(os.path.join(out_dir, "static", "elevation.tif"), fine, st["elevation"], "elevation")
    _write(os.path.join(out_dir, "static", "slope.tif"), fine, st["slope"], "slope")
    _write(os.path.join(out_dir, "static", "landcover.tif"), fine, lc, "landcover", categorical=True)

    sand = st["sand"].astype(np.float64)
    fc = 0.40 - 0.26 * sand                # field capacity
    wp = 0.14 - 0.11 * sand                # wilting point
    r0 = 8.0 + 20.0 * sand                 # rain (mm) that brings wetness to 1 - 1/e: sandy soils drain
    crop = lc == 40
    parcel = st["parcel"]
    # the 5 km precipitation cells: fine pixel centres -> fractional rows/cols of the 5 km grid
    px0, pdx, _, py0, _, pdy = pgrid.transform
    fx, fy = fine.centers(0, n)
    prow, pcol = (fy - py0) / pdy, (fx - px0) / pdx
    pr, pc = np.floor(prow).astype(int), np.floor(pcol).astype(int)
    cell_flat = CellIndex(sub, coarse).rows(0, sub.height).ravel()
    sub_index = cell_flat >= 0
    ncell = coarse.width * coarse.height
    cell_area = _cell_area_subpixels(cell_flat, coarse)

    dates = [(dt.date.fromisoformat(start_date) + dt.timedelta(days=step_days * t)).isoformat() for t in range(n_dates)]
    stats = []
    prev_w = None
    for t, date in enumerate(dates):
        rng = _rng(seed, 1, t)
        tag = date.replace("-", "")
        doy = dt.date.fromisoformat(date).timetuple().tm_yday
        season = math.exp(-(((doy - 205.0) / 60.0) ** 2))
        soak = ph.wet_date and t == n_dates - 1
        amount = float(rng.uniform(3.0, 14.0)) * (3.5 if soak else 1.0)
        rain = amount * np.exp(0.7 * smooth_noise(rng, shape, 20) + 0.45 * smooth_noise(rng, shape, 6)
                               - 0.4 * st["aridity"] - 0.2)
        t_air = 296.0 + 6.0 * season + float(rng.normal(0.0, 2.0)) - (4.0 if soak else 0.0)
        demand = np.clip(0.25 + 0.03 * (t_air - 296.0) + 0.15 * st["aridity"], 0.05, 0.6)
        w = (1.0 - np.exp(-rain / r0)) * (1.0 - demand * (1.0 - 0.5 * soak))
        slow_w = w if prev_w is None else 0.5 * w + 0.5 * prev_w
        prev_w = w
        # irrigation: a share of cropland parcels freshly irrigated on this date
        score = st["propensity"] + 0.35 * rng.standard_normal(st["propensity"].size)
        thr = np.quantile(score, 1.0 - ph.irrigated) if ph.irrigated > 0 else np.inf
        irrigated = crop & (score[parcel] >= thr)
        w_irr = 0.75 + 0.2 * rng.random(st["propensity"].size)
        w = np.where(irrigated, np.maximum(w, w_irr[parcel]), w)
        w = np.where(lc == 90, np.maximum(w, 0.9), w)
        w = np.where(lc == 50, 0.5 * w, w)
        noise = ph.noise * (st["sm_static"] + 0.7 * smooth_noise(rng, shape, 2) + 0.7 * smooth_noise(rng, shape, 6)) \
            / math.sqrt(2.0)
        truth = np.clip(wp + (fc - wp) * np.clip(w, 0.0, 1.0) + noise, 0.02, 0.50)
        truth[water] = np.nan

        # vegetation: slow wetness for steppe/rainfed crops, parcel crop stage for irrigated ones
        ndvi = np.zeros(shape)
        for cls, (b, a) in _NDVI.items():
            m = lc == cls
            ndvi[m] = b + a * season * (0.4 + 0.8 * slow_w[m])
        stage = (st["stage"] + 0.1 * t) % 1.0
        green = 0.25 + 0.55 * np.sin(math.pi * stage) * (0.6 + 0.4 * season)
        ndvi[crop] = np.where(irrigated[crop] | (st["propensity"][parcel[crop]] > 0.5), green[parcel[crop]],
                              0.15 + 0.3 * season * slow_w[crop])
        ndvi = np.clip(ndvi + 0.03 * rng.standard_normal(shape), -0.05, 0.9)
        ndvi[water] = np.nan
        sm_rel = (truth - wp) / np.maximum(fc - wp, 0.05)
        lst_day = (t_air + 14.0 * (1.0 - ndvi) * np.exp(-2.5 * np.nan_to_num(sm_rel, nan=1.0)) - 6.0 * ndvi
                   - 6.5 * (st["elevation"] - 1050.0) / 1000.0 + 1.5 * smooth_noise(rng, shape, 25)
                   + 0.8 * rng.standard_normal(shape))
        lst_night = (t_air - 14.0 + 5.0 * np.nan_to_num(sm_rel, nan=1.0) + 2.0 * ndvi
                     + 1.0 * smooth_noise(rng, shape, 25) + 0.5 * rng.standard_normal(shape))
        lst_day[water] = np.nan
        lst_night[water] = np.nan
        clouds = np.zeros(shape, bool)
        for _ in range(max(1, int(round(rng.uniform(1.0, 3.0) * n * n / 12000)))):
            ci, cj = rng.integers(0, n, size=2)
            r = rng.uniform(3.0, 8.0)
            ii, jj = np.ogrid[:n, :n]
            clouds |= (ii - ci) ** 2 + ((jj - cj) * 0.7) ** 2 <= r * r
        sm_sar = np.nan_to_num(truth, nan=0.5)
        vv = (-21.0 + 32.0 * sm_sar * (1.0 - 0.5 * ndvi) + 3.0 * ndvi + 1.0 * st["roughness"]
              + np.where(crop, st["tillage"][parcel], 0.0))
        vh = vv - 7.0 + 5.0 * ndvi
        vv = _speckle(rng, np.nan_to_num(vv, nan=-25.0), ph.speckle_looks)
        vh = _speckle(rng, np.nan_to_num(vh, nan=-32.0), ph.speckle_looks)

        # precipitation factor: the mean of the 1 km rain over each 5 km cell
        prec = np.full((pgrid.height, pgrid.width), np.nan)
        ok = (pr >= 0) & (pr < pgrid.height) & (pc >= 0) & (pc < pgrid.width)
        flat = (pr * pgrid.width + pc)[ok]
        sums = np.bincount(flat, rain[ok], pgrid.size)
        cnt = np.bincount(flat, None, pgrid.size)
        prec.ravel()[cnt > 0] = sums[cnt > 0] / cnt[cnt > 0]
        prec = ndimage.generic_filter(prec, np.nanmean, size=3, mode="nearest") if np.isnan(prec).any() else prec
        # the coarse product: the area mean of the truth, with a multiplicative bias and retrieval error
        subv = np.repeat(np.repeat(truth, SUBPIXELS, 0), SUBPIXELS, 1).ravel()
        good = sub_index & np.isfinite(subv)
        s = np.bincount(cell_flat[good], subv[good], ncell)
        c = np.bincount(cell_flat[good], None, ncell)
        total = np.bincount(cell_flat[sub_index], None, ncell)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = s / c
        mean[(c < 0.5 * cell_area) | (total == 0)] = np.nan
        smap = (ph.smap_bias * mean + ph.smap_error * rng.standard_normal(ncell)).reshape(coarse.height, coarse.width)

        for name, arr in (("ndvi", ndvi), ("lst_day", lst_day), ("lst_night", lst_night)):
            out = arr.copy()
            out[clouds] = np.nan
            _write(os.path.join(out_dir, "dynamic", f"{name}_{tag}.tif"), fine, out, name, date)
        _write(os.path.join(out_dir, "dynamic", f"vv_{tag}.tif"), fine, vv, "vv", date)
        _write(os.path.join(out_dir, "dynamic", f"vh_{tag}.tif"), fine, vh, "vh", date)
        _write(os.path.join(out_dir, "dynamic", f"precipitation_{tag}.tif"), pgrid, prec, "precipitation", date)
        _write(os.path.join(out_dir, "truth", f"truth_{tag}.tif"), fine, truth, "truth", date)
        _write(os.path.join(out_dir, "smap", f"smap_{tag}.tif"), coarse, smap, "smap", date)
        okt = np.isfinite(truth)
        stats.append({"date": date, "truth_mean": round(float(truth[okt].mean()), 5),
                      "truth_std": round(float(truth[okt].std()), 5),
                      "irrigated_share_of_cropland": round(float(irrigated.sum() / max(crop.sum(), 1)), 3),
                      "smap_mean": round(float(np.nanmean(smap)), 5), "smap_cells": int(np.isfinite(smap).sum())})
    scene = {"generator": GENERATOR, "seed": seed, "size_km": size_km, "dates": dates, "physics": asdict(ph),
             "landcover_fractions": {str(k): round(float((lc == k).mean()), 4) for k in WORLDCOVER},
             "stats": stats}
    with open(os.path.join(out_dir, "scene.json"), "w", encoding="utf-8") as fh:
        json.dump(scene, fh, indent=1)
    return scene


def _cell_area_subpixels(idx: np.ndarray, coarse: Any) -> np.ndarray:
    """Approximate number of sub-pixels a whole coarse cell holds (per cell: the largest count of its row,
    which varies with latitude on a geographic grid), for the half-valid rule at the scene edge."""
    cnt = np.bincount(idx[idx >= 0], None, coarse.width * coarse.height).reshape(coarse.height, coarse.width)
    return np.broadcast_to(cnt.max(axis=1, keepdims=True), cnt.shape).ravel()
