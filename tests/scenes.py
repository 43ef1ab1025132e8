"""Shared test scenes: synthetic rasters, models and Earth Engine tasks that several test modules use.

One place for them, as rasterio keeps its scenes in ``tests/conftest.py``: a test module never imports another
test module. Each builder writes into the folder it is given and returns paths and the values it wrote, so
tests assert against the truth the scene was built from.

* :func:`make_scene`: SMAP on the EASE-Grid 2.0 9 km lattice (EPSG:6933) and 1 km factor stacks (EPSG:32650)
  per date, soil moisture a known function of the coarse factor means (screen, train, Processing tests);
* :func:`build_scene`: the sample scene aligned into stacks and a quickly trained model (series, reports);
* the downscale scene (``DS_*``, :func:`save_ds_model`, :func:`ds_fields`, :func:`write_ds_stack`): a model
  that reproduces :func:`ds_relation` exactly (downscale, residual correction);
* :func:`previous_hybrid`: the linear + boosting hybrid as model files written before histogram boosting hold it;
* :func:`residual_scene`: a two-factor model, a stack and aligned SMAP cells (Processing downscale tests);
* :func:`export_configs`: Earth Engine export tasks of constant images (task and monitor tests);
* :func:`request_objects`, :func:`downscale_objects`: keyword arguments as the Earth Engine chain's request
  objects.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from typing import Any, Callable

import ee
import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.tree import DecisionTreeRegressor

from smdownscale.algorithms import align, model_io, raster, sample, train
from smdownscale.algorithms.aggregate import CellIndex, CoarseMean
from smdownscale.algorithms.gee import server
from smdownscale.algorithms.gee.request import Connection, DownscaleRequest, FetchOptions, FetchRequest, TaskRun
from smdownscale.algorithms.gee.tasks import TaskConfig
from smdownscale.algorithms.raster import Grid, srs_from_user, write_raster

UTM = srs_from_user("EPSG:32650").ExportToWkt()
WGS84 = srs_from_user("EPSG:4326").ExportToWkt()


# -- SMAP + factor stacks per date ------------------------------------------------------------------

# the EASE-Grid 2.0 origin as the scenes have always used it (y0 rounded differently from grids.EASE_Y0)
EASE_X0 = -17367530.445161372
EASE_Y0 = 7314540.830603
EASE_RES = 9008.055210146
DATES = ("2023-06-01", "2023-06-09", "2023-06-17")
LC_CLASSES = (10, 20, 30)


def ease_grid(ncols: int = 12, nrows: int = 10, col0: int = 3170, row0: int = 267) -> raster.Grid:
    """A window of the EASE-Grid 2.0 9 km global grid (Inner Mongolia)."""
    wkt = raster.srs_from_user("EPSG:6933").ExportToWkt()
    return raster.Grid(wkt, (EASE_X0 + col0 * EASE_RES, EASE_RES, 0.0, EASE_Y0 - row0 * EASE_RES, 0.0, -EASE_RES),
                       ncols, nrows)


def fine_grid_over(coarse: raster.Grid, epsg: int = 32650, res: float = 1000.0, pad: float = 2000.0) -> raster.Grid:
    """A 1 km grid in another CRS covering the whole coarse grid."""
    wkt = raster.srs_from_user(f"EPSG:{epsg}").ExportToWkt()
    xmin, ymin, xmax, ymax = coarse.extent_in(wkt)
    xmin, ymin = np.floor((xmin - pad) / res) * res, np.floor((ymin - pad) / res) * res
    xmax, ymax = np.ceil((xmax + pad) / res) * res, np.ceil((ymax + pad) / res) * res
    return raster.Grid.from_extent(wkt, xmin, ymin, xmax, ymax, res)


def smooth_field(grid: raster.Grid, rng: np.random.Generator, scale_km: float = 40.0) -> np.ndarray:
    """A smooth random field in [0, 1] (sum of random plane waves) on ``grid``."""
    x, y = grid.centers(0, grid.height)
    x = (x - x.mean()) / 1000.0
    y = (y - y.mean()) / 1000.0
    f = np.zeros_like(x)
    for _ in range(4):
        ang = rng.uniform(0, np.pi)
        k = 2 * np.pi / (scale_km * rng.uniform(0.7, 1.5))
        f += np.sin(k * (x * np.cos(ang) + y * np.sin(ang)) + rng.uniform(0, 2 * np.pi))
    f -= f.min()
    return f / max(f.max(), 1e-12)


def coarse_means(fine: raster.Grid, coarse: raster.Grid, data: np.ndarray) -> np.ndarray:
    """(bands, H, W) coarse means of a fine (bands, rows, cols) array (pixels with all bands valid)."""
    data = data.copy()
    data[:, ~np.all(np.isfinite(data), axis=0)] = np.nan
    acc = CoarseMean(CellIndex(fine, coarse), data.shape[0])
    acc.add(0, data)
    return acc.mean(0.5)


SmFunc = Callable[[dict[str, np.ndarray]], np.ndarray]


def make_scene(folder: str, sm_func: SmFunc | None = None, dates: tuple[str, ...] = DATES, ncols: int = 12,
               nrows: int = 10, seed: int = 0, band_order: list[str] | None = None, landcover: bool = True,
               extra: Callable[..., dict[str, np.ndarray]] | None = None) -> dict:
    """SMAP rasters (EPSG:6933, 9 km) and 1 km factor stacks (EPSG:32650) for each date.

    Factors: ndvi, lst_day (continuous) and landcover (categorical 10/20/30). ``sm_func`` maps the coarse
    means {factor: (H, W)} (landcover as fractions 'landcover=10', ...) to soil moisture (default:
    0.1 + 0.5 * ndvi). ``extra(fine_fields, sm, fine_grid, coarse_grid, rng)`` adds fine bands (e.g. built
    from the coarse SM); bands named landcover* are categorical.
    """
    rng = np.random.default_rng(seed)
    coarse = ease_grid(ncols, nrows)
    fine = fine_grid_over(coarse)
    sm_func = sm_func or (lambda m: 0.1 + 0.5 * m["ndvi"])
    sm_paths, stack_paths, sms = [], [], []
    for d in dates:
        fields = {"ndvi": 0.1 + 0.7 * smooth_field(fine, rng), "lst_day": 280.0 + 40.0 * smooth_field(fine, rng)}
        if landcover:
            lc = smooth_field(fine, rng, 60.0)
            fields["landcover"] = np.select([lc < 0.35, lc < 0.7], [10.0, 20.0], 30.0)
        # a few nodata pixels
        hole = rng.random(fields["ndvi"].shape) < 0.02
        fields["ndvi"][hole] = np.nan
        cont = [n for n in fields if n != "landcover"]
        layers, labels = [fields[n] for n in cont], list(cont)
        if landcover:
            layers += [(fields["landcover"] == c).astype(float) for c in LC_CLASSES]
            labels += [f"landcover={c}" for c in LC_CLASSES]
        means = dict(zip(labels, coarse_means(fine, coarse, np.stack(layers))))
        sm = np.asarray(sm_func(means), dtype=np.float64)
        if extra is not None:
            fields.update(extra(fields, sm, fine, coarse, rng))
        order = band_order or list(fields)
        kinds = ["categorical" if n.startswith("landcover") else "continuous" for n in order]
        sm_path = os.path.join(folder, f"smap_{d.replace('-', '')}.tif")
        stack_path = os.path.join(folder, f"factors_{d.replace('-', '')}.tif")
        raster.write_raster(sm_path, coarse, sm, names=["sm_surface"])
        raster.write_raster(stack_path, fine, np.stack([fields[n] for n in order]), names=order, kinds=kinds)
        sm_paths.append(sm_path)
        stack_paths.append(stack_path)
        sms.append(sm)
    return {"sm": sm_paths, "stacks": stack_paths, "coarse": coarse, "fine": fine, "sm_values": sms}


MORE_DATES = DATES + ("2023-06-25", "2023-07-03")


def nonlinear_sm(m):
    """A known nonlinear relation: logistic in NDVI, quadratic in LST, wetter on class 30."""
    veg = 0.25 / (1.0 + np.exp(-12.0 * (m["ndvi"] - 0.45)))
    heat = 0.15 * ((m["lst_day"] - 280.0) / 40.0) ** 2
    return 0.12 + veg - heat + 0.1 * m["landcover=30"]


# -- the sample scene, aligned and trained --------------------------------------------------------

STATIC = ("elevation", "slope", "landcover")
DYNAMIC = ("ndvi", "lst_day", "lst_night", "vv", "vh", "precipitation")


def build_scene(folder: str, size_km: int = 60, n_dates: int = 2) -> dict:
    """A sample scene with aligned stacks factors_<YYYYMMDD>.tif and a quickly trained model (no CV)."""
    scene = sample.make_sample(os.path.join(folder, "sample"), size_km=size_km, n_dates=n_dates)
    grid = align.reference_grid(scene.reference_grid)
    stacks = []
    for i, day in enumerate(scene.dates):
        inputs = [scene.paths[k][0] for k in STATIC] + [scene.paths[k][i] for k in DYNAMIC]
        path = os.path.join(folder, f"factors_{day.replace('-', '')}.tif")
        align.align_rasters(inputs, grid, path, {"landcover"})
        stacks.append(path)
    model = os.path.join(folder, "model.smdmodel")
    train.train_model(train.TrainRequest(scene.smap_files, stacks, model, "rf", params={"n_estimators": 15}, cv_folds=0,
                                         n_jobs=1))
    return {"scene": scene, "stacks": stacks, "smap": scene.smap_files, "truth": scene.truth_files, "model": model,
            "dates": scene.dates}


# -- the downscale scene ---------------------------------------------------------------------------

DS_W, DS_H = 60, 45
DS_FINE = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), DS_W, DS_H)
DS_NDVI = np.round(np.arange(0.1, 0.85, 0.1), 2)  # 8 levels
DS_LST = np.array([280.0, 290.0, 300.0, 310.0])
DS_LC = np.array([10, 20])
DS_FEATURES = ["ndvi", "lst", "landcover=10", "landcover=20"]
DS_FACTORS = [{"name": "ndvi", "kind": "continuous", "classes": []},
           {"name": "lst", "kind": "continuous", "classes": []},
           {"name": "landcover", "kind": "categorical", "classes": [10, 20]}]


def previous_hybrid(seed: int = 0, **params: Any) -> Any:
    """The linear + boosting hybrid as train built it before histogram boosting (the model files written then hold
    it): exact-split gradient boosting, 50 stages at learning rate 0.1, starting from a ridge trend on standardized
    factors; ``params`` override the boosting's settings."""
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    settings = {"n_estimators": 50, "learning_rate": 0.1, "max_depth": 3, "subsample": 0.8, "min_samples_leaf": 5}
    settings.update(params)
    trend = Pipeline([("scale", StandardScaler()), ("ridge", Ridge(alpha=1.0))])
    return GradientBoostingRegressor(init=trend, random_state=seed, **settings)


