"""Residual correction: make a 1 km field conserve the coarse (SMAP) soil moisture of every cell.

The residual of a coarse cell is SMAP minus the mean of the 1 km predictions of its valid pixels (a
pixel belongs to the cell containing its center: :mod:`aggregate`, the project's one definition; or, with an
area index, to each cell it straddles by its area share).

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
``atpk``
    area-to-point kriging of the residuals: a variogram is fitted to the coarse residuals (an exponential
    point covariance plus a per-cell nugget, regularised over the cells, which are discretised into
    ``ATPK_DISCRETE`` x ``ATPK_DISCRETE`` points), and each pixel gets the ordinary-kriging combination of
    the residuals of the 5 x 5 cells around its own, with block-to-block and block-to-point covariances.
    The weights depend only on the pixel's position in its cell, so they are solved once for
    ``ATPK_BINS`` x ``ATPK_BINS`` positions. Kriging from a neighbourhood is coherent only approximately, so
    the knots are then solved as in smooth mode: the result's cell means equal the cell residuals.
``none``
    no correction.

With ``area`` (an :class:`aggregate.AreaIndex`), cell means weight each pixel by its area share in the cells
it straddles instead of the center rule, in the residuals and in the conservation: the knots (one per cell in
constant mode too) are solved so that the area-weighted mean of the corrected field over each cell equals
SMAP.

Pixels whose cell has no SMAP value (nodata, or a partial cell at the area's border) have nothing to
conserve and are counted (``n_uncorrected``). Knots of such cells continue the residuals around them up to the
kernel's reach (one cell in smooth mode, two in atpk; one more with ``area``) and are 0 further out: ring by
ring outward, each takes the mean of its neighbours in the previous ring (the residuals of the cells with SMAP
first) times rho, the correlation about 0 of the residuals of neighbouring cells with SMAP, clipped to [0, 1]
(the simple-kriging guess of an unknown neighbour under a zero prior: smooth residuals or a common bias carry
on at nearly full strength, uncorrelated cell noise is not continued). Residuals, not the solved knots: those
carry cell-level noise amplified by the inverse of the cell-mean operator (below); copying the nearest knot
made the pixels in cells without SMAP worse than the plain prediction on a heterogeneous scene of the bench
(bench/GAPS.md measures them, RMSE and ubRMSD per scene). In constant mode their pixels keep the uncorrected
prediction. Smooth and atpk apply their surface to them too, so the correction continues across the edge and
fades out instead of stopping with a step at the edge of the cell without SMAP. How far it reaches into a
region without SMAP (with rho > 0): smooth, the whole first cell and the half of the second facing it (the
surface falls to 0 at that cell's centre); atpk, four cells (the continued knots two cells deep, then kriging
weights that reach two cells further, small beyond the third); one cell more each with ``area``. On the bench
(bench/GAPS.md) that step was most of the seam excess of the smooth correction (the default's seam ratio was
4.8-10.1 % off the truth's on the nine scenes, 0.0-4.0 % since). Pixels outside the coarse grid keep the
prediction in every mode (downscale first extends a SMAP raster smaller than the stack with cells without a value,
:func:`.downscale.cover_stack`, so its pixels beyond that raster get the continuation too).

Knots and seams: the knots invert the cell-mean operator of the interpolation, which damps a checkerboard of
cell values most (by (41/81)**2 for 9 x 9 pixels per cell), so cell-level noise in the residuals (retrieval
error) comes back about 4x larger in the knots; exact conservation requires the cell means to carry it. The
bilinear surface carries it with a constant slope between cell centres, so steps across cell edges stay those
inside cells. A smoother surface through the same alternating cell means (cubic B-spline or Catmull-Rom knots)
turns at the cell centres and is steepest at the cell edges, so it would show more seams, not fewer.

The corrector works block by block in two passes (:meth:`ResidualCorrector.add` for every block of
raw predictions, :meth:`ResidualCorrector.solve`, then :meth:`ResidualCorrector.apply` for every
block), so memory depends on the coarse grid, not on the fine extent.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from . import options
from .aggregate import AreaIndex, CellIndex, CoarseMean, broadcast
from .errors import InputError
from .raster import Grid

RESIDUAL_MODES = options.RESIDUAL_MODES.keys
#: Smooth mode: iterations stop when every cell's mean is within this of its residual (m3/m3).
SMOOTH_TOLERANCE = 1e-9
SMOOTH_MAX_ITERATIONS = 200
#: Residual correction builds its cell means with area shares (``aggregate.AreaIndex``) unless told otherwise.
AREA_WEIGHTED = False
#: Area-to-point kriging: cells discretised into this many points per side, pixel positions in a cell
#: binned into this many per side, and the neighbourhood radius in cells (5 x 5).
ATPK_DISCRETE = 6
ATPK_BINS = 8
ATPK_RADIUS = 2
#: Block coordinates cached between the two passes, up to this many bytes.
_COORD_CACHE_BYTES = 64 * 2**20


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
    #: The same for the values written (after clipping to the physical range, :meth:`ResidualCorrector.written`), and
    #: the cells whose written mean is more than :data:`CLIPPED_CELL_TOLERANCE` off SMAP (NaN/0 when not measured).
    max_cell_deviation_written: float = math.nan
    n_cells_off_after_clipping: int = 0
    #: Valid pixels whose cell has no SMAP value or that lie outside the SMAP grid (nothing to conserve): constant
    #: mode leaves them uncorrected; smooth and atpk continue their surface into cells without SMAP, fading out within
    #: two to five cells (see the module docstring), and leave pixels outside the grid as predicted.
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


#: A cell whose mean of the written (clipped) values is more than this off SMAP (m3/m3) counts as moved by clipping.
CLIPPED_CELL_TOLERANCE = 0.001


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
        self._cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._bytes = 0

    def _fractions(self, row0: int, nrows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        key = (row0, nrows)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        # the cells exactly, the positions interpolated along each row (about 1/8 of the transforms)
        _, u, v = self.index.positions(row0, nrows)
        cells = self.index.rows(row0, nrows)  # the same cells, shared with the index's own cache
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


def _cell_means(weights: np.ndarray, q: np.ndarray, reach: int = 1) -> np.ndarray:
    """Mean over each cell's valid pixels of the surface through knots ``q``: sum over the neighbourhood of
    weight(cell, d) x q(cell + d), d in -reach..reach per axis, ``weights`` (H, W, (2 reach + 1)**2)."""
    side = 2 * reach + 1
    padded = np.pad(q, reach, mode="edge")
    h, w = q.shape
    out = np.zeros_like(q)
    for o in range(side * side):
        dy, dx = o // side - reach, o % side - reach
        out += weights[:, :, o] * padded[reach + dy:reach + dy + h, reach + dx:reach + dx + w]
    return out


def _neighbour_correlation(resid: np.ndarray, has: np.ndarray) -> float:
    """Correlation about 0 of the residuals of 4-neighbouring cells that both have one, clipped to [0, 1]
    (0 without such pairs): sum of the products over half the sum of the squares."""
    num = den = 0.0
    for a, b, ha, hb in ((resid[:, :-1], resid[:, 1:], has[:, :-1], has[:, 1:]),
                         (resid[:-1, :], resid[1:, :], has[:-1, :], has[1:, :])):
        ok = ha & hb
        num += float(np.sum(a[ok] * b[ok]))
        den += 0.5 * float(np.sum(a[ok] ** 2) + np.sum(b[ok] ** 2))
    return min(max(num / den, 0.0), 1.0) if den > 0 else 0.0


def _ring_means(values: np.ndarray, dist: np.ndarray, reach: int, rho: float) -> np.ndarray:
    """``values`` where ``dist`` (chessboard distance to a cell with a value) is 0; then ring by ring outward up to
    ``reach``, each cell takes ``rho`` x the mean of its 8 neighbours in the previous ring; 0 further out."""
    from scipy import ndimage

    out = np.where(dist == 0, values, 0.0)
    ones = np.ones((3, 3))
    for d in range(1, reach + 1):
        prev = (dist == d - 1).astype(np.float64)
        total = ndimage.convolve(out * prev, ones, mode="constant")
        count = ndimage.convolve(prev, ones, mode="constant")
        ring = dist == d
        out[ring] = rho * total[ring] / np.maximum(count[ring], 1.0)
    return out


def _exp_cov(d: np.ndarray, range_cells: float) -> np.ndarray:
    return np.exp(-d / max(range_cells, 1e-6))


def _discretisation(n: int = ATPK_DISCRETE) -> np.ndarray:
    t = (np.arange(n) + 0.5) / n
    yy, xx = np.meshgrid(t, t, indexing="ij")
    return np.column_stack([yy.ravel(), xx.ravel()])


def _block_cov(range_cells: float, offsets: np.ndarray, n: int = ATPK_DISCRETE) -> np.ndarray:
    """Mean unit-sill point covariance between the points of a cell and of the cell at each (dy, dx) offset."""
    pts = _discretisation(n)
    diff = pts[:, None, :] - pts[None, :, :]  # (n2, n2, 2)
    out = np.empty(len(offsets))
    for i, (dy, dx) in enumerate(offsets):
        d = np.hypot(diff[..., 0] - dy, diff[..., 1] - dx)
        out[i] = float(_exp_cov(d, range_cells).mean())
    return out


def fit_residual_variogram(resid: np.ndarray, max_lag: int = 4) -> tuple[float, float, float]:
    """Fit the point variogram of area-to-point kriging to coarse residuals.

    The empirical semivariogram of the residual grid at every cell lag up to ``max_lag`` is fitted by the
    regularised (cell-averaged) variogram of an exponential point covariance of sill ``s`` and range ``a``
    (in cells), plus a nugget ``n`` per cell (independent retrieval error), by weighted least squares over a
    grid of ranges.

    Parameters
    ----------
    resid:
        (H, W) residuals, NaN where a cell has none.
    max_lag:
        Largest lag (cells) per axis.

    Returns
    -------
    tuple of float
        (sill, range in cells, nugget); (1, 1, 0) when fewer than 10 lag pairs exist (weights then depend
        on the shape only).
    """
    r = np.asarray(resid, dtype=np.float64)
    h, w = r.shape
    lags, gam, cnt = [], [], []
    for dy in range(0, max_lag + 1):
        for dx in range(-max_lag, max_lag + 1):
            if (dy == 0 and dx <= 0) or abs(dx) >= w or dy >= h:
                continue
            a = r[dy:, max(dx, 0):w + min(dx, 0)]
            b = r[:h - dy, max(-dx, 0):w - max(dx, 0)]
            d = (a - b)[np.isfinite(a) & np.isfinite(b)]
            if d.size:
                lags.append((dy, dx))
                gam.append(0.5 * float(np.mean(d * d)))
                cnt.append(d.size)
    if sum(cnt) < 10 or not lags:
        return 1.0, 1.0, 0.0
    lag = np.asarray(lags, dtype=np.float64)
    g = np.asarray(gam)
    wt = np.asarray(cnt, dtype=np.float64)
    best = (math.inf, 1.0, 1.0, 0.0)
    for a in np.geomspace(0.2, 30.0, 24):
        c0 = _block_cov(a, np.zeros((1, 2)))[0]
        shape = c0 - _block_cov(a, lag)
        # weighted least squares of g ~ s * shape + n with s, n >= 0
        x = np.column_stack([shape, np.ones_like(shape)])
        sw = np.sqrt(wt)
        coef = np.linalg.lstsq(x * sw[:, None], g * sw, rcond=None)[0]
        if coef[0] < 0 or coef[1] < 0:
            s_only = max(float(np.sum(wt * shape * g) / max(np.sum(wt * shape * shape), 1e-300)), 0.0)
            n_only = max(float(np.sum(wt * g) / np.sum(wt)), 0.0)
            cands = [(s_only, 0.0), (0.0, n_only)]
        else:
            cands = [(float(coef[0]), float(coef[1]))]
        for sill, nug in cands:
            sse = float(np.sum(wt * (g - sill * shape - nug) ** 2))
            if sse < best[0]:
                best = (sse, sill, float(a), nug)
    _, sill, a, nug = best
    if sill <= 0:
        return 1.0, 1.0, max(nug, 1.0)  # pure nugget: no spatial structure, the weights keep each cell's own
    return sill, a, nug


def atpk_weights(sill: float, range_cells: float, nugget: float, bins: int = ATPK_BINS,
                 radius: int = ATPK_RADIUS, n: int = ATPK_DISCRETE) -> np.ndarray:
    """Ordinary area-to-point kriging weights of the cells around a pixel, per position of the pixel in its cell.

    Parameters
    ----------
    sill, range_cells, nugget:
        The point variogram (:func:`fit_residual_variogram`).
    bins:
        Positions per side: the pixel's position in its cell is taken at the center of its bin.
    radius:
        The neighbourhood: (2 radius + 1)**2 cells centred on the pixel's cell.
    n:
        Discretisation points per cell side.

    Returns
    -------
    numpy.ndarray
        (bins * bins, (2 radius + 1)**2) weights, each row summing to 1; row ``by * bins + bx`` for the bin at
        row ``by`` and column ``bx`` of the cell, column ``(dy + radius) * side + (dx + radius)`` for the cell at
        offset (dy, dx).
    """
    side = 2 * radius + 1
    offs = np.array([(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)], float)
    diffs = offs[:, None, :] - offs[None, :, :]
    uniq, inv = np.unique(diffs.reshape(-1, 2), axis=0, return_inverse=True)
    cbb = (sill * _block_cov(range_cells, uniq, n))[inv.ravel()].reshape(side * side, side * side)
    cbb += nugget * np.eye(side * side)
    m = side * side
    a = np.zeros((m + 1, m + 1))
    a[:m, :m] = cbb
    a[:m, m] = a[m, :m] = 1.0
    pts = _discretisation(n)
    t = (np.arange(bins) + 0.5) / bins
    by, bx = np.meshgrid(t, t, indexing="ij")
    xs = np.column_stack([by.ravel(), bx.ravel()])  # (bins2, 2)
    rhs = np.ones((m + 1, xs.shape[0]))
    for j, (dy, dx) in enumerate(offs):
        d = np.hypot(xs[:, None, 0] - (pts[None, :, 0] + dy), xs[:, None, 1] - (pts[None, :, 1] + dx))
        rhs[j] = sill * _exp_cov(d, range_cells).mean(axis=1)
    sol = np.linalg.lstsq(a, rhs, rcond=None)[0]
    return sol[:m].T.copy()


class ResidualCorrector:
    """Two-pass residual correction of a fine field against coarse soil moisture (see the module docstring).

    ``index`` maps fine pixels to the cells of the coarse grid holding ``smap`` ((H, W), NaN = nodata);
    ``area`` (an :class:`aggregate.AreaIndex` of the same grids), when given, defines the cell means by area
    shares (None: :data:`AREA_WEIGHTED` decides).
    """

    def __init__(self, index: CellIndex, smap: np.ndarray, mode: str = "constant",
                 tolerance: float = SMOOTH_TOLERANCE, max_iterations: int = SMOOTH_MAX_ITERATIONS,
                 area: AreaIndex | None = None) -> None:
        self.mode = check_mode(mode)
        if self.mode == "none":
            raise InputError("Residual correction 'none' needs no corrector; write the prediction as it is.")
        coarse = index.coarse
        smap = np.asarray(smap, dtype=np.float64)
        if smap.shape != (coarse.height, coarse.width):
            raise InputError(f"The soil moisture array has shape {smap.shape}, its grid {coarse.height} x "
                             f"{coarse.width}; give the SMAP raster's band 1.")
        if area is None and AREA_WEIGHTED and not index.fine.same_as(coarse):
            area = AreaIndex(index.fine, coarse)
        self.index = index
        self.area = area
        self.smap = smap
        self.tolerance = float(tolerance)
        self.max_iterations = int(max_iterations)
        means_by = area if area is not None else index
        self._acc = CoarseMean(means_by, 1)
        self._check = CoarseMean(means_by, 1)
        self._written: CoarseMean | None = None
        #: knots are solved unless constant mode with the center rule (each cell's residual is its knot)
        self._solved = self.mode != "constant" or area is not None
        #: the surface modes continue into cells without a residual (fading out), so no step bounds them
        self._continues = self.mode in ("smooth", "atpk")
        self._stencil = _Stencil(index) if self.mode in ("smooth", "atpk") else None
        kernel_reach = {"constant": 0, "smooth": 1, "atpk": ATPK_RADIUS}[self.mode]
        self._reach = kernel_reach + (1 if area is not None else 0)
        side = 2 * self._reach + 1
        self._op = np.zeros(9 * side * side * coarse.size) if self._solved and self.mode != "atpk" else None
        #: atpk: valid pixels per cell, position bin and (area mode) offset of the cell they count in
        self._offsets = 9 if area is not None else 1
        self._bins = (np.zeros(coarse.size * ATPK_BINS * ATPK_BINS * self._offsets, dtype=np.float32)
                      if self.mode == "atpk" else None)
        self.resid: np.ndarray | None = None  # (H, W) per-cell residual, NaN where not corrected
        self.knots: np.ndarray | None = None  # solved modes: (H, W) knot values
        self.leftover: np.ndarray | None = None  # solved modes: (H, W) constant added after the iterations
        self.weights: np.ndarray | None = None  # atpk: (bins**2, 25) kriging weights
        self.variogram: tuple[float, float, float] | None = None  # atpk: (sill, range in cells, nugget)
        self.continuation: float | None = None  # solved modes: rho of the knots continued into cells without SMAP
        self.summary = ResidualSummary(self.mode)

    def _shares(self, row0: int, nrows: int) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
        """Center cells and (offset in the 3 x 3 neighbourhood, share) of each pixel in the cells whose mean it
        counts in: its own cell by the center rule, else its area shares."""
        if self.area is None:
            cells = self.index.rows(row0, nrows)
            return cells, [(4, np.ones(cells.shape))]
        cells, shares = self.area.shares(row0, nrows)
        return cells, [(o, shares[o]) for o in range(9) if shares[o].any()]

    def _kernel(self, row0: int, nrows: int) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """Center cells and (knot offset in the 3 x 3 neighbourhood, weight) pairs of constant and smooth mode."""
        if self.mode == "smooth":
            assert self._stencil is not None
            return self._stencil.weights(row0, nrows)
        cells = self.index.rows(row0, nrows)
        return cells, [(np.full(cells.shape, 4), np.ones(cells.shape))]

    def _bin_of(self, row0: int, nrows: int) -> tuple[np.ndarray, np.ndarray]:
        assert self._stencil is not None
        cells, fy, fx = self._stencil._fractions(row0, nrows)
        by = np.clip((fy * ATPK_BINS).astype(np.int64), 0, ATPK_BINS - 1)
        bx = np.clip((fx * ATPK_BINS).astype(np.int64), 0, ATPK_BINS - 1)
        return cells, by * ATPK_BINS + bx

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
        if not self._solved:
            return
        nrows = pred.shape[0]
        cells, shares = self._shares(row0, nrows)
        valid = (cells >= 0) & np.isfinite(pred)
        w, h = self.index.coarse.width, self.index.coarse.height
        crow, ccol = np.divmod(np.where(cells >= 0, cells, 0), max(w, 1))
        if self._bins is not None:
            _, b = self._bin_of(row0, nrows)
            nb = ATPK_BINS * ATPK_BINS
            for o, share in shares:
                ok = valid & (share > 0)
                key = (cells[ok].astype(np.int64) * nb + b[ok]) * self._offsets + (o if self._offsets == 9 else 0)
                self._bins += np.bincount(key, weights=share[ok], minlength=self._bins.size).astype(np.float32)
            return
        assert self._op is not None
        reach = self._reach
        side = 2 * reach + 1
        _, kernel = self._kernel(row0, nrows)
        for o, share in shares:
            mr, mc = crow + (o // 3 - 1), ccol + (o % 3 - 1)
            ok = valid & (share > 0) & (mr >= 0) & (mr < h) & (mc >= 0) & (mc < w)
            for koff, kw in kernel:
                dy = crow + (koff // 3 - 1) - mr
                dx = ccol + (koff % 3 - 1) - mc
                key = (((mr * w + mc)[ok].astype(np.int64) * 9 + o) * side * side
                       + ((dy + reach) * side + (dx + reach))[ok])
                self._op += np.bincount(key, weights=(share * kw)[ok], minlength=self._op.size)

    # -- between the passes -----------------------------------------------------------------------
    def solve(self, cell_means: np.ndarray | None = None) -> ResidualSummary:
        """Per-cell residuals (and, in the solved modes, the knots). Call after every block was added.

        Parameters
        ----------
        cell_means : numpy.ndarray or None
            (H, W) cell means of the field that :meth:`apply` will correct, when it is not the field added in
            pass 1 but has the same valid pixels (the contrast detail's anchored field, :mod:`detail`; center
            rule only); None: the means of what was added.

        Returns
        -------
        ResidualSummary
            The summary so far (cells corrected, mean absolute residual, largest cell-mean deviation; the solve's
            iterations and leftover in the solved modes).

        Raises
        ------
        InputError
            ``cell_means`` given to a corrector with area-weighted cell means.
        """
        if cell_means is not None and self.area is not None:
            raise InputError("Cell means given to the residual correction must follow the area shares it uses; "
                             "turn area-weighted cell means off.")
        cell_mean = self._acc.mean()[0] if cell_means is None else np.asarray(cell_means, dtype=np.float64)
        resid = self.smap - cell_mean  # NaN where the cell has no SMAP value or no valid pixel
        has = np.isfinite(resid)
        self.resid = resid
        s = self.summary
        s.n_cells_corrected = int(has.sum())
        s.mean_abs_residual = float(np.abs(resid[has]).mean()) if has.any() else math.nan
        if self._solved and has.any():
            self._solve_knots(self._operator(resid, has), resid, has)
        return s

    def _operator(self, resid: np.ndarray, has: np.ndarray) -> np.ndarray:
        """(H, W, side**2) weight of knot (cell + d) in each cell's mean of the correction surface.

        Pixels whose own cell has no residual are not corrected, so their shares in neighbouring cells
        (area mode) carry no correction either.
        """
        h, w = resid.shape
        side = 2 * self._reach + 1
        counts = self._acc.valid[0].reshape(h, w).astype(np.float64)
        norm = np.maximum(counts, 1e-12)[:, :, None]
        rr, cc = np.mgrid[0:h, 0:w]
        if self._op is not None:
            op9 = self._op.reshape(h, w, 9, side * side)
            for o in range(9):
                # the pixels counted in cell (r, c) under offset o have their center in (r - oy, c - ox)
                pr, pc = rr - (o // 3 - 1), cc - (o % 3 - 1)
                inside = (pr >= 0) & (pr < h) & (pc >= 0) & (pc < w)
                corrected = np.zeros((h, w), dtype=bool)
                corrected[inside] = True if self._continues else has[pr[inside], pc[inside]]
                op9[:, :, o, :] *= corrected[:, :, None]
            return op9.sum(axis=2) / norm
        assert self._bins is not None
        self.variogram = fit_residual_variogram(resid)
        sill, range_cells, _ = self.variogram
        lam = atpk_weights(sill, range_cells, 0.0)
        self.weights = lam
        rad, ks = ATPK_RADIUS, 2 * ATPK_RADIUS + 1
        reach = self._reach
        nb = self._bins.reshape(h, w, ATPK_BINS * ATPK_BINS, self._offsets)
        op = np.zeros((h, w, side * side))
        for o in (range(9) if self._offsets == 9 else (4,)):
            oy, ox = o // 3 - 1, o % 3 - 1
            no = nb[:, :, :, o if self._offsets == 9 else 0].astype(np.float64)
            if not self._continues:
                no = no * has[:, :, None]
            if not no.any():
                continue
            mr, mc = rr + oy, cc + ox
            inside = (mr >= 0) & (mr < h) & (mc >= 0) & (mc < w)
            contrib_all = no @ lam  # (h, w, ks * ks)
            for k in range(ks * ks):
                ky, kx = k // ks - rad, k % ks - rad
                contrib = contrib_all[:, :, k]
                kr, kc = np.clip(rr + ky, 0, h - 1), np.clip(cc + kx, 0, w - 1)
                dy, dx = kr - mr, kc - mc
                ok = inside & (contrib != 0)
                np.add.at(op, (mr[ok], mc[ok], ((dy + reach) * side + (dx + reach))[ok]), contrib[ok])
        return op / norm

    def _solve_knots(self, weights: np.ndarray, resid: np.ndarray, has: np.ndarray) -> None:
        from scipy import ndimage

        reach = self._reach
        side = 2 * reach + 1
        own = weights[:, :, reach * side + reach]
        # knots of cells without a residual continue the residuals of the cells around them (a continuation, not a
        # constraint): ring by ring outward, up to ``reach`` cells from a solved knot (every knot a corrected pixel's
        # kernel touches), each takes the mean of the previous ring's values times ``rho``, the correlation of
        # neighbouring cells' residuals (a simple-kriging guess of an unknown neighbour with a zero prior); 0
        # further out. Residuals, not knots: the knots carry cell-level noise amplified by the inverse of the
        # cell-mean operator. Where the surface continues into cells without SMAP (smooth, atpk) it fades out.
        dist = ndimage.distance_transform_cdt(~has, metric="chessboard")
        rho = _neighbour_correlation(resid, has)
        self.continuation = rho
        fixed = _ring_means(np.where(has, resid, 0.0), dist, reach, rho)

        def spread(q: np.ndarray) -> np.ndarray:
            return np.where(has, q, fixed)

        r = np.where(has, resid, 0.0)
        q = r.copy()
        best_q, best_err = q.copy(), math.inf
        iterations = 0
        while iterations < self.max_iterations:
            iterations += 1
            err = np.where(has, r - _cell_means(weights, spread(q), reach), 0.0)
            worst = float(np.abs(err).max())
            if worst < best_err:
                best_q, best_err = q.copy(), worst
            if worst <= self.tolerance or not math.isfinite(worst) or worst > 1e3 * max(best_err, self.tolerance):
                break
            # Jacobi step on the cell-mean operator (diagonal = the knot's weight in its own cell)
            q = q + err / np.maximum(own, 0.25)
        qf = spread(best_q)
        self.knots = qf
        self.leftover = np.where(has, r - _cell_means(weights, qf, reach), np.nan)
        self.summary.iterations = iterations
        self.summary.max_leftover = float(np.nanmax(np.abs(self.leftover)))

    # -- pass 2 ---------------------------------------------------------------------------------------
    def correction(self, row0: int, nrows: int) -> np.ndarray:
        """The correction of rows row0.. (rows, cols): NaN outside the coarse grid and, in constant mode, where the
        pixel's cell has no residual (smooth and atpk continue their surface into such cells, fading out).

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
        return self._correction(row0, nrows)[0]

    def _correction(self, row0: int, nrows: int) -> tuple[np.ndarray, np.ndarray]:
        """The correction (as :meth:`correction`) and which pixels lie in a cell with a residual."""
        if self.resid is None:
            raise RuntimeError("solve() must run before the correction is applied")
        if not self._solved or self.knots is None:
            out = broadcast(self.index, row0, nrows, self.resid)
            return out, np.isfinite(out)
        assert self.leftover is not None
        h, w = self.knots.shape
        knots = self.knots.ravel()
        if self.mode == "atpk":
            assert self.weights is not None
            cells, b = self._bin_of(row0, nrows)
            inside = cells >= 0
            safe = np.where(inside, cells, 0)
            crow, ccol = np.divmod(safe, max(w, 1))
            ks = 2 * ATPK_RADIUS + 1
            out = np.zeros(cells.shape, dtype=np.float64)
            for k in range(ks * ks):
                kr = np.clip(crow + k // ks - ATPK_RADIUS, 0, h - 1)
                kc = np.clip(ccol + k % ks - ATPK_RADIUS, 0, w - 1)
                out += self.weights[b, k] * knots[kr * w + kc]
        else:
            cells, pairs = self._kernel(row0, nrows)
            inside = cells >= 0
            safe = np.where(inside, cells, 0)
            out = np.zeros(cells.shape, dtype=np.float64)
            for offset, weight in pairs:
                nb = safe + (offset // 3 - 1) * w + (offset % 3 - 1)
                out += weight * knots[np.clip(nb, 0, knots.size - 1)]
        left = self.leftover.ravel()[safe]  # NaN for cells without a residual
        tied = inside & np.isfinite(left)
        # the surface modes continue into cells without a residual (no leftover there), the others stop
        out += np.where(np.isfinite(left), left, 0.0 if self._continues else np.nan)
        out[~inside] = np.nan
        return out, tied

    def apply(self, row0: int, values: np.ndarray) -> np.ndarray:
        """Corrected (rows, cols) block (float64). Pixels outside the coarse grid keep their value, and so do pixels
        whose cell has no residual in constant mode (smooth and atpk continue their fading surface into them).

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
        r, tied = self._correction(row0, values.shape[0])
        fix = np.isfinite(r) & np.isfinite(values)
        corrected = np.where(fix, values + np.where(fix, r, 0.0), values)
        self.summary.n_uncorrected += int(np.count_nonzero(np.isfinite(values) & ~tied))
        # every valid pixel counts in the check: with area shares, uncorrected pixels share neighbouring cells
        self._check.add(row0, corrected.astype(np.float32))
        return corrected

    def written(self, row0: int, values: np.ndarray) -> None:
        """Count a block of the values as written (after clipping to the physical range) in the mass-conservation
        check of :meth:`finish` (``max_cell_deviation_written``, ``n_cells_off_after_clipping``).

        Parameters
        ----------
        row0 : int
            The block's first fine row.
        values : numpy.ndarray
            (rows, fine width) values as written, NaN for none.
        """
        if self._written is None:
            self._written = CoarseMean(self.area if self.area is not None else self.index, 1)
        self._written.add(row0, np.asarray(values, dtype=np.float32))

    def finish(self) -> ResidualSummary:
        """Mass-conservation check over the applied blocks: fills ``max_cell_deviation`` (and, for the values given
        to :meth:`written`, ``max_cell_deviation_written`` and ``n_cells_off_after_clipping``).

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
        if self._written is not None:
            dev = np.abs(self._written.mean()[0] - self.smap)[has]
            dev = dev[np.isfinite(dev)]
            self.summary.max_cell_deviation_written = float(dev.max()) if dev.size else math.nan
            self.summary.n_cells_off_after_clipping = int(np.count_nonzero(dev > CLIPPED_CELL_TOLERANCE))
        return self.summary


def correct_array(pred: np.ndarray, fine: Grid, coarse: Grid, smap: np.ndarray,
                  mode: str = "constant", area: bool | None = None) -> tuple[np.ndarray, ResidualSummary]:
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
    area : bool or None
        Cell means by area shares (True), by the center rule (False), or as :data:`AREA_WEIGHTED` (None).

    Returns
    -------
    tuple
        (corrected float64 array of ``pred``'s shape, :class:`ResidualSummary`); 'none' returns a copy.
    """
    mode = check_mode(mode)
    pred = np.asarray(pred, dtype=np.float64)
    if mode == "none":
        return pred.copy(), ResidualSummary("none")
    use_area = AREA_WEIGHTED if area is None else area
    corr = ResidualCorrector(CellIndex(fine, coarse), smap, mode,
                             area=AreaIndex(fine, coarse) if use_area and not fine.same_as(coarse) else None)
    corr.add(0, pred)
    corr.solve()
    out = corr.apply(0, pred)
    return out, corr.finish()
