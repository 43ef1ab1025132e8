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
a linear trend + gradient boosting hybrid (ridge regression on standardized factors, then histogram
boosting of its residuals: :class:`.hybrid.LinearBoostRegressor`), which extrapolates linearly beyond the
range of the coarse factors (1 km factors span a wider range than their 9 km means). ``auto`` trains several
and keeps the one with the lowest pooled spatial-CV RMSE.

Hyperparameter search (``search_seconds`` > 0): for each model, the default configuration and then
configurations drawn at random without replacement from a grid of sensible values are scored by the
pooled spatial-CV RMSE until the time budget is spent; every configuration tried and the winner are
recorded in the metadata. Selecting on the same folds that report skill flatters the winner a little.

Cores (``n_jobs``): forests and larger histogram boosting fits use them in their own threads, one fit at a
time; fits that run on one core (SVR, CART, the hybrid's boosting, histogram boosting on few samples) run side
by side instead, the folds of a cross-validation or transfer check and the final fit beside the reported
folds. Each fold is the same fit on the same rows with the same seed, and results are taken in fold order, so
metrics, early stops and picks are those of one fit at a time.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import contextvars
import datetime as dt
import functools
import itertools
import json
import math
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from . import detail, model_io, options
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
    # histogram boosting of the ridge trend's residuals (hybrid.LinearBoostRegressor), with the previous exact-split
    # boosting's shape (50 trees of depth 3 at learning rate 0.1, leaves of 5): a fit costs a fifth to a twentieth,
    # spatial-CV and transfer RMSE within 2.1 % on the accuracy-bench scenes, the same picks (bench/hybrid_tradeoff.py,
    # bench/README.md); larger trees (15-31 leaves of 20) score worse there
    "linear_gbr": {"max_iter": 50, "learning_rate": 0.1, "max_depth": 3, "max_leaf_nodes": None,
                   "min_samples_leaf": 5, "l2_regularization": 0.0, "ridge_alpha": 1.0},
}
#: Grids the hyperparameter search draws from (the defaults are always tried first).
SEARCH_SPACES: dict[str, dict[str, list[Any]]] = {
    "rf": {"n_estimators": [100, 200], "min_samples_leaf": [1, 2, 3, 5, 8], "max_features": [0.2, 0.33, 0.5, 0.7, 1.0]},
    "extratrees": {"n_estimators": [100, 200], "min_samples_leaf": [1, 2, 3, 5, 8],
                   "max_features": [0.33, 0.5, 0.7, 1.0]},
    "gbr": {"max_iter": [100, 200, 400], "learning_rate": [0.03, 0.05, 0.1], "max_leaf_nodes": [7, 15, 31],
            "min_samples_leaf": [5, 10, 20], "l2_regularization": [0.0, 1.0]},
    "linear_gbr": {"max_iter": [30, 50, 100, 200], "learning_rate": [0.03, 0.05, 0.1], "max_depth": [2, 3, 4],
                   "min_samples_leaf": [5, 10, 20], "l2_regularization": [0.0, 1.0], "ridge_alpha": [0.1, 1.0, 10.0]},
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
        The unfitted estimator (a Pipeline for 'svr'; a :class:`.hybrid.LinearBoostRegressor` for 'linear_gbr').

    Raises
    ------
    InputError
        A parameter the model does not have, or a bad value.
    """
    from sklearn.ensemble import ExtraTreesRegressor, HistGradientBoostingRegressor, RandomForestRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR
    from sklearn.tree import DecisionTreeRegressor

    from .hybrid import LinearBoostRegressor

    model_type = _check_type(model_type)
    full = dict(DEFAULT_PARAMS[model_type])
    full.update(params or {})
    cls = {"rf": RandomForestRegressor, "svr": SVR, "cart": DecisionTreeRegressor, "gbr": HistGradientBoostingRegressor,
           "extratrees": ExtraTreesRegressor, "linear_gbr": LinearBoostRegressor}[model_type]
    valid = set(cls().get_params())
    unknown = sorted(set(full) - valid)
    if unknown:
        hint = ""
        if model_type == "linear_gbr" and set(unknown) & {"n_estimators", "subsample"}:
            hint = (" Its boosting is histogram gradient boosting now: 'n_estimators' is 'max_iter', and "
                    "'subsample' has no equivalent (leave it out).")
        raise InputError(f"The {MODEL_LABELS[model_type]} has no parameter(s) {', '.join(unknown)}; valid ones are "
                         f"{', '.join(sorted(valid))}.{hint}")
    if model_type == "linear_gbr":
        alpha = full.get("ridge_alpha")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not (np.isfinite(alpha) and alpha >= 0):
            raise InputError(f"Invalid {MODEL_LABELS[model_type]} parameter ridge_alpha={alpha!r}: give a number of 0 "
                             "or more (the ridge penalty of the linear trend, e.g. 1.0).")
    try:
        if model_type in ("rf", "extratrees"):
            return cls(random_state=seed, n_jobs=n_jobs, **full)
        if model_type == "linear_gbr":  # its boosting's settings checked now, not after pairing in fit
            HistGradientBoostingRegressor(**{k: v for k, v in full.items() if k != "ridge_alpha"})._validate_params()
        if model_type in ("cart", "gbr", "linear_gbr"):
            return cls(random_state=seed, **full)
        return Pipeline([("scale", StandardScaler()), ("svr", SVR(**full))])
    except (TypeError, ValueError) as exc:
        raise InputError(f"Invalid {MODEL_LABELS[model_type]} parameters {full}: {exc}.") from exc


def model_params(estimator: Any, model_type: str) -> dict[str, Any]:
    """The estimator's own settings as JSON values (the SVR step of the pipeline).

    Parameters
    ----------
    estimator : Any
        A fitted or unfitted estimator of ``model_type``.
    model_type : str
        One of :data:`MODEL_TYPES`.

    Returns
    -------
    dict[str, Any]
        Setting name -> value (numbers, strings, booleans, None); the hybrid's include 'ridge_alpha'.
    """
    if model_type == "svr":
        raw = estimator.named_steps["svr"].get_params(deep=False)
    else:
        raw = estimator.get_params(deep=False)
    return {k: v for k, v in raw.items() if isinstance(v, (int, float, str, bool)) or v is None}


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
    steps = [estimator] + list(getattr(estimator, "named_steps", {}).values()) + [getattr(estimator, "boost_", None)]
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
    machine, spinning threads dominate fits of a few thousand samples. The hybrid's boosting always does: its fits
    run side by side (:func:`_single_threaded`), each on one core. Entered in the thread that fits or predicts
    (OpenMP's thread count is a setting of the calling thread)."""
    if model_type == "linear_gbr" or (model_type == "gbr" and n < HGB_SINGLE_THREAD_BELOW):
        from threadpoolctl import threadpool_limits

        return threadpool_limits(1, user_api="openmp")
    return contextlib.nullcontext()


def _single_threaded(model_type: str, rows: int) -> bool:
    """Whether a fit of ``rows`` rows (noisy copies included) runs on one core: SVR, CART, the hybrid's boosting and
    histogram boosting below :data:`HGB_SINGLE_THREAD_BELOW` (the forests and larger histogram boosting use the
    cores themselves, so their folds run one at a time)."""
    return model_type in ("svr", "cart", "linear_gbr") or (model_type == "gbr" and rows < HGB_SINGLE_THREAD_BELOW)


def _fit_rows(n: int) -> int:
    """The rows a fit on ``n`` samples sees (the noisy copies of this call's augmentation included)."""
    aug = _AUGMENT.get()
    return n * (aug.copies if aug is not None else 1)


#: The threads train_model runs single-threaded fits on side by side, and how many (None: every fit in turn).
_POOL: contextvars.ContextVar[tuple[concurrent.futures.ThreadPoolExecutor, int] | None] = contextvars.ContextVar(
    "smd_fit_pool", default=None)


@contextlib.contextmanager
def _fit_pool(n_jobs: int) -> Iterator[None]:
    """Within the block, single-threaded fits run side by side on ``n_jobs`` threads (-1: every core; 0 or 1: none).
    scikit-learn's tree building, libsvm and numpy release the GIL, so threads use the cores; leaving the block
    waits for every fit still running."""
    from joblib import effective_n_jobs

    workers = effective_n_jobs(n_jobs) if n_jobs else 1
    if workers <= 1:
        yield
        return
    pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="smd-fit")
    token = _POOL.set((pool, workers))
    try:
        yield
    finally:
        _POOL.reset(token)
        pool.shutdown(wait=True, cancel_futures=True)


