"""Derived factors: computed from the bands of a 1 km factor stack when their inputs are present.

``lst_diff``
    lst_day - lst_night (K): the diurnal temperature range, a proxy of thermal inertia (wetter soil
    warms less by day). Needs bands ``lst_day`` and ``lst_night``.
``tvdi``
    Temperature-Vegetation Dryness Index (Sandholt et al. 2002) from the NDVI-LST space of the stack:
    TVDI = (Ts - Ts_min) / (a + b NDVI - Ts_min), clipped to [0, 1]. The dry edge Ts_max = a + b NDVI is
    a least-squares line through the 99th percentile of LST in NDVI bins; the wet edge Ts_min is the mean
    of the 1st percentiles. The edges are fitted on the stack's own 1 km pixels (one fit per stack, i.e.
    per date), so 0 is the wettest and 1 the driest surface of that scene. Needs ``ndvi`` and ``lst_day``.
``api``
    Antecedent precipitation index (Kohler and Linsley 1951): sum over d of k^d P_d with a daily decay
    k = 0.85, over a series of daily precipitation bands named ``precipitation_lag<d>`` (d = days before
    the date, 0 = the date itself). Needs at least two such bands (a series).

Derived factors are always computed at 1 km and then treated like any other band: training
aggregates them to the SMAP grid with the same cell means (so both scales use one definition), and
downscaling recomputes them from the stack it is given. A stack band with the same name wins (a
factor fetched ready-made, e.g. ``lst_diff`` from Earth Engine, is used as it is).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import numpy as np
from osgeo import gdal

from . import options, raster
from .errors import InputError
from .raster import IsCanceled, never_canceled

#: The derived factors' keys, in canonical order, and what each is (from the option registry).
DERIVED_FACTORS = options.DERIVED_FACTORS.keys
DERIVED_LABELS = options.DERIVED_FACTORS.labels
#: The bands each derived factor is computed from (``api``: a series of ``precipitation_lag<d>`` bands).
INPUTS = {"lst_diff": ("lst_day", "lst_night"), "tvdi": ("ndvi", "lst_day")}
API_DECAY = 0.85
API_BAND = re.compile(r"^precipitation_lag(\d+)$")
#: Dry-edge fit: NDVI bins between the 2nd and 98th percentile, percentiles of LST per bin.
TVDI_BINS = 20
TVDI_DRY_PERCENTILE = 99.0
TVDI_WET_PERCENTILE = 1.0
TVDI_MIN_PER_BIN = 20
#: At most this many pixels are kept for the fit (a regular subsample of larger stacks).
TVDI_MAX_FIT_PIXELS = 2_000_000


def check_names(names: Sequence[str] | None) -> list[str]:
    """Requested derived factors, validated and in canonical order (unknown names are an error).

    Parameters
    ----------
    names : Sequence[str] or None
        Factor names, any case; empty names are ignored (None: none).

    Returns
    -------
    list of str
        The lowercase keys, without duplicates, in :data:`DERIVED_FACTORS` order.

    Raises
    ------
    InputError
        A name is not one of :data:`DERIVED_FACTORS`.
    """
    out = []
    for n in names or []:
        key = str(n).strip().lower()
        if not key:
            continue
        if key not in DERIVED_FACTORS:
            raise InputError(f"Unknown derived factor '{n}'; choose among {', '.join(DERIVED_FACTORS)}.")
        out.append(key)
    return [d for d in DERIVED_FACTORS if d in out]


def api_series(bands: Sequence[str]) -> list[tuple[int, str]]:
    """(lag in days, band name) of the ``precipitation_lag<d>`` bands, by lag.

    Parameters
    ----------
    bands : Sequence[str]
        Band names.

    Returns
    -------
    list of tuple
        (lag in days, band name) per precipitation band, by increasing lag.
    """
    found = []
    for b in bands:
        m = API_BAND.match(b)
        if m:
            found.append((int(m.group(1)), b))
    return sorted(found)


def inputs_of(name: str, bands: Sequence[str]) -> list[str] | None:
    """The stack bands a derived factor is computed from, or None when they are not all present.

    Parameters
    ----------
    name : str
        A derived factor key.
    bands : Sequence[str]
        The stack's band names.

    Returns
    -------
    list of str or None
        The input bands as the stack names them (matched regardless of capitals, an exact name first), or None.
    """
    if name == "api":
        series = api_series(bands)
        return [b for _, b in series] if len(series) >= 2 else None
    # a band named with other capitals ('NDVI' from NDVI_20230605.tif, 'LST_Day') is the same input
    lower: dict[str, str] = {}
    for b in bands:
        lower.setdefault(b.lower(), b)
    found = [n if n in bands else lower.get(n) for n in INPUTS[name]]
    return [b for b in found if b is not None] if all(b is not None for b in found) else None


def missing_inputs_text(name: str) -> str:
    """What the derived factor ``name`` needs, as the end of a sentence ('needs the bands ...').

    Parameters
    ----------
    name : str
        A derived factor key.

    Returns
    -------
    str
        The phrase, e.g. 'needs the bands lst_day and lst_night'.
    """
    if name == "api":
        return "needs at least two daily precipitation bands named precipitation_lag<d>"
    return f"needs the bands {' and '.join(INPUTS[name])}"


@dataclass
class DryEdge:
    """Dry edge Ts_max = a + b NDVI and wet edge Ts_min of an NDVI-LST scatter."""

    a: float
    b: float
    t_min: float
    ndvi_lo: float
    ndvi_hi: float
    bins_used: int
    pixels: int

    def to_dict(self) -> dict[str, Any]:
        """The edges as JSON types (floats rounded to 6 decimals), for the model's metadata.

        Returns
        -------
        dict[str, Any]
            The fields by name.
        """
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def fit_dry_edge(ndvi: np.ndarray, lst: np.ndarray, n_bins: int = TVDI_BINS) -> DryEdge:
    """Fit the dry and wet edges of the NDVI-LST space (pixels where both are finite).

    Parameters
    ----------
    ndvi, lst : numpy.ndarray
        NDVI and LST (K) of the same pixels, any shape.
    n_bins : int
        NDVI bins between its 2nd and 98th percentiles.

    Returns
    -------
    DryEdge
        The dry edge's intercept and slope, the wet edge, the NDVI range, bins used and pixels fitted.

    Raises
    ------
    InputError
        Too few pixels, a constant NDVI, or too few NDVI intervals with enough pixels to fit the edges.
    """
    ndvi = np.asarray(ndvi, dtype=np.float64).ravel()
    lst = np.asarray(lst, dtype=np.float64).ravel()
    ok = np.isfinite(ndvi) & np.isfinite(lst)
    ndvi, lst = ndvi[ok], lst[ok]
    if ndvi.size < TVDI_MIN_PER_BIN * 3:
        raise InputError(f"TVDI needs NDVI and LST on at least {TVDI_MIN_PER_BIN * 3} pixels to fit the dry edge "
                         f"(found {ndvi.size}); give a larger stack or leave TVDI out.")
    lo, hi = np.percentile(ndvi, [2.0, 98.0])
    if not hi > lo:
        raise InputError("TVDI cannot be computed: NDVI is constant over the stack, so the NDVI-LST space has no "
                         "dry edge; leave TVDI out.")
    edges = np.linspace(lo, hi, n_bins + 1)
    which = np.clip(np.searchsorted(edges, ndvi, side="right") - 1, 0, n_bins - 1)
    inside = (ndvi >= lo) & (ndvi <= hi)
    xs, dry, wet = [], [], []
    for k in range(n_bins):
        sel = inside & (which == k)
        if int(sel.sum()) < TVDI_MIN_PER_BIN:
            continue
        xs.append(0.5 * (edges[k] + edges[k + 1]))
        dry.append(float(np.percentile(lst[sel], TVDI_DRY_PERCENTILE)))
        wet.append(float(np.percentile(lst[sel], TVDI_WET_PERCENTILE)))
    if len(xs) < 3:
        raise InputError("TVDI cannot be computed: too few NDVI intervals hold enough pixels to fit the dry edge; "
                         "give a larger stack or leave TVDI out.")
    b, a = np.polyfit(np.asarray(xs), np.asarray(dry), 1)
    return DryEdge(float(a), float(b), float(np.mean(wet)), float(lo), float(hi), len(xs), int(ndvi.size))


def tvdi(ndvi: np.ndarray, lst: np.ndarray, edge: DryEdge) -> np.ndarray:
    """TVDI in [0, 1] (NaN where NDVI or LST is NaN).

    Parameters
    ----------
    ndvi, lst : numpy.ndarray
        NDVI and LST of the same shape.
    edge : DryEdge
        The fitted edges.

    Returns
    -------
    numpy.ndarray
        float64 TVDI of the same shape, 0 wet to 1 dry.
    """
    ndvi = np.asarray(ndvi, dtype=np.float64)
    lst = np.asarray(lst, dtype=np.float64)
    span = np.maximum(edge.a + edge.b * ndvi - edge.t_min, 0.1)  # dry edge at least 0.1 K above the wet edge
    with np.errstate(invalid="ignore"):
        return np.clip((lst - edge.t_min) / span, 0.0, 1.0)


def api(series: Sequence[tuple[int, np.ndarray]], decay: float = API_DECAY) -> np.ndarray:
    """Antecedent precipitation index sum(decay^d P_d) of (lag days, precipitation) pairs.

    Parameters
    ----------
    series : Sequence[tuple[int, numpy.ndarray]]
        (lag in days, daily precipitation in mm) pairs, arrays of one shape.
    decay : float
        The daily decay k.

    Returns
    -------
    numpy.ndarray
        float64 index of the arrays' shape, in mm (NaN where any day is NaN).

    Raises
    ------
    InputError
        ``series`` is empty.
    """
    out = None
    for lag, values in series:
        term = (decay ** lag) * np.asarray(values, dtype=np.float64)
        out = term if out is None else out + term
    if out is None:
        raise InputError("The antecedent precipitation index needs a series of precipitation bands.")
    return out


class StackReader:
    """Reads named factors of a factor stack block by block; derived factors are computed on the fly.

    ``names`` are stack bands or derived factor names (computed when not a band and their inputs are
    present; otherwise the missing band is reported as by :func:`.raster.select_bands`).
    """

    def __init__(self, ds: gdal.Dataset, names: Sequence[str], path: str = "",
                 is_canceled: IsCanceled = never_canceled) -> None:
        self.ds = ds
        self.path = path or ds.GetDescription()
        self.names = list(names)
        bands = raster.band_names(ds, self.path)
        all_kinds = raster.band_kinds(ds)
        self.derived: dict[str, list[str]] = {}
        direct = []
        for n in self.names:
            if n in bands or n not in DERIVED_FACTORS:
                direct.append(n)
                continue
            need = inputs_of(n, bands)
            if need is None:
                label = os.path.basename(self.path) or "The factor stack"
                raise InputError(f"The derived factor {n} cannot be computed from {label}: it "
                                 f"{missing_inputs_text(n)}; its bands are {', '.join(bands)}. Add those bands "
                                 "(smdownscale:align) or leave the factor out.")
            self.derived[n] = need
        # every band read: the direct factors and the inputs of derived ones, each once
        wanted = list(dict.fromkeys(direct + [b for need in self.derived.values() for b in need]))
        self._bands = raster.select_bands(ds, wanted) if wanted else []
        self._pos = {n: k for k, n in enumerate(wanted)}
        self._wanted = wanted
        #: Optional ``fill(row0, nrows, band_names, raw)`` changing each block of raw bands in place before derived
        #: factors are computed (temporal filling: :class:`.gapfill.TemporalFill`).
        self.fill: Callable[[int, int, list[str], np.ndarray], None] | None = None
        #: Optional (len(raw_names),) bool: set it to zeros and every :meth:`read_raw` marks the bands it found missing
        #: at some pixel (before :attr:`fill`), so one pass over the stack tells which bands have gaps.
        self.missing: np.ndarray | None = None
        #: Optional class codes per categorical band name (a model's classes): every :meth:`read_raw` reads a code
        #: outside them as missing, before :attr:`missing` and again after :attr:`fill` (a neighbouring date's copy).
        self.classes: dict[str, Sequence[int]] = {}
        self.kinds = ["continuous" if n in self.derived else
                      ("categorical" if all_kinds[bands.index(n)] == "categorical" else "continuous")
                      for n in self.names]
        self.dry_edge: DryEdge | None = None
        if "tvdi" in self.derived:
            self.dry_edge = self._fit_tvdi(is_canceled)

    def _fit_tvdi(self, is_canceled: IsCanceled) -> DryEdge:
        idx = [self._bands[self._pos[b]] for b in self.derived["tvdi"]]  # ndvi, lst_day as the stack names them
        width, height = self.ds.RasterXSize, self.ds.RasterYSize
        stride = max(1, int(math.ceil(width * height / TVDI_MAX_FIT_PIXELS)))
        parts_n, parts_t = [], []
        seen = 0
        for row0, nrows in raster.iter_blocks(height, raster.block_rows_for(width, 2), is_canceled=is_canceled):
            block = raster.read_block(self.ds, row0, nrows, idx).reshape(2, -1)
            take = (np.arange(seen, seen + block.shape[1]) % stride) == 0
            seen += block.shape[1]
            parts_n.append(block[0, take])
            parts_t.append(block[1, take])
        return fit_dry_edge(np.concatenate(parts_n), np.concatenate(parts_t))

    @property
    def raw_names(self) -> list[str]:
        """The stack bands read (the direct factors and the inputs of derived ones, each once), in the order of
        :meth:`read_raw`'s array.

        Returns
        -------
        list of str
            Band names.
        """
        return list(self._wanted)

    def read(self, row0: int, nrows: int, dtype: type = np.float32) -> np.ndarray:
        """(factors, rows, cols) array of the named factors in order, NaN for nodata.

        Parameters
        ----------
        row0 : int
            The first row.
        nrows : int
            The number of rows.
        dtype : type
            The array's numpy type.

        Returns
        -------
        numpy.ndarray
            Shape (len(names), nrows, width), NaN for nodata.
        """
        return self.derive(self.read_raw(row0, nrows, dtype), nrows, dtype)

    def read_raw(self, row0: int, nrows: int, dtype: type = np.float32) -> np.ndarray | None:
        """The stack bands of a block as read (:attr:`raw_names`), changed by :attr:`fill` when set; with
        :attr:`missing` set, the bands found missing at some pixel (before :attr:`fill`) are added to it.

        Parameters
        ----------
        row0 : int
            The first row.
        nrows : int
            The number of rows.
        dtype : type
            The array's numpy type.

        Returns
        -------
        numpy.ndarray or None
            (len(raw_names), nrows, width), NaN for nodata; None when no band is read.
        """
        raw = raster.read_block(self.ds, row0, nrows, self._bands, dtype) if self._bands else None
        self._unseen_as_missing(raw)
        if raw is not None and self.missing is not None:
            self.missing |= np.isnan(raw).any(axis=(1, 2))
        if raw is not None and self.fill is not None:
            self.fill(row0, nrows, self._wanted, raw)
            self._unseen_as_missing(raw)
        return raw

    def _unseen_as_missing(self, raw: np.ndarray | None) -> None:
        """Set the codes of categorical bands outside :attr:`classes` to NaN, in place."""
        for name, classes in self.classes.items():
            k = self._pos.get(name)
            if raw is None or k is None:
                continue
            band = raw[k]
            ok = np.isfinite(band)
            band[ok & ~np.isin(np.rint(np.where(ok, band, 0)), np.asarray(classes, dtype=np.float64))] = np.nan

    def derive(self, raw: np.ndarray | None, nrows: int, dtype: type = np.float32) -> np.ndarray:
        """The named factors of a block from its raw bands (:meth:`read_raw`): the direct ones copied, the derived
        ones computed.

        Parameters
        ----------
        raw : numpy.ndarray or None
            (len(raw_names), nrows, width) as :meth:`read_raw` returns it (None: no band is read).
        nrows : int
            The number of rows.
        dtype : type
            The array's numpy type.

        Returns
        -------
        numpy.ndarray
            Shape (len(names), nrows, width), NaN for nodata.
        """
        out = np.empty((len(self.names), nrows, self.ds.RasterXSize), dtype=dtype)
        for k, n in enumerate(self.names):
            if n not in self.derived:
                assert raw is not None
                out[k] = raw[self._pos[n]]
                continue
            need = [raw[self._pos[b]] for b in self.derived[n]]  # type: ignore[index]
            if n == "lst_diff":
                out[k] = need[0] - need[1]
            elif n == "tvdi":
                assert self.dry_edge is not None
                out[k] = tvdi(need[0], need[1], self.dry_edge)
            else:
                out[k] = api([(int(API_BAND.match(b).group(1)), v)  # type: ignore[union-attr]
                              for b, v in zip(self.derived[n], need)])
        return out

    def combine(self, raw_bits: np.ndarray) -> np.ndarray:
        """Per factor, the bitwise OR of an integer array given per raw band over the bands it is read or derived
        from (e.g. which neighbouring dates gave a factor's inputs).

        Parameters
        ----------
        raw_bits : numpy.ndarray
            (len(raw_names), rows, cols) unsigned integers.

        Returns
        -------
        numpy.ndarray
            (len(names), rows, cols) of the same type.
        """
        out = np.zeros((len(self.names),) + raw_bits.shape[1:], dtype=raw_bits.dtype)
        for k, inputs in enumerate(self.inputs()):
            for b in inputs:
                out[k] |= raw_bits[b]
        return out

    def inputs(self) -> list[list[int]]:
        """Per factor, the positions in :attr:`raw_names` of the bands it is read (one) or derived from.

        Returns
        -------
        list of list of int
            One list per name of :attr:`names`.
        """
        return [[self._pos[b] for b in self.derived.get(n, [n])] for n in self.names]

    def info(self) -> dict[str, Any]:
        """What was derived, from which bands (and the TVDI edges): JSON types.

        Returns
        -------
        dict[str, Any]
            Derived factor -> {'inputs': bands, plus 'dry_edge' for tvdi and 'decay' for api}.
        """
        out: dict[str, Any] = {}
        for n, need in self.derived.items():
            item: dict[str, Any] = {"inputs": list(need)}
            if n == "tvdi" and self.dry_edge is not None:
                item["dry_edge"] = self.dry_edge.to_dict()
            if n == "api":
                item["decay"] = API_DECAY
            out[n] = item
        return out


def resolve(requested: Sequence[str] | None, bands: Sequence[str], names: Sequence[str]) -> tuple[list[str],
                                                                                                  dict[str, str]]:
    """Derived factors to add to ``names`` (requested, not already a band or listed, inputs present) and
    the requested ones skipped, with why.

    Parameters
    ----------
    requested : Sequence[str] or None
        Derived factors asked for (validated by :func:`check_names`).
    bands : Sequence[str]
        The stack's band names.
    names : Sequence[str]
        The factors already chosen.

    Returns
    -------
    tuple
        (derived factors to add, in canonical order; {skipped factor: why, as :func:`missing_inputs_text`}).
    """
    add, skipped = [], {}
    for d in check_names(requested):
        if d in names:
            continue
        if d in bands:  # a ready-made band of that name is used as it is
            add.append(d)
            continue
        if inputs_of(d, bands) is None:
            skipped[d] = missing_inputs_text(d)
            continue
        add.append(d)
    return add, skipped