def ds_relation(ndvi, lst, lc):
    """The synthetic truth the model learns exactly (m3/m3, 0.08 .. 0.40)."""
    return 0.05 + 0.3 * ndvi + 0.002 * (lst - 280.0) + 0.05 * (lc == 20)


def save_ds_model(path, estimator="rf"):
    """A model file whose trees reproduce :func:`ds_relation` exactly on the scene's factor levels."""
    combos = np.array([(a, b, c) for a in DS_NDVI for b in DS_LST for c in DS_LC], dtype=np.float64)
    x = np.column_stack([combos[:, 0], combos[:, 1], combos[:, 2] == 10, combos[:, 2] == 20]).astype(np.float64)
    y = ds_relation(combos[:, 0], combos[:, 1], combos[:, 2])
    if estimator == "rf":
        est = RandomForestRegressor(n_estimators=3, bootstrap=False, max_features=None, random_state=0, n_jobs=1)
    else:
        est = DecisionTreeRegressor(random_state=0)
    est.fit(x, y)
    meta = {"features": DS_FEATURES, "factors": DS_FACTORS, "model_type": "rf" if estimator == "rf" else "cart",
            "units": "m3/m3", "training_grid": {"crs": "EPSG:6933", "res": 9008.05}}
    model_io.save_model(path, est, meta)
    return path