def _in_order(jobs: Sequence[Callable[[], Any]], side_by_side: bool, is_canceled: IsCanceled,
              may_stop: bool = False) -> Iterator[Any]:
    """The results of ``jobs``, in order. With ``side_by_side`` and a pool (:func:`_fit_pool`), the jobs run on its
    threads, each in a copy of this context (the augmentation) and checking ``is_canceled`` before it starts; else
    one after the other, here. The results and the order they come in are the same either way; closing the
    iterator early (a stopped check, an error, a cancel) drops the jobs not started and waits for the running ones.
    When the caller ``may_stop`` after any result, no more jobs run ahead of the results taken than the pool has
    threads, so a stop wastes at most the fits already running beside the last result taken."""
    pooled = _POOL.get() if side_by_side and len(jobs) > 1 else None
    if pooled is None:
        for job in jobs:
            if is_canceled():
                raise Canceled()
            yield job()
        return

    def run(job: Callable[[], Any]) -> Any:
        if is_canceled():
            raise Canceled()
        return job()

    pool, workers = pooled
    todo = iter(jobs)
    futures: collections.deque[concurrent.futures.Future] = collections.deque()

    def start(count: int) -> None:
        for job in itertools.islice(todo, count):
            futures.append(pool.submit(contextvars.copy_context().run, run, job))

    start(workers if may_stop else len(jobs))
    try:
        while futures:
            if is_canceled():
                raise Canceled()
            result = futures[0].result()
            futures.popleft()
            yield result
            start(1)
    finally:
        for fut in futures:
            fut.cancel()
        concurrent.futures.wait(futures)


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


class _CannotWinError(Exception):
    """A candidate's cross-validation was abandoned: its squared errors already exceed the bound it had to beat."""

    def __init__(self, folds_done: int) -> None:
        super().__init__(folds_done)
        self.folds_done = folds_done


