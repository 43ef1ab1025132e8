"""Fine-to-coarse aggregation and coarse-to-fine broadcasting between non-aligned grids.

A fine pixel belongs to the coarse cell that contains its center (after transforming the center
into the coarse grid's CRS). This one definition is used everywhere: the coarse mean of a fine
field is the mean of its valid pixels assigned to the cell, and residual correction adds each
cell's residual to exactly those pixels, so mass is conserved by construction.

Where the coarse grid is not aligned with the fine grid, a fine pixel straddles cells. :class:`AreaIndex`
gives each pixel's **area shares** instead: the pixel is split into ``k x k`` sub-pixels, each assigned to the
cell containing its center, so a pixel on an edge counts in each cell by the share of its area there (a coarse
product that is an area mean, as a radiometer footprint is, averages its cells that way). ``CoarseMean`` takes
either; the residual correction conserves the cell means under the same definition it was built with.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
from osgeo import osr

from .raster import Grid


class CellIndex:
    """Maps fine pixels to flat coarse cell indices (-1 outside the coarse grid).

    Between different CRSs, transforming every pixel center is the costly part (about 1 s per million
    pixels). :meth:`rows` transforms a lattice of every ``LATTICE_STEP``-th center exactly and
    interpolates the others bilinearly; probes at lattice midpoints bound the interpolation error, and
    every pixel whose interpolated position lies within twice that bound of a cell edge is transformed
    exactly. The result is therefore the same as transforming every center (:meth:`rows_exact`).
    """

    #: Spacing (pixels) of the exactly transformed lattice; 0 transforms every center.
    LATTICE_STEP = 16

    def __init__(self, fine: Grid, coarse: Grid) -> None:
        self.fine = fine
        self.coarse = coarse
        same = fine.srs.IsSame(coarse.srs)
        self._ct = None if same else osr.CoordinateTransformation(fine.srs, coarse.srs)

    def _transform(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pts = np.column_stack([np.ravel(x), np.ravel(y)])
        out = np.asarray(self._ct.TransformPoints(pts), dtype=np.float64)  # type: ignore[union-attr]
        return out[:, 0].reshape(np.shape(x)), out[:, 1].reshape(np.shape(x))

    def _uv(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions in the coarse grid, in cells (column, row; cell (r, c) spans [c, c + 1) x [r, r + 1))."""
        cx0, cdx, _, cy0, _, cdy = self.coarse.transform
        with np.errstate(invalid="ignore"):
            return (x - cx0) / cdx, (y - cy0) / cdy

    def _cells_uv(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            col = np.floor(u)
            row = np.floor(v)
        ok = (col >= 0) & (col < self.coarse.width) & (row >= 0) & (row < self.coarse.height) & np.isfinite(col)
        idx = np.full(u.shape, -1, dtype=np.int64)
        idx[ok] = row[ok].astype(np.int64) * self.coarse.width + col[ok].astype(np.int64)
        return idx

    def _cells(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self._cells_uv(*self._uv(x, y))

    def rows_exact(self, row0: int, nrows: int) -> np.ndarray:
        """As :meth:`rows`, transforming every pixel center.

        Parameters
        ----------
        row0 : int
            The first fine row.
        nrows : int
            The number of rows.

        Returns
        -------
        numpy.ndarray
            int64 flat coarse cell index of each fine pixel, shape (nrows, fine width), -1 outside the coarse grid.
        """
        return self._cells(*self._exact_centers(row0, nrows))

    def rows(self, row0: int, nrows: int) -> np.ndarray:
        """Flat coarse cell index for each fine pixel in rows row0..row0+nrows-1, shape (nrows, width).

        Parameters
        ----------
        row0 : int
            The first fine row.
        nrows : int
            The number of rows.

        Returns
        -------
        numpy.ndarray
            int64 flat coarse cell index (row * coarse width + column) of each fine pixel, shape (nrows, fine width),
            -1 outside the coarse grid.
        """
        return self._cells(*self._centers(row0, nrows))

    def positions(self, row0: int, nrows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The cells of :meth:`rows` and where in the coarse grid each pixel center lies, in cells.

        Each row is handled on its own, so the result never depends on the rows asked together: every
        ``LATTICE_STEP``-th center of the row is transformed exactly and the others interpolated linearly
        between them; probes halfway between those nodes bound the interpolation error, and a pixel whose
        position lies within twice that bound of a cell edge is transformed exactly. So the cells are those of
        :meth:`rows_exact`, and a position is off by at most the bound (under a thousandth of a cell for 1 km
        pixels in a 9 km grid between Albers and EASE-Grid 2.0), never across a cell edge.

        Parameters
        ----------
        row0 : int
            The first fine row.
        nrows : int
            The number of rows.

        Returns
        -------
        tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]
            The flat cell index (as :meth:`rows`) and the column and row positions (float64; cell (r, c) spans
            [c, c + 1) x [r, r + 1)), each shape (nrows, fine width).
        """
        step = int(self.LATTICE_STEP)
        width = self.fine.width
        if self._ct is None or step < 2 or width < 4 * step:
            u, v = self._uv(*self._exact_centers(row0, nrows))
            return self._cells_uv(u, v), u, v
        cpos, ci, cw = _lattice_axis(width, step)
        probes = (cpos[:-1] + cpos[1:]) // 2
        x0, dx, _, y0, _, dy = self.fine.transform
        cols = np.concatenate([cpos, probes])
        gx, gy = np.meshgrid(x0 + (cols + 0.5) * dx, y0 + (np.arange(row0, row0 + nrows) + 0.5) * dy)
        tx, ty = self._transform(gx, gy)
        n = cpos.size
        nu, nv = self._uv(tx, ty)
        knots_u, knots_v, probe_u, probe_v = nu[:, :n], nv[:, :n], nu[:, n:], nv[:, n:]
        nxt = np.minimum(ci + 1, n - 1)
        u = knots_u[:, ci] * (1.0 - cw) + knots_u[:, nxt] * cw
        v = knots_v[:, ci] * (1.0 - cw) + knots_v[:, nxt] * cw
        pi = ci[probes]
        pn, pw = nxt[probes], cw[probes]
        with np.errstate(invalid="ignore"):
            err = np.maximum(np.abs(probe_u - (knots_u[:, pi] * (1.0 - pw) + knots_u[:, pn] * pw)),
                             np.abs(probe_v - (knots_v[:, pi] * (1.0 - pw) + knots_v[:, pn] * pw)))
            # per row, in cells; a row with a non-finite node or probe is transformed exactly
            bound = 2.0 * np.max(err, axis=1, initial=0.0) + 1e-9
            bad = ~np.isfinite(bound) | ~np.all(np.isfinite(knots_u) & np.isfinite(knots_v), axis=1)
            near = ((np.abs(u - np.rint(u)) <= bound[:, None]) | (np.abs(v - np.rint(v)) <= bound[:, None])
                    | ~np.isfinite(u) | ~np.isfinite(v) | bad[:, None])
        rr, cc = np.nonzero(near)
        if rr.size:
            ex, ey = self._transform(x0 + (cc + 0.5) * dx, y0 + (row0 + rr + 0.5) * dy)
            u[rr, cc], v[rr, cc] = self._uv(ex, ey)
        return self._cells_uv(u, v), u, v

    def _exact_centers(self, row0: int, nrows: int) -> tuple[np.ndarray, np.ndarray]:
        """Every pixel center of the rows, transformed exactly into the coarse grid's CRS."""
        x, y = self.fine.centers(row0, nrows)
        return (x, y) if self._ct is None else self._transform(x, y)

    def _centers(self, row0: int, nrows: int) -> tuple[np.ndarray, np.ndarray]:
        """The pixel centers of the rows in the coarse grid's CRS: interpolated on the lattice, transformed exactly
        where that could move a pixel to another cell."""
        step = int(self.LATTICE_STEP)
        if self._ct is None:
            return self.fine.centers(row0, nrows)
        interpolated = None if step < 2 or self.fine.width < 4 * step else self._lattice(row0, nrows, step)
        if interpolated is None:
            return self._exact_centers(row0, nrows)
        x, y, bound = interpolated
        cx0, cdx, _, cy0, _, cdy = self.coarse.transform
        with np.errstate(invalid="ignore"):
            u = (x - cx0) / cdx
            v = (y - cy0) / cdy
            near = ((np.abs(u - np.rint(u)) * abs(cdx) <= bound) | (np.abs(v - np.rint(v)) * abs(cdy) <= bound)
                    | ~np.isfinite(u) | ~np.isfinite(v))
        rr, cc = np.nonzero(near)
        if rr.size:
            fx0, fdx, _, fy0, _, fdy = self.fine.transform
            ex, ey = self._transform(fx0 + (cc + 0.5) * fdx, fy0 + (row0 + rr + 0.5) * fdy)
            x[rr, cc] = ex
            y[rr, cc] = ey
        return x, y

    def _lattice(self, row0: int, nrows: int, step: int) -> tuple[np.ndarray, np.ndarray, float] | None:
        """Interpolated transformed centers (nrows, width) and a safe error bound (CRS units), or None
        when the transform is not smooth enough here (non-finite values)."""
        width = self.fine.width
        cpos, ci, cw = _lattice_axis(width, step)
        rpos, ri, rw = _lattice_axis(nrows, step)
        x0, dx, _, y0, _, dy = self.fine.transform
        gx, gy = np.meshgrid(x0 + (cpos + 0.5) * dx, y0 + (row0 + rpos + 0.5) * dy)
        lx, ly = self._transform(gx, gy)
        if not (np.all(np.isfinite(lx)) and np.all(np.isfinite(ly))):
            return None

        def interp(lat: np.ndarray, rows_at: np.ndarray, r_i: np.ndarray, r_w: np.ndarray,
                   cols_at: np.ndarray) -> np.ndarray:
            j, w = ci[cols_at], cw[cols_at]
            a = lat[:, j] * (1.0 - w) + lat[:, np.minimum(j + 1, cpos.size - 1)] * w
            i, t = r_i[rows_at], r_w[rows_at][:, None]
            return a[i] * (1.0 - t) + a[np.minimum(i + 1, rpos.size - 1)] * t

        # Error probes halfway between lattice nodes along rows and along columns: for a smooth map
        # the bilinear error is largest there, and the two directions add up.
        bound = 0.0
        all_cols = np.arange(width)
        all_rows = np.arange(nrows)
        for prow, pcol in ((rpos, (cpos[:-1] + cpos[1:]) // 2), ((rpos[:-1] + rpos[1:]) // 2, cpos)):
            if prow.size == 0 or pcol.size == 0:
                continue
            px, py = self._transform(*np.meshgrid(x0 + (pcol + 0.5) * dx, y0 + (row0 + prow + 0.5) * dy))
            e = np.maximum(np.abs(px - interp(lx, prow, ri, rw, pcol)), np.abs(py - interp(ly, prow, ri, rw, pcol)))
            if not np.all(np.isfinite(e)):
                return None
            bound += float(e.max())
        scale = max(abs(self.coarse.transform[1]), abs(self.coarse.transform[5]))
        bound = 2.0 * bound + 1e-9 * scale
        return interp(lx, all_rows, ri, rw, all_cols), interp(ly, all_rows, ri, rw, all_cols), bound


def _lattice_axis(n: int, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lattice positions (0, step, 2 step, ..., n-1) and, for every position 0..n-1, the index of the
    lattice node at or before it and the interpolation weight of the next node."""
    pos = np.arange(0, n, step)
    if pos[-1] != n - 1:
        pos = np.append(pos, n - 1)
    if pos.size == 1:
        return pos, np.zeros(n, dtype=np.int64), np.zeros(n)
    at = np.arange(n)
    i = np.minimum(at // step, pos.size - 2)
    w = (at - pos[i]) / (pos[i + 1] - pos[i])
    return pos, i, w


#: Sub-pixels per side of a fine pixel for its area shares (:class:`AreaIndex`).
AREA_SUBPIXELS = 4


class AreaIndex:
    """Area shares of fine pixels in coarse cells: each pixel split into ``k x k`` sub-pixels.

    Sub-pixel ``s`` of every pixel lies at the same offset from the pixel's center, so the cells of all pixels'
    sub-pixel ``s`` are a :class:`CellIndex` of the fine grid shifted by that offset (``make`` builds it: a
    caching subclass can be given). A pixel's share in a cell is the number of its sub-pixels there over ``k * k``;
    the shares of a pixel inside the coarse grid sum to 1.

    Parameters
    ----------
    fine, coarse:
        The fine and the coarse grid.
    k:
        Sub-pixels per side (1: the center rule).
    make:
        Builds the cell index of a shifted fine grid (``CellIndex`` or a subclass with its signature).

    Raises
    ------
    ValueError
        ``k`` is below 1.
    """

    def __init__(self, fine: Grid, coarse: Grid, k: int = AREA_SUBPIXELS,
                 make: Callable[[Grid, Grid], CellIndex] = CellIndex) -> None:
        if k < 1:
            raise ValueError(f"sub-pixels per side must be at least 1 (got {k})")
        self.fine = fine
        self.coarse = coarse
        self.k = int(k)
        self.center = make(fine, coarse)
        x0, dx, rx, y0, ry, dy = fine.transform
        self.parts: list[CellIndex] = []
        for a in range(self.k):
            for b in range(self.k):
                ox, oy = (b + 0.5) / self.k - 0.5, (a + 0.5) / self.k - 0.5
                if self.k == 1:
                    self.parts.append(self.center)
                    continue
                shifted = (x0 + ox * dx + oy * rx, dx, rx, y0 + ox * ry + oy * dy, ry, dy)
                self.parts.append(make(Grid(fine.crs_wkt, shifted, fine.width, fine.height), coarse))

    @property
    def share(self) -> float:
        """The area share of one sub-pixel (1 / k**2)."""
        return 1.0 / len(self.parts)

    def rows(self, row0: int, nrows: int) -> np.ndarray:
        """The center rule's cells of rows row0.. (as :meth:`CellIndex.rows`).

        Parameters
        ----------
        row0 : int
            The first fine row.
        nrows : int
            The number of rows.

        Returns
        -------
        numpy.ndarray
            (nrows, width) flat cell holding each pixel's center, -1 outside the coarse grid.
        """
        return self.center.rows(row0, nrows)

    def sub_rows(self, row0: int, nrows: int) -> Iterator[np.ndarray]:
        """For each sub-pixel position, the (nrows, width) flat cells of that sub-pixel of every pixel (-1 outside).

        Parameters
        ----------
        row0 : int
            The first fine row.
        nrows : int
            The number of rows.

        Yields
        ------
        numpy.ndarray
            Per sub-pixel position, (nrows, width) flat cells holding that sub-pixel of every pixel, -1 outside.
        """
        for part in self.parts:
            yield part.rows(row0, nrows)

    def shares(self, row0: int, nrows: int) -> tuple[np.ndarray, np.ndarray]:
        """Each pixel's area shares in the 3 x 3 cells around the cell holding its center.

        Parameters
        ----------
        row0 : int
            The first fine row.
        nrows : int
            The number of rows.

        Returns
        -------
        cells : numpy.ndarray
            (nrows, width) flat cell holding each pixel's center, -1 outside the coarse grid.
        shares : numpy.ndarray
            (9, nrows, width) float64: share of the pixel in cell (row + o // 3 - 1, col + o % 3 - 1); a
            sub-pixel beyond that neighbourhood or outside the grid counts in none (a pixel is smaller than
            a cell, so only at the grid's border do a pixel's shares sum to less than 1).
        """
        cells = self.center.rows(row0, nrows)
        w = self.coarse.width
        crow, ccol = np.divmod(np.where(cells >= 0, cells, 0), max(w, 1))
        npix = cells.size
        pix = np.arange(npix)
        counts = np.zeros(9 * npix, dtype=np.float64)
        for sub in self.sub_rows(row0, nrows):
            srow, scol = np.divmod(np.where(sub >= 0, sub, 0), max(w, 1))
            dy, dx = srow - crow, scol - ccol
            ok = ((sub >= 0) & (cells >= 0) & (np.abs(dy) <= 1) & (np.abs(dx) <= 1)).ravel()
            o = ((dy + 1) * 3 + (dx + 1)).ravel()
            counts += np.bincount(o[ok] * npix + pix[ok], minlength=9 * npix)
        return cells, (counts * self.share).reshape((9,) + cells.shape)


class CoarseMean:
    """Accumulates block by block the mean of valid fine values in each coarse cell.

    ``valid fraction`` of a cell = valid fine pixels / pixels a complete cell holds (the 90th
    percentile of the pixel count over cells, so partly covered edge cells count as partial).
    With an :class:`AreaIndex`, pixels count by their area share in each cell (counts are then areas in
    pixels).
    """

    def __init__(self, index: CellIndex | AreaIndex, nbands: int) -> None:
        self.index = index
        n = index.coarse.size
        area = isinstance(index, AreaIndex)
        self.sums = np.zeros((nbands, n), dtype=np.float64)
        self.valid = np.zeros((nbands, n), dtype=np.float64 if area else np.int64)
        self.total = np.zeros(n, dtype=np.float64 if area else np.int64)

    def add(self, row0: int, block: np.ndarray) -> None:
        """Add a (bands, rows, width) float block with NaN for nodata.

        Parameters
        ----------
        row0 : int
            The block's first fine row.
        block : numpy.ndarray
            (bands, rows, fine width), or (rows, fine width) for one band; NaN for nodata.
        """
        block = block[None] if block.ndim == 2 else block
        if isinstance(self.index, AreaIndex):
            share = self.index.share
            for sub in self.index.sub_rows(row0, block.shape[1]):
                self._add(sub.ravel(), block, share)
            return
        self._add(self.index.rows(row0, block.shape[1]).ravel(), block, None)

    def _add(self, idx: np.ndarray, block: np.ndarray, share: float | None) -> None:
        inside = idx >= 0
        n = self.total.size
        ones = None if share is None else np.full(idx.size, share)
        self.total += np.bincount(idx[inside], weights=None if ones is None else ones[inside], minlength=n)
        for k in range(block.shape[0]):
            v = block[k].ravel()
            ok = inside & np.isfinite(v)
            w = v[ok].astype(np.float64)
            self.sums[k] += np.bincount(idx[ok], weights=w if share is None else w * share, minlength=n)
            self.valid[k] += np.bincount(idx[ok], weights=None if ones is None else ones[ok], minlength=n)

    def full_count(self) -> float:
        """The fine pixel count of a full cell: the 90th percentile of the cells' counts (0 when no cell has a
        pixel), the reference for a cell's valid fraction.

        Returns
        -------
        float
            Fine pixels in a full cell.
        """
        counts = self.total[self.total > 0]
        return float(np.percentile(counts, 90)) if counts.size else 0.0

    def fractions(self) -> np.ndarray:
        """(bands, H, W) valid fraction per cell.

        Returns
        -------
        numpy.ndarray
            float64 array (bands, coarse height, coarse width), each in [0, 1].
        """
        full = max(self.full_count(), 1.0)
        frac = np.minimum(self.valid / full, 1.0)
        return frac.reshape((-1, self.index.coarse.height, self.index.coarse.width))

    def mean(self, min_valid_fraction: float = 0.0) -> np.ndarray:
        """(bands, H, W) float64 means, NaN where the valid fraction is below the threshold or zero.

        Parameters
        ----------
        min_valid_fraction : float
            The least valid fraction (:meth:`fractions`) a cell needs (0: any valid pixel).

        Returns
        -------
        numpy.ndarray
            float64 array (bands, coarse height, coarse width).
        """
        with np.errstate(invalid="ignore", divide="ignore"):
            m = self.sums / self.valid
        m[self.valid == 0] = np.nan
        shape = (-1, self.index.coarse.height, self.index.coarse.width)
        m = m.reshape(shape)
        if min_valid_fraction > 0:
            m[self.fractions() < min_valid_fraction] = np.nan
        return m


def broadcast(index: CellIndex, row0: int, nrows: int, coarse_values: np.ndarray) -> np.ndarray:
    """Coarse values (H, W) spread to the fine pixels of rows row0..; NaN outside the coarse grid.

    Parameters
    ----------
    index : CellIndex
        The fine-to-coarse mapping.
    row0 : int
        The first fine row.
    nrows : int
        The number of rows.
    coarse_values : numpy.ndarray
        (coarse height, coarse width) values.

    Returns
    -------
    numpy.ndarray
        float64 array (nrows, fine width).
    """
    idx = index.rows(row0, nrows)
    flat = np.asarray(coarse_values, dtype=np.float64).ravel()
    out = np.full(idx.shape, np.nan)
    ok = idx >= 0
    out[ok] = flat[idx[ok]]
    return out
