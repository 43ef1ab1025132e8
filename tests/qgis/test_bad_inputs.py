"""The bad-input matrix: every case runs through processing.run and through qgis_process.

A case either must fail with a message naming the problem (QgsProcessingException, non-zero exit of
qgis_process) and leave nothing behind (nothing at any destination it was given, no temporary file), or,
for awkward but valid input (mixed CRSs, NaN/inf pixels, a constant factor, a single date), must work,
checked by value. Either way every input file stays byte-identical (sha256, through both runners). Inputs
are built once per module; each runner writes into its own folder. The qgis_process runs of all cases are
made up front, two at a time.
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import html
import json
import os
import pathlib
import queue
import re
import shutil
import sys
import zipfile
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
import pytest
import skops.io as sio
from osgeo import gdal, ogr, osr
from qgis.core import QgsApplication, QgsProcessingException, QgsProcessingFeedback, QgsSettings

from smdownscale.algorithms import model_io
from smdownscale.algorithms.aggregate import CellIndex
from smdownscale.algorithms.errors import InputError
from smdownscale.algorithms.manifest import manifest_inputs, write_manifest
from smdownscale.algorithms.raster import Grid, band_names, read_all, srs_from_user, write_raster
from smdownscale.algorithms.train import TrainRequest, train_model
from smdownscale.tests.fake_ee import FakeEarthEngine
from smdownscale.tests.reliability import Snapshot, record_loss
from smdownscale.tests.scenes import make_scene

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "scripts"))
from qgisproc import QgisProcess

DATES = ("2023-06-01", "2023-06-09")
ROOT = os.geteuid() == 0
EXTENT = "115.55,116.35,41.65,42.25 [EPSG:4326]"
TEMP_MARKS = (".partial-", ".raw-", ".sampledata-partial")
WORKERS = 2  # qgis_process runs at once
#: User-provided text that must never become markup in a report.
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


# -- inputs ---------------------------------------------------------------------------------------

def _write_plain(path: str, grid: Grid | None, data: np.ndarray, crs: bool = True, names=None) -> str:
    """A float32 GeoTIFF written with GDAL directly: optionally without CRS, without nodata value."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = data[None] if data.ndim == 2 else data
    ds = gdal.GetDriverByName("GTiff").Create(path, data.shape[2], data.shape[1], data.shape[0], gdal.GDT_Float32)
    ds.SetGeoTransform(grid.transform if grid else (0.0, 1.0, 0.0, float(data.shape[1]), 0.0, -1.0))
    if crs and grid is not None:
        ds.SetProjection(grid.crs_wkt)
    for k in range(data.shape[0]):
        ds.GetRasterBand(k + 1).WriteArray(data[k].astype(np.float32))
        if names:
            ds.GetRasterBand(k + 1).SetDescription(names[k])
    ds = None
    return path


def _polygon_layer(path: str, wkts: list[str]) -> str:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    layer = ds.CreateLayer("area", srs, ogr.wkbPolygon)
    for wkt in wkts:
        feat = ogr.Feature(layer.GetLayerDefn())
        feat.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        layer.CreateFeature(feat)
    ds = None
    return path