def ds_fields(seed=1):
    """Factor fields on DS_FINE at the model's levels, with nodata in one factor and in an unused band."""
    rng = np.random.default_rng(seed)
    ndvi = rng.choice(DS_NDVI, (DS_H, DS_W))
    lst = rng.choice(DS_LST, (DS_H, DS_W))
    lc = rng.choice(DS_LC, (DS_H, DS_W)).astype(np.float64)
    dem = rng.normal(1200, 100, (DS_H, DS_W))
    ndvi[3:6, 10:14] = np.nan  # nodata in one factor only
    lc[20, 5] = np.nan
    dem[0, :] = np.nan  # nodata in a band the model does not use
    return {"ndvi": ndvi, "lst": lst, "landcover": lc, "dem": dem}


def write_ds_stack(path, fields, order=("dem", "lst", "landcover", "ndvi")):
    """The fields as a factor stack on DS_FINE (bands in ``order``, land cover categorical)."""
    data = np.stack([fields[n] for n in order])
    kinds = ["categorical" if n == "landcover" else "continuous" for n in order]
    write_raster(str(path), DS_FINE, data, names=list(order), kinds=kinds)
    return str(path)


# -- the residual scene (Processing downscale) ------------------------------------------------------

RS_W, RS_H = 45, 36
RS_FINE = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), RS_W, RS_H)
RS_COARSE = Grid(UTM, (400000.0, 9000.0, 0.0, 4600000.0, 0.0, -9000.0), 5, 4)  # 9 x 9 pixels per cell, aligned
RS_NDVI = np.round(np.arange(0.1, 0.85, 0.1), 2)
RS_LST = np.array([280.0, 295.0, 310.0])