def cross_validate(estimator: Any, pairs: Pairs, splits: list[tuple[np.ndarray, np.ndarray]], model_type: str,
                   seed: int, progress: Progress, is_canceled: IsCanceled,
                   deadline: float | None = None, fold_s: float = 0.0,
                   sse_bound: float | None = None) -> dict[str, Any]:
    """Out-of-fold predictions over ``splits``: pooled and per-fold metrics.

    With a ``deadline``, a fold is started only when it is expected to end before it (expected: the mean of
    this call's folds so far, else ``fold_s``), so a search stays within its budget instead of overrunning
    it by a fold. With an ``sse_bound`` (the summed squared error of the model to beat over the same splits),
    the folds stop as soon as their squared errors exceed it: the pooled RMSE can then no longer be lower.

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
    sse_bound
        Stop once the summed squared error exceeds this.

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
    _CannotWinError
        The squared errors exceeded ``sse_bound`` (private: Auto records the candidate as stopped).
    """
    pred = np.full(pairs.y.size, np.nan)
    per_fold = []
    start = _clock()
    sse = 0.0

    def fold(k: int, train: np.ndarray, test: np.ndarray) -> np.ndarray:
        if deadline is not None and _clock() + ((_clock() - start) / k if k else fold_s) > deadline:
            raise _OverBudgetError()
        est = _fit(estimator, pairs.X[train], pairs.y[train], model_type, seed)
        with _threads(model_type, pairs.y.size):
            return est.predict(pairs.X[test])

    # single-threaded folds run side by side (not in a search: its budget is kept fold by fold)
    side_by_side = deadline is None and _single_threaded(model_type, _fit_rows(max((len(tr) for tr, _ in splits),
                                                                                   default=0)))
    jobs = [functools.partial(fold, k, train, test) for k, (train, test) in enumerate(splits)]
    with contextlib.closing(_in_order(jobs, side_by_side, is_canceled, sse_bound is not None)) as results:
        for k, ((_, test), fold_pred) in enumerate(zip(splits, results)):
            pred[test] = fold_pred
            fold_metrics = _clean(metrics(pred[test], pairs.y[test]))
            fold_metrics["fold"] = k + 1
            per_fold.append(fold_metrics)
            sse += float(np.sum((pred[test] - pairs.y[test]) ** 2))
            if sse_bound is not None and sse > sse_bound * (1.0 + 1e-9):
                raise _CannotWinError(k + 1)
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
                   is_canceled: IsCanceled = never_canceled, factors: Sequence[int] = TRANSFER_FACTORS,
                   bound: Sequence[float] | None = None) -> dict[str, Any] | None:
    """The scale-transfer check: train on grids ``factors`` x coarser than SMAP's, predict SMAP's own cells.

    Downscaling trains at one scale and predicts at a finer one; this repeats that step one level up,
    where the answer is known. For each factor the pairs are aggregated (:func:`coarsen_pairs`), the
    SMAP grid is cut into square blocks (a multiple of the factor, at least ``block_cells`` cells) split
    into ``folds`` groups, and a model fitted on the coarser cells of the other blocks predicts the
    SMAP cells of each held-out block, scored against SMAP. Returns per factor and pooled metrics, and
    the per-fold RMSE (for comparing models fold by fold), or None when no factor leaves enough samples.

    With a ``bound`` (another model's 'fold_rmse' on the same pairs), the check stops at the first fold whose
    RMSE is not below the bound's: it returns only 'fold_rmse' so far and 'stopped' (that fold's number).

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
    bound
        Fold RMSEs to beat; None: every fold runs.

    Returns
    -------
    dict or None
        'factors' (metrics per factor), 'pooled' metrics and 'fold_rmse'; stopped: 'fold_rmse' and 'stopped'.

    Raises
    ------
    Canceled
        ``is_canceled()`` became true.
    """
    w = pairs.grid.width
    out: dict[str, Any] = {"factors": {}, "method": "trained on grids coarser than SMAP's, predicted on SMAP cells "
                                                     "of held-out spatial blocks"}
    # every factor's folds first (cheap), so that single-threaded fits of both factors can run side by side
    plans: list[tuple[int, list[tuple[np.ndarray, np.ndarray]]]] = []
    jobs: list[Callable[[], np.ndarray]] = []
    most_rows = 0
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
        runs = [(tr, te) for tr, te in ((fb != j, fs == j) for j in range(k)) if tr.sum() >= 10 and te.any()]
        plans.append((f, runs))
        jobs += [functools.partial(_transfer_fold, estimator, x[tr], y[tr], pairs.X[te], model_type, seed)
                 for tr, te in runs]
        most_rows = max([most_rows] + [int(tr.sum()) for tr, _ in runs])
    preds, truths, fold_rmse = [], [], []
    side_by_side = _single_threaded(model_type, _fit_rows(most_rows))
    with contextlib.closing(_in_order(jobs, side_by_side, is_canceled, bound is not None)) as results:
        for f, runs in plans:
            pred = np.full(pairs.y.size, np.nan)
            per_fold = []
            for (_, te), fold_pred in zip(runs, results):
                pred[te] = fold_pred
                per_fold.append(float(np.sqrt(np.mean((pred[te] - pairs.y[te]) ** 2))))
                i = len(fold_rmse) + len(per_fold) - 1
                if bound is not None and (i >= len(bound) or per_fold[-1] >= bound[i]):
                    return {"fold_rmse": fold_rmse + per_fold, "stopped": i + 1}
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


def _transfer_fold(estimator: Any, x: np.ndarray, y: np.ndarray, x_test: np.ndarray, model_type: str,
                   seed: int) -> np.ndarray:
    """One scale-transfer fold: fitted on the coarser cells ``x``, ``y``, the predictions at ``x_test``."""
    est = _fit(estimator, x, y, model_type, seed)
    with _threads(model_type, y.size):
        return est.predict(x_test)


AUTO_BASELINE = "rf"
AUTO_SCORED_BY = ("the scale-transfer check (trained 2x and 3x coarser than SMAP, predicted on SMAP cells of held-out "
                  "blocks) and spatial cross-validation: the random forest unless another model beats it in both, "
                  "on every transfer fold and by more than the spread of the fold differences")


def _transfer_of(cand: str, entry: dict[str, Any], pairs: Pairs, folds: int, block_cells: int, seed: int,
                 n_jobs: int, is_canceled: IsCanceled, bound: Sequence[float] | None = None) -> dict[str, Any] | None:
    """A candidate's scale-transfer check with its cross-validation estimator (stored in its entry)."""
    est = _cv_estimator(_with_caps(make_estimator(cand, entry["params"], seed, n_jobs), cand, pairs.y.size,
                                   entry["params"]), cand)
    res = scale_transfer(est, pairs, cand, folds, block_cells, seed, is_canceled, bound=bound)
    if res is not None:
        entry["transfer"] = {k: v for k, v in res.items() if k != "method"}
    return res


