"""Residual correction: make a 1 km field conserve the coarse (SMAP) soil moisture of every cell.

The residual of a coarse cell is SMAP minus the mean of the 1 km predictions of its valid pixels (a
pixel belongs to the cell containing its center: :mod:`aggregate`, the project's one definition).

``constant``
    each cell's residual is added to all its pixels. Exact mass conservation, but the field steps at
    cell edges wherever neighbouring residuals differ (blocky seams on a map).
``smooth``
    the correction is a bilinear surface through one knot value per coarse cell (at the cell center;
    edge knots are extended to the grid border, as gdalwarp's bilinear does). The knots are solved so
    that the mean of the surface over each cell's valid pixels equals that cell's residual: starting
    from the residuals themselves, each iteration adds the remaining per-cell residual to the knots
    (Jacobi iterations on the cell-mean operator of the interpolation, which is diagonally dominant for
    cells of many pixels). What is left after convergence (below ``tolerance``, or after
    ``max_iterations``) is added as a constant per cell, so conservation is as exact as in constant
    mode; the report gives the largest leftover, i.e. the size of any remaining seam.
``none``
    no correction.

In both modes, pixels whose cell has no SMAP value (nodata, or outside the SMAP raster) keep the
uncorrected prediction and are counted. Knots of such cells take the value of the nearest solved
knot, so the surface continues smoothly up to them.

The corrector works block by block in two passes (:meth:`ResidualCorrector.add` for every block of
raw predictions, :meth:`ResidualCorrector.solve`, then :meth:`ResidualCorrector.apply` for every
block), so memory depends on the coarse grid, not on the fine extent.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from osgeo import osr

from . import options
from .aggregate import CellIndex, CoarseMean, broadcast
from .errors import InputError
from .raster import Grid

RESIDUAL_MODES = options.RESIDUAL_MODES.keys
#: Smooth mode: iterations stop when every cell's mean is within this of its residual (m3/m3).
SMOOTH_TOLERANCE = 1e-9
SMOOTH_MAX_ITERATIONS = 200
#: Block coordinates cached between the two passes, up to this many bytes.
_COORD_CACHE_BYTES = 256 * 2**20


def check_mode(mode: str | None) -> str:
    """The residual mode in lower case; InputError naming the valid modes otherwise.

    Parameters
    ----------
    mode : str or None
        A residual mode, any case (None or empty: 'none').

    Returns
    -------
    str
        The mode, one of :data:`RESIDUAL_MODES`.

    Raises
    ------
    InputError
        ``mode`` is not one of :data:`RESIDUAL_MODES`.
    """
    mode = (mode or "none").strip().lower()
    if mode not in RESIDUAL_MODES:
        raise InputError(f"Unknown residual correction '{mode}'; use one of {', '.join(RESIDUAL_MODES)}.")
    return mode


@dataclass
class ResidualSummary:
    """What a residual correction did (soil moisture in m3/m3)."""

    mode: str
    #: Cells with a SMAP value and at least one valid pixel (their mean is conserved).
    n_cells_corrected: int = 0
    #: Mean |SMAP - mean of the cell's raw predictions| over corrected cells.
    mean_abs_residual: float = math.nan
    #: Mass-conservation check: largest |mean of the corrected values of a cell - SMAP| (before clipping).
    max_cell_deviation: float = math.nan
    #: Valid pixels whose cell has no SMAP value, left uncorrected.
    n_uncorrected: int = 0
    #: Smooth mode: iterations run, and the largest per-cell residual left to the final constant step.
    iterations: int = 0
    max_leftover: float = math.nan

    def as_dict(self) -> dict[str, Any]:
        """The summary as a plain dict (for metadata and reports).

        Returns
        -------
        dict[str, Any]
            The fields by name.
        """
        return asdict(self)


class _Stencil:
    """Fractional position of fine pixel centers in the coarse grid, and their bilinear knots.

    For a pixel in cell (r, c) at fraction (fy, fx) of the cell, the four knots are the centers of
    cells (r + dy, c + dx) with dy, dx in {-1, 0} below the center line and {0, +1} above it, clamped to
    the grid; ``offset`` = (dy + 1) * 3 + (dx + 1) indexes the 3 x 3 neighbourhood of the pixel's cell.
    """

    def __init__(self, index: CellIndex) -> None:
        self.index = index
        self.fine = index.fine
        self.coarse = index.coarse
        same = self.fine.srs.IsSame(self.coarse.srs)
        self._ct = None if same else osr.CoordinateTransformation(self.fine.srs, self.coarse.srs)
        self._cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._bytes = 0

    def _fractions(self, row0: int, nrows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        key = (row0, nrows)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        cells = self.index.rows(row0, nrows)
        x, y = self.fine.centers(row0, nrows)
        if self._ct is not None:
            pts = np.asarray(self._ct.TransformPoints(np.column_stack([x.ravel(), y.ravel()])), dtype=np.float64)
            x = pts[:, 0].reshape(x.shape)
            y = pts[:, 1].reshape(y.shape)
        cx0, cdx, _, cy0, _, cdy = self.coarse.transform
        with np.errstate(invalid="ignore"):
            u = (x - cx0) / cdx
            v = (y - cy0) / cdy
        inside = cells >= 0
        fx = np.where(inside, np.clip(u - np.floor(u), 0.0, 1.0), 0.5).astype(np.float32)
        fy = np.where(inside, np.clip(v - np.floor(v), 0.0, 1.0), 0.5).astype(np.float32)
        out = (np.asarray(cells), fy, fx)
        nbytes = fy.nbytes + fx.nbytes
        if self._bytes + nbytes <= _COORD_CACHE_BYTES:
            self._cache[key] = out
            self._bytes += nbytes
        return out

    def weights(self, row0: int, nrows: int) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """Flat cell of each pixel (rows, cols) and four (offset, weight) pairs, each (rows, cols)."""
        cells, fy, fx = self._fractions(row0, nrows)
        w = self.coarse.width
        h = self.coarse.height
        crow = np.where(cells >= 0, cells // max(w, 1), 0)
        ccol = np.where(cells >= 0, cells % max(w, 1), 0)
        low_y = fy < 0.5
        ty = np.where(low_y, fy + 0.5, fy - 0.5)
        dy0 = np.where(low_y, -1, 0)
        low_x = fx < 0.5
        tx = np.where(low_x, fx + 0.5, fx - 0.5)
        dx0 = np.where(low_x, -1, 0)
        pairs = []
        for ky, wy in ((0, 1.0 - ty), (1, ty)):
            dy = dy0 + ky
            dy = np.where((crow + dy < 0) | (crow + dy > h - 1), 0, dy)
            for kx, wx in ((0, 1.0 - tx), (1, tx)):
                dx = dx0 + kx
                dx = np.where((ccol + dx < 0) | (ccol + dx > w - 1), 0, dx)
                pairs.append(((dy + 1) * 3 + (dx + 1), (wy * wx).astype(np.float64)))
        return cells, pairs


def _cell_means(weights: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Mean over each cell's valid pixels of the bilinear surface through knots ``q``: sum over the 3 x 3
    neighbourhood of weight(cell, offset) x q(cell + offset) (edge knots repeated beyond the grid)."""
    padded = np.pad(q, 1, mode="edge")
    h, w = q.shape
    out = np.zeros_like(q)
    for o in range(9):
        dy, dx = o // 3 - 1, o % 3 - 1
        out += weights[:, :, o] * padded[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
    return out


class ResidualCorrector:
    """Two-pass residual correction of a fine field against coarse soil moisture (see the module docstring).

    ``index`` maps fine pixels to the cells of the coarse grid holding ``smap`` ((H, W), NaN = nodata).
    """

    def __init__(self, index: CellIndex, smap: np.ndarray, mode: str = "constant",
                 tolerance: float = SMOOTH_TOLERANCE, max_iterations: int = SMOOTH_MAX_ITERATIONS) -> None:
        self.mode = check_mode(mode)
        if self.mode == "none":
            raise InputError("Residual correction 'none' needs no corrector; write the prediction as it is.")
        coarse = index.coarse
        smap = np.asarray(smap, dtype=np.float64)
        if smap.shape != (coarse.height, coarse.width):
            raise InputError(f"The soil moisture array has shape {smap.shape}, its grid {coarse.height} x "
                             f"{coarse.width}; give the SMAP raster's band 1.")
        self.index = index
        self.smap = smap
        self.tolerance = float(tolerance)
        self.max_iterations = int(max_iterations)
        self._acc = CoarseMean(index, 1)
        self._check = CoarseMean(index, 1)
        self._stencil = _Stencil(index) if self.mode == "smooth" else None
        self._wsum = np.zeros(9 * coarse.size, dtype=np.float64) if self.mode == "smooth" else None
        self.resid: np.ndarray | None = None  # (H, W) per-cell residual, NaN where not corrected
        self.knots: np.ndarray | None = None  # smooth: (H, W) knot values
        self.leftover: np.ndarray | None = None  # smooth: (H, W) constant added after the iterations
        self.summary = ResidualSummary(self.mode)

    # -- pass 1 -------------------------------------------------------------------------------
    def add(self, row0: int, pred: np.ndarray) -> None:
        """Accumulate a (rows, cols) block of raw predictions (NaN = no prediction).

        Parameters
        ----------
        row0 : int
            The block's first fine row.
        pred : numpy.ndarray
            (rows, fine width) predictions in m3/m3.
        """
        pred = np.asarray(pred)
        self._acc.add(row0, pred)
        if self._stencil is None:
            return
        assert self._wsum is not None
        cells, pairs = self._stencil.weights(row0, pred.shape[0])
        ok = (cells >= 0) & np.isfinite(pred)
        base = cells[ok].astype(np.int64) * 9
        for offset, weight in pairs:
            self._wsum += np.bincount(base + offset[ok], weights=weight[ok], minlength=self._wsum.size)

    # -- between the passes -----------------------------------------------------------------------
    def solve(self) -> ResidualSummary:
        """Per-cell residuals (and, in smooth mode, the knot surface). Call after every block was added.

        Returns
        -------
        ResidualSummary
            The summary so far (cells corrected, mean absolute residual; iterations and leftover in smooth mode).
        """
        cell_mean = self._acc.mean()[0]
        resid = self.smap - cell_mean  # NaN where the cell has no SMAP value or no valid pixel
        has = np.isfinite(resid)
        self.resid = resid
        s = self.summary
        s.n_cells_corrected = int(has.sum())
        s.mean_abs_residual = float(np.abs(resid[has]).mean()) if has.any() else math.nan
        if self.mode == "smooth" and has.any():
            self._solve_knots(resid, has)
        return s

    def _solve_knots(self, resid: np.ndarray, has: np.ndarray) -> None:
        from scipy import ndimage

        assert self._wsum is not None
        h, w = resid.shape
        counts = self._acc.valid[0].reshape(h, w).astype(np.float64)
        weights = self._wsum.reshape(h, w, 9) / np.maximum(counts, 1.0)[:, :, None]
        own = weights[:, :, 4]
        # knots of cells without a residual copy the nearest solved knot (a continuation, not a constraint)
        nearest = ndimage.distance_transform_edt(~has, return_distances=False, return_indices=True)
        fill_r, fill_c = nearest[0], nearest[1]
        r = np.where(has, resid, 0.0)
        q = r.copy()
        best_q, best_err = q.copy(), math.inf
        iterations = 0
        while iterations < self.max_iterations:
            iterations += 1
            err = np.where(has, r - _cell_means(weights, q[fill_r, fill_c]), 0.0)
            worst = float(np.abs(err).max())
            if worst < best_err:
                best_q, best_err = q.copy(), worst
            if worst <= self.tolerance or not math.isfinite(worst) or worst > 1e3 * max(best_err, self.tolerance):
                break
            # Jacobi step on the cell-mean operator (diagonal = the knot's weight in its own cell)
            q = q + err / np.maximum(own, 0.25)
        qf = best_q[fill_r, fill_c]
        self.knots = qf
        self.leftover = np.where(has, r - _cell_means(weights, qf), np.nan)
        self.summary.iterations = iterations
        self.summary.max_leftover = float(np.nanmax(np.abs(self.leftover)))

    # -- pass 2 ---------------------------------------------------------------------------------------
    def correction(self, row0: int, nrows: int) -> np.ndarray:
        """The correction of rows row0.. (rows, cols), NaN where the pixel's cell has no residual.

        Parameters
        ----------
        row0 : int
            The first fine row.
        nrows : int
            The number of rows.

        Returns
        -------
        numpy.ndarray
            float64 array (nrows, fine width) to add to the predictions, m3/m3.

        Raises
        ------
        RuntimeError
            :meth:`solve` has not run yet.
        """
        if self.resid is None:
            raise RuntimeError("solve() must run before the correction is applied")
        if self.mode == "constant" or self.knots is None:
            return broadcast(self.index, row0, nrows, self.resid)
        assert self._stencil is not None and self.leftover is not None
        cells, pairs = self._stencil.weights(row0, nrows)
        inside = cells >= 0
        safe = np.where(inside, cells, 0)
        knots = self.knots.ravel()
        w = self.index.coarse.width
        out = np.zeros(cells.shape, dtype=np.float64)
        for offset, weight in pairs:
            nb = safe + (offset // 3 - 1) * w + (offset % 3 - 1)
            out += weight * knots[np.clip(nb, 0, knots.size - 1)]
        out += self.leftover.ravel()[safe]  # NaN for cells without a residual
        out[~inside] = np.nan
        return out

    def apply(self, row0: int, values: np.ndarray) -> np.ndarray:
        """Corrected (rows, cols) block (float64); pixels whose cell has no residual keep their value.

        Parameters
        ----------
        row0 : int
            The block's first fine row.
        values : numpy.ndarray
            (rows, fine width) predictions in m3/m3, NaN for none.

        Returns
        -------
        numpy.ndarray
            float64 corrected values of the same shape.
        """
        values = np.asarray(values, dtype=np.float64)
        r = self.correction(row0, values.shape[0])
        fix = np.isfinite(r) & np.isfinite(values)
        corrected = np.where(fix, values + np.where(fix, r, 0.0), values)
        self.summary.n_uncorrected += int(np.count_nonzero(np.isfinite(values) & ~fix))
        self._check.add(row0, np.where(fix, corrected.astype(np.float32), np.nan))
        return corrected

    def finish(self) -> ResidualSummary:
        """Mass-conservation check over the applied blocks: fills ``max_cell_deviation``.

        Returns
        -------
        ResidualSummary
            The complete summary.
        """
        assert self.resid is not None
        has = np.isfinite(self.resid)
        dev = np.abs(self._check.mean()[0] - self.smap)[has]
        dev = dev[np.isfinite(dev)]
        self.summary.max_cell_deviation = float(dev.max()) if dev.size else math.nan
        return self.summary


def correct_array(pred: np.ndarray, fine: Grid, coarse: Grid, smap: np.ndarray,
                  mode: str = "constant") -> tuple[np.ndarray, ResidualSummary]:
    """Residual-correct a whole fine array in memory (tests, benchmarks): (corrected, summary).

    Parameters
    ----------
    pred : numpy.ndarray
        (fine height, fine width) predictions in m3/m3, NaN for none.
    fine : Grid
        Their grid.
    coarse : Grid
        SMAP's grid.
    smap : numpy.ndarray
        (coarse height, coarse width) soil moisture in m3/m3, NaN for nodata.
    mode : str
        One of :data:`RESIDUAL_MODES`.

    Returns
    -------
    tuple
        (corrected float64 array of ``pred``'s shape, :class:`ResidualSummary`); 'none' returns a copy.
    """
    mode = check_mode(mode)
    pred = np.asarray(pred, dtype=np.float64)
    if mode == "none":
        return pred.copy(), ResidualSummary("none")
    corr = ResidualCorrector(CellIndex(fine, coarse), smap, mode)
    corr.add(0, pred)
    corr.solve()
    out = corr.apply(0, pred)
    return out, corr.finish()
