"""Gap-free prediction: pixels where factors are missing (cloud gaps, swath gaps, water) still get a value.

The model is trained on coarse cells, i.e. on the cell means of every factor (class fractions for a
categorical factor: :mod:`features`). So where a pixel misses a factor, the best value the model knows for it
is the mean of that factor over the observed pixels of the pixel's own coarse cell: the pixel is predicted
from its observed factors plus the cell means of the missing ones, interpolated bilinearly between the cell
centers ('bilinear', the default: no steps at cell edges in filled areas) or taken from its own cell ('cell').
A cell where a factor was observed nowhere takes the nearest cell's mean. A pixel where no factor at all was
observed gets the prediction of the cell means alone, i.e. the coarse field: after residual correction it
carries the cell's SMAP value (smoothly in the smooth mode). That path is taken only where the cell has a SMAP
value (or, without SMAP, never), so the map never extends beyond the coarse field.

Temporal filling (optional, :class:`TemporalFill`): before any of this, a factor missing at a pixel takes its
value at that pixel on the nearest date within a window of days (the factor stacks of neighbouring dates, bands
matched by name; a tie takes the earlier date). Only dynamic factors (LST, NDVI, SAR) miss in practice; static
bands (elevation, land cover) are the same on every date. Such pixels are flagged :data:`FROM_OTHER_DATE`
when all their factors were then known; a pixel that still missed one is filled as above (:data:`FILLED`).

Every pixel's path is written to the quality raster (:data:`QUALITY_CLASSES`). The bench
(``bench/accuracy.py``, gap-filling table) measured this against other fallbacks on cloud masks of tens of
percent: see the README section "Complete maps".
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from . import raster
from .aggregate import CellIndex, CoarseMean
from .dates import date_from_name
from .errors import InputError
from .features import CATEGORICAL, FactorSpec, feature_names
from .residual import _Stencil

#: Quality codes (Byte raster, 0 = nodata).
QUALITY_NODATA = 0
ALL_FACTORS = 1
FILLED = 2
COARSE_ONLY = 3
FROM_OTHER_DATE = 4
QUALITY_CLASSES = {
    ALL_FACTORS: "all factors observed",
    FILLED: "missing factors filled from their coarse-cell mean",
    COARSE_ONLY: "coarse field only (no factor observed)",
    FROM_OTHER_DATE: "factors partly from a neighbouring date",
}
#: Largest temporal filling window (days).
MAX_FILL_WINDOW_DAYS = 366
QUALITY_BAND = "quality"
#: How a missing factor gets its value from the cell means: 'bilinear' interpolates the cell means (knots at
#: the cell centers, as the smooth residual correction), so filled areas have no steps at cell edges;
#: 'cell' takes the pixel's own cell mean (constant per cell).
FILL_METHODS = ("bilinear", "cell")


def check_method(method: str) -> str:
    """The fill method in lower case.

    Parameters
    ----------
    method : str
        A fill method, any case.

    Returns
    -------
    str
        The method, one of :data:`FILL_METHODS`.

    Raises
    ------
    InputError
        ``method`` is not one of :data:`FILL_METHODS`; the message names them.
    """
    m = (method or "").strip().lower()
    if m not in FILL_METHODS:
        raise InputError(f"Unknown gap-filling method '{method}'; use one of {', '.join(FILL_METHODS)}.")
    return m


def _nearest_fill(values: np.ndarray) -> np.ndarray:
    """(H, W) values with NaN cells taking the nearest finite cell's value (all NaN: unchanged)."""
    bad = ~np.isfinite(values)
    if not bad.any() or bad.all():
        return values
    from scipy import ndimage

    rows, cols = ndimage.distance_transform_edt(bad, return_distances=False, return_indices=True)
    return values[rows, cols]


