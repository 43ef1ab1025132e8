"""Model training at the coarse (SMAP) scale with spatial-block and random cross-validation.

Scale-aware training: the 1 km factors are aggregated onto each date's SMAP grid
(:func:`features.coarse_pairs`), a regressor is fitted to SMAP there, and the fitted model is later
applied to the 1 km factors (categorical factors are class fractions at both scales).

Cross-validation: spatial folds group coarse cells into square blocks of ``cv_block_cells`` cells
(GroupKFold, so a block is never in training and test at once, on any date); random K-fold over
samples is reported too, labelled optimistic, since neighbouring cells are autocorrelated.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from . import model_io
from .errors import Canceled, InputError
from .features import Pairs, coarse_pairs
from .metrics import METRIC_NAMES, metrics
from .raster import IsCanceled, Progress, check_output_path, never_canceled, no_progress

MODEL_TYPES = ("rf", "svr", "cart")
MODEL_LABELS = {"rf": "random forest", "svr": "support vector regression", "cart": "regression tree (CART)"}
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "rf": {"n_estimators": 100, "min_samples_leaf": 2, "max_features": 1.0},
    "svr": {"C": 1.0, "epsilon": 0.005, "gamma": "scale", "kernel": "rbf"},
    "cart": {"min_samples_leaf": 5, "max_depth": 12},
}
#: SVR fits grow with the square of the samples: larger training sets are subsampled (seeded).
SVR_MAX_SAMPLES = 20000
#: Each random forest tree draws at most this many bootstrap samples (100 trees on 50,000 samples of
#: 10 features take about 40 s on 2 cores; a region-wide, multi-date set can hold 10x more cells).
RF_MAX_TREE_SAMPLES = 50000
#: Cross-validation forests are capped at this many trees (scikit-learn fits cannot be interrupted, so
#: CV fits are kept short); the CV metrics then slightly understate the final, larger forest.
CV_MAX_TREES = 50


@dataclass
class TrainResult:
    """Model metadata (as saved) and the pooled spatial cross-validation metrics."""

    meta: dict[str, Any]
    metrics: dict[str, float]


def make_estimator(model_type: str, params: dict[str, Any] | None = None, seed: int = 0, n_jobs: int = -1) -> Any:
    """An unfitted scikit-learn regressor for 'rf', 'svr' or 'cart' with the defaults overridden by ``params``."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR
    from sklearn.tree import DecisionTreeRegressor

    model_type = (model_type or "").lower()
    if model_type not in MODEL_TYPES:
        raise InputError(f"Unknown model type '{model_type}'; choose one of {', '.join(MODEL_TYPES)}.")
    full = dict(DEFAULT_PARAMS[model_type])
    full.update(params or {})
    cls = {"rf": RandomForestRegressor, "svr": SVR, "cart": DecisionTreeRegressor}[model_type]
    valid = set(cls().get_params())
    unknown = sorted(set(full) - valid)
    if unknown:
        raise InputError(f"The {MODEL_LABELS[model_type]} has no parameter(s) {', '.join(unknown)}; valid ones are "
                         f"{', '.join(sorted(valid))}.")
    try:
        if model_type == "rf":
            return RandomForestRegressor(random_state=seed, n_jobs=n_jobs, **full)
        if model_type == "cart":
            return DecisionTreeRegressor(random_state=seed, **full)
        return Pipeline([("scale", StandardScaler()), ("svr", SVR(**full))])
    except (TypeError, ValueError) as exc:
        raise InputError(f"Invalid {MODEL_LABELS[model_type]} parameters {full}: {exc}.") from exc