def _lonlat(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    x, y = grid.centers(0, grid.height)
    ct = osr.CoordinateTransformation(grid.srs, srs_from_user("EPSG:4326"))
    pts = np.array(ct.TransformPoints(np.column_stack([x.ravel(), y.ravel()]).tolist()))
    return pts[:, 0].reshape(x.shape), pts[:, 1].reshape(x.shape)


class Payload:
    """Stands for arbitrary code in a crafted model file: rebuilding it touches a marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __setstate__(self, state):
        pathlib.Path(state["marker"]).touch()
        self.__dict__.update(state)


def _build_inputs(base: pathlib.Path) -> dict[str, Any]:
    d: dict[str, Any] = {"base": base}
    scene = make_scene(str(base / "scene"), dates=DATES)
    const = make_scene(str(base / "const"), dates=DATES[:1], seed=5,
                       extra=lambda fields, *_: {"const": np.full(fields["ndvi"].shape, 7.0)})
    few = make_scene(str(base / "few"), dates=DATES[:1], ncols=5, nrows=4)
    hostile = make_scene(str(base / "hostile"), dates=DATES[:1], seed=9,
                         extra=lambda fields, *_: {SCRIPT: fields["lst_day"] * 0.5 + 3.0})
    fine, coarse = scene["fine"], scene["coarse"]
    d.update(scene=scene, const=const, few=few, hostile=hostile, fine=fine, coarse=coarse)
    rng = np.random.default_rng(42)

    # rasters with one problem each
    d["nocrs"] = _write_plain(str(base / "nocrs" / "ndvi.tif"), fine, rng.random((fine.height, fine.width)), crs=False)
    d["nocrs_estimate"] = _write_plain(str(base / "nocrs" / "sm_1km_20230601.tif"), fine,
                                       np.full((fine.height, fine.width), 0.2), crs=False)
    far = Grid(fine.crs_wkt, (fine.transform[0], 1000.0, 0.0, 1_000_000.0, 0.0, -1000.0), 40, 30)
    d["far"] = write_raster(str(base / "far" / "elevation.tif"), far, rng.random((30, 40)), names=["elevation"])

    # a coarser lon/lat raster over the scene (mixed CRSs): value = 10 lon + lat, linear, so the bilinear
    # interpolation onto the 1 km UTM grid gives back exactly the value at each pixel center
    x0, y0, x1, y1 = fine.extent_in(srs_from_user("EPSG:4326").ExportToWkt())
    ll = Grid.from_extent(srs_from_user("EPSG:4326").ExportToWkt(), x0 - 0.1, y0 - 0.1, x1 + 0.1, y1 + 0.1, 0.05)
    lon, lat = ll.centers(0, ll.height)
    d["lonlat"] = write_raster(str(base / "mixed" / "lonlat.tif"), ll, 10.0 * lon + lat, names=["lonlat"])

    # nodata-only band; NaN and inf pixels (no nodata value set, as some tools write them)
    d["allnan"] = write_raster(str(base / "bands" / "empty_band.tif"), fine, np.full((fine.height, fine.width), np.nan))
    vals = rng.uniform(0.1, 0.9, (fine.height, fine.width)).astype(np.float32)
    vals[::7, ::5] = np.nan
    vals[3::11, 2::9] = np.inf
    vals[5::13, 4::7] = -np.inf
    d["naninf_values"] = vals
    d["naninf"] = _write_plain(str(base / "bands" / "ndvi_gaps.tif"), fine, vals, names=["ndvi_gaps"])

    # files that are not rasters, missing or unreadable
    (base / "files").mkdir()
    d["notraster"] = str(base / "files" / "notes.tif")
    pathlib.Path(d["notraster"]).write_text("these are my field notes, not a raster\n")
    d["missing"] = str(base / "files" / "missing.tif")
    d["folder_tif"] = str(base / "files" / "folder.tif")
    os.makedirs(d["folder_tif"])
    d["unreadable"] = str(base / "files" / "unreadable.tif")
    if ROOT:  # permissions do not stop root: a file whose reading fails with an I/O error does
        os.symlink("/proc/self/mem", d["unreadable"])
    else:
        shutil.copy(scene["stacks"][0], d["unreadable"])
        os.chmod(d["unreadable"], 0)

    # factor stacks with duplicate / missing band names, all-nodata factors, all-nodata SMAP
    stack0 = read_all(scene["stacks"][0])
    d["dup_stack"] = write_raster(str(base / "dup" / "factors_20230601.tif"), fine, stack0,
                                  names=["ndvi", "ndvi", "lst_day"])
    shutil.copy(scene["sm"][0], base / "dup" / "smap_20230601.tif")
    d["dup_smap"] = str(base / "dup" / "smap_20230601.tif")
    d["unnamed_stack"] = _write_plain(str(base / "unnamed" / "factors_20230601.tif"), fine, stack0)
    d["nodata_stack"] = write_raster(str(base / "nodata" / "factors_20230601.tif"), fine, np.full_like(stack0, np.nan),
                                     names=["ndvi", "lst_day", "landcover"],
                                     kinds=["continuous", "continuous", "categorical"])
    d["nodata_smap"] = write_raster(str(base / "nodata_smap" / "smap_20230601.tif"), coarse,
                                    np.full((coarse.height, coarse.width), np.nan))
    shutil.copy(scene["stacks"][0], base / "nodata_smap" / "factors_20230601.tif")

    # models: a good one and broken ones
    d["model"] = str(base / "models" / "cart.smdmodel")
    train_model(TrainRequest(scene["sm"], scene["stacks"], d["model"], "cart", cv_folds=0))
    est, meta = model_io.load_model(d["model"])
    d["old_model"] = str(base / "models" / "old_sklearn.smdmodel")
    model_io.save_model(d["old_model"], est, {**meta, "sklearn_version": "0.24.2"})
    data = pathlib.Path(d["model"]).read_bytes()
    d["truncated_model"] = str(base / "models" / "truncated.smdmodel")
    pathlib.Path(d["truncated_model"]).write_bytes(data[: len(data) // 2])
    d["text_model"] = str(base / "models" / "readme.smdmodel")
    pathlib.Path(d["text_model"]).write_text("model: random forest, 100 trees\n")
    d["zipped_model"] = str(base / "models" / "cart.zip")
    with zipfile.ZipFile(d["zipped_model"], "w") as zf:
        zf.write(d["model"], "cart.smdmodel")
    d["marker"] = str(base / "models" / "payload_ran")
    d["payload_model"] = str(base / "models" / "crafted.smdmodel")
    sio.dump({"meta": meta, "estimator": Payload(d["marker"])}, d["payload_model"])

    # an estimate and station tables
    lon, lat = _lonlat(fine)
    d["estimate"] = write_raster(str(base / "validate" / "sm_1km_20230601.tif"), fine,
                                 0.2 + 0.1 * np.sin((lon - lon.min()) * 20.0))
    slon, slat = float(lon[20, 30]), float(lat[20, 30])

    def table(name: str, text: str) -> str:
        path = base / "validate" / name
        path.write_text(text)
        return str(path)

    d["csv_columns"] = table("columns.csv", f"name,when,reading\nA,2023-06-01,0.21\nB,{slon},{slat}\n")
    d["csv_dates"] = table("dates.csv", f"station,lon,lat,date,value\nA,{slon},{slat},2023-31-12,0.21\n")
    d["csv_hostile"] = table("hostile.csv", f"station,lon,lat,date,value\n{IMG},{slon},{slat},2023-06-01,0.21\n"
                                            f"B,{float(lon[30, 10])},{float(lat[30, 10])},2023-06-01,0.25\n")
    d["csv_range"] = table("range.csv", f"station,lon,lat,date,value\nA,{slon},{slat},2023-06-01,0.21\n"
                                        f"B,{slon},{slat},2023-06-01,1.7\n")
    os.makedirs(base / "ismn_empty")
    (base / "ismn_empty" / "readme.txt").write_text("ISMN download\n")
    d["ismn_empty"] = str(base / "ismn_empty")
    # the same field on a lon/lat grid: a reference in another CRS
    ref_ll = Grid.from_extent(srs_from_user("EPSG:4326").ExportToWkt(), x0, y0, x1, y1, 0.004)
    rlon, _ = ref_ll.centers(0, ref_ll.height)
    d["reference_ll"] = write_raster(str(base / "validate" / "reference_lonlat.tif"), ref_ll,
                                     0.2 + 0.1 * np.sin((rlon - lon.min()) * 20.0))

    # areas for fetchgee
    d["area_empty"] = _polygon_layer(str(base / "area_empty.gpkg"), [])
    d["area_bowtie"] = _polygon_layer(str(base / "area_bowtie.gpkg"), [
        "POLYGON((115.8 41.8, 116.0 42.0, 116.0 41.8, 115.8 42.0, 115.8 41.8))"])

    # -- inputs: outputs that name inputs
    # copies (the originals serve other cases), links and hard links; every one must survive byte-identical
    clash = base / "clash"
    clash.mkdir()
    d["clash_sm"] = [str(shutil.copy(p, clash / os.path.basename(p))) for p in scene["sm"][:2]]
    d["clash_stacks"] = [str(shutil.copy(p, clash / os.path.basename(p))) for p in scene["stacks"][:2]]
    d["clash_reference"] = str(shutil.copy(scene["sm"][0], clash / "reference_grid.tif"))
    d["clash_model"] = str(shutil.copy(d["model"], clash / "cart.smdmodel"))
    os.link(d["clash_model"], clash / "sm_1km_hardlink.tif")
    d["clash_model_hardlink"] = str(clash / "sm_1km_hardlink.tif")
    os.symlink(d["clash_stacks"][0], clash / "aligned_link.tif")
    d["clash_stack_symlink"] = str(clash / "aligned_link.tif")
    d["clash_estimate"] = str(shutil.copy(d["estimate"], clash / "sm_1km_20230601.tif"))
    d["clash_csv"] = str(shutil.copy(d["csv_hostile"], clash / "stations.csv"))
    (clash / "ismn" / "NET" / "ST1").mkdir(parents=True)
    d["clash_stm"] = str(clash / "ismn" / "NET" / "ST1" / "NET_NET_ST1_sm_0.050000_0.050000_X_20230101_20231231.stm")
    pathlib.Path(d["clash_stm"]).write_text("CSE NET ST1 42.0 116.0 1300.0 0.05 0.05 Sensor\n"
                                            "2023/06/01 00:00 0.210 G M\n")
    (clash / "gee" / "smap").mkdir(parents=True)
    d["clash_area"] = str(shutil.copy(d["area_bowtie"], clash / "gee" / "smap" / "area.gpkg"))
    (clash / "series").mkdir()
    d["clash_series_sm"] = str(shutil.copy(scene["sm"][0], clash / "series" / "sm_1km_20230601.tif"))
    d["clash_series_stack"] = str(shutil.copy(scene["stacks"][0], clash / "series" / "factors_20230601.tif"))
    d["clash_workflow_smap"] = str(shutil.copy(scene["sm"][0], clash / "workflow_smap_20230601.tif"))
    d["clash_manifest"] = write_manifest(str(clash / "manifest.json"), [
        {"date": day, "smap": os.path.basename(sm), "factors": os.path.basename(st)}
        for day, sm, st in zip(DATES, d["clash_sm"], d["clash_stacks"])], {}, {}, {})

    # -- inputs: damaged or incomplete rasters
    def cut_copy(src: str, folder: str, keep: int) -> str:
        """A copy of ``src`` in damaged/<folder> with its first ``keep`` bytes only (keep < 0: all but the last)."""
        dst = base / "damaged" / folder / os.path.basename(src)
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(pathlib.Path(src).read_bytes()[:keep])
        return str(dst)

    stack_file, sm_file = scene["stacks"][0], scene["sm"][0]  # factors_20230601.tif, smap_20230601.tif
    d["cut_stack"] = cut_copy(stack_file, "stack", os.path.getsize(stack_file) // 2)
    d["cut_stack_end"] = cut_copy(stack_file, "end", -200)
    d["cut_smap"] = cut_copy(sm_file, "smap", os.path.getsize(sm_file) // 4)  # inside the header: CRS tags lost
    d["empty_raster"] = cut_copy(stack_file, "empty", 0)
    d["cut_reference"] = cut_copy(d["reference_ll"], "reference", os.path.getsize(d["reference_ll"]) // 2)

    # -- inputs: soil moisture units and fill values, factor ranges
    # SMAP in percent (the same factor stacks as the scene); SMAP in m3/m3 with -9999 fill not declared as nodata
    d["pct"] = make_scene(str(base / "pct"), sm_func=lambda m: 100.0 * (0.1 + 0.5 * m["ndvi"]), dates=DATES)
    fill_sm = []
    for path, values in zip(scene["sm"], scene["sm_values"]):
        v = np.array(values, dtype=np.float64)
        v[np.arange(v.size).reshape(v.shape) % 9 == 0] = -9999.0
        fill_sm.append(write_raster(str(base / "fill" / os.path.basename(path)), coarse, v, names=["sm_surface"],
                                    nodata=-1.0))
    d["fill"] = {"sm": fill_sm, "stacks": scene["stacks"]}
    d["ndvi10k"] = make_scene(str(base / "ndvi10k"), dates=DATES[:1],
                              extra=lambda fields, *_: {"ndvi": np.round(fields["ndvi"] * 10000.0)})
    celsius = read_all(scene["stacks"][0], dtype=np.float64)
    celsius[1] -= 273.15
    d["celsius_stack"] = write_raster(str(base / "celsius" / "factors_20230601.tif"), fine, celsius,
                                      names=["ndvi", "lst_day", "landcover"],
                                      kinds=["continuous", "continuous", "categorical"])
    # the model's factors at 250 m instead of 1 km (each pixel repeated 4 x 4)
    fine250 = Grid(fine.crs_wkt, (fine.transform[0], 250.0, 0.0, fine.transform[3], 0.0, -250.0), fine.width * 4,
                   fine.height * 4)
    stack = read_all(scene["stacks"][0], dtype=np.float64)
    d["stack_250m"] = write_raster(str(base / "res250" / "factors_20230601.tif"), fine250,
                                   np.repeat(np.repeat(stack, 4, axis=1), 4, axis=2),
                                   names=["ndvi", "lst_day", "landcover"],
                                   kinds=["continuous", "continuous", "categorical"])
    # a fifth of the land cover pixels in a class the model never saw (40)
    minority = read_all(scene["stacks"][0], dtype=np.float64)
    rows = fine.height // 5
    minority[2, :rows] = np.where(np.isfinite(minority[2, :rows]), 40.0, np.nan)
    d["lc_minority_stack"] = write_raster(str(base / "lc_minority" / "factors_20230601.tif"), fine, minority,
                                          names=["ndvi", "lst_day", "landcover"],
                                          kinds=["continuous", "continuous", "categorical"])
    # precipitation in mm in training, in m in the stack given to downscale
    rain = make_scene(str(base / "rain"), dates=DATES, seed=11,
                      extra=lambda fields, sm, *_: {"precipitation": 2.0 + 40.0 * fields["ndvi"] ** 2})
    d["rain"] = rain
    d["rain_model"] = str(base / "models" / "rain.smdmodel")
    train_model(TrainRequest(rain["sm"], rain["stacks"], d["rain_model"], "cart", cv_folds=0))
    metres = read_all(rain["stacks"][0], dtype=np.float64)
    metres[3] /= 1000.0
    d["rain_in_m"] = write_raster(str(base / "rain_m" / "factors_20230601.tif"), fine, metres,
                                  names=["ndvi", "lst_day", "landcover", "precipitation"],
                                  kinds=["continuous", "continuous", "categorical", "continuous"])
    # an estimate of one pixel
    x0, y0 = fine.transform[0] + 20000.0, fine.transform[3] - 20000.0
    one = Grid(fine.crs_wkt, (x0, 1000.0, 0.0, y0, 0.0, -1000.0), 1, 1)
    d["estimate_1px"] = write_raster(str(base / "validate" / "one" / "sm_1km_20230601.tif"), one, np.array([[0.25]]))
    lon_f, _ = _lonlat(fine)
    d["reference_pct"] = write_raster(str(base / "validate" / "reference_pct.tif"), fine,
                                      100.0 * (0.2 + 0.1 * np.sin((lon_f - lon_f.min()) * 20.0)))

    def check_train_percent_scaled(d, params, results, log):
        _, meta = model_io.load_model(params["OUTPUT"])
        assert meta["soil_moisture_input"] == {"scale": 0.01, "nodata": None}
        lo, hi = meta["target_range"]
        pct = np.concatenate([v.ravel() for v in d["pct"]["sm_values"]])
        assert lo >= np.nanmin(pct) / 100.0 - 1e-9 and hi <= np.nanmax(pct) / 100.0 + 1e-9 and 0.1 < lo < hi < 0.6
        assert float(results["CV_R"]) > 0.8
        assert "SMAP values read with scale 0.01; the model keeps this for downscaling." in log

    def check_screen_fill_declared(d, params, results, log):
        rows = _csv_rows(params["OUTPUT"])
        n = {int(r["n"]) for r in rows}.pop()
        assert "ndvi" in results["SELECTED"].split(",") and "SMAP values read with nodata -9999." in log
        assert n >= 100  # both dates, every 9th cell left out
        ok = sum(int(np.isfinite(v).sum() - (np.isfinite(v) & (np.arange(v.size).reshape(v.shape) % 9 == 0)).sum())
                 for v in d["scene"]["sm_values"])
        assert n <= ok

    def check_downscale_percent_scaled(d, params, results, log):
        fine, coarse = d["fine"], d["coarse"]
        got = read_all(params["OUTPUT"], dtype=np.float64)[0]
        idx = CellIndex(fine, coarse).rows(0, fine.height).ravel()
        ok = (idx >= 0) & np.isfinite(got.ravel())
        sums = np.bincount(idx[ok], weights=got.ravel()[ok], minlength=coarse.size)
        counts = np.bincount(idx[ok], minlength=coarse.size)
        sm = d["pct"]["sm_values"][0].ravel() / 100.0  # percent SMAP read with SM_SCALE 0.01
        has = (counts > 0) & np.isfinite(sm)
        assert has.sum() >= 100
        np.testing.assert_allclose(sums[has] / counts[has], sm[has], atol=1e-5)
        assert gdal.Open(params["OUTPUT"]).GetMetadataItem("coarse_soil_moisture_reading") == \
            "scale 0.01 (percent to m3/m3)"
        assert "SMAP values read with scale 0.01 (percent to m3/m3)." in log

    d["units_checks"] = {"train_percent_scaled": check_train_percent_scaled,
                         "screen_fill_declared": check_screen_fill_declared,
                         "downscale_percent_scaled": check_downscale_percent_scaled}

    # -- inputs: grid sizes
    # headers describing huge grids in small sparse files, as a wrong export or a typo in a resolution makes them
    def sparse(path: pathlib.Path, size: tuple[int, int], res: float, names: list[str]) -> str:
        path.parent.mkdir(parents=True, exist_ok=True)
        ds = gdal.GetDriverByName("GTiff").Create(str(path), size[0], size[1], len(names), gdal.GDT_Float32,
                                                  ["TILED=YES", "BLOCKXSIZE=4096", "BLOCKYSIZE=4096", "SPARSE_OK=TRUE",
                                                   "COMPRESS=DEFLATE", "BIGTIFF=YES"])
        x0, _, _, y0, _, _ = fine.transform
        ds.SetGeoTransform((x0, res, 0.0, y0, 0.0, -res))
        ds.SetProjection(fine.crs_wkt)
        for k, name in enumerate(names):
            ds.GetRasterBand(k + 1).SetDescription(name)
            ds.GetRasterBand(k + 1).SetNoDataValue(-9999.0)
        ds = None
        return str(path)

    d["huge_reference"] = sparse(base / "huge" / "huge_reference.tif", (200_000, 200_000), 1000.0, ["b1"])
    d["huge_stack"] = sparse(base / "huge" / "factors_20230601.tif", (200_000, 200_000), 1000.0,
                             ["ndvi", "lst_day", "landcover"])
    d["huge_smap"] = sparse(base / "huge" / "smap_20230601.tif", (10_000, 10_000), 9000.0, ["smap"])
    d["huge_estimate"] = sparse(base / "huge" / "sm_1km_20230601.tif", (200_000, 200_000), 1000.0, ["sm"])

    # -- inputs: station files (ISMN layouts, coordinates)
    # ISMN 'CEOP formatted' records (nominal UTC, actual UTC, network, station, lat, lon, elevation, depths, value,
    # ISMN flag, provider flag) of three stations on estimate pixels; expected metrics computed here, by hand
    est_sm = read_all(d["estimate"], dtype=np.float64)[0]
    ismn_stations = {"CEF North": (20, 30, 0.20), "S2": (30, 10, 0.30), "S3": (10, 45, 0.25)}

    def ceop_line(nominal, actual, station, row, col, depth, value, flag, provider="M"):
        text = "NaN" if value is None else f"{value:.4f}"
        return (f"{nominal} {actual} {'SMN':<10} {'SMN':<15} {station:<17} {float(lat[row, col]):10.5f} "
                f"{float(lon[row, col]):11.5f} {1350.0:7.2f} {depth[0]:7.2f} {depth[1]:7.2f} {text:>8} {flag} "
                f"{provider}".rstrip() + "\n")

    def ceop_records(base_value):
        # the 'G' surface values of 2023-06-01 (actual date) are base, base + 0.04, base + 0.02 (mean base + 0.02)
        return [("2023/05/31 12:00", "2023/05/31 12:00", (0.0, 0.05), base_value - 0.1, "G", "M"),
                ("2023/06/01 00:00", "2023/06/01 00:05", (0.0, 0.05), base_value, "G", "M"),
                ("2023/06/01 06:00", "2023/06/01 06:10", (0.0, 0.05), base_value + 0.04, "G", "OK"),
                ("2023/06/01 12:00", "2023/06/01 12:00", (0.0, 0.05), base_value + 0.3, "D03,D04", "M"),
                ("2023/06/01 18:00", "2023/06/01 18:00", (0.0, 0.05), None, "M", "M"),
                ("2023/06/02 00:00", "2023/06/01 23:50", (0.0, 0.05), base_value + 0.02, "G", ""),
                ("2023/06/01 12:00", "2023/06/01 12:00", (0.0, 0.05), 0.65, "C03", "M"),
                ("2023/06/02 12:00", "2023/06/02 12:00", (0.0, 0.05), base_value + 0.2, "G", "M"),
                ("2023/06/01 00:00", "2023/06/01 00:00", (0.10, 0.10), base_value + 0.15, "G", "M")]

    def ceop_files(folder: pathlib.Path, stations: list[str]) -> None:
        for station in stations:
            row, col, base_value = ismn_stations[station]
            sub = folder / "SMN" / station
            sub.mkdir(parents=True, exist_ok=True)
            for depth in ((0.0, 0.05), (0.10, 0.10)):
                lines = [ceop_line(n, a, station, row, col, dd, v, f, p)
                         for n, a, dd, v, f, p in ceop_records(base_value) if dd == depth]
                (sub / f"SMN_SMN_{station.replace(' ', '-')}_sm_{depth[0]:.6f}_{depth[1]:.6f}_5TE_20230531_"
                       "20230602.stm").write_text("".join(lines))

    def expected_metrics(stations: list[str]) -> dict[str, float]:
        obs, est_at = [], []
        for station in stations:
            row, col, base_value = ismn_stations[station]
            good = [v for _n, a, dd, v, f, _p in ceop_records(base_value)
                    if f == "G" and dd[0] <= 0.05 and a.startswith("2023/06/01")]
            obs.append(sum(good) / len(good))
            est_at.append(float(est_sm[row, col]))
        diff = np.array(est_at) - np.array(obs)
        return {"N": len(stations), "BIAS": float(diff.mean()), "RMSE": float(np.sqrt(np.mean(diff ** 2))),
                "MAE": float(np.abs(diff).mean()), "R": float(np.corrcoef(est_at, obs)[0, 1])}

    def metrics_check(expected: dict[str, float], log_has: tuple[str, ...] = ()):
        def check(results, log):
            assert int(float(results["N"])) == expected["N"]
            for key in ("BIAS", "RMSE", "MAE", "R"):
                assert float(results[key]) == pytest.approx(expected[key], abs=1e-6), key
            for text in log_has:
                assert text in log, log[-3000:]
        return check

    ceop_files(base / "ismn_ceop", list(ismn_stations))
    d["ismn_ceop"] = str(base / "ismn_ceop")
    d["check_ismn_ceop"] = metrics_check(expected_metrics(list(ismn_stations)))
    # a folder mixing layouts: CEOP formatted (two stations), Header+values (S3), the older combined 'CEOP' layout
    # (skipped and named in the log) and a soil temperature file (ignored)
    mixed = base / "ismn_mixed"
    ceop_files(mixed, ["CEF North", "S2"])
    row, col, base_value = ismn_stations["S3"]
    (mixed / "SMN" / "S3").mkdir(parents=True)
    (mixed / "SMN" / "S3" / "SMN_SMN_S3_sm_0.000000_0.050000_5TE_20230601_20230601.stm").write_text(
        f"SMN SMN S3 {float(lat[row, col]):.5f} {float(lon[row, col]):.5f} 1350.00 0.00 0.05 5TE\r\n"
        f"2023/06/01 00:00 {base_value:.4f} G M\r\n2023/06/01 06:00 {base_value + 0.04:.4f} G M\r\n"
        f"2023/06/01 12:00 {base_value + 0.3:.4f} D03,D04 M\r\n2023/06/01 18:00 {base_value + 0.02:.4f} G M\r\n")
    (mixed / "SMN" / "S3" / "SMN_SMN_S3_ts_0.050000_0.050000_5TE_20230601_20230601.stm").write_text(
        "SMN SMN S3 42.0 116.0 1350.00 0.05 0.05 5TE\n2023/06/01 00:00 18.5 G M\n")
    (mixed / "OLD_OLD_S7_20230601_20230601.stm").write_text(
        f"2023/06/01 00:00 2023/06/01 00:00 OLD        OLD             S7          {float(lat[5, 5]):10.5f} "
        f"{float(lon[5, 5]):11.5f}  900.00    0.05    0.05    18.20 G   0.2200 G\n")
    d["ismn_mixed"] = str(mixed)
    d["check_ismn_mixed"] = metrics_check(expected_metrics(list(ismn_stations)), (
        "ISMN file skipped: OLD_OLD_S7_20230601_20230601.stm: it is in ISMN's older 'CEOP' layout",))
    # an old Header+values download: values flagged 'U' (unchecked) and 'M', none 'G'
    os.makedirs(base / "ismn_old")
    d["ismn_no_good"] = str(base / "ismn_old" / "SMN_SMN_S3_sm_0.050000_0.050000_19500101_20230601.stm")
    pathlib.Path(d["ismn_no_good"]).write_text(
        f"SMN SMN S3 {float(lat[row, col]):.5f} {float(lon[row, col]):.5f} 1350.00 0.05 0.05\n"
        "2023/06/01 00:00 0.2100 U M\n2023/06/01 01:00 0.2200 U M\n2023/06/01 02:00 NaN M M\n")
    d["csv_lat200"] = table("lat200.csv", f"station,lon,lat,date,value\nA,{slon},{slat},2023-06-01,0.21\n"
                                          f"B,{slon},200,2023-06-01,0.25\n")
    d["csv_nanlon"] = table("nanlon.csv", f"station,lon,lat,date,value\nA,nan,{slat},2023-06-01,0.21\n")

    # -- inputs: importsmap
    # SMAP granules with NSIDC's HDF5 layout (tests/nsidc.py): good L4 granules over the scene, and one problem each
    import datetime as _dt

    from smdownscale.tests import nsidc

    h5 = base / "smap_h5"
    h5.mkdir()
    sm_cell = nsidc.cell_of(42.0, 116.0)
    d["h5_l4"] = [nsidc.write_l4(str(h5), _dt.datetime(2023, 6, 1, h, 30), {sm_cell: 0.2}) for h in (1, 4)]
    d["h5_l4_v8"] = nsidc.write_l4(str(h5), _dt.datetime(2023, 6, 1, 7, 30), {sm_cell: 0.2}, version="Vv8010")
    d["h5_sahara"] = nsidc.write_l4(str(h5), _dt.datetime(2023, 6, 1, 10, 30), {nsidc.cell_of(20.5, 10.5): 0.05})
    raw = pathlib.Path(d["h5_l4"][1]).read_bytes()
    (h5 / "cut").mkdir()
    d["h5_truncated"] = str(h5 / "cut" / os.path.basename(d["h5_l4"][1]))
    pathlib.Path(d["h5_truncated"]).write_bytes(raw[: len(raw) // 3])
    other = gdal.GetDriverByName("netCDF").CreateMultiDimensional(
        str(h5 / "SMAP_L2_SM_P_E_45123_D_20230601T012345_R19240_001.h5"), [], ["FORMAT=NC4"])
    dim = other.GetRootGroup().CreateDimension("phony_dim_0", None, None, 10)
    other.GetRootGroup().CreateGroup("Soil_Moisture_Retrieval_Data").CreateMDArray(
        "soil_moisture", [dim], gdal.ExtendedDataType.Create(gdal.GDT_Float32)).Write(np.zeros(10, "f4"))
    other = None
    d["h5_l2"] = str(h5 / "SMAP_L2_SM_P_E_45123_D_20230601T012345_R19240_001.h5")
    # a MODIS LST layer as AppEEARS delivers it, without its QC_Day layer
    from smdownscale.tests import modis_files

    (base / "modis").mkdir()
    gt, w, h = modis_files.grid_for(115.5, 41.5, 116.5, 42.5)
    d["modis_lst_alone"] = modis_files.write_geotiff(str(base / "modis"), "MOD11A1", "LST_Day_1km",
                                                     _dt.date(2023, 6, 1), gt, np.full((h, w), 15000, np.uint16))

    # -- inputs: files of the wrong kind, names QGIS cannot load as text, a station id at two places
    (base / "kinds").mkdir()
    import joblib

    d["joblib_model"] = str(base / "kinds" / "soil_rf.joblib")  # what a scikit-learn script saves
    joblib.dump({"trees": np.arange(5)}, d["joblib_model"])
    d["zipped_stack"] = str(base / "kinds" / "factors_20230601.zip")
    with zipfile.ZipFile(d["zipped_stack"], "w") as zf:
        zf.write(scene["stacks"][0], "factors_20230601.tif")
    d["csv_two_places"] = table("two_places.csv", f"station,lon,lat,date,value\nA,{slon},{slat},2023-06-01,0.21\n"
                                                  f"A,{float(lon[30, 10])},{float(lat[30, 10])},2023-06-01,0.30\n")

    legend = read_all(scene["stacks"][0], dtype=np.float64)
    legend[2] = legend[2] / 10.0  # land cover coded 1/2/3 where the model learnt 10/20/30
    d["other_legend_stack"] = write_raster(str(base / "kinds" / "factors_20230601.tif"), fine, legend,
                                           names=["ndvi", "lst_day", "landcover"],
                                           kinds=["continuous", "continuous", "categorical"])

    # -- inputs: end
    escaping_manifest(d)  # written now, so every later run finds its inputs complete and unchanged
    return d


# -- output locations -----------------------------------------------------------------------------

def under_file(out: pathlib.Path, name: str) -> str:
    """A path whose parent folder would have to be created inside a regular file."""
    blocker = out / "not_a_folder"
    blocker.write_text("a file where a folder should be\n")
    return str(blocker / "results" / name)


def read_only_folder(out: pathlib.Path) -> str:
    """A folder nobody can write to (/proc/self for root, whom permissions do not stop)."""
    if ROOT:
        return "/proc/self"
    folder = out / "read_only"
    folder.mkdir()
    os.chmod(folder, 0o555)
    return str(folder)


def read_only(out: pathlib.Path, name: str) -> str:
    """A path in a folder nobody can write to (/proc/self for root, whom permissions do not stop)."""
    if ROOT:
        return f"/proc/self/{name}"
    folder = out / "read_only"
    folder.mkdir()
    os.chmod(folder, 0o555)
    return str(folder / name)


# -- the matrix -----------------------------------------------------------------------------------

@dataclass
class Case:
    id: str
    alg: str
    params: Callable[[dict, pathlib.Path], dict]
    #: regex the message must contain; None: the run must succeed; a callable (inputs -> regex or None) where that
    #: depends on the QGIS version
    expect: Optional[str | Callable[[dict], Optional[str]]] = None
    check: Optional[Callable[[dict, dict, dict, str], None]] = None  # (inputs, params, results, log)
    outputs: tuple = ("OUTPUT",)
    after: Optional[Callable[[dict], None]] = None  # extra check after a refused run


def _sm(d, key="scene", n=2):
    return {"SOIL_MOISTURE": d[key]["sm"][:n], "FACTORS": d[key]["stacks"][:n]}


def _csv_rows(path: str) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def check_align_mixed_crs(d, params, results, log):
    out = params["OUTPUT"]
    assert band_names(gdal.Open(out)) == ["lonlat", "ndvi", "lst_day", "landcover"]
    got = read_all(out, dtype=np.float64)
    lon, lat = _lonlat(d["fine"])
    ok = np.isfinite(got[0])
    assert ok.mean() > 0.99
    assert np.abs(got[0][ok] - (10.0 * lon + lat)[ok]).max() < 2e-3  # reprojected, not shifted
    stack = read_all(d["scene"]["stacks"][0], dtype=np.float64)
    np.testing.assert_array_equal(got[1:], stack)  # same grid: copied unchanged, nodata kept


def _qgis_loads(text: str) -> bool:
    """Whether this QGIS loads a layer given as the GDAL string ``text`` (newer versions open /vsizip/ and
    GTIFF_RAW: strings; older ones take them for a missing file)."""
    from qgis.core import QgsProcessingContext, QgsProcessingUtils

    return QgsProcessingUtils.mapLayerFromString(text, QgsProcessingContext()) is not None


def _unless_loaded(text_of: Callable[[dict], str], regex: str) -> Callable[[dict], Optional[str]]:
    """A case's expectation for a GDAL string: refused with ``regex`` where QGIS cannot load it, run otherwise."""
    return lambda d: None if _qgis_loads(text_of(d)) else regex


def check_downscale_gtiff_raw(d, params, results, log):
    got = read_all(params["OUTPUT"], dtype=np.float64)[0]
    assert np.isfinite(got).mean() > 0.9
    assert float(results["MEAN"]) == pytest.approx(float(np.nanmean(got)), abs=1e-6)


def check_align_naninf(d, params, results, log):
    got = read_all(params["OUTPUT"])[0]
    vals = d["naninf_values"]
    np.testing.assert_array_equal(np.isnan(got), ~np.isfinite(vals))  # NaN and +-inf became nodata
    np.testing.assert_array_equal(got[np.isfinite(vals)], vals[np.isfinite(vals)])
    assert not np.isinf(got).any()


def check_screen_constant(d, params, results, log):
    rows = {r["factor"]: r for r in _csv_rows(params["OUTPUT"])}
    assert set(rows) == {"ndvi", "lst_day", "landcover", "const"}
    assert rows["const"]["selected"] == "no" and "constant" in rows["const"]["reason"]
    assert rows["const"]["pearson_r"] == "" and rows["ndvi"]["selected"] == "yes"
    assert "const" not in results["SELECTED"].split(",") and "ndvi" in results["SELECTED"].split(",")


def check_screen_single_date(d, params, results, log):
    rows = _csv_rows(params["OUTPUT"])
    n = {int(r["n"]) for r in rows}
    assert len(n) == 1 and 60 <= n.pop() <= 120  # the cells of one date (12 x 10 SMAP cells, some edge cells out)
    assert results["SELECTED"] and "over 1 date(s)" in log


def check_train_constant(d, params, results, log):
    est, meta = model_io.load_model(params["OUTPUT"])
    assert meta["dropped_factors"] == {"const": "constant over the training samples"}
    assert [f["name"] for f in meta["factors"]] == ["ndvi", "lst_day", "landcover"]
    assert est.n_features_in_ == len(meta["features"]) == 5
    assert "Factor const was left out of the model: constant over the training samples." in log


def check_train_single_date(d, params, results, log):
    _, meta = model_io.load_model(params["OUTPUT"])
    assert meta["dates"] == ["2023-06-01"]
    assert meta["n_samples"] == int(results["N_SAMPLES"]) >= 60
    assert float(results["CV_R"]) > 0.8  # the default relation (0.1 + 0.5 ndvi) is learnt from one date


def check_downscale_mixed_crs(d, params, results, log):
    fine, coarse = d["fine"], d["coarse"]
    got = read_all(params["OUTPUT"], dtype=np.float64)[0]
    idx = CellIndex(fine, coarse).rows(0, fine.height).ravel()  # SMAP in EPSG:6933, factors in UTM
    ok = (idx >= 0) & np.isfinite(got.ravel())
    sums = np.bincount(idx[ok], weights=got.ravel()[ok], minlength=coarse.size)
    counts = np.bincount(idx[ok], minlength=coarse.size)
    sm = d["scene"]["sm_values"][0].ravel()
    has = (counts > 0) & np.isfinite(sm)
    assert has.sum() >= 100
    np.testing.assert_allclose(sums[has] / counts[has], sm[has], atol=1e-5)
    assert float(results["MEAN"]) == pytest.approx(float(np.nanmean(got)), abs=1e-6)


def check_downscale_lc_minority(d, params, results, log):
    got = read_all(params["OUTPUT"], dtype=np.float64)[0]
    assert np.isfinite(got).mean() > 0.9 and float(results["MEAN"]) == pytest.approx(float(np.nanmean(got)), abs=1e-6)
    assert re.search(r"The land cover factor landcover in factors_20230601\.tif has \d+ % of its pixels in classes the "
                     r"model was not trained on: 40 \(\d+\.\d %\); the model knows the classes 10, 20, 30\. Those "
                     r"pixels are read as missing land cover \(a nodata code such as ESA WorldCover's 0 is one\)",
                     log), log[-3000:]


def check_downscale_rain_in_m(d, params, results, log):
    # a date far drier than training looks the same as precipitation in m: a warning, not a refusal
    got = read_all(params["OUTPUT"], dtype=np.float64)[0]
    assert np.isfinite(got).mean() > 0.9 and float(results["MEAN"]) == pytest.approx(float(np.nanmean(got)), abs=1e-6)
    assert re.search(r"The factor precipitation in factors_20230601\.tif holds values of about 0\.0\d+ \(median; .*but "
                     r"the model was trained on precipitation from [\d.]+ to [\d.]+ \(1st to 99th percentile, median "
                     r"[\d.]+\): its 99th percentile is \d+ times smaller than in training\. The factor may be in "
                     r"other units or scaled otherwise than in training \(e\.g\. mm against m", log), log[-3000:]


def check_validate_one_pixel(d, params, results, log):
    assert int(results["N"]) == 1 and str(results["R"]).lower() in ("nan", "none", "")
    assert ("The estimate sm_1km_20230601.tif (1 x 1 pixels) and the reference sm_1km_20230601.tif have only 1 pixel "
            "pair(s) where both hold a value: R needs at least 3 pairs (from 1 pair it cannot be computed, from 2 it "
            "is always +1 or -1), so R (nan) says nothing") in log, log[-3000:]


def check_validate_mixed_crs(d, params, results, log):
    assert int(results["N"]) > 0.9 * d["fine"].size
    assert float(results["R"]) > 0.999
    assert abs(float(results["BIAS"])) < 1e-3 and float(results["UBRMSD"]) < 3e-3


def _escaped_in_report(path: str, hostile: str) -> str:
    with open(path, encoding="utf-8") as fh:
        page = fh.read()
    assert hostile not in page  # never as markup ...
    assert html.escape(hostile, quote=True) in page  # ... but shown, escaped
    return page


def check_screen_report_escapes(d, params, results, log):
    _escaped_in_report(params["REPORT"], SCRIPT)
    rows = {r["factor"] for r in _csv_rows(params["OUTPUT"])}
    assert SCRIPT in rows  # the CSV keeps the name as it is


def check_validate_report_escapes(d, params, results, log):
    _escaped_in_report(params["REPORT"], IMG)
    assert int(results["N"]) == 2


def escaping_manifest(d) -> str:
    """A fetchgee-style manifest whose factor stack points outside its folder (written once, as an input)."""
    folder = pathlib.Path(d["base"]) / "manifest_escape"
    path = folder / "manifest.json"
    if not path.exists():
        (folder / "smap").mkdir(parents=True, exist_ok=True)
        (folder / "smap" / "smap_20230601.tif").write_bytes(b"x")
        (pathlib.Path(d["base"]) / "factors_20230601.tif").write_bytes(b"x")
        write_manifest(str(path), [{"date": "2023-06-01", "smap": "smap/smap_20230601.tif",
                                    "factors": "smap/smap_20230601.tif"}], {}, {}, {})
        doc = json.loads(path.read_text())
        doc["files"][0]["factors"] = "../factors_20230601.tif"
        path.write_text(json.dumps(doc))
    return str(path)


def payload_did_not_run(d):
    assert not os.path.exists(d["marker"]), "the crafted model file ran code"


#: Cases whose "algorithm" is one of the shipped workflow models (smdownscale:<model name>).
MODELS = {"workflow"}
FETCH = {"EXTENT": EXTENT, "START_DATE": "2023-06-01", "END_DATE": "2023-06-02", "TIME_STEP": 0,
         "PROJECT": "test-project"}

CASES = [
    # sampledata
    Case("sampledata: output folder inside a file", "sampledata",
         lambda d, o: {"SIZE_KM": 20, "N_DATES": 1, "OUTPUT": under_file(o, "sample")},
         r"Cannot create the output folder .*not_a_folder/results/sample \(Not a directory\); choose another"),
    Case("sampledata: read-only output folder", "sampledata",
         lambda d, o: {"SIZE_KM": 20, "N_DATES": 1, "OUTPUT": read_only_folder(o)},
         r"The output folder .* is not writable; choose another location", outputs=()),
    # align
    Case("align: raster without CRS", "align",
         lambda d, o: {"INPUTS": [d["nocrs"]], "REFERENCE": d["scene"]["stacks"][0], "OUTPUT": str(o / "f.tif")},
         r"nocrs/ndvi\.tif has no coordinate reference system; assign one"),
    Case("align: rasters that do not overlap", "align",
         lambda d, o: {"INPUTS": [d["far"]], "REFERENCE": d["scene"]["stacks"][0], "OUTPUT": str(o / "f.tif")},
         r"elevation\.tif does not overlap the target grid: its extent in the target CRS is"),
    Case("align: mixed CRSs (lon/lat and UTM) are reprojected", "align",
         lambda d, o: {"INPUTS": [d["lonlat"], d["scene"]["stacks"][0]], "REFERENCE": d["scene"]["stacks"][0],
                       "OUTPUT": str(o / "f.tif")}, check=check_align_mixed_crs),
    Case("align: nodata-only band", "align",
         lambda d, o: {"INPUTS": [d["scene"]["stacks"][0], d["allnan"]], "REFERENCE": d["scene"]["stacks"][0],
                       "OUTPUT": str(o / "f.tif")},
         r"hold no valid pixel on the target grid: 'empty_band' \(empty_band\.tif\)"),
    Case("align: NaN and +-inf pixels become nodata", "align",
         lambda d, o: {"INPUTS": [d["naninf"]], "REFERENCE": d["naninf"], "OUTPUT": str(o / "f.tif")},
         check=check_align_naninf),
    Case("align: missing file", "align",
         lambda d, o: {"INPUTS": [d["missing"]], "REFERENCE": d["scene"]["stacks"][0], "OUTPUT": str(o / "f.tif")},
         r"Raster file not found: .*files/missing\.tif\. Check the path\."),
    Case("align: unreadable file", "align",
         lambda d, o: {"INPUTS": [d["unreadable"]], "REFERENCE": d["scene"]["stacks"][0],
                       "OUTPUT": str(o / "f.tif")},
         r"Raster file is not readable: .*files/unreadable\.tif"),
    Case("align: text file with a .tif name", "align",
         lambda d, o: {"INPUTS": [d["notraster"]], "REFERENCE": d["scene"]["stacks"][0], "OUTPUT": str(o / "f.tif")},
         r"files/notes\.tif is not a raster GDAL can read"),
    Case("align: folder with a .tif name", "align",
         lambda d, o: {"INPUTS": [d["folder_tif"]], "REFERENCE": d["scene"]["stacks"][0],
                       "OUTPUT": str(o / "f.tif")},
         r"files/folder\.tif is a folder, not a raster file"),
    Case("align: duplicate factor names", "align",
         lambda d, o: {"INPUTS": [d["scene"]["stacks"][0], d["scene"]["stacks"][1]],
                       "REFERENCE": d["scene"]["stacks"][0], "OUTPUT": str(o / "f.tif")},
         r"Factor names must be unique, but these occur more than once: 'ndvi' in factors_20230601\.tif, "
         r"factors_20230609\.tif"),
    Case("align: output folder inside a file", "align",
         lambda d, o: {"INPUTS": [d["scene"]["stacks"][0]], "REFERENCE": d["scene"]["stacks"][0],
                       "OUTPUT": under_file(o, "f.tif")},
         r"Cannot create the output folder .*not_a_folder/results \(Not a directory\)"),
    # screen
    Case("screen: zero-variance factor is reported as constant and dropped", "screen",
         lambda d, o: {**_sm(d, "const", 1), "OUTPUT": str(o / "screen.csv")}, check=check_screen_constant),
    Case("screen: a single date", "screen",
         lambda d, o: {**_sm(d, "scene", 1), "OUTPUT": str(o / "screen.csv")}, check=check_screen_single_date),
    Case("screen: dates that do not match", "screen",
         lambda d, o: {"SOIL_MOISTURE": d["scene"]["sm"][:1], "FACTORS": d["scene"]["stacks"][1:],
                       "OUTPUT": str(o / "screen.csv")},
         r"Dates do not match between the inputs: 2023-06-01 only among the soil moisture rasters"),
    Case("screen: a factor named like a script is escaped in the HTML report", "screen",
         lambda d, o: {**_sm(d, "hostile", 1), "OUTPUT": str(o / "screen.csv"), "REPORT": str(o / "screen.html")},
         check=check_screen_report_escapes),
    # train
    Case("train: zero-variance factor is left out with a message", "train",
         lambda d, o: {**_sm(d, "const", 1), "MODEL_TYPE": 2, "CV_FOLDS": 2, "OUTPUT": str(o / "m.smdmodel")},
         check=check_train_constant),
    Case("train: a single date", "train",
         lambda d, o: {**_sm(d, "scene", 1), "MODEL_TYPE": 2, "CV_FOLDS": 2, "OUTPUT": str(o / "m.smdmodel")},
         check=check_train_single_date),
    Case("train: factor stack with duplicate band names", "train",
         lambda d, o: {"SOIL_MOISTURE": [d["dup_smap"]], "FACTORS": [d["dup_stack"]], "OUTPUT": str(o / "m.smdmodel")},
         r"has several bands named ndvi, so the factor cannot be identified"),
    Case("train: a factor missing from the stacks", "train",
         lambda d, o: {**_sm(d), "SELECTED_FACTORS": "ndvi,albedo", "OUTPUT": str(o / "m.smdmodel")},
         r"The factor\(s\) albedo chosen to train on are not bands of the factor stack factors_20230601\.tif \(its "
         r"bands: ndvi, lst_day, landcover\)"),
    Case("train: nodata-only SMAP raster", "train",
         lambda d, o: {"SOIL_MOISTURE": [d["nodata_smap"]],
                       "FACTORS": [str(d["base"] / "nodata_smap/factors_20230601.tif")],
                       "OUTPUT": str(o / "m.smdmodel")},
         r"The soil moisture raster smap_20230601\.tif holds only nodata"),
    Case("train: manifest naming a file outside its folder", "train",
         lambda d, o: {"MANIFEST": escaping_manifest(d), "OUTPUT": str(o / "m.smdmodel")},
         r"a manifest may only name files inside its own folder"),
    Case("train: too few valid training samples", "train",
         lambda d, o: {**_sm(d, "few", 1), "OUTPUT": str(o / "m.smdmodel")},
         r"Only 20 valid coarse cells pair soil moisture with all factors; at least 30 are needed"),
    # downscale
    Case("downscale: model from another scikit-learn version", "downscale",
         lambda d, o: {"MODEL": d["old_model"], "FACTORS": d["scene"]["stacks"][0],
                       "SOIL_MOISTURE": d["scene"]["sm"][0], "OUTPUT": str(o / "sm.tif")},
         r"old_sklearn\.smdmodel was trained with scikit-learn 0\.24\.2; this system has .*retrain the model"),
    Case("downscale: truncated model file", "downscale",
         lambda d, o: {"MODEL": d["truncated_model"], "FACTORS": d["scene"]["stacks"][0],
                       "SOIL_MOISTURE": d["scene"]["sm"][0], "OUTPUT": str(o / "sm.tif")},
         r"The model file .*truncated\.smdmodel is damaged or incomplete"),
    Case("downscale: a text file instead of a model", "downscale",
         lambda d, o: {"MODEL": d["text_model"], "FACTORS": d["scene"]["stacks"][0],
                       "SOIL_MOISTURE": d["scene"]["sm"][0], "OUTPUT": str(o / "sm.tif")},
         r"readme\.smdmodel is not a smdownscale model file \(not a zip archive\)"),
    Case("downscale: crafted model file carrying code", "downscale",
         lambda d, o: {"MODEL": d["payload_model"], "FACTORS": d["scene"]["stacks"][0],
                       "SOIL_MOISTURE": d["scene"]["sm"][0], "OUTPUT": str(o / "sm.tif")},
         r"crafted\.smdmodel contains types a smdownscale model never holds \(.*Payload\); it was not loaded, "
         r"so nothing in it was run", after=payload_did_not_run),
    Case("downscale: factor stack without band names", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["unnamed_stack"], "SOIL_MOISTURE": d["scene"]["sm"][0],
                       "OUTPUT": str(o / "sm.tif")},
         r"lacks the factor\(s\) ndvi, lst_day, landcover that the model needs; its bands are factors_b1, "
         r"factors_b2, factors_b3"),
    Case("downscale: all-nodata factor stack", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["nodata_stack"], "SOIL_MOISTURE": d["scene"]["sm"][0],
                       "OUTPUT": str(o / "sm.tif")},
         r"Every factor \(ndvi, lst_day, landcover\) is missing at every pixel of factors_20230601\.tif; check the "
         r"stack's nodata and extent"),
    Case("downscale: SMAP in EPSG:6933, factors in UTM", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["scene"]["stacks"][0], "SOIL_MOISTURE": d["scene"]["sm"][0],
                       "OUTPUT": str(o / "sm.tif")}, check=check_downscale_mixed_crs),
    Case("downscale: read-only output folder", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["scene"]["stacks"][0], "SOIL_MOISTURE": d["scene"]["sm"][0],
                       "OUTPUT": read_only(o, "sm.tif")},
         r"The output folder .* is not writable; choose another location"),
    # validate
    Case("validate: station table with the wrong columns", "validate",
         lambda d, o: {"INPUT": d["estimate"], "STATIONS_FILE": d["csv_columns"], "OUTPUT": str(o / "v.csv")},
         r"The station table columns\.csv has no longitude/x, latitude/y, date, soil moisture value column; "
         r"found columns: name, when, reading"),
    Case("validate: station table with a bad date", "validate",
         lambda d, o: {"INPUT": d["estimate"], "STATIONS_FILE": d["csv_dates"], "OUTPUT": str(o / "v.csv")},
         r"dates\.csv, row 2: cannot read the date '2023-31-12'; write dates as YYYY-MM-DD"),
    Case("validate: station value out of range", "validate",
         lambda d, o: {"INPUT": d["estimate"], "STATIONS_FILE": d["csv_range"], "OUTPUT": str(o / "v.csv")},
         r"range\.csv, row 3: soil moisture 1\.7 is outside 0-1 m3/m3\. The values look like percent"),
    Case("validate: a station id made of markup is escaped in the HTML report", "validate",
         lambda d, o: {"INPUT": d["estimate"], "STATIONS_FILE": d["csv_hostile"], "OUTPUT": str(o / "v.csv"),
                       "REPORT": str(o / "v.html")}, check=check_validate_report_escapes),
    Case("validate: folder without ISMN files", "validate",
         lambda d, o: {"INPUT": d["estimate"], "STATIONS_FOLDER": d["ismn_empty"], "OUTPUT": str(o / "v.csv")},
         r"No \.stm file in .*ismn_empty"),
    Case("validate: reference that does not overlap", "validate",
         lambda d, o: {"INPUT": d["estimate"], "REFERENCE": d["far"], "OUTPUT": str(o / "v.csv")},
         r"The reference elevation\.tif does not overlap the estimate sm_1km_20230601\.tif"),
    Case("validate: estimate without CRS", "validate",
         lambda d, o: {"INPUT": d["nocrs_estimate"], "REFERENCE": d["estimate"], "OUTPUT": str(o / "v.csv")},
         r"nocrs/sm_1km_20230601\.tif has no coordinate reference system"),
    Case("validate: reference in lon/lat, estimate in UTM", "validate",
         lambda d, o: {"INPUT": d["estimate"], "REFERENCE": d["reference_ll"], "OUTPUT": str(o / "v.csv")},
         check=check_validate_mixed_crs),
    Case("validate: an estimate of 1 x 1 pixel is scored with a warning that R needs 3 pairs", "validate",
         lambda d, o: {"INPUT": d["estimate_1px"], "REFERENCE": d["estimate"], "OUTPUT": str(o / "v.csv")},
         check=check_validate_one_pixel),
    # fetchgee (the fake Earth Engine server stands by; none of these may reach it for pixels)
    Case("fetchgee: area layer without polygons", "fetchgee",
         lambda d, o: {**FETCH, "EXTENT": None, "AREA": d["area_empty"], "OUTPUT": str(o / "gee")},
         r"The area layer has no polygon; choose a layer with at least one polygon, or give an extent"),
    Case("fetchgee: self-intersecting area polygon", "fetchgee",
         lambda d, o: {**FETCH, "EXTENT": None, "AREA": d["area_bowtie"], "OUTPUT": str(o / "gee")},
         r"The area polygon is invalid \(self-intersecting or badly nested rings\); repair it with "
         r"Processing > Vector geometry > Fix geometries"),
    Case("fetchgee: reversed date range", "fetchgee",
         lambda d, o: {**FETCH, "START_DATE": "2023-06-10", "END_DATE": "2023-06-01", "OUTPUT": str(o / "gee")},
         r"The date range is reversed: the end date 2023-06-01 is before the start date 2023-06-10\. Swap them"),
    Case("fetchgee: empty date range", "fetchgee",
         lambda d, o: {**FETCH, "START_DATE": "", "END_DATE": "", "OUTPUT": str(o / "gee")},
         r"No value for 'Start date \(YYYY-MM-DD\)' \(START_DATE\); give one\."),
    Case("fetchgee: area too large for interactive download", "fetchgee",
         lambda d, o: {**FETCH, "EXTENT": "100,125,38,53 [EPSG:4326]", "FINE_RESOLUTION": 100.0,
                       "OUTPUT": str(o / "gee")},
         r"The area is too large for interactive download: one time step is .* or set the export option "
         r"\(Google Drive or Cloud Storage\) to have Earth Engine write the files as export tasks"),
    Case("fetchgee: output folder inside a file", "fetchgee",
         lambda d, o: {**FETCH, "OUTPUT": under_file(o, "gee")},
         r"Cannot create the tile cache folder .*not_a_folder/results/gee/\.cache/[0-9a-f]+ \(Not a directory\)"),
    # -- cases: outputs that name inputs
    Case("train: model file written over one of its SMAP inputs", "train",
         lambda d, o: {"SOIL_MOISTURE": d["clash_sm"], "FACTORS": d["clash_stacks"], "OUTPUT": d["clash_sm"][1]},
         r"The output 'Model file' \(OUTPUT\) \(.*clash/smap_20230609\.tif\) is the same file as the input 'SMAP "
         r"rasters, one per date' \(SOIL_MOISTURE\) \(.*smap_20230609\.tif\): writing it would destroy "
         r"that input\. Choose another file name or folder for 'Model file' \(OUTPUT\)", outputs=()),
    Case("train: report written over a factor stack, through '..'", "train",
         lambda d, o: {"SOIL_MOISTURE": d["clash_sm"], "FACTORS": d["clash_stacks"], "OUTPUT": str(o / "m.smdmodel"),
                       "REPORT": str(pathlib.Path(d["clash_stacks"][0]).parent / ".." / "clash" /
                                     os.path.basename(d["clash_stacks"][0]))},
         r"The output 'Training report' \(REPORT\) .* is the same file as the input 'Factor stacks, one per "
         r"date' \(FACTORS\)"),
    Case("train: model file and report on one file", "train",
         lambda d, o: {"SOIL_MOISTURE": d["clash_sm"], "FACTORS": d["clash_stacks"], "OUTPUT": str(o / "m.html"),
                       "REPORT": str(o / "m.html")},
         r"The outputs 'Model file' \(OUTPUT\) and 'Training report' \(REPORT\) are the same file \(.*m\.html\)"),
    Case("align: output written over the reference raster", "align",
         lambda d, o: {"INPUTS": [d["scene"]["stacks"][0]], "REFERENCE": d["clash_reference"],
                       "OUTPUT": d["clash_reference"]},
         r"The output 'Aligned factors \(fine grid\)' \(OUTPUT\) \(.*reference_grid\.tif\) is the same file as the "
         r"input 'Reference raster \(target grid\)' \(REFERENCE\)", outputs=()),
    Case("align: coarse output written over the coarse reference", "align",
         lambda d, o: {"INPUTS": [d["scene"]["stacks"][0]], "REFERENCE": d["scene"]["stacks"][0],
                       "OUTPUT": str(o / "f.tif"), "COARSE_REFERENCE": d["clash_sm"][0],
                       "COARSE_OUTPUT": d["clash_sm"][0]},
         r"The output 'Aggregated factors \(coarse grid\)' \(COARSE_OUTPUT\) .* is the same file as the input "
         r"'Coarse grid raster.*' \(COARSE_REFERENCE\)"),
    Case("align: output is a symbolic link to an input", "align",
         lambda d, o: {"INPUTS": [d["clash_stacks"][0]], "REFERENCE": d["scene"]["stacks"][0],
                       "OUTPUT": d["clash_stack_symlink"]},
         r"The output 'Aligned factors \(fine grid\)' \(OUTPUT\) \(.*aligned_link\.tif, which is "
         r"factors_20230601\.tif\) is the same file as the input 'Factor rasters.*' \(INPUTS\)", outputs=()),
    Case("downscale: output is a hard link to the model file", "downscale",
         lambda d, o: {"MODEL": d["clash_model"], "FACTORS": d["clash_stacks"][0], "SOIL_MOISTURE": d["clash_sm"][0],
                       "OUTPUT": d["clash_model_hardlink"]},
         r"The output 'Soil moisture 1 km' \(OUTPUT\) \(.*sm_1km_hardlink\.tif, which is cart\.smdmodel\) is the "
         r"same file as the input 'Model file' \(MODEL\)", outputs=()),
    Case("downscale: output written over the SMAP raster", "downscale",
         lambda d, o: {"MODEL": d["clash_model"], "FACTORS": d["clash_stacks"][0], "SOIL_MOISTURE": d["clash_sm"][0],
                       "OUTPUT": d["clash_sm"][0]},
         r"is the same file as the input 'SMAP of the same date' \(SOIL_MOISTURE\)", outputs=()),
    Case("screen: table written over the manifest's SMAP raster", "screen",
         lambda d, o: {"MANIFEST": d["clash_manifest"], "OUTPUT": d["clash_sm"][0]},
         r"The output 'Screening table' \(OUTPUT\) .* is the same file as the input 'Or instead: fetch manifest' "
         r"\(MANIFEST\)", outputs=()),
    Case("validate: metrics written over the station file", "validate",
         lambda d, o: {"INPUT": d["clash_estimate"], "STATIONS_FILE": d["clash_csv"], "OUTPUT": d["clash_csv"]},
         r"The output 'Metrics' \(OUTPUT\) .* is the same file as the input 'Station file \(CSV, ISMN \.stm\)' "
         r"\(STATIONS_FILE\)", outputs=()),
    Case("validate: report written over the estimate", "validate",
         lambda d, o: {"INPUT": d["clash_estimate"], "STATIONS_FILE": d["clash_csv"], "OUTPUT": str(o / "v.csv"),
                       "REPORT": d["clash_estimate"]},
         r"The output 'Report' \(REPORT\) .* is the same file as the input 'Soil moisture estimate' \(INPUT\)"),
    Case("validate: pairs written over a file of the ISMN folder", "validate",
         lambda d, o: {"INPUT": d["clash_estimate"], "STATIONS_FOLDER": str(pathlib.Path(d["clash_stm"]).parents[2]),
                       "OUTPUT": str(o / "v.csv"), "PAIRS": d["clash_stm"]},
         r"The output 'Station pairs' \(PAIRS\) .* is the same file as the input 'Folder of ISMN \.stm files' "
         r"\(STATIONS_FOLDER\)"),
    Case("fetchgee: area layer inside the folder the output replaces", "fetchgee",
         lambda d, o: {**FETCH, "EXTENT": None, "AREA": d["clash_area"],
                       "OUTPUT": str(pathlib.Path(d["clash_area"]).parents[1])},
         r"The input 'Area \(polygon layer\)' \(AREA\) \(.*gee/smap/area\.gpkg\) lies in .*gee/smap, which the output "
         r"'Output folder' \(OUTPUT\) fills and replaces", outputs=()),

    Case("train: model file written as the overview sidecar (.ovr) of a SMAP input", "train",
         lambda d, o: {"SOIL_MOISTURE": d["clash_sm"], "FACTORS": d["clash_stacks"],
                       "OUTPUT": d["clash_sm"][1] + ".ovr"},
         r"The output 'Model file' \(OUTPUT\) \(.*smap_20230609\.tif\.ovr\) is the \.ovr file GDAL reads as "
         r"part of the input 'SMAP rasters, one per date' \(SOIL_MOISTURE\)"),
    Case("downscale: time series into the folder holding a SMAP raster named like an output", "downscale",
         lambda d, o: {"MODEL": d["clash_model"], "FACTORS_SERIES": [d["clash_series_stack"]],
                       "SOIL_MOISTURE_SERIES": [d["clash_series_sm"]],
                       "OUTPUT_FOLDER": str(pathlib.Path(d["clash_series_sm"]).parent)},
         r"The input 'Time series: .*' \(SOIL_MOISTURE_SERIES\) \(.*series/sm_1km_20230601\.tif\) lies in the output "
         r"folder 'Time series: output folder' \(OUTPUT_FOLDER\) .* under a name the output writes \(sm_1km_\*\.tif, "
         r"quality_\*\.tif\)",
         outputs=()),
    Case("workflow: a step's report written over the model's SMAP input", "workflow",
         lambda d, o: {"smap": d["clash_workflow_smap"], "factor_rasters": [d["scene"]["stacks"][0]],
                       "grid": d["scene"]["stacks"][0], "validation_reference": d["scene"]["sm"][0],
                       "model_type": 2, "train:training_report": d["clash_workflow_smap"],
                       **{out: "TEMPORARY_OUTPUT" for out in ("downscale:soil_moisture_1km", "screen:screening_report",
                                                              "screen:screening_table", "train:model_file",
                                                              "validate:validation_metrics")}},
         r"The output 'Training report' \(REPORT\) \(.*workflow_smap_20230601\.tif\) is the same file as the input "
         r"'SMAP rasters, one per date' \(SOIL_MOISTURE\)", outputs=()),
    # -- cases: damaged or incomplete rasters
    Case("downscale: damaged factor stack, truncated mid-file", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["cut_stack"], "SOIL_MOISTURE": d["scene"]["sm"][0],
                       "OUTPUT": str(o / "sm.tif")},
         r"damaged/stack/factors_20230601\.tif is damaged or incomplete \(band 1: IReadBlock failed at X offset 0, "
         r"Y offset 0: TIFFReadEncodedTile\(\) failed\): download or export it again\."),
    Case("downscale: damaged factor stack, the end of its last tile missing", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["cut_stack_end"], "SOIL_MOISTURE": d["scene"]["sm"][0],
                       "OUTPUT": str(o / "sm.tif")},
         r"damaged/end/factors_20230601\.tif is damaged or incomplete \(band 1: IReadBlock failed .*\): download or "
         r"export it again\."),
    Case("downscale: damaged SMAP raster, cut inside its header (not a missing CRS)", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["scene"]["stacks"][0], "SOIL_MOISTURE": d["cut_smap"],
                       "OUTPUT": str(o / "sm.tif")},
         r"damaged/smap/smap_20230601\.tif is damaged or incomplete \(TIFFFetchNormalTag:IO error during reading of "
         r"\"\w+\"; tag ignored\): download or export it again\."),
    Case("train: damaged factor stack, truncated mid-file", "train",
         lambda d, o: {"SOIL_MOISTURE": [d["scene"]["sm"][0]], "FACTORS": [d["cut_stack"]],
                       "OUTPUT": str(o / "m.smdmodel")},
         r"damaged/stack/factors_20230601\.tif is damaged or incomplete \(band 1: IReadBlock failed at X offset 0, "
         r"Y offset 0: TIFFReadEncodedTile\(\) failed\): download or export it again\."),
    Case("train: damaged SMAP raster, cut inside its header (not a missing CRS)", "train",
         lambda d, o: {"SOIL_MOISTURE": [d["cut_smap"]], "FACTORS": [d["scene"]["stacks"][0]],
                       "OUTPUT": str(o / "m.smdmodel")},
         r"damaged/smap/smap_20230601\.tif is damaged or incomplete \(TIFFFetchNormalTag:IO error during reading of "
         r"\"\w+\"; tag ignored\): download or export it again\."),
    Case("align: damaged factor raster, truncated mid-file", "align",
         lambda d, o: {"INPUTS": [d["cut_stack"]], "REFERENCE": d["scene"]["stacks"][0], "OUTPUT": str(o / "f.tif")},
         r"damaged/stack/factors_20230601\.tif is damaged or incomplete \(band 1: IReadBlock failed at X offset 0, "
         r"Y offset 0: TIFFReadEncodedTile\(\) failed\): download or export it again\."),
    Case("align: damaged raster, an empty (0-byte) file", "align",
         lambda d, o: {"INPUTS": [d["empty_raster"]], "REFERENCE": d["scene"]["stacks"][0], "OUTPUT": str(o / "f.tif")},
         r"damaged/empty/factors_20230601\.tif is damaged or incomplete \(the file is empty, 0 bytes\): download or "
         r"export it again\."),
    Case("validate: damaged reference, truncated mid-file", "validate",
         lambda d, o: {"INPUT": d["estimate"], "REFERENCE": d["cut_reference"], "OUTPUT": str(o / "v.csv")},
         r"damaged/reference/reference_lonlat\.tif is damaged or incomplete \(band 1: IReadBlock failed .*\): "
         r"download or export it again\."),

    # -- cases: soil moisture units and fill values, factor ranges
    Case("train: SMAP in percent", "train",
         lambda d, o: {**_sm(d, "pct"), "MODEL_TYPE": 2, "CV_FOLDS": 0, "OUTPUT": str(o / "m.smdmodel")},
         r"The soil moisture raster smap_20230601\.tif is not in m3/m3: values [\d.]+ to [\d.]+, median [\d.]+\. "
         r"These look like percent \(0-100\)\. Give SM_SCALE=0\.01 \(advanced parameter"),
    Case("train: SMAP in percent with SM_SCALE 0.01", "train",
         lambda d, o: {**_sm(d, "pct"), "MODEL_TYPE": 2, "CV_FOLDS": 2, "SM_SCALE": 0.01,
                       "OUTPUT": str(o / "m.smdmodel")},
         check=lambda d, params, results, log: d["units_checks"]["train_percent_scaled"](d, params, results, log)),
    Case("train: undeclared -9999 fill in SMAP", "train",
         lambda d, o: {**_sm(d, "fill"), "MODEL_TYPE": 2, "CV_FOLDS": 0, "OUTPUT": str(o / "m.smdmodel")},
         r"The soil moisture raster smap_20230601\.tif holds \d+ pixel\(s\) \(\d+\.\d %\) equal to -9999, a fill "
         r"value that is not declared as nodata.* set SM_NODATA=-9999 \(advanced parameter\), or mark it in the file "
         r"\(gdal_edit\.py -a_nodata -9999 smap_20230601\.tif"),
    Case("screen: undeclared -9999 fill in SMAP", "screen",
         lambda d, o: {**_sm(d, "fill"), "OUTPUT": str(o / "screen.csv")},
         r"smap_20230601\.tif holds \d+ pixel\(s\) \(\d+\.\d %\) equal to -9999, a fill value that is not declared "
         r"as nodata.* set SM_NODATA=-9999"),
    Case("screen: -9999 fill declared with SM_NODATA", "screen",
         lambda d, o: {**_sm(d, "fill"), "SM_NODATA": -9999, "DIAGNOSTICS": False, "OUTPUT": str(o / "screen.csv")},
         check=lambda d, params, results, log: d["units_checks"]["screen_fill_declared"](d, params, results, log)),
    Case("train: NDVI stored as integers x 10000", "train",
         lambda d, o: {**_sm(d, "ndvi10k", 1), "MODEL_TYPE": 2, "CV_FOLDS": 0, "OUTPUT": str(o / "m.smdmodel")},
         r"The factor ndvi in factors_20230601\.tif looks like a vegetation index but holds values \d+ to \d+, median "
         r"\d+, 100\.0 % of them outside -1 to 1\. It is probably stored as integers x 10000 \(as MODIS MOD13 "
         r"NDVI/EVI\): declare its scale in the file it came from \(gdal_edit\.py -scale 0\.0001; the values it "
         r"stands for are then read\) or multiply the band by 0\.0001"),
    Case("validate: reference in percent", "validate",
         lambda d, o: {"INPUT": d["estimate"], "REFERENCE": d["reference_pct"], "OUTPUT": str(o / "v.csv")},
         r"The reference reference_pct\.tif is not in m3/m3: values [\d.]+ to [\d.]+, median [\d.]+\. These look like "
         r"percent \(0-100\)\. Give REF_SCALE=0\.01"),
    Case("downscale: LST in degrees Celsius, model trained on Kelvin", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["celsius_stack"], "SOIL_MOISTURE": d["scene"]["sm"][0],
                       "OUTPUT": str(o / "sm.tif")},
         r"The factor lst_day in factors_20230601\.tif holds values [\d.]+ to [\d.]+, median [\d.]+, which is in "
         r"degrees Celsius, but the model was trained on lst_day in Kelvin \(training range 2\d\d to 3\d\d\)\. "
         r"Convert it: add 273\.15 to the band"),
    Case("downscale: a fifth of the land cover in a class the model never saw runs with a warning", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["lc_minority_stack"], "SOIL_MOISTURE": d["scene"]["sm"][0],
                       "OUTPUT": str(o / "sm.tif")}, check=check_downscale_lc_minority),
    Case("downscale: factor stack at 250 m for a model trained at 1 km", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["stack_250m"], "SOIL_MOISTURE": d["scene"]["sm"][0],
                       "OUTPUT": str(o / "sm.tif")},
         r"The factor stack factors_20230601\.tif has pixels of 250 m, but the model cart\.smdmodel was trained on "
         r"factor stacks of 1000 m \(4 times finer\)\. .*Align the factors at the model's resolution "
         r"\(smdownscale:align with a resolution of 1000 m in the model's CRS"),
    Case("downscale: precipitation in m for a model trained on mm runs with a warning", "downscale",
         lambda d, o: {"MODEL": d["rain_model"], "FACTORS": d["rain_in_m"], "SOIL_MOISTURE": d["rain"]["sm"][0],
                       "OUTPUT": str(o / "sm.tif")}, check=check_downscale_rain_in_m),
    Case("downscale: SMAP in percent for residual correction", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["pct"]["stacks"][0], "SOIL_MOISTURE": d["pct"]["sm"][0],
                       "OUTPUT": str(o / "sm.tif")},
         r"The soil moisture raster smap_20230601\.tif is not in m3/m3: .*These look like percent \(0-100\)\. Give "
         r"SM_SCALE=0\.01"),
    Case("downscale: SMAP in percent with SM_SCALE 0.01", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["pct"]["stacks"][0], "SOIL_MOISTURE": d["pct"]["sm"][0],
                       "SM_SCALE": 0.01, "OUTPUT": str(o / "sm.tif")},
         check=lambda d, params, results, log: d["units_checks"]["downscale_percent_scaled"](d, params, results, log)),

    # -- cases: grid sizes
    Case("align: reference raster of 200000 x 200000 pixels", "align",
         lambda d, o: {"INPUTS": [d["scene"]["stacks"][0]], "REFERENCE": d["huge_reference"],
                       "OUTPUT": str(o / "f.tif")},
         r"The reference raster huge_reference\.tif is a 200000 x 200000 pixel grid of 1000 metre \(40,000,000,000 "
         r"pixels, 149\.0 GB per band\); smdownscale works on grids of at most 2,000,000,000 pixels\. Give a reference "
         r"raster at the resolution you want"),
    Case("align: the same size asked through a resolution in the wrong units", "align",
         lambda d, o: {"INPUTS": [d["scene"]["stacks"][0]], "TARGET_CRS": "EPSG:4326",
                       "TARGET_EXTENT": "100,125,38,53 [EPSG:4326]", "RESOLUTION": 0.0001, "OUTPUT": str(o / "f.tif")},
         r"The target grid \(resolution 0\.0001 over the extent \(100, 38, 125, 53\)\) is a 250000 x 150000 pixel "
         r"grid of 0\.0001 degrees .*Check the resolution: it is in the units of the target CRS \(degrees\)"),
    Case("align: RESOLUTION 0.01 (degrees) for a metric CRS", "align",
         lambda d, o: {"INPUTS": [d["scene"]["stacks"][0]], "TARGET_CRS": "EPSG:32650",
                       "TARGET_EXTENT": "100,125,38,53 [EPSG:4326]", "RESOLUTION": 0.01, "OUTPUT": str(o / "f.tif")},
         r"The target resolution \(RESOLUTION\) is 0\.01, in the units of the target CRS \(metres\): pixels of "
         r"0\.01 m\. 0\.01 looks like a value in degrees \(0\.01 degree is about 1113 metres\)\. Give the pixel size "
         r"in metres: about 1000 for 1 km\."),
    Case("fetchgee: FINE_RESOLUTION 0.01 (degrees) for EPSG:6933", "fetchgee",
         lambda d, o: {**FETCH, "FINE_RESOLUTION": 0.01, "OUTPUT": str(o / "gee")},
         r"The fine resolution \(FINE_RESOLUTION\) is 0\.01, in the units of the target CRS \(metres\).* 0\.01 looks "
         r"like a value in degrees .*Give the pixel size in metres: about 1000 for 1 km\."),
    Case("align: coarse reference far too large for a coarse grid", "align",
         lambda d, o: {"INPUTS": [d["scene"]["stacks"][0]], "REFERENCE": d["scene"]["stacks"][0],
                       "OUTPUT": str(o / "f.tif"), "COARSE_REFERENCE": d["huge_smap"],
                       "COARSE_OUTPUT": str(o / "c.tif")},
         r"The coarse reference raster .* is a 10000 x 10000 pixel grid .*at most 50,000,000 pixels\. Give the coarse "
         r"\(~9 km\) SMAP raster of the area", outputs=("OUTPUT", "COARSE_OUTPUT")),
    Case("downscale: factor stack of 200000 x 200000 pixels", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["huge_stack"], "SOIL_MOISTURE": d["scene"]["sm"][0],
                       "OUTPUT": str(o / "sm.tif")},
         r"The factor stack factors_20230601\.tif is a 200000 x 200000 pixel grid .* Align the factors onto the 1 km "
         r"grid of the area"),
    Case("train: SMAP raster of 10000 x 10000 cells", "train",
         lambda d, o: {"SOIL_MOISTURE": [d["huge_smap"]], "FACTORS": [d["scene"]["stacks"][0]],
                       "OUTPUT": str(o / "m.smdmodel")},
         r"The soil moisture raster smap_20230601\.tif is a 10000 x 10000 pixel grid of 9000 metre .*at most "
         r"50,000,000 pixels\. Give the coarse \(~9 km\) SMAP raster of the area"),
    Case("validate: estimate of 200000 x 200000 pixels", "validate",
         lambda d, o: {"INPUT": d["huge_estimate"], "REFERENCE": d["scene"]["sm"][0], "OUTPUT": str(o / "v.csv")},
         r"The estimate sm_1km_20230601\.tif, onto whose grid the reference is resampled, is a 200000 x 200000 pixel "
         r"grid"),

    # -- cases: station files (ISMN layouts, coordinates) and numeric parameters
    Case("validate: ISMN CEOP-formatted folder", "validate",
         lambda d, o: {"INPUT": d["estimate"], "STATIONS_FOLDER": d["ismn_ceop"], "OUTPUT": str(o / "v.csv")},
         check=lambda d, p, r, log: d["check_ismn_ceop"](r, log)),
    Case("validate: ISMN folder mixing layouts reads what it can and names what it skipped", "validate",
         lambda d, o: {"INPUT": d["estimate"], "STATIONS_FOLDER": d["ismn_mixed"], "OUTPUT": str(o / "v.csv")},
         check=lambda d, p, r, log: d["check_ismn_mixed"](r, log)),
    Case("validate: ISMN Header+values file without any 'G' flag", "validate",
         lambda d, o: {"INPUT": d["estimate"], "STATIONS_FILE": d["ismn_no_good"], "OUTPUT": str(o / "v.csv")},
         r"None of the 3 values in SMN_SMN_S3_sm_0\.050000_0\.050000_19500101_20230601\.stm is flagged 'G' "
         r"\(good\); flags found: M, U\. .*'U' marks values of old downloads"),
    Case("validate: CSV station with latitude 200", "validate",
         lambda d, o: {"INPUT": d["estimate"], "STATIONS_FILE": d["csv_lat200"], "OUTPUT": str(o / "v.csv")},
         r"lat200\.csv, row 3: invalid station coordinates: latitude 200 is outside -90 to 90"),
    Case("validate: CSV station with NaN longitude", "validate",
         lambda d, o: {"INPUT": d["estimate"], "STATIONS_FILE": d["csv_nanlon"], "OUTPUT": str(o / "v.csv")},
         r"nanlon\.csv, row 2: invalid station coordinates \(nan, [0-9.]+\): both must be finite numbers"),
    Case("downscale: CLIP_MIN nan", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["scene"]["stacks"][0], "SOIL_MOISTURE": d["scene"]["sm"][0],
                       "CLIP_MIN": float("nan"), "OUTPUT": str(o / "sm.tif")},
         r"'Minimum soil moisture \(m3/m3\)' \(CLIP_MIN\) is not a number \(nan\); give a finite value\."),
    Case("align: RESOLUTION nan", "align",
         lambda d, o: {"INPUTS": [d["scene"]["stacks"][0]], "TARGET_CRS": "EPSG:32650", "RESOLUTION": float("nan"),
                       "OUTPUT": str(o / "f.tif")},
         r"'Resolution \(target CRS units\)' \(RESOLUTION\) is not a number \(nan\); give a finite value\."),

    # -- cases: importsmap
    Case("importsmap: granule of another SMAP product (L2 half orbit)", "importsmap",
         lambda d, o: {"GRANULES": [d["h5_l4"][0], d["h5_l2"]], "EXTENT": EXTENT, "OUTPUT": str(o / "smap_import")},
         r"SMAP_L2_SM_P_E_45123_D_20230601T012345_R19240_001\.h5 is not a SMAP L4 \(SPL4SMGP\) or L3 \(SPL3SMP_E, "
         r"SPL3SMP\) soil moisture granule"),
    Case("importsmap: truncated HDF5 granule", "importsmap",
         lambda d, o: {"GRANULES": [d["h5_l4"][0], d["h5_truncated"]], "EXTENT": EXTENT,
                       "OUTPUT": str(o / "smap_import")},
         r"cut/SMAP_L4_SM_gph_20230601T043000_Vv7032_001\.h5 is damaged or incomplete \(it has [0-9,]+ bytes but "
         r"its HDF5 header says [0-9,]+: the download was cut short\)"),
    Case("importsmap: granule without data in the area", "importsmap",
         lambda d, o: {"GRANULES": [d["h5_sahara"]], "EXTENT": EXTENT, "OUTPUT": str(o / "smap_import")},
         r"No valid SMAP value inside the area in any of the 1 granule\(s\) \(2023-06-01 \.\. 2023-06-01\)"),
    Case("importsmap: granules of two product versions", "importsmap",
         lambda d, o: {"GRANULES": [*d["h5_l4"], d["h5_l4_v8"]], "EXTENT": EXTENT, "OUTPUT": str(o / "smap_import")},
         r"The SPL4SMGP granules come from different versions: Vv7032 \(2 files\), Vv8010 \(1 file\)"),
    Case("importsmap: output folder inside a file", "importsmap",
         lambda d, o: {"GRANULES": d["h5_l4"], "EXTENT": EXTENT, "OUTPUT": under_file(o, "smap_import")},
         r"Cannot create the output folder .*not_a_folder/results/smap_import/smap \(Not a directory\); choose "
         r"another location"),
    Case("importsmap: MODIS LST layer without its quality layer", "importsmap",
         lambda d, o: {"GRANULES": d["h5_l4"], "EXTENT": EXTENT, "MODIS_FILES": [d["modis_lst_alone"]],
                       "OUTPUT": str(o / "smap_import")},
         r"MOD11A1\.061_LST_Day_1km_doy2023152_aid0001\.tif needs its quality layer QC_Day of the same date "
         r"\(2023-06-01\) to mask clouds and failed retrievals"),

    Case("importsmap: search and download without an Earthdata Login token", "importsmap",
         lambda d, o: {"DOWNLOAD": True, "PRODUCT": 1, "START_DATE": "2023-06-01", "END_DATE": "2023-06-01",
                       "EXTENT": EXTENT, "CACHE_FOLDER": str(o / "earthdata_cache"), "OUTPUT": str(o / "smap_import")},
         r"No Earthdata Login credentials \(No .netrc found at /nonexistent/smd-no-netrc\)\. .*for qgis_process the "
         r"environment variables EARTHDATA_USERNAME and EARTHDATA_PASSWORD, or EARTHDATA_TOKEN; or a netrc file"),

    # -- cases: names of outputs, values QGIS refuses, inputs of the wrong kind
    Case("align: output named .jpg (a GeoTIFF under a JPEG name)", "align",
         lambda d, o: {"INPUTS": [d["scene"]["stacks"][0]], "REFERENCE": d["scene"]["stacks"][0],
                       "OUTPUT": str(o / "aligned.jpg")},
         r"The output 'Aligned factors \(fine grid\)' \(OUTPUT\) \(.*aligned\.jpg\) is written as a GeoTIFF file, but "
         r"its name ends in \.jpg; give a name ending in \.tif, such as .*aligned\.tif; nothing was written\."),
    Case("downscale: output named .nc", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["scene"]["stacks"][0], "SOIL_MOISTURE": d["scene"]["sm"][0],
                       "OUTPUT": str(o / "sm.nc")},
         r"\(OUTPUT\) \(.*sm\.nc\) is written as a GeoTIFF file, but its name ends in \.nc; give a name ending in "
         r"\.tif"),
    Case("downscale: quality output without extension", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["scene"]["stacks"][0], "SOIL_MOISTURE": d["scene"]["sm"][0],
                       "OUTPUT": str(o / "sm.tif"), "QUALITY": str(o / "quality")},
         r"\(QUALITY\) \(.*quality\) is written as a GeoTIFF file, but its name has no extension; give a name ending "
         r"in \.tif, such as .*quality\.tif", outputs=("OUTPUT",)),
    Case("downscale: output path ending in '/'", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["scene"]["stacks"][0], "SOIL_MOISTURE": d["scene"]["sm"][0],
                       "OUTPUT": str(o / "sm.tif") + "/"},
         r"\(OUTPUT\) \(.*sm\.tif/\) is a folder, not a file name; give a file name such as .*sm\.tif/<name>\.tif"),
    Case("downscale: output is an existing folder", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["scene"]["stacks"][0], "SOIL_MOISTURE": d["scene"]["sm"][0],
                       "OUTPUT": str(o)},
         r"\(OUTPUT\) \(.*\) is a folder, not a file name; give a file name such as .*/<name>\.tif", outputs=()),
    Case("train: model file named .pkl (downscale reads .smdmodel only)", "train",
         lambda d, o: {**_sm(d), "MODEL_TYPE": 2, "CV_FOLDS": 0, "OUTPUT": str(o / "model.pkl")},
         r"\(OUTPUT\) \(.*model\.pkl\) is written as a smdownscale model file, but its name ends in \.pkl; give a name "
         r"ending in \.smdmodel"),
    Case("train: model path ending in '/'", "train",
         lambda d, o: {**_sm(d), "MODEL_TYPE": 2, "CV_FOLDS": 0, "OUTPUT": str(o / "model.smdmodel") + "/"},
         r"\(OUTPUT\) \(.*model\.smdmodel/\) is a folder, not a file name"),
    Case("validate: metrics CSV named .xlsx", "validate",
         lambda d, o: {"INPUT": d["estimate"], "REFERENCE": d["reference_ll"], "OUTPUT": str(o / "metrics.xlsx")},
         r"\(OUTPUT\) \(.*metrics\.xlsx\) is written as a CSV file, but its name ends in \.xlsx; give a name ending "
         r"in \.csv"),
    Case("screen: report named .txt", "screen",
         lambda d, o: {**_sm(d), "OUTPUT": str(o / "screen.csv"), "REPORT": str(o / "report.txt")},
         r"'Screening report' \(REPORT\) \(.*report\.txt\) is written as a HTML file, but its name ends in \.txt",
         outputs=("OUTPUT",)),
    Case("downscale: a joblib model file", "downscale",
         lambda d, o: {"MODEL": d["joblib_model"], "FACTORS": d["scene"]["stacks"][0],
                       "SOIL_MOISTURE": d["scene"]["sm"][0], "OUTPUT": str(o / "sm.tif")},
         r"'Model file' \(MODEL\) is .*soil_rf\.joblib, not a \.smdmodel file; give a \.smdmodel file\."),
    Case("train: model type index out of range", "train",
         lambda d, o: {**_sm(d), "MODEL_TYPE": 99, "OUTPUT": str(o / "m.smdmodel")},
         r"'Model' \(MODEL_TYPE\) is 99, which is not one of its choices; give one of: 0 = .*; 1 = "),
    Case("downscale: residual correction choice out of range", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["scene"]["stacks"][0], "SOIL_MOISTURE": d["scene"]["sm"][0],
                       "RESIDUAL_CORRECTION": 7, "OUTPUT": str(o / "sm.tif")},
         r"\(RESIDUAL_CORRECTION\) is 7, which is not one of its choices; give one of: 0 = Constant per coarse cell; "),
    Case("align: negative resolution", "align",
         lambda d, o: {"INPUTS": [d["scene"]["stacks"][0]], "TARGET_CRS": "EPSG:32650", "RESOLUTION": -1000,
                       "OUTPUT": str(o / "f.tif")},
         r"'Resolution \(target CRS units\)' \(RESOLUTION\) is -1000; give a value of at least 0\."),
    Case("sampledata: scene size given as text", "sampledata",
         lambda d, o: {"SIZE_KM": "twenty", "N_DATES": 1, "OUTPUT": str(o / "sample")},
         r"'Scene size \(km\)' \(SIZE_KM\) must be a number; got 'twenty'\."),
    Case("downscale: fill window negative", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["scene"]["stacks"][0], "SOIL_MOISTURE": d["scene"]["sm"][0],
                       "FILL_WINDOW_DAYS": -3, "NEIGHBOUR_FACTORS": [d["scene"]["stacks"][1]],
                       "OUTPUT": str(o / "sm.tif")},
         r"\(FILL_WINDOW_DAYS\) is -3; give a value from 0 to 366\."),
    Case("downscale: factor stack given with a GTIFF_RAW: prefix", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": "GTIFF_RAW:" + d["scene"]["stacks"][0],
                       "SOIL_MOISTURE": d["scene"]["sm"][0], "OUTPUT": str(o / "sm.tif")},
         _unless_loaded(lambda d: "GTIFF_RAW:" + d["scene"]["stacks"][0],
                        r"'Factor stack \(1 km\)' \(FACTORS\): QGIS cannot load GTIFF_RAW:.*factors_20230601\.tif "
                        r"given as text"), check=check_downscale_gtiff_raw),
    Case("validate: one station id at two places", "validate",
         lambda d, o: {"INPUT": d["estimate"], "STATIONS_FILE": d["csv_two_places"], "OUTPUT": str(o / "v.csv")},
         r"Station 'A' is given at two places, \d+\.\d km apart: \(longitude [\d.]+, latitude [\d.]+\) on "
         r"2023-06-01 and \(longitude [\d.]+, latitude [\d.]+\) on 2023-06-01\. One id must mean one place"),
    Case("validate: a factor stack as the reference", "validate",
         lambda d, o: {"INPUT": d["estimate"], "REFERENCE": d["scene"]["stacks"][0], "OUTPUT": str(o / "v.csv")},
         r"The reference factors_20230601\.tif is a factor stack \(bands: ndvi, lst_day, landcover\), not soil "
         r"moisture"),
    Case("downscale: a factor stack as the SMAP raster", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["scene"]["stacks"][0],
                       "SOIL_MOISTURE": d["scene"]["stacks"][0], "OUTPUT": str(o / "sm.tif")},
         r"The soil moisture raster factors_20230601\.tif is a factor stack \(bands: ndvi, lst_day, landcover\), not "
         r"soil moisture; its band 1 would be read as m3/m3"),
    Case("train: factor stacks given as the SMAP rasters", "train",
         lambda d, o: {"SOIL_MOISTURE": d["scene"]["stacks"][:2], "FACTORS": d["scene"]["stacks"][:2], "MODEL_TYPE": 2,
                       "CV_FOLDS": 0, "OUTPUT": str(o / "m.smdmodel")},
         r"The soil moisture raster factors_20230601\.tif is a factor stack"),

    Case("fetchgee: a lon/lat extent labelled EPSG:3857", "fetchgee",
         lambda d, o: {**FETCH, "EXTENT": "115.55,116.35,41.65,42.25 [EPSG:3857]", "OUTPUT": str(o / "gee")},
         r"The area \(115\.55, 41\.65, 116\.35, 42\.25\) is given in EPSG:3857, a projected CRS, so it covers only "
         r"0\.8 m x 0\.6 m; its numbers look like longitudes and latitudes\. Give the extent in EPSG:4326"),
    Case("fetchgee: output folder is an existing file", "fetchgee",
         lambda d, o: {**FETCH, "OUTPUT": d["clash_csv"]},
         r"The output folder 'Output folder' \(OUTPUT\) \(.*clash/stations\.csv\) is a file; choose a folder"),
    Case("downscalegee: no task manifest file given", "downscalegee",
         lambda d, o: {**FETCH, "PLAN_ONLY": True},
         r"No value for 'Task manifest' \(OUTPUT_MANIFEST\); give a file or folder name\.|"
         r"mandatory parameters were not specified\s+OUTPUT_MANIFEST:\s+Task manifest"),  # qgis_process's own check
    Case("train: chosen factors misspelt (NDVI, lst)", "train",
         lambda d, o: {**_sm(d), "SELECTED_FACTORS": "NDVI, lst", "MODEL_TYPE": 2, "CV_FOLDS": 0,
                       "OUTPUT": str(o / "m.smdmodel")},
         r"The factor\(s\) NDVI, lst chosen to train on are not bands of the factor stack factors_20230601\.tif \(its "
         r"bands: ndvi, lst_day, landcover; did you mean ndvi for NDVI, lst_day for lst\?\)"),

    Case("validate: the estimate given as its own reference", "validate",
         lambda d, o: {"INPUT": d["estimate"], "REFERENCE": d["estimate"], "OUTPUT": str(o / "v.csv")},
         r"The reference .*validate/sm_1km_20230601\.tif is the estimate itself \(.*\): the comparison would be "
         r"perfect whatever the estimate holds"),
    Case("align: categorical name matching no input (a typo)", "align",
         lambda d, o: {"INPUTS": [d["scene"]["stacks"][0]], "REFERENCE": d["scene"]["stacks"][0],
                       "CATEGORICAL": "land_cover", "OUTPUT": str(o / "f.tif")},
         r"The categorical factor name\(s\) land_cover match no factor of the inputs \(their names: ndvi, lst_day, "
         r"landcover\)"),
    Case("downscale: neighbouring stacks all outside the temporal filling window", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["scene"]["stacks"][0], "SOIL_MOISTURE": d["scene"]["sm"][0],
                       "FILL_WINDOW_DAYS": 3, "NEIGHBOUR_FACTORS": [d["scene"]["stacks"][1]],
                       "OUTPUT": str(o / "sm.tif")},
         r"None of the neighbouring factor stacks lies within the 3-day temporal filling window of 2023-06-01 \(the "
         r"date of factors_20230601\.tif\): their dates are 2023-06-09, the nearest 8 days away"),
    Case("downscale: land cover of another legend than in training", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["other_legend_stack"], "SOIL_MOISTURE": d["scene"]["sm"][0],
                       "OUTPUT": str(o / "sm.tif")},
         r"The land cover factor landcover in factors_20230601\.tif has 100 % of its pixels in classes the model "
         r"was not trained on \(1, 2, 3\); the model knows the classes 10, 20, 30"),

    Case("downscale: output inside a zip given as /vsizip/", "downscale",
         lambda d, o: {"MODEL": d["model"], "FACTORS": d["scene"]["stacks"][0], "SOIL_MOISTURE": d["scene"]["sm"][0],
                       "OUTPUT": f"/vsizip/{o}/results.zip/sm.tif"},
         r"The output /vsizip/.*/results\.zip/sm\.tif is a GDAL virtual path or driver prefix .*; results are written "
         r"as plain files\. Give a path on disk, e\.g\. .*/sm\.tif; nothing was written\."),
    Case("downscale: model file inside a zip given as /vsizip/ text", "downscale",
         lambda d, o: {"MODEL": f"/vsizip/{d['zipped_model']}/cart.smdmodel", "FACTORS": d["scene"]["stacks"][0],
                       "SOIL_MOISTURE": d["scene"]["sm"][0], "OUTPUT": str(o / "sm.tif")},
         r"'Model file' \(MODEL\): /vsizip/.*/cart\.zip/cart\.smdmodel is a file inside an archive or a GDAL virtual "
         r"path; smdownscale reads files on disk only\. Extract it \(e\.g\. unzip the archive\) and give the "
         r"extracted file or folder\."),
    Case("train: number of trees given as 2.5", "train",
         lambda d, o: {**_sm(d), "N_ESTIMATORS": "2.5", "OUTPUT": str(o / "m.smdmodel")},
         r"'Number of trees \(random forest\)' \(N_ESTIMATORS\) is 2\.5; give a whole number\."),
    Case("validate: metrics path with a GDAL driver prefix (CSV:)", "validate",
         lambda d, o: {"INPUT": d["estimate"], "REFERENCE": d["reference_ll"], "OUTPUT": f"CSV:{o}/metrics.csv"},
         r"The output CSV:.*/metrics\.csv is a GDAL virtual path or driver prefix"),

    Case("fetchgee: extent typed xmin,ymin,xmax,ymax", "fetchgee",
         lambda d, o: {**FETCH, "EXTENT": "115.55,41.65,116.35,42.25 [EPSG:4326]", "OUTPUT": str(o / "gee")},
         r"The extent's latitudes run from 42\.25 to 116\.35, beyond 90 degrees .* An extent is written "
         r"xmin,xmax,ymin,ymax, both longitudes first"),
    Case("align: several rasters joined by ',' in one value", "align",
         lambda d, o: {"INPUTS": ",".join(d["scene"]["stacks"][:2]), "REFERENCE": d["scene"]["stacks"][0],
                       "OUTPUT": str(o / "f.tif")},
         r"'Factor rasters' \(INPUTS\) holds 2 file paths joined by ',' in one value; give each file as its own "
         r"value: in qgis_process repeat --INPUTS=<file> once per file"),

    Case("sampledata: a parameter name misspelt (N_DATE)", "sampledata",
         lambda d, o: {"SIZE_KM": 20, "N_DATE": 1, "OUTPUT": str(o / "sample")},
         r"Unknown parameter N_DATE \(did you mean N_DATES\?\) for smdownscale:sampledata; its parameters are SEED, "
         r"SIZE_KM, N_DATES, .* An unknown name would be ignored and the default used instead"),

    # -- cases: end
]