def _rank_by_transfer(per_model: dict[str, dict[str, Any]], candidates: Sequence[str], pairs: Pairs, folds: int,
                      block_cells: int, seed: int, n_jobs: int, is_canceled: IsCanceled,
                      cross_validated: Callable[[str, float | None], dict[str, Any]] | None = None,
                      progress: Progress = no_progress) -> str | None:
    """Auto's choice by the scale-transfer check (stored in each candidate's entry as 'transfer').

    The random forest (the default model) is kept unless another candidate has a lower spatial-CV RMSE
    and a lower transfer RMSE on every fold, by more on average than the standard deviation of the
    fold-by-fold differences (among those, the lowest pooled transfer RMSE wins). On the accuracy bench
    neither ranking alone picks the model that is best at 1 km (bench/ACCURACY.md), so the default is
    left only on clear evidence. None when the check cannot run (too few cells): the CV ranking stands.

    The rule is evaluated cheapest part first and a candidate is left as soon as it cannot win, so the
    choice is the one a full evaluation makes at a fraction of its cost: the forest's transfer check; each
    other candidate's, stopped at the first fold no better than the forest's; then the spatial CV of the
    candidates clearly better in transfer, lowest pooled transfer RMSE first, each stopped once its squared
    errors exceed the forest's: the first one better than the forest there wins, and the others need no CV.
    Entries without an 'rmse' get their spatial CV from ``cross_validated(model, sse_bound)`` (an entry with
    'rmse' None when stopped); every entry gets 'ranking': why it was kept or left.
    """
    present = [c for c in candidates if c in per_model]
    if AUTO_BASELINE not in present:
        results = {c: _transfer_of(c, per_model[c], pairs, folds, block_cells, seed, n_jobs, is_canceled)
                   for c in present}
        if not results or any(r is None for r in results.values()):
            return None
        return min(results, key=lambda c: results[c]["pooled"]["rmse"])
    base_entry = per_model[AUTO_BASELINE]
    base_res = _transfer_of(AUTO_BASELINE, base_entry, pairs, folds, block_cells, seed, n_jobs, is_canceled)
    if base_res is None:
        return None
    base = np.asarray(base_res["fold_rmse"])
    base_rmse = base_res["pooled"]["rmse"]
    others = [c for c in present if c != AUTO_BASELINE]
    steps = len(others) + 1
    clear: list[str] = []
    for i, cand in enumerate(others):
        progress(i / steps)
        entry = per_model[cand]
        res = _transfer_of(cand, entry, pairs, folds, block_cells, seed, n_jobs, is_canceled,
                           bound=base if base.size >= 2 else None)
        if res is None:
            entry["ranking"] = "left: the scale-transfer check could not run"
        elif res.get("stopped"):
            entry["ranking"] = f"left at transfer fold {res['stopped']}: not below the random forest's RMSE there"
        elif not _clearly_below(np.asarray(res["fold_rmse"]), base):
            entry["ranking"] = "left: not better than the random forest on every transfer fold beyond their spread"
        elif not res["pooled"]["rmse"] < base_rmse:
            entry["ranking"] = "left: pooled transfer RMSE not below the random forest's"
        else:
            clear.append(cand)
    progress(len(others) / steps)
    # the winner is the lowest pooled transfer RMSE among the clear ones that are also better in spatial CV
    clear.sort(key=lambda c: per_model[c]["transfer"]["pooled"]["rmse"])  # stable: ties keep the candidates' order
    best = AUTO_BASELINE
    for cand in clear:
        entry = per_model[cand]
        if best != AUTO_BASELINE:
            entry["ranking"] = (f"not cross-validated: clearly better than the random forest in transfer, but "
                                f"{best}'s transfer RMSE is lower")
            continue
        base_cv = _cv_rmse(base_entry, None, cross_validated)
        bound = base_cv ** 2 * pairs.y.size if math.isfinite(base_cv) else None
        if _cv_rmse(entry, bound, cross_validated) < base_cv:
            best = cand
            entry["ranking"] = "kept: clearly better than the random forest in scale transfer and spatial CV"
        elif entry.get("stopped_cv_fold"):
            entry["ranking"] = (f"left at spatial-CV fold {entry['stopped_cv_fold']}: squared errors already above "
                                "the random forest's")
        else:
            entry["ranking"] = "left: spatial-CV RMSE not below the random forest's"
    base_entry["ranking"] = ("kept: no other model is clearly better" if best == AUTO_BASELINE else
                             f"left: {best} is clearly better")
    progress(1.0)
    return best


def _clearly_below(fold_rmse: np.ndarray, base: np.ndarray) -> bool:
    """Lower than ``base`` on every fold, by more on average than the spread of the fold differences."""
    diff = fold_rmse - base if fold_rmse.shape == base.shape else None
    return diff is not None and diff.size >= 2 and bool(np.all(diff < 0)) and float(diff.mean() + diff.std(ddof=1)) < 0


def _cv_rmse(entry: dict[str, Any], sse_bound: float | None,
             cross_validated: Callable[[str, float | None], dict[str, Any]] | None) -> float:
    """A candidate's pooled spatial-CV RMSE (inf when unknown or stopped), cross-validated first if it has none."""
    if "rmse" not in entry:
        if cross_validated is None:
            raise ValueError(f"{entry['model_type']} has no spatial-CV RMSE and nothing to compute it with")
        entry.update(cross_validated(entry["model_type"], sse_bound))
    return _rank(entry)


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
              deadline: float | None = None, sse_bound: float | None = None) -> dict[str, Any]:
        """The cached entry of (model, params): pooled metrics of the selection folds ('cv': the full result).

        With ``sse_bound``, a cross-validation whose squared errors exceed it is abandoned: the entry (not
        cached) then has 'rmse' None and 'stopped_cv_fold'.
        """
        merged = dict(base or {})
        merged.update(params)
        est = _with_caps(make_estimator(model_type, merged, self.seed, self.n_jobs), model_type, self.pairs.y.size,
                         merged)
        full = model_params(est, model_type)
        key = _key(model_type, full)
        if key not in self.cache:
            t0 = _clock()
            try:
                res = cross_validate(_cv_estimator(est, model_type), self.pairs, self.splits, model_type, self.seed,
                                     no_progress, self.is_canceled, deadline, self.fold_s.get(model_type, 0.0),
                                     sse_bound)
            except _CannotWinError as stop:
                return {"model_type": model_type, "params": merged, "rmse": None, "r": None, "ubrmsd": None,
                        "seconds": round(_clock() - t0, 3), "stopped_cv_fold": stop.folds_done}
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


