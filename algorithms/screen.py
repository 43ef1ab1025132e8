"""Factor screening: correlation of each factor with SMAP soil moisture at the coarse scale.

Samples are the coarse pairs of :func:`features.coarse_pairs` pooled over dates. Continuous factors
get Pearson and Spearman r with p-values; a categorical factor is screened as a whole by the
correlation ratio eta of soil moisture over its dominant class per cell (p-value from one-way ANOVA).
Factors are ranked by |r| (eta for categorical ones) and walked in rank order: a factor whose
association with an already kept factor exceeds ``max_collinearity`` is dropped, naming its twin.

Beyond pairwise r (``diagnostics``): the variance inflation factor of each continuous factor against
the other kept factors (VIF = 1 / (1 - R^2) of a linear regression on them; land cover enters as class
fractions), the mutual information with soil moisture (k-nearest-neighbour estimate, also catches
nonlinear relations; nats), and the permutation importance from a quick random forest (increase of
the RMSE, m3/m3, when the factor is shuffled in held-out spatial blocks; correlated factors share
their importance). ``max_vif`` > 0 drops, one at a time, the kept factor with the largest VIF above
it (a factor explained by several others together, which pairwise r misses). Every row's ``reason``
says why the factor was kept or dropped.

p-values treat cells as independent; neighbouring cells are spatially autocorrelated, so read them
as a ranking aid rather than a significance test.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .errors import Canceled, InputError
from .features import CATEGORICAL, FactorSpec, Pairs, coarse_pairs
from .paths import check_apart
from .raster import IsCanceled, Progress, atomic_path, check_output_path, gdal_exceptions, never_canceled, no_progress
from .units import SmReading

COLUMNS = ("factor", "kind", "n", "pearson_r", "pearson_p", "spearman_r", "spearman_p", "rank", "selected", "reason")
#: Written after COLUMNS when the diagnostics are computed.
DIAGNOSTIC_COLUMNS = ("vif", "mutual_info", "perm_importance")
#: What the collinearity filter does: 'study' (the reference study's correlation screening: of two factors
#: associated above ``max_collinearity`` the weaker one is dropped), 'transfer' (such a factor is dropped only when
#: the scale-transfer check of a random forest is not worse without it) or 'off' (no factor is dropped for that).
COLLINEARITY_MODES = ("study", "transfer", "off")
#: Random forest of the transfer-decided collinearity filter (trees per fit); a collinear factor is kept when
#: its scale-transfer RMSE is lower by more than TRANSFER_MIN_GAIN (relative: more than a forest's randomness).
TRANSFER_TREES = 50
TRANSFER_MIN_GAIN = 0.01
#: Quick forest of the permutation importance.
PERM_TREES = 60
PERM_REPEATS = 3


@dataclass
class ScreenResult:
    """One row per factor (keys of :data:`COLUMNS`) in rank order, and the selected factor names."""

    rows: list[dict[str, Any]]
    selected: list[str]
    n_samples: int = 0
    dates: list[str] = field(default_factory=list)
    #: The coarse samples screened (for the report's correlation heatmap).
    pairs: Pairs | None = field(default=None, repr=False)
    #: CSV columns: COLUMNS, plus DIAGNOSTIC_COLUMNS when the diagnostics were computed.
    columns: tuple[str, ...] = COLUMNS

    @property
    def selected_text(self) -> str:
        """Comma-separated selected factors: what smdownscale:train takes as its factor list."""
        return ",".join(self.selected)


def _dominant(xcols: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    return np.asarray(classes)[np.argmax(xcols, axis=1)]


def correlation_ratio(groups: np.ndarray, values: np.ndarray) -> float:
    """eta: sqrt(between-group sum of squares / total sum of squares) of ``values`` grouped by ``groups``.

    Parameters
    ----------
    groups : numpy.ndarray
        A class label per sample.
    values : numpy.ndarray
        A continuous value per sample.

    Returns
    -------
    float
        eta in [0, 1]; NaN when ``values`` is constant.
    """
    values = np.asarray(values, dtype=np.float64)
    total = float(np.sum((values - values.mean()) ** 2))
    if total <= 0:
        return math.nan
    between = 0.0
    for g in np.unique(groups):
        v = values[groups == g]
        between += v.size * (v.mean() - values.mean()) ** 2
    return math.sqrt(min(1.0, between / total))


def cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    """Cramér's V between two class labellings (0 = independent, 1 = one determines the other).

    Parameters
    ----------
    a, b : numpy.ndarray
        Two class labellings of the same samples.

    Returns
    -------
    float
        V in [0, 1]; NaN when either labelling has a single class.
    """
    ua, ia = np.unique(a, return_inverse=True)
    ub, ib = np.unique(b, return_inverse=True)
    if ua.size < 2 or ub.size < 2:
        return math.nan
    table = np.zeros((ua.size, ub.size))
    np.add.at(table, (ia, ib), 1)
    n = table.sum()
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / n
    chi2 = float(np.sum((table - expected) ** 2 / expected))
    return math.sqrt(chi2 / (n * (min(ua.size, ub.size) - 1)))


@dataclass(eq=False)
class _Factor:
    spec: FactorSpec
    values: np.ndarray  # continuous: (n,) values; categorical: (n,) dominant class
    r: float
    p: float
    rho: float = math.nan
    rho_p: float = math.nan

    @property
    def categorical(self) -> bool:
        return self.spec.kind == CATEGORICAL

    @property
    def strength(self) -> float:
        return abs(self.r) if math.isfinite(self.r) else -1.0


def _factor_stats(pairs: Pairs) -> list[_Factor]:
    from scipy import stats

    out = []
    j = 0
    y = pairs.y
    for spec in pairs.specs:
        width = len(spec.classes) if spec.kind == CATEGORICAL else 1
        cols = pairs.X[:, j:j + width]
        j += width
        if spec.kind == CATEGORICAL:
            dom = _dominant(cols, spec.classes)
            eta, p = correlation_ratio(dom, y), math.nan
            groups = [y[dom == c] for c in np.unique(dom)]
            if len(groups) >= 2 and math.isfinite(eta):
                p = float(stats.f_oneway(*groups).pvalue)
            out.append(_Factor(spec, dom, eta, p))
            continue
        x = cols[:, 0]
        if np.ptp(x) <= 0 or np.ptp(y) <= 0:
            out.append(_Factor(spec, x, math.nan, math.nan))
            continue
        pr = stats.pearsonr(x, y)
        sr = stats.spearmanr(x, y)
        out.append(_Factor(spec, x, float(pr[0]), float(pr[1]), float(sr[0]), float(sr[1])))
    return out


def association(a: _Factor, b: _Factor) -> tuple[float, str]:
    """Collinearity between two factors in [0, 1] and its measure: |r|, eta or Cramér's V.

    Parameters
    ----------
    a, b : _Factor
        Two factors' values over the same coarse samples.

    Returns
    -------
    tuple
        (association in [0, 1], or NaN when a side is constant; the measure's name: '|r|', 'eta' or "Cramér's V").
    """
    if not a.categorical and not b.categorical:
        if np.ptp(a.values) <= 0 or np.ptp(b.values) <= 0:
            return math.nan, "|r|"
        return abs(float(np.corrcoef(a.values, b.values)[0, 1])), "|r|"
    if a.categorical and b.categorical:
        return cramers_v(a.values, b.values), "Cramér's V"
    cat, cont = (a, b) if a.categorical else (b, a)
    return correlation_ratio(cat.values, cont.values), "eta"


def _columns_of(pairs: Pairs) -> list[list[int]]:
    """Feature columns of each factor (one per class for categorical factors)."""
    out, j = [], 0
    for spec in pairs.specs:
        width = len(spec.feature_names())
        out.append(list(range(j, j + width)))
        j += width
    return out


def _regressors(pairs: Pairs, factors: Sequence[_Factor], cols: list[list[int]]) -> np.ndarray:
    """Design of the given factors for the VIF: continuous values; class fractions minus the commonest class."""
    parts = []
    index = {id(s): k for k, s in enumerate(pairs.specs)}
    for f in factors:
        c = cols[index[id(f.spec)]]
        block = pairs.X[:, c]
        if f.categorical and block.shape[1] > 1:
            block = np.delete(block, int(np.argmax(block.sum(axis=0))), axis=1)
        parts.append(block)
    return np.column_stack(parts) if parts else np.empty((pairs.y.size, 0))


def variance_inflation(pairs: Pairs, factor: _Factor, others: Sequence[_Factor],
                       cols: list[list[int]] | None = None) -> float:
    """VIF of a continuous factor against other factors: 1 / (1 - R^2) of an OLS fit with intercept.

    Parameters
    ----------
    pairs : Pairs
        The coarse samples.
    factor : _Factor
        The factor whose VIF is computed.
    others : Sequence[_Factor]
        The factors it is regressed on (categorical ones by their class columns).
    cols : list[list[int]] or None
        The feature columns of each factor (None: computed from ``pairs``).

    Returns
    -------
    float
        The VIF: 1 without other factors, inf for an exact fit, NaN for a categorical or constant factor.
    """
    if factor.categorical or not others:
        return math.nan if factor.categorical else 1.0
    cols = cols or _columns_of(pairs)
    x = factor.values.astype(np.float64)
    z = _regressors(pairs, others, cols)
    design = np.column_stack([np.ones(x.size), z])
    coef, *_ = np.linalg.lstsq(design, x, rcond=None)
    resid = x - design @ coef
    tss = float(np.sum((x - x.mean()) ** 2))
    if tss <= 0:
        return math.nan
    r2 = 1.0 - float(np.sum(resid ** 2)) / tss
    return math.inf if r2 >= 1.0 - 1e-12 else 1.0 / (1.0 - r2)


def mutual_information(pairs: Pairs, factors: Sequence[_Factor], seed: int = 0) -> dict[str, float]:
    """Mutual information (nats) of each factor with soil moisture (k-NN estimate; classes as discrete).

    Parameters
    ----------
    pairs : Pairs
        The coarse samples (soil moisture ``pairs.y``).
    factors : Sequence[_Factor]
        The factors.
    seed : int
        Random seed of the estimate.

    Returns
    -------
    dict[str, float]
        Factor name -> mutual information in nats.
    """
    from sklearn.feature_selection import mutual_info_regression

    cols = np.column_stack([f.values.astype(np.float64) for f in factors])
    discrete = np.array([f.categorical for f in factors])
    mi = mutual_info_regression(cols, pairs.y, discrete_features=discrete, random_state=seed)
    return {f.spec.name: float(v) for f, v in zip(factors, mi)}


def permutation_importance(pairs: Pairs, seed: int = 0, n_jobs: int = -1, block_cells: int = 4) -> dict[str, float]:
    """Increase of the held-out RMSE (m3/m3) when a factor's columns are shuffled, from a quick random forest.

    Two folds of spatial blocks (random halves when the area holds a single block); each factor is
    shuffled ``PERM_REPEATS`` times per fold (all class columns of a categorical factor together).

    Parameters
    ----------
    pairs : Pairs
        The coarse samples.
    seed : int
        Random seed of the forest, the folds and the shuffles.
    n_jobs : int
        Threads of the forest (-1: every core).
    block_cells : int
        Side of a spatial block, in SMAP cells.

    Returns
    -------
    dict[str, float]
        Factor name -> mean RMSE increase in m3/m3 (negative when shuffling helps).
    """
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.model_selection import GroupKFold, KFold

    from .train import spatial_groups

    groups = spatial_groups(pairs.cells, pairs.grid.width, block_cells)
    if np.unique(groups).size >= 2:
        splits = list(GroupKFold(n_splits=2).split(pairs.X, pairs.y, groups))
    else:
        splits = list(KFold(n_splits=2, shuffle=True, random_state=seed).split(pairs.X))
    cols = _columns_of(pairs)
    rng = np.random.default_rng([int(seed), 5])
    gain = np.zeros(len(pairs.specs))
    for train, test in splits:
        rf = RandomForestRegressor(n_estimators=PERM_TREES, min_samples_leaf=2, max_features=0.33, random_state=seed,
                                   n_jobs=n_jobs).fit(pairs.X[train], pairs.y[train])
        xt, yt = pairs.X[test], pairs.y[test]
        base = float(np.sqrt(np.mean((rf.predict(xt) - yt) ** 2)))
        for k, c in enumerate(cols):
            for _ in range(PERM_REPEATS):
                xp = xt.copy()
                xp[:, c] = xt[rng.permutation(yt.size)][:, c]
                gain[k] += float(np.sqrt(np.mean((rf.predict(xp) - yt) ** 2))) - base
    gain /= len(splits) * PERM_REPEATS
    return {s.name: float(g) for s, g in zip(pairs.specs, gain)}


def _transfer_rmse(pairs: Pairs, factors: Sequence[_Factor], seed: int, n_jobs: int) -> float:
    """Pooled RMSE of the scale-transfer check (train.scale_transfer) of a random forest on these factors."""
    from . import train

    index = {id(s): k for k, s in enumerate(pairs.specs)}
    cols_of = _columns_of(pairs)
    cols = [c for f in factors for c in cols_of[index[id(f.spec)]]]
    sub = Pairs(pairs.X[:, cols], pairs.y, [pairs.feature_names[c] for c in cols], [f.spec for f in factors],
                pairs.dates, pairs.cells, pairs.date_labels, pairs.grid)
    est = train.make_estimator("rf", {"n_estimators": TRANSFER_TREES}, seed, n_jobs)
    res = train.scale_transfer(est, sub, "rf", 3, 4, seed)
    return math.nan if res is None or res["pooled"].get("rmse") is None else float(res["pooled"]["rmse"])


def screen_pairs(pairs: Pairs, max_collinearity: float = 0.8, min_abs_r: float = 0.0,
                 max_factors: int = 0, max_vif: float = 0.0, diagnostics: bool = False, seed: int = 0,
                 n_jobs: int = -1, collinearity: str = "study") -> ScreenResult:
    """Rank and select the factors of already built coarse pairs (see :func:`screen_factors`).

    Parameters
    ----------
    pairs : Pairs
        Coarse samples (:func:`.features.coarse_pairs`).
    max_collinearity : float
        Largest |r| between two selected factors, in (0, 1] (1 keeps all).
    min_abs_r : float
        Least |r| with soil moisture for a factor to be selected.
    max_factors : int
        Most factors selected (0: no limit).
    max_vif : float
        Largest VIF of a selected factor (0: no VIF filter).
    diagnostics : bool
        Whether to add VIF, mutual information and permutation importance to the rows.
    seed : int
        Random seed of the diagnostics and of the transfer filter.
    n_jobs : int
        Threads for the random forests (-1: every core).
    collinearity : str
        One of :data:`COLLINEARITY_MODES`.

    Returns
    -------
    ScreenResult
        The rows in rank order, the selected factor names, the samples and dates used.

    Raises
    ------
    InputError
        A threshold is out of range, an unknown collinearity filter, or no factor passes the screening.
    """
    collinearity = (collinearity or "study").strip().lower()
    if collinearity not in COLLINEARITY_MODES:
        raise InputError(f"Unknown collinearity filter '{collinearity}'; choose one of "
                         f"{', '.join(COLLINEARITY_MODES)}.")
    if not 0.0 < max_collinearity <= 1.0:
        raise InputError(f"The maximum collinearity must be in (0, 1] (got {max_collinearity}); 1 keeps every factor.")
    if not 0.0 <= min_abs_r < 1.0:
        raise InputError(f"The minimum |r| must be in [0, 1) (got {min_abs_r}).")
    if max_factors < 0:
        raise InputError(f"The maximum number of factors cannot be negative (got {max_factors}); 0 means no limit.")
    if not math.isfinite(max_vif) or (max_vif != 0 and max_vif <= 1.0):
        raise InputError(f"The maximum VIF must be above 1 (got {max_vif:g}), or 0 to switch the VIF filter off; "
                         "5 or 10 are usual.")
    factors = sorted(_factor_stats(pairs), key=lambda f: -f.strength)
    kept: list[_Factor] = []
    reasons: dict[int, str] = {}
    closest: dict[int, tuple[str, str, float]] = {}
    kept_note: dict[int, str] = {}
    transfer_base = math.nan
    for f in factors:
        measure = "eta" if f.categorical else "|r|"
        reason = ""
        if not math.isfinite(f.r):
            reason = "constant over the samples: no information"
        elif abs(f.r) < min_abs_r:
            reason = f"{measure} {abs(f.r):.3f} below the minimum {min_abs_r:g}"
        else:
            worst, worst_a, label = None, -1.0, ""
            for k in kept:
                a, how = association(f, k)
                if math.isfinite(a) and a > worst_a:
                    worst, worst_a, label = k, a, how
            if worst is not None and worst_a > max_collinearity and collinearity != "off":
                reason = (f"collinear with {worst.spec.name} ({label} {worst_a:.3f} > {max_collinearity:g}), "
                          f"which correlates better with soil moisture")
                if collinearity == "transfer":
                    if not math.isfinite(transfer_base):
                        transfer_base = _transfer_rmse(pairs, kept, seed, n_jobs)
                    with_it = _transfer_rmse(pairs, kept + [f], seed, n_jobs)
                    if math.isfinite(with_it) and math.isfinite(transfer_base) and \
                            with_it < (1.0 - TRANSFER_MIN_GAIN) * transfer_base:
                        kept_note[id(f)] = (f"{reason}, but kept: the scale-transfer check is better with it "
                                            f"(RMSE {with_it:.4f} vs {transfer_base:.4f} without)")
                        transfer_base = with_it
                        reason = ""
                    else:
                        reason += (f"; the scale-transfer check is not clearly better with it (RMSE {with_it:.4f} "
                                   f"vs {transfer_base:.4f} without)")
            if not reason and max_factors and len(kept) >= max_factors:
                reason = f"beyond the maximum of {max_factors} factors"
                kept_note.pop(id(f), None)
            if worst is not None:
                closest[id(f)] = (worst.spec.name, label, worst_a)
        if reason:
            reasons[id(f)] = reason
        else:
            kept.append(f)
    cols = _columns_of(pairs)
    vif_at_drop: dict[int, float] = {}
    if max_vif > 0:
        # drop the kept continuous factor with the largest VIF above max_vif, one at a time
        while True:
            vifs = [(variance_inflation(pairs, f, [k for k in kept if k is not f], cols), f) for f in kept
                    if not f.categorical]
            vifs = [(v, f) for v, f in vifs if math.isfinite(v) or v == math.inf]
            if not vifs:
                break
            worst_v, worst_f = max(vifs, key=lambda vf: (vf[0], -vf[1].strength))
            if not worst_v > max_vif:
                break
            kept.remove(worst_f)
            vif_at_drop[id(worst_f)] = worst_v
            shown = "inf" if worst_v == math.inf else f"{worst_v:.1f}"
            reasons[id(worst_f)] = (f"VIF {shown} > {max_vif:g}: largely explained by the other kept factors "
                                    "together")
    vif: dict[int, float] = {}
    mi: dict[str, float] = {}
    perm: dict[str, float] = {}
    if diagnostics or max_vif > 0:
        for f in factors:  # against the other kept factors (dropped by the VIF filter: when it was dropped)
            vif[id(f)] = vif_at_drop.get(id(f), variance_inflation(pairs, f, [k for k in kept if k is not f], cols))
    if diagnostics:
        mi = mutual_information(pairs, factors, seed)
        perm = permutation_importance(pairs, seed, n_jobs)
    rows = []
    for rank, f in enumerate(factors, start=1):
        selected = f in kept
        measure = "eta" if f.categorical else "|r|"
        name = f.spec.name
        if selected:
            parts = [f"kept: {measure} {abs(f.r):.3f} with soil moisture, rank {rank}"]
            if id(f) in kept_note:
                parts.append(kept_note[id(f)])
            elif id(f) in closest:
                other, how, a = closest[id(f)]
                parts.append(f"strongest association with a better factor: {how} {a:.3f} ({other}), within "
                             f"{max_collinearity:g}")
            if f.categorical:
                parts.append("correlation ratio eta, one-way ANOVA p")
        else:
            parts = [reasons[id(f)]]
        if (diagnostics or max_vif > 0) and id(f) not in vif_at_drop:
            v = vif.get(id(f), math.nan)
            if v == math.inf or math.isfinite(v):
                parts.append("VIF " + ("inf" if v == math.inf else f"{v:.1f}"))
        if diagnostics:
            parts.append(f"mutual information {mi[name]:.3f}")
            parts.append(f"permutation importance {perm[name]:.4f} m3/m3")
            if selected and perm[name] <= 0 and mi[name] < 0.01:
                parts.append("weak: the forest does not use it")
        rows.append({
            "factor": name, "kind": f.spec.kind, "n": int(pairs.y.size),
            "pearson_r": f.r, "pearson_p": f.p, "spearman_r": f.rho, "spearman_p": f.rho_p,
            "rank": rank, "selected": selected, "reason": "; ".join(parts),
            "vif": vif.get(id(f), math.nan), "mutual_info": mi.get(name, math.nan),
            "perm_importance": perm.get(name, math.nan),
        })
    if not kept:
        raise InputError("No factor passed the screening (all constant or below the minimum |r|); lower the minimum "
                         "|r| or add other factors.")
    return ScreenResult(rows, [k.spec.name for k in kept], int(pairs.y.size), list(pairs.date_labels), pairs=pairs,
                        columns=COLUMNS + (DIAGNOSTIC_COLUMNS if diagnostics or max_vif > 0 else ()))


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isinf(value):  # a VIF of an exact linear combination
            return "inf" if value > 0 else "-inf"
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def write_csv(path: str, rows: Sequence[dict[str, Any]], columns: Sequence[str] = COLUMNS) -> None:
    """The screening table as CSV (atomic).

    Parameters
    ----------
    path : str
        The CSV file to write.
    rows : Sequence[dict[str, Any]]
        One dict per factor; a column it lacks is written as an empty cell.
    columns : Sequence[str]
        The columns, in order.
    """
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(columns)
            for row in rows:
                w.writerow([_fmt(row.get(c, math.nan)) for c in columns])


@gdal_exceptions()
def screen_factors(sm_paths: Sequence[str], stack_paths: Sequence[str], max_collinearity: float = 0.8,
                   min_abs_r: float = 0.0, max_factors: int = 0, min_valid_fraction: float = 0.5,
                   output_csv: str | None = None, progress: Progress = no_progress,
                   is_canceled: IsCanceled = never_canceled, max_vif: float = 0.0, diagnostics: bool = False,
                   derived: Sequence[str] | None = None, seed: int = 0, n_jobs: int = -1, sm_scale: float = 1.0,
                   sm_nodata: float | None = None, collinearity: str = "study") -> ScreenResult:
    """Screen every band of the factor stacks against SMAP soil moisture; optionally write the table as CSV.

    ``derived`` adds derived factors (:mod:`derived`) computed from the stacks; ``diagnostics`` adds VIF,
    mutual information and permutation importance (columns after the standard ones); ``max_vif`` > 0
    filters on the VIF. SMAP values equal to ``sm_nodata`` are nodata, the others are multiplied by
    ``sm_scale`` (0.01 for percent) and checked (:mod:`units`). ``collinearity`` is the collinearity filter
    (:data:`COLLINEARITY_MODES`): the study's correlation screening, decided by the scale-transfer check of a
    random forest, or off. Returns the rows in rank order and the selected factor names (categorical factors by
    base name).

    Parameters
    ----------
    sm_paths, stack_paths
        SMAP rasters and factor stacks, paired by the date in their names.
    max_collinearity
        Largest |r| between two selected factors (1 keeps all).
    min_abs_r
        Least |r| with soil moisture for a factor to be selected.
    max_factors
        Most factors selected (0: no limit).
    min_valid_fraction
        Least share of valid fine pixels per SMAP cell.
    output_csv
        Where to write the table (None: not written).
    progress, is_canceled
        Progress fraction and cancel check (:mod:`.raster` defaults).
    max_vif, diagnostics, derived, seed, n_jobs
        See above.
    sm_scale, sm_nodata
        How to read SMAP (:class:`.units.SmReading`).
    collinearity
        'study', 'transfer' or 'off' (see above).

    Returns
    -------
    ScreenResult
        The rows in rank order, the selected factor names, the samples and dates used.

    Raises
    ------
    InputError
        From the pairing (:func:`.features.coarse_pairs`) and :func:`screen_pairs`.
    Canceled
        ``is_canceled()`` became true.
    """
    if output_csv:
        check_output_path(output_csv)
        check_apart({"screening table": output_csv},
                    {"soil moisture raster": list(sm_paths), "factor stack": list(stack_paths)})
    reading = SmReading(float(sm_scale), None if sm_nodata is None else float(sm_nodata))
    pairs = coarse_pairs(sm_paths, stack_paths, None, min_valid_fraction,
                         lambda f: progress(0.8 * f), is_canceled, derived=derived, sm_reading=reading)
    if is_canceled():
        raise Canceled()
    result = screen_pairs(pairs, max_collinearity, min_abs_r, max_factors, max_vif, diagnostics, seed, n_jobs,
                          collinearity)
    if is_canceled():
        raise Canceled()
    if output_csv:
        write_csv(output_csv, result.rows, result.columns)
    progress(1.0)
    return result