def spatial_groups(cells: np.ndarray, grid_width: int, block_cells: int) -> np.ndarray:
    """Block id of each sample: coarse cells grouped into ``block_cells`` x ``block_cells`` squares."""
    if block_cells < 1:
        raise InputError(f"The cross-validation block size must be at least 1 cell (got {block_cells}).")
    rows = cells // grid_width
    cols = cells % grid_width
    nbx = (grid_width + block_cells - 1) // block_cells
    return (rows // block_cells) * nbx + cols // block_cells


def _fit(estimator: Any, x: np.ndarray, y: np.ndarray, model_type: str, seed: int) -> Any:
    from sklearn.base import clone

    est = clone(estimator)
    if model_type == "svr" and y.size > SVR_MAX_SAMPLES:
        pick = np.random.default_rng(seed).choice(y.size, SVR_MAX_SAMPLES, replace=False)
        x, y = x[pick], y[pick]
    try:
        est.fit(x, y)
    except ValueError as exc:
        raise InputError(f"The model could not be fitted ({exc}); check the factors for constant or invalid "
                         "values.") from exc
    return est


def _clean(m: dict[str, float]) -> dict[str, Any]:
    return {k: (int(v) if k == "n" else model_io.finite_or_none(v)) for k, v in m.items()}


def cross_validate(estimator: Any, pairs: Pairs, splits: list[tuple[np.ndarray, np.ndarray]], model_type: str,
                   seed: int, progress: Progress, is_canceled: IsCanceled) -> dict[str, Any]:
    """Out-of-fold predictions over ``splits``: pooled and per-fold metrics."""
    pred = np.full(pairs.y.size, np.nan)
    per_fold = []
    for k, (train, test) in enumerate(splits):
        if is_canceled():
            raise Canceled()
        est = _fit(estimator, pairs.X[train], pairs.y[train], model_type, seed)
        pred[test] = est.predict(pairs.X[test])
        fold = _clean(metrics(pred[test], pairs.y[test]))
        fold["fold"] = k + 1
        per_fold.append(fold)
        progress((k + 1) / len(splits))
    return {"pooled": _clean(metrics(pred, pairs.y)), "per_fold": per_fold}


def _splits(pairs: Pairs, cv_folds: int, cv_block_cells: int, seed: int) -> tuple[list, list, int]:
    from sklearn.model_selection import GroupKFold, KFold

    groups = spatial_groups(pairs.cells, pairs.grid.width, cv_block_cells)
    nblocks = int(np.unique(groups).size)
    if nblocks < 2:
        raise InputError(f"The area holds a single {cv_block_cells} x {cv_block_cells}-cell block, so spatial "
                         "cross-validation is impossible: lower the CV block size, enlarge the area, or set the "
                         "number of folds to 0.")
    k = min(cv_folds, nblocks)
    spatial = list(GroupKFold(n_splits=k).split(pairs.X, pairs.y, groups))
    rand = list(KFold(n_splits=min(cv_folds, pairs.y.size), shuffle=True, random_state=seed).split(pairs.X))
    return spatial, rand, nblocks


def train_model(sm_paths: Sequence[str], stack_paths: Sequence[str], output: str, model_type: str = "rf",
                factors: Sequence[str] | None = None, params: dict[str, Any] | None = None, cv_folds: int = 5,
                cv_block_cells: int = 4, min_valid_fraction: float = 0.5, seed: int = 0, n_jobs: int = -1,
                progress: Progress = no_progress, is_canceled: IsCanceled = never_canceled) -> TrainResult:
    """Train a soil moisture model on coarse pairs, cross-validate it and save it as a .smdmodel file.

    ``factors`` names the stack bands to use (None: all). ``cv_folds`` 0 skips cross-validation;
    otherwise at least 2. Returns the saved metadata and the pooled spatial-CV metrics.
    """
    import sklearn
    from sklearn.base import clone

    check_output_path(output)
    if cv_folds == 1 or cv_folds < 0:
        raise InputError(f"The number of cross-validation folds must be 0 (none) or at least 2 (got {cv_folds}).")
    estimator = make_estimator(model_type, params, seed, n_jobs)
    model_type = model_type.lower()
    pairs = coarse_pairs(sm_paths, stack_paths, factors, min_valid_fraction, lambda f: progress(0.3 * f), is_canceled)
    cv_estimator = estimator
    if model_type == "rf":
        if pairs.y.size > RF_MAX_TREE_SAMPLES and "max_samples" not in (params or {}):
            estimator.set_params(max_samples=RF_MAX_TREE_SAMPLES)
        cv_estimator = clone(estimator).set_params(n_estimators=min(estimator.n_estimators, CV_MAX_TREES))
    cv: dict[str, Any] | None = None
    if cv_folds:
        spatial, rand, nblocks = _splits(pairs, cv_folds, cv_block_cells, seed)
        nfits = len(spatial) + len(rand)
        s_res = cross_validate(cv_estimator, pairs, spatial, model_type, seed,
                               lambda f: progress(0.3 + 0.6 * f * len(spatial) / nfits), is_canceled)
        r_res = cross_validate(cv_estimator, pairs, rand, model_type, seed,
                               lambda f: progress(0.3 + 0.6 * (len(spatial) + f * len(rand)) / nfits), is_canceled)
        cv = {
            "spatial": {"method": "spatial blocks (GroupKFold)", "folds": len(spatial), "block_cells": cv_block_cells,
                        "blocks": nblocks, **s_res},
            "random": {"method": "random K-fold", "label": "optimistic", "folds": len(rand), **r_res},
        }
        if model_type == "rf":
            cv["n_estimators"] = int(cv_estimator.n_estimators)
    if is_canceled():
        raise Canceled()
    final = _fit(estimator, pairs.X, pairs.y, model_type, seed)
    progress(0.95)
    params_used = {k: v for k, v in (final.get_params(deep=False) if model_type != "svr"
                                    else final.named_steps["svr"].get_params(deep=False)).items()
                   if isinstance(v, (int, float, str, bool)) or v is None}
    g = pairs.grid
    meta: dict[str, Any] = {
        "model_type": model_type,
        "params": params_used,
        "factors": [s.to_dict() for s in pairs.specs],
        "features": list(pairs.feature_names),
        "target": "soil_moisture",
        "units": {"soil_moisture": "m3/m3"},
        "training_mode": "coarse",
        "training_grid": {"crs_wkt": g.crs_wkt, "transform": list(g.transform), "width": g.width,
                          "height": g.height},
        "dates": list(pairs.date_labels),
        "n_samples": int(pairs.y.size),
        "fit_samples": int(min(pairs.y.size, SVR_MAX_SAMPLES) if model_type == "svr" else pairs.y.size),
        "target_range": [float(pairs.y.min()), float(pairs.y.max())],
        "feature_ranges": {n: [float(pairs.X[:, j].min()), float(pairs.X[:, j].max())]
                           for j, n in enumerate(pairs.feature_names)},
        "min_valid_fraction": float(min_valid_fraction),
        "seed": int(seed),
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "created": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "cv": cv,
    }
    if hasattr(final, "feature_importances_"):
        meta["feature_importances"] = {n: float(v) for n, v in zip(pairs.feature_names, final.feature_importances_)}
    if is_canceled():
        raise Canceled()
    model_io.save_model(output, final, meta)
    progress(1.0)
    pooled = cv["spatial"]["pooled"] if cv else {k: (0 if k == "n" else None) for k in METRIC_NAMES}
    return TrainResult(model_io.jsonable({"format": model_io.FORMAT, "format_version": model_io.FORMAT_VERSION,
                                          **meta}),
                       {k: (math.nan if v is None else v) for k, v in pooled.items()})


def cv_table(meta: dict[str, Any]) -> str:
    """A readable cross-validation table (pooled and per fold) for logs."""
    cv = meta.get("cv")
    if not cv:
        return "No cross-validation was run."

    def fmt(v: Any) -> str:
        return "   n/a" if v is None else f"{v:6.3f}"

    lines = []
    if cv.get("n_estimators") is not None and cv["n_estimators"] < meta.get("params", {}).get("n_estimators", 0):
        lines.append(f"(cross-validation forests use {cv['n_estimators']} trees; the saved model "
                     f"{meta['params']['n_estimators']})")
    lines += [f"{'':28s} {'n':>6s} {'R':>6s} {'MAE':>6s} {'RMSE':>6s} {'bias':>6s} {'ubRMSD':>6s}"]
    for key, title in (("spatial", "spatial blocks"), ("random", "random (optimistic)")):
        part = cv[key]
        rows = [(f"{title} pooled", part["pooled"])] + [(f"  fold {f['fold']}", f) for f in part["per_fold"]]
        for label, m in rows:
            lines.append(f"{label:28s} {m['n']:6d} " + " ".join(fmt(m[k]) for k in ("r", "mae", "rmse", "bias",
                                                                                      "ubrmsd")))
    return "\n".join(lines)