@dataclass(frozen=True)
class TrainRequest:
    """What :func:`train_model` trains, on which files, and how it is cross-validated and selected.

    Like :class:`.gee.expressions.BuildOptions`, one object instead of a long keyword list: the fields hold the
    defaults, and building a request checks and normalizes every choice (model type, folds, modes, budgets,
    parameters), raising :class:`.errors.InputError` with the fix before any file is read. The files
    themselves (readable inputs, a writable output apart from them) are checked by :func:`train_model`.

    Raises
    ------
    InputError
        A bad option: an unknown model type, CV or training mode, 1 or negative folds, a negative or
        non-finite search budget, fewer than 1 search configuration, a noise augmentation outside [0, 5],
        parameters the model does not have or given with 'auto', a bad SMAP scale or nodata value.
    """

    #: SMAP rasters, paired with the factor stacks by the date in their names.
    sm_paths: Sequence[str]
    #: Factor stacks, one per date.
    stack_paths: Sequence[str]
    #: The model file to write (.smdmodel, written under a temporary name and renamed when complete).
    output: str
    #: One of :data:`MODEL_TYPES`, or 'auto' (the random forest unless another model is clearly better).
    model_type: str = "rf"
    #: The stack bands (or derived factors) to use; None: every band.
    factors: Sequence[str] | None = None
    #: The model's settings over :data:`DEFAULT_PARAMS` (none with 'auto': they differ between models).
    params: dict[str, Any] | None = None
    #: Folds of the reported cross-validation: 0 skips it, else at least 2.
    cv_folds: int = 5
    #: Side of the spatial cross-validation blocks, in SMAP cells.
    cv_block_cells: int = 4
    #: Least share of valid 1 km pixels a SMAP cell needs to become a sample.
    min_valid_fraction: float = 0.5
    #: Seed of every split, subsample, noise copy and fit.
    seed: int = 0
    #: Cores used: the forests' threads; single-threaded fits (SVR, CART, the hybrid, small histogram boosting) of
    #: cross-validation, the scale-transfer check and the final fit run this many side by side (-1: every core).
    n_jobs: int = -1
    #: How the reported cross-validation holds samples out: one of :data:`CV_MODES`.
    cv_mode: str = options.CV_MODES.default_key
    #: Time budget of the hyperparameter search in seconds; 0: no search.
    search_seconds: float = 0.0
    #: 'coarse' (scale-aware, trained on SMAP cells) or 'paper' (the study's 1 km pixels): :data:`TRAINING_MODES`.
    training_mode: str = options.TRAINING_MODES.default_key
    #: Derived factors to add (:mod:`.derived`) whose inputs the stacks hold.
    derived: Sequence[str] | None = None
    #: Most configurations the search tries per model; None: the budget alone decides.
    search_max_configs: int | None = None
    #: 1 km pixels sampled in the 'paper' training mode.
    paper_max_samples: int = PAPER_MAX_SAMPLES
    #: Factor from SMAP's values to m3/m3 (0.01 for percent); stored in the model for downscale's residual step.
    sm_scale: float = 1.0
    #: SMAP value meaning nodata besides the file's own (None: the file's); stored in the model like ``sm_scale``.
    sm_nodata: float | None = None
    #: Scale-aware mode: fit on noisy copies of the coarse samples, with this multiple of each factor's
    #: measured 1 km noise (:data:`NOISE_AUGMENTATION`); 0 switches it off.
    noise_augmentation: float = NOISE_AUGMENTATION

    def __post_init__(self) -> None:
        put = functools.partial(object.__setattr__, self)
        put("sm_paths", tuple(self.sm_paths))
        put("stack_paths", tuple(self.stack_paths))
        put("factors", None if self.factors is None else tuple(self.factors))
        put("derived", None if self.derived is None else tuple(self.derived))
        put("params", dict(self.params) if self.params else None)
        if self.cv_folds == 1 or self.cv_folds < 0:
            raise InputError(f"The number of cross-validation folds must be 0 (none) or at least 2 "
                             f"(got {self.cv_folds}).")
        put("model_type", _check_type(self.model_type, allow_auto=True))
        cv_mode = (self.cv_mode or options.CV_MODES.default_key).strip().lower()
        if cv_mode not in CV_MODES:
            raise InputError(f"Unknown cross-validation mode '{self.cv_mode}'; choose one of {', '.join(CV_MODES)}.")
        put("cv_mode", cv_mode)
        training_mode = (self.training_mode or options.TRAINING_MODES.default_key).strip().lower()
        if training_mode not in TRAINING_MODES:
            raise InputError(f"Unknown training mode '{self.training_mode}'; choose one of "
                             f"{', '.join(TRAINING_MODES)}.")
        put("training_mode", training_mode)
        search_seconds = float(self.search_seconds or 0.0)
        if not math.isfinite(search_seconds) or search_seconds < 0:
            raise InputError(f"The search time budget must be 0 (off) or a number of seconds (got {search_seconds}).")
        put("search_seconds", search_seconds)
        noise = float(self.noise_augmentation or 0.0)
        if not (math.isfinite(noise) and 0.0 <= noise <= 5.0):
            raise InputError(f"The factor noise augmentation must be between 0 (off) and 5 (got {noise}); "
                             f"the default is {NOISE_AUGMENTATION:g}.")
        put("noise_augmentation", noise)
        if self.search_max_configs is not None and self.search_max_configs < 1:
            raise InputError(f"The search needs at least 1 configuration per model (got {self.search_max_configs}).")
        _ = self.sm_reading  # SmReading checks the scale and the nodata value
        if self.model_type != AUTO:
            make_estimator(self.model_type, self.params, self.seed, self.n_jobs)  # parameter errors before pairing
        elif self.params:
            raise InputError("Model parameters cannot be given with 'auto' (they differ between models); choose a "
                             "model type or leave the parameters empty.")

    @property
    def sm_reading(self) -> SmReading:
        """How SMAP is read (:class:`.units.SmReading` of ``sm_scale`` and ``sm_nodata``)."""
        return SmReading(float(self.sm_scale), None if self.sm_nodata is None else float(self.sm_nodata))

    @property
    def selecting(self) -> bool:
        """Whether models or settings are chosen by cross-validation ('auto' or a search budget)."""
        return self.model_type == AUTO or self.search_seconds > 0


