"""Factor screening: correlation of each factor with SMAP soil moisture at the coarse scale.

Samples are the coarse pairs of :func:`features.coarse_pairs` pooled over dates. Continuous factors
get Pearson and Spearman r with p-values; a categorical factor is screened as a whole by the
correlation ratio eta of soil moisture over its dominant class per cell (p-value from one-way ANOVA).
Factors are ranked by |r| (eta for categorical ones) and walked in rank order: a factor whose
association with an already kept factor exceeds ``max_collinearity`` is dropped, naming its twin.

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
from .raster import IsCanceled, Progress, atomic_path, check_output_path, never_canceled, no_progress

COLUMNS = ("factor", "kind", "n", "pearson_r", "pearson_p", "spearman_r", "spearman_p", "rank", "selected", "reason")


@dataclass
class ScreenResult:
    """One row per factor (keys of :data:`COLUMNS`) in rank order, and the selected factor names."""

    rows: list[dict[str, Any]]
    selected: list[str]
    n_samples: int = 0
    dates: list[str] = field(default_factory=list)

    @property
    def selected_text(self) -> str:
        """Comma-separated selected factors: what smdownscale:train takes as its factor list."""
        return ",".join(self.selected)


def _dominant(xcols: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    return np.asarray(classes)[np.argmax(xcols, axis=1)]


def correlation_ratio(groups: np.ndarray, values: np.ndarray) -> float:
    """eta: sqrt(between-group sum of squares / total sum of squares) of ``values`` grouped by ``groups``."""
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
    """Cramér's V between two class labellings (0 = independent, 1 = one determines the other)."""
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
    """Collinearity between two factors in [0, 1] and its measure: |r|, eta or Cramér's V."""
    if not a.categorical and not b.categorical:
        if np.ptp(a.values) <= 0 or np.ptp(b.values) <= 0:
            return math.nan, "|r|"
        return abs(float(np.corrcoef(a.values, b.values)[0, 1])), "|r|"
    if a.categorical and b.categorical:
        return cramers_v(a.values, b.values), "Cramér's V"
    cat, cont = (a, b) if a.categorical else (b, a)
    return correlation_ratio(cat.values, cont.values), "eta"


def screen_pairs(pairs: Pairs, max_collinearity: float = 0.8, min_abs_r: float = 0.0,
                 max_factors: int = 0) -> ScreenResult:
    """Rank and select the factors of already built coarse pairs (see :func:`screen_factors`)."""
    if not 0.0 < max_collinearity <= 1.0:
        raise InputError(f"The maximum collinearity must be in (0, 1] (got {max_collinearity}); 1 keeps every factor.")
    if not 0.0 <= min_abs_r < 1.0:
        raise InputError(f"The minimum |r| must be in [0, 1) (got {min_abs_r}).")
    if max_factors < 0:
        raise InputError(f"The maximum number of factors cannot be negative (got {max_factors}); 0 means no limit.")
    factors = sorted(_factor_stats(pairs), key=lambda f: -f.strength)
    kept: list[_Factor] = []
    rows = []
    for rank, f in enumerate(factors, start=1):
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
            if worst is not None and worst_a > max_collinearity:
                reason = (f"collinear with {worst.spec.name} ({label} {worst_a:.3f} > {max_collinearity:g}), "
                          f"which correlates better with soil moisture")
            elif max_factors and len(kept) >= max_factors:
                reason = f"beyond the maximum of {max_factors} factors"
        selected = not reason
        if selected:
            kept.append(f)
            reason = "selected" + (" (correlation ratio eta, one-way ANOVA p)" if f.categorical else "")
        rows.append({
            "factor": f.spec.name, "kind": f.spec.kind, "n": int(pairs.y.size),
            "pearson_r": f.r, "pearson_p": f.p, "spearman_r": f.rho, "spearman_p": f.rho_p,
            "rank": rank, "selected": selected, "reason": reason,
        })
    if not kept:
        raise InputError("No factor passed the screening (all constant or below the minimum |r|); lower the minimum "
                         "|r| or add other factors.")
    return ScreenResult(rows, [k.spec.name for k in kept], int(pairs.y.size), list(pairs.date_labels))


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.6g}"
    return str(value)


def write_csv(path: str, rows: Sequence[dict[str, Any]]) -> None:
    """The screening table as CSV (atomic)."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(COLUMNS)
            for row in rows:
                w.writerow([_fmt(row[c]) for c in COLUMNS])


def screen_factors(sm_paths: Sequence[str], stack_paths: Sequence[str], max_collinearity: float = 0.8,
                   min_abs_r: float = 0.0, max_factors: int = 0, min_valid_fraction: float = 0.5,
                   output_csv: str | None = None, progress: Progress = no_progress,
                   is_canceled: IsCanceled = never_canceled) -> ScreenResult:
    """Screen every band of the factor stacks against SMAP soil moisture; optionally write the table as CSV.

    Returns the rows in rank order and the selected factor names (categorical factors by base name).
    """
    if output_csv:
        check_output_path(output_csv)
    pairs = coarse_pairs(sm_paths, stack_paths, None, min_valid_fraction,
                         lambda f: progress(0.9 * f), is_canceled)
    if is_canceled():
        raise Canceled()
    result = screen_pairs(pairs, max_collinearity, min_abs_r, max_factors)
    if output_csv:
        write_csv(output_csv, result.rows)
    progress(1.0)
    return result
