"""Agreement metrics between an estimate x and a reference y (Entekhabi et al. 2010)."""

from __future__ import annotations

import math

import numpy as np

METRIC_NAMES = ("n", "r", "mae", "rmse", "bias", "ubrmsd")


def metrics(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """n, Pearson R, MAE, RMSE, bias (mean x-y) and ubRMSD over pairs where both are finite.

    ubRMSD = sqrt(mean(((x - mean x) - (y - mean y))^2)) = sqrt(RMSE^2 - bias^2).
    R is NaN when fewer than 2 pairs or either side has no variance.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError("x and y must have the same number of values")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = int(x.size)
    if n == 0:
        return {"n": 0, "r": math.nan, "mae": math.nan, "rmse": math.nan, "bias": math.nan, "ubrmsd": math.nan}
    d = x - y
    bias = float(d.mean())
    rmse = float(np.sqrt(np.mean(d * d)))
    ub = float(np.sqrt(np.mean((d - bias) ** 2)))
    xa, ya = x - x.mean(), y - y.mean()
    den = math.sqrt(float(np.dot(xa, xa)) * float(np.dot(ya, ya)))
    r = float(np.dot(xa, ya) / den) if n >= 2 and den > 0 else math.nan
    return {"n": n, "r": r, "mae": float(np.abs(d).mean()), "rmse": rmse, "bias": bias, "ubrmsd": ub}