@dataclass
class _Selection:
    """The model and settings :func:`train_model` fits, and how they were chosen (metadata, None when not)."""

    model_type: str
    params: dict[str, Any]
    auto: dict[str, Any] | None = None
    search: dict[str, Any] | None = None


def train_model(request: TrainRequest, progress: Progress = no_progress,
                is_canceled: IsCanceled = never_canceled) -> TrainResult:
    """Train a soil moisture model, cross-validate it and save it as a .smdmodel file.

    The pairs are built (:func:`.features.coarse_pairs` in the scale-aware mode, :func:`.features.fine_pairs` in
    the study's), the model is chosen when asked ('auto', or a search budget), cross-validated with the
    request's scheme next to the optimistic random K-fold (and, scale-aware with spatial folds, the
    scale-transfer check), fitted on every sample and saved with its metadata.

    Parameters
    ----------
    request
        What to train and how (:class:`TrainRequest`, checked when it was built).
    progress, is_canceled
        Progress fraction and cancel check (:mod:`.raster` defaults).

    Returns
    -------
    TrainResult
        The saved metadata and the pooled metrics of the ``cv_mode`` scheme (NaN without cross-validation).

    Raises
    ------
    InputError
        The output is not writable or is one of the inputs; from the pairing (unreadable or unpaired files, too
        few samples, factors in the wrong units), the spatial splits (a single block) and the estimator.
    Canceled
        ``is_canceled()`` became true; no model file is written.
    """
    # the factor-noise augmentation set while training stays inside this call (its own copy of the context)
    return contextvars.copy_context().run(_train, request, progress, is_canceled)


@gdal_exceptions()
def _train(request: TrainRequest, progress: Progress, is_canceled: IsCanceled) -> TrainResult:
    check_output_path(request.output)
    check_apart({"model file": request.output}, {"soil moisture raster": list(request.sm_paths),
                                                 "factor stack": list(request.stack_paths)})
    pairs, constant, augmentation_meta = _training_pairs(request, lambda f: progress(0.3 * f), is_canceled)
    with _fit_pool(request.n_jobs):
        return _train_pairs(request, pairs, constant, augmentation_meta, progress, is_canceled)


def _train_pairs(request: TrainRequest, pairs: Pairs, constant: list[str], augmentation_meta: dict[str, Any] | None,
                 progress: Progress, is_canceled: IsCanceled) -> TrainResult:
    """Selection, reported cross-validation, final fit and the model file, from the training pairs."""
    sel_folds = request.cv_folds or SELECTION_FOLDS
    spatial = nblocks = None
    if request.cv_folds and request.cv_mode == "spatial" or request.selecting:
        spatial, nblocks = spatial_splits(pairs, sel_folds, request.cv_block_cells)
    selector = _Selector(pairs, spatial or [], request.seed, request.n_jobs, is_canceled)
    choice = _Selection(request.model_type, dict(request.params or {}))
    cv_start = 0.3
    if request.selecting:
        choice = _select(request, pairs, selector, sel_folds, lambda f: progress(0.3 + 0.3 * f), is_canceled)
        cv_start = 0.6
    estimator = _with_caps(make_estimator(choice.model_type, choice.params, request.seed, request.n_jobs),
                           choice.model_type, pairs.y.size, choice.params)
    cv = None
    pool = (_POOL.get() or (None,))[0]
    final_fit = None
    if request.cv_folds and pool is not None and _single_threaded(choice.model_type, _fit_rows(pairs.y.size)):
        # a single-threaded final fit runs beside the reported cross-validation's folds (it needs none of them)
        final_fit = pool.submit(contextvars.copy_context().run, _fit, estimator, pairs.X, pairs.y, choice.model_type,
                                request.seed)
    try:
        if request.cv_folds:
            cv = _reported_cv(request, pairs, choice, estimator, (spatial, nblocks), selector,
                              lambda f: progress(cv_start + (0.9 - cv_start) * f), is_canceled)
        if is_canceled():
            raise Canceled()
        fitted = final_fit.result() if final_fit is not None else _fit(estimator, pairs.X, pairs.y,
                                                                      choice.model_type, request.seed)
    finally:
        if final_fit is not None:
            final_fit.cancel()
            concurrent.futures.wait([final_fit])
    final = prepare_for_saving(fitted)
    progress(0.95)
    meta = _metadata(request, pairs, constant, final, choice, cv, augmentation_meta)
    if request.training_mode == "coarse":
        meta[detail.META_KEY] = detail.contrast_metadata(pairs, _AUGMENT.get(), request.seed)  # one ridge
    if is_canceled():
        raise Canceled()
    model_io.save_model(request.output, final, meta)
    progress(1.0)
    pooled = cv[request.cv_mode]["pooled"] if cv else {k: (0 if k == "n" else None) for k in METRIC_NAMES}
    return TrainResult(model_io.jsonable({"format": model_io.FORMAT, "format_version": model_io.FORMAT_VERSION,
                                          **meta}),
                       {k: (math.nan if v is None else v) for k, v in pooled.items()})


def _check_target_varies(pairs: Pairs) -> None:
    """Refuse soil moisture that holds one value in every training sample (a fill value, a failed export): any model
    would learn a constant, and its cross-validation would report no error."""
    y = np.asarray(pairs.y, dtype=np.float64)
    if y.size and float(np.ptp(y)) <= 1e-6:  # bilinear SMAP (paper mode) varies in the last digits
        names = [os.path.basename(p) for p in pairs.sm_paths]
        files = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        value = float(np.median(y))
        raise InputError(f"Every soil moisture value paired for training is {value:.6g} ({y.size} samples over "
                         f"{len(pairs.date_labels)} date(s), from {files}): a model cannot learn anything from one "
                         "value. Check the soil moisture rasters (a fill value or a failed export gives one value "
                         "everywhere) and give rasters that vary.")


