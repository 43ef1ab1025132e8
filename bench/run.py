"""``make bench``: the chain on an Inner-Mongolia-sized scene, timed next to the obvious alternatives.

Usage::

    .venv/bin/python bench/run.py --out out/bench            # full run (~4 Mpx, 10 factors)
    .venv/bin/python bench/run.py --out /tmp/b --quick       # smoke run on a tiny scene (seconds)

The scene (``smdownscale:sampledata`` at ``--size-km``, one date, plus a 500 m albedo raster so the
stack holds 10 factors) is generated once and cached under ``<out>/scene``. Every measured step runs
in its own Python subprocess (``<this file> --child STEP``) so steps do not share caches or memory;
the parent reads each child's peak resident memory and CPU time from ``os.wait4`` (which includes
the child's own children, e.g. the gdalwarp commands). Wall time is the time of the work inside
the child (imports excluded, as in a running QGIS); ``process_s`` is the whole subprocess.

Rows: align (ours vs gdalwarp), aggregate to the SMAP grid (ours vs gdalwarp -r average), train
(every model type and auto, ``--models``, on coarse pairs pooled over ``--train-dates`` synthetic dates),
downscale (ours, with and without residual correction, vs scikit-learn's plain ``predict`` on the whole
array with ``n_jobs=-1``; one day with every other model type; scikit-learn's own SVR ``predict``
extrapolated from a sample of pixels, next to ours on the same pixels), validate; the scaling curve (downscale
at 1/16, 1/4 and all of the scene) and the estimate for 365 dates. Results: a table on stdout,
``<out>/results.json`` and ``<out>/results.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
from plugin_path import import_engine as _import_engine  # noqa: E402

SCENE_VERSION = 1
GTIFF_CO = ["TILED=YES", "COMPRESS=DEFLATE", "PREDICTOR=3", "BIGTIFF=IF_SAFER", "NUM_THREADS=2"]


# ---------------------------------------------------------------------------------------------
# making the checkout importable as ``smdownscale`` (as tests/conftest.py does)

# ---------------------------------------------------------------------------------------------
# child steps: each runs in its own process and returns a dict (``work_s`` = time of the work)

def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def step_align_ours(spec: dict) -> dict:
    from smdownscale.algorithms import align
    from smdownscale.algorithms.raster import Grid

    grid = Grid.from_path(spec["reference"])
    before = _rss_mb()
    res, secs = _timed(lambda: align.align_rasters(spec["inputs"], grid, spec["output"]))
    return {"work_s": secs, "pixels": grid.size, "rss_before_mb": before, "names": res.names,
            "resampling": res.resampling, "sources": res.sources}


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} failed: {proc.stderr.strip()}")


def _grid_args(spec: dict) -> list[str]:
    xmin, ymin, xmax, ymax = spec["extent"]
    return ["-t_srs", spec["srs_file"], "-te", repr(xmin), repr(ymin), repr(xmax), repr(ymax),
            "-ts", str(spec["width"]), str(spec["height"])]


def step_align_gdalwarp(spec: dict) -> dict:
    """gdalwarp (to a warped VRT) per input with our resampling, gdalbuildvrt -separate, gdal_translate."""
    work = spec["workdir"]
    os.makedirs(work, exist_ok=True)
    t0 = time.perf_counter()
    vrts = []
    for i, (path, method) in enumerate(zip(spec["inputs"], spec["methods"])):
        vrt = os.path.join(work, f"warp_{i:02d}.vrt")
        _run(["gdalwarp", "-q", "-overwrite", "-of", "VRT", *_grid_args(spec), "-r", method, "-ot", "Float32",
              "-dstnodata", "-9999", "-multi", "-wo", "NUM_THREADS=ALL_CPUS", path, vrt])
        vrts.append(vrt)
    stack = os.path.join(work, "stack.vrt")
    _run(["gdalbuildvrt", "-q", "-overwrite", "-separate", stack, *vrts])
    co = [a for c in GTIFF_CO for a in ("-co", c)]
    _run(["gdal_translate", "-q", *co, stack, spec["output"]])
    return {"work_s": time.perf_counter() - t0, "pixels": spec["width"] * spec["height"],
            "commands": ["gdalwarp -of VRT -r <method> (per input)", "gdalbuildvrt -separate",
                         "gdal_translate -co " + " -co ".join(GTIFF_CO)]}


def step_aggregate_ours(spec: dict) -> dict:
    from smdownscale.algorithms import align
    from smdownscale.algorithms.raster import Grid

    coarse = Grid.from_path(spec["coarse"])
    before = _rss_mb()
    _, secs = _timed(lambda: align.aggregate_stack(spec["stack"], coarse, spec["output"]))
    return {"work_s": secs, "pixels": spec["pixels"], "rss_before_mb": before}


def step_aggregate_gdalwarp(spec: dict) -> dict:
    t0 = time.perf_counter()
    co = [a for c in GTIFF_CO for a in ("-co", c)]
    _run(["gdalwarp", "-q", "-overwrite", *_grid_args(spec), "-r", "average", "-ot", "Float32", "-dstnodata",
          "-9999", "-multi", "-wo", "NUM_THREADS=ALL_CPUS", *co, spec["stack"], spec["output"]])
    return {"work_s": time.perf_counter() - t0, "pixels": spec["pixels"],
            "commands": ["gdalwarp -r average -multi -wo NUM_THREADS=ALL_CPUS"]}


def step_train(spec: dict) -> dict:
    from smdownscale.algorithms import train

    before = _rss_mb()
    params = spec.get("params") or None
    request = train.TrainRequest(spec["smap"], spec["stacks"], spec["output"], spec["model_type"], params=params,
                                 cv_folds=spec["cv_folds"], seed=spec["seed"],
                                 search_seconds=spec.get("search_seconds", 0.0))
    res, secs = _timed(lambda: train.train_model(request))
    auto = res.meta.get("auto") or {}
    search = res.meta.get("search") or {}
    return {"work_s": secs, "samples": int(res.meta["n_samples"]), "fit_samples": int(res.meta["fit_samples"]),
            "features": len(res.meta["features"]), "rss_before_mb": before, "model_type": res.meta["model_type"],
            "support_vectors": res.meta.get("support_vectors"),
            "file_mb": os.path.getsize(spec["output"]) / 2**20,
            "auto_winner": auto.get("winner"), "search_budget_s": search.get("budget_s"),
            "auto_candidates": [{"model_type": c["model_type"], "cv_rmse": c.get("rmse"),
                                 "transfer_rmse": (c.get("transfer") or {}).get("pooled", {}).get("rmse"),
                                 "transfer_folds": len((c.get("transfer") or {}).get("fold_rmse", [])),
                                 "cv_s": c.get("seconds"), "ranking": c.get("ranking")}
                                for c in auto.get("candidates", [])],
            "search_elapsed_s": search.get("elapsed_s"),
            "cv_spatial": {k: res.metrics.get(k) for k in ("r", "rmse", "ubrmsd")} if spec["cv_folds"] else None}


def step_downscale_ours(spec: dict) -> dict:
    import sklearn.ensemble  # noqa: F401 - imported before timing, as in a running QGIS

    from smdownscale.algorithms import downscale, native

    if spec.get("native") is False:  # the scikit-learn backend, as without the compiled tree walker
        os.environ[native.ENV_SWITCH] = "0"
    before = _rss_mb()

    def call() -> Any:
        return downscale.downscale(spec["model"], spec["stack"], spec["output"], coarse_sm=spec.get("smap"),
                                   residual=spec["residual"])

    load_s = None
    if spec.get("warm") and hasattr(downscale, "reuse_models"):
        # the model is already loaded, as for every date after the first of a series
        with downscale.reuse_models():
            _, load_s = _timed(lambda: downscale._load(spec["model"]))
            res, secs = _timed(call)
    else:
        res, secs = _timed(call)
    return {"work_s": secs, "pixels": spec["pixels"], "valid": int(res.n_valid), "rss_before_mb": before,
            "mean": res.mean, "max_cell_deviation": res.max_cell_deviation, "model_load_s": load_s,
            "tree_backend": native.status(), "prediction_backend": res.prediction_backend}


def step_downscale_sklearn(spec: dict) -> dict:
    """The plain approach: read the whole stack, one ``predict`` (n_jobs=-1) on all valid pixels, write."""
    import numpy as np
    import sklearn.ensemble  # noqa: F401 - imported before timing, as in a running QGIS

    from smdownscale.algorithms import raster
    from smdownscale.algorithms.features import FactorSpec, fine_design
    from smdownscale.algorithms.model_io import load_model
    from smdownscale.algorithms.raster import select_bands

    before = _rss_mb()
    t0 = time.perf_counter()
    est, meta = load_model(spec["model"])
    specs = [FactorSpec.from_dict(d) for d in meta["factors"]]
    est.set_params(n_jobs=-1)
    ds = raster.open_raster(spec["stack"])
    grid = raster.Grid.from_dataset(ds)
    data = raster.read_block(ds, 0, grid.height, select_bands(ds, [s.name for s in specs]))
    x, valid = fine_design(data, specs)
    del data
    out = np.full(valid.shape, np.nan, dtype=np.float32)
    out[valid] = est.predict(x)
    raster.write_raster(spec["output"], grid, out, names=["soil_moisture"])
    return {"work_s": time.perf_counter() - t0, "pixels": grid.size, "valid": int(valid.sum()),
            "rss_before_mb": before}


def step_load_model(spec: dict) -> dict:
    """Loading the model file alone (part of every downscale run)."""
    import sklearn.ensemble  # noqa: F401 - imported before timing, as in a running QGIS

    from smdownscale.algorithms.model_io import load_model

    before = _rss_mb()
    (est, _), secs = _timed(lambda: load_model(spec["model"]))
    nodes = sum(int(t.tree_.node_count) for t in getattr(est, "estimators_", []))
    return {"work_s": secs, "rss_before_mb": before, "file_mb": os.path.getsize(spec["model"]) / 2**20,
            "tree_nodes": nodes}


def step_load_compiled(spec: dict) -> dict:
    """Reading the model file straight into the compiled walker's arrays (what downscale does for tree models)."""
    import sklearn.ensemble  # noqa: F401 - imported before timing, as in a running QGIS

    from smdownscale.algorithms.model_io import load_compiled

    before = _rss_mb()
    found, secs = _timed(lambda: load_compiled(spec["model"]))
    if found is None:
        raise RuntimeError(f"{spec['model']} is not a tree model the compiled walker reads")
    return {"work_s": secs, "rss_before_mb": before, "file_mb": os.path.getsize(spec["model"]) / 2**20,
            "inner_nodes": int(found[0].nodes.size), "array_mb": found[0].nbytes / 2**20}