def rs_relation(ndvi, lst):
    """The relation the residual scene's model learns (m3/m3)."""
    return 0.05 + 0.3 * ndvi + 0.002 * (lst - 280.0)


def residual_scene(folder: str) -> dict:
    """A two-factor random forest of :func:`rs_relation`, a factor stack (one nodata patch) and SMAP on cells of
    9 x 9 pixels aligned with the stack, in ``folder``; ``raw`` is what the model predicts before correction."""
    tmp = pathlib.Path(folder)
    combos = np.array([(a, b) for a in RS_NDVI for b in RS_LST])
    est = RandomForestRegressor(n_estimators=2, bootstrap=False, max_features=None, random_state=0)
    est.fit(combos, rs_relation(combos[:, 0], combos[:, 1]))
    model = str(tmp / "rf.smdmodel")
    model_io.save_model(model, est, {"features": ["ndvi", "lst"], "model_type": "rf", "units": "m3/m3",
                                     "factors": [{"name": "ndvi", "kind": "continuous", "classes": []},
                                                 {"name": "lst", "kind": "continuous", "classes": []}]})
    rng = np.random.default_rng(0)
    ndvi = rng.choice(RS_NDVI, (RS_H, RS_W))
    lst = rng.choice(RS_LST, (RS_H, RS_W))
    ndvi[10:12, 20:25] = np.nan
    stack = str(tmp / "factors_20230601.tif")
    write_raster(stack, RS_FINE, np.stack([lst, rng.normal(size=(RS_H, RS_W)), ndvi]), names=["lst", "dem", "ndvi"])
    sm = rng.uniform(0.15, 0.35, (RS_COARSE.height, RS_COARSE.width))
    smap = str(tmp / "smap_20230601.tif")
    write_raster(smap, RS_COARSE, sm)
    return {"model": model, "stack": stack, "smap": smap, "sm": sm,
            "raw": np.where(np.isfinite(ndvi), rs_relation(ndvi, lst), np.nan)}