def _training_pairs(request: TrainRequest, progress: Progress,
                    is_canceled: IsCanceled) -> tuple[Pairs, list[str], dict[str, Any] | None]:
    """The training pairs of the request's mode (constant factors dropped, their names), with the factor-noise
    augmentation of this call's fits set (scale-aware mode) and its metadata."""
    if request.training_mode == "paper":
        pairs = fine_pairs(request.sm_paths, request.stack_paths, request.factors, request.paper_max_samples,
                           request.seed, progress, is_canceled, derived=request.derived,
                           sm_reading=request.sm_reading)
    else:
        pairs = coarse_pairs(request.sm_paths, request.stack_paths, request.factors, request.min_valid_fraction,
                             progress, is_canceled, derived=request.derived, sm_reading=request.sm_reading)
    _check_target_varies(pairs)
    pairs, constant = drop_constant_factors(pairs)
    augmentation_meta = None
    if request.training_mode == "coarse":
        augmentation, augmentation_meta = make_augmentation(pairs, request.noise_augmentation, is_canceled)
        _AUGMENT.set(augmentation)  # train_model's own context
    return pairs, constant, augmentation_meta


def _select(request: TrainRequest, pairs: Pairs, selector: _Selector, sel_folds: int, progress: Progress,
            is_canceled: IsCanceled) -> _Selection:
    """Auto's model and the search's settings, scored on the selection folds (and, for Auto, by scale transfer)."""
    if request.model_type == AUTO and request.training_mode == "coarse" and not request.search_seconds:
        return _auto_by_transfer(request, pairs, selector, sel_folds, progress, is_canceled)
    t0 = _clock()
    auto = request.model_type == AUTO
    candidates = AUTO_CANDIDATES if auto else (request.model_type,)
    base = None if auto else request.params
    best: dict[str, Any] | None = None
    for i, cand in enumerate(candidates):
        if is_canceled():
            raise Canceled()
        if request.search_seconds > 0:
            entry = selector.search(cand, base, request.search_seconds / len(candidates), request.search_max_configs,
                                    lambda f, i=i: progress((i + f) / len(candidates)))
        else:
            entry = selector.score(cand, {}, base)
        if best is None or _rank(entry) < _rank(best):
            best = entry
        progress((i + 1) / len(candidates))
    assert best is not None
    choice = _Selection(best["model_type"], dict(best["params"]))
    scored_by = f"pooled RMSE of {len(selector.splits)}-fold spatial-block cross-validation"
    if auto:
        per_model: dict[str, dict[str, Any]] = {}
        for e in selector.tried:
            if e["model_type"] not in per_model or _rank(e) < _rank(per_model[e["model_type"]]):
                per_model[e["model_type"]] = e
        auto_scored_by = scored_by
        if request.training_mode == "coarse":
            winner = _rank_by_transfer(per_model, candidates, pairs, sel_folds, request.cv_block_cells, request.seed,
                                       request.n_jobs, is_canceled)
            if winner is not None:
                choice = _Selection(winner, dict(per_model[winner]["params"]))
                auto_scored_by = AUTO_SCORED_BY
        choice.auto = {"candidates": [_public(per_model[c]) for c in candidates if c in per_model],
                       "winner": choice.model_type, "scored_by": auto_scored_by}
    if request.search_seconds > 0:
        choice.search = {"budget_s": request.search_seconds, "elapsed_s": round(_clock() - t0, 3),
                         "scored_by": scored_by, "max_configs_per_model": request.search_max_configs,
                         "tried": [_public(e) for e in selector.tried], "winner": _public(best)}
    return choice


def _auto_by_transfer(request: TrainRequest, pairs: Pairs, selector: _Selector, sel_folds: int, progress: Progress,
                      is_canceled: IsCanceled) -> _Selection:
    """Auto (scale-aware, no search): each candidate with its defaults, ranked by :func:`_rank_by_transfer`, which
    cross-validates only the candidates that can still win; by the spatial CV alone when the check cannot run."""
    per_model: dict[str, dict[str, Any]] = {c: {"model_type": c, "params": {}} for c in AUTO_CANDIDATES}
    winner = _rank_by_transfer(per_model, AUTO_CANDIDATES, pairs, sel_folds, request.cv_block_cells, request.seed,
                               request.n_jobs, is_canceled,
                               lambda cand, sse_bound: selector.score(cand, {}, None, sse_bound=sse_bound), progress)
    scored_by = AUTO_SCORED_BY
    if winner is None:  # too few cells for the check: the spatial CV of every candidate decides
        for cand in AUTO_CANDIDATES:
            if is_canceled():
                raise Canceled()
            per_model[cand].update(selector.score(cand, {}, None))
        winner = min(AUTO_CANDIDATES, key=lambda c: _rank(per_model[c]))
        scored_by = f"pooled RMSE of {len(selector.splits)}-fold spatial-block cross-validation"
    elif "rmse" not in per_model[winner] and request.cv_folds and request.cv_mode == "spatial":
        per_model[winner].update(selector.score(winner, {}, None))  # reported next to the others (cached)
    blank = {"rmse": None, "r": None, "ubrmsd": None}
    return _Selection(winner, {}, auto={"candidates": [_public({**blank, **per_model[c]}) for c in AUTO_CANDIDATES],
                                        "winner": winner, "scored_by": scored_by})