# -- running --------------------------------------------------------------------------------------

def _strings(params: dict) -> dict:
    return {k: v for k, v in params.items() if v is not None}


def _destination_keys(alg: str) -> list[str]:
    """The destination parameters (outputs, reports, coarse outputs, folders) of ``smdownscale:<alg>``."""
    found = QgsApplication.processingRegistry().algorithmById(f"smdownscale:{alg}")
    assert found is not None, alg
    return [d.name() for d in found.destinationParameterDefinitions()]


@dataclass
class Destinations:
    """Every destination a run was given (``case.outputs`` and each destination parameter present), and what
    stood at its path before the run (an input named as an output, a folder that exists)."""

    paths: dict[str, str]
    before: dict[str, Snapshot]

    @classmethod
    def of(cls, case: Case, params: dict, keys: list[str]) -> Destinations:
        paths = {k: params[k] for k in dict.fromkeys([*case.outputs, *keys]) if isinstance(params.get(k), str)}
        # a path in /proc (root's unwritable place) is neither walked nor read; nothing can be written there
        before = {k: Snapshot(p) for k, p in paths.items() if os.path.lexists(p) and not p.startswith("/proc/")}
        paths = {k: p for k, p in paths.items() if k in before or not os.path.lexists(p)}
        return cls(paths, before)

    def temporary_files(self) -> list[str]:
        out = []
        for folder in dict.fromkeys(os.path.dirname(p) for p in self.paths.values()):
            if os.path.isdir(folder) and os.access(folder, os.R_OK):
                out += [f for f in os.listdir(folder) if any(m in f for m in TEMP_MARKS)]
        return out