# -- Earth Engine export tasks ---------------------------------------------------------------------

def export_grid() -> Grid:
    """A small fine grid in EPSG:6933 for export tasks."""
    return Grid(srs_from_user("EPSG:6933").ExportToWkt(), (11151000.0, 1000.0, 0.0, 4928000.0, 0.0, -1000.0), 4, 3)


def export_configs(n: int, destination: str = "drive", target: str = "smd", fp: str = "r1") -> list[TaskConfig]:
    """``n`` daily soil moisture export tasks (2023-06-01 onwards) of constant images."""
    images = [(f"202306{d:02d}", ee.Image.constant(0.1 * d).rename(["soil_moisture"])) for d in range(1, n + 1)]
    return server.build_exports(images, destination, target, export_grid(), request_fingerprint=fp)


def as_objects(kw: dict[str, Any], *classes: type) -> tuple[Any, ...]:
    """Keyword arguments as request objects: each keyword goes to the first class with that field, so a test
    varies any one option without spelling out the objects (unknown keywords raise TypeError)."""
    parts: list[dict[str, Any]] = [{} for _ in classes]
    for key, value in kw.items():
        for part, cls in zip(parts, classes):
            if key in {f.name for f in dataclasses.fields(cls)}:
                part[key] = value
                break
        else:
            raise TypeError(f"no request object has the option {key!r}")
    return tuple(cls(**part) for cls, part in zip(classes, parts))


def request_objects(**kw: Any) -> tuple[FetchRequest, FetchOptions, Connection]:
    """Keyword arguments as :func:`.fetch.fetch`'s request, options and connection (see :func:`as_objects`)."""
    return as_objects(kw, FetchRequest, FetchOptions, Connection)  # type: ignore[return-value]


def downscale_objects(**kw: Any) -> tuple[DownscaleRequest, TaskRun, Connection]:
    """Keyword arguments as :func:`.pipeline.downscale_gee`'s request, task run and connection."""
    return as_objects(kw, DownscaleRequest, TaskRun, Connection)  # type: ignore[return-value]


# -- a small scene for the server-side chain evaluated by the fake Earth Engine (numeric mode) -------------------

GEE_FACTORS = ("ndvi", "lst_day")
GEE_CLASSIFIER = "projects/test-project/assets/gee_scene_model"


