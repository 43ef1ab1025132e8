"""Gap-free prediction: pixels where factors are missing (cloud gaps, swath gaps, water) still get a value.

The model is trained on coarse cells, i.e. on the cell means of every factor (class fractions for a categorical
factor: :mod:`features`). So where a pixel misses a factor, the best value the model knows for it is the mean of
that factor over the observed pixels of the pixel's own coarse cell: the pixel is predicted from its observed
factors plus the cell means of the missing ones, interpolated bilinearly between the cell centers ('bilinear', the
default: no steps at cell edges in filled areas) or taken from its own cell ('cell'). A cell where a factor was
observed nowhere takes the nearest cell's mean. A missing continuous factor then takes its conditional mean given
what the pixel has: its cell mean plus the deviation from it that the pixel's observed factors, their *context*
(each observed continuous factor's mean over the 3 x 3 window around the pixel: less pixel noise such as radar
speckle, and the pattern around it; :func:`local_means`) and its land-cover class predict (a linear regression of
the deviations from the cell means, learnt on the fully observed pixels, per class of the first categorical factor:
:meth:`GapFiller.learn`; on a date missing a factor at every pixel, such as the radar without an overpass, on the
pixels observing every other factor, and where too few pixels have every factor, without the band observed at the
fewest: :meth:`GapFiller.complete`, :meth:`GapFiller.leave_out_sparsest`). On the bench (bench/GAPS.md, one date,
the mean of 4 cloud draws) filled pixels score 1.06-1.42x the ubRMSD of fully observed ones; on one draw the context
brought that down by 0.01-0.06 on the five grassland scenes (1.32 to 1.26 on `default`, 1.31 to 1.26 on `mixed`) and
left the mosaics unchanged (within 0.01). A pixel where no factor at all was observed gets the prediction of the
cell means alone, i.e. the coarse field: after residual correction it carries the cell's SMAP value (smoothly in the
smooth mode). That path is taken only where the cell has a SMAP value (or, without SMAP, never), so the map never
extends beyond the coarse field.

Temporal filling (optional, :class:`TemporalFill`): before any of this, a factor missing at a pixel takes its
value at that pixel on the nearest date within a window of days (the factor stacks of neighbouring dates, bands
matched by name; a tie takes the earlier date; at most :data:`MAX_NEIGHBOUR_DATES` dates), moved to the level of
the date being filled: plus the mean difference between the two dates over the pixels valid on both, per tile of
:data:`LEVEL_TILE` pixels, interpolated bilinearly between the tile centres. The other date brings the pixel's
pattern (greener or cooler than its surroundings), not its weather (a day 10 K warmer); a categorical band (a
class code) is taken as it is. Only dynamic factors (LST, NDVI, SAR) miss in practice; static bands (elevation,
land cover) are the same on every date. Without gap filling, such pixels are flagged :data:`FROM_OTHER_DATE` when
all their factors were then known (a pixel that still misses one stays empty); with it, the neighbouring dates'
values are weighed against the fill above (:meth:`GapFiller.calibrate`) and a pixel where any of them entered with
a weight above 0 is flagged :data:`FROM_OTHER_DATE`, the others as above. A categorical factor is weighed the same
way, as a whole: the neighbour's class (its class bands 0 or 1) against the cells' class fractions, by their
Brier scores on hidden observed classes; class codes are never averaged. A pixel outside the coarse grid has no
cell mean to weigh against: it takes the neighbouring dates' values alone, as without gap filling (downscale
extends a SMAP raster smaller than the stack with cells without a value, :func:`.downscale.cover_stack`, so there
such pixels lie in cells without SMAP). Only the values that entered the map count in the reports: the dates listed
and the pixels per factor are those of values weighed in above 0 (or completing a pixel without a fill).

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
from .errors import Canceled, InputError
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
#: Side (pixels) of the tiles over which temporal filling matches a neighbouring date's level to the stack's.
LEVEL_TILE = 16
#: Temporal filling takes at most this many of the nearest dates within the window (a daily series has up to 2 x
#: window of them; a pixel missing on all of them, e.g. water, would make each one be read in full for its level).
MAX_NEIGHBOUR_DATES = 6  # at most 8: TemporalFill.origin holds one bit per date in a byte
#: Largest temporal filling window (days).
MAX_FILL_WINDOW_DAYS = 366
QUALITY_BAND = "quality"
#: How a missing factor gets its value from the cell means: 'bilinear' interpolates the cell means (knots at
#: the cell centers, as the smooth residual correction), so filled areas have no steps at cell edges;
#: 'cell' takes the pixel's own cell mean (constant per cell).
FILL_METHODS = ("bilinear", "cell")
#: Fully observed pixels :meth:`GapFiller.learn` needs, per factor band, before filling by the conditional mean
#: (fewer: a land-cover class takes all classes' moments; all classes, the cell means alone).
_MIN_LEARN_PER_BAND = 20
#: :meth:`GapFiller.learn` takes every LEARN_STRIDE-th row of the raster, :meth:`GapFiller.calibrate` every
#: LEARN_STRIDE-th row from CALIBRATION_OFFSET (rows the moments did not see), on a raster of up to
#: LEARN_STRIDE x SAMPLE_PIXELS pixels; on a larger one the stride grows by whole multiples of LEARN_STRIDE so each
#: takes about SAMPLE_PIXELS pixels (:func:`sample_stride`): a few hundred thousand pixels pin the moments and the
#: weights down, and every further row sampled costs a read of the stack (and, to calibrate, of its neighbours).
LEARN_STRIDE = 4
CALIBRATION_OFFSET = 2
SAMPLE_PIXELS = 250_000
#: Ridge of the conditional mean's solve, relative to the mean variance of the observed bands.
_RIDGE = 1e-6
#: Rows (and columns) on each side of a pixel in the window of its *context*: the mean of each continuous factor over
#: the observed pixels of the (2 CONTEXT_HALO + 1) x (2 CONTEXT_HALO + 1) window around it
#: (:func:`local_means`). The conditional mean of a missing factor regresses on the context of the factors the pixel
#: has as well as on their own values: a window's mean carries less pixel noise (radar speckle) and the pattern
#: around the pixel. On the bench (bench/GAPS.md) a 3 x 3 window brought the filled pixels' ubRMSD down by about 5 %
#: where radar speckle is strong and left it unchanged elsewhere; 9 x 9 gained less.
CONTEXT_HALO = 1


def sample_stride(height: int, width: int) -> int:
    """The row stride of :meth:`GapFiller.learn` and :meth:`GapFiller.calibrate` on a raster of this size.

    Parameters
    ----------
    height : int
        Rows of the raster.
    width : int
        Columns of the raster.

    Returns
    -------
    int
        :data:`LEARN_STRIDE` up to ``LEARN_STRIDE * SAMPLE_PIXELS`` pixels, else the multiple of it that samples
        about :data:`SAMPLE_PIXELS` pixels.
    """
    return LEARN_STRIDE * max(1, -(-int(height) * int(width) // (LEARN_STRIDE * SAMPLE_PIXELS)))


def local_means(block: np.ndarray, top: int, nrows: int, halo: int = CONTEXT_HALO,
                mask: np.ndarray | None = None) -> np.ndarray:
    """Mean of the finite values in the window around each pixel of some rows of a block (or of some of their pixels).

    Parameters
    ----------
    block : numpy.ndarray
        (bands, rows, cols), NaN for nodata: the rows wanted and up to ``halo`` rows on each side (fewer at the
        raster's edges, where the window holds fewer pixels).
    top : int
        Index in ``block`` of the first row wanted.
    nrows : int
        Number of rows wanted.
    halo : int
        Rows and columns on each side of a pixel in its window.
    mask : numpy.ndarray or None
        (nrows, cols) bool: only these pixels (the same values as without it, at a fraction of the cost where
        they are few, e.g. the pixels missing a factor); None: every pixel of the rows.

    Returns
    -------
    numpy.ndarray
        (bands, nrows, cols) float64, or (bands, n) at the ``mask`` pixels in row-major order; NaN where the
        window holds no finite value.
    """
    cols = block.shape[2]
    if mask is None:
        shape, rows, cc = (nrows, cols), None, None
    else:
        rows, cc = np.nonzero(mask)
        shape = (rows.size,)
    out = np.empty((block.shape[0],) + shape)
    total = np.empty(shape)
    count = np.empty(shape)
    for b in range(block.shape[0]):  # band by band: the temporaries hold one band (a block has dozens)
        ok = np.isfinite(block[b])
        v = np.pad(np.where(ok, block[b], 0.0).astype(np.float64), halo)
        w = np.pad(ok.astype(np.float64), halo)
        total.fill(0.0)
        count.fill(0.0)
        for dy in range(2 * halo + 1):
            for dx in range(2 * halo + 1):
                if rows is None:
                    total += v[top + dy:top + dy + nrows, dx:dx + cols]
                    count += w[top + dy:top + dy + nrows, dx:dx + cols]
                else:
                    total += v[top + dy + rows, dx + cc]
                    count += w[top + dy + rows, dx + cc]
        with np.errstate(invalid="ignore", divide="ignore"):
            np.divide(total, count, out=out[b])
        out[b][count == 0] = np.nan
    return out


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


def _key(pattern: np.ndarray) -> bytes:
    """A hashable key of a (bands,) bool pattern of missing bands."""
    return np.packbits(np.asarray(pattern, bool)).tobytes() + bytes([len(pattern) % 8])


def _mix_weights(cal: np.ndarray) -> np.ndarray:
    """(bands,) from (bands, 4) sums (pixels, fill error², neighbour error², their product): the weight of the
    neighbour minimising the mixed error, in [0, 1]; 0 with fewer than :data:`_MIN_LEARN_PER_BAND` pixels."""
    n, cc, ee, ce = cal.T
    den = cc + ee - 2.0 * ce
    flat = den <= 1e-12 * np.maximum(cc + ee, 1e-300)  # both errors the same (e.g. both 0): half each
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(flat, 0.5, (cc - ce) / np.where(flat, 1.0, den))
    return np.where(n >= _MIN_LEARN_PER_BAND, np.clip(w, 0.0, 1.0), 0.0)


class GapFiller:
    """Fills missing factors of fine pixels with their coarse-cell means (see the module docstring).

    Use: :meth:`observe` every block of pass 1 (the factors as read, in ``specs`` order), :meth:`solve`,
    :meth:`learn` on every block (:attr:`blocks`; without it missing factors take their cell means alone), then
    :meth:`design` for the blocks listed in :attr:`pending`. ``cell_has_sm`` (H, W) says which cells
    have a coarse soil moisture value (coarse-only pixels are allowed only there); None: nowhere.
    """

    def __init__(self, index: CellIndex, specs: Sequence[FactorSpec], cell_has_sm: np.ndarray | None,
                 method: str = "bilinear") -> None:
        self.method = check_method(method)
        self._stencil = _Stencil(index) if self.method == "bilinear" else None
        self.index = index
        #: Row stride of :meth:`learn` and :meth:`calibrate` (:func:`sample_stride`); calibration rows are offset
        #: by half of it from the learning rows.
        self.stride = sample_stride(index.fine.height, index.fine.width)
        self.specs = list(specs)
        self.nfeat = len(feature_names(self.specs))
        nbands = sum(len(s.classes) if s.kind == CATEGORICAL else 1 for s in self.specs)
        self._acc = CoarseMean(index, nbands)
        self.cell_has_sm = None if cell_has_sm is None else np.asarray(cell_has_sm, bool).ravel()
        self.pending: list[tuple[int, int]] = []
        #: Every block observed (:meth:`learn` reads them all, so the result does not depend on the block size).
        self.blocks: list[tuple[int, int]] = []
        self.means: np.ndarray | None = None  # (bands, cells)
        #: Pixels filled per factor name.
        self.filled: dict[str, int] = {s.name: 0 for s in self.specs}
        #: Moments of the deviations from the cell means (:meth:`learn`): pixels, sums (bands,) and sums of
        #: products (bands, bands), of all pixels (key None) and per class index of the first categorical factor.
        self._moments: dict[int | None, tuple[int, Any, Any]] = {}
        #: The regressions :meth:`_conditional` solved from the moments, by stratum and pattern (:meth:`_regression`).
        self._solved: dict[tuple[int | None, bytes, bytes], tuple[np.ndarray, np.ndarray | None]] = {}
        #: Bands missing at some pixel inside the coarse grid (:meth:`observe`).
        self.gap_bands = np.zeros(nbands, bool)
        #: Bands of continuous factors.
        self._cont = self._continuous_bands()
        #: The patterns of missing continuous bands at pixels inside the coarse grid (:meth:`observe`), by key.
        self._patterns: dict[bytes, np.ndarray] = {}
        #: Per pattern of missing bands and band, over the calibration pixels (:meth:`calibrate`): pixels, sum of
        #: squared errors of this fill, of the neighbouring dates' values, and of their product.
        self._cal: dict[bytes, np.ndarray] = {}
        #: The same sums for the class bands of categorical factors (:meth:`calibrate`: the class hidden everywhere;
        #: a class does not depend on which continuous factors miss).
        self._cal_cat = np.zeros((nbands, 4))
        #: Pixels whose missing factors took a neighbouring date's values (with a weight > 0), per factor name.
        self.from_other: dict[str, int] = {}
        #: The neighbouring dates whose values entered some pixel with a weight > 0 (bits of
        #: :attr:`TemporalFill.origin`, given to :meth:`design`).
        self.origin_used = 0
        #: Whether :meth:`learn` was given the pixels' context (:meth:`context`): the moments then cover the bands and
        #: their context (twice the bands), and :meth:`calibrate` and :meth:`design` must be given it too.
        self.with_context: bool | None = None
        #: Set when :meth:`design` will be given the neighbouring dates' values: a block where a pixel outside the
        #: coarse grid misses a factor is then pending too (those values alone can complete it).
        self.outside = False
        #: Bands observed at no pixel of the stack (a date without a radar overpass) whose cell means were taken from
        #: the neighbouring dates' values (:meth:`borrow`, :meth:`solve_borrowed`): their pixels take the neighbour's
        #: value where it has one, else that cell mean.
        self.borrowed = np.zeros(nbands, bool)
        self._borrow_acc: CoarseMean | None = None
        #: The neighbouring dates (bits of :attr:`TemporalFill.origin`) that gave the borrowed cell means.
        self._borrow_origin = 0
        #: Bands observed at no pixel inside the coarse grid (:meth:`solve`, before any borrowing): :meth:`learn` takes
        #: their deviations as 0, so they neither predict nor are predicted (:meth:`complete`).
        self.absent = np.zeros(nbands, bool)

    def learn_rows(self, row0: int, nrows: int) -> range:
        """The rows of a block :meth:`learn` uses: every :attr:`stride`-th row of the raster.

        Parameters
        ----------
        row0 : int
            The block's first row.
        nrows : int
            Its number of rows.

        Returns
        -------
        range
            Raster rows.
        """
        return range(row0 + (-row0) % self.stride, row0 + nrows, self.stride)

    def calibration_rows(self, row0: int, nrows: int) -> range:
        """The rows of a block :meth:`calibrate` uses: every :attr:`stride`-th row of the raster, half a stride
        after the learning rows (:data:`CALIBRATION_OFFSET` at the smallest stride).

        Parameters
        ----------
        row0 : int
            The block's first row.
        nrows : int
            Its number of rows.

        Returns
        -------
        range
            Raster rows.
        """
        offset = CALIBRATION_OFFSET * self.stride // LEARN_STRIDE
        return range(row0 + (offset - row0) % self.stride, row0 + nrows, self.stride)

    def context_rows(self, row0: int, nrows: int) -> tuple[int, int]:
        """The rows to read for the context of a block's pixels (:meth:`context`): the block and
        :data:`CONTEXT_HALO` rows on each side, within the raster.

        Parameters
        ----------
        row0 : int
            The block's first row.
        nrows : int
            Its number of rows.

        Returns
        -------
        tuple of int
            (first row, number of rows) to read.
        """
        first = max(0, row0 - CONTEXT_HALO)
        return first, min(self.index.fine.height, row0 + nrows + CONTEXT_HALO) - first

    def context(self, block: np.ndarray, top: int, nrows: int, mask: np.ndarray | None = None) -> np.ndarray:
        """The context of some rows' pixels: per continuous factor band, its mean over the observed pixels of the
        window around each pixel (:func:`local_means`); NaN for the class bands of categorical factors.

        Parameters
        ----------
        block : numpy.ndarray
            (factors, rows, cols) the factors as read, in ``specs`` order, over the rows :meth:`context_rows`
            gives.
        top : int
            Index in ``block`` of the first row wanted.
        nrows : int
            Number of rows wanted.
        mask : numpy.ndarray or None
            (nrows, cols) bool: only these pixels (:meth:`design` takes the context of the pixels missing a
            factor alone); None: every pixel.

        Returns
        -------
        numpy.ndarray
            (bands, nrows, cols) float64, or (bands, n) at the ``mask`` pixels in row-major order.
        """
        shape = (nrows, block.shape[2]) if mask is None else (int(np.count_nonzero(mask)),)
        out = np.full((self._cont.size,) + shape, np.nan)
        b = 0
        for k, spec in enumerate(self.specs):  # factor by factor, into the output (no second array of all of them)
            if spec.kind == CATEGORICAL:
                b += len(spec.classes)
                continue
            out[b] = local_means(block[k:k + 1], top, nrows, mask=mask)[0]
            b += 1
        return out

    def _with_context(self, bands: np.ndarray, fill: np.ndarray, ctx: np.ndarray | None) -> np.ndarray:
        """(2 bands, n) the deviations of the bands from the fill and below them those of their context (0 for
        class bands, which have none), or the deviations alone without context."""
        d = bands - fill
        if ctx is None:
            return d
        return np.vstack([d, np.where(self._cont[:, None], ctx - fill, 0.0)])

    def _bands(self, block: np.ndarray) -> np.ndarray:
        out = []
        for k, spec in enumerate(self.specs):
            v = block[k]
            if spec.kind == CATEGORICAL:  # a code outside the classes (a neighbour's unseen class): missing
                codes = np.rint(np.where(np.isfinite(v), v, -1)).astype(np.int64)
                ok = np.isfinite(v) & np.isin(codes, np.asarray(spec.classes, dtype=np.int64))
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
        bands = self._bands(block)
        self._acc.add(row0, bands)
        self.blocks.append((row0, block.shape[1]))
        cells = self.index.rows(row0, block.shape[1])
        self.gap_bands |= np.any(~np.isfinite(bands[:, cells >= 0]), axis=1)
        miss = ~np.isfinite(bands[:, cells >= 0]) & self._cont[:, None]
        miss = miss[:, miss.any(axis=0)]
        if miss.size:
            for p in np.unique(miss, axis=1).T:
                self._patterns.setdefault(_key(p), p.copy())
        if np.any(~valid & ((cells >= 0) | self.outside)):
            self.pending.append((row0, block.shape[1]))

    def solve(self) -> None:
        """Cell means of every factor band; cells without any observation take the nearest cell's mean."""
        m = self._acc.mean()
        self.means = np.stack([_nearest_fill(b) for b in m]).reshape(m.shape[0], -1)
        self.absent = ~np.isfinite(self.means).any(axis=1)

    def complete(self, block: np.ndarray) -> np.ndarray:
        """The pixels :meth:`learn` and :meth:`calibrate` learn from: every factor observed but those the stack misses
        at every pixel (:attr:`absent`: a date without a radar overpass). Such a factor comes from the neighbouring
        dates or nowhere; how the other factors deviate from their cell means together is still learnt on that date.

        Parameters
        ----------
        block : numpy.ndarray
            (factors, rows, cols) the factors as read, in ``specs`` order (after :meth:`solve`).

        Returns
        -------
        numpy.ndarray
            (rows, cols) bool.
        """
        assert self.means is not None, "solve() must run first"
        out = np.ones(block.shape[1:], bool)
        b = 0
        for k, spec in enumerate(self.specs):
            span = len(spec.classes) if spec.kind == CATEGORICAL else 1
            if not (span and self.absent[b:b + span].all()):
                out &= np.isfinite(block[k])
            b += span
        return out

    def learnt(self) -> bool:
        """Whether :meth:`learn` saw enough pixels to fill by the conditional mean (else: the cell means alone).

        Returns
        -------
        bool
            True with at least :data:`_MIN_LEARN_PER_BAND` pixels per band.
        """
        return self._moments.get(None, (0,))[0] >= _MIN_LEARN_PER_BAND * self._cont.size

    def leave_out_sparsest(self) -> bool:
        """After :meth:`learn` saw too few pixels (:meth:`learnt`): count the continuous band with gaps observed at the
        fewest pixels as :attr:`absent` too (a radar swath's corner: hardly a pixel has it and every other factor) and
        forget what was learnt, to learn again without it.

        Returns
        -------
        bool
            False when no such band is left.
        """
        candidates = np.flatnonzero(self._cont & self.gap_bands & ~self.absent)
        if not candidates.size:
            return False
        seen = self._acc.valid.sum(axis=1)
        self.absent[candidates[np.argmin(seen[candidates])]] = True
        self._moments.clear()
        self._solved.clear()
        return True

    def empty_bands(self) -> np.ndarray:
        """The factor bands observed at no pixel of the coarse grid (after :meth:`solve`): they have no cell mean.

        Returns
        -------
        numpy.ndarray
            (bands,) bool.
        """
        assert self.means is not None, "solve() must run first"
        return ~np.isfinite(self.means).any(axis=1) & ~self.borrowed

    def borrow(self, row0: int, evidence: np.ndarray, origin: np.ndarray | None = None) -> None:
        """Accumulate the cell means of the :meth:`empty_bands` from the neighbouring dates' values of a block (after
        :meth:`solve`; then :meth:`solve_borrowed`). A date that misses a factor everywhere takes it from its
        neighbour as it is (:class:`TemporalFill`); where the neighbour misses it too (its own swath edge, water),
        the pixel takes the cell mean of the neighbour's values instead of staying empty.

        Parameters
        ----------
        row0 : int
            The block's first fine row.
        evidence : numpy.ndarray
            (factors, rows, fine width) the factors as the neighbouring dates give them
            (:meth:`TemporalFill.evidence`), NaN where they have none.
        origin : numpy.ndarray or None
            (factors, rows, fine width) uint8: which neighbouring dates gave each value (:attr:`TemporalFill.origin`).
        """
        empty = self.empty_bands()
        if self._borrow_acc is None:
            self._borrow_acc = CoarseMean(self.index, len(empty))
        bands = self._bands(evidence)
        bands[~empty] = np.nan
        self._borrow_acc.add(row0, bands)
        if origin is not None:
            b = 0
            for k, spec in enumerate(self.specs):
                span = len(spec.classes) if spec.kind == CATEGORICAL else 1
                took = np.isfinite(evidence[k]) & (origin[k] != 0)
                if empty[b:b + span].any() and took.any():
                    self._borrow_origin |= int(np.bitwise_or.reduce(origin[k][took]))
                b += span

    def solve_borrowed(self) -> None:
        """Cell means of the :meth:`empty_bands` from the values :meth:`borrow` accumulated (cells without any take the
        nearest cell's mean); a band the neighbouring dates do not give either stays without a mean."""
        assert self.means is not None, "solve() must run first"
        if self._borrow_acc is None:
            return
        empty = self.empty_bands()
        m = self._borrow_acc.mean()
        for b in np.flatnonzero(empty):
            filled = _nearest_fill(m[b])
            if np.isfinite(filled).any():
                self.means[b] = filled.ravel()
                self.borrowed[b] = True
        self._borrow_acc = None

    def _fill_values(self, row0: int, nrows: int, sel: np.ndarray) -> np.ndarray:
        """(bands, n) cell means of every factor band at the ``sel`` pixels of the block (interpolated
        bilinearly between the cell centers, or the pixel's own cell's: :attr:`method`)."""
        assert self.means is not None, "solve() must run first"
        cells = self.index.rows(row0, nrows)
        c = np.where(cells >= 0, cells, 0)[sel]
        if self._stencil is None:
            return self.means[:, c]
        w = self.index.coarse.width
        _, pairs = self._stencil.weights(row0, nrows)
        out = np.zeros((self.means.shape[0], c.size))
        for offset, weight in pairs:
            nb = np.clip(c + (offset[sel] // 3 - 1) * w + (offset[sel] % 3 - 1), 0, self.index.coarse.size - 1)
            out += weight[sel] * self.means[:, nb]
        return out

    def _strata(self, bands: np.ndarray) -> np.ndarray:
        """(n,) the class index (0, 1, ...) of each pixel's first categorical factor; -1: none or missing."""
        b = 0
        for spec in self.specs:
            if spec.kind == CATEGORICAL:
                onehot = bands[b:b + len(spec.classes)]
                ok = np.all(np.isfinite(onehot), axis=0) & (np.nan_to_num(onehot).max(axis=0) > 0.5)
                return np.where(ok, np.argmax(np.nan_to_num(onehot), axis=0), -1)
            b += 1
        return np.full(bands.shape[1], -1)

    def learn(self, row0: int, block: np.ndarray, valid: np.ndarray, context: np.ndarray | None = None) -> None:
        """Accumulate, over a block's fully observed pixels inside the coarse grid (:meth:`complete`; on every
        :data:`LEARN_STRIDE`-th row of the raster, the same pixels whatever the block size), how the factor bands
        deviate from their cell means together (after :meth:`solve`, before :meth:`design`), over all pixels and per
        class of the first categorical factor (land cover).

        With these moments a missing factor is filled with its cell mean plus what the pixel's class and
        observed factors say about its deviation from it (the conditional mean): e.g. a pixel greener than its
        cell is likely cooler than the cell's mean LST.

        Parameters
        ----------
        row0 : int
            The block's first row.
        block : numpy.ndarray
            (factors, rows, cols) the factors as read, in ``specs`` order.
        valid : numpy.ndarray
            (rows, cols) the pixels where every factor is known but those :attr:`absent` (:meth:`complete`).
        context : numpy.ndarray or None
            (bands, rows, cols) the pixels' context (:meth:`context`): the missing factors are then also regressed
            on the context of the observed ones. None: on the pixels' own values alone. Every call, and
            :meth:`calibrate` and :meth:`design`, must be given it or not alike.
        """
        if self.with_context is None:
            self.with_context = context is not None
        assert self.with_context == (context is not None), "learn() with and without context"
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        for r in self.learn_rows(row0, block.shape[1]):
            sel = valid[r - row0][None, :] & (self.index.rows(r, 1) >= 0)
            if sel.any():
                bands = self._bands(block[:, r - row0:r - row0 + 1])[:, sel].astype(np.float64)
                ctx = None if context is None else context[:, r - row0][:, sel[0]]
                parts.append((bands, self._with_context(bands, self._fill_values(r, 1, sel), ctx)))
        if not parts:
            return
        bands = np.concatenate([b for b, _ in parts], axis=1)
        d = np.concatenate([z for _, z in parts], axis=1)
        d[np.tile(self.absent, d.shape[0] // self.absent.size)] = 0.0  # (and their context's): no covariance
        ok = np.all(np.isfinite(d), axis=0)
        d, strata = d[:, ok], self._strata(bands[:, ok])
        for key, m in [(None, np.ones(d.shape[1], bool))] + [(int(k), strata == k) for k in np.unique(strata)
                                                             if k >= 0]:
            dk = d[:, m]
            n, s1, s2 = self._moments.get(key, (0, 0.0, 0.0))
            self._moments[key] = (n + dk.shape[1], s1 + dk.sum(axis=1), s2 + dk @ dk.T)
        self._solved.clear()  # the regressions of the previous moments

    def _continuous_bands(self) -> np.ndarray:
        """(bands,) bool: the bands of continuous factors."""
        return np.concatenate([np.full(len(s.classes), False) if s.kind == CATEGORICAL else np.array([True])
                               for s in self.specs]) if self.specs else np.zeros(0, bool)

    def calibrate(self, row0: int, block: np.ndarray, valid: np.ndarray, evidence: np.ndarray,
                  context: np.ndarray | None = None) -> None:
        """Measure, on fully observed pixels, how well this fill and a neighbouring date's values each recover a
        factor, to weigh them where a factor is missing (after :meth:`learn`, before :meth:`design`).

        On every :data:`LEARN_STRIDE`-th row of the raster, offset from the rows :meth:`learn` uses (so the
        moments did not see these pixels), the continuous bands of each pattern of missing bands that occurs
        (:meth:`observe`: LST alone, LST and NDVI together, ...) are hidden and filled by the conditional mean
        given the bands the pattern leaves; next to it, the value the neighbouring dates give (``evidence``,
        :meth:`TemporalFill.evidence`). The errors of both against the observed value, and their product, are
        summed per pattern and band; :meth:`evidence_weights` turns them into the weight that makes the combined
        error smallest (the fill knows more where fewer factors miss).

        Parameters
        ----------
        row0 : int
            The block's first row.
        block : numpy.ndarray
            (factors, rows, cols) the factors as read, in ``specs`` order.
        valid : numpy.ndarray
            (rows, cols) the pixels where every factor is known but those :attr:`absent` (:meth:`complete`).
        evidence : numpy.ndarray
            (factors, rows, cols) the factors from the neighbouring dates, NaN where they have none.
        context : numpy.ndarray or None
            (bands, rows, cols) the pixels' context (:meth:`context`), given when :meth:`learn` had it.
        """
        cat = self.gap_bands & ~self._cont  # class bands of categorical factors that miss somewhere
        if not self._patterns and not cat.any():
            return
        keys = list(self._patterns)
        for r in self.calibration_rows(row0, block.shape[1]):
            sel = valid[r - row0][None, :] & (self.index.rows(r, 1) >= 0)
            if not sel.any():
                continue
            truth = self._bands(block[:, r - row0:r - row0 + 1])[:, sel].astype(np.float64)
            ev = self._bands(evidence[:, r - row0:r - row0 + 1])[:, sel].astype(np.float64)
            fill = self._fill_values(r, 1, sel)
            for b in np.flatnonzero(cat):  # a hidden class: its cell fractions (the fill) or the neighbour's class
                ok = np.isfinite(ev[b]) & np.isfinite(fill[b]) & np.isfinite(truth[b])
                dc, de = truth[b, ok] - fill[b, ok], truth[b, ok] - ev[b, ok]
                self._cal_cat[b] += (ok.sum(), dc @ dc, de @ de, dc @ de)
            if not keys:
                continue
            n = truth.shape[1]
            hidden = np.tile(truth, (1, len(keys)))  # every pattern's copy of the row, side by side
            for i, key in enumerate(keys):
                hidden[self._patterns[key], i * n:(i + 1) * n] = np.nan
            ctx = None if context is None else np.tile(context[:, r - row0][:, sel[0]], (1, len(keys)))
            c_all = self._conditional(hidden, np.tile(fill, (1, len(keys))), ctx)
            for i, key in enumerate(keys):
                c = c_all[:, i * n:(i + 1) * n]
                cal = self._cal.setdefault(key, np.zeros((truth.shape[0], 4)))
                for b in np.flatnonzero(self._patterns[key]):
                    ok = np.isfinite(ev[b]) & np.isfinite(c[b]) & np.isfinite(truth[b])
                    dc, de = truth[b, ok] - c[b, ok], truth[b, ok] - ev[b, ok]
                    cal[b] += (ok.sum(), dc @ dc, de @ de, dc @ de)

    def evidence_weights(self, pattern: np.ndarray | None = None) -> np.ndarray:
        """(bands,) the weight of the neighbouring dates' value in a filled band: w minimising the error of
        ``(1 - w) fill + w neighbour`` on the calibration pixels (:meth:`calibrate`; the errors' correlation
        included), in [0, 1], for the pixels missing the bands ``pattern``; a band with fewer than
        :data:`_MIN_LEARN_PER_BAND` such pixels takes the weight of all patterns together, 0 with fewer than that
        over all patterns. The class bands of a categorical factor share one weight whatever the pattern: that of
        the neighbour's class (0 or 1 per class band) against the fill's class fractions, their squared errors
        summed over the factor's classes (the Brier score).

        Parameters
        ----------
        pattern : numpy.ndarray or None
            (bands,) bool: the bands missing together; None: all patterns together.

        Returns
        -------
        numpy.ndarray
            (bands,) weights.
        """
        nb = len(self._cont)
        pooled = sum(self._cal.values(), np.zeros((nb, 4)))
        w = _mix_weights(pooled)
        if pattern is not None:
            own = self._cal.get(_key(np.asarray(pattern, bool)))
            if own is not None:
                w = np.where(own[:, 0] >= _MIN_LEARN_PER_BAND, _mix_weights(own), w)
        b = 0
        for spec in self.specs:
            if spec.kind == CATEGORICAL and spec.classes:
                span = slice(b, b + len(spec.classes))
                cal = self._cal_cat[span]
                # one pixel per class band: the pixels once, the errors summed over the classes
                summed = np.concatenate([cal[:1, 0], cal[:, 1:].sum(axis=0)])[None]
                w[span] = _mix_weights(summed)[0]
                b += len(spec.classes)
            else:
                b += len(spec.classes) if spec.kind == CATEGORICAL else 1
        return w

    def factor_weights(self) -> dict[str, float]:
        """:meth:`evidence_weights` of the factors that miss somewhere, by factor name (all patterns of missing
        factors together).

        Returns
        -------
        dict[str, float]
            Factor name to weight in [0, 1].
        """
        w = self.evidence_weights()
        out, b = {}, 0
        for spec in self.specs:
            span = len(spec.classes) if spec.kind == CATEGORICAL else 1
            if self.gap_bands[b:b + span].any():
                out[spec.name] = round(float(w[b]), 3)
            b += span
        return out

    def _regression(self, moments: dict[int | None, tuple[int, Any, Any]], stratum: int | None, obs: np.ndarray,
                    target: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The mean deviations and the (ridge) regression of the ``target`` bands' deviations on the ``obs`` bands'
        in a stratum (None: all pixels): solved once per stratum and pattern, then reused (every block and row of
        the filling and calibration passes asks again)."""
        key = (stratum, obs.tobytes(), target.tobytes())
        hit = self._solved.get(key)
        if hit is not None:
            return hit
        n, s1, s2 = moments[stratum]
        mu = s1 / n
        beta = None
        if obs.any():
            cov = s2 / n - np.outer(mu, mu)
            c_oo = cov[np.ix_(obs, obs)]
            ridge = _RIDGE * max(float(np.trace(c_oo)) / c_oo.shape[0], 1e-12)
            beta = np.linalg.solve(c_oo + ridge * np.eye(c_oo.shape[0]), cov[np.ix_(obs, target)])
        self._solved[key] = (mu, beta)
        return mu, beta

    def _conditional(self, bands: np.ndarray, fill: np.ndarray, ctx: np.ndarray | None = None) -> np.ndarray:
        """(bands, n) with the missing continuous bands at their conditional mean given the pixel's class and
        observed bands, and their context ``ctx`` (bands, n) when :meth:`learn` had it (the moments of the
        deviations from the cell means, :meth:`learn`; a class with fewer than :data:`_MIN_LEARN_PER_BAND` pixels
        per band takes all pixels' moments), the others at ``fill`` where missing."""
        if not self.with_context:  # learn() had none (or never ran): the pixels' own values alone
            ctx = None
        assert ctx is not None or not self.with_context, "learn() had the context: give it here too"
        miss = ~np.isfinite(bands)
        out = np.where(miss, fill, bands)
        cont = np.zeros(bands.shape[0], bool)
        b = 0
        for spec in self.specs:
            cont[b] = spec.kind != CATEGORICAL
            b += len(spec.classes) if spec.kind == CATEGORICAL else 1
        moments = {k: v for k, v in self._moments.items() if v[0] >= _MIN_LEARN_PER_BAND * bands.shape[0]}
        if None not in moments or not (miss & cont[:, None]).any():
            return out
        strata = self._strata(bands)
        strata = np.where(np.isin(strata, [k for k in moments if k is not None]), strata, -1)
        span = np.array([len(s.classes) if s.kind == CATEGORICAL else 1 for s in self.specs])  # bands per factor
        first = np.cumsum(span) - span
        # a group per pattern of missing factors (a factor's bands miss together) and stratum: each pixel's
        # missing factors as bits and its stratum + 1 as two bytes, grouped as one byte string per pixel
        nf = len(self.specs)
        packed = np.packbits(miss[first], axis=0)  # (ceil(factors / 8), n)
        st = (strata + 1).astype("<u2").view(np.uint8).reshape(-1, 2).T
        rows = np.ascontiguousarray(np.vstack([packed, st]).T)
        k = rows.shape[1]
        uniq, inverse = np.unique(rows.view(np.dtype((np.void, k))).ravel(), return_inverse=True)
        groups = uniq.view(np.uint8).reshape(-1, k)
        inverse = np.asarray(inverse).ravel()
        for g, key in enumerate(groups):
            factor_miss = np.unpackbits(key[:-2])[:nf].astype(bool)
            group_stratum = int(key[-2:].copy().view("<u2")[0]) - 1
            pattern = np.repeat(factor_miss, span)
            target = pattern & cont
            obs = ~pattern
            if not target.any():
                continue
            cols = np.flatnonzero(inverse == g)
            if ctx is not None:  # the regressors: the observed bands and the context of the continuous ones
                z = self._with_context(bands[:, cols], fill[:, cols], ctx[:, cols])
                obs, target = np.concatenate([obs, obs & cont]), np.concatenate([target, np.zeros_like(target)])
            else:
                z = bands[:, cols] - fill[:, cols]
            mu, beta = self._regression(moments, None if group_stratum < 0 else group_stratum, obs, target)
            shift = np.repeat(mu[target][:, None], cols.size, axis=1)
            if beta is not None:
                shift += beta.T @ (z[obs] - mu[obs][:, None])
            target = target[:bands.shape[0]]
            out[np.ix_(target, cols)] = fill[np.ix_(target, cols)] + shift
        return out

    def design(self, row0: int, block: np.ndarray, valid: np.ndarray, evidence: np.ndarray | None = None,
               origin: np.ndarray | None = None,
               context: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Design matrix of the block's pixels that miss a factor and can be filled.

        A missing factor takes its cell mean (:attr:`method`), a missing continuous one plus the deviation the
        pixel's known factors predict (after :meth:`learn`; see the module docstring). With ``evidence`` (after
        :meth:`calibrate`), a missing band with a neighbouring date's value takes ``(1 - w) fill + w neighbour``,
        ``w`` from :meth:`evidence_weights` for the pixel's pattern of missing bands (a categorical factor: its
        class fractions and the neighbour's class, one weight for its class bands); pixels where such a value
        entered with ``w`` > 0 are coded :data:`FROM_OTHER_DATE`. A pixel without any observed factor in a cell
        without SMAP (no coarse field), and a pixel outside the coarse grid (no cell, so no cell mean: :attr:`outside`
        puts its block in :attr:`pending`), is filled only when the evidence gives every factor it misses, from the
        evidence alone: the values it gets without gap filling.

        Parameters
        ----------
        row0 : int
            The block's first fine row.
        block : numpy.ndarray
            (factors, rows, fine width) factors as read, in ``specs`` order, NaN for nodata.
        valid : numpy.ndarray
            (rows, fine width) bool: pixels with every factor observed.
        evidence : numpy.ndarray or None
            (factors, rows, fine width) the factors from the neighbouring dates (:meth:`TemporalFill.evidence`),
            NaN where they have none; None: none.
        origin : numpy.ndarray or None
            (factors, rows, fine width) uint8: which neighbouring dates gave each factor of ``evidence`` at the
            pixels missing it (:attr:`TemporalFill.origin` after :meth:`TemporalFill.evidence`); the dates of the
            values used are added to :attr:`origin_used`. None: not recorded.
        context : numpy.ndarray or None
            (bands, rows, fine width) the pixels' context (:meth:`context`), or (bands, n) that of the pixels
            missing a factor alone (``~valid``, row-major: :meth:`context` with that mask); given when :meth:`learn`
            had it.

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
        has_sm = (self.cell_has_sm[safe] & inside) if self.cell_has_sm is not None else np.zeros(cells.shape, bool)
        all_bands = self._bands(block)
        ev_bands = self._bands(evidence) if evidence is not None else None
        # a pixel without any factor in a cell without SMAP has no coarse field to fall back on: it is mapped only
        # when the neighbouring dates give every factor it misses, from their values alone (as without gap filling)
        complete = (np.all(np.isfinite(all_bands) | np.isfinite(ev_bands), axis=0) if ev_bands is not None
                    else np.zeros(cells.shape, bool))
        # outside the coarse grid only the evidence can complete a pixel
        sel = ~valid & ((inside & ((n_obs > 0) | has_sm)) | complete)
        bands = all_bands[:, sel].astype(np.float64)
        org = origin[:, sel] if origin is not None else None
        out = self._conditional(bands, self._fill_values(row0, block.shape[1], sel),
                                None if context is None else context[:, sel[~valid]] if context.ndim == 2
                                else context[:, sel])
        used = np.zeros(bands.shape, bool)
        if ev_bands is not None:
            # each pixel's weights: those measured for its own pattern of missing continuous bands
            miss = ~np.isfinite(bands) & self._cont[:, None]
            w = np.zeros(bands.shape)
            w[~self._cont] = self.evidence_weights()[~self._cont][:, None]  # a class: whatever else misses
            if miss.any():
                patterns, inverse = np.unique(miss, axis=1, return_inverse=True)
                inverse = np.asarray(inverse).ravel()
                for g, p in enumerate(patterns.T):
                    w[:, inverse == g] = self.evidence_weights(p)[:, None]
            w[self.borrowed] = 1.0  # a band the date misses everywhere: the neighbour's value wherever it has one
            ev = ev_bands[:, sel].astype(np.float64)
            # the fill is no value there (no coarse field, or no cell at all): the evidence alone for the missing bands
            nofill = ((n_obs[sel] == 0) & ~has_sm[sel]) | ~inside[sel]
            out = np.where(nofill[None, :] & ~np.isfinite(bands), np.nan, out)
            used = ~np.isfinite(bands) & np.isfinite(ev) & ((w > 0) | ~np.isfinite(out))
            mixed = np.where(np.isfinite(out), (1.0 - w) * out + w * ev, ev)
            out = np.where(used, mixed, out)
            # elsewhere such a band took the cell mean of the neighbour's values (:meth:`borrow`): from another date too
            means_of_other = self.borrowed[:, None] & ~np.isfinite(bands) & np.isfinite(out) & ~used
            if means_of_other.any():
                used |= means_of_other
                self.origin_used |= self._borrow_origin
        x = out.T.astype(np.float32)
        ok = np.all(np.isfinite(x), axis=1)  # a factor observed nowhere cannot be filled
        if not ok.all():
            x, used = x[ok], used[:, ok]
            org = org[:, ok] if org is not None else None
            flat = np.flatnonzero(sel.ravel())
            sel = np.zeros(sel.shape, bool)
            sel.ravel()[flat[ok]] = True
        b = 0
        for k, spec in enumerate(self.specs):
            self.filled[spec.name] += int(np.count_nonzero(sel & ~finite[k]))
            span = len(spec.classes) if spec.kind == CATEGORICAL else 1
            took = used[b:b + span].any(axis=0)
            if took.any():
                self.from_other[spec.name] = self.from_other.get(spec.name, 0) + int(np.count_nonzero(took))
                if org is not None:
                    self.origin_used |= int(np.bitwise_or.reduce(org[k][took]))
            b += span
        codes = np.where(used.any(axis=0), FROM_OTHER_DATE,
                         np.where(n_obs[sel] > 0, FILLED, COARSE_ONLY)).astype(np.uint8)
        return np.ascontiguousarray(x), sel, codes


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
    nearest date within the window where that pixel is valid (of two dates equally far, the earlier; of the
    :data:`MAX_NEIGHBOUR_DATES` nearest dates), plus that
    date's level difference to the stack: the mean of (stack - neighbour) over the pixels valid on both, per
    tile of :data:`LEVEL_TILE` x :data:`LEVEL_TILE` pixels, interpolated bilinearly between the tile centres
    (tiles without a common pixel take the nearest tile's); a categorical band of the stack is taken as it is
    (a class code has no level). A neighbour with no pixel valid on both dates in a
    band gives nothing for it, unless the stack misses that band at every pixel (a date without an overpass): then
    the neighbour's values are taken as they are. A neighbour's level in a band is computed the first time that
    band is taken from it (with those of the other bands with gaps, in one read of the stack and of the neighbour;
    per tile one number), so neighbours never consulted cost nothing. Otherwise only the rows of the block are read
    from each neighbour, one band at a time, and only while pixels are
    missing: memory does not depend on the extent or the number of dates. :attr:`mask` is the last block's pixels
    where some factor came from another date and :attr:`origin` which dates gave them; :meth:`credit` counts the
    values that entered the map per factor (:attr:`taken`) and the dates that gave them (:attr:`used`). ``day``:
    the stack's date when its name has none (e.g. the SMAP
    raster's).
    """

    def __init__(self, stack_path: str, grid: raster.Grid, neighbours: Sequence[str], window_days: int,
                 day: dt.date | None = None, is_canceled: Any = None) -> None:
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
        if dated and not nearest_dates(day, dated, self.window):
            shown = ", ".join(sorted(d.isoformat() for d, _ in dated)[:8]) + (", ..." if len(dated) > 8 else "")
            nearest = min(abs((d - day).days) for d, _ in dated)
            raise InputError(f"None of the neighbouring factor stacks lies within the {self.window}-day temporal "
                             f"filling window of {day.isoformat()} (the date of {os.path.basename(stack_path)}): their "
                             f"dates are {shown}, the nearest {nearest} days away. Give stacks of dates within the "
                             "window, widen the window, or set it to 0.")
        for d, p in nearest_dates(day, dated, self.window):
            ds = raster.open_raster(p)
            other = raster.Grid.from_dataset(ds, p)
            if not other.same_as(grid):
                raise InputError(f"The neighbouring factor stack {os.path.basename(p)} is not on the grid of "
                                 f"{os.path.basename(stack_path)}; temporal filling takes values pixel by pixel, so "
                                 "align every date to the same grid (smdownscale:align with the same reference).")
            if len(self.sources) == MAX_NEIGHBOUR_DATES:
                ds = None  # checked, not used: a pixel missing on the nearest dates (water, a long cloudy spell)
                continue   # would otherwise make every date in the window read its bands in full
            names = raster.band_names(ds, p)
            self.sources.append(_Source(d, p, ds, {n: i + 1 for i, n in enumerate(names)}))
        self.grid = grid
        self._stack_path = stack_path
        self._is_canceled = is_canceled
        #: (source index, band name) -> the level of the stack minus the source's per :data:`LEVEL_TILE` tile, or
        #: None (no pixel valid on both); computed when first needed (:meth:`_level`)
        self._levels: dict[tuple[int, str], np.ndarray | None] = {}
        ds = raster.open_raster(stack_path)
        names = raster.band_names(ds, stack_path)
        #: The stack's categorical bands (land cover): taken as they are, a class code has no level.
        self._categorical = {n for n, kind in zip(names, raster.band_kinds(ds)) if kind == "categorical"}
        ds = None
        #: The stack's bands with a missing pixel (:attr:`gappy`): given by :meth:`set_gappy` after a pass that read
        #: the whole stack anyway, else found by one read of the stack when :meth:`evidence` first needs it.
        self._gappy: set[str] | None = None if self.sources else set()
        #: The last block filled: per band, the sources that gave its counted pixels' values (bit k: source k)
        self.origin: np.ndarray | None = None
        #: The last block filled: its counted pixels where some band took a neighbouring date's value.
        self.mask: np.ndarray | None = None
        #: The values used, per name, and the dates that gave them (:meth:`credit`).
        self.taken: dict[str, int] = {}
        self.used: set[dt.date] = set()

    @property
    def gappy(self) -> set[str]:
        """The stack's bands with a missing pixel (only they are given by :meth:`evidence`)."""
        if self._gappy is None:
            self._gappy = self._missing_bands()
        return self._gappy

    def set_gappy(self, names: Sequence[str]) -> None:
        """Say which of the stack's bands miss somewhere, found by a pass over the whole stack (e.g.
        :attr:`.derived.StackReader.missing` over pass 1 of downscale), so that :meth:`evidence` need not read the
        stack once more to find them.

        Parameters
        ----------
        names : Sequence[str]
            The bands with a missing pixel (bands that are never read need not be listed: they are never filled).
        """
        self._gappy = set(names)

    def dates(self, bits: int) -> list[dt.date]:
        """The dates of the sources whose bits are set (as in :attr:`origin`).

        Parameters
        ----------
        bits : int
            Bit k set: source k.

        Returns
        -------
        list[datetime.date]
            Their dates, in order.
        """
        return sorted(src.day for k, src in enumerate(self.sources) if bits >> k & 1)

    def credit(self, names: Sequence[str], origin: np.ndarray, keep: np.ndarray) -> None:
        """Count the values taken from neighbouring dates that were really used: per name, the pixels of ``keep``
        where ``origin`` has a source; :attr:`used` gets those sources' dates.

        Parameters
        ----------
        names : Sequence[str]
            The names of ``origin``'s first axis (factor or band names).
        origin : numpy.ndarray
            (len(names), rows, cols) unsigned: the sources that gave each value (:attr:`origin`, or
            :meth:`.derived.StackReader.combine` of it per factor), 0: none.
        keep : numpy.ndarray
            Bool, (rows, cols) or (len(names), rows, cols): the values that entered the map.
        """
        keep = np.broadcast_to(keep, origin.shape)
        bits = 0
        for k, name in enumerate(names):
            m = keep[k] & (origin[k] != 0)
            if m.any():
                self.taken[name] = self.taken.get(name, 0) + int(np.count_nonzero(m))
                bits |= int(np.bitwise_or.reduce(origin[k][m]))
        self.used.update(self.dates(bits))

    def evidence(self, reader: Any, row0: int, nrows: int, raw: np.ndarray | None = None,
                 everywhere: bool = True) -> np.ndarray:
        """The factors of a block as the neighbouring dates give them (moved to the stack's level), for
        :meth:`GapFiller.design` to weigh against its own fill (:meth:`GapFiller.calibrate`).

        Every pixel of a band that misses somewhere in the stack (:attr:`gappy`) takes the nearest date's value
        where that date has one, NaN elsewhere; bands that miss nowhere keep the stack's own values, so a derived
        factor combines the neighbours' values of its missing inputs with the stack's complete ones (lst_diff from
        a neighbour's lst_day and this date's lst_night). :attr:`origin` (per factor, after the call) and
        :attr:`mask` cover the pixels missing in the stack only; nothing is counted (:meth:`credit` does, for the
        values used). With ``everywhere`` False only the factors missing in the stack are given (the others are
        the stack's own): the same values there, read from fewer dates once those pixels are filled.

        Parameters
        ----------
        reader : StackReader
            The stack's reader (:class:`.derived.StackReader`), without a ``fill`` of its own.
        row0 : int
            The block's first row.
        nrows : int
            Its number of rows.
        raw : numpy.ndarray or None
            The block's raw bands as ``reader.read_raw`` gave them (not changed), so the stack is not read again;
            None: read here.
        everywhere : bool
            True: every pixel of the gappy bands (to compare with observed values, :meth:`GapFiller.calibrate`);
            False: only where a factor misses (:meth:`GapFiller.design` uses nothing else).

        Returns
        -------
        numpy.ndarray
            (factors, rows, cols) as ``reader.read`` returns them.
        """
        if raw is None:
            raw = reader.read_raw(row0, nrows)
        if raw is None:
            self.origin = None
            return reader.derive(raw, nrows)
        names = reader.raw_names
        own = raw.copy()
        missing = ~np.isfinite(own)
        gappy = self.gappy
        blank = np.ones(own.shape, bool)
        if not everywhere:  # a band is the neighbours' where a factor read or derived from it misses
            blank[:] = False
            for inputs in reader.inputs():
                gone = missing[inputs].any(axis=0)
                for b in inputs:
                    blank[b] |= gone
        replaced = np.zeros(own.shape, bool)
        for k, name in enumerate(names):
            if name in gappy:  # the others (e.g. lst_night beside a cloudy lst_day) stay the stack's own
                own[k][blank[k]] = np.nan
                replaced[k] = blank[k]
        # counted: the missing values and, where a factor misses, the observed ones the neighbours replace (their
        # dates enter the map too, e.g. lst_night's beside a missing lst_day in lst_diff)
        self(row0, nrows, names, own, missing | (replaced if not everywhere else False))
        assert self.origin is not None
        self.origin = reader.combine(self.origin)
        return reader.derive(own, nrows)

    def __call__(self, row0: int, nrows: int, names: Sequence[str], raw: np.ndarray,
                 counted: np.ndarray | None = None) -> None:
        """Fill the missing values of ``raw`` ((bands, rows, cols), the bands ``names``) in place; ``counted``:
        the pixels :attr:`origin` and :attr:`mask` cover (default: the missing ones)."""
        mask = np.zeros(raw.shape[1:], dtype=bool)
        origin = np.zeros(raw.shape, dtype=np.uint8)
        for k, name in enumerate(names):
            miss = ~np.isfinite(raw[k])
            count = miss.copy() if counted is None else counted[k]
            for k_src, src in enumerate(self.sources):
                if not miss.any():
                    break
                level = self._level(k_src, src, name)
                if level is None:
                    continue
                v = raster.read_block(src.ds, row0, nrows, [src.bands[name]], np.float64, sources=[src.path])[0]
                if name not in self._categorical:
                    v = v + self._surface(level, row0, nrows)
                take = miss & np.isfinite(v)
                if take.any():
                    raw[k][take] = v[take]
                    miss &= ~take
                    mine = take & count
                    if mine.any():
                        mask |= mine
                        origin[k][mine] = 1 << k_src
        self.origin = origin
        self.mask = mask

    def _missing_bands(self) -> set[str]:
        """The stack's bands with a missing pixel (one read of the stack)."""
        ds = raster.open_raster(self._stack_path)
        try:
            names = raster.band_names(ds, self._stack_path)
            missing = np.zeros(len(names), bool)
            for row0 in range(0, self.grid.height, LEVEL_TILE * 8):
                if self._is_canceled is not None and self._is_canceled():
                    raise Canceled()
                nrows = min(LEVEL_TILE * 8, self.grid.height - row0)
                own = raster.read_block(ds, row0, nrows, None, np.float64, sources=[self._stack_path])
                missing |= ~np.all(np.isfinite(own), axis=(1, 2))
        finally:
            ds = None
        return {n for n, m in zip(names, missing) if m}

    def _level(self, k: int, src: _Source, name: str) -> np.ndarray | None:
        """The mean of (stack - source ``k``) in band ``name`` over the pixels valid in both, per tile of
        :data:`LEVEL_TILE` x :data:`LEVEL_TILE` pixels (tiles without such pixels take the nearest tile's); None for
        a band the source lacks or valid on no common pixel (not filled), 0 for a band the stack misses at every
        pixel (a date without an overpass: the neighbour's values as they are, the residual correction then sets
        each cell's level). Computed on first use, with those of the
        stack's other bands with gaps (:attr:`gappy`, when known) in the same read of the stack and of the source,
        so dates never consulted cost nothing."""
        key = (k, name)
        if key in self._levels:
            return self._levels[key]
        band = src.bands.get(name)
        if band is None:
            self._levels[key] = None
            return None
        if name in self._categorical:  # a class is taken as it is: no level to compute
            self._levels[key] = np.zeros((1, 1))
            return self._levels[key]
        # every band with gaps that this source can give is levelled in the same pass (one read of the stack and of
        # the source, however many bands: a pixel-interleaved file decodes all its bands' tiles at each read)
        names = [name] + sorted(n for n in (self._gappy or ()) if n != name and n in src.bands
                                and n not in self._categorical and (k, n) not in self._levels)
        h, w = self.grid.height, self.grid.width
        th, tw = -(-h // LEVEL_TILE), -(-w // LEVEL_TILE)
        sums, counts = np.zeros((len(names), th * tw)), np.zeros((len(names), th * tw))
        own_valid = np.zeros(len(names))
        ds = raster.open_raster(self._stack_path)
        try:
            own_names = raster.band_names(ds, self._stack_path)
            names = [n for n in names if n in own_names]
            own_bands = [own_names.index(n) + 1 for n in names]
            src_bands = [src.bands[n] for n in names]
            for row0 in range(0, h, LEVEL_TILE * 8):
                if self._is_canceled is not None and self._is_canceled():
                    raise Canceled()
                nrows = min(LEVEL_TILE * 8, h - row0)
                own = raster.read_block(ds, row0, nrows, own_bands, np.float64, sources=[self._stack_path])
                v = raster.read_block(src.ds, row0, nrows, src_bands, np.float64, sources=[src.path])
                tile = (np.arange(row0, row0 + nrows) // LEVEL_TILE)[:, None] * tw + np.arange(w)[None, :] // LEVEL_TILE
                for b in range(len(names)):
                    own_valid[b] += np.count_nonzero(np.isfinite(own[b]))
                    d = own[b] - v[b]
                    ok = np.isfinite(d)
                    sums[b] += np.bincount(tile[ok], d[ok], th * tw)
                    counts[b] += np.bincount(tile[ok], None, th * tw)
        finally:
            ds = None
        self._levels[key] = None  # the band is not in the stack
        for b, n in enumerate(names):
            level = None
            if (counts[b] > 0).any():
                level = _nearest_fill(np.where(counts[b] > 0, sums[b] / np.maximum(counts[b], 1),
                                               np.nan).reshape(th, tw))
            elif own_valid[b] == 0:  # the band is missing at every pixel of the date (no overpass): no level can
                level = np.zeros((1, 1))  # be measured, the neighbour's values are taken as they are
            self._levels[(k, n)] = level
        return self._levels[key]

    def _surface(self, level: np.ndarray, row0: int, nrows: int) -> np.ndarray:
        """(nrows, width) the tile levels interpolated bilinearly between the tile centres."""
        from scipy import ndimage

        r = (np.arange(row0, row0 + nrows) + 0.5) / LEVEL_TILE - 0.5
        c = (np.arange(self.grid.width) + 0.5) / LEVEL_TILE - 0.5
        rr, cc = np.meshgrid(r, c, indexing="ij")
        return ndimage.map_coordinates(level, [rr, cc], order=1, mode="nearest")

    def flush(self) -> None:
        """Drop the neighbours' cached blocks (called where the stack's own cache is flushed)."""
        for src in self.sources:
            src.ds.FlushCache()

    def close(self) -> None:
        """Close the neighbouring stacks."""
        for src in self.sources:
            src.ds = None
        self.sources = []
