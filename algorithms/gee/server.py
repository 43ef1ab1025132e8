"""Server-side downscaling on Earth Engine: the same chain as the local one, built as Earth Engine expressions.

Training (:func:`build_training`), per time step:

* the fine factors (:func:`.expressions.build_stack`) are put on the fine grid (target CRS at the fine
  resolution), land cover becomes one 0/1 band per class (``landcover_10``, ...);
* they are averaged onto SMAP's own grid, the grid of Earth Engine's SMAP asset read from the asset
  (:func:`.fetch.smap_native_grid`, the grid fetchgee writes SMAP on; EASE-Grid 2.0 9 km when no grid is
  given), with ``reduceResolution(Reducer.mean)`` + ``reproject`` (class bands become class fractions), as
  the local chain averages the 1 km stack into each SMAP cell;
* SMAP of the step is put on the same grid and added as the ``target`` band;
* samples are drawn on that coarse grid (``Image.sample`` in the SMAP projection), so every sample
  is a different SMAP cell (spatial separation of at least one cell); ``samples_per_step`` cells per
  step at random (seeded, a different seed per step), or all cells when it is 0/None; cells where SMAP or a
  factor is missing are dropped;
* the samples of all training steps are merged and a regressor is trained on them in regression mode:
  ``smileRandomForest``, ``smileCart``, ``libsvm`` (``NU_SVR``, RBF kernel, on factors standardized with the
  training mean and standard deviation, as the local SVR pipeline does) or ``smileGradientTreeBoost``.

Prediction (:func:`build_prediction`), as the local chain (:mod:`..gapfill`, :mod:`..residual`): with ``fill``
(what :func:`plan_downscale` asks), missing factors of a pixel are filled from their SMAP-cell means interpolated
bilinearly between the cell centres (:func:`fill_features`), and the classifier predicts every pixel, pixels
where no factor was observed from the cell means alone (the coarse field), those only in cells with SMAP. The
residual correction (:func:`correct_residual`) then makes each cell's mean of the fine prediction equal SMAP:
'smooth' (the default) spreads the residuals bilinearly between cell centres and corrects them in a fixed number
of rounds, the rest added per cell, so no 9 km steps appear; 'constant' adds each cell's residual to its pixels.
Cell means are ``reduceResolution(mean)`` onto the SMAP grid, spreading is nearest neighbour (constant) or
``resample('bilinear')``; in cells without SMAP 'constant' keeps the plain prediction and 'smooth' its surface,
fading out toward those cells' knots of 0 (locally those knots continue the neighbouring residuals damped by their
correlation, so the surface fades a cell further out; 0 is that rule's limit for uncorrelated residuals, which
needs no reduction over the whole grid here). Pixels still without a value
take their SMAP cell's value. Then ``clamp(lo, hi)``; a second band ``quality`` gives each pixel's path with the
local codes: 1 all factors observed, 2 missing factors filled, 3 coarse field only, 0 no value.

Exports (:func:`build_exports`): one task per time step to Google Drive, Cloud Storage or an Earth Engine
asset, on exactly the fine grid (crs, crsTransform, region) with ``maxPixels`` raised explicitly. The
trained classifier can be saved as an asset (:func:`classifier_export`, random forest and CART only, as
Earth Engine allows) and reused (:func:`load_model`, ``ee.Classifier.load``).

Hyperparameters use the local (scikit-learn) names, mapped by :func:`classifier_args` (table in
``PARAM_MAP``); Earth Engine's own names are accepted too. Nothing here contacts the server: every
function builds expressions, the export tasks are started by :mod:`.tasks`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import ee

from .. import raster
from ..errors import InputError
from ..gapfill import ALL_FACTORS, COARSE_ONLY, FILLED, QUALITY_NODATA
from ..grids import EASE_CELL, EASE_CRS, EASE_X0, EASE_Y0
from ..options import EE_MODELS, EE_RESIDUAL_MODES
from ..raster import Grid
from . import auth
from .catalog import check_record, load_catalog
from .expressions import (
    MAX_REDUCE_PIXELS,
    STEPS,
    BuildOptions,
    build_smap,
    build_stack,
    input_pixels_per_pixel,
    time_steps,
)
from .fetch import area_geometry, check_coverage, fine_grid, pixel_size, smap_grid, smap_native_grid
from .plan import RunPlan
from .request import DEFAULT_CLIP, DEFAULT_MAX_PIXELS, Connection, DownscaleRequest
from .tasks import TaskConfig, task_description

MODEL_TYPES = EE_MODELS.keys
MODEL_LABELS = EE_MODELS.labels
EE_FUNCTIONS = {"rf": "smileRandomForest", "cart": "smileCart", "svr": "libsvm", "gbt": "smileGradientTreeBoost"}
#: Defaults in local names; rf, cart and svr (C, gamma) are those of the local chain (algorithms/train.py).
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "rf": {"n_estimators": 100, "min_samples_leaf": 2, "max_features": 0.2},
    "cart": {"min_samples_leaf": 5, "max_depth": 12},
    "svr": {"C": 1.0, "gamma": "scale", "nu": 0.5},
    "gbt": {"n_estimators": 100, "learning_rate": 0.1, "subsample": 0.7, "max_depth": 3, "loss": "squared_error"},
}
#: Local (scikit-learn) parameter -> Earth Engine argument, per model type. ``max_depth`` has no Earth Engine
#: counterpart: it becomes ``maxNodes = 2 ** max_depth`` (the most leaves a tree of that depth can have).
PARAM_MAP: dict[str, dict[str, str]] = {
    "rf": {"n_estimators": "numberOfTrees", "max_features": "variablesPerSplit",
           "min_samples_leaf": "minLeafPopulation", "max_samples": "bagFraction", "max_leaf_nodes": "maxNodes",
           "max_depth": "maxNodes"},
    "cart": {"min_samples_leaf": "minLeafPopulation", "max_leaf_nodes": "maxNodes", "max_depth": "maxNodes"},
    "svr": {"C": "cost", "nu": "nu", "gamma": "gamma"},
    "gbt": {"n_estimators": "numberOfTrees", "learning_rate": "shrinkage", "subsample": "samplingRate",
            "max_leaf_nodes": "maxNodes", "max_depth": "maxNodes", "loss": "loss"},
}
#: Local parameters that are accepted and have no effect on the server.
IGNORED_PARAMS = ("n_jobs", "random_state", "kernel", "bootstrap", "criterion")
GBT_LOSSES = {"squared_error": "LeastSquares", "ls": "LeastSquares", "absolute_error": "LeastAbsoluteDeviation",
              "lad": "LeastAbsoluteDeviation", "huber": "Huber", "LeastSquares": "LeastSquares",
              "LeastAbsoluteDeviation": "LeastAbsoluteDeviation", "Huber": "Huber"}
#: Classifiers Earth Engine can save as an asset (Export.classifier.toAsset).
SAVABLE = ("rf", "cart")
#: Classes of the categorical factors, per source (they become one 0/1 band each, class fractions when
#: averaged onto SMAP cells). MCD12Q1 LC_Type1: IGBP classes 1-17; ESA WorldCover v200: 10 ... 100.
CLASSES: dict[tuple[str, str], list[int]] = {
    ("landcover", "default"): list(range(1, 18)),
    ("landcover", "worldcover"): [10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100],
}
TARGET = "target"
BAND_NAME = "soil_moisture"
RESIDUAL_MODES = EE_RESIDUAL_MODES.keys
#: The quality band of a gap-filled prediction (the codes of :mod:`..gapfill`).
QUALITY_BAND = "quality"
DESTINATIONS = ("drive", "gcs", "asset")
#: Training samples a model that Earth Engine cannot save (SVR, gradient boosting) may take: every export retrains it.
MAX_EMBEDDED_SAMPLES = 25000


# -- grids and projections -------------------------------------------------------------------------

def smap_projection(coarse_grid: Grid | None = None) -> ee.Projection:
    """SMAP's grid: ``coarse_grid`` (the asset's own grid, :func:`.fetch.smap_native_grid`, as fetchgee writes
    it), else EASE-Grid 2.0 global 9 km (EPSG:6933).

    Parameters
    ----------
    coarse_grid : Grid or None
        SMAP's grid as fetched (None: EASE-Grid 2.0 9 km).

    Returns
    -------
    ee.Projection
        Its CRS and transform.
    """
    if coarse_grid is not None:
        return ee.Projection(ee_crs(coarse_grid), crs_transform(coarse_grid))
    return ee.Projection(EASE_CRS, [EASE_CELL, 0, EASE_X0, 0, -EASE_CELL, EASE_Y0])


def _one_cell(fine: Grid, coarse: Grid | None) -> Grid:
    """One cell of the coarse grid near the middle of the area (an EASE-Grid 2.0 cell when ``coarse`` is None)."""
    if coarse is not None:
        x0, dx, _, y0, _, dy = coarse.transform
        c, r = coarse.width // 2, coarse.height // 2
        return Grid(coarse.crs_wkt, (x0 + c * dx, dx, 0.0, y0 + r * dy, 0.0, dy), 1, 1)
    ease = raster.srs_from_user(EASE_CRS)
    x0, dx, _, y0, _, dy = fine.transform
    probe = Grid(fine.crs_wkt, (x0 + dx * (fine.width // 2), dx, 0.0, y0 + dy * (fine.height // 2), 0.0, dy), 1, 1)
    ex0, _, ex1, ey1 = probe.extent_in(ease.ExportToWkt())
    col = math.floor(((ex0 + ex1) / 2 - EASE_X0) / EASE_CELL)
    row = math.floor((EASE_Y0 - ey1) / EASE_CELL)
    return Grid(ease.ExportToWkt(), (EASE_X0 + col * EASE_CELL, EASE_CELL, 0.0, EASE_Y0 - row * EASE_CELL, 0.0,
                                     -EASE_CELL), 1, 1)


def cell_max_pixels(fine: Grid, coarse: Grid | None = None) -> int:
    """``maxPixels`` of ``reduceResolution`` from ``fine`` onto SMAP's cells (``coarse``, else EASE 9 km): the fine
    pixels along a cell's longest side in the fine CRS, plus one on each edge, squared.

    Parameters
    ----------
    fine : Grid
        The fine grid.
    coarse : Grid or None
        SMAP's grid (None: EASE-Grid 2.0 9 km).

    Returns
    -------
    int
        The ``maxPixels`` value, at most :data:`MAX_REDUCE_PIXELS`.

    Raises
    ------
    InputError
        The fine resolution is too fine for Earth Engine to average into SMAP's cells.
    """
    xmin, ymin, xmax, ymax = _one_cell(fine, coarse).extent_in(fine.crs_wkt)
    side = max(xmax - xmin, ymax - ymin) / abs(fine.res[0])
    n = (math.ceil(side - 1e-9) + 2) ** 2
    if n > MAX_REDUCE_PIXELS:
        raise InputError(f"The fine resolution is too fine for Earth Engine to average into SMAP's cells (more than "
                         f"{MAX_REDUCE_PIXELS} pixels per cell); choose 40 m or coarser (1000 m is usual).")
    return int(n)


def ee_crs(grid: Grid) -> str:
    """The grid's CRS as Earth Engine takes it ('EPSG:n', else WKT).

    Parameters
    ----------
    grid : Grid
        A grid.

    Returns
    -------
    str
        'EPSG:<code>' or WKT.
    """
    from .transport import crs_for_request

    crs = crs_for_request(grid)
    return crs.get("crsCode") or crs["crsWkt"]


def crs_transform(grid: Grid) -> list[float]:
    """Earth Engine's affine transform [xScale, xShear, xTranslation, yShear, yScale, yTranslation].

    Parameters
    ----------
    grid : Grid
        A grid.

    Returns
    -------
    list of float
        The six coefficients, in Earth Engine's order.
    """
    x0, dx, rx, y0, ry, dy = grid.transform
    return [dx, rx, x0, ry, dy, y0]


def fine_projection(grid: Grid) -> ee.Projection:
    """The fine grid's projection as Earth Engine takes it (CRS and transform).

    Parameters
    ----------
    grid : Grid
        The fine grid.

    Returns
    -------
    ee.Projection
        Its CRS and transform.
    """
    return ee.Projection(ee_crs(grid), crs_transform(grid))


def grid_region(grid: Grid) -> ee.Geometry:
    """The grid's extent as a planar rectangle in the grid's CRS.

    Parameters
    ----------
    grid : Grid
        A grid.

    Returns
    -------
    ee.Geometry
        A rectangle (not geodesic) in the grid's CRS.
    """
    xmin, ymin, xmax, ymax = grid.extent
    return ee.Geometry.Rectangle([xmin, ymin, xmax, ymax], ee_crs(grid), False)


def resolution_metres(grid: Grid) -> float:
    """The smallest side of a pixel of ``grid`` in metres on the ground at the area (any CRS unit).

    Parameters
    ----------
    grid : Grid
        A grid.

    Returns
    -------
    float
        Metres (the least of the x and y sides and Earth Engine's nominal size).
    """
    size = pixel_size(grid)
    return min(size.x, size.y, size.nominal)


def grid_options(grid: Grid, **kwargs: Any) -> BuildOptions:
    """Expression options for factors computed on the fine ``grid`` (sizes in metres at the area).

    Parameters
    ----------
    grid : Grid
        The fine grid.
    **kwargs
        Other fields of :class:`.expressions.BuildOptions`.

    Returns
    -------
    BuildOptions
        The options: the grid's CRS and scale, its pixel's ground size and largest side in metres.
    """
    size = pixel_size(grid)
    return BuildOptions(fine_crs=ee_crs(grid), fine_scale=abs(grid.res[0]), fine_metres=size.ground,
                        fine_side_metres=size.largest, **kwargs)


def reduce_max_pixels(fine_metres: float) -> int:
    """``maxPixels`` of ``reduceResolution`` from the fine grid onto SMAP's 9 km cells (whole cells plus edges).

    Parameters
    ----------
    fine_metres : float
        The fine pixel size, in metres.

    Returns
    -------
    int
        The ``maxPixels`` value, at most :data:`MAX_REDUCE_PIXELS`.

    Raises
    ------
    InputError
        The resolution is not positive, or too fine to average into 9 km cells.
    """
    if not fine_metres or fine_metres <= 0:
        raise InputError(f"The fine resolution must be positive (got {fine_metres}).")
    n = (math.ceil(EASE_CELL / fine_metres) + 2) ** 2
    if n > MAX_REDUCE_PIXELS:
        raise InputError(f"The fine resolution ({fine_metres:g} m) is too fine for Earth Engine to average into SMAP's "
                         f"9 km cells (more than {MAX_REDUCE_PIXELS} pixels per cell); choose 40 m or coarser "
                         "(1000 m is usual).")
    return int(n)


# -- hyperparameters -------------------------------------------------------------------------------

def _number(name: str, value: Any, lo: float | None = None, hi: float | None = None, integer: bool = False,
            lo_open: bool = False) -> float | int:
    """``value`` as a number within [lo, hi] (``lo`` excluded when ``lo_open``); InputError naming the range."""
    try:
        num = float(value)
        ok = math.isfinite(num) and not isinstance(value, bool)
    except (TypeError, ValueError):
        ok, num = False, math.nan
    ok = ok and (not integer or num == int(num))
    ok = ok and (lo is None or (num > lo if lo_open else num >= lo)) and (hi is None or num <= hi)
    if not ok:
        rng = "an integer" if integer else "a number"
        if lo is not None:
            rng += f" {'>' if lo_open else '>='} {lo:g}"
        if hi is not None:
            rng += f" and <= {hi:g}"
        raise InputError(f"The parameter {name} must be {rng} (got {value!r}).")
    return int(num) if integer else num


def _variables_per_split(value: Any, n_features: int) -> int:
    """scikit-learn's ``max_features`` as a number of variables (int: as is; float: fraction; sqrt/log2/None)."""
    if value is None:
        return n_features
    if isinstance(value, str):
        key = value.strip().lower()
        if key == "sqrt":
            return max(1, int(math.sqrt(n_features)))
        if key == "log2":
            return max(1, int(math.log2(n_features)))
        if key in ("none", "all", ""):
            return n_features
        raise InputError(f"max_features must be a number, 'sqrt', 'log2' or None (got {value!r}).")
    if isinstance(value, bool):
        raise InputError(f"max_features must be a number, 'sqrt', 'log2' or None (got {value!r}).")
    if isinstance(value, int):
        return int(_number("max_features", value, 1, n_features, integer=True))
    frac = float(_number("max_features", value, 0.0, 1.0, lo_open=True))
    return max(1, int(frac * n_features))


def _gamma(value: Any, n_features: int) -> float:
    """RBF gamma: 'scale'/'auto' -> 1 / n_features (the factors are standardized, variance 1), else the number."""
    if isinstance(value, str) and value.strip().lower() in ("scale", "auto"):
        return 1.0 / n_features
    return float(_number("gamma", value, 0.0, lo_open=True))


def classifier_args(model_type: str, params: dict[str, Any] | None, n_features: int,
                    seed: int | None = 0) -> dict[str, Any]:
    """Earth Engine arguments of the regressor for ``model_type`` from local (scikit-learn) parameter names
    (:data:`PARAM_MAP`) or Earth Engine names, defaults from :data:`DEFAULT_PARAMS`. Raises InputError for
    unknown parameters or bad values, naming the valid ones.

    Parameters
    ----------
    model_type
        One of :data:`MODEL_TYPES`.
    params
        Parameters by scikit-learn or Earth Engine name (None: the defaults).
    n_features
        The number of model features (for variables per split).
    seed
        The random seed (random forest, gradient boosting).

    Returns
    -------
    dict[str, Any]
        Keyword arguments of the Earth Engine regressor.

    Raises
    ------
    InputError
        An unknown model type, no factor, an unknown parameter or loss, or an option Earth Engine's regressor
        does not have (SVR epsilon, another kernel).
    """
    model_type = str(model_type or "").strip().lower()
    if model_type not in MODEL_TYPES:
        raise InputError(f"Unknown model type '{model_type}'; choose one of {', '.join(MODEL_TYPES)}.")
    if n_features < 1:
        raise InputError("Choose at least one factor.")
    mapping = PARAM_MAP[model_type]
    ee_names = sorted(set(mapping.values()))
    given = {k: v for k, v in (params or {}).items() if v is not None and k not in IGNORED_PARAMS}
    if model_type == "svr" and "epsilon" in given:
        raise InputError("Earth Engine's support vector regression is NU_SVR: it has no epsilon (the width of the "
                         "insensitive tube follows from nu, the fraction of support vectors, 0 < nu <= 1); remove "
                         "epsilon and set nu instead.")
    if model_type == "svr" and str((params or {}).get("kernel", "rbf")).lower() != "rbf":
        raise InputError("Only the RBF kernel is supported for support vector regression on Earth Engine.")
    unknown = sorted(k for k in given if k not in mapping and k not in ee_names)
    if unknown:
        raise InputError(f"The {MODEL_LABELS[model_type]} has no parameter(s) {', '.join(unknown)}; valid ones are "
                         f"{', '.join(sorted(mapping))} (or Earth Engine's {', '.join(ee_names)}).")
    local = {k: v for k, v in DEFAULT_PARAMS[model_type].items()
             if k not in given and mapping.get(k) not in {mapping.get(g, g) for g in given}}
    local.update(given)
    out: dict[str, Any] = {}
    for name, value in local.items():
        target = mapping.get(name, name)
        if target == "numberOfTrees":
            value = _number(name, value, 1, 10000, integer=True)
        elif target == "variablesPerSplit":
            value = _variables_per_split(value, n_features) if name != target else \
                _number(name, value, 1, n_features, integer=True)
        elif target == "minLeafPopulation":
            value = _number(name, value, 1, integer=True)
        elif target in ("bagFraction", "samplingRate", "shrinkage"):
            value = _number(name, value, 0.0, 1.0, lo_open=True)
        elif target == "maxNodes":
            if name == "max_depth":
                depth = _number(name, value, 1, 30, integer=True)
                value = 2 ** int(depth)
            else:
                value = _number(name, value, 2, integer=True)
            if "maxNodes" in out:
                value = min(int(out["maxNodes"]), int(value))
        elif target == "cost":
            value = _number(name, value, 0.0, lo_open=True)
        elif target == "nu":
            value = _number(name, value, 0.0, 1.0, lo_open=True)
        elif target == "gamma":
            value = _gamma(value, n_features)
        elif target == "loss":
            if str(value) not in GBT_LOSSES:
                raise InputError(f"Unknown boosting loss '{value}'; choose squared_error, absolute_error or huber.")
            value = GBT_LOSSES[str(value)]
        out[target] = value
    if model_type == "rf" and "bagFraction" not in out:
        out["bagFraction"] = 1.0  # scikit-learn's bootstrap draws as many samples as there are (max_samples=None)
    if model_type == "svr":
        out.update({"svmType": "NU_SVR", "kernelType": "RBF"})
    if model_type in ("rf", "gbt") and seed is not None:
        out["seed"] = int(seed)
    return out


def make_classifier(model_type: str, params: dict[str, Any] | None, n_features: int, seed: int | None = 0
                    ) -> ee.Classifier:
    """The untrained Earth Engine regressor (output mode REGRESSION).

    Parameters
    ----------
    model_type, params, n_features, seed
        As for :func:`classifier_args`.

    Returns
    -------
    ee.Classifier
        The regressor, not yet trained.
    """
    args = classifier_args(model_type, params, n_features, seed)
    factory = getattr(ee.Classifier, EE_FUNCTIONS[model_type.strip().lower()])
    return factory(**args).setOutputMode("REGRESSION")


# -- factors ---------------------------------------------------------------------------------------

def factor_entries(factors: Sequence[str | dict[str, Any]], sources: dict[str, str] | None = None
                   ) -> list[dict[str, Any]]:
    """Catalog entries of ``factors`` (entries given as dicts are used as they are).

    Parameters
    ----------
    factors : Sequence[str or dict[str, Any]]
        Factor ids, or catalog entries.
    sources : dict[str, str] or None
        Factor id -> alternative source (None: the defaults).

    Returns
    -------
    list of dict[str, Any]
        The entries, in the order of ``factors``.

    Raises
    ------
    InputError
        From :meth:`.catalog.Catalog.factors`.
    """
    if factors and all(isinstance(f, dict) for f in factors):
        return [dict(f) for f in factors]  # type: ignore[arg-type]
    return load_catalog().factors([str(f) for f in factors], sources)


def classes_of(entry: dict[str, Any]) -> list[int]:
    """The class codes of a categorical factor (see :data:`CLASSES`).

    Parameters
    ----------
    entry : dict[str, Any]
        A categorical factor's catalog entry.

    Returns
    -------
    list of int
        The class codes.

    Raises
    ------
    InputError
        The classes of the factor's source are not known.
    """
    key = (entry["id"], entry.get("source", "default") or "default")
    if key not in CLASSES:
        raise InputError(f"The classes of the categorical factor '{entry['id']}' (source {key[1]}) are not known to "
                         "the Earth Engine chain; choose another source or leave the factor out.")
    return list(CLASSES[key])


def feature_names(entries: Sequence[dict[str, Any]]) -> list[str]:
    """Training property / band names: continuous factors by id, categorical ones ``<id>_<class>``.

    Parameters
    ----------
    entries : Sequence[dict[str, Any]]
        The factors' catalog entries.

    Returns
    -------
    list of str
        The feature names, in order.
    """
    names: list[str] = []
    for e in entries:
        if e["kind"] == "categorical":
            names += [f"{e['id']}_{c}" for c in classes_of(e)]
        else:
            names.append(e["id"])
    return names


def feature_image(stack: ee.Image, entries: Sequence[dict[str, Any]]) -> ee.Image:
    """The factor stack as model features: continuous bands as they are, categorical ones as 0/1 per class.

    Parameters
    ----------
    stack : ee.Image
        The factor stack, one band per factor id.
    entries : Sequence[dict[str, Any]]
        The factors' catalog entries.

    Returns
    -------
    ee.Image
        Float bands named as :func:`feature_names`.
    """
    bands = []
    for e in entries:
        band = stack.select([e["id"]])
        if e["kind"] == "categorical":
            for c in classes_of(e):
                bands.append(band.eq(c).toFloat().rename([f"{e['id']}_{c}"]))
        else:
            bands.append(band.toFloat())
    return ee.Image.cat(bands)


# -- training --------------------------------------------------------------------------------------

@dataclass
class TrainedModel:
    """A trained (or loaded) Earth Engine regressor and what prediction needs to apply it."""

    classifier: ee.Classifier
    model_type: str
    entries: list[dict[str, Any]]
    features: list[str]
    ee_args: dict[str, Any] = field(default_factory=dict)
    #: SVR: (means, standard deviations) of the training features, ee.List each, applied before classify.
    scaling: tuple[Any, Any] | None = None
    samples: Any = None
    asset_id: str | None = None


def _as_steps(steps: Sequence[Any]) -> list[tuple[dt.date, dt.date, str]]:
    out = []
    for s in steps:
        if len(s) == 3:
            start, end, label = s
        else:
            start, end = s
            label = start.strftime("%Y%m%d")
        out.append((start, end, str(label)))
    if not out:
        raise InputError("There is no time step to train on; check the date range.")
    return out


def training_steps(steps: Sequence[Any], max_steps: int | None) -> list[tuple[dt.date, dt.date, str]]:
    """At most ``max_steps`` time steps, evenly spread over the range (first and last included).

    Parameters
    ----------
    steps
        Time steps in order.
    max_steps
        The most to keep (None or 0: all).

    Returns
    -------
    list[tuple[dt.date, dt.date, str]]
        The steps kept, in order.
    """
    steps = _as_steps(steps)
    if not max_steps or max_steps >= len(steps):
        return steps
    if max_steps == 1:
        return [steps[len(steps) // 2]]
    picks = sorted({round(i * (len(steps) - 1) / (max_steps - 1)) for i in range(max_steps)})
    return [steps[i] for i in picks]


def _region(area: Any) -> ee.Geometry:
    if isinstance(area, ee.Geometry):
        return area
    if isinstance(area, Grid):
        return grid_region(area)
    if isinstance(area, (list, tuple)) and len(area) == 4:
        return ee.Geometry.Rectangle([float(v) for v in area], None, False)
    raise InputError("The area must be an Earth Engine geometry, a grid or a (lon_min, lat_min, lon_max, lat_max) "
                     "box.")


def coarse_features(features: ee.Image, fine_proj: ee.Projection, max_pixels: int,
                    coarse_grid: Grid | None = None) -> ee.Image:
    """Fine features averaged onto SMAP's grid (reduceResolution mean, then reproject to the SMAP projection).

    Parameters
    ----------
    features
        The fine feature image.
    fine_proj
        Its projection.
    max_pixels
        ``maxPixels`` of ``reduceResolution`` (:func:`cell_max_pixels`).
    coarse_grid
        SMAP's grid (None: EASE-Grid 2.0 9 km).

    Returns
    -------
    ee.Image
        The features on SMAP's cells.
    """
    return (features.reproject(fine_proj)
            .reduceResolution(reducer=ee.Reducer.mean(), maxPixels=max_pixels)
            .reproject(smap_projection(coarse_grid)))


def training_samples(area: Any, steps: Sequence[Any], factors: Sequence[str | dict[str, Any]],
                     smap_product: str, smap_layer: str, fine_grid: Grid, samples_per_step: int | None = 1000,
                     seed: int = 0, options: BuildOptions | None = None,
                     coarse_grid: Grid | None = None) -> ee.FeatureCollection:
    """Coarse training samples (features + ``target`` = SMAP, ``date``) of every step, merged; on SMAP's own grid
    ``coarse_grid`` (the asset's, as fetchgee writes it), else on EASE-Grid 2.0 9 km.

    Parameters
    ----------
    area
        Where samples are drawn: an ee.Geometry, a Grid or a lon/lat box.
    steps
        ``(start, end_exclusive, label)`` tuples (:func:`.expressions.time_steps`).
    factors
        Catalog ids or entries, in the model's order.
    smap_product, smap_layer
        The SMAP product ('L4', 'L3E') and layer.
    fine_grid
        The grid the fine factors are computed on.
    samples_per_step
        SMAP cells sampled per step (None or 0: all).
    seed
        The sampling seed.
    options
        Expression options (:class:`.expressions.BuildOptions`).
    coarse_grid
        SMAP's grid (None: EASE-Grid 2.0 9 km).

    Returns
    -------
    ee.FeatureCollection
        One feature per sampled cell and step: the features, ``target`` and ``date``.

    Raises
    ------
    InputError
        ``samples_per_step`` is negative.
    """
    entries = factor_entries(factors)
    names = feature_names(entries)
    region = _region(area)
    fine_proj = fine_projection(fine_grid)
    max_pixels = cell_max_pixels(fine_grid, coarse_grid)
    options = options or grid_options(fine_grid)
    smap_proj = smap_projection(coarse_grid)
    if samples_per_step is not None and int(samples_per_step) < 0:
        raise InputError(f"The number of samples per time step must be 0 (all cells) or more (got {samples_per_step}).")
    per_step = []
    for k, (start, end, label) in enumerate(_as_steps(steps)):
        stack = build_stack(entries, start, end, region, options)
        coarse = coarse_features(feature_image(stack, entries), fine_proj, max_pixels, coarse_grid)
        smap = build_smap(smap_product, smap_layer, start, end, region).reproject(smap_proj)
        paired = coarse.addBands(smap.rename([TARGET]))
        kwargs: dict[str, Any] = {"region": region, "projection": smap_proj, "seed": int(seed) + k,
                                  "geometries": True, "dropNulls": True, "tileScale": 4}
        if coarse_grid is None:
            kwargs["scale"] = EASE_CELL
        if samples_per_step:
            kwargs["numPixels"] = int(samples_per_step)
        samples = paired.select([*names, TARGET]).sample(**kwargs)
        per_step.append(samples.map(lambda f, label=label: ee.Feature(f).set("date", label)))
    return ee.FeatureCollection(per_step).flatten()


def _standardize(samples: ee.FeatureCollection, names: list[str]) -> tuple[ee.FeatureCollection, Any, Any]:
    n = len(names)
    stats = ee.Dictionary(samples.reduceColumns(
        ee.Reducer.mean().repeat(n).combine(ee.Reducer.stdDev().repeat(n), sharedInputs=True), names))
    means = ee.List(stats.get("mean"))
    sds = ee.Array(stats.get("stdDev")).max(1e-12).toList()
    mean_arr, sd_arr = ee.Array(means), ee.Array(sds)

    def scale(feature: Any) -> ee.Feature:
        f = ee.Feature(feature)
        values = ee.Array(f.toDictionary(names).values(names))
        return f.set(ee.Dictionary.fromLists(names, values.subtract(mean_arr).divide(sd_arr).toList()))

    return samples.map(scale), means, sds


def build_training(area: Any, steps: Sequence[Any], factors: Sequence[str | dict[str, Any]], smap_product: str,
                   smap_layer: str, fine_scale: float | Grid, model_type: str = "rf",
                   params: dict[str, Any] | None = None, samples_per_step: int | None = 1000, seed: int = 0,
                   fine_crs: str = "EPSG:6933", options: BuildOptions | None = None,
                   max_steps: int | None = None, coarse_grid: Grid | None = None) -> TrainedModel:
    """Train a regressor on Earth Engine (see the module doc); returns the :class:`TrainedModel` whose
    ``classifier`` is the trained ``ee.Classifier``.

    ``area``: an ee.Geometry, a Grid or a lon/lat box; ``steps``: ``(start, end_exclusive, label)`` tuples
    (:func:`.expressions.time_steps`), at most ``max_steps`` of them used (evenly spread); ``fine_scale``:
    the fine resolution in ``fine_crs`` units (a grid with origin 0) or the fine Grid itself.

    Parameters
    ----------
    area
        Where samples are drawn: an ee.Geometry, a Grid or a lon/lat box.
    steps
        ``(start, end_exclusive, label)`` tuples (:func:`.expressions.time_steps`).
    factors
        Catalog ids or entries, in the model's order.
    smap_product, smap_layer
        The SMAP product ('L4', 'L3E') and layer.
    fine_scale, fine_crs
        The fine resolution in ``fine_crs`` units, or the fine Grid itself.
    model_type, params, seed
        The regressor (:func:`classifier_args`).
    samples_per_step, max_steps
        SMAP cells per step and steps used (None or 0: all).
    options
        Expression options (:class:`.expressions.BuildOptions`).
    coarse_grid
        SMAP's grid (None: EASE-Grid 2.0 9 km).

    Returns
    -------
    TrainedModel
        The trained classifier with its factor entries, features, Earth Engine arguments and (SVR) feature scaling.
    """
    entries = factor_entries(factors)
    names = feature_names(entries)
    grid = fine_scale if isinstance(fine_scale, Grid) else _origin_grid(fine_crs, float(fine_scale))
    model_type = str(model_type or "").strip().lower()
    args = classifier_args(model_type, params, len(names), seed)  # validates before building anything
    samples = training_samples(area, training_steps(steps, max_steps), entries, smap_product, smap_layer, grid,
                               samples_per_step, seed, options, coarse_grid)
    scaling = None
    train_on = samples
    if model_type == "svr":
        train_on, means, sds = _standardize(samples, names)
        scaling = (means, sds)
    factory = getattr(ee.Classifier, EE_FUNCTIONS[model_type])
    classifier = factory(**args).setOutputMode("REGRESSION").train(
        features=train_on, classProperty=TARGET, inputProperties=names)
    return TrainedModel(classifier, model_type, entries, names, args, scaling, samples)


def _origin_grid(crs: str, res: float) -> Grid:
    if not res or res <= 0:
        raise InputError(f"The fine resolution must be positive (got {res}).")
    return Grid(raster.srs_from_user(crs).ExportToWkt(), (0.0, res, 0.0, 0.0, 0.0, -res), 1, 1)


def load_model(asset_id: str, factors: Sequence[str | dict[str, Any]], model_type: str = "rf") -> TrainedModel:
    """A classifier saved with :func:`classifier_export` (``ee.Classifier.load``), for the given factors
    (the same factors, in the same order, as when it was trained).

    Parameters
    ----------
    asset_id
        The classifier asset.
    factors
        Catalog ids or entries, in the model's order.
    model_type
        The type it was trained as.

    Returns
    -------
    TrainedModel
        The loaded classifier with its features.

    Raises
    ------
    InputError
        No asset id is given.
    """
    asset_id = str(asset_id or "").strip()
    if not asset_id:
        raise InputError("No classifier asset id was given; give the asset id the classifier was saved to.")
    entries = factor_entries(factors)
    classifier = ee.Classifier.load(asset_id).setOutputMode("REGRESSION")
    return TrainedModel(classifier, model_type, entries, feature_names(entries), asset_id=asset_id)


# -- prediction ------------------------------------------------------------------------------------

#: Smooth residual correction: correction rounds on the server (each one a bilinear spread and a cell mean). On
#: the test scene of tests/unit/test_gee_gapfill.py the seam ratio no longer changes after 2-3 rounds.
SMOOTH_ROUNDS = 3


def cell_means(image: ee.Image, fine_proj: ee.Projection, max_pixels: int, coarse_grid: Grid | None = None
               ) -> ee.Image:
    """Mean of ``image``'s valid fine pixels in each SMAP cell (``reduceResolution(mean)`` onto SMAP's grid).

    Parameters
    ----------
    image
        A fine image (any bands).
    fine_proj
        The fine grid's projection.
    max_pixels
        ``maxPixels`` of ``reduceResolution`` (:func:`cell_max_pixels`).
    coarse_grid
        SMAP's grid (None: EASE-Grid 2.0 9 km).

    Returns
    -------
    ee.Image
        The cell means on SMAP's grid, masked where a cell has no valid pixel.
    """
    return (image.reproject(fine_proj).reduceResolution(reducer=ee.Reducer.mean(), maxPixels=max_pixels)
            .reproject(smap_projection(coarse_grid)))


def spread_bilinear(coarse: ee.Image, fine_proj: ee.Projection) -> ee.Image:
    """A coarse image interpolated bilinearly between the cell centres onto the fine grid (knots must be unmasked).

    Parameters
    ----------
    coarse
        An image whose default projection is SMAP's grid (the result of a ``reproject`` onto it).
    fine_proj
        The fine grid's projection.

    Returns
    -------
    ee.Image
        The interpolated surface on the fine grid.
    """
    return coarse.resample("bilinear").reproject(fine_proj)


def fill_features(features: ee.Image, fine_proj: ee.Projection, max_pixels: int, coarse_grid: Grid | None = None
                  ) -> tuple[ee.Image, ee.Image, ee.Image]:
    """Missing factors of each fine pixel filled from their coarse-cell means, interpolated bilinearly between the
    cell centres (the default of the local chain, :mod:`..gapfill`).

    Each feature band is averaged over its observed pixels in every SMAP cell; the surface through those cell
    means (knots at the cell centres) is the normalized bilinear interpolation of the knots that have a mean
    (``spread(mean x has) / spread(has)``), so a cell where the factor was observed nowhere borrows from its
    neighbours (the local chain takes the nearest cell's mean); pixels with no neighbouring mean at all stay
    masked.

    Parameters
    ----------
    features
        The fine model features (:func:`feature_image`), masked where a factor is missing.
    fine_proj
        The fine grid's projection.
    max_pixels
        ``maxPixels`` of ``reduceResolution``.
    coarse_grid
        SMAP's grid (None: EASE-Grid 2.0 9 km).

    Returns
    -------
    tuple[ee.Image, ee.Image, ee.Image]
        The filled features; 1 where every factor was observed (else 0); 1 where at least one was (else 0).
    """
    coarse_proj = smap_projection(coarse_grid)
    means = cell_means(features, fine_proj, max_pixels, coarse_grid)
    has = means.mask().gt(0).unmask(0, False).reproject(coarse_proj)
    knots = means.unmask(0, False).multiply(has).reproject(coarse_proj)
    surface = spread_bilinear(knots, fine_proj).divide(spread_bilinear(has, fine_proj))
    observed = features.mask().gt(0)
    all_observed = observed.reduce(ee.Reducer.min())
    any_observed = observed.reduce(ee.Reducer.max())
    return features.unmask(surface, False), all_observed, any_observed


def correct_residual(pred: ee.Image, smap_cells: ee.Image, residual: str, fine_proj: ee.Projection,
                     max_pixels: int, coarse_grid: Grid | None = None) -> ee.Image:
    """The fine prediction corrected so that its mean over each SMAP cell's valid pixels equals SMAP.

    'constant': each cell's residual (SMAP minus the cell mean of the prediction) is added to its pixels (nearest
    neighbour). 'smooth' (:mod:`..residual`'s smooth mode in Earth Engine operations): the correction is a bilinear
    surface through one knot per cell (at the cell centre), starting from the residuals; each of
    :data:`SMOOTH_ROUNDS` rounds adds to the knots what each cell's mean still misses, and
    what is left after the rounds is added as a constant per cell, so each cell's mean is kept exactly. Knots of
    cells without a residual are 0. Pixels whose cell has no residual (no SMAP) keep the plain prediction in
    'constant' mode; in 'smooth' mode they take the surface, which fades out toward those 0 knots (no step at the
    edge of the cell).

    Parameters
    ----------
    pred
        The one-band fine prediction.
    smap_cells
        SMAP on its own grid, one band (masked where missing).
    residual
        'constant' or 'smooth'.
    fine_proj
        The fine grid's projection.
    max_pixels
        ``maxPixels`` of ``reduceResolution``.
    coarse_grid
        SMAP's grid (None: EASE-Grid 2.0 9 km).

    Returns
    -------
    ee.Image
        The corrected prediction (masked where ``pred`` is).

    Raises
    ------
    InputError
        ``residual`` is neither 'constant' nor 'smooth'.
    """
    if residual not in ("constant", "smooth"):
        raise InputError(f"Unknown residual correction '{residual}'; use constant or smooth.")
    coarse_proj = smap_projection(coarse_grid)
    resid = smap_cells.subtract(cell_means(pred, fine_proj, max_pixels, coarse_grid))
    if residual == "constant":
        return pred.add(resid.reproject(fine_proj).unmask(0, False))  # nearest: constant per SMAP cell
    valid = pred.mask()
    knots = resid.unmask(0, False).reproject(coarse_proj)
    for _ in range(SMOOTH_ROUNDS):
        missed = resid.subtract(cell_means(spread_bilinear(knots, fine_proj).updateMask(valid), fine_proj,
                                           max_pixels, coarse_grid)).unmask(0, False)
        knots = knots.add(missed).reproject(coarse_proj)
    surface = spread_bilinear(knots, fine_proj)
    left = resid.subtract(cell_means(surface.updateMask(valid), fine_proj, max_pixels, coarse_grid))
    # pixels of cells without a residual take the surface too (no leftover there): it fades out toward their 0 knots
    # instead of stopping with a step at the cell's edge (the local chain continues the neighbouring residuals into
    # those knots, damped by their correlation, and so fades a cell further out; 0 knots are its uncorrelated limit)
    return pred.add(surface.add(left.reproject(fine_proj).unmask(0, False)).unmask(0, False))


def build_prediction(model: TrainedModel | ee.Classifier, stack: ee.Image, smap: ee.Image | None,
                     residual: str = "smooth", clip: tuple[float, float] | None = DEFAULT_CLIP,
                     fine_grid: Grid | None = None, coarse_grid: Grid | None = None, fill: bool = False) -> ee.Image:
    """Soil moisture on the fine grid for one time step: one float band ``soil_moisture``; with ``fill`` a gap-free
    map and a second band ``quality`` (the codes of :mod:`..gapfill`).

    ``model``: a :class:`TrainedModel` (its factors are expanded and, for SVR, standardized) or an
    ``ee.Classifier`` applied to ``stack`` as it is. ``smap``: SMAP of the same step (needed by residual
    correction). ``fine_grid``: the grid the fine factors are computed on (default: the stack's own
    projection). ``clip``: (lo, hi) for ``clamp``, None for no clamping.

    With ``fill`` (a :class:`TrainedModel` and ``fine_grid`` needed), as the local chain: missing factors are
    filled from their cell means (:func:`fill_features`) and the model predicts every pixel, also pixels where no
    factor was observed (from the cell means alone: the coarse field), those only in cells with a SMAP value;
    then the residual correction (:func:`correct_residual`); pixels still without a value (a factor observed in
    no cell around) take their SMAP cell's value. ``quality``: 1 all factors observed, 2 missing factors filled,
    3 coarse field only, 0 no value.

    Parameters
    ----------
    model
        A :class:`TrainedModel` or an ``ee.Classifier``.
    stack
        The factor image of the step.
    smap
        SMAP of the step, or None without residual correction.
    residual
        'smooth', 'constant' or 'none'.
    clip
        (low, high) for ``clamp``, or None.
    fine_grid
        The fine grid (None: the stack's own projection).
    coarse_grid
        SMAP's grid (None: EASE-Grid 2.0 9 km).
    fill
        Fill gaps and add the ``quality`` band.

    Returns
    -------
    ee.Image
        A float band ``soil_moisture`` (and, with ``fill``, a float band ``quality``).

    Raises
    ------
    InputError
        An unknown residual mode, residual correction without SMAP, an empty clip range, or ``fill`` without a
        :class:`TrainedModel` and its fine grid.
    """
    residual = (residual or "none").strip().lower()
    if residual not in RESIDUAL_MODES:
        raise InputError(f"Unknown residual correction '{residual}'; use one of {', '.join(RESIDUAL_MODES)}.")
    if residual != "none" and smap is None:
        raise InputError("Residual correction needs SMAP of the same time step; give it, or set residual correction "
                         "off.")
    if clip is not None and not clip[0] < clip[1]:
        raise InputError(f"The clip range {clip[0]:g}..{clip[1]:g} is empty; the minimum must be below the maximum.")
    if fill and (not isinstance(model, TrainedModel) or fine_grid is None):
        raise InputError("Gap filling on Earth Engine needs the trained model with its factors and the fine grid.")
    fine_proj = fine_projection(fine_grid) if fine_grid is not None else stack.projection()
    max_pixels = cell_max_pixels(fine_grid, coarse_grid) if fine_grid is not None else MAX_REDUCE_PIXELS
    smap_cells = None if smap is None else ee.Image(smap).reproject(smap_projection(coarse_grid)).rename([BAND_NAME])
    all_observed = any_observed = None
    if isinstance(model, TrainedModel):
        features = feature_image(stack, model.entries)
        if fill:
            features, all_observed, any_observed = fill_features(features, fine_proj, max_pixels, coarse_grid)
        if model.scaling is not None:
            means, sds = model.scaling
            features = (features.subtract(ee.Image.constant(means).rename(model.features))
                        .divide(ee.Image.constant(sds).rename(model.features)))
        classifier = model.classifier
    else:
        features, classifier = stack, model
    pred = features.reproject(fine_proj).classify(classifier, BAND_NAME).toFloat()
    if any_observed is not None:  # no factor observed: the coarse field, only where the cell has SMAP
        allowed = any_observed if smap_cells is None else \
            any_observed.max(smap_cells.mask().gt(0).reproject(fine_proj).unmask(0, False))
        pred = pred.updateMask(allowed)
    if residual != "none":
        pred = correct_residual(pred, smap_cells, residual, fine_proj, max_pixels, coarse_grid)
    quality = None
    if fill:
        codes = (ee.Image.constant(COARSE_ONLY).where(any_observed, FILLED).where(all_observed, ALL_FACTORS)
                 .where(pred.mask().Not(), COARSE_ONLY))
        if smap_cells is not None:  # still no value: the SMAP cell's value
            pred = pred.unmask(smap_cells.reproject(fine_proj), False)
        quality = codes.updateMask(pred.mask()).unmask(QUALITY_NODATA, False).rename([QUALITY_BAND]).toFloat()
    if clip is not None:
        pred = pred.clamp(float(clip[0]), float(clip[1]))
    out = pred.rename([BAND_NAME]).toFloat()
    return out if quality is None else out.addBands(quality)


# -- exports ---------------------------------------------------------------------------------------

def fingerprint(request: dict[str, Any]) -> str:
    """A short hash of the request parameters (tasks of a changed request are not taken for finished).

    Parameters
    ----------
    request : dict[str, Any]
        The request's parameters (JSON-like; other values as text).

    Returns
    -------
    str
        16 hexadecimal digits of its sha256.
    """
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _split_target(destination: str, target: str | None) -> tuple[str, str]:
    """(target, path prefix inside it): Drive folder, Cloud Storage bucket[/folder], or asset folder."""
    target = (target or "").strip().strip("/")
    if destination == "drive":
        return target or "smdownscale", ""
    if destination == "gcs":
        if not target:
            raise InputError("Export to Cloud Storage needs a bucket name (optionally bucket/folder); give it, or "
                             "export to Google Drive.")
        bucket, _, folder = target.partition("/")
        return bucket, (folder.strip("/") + "/") if folder.strip("/") else ""
    if not target:
        raise InputError("Export to an Earth Engine asset needs an asset folder, e.g. "
                         "projects/<your-project>/assets/smdownscale; give it, or export to Google Drive.")
    return target, ""


def build_exports(images: Sequence[tuple[str, ee.Image]], destination: str, target: str | None, fine_grid: Grid,
                  prefix: str = "soil_moisture_", max_pixels: float = DEFAULT_MAX_PIXELS,
                  request_fingerprint: str = "", nodata: float = raster.NODATA_F32) -> list[TaskConfig]:
    """One export task configuration per ``(label YYYYMMDD, image)``: ``fileNamePrefix``/asset name
    ``<prefix><label>``, on exactly ``fine_grid`` (crs, crsTransform, region), ``maxPixels`` raised.

    ``destination``: 'drive' (``target`` = folder), 'gcs' (bucket or bucket/folder) or 'asset' (asset folder).
    File exports write masked pixels as ``nodata`` (float32); assets keep the mask.

    Parameters
    ----------
    images
        ``(label YYYYMMDD, image)`` pairs.
    destination, target
        Where the exports go.
    fine_grid
        The exact output grid.
    prefix
        File or asset name prefix.
    max_pixels
        The exports' ``maxPixels``.
    request_fingerprint
        Names the request in every task's fingerprint.
    nodata
        The value of masked pixels in files.

    Returns
    -------
    list[TaskConfig]
        One task per image, in order.

    Raises
    ------
    InputError
        An unknown destination, ``max_pixels`` below 1, or two exports with one name.
    """
    destination = str(destination or "").strip().lower()
    if destination not in DESTINATIONS:
        raise InputError(f"Unknown export destination '{destination}'; choose drive, gcs or asset.")
    if not max_pixels or max_pixels < 1:
        raise InputError(f"maxPixels must be at least 1 (got {max_pixels}).")
    where, folder = _split_target(destination, target)
    crs = ee_crs(fine_grid)
    grid_kwargs = {"crs": crs, "crsTransform": crs_transform(fine_grid), "region": grid_region(fine_grid),
                   "maxPixels": float(max_pixels)}
    configs = []
    seen: set[str] = set()
    for label, image in images:
        name = f"{prefix}{label}"
        description = task_description(f"smdownscale {name}")
        if description in seen:
            raise InputError(f"Two exports are both named {name}; give each time step its own label.")
        seen.add(description)
        kwargs: dict[str, Any] = {"description": description, **grid_kwargs}
        if destination == "asset":
            asset_id = f"{where}/{name}"
            kwargs.update({"image": ee.Image(image).toFloat(), "assetId": asset_id,
                           "pyramidingPolicy": {".default": "mean"}})
            file_prefix = asset_id
        else:
            file_prefix = f"{folder}{name}"
            kwargs.update({"image": ee.Image(image).toFloat().unmask(nodata, False), "fileNamePrefix": file_prefix,
                           "fileFormat": "GeoTIFF"})
            kwargs["folder" if destination == "drive" else "bucket"] = where
        date = _label_date(label)
        configs.append(TaskConfig(description=description, kind="image", destination=destination, target=where,
                                  file_prefix=file_prefix, date=date, export_kwargs=kwargs,
                                  fingerprint=fingerprint({"request": request_fingerprint, "task": description,
                                                           "destination": destination, "target": where,
                                                           "prefix": file_prefix})))
    return configs


def classifier_export(model: TrainedModel, asset_id: str, request_fingerprint: str = "") -> TaskConfig:
    """The task saving the trained classifier as an Earth Engine asset (random forest and CART only).

    Parameters
    ----------
    model
        The trained model.
    asset_id
        Where to save it.
    request_fingerprint
        Names the request in the task's fingerprint.

    Returns
    -------
    TaskConfig
        The classifier export task.

    Raises
    ------
    InputError
        No asset id, or a model Earth Engine cannot save.
    """
    asset_id = str(asset_id or "").strip().strip("/")
    if not asset_id:
        raise InputError("No asset id was given for the classifier; give one, e.g. "
                         "projects/<your-project>/assets/smdownscale_rf.")
    if model.model_type not in SAVABLE:
        raise InputError(f"Earth Engine can save only random forest and CART classifiers as assets, not a "
                         f"{MODEL_LABELS.get(model.model_type, model.model_type)}; choose RF or CART, or leave the "
                         "classifier asset empty.")
    description = task_description(f"smdownscale classifier {asset_id.rsplit('/', 1)[-1]}")
    return TaskConfig(description=description, kind="classifier", destination="asset", target=asset_id,
                      file_prefix=asset_id, date=None,
                      export_kwargs={"classifier": model.classifier, "description": description, "assetId": asset_id},
                      fingerprint=fingerprint({"request": request_fingerprint, "task": description,
                                               "asset": asset_id}))


@dataclass
class Plan:
    """Everything :func:`plan_downscale` built: the export tasks and the request they come from."""

    configs: list[TaskConfig]
    request: dict[str, Any]
    model: TrainedModel
    fine_grid: Grid
    coarse_grid: Grid
    n_steps: int
    project: str
    #: Source pixels Earth Engine reads per fine pixel of the factor stack.
    stack_cost: float = 1.0
    #: Coarse cells the training samples are drawn from (all training steps; 0 when a classifier is reused).
    training_cells: int = 0
    training_steps: int = 0
    #: The model as trained (its graph), also when the exports load it from the saved asset.
    trained: Any = None


@dataclass
class _Checked:
    """A :class:`.request.DownscaleRequest` with its choices normalized and checked, and what they resolve to."""

    request: DownscaleRequest
    steps: list[tuple[dt.date, dt.date, str]]
    entries: list[dict[str, Any]]
    smap_entry: dict[str, Any]
    ee_args: dict[str, Any]
    train_steps: list[tuple[dt.date, dt.date, str]]
    geom: Any
    srs: Any

    @property
    def train_once(self) -> bool:
        """A savable model trained here: one classifier task, every export loads the saved classifier."""
        return not self.request.classifier_asset and self.request.model_type in SAVABLE

    @property
    def n_train(self) -> int:
        return 0 if self.request.classifier_asset else len(self.train_steps)


def _check_request(request: DownscaleRequest) -> _Checked:
    """Every check that needs no request to Earth Engine; choices normalized (lowercase, stripped)."""
    steps = time_steps(request.start, request.end, request.step)
    model_type = str(request.model_type or "").strip().lower()
    if model_type not in MODEL_TYPES:
        raise InputError(f"Unknown model type '{model_type}'; choose one of {', '.join(MODEL_TYPES)}.")
    residual = (request.residual or "none").strip().lower()
    if residual not in RESIDUAL_MODES:
        raise InputError(f"Unknown residual correction '{residual}'; use one of {', '.join(RESIDUAL_MODES)}.")
    destination = str(request.destination or "").strip().lower()
    if destination not in DESTINATIONS:
        raise InputError(f"Unknown export destination '{destination}'; choose drive, gcs or asset.")
    _split_target(destination, request.destination_path)
    request = replace(request, model_type=model_type, residual=residual, destination=destination,
                      sources=dict(request.sources or {}))
    entries = load_catalog().factors(list(request.factors), request.sources)
    smap_entry = load_catalog().smap(request.smap_product, request.smap_layer)
    check_record(smap_entry, steps[0][0])
    if request.classifier_asset and request.save_classifier_asset:
        raise InputError("A reused classifier is already saved; leave 'save classifier as asset' empty when a "
                         "classifier asset is reused.")
    if request.save_classifier_asset and model_type not in SAVABLE:
        raise InputError(f"Earth Engine can save only random forest and CART classifiers as assets, not a "
                         f"{MODEL_LABELS[model_type]}; choose RF or CART, or leave the classifier asset empty.")
    ee_args = {} if request.classifier_asset else classifier_args(model_type, request.params,
                                                                  len(feature_names(entries)), request.seed)
    train_steps = training_steps(steps, request.max_training_steps)
    geom, srs = area_geometry(request.area, request.area_crs)
    check_coverage(entries, geom, srs)
    ease = smap_grid(geom, srs)  # input checks on the EASE-Grid 2.0 lattice before anything is sent
    cell_max_pixels(fine_grid(ease, request.target_crs, float(request.fine_resolution)), ease)
    return _Checked(request, steps, entries, smap_entry, ee_args, train_steps, geom, srs)


def _samples_per_step(checked: _Checked, coarse: Grid) -> int:
    """Training cells per step; InputError when a model Earth Engine cannot save would carry too many."""
    request = checked.request
    per_step = coarse.size if not request.samples_per_step else min(int(request.samples_per_step), coarse.size)
    n_train = checked.n_train
    if not request.classifier_asset and not checked.train_once and per_step * n_train > MAX_EMBEDDED_SAMPLES:
        raise InputError(f"Earth Engine cannot save a {MODEL_LABELS[request.model_type]}, so each of the "
                         f"{len(checked.steps)} exports retrains it, here on up to {per_step * n_train:,} samples "
                         f"({n_train} training steps x {per_step:,} cells): more than the {MAX_EMBEDDED_SAMPLES:,} "
                         "allowed. Lower the samples per step or the training steps, or choose random forest or CART "
                         "(trained once and saved).")
    return per_step


def _request_record(checked: _Checked, fine: Grid, coarse: Grid, smap_proj: dict[str, Any],
                    per_step: int) -> dict[str, Any]:
    """The request as the task manifest records it; its fingerprint names the tasks and the classifier."""
    request, steps, entries = checked.request, checked.steps, checked.entries
    srs = checked.srs
    xmin, xmax, ymin, ymax = checked.geom.GetEnvelope()
    n_train = checked.n_train
    return {
        "area": {"bbox": [xmin, ymin, xmax, ymax], "crs": srs.GetAuthorityName(None) and
                 f"{srs.GetAuthorityName(None)}:{srs.GetAuthorityCode(None)}" or srs.ExportToWkt()},
        "start": steps[0][0].isoformat(), "end": (steps[-1][1] - dt.timedelta(days=1)).isoformat(),
        "step": STEPS[str(request.step).strip().lower().replace(" ", "")], "factors": [e["id"] for e in entries],
        "sources": {e["id"]: e.get("source", "default") for e in entries}, "features": feature_names(entries),
        "smap_product": request.smap_product, "smap_layer": request.smap_layer, "model_type": request.model_type,
        "params": {k: v for k, v in (request.params or {}).items() if v is not None},
        "ee_classifier_args": checked.ee_args,
        "classifier_asset": request.classifier_asset or None,
        "save_classifier_asset": request.save_classifier_asset or None,
        "training": {"once": checked.train_once, "steps": n_train, "samples": per_step * n_train,
                     "runs": 0 if request.classifier_asset else (1 if checked.train_once else len(steps))},
        "samples_per_step": request.samples_per_step or 0, "training_steps": [s[2] for s in checked.train_steps],
        "seed": request.seed, "residual": request.residual,
        "clip": list(request.clip) if request.clip is not None else None, "crs": request.target_crs,
        "resolution": float(request.fine_resolution),
        "fine_grid": {"transform": list(fine.transform), "width": fine.width, "height": fine.height},
        "smap_grid": {"crs": smap_proj["crs"], "transform": list(coarse.transform), "width": coarse.width,
                      "height": coarse.height, "source": f"{smap_proj['collection']} (the asset's own grid)"},
        "window_days": request.window_days, "orbit_pass": request.orbit_pass, "destination": request.destination,
        "destination_path": request.destination_path or None, "max_pixels": float(request.max_pixels),
    }


def plan_downscale(request: DownscaleRequest, connection: Connection | None = None) -> Plan:
    """Check the request, initialize Earth Engine and build the export tasks of the whole chain: the classifier
    (trained on up to ``max_training_steps`` steps, or loaded from ``classifier_asset``), one soil moisture
    export per time step, and the classifier export when ``save_classifier_asset`` is given.

    Train once: a random forest or CART is trained by one classifier export task (to ``save_classifier_asset``,
    else ``<asset folder or projects/<project>/assets>/smdownscale_classifier_<request fingerprint>``) and every
    soil moisture export loads it (``ee.Classifier.load``) and starts after it (``TaskConfig.after``). Models
    Earth Engine cannot save (SVR, gradient boosting) are retrained inside every export: their training table is
    limited to :data:`MAX_EMBEDDED_SAMPLES` samples and the cost is stated in the plan (``request["training"]``).

    Grids are those of :mod:`.fetch`: SMAP's EASE-Grid 2.0 cells covering the area and the fine grid in
    ``target_crs`` at ``fine_resolution`` over the same cells, so files match what fetchgee + downscale write.

    Parameters
    ----------
    request
        Area, dates, factors, model, residual correction and exports (:class:`.request.DownscaleRequest`).
    connection
        Earth Engine project, credentials and endpoint (:func:`.auth.initialize`).

    Returns
    -------
    Plan
        The export tasks in submission order, the request record, the model and the grids.

    Raises
    ------
    InputError
        A bad choice (model, residual mode, destination, classifier assets, too many embedded samples, an area
        or resolution Earth Engine cannot take), named with its fix; raised before any export is built.
    GeeError
        Earth Engine cannot be initialized or cannot describe SMAP's grid.
    """
    checked = _check_request(request)
    request = checked.request
    connection = connection or Connection()
    project_id = auth.initialize(connection.project, connection.credentials, connection.url)
    coarse, smap_proj = smap_native_grid(checked.smap_entry, checked.geom, checked.srs, checked.steps[0][0])
    fine = fine_grid(coarse, request.target_crs, float(request.fine_resolution))
    cell_max_pixels(fine, coarse)
    per_step = _samples_per_step(checked, coarse)
    record = _request_record(checked, fine, coarse, smap_proj, per_step)
    request_fp = fingerprint(record)
    save_asset = request.save_classifier_asset
    if checked.train_once and not save_asset:  # one classifier named after the request
        root = (request.destination_path or "").strip().strip("/") if request.destination == "asset" else \
            f"projects/{project_id}/assets"
        save_asset = f"{root}/smdownscale_classifier_{request_fp}"
        record["training"]["classifier_asset"] = save_asset
    options = grid_options(fine, window_days=request.window_days, orbit_pass=request.orbit_pass,
                           sources=request.sources)
    model, trained, configs = _model_tasks(checked, fine, coarse, options, save_asset, request_fp)
    exports = _prediction_exports(checked, model, fine, coarse, options, request_fp)
    if checked.train_once:
        for cfg in exports:
            cfg.after = configs[0].description
    configs += exports
    return Plan(configs, record, model, fine, coarse, len(checked.steps), project_id,
                stack_cost=input_pixels_per_pixel(checked.entries, options), training_cells=per_step * checked.n_train,
                training_steps=checked.n_train, trained=trained)


def _model_tasks(checked: _Checked, fine: Grid, coarse: Grid, options: BuildOptions, save_asset: str | None,
                 request_fp: str) -> tuple[TrainedModel, TrainedModel, list[TaskConfig]]:
    """The model the exports use, the model as trained, and the classifier export task (when it is saved)."""
    request = checked.request
    if request.classifier_asset:
        model = load_model(request.classifier_asset, checked.entries, request.model_type)
    else:
        model = build_training(grid_region(coarse), checked.train_steps, checked.entries, request.smap_product,
                               request.smap_layer, fine, request.model_type, request.params,
                               request.samples_per_step, request.seed, options=options, coarse_grid=coarse)
    trained = model
    configs = []
    if save_asset:
        configs.append(classifier_export(model, save_asset, request_fp))
        if checked.train_once:  # every export loads the saved classifier: Earth Engine trains once
            model = load_model(save_asset, checked.entries, request.model_type)
    return model, trained, configs


def _prediction_exports(checked: _Checked, model: TrainedModel, fine: Grid, coarse: Grid, options: BuildOptions,
                        request_fp: str) -> list[TaskConfig]:
    """One soil moisture export per time step."""
    request = checked.request
    region = grid_region(coarse)
    images = []
    for s0, s1, label in checked.steps:
        stack = build_stack(checked.entries, s0, s1, region, options)
        smap = build_smap(request.smap_product, request.smap_layer, s0, s1, region) \
            if request.residual != "none" else None
        images.append((label, build_prediction(model, stack, smap, request.residual, request.clip, fine, coarse,
                                               fill=True)))
    return build_exports(images, request.destination, request.destination_path, fine,
                         max_pixels=request.max_pixels, request_fingerprint=request_fp)


def plan_table(plan: Plan) -> RunPlan:
    """The dry run of :func:`plan_downscale`: one row per export task, with the training it carries.

    Parameters
    ----------
    plan : Plan
        The planned export tasks.

    Returns
    -------
    RunPlan
        One row per task, the training and the notes.
    """
    run_plan = RunPlan("downscalegee")
    fine, coarse = plan.fine_grid, plan.coarse_grid
    train_source = plan.training_steps * (fine.size * plan.stack_cost + coarse.size)
    embedded = plan.model.asset_id is None  # the exports carry the training graph (else a saved classifier)
    for cfg in plan.configs:
        if cfg.kind == "classifier":
            run_plan.add("", "classifier", "tasks", 1, plan.training_cells, 0, train_source, 1)
            continue
        nbytes = fine.size * 4 * 2  # soil_moisture and quality, float32
        runs = 1 if embedded and plan.training_steps else 0
        run_plan.add(cfg.date or "", "soil_moisture", "tasks", 1, fine.size, nbytes,
                     fine.size * plan.stack_cost + runs * train_source, runs)
    run_plan.notes.append(f"training: {plan.training_steps} step(s), {plan.training_cells:,} coarse cell(s) sampled; "
                          + ("the classifier is reused, no training" if plan.model.asset_id else
                             f"{run_plan.training_runs} training run(s) on Earth Engine"))
    run_plan.notes.append("bytes: float32 GeoTIFF written by each export (soil moisture and quality bands); "
                          "source_pixels: pixels Earth Engine reads")
    return run_plan


def _label_date(label: str) -> str | None:
    try:
        return dt.datetime.strptime(str(label), "%Y%m%d").date().isoformat()
    except ValueError:
        return None


__all__ = ["MODEL_TYPES", "PARAM_MAP", "DEFAULT_PARAMS", "TrainedModel", "build_training", "build_prediction",
           "cell_means", "spread_bilinear", "fill_features", "correct_residual",
           "build_exports", "classifier_export", "classifier_args", "make_classifier", "load_model",
           "training_samples", "training_steps", "feature_names", "feature_image", "smap_projection"]
