"""Model training, cross-validation that does not flatter, model selection and hyperparameter search.

Training modes
    ``coarse`` (scale-aware, the default): the 1 km factors are aggregated onto each date's SMAP grid
    (:func:`features.coarse_pairs`), a regressor is fitted to SMAP there, and the fitted model is later
    applied to the 1 km factors (categorical factors are class fractions at both scales).
    ``paper`` (the reference study's setup): SMAP is resampled bilinearly to the 1 km grid and the
    model is fitted on a random sample of 1 km pixels (:func:`features.fine_pairs`). It mostly learns
    to reproduce the interpolation; kept so the published setup can be reproduced and compared.

Cross-validation (``cv_mode``)
    ``spatial`` (default): folds hold out square blocks of ``cv_block_cells`` SMAP cells (GroupKFold:
    a block is never in training and test at once, on any date). ``dates``: folds hold out whole dates.
    ``random``: K-fold over samples, labelled optimistic (neighbouring cells are autocorrelated). The
    random K-fold is always reported next to the chosen scheme, as the optimistic contrast. Pooled and
    per-fold n, R, MAE, RMSE, bias and ubRMSD go into the model metadata.

Models: random forest, SVR (standardized factors), CART, histogram gradient boosting, extra trees, and
a linear trend + gradient boosting hybrid (ridge regression on standardized factors, then boosted
trees on its residuals), which extrapolates linearly beyond the range of the coarse factors (1 km
factors span a wider range than their 9 km means). ``auto`` trains several and keeps the one with
the lowest pooled spatial-CV RMSE.

Hyperparameter search (``search_seconds`` > 0): for each model, the default configuration and then
configurations drawn at random without replacement from a grid of sensible values are scored by the
pooled spatial-CV RMSE until the time budget is spent; every configuration tried and the winner are
recorded in the metadata. Selecting on the same folds that report skill flatters the winner a little.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import itertools
import json
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from . import model_io, options
from .errors import Canceled, InputError
from .features import CATEGORICAL, PAPER_MAX_SAMPLES, Pairs, coarse_pairs, drop_constant_factors, fine_noise, fine_pairs
from .metrics import METRIC_NAMES, metrics
from .options import AUTO
from .paths import check_apart
from .raster import IsCanceled, Progress, check_output_path, gdal_exceptions, never_canceled, no_progress
from .units import SmReading

MODEL_TYPES = options.MODELS.keys
#: Models ``auto`` compares (CART is never better than the forests; SVR is kept as a smooth learner).
AUTO_CANDIDATES = ("rf", "extratrees", "gbr", "linear_gbr", "svr")
MODEL_LABELS = options.MODEL_CHOICES.labels
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    # max_features 0.2: strongly decorrelated trees average into a smoother response, which transfers better
    # from 9 km means to 1 km pixels; better than Breiman's 1/3 on every accuracy-bench scene (bench/ACCURACY.md)
    "rf": {"n_estimators": 100, "min_samples_leaf": 2, "max_features": 0.2},
    # epsilon 0.02 m3/m3 (bench/svr_tradeoff.py on 3 accuracy-bench scenes): 0.29 x the support vectors of
    # 0.005 (so 3.4 x faster days), better spatial-CV RMSE (0.0246 vs 0.0252) and 1 km ubRMSD (0.0304 vs 0.0338)
    "svr": {"C": 1.0, "epsilon": 0.02, "gamma": "scale", "kernel": "rbf"},
    "cart": {"min_samples_leaf": 5, "max_depth": 12},
    "gbr": {"max_iter": 300, "learning_rate": 0.05, "max_leaf_nodes": 15, "min_samples_leaf": 10,
            "l2_regularization": 1.0, "early_stopping": False},
    "extratrees": {"n_estimators": 200, "min_samples_leaf": 2, "max_features": 1.0},
    "linear_gbr": {"n_estimators": 100, "learning_rate": 0.05, "max_depth": 3, "subsample": 0.8,
                   "min_samples_leaf": 5, "ridge_alpha": 1.0},
}
#: Grids the hyperparameter search draws from (the defaults are always tried first).
SEARCH_SPACES: dict[str, dict[str, list[Any]]] = {
    "rf": {"n_estimators": [100, 200], "min_samples_leaf": [1, 2, 3, 5, 8], "max_features": [0.2, 0.33, 0.5, 0.7, 1.0]},
    "extratrees": {"n_estimators": [100, 200], "min_samples_leaf": [1, 2, 3, 5, 8],
                   "max_features": [0.33, 0.5, 0.7, 1.0]},
    "gbr": {"max_iter": [100, 200, 400], "learning_rate": [0.03, 0.05, 0.1], "max_leaf_nodes": [7, 15, 31],
            "min_samples_leaf": [5, 10, 20], "l2_regularization": [0.0, 1.0]},
    "linear_gbr": {"n_estimators": [30, 60, 100, 200], "learning_rate": [0.03, 0.05, 0.1], "max_depth": [2, 3],
                   "min_samples_leaf": [5, 10, 20], "ridge_alpha": [0.1, 1.0, 10.0]},
    "svr": {"C": [0.1, 0.3, 1.0, 3.0, 10.0], "epsilon": [0.005, 0.01, 0.02, 0.03], "gamma": ["scale", 0.03, 0.1, 0.3]},
    "cart": {"max_depth": [4, 6, 8, 12, 16], "min_samples_leaf": [2, 5, 10, 20]},
}
CV_MODES = options.CV_MODES.keys
TRAINING_MODES = options.TRAINING_MODES.keys
TRAINING_MODE_LABELS = options.TRAINING_MODES.labels
#: Folds used to select models and settings when cross-validation reporting is off.
SELECTION_FOLDS = 5
#: SVR fits grow with the square of the samples: larger training sets are subsampled (seeded).
SVR_MAX_SAMPLES = 20000
#: Each random forest tree draws at most this many bootstrap samples (100 trees on 50,000 samples of
#: 10 features take about 40 s on 2 cores; a region-wide, multi-date set can hold 10x more cells).
RF_MAX_TREE_SAMPLES = 50000
#: Cross-validation forests are capped at this many trees (scikit-learn fits cannot be interrupted, so
#: CV fits are kept short); the CV metrics then slightly understate the final, larger forest.
CV_MAX_TREES = 50
#: Histogram gradient boosting on fewer samples runs single-threaded (several times faster there).
HGB_SINGLE_THREAD_BELOW = 20000
#: Factor-noise augmentation (scale-aware mode): every fit sees NOISE_COPIES copies of its coarse samples, each
#: factor with Gaussian noise of NOISE_AUGMENTATION times the factor's own 1 km noise added (features.fine_noise).
#: A model fitted on 9 km means, whose noise has averaged out, otherwise follows the noise of the 1 km factors it
#: is applied to (speckled radar, LST retrieval noise); trained on noisy copies it learns what a noisy 1 km
#: value says about soil moisture. Better at 1 km on every accuracy-bench scene (bench/ACCURACY.md).
NOISE_AUGMENTATION = 0.75
NOISE_COPIES = 5
#: Fewer copies when the training set is large, so a fit never sees more than this many rows (at least one copy).
NOISE_MAX_ROWS = 250_000
#: The clock the search budget is measured with.
_clock: Callable[[], float] = time.monotonic


@dataclass
class TrainResult:
    """Model metadata (as saved) and the pooled metrics of the chosen cross-validation scheme."""

    meta: dict[str, Any]
    metrics: dict[str, float]


def _check_type(model_type: str, allow_auto: bool = False) -> str:
    key = (model_type or "").strip().lower()
    valid = MODEL_TYPES + ((AUTO,) if allow_auto else ())
    if key not in valid:
        raise InputError(f"Unknown model type '{model_type}'; choose one of {', '.join(valid)}.")
    return key


def make_estimator(model_type: str, params: dict[str, Any] | None = None, seed: int = 0, n_jobs: int = -1) -> Any:
    """An unfitted scikit-learn regressor for one of :data:`MODEL_TYPES`, defaults overridden by ``params``.

    Parameters
    ----------
    model_type : str
        One of :data:`MODEL_TYPES`.
    params : dict[str, Any] or None
        Settings overriding the model's defaults (None: the defaults).
    seed : int
        The random seed of the model.
    n_jobs : int
        Threads of the models that take them (-1: every core).

    Returns
    -------
    Any
        The unfitted estimator (a Pipeline for 'svr'; boosting with a ridge start for 'linear_gbr').

    Raises
    ------
    InputError
        A parameter the model does not have, or a bad value.
    """
    from sklearn.ensemble import (
        ExtraTreesRegressor,
        GradientBoostingRegressor,
        HistGradientBoostingRegressor,
        RandomForestRegressor,
    )
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR
    from sklearn.tree import DecisionTreeRegressor

    model_type = _check_type(model_type)
    full = dict(DEFAULT_PARAMS[model_type])
    full.update(params or {})
    cls = {"rf": RandomForestRegressor, "svr": SVR, "cart": DecisionTreeRegressor, "gbr": HistGradientBoostingRegressor,
           "extratrees": ExtraTreesRegressor, "linear_gbr": GradientBoostingRegressor}[model_type]
    valid = set(cls().get_params()) | ({"ridge_alpha"} if model_type == "linear_gbr" else set())
    unknown = sorted(set(full) - valid)
    if unknown:
        raise InputError(f"The {MODEL_LABELS[model_type]} has no parameter(s) {', '.join(unknown)}; valid ones are "
                         f"{', '.join(sorted(valid))}.")
    try:
        if model_type in ("rf", "extratrees"):
            return cls(random_state=seed, n_jobs=n_jobs, **full)
        if model_type in ("cart", "gbr"):
            return cls(random_state=seed, **full)
        if model_type == "linear_gbr":
            alpha = float(full.pop("ridge_alpha"))
            trend = Pipeline([("scale", StandardScaler()), ("ridge", Ridge(alpha=alpha))])
            return GradientBoostingRegressor(init=trend, random_state=seed, **full)
        return Pipeline([("scale", StandardScaler()), ("svr", SVR(**full))])
    except (TypeError, ValueError) as exc:
        raise InputError(f"Invalid {MODEL_LABELS[model_type]} parameters {full}: {exc}.") from exc


def model_params(estimator: Any, model_type: str) -> dict[str, Any]:
    """The estimator's own settings as JSON values (the SVR step of the pipeline; the ridge alpha of the hybrid).

    Parameters
    ----------
    estimator : Any
        A fitted or unfitted estimator of ``model_type``.
    model_type : str
        One of :data:`MODEL_TYPES`.

    Returns
    -------
    dict[str, Any]
        Setting name -> value (numbers, strings, booleans, None); 'ridge_alpha' added for 'linear_gbr'.
    """
    if model_type == "svr":
        raw = estimator.named_steps["svr"].get_params(deep=False)
    else:
        raw = estimator.get_params(deep=False)
    out = {k: v for k, v in raw.items() if isinstance(v, (int, float, str, bool)) or v is None}
    if model_type == "linear_gbr":
        out["ridge_alpha"] = float(estimator.init.named_steps["ridge"].alpha)
    return out


def prepare_for_saving(estimator: Any) -> Any:
    """Drop fit-time state that model files cannot hold and prediction never uses.

    HistGradientBoostingRegressor keeps a numpy ``Generator`` for feature subsampling after fitting;
    skops 0.11 cannot store it with numpy 1.24. It is only used while fitting (and by warm starts,
    which trained models never do), so it is removed; predictions are unchanged.

    Parameters
    ----------
    estimator : Any
        A fitted estimator (or Pipeline); changed in place.

    Returns
    -------
    Any
        ``estimator``.
    """
    steps = [estimator] + list(getattr(estimator, "named_steps", {}).values())
    for step in steps:
        if hasattr(step, "_feature_subsample_rng"):
            del step._feature_subsample_rng
    return estimator


def spatial_groups(cells: np.ndarray, grid_width: int, block_cells: int) -> np.ndarray:
    """Block id of each sample: coarse cells grouped into ``block_cells`` x ``block_cells`` squares.

    Parameters
    ----------
    cells : numpy.ndarray
        Flat SMAP cell index of each sample.
    grid_width : int
        The SMAP grid's width, in cells.
    block_cells : int
        The block side, in SMAP cells.

    Returns
    -------
    numpy.ndarray
        Integer block id per sample.

    Raises
    ------
    InputError
        ``block_cells`` is below 1.
    """
    if block_cells < 1:
        raise InputError(f"The cross-validation block size must be at least 1 cell (got {block_cells}).")
    rows = cells // grid_width
    cols = cells % grid_width
    nbx = (grid_width + block_cells - 1) // block_cells
    return (rows // block_cells) * nbx + cols // block_cells


def date_groups(dates: np.ndarray) -> np.ndarray:
    """Group id of each sample: its date.

    Parameters
    ----------
    dates : numpy.ndarray
        The date label of each sample.

    Returns
    -------
    numpy.ndarray
        Integer group id per sample (the dates in sorted order).
    """
    _, codes = np.unique(np.asarray(dates).astype(str), return_inverse=True)
    return codes


def _threads(model_type: str, n: int) -> Any:
    """Histogram gradient boosting on small sets runs single-threaded: OpenMP start-up and, on a busy
    machine, spinning threads dominate fits of a few thousand samples."""
    if model_type == "gbr" and n < HGB_SINGLE_THREAD_BELOW:
        from threadpoolctl import threadpool_limits

        return threadpool_limits(1, user_api="openmp")
    return contextlib.nullcontext()


@dataclass(frozen=True)
class _Augmentation:
    """Noisy copies of the training samples: ``sd`` per feature column (0 for class fractions)."""

    sd: np.ndarray
    copies: int

    def apply(self, x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([int(seed), 41, x.shape[0]])
        xs = [x + self.sd * rng.standard_normal(x.shape) for _ in range(self.copies)]
        return np.concatenate(xs), np.tile(y, self.copies)


#: The augmentation of every fit train_model makes (cross-validation, scale transfer, final model); None: off.
_AUGMENT: contextvars.ContextVar[_Augmentation | None] = contextvars.ContextVar("smd_augment", default=None)


def make_augmentation(pairs: Pairs, scale: float, is_canceled: IsCanceled = never_canceled,
                       copies: int = NOISE_COPIES) -> tuple[_Augmentation | None, dict[str, Any] | None]:
    """The factor-noise augmentation of coarse pairs (None when ``scale`` is 0) and its metadata.

    Parameters
    ----------
    pairs : Pairs
        The coarse training samples (their stacks give each factor's 1 km noise).
    scale : float
        The noise added, as a multiple of each factor's 1 km noise (0: none).
    is_canceled : IsCanceled
        Checked while the noise is measured.
    copies : int
        Noisy copies of the samples (fewer when they would exceed :data:`NOISE_MAX_ROWS` rows).

    Returns
    -------
    tuple
        (the augmentation applied to each fit, its metadata), or (None, None) when ``scale`` is 0.
    """
    if scale <= 0:
        return None, None
    noise = fine_noise(pairs.stack_paths, pairs.specs, is_canceled)
    sd = []
    for spec in pairs.specs:
        sd += [0.0 if spec.kind == CATEGORICAL else scale * noise.get(spec.name, 0.0)] * len(spec.feature_names())
    copies = max(1, min(int(copies), NOISE_MAX_ROWS // max(1, pairs.y.size)))
    aug = _Augmentation(np.asarray(sd, dtype=np.float64), copies)
    meta = {"scale": float(scale), "copies": int(copies),
            "factor_noise_sd": {s.name: round(noise[s.name], 6) for s in pairs.specs if s.kind != CATEGORICAL},
            "method": f"{copies} copies of the coarse samples, each factor with Gaussian noise of {scale:g} times its "
                      "1 km noise (median difference of neighbouring pixels) added"}
    return aug, meta


def _fit(estimator: Any, x: np.ndarray, y: np.ndarray, model_type: str, seed: int) -> Any:
    from sklearn.base import clone

    aug = _AUGMENT.get()
    if aug is not None:
        x, y = aug.apply(x, y, seed)
    est = clone(estimator)
    if model_type == "svr" and y.size > SVR_MAX_SAMPLES:
        pick = np.random.default_rng(seed).choice(y.size, SVR_MAX_SAMPLES, replace=False)
        x, y = x[pick], y[pick]
    try:
        with _threads(model_type, y.size):
            est.fit(x, y)
    except ValueError as exc:
        raise InputError(f"The model could not be fitted ({exc}); check the factors for constant or invalid "
                         "values.") from exc
    return est


def _clean(m: dict[str, float]) -> dict[str, Any]:
    return {k: (int(v) if k == "n" else model_io.finite_or_none(v)) for k, v in m.items()}


class _OverBudgetError(Exception):
    """A configuration's cross-validation was abandoned because the search time budget was spent."""


def cross_validate(estimator: Any, pairs: Pairs, splits: list[tuple[np.ndarray, np.ndarray]], model_type: str,
                   seed: int, progress: Progress, is_canceled: IsCanceled,
                   deadline: float | None = None, fold_s: float = 0.0) -> dict[str, Any]:
    """Out-of-fold predictions over ``splits``: pooled and per-fold metrics.

    With a ``deadline``, a fold is started only when it is expected to end before it (expected: the mean of
    this call's folds so far, else ``fold_s``), so a search stays within its budget instead of overrunning
    it by a fold.

    Parameters
    ----------
    estimator
        The unfitted estimator (cloned for every fold).
    pairs, splits
        The samples and the (train, test) index pairs.
    model_type, seed
        The model type (threads, SVR subsample) and the seed of every fit.
    progress, is_canceled
        Progress fraction and cancel check.
    deadline, fold_s
        The search's deadline (clock time) and the expected time of a fold.

    Returns
    -------
    dict
        'pooled' metrics over every held-out sample and 'per_fold' metrics.

    Raises
    ------
    Canceled
        ``is_canceled()`` became true.
    _OverBudgetError
        The search time budget ran out (private: the search catches it and skips the configuration).
    """
    pred = np.full(pairs.y.size, np.nan)
    per_fold = []
    start = _clock()
    for k, (train, test) in enumerate(splits):
        if is_canceled():
            raise Canceled()
        if deadline is not None and _clock() + ((_clock() - start) / k if k else fold_s) > deadline:
            raise _OverBudgetError()
        est = _fit(estimator, pairs.X[train], pairs.y[train], model_type, seed)
        with _threads(model_type, pairs.y.size):
            pred[test] = est.predict(pairs.X[test])
        fold = _clean(metrics(pred[test], pairs.y[test]))
        fold["fold"] = k + 1
        per_fold.append(fold)
        progress((k + 1) / len(splits))
    return {"pooled": _clean(metrics(pred, pairs.y)), "per_fold": per_fold}


#: Grids of the scale-transfer check, as multiples of the SMAP cell.
TRANSFER_FACTORS = (2, 3)
#: A coarser cell is used when at least this share of its SMAP cells holds a sample (of that date).
TRANSFER_MIN_CELLS = 0.5


def coarsen_pairs(pairs: Pairs, factor: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Aggregate coarse pairs onto a grid ``factor`` x ``factor`` times coarser than SMAP's (per date).

    Factors (class fractions included) and soil moisture are averaged over the SMAP cells of each coarser
    cell; coarser cells with fewer than ``TRANSFER_MIN_CELLS`` of their cells sampled are left out.
    Returns (X, y, the flat index in the SMAP grid of each coarser cell's top-left cell).

    Parameters
    ----------
    pairs : Pairs
        The coarse pairs on SMAP's grid.
    factor : int
        How many SMAP cells a coarser cell spans along each side.

    Returns
    -------
    tuple of numpy.ndarray
        (X (n, features) float64, y (n,) m3/m3, anchor (n,) flat SMAP cell index of each coarser cell's top-left
        cell).
    """
    w = pairs.grid.width
    rows, cols = pairs.cells // w, pairs.cells % w
    _, date_code = np.unique(np.asarray(pairs.dates).astype(str), return_inverse=True)
    key = np.stack([date_code, rows // factor, cols // factor], axis=1)
    uniq, inv, count = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    x = np.zeros((uniq.shape[0], pairs.X.shape[1]))
    np.add.at(x, inv, pairs.X)
    y = np.bincount(inv, pairs.y, uniq.shape[0])
    keep = count >= TRANSFER_MIN_CELLS * factor * factor
    x, y = x[keep] / count[keep, None], y[keep] / count[keep]
    anchor = uniq[keep, 1] * factor * w + uniq[keep, 2] * factor
    return x, y, anchor


def scale_transfer(estimator: Any, pairs: Pairs, model_type: str, folds: int, block_cells: int, seed: int = 0,
                   is_canceled: IsCanceled = never_canceled,
                   factors: Sequence[int] = TRANSFER_FACTORS) -> dict[str, Any] | None:
    """The scale-transfer check: train on grids ``factors`` x coarser than SMAP's, predict SMAP's own cells.

    Downscaling trains at one scale and predicts at a finer one; this repeats that step one level up,
    where the answer is known. For each factor the pairs are aggregated (:func:`coarsen_pairs`), the
    SMAP grid is cut into square blocks (a multiple of the factor, at least ``block_cells`` cells) split
    into ``folds`` groups, and a model fitted on the coarser cells of the other blocks predicts the
    SMAP cells of each held-out block, scored against SMAP. Returns per factor and pooled metrics, and
    the per-fold RMSE (for comparing models fold by fold), or None when no factor leaves enough samples.

    Parameters
    ----------
    estimator
        The unfitted estimator (cloned for every fold).
    pairs
        The coarse pairs on SMAP's grid.
    model_type, seed
        The model type (threads, SVR subsample) and the seed of the fold assignment and fits.
    folds, block_cells
        Folds and the least block side (SMAP cells).
    is_canceled
        Cancel check.
    factors
        How many times coarser than SMAP the training grids are.

    Returns
    -------
    dict or None
        'factors' (metrics per factor), 'pooled' metrics and 'fold_rmse'.

    Raises
    ------
    Canceled
        ``is_canceled()`` became true.
    """
    w = pairs.grid.width
    out: dict[str, Any] = {"factors": {}, "method": "trained on grids coarser than SMAP's, predicted on SMAP cells "
                                                     "of held-out spatial blocks"}
    preds, truths, fold_rmse = [], [], []
    for f in factors:
        x, y, anchor = coarsen_pairs(pairs, f)
        b = f * max(1, -(-block_cells // f))
        g_small = spatial_groups(pairs.cells, w, b)
        g_big = spatial_groups(anchor, w, b)
        blocks = np.unique(g_small)
        if y.size < max(20, 2 * x.shape[1]) or blocks.size < 2:
            continue
        k = min(folds, blocks.size)
        order = np.random.default_rng([seed, 17, f]).permutation(blocks.size)
        fold_of = {int(blocks[i]): int(j % k) for j, i in enumerate(order)}
        fs = np.array([fold_of[int(v)] for v in g_small])
        fb = np.array([fold_of.get(int(v), -1) for v in g_big])
        pred = np.full(pairs.y.size, np.nan)
        per_fold = []
        for j in range(k):
            if is_canceled():
                raise Canceled()
            tr, te = fb != j, fs == j
            if tr.sum() < 10 or not te.any():
                continue
            est = _fit(estimator, x[tr], y[tr], model_type, seed)
            with _threads(model_type, int(tr.sum())):
                pred[te] = est.predict(pairs.X[te])
            per_fold.append(float(np.sqrt(np.mean((pred[te] - pairs.y[te]) ** 2))))
        ok = np.isfinite(pred)
        if not ok.any():
            continue
        out["factors"][str(f)] = _clean(metrics(pred[ok], pairs.y[ok]))
        preds.append(pred[ok])
        truths.append(pairs.y[ok])
        fold_rmse += per_fold
    if not preds:
        return None
    out["pooled"] = _clean(metrics(np.concatenate(preds), np.concatenate(truths)))
    out["fold_rmse"] = fold_rmse
    return out


AUTO_BASELINE = "rf"
AUTO_SCORED_BY = ("the scale-transfer check (trained 2x and 3x coarser than SMAP, predicted on SMAP cells of held-out "
                  "blocks) and spatial cross-validation: the random forest unless another model beats it in both, "
                  "on every transfer fold and by more than the spread of the fold differences")


def _rank_by_transfer(per_model: dict[str, dict[str, Any]], candidates: Sequence[str], pairs: Pairs, folds: int,
                      block_cells: int, seed: int, n_jobs: int, is_canceled: IsCanceled) -> str | None:
    """Auto's choice by the scale-transfer check (stored in each candidate's entry as 'transfer').

    The random forest (the default model) is kept unless another candidate has a lower spatial-CV RMSE
    and a lower transfer RMSE on every fold, by more on average than the standard deviation of the
    fold-by-fold differences (among those, the lowest pooled transfer RMSE wins). On the accuracy bench
    neither ranking alone picks the model that is best at 1 km (bench/ACCURACY.md), so the default is
    left only on clear evidence. None when the check cannot run (too few cells): the CV ranking stands.
    """
    results = {}
    for cand in candidates:
        if cand not in per_model:
            continue
        entry = per_model[cand]
        est = _cv_estimator(_with_caps(make_estimator(cand, entry["params"], seed, n_jobs), cand, pairs.y.size,
                                       entry["params"]), cand)
        res = scale_transfer(est, pairs, cand, folds, block_cells, seed, is_canceled)
        if res is None:
            return None
        entry["transfer"] = {k: v for k, v in res.items() if k != "method"}
        results[cand] = res
    if AUTO_BASELINE not in results:
        return min(results, key=lambda c: results[c]["pooled"]["rmse"]) if results else None
    base = np.asarray(results[AUTO_BASELINE]["fold_rmse"])
    best, best_rmse = AUTO_BASELINE, results[AUTO_BASELINE]["pooled"]["rmse"]
    for cand, res in results.items():
        diff = np.asarray(res["fold_rmse"]) - base
        if cand == AUTO_BASELINE or diff.size != base.size or diff.size < 2:
            continue
        cv_better = _rank(per_model[cand]) < _rank(per_model[AUTO_BASELINE])
        clear = bool(np.all(diff < 0)) and float(diff.mean()) + float(diff.std(ddof=1)) < 0
        if cv_better and clear and res["pooled"]["rmse"] < best_rmse:
            best, best_rmse = cand, res["pooled"]["rmse"]
    return best


def spatial_splits(pairs: Pairs, folds: int, block_cells: int) -> tuple[list, int]:
    """GroupKFold splits over square blocks of SMAP cells, and the number of blocks.

    Parameters
    ----------
    pairs : Pairs
        The coarse samples.
    folds : int
        The folds wanted (at most one per block).
    block_cells : int
        The block side, in SMAP cells.

    Returns
    -------
    tuple
        (list of (train, test) index arrays, the number of blocks).

    Raises
    ------
    InputError
        The area holds a single block, so no block can be held out.
    """
    from sklearn.model_selection import GroupKFold

    groups = spatial_groups(pairs.cells, pairs.grid.width, block_cells)
    nblocks = int(np.unique(groups).size)
    if nblocks < 2:
        raise InputError(f"The area holds a single {block_cells} x {block_cells}-cell block, so spatial "
                         "cross-validation is impossible: lower the CV block size, enlarge the area, or set the "
                         "number of folds to 0.")
    return list(GroupKFold(n_splits=min(folds, nblocks)).split(pairs.X, pairs.y, groups)), nblocks


def date_splits(pairs: Pairs, folds: int) -> list:
    """GroupKFold splits holding out whole dates.

    Parameters
    ----------
    pairs : Pairs
        The coarse samples.
    folds : int
        The folds wanted (at most one per date).

    Returns
    -------
    list
        (train, test) index arrays per fold.

    Raises
    ------
    InputError
        The pairs hold a single date.
    """
    from sklearn.model_selection import GroupKFold

    groups = date_groups(pairs.dates)
    ndates = int(np.unique(groups).size)
    if ndates < 2:
        raise InputError("Cross-validation with dates held out needs at least 2 dates (got 1); add dates or choose "
                         "spatial blocks.")
    return list(GroupKFold(n_splits=min(folds, ndates)).split(pairs.X, pairs.y, groups))


def random_splits(pairs: Pairs, folds: int, seed: int) -> list:
    """Shuffled KFold splits of the samples (at most one fold per sample).

    Parameters
    ----------
    pairs : Pairs
        The coarse samples.
    folds : int
        The folds wanted.
    seed : int
        The shuffle's seed.

    Returns
    -------
    list
        (train, test) index arrays per fold.
    """
    from sklearn.model_selection import KFold

    return list(KFold(n_splits=min(folds, pairs.y.size), shuffle=True, random_state=seed).split(pairs.X))


def _cv_estimator(estimator: Any, model_type: str) -> Any:
    """The estimator as cross-validated: random forests and extra trees capped at CV_MAX_TREES trees."""
    from sklearn.base import clone

    if model_type in ("rf", "extratrees"):
        return clone(estimator).set_params(n_estimators=min(estimator.n_estimators, CV_MAX_TREES))
    return estimator


def _with_caps(estimator: Any, model_type: str, n: int, params: dict[str, Any] | None) -> Any:
    aug = _AUGMENT.get()
    n = n * (aug.copies if aug is not None else 1)
    if model_type in ("rf", "extratrees") and n > RF_MAX_TREE_SAMPLES and "max_samples" not in (params or {}):
        if model_type == "extratrees":
            estimator.set_params(bootstrap=True)
        estimator.set_params(max_samples=RF_MAX_TREE_SAMPLES)
    return estimator


def _key(model_type: str, params: dict[str, Any]) -> str:
    return model_type + json.dumps(params, sort_keys=True, default=str)


def search_configs(model_type: str, seed: int) -> list[dict[str, Any]]:
    """The search grid of a model in the order it is tried: defaults first, then a seeded random order.

    Parameters
    ----------
    model_type : str
        A model with a search space (:data:`SEARCH_SPACES`).
    seed : int
        The seed of the order.

    Returns
    -------
    list of dict[str, Any]
        Settings to try; the first ({}) is the defaults.
    """
    space = SEARCH_SPACES[model_type]
    keys = sorted(space)
    combos = [dict(zip(keys, vals)) for vals in itertools.product(*(space[k] for k in keys))]
    order = np.random.default_rng([int(seed), 11]).permutation(len(combos))
    default = {k: DEFAULT_PARAMS[model_type].get(k) for k in keys}
    out = [{}]  # the defaults
    out += [combos[i] for i in order if combos[i] != default]
    return out


class _Selector:
    """Scores (model, params) on fixed selection folds, caching results, within an optional time budget."""

    def __init__(self, pairs: Pairs, splits: list, seed: int, n_jobs: int, is_canceled: IsCanceled) -> None:
        self.pairs = pairs
        self.splits = splits
        self.seed = seed
        self.n_jobs = n_jobs
        self.is_canceled = is_canceled
        self.cache: dict[str, dict[str, Any]] = {}
        self.tried: list[dict[str, Any]] = []
        self.fold_s: dict[str, float] = {}  # the last fold time of each model type (to keep within a budget)

    def score(self, model_type: str, params: dict[str, Any], base: dict[str, Any] | None,
              deadline: float | None = None) -> dict[str, Any]:
        merged = dict(base or {})
        merged.update(params)
        est = _with_caps(make_estimator(model_type, merged, self.seed, self.n_jobs), model_type, self.pairs.y.size,
                         merged)
        full = model_params(est, model_type)
        key = _key(model_type, full)
        if key not in self.cache:
            t0 = _clock()
            res = cross_validate(_cv_estimator(est, model_type), self.pairs, self.splits, model_type, self.seed,
                                 no_progress, self.is_canceled, deadline, self.fold_s.get(model_type, 0.0))
            self.fold_s[model_type] = (_clock() - t0) / max(1, len(self.splits))
            entry = {"model_type": model_type, "params": merged, "rmse": res["pooled"]["rmse"],
                     "r": res["pooled"]["r"], "ubrmsd": res["pooled"]["ubrmsd"],
                     "seconds": round(_clock() - t0, 3), "cv": res}
            self.cache[key] = entry
            self.tried.append(entry)
        return self.cache[key]

    def search(self, model_type: str, base: dict[str, Any] | None, budget_s: float,
               max_configs: int | None, progress: Progress = no_progress) -> dict[str, Any]:
        """Best entry among the defaults and random grid configurations tried within ``budget_s`` seconds."""
        start = _clock()
        deadline = start + budget_s
        best = self.score(model_type, {}, base)  # the defaults always complete
        n = 1
        for cfg in search_configs(model_type, self.seed)[1:]:
            progress(min(1.0, (_clock() - start) / max(budget_s, 1e-9)))
            if max_configs is not None and n >= max_configs:
                break
            if _clock() >= deadline:
                break
            if base:
                cfg = {k: v for k, v in cfg.items() if k not in base}  # the user's settings are kept
            try:
                entry = self.score(model_type, cfg, base, deadline)
            except _OverBudgetError:
                break
            n += 1
            if _rank(entry) < _rank(best):
                best = entry
        return best


def _rank(entry: dict[str, Any]) -> float:
    v = entry.get("rmse")
    return math.inf if v is None else float(v)


def _public(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != "cv"}


@gdal_exceptions()
def _train_model(sm_paths: Sequence[str], stack_paths: Sequence[str], output: str, model_type: str = "rf",
                factors: Sequence[str] | None = None, params: dict[str, Any] | None = None, cv_folds: int = 5,
                cv_block_cells: int = 4, min_valid_fraction: float = 0.5, seed: int = 0, n_jobs: int = -1,
                progress: Progress = no_progress, is_canceled: IsCanceled = never_canceled, cv_mode: str = "spatial",
                search_seconds: float = 0.0, training_mode: str = "coarse", derived: Sequence[str] | None = None,
                search_max_configs: int | None = None, paper_max_samples: int = PAPER_MAX_SAMPLES,
                sm_scale: float = 1.0, sm_nodata: float | None = None,
                noise_augmentation: float = NOISE_AUGMENTATION) -> TrainResult:
    """Train a soil moisture model, cross-validate it and save it as a .smdmodel file.

    ``model_type`` is one of :data:`MODEL_TYPES` or 'auto'. ``factors`` names the stack bands (or derived
    factors) to use (None: all bands); ``derived`` adds derived factors (:mod:`derived`) whose inputs the
    stacks hold. ``cv_folds`` 0 skips the reported cross-validation; otherwise at least 2.
    ``cv_mode`` is 'spatial', 'dates' or 'random'; ``search_seconds`` > 0 runs the hyperparameter search
    (``search_max_configs`` caps the configurations per model); ``training_mode`` is 'coarse' or 'paper'.
    SMAP values equal to ``sm_nodata`` are nodata and the others are multiplied by ``sm_scale`` (0.01 for
    percent); both are stored in the model, so downscale reads the SMAP of residual correction the same way.
    ``noise_augmentation`` (scale-aware mode; 0 switches it off) fits every model on noisy copies of the coarse
    samples, with that multiple of each factor's measured 1 km noise (:data:`NOISE_AUGMENTATION`).
    Returns the saved metadata and the pooled metrics of the ``cv_mode`` scheme.

    Parameters
    ----------
    sm_paths, stack_paths
        SMAP rasters and factor stacks, paired by the date in their names.
    output
        The model file to write (.smdmodel, written atomically).
    model_type, params
        The model (:data:`MODEL_TYPES` or 'auto') and its parameters.
    factors, derived
        The factors to use, and derived factors to add.
    cv_folds, cv_block_cells, cv_mode
        The reported cross-validation.
    min_valid_fraction
        Least share of valid fine pixels per SMAP cell.
    seed, n_jobs
        Random seed and parallel jobs.
    progress, is_canceled
        Progress fraction and cancel check (:mod:`.raster` defaults).
    search_seconds, search_max_configs
        The hyperparameter search (0: off).
    training_mode, paper_max_samples
        'coarse' pairs, or the study's 1 km pairs and their number.
    sm_scale, sm_nodata
        How to read SMAP (:class:`.units.SmReading`).

    Returns
    -------
    TrainResult
        The saved metadata and the pooled metrics of the ``cv_mode`` scheme.

    Raises
    ------
    InputError
        A bad option (folds, CV mode, training mode, search budget or configurations, parameters with 'auto');
        also from the pairing and the estimator.
    Canceled
        ``is_canceled()`` became true; no model file is written.
    """
    import sklearn

    check_output_path(output)
    check_apart({"model file": output}, {"soil moisture raster": list(sm_paths), "factor stack": list(stack_paths)})
    if cv_folds == 1 or cv_folds < 0:
        raise InputError(f"The number of cross-validation folds must be 0 (none) or at least 2 (got {cv_folds}).")
    requested = _check_type(model_type, allow_auto=True)
    cv_mode = (cv_mode or "spatial").strip().lower()
    if cv_mode not in CV_MODES:
        raise InputError(f"Unknown cross-validation mode '{cv_mode}'; choose one of {', '.join(CV_MODES)}.")
    training_mode = (training_mode or "coarse").strip().lower()
    if training_mode not in TRAINING_MODES:
        raise InputError(f"Unknown training mode '{training_mode}'; choose one of {', '.join(TRAINING_MODES)}.")
    search_seconds = float(search_seconds or 0.0)
    if not math.isfinite(search_seconds) or search_seconds < 0:
        raise InputError(f"The search time budget must be 0 (off) or a number of seconds (got {search_seconds}).")
    noise_augmentation = float(noise_augmentation or 0.0)
    if not (math.isfinite(noise_augmentation) and 0.0 <= noise_augmentation <= 5.0):
        raise InputError(f"The factor noise augmentation must be between 0 (off) and 5 (got {noise_augmentation}); "
                         f"the default is {NOISE_AUGMENTATION:g}.")
    if search_max_configs is not None and search_max_configs < 1:
        raise InputError(f"The search needs at least 1 configuration per model (got {search_max_configs}).")
    reading = SmReading(float(sm_scale), None if sm_nodata is None else float(sm_nodata))
    if requested != AUTO:
        make_estimator(requested, params, seed, n_jobs)  # parameter errors before the (slow) pairing
    elif params:
        raise InputError("Model parameters cannot be given with 'auto' (they differ between models); choose a model "
                         "type or leave the parameters empty.")

    pair_progress = lambda f: progress(0.3 * f)  # noqa: E731
    if training_mode == "paper":
        pairs = fine_pairs(sm_paths, stack_paths, factors, paper_max_samples, seed, pair_progress, is_canceled,
                           derived=derived, sm_reading=reading)
    else:
        pairs = coarse_pairs(sm_paths, stack_paths, factors, min_valid_fraction, pair_progress, is_canceled,
                             derived=derived, sm_reading=reading)
    pairs, constant = drop_constant_factors(pairs)  # recorded in meta["dropped_factors"]
    augmentation_meta = None
    if training_mode == "coarse":
        augmentation, augmentation_meta = make_augmentation(pairs, noise_augmentation, is_canceled)
        _AUGMENT.set(augmentation)  # this call's own context (train_model)

    selecting = requested == AUTO or search_seconds > 0
    sel_folds = cv_folds or SELECTION_FOLDS
    spatial = nblocks = None
    if cv_folds and cv_mode == "spatial" or selecting:
        spatial, nblocks = spatial_splits(pairs, sel_folds, cv_block_cells)
    selector = _Selector(pairs, spatial or [], seed, n_jobs, is_canceled)
    search_meta: dict[str, Any] | None = None
    auto_meta: dict[str, Any] | None = None
    cv_start = 0.3
    chosen, chosen_params = requested, dict(params or {})
    if selecting:
        t0 = _clock()
        candidates = AUTO_CANDIDATES if requested == AUTO else (requested,)
        best: dict[str, Any] | None = None
        for i, cand in enumerate(candidates):
            if is_canceled():
                raise Canceled()
            base = None if requested == AUTO else params
            if search_seconds > 0:
                entry = selector.search(cand, base, search_seconds / len(candidates), search_max_configs,
                                        lambda f, i=i: progress(0.3 + 0.3 * (i + f) / len(candidates)))
            else:
                entry = selector.score(cand, {}, base)
            if best is None or _rank(entry) < _rank(best):
                best = entry
            progress(0.3 + 0.3 * (i + 1) / len(candidates))
        assert best is not None
        chosen, chosen_params = best["model_type"], dict(best["params"])
        scored_by = f"pooled RMSE of {len(spatial or [])}-fold spatial-block cross-validation"
        if requested == AUTO:
            per_model = {}
            for e in selector.tried:
                if e["model_type"] not in per_model or _rank(e) < _rank(per_model[e["model_type"]]):
                    per_model[e["model_type"]] = e
            auto_scored_by = scored_by
            if training_mode == "coarse":
                winner = _rank_by_transfer(per_model, candidates, pairs, sel_folds, cv_block_cells, seed, n_jobs,
                                           is_canceled)
                if winner is not None:
                    chosen, chosen_params = winner, dict(per_model[winner]["params"])
                    auto_scored_by = AUTO_SCORED_BY
            auto_meta = {"candidates": [_public(per_model[c]) for c in candidates if c in per_model],
                         "winner": chosen, "scored_by": auto_scored_by}
        if search_seconds > 0:
            search_meta = {"budget_s": search_seconds, "elapsed_s": round(_clock() - t0, 3), "scored_by": scored_by,
                           "max_configs_per_model": search_max_configs, "tried": [_public(e) for e in selector.tried],
                           "winner": _public(best)}
        cv_start = 0.6

    estimator = _with_caps(make_estimator(chosen, chosen_params, seed, n_jobs), chosen, pairs.y.size, chosen_params)
    cv_estimator = _cv_estimator(estimator, chosen)
    cv: dict[str, Any] | None = None
    if cv_folds:
        schemes: list[tuple[str, list, dict[str, Any]]] = []
        if cv_mode == "spatial":
            assert spatial is not None
            schemes.append(("spatial", spatial, {"method": "spatial blocks (GroupKFold)", "block_cells": cv_block_cells,
                                                 "blocks": nblocks}))
        elif cv_mode == "dates":
            schemes.append(("dates", date_splits(pairs, cv_folds), {"method": "dates held out (GroupKFold)",
                                                                     "dates": len(pairs.date_labels)}))
        schemes.append(("random", random_splits(pairs, cv_folds, seed), {"method": "random K-fold",
                                                                           "label": "optimistic"}))
        nfits = sum(len(s) for _, s, _ in schemes)
        done = 0
        cv = {"mode": cv_mode, "primary": cv_mode}
        for key, splits, info in schemes:
            cached = selector.cache.get(_key(chosen, model_params(estimator, chosen))) if key == "spatial" else None
            span = len(splits) / nfits
            if cached is not None:
                res = cached["cv"]
            else:
                res = cross_validate(cv_estimator, pairs, splits, chosen, seed,
                                     lambda f, d=done, s=span: progress(cv_start + (0.9 - cv_start) * (d + f * s)),
                                     is_canceled)
            done += span
            cv[key] = {**info, "folds": len(splits), **res}
        if training_mode == "coarse" and cv_mode == "spatial":
            known = (auto_meta or {}).get("candidates", [])
            hit = next((e.get("transfer") for e in known if e["model_type"] == chosen and e.get("transfer")), None)
            if hit is None:
                hit = scale_transfer(cv_estimator, pairs, chosen, cv_folds, cv_block_cells, seed, is_canceled)
            if hit is not None:
                cv["transfer"] = {"method": "scale transfer: trained on grids 2x and 3x coarser than SMAP's, "
                                            "predicted on SMAP cells of held-out blocks", **hit,
                                  "per_fold": [{"fold": f"{f}x coarser", **m} for f, m in hit["factors"].items()]}
        if chosen in ("rf", "extratrees"):
            cv["n_estimators"] = int(cv_estimator.n_estimators)
    if is_canceled():
        raise Canceled()
    final = prepare_for_saving(_fit(estimator, pairs.X, pairs.y, chosen, seed))
    progress(0.95)
    g = pairs.grid
    derived_used = [s.name for s in pairs.specs if s.name in pairs.derived]
    meta: dict[str, Any] = {
        "model_type": chosen,
        "requested_model_type": requested,
        "params": model_params(final, chosen),
        "factors": [s.to_dict() for s in pairs.specs],
        "features": list(pairs.feature_names),
        "dropped_factors": {name: "constant over the training samples" for name in constant},
        "derived_factors": {"used": derived_used, "definitions": {n: pairs.derived[n] for n in derived_used},
                            "skipped": dict(pairs.derived_skipped)},
        "target": "soil_moisture",
        "units": {"soil_moisture": "m3/m3"},
        "soil_moisture_input": {"scale": reading.scale, "nodata": reading.nodata},
        "training_mode": training_mode,
        "training_mode_label": TRAINING_MODE_LABELS[training_mode],
        "training_grid": {"crs_wkt": g.crs_wkt, "transform": list(g.transform), "width": g.width,
                          "height": g.height},
        "dates": list(pairs.date_labels),
        "n_samples": int(pairs.y.size),
        "fit_samples": int(min(pairs.y.size, SVR_MAX_SAMPLES) if chosen == "svr" else pairs.y.size),
        "target_range": [float(pairs.y.min()), float(pairs.y.max())],
        "feature_ranges": {n: [float(pairs.X[:, j].min()), float(pairs.X[:, j].max())]
                           for j, n in enumerate(pairs.feature_names)},
        "min_valid_fraction": float(min_valid_fraction),
        "seed": int(seed),
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "created": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "cv": cv,
        "search": search_meta,
        "auto": auto_meta,
        "noise_augmentation": augmentation_meta,
    }
    if training_mode == "paper":
        meta["paper_max_samples"] = int(paper_max_samples)
    if chosen == "svr":
        meta["support_vectors"] = int(final.named_steps["svr"].support_.size)
        meta["province_day"] = province_day_cost(final, pairs.X)
    if hasattr(final, "feature_importances_"):
        meta["feature_importances"] = {n: float(v) for n, v in zip(pairs.feature_names, final.feature_importances_)}
    if is_canceled():
        raise Canceled()
    model_io.save_model(output, final, meta)
    progress(1.0)
    pooled = cv[cv_mode]["pooled"] if cv else {k: (0 if k == "n" else None) for k in METRIC_NAMES}
    return TrainResult(model_io.jsonable({"format": model_io.FORMAT, "format_version": model_io.FORMAT_VERSION,
                                          **meta}),
                       {k: (math.nan if v is None else v) for k, v in pooled.items()})


#: A province-day: the 1 km pixels of Inner Mongolia's bounding box (the bench's scene).
PROVINCE_DAY_PIXELS = 4_000_000


def province_day_cost(estimator: Any, x: np.ndarray, rows: int = 4096) -> dict[str, Any]:
    """What predicting a province-day (:data:`PROVINCE_DAY_PIXELS`) costs with this model on this computer:
    the time of ``rows`` rows predicted as downscale predicts them, scaled to the province (SVR's cost is
    linear in pixels and in support vectors).

    Parameters
    ----------
    estimator : Any
        A fitted estimator.
    x : numpy.ndarray
        Design matrix rows to time (repeated or cut to ``rows``).
    rows : int
        Rows predicted for the timing.

    Returns
    -------
    dict[str, Any]
        'seconds' (None without rows), 'pixels' and 'backend' (the predictor's).
    """
    from .inference import Predictor

    if x.shape[0] == 0:
        return {"seconds": None, "pixels": PROVINCE_DAY_PIXELS, "backend": None}
    sample = np.resize(np.asarray(x, dtype=np.float32), (rows, x.shape[1]))
    predictor = Predictor(estimator)
    predictor.predict(sample[:64])  # warm up (library load, threads)
    t0 = time.perf_counter()
    predictor.predict(sample)
    secs = (time.perf_counter() - t0) * PROVINCE_DAY_PIXELS / rows
    return {"seconds": round(secs, 1), "pixels": PROVINCE_DAY_PIXELS, "backend": predictor.backend}


@functools.wraps(_train_model)
def train_model(*args: Any, **kwargs: Any) -> TrainResult:
    """Train a model (:func:`_train_model`, same parameters, returns and errors) in its own context copy.

    Parameters
    ----------
    *args, **kwargs
        The parameters of :func:`_train_model`.

    Returns
    -------
    TrainResult
        What :func:`_train_model` returns.
    """
    # the factor-noise augmentation _train_model sets stays inside this call (its own copy of the context)
    return contextvars.copy_context().run(_train_model, *args, **kwargs)


def cv_table(meta: dict[str, Any]) -> str:
    """A readable cross-validation table (pooled and per fold) for logs.

    Parameters
    ----------
    meta : dict[str, Any]
        The model's metadata.

    Returns
    -------
    str
        The table, one line per pooled and per-fold row.
    """
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
    titles = (("spatial", "spatial blocks"), ("dates", "dates held out"), ("random", "random (optimistic)"))
    for key, title in titles:
        part = cv.get(key)
        if not isinstance(part, dict):
            continue
        rows = [(f"{title} pooled", part["pooled"])] + [(f"  fold {f['fold']}", f) for f in part["per_fold"]]
        for label, m in rows:
            lines.append(f"{label:28s} {m['n']:6d} " + " ".join(fmt(m[k]) for k in ("r", "mae", "rmse", "bias",
                                                                                      "ubrmsd")))
    transfer = cv.get("transfer")
    if isinstance(transfer, dict) and transfer.get("pooled"):
        rows = [("scale transfer pooled", transfer["pooled"])]
        rows += [(f"  trained {f}x coarser", m) for f, m in transfer.get("factors", {}).items()]
        for label, m in rows:
            lines.append(f"{label:28s} {m['n']:6d} " + " ".join(fmt(m[k]) for k in ("r", "mae", "rmse", "bias",
                                                                                      "ubrmsd")))
    return "\n".join(lines)


def selection_table(meta: dict[str, Any]) -> str:
    """The models compared by 'auto' and the configurations the search tried, for logs.

    Parameters
    ----------
    meta : dict[str, Any]
        The model's metadata.

    Returns
    -------
    str
        The lines (empty when neither Auto nor the search ran).
    """
    lines = []

    def row(e: dict[str, Any]) -> str:
        def f(v: Any) -> str:
            return "   n/a" if v is None else f"{v:6.4f}"

        p = ", ".join(f"{k}={v}" for k, v in sorted(e["params"].items())) or "defaults"
        return f"  {e['model_type']:<11s} RMSE {f(e['rmse'])} R {f(e['r'])} ubRMSD {f(e['ubrmsd'])}  {p}"

    auto = meta.get("auto")
    if auto:
        lines.append(f"Models compared ({auto['scored_by']}); kept: {auto['winner']}")
        lines += [row(e) for e in auto["candidates"]]
    search = meta.get("search")
    if search:
        lines.append(f"Hyperparameter search: {len(search['tried'])} configuration(s) in {search['elapsed_s']:.1f} s "
                     f"(budget {search['budget_s']:g} s); winner:")
        lines.append(row(search["winner"]))
    return "\n".join(lines)