@dataclasses.dataclass
class GeeScene:
    """Factors, a model, a prediction and SMAP as functions of EPSG:6933 coordinates, on an EASE 9 km window.

    SMAP of a cell is the mean of the truth over the 1 km pixels of the fine lattice whose centres fall in it
    (defined beyond the window too, as on Earth Engine); ``smap_missing`` cells (window col, row) have none. The
    factors are masked in round clouds (``cloud_*``: NDVI only, LST only, both).
    """

    coarse: raster.Grid
    fine: raster.Grid
    smap_missing: tuple = ((5, 2),)
    #: Clouds: (centre x, centre y, radius m, factor indices masked).
    clouds: tuple = ()

    def ndvi(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return 0.45 + 0.2 * np.sin(x / 6000.0) * np.cos(y / 9000.0) + 0.05 * np.sin((x + 2 * y) / 1700.0)

    def lst(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return 300.0 + 8.0 * np.cos(x / 11000.0 + 0.3) + 3.0 * np.sin((2 * x - y) / 2300.0)

    @staticmethod
    def model(ndvi: np.ndarray, lst: np.ndarray) -> np.ndarray:
        """The 'trained' regressor (served as the saved classifier :data:`GEE_CLASSIFIER`)."""
        return 0.1 + 0.4 * ndvi - 0.006 * (lst - 300.0)

    def prediction(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self.model(self.ndvi(x, y), self.lst(x, y))

    def truth(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The prediction plus a smooth bias the coarse field knows about (scales of 15-30 km)."""
        return self.prediction(x, y) + 0.04 * np.sin(x / 15000.0 + 1.0) + 0.03 * np.cos(y / 11000.0 - x / 30000.0)

    def masked(self, x: np.ndarray, y: np.ndarray, factor: int) -> np.ndarray:
        out = np.zeros(np.shape(x), bool)
        for cx, cy, radius, factors in self.clouds:
            if factor in factors:
                out |= (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2
        return out

    def cell_of(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(col, row) of points in the coarse window (may lie outside it)."""
        x0, dx, _, y0, _, dy = self.coarse.transform
        return np.floor((x - x0) / dx).astype(np.int64), np.floor((y - y0) / dy).astype(np.int64)

    def smap(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """SMAP at points: the truth's mean over the fine pixels of the cell holding each point."""
        x0, dx, _, y0, _, dy = self.coarse.transform
        fx0, res = self.fine.transform[0], self.fine.transform[1]
        fy0 = self.fine.transform[3]
        col, row = self.cell_of(np.ravel(x), np.ravel(y))
        out = np.empty(col.shape)
        for k, (c, r) in enumerate(zip(col, row)):
            ax, bx = x0 + c * dx, x0 + (c + 1) * dx
            ay, by = y0 + (r + 1) * dy, y0 + r * dy  # dy < 0: ay is the cell's bottom
            ix = np.arange(np.ceil((ax - fx0) / res - 0.5), np.ceil((bx - fx0) / res - 0.5))
            iy = np.arange(np.ceil((fy0 - by) / res - 0.5), np.ceil((fy0 - ay) / res - 0.5))
            px, py = np.meshgrid(fx0 + (ix + 0.5) * res, fy0 - (iy + 0.5) * res)
            out[k] = self.truth(px, py).mean()
        return out.reshape(np.shape(x))

    def smap_masked(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        col, row = self.cell_of(x, y)
        out = np.zeros(np.shape(x), bool)
        for c, r in self.smap_missing:
            out |= (col == c) & (row == r)
        return out

    def smap_window(self) -> np.ndarray:
        """(H, W) SMAP of the window's cells, NaN where missing."""
        x, y = self.coarse.centers(0, self.coarse.height)
        return np.where(self.smap_masked(x, y), np.nan, self.smap(x, y))

    def on_fine(self, fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
        x, y = self.fine.centers(0, self.fine.height)
        return fn(x, y)

    def cells(self) -> np.ndarray:
        """(rows, cols) flat coarse cell of every fine pixel (-1 outside the window)."""
        return np.asarray(CellIndex(self.fine, self.coarse).rows(0, self.fine.height))

    def register(self, fake: Any) -> None:
        """Serves the factors ('…/gee_scene_factors'), the prediction, SMAP and the model to a numeric fake."""
        from smdownscale.tests.fake_ee import TestImage

        crs = "EPSG:6933"
        x0, dx, _, y0, _, dy = self.fine.transform
        fine_t = [dx, 0.0, x0, 0.0, dy, y0]
        cx0, cdx, _, cy0, _, cdy = self.coarse.transform
        fake.images[GEE_IDS["factors"]] = TestImage(
            crs, fine_t, list(GEE_FACTORS), lambda x, y: np.stack([self.ndvi(x, y), self.lst(x, y)]),
            lambda x, y: np.stack([self.masked(x, y, 0), self.masked(x, y, 1)]))
        fake.images[GEE_IDS["prediction"]] = TestImage(crs, fine_t, ["soil_moisture"],
                                                       lambda x, y: self.prediction(x, y)[None])
        fake.images[GEE_IDS["smap"]] = TestImage(crs, [cdx, 0.0, cx0, 0.0, cdy, cy0], ["sm_surface"],
                                                 lambda x, y: self.smap(x, y)[None],
                                                 lambda x, y: self.smap_masked(x, y)[None])
        fake.classifiers[GEE_CLASSIFIER] = (list(GEE_FACTORS), lambda v: self.model(v[0], v[1]))


    def cell_means(self, values: np.ndarray) -> np.ndarray:
        """(H, W) means of a fine (rows, cols) array over each window cell's valid pixels."""
        acc = CoarseMean(CellIndex(self.fine, self.coarse), 1)
        acc.add(0, values[None].astype(np.float32))
        return acc.mean()[0]

    def local_chain(self, mode: str = "smooth") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The local chain on the scene: gapfill's default fill, the model, the residual correction ``mode``.

        Returns (values, quality codes, the filled design matrix and its pixel mask from :mod:`gapfill`).
        """
        from smdownscale.algorithms import gapfill, residual
        from smdownscale.algorithms.features import FactorSpec

        x, y = self.fine.centers(0, self.fine.height)
        block = np.stack([np.where(self.masked(x, y, k), np.nan, f(x, y)) for k, f in enumerate((self.ndvi, self.lst))])
        valid = np.all(np.isfinite(block), axis=0)
        smap = self.smap_window()
        filler = gapfill.GapFiller(CellIndex(self.fine, self.coarse), [FactorSpec(n) for n in GEE_FACTORS],
                                   np.isfinite(smap))
        filler.observe(0, block, valid)
        filler.solve()
        xf, sel, codes = filler.design(0, block, valid)
        pred = np.full(valid.shape, np.nan)
        pred[valid] = self.model(block[0][valid], block[1][valid])
        pred[sel] = self.model(xf[:, 0].astype(np.float64), xf[:, 1].astype(np.float64))
        quality = np.zeros(valid.shape, np.uint8)
        quality[valid & (self.cells() >= 0)] = gapfill.ALL_FACTORS
        quality[sel] = codes
        out, _ = residual.correct_array(pred, self.fine, self.coarse, smap, mode)
        return out, quality, xf, sel

    def server_chain(self, mode: str = "smooth") -> tuple[np.ndarray, np.ndarray]:
        """:func:`server.build_prediction` as downscalegee exports it (gap filling on), computed by the numeric fake
        Earth Engine this scene is registered with: (values, NaN where quality is 0; quality codes)."""
        model = server.load_model(GEE_CLASSIFIER, list(GEE_FACTORS), "rf")
        image = server.build_prediction(model, ee.Image(GEE_IDS["factors"]), ee.Image(GEE_IDS["smap"]), mode, None,
                                        self.fine, self.coarse, fill=True)
        values, quality = gee_pixels(image, self.fine, ["soil_moisture", "quality"])
        return np.where(quality == 0, np.nan, values), quality


def gee_pixels(image: ee.Image, grid: raster.Grid, bands: list[str]) -> np.ndarray:
    """(bands, rows, cols) of ``image`` computed on ``grid`` (EPSG:6933) by the Earth Engine ee is initialized with."""
    x0, dx, _, y0, _, dy = grid.transform
    arr = ee.data.computePixels({
        "expression": image, "fileFormat": "NUMPY_NDARRAY", "bandIds": bands,
        "grid": {"dimensions": {"width": grid.width, "height": grid.height}, "crsCode": "EPSG:6933",
                 "affineTransform": {"scaleX": dx, "shearX": 0, "translateX": x0, "shearY": 0, "scaleY": dy,
                                     "translateY": y0}}})
    return np.stack([np.asarray(arr[b], dtype=np.float64) for b in bands])


GEE_IDS = {"factors": "projects/test-project/assets/gee_scene_factors",
           "prediction": "projects/test-project/assets/gee_scene_prediction",
           "smap": "projects/test-project/assets/gee_scene_smap"}


def gee_scene(clouds: bool = True) -> GeeScene:
    """An 8 x 6 cell EASE-Grid 2.0 window with its 1 km grid in EPSG:6933 (the grid downscalegee makes), with
    clouds masking NDVI (west), LST (centre), both (east, one cell wide, and a cell with neither factor)."""
    from smdownscale.algorithms.gee.fetch import fine_grid

    coarse = ease_grid(8, 6)
    fine = fine_grid(coarse, "EPSG:6933", 1000.0)
    x0, dx, _, y0, _, dy = coarse.transform

    def at(c: float, r: float) -> tuple[float, float]:
        return x0 + c * dx, y0 + r * dy

    spots = ((*at(1.6, 2.3), 7000.0, (0,)), (*at(4.2, 3.5), 6000.0, (1,)), (*at(6.5, 1.5), 5200.0, (0, 1)),
             (*at(5.5, 2.5), 6500.0, (0, 1))) if clouds else ()
    return GeeScene(coarse, fine, clouds=spots)


# -- a two-class farmland mosaic (the contrast detail) ---------------------------------------------

MOSAIC_CELL = 9  # 1 km pixels per 9 km SMAP cell side
MOSAIC_CELLS = 12  # SMAP cells per side
MOSAIC_CONTRAST = 0.15  # parcels wetter than the steppe at 1 km (m3/m3)
MOSAIC_COARSE = Grid(UTM, (400000.0, 9000.0, 0.0, 4600000.0, 0.0, -9000.0), MOSAIC_CELLS, MOSAIC_CELLS)
MOSAIC_FINE = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), MOSAIC_CELL * MOSAIC_CELLS,
                   MOSAIC_CELL * MOSAIC_CELLS)


def mosaic_scene(folder: str, seed: int = 0, n_dates: int = 4) -> dict:
    """Wet 2 x 2 km parcels (landcover 40) in dry steppe (landcover 30) on a 1 km grid, with NDVI and a regional
    gradient plus a date offset; SMAP is the mean of the 1 km truth over each 9 km cell (aligned grids).

    The truth is ``0.12 + 0.03 t + 0.08 y + MOSAIC_CONTRAST * parcel + 0.1 * ndvi``; parcels cover some 30 % of
    the land, so most cells are mixed and their class fractions stay far from 0 and 1. Returns the SMAP and
    stack paths, the truths, the parcel mask and the grids.
    """
    rng = np.random.default_rng(seed)
    n = MOSAIC_CELL * MOSAIC_CELLS
    parcels = np.kron(rng.random((n // 2, n // 2)) < 0.3, np.ones((2, 2), bool))
    lc = np.where(parcels, 40.0, 30.0)
    ii = np.mgrid[:n, :n][0]
    sm_paths, stacks, truths = [], [], []
    for t in range(n_dates):
        ndvi = 0.2 + 0.5 * smooth_field(MOSAIC_FINE, rng, 30.0) + rng.normal(0.0, 0.03, (n, n))
        truth = 0.12 + 0.03 * t + 0.08 * ii / n + MOSAIC_CONTRAST * parcels + 0.1 * ndvi
        day = f"202306{t + 1:02d}"
        stack = os.path.join(folder, f"factors_{day}.tif")
        write_raster(stack, MOSAIC_FINE, np.stack([ndvi, lc]), names=["ndvi", "landcover"],
                     kinds=["continuous", "categorical"])
        smap = os.path.join(folder, f"smap_{day}.tif")
        write_raster(smap, MOSAIC_COARSE, truth.reshape(MOSAIC_CELLS, MOSAIC_CELL, MOSAIC_CELLS,
                                                        MOSAIC_CELL).mean(axis=(1, 3)))
        sm_paths.append(smap)
        stacks.append(stack)
        truths.append(truth)
    return {"sm": sm_paths, "stacks": stacks, "truth": truths, "parcels": parcels, "coarse": MOSAIC_COARSE,
            "fine": MOSAIC_FINE}