def step_predict_sample(spec: dict) -> dict:
    """scikit-learn's own ``predict`` of a model on ``n`` valid pixels from the middle of the stack, extrapolated
    to the scene, and how far our Predictor (e.g. the compiled SVR kernel) is from it on those pixels."""
    import numpy as np
    import sklearn.ensemble  # noqa: F401 - imported before timing, as in a running QGIS

    from smdownscale.algorithms import inference, raster
    from smdownscale.algorithms.features import FactorSpec, fine_design
    from smdownscale.algorithms.model_io import load_model
    from smdownscale.algorithms.raster import select_bands

    est, meta = load_model(spec["model"])
    specs = [FactorSpec.from_dict(d) for d in meta["factors"]]
    ds = raster.open_raster(spec["stack"])
    grid = raster.Grid.from_dataset(ds)
    need = int(spec["n"])
    rows = max(1, min(grid.height, 4 * need // max(grid.width, 1) + 1))
    block = raster.read_block(ds, max(0, (grid.height - rows) // 2), rows,
                              select_bands(ds, [s.name for s in specs]))
    x, _ = fine_design(block, specs)
    x = x[:need]
    before = _rss_mb()
    expected, secs = _timed(lambda: np.asarray(est.predict(x)))
    per_px = secs / max(1, x.shape[0])
    predictor = inference.Predictor(est)
    predictor.predict(x[:64])  # the library loaded, as in a running downscale
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    ours, ours_s = _timed(lambda: predictor.predict(x))
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    ours_cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)  # both threads
    diff = float(np.max(np.abs(ours - expected))) if x.shape[0] else 0.0
    return {"work_s": secs, "pixels": int(x.shape[0]), "rss_before_mb": before, "s_per_mpx": per_px * 1e6,
            "extrapolated_s": per_px * spec["full_valid"], "support_vectors": _n_support(est),
            "ours_backend": predictor.backend, "ours_max_abs_diff": diff, "ours_s": ours_s,
            "ours_extrapolated_s": ours_s / max(1, x.shape[0]) * spec["full_valid"], "ours_cpu_s": ours_cpu,
            "ours_extrapolated_cpu_s": ours_cpu / max(1, x.shape[0]) * spec["full_valid"]}


def _n_support(est: Any) -> int | None:
    steps = getattr(est, "named_steps", None)
    svr = steps.get("svr") if steps else est
    sv = getattr(svr, "support_", None)
    return int(sv.size) if sv is not None else None


def step_validate(spec: dict) -> dict:
    from smdownscale.algorithms import validate

    before = _rss_mb()
    res, secs = _timed(lambda: validate.validate(spec["estimate"], reference=spec["reference"]))
    ref = res["reference"]
    return {"work_s": secs, "pixels": spec["pixels"], "rss_before_mb": before,
            "metrics": {k: ref[k] for k in ("n", "r", "rmse", "bias", "ubrmsd")}}


def step_year(spec: dict) -> dict:
    """Downscale several dates in one process with one model, as a user's series run does (the series
    engine when present); per-date times come from the progress reports at date boundaries."""
    import sklearn.ensemble  # noqa: F401 - imported before timing, as in a running QGIS

    from smdownscale.algorithms import downscale

    try:
        from smdownscale.algorithms.series import downscale_series
    except ImportError:
        downscale_series = None
    n = len(spec["stacks"])
    marks: list[float] = []
    t0 = time.perf_counter()

    def progress(frac: float) -> None:
        while len(marks) < n and frac >= (len(marks) + 1) / n - 1e-9:
            marks.append(time.perf_counter() - t0)

    if downscale_series is not None:
        downscale_series(spec["model"], spec["stacks"], spec["smaps"], spec["out_dir"], residual="constant",
                         progress=progress)
        api = "series.downscale_series"
    else:
        for i, (stack, smap) in enumerate(zip(spec["stacks"], spec["smaps"])):
            out = os.path.join(spec["out_dir"], f"sm_{i}.tif")
            downscale.downscale(spec["model"], stack, out, coarse_sm=smap, residual="constant",
                                progress=lambda f, i=i: progress((i + f) / n))
        api = "downscale.downscale per date"
    total = time.perf_counter() - t0
    if len(marks) < n:
        marks = [total * (k + 1) / n for k in range(n)]
    times = [b - a for a, b in zip([0.0] + marks[:-1], marks)]
    steady = times[1:] if len(times) > 1 else times
    return {"work_s": total, "pixels": spec["pixels"] * n, "per_date_s": times,
            "steady_per_date_s": sum(steady) / len(steady), "api": api}


CHILD_STEPS: dict[str, Callable[[dict], dict]] = {
    "align_ours": step_align_ours,
    "align_gdalwarp": step_align_gdalwarp,
    "aggregate_ours": step_aggregate_ours,
    "aggregate_gdalwarp": step_aggregate_gdalwarp,
    "train": step_train,
    "downscale_ours": step_downscale_ours,
    "downscale_sklearn": step_downscale_sklearn,
    "predict_sample": step_predict_sample,
    "load_model": step_load_model,
    "load_compiled": step_load_compiled,
    "validate": step_validate,
    "year": step_year,
}


def _child(step: str, spec_path: str, result_path: str) -> int:
    _import_engine()
    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    result = CHILD_STEPS[step](spec)
    result["peak_rss_self_mb"] = _rss_mb()
    with open(result_path, "w", encoding="utf-8") as fh:
        json.dump(result, fh)
    return 0


# ---------------------------------------------------------------------------------------------
# the parent: measurement of one child

#: Runs argv[2:] and writes its exit status, CPU time and peak RSS (including its children) to argv[1].
_LAUNCHER = """
import json, os, subprocess, sys
p = subprocess.Popen(sys.argv[2:])
_, status, ru = os.wait4(p.pid, 0)
with open(sys.argv[1], "w") as fh:
    json.dump({"status": os.waitstatus_to_exitcode(status), "cpu_s": ru.ru_utime + ru.ru_stime,
               "maxrss_kb": ru.ru_maxrss}, fh)
"""

class Bench:
    def __init__(self, out: str, verbose: bool = True, repeat: int = 1) -> None:
        self.out = out
        self.repeat = repeat
        self.work = os.path.join(out, "work")
        self.rows: list[dict] = []
        self.verbose = verbose
        os.makedirs(self.work, exist_ok=True)

    def measure(self, row: str, step: str, spec: dict, repeat: int | None = None, **fields: Any) -> dict:
        """Run ``step`` in a subprocess ``repeat`` times (default: the bench's ``--repeat``); record the
        fastest run's wall (work) time, CPU time and peak RSS as row ``row`` (all wall times are kept)."""
        runs = [self._measure_once(row, step, spec, **fields) for _ in range(max(1, repeat or self.repeat))]
        best = min(runs, key=lambda r: r["wall_s"])
        best["runs_wall_s"] = [r["wall_s"] for r in runs]
        self.rows.append(best)
        if self.verbose:
            print(f"  {row:<34s} {best['wall_s']:8.2f} s  {best['peak_rss_mb']:7.0f} MB"
                  + (f"  (runs: {', '.join(f'{w:.1f}' for w in best['runs_wall_s'])})" if len(runs) > 1 else ""),
                  flush=True)
        return best

    def _measure_once(self, row: str, step: str, spec: dict, **fields: Any) -> dict:
        tag = row.replace("/", "_").replace(" ", "_")
        spec_path = os.path.join(self.work, f"spec_{tag}.json")
        result_path = os.path.join(self.work, f"result_{tag}.json")
        log_path = os.path.join(self.work, f"log_{tag}.txt")
        with open(spec_path, "w", encoding="utf-8") as fh:
            json.dump(spec, fh)
        if os.path.exists(result_path):
            os.remove(result_path)
        usage_path = os.path.join(self.work, f"usage_{tag}.json")
        cmd = [sys.executable, os.path.abspath(__file__), "--child", step, "--spec", spec_path, "--result", result_path]
        t0 = time.perf_counter()
        with open(log_path, "w", encoding="utf-8") as log:
            # A small launcher forks the step: a forked child starts with the forking process's memory
            # high-water mark, so forking from this (large) process would inflate every peak.
            code = subprocess.call([sys.executable, "-S", "-c", _LAUNCHER, usage_path, *cmd], stdout=log,
                                   stderr=subprocess.STDOUT, cwd=ROOT)
        process_s = time.perf_counter() - t0
        usage = {}
        if os.path.exists(usage_path):
            with open(usage_path, encoding="utf-8") as fh:
                usage = json.load(fh)
        if code != 0 or usage.get("status") != 0 or not os.path.exists(result_path):
            with open(log_path, encoding="utf-8") as fh:
                tail = fh.read()[-3000:]
            raise RuntimeError(f"benchmark step {row} failed (exit {usage.get('status', code)}):\n{tail}")
        with open(result_path, encoding="utf-8") as fh:
            res = json.load(fh)
        wall = float(res.pop("work_s"))
        pixels = int(res.pop("pixels", 0))
        rec = {"row": row, "wall_s": wall, "process_s": process_s, "cpu_s": usage["cpu_s"],
               "peak_rss_mb": usage["maxrss_kb"] / 1024.0, "pixels": pixels,
               "mpx_per_s": (pixels / 1e6 / wall) if wall > 0 and pixels else None, **fields, **res}
        return rec

    def row(self, name: str) -> dict | None:
        return next((r for r in self.rows if r["row"] == name), None)


# ---------------------------------------------------------------------------------------------
# setup (not measured): scene, extra factor, synthetic training dates, crops

def _scene(out: str, size_km: int, seed: int) -> dict:
    """The cached scene: sample scene of one date plus a 500 m albedo raster. Returns paths."""
    _import_engine()
    import numpy as np

    from smdownscale.algorithms import raster, sample
    from smdownscale.algorithms.raster import Grid

    scene_dir = os.path.join(out, "scene")
    extra_dir = os.path.join(out, "scene_extra")
    key = {"version": SCENE_VERSION, "size_km": size_km, "seed": seed}
    key_path = os.path.join(out, "scene_key.json")
    cached = False
    if os.path.exists(key_path) and os.path.exists(os.path.join(scene_dir, "scene.json")):
        with open(key_path, encoding="utf-8") as fh:
            cached = json.load(fh) == key and os.path.exists(os.path.join(extra_dir, "albedo.tif"))
    if not cached:
        print(f"generating the scene ({size_km} x {size_km} km, cached in {scene_dir}) ...", flush=True)
        for d in (scene_dir, extra_dir):
            shutil.rmtree(d, ignore_errors=True)
        if os.path.exists(key_path):
            os.remove(key_path)
        sample.make_sample(scene_dir, seed=seed, size_km=size_km, n_dates=1)
        fine = Grid.from_path(os.path.join(scene_dir, "static", "elevation.tif"))
        lc = raster.read_all(os.path.join(scene_dir, "static", "landcover.tif"))[0]
        ndvi = raster.read_all(os.path.join(scene_dir, "dynamic", "ndvi_20230601.tif"))[0]
        rng = np.random.default_rng([seed, 991])
        base = np.full(lc.shape, 0.20, dtype=np.float32)
        for cls, val in ((10, 0.17), (30, 0.12), (40, 0.27), (50, 0.22), (80, 0.06)):
            base[lc == cls] = val
        base -= 0.08 * np.nan_to_num(ndvi, nan=0.2)
        fine500 = np.repeat(np.repeat(base, 2, axis=0), 2, axis=1)
        fine500 = np.pad(fine500, ((0, 1), (0, 1)), mode="edge")
        fine500 = (fine500 + 0.01 * rng.standard_normal(fine500.shape, dtype=np.float32)).astype(np.float32)
        x0, _, _, y0, _, _ = fine.transform
        grid500 = Grid(fine.crs_wkt, (x0 - 250.0, 500.0, 0.0, y0 + 250.0, 0.0, -500.0), fine500.shape[1],
                       fine500.shape[0])
        os.makedirs(extra_dir, exist_ok=True)
        raster.write_raster(os.path.join(extra_dir, "albedo.tif"), grid500, fine500, names=["albedo"])
        with open(key_path, "w", encoding="utf-8") as fh:
            json.dump(key, fh)
    with open(os.path.join(scene_dir, "scene.json"), encoding="utf-8") as fh:
        meta = json.load(fh)
    date = meta["dates"][0]
    tag = date.replace("-", "")
    static = [os.path.join(scene_dir, "static", f"{n}.tif") for n in sample.STATIC_FACTORS]
    dynamic = [os.path.join(scene_dir, "dynamic", f"{n}_{tag}.tif") for n in sample.DYNAMIC_FACTORS]
    return {"dir": scene_dir, "date": date, "tag": tag, "cached": cached,
            "inputs": static + [os.path.join(extra_dir, "albedo.tif")] + dynamic,
            "reference": static[0], "smap": os.path.join(scene_dir, "smap", f"smap_{tag}.tif"),
            "truth": os.path.join(scene_dir, "truth", f"truth_{tag}.tif"), "relation": meta["relation"]}


def _training_dates(work: str, coarse_stack: str, n_dates: int, seed: int) -> tuple[list[str], list[str]]:
    """``n_dates`` coarse stacks and SMAP rasters on the SMAP grid, synthesized from one coarse stack.

    Dynamic factors get per-date shifts and smooth anomalies; SMAP follows the sample scene's
    generating relation plus noise; vv/vh follow it as in the scene. Cheap: coarse grid only.
    """
    _import_engine()
    import numpy as np

    from smdownscale.algorithms import raster, sample
    from smdownscale.algorithms.raster import Grid

    folder = os.path.join(work, "train_dates")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    ds = raster.open_raster(coarse_stack)
    grid = Grid.from_dataset(ds)
    names = raster.band_names(ds)
    kinds = raster.band_kinds(ds)
    base = {n: a.astype(np.float64) for n, a in zip(names, raster.read_block(ds, 0, grid.height))}
    start = dt.date(2023, 4, 1)
    labels = [(start + dt.timedelta(days=t)).isoformat() for t in range(n_dates)]
    relation = sample.default_relation(seed, labels)
    shape = (grid.height, grid.width)
    smaps, stacks = [], []
    for t, label in enumerate(labels):
        rng = np.random.default_rng([seed, 1234, t])
        f = dict(base)
        f["ndvi"] = base["ndvi"] + rng.normal(0, 0.04) + 0.03 * sample.smooth_noise(rng, shape, 3)
        f["lst_day"] = base["lst_day"] + rng.normal(0, 3.0) + 1.5 * sample.smooth_noise(rng, shape, 4)
        f["lst_night"] = base["lst_night"] + rng.normal(0, 2.0) + 1.0 * sample.smooth_noise(rng, shape, 4)
        wet = rng.normal(0, 0.4) + 0.3 * sample.smooth_noise(rng, shape, 5)
        f["precipitation"] = base["precipitation"] * np.exp(wet)
        f["albedo"] = base["albedo"] + rng.normal(0, 0.01)
        sm = sample.generating_relation(f, t, relation, clip=False) + 0.01 * sample.smooth_noise(rng, shape, 2)
        sm = np.clip(sm, *sample.SM_RANGE)
        f["vv"] = -19.0 + 25.0 * sm + 2.0 * f["ndvi"] + 0.5 * rng.standard_normal(shape)
        f["vh"] = f["vv"] - 8.0 + 4.0 * f["ndvi"] + 0.4 * rng.standard_normal(shape)
        tag = label.replace("-", "")
        smap = sm + 0.004 * rng.standard_normal(shape)
        smaps.append(raster.write_raster(os.path.join(folder, f"smap_{tag}.tif"), grid, smap.astype(np.float32),
                                         names=["smap"]))
        data = np.stack([f[n] for n in names]).astype(np.float32)
        stacks.append(raster.write_raster(os.path.join(folder, f"factors_{tag}.tif"), grid, data, names=names,
                                          kinds=kinds))
    return smaps, stacks


def _crop(src: str, dst: str, size: int) -> str:
    """A centered ``size`` x ``size`` window of ``src`` as a GeoTIFF with the engine's creation options."""
    from osgeo import gdal

    ds = gdal.Open(src)
    x0 = max(0, (ds.RasterXSize - size) // 2)
    y0 = max(0, (ds.RasterYSize - size) // 2)
    gdal.Translate(dst, ds, srcWin=[x0, y0, min(size, ds.RasterXSize), min(size, ds.RasterYSize)],
                   creationOptions=GTIFF_CO)
    return dst


def _agreement(a: str, b: str) -> dict:
    """Largest absolute difference and count of pixels valid in one file only, over all bands."""
    import numpy as np

    from smdownscale.algorithms import raster

    da, db = raster.open_raster(a), raster.open_raster(b)
    worst, mismatch = 0.0, 0
    rows = raster.block_rows_for(da.RasterXSize, da.RasterCount)
    for row0, nrows in raster.iter_blocks(da.RasterYSize, rows):
        xa = raster.read_block(da, row0, nrows)
        xb = raster.read_block(db, row0, nrows)
        both = np.isfinite(xa) & np.isfinite(xb)
        mismatch += int(np.count_nonzero(np.isfinite(xa) != np.isfinite(xb)))
        if both.any():
            worst = max(worst, float(np.max(np.abs(xa[both].astype(np.float64) - xb[both]))))
    return {"max_abs_diff": worst, "valid_mismatch_px": mismatch}


# ---------------------------------------------------------------------------------------------
# machine and report

def _machine() -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            mem_gb = round(int(fh.readline().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    versions: dict[str, str] = {"python": platform.python_version()}
    for mod in ("numpy", "scipy", "sklearn", "osgeo.gdal", "skops"):
        try:
            m = __import__(mod, fromlist=["_"])
            versions[mod.split(".")[-1]] = getattr(m, "__version__", "")
        except ImportError:
            versions[mod] = "missing"
    return {"cores": os.cpu_count(), "cpu_model": model, "memory_gb": mem_gb, "platform": platform.platform(),
            "versions": versions, "loadavg_start": list(os.getloadavg())}


def _ratio(a: dict | None, b: dict | None, key: str = "wall_s") -> float | None:
    if not a or not b or not b.get(key):
        return None
    return a[key] / b[key]


def _fmt(v: Any, nd: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "-"
        return f"{v:.{nd}f}"
    return str(v)


#: Model types with a train row and a downscale-day row (auto: train only; its winner is one of the others).
MODEL_ROWS = ("rf", "svr", "cart", "gbr", "extratrees", "linear_gbr", "auto")


def _model_rows(bench: Bench) -> list[dict]:
    out = []
    for r in bench.rows:
        if not r["row"].startswith("train/"):
            continue
        mtype = r["row"].split("/", 1)[1]
        if "-" in mtype:  # rf-cv5, rf-search: the same model type, other settings
            continue
        day = bench.row("downscale/ours" if mtype == "rf" else f"downscale/ours-{mtype}")
        out.append({"model": mtype, "trained": r.get("model_type"), "train_s": r["wall_s"],
                    "train_peak_mb": r["peak_rss_mb"], "fit_samples": r.get("fit_samples"),
                    "support_vectors": r.get("support_vectors"), "file_mb": r.get("file_mb"),
                    "day_s": day["wall_s"] if day else None, "day_cpu_s": day["cpu_s"] if day else None,
                    "day_peak_mb": day["peak_rss_mb"] if day else None,
                    "backend": day.get("prediction_backend") if day else None})
    return out


def _models_md(rows: list[dict]) -> str:
    lines = ["| model | train s | train peak MB | day s | day CPU s | day peak MB | prediction | notes |",
             "|---|---:|---:|---:|---:|---:|---|---|"]
    for r in rows:
        notes = []
        if r["support_vectors"]:
            notes.append(f"{r['support_vectors']} support vectors ({r['fit_samples']} samples)")
        if r["model"] == "auto":
            notes.append(f"kept {r['trained']}")
        lines.append(f"| {r['model']} | {_fmt(r['train_s'])} | {_fmt(r['train_peak_mb'], 0)} | {_fmt(r['day_s'])} | "
                     f"{_fmt(r['day_cpu_s'], 1)} | {_fmt(r['day_peak_mb'], 0)} | {r['backend'] or '-'} | "
                     f"{'; '.join(notes)} |")
    return "\n".join(lines)


def _table(rows: list[dict]) -> str:
    head = "| step | wall s | CPU s | peak RSS MB | Mpx/s | ours / baseline |"
    lines = [head, "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['row']} | {_fmt(r['wall_s'])} | {_fmt(r['cpu_s'], 1)} | {_fmt(r['peak_rss_mb'], 0)} | "
                     f"{_fmt(r.get('mpx_per_s'), 3)} | {_fmt(r.get('ratio_to_baseline'))} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# the run

def _model_days(bench: Bench, models: dict, scene: dict, stack: str, npx: int, svr_px: int,
                valid: int | None) -> None:
    """One day with every other model type (what the forest's downscale/ours row is for the forest), and
    scikit-learn's own SVR predict on a sample of pixels next to ours."""
    for mtype in models:
        if mtype not in ("rf", "auto"):
            rec = bench.measure(f"downscale/ours-{mtype}", "downscale_ours", {
                "model": models[mtype], "stack": stack, "output": os.path.join(bench.work, f"sm_{mtype}.tif"),
                "smap": scene["smap"], "residual": "constant", "pixels": npx})
            valid = valid or rec["valid"]
    if "svr" in models and valid:
        bench.measure("downscale/svr-predict-sample", "predict_sample", {
            "model": models["svr"], "stack": stack, "n": svr_px, "full_valid": valid})


def _svr_summary(bench: Bench) -> dict:
    """The SVR day, and the same kernel's cost scaled to the 13,873 support vectors of the issue's SVR
    (prediction time is linear in the support vectors)."""
    day, tr, smp = bench.row("downscale/ours-svr"), bench.row("train/svr"), bench.row("downscale/svr-predict-sample")
    if not day or not tr or not smp or not tr.get("support_vectors"):
        return {}
    n = int(tr["support_vectors"])
    # the kernel's own time on the sample's pixels, scaled to the day's valid pixels and to 13,873 support vectors
    return {"support_vectors": n, "day_s": day["wall_s"], "day_cpu_s": day["cpu_s"],
            "sample_px": smp["pixels"], "kernel_sample_s": smp["ours_s"], "sklearn_sample_s": smp["wall_s"],
            "kernel_day_s": smp["ours_extrapolated_s"], "sklearn_day_s": smp["extrapolated_s"],
            "kernel_day_s_at_13873_sv": smp["ours_extrapolated_s"] * 13873 / n, "target_day_s": 90.0,
            "kernel_day_cpu_s_at_13873_sv": smp["ours_extrapolated_cpu_s"] * 13873 / n}


def _finish_models_only(args: argparse.Namespace, bench: Bench, models: dict, scene: dict, stack: str, npx: int,
                        svr_px: int, auto_cmp: dict, search: dict, started: float, machine: dict,
                        train_dates: int) -> dict:
    """``--models-only``: the forest's day and every model's day, then the results (no baselines, scaling
    or year rows: for a busy machine)."""
    if "rf" in models:
        bench.measure("downscale/ours", "downscale_ours", {
            "model": models["rf"], "stack": stack, "output": os.path.join(bench.work, f"sm_{scene['tag']}.tif"),
            "smap": scene["smap"], "residual": "constant", "pixels": npx})
    _model_days(bench, models, scene, stack, npx, svr_px, None)
    machine["loadavg_end"] = list(os.getloadavg())
    model_table = _model_rows(bench)
    result = {"command": " ".join([os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(ROOT)
                                   else sys.executable, "bench/run.py", *sys.argv[1:]]),
              "quick": bool(args.quick), "models_only": True,
              "created": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
              "total_s": time.time() - started, "machine": machine, "train_dates": train_dates,
              "rows": bench.rows, "models": model_table, "auto": auto_cmp, "search": search,
              "svr": _svr_summary(bench)}
    md = _table(bench.rows) + "\n\n" + _models_md(model_table) + "\n" + _extras_md(auto_cmp, search, result["svr"])
    with open(os.path.join(bench.out, "results.json"), "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1, default=str)
    with open(os.path.join(bench.out, "results.md"), "w", encoding="utf-8") as fh:
        fh.write(f"Command: `{result['command']}`\n\nMachine: {machine['cores']} cores, {machine['cpu_model']}, "
                 f"load average at start {machine['loadavg_start'][0]:.1f}, at the end "
                 f"{machine['loadavg_end'][0]:.1f}\n\n{md}\n")
    print()
    print(md)
    return result


def _extras_md(auto_cmp: dict, search: dict, svr: dict) -> str:
    text = ""
    if svr:
        text += (f"\nSVR: {svr['support_vectors']} support vectors, a day in {svr['day_s']:.1f} s "
                 f"({svr['day_cpu_s']:.1f} s CPU). On {svr['sample_px']} pixels the kernel takes "
                 f"{svr['kernel_sample_s']:.2f} s against scikit-learn's {svr['sklearn_sample_s']:.2f} s: a day's "
                 f"prediction {svr['kernel_day_s']:.1f} s against {svr['sklearn_day_s']:.0f} s; with the 13,873 "
                 f"support vectors of the issue's SVR {svr['kernel_day_s_at_13873_sv']:.1f} s (linear in support "
                 f"vectors; target 90 s on 2 cores), {svr['kernel_day_cpu_s_at_13873_sv']:.1f} s of CPU (both "
                 "threads; on 2 idle cores about half of it in wall time).\n")
    if auto_cmp:
        text += (f"\nAuto (5-fold spatial CV, as train runs by default): {auto_cmp['auto_train_s']:.1f} s "
                 f"({auto_cmp['auto_cpu_s']:.1f} s CPU), {auto_cmp['auto_over_rf']:.2f} x the default forest with the "
                 f"same CV ({auto_cmp['rf_cv5_train_s']:.1f} s, {auto_cmp['rf_cv5_cpu_s']:.1f} s CPU: "
                 f"{auto_cmp['auto_over_rf_cpu']:.2f} x in CPU time; target at most 3 x); kept "
                 f"{auto_cmp['auto_kept']}, spatial-CV RMSE {_fmt(auto_cmp['auto_cv_rmse'], 4)} against the forest's "
                 f"{_fmt(auto_cmp['rf_cv_rmse'], 4)}.\n")
        for c in auto_cmp.get("candidates") or []:
            text += (f"- {c['model_type']}: transfer RMSE {_fmt(c['transfer_rmse'], 4)} ({c['transfer_folds']} folds), "
                     f"spatial-CV RMSE {_fmt(c['cv_rmse'], 4)}; {c['ranking']}\n")
    if search:
        text += (f"\nHyperparameter search (forest): budget {search['budget_s']:.0f} s, search took "
                 f"{search['elapsed_s']:.1f} s ({search['elapsed_over_budget']:.2f} x the budget; target at most "
                 "1.1 x).\n")
    return text


def run(args: argparse.Namespace) -> dict:
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    size_km = args.size_km or (48 if args.quick else 2000)
    train_dates = args.train_dates or (4 if args.quick else 30)
    year_dates = args.year_dates or (2 if args.quick else 3)
    svr_px = 500 if args.quick else 20000
    rf_trees = args.rf_trees or (10 if args.quick else 100)
    started = time.time()
    machine = _machine()
    print(f"smdownscale benchmark -> {out}  ({machine['cores']} cores, {machine['cpu_model']})", flush=True)
    scene = _scene(out, size_km, args.seed)

    _import_engine()
    from smdownscale.algorithms.raster import Grid

    bench = Bench(out, repeat=args.repeat)
    work = bench.work
    fine = Grid.from_path(scene["reference"])
    coarse = Grid.from_path(scene["smap"])
    npx = fine.size
    print(f"scene: {fine.width} x {fine.height} px ({npx / 1e6:.2f} Mpx), {len(scene['inputs'])} factors, "
          f"SMAP grid {coarse.width} x {coarse.height}, {'cached' if scene['cached'] else 'generated'}", flush=True)
    srs_file = os.path.join(work, "fine.wkt")
    with open(srs_file, "w", encoding="utf-8") as fh:
        fh.write(fine.crs_wkt)
    csrs_file = os.path.join(work, "coarse.wkt")
    with open(csrs_file, "w", encoding="utf-8") as fh:
        fh.write(coarse.crs_wkt)

    # align
    stack = os.path.join(work, f"factors_{scene['tag']}.tif")
    a_ours = bench.measure("align/ours", "align_ours", {"inputs": scene["inputs"], "reference": scene["reference"],
                                                         "output": stack})
    if not args.models_only:
        gw_stack = os.path.join(work, "gdalwarp", f"factors_{scene['tag']}.tif")
        os.makedirs(os.path.dirname(gw_stack), exist_ok=True)
        methods = [a_ours["resampling"][a_ours["sources"].index(p)] for p in scene["inputs"]]
        a_base = bench.measure("align/gdalwarp", "align_gdalwarp", {
            "inputs": scene["inputs"], "methods": methods, "output": gw_stack,
            "workdir": os.path.join(work, "gdalwarp"), "extent": list(fine.extent), "width": fine.width,
            "height": fine.height, "srs_file": srs_file}, baseline=True)
        a_ours["ratio_to_baseline"] = _ratio(a_ours, a_base)
        a_ours["agreement_with_baseline"] = _agreement(stack, gw_stack)

    # aggregate onto the SMAP grid
    cstack = os.path.join(work, f"coarse_factors_{scene['tag']}.tif")
    g_ours = bench.measure("aggregate/ours", "aggregate_ours", {"stack": stack, "coarse": scene["smap"],
                                                                 "output": cstack, "pixels": npx})
    if not args.models_only:
        g_base = bench.measure("aggregate/gdalwarp", "aggregate_gdalwarp", {
            "stack": stack, "output": os.path.join(work, "gdalwarp", "coarse.tif"), "extent": list(coarse.extent),
            "width": coarse.width, "height": coarse.height, "srs_file": csrs_file, "pixels": npx}, baseline=True)
        g_ours["ratio_to_baseline"] = _ratio(g_ours, g_base)

    # train on synthetic dates
    smaps, cstacks = _training_dates(work, cstack, train_dates, args.seed)
    models = {}
    params: dict[str, dict] = {"rf": {"n_estimators": rf_trees}}
    if args.svr_epsilon is not None:
        params["svr"] = {"epsilon": args.svr_epsilon}
    model_types = [m for m in args.models.split(",") if m] if args.models else list(MODEL_ROWS)
    for mtype in dict.fromkeys(([] if args.models_only else ["rf", "svr", "cart"]) + model_types):
        models[mtype] = os.path.join(work, f"model_{mtype}.smdmodel")
        # auto as a user runs it (train's default 5-fold spatial CV), next to the forest with the same CV below
        folds = 5 if mtype == "auto" else args.train_cv_folds
        bench.measure(f"train/{mtype}", "train", {"smap": smaps, "stacks": cstacks, "output": models[mtype],
                                                  "model_type": mtype, "cv_folds": folds,
                                                  "seed": args.seed, "params": params.get(mtype)},
                      repeat=1, dates=train_dates, params=params.get(mtype), cv_folds=folds)
    auto_cmp = {}
    if "auto" in models:
        # Auto's cost against the default forest's, both with train's default 5-fold spatial CV
        rf_cv = bench.measure("train/rf-cv5", "train", {
            "smap": smaps, "stacks": cstacks, "output": os.path.join(work, "model_rf_cv5.smdmodel"),
            "model_type": "rf", "cv_folds": 5, "seed": args.seed, "params": params["rf"]},
            repeat=1, dates=train_dates, cv_folds=5)
        auto = bench.row("train/auto")
        auto_cmp = {"auto_train_s": auto["wall_s"], "rf_cv5_train_s": rf_cv["wall_s"],
                    "auto_over_rf": auto["wall_s"] / rf_cv["wall_s"], "target_ratio": 3.0,
                    "auto_cpu_s": auto["cpu_s"], "rf_cv5_cpu_s": rf_cv["cpu_s"],
                    "auto_over_rf_cpu": auto["cpu_s"] / rf_cv["cpu_s"], "candidates": auto.get("auto_candidates"),
                    "auto_kept": auto.get("model_type"),
                    "auto_cv_rmse": (auto.get("cv_spatial") or {}).get("rmse"),
                    "rf_cv_rmse": (rf_cv.get("cv_spatial") or {}).get("rmse")}
    search = {}
    if args.search_seconds > 0:
        # the hyperparameter search's budget (the forest's defaults, then random configurations until it is spent)
        rec = bench.measure("train/rf-search", "train", {
            "smap": smaps, "stacks": cstacks, "output": os.path.join(work, "model_rf_search.smdmodel"),
            "model_type": "rf", "cv_folds": 0, "seed": args.seed, "params": params["rf"],
            "search_seconds": args.search_seconds}, repeat=1, dates=train_dates)
        search = {"budget_s": rec["search_budget_s"], "elapsed_s": rec["search_elapsed_s"],
                  "elapsed_over_budget": rec["search_elapsed_s"] / rec["search_budget_s"], "target": 1.1}

    if args.models_only:
        return _finish_models_only(args, bench, models, scene, stack, npx, svr_px, auto_cmp, search, started,
                                   machine, train_dates)

    # downscale
    bench.measure("downscale/load-rf-model", "load_model", {"model": models["rf"]})
    bench.measure("downscale/load-rf-compiled", "load_compiled", {"model": models["rf"]})
    d_base = bench.measure("downscale/sklearn-predict", "downscale_sklearn", {
        "model": models["rf"], "stack": stack, "output": os.path.join(work, "sm_sklearn.tif")}, baseline=True)
    d_none = bench.measure("downscale/ours-no-residual", "downscale_ours", {
        "model": models["rf"], "stack": stack, "output": os.path.join(work, "sm_ours_none.tif"),
        "residual": "none", "pixels": npx})
    sm_out = os.path.join(work, f"sm_{scene['tag']}.tif")
    d_ours = bench.measure("downscale/ours", "downscale_ours", {
        "model": models["rf"], "stack": stack, "output": sm_out, "smap": scene["smap"], "residual": "constant",
        "pixels": npx})
    d_none["ratio_to_baseline"] = _ratio(d_none, d_base)
    d_ours["ratio_to_baseline"] = _ratio(d_ours, d_base)
    d_none["agreement_with_baseline"] = _agreement(os.path.join(work, "sm_ours_none.tif"),
                                                   os.path.join(work, "sm_sklearn.tif"))
    d_sk = bench.measure("downscale/ours-sklearn-backend", "downscale_ours", {
        "model": models["rf"], "stack": stack, "output": os.path.join(work, "sm_ours_sklearn_backend.tif"),
        "smap": scene["smap"], "residual": "constant", "pixels": npx, "native": False})
    d_sk["ratio_to_baseline"] = _ratio(d_sk, d_base)
    d_sk["agreement_with_ours"] = _agreement(os.path.join(work, "sm_ours_sklearn_backend.tif"), sm_out)
    d_warm = bench.measure("downscale/ours-model-loaded", "downscale_ours", {
        "model": models["rf"], "stack": stack, "output": os.path.join(work, "sm_warm.tif"), "smap": scene["smap"],
        "residual": "constant", "pixels": npx, "warm": True})
    _model_days(bench, models, scene, stack, npx, svr_px, d_ours["valid"])
    model_table = _model_rows(bench)

    # validate
    bench.measure("validate/ours", "validate", {"estimate": sm_out, "reference": scene["truth"], "pixels": npx})

    # scaling curve
    scaling = []
    for frac in (1 / 16, 1 / 4):
        side = max(8, int(round(math.sqrt(frac) * fine.width)))
        crop = _crop(stack, os.path.join(work, f"factors_{scene['tag']}_crop{side}.tif"), side)
        rec = bench.measure(f"scaling/downscale-{side}px", "downscale_ours", {
            "model": models["rf"], "stack": crop, "output": os.path.join(work, f"sm_crop{side}.tif"),
            "smap": scene["smap"], "residual": "constant", "pixels": side * side, "warm": True})
        scaling.append(rec)
    scaling.append(d_warm)
    curve = [{"mpx": r["pixels"] / 1e6, "wall_s": r["wall_s"], "cpu_s": r["cpu_s"], "peak_rss_mb": r["peak_rss_mb"],
              "s_per_mpx": r["wall_s"] / (r["pixels"] / 1e6), "model_load_s": r.get("model_load_s")}
             for r in scaling]

    # a year of dates
    ydir = os.path.join(work, "year")
    shutil.rmtree(ydir, ignore_errors=True)
    os.makedirs(ydir)
    ys, ym = [], []
    for k in range(year_dates):
        tag = (dt.date(2023, 7, 1) + dt.timedelta(days=k)).strftime("%Y%m%d")
        ys.append(os.path.join(ydir, "in", f"factors_{tag}.tif"))
        ym.append(os.path.join(ydir, "in", f"smap_{tag}.tif"))
        os.makedirs(os.path.dirname(ys[-1]), exist_ok=True)
        os.symlink(stack, ys[-1])
        os.symlink(scene["smap"], ym[-1])
    y = bench.measure(f"year/downscale-{year_dates}-dates", "year", {
        "model": models["rf"], "stacks": ys, "smaps": ym, "out_dir": os.path.join(ydir, "out"), "pixels": npx},
        repeat=1)
    first = y["per_date_s"][0]
    steady = y["steady_per_date_s"]
    align_s = a_ours["wall_s"]
    year = {"dates_measured": year_dates, "first_date_s": first, "steady_per_date_s": steady,
            "downscale_365_s": first + 364 * steady, "align_per_date_s": align_s,
            "align_and_downscale_365_s": first + 364 * steady + 365 * align_s}
    year["downscale_365_h"] = year["downscale_365_s"] / 3600
    # cross-check from the single-date rows: one model load, then 365 dates with the model loaded
    year["from_single_date_rows_h"] = (d_warm.get("model_load_s") or 0.0) / 3600 + 365 * d_warm["wall_s"] / 3600
    year["align_and_downscale_365_h"] = year["align_and_downscale_365_s"] / 3600

    rows = bench.rows
    machine["loadavg_end"] = list(os.getloadavg())
    svr_day = bench.row("downscale/ours-svr")
    targets = {
        "svr_day_s": svr_day["wall_s"] if svr_day else None, "svr_day_target_s": 90.0,
        "downscale_day_s": d_ours["wall_s"], "downscale_day_target_s": 20.0,
        "downscale_day_model_loaded_s": d_warm["wall_s"],
        "downscale_speedup_vs_sklearn": (1 / d_ours["ratio_to_baseline"]) if d_ours["ratio_to_baseline"] else None,
        "downscale_speedup_target": 2.0,
        "downscale_peak_rss_mb": d_ours["peak_rss_mb"], "align_peak_rss_mb": a_ours["peak_rss_mb"],
        "peak_rss_target_mb": 1024.0,
        "align_ratio_to_gdalwarp": a_ours["ratio_to_baseline"], "align_ratio_target": 1.2,
        "year_h": year["downscale_365_h"], "year_with_align_h": year["align_and_downscale_365_h"],
        "year_target_h": 2.0,
    }
    result = {
        "command": " ".join([os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(ROOT)
                             else sys.executable, "bench/run.py", *sys.argv[1:]]),
        "quick": bool(args.quick), "created": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "total_s": time.time() - started, "machine": machine,
        "scene": {"width": fine.width, "height": fine.height, "pixels": npx, "factors": len(scene["inputs"]),
                  "coarse_width": coarse.width, "coarse_height": coarse.height, "train_dates": train_dates,
                  "size_km": size_km, "seed": args.seed, "rf_trees": rf_trees},
        "rows": rows, "models": model_table, "auto": auto_cmp, "search": search, "svr": _svr_summary(bench),
        "scaling": curve, "year": year,
        "targets": targets,
    }
    table = _table(rows) + "\n\nEvery model type (train on the pooled coarse pairs; one day of the scene as by " \
        "default: gap filling, contrast detail, residual correction; peak RSS of each):\n\n" + _models_md(model_table)
    table += "\n" + _extras_md(auto_cmp, search, _svr_summary(bench))
    lines = [table, "", "Scaling (downscale as by default, model already loaded; the peak includes "
             "loading it):", "", "| Mpx | wall s | s per Mpx | peak RSS MB |", "|---:|---:|---:|---:|"]
    lines += [f"| {c['mpx']:.3f} | {c['wall_s']:.2f} | {c['s_per_mpx']:.2f} | {c['peak_rss_mb']:.0f} |" for c in curve]
    lines += ["", f"365 dates: first date {first:.1f} s, then {steady:.1f} s per date -> downscale "
              f"{year['downscale_365_h']:.2f} h; with align ({align_s:.1f} s per date) "
              f"{year['align_and_downscale_365_h']:.2f} h (from the single-date row with the model loaded: "
              f"{year['from_single_date_rows_h']:.2f} h)."]
    md = "\n".join(lines)
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1, default=str)
    with open(os.path.join(out, "results.md"), "w", encoding="utf-8") as fh:
        fh.write(f"Command: `{result['command']}`\n\nMachine: {machine['cores']} cores, {machine['cpu_model']}, "
                 f"load average at start {machine['loadavg_start'][0]:.1f}\n\n{md}\n")
    print()
    print(md)
    print(f"\nwritten {os.path.join(out, 'results.json')} ({result['total_s']:.0f} s)")
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="out/bench", help="output folder (the scene is cached in <out>/scene)")
    ap.add_argument("--quick", action="store_true", help="smoke run on a tiny scene")
    ap.add_argument("--size-km", type=int, default=None, help="scene size (default 2000, quick 48)")
    ap.add_argument("--train-dates", type=int, default=None, help="synthetic training dates (default 30, quick 4)")
    ap.add_argument("--train-cv-folds", type=int, default=0,
                    help="cross-validation folds while training (default 0: time the final fit only)")
    ap.add_argument("--year-dates", type=int, default=None, help="dates downscaled for the 365-date estimate")
    ap.add_argument("--rf-trees", type=int, default=None, help="random forest trees (default 100, quick 10)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs of each align/aggregate/downscale/validate row; the fastest is reported")
    ap.add_argument("--models", default=None,
                    help=f"comma-separated model types with a train and a day row (default: {','.join(MODEL_ROWS)})")
    ap.add_argument("--models-only", action="store_true",
                    help="only the scene, align/aggregate (ours), the train rows and one day per model type")
    ap.add_argument("--svr-epsilon", type=float, default=None,
                    help="SVR's epsilon (default: train's; 0.005 gives the issue's SVR of ~13,900 support vectors)")
    ap.add_argument("--search-seconds", type=float, default=None,
                    help="budget of the train/rf-search row (default 60, quick 3; 0 = no such row)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--spec", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.search_seconds is None:
        args.search_seconds = 3.0 if args.quick else 60.0
    if args.child:
        return _child(args.child, args.spec, args.result)
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
