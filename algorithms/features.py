"""Factors and design matrices: factor specs, fine-scale designs and coarse training pairs.

A factor is a band of a factor stack, named by its band description. Continuous factors are used
as they are; a categorical factor (land cover, ``SMD_KIND=categorical``) becomes one feature per
class, ``name=cls``: the class fraction at the coarse scale and 0/1 at the fine scale, so a model
trained on coarse cells applies unchanged to fine pixels.

Coarse pairs: for every date, the fine factor stack is aggregated onto that date's SMAP grid with
:class:`aggregate.CellIndex` / :class:`aggregate.CoarseMean` (the same definition downscale uses for
residual correction) and paired with the SMAP value of each cell.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np
from osgeo import gdal

from . import derived as derived_mod
from . import raster
from .aggregate import AREA_SUBPIXELS, AreaIndex, CellIndex, CoarseMean
from .dates import pair_by_date
from .derived import StackReader
from .errors import Canceled, InputError
from .raster import Grid, IsCanceled, Progress, never_canceled, no_progress
from .units import (
    AS_IS,
    SAMPLE_PIXELS,
    LstUnits,
    SmReading,
    check_index_factor,
    check_lst_fill,
    is_index,
    is_lst,
    read_soil_moisture,
)

CONTINUOUS = "continuous"
CATEGORICAL = "categorical"
#: Fewest coarse samples a model is trained or screened on (and at least 5 per feature).
MIN_SAMPLES = 30
SAMPLES_PER_FEATURE = 5
#: Cell indices of fine blocks are cached up to this many bytes per call (grids repeat across dates).
_INDEX_CACHE_BYTES = 256 * 2**20
#: Coarse pairs weight each fine pixel by its area share in the cells it straddles (``aggregate.AreaIndex``)
#: instead of assigning it to the cell holding its center.
AREA_WEIGHTED_PAIRS = False


@dataclass
class FactorSpec:
    """One factor: its name (band description), kind, and classes (categorical only)."""

    name: str
    kind: str = CONTINUOUS
    classes: list[int] = field(default_factory=list)

    def feature_names(self) -> list[str]:
        """The model features of this factor: its name, or ``name=class`` per class of a categorical factor.

        Returns
        -------
        list of str
            The feature names, in class order.
        """
        if self.kind == CATEGORICAL:
            return [f"{self.name}={c}" for c in self.classes]
        return [self.name]

    def to_dict(self) -> dict[str, Any]:
        """The spec as JSON types, for the model's metadata.

        Returns
        -------
        dict[str, Any]
            'name', 'kind' and 'classes' (ints).
        """
        return {"name": self.name, "kind": self.kind, "classes": [int(c) for c in self.classes]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FactorSpec:
        """A spec from :meth:`to_dict`'s form (kind defaults to continuous).

        Parameters
        ----------
        d : dict[str, Any]
            'name', optional 'kind' and 'classes'.

        Returns
        -------
        FactorSpec
            The spec.
        """
        return cls(str(d["name"]), str(d.get("kind", CONTINUOUS)), [int(c) for c in d.get("classes", [])])


@dataclass
class Pairs:
    """Coarse training samples pooled over dates.

    ``X`` (n, features) float64 and ``y`` (n,) soil moisture; ``dates`` is the date label and ``cells``
    the flat cell index (in that date's SMAP grid) of each sample; ``grid`` is the first SMAP grid.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    specs: list[FactorSpec]
    dates: np.ndarray
    cells: np.ndarray
    date_labels: list[str]
    grid: Grid
    sm_paths: list[str] = field(default_factory=list)
    stack_paths: list[str] = field(default_factory=list)
    #: Derived factors computed from the stacks: name -> {inputs, per-date details}; and those requested
    #: but skipped (name -> why).
    derived: dict[str, Any] = field(default_factory=dict)
    derived_skipped: dict[str, str] = field(default_factory=dict)
    #: 'coarse' (factors aggregated to the SMAP grid) or 'paper' (1 km pixels, SMAP resampled bilinearly).
    mode: str = "coarse"
    #: The factor stacks' resolution (:func:`.raster.resolution_record`; for stacks on the SMAP grid, that of the fine
    #: stack align averaged them from), or None when unknown.
    fine_resolution: dict[str, Any] | None = None
    #: Dates left out because their stack misses a factor at every pixel (LST all under cloud, no radar overpass):
    #: date label -> those factors.
    dates_left_out: dict[str, list[str]] = field(default_factory=dict)


def feature_names(specs: Sequence[FactorSpec]) -> list[str]:
    """Model input columns in order: ``name`` for continuous factors, ``name=cls`` per class otherwise.

    Parameters
    ----------
    specs : Sequence[FactorSpec]
        The factors, in stack order.

    Returns
    -------
    list of str
        The model's feature names, in column order.
    """
    out: list[str] = []
    for s in specs:
        out.extend(s.feature_names())
    return out


def min_samples(n_features: int) -> int:
    """The fewest training samples accepted for ``n_features`` features (at least :data:`MIN_SAMPLES`,
    :data:`SAMPLES_PER_FEATURE` per feature).

    Parameters
    ----------
    n_features : int
        The number of model features.

    Returns
    -------
    int
        The minimum number of samples.
    """
    return max(MIN_SAMPLES, SAMPLES_PER_FEATURE * n_features)


def _classes_of(values: np.ndarray) -> np.ndarray:
    """Integer class codes of categorical values (finite values only)."""
    return np.rint(values).astype(np.int64)


def fine_design(block: np.ndarray, specs: Sequence[FactorSpec]) -> tuple[np.ndarray, np.ndarray]:
    """Design matrix of fine pixels.

    ``block`` is (factors, rows, cols) float with NaN nodata, bands in ``specs`` order. Returns
    ``X`` float32 (n_valid, n_features) and the valid mask (rows, cols): a pixel is valid when all its
    factors are finite. Categorical factors become 0/1 per class of ``spec.classes`` (an unseen class
    gives all zeros).

    Parameters
    ----------
    block : numpy.ndarray
        (factors, rows, cols) or (rows, cols) float values, NaN for nodata.
    specs : Sequence[FactorSpec]
        One spec per band.

    Returns
    -------
    tuple of numpy.ndarray
        (X float32 of shape (valid pixels, features), valid mask bool of shape (rows, cols)).

    Raises
    ------
    ValueError
        ``block`` does not hold one band per spec (a programming error).
    """
    block = np.asarray(block)
    if block.ndim == 2:
        block = block[None]
    if block.shape[0] != len(specs):
        raise ValueError(f"block has {block.shape[0]} factors, specs {len(specs)}")
    valid = np.all(np.isfinite(block), axis=0)
    n = int(valid.sum())
    xs = np.empty((n, len(feature_names(specs))), dtype=np.float32)
    j = 0
    for k, spec in enumerate(specs):
        v = block[k][valid]
        if spec.kind == CATEGORICAL:
            codes = _classes_of(v)
            for c in spec.classes:
                xs[:, j] = codes == c
                j += 1
        else:
            xs[:, j] = v
            j += 1
    return xs, valid


class _CachedCellIndex(CellIndex):
    """CellIndex remembering the cell index of each fine block (same blocks are read for every date)."""

    def __init__(self, fine: Grid, coarse: Grid, max_bytes: int = _INDEX_CACHE_BYTES) -> None:
        super().__init__(fine, coarse)
        self._cache: dict[tuple[int, int], np.ndarray] = {}
        self._bytes = 0
        self._max = max_bytes

    def rows(self, row0: int, nrows: int) -> np.ndarray:
        key = (row0, nrows)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        idx = super().rows(row0, nrows)
        if self.coarse.size < 2**31:
            idx = idx.astype(np.int32)
        if self._bytes + idx.nbytes <= self._max:
            idx.setflags(write=False)
            self._cache[key] = idx
            self._bytes += idx.nbytes
        return idx


def _area_part(fine: Grid, coarse: Grid) -> CellIndex:
    """Cached cell index of one sub-pixel position of an area index (the positions share the cache budget)."""
    return _CachedCellIndex(fine, coarse, _INDEX_CACHE_BYTES // (AREA_SUBPIXELS ** 2 + 1))


@dataclass
class _DateSample:
    label: str
    cells: np.ndarray  # flat coarse cells kept
    y: np.ndarray
    cont: dict[str, np.ndarray]  # continuous factor -> values at kept cells
    frac: dict[str, dict[int, np.ndarray]]  # categorical factor -> class -> fraction at kept cells


def _grid_key(g: Grid) -> tuple:
    return (g.crs_wkt, tuple(round(v, 9) for v in g.transform), g.width, g.height)


def _aggregate_date(reader: StackReader, fine: Grid, kinds: list[str], index: CellIndex | AreaIndex,
                    min_valid_fraction: float, progress: Progress, is_canceled: IsCanceled, start: float,
                    end: float, temps: Sequence[int] = (),
                    ) -> tuple[np.ndarray, list[dict[int, np.ndarray] | None], np.ndarray, np.ndarray,
                               dict[int, np.ndarray]]:
    """Coarse means (factors, cells), class fractions per categorical factor, the kept-cell mask, the share of
    the stack's pixels where each factor is observed (factors,) followed by the share where all are (for messages),
    and, for the factors at ``temps``, a sample of their pixels as read (about :data:`.units.SAMPLE_PIXELS`)."""
    n = index.coarse.size
    nf = len(reader.names)
    acc = CoarseMean(index, nf)
    counts: list[dict[int, np.ndarray] | None] = [{} if k == CATEGORICAL else None for k in kinds]
    observed = np.zeros(nf + 1)
    every = max(1, fine.size // SAMPLE_PIXELS)
    parts: dict[int, list[np.ndarray]] = {k: [] for k in temps}
    rows = raster.block_rows_for(fine.width, nf + len(reader.derived))
    for row0, nrows in raster.iter_blocks(fine.height, rows, progress, is_canceled, start, end):
        block = reader.read(row0, nrows)
        for k, part in parts.items():
            part.append(block[k].ravel()[::every].copy())
        finite = np.isfinite(block)
        bad = ~np.all(finite, axis=0)
        observed += np.append(finite.sum(axis=(1, 2)), np.count_nonzero(~bad))
        block[:, bad] = np.nan  # a fine pixel counts only when all its factors are valid
        acc.add(row0, block)
        if any(c is not None for c in counts):
            if isinstance(index, AreaIndex):
                subs, share = list(index.sub_rows(row0, nrows)), index.share
            else:
                subs, share = [index.rows(row0, nrows)], None
            for sub in subs:
                idx = sub.ravel()
                ok = (idx >= 0) & ~bad.ravel()
                for k, cnt in enumerate(counts):
                    if cnt is None:
                        continue
                    codes = _classes_of(block[k].ravel()[ok])
                    cells = idx[ok]
                    for c in np.unique(codes):
                        sel = cells[codes == c]
                        add = np.bincount(sel, weights=None if share is None else np.full(sel.size, share),
                                          minlength=n)
                        cnt[int(c)] = cnt[int(c)] + add if int(c) in cnt else add
    means = acc.mean(min_valid_fraction).reshape(nf, -1)
    keep = np.all(np.isfinite(means), axis=0)
    valid = acc.valid[0].astype(np.float64)
    fracs: list[dict[int, np.ndarray] | None] = []
    for cnt in counts:
        if cnt is None:
            fracs.append(None)
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            fracs.append({c: np.where(valid > 0, a / np.maximum(valid, 1), np.nan) for c, a in cnt.items()})
    return means, fracs, keep, observed / max(fine.size, 1), {k: np.concatenate(p) for k, p in parts.items()}


def _percent(share: float) -> str:
    """A share as a percentage for messages: whole percents, one decimal below 10 % (never 0 for a non-zero share)."""
    pct = 100.0 * float(share)
    return f"{pct:.0f}" if pct >= 10 else f"{max(pct, 0.1):.1f}"


def _factor_names(factors: Sequence[str] | None) -> list[str] | None:
    if factors is None:
        return None
    names = list(dict.fromkeys(f.strip() for f in factors if f and f.strip()))
    return names or None


def _names_for(st_ds: gdal.Dataset, stack_path: str, factors: list[str] | None,
               derived: Sequence[str] | None) -> tuple[list[str], dict[str, str]]:
    """Factor names for a stack: the given ones (None: all bands) plus requested derived factors."""
    bands = raster.band_names(st_ds, stack_path)
    names = list(factors) if factors is not None else list(bands)
    if factors is not None:
        _check_chosen(names, bands, stack_path)
    add, skipped = derived_mod.resolve(derived, bands, names)
    return names + add, skipped


def _check_chosen(names: list[str], bands: list[str], stack_path: str) -> None:
    """Refuse chosen factor names that are not bands of the stack (a typo, another case), naming the likely band."""
    missing = [n for n in names if n not in bands and n not in derived_mod.DERIVED_FACTORS]
    if not missing:
        return
    lowered = {b.lower(): b for b in bands}
    guesses = [lowered.get(n.lower()) or next(iter(difflib.get_close_matches(n, bands, 1, 0.6)), None)
               for n in missing]
    hint = ", ".join(f"{g} for {n}" for n, g in zip(missing, guesses) if g)
    hint = f"; did you mean {hint}?" if hint else ""
    raise InputError(f"The factor(s) {', '.join(missing)} chosen to train on are not bands of the factor stack "
                     f"{os.path.basename(stack_path)} (its bands: {', '.join(bands)}{hint}). Write each factor as its "
                     "band name, exactly as screen's 'Selected factors' lists them, or leave the choice empty to use "
                     "every band.")


def _reader(st_ds: gdal.Dataset, stack_path: str, names: list[str], is_canceled: IsCanceled,
            first: tuple[str, list[str]] | None = None) -> StackReader:
    """The reader of one date's stack; ``first`` (the first date's stack path and band names) names a factor
    that this stack lacks as a difference between the dates' stacks, not as a factor of some model."""
    if first is not None:
        bands = raster.band_names(st_ds, stack_path)
        missing = [n for n in names if n in first[1] and n not in bands]
        if missing:
            raise InputError(
                f"The factor stacks of the dates do not hold the same factors: {os.path.basename(stack_path)} lacks "
                f"{', '.join(missing)}, which {os.path.basename(first[0])} holds; its bands are {', '.join(bands)}. "
                "Build every date's stack from the same factors with smdownscale:align, which names a band after "
                "its file without the date, so the files of one factor must differ only by their dates "
                "(or give the bands the same descriptions).")
    return StackReader(st_ds, names, stack_path, is_canceled)


def _every_date_left_out(left_out: dict[str, list[str]]) -> InputError:
    """The error for pairs where every date's stack misses a factor at every pixel (date label -> those factors)."""
    each = "; ".join(f"{label}: {', '.join(absent)}" for label, absent in left_out.items())
    return InputError(f"Every date's factor stack misses a factor at every pixel ({each}: all under cloud, or "
                      "without a radar overpass), so no date pairs soil moisture with every factor. Add dates whose "
                      "stacks observe every factor, or leave the missing factor out (smdownscale:screen).")


def _check_kinds(names: list[str], kinds: list[str] | None, these: list[str], stack_path: str) -> list[str]:
    if kinds is None or these == kinds:
        return these
    diff = [n for n, a, b in zip(names, kinds, these) if a != b]
    raise InputError(f"The factor(s) {', '.join(diff)} are categorical in some factor stacks and continuous "
                     f"in others ({os.path.basename(stack_path)}); mark land cover bands SMD_KIND=categorical "
                     "in every stack (rebuild them with smdownscale:align).")


def _merge_derived(info: dict[str, Any], label: str, reader: StackReader) -> None:
    for n, item in reader.info().items():
        entry = info.setdefault(n, {"inputs": item["inputs"], "label": derived_mod.DERIVED_LABELS[n]})
        extra = {k: v for k, v in item.items() if k != "inputs"}
        if extra:
            entry.setdefault("per_date", {})[label] = extra


#: A factor stack whose pixels are at least this share of the SMAP cells' side (9 or fewer pixels per cell) is coarse
#: itself: a model trained on it records no resolution to be applied at (:func:`_stack_resolution`).
COARSE_STACK_SHARE = 1.0 / 3.0


@raster.gdal_exceptions()
def _stack_resolution(ds: gdal.Dataset, fine: Grid, coarse: Grid) -> dict[str, Any] | None:
    """The resolution the stack's model is to be applied at: the stack's own, or, for a stack on the SMAP grid, that of
    the fine stack align averaged it from (None when it does not say, or when the stack's pixels are nearly as large
    as the SMAP cells, :data:`COARSE_STACK_SHARE`: the cell means it trains on say nothing of a finer resolution)."""
    if not coarse.same_as(fine):
        record = raster.resolution_record(fine)
        return None if record["side"] >= COARSE_STACK_SHARE * coarse.ground_side() else record
    text = ds.GetMetadataItem(raster.FINE_RESOLUTION_KEY)
    try:
        record = json.loads(text) if text else None
        return record if record and float(record["x"]) > 0 and len(record["metres"]) == 2 else None
    except (ValueError, TypeError, KeyError):
        return None


def coarse_pairs(sm_paths: Sequence[str], stack_paths: Sequence[str], factors: Sequence[str] | None = None,
                 min_valid_fraction: float = 0.5, progress: Progress = no_progress,
                 is_canceled: IsCanceled = never_canceled, derived: Sequence[str] | None = None,
                 sm_reading: SmReading = AS_IS, area_weighted: bool | None = None) -> Pairs:
    """Coarse samples pairing SMAP soil moisture with the factors aggregated onto its grid, pooled over dates.

    Files are paired by the date in their names. ``factors`` picks bands by name (None: all bands of
    the first stack); a name that is not a band but a derived factor (:mod:`derived`) is computed from
    the stack. ``derived`` adds derived factors whose inputs the stacks hold (others are listed in
    ``Pairs.derived_skipped``). A cell is kept when SMAP is valid and the fraction of its fine pixels
    with all factors valid is at least ``min_valid_fraction``; continuous factors are averaged (derived
    ones computed at 1 km first), categorical factors become class fractions over the union of classes
    seen on all dates. SMAP is read with ``sm_reading`` (nodata value, scale to m3/m3) and checked
    (:mod:`units`), as are NDVI-like factors (within -1..1). A date whose stack misses a factor at every pixel (LST
    all under cloud, no radar overpass) is left out (``Pairs.dates_left_out``).

    Parameters
    ----------
    sm_paths, stack_paths
        SMAP rasters and factor stacks, paired by the date in their names.
    factors
        Bands or derived factors to use (None: all bands of the first stack).
    min_valid_fraction
        Least share of a cell's fine pixels with all factors valid.
    progress, is_canceled
        Progress fraction and cancel check (:mod:`.raster` defaults).
    derived
        Derived factors to add where the stacks hold their inputs.
    sm_reading
        How to read SMAP (:class:`.units.SmReading`).
    area_weighted
        Where the grids are not aligned, weight each fine pixel by its area share in each cell
        (:class:`.aggregate.AreaIndex`) instead of assigning it to the cell holding its center; None:
        :data:`AREA_WEIGHTED_PAIRS`.

    Returns
    -------
    Pairs
        One sample per kept cell and date: the design matrix, soil moisture, cells and dates, with the factor
        specs, the grid and the files used.

    Raises
    ------
    InputError
        The valid fraction is outside 0..1, files do not pair by date, a SMAP raster does not overlap its
        stack or holds only nodata, a stack has no valid pixel, every date misses a factor everywhere, or too few
        samples remain.
    Canceled
        ``is_canceled()`` became true.
    """
    if not 0.0 <= min_valid_fraction <= 1.0:
        raise InputError(f"The minimum valid fraction must be between 0 and 1 (got {min_valid_fraction}).")
    derived = derived_mod.check_names(derived)
    pairs = pair_by_date(list(sm_paths), list(stack_paths), "soil moisture", "factor stack")
    given = _factor_names(factors)
    names: list[str] | None = None
    skipped: dict[str, str] = {}
    derived_info: dict[str, Any] = {}
    kinds: list[str] | None = None
    index_cache: dict[tuple, CellIndex | AreaIndex] = {}
    samples: list[_DateSample] = []
    first_grid: Grid | None = None
    first: tuple[str, list[str]] | None = None  # the first date's stack and its bands
    lst_units = LstUnits()
    resolution: dict[str, Any] | None = None
    left_out: dict[str, list[str]] = {}
    ndates = len(pairs)
    for i, (label, sm_path, stack_path) in enumerate(pairs):
        if is_canceled():
            raise Canceled()
        start, end = i / ndates, (i + 1) / ndates
        sm_ds = raster.open_raster(sm_path)
        coarse = raster.coarse_grid(sm_ds, sm_path)
        first_grid = first_grid or coarse
        st_ds = raster.open_raster(stack_path)
        fine = raster.stack_grid(st_ds, stack_path)
        if names is None:
            names, skipped = _names_for(st_ds, stack_path, given, derived)
            first = (stack_path, raster.band_names(st_ds, stack_path))
            resolution = _stack_resolution(st_ds, fine, coarse)
        reader = _reader(st_ds, stack_path, names, is_canceled, first)
        _merge_derived(derived_info, label, reader)
        these = [CATEGORICAL if k == CATEGORICAL else CONTINUOUS for k in reader.kinds]
        kinds = _check_kinds(names, kinds, these, stack_path)
        if not coarse.overlaps(fine):
            raise InputError(f"The soil moisture raster {os.path.basename(sm_path)} and the factor stack "
                             f"{os.path.basename(stack_path)} do not overlap; give rasters of the same area.")
        sm = read_soil_moisture(sm_ds, sm_path, sm_reading).ravel()
        if not np.isfinite(sm).any():
            raise InputError(f"The soil moisture raster {os.path.basename(sm_path)} holds only nodata; "
                             "check the file or remove this date.")
        # temperatures are checked for a fill stored as a value (0 K, a stored product's 0) on the pixels as read: in
        # the coarse cells' means such zeros vanish into lower temperatures (:func:`.units.check_lst_fill`)
        temps = [k for k, n in enumerate(names) if kinds[k] != CATEGORICAL and n not in reader.derived and is_lst(n)]
        if coarse.same_as(fine):
            data = reader.read(0, fine.height, np.float64).reshape(len(names), -1)
            progress(end)
            pixels = {k: data[k] for k in temps}
            ok = np.all(np.isfinite(data), axis=0)
            means = np.where(ok, data, np.nan)
            fracs: list[dict[int, np.ndarray] | None] = []
            for k, kind in enumerate(kinds):
                if kind != CATEGORICAL:
                    fracs.append(None)
                    continue
                codes = np.where(ok, np.rint(data[k]), np.nan)
                fracs.append({int(c): (codes == c).astype(np.float64) for c in np.unique(codes[ok])})
            keep = ok
            shares = np.append(np.isfinite(data).mean(axis=1), ok.mean())
        else:
            key = (_grid_key(fine), _grid_key(coarse))
            index = index_cache.get(key)
            if index is None:
                area = AREA_WEIGHTED_PAIRS if area_weighted is None else area_weighted
                index = index_cache[key] = AreaIndex(fine, coarse, make=_area_part) if area \
                    else _CachedCellIndex(fine, coarse)
            means, fracs, keep, shares, pixels = _aggregate_date(reader, fine, kinds, index, min_valid_fraction,
                                                                 progress, is_canceled, start, end, temps)
        for k, values in pixels.items():
            check_lst_fill(names[k], values, stack_path)
        for k, n in enumerate(names):
            if kinds[k] != CATEGORICAL and is_index(n):
                check_index_factor(n, means[k], stack_path)
            if kinds[k] != CATEGORICAL:
                lst_units.check(n, means[k], stack_path)
        absent = [n for k, n in enumerate(names) if shares[k] == 0]
        if not keep.any() and absent and len(absent) < len(names):  # LST all under cloud, no radar overpass
            left_out[label] = absent
            continue
        if not keep.any() and shares[-1] > 0:  # valid pixels, but no cell holds enough of them (a cloudy date)
            each = ", ".join(f"{n} {_percent(shares[k])} %" for k, n in enumerate(names))
            raise InputError(f"No soil moisture cell of {os.path.basename(sm_path)} has at least "
                             f"{_percent(min_valid_fraction)} % of its pixels valid in every factor of "
                             f"{os.path.basename(stack_path)} (the minimum valid fraction): all factors are valid at "
                             f"only {_percent(shares[-1])} % of its pixels (each factor: {each}). Leave this date out "
                             "of training (e.g. a cloudy day), or lower the minimum valid fraction.")
        if not keep.any():
            raise InputError(f"The factor stack {os.path.basename(stack_path)} has no valid pixels with all factors "
                             f"({', '.join(names)}) inside the soil moisture cells of {os.path.basename(sm_path)}; "
                             "check its nodata or lower the minimum valid fraction.")
        keep &= np.isfinite(sm)
        cells = np.flatnonzero(keep)
        cont = {n: means[k][cells] for k, n in enumerate(names) if kinds[k] != CATEGORICAL}
        frac = {n: {c: a[cells] for c, a in fracs[k].items()} for k, n in enumerate(names)
                if kinds[k] == CATEGORICAL and fracs[k] is not None}
        samples.append(_DateSample(label, cells, sm[cells], cont, frac))
    assert names is not None and kinds is not None and first_grid is not None
    if not samples:
        raise _every_date_left_out(left_out)
    specs = []
    for n, kind in zip(names, kinds):
        if kind == CATEGORICAL:
            classes = sorted({c for s in samples for c in s.frac[n]})
            specs.append(FactorSpec(n, CATEGORICAL, classes))
        else:
            specs.append(FactorSpec(n, CONTINUOUS, []))
    fnames = feature_names(specs)
    nsamp = sum(s.cells.size for s in samples)
    need = min_samples(len(fnames))
    if nsamp < need:
        raise InputError(f"Only {nsamp} valid coarse cells pair soil moisture with all factors; at least {need} are "
                         "needed: add dates, enlarge the area, or lower the minimum valid fraction.")
    xs = np.empty((nsamp, len(fnames)), dtype=np.float64)
    y = np.empty(nsamp, dtype=np.float64)
    dates = np.empty(nsamp, dtype=object)
    cells_all = np.empty(nsamp, dtype=np.int64)
    r0 = 0
    for s in samples:
        r1 = r0 + s.cells.size
        j = 0
        for spec in specs:
            if spec.kind == CATEGORICAL:
                for c in spec.classes:
                    xs[r0:r1, j] = s.frac[spec.name].get(c, 0.0)
                    j += 1
            else:
                xs[r0:r1, j] = s.cont[spec.name]
                j += 1
        y[r0:r1] = s.y
        dates[r0:r1] = s.label
        cells_all[r0:r1] = s.cells
        r0 = r1
    progress(1.0)
    return Pairs(xs, y, fnames, specs, dates.astype(str), cells_all, [s.label for s in samples], first_grid,
                 [p[1] for p in pairs], [p[2] for p in pairs], derived_info, skipped, "coarse", resolution, left_out)


def drop_constant_factors(pairs: Pairs) -> tuple[Pairs, list[str]]:
    """The pairs without the factors that are constant over every sample, and the names of those factors.

    A factor with a single value at the coarse scale carries no information for the model, and where it
    varies at the fine scale it would only move predictions arbitrarily (e.g. through the SVR kernel).
    Raises InputError when every factor is constant.

    Parameters
    ----------
    pairs : Pairs
        The coarse training samples.

    Returns
    -------
    tuple
        (the pairs with the varying factors only, names of the factors dropped).

    Raises
    ------
    InputError
        Every factor is constant, so nothing is left to train on.
    """
    keep_specs: list[FactorSpec] = []
    keep_cols: list[int] = []
    dropped: list[str] = []
    j = 0
    for spec in pairs.specs:
        cols = list(range(j, j + len(spec.feature_names())))
        j += len(cols)
        if pairs.X.shape[0] and all(np.ptp(pairs.X[:, c]) == 0 for c in cols):
            dropped.append(spec.name)
        else:
            keep_specs.append(spec)
            keep_cols += cols
    if not dropped:
        return pairs, []
    if not keep_specs:
        raise InputError(f"Every factor ({', '.join(dropped)}) has a single value over all {pairs.y.size} training "
                         "samples, so nothing can be learnt; give factors that vary over the area.")
    return replace(pairs, X=pairs.X[:, keep_cols], feature_names=feature_names(keep_specs), specs=keep_specs), dropped


#: The 1 km noise of each factor is measured on up to this many stacks (spread over the dates) ...
NOISE_STACKS = 3
#: ... on at most this many pixels of each, in blocks of NOISE_BLOCK_ROWS rows spread over the raster.
NOISE_PIXELS = 1_000_000
NOISE_BLOCK_ROWS = 16
#: median |difference of two neighbours| / NOISE_MAD_SCALE = standard deviation of white noise
NOISE_MAD_SCALE = 0.6745 * 2 ** 0.5


def fine_noise(stack_paths: Sequence[str], specs: Sequence[FactorSpec],
               is_canceled: IsCanceled = never_canceled) -> dict[str, float]:
    """Standard deviation of the pixel-to-pixel noise of each continuous factor at 1 km (categorical: 0).

    For white noise of standard deviation s on a field that varies smoothly, the difference of two
    neighbouring pixels is normal with standard deviation s * sqrt(2), so s = median |difference| / (0.6745
    * sqrt(2)); edges of fields and other structure touch a minority of the pairs, which the median ignores.
    Horizontal and vertical neighbours of up to :data:`NOISE_PIXELS` pixels (row blocks spread over the
    raster, so memory stays bounded) of up to :data:`NOISE_STACKS` stacks; the variances are averaged over
    the stacks. Speckled radar, cloud-edge and retrieval noise that averages out in a SMAP cell shows here.

    Parameters
    ----------
    stack_paths : Sequence[str]
        The 1 km factor stacks (up to :data:`NOISE_STACKS` of them, spread over the list, are read).
    specs : Sequence[FactorSpec]
        The factors.
    is_canceled : IsCanceled
        Checked between row blocks.

    Returns
    -------
    dict[str, float]
        Factor name -> noise standard deviation, in the factor's units (0 for categorical factors or when no
        pair of neighbours is finite).

    Raises
    ------
    Canceled
        ``is_canceled()`` became true.
    """
    cont = [s for s in specs if s.kind != CATEGORICAL]
    names = [s.name for s in cont]
    if not cont:
        return {s.name: 0.0 for s in specs}
    picks = sorted({round(i * (len(stack_paths) - 1) / max(NOISE_STACKS - 1, 1)) for i in range(NOISE_STACKS)}) \
        if len(stack_paths) > 1 else [0]
    variances: dict[str, list[float]] = {n: [] for n in names}
    for k in picks:
        path = stack_paths[k]
        ds = raster.open_raster(path)
        grid = raster.stack_grid(ds, path)
        reader = _reader(ds, path, names, is_canceled)
        nblocks = -(-grid.height // NOISE_BLOCK_ROWS)
        take = max(1, min(nblocks, NOISE_PIXELS // max(1, grid.width * NOISE_BLOCK_ROWS)))
        diffs: dict[str, list[np.ndarray]] = {n: [] for n in names}
        for b in np.unique(np.linspace(0, nblocks - 1, take).round().astype(int)):
            if is_canceled():
                raise Canceled()
            row0 = int(b) * NOISE_BLOCK_ROWS
            block = reader.read(row0, min(NOISE_BLOCK_ROWS, grid.height - row0), np.float32)
            for i, spec in enumerate(cont):
                a = block[i]
                d = np.concatenate([(a[:, 1:] - a[:, :-1]).ravel(), (a[1:] - a[:-1]).ravel()])
                diffs[spec.name].append(np.abs(d[np.isfinite(d)]))
        ds = None
        for spec in cont:
            d = np.concatenate(diffs[spec.name]) if diffs[spec.name] else np.empty(0, np.float32)
            if d.size:
                variances[spec.name].append((float(np.median(d)) / NOISE_MAD_SCALE) ** 2)
    return {s.name: (float(np.sqrt(np.mean(variances[s.name]))) if variances.get(s.name) else 0.0) for s in specs}


#: Study ("paper") mode: fine pixels sampled for training, at most this many over all dates.
PAPER_MAX_SAMPLES = 20000


def _block_grid(fine: Grid, row0: int, nrows: int) -> Grid:
    x0, dx, _, y0, _, dy = fine.transform
    return Grid(fine.crs_wkt, (x0, dx, 0.0, y0 + row0 * dy, 0.0, dy), fine.width, nrows)


@raster.gdal_exceptions()
def fine_pairs(sm_paths: Sequence[str], stack_paths: Sequence[str], factors: Sequence[str] | None = None,
               max_samples: int = PAPER_MAX_SAMPLES, seed: int = 0, progress: Progress = no_progress,
               is_canceled: IsCanceled = never_canceled, derived: Sequence[str] | None = None,
               sm_reading: SmReading = AS_IS) -> Pairs:
    """Training samples of the study's mode: 1 km pixels paired with SMAP resampled bilinearly to them.

    For every date, SMAP is interpolated bilinearly at the 1 km pixel centers (as gdalwarp -r bilinear)
    and pixels where all factors and the interpolated SMAP are valid are sampled at random (seeded) so
    that about ``max_samples`` pixels are kept over all dates. ``cells`` holds the SMAP cell of each
    pixel, so spatial cross-validation still holds out whole blocks of SMAP cells. Categorical factors
    are 0/1 per class at this scale.

    Parameters
    ----------
    sm_paths, stack_paths
        SMAP rasters and factor stacks, paired by the date in their names.
    factors
        Bands or derived factors to use (None: all bands of the first stack).
    max_samples, seed
        About how many pixels are kept over all dates, and the sampling seed.
    progress, is_canceled
        Progress fraction and cancel check (:mod:`.raster` defaults).
    derived
        Derived factors to add where the stacks hold their inputs.
    sm_reading
        How to read SMAP (:class:`.units.SmReading`).

    Returns
    -------
    Pairs
        One sample per kept pixel, with the SMAP cell it lies in.

    Raises
    ------
    InputError
        Fewer training pixels than :data:`MIN_SAMPLES` asked for, files that do not pair or overlap, SMAP with
        only nodata, or too few valid pixels.
    Canceled
        ``is_canceled()`` became true.
    """
    from .sample import resample_bilinear

    if max_samples < MIN_SAMPLES:
        raise InputError(f"The number of training pixels must be at least {MIN_SAMPLES} (got {max_samples}).")
    derived = derived_mod.check_names(derived)
    pairs = pair_by_date(list(sm_paths), list(stack_paths), "soil moisture", "factor stack")
    given = _factor_names(factors)
    rng = np.random.default_rng([int(seed), 7])
    names: list[str] | None = None
    skipped: dict[str, str] = {}
    derived_info: dict[str, Any] = {}
    kinds: list[str] | None = None
    first_grid: Grid | None = None
    first: tuple[str, list[str]] | None = None  # the first date's stack and its bands
    # fine pixels over all dates, to set the sampling rate before reading
    total = 0
    for _, _, stack_path in pairs:
        ds = raster.open_raster(stack_path)
        total += ds.RasterXSize * ds.RasterYSize
    rate = min(1.0, 1.5 * max_samples / max(total, 1))  # 1.5: pixels lost to nodata; trimmed below
    xs_parts: list[np.ndarray] = []
    y_parts: list[np.ndarray] = []
    date_parts: list[np.ndarray] = []
    cell_parts: list[np.ndarray] = []
    resolution: dict[str, Any] | None = None
    left_out: dict[str, list[str]] = {}
    ndates = len(pairs)
    for i, (label, sm_path, stack_path) in enumerate(pairs):
        if is_canceled():
            raise Canceled()
        sm_ds = raster.open_raster(sm_path)
        coarse = raster.coarse_grid(sm_ds, sm_path)
        first_grid = first_grid or coarse
        st_ds = raster.open_raster(stack_path)
        fine = raster.stack_grid(st_ds, stack_path)
        if names is None:
            names, skipped = _names_for(st_ds, stack_path, given, derived)
            first = (stack_path, raster.band_names(st_ds, stack_path))
            resolution = raster.resolution_record(fine)
        reader = _reader(st_ds, stack_path, names, is_canceled, first)
        _merge_derived(derived_info, label, reader)
        kinds = _check_kinds(names, kinds, [CATEGORICAL if k == CATEGORICAL else CONTINUOUS for k in reader.kinds],
                             stack_path)
        if not coarse.overlaps(fine):
            raise InputError(f"The soil moisture raster {os.path.basename(sm_path)} and the factor stack "
                             f"{os.path.basename(stack_path)} do not overlap; give rasters of the same area.")
        sm = read_soil_moisture(sm_ds, sm_path, sm_reading)
        if not np.isfinite(sm).any():
            raise InputError(f"The soil moisture raster {os.path.basename(sm_path)} holds only nodata; "
                             "check the file or remove this date.")
        index = CellIndex(fine, coarse)
        rows = raster.block_rows_for(fine.width, len(names) + len(reader.derived) + 4)
        observed = np.zeros(len(names), dtype=np.int64)
        for row0, nrows in raster.iter_blocks(fine.height, rows, progress, is_canceled, i / ndates, (i + 1) / ndates):
            block = reader.read(row0, nrows, np.float64)
            observed += np.isfinite(block).sum(axis=(1, 2))
            target = resample_bilinear(sm, coarse, _block_grid(fine, row0, nrows))
            ok = np.all(np.isfinite(block), axis=0) & np.isfinite(target)
            ok &= rng.random(ok.shape) < rate
            if not ok.any():
                continue
            xs_parts.append(block[:, ok].T)
            y_parts.append(target[ok])
            cell_parts.append(index.rows(row0, nrows)[ok])
            date_parts.append(np.full(int(ok.sum()), label, dtype=object))
        absent = [n for n, count in zip(names, observed) if count == 0]
        if absent and len(absent) < len(names):  # LST all under cloud, no radar overpass: no pixel of the date
            left_out[label] = absent
    assert names is not None and kinds is not None and first_grid is not None
    if not y_parts and left_out:
        raise _every_date_left_out(left_out)
    raw = np.concatenate(xs_parts) if xs_parts else np.empty((0, len(names)))
    y = np.concatenate(y_parts) if y_parts else np.empty(0)
    cells = np.concatenate(cell_parts) if cell_parts else np.empty(0, dtype=np.int64)
    dates = np.concatenate(date_parts) if date_parts else np.empty(0, dtype=object)
    stack_of = {label: stack_path for label, _, stack_path in pairs}
    lst_units = LstUnits()
    for k, n in enumerate(names):
        if kinds[k] != CATEGORICAL:
            for label in dict.fromkeys(dates.tolist()):
                if is_index(n):
                    check_index_factor(n, raw[dates == label, k], stack_of[label])
                lst_units.check(n, raw[dates == label, k], stack_of[label])
    if y.size > max_samples:
        keep = np.sort(rng.choice(y.size, max_samples, replace=False))
        raw, y, cells, dates = raw[keep], y[keep], cells[keep], dates[keep]
    specs = []
    for k, (n, kind) in enumerate(zip(names, kinds)):
        if kind == CATEGORICAL:
            specs.append(FactorSpec(n, CATEGORICAL, sorted(int(c) for c in np.unique(_classes_of(raw[:, k])))))
        else:
            specs.append(FactorSpec(n, CONTINUOUS, []))
    need = min_samples(len(feature_names(specs)))
    if y.size < need:
        raise InputError(f"Only {y.size} valid 1 km pixels pair soil moisture with all factors; at least {need} are "
                         "needed: add dates, enlarge the area, or check the factors' nodata.")
    xs, _ = fine_design(raw.T[:, :, None], specs)
    progress(1.0)
    return Pairs(xs.astype(np.float64), y, feature_names(specs), specs, dates.astype(str), cells.astype(np.int64),
                 [p[0] for p in pairs if p[0] not in left_out], first_grid, [p[1] for p in pairs],
                 [p[2] for p in pairs], derived_info, skipped, "paper", resolution, left_out)