def _nothing_written(dests: Destinations) -> None:
    for key, path in dests.paths.items():
        if key in dests.before:  # stood there before: left exactly as it was
            new = [f for f in dests.before[key].new() if not f.endswith(".aux.xml")]  # QGIS's statistics of inputs
            assert dests.before[key].lost() == [] and new == [], f"{key}: {path} was written"
        else:
            assert not os.path.lexists(path), f"{key}: {path} was written"
    assert dests.temporary_files() == []


def _named_inputs(params: dict, input_files: list[str]) -> list[str]:
    """The inputs a case's parameters name: the files named, and every input below a folder named."""
    values = [v for value in params.values() for v in (value if isinstance(value, (list, tuple)) else [value])]
    named = {os.path.abspath(v) for v in values if isinstance(v, str) and v}
    return [f for f in input_files if f in named or any(f.startswith(n + os.sep) for n in named)]


class _Feedback(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def pushInfo(self, info):
        self.lines.append(info)

    def pushWarning(self, warning):
        self.lines.append(warning)

    def reportError(self, error, fatalError=False):  # noqa: N803
        self.lines.append(error)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    base = tmp_path_factory.mktemp("bad_inputs")
    d = _build_inputs(base)
    yield d
    if not ROOT and os.path.exists(d["unreadable"]):
        os.chmod(d["unreadable"], 0o644)


@pytest.fixture(scope="module")
def input_files(inputs) -> list[str]:
    """Every file and folder of the inputs as built, before any run: the inputs that must stay byte-identical
    (what runs add beside them, such as GDAL's .aux.xml statistics, is not an input)."""
    return list(Snapshot(inputs["base"]).digests)


#: No Earthdata Login credentials reach the runs (a user's ~/.netrc or variables would)
NO_EARTHDATA_LOGIN = {"NETRC": "/nonexistent/smd-no-netrc", "EARTHDATA_TOKEN": "", "EARTHDATA_USERNAME": "",
                      "EARTHDATA_PASSWORD": ""}


@pytest.fixture(scope="module")
def fake_ee(plugin):
    with FakeEarthEngine() as server, pytest.MonkeyPatch.context() as mp:
        mp.setenv("SMDOWNSCALE_EE_URL", server.url)
        mp.delenv("SMDOWNSCALE_EE_PROJECT", raising=False)
        for name, value in NO_EARTHDATA_LOGIN.items():  # nor Earthdata Login credentials from the environment
            mp.setenv(name, value) if value else mp.delenv(name, raising=False)
        QgsSettings().remove("smdownscale")
        yield server
        QgsSettings().remove("smdownscale")


@dataclass
class QgisProcessRun:
    params: dict
    result: Any  # qgisproc.Result
    destinations: Destinations
    lost: dict[str, str]  # inputs its parameters name that changed or vanished during the run: path -> shown as


@pytest.fixture(scope="module")
def qgis_process_results(request, inputs, input_files, fake_ee, tmp_path_factory):
    """Every selected case run once through qgis_process (two at a time): id -> QgisProcessRun.

    The inputs folder is checksummed before the first run and after the last; each run also checksums the
    inputs its parameters name, so a changed input is laid at the door of the case whose run changed it.
    """
    selected = {item.callspec.params["case"].id for item in request.session.items
                if getattr(item, "callspec", None) is not None and isinstance(item.callspec.params.get("case"), Case)}
    runners = queue.Queue()
    for k in range(WORKERS):  # one QGIS profile per worker: concurrent runs in one profile wait on its locks
        qp = QgisProcess(str(tmp_path_factory.mktemp(f"qp_profile{k}")))
        qp.env["SMDOWNSCALE_EE_URL"] = fake_ee.url
        qp.env.pop("SMDOWNSCALE_EE_PROJECT", None)
        for name, value in NO_EARTHDATA_LOGIN.items():
            qp.env[name] = value
            if not value:
                qp.env.pop(name)
        runners.put(qp)
    base = tmp_path_factory.mktemp("qp_outputs")
    keys = {c.alg: _destination_keys(c.alg) for c in CASES}  # the registry is read here, not in the workers
    all_inputs = Snapshot(*input_files, base=inputs["base"], walk=False)

    def one(i_case):
        i, case = i_case
        out = base / f"case{i:02d}"
        out.mkdir()
        params = _strings(case.params(inputs, out))
        dests = Destinations.of(case, params, keys[case.alg])
        named = Snapshot(*_named_inputs(params, input_files), base=inputs["base"], walk=False)
        qp = runners.get()
        try:
            result = qp.run(case.alg, params, timeout=300)
        finally:
            runners.put(qp)
        return case.id, QgisProcessRun(params, result, dests,
                                       {p: f"{named.name(p)} {how}" for p, how in named.changes().items()})

    with cf.ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = dict(pool.map(one, [(i, c) for i, c in enumerate(CASES) if c.id in selected]))
    attributed = {p for run in results.values() for p in run.lost}
    unattributed = [f"{all_inputs.name(p)} {how}" for p, how in all_inputs.changes().items() if p not in attributed]
    if unattributed:  # changed by a run that did not name it: counted, and the session fails
        record_loss(request.config, f"qgis_process runs changed inputs: {', '.join(unattributed)}",
                    f"{request.node.nodeid}::qgis_process_results")
    yield results
    if not ROOT:
        for folder in base.glob("*/read_only"):
            os.chmod(folder, 0o755)


@pytest.mark.parametrize("case", [pytest.param(case, marks=pytest.mark.bad_input(case.id), id=case.id)
                                  for case in CASES])
def test_bad_input(case, inputs, input_files, fake_ee, qgis_process_results, run, tmp_path, reliability):
    """Refused with the expected message, nothing written, every input byte-identical; or worked, by value."""
    qp = qgis_process_results[case.id]
    if qp.lost:  # recorded first, so a failure below cannot hide it
        reliability.lost("the qgis_process run changed its inputs", qp.lost.values())
    reliability.watch(*input_files, label="inputs (processing.run)", base=inputs["base"], walk=False)  # at the end
    pixel_requests = len(fake_ee.requests_to("computePixels"))
    # processing.run
    params = _strings(case.params(inputs, tmp_path))
    dests = Destinations.of(case, params, _destination_keys(case.alg))
    feedback = _Feedback()
    expect = case.expect(inputs) if callable(case.expect) else case.expect
    if expect:
        with pytest.raises(QgsProcessingException) as err:
            run(f"smdownscale:{case.alg}", params, feedback=feedback)
        shown = str(err.value)
        if case.alg in MODELS:  # a model says which step failed; the step's own message is in the log
            assert re.search(r"Error encountered while running ", shown), shown
            shown = "\n".join(feedback.lines)
        assert re.search(expect, shown), shown
        _nothing_written(dests)
        if case.after:
            case.after(inputs)
    else:
        results = run(f"smdownscale:{case.alg}", params, feedback=feedback)
        case.check(inputs, params, results, "\n".join(feedback.lines))
        assert dests.temporary_files() == []

    # qgis_process, the command-line runner schedulers use
    res = qp.result
    text = res.stdout + res.stderr
    if expect:
        assert res.returncode != 0, text[-3000:]
        assert re.search(expect, text), text[-3000:]
        assert "Traceback" not in text, text[-3000:]
        _nothing_written(qp.destinations)
        if case.after:
            case.after(inputs)
    else:
        assert res.returncode == 0, text[-3000:]
        case.check(inputs, qp.params, res.results, text)
        assert qp.destinations.temporary_files() == []
    if case.alg == "fetchgee":
        assert len(fake_ee.requests_to("computePixels")) == pixel_requests
    if not ROOT and (tmp_path / "read_only").exists():
        os.chmod(tmp_path / "read_only", 0o755)


def test_matrix_covers_every_algorithm():
    assert len(CASES) >= 30
    assert {c.alg for c in CASES} == {"sampledata", "align", "screen", "train", "downscale", "validate", "fetchgee",
                                      "downscalegee", "importsmap", *MODELS}


@pytest.mark.bad_input("align: raster inside a zip given as /vsizip/ text")
def test_raster_inside_a_zip_is_refused(inputs, run, tmp_path, reliability):
    """Refused before QGIS loads it, the archive unchanged. Through processing.run only: qgis_process of QGIS 3.40
    opens a layer given as text while it parses the command line, before any algorithm code runs, and GDAL then
    writes its statistics into the archive."""
    archive = tmp_path / "factors_20230601.zip"
    shutil.copyfile(inputs["zipped_stack"], archive)
    reliability.watch(str(archive), label="the archive")
    out = tmp_path / "out" / "f.tif"
    with pytest.raises(QgsProcessingException, match=r"'Factor rasters' \(INPUTS\): /vsizip/.*factors_20230601\.zip/"
                       r"factors_20230601\.tif is a file inside an archive or a GDAL virtual path; smdownscale reads "
                       r"rasters from files on disk only \(reading through an archive can write into it\)\. Extract "
                       r"the raster to a GeoTIFF file"):
        run("smdownscale:align", {"INPUTS": [f"/vsizip/{archive}/factors_20230601.tif"],
                                  "REFERENCE": inputs["scene"]["stacks"][0], "OUTPUT": str(out)})
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


@pytest.mark.bad_input("validate: a folder named without a '/' as the estimate")
def test_folder_named_without_a_slash_is_called_a_folder(inputs, run, tmp_path, monkeypatch):
    """'INPUT=out' from the folder holding out/: the message says it is a folder, as for 'out/' or a list."""
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(QgsProcessingException, match=r"(^|\n)out is a folder, not a raster file GDAL can read\. "
                       r"Choose the raster file itself\.$"):
        run("smdownscale:validate", {"INPUT": "out", "REFERENCE": inputs["reference_ll"],
                                     "OUTPUT": str(tmp_path / "metrics.csv")})
    assert sorted(os.listdir(tmp_path)) == ["out"] and os.listdir(tmp_path / "out") == []


@pytest.mark.bad_input("manifest: entry pointing outside its folder (engine)")
def test_manifest_entry_pointing_outside_its_folder(tmp_path):
    """The manifest reader refuses every kind of escape (train and screen take manifests: see the matrix)."""
    folder = tmp_path / "gee"
    (folder / "smap").mkdir(parents=True)
    outside = tmp_path / "elsewhere" / "factors_20230601.tif"
    outside.parent.mkdir()
    for p in (folder / "smap" / "smap_20230601.tif", outside):
        p.write_bytes(b"x")
    path = write_manifest(str(folder / "manifest.json"), [{"date": "2023-06-01", "smap": "smap/smap_20230601.tif",
                                                           "factors": "smap/smap_20230601.tif"}], {}, {}, {})
    doc = json.loads(pathlib.Path(path).read_text())
    for bad in ("../elsewhere/factors_20230601.tif", str(outside), "smap/../../elsewhere/factors_20230601.tif"):
        doc["files"][0]["factors"] = bad
        pathlib.Path(path).write_text(json.dumps(doc))
        with pytest.raises(InputError, match=r"a manifest may only name files inside its own folder"):
            manifest_inputs(path)
    os.symlink(outside, folder / "smap" / "link.tif")
    doc["files"][0]["factors"] = "smap/link.tif"
    pathlib.Path(path).write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"points outside the manifest's folder"):
        manifest_inputs(path)


def test_the_crafted_model_file_names_its_payload_class(inputs):
    """The crafted file really is a skops archive naming the payload class (so the refusal above is meaningful)."""
    with zipfile.ZipFile(inputs["payload_model"]) as zf:
        schema = json.loads(zf.read("schema.json"))
    assert "Payload" in json.dumps(schema)
    assert any(t.endswith(".Payload") for t in sio.get_untrusted_types(file=inputs["payload_model"]))