def _reported_cv(request: TrainRequest, pairs: Pairs, choice: _Selection, estimator: Any,
                 spatial: tuple[list | None, int | None], selector: _Selector, progress: Progress,
                 is_canceled: IsCanceled) -> dict[str, Any]:
    """The reported cross-validation: the request's scheme, the optimistic random K-fold and, scale-aware with
    spatial folds, the scale-transfer check (results the selection already computed are reused)."""
    splits, nblocks = spatial
    chosen = choice.model_type
    cv_estimator = _cv_estimator(estimator, chosen)
    schemes: list[tuple[str, list, dict[str, Any]]] = []
    if request.cv_mode == "spatial":
        assert splits is not None
        schemes.append(("spatial", splits, {"method": "spatial blocks (GroupKFold)",
                                            "block_cells": request.cv_block_cells, "blocks": nblocks}))
    elif request.cv_mode == "dates":
        schemes.append(("dates", date_splits(pairs, request.cv_folds), {"method": "dates held out (GroupKFold)",
                                                                         "dates": len(pairs.date_labels)}))
    schemes.append(("random", random_splits(pairs, request.cv_folds, request.seed),
                    {"method": "random K-fold", "label": "optimistic"}))
    nfits = sum(len(s) for _, s, _ in schemes)
    done = 0.0
    cv: dict[str, Any] = {"mode": request.cv_mode, "primary": request.cv_mode}
    for key, scheme_splits, info in schemes:
        cached = selector.cache.get(_key(chosen, model_params(estimator, chosen))) if key == "spatial" else None
        span = len(scheme_splits) / nfits
        if cached is not None:
            res = cached["cv"]
        else:
            res = cross_validate(cv_estimator, pairs, scheme_splits, chosen, request.seed,
                                 lambda f, d=done, s=span: progress(d + f * s), is_canceled)
        done += span
        cv[key] = {**info, "folds": len(scheme_splits), **res}
    if request.training_mode == "coarse" and request.cv_mode == "spatial":
        known = (choice.auto or {}).get("candidates", [])
        hit = next((e.get("transfer") for e in known if e["model_type"] == chosen and e.get("transfer")), None)
        if hit is None:
            hit = scale_transfer(cv_estimator, pairs, chosen, request.cv_folds, request.cv_block_cells, request.seed,
                                 is_canceled)
        if hit is not None:
            cv["transfer"] = {"method": "scale transfer: trained on grids 2x and 3x coarser than SMAP's, "
                                        "predicted on SMAP cells of held-out blocks", **hit,
                              "per_fold": [{"fold": f"{f}x coarser", **m} for f, m in hit["factors"].items()]}
    if chosen in ("rf", "extratrees"):
        cv["n_estimators"] = int(cv_estimator.n_estimators)
    return cv


def _metadata(request: TrainRequest, pairs: Pairs, constant: list[str], final: Any, choice: _Selection,
              cv: dict[str, Any] | None, augmentation_meta: dict[str, Any] | None) -> dict[str, Any]:
    """The model file's metadata: what was trained on what, how it was chosen and how well it did."""
    import sklearn

    chosen = choice.model_type
    g = pairs.grid
    derived_used = [s.name for s in pairs.specs if s.name in pairs.derived]
    reading = request.sm_reading
    meta: dict[str, Any] = {
        "model_type": chosen,
        "requested_model_type": request.model_type,
        "params": model_params(final, chosen),
        "factors": [s.to_dict() for s in pairs.specs],
        "features": list(pairs.feature_names),
        "dropped_factors": {name: "constant over the training samples" for name in constant},
        "derived_factors": {"used": derived_used, "definitions": {n: pairs.derived[n] for n in derived_used},
                            "skipped": dict(pairs.derived_skipped)},
        "dates_left_out": {label: list(absent) for label, absent in pairs.dates_left_out.items()},
        "target": "soil_moisture",
        "units": {"soil_moisture": "m3/m3"},
        "soil_moisture_input": {"scale": reading.scale, "nodata": reading.nodata},
        "training_mode": request.training_mode,
        "training_mode_label": TRAINING_MODE_LABELS[request.training_mode],
        "training_grid": {"crs_wkt": g.crs_wkt, "transform": list(g.transform), "width": g.width,
                          "height": g.height},
        "dates": list(pairs.date_labels),
        "n_samples": int(pairs.y.size),
        "fit_samples": int(min(pairs.y.size, SVR_MAX_SAMPLES) if chosen == "svr" else pairs.y.size),
        "target_range": [float(pairs.y.min()), float(pairs.y.max())],
        "feature_ranges": {n: [float(pairs.X[:, j].min()), float(pairs.X[:, j].max())]
                           for j, n in enumerate(pairs.feature_names)},
        "min_valid_fraction": float(request.min_valid_fraction),
        "seed": int(request.seed),
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "created": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "cv": cv,
        "search": choice.search,
        "auto": choice.auto,
        "noise_augmentation": augmentation_meta,
    }
    if pairs.fine_resolution is not None:
        meta[model_io.FINE_RESOLUTION_META] = pairs.fine_resolution
    meta[model_io.FACTOR_SUMMARY_META] = factor_summary(pairs)
    if request.training_mode == "paper":
        meta["paper_max_samples"] = int(request.paper_max_samples)
    if chosen == "svr":
        meta["support_vectors"] = int(final.named_steps["svr"].support_.size)
        meta["province_day"] = province_day_cost(final, pairs.X)
    if hasattr(final, "feature_importances_"):
        meta["feature_importances"] = {n: float(v) for n, v in zip(pairs.feature_names, final.feature_importances_)}
    return meta


#: The percentiles :func:`factor_summary` records.
SUMMARY_PERCENTILES = (1.0, 50.0, 99.0)


def factor_summary(pairs: Pairs) -> dict[str, list[float]]:
    """The 1st, 50th and 99th percentiles of each continuous factor read from the stacks, over the training samples.

    Downscale compares a stack's values with them (:func:`.units.check_factor_scale`) to refuse a factor in decibels
    against linear power and warn of one far from them (mm against m, another area or season). Derived factors are
    left out: their inputs are checked.

    Parameters
    ----------
    pairs : Pairs
        The training samples (coarse cell means, or 1 km pixels in the paper mode).

    Returns
    -------
    dict[str, list[float]]
        Factor name -> [p1, p50, p99], for factors with finite samples.
    """
    out: dict[str, list[float]] = {}
    for spec in pairs.specs:
        if spec.kind == CATEGORICAL or spec.name in pairs.derived or spec.name not in pairs.feature_names:
            continue
        col = pairs.X[:, pairs.feature_names.index(spec.name)]
        col = col[np.isfinite(col)]
        if col.size:
            out[spec.name] = [float(v) for v in np.percentile(col, SUMMARY_PERCENTILES)]
    return out


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
        why = f"; {e['ranking']}" if e.get("ranking") else ""
        scores = f"RMSE {f(e.get('rmse'))} R {f(e.get('r'))} ubRMSD {f(e.get('ubrmsd'))}"
        return f"  {e['model_type']:<11s} {scores}  {p}{why}"

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
