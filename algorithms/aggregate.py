"""Fine-to-coarse aggregation and coarse-to-fine broadcasting between non-aligned grids.

A fine pixel belongs to the coarse cell that contains its center (after transforming the center
into the coarse grid's CRS). This one definition is used everywhere: the coarse mean of a fine
field is the mean of its valid pixels assigned to the cell, and residual correction adds each
cell's residual to exactly those pixels, so mass is conserved by construction.
"""

from __future__ import annotations

import numpy as np
from osgeo import osr

from .raster import Grid


class CellIndex:
    """Maps fine pixels to flat coarse cell indices (-1 outside the coarse grid)."""

    def __init__(self, fine: Grid, coarse: Grid) -> None:
        self.fine = fine
        self.coarse = coarse
        same = fine.srs.IsSame(coarse.srs)
        self._ct = None if same else osr.CoordinateTransformation(fine.srs, coarse.srs)

    def rows(self, row0: int, nrows: int) -> np.ndarray:
        """Flat coarse cell index for each fine pixel in rows row0..row0+nrows-1, shape (nrows, width)."""
        x, y = self.fine.centers(row0, nrows)
        if self._ct is not None:
            pts = np.column_stack([x.ravel(), y.ravel()])
            out = np.asarray(self._ct.TransformPoints(pts), dtype=np.float64)
            x = out[:, 0].reshape(x.shape)
            y = out[:, 1].reshape(y.shape)
        cx0, cdx, _, cy0, _, cdy = self.coarse.transform
        with np.errstate(invalid="ignore"):
            col = np.floor((x - cx0) / cdx)
            row = np.floor((y - cy0) / cdy)
        ok = (col >= 0) & (col < self.coarse.width) & (row >= 0) & (row < self.coarse.height) & np.isfinite(col)
        idx = np.full(x.shape, -1, dtype=np.int64)
        idx[ok] = row[ok].astype(np.int64) * self.coarse.width + col[ok].astype(np.int64)
        return idx


class CoarseMean:
    """Accumulates block by block the mean of valid fine values in each coarse cell.

    ``valid fraction`` of a cell = valid fine pixels / pixels a complete cell holds (the 90th
    percentile of the pixel count over cells, so partly covered edge cells count as partial).
    """

    def __init__(self, index: CellIndex, nbands: int) -> None:
        self.index = index
        n = index.coarse.size
        self.sums = np.zeros((nbands, n), dtype=np.float64)
        self.valid = np.zeros((nbands, n), dtype=np.int64)
        self.total = np.zeros(n, dtype=np.int64)

    def add(self, row0: int, block: np.ndarray) -> None:
        """Add a (bands, rows, width) float block with NaN for nodata."""
        block = block[None] if block.ndim == 2 else block
        idx = self.index.rows(row0, block.shape[1]).ravel()
        inside = idx >= 0
        n = self.total.size
        self.total += np.bincount(idx[inside], minlength=n)
        for k in range(block.shape[0]):
            v = block[k].ravel()
            ok = inside & np.isfinite(v)
            self.sums[k] += np.bincount(idx[ok], weights=v[ok].astype(np.float64), minlength=n)
            self.valid[k] += np.bincount(idx[ok], minlength=n)

    def full_count(self) -> float:
        counts = self.total[self.total > 0]
        return float(np.percentile(counts, 90)) if counts.size else 0.0

    def fractions(self) -> np.ndarray:
        """(bands, H, W) valid fraction per cell."""
        full = max(self.full_count(), 1.0)
        frac = np.minimum(self.valid / full, 1.0)
        return frac.reshape((-1, self.index.coarse.height, self.index.coarse.width))

    def mean(self, min_valid_fraction: float = 0.0) -> np.ndarray:
        """(bands, H, W) float64 means, NaN where the valid fraction is below the threshold or zero."""
        with np.errstate(invalid="ignore", divide="ignore"):
            m = self.sums / self.valid
        m[self.valid == 0] = np.nan
        shape = (-1, self.index.coarse.height, self.index.coarse.width)
        m = m.reshape(shape)
        if min_valid_fraction > 0:
            m[self.fractions() < min_valid_fraction] = np.nan
        return m


def broadcast(index: CellIndex, row0: int, nrows: int, coarse_values: np.ndarray) -> np.ndarray:
    """Coarse values (H, W) spread to the fine pixels of rows row0..; NaN outside the coarse grid."""
    idx = index.rows(row0, nrows)
    flat = np.asarray(coarse_values, dtype=np.float64).ravel()
    out = np.full(idx.shape, np.nan)
    ok = idx >= 0
    out[ok] = flat[idx[ok]]
    return out
