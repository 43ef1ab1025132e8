"""Agreement metrics between an estimate x and a reference y (Entekhabi et al. 2010)."""

from __future__ import annotations

import math

import numpy as np

METRIC_NAMES = ("n", "r", "mae", "rmse", "bias", "ubrmsd")


def _finite_pairs(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y flattened to float64, keeping the pairs where both are finite."""
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError("x and y must have the same number of values")
    ok = np.isfinite(x) & np.isfinite(y)
    return x[ok], y[ok]


def metrics(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """n, Pearson R, MAE, RMSE, bias (mean x-y) and ubRMSD over pairs where both are finite.

    ubRMSD = sqrt(mean(((x - mean x) - (y - mean y))^2)) = sqrt(RMSE^2 - bias^2).
    R is NaN when fewer than 2 pairs or either side has no variance.

    Parameters
    ----------
    x, y : numpy.ndarray
        Paired values of any (equal) shape: x the estimate, y the reference; non-finite pairs are left out.

    Returns
    -------
    dict[str, float]
        Keys 'n' (pairs used, an int), 'r', 'mae', 'rmse', 'bias' and 'ubrmsd', in the units of ``x`` and ``y``;
        all but 'n' are NaN when no pair is finite.
    """
    x, y = _finite_pairs(x, y)
    n = int(x.size)
    if n == 0:
        return {"n": 0, "r": math.nan, "mae": math.nan, "rmse": math.nan, "bias": math.nan, "ubrmsd": math.nan}
    d = x - y
    bias = float(d.mean())
    rmse = float(np.sqrt(np.mean(d * d)))
    ub = float(np.sqrt(np.mean((d - bias) ** 2)))
    xa, ya = x - x.mean(), y - y.mean()
    den = math.sqrt(float(np.dot(xa, xa))) * math.sqrt(float(np.dot(ya, ya)))  # no underflow of the product
    varies = bool(np.ptp(x) > 0 and np.ptp(y) > 0)  # exact test: a constant side has no R (not 1e-16)
    r = float(np.dot(xa, ya) / den) if n >= 2 and den > 0 and varies else math.nan
    return {"n": n, "r": r, "mae": float(np.abs(d).mean()), "rmse": rmse, "bias": bias, "ubrmsd": ub}


class MetricsAccumulator:
    """The same metrics as :func:`metrics`, accumulated block by block with bounded memory.

    Each block contributes its count, means and centred sums of squares/products; blocks are merged
    with Chan's pairwise update, which stays accurate for millions of pixels (no large raw sums).
    """

    def __init__(self) -> None:
        self.n = 0
        self.mx = 0.0
        self.my = 0.0
        self.sxx = 0.0  # sum (x - mx)^2
        self.syy = 0.0  # sum (y - my)^2
        self.sxy = 0.0  # sum (x - mx)(y - my)
        self.sdd = 0.0  # sum (d - md)^2, d = x - y: the ubRMSD without sxx + syy - 2 sxy cancelling when x ~ y
        self.sabs = 0.0  # sum |x - y|
        self.lo = np.array([np.inf, np.inf])  # min x, min y (a constant side has no R)
        self.hi = np.array([-np.inf, -np.inf])

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        """Add pairs (any shape; pairs where either side is not finite are ignored).

        Parameters
        ----------
        x, y : numpy.ndarray
            Paired values of any (equal) shape: x the estimate, y the reference.
        """
        x, y = _finite_pairs(x, y)
        nb = int(x.size)
        if nb == 0:
            return
        mxb, myb = float(x.mean()), float(y.mean())
        xa, ya = x - mxb, y - myb
        sxx, syy, sxy = float(np.dot(xa, xa)), float(np.dot(ya, ya)), float(np.dot(xa, ya))
        da = xa - ya
        sdd = float(np.dot(da, da))
        n = self.n + nb
        dx, dy = mxb - self.mx, myb - self.my
        w = self.n * nb / n
        self.sxx += sxx + dx * dx * w
        self.syy += syy + dy * dy * w
        self.sxy += sxy + dx * dy * w
        self.sdd += sdd + (dx - dy) * (dx - dy) * w
        self.mx += dx * nb / n
        self.my += dy * nb / n
        self.sabs += float(np.abs(x - y).sum())
        self.lo = np.minimum(self.lo, [x.min(), y.min()])
        self.hi = np.maximum(self.hi, [x.max(), y.max()])
        self.n = n

    def result(self) -> dict[str, float]:
        """The dict :func:`metrics` returns for all pairs added so far.

        Returns
        -------
        dict[str, float]
            Keys 'n', 'r', 'mae', 'rmse', 'bias' and 'ubrmsd', as :func:`metrics` returns them.
        """
        n = self.n
        if n == 0:
            return {"n": 0, "r": math.nan, "mae": math.nan, "rmse": math.nan, "bias": math.nan, "ubrmsd": math.nan}
        bias = self.mx - self.my
        ub2 = max(0.0, self.sdd / n)
        den = math.sqrt(self.sxx) * math.sqrt(self.syy)
        varies = bool(np.all(self.hi > self.lo))
        r = self.sxy / den if n >= 2 and den > 0 and varies else math.nan
        return {"n": n, "r": r, "mae": self.sabs / n, "rmse": math.sqrt(ub2 + bias * bias), "bias": bias,
                "ubrmsd": math.sqrt(ub2)}


def csv_value(value: object) -> str:
    """A metric as CSV text: integers as such, floats with 6 decimals, NaN/inf as an empty cell.

    Parameters
    ----------
    value : object
        A metric or any other cell value.

    Returns
    -------
    str
        The cell's text.
    """
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)