class GapFiller:
    """Fills missing factors of fine pixels with their coarse-cell means (see the module docstring).

    Use: :meth:`observe` every block of pass 1 (the factors as read, in ``specs`` order), :meth:`solve`,
    then :meth:`design` for the blocks listed in :attr:`pending`. ``cell_has_sm`` (H, W) says which cells
    have a coarse soil moisture value (coarse-only pixels are allowed only there); None: nowhere.
    """

    def __init__(self, index: CellIndex, specs: Sequence[FactorSpec], cell_has_sm: np.ndarray | None,
                 method: str = "bilinear") -> None:
        self.method = check_method(method)
        self._stencil = _Stencil(index) if self.method == "bilinear" else None
        self.index = index
        self.specs = list(specs)
        self.nfeat = len(feature_names(self.specs))
        nbands = sum(len(s.classes) if s.kind == CATEGORICAL else 1 for s in self.specs)
        self._acc = CoarseMean(index, nbands)
        self.cell_has_sm = None if cell_has_sm is None else np.asarray(cell_has_sm, bool).ravel()
        self.pending: list[tuple[int, int]] = []
        self.means: np.ndarray | None = None  # (bands, cells)
        #: Pixels filled per factor name.
        self.filled: dict[str, int] = {s.name: 0 for s in self.specs}

    def _bands(self, block: np.ndarray) -> np.ndarray:
        out = []
        for k, spec in enumerate(self.specs):
            v = block[k]
            if spec.kind == CATEGORICAL:
                ok = np.isfinite(v)
                codes = np.rint(np.where(ok, v, -1)).astype(np.int64)
                for c in spec.classes:
                    out.append(np.where(ok, (codes == c).astype(np.float32), np.nan))
            else:
                out.append(v)
        return np.stack(out)

    def observe(self, row0: int, block: np.ndarray, valid: np.ndarray) -> None:
        """Accumulate a block's observed factors; remember it when some pixel inside the coarse grid misses one.

        Parameters
        ----------
        row0 : int
            The block's first fine row.
        block : numpy.ndarray
            (factors, rows, fine width) factors as read, in ``specs`` order, NaN for nodata.
        valid : numpy.ndarray
            (rows, fine width) bool: pixels with every factor observed.
        """
        self._acc.add(row0, self._bands(block))
        cells = self.index.rows(row0, block.shape[1])
        if np.any(~valid & (cells >= 0)):
            self.pending.append((row0, block.shape[1]))

    def solve(self) -> None:
        """Cell means of every factor band; cells without any observation take the nearest cell's mean."""
        m = self._acc.mean()
        self.means = np.stack([_nearest_fill(b) for b in m]).reshape(m.shape[0], -1)

    def design(self, row0: int, block: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Design matrix of the block's pixels that miss a factor and can be filled.

        Returns ``X`` (n, features) float32, the (rows, cols) mask of those pixels (row-major order of
        ``X``) and their quality codes (:data:`FILLED` or :data:`COARSE_ONLY`).

        Parameters
        ----------
        row0 : int
            The block's first fine row.
        block : numpy.ndarray
            (factors, rows, fine width) factors as read, in ``specs`` order, NaN for nodata.
        valid : numpy.ndarray
            (rows, fine width) bool: pixels with every factor observed.

        Returns
        -------
        tuple of numpy.ndarray
            (X float32 (n, features); (rows, fine width) bool mask of the n pixels, row-major as X; uint8 quality codes
            of the n pixels).
        """
        assert self.means is not None, "solve() must run first"
        cells = self.index.rows(row0, block.shape[1])
        finite = np.isfinite(block)
        n_obs = finite.sum(axis=0)
        inside = cells >= 0
        safe = np.where(inside, cells, 0)
        has_sm = self.cell_has_sm[safe] if self.cell_has_sm is not None else np.zeros(cells.shape, bool)
        sel = ~valid & inside & ((n_obs > 0) | has_sm)
        c = safe[sel]
        knots: list[tuple[np.ndarray, np.ndarray]] = []  # bilinear: (knot cell, weight) of the selected pixels
        if self._stencil is not None:
            w = self.index.coarse.width
            _, pairs = self._stencil.weights(row0, block.shape[1])
            for offset, weight in pairs:
                nb = c + (offset[sel] // 3 - 1) * w + (offset[sel] % 3 - 1)
                knots.append((np.clip(nb, 0, self.index.coarse.size - 1), weight[sel]))

        def fill_value(b: int) -> np.ndarray:
            assert self.means is not None
            if not knots:
                return self.means[b][c]
            return sum(wt * self.means[b][nb] for nb, wt in knots)

        x = np.empty((c.size, self.nfeat), dtype=np.float32)
        j = 0
        b = 0
        for k, spec in enumerate(self.specs):
            v = block[k][sel]
            miss = ~np.isfinite(v)
            if spec.kind == CATEGORICAL:
                codes = np.rint(np.where(miss, -1, v)).astype(np.int64)
                for cls in spec.classes:
                    x[:, j] = np.where(miss, fill_value(b), codes == cls)
                    j += 1
                    b += 1
            else:
                x[:, j] = np.where(miss, fill_value(b), v)
                j += 1
                b += 1
        ok = np.all(np.isfinite(x), axis=1)  # a factor observed nowhere cannot be filled
        if not ok.all():
            x = x[ok]
            flat = np.flatnonzero(sel.ravel())
            sel = np.zeros(sel.shape, bool)
            sel.ravel()[flat[ok]] = True
        for k, spec in enumerate(self.specs):
            self.filled[spec.name] += int(np.count_nonzero(sel & ~finite[k]))
        codes = np.where(n_obs[sel] > 0, FILLED, COARSE_ONLY).astype(np.uint8)
        return x, sel, codes


# -- temporal filling ------------------------------------------------------------------------------------

def check_window(days: Any) -> int:
    """The temporal filling window in whole days (0: off).

    Parameters
    ----------
    days : Any
        The window as given (a number or a numeric string).

    Returns
    -------
    int
        The window in whole days, 0 to :data:`MAX_FILL_WINDOW_DAYS`.

    Raises
    ------
    InputError
        ``days`` is not a whole number from 0 to :data:`MAX_FILL_WINDOW_DAYS`.
    """
    try:
        value = float(days)
    except (TypeError, ValueError):
        value = -1.0
    if not (0 <= value <= MAX_FILL_WINDOW_DAYS) or value != int(value):
        raise InputError(f"The temporal filling window must be a whole number of days from 0 (off) to "
                         f"{MAX_FILL_WINDOW_DAYS} (got {days}).")
    return int(value)


def nearest_dates(day: dt.date, candidates: Sequence[tuple[dt.date, str]], window_days: int
                  ) -> list[tuple[dt.date, str]]:
    """The candidates within ``window_days`` of ``day`` (``day`` itself excluded), nearest first; of two dates
    equally far, the earlier first.

    Parameters
    ----------
    day
        The date being filled.
    candidates
        (date, factor stack) of the other dates.
    window_days
        The largest distance in days.

    Returns
    -------
    list[tuple[datetime.date, str]]
        The candidates in the order they are tried.
    """
    near = [(d, p) for d, p in candidates if d != day and abs((d - day).days) <= window_days]
    return sorted(near, key=lambda dp: (abs((dp[0] - day).days), dp[0]))


@dataclass
class _Source:
    day: dt.date
    path: str
    ds: Any
    bands: dict[str, int]


class TemporalFill:
    """Fills missing factor values of a stack from the factor stacks of neighbouring dates, block by block.

    Called by :class:`.derived.StackReader` on every block of raw bands it reads (``fill(row0, nrows,
    names, raw)``, in place): a band's missing pixel takes the value of the same band (matched by name) of the
    nearest date within the window where that pixel is valid; of two dates equally far, the earlier. Only the
    rows of the block are read from each neighbour, one band at a time, and only while pixels are missing:
    memory does not depend on the extent or the number of dates. :attr:`mask` is the last block's pixels
    where some factor came from another date; :attr:`taken` counts the values taken per factor and
    :attr:`used` the dates that gave any. ``day``: the stack's date when its name has none (e.g. the SMAP
    raster's).
    """

    def __init__(self, stack_path: str, grid: raster.Grid, neighbours: Sequence[str], window_days: int,
                 day: dt.date | None = None) -> None:
        self.window = check_window(window_days)
        day = day or date_from_name(stack_path)
        if day is None:
            raise InputError(f"Filling factors from neighbouring dates needs the date of {os.path.basename(stack_path)}"
                             " in its name (YYYYMMDD or YYYY-MM-DD), e.g. factors_20230601.tif, or in the name of "
                             "the SMAP raster of the same date; rename it, or set the temporal filling window to 0.")
        self.day = day
        dated: list[tuple[dt.date, str]] = []
        undated = []
        for p in neighbours:
            d = date_from_name(p)
            if d is None:
                undated.append(os.path.basename(p))
            elif d == day:
                raise InputError(f"The neighbouring factor stack {os.path.basename(p)} carries the date of the stack "
                                 f"being downscaled ({day.isoformat()}); give stacks of other dates.")
            else:
                dated.append((d, p))
        if undated:
            raise InputError(f"These neighbouring factor stacks have no date (YYYYMMDD or YYYY-MM-DD) in their name: "
                             f"{', '.join(undated)}. Temporal filling takes the nearest date; rename them.")
        self.sources: list[_Source] = []
        for d, p in nearest_dates(day, dated, self.window):
            ds = raster.open_raster(p)
            other = raster.Grid.from_dataset(ds, p)
            if not other.same_as(grid):
                raise InputError(f"The neighbouring factor stack {os.path.basename(p)} is not on the grid of "
                                 f"{os.path.basename(stack_path)}; temporal filling takes values pixel by pixel, so "
                                 "align every date to the same grid (smdownscale:align with the same reference).")
            names = raster.band_names(ds, p)
            self.sources.append(_Source(d, p, ds, {n: i + 1 for i, n in enumerate(names)}))
        self.mask: np.ndarray | None = None
        self.taken: dict[str, int] = {}
        self.used: set[dt.date] = set()

    def __call__(self, row0: int, nrows: int, names: Sequence[str], raw: np.ndarray) -> None:
        """Fill the missing values of ``raw`` ((bands, rows, cols), the bands ``names``) in place."""
        mask = np.zeros(raw.shape[1:], dtype=bool)
        for k, name in enumerate(names):
            miss = ~np.isfinite(raw[k])
            for src in self.sources:
                if not miss.any():
                    break
                band = src.bands.get(name)
                if band is None:
                    continue
                v = raster.read_block(src.ds, row0, nrows, [band], raw.dtype, sources=[src.path])[0]
                take = miss & np.isfinite(v)
                if take.any():
                    raw[k][take] = v[take]
                    miss &= ~take
                    mask |= take
                    self.taken[name] = self.taken.get(name, 0) + int(np.count_nonzero(take))
                    self.used.add(src.day)
        self.mask = mask

    def flush(self) -> None:
        """Drop the neighbours' cached blocks (called where the stack's own cache is flushed)."""
        for src in self.sources:
            src.ds.FlushCache()

    def close(self) -> None:
        """Close the neighbouring stacks."""
        for src in self.sources:
            src.ds = None
        self.sources = []
